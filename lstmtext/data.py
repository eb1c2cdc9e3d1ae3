"""Prepared data folders (token ids in flat memmaps) and the batches cut from them.

A prepared folder holds `meta.json`, `tokenizer.json` and `train.bin`/`valid.bin`/`test.bin`
(uint16 when the vocabulary fits, else uint32). It is written under a temporary name and
renamed, and reused when the corpus's content hash and the tokenizer settings match.
"""

from __future__ import annotations

import json
import os
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
META = "meta.json"
Progress = Callable[[str, int, int], None]  # (split, bytes done, bytes total)


def _dtype_for(vocab_size: int) -> str:
    return "uint16" if vocab_size <= np.iinfo(np.uint16).max + 1 else "uint32"


def spec_key(spec: TokenizerSpec, task: str) -> dict[str, Any]:
    return {**to_dict(spec), "task": task}


def is_prepared(path: Path) -> bool:
    return (Path(path) / META).is_file() and (Path(path) / TOKENIZER_FILE).is_file()


def prepare(corpus: Corpus, spec: TokenizerSpec, out: Path, task: str = "lm",
            progress: Progress | None = None) -> dict[str, Any]:
    """Build the tokenizer on the train split, then encode every split to disk in chunks."""
    started = time.perf_counter()
    source_hash = corpus.content_hash()
    tokenizer = build_tokenizer(corpus.splits["train"].texts(), spec)
    dtype = _dtype_for(tokenizer.vocab_size)
    out = Path(out)
    if out.exists() and not is_prepared(out):
        raise UserError(f"{out} exists and is not a prepared-data folder", "pass another --out or remove it")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
    except OSError as err:
        raise UserError(f"could not create {out}: {err.strerror}", "check the --out path and permissions") from None
    try:
        splits = {}
        for name in SPLITS:
            splits[name] = _encode_split(corpus.splits[name], tokenizer, tmp / f"{name}.bin", dtype, name, progress)
        if splits["train"]["tokens"] < 2:
            raise UserError(f"the train split of {corpus.name} is empty after tokenizing",
                            "give a larger corpus or lower --valid-fraction/--test-fraction")
        save_tokenizer(tokenizer, tmp / TOKENIZER_FILE)
        seconds = time.perf_counter() - started
        meta = {
            "format_version": FORMAT_VERSION,
            "task": task,
            "source": corpus.origin,
            "source_hash": source_hash,
            "own_splits": corpus.own_splits,
            "tokenizer": spec_key(spec, task),
            "vocab_size": tokenizer.vocab_size,
            "dtype": dtype,
            "splits": splits,
            "seconds": round(seconds, 3),
            "skipped": [list(s) for s in corpus.report.skipped[:100]],
            "skipped_count": len(corpus.report.skipped),
        }
        atomic_write_json(tmp / META, meta)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def _encode_split(split: Any, tokenizer: Tokenizer, path: Path, dtype: str, name: str,
                  progress: Progress | None) -> dict[str, int]:
    total = split.num_bytes()
    chars = tokens = unks = 0
    done = 0
    with path.open("wb") as fh:
        for chunk in split.texts():
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
    return {"chars": chars, "tokens": tokens, "unk": unks}


def ensure_prepared(corpus: Corpus, spec: TokenizerSpec, out: Path, task: str = "lm",
                    progress: Progress | None = None) -> tuple[dict[str, Any], bool]:
    """Reuse ``out`` when it was built from the same content with the same settings."""
    out = Path(out)
    if is_prepared(out):
        try:
            meta = json.loads((out / META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        if meta.get("source_hash") == corpus.content_hash() and meta.get("tokenizer") == spec_key(spec, task) \
                and meta.get("format_version") == FORMAT_VERSION:
            return meta, True
    return prepare(corpus, spec, out, task, progress), False


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
        tokenizer = load_tokenizer(path / TOKENIZER_FILE)
        if tokenizer.vocab_size != meta.get("vocab_size"):
            raise UserError(f"{path}: tokenizer and meta.json disagree on the vocabulary size",
                            "run lstmtext tokenize again")
        return cls(path, meta, tokenizer)

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


class LMBatches:
    """Contiguous streams for truncated BPTT, as in PyTorch's word_language_model.

    The token array is cut into ``batch_size`` equal streams laid side by side; batch ``i``
    is columns ``[i*seq_len, (i+1)*seq_len)`` of every stream, and its targets are shifted by
    one. Consecutive batches continue each stream, so the LSTM state can be carried across them.
    """

    def __init__(self, tokens: np.ndarray, batch_size: int, seq_len: int, drop_last: bool = True) -> None:
        per_stream = len(tokens) // batch_size
        if per_stream < 2:
            raise UserError(f"only {len(tokens)} tokens: too few for --batch-size {batch_size}",
                            "lower --batch-size or give more text")
        self.streams = tokens[: per_stream * batch_size].reshape(batch_size, per_stream)
        self.seq_len = seq_len
        usable = per_stream - 1
        self.count = usable // seq_len if drop_last else -(-usable // seq_len)
        if self.count == 0:
            self.count, self.seq_len = 1, usable
        self.batch_size = batch_size

    def __len__(self) -> int:
        return self.count

    @property
    def tokens_per_batch(self) -> int:
        return self.batch_size * self.seq_len

    def get(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        start = i * self.seq_len
        end = min(start + self.seq_len, self.streams.shape[1] - 1)
        x = np.asarray(self.streams[:, start:end], dtype=np.int64)
        y = np.asarray(self.streams[:, start + 1: end + 1], dtype=np.int64)
        return x, y
