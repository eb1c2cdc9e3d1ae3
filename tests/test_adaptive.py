"""The adaptive softmax (--adaptive-softmax): exact probabilities, the CPU and GPU paths alike, and runs
that train, save, load, generate and evaluate with it."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lstmtext.adaptive import AdaptiveSoftmax, default_cutoffs, frequency_order
from lstmtext.config import ModelConfig
from lstmtext.models import LanguageModel
from tests.conftest import TINY, assert_one_line_error

VOCAB = 60


def head(tied: bool, cutoffs=(10, 30)) -> tuple[AdaptiveSoftmax, torch.Tensor]:
    torch.manual_seed(0)
    layer = AdaptiveSoftmax(8, VOCAB, list(cutoffs), tied)
    layer.set_order(torch.randperm(VOCAB))  # any tokenizer's ids: the ranking is the layer's own
    return layer, torch.randn(VOCAB, 8)


@pytest.mark.parametrize("tied", [False, True])
def test_log_probabilities_are_a_distribution_and_the_losses_read_them(tied):
    layer, embedding = head(tied)
    x, y = torch.randn(5, 7, 8), torch.randint(0, VOCAB, (5, 7))
    logp = layer.log_prob(x, embedding)
    assert logp.shape == (5, 7, VOCAB)
    assert torch.allclose(logp.logsumexp(-1), torch.zeros(5, 7), atol=1e-5)
    expected = -logp.gather(-1, y[..., None]).reshape(-1)
    for dense in (False, True):  # the CPU's gather by cluster and the fixed-shape path CUDA graphs take
        assert torch.allclose(layer.nll(x, y, embedding, dense=dense), expected, atol=1e-5)


def test_the_cpu_and_dense_paths_give_the_same_gradients():
    layer, embedding = head(True)
    embedding.requires_grad_()
    x, y = torch.randn(40, 8, requires_grad=True), torch.randint(0, VOCAB, (40,))
    grads = []
    for dense in (False, True):
        layer.zero_grad()
        x.grad = embedding.grad = None
        layer.nll(x, y, embedding, dense=dense).mean().backward()
        grads.append([x.grad.clone(), embedding.grad.clone(), *(p.grad.clone() for p in layer.parameters())])
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-6)


def test_a_tied_shortlist_reads_the_embedding_rows_of_the_most_frequent_tokens():
    layer, embedding = head(True)
    x = torch.randn(3, 8)
    shortlist = layer.order[:10]
    logits = x @ embedding[shortlist].T + layer.head_bias[:10]
    in_head = logits - torch.cat([logits, x @ layer.cluster.T + layer.head_bias[10:]], -1).logsumexp(-1, keepdim=True)
    assert torch.allclose(layer.log_prob(x, embedding)[:, shortlist], in_head, atol=1e-5)
    assert layer.head is None and not any(p.shape[0] == VOCAB for p in layer.parameters())


def test_the_order_is_by_frequency_and_survives_a_state_dict_round_trip():
    tokens = np.array([5, 5, 5, 2, 2, 9, 0, 5, 2, 1], dtype=np.uint16)
    order = frequency_order(tokens, 12)
    assert order[:5].tolist() == [5, 2, 0, 1, 9] and sorted(order.tolist()) == list(range(12))
    layer = AdaptiveSoftmax(4, 12, [3], tied=False)
    layer.set_order(order)
    copy = AdaptiveSoftmax(4, 12, [3], tied=False)
    copy.load_state_dict(layer.state_dict())
    assert "rank" not in layer.state_dict()  # derived from the order, not saved
    assert torch.equal(copy.rank[copy.order], torch.arange(12))
    x = torch.randn(2, 4)
    assert torch.allclose(copy.log_prob(x, torch.empty(0)), layer.log_prob(x, torch.empty(0)))


def test_default_cutoffs_fit_the_vocabulary():
    assert default_cutoffs(2_000) == default_cutoffs(2_400) == []
    assert default_cutoffs(2_500) == default_cutoffs(6_350) == [2_000]
    assert default_cutoffs(10_001) == [2_000]  # Penn Treebank's: no second cluster of one token
    assert default_cutoffs(33_278) == [2_000, 10_000]
    assert default_cutoffs(300_000) == [2_000, 10_000, 50_000]  # 250,000 would leave the last cluster a sixth
    assert default_cutoffs(320_000) == [2_000, 10_000, 50_000, 250_000]


def test_a_language_model_loss_is_the_cross_entropy_of_its_log_probabilities():
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=VOCAB, embed_dim=16, hidden_size=16, layers=1, dropout=0.0,
                                      cutoffs=[8, 20])).eval()
    x, y = torch.randint(0, VOCAB, (3, 9)), torch.randint(0, VOCAB, (3, 9))
    logp, _ = model(x)
    out, _, _, _ = model.outputs(x, decode=False)
    expected = F.cross_entropy(logp.reshape(-1, VOCAB), y.reshape(-1))
    assert torch.allclose(model.loss(out, y), expected, atol=1e-5)
    assert torch.allclose(model.loss(out, y, reduction="sum"), expected * y.numel(), atol=1e-3)
    full = LanguageModel(ModelConfig(vocab_size=VOCAB, embed_dim=16, hidden_size=16, layers=1, dropout=0.0)).eval()
    out, _, _, _ = full.outputs(x, decode=False)
    assert torch.allclose(full.loss(out, y), F.cross_entropy(full(x)[0].reshape(-1, VOCAB), y.reshape(-1)))


@pytest.fixture
def words(tmp_path):
    """A word-level text with a vocabulary of a few hundred words, frequent and rare."""
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(400)]
    p = 1.0 / np.arange(1, 401)
    lines = [" ".join(rng.choice(vocab, size=12, p=p / p.sum())) for _ in range(600)]
    path = tmp_path / "words.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_adaptive_run_trains_saves_and_is_used_like_any_other(cli, tmp_path, words):
    run = tmp_path / "ada"
    result = cli("train", words, "--level", "word", "--adaptive-softmax", "--cutoffs", "50,150", *TINY,
                 "--max-steps", "40", "--out", run)
    assert result.code == 0, result.err
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["cutoffs"] == [50, 150]
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    valid = [m["valid_loss"] for m in metrics if "valid_loss" in m]
    assert valid[-1] < math.log(401) - 0.5  # learnt the word frequencies at least
    evaluated = cli("evaluate", run, "--split", "valid", "--format", "json")
    assert evaluated.code == 0, evaluated.err
    assert json.loads(evaluated.out)["loss"] == pytest.approx(min(valid), rel=1e-4)
    generated = cli("generate", run, "--prompt", "w1", "--length", "20", "--seed", "3")
    assert generated.code == 0, generated.err
    assert len(generated.out.split()) >= 20 and all(w.startswith("w") for w in generated.out.split())
    info = cli("info", run)
    assert info.code == 0 and "adaptive softmax" in info.out and "50, 150" in info.out


@pytest.mark.parametrize("flags, message", [
    (["--cutoffs", "50"], "--cutoffs sets where an adaptive softmax's clusters end"),
    (["--adaptive-softmax", "--cutoffs", "50,x"], "not a comma-separated list"),
    (["--adaptive-softmax", "--cutoffs", "150,50"], "above the one before"),
    (["--adaptive-softmax", "--cutoffs", "5000"], "below the vocabulary's"),
    (["--adaptive-softmax"], "too few to split after the 2,000 its head holds"),
    (["--adaptive-softmax", "--compile", "--cutoffs", "50"], "--compile compiles the full softmax"),
])
def test_adaptive_softmax_mistakes_are_one_line(cli, tmp_path, words, flags, message):
    result = cli("train", words, "--level", "word", *TINY, "--max-steps", "2", "--out", tmp_path / "r", *flags)
    assert_one_line_error(result, 2, message)
    assert not (tmp_path / "r").exists()


def test_a_language_model_from_an_adaptive_one_keeps_its_output_layer(cli, tmp_path, words):
    base = tmp_path / "base"
    assert cli("train", words, "--level", "word", "--adaptive-softmax", "--cutoffs", "50", *TINY,
               "--max-steps", "10", "--out", base).code == 0
    tuned = cli("train", words, "--init-from", base, *TINY, "--max-steps", "2", "--out", tmp_path / "tuned")
    assert tuned.code == 0, tuned.err
    assert json.loads((tmp_path / "tuned" / "config.json").read_text())["model"]["cutoffs"] == [50]
    assert_one_line_error(cli("train", words, "--init-from", base, "--adaptive-softmax", "--cutoffs", "60", *TINY,
                              "--out", tmp_path / "x"), 2, "conflicts with")
    assert_one_line_error(cli("train", words, "--init-from", base, "--full-softmax", *TINY, "--out", tmp_path / "z"),
                          2, "--full-softmax conflicts with", "which has an adaptive softmax")
    assert_one_line_error(cli("train", words, "--init-from", base, "--extend-vocab", *TINY, "--out", tmp_path / "y"),
                          2, "--extend-vocab cannot grow the adaptive softmax")
    table = tmp_path / "labelled.tsv"
    lines = words.read_text(encoding="utf-8").splitlines()
    table.write_text("text\tlabel\n" + "".join(f"{line}\t{'w0' in line.split()}\n" for line in lines),
                     encoding="utf-8")
    classifier = cli("train", table, "--task", "classify", "--init-from", base, "--max-steps", "2", "--quiet",
                     "--out", tmp_path / "cls")
    assert classifier.code == 0, classifier.err
    config = json.loads((tmp_path / "cls" / "config.json").read_text())
    assert config["model"]["cutoffs"] == [] and config["transferred_tensors"] >= 5  # embedding and LSTM


def test_the_cpu_ptb_preset_has_an_adaptive_softmax_which_a_flag_turns_back(cli, tmp_path, words):
    steps = ["--max-steps", "2", "--eval-every", "2", "--quiet"]
    result = cli("train", words, "--preset", "ptb-word-cpu", "--cutoffs", "50", *steps, "--out", tmp_path / "a")
    assert result.code == 0, result.err
    assert json.loads((tmp_path / "a" / "config.json").read_text())["model"]["cutoffs"] == [50]
    result = cli("train", words, "--preset", "ptb-word-cpu", "--full-softmax", *steps, "--out", tmp_path / "f")
    assert result.code == 0, result.err
    config = json.loads((tmp_path / "f" / "config.json").read_text())
    assert config["model"]["cutoffs"] == [] and config["model"]["hidden_size"] == 200


def test_a_language_model_from_another_is_never_given_another_output_layer_unasked(cli, tmp_path, words):
    """A preset's --adaptive-softmax does not replace a pretrained full softmax, nor does a typed --cutoffs or
    --no-tie-weights silently start the pretrained output layer afresh: the flags are refused instead."""
    steps = ["--max-steps", "2", "--eval-every", "2", "--quiet"]
    full, ada = tmp_path / "full", tmp_path / "ada"
    assert cli("train", words, "--level", "word", *TINY, "--max-steps", "4", "--out", full).code == 0
    assert cli("train", words, "--level", "word", "--adaptive-softmax", "--cutoffs", "50", *TINY, "--max-steps", "4",
               "--out", ada).code == 0
    tuned = cli("train", words, "--preset", "ptb-word-cpu", "--init-from", full, *steps, "--out", tmp_path / "p")
    assert tuned.code == 0, tuned.err
    config = json.loads((tmp_path / "p" / "config.json").read_text())
    assert config["model"]["cutoffs"] == [] and config["transferred_tensors"] == 6  # all: embedding, LSTM, bias
    for flags, words_in_error in [(["--preset", "ptb-word-cpu", "--init-from", ada, "--cutoffs", "60"],
                                   ("--cutoffs 60 conflicts with", "which has 50")),
                                  (["--init-from", full, "--cutoffs", "60"], ("which has a full softmax",)),
                                  (["--init-from", full, "--no-tie-weights"], ("--no-tie-weights conflicts",
                                                                               "tied to its embedding")),
                                  (["--init-from", ada, "--no-tie-weights"], ("--no-tie-weights conflicts",)),
                                  (["--task", "classify", "--cutoffs", "60"], ("--cutoffs is for --task lm",))]:
        assert_one_line_error(cli("train", words, *flags, *steps, "--out", tmp_path / "x"), 2, *words_in_error)
    same = cli("train", words, "--init-from", ada, "--cutoffs", "50", *steps, "--out", tmp_path / "same")
    assert same.code == 0, same.err  # --cutoffs that agree with the language model's need no --adaptive-softmax


def test_damaged_cutoffs_or_token_order_are_named_as_damage(cli, tmp_path, words):
    run = tmp_path / "ada"
    assert cli("train", words, "--level", "word", "--adaptive-softmax", "--cutoffs", "50", *TINY, "--max-steps", "4",
               "--out", run).code == 0
    config = json.loads((run / "config.json").read_text())
    for bad in ("50", [50.0], [150, 50], [config["model"]["vocab_size"]]):
        (run / "config.json").write_text(json.dumps({**config, "model": {**config["model"], "cutoffs": bad}}))
        for command in (["info", run], ["evaluate", run], ["generate", run, "--length", "5"]):
            assert_one_line_error(cli(*command), 1, "config.json is damaged", "model.cutoffs")
        assert_one_line_error(cli("train", words, "--init-from", run, *TINY, "--out", tmp_path / "x"), 1,
                              "config.json is damaged")
    (run / "config.json").write_text(json.dumps(config))
    from safetensors.torch import load_file, save_file

    weights = load_file(run / "model.safetensors")
    save_file({**weights, "adaptive.order": torch.zeros_like(weights["adaptive.order"])}, run / "model.safetensors")
    assert_one_line_error(cli("evaluate", run), 1, "adaptive.order", "not an ordering")


def test_a_config_that_no_longer_matches_the_weights_says_to_restore_it(cli, tmp_path, words):
    """config.json edited to another output layer: the weights and the resume state no longer fit it, and the
    hint says to restore config.json (not to start the run again, which would lose it)."""
    run = tmp_path / "ada"
    assert cli("train", words, "--level", "word", "--adaptive-softmax", "--cutoffs", "50", *TINY, "--max-steps",
               "5", "--out", run).code == 0
    config = json.loads((run / "config.json").read_text())
    config["model"]["cutoffs"] = []
    (run / "config.json").write_text(json.dumps(config))
    assert_one_line_error(cli("generate", run, "-n", "3"), 1, "does not match config.json", "restore config.json")
    assert_one_line_error(cli("train", "--resume", run, "--max-steps", "8"), 1,
                          "does not match the run's model as config.json describes it", "restore it")
