"""Corpora from Hugging Face `datasets`: folders saved with `save_to_disk`, and hub ids.

`datasets` is imported here only, and only when such a corpus is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstmtext.corpus import Corpus
from lstmtext.errors import UserError
from lstmtext.splits import SPLIT_WORDS, SPLITS, stratified_picks
from lstmtext.tables import (LABEL_COLUMNS, TEXT_COLUMNS, ReadReport, container_kind, missing_label, pick_column,
                             refuse_one_column)


@dataclass
class HFSplit:
    """A split backed by a `datasets.Dataset` (Arrow, memory-mapped by `datasets` itself)."""

    dataset: Any
    text_column: str
    label_column: str | None
    rows: tuple[int, int] | None = None
    report: ReadReport = field(default_factory=ReadReport)  # the corpus's, so that skipped rows are reported
    indices: list[int] | None = None  # an explicit sorted list of rows (stratified hold-out)
    name: str = "dataset"  # the split's own name, where skipped rows are reported

    def records(self) -> Iterator[tuple[str, Any, str, int]]:
        ds = self.dataset if self.rows is None else self.dataset.select(range(*self.rows))
        if self.indices is not None:
            ds = ds.select(self.indices)
        cols = [self.text_column] + ([self.label_column] if self.label_column else [])
        seen = 0
        names = _label_names(ds, self.label_column)
        for batch in ds.select_columns(cols).iter(batch_size=1024):
            labels = batch.get(self.label_column) if self.label_column else None
            if labels is not None and names:  # ClassLabel ids as their names; -1, the usual "no label", as none
                labels = [(names[v] if 0 <= v < len(names) else None) if isinstance(v, int) else v for v in labels]
            for i, text in enumerate(batch[self.text_column]):
                # the row's number in its split (1-based), where a hold-out picked it from
                row = (self.indices[seen] if self.indices is not None else seen) + \
                    (self.rows[0] if self.rows else 0) + 1
                seen += 1
                label = labels[i] if labels else None
                for column, value in ((self.text_column, text), (self.label_column, label)):
                    if kind := container_kind(value):
                        raise UserError(f"{self.name} row {row}: the {column!r} column holds {kind}, not one value",
                                        "pass --text-column/--label-column naming columns of plain texts and labels")
                yield ("" if text is None else str(text)), label, self.name, row

    def texts(self) -> Iterator[str]:
        for text, label, _, _ in self.records():
            if self.label_column and missing_label(label):  # as a table's
                continue
            yield text.replace("\n", " ") + "\n"

    def num_bytes(self) -> int:
        return 0


def _label_names(ds: Any, column: str | None) -> list[str] | None:
    """The names of a ClassLabel column's ids, else None."""
    return getattr(ds.features.get(column), "names", None) if column else None


def _from_datasets(name: str, obj: Any, text_column: str | None, label_column: str | None,
                   fractions: tuple[float, float], split_seed: int, want_labels: bool, files: list[Path]) -> Corpus:
    import datasets

    parts = dict(obj) if isinstance(obj, datasets.DatasetDict) else {"train": obj}
    named, keys, notes = {}, {}, []
    for key, ds in parts.items():
        split = SPLIT_WORDS.get(key.lower())
        if split and split not in named:
            named[split], keys[split] = ds, key
    if "train" not in named:
        raise UserError(f"{name} has no train split (splits found: {', '.join(parts)})",
                        "save the dataset with a 'train' split")
    left = [key for key in parts if key not in keys.values()]
    if left:
        notes.append(f"{name} has splits this corpus leaves out (not named train, validation or test): "
                     f"{', '.join(left)}")
    columns = list(named["train"].column_names)
    text_col = pick_column(columns, text_column, TEXT_COLUMNS, "text", name)
    label_col = pick_column(columns, label_column, LABEL_COLUMNS, "label", name) if want_labels else None
    refuse_one_column(text_col, label_col, name)
    for split in ("valid", "test"):  # a held-out split without the train split's columns or labels is left out
        if split not in named:
            continue
        ds = named[split]
        lacking = [c for c in (text_col, label_col) if c and c not in ds.column_names]
        unlabelled = not lacking and label_col is not None and _label_names(ds, label_col) is not None and \
            set(ds.unique(label_col)) <= {-1, None}
        if lacking or unlabelled:
            why = f"has no {lacking[0]!r} column" if lacking else "has no labels (all -1)"
            notes.append(f"the {keys[split]} split of {name} {why}: left out, and the {split} split is held out "
                         f"of train instead (--{split}-fraction)")
            del named[split]
    report = ReadReport()
    splits: dict[str, Any] = {s: HFSplit(ds, text_col, label_col, report=report, name=keys[s])
                              for s, ds in named.items()}
    train = named["train"]
    missing = {s: f for s, f in (("valid", fractions[0]), ("test", fractions[1])) if s not in splits}
    if missing and label_col is not None:  # classification: a seeded hold-out that keeps label shares
        labels = [str(label) for _, label, _, _ in HFSplit(train, text_col, label_col, name=keys["train"]).records()]
        picks = stratified_picks(labels, missing, split_seed)
        for s in missing:
            splits[s] = HFSplit(train, text_col, label_col, indices=picks[s], report=report, name=keys["train"])
        splits["train"] = HFSplit(train, text_col, label_col, indices=picks["train"], report=report,
                                  name=keys["train"])
    elif missing:  # language modelling: the tail of train, so running text stays in order
        n = end = len(train)
        for s in ("test", "valid"):
            if s in missing:
                # as a table's tail: one row at least, of three or more, and train keeps one
                k = min(max(int(round(n * missing[s])), 1 if missing[s] > 0 and n >= 3 else 0), max(end - 1, 0))
                splits[s] = HFSplit(train, text_col, label_col, (end - k, end), report=report, name=keys["train"])
                end -= k
        splits["train"] = HFSplit(train, text_col, label_col, (0, end), report=report, name=keys["train"])
    return Corpus(name, "hf", {s: splits[s] for s in SPLITS}, files, report, origin=name,
                  text_column=text_col, label_column=label_col,
                  own_splits=isinstance(obj, datasets.DatasetDict), carved=tuple(missing), warnings=notes)


def open_saved(path: Path, text_column: str | None, label_column: str | None, fractions: tuple[float, float],
               split_seed: int, want_labels: bool) -> Corpus:
    import datasets

    try:
        obj = datasets.load_from_disk(str(path))
    except Exception as err:  # datasets raises FileNotFoundError, ValueError and its own types
        raise UserError(f"{path} is not a readable saved dataset ({err})") from None
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return _from_datasets(path.name, obj, text_column, label_column, fractions, split_seed, want_labels, files)


def _check_hub_reachable(spec: str) -> None:
    """Fail at once when the hub's host does not even resolve (offline), instead of after retries."""
    import os
    import socket
    from urllib.parse import urlparse

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):  # as huggingface_hub reads them: 1, true, yes, on
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            raise UserError(f"could not load {spec!r}: not a local path, and the Hugging Face hub is switched off "
                            f"({var})", f"check the path, or unset {var}")
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        raise UserError(f"could not load {spec!r}: not a local path, and the Hugging Face hub ({host}) is not "
                        "reachable from here (offline?)", "check the path, or the network") from None


def open_hub(spec: str, text_column: str | None, label_column: str | None, fractions: tuple[float, float],
             split_seed: int, want_labels: bool, loader: Callable[[str], Any] | None = None) -> Corpus:
    if loader is None:
        _check_hub_reachable(spec)
        import datasets

        datasets.logging.set_verbosity_error()  # our one-line message replaces its retry chatter
        loader = datasets.load_dataset
    try:
        obj = loader(spec)
    except Exception as err:  # offline, unknown id, gated dataset: all surface as exceptions of many types
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"could not load {spec!r}: not a local path, and the Hugging Face hub did not serve it "
                        f"({reason[:160]})", "check the path, or the network if you meant a hub dataset") from None
    return _from_datasets(spec, obj, text_column, label_column, fractions, split_seed, want_labels, [])
