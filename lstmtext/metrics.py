"""Figures from losses and predictions."""

from __future__ import annotations

import math
from typing import Any

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


def cross_entropy(probs: Any, gold: Any) -> float:
    """Mean negative log-probability of the true classes, in nats a text (probabilities floored at 1e-12)."""
    import numpy as np

    return float(-np.log(np.maximum(probs[np.arange(len(gold)), gold], 1e-12)).mean())


def classification_report(gold: list[int], pred: list[int], num_classes: int) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    ``confusion[i][j]`` counts texts of true class i predicted as class j. A class with no texts that is never
    predicted either has no F1 (None, not 0), and macro-F1 averages the classes that have one, as scikit-learn's
    does: a class too small to reach the held-out split would otherwise pin macro-F1 below 1 - 1/classes, and
    with it the best-weights choice and --patience.
    """
    confusion = [[0] * num_classes for _ in range(num_classes)]
    for g, p in zip(gold, pred):
        confusion[g][p] += 1
    per_class: list[dict[str, Any]] = []
    for c in range(num_classes):
        tp = confusion[c][c]
        predicted = sum(confusion[r][c] for r in range(num_classes))
        actual = sum(confusion[c])
        if not predicted and not actual:
            per_class.append({"precision": None, "recall": None, "f1": None, "support": 0})
            continue
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append({"precision": precision, "recall": recall, "f1": f1, "support": actual})
    total = len(gold)
    scored = [pc["f1"] for pc in per_class if pc["f1"] is not None]
    return {
        "accuracy": sum(confusion[c][c] for c in range(num_classes)) / total if total else 0.0,
        "macro_f1": sum(scored) / len(scored) if scored else 0.0,
        "per_class": per_class,
        "confusion": confusion,
        "count": total,
    }
