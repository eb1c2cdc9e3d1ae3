"""Corpora from Hugging Face `datasets`: folders saved with `save_to_disk`, and hub ids.

`datasets` is imported here only, and only when such a corpus is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstmtext.corpus import (LABEL_COLUMNS, SPLITS, TEXT_COLUMNS, Corpus, ReadReport, SPLIT_WORDS, pick_column,
                             stratified_picks)
from lstmtext.errors import UserError


@dataclass
class HFSplit:
    """A split backed by a `datasets.Dataset` (Arrow, memory-mapped by `datasets` itself)."""

    dataset: Any
    text_column: str
    label_column: str | None
    rows: tuple[int, int] | None = None
    report: ReadReport = field(default_factory=ReadReport)
    indices: list[int] | None = None  # an explicit sorted list of rows (stratified hold-out)

    def records(self) -> Iterator[tuple[str, Any, str, int]]:
        ds = self.dataset if self.rows is None else self.dataset.select(range(*self.rows))
        if self.indices is not None:
            ds = ds.select(self.indices)
        cols = [self.text_column] + ([self.label_column] if self.label_column else [])
        row = 0
        feature = ds.features.get(self.label_column) if self.label_column else None
        names = getattr(feature, "names", None)
        for batch in ds.select_columns(cols).iter(batch_size=1024):
            labels = batch.get(self.label_column) if self.label_column else None
            if labels is not None and names:
                labels = [names[v] if isinstance(v, int) and 0 <= v < len(names) else v for v in labels]
            for i, text in enumerate(batch[self.text_column]):
                row += 1
                yield ("" if text is None else str(text)), (labels[i] if labels else None), "dataset", row

    def texts(self) -> Iterator[str]:
        for text, _, _, _ in self.records():
            yield text.replace("\n", " ") + "\n"

    def num_bytes(self) -> int:
        return 0


def _from_datasets(name: str, obj: Any, text_column: str | None, label_column: str | None,
                   fractions: tuple[float, float], split_seed: int, want_labels: bool, files: list[Path]) -> Corpus:
    import datasets

    parts = dict(obj) if isinstance(obj, datasets.DatasetDict) else {"train": obj}
    named = {}
    for key, ds in parts.items():
        split = SPLIT_WORDS.get(key.lower())
        if split and split not in named:
            named[split] = ds
    if "train" not in named:
        raise UserError(f"{name} has no train split (splits found: {', '.join(parts)})",
                        "save the dataset with a 'train' split")
    columns = list(named["train"].column_names)
    text_col = pick_column(columns, text_column, TEXT_COLUMNS, "text", name)
    label_col = pick_column(columns, label_column, LABEL_COLUMNS, "label", name) if want_labels else None
    splits: dict[str, Any] = {s: HFSplit(ds, text_col, label_col) for s, ds in named.items()}
    train = named["train"]
    missing = {s: f for s, f in (("valid", fractions[0]), ("test", fractions[1])) if s not in splits}
    if missing and label_col is not None:  # classification: a seeded hold-out that keeps label shares
        labels = [str(label) for _, label, _, _ in HFSplit(train, text_col, label_col).records()]
        picks = stratified_picks(labels, missing, split_seed)
        for s in missing:
            splits[s] = HFSplit(train, text_col, label_col, indices=picks[s])
        splits["train"] = HFSplit(train, text_col, label_col, indices=picks["train"])
    elif missing:  # language modelling: the tail of train, so running text stays in order
        n = end = len(train)
        for s in ("test", "valid"):
            if s in missing:
                k = max(int(round(n * missing[s])), 1 if missing[s] > 0 else 0)
                splits[s] = HFSplit(train, text_col, label_col, (end - k, end))
                end -= k
        splits["train"] = HFSplit(train, text_col, label_col, (0, end))
    return Corpus(name, "hf", {s: splits[s] for s in SPLITS}, files, ReadReport(), origin=name,
                  text_column=text_col, label_column=label_col,
                  own_splits=isinstance(obj, datasets.DatasetDict), carved=tuple(missing))


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

    if os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1":
        raise UserError(f"could not load {spec!r}: not a local path, and the Hugging Face hub is switched off "
                        "(HF_HUB_OFFLINE)", "check the path, or unset HF_HUB_OFFLINE")
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
