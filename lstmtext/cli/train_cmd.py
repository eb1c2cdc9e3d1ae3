"""`train`: language models and classifiers, presets, resume and clean stops on signals."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lstmtext.cli import (DEFAULT_LEVEL, Device, Encoding, LabelColumn, Level, Lowercase, MinFreq, Quiet, SplitSeed,
                          TaskOpt, TestFraction, TextColumn, ValidFraction, VocabSize, WordSplit, _check_task,
                          _data_table, _default_corpus, _locks, _prepare, _spec, _stale, app, flag_name, handle_errors,
                          refuse_unless, typed, warn)
from lstmtext.config import (ModelConfig, TrainConfig, cutoffs_problem, parse_cutoffs, parse_duration,
                             parse_save_every, validate_model)
from lstmtext.errors import UserError, usage_error

# Defaults that differ by task; a flag left unset takes its task's value.
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "lm": {"hidden_size": 256, "layers": 2, "dropout": 0.2, "lr": 3e-3, "epochs": 15.0,
           "eval_every": 100, "batch_size": 32},
    "classify": {"hidden_size": 128, "layers": 1, "dropout": 0.3, "lr": 3e-3, "epochs": 10.0,
                 "eval_every": 0, "batch_size": 32},
}


def _refuse_out_as_input(out: Path | None, inputs: list[tuple[str, Path | None]]) -> None:
    """--out naming a run this one starts or learns from: --overwrite would delete it before it is read."""
    if out is None:
        return
    for flag, run in inputs:
        if run is not None and out.resolve() == Path(run).resolve():
            raise usage_error(f"--out {out} is the {flag} run, which this run reads", "pick another --out")


def _check_out(out: Path, overwrite: bool) -> bool:
    """Refuse an --out that train may not write to; True where it holds a run that --overwrite replaces. Checked
    before the corpus is read, so that the mistake costs no tokenizing, and again when the folder is made."""
    from lstmtext.checkpoint import CONFIG

    if not out.exists():
        return False
    if not out.is_dir():
        raise usage_error(f"--out {out} is an existing file", "pass a folder path")
    if not any(out.iterdir()):
        return False
    if not _holds_run(out / CONFIG):
        what = "another program's config.json" if (out / CONFIG).exists() else "files but no run"
        raise usage_error(f"{out} holds {what}, and train writes only new or run folders", "pick another --out")
    if not overwrite:
        raise usage_error(f"{out} already holds a run", "pass --overwrite to replace it, or another --out")
    return True


def _holds_run(config: Path) -> bool:
    """Whether ``config`` is an lstmtext run's config.json, and not (say) a Hugging Face model's, whose files
    --overwrite must leave alone: a JSON object with a format version and a task (damaged ones count as runs)."""
    if not config.is_file():
        return False
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False
    except ValueError:  # a run's config cut short by a crash is still the run's, for --overwrite to replace
        return config.read_bytes().lstrip().startswith(b'{"format_version"')
    return isinstance(data, dict) and "format_version" in data and "task" in data


def _lock_run(out: Path) -> None:
    """Take the run folder for this process: a second train (or --resume) into it while this one runs is refused,
    where it would interleave its metrics and checkpoints with ours. An flock on the folder itself, which the
    system drops when the process ends however it ends, so no stale lock is ever left (no-op without fcntl)."""
    try:
        import fcntl
    except ImportError:  # Windows
        return
    import os

    try:
        fd = os.open(out, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UserError(f"another lstmtext train is writing to {out} now",
                        "wait for it to finish, or pick another --out") from None
    except OSError:  # a file system without locks
        os.close(fd)
        return
    _locks.append(fd)  # held until main() returns, or the process ends


def _new_default_dir(base: Path) -> Path:
    """checkpoints/NAME-LEVEL-TIME, made here; a run started in the same second gets -2, -3, ... after it."""
    for n in range(1, 1000):
        out = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            out.mkdir(parents=True)
            return out
        except FileExistsError:
            continue
        except OSError as err:
            raise UserError(f"could not create {out}: {err.strerror}", "check the path and its permissions") from None
    raise UserError(f"could not find a free run folder name beside {base}", "pass --out")


def _run_dir(out: Path | None, corpus_name: str, level: str, overwrite: bool) -> tuple[Path, Callable[[], None], bool]:
    """The run folder, checked; what clears the old run there (--overwrite): training calls it once the model
    and what it starts from (--init-from, --distill-from) have loaded, so that a failure before leaves the old run;
    and whether the folder was made here."""
    from lstmtext.checkpoint import clear_run

    def clear() -> None:
        try:
            kept = clear_run(out)
        except OSError as error:
            raise UserError(f"could not remove the old run in {out}: {error.strerror}",
                            "check the folder's permissions") from None
        if kept:
            from lstmtext.render import err

            err.print(f"--overwrite: replaced the run in {out}; kept your other files there: {', '.join(kept)}")

    if out is None:
        out = _new_default_dir(Path("checkpoints") / f"{corpus_name}-{level}-{time.strftime('%Y%m%d-%H%M%S')}")
        _lock_run(out)
        return out, lambda: None, True
    replace = _check_out(out, overwrite)
    made = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"could not create {out}: {err.strerror}", "check the path and its permissions") from None
    try:
        _lock_run(out)
        replace = _check_out(out, overwrite)  # again, now that no other run can write here meanwhile
    except UserError:
        if made and not any(out.iterdir()):
            out.rmdir()
        raise
    return out, (clear if replace else lambda: None), made


@app.command()
@handle_errors
def train(
    ctx: typer.Context,
    corpus: Annotated[Optional[str], typer.Argument(help="Corpus (as for tokenize) or a prepared folder. "
                                                    "Default: corpora/tales.txt (lm) or corpora/reviews.tsv "
                                                    "(classify).")] = None,
    task: TaskOpt = "lm",
    level: Level = None,
    vocab_size: VocabSize = None,
    lowercase: Lowercase = False,
    min_freq: MinFreq = 1,
    word_split: WordSplit = "punct",
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    encoding: Encoding = "utf-8",
    valid_fraction: ValidFraction = 0.05,
    test_fraction: TestFraction = 0.05,
    split_seed: SplitSeed = 0,
    embed_dim: Annotated[Optional[int], typer.Option("--embed-dim", help="Embedding size (default: the "
                                                     "hidden size).")] = None,
    hidden_size: Annotated[Optional[int], typer.Option("--hidden-size", help="LSTM units per layer (default 256 "
                                                       "for lm, 128 for classify).")] = None,
    layers: Annotated[Optional[int], typer.Option("--layers", help="Stacked LSTM layers (default 2 for lm, "
                                                  "1 for classify).")] = None,
    last_layer_size: Annotated[int, typer.Option("--last-layer-size", help="lm: units of the last LSTM layer "
                                                 "(default: --hidden-size; AWD-LSTM gives it --embed-dim, so "
                                                 "the tied decoder needs no projection).", show_default=False)] = 0,
    dropout: Annotated[Optional[float], typer.Option("--dropout", help="Dropout on embeddings, between layers "
                                                     "and before the output (default 0.2 lm, 0.3 classify).")] = None,
    layer_dropout: Annotated[Optional[float], typer.Option("--layer-dropout", help="Dropout between stacked "
                                                           "LSTM layers (default: --dropout).")] = None,
    variational: Annotated[bool, typer.Option("--variational-dropout", help="lm: one dropout mask per sequence "
                                              "on the LSTM's input, between its layers and on its output "
                                              "(AWD-LSTM).")] = False,
    embed_dropout: Annotated[float, typer.Option("--embed-dropout", help="Drop this fraction of word types "
                                                 "(whole embedding rows) per batch: word dropout.")] = 0.0,
    weight_drop: Annotated[float, typer.Option("--weight-drop", help="lm: DropConnect on the LSTM's "
                                               "hidden-to-hidden weights.")] = 0.0,
    tie_weights: Annotated[Optional[bool], typer.Option("--tie-weights/--no-tie-weights", help="lm: share the "
                                                        "embedding and decoder matrices (default: on when "
                                                        "embed-dim equals the last layer's size).")] = None,
    bidirectional: Annotated[Optional[bool], typer.Option("--bidirectional/--no-bidirectional", help="classify: "
                                                          "read texts both ways (default on; off with "
                                                          "--init-from unless --init-backward-from is "
                                                          "given).")] = None,
    reverse: Annotated[bool, typer.Option("--reverse", help="lm: read the text right to left, predicting each "
                                          "token from those after it: a backward model, which "
                                          "--init-backward-from takes.")] = False,
    adaptive_softmax: Annotated[bool, typer.Option("--adaptive-softmax/--full-softmax", help="lm: Grave et al.'s "
                                                   "adaptive softmax for a large vocabulary: frequent tokens get a "
                                                   "full softmax, rare ones clusters behind narrower projections (a "
                                                   "step 1.6-1.8x as fast at 10k words, 4.1-5.3x at 33k, on 2 CPU "
                                                   "cores).")
                                ] = False,
    cutoffs: Annotated[Optional[str], typer.Option("--cutoffs", help="With --adaptive-softmax: the frequency ranks "
                                                   "where the head and each cluster but the last end (default 2000, "
                                                   "10000, 50000, ... up to 80% of the vocabulary).",
                                                   show_default=False)] = None,
    pooling: Annotated[str, typer.Option("--pooling", help="classify: concat (the last state, max and mean side "
                                         "by side, as ULMFiT; measured best), mean, last, max or attention."
                                         )] = "concat",
    max_length: Annotated[int, typer.Option("--max-length", help="classify: tokens kept per text.")] = 256,
    class_weights: Annotated[str, typer.Option("--class-weights", help="classify: none, or auto to weight "
                                               "classes by inverse frequency.")] = "none",
    patience: Annotated[Optional[int], typer.Option("--patience", help="Stop after this many validations "
                                                    "without improvement.")] = None,
    init_from: Annotated[Optional[Path], typer.Option("--init-from", help="Start from this language model's "
                                                      "weights and tokenizer: its embedding and LSTM for a "
                                                      "classifier, all of it for a language model.")] = None,
    init_backward_from: Annotated[Optional[Path], typer.Option("--init-backward-from", help="classify with "
                                                               "--init-from: start the backward direction "
                                                               "from this right-to-left language model "
                                                               "(trained with --reverse --init-from the "
                                                               "same model --freeze-embedding).")] = None,
    extend_vocab: Annotated[bool, typer.Option("--extend-vocab", help="With --init-from a char or word level "
                                               "model: add the words (or characters) of this corpus's training "
                                               "split that it lacks, seen at least --min-freq times, their "
                                               "embeddings starting at the mean of its own (ULMFiT), instead of "
                                               "reading them as <unk> (a language model with an adaptive "
                                               "softmax can seed a classifier so, not another language model)."
                                               )] = False,
    freeze_embedding: Annotated[bool, typer.Option("--freeze-embedding", help="Keep the embedding table (and "
                                                   "a decoder tied to it) as it starts, e.g. from "
                                                   "--init-from.")] = False,
    freeze_epochs: Annotated[int, typer.Option("--freeze-epochs", help="classify with --init-from: epochs "
                                               "with the pretrained layers frozen (1 adds 0.8 points on "
                                               "SST-2).")] = 0,
    pretrained_lr: Annotated[float, typer.Option("--pretrained-lr", help="classify with --init-from: the "
                                                 "pretrained embedding and LSTM learn at this fraction of "
                                                 "--lr (ULMFiT's discriminative fine-tuning; 0.3 with "
                                                 "--bidirectional --freeze-epochs 1 gives 87.2% on "
                                                 "SST-2).")] = 1.0,
    adversarial: Annotated[float, typer.Option("--adversarial", help="classify: adversarial training (Miyato "
                                               "et al.): also learn from each text's embeddings moved this far "
                                               "(L2 norm, in units of the embeddings' RMS value) the way that "
                                               "raises the loss most; 5 adds 1.1 points on SST-2; a step costs "
                                               "about 1.3x.")] = 0.0,
    ema: Annotated[float, typer.Option("--ema", help="Validate and save a moving average of the weights "
                                       "with this decay (e.g. 0.999: about the last 1,000 steps) instead of "
                                       "the last weights; 0 is off.")] = 0.0,
    distill_from: Annotated[Optional[list[Path]], typer.Option("--distill-from", metavar="RUN", help="classify: "
                                                               "also learn from this classifier run's "
                                                               "probabilities on the training texts (repeatable: "
                                                               "their mean), knowledge distillation: one model "
                                                               "near an ensemble's accuracy. The runs share this "
                                                               "run's tokenizer and labels.")] = None,
    distill_weight: Annotated[float, typer.Option("--distill-weight", help="With --distill-from: the teachers' "
                                                  "share of the loss; the labels have the rest.")] = 0.5,
    distill_temperature: Annotated[float, typer.Option("--distill-temperature", help="With --distill-from: both "
                                                       "the teachers' and the model's logits are divided by "
                                                       "this; above 1 softens confident teachers.")] = 2.0,
    seq_len: Annotated[int, typer.Option("--seq-len", help="lm: tokens per truncated-BPTT window.")] = 128,
    shift_windows: Annotated[bool, typer.Option("--shift-windows/--fixed-windows", help="lm: start each "
                                                "epoch's windows at a random offset, so no token is always "
                                                "first in its window (the aim of AWD-LSTM's variable BPTT, "
                                                "at one fixed shape).")] = False,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Streams (lm) or texts (classify) "
                                                      "per step.")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Peak learning rate.")] = None,
    optimizer: Annotated[str, typer.Option("--optimizer", help="adamw, sgd, or asgd (SGD that starts "
                                           "averaging the weights once validation stalls: NT-ASGD).")] = "adamw",
    weight_decay: Annotated[Optional[float], typer.Option("--weight-decay", help="Decay of the weight matrices "
                                                          "(default 0.01 for adamw, none for sgd and asgd; "
                                                          "AWD-LSTM uses 1.2e-6 with sgd).")] = None,
    clip: Annotated[float, typer.Option("--clip", help="Gradient-norm clipping (0 = off).")] = 1.0,
    ar: Annotated[float, typer.Option("--ar", help="lm: activation regularisation, this times the mean square "
                                      "of the last layer's outputs (AWD-LSTM: 2; in the logged train "
                                      "loss).")] = 0.0,
    tar: Annotated[float, typer.Option("--tar", help="lm: temporal activation regularisation, this times the "
                                       "mean square of their step-to-step change (AWD-LSTM: 1).")] = 0.0,
    schedule: Annotated[str, typer.Option("--schedule", help="cosine, plateau or constant.")] = "cosine",
    warmup_steps: Annotated[int, typer.Option("--warmup-steps", help="Linear LR warm-up steps.")] = 50,
    epochs: Annotated[Optional[float], typer.Option("--epochs", help="Passes over the training split (default "
                                                    "15 for lm, 10 for classify).")] = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="Stop after this many steps.")] = None,
    time_limit: Annotated[Optional[str], typer.Option("--time-limit", help="Stop once the run has trained this "
                                                      "long: seconds (600) or 90s, 10m, 1.5h; on --resume, the time "
                                                      "before counts.")] = None,
    eval_every: Annotated[Optional[int], typer.Option("--eval-every", help="Steps between validations (0 = once "
                                                      "per epoch; default 100 for lm, 0 for classify).")] = None,
    log_every: Annotated[int, typer.Option("--log-every", help="Steps between loss read-backs.")] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 1234,
    device: Device = "auto",
    precision: Annotated[str, typer.Option("--precision", help="auto (bf16 autocast on CUDA and on CPUs "
                                           "with bf16 units such as AMX, else fp32), fp32, bf16 or fp16.")] = "auto",
    cuda_graphs: Annotated[bool, typer.Option("--cuda-graphs/--no-cuda-graphs", help="On CUDA: replay the whole "
                                              "training step as one captured CUDA graph (faster).")] = True,
    compile_head: Annotated[bool, typer.Option("--compile/--no-compile", help="lm: compile the full softmax's decoder "
                                               "and loss with torch.compile (1.5x on that part for a 10k-word model "
                                               "on a CPU; seconds to compile at the start; eager if compiling fails)."
                                               )] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Run folder (default "
                                                "checkpoints/<corpus>-<level>-<time>).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing run in --out (its own "
                                            "files; other files there are kept).")] = False,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue this run folder from its last "
                                                   "saved state (settings come from the run).")] = None,
    save_every: Annotated[str, typer.Option("--save-every", help="Save resumable state every N steps (500) or "
                                            "every so long (90s, 10m, 1h), besides every validation (0: only "
                                            "then).")] = "10m",
    on_nan: Annotated[str, typer.Option("--on-nan", help="stop (default) or skip batches whose loss is not "
                                        "finite.")] = "stop",
    preset: Annotated[Optional[str], typer.Option("--preset", help="Start from a named recipe (see "
                                                  "lstmtext/presets/); flags you give override it.")] = None,
    output: Annotated[str, typer.Option("--format", help="table, or json: the summary as one JSON object on "
                                        "stdout, for scripts (progress and notes stay on stderr).")] = "table",
    quiet: Quiet = False,
) -> None:
    """Train an LSTM language model or text classifier (tokenizing the corpus first when needed).

    Examples: lstmtext train corpora/tales.txt --epochs 8 --out checkpoints/tales-8;
    lstmtext train --task classify --out checkpoints/reviews
    """
    given = {k: v for k, v in locals().items() if k != "ctx"}  # the converted arguments (Paths as Paths)
    from lstmtext.data import Prepared, is_prepared
    from lstmtext.distill import check_teacher_runs, check_teachers_fit
    from lstmtext.render import err
    from lstmtext.tokenizers import check_extendable, extends

    if preset is not None:
        if resume is not None:
            raise usage_error("--preset cannot be combined with --resume", "the run already has its settings")
        merged = {**given, **_preset_values(ctx, preset), "preset": None}
        return train.__wrapped__(ctx, **merged)  # type: ignore[attr-defined]
    if output not in ("table", "json"):
        raise usage_error(f"unknown --format {output!r}", "choose table or json")
    parse_save_every(save_every)
    time_limit = parse_duration(time_limit, "--time-limit")
    if on_nan not in ("stop", "skip"):
        raise usage_error(f"unknown --on-nan {on_nan!r}", "choose stop or skip")
    if resume is not None:
        _resume_run(ctx, resume, max_steps=max_steps, epochs=epochs, time_limit=time_limit, device=device,
                    save_every=save_every, on_nan=on_nan, quiet=quiet, log_every=log_every, output=output)
        return
    _check_task(task)
    d = TASK_DEFAULTS[task]
    asked_cutoffs = parse_cutoffs(cutoffs) if cutoffs is not None else None
    output_flags = {name: value for name, value in (("tie_weights", tie_weights), ("cutoffs", asked_cutoffs),
                                                    ("adaptive_softmax", adaptive_softmax)) if name in typed(ctx)}
    lm_model = _lm_config(init_from, "--init-from")["model"] if init_from is not None else None
    lm_dims = _lm_dims(lm_model, init_from, task, embed_dim, hidden_size, layers, last_layer_size, output_flags)
    lm_tokenizer = _lm_tokenizer(init_from) if init_from is not None else None
    _check_backward(init_backward_from, init_from, lm_model, lm_tokenizer, task, bidirectional)
    hidden = lm_dims.get("hidden_size", hidden_size if hidden_size is not None else d["hidden_size"])
    train_cfg = TrainConfig(
        seq_len=seq_len, batch_size=batch_size if batch_size is not None else d["batch_size"],
        lr=lr if lr is not None else d["lr"], optimizer=optimizer, weight_decay=weight_decay, clip=clip,
        schedule=schedule, warmup_steps=warmup_steps, epochs=epochs if epochs is not None else d["epochs"],
        max_steps=max_steps, time_limit=time_limit,
        eval_every=eval_every if eval_every is not None else d["eval_every"], log_every=log_every, seed=seed,
        device=device, precision=precision, patience=patience, max_length=max_length, class_weights=class_weights,
        freeze_epochs=freeze_epochs, adversarial=adversarial, cuda_graphs=cuda_graphs, ar=ar, tar=tar,
        compile=compile_head, shift_windows=shift_windows, freeze_embedding=freeze_embedding,
        pretrained_lr=pretrained_lr, ema=ema, distill_from=[str(p) for p in distill_from or []],
        distill_weight=distill_weight, distill_temperature=distill_temperature)
    train_cfg.validate()
    embed = lm_dims.get("embed_dim", embed_dim if embed_dim is not None else hidden)
    model_cfg = ModelConfig(
        task=task, embed_dim=embed, hidden_size=hidden,
        layers=lm_dims.get("layers", layers if layers is not None else d["layers"]),
        dropout=dropout if dropout is not None else d["dropout"],
        tie_weights=lm_dims.get("tie_weights", embed == (last_layer_size or hidden)) if tie_weights is None
        else tie_weights,
        bidirectional=False if task != "classify" else (init_from is None or init_backward_from is not None)
        if bidirectional is None else bidirectional, pooling=pooling, variational=variational,
        embed_dropout=embed_dropout, weight_drop=weight_drop, layer_dropout=layer_dropout,
        last_layer_size=lm_dims.get("last_layer_size", last_layer_size), reverse=reverse,
        cutoffs=lm_dims.get("cutoffs", (asked_cutoffs or []) if adaptive_softmax else []))
    _refuse_other_task_flags(ctx, task)
    validate_model(model_cfg)
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
    teachers = check_teacher_runs(distill_from or [])
    _refuse_out_as_input(out, [("--init-from", init_from), ("--init-backward-from", init_backward_from),
                               *(("--distill-from", run) for run in distill_from or [])])
    # A device that may be missing (cuda, mps) is checked before tokenizing; auto and cpu cannot fail,
    # so with them torch loads only once training starts, after any mistake in the corpus is reported.
    if device not in ("auto", "cpu"):
        from lstmtext.training import resolve_device

        resolve_device(device)
    if out is not None:
        _check_out(out, overwrite)
    corpus_arg = corpus if corpus is not None else str(_default_corpus(task))
    _refuse_unused_data_flags(ctx, corpus_arg, is_prepared(Path(corpus_arg)), lm_tokenizer, init_from,
                              extend_vocab, given)
    if is_prepared(Path(corpus_arg)):
        prepared_path = Path(corpus_arg)
        stale = _stale(prepared_path, lm_tokenizer)
        if stale and not quiet:
            source = Prepared.open(prepared_path).meta.get("source") or "CORPUS"
            warn([f"{prepared_path} was prepared by an older lstmtext: {stale}; to prepare it again, run "
                  f"lstmtext tokenize {source} --out {prepared_path} --overwrite"])
    else:
        spec = _spec(level or DEFAULT_LEVEL[task], vocab_size, lowercase, min_freq, word_split)
        if lm_tokenizer is not None:
            spec = _spec(lm_tokenizer.kind, None, lm_tokenizer.lowercase, min_freq if extend_vocab else 1,
                         getattr(lm_tokenizer, "word_split", "punct"))
        prepared_path, meta, reused, seconds = _prepare(
            corpus_arg, spec, None, False, encoding=encoding, text_column=text_column,
            valid_fraction=valid_fraction, test_fraction=test_fraction, split_seed=split_seed, task=task,
            label_column=label_column, quiet=quiet, tokenizer=lm_tokenizer, extend=extend_vocab, given=typed(ctx))
        if not quiet:
            err.print(_data_table(prepared_path, meta, reused, seconds))
    prepared = Prepared.open(prepared_path)
    _check_prepared_task(prepared, task, prepared_path)
    if extend_vocab and not quiet:
        added = prepared.tokenizer.vocab_size - lm_tokenizer.vocab_size
        err.print(f"--extend-vocab: {added:,} {'characters' if lm_tokenizer.kind == 'char' else 'words'} added to "
                  f"the {lm_tokenizer.vocab_size:,} of {init_from}, starting at their mean embedding")
    if lm_tokenizer is not None and not (extends(prepared.tokenizer, lm_tokenizer) if extend_vocab
                                         else prepared.tokenizer.to_json() == lm_tokenizer.to_json()):
        raise UserError(f"{prepared_path} was tokenized with a different tokenizer than {init_from}",
                        "pass the raw corpus instead, so it is tokenized with the language model's tokenizer")
    check_teachers_fit(distill_from or [], teachers, prepared.labels, prepared.tokenizer, str(prepared_path))
    model_cfg.vocab_size = prepared.tokenizer.vocab_size
    model_cfg.num_classes = len(prepared.labels)
    if adaptive_softmax and "cutoffs" not in lm_dims and not model_cfg.cutoffs:  # (--init-from decides its own)
        from lstmtext.adaptive import DEFAULT_CUTOFFS, default_cutoffs

        model_cfg.cutoffs = default_cutoffs(model_cfg.vocab_size)
        if not model_cfg.cutoffs:
            raise usage_error(f"--adaptive-softmax: the vocabulary has {model_cfg.vocab_size:,} tokens, too few to "
                              f"split after the {DEFAULT_CUTOFFS[0]:,} its head holds by default",
                              f"use --full-softmax, as cheap at this size; or give --cutoffs below "
                              f"{model_cfg.vocab_size:,}")
    wrong = cutoffs_problem(model_cfg.cutoffs, model_cfg.vocab_size)
    if wrong:
        raise usage_error(f"--cutoffs {','.join(map(str, model_cfg.cutoffs))}: {wrong}",
                          f"give cutoffs below {model_cfg.vocab_size:,}, or leave --cutoffs out")
    run_dir, clear_old, made = _run_dir(out, Path(corpus_arg).stem or "corpus", prepared.level, overwrite)
    if distill_from and not quiet:
        texts = int(prepared.meta["splits"]["train"]["texts"])
        err.print(f"--distill-from: {len(distill_from)} teacher{'s' * (len(distill_from) > 1)} label the "
                  f"{texts:,} training texts first")

    from lstmtext.training import train as run_training

    _train_and_report(run_dir, quiet, lambda events, stop: run_training(
        run_dir, prepared, model_cfg, train_cfg, events, init_from=init_from, stop=stop, save_every=save_every,
        on_nan=on_nan, init_backward=init_backward_from,
        pretrained_vocab=lm_tokenizer.vocab_size if extend_vocab else 0, on_start=clear_old), typed(ctx), made,
        output)


# train's options, grouped in its --help (--task and --help stay under "Options").
HELP_PANELS = {
    "Data": ("level", "vocab_size", "lowercase", "min_freq", "word_split", "text_column", "label_column", "encoding",
             "valid_fraction", "test_fraction", "split_seed"),
    "Model": ("embed_dim", "hidden_size", "layers", "last_layer_size", "dropout", "layer_dropout", "variational",
              "embed_dropout", "weight_drop", "tie_weights", "adaptive_softmax", "cutoffs", "bidirectional", "reverse",
              "pooling", "max_length"),
    "Optimisation": ("seq_len", "shift_windows", "batch_size", "lr", "optimizer", "weight_decay", "clip", "ar", "tar",
                     "schedule", "warmup_steps", "class_weights", "adversarial", "ema", "patience"),
    "Starting from a language model": ("init_from", "init_backward_from", "extend_vocab", "freeze_embedding",
                                       "freeze_epochs", "pretrained_lr"),
    "Learning from other classifiers": ("distill_from", "distill_weight", "distill_temperature"),
    "Length, saving and output": ("epochs", "max_steps", "time_limit", "eval_every", "log_every", "save_every",
                                  "on_nan", "out", "overwrite", "resume", "preset", "seed", "output", "quiet"),
    "Hardware": ("device", "precision", "cuda_graphs", "compile_head"),
}


def group_help(command: Any) -> None:
    """Put train's options (of the Click ``command`` Typer built for it) in HELP_PANELS' groups."""
    panel_of = {name: panel for panel, names in HELP_PANELS.items() for name in names}
    for param in command.params:
        if param.name in panel_of:
            param.rich_help_panel = panel_of[param.name]


PRESETS = Path(__file__).resolve().parent.parent / "presets"


def load_preset(name: str) -> dict[str, Any]:
    """A preset of lstmtext/presets by its name (not a path), checked to hold a recipe."""
    path = PRESETS / f"{name}.json"
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name) or not path.is_file():
        known = ", ".join(sorted(p.stem for p in PRESETS.glob("*.json")))
        raise usage_error(f"unknown --preset {name!r}", f"choose one of: {known}")
    try:
        recipe = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise UserError(f"preset file {path} is not valid JSON ({err})", "reinstall lstmtext") from None
    if not (isinstance(recipe, dict) and isinstance(recipe.get("settings"), dict)
            and recipe["settings"].get("task") in ("lm", "classify") and isinstance(recipe.get("corpus"), str)):
        raise UserError(f"preset file {path} lacks its corpus, settings or task", "reinstall lstmtext")
    return recipe


def _preset_values(ctx: typer.Context, name: str) -> dict[str, Any]:
    """The preset's settings, except those the user gave on the command line."""
    recipe = load_preset(name)
    settings = recipe["settings"]
    unknown = sorted(set(settings) - set(ctx.params))
    if unknown:
        raise UserError(f"preset {name!r} sets unknown options: {', '.join(unknown)}")
    given = typed(ctx)
    if "task" in given and ctx.params["task"] != settings["task"]:
        fitting = ", ".join(p.stem for p in sorted(PRESETS.glob("*.json"))
                            if load_preset(p.stem)["settings"]["task"] == ctx.params["task"])
        raise usage_error(f"--preset {name} is a recipe for --task {settings['task']}, not {ctx.params['task']}",
                          f"pick a {ctx.params['task']} preset: {fitting}; or drop --preset")
    if ctx.params["corpus"] is None:
        raise usage_error(f"--preset {name} is a recipe for the {recipe['corpus']} corpus, and no CORPUS was given",
                          f"pass its path: lstmtext train PATH/TO/{recipe['corpus']} --preset {name}")
    values = {k: v for k, v in settings.items() if k not in given}
    if ctx.params.get("init_from") is not None:  # the language model decides sizes and tokenizer
        values = {k: v for k, v in values.items() if k not in LM_DECIDES}
    # a preset's value that only goes with one it set and the user changed goes too (--level bpe on a word-level
    # recipe leaves its --word-split; --layers 1 its last layer of another size), not reported as the user's flag
    if "level" in given and ctx.params["level"] != "word":
        values.pop("word_split", None)
    if "layers" in given and ctx.params["layers"] is not None and ctx.params["layers"] < 2:
        values.pop("last_layer_size", None)
    if ctx.params.get("adaptive_softmax") and "adaptive_softmax" in given:  # --compile is the full softmax's
        values.pop("compile_head", None)
    from lstmtext.data import is_prepared

    corpus = Path(ctx.params["corpus"])
    if is_prepared(corpus):  # its tokenizer and splits are fixed: the recipe's data settings cannot apply
        from lstmtext.data import Prepared
        from lstmtext.render import err

        level = Prepared.open(corpus).level
        if values.get("level", level) != level:
            err.print(f"[yellow]warning:[/] --preset {name} tokenizes at level {values['level']}, but {corpus} is "
                      f"prepared at level {level}, which this run keeps (pass the raw corpus for the preset's)")
        values = {k: v for k, v in values.items() if k not in TOKENIZER_FLAGS + SOURCE_FLAGS}
    return values


LM_DECIDES = {"embed_dim", "hidden_size", "layers", "level", "lowercase", "vocab_size", "min_freq", "word_split",
              "tie_weights", "adaptive_softmax", "cutoffs"}


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
            raise usage_error(f"{flag_name(name)} is for --task {other}", hints.get(
                name, f"drop it for a {'language model' if task == 'lm' else 'classifier'}"))


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


RESUMABLE = {"resume", "max_steps", "epochs", "time_limit", "device", "save_every", "on_nan", "quiet", "log_every",
             "output"}


def _resume_run(ctx: typer.Context, run_dir: Path, *, max_steps: int | None, epochs: float | None,
                time_limit: float | None, device: str, save_every: str, on_nan: str, quiet: bool,
                log_every: int, output: str = "table") -> None:
    """Continue a run with its own settings; only the flags in RESUMABLE may be given."""
    from lstmtext.checkpoint import read_config
    from lstmtext.config import from_dict, saved_train_config
    from lstmtext.data import Prepared

    conflicts = ["CORPUS" if n == "corpus" else flag_name(n) for n in typed(ctx) if n not in RESUMABLE]
    if conflicts:
        allowed = ", ".join(flag_name(n) for n in sorted(RESUMABLE - {"resume"}))
        raise usage_error(f"{', '.join(conflicts)} cannot be changed on --resume: training settings come from "
                          "the run", f"only {allowed} may be given with --resume")
    config = read_config(run_dir)  # a missing or broken run is reported before torch is imported
    _lock_run(run_dir)
    from lstmtext.state import read_state
    from lstmtext.training import train as run_training

    read_state(run_dir)
    prepared = Prepared.of_run(run_dir, config["data"], "restore it, or start a new run")
    model_cfg = from_dict(ModelConfig, config["model"])
    train_cfg = saved_train_config(config["train"])
    before = (train_cfg.max_steps, train_cfg.epochs)
    if max_steps is not None:
        train_cfg.max_steps = max_steps
    if epochs is not None:
        train_cfg.epochs = epochs
    if train_cfg.schedule == "cosine" and (train_cfg.max_steps, train_cfg.epochs) != before and not quiet:
        from lstmtext.render import err

        err.print("note: the cosine schedule is laid out again over the new length, so the learning rate moves to "
                  "where that schedule has it at this step (up, for a run that has decayed to its end)")
    if time_limit is not None:  # else the run's own limit, which counts the time it trained before
        train_cfg.time_limit = time_limit
    if "log_every" in typed(ctx):
        train_cfg.log_every = log_every
    train_cfg.device = device
    train_cfg.validate()
    init = Path(config["init_from"]) if config.get("init_from") else None
    backward = Path(config["init_backward_from"]) if config.get("init_backward_from") else None
    _train_and_report(run_dir, quiet, lambda events, stop: run_training(
        run_dir, prepared, model_cfg, train_cfg, events, init_from=init, resume=True, stop=stop,
        save_every=save_every, on_nan=on_nan, init_backward=backward), output=output)


def _train_and_report(run_dir: Path, quiet: bool, run: Callable[[Any, Any], dict[str, Any]],
                      given: Collection[str] = (), made: bool = False, output: str = "table") -> None:
    """Run training with SIGINT/SIGTERM turned into a clean stop; print the summary (a table, or JSON on stdout
    for ``output`` json, an interrupted run's too) and, for a stopped run, the resume command.
    ``given``: the flags on the command line; ``made``: the run folder is new, so a failure before its first file
    removes it again (no empty folder is left behind)."""
    from lstmtext.render import TrainProgress, err
    from lstmtext.training import StopRequest

    stop = StopRequest()
    events = TrainProgress(quiet, given)
    with _stop_on_signals(stop):
        try:
            summary = run(events, stop)
        except BaseException:
            if made and run_dir.is_dir() and not any(run_dir.iterdir()):
                run_dir.rmdir()
            raise
        finally:
            events.close()
    if output == "json":
        import json

        from lstmtext.checkpoint import finite

        print(json.dumps(finite(summary), ensure_ascii=False))
    if summary["stopped_by"] == "interrupted":
        err.print(f"stopped at step {summary['steps']:,}; state saved in {run_dir}.")
        err.print(f"resume with: lstmtext train --resume {run_dir}")
        raise typer.Exit(143 if stop.reason == "SIGTERM" else 130)
    if output != "json":
        _print_summary(summary)


class _stop_on_signals:
    """First SIGINT/SIGTERM: finish the step, save, stop. A second one: leave at once (files are atomic)."""

    def __init__(self, stop: Any) -> None:
        self.stop = stop
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> None:
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum: int, frame: Any) -> None:
            import os

            if self.stop.reason is not None:
                os._exit(130 if signum == signal.SIGINT else 143)
            self.stop.request(signal.Signals(signum).name)
            sys.stderr.write(f"\n{signal.Signals(signum).name}: finishing the step and saving "
                             "(press Ctrl-C again to quit at once)\n")

        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, handler)

    def __exit__(self, *exc: Any) -> None:
        import signal

        for sig, old in self.previous.items():
            signal.signal(sig, old)


def _lm_dims(model: dict[str, Any] | None, init_from: Path | None, task: str, embed_dim: int | None,
             hidden_size: int | None, layers: int | None, last_layer_size: int = 0,
             output: dict[str, Any] | None = None) -> dict[str, Any]:
    """With --init-from (its ``model`` settings), the new model takes the language model's sizes (and a
    language model its output layer); conflicting flags are refused. ``output``: the output-layer flags typed
    on the command line (tie_weights, adaptive_softmax, cutoffs), as values."""
    if model is None:
        return {}
    if task == "classify" and model.get("last_layer_size"):
        raise usage_error(f"--init-from {init_from}: its last LSTM layer has a size of its own (--last-layer-size), "
                          "which a classifier's layers cannot take over", "pretrain the language model without it")
    if task == "classify" and model.get("reverse"):
        raise usage_error(f"--init-from {init_from} reads right to left (--reverse)",
                          "pass it as --init-backward-from, and a left-to-right model as --init-from")
    dims = {k: int(model[k]) for k in ("embed_dim", "hidden_size", "layers")}
    given = [("--embed-dim", "embed_dim", embed_dim), ("--hidden-size", "hidden_size", hidden_size),
             ("--layers", "layers", layers)]
    if task == "lm":  # a language model from a language model: the same network, every tensor copied
        dims["last_layer_size"] = int(model.get("last_layer_size") or 0)
        dims["tie_weights"] = bool(model.get("tie_weights", True))
        given.append(("--last-layer-size", "last_layer_size", last_layer_size or None))
        dims["cutoffs"] = list(model.get("cutoffs") or [])
        _refuse_another_output_layer(init_from, dims, output or {})
    for flag, key, value in given:
        if value is not None and value != dims[key]:
            raise usage_error(f"{flag} {value} conflicts with {init_from}, which has {dims[key]}",
                              f"drop {flag}: the new model takes the language model's sizes")
    return dims


def _refuse_another_output_layer(init_from: Path | None, dims: dict[str, Any], asked: dict[str, Any]) -> None:
    """A language model started from another takes its output layer (``dims``): a flag that would change it, and
    silently start its weights afresh, is refused."""
    keep = "drop it: the new model takes the language model's output layer"
    tied, adaptive, cutoffs = asked.get("tie_weights"), asked.get("adaptive_softmax"), asked.get("cutoffs")
    if tied is not None and tied != dims["tie_weights"]:
        raise usage_error(f"{'--tie-weights' if tied else '--no-tie-weights'} conflicts with {init_from}, whose "
                          f"output layer {'has weights of its own' if tied else 'is tied to its embedding'}", keep)
    if adaptive is not None and adaptive != bool(dims["cutoffs"]):
        flag, has = ("--adaptive-softmax", "a full") if adaptive else ("--full-softmax", "an adaptive")
        raise usage_error(f"{flag} conflicts with {init_from}, which has {has} softmax", keep)
    if cutoffs is not None and cutoffs != dims["cutoffs"]:
        has = ",".join(map(str, dims["cutoffs"])) if dims["cutoffs"] else "a full softmax"
        raise usage_error(f"--cutoffs {','.join(map(str, cutoffs))} conflicts with {init_from}, which has {has}", keep)


def _lm_config(path: Path, flag: str) -> dict[str, Any]:
    from lstmtext.checkpoint import check_weights, read_config

    config = read_config(path)
    if config["task"] != "lm":
        raise usage_error(f"{flag} {path} is not a language-model checkpoint",
                          "train one with lstmtext train --task lm")
    check_weights(path, config)  # before the corpus is read and tokenized, which can take minutes
    return config


def _check_backward(backward: Path | None, init_from: Path | None, forward: dict[str, Any] | None, tokenizer: Any,
                    task: str, bidirectional: bool | None) -> None:
    """--init-backward-from: a right-to-left language model of the shape (``forward``, its model settings)
    and ``tokenizer`` of the --init-from model."""
    if backward is None:
        return
    if task != "classify":
        raise usage_error("--init-backward-from is for --task classify", "drop it for a language model")
    if init_from is None:
        raise usage_error("--init-backward-from needs --init-from", "pass the left-to-right model it shares its "
                          "embedding with as --init-from")
    if bidirectional is False:
        raise usage_error("--init-backward-from needs a bidirectional classifier", "drop --no-bidirectional")
    model = _lm_config(backward, "--init-backward-from")["model"]
    if not model.get("reverse"):
        raise usage_error(f"--init-backward-from {backward} reads left to right",
                          f"train a backward model with --reverse --init-from {init_from} --freeze-embedding")
    for key in ("vocab_size", "embed_dim", "hidden_size", "layers", "last_layer_size"):
        if forward.get(key) != model.get(key):
            raise usage_error(f"--init-backward-from {backward} has {key.replace('_', ' ')} {model.get(key)}, "
                              f"--init-from {init_from} has {forward.get(key)}",
                              f"train it with --reverse --init-from {init_from} --freeze-embedding")
    if _lm_tokenizer(backward).to_json() != tokenizer.to_json():
        raise usage_error(f"--init-backward-from {backward} has another tokenizer than {init_from}",
                          f"train it with --reverse --init-from {init_from} --freeze-embedding")


def _lm_tokenizer(init_from: Path) -> Any:
    from lstmtext.tokenizers import FILENAME, load_tokenizer

    return load_tokenizer(Path(init_from) / FILENAME)


def _check_prepared_task(prepared: Any, task: str, path: Path) -> None:
    has_labels = bool(prepared.labels)
    if task == "classify" and not has_labels:
        raise usage_error(f"{path} was prepared for a language model, not a classifier",
                          "run lstmtext tokenize with --task classify")
    if task == "lm" and has_labels:
        raise usage_error(f"{path} was prepared for a classifier", "pass --task classify")


def _print_summary(summary: dict[str, Any]) -> None:
    from lstmtext.render import facts_table, out as stdout, summary_table

    stdout.print(summary_table(summary))
    rows = [
        ("steps", f"{summary['steps']:,} ({summary['epochs']:.2f} epochs, stopped by {summary['stopped_by']})"),
        ("tokens/second", f"{summary['tokens_per_s']:,.0f}"),
        ("wall time", f"{summary['seconds']:.1f} s on {summary['device']}"),
        ("parameters", f"{summary['parameters']:,}"),
    ]
    if summary["task"] == "classify":
        if summary.get("teachers"):
            rows.append(("distilled from", summary["teachers"]))
        rows += [("labels", ", ".join(summary["labels"])),
                 ("majority class", f"{summary['majority']:.1%} of train"),
                 ("truncated texts", f"{summary['truncated']:,} (longer than --max-length)")]
    if summary.get("decoder_loss"):  # --compile: compiled, or eager and why (a failed compile falls back)
        rows.append(("--compile", summary["decoder_loss"]))
    if summary.get("skipped_batches"):
        rows.append(("skipped batches", f"{summary['skipped_batches']:,} (non-finite loss, --on-nan skip)"))
    rows.append(("checkpoint", summary["run_dir"]))
    stdout.print(facts_table(rows))


