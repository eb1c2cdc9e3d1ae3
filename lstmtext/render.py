"""Rich rendering for the CLI: consoles, progress bars and summary tables."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn, TransferSpeedColumn)
from rich.table import Column, Table
from rich.text import Text


def visible_repr(text: str) -> str:
    """Text as Python writes it, with combining marks escaped too ('e\\u0301'): alone they show as nothing, and
    after a letter they look like the letter written in one character."""
    import unicodedata

    return "".join(c.encode("unicode_escape").decode() if unicodedata.category(c).startswith("M") else c
                   for c in repr(text))



class _Console(Console):
    def on_broken_pipe(self) -> None:
        """A closed pipe (`| head`) goes on to main(), which ends quietly with 141 as a shell tool does; rich's own
        answer is exit code 1, which a script cannot tell from a failure."""
        self.quiet = True
        raise BrokenPipeError


class _StderrConsole(_Console):
    """stderr: progress, notes and errors. Where it can no longer be written (the reader of `2>&1 | head` has
    gone, a log on a full disk, a closed terminal), the command goes on without it: a training run must not die
    with its log."""

    def _check_buffer(self) -> None:
        try:
            super()._check_buffer()
        except UnicodeError:
            raise
        except (OSError, ValueError):  # ValueError: a closed file
            self.quiet = True
            del self._buffer[:]

    def on_broken_pipe(self) -> None:
        self.quiet = True


out = _Console(soft_wrap=True)
err = _StderrConsole(stderr=True, soft_wrap=True)


def human(n: float) -> str:
    for unit in ("", "k", "M", "G"):
        if abs(n) < 1000:
            return f"{n:.3g}{unit}" if unit else f"{n:.0f}"
        n /= 1000
    return f"{n:.3g}T"


def count(n: int, noun: str) -> str:
    """'1 step', '4,200 steps'."""
    return f"{n:,} {noun}{'s' * (n != 1)}"


def whole() -> Column:
    """A bar's column that is never cut: on a narrow terminal (80 columns) rich squeezes every column that may
    wrap and ellipsises its text ('395/31…'); with the figures kept whole, the bar gives way instead."""
    return Column(no_wrap=True)


def text_column(template: str) -> TextColumn:
    return TextColumn(template, table_column=whole())


def count_and_time() -> list[ProgressColumn]:
    """Elapsed time, then 'ETA' and the time remaining (neither where the total is not known: a table's records)."""
    return [TimeElapsedColumn(table_column=whole()), EtaLabel(), DeadlineRemaining(table_column=whole())]


class EtaLabel(ProgressColumn):
    """'ETA', beside the time remaining; nothing where there is no total to reach (no time remaining either)."""

    def render(self, task: Task) -> Text:
        return Text("ETA" if task.total is not None else "")


class DeadlineRemaining(TimeRemainingColumn):
    """rich's time remaining, or the time to the task's ``deadline`` field (the end of a --time-limit, on the
    progress's clock) where that comes first: a run that stops at its time limit is not shown as hours away."""

    def render(self, task: Task) -> Text:
        if task.total is None:  # nothing to reach (a table's records, a vocabulary being built): no estimate
            return Text("")
        deadline = task.fields.get("deadline")
        estimate = task.time_remaining
        if deadline is None or task.finished:
            return super().render(task)
        left = max(deadline - task.get_time(), 0.0)
        if estimate is not None and estimate <= left:
            return super().render(task)
        minutes, seconds = divmod(int(left), 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"{hours:d}:{minutes:02d}:{seconds:02d}", style="progress.remaining")


class RateColumn(ProgressColumn):
    """'1.2k texts/s', once rich has measured a rate."""

    def __init__(self, unit: str) -> None:
        super().__init__(table_column=whole())
        self.unit = unit

    def render(self, task: Task) -> Text:
        return Text(f"{human(task.speed)} {self.unit}/s" if task.speed else "")


class ReadColumn(ProgressColumn):
    """How much a tokenize bar has read and how fast: '42% 12.3 MB/s' for a text split's bytes, '12,288 records
    9.1k records/s' for a table's records, whose number is not known before they are read."""

    def __init__(self) -> None:
        super().__init__(table_column=whole())
        self.bytes, self.records = TransferSpeedColumn(), RateColumn("records")

    def render(self, task: Task) -> Text:
        if task.fields.get("unit") == "stage":  # a step of no count (building a vocabulary): its time alone
            return Text("")
        if task.fields.get("unit") == "records":
            return Text(f"{int(task.completed):,} records ") + self.records.render(task)
        return Text(f"{task.percentage:>3.0f}% ") + self.bytes.render(task)


def byte_progress(quiet: bool) -> Progress:
    """tokenize's bars, one per split (``unit``: bytes or records; ``ReadColumn``), with elapsed time and ETA."""
    return Progress(SpinnerColumn(), text_column("[bold]{task.description}"), BarColumn(), ReadColumn(),
                    *count_and_time(), console=err, disable=quiet or not err.is_terminal, transient=True)


@contextmanager
def counting(description: str, total: int, unit: str, quiet: bool = False) -> Iterator[Callable[[int], None]]:
    """A transient bar on stderr (count, rate, elapsed time, ETA) for ``total`` items; yields ``done(n)``,
    to be called as each n more are done."""
    with Progress(SpinnerColumn(), text_column("[bold]{task.description}"), BarColumn(),
                  MofNCompleteColumn(table_column=whole()), RateColumn(unit), *count_and_time(), console=err,
                  disable=quiet or not err.is_terminal, transient=True, redirect_stdout=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


class TrainProgress:
    """Renders trainer events: a live bar on stderr, eval lines above it, a table at the end."""

    def __init__(self, quiet: bool, given: Collection[str] = ()) -> None:
        self.quiet = quiet
        self.given = set(given)  # the flags given on the command line: what they asked for that the run changed is told
        # Under 80 columns the bar, the learning rate and the elapsed time give way, so that the count, the loss, the
        # rate and the ETA stay whole down to 60 columns (rich would cut them all).
        wide = err.width >= 80
        self.progress = Progress(
            SpinnerColumn(), text_column("[bold]train"), *([BarColumn()] if wide else []),
            MofNCompleteColumn(table_column=whole()), text_column("loss {task.fields[loss]}"),
            *([text_column("lr {task.fields[lr]}")] if wide else []), text_column("{task.fields[tps]} tok/s"),
            *(count_and_time() if wide else [text_column("ETA"), DeadlineRemaining(table_column=whole())]),
            # the rate and ETA from the last 1,000 moves (steps, or --log-every windows), however long they took:
            # rich's default 30 s window held fewer than the two an ETA needs where steps are slow (a big model on a
            # CPU), so the ETA stayed blank
            console=err, disable=quiet, transient=False, speed_estimate_period=3600.0)
        self.task_id: Any = None

    def start(self, info: dict[str, Any]) -> None:
        if not self.quiet:
            graph = ", CUDA graph" if info.get("cuda_graph") else ""
            err.print(f"training on [bold]{info['device']}[/] ({info['precision']}{graph}), "
                      f"{info['parameters']:,} parameters, {count(info['steps'], 'step')} "
                      f"({info['steps_per_epoch']:,} per epoch) -> {escape(str(info['run_dir']))}")
            for note in self.notes(info):
                err.print(f"note: {escape(note)}")
        for kind, text in info.get("advice", []):  # warnings even under --quiet, as the readers' are
            if kind == "warning":
                err.print(f"[yellow]warning:[/] {escape(text)}")
            elif not self.quiet:
                err.print(f"note: {escape(text)}")
        self.progress.start()
        left = info.get("time_left")  # of a --time-limit: the ETA is never later than the limit
        deadline = None if left is None else self.progress.get_time() + left
        self.task_id = self.progress.add_task("train", total=info["steps"], loss="-", lr="-", tps="-",
                                              deadline=deadline)

    def notes(self, info: dict[str, Any]) -> list[str]:
        """What the run does otherwise than its settings say: windows cut to fit a short text (always told), and a
        warm-up longer than a tenth of the run cut to that tenth (told where --warmup-steps was given)."""
        notes = []
        if info.get("threads_note"):
            notes.append(info["threads_note"])
        if info.get("resumed"):  # the header is a fresh run's otherwise
            notes.append(f"resuming at step {info['first_step']:,} of {info['steps']:,}")
        elif info.get("init_from"):
            notes.append(f"starting from {info['init_from']}'s weights ({count(info.get('transferred', 0), 'tensor')} "
                         "taken over)")
        asked, used = info.get("seq_len", (0, 0))
        if used < asked:
            notes.append(f"the training text gives each of the {info['batch_size']:,} streams {used + 1:,} tokens, so "
                         f"windows are {used:,} tokens, not --seq-len {asked:,} (a smaller --batch-size gives "
                         "longer streams)")
        asked, used = info.get("warmup_steps", (0, 0))
        if used < asked and "warmup_steps" in self.given:
            notes.append(f"the learning rate warms up over {count(used, 'step')} (at most a tenth of the run's "
                         f"{count(info['steps'], 'step')}), not --warmup-steps {asked:,}")
        return notes

    def step(self, info: dict[str, Any]) -> None:
        self.progress.update(self.task_id, completed=info["step"], loss=f"{info['loss']:.3f}",
                             lr=f"{info['lr']:.2e}", tps=human(info["tokens_per_s"]))

    def advance(self, step: int) -> None:
        self.progress.update(self.task_id, completed=step)

    def note(self, text: str) -> None:
        if not self.quiet:
            self.progress.console.print(f"note: {escape(text)}")

    def scoring(self) -> None:
        if not self.quiet:  # on a large corpus it takes a while, after the bar has finished
            self.progress.console.print("scoring the saved weights on the held-out splits and a train sample ...")

    def evaluate(self, info: dict[str, Any]) -> None:
        self.progress.update(self.task_id, completed=info["step"])  # an --eval-every below --log-every moves it too
        if self.quiet or "valid_loss" not in info:
            return
        figures = figures_text({k.removeprefix("valid_"): v for k, v in info.items()
                                if k.startswith("valid_") and isinstance(v, float)}, "  ")
        mark = "  [green]best[/]" if info.get("best") else ""
        if info.get("averaging_from") is not None:  # NT-ASGD's switch: validation and saving use the average from now
            mark += "  [cyan]validation stalled: averaging the weights from here (ASGD)[/]"
        self.progress.console.print(f"step {info['step']:>6}  valid {figures}{mark}")

    def end(self, info: dict[str, Any]) -> None:
        self.progress.stop()

    def counting(self, description: str, total: int, unit: str) -> Any:
        """A bar for work before the first step (teachers labelling the training texts)."""
        return counting(description, total, unit, self.quiet)

    def close(self) -> None:
        self.progress.stop()


def perplexity_text(ppl: float) -> str:
    """'75.90', and '4.85e+08' for a model that has learnt next to nothing (not nine digits before the point)."""
    return f"{ppl:.2f}" if ppl < 1e6 else f"{ppl:.3g}"


def loss_text(loss: float) -> str:
    """'0.4943', and '3.41e-05' for a classifier's loss near 0 (not '0.0000' at every validation marked best)."""
    return f"{loss:.4f}" if loss >= 1e-3 or loss <= 0 else f"{loss:.2e}"


# (column, key in the figures, format) for each task's summary table
SUMMARY_COLUMNS: dict[str, list[tuple[str, str, Callable[[float], str]]]] = {
    "lm": [("loss", "loss", loss_text), ("perplexity", "ppl", perplexity_text),
           ("bits/char", "bpc", "{:.4f}".format)],
    "classify": [("loss", "loss", loss_text), ("accuracy", "accuracy", "{:.2%}".format),
                 ("macro-F1", "macro_f1", "{:.4f}".format)],
}


def figures_text(figures: dict[str, Any], sep: str = ", ") -> str:
    """'loss 0.5781, accuracy 87.50%, macro-F1 0.8750': figures named and formatted as in the summary table."""
    known = {key: (name, fmt) for columns in SUMMARY_COLUMNS.values() for name, key, fmt in columns}
    return sep.join(f"{known[k][0]} {known[k][1](v)}" if k in known and isinstance(v, (int, float))
                    else f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items())


def summary_table(summary: dict[str, Any]) -> Table:
    """Train/valid/test figures of a finished run, with the columns of its task."""
    columns = SUMMARY_COLUMNS[summary["task"]]
    title, best = "training summary", summary.get("best_step")
    if best is not None and best != summary["steps"]:  # the figures are the saved weights', not the last step's
        title += f" of the best weights, from step {best:,} of {summary['steps']:,} (later validations were no better)"
    table = Table(title=Text(title), title_justify="left")
    table.add_column("split")
    for title, _, _ in columns:
        table.add_column(title, justify="right")
    for split in ("train", "valid", "test"):
        fig = summary["figures"].get(split) or {}
        name = f"{split} ({fig['sample']})" if fig.get("sample") else split
        table.add_row(name, *(fmt(fig[key]) if fig else "-" for _, key, fmt in columns))
    return table


def facts_table(rows: list[tuple[str, str]], title: str | None = None) -> Table:
    """Two columns of names and values, printed as written: a path or label with [brackets] in it is not markup."""
    table = Table(show_header=False, title=Text(title) if title is not None else None, title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")  # a long value (a run's path, to copy) folds onto more lines, never cut
    for key, value in rows:
        table.add_row(Text(key), Text(value))
    return table


def _evaluation_title(result: dict[str, Any]) -> str:
    more = f" and {len(result['ensemble'])} more (mean probabilities)" if result.get("ensemble") else ""
    split = result.get("split")
    where = "the whole corpus" if split == "whole" else f"the {split} split"
    of = f" of {result['corpus']}" if result.get("corpus") else ""
    weights = " (its last weights)" if result.get("weights") == "last" else ""
    return f"evaluation of {result['checkpoint']}{weights}{more} on {where}{of}"


def _scored(result: dict[str, Any]) -> str:
    """'6,813': every token after the text's first is scored, each once (tasks.lm_eval)."""
    return f"{result['tokens']:,}"


def evaluation_tables(result: dict[str, Any]) -> list[Table]:
    """Tables for `lstmtext evaluate`: overall figures, then per class and the confusion matrix."""
    if result["task"] == "lm":
        return [facts_table([("loss", f"{result['loss']:.4f}"), ("perplexity", perplexity_text(result["ppl"])),
                             ("bits/char", f"{result['bpc']:.4f}"), ("tokens scored", _scored(result)),
                             # <unk> is easy to predict: a perplexity means little without how much of it there is
                             *([("<unk> rate", f"{result['unk_rate']:.2%}")] if "unk_rate" in result else [])],
                            title=_evaluation_title(result))]
    overall = facts_table([("accuracy", f"{result['accuracy']:.2%}"), ("macro-F1", f"{result['macro_f1']:.4f}"),
                           ("loss", f"{loss_text(result['loss'])} nats a text"), ("texts", f"{result['count']:,}")],
                          title=_evaluation_title(result))
    # labels and figures are never cut on a narrow terminal (each column keeps its width); long labels head the
    # confusion matrix's columns by number, and its rows name them with it
    labels = result["labels"]
    longest = max(len(name) for name in labels)
    per_class = Table(title="per class", title_justify="left")
    for col in ("label", "precision", "recall", "F1", "support"):
        per_class.add_column(col, justify="left" if col == "label" else "right", no_wrap=True,
                             min_width=longest if col == "label" else max(len(col), 5 if col != "support" else
                                                                          len(f"{result['count']:,}")))
    for pc in result["per_class"]:
        per_class.add_row(Text(pc["label"]), *("-" if pc[k] is None else f"{pc[k]:.3f}"  # no texts, none predicted
                                               for k in ("precision", "recall", "f1")), f"{pc['support']:,}")
    numbered = longest > 10 and len(labels) > 2
    confusion = Table(title="confusion matrix (rows: true, columns: predicted)", title_justify="left")
    rows = [f"{name} (#{i})" if numbered else name for i, name in enumerate(labels, 1)]
    confusion.add_column("true \\ predicted", no_wrap=True, min_width=max(len(r) for r in rows))
    counts = max(len(f"{v:,}") for row in result["confusion"] for v in row)
    for i, name in enumerate(labels, 1):
        header = f"#{i}" if numbered else name
        confusion.add_column(Text(header), justify="right", no_wrap=True, min_width=max(len(header), counts))
    for name, row in zip(rows, result["confusion"]):
        confusion.add_row(Text(name), *(f"{v:,}" for v in row))
    tables = [overall, per_class, confusion]
    if result.get("members"):  # an ensemble: how much the mean gains on each of its runs
        members = Table(title="each run of the ensemble alone", title_justify="left")
        for col in ("run", "accuracy", "macro-F1", "loss"):
            members.add_column(col, justify="left" if col == "run" else "right", no_wrap=col != "run")
        for m in result["members"]:
            members.add_row(Text(m["run"]), f"{m['accuracy']:.2%}", f"{m['macro_f1']:.4f}", loss_text(m["loss"]))
        tables.insert(1, members)
    return tables
