"""The shared Chinese poetry corpus end to end (skipped when ../shared/corpora is absent): an alphabet of thousands
of characters, no spaces between words, one poem a line."""

import json

import numpy as np
import pytest

from tests.conftest import SHARED

POEMS = SHARED / "tang_poems" / "tang_poems.txt"
pytestmark = pytest.mark.skipif(not POEMS.exists(), reason="shared Chinese poetry corpus absent")


def cjk_share(text):
    chars = [c for c in text if not c.isspace()]
    return sum("\u4e00" <= c <= "\u9fff" or c in "，。？！、；：" for c in chars) / max(len(chars), 1)


def test_char_level_keeps_thousands_of_characters_and_round_trips(cli, tmp_path):
    result = cli("tokenize", POEMS, "--out", "char", "--quiet")
    assert result.code == 0, result.err
    meta = json.loads((tmp_path / "char" / "meta.json").read_text())
    assert 6000 < meta["vocab_size"] < 6600 and meta["dtype"] == "uint16" and meta["warnings"] == []
    from lstmtext.tokenizers import load_tokenizer

    tokenizer = load_tokenizer(tmp_path / "char" / "tokenizer.json")
    train = np.fromfile(tmp_path / "char" / "train.bin", dtype=np.uint16)
    text = POEMS.read_text(encoding="utf-8")
    assert tokenizer.decode(train[:5000].tolist()) == text[:5000]  # the head of the file is the train split


def test_subwords_size_their_vocabulary_to_the_alphabet_and_words_warn(cli, tmp_path):
    explicit = cli("tokenize", POEMS, "--level", "unigram", "--vocab-size", "4000", "--out", "small")
    assert explicit.code == 2 and "too small for this text" in explicit.err and "Traceback" not in explicit.err
    assert not (tmp_path / "small").exists()
    default = cli("tokenize", POEMS, "--level", "unigram", "--out", "uni", "--quiet")
    assert default.code == 0, default.err
    meta = json.loads((tmp_path / "uni" / "meta.json").read_text())
    assert meta["vocab_size"] == 8000  # ~5,900 characters kept as pieces, and room for subwords
    assert meta["splits"]["valid"]["tokens"] < meta["splits"]["valid"]["chars"]
    words = cli("tokenize", POEMS, "--level", "word", "--out", "words", "--quiet")
    assert words.code == 0 and "warning: most words here are runs of a script written without spaces" in words.err


def test_a_char_model_trains_and_writes_chinese(cli, tmp_path):
    trained = cli("train", POEMS, "--hidden-size", "64", "--layers", "1", "--seq-len", "48", "--batch-size", "16",
                  "--max-steps", "60", "--eval-every", "30", "--device", "cpu", "--quiet", "--out", "poems")
    assert trained.code == 0, trained.err
    records = [json.loads(line) for line in (tmp_path / "poems" / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["valid_loss"] < np.log(6000)  # below a uniform guess over the alphabet
    sample = cli("generate", "poems", "--prompt", "春", "--length", "80", "--seed", "3")
    assert sample.code == 0, sample.err
    assert sample.out.startswith("春") and cjk_share(sample.out) > 0.9, sample.out
