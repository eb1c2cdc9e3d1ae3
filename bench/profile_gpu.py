"""What bounds lstmtext's LM training step on a GPU: fp32 against bf16, and the top kernels.

    python bench/profile_gpu.py [--device cuda] [--steps 20]

Prints, for each benchmark shape, the full step and the bare nn.LSTM at both precisions, then a
torch.profiler table of the bf16 step's most expensive operators; writes the figures to
bench/results/profile-<device>-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.harness import device_name  # noqa: E402
from bench.run import SHAPES, kernel_throughput, lm_step, lm_step_throughput, synthetic_prepared  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    device = torch.device(args.device)
    figures, tables = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, shape in SHAPES.items():
            prepared = synthetic_prepared(Path(tmp) / name.replace(" ", "_"), shape[0], 400_000)
            row = {}
            for precision in ("fp32", "bf16"):
                row[f"step_{precision}"] = round(lm_step_throughput(prepared, shape, device, args.steps, precision,
                                                                    cuda_graphs=False))
                row[f"kernel_{precision}"] = round(kernel_throughput(shape, device, args.steps, precision))
            figures[name] = row
            print(name, json.dumps(row), flush=True)
            step = lm_step(prepared, shape, device, "bf16", cuda_graphs=False)  # the eager step: what a graph saves
            for _ in range(3):
                step()
            activities = [torch.profiler.ProfilerActivity.CPU]
            if device.type == "cuda":
                activities.append(torch.profiler.ProfilerActivity.CUDA)
            with torch.profiler.profile(activities=activities) as prof:
                for _ in range(10):
                    step()
                if device.type == "cuda":
                    torch.cuda.synchronize()
            sort = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
            table = prof.key_averages().table(sort_by=sort, row_limit=15, max_name_column_width=60)
            tables[name] = table
            print(table, flush=True)
    doc = {"device": device_name(args.device), "date": time.strftime("%Y-%m-%d"), "steps": args.steps,
           "tokens_per_s": figures, "profiles_bf16_10_steps": tables,
           "versions": {"torch": torch.__version__, "cuda": torch.version.cuda}}
    out = ROOT / "bench" / "results" / f"profile-{doc['device']}-{doc['date']}.json"
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
