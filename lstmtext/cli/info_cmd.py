"""`info`: describing a checkpoint (task, tokenizer, model sizes and output layer, regularisation, training
progress and versions) as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from shlex import quote
from typing import Annotated, Any

import typer

from lstmtext.checkpoint import finite
from lstmtext.cli.exits import handle_errors
from lstmtext.cli.options import JsonFlag, chosen_format, flag_name, choice_value


def _columns(config: dict[str, Any]) -> str | None:
    """The table columns a run read: "text 'Review Body', label 'My Label'" (None for plain text)."""
    from lstmtext.checkpoint import run_columns

    named = [f"{what} {name!r}" for what, name in zip(("text", "label"), run_columns(config)) if name]
    return ", ".join(named) or None


def _describe_prepared(folder: Path, output: str) -> None:
    """info on a prepared folder (tokenize's): what it was prepared from and how, its splits, and whether its files
    are whole (a damaged folder is described, then the damage given as the error)."""
    from lstmtext.checkpoint import read_json
    from lstmtext.data import damage, prepare_again, source_shown, tokenize_command
    from lstmtext.errors import UserError

    meta = read_json(folder / "meta.json", "the prepared folder's metadata")
    def part(value: Any) -> dict[str, Any]:  # a damaged meta.json's part as what it should be, or empty
        return value if isinstance(value, dict) else {}

    tokenizer, settings, splits = part(meta.get("tokenizer")), part(meta.get("settings")), part(meta.get("splits"))
    splits = {name: part(info) for name, info in splits.items()}
    broken = damage(folder, meta)
    unit = "texts" if meta.get("task") == "classify" else "tokens"
    facts: dict[str, Any] = {
        "prepared_folder": str(folder), "task": meta.get("task"), "source": meta.get("source"),
        "level": tokenizer.get("level"), "vocab_size": meta.get("vocab_size"),
        "tokenizer": {k: tokenizer[k] for k in ("lowercase", "min_freq", "word_split", "vocab_size")
                      if k in tokenizer},
        "splits": splits,
        **({"labels": meta.get("labels")} if meta.get("labels") else {}),
        "settings": settings, "token_type": meta.get("dtype"),
        "warnings": meta.get("warnings") or [], "skipped_records": meta.get("skipped_count", 0),
        "format_version": meta.get("format_version"),
        "prepare_again": prepare_again(folder, meta).removeprefix("prepare it again as it was made: ")
        if meta.get("vocabulary_given") else tokenize_command(source_shown(meta.get("source"), meta.get("source_path")),
                                                              tokenizer, settings, folder),
        "train": f"lstmtext train {quote(str(folder))}",
    }
    if broken is not None:
        facts["problem"] = f"{folder} is a damaged prepared folder: {broken}"
    if output == "json":
        print(json.dumps(facts, indent=2, ensure_ascii=False))
    else:
        from lstmtext.render import facts_table, out

        options = ", ".join(f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}")
                            for k, v in facts["tokenizer"].items()
                            if v not in (None, False) and (k, v) not in (("min_freq", 1), ("word_split", "punct")))
        rows = [("task", "classifier" if meta.get("task") == "classify" else "language model"),
                ("source", str(meta.get("source"))), ("level", str(tokenizer.get("level"))
                                                      + (f" ({options})" if options else "")),
                ("vocabulary", f"{_count(meta.get('vocab_size')):,} ({meta.get('dtype')})")]
        for name, info in splits.items():
            count = _count(info.get(unit, info.get("tokens")))
            unk, tokens = _count(info.get("unk")), _count(info.get("tokens"))
            rows.append((name, f"{count:,} {unit}" + (f" ({tokens:,} tokens)" if unit == "texts" else "")
                         + (f", {unk / tokens:.1%} <unk>" if tokens and unk else "")))
        if meta.get("labels"):
            shown = ", ".join(map(str, meta["labels"][:20]))
            rows.append(("labels", shown + (f" and {len(meta['labels']) - 20:,} more" if len(meta["labels"]) > 20
                                            else "")))
        if facts["warnings"]:
            rows.append(("warnings", f"{len(facts['warnings']):,} (see meta.json)"))
        if broken is not None:
            rows.append(("problem", "damaged: see the error below"))
        rows += [("train a run on it", facts["train"]), ("prepare it again", facts["prepare_again"])]
        out.print(facts_table(rows, title=f"prepared data {folder}"))
    if broken is not None:
        raise UserError(facts["problem"], prepare_again(folder, meta))


def _count(value: Any) -> int:
    """A count of a prepared folder's metadata, 0 where a damaged one has something else."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _vectors(spent: dict[str, Any]) -> str:
    """What --embed-init started the embedding from: 'glove.txt: 12,345 of 13,846 (97.5% of the training tokens)'."""
    try:
        return (f"{spent['path']}: {int(spent['found']):,} of {int(spent['vocabulary']):,} "
                f"({float(spent['token_share']):.1%} of the training tokens)")
    except (KeyError, TypeError, ValueError):
        return str(spent.get("path", "?"))


@handle_errors
def info(
    ctx: typer.Context,
    checkpoint: Annotated[Path, typer.Argument(
        metavar="CHECKPOINT", help="A run folder written by lstmtext train (or a prepared folder, by tokenize).")],
    output: Annotated[str, typer.Option("--format", help="table or json.", callback=choice_value)] = "table",
    json_out: JsonFlag = False,
) -> None:
    """Describe a checkpoint: task, tokenizer, model sizes, training progress and versions.

    Example: lstmtext info checkpoints/tales --format json
    """
    output = chosen_format(ctx, output, json_out)
    if not (checkpoint / "config.json").exists() and (checkpoint / "meta.json").is_file():
        from lstmtext.data import is_prepared

        if is_prepared(checkpoint):  # tokenize's folder, not a run: described as such
            _describe_prepared(checkpoint, output)
            return
    from lstmtext.checkpoint import being_trained, check_run, load_checkpoint

    config = check_run(checkpoint)  # before torch is imported
    from lstmtext.config import ModelConfig, from_dict
    from lstmtext.distill import describe
    from lstmtext.errors import UserError
    from lstmtext.models import build_model, count_parameters

    problem = None  # weights or a tokenizer that cannot be used: the run is described, then the error given
    try:
        ckpt = load_checkpoint(checkpoint)  # validates every file
        vocab_size, parameters = ckpt.tokenizer.vocab_size, count_parameters(ckpt.model)
    except UserError as error:
        problem = error
        vocab_size, parameters = config["model"]["vocab_size"], count_parameters(
            build_model(from_dict(ModelConfig, config["model"])))
    from lstmtext.checkpoint import LAST_WEIGHTS, WEIGHTS, _open_weights, run_encoding, run_settings

    if problem is None and ckpt.weights_file != LAST_WEIGHTS and (checkpoint / LAST_WEIGHTS).exists():
        try:  # the last weights too (generate --weights last, --resume's fallback): their header, not a load
            with _open_weights(checkpoint / LAST_WEIGHTS, "numpy") as fh:
                fh.keys()
        except UserError as error:
            problem = error

    live = being_trained(checkpoint)
    unsaved = live and not any((checkpoint / f).exists() for f in (WEIGHTS, LAST_WEIGHTS))
    if unsaved:  # no weights yet is what a run just started has: info is how to look in on it, not an error
        problem = None
    model = config["model"]
    result = config.get("result") or {}
    status = config.get("status")
    how = None  # status is one of training, interrupted, done (scripts test it); how it was interrupted apart
    if status == "training" and not live:
        status, how = "interrupted", "its train process ended without finishing (killed, or the machine went down)"
    saved, state, state_problem = None, {}, None
    if (checkpoint / "state.json").exists():
        try:
            state = json.loads((checkpoint / "state.json").read_text(encoding="utf-8"))
        except (ValueError, OSError):
            state = {}
        if not isinstance(state, dict) or not isinstance(state.get("step"), int):
            state, state_problem = {}, "state.json is damaged, so --resume cannot continue this run"
        saved = state.get("step")
    # a finished run's best validation figures; a run stopped before the end has its best so far in its state
    best = (result.get("figures") or {}).get("valid") or state.get("best") or {}
    train = config.get("train", {})
    facts = {
        "checkpoint": str(checkpoint),
        "task": config["task"],
        "status": status,
        **({"interrupted_how": how} if how else {}),
        **({"resume": f"lstmtext train --resume {quote(str(checkpoint))}"}
           if saved is not None and str(status).startswith("interrupted") else {}),
        "level": config["tokenizer"].get("level"),
        "vocab_size": vocab_size,
        "embed_dim": model["embed_dim"], "hidden_size": model["hidden_size"], "layers": model["layers"],
        **({"last_layer_size": model["last_layer_size"]} if model.get("last_layer_size") else {}),
        "bidirectional": model.get("bidirectional", False) if config["task"] == "classify" else False,
        **({"reads": "right to left (--reverse)"} if model.get("reverse") else {}),
        **({"output_layer": {"softmax": "adaptive" if model.get("cutoffs") else "full",
                             "tied": model.get("tie_weights", True),
                             **({"cutoffs": model["cutoffs"]} if model.get("cutoffs") else {})}}
           if config["task"] == "lm" else {}),
        **{k: config[k] for k in ("init_from", "init_backward_from") if config.get(k)},
        **({"extend_vocab": f"{config['extend_vocab']['pretrained']:,} pretrained tokens + "
                            f"{config['extend_vocab']['added']:,} added"} if config.get("extend_vocab") else {}),
        **({"embed_init": config["embed_init"]} if isinstance(config.get("embed_init"), dict) else {}),
        **({"frozen": "embedding (--freeze-embedding)"} if train.get("freeze_embedding") else {}),
        **({"freeze_epochs": train["freeze_epochs"]} if train.get("freeze_epochs") else {}),
        **({"pretrained_lr": f"{train['pretrained_lr']:g} x --lr"} if train.get("pretrained_lr", 1.0) != 1.0
           else {}),
        "parameters": parameters,
        "regularisation": {"dropout": model.get("dropout", 0.0), "embed_dropout": model.get("embed_dropout", 0.0),
                           **({"layer_dropout": model["layer_dropout"]} if model.get("layer_dropout") is not None
                              else {}),
                           **({"variational": model.get("variational", False),
                               "weight_drop": model.get("weight_drop", 0.0)} if config["task"] == "lm" else {}),
                           **{k: train[k] for k in ("ar", "tar", "adversarial", "shift_windows") if train.get(k)}},
        **({"pooling": model.get("pooling"), "max_length": train.get("max_length")}
           if config["task"] == "classify" else {}),
        "optimizer": train.get("optimizer"),
        **{k: train[k] for k in ("lr", "batch_size") if train.get(k) is not None},
        # --compile: the decoder and loss compiled, or eager and why (a failed compile falls back)
        **({"compile": result.get("decoder_loss") or "asked for"} if train.get("compile") else {}),
        **({"weights": f"moving average (--ema {train['ema']:g})"} if train.get("ema") else {}),
        **({"distilled_from": describe(train)} if train.get("distill_from") else {}),
        **({"labels": config.get("labels")} if config["task"] == "classify" else {}),
        "steps": result.get("steps", saved),
        **({"stopped_by": result["stopped_by"]} if result.get("stopped_by") else {}),
        "saved_state_step": saved,
        **({"state_problem": state_problem} if state_problem else {}),
        "best_valid": best,
        **({"saved_weights": "none yet (its first validation or --save-every save writes them)"} if unsaved else {}),
        "trained_on": config["data"].get("source"),
        **({"columns": columns} if (columns := _columns(config)) else {}),
        # a folder or file per label: "one folder per label: neg, pos; each file one text"
        **({"read_as": layout} if (layout := run_settings(config).get("layout")) else {}),
        **({"encoding": encoding} if (encoding := run_encoding(config)) else {}),  # classify --file reads with it
        "format_version": config["format_version"],
        "versions": config.get("versions", {}),
    }
    if problem is not None:
        facts["problem"] = str(problem)
    if output == "json":
        print(json.dumps(finite(facts), indent=2, ensure_ascii=False))
        if problem is not None:
            raise problem
        return
    from lstmtext.render import facts_table, figures_text, out

    def show(key: str, value: Any) -> str:
        if key == "problem":  # the error line below says what and how to fix it
            return "cannot be used as it is: see the error below"
        if key == "embed_init":
            return _vectors(value)
        if key == "output_layer":  # "adaptive softmax, clusters from 2,000, 10,000 (shortlist tied to the embedding)"
            tied = " tied to the embedding" if value["tied"] else ""
            if value["softmax"] == "full":
                return f"full softmax{tied}"
            clusters = ", ".join(f"{c:,}" for c in value["cutoffs"])
            return f"adaptive softmax, clusters from ranks {clusters}" + (f" (shortlist{tied})" if tied else "")
        if key == "freeze_epochs":
            return f"{value} (the pretrained layers frozen for the first {value} epoch{'s' * (value != 1)})"
        if key == "max_length":
            return f"{value:,} tokens (longer texts are truncated)"
        if key == "regularisation":  # as the flags that set it; what is off is left out
            return ", ".join(flag_name(k) + ("" if v is True else f" {v:g}")
                             for k, v in value.items() if v) or "none"
        if isinstance(value, dict):
            return figures_text(value) or "-"
        if isinstance(value, list):  # labels: the first 20, and how many more (the JSON has them all)
            shown = ", ".join(map(str, value[:20]))
            return shown + (f" and {len(value) - 20:,} more" if len(value) > 20 else "")
        if isinstance(value, bool):
            return "yes" if value else "no"
        return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)

    out.print(facts_table([(k.replace("_", " "), show(k, v)) for k, v in facts.items() if k != "checkpoint"],
                          title=f"checkpoint {checkpoint}"))
    if problem is not None:
        raise problem
