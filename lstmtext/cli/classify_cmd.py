"""`classify`: labelling texts (arguments, stdin, or a file's lines or table column) with a classifier or an
ensemble, printed as a table, JSON, JSON lines or CSV."""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lstmtext.cli.classifier_runs import Ensemble, _classifier_runs, _ensemble_proba, _load_classifiers
from lstmtext.checkpoint import finite
from lstmtext.cli.exits import handle_errors
from lstmtext.cli.notes import warn
from lstmtext.cli.options import (Device, Encoding, JsonFlag, TextColumn, Weights, choice_value, chosen_format,
                                  own_encoding, refuse_unless)
from lstmtext.errors import UserError, usage_error

FORMATS = ("table", "json", "jsonl", "csv")


def _lines(text: str) -> list[str]:
    """One text per line, as the file's lines are counted: at '\n' (or '\r\n') only, not at the form feeds, U+2028
    and other breaks that str.splitlines() also cuts at, so that the output has one row per line of the input."""
    lines = text.replace("\r\n", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def _read_inputs(texts: list[str], file: Path | None, text_column: str | None, encoding: str,
                 trained_column: str | None = None, keep: list[str] | None = None
                 ) -> tuple[list[str], list[dict[str, Any]]]:
    """Texts from arguments, a file (lines, or a table's text column: ``text_column``, else the run's
    ``trained_column`` where the table has it, else one found by name) or stdin ('-'); with each text, the values
    of a table's ``keep`` columns (empty dicts where none are kept)."""
    kept: list[dict[str, Any]] = []
    lines = _read_texts(texts, file, text_column, encoding, trained_column, keep or [], kept)
    return lines, kept or [{} for _ in lines]


def _read_texts(texts: list[str], file: Path | None, text_column: str | None, encoding: str,
                trained_column: str | None, keep: list[str], kept: list[dict[str, Any]]) -> list[str]:
    from lstmtext.tables import (TEXT_COLUMNS, ReadReport, _iter_table, _table_format, container_kind, pick_column,
                                 place, table_columns)
    from lstmtext.textfiles import (_binary_error, _check_encoding, _compression, _looks_binary, _packed_error,
                                    check_encoding_name, locate_decode_error, text_encoding)

    if file is not None and texts:
        raise usage_error("give texts as arguments or with --file, not both")
    check_encoding_name(encoding)
    if file is not None:
        if str(file) == "-" and not file.exists():
            raise usage_error("--file - is not read from stdin: a table needs its file name to tell its format",
                              "pipe one text a line as 'lstmtext classify RUN -', or save the table and pass its path")
        if file.is_dir():
            raise UserError(f"--file {file} is a folder", "give a file: one text a line, or a table")
        if not file.exists():
            raise UserError(f"--file not found: {file}", "check the path")
        if not file.is_file():  # a pipe (<(...), a FIFO) or a device: read once, one text a line
            for flag, value in (("--text-column", text_column), ("--keep-column", keep[0] if keep else None)):
                if value is not None:
                    raise usage_error(f"{flag} is for tables, and {file} is read as plain text", "drop it")
            return _stream_texts(file.read_bytes(), str(file), encoding)
        packed = _compression(file)
        if packed:
            raise _packed_error(file, packed, "--file ")
        if _looks_binary(file, encoding):
            raise _binary_error(file, "--file ")
        _check_encoding(file, encoding)
        fmt = _table_format(file)
        if fmt:
            columns = table_columns(file, fmt, encoding)
            column = pick_column(columns, text_column, TEXT_COLUMNS, "text", str(file), prefer=trained_column)
            keep = [pick_column(columns, name, (), "keep", str(file)) for name in keep]
            report = ReadReport()
            rows = []
            for line, rec in _iter_table(file, fmt, encoding, report):
                value = rec.get(column)
                if kind := container_kind(value):
                    raise UserError(f"{place(file, line)}: the {column!r} field is {kind}, not one text",
                                    "pass --text-column naming a column of plain texts")
                rows.append("" if value is None else str(value))
                kept.append({name: rec.get(name) for name in keep})
            if not any(row.strip() for row in rows):
                raise UserError(f"no text to classify: {file} has no records with text in column {column!r}",
                                "add the texts, one record each")
            if report.skipped:
                n = len(report.skipped)
                warn([f"{n:,} record{'s' * (n != 1)} of {file} could not be read and {'have' if n != 1 else 'has'} no "
                      "row in the output"],
                     report.skipped)
            return rows
        for flag, value in (("--text-column", text_column), ("--keep-column", keep[0] if keep else None)):
            if value is not None:
                raise usage_error(f"{flag} is for tables, and {file} is plain text", "drop it")
        try:
            lines = _lines(file.read_text(encoding=text_encoding(encoding)))
        except UnicodeError:
            raise locate_decode_error(file, encoding) from None
        return _some_text(_without_labels(lines, str(file)), str(file))
    if texts == ["-"]:
        return _stream_texts(sys.stdin.buffer.read(), "stdin", encoding)
    if "-" in texts:
        raise usage_error("- (read stdin) mixed with texts" if set(texts) != {"-"} else "- (read stdin) given twice",
                          "give either texts or - alone")
    if not texts:
        raise usage_error("no text to classify", "pass texts as arguments, --file PATH, or - to read stdin")
    return list(texts)


def _stream_texts(data: bytes, where: str, encoding: str) -> list[str]:
    """The texts of stdin, or of a pipe given as --file (<(...)): one a line, read once."""

    if data.startswith(b"\xef\xbb\xbf") and codecs.lookup(encoding).name.startswith(("utf-16", "utf-32")):
        raise UserError(f"{where} is UTF-8 (it starts with UTF-8's byte-order mark), not {encoding}",
                        "drop --encoding")
    return _some_text(_without_labels(_lines(_decoded(data, where, encoding)), where), where)


def _decoded(data: bytes, where: str, encoding: str, offset: int = 0) -> str:
    """``data`` as text, or the one-line error naming the first bad byte; ``offset``: the bytes read before (a
    byte-order mark is dropped at the start only)."""
    from lstmtext.textfiles import text_encoding

    try:
        return data.decode(text_encoding(encoding) if offset == 0 else encoding)
    except UnicodeDecodeError as err:
        raise UserError(f"{where}: invalid {encoding} at byte {offset + err.start}", "pass --encoding") from None


def _without_labels(lines: list[str], where: str, note: bool = True) -> list[str]:
    """Lines in fastText's format with their __label__ words left out, and (``note``) a note saying so; others as
    they are."""
    from lstmtext.labelfolders import strip_labels

    stripped = strip_labels(lines)
    if stripped is None:
        return lines
    if note:
        from rich.markup import escape

        from lstmtext.render import err

        err.print(f"note: {escape(where)} is in fastText's format: each line's __label__ words are left out of the "
                  "text classified")
    return stripped


def _some_text(lines: list[str], where: str) -> list[str]:
    if not any(line.strip() for line in lines):
        what = "holds only blank lines" if lines else "is empty"
        raise UserError(f"no text to classify: {where} {what}", "give it one text a line")
    return lines


def _shorten(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@handle_errors
def classify(
    ctx: typer.Context,
    checkpoint: Annotated[Path, typer.Argument(
        metavar="CHECKPOINT", help="A classifier run folder.")],
    texts: Annotated[Optional[list[str]], typer.Argument(
        metavar="TEXT", help="Texts to label; '-' reads one per line from stdin.")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="One text per line, or a CSV/TSV/JSON(L)/"
                                                 "parquet file with a text column.")] = None,
    text_column: TextColumn = None,
    keep_column: Annotated[Optional[list[str]], typer.Option(
        "--keep-column", metavar="NAME", help="--file with a table: copy this column (an id, the true label) into "
        "each output row, before the text (repeatable; one named as an output column is written input_NAME).")] = None,
    output: Annotated[str, typer.Option("--format", help="table, json, jsonl or csv: text, label, confidence and "
                                        "a note (empty: not classified; truncated; unknown: no word the model "
                                        "knows).", callback=choice_value)] = "table",
    json_out: JsonFlag = False,
    all_scores: Annotated[bool, typer.Option("--all-scores", help="Add every class's probability.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Texts per inference batch.")] = 64,
    ensemble: Ensemble = None,
    weights: Weights = "best",
    encoding: Encoding = "utf-8",
    device: Device = "auto",
) -> None:
    """Label texts with a trained classifier (or the mean of several: --ensemble).

    Example: lstmtext classify checkpoints/reviews "not bad at all" "dull plot" --format jsonl
    """
    if output not in FORMATS:
        raise usage_error(f"unknown --format {output!r}", f"choose one of: {', '.join(FORMATS)}")
    output = chosen_format(ctx, output, json_out, FORMATS)  # --json, as every command takes it
    if batch_size < 1:
        raise usage_error(f"--batch-size must be at least 1, got {batch_size}", "leave it out for the default")
    reads = file is not None or texts == ["-"]
    refuse_unless(ctx, {"text_column": (file is not None, "is for --file (a table's column)"),
                        "keep_column": (file is not None, "is for --file (a table's columns)"),
                        "encoding": (reads, "is for --file or - (stdin); texts given as arguments are already "
                                            "decoded")})
    runs = _classifier_runs(checkpoint, ensemble)  # before torch is imported
    from lstmtext.checkpoint import read_config, run_columns

    config = read_config(runs[0])
    if file is not None and str(file) != "-":
        encoding = own_encoding(ctx, encoding, config, str(file))
    # stdin labelled as it comes, a chunk of the lines there are at a time, where the rows can be written so (JSON
    # Lines, CSV): a live filter (tail -f | lstmtext classify RUN - --format jsonl), and Ctrl-C keeps what is written
    from lstmtext.textfiles import check_encoding_name

    check_encoding_name(encoding)
    streamed = texts == ["-"] and file is None and output in ("jsonl", "csv") and _line_codec(encoding)
    if streamed:
        chunks: Iterator[tuple[list[str], list[dict[str, Any]]]] = (
            (lines, [{} for _ in lines]) for lines in _stdin_chunks(encoding))
        names: dict[str, str] = {}
    else:  # a table is read by the run's own text column where it has one
        items, kept = _read_inputs(list(texts or []), file, text_column, encoding, run_columns(config)[0],
                                   keep_column)
        names = _kept_names(list(kept[0]) if kept else [], config["labels"])  # before the models load
        step = CHUNK if output in ("jsonl", "csv") else max(len(items), 1)  # rows written a chunk at a time
        chunks = iter([(items[i:i + step], kept[i:i + step]) for i in range(0, max(len(items), 1), step)])

    from contextlib import nullcontext

    from lstmtext.cli.notes import on_the_cpu
    from lstmtext.devices import resolve_device
    from lstmtext.render import counting, err

    dev = resolve_device(device)
    if dev.type == "cpu":  # each step's freed activations stay with the process: 4.6x generate's tokens/s
        on_the_cpu()
    ckpts = _load_classifiers(runs, dev, weights)
    labels: list[str] = ckpts[0].config["labels"]
    seen, held, written = Seen(), [], False
    # one bar over all the chunks of a file or of texts given (stdin's length is not known: a bar a chunk)
    total = None if streamed else sum(1 for t in items if t.strip()) * len(ckpts)
    with nullcontext(None) if total is None else counting("classify", total, "texts") as done:
        for chunk, chunk_kept in chunks:
            rows = _label(ckpts, chunk, batch_size, dev, all_scores, labels, seen, done)
            held += [{**{names[k]: v for k, v in extra.items()}, **row} for extra, row in zip(chunk_kept, rows)]
            if seen.texts or not streamed:  # stdin's blank lines wait: with no text at all, an error and no rows
                _emit(held, output, labels, all_scores, header=not written)
                sys.stdout.flush()
                held, written = [], True
    if streamed and not seen.texts:
        what = "holds only blank lines" if seen.empty else "is empty"
        raise UserError(f"no text to classify: stdin {what}", "give it one text a line")

    def texts_(n: int, were: str = "") -> str:  # "1 text was", "3 texts were"
        return f"{n:,} text{'s' * (n != 1)}" + (f" {were if n != 1 else 'was'}" if were else "")

    marked = " (marked in the note column)" if output == "table" else ""
    if seen.truncated:
        err.print(f"note: {texts_(seen.truncated, 'were')} longer than a model's --max-length and truncated{marked}")
    if seen.unknowns:
        one = seen.unknowns == 1
        err.print(f"note: {texts_(seen.unknowns)} {'holds' if one else 'hold'} no word the model knows (every "
                  f"token <unk>), so {'its label is a guess' if one else 'their labels are guesses'}{marked}")
        cased = [c for c in ckpts if not c.tokenizer.lowercase]
        if cased and any(_knows_some(c.tokenizer, text.lower()) for text in seen.unknown for c in cased):
            err.print("note: some of them hold words the model knows in lower case ('GREAT' is not 'great' to a "
                      "model trained without --lowercase): lower-case the texts, or train with --lowercase")
    if seen.empty:
        err.print(f"note: {'1 empty text was' if seen.empty == 1 else f'{seen.empty:,} empty texts were'} not "
                  "classified")


CHUNK = 4096  # texts labelled, then written, at a time in JSON Lines and CSV


class Seen:
    """What the chunks of a classify run held: how many chunks and texts, and the texts truncated, unknown (all
    <unk>: their own words, up to a few hundred, for the lowercase note) and empty."""

    def __init__(self) -> None:
        self.chunks = self.texts = self.truncated = self.empty = self.unknowns = 0
        self.unknown: list[str] = []  # the first 500 of them


def _label(ckpts: list[Any], items: list[str], batch_size: int, dev: Any, all_scores: bool, labels: list[str],
           seen: Seen, done: Any = None) -> list[dict[str, Any]]:
    """The rows of ``items``: text, label, confidence and note (and every class's score), counted in ``seen``."""
    seen.chunks += 1
    seen.texts += sum(1 for t in items if t.strip())
    probs, keep, truncated, unknown = _ensemble_proba(ckpts, items, batch_size, dev, "classify", done=done) \
        if items else (None, [], set(), set())
    rows: list[dict[str, Any]] = [{"text": t, "label": None, "confidence": None, "note": "empty"} for t in items]
    if all_scores:  # every row has the same keys, the empty ones with null scores
        for row in rows:
            row["scores"] = {name: None for name in labels}
    for k, i in enumerate(keep):
        p = probs[k]
        rows[i] = {"text": items[i], "label": labels[int(p.argmax())], "confidence": float(p.max()),
                   "note": "unknown" if i in unknown else "truncated" if i in truncated else None}
        if all_scores:
            rows[i]["scores"] = {name: float(v) for name, v in zip(labels, p)}
    seen.truncated += len(truncated)
    seen.unknown += [items[i] for i in sorted(unknown)][:max(0, 500 - len(seen.unknown))]
    seen.unknowns += len(unknown)
    seen.empty += len(items) - len(keep)
    return rows


def _line_codec(encoding: str) -> bool:
    """Whether text in ``encoding`` can be cut into lines at its b"\\n" bytes (not UTF-16 or UTF-32)."""
    return not codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


def _stdin_chunks(encoding: str, most: int = CHUNK) -> Iterator[list[str]]:
    """stdin's lines as they come: those that have arrived (up to ``most``), each time more arrive; fastText's
    __label__ words left out as from a file."""
    import select


    source = sys.stdin.buffer
    try:
        fd: int | None = source.fileno()
    except (OSError, ValueError, AttributeError):  # no descriptor (in tests): read as it comes, a read at a time
        fd = None
    pending, offset, noted, ended = bytearray(), 0, False, False
    while not ended:
        while True:  # read what is there already (a piped file: many lines), without waiting for more
            data = source.read1(1 << 16) if hasattr(source, "read1") else source.read(1 << 16)
            pending += data
            ended = not data
            if ended or fd is None or pending.count(b"\n") >= most:
                break
            try:
                if not select.select([fd], [], [], 0)[0]:
                    break
            except (OSError, ValueError):
                break
        cut = len(pending) if ended else pending.rfind(b"\n") + 1
        if not cut:
            continue
        block = bytes(pending[:cut])
        del pending[:cut]
        raw = _lines(_decoded(block, "stdin", encoding, offset))
        offset += len(block)
        lines = _without_labels(raw, "stdin", note=not noted)
        noted = noted or lines is not raw
        for i in range(0, len(lines), most):
            yield lines[i:i + most]


def _knows_some(tokenizer: Any, text: str) -> bool:
    """Whether a tokenizer reads ``text`` as at least one token of its vocabulary (not all <unk>)."""
    from lstmtext.tokenizers import UNK

    return bool((tokenizer.encode(text) != UNK).any())


def _six(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def _kept_names(columns: list[str], labels: list[str]) -> dict[str, str]:
    """The output name of each --keep-column: its own, or input_NAME where the output has a column of that name;
    two that would be written alike are refused."""
    own = {"text", "label", "confidence", "note", "scores", *(f"score_{n}" for n in labels)}
    names: dict[str, str] = {}
    for column in columns:
        names[column] = f"input_{column}" if column in own else column
        if list(names.values()).count(names[column]) > 1:
            raise usage_error(f"--keep-column {column} would be written {names[column]}, as another kept column "
                              "is", "keep only one of the two")
    return names


def _cell(value: Any) -> str:
    """A kept column's value in a CSV cell or a table: a list or an object (JSON, parquet) as JSON, not Python's
    repr; nothing for a missing value."""
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value)


def _kept_keys(rows: list[dict[str, Any]]) -> list[str]:
    """The input columns --keep-column copied into the rows: the keys before the text."""
    keys = list(rows[0]) if rows else []
    return keys[:keys.index("text")]


def _emit(rows: list[dict[str, Any]], output: str, labels: list[str], all_scores: bool, header: bool = True) -> None:
    """The rows as ``output`` writes them; ``header``: CSV's first line too (a later chunk's rows have none)."""
    if output == "json":
        print(json.dumps(finite(rows), ensure_ascii=False, indent=2))
    elif output == "jsonl":
        for row in rows:
            print(json.dumps(finite(row), ensure_ascii=False))
    elif output == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        extra = _kept_keys(rows)
        if header:
            writer.writerow(extra + ["text", "label", "confidence"] + ([f"score_{n}" for n in labels] if all_scores
                                                                       else [])
                            + ["note"])  # as in JSON: empty (not classified), truncated, unknown, or nothing
        for row in rows:
            scores = [_six(row["scores"][n]) for n in labels] if all_scores else []
            conf = _six(row["confidence"])
            writer.writerow([_cell(row[k]) for k in extra] + [row["text"], row["label"] or "", conf]
                            + scores + [row["note"] or ""])
        sys.stdout.write(buf.getvalue())
    else:
        from rich.markup import escape
        from rich.table import Table

        from lstmtext.render import out

        table = Table(title_justify="left")  # the text gives way on a narrow terminal; labels and scores never do
        table.add_column("#", justify="right", no_wrap=True)
        extra = _kept_keys(rows)
        for name in extra:  # an id or a true label: short, and cut short before the text gives way
            table.add_column(escape(name), overflow="fold", max_width=16)
        table.add_column("text", min_width=12)  # but keeps a few words' width, however narrow
        table.add_column("label", no_wrap=True, min_width=max(len(n) for n in [*labels, "(empty)"]))
        table.add_column("confidence", justify="right", no_wrap=True, min_width=len("confidence"))
        for name in labels if all_scores else []:
            table.add_column(name, justify="right", no_wrap=True, min_width=max(len(name), 5))
        notes = any(row["note"] and row["label"] is not None for row in rows)
        if notes:  # truncated (past --max-length) or unknown (no word the model knows): as JSON and CSV mark them
            table.add_column("note", no_wrap=True)
        for n, row in enumerate(rows, 1):
            values = [escape(_shorten(_cell(row[k]), 24)) for k in extra]
            if row["label"] is None:
                table.add_row(str(n), *values, escape(_shorten(row["text"])), "[dim](empty)[/]", "-")
                continue
            scores = [f"{row['scores'][name]:.3f}" for name in labels] if all_scores else []
            table.add_row(str(n), *values, escape(_shorten(row["text"])), escape(row["label"]),
                          f"{row['confidence']:.1%}", *scores,
                          *([f"[yellow]{row['note']}[/]" if row["note"] else ""] if notes else []))
        out.print(table)
