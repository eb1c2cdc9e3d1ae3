"""The `lstmtext` command line: a thin Typer shell over the library.

Heavy modules (torch, numpy, datasets) are imported inside the commands, so `--help` and usage
errors answer at once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer

from lstmtext import __version__
from lstmtext.config import TokenizerSpec, check_device, to_dict
from lstmtext.errors import UserError, usage_error


def _flags_without_type() -> None:
    """Typer 0.29 shows a switch (--quiet) with a type, '<bool>', as if it took a value: show none for it."""
    option = getattr(getattr(typer, "core", None), "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if shown is None or getattr(shown, "_lstmtext", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if getattr(self, "is_bool_flag", False) and self.metavar is None else shown(self, ctx)

    display_type_rich._lstmtext = True  # type: ignore[attr-defined]
    option.display_type_rich = display_type_rich


_flags_without_type()
app = typer.Typer(
    name="lstmtext",
    help="Train and use LSTM language models and text classifiers.\n\n"
         "Example: lstmtext train && lstmtext generate checkpoints/<run> --prompt 'Once'",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
_state = {"debug": False}
F = TypeVar("F", bound=Callable[..., Any])

PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_CORPORA = {"lm": "corpora/tales.txt", "classify": "corpora/reviews.tsv"}


def _fail(message: str, code: int) -> None:
    from rich.markup import escape

    from lstmtext.render import err

    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM (timeout, docker stop, a job scheduler) raised where the command is, as Ctrl-C is, so that what it
    was writing (a half-prepared corpus) is cleaned up; train turns both into a clean stop of its own."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def _utf8_output() -> None:
    """Text the locale cannot encode (a Windows code page, say) must not stop the output: files and pipes get
    UTF-8, what JSON, CSV and text readers expect; a terminal keeps its encoding, with ? for what it lacks."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "").replace("_", "")
        if encoding == "utf8" or not hasattr(stream, "reconfigure"):
            continue
        try:
            if stream.isatty():
                stream.reconfigure(errors="replace")
            else:
                stream.reconfigure(encoding="utf-8")
        except (OSError, ValueError):
            pass


_locks: list[int] = []  # descriptors of the run folders this command writes (train_cmd._lock_run)


def release_locks() -> None:
    import os

    while _locks:
        os.close(_locks.pop())


PIPE_CLOSED = 141  # 128 + SIGPIPE: the code of a shell tool stopped by a closed pipe, which a script tells from 1


def _pipe_closed() -> None:
    """`lstmtext ... | head`: the reader has what it wanted; the caller stops without a word (PIPE_CLOSED)."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the flush at exit must not fail again


def handle_errors(fn: F) -> F:
    """Turn library errors into one line on stderr and an exit code; tracebacks only with --debug."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except UserError as exc:
            if _state["debug"]:
                raise
            _fail(str(exc), exc.exit_code)
        except Terminated:
            _fail("terminated (SIGTERM)", 143)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except BrokenPipeError:  # the reader of our output went away (`| head`)
            _pipe_closed()
            raise typer.Exit(PIPE_CLOSED) from None
        except MemoryError:
            _fail("out of memory", 1)
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if _state["debug"]:
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            _fail(f"internal error: {type(exc).__name__}: {first[:200]} (run with --debug for the traceback)", 1)

    return wrapper  # type: ignore[return-value]


def _print_version(value: bool) -> None:
    """--version is eager: it answers before Click asks for a command, so it works on its own."""
    if value:
        typer.echo(f"lstmtext {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks for internal errors.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                          callback=_print_version)] = False,
) -> None:
    _state["debug"] = debug


# ----------------------------------------------------------------------------- shared options

Level = Annotated[Optional[str], typer.Option("--level", help="Token level: char, word, bpe or unigram "
                                              "(default char for lm, word for classify).")]
DEFAULT_LEVEL = {"lm": "char", "classify": "word"}
VocabSize = Annotated[Optional[int], typer.Option("--vocab-size", help="bpe/unigram: vocabulary size (default "
                                                  "4000, more for a large alphabet such as Chinese, less where the "
                                                  "text supports less); word: keep at most this many tokens.")]
Lowercase = Annotated[bool, typer.Option("--lowercase", help="Lowercase the text before tokenizing.")]
MinFreq = Annotated[int, typer.Option("--min-freq", help="char/word: drop tokens seen fewer times in training.")]
WordSplit = Annotated[str, typer.Option("--word-split", help="word level: 'punct' splits punctuation off words, "
                                        "'whitespace' splits on spaces only (pre-tokenized corpora such as PTB).")]
TextColumn = Annotated[Optional[str], typer.Option("--text-column", help="Column holding the text "
                                                   "(auto-detected from text/sentence/review/content...).")]
Encoding = Annotated[str, typer.Option("--encoding", help="Encoding of text files.")]
ValidFraction = Annotated[float, typer.Option("--valid-fraction", help="Share held out for validation when the "
                                              "corpus has no validation split of its own.")]
TestFraction = Annotated[float, typer.Option("--test-fraction", help="Share held out for testing when the corpus "
                                             "has no test split of its own.")]
SplitSeed = Annotated[int, typer.Option("--split-seed", help="Seed for shuffled hold-outs (classification).")]
LabelColumn = Annotated[Optional[str], typer.Option("--label-column", help="classify: column holding the label "
                                                     "(auto-detected from label/sentiment/polarity/class...).")]
TaskOpt = Annotated[str, typer.Option("--task", help="lm (language model) or classify (text classifier).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]


def _device_value(value: str) -> str:
    """--device's form, checked as the command line is parsed (before torch loads)."""
    try:
        return check_device(value)
    except UserError:
        raise typer.BadParameter(f"{value!r} is not a device: use auto, cpu, cuda, cuda:N or mps") from None


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


def refuse_unless(ctx: typer.Context, needs: dict[str, tuple[bool, str]]) -> None:
    """Refuse each option given on the command line whose condition fails: ``needs`` maps a parameter
    to (condition, why it does nothing), so a flag is never silently ignored."""
    given = typed(ctx)
    for name, (ok, why) in needs.items():
        if name in given and not ok:
            raise usage_error(f"{flag_name(name)} {why}", "drop it")


def _check_task(task: str) -> None:
    if task not in ("lm", "classify"):
        raise usage_error(f"unknown --task {task!r}", "choose lm or classify")


def _spec(level: str, vocab_size: int | None, lowercase: bool, min_freq: int, word_split: str) -> TokenizerSpec:
    spec = TokenizerSpec(level=level, vocab_size=vocab_size, lowercase=lowercase, min_freq=min_freq,
                         word_split=word_split)
    spec.validate()
    return spec


def _default_corpus(task: str) -> Path:
    for base in (Path.cwd(), PACKAGE_ROOT):  # ./corpora first, as any relative path; then the checkout's
        if (base / DEFAULT_CORPORA[task]).exists():
            return base / DEFAULT_CORPORA[task]
    raise usage_error("no CORPUS given and the shipped corpus was not found", "pass a corpus path")


def _cache_dir(corpus_path: Path, spec: TokenizerSpec, task: str, settings: dict[str, Any],
               tokenizer_key: str = "", content: str = "") -> Path:
    """The default prepared folder: one per source, settings and content, so that preparing an edited
    corpus leaves the folder older runs were trained on in place."""
    # word level cuts text anew since 12-04 and 12-05 (tokenizers.py, WORD_CUT): a folder of its own, so the
    # folders of the runs trained before stay as they were
    from lstmtext.tokenizers import WORD_CUT

    marks = {"keep_marks": True, "cut": WORD_CUT} if spec.level == "word" and not tokenizer_key else {}
    key = hashlib.sha256(json.dumps({**to_dict(spec), "task": task, "src": str(corpus_path.resolve()),
                                     "settings": settings, "tokenizer": tokenizer_key, "content": content, **marks},
                                    sort_keys=True).encode()).hexdigest()[:8]
    return Path("checkpoints") / "prepared" / f"{corpus_path.stem or 'corpus'}-{spec.level}-{key}"


def _stale(folder: Path, tokenizer: Any = None) -> str | None:
    """What an older lstmtext got wrong in the prepared ``folder`` (data.stale_reason), or None (also where
    there is no such folder)."""
    from lstmtext.data import read_meta, stale_reason

    meta = read_meta(folder)
    return None if meta is None else stale_reason(folder, meta, marks=tokenizer is None)


def _prepare(corpus_arg: str, spec: TokenizerSpec, out: Path | None, overwrite: bool, *, encoding: str,
             text_column: str | None, valid_fraction: float, test_fraction: float, split_seed: int,
             task: str, label_column: str | None, quiet: bool, tokenizer: Any = None, extend: bool = False,
             given: Sequence[str] = ()) -> tuple[Path, dict[str, Any], bool, float]:
    """Open the corpus and make (or reuse) its prepared folder. ``extend``: add the train split's tokens
    that ``tokenizer`` lacks (``spec.min_freq`` times or more) to it first."""
    from rich.markup import escape

    from lstmtext.corpus import open_corpus
    from lstmtext.data import READER, ensure_prepared, is_prepared, reusable
    from lstmtext.render import byte_progress, err

    corpus = open_corpus(corpus_arg, encoding=encoding, text_column=text_column, label_column=label_column,
                         valid_fraction=valid_fraction, test_fraction=test_fraction, split_seed=split_seed,
                         task=task)
    for name in ("valid", "test"):  # a fraction of a split the corpus has a file of would do nothing
        if f"{name}_fraction" in given and name not in corpus.carved and corpus.own_splits:
            raise usage_error(f"--{name}-fraction does nothing: {corpus_arg} has a {name} split of its own",
                              "drop it")
    if extend:
        from lstmtext.tokenizers import extend_tokenizer

        tokenizer = extend_tokenizer(tokenizer, corpus.splits["train"].texts(), spec.min_freq)
    tokenizer_key = hashlib.sha256(json.dumps(tokenizer.to_json()).encode()).hexdigest() if tokenizer else ""
    target = out if out is not None else _cache_dir(Path(corpus_arg), spec, task, corpus.settings, tokenizer_key,
                                                    corpus.content_hash())
    if target.exists() and not target.is_dir():
        raise usage_error(f"--out {target} is an existing file", "pass a folder path")
    stale = _stale(target, tokenizer)
    if out is None and stale:  # a cache folder an older lstmtext got wrong: its runs keep it, this one gets its own
        target = target.with_name(f"{target.name}-r{READER}")
    if out is not None and target.exists() and not is_prepared(target) and any(target.iterdir()):
        raise usage_error(f"--out {target} exists and is not a prepared-data folder",  # --overwrite or not
                          "pick a new folder, or remove it yourself")
    if out is not None and target.exists() and not overwrite:
        if stale:
            raise usage_error(f"--out {target} was prepared by an older lstmtext: {stale}",
                              "pass --overwrite to prepare it again, or pick another --out")
        if is_prepared(target) and reusable(target, corpus, spec, task, tokenizer) is None:
            raise usage_error(f"--out {target} holds data prepared from another source or with other settings",
                              "pass --overwrite to replace it, or pick another --out")
    started = time.perf_counter()
    with byte_progress(quiet) as progress:
        tasks: dict[str, Any] = {}

        def report(split: str, done: int, total: int) -> None:  # bytes of a text split, or records of a table
            if split not in tasks:
                tasks[split] = progress.add_task(f"tokenize {split}", total=total or None,
                                                 unit="bytes" if total else "records")
            progress.update(tasks[split], completed=done)

        if out is not None and overwrite:  # asked for: prepared again even where the folder still matches
            from lstmtext.data import prepare

            meta, reused = prepare(corpus, spec, target, task, report, tokenizer, force=True), False
        else:
            meta, reused = ensure_prepared(corpus, spec, target, task, report, tokenizer)
    records = sum(info.get("records", info.get("texts", 0)) for info in meta["splits"].values())
    if records and not quiet and not reused:
        err.print(escape(f"read {records:,} records from {corpus_arg}; skipped {len(corpus.report.skipped):,}"))
    warn(meta.get("warnings", []), corpus.report.skipped, "see meta.json")
    return target, meta, reused, time.perf_counter() - started


def note_weights(ckpt: Any) -> None:
    """Say so when a run's best weights do not exist yet and its last ones stand in."""
    from lstmtext.checkpoint import LAST_WEIGHTS
    from lstmtext.render import err

    if ckpt.weights_file == LAST_WEIGHTS and (ckpt.path / LAST_WEIGHTS).exists() and \
            ckpt.config.get("status") != "done":
        err.print(f"note: {ckpt.path} stopped before its first validation, so it has no best weights yet; "
                  "using its last ones")


def warn(warnings: list[str], skipped: Sequence[Any] = (), more: str = "") -> None:
    """Warnings on stderr, then the first five skipped records ((file, line, reason)) and their count."""
    from rich.markup import escape

    from lstmtext.render import err

    lines = list(warnings) + [f"skipped {path} line {line}: {reason}" for path, line, reason in skipped[:5]]
    if len(skipped) > 5:
        lines.append(f"skipped {len(skipped):,} records in all" + (f" ({more})" if more else ""))
    for line in lines:
        err.print(f"[yellow]warning:[/] {escape(line)}")


def _data_table(path: Path, meta: dict[str, Any], reused: bool, seconds: float) -> Any:
    from rich.table import Table

    table = Table(title=f"prepared data: {path}" + (" (reused)" if reused else ""), title_justify="left")
    for col in ("split", "characters", "tokens", "<unk> rate"):
        table.add_column(col, justify="left" if col == "split" else "right")
    total_tokens = 0
    for split, info in meta["splits"].items():
        total_tokens += info["tokens"]
        rate = info["unk"] / info["tokens"] if info["tokens"] else 0.0
        texts = f" ({info['texts']:,} texts)" if "texts" in info else ""
        table.add_row(split, f"{info['chars']:,}{texts}", f"{info['tokens']:,}", f"{rate:.3%}")
    if meta.get("labels"):
        counts = {name: 0 for name in meta["labels"]}
        for info in meta["splits"].values():
            for name, c in zip(meta["labels"], info.get("label_counts", [])):
                counts[name] += c
        table.add_row("labels", ", ".join(f"{k} {v:,}" for k, v in counts.items()), "", "")
    table.caption = (f"level {meta['tokenizer']['level']}, vocabulary {meta['vocab_size']:,}, {meta['dtype']}, "
                     + ("reused, source unchanged" if reused else
                        f"{total_tokens / max(meta['seconds'], 1e-9):,.0f} tokens/s"))
    return table


# ----------------------------------------------------------------------------- tokenize


@app.command()
@handle_errors
def tokenize(
    ctx: typer.Context,
    corpus: Annotated[str, typer.Argument(help="Text file, folder, CSV/TSV/JSON(L)/parquet, saved HF dataset or "
                                          "hub id.")],
    level: Level = None,
    vocab_size: VocabSize = None,
    lowercase: Lowercase = False,
    min_freq: MinFreq = 1,
    word_split: WordSplit = "punct",
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    task: TaskOpt = "lm",
    encoding: Encoding = "utf-8",
    valid_fraction: ValidFraction = 0.05,
    test_fraction: TestFraction = 0.05,
    split_seed: SplitSeed = 0,
    out: Annotated[Optional[Path], typer.Option("--out", help="Prepared folder to write (default under "
                                                 "checkpoints/prepared/).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Prepare --out again, replacing the data it holds "
                                                                "(your other files there stay).")] = False,
    quiet: Quiet = False,
) -> None:
    """Tokenize a corpus into a prepared folder of memory-mapped token ids.

    Example: lstmtext tokenize corpora/tales.txt --level bpe --vocab-size 2000 --out checkpoints/prepared/tales-bpe
    """
    from lstmtext.render import out as stdout

    _check_task(task)
    refuse_unless(ctx, {"label_column": (task == "classify", "is for --task classify"),
                        "split_seed": (task == "classify", "is for --task classify: a language model holds out "
                                                           "the tail, not a random draw")})
    spec = _spec(level or DEFAULT_LEVEL[task], vocab_size, lowercase, min_freq, word_split)
    path, meta, reused, seconds = _prepare(corpus, spec, out, overwrite, encoding=encoding, text_column=text_column,
                                           valid_fraction=valid_fraction, test_fraction=test_fraction,
                                           split_seed=split_seed, task=task, label_column=label_column, quiet=quiet,
                                           given=typed(ctx))
    stdout.print(_data_table(path, meta, reused, seconds))


from lstmtext.cli.train_cmd import PRESETS, group_help, load_preset, train  # noqa: E402,F401  (registers train)

# ----------------------------------------------------------------------------- generate


@app.command()
@handle_errors
def generate(
    ctx: typer.Context,
    checkpoint: Annotated[Path, typer.Argument(help="A run folder written by lstmtext train.")],
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="Text to start from.")] = "",
    length: Annotated[int, typer.Option("--length", "-n", help="Tokens to generate.")] = 300,
    temperature: Annotated[float, typer.Option("--temperature", "-t", help="Sampling temperature (0 = "
                                               "greedy).")] = 0.8,
    top_k: Annotated[int, typer.Option("--top-k", help="Sample from the k most likely tokens (0 = off).")] = 0,
    top_p: Annotated[float, typer.Option("--top-p", help="Nucleus sampling mass, in (0, 1].")] = 1.0,
    num_samples: Annotated[int, typer.Option("--num-samples", help="Samples drawn together in one "
                                             "batch.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same text (on the same device).")] = 0,
    stream: Annotated[bool, typer.Option("--stream/--no-stream", help="Print tokens as they come (one "
                                         "sample only).")] = True,
    weights: Annotated[str, typer.Option("--weights", help="best (lowest validation loss) or last.")] = "best",
    device: Device = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="Print the samples as JSON.")] = False,
    cuda_graphs: Annotated[bool, typer.Option("--cuda-graphs/--no-cuda-graphs", help="On CUDA: replay the "
                                              "one-token step as a captured CUDA graph (faster).")] = True,
) -> None:
    """Sample text from a trained language model.

    Example: lstmtext generate checkpoints/tales --prompt "The miller said" --length 400 --temperature 0.7
    """
    from lstmtext.config import SampleSettings

    settings = SampleSettings(length=length, temperature=temperature, top_k=top_k, top_p=top_p,
                              num_samples=num_samples, seed=seed)
    settings.validate()
    greedy = "does nothing with --temperature 0: greedy decoding takes the most likely token every time"
    refuse_unless(ctx, {"stream": (num_samples == 1 and not json_out, "prints one sample as it is written, "
                                   "not --num-samples above 1 or --json"),
                        **{name: (temperature > 0, greedy) for name in ("top_k", "top_p", "seed")}})
    if weights not in ("best", "last"):
        raise usage_error(f"unknown --weights {weights!r}", "choose best or last")
    if len(prompt) > 1_000_000:
        raise usage_error(f"--prompt is {len(prompt):,} characters long", "keep it under 1,000,000 characters")
    from lstmtext.checkpoint import check_run, load_checkpoint

    check_run(checkpoint, "lm")  # a missing or wrong run is reported before torch is imported
    from lstmtext.render import counting, err
    from lstmtext.sampling import StreamText, sample, start_ids, text_after, text_before
    from lstmtext.training import resolve_device

    dev = resolve_device(device)
    ckpt = load_checkpoint(checkpoint, str(dev), weights=weights, task="lm")
    if weights == "best":
        note_weights(ckpt)
    tok = ckpt.tokenizer
    unknown = tok.unknown(prompt)
    if unknown:
        from rich.markup import escape

        from lstmtext.render import visible_repr

        shown = escape(", ".join(visible_repr(u) for u in unknown[:10]))
        err.print(f"[yellow]warning:[/] the prompt has {len(unknown)} token(s) the model never saw ({shown}); "
                  "they are read as <unk>")
    reverse = ckpt.model.cfg.reverse  # it writes what comes before the prompt, last token first
    if reverse and stream and "stream" in typed(ctx):
        raise usage_error(f"--stream cannot stream {checkpoint}: it was trained with --reverse and writes the text "
                          "before the prompt last word first, so the text is printed once it is whole", "drop --stream")
    streaming = stream and num_samples == 1 and not json_out and not reverse
    context = start_ids(tok, prompt)  # the prompt's tokens, which the new text joins onto
    if streaming:
        sys.stdout.write(prompt)
        sys.stdout.flush()
        text = StreamText(tok, lambda piece: (sys.stdout.write(piece), sys.stdout.flush()), context=context)
        sample(ckpt.model, tok, prompt, settings, dev, lambda new: text.add(new[0]), cuda_graph=cuda_graphs)
        text.finish()
        sys.stdout.write("\n")
        return
    with counting("generate", length * num_samples, "tokens") as done:
        rows = sample(ckpt.model, tok, prompt, settings, dev, cuda_graph=cuda_graphs, done=done)
    texts = [text_before(tok, r, context) + prompt if reverse else prompt + text_after(tok, context, r) for r in rows]
    if json_out:
        print(json.dumps({"checkpoint": str(checkpoint), "prompt": prompt, "samples": texts}, ensure_ascii=False))
        return
    for k, text in enumerate(texts):
        if num_samples > 1:
            print(f"--- sample {k + 1} ---")
        print(text)


from lstmtext.cli import inference  # noqa: E402,F401  (registers classify, evaluate, info)

# ----------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: usage errors become one line and exit code 2."""
    try:  # newer Typer releases vendor Click; older ones use the click package
        from typer._click import exceptions as click_errors
    except ImportError:
        from click import exceptions as click_errors

    no_args_help = getattr(click_errors, "NoArgsIsHelpError", ())  # click >= 8.2; older ones exit from inside
    import signal

    _utf8_output()
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        previous = None
    try:
        _run(argv, click_errors, no_args_help)
    finally:  # main() called in-process (the tests) leaves the process as it found it
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        release_locks()


def _run(argv: list[str] | None, click_errors: Any, no_args_help: Any) -> None:
    try:
        command = typer.main.get_command(app)
        group_help(command.commands["train"])
        code = command(args=argv, prog_name="lstmtext", standalone_mode=False)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
    except BrokenPipeError:
        _pipe_closed()
        sys.exit(PIPE_CLOSED)
    except no_args_help:  # bare `lstmtext`: the help is the answer, already printed
        sys.exit(0)
    except click_errors.UsageError as exc:
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        print(f"error: {exc.format_message()}{where}", file=sys.stderr)
        sys.exit(2)
    except Terminated:
        print("error: terminated (SIGTERM)", file=sys.stderr)
        sys.exit(143)
    except (typer.Abort, KeyboardInterrupt):
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    except click_errors.ClickException as exc:
        print(f"error: {exc.format_message()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
