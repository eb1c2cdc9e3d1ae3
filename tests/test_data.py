import re

import numpy as np

from lstmtext.batches import LMBatches
from lstmtext.config import TokenizerSpec
from lstmtext.corpus import open_corpus
from lstmtext.data import READER, Prepared, ensure_prepared, prepare
from lstmtext.tokenizers import build_tokenizer
from tests.conftest import SMALL_TEXT


def test_prepared_folder_layout_dtype_and_split_sizes(tmp_path):
    src = tmp_path / "c.txt"
    src.write_text(SMALL_TEXT * 50, encoding="utf-8")
    meta = prepare(open_corpus(src), TokenizerSpec(level="char"), tmp_path / "prep")
    prep = Prepared.open(tmp_path / "prep")
    assert meta["dtype"] == "uint16"
    total = 0
    for split in ("train", "valid", "test"):
        arr = prep.tokens(split)
        assert isinstance(arr, np.memmap) and arr.dtype == np.uint16
        assert len(arr) == meta["splits"][split]["tokens"]
        total += len(arr)
    assert total == len(SMALL_TEXT * 50)
    assert prep.tokenizer.decode(prep.tokens("train").tolist()) + prep.tokenizer.decode(
        prep.tokens("valid").tolist()) + prep.tokenizer.decode(prep.tokens("test").tolist()) == SMALL_TEXT * 50


def test_large_vocabulary_uses_uint32(tmp_path):
    src = tmp_path / "big.txt"
    src.write_text(" ".join(f"w{i}" for i in range(70_000)) + "\n", encoding="utf-8")
    meta = prepare(open_corpus(src, valid_fraction=0.0, test_fraction=0.0), TokenizerSpec(level="word"),
                   tmp_path / "prep")
    assert meta["vocab_size"] > 65_536 and meta["dtype"] == "uint32"
    assert Prepared.open(tmp_path / "prep").tokens("train").dtype == np.uint32


def test_reuse_on_matching_hash_and_rebuild_on_change(tmp_path):
    src = tmp_path / "c.txt"
    src.write_text(SMALL_TEXT * 20, encoding="utf-8")
    spec = TokenizerSpec(level="char")
    _, reused = ensure_prepared(open_corpus(src), spec, tmp_path / "p")
    assert not reused
    _, reused = ensure_prepared(open_corpus(src), spec, tmp_path / "p")
    assert reused
    _, reused = ensure_prepared(open_corpus(src), TokenizerSpec(level="char", lowercase=True), tmp_path / "p")
    assert not reused
    src.write_text("zebra\n" + SMALL_TEXT * 21, encoding="utf-8")
    meta, reused = ensure_prepared(open_corpus(src), spec, tmp_path / "p")
    assert not reused and "z" in Prepared.open(tmp_path / "p").tokenizer.itos


def test_a_word_folder_that_cut_combining_marks_out_of_their_words_is_prepared_again(tmp_path):
    import json

    from lstmtext.tokenizers import tokenizer_from_json

    src = tmp_path / "hi.txt"
    src.write_text("आज मौसम बहुत अच्छा है।\nहम पार्क में टहलने जाएंगे।\n" * 30, encoding="utf-8")  # our own lines
    english = tmp_path / "en.txt"
    english.write_text(SMALL_TEXT * 20, encoding="utf-8")
    spec = TokenizerSpec(level="word")
    for corpus, folder in ((src, tmp_path / "hi"), (english, tmp_path / "en")):
        ensure_prepared(open_corpus(corpus), spec, folder)
        assert ensure_prepared(open_corpus(corpus), spec, folder)[1]  # reused as it is
        # the folder as a tokenizer from before 12-04 would have left it: marks cut out as tokens of their own
        saved = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        del saved["keep_marks"], saved["cut"]
        old = tokenizer_from_json(saved)
        words = {w for line in corpus.read_text(encoding="utf-8").splitlines() for w in old._pattern.findall(line)}
        saved["tokens"] = sorted(words)
        (folder / "tokenizer.json").write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
    assert not ensure_prepared(open_corpus(src), spec, tmp_path / "hi")[1]
    assert "अच्छा" in Prepared.open(tmp_path / "hi").tokenizer.itos
    assert ensure_prepared(open_corpus(english), spec, tmp_path / "en")[1]  # no marks: cut the same either way


def _as_before_12_04(folder, extra_token=None, empty_splits=()):
    """Leave ``folder`` as the corpus reader before 12-04 would have: no "reader" in meta.json, ``extra_token`` in
    its vocabulary (a CRLF file's '\r'), and ``empty_splits`` held out empty (a text of one long line)."""
    import json

    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    del meta["reader"]
    for name in empty_splits:
        meta["splits"][name].update(chars=0, tokens=0)
    if extra_token:
        saved = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        saved["tokens"].append(extra_token)
        (folder / "tokenizer.json").write_text(json.dumps(saved), encoding="utf-8")
        meta["vocab_size"] += 1
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def test_a_folder_an_older_reader_got_wrong_is_prepared_again(tmp_path):
    """Before 12-04 the reader kept the '\r' of Windows line ends, and held nothing out of a text of one long line
    (before 12-07, the '\r' of old Mac ones): such folders are prepared again, while one of the same age that it
    read right is still reused."""
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(SMALL_TEXT.replace("\n", "\r\n").encode() * 20)
    one_line = tmp_path / "one.txt"
    one_line.write_text(SMALL_TEXT.replace("\n", " ") * 20, encoding="utf-8")
    plain = tmp_path / "plain.txt"
    plain.write_text(SMALL_TEXT * 20, encoding="utf-8")
    spec = TokenizerSpec(level="char")
    for src, kw in ((crlf, {"extra_token": "\r"}), (one_line, {"empty_splits": ("valid", "test")}), (plain, {})):
        folder = tmp_path / src.stem
        ensure_prepared(open_corpus(src), spec, folder)
        _as_before_12_04(folder, **kw)
        meta, reused = ensure_prepared(open_corpus(src), spec, folder)
        assert reused == (src is plain), src
        assert src is plain or meta["reader"] == READER
    assert "\r" not in Prepared.open(tmp_path / "crlf").tokenizer.itos
    assert Prepared.open(tmp_path / "one").meta["splits"]["valid"]["tokens"] > 0
    # before 12-07 a UTF-16 folder with train and test files held nothing out of train for validation
    wide = tmp_path / "wide"
    wide.mkdir()
    (wide / "train.txt").write_text(SMALL_TEXT * 20, encoding="utf-16")
    (wide / "test.txt").write_text(SMALL_TEXT, encoding="utf-16")
    ensure_prepared(open_corpus(wide, encoding="utf-16"), spec, tmp_path / "wide-prep")
    _as_before_12_04(tmp_path / "wide-prep", empty_splits=("valid",))
    meta, reused = ensure_prepared(open_corpus(wide, encoding="utf-16"), spec, tmp_path / "wide-prep")
    assert not reused and meta["splits"]["valid"]["tokens"] > 0
    # before the second 12-07 reader a lone '\r' (old Mac line ends) was a character, not a line break: a folder
    # with it is prepared again, and a text with CR line ends now reads as the same text with LF ones does
    mac = tmp_path / "mac.txt"
    mac.write_bytes(SMALL_TEXT.replace("\n", "\r").encode() * 20)
    ensure_prepared(open_corpus(mac), spec, tmp_path / "mac")
    _as_before_12_04(tmp_path / "mac", extra_token="\r")
    meta, reused = ensure_prepared(open_corpus(mac), spec, tmp_path / "mac")
    assert not reused and meta["reader"] == READER
    for level in ("char", "word"):
        ids = {}
        for src in (mac, plain):
            ensure_prepared(open_corpus(src), TokenizerSpec(level=level), tmp_path / f"{src.stem}-{level}")
            prepared = Prepared.open(tmp_path / f"{src.stem}-{level}")  # (split where a space is, not a CR)
            ids[src] = [prepared.tokenizer.itos[i] for split in ("train", "valid", "test")
                        for i in prepared.tokens(split).tolist()]
        assert ids[mac] == ids[plain] and ids[plain].count("\n" if level == "char" else "<eos>") >= 20


def test_other_split_settings_or_columns_are_not_served_from_the_cache(tmp_path):
    """The same file split another way (--valid-fraction, --split-seed) or read from another column is other data:
    its prepared folder is rebuilt, never reused with the old split."""
    src = tmp_path / "c.txt"
    src.write_text(SMALL_TEXT * 20, encoding="utf-8")
    spec = TokenizerSpec(level="char")
    first, _ = ensure_prepared(open_corpus(src), spec, tmp_path / "p")
    meta, reused = ensure_prepared(open_corpus(src, valid_fraction=0.3), spec, tmp_path / "p")
    assert not reused and meta["splits"]["valid"]["tokens"] > 3 * first["splits"]["valid"]["tokens"]
    table = tmp_path / "t.tsv"
    table.write_text("text\ttitle\tlabel\n" + "".join(f"long text number {i}\tt{i}\t{i % 2}\n" for i in range(60)),
                     encoding="utf-8")
    by_text, _ = ensure_prepared(open_corpus(table, task="classify"), spec, tmp_path / "q", task="classify")
    _, reused = ensure_prepared(open_corpus(table, task="classify", split_seed=1), spec, tmp_path / "q",
                                task="classify")
    assert not reused
    by_title, reused = ensure_prepared(open_corpus(table, task="classify", text_column="title"), spec,
                                       tmp_path / "q", task="classify")
    assert not reused and by_title["splits"]["train"]["chars"] < by_text["splits"]["train"]["chars"] / 3


def test_the_encoding_keys_the_cache_and_settings_that_change_nothing_do_not(tmp_path):
    """Text decoded another way is other data; a split seed that draws nothing, or fractions for splits the corpus
    has files for, are not, and reuse the folder."""
    src = tmp_path / "c.txt"
    src.write_text("café au lait\n" * 200, encoding="utf-8")
    spec = TokenizerSpec(level="char")
    wrong, _ = ensure_prepared(open_corpus(src, encoding="latin-1"), spec, tmp_path / "p")
    right, reused = ensure_prepared(open_corpus(src, encoding="utf8"), spec, tmp_path / "p")
    assert not reused and right["vocab_size"] < wrong["vocab_size"]  # "é" read as one character, not two
    _, reused = ensure_prepared(open_corpus(src, split_seed=7), spec, tmp_path / "p")  # plain text: no draw
    assert reused
    folder = tmp_path / "own"
    folder.mkdir()
    for name in ("train", "valid", "test"):
        (folder / f"{name}.tsv").write_text("text\tlabel\n" + "".join(f"{name} text {i}\t{i % 2}\n" for i in range(30)),
                                          encoding="utf-8")
    first = open_corpus(folder, task="classify")
    other = open_corpus(folder, task="classify", split_seed=3, valid_fraction=0.2)
    assert first.carved == () and first.settings == other.settings
    ensure_prepared(other, spec, tmp_path / "q", task="classify")
    _, reused = ensure_prepared(first, spec, tmp_path / "q", task="classify")
    assert reused
    (folder / "valid.tsv").unlink()  # now valid is held out of train: its fraction and the seed count
    a, b = open_corpus(folder, task="classify"), open_corpus(folder, task="classify", split_seed=3)
    assert a.carved == ("valid",) and a.settings != b.settings and "test_fraction" not in a.settings


def test_lm_batches_are_contiguous_streams():
    tokens = np.arange(1000, dtype=np.uint16)
    batches = LMBatches(tokens, batch_size=4, seq_len=10)
    x0, y0 = batches.get(0)
    x1, _ = batches.get(1)
    assert x0.shape == (4, 10)
    assert np.array_equal(y0[:, :-1], x0[:, 1:])
    assert np.array_equal(x1[:, 0], x0[:, -1] + 1)  # batch 1 continues each stream
    assert np.array_equal(x0[:, 0], [0, 250, 500, 750])
    assert len(batches) == 249 // 10


def test_shifted_lm_windows_move_each_epoch_and_stay_contiguous_and_in_bounds():
    tokens = np.arange(1000, dtype=np.uint16)
    batches = LMBatches(tokens, batch_size=4, seq_len=10, shift=True)
    assert len(batches) == (249 - 9) // 10  # the same count at every offset
    offsets = set()
    for epoch in range(30):
        batches.start_epoch(7, epoch)
        offsets.add(batches.offset)
        windows = [batches.window(i) for i in range(len(batches))]
        assert all(w.shape == (4, 11) for w in windows)  # no offset runs a window off a stream's end
        assert windows[0][0, 0] == batches.offset
        for a, b in zip(windows, windows[1:]):
            assert np.array_equal(b[:, 0], a[:, -1])  # each window continues the last
    assert len(offsets) >= 8 and offsets <= set(range(10))  # the boundaries move
    again = LMBatches(tokens, batch_size=4, seq_len=10, shift=True)
    again.start_epoch(7, 3)
    batches.start_epoch(7, 3)
    assert again.offset == batches.offset  # a function of the seed and the epoch: resumes agree
    fixed = LMBatches(tokens, batch_size=4, seq_len=10)
    fixed.start_epoch(7, 3)
    assert fixed.offset == 0 and len(fixed) == 24


def test_overwriting_a_prepared_folder_keeps_the_users_other_files(tmp_path):
    src = tmp_path / "c.txt"
    src.write_text(SMALL_TEXT * 20, encoding="utf-8")
    folder = tmp_path / "p"
    prepare(open_corpus(src), TokenizerSpec(level="char"), folder)
    (folder / "notes.txt").write_text("mine")
    (folder / "c.txt").write_text(SMALL_TEXT * 20, encoding="utf-8")  # even the corpus, kept inside
    meta = prepare(open_corpus(folder / "c.txt"), TokenizerSpec(level="word"), folder)
    assert meta["tokenizer"]["level"] == "word" and Prepared.open(folder).level == "word"
    assert (folder / "notes.txt").read_text() == "mine" and (folder / "c.txt").read_text() == SMALL_TEXT * 20


def test_a_failed_or_killed_swap_loses_neither_the_users_files_nor_the_old_data(tmp_path, monkeypatch):
    """Preparing again sets the old folder aside whole until the new one is in place: a rename that fails there
    puts it back, and what a killed process had set aside the next run puts back."""
    import os
    import subprocess

    import pytest

    import lstmtext.data as data
    from lstmtext.errors import UserError

    src = tmp_path / "c.txt"
    src.write_text(SMALL_TEXT * 20, encoding="utf-8")
    folder = tmp_path / "p"
    prepare(open_corpus(src), TokenizerSpec(level="char"), folder)
    (folder / "notes.txt").write_text("mine")
    real = os.replace

    def failing(a, b):
        if os.path.dirname(a) == str(tmp_path) and os.path.basename(a).startswith(".p.tmp-"):  # the new data
            raise PermissionError(13, "Permission denied (as on Windows, a file held open)")
        return real(a, b)

    monkeypatch.setattr(data.os, "replace", failing)
    with pytest.raises(UserError, match="could not write the prepared data"):
        prepare(open_corpus(src), TokenizerSpec(level="word"), folder)
    monkeypatch.setattr(data.os, "replace", real)
    assert Prepared.open(folder).level == "char" and (folder / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt", "p"]

    dead = subprocess.Popen(["true"])  # a process id that is gone
    dead.wait()
    aside = tmp_path / f".p.old-{dead.pid}"  # killed after setting the old folder aside, before the new one came
    folder.rename(aside)
    meta = prepare(open_corpus(src), TokenizerSpec(level="char"), folder)  # the next run: the old data back
    assert meta["tokenizer"]["level"] == "char" and (folder / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt", "p"]
    aside.mkdir()  # killed after the new folder came, before the user's files were moved over
    (folder / "notes.txt").rename(aside / "notes.txt")
    (aside / "train.bin").write_bytes(b"old")
    ensure_prepared(open_corpus(src), TokenizerSpec(level="char"), folder)  # reused: and the files moved back
    assert (folder / "notes.txt").read_text() == "mine" and not aside.exists()


def test_what_a_killed_run_of_the_same_process_id_set_aside_is_put_back_not_dropped(tmp_path, monkeypatch):
    """In a container every run may be PID 1: a folder set aside under this process's own id is a killed run's,
    and neither the next preparation nor a command that only reads the folder loses it."""
    import os

    import lstmtext.data as data
    from lstmtext.data import is_prepared

    src = tmp_path / "c.txt"
    src.write_text(SMALL_TEXT * 20, encoding="utf-8")
    folder = tmp_path / "p"
    prepare(open_corpus(src), TokenizerSpec(level="char"), folder)
    (folder / "notes.txt").write_text("mine")
    folder.rename(tmp_path / f".p.old-{os.getpid()}")  # killed after setting it aside, before the new one came
    assert is_prepared(folder) and (folder / "notes.txt").read_text() == "mine"  # a read puts it back
    aside = tmp_path / f".p.old-{os.getpid()}"
    aside.mkdir()  # killed after the new folder came, before the user's files were moved over
    (folder / "notes.txt").rename(aside / "notes.txt")
    prepare(open_corpus(src), TokenizerSpec(level="word"), folder, force=True)
    assert (folder / "notes.txt").read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["c.txt", "p"]

    real = os.replace  # a file held open (Windows) cannot be moved back: it stays, named, and nothing is lost
    monkeypatch.setattr(data.os, "replace", lambda a, b: (_ for _ in ()).throw(PermissionError(13, "held open"))
                        if os.path.basename(a) == "notes.txt" else real(a, b))
    meta = prepare(open_corpus(src), TokenizerSpec(level="char"), folder, force=True)
    assert meta["tokenizer"]["level"] == "char" and Prepared.open(folder).level == "char"
    assert any("could not move notes.txt back into" in w for w in meta["warnings"]), meta["warnings"]
    [kept] = [p for p in tmp_path.iterdir() if p.name.startswith(".p.old-")]
    assert (kept / "notes.txt").read_text() == "mine"


def test_a_damaged_classifier_folder_is_a_user_error(tmp_path):
    import json

    import pytest

    from lstmtext.errors import UserError

    table = tmp_path / "t.tsv"
    table.write_text("text\tlabel\n" + "".join(f"text number {i}\t{i % 3}\n" for i in range(60)), encoding="utf-8")
    good = tmp_path / "good"
    prepare(open_corpus(table, task="classify"), TokenizerSpec(level="word"), good, task="classify")
    Prepared.open(good).records("train")

    def damaged(name, edit):
        import shutil

        folder = tmp_path / name
        shutil.copytree(good, folder)
        edit(folder)
        with pytest.raises(UserError) as exc:
            Prepared.open(folder).records("valid")
        return str(exc.value)

    def truncate(f):
        f.write_bytes(f.read_bytes()[:20])

    def edit_meta(**changes):
        def edit(folder):
            meta = json.loads((folder / "meta.json").read_text())
            meta.update(changes)
            (folder / "meta.json").write_text(json.dumps(meta))
        return edit

    assert "cannot be read" in damaged("short", lambda f: truncate(f / "valid.offsets.npy"))
    assert "damaged prepared folder: its valid.labels.npy is missing" in damaged(
        "gone", lambda f: (f / "valid.labels.npy").unlink())
    assert "label ids beyond the 2 labels" in damaged("labels", edit_meta(labels=["0", "1"]))
    assert "lacks the splits" in damaged("one label", edit_meta(labels=["0"]))
    assert "lacks the splits" in damaged("splits", edit_meta(splits=None))
    assert "lacks the splits" in damaged("dtype", edit_meta(dtype="int8"))


def test_a_vocabulary_that_leaves_out_most_of_the_text_is_warned_about(tmp_path):
    src = tmp_path / "c.txt"
    src.write_text(SMALL_TEXT * 20, encoding="utf-8")
    meta = prepare(open_corpus(src), TokenizerSpec(level="word", min_freq=100), tmp_path / "p")
    assert any("of the train split's tokens are <unk>" in w and "lower --min-freq" in w for w in meta["warnings"])
    assert not any("<unk>" in w for w in prepare(open_corpus(src), TokenizerSpec(level="word"),
                                                 tmp_path / "q")["warnings"])
    # the vocabulary of an --init-from model cannot take --min-freq or --vocab-size: the hint says what can help
    other = build_tokenizer(["entirely other words here"], TokenizerSpec(level="word"))
    warned = prepare(open_corpus(src), TokenizerSpec(level="word"), tmp_path / "r", tokenizer=other)["warnings"]
    assert any("<unk>" in w and "--init-from model's" in w and "--extend-vocab" in w for w in warned)


def test_a_folder_another_run_prepared_meanwhile_is_kept_not_replaced(tmp_path):
    """Two runs started at once on a new corpus prepare the same cache folder: the one that finishes second keeps
    the first one's folder (which that run may be training from) rather than deleting it under it."""
    src = tmp_path / "c.txt"
    src.write_text(SMALL_TEXT * 20, encoding="utf-8")
    spec = TokenizerSpec(level="char")
    first = prepare(open_corpus(src), spec, tmp_path / "p")
    inode = (tmp_path / "p" / "train.bin").stat().st_ino
    second = prepare(open_corpus(src), spec, tmp_path / "p")  # as if it had started before the first finished
    assert second == first and (tmp_path / "p" / "train.bin").stat().st_ino == inode
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".p.tmp")]
    forced = prepare(open_corpus(src), spec, tmp_path / "p", force=True)  # tokenize --overwrite: asked for
    assert (tmp_path / "p" / "train.bin").stat().st_ino != inode and forced["source_hash"] == first["source_hash"]


def test_held_out_texts_that_train_has_word_for_word_are_named(tmp_path):
    rows = [f"review number {i} was {'good' if i % 2 else 'bad'}\t{i % 2}" for i in range(400)]
    (tmp_path / "unique.tsv").write_text("text\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    meta = prepare(open_corpus(tmp_path / "unique.tsv", task="classify", valid_fraction=0.1, test_fraction=0.1),
                   TokenizerSpec(level="word"), tmp_path / "p", task="classify")
    assert not any("in train too" in w for w in meta["warnings"])
    rows += ["same old text\t1"] * 100 + ["another repeat\t0"] * 100  # scraped reviews: repeats
    (tmp_path / "repeats.tsv").write_text("text\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    meta = prepare(open_corpus(tmp_path / "repeats.tsv", task="classify", valid_fraction=0.1, test_fraction=0.1),
                   TokenizerSpec(level="word"), tmp_path / "q", task="classify")
    shared = [w for w in meta["warnings"] if "in train too" in w]
    assert len(shared) == 2 and re.match(r"\d+ of the 60 valid texts \(\d+%\) are in train too, word for word, so "
                                         "the valid figures overstate how the model does on new text", shared[0])
    assert re.match(r"\d+ of the 60 test texts", shared[1]), shared
