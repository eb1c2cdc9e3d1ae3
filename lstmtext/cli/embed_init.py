"""`train --embed-init FILE`: starting a new model's embedding from pretrained word vectors (GloVe, word2vec,
fastText; lstmtext/vectors.py reads them). The file is checked before the corpus is read, and read once the
vocabulary is known, with a bar; the summary of what it covered is kept in the run's config.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lstmtext.errors import UserError, usage_error
from lstmtext.vectors import SPECIALS, Layout, layout, read_vectors, token_strings

LOW_COVER = 0.5  # below this share of the training tokens, the vectors are likely for another text or language


def check_embed_init(path: Path, init_from: Path | None, embed_dim: int | None, level: str | None,
                     prepared: bool) -> Layout:
    """The vectors file's layout; refused with --init-from (whose embedding it would overwrite), where
    --embed-dim asks for another width, and for a language model's default char level (``level``: as typed)."""
    if init_from is not None:
        raise usage_error("--embed-init conflicts with --init-from, whose embedding the model takes",
                          "drop one: the language model's embedding already fits its vocabulary")
    if level is None and not prepared:
        raise usage_error("--embed-init reads word vectors, and a language model tokenizes characters unless told",
                          "add --level word (or --level char, for vectors of characters)")
    shape = layout(path, embed_dim)
    if embed_dim is not None and embed_dim != shape.dim:
        raise usage_error(f"--embed-dim {embed_dim} conflicts with --embed-init {path}, whose vectors have "
                          f"{shape.dim} numbers", "drop --embed-dim: the embedding takes the vectors' width")
    return shape


def load_embed_init(path: Path, shape: Layout, prepared: Any, quiet: bool, dim_asked: int | None = None,
                    frozen: bool = False) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The vectors of the prepared vocabulary (rows, found), and what they cover, as config.json keeps it."""
    from rich.markup import escape

    from lstmtext.cli.notes import warn
    from lstmtext.render import byte_progress, err

    tokens = token_strings(prepared.tokenizer)
    with byte_progress(quiet) as progress:
        bar = progress.add_task(f"read vectors {path.name}", total=None, unit="bytes")

        def report(done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total)

        found = read_vectors(path, tokens, shape, report, subword=prepared.level in ("bpe", "unigram"),
                             dim_asked=dim_asked)
    words = np.array([t not in SPECIALS for t in tokens])
    counts = _train_counts(prepared, len(tokens))
    covered = float(counts[found.found].sum() / counts[words].sum()) if counts[words].sum() else 0.0
    hits, vocabulary = int(found.found.sum()), int(words.sum())
    kind = {"char": "characters", "word": "words"}.get(prepared.level, "pieces")
    if found.words_in_file == 0:
        raise UserError(f"--embed-init {path} holds no vectors", "the file is cut short; download it again")
    if hits == 0:
        raise UserError(f"--embed-init {path}: none of the {vocabulary:,} {kind} of the vocabulary has a "
                        f"vector among its {found.words_in_file:,}", "pass vectors of this text's language and "
                        "level, such as word vectors for --level word")
    cased = int((found.how[found.found] == 1).sum())
    info = {"path": str(path.resolve()), "dim": shape.dim, "found": hits, "vocabulary": vocabulary,
            "token_share": round(covered, 4), "lowercased": cased, "words_in_file": found.words_in_file}
    if not quiet:
        err.print(f"--embed-init: vectors for {hits:,} of the {vocabulary:,} {kind} ({hits / vocabulary:.1%}, "
                  f"{covered:.1%} of the training tokens) from {escape(str(path))}"
                  + (f", {cased:,} of them by their lowercase form" if cased else "")
                  + "; the others start at random vectors of the same scale")
    warnings = []
    if covered < LOW_COVER:
        warnings.append(f"--embed-init {path} covers only {covered:.1%} of the training tokens: are the vectors for "
                        "this language and level?")
    if prepared.level == "char":
        warnings.append("--embed-init at char level gives each character the vector of the one-letter word it "
                        "spells ('a', 'I'); word vectors suit --level word")
    if shape.words is not None and found.words_in_file < shape.words:
        warnings.append(f"--embed-init {path}'s first line says it holds {shape.words:,} words, and it holds "
                        f"{found.words_in_file:,}: it may be cut short (download it again)")
    if found.not_utf8:
        warnings.append(f"{found.not_utf8:,} words of {path} are not UTF-8 (Latin-1?), and match no word of the "
                        "vocabulary")
    if frozen and hits < 0.8 * vocabulary:
        warnings.append(f"--freeze-embedding keeps the {vocabulary - hits:,} {kind} without a vector at random "
                        "vectors for the whole run; without it they learn")
    if warnings:
        warn(warnings)
    return found.rows, found.found, info


def _train_counts(prepared: Any, vocab_size: int) -> np.ndarray:
    tokens = prepared.tokens("train")
    return np.bincount(np.asarray(tokens), minlength=vocab_size)[:vocab_size] if len(tokens) else \
        np.zeros(vocab_size, dtype=np.int64)
