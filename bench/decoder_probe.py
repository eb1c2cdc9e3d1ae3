"""What flattening the decoder's input pays: lstmtext's whole LM training step with the embedding
table trained or frozen (``--freeze-embedding``, tied decoder), its decoder computed as
``models.decoder_logits`` does (outputs flattened first) or as ``F.linear`` on the LSTM's
batch-first output (a transposed view), as it was before.

    python bench/decoder_probe.py [--device cpu|cuda] [--steps 40] [--rounds 3]

The shape is the SST-2 language model's (13,845 words, 1x256, seq 64, batch 32, AWD's dropouts)
on random tokens. The four variants run in turn, ``--rounds`` times, and each keeps its median
(this machine's speed drifts within a minute). Prints figures; writes nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from statistics import median

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import lstmtext.models as models  # noqa: E402
from bench.harness import device_error  # noqa: E402
from bench.run import synthetic_prepared  # noqa: E402
from lstmtext.config import ModelConfig, TrainConfig  # noqa: E402
from lstmtext.training import train  # noqa: E402

VOCAB, SIZE, SEQ, BATCH = 13_845, 256, 64, 32


def before(out: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The decoder as it was: F.linear on the [batch, time, width] view."""
    return F.linear(out, weight, bias)


def step_rate(prepared, root: Path, device: str, steps: int, frozen: bool) -> float:
    """Tokens/s of ``steps`` training steps (the first few, warm-up included, are cheap at this size)."""
    run = root / "run"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir()
    model = ModelConfig(vocab_size=VOCAB, embed_dim=SIZE, hidden_size=SIZE, layers=1, dropout=0.5,
                        variational=True, embed_dropout=0.1, weight_drop=0.3)
    cfg = TrainConfig(seq_len=SEQ, batch_size=BATCH, max_steps=steps, eval_every=10**6, device=device,
                      freeze_embedding=frozen)
    return train(run, prepared, model, cfg)["tokens_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description="What flattening the decoder's input pays in lstmtext's whole LM "
                                                 "training step, with the embedding trained or frozen.")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="cpu or cuda (default: cuda where there is one)")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per variant and round (default 40)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the four variants; each keeps its median (default 3)")
    args = parser.parse_args()
    if error := device_error(args.device):
        parser.error(error)
    if args.steps < 1 or args.rounds < 1:
        parser.error("--steps and --rounds must be at least 1")
    root = Path(tempfile.mkdtemp(prefix="decoder-probe-"))
    prepared = synthetic_prepared(root / "prepared", VOCAB, 600_000)
    now = models.decoder_logits
    rates: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(args.rounds):
            for table in ("trained", "frozen"):
                for name, fn in (("F.linear on the view (before)", before), ("flattened (now)", now)):
                    models.decoder_logits = fn
                    rates.setdefault((table, name), []).append(
                        step_rate(prepared, root, args.device, args.steps, table == "frozen"))
    finally:
        models.decoder_logits = now
        shutil.rmtree(root, ignore_errors=True)
    print(f"{'table':8} {'decoder':32} {'tokens/s (median)':>18}  runs")
    for (table, name), values in rates.items():
        print(f"{table:8} {name:32} {median(values):18,.0f}  {', '.join(f'{v:,.0f}' for v in values)}")
    for table in ("trained", "frozen"):
        gain = median(rates[(table, "flattened (now)")]) / median(rates[(table, "F.linear on the view (before)")])
        print(f"{table} table: flattened / before = {gain:.2f}x")


if __name__ == "__main__":
    main()
