"""Sampling text from a language model: greedy, temperature, top-k, top-p, batched, streamed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from lstmtext.errors import usage_error
from lstmtext.tokenizers import EOS, PAD, UNK, Tokenizer


@dataclass
class SampleSettings:
    length: int = 200
    temperature: float = 0.8
    top_k: int = 0
    top_p: float = 1.0
    num_samples: int = 1
    seed: int = 0

    def validate(self) -> None:
        if self.length < 1:
            raise usage_error(f"--length must be at least 1, got {self.length}")
        if self.length > 1_000_000:
            raise usage_error(f"--length {self.length} is absurdly large", "ask for at most 1,000,000 tokens")
        if self.temperature < 0:
            raise usage_error(f"--temperature must be 0 (greedy) or more, got {self.temperature}")
        if self.top_k < 0:
            raise usage_error(f"--top-k must be 0 (off) or more, got {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise usage_error(f"--top-p must be in (0, 1], got {self.top_p}")
        if not 1 <= self.num_samples <= 4096:
            raise usage_error(f"--num-samples must be between 1 and 4096, got {self.num_samples}")


def filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Keep the ``top_k`` largest logits and the smallest set whose probability reaches ``top_p``."""
    if top_k > 0 and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = torch.softmax(sorted_logits, dim=-1)
        drop = probs.cumsum(-1) - probs > top_p  # the first token is always kept
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


def start_ids(tokenizer: Tokenizer, prompt: str) -> list[int]:
    """The prompt's ids, or a line break to start from when the prompt is empty."""
    ids = tokenizer.encode(prompt).tolist() if prompt else []
    if ids:
        return ids
    if tokenizer.kind == "char":
        newline = tokenizer.encode("\n").tolist()
        return newline if newline and newline[0] != UNK else [UNK]
    return [EOS]


@torch.no_grad()
def sample(model: torch.nn.Module, tokenizer: Tokenizer, prompt: str, settings: SampleSettings,
           device: torch.device, on_step: Callable[[list[int]], None] | None = None) -> list[list[int]]:
    """Generate ``settings.length`` tokens after the prompt for each of ``num_samples`` rows.

    The prompt is run through the model first to warm the LSTM state. ``on_step`` (used for
    streaming) receives the new token of every row after each step.
    """
    model.eval()
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    ids = torch.tensor([start_ids(tokenizer, prompt)], device=device).repeat(settings.num_samples, 1)
    state = None
    for start in range(0, ids.shape[1], 4096):  # long prompts in slices: bounded memory
        logits, state = model(ids[:, start:start + 4096], state, last_only=True)
    last = logits[:, -1].float()
    banned = torch.zeros(last.shape[-1], dtype=torch.bool, device=device)
    banned[[PAD, UNK]] = True
    out = torch.empty(settings.num_samples, settings.length, dtype=torch.long, device=device)
    for t in range(settings.length):
        last = last.masked_fill(banned, float("-inf"))
        if settings.temperature == 0:
            nxt = last.argmax(-1)
        else:
            filtered = filter_logits(last / settings.temperature, settings.top_k, settings.top_p)
            nxt = torch.multinomial(torch.softmax(filtered, -1), 1, generator=generator).squeeze(1)
        out[:, t] = nxt
        if on_step is not None:
            on_step(nxt.tolist())
        logits, state = model(nxt[:, None], state)
        last = logits[:, -1].float()
    return out.tolist()
