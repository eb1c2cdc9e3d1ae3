"""Long work shows a bar with its count, rate and ETA on a terminal: training, tokenizing, classifying, evaluating
and a distilled run's teachers labelling its training texts."""

import json
import re

import pytest
from rich.console import Console

from tests.conftest import SMALL_TEXT, TALES
from tests.test_classify import separable_rows, write_tsv

CLASSIFIER = ["--task", "classify", "--hidden-size", "32", "--epochs", "2", "--device", "cpu"]


@pytest.fixture
def terminal(monkeypatch):
    """stderr as a 200-column terminal, so that rich draws its bars (a pipe gets none)."""
    from lstmtext import render

    monkeypatch.setattr(render, "err", Console(stderr=True, force_terminal=True, width=200, soft_wrap=True))


def plain(text):
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_training_draws_a_bar_with_rate_and_eta(cli, tmp_path, terminal):
    (tmp_path / "small.txt").write_text(SMALL_TEXT * 40, encoding="utf-8")
    result = cli("train", "small.txt", "--hidden-size", "32", "--seq-len", "32", "--batch-size", "8", "--max-steps",
                 "30", "--eval-every", "10", "--log-every", "5", "--device", "cpu", "--out", "run")
    assert result.code == 0, result.err
    err = plain(result.err)
    assert re.search(r"train .*30/30 .*tok/s .*ETA", err), err[-2000:]
    assert "tokenize train" in err


def test_tokenizing_text_shows_the_share_read_and_the_rate_in_bytes(cli, tmp_path, terminal):
    (tmp_path / "big.txt").write_text(SMALL_TEXT * 12_000, encoding="utf-8")  # 2.9 MB: read in three chunks
    result = cli("tokenize", "big.txt", "--level", "char", "--out", "prep")
    assert result.code == 0, result.err
    assert re.search(r"tokenize train .*100% .*B/s .*ETA", plain(result.err)), result.err[-2000:]


def test_tokenizing_a_table_counts_its_records(cli, tmp_path, terminal, monkeypatch):
    from lstmtext import encode

    monkeypatch.setattr(encode, "RECORDS_EVERY", 16)  # several reports even for a small table
    write_tsv(tmp_path / "topics.tsv", separable_rows(400))
    result = cli("tokenize", "topics.tsv", "--task", "classify", "--out", "prep")
    assert result.code == 0, result.err
    train = json.loads((tmp_path / "prep" / "meta.json").read_text())["splits"]["train"]["texts"]
    assert re.search(rf"tokenize train .* {train:,} records .*records/s", plain(result.err)), result.err[-2000:]
    lines = [line for line in plain(result.err).splitlines() if f"{train:,} records" in line]
    assert lines and not any("ETA" in line or "-:--:--" in line for line in lines), lines  # no total: no estimate


def test_building_a_subword_vocabulary_has_a_bar_of_its_own(cli, tmp_path, terminal):
    (tmp_path / "t.txt").write_text(SMALL_TEXT * 40, encoding="utf-8")
    result = cli("tokenize", "t.txt", "--level", "unigram", "--vocab-size", "60", "--out", "prep")
    assert result.code == 0, result.err
    err = plain(result.err)
    assert re.search(r"build the unigram vocabulary .*\d:\d\d:\d\d", err), err[-2000:]
    assert err.index("build the unigram vocabulary") < err.index("tokenize train")


def test_classify_and_evaluate_count_the_texts_each_run_reads(cli, tmp_path, terminal):
    write_tsv(tmp_path / "topics.tsv", separable_rows())
    assert cli("train", "topics.tsv", *CLASSIFIER, "--quiet", "--out", "clf").code == 0
    (tmp_path / "texts.txt").write_text("\n".join(text for text, _ in separable_rows(30, seed=5)), encoding="utf-8")
    result = cli("classify", "clf", "--file", "texts.txt", "--batch-size", "4", "--format", "jsonl")
    assert result.code == 0, result.err
    assert len(result.out.splitlines()) == 30  # the bar is on stderr: stdout holds the rows alone
    assert re.search(r"classify .*30/30 .*texts/s .*ETA", plain(result.err)), result.err[-2000:]
    assert cli("train", "topics.tsv", *CLASSIFIER, "--seed", "2", "--quiet", "--out", "clf2").code == 0
    ensemble = cli("evaluate", "clf", "topics.tsv", "--ensemble", "clf2", "--format", "json")
    assert ensemble.code == 0, ensemble.err
    texts = sum(row["support"] for row in json.loads(ensemble.out)["per_class"])
    assert re.search(rf"evaluate .*{2 * texts}/{2 * texts} .*texts/s", plain(ensemble.err)), ensemble.err[-2000:]


def test_evaluating_a_language_model_counts_tokens(cli, tiny_lm, terminal):
    run, _ = tiny_lm
    result = cli("evaluate", run, str(TALES), "--format", "json")
    assert result.code == 0, result.err
    assert re.search(r"evaluate .*tokens/s .*ETA", plain(result.err)), result.err[-2000:]


def test_a_distilled_runs_teachers_label_its_training_texts_on_a_bar(cli, tmp_path, terminal):
    write_tsv(tmp_path / "topics.tsv", separable_rows())
    assert cli("train", "topics.tsv", *CLASSIFIER, "--quiet", "--out", "teacher").code == 0
    assert cli("train", "topics.tsv", *CLASSIFIER, "--seed", "2", "--quiet", "--out", "teacher2").code == 0
    result = cli("train", "topics.tsv", *CLASSIFIER, "--distill-from", "teacher", "--distill-from", "teacher2",
                 "--out", "student")
    assert result.code == 0, result.err
    err = plain(result.err)
    train_texts = int(re.search(r"label the ([\d,]+) training texts first", err).group(1).replace(",", ""))
    assert re.search(rf"teachers label .*{2 * train_texts}/{2 * train_texts} .*texts/s", err), err[-2000:]
    quiet = cli("train", "topics.tsv", *CLASSIFIER, "--distill-from", "teacher", "--quiet", "--out", "student2")
    assert quiet.code == 0 and "teachers label" not in quiet.err


def test_generating_samples_together_counts_their_tokens(cli, tiny_lm, terminal):
    run, _ = tiny_lm
    result = cli("generate", run, "--length", "70", "--num-samples", "3", "--device", "cpu")
    assert result.code == 0, result.err
    assert result.out.count("--- sample") == 3
    assert re.search(r"generate .*210/210 .*tokens/s .*ETA", plain(result.err)), result.err[-2000:]


def test_sample_tells_its_bar_of_every_token_in_batches_of_steps(tiny_lm):
    import torch

    from lstmtext.checkpoint import load_checkpoint
    from lstmtext.config import SampleSettings
    from lstmtext.sampling import COUNT_EVERY, sample

    ckpt = load_checkpoint(tiny_lm[0], "cpu")
    counts = []
    length = 2 * COUNT_EVERY + 5
    rows = sample(ckpt.model, ckpt.tokenizer, "The", SampleSettings(length=length, num_samples=2), torch.device("cpu"),
                  done=counts.append)
    assert [len(r) for r in rows] == [length, length]
    assert counts == [2 * COUNT_EVERY, 2 * COUNT_EVERY, 2 * 5]


@pytest.mark.parametrize("width", [80, 60])
def test_a_narrow_terminal_keeps_the_figures_whole(monkeypatch, width):
    """rich ellipsises every column that may wrap when a bar is wider than the terminal ('395/31…'): the count,
    loss, rate and times stay whole and the bar gives way; under 80 columns the bar, the learning rate and the
    elapsed time are left out, and the rest still fits in 60."""
    from lstmtext import render

    console = Console(stderr=True, force_terminal=True, width=width, color_system=None)
    monkeypatch.setattr(render, "err", console)
    events = render.TrainProgress(quiet=False)
    events.progress.live.auto_refresh = False
    with console.capture() as captured:
        events.start({"device": "cpu", "precision": "fp32", "parameters": 1, "steps": 31_500, "steps_per_epoch": 210,
                      "run_dir": "run"})
        events.step({"step": 12_345, "loss": 5.8771, "lr": 2.92e-3, "tokens_per_s": 28_400})
        console.print(events.progress.make_tasks_table(events.progress.tasks))
        events.end({})
    shown = plain(captured.get())
    line = next((ln for ln in shown.splitlines() if "12345/" in ln), shown)
    assert "…" not in line and len(line) <= width, line
    if width == 80:
        assert re.search(r"train ━.* 12345/31500 loss 5\.877 lr 2\.92e-03 28\.4k tok/s \d:\d\d:\d\d ETA ", line), line
    else:
        assert re.search(r"train 12345/31500 loss 5\.877 28\.4k tok/s ETA [-\d]:[-\d]{2}:[-\d]{2}$", line), line


def test_a_perplexity_past_a_million_is_shown_in_powers_of_ten():
    from lstmtext.render import figures_text, perplexity_text, summary_table

    assert perplexity_text(75.904) == "75.90" and perplexity_text(485_165_195.4) == "4.85e+08"
    assert perplexity_text(float("inf")) == "inf"
    console = Console(width=100, color_system=None)
    with console.capture() as captured:
        console.print(summary_table({"task": "lm", "figures": {"valid": {"loss": 20.0, "ppl": 4.85e8, "bpc": 28.9}}}))
    assert "4.85e+08" in captured.get() and "485165195" not in captured.get()
    assert figures_text({"ppl": 1e12}) == "perplexity 1e+12"


def test_a_bars_total_is_the_size_of_the_part_it_reads(tmp_path):
    """A split held out of a table is a share of its files' bytes (not all of them), and a text read whole is
    counted in UTF-8 bytes, as the tokenizing loop counts what it has done."""
    from lstmtext.corpus import MemorySplit, open_corpus

    path = tmp_path / "notes.csv"
    path.write_text("text\n" + "".join(f"note number {i} of the table\n" for i in range(1000)), encoding="utf-8")
    corpus = open_corpus(path, task="lm", valid_fraction=0.1, test_fraction=0.2)
    size = path.stat().st_size
    parts = {s: split.num_bytes() for s, split in corpus.splits.items()}
    assert parts["valid"] == pytest.approx(0.1 * size, rel=0.01)
    assert parts["test"] == pytest.approx(0.2 * size, rel=0.01)
    assert sum(parts.values()) == pytest.approx(size, rel=0.01)
    assert MemorySplit(["唐诗", "ab"]).num_bytes() == 8


def test_the_eta_shows_when_each_window_of_steps_takes_over_half_a_minute(monkeypatch):
    """The bar moves every --log-every steps; rich estimated its rate over the last 30 s only, which held fewer
    than the two moves an estimate needs once a window took longer (a large model on a CPU): the ETA stayed blank."""
    from lstmtext import render

    console = Console(stderr=True, force_terminal=True, width=100, color_system=None)
    monkeypatch.setattr(render, "err", console)
    events = render.TrainProgress(quiet=False)
    events.progress.live.auto_refresh = False
    now = [0.0]
    events.progress.get_time = lambda: now[0]
    with console.capture():
        events.start({"device": "cpu", "precision": "fp32", "parameters": 1, "steps": 100, "steps_per_epoch": 100,
                      "run_dir": "run"})
        for step in (20, 40, 60):
            now[0] += 45.0  # 20 steps in 45 s
            events.step({"step": step, "loss": 3.0, "lr": 1e-3, "tokens_per_s": 100})
        task = events.progress.tasks[0]
        assert task.time_remaining == pytest.approx(40 * 45 / 20, rel=0.01)
        events.end({})


def test_a_classifier_loss_near_zero_keeps_its_figures():
    from lstmtext.render import figures_text, loss_text

    assert [loss_text(v) for v in (0.49432, 3.41e-5, 0.0, 4.2)] == ["0.4943", "3.41e-05", "0.0000", "4.2000"]
    assert figures_text({"loss": 2.5e-4, "accuracy": 1.0}) == "loss 2.50e-04, accuracy 100.00%"


def test_the_eta_of_a_run_with_a_time_limit_is_never_past_the_limit():
    from rich.progress import Progress, TimeRemainingColumn

    from lstmtext.render import DeadlineRemaining

    now = [100.0]
    progress = Progress(get_time=lambda: now[0], speed_estimate_period=3600.0)
    slow = progress.add_task("train", total=1000, deadline=100.0 + 120)  # 10 steps in 10 s: 990 s to go by steps
    fast = progress.add_task("train", total=1000, deadline=100.0 + 5_000)
    for now[0], done in ((101.0, 1), (110.0, 10)):  # rich's rate needs two moves of the bar
        for task in (slow, fast):
            progress.update(task, completed=done)
    column = DeadlineRemaining()
    assert column.render(progress.tasks[slow]).plain == "0:01:50"  # the limit's 110 s left, not hours
    rich = TimeRemainingColumn().render(progress.tasks[fast]).plain
    assert column.render(progress.tasks[fast]).plain == rich != "-:--:--"  # the steps end first: rich's own ETA
    now[0] = 500.0
    assert column.render(progress.tasks[slow]).plain == "0:00:00"
