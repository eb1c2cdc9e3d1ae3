"""The networks: a language model and a classifier, both on one embedding + nn.LSTM core."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import _VF, nn

from lstmtext.adaptive import AdaptiveSoftmax
from lstmtext.config import ModelConfig, pooled_parts

State = tuple[torch.Tensor, torch.Tensor]


class Dropout(nn.Dropout):
    """nn.Dropout, with a faster mask on the CPU, and optionally variational (locked).

    On the CPU, ``F.dropout`` draws its mask with a single-threaded ``bernoulli_``; comparing uniform
    noise with ``p`` gives the same distribution at half the cost of a forward and backward pass
    (4.4 ms against 8.4 ms on a 32x128x256 tensor, 2 cores). Elsewhere the fused kernel is kept.
    ``locked``: one mask per sequence, shared by all its time steps (Gal & Ghahramani), for
    [batch, time, features] inputs.
    """

    def __init__(self, p: float, locked: bool = False) -> None:
        super().__init__(p)
        self.locked = locked

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.locked and x.dim() == 3:
            noise = torch.rand(x.shape[0], 1, x.shape[2], device=x.device)
        elif x.device.type != "cpu":
            return super().forward(x)
        else:
            noise = torch.rand_like(x)
        return x * (noise >= self.p).to(x.dtype).mul_(1.0 / (1.0 - self.p))


def embed(embedding: nn.Embedding, x: torch.Tensor, p: float) -> torch.Tensor:
    """Embedding lookup; with ``p`` > 0 (training only), whole word types are dropped for the batch
    (every occurrence of a dropped word reads zeros, Gal & Ghahramani's word dropout) and the rest
    scaled up."""
    if p == 0:
        return embedding(x)
    weight = embedding.weight
    keep = (torch.rand(weight.shape[0], 1, device=weight.device) >= p).to(weight.dtype) / (1.0 - p)
    return F.embedding(x, weight * keep, embedding.padding_idx)


def decoder_logits(out: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The decoder on [..., width] outputs, as one matrix product over all positions. ``F.linear`` on
    the LSTM's batch-first output (a transposed view) goes through ``matmul``, which, when the weight
    needs no gradient (``--freeze-embedding`` with tied weights), computes the input's gradient as a
    batched product against a copy of the weight per sequence: 3.8x slower steps on a 13,845-word
    model on 2 CPU cores (bench/decoder_probe.py). Flattening first costs one copy of the outputs."""
    return F.linear(out.reshape(-1, out.shape[-1]), weight, bias).view(*out.shape[:-1], -1)


class LanguageModel(nn.Module):
    """Embedding -> multi-layer LSTM (cuDNN on GPU) -> dropout -> linear decoder.

    With tied weights the decoder reuses the embedding matrix (Press & Wolf, Inan et al.); when
    the last layer's size differs from the embedding size a linear projection bridges the two.
    With ``last_layer_size`` the last layer is an LSTM of its own size (``top``) above the others:
    AWD-LSTM gives it the embedding's size, so the tied decoder reads the LSTM's bounded outputs
    directly. The carried state stays two [layers, batch, width] tensors, the smaller layers'
    part zero-padded, so everything that carries or saves state is unchanged.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.embed_dim)
        self.drop = Dropout(cfg.dropout, locked=cfg.variational)
        self.layer_drop = Dropout(cfg.between_layers, locked=cfg.variational)
        self.stacked = cfg.layers - (1 if cfg.top_size != cfg.hidden_size else 0)  # layers in self.lstm
        self.lstm = nn.LSTM(cfg.embed_dim, cfg.hidden_size, self.stacked, batch_first=True,
                            dropout=cfg.between_layers if self.stacked > 1 else 0.0)
        self.top = nn.LSTM(cfg.hidden_size, cfg.top_size, 1, batch_first=True) if self.stacked < cfg.layers else None
        out_dim = cfg.top_size
        self.proj = nn.Linear(out_dim, cfg.embed_dim) if cfg.tie_weights and out_dim != cfg.embed_dim else None
        if cfg.tie_weights:
            out_dim = cfg.embed_dim
        self.decoder = None
        self.adaptive = AdaptiveSoftmax(out_dim, cfg.vocab_size, cfg.cutoffs, cfg.tie_weights) if cfg.cutoffs else None
        if cfg.tie_weights and not cfg.cutoffs:
            self.decoder_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        elif not cfg.cutoffs:
            self.decoder = nn.Linear(out_dim, cfg.vocab_size)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)

    def forward(self, x: torch.Tensor, state: State | None = None,
                last_only: bool = False) -> tuple[torch.Tensor, State]:
        """Logits for every position, or (``last_only``) for the final one: a long prompt then never
        materialises [length x vocabulary] logits. With an adaptive softmax they are log-probabilities
        (logits up to a constant per position, so sampling treats them alike)."""
        logits, state, _, _ = self.outputs(x, state, last_only)
        return logits, state

    def outputs(self, x: torch.Tensor, state: State | None = None, last_only: bool = False,
                decode: bool = True) -> tuple[torch.Tensor, State, torch.Tensor, torch.Tensor]:
        """Logits (or, without ``decode``, the decoder's input), the new state, and the last LSTM
        layer's outputs before and after dropout (which AWD-LSTM's activation regularisers penalise)."""
        raw, state = self.run_lstm(self.drop(self.embed(x)), state)
        if last_only:
            raw = raw[:, -1:]
        dropped = out = self.drop(raw)
        if self.proj is not None:
            out = self.proj(out)
        if not decode:
            return out, state, raw, dropped
        if self.adaptive is not None:
            return self.adaptive.log_prob(out, self.embedding.weight), state, raw, dropped
        return decoder_logits(out, *self.decoder_weights()), state, raw, dropped

    def loss(self, out: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """The next-token cross-entropy (float32) of the decoder's input ``out`` (``outputs(decode=False)``)
        against targets ``y``: through the adaptive softmax, which off the CPU scores every cluster at
        every position, or the full decoder."""
        if self.adaptive is not None:
            nll = self.adaptive.nll(out, y, self.embedding.weight, dense=out.device.type != "cpu")
            return nll.sum() if reduction == "sum" else nll.mean()
        logits = decoder_logits(out, *self.decoder_weights())
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), reduction=reduction)

    def decoder_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The full decoder's weight and bias (the embedding matrix, when tied)."""
        if self.decoder is None:
            return self.embedding.weight, self.decoder_bias
        return self.decoder.weight, self.decoder.bias

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return embed(self.embedding, x, self.cfg.embed_dropout if self.training else 0.0)

    def run_lstm(self, x: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """The LSTM layers (``lstm``, then ``top`` if there is one), on the [layers, batch, width] state."""
        if self.top is None:
            return self.run_stack(self.lstm, self.stacked, x, state)
        n, width = self.stacked, self.cfg.state_size
        lower = upper = None
        if state is not None:
            lower = tuple(s[:n, :, :self.cfg.hidden_size].contiguous() for s in state)
            upper = tuple(s[n:, :, :self.cfg.top_size].contiguous() for s in state)
        x, (h, c) = self.run_stack(self.lstm, n, x, lower)
        x, (h_top, c_top) = self.run_stack(self.top, 1, self.layer_drop(x), upper)
        return x, tuple(torch.cat([F.pad(a, (0, width - a.shape[-1])), F.pad(b, (0, width - b.shape[-1]))])
                        for a, b in ((h, h_top), (c, c_top)))

    def run_stack(self, lstm: nn.LSTM, layers: int, x: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """One nn.LSTM stack, with two training-time regularisers.

        ``weight_drop``: DropConnect on the hidden-to-hidden matrices. ``variational`` with several
        layers: between layers, too, one dropout mask per sequence instead of nn.LSTM's fresh mask at
        every step; the layers then run one fused call each. Both call the kernel nn.LSTM calls
        (``_VF.lstm``, cuDNN on a GPU) on a list of the stack's weights, the dropped matrices in
        place, so the gradient reaches the real parameters and the checkpoint does not change.
        nn.LSTM itself is never handed other weights (``functional_call``): on CUDA its forward
        re-flattens swapped-in weights into a new block and moves its parameters' storage there, and
        a CUDA graph captured so replays its copy from the old storage, so the LSTM stopped learning.
        """
        p = self.cfg.weight_drop if self.training else 0.0
        layered = self.training and self.cfg.variational and layers > 1 and self.cfg.between_layers > 0
        if p == 0 and not layered:
            return lstm(x, state)
        names = lstm._flat_weights_names
        weights = [F.dropout(w, p, True) if p and name.startswith("weight_hh") else w
                   for name, w in zip(names, (getattr(lstm, name) for name in names))]
        if state is None:
            zeros = x.new_zeros(layers, x.shape[0], lstm.hidden_size)
            state = (zeros, zeros)
        with warnings.catch_warnings():  # cuDNN copies the list into one block of weights: expected here
            warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
            if not layered:
                x, h, c = _VF.lstm(x, state, weights, lstm.bias, layers, lstm.dropout, True, False, True)
                return x, (h, c)
            per_layer = len(weights) // layers
            hs, cs = [], []
            for i in range(layers):
                if i:
                    x = self.layer_drop(x)  # locked: one mask per sequence
                layer_state = (state[0][i:i + 1], state[1][i:i + 1])
                x, h, c = _VF.lstm(x, layer_state, weights[i * per_layer:(i + 1) * per_layer], lstm.bias, 1, 0.0,
                                   True, False, True)
                hs.append(h)
                cs.append(c)
            return x, (torch.cat(hs), torch.cat(cs))


def real_positions(lengths: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """[batch, time] True where ``x`` [batch, time, ...] holds a text's token, False on its padding."""
    return torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first ``lengths[b]`` steps in place of order, leaving its padding where it is."""
    steps = torch.arange(x.shape[1], device=x.device)[None, :]
    lengths = lengths.to(x.device)[:, None]
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    return x.gather(1, index[..., None].expand_as(x))


class Classifier(nn.Module):
    """Embedding -> (bi)LSTM -> pooling over the real tokens -> dropout -> linear.

    Padding always sits after a text, so a forward LSTM's outputs at real positions never see it.
    The backward direction runs on each text reversed within its own length (padding still after
    it) and is reversed back: every real position then has exactly the outputs a packed sequence
    would give, while the LSTM runs as plain dense (cuDNN) calls, which are much faster than packed
    ones. A text's prediction therefore does not depend on what it is batched with.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=0)
        self.drop = Dropout(cfg.dropout)
        self.layer_drop = Dropout(cfg.between_layers)
        if cfg.bidirectional:  # one forward and one backward single-layer LSTM per layer
            sizes = [cfg.embed_dim] + [2 * cfg.hidden_size] * (cfg.layers - 1)
            self.fwd = nn.ModuleList(nn.LSTM(n, cfg.hidden_size, batch_first=True) for n in sizes)
            self.bwd = nn.ModuleList(nn.LSTM(n, cfg.hidden_size, batch_first=True) for n in sizes)
        else:  # named as in the language model, so --init-from copies every layer
            self.lstm = nn.LSTM(cfg.embed_dim, cfg.hidden_size, cfg.layers, batch_first=True,
                                dropout=cfg.between_layers if cfg.layers > 1 else 0.0)
        width = cfg.hidden_size * (2 if cfg.bidirectional else 1)
        self.attention = nn.Linear(width, 1) if cfg.pooling == "attention" else None
        self.head = nn.Linear(width * len(pooled_parts(cfg.pooling)), cfg.num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The texts' embeddings [batch, time, embed_dim] (with word dropout while training)."""
        return embed(self.embedding, x, self.cfg.embed_dropout if self.training else 0.0)

    def encode(self, e: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Per-position outputs [batch, time, width] from embeddings ``e``; only positions below each
        length are meaningful."""
        h = self.drop(e)
        if not self.cfg.bidirectional:
            return self.lstm(h)[0]
        for i, (fwd, bwd) in enumerate(zip(self.fwd, self.bwd)):
            if i:
                h = self.layer_drop(h)
            backward = reverse_padded(bwd(reverse_padded(h, lengths))[0], lengths)
            h = torch.cat([fwd(h)[0], backward], dim=-1)
        return h

    def pool(self, how: str, seq: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """One summary [batch, width] of the outputs ``seq`` over each text's real positions."""
        if how == "last":  # forward state after the last token; backward state after the first
            end = seq.gather(1, (lengths - 1)[:, None, None].expand(-1, 1, seq.shape[-1])).squeeze(1)
            if self.cfg.bidirectional:
                half = self.cfg.hidden_size
                end = torch.cat([end[:, :half], seq[:, 0, half:]], dim=-1)
            return end
        if how == "mean":
            return (seq * mask[..., None]).sum(1) / lengths[:, None].clamp(min=1).to(seq.dtype)
        if how == "max":
            return seq.masked_fill(~mask[..., None], float("-inf")).max(1).values
        scores = self.attention(seq).squeeze(-1).masked_fill(~mask, float("-inf"))
        return (torch.softmax(scores, dim=1)[..., None] * seq).sum(1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x``: [batch, time] token ids padded after each text; ``lengths``: [batch], each at least 1."""
        return self.classify(self.embed(x), lengths)

    def classify(self, e: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits [batch, classes] from the texts' embeddings ``e`` [batch, time, embed_dim]."""
        seq = self.encode(e, lengths)
        lengths = lengths.to(e.device)
        mask = real_positions(lengths, e)
        parts = [self.pool(part, seq, lengths, mask) for part in pooled_parts(self.cfg.pooling)]
        pooled = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)  # one summary needs no copy
        return self.head(self.drop(pooled))


@torch.no_grad()
def predict_proba(model: nn.Module, seqs: list, batch_size: int, device: torch.device, log: bool = False,
                  done: Callable[[int], None] | None = None) -> np.ndarray:
    """Class probabilities (``log``: their logarithms) for token-id sequences (each non-empty), batched by
    length, in input order; ``done(n)`` is told of each batch of n sequences (a progress bar)."""
    model.eval()
    out = np.zeros((len(seqs), model.cfg.num_classes), dtype=np.float32)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        lengths = torch.tensor([len(seqs[i]) for i in rows], dtype=torch.long)
        x = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)
        for r, i in enumerate(rows):
            x[r, : len(seqs[i])] = torch.as_tensor(np.asarray(seqs[i], dtype=np.int64))
        logits = model(x.to(device), lengths).float()
        probs = torch.log_softmax(logits, dim=-1) if log else torch.softmax(logits, dim=-1)
        out[rows] = probs.cpu().numpy()
        if done is not None:
            done(len(rows))
    return out


def build_model(cfg: ModelConfig) -> nn.Module:
    return LanguageModel(cfg) if cfg.task == "lm" else Classifier(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
