"""Property-based tests: tokenizers and the user-facing entry points on arbitrary Unicode."""

import unicodedata

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmtext.checkpoint import load_checkpoint
from lstmtext.config import TokenizerSpec
from lstmtext.models import predict_proba
from lstmtext.sampling import SampleSettings, sample
from lstmtext.tokenizers import UNK, build_tokenizer
from tests.conftest import SMALL_TEXT, TALES

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CHAR = build_tokenizer([SMALL_TEXT + "日本語🎉"], TokenizerSpec(level="char"))
WORD = build_tokenizer([SMALL_TEXT], TokenizerSpec(level="word"))
SPM = build_tokenizer([TALES.read_text(encoding="utf-8")[:40_000]], TokenizerSpec(level="unigram", vocab_size=200))


@FAST
@given(TEXT)
def test_char_round_trips_or_maps_each_unknown_char_to_unk(text):
    text = unicodedata.normalize("NFC", text)  # as the tokenizer reads it (decomposed accents composed)
    ids = CHAR.encode(text)
    assert len(ids) == len(text)
    decoded = CHAR.decode(ids.tolist())
    for ch, out, i in zip(text, decoded, ids.tolist()):
        assert (out == ch) if i != UNK else (out == "\ufffd" and ch in CHAR.unknown(text))


@FAST
@given(TEXT)
def test_word_level_ids_are_always_valid(text):
    ids = WORD.encode(text).tolist()
    assert all(0 < i < WORD.vocab_size for i in ids)
    assert (UNK in ids) == bool(WORD.unknown(text))


# pieces a word cut can meet: words, numbers, apostrophes, marks, joiners, emoji with tones and flags, spaces of
# every kind, the literal specials
PIECES = st.sampled_from(["cat", "Ünïcode", "e\u0301", "नमस्ते", "می\u200cخواهم", "3.14", "1,000", "don't", "l’été",
                          "_x_", "²", "٣", "😀\U0001f3fd", "👩\u200d💻", "🇫🇷", "<unk>", "<eos>", "...", "(a)", "—"])
SPACES = st.sampled_from([" ", "  ", "\t", "\u00a0", "\u3000", "\u2028", "\x1c", ""])
LINE = st.lists(st.one_of(PIECES, TEXT), max_size=12).flatmap(
    lambda parts: st.lists(SPACES, min_size=len(parts), max_size=len(parts)).map(
        lambda seps: "".join(p + s for p, s in zip(parts, seps))))


@FAST
@given(LINE)
def test_the_word_cut_is_the_patterns_findall_whatever_the_text(line):
    """Cutting at spaces first and passing letters-and-digits pieces whole gives what the regex alone gives,
    for every generation of the word pattern and both its forms."""
    from lstmtext.tokenizers import WordTokenizer, _pattern, _plain

    for split, cut in (("punct", 0), ("punct", 1), ("punct", 2), ("whitespace", 2)):
        tok = WordTokenizer([], word_split=split, cut=cut)
        for pattern in {_pattern(split, cut), _plain(split, cut)}:
            assert tok._cut(line, pattern) == pattern.findall(line)


KNOWN = sorted(set(SMALL_TEXT.replace("\n", " ").split()) | {".", ",", "(", ")", "\n"})


@FAST
@given(st.lists(st.sampled_from(KNOWN), max_size=40), st.sampled_from([" ", "  ", "\t"]))
def test_word_level_round_trips_known_text(words, sep):
    ids = WORD.encode(sep.join(words)).tolist()
    assert WORD.encode(WORD.decode(ids)).tolist() == ids


@FAST
@given(TEXT)
def test_sentencepiece_round_trips_known_text_and_never_raises(text):
    ids = SPM.encode(text).tolist()
    assert all(0 <= i < SPM.vocab_size for i in ids)
    if UNK not in ids:
        assert SPM.decode(ids) == unicodedata.normalize("NFC", text)


@pytest.fixture(scope="module")
def models(tiny_lm, tmp_path_factory):
    from tests.test_classify import separable_rows, train_classifier, write_tsv

    base = tmp_path_factory.mktemp("prop")
    corpus = write_tsv(base / "t.tsv", separable_rows(60))
    _, clf = train_classifier(base, corpus, epochs=1)
    return load_checkpoint(tiny_lm[0], task="lm"), load_checkpoint(clf, task="classify")


@FAST
@given(TEXT)
def test_generate_and_classify_never_raise(models, text):
    lm, clf = models
    rows = sample(lm.model, lm.tokenizer, text, SampleSettings(length=3, seed=0), torch.device("cpu"))
    assert len(rows[0]) == 3
    ids = clf.tokenizer.encode(" ".join(text.split()))
    if len(ids):
        probs = predict_proba(clf.model, [ids], 4, torch.device("cpu"))
        assert np.isclose(probs.sum(), 1.0, atol=1e-5)
