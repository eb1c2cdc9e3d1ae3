"""Starting a run from language models (--init-from, and --init-backward-from for a classifier's backward
direction): reading their settings and tokenizer, checking that they fit each other, and refusing model flags
that conflict with the sizes and output layer the new model takes over."""

from __future__ import annotations

from pathlib import Path
from shlex import quote
from typing import Any

from lstmtext.errors import usage_error


def _lm_dims(model: dict[str, Any] | None, init_from: Path | None, task: str, embed_dim: int | None,
             hidden_size: int | None, layers: int | None, last_layer_size: int = 0,
             output: dict[str, Any] | None = None) -> dict[str, Any]:
    """With --init-from (its ``model`` settings), the new model takes the language model's sizes (and a
    language model its output layer); conflicting flags are refused. ``output``: the output-layer flags typed
    on the command line (tie_weights, adaptive_softmax, cutoffs), as values."""
    if model is None:
        return {}
    if task == "classify" and model.get("last_layer_size"):
        raise usage_error(f"--init-from {init_from}: its last LSTM layer has a size of its own (--last-layer-size), "
                          "which a classifier's layers cannot take over", "pretrain the language model without it")
    if task == "classify" and model.get("reverse"):
        raise usage_error(f"--init-from {init_from} reads right to left (--reverse)",
                          "pass it as --init-backward-from, and a left-to-right model as --init-from")
    dims = {k: int(model[k]) for k in ("embed_dim", "hidden_size", "layers")}
    given = [("--embed-dim", "embed_dim", embed_dim), ("--hidden-size", "hidden_size", hidden_size),
             ("--layers", "layers", layers)]
    if task == "lm":  # a language model from a language model: the same network, every tensor copied
        dims["last_layer_size"] = int(model.get("last_layer_size") or 0)
        dims["tie_weights"] = bool(model.get("tie_weights", True))
        given.append(("--last-layer-size", "last_layer_size", last_layer_size or None))
        dims["cutoffs"] = list(model.get("cutoffs") or [])
        _refuse_another_output_layer(init_from, dims, output or {})
    for flag, key, value in given:
        if value is not None and value != dims[key]:
            raise usage_error(f"{flag} {value} conflicts with {init_from}, which has {dims[key]}",
                              f"drop {flag}: the new model takes the language model's sizes")
    return dims


def _refuse_another_output_layer(init_from: Path | None, dims: dict[str, Any], asked: dict[str, Any]) -> None:
    """A language model started from another takes its output layer (``dims``): a flag that would change it, and
    silently start its weights afresh, is refused."""
    keep = "drop it: the new model takes the language model's output layer"
    tied, adaptive, cutoffs = asked.get("tie_weights"), asked.get("adaptive_softmax"), asked.get("cutoffs")
    if tied is not None and tied != dims["tie_weights"]:
        raise usage_error(f"{'--tie-weights' if tied else '--no-tie-weights'} conflicts with {init_from}, whose "
                          f"output layer {'has weights of its own' if tied else 'is tied to its embedding'}", keep)
    if adaptive is not None and adaptive != bool(dims["cutoffs"]):
        flag, has = ("--adaptive-softmax", "a full") if adaptive else ("--full-softmax", "an adaptive")
        raise usage_error(f"{flag} conflicts with {init_from}, which has {has} softmax", keep)
    if cutoffs is not None and cutoffs != dims["cutoffs"]:
        has = ",".join(map(str, dims["cutoffs"])) if dims["cutoffs"] else "a full softmax"
        raise usage_error(f"--cutoffs {','.join(map(str, cutoffs))} conflicts with {init_from}, which has {has}", keep)


def _lm_config(path: Path, flag: str) -> dict[str, Any]:
    from lstmtext.checkpoint import LAST_WEIGHTS, check_weights, read_config

    config = read_config(path)
    if config["task"] != "lm":
        raise usage_error(f"{flag} {path} is not a language-model checkpoint",
                          "train one with lstmtext train --task lm")
    # before the corpus is read and tokenized, which can take minutes
    if check_weights(path, config, choose=False).name == LAST_WEIGHTS:
        from rich.markup import escape

        from lstmtext.render import err

        err.print(f"note: {flag} {escape(str(path))} stopped before its first validation, so it has no best weights "
                  "yet; starting from its last ones")
    return config


def _check_backward(backward: Path | None, init_from: Path | None, forward: dict[str, Any] | None, tokenizer: Any,
                    task: str, bidirectional: bool | None) -> None:
    """--init-backward-from: a right-to-left language model of the shape (``forward``, its model settings)
    and ``tokenizer`` of the --init-from model."""
    if backward is None:
        return
    if task != "classify":
        raise usage_error("--init-backward-from is for --task classify", "drop it for a language model")
    if init_from is None:
        raise usage_error("--init-backward-from needs --init-from", "pass the left-to-right model it shares its "
                          "embedding with as --init-from")
    if bidirectional is False:
        raise usage_error("--init-backward-from needs a bidirectional classifier", "drop --no-bidirectional")
    model = _lm_config(backward, "--init-backward-from")["model"]
    if not model.get("reverse"):
        raise usage_error(f"--init-backward-from {backward} reads left to right",
                          f"train a backward model with --reverse --init-from {quote(str(init_from))} "
                          "--freeze-embedding")
    for key in ("vocab_size", "embed_dim", "hidden_size", "layers", "last_layer_size"):
        if forward.get(key) != model.get(key):
            raise usage_error(f"--init-backward-from {backward} has {key.replace('_', ' ')} {model.get(key)}, "
                              f"--init-from {init_from} has {forward.get(key)}",
                              f"train it with --reverse --init-from {quote(str(init_from))} --freeze-embedding")
    if _lm_tokenizer(backward).to_json() != tokenizer.to_json():
        raise usage_error(f"--init-backward-from {backward} has another tokenizer than {init_from}",
                          f"train it with --reverse --init-from {quote(str(init_from))} --freeze-embedding")


def _lm_tokenizer(init_from: Path) -> Any:
    from lstmtext.tokenizers import FILENAME, load_tokenizer

    return load_tokenizer(Path(init_from) / FILENAME)
