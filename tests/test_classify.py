import csv
import io
import json
import os
import random

import numpy as np
import pytest
import torch

from lstmtext.config import ModelConfig, TokenizerSpec, TrainConfig
from lstmtext.corpus import open_corpus
from lstmtext.data import Prepared, ensure_prepared
from lstmtext.metrics import classification_report
from lstmtext.models import Classifier, predict_proba
from lstmtext.tokenizers import load_tokenizer
from lstmtext.training import train
from tests.conftest import REVIEWS, SHARED, TALES, assert_one_line_error

TINY = ["--hidden-size", "32", "--quiet", "--seed", "3"]


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention", "concat"])
def test_packing_makes_predictions_independent_of_the_batch(pooling):
    torch.manual_seed(0)
    model = Classifier(ModelConfig(task="classify", vocab_size=50, embed_dim=16, hidden_size=16, layers=2,
                                   bidirectional=True, pooling=pooling, num_classes=3, dropout=0.0)).eval()
    short = np.array([5, 9, 13])
    longer = [np.arange(2, 30), np.arange(3, 20), np.array([7] * 41)]
    alone = predict_proba(model, [short], 8, torch.device("cpu"))[0]
    mixed = predict_proba(model, [longer[0], short, *longer[1:]], 8, torch.device("cpu"))[1]
    reordered = predict_proba(model, [*longer[::-1], short], 8, torch.device("cpu"))[3]
    np.testing.assert_allclose(alone, mixed, atol=1e-6)
    np.testing.assert_allclose(alone, reordered, atol=1e-6)
    x = torch.zeros(2, 41, dtype=torch.long)  # the same text padded inside a direct batch
    x[0, :3] = torch.tensor(short)
    x[1, :] = torch.tensor(longer[2])
    with torch.no_grad():
        direct = torch.softmax(model(x, torch.tensor([3, 41])), -1)[0].numpy()
    np.testing.assert_allclose(alone, direct, atol=1e-6)


def test_concat_pooling_reads_the_last_state_max_and_mean_side_by_side():
    torch.manual_seed(0)
    model = Classifier(ModelConfig(task="classify", vocab_size=50, embed_dim=8, hidden_size=6, layers=1,
                                   bidirectional=True, pooling="concat", num_classes=2, dropout=0.0)).eval()
    assert model.head.in_features == 3 * 12
    x = torch.tensor([[4, 8, 15, 16], [23, 42, 0, 0]])
    lengths = torch.tensor([4, 2])
    with torch.no_grad():
        seq = model.encode(model.embed(x), lengths)
        last = torch.cat([seq[[0, 1], [3, 1], :6], seq[:, 0, 6:]], dim=-1)  # forward end, backward end
        mx = torch.stack([seq[0].max(0).values, seq[1, :2].max(0).values])
        mean = torch.stack([seq[0].mean(0), seq[1, :2].mean(0)])
        expected = model.head(torch.cat([last, mx, mean], dim=-1))
        torch.testing.assert_close(model(x, lengths), expected)


def write_tsv(path, rows, header=("text", "label")):
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("\t".join(header) + "\n")
        for row in rows:
            fh.write("\t".join(row) + "\n")
    return path


def separable_rows(n=240, seed=0):
    """Two topics with disjoint vocabularies: a classifier must separate them perfectly."""
    rng = random.Random(seed)
    sea = "boat wave harbour sail tide gull anchor rope deck storm".split()
    farm = "barn hay cow plough field goat fence tractor seed harvest".split()
    rows = []
    for i in range(n):
        words, label = (sea, "sea") if i % 2 else (farm, "farm")
        rows.append((" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))), label))
    return rows


def train_classifier(tmp_path, corpus, steps=None, epochs=10.0, init_from=None, tokenizer=None, seed=1, **model_kw):
    prep = tmp_path / "prep"
    ensure_prepared(open_corpus(corpus, task="classify", split_seed=0), TokenizerSpec(level="word"), prep,
                    task="classify", tokenizer=tokenizer)
    prepared = Prepared.open(prep)
    cfg = ModelConfig(task="classify", vocab_size=prepared.tokenizer.vocab_size, embed_dim=64, hidden_size=64,
                      layers=1, dropout=0.3, pooling="mean", num_classes=len(prepared.labels))
    for k, v in model_kw.items():
        setattr(cfg, k, v)
    run = tmp_path / f"run-{seed}-{init_from is not None}"
    run.mkdir()
    summary = train(run, prepared, cfg, TrainConfig(batch_size=16, lr=3e-3, epochs=epochs, max_steps=steps,
                                                   eval_every=1000 if steps else 0, warmup_steps=5, device="cpu",
                                                   seed=seed), init_from=init_from)
    return summary, run


def test_learns_a_separable_task(tmp_path):
    corpus = write_tsv(tmp_path / "topics.tsv", separable_rows())
    summary, _ = train_classifier(tmp_path, corpus, epochs=6)
    assert summary["figures"]["valid"]["accuracy"] >= 0.95
    assert summary["stopped_by"] in ("epochs", "early stopping") and summary["epochs"] <= 6  # --epochs ended it
    assert summary["labels"] == ["farm", "sea"]


def test_shipped_reviews_beat_the_majority_class(tmp_path):
    summary, _ = train_classifier(tmp_path, REVIEWS, epochs=8, bidirectional=True)
    held_out = (summary["figures"]["valid"]["accuracy"] + summary["figures"]["test"]["accuracy"]) / 2
    assert held_out > summary["majority"] + 0.12, summary["figures"]


def genre_rows():
    """Paragraphs of the shipped prose labelled by the part of the corpus they come from."""
    text = TALES.read_text(encoding="utf-8")
    marks = ["The Keeper at Skerrow Point to Her Brother\n", "Market Day at Coster's Quay\n",
             "The Surveyor of the White Pan\n", "A Beekeeper's Year: March to October\n"]
    cuts = [0] + [text.index(m) for m in marks] + [len(text)]
    rows = []
    for name, a, b in zip(["fable", "letter", "town", "journey", "diary"], cuts, cuts[1:]):
        rows += [(" ".join(p.split()), name) for p in text[a:b].split("\n\n") if len(p) > 80]
    return rows


def test_init_from_a_language_model_beats_training_from_scratch(tmp_path):
    """ULMFiT on a small task: pretrain on the unlabelled prose, then tell its genres apart."""
    ensure_prepared(open_corpus(TALES), TokenizerSpec(level="word"), tmp_path / "lmprep")
    lm_prep = Prepared.open(tmp_path / "lmprep")
    lm_run = tmp_path / "lm"
    lm_run.mkdir()
    train(lm_run, lm_prep, ModelConfig(vocab_size=lm_prep.tokenizer.vocab_size, embed_dim=128, hidden_size=128,
                                       layers=1, dropout=0.2),
          TrainConfig(seq_len=32, batch_size=16, lr=3e-3, epochs=25, eval_every=100_000, device="cpu"))
    corpus = write_tsv(tmp_path / "genre.tsv", genre_rows())
    tokenizer = load_tokenizer(lm_run / "tokenizer.json")
    scores = {}
    for name, init in (("scratch", None), ("transfer", lm_run)):
        accs = []
        for seed in (1, 2):
            work = tmp_path / f"{name}-{seed}"
            work.mkdir()
            summary, _ = train_classifier(work, corpus, steps=150, init_from=init, tokenizer=tokenizer, seed=seed,
                                          embed_dim=128, hidden_size=128, bidirectional=False)
            accs.append(summary["figures"]["valid"]["accuracy"])
        scores[name] = sum(accs) / len(accs)
    assert scores["transfer"] > scores["scratch"] + 0.03, scores


def test_classification_report_matches_hand_computation():
    gold = [0, 0, 0, 1, 1, 2]
    pred = [0, 1, 0, 1, 2, 2]
    r = classification_report(gold, pred, 3)
    assert r["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert r["accuracy"] == pytest.approx(4 / 6)
    # class 0: P 2/2, R 2/3; class 1: P 1/2, R 1/2; class 2: P 1/2, R 1/1
    f1 = [2 * 1 * (2 / 3) / (1 + 2 / 3), 0.5, 2 * 0.5 * 1 / 1.5]
    assert [c["f1"] for c in r["per_class"]] == pytest.approx(f1)
    assert r["macro_f1"] == pytest.approx(sum(f1) / 3)


def test_macro_f1_leaves_out_a_class_with_no_texts_and_no_predictions():
    r = classification_report([0, 0, 2, 2], [0, 0, 2, 0], 3)  # class 1: none held out, none predicted
    assert r["per_class"][1] == {"precision": None, "recall": None, "f1": None, "support": 0}
    assert r["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    predicted = classification_report([0, 0, 2, 2], [1, 0, 2, 2], 3)  # predicted but never true: F1 0, counted
    assert predicted["per_class"][1]["f1"] == 0.0 and predicted["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_a_class_too_small_for_the_held_out_splits_is_named_and_does_not_cap_macro_f1(cli, tmp_path):
    rows = separable_rows(200) + [("gull barn boat", "rare")] * 4
    write_tsv(tmp_path / "three.tsv", rows)
    trained = cli("train", "three.tsv", "--task", "classify", "--hidden-size", "32", "--seed", "3", "--epochs", "4",
                  "--out", "r")
    assert trained.code == 0, trained.err
    assert "note: rare (4 texts) has no texts in valid or test, so its F1 is not measured there" in \
        " ".join(trained.err.split())
    scored = json.loads(cli("evaluate", "r", "--format", "json").out)
    rare = next(pc for pc in scored["per_class"] if pc["label"] == "rare")
    assert rare["f1"] is None and scored["accuracy"] == 1.0 and scored["macro_f1"] == 1.0, scored
    assert "│ rare  │         - │      - │     - │       0 │" in cli("evaluate", "r").out


@pytest.fixture
def clf(cli, tmp_path):
    corpus = write_tsv(tmp_path / "topics.tsv", separable_rows())
    result = cli("train", corpus, "--task", "classify", *TINY, "--epochs", "5", "--out", "clf")
    assert result.code == 0, result.err
    assert "macro-F1" in result.out and "farm, sea" in result.out
    return "clf"


def test_all_scores_rows_have_the_same_keys_and_precision(cli, clf, tmp_path):
    rows = [json.loads(line) for line in cli("classify", clf, "cow barn", "  ", "--format", "jsonl",
                                             "--all-scores").out.splitlines()]
    assert rows[1]["scores"] == {"farm": None, "sea": None} and set(rows[0]["scores"]) == {"farm", "sea"}
    table = list(csv.reader(io.StringIO(cli("classify", clf, "cow barn", "  ", "--format", "csv",
                                            "--all-scores").out)))
    assert table[0] == ["text", "label", "confidence", "score_farm", "score_sea", "note"]
    assert all(len(cell.split(".")[1]) == 6 for cell in table[1][2:5]) and table[1][5] == ""
    assert table[2][1:] == ["", "", "", "", "empty"]
    assert_one_line_error(cli("classify", clf, "--file", str(tmp_path)), 1, "is a folder")
    assert_one_line_error(cli("classify", clf, "-", "-"), 2, "given twice")


def test_a_text_known_only_in_lower_case_says_so(cli, clf):
    upper = cli("classify", clf, "COW BARN HAY", "zzz qqq", "--format", "jsonl")
    assert upper.code == 0 and [json.loads(r)["note"] for r in upper.out.splitlines()] == ["unknown", "unknown"]
    assert "words the model knows in lower case" in " ".join(upper.err.split()), upper.err
    alien = cli("classify", clf, "zzz qqq")
    assert alien.code == 0 and "no word the model knows" in alien.err and "lower case" not in alien.err


def test_info_shows_accuracy_as_a_percentage(cli, clf):
    best = json.loads(cli("info", clf, "--format", "json").out)["best_valid"]
    table = cli("info", clf)
    assert f"accuracy {best['accuracy']:.2%}, macro-F1 {best['macro_f1']:.4f}" in table.out


def test_a_run_reads_other_tables_by_the_columns_it_trained_on(cli, tmp_path):
    rows = separable_rows(120)
    write_tsv(tmp_path / "mine.tsv", rows, header=("Review Body", "My Label"))  # no name detection knows
    trained = cli("train", "mine.tsv", "--task", "classify", "--text-column", "Review Body", "--label-column",
                  "My Label", "--hidden-size", "32", "--seed", "3", "--epochs", "3", "--out", "r")
    assert trained.code == 0 and "(text column 'Review Body', label column 'My Label')" in trained.err, trained.err
    write_tsv(tmp_path / "more.tsv", [(str(i), t, y) for i, (t, y) in enumerate(rows[:20])],
              header=("id", "review body", "My Label"))  # the case aside, the run's columns
    labelled = cli("classify", "r", "-f", "more.tsv", "--format", "jsonl")
    assert labelled.code == 0, labelled.err
    assert [json.loads(line)["text"] for line in labelled.out.splitlines()] == [t for t, _ in rows[:20]]
    scored = cli("evaluate", "r", "more.tsv", "--format", "json")
    assert scored.code == 0 and json.loads(scored.out)["count"] == 20, scored.err
    assert json.loads(cli("info", "r", "--format", "json").out)["columns"] == \
        "text 'Review Body', label 'My Label'"
    write_tsv(tmp_path / "plain.tsv", rows[:20])  # without the run's columns: found by name, as before
    assert json.loads(cli("evaluate", "r", "plain.tsv", "--format", "json").out)["count"] == 20
    (tmp_path / "first.csv").write_text("great product\nterrible\n")
    assert_one_line_error(cli("classify", "r", "-f", "first.csv"), 2,
                          "its one column is headed 'great product' (if that first line is a text, not a header")


def test_a_language_model_of_a_labelled_table_says_how_to_train_a_classifier(cli, tmp_path):
    write_tsv(tmp_path / "amb.tsv", [(str(i), t, y, "4") for i, (t, y) in enumerate(separable_rows(60))],
              header=("id", "review", "Sentiment", "rating"))
    lm = cli("train", "amb.tsv", "--hidden-size", "16", "--max-steps", "2", "--out", "lm")
    assert lm.code == 0 and "note: amb.tsv has a label column, 'Sentiment', which a language model does not " \
        "read: this one learns the 'review' texts; to train a classifier, pass --task classify" in \
        " ".join(lm.err.split()), lm.err
    meant = cli("train", "amb.tsv", "--task", "lm", "--hidden-size", "16", "--max-steps", "2", "--out", "lm2")
    assert meant.code == 0 and "label column" not in meant.err, meant.err


def test_tokenize_and_train_take_the_same_default_level_for_a_classifier(cli, tmp_path):
    corpus = write_tsv(tmp_path / "topics.tsv", separable_rows(60))
    assert cli("tokenize", corpus, "--task", "classify", "--quiet").code == 0
    (made,) = (tmp_path / "checkpoints" / "prepared").iterdir()
    assert json.loads((made / "meta.json").read_text())["tokenizer"]["level"] == "word"
    result = cli("train", corpus, "--task", "classify", *TINY, "--max-steps", "1", "--out", "r")
    assert result.code == 0, result.err
    assert [p.name for p in (tmp_path / "checkpoints" / "prepared").iterdir()] == [made.name]  # reused


def test_labels_differing_only_in_case_or_spacing_are_warned_about(cli, tmp_path):
    names = ["Positive", "positive", "very  bad", "Very bad", "n\u00e9gatif", "ne\u0301gatif", "pos\u200b", "pos"]
    rows = [(f"text number {i}", names[i % len(names)]) for i in range(400)]  # 20 held out: enough
    result = cli("tokenize", write_tsv(tmp_path / "mixed.tsv", rows), "--task", "classify", "--quiet")
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if line.startswith("warning:")]
    tail = "differ only in case, spacing or how their characters are written; they are separate classes (fix the " \
           "corpus if they are one)"
    assert warnings == [f"warning: labels {pair} {tail}" for pair in (
        "'Positive', 'positive'", "'Very bad', 'very  bad'", "'ne\\u0301gatif', 'n\u00e9gatif'",
        "'pos', 'pos\\u200b'")], warnings  # the decomposed é and the zero-width space written out
    clean = cli("tokenize", write_tsv(tmp_path / "clean.tsv", separable_rows(400)), "--task", "classify", "--quiet")
    assert clean.code == 0 and "warning" not in clean.err
    # numbers: 1.0 is read as 1 (as a JSON 1.0 is); 01 is kept as written, and warned about beside 1
    rows = [(f"text number {i}", ["01", "1", "0", "1.0", "-1"][i % 5]) for i in range(400)]
    result = cli("tokenize", write_tsv(tmp_path / "numbers.tsv", rows), "--task", "classify", "--out", "n")
    assert result.code == 0, result.err
    assert json.loads((tmp_path / "n" / "meta.json").read_text())["labels"] == ["-1", "0", "01", "1"]
    assert [line for line in result.err.splitlines() if line.startswith("warning:")] == [
        "warning: labels 01, 1 are the same number written two ways; they are separate classes (fix the corpus if "
        "they are one)"]


def test_classify_inputs_and_formats(cli, clf, tmp_path, monkeypatch):
    table = cli("classify", clf, "cow and hay in the barn", "a gull over the harbour")
    assert table.code == 0 and "farm" in table.out and "sea" in table.out
    rows = json.loads(cli("classify", clf, "cow and hay in the barn", "rope and anchor", "--format", "json").out)
    assert [r["label"] for r in rows] == ["farm", "sea"] and all(0.5 < r["confidence"] <= 1 for r in rows)
    lines = cli("classify", clf, "hay", "tide", "--format", "jsonl", "--all-scores").out.splitlines()
    parsed = [json.loads(line) for line in lines]
    assert set(parsed[0]["scores"]) == {"farm", "sea"}
    assert sum(parsed[0]["scores"].values()) == pytest.approx(1.0, abs=1e-5)
    (tmp_path / "in.txt").write_text("goat fence\n\nstorm deck\n", encoding="utf-8")
    out = list(csv.DictReader(io.StringIO(cli("classify", clf, "--file", "in.txt", "--format", "csv").out)))
    assert [r["label"] for r in out] == ["farm", "", "sea"] and out[1]["confidence"] == ""
    assert [r["note"] for r in out] == ["", "empty", ""]
    empty = cli("classify", clf, "--file", "in.txt")
    assert "(empty)" in empty.out and "1 empty" in empty.err
    write_tsv(tmp_path / "in.tsv", [("harvest seed", "x"), ("sail boat", "y")], header=("review", "other"))
    out = json.loads(cli("classify", clf, "--file", "in.tsv", "--format", "json").out)
    assert [r["label"] for r in out] == ["farm", "sea"]
    def stdin(data: bytes) -> None:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))

    stdin(b"barn cow\nwave tide\n")
    out = cli("classify", clf, "-", "--format", "jsonl").out.splitlines()
    assert [json.loads(x)["label"] for x in out] == ["farm", "sea"]
    stdin("café barn\n".encode("latin-1"))  # stdin is read with --encoding, and bad bytes are named
    assert_one_line_error(cli("classify", clf, "-"), 1, "stdin: invalid utf-8 at byte 3", "--encoding")
    stdin("café barn\n".encode("latin-1"))
    assert json.loads(cli("classify", clf, "-", "--encoding", "latin-1", "--format", "jsonl").out)["text"] == \
        "café barn"
    stdin(b"\n")
    assert_one_line_error(cli("classify", clf, "-"), 1, "stdin holds only blank lines")
    stdin(b"\n\n")
    assert_one_line_error(cli("classify", clf, "-", "--format", "jsonl"), 1, "stdin holds only blank lines")
    stdin(b"")
    assert_one_line_error(cli("classify", clf, "-", "--format", "csv"), 1, "stdin is empty")
    (tmp_path / "texts.json").write_text(json.dumps(["cow farm barn", "boat sea wave"]))  # an array of texts
    listed = cli("classify", clf, "--file", "texts.json", "--format", "jsonl")
    assert [json.loads(x)["label"] for x in listed.out.splitlines()] == ["farm", "sea"]
    (tmp_path / "prose.jsonl").write_text("not json at all\n")
    assert_one_line_error(cli("classify", clf, "--file", "prose.jsonl"), 1, "prose.jsonl line 1: not valid JSON",
                          "no line of it is a record")
    (tmp_path / "blank.txt").write_text("", encoding="utf-8")
    assert_one_line_error(cli("classify", clf, "--file", "blank.txt"), 1, "blank.txt is empty")
    assert_one_line_error(cli("classify", clf, "hay", "-"), 2, "mixed with texts")


def test_long_texts_are_truncated_with_a_note(cli, clf):
    result = cli("classify", clf, " ".join(["harbour"] * 400), "sail", "--format", "json")
    assert result.code == 0 and "note: 1 text was longer" in result.err
    rows = json.loads(result.out)
    assert [r["label"] for r in rows] == ["sea", "sea"] and [r["note"] for r in rows] == ["truncated", None]


def test_evaluate_matches_classify(cli, clf, tmp_path):
    rows = [("cow barn hay", "farm"), ("tide gull", "sea"), ("goat seed", "farm"), ("harvest wave", "sea")]
    corpus = write_tsv(tmp_path / "eval.tsv", rows)
    report = json.loads(cli("evaluate", clf, corpus, "--format", "json").out)
    preds = json.loads(cli("classify", clf, *[r[0] for r in rows], "--format", "json").out)
    labels = report["labels"]
    expected = classification_report([labels.index(r[1]) for r in rows],
                                     [labels.index(p["label"]) for p in preds], len(labels))
    assert report["accuracy"] == pytest.approx(expected["accuracy"])
    assert report["confusion"] == expected["confusion"]
    assert report["count"] == 4
    own = cli("evaluate", clf)
    assert own.code == 0 and "confusion matrix" in own.out and "per class" in own.out and "test split" in own.out
    # the saved weights are the best validation's, so scoring the valid split repeats the run's own figure
    valid = json.loads(cli("evaluate", clf, "--split", "dev", "--format", "json").out)
    best = json.loads((tmp_path / clf / "config.json").read_text())["result"]["figures"]["valid"]
    assert valid["split"] == "valid" and valid["accuracy"] == pytest.approx(best["accuracy"])
    assert valid["loss"] == pytest.approx(best["loss"], rel=1e-5)
    assert report["split"] == "whole"
    assert_one_line_error(cli("evaluate", clf, corpus, "--split", "valid"), 2, "no split files", "leave out --split")
    assert_one_line_error(cli("evaluate", clf, "--split", "holdout"), 2, "unknown --split", "train, valid, test")


def test_an_ensemble_averages_its_runs_probabilities(cli, clf, tmp_path):
    # a second run that reads characters, not words: each run of an ensemble uses its own tokenizer
    char = ["--hidden-size", "32", "--quiet", "--seed", "7", "--level", "char", "--epochs", "2"]
    assert cli("train", "topics.tsv", "--task", "classify", *char, "--out", "clf-char").code == 0
    rows = [("cow barn tide", "farm"), ("gull hay wave", "sea"), ("goat seed", "farm"), ("harvest wave deck", "sea"),
            ("rope fence", "sea")]
    texts = [r[0] for r in rows]

    def scores(*runs):
        out = cli("classify", *runs, *texts, "--all-scores", "--format", "json")
        assert out.code == 0, out.err
        return json.loads(out.out)

    alone = [scores(run) for run in ("clf", "clf-char")]
    both = scores("clf", "--ensemble", "clf-char")
    labels = list(both[0]["scores"])
    mean = np.array([[(a["scores"][n] + b["scores"][n]) / 2 for n in labels] for a, b in zip(*alone)])
    np.testing.assert_allclose([[r["scores"][n] for n in labels] for r in both], mean, atol=1e-6)
    assert [r["label"] for r in both] == [labels[i] for i in mean.argmax(1)]
    assert not np.allclose(mean, [[r["scores"][n] for n in labels] for r in alone[0]], atol=1e-3)

    report = json.loads(cli("evaluate", "clf", write_tsv(tmp_path / "eval.tsv", rows), "--ensemble", "clf-char",
                            "--format", "json").out)
    expected = classification_report([labels.index(r[1]) for r in rows], mean.argmax(1).tolist(), len(labels))
    assert report["labels"] == labels and report["ensemble"] == ["clf-char"]
    assert (report["accuracy"], report["confusion"]) == (expected["accuracy"], expected["confusion"])
    gold = [labels.index(r[1]) for r in rows]
    for member, run, probs in zip(report["members"], ("clf", "clf-char"), alone):  # and each run's own figures
        own_acc = classification_report(gold, [labels.index(p["label"]) for p in probs], len(labels))["accuracy"]
        assert member["run"] == run and member["accuracy"] == own_acc, report["members"]
    own = cli("evaluate", "clf", "--ensemble", "clf-char")  # both runs' own test splits: the same texts
    assert own.code == 0 and "and 1 more (mean probabilities)" in own.out
    assert "each run of the ensemble alone" in own.out and "│ clf-char │" in own.out, own.out


def test_ensemble_mistakes(cli, clf, tiny_lm, tmp_path):
    write_tsv(tmp_path / "other.tsv", [(t, {"farm": "land", "sea": "water"}[y]) for t, y in separable_rows(seed=1)])
    write_tsv(tmp_path / "more.tsv", separable_rows(seed=2))
    for corpus, out in (("other.tsv", "clf-other"), ("more.tsv", "clf-more")):
        assert cli("train", corpus, "--task", "classify", *TINY, "--epochs", "1", "--out", out).code == 0
    lm_run = str(tiny_lm[0])
    cases = [
        (["classify", clf, "hay", "--ensemble", "clf-other"], 2, ["labels land, water", "same labels"]),
        (["classify", clf, "hay", "--ensemble", "./clf"], 2, ["given twice"]),
        (["classify", clf, "hay", "--ensemble", lm_run], 2,
         ["--ensemble", "language-model checkpoint", "not a classifier"]),
        (["classify", clf, "hay", "--ensemble", "nowhere"], 1, ["checkpoint not found"]),
        (["evaluate", lm_run, "--ensemble", clf], 2, ["--ensemble averages classifiers"]),
        (["evaluate", clf, "--ensemble", "clf-more"], 1, ["tested on other texts", "pass the corpus"]),
    ]
    for args, code, words in cases:
        assert_one_line_error(cli(*args), code, *words)
    assert cli("evaluate", clf, "more.tsv", "--ensemble", "clf-more").code == 0


def test_evaluate_reads_text_as_training_did_and_an_edited_corpus_leaves_older_runs_their_data(cli, tmp_path):
    """A character-level run sees runs of spaces; scoring its test file must feed it the text as its
    prepared data did. A later run on the edited corpus prepares a folder of its own, so the first run can
    still be scored and resumed on the data it was trained on."""
    rng = random.Random(5)
    folder = tmp_path / "spaced"
    folder.mkdir()
    for name, seed in (("train", 0), ("valid", 1), ("test", 2)):
        rows = [(rng.choice(["   ", " ", "  ", "     "]).join(text.split()), label)
                for text, label in separable_rows(60 if name == "train" else 30, seed)]
        write_tsv(folder / f"{name}.tsv", rows)
    args = ["--task", "classify", "--level", "char", *TINY, "--epochs", "1"]
    assert cli("train", "spaced", *args, "--out", "c").code == 0
    own = json.loads(cli("evaluate", "c", "--format", "json").out)
    on_file = json.loads(cli("evaluate", "c", "spaced", "--format", "json").out)
    assert own["split"] == on_file["split"] == "test" and own["count"] == on_file["count"] == 30
    assert on_file["loss"] == pytest.approx(own["loss"], rel=1e-5) and on_file["accuracy"] == own["accuracy"]

    with (folder / "test.tsv").open("a", encoding="utf-8") as fh:
        fh.write("cow   hay\tfarm\n")
    assert cli("train", "spaced", *args, "--out", "c2").code == 0  # the edited corpus: a prepared folder of its own
    c_data, c2_data = (json.loads((tmp_path / r / "config.json").read_text())["data"]["prepared"] for r in ("c", "c2"))
    assert c_data != c2_data
    assert json.loads(cli("evaluate", "c", "--format", "json").out) == own  # the first run's data is still there
    assert json.loads(cli("evaluate", "c2", "--format", "json").out)["count"] == 31
    assert cli("train", "--resume", "c", "--epochs", "2").code == 0
    (folder / "valid.tsv").unlink()
    assert_one_line_error(cli("evaluate", "c", "spaced", "--split", "valid"), 1, "has no valid split")
    prepared = json.loads((tmp_path / "c2" / "config.json").read_text())["data"]["prepared"]
    assert_one_line_error(cli("evaluate", "c2", prepared), 1, "prepared folder", "the corpus it was made from")


def test_evaluate_names_a_missing_split_of_a_text_folder_or_a_saved_dataset(cli, tiny_lm, clf, tmp_path):
    (tmp_path / "texts").mkdir()
    for name in ("train", "test"):
        (tmp_path / "texts" / f"{name}.txt").write_text(TALES.read_text(encoding="utf-8")[:3000], encoding="utf-8")
    assert_one_line_error(cli("evaluate", tiny_lm[0], "texts", "--split", "valid"), 1, "has no valid split")
    assert cli("evaluate", tiny_lm[0], "texts").code == 0
    datasets = pytest.importorskip("datasets")  # a dependency; absent only on the bare GPU image
    rows = separable_rows(40, seed=3)
    ds = datasets.Dataset.from_dict({"text": [t for t, _ in rows], "label": [y for _, y in rows]})
    ds.save_to_disk(str(tmp_path / "single"))
    whole = json.loads(cli("evaluate", clf, "single", "--format", "json").out)
    assert whole["split"] == "whole" and whole["count"] == 40
    datasets.DatasetDict({"train": ds, "test": ds.select(range(10))}).save_to_disk(str(tmp_path / "two"))
    assert json.loads(cli("evaluate", clf, "two", "--format", "json").out)["count"] == 10
    assert_one_line_error(cli("evaluate", clf, "two", "--split", "valid"), 1, "has no valid split")


def test_evaluate_language_model(cli, tiny_lm):
    run, summary = tiny_lm
    for split in ("test", "valid"):
        result = json.loads(cli("evaluate", run, "--split", split, "--format", "json").out)
        assert result["task"] == "lm" and result["split"] == split
        # the same weights, data and precision; bf16 on a GPU may sum in another order (seen: 1.1e-5)
        assert result["loss"] == pytest.approx(summary["figures"][split]["loss"], rel=1e-4)
    on_text = cli("evaluate", run, str(TALES), "--format", "json")
    assert on_text.code == 0 and json.loads(on_text.out)["bpc"] > 0


def test_classifier_bad_inputs(cli, clf, tiny_lm, tmp_path):
    lm_run = str(tiny_lm[0])
    write_tsv(tmp_path / "nolabel.tsv", [("some text", "x")], header=("text", "stars_given"))
    write_tsv(tmp_path / "oneclass.tsv", [(f"text {i}", "good") for i in range(20)])
    write_tsv(tmp_path / "unknown.tsv", [("cow", "ocean"), ("boat", "ocean")])  # only unknown: some known get scored
    write_tsv(tmp_path / "allempty.tsv", [(" ", "a"), ("", "b")] * 5)
    cases = [
        (["train", "nolabel.tsv", "--task", "classify"], 2, ["label", "columns found: text, stars_given"]),
        (["train", "nolabel.tsv", "--task", "classify", "--label-column", "grade"], 2, ["no column 'grade'"]),
        (["train", "oneclass.tsv", "--task", "classify"], 1, ["only one class"]),
        (["train", "allempty.tsv", "--task", "classify"], 1, ["no non-empty texts"]),
        (["evaluate", clf, "unknown.tsv"], 1, ["ocean", "known labels: farm, sea"]),
        (["classify", lm_run, "hello"], 1, ["language-model checkpoint", "generate"]),
        (["generate", clf], 1, ["classifier checkpoint", "classify"]),
        (["classify", clf], 2, ["no text"]),
        (["classify", clf, "x", "--format", "yaml"], 2, ["--format"]),
        (["classify", clf, "--file", "nope.txt"], 1, ["not found"]),
        (["train", "--task", "classify", "--init-from", clf], 2, ["not a language-model"]),
        (["train", "--task", "classify", "--init-from", lm_run, "--hidden-size", "999"], 2, ["conflicts"]),
        (["train", "--task", "classify", "--pooling", "sum"], 2, ["--pooling"]),
        (["train", "--task", "sentiment"], 2, ["--task"]),
    ]
    for args, code, words in cases:
        assert_one_line_error(cli(*args), code, *words)


@pytest.mark.skipif(not (SHARED / "sst2" / "sentences").exists(), reason="shared SST-2 corpus absent")
def test_sst2_short_run_is_clearly_above_chance(cli):
    result = cli("train", str(SHARED / "sst2" / "sentences"), "--task", "classify", "--epochs", "2",
                 "--hidden-size", "96", "--lowercase", "--quiet", "--out", "sst")
    assert result.code == 0, result.err
    import re

    valid = re.search(r"│ valid\s*│\s*[\d.]+\s*│\s*([\d.]+)%", result.out)
    assert valid and float(valid.group(1)) > 68.0, result.out


def test_evaluate_on_the_runs_own_corpus_scores_the_split_it_held_out(cli, clf, tmp_path):
    """topics.tsv has no split files: the run carved valid and test out of it. Scored whole it would be scored
    mostly on the texts it trained on; the held-out test split is scored instead, as `evaluate RUN` scores it,
    and --split train is the texts it trained on. An edited copy is another corpus, scored whole."""
    own = json.loads(cli("evaluate", clf, "--format", "json").out)
    again = cli("evaluate", clf, "topics.tsv", "--format", "json")
    assert again.code == 0, again.err
    assert "is the corpus clf trained on: scoring the test split it held out" in again.err
    report = json.loads(again.out)
    assert (report["split"], report["count"], report["confusion"]) == ("test", own["count"], own["confusion"])
    assert report["loss"] == pytest.approx(own["loss"], rel=1e-5)
    train = json.loads(cli("evaluate", clf, "topics.tsv", "--split", "train", "--format", "json").out)
    total = len((tmp_path / "topics.tsv").read_text(encoding="utf-8").splitlines()) - 1
    assert train["split"] == "train" and own["count"] < train["count"] < total
    (tmp_path / "copy.tsv").write_bytes((tmp_path / "topics.tsv").read_bytes())  # the same texts, renamed
    copied = cli("evaluate", clf, "copy.tsv", "--format", "json")
    assert json.loads(copied.out)["split"] == "test" and "trained on" in copied.err
    edited = tmp_path / "edited.tsv"
    edited.write_text((tmp_path / "topics.tsv").read_text(encoding="utf-8") + "cow barn hay\tfarm\n",
                      encoding="utf-8")
    whole = cli("evaluate", clf, "edited.tsv", "--format", "json")
    assert json.loads(whole.out)["split"] == "whole" and json.loads(whole.out)["count"] == total + 1
    assert "trained on" not in whole.err
    (tmp_path / "topics.tsv").write_bytes(edited.read_bytes())  # the run's own corpus, edited in place
    in_place = cli("evaluate", clf, "topics.tsv", "--format", "json")
    assert json.loads(in_place.out)["split"] == "whole"
    assert "note: topics.tsv is where the corpus clf trained on was, with other content" in in_place.err
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "topics.tsv").write_bytes(edited.read_bytes())  # the same name elsewhere: no note
    assert "is where the corpus" not in cli("evaluate", clf, "other/topics.tsv").err


def test_evaluate_scores_the_rows_of_known_labels_and_names_the_others(cli, tmp_path):
    corpus = write_tsv(tmp_path / "topics.tsv", separable_rows(120))
    _, run = train_classifier(tmp_path / "c", corpus, epochs=2)
    rows = separable_rows(40, seed=5)
    write_tsv(tmp_path / "known.tsv", rows)
    write_tsv(tmp_path / "mixed.tsv", rows[:20] + [("stars over the hills", "space")] * 3 + rows[20:])
    known = json.loads(cli("evaluate", run, tmp_path / "known.tsv", "--format", "json").out)
    mixed = cli("evaluate", run, tmp_path / "mixed.tsv", "--format", "json")
    assert mixed.code == 0, mixed.err
    report = json.loads(mixed.out)
    assert {k: report[k] for k in ("accuracy", "macro_f1", "loss")} == {k: known[k] for k in ("accuracy", "macro_f1",
                                                                                              "loss")}
    assert sum(row["support"] for row in report["per_class"]) == 40
    assert report["unknown_labels"] == {"space": 3}
    assert "warning: 3 texts of" in mixed.err


def test_classify_keeps_the_columns_asked_for_beside_each_label(cli, tmp_path):
    corpus = write_tsv(tmp_path / "topics.tsv", separable_rows(120))
    _, run = train_classifier(tmp_path / "c", corpus, epochs=2)
    rows = separable_rows(6, seed=9)
    with (tmp_path / "batch.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text", "label"])
        writer.writerows([(f"r{i}", text, label) for i, (text, label) in enumerate(rows)] + [("r6", "", "sea")])
    result = cli("classify", run, "--file", tmp_path / "batch.csv", "--keep-column", "id", "--keep-column", "label",
                 "--format", "csv")
    assert result.code == 0, result.err
    out = list(csv.reader(io.StringIO(result.out)))
    assert out[0] == ["id", "input_label", "text", "label", "confidence", "note"]
    assert [(r[0], r[1], r[2]) for r in out[1:]] == [(f"r{i}", label, text) for i, (text, label) in
                                                    enumerate(rows + [("", "sea")])]
    assert out[-1][3:] == ["", "", "empty"]
    jsonl = cli("classify", run, "--file", tmp_path / "batch.csv", "--keep-column", "id", "--format", "jsonl")
    assert [list(json.loads(line))[:2] for line in jsonl.out.splitlines()] == [["id", "text"]] * 7
    table = cli("classify", run, "--file", tmp_path / "batch.csv", "--keep-column", "id")
    assert "r5" in table.out
    assert_one_line_error(cli("classify", run, "--file", tmp_path / "batch.csv", "--keep-column", "ID2"), 2,
                          "has no column 'ID2'", "id, text, label")
    assert_one_line_error(cli("classify", run, "a text", "--keep-column", "id"), 2, "--keep-column is for --file")
    with (tmp_path / "clash.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([("text", "label", "input_label"), ("cow barn", "farm", "gold")])
    assert_one_line_error(cli("classify", run, "--file", tmp_path / "clash.csv", "--keep-column", "label",
                              "--keep-column", "input_label"), 2, "--keep-column input_label would be written "
                          "input_label, as another kept column is")
    (tmp_path / "lines.txt").write_text("cow barn\n", encoding="utf-8")
    assert_one_line_error(cli("classify", run, "--file", tmp_path / "lines.txt", "--keep-column", "id"), 2,
                          "--keep-column is for tables")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_as_file_is_read_once_as_lines_and_a_device_is_no_missing_file(cli, clf, tmp_path):
    """`--file <(grep ... reviews.txt)` gives a pipe (/dev/fd/63): read once, one text a line."""
    import threading

    fifo = tmp_path / "texts"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text("cow farm barn\nboat sea wave\n"))
    writer.start()
    result = cli("classify", clf, "--file", fifo, "--format", "jsonl")
    writer.join()
    assert result.code == 0, result.err
    assert [json.loads(line)["text"] for line in result.out.splitlines()] == ["cow farm barn", "boat sea wave"]
    assert_one_line_error(cli("classify", clf, "--file", os.devnull), 1, f"{os.devnull} is empty")


def test_stdin_is_labelled_as_it_comes_in_json_lines(clf, tmp_path):
    """`tail -f log | lstmtext classify RUN - --format jsonl`: a row comes out before the next line goes in."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "lstmtext", "classify", str(clf), "-", "--format", "jsonl"],
                            cwd=tmp_path, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdin.write("cow farm barn\n")
    proc.stdin.flush()
    first = json.loads(proc.stdout.readline())  # while stdin is still open
    assert first["text"] == "cow farm barn" and first["label"] == "farm"
    proc.stdin.write("\nboat sea wave\n")
    proc.stdin.close()
    rest = [json.loads(line) for line in proc.stdout.read().splitlines()]
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert [(r["text"], r["label"]) for r in rest] == [("", None), ("boat sea wave", "sea")]


def test_rows_written_a_chunk_at_a_time_are_the_rows_written_at_once(cli, clf, tmp_path, monkeypatch):
    import lstmtext.cli.classify_cmd as classify_cmd

    (tmp_path / "many.txt").write_text("cow farm\n\nboat sea\nbarn hay\ntide wave\n" * 3, encoding="utf-8")
    whole = cli("classify", clf, "--file", "many.txt", "--format", "csv")
    monkeypatch.setattr(classify_cmd, "CHUNK", 4)
    chunked = cli("classify", clf, "--file", "many.txt", "--format", "csv")
    assert chunked.code == 0 and chunked.out == whole.out and chunked.out.count("text,label") == 1
    assert chunked.err == whole.err and "3 empty texts were not classified" in chunked.err


def test_evaluate_names_what_it_scored_and_a_split_file_the_run_learnt_from(cli, tmp_path):
    (tmp_path / "data").mkdir()
    write_tsv(tmp_path / "data" / "train.tsv", separable_rows(60))
    write_tsv(tmp_path / "data" / "dev.tsv", separable_rows(12))
    assert cli("train", "data", "--task", "classify", *TINY, "--epochs", "2", "--out", "run").code == 0
    scored = cli("evaluate", "run", "data/train.tsv", "--json")
    assert scored.code == 0, scored.err
    result = json.loads(scored.out)
    assert result["corpus"] == "data/train.tsv" and result["weights"] == "best"
    assert "note: data/train.tsv holds the texts run trained on, so its figures are no test of it" in scored.err
    dev = cli("evaluate", "run", "data/dev.tsv", "--weights", "last")
    assert "holds the texts run chose its best weights on" in dev.err
    (tmp_path / "elsewhere").mkdir()
    os.chdir(tmp_path / "elsewhere")  # (the cli fixture's chdir puts it back) the run's corpus found from anywhere
    away = cli("evaluate", "../run", "../data/train.tsv")
    assert "note: ../data/train.tsv holds the texts ../run trained on" in away.err, away.err
    os.chdir(tmp_path)
    assert "evaluation of run (its last weights) on the whole corpus of data/dev.tsv" in dev.out
    write_tsv(tmp_path / "other.tsv", separable_rows(60, seed=1))
    assert cli("train", "other.tsv", "--task", "classify", *TINY, "--epochs", "1", "--out", "other").code == 0
    together = cli("evaluate", "other", "data/train.tsv", "--ensemble", "run")  # the second run learnt these texts
    assert together.code == 0, together.err
    assert "note: data/train.tsv holds the texts run trained on, so its figures are no test of it" in together.err
    mine = cli("evaluate", "run", "other.tsv", "--ensemble", "other")  # the second run trained on the whole file
    assert "note: other.tsv is the corpus other trained on, most of it in its train split" in mine.err, mine.err


def test_a_quote_that_never_closes_in_a_table_of_one_column_is_named(cli, clf, tmp_path):
    """A table of one column has the right number of fields however far a runaway quote runs: the rest of the
    file was one text, labelled with no word."""
    (tmp_path / "runaway.csv").write_text('text\n"cow farm\nboat sea\nbarn hay\n', encoding="utf-8")
    assert_one_line_error(cli("classify", clf, "--file", "runaway.csv"), 1,
                          "runaway.csv line 2: a quoted field that starts there never closes")
    (tmp_path / "closed.csv").write_text('text\n"cow farm\nbarn hay"\n', encoding="utf-8")
    closed = cli("classify", clf, "--file", "closed.csv", "--format", "jsonl")
    assert closed.code == 0 and json.loads(closed.out)["text"] == "cow farm\nbarn hay"


def test_a_folder_prepared_for_a_classifier_trains_one_without_task(cli, tmp_path):
    write_tsv(tmp_path / "rev.tsv", separable_rows(120))
    assert cli("tokenize", "rev.tsv", "--task", "classify", "--out", "prep", "--quiet").code == 0
    result = cli("train", "prep", "--hidden-size", "32", "--max-steps", "2", "--out", "r")
    assert result.code == 0, result.err
    assert "note: prep was prepared for a classifier: training one (--task classify)" in result.err
    assert json.loads((tmp_path / "r" / "config.json").read_text())["task"] == "classify"
    typed = cli("train", "prep", "--task", "lm", "--hidden-size", "32", "--max-steps", "2", "--out", "r2")
    assert typed.code == 2 and "was prepared for a classifier" in typed.err  # asked for: refused, not overridden


def test_json_output_of_a_run_with_nan_weights_is_strict_json(cli, clf, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(tmp_path / clf, tmp_path / "nan")
    weights = load_file(tmp_path / "nan" / "model.safetensors")
    save_file({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in weights.items()},
              tmp_path / "nan" / "model.safetensors")

    def strict(text):
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))

    assert strict(cli("evaluate", "nan", "topics.tsv", "--json").out)["loss"] is None
    assert strict(cli("classify", "nan", "cow farm", "--format", "json").out)[0]["confidence"] is None
    assert strict(cli("classify", "nan", "cow farm", "--format", "jsonl").out.splitlines()[0])["confidence"] is None


def test_classify_reads_a_file_with_a_utf16_byte_order_mark_as_evaluate_does(cli, clf, tmp_path):
    (tmp_path / "u16.tsv").write_text("text\tlabel\ncow barn hay\tfarm\nboat tide wave\tsea\n", encoding="utf-16")
    result = cli("classify", clf, "--file", "u16.tsv", "--format", "jsonl")
    assert result.code == 0, result.err
    assert [json.loads(line)["text"] for line in result.out.splitlines()] == ["cow barn hay", "boat tide wave"]
    assert "starts with a UTF-16 byte-order mark: read as UTF-16" in result.err
    scored = cli("evaluate", clf, "u16.tsv", "--json")
    assert scored.code == 0 and json.loads(scored.out)["count"] == 2, scored.err


def test_a_run_trained_with_encoding_utf16_le_reads_its_files_so_without_a_mark(cli, tmp_path):
    write_tsv(tmp_path / "u.tsv", separable_rows(120))
    (tmp_path / "le.tsv").write_text((tmp_path / "u.tsv").read_text(encoding="utf-8"), encoding="utf-16-le")
    assert cli("train", "le.tsv", "--task", "classify", *TINY, "--encoding", "utf-16-le", "--max-steps", "2",
               "--out", "le").code == 0
    (tmp_path / "more.tsv").write_text("text\tlabel\ncow barn hay\tfarm\n", encoding="utf-16-le")
    result = cli("classify", "le", "--file", "more.tsv", "--format", "jsonl")
    assert result.code == 0 and json.loads(result.out)["text"] == "cow barn hay", result.err
    assert "reading more.tsv as utf-16-le, the --encoding the run's corpus was read with" in result.err
    (tmp_path / "plain.txt").write_text("cow barn\nboat sea\n", encoding="utf-8")  # even length: UTF-16 would read it
    plain = cli("classify", "le", "--file", "plain.txt", "--format", "jsonl")
    assert plain.code == 0 and [json.loads(r)["text"] for r in plain.out.splitlines()] == ["cow barn", "boat sea"]
    assert "reading plain.txt as UTF-8, which it is, not as utf-16-le" in plain.err


def test_classify_takes_json_as_every_command_does(cli, clf):
    assert json.loads(cli("classify", clf, "cow barn", "--json").out) == json.loads(
        cli("classify", clf, "cow barn", "--format", "json").out)
    assert_one_line_error(cli("classify", clf, "cow barn", "--json", "--format", "csv"), 2,
                          "--json and --format csv ask for two formats")
