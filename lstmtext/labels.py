"""A classifier's labels and texts as they are encoded: a field read as a label name, the train split's
labels in order, warnings for labels that are likely one class written two ways, and a text as one line."""

from __future__ import annotations

import re
from typing import Any

from lstmtext.corpus import Corpus
from lstmtext.errors import UserError
from lstmtext.tables import in_file_order, missing_label, place


def one_line(text: str) -> str:
    """A classifier's text as it is encoded, in training and at inference alike: line breaks become spaces, the
    ends are stripped, and other whitespace is kept (a character-level model reads it)."""
    return text.replace("\r\n", " ").replace("\n", " ").strip()


def label_name(value: Any) -> str | None:
    """A label as text; None for missing values (empty, NaN, None)."""
    if missing_label(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if _WHOLE_NUMBER.fullmatch(text):  # '1.0' in a CSV is the 1 of another row, as a JSON or parquet 1.0 is
        text = text.split(".")[0]
    return text or None


_WHOLE_NUMBER = re.compile(r"-?\d+\.0+")


def _label_order(names: set[str]) -> list[str]:
    try:
        return sorted(names, key=lambda n: (float(n), n))  # '01' and '1' in one order, whatever the set's
    except ValueError:
        return sorted(names)


def collect_labels(corpus: Corpus) -> list[str]:
    """The label names of the train split, numerically sorted when they are numbers."""
    names = set()
    for _, label, _, _ in corpus.splits["train"].records():
        name = label_name(label)
        if name is not None:
            names.add(name)
    if len(names) < 2:
        what = f"only one class, {next(iter(names))!r}," if names else "no labels"
        where = f" in column {corpus.label_column!r}" if corpus.label_column else ""
        skipped = corpus.report.skipped
        first = in_file_order(skipped)[0] if skipped else None
        unread = (f" ({len(skipped):,} record{'s were' if len(skipped) > 1 else ' was'} skipped, the first at "
                  f"{place(first[0], first[1])}: {first[2]})") if first else ""
        raise UserError(f"the train split of {corpus.name} has {what}{where}{unread}",
                        "a classifier needs at least two labels" + (": fix the skipped records, or add texts of "
                                                                     "another label" if first else ""))
    return _label_order(names)


def short_list(names: list[str], most: int = 10) -> str:
    """The first ``most`` names, and how many more ("a, b, c and 57 more")."""
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most:,} more" if len(names) > most else "")


def label_warnings(labels: list[str]) -> list[str]:
    """Labels that differ only in case, inner spacing or how their characters are written ('Positive',
    'positive'; 'négatif' composed and decomposed; 'pos' with a zero-width space): likely one class written two
    ways, which the classifier would learn as two."""
    import unicodedata

    from lstmtext.render import visible_repr

    groups: dict[str, list[str]] = {}
    for name in labels:
        seen = "".join(c for c in unicodedata.normalize("NFKC", name) if unicodedata.category(c) != "Cf")
        groups.setdefault(" ".join(seen.casefold().split()), []).append(name)
    numbers: dict[int, list[str]] = {}
    for name in labels:
        if re.fullmatch(r"[-+]?\d+", name, re.ASCII):  # digits: '01' and '1', '+1' and '1'
            numbers.setdefault(int(name), []).append(name)
    return [f"labels {', '.join(visible_repr(n) for n in names)} differ only in case, spacing or how their "
            "characters are written; they are separate classes (fix the corpus if they are one)"
            for names in groups.values() if len(names) > 1] + \
        [f"labels {', '.join(names)} are the same number written two ways; they are separate classes (fix the "
         "corpus if they are one)" for names in numbers.values() if len(names) > 1]
