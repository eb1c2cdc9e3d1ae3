"""The classifier runs that classify and evaluate read (one, or several averaged with --ensemble): checked before
torch loads, loaded, and their mean class probabilities on texts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lstmtext.cli.notes import note_weights
from lstmtext.errors import usage_error

Ensemble = Annotated[Optional[list[Path]], typer.Option(
    "--ensemble", metavar="RUN", help="Another classifier run (repeatable): the label is the argmax of the runs' "
    "mean class probabilities. The runs must share their labels; each reads the text with its own tokenizer.")]


def _classifier_runs(checkpoint: Path, ensemble: list[Path] | None) -> list[Path]:
    """The classifier run folders to use, each checked before torch is imported."""
    from lstmtext.checkpoint import check_run

    runs = [checkpoint, *(ensemble or [])]
    seen: set[Path] = set()
    labels: list[str] = []
    for k, run in enumerate(runs):
        member = ("--ensemble", "ensemble classifier runs trained on the same labels") if k else ("", "")
        config = check_run(run, "classify", *member)
        other = sorted(config.get("labels") or [])
        if run.resolve() in seen:
            raise usage_error(f"{run} is given twice", "list each run once")
        seen.add(run.resolve())
        labels = labels or other
        if other != labels:
            raise usage_error(f"{run} labels {', '.join(other)}, but {checkpoint} labels {', '.join(labels)}",
                            "ensemble classifiers trained on the same labels")
    return runs


def _load_classifiers(runs: list[Path], dev: Any, weights: str = "best") -> list[Any]:
    from lstmtext.checkpoint import load_checkpoint

    ckpts = [load_checkpoint(run, str(dev), weights=weights, task="classify") for run in runs]
    for ckpt in ckpts:
        note_weights(ckpt, weights)
    return ckpts


def _max_length(ckpt: Any) -> int:
    return int(ckpt.config["train"].get("max_length", 256))


def _in_label_order(probs: Any, ckpt: Any, labels: list[str]) -> Any:
    """A run's probability columns reordered to `labels` (runs of an ensemble may list them differently)."""
    own = ckpt.config["labels"]
    return probs[:, [own.index(name) for name in labels]]


def _ensemble_proba(ckpts: list[Any], texts: list[str], batch_size: int, dev: Any, what: str,
                    members: list[Any] | None = None, done: Callable[[int], None] | None = None
                    ) -> tuple[Any, list[int], set[int], set[int]]:
    """Mean class probabilities of the runs (in the first run's label order) for the texts every run reads as at
    least one token: (probabilities, indexes of those texts, the indexes of those some run truncated, and of those
    in which some run knows no token: ``_unknown_only``)."""
    from lstmtext.labels import one_line

    encoded = [[c.tokenizer.encode(one_line(t)) if t.strip() else [] for t in texts] for c in ckpts]
    keep = [i for i in range(len(texts)) if all(len(ids[i]) for ids in encoded)]
    truncated = {i for i in keep if any(len(ids[i]) > _max_length(c) for c, ids in zip(ckpts, encoded))}
    blanks: list[dict[int, bool]] = [{} for _ in ckpts]
    unknown = {i for i in keep if any(_unknown_only(c.tokenizer, ids[i], blank)
                                      for c, ids, blank in zip(ckpts, encoded, blanks))}
    if not keep:
        return None, keep, truncated, unknown
    seqs = [[ids[i][:_max_length(c)] for i in keep] for c, ids in zip(ckpts, encoded)]
    return _mean_proba(ckpts, seqs, batch_size, dev, what, members, done), keep, truncated, unknown


def _unknown_only(tokenizer: Any, ids: Any, blank: dict[int, bool]) -> bool:
    """Whether every token of a text is <unk> but for blanks (a space; SentencePiece's word start), so that the run
    has seen none of it and its label is a guess. ``blank`` caches which ids decode to whitespace alone."""
    import numpy as np

    from lstmtext.tokenizers import UNK

    known = np.asarray(ids)
    known = known[known != UNK]
    if len(known) == len(ids):  # no <unk> at all: the common case, decided without a Python loop
        return False
    for i in set(known.tolist()):
        if i not in blank:
            blank[i] = not tokenizer.decode([i]).strip()
        if not blank[i]:
            return False
    return True


def _mean_proba(ckpts: list[Any], seqs: list[list[Any]], batch_size: int, dev: Any, what: str,
                members: list[Any] | None = None, done: Callable[[int], None] | None = None) -> Any:
    """The runs' mean class probabilities, in the first run's label order; seqs[k] is run k's token ids. A bar
    named ``what`` counts the texts each run has read (or ``done``, a bar of the caller's that spans several
    calls); ``members`` gets each run's own probabilities."""
    from contextlib import nullcontext

    from lstmtext.models import predict_proba
    from lstmtext.render import counting

    labels = ckpts[0].config["labels"]
    with counting(what, sum(map(len, seqs)), "texts") if done is None else nullcontext(done) as tick:
        each = [_in_label_order(predict_proba(c.model, s, batch_size, dev, done=tick), c, labels)
                for c, s in zip(ckpts, seqs)]
    if members is not None:
        members.extend(each)
    return sum(each) / len(ckpts)
