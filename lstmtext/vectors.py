"""Pretrained word vectors for a new model's embedding (train --embed-init): GloVe's, word2vec's and fastText's
files, as text (a word and its numbers a line, with or without word2vec's "COUNT DIM" first line) or in word2vec's
binary format, plain or compressed (gzip, bzip2, xz, a zip archive of one file). A file of millions of words is
streamed: only the vectors of the vocabulary's tokens are parsed and kept. Imports nothing heavy."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstmtext.errors import UserError, usage_error

SPECIALS = frozenset({"<pad>", "<unk>", "<eos>", "<s>", "</s>"})  # keep the model's own start
_WORD_START = "\u2581"  # SentencePiece's mark of a piece that starts a word ("▁the")
_CHUNK = 1 << 20


@dataclass
class Layout:
    """How a vectors file is written: its dimension, whether it is word2vec's binary format, the bytes its
    first line of vectors starts at (after a byte-order mark, and word2vec's header line), and the words that
    header line says the file holds."""

    dim: int
    binary: bool
    start: int
    words: int | None = None


@dataclass
class Found:
    """The vectors of a vocabulary's tokens: ``rows`` [vocab, dim] (zeros where ``found`` is False), and how
    each found token matched (0 as written, 1 lowercased, 2-3 a SentencePiece piece as the word it starts)."""

    rows: np.ndarray
    found: np.ndarray
    how: np.ndarray
    dim: int
    words_in_file: int
    not_utf8: int = 0  # words of the file in another encoding, which match nothing


DAMAGED = (EOFError, OSError, zlib.error, lzma.LZMAError, zipfile.BadZipFile)  # a cut or corrupt compressed file


def _damaged(path: Path, err: BaseException) -> UserError:
    return UserError(f"--embed-init {path} is cut short or damaged ({str(err)[:80] or type(err).__name__})",
                     "download it again")


class _Closing:
    """A stream of a file's unpacked bytes that closes, with itself, the file and archive beneath it."""

    def __init__(self, inner: Any, *beneath: Any) -> None:
        self.inner, self.beneath = inner, beneath

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.inner)

    def __enter__(self) -> _Closing:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for stream in (self.inner, *self.beneath):
            stream.close()


def _open(path: Path, dim: int | None = None) -> tuple[Any, Callable[[], int], int]:
    """The file's bytes (unpacked), a function giving how far the file on disk has been read, and its size. In a
    zip archive of several files (glove.6B.zip), ``dim`` picks the one of that width (glove.6B.100d.txt)."""
    try:
        return _open_unchecked(path, dim)
    except PermissionError:
        raise  # one line naming the path (cli.exits), not "damaged"
    except DAMAGED as err:
        raise _damaged(path, err) from None


def _open_unchecked(path: Path, dim: int | None) -> tuple[Any, Callable[[], int], int]:
    if not path.exists():
        raise UserError(f"--embed-init {path}: file not found", "pass a GloVe, word2vec or fastText vectors file")
    if path.is_dir():
        raise usage_error(f"--embed-init {path} is a folder", "pass one vectors file in it, such as glove.6B.100d.txt")
    if not path.is_file():  # <(zcat glove.gz): the file is read twice (its layout, then its vectors)
        raise usage_error(f"--embed-init {path} is a pipe or a device, which can be read only once",
                          "pass the file itself (compressed files are read as they are)")
    raw = open(path, "rb")  # noqa: SIM115 (closed with the stream that wraps it)
    size = os.fstat(raw.fileno()).st_size
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"PK\x03\x04"):
        raw.close()
        with zipfile.ZipFile(path) as archive:  # not macOS's metadata (__MACOSX/, ._NAME)
            members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")
                       and not Path(m.filename).name.startswith("._")]
        if len(members) > 1 and dim is not None:
            members = [m for m in members if re.search(rf"(?<!\d){dim}d(?!\w)", Path(m.filename).name)] or members
        if len(members) != 1:
            names = ", ".join(m.filename for m in members[:6]) + (", ..." if len(members) > 6 else "")
            widths = sorted({int(w) for m in members for w in re.findall(r"(?<!\d)(\d+)d(?!\w)", m.filename)})
            pick = f"pass --embed-dim {' or '.join(map(str, widths))} to pick one, or " if len(widths) > 1 else ""
            raise usage_error(f"--embed-init {path} is a zip archive of {len(members)} files ({names})",
                              f"{pick}unzip it and pass one")
        archive = zipfile.ZipFile(path)
        stream = archive.open(members[0])
        return _Closing(stream, archive), lambda: archive.fp.tell() if archive.fp else size, size
    opener = {b"\x1f\x8b": gzip.GzipFile, b"BZh": bz2.BZ2File, b"\xfd7zXZ": lzma.LZMAFile}
    for prefix, kind in opener.items():
        if magic.startswith(prefix):
            return _Closing(kind(fileobj=raw) if kind is gzip.GzipFile else kind(raw), raw), raw.tell, size
    return io.BufferedReader(raw, _CHUNK), raw.tell, size


def _numbers(fields: list[bytes], path: Path, line: int) -> np.ndarray:
    try:
        return np.array(fields, dtype=np.float32)
    except ValueError:
        raise UserError(f"--embed-init {path} line {line:,} is not a word and its numbers",
                        "pass a vectors file in GloVe's, word2vec's or fastText's text format") from None


def layout(path: Path, dim_asked: int | None = None) -> Layout:
    """Read the start of a vectors file: its dimension and format, refusing what is none (checked before the
    corpus is read, which can take minutes). ``dim_asked`` picks a member of a zip archive of several."""
    stream, _, _ = _open(path, dim_asked)
    try:
        with stream:
            head = stream.read(1 << 16)
    except PermissionError:
        raise
    except DAMAGED as err:
        raise _damaged(path, err) from None
    bom = len(_BOM) if head.startswith(_BOM) else 0
    head = head[bom:]
    if not head.strip():
        raise UserError(f"--embed-init {path} is empty", "pass a GloVe, word2vec or fastText vectors file")
    first, _, rest = head.partition(b"\n")
    fields = first.split()
    header = len(fields) == 2 and all(f.isdigit() for f in fields)
    if header:
        dim, start = int(fields[1]), bom + len(first) + 1
        if dim < 1:
            raise UserError(f"--embed-init {path}: its first line says the vectors have {dim} numbers",
                            "the file is damaged; download it again")
        if not rest.strip():
            raise UserError(f"--embed-init {path} holds no vectors, only its first line ({first.decode()!r})",
                            "the file is cut short; download it again")
        line = rest.partition(b"\n")[0].split()
        text = len(line) == dim + 1 and _is_text(line[1:])
        if not text and not _binary_bytes(rest[:dim * 4 + 200]) and not _binary_suffix(path) and len(line) > 1:
            raise UserError(f"--embed-init {path}: its first line says {dim} numbers a word, but line 2 has "
                            f"{len(line) - 1}", "the file is damaged or not a vectors file")
        return Layout(dim, not text, start, int(fields[0]))
    # the numbers a line: the commonest count of the first lines (a word may hold spaces: GloVe's '. . .')
    lines = [line.split() for line in head.split(b"\n")[:20] if line.strip()]
    counts = [len(line) - 1 for line in lines[:-1] or lines]
    dim = max(set(counts), key=counts.count)
    if dim < 1 or not any(len(line) == dim + 1 and _is_text(line[1:]) for line in lines):
        try:
            shown = first[:60].decode("utf-8")
        except UnicodeDecodeError:
            shown = repr(first[:30])
        raise UserError(f"--embed-init {path} does not start with a word and its numbers ({shown!r}...)",
                        "pass a vectors file in GloVe's, word2vec's or fastText's text or binary format")
    return Layout(dim, False, bom)


_BOM = b"\xef\xbb\xbf"


def _binary_bytes(sample: bytes) -> bool:
    """Whether bytes after a word2vec header are its binary floats: a NUL, or no UTF-8 text."""
    import codecs

    if b"\0" in sample:
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return True
    return False


def _binary_suffix(path: Path) -> bool:
    return ".bin" in [s.lower() for s in path.suffixes]


def _is_text(fields: list[bytes]) -> bool:
    try:
        np.array(fields, dtype=np.float32)
    except ValueError:
        return False
    return True


def _keys(token: str) -> list[str]:
    """The words a token's vector may be filed under, best first: as written, lowercased (GloVe's 6B and 42B
    vectors are lowercased), and a SentencePiece piece that starts a word as that word (BPEmb's vectors are
    filed under the pieces themselves, "▁the", so they match as written)."""
    keys = [token, token.lower()]
    if token.startswith(_WORD_START) and len(token) > 1:
        keys += [token[1:], token[1:].lower()]
    return keys


def _lines(stream: Any, start: int) -> Iterator[bytes]:
    stream.read(start)
    yield from stream


def _binary_entries(stream: Any, start: int, dim: int, path: Path) -> Iterator[tuple[bytes, bytes]]:
    """word2vec's binary format: after the header line, each word, a space, and ``dim`` little-endian float32s
    (a newline between entries in most files)."""
    stream.read(start)
    width = 4 * dim
    buf, pos = b"", 0
    while True:
        space = buf.find(b" ", pos)
        while space < 0 or len(buf) - space - 1 < width:
            more = stream.read(_CHUNK)
            if not more:
                if buf[pos:].strip():
                    raise UserError(f"--embed-init {path} ends inside a vector", "the file is cut short; download "
                                    "it again")
                return
            buf, pos = buf[pos:] + more, 0
            space = buf.find(b" ", pos)
        word = buf[pos:space].lstrip(b"\n")
        yield word, buf[space + 1:space + 1 + width]
        pos = space + 1 + width


def read_vectors(path: Path, tokens: list[str], shape: Layout, progress: Callable[[int, int], None] | None = None,
                 subword: bool = False, dim_asked: int | None = None) -> Found:
    """The vectors of ``tokens`` (a vocabulary, by id) in ``path``: each token takes the vector of its best key
    (``_keys``), the first in the file where a key is filed twice. ``progress(done, total)``: bytes of the file.
    ``subword``: the tokens are SentencePiece's pieces, of which those inside words ("ing", no "▁") take vectors
    only from a file of pieces (BPEmb's, which files "▁the"): a word's vector is not a piece's ("he" in "there")."""
    try:
        return _read_vectors(path, tokens, shape, progress, subword, dim_asked)
    except PermissionError:
        raise
    except DAMAGED as err:
        raise _damaged(path, err) from None


def _read_vectors(path: Path, tokens: list[str], shape: Layout, progress: Callable[[int, int], None] | None,
                  subword: bool, dim_asked: int | None) -> Found:
    wanted: dict[bytes, list[tuple[int, int]]] = {}
    for i, token in enumerate(tokens):
        if token in SPECIALS:
            continue
        for how, key in enumerate(_keys(token)):
            entries = wanted.setdefault(key.encode("utf-8"), [])
            if all(j != i for j, _ in entries):
                entries.append((i, how))
    dim = shape.dim
    rows = np.zeros((len(tokens), dim), dtype=np.float32)
    best = np.full(len(tokens), 99, dtype=np.int8)
    stream, done, total = _open(path, dim_asked)
    words = foreign = 0
    pieces = False  # a word filed with SentencePiece's mark: a file of pieces
    mark = _WORD_START.encode("utf-8")
    before = 1 if shape.words is not None else 0  # the header line, in line numbers
    with stream:
        if shape.binary:
            entries: Iterator[tuple[bytes, bytes]] = _binary_entries(stream, shape.start, dim, path)
        else:
            entries = ((line.partition(b" ")[0], line) for line in _lines(stream, shape.start))
        for k, (word, data) in enumerate(entries):
            words += 1
            if progress is not None and k % 65536 == 0:
                progress(done(), total)
            if not shape.binary and b"\t" in word:  # a file separated by tabs
                word = word.partition(b"\t")[0]
            if not word.isascii():
                pieces = pieces or word.startswith(mark)
                try:
                    word.decode("utf-8")
                except UnicodeDecodeError:  # Latin-1's cliché: it matches no word of the vocabulary
                    foreign += 1
            hits = wanted.get(word)
            if not hits or all(best[i] <= how for i, how in hits):
                continue
            if shape.binary:
                vector = np.frombuffer(data, dtype="<f4").astype(np.float32)
            else:
                fields = data.rsplit(None, dim)  # a word may hold spaces (GloVe's 840B vectors have a few)
                if len(fields) != dim + 1:
                    raise UserError(f"--embed-init {path} line {k + 1 + before:,} has {len(fields) - 1} "
                                    f"numbers, not {dim}", "the file is damaged or cut short; download it again")
                if fields[0] != word:
                    extra = fields[0].split()[1:]  # "the 0.1": a number too many, not a word of spaces
                    if extra and _is_text(extra):
                        raise UserError(f"--embed-init {path} line {k + 1 + before:,} has {dim + len(extra)} numbers, "
                                        f"not {dim}", "the file is damaged; download it again")
                    hits = wanted.get(fields[0])
                    if not hits:
                        continue
                vector = _numbers(fields[1:], path, k + 1 + before)
            for i, how in hits:
                if how < best[i]:
                    best[i], rows[i] = how, vector
        if progress is not None:
            progress(total, total)
    starts = any(token.startswith(_WORD_START) for token in tokens)  # none in a script without spaces
    if subword and starts and not pieces:  # word vectors: a piece inside a word keeps the model's own start
        for i, token in enumerate(tokens):
            if not token.startswith(_WORD_START):
                best[i] = 99
    found = best < 99
    rows[~found] = 0.0
    if not np.isfinite(rows[found]).all():
        raise UserError(f"--embed-init {path} holds numbers that are not finite (nan or inf)",
                        "the file is damaged; download it again")
    return Found(rows, found, np.where(found, best, -1), dim, words, foreign)


def token_strings(tokenizer: object) -> list[str]:
    """A tokenizer's tokens, by id: characters, words, or SentencePiece's pieces."""
    itos = getattr(tokenizer, "itos", None)
    if itos is not None:
        return list(itos)
    sp = tokenizer.sp  # type: ignore[attr-defined]
    return [sp.id_to_piece(i) for i in range(int(sp.get_piece_size()))]
