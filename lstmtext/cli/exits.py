"""How a command ends: library errors, Ctrl-C, SIGTERM and a closed pipe become one line on stderr and an exit
code, with a traceback only under --debug (which the root callback records in ``_state``)."""

from __future__ import annotations

import functools
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
    """SIGTERM (timeout, docker stop, a job scheduler) raised where the command is, as Ctrl-C is, so that what it
    was writing (a half-prepared corpus) is cleaned up; train turns both into a clean stop of its own."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


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
