"""Run options and checkpoints as a user meets them: --resume keeps the run's budget, --overwrite never loses a run
to a failure before training starts, and a damaged config.json is one line, not a traceback."""

import json
import shutil

import pytest

from tests.conftest import TINY, assert_one_line_error


@pytest.fixture
def clf(cli, tmp_path):
    """A tiny classifier run, 'clf', of made-up reviews."""
    rows = "".join(f"{w} film number {i}\t{'pos' if w == 'good' else 'neg'}\n" for i in range(30)
                   for w in ("good", "bad"))
    (tmp_path / "r.tsv").write_text("text\tlabel\n" + rows)
    assert cli("train", "r.tsv", "--task", "classify", "--hidden-size", "16", "--max-steps", "3", "--quiet",
               "--out", "clf").code == 0
    return tmp_path / "clf"


def config(run):
    return json.loads((run / "config.json").read_text())


def test_resume_keeps_the_runs_time_limit_which_counts_the_time_before(cli, corpus, tmp_path):
    assert cli("train", corpus, *TINY, "--max-steps", "10", "--time-limit", "10m", "--out", "r").code == 0
    assert config(tmp_path / "r")["train"]["time_limit"] == 600
    resumed = cli("train", "--resume", "r", "--max-steps", "20", "--log-every", "2", "--quiet")
    assert resumed.code == 0, resumed.err
    saved = config(tmp_path / "r")
    assert saved["train"]["time_limit"] == 600 and saved["train"]["log_every"] == 2  # kept; --log-every applied
    assert saved["result"]["steps"] == 20 and saved["result"]["stopped_by"] == "steps"
    # a run that has trained past its limit already is refused (it took one more step on every resume)
    state = json.loads((tmp_path / "r" / "state.json").read_text())
    state["elapsed"] = 601.0
    (tmp_path / "r" / "state.json").write_text(json.dumps(state))
    again = cli("train", "--resume", "r", "--max-steps", "40")
    assert_one_line_error(again, 1, "r has trained for 601.0 s, all --time-limit 600 allows")
    assert "cosine" not in again.err  # no note on a schedule that will not run
    assert "pass a --time-limit above 601.0 " in again.err and config(tmp_path / "r")["result"]["steps"] == 20
    state["elapsed"] = 590.0  # a limit nearly spent is said, not met after a step with no word
    (tmp_path / "r" / "state.json").write_text(json.dumps(state))
    close = cli("train", "--resume", "r", "--max-steps", "22")
    assert close.code == 0, close.err
    assert "note: the run's --time-limit 600 counts its whole time, and leaves 10.0 s of it" in close.err
    longer = cli("train", "--resume", "r", "--max-steps", "40", "--time-limit", "20m", "--quiet")
    assert longer.code == 0 and config(tmp_path / "r")["result"]["steps"] == 40, longer.err


def test_durations_and_save_intervals_are_read_as_written():
    from lstmtext.config import parse_duration, parse_save_every
    from lstmtext.errors import UserError

    assert [parse_duration(v, "--time-limit") for v in ("600", "90s", "10m", "1.5h", 30, None)] == \
        [600.0, 90.0, 600.0, 5400.0, 30.0, None]
    for bad in ("ten", "0", "-5", "5d"):
        with pytest.raises(UserError):
            parse_duration(bad, "--time-limit")
    assert parse_save_every("0s") == (None, None)  # only at validations, as '0' is
    with pytest.raises(UserError, match="whole number of steps"):
        parse_save_every("1.5")


def test_overwrite_keeps_the_old_run_when_the_new_one_cannot_start(cli, corpus, tmp_path):
    assert cli("train", corpus, *TINY, "--max-steps", "5", "--out", "lm").code == 0
    assert cli("train", corpus, *TINY, "--max-steps", "5", "--out", "old").code == 0
    (tmp_path / "old" / "notes.txt").write_text("mine")
    shutil.copytree(tmp_path / "lm", tmp_path / "broken")
    weights = tmp_path / "broken" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    before = {p.name: p.read_bytes() for p in (tmp_path / "old").iterdir() if p.is_file()}
    failed = cli("train", corpus, *TINY, "--max-steps", "5", "--init-from", "broken", "--out", "old", "--overwrite")
    assert_one_line_error(failed, 1, "model.safetensors is not a valid safetensors file")
    assert {p.name: p.read_bytes() for p in (tmp_path / "old").iterdir() if p.is_file()} == before
    assert cli("evaluate", "old").code == 0
    replaced = cli("train", corpus, *TINY, "--max-steps", "5", "--init-from", "lm", "--out", "old", "--overwrite")
    assert replaced.code == 0, replaced.err
    assert config(tmp_path / "old")["init_from"] == "lm" and (tmp_path / "old" / "notes.txt").read_text() == "mine"


def test_a_broken_init_from_is_refused_before_the_corpus_is_tokenized(cli, corpus, tmp_path):
    assert cli("train", corpus, *TINY, "--max-steps", "5", "--out", "lm").code == 0
    weights = tmp_path / "lm" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    rows = "".join(f"{w} story number {i}\t{'pos' if w == 'good' else 'neg'}\n" for i in range(30)
                   for w in ("good", "bad"))
    (tmp_path / "reviews.tsv").write_text("text\tlabel\n" + rows)
    failed = cli("train", "reviews.tsv", "--task", "classify", "--init-from", "lm", "--max-steps", "3", "--out", "c")
    assert_one_line_error(failed, 1, "model.safetensors is not a valid safetensors file")
    assert not any(p.name.startswith("reviews") for p in (tmp_path / "checkpoints" / "prepared").glob("*"))
    weights.unlink()
    failed = cli("train", "reviews.tsv", "--task", "classify", "--init-from", "lm", "--max-steps", "3", "--out", "c")
    assert_one_line_error(failed, 1, "model.safetensors (the best weights) is missing", "cp lm/last.safetensors")
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("edit, words", [
    (lambda c: c["model"].update(hidden_size="32"), ["model.hidden_size is '32'"]),
    (lambda c: c.update(model=[1]), ["'model' entry is not an object"]),
    (lambda c: c.pop("data"), ["no 'data' entry"]),
    (lambda c: c["model"].pop("hidden_size"), ["model entry has no 'hidden_size'"]),
    (lambda c: c.update(task="foo"), ["task 'foo' is neither lm nor classify"]),
    (lambda c: c.update(format_version=0), ["format version 0 is not a version number"]),
    (lambda c: c.update(format_version=True), ["format version True"]),
    (lambda c: c["train"].update(seq_len=None), ["train.seq_len is None"]),
])
def test_a_damaged_config_is_one_line_for_every_command(cli, corpus, tmp_path, edit, words):
    assert cli("train", corpus, *TINY, "--max-steps", "5", "--out", "lm").code == 0
    saved = config(tmp_path / "lm")
    edit(saved)
    (tmp_path / "lm" / "config.json").write_text(json.dumps(saved))
    for command in (["generate", "lm", "-n", "5"], ["info", "lm"], ["evaluate", "lm"]):
        assert_one_line_error(cli(*command), 1, "config.json is damaged", *words)


def test_a_classifiers_labels_must_be_a_list_of_names(cli, tmp_path, clf):
    saved = config(clf)
    saved["labels"] = "neg,pos"
    (tmp_path / "clf" / "config.json").write_text(json.dumps(saved))
    assert_one_line_error(cli("classify", "clf", "nice"), 1, "labels should be a list of two or more names")


def test_classify_reads_one_text_per_line_of_the_file(cli, tmp_path, clf):
    (tmp_path / "in.txt").write_text("good\u2028still good\r\nbad\x0cstill bad\n\nfilm\n", newline="")
    result = cli("classify", "clf", "--file", "in.txt", "--format", "jsonl")
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in result.out.split("\n") if line]
    assert [r["text"] for r in rows] == ["good\u2028still good", "bad\x0cstill bad", "", "film"]
    assert len({tuple(r) for r in rows}) == 1 and [r["note"] for r in rows] == [None, None, "empty", None]


def test_sampling_settings_that_would_print_nothing_or_fill_memory_are_refused(cli, corpus, tmp_path):
    assert cli("train", corpus, *TINY, "--max-steps", "5", "--out", "lm").code == 0
    for value in ("inf", "nan", "1e39"):
        assert_one_line_error(cli("generate", "lm", "-t", value), 2, "--temperature must be 0 (greedy) to 100")
    assert_one_line_error(cli("generate", "lm", "--num-samples", "4096", "--length", "1000000"), 2,
                          "4,096,000,000 tokens", "at most 20,000,000")
    assert cli("train", corpus, *TINY, "--max-steps", "5", "--reverse", "--out", "rev").code == 0
    assert_one_line_error(cli("generate", "rev", "--stream"), 2, "--stream cannot stream rev", "--reverse")
    assert cli("generate", "rev", "-n", "5").code == 0


def test_info_shows_the_best_validation_of_a_run_stopped_early(cli, corpus, tmp_path):
    assert cli("train", corpus, *TINY, "--max-steps", "20", "--out", "lm").code == 0
    saved = config(tmp_path / "lm")  # as a Ctrl-C after the validations leaves it
    saved.update(status="interrupted", result={**saved["result"], "figures": {}})
    (tmp_path / "lm" / "config.json").write_text(json.dumps(saved))
    best = json.loads((tmp_path / "lm" / "state.json").read_text())["best"]
    shown = json.loads(cli("info", "lm", "--format", "json").out)
    assert shown["best_valid"] == best and best["loss"] > 0


def test_evaluate_warns_when_the_text_is_mostly_unknown_to_the_model(cli, corpus, tmp_path):
    assert cli("train", corpus, *TINY, "--max-steps", "5", "--out", "lm").code == 0
    (tmp_path / "kana.txt").write_text("ひらがなのぶんしょうです。\n" * 50, encoding="utf-8")
    result = cli("evaluate", "lm", "kana.txt", "--format", "json")
    assert result.code == 0, result.err
    assert "of kana.txt's tokens are <unk> to this model" in result.err
    assert json.loads(result.out)["unk_rate"] > 0.9
    assert "<unk>" not in cli("evaluate", "lm", "small.txt").err
    # a corpus with <unk> of its own (PTB's 4.7%): text with its usual share is not warned about
    words = [f"w{i % 40}" if i % 11 else "<unk>" for i in range(6000)]
    lines = "".join(" ".join(words[i:i + 12]) + "\n" for i in range(0, len(words), 12))
    (tmp_path / "ptbish.txt").write_text(lines, encoding="utf-8")
    (tmp_path / "more.txt").write_text(lines[:3000], encoding="utf-8")
    assert cli("train", "ptbish.txt", "--level", "word", *TINY, "--max-steps", "5", "--out", "w").code == 0
    scored = cli("evaluate", "w", "more.txt", "--format", "json")
    assert json.loads(scored.out)["unk_rate"] > 0.08 and "<unk>" not in scored.err


def test_narrow_terminals_never_cut_labels_figures_or_paths(cli, tmp_path, monkeypatch):
    names = ["very_negative_sentiment", "neutral_or_mixed", "very_positive_sentiment"]
    rows = "".join(f"{w} film number {i}\t{names[k]}\n" for i in range(20) for k, w in enumerate(("bad", "so", "good")))
    (tmp_path / "five.tsv").write_text("text\tlabel\n" + rows)
    out = tmp_path / "a-rather-long-folder-name-for-runs" / "and-a-long-run-name"
    monkeypatch.setenv("COLUMNS", "60")
    trained = cli("train", "five.tsv", "--task", "classify", "--hidden-size", "16", "--max-steps", "3", "--out", out)
    assert trained.code == 0 and str(out) in "".join(trained.err.replace("│", "").split()), trained.err
    labelled = cli("classify", out, "a film that was so so and long enough to wrap around", "--all-scores")
    assert labelled.code == 0 and "…" not in labelled.out and any(n in labelled.out for n in names), labelled.out
    scored = cli("evaluate", out, "five.tsv")
    assert scored.code == 0 and "…" not in scored.out and all(f"{n} (#{i})" in scored.out
                                                              for i, n in enumerate(sorted(names), 1)), scored.out


def test_train_refuses_its_out_before_reading_the_corpus(cli, corpus, tmp_path):
    assert cli("train", corpus, *TINY, "--max-steps", "2", "--out", "r").code == 0
    before = sorted(p.name for p in (tmp_path / "checkpoints" / "prepared").iterdir())
    refused = cli("train", corpus, *TINY, "--level", "word", "--max-steps", "2", "--out", "r")
    assert_one_line_error(refused, 2, "r already holds a run")
    assert sorted(p.name for p in (tmp_path / "checkpoints" / "prepared").iterdir()) == before  # nothing tokenized
    (prepared,) = before  # a flag that cannot apply is named before the folder in the way: --overwrite would not do
    conflict = cli("train", f"checkpoints/prepared/{prepared}", *TINY, "--level", "word", "--out", "r")
    assert_one_line_error(conflict, 2, "--level cannot apply to")


def test_tokenize_overwrite_prepares_the_folder_again(cli, corpus, tmp_path):
    assert cli("tokenize", corpus, "--out", "p", "--quiet").code == 0
    (tmp_path / "p" / "train.bin").write_bytes(b"")  # damaged, with the source unchanged
    again = cli("tokenize", corpus, "--out", "p", "--overwrite")
    assert again.code == 0 and "reused" not in again.out
    assert (tmp_path / "p" / "train.bin").stat().st_size > 0


def test_metrics_are_strict_json(tmp_path):
    from lstmtext.checkpoint import append_jsonl

    append_jsonl(tmp_path / "m.jsonl", {"step": 5, "valid_loss": float("nan"), "x": [float("inf"), 1.5]})
    assert json.loads((tmp_path / "m.jsonl").read_text(), parse_constant=lambda c: 1 / 0) == \
        {"step": 5, "valid_loss": None, "x": [None, 1.5]}


def test_fp16_on_the_cpu_is_refused_before_tokenizing_and_leaves_no_folder(cli, corpus, tmp_path):
    import torch

    refused = cli("train", corpus, *TINY, "--precision", "fp16", "--device", "cpu", "--out", "r")
    assert_one_line_error(refused, 2, "fp16 needs a CUDA GPU")
    assert not (tmp_path / "r").exists() and not (tmp_path / "checkpoints").exists()  # nothing read or made
    if torch.cuda.is_available():
        return  # --device auto would be the GPU, where fp16 trains
    late = cli("train", corpus, *TINY, "--precision", "fp16", "--out", "r")  # auto is the CPU: known once torch runs
    assert_one_line_error(late, 2, "fp16 needs a CUDA GPU")
    assert not (tmp_path / "r").exists()  # the folder made for the run is removed again, being empty
    (tmp_path / "mine").mkdir()
    assert cli("train", corpus, *TINY, "--precision", "fp16", "--out", "mine").code == 2
    assert (tmp_path / "mine").is_dir()  # an empty folder the user made is theirs, and stays


def test_what_the_run_does_otherwise_than_asked_is_told(cli, corpus, tmp_path):
    shape = [a for a in TINY if a != "--quiet"]

    def notes(result):
        assert result.code == 0, result.err
        return [ln for ln in result.err.splitlines() if ln.startswith("note:")]

    text = corpus.stat().st_size  # a char-level model: about a token a byte, 90% of it for training
    cut = notes(cli("train", corpus, *shape, "--seq-len", str(text), "--max-steps", "2", "--out", "r"))
    streams = json.loads((tmp_path / "r" / "config.json").read_text())["train"]["batch_size"]
    assert len(cut) == 1 and f"each of the {streams} streams" in cut[0] and f"not --seq-len {text:,}" in cut[0], cut
    warm = notes(cli("train", corpus, *shape, "--max-steps", "30", "--warmup-steps", "20", "--out", "r2"))
    assert warm == [("note: the learning rate warms up over 3 steps (at most a tenth of the run's 30 steps), "
                     "not --warmup-steps 20")], warm
    assert notes(cli("train", corpus, *shape, "--max-steps", "30", "--out", "r3")) == []  # the default 50, untold


def test_train_format_json_writes_only_the_summary_to_stdout(cli, corpus, tmp_path):
    result = cli("train", corpus, *TINY, "--max-steps", "4", "--out", "j", "--format", "json")
    assert result.code == 0, result.err
    summary = json.loads(result.out)  # stdout is the one JSON object: the data table and progress went to stderr
    saved = config(tmp_path / "j")["result"]
    assert summary["run_dir"] == "j" and summary["steps"] == saved["steps"] == 4
    assert summary["run_dir_abs"] == str((tmp_path / "j").resolve())
    assert summary["figures"]["test"]["ppl"] == saved["figures"]["test"]["ppl"] > 1
    resumed = cli("train", "--resume", "j", "--max-steps", "6", "--format", "json", "--quiet")
    assert resumed.code == 0 and json.loads(resumed.out)["steps"] == 6, resumed.err
    assert_one_line_error(cli("train", corpus, "--format", "yaml"), 2, "unknown --format 'yaml'", "table or json")


def test_errors_name_the_off_form_of_a_flag_as_it_was_typed(cli, corpus, tmp_path):
    """--full-softmax and --no-tie-weights are named as such, not as the on form of their pair."""
    for flag in ("--full-softmax", "--no-tie-weights"):
        assert_one_line_error(cli("train", corpus, "--task", "classify", flag), 2, f"{flag} is for --task lm")
    assert cli("train", corpus, *TINY, "--max-steps", "3", "--out", "r").code == 0
    assert_one_line_error(cli("train", "--resume", "r", "--full-softmax"), 2, "--full-softmax cannot be given")


def test_max_steps_alone_is_as_many_steps_as_it_says(cli, corpus, tmp_path):
    """--max-steps without --epochs ran to the default 15 epochs and stopped there, short of the steps asked for;
    on --resume too. --epochs beside it still bounds the run."""
    small = ["--hidden-size", "16", "--layers", "1", "--seq-len", "32", "--batch-size", "32", "--eval-every", "0",
             "--quiet", "--format", "json"]
    result = cli("train", corpus, *small, "--max-steps", "160", "--out", "r")
    summary = json.loads(result.out)
    assert result.code == 0 and summary["steps"] == 160 and summary["epochs"] > 15, result.err
    assert summary["stopped_by"] == "steps" and config(tmp_path / "r")["train"]["epochs"] is None
    resumed = json.loads(cli("train", "--resume", "r", "--max-steps", "170", "--quiet", "--format", "json").out)
    assert resumed["steps"] == 170
    # the whole run's rate, as its seconds are (it counted the resumed steps only, over the whole run's time)
    assert resumed["tokens_per_s"] == pytest.approx(170 * 32 * 32 / resumed["seconds"], rel=1e-6)
    both = json.loads(cli("train", corpus, *small, "--max-steps", "60", "--epochs", "2", "--out", "b").out)
    assert both["stopped_by"] == "epochs" and both["steps"] < 60


def test_the_summary_says_its_figures_are_the_best_weights_when_they_are_not_the_last(cli, corpus, monkeypatch,
                                                                                         tmp_path):
    """The figures are scored on the saved (best) weights: a summary after later, worse validations says from
    which step they are; the step is kept across --resume."""
    from lstmtext.tasks import LMTask

    with monkeypatch.context() as patch:
        patch.setattr(LMTask, "better", staticmethod(lambda new, best: best is None))  # only the first is best
        result = cli("train", corpus, *TINY[:-1], "--max-steps", "30", "--out", "r")
        assert result.code == 0, result.err
        assert "training summary of the best weights, from step 10 of 30" in result.out
        resumed = cli("train", "--resume", "r", "--max-steps", "40", "--format", "json", "--quiet")
        assert json.loads(resumed.out)["best_step"] == 10
    plain = cli("train", corpus, *TINY[:-1], "--max-steps", "20", "--eval-every", "20", "--out", "p")
    assert "training summary\n" in plain.out


def test_train_jsonl_logs_the_training_loss_and_a_resume_logs_its_steps_once(cli, corpus, tmp_path):
    """metrics.jsonl holds validations only: train.jsonl has each --log-every window's training loss, rate and
    speed. Steps trained after the last save are trained again on --resume, and logged once."""
    small = ["--hidden-size", "16", "--layers", "1", "--seq-len", "32", "--batch-size", "8", "--eval-every", "0",
             "--log-every", "5", "--quiet"]
    assert cli("train", corpus, *small, "--max-steps", "20", "--out", "r").code == 0
    log = [json.loads(line) for line in (tmp_path / "r" / "train.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [5, 10, 15, 20]
    assert all(r["loss"] > 0 and r["lr"] > 0 and r["tokens_per_s"] > 0 for r in log)
    # as a run killed at step 20 after saving at step 10 leaves it (a torn last line too)
    state = json.loads((tmp_path / "r" / "state.json").read_text())
    assert state["step"] == 20
    with (tmp_path / "r" / "train.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": 25, "loss": 9.0}) + "\n" + '{"step": 30, "lo')
    assert cli("train", "--resume", "r", "--max-steps", "30", "--quiet").code == 0
    steps = [json.loads(line)["step"] for line in (tmp_path / "r" / "train.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20, 25, 30]
    assert json.loads((tmp_path / "r" / "train.jsonl").read_text().splitlines()[4])["loss"] != 9.0
    assert cli("train", corpus, *small, "--max-steps", "5", "--out", "r", "--overwrite").code == 0
    assert len((tmp_path / "r" / "train.jsonl").read_text().splitlines()) == 1  # a new run, a new log


def test_a_diverged_run_is_warned_of_and_a_sampled_train_row_is_named(cli, tmp_path):
    """A train loss above a uniform guess's is no success; the summary's train row of a large corpus is a sample,
    and says so (evaluate --split train scores it whole)."""
    text = "".join(f"line {i} of a corpus with {i % 97} words and more text in it\n" for i in range(5000))
    (tmp_path / "big.txt").write_text(text, encoding="utf-8")
    fine = cli("train", "big.txt", *TINY, "--max-steps", "3", "--out", "fine")
    assert fine.code == 0, fine.err
    assert "train (its first 200,000 of" in fine.out and "diverged" not in fine.err
    assert "s scoring the splits" in fine.out
    wild = cli("train", "big.txt", *TINY, "--max-steps", "20", "--lr", "60", "--clip", "0", "--out", "wild")
    assert wild.code == 0, wild.err
    assert "warning: training diverged: the train loss ended at" in wild.err and "lower --lr (it was 60)" in wild.err


def test_patience_without_a_valid_split_does_not_stop_the_run(cli, corpus):
    result = cli("train", corpus, *TINY, "--max-steps", "30", "--eval-every", "5", "--patience", "2",
                 "--valid-fraction", "0", "--test-fraction", "0", "--out", "nov", "--format", "json")
    assert result.code == 0, result.err
    assert "--patience cannot act" in result.err
    summary = json.loads(result.out)
    assert summary["steps"] == 30 and summary.get("stopped_by") != "early stopping", summary


def test_run_advice_names_what_the_settings_will_not_do():
    from types import SimpleNamespace

    from lstmtext.config import ModelConfig, TrainConfig
    from lstmtext.training import run_advice

    def advice(valid_tokens=1000, parameters=10_000, steps=500, eval_every=100, **train):
        prepared = SimpleNamespace(meta={"splits": {"train": {"tokens": 3000}, "valid": {"tokens": valid_tokens}}})
        return " | ".join(f"{kind}: {text}" for kind, text in run_advice(
            ModelConfig(task="lm"), TrainConfig(**train), prepared, parameters, steps, 10, eval_every))

    assert advice(epochs=50) == ""
    assert "warning: the model has 1,000,000 parameters for 3,000 training tokens" in advice(parameters=1_000_000)
    assert "note: the whole run is 30 steps (10 an epoch)" in advice(steps=30, epochs=3)
    assert advice(steps=30, max_steps=30) == ""  # steps asked for are no surprise
    assert "--ema 0.999 averages over about 1,000 steps, more than the run's 500" in advice(ema=0.999)
    assert advice(ema=0.99) == ""
    assert "warning: --freeze-epochs 50 keeps the pretrained layers frozen for the whole run (50 epochs)" in advice(
        freeze_epochs=50)
    assert advice(freeze_epochs=49) == ""
    prepared = SimpleNamespace(meta={"splits": {"train": {"tokens": 3000}, "valid": {"tokens": 1000, "unk": 470}}})
    unknown = run_advice(ModelConfig(task="lm"), TrainConfig(epochs=50), prepared, 10_000, 500, 10, 100)
    assert unknown == [("warning", "47% of the valid split's tokens are <unk> (words the vocabulary lacks), which are "
                                   "easy to predict: the figures flatter the model; a subword level (--level subword) "
                                   "reads every word")]
    lost = advice(valid_tokens=0, patience=3, schedule="plateau", optimizer="asgd")
    assert "no valid split, so --patience and the plateau schedule and ASGD's switch to averaging cannot act" in lost
    assert "--patience 3 cannot act: the run validates only at its end" in advice(patience=3, eval_every=1000)


def test_a_run_early_stopping_ended_is_finished_unless_given_more_and_then_counts_patience_afresh(
        cli, corpus, monkeypatch):
    from lstmtext.tasks import LMTask

    monkeypatch.setattr(LMTask, "better", staticmethod(lambda new, best: best is None))  # only the first improves
    tiny = [*TINY[:-1], "--eval-every", "2", "--patience", "2"]  # (not --quiet: the notes are read)
    first = cli("train", corpus, *tiny, "--epochs", "50", "--out", "es", "--format", "json")
    assert first.code == 0 and json.loads(first.out)["steps"] == 6, first.err  # validations at 2 (best), 4, 6
    assert_one_line_error(cli("train", "--resume", "es"), 1, "es was stopped by early stopping at step 6",
                          "for 2 validations", "its best weights are step 2's", "patience counts afresh")
    more = cli("train", "--resume", "es", "--max-steps", "100", "--format", "json")
    assert more.code == 0, more.err
    summary = json.loads(more.out)
    assert summary["steps"] == 10 and summary["stopped_by"] == "early stopping", summary  # 8 and 10 do not improve
    assert "laid out again" in more.err
    patient = cli("train", "--resume", "es", "--patience", "3", "--format", "json")  # more patience: on it goes
    assert patient.code == 0 and json.loads(patient.out)["steps"] == 16, patient.err  # 12, 14, 16 no better


def test_resume_with_epochs_alone_is_not_capped_by_the_runs_max_steps(cli, corpus):
    assert cli("train", corpus, *TINY, "--max-steps", "4", "--out", "s").code == 0
    resumed = cli("train", "--resume", "s", "--epochs", "0.2", "--format", "json")
    assert resumed.code == 0, resumed.err
    summary = json.loads(resumed.out)
    assert summary["steps"] > 4 and abs(summary["epochs"] - 0.2) < 0.05, summary
    refused = cli("train", "--resume", "s", "--max-steps", "3")
    assert_one_line_error(refused, 1, "more than --max-steps 3 allows")
    assert "laid out again" not in refused.err  # no note on a schedule that will not run


def test_validation_lines_say_when_the_plateau_schedule_cuts_the_rate_and_when_asgd_starts_averaging(
        cli, corpus, monkeypatch):
    from lstmtext.tasks import LMTask
    from tests.conftest import average_from_the_first_evaluation

    real = LMTask.evaluate

    def stalled(self, model, split, amp, max_tokens=None):  # validation never improves on its first figure
        figures = real(self, model, split, amp, max_tokens)
        return {**figures, "loss": 5.0} if split == "valid" and figures else figures

    monkeypatch.setattr(LMTask, "evaluate", stalled)
    tiny = [*TINY[:-1], "--eval-every", "2", "--max-steps", "8"]  # (not --quiet: the notes are read)
    plateau = cli("train", corpus, *tiny, "--schedule", "plateau", "--optimizer", "sgd", "--lr", "1", "--out", "p")
    assert plateau.code == 0, plateau.err
    assert "validation stalled, so the plateau schedule cuts the learning rate to 0.25" in plateau.err, plateau.err
    average_from_the_first_evaluation(monkeypatch)
    asgd = cli("train", corpus, *tiny, "--optimizer", "asgd", "--lr", "1", "--out", "a")
    assert asgd.code == 0, asgd.err
    lines = [line for line in asgd.err.splitlines() if line.startswith("step ")]
    assert "validation stalled: averaging the weights from here (ASGD)" in lines[0], lines
    assert not any("averaging the weights from here" in line for line in lines[1:]), lines
