"""Right-to-left language models (--reverse) and a bidirectional classifier whose backward
direction starts from one (--init-backward-from): ULMFiT's forward and backward pretraining."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from lstmtext.batches import LMBatches
from lstmtext.config import ModelConfig, TokenizerSpec, TrainConfig
from lstmtext.corpus import open_corpus
from lstmtext.data import Prepared, ensure_prepared
from lstmtext.models import Classifier
from lstmtext.tasks import LMTask
from lstmtext.training import train
from lstmtext.transfer import init_from_lm
from tests.conftest import REVIEWS, assert_one_line_error

SIZE = 32


def train_lm(run, prepared, steps, reverse=False, init_from=None, freeze_embedding=False, level_seq=32):
    run.mkdir(parents=True)
    cfg = ModelConfig(vocab_size=prepared.tokenizer.vocab_size, embed_dim=SIZE, hidden_size=SIZE, layers=1,
                      dropout=0.0, reverse=reverse)
    return train(run, prepared, cfg, TrainConfig(seq_len=level_seq, batch_size=16, lr=1e-2, max_steps=steps,
                                                 eval_every=1000, warmup_steps=5, device="cpu", epochs=1000,
                                                 freeze_embedding=freeze_embedding), init_from=init_from)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A forward word model of the shipped reviews, and a backward one started from it with its embedding kept."""
    root = tmp_path_factory.mktemp("pair")
    ensure_prepared(open_corpus(REVIEWS), TokenizerSpec(level="word", lowercase=True), root / "prep")
    prepared = Prepared.open(root / "prep")
    train_lm(root / "fw", prepared, 30)
    summary = train_lm(root / "bw", prepared, 30, reverse=True, init_from=root / "fw", freeze_embedding=True)
    return root / "fw", root / "bw", prepared, summary


def test_a_reversed_model_trains_on_the_stream_read_from_its_end(pair):
    *_, prepared, _ = pair
    cfg = TrainConfig(seq_len=16, batch_size=4)
    tokens = np.asarray(prepared.tokens("train"))
    task = LMTask(prepared, cfg, torch.device("cpu"), reverse=True)
    expected = LMBatches(tokens[::-1].copy(), 4, 16)
    assert len(task.train) == len(expected)
    for step in (0, 1, len(expected) - 1):
        np.testing.assert_array_equal(task.window(step)[1], expected.window(step))
    assert task.window(0)[1][0, 0] == tokens[-1]  # the first stream starts at the text's last token
    forward = LMTask(prepared, cfg, torch.device("cpu"))
    assert forward.window(0)[1][0, 0] == tokens[0]


def test_the_backward_model_starts_from_the_forward_one_and_keeps_its_embedding(pair, cli):
    fw, bw, _, summary = pair
    a, b = load_file(fw / "model.safetensors"), load_file(bw / "model.safetensors")
    assert torch.equal(a["embedding.weight"], b["embedding.weight"])  # frozen (and the tied decoder with it)
    assert not torch.equal(a["lstm.weight_hh_l0"], b["lstm.weight_hh_l0"])  # the LSTM trained
    config = json.loads((bw / "config.json").read_text())
    assert config["model"]["reverse"] is True and config["train"]["freeze_embedding"] is True
    assert config["init_from"] == str(fw) and config["transferred_tensors"] == len(a)
    shown = cli("info", bw, "--format", "json")
    facts = json.loads(shown.out)
    assert facts["reads"].startswith("right to left") and facts["frozen"].startswith("embedding")
    # `evaluate` reads the test split right to left too: the figure training reported
    scored = cli("evaluate", bw, "--format", "json", "--device", "cpu")
    assert scored.code == 0, scored.err
    assert json.loads(scored.out)["loss"] == pytest.approx(summary["figures"]["test"]["loss"], rel=1e-4)


def test_a_reversed_model_writes_what_comes_before_the_prompt(tmp_path, cli):
    line = "the quick brown fox jumps over the lazy dog\n"
    (tmp_path / "fox.txt").write_text(line * 300, encoding="utf-8")
    ensure_prepared(open_corpus(tmp_path / "fox.txt"), TokenizerSpec(level="char"), tmp_path / "prep")
    prepared = Prepared.open(tmp_path / "prep")
    summary = train_lm(tmp_path / "bw", prepared, 150, reverse=True, level_seq=64)
    assert summary["figures"]["valid"]["loss"] < 0.1, summary["figures"]
    result = cli("generate", tmp_path / "bw", "--prompt", "over the lazy dog", "--length", "30", "--temperature", "0",
                 "--json", "--device", "cpu")
    assert result.code == 0, result.err
    text = json.loads(result.out)["samples"][0]
    assert text.endswith("over the lazy dog") and len(text) == 47
    assert text in line * 3  # 30 characters of what comes before the prompt, in reading order
    own = cli("evaluate", tmp_path / "bw", "--format", "json", "--split", "train")  # its prepared data
    other = cli("evaluate", tmp_path / "bw", tmp_path / "fox.txt", "--format", "json", "--split", "train")
    assert own.code == other.code == 0, other.err  # a corpus read as text: a reversed view torch could not take
    assert json.loads(other.out)["loss"] < 0.1


def test_the_classifier_takes_each_direction_from_its_own_model(pair):
    fw, bw, prepared, _ = pair
    model = Classifier(ModelConfig(task="classify", vocab_size=prepared.tokenizer.vocab_size, embed_dim=SIZE,
                                   hidden_size=SIZE, layers=1, bidirectional=True, pooling="mean", num_classes=2))
    assert init_from_lm(model, fw, bw) == 9  # embedding, and four tensors per direction
    a, b, own = load_file(fw / "model.safetensors"), load_file(bw / "model.safetensors"), model.state_dict()
    assert torch.equal(own["embedding.weight"], a["embedding.weight"])
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        assert torch.equal(own[f"fwd.0.{name}_l0"], a[f"lstm.{name}_l0"])
        assert torch.equal(own[f"bwd.0.{name}_l0"], b[f"lstm.{name}_l0"])


def test_freeze_epochs_keep_both_pretrained_directions(pair, cli):
    fw, bw, _, _ = pair
    b = load_file(bw / "model.safetensors")
    for freeze in ("1", "0"):
        out = f"clf-{freeze}"
        result = cli("train", REVIEWS, "--task", "classify", "--init-from", fw, "--init-backward-from", bw,
                     "--freeze-epochs", freeze, "--max-steps", "3", "--device", "cpu", "--quiet", "--out", out)
        assert result.code == 0, result.err
        config = json.loads(Path(out, "config.json").read_text())
        assert config["model"]["bidirectional"] is True and config["init_backward_from"] == str(bw)
        weights = load_file(f"{out}/model.safetensors")
        kept = torch.equal(weights["bwd.0.weight_hh_l0"], b["lstm.weight_hh_l0"])
        assert kept == (freeze == "1"), freeze


@pytest.mark.parametrize("step", ["eager", "buffered"])
def test_pretrained_layers_learn_at_their_share_of_the_rate(pair, cli, tmp_path, monkeypatch, step):
    """--pretrained-lr: AdamW's first step moves each weight by the rate (g / |g|), so the embedding and the
    forward LSTM taken from the language model move a quarter as far as the new backward direction and head;
    and the split groups survive a stop and resume bit for bit. ``buffered``: the CUDA-graph step's buffers
    and capturable optimizer, whose rates are device tensors filled by the schedule, run eagerly."""
    if step == "buffered":
        import lstmtext.training as training

        monkeypatch.setattr(training, "graph_blocker", lambda *args: None)
    fw, _, _, _ = pair
    lm = load_file(fw / "model.safetensors")
    common = ["--task", "classify", "--init-from", fw, "--bidirectional", "--pretrained-lr", "0.25", "--schedule",
              "constant", "--warmup-steps", "0", "--dropout", "0", "--lr", "0.01", "--device", "cpu", "--quiet"]
    made = cli("train", REVIEWS, *common, "--max-steps", "1", "--out", tmp_path / "one")
    assert made.code == 0, made.err
    torch.manual_seed(1234)  # the seed training starts from: the same fresh backward direction and head
    start = Classifier(ModelConfig(task="classify", vocab_size=len(lm["embedding.weight"]), embed_dim=SIZE,
                                   hidden_size=SIZE, layers=1, dropout=0.0, bidirectional=True, pooling="concat",
                                   num_classes=2))
    init_from_lm(start, fw)
    before, after = start.state_dict(), load_file(tmp_path / "one" / "model.safetensors")
    moved = {name: float((after[name] - before[name]).abs().max()) / 0.01 for name in after}
    for name, share in moved.items():
        expected = 0.25 if name.startswith(("embedding.", "fwd.")) else 1.0
        assert share == pytest.approx(expected, rel=0.02), (name, share)
    assert json.loads(cli("info", tmp_path / "one", "--format", "json").out)["pretrained_lr"] == "0.25 x --lr"
    mode = json.loads((tmp_path / "one" / "config.json").read_text())["result"]["step_mode"]
    assert mode.startswith("eager (") == (step == "eager"), mode
    straight = cli("train", REVIEWS, *common, "--max-steps", "6", "--out", tmp_path / "straight")
    half = cli("train", REVIEWS, *common, "--max-steps", "3", "--out", tmp_path / "split")
    resumed = cli("train", "--resume", tmp_path / "split", "--max-steps", "6", "--quiet")
    assert straight.code == half.code == resumed.code == 0, resumed.err
    a, b = load_file(tmp_path / "straight" / "last.safetensors"), load_file(tmp_path / "split" / "last.safetensors")
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_mismatched_directions_and_flags_are_refused(pair, cli, tmp_path):
    fw, bw, _, _ = pair
    own_embedding = tmp_path / "own"
    made = cli("train", REVIEWS, "--task", "lm", "--reverse", "--init-from", fw, "--max-steps", "2", "--device",
               "cpu", "--quiet", "--out", own_embedding)
    assert made.code == 0, made.err
    cases = [
        (["--task", "classify", "--reverse"], 2, ["--reverse is for --task lm"]),
        (["--task", "classify", "--init-backward-from", bw], 2, ["needs --init-from"]),
        (["--task", "lm", "--init-from", fw, "--init-backward-from", bw], 2, ["for --task classify"]),
        (["--task", "classify", "--init-from", fw, "--init-backward-from", bw, "--no-bidirectional"], 2,
         ["bidirectional"]),
        (["--task", "classify", "--init-from", bw], 2, ["right to left", "--init-backward-from"]),
        (["--task", "classify", "--init-from", fw, "--init-backward-from", fw], 2, ["left to right", "--reverse"]),
        (["--task", "classify", "--init-from", fw, "--init-backward-from", own_embedding], 1,
         ["embedding of its own", "--freeze-embedding"]),
        (["--task", "lm", "--init-from", fw, "--hidden-size", "48"], 2, ["conflicts"]),
        (["--task", "lm", "--freeze-epochs", "1"], 2, ["--freeze-embedding"]),
        (["--task", "lm", "--init-from", fw, "--pretrained-lr", "0.5"], 2, ["--pretrained-lr", "--lr instead"]),
        (["--task", "classify", "--pretrained-lr", "0.5"], 2, ["--pretrained-lr needs --init-from"]),
        (["--task", "classify", "--init-from", fw, "--freeze-epochs", "1", "--optimizer", "asgd"], 2,
         ["cannot be combined", "adamw or sgd"]),
        (["--task", "classify", "--init-from", fw, "--pretrained-lr", "0"], 2, ["--pretrained-lr", "above 0"]),
    ]
    for args, code, words in cases:
        assert_one_line_error(cli("train", REVIEWS, *args, "--device", "cpu", "--quiet", "--max-steps", "1",
                                  "--out", tmp_path / "never"), code, *words)
    assert not (tmp_path / "never").exists() or not any((tmp_path / "never").iterdir())


def test_the_decoder_reads_batch_first_views_as_one_matrix_product():
    """``decoder_logits`` flattens the LSTM's transposed output first (with a frozen tied table, F.linear on
    the view computed the input's gradient against a copy of the table per sequence); same logits."""
    from lstmtext.models import decoder_logits

    torch.manual_seed(0)
    out = torch.randn(7, 5, 16).transpose(0, 1)  # [batch 5, time 7], not contiguous, as nn.LSTM gives it
    weight, bias = torch.randn(50, 16), torch.randn(50)
    logits = decoder_logits(out, weight, bias)
    assert logits.shape == (5, 7, 50)
    torch.testing.assert_close(logits, torch.nn.functional.linear(out, weight, bias))


def test_a_language_model_started_from_one_takes_its_whole_shape(cli, tmp_path):
    """AWD's shape (a last layer of the embedding's size, tied): the new model is the same network, every
    tensor copied, without the flags being repeated."""
    made = cli("train", REVIEWS, "--level", "word", "--embed-dim", "24", "--hidden-size", "40", "--layers", "2",
               "--last-layer-size", "24", "--max-steps", "2", "--device", "cpu", "--quiet", "--out", "awd")
    assert made.code == 0, made.err
    started = cli("train", REVIEWS, "--reverse", "--init-from", "awd", "--max-steps", "1", "--device", "cpu",
                  "--quiet", "--out", "awd-bw")
    assert started.code == 0, started.err
    source = json.loads(Path("awd", "config.json").read_text())
    config = json.loads(Path("awd-bw", "config.json").read_text())
    for key in ("embed_dim", "hidden_size", "layers", "last_layer_size", "tie_weights"):
        assert config["model"][key] == source["model"][key], key
    assert config["transferred_tensors"] == len(load_file("awd/model.safetensors"))
