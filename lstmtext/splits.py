"""Which split each part of a corpus is: files named for a split (train, valid or dev, test), and the parts held
out of train where none is named: the tail of a text's bytes, cut at a line, the tail rows of a table, or a seeded
stratified draw of a classifier's rows that keeps each label's share."""

from __future__ import annotations

import re
from pathlib import Path

from lstmtext.errors import usage_error
from lstmtext.tables import ReadReport, TableSplit
from lstmtext.textfiles import _snap_to_line

SPLITS = ("train", "valid", "test")
SPLIT_WORDS = {"train": "train", "training": "train", "valid": "valid", "validation": "valid",
                "dev": "valid", "val": "valid", "eval": "valid", "test": "test", "testing": "test"}


def split_of(path: Path) -> str | None:
    words = re.split(r"[._\-]", path.name.lower())
    hits = {SPLIT_WORDS[w] for w in words if w in SPLIT_WORDS}
    return hits.pop() if len(hits) == 1 else None


def check_fractions(valid_fraction: float, test_fraction: float) -> tuple[float, float]:
    for flag, value in (("--valid-fraction", valid_fraction), ("--test-fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise usage_error(f"{flag} must be in [0, 1), got {value}", "a share of the text, such as 0.05; 0 holds "
                              "none out")
    if valid_fraction + test_fraction >= 0.9:
        raise usage_error("--valid-fraction plus --test-fraction leaves too little to train on",
                          "keep their sum under 0.9")
    return valid_fraction, test_fraction


def carved_splits(by_split: dict[str | None, list[Path]]) -> tuple[str, ...]:
    """The held-out splits that no file of the source provides, so they are cut from train."""
    return tuple(s for s in SPLITS[1:] if s not in by_split)


def cut_files(files: list[Path], fractions: tuple[float, float], utf8: bool = False
               ) -> dict[str, list[tuple[Path, int, int]]]:
    """Hold out the tail of a concatenation of files: [train | valid | test], cut at line starts."""
    sizes = [p.stat().st_size for p in files]
    total = sum(sizes)
    valid_f, test_f = fractions
    marks = [int(total * (1 - valid_f - test_f)), int(total * (1 - test_f))]
    cuts: list[tuple[int, int]] = []  # (file index, offset) per mark
    # valid starts at the first line start after its mark unless that lies past test's mark (a short text of long
    # paragraphs, where both snapped to one line start and valid was empty): then at a word start
    reaches = [max(1, marks[1] - marks[0]), 1 << 20]
    for mark, reach in zip(marks, reaches):
        acc = 0
        for i, size in enumerate(sizes):
            if mark < acc + size or i == len(sizes) - 1:
                cuts.append((i, _snap_to_line(files[i], min(mark - acc, size), reach=reach, utf8=utf8)))
                break
            acc += size
    if valid_f == 0 or cuts[0] > cuts[1]:  # no valid split held out: none, not a piece of a line before test's cut
        cuts[0] = cuts[1]
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
                            (end - k, end), of_rows=n)
        end -= k
    out["train"] = TableSplit(base.files, base.text_column, base.encoding, base.report, base.label_column, (0, end),
                              of_rows=n)
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
    labels = [str(label) for _, label, _, _ in probe.records()]
    picks = stratified_picks(labels, fractions, seed)
    out = {}
    for s in SPLITS:
        if s == "train" or fractions.get(s):
            out[s] = TableSplit(base.files, base.text_column, base.encoding, base.report, base.label_column,
                                base.rows, np.asarray(picks[s], dtype=np.int64), of_rows=len(labels))
    return out
