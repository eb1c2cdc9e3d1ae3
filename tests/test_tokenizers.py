import numpy as np
import pytest

from lstmtext.config import TokenizerSpec
from lstmtext.errors import UserError
from lstmtext.tokenizers import EOS, UNK, build_tokenizer, load_tokenizer, save_tokenizer
from tests.conftest import SMALL_TEXT, TALES

MIXED = "Tea at four. 春眠不觉晓，处处闻啼鸟。 Party time 🎉🎈 — naïve café.\n"


def test_char_round_trips_english_chinese_and_emoji():
    tok = build_tokenizer([SMALL_TEXT, MIXED], TokenizerSpec(level="char"))
    for text in (SMALL_TEXT, MIXED, "🎉春 café"):
        ids = tok.encode(text)
        assert len(ids) == len(text)
        assert tok.decode(ids.tolist()) == text
    assert UNK not in tok.encode(MIXED).tolist()


def test_char_unknown_maps_to_unk_and_is_reported():
    tok = build_tokenizer(["abc\n"], TokenizerSpec(level="char"))
    ids = tok.encode("abz").tolist()
    assert ids[2] == UNK and ids[:2] == tok.encode("ab").tolist()
    assert tok.unknown("abzz🎉") == ["z", "🎉"]


def test_char_lowercase_and_min_freq():
    tok = build_tokenizer(["AAAb"], TokenizerSpec(level="char", lowercase=True, min_freq=2))
    assert tok.decode(tok.encode("Aa").tolist()) == "aa"
    assert tok.encode("b").tolist() == [UNK]


def test_word_level_encode_decode_and_eos():
    tok = build_tokenizer([SMALL_TEXT], TokenizerSpec(level="word"))
    ids = tok.encode("The cat watched the rain.\n").tolist()
    assert ids[-1] == EOS
    assert UNK not in ids
    assert tok.decode(ids) == "The cat watched the rain.\n"
    assert tok.encode("The zebra").tolist()[1] == UNK
    assert tok.unknown("The zebra sang") == ["zebra"]


def test_word_min_freq_and_vocab_cap():
    tok = build_tokenizer([SMALL_TEXT], TokenizerSpec(level="word", min_freq=2))
    assert tok.encode("the").tolist() != [UNK]
    assert tok.encode("kettle").tolist() == [UNK]
    capped = build_tokenizer([SMALL_TEXT], TokenizerSpec(level="word", vocab_size=10))
    assert capped.vocab_size == 10


def test_word_whitespace_split_keeps_ptb_style_tokens():
    tok = build_tokenizer(["a <unk> b's c .\n"], TokenizerSpec(level="word", word_split="whitespace"))
    ids = tok.encode("a <unk> b's c .\n").tolist()
    assert ids[1] == UNK and ids[-1] == EOS
    assert tok.decode(ids) == "a <unk> b's c .\n"


@pytest.mark.parametrize("level", ["bpe", "unigram"])
def test_sentencepiece_round_trip_and_reload(tmp_path, level):
    text = TALES.read_text(encoding="utf-8")[:60_000]
    tok = build_tokenizer([text], TokenizerSpec(level=level, vocab_size=300))
    assert tok.vocab_size == 300
    sample = "The miller walked down to the river.\nHe said nothing."
    ids = tok.encode(sample)
    assert len(ids) < len(sample)
    assert tok.decode(ids.tolist()) == sample
    save_tokenizer(tok, tmp_path / "tok.json")
    again = load_tokenizer(tmp_path / "tok.json")
    assert np.array_equal(again.encode(sample), ids)


def test_sentencepiece_vocab_too_large_is_a_user_error():
    with pytest.raises(UserError) as info:
        build_tokenizer(["tiny text only\n"], TokenizerSpec(level="bpe", vocab_size=5000))
    assert info.value.exit_code == 2
    assert "vocab" in str(info.value).lower()


@pytest.mark.parametrize("level", ["char", "word"])
def test_saved_and_reloaded_tokenizer_gives_identical_ids(tmp_path, level):
    tok = build_tokenizer([SMALL_TEXT, MIXED], TokenizerSpec(level=level))
    save_tokenizer(tok, tmp_path / "t.json")
    again = load_tokenizer(tmp_path / "t.json")
    assert again.vocab_size == tok.vocab_size
    assert np.array_equal(again.encode(SMALL_TEXT + MIXED), tok.encode(SMALL_TEXT + MIXED))


def test_broken_tokenizer_file_is_a_user_error(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text('{"kind": "char"', encoding="utf-8")
    with pytest.raises(UserError):
        load_tokenizer(bad)


@pytest.mark.parametrize("spec", [TokenizerSpec(level="char"), TokenizerSpec(level="word"),
                                  TokenizerSpec(level="bpe", vocab_size=300)])
def test_streamed_text_is_the_decoded_text_whatever_the_level(spec):
    from lstmtext.sampling import StreamText

    text = TALES.read_text(encoding="utf-8")
    tok = build_tokenizer([text], spec)
    ids = tok.encode(text[:3000] + "\n(naïve) café 🎉\n").tolist()
    pieces: list[str] = []
    stream = StreamText(tok, pieces.append)
    for i in ids:
        stream.add(i)
    stream.finish()
    assert "".join(pieces) == tok.decode(ids)
    assert len(pieces) > len(ids) // 4  # written as it came, not all at the end


@pytest.mark.parametrize("spec", [TokenizerSpec(level="char"), TokenizerSpec(level="word"),
                                  TokenizerSpec(level="bpe", vocab_size=300)])
def test_generated_text_joins_the_prompt_as_decoding_them_together_would(spec):
    """What `generate` prints after a prompt (or, for a --reverse model, before it) is what decoding the
    prompt's and the new tokens together gives: a word model's first new word is not glued to the prompt."""
    from lstmtext.sampling import StreamText, text_after, text_before

    text = TALES.read_text(encoding="utf-8")
    tok = build_tokenizer([text], spec)
    ids = tok.encode(text[:2000]).tolist()
    prompt, new = ids[:150], ids[150:]
    whole = tok.decode(ids)
    assert tok.decode(prompt) + text_after(tok, prompt, new) == whole
    assert text_before(tok, prompt, new) + tok.decode(new) == whole
    pieces: list[str] = []
    stream = StreamText(tok, pieces.append, context=prompt)
    for i in new:
        stream.add(i)
    stream.finish()
    assert tok.decode(prompt) + "".join(pieces) == whole
    if spec.level == "word":
        assert text_after(tok, tok.encode("the cat sat .").tolist(), tok.encode("the dog").tolist()) == " the dog"
