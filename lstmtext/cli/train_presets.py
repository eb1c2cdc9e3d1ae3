"""Train's presets: the named recipes in lstmtext/presets/, checked as they load, and the values a preset gives a
run (the user's flags win; values that hang on a flag the user changed, or that --init-from or a prepared folder
decides, are left out)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from shlex import quote
from typing import Any

import typer

from lstmtext.cli.options import typed
from lstmtext.cli.train_checks import SOURCE_FLAGS, TOKENIZER_FLAGS
from lstmtext.errors import UserError, usage_error

PRESETS = Path(__file__).resolve().parent.parent / "presets"


def load_preset(name: str) -> dict[str, Any]:
    """A preset of lstmtext/presets by its name, or a recipe file of the user's (a path ending in .json, written as
    those are), checked to hold a recipe."""
    own = name.lower().endswith(".json")
    path = Path(name) if own else PRESETS / f"{name}.json"
    if own and not path.is_file():
        raise UserError(f"preset file not found: {name}", "check the path")
    if not own and (not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name) or not path.is_file()):
        known = ", ".join(sorted(p.stem for p in PRESETS.glob("*.json")))
        raise usage_error(f"unknown --preset {name!r}", f"choose one of: {known} (--preset list describes them), "
                          "or pass a recipe file (.json) of your own")
    fix = "fix the file: the recipes in the package's lstmtext/presets folder show the form" \
        if own else "reinstall lstmtext"
    try:
        recipe = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise UserError(f"preset file {path} is not valid JSON ({err})", fix) from None
    if isinstance(recipe, dict) and isinstance(recipe.get("settings"), dict) and isinstance(
            recipe["settings"].get("task"), str):  # in any case, as --task takes it
        recipe["settings"]["task"] = recipe["settings"]["task"].strip().lower()
    if not (isinstance(recipe, dict) and isinstance(recipe.get("settings"), dict)
            and recipe["settings"].get("task") in ("lm", "classify")):
        raise UserError(f"preset file {path} lacks its settings, or their task (lm or classify)", fix)
    if not isinstance(recipe.get("corpus"), str):
        if not own:
            raise UserError(f"preset file {path} lacks its corpus", fix)
        recipe["corpus"] = "CORPUS"  # a recipe of the user's need not name one
    return recipe


def list_presets() -> None:
    """`--preset list`: each recipe's name, task and corpus, where to get the corpus, and what the recipe is; as
    paragraphs, which read at any width (a table squeezed its descriptions into a column a word wide)."""
    from rich.markup import escape
    from rich.padding import Padding

    from lstmtext.render import out

    out.print("presets: lstmtext train CORPUS --preset NAME (flags you give override a preset's)\n")
    for path in sorted(PRESETS.glob("*.json")):
        recipe = load_preset(path.stem)
        out.print(f"[bold]{path.stem}[/] ({recipe['settings']['task']}, {escape(recipe['corpus'])})")
        lines = ([f"corpus from {recipe['source']}"] if recipe.get("source") else []) + \
            [recipe.get("description", "")]
        for k, line in enumerate(lines):  # wrapped to the terminal, indented (out's soft wrap would not indent)
            out.print(Padding(escape(line), (0, 0, 1 if k == len(lines) - 1 else 0, 2)), soft_wrap=False)


RUN_OWN = ("resume", "preset", "out", "overwrite")  # a run's own, not a recipe's


def _typed_settings(ctx: typer.Context, name: str, settings: dict[str, Any]) -> dict[str, Any]:
    """A recipe's values as train's options take them (a number written as a string converted), each refused in one
    line where its option could not take it ("hidden_size": "big", a size of 64.7), as a flag would be."""
    from typing import get_args, get_origin

    from lstmtext.cli.options import level_value

    params = {p.name: p for p in ctx.command.params}
    fix = "fix the file: the recipes in the package's lstmtext/presets folder show the form"
    typed_values = {}
    for key, value in settings.items():
        if key in RUN_OWN:
            raise usage_error(f"preset {name!r} sets {key!r}, which belongs to a run, not a recipe",
                              f"drop it from the file; give --{key.replace('_', '-')} on the command line")
        if key == "cutoffs" and isinstance(value, list):  # [2000, 10000]: JSON's way to write --cutoffs 2000,10000
            value = ",".join(map(str, value))
        kind = getattr(getattr(params[key], "type_descriptor", None), "annotation", None)
        listed = get_origin(kind) is list
        if listed:
            kind = (get_args(kind) or (str,))[0]
        try:
            if value is not None and kind is not None:
                value = [_cast(v, kind) for v in value] if listed and isinstance(value, list) else \
                    [_cast(value, kind)] if listed else _cast(value, kind)
        except (TypeError, ValueError):
            wanted = {bool: "true or false", int: "a whole number", float: "a number"}.get(kind, "a text")
            raise usage_error(f"preset {name!r}: {key} must be {wanted}, not {json.dumps(value)}", fix) from None
        if value is not None and params[key].callback is not None:  # as the flag's value is checked (a seed's
            try:  # range) and taken (--optimizer SGD)
                value = params[key].callback(ctx, params[key], value)
            except typer.BadParameter as err:
                raise usage_error(f"preset {name!r}: {key}: {err.message}", fix) from None
        typed_values[key] = level_value(value) if key == "level" else value
    return typed_values


def _cast(value: Any, kind: Any) -> Any:
    """``value`` from a recipe's JSON as an option of type ``kind`` takes it, or TypeError/ValueError."""
    if kind is bool:
        if not isinstance(value, bool):
            raise TypeError
        return value
    if isinstance(value, bool) or isinstance(value, (list, dict)):
        raise TypeError
    if kind is int:
        number = float(value)
        if not number.is_integer():
            raise ValueError
        return int(number)
    if kind is float:
        return float(value)
    if kind is Path:
        if not isinstance(value, str) or not value:
            raise TypeError
        return Path(value)
    return value if isinstance(value, str) else str(value)


def _preset_values(ctx: typer.Context, name: str) -> dict[str, Any]:
    """The preset's settings, except those the user gave on the command line."""
    recipe = load_preset(name)
    settings = recipe["settings"]
    unknown = sorted(set(settings) - set(ctx.params))
    if unknown:
        keys = {opt.lstrip("-").replace("-", "_"): p.name for p in ctx.command.params for opt in getattr(p, "opts", [])
                if opt.startswith("--") and p.name}  # "format": "output", "compile": "compile_head"
        named = [f"{key!r} is {keys[key]!r}" for key in unknown if keys.get(key) not in (None, key)]
        raise usage_error(f"preset {name!r} sets unknown options: {', '.join(unknown)}",
                          "a recipe names train's options by their parameters" + (f": {'; '.join(named)}" if named
                                                                                  else ", as lstmtext/presets shows"))
    settings = _typed_settings(ctx, name, settings)
    given = typed(ctx)
    if "task" in given and ctx.params["task"] != settings["task"]:
        fitting = ", ".join(p.stem for p in sorted(PRESETS.glob("*.json"))
                            if load_preset(p.stem)["settings"]["task"] == ctx.params["task"])
        raise usage_error(f"--preset {name} is a recipe for --task {settings['task']}, not {ctx.params['task']}",
                          f"pick a {ctx.params['task']} preset: {fitting}; or drop --preset")
    if ctx.params["corpus"] is None:
        where = f"; the corpus is at {recipe['source']}" if recipe.get("source") else ""
        what = f"the {recipe['corpus']} corpus" if recipe.get("corpus") not in (None, "", "CORPUS") else "a corpus"
        raise usage_error(f"--preset {name} is a recipe for {what}, and no CORPUS was given",
                          f"pass its path: lstmtext train PATH/TO/{recipe.get('corpus') or 'CORPUS'} --preset "
                          f"{quote(str(name))}{where}")
    values = {k: v for k, v in settings.items() if k not in given}
    if ctx.params.get("init_from") is not None:  # the language model decides sizes and tokenizer
        values = {k: v for k, v in values.items() if k not in LM_DECIDES}
    if ctx.params.get("embed_init") is not None:  # the vectors' width
        values.pop("embed_dim", None)
    # a preset's value that only goes with one it set and the user changed goes too (--level bpe on a word-level
    # recipe leaves its --word-split; --layers 1 its last layer of another size), not reported as the user's flag
    if "level" in given and ctx.params["level"] != "word":
        values.pop("word_split", None)
    if "level" in given and ctx.params["level"] != settings.get("level"):  # a recipe's softmax for its vocabulary
        _leave_out(values, name, ("adaptive_softmax", "cutoffs"), f"made for its {settings.get('level')} level")
    if "optimizer" in given and ctx.params["optimizer"] != settings.get("optimizer", ctx.params["optimizer"]):
        # a recipe's rate, clipping and schedule are tuned to its optimizer (SGD at lr 20 would wreck AdamW)
        _leave_out(values, name, ("lr", "clip", "schedule", "warmup_steps", "weight_decay"),
                   f"tuned to its {settings['optimizer']}")
    if "max_steps" in given and "epochs" not in given:  # --max-steps alone is as many steps as it says
        _leave_out(values, name, ("epochs",), "--max-steps bounds the run")
    if "layers" in given and ctx.params["layers"] is not None and ctx.params["layers"] < 2:
        values.pop("last_layer_size", None)
    if ctx.params.get("adaptive_softmax") and "adaptive_softmax" in given:  # --compile is the full softmax's
        values.pop("compile_head", None)
    from lstmtext.data import is_prepared

    corpus = Path(ctx.params["corpus"])
    if is_prepared(corpus):  # its tokenizer and splits are fixed: the recipe's data settings cannot apply
        from lstmtext.data import Prepared
        from rich.markup import escape

        from lstmtext.render import err

        level = Prepared.open(corpus).level
        if values.get("level", level) != level:
            err.print(f"[yellow]warning:[/] --preset {name} tokenizes at level {values['level']}, but "
                      f"{escape(str(corpus))} is prepared at level {level}, which this run keeps (pass the raw corpus "
                      "for the preset's)")
        values = {k: v for k, v in values.items() if k not in TOKENIZER_FLAGS + SOURCE_FLAGS}
    return values


def _leave_out(values: dict[str, Any], name: str, keys: tuple[str, ...], why: str) -> None:
    """Drop a preset's values that went with one the user changed, and say which (the defaults stand instead)."""
    from lstmtext.cli.options import flag_name
    from lstmtext.render import err

    dropped = [f"{flag_name(k)} {v}" if not isinstance(v, bool) else flag_name(k) for k in keys
               if (v := values.pop(k, None)) is not None]
    if dropped:
        one = len(dropped) == 1
        err.print(f"note: --preset {name}'s {', '.join(dropped)} ({why}) {'is' if one else 'are'} left out; pass "
                  f"{'it' if one else 'them'} to keep {'it' if one else 'them'}")


LM_DECIDES = {"embed_dim", "hidden_size", "layers", "level", "lowercase", "vocab_size", "min_freq", "word_split",
              "tie_weights", "adaptive_softmax", "cutoffs"}
