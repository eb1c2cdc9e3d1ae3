"""The options several commands share (their Typer declarations and help texts), and telling the options a user
typed from defaults: the flag a parameter comes from, and refusing a flag that would do nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lstmtext.config import check_device
from lstmtext.errors import UserError, usage_error

SUBWORD_NAMES = ("subword", "subwords", "sentencepiece", "spm", "sp")  # SentencePiece's own default model


def choice_value(value: Optional[str]) -> Optional[str]:
    """A word from a fixed list (--task, --format, --optimizer ...) as typed in any case, spaces around it dropped."""
    return value.strip().lower() if isinstance(value, str) else value


def level_value(value: Optional[str]) -> Optional[str]:
    """--level as typed in any case; "subword" (or "sentencepiece") is SentencePiece's default model, unigram."""
    if value is None:
        return None
    value = value.strip().lower()
    return "unigram" if value in SUBWORD_NAMES else value


Level = Annotated[Optional[str], typer.Option("--level", help="Token level: char, word, or SentencePiece subwords: "
                                              "subword (its unigram model) or bpe (default char for lm, word for "
                                              "classify).", callback=level_value)]
DEFAULT_LEVEL = {"lm": "char", "classify": "word"}
VocabSize = Annotated[Optional[int], typer.Option("--vocab-size", help="bpe/unigram: vocabulary size (default "
                                                  "4000, more for a large alphabet such as Chinese, less where the "
                                                  "text supports less); word or char: keep at most this many "
                                                  "tokens, the most frequent.")]
Lowercase = Annotated[bool, typer.Option("--lowercase", help="Lowercase the text before tokenizing.")]
MinFreq = Annotated[int, typer.Option("--min-freq", help="char/word: drop tokens seen fewer times in training.")]
WordSplit = Annotated[str, typer.Option("--word-split", help="word level: 'punct' splits punctuation off words, "
                                        "'whitespace' splits on spaces only (pre-tokenized corpora such as PTB).",
                                        callback=choice_value)]
TextColumn = Annotated[Optional[str], typer.Option("--text-column", help="Column holding the text "
                                                   "(auto-detected from text/sentence/review/content...).")]
Encoding = Annotated[str, typer.Option("--encoding", help="Encoding of text files.")]
ValidFraction = Annotated[float, typer.Option("--valid-fraction", help="Share held out for validation when the "
                                              "corpus has no validation split of its own.")]
TestFraction = Annotated[float, typer.Option("--test-fraction", help="Share held out for testing when the corpus "
                                             "has no test split of its own.")]
SEED_MAX = 2**63 - 1  # NumPy's and torch's generators both take 0 to this (NumPy refuses negatives)


def seed_value(value: int) -> int:
    """A seed, checked as the command line is parsed: NumPy and torch refuse it outside 0 to SEED_MAX."""
    if not 0 <= value <= SEED_MAX:
        raise typer.BadParameter(f"{value} is not a seed: use a whole number from 0 to {SEED_MAX}")
    return value


SplitSeed = Annotated[int, typer.Option("--split-seed", help="Seed for shuffled hold-outs (classification).",
                                        callback=seed_value)]
LabelColumn = Annotated[Optional[str], typer.Option("--label-column", help="classify: column holding the label "
                                                     "(auto-detected from label/sentiment/polarity/class...).")]
TaskOpt = Annotated[str, typer.Option("--task", help="lm (language model) or classify (text classifier).",
                                      callback=choice_value)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q",
                                     help="No progress bar and no notes; the summary, warnings and errors still show.")]


def _device_value(value: str) -> str:
    """--device's form, checked as the command line is parsed (before torch loads)."""
    try:
        return check_device(value.strip().lower() if isinstance(value, str) else value)  # CPU as cpu
    except UserError:
        raise typer.BadParameter(f"{value!r} is not a device: use auto, cpu, cuda, cuda:N or mps") from None


def _weights_value(value: str) -> str:
    value = value.strip().lower() if isinstance(value, str) else value
    if value not in ("best", "last"):
        raise typer.BadParameter(f"{value!r} is neither best nor last")
    return value


Weights = Annotated[str, typer.Option("--weights", help="best (the best validation: a language model's lowest loss, "
                                      "a classifier's highest macro-F1) or last (the end of training).",
                                      callback=_weights_value)]


Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps (auto picks CUDA when "
                                     "present).", callback=_device_value)]


def typed(ctx: typer.Context) -> list[str]:
    """The parameters given on the command line (not defaults, not a preset's values)."""
    try:
        from typer._click.core import ParameterSource
    except ImportError:
        from click.core import ParameterSource
    return [name for name in ctx.params if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE]


# parameters whose option is not their name in kebab case
OPTION_NAMES = {"variational": "--variational-dropout", "compile_head": "--compile", "output": "--format",
                "json_out": "--json"}


def flag_name(param: str) -> str:
    """The option a parameter comes from: text_column -> --text-column, output -> --format."""
    return OPTION_NAMES.get(param, "--" + param.replace("_", "-"))


def typed_flag(ctx: typer.Context, param: str) -> str:
    """The option as the user typed it: the off form of an on/off pair (--full-softmax, --no-tie-weights) where
    that is what was given, else ``flag_name``."""
    for option in ctx.command.params:
        if option.name == param and getattr(option, "secondary_opts", None) and ctx.params.get(param) is False:
            return option.secondary_opts[0]
    return flag_name(param)


def refuse_unless(ctx: typer.Context, needs: dict[str, tuple[bool, str]]) -> None:
    """Refuse each option given on the command line whose condition fails: ``needs`` maps a parameter
    to (condition, why it does nothing), so a flag is never silently ignored."""
    given = typed(ctx)
    for name, (ok, why) in needs.items():
        if name in given and not ok:
            raise usage_error(f"{typed_flag(ctx, name)} {why}", "drop it")


def _check_task(task: str) -> None:
    if task not in ("lm", "classify"):
        raise usage_error(f"unknown --task {task!r}", "choose lm or classify")


def own_encoding(ctx: typer.Context, encoding: str, config: dict[str, Any], what: str) -> str:
    """``encoding`` as given; where none was, the run's own where it read its text in another than UTF-8 (a cp1252
    corpus's test file is cp1252 too), with a note naming it."""
    from lstmtext.checkpoint import run_encoding

    if "encoding" in typed(ctx):
        return encoding
    theirs = run_encoding(config)
    path = Path(what)
    if path.is_file():  # a byte-order mark leaves no doubt, whatever the run read (its corpus's own mark, maybe)
        from lstmtext.textfiles import marked_encoding

        marked = marked_encoding([path], "utf-8", what)
        if marked is not None:
            from lstmtext.render import err

            err.print(f"note: {marked[1]}")
            return marked[0]
        if theirs in ("utf-16", "utf-32"):  # chosen by the corpus's mark, which this file lacks: UTF-8, as any file
            return encoding  # without one (utf-16-le, typed for files without marks, is kept)
        if theirs is not None and theirs.startswith(("utf-16", "utf-32")) and _plain_utf8(path):
            from lstmtext.render import err  # UTF-16 text has NUL bytes, or is not UTF-8: this is UTF-8

            err.print(f"note: reading {what} as UTF-8, which it is, not as {theirs}, the --encoding the run's corpus "
                      "was read with (pass --encoding to read it otherwise)")
            return encoding
    if theirs is None:
        return encoding
    from lstmtext.render import err

    err.print(f"note: reading {what} as {theirs}, the --encoding the run's corpus was read with (pass --encoding "
              "to read it otherwise)")
    return theirs


def _plain_utf8(path: Path) -> bool:
    """Whether a file's head is UTF-8 text with no NUL byte (which UTF-16 text of ASCII characters is full of)."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start >= len(head) - 3  # a character the head's end cuts
    return True


JsonFlag = Annotated[bool, typer.Option("--json", help="The same as --format json.")]


def chosen_format(ctx: typer.Context, output: str, json_out: bool, formats: tuple[str, ...] = ("table", "json")) -> str:
    """--format, or json for --json; refused where it names no format, or where the two ask for different ones."""
    if output not in formats:
        raise usage_error(f"unknown --format {output!r}", f"choose {', '.join(formats[:-1])} or {formats[-1]}")
    if json_out and output != "json" and "output" in typed(ctx):
        raise usage_error(f"--json and --format {output} ask for two formats", "give one of them")
    return "json" if json_out else output
