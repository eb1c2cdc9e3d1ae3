import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, SMALL_TEXT, TINY, assert_one_line_error


@pytest.fixture
def run(cli, corpus):
    result = cli("train", corpus, *TINY, "--max-steps", "20", "--out", "run")
    assert result.code == 0, result.err
    return "run"


def test_tokenize_train_generate_end_to_end(cli, corpus, tmp_path):
    tok = cli("tokenize", corpus, "--level", "word", "--out", "prep", "--quiet")
    assert tok.code == 0, tok.err
    assert "vocabulary" in tok.out and "train" in tok.out
    assert {p.name for p in (tmp_path / "prep").iterdir()} >= {"meta.json", "tokenizer.json", "train.bin",
                                                                  "valid.bin", "test.bin"}
    trained = cli("train", "prep", *TINY, "--max-steps", "20", "--out", "wrun")
    assert trained.code == 0, trained.err
    assert "perplexity" in trained.out and "wrun" in trained.out
    files = {p.name for p in (tmp_path / "wrun").iterdir()}
    assert {"config.json", "model.safetensors", "last.safetensors", "tokenizer.json", "metrics.jsonl"} <= files
    gen = cli("generate", "wrun", "--prompt", "The kettle", "--length", "12", "--seed", "4")
    assert gen.code == 0, gen.err
    assert gen.out.startswith("The kettle")
    assert gen.out == cli("generate", "wrun", "--prompt", "The kettle", "--length", "12", "--seed", "4").out


def test_generate_outputs(cli, run):
    streamed = cli("generate", run, "--prompt", "The", "--length", "30", "--seed", "2", "--stream")
    plain = cli("generate", run, "--prompt", "The", "--length", "30", "--seed", "2", "--no-stream")
    assert streamed.code == plain.code == 0
    assert streamed.out == plain.out
    assert plain.out.endswith("\n")  # the text (which may itself end in a sampled newline), then one newline
    assert len(plain.out) - 1 == len("The") + 30  # char level: one token, one character
    many = cli("generate", run, "--length", "10", "--num-samples", "3", "--json")
    data = json.loads(many.out)
    assert len(data["samples"]) == 3
    assert {k: data[k] for k in ("weights", "length", "temperature", "top_k", "top_p", "num_samples", "seed")} == \
        {"weights": "best", "length": 10, "temperature": 0.8, "top_k": 0, "top_p": 1.0, "num_samples": 3, "seed": 0}
    batch = cli("generate", run, "--length", "10", "--num-samples", "3")
    assert batch.out.count("--- sample") == 3
    same = cli("generate", run, "--length", "10", "--num-samples", "3", "--format", "json")  # as evaluate and info
    assert json.loads(same.out) == data
    assert_one_line_error(cli("generate", run, "--format", "jsonl"), 2, "unknown --format 'jsonl'", "text or json")


def test_generate_warns_on_unknown_prompt_characters(cli, run):
    result = cli("generate", run, "--prompt", "The 猫 sat", "--length", "5")
    assert result.code == 0
    assert "warning" in result.err and "猫" in result.err
    assert result.out.startswith("The 猫 sat")


def test_train_reuses_prepared_data_and_refuses_to_overwrite(cli, corpus, run):
    again = cli("train", corpus, *TINY, "--max-steps", "5", "--out", run)
    assert_one_line_error(again, 2, "already holds a run", "--overwrite")
    folder = corpus.parent / run
    (folder / "notes.md").write_text("mine")
    (folder / "samples").mkdir()
    (folder / "samples" / "a.txt").write_text("also mine")
    assert (folder / "state-000000020.safetensors").exists()
    replaced = cli("train", corpus, *TINY, "--max-steps", "5", "--out", run, "--overwrite")
    assert replaced.code == 0, replaced.err
    assert "kept your other files there: notes.md, samples" in replaced.err
    assert json.loads((folder / "config.json").read_text())["result"]["steps"] == 5
    assert (folder / "notes.md").read_text() == "mine" and (folder / "samples" / "a.txt").read_text() == "also mine"
    fresh = cli("train", corpus, *TINY, "--max-steps", "5", "--out", "fresh")
    assert fresh.code == 0, fresh.err
    assert sorted(p.name for p in folder.iterdir()) == sorted([p.name for p in (corpus.parent / "fresh").iterdir()]
                                                              + ["notes.md", "samples"])


def test_a_folder_from_an_older_reader_is_never_replaced_unasked(cli, tmp_path):
    """A prepared folder that the reader before 12-04 got wrong (the '\r' of Windows line ends kept): `tokenize
    --out` names it and asks for --overwrite; training on it says how to prepare it again; a cache folder is left to
    the runs trained on it, and the new run's data gets a folder of its own."""
    from lstmtext.data import READER
    from tests.test_data import _as_before_12_04

    src = tmp_path / "win.txt"
    src.write_bytes(SMALL_TEXT.replace("\n", "\r\n").encode() * 40)
    assert cli("tokenize", src, "--out", "prep", "--quiet").code == 0
    _as_before_12_04(tmp_path / "prep", extra_token="\r")
    before = (tmp_path / "prep" / "tokenizer.json").read_text()
    assert_one_line_error(cli("tokenize", src, "--out", "prep"), 2, "older lstmtext", "CRLF", "--overwrite")
    assert (tmp_path / "prep" / "tokenizer.json").read_text() == before
    trained = cli("train", "prep", *TINY[:-1], "--max-steps", "2", "--out", "r0")
    assert trained.code == 0, trained.err
    assert "warning: prep was prepared by an older lstmtext" in trained.err
    assert "to prepare it again: lstmtext tokenize win.txt --level char --out prep --overwrite" in " ".join(
        trained.err.split())
    assert cli("tokenize", src, "--out", "prep", "--overwrite", "--quiet").code == 0
    assert "\r" not in json.loads((tmp_path / "prep" / "tokenizer.json").read_text())["tokens"]
    assert cli("train", src, *TINY, "--max-steps", "2", "--out", "r1").code == 0
    (cache,) = (tmp_path / "checkpoints" / "prepared").iterdir()
    _as_before_12_04(cache, extra_token="\r")
    assert cli("train", src, *TINY, "--max-steps", "2", "--out", "r2").code == 0
    prepared = json.loads((tmp_path / "r2" / "config.json").read_text())["data"]["prepared"]
    assert prepared.endswith(f"{cache.name}-r{READER}")
    assert "\r" in json.loads((cache / "tokenizer.json").read_text())["tokens"]  # r1's data, left as it was


def test_train_out_is_a_file_or_foreign_folder(cli, corpus, tmp_path):
    (tmp_path / "afile").write_text("mine")
    assert_one_line_error(cli("train", corpus, *TINY, "--max-steps", "2", "--out", "afile"), 2, "existing file")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    for flags in ([], ["--overwrite"]):  # the same answer either way: no run there to replace
        result = cli("train", corpus, *TINY, "--max-steps", "2", "--out", "notes", *flags)
        assert_one_line_error(result, 2, "notes holds files but no run", "pick another --out")
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    assert cli("tokenize", corpus, "--out", "empty", "--quiet").code == 0  # an empty folder is as good as none
    assert_one_line_error(cli("tokenize", corpus, "--overwrite"), 2, "--overwrite prepares --out again, and no --out")
    assert_one_line_error(cli("train", corpus, "--max-steps", "1", "--overwrite"), 2,
                          "--overwrite replaces the run in --out, and no --out was given")
    assert (tmp_path / "empty" / "meta.json").exists()


def bad_cases(tmp_path, corpus):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "bins").mkdir()
    (tmp_path / "bins" / "a.bin").write_bytes(b"\x00\x01\x02\x03" * 10)
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9 au lait\n" * 50)
    return [
        (["tokenize", "missing.txt"], 1, ["not found"]),
        (["tokenize", "empty.txt"], 1, ["empty"]),
        (["tokenize", "bins"], 1, ["no text"]),
        (["tokenize", "latin.txt"], 1, ["invalid utf-8", "byte 3", "--encoding"]),
        (["tokenize", corpus, "--level", "syllable"], 2, ["--level"]),
        (["tokenize", corpus, "--level", "bpe", "--vocab-size", "3"], 2, ["too small"]),
        (["tokenize", corpus, "--level", "bpe", "--vocab-size", "60000"], 2, ["vocab"]),
        (["tokenize", corpus, "--encoding", "klingon"], 2, ["--encoding"]),
        (["tokenize", corpus, "--valid-fraction", "1.5"], 2, ["--valid-fraction"]),
        (["train", corpus, "--hidden-size", "0"], 2, ["--hidden-size"]),
        (["train", corpus, "--batch-size", "-4"], 2, ["--batch-size"]),
        (["train", corpus, "--lr", "0"], 2, ["--lr"]),
        (["train", corpus, "--dropout", "1.5"], 2, ["--dropout"]),
        (["train", corpus, "--layer-dropout", "-0.1"], 2, ["--layer-dropout"]),
        (["train", corpus, "--optimizer", "lion"], 2, ["--optimizer"]),
        (["train", corpus, "--device", "tpu"], 2, ["--device"]),
        (["train", corpus, "--device", "cuda"], 1, ["cuda", "--device cpu"]),
        (["train", corpus, "--bogus-flag"], 2, ["--bogus-flag"]),
        (["generate", "."], 2, ["the working folder, which holds no run"]),
        (["generate", "nowhere"], 1, ["not found"]),
        (["generate", "run", "--temperature", "-1"], 2, ["--temperature"]),
        (["generate", "run", "--top-p", "0"], 2, ["--top-p"]),
        (["generate", "run", "--top-p", "1.5"], 2, ["--top-p"]),
        (["generate", "run", "--length", "0"], 2, ["--length"]),
        (["generate", "run", "--num-samples", "0"], 2, ["--num-samples"]),
        (["generate", "run", "--top-k", "-3"], 2, ["--top-k"]),
    ]


def test_bad_inputs_give_one_line_and_exit_codes(cli, corpus, tmp_path, run):
    import torch

    for args, code, words in bad_cases(tmp_path, corpus):
        if "cuda" in args and torch.cuda.is_available():
            continue  # on a GPU machine --device cuda is no error
        assert_one_line_error(cli(*args), code, *words)


def test_internal_errors_are_one_line_unless_debug(cli, corpus, monkeypatch):
    import lstmtext.corpus

    def boom(*args, **kwargs):
        raise RuntimeError("something broke inside")

    monkeypatch.setattr(lstmtext.corpus, "open_corpus", boom)
    assert_one_line_error(cli("tokenize", corpus), 1, "internal error", "lstmtext --debug tokenize ...")
    with pytest.raises(RuntimeError):
        cli("--debug", "tokenize", corpus)


@pytest.mark.parametrize("error, words", [
    (PermissionError(13, "Permission denied", "secret.txt"), ["permission denied: secret.txt", "ls -ld secret.txt"]),
    (PermissionError(13, "Permission denied", "my data/a b.txt"), ["ls -ld 'my data/a b.txt')"]),  # to paste
    (OSError(28, "No space left on device"), ["could not write: No space left on device", "free some space"]),
])
def test_a_file_the_system_refuses_is_one_line_not_an_internal_error(cli, corpus, monkeypatch, error, words):
    import lstmtext.corpus

    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(lstmtext.corpus, "open_corpus", refuse)
    result = cli("tokenize", corpus)
    assert_one_line_error(result, 1, *words)
    assert "internal error" not in result.err


def test_help_does_not_import_torch():
    code = "import sys, lstmtext.cli; print('torch' in sys.modules, 'datasets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False False"
    helped = subprocess.run([sys.executable, "-m", "lstmtext", "train", "--help"], capture_output=True, text=True,
                            cwd=ROOT)
    assert helped.returncode == 0 and "--hidden-size" in helped.stdout


def test_train_help_groups_its_options_and_fits_80_columns(cli, monkeypatch):
    import typer

    from lstmtext.cli import app
    from lstmtext.cli.train_help import HELP_PANELS

    params = {p.name for p in typer.main.get_command(app).commands["train"].params}
    grouped = [name for names in HELP_PANELS.values() for name in names]
    assert len(grouped) == len(set(grouped)) and set(grouped) <= params
    assert params - set(grouped) == {"corpus", "task"}  # a new option must join a group
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("train", "--help")
    assert result.code == 0
    titles = [line.split("─ ")[1].split(" ─")[0] for line in result.out.splitlines() if line.startswith("╭─ ")]
    assert titles == ["Arguments", "Options", *HELP_PANELS]
    assert "…" not in result.out  # no flag name or word cut short
    switch = next(line for line in result.out.splitlines() if "--overwrite" in line)
    assert "<" not in switch and "--max-steps" in result.out  # a switch takes no value, so shows no type
    assert any("--max-steps " in line and "<int>" in line for line in result.out.splitlines())  # an option keeps it


def test_version_answers_on_its_own():
    """--version needs no command after it (it used to stop at "Missing command")."""
    from lstmtext import __version__

    out = subprocess.run([sys.executable, "-m", "lstmtext", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert (out.returncode, out.stdout.strip(), out.stderr) == (0, f"lstmtext {__version__}", "")


def test_usage_errors_answer_before_torch_is_imported(tmp_path):
    """Bad flags and missing or wrong runs are refused before the slow import of torch (about a second)."""
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "config.json").write_text(json.dumps({"format_version": 1, "task": "lm", "model": {},
                                                             "tokenizer": {}}))
    cases = [["train", "--task", "foo"], ["train", "--pretrained-lr", "0.3"], ["train", "--extend-vocab"],
             ["train", "--save-every", "x"], ["train", "--resume", "nope"], ["generate", "nope"],
             ["generate", "lm", "--temperature", "-1"], ["classify", "nope", "x"], ["classify", "lm", "x"],
             ["evaluate", "nope"], ["info", "nope"], ["train", "nope.txt"], ["train", "--device", "tpu"],
             ["generate", "lm", "--device", "cuda:x"]]
    code = ("import json, sys\nfrom lstmtext.cli import main\nseen = []\n"
            f"for args in {cases!r}:\n"
            "    try:\n        main(args)\n    except SystemExit as exc:\n        seen.append(exc.code)\n"
            "    if 'torch' in sys.modules:\n        seen.append(('torch imported by', args))\n        break\n"
            "print(json.dumps(seen))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == [2, 2, 2, 2, 1, 1, 2, 1, 1, 1, 1, 1, 2, 2], out.stderr


def test_bare_command_shows_help_without_an_error(cli):
    result = cli()
    assert result.code == 0 and "train" in result.out and "generate" in result.out
    assert "error" not in result.err


def test_info_describes_a_run(cli, run):
    table = cli("info", run)
    assert table.code == 0 and "parameters" in table.out and "char" in table.out
    data = json.loads(cli("info", run, "--format", "json").out)
    assert data["task"] == "lm" and data["level"] == "char" and data["steps"] == 20
    assert data["parameters"] > 0 and data["vocab_size"] > 20 and "loss" in data["best_valid"]
    assert data["versions"]["torch"]
    best = data["best_valid"]  # the table names and formats the figures as the training summary does
    assert f"loss {best['loss']:.4f}, perplexity {best['ppl']:.2f}, bits/char {best['bpc']:.4f}" in table.out


def test_a_run_stopped_before_its_first_validation_uses_its_last_weights_and_says_so(cli, corpus, run):
    folder = corpus.parent / run
    (folder / "model.safetensors").unlink()  # as a run stopped before its first validation is
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "status": "interrupted"}))
    result = cli("generate", run, "--length", "5")
    assert result.code == 0, result.err
    assert "stopped before its first validation" in result.err and "using its last ones" in result.err
    assert "no best weights" not in cli("generate", run, "--length", "5", "--weights", "last").err


def test_tokenize_never_replaces_other_prepared_data_unasked(cli, corpus, tmp_path):
    assert cli("tokenize", corpus, "--out", "prep", "--quiet").code == 0
    before = (tmp_path / "prep" / "train.bin").read_bytes()
    again = cli("tokenize", corpus, "--out", "prep", "--quiet")
    assert again.code == 0 and "reused" in again.out
    other = cli("tokenize", corpus, "--out", "prep", "--level", "word", "--quiet")
    assert_one_line_error(other, 2, "--out prep holds other data: it was prepared with --level char, not word",
                          "--overwrite")
    (tmp_path / "more.txt").write_text((tmp_path / corpus).read_text() + "more\n")
    assert_one_line_error(cli("tokenize", "more.txt", "--out", "prep"), 2, "it was prepared from ")
    lowered = cli("tokenize", corpus, "--out", "prep", "--lowercase")
    assert_one_line_error(lowered, 2, "it was prepared with --lowercase off, not on")
    assert (tmp_path / "prep" / "train.bin").read_bytes() == before
    assert cli("tokenize", corpus, "--out", "prep", "--level", "word", "--overwrite", "--quiet").code == 0
    assert json.loads((tmp_path / "prep" / "meta.json").read_text())["tokenizer"]["level"] == "word"


def test_a_damaged_prepared_folder_names_what_is_wrong_and_the_command_that_prepares_it_again(cli, corpus, tmp_path):
    """A prepared folder cut short or missing a file is not reused: training on it names the damage and the
    tokenize command (with its settings) that prepares it again, and that command, or a run on the corpus, does."""
    import shlex

    assert cli("tokenize", corpus, "--level", "word", "--min-freq", "2", "--out", "prep", "--quiet").code == 0
    good = (tmp_path / "prep" / "train.bin").read_bytes()
    (tmp_path / "prep" / "notes.txt").write_text("mine")
    (tmp_path / "prep" / "train.bin").write_bytes(good[:100])
    broken = cli("train", "prep", *TINY, "--max-steps", "2", "--out", "r")
    assert_one_line_error(broken, 1, "prep is a damaged prepared folder: its train.bin holds 100 bytes of the",
                          "lstmtext tokenize small.txt --level word --min-freq 2 --out prep --overwrite")
    command = shlex.split(broken.err.split("prepare it again: ")[1].rstrip(")\n"))
    again = cli(*command[1:])
    assert again.code == 0 and (tmp_path / "prep" / "train.bin").read_bytes() == good, again.err
    assert (tmp_path / "prep" / "notes.txt").read_text() == "mine"
    (tmp_path / "prep" / "tokenizer.json").unlink()  # not read as a corpus, nor refused as another program's folder
    assert_one_line_error(cli("train", "prep", *TINY, "--max-steps", "2", "--out", "r"), 1,
                          "prep is a damaged prepared folder: its tokenizer.json is missing", "lstmtext tokenize")
    fixed = cli("tokenize", corpus, "--level", "word", "--min-freq", "2", "--out", "prep")  # the same settings
    assert fixed.code == 0 and "note: prep is damaged (its tokenizer.json is missing), so it is prepared again" \
        in fixed.err and "reused" not in fixed.out, fixed.err
    assert cli("train", "prep", *TINY, "--max-steps", "2", "--out", "r").code == 0


def test_resume_without_its_prepared_data_names_the_command_that_prepares_it_again(cli, corpus, tmp_path):
    import shlex
    import shutil

    trained = cli("train", corpus, *TINY, "--level", "word", "--lowercase", "--max-steps", "4", "--out", "r")
    assert trained.code == 0, trained.err
    shutil.rmtree(tmp_path / "checkpoints" / "prepared")  # "delete old folders freely"
    gone = cli("train", "--resume", "r", "--max-steps", "6")
    assert_one_line_error(gone, 1, "the run's prepared data", "is gone",
                          "prepare it again from the same corpus, unchanged: lstmtext tokenize small.txt --level word "
                          "--lowercase --out ")
    command = shlex.split(gone.err.split("unchanged: ")[1].rstrip(")\n"))
    assert cli(*command[1:]).code == 0
    resumed = cli("train", "--resume", "r", "--max-steps", "6", "--format", "json")
    assert resumed.code == 0 and json.loads(resumed.out)["steps"] == 6, resumed.err


def test_hub_id_offline_fails_at_once_in_one_line(cli, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert_one_line_error(cli("tokenize", "someone/some-dataset"), 1, "could not load", "hub")
    assert_one_line_error(cli("tokenize", "missing.txt"), 1, "corpus not found")


def test_a_reader_that_stops_early_ends_the_command_quietly(tiny_lm):
    """`lstmtext ... | head -1`: once the reader has closed the pipe, writing fails; that is no internal error."""
    proc = subprocess.Popen([sys.executable, "-m", "lstmtext", "generate", str(tiny_lm[0]), "--length", "300",
                             "--num-samples", "40", "--seed", "1"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # before the first line is written
    err = proc.stderr.read()
    assert proc.wait() == 141 and "Traceback" not in err and "error" not in err, err


def test_overwrite_leaves_another_programs_model_folder_alone(cli, corpus, tmp_path):
    """A Hugging Face model folder has a config.json and a model.safetensors too: --overwrite must not take it."""
    folder = tmp_path / "bert"
    folder.mkdir()
    files = {"config.json": '{"model_type": "bert"}', "model.safetensors": "weights", "tokenizer.json": "{}"}
    for name, text in files.items():
        (folder / name).write_text(text)
    for flags in ([], ["--overwrite"]):
        result = cli("train", corpus, *TINY, "--max-steps", "2", "--out", "bert", *flags)
        assert_one_line_error(result, 2, "another program's config.json", "pick another --out")
    assert {p.name: p.read_text() for p in folder.iterdir()} == files


def test_a_run_folder_that_another_train_is_writing_is_refused(cli, corpus, tmp_path, run):
    """Two runs into one folder would interleave their metrics and checkpoints: the second is refused, for a new
    run and for --resume; the lock goes with the command that took it."""
    fcntl = pytest.importorskip("fcntl")

    def held(folder):
        fd = os.open(tmp_path / folder, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd

    (tmp_path / "busy").mkdir()
    for folder, args in (("busy", ["train", corpus, *TINY, "--max-steps", "2", "--out", "busy"]),
                         (run, ["train", "--resume", run, "--max-steps", "30", "--quiet"]),
                         (run, ["train", corpus, *TINY, "--max-steps", "2", "--out", run, "--overwrite"])):
        before = sorted(p.name for p in (tmp_path / folder).iterdir())
        fd = held(folder)
        try:
            result = cli(*args)
            assert_one_line_error(result, 1, f"another lstmtext train is writing to {folder}", "wait for it")
            assert result.out == ""  # refused before the corpus was read and its table printed
        finally:
            os.close(fd)
        assert sorted(p.name for p in (tmp_path / folder).iterdir()) == before
    assert (tmp_path / "busy").is_dir()  # not made by the refused run, so not removed by it
    assert cli("train", "--resume", run, "--max-steps", "30", "--quiet").code == 0
    os.close(held(run))  # the run that finished let its folder go


def test_runs_started_in_the_same_second_get_folders_of_their_own(tmp_path):
    from lstmtext.cli.run_folder import _new_default_dir

    base = tmp_path / "checkpoints" / "tales-char-20261204-120000"
    made = [_new_default_dir(base) for _ in range(3)]
    assert [p.name for p in made] == [base.name, f"{base.name}-2", f"{base.name}-3"]
    assert all(p.is_dir() for p in made)


def test_sigterm_while_tokenizing_leaves_no_half_written_copy(tmp_path):
    """`timeout`, `docker stop` and job schedulers send SIGTERM: it stops tokenize as Ctrl-C does, cleaning up;
    a copy that a killed process left (here: one of a process long gone) is removed by the next tokenize."""
    words = [f"w{i}x{i * 7 % 13}" for i in range(3000)]
    lines = (" ".join(words[(i * 31 + j * 17) % 3000] for j in range(12)) for i in range(200_000))
    (tmp_path / "big.txt").write_text("\n".join(lines), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "lstmtext", "tokenize", "big.txt", "--level", "word", "--out",
                             "prep", "--quiet"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    while proc.poll() is None and not list(tmp_path.glob(".prep.tmp-*")):
        time.sleep(0.02)  # until the copy is being written
    assert proc.poll() is None, "tokenize ended before its copy was seen; give it a larger corpus"
    proc.terminate()
    err = proc.stderr.read()
    assert proc.wait() == 143, err
    assert err.strip() == "error: terminated (SIGTERM)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.txt"]
    stale = tmp_path / f".prep.tmp-{2**22 + 12345}"  # above Linux's largest process id, so no process has it
    (stale / "part").mkdir(parents=True)
    (tmp_path / "small.txt").write_text(SMALL_TEXT * 20, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "lstmtext", "tokenize", "small.txt", "--out", "prep", "--quiet"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert not stale.exists() and (tmp_path / "prep" / "meta.json").exists()


def test_a_moved_project_still_finds_its_prepared_data(cli, corpus, tmp_path, monkeypatch):
    """checkpoints/prepared/X beside the run is found from anywhere after the project folder moved."""
    (tmp_path / "p1").mkdir()
    monkeypatch.chdir(tmp_path / "p1")
    assert cli("train", corpus, *TINY, "--max-steps", "4").code == 0
    (run,) = [p.name for p in (tmp_path / "p1" / "checkpoints").iterdir() if p.name != "prepared"]
    (tmp_path / "p1").rename(tmp_path / "p2")
    monkeypatch.chdir(tmp_path)
    result = cli("evaluate", f"p2/checkpoints/{run}", "--format", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["tokens"] > 0
    for prepared in (tmp_path / "p2" / "checkpoints" / "prepared").iterdir():
        for file in prepared.iterdir():
            file.unlink()
        prepared.rmdir()
    assert_one_line_error(cli("evaluate", f"p2/checkpoints/{run}"), 1, "is gone", f"above p2/checkpoints/{run}")


def test_output_is_utf8_where_the_locale_cannot_encode_the_text(tiny_lm):
    """Redirected on a Windows code page (cp1252 here), text outside it is written as UTF-8, not an error."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "cp1252"}
    proc = subprocess.run([sys.executable, "-m", "lstmtext", "generate", str(tiny_lm[0]), "--prompt", "café 日本",
                           "--length", "5", "--seed", "1"], cwd=ROOT, env=env, capture_output=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    assert proc.stdout.decode("utf-8").startswith("café 日本")


def test_train_without_a_corpus_reads_corpora_in_the_current_folder_first(cli, corpus, tmp_path):
    (tmp_path / "corpora").mkdir()
    own = "Ωmega is a letter the shipped corpus lacks.\n" * 20 + corpus.read_text(encoding="utf-8")
    (tmp_path / "corpora" / "tales.txt").write_text(own, encoding="utf-8")
    trained = cli("train", *TINY, "--max-steps", "2", "--out", "own")
    assert trained.code == 0, trained.err
    assert "Ω" in (tmp_path / "own" / "tokenizer.json").read_text(encoding="utf-8")  # ./corpora/tales.txt was read
    assert "Ω" not in (ROOT / "corpora" / "tales.txt").read_text(encoding="utf-8")


def test_skipped_records_are_shown_in_file_order(cli, tmp_path):
    """The stratified hold-out reads valid and test rows before train: the warnings still start at the first."""
    rows = "".join(f"text number {i} word{i % 7},{'' if i % 10 == 0 else 'ab'[i % 2]}\n" for i in range(200))
    (tmp_path / "missing.csv").write_text("text,label\n" + rows)
    result = cli("tokenize", "missing.csv", "--task", "classify", "--out", "m")
    assert result.code == 0, result.err
    shown = [line for line in result.err.splitlines() if "skipped missing.csv line" in line]
    assert [int(line.split(" line ")[1].split(":")[0]) for line in shown] == [2, 12, 22, 32, 42]
    kept = json.loads((tmp_path / "m" / "meta.json").read_text())["skipped"]
    assert [line for _, line, _ in kept] == list(range(2, 202, 10))


def test_a_cache_folder_that_cannot_be_made_is_named_with_the_way_round_it(cli, corpus, tmp_path):
    (tmp_path / "checkpoints").write_text("a file where the cache folder would go")
    for command in (["tokenize", corpus], ["train", corpus, "--max-steps", "1", "--out", "r"]):
        assert_one_line_error(cli(*command), 1, "prepared-data cache checkpoints/prepared", "--out DIR")
    assert not (tmp_path / "r").exists()


def test_paths_and_names_with_brackets_are_printed_as_written(cli, corpus, tmp_path):
    """rich reads [bold] as markup: a run folder named so was printed without it (and its resume command with it)."""
    run = "runs[bold]/a[red]b"
    result = cli("train", corpus, "--hidden-size", "16", "--layers", "1", "--max-steps", "3", "--out", run)
    assert result.code == 0, result.err
    assert f"-> {run}" in result.err and run in result.out  # the start line, and the summary's checkpoint row
    shown = cli("info", run)
    assert shown.code == 0 and f"checkpoint {run}" in shown.out
    (tmp_path / run / "model.safetensors").unlink()
    assert_one_line_error(cli("generate", run, "--length", "3"), 1, f"{run}/model.safetensors (the best weights)")
    rows = "".join(f"text number {i} word{i % 5}\t{'[pos]' if i % 2 else '[bold]neg'}\n" for i in range(80))
    (tmp_path / "bracketed.tsv").write_text("text\tlabel\n" + rows)
    trained = cli("train", "bracketed.tsv", "--task", "classify", "--hidden-size", "16", "--max-steps", "3", "--out",
                  "clf")
    assert trained.code == 0 and "[bold]neg, [pos]" in trained.out  # the summary's labels
    assert "[bold]neg: 40, [pos]: 40" in trained.out + trained.err  # the prepared data's table
    scored = cli("evaluate", "clf")
    assert scored.code == 0 and scored.out.count("[bold]neg") >= 3  # per class; the confusion matrix's row, column


def test_generate_keeps_one_space_after_a_prompt_that_ends_in_one(cli, tmp_path):
    """A word model's text after a prompt starts with the space between the two: a prompt typed with its own
    trailing space got two ('said  forty'), streamed or not. Greedy samples are the same text, so more than one
    is refused."""
    from tests.conftest import TALES

    assert cli("train", str(TALES), "--level", "word", "--hidden-size", "16", "--layers", "1", "--max-steps", "3",
               "--quiet", "--out", "w").code == 0
    for stream in ("--stream", "--no-stream"):
        out = cli("generate", "w", "--prompt", "The heron said ", "--length", "8", stream).out
        assert out.startswith("The heron said ") and "  " not in out, out
    assert_one_line_error(cli("generate", "w", "--temperature", "0", "--num-samples", "3"), 2,
                          "would print one text 3 times", "--temperature above 0")
    # --no-stream asks for what several samples and JSON do anyway: a script may always pass it
    batch = cli("generate", "w", "--num-samples", "2", "--length", "4", "--no-stream", "--format", "json")
    assert batch.code == 0 and len(json.loads(batch.out)["samples"]) == 2, batch.err
    assert_one_line_error(cli("generate", "w", "--num-samples", "2", "--stream"), 2, "--stream prints one sample")
    assert_one_line_error(cli("generate", "w", "--json", "--format", "text"), 2,
                          "--json and --format text ask for two formats")


def test_figures_on_a_few_tokens_are_said_to_mean_little(cli, run, tmp_path):
    (tmp_path / "three.txt").write_text("one line here\ntwo lines there\nthree\n")
    tokenized = cli("tokenize", "three.txt", "--out", "p3")
    assert tokenized.code == 0 and "the valid split holds only 2 tokens, so its figures will mean little" in \
        " ".join(tokenized.err.split()), tokenized.err
    (tmp_path / "hi.txt").write_text("Hi")
    scored = cli("evaluate", run, "hi.txt")
    assert scored.code == 0 and "only 1 token scored, so these figures mean little" in scored.err, scored.err


def test_a_parquet_files_skipped_records_are_named_by_row(cli, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = [f"text number {i} word{i % 7}" for i in range(60)]
    labels = [None if i in (3, 9) else "ab"[i % 2] for i in range(60)]
    pq.write_table(pa.table({"text": texts, "label": labels}), tmp_path / "rows.parquet")
    result = cli("tokenize", "rows.parquet", "--task", "classify", "--out", "p")
    assert result.code == 0, result.err
    assert "skipped rows.parquet row 4: missing label" in result.err and " line " not in result.err


def test_level_names_are_read_in_any_case_and_generate_takes_max_tokens(cli, corpus, run):
    result = cli("tokenize", corpus, "--level", "Word", "--out", "pw", "--quiet")
    assert result.code == 0, result.err
    assert json.loads((corpus.parent / "pw" / "meta.json").read_text())["tokenizer"]["level"] == "word"
    by_length = cli("generate", run, "--length", "15", "--seed", "3")
    by_max = cli("generate", run, "--max-tokens", "15", "--seed", "3")
    assert by_max.code == 0 and by_max.out == by_length.out and len(by_max.out) == 16
    # a level as typed agrees with the same level of --init-from's tokenizer
    again = cli("train", corpus, "--init-from", run, "--level", "CHAR", "--max-steps", "1", "--out", "r2", "--quiet")
    assert again.code == 0, again.err


@pytest.mark.parametrize("name", ["subword", "SentencePiece"])
def test_subword_level_is_sentencepieces_unigram_model(cli, corpus, name):
    result = cli("tokenize", corpus, "--level", name, "--vocab-size", "60", "--out", "ps", "--quiet")
    assert result.code == 0, result.err
    meta = json.loads((corpus.parent / "ps" / "meta.json").read_text())
    assert meta["tokenizer"]["level"] == "unigram" and (corpus.parent / "ps" / "tokenizer.json").exists()


def test_a_folder_of_markdown_files_is_read(tmp_path):
    from lstmtext.corpus import open_corpus

    (tmp_path / "notes").mkdir()
    for name in ("a.md", "b.md"):
        (tmp_path / "notes" / name).write_text(f"# {name}\n\nSome notes worth learning from.\n" * 20)
    corpus = open_corpus(tmp_path / "notes")
    assert [p.name for p in corpus.files] == ["a.md", "b.md"]


def test_evaluate_scores_the_valid_split_of_a_run_that_held_out_no_test_split(cli, corpus):
    trained = cli("train", corpus, *TINY, "--max-steps", "10", "--test-fraction", "0", "--out", "nt")
    assert trained.code == 0, trained.err
    result = cli("evaluate", "nt", "--format", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["split"] == "valid"
    assert "held out no test split" in result.err
    assert_one_line_error(cli("evaluate", "nt", "--split", "test"), 1, "test split is empty")


def test_inference_on_the_cpu_keeps_freed_memory_as_training_does(cli, run, monkeypatch):
    """glibc hands each step's freed activations back to the kernel and faults them in again: generate spent half
    its time in the kernel (4.6x slower on a 2x256 char model) until it kept them, as training does."""
    import lstmtext.devices

    calls = []
    monkeypatch.setattr(lstmtext.devices, "keep_freed_memory", lambda: calls.append(1))
    assert cli("generate", run, "--length", "5").code == 0
    assert cli("evaluate", run).code == 0
    assert len(calls) == 2


def test_generate_reads_its_prompt_from_a_file_or_stdin(cli, run, tmp_path, monkeypatch):
    import io

    by_option = cli("generate", run, "--prompt", "The kettle", "--length", "10", "--seed", "2")
    (tmp_path / "prompt.txt").write_text("The kettle\n", encoding="utf-8")  # the line break an editor adds
    by_file = cli("generate", run, "--prompt-file", "prompt.txt", "--length", "10", "--seed", "2")
    assert by_file.code == 0 and by_file.out == by_option.out
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"The kettle")))
    assert cli("generate", run, "--prompt-file", "-", "--length", "10", "--seed", "2").out == by_option.out
    assert_one_line_error(cli("generate", run, "--prompt", "x", "--prompt-file", "prompt.txt"), 2,
                          "--prompt and --prompt-file give two prompts")
    assert_one_line_error(cli("generate", run, "--prompt-file", "nope.txt"), 1, "--prompt-file not found")


def test_evaluate_scores_every_token_of_a_split_whatever_the_batch_size(cli, run, tmp_path):
    """The split is read as 16 streams side by side: each stream's first token is scored too, from the state the
    tokens before it give, and so are the few left over after the equal streams; the figure is the one-stream
    figure."""
    import contextlib

    import numpy as np
    import torch

    from lstmtext.checkpoint import load_checkpoint
    from lstmtext.data import Prepared
    from lstmtext.tasks import lm_eval

    report = json.loads(cli("evaluate", run, "--format", "json").out)
    ckpt = load_checkpoint(tmp_path / run)
    tokens = np.asarray(Prepared.open(tmp_path / ckpt.config["data"]["prepared"]).tokens(report["split"]))
    assert report["tokens"] == report["of_tokens"] == len(tokens) - 1
    seq_len = ckpt.config["train"]["seq_len"]
    figures = {bs: lm_eval(ckpt.model, tokens, bs, seq_len, torch.device("cpu"), contextlib.nullcontext())
               for bs in (1, 7, 16)}
    assert {count for _, count in figures.values()} == {len(tokens) - 1}
    assert len(tokens) > 8 * (seq_len + 1)  # 7 streams or more
    assert abs(figures[7][0] - figures[1][0]) < 1e-3 and abs(figures[16][0] - figures[1][0]) < 1e-3, figures
    assert abs(report["loss"] - figures[1][0]) < 2e-3  # (in the run's precision: bf16 on some CPUs)
    table = cli("evaluate", run)
    assert f"tokens scored │ {report['tokens']:,} " in table.out.replace("┃", "│"), table.out


def test_file_and_folder_names_in_another_encoding(tmp_path):
    """A name written in Latin-1 (café as b'caf\xe9'), not UTF-8: Python gives it as a lone surrogate, which
    neither the content hash, config.json, safetensors nor the output took; it is written back as its bytes."""
    import os

    corpus = os.fsdecode(b"caf\xe9.txt")
    try:
        (tmp_path / corpus).write_text(SMALL_TEXT * 20, encoding="utf-8")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system takes only UTF-8 names")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8:strict"}  # as under a UTF-8 locale

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lstmtext", *args], cwd=tmp_path, env=env, capture_output=True,
                              timeout=300)

    run_dir = os.fsdecode(b"r\xe9")
    trained = run("train", corpus, *TINY, "--max-steps", "4", "--out", run_dir)
    assert trained.returncode == 0, trained.stderr
    assert b"r\xe9 " in trained.stdout  # the summary names the run folder by its own bytes
    assert json.loads((tmp_path / run_dir / "config.json").read_text())["status"] == "done"
    assert run("info", run_dir).returncode == 0
    assert run("generate", run_dir, "--length", "5").returncode == 0
    resumed = run("train", "--resume", run_dir, "--max-steps", "6", "--quiet")
    assert resumed.returncode == 0, resumed.stderr


def test_a_home_folder_after_an_equals_sign_is_the_home_folder(cli, corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    result = cli("tokenize", corpus, "--out=~/prepared", "--quiet")
    assert result.code == 0, result.err
    assert (tmp_path / "home" / "prepared" / "meta.json").exists() and not (tmp_path / "~").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_refused_as_a_corpus_but_read_as_a_prompt_file(cli, run, tmp_path):
    """A corpus is read more than once; opening a FIFO without a writer would wait for ever."""
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert_one_line_error(cli("tokenize", fifo), 2, "pipe is a pipe or a device", "save the text to a file")
    writer = threading.Thread(target=lambda: fifo.write_text("the\n"))
    writer.start()
    result = cli("generate", run, "--prompt-file", fifo, "--length", "5", "--seed", "1")
    writer.join()
    assert result.code == 0 and result.out.startswith("the"), result.err
    assert_one_line_error(cli("generate", run, "--prompt-file", tmp_path), 1, "is a folder")


def test_a_tiny_temperature_is_greedy_and_an_empty_prompt_starts_with_text(cli, run):
    greedy = cli("generate", run, "--temperature", "0", "--length", "30", "--prompt", "The")
    tiny = cli("generate", run, "--temperature", "1e-40", "--length", "30", "--prompt", "The")
    assert tiny.code == 0 and tiny.out == greedy.out and len(tiny.out.rstrip("\n")) > 3  # not NaNs, read as padding
    for seed in range(6):  # a sample with no prompt starts from a line break, and not with blank lines
        sampled = cli("generate", run, "--length", "4", "--seed", str(seed), "--temperature", "3")
        assert sampled.code == 0 and not sampled.out.startswith("\n"), repr(sampled.out)


def test_prompt_files_read_windows_line_ends_and_an_empty_one_is_said(cli, run, tmp_path):
    (tmp_path / "crlf.txt").write_bytes(b"The kettle\r\nsang\r\n")
    (tmp_path / "lf.txt").write_bytes(b"The kettle\nsang\n")
    crlf = cli("generate", run, "--prompt-file", "crlf.txt", "--length", "8", "--seed", "2")
    assert crlf.code == 0 and "never saw" not in crlf.err, crlf.err
    assert crlf.out == cli("generate", run, "--prompt-file", "lf.txt", "--length", "8", "--seed", "2").out
    (tmp_path / "empty.txt").write_text("")
    empty = cli("generate", run, "--prompt-file", "empty.txt", "--length", "4")
    assert empty.code == 0 and "--prompt-file empty.txt is empty" in empty.err


def test_an_interrupted_generate_prints_the_samples_so_far(cli, run, tmp_path):
    import signal
    import time

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "lstmtext", "generate", "run", "--length", "1000000",
                             "--num-samples", "2", "--seed", "1"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(8)  # past start-up (torch's import, the weights), well before a million tokens are drawn
    assert proc.poll() is None, "generate ended before the signal"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert out.startswith("--- sample 1 ---\n") and "--- sample 2 ---" in out and len(out) > 60
    assert "note: stopped after" in err and err.rstrip().endswith("error: interrupted")


def test_json_is_asked_for_the_same_way_in_every_command(cli, run):
    for command in (["info", run], ["evaluate", run]):
        assert json.loads(cli(*command, "--json").out) == json.loads(cli(*command, "--format", "json").out)
        assert_one_line_error(cli(*command, "--json", "--format", "table"), 2, "--json and --format table")
    assert_one_line_error(cli("generate", run, "-n"), 2, "requires an argument", "see 'lstmtext generate --help'")


def test_the_words_of_a_fixed_list_are_taken_in_any_case(cli, corpus):
    result = cli("train", corpus, *TINY, "--task", "LM", "--optimizer", " SGD", "--schedule", "Constant",
                 "--word-split", "Whitespace", "--level", "Word", "--max-steps", "2", "--format", "JSON", "--out", "r")
    assert result.code == 0, result.err
    assert json.loads(result.out)["steps"] == 2
    config = json.loads((corpus.parent / "r" / "config.json").read_text())
    assert config["train"]["optimizer"] == "sgd" and config["train"]["schedule"] == "constant"
    assert json.loads(cli("info", "r", "--format", "Json").out)["task"] == "lm"
    assert cli("generate", "r", "--length", "3", "--device", "CPU", "--weights", "LAST").code == 0
    assert_one_line_error(cli("train", corpus, "--epochs", "0"), 2, "--epochs must be positive", "(such as 10")


def test_info_describes_a_prepared_folder_and_names_its_damage(cli, corpus, tmp_path):
    assert cli("tokenize", corpus, "--level", "word", "--lowercase", "--out", "prep", "--quiet").code == 0
    table = cli("info", "prep")
    assert table.code == 0, table.err
    assert "prepared data prep" in table.out and "word (--lowercase)" in table.out
    assert "lstmtext train prep" in table.out
    facts = json.loads(cli("info", "prep", "--format", "json").out)
    meta = json.loads((tmp_path / "prep" / "meta.json").read_text())
    assert facts["splits"] == meta["splits"] and facts["vocab_size"] == meta["vocab_size"] and "problem" not in facts
    assert facts["prepare_again"] == "lstmtext tokenize small.txt --level word --lowercase --out prep --overwrite"
    (tmp_path / "prep" / "test.bin").unlink()
    damaged = cli("info", "prep", "--format", "json")
    assert_one_line_error(damaged, 1, "prep is a damaged prepared folder: its test.bin is missing")
    assert json.loads(damaged.out)["problem"].endswith("its test.bin is missing")
    meta["splits"]["valid"] = 5  # a meta.json edited by hand
    (tmp_path / "prep" / "meta.json").write_text(json.dumps(meta))
    assert_one_line_error(cli("info", "prep"), 1, "prep is a damaged prepared folder: its meta.json lacks the splits")
    assert cli("tokenize", corpus, "--level", "word", "--lowercase", "--out", "prep", "--quiet").code == 0  # mended
    (tmp_path / "prep" / "meta.json").write_text(json.dumps({**meta, "splits": facts["splits"], "vocab_size": "abc"}))
    assert_one_line_error(cli("info", "prep"), 1, "its meta.json lacks the splits, the vocabulary size")
    mended = cli("tokenize", corpus, "--level", "word", "--lowercase", "--out", "prep")
    assert mended.code == 0 and "is damaged" in mended.err, mended.err
    (tmp_path / "prep" / "meta.json").unlink()  # token ids and a tokenizer alone: still ours, and damaged
    assert_one_line_error(cli("train", "prep", "--max-steps", "1"), 1,
                          "prep is a damaged prepared folder: its meta.json is missing", "--overwrite")
    assert cli("tokenize", corpus, "--level", "word", "--lowercase", "--out", "prep", "--overwrite").code == 0


def test_a_reused_folder_corpus_names_the_files_it_leaves_out_now(cli, tmp_path):
    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "a.txt").write_text(SMALL_TEXT * 20, encoding="utf-8")
    (tmp_path / "books" / "NOTES").write_text("mine")
    first = cli("tokenize", "books", "--out", "prep")
    assert first.code == 0 and "leaves out (not .txt, beside .txt files): NOTES" in first.err, first.err
    (tmp_path / "books" / "NOTES").unlink()
    (tmp_path / "books" / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    again = cli("tokenize", "books", "--out", "prep")
    assert again.code == 0 and "reused" in again.out, again.err
    assert "blob.bin" in again.err and "NOTES" not in again.err, again.err
