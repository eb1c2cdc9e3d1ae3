"""Prepared data folders: token ids in flat memmaps, written once and read at no cost (batches.py cuts them).

A prepared folder holds `meta.json`, `tokenizer.json` and `train.bin`/`valid.bin`/`test.bin`
(uint16 when the vocabulary fits, else uint32). It is written under a temporary name and
renamed, and reused when the corpus's content hash and the tokenizer settings match.
"""

from __future__ import annotations

import glob
import json
import os
import re
from array import array
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstmtext.checkpoint import atomic_write_json, read_json
from lstmtext.config import TokenizerSpec, to_dict
from lstmtext.corpus import SPLITS, Corpus
from lstmtext.errors import UserError
from lstmtext.tokenizers import FILENAME as TOKENIZER_FILE
from lstmtext.tokenizers import UNK, Tokenizer, build_tokenizer, load_tokenizer, save_tokenizer

FORMAT_VERSION = 1
# what the corpus reader does, in meta.json since 12-04: 2 reads Windows line ends (CRLF) as '\n' and gives a text of
# one long line its held-out splits; 3 (12-07) holds a split out of a UTF-16 folder's train file where the folder has
# no file for it; a folder that an older reader got wrong is prepared again (stale_reason)
READER = 3
META = "meta.json"
# (split, done, total): bytes of a text split read so far and in all; for a table's records, records read and 0
Progress = Callable[[str, int, int], None]
RECORDS_EVERY = 512  # records between two progress reports (a report costs microseconds, a record about 10)


def _dtype_for(vocab_size: int) -> str:
    return "uint16" if vocab_size <= np.iinfo(np.uint16).max + 1 else "uint32"


def spec_key(spec: TokenizerSpec, task: str) -> dict[str, Any]:
    return {**to_dict(spec), "task": task}


def is_prepared(path: Path) -> bool:
    return (Path(path) / META).is_file() and (Path(path) / TOKENIZER_FILE).is_file()


def prepare(corpus: Corpus, spec: TokenizerSpec, out: Path, task: str = "lm",
            progress: Progress | None = None, tokenizer: Tokenizer | None = None, force: bool = False
            ) -> dict[str, Any]:
    """Build the tokenizer on the train split (unless given), then encode every split to disk in chunks. Where
    another process (a second run started at once) has written the same data to ``out`` meanwhile, that is kept
    and this copy dropped, unless ``force`` (tokenize --overwrite)."""
    started = time.perf_counter()
    source_hash = corpus.content_hash()
    labels = collect_labels(corpus) if task == "classify" else None
    if tokenizer is None:
        tokenizer = build_tokenizer(corpus.splits["train"].texts(), spec)
    dtype = _dtype_for(tokenizer.vocab_size)
    out = Path(out)
    if out.exists() and not is_prepared(out) and any(out.iterdir()):
        raise UserError(f"{out} exists and is not a prepared-data folder", "pass another --out or remove it")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    _remove_stale_copies(out)
    try:
        tmp.mkdir(parents=True)
    except OSError as err:
        raise UserError(f"could not create {out}: {err.strerror}", "check the --out path and permissions") from None
    try:
        splits = {}
        for name in SPLITS:
            if labels is not None:
                splits[name] = _encode_records(corpus.splits.get(name), tokenizer, tmp, name, dtype, labels,
                                               progress)
            else:
                splits[name] = _encode_split(corpus.splits[name], tokenizer, tmp / f"{name}.bin", dtype, name,
                                             progress)
        if labels is not None and splits["train"]["texts"] == 0:
            raise UserError(f"the train split of {corpus.name} has no non-empty texts "
                            f"({splits['train']['empty']} empty)", "check --text-column")
        if splits["train"].get("blank"):
            where = f" in column {corpus.text_column!r}" if corpus.text_column else ""
            raise UserError(f"the train split of {corpus.name} holds only whitespace{where}",
                            "check the file" + (" or --text-column" if corpus.text_column else ""))
        if splits["train"]["tokens"] < 2:
            raise UserError(f"the train split of {corpus.name} is empty after tokenizing",
                            "give a larger corpus or lower --valid-fraction/--test-fraction")
        empty = [name for name in corpus.carved if corpus.settings.get(f"{name}_fraction")
                 and splits[name]["texts" if labels is not None else "tokens"] == 0]
        notes = [f"the {name} split held out of {corpus.name} is empty: the text is too short, or has no line "
                 f"break or space where it would start, so train has no {name} figures (add text or line breaks, "
                 f"raise --{name}-fraction, or give a {name} file)" if labels is None else
                 f"the {name} split held out of {corpus.name} is empty: every class is too small to spare a text, so "
                 f"train has no {name} figures (add texts, or give a {name} file)" for name in empty]
        train = splits["train"]
        if train["unk"] > 0.2 * train["tokens"]:
            notes.append(f"{train['unk'] / train['tokens']:.0%} of the train split's tokens are <unk>: the vocabulary "
                         f"of {tokenizer.vocab_size:,} leaves out most of the text (lower --min-freq, or raise "
                         "--vocab-size)")
        save_tokenizer(tokenizer, tmp / TOKENIZER_FILE)
        seconds = time.perf_counter() - started
        meta = {
            "format_version": FORMAT_VERSION,
            "reader": READER,
            "task": task,
            "source": corpus.origin,
            "source_hash": source_hash,
            "settings": corpus.settings,
            "own_splits": corpus.own_splits,
            "tokenizer": spec_key(spec, task),
            "vocab_size": tokenizer.vocab_size,
            "dtype": dtype,
            "splits": splits,
            "labels": labels,
            "warnings": corpus.warnings + tokenizer.notes + notes + (label_warnings(labels) if labels else []),
            "seconds": round(seconds, 3),
            "skipped": [list(s) for s in corpus.report.skipped[:100]],
            "skipped_count": len(corpus.report.skipped),
        }
        atomic_write_json(tmp / META, meta)
        theirs = None if force else _same_data(out, meta, tmp)
        if theirs is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            return theirs
        if out.exists():
            for entry in out.iterdir():  # what the user keeps beside the data (notes, even the corpus) stays
                if not _ours(entry.name):
                    os.replace(entry, tmp / entry.name)
            shutil.rmtree(out)
        try:
            os.replace(tmp, out)
        except OSError:
            theirs = _same_data(out, meta, tmp)  # another process's rename came between ours and the rmtree
            if theirs is None:
                raise
            shutil.rmtree(tmp, ignore_errors=True)
            return theirs
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"could not write the prepared data to {out}: {err.strerror or err}",
                        "check free space and permissions, or pass another --out") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def _remove_stale_copies(out: Path) -> None:
    """Drop the half-written copies (.NAME.tmp-PID) beside ``out`` that a process killed mid-way (SIGKILL, a
    power cut) left, once that process is gone; a copy another live run is writing stays."""
    if os.name != "posix":  # os.kill(pid, 0) would end the process on Windows
        return
    for old in out.parent.glob(f".{glob.escape(out.name)}.tmp-*"):
        pid = old.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(old, ignore_errors=True)
        except OSError:  # alive, someone else's
            pass


def read_meta(folder: Path) -> dict[str, Any] | None:
    """The metadata of a prepared folder; None where there is none, or it cannot be read."""
    if not is_prepared(folder):
        return None
    try:
        meta = json.loads((Path(folder) / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _same_data(out: Path, meta: dict[str, Any], tmp: Path) -> dict[str, Any] | None:
    """The metadata of ``out`` where it holds what ``tmp`` (with ``meta``) holds: the same source, settings,
    tokenizer and format; else None."""
    theirs = read_meta(out)
    if theirs is None:
        return None
    keys = ("source_hash", "settings", "tokenizer", "format_version", "reader")
    if any(theirs.get(k) != meta.get(k) for k in keys) or _tokenizer_json(out) != _tokenizer_json(tmp):
        return None
    return theirs


def _ours(name: str) -> bool:
    """A file that a prepared folder is made of (and --overwrite replaces)."""
    return name in (META, TOKENIZER_FILE) or bool(re.fullmatch(r"(train|valid|test)\.(bin|offsets\.npy|labels\.npy)",
                                                                 name))


def _encode_split(split: Any, tokenizer: Tokenizer, path: Path, dtype: str, name: str,
                  progress: Progress | None) -> dict[str, int]:
    total = split.num_bytes()
    chars = tokens = unks = records = 0
    done = 0
    blank = True
    with path.open("wb") as fh:
        for chunk in split.texts():
            records += 1
            blank = blank and not chunk.strip()
            ids = tokenizer.encode(chunk)
            fh.write(ids.astype(dtype).tobytes())
            chars += len(chunk)
            tokens += len(ids)
            unks += int(np.count_nonzero(ids == UNK))
            done += len(chunk.encode("utf-8", "surrogatepass")) if total else 0
            if progress:
                progress(name, min(done, total), total)
        fh.flush()
        os.fsync(fh.fileno())
    info = {"chars": chars, "tokens": tokens, "unk": unks}
    if blank and chars:
        info["blank"] = True
    if hasattr(split, "records"):  # tables: each record is one text
        info["records"] = records
    return info


def ensure_prepared(corpus: Corpus, spec: TokenizerSpec, out: Path, task: str = "lm",
                    progress: Progress | None = None, tokenizer: Tokenizer | None = None
                    ) -> tuple[dict[str, Any], bool]:
    """Reuse ``out`` when it was built from the same content with the same settings."""
    meta = reusable(Path(out), corpus, spec, task, tokenizer)
    if meta is not None:
        return meta, True
    return prepare(corpus, spec, Path(out), task, progress, tokenizer), False


def reusable(out: Path, corpus: Corpus, spec: TokenizerSpec, task: str,
             tokenizer: Tokenizer | None = None) -> dict[str, Any] | None:
    """The metadata of ``out`` if it holds this corpus prepared with these settings, else None."""
    meta = read_meta(out)
    if meta is None:
        return None
    if meta.get("source_hash") != corpus.content_hash() or meta.get("settings") != corpus.settings \
            or meta.get("tokenizer") != spec_key(spec, task) or meta.get("format_version") != FORMAT_VERSION:
        return None
    # the tokenizer file is read only for a folder that matches on everything else
    if tokenizer is not None and not _same_tokenizer(out, tokenizer):
        return None
    return None if stale_reason(out, meta, marks=tokenizer is None) else meta


def stale_reason(folder: Path, meta: dict[str, Any], marks: bool = True) -> str | None:
    """What an older lstmtext got wrong in the prepared ``folder`` (whose metadata is ``meta``), or None: such a
    folder is prepared again, not reused. ``marks``: also look for a word tokenizer that cut marks out of words
    (not when the tokenizer is a language model's, given by --init-from, which must keep its cut)."""
    if marks and _cut_at_marks(folder):
        return "its word tokenizer cut combining marks (Hindi or Thai vowel signs, a decomposed accent) out of words"
    if meta.get("reader", 1) >= READER:
        return None
    saved = _tokenizer_json(folder)
    if isinstance(saved, dict) and any("\r" in t for t in saved.get("tokens", []) if isinstance(t, str)):
        return "it read Windows line ends (CRLF) as two characters"
    splits, settings = meta.get("splits", {}), meta.get("settings", {})
    if meta.get("task") == "lm" and splits.get("train", {}).get("tokens") and any(
            settings.get(f"{name}_fraction") and not splits.get(name, {}).get("tokens") for name in ("valid", "test")):
        return ("it held out no validation or test text" + (" from a UTF-16 folder's train file" if meta.get(
            "own_splits") else " from a text without line breaks"))
    return None


def _cut_at_marks(folder: Path) -> bool:
    """A word-level folder prepared before 12-04 whose text had combining marks (Hindi, Thai, a decomposed 'é'),
    which its tokenizer cut out of their words as tokens of their own: stale, so it is prepared again."""
    import unicodedata

    saved = _tokenizer_json(folder)
    if not isinstance(saved, dict) or saved.get("kind") != "word" or saved.get("keep_marks"):
        return False
    return any(len(t) == 1 and unicodedata.category(t)[0] == "M" for t in saved.get("tokens", []))


def _same_tokenizer(folder: Path, tokenizer: Tokenizer) -> bool:
    return _tokenizer_json(folder) == tokenizer.to_json()


def _tokenizer_json(folder: Path) -> Any:
    """The tokenizer file of a prepared folder or a run, parsed; None where it is missing or broken."""
    try:
        return json.loads((folder / TOKENIZER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ----------------------------------------------------------------------------- classification data


def one_line(text: str) -> str:
    """A classifier's text as it is encoded, in training and at inference alike: line breaks become spaces, the
    ends are stripped, and other whitespace is kept (a character-level model reads it)."""
    return text.replace("\r\n", " ").replace("\n", " ").strip()


def label_name(value: Any) -> str | None:
    """A label as text; None for missing values (empty, NaN, None)."""
    if value is None:
        return None
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        if value.is_integer():
            value = int(value)
    text = str(value).strip()
    if _WHOLE_NUMBER.fullmatch(text):  # '1.0' in a CSV is the 1 of another row, as a JSON or parquet 1.0 is
        text = text.split(".")[0]
    return text or None


_WHOLE_NUMBER = re.compile(r"-?\d+\.0+")


def _label_order(names: set[str]) -> list[str]:
    try:
        return sorted(names, key=lambda n: float(n))
    except ValueError:
        return sorted(names)


def collect_labels(corpus: Corpus) -> list[str]:
    """The label names of the train split, numerically sorted when they are numbers."""
    names = set()
    for _, label, _, _ in corpus.splits["train"].records():
        name = label_name(label)
        if name is not None:
            names.add(name)
    if len(names) < 2:
        what = f"only one class, {next(iter(names))!r}," if names else "no labels"
        raise UserError(f"the train split of {corpus.name} has {what} in column {corpus.label_column!r}",
                        "a classifier needs at least two labels")
    return _label_order(names)


def short_list(names: list[str], most: int = 10) -> str:
    """The first ``most`` names, and how many more ("a, b, c and 57 more")."""
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most:,} more" if len(names) > most else "")


def label_warnings(labels: list[str]) -> list[str]:
    """Labels that differ only in case, inner spacing or how their characters are written ('Positive',
    'positive'; 'négatif' composed and decomposed; 'pos' with a zero-width space): likely one class written two
    ways, which the classifier would learn as two."""
    import unicodedata

    from lstmtext.render import visible_repr

    groups: dict[str, list[str]] = {}
    for name in labels:
        seen = "".join(c for c in unicodedata.normalize("NFKC", name) if unicodedata.category(c) != "Cf")
        groups.setdefault(" ".join(seen.casefold().split()), []).append(name)
    return [f"labels {', '.join(visible_repr(n) for n in names)} differ only in case, spacing or how their "
            "characters are written; they are separate classes (fix the corpus if they are one)"
            for names in groups.values() if len(names) > 1]


def _encode_records(split: Any, tokenizer: Tokenizer, folder: Path, name: str, dtype: str,
                    labels: list[str], progress: Progress | None = None) -> dict[str, Any]:
    """Token ids of every text back to back, plus offsets and label ids (all memory-mappable); ``progress``
    hears of the records read every ``RECORDS_EVERY`` (their number is not known before)."""
    index = {n: i for i, n in enumerate(labels)}
    offsets = array("q", [0])  # compact C arrays: millions of texts cost 12 bytes each, not Python objects
    label_ids = array("i")
    chars = unks = 0
    empty = 0
    unknown: dict[str, int] = {}
    read = 0
    with (folder / f"{name}.bin").open("wb") as fh:
        for text, label, path, line in (split.records() if split is not None else ()):
            read += 1
            if progress and read % RECORDS_EVERY == 0:
                progress(name, read, 0)
            lab = label_name(label)
            if lab is None:
                split.report.skip(path, line, "missing label")
                continue
            if lab not in index:
                unknown[lab] = unknown.get(lab, 0) + 1
                continue
            text = one_line(text)
            if not text:
                empty += 1
                split.report.skip(path, line, "empty text")
                continue
            ids = tokenizer.encode(text)
            fh.write(ids.astype(dtype).tobytes())
            offsets.append(offsets[-1] + len(ids))
            label_ids.append(index[lab])
            chars += len(text)
            unks += int(np.count_nonzero(ids == UNK))
    if progress and split is not None:
        progress(name, read, 0)
    if unknown:
        shown = ", ".join(sorted(unknown)[:10])
        raise UserError(f"the {name} split has labels the train split does not have: {shown}",
                        f"known labels: {short_list(labels)}")
    np.save(folder / f"{name}.offsets.npy", np.frombuffer(offsets, dtype=np.int64))
    np.save(folder / f"{name}.labels.npy", np.frombuffer(label_ids, dtype=np.int32))
    counts = np.bincount(np.frombuffer(label_ids, dtype=np.int32), minlength=len(labels)).tolist()
    return {"chars": chars, "tokens": offsets[-1], "unk": unks, "texts": len(label_ids), "empty": empty,
            "label_counts": counts}


@dataclass
class Prepared:
    """An opened prepared folder: its metadata, tokenizer and token memmaps."""

    path: Path
    meta: dict[str, Any]
    tokenizer: Tokenizer

    @classmethod
    def open(cls, path: Path) -> Prepared:
        path = Path(path)
        meta = read_json(path / META, "the prepared folder's metadata")
        if meta.get("format_version") != FORMAT_VERSION:
            raise UserError(f"{path / META}: unknown prepared-data format {meta.get('format_version')!r}",
                            "run lstmtext tokenize again")
        splits, labels = meta.get("splits"), meta.get("labels")
        if not (isinstance(splits, dict) and all(isinstance(splits.get(s), dict) and isinstance(
                splits[s].get("tokens"), int) for s in SPLITS) and meta.get("dtype") in ("uint16", "uint32")
                and (meta.get("task") != "classify" or isinstance(labels, list) and len(labels) >= 2)):
            raise UserError(f"{path / META} lacks the splits, token type or labels a prepared folder has",
                            "the prepared folder is damaged; run lstmtext tokenize again")
        tokenizer = load_tokenizer(path / TOKENIZER_FILE)
        if tokenizer.vocab_size != meta.get("vocab_size"):
            raise UserError(f"{path}: tokenizer and meta.json disagree on the vocabulary size",
                            "run lstmtext tokenize again")
        return cls(path, meta, tokenizer)

    @classmethod
    def of_run(cls, run_dir: Path, data: dict[str, Any], hint: str) -> Prepared:
        """The prepared folder a run trained on (``data``: its config's "data"), checked to hold that data still:
        the same source, split settings and tokenizer. The folder is a cache that a later run on an edited corpus,
        or with another tokenizer, rebuilds in place; read as this run's, it would feed its model other texts, or
        the ids of another vocabulary. ``hint`` says what to do instead."""
        stored = Path(data["prepared"])
        tried = [Path(data["prepared_abs"])] if data.get("prepared_abs") else []
        tried.append(stored)
        if not stored.is_absolute():  # a project moved or copied elsewhere, used from outside it: the path as
            # written, from the folders above the run (checkpoints/prepared/X beside checkpoints/RUN)
            tried += [parent / stored for parent in Path(run_dir).resolve().parents]
        folder = next((f for f in tried if is_prepared(f)), None)
        if folder is None:
            where = stored if len(tried) < 3 else f"{stored}, looked for here and above {run_dir}"
            raise UserError(f"the run's prepared data ({where}) is gone", hint)
        prepared = cls.open(folder)
        run_tokenizer = _tokenizer_json(Path(run_dir))
        if prepared.meta.get("source_hash") != data["source_hash"] or (
                "settings" in data and prepared.meta.get("settings") != data["settings"]) or (
                run_tokenizer is not None and prepared.tokenizer.to_json() != run_tokenizer):
            raise UserError(f"{folder} no longer holds the data {run_dir} was trained on (it was prepared again "
                            "since, from an edited corpus or with other settings)", hint)
        return prepared

    @property
    def level(self) -> str:
        return str(self.meta["tokenizer"]["level"])

    def tokens(self, split: str) -> np.ndarray:
        file = self.path / f"{split}.bin"
        expected = int(self.meta["splits"][split]["tokens"])
        if expected == 0:
            return np.zeros(0, dtype=self.meta["dtype"])
        size = file.stat().st_size if file.exists() else -1
        width = np.dtype(self.meta["dtype"]).itemsize
        if size != expected * width:
            raise UserError(f"{file} holds {max(size, 0)} bytes, meta.json expects {expected * width}",
                            "the prepared folder is damaged; run lstmtext tokenize again")
        return np.memmap(file, dtype=self.meta["dtype"], mode="r")

    @property
    def labels(self) -> list[str]:
        return list(self.meta.get("labels") or [])

    def records(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tokens, offsets, label ids) of a classification split; text i is tokens[off[i]:off[i+1]]."""
        damaged = "the prepared folder is damaged; run lstmtext tokenize again"
        try:
            offsets = np.load(self.path / f"{split}.offsets.npy", mmap_mode="r")
            labels = np.load(self.path / f"{split}.labels.npy", mmap_mode="r")
        except (OSError, ValueError, EOFError) as err:
            raise UserError(f"{self.path}: the {split} split's offsets or labels cannot be read "
                            f"({getattr(err, 'strerror', None) or err})", damaged) from None
        tokens = self.tokens(split)
        if offsets.ndim != 1 or labels.ndim != 1 or len(offsets) != len(labels) + 1 or offsets[-1] != len(tokens):
            raise UserError(f"{self.path}: the {split} split's offsets, labels and tokens disagree", damaged)
        if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < len(self.labels):
            raise UserError(f"{self.path}: the {split} split has label ids beyond the {len(self.labels)} labels of "
                            "meta.json", damaged)
        return tokens, offsets, labels

    def cut_texts(self, split: str, max_length: int, limit: int | None = None) -> tuple[list[np.ndarray], np.ndarray]:
        """A classification split's texts as token ids, each cut to ``max_length`` as the model reads it, and
        their label ids: the first ``limit`` texts, or all."""
        tokens, offsets, labels = self.records(split)
        n = len(labels) if limit is None else min(limit, len(labels))
        seqs = [np.asarray(tokens[offsets[i]:min(offsets[i + 1], offsets[i] + max_length)]) for i in range(n)]
        return seqs, np.asarray(labels[:n], dtype=np.int64)
