"""A classifier's texts in plain text files whose folder or file name is their label, as many corpora come:

- one folder per label (``pos/``, ``neg/``): each file one text, as the IMDB reviews are; a label folder that holds a
  single file has a text on each of its lines;
- one file per label (``pos.txt``, ``neg.txt``, or ``rt-polarity.pos`` and ``rt-polarity.neg``): each line one text;
- fastText's lines, each holding its label in a ``__label__pos`` word (at its start, as a rule).

The first two may sit in split folders (``train/``, ``test/``, ``dev/``), each read in its own way; a split without
one is held out of train, seeded and stratified, as a table's is. A folder named for unlabelled texts (``unsup``, as
IMDB's train has) is left out of a classifier, with a note, and read by a language model. Nothing here tokenizes:
the splits give (text, label, file, line) records, as a table's do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstmtext.errors import MissingColumn, UserError
from lstmtext.splits import SPLITS, split_of, stratified_picks
from lstmtext.tables import LABEL_COLUMNS, TEXT_COLUMNS, ReadReport, _table_format, first_named, table_columns
from lstmtext.textfiles import (_check_encoding, _compression, _looks_binary, locate_decode_error, marked_encoding,
                                misread_note, text_encoding)

UNLABELLED = frozenset({"unsup", "unsupervised", "unlabeled", "unlabelled"})
# a corpus's papers and lists beside its texts, not a class: by the words of a file's name
ASIDE = frozenset({"readme", "license", "licence", "copying", "notice", "changelog", "citation", "classes", "labels",
                   "vocab", "vocabulary", "urls", "stopwords", *UNLABELLED})
PREFIX = "__label__"
_LABEL_WORD = re.compile(r"(?:^|(?<=\s))__label__(\S+)")


def split_prefixed(line: str) -> tuple[list[str], str]:
    """The labels and the text of a fastText line, whose words with the __label__ prefix are labels wherever they
    stand, a tab or a space apart: "__label__pos\\t__label__good the text" -> (["pos", "good"], "the text")."""
    labels = _LABEL_WORD.findall(line)
    if not labels:
        return [], line
    return labels, " ".join(_LABEL_WORD.sub(" ", line).split())


def strip_labels(lines: list[str]) -> list[str] | None:
    """Texts to classify with their __label__ words left out, where the first non-blank line has one (fastText's
    lines); None where it has none."""
    first = next((line for line in lines if line.strip()), "")
    if not _LABEL_WORD.search(first):
        return None
    return [split_prefixed(line)[1] for line in lines]


def is_prefixed(path: Path, encoding: str) -> bool:
    """Whether a text file is in fastText's format: its first non-blank line has a __label__ word (read as UTF-16
    where its byte-order mark says so, as the corpus reads it)."""
    try:
        marked = marked_encoding([path], encoding, path.name)
        with path.open(encoding=text_encoding(marked[0] if marked else encoding), errors="replace") as fh:
            for line in fh:
                if line.strip():
                    return bool(_LABEL_WORD.search(line))
    except (OSError, UnicodeError):
        return False
    return False


@dataclass
class LabelSplit:
    """One split of labelled text files, optionally a seeded pick of its records."""

    items: list[tuple[Path, str, str]]  # (file, label, unit), in label then name order; unit: "file" (one text),
    # "line" (a text a line), "prefixed" (fastText's lines, which name their own labels)
    encoding: str
    report: ReadReport
    indices: Any = None  # a sorted array of record indices (stratified hold-out)
    of_rows: int = 0  # the records of all the files, where a hold-out counted them (for the size of a part)

    def _lines(self, path: Path) -> Iterator[tuple[int, str]]:
        try:
            with path.open(encoding=text_encoding(self.encoding), newline=None) as fh:
                for lineno, line in enumerate(fh, 1):
                    if line.strip():  # a blank line is no text, as a trailing one is not
                        yield lineno, line.rstrip("\n")
        except UnicodeError:
            raise locate_decode_error(path, self.encoding) from None

    def _whole(self, path: Path) -> str:
        try:
            return path.read_text(encoding=text_encoding(self.encoding))
        except UnicodeError:
            raise locate_decode_error(path, self.encoding) from None

    def _all(self) -> Iterator[tuple[Any, str | None, str, int]]:
        """(text, label, file, line) of every record, the text unread (None) where a file is one text."""
        for path, label, unit in self.items:
            if unit == "file":
                yield None, label, str(path), 1
                continue
            for lineno, line in self._lines(path):
                if unit == "prefixed":
                    labels, text = split_prefixed(line)
                    yield text, labels[0] if labels else None, str(path), lineno
                else:
                    yield line, label, str(path), lineno

    def records(self) -> Iterator[tuple[str, Any, str, int]]:
        """(text, label, file, line) for each kept text."""
        pick = None if self.indices is None else set(int(i) for i in self.indices)
        for index, (text, label, path, line) in enumerate(self._all()):
            if pick is None or index in pick:
                yield (self._whole(Path(path)) if text is None else text), label, path, line

    def labels(self) -> list[str]:
        """Every record's label, in order (read without the texts of files that are one text each)."""
        return [str(label) for _, label, _, _ in self._all()]

    def several_labels(self) -> tuple[int, str, int]:
        """fastText lines with more than one label: how many, and where the first is."""
        count, first = 0, ("", 0)
        for path, _, unit in self.items:
            for lineno, line in self._lines(path) if unit == "prefixed" else ():
                if len(split_prefixed(line)[0]) > 1:
                    count += 1
                    first = first if count > 1 else (str(path), lineno)
        return count, *first

    def texts(self) -> Iterator[str]:
        """The texts as lines, those without a label left out (as encoding leaves them out of a classifier's data,
        they stay out of its vocabulary)."""
        for text, label, _, _ in self.records():
            if label is not None:
                yield text.replace("\r\n", "\n").replace("\n", " ") + "\n"

    def num_bytes(self) -> int:
        """The files' size, or a part's share of it: a progress bar's total, not an exact count."""
        size = sum(p.stat().st_size for p, _, _ in self.items)
        if not self.of_rows or self.indices is None:
            return size
        return size * len(self.indices) // self.of_rows


@dataclass
class Found:
    """The labels of one folder: each label's files and how they are read, and what is left out beside them."""

    labels: dict[str, tuple[list[Path], str]]  # label -> (files, unit)
    folders: bool  # labels from folder names (else from file names)
    left_out: list[str] = field(default_factory=list)  # entries beside the labels, by name
    unlabelled: list[Path] = field(default_factory=list)  # folders named for unlabelled texts
    dropped: list[Path] = field(default_factory=list)  # files inside label folders that are not read as text

    def size(self) -> int:
        return sum(p.stat().st_size for files, _ in self.labels.values() for p in files)


@dataclass
class Layout:
    """Where a folder's labelled texts are, per split (None for a folder without split folders)."""

    splits: dict[str | None, Found]
    left_out: list[str]  # entries of the folder (and of its split folders) beside the labels

    @property
    def folders(self) -> bool:
        """Labels from folder names in every split (else from file names in some)."""
        return all(found.folders for found in self.splits.values())

    def unlabelled(self) -> list[Path]:
        return [p for found in self.splits.values() for p in found.unlabelled]

    def dropped(self) -> list[Path]:
        return [p for found in self.splits.values() for p in found.dropped]

    def size(self) -> int:
        return sum(found.size() for found in self.splits.values())

    def lm_files(self, encoding: str) -> dict[str | None, list[Path]]:
        """The files a language model reads, per split: every label's, and the unlabelled folders' too."""
        out = {}
        for s, found in self.splits.items():
            files = [p for label in sorted(found.labels) for p in found.labels[label][0]]
            files += [p for folder in found.unlabelled for p in sorted(folder.rglob("*"))
                      if _text_file(p, encoding) and not _aside(p, lm=True)]
            out[s] = files
        return out

    def describe(self) -> str:
        """"one folder per label: neg, pos; each file one text" (each line, where each label folder holds one file;
        both, where some do and some do not)."""
        names = sorted({label for found in self.splits.values() for label in found.labels})
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        units = {unit for found in self.splits.values() for _, unit in found.labels.values()}
        unit = (f"each {units.pop()} one text" if len(units) == 1 else
                "each file one text, or each line in a label folder that holds a single file")
        kinds = {found.folders for found in self.splits.values()}
        where = "one folder or file per label" if len(kinds) > 1 else \
            "one folder per label" if self.folders else "one file per label"
        return f"{where}: {shown}; {unit}"


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _aside(path: Path, lm: bool = False) -> bool:
    """A readme, licence, list of classes or the like, by the words of its name (rt-polaritydata.README.1.0.txt);
    ``lm``: for a language model, which reads unlabelled texts (unsup.txt) as text."""
    words = set(re.split(r"[^a-z]+", path.name.lower()))
    return path.suffix.lower() == ".md" or bool((ASIDE - UNLABELLED if lm else ASIDE) & words)


# binary by their name, whether or not their first bytes hold a NUL (a small JPEG may not)
BINARY_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".pdf", ".feat", ".npy", ".npz",
                             ".bin", ".pkl", ".pt", ".pth", ".safetensors", ".mp3", ".wav", ".mp4", ".exe", ".so"})


def _text_file(path: Path, encoding: str) -> bool:
    """A plain text file with something in it: not a table, a binary or compressed file, nor empty."""
    return path.is_file() and path.stat().st_size > 0 and path.suffix.lower() not in BINARY_SUFFIXES \
        and not _table_format(path) and not _compression(path) and not _looks_binary(path, encoding)


def _label_names(files: list[Path]) -> list[str]:
    """A label for each file of a file-per-label folder: the names without their suffix, else the suffixes where
    the names are alike (``rt-polarity.pos``, ``rt-polarity.neg``), else the whole names."""
    for names in ([p.stem for p in files], [p.suffix.lstrip(".") for p in files], [p.name for p in files]):
        if all(names) and len(set(names)) == len(names):
            return names
    return [p.name for p in files]


def _lines_at_least(path: Path, n: int, encoding: str) -> bool:
    """Whether a file has ``n`` non-blank lines (read only as far as that)."""
    try:
        with path.open(encoding=text_encoding(encoding), errors="replace") as fh:
            count = 0
            for line in fh:
                count += bool(line.strip())
                if count >= n:
                    return True
    except OSError:
        return False
    return False


def _labels_in(folder: Path, encoding: str, files_too: bool = True) -> Found | None:
    """The labels of one folder: its subfolders of text files (two or more), else (``files_too``) its text files
    (two or more, each of two lines or more, none named as a split, a readme or the like, nor in fastText's format);
    None where it has neither."""
    entries = _visible(folder)
    labels: dict[str, tuple[list[Path], str]] = {}
    unlabelled, dropped = [], []
    for sub in (p for p in entries if p.is_dir()):
        inside = sorted(f for f in sub.rglob("*") if f.is_file() and not any(
            part.startswith(".") for part in f.relative_to(sub).parts))
        files = [f for f in inside if _text_file(f, encoding) and not _aside(f)]
        if not files:
            continue
        kept = set(files)  # a set: IMDB's label folders hold 12,500 files each, and a list's `in` is quadratic
        dropped += [f for f in inside if f not in kept]
        if sub.name.lower() in UNLABELLED:
            unlabelled.append(sub)
        else:
            labels[sub.name] = (files, "line" if len(files) == 1 else "file")
    if len(labels) >= 2:
        used = set(labels) | {p.name for p in unlabelled}
        return Found(labels, True, [p.name for p in entries if p.name not in used], unlabelled, dropped)
    if not files_too:
        return None
    files = [p for p in entries if p.is_file() and _text_file(p, encoding) and not _aside(p)]
    if len(files) < 2 or any(split_of(p) or is_prefixed(p, encoding) for p in files):  # splits, or fastText's
        return None
    if not all(_lines_at_least(p, 2, encoding) for p in files):  # a folder of one text a file: no labels in it
        return None
    names, kept = _label_names(files), set(files)
    return Found({name: ([p], "line") for name, p in zip(names, files)}, False,
                 [p.name for p in entries if p not in kept])


def _labelled_table(paths: list[Path], encoding: str) -> bool:
    """Whether one of these tables has a text and a label column by name: a classifier's table, which is read as
    such, where a metadata.json beside label folders is not."""
    for path in paths:
        try:
            columns = table_columns(path, _table_format(path) or "csv", encoding)
        except UserError:
            continue
        if first_named(columns, TEXT_COLUMNS) and first_named(columns, LABEL_COLUMNS):
            return True
    return False


def find_layout(path: Path, encoding: str, classify: bool = True) -> Layout | None:
    """The label layout of a folder: split folders (a train one among them) of labels, else labels at its top;
    None where it has neither. ``classify``: a classifier's table at the top is read as a table where it is the
    train split, and refused beside label folders where it is not (test.csv would take train's place); a language
    model weighs the layout against what else is there itself, and reads label folders only (a folder of books is
    no file-per-label layout to it, so their files are not opened here)."""
    entries = _visible(path)
    tables = [p for p in entries if p.is_file() and _table_format(p)]
    labelled = classify and bool(tables) and _labelled_table(tables, encoding)
    splits: dict[str, Path] = {}
    for sub in (p for p in entries if p.is_dir()):
        name = split_of(sub)
        if name and name not in splits:
            splits[name] = sub
    layout = None
    if "train" in splits and (train := _labels_in(splits["train"], encoding, classify)):
        found = {"train": train}
        for s in SPLITS[1:]:
            if s not in splits:
                continue
            if part := _labels_in(splits[s], encoding):  # label files here make a mixed layout
                found[s] = part
            elif classify and _labelled_table([p for p in _visible(splits[s]) if _table_format(p)], encoding):
                raise _mixed(path, f"{splits['train'].name}/ holds label folders, and {splits[s].name}/ a table")
        left = [f"{splits[s].name}/{name}" for s, part in found.items() for name in part.left_out]
        left += [p.name for p in entries if p not in (splits[s] for s in found)]
        layout = Layout(dict(found), left)
    elif (top := _labels_in(path, encoding, classify)) is not None:
        layout = Layout({None: top}, top.left_out)
    if labelled and layout is not None:
        if any(split_of(p) == "train" for p in tables):
            return None  # train.csv: the tables are the corpus, and the folders are named as left out
        raise _mixed(path, f"it holds label {'folders' if layout.folders else 'files'} and a table of labelled texts "
                           f"({', '.join(p.name for p in tables[:3])}) that is no train split")
    return None if labelled else layout


def _mixed(path: Path, what: str) -> UserError:
    return UserError(f"{path} mixes two kinds of labelled texts: {what}",
                     "give one kind per corpus: put the table's texts in label folders, or all of them in tables "
                     "(train.csv, test.csv)")


def _refuse_columns(text_column: str | None, label_column: str | None, why: str) -> None:
    """Column flags name a table's columns: with labels in folder names, file names or words, they are refused."""
    for flag, value in (("--text-column", text_column), ("--label-column", label_column)):
        if value is not None:
            raise MissingColumn(f"{flag} is for tables, and {why}", "drop it", exit_code=2)


def _held_out(splits: dict[str, LabelSplit], fractions: tuple[float, float], split_seed: int) -> tuple[str, ...]:
    """Hold the splits that ``splits`` lacks out of its train split, seeded and stratified as a table's are, and
    give each split left empty an empty one; the splits held out."""
    missing = {s: f for s, f in zip(SPLITS[1:], fractions) if s not in splits}
    base = splits["train"]
    if missing:
        labels = base.labels()
        picks = stratified_picks(labels, missing, split_seed)
        for s in ("train", *missing):
            splits[s] = LabelSplit(base.items, base.encoding, base.report, picks[s], of_rows=len(labels))
    for s in SPLITS:
        splits.setdefault(s, LabelSplit([], base.encoding, base.report))
    return tuple(missing)


def _names(paths: list[Any], most: int = 5) -> str:
    shown = ", ".join(str(p) for p in paths[:most])
    return shown + (f" and {len(paths) - most:,} more" if len(paths) > most else "")


def open_layout(path: Path, layout: Layout, encoding: str, text_column: str | None, label_column: str | None,
                fractions: tuple[float, float], split_seed: int) -> Any:
    """A classifier's corpus of a label layout: its split folders, with the splits they lack held out of train."""
    from lstmtext.corpus import Corpus

    _refuse_columns(text_column, label_column, f"{path} is labelled by its "
                    f"{'folder' if layout.folders else 'file'} names")
    report = ReadReport()
    name = path.name or path.resolve().name  # '.' has no name of its own
    # UTF-16 files (their byte-order marks say so) are read as such, as a corpus's other files are (corpus.py)
    marked = marked_encoding([p for found in layout.splits.values() for files, _ in found.labels.values()
                              for p in files], encoding, name)
    encoding = marked[0] if marked else encoding
    splits: dict[str, LabelSplit] = {}
    for s, found in layout.splits.items():
        items = [(p, label, unit) for label in sorted(found.labels) for p in found.labels[label][0]
                 for unit in (found.labels[label][1],)]
        splits[s or "train"] = LabelSplit(items, encoding, report)
    files = [p for split in splits.values() for p, _, _ in split.items]
    notes = [marked[1]] if marked else []
    notes += [note for p in files if (note := _check_encoding(p, encoding))][:3]
    notes += [note] if (note := misread_note(files, encoding)) else []
    carved = _held_out(splits, fractions, split_seed)
    root = path.resolve()
    if layout.left_out:
        notes.append(f"{path} has entries this corpus leaves out (beside its label "
                     f"{'folders' if layout.folders else 'files'}): {_names(layout.left_out)}")
    if layout.dropped():
        notes.append(f"{path}'s label folders hold files that are not read as texts (binary, empty, tables, or a "
                     f"readme and the like): {_names([p.resolve().relative_to(root) for p in layout.dropped()])}")
    for folder in layout.unlabelled():
        notes.append(f"{folder} is left out: its name says its texts have no label (move it aside, or rename it if "
                     "it is a class)")
    for s, found in layout.splits.items():
        mixed = {unit for _, unit in found.labels.values()}
        if len(mixed) > 1:
            one = [label for label, (_, unit) in found.labels.items() if unit == "line"]
            notes.append(f"{f'the {s} split of ' if s else ''}{path} has label folders of one file ({_names(one)}), "
                         "read a line a text, beside folders of many files, read a file a text: give each label "
                         "folder its texts the same way")
    names = [p.resolve().relative_to(root).as_posix() for p in files]
    return Corpus(name, "labelled", splits, files, report, origin=name, own_splits=None not in layout.splits,
                  carved=carved, warnings=notes, file_names=names, layout=layout.describe(),
                  encoding=marked[0] if marked else None)


def open_prefixed(name: str, by_split: dict[str | None, list[Path]], encoding: str, text_column: str | None,
                  label_column: str | None, fractions: tuple[float, float], split_seed: int) -> Any:
    """The corpus of text files in fastText's format, a line each text, with its label in a __label__ word. A line
    with several labels is read as its first (a classifier here gives one label a text), with a note."""
    from lstmtext.corpus import Corpus

    _refuse_columns(text_column, label_column, f"{name} names its labels in {PREFIX}X words")
    report = ReadReport()
    files = [p for ps in by_split.values() for p in ps]
    notes = [note for p in files if (note := _check_encoding(p, encoding))]
    notes += [note] if (note := misread_note(files, encoding)) else []
    for s, paths in by_split.items():
        count, path, line = LabelSplit([(p, "", "prefixed") for p in paths], encoding, report).several_labels()
        if count:
            notes.append(f"{count:,} line{'s' * (count > 1)} of {f'the {s} split' if s else name} "
                         f"name{'s' * (count == 1)} more than one label, the first at {path} line {line}: a "
                         "classifier gives a text one label, so each is read as its first")
    splits = {s or "train": LabelSplit([(p, "", "prefixed") for p in ps], encoding, report)
              for s, ps in by_split.items()}
    carved = _held_out(splits, fractions, split_seed)
    return Corpus(name, "labelled", splits, files, report, origin=name, own_splits=None not in by_split,
                  carved=carved, warnings=notes, layout=f"fastText lines: {PREFIX}LABEL words and the text")


def not_labelled(path: Path, inner: Path | None = None) -> UserError:
    """The error for plain text given to a classifier, with the layouts it reads (``inner``: a subfolder that
    holds one)."""
    if inner is not None:
        return UserError(f"{path} holds no labelled texts at its top, but its subfolder {inner.name} does",
                         f"point at {inner}")
    return UserError(f"{path} is plain text with no labels, and a classifier needs labelled texts",
                     "give a CSV, TSV, JSON(L) or parquet table with text and label columns, a folder holding one "
                     "folder of texts per label (pos/, neg/), one file per label (pos.txt, neg.txt), or lines with "
                     "their label in fastText's way (__label__pos the text)")
