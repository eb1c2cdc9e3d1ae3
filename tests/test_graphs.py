"""The CUDA-graph training step: when it is used, and that it trains exactly as the plain step does.

Off CUDA the buffered step (fixed batch and state buffers, capturable AdamW with a tensor learning
rate) runs eagerly, so these tests check everything but the capture itself on the CPU; the tests
marked for CUDA run the captured graph where a GPU is present.
"""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import lstmtext.training as training
from lstmtext.config import ModelConfig, TokenizerSpec, TrainConfig
from lstmtext.corpus import open_corpus
from lstmtext.data import Prepared, ensure_prepared
from lstmtext.graphs import graph_blocker, total_norm
from lstmtext.optim import make_optimizer
from tests.conftest import TALES, average_from_the_first_evaluation

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("args,reason", [
    (("adamw", "cuda", torch.bfloat16, "stop", True), None),
    (("adamw", "cuda", None, "stop", True), None),
    (("adamw", "cuda", torch.bfloat16, "stop", False), "--no-cuda-graphs"),
    (("adamw", "cpu", None, "stop", True), "not on CUDA"),
    (("sgd", "cuda", None, "stop", True), None),
    (("asgd", "cuda", None, "stop", True), None),
    (("adamw", "cuda", torch.float16, "stop", True), "fp16"),
    (("adamw", "cuda", None, "skip", True), "--on-nan skip"),
])
def test_graph_is_used_only_where_the_step_can_be_captured(args, reason):
    optimizer, device, dtype, on_nan, wanted = args
    blocker = graph_blocker(optimizer, torch.device(device), dtype, on_nan, wanted)
    assert blocker == reason if reason is None else reason in blocker


def train_and_read(out, prepared, model, cfg, buffered, monkeypatch):
    """Train into ``out`` (``buffered``: the CUDA-graph step's buffered path, also off CUDA); returns
    the summary, the validation losses and the last weights."""
    if buffered:
        monkeypatch.setattr(training, "graph_blocker", lambda *args: None)
    out.mkdir()
    summary = training.train(out, prepared, model, cfg, save_every="0")
    if buffered:
        monkeypatch.undo()
    losses = [json.loads(line)["valid_loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    return summary, losses, load_file(out / "last.safetensors")


def run(tmp_path, name, device="cpu", buffered=False, monkeypatch=None, steps=40, dropout=0.0, layers=2, hidden=48,
        awd=None, **cfg_kw):
    prep = tmp_path / "prep"
    if not prep.exists():
        ensure_prepared(open_corpus(TALES), TokenizerSpec(level="char"), prep)
    prepared = Prepared.open(prep)
    model = ModelConfig(vocab_size=prepared.tokenizer.vocab_size, embed_dim=hidden, hidden_size=hidden,
                        layers=layers, dropout=dropout, **(awd or {}))
    settings = dict(seq_len=32, batch_size=8, lr=5e-3, max_steps=steps, eval_every=15, log_every=5,
                    warmup_steps=5, device=device, seed=11, precision="fp32")
    cfg = TrainConfig(**{**settings, **cfg_kw})
    return train_and_read(tmp_path / name, prepared, model, cfg, buffered, monkeypatch)


@pytest.mark.parametrize("settings", [dict(), dict(optimizer="sgd", lr=2.0, schedule="plateau", eval_every=10),
                                      dict(ar=2.0, tar=1.0), dict(awd=dict(last_layer_size=24, variational=True,
                                                                           weight_drop=0.2), dropout=0.1),
                                      dict(compile=True), dict(shift_windows=True), dict(ema=0.9),
                                      dict(awd=dict(cutoffs=[10, 30]))])
def test_buffered_step_trains_as_the_plain_step(tmp_path, monkeypatch, settings):
    """Same seed, same batches (across an epoch boundary, where the carried state restarts), same
    schedule: the buffered step's weights and validation losses match the plain step's."""
    cfg_kw = dict(steps=50, batch_size=128, **settings)  # tales.txt at 128 streams x 32: 31 steps per epoch
    plain, plain_losses, plain_weights = run(tmp_path, "plain", **cfg_kw)
    buffered, losses, weights = run(tmp_path, "buffered", buffered=True, monkeypatch=monkeypatch, **cfg_kw)
    assert plain["epochs"] > 1
    assert plain["step_mode"] == "eager (not on CUDA)" and buffered["step_mode"] == "eager"
    np.testing.assert_allclose(losses, plain_losses, rtol=1e-4)
    for key, value in plain_weights.items():
        torch.testing.assert_close(weights[key], value, rtol=1e-4, atol=1e-5)


def test_learning_rate_tensor_follows_the_schedule_and_saves_as_a_number(tmp_path, monkeypatch):
    summary, _, _ = run(tmp_path, "run", buffered=True, monkeypatch=monkeypatch, steps=20)
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    lrs = [group["lr"] for group in state["optimizer"]["param_groups"]]
    assert all(isinstance(lr, float) for lr in lrs) and 0 < lrs[0] < 5e-3  # cosine-decayed, not the peak
    assert all(isinstance(lr, float) for lr in state["schedule"]["base_lrs"])
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(isinstance(r["lr"], float) for r in records)


@cuda
@pytest.mark.parametrize("awd", [None, dict(cutoffs=[10, 30])], ids=["full-softmax", "adaptive-softmax"])
def test_cuda_graph_trains_as_the_eager_step(tmp_path, awd):
    eager, eager_losses, eager_weights = run(tmp_path, "eager", device="cuda", cuda_graphs=False, steps=50,
                                             batch_size=128, awd=awd)
    graph, losses, weights = run(tmp_path, "graph", device="cuda", steps=50, batch_size=128, awd=awd)
    assert graph["step_mode"] == "cuda graph" and eager["step_mode"] == "eager (--no-cuda-graphs)"
    np.testing.assert_allclose(losses, eager_losses, rtol=2e-3)
    for key, value in eager_weights.items():
        torch.testing.assert_close(weights[key], value, rtol=2e-2, atol=2e-3)


@cuda
def test_ema_in_a_cuda_graph_trains_as_the_eager_step(tmp_path):
    """--ema's average is updated inside the captured step; the saved weights are the averages."""
    settings = dict(device="cuda", steps=50, batch_size=128, ema=0.9)
    eager, eager_losses, eager_weights = run(tmp_path, "eager", cuda_graphs=False, **settings)
    graph, losses, weights = run(tmp_path, "graph", **settings)
    assert graph["step_mode"] == "cuda graph"
    np.testing.assert_allclose(losses, eager_losses, rtol=2e-3)
    for key, value in eager_weights.items():
        torch.testing.assert_close(weights[key], value, rtol=2e-2, atol=2e-3)


@cuda
def test_nt_asgd_in_a_cuda_graph_trains_as_the_eager_step(tmp_path, monkeypatch):
    """SGD, then averaging from the first validation on: the step is captured again when it starts."""
    average_from_the_first_evaluation(monkeypatch)
    settings = dict(device="cuda", steps=50, batch_size=128, optimizer="asgd", lr=2.0, schedule="constant")
    eager, eager_losses, eager_weights = run(tmp_path, "eager", cuda_graphs=False, **settings)
    graph, losses, weights = run(tmp_path, "graph", **settings)
    assert graph["step_mode"] == "cuda graph"
    records = [json.loads(line) for line in (tmp_path / "graph" / "metrics.jsonl").read_text().splitlines()]
    assert records[0]["averaging_from"] == 15
    np.testing.assert_allclose(losses, eager_losses, rtol=2e-3)
    for key, value in eager_weights.items():  # the saved weights are the averages
        torch.testing.assert_close(weights[key], value, rtol=2e-2, atol=2e-3)


@cuda
def test_cuda_graph_with_dropout_and_bf16_learns_as_the_eager_step(tmp_path):
    """Dropout masks come from the graph's RNG offsets, so the runs differ; both must learn alike."""
    settings = dict(device="cuda", steps=300, dropout=0.1, precision="bf16", batch_size=16, seq_len=64, lr=1e-2,
                    eval_every=50, warmup_steps=20, hidden=96)
    eager, eager_losses, _ = run(tmp_path, "eager", cuda_graphs=False, **settings)
    graph, losses, _ = run(tmp_path, "graph", **settings)
    assert graph["step_mode"] == "cuda graph"
    assert eager_losses[-1] < 0.9 * eager_losses[0]
    assert losses[-1] == pytest.approx(eager_losses[-1], rel=0.03)


AWD = dict(variational=True, embed_dropout=0.1, weight_drop=0.3)


@cuda
@pytest.mark.parametrize("shape", [dict(), dict(layers=3, last_layer_size=64)])
def test_awd_regularisers_run_in_the_cuda_graph_and_learn_as_the_eager_step(tmp_path, shape):
    """Variational dropout, word dropout and weight drop (the LSTM run on dropped-out weights) are
    captured too, also with AWD's smaller last layer; their masks differ between the runs, so both
    must learn alike."""
    shape = dict(shape)
    layers = shape.pop("layers", 2)
    settings = dict(device="cuda", steps=300, dropout=0.1, batch_size=16, seq_len=64, lr=1e-2, eval_every=50,
                    warmup_steps=20, hidden=96, layers=layers, awd={**AWD, **shape})
    eager, eager_losses, _ = run(tmp_path, "eager", cuda_graphs=False, **settings)
    graph, losses, _ = run(tmp_path, "graph", **settings)
    assert graph["step_mode"] == "cuda graph"
    assert eager_losses[-1] < 0.9 * eager_losses[0]
    assert losses[-1] == pytest.approx(eager_losses[-1], rel=0.03)


@cuda
def test_cuda_graph_run_resumes_where_it_stopped(tmp_path):
    from lstmtext.training import StopRequest, TrainEvents

    class StopAt(TrainEvents):
        def step(self, info):
            if info["step"] >= 20:
                stop.request("test")

    straight, straight_losses, straight_weights = run(tmp_path, "straight", device="cuda")
    prepared = Prepared.open(tmp_path / "prep")
    model = ModelConfig(vocab_size=prepared.tokenizer.vocab_size, embed_dim=48, hidden_size=48, layers=2,
                        dropout=0.0)
    cfg = TrainConfig(seq_len=32, batch_size=8, lr=5e-3, max_steps=40, eval_every=15, log_every=5,
                      warmup_steps=5, device="cuda", seed=11, precision="fp32")
    out = tmp_path / "split"
    out.mkdir()
    stop = StopRequest()
    first = training.train(out, prepared, model, cfg, events=StopAt(), stop=stop, save_every="0")
    assert first["stopped_by"] == "interrupted"
    second = training.train(out, prepared, model, cfg, resume=True, save_every="0")
    assert second["steps"] == 40 and second["step_mode"] == "cuda graph"
    resumed = load_file(out / "last.safetensors")
    for key, value in straight_weights.items():
        torch.testing.assert_close(resumed[key], value, rtol=1e-3, atol=1e-4)


def classify_run(tmp_path, name, device="cpu", buffered=False, monkeypatch=None, dropout=0.0, pooling="concat",
                 **cfg_kw):
    from tests.test_classify import separable_rows, write_tsv

    prep = tmp_path / "cprep"
    if not prep.exists():
        corpus = write_tsv(tmp_path / "topics.tsv", separable_rows(300))
        ensure_prepared(open_corpus(corpus, task="classify"), TokenizerSpec(level="word"), prep, task="classify")
    prepared = Prepared.open(prep)
    model = ModelConfig(task="classify", vocab_size=prepared.tokenizer.vocab_size, embed_dim=24, hidden_size=24,
                        layers=2, dropout=dropout, bidirectional=True, pooling=pooling, num_classes=2)
    settings = dict(batch_size=14, lr=5e-3, max_steps=40, eval_every=15, log_every=5, warmup_steps=5,
                    device=device, seed=11, precision="fp32", class_weights="auto")
    cfg = TrainConfig(**{**settings, **cfg_kw})
    return train_and_read(tmp_path / name, prepared, model, cfg, buffered, monkeypatch)


def teacher_for(tmp_path, device="cpu"):
    """A classifier of the topics, trained briefly, for --distill-from."""
    teacher = tmp_path / "teacher"
    if not teacher.exists():
        classify_run(tmp_path, "teacher", device=device, max_steps=20, eval_every=20)
    return [str(teacher)]


@pytest.mark.parametrize("pooling, adversarial, freeze, distill", [("mean", 0.0, 0, False), ("last", 0.0, 0, False),
                                                                ("mean", 2.0, 0, False), ("concat", 2.0, 1, False),
                                                                ("concat", 2.0, 0, True)])
def test_buffered_classifier_step_trains_as_the_plain_step(tmp_path, monkeypatch, pooling, adversarial, freeze,
                                                           distill):
    """Batches padded up to a multiple of 8 into per-shape buffers (the graphs' inputs) train exactly
    as the plain padded batches do, over more than one epoch and a partial last batch (and with
    --adversarial, whose move ignores the padding, with --freeze-epochs, whose first epoch
    leaves the LSTM and embedding as they were, and with --distill-from, whose targets have buffers
    of their own)."""
    kw = dict(pooling=pooling, adversarial=adversarial, freeze_epochs=freeze,
              distill_from=teacher_for(tmp_path) if distill else [])
    plain, plain_losses, plain_weights = classify_run(tmp_path, "plain", **kw)
    buffered, losses, weights = classify_run(tmp_path, "buffered", buffered=True, monkeypatch=monkeypatch, **kw)
    assert plain["epochs"] > 1 and buffered["step_mode"] == "eager"
    np.testing.assert_allclose(losses, plain_losses, rtol=1e-4)
    for key, value in plain_weights.items():
        torch.testing.assert_close(weights[key], value, rtol=1e-4, atol=1e-5)


@cuda
@pytest.mark.parametrize("adversarial, freeze, distill", [(0.0, 0, False), (2.0, 0, False), (2.0, 1, False),
                                                          (2.0, 0, True)])
def test_cuda_graphs_train_the_classifier_as_the_eager_step(tmp_path, adversarial, freeze, distill):
    kw = dict(adversarial=adversarial, freeze_epochs=freeze,
              distill_from=teacher_for(tmp_path, "cuda") if distill else [])
    eager, eager_losses, eager_weights = classify_run(tmp_path, "eager", device="cuda", cuda_graphs=False, **kw)
    graph, losses, weights = classify_run(tmp_path, "graph", device="cuda", **kw)
    assert graph["step_mode"] == "cuda graph" and eager["figures"]["valid"]["accuracy"] > 0.9
    np.testing.assert_allclose(losses, eager_losses, rtol=2e-3)
    # each tensor as a whole, not element by element: the graph's batches are padded to a multiple of 8, so
    # cuDNN rounds differently, and Adam turns those last bits into whole steps for the few weights whose
    # gradient sits near zero. On the H100 with --adversarial 2, 2-5 elements in 2,304 of an LSTM matrix
    # moved 0.003-0.006, yet every tensor stayed within 2e-3 of the eager one; leaving the adversarial step
    # out moves them by 2e-2 (the embedding) to 2e-1
    for key, value in eager_weights.items():
        moved = (weights[key] - value).norm() / value.norm()
        assert moved < 1e-2, f"{key} is {moved:.2e} away from the eager step's"


@pytest.mark.parametrize("optimizer", ["adamw", "sgd", "asgd"])
@pytest.mark.parametrize("clip", [0.0, 0.05, 1e3])
def test_clipping_inside_the_fused_update_matches_clip_grad_norm(optimizer, clip):
    """The clip factor applied inside the fused optimizer's kernel (or, for ASGD, by clip_grad_norm_)
    gives the weights that clip_grad_norm_ followed by the plain update gives."""
    def model_and_optimizer():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Embedding(50, 8), torch.nn.Linear(8, 3))
        cfg = TrainConfig(optimizer=optimizer, lr=0.1, clip=clip)
        return model, make_optimizer(model, cfg, torch.device("cpu"))

    def loss(model, step):
        x = torch.arange(step, step + 20) % 50
        return model(x).pow(2).mean()

    ours, ours_opt = model_and_optimizer()
    reference, reference_opt = model_and_optimizer()
    assert ours_opt.defaults.get("fused")
    params = [p for p in ours.parameters()]
    for step in range(3):
        ours_opt.zero_grad()
        loss(ours, step).backward()
        clipped = clip > 0 and float(total_norm([p.grad for p in params])) > clip
        training.clipped_step(ours_opt, params, clip)
        reference_opt.zero_grad()
        loss(reference, step).backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(reference.parameters(), clip)
        reference_opt.step()
        assert not hasattr(ours_opt, "grad_scale")
        assert clipped == (clip == 0.05)  # the small clip binds, the large one does not
    for mine, theirs in zip(ours.parameters(), reference.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)
