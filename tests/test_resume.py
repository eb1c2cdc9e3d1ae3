"""Exact resume: N steps straight equal N/2 steps, a stop, and a resume for the rest (bit for bit)."""

import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file

from lstmtext.config import ModelConfig, TokenizerSpec, TrainConfig
from lstmtext.corpus import open_corpus
from lstmtext.data import Prepared, ensure_prepared
from lstmtext.training import StopRequest, TrainEvents, train
from tests.conftest import TALES, average_from_the_first_evaluation
from tests.test_classify import separable_rows, write_tsv


class StopAt(TrainEvents):
    def __init__(self, stop: StopRequest, at: int) -> None:
        self.stop, self.at = stop, at

    def step(self, info):
        if info["step"] >= self.at:
            self.stop.request("test")


def setups(tmp_path, task):
    ema = "-ema" in task  # the moving average, kept in the optimizer state, across the stop
    distill = "-distill" in task  # the teachers' targets, read back from the run folder on resume
    adaptive = "-adaptive" in task  # an adaptive softmax, its token order saved with the weights
    task = task.replace("-ema", "").replace("-distill", "").replace("-adaptive", "")
    if task.startswith("lm-shifted"):  # 30 steps an epoch: the stop is in the first, the second draws its offset
        ensure_prepared(open_corpus(TALES), TokenizerSpec(level="char"), tmp_path / "prep")
        prepared = Prepared.open(tmp_path / "prep")
        model = ModelConfig(vocab_size=prepared.tokenizer.vocab_size, embed_dim=32, hidden_size=32, layers=1,
                            dropout=0.1)
        cfg = TrainConfig(seq_len=32, batch_size=128, lr=5e-3, max_steps=40, eval_every=15, log_every=5,
                          warmup_steps=5, device="cpu", seed=11, shift_windows=True)
    elif task.startswith("lm-reversed"):  # a backward model with its table frozen (out of the optimizer)
        ensure_prepared(open_corpus(TALES), TokenizerSpec(level="char"), tmp_path / "prep")
        prepared = Prepared.open(tmp_path / "prep")
        model = ModelConfig(vocab_size=prepared.tokenizer.vocab_size, embed_dim=32, hidden_size=32, layers=1,
                            dropout=0.1, reverse=True)
        cfg = TrainConfig(seq_len=32, batch_size=16, lr=5e-3, max_steps=40, eval_every=15, log_every=5,
                          warmup_steps=5, device="cpu", seed=11, freeze_embedding=True)
    elif task in ("lm", "lm-buffered"):
        ensure_prepared(open_corpus(TALES), TokenizerSpec(level="char"), tmp_path / "prep")
        prepared = Prepared.open(tmp_path / "prep")
        model = ModelConfig(vocab_size=prepared.tokenizer.vocab_size, embed_dim=48, hidden_size=48, layers=2,
                            dropout=0.3)
        cfg = TrainConfig(seq_len=32, batch_size=8, lr=5e-3, max_steps=40, eval_every=15, log_every=5,
                          warmup_steps=5, device="cpu", seed=11)
    elif task.startswith("lm-awd"):  # every AWD-LSTM regulariser, weight decay, and NT-ASGD averaging across the stop
        ensure_prepared(open_corpus(TALES), TokenizerSpec(level="word"), tmp_path / "prep")
        prepared = Prepared.open(tmp_path / "prep")
        model = ModelConfig(vocab_size=prepared.tokenizer.vocab_size, embed_dim=32, hidden_size=32, layers=2,
                            dropout=0.3, variational=True, embed_dropout=0.1, weight_drop=0.3)
        cfg = TrainConfig(seq_len=16, batch_size=8, lr=5.0, optimizer="asgd", schedule="constant", max_steps=40,
                          eval_every=15, log_every=5, warmup_steps=0, device="cpu", seed=11, shift_windows=True,
                          weight_decay=1e-3)
    else:
        corpus = write_tsv(tmp_path / "topics.tsv", separable_rows(160))
        ensure_prepared(open_corpus(corpus, task="classify"), TokenizerSpec(level="word"), tmp_path / "prep",
                        task="classify")
        prepared = Prepared.open(tmp_path / "prep")
        model = ModelConfig(task="classify", vocab_size=prepared.tokenizer.vocab_size, embed_dim=24, hidden_size=24,
                            layers=1, dropout=0.3, bidirectional=True, pooling="mean", num_classes=2)
        cfg = TrainConfig(batch_size=8, lr=5e-3, max_steps=40, eval_every=15, log_every=5, warmup_steps=5,
                          device="cpu", seed=11, freeze_epochs=0)
    if ema:
        cfg = dataclasses.replace(cfg, ema=0.9)
    if adaptive:
        model = dataclasses.replace(model, cutoffs=[300, 1500])
    if distill:
        teacher = tmp_path / "teacher"
        teacher.mkdir()
        train(teacher, prepared, model, dataclasses.replace(cfg, max_steps=10))
        cfg = dataclasses.replace(cfg, distill_from=[str(teacher)], distill_weight=0.7)
    return prepared, model, cfg


@pytest.mark.parametrize("task", ["lm", "lm-buffered", "lm-awd", "lm-awd-buffered", "lm-shifted",
                                  "lm-shifted-buffered", "lm-reversed-buffered", "classify", "classify-buffered",
                                  "lm-ema-buffered", "classify-ema", "classify-distill-buffered",
                                  "lm-awd-adaptive-buffered"])
def test_stop_and_resume_is_bit_identical(tmp_path, monkeypatch, task):
    prepared, model_cfg, cfg = setups(tmp_path, task)
    if task.endswith("-buffered"):  # the CUDA-graph step's buffers, capturable optimizer and tensor lr, run eagerly
        import lstmtext.training as training

        monkeypatch.setattr(training, "graph_blocker", lambda *args: None)
    if task.startswith("lm-awd"):  # start averaging at the first validation (step 15), before the stop at 20
        average_from_the_first_evaluation(monkeypatch)
    straight, split = tmp_path / "straight", tmp_path / "split"
    straight.mkdir()
    split.mkdir()
    train(straight, prepared, model_cfg, cfg, save_every="0")
    stop = StopRequest()
    first = train(split, prepared, model_cfg, cfg, events=StopAt(stop, 20), stop=stop, save_every="0")
    assert first["stopped_by"] == "interrupted" and first["steps"] == 20
    assert json.loads((split / "config.json").read_text())["status"] == "interrupted"
    if "-distill" in task:  # the resumed run learns from the targets it started with, not from the teachers
        import shutil

        shutil.rmtree(tmp_path / "teacher")
    second = train(split, prepared, model_cfg, cfg, resume=True, save_every="0")
    assert second["steps"] == 40 and second["stopped_by"] == "steps"
    if task.startswith("lm-shifted"):
        assert 1 < second["epochs"] < 2
    for name in ("last.safetensors", "model.safetensors"):
        a, b = load_file(straight / name), load_file(split / name)
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), (name, key)
    metrics = [[json.loads(line)["valid_loss"] for line in (d / "metrics.jsonl").read_text().splitlines()]
               for d in (straight, split)]
    assert metrics[0] == metrics[1]
    assert len(list(split.glob("state-*.safetensors"))) == 1
    if task.startswith("lm-awd"):
        records = [json.loads(line) for line in (split / "metrics.jsonl").read_text().splitlines()]
        assert records[0]["averaging_from"] == 15
        state = load_file(next(split.glob("state-*.safetensors")))
        last = load_file(split / "last.safetensors")
        assert not torch.equal(last["lstm.weight_ih_l0"], state["model.lstm.weight_ih_l0"])  # saved: the average
    if "-ema" in task:
        state = load_file(next(split.glob("state-*.safetensors")))
        last = load_file(split / "last.safetensors")
        assert not torch.equal(last["embedding.weight"], state["model.embedding.weight"])  # saved: the average


def test_resume_of_a_finished_run_is_refused(tmp_path):
    from lstmtext.errors import UserError

    prepared, model_cfg, cfg = setups(tmp_path, "lm")
    cfg.max_steps = 5
    run = tmp_path / "run"
    run.mkdir()
    train(run, prepared, model_cfg, cfg)
    with pytest.raises(UserError, match="has trained 5 steps, all --max-steps 5 allows") as info:
        train(run, prepared, model_cfg, cfg, resume=True)
    assert "--max-steps above 5" in info.value.hint
    cfg.max_steps = 3
    with pytest.raises(UserError, match="has trained 5 steps, more than --max-steps 3 allows"):
        train(run, prepared, model_cfg, cfg, resume=True)
    cfg.max_steps, epochs = None, cfg.epochs
    cfg.epochs = 1e-6
    with pytest.raises(UserError, match=r"more than --epochs 1e-06 \(1 step\) allows") as info:
        train(run, prepared, model_cfg, cfg, resume=True)
    assert "a larger --epochs: the run is at epoch" in info.value.hint
    cfg.max_steps, cfg.epochs = 8, epochs
    assert train(run, prepared, model_cfg, cfg, resume=True)["steps"] == 8


def test_resume_of_a_run_that_used_its_time_limit_is_refused(tmp_path):
    from lstmtext.errors import UserError

    prepared, model_cfg, cfg = setups(tmp_path, "lm")
    cfg.max_steps, cfg.time_limit = 50, 1e-6  # out of time after its first step
    run = tmp_path / "run"
    run.mkdir()
    assert train(run, prepared, model_cfg, cfg)["stopped_by"] == "time limit"
    with pytest.raises(UserError, match=r"has trained for \d+\.\d s, all --time-limit 1e-06 allows") as info:
        train(run, prepared, model_cfg, cfg, resume=True)  # it trained one step more each time
    assert "pass a --time-limit above" in info.value.hint
    cfg.time_limit = None
    assert train(run, prepared, model_cfg, cfg, resume=True)["steps"] == 50


class PoisonedTask:
    """Wraps a task so that the loss of chosen steps is NaN."""

    def __init__(self, task, bad_steps):
        self.task, self.bad_steps = task, bad_steps

    def __getattr__(self, name):
        return getattr(self.task, name)

    def step_loss(self, model, step, amp):
        loss = self.task.step_loss(model, step, amp)
        return loss * float("nan") if step in self.bad_steps else loss


@pytest.fixture
def poisoned(monkeypatch):
    import lstmtext.training as training

    real = training.make_task
    monkeypatch.setattr(training, "make_task", lambda *a: PoisonedTask(real(*a), {12}))


def test_nan_loss_stops_naming_the_step_and_the_last_good_state(tmp_path, poisoned):
    from lstmtext.errors import UserError

    prepared, model_cfg, cfg = setups(tmp_path, "lm")
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(UserError) as info:
        train(run, prepared, model_cfg, cfg, save_every="5")
    message = str(info.value)
    assert "at step 13" in message and "step 10" in message and "--on-nan skip" in message


def test_nan_loss_skip_counts_and_keeps_weights_finite(tmp_path, poisoned):
    prepared, model_cfg, cfg = setups(tmp_path, "lm")
    run = tmp_path / "run"
    run.mkdir()
    summary = train(run, prepared, model_cfg, cfg, on_nan="skip")
    assert summary["skipped_batches"] == 1 and summary["steps"] == 40
    weights = load_file(run / "last.safetensors")
    assert all(torch.isfinite(t).all() for t in weights.values())


def test_out_of_memory_names_the_batch_shape(tmp_path, monkeypatch):
    import lstmtext.training as training
    from lstmtext.errors import UserError

    real = training.make_task

    class Oom(PoisonedTask):
        def step_loss(self, model, step, amp):
            if step == 3:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return self.task.step_loss(model, step, amp)

    monkeypatch.setattr(training, "make_task", lambda *a: Oom(real(*a), set()))
    prepared, model_cfg, cfg = setups(tmp_path, "lm")
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(UserError) as info:
        train(run, prepared, model_cfg, cfg)
    assert "--batch-size 8 x --seq-len 32" in str(info.value) and "--resume" in str(info.value)


def poison(monkeypatch, steps):
    from lstmtext import training

    real = training.make_task
    monkeypatch.setattr(training, "make_task", lambda *a: PoisonedTask(real(*a), set(steps)))


def test_nothing_is_validated_or_saved_from_weights_a_nan_spoilt(tmp_path, monkeypatch):
    """A NaN at step 13 with losses read back every 20 steps: the validation at step 15 would have saved spoilt
    weights as the best; the losses are read before it, so the run stops there with step 10's state intact."""
    from lstmtext.errors import UserError

    poison(monkeypatch, {12})
    prepared, model_cfg, cfg = setups(tmp_path, "lm")
    cfg = dataclasses.replace(cfg, log_every=20, eval_every=5)
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(UserError) as info:
        train(run, prepared, model_cfg, cfg, save_every="0")
    assert "at step 13" in str(info.value) and "step 10" in str(info.value) and "--resume" not in str(info.value)
    for name in ("model.safetensors", "last.safetensors"):
        assert all(torch.isfinite(t).all() for t in load_file(run / name).values()), name
    assert json.loads((run / "state.json").read_text())["step"] == 10


def test_skipping_still_validates_saves_and_stops_and_gives_up_on_diverged_weights(tmp_path, monkeypatch):
    from lstmtext.errors import UserError

    poison(monkeypatch, {39})  # the last step: its validation and save still happen
    prepared, model_cfg, cfg = setups(tmp_path, "lm")
    (tmp_path / "a").mkdir()
    summary = train(tmp_path / "a", prepared, model_cfg, cfg, on_nan="skip")
    assert summary["steps"] == 40 and summary["skipped_batches"] == 1
    assert (tmp_path / "a" / "model.safetensors").exists()
    poison(monkeypatch, range(5, 200))  # every batch from step 6 on: the weights are gone
    (tmp_path / "b").mkdir()
    with pytest.raises(UserError, match="the last 50 batches all had a non-finite loss"):
        train(tmp_path / "b", prepared, model_cfg, dataclasses.replace(cfg, max_steps=80), on_nan="skip")
