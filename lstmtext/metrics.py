"""Figures from losses and predictions."""

from __future__ import annotations

import math

LN2 = math.log(2.0)


def perplexity(loss: float) -> float:
    return math.exp(min(loss, 700.0))


def bits_per_char(loss_nats: float, tokens: int, chars: int) -> float:
    """Total bits over the split divided by its characters (equals loss/ln 2 at char level)."""
    return loss_nats * tokens / (max(chars, 1) * LN2)


def unigram_entropy(counts: list[int]) -> float:
    """Entropy in nats of a token distribution given its counts."""
    total = sum(counts)
    return -sum(c / total * math.log(c / total) for c in counts if c)
