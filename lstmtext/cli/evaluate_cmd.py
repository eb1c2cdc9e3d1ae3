"""`evaluate`: scoring a run on its own prepared data or on a corpus: a classifier's (or an ensemble's) accuracy,
macro-F1, confusion matrix and loss; a language model's loss, perplexity and bits per character."""

from __future__ import annotations

import json
from pathlib import Path
from shlex import quote
from typing import Annotated, Any, Optional

import typer

from lstmtext.cli.classifier_runs import (Ensemble, _classifier_runs, _ensemble_proba, _load_classifiers, _max_length,
                                          _mean_proba)
from lstmtext.checkpoint import finite
from lstmtext.cli.exits import handle_errors
from lstmtext.cli.notes import note_weights, warn
from lstmtext.cli.options import (Device, Encoding, JsonFlag, LabelColumn, TextColumn, Weights, chosen_format,
                                  own_encoding, refuse_unless, choice_value)
from lstmtext.errors import UserError, usage_error


@handle_errors
def evaluate(
    ctx: typer.Context,
    checkpoint: Annotated[Path, typer.Argument(
        metavar="CHECKPOINT", help="A run folder (classifier or language model).")],
    corpus: Annotated[Optional[str], typer.Argument(
        metavar="CORPUS", help="Corpus to score (default: the run's own test "
                                                    "split).")] = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    split: Annotated[Optional[str], typer.Option("--split", help="train, valid (or dev) or test: the split to "
                                                 "score (default test; a corpus without split files is scored "
                                                 "whole, but for the splits the run held out of it, where it is "
                                                 "the corpus the run trained on).")] = None,
    output: Annotated[str, typer.Option("--format", help="table or json.", callback=choice_value)] = "table",
    json_out: JsonFlag = False,
    ensemble: Ensemble = None,
    weights: Weights = "best",
    encoding: Encoding = "utf-8",
    device: Device = "auto",
) -> None:
    """Score a run: a classifier's accuracy, macro-F1 and confusion matrix; a language model's perplexity.

    Also per-class figures (--ensemble: the mean of several runs), or a language model's loss and bits per char.

    Example: lstmtext evaluate checkpoints/reviews --split valid --format json
    """
    output = chosen_format(ctx, output, json_out)
    from lstmtext.splits import SPLIT_WORDS, SPLITS

    if split is not None:
        if split.lower() not in SPLIT_WORDS:
            raise usage_error(f"unknown --split {split!r}", f"choose one of: {', '.join(SPLITS)} (dev is valid)")
        split = SPLIT_WORDS[split.lower()]  # dev, validation -> valid
    from lstmtext.checkpoint import check_run, load_checkpoint

    config = check_run(checkpoint)  # before torch is imported
    task = config["task"]
    held = (config.get("data") or {}).get("splits") or {}
    if corpus is None and split is None and held and not (held.get("test") or {}).get("tokens") and \
            (held.get("valid") or {}).get("tokens"):  # a preset with --test-fraction 0 (nanoGPT's split)
        from lstmtext.render import err

        split = "valid"
        err.print("note: the run held out no test split (--test-fraction 0): scoring its valid split")
    why = "is for reading a CORPUS; the run's own data is already tokenized"
    refuse_unless(ctx, {name: (corpus is not None, why) for name in ("text_column", "label_column", "encoding")})
    refuse_unless(ctx, {"label_column": (task == "classify", "is for a classifier; this is a language model")})
    if ensemble and task != "classify":
        raise usage_error("--ensemble averages classifiers; this is a language model", "leave out --ensemble")
    runs = _classifier_runs(checkpoint, ensemble) if task == "classify" else [checkpoint]
    if corpus is not None:
        encoding = own_encoding(ctx, encoding, config, corpus)
    from lstmtext.cli.notes import on_the_cpu
    from lstmtext.devices import resolve_device

    dev = resolve_device(device)
    if dev.type == "cpu":  # each step's freed activations stay with the process: 4.6x generate's tokens/s
        on_the_cpu()
    if task == "classify":
        ckpts = _load_classifiers(runs, dev, weights)
        result = _evaluate_classifier(ckpts, corpus, split, text_column, label_column, encoding, dev)
    else:
        ckpts = [load_checkpoint(checkpoint, str(dev), weights=weights)]
        note_weights(ckpts[0], weights)
        result = _evaluate_lm(ckpts[0], corpus, split, text_column, encoding, dev)
    from lstmtext.checkpoint import LAST_WEIGHTS
    result["checkpoint"] = str(checkpoint)
    result["corpus"] = corpus  # None: the run's own prepared data
    result["weights"] = "last" if ckpts[0].weights_file == LAST_WEIGHTS else "best"  # the ones scored
    warn([], result["skipped"])
    if ensemble:
        result["ensemble"] = [str(run) for run in ensemble]
    if output == "json":
        print(json.dumps(finite(result), indent=2, ensure_ascii=False))
        return
    from lstmtext.render import evaluation_tables, out

    for table in evaluation_tables(result):
        out.print(table)


def _eval_source(ckpt: Any, corpus: str | None, split: str | None, task: str, text_column: str | None,
                 label_column: str | None, encoding: str) -> tuple[Any, str]:
    """What to score, and its name: without a corpus, the run's prepared data (a `Prepared`; read its `split`,
    test by default); else the corpus's split, or all of it ("whole") if it has no split files of its own (but the
    split held out of it, where it is the corpus the run trained on)."""
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
    source = _open_by_run_columns(ckpt, corpus, encoding, text_column, label_column, task)
    if source.layout:  # label folders or files, fastText's lines: how they were read, as train's read line says
        from rich.markup import escape

        from lstmtext.render import err

        err.print(f"note: read {escape(corpus)} as {escape(source.layout)}")
    warn(source.warnings)
    _note_own_split_file(ckpt, corpus)
    if not source.own_splits:
        own = _held_out_of(ckpt, source, corpus, name, task, text_column, label_column, encoding)
        if own is not None:
            return own, name
        data = ckpt.config.get("data") or {}
        trained_on = str(data.get("source") or "")
        same_place = Path(corpus).resolve() == Path(data["source_abs"]) if data.get("source_abs") else \
            Path(corpus).name == Path(trained_on).name  # (runs before the path was kept: by its name)
        if trained_on and same_place:  # the run's corpus, edited since?
            from rich.markup import escape

            from lstmtext.render import err

            err.print(f"note: {escape(corpus)} is where the corpus {escape(str(ckpt.path))} trained on was, with "
                      "other content: if it is that corpus edited since, most of it is text the run trained on, and "
                      "these figures are no test of it")
        if split is not None:
            raise usage_error(f"{corpus} has no split files, so it is scored whole", "leave out --split")
        return source.splits["train"], "whole"
    if name in source.carved:
        has = ", ".join(s for s in source.splits if s not in source.carved)
        raise UserError(f"{corpus} has no {name} split (it has: {has})", "pick one of them with --split")
    return source.splits[name], name


def _open_by_run_columns(ckpt: Any, corpus: str, encoding: str, text_column: str | None, label_column: str | None,
                         task: str) -> Any:
    """The corpus opened with the columns given, else with the columns the run trained on where it has them (a
    table with a 'Review Body' column is read by it, as the run read its own), else with those found by name."""
    from lstmtext.checkpoint import run_columns
    from lstmtext.corpus import open_corpus
    from lstmtext.errors import MissingColumn

    text, label = run_columns(ckpt.config)
    tried = text_column or text, label_column or (label if task == "classify" else None)
    if tried != (text_column, label_column):
        try:
            return open_corpus(corpus, encoding=encoding, text_column=tried[0], label_column=tried[1],
                               valid_fraction=0.0, test_fraction=0.0, task=task)
        except MissingColumn:  # the table lacks the run's columns: the ones given, else found by name
            pass
    return open_corpus(corpus, encoding=encoding, text_column=text_column, label_column=label_column,
                       valid_fraction=0.0, test_fraction=0.0, task=task)


def _held_out_of(ckpt: Any, source: Any, corpus: str, name: str, task: str, text_column: str | None,
                 label_column: str | None, encoding: str) -> Any:
    """The split ``name`` the run held out of ``corpus`` when it is the corpus the run trained on (the same files,
    and splits carved out of them), else None. Scored whole, it would score the run on the texts it trained on."""
    from rich.markup import escape

    from lstmtext.checkpoint import run_columns, run_settings
    from lstmtext.corpus import open_corpus
    from lstmtext.render import err

    data = ckpt.config.get("data", {})
    settings = run_settings(ckpt.config)
    held = {part: float(settings.get(f"{part}_fraction", 0.0)) for part in ("valid", "test")}
    if not any(held.values()) or not _same_source(source, data):
        return None
    if name != "train" and not held[name]:
        other = "valid" if name == "test" else "test"
        raise UserError(f"{corpus} is the corpus {ckpt.path} trained on, and the run held no {name} split out of it",
                        f"score its {other} split (--split {other})")
    text, label = run_columns(ckpt.config)
    run = open_corpus(corpus, encoding=encoding, text_column=text_column or text,
                      label_column=(label_column or label) if task == "classify" else None,
                      valid_fraction=held["valid"], test_fraction=held["test"],
                      split_seed=int(settings.get("split_seed", 0)), task=task)
    what = "its train split, the texts it trained on" if name == "train" else \
        f"the {name} split it held out (as `lstmtext evaluate {escape(quote(str(ckpt.path)))}` does), not the " \
        "whole, most of which it trained on"
    err.print(f"note: {escape(corpus)} is the corpus {escape(str(ckpt.path))} trained on: scoring {what}")
    return run.splits[name]


def _note_own_split_file(ckpt: Any, corpus: str) -> None:
    """A note where ``corpus`` is the train or valid file of the folder the run trained on (sst2/train.tsv): its
    figures are of texts the run learnt from, or chose its best weights on, not a test's."""
    from rich.markup import escape

    from lstmtext.render import err
    from lstmtext.splits import split_of

    data = ckpt.config.get("data") or {}
    # where the run read its corpus (older runs kept only its name, as typed: found from the working folder)
    source = data.get("source_abs") if data.get("source_abs") and Path(data["source_abs"]).is_dir() else \
        data.get("source")
    path = Path(corpus)
    if not source or not path.is_file() or not Path(source).is_dir():
        return
    if path.resolve().parent != Path(source).resolve():
        return
    what = {"train": "trained on", "valid": "chose its best weights on"}.get(split_of(path) or "")
    if what:
        err.print(f"note: {escape(corpus)} holds the texts {escape(str(ckpt.path))} {what}, so its figures are "
                  "no test of it")


def _note_members_own_text(others: list[Any], corpus: str, text_column: str | None, label_column: str | None,
                           encoding: str) -> None:
    """The notes of _note_own_split_file and _held_out_of for an ensemble's other runs: a corpus that one of them
    trained on (a file of its folder, or the whole of it) scores the ensemble on texts that run learnt."""
    from rich.markup import escape

    from lstmtext.render import err

    for other in others:
        _note_own_split_file(other, corpus)
        try:
            whole = _open_by_run_columns(other, corpus, encoding, text_column, label_column, "classify")
        except UserError:
            continue
        if not whole.own_splits and _same_source(whole, other.config.get("data", {})):
            err.print(f"note: {escape(corpus)} is the corpus {escape(str(other.path))} trained on, most of it in its "
                      "train split, so the ensemble's figures are no test of it")


def _same_source(source: Any, data: dict[str, Any]) -> bool:
    """Whether ``source`` holds the files the run trained on: the same names and bytes, or a single file's bytes
    under another name (a copy; the content hash counts the name, which tells a folder's files apart)."""
    from lstmtext.corpus import files_hash

    if source.content_hash() == data.get("source_hash"):
        return True
    if len(source.files) != 1 or not data.get("source"):
        return False
    return files_hash(source.files, [str(data["source"])]) == data.get("source_hash")


def _prepared_proba(ckpts: list[Any], split: str, labels: list[str], dev: Any,
                    members: list[Any] | None = None) -> tuple[list[int], Any]:
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
    return gold or [], _mean_proba(ckpts, seqs, 128, dev, "evaluate", members) if gold else None


def _evaluate_classifier(ckpts: list[Any], corpus: str | None, split: str | None, text_column: str | None,
                         label_column: str | None, encoding: str, dev: Any) -> dict[str, Any]:
    from lstmtext.labels import label_name, short_list
    from lstmtext.metrics import classification_report, cross_entropy

    labels: list[str] = ckpts[0].config["labels"]
    kind, source, unknown_counts = split or "test", None, None
    members: list[Any] = []  # each run's own probabilities: an ensemble's table gives each member's figures too
    if corpus is None:
        gold, probs = _prepared_proba(ckpts, kind, labels, dev, members)
    else:
        source, kind = _eval_source(ckpts[0], corpus, split, "classify", text_column, label_column, encoding)
        _note_members_own_text(ckpts[1:], corpus, text_column, label_column, encoding)
        index = {n: i for i, n in enumerate(labels)}
        texts, gold, unknown = [], [], {}
        for text, label, path, line in source.records():
            name = label_name(label)
            if name not in index and name is not None and str(label).strip() in index:
                name = str(label).strip()  # a run trained before '1.0' read as 1 knows it as '1.0'
            if name is None or not text.strip():
                source.report.skip(path, line, "empty text" if name is not None else "missing label")
                continue
            if name not in index:
                unknown[name] = unknown.get(name, 0) + 1
                continue
            texts.append(text)
            gold.append(index[name])
        if unknown:  # the rows of labels the model knows are scored; the others named, or refused if all are
            shown = ", ".join(f"{name!r} ({count:,})" for name, count in sorted(unknown.items())[:10]) + (
                f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else "")
            if not texts:
                raise UserError(f"the corpus has only labels the model does not know: {shown}",
                                f"known labels: {short_list(labels)}")
            rows = sum(unknown.values())
            warn([f"{rows:,} text{'s' * (rows > 1)} of {corpus} {'have' if rows > 1 else 'has'} labels the model "
                  f"does not know, and {'are' if rows > 1 else 'is'} left out of the figures: {shown} (known labels: "
                  f"{short_list(labels)})"])
            unknown_counts = dict(sorted(unknown.items()))
        probs, keep, _, _ = _ensemble_proba(ckpts, texts, 128, dev, "evaluate", members)
        gold = [gold[i] for i in keep]
    if probs is None:
        raise UserError("nothing to evaluate: no labelled, non-empty texts found")
    report = classification_report(gold, probs.argmax(1).tolist(), len(labels))
    report["per_class"] = [{"label": n, **pc} for n, pc in zip(labels, report["per_class"])]
    report["loss"] = cross_entropy(probs, gold)  # of the (mean) probabilities: how sure, not only how right
    if len(ckpts) > 1:
        report["members"] = []
        for c, p in zip(ckpts, members):
            own = classification_report(gold, p.argmax(1).tolist(), len(labels))
            report["members"].append({"run": str(c.path), "accuracy": own["accuracy"], "macro_f1": own["macro_f1"],
                                      "loss": cross_entropy(p, gold)})
    return {"task": "classify", "split": kind, "labels": labels, **report, "skipped": _skipped(source),
            **({"unknown_labels": unknown_counts} if unknown_counts else {})}


def _skipped(source: Any) -> list[list[Any]]:
    """The records a corpus's split left out, as [file, line, reason] (none for a run's own data)."""
    report = getattr(source, "report", None)
    return [list(s) for s in report.skipped] if report is not None else []


def _evaluate_lm(ckpt: Any, corpus: str | None, split: str | None, text_column: str | None, encoding: str,
                 dev: Any) -> dict[str, Any]:
    import numpy as np

    from lstmtext.devices import autocast_dtype, autocast_for
    from lstmtext.metrics import bits_per_char, perplexity
    from lstmtext.render import counting
    from lstmtext.tasks import in_reading_order, lm_eval

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
    tokens = np.ascontiguousarray(in_reading_order(np.asarray(tokens), ckpt.model.cfg.reverse))  # torch reads no
    # negative strides: a reverse model's view of text read from a corpus is copied (a prepared split's is a memmap)
    with counting("evaluate", max(len(tokens) - 1, 0), "tokens") as done:
        result = lm_eval(ckpt.model, tokens, int(train.get("eval_batch_size", 16)),
                         int(train.get("seq_len", 128)), dev, amp, done)
    if result is None:
        raise UserError("too little text to evaluate", "give a longer corpus")
    loss, count = result
    if count < 100:  # one token's loss is a guess's, not the model's measure
        warn([f"only {count:,} token{'s' * (count != 1)} scored, so these figures mean little (give more text)"])
    from lstmtext.tokenizers import UNK

    unk = float(np.count_nonzero(tokens == UNK)) / max(len(tokens), 1)
    valid = ckpt.config["data"].get("splits", {}).get("valid", {})
    usual = valid.get("unk", 0) / valid["tokens"] if valid.get("tokens") else 0.0  # PTB's own <unk> is 4.7%
    # <unk> is easy to predict: figures on text with many more of them than the run validated on flatter the model
    if corpus is not None and unk > max(0.05, 1.5 * usual):
        warn([(f"{unk:.1%} of {corpus}'s tokens are <unk> to this model (its vocabulary has not seen them), so "
               "these figures are not comparable with its validation figures")])
    return {"task": "lm", "split": kind, "loss": loss, "ppl": perplexity(loss),
            "bpc": bits_per_char(loss, count, int(chars * count / max(len(tokens), 1))), "tokens": count,
            "of_tokens": max(len(tokens) - 1, 0),  # all of them (scripts read both)
            "unk_rate": round(unk, 6), "skipped": _skipped(source)}
