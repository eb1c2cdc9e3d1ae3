"""Run folders that were edited, cut short or half-deleted by hand, and the commands' answers to them."""

import json
import shutil

import pytest

from tests.conftest import TINY, assert_one_line_error


@pytest.fixture
def base(cli, corpus, tmp_path):
    """A 10-step language model, saved at its end (state, best and last weights)."""
    result = cli("train", corpus, *TINY, "--max-steps", "10", "--eval-every", "5", "--log-every", "3",
                 "--out", "base")
    assert result.code == 0, result.err
    return tmp_path / "base"


def copy(base, name):
    shutil.copytree(base, base.parent / name)
    return base.parent / name


def edit_config(run, change):
    config = json.loads((run / "config.json").read_text())
    change(config)
    (run / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("part, key, value, words", [
    ("model", "layers", 0, "model.layers is 0, below 1"),
    ("model", "vocab_size", -1, "model.vocab_size is -1, below 1"),
    ("model", "dropout", 5, "model.dropout is 5, not a rate from 0 to below 1"),
    ("train", "seq_len", 0, "train.seq_len is 0, below 1"),
    ("train", "precision", "fp8", "train.precision is 'fp8', not one of auto, fp32, bf16, fp16"),
    ("tokenizer", "level", "xyz", "tokenizer.level is 'xyz', not one of char, word, bpe, unigram"),
    ("train", None, None, "it has no 'train' entry"),
])
def test_settings_no_run_could_have_are_named_as_damage(cli, base, part, key, value, words):
    run = copy(base, "d")
    edit_config(run, lambda c: c[part].__setitem__(key, value) if key else c.pop(part))
    for command in (["info", "d"], ["evaluate", "d"], ["generate", "d", "--length", "3"],
                    ["train", "--resume", "d", "--max-steps", "12"]):
        assert_one_line_error(cli(*command), 1, "d/config.json is damaged", words)


def test_resume_refuses_a_run_whose_tokenizer_is_missing_or_damaged_and_says_how_to_restore_it(cli, base):
    import shlex
    import subprocess

    for name, damage in (("gone", lambda p: p.unlink()), ("cut", lambda p: p.write_text(p.read_text()[:100]))):
        run = copy(base, name)
        damage(run / "tokenizer.json")
        result = cli("train", "--resume", name, "--max-steps", "12")
        assert_one_line_error(result, 1, "tokenizer", "copy the prepared data's back: cp ")
        assert json.loads((run / "config.json").read_text())["result"]["steps"] == 10  # nothing trained
    hint = result.err.split("copy the prepared data's back: ")[1].rstrip().removesuffix(")")
    assert shlex.split(hint)[0] == "cp"
    subprocess.run(hint, shell=True, check=True, cwd=base.parent)  # as the hint says
    assert cli("train", "--resume", "cut", "--max-steps", "12").code == 0


def test_a_missing_state_beside_trained_weights_is_not_called_a_run_never_saved(cli, base):
    run = copy(base, "d")
    (run / "state.json").unlink()
    result = cli("train", "--resume", "d", "--max-steps", "12")
    assert_one_line_error(result, 1, "d has trained weights but its state.json is missing", "--init-from",
                          "--overwrite would replace them")


def test_init_from_names_its_own_way_to_the_last_weights_and_notes_where_it_uses_them(cli, corpus, base):
    run = copy(base, "done")
    (run / "model.safetensors").unlink()
    result = cli("train", corpus, *TINY, "--max-steps", "2", "--init-from", "done", "--out", "i1")
    assert_one_line_error(result, 1, "the best weights) is missing", "put the last weights in its place: cp ")
    assert "--weights" not in result.err  # train has no such option
    early = copy(base, "early")
    (early / "model.safetensors").unlink()
    edit_config(early, lambda c: c.__setitem__("status", "interrupted"))
    started = cli("train", corpus, *TINY, "--max-steps", "2", "--init-from", "early", "--out", "i2")
    assert started.code == 0, started.err
    assert "note: --init-from early stopped before its first validation" in started.err


def test_resume_removes_what_a_killed_train_left_half_written_and_mends_a_torn_log(cli, base):
    run = copy(base, "d")
    (run / ".state-000000016.safetensors.tmp-99999").write_bytes(b"half" * 100)
    (run / ".last.safetensors.tmp-99998").write_bytes(b"half")
    (run / "notes.tmp").write_text("the user's")
    metrics = (run / "metrics.jsonl").read_text()
    (run / "metrics.jsonl").write_text(metrics[:-20])  # the last record torn, as a killed write leaves it
    result = cli("train", "--resume", "d", "--max-steps", "16")
    assert result.code == 0, result.err
    assert not list(run.glob(".*.tmp-*")) and (run / "notes.tmp").exists()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [5, 15, 16]  # step 10's torn record is gone; 15 and 16 appended
    logged = [json.loads(line)["step"] for line in (run / "train.jsonl").read_text().splitlines()]
    assert logged == [3, 6, 9, 10, 12, 15, 16]  # at multiples of --log-every 3, after the resume too


def test_info_names_damaged_last_weights(cli, base):
    run = copy(base, "d")
    (run / "last.safetensors").write_bytes((run / "last.safetensors").read_bytes()[:100])
    result = cli("info", "d")
    assert_one_line_error(result, 1, "d/last.safetensors is not a valid safetensors file")
    assert "status" in result.out  # described first


def test_commands_printed_for_a_folder_with_spaces_can_be_pasted(cli, base):
    run = base.parent / "my run's"
    shutil.copytree(base, run)
    edit_config(run, lambda c: c.__setitem__("status", "training"))  # as a killed train leaves it
    facts = json.loads(cli("info", run.name, "--format", "json").out)
    assert facts["resume"] == "lstmtext train --resume 'my run'\"'\"'s'"


def test_a_write_on_a_read_only_file_system_is_one_line(tmp_path, monkeypatch):
    import errno
    from pathlib import Path

    from lstmtext.checkpoint import atomic_write_bytes
    from lstmtext.errors import UserError

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "open", refuse)
    monkeypatch.setattr(Path, "unlink", refuse)  # a read-only file system refuses the clean-up too
    with pytest.raises(UserError, match="could not write .*: Read-only file system"):
        atomic_write_bytes(tmp_path / "x.json", b"{}")


@pytest.mark.parametrize("args, words", [
    (["train", "--resume", "--quiet"], "--resume needs a value, and got the option --quiet"),
    (["train", "small.txt", "--out", "-q"], "--out needs a value, and got the option -q"),
])
def test_an_option_given_as_another_options_value_is_refused(cli, corpus, args, words):
    result = cli(*args)
    assert_one_line_error(result, 2, words)
    assert not (corpus.parent / "-q").exists()


def test_a_resumed_or_started_from_run_says_so_as_it_starts(cli, corpus, base):
    resumed = cli("train", "--resume", "base", "--max-steps", "12", "--format", "json")
    assert resumed.code == 0, resumed.err
    assert "note: resuming at step 10 of 12" in resumed.err
    started = cli("train", corpus, *TINY[:-1], "--max-steps", "2", "--init-from", "base", "--out", "fine")
    assert started.code == 0, started.err
    assert "note: starting from base's weights (" in started.err and "tensors taken over)" in started.err
