"""Preparing a corpus for the commands that read one (tokenize, train): the shipped default corpus, the tokenizer
spec, the cache folder a corpus gets, tokenizing it into a prepared folder (or reusing one), and the table that
describes the result."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lstmtext.cli.notes import warn
from lstmtext.config import TokenizerSpec, to_dict
from lstmtext.errors import UserError, usage_error

PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_CORPORA = {"lm": "corpora/tales.txt", "classify": "corpora/reviews.tsv"}


def _spec(level: str, vocab_size: int | None, lowercase: bool, min_freq: int, word_split: str) -> TokenizerSpec:
    spec = TokenizerSpec(level=level.strip().lower(), vocab_size=vocab_size, lowercase=lowercase, min_freq=min_freq,
                         word_split=word_split)
    spec.validate()
    return spec


def _default_corpus(task: str) -> Path:
    for base in (Path.cwd(), PACKAGE_ROOT):  # ./corpora first, as any relative path; then the checkout's
        if (base / DEFAULT_CORPORA[task]).exists():
            return base / DEFAULT_CORPORA[task]
    raise usage_error("no CORPUS given and the shipped corpus was not found", "pass a corpus path")


def _cache_dir(corpus_path: Path, spec: TokenizerSpec, task: str, settings: dict[str, Any],
               tokenizer_key: str = "", content: str = "") -> Path:
    """The default prepared folder: one per source, settings and content, so that preparing an edited
    corpus leaves the folder older runs were trained on in place."""
    # word level cuts text anew since 12-04 and 12-05 (tokenizers.py, WORD_CUT): a folder of its own, so the
    # folders of the runs trained before stay as they were
    from lstmtext.tokenizers import NORMALIZE, WORD_CUT

    marks = {"keep_marks": True, "cut": WORD_CUT} if spec.level == "word" and not tokenizer_key else {}
    # every level reads text NFC-normalised since 12-08: a folder of its own too (a given tokenizer's key says so)
    normal = {"normalize": NORMALIZE} if not tokenizer_key else {}
    key = hashlib.sha256(json.dumps({**to_dict(spec), "task": task, "src": str(corpus_path.resolve()),
                                     "settings": settings, "tokenizer": tokenizer_key, "content": content, **marks,
                                     **normal}, sort_keys=True).encode()).hexdigest()[:8]
    return Path("checkpoints") / "prepared" / f"{corpus_path.stem or 'corpus'}-{spec.level}-{key}"


def _differs(folder: Path, corpus: Any, spec: TokenizerSpec, task: str, tokenizer: Any) -> str | None:
    """How the prepared ``folder`` differs from what this command would prepare (data.mismatch, or another
    tokenizer than --init-from's), in words; None where only damage keeps it from being reused."""
    from lstmtext.data import _same_tokenizer, mismatch, read_meta

    meta = read_meta(folder)
    if meta is None:
        return "its meta.json cannot be read"
    if (differs := mismatch(meta, corpus, spec, task)) is not None:
        return differs
    if tokenizer is not None and (folder / "tokenizer.json").is_file() and not _same_tokenizer(folder, tokenizer):
        return "its vocabulary is not the --init-from model's"
    return None


def _stale(folder: Path, tokenizer: Any = None) -> str | None:
    """What an older lstmtext got wrong in the prepared ``folder`` (data.stale_reason), or None (also where
    there is no such folder)."""
    from lstmtext.data import read_meta, stale_reason

    meta = read_meta(folder)
    return None if meta is None else stale_reason(folder, meta, marks=tokenizer is None)


def _prepare(corpus_arg: str, spec: TokenizerSpec, out: Path | None, overwrite: bool, *, encoding: str,
             text_column: str | None, valid_fraction: float, test_fraction: float, split_seed: int,
             task: str, label_column: str | None, quiet: bool, tokenizer: Any = None, extend: bool = False,
             given: Sequence[str] = ()) -> tuple[Path, dict[str, Any], bool, float]:
    """Open the corpus and make (or reuse) its prepared folder. ``extend``: add the train split's tokens
    that ``tokenizer`` lacks (``spec.min_freq`` times or more) to it first."""
    from rich.markup import escape

    from lstmtext.corpus import open_corpus
    from lstmtext.data import READER, VOCABULARY, damage, ensure_prepared, is_prepared, read_meta, reusable
    from lstmtext.render import byte_progress, err

    corpus = open_corpus(corpus_arg, encoding=encoding, text_column=text_column, label_column=label_column,
                         valid_fraction=valid_fraction, test_fraction=test_fraction, split_seed=split_seed,
                         task=task)
    for name in ("valid", "test"):  # a fraction of a split the corpus has a file of would do nothing
        if f"{name}_fraction" in given and name not in corpus.carved and corpus.own_splits:
            raise usage_error(f"--{name}-fraction does nothing: {corpus_arg} has a {name} split of its own",
                              "drop it")
    if extend:
        from lstmtext.tokenizers import extend_tokenizer

        tokenizer = extend_tokenizer(tokenizer, corpus.splits["train"].texts(), spec.min_freq)
    tokenizer_key = hashlib.sha256(json.dumps(tokenizer.to_json()).encode()).hexdigest() if tokenizer else ""
    target = out if out is not None else _cache_dir(Path(corpus_arg), spec, task, corpus.settings, tokenizer_key,
                                                    corpus.content_hash())
    if target.exists() and not target.is_dir():
        raise usage_error(f"--out {target} is an existing file", "pass a folder path")
    if out is None:  # the cache in the working folder, which the user did not name: say where it is, and the way out
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserError(f"could not create the prepared-data cache {target.parent}: {error.strerror}",
                            "run from a folder you can write to, or lstmtext tokenize CORPUS --out DIR and then "
                            "train on DIR") from None
    stale = _stale(target, tokenizer)
    if out is None and stale:  # a cache folder an older lstmtext got wrong: its runs keep it, this one gets its own
        target = target.with_name(f"{target.name}-r{READER}")
    if out is not None and target.exists() and not is_prepared(target) and any(target.iterdir()):
        raise usage_error(f"--out {target} exists and is not a prepared-data folder",  # --overwrite or not
                          "pick a new folder, or remove it yourself")
    if out is not None and target.exists() and not overwrite:
        if stale:
            raise usage_error(f"--out {target} was prepared by an older lstmtext: {stale}",
                              "pass --overwrite to prepare it again, or pick another --out")
        if is_prepared(target) and reusable(target, corpus, spec, task, tokenizer) is None:
            differs = _differs(target, corpus, spec, task, tokenizer)
            if differs is not None:
                raise usage_error(f"--out {target} holds other data: {differs}",
                                  "pass --overwrite to replace it, or pick another --out")
    broken = damage(target, meta) if (meta := read_meta(target)) is not None else None
    if broken is not None and not quiet:  # the same data, cut short or missing a file: prepared again, unasked
        err.print(escape(f"note: {target} is damaged ({broken}), so it is prepared again"))
    started = time.perf_counter()
    with byte_progress(quiet) as progress:
        tasks: dict[str, Any] = {}

        def report(split: str, done: int, total: int) -> None:  # bytes of a text split, or records of a table
            if split == VOCABULARY:  # building the tokenizer: how long it has taken, a bar once it is done
                if split not in tasks:
                    tasks[split] = progress.add_task(f"build the {spec.level} vocabulary", total=None, unit="stage")
                progress.update(tasks[split], completed=done, **({"total": total} if total else {}))
                return
            if split not in tasks:
                tasks[split] = progress.add_task(f"tokenize {split}", total=total or None,
                                                 unit="bytes" if total else "records")
            progress.update(tasks[split], completed=done)

        if out is not None and overwrite:  # asked for: prepared again even where the folder still matches
            from lstmtext.data import prepare

            meta, reused = prepare(corpus, spec, target, task, report, tokenizer, force=True), False
        else:
            meta, reused = ensure_prepared(corpus, spec, target, task, report, tokenizer)
    records = sum(info.get("records", info.get("texts", 0)) for info in meta["splits"].values())
    if records and not quiet and not reused:
        columns = [f"{what} column {name!r}" for what, name in (("text", corpus.text_column),
                                                                 ("label", corpus.label_column)) if name]
        columns += [corpus.layout] if corpus.layout else []
        err.print(escape(f"read {records:,} records from {corpus_arg}" + (f" ({', '.join(columns)})" if columns else "")
                         + f"; skipped {len(corpus.report.skipped):,}"))
    warnings = list(meta.get("warnings", []))
    if reused and isinstance(meta.get("read_warnings"), list):  # what the source's reading says now, not then
        warnings = corpus.warnings + [w for w in warnings if w not in meta["read_warnings"]]
    warn(warnings, corpus.report.skipped, "see meta.json")
    if corpus.unread_label and "task" not in given and not quiet:  # a classifier was perhaps meant
        err.print(escape(f"note: {corpus_arg} has a label column, {corpus.unread_label!r}, which a language model "
                         f"does not read: this one learns the {corpus.text_column!r} texts; to train a classifier, "
                         "pass --task classify"))
    if not quiet and (unheld := _unheld_labels(meta)):
        err.print(escape(f"note: {unheld}"))
    return target, meta, reused, time.perf_counter() - started


def _unheld_labels(meta: dict[str, Any]) -> str | None:
    """A note naming the labels that a held-out split has no texts of, though it has others' (a class too small
    for its share of a 5% draw): their F1 is not measured there, and macro-F1 averages the other labels."""
    names, splits = meta.get("labels") or [], meta.get("splits", {})
    counts = {s: info.get("label_counts") or [0] * len(names) for s, info in splits.items()}
    held = [s for s in ("valid", "test") if sum(counts.get(s, [])) > 0]
    missing = [k for k in range(len(names)) if any(not counts[s][k] for s in held)]
    if not missing:
        return None
    total = {k: sum(c[k] for c in counts.values()) for k in missing}
    listed = ", ".join(f"{names[k]} ({total[k]:,} text{'s' * (total[k] != 1)})" for k in missing[:5])
    more = f" and {len(missing) - 5:,} more" if len(missing) > 5 else ""
    where = " or ".join(s for s in held if any(not counts[s][k] for k in missing))
    one = len(missing) == 1
    return (f"{listed}{more} {'has' if one else 'have'} no texts in {where}, so {'its' if one else 'their'} F1 "
            "is not measured there (macro-F1 averages the other labels); more rows, or a larger "
            "--valid-fraction/--test-fraction, would give some")


def _data_table(path: Path, meta: dict[str, Any], reused: bool, seconds: float) -> Any:
    from rich.table import Table
    from rich.text import Text

    from lstmtext.render import count, human

    table = Table(title=Text(f"prepared data: {path}" + (" (reused)" if reused else "")), title_justify="left")
    for col in ("split", "characters", "tokens", "<unk> rate"):
        table.add_column(col, justify="left" if col == "split" else "right")
    total_tokens = 0
    for split, info in meta["splits"].items():
        total_tokens += info["tokens"]
        rate = f"{info['unk'] / info['tokens']:.3%}" if info["tokens"] else "-"  # an empty split has no rate
        texts = f" ({count(info['texts'], 'text')})" if "texts" in info else ""
        table.add_row(split, f"{info['chars']:,}{texts}", f"{info['tokens']:,}", rate)
    if meta.get("labels"):
        counts = {name: 0 for name in meta["labels"]}
        for info in meta["splits"].values():
            for name, c in zip(meta["labels"], info.get("label_counts", [])):
                counts[name] += c
        shown = [f"{k}: {v:,}" for k, v in counts.items()]  # 0: 31,120; the first 20 of many
        table.add_row("labels", Text(", ".join(shown[:20]) + (f" and {len(shown) - 20:,} more" if len(shown) > 20
                                                              else "")), "", "")
    table.caption = (f"level {meta['tokenizer']['level']}, vocabulary {meta['vocab_size']:,}, {meta['dtype']}, "
                     + ("reused, source unchanged" if reused else
                        f"{human(total_tokens / max(meta['seconds'], 1e-9))} tokens/s"))  # 6.74M: 3 figures, no more
    return table
