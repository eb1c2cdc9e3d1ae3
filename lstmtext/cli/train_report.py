"""Running a training in the foreground and reporting it: SIGINT, SIGTERM and SIGHUP become a clean stop (and the
command to resume it), and the summary is printed as tables, or as JSON for scripts."""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection
from pathlib import Path
from shlex import quote
from typing import Any

import typer

from lstmtext.cli.exits import STOP_SIGNALS, signal_exit


def _train_and_report(run_dir: Path, quiet: bool, run: Callable[[Any, Any], dict[str, Any]],
                      given: Collection[str] = (), made: bool = False, output: str = "table") -> None:
    """Run training with SIGINT, SIGTERM and SIGHUP turned into a clean stop; print the summary (a table, or JSON on
    stdout for ``output`` json, an interrupted run's too) and, for a stopped run, the resume command.
    ``given``: the flags on the command line; ``made``: the run folder is new, so a failure before its first file
    removes it again (no empty folder is left behind)."""
    from rich.markup import escape

    from lstmtext.render import TrainProgress, err
    from lstmtext.training import StopRequest

    stop = StopRequest()
    events = TrainProgress(quiet, given)
    with _stop_on_signals(stop):
        try:
            summary = run(events, stop)
        except BaseException:
            if made and run_dir.is_dir() and not any(run_dir.iterdir()):
                run_dir.rmdir()
            raise
        finally:
            events.close()
    if output == "json":
        import json

        from lstmtext.checkpoint import finite

        print(json.dumps(finite(summary), ensure_ascii=False))
    if summary["stopped_by"] == "interrupted":
        err.print(f"stopped at step {summary['steps']:,}; state saved in {escape(str(run_dir))}.")
        err.print(f"resume with: lstmtext train --resume {escape(quote(str(run_dir)))}")
        raise typer.Exit(signal_exit(stop.reason))
    if output != "json":
        _print_summary(summary)
    _warn_if_diverged(summary)
    if summary.get("scoring") == "interrupted":
        err.print(f"the run is trained and saved in {escape(str(run_dir))}, but its final scoring was stopped; "
                  f"score it with: lstmtext evaluate {escape(quote(str(run_dir)))}")
        raise typer.Exit(signal_exit(stop.reason))


class _stop_on_signals:
    """First SIGINT, SIGTERM or SIGHUP: finish the step, save, stop. A second one: leave at once (files are atomic)."""

    def __init__(self, stop: Any) -> None:
        self.stop = stop
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> None:
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum: int, frame: Any) -> None:
            import os

            name = signal.Signals(signum).name
            if self.stop.reason is not None:
                os._exit(signal_exit(name))
            self.stop.request(name)
            if self.stop.at_once:  # a validation or the final scoring: no weight changes, so nothing waits
                then = "" if self.stop.at_once == "the final scoring" else " and saving"
                _say(f"\n{name}: stopping {self.stop.at_once}{then}\n")
                raise KeyboardInterrupt
            _say(f"\n{name}: finishing the step and saving (press Ctrl-C again to quit at once)\n")

        for name in ("SIGINT", *STOP_SIGNALS):
            if hasattr(signal, name):
                sig = getattr(signal, name)
                self.previous[sig] = signal.signal(sig, handler)

    def __exit__(self, *exc: Any) -> None:
        import signal

        for sig, old in self.previous.items():
            signal.signal(sig, old)


def _warn_if_diverged(summary: dict[str, Any]) -> None:
    """A run whose training loss ended above a uniform guess's (ln of the vocabulary, or of the classes) learnt
    nothing, or diverged: said, with the learning rate to lower, not reported as a success."""
    import math

    from lstmtext.cli.notes import warn

    train = (summary.get("figures") or {}).get("train") or {}
    loss = train.get("loss")
    outcomes = len(summary.get("labels") or []) if summary.get("task") == "classify" else summary.get("vocab_size")
    if not isinstance(loss, (int, float)) or not outcomes or outcomes < 2:
        return
    guess = math.log(outcomes)
    if math.isfinite(loss) and loss <= 1.2 * guess:  # at the guess is a run too short to learn, not a diverged one
        return
    what = f"the {outcomes:,} classes" if summary.get("task") == "classify" else f"its {outcomes:,} tokens"
    warn([f"training diverged: the train loss ended at {loss:.4g}, worse than a uniform guess over {what} "
          f"({guess:.2f}); lower --lr (it was {summary.get('lr', 0):g}) and train again"])


def _say(text: str) -> None:
    """A line on stderr from a signal handler: a terminal that has gone (SIGHUP) must not stop the save."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError, RuntimeError):  # RuntimeError: the signal came in the middle of a write of stderr
        pass


def _print_summary(summary: dict[str, Any]) -> None:
    from lstmtext.labels import short_list
    from lstmtext.render import facts_table, summary_table
    from lstmtext.render import out as stdout

    stdout.print(summary_table(summary))
    rows = [
        ("steps", f"{summary['steps']:,} ({summary['epochs']:.2f} epochs, stopped by {summary['stopped_by']})"),
        # the whole run's rate: validation, saves and warm-up count, so it is below the bar's rate while training
        ("tokens/second", f"{summary['tokens_per_s']:,.0f} (the whole run, validation included)"),
        ("wall time", f"{summary['seconds']:.1f} s on {summary['device']}"
         + (f", and {summary['scoring_seconds']:.1f} s scoring the splits" if summary.get("scoring_seconds", 0) >= 0.05
            else "")),
        ("parameters", f"{summary['parameters']:,}"),
    ]
    if summary["task"] == "classify":
        if summary.get("teachers"):
            rows.append(("distilled from", summary["teachers"]))
        rows += [("labels", short_list(summary["labels"], 20)),
                 ("majority class", f"{summary['majority']:.1%} of train"),
                 ("truncated texts", f"{summary['truncated']:,} (longer than --max-length)")]
    if summary.get("decoder_loss"):  # --compile: compiled, or eager and why (a failed compile falls back)
        rows.append(("--compile", summary["decoder_loss"]))
    if summary.get("skipped_batches"):
        rows.append(("skipped batches", f"{summary['skipped_batches']:,} (non-finite loss, --on-nan skip)"))
    rows.append(("checkpoint", summary["run_dir"]))
    stdout.print(facts_table(rows))
