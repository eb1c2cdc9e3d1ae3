"""`tokenize`: a corpus into a prepared folder of memory-mapped token ids, described in a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from lstmtext.cli.exits import handle_errors
from lstmtext.cli.options import (DEFAULT_LEVEL, Encoding, LabelColumn, Level, Lowercase, MinFreq, Quiet, SplitSeed,
                                  TaskOpt, TestFraction, TextColumn, ValidFraction, VocabSize, WordSplit, _check_task,
                                  refuse_unless, typed)
from lstmtext.cli.prepare import _data_table, _prepare, _spec


@handle_errors
def tokenize(
    ctx: typer.Context,
    corpus: Annotated[str, typer.Argument(
        metavar="CORPUS", help="Text file, folder, CSV/TSV/JSON(L)/parquet, saved HF dataset or "
                                          "hub id.")],
    level: Level = None,
    vocab_size: VocabSize = None,
    lowercase: Lowercase = False,
    min_freq: MinFreq = 1,
    word_split: WordSplit = "punct",
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    task: TaskOpt = "lm",
    encoding: Encoding = "utf-8",
    valid_fraction: ValidFraction = 0.05,
    test_fraction: TestFraction = 0.05,
    split_seed: SplitSeed = 0,
    out: Annotated[Optional[Path], typer.Option("--out", help="Prepared folder to write (default under "
                                                 "checkpoints/prepared/).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Prepare --out again, replacing the data it holds "
                                                                "(your other files there stay).")] = False,
    quiet: Quiet = False,
) -> None:
    """Tokenize a corpus into a prepared folder of memory-mapped token ids.

    Example: lstmtext tokenize corpora/tales.txt --level bpe --vocab-size 2000 --out checkpoints/prepared/tales-bpe
    """
    from lstmtext.render import out as stdout

    _check_task(task)
    refuse_unless(ctx, {"overwrite": (out is not None, "prepares --out again, and no --out was given (the cache "
                                                       "folder is prepared again by itself when its corpus changes)"),
                        "label_column": (task == "classify", "is for --task classify"),
                        "split_seed": (task == "classify", "is for --task classify: a language model holds out "
                                                           "the tail, not a random draw")})
    spec = _spec(level or DEFAULT_LEVEL[task], vocab_size, lowercase, min_freq, word_split)
    path, meta, reused, seconds = _prepare(corpus, spec, out, overwrite, encoding=encoding, text_column=text_column,
                                           valid_fraction=valid_fraction, test_fraction=test_fraction,
                                           split_seed=split_seed, task=task, label_column=label_column, quiet=quiet,
                                           given=typed(ctx))
    stdout.print(_data_table(path, meta, reused, seconds))
