"""Knowledge distillation (Hinton et al., 2015): a classifier that learns from other runs' predictions too.

``--distill-from RUN`` (repeatable) names classifier runs, the teachers. Before training, each labels every
training text once; the mean of their class probabilities at ``--distill-temperature`` T is written to the run
folder (``teachers.safetensors``), so a resumed run learns from the same targets without the teachers. The
step's loss is then (1 - A) x the cross-entropy with the labels + A x T^2 x KL(teachers at T || model at T),
A being ``--distill-weight`` (``tasks.classify_loss``): what an ensemble knows, in one model at one model's
cost. The teachers must read the text as the new run does (the same tokenizer) and know its labels.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lstmtext.checkpoint import TEACHER_TARGETS
from lstmtext.errors import UserError, usage_error


def describe(train: dict[str, Any]) -> str:
    """'RUN, RUN2 (weight 0.5, temperature 2)': a run's teachers, from its saved training settings."""
    return (f"{', '.join(train['distill_from'])} (weight {train['distill_weight']:g}, temperature "
            f"{train['distill_temperature']:g})")


def check_teacher_runs(runs: list[Path]) -> list[dict[str, Any]]:
    """The teachers' settings, each a classifier run given once (before torch is imported)."""
    from lstmtext.checkpoint import check_run

    seen: set[Path] = set()
    configs = []
    for run in runs:
        configs.append(check_run(run, "classify", "--distill-from",
                                 "distil from classifier runs trained on the same labels"))
        if run.resolve() in seen:
            raise usage_error(f"--distill-from {run} is given twice", "list each teacher once")
        seen.add(run.resolve())
    return configs


def check_teachers_fit(runs: list[Path], configs: list[dict[str, Any]], labels: list[str], tokenizer: Any,
                       where: str, extend_vocab: bool = False) -> None:
    """Refuse teachers that cannot label the prepared training texts (``where``): other labels, or another
    tokenizer, whose token ids would mean other words (``extend_vocab``: this run grows its --init-from model's
    vocabulary, so a teacher grown on another corpus, or not grown, differs)."""
    from lstmtext.tokenizers import FILENAME, load_tokenizer

    for run, config in zip(runs, configs):
        own = sorted(config.get("labels") or [])
        if own != sorted(labels):
            raise UserError(f"--distill-from {run} labels {', '.join(own)}, but {where} has {', '.join(labels)}",
                            "distil from classifiers trained on the same labels")
        if load_tokenizer(run / FILENAME).to_json() != tokenizer.to_json():
            grown = bool(config.get("extend_vocab"))
            if grown or extend_vocab:  # the same model, grown by other words: the cause is --extend-vocab
                how = ("it was trained with --extend-vocab, which added its own corpus's words" if grown and not
                       extend_vocab else "this run's --extend-vocab adds this corpus's words, which it lacks" if
                       not grown else "--extend-vocab added another corpus's words to it")
                raise UserError(f"--distill-from {run} reads text with another vocabulary than this run's: {how}",
                                "distil from runs trained on this same corpus, with --extend-vocab as here (or "
                                "without it on both)")
            raise UserError(f"--distill-from {run} reads text with another tokenizer than this run's",
                            "distil from runs with the same tokenizer: trained --init-from the same language "
                            "model, or on the same corpus with the same --level and tokenizer flags")


def teacher_targets(runs: list[Path], prepared: Any, temperature: float, device: Any,
                    done: Callable[[int], None] | None = None) -> np.ndarray:
    """The teachers' mean class probabilities at ``temperature`` for every training text, [texts, classes]
    in ``prepared``'s label order (each teacher reads a text cut to its own --max-length, as it would in
    ``classify``). ``done(n)`` is told of each batch of n texts a teacher has labelled."""
    import torch

    from lstmtext.checkpoint import load_checkpoint
    from lstmtext.models import predict_proba

    labels = prepared.labels
    total: np.ndarray | None = None
    for run in runs:
        ckpt = load_checkpoint(run, str(device), task="classify", choose=False)
        seqs, _ = prepared.cut_texts("train", int(ckpt.config["train"].get("max_length", 256)))
        columns = [ckpt.config["labels"].index(name) for name in labels]
        log_probs = torch.from_numpy(predict_proba(ckpt.model, seqs, 256, device, log=True, done=done)[:, columns])
        soft = torch.softmax(log_probs.double() / temperature, dim=-1).numpy()
        total = soft if total is None else total + soft
    assert total is not None  # at least one teacher (the CLI asks for one)
    return (total / len(runs)).astype(np.float32)


def save_targets(run_dir: Path, targets: np.ndarray) -> None:
    import torch

    from lstmtext.checkpoint import save_weights

    save_weights(run_dir / TEACHER_TARGETS, {"probs": torch.from_numpy(targets)})


def load_targets(run_dir: Path, texts: int, classes: int) -> np.ndarray:
    """The targets a run was started with, checked against its training split's size."""
    from lstmtext.checkpoint import load_weights

    return load_weights(run_dir / TEACHER_TARGETS, {"probs": (texts, classes)})["probs"].numpy()
