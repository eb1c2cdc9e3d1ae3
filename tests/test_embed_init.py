"""train --embed-init: pretrained word vectors (GloVe, word2vec, fastText files) read into a new model's embedding."""

from __future__ import annotations

import bz2
import gzip
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error
from lstmtext.errors import UserError
from lstmtext.vectors import layout, read_vectors

ROWS = [("the film was good", "pos"), ("a good cast and a fine plot", "pos"), ("the plot was dull", "neg"),
        ("a bad film", "neg"), ("Good acting , fine music", "pos"), ("dull and bad", "neg")] * 10
VECTORS = {w: np.round(np.random.default_rng(k).normal(0, 0.5, 8), 4).astype(np.float32)
           for k, w in enumerate(["the", "film", "good", "cast", "plot", "dull", "bad", "fine", "music", "unused"])}


def write_text_vectors(path: Path, vectors: dict[str, np.ndarray], header: bool = False, trailing: str = "") -> Path:
    lines = [f"{len(vectors)} {len(next(iter(vectors.values())))}"] if header else []
    lines += [w + " " + " ".join(f"{x:g}" for x in v) + trailing for w, v in vectors.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_binary_vectors(path: Path, vectors: dict[str, np.ndarray]) -> Path:
    dim = len(next(iter(vectors.values())))
    with open(path, "wb") as f:
        f.write(f"{len(vectors)} {dim}\n".encode())
        for w, v in vectors.items():
            f.write(w.encode() + b" " + v.astype("<f4").tobytes() + b"\n")
    return path


def found_rows(path: Path, tokens: list[str]) -> dict[str, np.ndarray]:
    found = read_vectors(path, tokens, layout(path))
    return {t: found.rows[i] for i, t in enumerate(tokens) if found.found[i]}


@pytest.mark.parametrize("kind", ["glove", "fasttext", "word2vec-binary", "gzip", "bzip2", "zip"])
def test_every_format_gives_the_files_vectors(tmp_path, kind):
    plain = tmp_path / "v.txt"
    if kind == "glove":
        path = write_text_vectors(plain, VECTORS)
    elif kind == "fasttext":  # a "COUNT DIM" first line and a space at each line's end
        path = write_text_vectors(tmp_path / "v.vec", VECTORS, header=True, trailing=" ")
    elif kind == "word2vec-binary":
        path = write_binary_vectors(tmp_path / "v.bin", VECTORS)
    else:
        write_text_vectors(plain, VECTORS)
        path = tmp_path / f"v.{kind}"
        if kind == "gzip":
            path.write_bytes(gzip.compress(plain.read_bytes()))
        elif kind == "bzip2":
            path.write_bytes(bz2.compress(plain.read_bytes()))
        else:
            with zipfile.ZipFile(path, "w") as archive:
                archive.write(plain, "glove.8d.txt")
    assert layout(path).dim == 8
    tokens = ["<pad>", "<unk>", "<eos>", "the", "good", "absent"]
    rows = found_rows(path, tokens)
    assert set(rows) == {"the", "good"}
    for word, row in rows.items():
        np.testing.assert_allclose(row, VECTORS[word], rtol=1e-5)


def test_a_word_takes_its_own_vector_before_its_lowercase_one_and_pieces_match_their_words(tmp_path):
    vectors = {"good": np.full(4, 1.0, np.float32), "Good": np.full(4, 2.0, np.float32),
               "plot": np.full(4, 3.0, np.float32), "▁dull": np.full(4, 4.0, np.float32),
               "dull": np.full(4, 5.0, np.float32)}
    path = write_text_vectors(tmp_path / "v.txt", vectors)
    rows = found_rows(path, ["<pad>", "Good", "good", "Plot", "▁plot", "▁dull", "▁", "<unk>"])
    assert rows["Good"][0] == 2.0 and rows["good"][0] == 1.0  # as written first
    assert rows["Plot"][0] == 3.0 and rows["▁plot"][0] == 3.0  # lowercased; a word-starting piece as its word
    assert rows["▁dull"][0] == 4.0  # BPEmb's vectors are filed under the pieces themselves
    assert "▁" not in rows and "<unk>" not in rows


def test_a_word_holding_spaces_is_not_read_as_its_first_part(tmp_path):
    """GloVe's 840B vectors have a few words with spaces ('. . .'): its first part ('.') keeps its own vector."""
    path = tmp_path / "v.txt"
    path.write_text(". . . 9 9 9\n. 1 2 3\nthe 4 5 6\n", encoding="utf-8")
    assert layout(path).dim == 3
    rows = found_rows(path, [".", "the"])
    np.testing.assert_allclose(rows["."], [1, 2, 3])
    np.testing.assert_allclose(rows["the"], [4, 5, 6])


def test_a_classifier_starts_from_the_vectors_and_keeps_them_frozen(cli, tmp_path):
    from safetensors.numpy import load_file

    from lstmtext.tokenizers import load_tokenizer

    (tmp_path / "rows.tsv").write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in ROWS), encoding="utf-8")
    write_text_vectors(tmp_path / "glove.txt", VECTORS)
    result = cli("train", "rows.tsv", "--task", "classify", "--embed-init", "glove.txt", "--freeze-embedding",
                 "--hidden-size", "16", "--max-steps", "3", "--out", "clf")
    assert result.code == 0, result.err
    assert "--embed-init: vectors for 10 of the 15 words" in result.err
    assert "1 of them by their lowercase form" in result.err
    run = tmp_path / "clf"
    weight = load_file(run / "model.safetensors")["embedding.weight"]
    itos = load_tokenizer(run / "tokenizer.json").itos
    assert weight.shape[1] == 8  # the vectors' width, not --hidden-size's
    for i, token in enumerate(itos):
        if token.lower() in VECTORS:  # "Good" by its lowercase form
            np.testing.assert_allclose(weight[i], VECTORS[token.lower()], rtol=1e-5)
    assert not weight[0].any()  # the padding row
    others = [i for i, t in enumerate(itos) if t.lower() not in VECTORS and i > 0]
    rms = float(np.sqrt(np.mean(np.stack(list(VECTORS.values())) ** 2)))
    assert 0.3 * rms < float(np.sqrt(np.mean(weight[others] ** 2))) < 3 * rms  # the same scale, not N(0, 1)
    config = json.loads((run / "config.json").read_text())
    assert config["embed_init"]["found"] == 10 and config["embed_init"]["dim"] == 8
    assert 0 < config["embed_init"]["token_share"] < 1
    info = cli("info", "clf")
    assert info.code == 0 and "glove.txt: 10 of 15" in info.out
    classified = cli("classify", "clf", "a good film")
    assert classified.code == 0, classified.err


def test_bad_vectors_files_are_one_line_errors(cli, tmp_path):
    (tmp_path / "rows.tsv").write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in ROWS), encoding="utf-8")
    write_text_vectors(tmp_path / "glove.txt", VECTORS)
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "prose.txt").write_text("once upon a time\n")
    (tmp_path / "header.vec").write_text("3 5\nthe 1 2 3\n")
    (tmp_path / "nan.txt").write_text("good nan 1\nfilm 1 2\n")
    (tmp_path / "other.txt").write_text("perro 1 2\ngato 3 4\n")
    write_binary_vectors(tmp_path / "full.bin", VECTORS)
    (tmp_path / "cut.bin").write_bytes((tmp_path / "full.bin").read_bytes()[:60])
    with zipfile.ZipFile(tmp_path / "glove.6B.zip", "w") as archive:
        archive.writestr("glove.6B.50d.txt", "the 1\n")
        archive.writestr("glove.6B.100d.txt", "the 1 2\n")
    assert cli("train", "--task", "lm", "rows.tsv", "--level", "word", "--hidden-size", "8", "--max-steps", "1",
               "--out", "lm", "--quiet").code == 0
    base = ["train", "rows.tsv", "--task", "classify", "--max-steps", "1", "--quiet", "--embed-init"]
    cases = [
        (["missing.txt"], 1, ["--embed-init missing.txt: file not found"]),
        (["empty.txt"], 1, ["empty.txt is empty"]),
        (["prose.txt"], 1, ["does not start with a word and its numbers"]),
        (["header.vec"], 1, ["its first line says 5 numbers a word, but line 2 has 3"]),
        (["nan.txt"], 1, ["not finite"]),
        (["other.txt"], 1, ["none of the", "words of the vocabulary has a vector among its 2"]),
        (["cut.bin"], 1, ["ends inside a vector"]),
        (["glove.6B.zip"], 2, ["zip archive of 2 files (glove.6B.50d.txt, glove.6B.100d.txt)", "unzip"]),
        (["glove.txt", "--embed-dim", "16"], 2, ["--embed-dim 16 conflicts with --embed-init glove.txt", "8 numbers"]),
        (["glove.txt", "--init-from", "lm"], 2, ["--embed-init conflicts with --init-from"]),
        (["glove.txt", "--task", "lm"], 2, ["a language model tokenizes characters unless told", "--level word"]),
    ]
    for extra, code, words in cases:
        assert_one_line_error(cli(*base, *extra), code, *words)
    assert not (tmp_path / "checkpoints").exists() or not any(
        p.name.startswith("rows-word") for p in (tmp_path / "checkpoints").iterdir())  # no run folder left behind


def test_a_word_language_model_ties_its_decoder_to_the_vectors(cli, tmp_path):
    from safetensors.numpy import load_file

    from lstmtext.tokenizers import load_tokenizer

    (tmp_path / "text.txt").write_text("".join(f"{t}\n" for t, _ in ROWS), encoding="utf-8")
    write_text_vectors(tmp_path / "glove.txt", VECTORS)
    result = cli("train", "text.txt", "--level", "word", "--embed-init", "glove.txt", "--hidden-size", "8",
                 "--layers", "1", "--max-steps", "2", "--freeze-embedding", "--out", "lm", "--quiet")
    assert result.code == 0, result.err
    config = json.loads((tmp_path / "lm" / "config.json").read_text())
    assert config["model"]["embed_dim"] == 8 and config["model"]["tie_weights"]
    weight = load_file(tmp_path / "lm" / "model.safetensors")["embedding.weight"]
    itos = load_tokenizer(tmp_path / "lm" / "tokenizer.json").itos
    np.testing.assert_allclose(weight[itos.index("plot")], VECTORS["plot"], rtol=1e-5)
    assert cli("generate", "lm", "--prompt", "the", "--length", "5").code == 0


def test_vectors_narrower_than_the_lstm_say_the_decoder_is_not_tied(cli, tmp_path):
    (tmp_path / "text.txt").write_text("".join(f"{t}\n" for t, _ in ROWS), encoding="utf-8")
    write_text_vectors(tmp_path / "glove.txt", VECTORS)
    common = ("train", "text.txt", "--level", "word", "--embed-init", "glove.txt", "--layers", "1", "--max-steps", "1")
    result = cli(*common, "--hidden-size", "16", "--out", "untied")
    assert result.code == 0, result.err
    assert "note: the decoder is not tied to the embedding" in result.err and "--tie-weights" in result.err
    assert not json.loads((tmp_path / "untied" / "config.json").read_text())["model"]["tie_weights"]
    tied = cli(*common, "--hidden-size", "16", "--tie-weights", "--out", "tied")  # asked for: nothing to say
    assert tied.code == 0, tied.err
    assert "not tied" not in tied.err and json.loads((tmp_path / "tied" / "config.json").read_text())["model"][
        "tie_weights"]


def test_archives_byte_order_marks_and_cut_files(cli, tmp_path):
    from lstmtext.vectors import _binary_bytes

    (tmp_path / "rows.tsv").write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in ROWS), encoding="utf-8")
    plain = write_text_vectors(tmp_path / "glove.8d.txt", VECTORS).read_bytes()
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + plain)  # the first word, "the", is no "\ufeffthe"
    assert "the" in found_rows(tmp_path / "bom.txt", ["the", "film"])
    with zipfile.ZipFile(tmp_path / "glove.zip", "w") as archive:  # as glove.6B.zip, with macOS's metadata
        archive.writestr("glove.4d.txt", "the 1 2 3 4\n")
        archive.writestr("glove.8d.txt", plain)
        archive.writestr("__MACOSX/._glove.8d.txt", b"\0\0")
    base = ["train", "rows.tsv", "--task", "classify", "--max-steps", "1", "--hidden-size", "8", "--quiet"]
    assert_one_line_error(cli(*base, "--embed-init", "glove.zip"), 2, "zip archive of 2 files",
                          "pass --embed-dim 4 or 8 to pick one")
    picked = cli(*base, "--embed-init", "glove.zip", "--embed-dim", "8", "--out", "z")
    assert picked.code == 0, picked.err
    (tmp_path / "cut.txt.gz").write_bytes(gzip.compress(plain)[:-30])
    assert_one_line_error(cli(*base, "--embed-init", "cut.txt.gz"), 1, "cut.txt.gz is cut short or damaged")
    (tmp_path / "wide.txt").write_text("the 1 2 3 4\nfilm 1 2 3 4 5\n")
    assert_one_line_error(cli(*base, "--embed-init", "wide.txt"), 1, "wide.txt line 2 has 5 numbers, not 4")
    (tmp_path / "short.vec").write_text("5 4\nthe 1 2 3 4\nfilm 1 2 3 4\n")  # says 5 words, holds 2
    cut = cli(*base, "--embed-init", "short.vec", "--out", "s")
    assert cut.code == 0 and "says it holds 5 words, and it holds 2: it may be cut short" in cut.err
    assert "covers only" in cut.err  # warnings show under --quiet
    assert _binary_bytes(np.array([1.1, -2.3, 0.7, 3.9], dtype="<f4").tobytes())  # word2vec's floats, no suffix


def test_word_vectors_go_to_the_pieces_that_start_words_not_to_those_inside_them(tmp_path):
    path = write_text_vectors(tmp_path / "v.txt", {"he": np.ones(4, np.float32), "the": np.full(4, 2.0, np.float32)})
    rows = read_vectors(path, ["<pad>", "\u2581the", "he", "\u2581he"], layout(path), subword=True)
    assert rows.found.tolist() == [False, True, False, True]  # "he" inside "there" is not the word "he"
    pieces = write_text_vectors(tmp_path / "bpemb.txt", {"\u2581the": np.ones(4, np.float32),
                                                         "he": np.full(4, 3.0, np.float32)})
    rows = read_vectors(pieces, ["<pad>", "\u2581the", "he"], layout(pieces), subword=True)
    assert rows.found.tolist() == [False, True, True] and rows.rows[2][0] == 3.0  # a file of pieces: all match


def test_pieces_of_a_script_without_spaces_take_word_vectors_and_odd_files_are_refused(tmp_path):
    path = write_text_vectors(tmp_path / "v.txt", {"春": np.ones(4, np.float32), "山": np.full(4, 2.0, np.float32)})
    rows = read_vectors(path, ["<pad>", "春", "山水"], layout(path), subword=True)  # no "▁" piece at all
    assert rows.found.tolist() == [False, True, False]
    (tmp_path / "pk.txt").write_text("PKB 1 2\nthe 3 4\n")  # a word starting with PK is no zip archive
    assert layout(tmp_path / "pk.txt").dim == 2
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe")
        with pytest.raises(UserError, match="is a pipe or a device"):
            layout(tmp_path / "pipe")
