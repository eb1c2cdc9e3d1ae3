"""What differs between the two tasks: batches, loss, evaluation and which result is better.

The trainer drives either through the same small interface: ``steps_per_epoch``,
``tokens_per_step``, ``step_loss``, ``evaluate``, ``better``, ``final_figures`` and ``facts``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lstmtext.batches import LMBatches, TextBatches
from lstmtext.config import TrainConfig, to_dict
from lstmtext.data import Prepared
from lstmtext.distill import describe
from lstmtext.metrics import bits_per_char, classification_report, cross_entropy, perplexity
from lstmtext.models import decoder_logits, predict_proba, real_positions


def _number(value: Any) -> bool:
    """A finite number (a figure of a validation; NaN is saved in state.json as null)."""
    return isinstance(value, (int, float)) and math.isfinite(value)


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    tensor = torch.from_numpy(array)
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def in_reading_order(tokens: np.ndarray, reverse: bool) -> np.ndarray:
    """A token stream as a language model reads it: as it is, or from the end (a view, no copy)."""
    return tokens[::-1] if reverse else tokens


@torch.no_grad()
def lm_eval(model: torch.nn.Module, tokens: np.ndarray, batch_size: int, seq_len: int, device: torch.device,
            amp: Any, done: Callable[[int], None] | None = None) -> tuple[float, int] | None:
    """Mean next-token loss over a token array and the count scored: every token after the first, once,
    whatever the batch size (None where there is none). The array is cut into ``batch_size`` streams read side
    by side, the state carried across windows; each stream but the first starts from the state that the
    ``seq_len`` tokens before it give (read, not scored), as if read in one pass, and the tokens left over after
    the equal streams continue the last one. ``done(n)`` is told of each window of n tokens scored (a
    progress bar; it does not wait for the device)."""
    targets = len(tokens) - 1
    if targets < 1:
        return None
    bs = max(1, min(batch_size, targets // (seq_len + 1)))
    per = targets // bs  # targets of each stream: stream i reads tokens [i*per, (i+1)*per] and scores all but its first
    rows = np.arange(bs)[:, None] * per

    def batch(start: int, end: int, first: np.ndarray = rows) -> torch.Tensor:  # columns [start, end] of the streams
        return to_device(np.asarray(tokens[first + np.arange(start, end + 1)[None, :]], dtype=np.int64), device)

    was_training = model.training
    model.eval()
    total = torch.zeros((), device=device, dtype=torch.float64)
    state = None
    with amp:
        warm = min(seq_len, per)
        if bs > 1:  # the tokens before each stream set its starting state; the first stream starts from zeros
            _, state, _, _ = model.outputs(batch(-warm, -1, np.maximum(rows, warm)), None, decode=False)
            keep = torch.ones(1, bs, 1, device=device, dtype=state[0].dtype)
            keep[:, 0] = 0
            state = tuple(s * keep for s in state)
        for start in range(0, per, seq_len):
            window = batch(start, min(start + seq_len, per))
            out, state, _, _ = model.outputs(window[:, :-1], state, decode=False)
            total += model.loss(out, window[:, 1:], reduction="sum")
            if done is not None:
                done(window[:, 1:].numel())
        if bs * per < targets:  # the few tokens left continue the last stream, which ends where they start
            tail = to_device(np.asarray(tokens[bs * per:], dtype=np.int64)[None, :], device)
            last = tuple(s[:, -1:].contiguous() for s in state)
            out, _, _, _ = model.outputs(tail[:, :-1], last, decode=False)
            total += model.loss(out, tail[:, 1:], reduction="sum")
            if done is not None:
                done(tail.shape[1] - 1)
    model.train(was_training)
    return float(total.item()) / targets, targets


def lm_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, state: Any, amp: Any,
            cfg: TrainConfig, head: CompiledDecoderLoss | None = None) -> tuple[torch.Tensor, Any]:
    """The training objective and the new state: next-token cross-entropy, plus AWD-LSTM's
    activation regularisers where asked: ``--ar`` times the mean square of the last layer's
    dropped-out outputs, and ``--tar`` times the mean square of their change from step to step.
    ``head`` (``--compile``) computes the decoder and the cross-entropy as one compiled function."""
    with amp:
        out, state, raw, dropped = model.outputs(x, state, decode=False)
        loss = model.loss(out, y) if head is None else None
    if head is not None:
        loss = head(out, *model.decoder_weights(), y)
    if cfg.ar:
        loss = loss + cfg.ar * dropped.float().pow(2).mean()
    if cfg.tar and raw.shape[1] > 1:
        loss = loss + cfg.tar * (raw[:, 1:] - raw[:, :-1]).float().pow(2).mean()
    return loss, state


def autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    """Autocast without its weight cache, which a captured graph must not keep."""
    return torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None, cache_enabled=False)


def decoder_loss(out: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, y: torch.Tensor, device: torch.device,
                 dtype: torch.dtype | None) -> torch.Tensor:
    """The decoder and the next-token cross-entropy, at the run's precision (as inside a CUDA
    graph): the part of the step that ``--compile`` compiles."""
    with autocast(device, dtype):
        logits = decoder_logits(out, weight, bias)
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))


class CompiledDecoderLoss:
    """``decoder_loss`` through ``torch.compile``, which fuses the softmax, the loss and their
    gradient into a few loops (on 2 CPU cores, 1.5x on that part of a 10k-word model's step:
    bench/head_probe.py). The first call compiles (seconds; cached across runs). If compiling fails
    (no C++ compiler, an unsupported platform) the run goes on eagerly and the summary says why."""

    def __init__(self, device: torch.device, dtype: torch.dtype | None) -> None:
        self.device, self.dtype = device, dtype
        self.fn = torch.compile(decoder_loss, dynamic=False)
        self.fallback: str | None = None

    @property
    def mode(self) -> str:
        return "compiled" if self.fallback is None else f"eager ({self.fallback})"

    def __call__(self, out: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.fallback is None:
            try:
                return self.fn(out, weight, bias, y, self.device, self.dtype)
            except Exception as err:  # noqa: BLE001  (any compiler failure: run eagerly instead)
                self.fallback = f"compile failed: {(str(err).strip().splitlines() or [type(err).__name__])[0][:80]}"
        return decoder_loss(out, weight, bias, y, self.device, self.dtype)


def label_loss(logits: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None, soft: torch.Tensor | None,
               distill_weight: float, temperature: float) -> torch.Tensor:
    """Cross-entropy with the labels (class-weighted with ``--class-weights auto``); with ``soft``, the
    teachers' probabilities at ``temperature`` T (``distill.py``), mixed with T^2 x KL(soft || logits at T)
    by ``distill_weight`` (T^2 keeps that part's gradients the size of the labels' part, as Hinton et al.)."""
    loss = F.cross_entropy(logits.float(), y, weight=weights)
    if soft is None:
        return loss
    kl = F.kl_div(F.log_softmax(logits.float() / temperature, dim=-1), soft, reduction="batchmean")
    return (1 - distill_weight) * loss + distill_weight * temperature ** 2 * kl


def classify_loss(model: torch.nn.Module, x: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor, amp: Any,
                  weights: torch.Tensor | None, adversarial: float = 0.0, soft: torch.Tensor | None = None,
                  distill_weight: float = 0.0, temperature: float = 1.0) -> torch.Tensor:
    """The classifier's training objective: ``label_loss`` (with ``soft``, the teachers' targets for the batch).

    With ``adversarial`` > 0 (Miyato et al., 2017) it is the mean of that loss and the loss at the
    embeddings moved along the loss's gradient there, the direction that raises it most, by an L2
    norm (over each text's real tokens) of ``adversarial`` times the RMS value of the batch's
    embeddings. Miyato et al. normalise the embeddings so that one norm means the same move for
    every model; scaling by their RMS value does that without changing them, so a language
    model's small pretrained embeddings (``--init-from``) are moved as far, relatively, as a fresh
    N(0, 1) table (RMS 1). One extra backward to the embeddings and one extra forward; no host
    synchronisation, so the step still fits in a CUDA graph.
    """
    def objective(logits: torch.Tensor) -> torch.Tensor:
        return label_loss(logits, y, weights, soft, distill_weight, temperature)

    e = model.embed(x)
    if adversarial and not e.requires_grad:  # a frozen embedding (--freeze-epochs): the direction is still wanted
        e.requires_grad_()
    with amp:
        logits = model.classify(e, lengths)
    loss = objective(logits)
    if not adversarial:
        return loss
    grad, = torch.autograd.grad(loss, e, retain_graph=True)
    real = real_positions(lengths, e)[..., None]
    grad = grad.float() * real
    rms = (e.detach().float().pow(2) * real).sum().div(real.sum() * e.shape[-1]).sqrt()
    norm = grad.flatten(1).norm(dim=1).clamp(min=1e-12)
    step = (adversarial * rms / norm)[:, None, None] * grad
    with amp:
        moved = model.classify(e + step.to(e.dtype), lengths)
    return (loss + objective(moved)) / 2


class LMTask:
    """Truncated BPTT over contiguous streams, with the LSTM state carried and detached."""

    name = "lm"

    def __init__(self, prepared: Prepared, cfg: TrainConfig, device: torch.device, reverse: bool = False) -> None:
        self.prepared = prepared
        self.cfg = cfg
        self.device = device
        self.reverse = reverse
        self.train = LMBatches(self.tokens("train"), cfg.batch_size, cfg.seq_len, shift=cfg.shift_windows)
        self.epoch = -1
        self.state: Any = None
        self.head: CompiledDecoderLoss | None = None  # set by the trainer with --compile

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train)

    @property
    def tokens_per_step(self) -> int:
        return self.train.tokens_per_batch

    def tokens(self, split: str, limit: int | None = None) -> np.ndarray:
        """A split's token stream (its first ``limit`` tokens), in the model's reading order: a
        reversed model (``--reverse``) reads it from the end, through a view of the memory map."""
        return in_reading_order(self.prepared.tokens(split)[:limit], self.reverse)

    def window(self, step: int) -> tuple[int, np.ndarray]:
        """Step ``step``'s index in its epoch and its window (drawing the epoch's offset where it starts)."""
        epoch, index = divmod(step, len(self.train))
        if epoch != self.epoch:  # a new epoch, or the first step after a resume
            self.epoch = epoch
            self.train.start_epoch(self.cfg.seed, epoch)
        return index, self.train.window(index)

    def step_loss(self, model: torch.nn.Module, step: int, amp: Any) -> torch.Tensor:
        index, window = self.window(step)
        if index == 0:
            self.state = None
        x, y = to_device(window[:, :-1], self.device), to_device(window[:, 1:], self.device)
        state = None if self.state is None else tuple(s.detach() for s in self.state)
        loss, self.state = lm_loss(model, x, y, state, amp, self.cfg, self.head)
        return loss

    def evaluate(self, model: torch.nn.Module, split: str, amp: Any, max_tokens: int | None = None) -> dict[str, Any]:
        tokens = self.tokens(split, max_tokens)
        result = lm_eval(model, tokens, self.cfg.eval_batch_size, self.cfg.seq_len, self.device, amp)
        if not result:
            return {}
        loss, count = result
        info = self.prepared.meta["splits"][split]
        chars = info["chars"] * count / max(info["tokens"], 1)
        return {"loss": loss, "ppl": perplexity(loss), "bpc": bits_per_char(loss, count, int(chars))}

    @staticmethod
    def better(new: dict[str, Any], best: dict[str, Any] | None) -> bool:
        # a best whose loss is not a number (NaN, saved as null) is beaten by any that is: else nothing ever was
        if best is None:
            return True
        return _number(new.get("loss")) and (not _number(best.get("loss")) or new["loss"] < best["loss"])

    def final_figures(self, model: torch.nn.Module, amp: Any, best_valid: dict[str, Any]) -> dict[str, Any]:
        valid_tokens = int(self.prepared.meta["splits"]["valid"]["tokens"])
        limit, total = max(valid_tokens, 200_000), int(self.prepared.meta["splits"]["train"]["tokens"])
        train = self.evaluate(model, "train", amp, limit)
        if train and total > limit:  # a sample: the whole of a large train split would take as long as an epoch
            train["sample"] = f"its first {limit:,} of {total:,} tokens"
        return {"train": train, "valid": best_valid or self.evaluate(model, "valid", amp),
                "test": self.evaluate(model, "test", amp)}

    def facts(self) -> dict[str, Any]:
        return {"decoder_loss": self.head.mode} if self.head is not None else {}

    def shape_used(self) -> dict[str, Any]:
        """--seq-len as asked and as trained: windows are cut to the streams of a text too short for one."""
        return {"seq_len": (self.cfg.seq_len, self.train.seq_len)}

    def skipped(self) -> None:
        """The last batch was skipped (--on-nan skip): the state it left may be non-finite, so the next batch
        starts from zeros."""
        self.state = None

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The carried LSTM state, saved so a resumed run continues each stream exactly."""
        if self.state is None:
            return {}
        return {"h": self.state[0].detach(), "c": self.state[1].detach()}

    def restore(self, tensors: dict[str, torch.Tensor]) -> None:
        self.state = (tensors["h"], tensors["c"]) if "h" in tensors else None


class ClassifyTask:
    """Length-bucketed batches of whole texts; the best model has the highest validation macro-F1."""

    name = "classify"
    frozen = False  # whether --freeze-epochs holds the pretrained layers now (set per epoch by _freeze)
    soft: np.ndarray | None = None  # with --distill-from: the teachers' targets for each training text (distill.py)

    def __init__(self, prepared: Prepared, cfg: TrainConfig, device: torch.device) -> None:
        self.prepared = prepared
        self.cfg = cfg
        self.device = device
        self.train = TextBatches(*prepared.records("train"), cfg.batch_size, cfg.max_length)
        # what --freeze-epochs freezes and then thaws (a --freeze-embedding table is never thawed)
        self.pretrained: tuple[str, ...] = ("lstm.", "fwd.") + (() if cfg.freeze_embedding else ("embedding.",))
        counts = np.bincount(self.train.labels, minlength=len(prepared.labels)).astype(np.float64)
        self.weights = None
        self.epoch = -1
        if cfg.class_weights == "auto":
            w = counts.sum() / (len(counts) * np.maximum(counts, 1))
            self.weights = torch.tensor(w, dtype=torch.float32, device=device)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train)

    @property
    def tokens_per_step(self) -> int:
        return int(self.train.lengths.sum() / max(len(self.train), 1))

    def _freeze(self, model: torch.nn.Module, frozen: bool) -> None:
        self.frozen = frozen
        for name, param in model.named_parameters():
            if name.startswith(self.pretrained):
                param.requires_grad_(not frozen)

    def batch(self, step: int, model: torch.nn.Module) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Step ``step``'s texts [batch, time], lengths, labels and teachers' targets (None without
        teachers), shuffling, and freezing or thawing the pretrained layers, where an epoch starts."""
        epoch, index = divmod(step, len(self.train))
        if epoch != self.epoch:  # a new epoch, or the first step after a resume
            self.epoch = epoch
            self.train.shuffle(self.cfg.seed * 1000 + epoch)
            if self.cfg.freeze_epochs:
                self._freeze(model, epoch < self.cfg.freeze_epochs)
        x, lengths, y = self.train.get(index)
        return x, lengths, y, None if self.soft is None else self.soft[self.train.order[index]]

    def loss(self, model: torch.nn.Module, x: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor, amp: Any,
             soft: torch.Tensor | None) -> torch.Tensor:
        """``classify_loss`` with this run's class weights, adversarial step and distillation."""
        cfg = self.cfg
        return classify_loss(model, x, lengths, y, amp, self.weights, cfg.adversarial, soft, cfg.distill_weight,
                             cfg.distill_temperature)

    def step_loss(self, model: torch.nn.Module, step: int, amp: Any) -> torch.Tensor:
        x, lengths, y, soft = self.batch(step, model)
        return self.loss(model, to_device(x, self.device), torch.from_numpy(lengths), to_device(y, self.device), amp,
                         None if soft is None else to_device(soft, self.device))

    def predict(self, model: torch.nn.Module, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        seqs, labels = self.prepared.cut_texts(split, self.cfg.max_length, limit)
        return predict_proba(model, seqs, self.cfg.eval_batch_size * 4, self.device), labels

    def evaluate(self, model: torch.nn.Module, split: str, amp: Any, max_tokens: int | None = None) -> dict[str, Any]:
        return self._figures(model, split)

    @torch.no_grad()
    def _figures(self, model: torch.nn.Module, split: str, limit: int | None = None) -> dict[str, Any]:
        """Loss, accuracy and macro-F1 over a split (its first ``limit`` texts when given)."""
        if int(self.prepared.meta["splits"][split].get("texts", 0)) == 0:
            return {}
        probs, gold = self.predict(model, split, limit=limit)
        model.train()
        loss = cross_entropy(probs, gold)
        report = classification_report(gold.tolist(), probs.argmax(1).tolist(), len(self.prepared.labels))
        return {"loss": loss, "accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}

    @staticmethod
    def better(new: dict[str, Any], best: dict[str, Any] | None) -> bool:
        if best is None:
            return True
        if not (_number(new.get("macro_f1")) and _number(new.get("loss"))):  # not a number beats nothing
            return False
        if not (_number(best.get("macro_f1")) and _number(best.get("loss"))):
            return True
        return (new["macro_f1"], -new["loss"]) > (best["macro_f1"], -best["loss"])

    def final_figures(self, model: torch.nn.Module, amp: Any, best_valid: dict[str, Any]) -> dict[str, Any]:
        train, total = self._figures(model, "train", limit=5000), len(self.train.labels)
        if train and total > 5000:  # a sample: train sets can be large
            train["sample"] = f"its first 5,000 of {total:,} texts"
        return {"train": train, "valid": best_valid or self.evaluate(model, "valid", amp),
                "test": self.evaluate(model, "test", amp)}

    def skipped(self) -> None:
        """A skipped batch leaves nothing behind: each batch is read on its own."""

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {}  # the batch order is a function of the epoch: nothing to save

    def restore(self, tensors: dict[str, torch.Tensor]) -> None:
        pass

    def shape_used(self) -> dict[str, Any]:
        return {}

    def facts(self) -> dict[str, Any]:
        teachers = {"teachers": describe(to_dict(self.cfg))} if self.cfg.distill_from else {}
        return {"truncated": self.train.truncated, "labels": self.prepared.labels, **teachers,
                "majority": float(np.bincount(self.train.labels).max() / max(len(self.train.labels), 1))}


def make_task(name: str, prepared: Prepared, cfg: TrainConfig, device: torch.device, reverse: bool = False) -> Any:
    return LMTask(prepared, cfg, device, reverse) if name == "lm" else ClassifyTask(prepared, cfg, device)
