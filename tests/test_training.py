import json

import numpy as np
import pytest
import torch

from lstmtext.checkpoint import load_checkpoint
from lstmtext.config import TrainConfig
from lstmtext.metrics import unigram_entropy
from lstmtext.tasks import LMTask
from lstmtext.devices import autocast_dtype, autocast_for
from tests.conftest import REVIEWS, TALES, TINY, assert_one_line_error, train_small


def valid_loss(run, prepared, weights):
    ckpt = load_checkpoint(run, weights=weights, task="lm")
    task = LMTask(prepared, TrainConfig(seq_len=64, batch_size=16, device="cpu"), torch.device("cpu"))
    cpu = torch.device("cpu")
    amp = autocast_for(autocast_dtype(ckpt.config["train"]["precision"], cpu), cpu)  # as training measured it
    return task.evaluate(ckpt.model, "valid", amp)["loss"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("train") / "run"
    summary, prepared = train_small(run, steps=300, hidden=96, eval_every=60)
    return run, summary, prepared


def test_validation_loss_falls_well_below_unigram_entropy(trained):
    run, summary, prepared = trained
    counts = np.bincount(np.asarray(prepared.tokens("train")), minlength=prepared.tokenizer.vocab_size)
    entropy = unigram_entropy(counts.tolist())
    assert entropy > 2.5
    assert summary["figures"]["valid"]["loss"] < 0.8 * entropy
    assert summary["figures"]["test"]["loss"] < 0.85 * entropy
    valid = summary["figures"]["valid"]
    assert valid["bpc"] == pytest.approx(valid["loss"] / np.log(2), rel=0.01)


def test_best_and_last_weights_are_kept_and_reload_exactly(trained):
    run, summary, prepared = trained
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [60, 120, 180, 240, 300]
    best = min(r["valid_loss"] for r in records)
    assert valid_loss(run, prepared, "best") == pytest.approx(best, abs=1e-6)
    assert valid_loss(run, prepared, "last") == pytest.approx(records[-1]["valid_loss"], abs=1e-6)
    assert summary["figures"]["valid"]["loss"] == pytest.approx(best, abs=1e-9)
    config = json.loads((run / "config.json").read_text())
    assert config["status"] == "done" and config["format_version"] == 1


def test_reloaded_checkpoint_gives_identical_logits(trained):
    run, _, _ = trained
    a = load_checkpoint(run).model
    b = load_checkpoint(run).model
    x = torch.randint(2, a.cfg.vocab_size, (3, 17))
    with torch.no_grad():
        assert torch.equal(a(x)[0], b(x)[0])
    assert a.decoder is None  # tied: the decoder reuses the embedding
    assert "embedding.weight" in a.state_dict() and len(a.state_dict()) == len(set(a.state_dict()))


def test_time_limit_stops_training(tmp_path):
    summary, _ = train_small(tmp_path / "run", steps=100_000, time_limit=1.0, eval_every=10_000)
    assert summary["stopped_by"] == "time limit"
    assert summary["steps"] < 100_000
    assert (tmp_path / "run" / "model.safetensors").exists()


def test_word_level_training_runs(tmp_path):
    summary, prepared = train_small(tmp_path / "run", level="word", steps=40, eval_every=20)
    assert prepared.level == "word"
    assert np.isfinite(summary["figures"]["valid"]["loss"])
    assert summary["figures"]["valid"]["ppl"] < prepared.tokenizer.vocab_size


@pytest.mark.skipif(not (__import__("tests.conftest").conftest.SHARED / "tinyshakespeare").exists(),
                    reason="shared tiny Shakespeare corpus absent")
def test_tiny_shakespeare_char_loss_falls(tmp_path):
    from tests.conftest import SHARED

    summary, prepared = train_small(tmp_path / "run", corpus=SHARED / "tinyshakespeare" / "input.txt", steps=150,
                                    hidden=96, eval_every=50)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["valid_loss"] for r in records]
    assert losses[-1] < losses[0] - 0.3, losses
    assert summary["figures"]["valid"]["loss"] < 2.6
    assert prepared.meta["vocab_size"] == 65 + 2


@pytest.mark.parametrize("amx,bf16,expected", [(True, False, torch.bfloat16), (False, True, torch.bfloat16),
                                               (False, False, None)])
def test_auto_precision_is_bf16_only_where_the_cpu_has_bf16_units(monkeypatch, amx, bf16, expected):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bf16, raising=False)
    assert autocast_dtype("auto", torch.device("cpu")) is expected
    assert autocast_dtype("fp32", torch.device("cpu")) is None
    assert autocast_dtype("auto", torch.device("meta")) is None
    assert autocast_dtype("auto", torch.device("cuda")) is torch.bfloat16  # no GPU needed to decide


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
def test_compiled_decoder_loss_gives_the_eager_loss_and_gradients(dtype):
    from lstmtext.tasks import CompiledDecoderLoss, decoder_loss

    torch.manual_seed(0)
    out = torch.randn(2, 6, 8)
    weight, bias, y = torch.randn(30, 8), torch.randn(30), torch.randint(0, 30, (2, 6))
    results, cpu = [], torch.device("cpu")
    for fn in (lambda *a: decoder_loss(*a, cpu, dtype), CompiledDecoderLoss(cpu, dtype)):
        leaves = [t.clone().requires_grad_() for t in (out, weight, bias)]
        loss = fn(*leaves, y)
        loss.backward()
        results.append([loss.detach(), *(t.grad for t in leaves)])
        assert getattr(fn, "mode", "compiled") == "compiled"
    tol = dict(rtol=1e-5, atol=1e-5) if dtype is None else dict(rtol=2e-2, atol=2e-2)
    for eager, compiled in zip(*results):
        torch.testing.assert_close(compiled, eager, **tol)


def test_a_failed_compile_trains_on_eagerly_and_says_why(cli, tmp_path, monkeypatch):
    def broken(fn, **kw):
        def call(*args):
            raise RuntimeError("no C++ compiler found\nlong details")
        return call

    monkeypatch.setattr(torch, "compile", broken)
    out = tmp_path / "run"
    result = cli("train", TALES, "--level", "word", "--hidden-size", "16", "--max-steps", "6", "--compile",
                 "--out", str(out), "--quiet")
    assert result.code == 0, result.err
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["compile"] is True
    assert config["result"]["decoder_loss"] == "eager (compile failed: no C++ compiler found)"
    shown = json.loads(cli("info", out, "--format", "json").out)
    assert shown["compile"] == "eager (compile failed: no C++ compiler found)"  # as asked, and as it ran
    refused = cli("train", REVIEWS, "--task", "classify", "--compile", "--out", str(tmp_path / "c"))
    assert refused.code == 2 and "--compile is for --task lm" in refused.err


def test_bf16_is_refused_where_the_cpu_has_no_bf16_lstm_kernel_and_a_bf16_run_is_measured_in_fp32(
        cli, tmp_path, corpus, monkeypatch):
    """oneDNN has no bf16 LSTM on an AVX2 CPU: asked for, bf16 is refused before anything is written, and a run
    trained in bf16 elsewhere is evaluated in fp32 there (it had failed with an internal error)."""
    import json

    import lstmtext.devices as devices

    monkeypatch.setattr(devices, "cpu_runs_bf16_lstm", lambda: False)
    result = cli("train", corpus, *TINY, "--precision", "bf16", "--max-steps", "2", "--out", tmp_path / "r")
    assert_one_line_error(result, 2, "--precision bf16", "no bf16 LSTM kernel")
    assert not (tmp_path / "r").exists()
    run = tmp_path / "fp32"
    assert cli("train", corpus, *TINY, "--precision", "fp32", "--max-steps", "10", "--out", run).code == 0
    valid = [json.loads(line)["valid_loss"] for line in (run / "metrics.jsonl").read_text().splitlines()][-1]
    config = json.loads((run / "config.json").read_text())
    config["train"]["precision"] = "bf16"  # as if trained on a machine with the kernel
    (run / "config.json").write_text(json.dumps(config))
    evaluated = cli("evaluate", run, "--split", "valid", "--format", "json")
    assert evaluated.code == 0, evaluated.err
    assert json.loads(evaluated.out)["loss"] == pytest.approx(valid, rel=1e-5)


@pytest.mark.parametrize("level,optimizer,wide", [("word", "adamw", True), ("bpe", "adamw", True),
                                                  ("char", "adamw", False), ("word", "sgd", False)])
def test_adamws_word_and_subword_models_start_from_wider_embeddings(cli, level, optimizer, wide):
    """AdamW's word and subword language models start from embeddings of N(0, 0.3) (the ±0.1 of the SGD recipes
    left the default word model on the unigram plateau); char level and SGD keep ±0.1."""
    from safetensors.torch import load_file

    from tests.conftest import TALES

    result = cli("train", str(TALES), "--level", level, "--optimizer", optimizer, "--hidden-size", "16",
                 "--layers", "1", "--max-steps", "1", "--lr", "1e-6", "--quiet", "--out", "r")
    assert result.code == 0, result.err
    embedding = load_file("r/model.safetensors")["embedding.weight"].float()
    assert (0.25 < embedding.std() < 0.35) if wide else (embedding.abs().max() <= 0.1 + 1e-4)


def test_a_best_validation_that_is_not_a_number_is_beaten_by_any_that_is():
    from lstmtext.tasks import ClassifyTask

    assert LMTask.better({"loss": 3.0}, {"loss": float("nan")}) and LMTask.better({"loss": 3.0}, {"loss": None})
    assert not LMTask.better({"loss": 3.0}, {"loss": 2.0}) and LMTask.better({"loss": 1.0}, {"loss": 2.0})
    assert not LMTask.better({"loss": float("nan")}, {"loss": float("nan")})  # NaN after NaN is no progress
    assert not ClassifyTask.better({"macro_f1": 0.5, "loss": float("nan")}, {"macro_f1": 0.4, "loss": None})
    assert ClassifyTask.better({"macro_f1": 0.5, "loss": 0.7}, {"macro_f1": 0.9, "loss": None})
    assert not ClassifyTask.better({"macro_f1": 0.5, "loss": 0.7}, {"macro_f1": 0.9, "loss": 0.2})
