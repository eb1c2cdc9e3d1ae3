"""Exact resume: N steps straight equal N/2 steps, a stop, and a resume for the rest (bit for bit)."""

import json

import pytest
import torch
from safetensors.torch import load_file

from lstmtext.config import ModelConfig, TokenizerSpec, TrainConfig
from lstmtext.corpus import open_corpus
from lstmtext.data import Prepared, ensure_prepared
from lstmtext.training import StopRequest, TrainEvents, train
from tests.conftest import TALES
from tests.test_classify import separable_rows, write_tsv


class StopAt(TrainEvents):
    def __init__(self, stop: StopRequest, at: int) -> None:
        self.stop, self.at = stop, at

    def step(self, info):
        if info["step"] >= self.at:
            self.stop.request("test")


def setups(tmp_path, task):
    if task == "lm":
        ensure_prepared(open_corpus(TALES), TokenizerSpec(level="char"), tmp_path / "prep")
        prepared = Prepared.open(tmp_path / "prep")
        model = ModelConfig(vocab_size=prepared.tokenizer.vocab_size, embed_dim=48, hidden_size=48, layers=2,
                            dropout=0.3)
        cfg = TrainConfig(seq_len=32, batch_size=8, lr=5e-3, max_steps=40, eval_every=15, log_every=5,
                          warmup_steps=5, device="cpu", seed=11)
    else:
        corpus = write_tsv(tmp_path / "topics.tsv", separable_rows(160))
        ensure_prepared(open_corpus(corpus, task="classify"), TokenizerSpec(level="word"), tmp_path / "prep",
                        task="classify")
        prepared = Prepared.open(tmp_path / "prep")
        model = ModelConfig(task="classify", vocab_size=prepared.tokenizer.vocab_size, embed_dim=24, hidden_size=24,
                            layers=1, dropout=0.3, bidirectional=True, pooling="mean", num_classes=2)
        cfg = TrainConfig(batch_size=8, lr=5e-3, max_steps=40, eval_every=15, log_every=5, warmup_steps=5,
                          device="cpu", seed=11, freeze_epochs=0)
    return prepared, model, cfg


@pytest.mark.parametrize("task", ["lm", "classify"])
def test_stop_and_resume_is_bit_identical(tmp_path, task):
    prepared, model_cfg, cfg = setups(tmp_path, task)
    straight, split = tmp_path / "straight", tmp_path / "split"
    straight.mkdir()
    split.mkdir()
    train(straight, prepared, model_cfg, cfg, save_every="0")
    stop = StopRequest()
    first = train(split, prepared, model_cfg, cfg, events=StopAt(stop, 20), stop=stop, save_every="0")
    assert first["stopped_by"] == "interrupted" and first["steps"] == 20
    assert json.loads((split / "config.json").read_text())["status"] == "interrupted"
    second = train(split, prepared, model_cfg, cfg, resume=True, save_every="0")
    assert second["steps"] == 40 and second["stopped_by"] == "steps"
    for name in ("last.safetensors", "model.safetensors"):
        a, b = load_file(straight / name), load_file(split / name)
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), (name, key)
    metrics = [[json.loads(line)["valid_loss"] for line in (d / "metrics.jsonl").read_text().splitlines()]
               for d in (straight, split)]
    assert metrics[0] == metrics[1]
    assert len(list(split.glob("state-*.safetensors"))) == 1


def test_resume_of_a_finished_run_is_refused(tmp_path):
    from lstmtext.errors import UserError

    prepared, model_cfg, cfg = setups(tmp_path, "lm")
    cfg.max_steps = 5
    run = tmp_path / "run"
    run.mkdir()
    train(run, prepared, model_cfg, cfg)
    with pytest.raises(UserError, match="already finished"):
        train(run, prepared, model_cfg, cfg, resume=True)
    cfg.max_steps = 8
    assert train(run, prepared, model_cfg, cfg, resume=True)["steps"] == 8
