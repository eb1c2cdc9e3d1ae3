"""Starting from a language model (--init-from, --init-backward-from, --extend-vocab): its weights copied into a
new language model or classifier where names and shapes match, and its vocabulary grown; and starting an embedding
from pretrained word vectors (--embed-init)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from lstmtext.errors import UserError
from lstmtext.models import LanguageModel


def init_from_lm(model: torch.nn.Module, lm_dir: Path, backward: Path | None = None, grow: bool = False) -> int:
    """Copy a language model's weights into ``model`` where names and shapes match; returns how many
    tensors were copied. ``grow``: ``model``'s vocabulary extends the language model's
    (``--extend-vocab``), and the rows of the added tokens start at the mean of its rows.

    Into a classifier go the embedding and the LSTM (the ULMFiT recipe: pretrain on text, fine-tune
    on labels); a bidirectional classifier's forward direction takes the LSTM, and its backward
    direction takes ``backward``'s, a model that reads right to left (``--reverse``) and shares
    ``lm_dir``'s embedding. Into a language model goes everything (fine-tuning, or a reversed model
    started from a forward one).
    """
    from lstmtext.checkpoint import load_checkpoint

    own = model.state_dict()
    size = own["embedding.weight"].shape[0]

    def weights(path: Path) -> dict[str, torch.Tensor]:
        state = load_checkpoint(path, task="lm", choose=False).model.state_dict()
        return grow_vocab(state, size) if grow else state

    lm_state = weights(lm_dir)
    if isinstance(model, LanguageModel):
        copied = {k: v for k, v in lm_state.items() if k in own and own[k].shape == v.shape}
    else:
        if any(k.startswith("top.") for k in lm_state):
            raise UserError(f"{lm_dir}: its last LSTM layer has a size of its own (--last-layer-size), which a "
                            "classifier's layers cannot take over", "pretrain the language model without it")
        copied = _classifier_weights(lm_state, own, "fwd")
        if backward is not None:
            bwd = weights(backward)
            if not torch.equal(bwd["embedding.weight"], copied.get("embedding.weight", bwd["embedding.weight"])):
                raise UserError(f"{backward} has an embedding of its own, which {lm_dir}'s forward LSTM does not "
                                "read", f"train it with --init-from {lm_dir} --freeze-embedding")
            copied.update({k: v for k, v in _classifier_weights(bwd, own, "bwd").items()
                           if k.startswith("bwd.")})
    if "embedding.weight" not in copied:
        raise UserError(f"{lm_dir}: its embedding does not fit this model",
                        "use the language model's --embed-dim and vocabulary")
    model.load_state_dict(copied, strict=False)
    return len(copied)



VOCAB_TENSORS = ("embedding.weight", "decoder.weight", "decoder.bias", "decoder_bias")



def grow_vocab(state: dict[str, torch.Tensor], size: int) -> dict[str, torch.Tensor]:
    """A language model's weights for a vocabulary of ``size`` that extends its own: the added
    tokens' embedding rows, decoder rows and biases start at the mean of the existing ones, as
    ULMFiT starts words its pretrained model lacks."""
    grown = dict(state)
    for key in VOCAB_TENSORS:
        tensor = state.get(key)
        if tensor is not None and tensor.shape[0] < size:
            mean = tensor.float().mean(0, keepdim=True).to(tensor.dtype)
            grown[key] = torch.cat([tensor, mean.expand(size - tensor.shape[0], *tensor.shape[1:])])
    return grown



def _classifier_weights(lm: dict[str, torch.Tensor], own: dict[str, torch.Tensor],
                        direction: str) -> dict[str, torch.Tensor]:
    """A language model's embedding and LSTM under a classifier's names: ``lstm.*_l{k}`` for a
    unidirectional one, ``{direction}.{k}.*_l0`` (one single-layer LSTM per layer) for a bidirectional one."""
    renamed = {}
    for key, value in lm.items():
        renamed[key] = value
        match = re.fullmatch(r"lstm\.(\w+)_l(\d+)", key)
        if match:
            renamed[f"{direction}.{match.group(2)}.{match.group(1)}_l0"] = value
    return {k: v for k, v in renamed.items() if k.startswith(("embedding.", "lstm.", f"{direction}."))
            and k in own and own[k].shape == v.shape}


def set_embedding(embedding: torch.nn.Embedding, rows: np.ndarray, found: np.ndarray) -> None:
    """Pretrained vectors (``rows`` where ``found``) into ``embedding``; its other rows start at random normal
    vectors of the pretrained ones' scale (their RMS), so that no token stands out by its size alone, and a
    padding row stays zero."""
    weight = embedding.weight
    with torch.no_grad():
        hits = torch.from_numpy(np.asarray(found, dtype=bool))
        vectors = torch.from_numpy(np.asarray(rows, dtype=np.float32))[hits]
        scale = float(vectors.pow(2).mean().sqrt()) if len(vectors) else 1.0
        weight.normal_(0.0, scale)
        weight[hits] = vectors.to(weight.dtype)
        weight[embedding.padding_idx if embedding.padding_idx is not None else 0] = 0.0  # <pad>, id 0 everywhere
