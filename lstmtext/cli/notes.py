"""Notes and warnings a command prints on stderr beside its results: a reader's warnings with the records it
skipped, and a run whose last weights stand in for the best ones it does not have yet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def note_weights(ckpt: Any, weights: str = "best") -> None:
    """Say so when a run's best weights (``weights``, as asked) do not exist yet and its last ones stand in."""
    from rich.markup import escape

    from lstmtext.checkpoint import LAST_WEIGHTS
    from lstmtext.render import err

    note_in_training(ckpt.path, "using")
    if weights == "best" and ckpt.weights_file == LAST_WEIGHTS and (ckpt.path / LAST_WEIGHTS).exists() and \
            ckpt.config.get("status") != "done":
        err.print(f"note: {escape(str(ckpt.path))} stopped before its first validation, so it has no best weights yet; "
                  "using its last ones")


def note_in_training(run: Any, use: str) -> None:
    """Say so where a run is being trained now (a train process holds it): its weights are those saved so far, and
    will change. ``use``: what this command does with them ("starting from", "scoring")."""
    import json
    from pathlib import Path

    from rich.markup import escape

    from lstmtext.checkpoint import being_trained
    from lstmtext.render import err

    if not being_trained(Path(run)):
        return
    try:
        step = json.loads((Path(run) / "state.json").read_text(encoding="utf-8")).get("step")
    except (OSError, ValueError, AttributeError):
        step = None
    at = f" (saved at step {step:,})" if isinstance(step, int) else ""
    err.print(f"note: {escape(str(run))} is being trained now: {use} the weights it has saved so far{at}, which "
              "later validations will change")


def warn(warnings: list[str], skipped: Sequence[Any] = (), more: str = "") -> None:
    """Warnings on stderr, then the first five skipped records ((file, line, reason)) and their count."""
    from rich.markup import escape

    from lstmtext.render import err

    from lstmtext.tables import in_file_order, place

    skipped = in_file_order(skipped)
    lines = list(warnings) + [f"skipped {place(path, line)}: {reason}" for path, line, reason in skipped[:5]]
    if len(skipped) > 5:
        lines.append(f"skipped {len(skipped):,} records in all" + (f" ({more})" if more else ""))
    for line in lines:
        err.print(f"[yellow]warning:[/] {escape(line)}")


def on_the_cpu() -> None:
    """What generate, classify and evaluate do on the CPU, as training does: keep the memory each step frees
    (4.6x generate's tokens/s), and compute with the cores other programs leave free, saying so."""
    from lstmtext.devices import cpu_threads, keep_freed_memory
    from lstmtext.render import err

    keep_freed_memory()
    _, note = cpu_threads()
    if note:
        err.print(f"note: {note}")
