"""Writing a split's token ids: a text split's chunks back to back, or a classifier's texts with their
offsets and label ids, each file fsynced, with counts of what was read for meta.json."""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lstmtext.errors import UserError
from lstmtext.labels import label_name, one_line, short_list
from lstmtext.tables import place
from lstmtext.tokenizers import UNK, Tokenizer, settled_chunks

# (split, done, total): bytes of a text split read so far and in all; for a table's records, records read and 0
Progress = Callable[[str, int, int], None]
RECORDS_EVERY = 512  # records between two progress reports (a report costs microseconds, a record about 10)


def encode_split(split: Any, tokenizer: Tokenizer, path: Path, dtype: str, name: str,
                 progress: Progress | None) -> dict[str, int]:
    total = split.num_bytes()
    chars = tokens = unks = records = 0
    done = 0
    blank = True
    # a tokenizer that normalises the text gets its chunks cut where normalising them apart changes nothing (one
    # saved before 12-08 reads them as it always did)
    chunks = settled_chunks(split.texts()) if getattr(tokenizer, "normalize", None) else split.texts()
    with path.open("wb") as fh:
        for chunk in chunks:
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


def encode_records(split: Any, tokenizer: Tokenizer, folder: Path, name: str, dtype: str,
                   labels: list[str], progress: Progress | None = None, hashes: Any = None) -> dict[str, Any]:
    """Token ids of every text back to back, plus offsets and label ids (all memory-mappable); ``progress``
    hears of the records read every ``RECORDS_EVERY`` (their number is not known before). ``hashes``, an
    array('q'), gets each kept text's hash (8 bytes a text), to find texts that two splits share."""
    index = {n: i for i, n in enumerate(labels)}
    offsets = array("q", [0])  # compact C arrays: millions of texts cost 12 bytes each, not Python objects
    label_ids = array("i")
    chars = unks = 0
    empty = 0
    unknown: dict[str, int] = {}
    first: tuple[str, int] | None = None  # where the first unknown label is
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
                first = first or (path, line)
                continue
            text = one_line(text)
            if not text:
                empty += 1
                split.report.skip(path, line, "empty text")
                continue
            ids = tokenizer.encode(text)
            fh.write(ids.astype(dtype).tobytes())
            if hashes is not None:
                hashes.append(hash(text))
            offsets.append(offsets[-1] + len(ids))
            label_ids.append(index[lab])
            chars += len(text)
            unks += int(np.count_nonzero(ids == UNK))
    if progress and split is not None:
        progress(name, read, 0)
    if unknown and first is not None:
        shown = ", ".join(f"{n!r} ({unknown[n]:,} row{'s' if unknown[n] > 1 else ''})" for n in sorted(unknown)[:10])
        raise UserError(f"the {name} split has labels the train split does not have: {shown}, the first at "
                        f"{place(first[0], first[1])}", f"the known labels are {short_list(labels)}: give the train "
                        "split examples of the others, or remove their rows")
    np.save(folder / f"{name}.offsets.npy", np.frombuffer(offsets, dtype=np.int64))
    np.save(folder / f"{name}.labels.npy", np.frombuffer(label_ids, dtype=np.int32))
    counts = np.bincount(np.frombuffer(label_ids, dtype=np.int32), minlength=len(labels)).tolist()
    return {"chars": chars, "tokens": offsets[-1], "unk": unks, "texts": len(label_ids), "empty": empty,
            "label_counts": counts}
