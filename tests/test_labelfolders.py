"""Classifiers on plain text files labelled by their folder (pos/, neg/) or file (pos.txt, neg.txt) names."""

import csv
import json

import pytest

from lstmtext.corpus import open_corpus
from lstmtext.errors import UserError
from lstmtext.labels import collect_labels
from tests.conftest import REVIEWS, assert_one_line_error

TINY = ["--hidden-size", "16", "--embed-dim", "16", "--max-steps", "4", "--quiet", "--seed", "1"]


def reviews() -> list[tuple[str, str]]:
    with REVIEWS.open(encoding="utf-8", newline="") as fh:
        return [(row["text"], row["label"]) for row in csv.DictReader(fh, delimiter="\t")]


def imdb_like(root, per_split=(("train", 300), ("test", 60))):
    """train/{pos,neg}/N.txt and test/{pos,neg}/N.txt, one review a file, as IMDB's reviews come; plus IMDB's
    unlabelled train/unsup/ and the files beside the label folders."""
    rows = reviews()
    start = 0
    for split, n in per_split:
        for i, (text, label) in enumerate(rows[start:start + n]):
            folder = root / split / label[:3]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i}_7.txt").write_text(text, encoding="utf-8")
        start += n
    (root / "train" / "unsup").mkdir()
    for i in range(5):
        (root / "train" / "unsup" / f"{i}_0.txt").write_text("an unlabelled review", encoding="utf-8")
    (root / "train" / "urls_pos.txt").write_text("http://example.org/1\n", encoding="utf-8")
    (root / "README").write_text("what the folders hold\n", encoding="utf-8")
    return root


def test_a_folder_per_label_in_split_folders_is_read_with_its_test_split_and_without_unsup(tmp_path):
    root = imdb_like(tmp_path / "imdb")
    corpus = open_corpus(root, task="classify")
    assert corpus.own_splits and corpus.carved == ("valid",)
    assert collect_labels(corpus) == ["neg", "pos"]
    test = list(corpus.splits["test"].records())
    assert len(test) == 60 and {label for _, label, _, _ in test} == {"neg", "pos"}
    rows = reviews()
    assert (rows[300][0], rows[300][1][:3]) in {(text, label) for text, label, _, _ in test}
    train, valid = list(corpus.splits["train"].records()), list(corpus.splits["valid"].records())
    assert len(train) + len(valid) == 300 and len(valid) == 15  # 5% held out of train, no unsup
    assert not {path for *_, path, _ in train} & {path for *_, path, _ in valid}
    shares = [sum(label == "pos" for _, label, _, _ in part) / len(part) for part in (train, valid)]
    assert abs(shares[0] - shares[1]) < 0.1  # stratified
    assert not any("unsup" in path for _, _, path, _ in train)
    assert any("unsup" in w and "no label" in w for w in corpus.warnings)
    assert any("train/urls_pos.txt" in w and "README" in w for w in corpus.warnings)
    assert corpus.layout == "one folder per label: neg, pos; each file one text"


def trained_and_evaluated(cli, tmp_path, corpus, scored):
    """Train a classifier on ``corpus`` into run/ and evaluate it on ``scored``: train's stderr, the layout the run
    recorded, and evaluate's report."""
    result = cli("train", corpus, "--task", "classify", *TINY[:-3], "--out", "run")
    assert result.code == 0, result.err
    layout = json.loads((tmp_path / "run" / "config.json").read_text())["data"]["settings"]["layout"]
    evaluated = cli("evaluate", "run", scored, "--format", "json")
    assert evaluated.code == 0, evaluated.err
    return result.err, layout, json.loads(evaluated.out)


def test_train_evaluate_and_info_on_a_folder_per_label(cli, tmp_path):
    root = imdb_like(tmp_path / "imdb")
    err, layout, report = trained_and_evaluated(cli, tmp_path, root, root / "test")
    assert "read 360 records from" in err and "(one folder per label: neg, pos; each file one text)" in err
    assert "imdb/train/unsup is left out" in err
    assert layout == "one folder per label: neg, pos; each file one text"
    assert report["split"] == "whole" and sum(row["support"] for row in report["per_class"]) == 60
    info = cli("info", "run", "--format", "json")
    assert json.loads(info.out)["read_as"] == "one folder per label: neg, pos; each file one text"


def test_a_file_per_label_is_read_a_line_a_text_and_named_by_suffix_where_the_names_are_alike(tmp_path):
    root = tmp_path / "rt"
    root.mkdir()
    rows = reviews()[:400]
    for label in ("positive", "negative"):
        lines = [text for text, lab in rows if lab == label]
        (root / f"rt-polarity.{label[:3]}").write_text("\r\n".join(lines[:50]) + "\r\n\r\n" + "\n".join(lines[50:])
                                                       + "\n", encoding="utf-8")
    (root / "README.txt").write_text("about the corpus\n", encoding="utf-8")
    corpus = open_corpus(root, task="classify")
    assert corpus.layout == "one file per label: neg, pos; each line one text"
    assert collect_labels(corpus) == ["neg", "pos"]
    records = [r for s in ("train", "valid", "test") for r in corpus.splits[s].records()]
    assert sorted(text for text, *_ in records) == sorted(text for text, _ in rows)  # no blank line, no '\r'
    assert len(list(corpus.splits["valid"].records())) == 20  # 5% of 400, seeded and stratified
    assert any("README.txt" in w for w in corpus.warnings)
    again = open_corpus(root, task="classify")
    assert [r[3] for r in again.splits["valid"].records()] == [r[3] for r in corpus.splits["valid"].records()]


def test_label_folders_of_one_file_each_read_a_line_a_text(tmp_path):
    rows = reviews()[:200]
    for label in ("positive", "negative"):
        (tmp_path / "data" / label).mkdir(parents=True)
        (tmp_path / "data" / label / "all.txt").write_text(
            "\n".join(text for text, lab in rows if lab == label) + "\n", encoding="utf-8")
    corpus = open_corpus(tmp_path / "data", task="classify")
    assert corpus.layout == "one folder per label: negative, positive; each line one text"
    assert sum(1 for s in ("train", "valid", "test") for _ in corpus.splits[s].records()) == 200


def test_moving_a_file_to_another_label_folder_changes_the_content_hash(tmp_path):
    root = imdb_like(tmp_path / "imdb")
    before = open_corpus(root, task="classify").content_hash()
    (root / "train" / "pos" / "0_7.txt").rename(root / "train" / "neg" / "0_7.txt")
    assert open_corpus(root, task="classify").content_hash() != before


def test_plain_text_without_labels_names_the_layouts_a_classifier_reads(cli, tmp_path):
    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "train.txt").write_text("some text\n" * 20, encoding="utf-8")
    (tmp_path / "books" / "test.txt").write_text("more text\n" * 20, encoding="utf-8")
    for corpus in (tmp_path / "books", tmp_path / "books" / "train.txt"):
        result = cli("train", corpus, "--task", "classify", *TINY)
        assert_one_line_error(result, 1, "no labels", "folder of texts per label", "pos.txt")


def test_a_column_flag_on_a_label_layout_is_refused(cli, tmp_path):
    root = imdb_like(tmp_path / "imdb")
    result = cli("train", root, "--task", "classify", "--label-column", "label", *TINY)
    assert_one_line_error(result, 2, "--label-column is for tables", "folder names")


def test_a_label_file_in_another_encoding_is_named_with_the_flag_that_reads_it(cli, tmp_path):
    root = tmp_path / "moods"
    root.mkdir()
    (root / "happy.txt").write_bytes("a café day\n".encode("latin-1") * 30)
    (root / "sad.txt").write_bytes(b"a grey day\n" * 30)
    result = cli("train", root, "--task", "classify", *TINY)
    assert_one_line_error(result, 1, "happy.txt", "--encoding")
    corpus = open_corpus(root, task="classify", encoding="latin-1")
    assert "a café day" in {text for s in ("train", "valid", "test") for text, *_ in corpus.splits[s].records()}


@pytest.mark.parametrize("layout", ["tables", "language model"])
def test_other_folders_read_as_before(tmp_path, layout):
    root = tmp_path / "data"
    for label in ("pos", "neg"):
        (root / label).mkdir(parents=True)
        (root / label / "a.txt").write_text(f"a {label} text\n" * 10, encoding="utf-8")
    if layout == "tables":
        (root / "train.csv").write_text("text,label\n" + "good,1\nbad,0\n" * 20, encoding="utf-8")
        corpus = open_corpus(root, task="classify")
        assert corpus.kind == "table" and corpus.layout is None
    else:
        corpus = open_corpus(root)
        assert corpus.kind == "text" and corpus.layout is None


def fasttext_lines(rows) -> str:
    return "".join(f"__label__{label} {text}\n" for text, label in rows)


def test_fasttext_lines_are_read_label_and_text_with_a_note_for_lines_of_several_labels(tmp_path):
    rows = reviews()[:300]
    lines = fasttext_lines(rows).splitlines(keepends=True)
    lines[10] = f"__label__{rows[10][1]} __label__funny {rows[10][0]}\n"
    lines.insert(20, "a line that names no label\n")
    path = tmp_path / "reviews.ft.txt"
    path.write_text("".join(lines), encoding="utf-8")
    corpus = open_corpus(path, task="classify")
    assert corpus.layout == "fastText lines: __label__LABEL words and the text"
    assert collect_labels(corpus) == ["negative", "positive"]
    records = [r for s in ("train", "valid", "test") for r in corpus.splits[s].records()]
    assert sorted((text, label) for text, label, *_ in records if label) == sorted(rows)
    assert [(text, line) for text, label, _, line in records if label is None] == [("a line that names no label",
                                                                                     21)]
    assert any("1 line of reviews.ft.txt names more than one label" in w and "line 11" in w
               for w in corpus.warnings)


def test_train_evaluate_and_classify_on_fasttext_split_files(cli, tmp_path):
    rows = reviews()
    (tmp_path / "ft").mkdir()
    (tmp_path / "ft" / "train.txt").write_text(fasttext_lines(rows[:400]), encoding="utf-8")
    (tmp_path / "ft" / "test.txt").write_text(fasttext_lines(rows[400:460]), encoding="utf-8")
    err, layout, report = trained_and_evaluated(cli, tmp_path, tmp_path / "ft", tmp_path / "ft")
    assert "read 460 records" in err and "fastText lines" in err
    assert layout == "fastText lines: __label__LABEL words and the text"
    assert report["split"] == "test" and sum(row["support"] for row in report["per_class"]) == 60
    classified = cli("classify", "run", "--file", tmp_path / "ft" / "test.txt", "--format", "jsonl")
    assert classified.code == 0, classified.err
    assert "__label__ words are left out" in classified.err
    out = [json.loads(line) for line in classified.out.splitlines()]
    assert [row["text"] for row in out] == [text for text, _ in rows[400:460]]


def test_a_language_model_on_fasttext_lines_says_how_to_train_a_classifier(tmp_path):
    path = tmp_path / "reviews.txt"
    path.write_text(fasttext_lines(reviews()[:50]), encoding="utf-8")
    corpus = open_corpus(path)
    assert corpus.kind == "text"
    assert any("fastText's format" in w and "--task classify" in w for w in corpus.warnings)


def test_a_language_model_on_label_folders_says_how_to_train_a_classifier(tmp_path):
    root = imdb_like(tmp_path / "imdb", per_split=(("train", 40),))
    (root / "train" / "urls_pos.txt").unlink()  # nothing at the top: a language model reads the subfolders
    corpus = open_corpus(root / "train")
    assert corpus.kind == "text"
    assert any("holds a classifier's corpus (one folder per label: neg, pos; each file one text)" in w
               and "unlabelled ones included" in w and "--task classify" in w for w in corpus.warnings)
    folders = [p.parent.name for p in corpus.files]
    assert len(folders) == 45 and set(folders) == {"neg", "pos", "unsup"} and folders.count("unsup") == 5


def test_a_folder_of_fasttext_files_is_read_as_fasttext_not_as_a_file_per_label(tmp_path):
    rows = reviews()
    (tmp_path / "ft").mkdir()
    (tmp_path / "ft" / "shop.txt").write_text(fasttext_lines(rows[:200]), encoding="utf-8")
    (tmp_path / "ft" / "cafe.txt").write_text(fasttext_lines(rows[200:400]), encoding="utf-8")
    corpus = open_corpus(tmp_path / "ft", task="classify")
    assert corpus.layout == "fastText lines: __label__LABEL words and the text"
    assert collect_labels(corpus) == ["negative", "positive"]


def test_a_folder_of_one_text_a_file_is_not_read_as_a_label_per_file(cli, tmp_path):
    root = imdb_like(tmp_path / "imdb", per_split=(("train", 40),))
    for folder in (root / "train" / "pos", root / "train" / "unsup"):
        assert_one_line_error(cli("tokenize", folder, "--task", "classify"), 1, "plain text with no labels")


def test_a_table_beside_label_files_is_left_out_unless_it_is_a_classifiers_table(tmp_path):
    root = tmp_path / "moods"
    root.mkdir()
    rows = reviews()[:200]
    for label in ("positive", "negative"):
        (root / f"{label}.txt").write_text("\n".join(t for t, lab in rows if lab == label) + "\n", encoding="utf-8")
    (root / "metadata.json").write_text('{"source": "our own reviews"}\n', encoding="utf-8")
    corpus = open_corpus(root, task="classify")
    assert corpus.layout.startswith("one file per label: negative, positive")
    assert any("metadata.json" in w and "leaves out" in w for w in corpus.warnings)
    (root / "all.csv").write_text("text,label\n" + "".join(f'"{t}",{lab}\n' for t, lab in rows), encoding="utf-8")
    with pytest.raises(UserError, match="mixes two kinds of labelled texts"):  # test.csv would take train's place
        open_corpus(root, task="classify")
    (root / "all.csv").rename(root / "train.csv")
    assert open_corpus(root, task="classify").kind == "table"


def test_each_split_folder_is_read_its_own_way_and_a_mixed_label_folder_is_named(tmp_path):
    rows = reviews()
    root = imdb_like(tmp_path / "data", per_split=(("train", 100),))
    (root / "test").mkdir()
    for label in ("pos", "neg"):  # test: a file per label, a line a text
        (root / "test" / f"{label}.txt").write_text(
            "\n".join(t for t, lab in rows[100:160] if lab[:3] == label) + "\n", encoding="utf-8")
    corpus = open_corpus(root, task="classify")
    assert corpus.layout.startswith("one folder or file per label: neg, pos")
    assert len(list(corpus.splits["test"].records())) == 60
    (root / "train" / "neg").rename(root / "neg-many")
    (root / "train" / "neg").mkdir()
    (root / "train" / "neg" / "all.txt").write_text("\n".join(p.read_text() for p in (root / "neg-many").iterdir()))
    mixed = open_corpus(root, task="classify")
    assert any("label folders of one file (neg), read a line a text" in w for w in mixed.warnings)
    assert collect_labels(mixed) == ["neg", "pos"]


def test_readmes_and_lists_beside_label_files_are_no_class_and_a_subfolder_is_pointed_at(cli, tmp_path):
    root = tmp_path / "rt-polaritydata"
    root.mkdir(parents=True)
    rows = reviews()[:200]
    for label in ("positive", "negative"):
        (root / f"rt-polarity.{label[:3]}").write_text("\n".join(t for t, lab in rows if lab == label) + "\n")
    for aside in ("rt-polaritydata.README.1.0.txt", "unsup.txt", "classes.txt", "vocab.txt"):
        (root / aside).write_text("not a class\nat all\n")
    corpus = open_corpus(root, task="classify")
    assert collect_labels(corpus) == ["neg", "pos"]
    lm = open_corpus(root)  # a language model reads the reviews (and unlabelled texts), not the readme and lists
    assert sorted(p.name for p in lm.files) == ["rt-polarity.neg", "rt-polarity.pos", "unsup.txt"]
    (tmp_path / "rt-polaritydata.README.1.0.txt").write_text("about the data\n")
    assert_one_line_error(cli("tokenize", tmp_path, "--task", "classify"), 1,
                          "its subfolder rt-polaritydata does", f"point at {root}")


@pytest.mark.parametrize("top", [True, False])
def test_a_language_model_on_imdb_reads_the_reviews_unlabelled_ones_too_not_the_lists_beside(tmp_path, top):
    root = imdb_like(tmp_path / "imdb")
    (root / "imdbEr.txt").write_text("0.049\n-0.11\n")
    if not top:
        (root / "imdbEr.txt").unlink()
        (root / "README").unlink()
    corpus = open_corpus(root)
    assert corpus.kind == "text" and corpus.own_splits  # train/ and test/ as they are; valid from train's end
    names = {p.name for p in corpus.files}
    assert "imdbEr.txt" not in names and "README" not in names and "urls_pos.txt" not in names
    assert len(corpus.files) == 300 + 5 + 60
    text = "".join(corpus.splits["train"].texts()) + "".join(corpus.splits["valid"].texts())
    assert text.count("an unlabelled review") == 5 and "reviewan" not in text  # no file's text glued to the next
    assert any("a language model reads the texts of its label folders" in w for w in corpus.warnings)


def test_fasttext_labels_after_a_tab_or_at_the_end_and_unlabelled_lines_stay_out_of_the_vocabulary(tmp_path):
    from lstmtext.config import TokenizerSpec
    from lstmtext.data import ensure_prepared
    from lstmtext.tokenizers import load_tokenizer

    lines = [f"__label__pos\tgood film {i}\n__label__neg\tbad film {i}\n" for i in range(20)]
    lines += [f"an ending film {i} __label__pos\n" for i in range(5)] + ["zebra xylophone quokka\n"]
    (tmp_path / "ft.txt").write_text("".join(lines))
    corpus = open_corpus(tmp_path / "ft.txt", task="classify")
    records = [r for s in ("train", "valid", "test") for r in corpus.splits[s].records()]
    assert {(t, lab) for t, lab, *_ in records if lab} >= {("good film 3", "pos"), ("bad film 3", "neg"),
                                                           ("an ending film 2", "pos")}
    ensure_prepared(corpus, TokenizerSpec(level="word"), tmp_path / "prep", task="classify")
    vocabulary = load_tokenizer(tmp_path / "prep" / "tokenizer.json").itos
    assert "film" in vocabulary and "zebra" not in vocabulary


def test_classify_leaves_fasttext_labels_out_of_stdin_and_from_anywhere_in_a_line(cli, tmp_path, monkeypatch):
    import io
    import sys

    rows = reviews()
    (tmp_path / "ft").mkdir()
    (tmp_path / "ft" / "train.txt").write_text(fasttext_lines(rows[:300]), encoding="utf-8")
    assert cli("train", tmp_path / "ft", "--task", "classify", *TINY[:-3], "--out", "run").code == 0
    text = "__label__positive a fine day\nanother line __label__negative at the end\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    result = cli("classify", "run", "-", "--format", "jsonl")
    assert result.code == 0, result.err
    assert [json.loads(line)["text"] for line in result.out.splitlines()] == ["a fine day",
                                                                               "another line at the end"]
    assert "stdin is in fastText's format" in result.err


def test_files_in_label_folders_that_are_not_texts_are_named(tmp_path):
    root = imdb_like(tmp_path / "imdb", per_split=(("train", 40),))
    (root / "train" / "pos" / "cover.png").write_bytes(b"\x89PNG\x00\x00" * 20)
    (root / "train" / "neg" / "empty.txt").write_text("")
    (root / "train" / "neg" / "notes.md").write_text("# what these are\n")
    corpus = open_corpus(root, task="classify")
    note = next(w for w in corpus.warnings if "are not read as texts" in w)
    assert "train/pos/cover.png" in note and "train/neg/empty.txt" in note and "train/neg/notes.md" in note
    assert sum(1 for s in ("train", "valid", "test") for _ in corpus.splits[s].records()) == 40


def test_a_run_read_in_another_encoding_reads_files_to_classify_in_it_too(cli, tmp_path):
    root = tmp_path / "cp"
    root.mkdir()
    (root / "pos.txt").write_bytes("a caf\u00e9 \u201cgreat\u201d film\n".encode("cp1252") * 30)
    (root / "neg.txt").write_bytes("a dull \u2014 film\n".encode("cp1252") * 30)
    (tmp_path / "new.txt").write_bytes("a caf\u00e9 \u201cgreat\u201d film\n".encode("cp1252"))
    assert cli("train", root, "--task", "classify", "--encoding", "cp1252", *TINY, "--out", "run").code == 0
    result = cli("classify", "run", "--file", tmp_path / "new.txt", "--format", "jsonl")
    assert result.code == 0, result.err
    assert json.loads(result.out)["text"] == "a caf\u00e9 \u201cgreat\u201d film"
    assert "the --encoding the run's corpus was read with" in result.err
    assert json.loads(cli("info", "run", "--format", "json").out)["encoding"] == "cp1252"


def test_many_labels_for_few_texts_are_named_and_listed_in_short(cli, tmp_path):
    rows = reviews()[:120]
    (tmp_path / "many.txt").write_text("".join(f"__label__L{i:03d} {text}\n" for i, (text, _) in enumerate(rows)))
    result = cli("tokenize", tmp_path / "many.txt", "--task", "classify", "--out", "p")
    assert result.code == 0, result.err
    assert "labels for" in result.err and "training texts: most labels have a text or two" in result.err
    assert "and 100 more" in result.out and "L119" not in result.out


def test_a_tables_rows_without_a_label_stay_out_of_the_vocabulary(tmp_path):
    from lstmtext.config import TokenizerSpec
    from lstmtext.data import ensure_prepared
    from lstmtext.tokenizers import load_tokenizer

    rows = "".join(f"good film {i},pos\nbad film {i},neg\n" for i in range(20)) + "zebra xylophone quokka,\n"
    (tmp_path / "t.csv").write_text("text,label\n" + rows)
    ensure_prepared(open_corpus(tmp_path / "t.csv", task="classify"), TokenizerSpec(level="word"), tmp_path / "p",
                    task="classify")
    vocabulary = load_tokenizer(tmp_path / "p" / "tokenizer.json").itos
    assert "film" in vocabulary and "zebra" not in vocabulary


def test_fasttext_files_beside_tables_are_refused_and_beside_a_readme_or_unlabelled_file_are_read(cli, tmp_path):
    rows = reviews()
    (tmp_path / "x1").mkdir()
    (tmp_path / "x1" / "train.txt").write_text(fasttext_lines(rows[:200]), encoding="utf-8")
    (tmp_path / "x1" / "test.csv").write_text("text,label\n" + "".join(f'"{t}",{lab}\n' for t, lab in rows[200:260]))
    assert_one_line_error(cli("tokenize", tmp_path / "x1", "--task", "classify"), 1,
                          "mixes two kinds of labelled texts: fastText lines (train.txt) and tables (test.csv)")
    (tmp_path / "x7").mkdir()
    (tmp_path / "x7" / "train.txt").write_text(fasttext_lines(rows[:200]), encoding="utf-8")
    (tmp_path / "x7" / "README.txt").write_text("fastText data\n")
    (tmp_path / "x7" / "labels.txt").write_text("positive\nnegative\n")
    (tmp_path / "x7" / "test.txt").write_text("".join(f"{t}\n" for t, _ in rows[200:240]))  # no labels
    corpus = open_corpus(tmp_path / "x7", task="classify")
    assert corpus.layout.startswith("fastText lines") and [p.name for p in corpus.files] == ["train.txt"]
    assert any("test.txt" in w and "not in fastText's format" in w for w in corpus.warnings)


def test_label_folders_beside_a_test_table_in_a_split_folder_are_refused(cli, tmp_path):
    root = imdb_like(tmp_path / "y1", per_split=(("train", 100),))
    (root / "test").mkdir()
    (root / "test" / "test.jsonl").write_text("".join(json.dumps({"text": t, "label": lab}) + "\n"
                                                      for t, lab in reviews()[100:160]))
    assert_one_line_error(cli("tokenize", root, "--task", "classify"), 1, "mixes two kinds of labelled texts",
                          "train/ holds label folders, and test/ a table")


def test_a_folder_with_its_tarball_beside_its_extracted_folder_points_at_the_folder(cli, tmp_path):
    import tarfile

    root = imdb_like(tmp_path / "par" / "aclImdb", per_split=(("train", 40),))
    with tarfile.open(tmp_path / "par" / "aclImdb_v1.tar.gz", "w:gz") as tar:
        tar.add(root, arcname="aclImdb")
    for task in ("classify", "lm"):
        assert_one_line_error(cli("tokenize", tmp_path / "par", "--task", task), 1,
                              "par has no text files at its top (aclImdb_v1.tar.gz)", f"point at {root}")


def test_tables_without_a_header_or_a_label_column_get_a_hint_that_works(cli, tmp_path):
    (tmp_path / "ag.csv").write_text("".join(f'"{1 + i % 4}","Title {i}","{t}"\n' for i, (t, _) in
                                             enumerate(reviews()[:40])))
    result = cli("tokenize", tmp_path / "ag.csv", "--task", "classify")
    assert_one_line_error(result, 2, "has no header line", "sed -i '1i label,column2,text'")
    (tmp_path / "pos.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t, _ in reviews()[:40]))
    assert_one_line_error(cli("tokenize", tmp_path / "pos.jsonl", "--task", "classify"), 1,
                          "has one column, 'text', and a classifier needs each text's label too")


def test_binary_files_by_their_name_and_side_lists_are_left_out_of_label_folders_and_a_language_model(tmp_path):
    root = imdb_like(tmp_path / "imdb", per_split=(("train", 40),))
    (root / "train" / "neg" / "pic.jpg").write_bytes(bytes(range(1, 256)) * 2)  # no NUL byte in it
    corpus = open_corpus(root, task="classify")
    assert "pic.jpg" not in {p.name for p in corpus.files}
    assert any("train/neg/pic.jpg" in w for w in corpus.warnings)
    folder = tmp_path / "f1"
    folder.mkdir()
    rows = reviews()[:200]
    for label in ("positive", "negative"):
        (folder / f"{label}.txt").write_text("\n".join(t for t, lab in rows if lab == label) + "\n")
    for side in ("classes.txt", "vocab.txt", "stopwords.txt", "urls.txt"):
        (folder / side).write_text("pos\nneg\n")
    lm = open_corpus(folder)
    assert sorted(p.name for p in lm.files) == ["negative.txt", "positive.txt"]
    assert any("a readme and the like" in w and "classes.txt" in w for w in lm.warnings)
