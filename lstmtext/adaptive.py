"""A language model's output layer for large vocabularies: Grave et al.'s adaptive softmax (2017).

A full softmax scores every token of the vocabulary at every position; at word level that matrix
product and its gradient are most of a training step (with this layer instead, a 2x200 model's whole
step on 2 CPU cores runs 1.6-1.8x as fast at 10,000 words and 4.1-5.3x at 33,000: bench/run.py). Here
the tokens, ranked by how often they occur in the training text, are cut into a head (the shortlist of
the most frequent, which covers most positions: 87% of Penn Treebank's for the first 2,000 words)
and tail clusters. The head scores the shortlist plus one entry per cluster; a cluster's own
softmax, behind a projection ``DIV`` times narrower per cluster, runs only for the positions whose
target is in it. A token's probability is its head entry's, or its cluster's entry times its
probability within the cluster: a proper distribution, so losses and perplexities are exact.

``torch.nn.AdaptiveLogSoftmaxWithLoss`` is the same idea; this one differs in three ways that
lstmtext needs. It ranks any tokenizer's ids by frequency itself (``order``), where the library asks
for ids already sorted so. Its shortlist can be tied to the embedding (as a tied full decoder is),
rows taken through ``order``. And off the CPU it scores every cluster at every position
(``dense``): the library picks each cluster's positions with ``nonzero``, whose sizes the host must
read back every step, which neither a CUDA graph nor a stall-free step allows.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DIV = 4  # each tail cluster's projection is this many times narrower than the one before (Grave et al.)
DEFAULT_CUTOFFS = (2_000, 10_000, 50_000, 250_000, 1_250_000)


def default_cutoffs(vocab_size: int) -> list[int]:
    """Where the head and the clusters end by default: after the 2,000 most frequent tokens, then 10,000,
    50,000 and so on (each cluster five times the last, the layout usually used at WikiText-2's 33k words),
    up to 80% of the vocabulary, so that the last cluster holds a fifth of it or more (Penn Treebank's
    10,001 tokens get one cluster of 8,001, not a second of one token)."""
    return [c for c in DEFAULT_CUTOFFS if c <= 0.8 * vocab_size]


def frequency_order(tokens: np.ndarray, vocab_size: int) -> torch.Tensor:
    """Token ids from the most to the least frequent in ``tokens`` (ties, and unseen ids, by id)."""
    counts = np.bincount(np.asarray(tokens), minlength=vocab_size)[:vocab_size]
    return torch.from_numpy(np.argsort(-counts, kind="stable"))


class AdaptiveSoftmax(nn.Module):
    """Log-probabilities and losses over ``vocab_size`` tokens from [..., ``width``] outputs.

    ``cutoffs``: the frequency ranks where the head and each cluster but the last end (increasing, all
    below ``vocab_size``). ``tied``: the head's shortlist rows are the embedding's rows of those tokens,
    passed to each call; otherwise they are a matrix of their own.
    """

    def __init__(self, width: int, vocab_size: int, cutoffs: list[int], tied: bool) -> None:
        super().__init__()
        self.bounds = [0, *cutoffs, vocab_size]  # cluster i (0: the shortlist) holds ranks bounds[i]..bounds[i+1]-1
        self.shortlist = cutoffs[0]
        self.register_buffer("order", torch.arange(vocab_size))  # ids by falling training frequency (saved)
        self.register_buffer("rank", torch.arange(vocab_size), persistent=False)  # inverse: each id's place
        self.register_buffer("edges", torch.tensor(cutoffs), persistent=False)
        self.register_load_state_dict_post_hook(lambda module, _: module.refresh_rank())
        bound = width ** -0.5  # nn.Linear's initial range
        self.head = None if tied else nn.Parameter(torch.empty(self.shortlist, width).uniform_(-bound, bound))
        self.cluster = nn.Parameter(torch.empty(len(cutoffs), width).uniform_(-bound, bound))  # head rows of clusters
        self.head_bias = nn.Parameter(torch.zeros(self.shortlist + len(cutoffs)))
        self.tail = nn.ModuleList()
        for i, (lo, hi) in enumerate(zip(self.bounds[1:], self.bounds[2:])):
            narrow = max(1, width // DIV ** (i + 1))
            self.tail.append(nn.Sequential(nn.Linear(width, narrow, bias=False),
                                           nn.Linear(narrow, hi - lo, bias=False)))

    def set_order(self, order: torch.Tensor) -> None:
        """Rank the tokens: ``order`` lists the ids from the most to the least frequent."""
        with torch.no_grad():
            self.order.copy_(order)
        self.refresh_rank()

    def refresh_rank(self) -> None:
        with torch.no_grad():
            self.rank[self.order] = torch.arange(len(self.order), device=self.rank.device)

    def head_logits(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        shortlist = embedding.index_select(0, self.order[:self.shortlist]) if self.head is None else self.head
        return F.linear(x, torch.cat([shortlist, self.cluster]), self.head_bias)

    def nll(self, x: torch.Tensor, y: torch.Tensor, embedding: torch.Tensor, dense: bool = False) -> torch.Tensor:
        """Each position's negative log-likelihood of its target [N] (float32), from outputs ``x``
        [..., width] and targets ``y`` [...]. ``dense``: every cluster at every position, with no host
        synchronisation and fixed shapes (for CUDA graphs); otherwise each cluster only where needed."""
        x = x.reshape(-1, x.shape[-1])
        ranks = self.rank[y.reshape(-1)]
        cluster = torch.bucketize(ranks, self.edges, right=True)  # 0: in the shortlist; i: in tail cluster i
        in_head = torch.where(cluster == 0, ranks, self.shortlist + cluster - 1)
        nll = F.cross_entropy(self.head_logits(x, embedding).float(), in_head, reduction="none")
        for i, tail in enumerate(self.tail):
            lo, hi = self.bounds[i + 1], self.bounds[i + 2]
            inside = cluster == i + 1
            if dense:
                within = F.cross_entropy(tail(x).float(), (ranks - lo).clamp(0, hi - lo - 1), reduction="none")
                nll = nll + torch.where(inside, within, torch.zeros_like(within))
                continue
            rows = inside.nonzero().squeeze(1)
            if len(rows):
                within = F.cross_entropy(tail(x.index_select(0, rows)).float(), ranks.index_select(0, rows) - lo,
                                         reduction="none")
                nll = nll.index_add(0, rows, within)
        return nll

    def log_prob(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of every token [..., vocab_size] (float32), in id order."""
        head = self.head_logits(x, embedding).float().log_softmax(-1)
        parts = [head[..., :self.shortlist]]
        for i, tail in enumerate(self.tail):
            parts.append(tail(x).float().log_softmax(-1) + head[..., self.shortlist + i, None])
        return torch.cat(parts, -1).index_select(-1, self.rank)
