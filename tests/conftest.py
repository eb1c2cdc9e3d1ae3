from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("LSTMTEXT_CORPORA") or ROOT.parent / "shared" / "corpora")
TALES = ROOT / "corpora" / "tales.txt"
REVIEWS = ROOT / "corpora" / "reviews.tsv"

# Every run of the suite, and the processes it starts, computes with the same number of CPU threads, whatever
# the machine's load (lstmtext takes fewer on a busy machine, and results differ in their last bits between
# counts): the tests that compare runs bit for bit stay exact. test_devices checks the choice itself.
os.environ.setdefault("LSTMTEXT_THREADS", str(max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(
    os, "sched_getaffinity") else os.cpu_count() or 1))))

# A few lines of our own, used where a test needs a small text it can reason about.
SMALL_TEXT = (
    "The kettle sang on the stove while the cat watched the rain.\n"
    "Mira folded the letter twice and put it under the blue jar.\n"
    "At noon the ferry left the quay, and the gulls followed it out.\n"
    "Nobody in the village could remember a winter so mild.\n"
)


# flags for a run of a few seconds: the CLI tests' runs (small.txt, the ``corpus`` fixture)
TINY = ["--hidden-size", "32", "--layers", "1", "--seq-len", "32", "--batch-size", "8", "--eval-every", "10",
        "--log-every", "5", "--quiet"]


@pytest.fixture
def corpus(tmp_path):
    """small.txt: SMALL_TEXT 40 times."""
    path = tmp_path / "small.txt"
    path.write_text(SMALL_TEXT * 40, encoding="utf-8")
    return path


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """Run `lstmtext ARGS...` in-process (from tmp_path) and return exit code, stdout and stderr."""
    from lstmtext.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def assert_one_line_error(result: Result, code: int, *words: str) -> None:
    """A user error: the exit code, one line naming the problem, and no traceback."""
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err + result.out
    lines = [ln for ln in result.err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, result.err
    for word in words:
        assert word.lower() in errors[0].lower(), (word, errors[0])


@pytest.fixture(autouse=True)
def _quiet_threads():
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))


def train_small(run_dir: Path, corpus: Path = TALES, level: str = "char", steps: int = 150, hidden: int = 64,
                eval_every: int = 50, **train_kw):
    """Train a small LM through the library (no CLI) and return (summary, prepared)."""
    from lstmtext.config import ModelConfig, TokenizerSpec, TrainConfig
    from lstmtext.corpus import open_corpus
    from lstmtext.data import Prepared, ensure_prepared
    from lstmtext.training import train

    prep_dir = run_dir.parent / f"{run_dir.name}-prepared"
    ensure_prepared(open_corpus(corpus), TokenizerSpec(level=level), prep_dir)
    prepared = Prepared.open(prep_dir)
    model_cfg = ModelConfig(vocab_size=prepared.tokenizer.vocab_size, embed_dim=hidden, hidden_size=hidden,
                            layers=1, dropout=0.0)
    cfg = TrainConfig(seq_len=64, batch_size=16, lr=1e-2, max_steps=steps, eval_every=eval_every, log_every=10,
                      warmup_steps=10, device="cpu", **train_kw)
    run_dir.mkdir(parents=True, exist_ok=True)
    return train(run_dir, prepared, model_cfg, cfg), prepared


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory):
    """A char LM trained briefly on the shipped corpus, shared by the generation tests."""
    run = tmp_path_factory.mktemp("lm") / "run"
    summary, _ = train_small(run, steps=120)
    return run, summary


def average_from_the_first_evaluation(monkeypatch) -> None:
    """Make NT-ASGD's trigger fire at a run's first validation (tests are too short for a real stall)."""
    import lstmtext.training as training
    from lstmtext.optim import averaging, start_averaging

    def first_eval(opt, history, loss):
        started = not history and not averaging(opt)
        if started:
            start_averaging(opt)
        return started

    monkeypatch.setattr(training, "nt_asgd_trigger", first_eval)
