"""The whole training step, captured as a CUDA graph and replayed.

At the shapes people train LSTMs on, the host launching the cuDNN LSTM's kernels, not the GPU,
bounds a step: a char 3x512 step launches about 1,700 of them (bench/profile_gpu.py). A CUDA graph
records the step once and launches all of it with one call (on an H100 the char step went from
454k to 1.98M tokens/s, bench/results).

A captured step reads fixed device buffers: the batch, the LSTM state carried between batches
(language model) and the learning rate, which fused AdamW (capturable) and fused SGD take as a
device tensor so the schedule can still move it. Forward, loss, backward, clipping and the update run inside.
The language model has one batch shape, so one graph; the classifier's batches are padded up to
a multiple of ``PAD_TO`` tokens (its outputs do not depend on padding) and get one graph per
shape, all drawing on one memory pool. Off CUDA the same buffered steps run eagerly, which is how
the CPU tests check them against the plain step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lstmtext.tasks import autocast, lm_loss

WARMUP = 3  # eager steps before any capture: cuBLAS/cuDNN handles, autograd and optimizer state are made outside it
PAD_TO = 8  # classifier batches are padded to a multiple of this many tokens, to bound the number of graphs


def graph_blocker(optimizer: str, device: torch.device, dtype: torch.dtype | None, on_nan: str,
                  wanted: bool) -> str | None:
    """Why the training step is not captured as a CUDA graph here, or None when it is."""
    if not wanted:
        return "--no-cuda-graphs"
    if device.type != "cuda":
        return "not on CUDA"
    if optimizer not in ("adamw", "sgd", "asgd"):
        return f"--optimizer {optimizer} is not capturable"
    if dtype == torch.float16:
        return "fp16's loss scaler checks every step on the host"
    if on_nan == "skip":
        return "--on-nan skip checks every loss on the host"
    return None


def tensor_learning_rates(opt: torch.optim.Optimizer) -> None:
    """Make each group's learning rate a device tensor (a capturable optimizer reads it inside the
    graph; schedulers then fill it in place). Also after loading a saved state, which holds floats."""
    for group in opt.param_groups:
        if not torch.is_tensor(group["lr"]):
            group["lr"] = torch.tensor(float(group["lr"]), device=group["params"][0].device)


class Replayer:
    """Runs a step body eagerly, or captured as a CUDA graph per batch shape and replayed (a training
    step, whose optimizer's gradients it clears, or with ``opt`` None any other step: one token of decoding).

    The first WARMUP steps, and the first step of each new shape, run eagerly on a side stream (as
    capture asks); the next step of that shape is captured and every later one replays. Every graph
    draws on one memory pool: all state that outlives a step (buffers, weights, optimizer state)
    lives outside it, and steps run one after another, so the graphs may reuse each other's memory.
    """

    def __init__(self, opt: torch.optim.Optimizer | None, device: torch.device, capture: bool) -> None:
        self.opt, self.device, self.capture = opt, device, capture
        self.graphs: dict[Any, torch.cuda.CUDAGraph] = {}
        self.seen: set[Any] = set()
        self.eager_steps = 0
        self.pool: Any = None
        self.fallback: str | None = None  # why capture failed, when it did

    @property
    def mode(self) -> str:
        if self.graphs:
            return "cuda graph"
        return f"eager ({self.fallback})" if self.fallback else ("cuda graph (warming up)" if self.capture else "eager")

    def run(self, key: Any, body: Any) -> None:
        key = (key, getattr(self.opt, "phase", None))  # NT-ASGD's step changes once, when averaging starts
        if self.capture and key not in self.graphs and key in self.seen and self.eager_steps >= WARMUP:
            self._capture(key, body)
        if key in self.graphs:
            self.graphs[key].replay()
        elif self.capture:
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                self._zero_grad()
                body()
            torch.cuda.current_stream(self.device).wait_stream(side)
            self.seen.add(key)
            self.eager_steps += 1
        else:
            self._zero_grad()
            body()

    def _zero_grad(self) -> None:
        if self.opt is not None:
            self.opt.zero_grad(set_to_none=True)

    def _capture(self, key: Any, body: Any) -> None:
        self._zero_grad()  # the graph's backward then writes fresh .grad tensors in its pool
        if self.pool is None:
            self.pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, pool=self.pool):
                body()
        except RuntimeError as err:  # an op that cannot be captured (new torch, unusual model): run eagerly
            torch.cuda.synchronize(self.device)
            self.capture, self.fallback = False, f"capture failed: {str(err).splitlines()[0][:80]}"
            self.graphs.clear()
            return
        self.graphs[key] = graph


def upload(buffer: torch.Tensor, array: Any) -> None:
    """Copy a host array into a device buffer (through pinned memory, without waiting, on CUDA)."""
    host = torch.from_numpy(array)
    if buffer.device.type == "cuda":
        host = host.pin_memory()
    buffer.copy_(host, non_blocking=True)


def clipped_step(opt: torch.optim.Optimizer, params: list[torch.nn.Parameter], clip: float) -> None:
    """The update, with the gradients' global norm clipped to ``clip`` first (when > 0).

    A fused optimizer (AdamW, SGD, AveragedSGD) divides each gradient by a ``grad_scale`` tensor inside
    its own kernel (the hook GradScaler uses), so the clip factor rides along instead of costing a
    separate read and write of every gradient. With the CPU's dot-product norm, clipping went from
    0.84 to 0.47 ms of a 9 ms bucketed classifier step on 2 cores. Same factor as
    ``clip_grad_norm_``; no host synchronisation, so it is safe inside a CUDA graph.
    """
    if clip <= 0:
        opt.step()
        return
    if not opt.defaults.get("fused"):
        torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        return
    grads = [p.grad for p in params if p.grad is not None]
    total = total_norm(grads)
    opt.grad_scale = torch.clamp((total + 1e-6) / clip, min=1.0)  # grads are divided by it
    try:
        opt.step()
    finally:
        del opt.grad_scale


def total_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """The global 2-norm of ``grads``, as ``clip_grad_norm_`` computes it (a float32 device tensor)."""
    if grads and grads[0].device.type == "cpu":  # BLAS dot products: twice vector_norm's speed on a CPU
        return torch.stack([torch.dot(g.reshape(-1), g.reshape(-1)).float() for g in grads]).sum().sqrt()
    if hasattr(torch.nn.utils, "get_total_norm"):  # torch >= 2.6
        return torch.nn.utils.get_total_norm(grads).float()
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).float()


class BufferedStep:
    """What the buffered steps share: the loss buffer, the update, and the replayer."""

    def __init__(self, task: Any, model: torch.nn.Module, opt: torch.optim.Optimizer, clip: float,
                 dtype: torch.dtype | None, capture: bool) -> None:
        self.task, self.model, self.opt, self.clip, self.dtype = task, model, opt, clip, dtype
        self.device = task.device
        self.loss = torch.zeros((), device=self.device)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.replayer = Replayer(opt, self.device, capture)

    @property
    def mode(self) -> str:
        return self.replayer.mode

    def update(self, loss: torch.Tensor) -> None:
        """Backward, clipping and the optimizer step; the loss is kept in the loss buffer."""
        loss.backward()
        clipped_step(self.opt, self.params, self.clip)
        with torch.no_grad():
            self.loss.copy_(loss)


class BufferedLMStep(BufferedStep):
    """One truncated-BPTT training step on fixed buffers; ``capture`` makes it a CUDA graph.

    Called with the step number, it loads that batch into the window buffer (and zeroes the
    carried state where the streams restart), runs the step and returns the loss buffer. The task's
    ``state`` is the state buffers, so checkpoints save and resumes restore it as before.
    """

    def __init__(self, task: Any, model: torch.nn.Module, opt: torch.optim.Optimizer, clip: float,
                 dtype: torch.dtype | None, capture: bool) -> None:
        super().__init__(task, model, opt, clip, dtype, capture)
        batches = task.train
        self.window = torch.zeros(batches.batch_size, batches.seq_len + 1, dtype=torch.long, device=self.device)
        self.x, self.y = self.window[:, :-1], self.window[:, 1:]
        cfg = model.cfg
        self.h = torch.zeros(cfg.layers, batches.batch_size, cfg.state_size, device=self.device)
        self.c = torch.zeros_like(self.h)
        if task.state is not None:  # resumed: continue the saved streams
            self.h.copy_(task.state[0])
            self.c.copy_(task.state[1])
        task.state = (self.h, self.c)

    def __call__(self, step: int) -> torch.Tensor:
        index, window = self.task.window(step)
        upload(self.window, window)
        if index == 0:
            self.h.zero_()
            self.c.zero_()
        self.replayer.run("lm", self._body)
        return self.loss

    def _body(self) -> None:
        loss, (h, c) = lm_loss(self.model, self.x, self.y, (self.h, self.c), autocast(self.device, self.dtype),
                               self.task.cfg, self.task.head)
        self.update(loss)
        with torch.no_grad():  # after the backward, which still reads the state this step started from
            self.h.copy_(h)
            self.c.copy_(c)


class BufferedClassifyStep(BufferedStep):
    """One classifier training step on buffers for its batch shape; ``capture``: a CUDA graph per shape.

    Each batch is padded up to a multiple of PAD_TO tokens and written, with its lengths and labels,
    into one [rows, padded + 2] buffer for its shape: one host-to-device copy per step (two with
    ``--distill-from``, whose targets have a float buffer per batch size). While
    ``--freeze-epochs`` holds the pretrained layers, the step (which then computes no gradient for
    them) is a graph of its own per shape; the thawed step is captured afresh.
    """

    def __init__(self, task: Any, model: torch.nn.Module, opt: torch.optim.Optimizer, clip: float,
                 dtype: torch.dtype | None, capture: bool) -> None:
        super().__init__(task, model, opt, clip, dtype, capture)
        self.buffers: dict[tuple[int, int], torch.Tensor] = {}
        self.soft: dict[int, torch.Tensor] = {}  # with --distill-from: the teachers' targets, per batch size

    def __call__(self, step: int) -> torch.Tensor:
        x, lengths, y, soft = self.task.batch(step, self.model)
        rows, width = x.shape[0], -(-x.shape[1] // PAD_TO) * PAD_TO
        host = np.zeros((rows, width + 2), dtype=np.int64)
        host[:, :x.shape[1]], host[:, -2], host[:, -1] = x, lengths, y
        key = (rows, width)
        if key not in self.buffers:
            self.buffers[key] = torch.zeros(rows, width + 2, dtype=torch.long, device=self.device)
        buffer = self.buffers[key]
        upload(buffer, host)
        targets = None
        if soft is not None:
            if rows not in self.soft:
                self.soft[rows] = torch.zeros(soft.shape, dtype=torch.float32, device=self.device)
            targets = self.soft[rows]
            upload(targets, np.ascontiguousarray(soft))
        self.replayer.run((key, self.task.frozen), lambda: self._body(buffer, targets))
        return self.loss

    def _body(self, buffer: torch.Tensor, soft: torch.Tensor | None) -> None:
        self.update(self.task.loss(self.model, buffer[:, :-2], buffer[:, -2], buffer[:, -1],
                                   autocast(self.device, self.dtype), soft))
