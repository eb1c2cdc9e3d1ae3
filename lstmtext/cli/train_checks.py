"""Train's checks of its flags against each other: flags of the other task, flags that need --init-from or do not
fit the model, tokenizer and reading flags that a prepared folder or --init-from would ignore, an --out that is a
run this run reads, and prepared data made for the other task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from lstmtext.cli.options import flag_name, refuse_unless, typed, typed_flag
from lstmtext.config import ModelConfig
from lstmtext.errors import usage_error

TOKENIZER_FLAGS = ("level", "vocab_size", "lowercase", "min_freq", "word_split")
SOURCE_FLAGS = ("text_column", "label_column", "encoding", "valid_fraction", "test_fraction", "split_seed")


# Options that mean something for one task only; given on the command line for the other, they are refused.
TASK_ONLY = {
    "classify": ("bidirectional", "pooling", "max_length", "class_weights", "adversarial", "label_column",
                 "split_seed", "freeze_epochs", "pretrained_lr", "init_backward_from", "distill_from",
                 "distill_weight", "distill_temperature"),
    "lm": ("seq_len", "shift_windows", "tie_weights", "last_layer_size", "reverse", "variational", "weight_drop",
           "ar", "tar", "compile_head", "adaptive_softmax", "cutoffs"),
}


def _refuse_other_task_flags(ctx: typer.Context, task: str) -> None:
    other = "lm" if task == "classify" else "classify"
    given = typed(ctx)
    hints = {"freeze_epochs": "use --freeze-embedding for a language model",
             "reverse": "a --bidirectional classifier reads texts both ways",
             "pretrained_lr": "for a language model every layer is pretrained: set --lr instead"}
    for name in TASK_ONLY[other]:
        if name in given:
            raise usage_error(f"{typed_flag(ctx, name)} is for --task {other}", hints.get(
                name, f"drop it for a {'language model' if task == 'lm' else 'classifier'}"))


def _refuse_conflicting_flags(ctx: typer.Context, model_cfg: ModelConfig, lm_tokenizer: Any, *, task: str,
                              cutoffs: str | None, adaptive_softmax: bool, freeze_epochs: int, optimizer: str,
                              pretrained_lr: float, init_from: Path | None, extend_vocab: bool, reverse: bool,
                              adversarial: float, ar: float, tar: float, compile_head: bool, shift_windows: bool,
                              distill_from: list[Path] | None, schedule: str) -> None:
    """Refuse the flags that do nothing, or go wrong, with the others given: one task's flags for the other, those
    that need --init-from (``lm_tokenizer``, its tokenizer), and those that do not fit the model (``model_cfg``)."""
    from lstmtext.tokenizers import check_extendable

    if cutoffs is not None and not (adaptive_softmax or model_cfg.cutoffs):
        raise usage_error("--cutoffs sets where an adaptive softmax's clusters end, and this model has a full "
                          "softmax", "add --adaptive-softmax, or drop --cutoffs")
    if task == "lm" and freeze_epochs:
        raise usage_error("--freeze-epochs is for --task classify", "use --freeze-embedding for a language model")
    if freeze_epochs and optimizer == "asgd":
        raise usage_error("--freeze-epochs cannot be combined with --optimizer asgd: the frozen layers would "
                          "join the weight average late", "use --optimizer adamw or sgd, or drop --freeze-epochs")
    if pretrained_lr != 1.0 and task != "classify":
        raise usage_error("--pretrained-lr is for --task classify with --init-from",
                          "for a language model every layer is pretrained: set --lr instead")
    if freeze_epochs and init_from is None:
        raise usage_error("--freeze-epochs needs --init-from: without it no layer is pretrained, and it would "
                          "freeze freshly initialised ones", "add --init-from LM_RUN, or drop --freeze-epochs")
    if pretrained_lr != 1.0 and init_from is None:
        raise usage_error("--pretrained-lr needs --init-from: without it no layer is pretrained",
                          "add --init-from LM_RUN, or drop --pretrained-lr")
    if extend_vocab and init_from is None:
        raise usage_error("--extend-vocab needs --init-from: it adds words to a pretrained model's vocabulary",
                          "add --init-from LM_RUN, or drop --extend-vocab")
    if extend_vocab:
        check_extendable(lm_tokenizer, str(init_from))
    if extend_vocab and ctx.params.get("freeze_embedding"):
        raise usage_error("--freeze-embedding would hold every word --extend-vocab adds at the one vector they all "
                          "start from (the pretrained rows' mean), so the model could never tell them apart",
                          "drop --freeze-embedding (or --extend-vocab)")
    if task != "lm" and reverse:
        raise usage_error("--reverse is for --task lm", "a --bidirectional classifier reads texts both ways")
    if task == "lm" and adversarial:
        raise usage_error("--adversarial is for --task classify", "drop it for a language model")
    if task != "lm" and (ar or tar):
        raise usage_error("--ar and --tar are for --task lm", "drop them for a classifier")
    if task != "lm" and compile_head:
        raise usage_error("--compile is for --task lm", "drop it for a classifier")
    if compile_head and (adaptive_softmax or model_cfg.cutoffs):
        raise usage_error("--compile compiles the full softmax, and this model has an adaptive one, whose clusters "
                          "change size from batch to batch", "drop --compile, or add --full-softmax")
    if extend_vocab and task == "lm" and model_cfg.cutoffs:
        raise usage_error(f"--extend-vocab cannot grow the adaptive softmax of {init_from}: its clusters are laid "
                          "out by the frequencies of its own vocabulary", "drop --extend-vocab, or pretrain the "
                          "language model with this corpus's words")
    if task != "lm" and shift_windows:
        raise usage_error("--shift-windows is for --task lm", "drop it for a classifier")
    refuse_unless(ctx, {name: (bool(distill_from), "needs --distill-from (the classifiers to learn from)")
                        for name in ("distill_weight", "distill_temperature")})
    refuse_unless(ctx, {"layer_dropout": (model_cfg.layers >= 2, "is dropout between stacked layers, and this model "
                                                                 "has one layer: --dropout is its dropout"),
                        "warmup_steps": (schedule != "plateau", "does nothing with --schedule plateau, which starts "
                                                               "at --lr: cosine and constant warm up")})


def _refuse_unused_data_flags(ctx: typer.Context, corpus: str, prepared: bool, lm_tokenizer: Any,
                              init_from: Path | None, extend_vocab: bool, values: dict[str, Any]) -> None:
    """Tokenizer and reading flags that would be ignored are refused instead: a prepared folder fixes
    them all, and --init-from fixes the tokenizer (a flag that agrees with it is fine)."""
    given = typed(ctx)
    if prepared:
        unused = [flag_name(n) for n in TOKENIZER_FLAGS + SOURCE_FLAGS if n in given]
        if unused:
            raise usage_error(f"{', '.join(unused)} cannot apply to {corpus}: a prepared folder's tokenizer and "
                              "splits are fixed", "drop them, or pass the raw corpus to prepare it with them")
        return
    if lm_tokenizer is None:
        return
    lm = {"level": lm_tokenizer.kind, "lowercase": lm_tokenizer.lowercase, "vocab_size": lm_tokenizer.vocab_size,
          "word_split": getattr(lm_tokenizer, "word_split", "punct")}
    def shown(value: Any) -> str:
        return ("on" if value else "off") if isinstance(value, bool) else str(value)

    for name in lm:
        if name in given and values[name] != lm[name]:
            flag = flag_name(name) if isinstance(values[name], bool) else f"{flag_name(name)} {values[name]}"
            raise usage_error(f"{flag} conflicts with {init_from}, whose tokenizer has {name.replace('_', ' ')} "
                              f"{shown(lm[name])}", f"drop {flag_name(name)}: the model keeps the language model's "
                              "tokenizer")
    if "min_freq" in given and not extend_vocab:
        raise usage_error(f"--min-freq has no effect with --init-from: the vocabulary is {init_from}'s",
                          "drop it, or add --extend-vocab to add this corpus's words seen that often")


def _refuse_out_as_input(out: Path | None, inputs: list[tuple[str, Path | None]]) -> None:
    """--out naming a run this one starts or learns from: --overwrite would delete it before it is read."""
    if out is None:
        return
    for flag, run in inputs:
        if run is not None and out.resolve() == Path(run).resolve():
            raise usage_error(f"--out {out} is the {flag} run, which this run reads", "pick another --out")


def _check_prepared_task(prepared: Any, task: str, path: Path) -> None:
    has_labels = bool(prepared.labels)
    if task == "classify" and not has_labels:
        raise usage_error(f"{path} was prepared for a language model, not a classifier",
                          "run lstmtext tokenize with --task classify")
    if task == "lm" and has_labels:
        raise usage_error(f"{path} was prepared for a classifier", "pass --task classify")
