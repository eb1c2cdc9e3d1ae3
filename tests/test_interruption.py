"""Interruption safety: SIGINT saves and exits 130; kill -9 at random moments never breaks a run."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from lstmtext.checkpoint import load_checkpoint
from lstmtext.state import read_state
from tests.conftest import ROOT, TALES

TRAIN = [sys.executable, "-m", "lstmtext", "train", str(TALES), "--hidden-size", "24", "--layers", "1",
         "--seq-len", "32", "--batch-size", "8", "--eval-every", "25", "--log-every", "5", "--save-every", "3",
         "--quiet"]


def wait_for(path, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def env():
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def interrupt(tmp_path, sig):
    """Start a long training run, send ``sig`` once state exists; return (run dir, exit code, stderr)."""
    run = tmp_path / "run"
    proc = subprocess.Popen([*TRAIN, "--max-steps", "100000", "--out", str(run)], cwd=tmp_path, env=env(),
                            stderr=subprocess.PIPE, text=True)
    wait_for(run / "state.json")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return run, proc.returncode, err


def test_sigint_saves_state_and_prints_the_resume_command(tmp_path):
    run, code, err = interrupt(tmp_path, signal.SIGINT)
    assert code == 130, err
    assert f"lstmtext train --resume {run}" in err and "Traceback" not in err
    assert json.loads((run / "config.json").read_text())["status"] == "interrupted"
    step = read_state(run)["step"]
    resumed = subprocess.run([sys.executable, "-m", "lstmtext", "train", "--resume", str(run), "--max-steps",
                              str(step + 6), "--quiet"], cwd=tmp_path, env=env(), capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / "config.json").read_text())["result"]["steps"] == step + 6


def test_sigterm_exits_143(tmp_path):
    _, code, err = interrupt(tmp_path, signal.SIGTERM)
    assert code == 143, err
    assert "--resume" in err


def test_kill_9_at_random_moments_always_leaves_a_resumable_run(tmp_path):
    """Kill the trainer with SIGKILL again and again; after each kill the run must load and resume."""
    rng = random.Random(1234)
    run = tmp_path / "run"
    proc = subprocess.Popen([*TRAIN, "--max-steps", "100000", "--out", str(run)], cwd=tmp_path, env=env(),
                            stderr=subprocess.DEVNULL)
    wait_for(run / "state.json")
    proc.kill()
    proc.wait()
    kills, started = 1, time.monotonic()
    steps_seen = [read_state(run)["step"]]
    while kills < 8 and time.monotonic() - started < 90:
        proc = subprocess.Popen([sys.executable, "-m", "lstmtext", "train", "--resume", str(run), "--max-steps",
                                 "100000", "--save-every", "2", "--quiet"], cwd=tmp_path, env=env(),
                                stderr=subprocess.DEVNULL)
        if kills % 2:  # every other kill waits for fresh progress, then lands at a random moment of training
            before, deadline = read_state(run)["step"], time.monotonic() + 60
            while read_state(run)["step"] == before and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.4))
        else:  # the others land anywhere, start-up included
            time.sleep(rng.uniform(0.2, 3.0))
        proc.kill()
        proc.wait()
        kills += 1
        state = read_state(run)  # state.json must always name a complete state file
        assert (run / state["file"]).exists()
        load_checkpoint(run, weights="best")
        load_checkpoint(run, weights="last")
        steps_seen.append(state["step"])
    assert kills >= 5
    assert steps_seen[-1] > steps_seen[0], steps_seen  # progress was kept across kills
    finish = subprocess.run([sys.executable, "-m", "lstmtext", "train", "--resume", str(run), "--max-steps",
                             str(steps_seen[-1] + 4), "--quiet"], cwd=tmp_path, env=env(), capture_output=True,
                            text=True, timeout=120)
    assert finish.returncode == 0, finish.stderr
    print(f"survived {kills} kills; saved steps {steps_seen}")


@pytest.mark.parametrize("weights", ["model.safetensors", "last.safetensors"])
def test_pickled_weights_are_refused_not_executed(tmp_path, tiny_lm, weights):
    import shutil

    import torch

    from lstmtext.errors import UserError

    run = tmp_path / "run"
    shutil.copytree(tiny_lm[0], run)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"embedding.weight": Payload()}, run / weights)
    with pytest.raises(UserError, match="not a valid safetensors file"):
        load_checkpoint(run, weights="best" if weights == "model.safetensors" else "last")
    assert not marker.exists()


def test_a_signal_during_the_final_scoring_stops_it_at_once(cli, corpus, monkeypatch, tmp_path):
    """The run is trained and saved before the final scoring (minutes on a large split): Ctrl-C there ends it at
    once, keeps the run whole, and says how to score it later, instead of waiting for the scoring to finish."""
    from lstmtext.tasks import LMTask
    from tests.conftest import TINY

    scored = []

    def final_figures(self, model, amp, best_valid):
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C would, while the train split is scored
        scored.append("on past the signal")
        return {}

    with monkeypatch.context() as patch:
        patch.setattr(LMTask, "final_figures", final_figures)
        result = cli("train", corpus, *TINY, "--max-steps", "20", "--out", "r")
    assert result.code == 130 and not scored, result.err
    assert "SIGINT: stopping the final scoring" in result.err and "lstmtext evaluate r" in result.err
    assert "Traceback" not in result.err and "--resume" not in result.err
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["status"] == "done" and config["result"]["scoring"] == "interrupted"
    assert set(config["result"]["figures"]) == {"valid"} and config["result"]["steps"] == 20
    assert cli("evaluate", "r").code == 0  # and it scores as any run does


def test_a_signal_during_a_validation_stops_it_and_saves_the_step(cli, corpus, monkeypatch, tmp_path):
    """A validation changes no weight (a large valid split takes minutes): Ctrl-C there stops it at once and
    saves the step it followed, not validated, from which the run resumes. With --ema the moving average is
    swapped in for the validation: the run's own weights are the ones saved, the average beside them."""
    from safetensors.torch import load_file

    from lstmtext.tasks import LMTask
    from tests.conftest import TINY

    real_evaluate = LMTask.evaluate
    validations = []

    def evaluate(self, model, split, amp, max_tokens=None):
        validations.append(split)
        if len(validations) == 2:  # the second validation, at step 20
            os.kill(os.getpid(), signal.SIGINT)
        return real_evaluate(self, model, split, amp, max_tokens)

    with monkeypatch.context() as patch:
        patch.setattr(LMTask, "evaluate", evaluate)
        result = cli("train", corpus, *TINY, "--max-steps", "40", "--ema", "0.9", "--out", "r")
    assert result.code == 130 and validations == ["valid", "valid"], result.err
    assert "SIGINT: stopping the validation and saving" in result.err and "--resume" in result.err
    assert "Traceback" not in result.err
    run = tmp_path / "r"
    assert json.loads((run / "config.json").read_text())["status"] == "interrupted"
    state = read_state(run)
    assert state["step"] == 20
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "valid_loss" in r] == [10]
    tensors = load_file(run / state["file"])
    own, average = tensors["model.embedding.weight"], tensors["opt.0.ax"]
    assert own.shape == average.shape and not own.equal(average)
    resumed = cli("train", "--resume", "r")
    assert resumed.code == 0, resumed.err
    config = json.loads((run / "config.json").read_text())
    assert config["status"] == "done" and config["result"]["steps"] == 40


def test_sighup_saves_as_sigterm_does(tmp_path):
    """A dropped ssh session or a closed terminal sends SIGHUP: the step finishes, the state is saved and the
    resume command printed, as for SIGTERM (exit 129, 128 + SIGHUP's number)."""
    if not hasattr(signal, "SIGHUP"):
        pytest.skip("no SIGHUP here")
    run, code, err = interrupt(tmp_path, signal.SIGHUP)
    assert code == 129, err
    assert f"lstmtext train --resume {run}" in err and "Traceback" not in err
    assert json.loads((run / "config.json").read_text())["status"] == "interrupted"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_training_goes_on_when_its_progress_cannot_be_written(tmp_path):
    """stderr on a full disk (or the reader of `2>&1 | head` gone): the run trains to its end and is saved."""
    run = tmp_path / "run"
    with open("/dev/full", "w") as full:
        done = subprocess.run([*TRAIN[:-1], "--max-steps", "30", "--out", str(run)], cwd=tmp_path, env=env(),
                              stdout=subprocess.DEVNULL, stderr=full, timeout=300)
    assert done.returncode == 0
    assert json.loads((run / "config.json").read_text())["status"] == "done"
    # and through a pipe whose reader stops after the first lines: the run ends, only the summary is lost
    proc = subprocess.Popen([*TRAIN[:-1], "--max-steps", "30", "--out", str(tmp_path / "piped")], cwd=tmp_path,
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=300) == 141
    assert json.loads((tmp_path / "piped" / "config.json").read_text())["status"] == "done"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_output_that_cannot_be_written_is_one_line(tmp_path):
    base = [sys.executable, "-m", "lstmtext"]
    with open("/dev/full", "w") as full:
        for args in (["--help"], ["--version"], ["info", str(tmp_path)]):
            done = subprocess.run([*base, *args], cwd=tmp_path, env=env(), stdout=full, stderr=subprocess.PIPE,
                                  text=True, timeout=60)
            if args[0] == "info":  # a usage error on stderr, which is not full
                assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
                continue
            assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
            assert done.stderr.strip() == "error: could not write: No space left on device (free some space, or " \
                                          "write somewhere else)"
    closed = subprocess.run(["bash", "-c", f"{sys.executable} -m lstmtext --version >&-"], cwd=tmp_path, env=env(),
                            capture_output=True, text=True, timeout=60)
    assert closed.returncode == 0 and closed.stderr == ""
    proc = subprocess.Popen([*base, "--help"], cwd=tmp_path, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # before the help is written (`| head -0`): it meets a pipe without a reader
    assert proc.wait(timeout=60) == 141 and b"Traceback" not in proc.stderr.read()


def test_ctrl_c_inside_a_files_write_leaves_it_as_it_was_and_no_copy_beside_it(tmp_path, monkeypatch):
    from lstmtext import checkpoint

    target = tmp_path / "config.json"
    target.write_text("before")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.atomic_write_bytes(target, b"after")
    assert target.read_text() == "before" and sorted(os.listdir(tmp_path)) == ["config.json"]
