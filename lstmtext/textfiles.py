"""Text files at the byte level: byte-order marks, UTF-8/UTF-16 detection, binary and compressed files, NUL bytes,
where a file fails to decode, reading a byte range in chunks and snapping a cut to a line, word or character start.

Nothing here knows about tables or corpora: callers decide which files to read and where to cut them.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from lstmtext.errors import UserError, usage_error

CHUNK_BYTES = 1 << 20
_MAX_CARRY = 4 << 20


_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def check_encoding_name(encoding: str) -> None:
    """Refuse an --encoding that Python does not know, before any file is read."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise usage_error(f"unknown --encoding {encoding!r}", "try utf-8, latin-1 or utf-16") from None


def marked_encoding(files: list[Path], encoding: str, name: str) -> tuple[str, str] | None:
    """Where --encoding is UTF-8 (its default) and every one of ``files`` starts with UTF-16's byte-order mark (or
    UTF-32's), that encoding and a note saying so: the mark leaves no doubt, where refusing the file to have
    --encoding utf-16 passed would be a needless round. None otherwise: a file of a mix with and without one is
    refused by _check_encoding, as one --encoding reads every file of a corpus. (Such text is decoded whole, never
    split by byte ranges, so nothing else changes.)"""
    if codecs.lookup(encoding).name != "utf-8" or not files:
        return None
    marks = set()
    for path in files:
        with path.open("rb") as fh:
            head = fh.read(4)
        marks.add("utf-32" if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) else
                  "utf-16" if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else None)
    if len(marks) != 1 or None in marks:
        return None
    found = marks.pop()
    where = f"{files[0]} starts" if len(files) == 1 else f"the files of {name} start"
    return found, f"{where} with a {found.upper()} byte-order mark: read as {found.upper()} (as --encoding {found})"


def _check_encoding(path: Path, encoding: str) -> str | None:
    """Refuse a file that the encoding cannot read from its first bytes on; a note where a file read in another
    encoding than UTF-8 is valid UTF-8 (its accents would turn into two characters each)."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    name = codecs.lookup(encoding).name
    if name in ("utf-8", "utf-8-sig") and head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(f"{path} looks like UTF-16 (it starts with a byte-order mark)", "pass --encoding utf-16")
    if name in ("utf-16", "utf-32") and head.startswith(codecs.BOM_UTF8):
        raise UserError(f"{path} is UTF-8 (it starts with UTF-8's byte-order mark), not {encoding}", "drop --encoding")
    if name in ("utf-16", "utf-32") and not head.startswith(_BOMS):
        order = _utf16_order(head) or "le"
        raise UserError(f"{path} has no byte-order mark, so --encoding {encoding} cannot tell its byte order",
                        f"pass --encoding {name}-{order}" + ("" if _utf16_order(head) else f" or {name}-be"))
    if name not in ("utf-8", "utf-8-sig") and _ascii_compatible(encoding) and _is_utf8(head, final=False) \
            and max(head, default=0) >= 0x80:
        return (f"{path} is valid UTF-8 but is read as {encoding}: accented and other non-ASCII characters come out as "
                "two or three characters each (drop --encoding if the file is UTF-8)")
    if name == "iso8859-1" and _has_c1(head):  # latin-1
        return (f"{path} read as {encoding} has control characters (bytes 0x80-0x9F), which in a text are almost "
                "always Windows' curly quotes and dashes: pass --encoding cp1252 to read them as such")
    return None


def misread_note(paths: list[Path], encoding: str) -> str | None:
    """A note where a corpus read in a single-byte ``encoding`` other than UTF-8 reads as nonsense that another
    legacy encoding reads as a language (Cyrillic read as latin-1: 'Ïðèâåò'). Once a corpus, on its first file with
    bytes above ASCII: the guess decodes the head 16 ways, too much to do for each of a folder's files."""
    name = codecs.lookup(encoding).name
    if not _ascii_compatible(encoding) or name in ("utf-8", "utf-8-sig"):
        return None
    for path in paths[:20]:
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
        if max(head, default=0) < 0x80:
            continue
        if _is_utf8(head, final=False) or (name == "iso8859-1" and _has_c1(head)):
            return None  # (_check_encoding's notes say what these are)
        try:
            read = head.decode(encoding)
        except UnicodeDecodeError:
            return None
        if _plausible(read) >= 0.5:
            return None
        better = likely_encodings(head)
        if not better or better[0][2] < 0.5 or codecs.lookup(better[0][0]).name == name:
            return None
        sample = next((w for w in re.findall(r"[^\W\d_]+", read) if sum(ord(c) > 127 for c in w) > 2), "")
        return (f"{path} read as {encoding} gives words such as {sample!r}, which read as {better[0][1]} text in "
                f"{better[0][0]}: pass --encoding {better[0][0]} if that is what it is")
    return None


def _is_utf8(data: bytes, final: bool = True) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=final)
    except UnicodeDecodeError:
        return False
    return True


def _utf16_order(head: bytes) -> str | None:
    """'le' or 'be' where bytes look like UTF-16 text without a byte-order mark (mostly Latin text: every other
    byte NUL), else None."""
    pairs = len(head) // 2
    if pairs < 4:
        return None
    for order, at in (("le", 1), ("be", 0)):
        if head[at::2][:pairs].count(0) >= 0.6 * pairs and head[1 - at::2][:pairs].count(0) <= 0.1 * pairs:
            return order
    return None


def _wide_order(path: Path) -> str | None:
    with path.open("rb") as fh:
        return _utf16_order(fh.read(8192))


def _binary_error(path: Path, flag: str = "") -> UserError:
    """The error for a file with NUL bytes: UTF-16 text without a byte-order mark, or binary."""
    order = _wide_order(path)
    if order:
        return UserError(f"{flag}{path} looks like UTF-16 text without a byte-order mark",
                         f"pass --encoding utf-16-{order}")
    return UserError(f"{flag}{path} looks like a binary file, not text",
                     "give a text, CSV, TSV, JSON(L) or parquet file")


_MAGIC = ((b"\x1f\x8b", "gzip", "gunzip -k"), (b"BZh", "bzip2", "bunzip2 -k"), (b"\xfd7zXZ\x00", "xz", "unxz -k"),
          (b"\x28\xb5\x2f\xfd", "zstd", "unzstd"), (b"PK\x03\x04", "zip", "unzip"))


def _compression(path: Path) -> tuple[str, str] | None:
    """(format, the command that unpacks it) for a compressed file, by its first bytes."""
    if not path.is_file():
        return None
    with path.open("rb") as fh:
        head = fh.read(6)
    return next(((name, command) for magic, name, command in _MAGIC if head.startswith(magic)), None)


_OFFICE = {".xlsx": "spreadsheet", ".xlsm": "spreadsheet", ".ods": "spreadsheet", ".docx": "document",
           ".odt": "document", ".pptx": "document"}


def _packed_error(path: Path, packed: tuple[str, str], flag: str = "") -> UserError:
    """The error for a compressed file, or for an office file (a zip file too) that is best saved as text."""
    kind = _OFFICE.get(path.suffix.lower())
    if kind == "spreadsheet":
        return UserError(f"{flag}{path} is a spreadsheet", "save the sheet as CSV and pass that file")
    if kind:
        return UserError(f"{flag}{path} is an office document", "save it as plain text (.txt) and pass that file")
    return UserError(f"{flag}{path} is {packed[0]}-compressed", f"run {packed[1]} {path} and pass the file it writes")


def _looks_binary(path: Path, encoding: str = "utf-8") -> bool:
    """NUL bytes in the head of a file read in an ASCII-compatible encoding (UTF-16 and UTF-32 text is full of them:
    without a byte-order mark, --encoding says it is such text)."""
    if path.suffix.lower() == ".parquet" or not _ascii_compatible(encoding):
        return False
    with path.open("rb") as fh:
        head = fh.read(8192)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False  # UTF-16 text
    return b"\x00" in head


def _ascii_compatible(encoding: str) -> bool:
    return "\n".encode(encoding) == b"\n"


def _decode_error(path: Path, pos: int, err: UnicodeDecodeError, encoding: str) -> UserError:
    offset = max(pos + err.start, 0)
    with path.open("rb") as fh:
        line = fh.read(offset).count(b"\n") + 1
    if codecs.lookup(encoding).name == "utf-8" and _cut_character(path, offset):
        return UserError(f"{path}: ends in the middle of a character at byte {offset} (line {line}): the file "
                         "looks cut short (by head -c, say), not in another encoding",
                         "cut it at a line end instead (head -n), or drop its last bytes")
    if codecs.lookup(encoding).name != "utf-8" and path.stat().st_size <= 1 << 28 and _is_utf8(path.read_bytes()):
        return UserError(f"{path}: invalid {encoding} at byte {offset} (line {line}); the file is UTF-8",
                         "read it as such: --encoding utf-8")
    return UserError(f"{path}: invalid {encoding} at byte {offset} (line {line})",
                     f"pass --encoding with the file's real encoding, e.g. --encoding {_likely_encoding(path)}")


def _has_c1(data: bytes) -> bool:
    """Bytes 0x80-0x9F: control characters in latin-1, but curly quotes, dashes and the euro sign in Windows'
    cp1252, which is what such bytes in a Western text almost always are."""
    return any(0x80 <= b <= 0x9F for b in data)


# the legacy encodings a text that is not UTF-8 is most often in, with what they write; ties go to the first
LEGACY_ENCODINGS = (("cp1252", "Western European"), ("cp1250", "Central European"), ("cp1255", "Hebrew"),
                    ("cp1256", "Arabic"), ("cp1251", "Cyrillic"), ("cp1253", "Greek"), ("koi8-r", "Cyrillic"),
                    ("cp1254", "Turkish"), ("cp1257", "Baltic"), ("cp874", "Thai"), ("shift_jis", "Japanese"),
                    ("euc-kr", "Korean"), ("gb18030", "Chinese"), ("euc-jp", "Japanese"), ("big5", "Chinese"),
                    ("latin-1", "Western European"))


def _plausible(text: str) -> float:
    """How much a decoded text reads as a language, 0 to 1: its non-ASCII characters are letters of one script
    (mostly lower-case, where the script has case), Latin ones inside ASCII words as accents are, and other
    scripts' in words of their own. Cyrillic bytes read as cp1252 give words made of accented letters: low."""
    import unicodedata

    rare = [c for c in text if ord(c) > 127]
    letters = [c for c in rare if unicodedata.category(c)[0] == "L"]
    if not letters:
        return 0.0
    scripts = Counter("CJK" if (first := unicodedata.name(c, "?").split(" ")[0]) in ("HIRAGANA", "KATAKANA")
                      else first for c in letters)
    top, count = scripts.most_common(1)[0]
    marks = sum(unicodedata.category(c)[0] in "PZ" for c in rare)  # quotes, dashes, ideographic full stops
    cased = [c for c in letters if c.islower() or c.isupper()]
    lower = sum(c.islower() for c in cased) / len(cased) if cased else 1.0
    score = count / max(1, len(rare) - marks) * (0.5 + 0.5 * lower)
    words = [w for w in re.findall(r"[^\W\d_]+", text) if any(ord(c) > 127 for c in w)]
    share = sum(sum(ord(c) > 127 for c in w) for w in words) / max(1, sum(len(w) for w in words))
    plausible = share < 0.7 if top == "LATIN" else share >= 0.5  # (Polish or Czech words hold several accents)
    return score if plausible else score * 0.2


def likely_encodings(data: bytes) -> list[tuple[str, str, float]]:
    """The legacy encodings that read ``data`` (a file's head) as text, most plausible first: (name, what it
    writes, how plausible)."""
    found = []
    for rank, (name, what) in enumerate(LEGACY_ENCODINGS):
        try:
            text = data.decode(name)
        except UnicodeDecodeError as err:
            if err.start < len(data) - 4:
                continue
            text = data[:err.start].decode(name)  # a character that the head's end cuts
        found.append((-_plausible(text), rank, name, what))
    return [(name, what, -score) for score, _, name, what in sorted(found)]


def _likely_encoding(path: Path) -> str:
    """The --encoding to suggest for a file that is not UTF-8, by what its head reads as: 'cp1251 (Cyrillic)', and
    a second guess of another language that reads as well ('shift_jis (Japanese), or gb18030 (Chinese)')."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    guesses = likely_encodings(head) or [("latin-1", "Western European", 0.0)]
    name, what, score = guesses[0]
    if name == "cp1252" and not _has_c1(head):
        name = "latin-1"  # (the same letters; latin-1 reads any byte)
    latin = {"Western European", "Central European", "Turkish", "Baltic"}  # the same letters, mostly: no second guess
    other = next((g for g in guesses[1:] if g[2] >= 0.98 * score > 0 and g[1] != what
                  and not {g[1], what} <= latin), None)
    return f"{name} ({what})" + (f", or --encoding {other[0]} ({other[1]})" if other else "")


def _cut_character(path: Path, offset: int) -> bool:
    """Whether the bytes from ``offset`` to the end of the file are the start of a UTF-8 character and no more."""
    size = path.stat().st_size
    if not 0 < size - offset < 4:
        return False
    with path.open("rb") as fh:
        fh.seek(offset)
        tail = fh.read()
    need = 2 if 0xC2 <= tail[0] <= 0xDF else 3 if 0xE0 <= tail[0] <= 0xEF else 4 if 0xF0 <= tail[0] <= 0xF4 else 0
    return len(tail) < need and all(0x80 <= b <= 0xBF for b in tail[1:])


def _nul_error(path: Path, start: int) -> UserError:
    """The error for a NUL byte past the head that _looks_binary reads: one rule for the whole file."""
    with path.open("rb") as fh:
        fh.seek(start)
        offset, line = start, 1
        while chunk := fh.read(CHUNK_BYTES):
            at = chunk.find(b"\x00")
            line += chunk.count(b"\n", 0, None if at < 0 else at)
            if at >= 0:
                offset += at
                break
            offset += len(chunk)
    if start:
        with path.open("rb") as fh:
            line += fh.read(start).count(b"\n")
    return UserError(f"{path} holds a NUL byte at byte {offset} (line {line}): binary data, not text",
                     "give a text file, or strip them: tr -d '\\000' < FILE > CLEAN")


def text_encoding(encoding: str) -> str:
    """The codec to read text with: UTF-8 reads as utf-8-sig, so a leading byte-order mark (Excel's CSVs)
    is dropped instead of sticking to the first column name or text."""
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def locate_decode_error(path: Path, encoding: str) -> UserError:
    """The error for a file that failed to decode somewhere: the first bad byte's offset and line."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    pos = 0
    with path.open("rb") as fh:
        while True:
            raw = fh.read(CHUNK_BYTES)
            try:
                decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as err:
                return _decode_error(path, pos, err, encoding)
            except UnicodeError as err:  # a codec's own complaint (UTF-16 with no byte-order mark), not a byte's
                return UserError(f"{path}: not {encoding} ({err})", "pass --encoding with the file's real encoding")
            if not raw:
                break
            pos += len(raw)
    return UserError(f"{path}: invalid {encoding}", "pass --encoding with the file's real encoding")


def _read_range(path: Path, start: int, end: int, encoding: str) -> Iterator[str]:
    """Decode bytes [start, end) of a file in chunks that end at a newline (or whitespace), with Windows (CRLF)
    and old Mac (a lone CR) line ends read as newlines, as Python's text mode reads them: a '\r' would otherwise be
    a token of its own at char level and no line break at word level, and a prompt typed with plain newlines
    would never match the text."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    carry = ""
    with path.open("rb") as fh:
        fh.seek(start)
        if start == 0 and codecs.lookup(encoding).name == "utf-8" and fh.read(3) != codecs.BOM_UTF8:
            fh.seek(0)
        pos = fh.tell()
        while pos < end:
            raw = fh.read(min(CHUNK_BYTES, end - pos))
            if not raw:
                break
            try:
                text = decoder.decode(raw, final=pos + len(raw) >= end)
            except UnicodeDecodeError as err:
                raise _decode_error(path, pos, err, encoding) from None
            if "\x00" in text:
                raise _nul_error(path, start)
            pos += len(raw)
            text = carry + text
            cut = max(text.rfind("\n"), text.rfind("\r", 0, len(text) - 1)) + 1  # a last '\r' may precede a '\n'
            if not cut and len(text) > _MAX_CARRY:
                cut = text.rfind(" ") + 1 or len(text)  # after the last space: a word is never cut in two
            carry = text[cut:]
            if cut:
                yield _newlines(text[:cut])  # a '\r' that ends a chunk waits in carry for its '\n'
    if carry:
        yield _newlines(carry)


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _snap_to_line(path: Path, offset: int, reach: int = 1 << 20, utf8: bool = False) -> int:
    """Where a split held out from ``offset`` on starts: the first line start at or after it. Where that is
    the file's end (``offset`` falls in the last line) or more than ``reach`` bytes on (a text of one long line,
    say), the first word start after a space instead, so that the split still exists and no word is cut in two
    (a space byte is a character boundary in every ASCII-compatible encoding). Failing both, in UTF-8 (Chinese
    written as one line has neither), the first character start at or after ``offset``; else the file's end."""
    if offset <= 0:
        return 0
    size = path.stat().st_size
    space = -1
    with path.open("rb") as fh:
        pos = offset - 1
        fh.seek(pos)
        while block := fh.read(1 << 16):
            nl = block.find(b"\n")
            if space < 0 and (sp := block.find(b" ", 0, nl if nl >= 0 else len(block))) >= 0:
                space = pos + sp + 1
            if nl >= 0 and pos + nl + 1 < size and (space < 0 or pos + nl - offset < reach):
                return pos + nl + 1
            if space >= 0 and (nl >= 0 or pos + len(block) - offset >= reach):
                return space
            if nl >= 0:  # the file's last byte: no space before it
                break
            pos += len(block)
        if space >= 0:  # the file ended within reach, with no line break: the space it passed
            return space
        if not utf8:
            return size
        fh.seek(offset)
        head = fh.read(4)
    return offset + next((k for k, byte in enumerate(head) if byte & 0xC0 != 0x80), len(head))
