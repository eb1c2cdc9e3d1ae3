"""The benchmark suite: `python bench/run.py [--device cpu|cuda] [--quick]`.

Every speed figure is a ratio against a reference measured in the same run, on the same machine,
with the same shapes. Prints one rich table and writes bench/results/<device>-<date>.json.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.classic import classic_tokens_per_s  # noqa: E402
from bench.harness import (SHARED, Row, busy_warning, device_error, load_average, median_time,  # noqa: E402
                           results_document, write_results)
from lstmtext.adaptive import default_cutoffs, frequency_order  # noqa: E402
from lstmtext.config import ModelConfig, TrainConfig  # noqa: E402
from lstmtext.batches import TextBatches  # noqa: E402
from lstmtext.data import Prepared  # noqa: E402
from lstmtext.models import Classifier, LanguageModel  # noqa: E402
from lstmtext.tasks import ClassifyTask, LMTask  # noqa: E402
from lstmtext.graphs import WARMUP, graph_blocker  # noqa: E402
from lstmtext.optim import adamw, make_optimizer, make_schedule  # noqa: E402
from lstmtext.devices import autocast_dtype, autocast_for, keep_freed_memory, precision_name  # noqa: E402
from lstmtext.training import step_runner  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# name: (vocab, embed=hidden, layers, seq_len, batch); GPU shapes from the issue, CPU quick ones scaled down.
SHAPES = {"char 3x512": (65, 512, 3, 256, 64), "word 2x650 b20": (10_000, 650, 2, 35, 20),
          "word 2x650 b128": (10_000, 650, 2, 35, 128)}
QUICK_SHAPES = {"char 2x256": (65, 256, 2, 128, 32), "word 2x200 b20": (10_000, 200, 2, 35, 20)}
# --adaptive-softmax against the full softmax, on Zipf-distributed words: PTB's vocabulary and WikiText-2's
ADAPTIVE_SHAPES = {"word 2x650 b20": (10_000, 650, 2, 35, 20), "word 2x650 33k b20": (33_278, 650, 2, 35, 20),
                   "word 2x650 33k b128": (33_278, 650, 2, 35, 128)}
QUICK_ADAPTIVE_SHAPES = {"word 2x200 b20": (10_000, 200, 2, 35, 20), "word 2x200 33k b20": (33_278, 200, 2, 35, 20)}
KERNEL_TARGET_SHAPES = {"char 3x512", "word 2x650 b128"}


def sync_for(device: torch.device):
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def synthetic_prepared(folder: Path, vocab: int, n_tokens: int, seed: int = 0, zipf: bool = False) -> Prepared:
    """A prepared folder of random token ids (a full softmax's speed does not depend on the text). ``zipf``:
    drawn as words occur in text, the k-th most frequent with probability proportional to 1/k (the ids in
    a random order), for an adaptive softmax, whose work depends on how many positions reach each cluster."""
    import json

    from lstmtext.tokenizers import WordTokenizer, save_tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    tok = WordTokenizer([f"w{i}" for i in range(vocab - 3)])
    rng = np.random.default_rng(seed)
    if zipf:
        ids, weights = rng.permutation(np.arange(3, vocab)), 1.0 / np.arange(1, vocab - 2)
    splits = {}
    for split, n in (("train", n_tokens), ("valid", 4096), ("test", 4096)):
        drawn = ids[rng.choice(vocab - 3, n, p=weights / weights.sum())] if zipf else rng.integers(3, vocab, n)
        drawn.astype(np.uint16).tofile(folder / f"{split}.bin")
        splits[split] = {"chars": n * 5, "tokens": n, "unk": 0}
    save_tokenizer(tok, folder / "tokenizer.json")
    (folder / "meta.json").write_text(json.dumps({
        "format_version": 1, "task": "lm", "source": "synthetic", "source_hash": "synthetic",
        "tokenizer": {"level": "word"}, "vocab_size": tok.vocab_size, "dtype": "uint16", "splits": splits,
        "labels": None}))
    return Prepared.open(folder)


def lm_step(prepared: Prepared, shape: tuple, device: torch.device, precision: str = "auto",
            cuda_graphs: bool = True, cutoffs: tuple[int, ...] = ()):
    """lstmtext's own training step as a callable, as `lstmtext train` runs it: memmap slicing,
    forward, loss, backward, clipping, AdamW, the schedule's update and the loss kept on the device
    (all replayed as one CUDA graph on a GPU unless ``cuda_graphs`` is off). ``cutoffs``: with
    `--adaptive-softmax --cutoffs` these."""
    vocab, hidden, layers, seq, batch = shape
    cfg = TrainConfig(seq_len=seq, batch_size=batch, device=str(device), precision=precision)
    size = prepared.tokenizer.vocab_size
    model = LanguageModel(ModelConfig(vocab_size=size, embed_dim=hidden, hidden_size=hidden, layers=layers,
                                      dropout=0.2, cutoffs=list(cutoffs)))
    if cutoffs:
        model.adaptive.set_order(frequency_order(prepared.tokens("train"), size))
    model = model.to(device).train()
    task = LMTask(prepared, cfg, device)
    dtype = autocast_dtype(precision, device)
    graphed = graph_blocker(cfg.optimizer, device, dtype, "stop", cuda_graphs) is None
    opt = make_optimizer(model, cfg, device, capturable=graphed)
    schedule = make_schedule(opt, cfg, 10**6)
    run_step = step_runner(task, model, opt, torch.amp.GradScaler(device.type, enabled=False), cfg, dtype,
                           graphed, "stop")
    losses = torch.zeros(cfg.log_every, device=device)
    counter = iter(range(10**9))

    def step():
        i = next(counter)
        loss = run_step(i)
        schedule.step()
        losses[i % cfg.log_every] = loss.detach()

    return step


def lm_step_throughput(prepared: Prepared, shape: tuple, device: torch.device, steps: int,
                       precision: str = "auto", cuda_graphs: bool = True, cutoffs: tuple[int, ...] = ()) -> float:
    """Tokens/s of lstmtext's own training step (past the CUDA graph's warm-up and capture)."""
    batch, seq = shape[4], shape[3]
    step = lm_step(prepared, shape, device, precision, cuda_graphs, cutoffs)
    return batch * seq / median_time(step, warmup=WARMUP + 2, reps=steps, sync=sync_for(device))


def kernel_throughput(shape: tuple, device: torch.device, steps: int, precision: str = "auto",
                      graphed: bool = False) -> float:
    """Tokens/s of a bare nn.LSTM forward+backward of the same shape and precision: the kernel limit.
    ``graphed`` (CUDA): the same, captured once as a CUDA graph and replayed."""
    vocab, hidden, layers, seq, batch = shape
    lstm = torch.nn.LSTM(hidden, hidden, layers, batch_first=True, dropout=0.2 if layers > 1 else 0.0)
    lstm = lstm.to(device).train()
    x = torch.randn(batch, seq, hidden, device=device)
    grad = torch.randn(batch, seq, hidden, device=device)
    amp = autocast_for(autocast_dtype(precision, device), device)

    def step():
        with amp:
            out, _ = lstm(x)
        out.backward(grad.to(out.dtype))

    if graphed:
        step = captured(step)
    return batch * seq / median_time(step, warmup=2, reps=steps, sync=sync_for(device))


def captured(fn):
    """``fn`` captured as a CUDA graph (after warm-up calls on a side stream); returns its replay."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def classifier_records(source: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, str]:
    """Word-level training records (tokens, offsets, labels) of an SST-2 folder, else a synthetic stand-in."""
    from lstmtext.config import TokenizerSpec
    from lstmtext.corpus import open_corpus
    from lstmtext.data import ensure_prepared

    if not source.exists():  # a synthetic length distribution shaped like SST-2 sentences
        rng = np.random.default_rng(0)
        lengths = np.clip(rng.lognormal(2.9, 0.5, 6920).astype(int), 2, 60)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        return rng.integers(3, 15_000, offsets[-1]), offsets, rng.integers(0, 2, len(lengths)), 15_000, "synthetic"
    with tempfile.TemporaryDirectory() as tmp:
        ensure_prepared(open_corpus(source, task="classify"), TokenizerSpec(level="word", lowercase=True),
                        Path(tmp) / "p", task="classify")
        tokens, offsets, labels = Prepared.open(Path(tmp) / "p").records("train")
        tokens, offsets, labels = np.asarray(tokens), np.asarray(offsets), np.asarray(labels)
    return tokens, offsets, labels, int(tokens.max()) + 1, str(source)


def classifier_epoch_seconds(device: torch.device, quick: bool, source: Path) -> tuple[float, float, dict]:
    """One training epoch with length-bucketed batches vs random pad-to-longest batches, on ``source``'s
    training texts (the first 3,000 with ``quick``)."""
    tokens, offsets, labels, vocab, origin = classifier_records(source)
    limit = min(3000, len(labels)) if quick else len(labels)
    offsets, labels = offsets[: limit + 1], labels[:limit]

    cfg = ModelConfig(task="classify", vocab_size=vocab, embed_dim=128, hidden_size=128, layers=1,
                      bidirectional=True, pooling="mean", num_classes=2, dropout=0.3)
    dtype = autocast_dtype("auto", device)  # lstmtext's default precision, for every mode alike
    amp = autocast_for(dtype, device)
    modes = ["bucketed", "naive", "packed", "recipe_bucketed"] + (["bucketed_eager"] if device.type == "cuda" else [])
    epochs = {}
    for mode in modes:
        torch.manual_seed(0)
        model = Classifier(cfg).to(device).train()
        batches = TextBatches(tokens, offsets, labels, 32, 256, bucket=mode != "naive")
        if mode.startswith("bucketed"):  # lstmtext's own step, as `lstmtext train` runs it
            step = classifier_step(model, batches, device, dtype, graphed=mode == "bucketed")
        else:  # the usual recipe: one bidirectional nn.LSTM over padded batches (naive: random, recipe_bucketed:
            # lstmtext's length buckets, to tell bucketing's gain from the step's), or packed ones (packed)
            step = recipe_step(model, batches, device, amp, packed=mode == "packed")
        epochs[mode] = timed_epochs(step, batches, device)
        next(epochs[mode])  # warm-up: kernel choices, caches and CUDA graphs for each batch shape, as in any run
    # A shared CPU's speed drifts by 10-20% within a minute, so there the modes' epochs take turns
    # and each mode keeps its best.
    rounds = 3 if device.type == "cpu" else 1
    results = dict.fromkeys(modes, math.inf)
    for _ in range(rounds):
        for mode in modes:
            results[mode] = min(results[mode], next(epochs[mode]))
    info = {"texts": limit, "source": origin, "tokens": int(offsets[-1] - offsets[0]),
            "padded_tokens_bucketed": padded_tokens(TextBatches(tokens, offsets, labels, 32, 256)),
            "padded_tokens_naive": padded_tokens(TextBatches(tokens, offsets, labels, 32, 256, bucket=False)),
            "bucketed_packed_seconds": round(results["packed"], 3),
            "recipe_bucketed_seconds": round(results["recipe_bucketed"], 3),
            "recipe_bucketing_ratio": round(results["naive"] / results["recipe_bucketed"], 3),
            "precision": precision_name(dtype),
            "timed_epoch": f"best of {rounds}, the modes taking turns, after one warm-up epoch each"}
    if "bucketed_eager" in results:
        info["bucketed_eager_seconds"] = round(results["bucketed_eager"], 3)
    return results["bucketed"], results["naive"], info


def padded_tokens(batches: TextBatches, seed: int = 0) -> int:
    """Tokens one epoch of ``batches`` runs the LSTM over, padding included."""
    batches.shuffle(seed)
    return int(sum(len(rows) * batches.lengths[rows].max() for rows in batches.order))


def timed_epochs(step, batches: TextBatches, device: torch.device):
    """Seconds per epoch, one epoch per ``next``, each in a freshly shuffled order."""
    counter, seed = iter(range(10**9)), 0
    while True:
        batches.shuffle(seed)
        start = time.perf_counter()
        for _ in range(len(batches)):
            step(next(counter))
        sync_for(device)()
        yield time.perf_counter() - start
        seed += 1


def classifier_step(model: Classifier, batches: TextBatches, device: torch.device, dtype: torch.dtype | None,
                    graphed: bool):
    """lstmtext's classifier training step (buffered, and a CUDA graph per batch shape where ``graphed``)."""
    cfg = TrainConfig(lr=2e-3, device=str(device))
    graphed = graphed and graph_blocker("adamw", device, dtype, "stop", True) is None
    opt = make_optimizer(model, cfg, device, capturable=graphed)
    task = ArrayClassifyTask(batches, cfg, device)
    return step_runner(task, model, opt, torch.amp.GradScaler(device.type, enabled=False), cfg, dtype, graphed,
                       "stop")


class ArrayClassifyTask(ClassifyTask):
    """lstmtext's classifier task over batches made from arrays, in the order the caller shuffled."""

    def __init__(self, batches: TextBatches, cfg: TrainConfig, device: torch.device) -> None:
        self.train, self.cfg, self.device, self.weights, self.epoch = batches, cfg, device, None, -1

    def batch(self, step: int, model: torch.nn.Module):
        return (*self.train.get(step % len(self.train)), None)  # no teachers' targets


def recipe_step(model: Classifier, batches: TextBatches, device: torch.device, amp, packed: bool):
    """The usual recipe's step: one bidirectional nn.LSTM over padded (or packed) batches."""
    lstm = torch.nn.LSTM(model.cfg.embed_dim, model.cfg.hidden_size, batch_first=True, bidirectional=True).to(device)
    opt = adamw([*model.embedding.parameters(), *model.head.parameters(), *lstm.parameters()], 2e-3, device)

    def step(i: int) -> None:
        x, lengths, y = batches.get(i % len(batches))
        xt, yt, lt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device), torch.from_numpy(lengths)
        with amp:
            emb = model.drop(model.embedding(xt))
            if packed:
                seq = torch.nn.utils.rnn.pack_padded_sequence(emb, lt, batch_first=True, enforce_sorted=False)
                out = torch.nn.utils.rnn.pad_packed_sequence(lstm(seq)[0], batch_first=True,
                                                             total_length=xt.shape[1])[0]
            else:
                out = lstm(emb)[0]
            mask = (torch.arange(xt.shape[1], device=device)[None] < lt.to(device)[:, None])
            logits = model.head(model.drop((out * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)))
        loss = torch.nn.functional.cross_entropy(logits.float(), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def generation_figures(device: torch.device, quick: bool) -> tuple[float, float, dict]:
    """Tokens/s sampling 1 and 64 rows, as `lstmtext generate` runs (on CUDA: the one-token step
    replayed as a CUDA graph), and on CUDA the same without the graph."""
    from lstmtext.sampling import SampleSettings, sample
    from lstmtext.tokenizers import CharTokenizer

    hidden = 256 if quick else 512
    tok = CharTokenizer([chr(c) for c in range(32, 97)])
    model = LanguageModel(ModelConfig(vocab_size=tok.vocab_size, embed_dim=hidden, hidden_size=hidden,
                                      layers=2, dropout=0.0)).to(device).eval()
    length = 100 if quick else 300
    rate, info = {}, {}
    for graphed in ((True, False) if device.type == "cuda" else (False,)):
        for n in (1, 64):
            settings, report = SampleSettings(length=length, num_samples=n, temperature=1.0), {}
            seconds = median_time(lambda: sample(model, tok, "the ", settings, device, cuda_graph=graphed,
                                                 report=report), 1, 3, sync_for(device))
            rate[graphed, n] = n * length / seconds
            info[f"decode_{'graph' if graphed else 'eager'}_{n}"] = report["decode"]
    default = device.type == "cuda"
    info["latency_ms_per_token_batch1"] = round(1000 / rate[default, 1], 4)
    if default:
        info["eager_tokens_per_s_batch1"] = round(rate[False, 1])
        info["eager_tokens_per_s_batch64"] = round(rate[False, 64])
        info["graph_speedup_batch1"] = round(rate[True, 1] / rate[False, 1], 3)
        info["graph_speedup_batch64"] = round(rate[True, 64] / rate[False, 64], 3)
    return rate[default, 1], rate[default, 64], info


def tokenize_mb_per_s(quick: bool) -> dict[str, float]:
    from lstmtext.config import TokenizerSpec
    from lstmtext.corpus import open_corpus
    from lstmtext.tokenizers import build_tokenizer

    seed_file = SHARED / "tinyshakespeare" / "input.txt"
    if not seed_file.exists():
        seed_file = ROOT / "corpora" / "tales.txt"
    text = seed_file.read_text(encoding="utf-8")
    target = (8 if quick else 100) * 1_000_000
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.txt"
        with big.open("w", encoding="utf-8") as fh:
            written = 0
            while written < target:
                fh.write(text)
                written += len(text.encode("utf-8"))
        size = big.stat().st_size
        for level, spec in (("char", TokenizerSpec(level="char")), ("word", TokenizerSpec(level="word")),
                            ("bpe", TokenizerSpec(level="bpe", vocab_size=2000))):
            tok = build_tokenizer([text[:1_000_000]], spec)
            split = open_corpus(big, valid_fraction=0.0, test_fraction=0.0).splits["train"]
            start = time.perf_counter()
            for chunk in split.texts():
                tok.encode(chunk)
            out[level] = size / 1e6 / (time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="The classifier rows read SST-2 from ../shared/corpora beside the "
                                            "checkout, or from the folder LSTMTEXT_CORPORA names.")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="cpu or cuda (default: cuda where there is one)")
    parser.add_argument("--quick", action="store_true", help="small shapes: under 3 minutes on 2 CPU cores")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results",
                        help="folder for the results JSON (default: bench/results; an existing file is never replaced)")
    args = parser.parse_args()
    if error := device_error(args.device):
        parser.error(error)
    try:  # before the minutes of measuring, not after them: a folder that is there may still refuse a file
        args.out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=args.out).close()
    except OSError as err:
        parser.error(f"--out {args.out}: {err.strerror} (pass a folder you can write to)")
    if not (SHARED / "sst2").exists():  # said first: the rows it changes come minutes later
        print(f"note: {SHARED / 'sst2'} is not there, so the classifier rows use a synthetic SST-2-like length "
              "distribution (set LSTMTEXT_CORPORA to the shared corpora's folder for the real one)", file=sys.stderr)
    load_before = load_average()  # the minute before: other work, not this run's
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    if not gpu and (warning := busy_warning(load_before, os.cpu_count())):  # said now, and again after the table
        print(warning, file=sys.stderr)
    if not gpu:
        keep_freed_memory()
    quick = args.quick
    steps = 5 if quick else 20
    rows: list[Row] = []
    shapes = QUICK_SHAPES if quick else SHAPES
    adaptive_shapes = QUICK_ADAPTIVE_SHAPES if quick else ADAPTIVE_SHAPES
    stages = _Stages(len(shapes) + len(adaptive_shapes) + 4)  # + two bucketing sources, generation, tokenizing
    with stages, tempfile.TemporaryDirectory() as tmp:
        for name, shape in shapes.items():
            stages.next(f"train step ({name})")
            prepared = synthetic_prepared(Path(tmp) / name.replace(" ", "_"), shape[0], 400_000)
            full = lm_step_throughput(prepared, shape, device, steps)
            kernel = kernel_throughput(shape, device, steps)
            classic = classic_tokens_per_s(prepared, shape, device, steps)
            settings = {"vocab": shape[0], "hidden": shape[1], "layers": shape[2], "seq_len": shape[3],
                        "batch": shape[4], "precision": precision_name(autocast_dtype("auto", device)),
                        "cuda_graph": gpu}
            if gpu:  # what the graph adds, and the kernel limit when it too is captured
                settings["eager_step_tokens_per_s"] = round(lm_step_throughput(prepared, shape, device, steps,
                                                                               cuda_graphs=False))
                settings["graphed_kernel_tokens_per_s"] = round(kernel_throughput(shape, device, steps,
                                                                                  graphed=True))
            rows.append(Row(f"train step vs kernel limit ({name})", full, "tokens/s", "bare nn.LSTM fwd+bwd",
                            kernel, 0.85 if gpu and name in KERNEL_TARGET_SHAPES else None, settings))
            rows.append(Row(f"train step vs classic recipe ({name})", full, "tokens/s",
                            "fp32, per-step .item(), plain SGD", classic, 1.5 if gpu else 1.0, settings))
        for name, shape in adaptive_shapes.items():
            stages.next(f"adaptive softmax ({name})")
            prepared = synthetic_prepared(Path(tmp) / f"zipf_{shape[0]}", shape[0], 400_000, zipf=True)
            adaptive = lm_step_throughput(prepared, shape, device, steps, cutoffs=default_cutoffs(shape[0]))
            full = lm_step_throughput(prepared, shape, device, steps)
            settings = {"vocab": shape[0], "hidden": shape[1], "layers": shape[2], "seq_len": shape[3],
                        "batch": shape[4], "cutoffs": default_cutoffs(shape[0]), "tokens": "Zipf",
                        "precision": precision_name(autocast_dtype("auto", device)), "cuda_graph": gpu}
            rows.append(Row(f"train step, adaptive softmax ({name})", adaptive, "tokens/s", "full softmax", full,
                            None, settings))
        # The issue's figure is on SST-2's training set (GLUE's phrases and sentences); whole sentences alone
        # (sst2/sentences) are longer and vary less, so bucketing saves less there: measured too, without a target.
        for name, source, target in (("SST-2 train", SHARED / "sst2", 2.0 if gpu else 1.5),
                                     ("SST-2 whole sentences", SHARED / "sst2" / "sentences", None)):
            stages.next(f"classifier bucketing ({name})")
            if not source.exists():
                if target is None:
                    continue
                name = "synthetic SST-2-like lengths"
            bucketed, naive, info = classifier_epoch_seconds(device, quick, source)
            rows.append(Row(f"classifier epoch speed-up from bucketing ({name})", 1 / bucketed, "epochs/s",
                            "random pad-to-longest", 1 / naive, target, info))
        stages.next("generation")
        one, many, info = generation_figures(device, quick)
        rows.append(Row("generation, 64 samples in one batch", many, "tokens/s", "1 sample", one, 20.0, info))
        stages.next("tokenizing")
        for level, mbps in tokenize_mb_per_s(quick).items():
            rows.append(Row(f"tokenize ({level})", mbps, "MB/s", settings={"file_mb": 8 if quick else 100}))
        stages.next("")
    doc = results_document(rows, args.device, quick, load_before=load_before)
    render(doc)  # first: the minutes' figures are on the screen even if the file cannot be written
    if not gpu and (warning := busy_warning(load_before, os.cpu_count())):
        print(warning, file=sys.stderr)
    try:
        print(f"written to {write_results(doc, args.out)}")  # whole, to copy: rich would wrap a long path
    except OSError as err:
        sys.exit(f"error: could not write the results to {args.out}: {err.strerror or err}")


class _Stages:
    """A bar on stderr over the suite's benchmarks: which one runs, how many are done, and the time so far. It is
    drawn only as each benchmark starts, from this thread: no drawing thread runs beside the measurements."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=True,
                                 auto_refresh=False)
        self.task = self.progress.add_task("", total=total)
        self.started = False

    def __enter__(self) -> "_Stages":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def next(self, label: str) -> None:
        """The previous benchmark is done (if any) and ``label`` starts."""
        self.progress.update(self.task, advance=1 if self.started else 0, description=label)
        self.progress.refresh()
        self.started = True


def figure(value: float) -> str:
    """'67,589' for thousands and more, four significant digits below ('1.862', '216.1'): never '6.759e+04'."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def render(doc: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    threads = doc.get("machine", {}).get("cpu_threads")
    on_cpu = doc["device"].startswith("cpu") and threads
    busy = doc.get("machine", {}).get("busy")
    table = Table(title=f"lstmtext benchmarks on {doc['device']} ({'quick' if doc['quick'] else 'full'}"
                        + (f", {threads} thread{'s' * (threads != 1)}" if on_cpu else "")
                        + (", busy machine" if busy else "") + ")", title_justify="left", caption_justify="left")
    for col in ("benchmark", "value", "reference", "ratio", "target", "met"):
        table.add_column(col, justify="left" if col in ("benchmark", "reference") else "right")
    for r in doc["rows"]:
        ref = f"{r['reference']}: {figure(r['reference_value'])}" if r["reference_value"] else "-"
        table.add_row(r["name"], f"{figure(r['value'])} {r['unit']}", ref,
                      f"{r['ratio']:.2f}x" if r["ratio"] else "-", f"{r['target']}x" if r["target"] else "-",
                      {True: "yes", False: "[yellow]no?[/]" if busy else "[red]no[/]", None: "-"}[r["met"]])
    if busy:
        table.caption = "no?: the machine was busy (load before the run), so a target not met is not trusted"
    console = Console()
    console.print(table)


if __name__ == "__main__":
    main()
