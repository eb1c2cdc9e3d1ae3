"""--distill-from: a classifier that learns from other classifiers' probabilities (knowledge distillation)."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import assert_one_line_error
from tests.test_classify import separable_rows, write_tsv

TINY = ["--task", "classify", "--hidden-size", "32", "--epochs", "3", "--device", "cpu", "--quiet"]


def topics_folder(path, flip=False):
    """The two topics in train/valid/test files (fixed splits, so every run builds the same tokenizer);
    ``flip``: the same texts with each label swapped for the other."""
    path.mkdir()
    swap = {"farm": "sea", "sea": "farm"} if flip else {"farm": "farm", "sea": "sea"}
    for split, seed, n in (("train", 0, 240), ("valid", 1, 60), ("test", 2, 60)):
        write_tsv(path / f"{split}.tsv", [(text, swap[label]) for text, label in separable_rows(n, seed)])
    return path


@pytest.fixture
def teacher(cli, tmp_path):
    topics_folder(tmp_path / "topics")
    assert cli("train", "topics", *TINY, "--out", "teacher").code == 0
    return "teacher"


def accuracy(cli, run, corpus):
    result = cli("evaluate", run, corpus, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)["accuracy"]


def test_a_student_learns_what_its_teacher_says_over_the_labels(cli, teacher, tmp_path):
    """With --distill-weight 1 the labels carry no weight: on texts labelled the other way round, the
    student still learns the teacher's mapping, which plain training on the same labels unlearns."""
    topics_folder(tmp_path / "flipped", flip=True)
    assert accuracy(cli, teacher, "topics") >= 0.95
    student = cli("train", "flipped", *TINY, "--distill-from", teacher, "--distill-weight", "1", "--out", "student")
    assert student.code == 0, student.err
    assert accuracy(cli, "student", "topics") >= 0.95
    assert accuracy(cli, "student", "flipped") <= 0.05
    assert cli("train", "flipped", *TINY, "--out", "plain").code == 0
    assert accuracy(cli, "plain", "flipped") >= 0.95
    config = json.loads((tmp_path / "student" / "config.json").read_text())
    assert config["train"]["distill_from"] == [teacher] and config["train"]["distill_weight"] == 1.0
    info = cli("info", "student")
    assert info.code == 0 and "distilled from" in info.out and teacher in info.out


def test_the_targets_are_the_teachers_mean_probabilities_at_the_temperature(cli, teacher, tmp_path):
    assert cli("train", "topics", *TINY, "--seed", "2", "--epochs", "1", "--out", "teacher2").code == 0
    result = cli("train", "topics", *TINY, "--epochs", "1", "--distill-from", teacher, "--distill-from", "teacher2",
                 "--distill-temperature", "3", "--out", "student")
    assert result.code == 0, result.err
    from lstmtext.checkpoint import load_checkpoint
    from lstmtext.data import Prepared
    from lstmtext.models import predict_proba

    prepared = Prepared.open(json.loads((tmp_path / "student" / "config.json").read_text())["data"]["prepared"])
    texts, _ = prepared.cut_texts("train", 256)
    expected = 0
    for run in (teacher, "teacher2"):
        probs = predict_proba(load_checkpoint(tmp_path / run).model, texts, 64, torch.device("cpu")).astype(np.float64)
        softened = probs ** (1 / 3)
        expected = expected + softened / softened.sum(1, keepdims=True) / 2
    saved = load_file(tmp_path / "student" / "teachers.safetensors")["probs"].numpy()
    assert saved.shape == (240, 2)
    np.testing.assert_allclose(saved, expected, atol=1e-5)
    assert 0.5 < saved.max(1).mean() < 0.99  # softened: the teachers' confident 0.99s are pulled in


def test_the_loss_mixes_the_labels_and_the_teachers_by_the_weight():
    from lstmtext.tasks import label_loss

    logits = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.3, -2.0]])
    y = torch.tensor([0, 2])
    hard = torch.nn.functional.cross_entropy(logits, y)
    agreeing = torch.softmax(logits / 2, dim=-1)  # targets the model already matches at T = 2: no KL to pay
    torch.testing.assert_close(label_loss(logits, y, None, agreeing, 0.25, 2.0), 0.75 * hard)
    other = torch.tensor([[0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    kl = (other * (other.log() - torch.log_softmax(logits / 2, dim=-1))).sum(1).mean()
    torch.testing.assert_close(label_loss(logits, y, None, other, 0.25, 2.0), 0.75 * hard + 0.25 * 4 * kl)
    torch.testing.assert_close(label_loss(logits, y, None, None, 0.25, 2.0), hard)


def test_distillation_mistakes(cli, teacher, tiny_lm, tmp_path):
    topics_folder(tmp_path / "topics-char")  # the same texts read as characters: another tokenizer
    assert cli("train", "topics-char", *TINY, "--level", "char", "--epochs", "1", "--out", "char-teacher").code == 0
    write_tsv(tmp_path / "other.tsv", [(t, {"farm": "land", "sea": "water"}[y]) for t, y in separable_rows(seed=1)])
    assert cli("train", "other.tsv", *TINY, "--epochs", "1", "--out", "other-teacher").code == 0
    lm_run = str(tiny_lm[0])
    cases = [
        (["--distill-from", lm_run], 2, ["--distill-from", "language-model checkpoint", "not a classifier"]),
        (["--distill-from", "nowhere"], 1, ["checkpoint not found"]),
        (["--distill-from", teacher, "--distill-from", f"./{teacher}"], 2, ["given twice"]),
        (["--distill-from", "other-teacher"], 1, ["labels land, water", "same labels"]),
        (["--distill-from", "char-teacher"], 1, ["another tokenizer", "same tokenizer"]),
        (["--distill-weight", "0.3"], 2, ["--distill-weight needs --distill-from"]),
        (["--distill-from", teacher, "--distill-weight", "0"], 2, ["--distill-weight must be above 0"]),
        (["--distill-from", teacher, "--distill-weight", "1.5"], 2, ["at most 1"]),
        (["--distill-from", teacher, "--distill-temperature", "0"], 2, ["--distill-temperature must be"]),
    ]
    for args, code, words in cases:
        assert_one_line_error(cli("train", "topics", *TINY, "--out", "student", *args), code, *words)
        assert not (tmp_path / "student").exists()
    assert_one_line_error(cli("train", "--distill-from", teacher, "--max-steps", "1", "--out", "lm"), 2,
                          "--distill-from is for --task classify")
    shutil.copytree(tmp_path / teacher, tmp_path / "done")
    assert_one_line_error(cli("train", "--resume", "done", "--distill-from", teacher), 2,
                          "--distill-from cannot be given with --resume")


def test_a_teacher_whose_vocabulary_extend_vocab_grew_otherwise_is_named_as_such(cli, tiny_lm, tmp_path):
    (tmp_path / "topics").mkdir()
    for split, seed in (("train", 0), ("valid", 1), ("test", 2)):  # with characters the tales lack, which it adds
        write_tsv(tmp_path / "topics" / f"{split}.tsv", [(f"{t} ø ß", y) for t, y in separable_rows(60, seed)])
    lm = str(tiny_lm[0])
    tiny = [a for a in TINY if a not in ("--hidden-size", "32")]  # the language model's sizes
    grown = cli("train", "topics", *tiny, "--init-from", lm, "--extend-vocab", "--max-steps", "2", "--out", "grown")
    assert grown.code == 0, grown.err
    plain = cli("train", "topics", *tiny, "--init-from", lm, "--max-steps", "2", "--distill-from", "grown",
                "--out", "s1")
    assert_one_line_error(plain, 1, "--distill-from grown reads text with another vocabulary than this run's",
                          "it was trained with --extend-vocab", "with --extend-vocab as here")
    assert cli("train", "topics", *tiny, "--init-from", lm, "--max-steps", "2", "--out", "kept").code == 0
    growing = cli("train", "topics", *tiny, "--init-from", lm, "--extend-vocab", "--max-steps", "2",
                  "--distill-from", "kept", "--out", "s2")
    assert_one_line_error(growing, 1, "this run's --extend-vocab adds this corpus's words, which it lacks")
    same = cli("train", "topics", *tiny, "--init-from", lm, "--extend-vocab", "--max-steps", "2",
               "--distill-from", "grown", "--out", "s3")
    assert same.code == 0, same.err
