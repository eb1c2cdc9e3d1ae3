"""The run folder train writes: checking an --out (a run there is replaced only with --overwrite, other folders
not at all), making a default one, and locking it against a second train for as long as this process runs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from lstmtext.errors import UserError, usage_error

_locks: list[int] = []  # descriptors of the run folders this command writes (_lock_run)


def release_locks() -> None:
    import os

    while _locks:
        os.close(_locks.pop())


def _check_out(out: Path, overwrite: bool, locked: bool = False) -> bool:
    """Refuse an --out that train may not write to; True where it holds a run that --overwrite replaces. Checked
    before the corpus is read, so that the mistake costs no tokenizing, and again when the folder is made and
    ``locked`` by this process."""
    from lstmtext.checkpoint import CONFIG

    if str(out) == ".":  # "" reads as the working folder
        raise usage_error("--out is empty (or the working folder)", "pass a folder for the run, such as "
                          "checkpoints/NAME; is a shell variable unset?")
    if not out.exists():
        return False
    if not out.is_dir():
        raise usage_error(f"--out {out} is an existing file", "pass a folder path")
    if not any(out.iterdir()):
        return False
    if not _holds_run(out / CONFIG):
        what = "another program's config.json" if (out / CONFIG).exists() else "files but no run"
        raise usage_error(f"{out} holds {what}, and train writes only new or run folders", "pick another --out")
    if not overwrite:
        raise usage_error(f"{out} already holds a run", "pass --overwrite to replace it, or another --out")
    from lstmtext.checkpoint import being_trained

    if not locked and being_trained(out):  # said now, before the corpus is tokenized, as _lock_run would after
        raise _busy(out)
    return True


def _busy(out: Path) -> UserError:
    return UserError(f"another lstmtext train is writing to {out} now", "wait for it to finish, or pick another --out")


def _holds_run(config: Path) -> bool:
    """Whether ``config`` is an lstmtext run's config.json, and not (say) a Hugging Face model's, whose files
    --overwrite must leave alone: a JSON object with a format version and a task (damaged ones count as runs)."""
    if not config.is_file():
        return False
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False
    except ValueError:  # a run's config cut short by a crash is still the run's, for --overwrite to replace
        return config.read_bytes().lstrip().startswith(b'{"format_version"')
    return isinstance(data, dict) and "format_version" in data and "task" in data


def _lock_run(out: Path) -> None:
    """Take the run folder for this process: a second train (or --resume) into it while this one runs is refused,
    where it would interleave its metrics and checkpoints with ours. An flock on the folder itself, which the
    system drops when the process ends however it ends, so no stale lock is ever left (no-op without fcntl)."""
    try:
        import fcntl
    except ImportError:  # Windows
        return
    import os

    try:
        fd = os.open(out, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise _busy(out) from None
    except OSError:  # a file system without locks
        os.close(fd)
        return
    _locks.append(fd)  # held until main() returns, or the process ends
    for tmp in out.glob(".*.tmp-*"):  # half-written by a train killed mid-write (kill -9): with the lock, none is live
        if tmp.is_file() and not tmp.name.endswith(f".tmp-{os.getpid()}"):
            try:
                tmp.unlink()
            except OSError:  # gone meanwhile, or a read-only folder, which the first write will name
                pass


def _new_default_dir(base: Path) -> Path:
    """checkpoints/NAME-LEVEL-TIME, made here; a run started in the same second gets -2, -3, ... after it."""
    for n in range(1, 1000):
        out = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            out.mkdir(parents=True)
            return out
        except FileExistsError:
            continue
        except OSError as err:
            raise UserError(f"could not create {out}: {err.strerror}", "check the path and its permissions") from None
    raise UserError(f"could not find a free run folder name beside {base}", "pass --out")


def _run_dir(out: Path | None, corpus_name: str, level: str, overwrite: bool) -> tuple[Path, Callable[[], None], bool]:
    """The run folder, checked; what clears the old run there (--overwrite): training calls it once the model
    and what it starts from (--init-from, --distill-from) have loaded, so that a failure before leaves the old run;
    and whether the folder was made here."""
    from lstmtext.checkpoint import clear_run

    def clear() -> None:
        try:
            kept = clear_run(out)
        except OSError as error:
            raise UserError(f"could not remove the old run in {out}: {error.strerror}",
                            "check the folder's permissions") from None
        if kept:
            from rich.markup import escape

            from lstmtext.render import err

            err.print(escape(f"--overwrite: replaced the run in {out}; kept your other files there: {', '.join(kept)}"))

    if out is None:
        out = _new_default_dir(Path("checkpoints") / f"{corpus_name}-{level}-{time.strftime('%Y%m%d-%H%M%S')}")
        _lock_run(out)
        return out, lambda: None, True
    replace = _check_out(out, overwrite)
    made = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"could not create {out}: {err.strerror}", "check the path and its permissions") from None
    try:
        _lock_run(out)
        replace = _check_out(out, overwrite, locked=True)  # again, now that no other run can write here meanwhile
    except UserError:
        if made and not any(out.iterdir()):
            out.rmdir()
        raise
    return out, (clear if replace else lambda: None), made
