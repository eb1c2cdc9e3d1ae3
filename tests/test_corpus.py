import json

import pytest

from lstmtext.corpus import open_corpus
from lstmtext.errors import UserError
from tests.conftest import SMALL_TEXT, assert_one_line_error


def joined(split) -> str:
    return "".join(split.texts())


def test_single_file_tail_hold_out_is_deterministic_and_line_aligned(tmp_path):
    lines = [f"line number {i} of the little test file\n" for i in range(400)]
    path = tmp_path / "notes.txt"
    path.write_text("".join(lines), encoding="utf-8")
    corpus = open_corpus(path, valid_fraction=0.1, test_fraction=0.05)
    parts = {s: joined(corpus.splits[s]) for s in ("train", "valid", "test")}
    assert parts["train"] + parts["valid"] + parts["test"] == "".join(lines)
    for text in parts.values():
        assert text.endswith("\n")
    assert 0.08 < len(parts["valid"]) / len(path.read_text()) < 0.12
    assert parts["test"] == joined(open_corpus(path, valid_fraction=0.1, test_fraction=0.05).splits["test"])


@pytest.mark.parametrize("chunk", [1 << 20, 5, 7])  # small chunks put a '\r' at the end of one, its '\n' in the next
def test_windows_line_ends_read_as_newlines(tmp_path, monkeypatch, chunk):
    from lstmtext import textfiles

    monkeypatch.setattr(textfiles, "CHUNK_BYTES", chunk)
    text = SMALL_TEXT * 30
    (tmp_path / "unix.txt").write_bytes(text.encode("utf-8"))
    (tmp_path / "windows.txt").write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    unix, windows = open_corpus(tmp_path / "unix.txt"), open_corpus(tmp_path / "windows.txt")
    for name in ("train", "valid", "test"):
        assert joined(windows.splits[name]) == joined(unix.splits[name])
    assert "\r" not in joined(windows.splits["train"])


def test_a_line_longer_than_the_carry_is_cut_after_a_space_never_inside_a_word(tmp_path, monkeypatch):
    from lstmtext import textfiles

    monkeypatch.setattr(textfiles, "CHUNK_BYTES", 64)
    monkeypatch.setattr(textfiles, "_MAX_CARRY", 100)
    text = " ".join(f"word{i:04d}" for i in range(2000)) + "\n"  # one 18 kB line
    (tmp_path / "long.txt").write_text(text, encoding="utf-8")
    chunks = list(textfiles._read_range(tmp_path / "long.txt", 0, len(text), "utf-8"))
    assert "".join(chunks) == text and len(chunks) > 50
    assert all(chunk.endswith(" ") for chunk in chunks[:-1])


def test_a_text_of_one_line_still_gets_its_held_out_splits(tmp_path):
    # one long line of words: the splits start after a space, so no word is cut in two
    words = (SMALL_TEXT * 40).replace("\n", " ")
    (tmp_path / "words.txt").write_text(words, encoding="utf-8")
    corpus = open_corpus(tmp_path / "words.txt", valid_fraction=0.1, test_fraction=0.05)
    parts = [joined(corpus.splits[s]) for s in ("train", "valid", "test")]
    assert "".join(parts) == words and all(parts)
    assert parts[0].endswith(" ") and parts[1].endswith(" ")
    # words of many lengths, no line break at all, the file ending within reach of the cut: after a space still,
    # in UTF-8 and in any other ASCII-compatible encoding
    many = " ".join(("ab", "cdefg", "hijklmnopq", "rst", "uvwxyzabcdefghij")[i * 7 % 5] for i in range(3001))
    (tmp_path / "many.txt").write_text(many, encoding="utf-8")
    for encoding in ("utf-8", "latin-1"):
        for fractions in ((0.1, 0.05), (0.07, 0.13), (0.033, 0.011)):
            corpus = open_corpus(tmp_path / "many.txt", encoding=encoding, valid_fraction=fractions[0],
                                 test_fraction=fractions[1])
            parts = [joined(corpus.splits[s]) for s in ("train", "valid", "test")]
            assert "".join(parts) == many and all(parts), (encoding, fractions)
            assert parts[0].endswith(" ") and parts[1].endswith(" "), (encoding, fractions)
    # one line of Chinese (no spaces, no line breaks): the splits start at a character boundary
    poem = "".join(chr(0x4E00 + (i * 37) % 500) for i in range(6000))  # ideographs in a made-up order
    (tmp_path / "poem.txt").write_text(poem, encoding="utf-8")
    corpus = open_corpus(tmp_path / "poem.txt", valid_fraction=0.1, test_fraction=0.1)
    parts = [joined(corpus.splits[s]) for s in ("train", "valid", "test")]
    assert "".join(parts) == poem and 0.08 < len(parts[1]) / len(poem) < 0.12 and parts[2]


def test_a_held_out_split_that_cannot_be_cut_is_warned_about(cli, tmp_path):
    poem = "".join(chr(0x4E00 + (i * 37) % 500) for i in range(3000))  # one line, no spaces
    (tmp_path / "poem.txt").write_bytes(poem.encode("gbk"))  # GBK has no byte-safe cut without either
    result = cli("tokenize", "poem.txt", "--encoding", "gbk", "--out", "prep")
    assert result.code == 0, result.err
    assert "warning: the valid split held out of poem.txt is empty" in result.err and "or line breaks" in result.err


def test_folder_with_own_split_files(tmp_path):
    (tmp_path / "ptb.train.txt").write_text("a b c\n" * 50)
    (tmp_path / "ptb.valid.txt").write_text("b c\n" * 5)
    (tmp_path / "ptb.test.txt").write_text("c a\n" * 7)
    corpus = open_corpus(tmp_path)
    assert corpus.own_splits
    assert joined(corpus.splits["train"]) == "a b c\n" * 50
    assert joined(corpus.splits["valid"]) == "b c\n" * 5
    assert joined(corpus.splits["test"]) == "c a\n" * 7
    assert corpus.warnings == []
    (tmp_path / "notes.txt").write_text("not part of the data\n")
    (tmp_path / "README.md").write_text("# about\n")
    assert open_corpus(tmp_path).warnings == [f"{tmp_path} has files this corpus leaves out (not named train, "
                                              "valid or test): notes.txt"]


def test_folder_of_text_files_is_concatenated(tmp_path):
    (tmp_path / "a.txt").write_text(SMALL_TEXT * 20)
    (tmp_path / "b.txt").write_text(SMALL_TEXT * 20)
    corpus = open_corpus(tmp_path, valid_fraction=0.05, test_fraction=0.05)
    total = sum(len(joined(corpus.splits[s])) for s in ("train", "valid", "test"))
    assert total == 2 * len(SMALL_TEXT * 20)
    (tmp_path / "cover.jpg").write_bytes(bytes(range(256)) * 8)
    warnings = open_corpus(tmp_path, valid_fraction=0.05, test_fraction=0.05).warnings
    assert f"{tmp_path.name}'s held-out splits are the end of its files taken in name order (valid from b.txt; " \
        "test from b.txt), not a sample of each: name files valid.txt and test.txt to choose them" in warnings
    assert f"{tmp_path} has files this corpus leaves out (binary, not text): cover.jpg" in warnings


def test_tables_detect_the_text_column(tmp_path):
    csv_path = tmp_path / "t.csv"
    csv_path.write_text('id,review\n1,"Good, really ""good"" soup"\n2,plain\n3,third\n', encoding="utf-8")
    corpus = open_corpus(csv_path, valid_fraction=0.0, test_fraction=0.0)
    assert corpus.text_column == "review"
    assert joined(corpus.splits["train"]) == 'Good, really "good" soup\nplain\nthird\n'
    jl = tmp_path / "t.jsonl"
    jl.write_text("\n".join(json.dumps({"content": f"row {i}"}) for i in range(20)) + "\n")
    corpus = open_corpus(jl)
    assert corpus.text_column == "content"
    assert joined(corpus.splits["test"]) == "row 19\n"


def test_a_json_array_of_objects_is_read_with_the_lines_its_items_start_on(tmp_path):
    items = [{"text": f"row {i}", "label": "ab"[i % 2]} for i in range(20)]
    items.insert(3, ["not", "an", "object"])
    path = tmp_path / "rows.json"
    path.write_text("\ufeff  " + json.dumps(items, indent=2) + "\n", encoding="utf-8")
    corpus = open_corpus(path, task="classify", valid_fraction=0.0, test_fraction=0.0)
    records = list(corpus.splits["train"].records())
    assert [text for text, *_ in records] == [f"row {i}" for i in range(20)]
    assert [label for _, label, *_ in records][:3] == ["a", "b", "a"]
    lines = path.read_text(encoding="utf-8").splitlines()
    for text, _, _, line in records:  # an item's line holds its opening brace; the next one its text
        assert lines[line - 1].strip() == "{" and text in lines[line]
    assert corpus.report.skipped == [(str(path), 14, "not a JSON object")]
    assert lines[13].strip() == "["

    path.write_text(json.dumps(items[:5], indent=2).replace('"row 2"', "row 2"))
    with pytest.raises(UserError, match=r"not valid JSON at line 11, column 13"):
        list(open_corpus(path, valid_fraction=0.0, test_fraction=0.0).splits["train"].records())
    path.write_text(json.dumps({"data": items}, indent=2))
    with pytest.raises(UserError, match="rows.json is one JSON object, not records .*jq '.data'"):
        open_corpus(path)


def test_a_json_object_that_wraps_its_records_says_to_extract_them(cli, tmp_path):
    """{"data": [...]} on one line was read as one record of one column, 'data', with a CSV's advice for a header
    that may be a text, which led on to "the 'data' field is a list"."""
    items = [{"text": f"row {i}", "label": "ab"[i % 2]} for i in range(20)]
    (tmp_path / "obj.json").write_text(json.dumps({"version": "1.0", "data": items}))
    for task in ("lm", "classify"):
        assert_one_line_error(cli("tokenize", "obj.json", "--task", task), 1, "obj.json is one JSON object, not "
                              "records (give a JSON array of records, or JSON Lines (one object per line); its "
                              "'data' field holds a list of 20 records: extract it, e.g. jq '.data' obj.json > "
                              "records.json)")
    (tmp_path / "nested.json").write_text(json.dumps({"splits": {"my train": items[:3]}}, indent=2))
    assert_one_line_error(cli("tokenize", "nested.json"), 1, "list of 3 records", """jq '.splits["my train"]'""")
    (tmp_path / "columns.json").write_text(json.dumps({"text": ["a good film", "a dull one"], "label": [1, 0]}))
    assert_one_line_error(cli("tokenize", "columns.json"), 1, "the 'text' field is a list")  # columns: no jq
    (tmp_path / "one.json").write_text(json.dumps({"text": "a record alone", "tags": ["a", "b"]}))
    assert joined(open_corpus(tmp_path / "one.json", valid_fraction=0.0, test_fraction=0.0).splits["train"]) \
        == "a record alone\n"
    (tmp_path / "msg.jsonl").write_text(json.dumps({"msg": "the cat sat", "tags": ["pets", "animals"]}) + "\n")
    read = open_corpus(tmp_path / "msg.jsonl", text_column="msg", valid_fraction=0.0, test_fraction=0.0)
    assert joined(read.splits["train"]) == "the cat sat\n"  # one record of JSON Lines, its own text beside tags
    cut = '{"text": "cut short\n' + "".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(9))
    (tmp_path / "cut.jsonl").write_text(cut)  # JSON Lines whose first line is broken: skipped, the rest read
    corpus = open_corpus(tmp_path / "cut.jsonl", valid_fraction=0.0, test_fraction=0.0)
    assert joined(corpus.splits["train"]).splitlines() == [f"row {i}" for i in range(9)]
    assert [line for _, line, _ in corpus.report.skipped] == [1]


def test_tsv_with_quote_characters_is_read_whole(tmp_path):
    path = tmp_path / "q.tsv"
    rows = ['"quoted at the start', 'an "inner" quote', 'a lone " mark', "plain"]
    path.write_text("text\tlabel\n" + "".join(f"{r}\t1\n" for r in rows), encoding="utf-8")
    corpus = open_corpus(path, valid_fraction=0.0, test_fraction=0.0)
    assert joined(corpus.splits["train"]).splitlines() == rows


def test_parquet_and_saved_hf_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")  # a dependency; absent only on the bare GPU image

    ds = datasets.Dataset.from_dict({"sentence": [f"s {i}" for i in range(30)], "label": [i % 2 for i in range(30)]})
    ds.to_parquet(str(tmp_path / "d.parquet"))
    corpus = open_corpus(tmp_path / "d.parquet", valid_fraction=0.1, test_fraction=0.1)
    assert joined(corpus.splits["valid"]) == "s 24\ns 25\ns 26\n"
    datasets.DatasetDict({"train": ds, "validation": ds.select(range(3))}).save_to_disk(str(tmp_path / "saved"))
    corpus = open_corpus(tmp_path / "saved")
    assert joined(corpus.splits["valid"]) == "s 0\ns 1\ns 2\n"
    assert len(joined(corpus.splits["train"]).splitlines()) + len(joined(corpus.splits["test"]).splitlines()) == 30


def test_saved_hf_dataset_without_validation_is_held_out_stratified_for_classification(tmp_path):
    datasets = pytest.importorskip("datasets")

    labels = ["pos"] * 80 + ["neg"] * 20  # sorted by label: a tail hold-out would be all "neg"
    ds = datasets.Dataset.from_dict({"text": [f"t {i}" for i in range(100)], "label": labels})
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "saved"))

    def split_rows(seed):
        corpus = open_corpus(tmp_path / "saved", task="classify", valid_fraction=0.1, test_fraction=0.1,
                             split_seed=seed)
        return {s: [(t, lab) for t, lab, _, _ in corpus.splits[s].records()] for s in ("train", "valid", "test")}

    rows = split_rows(0)
    for split, n in (("valid", 10), ("test", 10), ("train", 80)):
        assert len(rows[split]) == n
        assert sum(lab == "neg" for _, lab in rows[split]) == n // 5  # each split keeps the 80/20 share
    texts = [t for s in rows.values() for t, _ in s]
    assert sorted(texts) == sorted(f"t {i}" for i in range(100))  # a partition: nothing lost or repeated
    assert split_rows(0) == rows and split_rows(1)["valid"] != rows["valid"]  # --split-seed decides
    lm = open_corpus(tmp_path / "saved", valid_fraction=0.1, test_fraction=0.1)  # lm: the tail, in order
    assert [t for t, *_ in lm.splits["test"].records()] == [f"t {i}" for i in range(90, 100)]


def test_hub_id_offline_is_a_one_line_user_error():
    def offline(_name):
        raise ConnectionError("Couldn't reach the hub")

    with pytest.raises(UserError) as info:
        open_corpus("someone/some-dataset", hf_loader=offline)
    assert "hub" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("setup,words", [
    (lambda p: p / "missing.txt", ["not found"]),
    (lambda p: (p / "empty.txt").write_text("") and p / "empty.txt" or p / "empty.txt", ["empty"]),
    (lambda p: (p / "bin").mkdir() or (p / "bin" / "x.dat").write_bytes(b"\x00\x01\x02") and p / "bin", ["no text"]),
])
def test_bad_sources(tmp_path, setup, words):
    with pytest.raises(UserError) as info:
        open_corpus(setup(tmp_path))
    for w in words:
        assert w in str(info.value)


def test_invalid_utf8_reports_byte_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\nsecond line \xff here\n")
    corpus = open_corpus(path, valid_fraction=0.0, test_fraction=0.0)
    with pytest.raises(UserError) as info:
        joined(corpus.splits["train"])
    assert "byte 22" in str(info.value) and "line 2" in str(info.value) and "--encoding" in str(info.value)
    latin = open_corpus(path, encoding="latin-1", valid_fraction=0.0, test_fraction=0.0)
    assert "ÿ" in joined(latin.splits["train"])


def test_utf16_is_detected_and_readable_with_encoding(tmp_path):
    path = tmp_path / "u16.txt"
    path.write_text("hello there\n" * 30, encoding="utf-16")
    for encoding in ("utf-8", "utf-16"):  # the byte-order mark makes the default read it as UTF-16 too
        corpus = open_corpus(path, encoding=encoding)
        assert "".join(joined(corpus.splits[s]) for s in ("train", "valid", "test")) == "hello there\n" * 30
        assert corpus.settings["encoding"] == "utf-16"
    assert open_corpus(path).warnings == [f"{path} starts with a UTF-16 byte-order mark: read as UTF-16 (as "
                                          "--encoding utf-16)"]
    assert open_corpus(path, encoding="utf-16").warnings == []
    (tmp_path / "u8.txt").write_text("hello there\n" * 30, encoding="utf-8")
    with pytest.raises(UserError) as info:  # one encoding reads all the files: a mix is refused
        open_corpus(tmp_path)
    assert "u16.txt looks like UTF-16 (it starts with a byte-order mark)" in str(info.value)


def test_utf16_with_a_byte_order_mark_is_read_without_encoding_and_prepared_once(tmp_path, cli):
    """A byte-order mark leaves no doubt: text, tables and label folders are read as UTF-16 at the default
    --encoding (it was refused, with 'pass --encoding utf-16'), and the prepared data records utf-16, so that a
    run with --encoding utf-16 reuses it."""
    rows = "".join(f"row {i} café,{'ab'[i % 2]}\n" for i in range(40))
    (tmp_path / "t.csv").write_text("text,label\n" + rows, encoding="utf-16")
    corpus = open_corpus(tmp_path / "t.csv", task="classify", valid_fraction=0.0, test_fraction=0.0)
    assert [(text, label) for text, label, _, _ in corpus.splits["train"].records()][:2] == \
        [("row 0 café", "a"), ("row 1 café", "b")]
    for label in ("pos", "neg"):
        (tmp_path / "labels" / label).mkdir(parents=True)
        for i in range(10):
            (tmp_path / "labels" / label / f"{i}.txt").write_text(f"{label} text {i} é", encoding="utf-16")
    corpus = open_corpus(tmp_path / "labels", task="classify", valid_fraction=0.0, test_fraction=0.0)
    assert sorted(text for text, *_ in corpus.splits["train"].records())[:2] == ["neg text 0 é", "neg text 1 é"]
    assert corpus.settings["encoding"] == "utf-16" and "the files of labels start with a UTF-16" in corpus.warnings[0]
    (tmp_path / "ft").mkdir()  # fastText's lines in a folder
    (tmp_path / "ft" / "train.txt").write_text("".join(f"__label__{'ab'[i % 2]} text {i}\n" for i in range(20)),
                                               encoding="utf-16")
    corpus = open_corpus(tmp_path / "ft", task="classify", valid_fraction=0.0, test_fraction=0.0)
    assert next(corpus.splits["train"].records())[:2] == ("text 0", "a")
    (tmp_path / "u16.txt").write_text("hello there\n" * 30, encoding="utf-16")
    first = cli("tokenize", "u16.txt", "--out", "prep")
    assert first.code == 0 and "warning: u16.txt starts with a UTF-16 byte-order mark: read as UTF-16" in first.err
    for again in ([], ["--encoding", "utf-16"]):
        result = cli("tokenize", "u16.txt", "--out", "prep", *again)
        assert result.code == 0 and "prepared data: prep (reused)" in result.out, result.out + result.err


def test_missing_text_column_lists_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(UserError) as info:
        open_corpus(path)
    assert "columns found: a, b" in str(info.value) and info.value.exit_code == 2


def test_csv_with_quote_characters_is_read_whole(tmp_path):
    from lstmtext.config import TokenizerSpec
    from lstmtext.data import prepare

    path = tmp_path / "q.csv"
    texts = ['He said "hi" and left', "a lone \" in the middle", '"fully, quoted"', "5\" screen"]
    body = 'He said "hi" and left,1\na lone " in the middle,0\n"""fully, quoted""",1\n5" screen,0\n'
    path.write_text("text,label\n" + body, encoding="utf-8")
    corpus = open_corpus(path, valid_fraction=0.0, test_fraction=0.0)
    assert joined(corpus.splits["train"]).splitlines() == texts
    meta = prepare(corpus, TokenizerSpec(level="char"), tmp_path / "prep")
    assert meta["splits"]["train"]["records"] == body.count("\n")
    assert meta["skipped_count"] == 0


def test_a_stray_csv_quote_that_a_later_quote_closes_is_warned_about(tmp_path, cli):
    """A quote that never closes on its line ran on to the next quote at a field's start, and the lines between
    became one record's text without a word (81 data lines, 73 records). A field that holds line breaks, one of
    them reading as a record, is no stray quote (it closes before a comma), and is not warned about."""
    lines = [f"row {i},pos\n" for i in range(2, 83)]
    lines[30] = '"this never closes,pos\n'  # line 32
    lines[38] = '"a quoted text",neg\n'  # line 40, whose opening quote closes line 32's
    (tmp_path / "t.csv").write_text("text,label\n" + "".join(lines))
    corpus = open_corpus(tmp_path / "t.csv", valid_fraction=0.0, test_fraction=0.0)
    for _ in range(2):  # noted once, however many times it is read
        assert len(list(corpus.splits["train"].records())) == 73
    warning = (f"{tmp_path / 't.csv'} line 32: a quoted field runs over the line break into line 33, which reads "
               "as a record of its own, to a quote on line 40, so lines 32-40 are read as one record (close the "
               'quote, or write a quote inside a field as two (""))')
    assert corpus.warnings == [warning] and corpus.report.skipped == []
    result = cli("tokenize", "t.csv", "--out", "prep")
    assert result.code == 0 and "warning: t.csv line 32: a quoted field runs over the line break" in result.err
    lines[38] = '"a quoted, text",neg\n'  # three fields: skipped, and the reason says why
    (tmp_path / "t.csv").write_text("text,label\n" + "".join(lines))
    corpus = open_corpus(tmp_path / "t.csv", valid_fraction=0.0, test_fraction=0.0)
    assert len(list(corpus.splits["train"].records())) == 72
    assert corpus.report.skipped == [(str(tmp_path / "t.csv"), 32, "has 3 fields, the header has 2: a quoted field "
                                      "runs over the line break into line 33, which reads as a record of its own, "
                                      "to a quote on line 40")]
    (tmp_path / "t.csv").write_text('text,label\n"one\nrow 2,pos\n\nthree, and",pos\n' + "".join(lines[:30]))
    corpus = open_corpus(tmp_path / "t.csv", valid_fraction=0.0, test_fraction=0.0)
    assert [text for text, *_ in corpus.splits["train"].records()][:2] == ["one\nrow 2,pos\n\nthree, and", "row 2"]
    assert corpus.warnings == [] and corpus.report.skipped == []


def test_a_stratified_hold_out_fills_its_splits_from_many_small_classes():
    """Each split gets its fraction of all the rows, not of each class rounded alone: 50 classes of 9 rows had
    given an empty validation split (9 x 5% rounds to 0), and so did two classes of 10."""
    from collections import Counter

    from lstmtext.splits import stratified_picks

    for labels in ([f"c{c}" for c in range(50) for _ in range(9)], ["a"] * 10 + ["b"] * 10,
                   ["pos"] * 500 + ["neg"] * 480 + ["odd"] * 2):
        picks = stratified_picks(labels, {"valid": 0.05, "test": 0.05}, seed=3)
        want = round(len(labels) * 0.05)
        assert len(picks["valid"]) == len(picks["test"]) == want, labels[:3]
        assert sorted(picks["train"] + picks["valid"] + picks["test"]) == list(range(len(labels)))
        assert {labels[i] for i in picks["train"]} == set(labels)  # every class keeps a row to learn from
        counts, valid = Counter(labels), Counter(labels[i] for i in picks["valid"])
        assert all(abs(valid[c] - counts[c] * 0.05) < 1 for c in counts)  # each class at its share
        assert picks == stratified_picks(labels, {"valid": 0.05, "test": 0.05}, seed=3)
    assert stratified_picks(["a", "b"], {"valid": 0.1}, seed=0)["valid"] == []  # one row each: nothing to spare


def texts_of(split):
    return [text for text, _, _, _ in split.records()]


def test_a_folder_takes_its_columns_from_the_train_file(tmp_path):
    """The columns are the train file's (dev and test sort before it); a held-out file without them, like a Kaggle
    test.csv with no labels, is left out with a warning, and its split is held out of train."""
    (tmp_path / "train.csv").write_text("id,text,label\n" + "".join(f"{i},good {i},pos\n{i},bad {i},neg\n"
                                                                    for i in range(40)))
    (tmp_path / "dev.csv").write_text("id,text,label\n1,fine,pos\n2,poor,neg\n")
    (tmp_path / "test.csv").write_text("id,text\n" + "".join(f"{i},unlabelled {i}\n" for i in range(10)))
    corpus = open_corpus(tmp_path, task="classify", label_column="label")
    assert texts_of(corpus.splits["valid"]) == ["fine", "poor"]
    test = texts_of(corpus.splits["test"])
    assert len(test) == 4 and all(t.startswith(("good", "bad")) for t in test)  # 5% of train's 80 rows
    assert not set(test) & set(texts_of(corpus.splits["train"]))
    assert any("test.csv has no 'label' column" in w and "held out of train" in w for w in corpus.warnings)


def test_a_folder_without_a_train_file_keeps_its_named_splits(tmp_path):
    (tmp_path / "a.txt").write_text("first book\n" * 30)
    (tmp_path / "b.txt").write_text("second book\n" * 30)
    (tmp_path / "test.txt").write_text("held out\n" * 5)
    corpus = open_corpus(tmp_path)
    assert joined(corpus.splits["test"]) == "held out\n" * 5
    assert "held out" not in joined(corpus.splits["train"]) + joined(corpus.splits["valid"])
    assert corpus.warnings == [(f"{tmp_path} has no file named train: training on the others, with test.txt held "
                                "out as named")]
    only = tmp_path / "only"
    only.mkdir()
    (only / "valid.txt").write_text(SMALL_TEXT * 10)
    corpus = open_corpus(only)
    assert joined(corpus.splits["train"]).startswith(SMALL_TEXT) and "no file named train, only valid.txt" in \
        corpus.warnings[0]


def test_a_folder_of_both_kinds_reads_the_kind_that_holds_the_text(tmp_path):
    """Books with a small info.json are a text corpus; CSV files with a notes.txt are tables; a classifier always
    reads the tables. Files in subfolders beside top-level files are named as left out."""
    (tmp_path / "a.txt").write_text(SMALL_TEXT * 30)
    (tmp_path / "info.json").write_text('{"title": "tales"}\n')
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "draft.txt").write_text("a draft\n")
    corpus = open_corpus(tmp_path)
    assert corpus.kind == "text" and SMALL_TEXT in joined(corpus.splits["train"])
    assert any("leaves out (tables beside plain text): info.json" in w for w in corpus.warnings)
    assert any("subfolders this corpus leaves out" in w and "old" in w for w in corpus.warnings)
    (tmp_path / "LICENSE").write_text("terms of use\n")
    (tmp_path / "make.py").write_text("print('hi')\n")
    corpus = open_corpus(tmp_path)
    assert "terms" not in joined(corpus.splits["train"]) + joined(corpus.splits["valid"])
    assert any("leaves out (not .txt, beside .txt files): LICENSE, info.json, make.py" in w for w in corpus.warnings)
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "rows.csv").write_text("text,label\n" + "".join(f"row {i},{i % 2}\n" for i in range(40)))
    (tables / "notes.txt").write_text("where these came from\n")
    assert open_corpus(tables).kind == "table" and open_corpus(tables, task="classify").kind == "table"


def test_json_lines_columns_come_from_more_than_the_first_record(tmp_path):
    lines = ['{"text": "no label on this one"}'] + [f'{{"text": "row {i}", "label": "{"ab"[i % 2]}"}}'
                                                    for i in range(40)]
    (tmp_path / "f.jsonl").write_text("\n".join(lines) + "\n")
    corpus = open_corpus(tmp_path / "f.jsonl", task="classify", label_column="label")
    assert corpus.label_column == "label"


def test_whole_number_labels_written_as_floats_are_one_class(tmp_path):
    from lstmtext.labels import collect_labels, label_name

    assert [label_name(v) for v in ("1", "1.0", " 1.00 ", 1.0, "-2.0", "1.5", "v1.0")] == \
        ["1", "1", "1", "1", "-2", "1.5", "v1.0"]
    (tmp_path / "t.csv").write_text("text,label\n" + "".join(f"row {i},{['1', '1.0', '0', '0.0'][i % 4]}\n"
                                                              for i in range(40)))
    assert collect_labels(open_corpus(tmp_path / "t.csv", task="classify")) == ["0", "1"]


def test_utf16_splits_start_at_a_line(tmp_path):
    (tmp_path / "u.txt").write_text("".join(f"line number {i}\n" for i in range(200)), encoding="utf-16")
    corpus = open_corpus(tmp_path / "u.txt", encoding="utf-16")
    parts = [joined(corpus.splits[s]) for s in ("train", "valid", "test")]
    assert all(p.endswith("\n") and p.startswith("line number") for p in parts)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_split_without_a_file_of_its_own_is_held_out_of_train_in_any_encoding(tmp_path, encoding):
    """A folder with train.txt and test.txt: valid comes from the end of train, test from its file (UTF-16 is
    decoded whole, not read by byte ranges, and had left valid empty)."""
    (tmp_path / "train.txt").write_text("".join(f"line number {i}\n" for i in range(400)), encoding=encoding)
    (tmp_path / "test.txt").write_text("the test line\n" * 10, encoding=encoding)
    corpus = open_corpus(tmp_path, encoding=encoding, valid_fraction=0.1)
    train, valid, test = (joined(corpus.splits[s]) for s in ("train", "valid", "test"))
    assert valid.startswith("line number 36") and valid.endswith("line number 399\n")
    assert train.endswith("\n") and train.count("\n") + valid.count("\n") == 400
    assert test == "the test line\n" * 10


def test_a_column_named_in_another_case_is_found(tmp_path):
    (tmp_path / "t.csv").write_text("Review,Sentiment\n" + "".join(f"row {i},{i % 2}\n" for i in range(20)))
    corpus = open_corpus(tmp_path / "t.csv", task="classify", text_column="review", label_column="sentiment")
    assert (corpus.text_column, corpus.label_column) == ("Review", "Sentiment")


def test_a_tsv_is_read_quoted_only_when_it_is_written_quoted(tmp_path):
    """Python's csv module and pandas wrap a field holding a tab, a line break or a quote in quotes; GLUE-style
    files write text as it is, quotes and all. Each is read as it was written."""
    import csv

    rows = [(f"plain row {i}", "pos") for i in range(20)] + [("two\nlines", "neg"), ("a\ttab", "pos"),
                                                           ('she said "wow"', "neg")]
    with (tmp_path / "quoted.tsv").open("w", newline="") as fh:
        csv.writer(fh, delimiter="\t").writerows([("text", "label"), *rows])
    (tmp_path / "plain.tsv").write_text("text\tlabel\n\"Great\" movie\tpos\nthe \"best\" one\tneg\n"
                                        "\" a lone quote\tpos\n" + "".join(f"row {i}\tneg\n" for i in range(10)))
    for name, first in (("quoted.tsv", None), ("plain.tsv", ['"Great" movie', 'the "best" one', '" a lone quote'])):
        corpus = open_corpus(tmp_path / name, task="classify", valid_fraction=0, test_fraction=0)
        texts = texts_of(corpus.splits["train"])
        assert corpus.report.skipped == [], name
        if first is None:
            assert texts == [t for t, _ in rows]
        else:
            assert texts[:3] == first and len(texts) == 13


def test_a_saved_hf_dataset_is_read_as_the_tables_are(tmp_path, cli):
    """GLUE-style -1 is "no label" (an unlabelled test split is left out and held out of train instead); a split
    without the train split's columns is left out too; a list as text, or the text column as the label, is refused;
    skipped rows are reported by split; splits with other names are named as left out."""
    pytest.importorskip("datasets")
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})

    def rows(n, tag, labels=None):
        return Dataset.from_dict({"text": [f"{'good' if i % 2 else 'bad'} film {tag}{i}" for i in range(n)],
                                  "label": labels or [i % 2 for i in range(n)]}, features=features)

    texts = [f"film {i}" for i in range(40)]
    DatasetDict({"train": rows(60, "a"), "validation": rows(20, "v"), "test": rows(20, "t", [-1] * 20),
                 "validation_matched": rows(4, "m")}).save_to_disk(str(tmp_path / "glue"))
    corpus = open_corpus(tmp_path / "glue", task="classify")
    assert [lab for _, lab, _, _ in corpus.splits["valid"].records()][:2] == ["neg", "pos"]
    test = [t for t, _, _, _ in corpus.splits["test"].records()]
    assert len(test) == 3 and all(" a" in t for t in test)  # 5% of train's 60 rows
    assert any("test split of glue has no labels (all -1): left out" in w for w in corpus.warnings)
    assert any("leaves out (not named train, validation or test): validation_matched" in w for w in corpus.warnings)
    DatasetDict({"train": rows(60, "a"), "validation": Dataset.from_dict({"text": texts[:5]})}).save_to_disk(
        str(tmp_path / "nolabels"))
    corpus = open_corpus(tmp_path / "nolabels", task="classify")
    assert "valid" in corpus.carved and "validation split of nolabels has no 'label' column" in corpus.warnings[0]
    Dataset.from_dict({"text": [t.split() for t in texts], "label": [i % 2 for i in range(40)]}).save_to_disk(
        str(tmp_path / "lists"))
    assert_one_line_error(cli("tokenize", tmp_path / "lists", "--task", "classify"), 1,
                          "train row 1: the 'text' column holds a list")
    result = cli("tokenize", tmp_path / "glue", "--task", "classify", "--text-column", "label")
    assert_one_line_error(result, 2, "column 'label' of glue would be both the text and the label")  # as for a file
    Dataset.from_dict({"text": texts[:38] + [None, "film 39"], "label": [i % 2 for i in range(38)] + [1, None]}
                      ).save_to_disk(str(tmp_path / "nones"))
    result = cli("tokenize", tmp_path / "nones", "--task", "classify", "--out", "p")
    assert result.code == 0 and "skipped 2" in result.err, result.err
    assert "skipped train line 39: empty text" in result.err and "train line 40: missing label" in result.err
    Dataset.from_dict({"text": ["once upon a time there was a miller"]}).save_to_disk(str(tmp_path / "one"))
    corpus = open_corpus(tmp_path / "one")
    assert [t for t, _, _, _ in corpus.splits["train"].records()] == ["once upon a time there was a miller"]


def test_a_short_text_of_long_paragraphs_still_gets_a_valid_split(tmp_path):
    """Both held-out marks fell in the last paragraph and snapped to the one line start after them, so valid was
    empty; valid now starts at a word there instead, before test."""
    paragraph = " ".join(SMALL_TEXT.replace("\n", " ").split()) + "\n"
    text = paragraph * 4 + "A short last line.\n"  # both marks fall in the fourth long line
    (tmp_path / "long.txt").write_text(text, encoding="utf-8")
    corpus = open_corpus(tmp_path / "long.txt", valid_fraction=0.05, test_fraction=0.05)
    parts = [joined(corpus.splits[s]) for s in ("train", "valid", "test")]
    assert "".join(parts) == text and all(parts)
    assert parts[0].endswith(" ") and parts[2] == "A short last line.\n"  # valid from a word, test from a line


def test_no_valid_fraction_holds_out_no_valid_text(tmp_path):
    """--valid-fraction 0 put both marks at one place, and valid took a piece of a line before test's cut: text
    in no split where the folder has a valid file of its own."""
    from lstmtext.splits import cut_files

    paragraph = " ".join(SMALL_TEXT.replace("\n", " ").split()) + "\n"
    (tmp_path / "long.txt").write_text(paragraph * 4 + "A short last line.\n", encoding="utf-8")
    cut = cut_files([tmp_path / "long.txt"], (0.0, 0.1))
    (_, start, end), = cut["valid"]
    assert start == end and cut["test"][0][1] == start


@pytest.mark.parametrize("text, encoding, named", [
    ("Привет, мир! Кошка сидела на окне и смотрела на улицу.\n", "cp1251", "cp1251 (Cyrillic)"),
    ("Привет, мир! Кошка сидела на окне и смотрела на улицу.\n", "koi8-r", "koi8-r (Cyrillic)"),
    ("彼は「こんにちは」と言った。今日はとても良い天気ですね。\n", "shift_jis", "shift_jis (Japanese)"),
    ("안녕하세요, 세계! 고양이가 창가에 앉아 있었다.\n", "euc-kr", "euc-kr (Korean)"),
    ("春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。\n", "gb18030", "gb18030 (Chinese)"),
    ("שלום עולם! החתול ישב על החלון.\n", "cp1255", "cp1255 (Hebrew)"),
    ("Dzień dobry, jak się masz? Łódź to piękne miasto, a woda była czysta.\n", "cp1250",
     "cp1250 (Central European)"),
    ("Γεια σου κόσμε! Αυτό είναι ένα μικρό κείμενο στα ελληνικά.\n", "cp1253", "cp1253 (Greek)"),
    ("Grüße aus München! Das Mädchen aß einen Apfel.\n", "latin-1", "latin-1 (Western European))"),
])
def test_a_file_in_a_legacy_encoding_is_named_by_what_it_reads_as(cli, tmp_path, text, encoding, named):
    """Not latin-1 for every file that is not UTF-8: following that hint read Cyrillic as 'Ïðèâåò'."""
    (tmp_path / "t.txt").write_bytes((text * 20).encode(encoding))
    assert_one_line_error(cli("tokenize", "t.txt"), 1, "invalid utf-8", f"e.g. --encoding {named}")


def test_text_read_in_the_wrong_legacy_encoding_is_warned_of(cli, tmp_path):
    (tmp_path / "ru.txt").write_bytes(("Привет, мир! Кошка сидела на окне.\n" * 40).encode("cp1251"))
    result = cli("tokenize", "ru.txt", "--encoding", "latin-1", "--out", "p")
    assert result.code == 0, result.err
    assert "gives words such as 'Ïðèâåò', which read as Cyrillic text in cp1251" in result.err
    (tmp_path / "de.txt").write_bytes(("Grüße aus München! Das Mädchen aß.\n" * 40).encode("latin-1"))
    assert "which read as" not in cli("tokenize", "de.txt", "--encoding", "latin-1", "--out", "q").err
