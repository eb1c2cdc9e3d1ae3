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


SPACED = ['He said "Go home" and left.', '"Who is there?" she asked. "Only me," he said.',
          '("Quoted") and "again"', 'A far-off storm, a well-known and/or half-finished tale.',
          'It was 2:40 a.m. and, e.g. on Mondays, i.e. often, the U-boat left.', 'Plan A. I think not.',
          '- a list item, not a hyphenated word', "'Tis the students' books, told me 'no', "
          "Hang 'em.", '"\'Tis," he said "" and left: "Stop!" - and $5 for #1.', 'word—word',
          'The belly answer\'d--', 'As well as speak--it tauntingly replied; I--I know',
          'at 2:40 a.m. e.g. costs', 'e.g. a cat, i.e. a.m. or p.m. a day', 'Rex, a.k.a. the fox, r.s.v.p. now',
          # other languages' quotes and marks (our own lines): German „ “ and ‚ ‘ (where “ and ‘ close), and » «;
          # guillemets spaced inside in French, not in Russian; Spanish ¿ ¡; CJK brackets after a word
          '„Hallo, Welt!“ und ‚ja‘, sagte er.', '»Hallo«, sagte er.', '«Привет, мир!» — сказал он.',
          '« Bonjour », dit-il, « à demain ».', '¿Qué tal? ¡Muy bien!', '彼は「こんにちは」と言った。', '《春曉》很好',
          'He read 《春曉》 and 「Kokoro」 twice']


@pytest.mark.parametrize("line", SPACED)
def test_word_level_decodes_quotes_hyphens_times_and_abbreviations_as_written(line):
    """Straight double quotes open and close in turn (not 'said"Go home"and'), a hyphen or slash joins its words
    (not 'far - off'), and 2:40, a.m. and e.g. stay whole (not '2: 40 a. m.'), with a space after them (not
    'a.m.e.g.' or 'e.g.a')."""
    tok = build_tokenizer([line], TokenizerSpec(level="word"))
    ids = tok.encode(f"{line}\n{line}").tolist()
    assert tok.decode(ids) == f"{line}\n{line}"


def test_word_level_stream_keeps_a_long_quote_and_a_prompt_open_in_one():
    """A quote is closed however many words after it opened (the stream does not decode a window of the last few
    tokens at word level), and a prompt that opens a quote has it closed by the text after it."""
    from lstmtext.sampling import StreamText, text_after

    line = '"One two three four five six seven eight nine ten eleven twelve," said the fox, "and more."'
    tok = build_tokenizer([line], TokenizerSpec(level="word"))
    ids = tok.encode(line).tolist()
    pieces: list[str] = []
    stream = StreamText(tok, pieces.append)
    for i in ids:
        stream.add(i)
    stream.finish()
    assert "".join(pieces) == line and len(pieces) == len(ids)
    prompt = tok.encode('"One two').tolist()
    assert text_after(tok, prompt, ids[len(prompt):]) == line[len('"One two'):]


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


def large_alphabet_text(chars=4500, seed=0):
    """Lines of CJK ideographs drawn from ``chars`` of them (each at least 5 times, the rest Zipf-like): an
    alphabet far larger than SentencePiece's default of 4,000 pieces, as Chinese has."""
    rng = np.random.default_rng(seed)
    ids = np.concatenate([np.repeat(np.arange(chars), 5), rng.zipf(1.3, 100_000) % chars])
    rng.shuffle(ids)
    return "\n".join("".join(chr(0x4E00 + i) for i in ids[k:k + 24]) for k in range(0, len(ids), 24))


@pytest.mark.parametrize("level", ["bpe", "unigram"])
def test_sentencepiece_default_size_grows_to_fit_a_large_alphabet(level):
    text = large_alphabet_text()
    tok = build_tokenizer([text], TokenizerSpec(level=level))
    assert tok.vocab_size == 6000  # ~4,490 characters kept, a quarter more for subwords, in thousands
    line = text.split("\n")[3]
    assert tok.decode(tok.encode(line).tolist()) == line
    small = build_tokenizer([SMALL_TEXT * 200], TokenizerSpec(level=level))  # supports far fewer pieces
    assert 30 < small.vocab_size < 400 and "supports at most" in small.notes[0]
    assert small.decode(small.encode(SMALL_TEXT).tolist()) == SMALL_TEXT


def test_sentencepiece_vocab_below_the_alphabet_names_the_size_that_fits():
    text = large_alphabet_text()
    with pytest.raises(UserError) as info:
        build_tokenizer([text], TokenizerSpec(level="bpe", vocab_size=2000))
    assert info.value.exit_code == 2
    message = str(info.value)
    assert "--vocab-size 2000 is too small" in message and "--level char" in message
    needed = int(message.split("use --vocab-size ")[1].split()[0])
    assert 4400 < needed < 4510
    assert build_tokenizer([text], TokenizerSpec(level="bpe", vocab_size=needed)).vocab_size == needed


def test_word_level_on_a_script_without_spaces_says_to_use_char_or_subwords():
    # lines of our own in Chinese, once as written (no spaces) and once split into words
    written = "今天天氣很好，我們一起去公園散步。\n小貓坐在窗邊看雨，一動也不動。\n他把信摺好放進抽屜裡。\n"
    split = "今天 天氣 很 好 ， 我們 一起 去 公園 散步 。\n小貓 坐 在 窗邊 看 雨 ， 一動 也 不動 。\n"
    notes = build_tokenizer([written * 3], TokenizerSpec(level="word")).notes
    assert len(notes) == 1 and "--level char" in notes[0] and "without spaces" in notes[0]
    assert build_tokenizer([split * 3], TokenizerSpec(level="word")).notes == []
    assert build_tokenizer([SMALL_TEXT], TokenizerSpec(level="word")).notes == []
    assert build_tokenizer([written], TokenizerSpec(level="char")).notes == []


HINDI = "आज मौसम बहुत अच्छा है। हम पार्क में टहलने जाएंगे, फिर घर लौटेंगे।\n"  # our own lines


def test_word_level_keeps_combining_marks_in_their_words():
    tok = build_tokenizer([HINDI * 2], TokenizerSpec(level="word"))
    assert "अच्छा" in tok.itos and "टहलने" in tok.itos and "ा" not in tok.itos  # vowel signs stay in the word
    assert tok.decode(tok.encode(HINDI).tolist()) == HINDI  # no space before the danda or the comma
    # Yoruba's 'ẹ̀' ('e', a dot below and a grave accent): normalised, it is 'ẹ' and a grave accent, which has no
    # composed form, so the accent stays a combining mark, kept in its word
    decomposed = "Ile\u0323\u0300 au lait\n"
    assert build_tokenizer([decomposed], TokenizerSpec(level="word")).itos[3:] == ["Il\u1eb9\u0300", "au", "lait"]
    # our own Thai, spaced between phrases only: its vowel signs are marks too, so its runs now read whole
    thai = "วันนี้อากาศดีมาก เราจะไปเดินเล่นที่สวน\nแมวนั่งดูฝนอยู่ข้างหน้าต่าง\n"
    assert "without spaces" in build_tokenizer([thai * 3], TokenizerSpec(level="word")).notes[0]


def test_a_word_tokenizer_saved_before_keep_marks_reads_text_as_it_was_trained_to(tmp_path):
    from lstmtext.tokenizers import extend_tokenizer, tokenizer_from_json

    new = build_tokenizer([HINDI], TokenizerSpec(level="word"))
    assert new.to_json()["keep_marks"] is True
    old = tokenizer_from_json({"kind": "word", "lowercase": False, "word_split": "punct",
                               "tokens": ["आज", "मौसम", "ा", "्", "है", "।"]})
    assert "keep_marks" not in old.to_json()  # saved again byte for byte as it was
    assert old.unknown("अच्छा") == ["अच", "छ"]  # cut at its signs, as before ('्' and 'ा' are in its vocabulary)
    assert new.unknown("अच्छा") == [] and new.unknown("बारिश") == ["बारिश"]
    assert old.encode("आज।").tolist() == [3, 8]
    grown = extend_tokenizer(old, ["पार्क में\n"])
    assert "keep_marks" not in grown.to_json() and "पार्क" not in grown.itos and {"प", "र", "क"} <= set(grown.itos)


# our own lines: French and Korean, composed (NFC), as most text is written
COMPOSED = "Il était déçu, hélas, du café.\n오늘은 날씨가 좋아요.\n"


@pytest.mark.parametrize("level", ["char", "word", "bpe", "unigram"])
def test_text_reads_the_same_whether_its_accents_are_composed_or_not(level):
    """Accents written as combining marks (as macOS writes file names, and some editors text) and Korean written
    as loose jamo read as the composed text a model was trained on, and the reverse: a tokenizer normalises text
    to NFC when it builds its vocabulary and when it encodes, and the jamo it was trained on come back joined."""
    import unicodedata

    decomposed = unicodedata.normalize("NFD", COMPOSED)
    assert decomposed != COMPOSED
    for trained_on in (COMPOSED, decomposed):
        tok = build_tokenizer([trained_on * 20], TokenizerSpec(level=level))
        assert tok.to_json()["normalize"] == "NFC"
        ids = tok.encode(COMPOSED).tolist()
        assert UNK not in ids and tok.encode(decomposed).tolist() == ids and tok.unknown(decomposed) == []
        assert tok.decode(ids) == COMPOSED


def test_a_tokenizer_saved_before_12_08_reads_text_as_it_is():
    """One saved without "normalize" encodes as it did (its model was trained on the text as it was), is saved
    again as it was, and grows by --extend-vocab as it reads; a new one grows with composed words."""
    import unicodedata

    from lstmtext.tokenizers import extend_tokenizer, tokenizer_from_json

    decomposed = unicodedata.normalize("NFD", "café")
    saved = {"kind": "char", "lowercase": False, "tokens": ["a", "c", "f", "é"]}
    old = tokenizer_from_json(saved)
    assert old.to_json() == saved and old.unknown(decomposed) == ["e", "\u0301"]
    grown = extend_tokenizer(old, [decomposed + "\n"])
    assert "normalize" not in grown.to_json() and {"e", "\u0301"} <= set(grown.itos)
    word = {"kind": "word", "lowercase": False, "word_split": "punct", "keep_marks": True, "cut": 2,
            "tokens": ["café"]}
    assert tokenizer_from_json(word).unknown(decomposed) == [decomposed]
    sp = build_tokenizer([COMPOSED * 20], TokenizerSpec(level="bpe"))
    old_sp = tokenizer_from_json({k: v for k, v in sp.to_json().items() if k != "normalize"})
    assert "normalize" not in old_sp.to_json()
    assert old_sp.encode(COMPOSED).tolist() == sp.encode(COMPOSED).tolist() != old_sp.encode(
        unicodedata.normalize("NFD", COMPOSED)).tolist()
    new = extend_tokenizer(build_tokenizer(["café\n"], TokenizerSpec(level="word")), [decomposed + " thé\n"])
    assert new.to_json()["normalize"] == "NFC" and new.itos[3:] == ["café", "thé"]
    with pytest.raises(ValueError, match="upgrade lstmtext"):
        tokenizer_from_json({**saved, "normalize": "NFKD"})


def test_a_text_streamed_in_chunks_is_normalised_as_if_whole(tmp_path):
    """A text without spaces is read in chunks cut anywhere, maybe between a letter and its accent or between a
    Korean syllable's jamo: the chunk's last letter waits for them, so that they join, in the vocabulary and in
    the encoded text alike (not a letter and an accent of its own)."""
    import unicodedata

    from lstmtext.corpus import MemorySplit
    from lstmtext.encode import encode_split
    from lstmtext.tokenizers import settled_chunks

    text = unicodedata.normalize("NFD", "한국어café한국어\n")
    accent, jamo = text.index("\u0301"), text.index("\u11ab")  # before the accent, and before the final ㄴ of 한
    chunks = [text[:jamo], text[jamo:accent], text[accent:]]
    assert "".join(settled_chunks(chunks)) == text
    tok = build_tokenizer(chunks, TokenizerSpec(level="char"))
    assert set(tok.itos[2:]) == set(unicodedata.normalize("NFC", text))
    info = encode_split(MemorySplit(chunks), tok, tmp_path / "train.bin", "uint16", "train", None)
    assert np.fromfile(tmp_path / "train.bin", dtype=np.uint16).tolist() == tok.encode(text).tolist()
    assert info["unk"] == 0 and info["chars"] == len(text)


# our own lines: Persian with a zero-width non-joiner inside a word, numbers, emoji sequences, Chinese punctuation
JOINED = ("من می\u200cخواهم بروم. Pi is 3.14 and 1,000 people came on 12.5.2026, ok.\n"
          "I like it \U0001f44d\U0001f3fd and \u2764\ufe0f and \U0001f469\u200d\U0001f4bb from \U0001f1eb\U0001f1f7.\n"
          "今天天氣很好，我們去公園散步。「你好」他說。\n")


def test_word_level_keeps_joined_words_numbers_and_emoji_whole():
    tok = build_tokenizer([JOINED], TokenizerSpec(level="word"))
    whole = ["می\u200cخواهم", "3.14", "1,000", "12.5.2026", "\U0001f44d\U0001f3fd", "\u2764\ufe0f",
             "\U0001f469\u200d\U0001f4bb", "\U0001f1eb\U0001f1f7"]
    assert set(whole) <= set(tok.itos), [w for w in whole if w not in tok.itos]
    assert "\u200c" not in tok.itos and "\ufe0f" not in tok.itos and "14" not in tok.itos
    assert tok.decode(tok.encode(JOINED).tolist()) == JOINED  # '3.14', not '3. 14'; no space after '，' or '。'
    assert tok.to_json()["cut"] == 2
    ascii_only = build_tokenizer(["version 2.5 of 1,000 rows, 7 days.\n"], TokenizerSpec(level="word"))
    assert {"2.5", "1,000", "7", ","} <= set(ascii_only.itos)  # the fast path for plain lines cuts the same


def test_a_word_tokenizer_saved_before_12_05_cuts_numbers_and_joiners_as_it_did(tmp_path):
    from lstmtext.tokenizers import extend_tokenizer, tokenizer_from_json

    saved = {"kind": "word", "lowercase": False, "word_split": "punct", "keep_marks": True,
             "tokens": ["3", ".", "14", "من"]}
    old = tokenizer_from_json(saved)
    assert old.to_json() == saved  # saved again as it was, with no "cut"
    assert old.encode("3.14").tolist() == [3, 4, 5]
    assert sorted(old.unknown("می\u200cخواهم")) == sorted(["\u200c", "خواهم", "می"])
    grown = extend_tokenizer(old, ["pi 2.71\n"])
    assert "cut" not in grown.to_json() and {"2", "71"} <= set(grown.itos) and "2.71" not in grown.itos
    with pytest.raises(ValueError, match="upgrade lstmtext"):
        tokenizer_from_json({**saved, "cut": 99})


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


def test_subwords_learn_from_a_text_of_one_long_line():
    """SentencePiece skips lines over 64 KiB: one line of 200k characters is cut after spaces into lines it reads."""
    from lstmtext.config import TokenizerSpec
    from lstmtext.tokenizers import build_tokenizer

    words = ("amber", "basil", "cedar", "dune", "ember", "fjord", "grove", "heron")
    line = " ".join(words[i * 5 % 8] + words[i * 3 % 8][:2] for i in range(30_000))
    tok = build_tokenizer([line], TokenizerSpec(level="bpe", vocab_size=100))
    assert tok.vocab_size == 100 and tok.decode(tok.encode(line[:500]).tolist()) == line[:500]


def test_subwords_of_a_script_without_spaces_never_decode_to_a_space():
    """SentencePiece marks each line's first piece as a word's start ("▁春"); a model sampled such pieces mid-line,
    and each decoded with a space that Chinese never has. A text without spaces gets no such marker."""
    import random

    rng = random.Random(3)
    chars = "春山夜月花風雨水雲江秋日人不見無天來寒"
    lines = ["".join(rng.choice(chars) for _ in range(rng.randint(5, 14))) + "。" for _ in range(400)]
    tok = build_tokenizer(["\n".join(lines) + "\n"], TokenizerSpec(level="bpe", vocab_size=60))
    pieces = [tok.sp.id_to_piece(i) for i in range(tok.vocab_size)]
    assert not any(p.startswith("\u2581") for p in pieces)
    assert tok.decode(tok.encode(lines[0]).tolist()) == lines[0]
    ids = [rng.randrange(3, tok.vocab_size) for _ in range(300)]
    assert " " not in tok.decode(ids)
    english = build_tokenizer([SMALL_TEXT * 20], TokenizerSpec(level="bpe", vocab_size=80))
    assert any(english.sp.id_to_piece(i).startswith("\u2581") for i in range(english.vocab_size))
