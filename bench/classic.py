"""The reference loop: an LSTM LM trained the way PyTorch's classic word_language_model example does
(fp32, the whole token stream on the device, the hidden state repackaged every batch, a `.item()`
every step, plain SGD by hand). Written here from that recipe's description, not copied."""

from __future__ import annotations

import numpy as np
import torch

from bench.harness import median_time
from lstmtext.config import ModelConfig
from lstmtext.data import Prepared
from lstmtext.models import LanguageModel


def classic_tokens_per_s(prepared: Prepared, shape: tuple, device: torch.device, steps: int) -> float:
    vocab, hidden, layers, seq, batch = shape
    model = LanguageModel(ModelConfig(vocab_size=prepared.tokenizer.vocab_size, embed_dim=hidden,
                                      hidden_size=hidden, layers=layers, dropout=0.2)).to(device).train()
    tokens = torch.from_numpy(np.asarray(prepared.tokens("train"), dtype=np.int64))
    per_stream = len(tokens) // batch
    data = tokens[: per_stream * batch].view(batch, per_stream).to(device)
    state = {"i": 0, "hidden": None, "total": 0.0}
    lr, clip = 20.0, 0.25

    def step() -> None:
        i = state["i"] % ((per_stream - 1) // seq) * seq
        x, y = data[:, i:i + seq], data[:, i + 1:i + 1 + seq]
        hidden = state["hidden"]
        if hidden is not None:
            hidden = tuple(h.detach() for h in hidden)
        model.zero_grad()
        logits, hidden = model(x, hidden)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        state["total"] += loss.item()
        state["hidden"], state["i"] = hidden, state["i"] + 1

    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    return batch * seq / median_time(step, warmup=2, reps=steps, sync=sync)
