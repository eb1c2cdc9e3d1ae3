"""Does torch.compile pay for the non-LSTM part of a word model's step? Times the decoder and the
loss (a [rows x hidden] by [hidden x vocab] linear, then cross-entropy; forward and backward, at
lstmtext's default precision) eagerly and compiled, and the compile itself.

    python bench/head_probe.py [--device cpu|cuda] [--rows 700] [--hidden 200] [--vocab 10000]

The defaults are the CPU quick suite's word shape (batch 20 x seq 35, 2x200, 10k words); the GPU
suite's word b128 shape is ``--rows 4480 --hidden 650``. Prints figures; writes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import device_error, median_time  # noqa: E402
from lstmtext.tasks import decoder_loss  # noqa: E402  (what `lstmtext train --compile` compiles)
from lstmtext.devices import autocast_dtype, precision_name  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description="Does torch.compile pay for the non-LSTM part of a word model's "
                                                 "step? Times the decoder and the loss, eager and compiled.")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="cpu or cuda (default: cuda where there is one)")
    parser.add_argument("--rows", type=int, default=700, help="rows of the decoder input, batch x seq (default 700)")
    parser.add_argument("--hidden", type=int, default=200, help="LSTM hidden size (default 200)")
    parser.add_argument("--vocab", type=int, default=10_000, help="vocabulary size (default 10000)")
    args = parser.parse_args()
    if error := device_error(args.device):
        parser.error(error)
    if min(args.rows, args.hidden, args.vocab) < 1:
        parser.error("--rows, --hidden and --vocab must be at least 1")
    device = torch.device(args.device)
    dtype = autocast_dtype("auto", device)
    torch.manual_seed(0)
    x = torch.randn(args.rows, args.hidden, device=device, requires_grad=True)
    w = (0.1 * torch.randn(args.vocab, args.hidden, device=device)).requires_grad_()
    b = torch.zeros(args.vocab, device=device, requires_grad=True)
    y = torch.randint(0, args.vocab, (args.rows,), device=device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)

    def timed(fn) -> float:
        return median_time(lambda: fn(x, w, b, y, device, dtype).backward(), 3, 20, sync) * 1000

    before = timed(decoder_loss)
    start = time.perf_counter()
    compiled = torch.compile(decoder_loss)
    compiled(x, w, b, y, device, dtype).backward()
    sync()
    compile_s = time.perf_counter() - start
    after, again = timed(compiled), timed(decoder_loss)
    print(f"{args.device}, {precision_name(dtype)}, rows {args.rows}, hidden {args.hidden}, vocab {args.vocab}")
    print(f"eager {before:.2f} ms (again after: {again:.2f}), compiled {after:.2f} ms: "
          f"{min(before, again) / after:.2f}x, after a {compile_s:.1f} s compile")


if __name__ == "__main__":
    main()
