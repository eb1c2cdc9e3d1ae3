"""How a command ends: library errors, Ctrl-C, SIGTERM and a closed pipe become one line on stderr and an exit
code, with a traceback only under --debug (which the root callback records in ``_state``)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from lstmtext.errors import UserError

_state = {"debug": False}
F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> None:
    from rich.markup import escape

    from lstmtext.render import err

    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM (timeout, docker stop, a job scheduler) or SIGHUP (a closed terminal, a dropped ssh session) raised
    where the command is, as Ctrl-C is, so that what it was writing (a half-prepared corpus) is cleaned up; train
    turns them into a clean stop of its own."""

    def __init__(self, name: str = "SIGTERM") -> None:
        super().__init__(name)
        self.name = name


def _on_sigterm(signum: int, frame: Any) -> None:
    import signal

    raise Terminated(signal.Signals(signum).name)


SIGNAL_EXITS = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}  # 128 + the signal's number, as a shell reports it
STOP_SIGNALS = tuple(name for name in SIGNAL_EXITS if name != "SIGINT")  # handled as Terminated (where they exist)
_WORDS = {"SIGTERM": "terminated", "SIGHUP": "hung up"}


def signal_exit(name: str | None) -> int:
    return SIGNAL_EXITS.get(name or "SIGINT", 130)


def stopped_message(exc: Terminated) -> str:
    return f"{_WORDS.get(exc.name, 'terminated')} ({exc.name})"


def _output_failed(exc: OSError) -> str | None:
    """The one-line message for an error writing the output or reading a file the user may not read, else None."""
    import errno

    if isinstance(exc, PermissionError):
        where = f": {exc.filename}" if exc.filename else ""
        from shlex import quote

        shown = quote(os.fsdecode(exc.filename)) if exc.filename else "PATH"
        return f"permission denied{where} (check who may read and write it: ls -ld {shown})"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"could not write: {exc.strerror or exc} (free some space, or write somewhere else)"
    if exc.errno == errno.EIO:  # a terminal that has gone, a failing disk
        where = f": {exc.filename}" if exc.filename else ""
        return f"input/output error{where} (the terminal, or the disk, has gone away)"
    return None


PIPE_CLOSED = 141  # 128 + SIGPIPE: the code of a shell tool stopped by a closed pipe, which a script tells from 1


def _pipe_closed() -> None:
    """`lstmtext ... | head`: the reader has what it wanted; the caller stops without a word (PIPE_CLOSED)."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the flush at exit must not fail again
    except (OSError, ValueError):  # io.UnsupportedOperation: stdout is no file (captured, in tests)
        pass


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
        except Terminated as exc:
            _fail(stopped_message(exc), signal_exit(exc.name))
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
            message = _output_failed(exc) if isinstance(exc, OSError) else None
            if message is not None:
                if not isinstance(exc, PermissionError):
                    _pipe_closed()  # stdout on a full disk: the flush at exit must not fail again
                _fail(message, 1)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            _fail(f"internal error: {type(exc).__name__}: {first[:200]} (for the traceback, run it again with "
                  f"--debug before the command: lstmtext --debug {fn.__name__} ...)", 1)

    return wrapper  # type: ignore[return-value]
