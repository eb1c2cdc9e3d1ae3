"""Prepared data folders: token ids in flat memmaps, written once (encode.py writes each split) and read at no
cost (batches.py cuts them).

A prepared folder holds `meta.json`, `tokenizer.json` and `train.bin`/`valid.bin`/`test.bin`
(uint16 when the vocabulary fits, else uint32). It is written under a temporary name and
renamed, and reused when the corpus's content hash and the tokenizer settings match.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from shlex import quote
from typing import Any

import numpy as np

from lstmtext.checkpoint import atomic_write_json, read_json
from lstmtext.config import TokenizerSpec, to_dict
from lstmtext.corpus import Corpus
from lstmtext.encode import Progress, encode_records, encode_split
from lstmtext.errors import UserError
from lstmtext.labels import collect_labels, label_warnings
from lstmtext.splits import SPLITS
from lstmtext.tables import in_file_order
from lstmtext.tokenizers import FILENAME as TOKENIZER_FILE
from lstmtext.tokenizers import Tokenizer, build_tokenizer, load_tokenizer, save_tokenizer

FORMAT_VERSION = 1
# what the corpus reader does, in meta.json since 12-04: 2 reads Windows line ends (CRLF) as '\n' and gives a text of
# one long line its held-out splits; 3 (12-07) holds a split out of a UTF-16 folder's train file where the folder has
# no file for it; 4 (12-07) reads old Mac line ends (a lone CR) as '\n' too; a folder that an older reader got
# wrong is prepared again (stale_reason)
READER = 4
META = "meta.json"


def _dtype_for(vocab_size: int) -> str:
    return "uint16" if vocab_size <= np.iinfo(np.uint16).max + 1 else "uint32"


def spec_key(spec: TokenizerSpec, task: str) -> dict[str, Any]:
    return {**to_dict(spec), "task": task}


VOCABULARY = "vocabulary"  # the progress callback's name for building the tokenizer, before the splits are encoded
MOSTLY_UNK = 0.2  # a train split's share of <unk> that preparing warns of


def is_prepared(path: Path) -> bool:
    """A folder tokenize wrote: its meta.json and tokenizer.json, or a meta.json of ours alone (the folder is then
    damaged, and said to be: not read as a corpus, nor refused as another program's folder)."""
    path = Path(path)
    if path.name and path.name not in (".", ".."):  # what a run killed mid-swap set aside: put back first
        _remove_stale_copies(path)
    if not (path / META).is_file():  # a tokenizer and token ids without their meta.json: ours, damaged
        return (path / TOKENIZER_FILE).is_file() and (path / "train.bin").is_file() \
            and not (path / "config.json").exists()
    if (path / TOKENIZER_FILE).is_file():
        return True
    try:
        meta = json.loads((path / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and "format_version" in meta and "splits" in meta and "tokenizer" in meta


def damage(folder: Path, meta: dict[str, Any]) -> str | None:
    """What is missing or cut short in a prepared folder, as "its train.bin is missing", from the files' sizes
    (nothing is read); None where nothing is."""
    folder = Path(folder)
    if not (folder / TOKENIZER_FILE).is_file():
        return f"its {TOKENIZER_FILE} is missing"
    saved = _tokenizer_json(folder)
    if not isinstance(saved, dict) or "kind" not in saved:
        return f"its {TOKENIZER_FILE} is not a tokenizer's"
    if meta.get("format_version") != FORMAT_VERSION:
        return f"its {META} is of another format ({meta.get('format_version')!r})"
    counts = [meta.get("vocab_size")] + [(meta.get("splits") or {}).get(name, {}).get("tokens")
                                         if isinstance((meta.get("splits") or {}).get(name), dict) else None
                                         for name in SPLITS]
    if meta.get("dtype") not in ("uint16", "uint32") or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts) or not counts[0]:
        return f"its {META} lacks the splits, the vocabulary size or the token type, or they are not counts"
    width = np.dtype(meta["dtype"]).itemsize
    sizes = {name: int(meta["splits"][name]["tokens"]) * width for name in SPLITS}
    for name, expected in sizes.items():
        files = [f"{name}.bin"] + ([f"{name}.offsets.npy", f"{name}.labels.npy"] if meta.get("task") == "classify"
                                   else [])
        for file in files if expected else []:
            if not (folder / file).is_file():
                return f"its {file} is missing"
        size = (folder / f"{name}.bin").stat().st_size if expected else 0
        if size != expected:
            return f"its {name}.bin holds {size:,} bytes of the {expected:,} it should"
    return None


def tokenize_command(source: str, tokenizer: dict[str, Any], settings: dict[str, Any], folder: Path,
                     overwrite: bool = True) -> str:
    """The command that prepares ``folder`` again as it was prepared: its corpus (as recorded, or CORPUS where
    that is not a path from here), task, level and settings (those of meta.json, or of a run's config.json)."""
    flags = ["lstmtext", "tokenize", quote(source) if source and Path(source).exists() else "CORPUS"]
    if tokenizer.get("task") == "classify":
        flags += ["--task", "classify"]
    level = tokenizer.get("level", "char")
    flags += ["--level", str(level)]
    if tokenizer.get("vocab_size") is not None:
        flags += ["--vocab-size", str(tokenizer["vocab_size"])]
    if tokenizer.get("lowercase"):
        flags.append("--lowercase")
    if tokenizer.get("min_freq", 1) != 1:
        flags += ["--min-freq", str(tokenizer["min_freq"])]
    if level == "word" and tokenizer.get("word_split", "punct") != "punct":
        flags += ["--word-split", str(tokenizer["word_split"])]
    for key, flag in (("text_column", "--text-column"), ("label_column", "--label-column")):
        if settings.get(key) is not None:
            flags += [flag, quote(str(settings[key]))]
    if settings.get("encoding", "utf-8") != "utf-8":
        flags += ["--encoding", str(settings["encoding"])]
    for name in ("valid", "test"):
        if settings.get(f"{name}_fraction", 0.05) != 0.05:
            flags += [f"--{name}-fraction", f"{settings[f'{name}_fraction']:g}"]
    if settings.get("split_seed", 0) != 0:
        flags += ["--split-seed", str(settings["split_seed"])]
    flags += ["--out", quote(str(folder))] + (["--overwrite"] if overwrite else [])
    return " ".join(flags)


def source_shown(name: Any, path: Any) -> str:
    """A corpus as a command names it: where it was read (relative to the working folder where it is inside it),
    else its name as recorded (folders prepared before the path was kept)."""
    if path and Path(path).exists():
        try:
            return str(Path(path).relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(path)
    return str(name or "")


def prepare_again(folder: Path, meta: dict[str, Any]) -> str:
    """The hint for a damaged prepared folder: the command that prepares it again."""
    if not isinstance(meta.get("tokenizer"), dict):  # the settings are lost with the rest
        return (f"prepare it again: lstmtext tokenize CORPUS --out {quote(str(folder))} --overwrite, with the settings "
                "it had")
    source = source_shown(meta.get("source"), meta.get("source_path"))
    if meta.get("vocabulary_given"):  # a language model's vocabulary (train --init-from): its train makes it again
        task = " --task classify" if (meta.get("tokenizer") or {}).get("task") == "classify" else ""
        return (f"prepare it again as it was made: lstmtext train {quote(source) if source else 'CORPUS'}{task} "
                "--init-from MODEL, the language model its run started from (lstmtext info RUN names it); tokenize "
                "would build another vocabulary")
    command = tokenize_command(source, meta.get("tokenizer") or {}, meta.get("settings") or {}, folder)
    return "prepare it again: " + command + ("" if " CORPUS " not in command else f" (its corpus was {source})")


def mismatch(meta: dict[str, Any], corpus: Corpus, spec: TokenizerSpec, task: str) -> str | None:
    """How a prepared folder's data differs from ``corpus`` read with these settings, in words (the first
    difference, as the flag that makes it: "it was prepared with --level word, not char"); None where it does not."""
    def shown(value: Any) -> str:
        return "on" if value is True else "off" if value is False else "unset" if value is None else f"{value}"

    theirs, ours = meta.get("tokenizer") or {}, spec_key(spec, task)
    if meta.get("format_version") != FORMAT_VERSION:
        return "it was prepared in another format"
    if theirs.get("task") != task:
        return f"it was prepared for a {'classifier' if theirs.get('task') == 'classify' else 'language model'}"
    for key in ("level", "vocab_size", "lowercase", "min_freq", "word_split"):
        if theirs.get(key) != ours.get(key):
            flag = f"--{key.replace('_', '-')}"
            return f"it was prepared with {flag} {shown(theirs.get(key))}, not {shown(ours.get(key))}"
    settings = meta.get("settings") or {}
    for key in [*corpus.settings, *(k for k in settings if k not in corpus.settings)]:
        if settings.get(key) != corpus.settings.get(key):
            what = "a label layout" if key == "layout" else f"--{key.replace('_', '-')}"
            return f"it was prepared with {what} {shown(settings.get(key))}, not {shown(corpus.settings.get(key))}"
    if meta.get("source_hash") != corpus.content_hash():
        return f"it was prepared from {meta.get('source')}" + (", which has changed since" if meta.get("source") ==
                                                               corpus.origin else "")
    return None


def _shared_texts(hashes: dict[str, Any], splits: dict[str, Any]) -> list[str]:
    """A note for each held-out split with 1% or more of its texts in train word for word (duplicate rows, split
    apart by the hold-out or by the source's own files): its figures then overstate how the model does on new
    text."""
    seen = np.frombuffer(hashes["train"], dtype=np.int64)
    notes = []
    for name in SPLITS[1:]:
        held = np.frombuffer(hashes[name], dtype=np.int64)
        shared = int(np.isin(held, seen).sum()) if len(held) and len(seen) else 0
        if shared and shared >= 0.01 * len(held):  # a stray common phrase or two aside (SST-2 test has 2 of 1,821)
            notes.append(f"{shared:,} of the {len(held):,} {name} texts ({shared / len(held):.0%}) are in train too, "
                         f"word for word, so the {name} figures overstate how the model does on new text (drop "
                         "repeated rows, keeping one of each, to measure that)")
    return notes


def prepare(corpus: Corpus, spec: TokenizerSpec, out: Path, task: str = "lm",
            progress: Progress | None = None, tokenizer: Tokenizer | None = None, force: bool = False
            ) -> dict[str, Any]:
    """Build the tokenizer on the train split (unless given), then encode every split to disk in chunks. Where
    another process (a second run started at once) has written the same data to ``out`` meanwhile, that is kept
    and this copy dropped, unless ``force`` (tokenize --overwrite)."""
    started = time.perf_counter()
    source_hash = corpus.content_hash()
    labels = collect_labels(corpus) if task == "classify" else None
    given = tokenizer is not None  # --init-from's: its vocabulary is fixed, so the hint for many <unk> differs
    if tokenizer is None:  # (seconds to a minute for SentencePiece on a large text: a bar of its own says so)
        if progress is not None:
            progress(VOCABULARY, 0, 0)
        tokenizer = build_tokenizer(corpus.splits["train"].texts(), spec)
        if progress is not None:
            progress(VOCABULARY, 1, 1)
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
        hashes = {name: array("q") for name in SPLITS}
        for name in SPLITS:
            if labels is not None:
                splits[name] = encode_records(corpus.splits.get(name), tokenizer, tmp, name, dtype, labels,
                                              progress, hashes[name])
            else:
                splits[name] = encode_split(corpus.splits[name], tokenizer, tmp / f"{name}.bin", dtype, name,
                                            progress)
        if labels is not None and splits["train"]["texts"] == 0:
            raise UserError(f"the train split of {corpus.name} has no non-empty texts "
                            f"({splits['train']['empty']} empty)", "check --text-column")
        if splits["train"].get("blank"):
            where = f" in column {corpus.text_column!r}" if corpus.text_column else ""
            raise UserError(f"the train split of {corpus.name} holds only whitespace{where}",
                            "check the file" + (" or --text-column" if corpus.text_column else ""))
        if splits["train"]["tokens"] < 2:
            carved = [f"--{name}-fraction 0" for name in corpus.carved if corpus.settings.get(f"{name}_fraction")]
            raise UserError(f"the train split of {corpus.name} is empty after tokenizing",
                            "give more text" + (f", or pass {' '.join(carved)} to train on all of it: a held-out "
                                                "part starts at a line break or space, so a short text can leave "
                                                "train nothing" if carved else ""))
        empty = [name for name in corpus.carved if corpus.settings.get(f"{name}_fraction")
                 and splits[name]["texts" if labels is not None else "tokens"] == 0]
        notes = [f"the {name} split held out of {corpus.name} is empty: the text is too short, or has no line "
                 f"break or space where it would start, so train has no {name} figures (add text or line breaks, "
                 f"raise --{name}-fraction, or give a {name} file)" if labels is None else
                 f"the {name} split held out of {corpus.name} is empty: every class is too small to spare a text, so "
                 f"train has no {name} figures (add texts, or give a {name} file)" for name in empty]
        unit, few = ("texts", 20) if labels is not None else ("tokens", 100)
        small = [name for name in SPLITS[1:] if 0 < splits[name][unit] < few]
        notes += [f"the {name} split holds only {splits[name][unit]:,} {unit[:-1] if splits[name][unit] == 1 else unit}"
                  ", so its figures will mean little"
                  + (f" (give more text, or a larger --{name}-fraction)" if name in corpus.carved else "")
                  for name in small]
        notes += _shared_texts(hashes, splits) if labels is not None else []
        if labels is not None and 2 * len(labels) > splits["train"]["texts"]:  # a text column read as the label
            notes.append(f"{len(labels):,} labels for {splits['train']['texts']:,} training texts: most labels have "
                         "a text or two, too few to learn (is the label what it should be?)")
        train = splits["train"]
        if train["unk"] > MOSTLY_UNK * train["tokens"]:
            notes.append(f"{train['unk'] / train['tokens']:.0%} of the train split's tokens are <unk>: the vocabulary "
                         f"of {tokenizer.vocab_size:,} leaves out most of the text " + (
                             "(it is the --init-from model's: --extend-vocab adds this text's tokens at char or word "
                             "level, or pretrain on text like this)" if given else
                             "(lower --min-freq, or raise --vocab-size)"))
        save_tokenizer(tokenizer, tmp / TOKENIZER_FILE)
        seconds = time.perf_counter() - started
        meta = {
            "format_version": FORMAT_VERSION,
            "reader": READER,
            "task": task,
            "source": corpus.origin,
            "source_path": corpus.path,  # where it was read, absolute: evaluate knows the run's own files by it
            "source_hash": source_hash,
            "settings": corpus.settings,
            "own_splits": corpus.own_splits,
            "tokenizer": spec_key(spec, task),
            "vocab_size": tokenizer.vocab_size,
            "dtype": dtype,
            "splits": splits,
            "labels": labels,
            "warnings": corpus.warnings + tokenizer.notes + notes + (label_warnings(labels) if labels else []),
            # those of them that reading the source gave (files left out of a folder): a reuse, which reads the
            # source's listing again, gives its own in their place
            "read_warnings": list(corpus.warnings),
            "vocabulary_given": given,  # --init-from's, not built from this text: tokenize cannot make it again
            "seconds": round(seconds, 3),
            "skipped": [list(s) for s in in_file_order(corpus.report.skipped)[:100]],  # not the splits' order
            "skipped_count": len(corpus.report.skipped),
        }
        atomic_write_json(tmp / META, meta)
        theirs = None if force else _same_data(out, meta, tmp)
        if theirs is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            return theirs
        try:
            meta["warnings"] = meta["warnings"] + _swap_in(tmp, out)  # (said now; meta.json is written)
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


def _swap_in(tmp: Path, out: Path) -> list[str]:
    """Put the new data (``tmp``) in the place of ``out``, keeping what the user keeps beside the data there
    (notes, even the corpus). The old folder is set aside whole (.NAME.old-PID, a name no other folder has) until
    the new one is in place, and its other files are moved over before it goes: a failure or a kill at any point
    loses none of them, and a later run moves back what a killed one left there (_remove_stale_copies). Returns
    the warnings of files that could not be moved back (they are named where they stay)."""
    if not out.exists():
        os.replace(tmp, out)
        return []
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    for n in range(1, 1000):  # one a killed process of the same id left (a container's PID 1) is not ours to drop
        if not os.path.lexists(old):
            break
        old = out.with_name(f".{out.name}.old-{os.getpid()}.{n}")
    os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        try:
            os.replace(old, out)
        except OSError:  # another run's data came in meanwhile: the user's files go into it
            if out.is_dir():
                _move_back(old, out)
        raise
    return _move_back(old, out)


def _move_back(old: Path, out: Path) -> list[str]:
    """Move the user's own files of a folder set aside (``old``) into the new ``out``, each as it can be; drop
    ``old`` once none is left in it. Returns a warning naming those that stay, and where."""
    stuck = []
    for entry in list(old.iterdir()):
        if _ours(entry.name):
            continue
        try:
            if os.path.lexists(out / entry.name):
                raise FileExistsError
            os.replace(entry, out / entry.name)
        except OSError:  # held open (Windows), or a name the new folder has: it stays, and is named
            stuck.append(entry.name)
    if stuck:
        return [f"could not move {', '.join(stuck)} back into {out} from the old folder: they are in {old}"]
    shutil.rmtree(old, ignore_errors=True)
    return []


_LEFT = re.compile(r"(tmp|old)-(\d+)(?:\.\d+)?")  # .NAME.tmp-PID, .NAME.old-PID or .NAME.old-PID.N


def _remove_stale_copies(out: Path) -> None:
    """Clear up after a process killed mid-way (SIGKILL, a power cut), once it is gone: drop its half-written
    copy (.NAME.tmp-PID), and put back what it had set aside (.NAME.old-PID): the old folder itself if no new one
    took its place, else the user's files in it. A copy another live run is writing stays; a folder set aside under
    this process's own id is a killed one's (this one sets its own aside after this, and puts it back)."""
    if os.name != "posix":  # os.kill(pid, 0) would end the process on Windows
        return
    for left in sorted(out.parent.glob(f".{glob.escape(out.name)}.*-*")):
        match = _LEFT.fullmatch(left.name[len(out.name) + 2:])
        if match is None:
            continue
        kind, pid = match.group(1), int(match.group(2))
        if pid == os.getpid():
            if kind == "tmp":
                continue
        else:
            try:
                os.kill(pid, 0)
                continue  # alive, someone else's
            except ProcessLookupError:
                pass
            except OSError:
                continue
        if kind == "tmp":
            shutil.rmtree(left, ignore_errors=True)
            continue
        try:
            if os.path.lexists(out):
                _move_back(left, out)
            else:
                os.replace(left, out)
        except OSError:
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
    if any(theirs.get(k) != meta.get(k) for k in keys) or _tokenizer_json(out) != _tokenizer_json(tmp) \
            or damage(out, theirs) is not None:
        return None
    return theirs


def _ours(name: str) -> bool:
    """A file that a prepared folder is made of (and --overwrite replaces)."""
    return name in (META, TOKENIZER_FILE) or bool(re.fullmatch(r"(train|valid|test)\.(bin|offsets\.npy|labels\.npy)",
                                                                 name))


def ensure_prepared(corpus: Corpus, spec: TokenizerSpec, out: Path, task: str = "lm",
                    progress: Progress | None = None, tokenizer: Tokenizer | None = None
                    ) -> tuple[dict[str, Any], bool]:
    """Reuse ``out`` when it was built from the same content with the same settings."""
    _remove_stale_copies(Path(out))
    meta = reusable(Path(out), corpus, spec, task, tokenizer)
    if meta is not None:
        return meta, True
    return prepare(corpus, spec, Path(out), task, progress, tokenizer), False


def reusable(out: Path, corpus: Corpus, spec: TokenizerSpec, task: str,
             tokenizer: Tokenizer | None = None) -> dict[str, Any] | None:
    """The metadata of ``out`` if it holds this corpus prepared with these settings, else None."""
    meta = read_meta(out)
    if meta is None or mismatch(meta, corpus, spec, task) is not None or damage(out, meta) is not None:
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
        return "it read Windows (CRLF) or old Mac (CR) line ends as characters"
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


@dataclass
class Prepared:
    """An opened prepared folder: its metadata, tokenizer and token memmaps."""

    path: Path
    meta: dict[str, Any]
    tokenizer: Tokenizer

    @classmethod
    def open(cls, path: Path) -> Prepared:
        path = Path(path)
        if not (path / META).is_file():
            raise UserError(f"{path} is a damaged prepared folder: its {META} is missing",
                            f"prepare it again: lstmtext tokenize CORPUS --out {quote(str(path))} --overwrite, with "
                            "the settings it had")
        meta = read_json(path / META, "the prepared folder's metadata")
        if meta.get("format_version") != FORMAT_VERSION:
            raise UserError(f"{path / META}: unknown prepared-data format {meta.get('format_version')!r}",
                            prepare_again(path, meta))
        splits, labels = meta.get("splits"), meta.get("labels")
        if not (isinstance(splits, dict) and all(isinstance(splits.get(s), dict) and isinstance(
                splits[s].get("tokens"), int) for s in SPLITS) and meta.get("dtype") in ("uint16", "uint32")
                and (meta.get("task") != "classify" or isinstance(labels, list) and len(labels) >= 2)):
            raise UserError(f"{path / META} lacks the splits, token type or labels a prepared folder has",
                            prepare_again(path, meta))
        broken = damage(path, meta)
        if broken is not None:
            raise UserError(f"{path} is a damaged prepared folder: {broken}", prepare_again(path, meta))
        tokenizer = load_tokenizer(path / TOKENIZER_FILE)
        if tokenizer.vocab_size != meta.get("vocab_size"):
            raise UserError(f"{path}: tokenizer and meta.json disagree on the vocabulary size",
                            prepare_again(path, meta))
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
                            prepare_again(self.path, self.meta))
        return np.memmap(file, dtype=self.meta["dtype"], mode="r")

    @property
    def labels(self) -> list[str]:
        return list(self.meta.get("labels") or [])

    def records(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tokens, offsets, label ids) of a classification split; text i is tokens[off[i]:off[i+1]]."""
        damaged = prepare_again(self.path, self.meta)
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
