"""Rich rendering for the CLI: consoles, progress bars and summary tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def human(n: float) -> str:
    for unit in ("", "k", "M", "G"):
        if abs(n) < 1000:
            return f"{n:.3g}{unit}" if unit else f"{n:.0f}"
        n /= 1000
    return f"{n:.3g}T"


def byte_progress(quiet: bool) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                    TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=err, disable=quiet, transient=True)


class TrainProgress:
    """Renders trainer events: a live bar on stderr, eval lines above it, a table at the end."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.progress = Progress(
            SpinnerColumn(), TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"), TextColumn("lr {task.fields[lr]}"),
            TextColumn("{task.fields[tps]} tok/s"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=err, disable=quiet, transient=False)
        self.task_id: Any = None

    def start(self, info: dict[str, Any]) -> None:
        if not self.quiet:
            err.print(f"training on [bold]{info['device']}[/] ({info['precision']}), "
                      f"{info['parameters']:,} parameters, {info['steps']:,} steps "
                      f"({info['steps_per_epoch']:,} per epoch) -> {info['run_dir']}")
        self.progress.start()
        self.task_id = self.progress.add_task("train", total=info["steps"], loss="-", lr="-", tps="-")

    def step(self, info: dict[str, Any]) -> None:
        self.progress.update(self.task_id, completed=info["step"], loss=f"{info['loss']:.3f}",
                             lr=f"{info['lr']:.2e}", tps=human(info["tokens_per_s"]))

    def evaluate(self, info: dict[str, Any]) -> None:
        if self.quiet or "valid_loss" not in info:
            return
        figures = "  ".join(f"{k.removeprefix('valid_')} {v:.4g}" for k, v in info.items()
                            if k.startswith("valid_") and isinstance(v, float))
        mark = "  [green]best[/]" if info.get("best") else ""
        self.progress.console.print(f"step {info['step']:>6}  valid {figures}{mark}")

    def end(self, info: dict[str, Any]) -> None:
        self.progress.stop()

    def close(self) -> None:
        self.progress.stop()


def lm_summary(summary: dict[str, Any]) -> Table:
    table = Table(title="training summary", title_justify="left")
    table.add_column("split")
    table.add_column("loss", justify="right")
    table.add_column("perplexity", justify="right")
    table.add_column("bits/char", justify="right")
    for split in ("train", "valid", "test"):
        fig = summary["figures"].get(split) or {}
        if fig:
            table.add_row(split, f"{fig['loss']:.4f}", f"{fig['ppl']:.2f}", f"{fig['bpc']:.4f}")
        else:
            table.add_row(split, "-", "-", "-")
    return table


def facts_table(rows: list[tuple[str, str]], title: str | None = None) -> Table:
    table = Table(show_header=False, title=title, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    return table
