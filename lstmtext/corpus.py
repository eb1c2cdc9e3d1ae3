"""Reading corpora: text files, folders, tables (CSV/TSV/JSONL/parquet), HF datasets; picking splits.

Everything streams: text files are read as byte ranges in chunks that end on line boundaries,
tables row by row. Nothing here tokenizes.
"""

from __future__ import annotations

import codecs
import csv
import functools
import hashlib
import itertools
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstmtext.errors import UserError, usage_error

SPLITS = ("train", "valid", "test")
SPLIT_WORDS = {"train": "train", "training": "train", "valid": "valid", "validation": "valid",
                "dev": "valid", "val": "valid", "eval": "valid", "test": "test", "testing": "test"}
TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
                  ".parquet": "parquet"}
TEXT_COLUMNS = ("text", "sentence", "review", "content", "body", "document", "comment", "tweet",
                "question", "passage", "line", "utterance")
LABEL_COLUMNS = ("label", "labels", "sentiment", "polarity", "class", "category", "target", "rating", "stars")
CHUNK_BYTES = 1 << 20
_MAX_CARRY = 4 << 20


@dataclass
class ReadReport:
    """Records a reader skipped, with file, line number and reason (counts read are in meta.json)."""

    skipped: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, reason)
    _seen: set[tuple[str, int]] = field(default_factory=set, repr=False)

    def skip(self, path: str, line: int, reason: str) -> None:
        """Record a skipped record once, however many times the source is read."""
        if (path, line) not in self._seen:
            self._seen.add((path, line))
            self.skipped.append((path, line, reason))


# ----------------------------------------------------------------------------- text files


_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _check_encoding(path: Path, encoding: str) -> str | None:
    """Refuse a file that the encoding cannot read from its first bytes on; a note where a file read in another
    encoding than UTF-8 is valid UTF-8 (its accents would turn into two characters each)."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    name = codecs.lookup(encoding).name
    if name in ("utf-8", "utf-8-sig") and head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(f"{path} looks like UTF-16 (it starts with a byte-order mark)", "pass --encoding utf-16")
    if name in ("utf-16", "utf-32") and not head.startswith(_BOMS):
        order = _utf16_order(head) or "le"
        raise UserError(f"{path} has no byte-order mark, so --encoding {encoding} cannot tell its byte order",
                        f"pass --encoding {name}-{order}" + ("" if _utf16_order(head) else f" or {name}-be"))
    if name not in ("utf-8", "utf-8-sig") and _ascii_compatible(encoding) and _is_utf8(head, final=False) \
            and max(head, default=0) >= 0x80:
        return (f"{path} is valid UTF-8 but is read as {encoding}: accented and other non-ASCII characters come out as "
                "two or three characters each (drop --encoding if the file is UTF-8)")
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
    if codecs.lookup(encoding).name != "utf-8" and path.stat().st_size <= 1 << 28 and _is_utf8(path.read_bytes()):
        return UserError(f"{path}: invalid {encoding} at byte {offset} (line {line}); the file is UTF-8",
                         "drop --encoding")
    return UserError(
        f"{path}: invalid {encoding} at byte {offset} (line {line})",
        "pass --encoding with the file's real encoding, e.g. --encoding latin-1",
    )


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
            if not raw:
                break
            pos += len(raw)
    return UserError(f"{path}: invalid {encoding}", "pass --encoding with the file's real encoding")


def _read_range(path: Path, start: int, end: int, encoding: str) -> Iterator[str]:
    """Decode bytes [start, end) of a file in chunks that end at a newline (or whitespace), with Windows line
    ends (CRLF) read as newlines, as Python's text mode reads them: a '\r' before each '\n' would otherwise be a
    token of its own at char level, and a prompt typed with plain newlines would never match the text."""
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
            cut = text.rfind("\n") + 1
            if not cut and len(text) > _MAX_CARRY:
                cut = text.rfind(" ") + 1 or len(text)  # after the last space: a word is never cut in two
            carry = text[cut:]
            if cut:
                yield text[:cut].replace("\r\n", "\n")  # a '\r' that ends a chunk waits in carry for its '\n'
    if carry:
        yield carry.replace("\r\n", "\n")


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


@dataclass
class TextSplit:
    """A split made of byte ranges of text files."""

    ranges: list[tuple[Path, int, int]]
    encoding: str

    def texts(self) -> Iterator[str]:
        for path, start, end in self.ranges:
            if end > start:
                yield from _read_range(path, start, end, self.encoding)

    def num_bytes(self) -> int:
        return sum(end - start for _, start, end in self.ranges)


@dataclass
class MemorySplit:
    """A split held as a list of strings (for non-ASCII-compatible encodings and HF datasets)."""

    items: list[str]

    def texts(self) -> Iterator[str]:
        yield from self.items

    def num_bytes(self) -> int:
        return sum(len(t) for t in self.items)


def _cut_files(files: list[Path], fractions: tuple[float, float], utf8: bool = False
               ) -> dict[str, list[tuple[Path, int, int]]]:
    """Hold out the tail of a concatenation of files: [train | valid | test], cut at line starts."""
    sizes = [p.stat().st_size for p in files]
    total = sum(sizes)
    valid_f, test_f = fractions
    marks = [int(total * (1 - valid_f - test_f)), int(total * (1 - test_f))]
    cuts: list[tuple[int, int]] = []  # (file index, offset) per mark
    for mark in marks:
        acc = 0
        for i, size in enumerate(sizes):
            if mark < acc + size or i == len(sizes) - 1:
                cuts.append((i, _snap_to_line(files[i], min(mark - acc, size), utf8=utf8)))
                break
            acc += size
    bounds = [(0, 0), *cuts, (len(files) - 1, sizes[-1])]
    out: dict[str, list[tuple[Path, int, int]]] = {}
    for name, (a, b) in zip(SPLITS, zip(bounds, bounds[1:])):
        ranges = []
        for i in range(a[0], b[0] + 1):
            start = a[1] if i == a[0] else 0
            end = b[1] if i == b[0] else sizes[i]
            ranges.append((files[i], start, end))
        out[name] = ranges
    return out


# ----------------------------------------------------------------------------- tables


def _tsv_quoting(path: Path, encoding: str) -> int:
    try:
        stat = path.stat()
    except OSError:
        return csv.QUOTE_NONE
    return _tsv_quoting_of(path, stat.st_size, stat.st_mtime_ns, encoding)


@functools.lru_cache(maxsize=64)
def _tsv_quoting_of(path: Path, size: int, mtime: int, encoding: str) -> int:
    """How a TSV file quotes: most write text as it is (GLUE's SST-2: a quote is a character), while Python's csv
    module and pandas wrap a field holding a tab, a line break or a quote in quotes, doubling those inside. Quoted
    when the first 256 KiB read that way give more rows the header's number of fields, or as many and a field
    wrapped with doubled quotes inside (she said ""wow"", in quotes); else as it is."""
    import io

    try:
        with path.open("r", encoding=text_encoding(encoding), errors="replace", newline="") as fh:
            sample = fh.read(1 << 18)
    except OSError:
        return csv.QUOTE_NONE
    if '"' not in sample:
        return csv.QUOTE_NONE
    if len(sample) == 1 << 18:
        sample = sample[:sample.rfind("\n") + 1] or sample

    def misfits(quoting: int) -> int:
        rows = [r for r in csv.reader(io.StringIO(sample), delimiter="\t", quoting=quoting) if r and r != [""]]
        return sum(len(r) != len(rows[0]) for r in rows[1:-1]) if rows else 0  # the last may be cut

    plain, quoted = misfits(csv.QUOTE_NONE), misfits(csv.QUOTE_MINIMAL)
    if quoted < plain:
        return csv.QUOTE_MINIMAL
    doubled = re.compile(r'(?:^|\t)"(?:[^"\t\n]|"")*""(?:[^"\t\n]|"")*"(?=\t|\r?$)', re.M)
    return csv.QUOTE_MINIMAL if quoted == plain and doubled.search(sample) else csv.QUOTE_NONE


def container_kind(value: Any) -> str | None:
    """'a list' or 'an object' for a field that holds one (JSON, parquet, datasets), else None: one text or label,
    which is what a record gives each column."""
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else None


_RUNAWAY_LINES = 20  # a CSV record this many lines long with the wrong number of fields: an unclosed quote


def _fields(n: int) -> str:
    return f"{n} field" + ("" if n == 1 else "s")


def _table_format(path: Path) -> str | None:
    return TABLE_SUFFIXES.get(path.suffix.lower())


def _iter_table(path: Path, fmt: str, encoding: str, report: ReadReport) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a table as (line number, row dict). Bad rows are skipped and reported."""
    name = str(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except Exception as err:  # pyarrow raises several types for a broken file
            raise UserError(f"{path}: not a readable parquet file ({err})") from None
        row = 0
        for batch in pf.iter_batches(batch_size=4096):
            for rec in batch.to_pylist():
                row += 1
                yield row, rec
        return
    try:
        fh = path.open("r", encoding=text_encoding(encoding), newline="")
        with fh:
            if fmt == "jsonl":
                head = fh.read(4096).lstrip("\ufeff \t\r\n")
                fh.seek(0)
                if head.startswith("["):
                    yield from _json_array(path, fh.read(), report)
                else:
                    yield from _json_lines(fh, report, name)
                return
            quoting = _tsv_quoting(path, encoding) if fmt == "tsv" else csv.QUOTE_MINIMAL
            csv.field_size_limit(sys.maxsize)
            reader = csv.reader(fh, delimiter="\t" if fmt == "tsv" else ",", quoting=quoting)
            header = next(reader, None)
            if header is None:
                return
            header = [h.strip() for h in header]
            twice = sorted({h for h in header if header.count(h) > 1 and h})
            if twice:
                raise UserError(f"{path}: the header names column {twice[0]!r} more than once",
                                "rename one of them, so that it is clear which holds what")
            ends = reader.line_num
            pending = None  # a record of several lines with the wrong field count: a runaway quote if it is the last

            def runaway(lineno: int, ends: int) -> UserError:
                return UserError(f"{path} line {lineno}: a quoted field that starts there never closes (the record "
                                 f"runs on to {'the end of the file' if pending else f'line {ends}'})",
                                 'close the quote, or write a quote inside a field as two ("")')

            for row in reader:
                if pending:
                    report.skip(name, pending[0], pending[1])
                    pending = None
                lineno, ends = ends + 1, reader.line_num  # the line the record starts on, and where it ends
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != len(header):
                    reason = f"has {_fields(len(row))}, the header has {len(header)}"
                    if ends - lineno >= _RUNAWAY_LINES and fmt == "csv":
                        raise runaway(lineno, ends)
                    if ends > lineno and fmt == "csv" and "\n" in row[-1]:
                        pending = (lineno, reason)
                        continue
                    report.skip(name, lineno, reason)
                    continue
                yield lineno, dict(zip(header, row))
            if pending:  # the reader met the end of the file inside the quotes
                raise runaway(pending[0], ends)
    except UnicodeDecodeError:
        raise locate_decode_error(path, encoding) from None
    except csv.Error as err:
        raise UserError(f"{path}: malformed {fmt.upper()} ({err})") from None


def _json_lines(fh: Any, report: ReadReport, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """JSON Lines: one object per line; a line that is not one is skipped and reported."""
    for lineno, line in enumerate(fh, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            if lineno == 1 and line.strip() == "{":
                raise UserError(f"{name} holds one JSON object over many lines, not records",
                                "write JSON Lines (one object per line) or a JSON array of objects") from None
            report.skip(name, lineno, f"not valid JSON ({err.msg})")
            continue
        if not isinstance(rec, dict):
            report.skip(name, lineno, "not a JSON object")
            continue
        yield lineno, rec


def _json_array(path: Path, text: str, report: ReadReport) -> Iterator[tuple[int, dict[str, Any]]]:
    """A JSON array of objects (the whole file is read), each item with the line it starts on. An item
    that is not an object is skipped and reported; broken JSON stops the read, as nothing after it parses."""
    decoder = json.JSONDecoder()
    ws = re.compile(r"[\s\ufeff]*")
    pos = ws.match(text, ws.match(text).end() + 1).end()  # past the "["
    line, counted = 1, 0
    while True:
        if text.startswith("]", pos):
            return
        try:
            item, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}: not valid JSON at line {err.lineno}, column {err.colno} ({err.msg})",
                            "fix the file, or write it as JSON Lines so a bad record is skipped") from None
        line += text.count("\n", counted, pos)
        counted = pos
        if isinstance(item, dict):
            yield line, item
        else:
            report.skip(str(path), line, "not a JSON object")
        pos = ws.match(text, end).end()
        if text.startswith(",", pos):
            pos = ws.match(text, pos + 1).end()
        elif not text.startswith("]", pos):
            line += text.count("\n", counted, pos)
            raise UserError(f"{path}: not valid JSON at line {line} (expected ',' or ']' after an item)",
                            "fix the file, or write it as JSON Lines so a bad record is skipped")


def table_columns(path: Path, fmt: str, encoding: str) -> list[str]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.ParquetFile(path).schema_arrow.names)
        except Exception as err:
            raise UserError(f"{path}: not a readable parquet file ({err})") from None
    if fmt == "jsonl":  # the keys of the first records, in order: the first alone may lack a field
        keys: dict[str, None] = {}
        for _, rec in itertools.islice(_iter_table(path, fmt, encoding, ReadReport()), 1000):
            keys.update(dict.fromkeys(rec))
        return list(keys)
    try:
        if _ascii_compatible(encoding):  # decode the header line alone, not the block around it
            with path.open("rb") as fh:
                first = fh.readline().decode(text_encoding(encoding))
        else:
            with path.open("r", encoding=encoding, newline="") as fh:
                first = fh.readline()
    except UnicodeDecodeError:
        raise locate_decode_error(path, encoding) from None
    delim = "\t" if fmt == "tsv" else ","
    quoting = _tsv_quoting(path, encoding) if fmt == "tsv" else csv.QUOTE_MINIMAL
    return [c.strip() for c in next(csv.reader([first], delimiter=delim, quoting=quoting), [])]


def refuse_one_column(text_col: str, label_col: str | None, where: str) -> None:
    """A usage error where the text and the label would be read from the same column."""
    if label_col == text_col:
        raise usage_error(f"column {text_col!r} of {where} would be both the text and the label",
                          "pass --text-column and --label-column naming two columns")


def pick_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str, where: str) -> str:
    """The column named by the user, else the first common name found (case-insensitive)."""
    found = ", ".join(columns) if columns else "none"
    if len(columns) == 1 and (sep := next((c for c in ";|\t," if c in columns[0]), None)):
        named = {";": "semicolons", "|": "bars", "\t": "tabs", ",": "commas"}[sep]
        raise UserError(f"{where} has one column, {columns[0]!r}: its fields look separated by {named}",
                        "save it as CSV with commas (.csv) or with tabs (.tsv)")
    if wanted is not None:
        if wanted in columns:
            return wanted
        folded = [c for c in columns if c.casefold() == wanted.casefold()]
        if len(folded) == 1:  # 'Text' for 'text': detection ignores case too
            return folded[0]
        raise usage_error(f"{where} has no column {wanted!r} (columns found: {found})",
                          f"pass --{what}-column with one of them")
    lower = {c.lower(): c for c in columns}
    for cand in candidates:
        if cand in lower:
            return lower[cand]
    raise usage_error(f"could not tell which column of {where} holds the {what} (columns found: {found})",
                      f"pass --{what}-column NAME")


@dataclass
class TableSplit:
    """One split of rows: some files, optionally a row range (for tail hold-out)."""

    files: list[tuple[Path, str]]
    text_column: str
    encoding: str
    report: ReadReport
    label_column: str | None = None
    rows: tuple[int, int] | None = None  # [first, last) row index across the files
    indices: Any = None  # an explicit sorted array of row indices (stratified hold-out)

    def records(self) -> Iterator[tuple[str, Any, str, int]]:
        """(text, label, file, line) for each kept row."""
        index = -1
        pick = None if self.indices is None else set(int(i) for i in self.indices)
        for path, fmt in self.files:
            for lineno, rec in _iter_table(path, fmt, self.encoding, self.report):
                if self.text_column not in rec:
                    self.report.skip(str(path), lineno, f"has no {self.text_column!r} field")
                    continue
                text = rec[self.text_column]
                label = rec.get(self.label_column) if self.label_column else None
                for column, value in ((self.text_column, text), (self.label_column, label)):
                    if kind := container_kind(value):
                        raise UserError(f"{path} line {lineno}: the {column!r} field is {kind}, not one value",
                                        "write one record per text, with the text and its label as plain values "
                                        "(JSON Lines: one object per line)")
                index += 1
                if self.rows is not None and not self.rows[0] <= index < self.rows[1]:
                    continue
                if pick is not None and index not in pick:
                    continue
                yield ("" if text is None else str(text)), label, str(path), lineno

    def texts(self) -> Iterator[str]:
        for text, _, _, _ in self.records():
            yield text.replace("\r\n", "\n").replace("\n", " ") + "\n"

    def num_bytes(self) -> int:
        return sum(p.stat().st_size for p, _ in self.files)


# ----------------------------------------------------------------------------- the corpus


@dataclass
class Corpus:
    """A named source with up to three splits, and the files whose contents identify it."""

    name: str
    kind: str  # "text" | "table" | "hf"
    splits: dict[str, Any]
    files: list[Path]
    report: ReadReport
    origin: str
    text_column: str | None = None
    label_column: str | None = None
    own_splits: bool = False
    # the splits the source lacks, held out of train by --valid-fraction/--test-fraction (empty where that is 0)
    carved: tuple[str, ...] = ()
    # how the splits and columns were chosen (set by open_corpus): with the content hash, what identifies the data
    settings: dict[str, Any] = field(default_factory=dict)

    warnings: list[str] = field(default_factory=list)  # shown when it is prepared, kept in meta.json
    _hash: str | None = field(default=None, repr=False)

    def content_hash(self) -> str:
        """SHA-256 of the files' names and bytes (read once, then remembered)."""
        if self._hash is None:
            self._hash = self._content_hash()
        return self._hash

    def _content_hash(self) -> str:
        digest = hashlib.sha256()
        for path in self.files:
            digest.update(path.name.encode())
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        if not self.files:
            digest.update(self.origin.encode())
        return digest.hexdigest()


def _split_of(path: Path) -> str | None:
    words = re.split(r"[._\-]", path.name.lower())
    hits = {SPLIT_WORDS[w] for w in words if w in SPLIT_WORDS}
    return hits.pop() if len(hits) == 1 else None


def _is_hf_dir(path: Path) -> bool:
    return (path / "dataset_dict.json").exists() or (path / "dataset_info.json").exists() \
        or (path / "state.json").exists()


def _looks_like_hub_id(spec: str) -> bool:
    """`name` or `owner/name` with no file suffix: a missing `notes.txt` is a missing file, not a hub id."""
    return bool(re.fullmatch(r"[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?", spec)) and not Path(spec).suffix


def _check_fractions(valid_fraction: float, test_fraction: float) -> tuple[float, float]:
    for flag, value in (("--valid-fraction", valid_fraction), ("--test-fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise usage_error(f"{flag} must be in [0, 1), got {value}")
    if valid_fraction + test_fraction >= 0.9:
        raise usage_error("--valid-fraction plus --test-fraction leaves too little to train on",
                          "keep their sum under 0.9")
    return valid_fraction, test_fraction


def open_corpus(
    spec: str | Path,
    *,
    encoding: str = "utf-8",
    text_column: str | None = None,
    label_column: str | None = None,
    valid_fraction: float = 0.05,
    test_fraction: float = 0.05,
    split_seed: int = 0,
    task: str = "lm",
    hf_loader: Callable[[str], Any] | None = None,
) -> Corpus:
    """Open any supported source and decide its train/valid/test splits."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise usage_error(f"unknown --encoding {encoding!r}", "try utf-8, latin-1 or utf-16") from None
    fractions = _check_fractions(valid_fraction, test_fraction)
    want_labels = task == "classify"
    path = Path(spec)
    if not path.exists():
        if str(spec) == "-":  # a corpus is read more than once (hashed, split, tokenized): stdin will not do
            raise usage_error("a corpus is not read from stdin ('-')", "save the text to a file and pass its path")
        if not _looks_like_hub_id(str(spec)):
            raise UserError(f"corpus not found: {spec}", "check the path")
        from lstmtext.hf import open_hub

        corpus = open_hub(str(spec), text_column, label_column, fractions, split_seed, want_labels, hf_loader)
    elif path.is_dir() and (path / "meta.json").is_file() and (path / "tokenizer.json").is_file():
        raise usage_error(f"{spec} is a prepared folder (written by lstmtext tokenize), not a corpus",
                          f"train on it as it is (lstmtext train {spec}), or pass the corpus it was made from")
    elif path.is_dir() and (path / "config.json").is_file() and any(path.glob("*.safetensors")):
        raise usage_error(f"{spec} is a training run (a checkpoint), not a corpus", "pass the text to read instead")
    elif path.is_dir() and _is_hf_dir(path):
        from lstmtext.hf import open_saved

        corpus = open_saved(path, text_column, label_column, fractions, split_seed, want_labels)
    elif path.is_dir():
        corpus = _open_folder(path, encoding, text_column, label_column, fractions, split_seed, want_labels)
    else:
        corpus = _open_files(path.name, {None: [path]}, encoding, text_column, label_column, fractions, split_seed,
                             want_labels)
    corpus.settings = _settings(corpus, codecs.lookup(encoding).name, fractions, split_seed)
    return corpus


def _settings(corpus: Corpus, encoding: str, fractions: tuple[float, float], split_seed: int) -> dict[str, Any]:
    """What, besides the content, decides the data read: the columns, the encoding of files, and the fractions
    and seed of the splits held out of train, where they were used (a seed only draws a stratified hold-out), so
    that settings which change nothing do not make another cache folder."""
    settings: dict[str, Any] = {"text_column": corpus.text_column, "label_column": corpus.label_column}
    if corpus.kind != "hf":
        settings["encoding"] = encoding
    for name, fraction in zip(SPLITS[1:], fractions):
        if name in corpus.carved:
            settings[f"{name}_fraction"] = fraction
    if corpus.carved and corpus.label_column is not None:
        settings["split_seed"] = split_seed
    return settings


def _carved(by_split: dict[str | None, list[Path]]) -> tuple[str, ...]:
    """The held-out splits that no file of the source provides, so they are cut from train."""
    return tuple(s for s in SPLITS[1:] if s not in by_split)


def _open_folder(path: Path, encoding: str, text_column: str | None, label_column: str | None,
                 fractions: tuple[float, float], split_seed: int, want_labels: bool) -> Corpus:
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    top_empty = not files
    if top_empty:  # no files at the top: look into subfolders
        files = sorted(p for p in path.rglob("*") if p.is_file() and not any(
            part.startswith(".") for part in p.relative_to(path).parts))
    files = [p for p in files if p.suffix.lower() not in (".md",) or len(files) == 1]
    readable = [p for p in files if p.stat().st_size > 0 and not _looks_binary(p, encoding)]
    if not readable:
        packed = [(p, _compression(p)) for p in files]
        packed = [(p, kind) for p, kind in packed if kind]
        if packed:
            names = ", ".join(p.name for p, _ in packed[:3]) + (", ..." if len(packed) > 3 else "")
            raise UserError(f"{path} holds only compressed files ({packed[0][1][0]}: {names})",
                            f"decompress them first ({packed[0][1][1]} FILE) and point at the folder again")
        wide = next((p for p in files if p.stat().st_size > 0 and _wide_order(p)), None)
        if wide:
            raise _binary_error(wide)
        raise UserError(f"{path} holds no text files", "point at a folder of .txt files or at a single file")
    tables = [p for p in readable if _table_format(p)]
    plain = [p for p in readable if not _table_format(p)]
    if any(p.suffix.lower() == ".txt" for p in plain):  # books with a LICENSE, a README or a script beside them
        plain = [p for p in plain if p.suffix.lower() == ".txt"]
    # both kinds: a classifier reads the tables; a language model the kind that holds more of the text (a folder
    # of books with an info.json, or of CSV files with a notes.txt)
    use_tables = bool(tables) and (want_labels or not plain or sum(p.stat().st_size for p in tables)
                                   >= sum(p.stat().st_size for p in plain))
    chosen = tables if use_tables else plain
    by_split: dict[str | None, list[Path]] = {}
    for p in chosen:
        by_split.setdefault(_split_of(p), []).append(p)
    notes = []
    if "train" not in by_split and None in by_split and len(by_split) > 1:
        # a.txt, b.txt and test.txt: the unnamed files are train, and the named ones keep their split
        named = ", ".join(p.name for s in SPLITS[1:] for p in by_split.get(s, []))
        notes.append(f"{path} has no file named train: training on the others, with {named} held out as named")
        by_split["train"] = by_split.pop(None)
    elif "train" not in by_split and None not in by_split:  # only files named as held-out splits: the text, cut
        only = ", ".join(p.name for p in chosen)
        notes.append(f"{path} has no file named train, only {only}: training on it, with the held-out splits cut "
                     "from it (name the training file train.txt to keep them apart)")
        by_split = {None: chosen}
    if "train" in by_split:
        by_split.pop(None, None)
    corpus = _open_files(path.name, by_split, encoding, text_column, label_column, fractions, split_seed,
                         want_labels)
    corpus.warnings[:0] = notes
    used = {p for ps in by_split.values() for p in ps}
    left = [p.name for p in readable if p not in used]
    if left:
        unused = [p for p in readable if p not in used]
        why = ("not named train, valid or test" if all(p in chosen for p in unused) else
               "plain text beside tables" if use_tables else
               "tables beside plain text" if all(_table_format(p) for p in unused) else "not .txt, beside .txt files")
        corpus.warnings.append(f"{path} has files this corpus leaves out ({why}): {', '.join(left[:5])}"
                               + (f" and {len(left) - 5} more" if len(left) > 5 else ""))
    subfolders = [p.name for p in sorted(path.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    if subfolders and not top_empty:
        corpus.warnings.append(f"{path} has subfolders this corpus leaves out, as it reads the files at its top: "
                               f"{', '.join(subfolders[:5])}" + (" ..." if len(subfolders) > 5 else "")
                               + " (point at a subfolder to read it)")
    return corpus


def _open_files(name: str, by_split: dict[str | None, list[Path]], encoding: str, text_column: str | None,
                label_column: str | None, fractions: tuple[float, float], split_seed: int,
                want_labels: bool) -> Corpus:
    all_files = [p for ps in by_split.values() for p in ps]
    for p in all_files:
        if p.is_file() and len(all_files) == 1 and (p.stat().st_size == 0 or (
                p.stat().st_size <= 4 and p.read_bytes() in _BOMS)):
            raise UserError(f"corpus is empty: {p}", "give a file with some text in it")
        packed = _compression(p)
        if packed:
            raise _packed_error(p, packed)
        if _looks_binary(p, encoding):
            raise _binary_error(p)
    report = ReadReport()
    fmts = {p: _table_format(p) for p in all_files}
    notes = [note for p in all_files if fmts[p] != "parquet" and (note := _check_encoding(p, encoding))]
    if any(fmts.values()):
        if not all(fmts.values()):
            raise UserError(f"{name} mixes tables and plain text files", "keep one kind per corpus")
        corpus = _open_tables(name, by_split, fmts, encoding, text_column, label_column, fractions, split_seed,
                              report, want_labels)
        corpus.warnings[:0] = notes
        return corpus
    if want_labels:
        raise UserError(f"{name} is plain text; a classifier needs a table with text and label columns",
                        "give a CSV, TSV, JSON(L) or parquet file")
    for flag, value in (("--text-column", text_column), ("--label-column", label_column)):
        if value is not None:
            raise usage_error(f"{flag} is for tables, and {name} is plain text", "drop it")
    if not _ascii_compatible(encoding):
        return _open_transcoded(name, by_split, encoding, fractions, report)
    return _open_text(name, by_split, encoding, fractions, report, notes)


def _open_text(name: str, by_split: dict[str | None, list[Path]], encoding: str, fractions: tuple[float, float],
               report: ReadReport, notes: list[str]) -> Corpus:
    """Text files in an ASCII-compatible encoding: split by byte ranges, read in chunks when tokenized."""
    all_files = [p for ps in by_split.values() for p in ps]
    own = None not in by_split
    utf8 = codecs.lookup(encoding).name == "utf-8"
    splits: dict[str, Any] = {}
    if own:
        train_files = by_split["train"]
        missing = [s for s in SPLITS if s not in by_split]
        held = _cut_files(train_files, tuple(f if s in missing else 0.0 for s, f in zip(SPLITS[1:], fractions)),
                          utf8)
        for s in SPLITS:
            ranges = [(p, 0, p.stat().st_size) for p in by_split[s]] if s in by_split else held[s]
            splits[s] = TextSplit(held["train"] if s == "train" else ranges, encoding)
    else:
        for s, ranges in _cut_files(by_split[None], fractions, utf8).items():
            splits[s] = TextSplit(ranges, encoding)
    return Corpus(name, "text", splits, all_files, report, origin=name, own_splits=own,
                  carved=_carved(by_split), warnings=notes)


def _open_transcoded(name: str, by_split: dict[str | None, list[Path]], encoding: str,
                     fractions: tuple[float, float], report: ReadReport) -> Corpus:
    """UTF-16 and friends: decode whole files, then split by characters."""
    def read(p: Path) -> str:
        try:
            text = p.read_text(encoding=text_encoding(encoding))
        except UnicodeDecodeError:
            raise locate_decode_error(p, encoding) from None
        if "\x00" in text:
            line = text.count("\n", 0, text.index("\x00")) + 1
            raise UserError(f"{p} holds a NUL character on line {line}: binary data, not text",
                            "give a text file, or remove the NUL characters")
        return text

    all_files = [p for ps in by_split.values() for p in ps]
    if None in by_split:
        text = "".join(read(p) for p in by_split[None])
        n = len(text)

        def snap(i: int) -> int:  # as _snap_to_line: the next line start, else the next word start
            for mark in ("\n", " "):
                if 0 <= (j := text.find(mark, i - 1 if i else 0)) < n - 1 and j + 1 - i < 1 << 20:
                    return j + 1
            return i

        a = snap(int(n * (1 - sum(fractions)))) if sum(fractions) else n
        b = max(a, snap(int(n * (1 - fractions[1]))) if fractions[1] else n)
        parts = {"train": text[:a], "valid": text[a:b], "test": text[b:]}
    else:
        parts = {s: "".join(read(p) for p in by_split.get(s, [])) for s in SPLITS}
    return Corpus(name, "text", {s: MemorySplit([t]) for s, t in parts.items()}, all_files, report, origin=name,
                  own_splits=None not in by_split, carved=_carved(by_split))


def _open_tables(name: str, by_split: dict[str | None, list[Path]], fmts: dict[Path, str | None], encoding: str,
                 text_column: str | None, label_column: str | None, fractions: tuple[float, float],
                 split_seed: int, report: ReadReport, want_labels: bool) -> Corpus:
    by_split = {s: list(ps) for s, ps in by_split.items()}  # held-out files may be left out below
    train_files = by_split.get("train", by_split.get(None, []))
    first = train_files[0]  # the columns are the train file's: a Kaggle test.csv has no labels
    probe = ReadReport()
    if all(next(_iter_table(p, fmts[p] or "csv", encoding, probe), None) is None for p in train_files):
        where = train_files[0] if len(train_files) == 1 else f"the train files of {name}"
        if probe.skipped:
            path, line, reason = probe.skipped[0]
            at = f"line {line}" if len(train_files) == 1 else f"{path} line {line}"
            raise UserError(f"{where} has no readable records; {at}: {reason}", "fix that line")
        raise UserError(f"{where} has no records" + (" below its header" if fmts[first] in ("csv", "tsv") else ""),
                        "add the texts, one record each")
    columns = table_columns(first, fmts[first] or "csv", encoding)
    text_col = pick_column(columns, text_column, TEXT_COLUMNS, "text", str(first))
    label_col = None
    if want_labels:
        label_col = pick_column(columns, label_column, LABEL_COLUMNS, "label", str(first))
        refuse_one_column(text_col, label_col, str(first))

    def table(paths: list[Path], rows: tuple[int, int] | None = None) -> TableSplit:
        return TableSplit([(p, fmts[p] or "csv") for p in paths], text_col, encoding, report, label_col, rows)

    all_files = [p for ps in by_split.values() for p in ps]
    notes = []
    for s in SPLITS[1:]:  # a held-out file without the train file's columns (an unlabelled test.csv) is left out
        for p in list(by_split.get(s, [])):
            lacking = [c for c in (text_col, label_col) if c and c not in table_columns(p, fmts[p] or "csv", encoding)]
            if lacking:
                by_split[s].remove(p)
                notes.append(f"{p} has no {lacking[0]!r} column, as {first.name} has: left out, and the {s} split "
                             f"is held out of train instead (--{s}-fraction)")
        if s in by_split and not by_split[s]:
            del by_split[s]
    splits: dict[str, Any] = {}
    own = None not in by_split
    if own:
        for s in SPLITS:
            if s in by_split:
                splits[s] = table(by_split[s])
        missing = [s for s in SPLITS if s not in splits]
        if missing:
            base = splits["train"]
            wanted = {s: f for s, f in zip(SPLITS[1:], fractions) if s in missing}
            splits.update(hold_out_stratified(base, wanted, split_seed) if want_labels else hold_out_rows(base, wanted))
    else:
        base = table(by_split[None])
        wanted = dict(zip(SPLITS[1:], fractions))
        splits = hold_out_stratified(base, wanted, split_seed) if want_labels else hold_out_rows(base, wanted)
    return Corpus(name, "table", splits, all_files, report, origin=name, text_column=text_col,
                  label_column=label_col, own_splits=own, carved=_carved(by_split), warnings=notes)


def count_rows(split: TableSplit) -> int:
    probe = TableSplit(split.files, split.text_column, split.encoding, ReadReport(), split.label_column, split.rows)
    return sum(1 for _ in probe.records())


def hold_out_rows(base: TableSplit, fractions: dict[str, float]) -> dict[str, TableSplit]:
    """Hold out the tail rows of ``base`` for the named splits (deterministic, no shuffling)."""
    n = count_rows(base)
    out: dict[str, TableSplit] = {}
    end = n
    for s in ("test", "valid"):
        f = fractions.get(s, 0.0)
        k = int(round(n * f)) if f > 0 else 0
        if f > 0 and k == 0 and n >= 3:
            k = 1
        out[s] = TableSplit(base.files, base.text_column, base.encoding, base.report, base.label_column,
                            (end - k, end))
        end -= k
    out["train"] = TableSplit(base.files, base.text_column, base.encoding, base.report, base.label_column, (0, end))
    return out


def stratified_picks(labels: list[str], fractions: dict[str, float], seed: int) -> dict[str, list[int]]:
    """Row indices per split, seeded, keeping each label's share in every split. Each split gets its fraction of
    all the rows (at least one of three or more), shared out between the labels by their share, the largest
    remainders first, so that many small classes still fill it; every label keeps one row in train."""
    import numpy as np

    rng = np.random.default_rng(seed)
    picks: dict[str, list[int]] = {s: [] for s in SPLITS}
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    order = sorted(by_label)
    rows = {}
    for label in order:
        rows[label] = np.asarray(by_label[label])
        rng.shuffle(rows[label])
    start = dict.fromkeys(order, 0)
    for s in ("valid", "test"):
        f = fractions.get(s, 0.0)
        if f <= 0:
            continue
        want = max(int(round(len(labels) * f)), 1 if len(labels) >= 3 else 0)
        share = {label: len(rows[label]) * f for label in order}
        spare = {label: len(rows[label]) - 1 - start[label] for label in order}  # one row stays in train
        count = {label: min(int(share[label]), spare[label]) for label in order}
        by_remainder = sorted(order, key=lambda label: (int(share[label]) - share[label], -len(rows[label])))
        while (extra := want - sum(count.values())) > 0 and any(count[lb] < spare[lb] for lb in order):
            for label in by_remainder:
                if extra > 0 and count[label] < spare[label]:
                    count[label] += 1
                    extra -= 1
        for label in order:
            picks[s].extend(rows[label][start[label]:start[label] + count[label]].tolist())
            start[label] += count[label]
    for label in order:
        picks["train"].extend(rows[label][start[label]:].tolist())
    return {s: sorted(v) for s, v in picks.items()}


def hold_out_stratified(base: TableSplit, fractions: dict[str, float], seed: int) -> dict[str, TableSplit]:
    """A seeded hold-out that keeps each label's share in every split (for classification)."""
    import numpy as np

    probe = TableSplit(base.files, base.text_column, base.encoding, ReadReport(), base.label_column, base.rows)
    picks = stratified_picks([str(label) for _, label, _, _ in probe.records()], fractions, seed)
    out = {}
    for s in SPLITS:
        if s == "train" or fractions.get(s):
            out[s] = TableSplit(base.files, base.text_column, base.encoding, base.report, base.label_column,
                                base.rows, np.asarray(picks[s], dtype=np.int64))
    return out
