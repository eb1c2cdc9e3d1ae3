"""Optimizers and learning-rate schedules: fused AdamW and SGD, NT-ASGD's averaged SGD, --ema's moving average
of the weights, and the warm-up and cosine (or plateau) schedule.

Every update runs without a host synchronisation, so that a whole training step can be captured as one
CUDA graph: learning rates and averaging weights are device tensors where a graph needs them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.optim.sgd import sgd

from lstmtext.config import TrainConfig
from lstmtext.graphs import tensor_learning_rates


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device,
                   capturable: bool = False, pretrained: tuple[str, ...] = ()) -> torch.optim.Optimizer:
    """The optimizer ``cfg`` names; ``capturable``: safe inside a CUDA graph, with its learning rate
    a device tensor (all three are fused where torch has the kernels: CUDA and the CPU).

    Parameters whose names start with one of ``pretrained`` learn at ``cfg.pretrained_lr`` times the
    rate (ULMFiT's discriminative fine-tuning), in groups of their own after the others, so that the
    first group's rate is still ``--lr``'s. At 1 there is no split: the groups are those of a run
    made before the option existed, and such a run resumes."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    slow = pretrained if cfg.pretrained_lr != 1.0 else ()  # no name starts with one of no prefixes
    parts = [([p for n, p in named if not n.startswith(slow)], cfg.lr),
             ([p for n, p in named if n.startswith(slow)], cfg.lr * cfg.pretrained_lr)]
    fused = fused_kernels(device) or None
    decay = cfg.decay
    groups = []
    for params, lr in parts:
        if cfg.optimizer == "adamw" or decay:  # matrices decay; biases and gains do not
            groups += [{"params": [p for p in params if p.dim() >= 2], "lr": lr, "weight_decay": decay},
                       {"params": [p for p in params if p.dim() < 2], "lr": lr, "weight_decay": 0.0}]
        else:  # one group, as SGD runs had before they took a decay: they still resume
            groups.append({"params": params, "lr": lr, "weight_decay": 0.0})
    groups = [group for group in groups if group["params"]]
    if cfg.optimizer == "sgd":  # fused: one kernel, which takes the clip factor (and, captured, the rate) as tensors
        opt: torch.optim.Optimizer = torch.optim.SGD(groups, lr=cfg.lr, fused=fused)
    elif cfg.optimizer == "asgd":  # plain SGD steps until NT-ASGD's trigger sets t0
        opt = AveragedSGD(groups, lr=cfg.lr, fused=fused)
    else:
        opt = adamw(groups, cfg.lr, device, capturable)
    if capturable:
        tensor_learning_rates(opt)
    if cfg.ema:
        WeightAverage(opt, cfg.ema)
    return opt



def fused_kernels(device: torch.device) -> bool:
    """Whether torch has fused optimizer kernels for ``device``: CUDA and (since torch 2.4) the CPU."""
    return device.type in ("cuda", "cpu")



def adamw(params: list, lr: float, device: torch.device, capturable: bool = False) -> torch.optim.AdamW:
    """AdamW with fused kernels where torch has them. On 2 CPU cores the fused step took 0.12 s per
    SST-2 epoch against 0.58 s for foreach."""
    fused = fused_kernels(device)
    return torch.optim.AdamW(params, lr=lr, fused=fused, foreach=None if fused else True, capturable=capturable)



def current_lr(opt: torch.optim.Optimizer) -> float:
    """The first group's learning rate as a number (a capturable optimizer keeps it as a tensor)."""
    return float(opt.param_groups[0]["lr"])



ASGD_NOT_YET = 1e15  # ASGD's t0 before the trigger: averaging has not started
NONMONO = 5  # NT-ASGD: start averaging when validation is worse than the best of all but the last 5



class AveragedSGD(torch.optim.Optimizer):
    """NT-ASGD's optimizer: plain SGD steps and, from step ``t0 + 1`` on, the running mean of the
    weights after each step, kept as each parameter's ``ax`` (the names torch.optim.ASGD uses).

    Merity et al. use ``torch.optim.ASGD`` with ``lambd=0``, which does the same. But its step reads
    a tensor back to the host for every parameter (``mu.item()``), so it cannot be captured in a CUDA
    graph, and on a GPU it waits for the device at each of those reads. Here the update is fused SGD,
    which takes the learning rate and the clip factor as tensors. The average is three foreach ops
    with its weight 1 / (step - t0) computed on the device. ``t0`` is a host number that changes only
    once, at the trigger, and ``phase`` tells a CUDA-graph replayer to capture the step again then.
    """

    def __init__(self, params: Any, lr: float, t0: float = ASGD_NOT_YET, fused: bool | None = None) -> None:
        super().__init__(params, {"lr": lr, "t0": t0, "fused": fused, "weight_decay": 0.0})

    @property
    def phase(self) -> bool:
        """Whether the weights are being averaged (a captured step must differ before and after)."""
        return self.param_groups[0]["t0"] < ASGD_NOT_YET

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # noqa: ARG002 (the Optimizer interface)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            for p in params:
                state = self.state[p]
                if not state:
                    state.update(step=torch.zeros((), device=p.device), ax=torch.zeros_like(p))
                elif state["step"].device != p.device:  # loaded from a state saved by torch.optim.ASGD
                    state["step"] = state["step"].to(p.device, torch.float32)
            sgd(params, [p.grad for p in params], [None] * len(params), fused=self.defaults["fused"],
                grad_scale=getattr(self, "grad_scale", None), weight_decay=group.get("weight_decay", 0.0),
                momentum=0.0, lr=group["lr"],
                dampening=0.0, nesterov=False, maximize=False)
            steps = [self.state[p]["step"] for p in params]
            torch._foreach_add_(steps, 1)
            if group["t0"] < ASGD_NOT_YET:  # ax += (p - ax) / (step - t0): the mean since t0
                weight = 1.0 / torch.clamp(steps[0] - group["t0"], min=1.0)
                averages = [self.state[p]["ax"] for p in params]
                differences = torch._foreach_sub(params, averages)
                torch._foreach_mul_(differences, weight)
                torch._foreach_add_(averages, differences)



class WeightAverage:
    """``--ema DECAY``: after each update, an exponential moving average of the weights, kept as each
    parameter's ``ax`` in the optimizer's state (where NT-ASGD keeps its mean), so that it is saved,
    resumed and swapped in for validation and the checkpoints by ``averaged_weights`` the same way.

    A parameter's first n updates are averaged with weight max(1 / n, 1 - DECAY): the plain mean of
    the weights so far, until it is older than the EMA's horizon (timm's warm-up, without its bias
    toward the starting weights). Each parameter counts its own updates, so layers frozen by
    ``--freeze-epochs`` join the average when they start to learn. Foreach ops with the weights
    computed on the device: no host synchronisation, so the update stays inside a CUDA graph.
    """

    def __init__(self, opt: torch.optim.Optimizer, decay: float) -> None:
        self.floor = 1.0 - decay
        opt.register_step_post_hook(self)
        opt.weight_average = self  # type: ignore[attr-defined]

    @torch.no_grad()
    def __call__(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:  # noqa: ARG002 (the hook's signature)
        params = [p for group in opt.param_groups for p in group["params"] if p.grad is not None]
        if not params:
            return
        for p in params:
            state = opt.state[p]
            if "ax" not in state:  # the first update this parameter takes (eagerly: never inside a capture)
                state["ax"], state["ax_updates"] = p.detach().clone(), torch.zeros((), device=p.device)
        counts = [opt.state[p]["ax_updates"] for p in params]
        torch._foreach_add_(counts, 1.0)
        weights = torch._foreach_reciprocal(counts)
        torch._foreach_clamp_min_(weights, self.floor)
        torch._foreach_lerp_([opt.state[p]["ax"] for p in params], params, weights)



def averaging(opt: torch.optim.Optimizer) -> bool:
    """Whether the model's weights have an average to be validated and saved in their place."""
    return hasattr(opt, "weight_average") or (isinstance(opt, AveragedSGD) and opt.phase)



def nt_asgd_trigger(opt: torch.optim.Optimizer, history: list[float], loss: float) -> bool:
    """Merity et al.'s non-monotone trigger: once validation ``loss`` is worse than the best of the
    evaluations before the last NONMONO, ASGD starts averaging the weights from the next step."""
    if not isinstance(opt, AveragedSGD) or averaging(opt) or len(history) <= NONMONO:
        return False
    if loss <= min(history[:-NONMONO]):
        return False
    start_averaging(opt)
    return True



def start_averaging(opt: AveragedSGD) -> None:
    """From the next step on, the optimizer keeps the running mean of the weights."""
    steps = [float(st["step"]) for st in opt.state.values() if "step" in st]
    for group in opt.param_groups:
        group["t0"] = max(steps, default=0.0)



@contextmanager
def averaged_weights(model: torch.nn.Module, opt: torch.optim.Optimizer) -> Iterator[None]:
    """Inside, the model holds ASGD's running average of its weights (once averaging has started), or
    ``--ema``'s moving average; its own weights come back on exit."""
    if not averaging(opt):
        yield
        return
    saved = []
    with torch.no_grad():
        for param in model.parameters():
            ax = opt.state.get(param, {}).get("ax")
            if ax is not None:
                saved.append((param, param.detach().clone()))
                param.copy_(ax)
    try:
        yield
    finally:
        with torch.no_grad():
            for param, own in saved:
                param.copy_(own)



def warmup_steps(cfg: TrainConfig, total_steps: int) -> int:
    """--warmup-steps, at most a tenth of the run (a short run would otherwise spend itself warming up)."""
    return min(cfg.warmup_steps, max(total_steps // 10, 1))



def make_schedule(opt: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int) -> Any:
    if cfg.schedule == "plateau":
        factor = 0.25 if cfg.optimizer in ("sgd", "asgd") else 0.5
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=factor, patience=0)
    warmup = warmup_steps(cfg, total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if cfg.schedule == "constant":
            return 1.0
        progress = min((step - warmup) / max(total_steps - warmup, 1), 1.0)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    schedule = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    # numbers, not the tensors a capturable optimizer starts from: a resumed run reads them back from
    # JSON as numbers and must compute every later rate exactly as an unbroken run does
    schedule.base_lrs = [float(lr) for lr in schedule.base_lrs]
    return schedule
