"""What the commands say of a run as it stands: one being trained now (no weights yet), one whose train process
died, one whose weights or saved state cannot be read (info describes it all the same, then names the problem),
and texts a classifier knows nothing of."""

import json
import shutil

from tests.conftest import TALES, assert_one_line_error
from tests.test_classify import clf  # noqa: F401 - the fixture


def _copy_without_weights(src, run):
    shutil.copytree(src, run)
    for name in ("model.safetensors", "last.safetensors"):
        (run / name).unlink()
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "status": "training"}))  # as train leaves it, unfinished


def test_a_run_being_trained_is_said_to_be_until_it_has_weights(cli, tiny_lm, tmp_path):
    import fcntl
    import os

    run = tmp_path / "live"
    _copy_without_weights(tiny_lm[0], run)
    held = os.open(run, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as train holds its folder (cli.run_folder._lock_run)
    try:
        for command in (["generate", run, "--length", "5"], ["evaluate", run]):
            assert_one_line_error(cli(*command), 1, "is being trained now", "first validation")
        # info is how to look in on it: no weights yet is no error there
        looked = cli("info", run)
        assert looked.code == 0 and "none yet (its first validation" in looked.out and looked.err == "", looked.err
        shown = json.loads(cli("info", run, "--format", "json").out)
        assert shown["status"] == "training" and "resume" not in shown and "problem" not in shown
    finally:
        os.close(held)
    # its process gone (and the lock with it), the same folder is a run that ended without finishing
    result = cli("info", run, "--format", "json")
    assert_one_line_error(result, 1, "model.safetensors is missing")
    shown = json.loads(result.out)
    assert shown["status"] == "interrupted" and shown["resume"] == f"lstmtext train --resume {run}"
    assert shown["interrupted_how"].startswith("its train process ended without finishing")
    assert_one_line_error(cli("generate", run, "--length", "5"), 1, "model.safetensors is missing", "train again")


def test_a_run_in_its_first_second_is_said_to_be_being_trained(cli, tmp_path):
    import fcntl
    import os

    run = tmp_path / "starting"
    run.mkdir()  # as train has made and locked it, before its config.json
    held = os.open(run, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        for command in (["generate", run], ["info", run], ["evaluate", run]):
            assert_one_line_error(cli(*command), 1, "is being trained now and has saved no weights yet")
    finally:
        os.close(held)
    assert_one_line_error(cli("info", run), 1, "not a checkpoint (no config.json)")


def test_using_a_run_being_trained_says_its_weights_will_change(cli, tiny_lm, tmp_path):
    import fcntl
    import os

    run = tmp_path / "live"
    shutil.copytree(tiny_lm[0], run)
    held = os.open(run, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as train holds its folder (cli.run_folder._lock_run)
    try:
        looked = cli("generate", run, "--length", "5")
        assert looked.code == 0, looked.err
        assert f"note: {run} is being trained now: using the weights it has saved so far (saved at step" in looked.err
        started = cli("train", TALES, "--init-from", run, "--max-steps", "1", "--out", "next")
        assert started.code == 0 and f"note: {run} is being trained now: starting from" in started.err, started.err
    finally:
        os.close(held)
    assert "being trained" not in cli("generate", run, "--length", "5").err


def test_info_describes_a_run_it_cannot_load_then_names_the_problem(cli, tiny_lm, tmp_path):
    run = tmp_path / "damaged"
    shutil.copytree(tiny_lm[0], run)
    data = (run / "model.safetensors").read_bytes()
    (run / "model.safetensors").write_bytes(data[: len(data) // 2])
    (run / "state.json").write_text("{cut sho")
    result = cli("info", run)
    assert_one_line_error(result, 1, "model.safetensors is not a valid safetensors file", "--weights last")
    assert "hidden size" in result.out and "cannot be used as it is" in result.out
    assert "state.json is damaged" in result.out
    shown = json.loads(cli("info", run, "--format", "json").out)
    whole = json.loads(cli("info", tiny_lm[0], "--format", "json").out)
    assert shown["parameters"] == whole["parameters"] > 0 and shown["vocab_size"] == whole["vocab_size"]
    assert shown["saved_state_step"] is None and whole["saved_state_step"] == 120
    assert "--resume cannot" in shown["state_problem"] and "not a valid safetensors" in shown["problem"]
    assert "problem" not in whole and "state_problem" not in whole
    # the weights the error points to are there, and every command that reads a run takes them
    assert cli("generate", run, "--length", "5", "--weights", "last").code == 0
    assert cli("evaluate", run, "--weights", "last", "--format", "json").code == 0


def test_texts_of_words_a_classifier_never_saw_are_noted(cli, clf):  # noqa: F811
    rows = [json.loads(line) for line in cli("classify", clf, "cow barn", "qqqq zzzz", "日本 ☃", "--format",
                                             "jsonl").out.splitlines()]
    assert [row["note"] for row in rows] == [None, "unknown", "unknown"]
    assert all(row["label"] is not None for row in rows)  # still labelled, as a guess
    result = cli("classify", clf, "qqqq zzzz", "cow barn")
    assert result.code == 0 and "1 text holds no word the model knows" in result.err
    table = result.out.splitlines()  # the table marks which text, as JSON does
    assert "note" in table[1] and "unknown" in next(line for line in table if "qqqq" in line)
    assert "unknown" not in next(line for line in table if "cow barn" in line)
    assert "note" not in cli("classify", clf, "cow barn").out  # no column when no text has a note
    best, last = (json.loads(cli("classify", clf, "cow barn", "--format", "jsonl", "--weights", weights).out)
                  for weights in ("best", "last"))
    assert best["text"] == last["text"] == "cow barn" and 0.5 <= best["confidence"] <= 1
