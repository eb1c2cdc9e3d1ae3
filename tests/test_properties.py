"""Property-based tests: tokenizers and the user-facing entry points on arbitrary Unicode."""

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
        assert SPM.decode(ids) == text


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
