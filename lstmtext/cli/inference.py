"""`classify` and `evaluate`: using trained checkpoints on new text."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lstmtext.cli import (Device, Encoding, LabelColumn, TextColumn, app, flag_name, handle_errors, note_weights,
                          refuse_unless, warn)
from lstmtext.errors import UserError, usage_error

FORMATS = ("table", "json", "jsonl", "csv")


def _lines(text: str) -> list[str]:
    """One text per line, as the file's lines are counted: at '\n' (or '\r\n') only, not at the form feeds, U+2028
    and other breaks that str.splitlines() also cuts at, so that the output has one row per line of the input."""
    lines = text.replace("\r\n", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def _read_inputs(texts: list[str], file: Path | None, text_column: str | None, encoding: str) -> list[str]:
    """Texts from arguments, a file (lines, or a table's text column) or stdin ('-')."""
    from lstmtext.tables import (TEXT_COLUMNS, ReadReport, _iter_table, _table_format, container_kind, pick_column,
                                 table_columns)
    from lstmtext.textfiles import (_binary_error, _check_encoding, _compression, _looks_binary, _packed_error,
                                    locate_decode_error, text_encoding)

    if file is not None and texts:
        raise usage_error("give texts as arguments or with --file, not both")
    if file is not None:
        if str(file) == "-" and not file.exists():
            raise usage_error("--file - is not read from stdin: a table needs its file name to tell its format",
                              "pipe one text a line as 'lstmtext classify RUN -', or save the table and pass its path")
        if file.is_dir():
            raise UserError(f"--file {file} is a folder", "give a file: one text a line, or a table")
        if not file.is_file():
            raise UserError(f"--file not found: {file}", "check the path")
        packed = _compression(file)
        if packed:
            raise _packed_error(file, packed, "--file ")
        if _looks_binary(file, encoding):
            raise _binary_error(file, "--file ")
        _check_encoding(file, encoding)
        fmt = _table_format(file)
        if fmt:
            column = pick_column(table_columns(file, fmt, encoding), text_column, TEXT_COLUMNS, "text", str(file))
            report = ReadReport()
            rows = []
            for line, rec in _iter_table(file, fmt, encoding, report):
                value = rec.get(column)
                if kind := container_kind(value):
                    raise UserError(f"{file} line {line}: the {column!r} field is {kind}, not one text",
                                    "pass --text-column naming a column of plain texts")
                rows.append("" if value is None else str(value))
            if not any(row.strip() for row in rows):
                raise UserError(f"no text to classify: {file} has no records with text in column {column!r}",
                                "add the texts, one record each")
            if report.skipped:
                warn([f"{len(report.skipped):,} records of {file} could not be read and have no row in the output"],
                     report.skipped)
            return rows
        try:
            lines = _lines(file.read_text(encoding=text_encoding(encoding)))
        except UnicodeDecodeError:
            raise locate_decode_error(file, encoding) from None
        return _some_text(lines, str(file))
    if texts == ["-"]:
        data = sys.stdin.buffer.read()
        try:
            return _some_text(_lines(data.decode(text_encoding(encoding))), "stdin")
        except UnicodeDecodeError as err:
            raise UserError(f"stdin: invalid {encoding} at byte {err.start}", "pass --encoding") from None
    if "-" in texts:
        raise usage_error("- (read stdin) mixed with texts" if set(texts) != {"-"} else "- (read stdin) given twice",
                          "give either texts or - alone")
    if not texts:
        raise usage_error("no text to classify", "pass texts as arguments, --file PATH, or - to read stdin")
    return list(texts)


def _some_text(lines: list[str], where: str) -> list[str]:
    if not any(line.strip() for line in lines):
        raise UserError(f"no text to classify: {where} is empty", "give it one text a line")
    return lines


Ensemble = Annotated[Optional[list[Path]], typer.Option(
    "--ensemble", metavar="RUN", help="Another classifier run (repeatable): the label is the argmax of the runs' "
    "mean class probabilities. The runs must share their labels; each reads the text with its own tokenizer.")]


def _classifier_runs(checkpoint: Path, ensemble: list[Path] | None) -> list[Path]:
    """The classifier run folders to use, each checked before torch is imported."""
    from lstmtext.checkpoint import check_run

    runs = [checkpoint, *(ensemble or [])]
    seen: set[Path] = set()
    labels: list[str] = []
    for k, run in enumerate(runs):
        member = ("--ensemble", "ensemble classifier runs trained on the same labels") if k else ("", "")
        config = check_run(run, "classify", *member)
        other = sorted(config.get("labels") or [])
        if run.resolve() in seen:
            raise usage_error(f"{run} is given twice", "list each run once")
        seen.add(run.resolve())
        labels = labels or other
        if other != labels:
            raise UserError(f"{run} labels {', '.join(other)}, but {checkpoint} labels {', '.join(labels)}",
                            "ensemble classifiers trained on the same labels")
    return runs


def _load_classifiers(runs: list[Path], dev: Any) -> list[Any]:
    from lstmtext.checkpoint import load_checkpoint

    ckpts = [load_checkpoint(run, str(dev), task="classify") for run in runs]
    for ckpt in ckpts:
        note_weights(ckpt)
    return ckpts


def _max_length(ckpt: Any) -> int:
    return int(ckpt.config["train"].get("max_length", 256))


def _in_label_order(probs: Any, ckpt: Any, labels: list[str]) -> Any:
    """A run's probability columns reordered to `labels` (runs of an ensemble may list them differently)."""
    own = ckpt.config["labels"]
    return probs[:, [own.index(name) for name in labels]]


def _ensemble_proba(ckpts: list[Any], texts: list[str], batch_size: int, dev: Any,
                    what: str) -> tuple[Any, list[int], set[int]]:
    """Mean class probabilities of the runs (in the first run's label order) for the texts every run reads as at
    least one token: (probabilities, indexes of those texts, the indexes of those some run truncated)."""
    from lstmtext.data import one_line

    encoded = [[c.tokenizer.encode(one_line(t)) if t.strip() else [] for t in texts] for c in ckpts]
    keep = [i for i in range(len(texts)) if all(len(ids[i]) for ids in encoded)]
    truncated = {i for i in keep if any(len(ids[i]) > _max_length(c) for c, ids in zip(ckpts, encoded))}
    if not keep:
        return None, keep, truncated
    seqs = [[ids[i][:_max_length(c)] for i in keep] for c, ids in zip(ckpts, encoded)]
    return _mean_proba(ckpts, seqs, batch_size, dev, what), keep, truncated


def _mean_proba(ckpts: list[Any], seqs: list[list[Any]], batch_size: int, dev: Any, what: str) -> Any:
    """The runs' mean class probabilities, in the first run's label order; seqs[k] is run k's token ids. A bar
    named ``what`` counts the texts each run has read."""
    from lstmtext.models import predict_proba
    from lstmtext.render import counting

    labels = ckpts[0].config["labels"]
    with counting(what, sum(map(len, seqs)), "texts") as done:
        return sum(_in_label_order(predict_proba(c.model, s, batch_size, dev, done=done), c, labels)
                   for c, s in zip(ckpts, seqs)) / len(ckpts)


def _shorten(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command()
@handle_errors
def classify(
    ctx: typer.Context,
    checkpoint: Annotated[Path, typer.Argument(help="A classifier run folder.")],
    texts: Annotated[Optional[list[str]], typer.Argument(help="Texts to label; '-' reads one per line from "
                                                         "stdin.")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="One text per line, or a CSV/TSV/JSON(L)/"
                                                 "parquet file with a text column.")] = None,
    text_column: TextColumn = None,
    output: Annotated[str, typer.Option("--format", help="table, json, jsonl or csv: text, label, confidence and "
                                        "a note (empty: not classified; truncated).")] = "table",
    all_scores: Annotated[bool, typer.Option("--all-scores", help="Add every class's probability.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Texts per inference batch.")] = 64,
    ensemble: Ensemble = None,
    encoding: Encoding = "utf-8",
    device: Device = "auto",
) -> None:
    """Label texts with a trained classifier (or the mean of several: --ensemble).

    Example: lstmtext classify checkpoints/reviews "not bad at all" "dull plot" --format jsonl
    """
    if output not in FORMATS:
        raise usage_error(f"unknown --format {output!r}", f"choose one of: {', '.join(FORMATS)}")
    if batch_size < 1:
        raise usage_error(f"--batch-size must be at least 1, got {batch_size}")
    reads = file is not None or texts == ["-"]
    refuse_unless(ctx, {"text_column": (file is not None, "is for --file (a table's column)"),
                        "encoding": (reads, "is for --file or - (stdin); texts given as arguments are already "
                                            "decoded")})
    runs = _classifier_runs(checkpoint, ensemble)  # before torch is imported
    items = _read_inputs(list(texts or []), file, text_column, encoding)

    from lstmtext.render import err
    from lstmtext.training import resolve_device

    dev = resolve_device(device)
    ckpts = _load_classifiers(runs, dev)
    labels: list[str] = ckpts[0].config["labels"]
    probs, keep, truncated = _ensemble_proba(ckpts, items, batch_size, dev, "classify")
    rows: list[dict[str, Any]] = [{"text": t, "label": None, "confidence": None, "note": "empty"} for t in items]
    if all_scores:  # every row has the same keys, the empty ones with null scores
        for row in rows:
            row["scores"] = {name: None for name in labels}
    for k, i in enumerate(keep):
        p = probs[k]
        rows[i] = {"text": items[i], "label": labels[int(p.argmax())], "confidence": float(p.max()),
                   "note": "truncated" if i in truncated else None}
        if all_scores:
            rows[i]["scores"] = {name: float(v) for name, v in zip(labels, p)}
    if truncated:
        err.print(f"note: {len(truncated)} text(s) longer than a model's --max-length were truncated")
    empty = len(items) - len(keep)
    if empty:
        err.print(f"note: {empty} empty text(s) were not classified")
    _emit(rows, output, labels, all_scores)


def _six(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def _emit(rows: list[dict[str, Any]], output: str, labels: list[str], all_scores: bool) -> None:
    if output == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif output == "jsonl":
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    elif output == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["text", "label", "confidence"] + ([f"score_{n}" for n in labels] if all_scores else [])
                        + ["note"])  # as in JSON: empty (not classified), truncated, or nothing
        for row in rows:
            scores = [_six(row["scores"][n]) for n in labels] if all_scores else []
            conf = _six(row["confidence"])
            writer.writerow([row["text"], row["label"] or "", conf] + scores + [row["note"] or ""])
        sys.stdout.write(buf.getvalue())
    else:
        from rich.markup import escape
        from rich.table import Table

        from lstmtext.render import out

        table = Table(title_justify="left")  # the text gives way on a narrow terminal; labels and scores never do
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("text")
        table.add_column("label", no_wrap=True, min_width=max(len(n) for n in [*labels, "(empty)"]))
        table.add_column("confidence", justify="right", no_wrap=True, min_width=len("confidence"))
        for name in labels if all_scores else []:
            table.add_column(name, justify="right", no_wrap=True, min_width=max(len(name), 5))
        for n, row in enumerate(rows, 1):
            if row["label"] is None:
                table.add_row(str(n), escape(_shorten(row["text"])), "[dim](empty)[/]", "-")
                continue
            scores = [f"{row['scores'][name]:.3f}" for name in labels] if all_scores else []
            table.add_row(str(n), escape(_shorten(row["text"])), escape(row["label"]), f"{row['confidence']:.1%}",
                          *scores)
        out.print(table)


@app.command()
@handle_errors
def evaluate(
    ctx: typer.Context,
    checkpoint: Annotated[Path, typer.Argument(help="A run folder (classifier or language model).")],
    corpus: Annotated[Optional[str], typer.Argument(help="Corpus to score (default: the run's own test "
                                                    "split).")] = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    split: Annotated[Optional[str], typer.Option("--split", help="train, valid (or dev) or test: the split to "
                                                 "score (default test; a corpus without split files is scored "
                                                 "whole).")] = None,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    ensemble: Ensemble = None,
    encoding: Encoding = "utf-8",
    device: Device = "auto",
) -> None:
    """Score a run: a classifier's accuracy, macro-F1 and confusion matrix; a language model's perplexity.

    Also per-class figures (--ensemble: the mean of several runs), or a language model's loss and bits per char.

    Example: lstmtext evaluate checkpoints/reviews --split valid --format json
    """
    if output not in ("table", "json"):
        raise usage_error(f"unknown --format {output!r}", "choose table or json")
    from lstmtext.corpus import SPLIT_WORDS, SPLITS

    if split is not None:
        if split.lower() not in SPLIT_WORDS:
            raise usage_error(f"unknown --split {split!r}", f"choose one of: {', '.join(SPLITS)}")
        split = SPLIT_WORDS[split.lower()]  # dev, validation -> valid
    from lstmtext.checkpoint import check_run, load_checkpoint

    task = check_run(checkpoint)["task"]  # before torch is imported
    why = "is for reading a CORPUS; the run's own data is already tokenized"
    refuse_unless(ctx, {name: (corpus is not None, why) for name in ("text_column", "label_column", "encoding")})
    refuse_unless(ctx, {"label_column": (task == "classify", "is for a classifier; this is a language model")})
    if ensemble and task != "classify":
        raise usage_error("--ensemble averages classifiers; this is a language model", "leave out --ensemble")
    runs = _classifier_runs(checkpoint, ensemble) if task == "classify" else [checkpoint]
    from lstmtext.training import resolve_device

    dev = resolve_device(device)
    if task == "classify":
        result = _evaluate_classifier(_load_classifiers(runs, dev), corpus, split, text_column, label_column,
                                      encoding, dev)
    else:
        ckpt = load_checkpoint(checkpoint, str(dev))
        note_weights(ckpt)
        result = _evaluate_lm(ckpt, corpus, split, text_column, encoding, dev)
    result["checkpoint"] = str(checkpoint)
    warn([], result["skipped"])
    if ensemble:
        result["ensemble"] = [str(run) for run in ensemble]
    if output == "json":
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    from lstmtext.render import evaluation_tables, out

    for table in evaluation_tables(result):
        out.print(table)


def _eval_source(ckpt: Any, corpus: str | None, split: str | None, task: str, text_column: str | None,
                 label_column: str | None, encoding: str) -> tuple[Any, str]:
    """What to score, and its name: without a corpus, the run's prepared data (a `Prepared`; read its `split`,
    test by default); else the corpus's split, or all of it ("whole") if it has no split files of its own."""
    from lstmtext.corpus import open_corpus
    from lstmtext.data import Prepared, is_prepared

    name = split or "test"
    if corpus is None:
        prepared = Prepared.of_run(ckpt.path, ckpt.config["data"], "pass the corpus to evaluate on")
        if not prepared.meta["splits"][name]["tokens"]:
            raise UserError(f"the run's {name} split is empty", "pick another --split")
        return prepared, name
    if is_prepared(Path(corpus)):
        raise UserError(f"{corpus} is a prepared folder of token ids, and evaluate reads text",
                        "give the corpus it was made from, or no corpus to score the run's own data")
    source = open_corpus(corpus, encoding=encoding, text_column=text_column, label_column=label_column,
                         valid_fraction=0.0, test_fraction=0.0, task=task)
    if not source.own_splits:
        if split is not None:
            raise usage_error(f"{corpus} has no split files, so it is scored whole", "leave out --split")
        return source.splits["train"], "whole"
    if name in source.carved:
        has = ", ".join(s for s in source.splits if s not in source.carved)
        raise UserError(f"{corpus} has no {name} split (it has: {has})", "pick one of them with --split")
    return source.splits[name], name


def _prepared_proba(ckpts: list[Any], split: str, labels: list[str], dev: Any) -> tuple[list[int], Any]:
    """Gold labels and mean probabilities on a split of each run's own prepared data (already token ids), which
    must hold the same labelled texts for every run."""
    def data(c: Any) -> tuple[Any, ...]:
        return c.config["data"]["source_hash"], c.config["data"].get("settings")

    gold: list[int] | None = None
    seqs = []
    for c in ckpts:
        prepared, _ = _eval_source(c, None, split, "classify", None, None, "utf-8")
        texts, gold_ids = prepared.cut_texts(split, _max_length(c))
        own = [labels.index(c.config["labels"][int(g)]) for g in gold_ids]
        if gold is not None and (own != gold or data(c) != data(ckpts[0])):
            raise UserError(f"{c.path} was tested on other texts than {ckpts[0].path}",
                            "pass the corpus to evaluate the ensemble on")
        gold = own
        seqs.append(texts)
    return gold or [], _mean_proba(ckpts, seqs, 128, dev, "evaluate") if gold else None


def _evaluate_classifier(ckpts: list[Any], corpus: str | None, split: str | None, text_column: str | None,
                         label_column: str | None, encoding: str, dev: Any) -> dict[str, Any]:
    from lstmtext.data import label_name, short_list
    from lstmtext.metrics import classification_report, cross_entropy

    labels: list[str] = ckpts[0].config["labels"]
    kind, source = split or "test", None
    if corpus is None:
        gold, probs = _prepared_proba(ckpts, kind, labels, dev)
    else:
        source, kind = _eval_source(ckpts[0], corpus, split, "classify", text_column, label_column, encoding)
        index = {n: i for i, n in enumerate(labels)}
        texts, gold, unknown = [], [], set()
        for text, label, path, line in source.records():
            name = label_name(label)
            if name not in index and name is not None and str(label).strip() in index:
                name = str(label).strip()  # a run trained before '1.0' read as 1 knows it as '1.0'
            if name is None or not text.strip():
                source.report.skip(path, line, "empty text" if name is not None else "missing label")
                continue
            if name not in index:
                unknown.add(name)
                continue
            texts.append(text)
            gold.append(index[name])
        if unknown:
            raise UserError(f"the corpus has labels the model does not know: {', '.join(sorted(unknown)[:10])}",
                            f"known labels: {short_list(labels)}")
        probs, keep, _ = _ensemble_proba(ckpts, texts, 128, dev, "evaluate")
        gold = [gold[i] for i in keep]
    if probs is None:
        raise UserError("nothing to evaluate: no labelled, non-empty texts found")
    report = classification_report(gold, probs.argmax(1).tolist(), len(labels))
    report["per_class"] = [{"label": n, **pc} for n, pc in zip(labels, report["per_class"])]
    report["loss"] = cross_entropy(probs, gold)  # of the (mean) probabilities: how sure, not only how right
    return {"task": "classify", "split": kind, "labels": labels, **report, "skipped": _skipped(source)}


def _skipped(source: Any) -> list[list[Any]]:
    """The records a corpus's split left out, as [file, line, reason] (none for a run's own data)."""
    report = getattr(source, "report", None)
    return [list(s) for s in report.skipped] if report is not None else []


def _evaluate_lm(ckpt: Any, corpus: str | None, split: str | None, text_column: str | None, encoding: str,
                 dev: Any) -> dict[str, Any]:
    import numpy as np

    from lstmtext.metrics import bits_per_char, perplexity
    from lstmtext.render import counting
    from lstmtext.tasks import in_reading_order, lm_eval
    from lstmtext.training import autocast_dtype, autocast_for

    source, kind = _eval_source(ckpt, corpus, split, "lm", text_column, None, encoding)
    if corpus is None:  # the run's prepared data
        tokens = source.tokens(kind)
        chars = int(source.meta["splits"][kind]["chars"])
    else:
        parts, chars = [], 0
        for chunk in source.texts():
            parts.append(ckpt.tokenizer.encode(chunk))
            chars += len(chunk)
        tokens = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    train = ckpt.config["train"]
    # as training measured it (fp32 for a run trained in bf16 on a CPU with a bf16 kernel, where this one has none)
    amp = autocast_for(autocast_dtype(str(train.get("precision", "auto")), dev, strict=False), dev)
    tokens = in_reading_order(np.asarray(tokens), ckpt.model.cfg.reverse)
    with counting("evaluate", max(len(tokens) - 1, 0), "tokens") as done:
        result = lm_eval(ckpt.model, tokens, int(train.get("eval_batch_size", 16)),
                         int(train.get("seq_len", 128)), dev, amp, done)
    if result is None:
        raise UserError("too little text to evaluate", "give a longer corpus")
    loss, count = result
    from lstmtext.tokenizers import UNK

    unk = float(np.count_nonzero(tokens == UNK)) / max(len(tokens), 1)
    if corpus is not None and unk > 0.05:  # <unk> is easy to predict: such figures flatter the model
        warn([(f"{unk:.1%} of {corpus}'s tokens are <unk> to this model (its vocabulary has not seen them), so "
               "these figures are not comparable with its validation figures")])
    return {"task": "lm", "split": kind, "loss": loss, "ppl": perplexity(loss),
            "bpc": bits_per_char(loss, count, int(chars * count / max(len(tokens), 1))), "tokens": count,
            "unk_rate": round(unk, 6), "skipped": _skipped(source)}


@app.command()
@handle_errors
def info(
    checkpoint: Annotated[Path, typer.Argument(help="A run folder written by lstmtext train.")],
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Describe a checkpoint: task, tokenizer, model sizes, training progress and versions.

    Example: lstmtext info checkpoints/tales --format json
    """
    if output not in ("table", "json"):
        raise usage_error(f"unknown --format {output!r}", "choose table or json")
    from lstmtext.checkpoint import check_run, load_checkpoint

    check_run(checkpoint)  # before torch is imported
    from lstmtext.distill import describe
    from lstmtext.models import count_parameters

    ckpt = load_checkpoint(checkpoint)  # validates every file before anything is shown
    config = ckpt.config
    model = config["model"]
    result = config.get("result") or {}
    saved, state = None, {}
    if (checkpoint / "state.json").exists():
        try:
            state = json.loads((checkpoint / "state.json").read_text(encoding="utf-8"))
        except ValueError:
            state = {}
        saved = state.get("step") if isinstance(state, dict) else None
    # a finished run's best validation figures; a run stopped before the end has its best so far in its state
    best = (result.get("figures") or {}).get("valid") or (state.get("best") if isinstance(state, dict) else None) or {}
    train = config.get("train", {})
    facts = {
        "checkpoint": str(checkpoint),
        "task": config["task"],
        "status": config.get("status"),
        "level": config["tokenizer"].get("level"),
        "vocab_size": ckpt.tokenizer.vocab_size,
        "embed_dim": model["embed_dim"], "hidden_size": model["hidden_size"], "layers": model["layers"],
        **({"last_layer_size": model["last_layer_size"]} if model.get("last_layer_size") else {}),
        "bidirectional": model.get("bidirectional", False) if config["task"] == "classify" else False,
        **({"reads": "right to left (--reverse)"} if model.get("reverse") else {}),
        **({"output_layer": {"softmax": "adaptive" if model.get("cutoffs") else "full",
                             "tied": model.get("tie_weights", True),
                             **({"cutoffs": model["cutoffs"]} if model.get("cutoffs") else {})}}
           if config["task"] == "lm" else {}),
        **{k: config[k] for k in ("init_from", "init_backward_from") if config.get(k)},
        **({"extend_vocab": f"{config['extend_vocab']['pretrained']:,} pretrained tokens + "
                            f"{config['extend_vocab']['added']:,} added"} if config.get("extend_vocab") else {}),
        **({"frozen": "embedding (--freeze-embedding)"} if train.get("freeze_embedding") else {}),
        **({"pretrained_lr": f"{train['pretrained_lr']:g} x --lr"} if train.get("pretrained_lr", 1.0) != 1.0
           else {}),
        "parameters": count_parameters(ckpt.model),
        "regularisation": {"dropout": model.get("dropout", 0.0), "embed_dropout": model.get("embed_dropout", 0.0),
                           **({"layer_dropout": model["layer_dropout"]} if model.get("layer_dropout") is not None
                              else {}),
                           **({"variational": model.get("variational", False),
                               "weight_drop": model.get("weight_drop", 0.0)} if config["task"] == "lm" else {}),
                           **{k: train[k] for k in ("ar", "tar", "adversarial", "shift_windows") if train.get(k)}},
        "optimizer": train.get("optimizer"),
        **({"weights": f"moving average (--ema {train['ema']:g})"} if train.get("ema") else {}),
        **({"distilled_from": describe(train)} if train.get("distill_from") else {}),
        "labels": config.get("labels"),
        "steps": result.get("steps", saved),
        "saved_state_step": saved,
        "best_valid": best,
        "trained_on": config["data"].get("source"),
        "format_version": config["format_version"],
        "versions": config.get("versions", {}),
    }
    if output == "json":
        print(json.dumps(facts, indent=2, ensure_ascii=False))
        return
    from lstmtext.render import facts_table, figures_text, out

    def show(key: str, value: Any) -> str:
        if key == "output_layer":  # "adaptive softmax, clusters from 2,000, 10,000 (shortlist tied to the embedding)"
            tied = " tied to the embedding" if value["tied"] else ""
            if value["softmax"] == "full":
                return f"full softmax{tied}"
            clusters = ", ".join(f"{c:,}" for c in value["cutoffs"])
            return f"adaptive softmax, clusters from ranks {clusters}" + (f" (shortlist{tied})" if tied else "")
        if key == "regularisation":  # as the flags that set it; what is off is left out
            return ", ".join(flag_name(k) + ("" if v is True else f" {v:g}")
                             for k, v in value.items() if v) or "none"
        if isinstance(value, dict):
            return figures_text(value) or "-"
        if isinstance(value, list):
            return ", ".join(map(str, value))
        return "-" if value is None else f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) \
            else str(value)

    out.print(facts_table([(k.replace("_", " "), show(k, v)) for k, v in facts.items() if k != "checkpoint"],
                          title=f"checkpoint {checkpoint}"))
