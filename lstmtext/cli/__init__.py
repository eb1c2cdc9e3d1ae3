"""The `lstmtext` command line: a thin Typer shell over the library.

Heavy modules (torch, numpy, datasets) are imported inside the commands, so `--help` and usage
errors answer at once. This module holds the Typer app, its root options, the commands in the order --help lists
them (each lives in a module of its own) and the console-script entry point.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from lstmtext import __version__
from lstmtext.cli.classify_cmd import classify
from lstmtext.cli.evaluate_cmd import evaluate
from lstmtext.cli.exits import (PIPE_CLOSED, STOP_SIGNALS, Terminated, _on_sigterm, _output_failed, _pipe_closed,
                                 _state, signal_exit, stopped_message)
from lstmtext.cli.generate_cmd import generate
from lstmtext.cli.info_cmd import info
from lstmtext.cli.run_folder import release_locks
from lstmtext.cli.tokenize_cmd import tokenize
from lstmtext.cli.train_cmd import train
from lstmtext.cli.train_help import group_help


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
for command in (tokenize, train, generate, classify, evaluate, info):  # the order --help lists them in
    app.command()(command)


def _print_version(value: bool) -> None:
    """--version is eager: it answers before Click asks for a command, so it works on its own."""
    if value:
        typer.echo(f"lstmtext {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of any error (to report a "
                                        "bug).")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                          callback=_print_version)] = False,
) -> None:
    _state["debug"] = debug


def _utf8_output() -> None:
    """Text the locale cannot encode (a Windows code page, say) must not stop the output: files and pipes get
    UTF-8, what JSON, CSV and text readers expect; a terminal keeps its encoding, with ? for what it lacks. A file
    name in another encoding than UTF-8 (café in Latin-1, which Python holds with a lone surrogate) is written
    back as its own bytes, as ls writes it."""
    for stream in (sys.stdout, sys.stderr):
        if not hasattr(stream, "reconfigure"):
            continue
        encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "").replace("_", "")
        try:
            if encoding == "utf8":
                if getattr(stream, "errors", "strict") == "strict":
                    stream.reconfigure(errors="surrogateescape")
            elif stream.isatty():
                stream.reconfigure(errors="replace")
            else:
                stream.reconfigure(encoding="utf-8", errors="surrogateescape")
        except (OSError, ValueError):
            pass


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: usage errors become one line and exit code 2."""
    try:  # newer Typer releases vendor Click; older ones use the click package
        from typer._click import exceptions as click_errors
    except ImportError:
        from click import exceptions as click_errors

    no_args_help = getattr(click_errors, "NoArgsIsHelpError", ())  # click >= 8.2; older ones exit from inside
    import signal

    _standard_streams()
    _utf8_output()
    _help_pipe_closed()
    from lstmtext.render import err, out

    out.quiet = err.quiet = False  # a stream that failed an earlier command in this process (tests) may work now
    previous = {}
    for name in STOP_SIGNALS:
        if hasattr(signal, name):  # no SIGHUP on Windows
            try:
                previous[name] = signal.signal(getattr(signal, name), _on_sigterm)
            except ValueError:  # not the main thread
                break
    try:
        _run(argv, click_errors, no_args_help)
    finally:  # main() called in-process (the tests) leaves the process as it found it
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)
        release_locks()


def _help_pipe_closed() -> None:
    """`lstmtext --help | head -1`: Typer draws the help with a console of rich's own, whose answer to a closed
    pipe is exit code 1; like the commands' output, it ends quietly with PIPE_CLOSED instead."""
    from rich.console import Console

    from lstmtext.render import _Console

    Console.on_broken_pipe = _Console.on_broken_pipe  # type: ignore[method-assign]


def _standard_streams() -> None:
    """A closed stdin, stdout or stderr (`lstmtext info RUN >&-`) reads as empty and writes nowhere, as /dev/null
    does, instead of failing on the first print."""
    import os

    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115 (for the process's life)


def _option_as_value(command: Any, argv: list[str]) -> str | None:
    """The usage error for an option that takes a value given another of the command's options as that value
    (`--resume --quiet`, `--out --quiet`): Click would read the option's name as a folder or a text."""
    sub = command.commands.get(argv[0]) if argv else None
    if sub is None:
        return None
    options = [p for p in sub.params if getattr(p, "param_type_name", "") == "option"]
    names = {name for p in options for name in (*p.opts, *p.secondary_opts)}
    takes_value = {name for p in options if not p.is_flag and not p.count for name in p.opts}
    for given, value in zip(argv[1:], argv[2:]):
        if given == "--":
            break
        if given in takes_value and value in names:
            return f"{given} needs a value, and got the option {value} (put its value right after it)"
    return None


def _home_in_values(command: Any, args: list[str]) -> list[str]:
    """`--out=~/runs/a`: the shell leaves a ~ after = as it is, which would make a folder named ~ in the working
    folder (one `rm -rf ~` away from the home folder); it is the home folder, as in `--out ~/runs/a`, in the
    options that take a path (and --preset's recipe file), up to --."""
    import os
    from pathlib import Path

    paths = {"--preset"} | {name for sub in command.commands.values() for p in sub.params for name in p.opts
                            if getattr(getattr(p, "type_descriptor", None), "annotation", None) in (Path, list[Path])}

    def expanded(arg: str) -> str:
        name, eq, value = arg.partition("=")
        if eq and name in paths and (value == "~" or value.startswith("~/")):
            return f"{name}={os.path.expanduser(value)}"
        return arg

    end = args.index("--") if "--" in args else len(args)
    return [expanded(a) for a in args[:end]] + args[end:]


def _run(argv: list[str] | None, click_errors: Any, no_args_help: Any) -> None:
    try:
        command = typer.main.get_command(app)
        group_help(command.commands["train"])
        args = _home_in_values(command, list(sys.argv[1:] if argv is None else argv))
        wrong = _option_as_value(command, args)
        if wrong:
            print(f"error: {wrong}", file=sys.stderr)
            sys.exit(2)
        code = command(args=args, prog_name="lstmtext", standalone_mode=False)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
    except BrokenPipeError:
        _pipe_closed()
        sys.exit(PIPE_CLOSED)
    except no_args_help:  # bare `lstmtext`: the help is the answer, already printed
        sys.exit(0)
    except click_errors.UsageError as exc:
        import os

        named = next((a for a in args if not a.startswith("-")), None)  # the command, where one was named
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else \
            f" (see 'lstmtext {named} --help')" if named in command.commands else " (see 'lstmtext --help')"
        dashed = [a for a in args if a.startswith("-") and os.path.exists(a)]
        if dashed and "No such option" in exc.format_message():  # a file whose name starts with a dash
            where = f" (a file named {dashed[0]} is passed as ./{dashed[0]}, or after --)"
        print(f"error: {exc.format_message()}{where}", file=sys.stderr)
        sys.exit(2)
    except Terminated as exc:
        print(f"error: {stopped_message(exc)}", file=sys.stderr)
        sys.exit(signal_exit(exc.name))
    except OSError as exc:  # --help or --version written to a full disk
        message = _output_failed(exc)
        if message is None:
            raise
        _pipe_closed()
        print(f"error: {message}", file=sys.stderr)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    except click_errors.ClickException as exc:
        print(f"error: {exc.format_message()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
