"""A classifier's texts in plain text files whose folder or file name is their label, as many corpora come:

- one folder per label (``pos/``, ``neg/``): each file one text, as the IMDB reviews are; where every label folder
  holds a single file, each line of it is one text;
- one file per label (``pos.txt``, ``neg.txt``, or ``rt-polarity.pos`` and ``rt-polarity.neg``): each line one text.

Either may sit in split folders (``train/``, ``test/``, ``dev/``); a split without one is held out of train, seeded
and stratified, as a table's is. A folder named for unlabelled texts (``unsup``, as IMDB's train has) is left out,
with a note. Nothing here tokenizes: the splits give (text, label, file, line) records, as a table's do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lstmtext.errors import MissingColumn, UserError
from lstmtext.splits import SPLITS, split_of, stratified_picks
from lstmtext.tables import ReadReport, _table_format
from lstmtext.textfiles import _check_encoding, _compression, _looks_binary, locate_decode_error, text_encoding

UNLABELLED = frozenset({"unsup", "unsupervised", "unlabeled", "unlabelled", "unlabelled_data", "unlabeled_data"})
ASIDE = ("readme", "license", "licence", "copying", "notice", "changelog")  # a corpus's papers, not a class


@dataclass
class LabelSplit:
    """One split of labelled text files: files and their labels, optionally a seeded pick of the records."""

    items: list[tuple[Path, str]]  # (file, label), in label then name order ("" where each line names its own)
    unit: str  # "file": each file one text; "line": each line one text; "prefixed": each line "__label__X text"
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
        """(text, label, file, line) of every record, the text unread (None) where each file is one."""
        for path, label in self.items:
            if self.unit == "file":
                yield None, label, str(path), 1
                continue
            for lineno, line in self._lines(path):
                if self.unit == "prefixed":
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
        for path, _ in self.items:
            for lineno, line in self._lines(path):
                if len(split_prefixed(line)[0]) > 1:
                    count += 1
                    first = first if count > 1 else (str(path), lineno)
        return count, *first

    def texts(self) -> Iterator[str]:
        for text, _, _, _ in self.records():
            yield text.replace("\r\n", "\n").replace("\n", " ") + "\n"

    def num_bytes(self) -> int:
        """The files' size, or a part's share of it: a progress bar's total, not an exact count."""
        size = sum(p.stat().st_size for p, _ in self.items)
        if not self.of_rows or self.indices is None:
            return size
        return size * len(self.indices) // self.of_rows


PREFIX = "__label__"


def split_prefixed(line: str) -> tuple[list[str], str]:
    """The labels and the text of a fastText line: "__label__pos __label__good the text" -> (["pos", "good"],
    "the text")."""
    words = line.split(" ")
    labels = []
    while words and (words[0].startswith(PREFIX) or not words[0]):
        if words[0]:
            labels.append(words[0][len(PREFIX):])
        words.pop(0)
    return labels, " ".join(words)


def is_prefixed(path: Path, encoding: str) -> bool:
    """Whether a text file is in fastText's format: its first non-blank line starts with __label__."""
    try:
        with path.open(encoding=text_encoding(encoding), errors="replace") as fh:
            for line in fh:
                if line.strip():
                    return line.lstrip().startswith(PREFIX)
    except OSError:
        return False
    return False


@dataclass
class Layout:
    """Where a folder's labelled texts are: per split (None for a folder without split folders), each label's
    files; each line a text or each file one; and what was left out, for the notes."""

    labels: dict[str | None, dict[str, list[Path]]]
    unit: str  # "line" or "file", as LabelSplit's
    folders: bool  # labels from folder names (else from file names)
    left_out: list[str]
    unlabelled: list[Path]

    def describe(self) -> str:
        names = sorted({label for by_label in self.labels.values() for label in by_label})
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        where = "one folder per label" if self.folders else "one file per label"
        return f"{where}: {shown}; each {self.unit} one text"


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _text_files(paths: list[Path], encoding: str) -> list[Path]:
    """The plain text files among ``paths``: not tables, binary or compressed files, or empty ones."""
    return [p for p in paths if p.is_file() and p.stat().st_size > 0 and not _table_format(p)
            and not _compression(p) and not _looks_binary(p, encoding)]


def _label_names(files: list[Path]) -> list[str]:
    """A label for each file of a file-per-label folder: the names without their suffix, else the suffixes where
    the names are alike (``rt-polarity.pos``, ``rt-polarity.neg``), else the whole names."""
    for names in ([p.stem for p in files], [p.suffix.lstrip(".") for p in files], [p.name for p in files]):
        if all(names) and len(set(names)) == len(names):
            return names
    return [p.name for p in files]


def _labels_in(folder: Path, encoding: str) -> tuple[dict[str, list[Path]], str, bool, list[str], list[Path]] | None:
    """The labels of one folder: its subfolders of text files (two or more), else its text files (two or more, not
    named as a split or a readme); with the unit of a text (a line or a file), whether the labels are folders,
    what is left out beside them, and the folders left out as unlabelled."""
    entries = _visible(folder)
    folders: dict[str, list[Path]] = {}
    unlabelled = []
    for sub in (p for p in entries if p.is_dir()):
        files = _text_files(sorted(f for f in sub.rglob("*") if not any(
            part.startswith(".") for part in f.relative_to(sub).parts)), encoding)
        if not files:
            continue
        if sub.name.lower() in UNLABELLED:
            unlabelled.append(sub)
        else:
            folders[sub.name] = files
    if len(folders) >= 2:
        unit = "line" if all(len(files) == 1 for files in folders.values()) else "file"
        used = set(folders) | {p.name for p in unlabelled}
        left = [p.name for p in entries if p.name not in used]
        return folders, unit, True, left, unlabelled
    files = [p for p in _text_files([p for p in entries if p.is_file()], encoding)
             if not p.name.lower().startswith(ASIDE) and p.suffix.lower() != ".md"]
    if len(files) < 2 or any(split_of(p) or is_prefixed(p, encoding) for p in files):  # splits, or fastText's
        return None
    names = _label_names(files)
    left = [p.name for p in entries if p not in files]
    return dict(zip(names, ([p] for p in files))), "line", False, left, []


def find_layout(path: Path, encoding: str) -> Layout | None:
    """The label layout of a folder: split folders (a train one among them) of labels, else labels at its top;
    None where it has neither (or has tables at its top, which a classifier reads as they are)."""
    entries = _visible(path)
    if any(p.is_file() and _table_format(p) for p in entries):
        return None
    splits = {}
    for sub in (p for p in entries if p.is_dir()):
        name = split_of(sub)
        if name and name not in splits:
            splits[name] = sub
    if "train" in splits and (train := _labels_in(splits["train"], encoding)):
        found = {"train": train}
        for s in SPLITS[1:]:
            if s in splits and (part := _labels_in(splits[s], encoding)):
                found[s] = part
        left = [f"{splits[s].name}/{name}" for s, part in found.items() for name in part[3]]
        left += [p.name for p in entries if p not in (splits[s] for s in found)]
        return Layout({s: part[0] for s, part in found.items()}, train[1], train[2], left,
                      [p for part in found.values() for p in part[4]])
    top = _labels_in(path, encoding)
    if top is None:
        return None
    return Layout({None: top[0]}, top[1], top[2], top[3], top[4])


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
            splits[s] = LabelSplit(base.items, base.unit, base.encoding, base.report, picks[s], of_rows=len(labels))
    for s in SPLITS:
        splits.setdefault(s, LabelSplit([], base.unit, base.encoding, base.report))
    return tuple(missing)


def open_layout(path: Path, layout: Layout, encoding: str, text_column: str | None, label_column: str | None,
                fractions: tuple[float, float], split_seed: int) -> Any:
    """The corpus of a label layout: its split folders, with the splits they lack held out of train."""
    from lstmtext.corpus import Corpus

    _refuse_columns(text_column, label_column, f"{path} is labelled by its "
                    f"{'folder' if layout.folders else 'file'} names")
    report = ReadReport()
    files = [p for by_label in layout.labels.values() for ps in by_label.values() for p in ps]
    notes = [note for p in files if (note := _check_encoding(p, encoding))][:3]

    def split(by_label: dict[str, list[Path]]) -> LabelSplit:
        return LabelSplit([(p, label) for label in sorted(by_label) for p in by_label[label]], layout.unit,
                          encoding, report)

    splits = {s or "train": split(by_label) for s, by_label in layout.labels.items()}
    carved = _held_out(splits, fractions, split_seed)
    if layout.left_out:
        shown = ", ".join(layout.left_out[:5]) + (f" and {len(layout.left_out) - 5} more"
                                                   if len(layout.left_out) > 5 else "")
        notes.append(f"{path} has entries this corpus leaves out (beside its label "
                     f"{'folders' if layout.folders else 'files'}): {shown}")
    for folder in layout.unlabelled:
        notes.append(f"{folder} is left out: its name says its texts have no label (move it aside, or rename it if "
                     "it is a class)")
    names = [p.relative_to(path).as_posix() for p in files]
    name = path.name or path.resolve().name  # '.' has no name of its own
    return Corpus(name, "labelled", splits, files, report, origin=name, own_splits=None not in layout.labels,
                  carved=carved, warnings=notes, file_names=names, layout=layout.describe())


def open_prefixed(name: str, by_split: dict[str | None, list[Path]], encoding: str, text_column: str | None,
                  label_column: str | None, fractions: tuple[float, float], split_seed: int) -> Any:
    """The corpus of text files in fastText's format, a line each text, led by its label: "__label__pos a text".
    A line with several labels is read as its first (a classifier here gives one label a text), with a note."""
    from lstmtext.corpus import Corpus

    _refuse_columns(text_column, label_column, f"{name} names its labels in {PREFIX}X words")
    report = ReadReport()
    files = [p for ps in by_split.values() for p in ps]
    notes = [note for p in files if (note := _check_encoding(p, encoding))]
    for s, paths in by_split.items():
        count, path, line = LabelSplit([(p, "") for p in paths], "prefixed", encoding, report).several_labels()
        if count:
            notes.append(f"{count:,} line{'s' * (count > 1)} of {f'the {s} split' if s else name} "
                         f"name{'s' * (count == 1)} more than one label, the first at {path} line {line}: a "
                         "classifier gives a text one label, so each is read as its first")
    splits = {s or "train": LabelSplit([(p, "") for p in ps], "prefixed", encoding, report)
              for s, ps in by_split.items()}
    carved = _held_out(splits, fractions, split_seed)
    return Corpus(name, "labelled", splits, files, report, origin=name, own_splits=None not in by_split,
                  carved=carved, warnings=notes, layout=f"fastText lines: {PREFIX}LABEL then the text")


def not_labelled(path: Path) -> UserError:
    """The error for plain text given to a classifier, with the layouts it reads."""
    return UserError(f"{path} is plain text with no labels, and a classifier needs labelled texts",
                     "give a CSV, TSV, JSON(L) or parquet table with text and label columns, a folder holding one "
                     "folder of texts per label (pos/, neg/), one file per label (pos.txt, neg.txt), or lines that "
                     "start with their label in fastText's way (__label__pos the text)")
