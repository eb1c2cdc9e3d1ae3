"""Probe: does CUDA-graph capture of the LSTM's forward+backward pay at the benchmark shapes?

    python bench/graph_probe.py        (CUDA only; prints eager vs graph-replay tokens/s)

The cuDNN LSTM launches a few kernels per time step and layer; at these shapes the host's launch
work, not the GPU, bounds a step. A captured graph replays all of them with one launch.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import SHAPES, captured  # noqa: E402  (the benchmark suite's shapes and capture)


def timed(fn, reps=20):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / reps


def main() -> None:
    if sys.argv[1:] in (["-h"], ["--help"]):
        print(__doc__)
        return
    if sys.argv[1:] or not torch.cuda.is_available():
        sys.exit("usage: python bench/graph_probe.py (no options; it needs a CUDA GPU, as it times CUDA-graph replay)")
    results = {}
    for name, (_, hidden, layers, seq, batch) in SHAPES.items():
        for precision in ("fp32", "bf16"):
            for dropout in (0.0, 0.2):
                key = f"{name} {precision} dropout {dropout}"
                lstm = torch.nn.LSTM(hidden, hidden, layers, batch_first=True, dropout=dropout).cuda().train()
                x = torch.randn(batch, seq, hidden, device="cuda")
                grad = torch.randn(batch, seq, hidden, device="cuda")
                amp = torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16")

                def step():
                    with amp:
                        out, _ = lstm(x)
                    out.backward(grad.to(out.dtype))

                eager = timed(step)
                try:
                    replay = timed(captured(step))
                    results[key] = {"eager_tokens_per_s": round(batch * seq / eager),
                                    "graph_tokens_per_s": round(batch * seq / replay),
                                    "speedup": round(eager / replay, 2)}
                except Exception as exc:  # noqa: BLE001 - a probe: record why capture failed
                    results[key] = {"eager_tokens_per_s": round(batch * seq / eager),
                                    "graph_error": f"{type(exc).__name__}: {str(exc)[:200]}"}
                print(key, json.dumps(results[key]), flush=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
