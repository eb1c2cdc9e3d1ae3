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
import torch.nn.functional as F

from lstmtext import __version__
from lstmtext.checkpoint import (CONFIG, FORMAT_VERSION, LAST_WEIGHTS, METRICS, WEIGHTS, append_jsonl,
                                 atomic_write_json, save_weights)
from lstmtext.config import ModelConfig, TrainConfig, to_dict
from lstmtext.data import LMBatches, Prepared
from lstmtext.errors import UserError, usage_error
from lstmtext.metrics import bits_per_char, perplexity
from lstmtext.models import build_model, count_parameters
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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    tensor = torch.from_numpy(array)
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


class LMTask:
    """Truncated BPTT over contiguous streams, with the LSTM state carried and detached."""

    name = "lm"

    def __init__(self, prepared: Prepared, cfg: TrainConfig, device: torch.device) -> None:
        self.prepared = prepared
        self.cfg = cfg
        self.device = device
        self.train = LMBatches(prepared.tokens("train"), cfg.batch_size, cfg.seq_len)
        self.state: Any = None

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train)

    @property
    def tokens_per_step(self) -> int:
        return self.train.tokens_per_batch

    def step_loss(self, model: torch.nn.Module, index: int, amp: Any) -> torch.Tensor:
        if index == 0:
            self.state = None
        x, y = (to_device(a, self.device) for a in self.train.get(index))
        state = None if self.state is None else tuple(s.detach() for s in self.state)
        with amp:
            logits, self.state = model(x, state)
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, split: str, amp: Any, max_tokens: int | None = None) -> dict[str, Any]:
        tokens = self.prepared.tokens(split)
        if max_tokens is not None:
            tokens = tokens[:max_tokens]
        bs = max(1, min(self.cfg.eval_batch_size, len(tokens) // (self.cfg.seq_len + 1) or 1))
        if len(tokens) < 2 * bs:
            return {}
        batches = LMBatches(tokens, bs, self.cfg.seq_len, drop_last=False)
        model.eval()
        total = torch.zeros((), device=self.device, dtype=torch.float64)
        count = 0
        state = None
        for i in range(len(batches)):
            x, y = (to_device(a, self.device) for a in batches.get(i))
            with amp:
                logits, state = model(x, state)
            total += F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum")
            count += y.numel()
        model.train()
        loss = float(total.item()) / max(count, 1)
        info = self.prepared.meta["splits"][split]
        chars = info["chars"] * count / max(info["tokens"], 1)
        return {"loss": loss, "ppl": perplexity(loss), "bpc": bits_per_char(loss, count, int(chars))}

    @staticmethod
    def better(new: dict[str, Any], best: dict[str, Any] | None) -> bool:
        return best is None or new["loss"] < best["loss"]

    def final_figures(self, model: torch.nn.Module, amp: Any, best_valid: dict[str, Any]) -> dict[str, Any]:
        valid_tokens = int(self.prepared.meta["splits"]["valid"]["tokens"])
        return {"train": self.evaluate(model, "train", amp, max(valid_tokens, 200_000)),
                "valid": best_valid or self.evaluate(model, "valid", amp),
                "test": self.evaluate(model, "test", amp)}


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


def train(run_dir: Path, prepared: Prepared, model_cfg: ModelConfig, train_cfg: TrainConfig,
          events: TrainEvents | None = None) -> dict[str, Any]:
    """Train a model on a prepared folder and write a checkpoint folder; returns the summary."""
    events = events or TrainEvents()
    device = resolve_device(train_cfg.device)
    seed_everything(train_cfg.seed)
    task = LMTask(prepared, train_cfg, device)
    model = build_model(model_cfg).to(device)
    opt = make_optimizer(model, train_cfg, device)
    per_epoch = task.steps_per_epoch
    total_steps = math.ceil(train_cfg.epochs * per_epoch)
    if train_cfg.max_steps is not None:
        total_steps = min(total_steps, train_cfg.max_steps)
    schedule = make_schedule(opt, train_cfg, total_steps)
    dtype = autocast_dtype(train_cfg.precision, device)
    amp = torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    config = run_config(model_cfg.task, model_cfg, train_cfg, prepared,
                        {"status": "training", "parameters": count_parameters(model)})
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
    history: list[dict[str, Any]] = []
    step = 0
    stopped_by = "steps"
    while step < total_steps:
        loss = task.step_loss(model, step % per_epoch, amp)
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
        if step % train_cfg.eval_every == 0 or last:
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
            history.append(record)
            events.evaluate(record)
            if isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau) and metrics:
                schedule.step(metrics["loss"])
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
               "parameters": count_parameters(model)}
    config.update({"status": "done", "result": summary})
    atomic_write_json(run_dir / CONFIG, config)
    events.end(summary)
    return summary
