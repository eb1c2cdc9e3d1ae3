"""One training loop for both tasks: AMP, clipping, periodic eval, best/last weights, resume (its optimizers and
schedules are optim.py's, its device and precision devices.py's; starting from a language model is transfer.py's).

The loop never synchronises with the device per step: losses accumulate on the device and are
read back every ``log_every`` steps. Progress goes out through a ``TrainEvents`` object, so the
library prints nothing itself.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from lstmtext import __version__
from lstmtext.adaptive import frequency_order
from lstmtext.checkpoint import (CONFIG, FORMAT_VERSION, LAST_WEIGHTS, METRICS, TRAIN_LOG, WEIGHTS, append_jsonl,
                                 atomic_write_json, save_weights, truncate_log)
from lstmtext.config import ModelConfig, TrainConfig, check_precision, parse_save_every, to_dict
from lstmtext.data import Prepared
from lstmtext.devices import (autocast_dtype, autocast_for, cpu_threads, keep_freed_memory, precision_name,
                              resolve_device, seed_everything)
from lstmtext.errors import UserError, usage_error
from lstmtext.graphs import BufferedClassifyStep, BufferedLMStep, clipped_step, graph_blocker
from lstmtext.models import build_model, count_parameters
from lstmtext.optim import (averaged_weights, current_lr, make_optimizer, make_schedule, nt_asgd_trigger,
                            warmup_steps)
from lstmtext.tasks import CompiledDecoderLoss, make_task
from lstmtext.tokenizers import save_tokenizer
from lstmtext.transfer import init_from_lm, set_embedding


class TrainEvents:
    """Callbacks the trainer emits; the CLI renders them, tests ignore them."""

    def start(self, info: dict[str, Any]) -> None: ...

    def step(self, info: dict[str, Any]) -> None: ...

    def advance(self, step: int) -> None:
        """Every step (no figures: those need a host synchronisation, so come with ``step``)."""

    def scoring(self) -> None:
        """The final scoring of the saved weights on the splits begins."""

    def note(self, text: str) -> None:
        """Something the run did that its settings do not show (a plateau's cut of the learning rate)."""

    def evaluate(self, info: dict[str, Any]) -> None: ...

    def end(self, info: dict[str, Any]) -> None: ...

    def counting(self, description: str, total: int, unit: str) -> Any:
        """A context giving ``done(n)`` for work of ``total`` items before the first step."""
        return nullcontext(lambda n: None)


SKIPS_IN_A_ROW = 50  # --on-nan skip: this many non-finite losses one after another, and the weights have diverged


def run_config(task: str, model_cfg: ModelConfig, train_cfg: TrainConfig, prepared: Prepared,
               extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "task": task,
        "model": to_dict(model_cfg),
        "tokenizer": prepared.meta["tokenizer"],
        "train": to_dict(train_cfg),
        "data": {"prepared": str(prepared.path), "prepared_abs": str(prepared.path.resolve()),
                 "source": prepared.meta["source"], "source_abs": prepared.meta.get("source_path"),
                 "source_hash": prepared.meta["source_hash"], "settings": prepared.meta.get("settings"),
                 "splits": prepared.meta["splits"]},
        "versions": {"lstmtext": __version__, "torch": torch.__version__},
        **extra,
    }


def optimizer_step(loss: torch.Tensor, model: torch.nn.Module, opt: torch.optim.Optimizer, scaler: Any,
                   clip: float) -> None:
    """Backward, optional clipping and the update, with no host synchronisation."""
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if not scaler.is_enabled():
        clipped_step(opt, [p for p in model.parameters() if p.requires_grad], clip)
        return
    if clip > 0:
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    scaler.step(opt)
    scaler.update()


def step_runner(task: Any, model: torch.nn.Module, opt: torch.optim.Optimizer, scaler: Any, cfg: TrainConfig,
                dtype: torch.dtype | None, graphed: bool, on_nan: str) -> Any:
    """The training step as a function of the step number, returning its loss (a device tensor), or
    None for a batch skipped under ``--on-nan skip``. ``graphed``: the whole step as a CUDA graph."""
    if graphed:
        buffered = BufferedLMStep if task.name == "lm" else BufferedClassifyStep
        return buffered(task, model, opt, cfg.clip, dtype, capture=task.device.type == "cuda")
    amp = autocast_for(dtype, task.device)

    def run(step: int) -> torch.Tensor | None:
        loss = task.step_loss(model, step, amp)
        if on_nan == "skip" and not bool(torch.isfinite(loss)):  # one sync per step: the price of skipping
            return None
        optimizer_step(loss, model, opt, scaler, cfg.clip)
        return loss

    return run

T = TypeVar("T")


class StopRequest:
    """Set (by a signal handler, or a test) to make the trainer save its state and return. While ``at_once`` names
    what runs (a validation, or the final scoring: work that changes no weight and that the run can do without)
    the handler interrupts it at once instead (KeyboardInterrupt); the trainer then saves the state of the step
    before it and stops, or ends the run with the figures it has."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.at_once: str | None = None

    def request(self, reason: str) -> None:
        self.reason = reason


def _unless_interrupted(stop: StopRequest, what: str, work: Callable[..., T], *args: Any) -> T | None:
    """``work(*args)``, or None when a signal stops it (``stop.at_once`` is set while it runs). The try around
    the finally catches a signal that lands in the finally itself, before ``at_once`` is cleared; after the first
    signal a second one exits the process (the handler), so nothing else can raise here."""
    try:
        try:
            stop.at_once = what
            return work(*args)
        finally:
            stop.at_once = None
    except KeyboardInterrupt:
        return None


def _steps_planned(cfg: TrainConfig, per_epoch: int) -> int:
    if cfg.epochs is None:  # --max-steps alone, however many epochs that takes
        return int(cfg.max_steps or 0)
    total = math.ceil(cfg.epochs * per_epoch)
    return min(total, cfg.max_steps) if cfg.max_steps is not None else total


def train(run_dir: Path, prepared: Prepared, model_cfg: ModelConfig, train_cfg: TrainConfig,
          events: TrainEvents | None = None, init_from: Path | None = None, resume: bool = False,
          stop: StopRequest | None = None, save_every: str = "10m", on_nan: str = "stop",
          init_backward: Path | None = None, pretrained_vocab: int = 0,
          on_start: Callable[[], None] | None = None,
          embed_vectors: tuple[np.ndarray, np.ndarray, dict[str, Any]] | None = None,
          fresh_patience: bool = False) -> dict[str, Any]:
    """Train a model on a prepared folder and write a checkpoint folder; returns the summary.

    ``init_from`` (and for a bidirectional classifier's backward direction ``init_backward``): start
    from these language models' weights (``init_from_lm``; ``pretrained_vocab``, with ``--extend-vocab``:
    the size of their vocabulary, which the prepared tokenizer extends). ``embed_vectors`` (--embed-init: rows,
    which of them were found, and what they cover): pretrained vectors for the embedding. A classifier with
    ``train_cfg.distill_from`` learns from those runs' targets too (``distill.py``), computed here. With
    ``resume`` the run continues from ``run_dir``'s saved state (and its saved targets). When ``stop`` is set
    during training, the state is saved and the summary says ``stopped_by: interrupted``. ``on_start`` is called
    once everything the run starts from has loaded, before the first file is written (--overwrite clears the old run
    there, so that a broken --init-from or teacher leaves it as it was). ``fresh_patience``: a resumed run that
    early stopping ended, given more to train, counts its --patience from naught again.
    """
    from lstmtext.state import load_state, save_state

    events = events or TrainEvents()
    stop = stop or StopRequest()
    if on_nan not in ("stop", "skip"):
        raise usage_error(f"unknown --on-nan {on_nan!r}", "choose stop or skip")
    save_steps, save_seconds = parse_save_every(save_every)
    device = resolve_device(train_cfg.device)
    check_precision(train_cfg.precision, device.type)
    dtype = autocast_dtype(train_cfg.precision, device)  # before anything is loaded or cleared: bf16 may be refused
    saved_config = json.loads((run_dir / CONFIG).read_text(encoding="utf-8")) if resume else {}
    threads, threads_note = None, None
    if device.type == "cpu":
        keep_freed_memory()
        saved = saved_config.get("cpu_threads")
        threads, threads_note = cpu_threads(saved if isinstance(saved, int) else None, resumed=resume)
    seed_everything(train_cfg.seed)
    task = make_task(model_cfg.task, prepared, train_cfg, device, model_cfg.reverse)
    model = build_model(model_cfg)
    if model_cfg.task == "lm" and train_cfg.optimizer == "adamw" and prepared.level != "char":
        # AdamW's word and subword models start from embeddings of N(0, 0.3), not the ±0.1 of the SGD recipes
        # (Zaremba's, AWD's), whose tied decoder's logits start too flat for AdamW: the default word model on
        # corpora/tales.txt learnt word frequencies only (valid loss 6.86 nats; 5.97 so; BPE 7.00, 6.30), and
        # PTB in 150 s (ptb-word-cpu --optimizer adamw) reached test perplexity 137.8 (117.3). Not at char level,
        # where shakespeare-char-cpu's 10 minutes ended at valid loss 1.458 so (1.424 before). Resumed or
        # --init-from weights replace these. (docs/benchmarks.md, "Embeddings for AdamW")
        torch.nn.init.normal_(model.embedding.weight, 0.0, 0.3)
    if model_cfg.cutoffs and not resume:  # the clusters hold the tokens by their frequency in training (a language
        # model started from another keeps that one's order with its weights: init_from_lm copies it)
        model.adaptive.set_order(frequency_order(prepared.tokens("train"), model_cfg.vocab_size))
    if embed_vectors is not None and not resume:
        set_embedding(model.embedding, *embed_vectors[:2])
    transferred = init_from_lm(model, init_from, init_backward, grow=pretrained_vocab > 0) \
        if init_from is not None and not resume else 0
    if init_backward is not None:
        task.pretrained += ("bwd.",)
    distilling = bool(train_cfg.distill_from) and model_cfg.task == "classify"
    if distilling:
        task.soft = _teacher_probs(run_dir, prepared, train_cfg, device, resume, events)
    if on_start is not None:
        on_start()
    if distilling and not resume:
        from lstmtext.distill import save_targets

        save_targets(run_dir, task.soft)  # kept, so that the run resumes without its teachers
    if train_cfg.freeze_embedding:  # before the optimizer is made, so that it never holds the table
        model.embedding.weight.requires_grad_(False)
    model.to(device)
    if train_cfg.compile and model_cfg.task == "lm":
        task.head = CompiledDecoderLoss(device, dtype)
    not_graphed = graph_blocker(train_cfg.optimizer, device, dtype, on_nan, train_cfg.cuda_graphs)
    opt = make_optimizer(model, train_cfg, device, capturable=not_graphed is None,
                         pretrained=task.pretrained if init_from is not None and model_cfg.task == "classify" else ())
    per_epoch = task.steps_per_epoch
    total_steps = _steps_planned(train_cfg, per_epoch)
    schedule = make_schedule(opt, train_cfg, total_steps)
    plateau = isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau)
    eval_every = train_cfg.eval_every or per_epoch
    amp = autocast_for(dtype, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    step, best, stale_evals, skipped, elapsed_before = 0, None, 0, 0, 0.0
    best_step: int | None = None  # the step whose weights model.safetensors holds
    history: list[float] = []  # validation losses, for NT-ASGD's trigger
    if resume:
        config = saved_config
        config["train"] = to_dict(train_cfg)
        state, task_tensors = load_state(run_dir, model, opt, schedule, scaler, device)
        task.restore(task_tensors)
        step, best, stale_evals = state["step"], state.get("best"), state.get("stale_evals", 0)
        if fresh_patience:  # a run early stopping ended, given more steps: --patience counts again from here
            stale_evals = 0
        best_step = state.get("best_step")
        for log in (TRAIN_LOG, METRICS):  # the steps after the last save are trained, logged and validated again
            truncate_log(run_dir / log, step)  # (and a line a killed run left torn would join the next one)
        skipped, elapsed_before = state.get("skipped_batches", 0), state.get("elapsed", 0.0)
        history = list(state.get("valid_history", []))
        if step >= total_steps:
            by_steps = total_steps == train_cfg.max_steps
            bound = (f"--max-steps {train_cfg.max_steps}" if by_steps
                     else f"--epochs {train_cfg.epochs:g} ({total_steps:,} step{'s' * (total_steps != 1)})")
            raise UserError(f"{run_dir} has trained {step:,} steps, {'more than' if step > total_steps else 'all'} "
                            f"{bound} allows", f"pass --max-steps above {step:,} to train further" if by_steps
                            else f"pass a larger --epochs: the run is at epoch {step / per_epoch:.2f}")
        if train_cfg.time_spent(elapsed_before):  # else it trains a step more on every resume
            spent = math.ceil(elapsed_before * 10) / 10  # one figure in both: 31.4 s, above 31.4
            raise UserError(f"{run_dir} has trained for {spent:,.1f} s, all --time-limit "
                            f"{train_cfg.time_limit:g} allows, which counts the run's whole time",
                            f"pass a --time-limit above {spent:,.1f} seconds to train further")
    else:
        extra: dict[str, Any] = {"status": "training", "parameters": count_parameters(model), "cpu_threads": threads}
        if init_from is not None or model_cfg.task == "classify":
            extra.update(init_from=str(init_from) if init_from else None, transferred_tensors=transferred)
        if pretrained_vocab and init_from is not None:
            extra.update(extend_vocab={"pretrained": pretrained_vocab,
                                       "added": prepared.tokenizer.vocab_size - pretrained_vocab})
        if init_backward is not None:
            extra.update(init_backward_from=str(init_backward))
        if embed_vectors is not None:
            extra.update(embed_init=embed_vectors[2])
        if model_cfg.task == "classify":
            extra.update(labels=prepared.labels)
        config = run_config(model_cfg.task, model_cfg, train_cfg, prepared, extra)
        save_tokenizer(prepared.tokenizer, run_dir / "tokenizer.json")
    config["status"] = "training"
    atomic_write_json(run_dir / CONFIG, config)
    run_step = step_runner(task, model, opt, scaler, train_cfg, dtype, not_graphed is None, on_nan)
    parameters = count_parameters(model)
    events.start({"steps": total_steps, "steps_per_epoch": per_epoch, "device": str(device), "first_step": step,
                  "parameters": parameters, "precision": precision_name(dtype),
                  "cuda_graph": not_graphed is None, "tokens_per_step": task.tokens_per_step, "run_dir": str(run_dir),
                  "batch_size": train_cfg.batch_size, **task.shape_used(),
                  "time_left": None if train_cfg.time_limit is None else train_cfg.time_limit - elapsed_before,
                  "resumed": resume, "init_from": None if init_from is None or resume else str(init_from),
                  "transferred": transferred, "threads_note": threads_note, "advice": [] if resume else run_advice(
                      model_cfg, train_cfg, prepared, parameters, total_steps, per_epoch, eval_every),
                  **({} if plateau else {"warmup_steps": (train_cfg.warmup_steps,
                                                          warmup_steps(train_cfg, total_steps))})})

    started = time.perf_counter()
    last_save = started

    def checkpoint_state() -> None:
        nonlocal last_save
        with averaged_weights(model, opt):
            save_weights(run_dir / LAST_WEIGHTS, model.state_dict())
        save_state(run_dir, step, model, opt, schedule, scaler, task.state_tensors(),
                   {"best": best, "best_step": best_step, "stale_evals": stale_evals, "skipped_batches": skipped,
                    "elapsed": elapsed_before + time.perf_counter() - started, "epoch": step / per_epoch,
                    "valid_history": history})
        last_save = time.perf_counter()

    model.train()
    window_losses = torch.zeros(train_cfg.log_every, device=device)
    window, window_start, window_tokens, window_paused = 0, started, 0, 0.0  # paused: evaluating, saving
    # what ends the run unless something comes first: its --max-steps, or its --epochs
    stopped_by = "steps" if total_steps == train_cfg.max_steps else "epochs"
    try:
        def check_finite() -> list[float]:
            """The window's losses, read back; a non-finite one stops the run before anything is validated or
            saved from weights it may have spoilt (the losses are read only here: no per-step host sync)."""
            losses = window_losses[:window].tolist()
            bad = [i for i, v in enumerate(losses) if not math.isfinite(v)]
            if bad:
                saved = read_saved_step(run_dir)
                raise UserError(f"the training loss became {losses[bad[0]]} at step {step - window + bad[0] + 1}; "
                                f"the last good state is {'step ' + str(saved) if saved else 'not saved yet'} in "
                                f"{run_dir}", "train again with a lower --lr or --precision fp32 (--overwrite), or "
                                "with --on-nan skip to skip such batches")
            return losses

        in_a_row = 0  # batches skipped one after another (--on-nan skip)
        while step < total_steps:
            loss = run_step(step)
            step += 1
            if loss is None:  # skipped: the checks below (stop, time, validation, saving) still run
                skipped, in_a_row = skipped + 1, in_a_row + 1
                task.skipped()
                if in_a_row >= SKIPS_IN_A_ROW:
                    raise UserError(f"the last {in_a_row} batches all had a non-finite loss (step {step}): the "
                                    "weights have diverged, and skipping cannot help",
                                    "train again with a lower --lr or --precision fp32 (--overwrite)")
            else:
                in_a_row = 0
                if not plateau:
                    schedule.step()
                window_losses[window % train_cfg.log_every] = loss.detach()
                window += 1
                window_tokens += task.tokens_per_step
            now = time.perf_counter()
            # the run's training time, a resumed run's before it included: --time-limit is a budget for the run
            out_of_time = train_cfg.time_limit is not None and elapsed_before + now - started > train_cfg.time_limit
            last = step == total_steps or out_of_time or stop.reason is not None
            if window and (step % train_cfg.log_every == 0 or last):  # at multiples of it, after --resume too
                losses = check_finite()
                logged = {"step": step, "loss": sum(losses) / len(losses), "lr": current_lr(opt),
                          "tokens_per_s": window_tokens / max(now - window_start - window_paused, 1e-9),
                          "epoch": step / per_epoch, "elapsed": elapsed_before + now - started}
                append_jsonl(run_dir / TRAIN_LOG, logged, sync=False)
                events.step(logged)
                window, window_start, window_tokens, window_paused = 0, time.perf_counter(), 0, 0.0
            else:  # a slow step (a big model on a CPU) moves the count, not only each --log-every steps
                events.advance(step)
            evaluated = False
            pause_start = time.perf_counter()
            due = (save_steps is not None and step % save_steps == 0) or \
                (save_seconds is not None and time.perf_counter() - last_save >= save_seconds)
            validate = step % eval_every == 0 or (last and stop.reason is None)
            if window and (validate or due or stop.reason is not None or out_of_time):
                check_finite()  # nothing is validated or saved from spoilt weights
            metrics = None  # None when not validated, or when a signal stopped the validation (the state is saved)
            if validate:
                with averaged_weights(model, opt):
                    metrics = _unless_interrupted(stop, "the validation", task.evaluate, model, "valid", amp)
                    improved = bool(metrics) and task.better(metrics, best)
                    if improved or (metrics == {} and best is None):
                        best, best_step = metrics or best, step
                        save_weights(run_dir / WEIGHTS, model.state_dict())
            if metrics is not None:
                record = {"step": step, "epoch": round(step / per_epoch, 4),
                          "elapsed": round(elapsed_before + time.perf_counter() - started, 3),
                          "lr": current_lr(opt), **{f"valid_{k}": v for k, v in metrics.items()}}
                if metrics and nt_asgd_trigger(opt, history, metrics["loss"]):
                    record["averaging_from"] = step
                if metrics:
                    history.append(metrics["loss"])
                record["best"] = improved
                append_jsonl(run_dir / METRICS, record)
                events.evaluate(record)
                if plateau and metrics:
                    schedule.step(metrics["loss"])
                    if current_lr(opt) < record["lr"]:
                        events.note(f"step {step:,}: validation stalled, so the plateau schedule cuts the learning "
                                    f"rate to {current_lr(opt):.3g}")
                if metrics:  # (a corpus without a valid split gives none: there is nothing to be patient about)
                    stale_evals = 0 if improved else stale_evals + 1
                    if train_cfg.patience is not None and stale_evals >= train_cfg.patience and not last:
                        stopped_by = "early stopping"
                evaluated = True
            if evaluated or due or stop.reason is not None or out_of_time:
                checkpoint_state()
            window_paused += time.perf_counter() - pause_start
            if stop.reason is not None:
                stopped_by = "interrupted"
                break
            if out_of_time:
                stopped_by = "time limit"
                break
            if stopped_by == "early stopping":
                break
    except torch.cuda.OutOfMemoryError:
        shape = f"--batch-size {train_cfg.batch_size}" + (f" x --seq-len {train_cfg.seq_len}"
                                                          if model_cfg.task == "lm" else "")
        raise UserError(f"the device ran out of memory at step {step} with {shape}",
                        "lower --batch-size (or --seq-len / --max-length), then --resume from the last save") from None

    elapsed = elapsed_before + time.perf_counter() - started
    summary = {"steps": step, "epochs": step / per_epoch, "seconds": elapsed, "stopped_by": stopped_by,
               # the whole run's, as "seconds" is (a resumed run's time and steps before included)
               "tokens_per_s": step * task.tokens_per_step / max(elapsed, 1e-9), "device": str(device),
               "run_dir": str(run_dir), "run_dir_abs": str(Path(run_dir).resolve()),  # (a script may cd elsewhere)
               "level": prepared.level, "parameters": parameters, "task": model_cfg.task,
               "skipped_batches": skipped, "best_step": best_step,
               "step_mode": getattr(run_step, "mode", f"eager ({not_graphed})"),
               "vocab_size": model_cfg.vocab_size, "lr": train_cfg.lr,
               **({"embed_init": config["embed_init"]} if config.get("embed_init") else {}),
               **task.facts()}
    if stopped_by == "interrupted":
        config.update({"status": "interrupted", "result": {**summary, "figures": {}}})
        atomic_write_json(run_dir / CONFIG, config)
        summary["figures"] = {}
        events.end(summary)
        return summary
    from lstmtext.checkpoint import load_weights

    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    model.load_state_dict(load_weights(run_dir / WEIGHTS, shapes))
    # the weights and state are saved: a signal stops the scoring, not a step
    scoring = time.perf_counter()
    events.scoring()
    figures = _unless_interrupted(stop, "the final scoring", task.final_figures, model, amp, best or {})
    summary["scoring_seconds"] = time.perf_counter() - scoring
    if figures is None:  # the run is trained; lstmtext evaluate scores it later
        summary.update(figures={"valid": best} if best else {}, scoring="interrupted")
    else:
        summary["figures"] = figures
    config.update({"status": "done", "result": summary})
    atomic_write_json(run_dir / CONFIG, config)
    events.end(summary)
    return summary


def run_advice(model_cfg: ModelConfig, train_cfg: TrainConfig, prepared: Prepared, parameters: int, total_steps: int,
               per_epoch: int, eval_every: int) -> list[tuple[str, str]]:
    """What a run's settings will not do, said before it starts: ("warning" or "note", text) each. A model
    far larger than its text, a run of a handful of steps, --ema averaging over more steps than the run has, and
    what needs a validation split where there is none (or where the run validates only at its end)."""
    advice: list[tuple[str, str]] = []
    splits = prepared.meta["splits"]
    unit = "tokens" if model_cfg.task == "lm" else "texts"
    train_tokens = int(splits["train"]["tokens"])
    if train_tokens and parameters > 50 * train_tokens:
        advice.append(("warning", f"the model has {parameters:,} parameters for {train_tokens:,} training tokens: "
                                  "it can learn the text by heart rather than its patterns; a smaller --hidden-size "
                                  "(or --layers), or more text, generalises better"))
    if train_cfg.max_steps is None and total_steps < 100:  # (a --time-limit can only make it shorter)
        advice.append(("note", f"the whole run is {total_steps:,} step{'s' * (total_steps != 1)} ({per_epoch:,} an "
                               f"epoch): a small corpus gives few; a larger --epochs, or --max-steps, trains more"))
    horizon = round(1 / (1 - train_cfg.ema)) if train_cfg.ema else 0
    if horizon and total_steps < horizon:
        advice.append(("note", f"--ema {train_cfg.ema:g} averages over about {horizon:,} steps, more than the run's "
                               f"{total_steps:,}, so its average holds much of the early training; a smaller decay "
                               f"(such as {1 - 10 / max(total_steps, 20):.2f}), or --ema 0, suits a run this short"))
    if train_cfg.freeze_epochs and train_cfg.freeze_epochs * per_epoch >= total_steps:
        advice.append(("warning", f"--freeze-epochs {train_cfg.freeze_epochs} keeps the pretrained layers frozen for "
                                  f"the whole run ({total_steps / per_epoch:.3g} epochs): only the new head learns; "
                                  "a --freeze-epochs below --epochs lets them learn afterwards"))
    valid_tokens, valid_unk = int(splits["valid"].get("tokens", 0)), int(splits["valid"].get("unk", 0))
    train_unk = int(splits["train"].get("unk", 0))
    if model_cfg.task == "lm" and valid_tokens and valid_unk > 0.2 * valid_tokens and train_unk < 0.05 * max(
            train_tokens, 1):  # (a train split of many <unk> has its own warning: a vocabulary that misses the text)
        advice.append(("warning", f"{valid_unk / valid_tokens:.0%} of the valid split's tokens are <unk> (words the "
                                  "vocabulary lacks), which are easy to predict: the figures flatter the model; a "
                                  "subword level (--level subword) reads every word"))
    no_valid = int(splits["valid"].get(unit, splits["valid"]["tokens"])) == 0
    needs = [what for what, used in (("--patience", train_cfg.patience is not None),
                                     ("the plateau schedule", train_cfg.schedule == "plateau"),
                                     ("ASGD's switch to averaging", train_cfg.optimizer == "asgd")) if used]
    if needs and no_valid:
        advice.append(("warning", f"the corpus has no valid split, so {' and '.join(needs)} cannot act: they follow "
                                  "the validation loss (give a --valid-fraction, or a corpus with a valid split)"))
    elif train_cfg.patience is not None and eval_every >= total_steps:
        advice.append(("warning", f"--patience {train_cfg.patience} cannot act: the run validates only at its end "
                                  f"(every {eval_every:,} steps, of {total_steps:,}); a smaller --eval-every"))
    return advice


def _teacher_probs(run_dir: Path, prepared: Prepared, cfg: TrainConfig, device: torch.device,
                   resume: bool, events: TrainEvents) -> np.ndarray:
    """The teachers' targets: those the run started with when it resumes, else computed now (with a bar; train
    saves them in the run folder)."""
    from lstmtext.distill import load_targets, teacher_targets

    texts = int(prepared.meta["splits"]["train"]["texts"])
    if resume:
        return load_targets(run_dir, texts, len(prepared.labels))
    runs = [Path(p) for p in cfg.distill_from]
    with events.counting("teachers label", texts * len(runs), "texts") as done:
        return teacher_targets(runs, prepared, cfg.distill_temperature, device, done)


def read_saved_step(run_dir: Path) -> int | None:
    try:
        return int(json.loads((run_dir / "state.json").read_text(encoding="utf-8"))["step"])
    except (OSError, ValueError, KeyError):
        return None
