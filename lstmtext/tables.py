"""Tables: CSV, TSV (and how it quotes), JSON Lines, JSON arrays and parquet read row by row; their columns, and
which of them holds the text and the label.

Bad rows are skipped and recorded in a ReadReport; nothing here picks splits or tokenizes.
"""

from __future__ import annotations

import csv
import functools
import itertools
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from shlex import quote
from typing import Any

from lstmtext.errors import MissingColumn, UserError, usage_error
from lstmtext.textfiles import _ascii_compatible, locate_decode_error, text_encoding

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
                  ".parquet": "parquet"}
TEXT_COLUMNS = ("text", "sentence", "review", "content", "body", "document", "comment", "tweet",
                "question", "passage", "line", "utterance")
LABEL_COLUMNS = ("label", "labels", "sentiment", "polarity", "class", "category", "target", "rating", "stars")


def place(path: Any, line: int) -> str:
    """Where a record is, for messages: a parquet file's row, any other file's line ("data.csv line 7")."""
    return f"{path} {'row' if str(path).lower().endswith('.parquet') else 'line'} {line}"


def missing_label(value: Any) -> bool:
    """A label field with no label in it: None, NaN or blank (labels.label_name reads the others)."""
    return value is None or value != value or not str(value).strip()


def in_file_order(skipped: Any) -> list[Any]:
    """Skipped records ((file, line, reason)) in file order, whichever split read them first."""
    return sorted(skipped, key=lambda r: (str(r[0]), r[1]))


@dataclass
class ReadReport:
    """Records a reader skipped, with file, line number and reason (counts read are in meta.json)."""

    skipped: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, reason)
    # what a read noticed about records it kept (a CSV quote that ran over lines): a corpus makes this its own
    # warnings list (corpus.py), so that they are shown and kept in meta.json with the others
    notes: list[str] = field(default_factory=list)
    _seen: set[tuple[str, int]] = field(default_factory=set, repr=False)
    _noted: set[tuple[str, int]] = field(default_factory=set, repr=False)

    def skip(self, path: str, line: int, reason: str) -> None:
        """Record a skipped record once, however many times the source is read."""
        if (path, line) not in self._seen:
            self._seen.add((path, line))
            self.skipped.append((path, line, reason))

    def note(self, path: str, line: int, text: str) -> None:
        """Note something about a kept record once, however many times the source is read."""
        if (path, line) not in self._noted:
            self._noted.add((path, line))
            self.notes.append(text)


def _tsv_quoting(path: Path, encoding: str) -> int:
    try:
        stat = path.stat()
    except OSError:
        return csv.QUOTE_NONE
    return _tsv_quoting_of(path, stat.st_size, stat.st_mtime_ns, encoding)


@functools.lru_cache(maxsize=64)
def _tsv_quoting_of(path: Path, size: int, mtime: int, encoding: str) -> int:
    """How a TSV file quotes: most write text as it is (GLUE's SST-2: a quote is a character), while Python's csv
    module and pandas wrap a field holding a tab, a line break or a quote in quotes, doubling those inside. Quoted
    when the first 256 KiB read that way give more rows the header's number of fields, or as many and a field
    wrapped with doubled quotes inside (she said ""wow"", in quotes); else as it is."""
    import io

    try:
        with path.open("r", encoding=text_encoding(encoding), errors="replace", newline="") as fh:
            sample = fh.read(1 << 18)
    except OSError:
        return csv.QUOTE_NONE
    if '"' not in sample:
        return csv.QUOTE_NONE
    if len(sample) == 1 << 18:
        sample = sample[:sample.rfind("\n") + 1] or sample

    def misfits(quoting: int) -> int:
        rows = [r for r in csv.reader(io.StringIO(sample), delimiter="\t", quoting=quoting) if r and r != [""]]
        return sum(len(r) != len(rows[0]) for r in rows[1:-1]) if rows else 0  # the last may be cut

    plain, quoted = misfits(csv.QUOTE_NONE), misfits(csv.QUOTE_MINIMAL)
    if quoted < plain:
        return csv.QUOTE_MINIMAL
    doubled = re.compile(r'(?:^|\t)"(?:[^"\t\n]|"")*""(?:[^"\t\n]|"")*"(?=\t|\r?$)', re.M)
    return csv.QUOTE_MINIMAL if quoted == plain and doubled.search(sample) else csv.QUOTE_NONE


def container_kind(value: Any) -> str | None:
    """'a list' or 'an object' for a field that holds one (JSON, parquet, datasets), else None: one text or label,
    which is what a record gives each column."""
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else None


_RUNAWAY_LINES = 20  # a CSV record this many lines long with the wrong number of fields: an unclosed quote


def _fields(n: int) -> str:
    return f"{n} field" + ("" if n == 1 else "s")


def _table_format(path: Path) -> str | None:
    return TABLE_SUFFIXES.get(path.suffix.lower())


def _iter_table(path: Path, fmt: str, encoding: str, report: ReadReport) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a table as (line number, row dict). Bad rows are skipped and reported."""
    name = str(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except Exception as err:  # pyarrow raises several types for a broken file
            raise UserError(f"{path}: not a readable parquet file ({err})") from None
        row = 0
        for batch in pf.iter_batches(batch_size=4096):
            for rec in batch.to_pylist():
                row += 1
                yield row, rec
        return
    try:
        fh = path.open("r", encoding=text_encoding(encoding), newline="")
        with fh:
            if fmt == "jsonl":
                head = fh.read(4096).lstrip("\ufeff \t\r\n")
                fh.seek(0)
                if head.startswith("["):
                    yield from _json_array(path, fh.read(), report)
                    return
                if head.startswith("{") and (error := _one_object(path, fh)):
                    raise error
                fh.seek(0)
                yield from _json_lines(fh, report, name)
                return
            quoting = _tsv_quoting(path, encoding) if fmt == "tsv" else csv.QUOTE_MINIMAL
            csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a C long: 32 bits on Windows, where maxsize overflows
            held: list[str] = []  # the lines of the record being read (csv.reader reads no further than its end)

            def lines() -> Iterator[str]:
                for line in fh:
                    held.append(line)
                    yield line

            reader = csv.reader(lines() if fmt == "csv" else fh, delimiter="\t" if fmt == "tsv" else ",",
                                quoting=quoting)
            header = next(reader, None)
            held.clear()
            if header is None:
                return
            header = [h.strip() for h in header]
            twice = sorted({h for h in header if header.count(h) > 1 and h})
            if twice:
                raise UserError(f"{path}: the header names column {twice[0]!r} more than once",
                                "rename one of them, so that it is clear which holds what")
            ends = reader.line_num
            pending = None  # a record of several lines with the wrong field count: a runaway quote if it is the last
            multi = None  # the last record read, where its last field runs over several lines

            def runaway(lineno: int, ends: int) -> UserError:
                return UserError(f"{path} line {lineno}: a quoted field that starts there never closes (the record "
                                 f"runs on to {'the end of the file' if pending else f'line {ends}'})",
                                 'close the quote, or write a quote inside a field as two ("")')

            for row in reader:
                if pending:
                    report.skip(name, pending[0], pending[1])
                    pending = None
                lineno, ends = ends + 1, reader.line_num  # the line the record starts on, and where it ends
                ran_on = (f"a quoted field runs over the line break into line {lineno + 1}, which reads as a record "
                          f"of its own, to a quote on line {ends}") if ends > lineno and fmt == "csv" \
                    and _quote_ran_on(held, len(header)) else ""
                held.clear()
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != len(header):
                    reason = f"has {_fields(len(row))}, the header has {len(header)}" + (ran_on and f": {ran_on}")
                    if ends - lineno >= _RUNAWAY_LINES and fmt == "csv":
                        raise runaway(lineno, ends)
                    if ends > lineno and fmt == "csv" and "\n" in row[-1]:
                        pending = (lineno, reason)
                        continue
                    report.skip(name, lineno, reason)
                    continue
                if ran_on:  # kept, as a field may hold line breaks; but its lines read as one record
                    report.note(name, lineno, f"{place(path, lineno)}: {ran_on}, so lines {lineno}-{ends} are read as "
                                "one record (close the quote, or write a quote inside a field as two (\"\"))")
                yield lineno, dict(zip(header, row))
                # a last field of several lines: a quote that never closed, if it ran to the file's end unclosed
                multi = (lineno, "") if ends > lineno and fmt == "csv" and "\n" in row[-1] else None
            if pending:  # the reader met the end of the file inside the quotes
                raise runaway(pending[0], ends)
            if multi and not _ends_quoted(path):  # the right number of fields (one column): it ran to the end
                pending = multi
                raise runaway(multi[0], ends)
    except UnicodeDecodeError:
        raise locate_decode_error(path, encoding) from None
    except csv.Error as err:
        raise UserError(f"{path}: malformed {fmt.upper()} ({err})") from None


def _quote_ran_on(lines: list[str], width: int) -> bool:
    """Whether a CSV record read over several lines is a stray quote's doing, not a field that holds line breaks:
    its second line reads as a record of its own (the header's number of fields), and a quote closes in the middle
    of a field (no comma after it: what reading strictly refuses), which no CSV writer writes; there the quote that
    opened the field ran on to the next quote at the start of a field."""
    if len(next(csv.reader(lines[1:2]), [])) != width:
        return False
    try:
        for _ in csv.reader(lines, strict=True):
            pass
    except csv.Error:
        return True
    return False


def _ends_quoted(path: Path) -> bool:
    """Whether a CSV file's last field closes a quote (its last bytes but line ends and spaces are a quote)."""
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - 64))
        return fh.read().rstrip(b" \t\r\n").endswith(b'"')


def _json_lines(fh: Any, report: ReadReport, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """JSON Lines: one object per line; a line that is not one is skipped and reported."""
    for lineno, line in enumerate(fh, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            if lineno == 1 and line.strip() == "{":
                raise UserError(f"{name} holds one JSON object over many lines, not records",
                                "write JSON Lines (one object per line) or a JSON array of objects") from None
            report.skip(name, lineno, f"not valid JSON ({err.msg.removesuffix(' at')} at column {err.colno})")
            continue
        if isinstance(rec, str):  # a line that is a text alone: its "text"
            rec = {"text": rec}
        if not isinstance(rec, dict):
            report.skip(name, lineno, "not a JSON object")
            continue
        yield lineno, rec


def _one_object(path: Path, fh: Any) -> UserError | None:
    """The error for a JSON file that is one object, not records: on one line, an object that holds its records in
    a list ({"data": [...]}) and no text of its own; over many lines, any object (JSON Lines has a record a line, so
    a first line that is an object cut short, with no record on the next, is the start of one). None for JSON
    Lines, its first line broken or not: a broken line is skipped and reported as it is read."""
    lines = (line for line in iter(fh.readline, "") if line.strip())
    first = next(lines, "")
    try:
        value = json.loads(first)
    except json.JSONDecodeError as err:
        second = next(lines, "")
        if err.pos < len(first.rstrip()) or _is_json(second):  # broken inside the line, or a record after it
            return None
        try:
            value = json.loads(first + second + fh.read())
        except json.JSONDecodeError:
            return None
    else:
        if not isinstance(value, dict) or next(lines, None) is not None or not _records_in(value) \
                or any(isinstance(value.get(c), str) for c in value if c.lower() in TEXT_COLUMNS) \
                or (_holds_texts(value) and any(isinstance(v, str) for v in value.values())):
            return None  # one record of JSON Lines: a text, or a text of its own beside a list of texts (tags)
    if not isinstance(value, dict):
        return None
    hint = "give a JSON array of records, or JSON Lines (one object per line)"
    if found := _records_in(value):
        keys, count = found
        where = "".join(f".{k}" if re.fullmatch(r"[A-Za-z_]\w*", k, re.ASCII) else f"[{json.dumps(k)}]" for k in keys)
        where = where if where.startswith(".") else "." + where
        jq = f"'{where}'" if "'" not in where else quote(where)
        hint += (f"; its {'.'.join(keys)!r} field holds a list of {count:,} record{'s' * (count != 1)}: extract it, "
                 f"e.g. jq {jq} {quote(str(path))} > records.json")
    return UserError(f"{path} is one JSON object, not records", hint)


def _holds_texts(value: dict[str, Any]) -> bool:
    """Whether the list _records_in finds in ``value`` is of texts, not of objects."""
    keys, _ = _records_in(value) or ([], 0)
    for key in keys:
        value = value[key]
    return isinstance(value, list) and not any(isinstance(x, dict) for x in value)


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def _records_in(value: dict[str, Any], depth: int = 2) -> tuple[list[str], int] | None:
    """Where an object holds a list of records (objects, else texts), as the keys that lead to it and its length:
    its own fields first, then theirs (``depth`` levels in all); the longest list mostly of objects, else a list of
    texts that is its only list (an array's item that is neither is skipped as it is read). Lists side by side are
    columns ({"text": [...], "label": [...]}), not records: extracting one would lose the others."""
    lists = [(key, item) for key, item in value.items() if isinstance(item, list) and item]
    for kind in (dict, str):
        found = [(key, item) for key, item in lists if 2 * sum(isinstance(x, kind) for x in item) > len(item)]
        if found and (kind is dict or len(lists) == 1):
            key, item = max(found, key=lambda pair: len(pair[1]))
            return [key], len(item)
    for key, item in value.items():
        if depth > 1 and isinstance(item, dict) and (inner := _records_in(item, depth - 1)):
            return [key, *inner[0]], inner[1]
    return None


def _json_array(path: Path, text: str, report: ReadReport) -> Iterator[tuple[int, dict[str, Any]]]:
    """A JSON array of objects, or of texts (the whole file is read), each item with the line it starts on. An
    item that is neither is skipped and reported; broken JSON stops the read, as nothing after it parses."""
    decoder = json.JSONDecoder()
    ws = re.compile(r"[\s\ufeff]*")
    pos = ws.match(text, ws.match(text).end() + 1).end()  # past the "["
    line, counted = 1, 0
    while True:
        if text.startswith("]", pos):
            return
        try:
            item, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}: not valid JSON at line {err.lineno}, column {err.colno} ({err.msg})",
                            "fix the file, or write it as JSON Lines so a bad record is skipped") from None
        line += text.count("\n", counted, pos)
        counted = pos
        if isinstance(item, str):  # an array of texts: each one's "text"
            item = {"text": item}
        if isinstance(item, dict):
            yield line, item
        else:
            report.skip(str(path), line, "not a JSON object")
        pos = ws.match(text, end).end()
        if text.startswith(",", pos):
            pos = ws.match(text, pos + 1).end()
        elif not text.startswith("]", pos):
            line += text.count("\n", counted, pos)
            raise UserError(f"{path}: not valid JSON at line {line} (expected ',' or ']' after an item)",
                            "fix the file, or write it as JSON Lines so a bad record is skipped")


def table_columns(path: Path, fmt: str, encoding: str) -> list[str]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.ParquetFile(path).schema_arrow.names)
        except Exception as err:
            raise UserError(f"{path}: not a readable parquet file ({err})") from None
    if fmt == "jsonl":  # the keys of the first records, in order: the first alone may lack a field
        keys: dict[str, None] = {}
        report = ReadReport()
        for _, rec in itertools.islice(_iter_table(path, fmt, encoding, report), 1000):
            keys.update(dict.fromkeys(rec))
        if not keys and report.skipped:  # no record at all: say why, not that no column was found
            _, line, reason = report.skipped[0]
            raise UserError(f"{path} line {line}: {reason}, and no line of it is a record",
                            "write JSON Lines: one JSON object per line")
        return list(keys)
    try:
        if _ascii_compatible(encoding):  # decode the header line alone, not the block around it
            with path.open("rb") as fh:
                first = fh.readline().decode(text_encoding(encoding))
        else:
            with path.open("r", encoding=encoding, newline="") as fh:
                first = fh.readline()
    except UnicodeDecodeError:
        raise locate_decode_error(path, encoding) from None
    delim = "\t" if fmt == "tsv" else ","
    quoting = _tsv_quoting(path, encoding) if fmt == "tsv" else csv.QUOTE_MINIMAL
    return [c.strip() for c in next(csv.reader([first], delimiter=delim, quoting=quoting), [])]


def refuse_one_column(text_col: str, label_col: str | None, where: str) -> None:
    """A usage error where the text and the label would be read from the same column."""
    if label_col == text_col:
        raise usage_error(f"column {text_col!r} of {where} would be both the text and the label",
                          "pass --text-column and --label-column naming two columns")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def first_named(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    """The column named as the earliest of ``candidates`` (lower-case names; case-insensitive), else None."""
    lower = {c.lower(): c for c in columns}
    return next((lower[cand] for cand in candidates if cand in lower), None)


def _reads_as_data(columns: list[str]) -> bool:
    """A header line with a number or a phrase in it: a row of data, not column names."""
    return any(_is_number(c) or len(c.split()) >= 3 for c in columns)


def _header_for(fields: list[str]) -> list[str]:
    """Names for a first line of data's fields, as a header to add: the longest field is the text, the shortest
    the label (a number, or a word), any others column2, column3, ... (AG News: label,column2,text)."""
    if len(fields) < 2:
        return ["text"]
    text = max(range(len(fields)), key=lambda i: len(fields[i]))
    label = min((i for i in range(len(fields)) if i != text), key=lambda i: (not _is_number(fields[i]),
                                                                                len(fields[i])))
    return ["text" if i == text else "label" if i == label else f"column{i + 1}" for i in range(len(fields))]


def _no_header(where: str, columns: list[str], numbered: bool = False) -> UserError:
    """The error for a table whose first line is data; ``numbered``: a column was asked for by a number."""
    sep = "\\t" if where.lower().endswith(".tsv") else ","
    header = sep.join(_header_for(columns))
    return usage_error(f"{where} has no header line: its first line ({', '.join(columns)}) reads as data, not "
                       f"column names", f"add a first line naming the columns: sed -i '1i {header}' {where}"
                       + ("; columns are named by that line, not numbered" if numbered else ""))


def pick_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str, where: str,
                prefer: str | None = None) -> str:
    """The column named by the user, else ``prefer`` (the column a run trained on) where the table has it, else the
    first common name found (case-insensitive)."""
    found = ", ".join(columns) if columns else "none"
    if len(columns) == 1 and (sep := next((c for c in ";|\t," if c in columns[0]), None)):
        named = {";": "semicolons", "|": "bars", "\t": "tabs", ",": "commas"}[sep]
        raise UserError(f"{where} has one column, {columns[0]!r}: its fields look separated by {named}",
                        "save it as CSV with commas (.csv) or with tabs (.tsv)")
    if wanted is not None:
        if wanted in columns:
            return wanted
        folded = [c for c in columns if c.casefold() == wanted.casefold()]
        if len(folded) == 1:  # 'Text' for 'text': detection ignores case too
            return folded[0]
        data = sum(_is_number(c) or len(c.split()) >= 3 for c in columns)
        if 2 * data >= len(columns) and first_named(columns, candidates) is None:  # --text-column 0, no header
            raise _no_header(where, columns, numbered=wanted.isdigit())
        raise MissingColumn(f"{where} has no column {wanted!r} (columns found: {found})",
                            f"pass --{what}-column with one of them", exit_code=2)
    if prefer is not None and (same := [c for c in columns if c.casefold() == prefer.casefold()]):
        return prefer if prefer in same else same[0]
    if (named := first_named(columns, candidates)) is not None:
        return named
    if _reads_as_data(columns):
        raise _no_header(where, columns)
    if len(columns) == 1:  # perhaps a first text read as a header ('great product')
        raise usage_error(f"could not tell which column of {where} holds the {what}: its one column is headed "
                          f"{columns[0]!r}", "if that first line is a text, not a header, add a first line naming "
                          f"the column (such as {what}); else pass --{what}-column {columns[0]!r}")
    raise usage_error(f"could not tell which column of {where} holds the {what} (columns found: {found})",
                      f"pass --{what}-column NAME")


@dataclass
class TableSplit:
    """One split of rows: some files, optionally a row range (for tail hold-out)."""

    files: list[tuple[Path, str]]
    text_column: str
    encoding: str
    report: ReadReport
    label_column: str | None = None
    rows: tuple[int, int] | None = None  # [first, last) row index across the files
    indices: Any = None  # an explicit sorted array of row indices (stratified hold-out)
    of_rows: int = 0  # the rows of all the files, where a hold-out counted them (for the size of a part)

    def records(self) -> Iterator[tuple[str, Any, str, int]]:
        """(text, label, file, line) for each kept row."""
        index = -1
        pick = None if self.indices is None else set(int(i) for i in self.indices)
        for path, fmt in self.files:
            for lineno, rec in _iter_table(path, fmt, self.encoding, self.report):
                if self.text_column not in rec:
                    self.report.skip(str(path), lineno, f"has no {self.text_column!r} field")
                    continue
                text = rec[self.text_column]
                label = rec.get(self.label_column) if self.label_column else None
                for column, value in ((self.text_column, text), (self.label_column, label)):
                    if kind := container_kind(value):
                        raise UserError(f"{place(path, lineno)}: the {column!r} field is {kind}, not one value",
                                        "write one record per text, with the text and its label as plain values "
                                        "(JSON Lines: one object per line)")
                index += 1
                if self.rows is not None and not self.rows[0] <= index < self.rows[1]:
                    continue
                if pick is not None and index not in pick:
                    continue
                yield ("" if text is None else str(text)), label, str(path), lineno

    def texts(self) -> Iterator[str]:
        """The texts as lines; a classifier's rows without a label are left out, as encoding leaves them out of its
        data, so that their words stay out of its vocabulary too."""
        for text, label, _, _ in self.records():
            if self.label_column and missing_label(label):
                continue
            yield text.replace("\r\n", "\n").replace("\n", " ") + "\n"

    def num_bytes(self) -> int:
        """The files' size, or a part's share of it: a progress bar's total, not an exact count."""
        size = sum(p.stat().st_size for p, _ in self.files)
        if not self.of_rows or (self.rows is None and self.indices is None):
            return size
        picked = len(self.indices) if self.indices is not None else self.rows[1] - self.rows[0]
        return size * picked // self.of_rows
