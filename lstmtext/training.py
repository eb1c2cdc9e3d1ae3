"""One training loop for both tasks: AMP, clipping, LR schedule, periodic eval, best/last weights.

The loop never synchronises with the device per step: losses accumulate on the device and are
read back every ``log_every`` steps. Progress goes out through a ``TrainEvents`` object, so the
library prints nothing itself.
"""

from __future__ import annotations

import math
import random
import re
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstmtext import __version__
from lstmtext.checkpoint import (CONFIG, FORMAT_VERSION, LAST_WEIGHTS, METRICS, WEIGHTS, append_jsonl,
                                 atomic_write_json, save_weights)
from lstmtext.config import ModelConfig, TrainConfig, to_dict
from lstmtext.data import Prepared
from lstmtext.errors import UserError, usage_error
from lstmtext.models import build_model, count_parameters
from lstmtext.tasks import make_task
from lstmtext.tokenizers import save_tokenizer


class TrainEvents:
    """Callbacks the trainer emits; the CLI renders them, tests ignore them."""

    def start(self, info: dict[str, Any]) -> None: ...

    def step(self, info: dict[str, Any]) -> None: ...

    def evaluate(self, info: dict[str, Any]) -> None: ...

    def end(self, info: dict[str, Any]) -> None: ...


def resolve_device(spec: str) -> torch.device:
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", spec):
        raise usage_error(f"unknown --device {spec!r}", "use auto, cpu, cuda, cuda:N or mps")
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"--device {spec} was asked for, but no CUDA GPU is visible", "use --device cpu or auto")
        index = int(spec.split(":")[1]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise UserError(f"--device {spec}: only {torch.cuda.device_count()} GPU(s) visible")
    if spec == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps was asked for, but MPS is not available here", "use --device cpu or auto")
    return torch.device(spec)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """``auto`` is bf16 autocast on CUDA and full fp32 elsewhere."""
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def keep_freed_memory() -> None:
    """Stop glibc from handing big freed blocks back to the OS after every step.

    Each step allocates and frees the same large activations; by default glibc returns them to
    the kernel and faults them in again, which costs a large share of CPU time (see DESIGN.md).
    Like MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647; a no-op off glibc.
    """
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_max = -1, -4
    mallopt(m_mmap_max, 0)
    mallopt(m_trim_threshold, 2**31 - 1)  # mallopt takes an int


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr)
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, fused=device.type == "cuda")


def make_schedule(opt: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int) -> Any:
    if cfg.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.25 if cfg.optimizer == "sgd" else 0.5,
                                                          patience=0)
    warmup = min(cfg.warmup_steps, max(total_steps // 10, 1))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if cfg.schedule == "constant":
            return 1.0
        progress = min((step - warmup) / max(total_steps - warmup, 1), 1.0)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def run_config(task: str, model_cfg: ModelConfig, train_cfg: TrainConfig, prepared: Prepared,
               extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "task": task,
        "model": to_dict(model_cfg),
        "tokenizer": prepared.meta["tokenizer"],
        "train": to_dict(train_cfg),
        "data": {"prepared": str(prepared.path), "source": prepared.meta["source"],
                 "source_hash": prepared.meta["source_hash"], "splits": prepared.meta["splits"]},
        "versions": {"lstmtext": __version__, "torch": torch.__version__},
        **extra,
    }


def init_from_lm(model: torch.nn.Module, lm_dir: Path) -> int:
    """Copy a language model's embedding and LSTM weights into ``model`` where names and shapes match.

    Returns how many tensors were copied (the ULMFiT recipe: pretrain on text, fine-tune on labels).
    """
    from lstmtext.checkpoint import load_checkpoint

    lm = load_checkpoint(lm_dir, task="lm").model.state_dict()
    own = model.state_dict()
    copied = {k: v for k, v in lm.items() if (k.startswith("embedding.") or k.startswith("lstm."))
              and k in own and own[k].shape == v.shape}
    if "embedding.weight" not in copied:
        raise UserError(f"{lm_dir}: its embedding does not fit this classifier",
                        "use the language model's --embed-dim and vocabulary")
    model.load_state_dict(copied, strict=False)
    return len(copied)


def train(run_dir: Path, prepared: Prepared, model_cfg: ModelConfig, train_cfg: TrainConfig,
          events: TrainEvents | None = None, init_from: Path | None = None) -> dict[str, Any]:
    """Train a model on a prepared folder and write a checkpoint folder; returns the summary."""
    events = events or TrainEvents()
    device = resolve_device(train_cfg.device)
    if device.type == "cpu":
        keep_freed_memory()
    seed_everything(train_cfg.seed)
    task = make_task(model_cfg.task, prepared, train_cfg, device)
    model = build_model(model_cfg)
    transferred = init_from_lm(model, init_from) if init_from is not None else 0
    model.to(device)
    opt = make_optimizer(model, train_cfg, device)
    per_epoch = task.steps_per_epoch
    total_steps = math.ceil(train_cfg.epochs * per_epoch)
    if train_cfg.max_steps is not None:
        total_steps = min(total_steps, train_cfg.max_steps)
    schedule = make_schedule(opt, train_cfg, total_steps)
    eval_every = train_cfg.eval_every or per_epoch
    dtype = autocast_dtype(train_cfg.precision, device)
    amp = torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    extra: dict[str, Any] = {"status": "training", "parameters": count_parameters(model)}
    if model_cfg.task == "classify":
        extra.update(labels=prepared.labels, init_from=str(init_from) if init_from else None,
                     transferred_tensors=transferred)
    config = run_config(model_cfg.task, model_cfg, train_cfg, prepared, extra)
    save_tokenizer(prepared.tokenizer, run_dir / "tokenizer.json")
    atomic_write_json(run_dir / CONFIG, config)
    events.start({"steps": total_steps, "steps_per_epoch": per_epoch, "device": str(device),
                  "parameters": count_parameters(model), "precision": str(dtype or "fp32").replace("torch.", ""),
                  "tokens_per_step": task.tokens_per_step, "run_dir": str(run_dir)})

    model.train()
    started = time.perf_counter()
    loss_sum = torch.zeros((), device=device)
    window, window_start, window_tokens = 0, started, 0
    best: dict[str, Any] | None = None
    stale_evals = 0
    step = 0
    stopped_by = "steps"
    while step < total_steps:
        loss = task.step_loss(model, step, amp)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if train_cfg.clip > 0:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.clip)
        scaler.step(opt)
        scaler.update()
        if not isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
            schedule.step()
        loss_sum += loss.detach()
        step += 1
        window += 1
        window_tokens += task.tokens_per_step
        out_of_time = train_cfg.time_limit is not None and time.perf_counter() - started > train_cfg.time_limit
        last = step == total_steps or out_of_time
        if step % train_cfg.log_every == 0 or last:
            mean = float((loss_sum / window).item())
            now = time.perf_counter()
            if not math.isfinite(mean):
                raise UserError(f"the training loss became {mean} at step {step}",
                                "lower --lr, keep --clip on, or use --precision fp32")
            events.step({"step": step, "loss": mean, "lr": opt.param_groups[0]["lr"],
                         "tokens_per_s": window_tokens / max(now - window_start, 1e-9),
                         "epoch": step / per_epoch, "elapsed": now - started})
            loss_sum.zero_()
            window, window_start, window_tokens = 0, now, 0
        if step % eval_every == 0 or last:
            metrics = task.evaluate(model, "valid", amp)
            record = {"step": step, "epoch": round(step / per_epoch, 4), "elapsed": round(time.perf_counter() - started, 3),
                      "lr": opt.param_groups[0]["lr"], **{f"valid_{k}": v for k, v in metrics.items()}}
            improved = bool(metrics) and task.better(metrics, best)
            if improved or not metrics:
                best = metrics or best
                save_weights(run_dir / WEIGHTS, model.state_dict())
            save_weights(run_dir / LAST_WEIGHTS, model.state_dict())
            record["best"] = improved
            append_jsonl(run_dir / METRICS, record)
            events.evaluate(record)
            if isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau) and metrics:
                schedule.step(metrics["loss"])
            stale_evals = 0 if improved else stale_evals + 1
            if train_cfg.patience is not None and stale_evals >= train_cfg.patience and not last:
                stopped_by = "early stopping"
                break
        if out_of_time:
            stopped_by = "time limit"
            break

    elapsed = time.perf_counter() - started
    from lstmtext.checkpoint import load_weights

    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    model.load_state_dict(load_weights(run_dir / WEIGHTS, shapes))
    figures = task.final_figures(model, amp, best or {})
    summary = {"steps": step, "epochs": step / per_epoch, "seconds": elapsed, "stopped_by": stopped_by,
               "tokens_per_s": step * task.tokens_per_step / max(elapsed, 1e-9), "device": str(device),
               "figures": figures, "run_dir": str(run_dir), "level": prepared.level,
               "parameters": count_parameters(model), "task": model_cfg.task, **task.facts()}
    config.update({"status": "done", "result": summary})
    atomic_write_json(run_dir / CONFIG, config)
    events.end(summary)
    return summary
