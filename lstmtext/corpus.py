"""Reading corpora: text files, folders, tables (CSV/TSV/JSONL/parquet), HF datasets; picking their splits.

Everything streams: text files are read as byte ranges in chunks that end on line boundaries,
tables row by row. Nothing here tokenizes. The byte level of text files (encodings, binary and compressed files,
reading a range) is textfiles.py's, reading the rows and columns of tables is tables.py's, and the parts held out
of train are splits.py's: this module picks what to read from a source and which split each part of it is.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from shlex import quote
from typing import Any

from lstmtext.errors import MissingColumn, UserError, usage_error
from lstmtext.labelfolders import (_aside, _mixed, find_layout, is_prefixed, not_labelled, open_layout,
                                   open_prefixed)
from lstmtext.splits import (SPLITS, carved_splits, check_fractions, cut_files, hold_out_rows, hold_out_stratified,
                             split_of)
from lstmtext.tables import (LABEL_COLUMNS, TEXT_COLUMNS, ReadReport, TableSplit, _iter_table, _table_format,
                             first_named, pick_column, place, refuse_one_column, table_columns)
from lstmtext.textfiles import (_BOMS, _ascii_compatible, _binary_error, _check_encoding, _compression, _looks_binary,
                                _packed_error, _read_range, _wide_order, check_encoding_name,
                                locate_decode_error, marked_encoding, misread_note, text_encoding)


# ----------------------------------------------------------------------------- text files


@dataclass
class TextSplit:
    """A split made of byte ranges of text files."""

    ranges: list[tuple[Path, int, int]]
    encoding: str

    def texts(self) -> Iterator[str]:
        for k, (path, start, end) in enumerate(self.ranges):
            if end > start:
                yield from _read_range(path, start, end, self.encoding)
                if k < len(self.ranges) - 1 and end == path.stat().st_size and not _ends_a_line(path, end):
                    yield "\n"  # a file without a last line break (IMDB's reviews): the next one starts a line

    def num_bytes(self) -> int:
        return sum(end - start for _, start, end in self.ranges)


def _ends_a_line(path: Path, end: int) -> bool:
    """Whether the byte before ``end`` is a line break."""
    with path.open("rb") as fh:
        fh.seek(end - 1)
        return fh.read(1) in (b"\n", b"\r")


def _joined(texts: Iterator[str]) -> str:
    """Files' texts one after another, a line break between two where the first has none at its end."""
    parts = [t for t in texts if t]
    return "".join(t if t.endswith(("\n", "\r")) or k == len(parts) - 1 else t + "\n" for k, t in enumerate(parts))


@dataclass
class MemorySplit:
    """A split held as a list of strings (for non-ASCII-compatible encodings and HF datasets)."""

    items: list[str]

    def texts(self) -> Iterator[str]:
        yield from self.items

    def num_bytes(self) -> int:  # UTF-8 bytes, as the tokenizing loop counts what it has done
        return sum(len(t.encode("utf-8", "surrogatepass")) for t in self.items)


# ----------------------------------------------------------------------------- the corpus


@dataclass
class Corpus:
    """A named source with up to three splits, and the files whose contents identify it."""

    name: str
    kind: str  # "text" | "table" | "hf" | "labelled" (a folder or file per label, labelfolders.py)
    splits: dict[str, Any]
    files: list[Path]
    report: ReadReport
    origin: str
    text_column: str | None = None
    label_column: str | None = None
    own_splits: bool = False
    # the splits the source lacks, held out of train by --valid-fraction/--test-fraction (empty where that is 0)
    carved: tuple[str, ...] = ()
    unread_label: str | None = None  # a table's label column that a language model leaves unread
    file_names: list[str] | None = None  # the names the content hash gives ``files`` (paths in the folder), where
    # a file's name alone would not do: a label folder's files are named alike (pos/1.txt, neg/1.txt)
    layout: str | None = None  # how a label layout is read ("one folder per label: neg, pos; each file one text")
    # how the splits and columns were chosen (set by open_corpus): with the content hash, what identifies the data
    settings: dict[str, Any] = field(default_factory=dict)
    encoding: str | None = None  # what its files were read in, where their byte-order marks chose it (not --encoding)
    path: str | None = None  # the file or folder read, absolute (None for a hub dataset)

    warnings: list[str] = field(default_factory=list)  # shown when it is prepared, kept in meta.json
    _hash: str | None = field(default=None, repr=False)

    def content_hash(self) -> str:
        """SHA-256 of the files' names and bytes (read once, then remembered)."""
        if self._hash is None:
            self._hash = self._content_hash()
        return self._hash

    def _content_hash(self) -> str:
        if not self.files:
            return hashlib.sha256(self.origin.encode()).hexdigest()
        return files_hash(self.files, self.file_names)


def files_hash(files: list[Path], names: list[str] | None = None) -> str:
    """SHA-256 of files' names (``names`` in their stead, where given) and bytes: a corpus's content hash."""
    digest = hashlib.sha256()
    for path, name in zip(files, names or [p.name for p in files]):
        digest.update(name.encode("utf-8", "surrogateescape"))  # a name in another encoding: its bytes
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _is_hf_dir(path: Path) -> bool:
    return (path / "dataset_dict.json").exists() or (path / "dataset_info.json").exists() \
        or (path / "state.json").exists()


def _looks_like_hub_id(spec: str) -> bool:
    """`name` or `owner/name` with no file suffix: a missing `notes.txt` is a missing file, not a hub id."""
    return bool(re.fullmatch(r"[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?", spec)) and not Path(spec).suffix


def _shipped_hint(path: Path) -> str:
    """The hint for a corpus not found: where the shipped one is, for `corpora/tales.txt` (the examples' path)
    given outside the checkout."""
    shipped = Path(__file__).resolve().parent.parent / "corpora" / path.name  # the checkout's, as a default
    if not path.is_absolute() and path.parent.name == "corpora" and shipped.exists():
        return f"the shipped corpus is {shipped}"
    return "check the path"


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
    check_encoding_name(encoding)
    fractions = check_fractions(valid_fraction, test_fraction)
    want_labels = task == "classify"
    if not str(spec).strip():  # Path("") is the working folder: an unset shell variable would read all of it
        raise usage_error("the corpus path is empty", "pass a file or folder; is a shell variable unset?")
    path = Path(spec)
    if not path.exists() and path.is_symlink():  # dangling, or a loop: no hub id either
        raise UserError(f"corpus {spec} is a symbolic link that leads nowhere (to {os.readlink(path)})",
                        "fix or remove the link")
    if not path.exists():
        if str(spec) == "-":  # a corpus is read more than once (hashed, split, tokenized): stdin will not do
            raise usage_error("a corpus is not read from stdin ('-')", "save the text to a file and pass its path")
        if not _looks_like_hub_id(str(spec)):
            raise UserError(f"corpus not found: {spec}", _shipped_hint(Path(spec)))
        from lstmtext.hf import open_hub

        corpus = open_hub(str(spec), text_column, label_column, fractions, split_seed, want_labels, hf_loader)
    elif not path.is_dir() and not path.is_file():  # reading a FIFO would wait for a writer
        raise usage_error(f"{spec} is a pipe or a device, which can be read only once, and a corpus is read more "
                          "than once (hashed, split, tokenized)", "save the text to a file and pass its path")
    elif path.is_dir() and (path / "meta.json").is_file() and (path / "tokenizer.json").is_file():
        raise usage_error(f"{spec} is a prepared folder (written by lstmtext tokenize), not a corpus",
                          f"train on it as it is (lstmtext train {quote(str(spec))}), or pass the corpus it was made "
                          "from")
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
    corpus.settings = _settings(corpus, codecs.lookup(corpus.encoding or encoding).name, fractions, split_seed)
    corpus.path = str(path.resolve()) if path.exists() else None
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
    if corpus.carved and (corpus.label_column is not None or corpus.layout):
        settings["split_seed"] = split_seed
    if corpus.layout:
        settings["layout"] = corpus.layout
    return settings


def _open_folder(path: Path, encoding: str, text_column: str | None, label_column: str | None,
                 fractions: tuple[float, float], split_seed: int, want_labels: bool) -> Corpus:
    layout = find_layout(path, encoding, classify=want_labels)  # pos/ and neg/, or pos.txt and neg.txt
    if want_labels and layout:
        return open_layout(path, layout, encoding, text_column, label_column, fractions, split_seed)
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    top_empty = not files
    top = [p for p in files if not _looks_binary(p, encoding) and not _aside(p, lm=True)]
    if layout and layout.folders:
        by_split = layout.lm_files(encoding)
        if sum(p.stat().st_size for ps in by_split.values() for p in ps) > sum(p.stat().st_size for p in top):
            # aclImdb: a language model reads the reviews, its unlabelled ones too, as running text in their split
            # folders; not the README, the lists of URLs and the bags of words beside them
            corpus = _open_files(path.name or path.resolve().name, by_split, encoding, text_column, label_column,
                                 fractions, split_seed, False)
            beside = f", not the smaller files beside them ({', '.join(p.name for p in files[:3])})" if files else ""
            corpus.warnings.insert(0, f"{path} holds a classifier's corpus ({layout.describe()}): a language model "
                                   f"reads the texts of its label folders, unlabelled ones included{beside} (pass "
                                   "--task classify to train a classifier)")
            return corpus
    if top_empty:  # no files at the top: look into subfolders
        files = sorted(p for p in path.rglob("*") if p.is_file() and not any(
            part.startswith(".") for part in p.relative_to(path).parts))
    if any(p.suffix.lower() != ".md" for p in files):  # a README.md beside the text; a folder of notes is read
        files = [p for p in files if p.suffix.lower() != ".md"]
    readable = [p for p in files if p.stat().st_size > 0 and not _looks_binary(p, encoding)]
    if not readable:
        inner = [sub for sub in sorted(path.iterdir()) if sub.is_dir() and not sub.name.startswith(".")]
        if inner and not top_empty:  # aclImdb/ beside its aclImdb_v1.tar.gz: the text is in the subfolder
            raise UserError(f"{path} has no text files at its top ({', '.join(p.name for p in files[:3])}), and "
                            f"subfolders: {', '.join(sub.name for sub in inner[:3])}", f"point at {inner[0]}")
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
    plain = [p for p in plain if not _aside(p, lm=not want_labels)] or plain  # a readme, classes.txt, vocab.txt
    txt = [p for p in plain if p.suffix.lower() == ".txt"]
    if txt and 2 * sum(p.stat().st_size for p in txt) >= sum(p.stat().st_size for p in set(plain) - set(txt)):
        plain = txt  # books with a LICENSE or a script beside them (not rt-polarity.pos and .neg beside a notes.txt)
    # both kinds: a classifier reads the tables; a language model the kind that holds more of the text (a folder
    # of books with an info.json, or of CSV files with a notes.txt)
    use_tables = bool(tables) and (want_labels or not plain or sum(p.stat().st_size for p in tables)
                                   >= sum(p.stat().st_size for p in plain))
    prefixed = [p for p in plain if want_labels and is_prefixed(p, encoding)]  # fastText's lines: labelled too
    if prefixed and tables:
        raise _mixed(path, f"fastText lines ({', '.join(p.name for p in prefixed[:3])}) and tables "
                           f"({', '.join(p.name for p in tables[:3])})")
    if prefixed:  # an unlabelled test.txt beside them is left out (named below), as an unlabelled test.csv is
        plain = prefixed
    chosen = tables if use_tables else plain
    by_split: dict[str | None, list[Path]] = {}
    for p in chosen:
        by_split.setdefault(split_of(p), []).append(p)
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
    if want_labels and not use_tables and not all(is_prefixed(p, encoding) for p in chosen):
        inner = next((sub for sub in sorted(path.iterdir()) if sub.is_dir() and not sub.name.startswith(".")
                      and find_layout(sub, encoding)), None)  # rt-polaritydata/ beside its README
        raise not_labelled(path, inner)
    corpus = _open_files(path.name or path.resolve().name, by_split, encoding, text_column, label_column, fractions,
                         split_seed, want_labels)  # '.' has no name of its own
    corpus.warnings[:0] = notes
    used = {p for ps in by_split.values() for p in ps}
    left = [p.name for p in readable if p not in used]
    if left:
        unused = [p for p in readable if p not in used]
        why = ("not named train, valid or test" if set(unused) <= set(chosen) else
               "plain text beside tables" if use_tables else
               "tables beside plain text" if all(_table_format(p) for p in unused) else
               "a readme and the like, beside the text" if all(_aside(p, lm=not want_labels) for p in unused) else
               "not in fastText's format, as the others are" if prefixed else
               "not .txt, beside .txt files")
        corpus.warnings.append(f"{path} has files this corpus leaves out ({why}): {', '.join(left[:5])}"
                               + (f" and {len(left) - 5} more" if len(left) > 5 else ""))
    was_read = set(readable)  # sets: a folder may hold thousands of files, and a list's `in` is quadratic
    unread = [p.name for p in files if p.stat().st_size > 0 and p not in was_read]
    if unread:  # binary (an image, a .bin): named, as the files left out above are
        corpus.warnings.append(f"{path} has files this corpus leaves out (binary, not text): {', '.join(unread[:5])}"
                               + (f" and {len(unread) - 5} more" if len(unread) > 5 else ""))
    subfolders = [p.name for p in sorted(path.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    if subfolders and not top_empty:
        corpus.warnings.append(f"{path} has subfolders this corpus leaves out, as it reads the files at its top: "
                               f"{', '.join(subfolders[:5])}" + (" ..." if len(subfolders) > 5 else "")
                               + " (point at a subfolder to read it)")
    return corpus


def _open_files(name: str, by_split: dict[str | None, list[Path]], encoding: str, text_column: str | None,
                label_column: str | None, fractions: tuple[float, float], split_seed: int,
                want_labels: bool) -> Corpus:
    """The corpus of these files (text, tables or fastText's lines), read in the encoding their byte-order marks
    give where --encoding is left at UTF-8 (UTF-16 saved by Notepad or Excel), with a note."""
    marked = marked_encoding([p for ps in by_split.values() for p in ps], encoding, name)
    corpus = _read_files(name, by_split, marked[0] if marked else encoding, text_column, label_column, fractions,
                         split_seed, want_labels)
    if marked:
        corpus.encoding = marked[0]
        corpus.warnings.insert(0, marked[1])
    return corpus


def _read_files(name: str, by_split: dict[str | None, list[Path]], encoding: str, text_column: str | None,
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
    try:
        notes = [note for p in all_files if fmts[p] != "parquet" and (note := _check_encoding(p, encoding))]
        notes += [note] if (note := misread_note([p for p in all_files if fmts[p] != "parquet"], encoding)) else []
    except UserError as error:
        if len(all_files) > 1 and error.hint:  # the hint's encoding may not read the others
            error.hint += "; one --encoding reads every file of a corpus, so convert any file whose encoding " \
                          "differs: iconv -f ENCODING -t utf-8"
        raise
    if any(fmts.values()):
        if not all(fmts.values()):
            raise UserError(f"{name} mixes tables and plain text files", "keep one kind per corpus")
        corpus = _open_tables(name, by_split, fmts, encoding, text_column, label_column, fractions, split_seed,
                              report, want_labels)
        corpus.warnings[:0] = notes
        return corpus
    if want_labels and all(is_prefixed(p, encoding) for p in all_files):  # __label__pos a text (fastText's)
        return open_prefixed(name, by_split, encoding, text_column, label_column, fractions, split_seed)
    if want_labels:
        raise not_labelled(name)
    for flag, value in (("--text-column", text_column), ("--label-column", label_column)):
        if value is not None:
            raise MissingColumn(f"{flag} is for tables, and {name} is plain text", "drop it", exit_code=2)
    if not _ascii_compatible(encoding):
        return _open_transcoded(name, by_split, encoding, fractions, report)
    if is_prefixed(all_files[0], encoding):  # a classifier's corpus, perhaps given without --task classify
        notes = [*notes, f"{name} is in fastText's format (its lines start with __label__ words): a language model "
                 "learns those words as text; to train a classifier on it, pass --task classify"]
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
        held = cut_files(train_files, tuple(f if s in missing else 0.0 for s, f in zip(SPLITS[1:], fractions)),
                          utf8)
        for s in SPLITS:
            ranges = [(p, 0, p.stat().st_size) for p in by_split[s]] if s in by_split else held[s]
            splits[s] = TextSplit(held["train"] if s == "train" else ranges, encoding)
    else:
        for s, ranges in cut_files(by_split[None], fractions, utf8).items():
            splits[s] = TextSplit(ranges, encoding)
        if len(by_split[None]) > 1:  # a folder of books: the held-out text is the last book's, not a sample
            held = {s: [p.name for p, a, b in splits[s].ranges if b > a] for s in SPLITS[1:]}
            named = "; ".join(f"{s} from {', '.join(held[s])}" for s in SPLITS[1:] if held[s])
            if named:
                notes = [*notes, f"{name}'s held-out splits are the end of its files taken in name order ({named}), "
                         "not a sample of each: name files valid.txt and test.txt to choose them"]
    return Corpus(name, "text", splits, all_files, report, origin=name, own_splits=own,
                  carved=carved_splits(by_split), warnings=notes)


def _open_transcoded(name: str, by_split: dict[str | None, list[Path]], encoding: str,
                     fractions: tuple[float, float], report: ReadReport) -> Corpus:
    """UTF-16 and friends: decode whole files, then split by characters."""
    def read(p: Path) -> str:
        try:
            text = p.read_text(encoding=text_encoding(encoding))
        except UnicodeError:
            raise locate_decode_error(p, encoding) from None
        if "\x00" in text:
            line = text.count("\n", 0, text.index("\x00")) + 1
            raise UserError(f"{p} holds a NUL character on line {line}: binary data, not text",
                            "give a text file, or remove the NUL characters")
        return text

    def carve(text: str, fractions: tuple[float, float]) -> dict[str, str]:
        """Valid and test held out of the end of ``text`` (at the given fractions, 0 for none)."""
        n = len(text)

        def snap(i: int) -> int:  # as _snap_to_line: the next line start, else the next word start
            for mark in ("\n", " "):
                if 0 <= (j := text.find(mark, i - 1 if i else 0)) < n - 1 and j + 1 - i < 1 << 20:
                    return j + 1
            return i

        a = snap(int(n * (1 - sum(fractions)))) if sum(fractions) else n
        b = max(a, snap(int(n * (1 - fractions[1]))) if fractions[1] else n)
        return {"train": text[:a], "valid": text[a:b], "test": text[b:]}

    all_files = [p for ps in by_split.values() for p in ps]
    own = None not in by_split
    if own:  # a split without a file of its own is held out of train, as for other encodings (_open_text)
        held = tuple(f if s not in by_split else 0.0 for s, f in zip(SPLITS[1:], fractions))
        parts = carve(_joined(read(p) for p in by_split["train"]), held)
        parts.update({s: _joined(read(p) for p in by_split[s]) for s in SPLITS[1:] if s in by_split})
    else:
        parts = carve(_joined(read(p) for p in by_split[None]), fractions)
    return Corpus(name, "text", {s: MemorySplit([t]) for s, t in parts.items()}, all_files, report, origin=name,
                  own_splits=own, carved=carved_splits(by_split))


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
            at = place(path, line).removeprefix(f"{path} ") if len(train_files) == 1 else place(path, line)
            raise UserError(f"{where} has no readable records; {at}: {reason}", "fix that line")
        raise UserError(f"{where} has no records" + (" below its header" if fmts[first] in ("csv", "tsv") else ""),
                        "add the texts, one record each")
    columns = table_columns(first, fmts[first] or "csv", encoding)
    text_col = pick_column(columns, text_column, TEXT_COLUMNS, "text", str(first))
    label_col = None
    if want_labels and label_column is None and columns == [text_col]:  # pos.jsonl and neg.jsonl of texts alone
        raise UserError(f"{first} has one column, {text_col!r}, and a classifier needs each text's label too",
                        "add a label column (a field of each record), or give one file of texts per label as "
                        "plain text (pos.txt, neg.txt)")
    if want_labels:
        label_col = pick_column(columns, label_column, LABEL_COLUMNS, "label", str(first))
        refuse_one_column(text_col, label_col, str(first))
    unread = None if want_labels else first_named([c for c in columns if c != text_col], LABEL_COLUMNS)

    def table(paths: list[Path], rows: tuple[int, int] | None = None) -> TableSplit:
        return TableSplit([(p, fmts[p] or "csv") for p in paths], text_col, encoding, report, label_col, rows)

    all_files = [p for ps in by_split.values() for p in ps]
    notes = report.notes  # the corpus's warnings: reading the rows adds what it notices to them
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
                  label_column=label_col, own_splits=own, carved=carved_splits(by_split), warnings=notes,
                  unread_label=unread)


