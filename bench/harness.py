"""Arithmetic and record-keeping for the benchmark suite: timing, ratios, targets, the results file."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The shared corpora: ../shared/corpora beside the checkout, or where LSTMTEXT_CORPORA points (a GPU
# machine gets only the checkout, so the corpora travel in a git-ignored folder inside it).
SHARED = Path(os.environ.get("LSTMTEXT_CORPORA") or ROOT.parent / "shared" / "corpora")

SCHEMA_KEYS = {"device", "date", "quick", "versions", "rows"}
ROW_KEYS = {"name", "value", "unit", "reference", "reference_value", "ratio", "target", "met", "settings"}


@dataclass
class Row:
    """One benchmark figure against a reference measured in the same run, same machine, same shapes."""

    name: str
    value: float
    unit: str
    reference: str = ""
    reference_value: float | None = None
    target: float | None = None  # the ratio to reach; None: no target on this device
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return ratio(self.value, self.reference_value)

    @property
    def met(self) -> bool | None:
        return None if self.target is None or self.ratio is None else self.ratio >= self.target

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}


def ratio(value: float, reference: float | None) -> float | None:
    """value / reference, or None when there is no usable reference."""
    if reference is None or reference <= 0:
        return None
    return value / reference


def median_time(fn: Callable[[], Any], warmup: int, reps: int, sync: Callable[[], None] = lambda: None) -> float:
    """Median seconds per call after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cpu_model() -> str:
    """The CPU's model name ("AMD EPYC", "Intel(R) Xeon(R) Platinum 8480+"), or the architecture if unknown."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str) -> str:
    """The results files' device name: the GPU's name, or the CPU's architecture and model, so that figures from
    two machines never share (and overwrite) a file."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(0).replace(" ", "-")
    model = re.sub(r"[^A-Za-z0-9+]+", "-", re.sub(r"\((R|TM)\)", "", cpu_model(), flags=re.I)).strip("-")
    return f"cpu-{platform.machine()}-{model}"[:80].rstrip("-")


def load_average() -> float | None:
    """The machine's one-minute load average (runnable processes), or None where the system does not tell."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def busy_warning(load_before: float | None, cores: int | None) -> str | None:
    """A warning where other work kept the CPU busy in the minute before the run started: the medians of a
    run are robust to a moment's noise, not to load that lasts, so its CPU figures (ratios less) come out low."""
    if load_before is None or not cores or load_before < 0.5 * cores:
        return None
    return (f"warning: the load average was {load_before:g} on {cores} cores before the run started: other work "
            "was running, so absolute CPU figures are low and ratios less sure; rerun on an idle machine")


def device_error(device: str) -> str | None:
    """Why a benchmark cannot run on ``device`` (cpu, cuda or cuda:N, with a GPU visible), for parser.error."""
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        return f"--device {device!r}: use cpu or cuda"
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        return f"--device {device} was asked for, but no CUDA GPU is visible (use --device cpu)"
    return None


def git_commit() -> str | None:
    """The checkout's commit, or None where there is no git or no repository (a GPU machine gets the files alone)."""
    import subprocess

    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def results_document(rows: list[Row], device: str, quick: bool, extra: dict[str, Any] | None = None,
                     load_before: float | None = None) -> dict[str, Any]:
    import torch

    from lstmtext import __version__

    return {
        "device": device_name(device),
        "date": time.strftime("%Y-%m-%d"),
        "quick": quick,
        "versions": {"lstmtext": __version__, "git_commit": git_commit(), "torch": torch.__version__,
                     "cuda": torch.version.cuda, "python": platform.python_version()},
        # the load averages before and after tell a run on a busy machine (whose CPU figures are low) from one
        # alone; busy: a CPU run began on one, so its targets not met ("no") are not to be trusted
        "machine": {"cpu": cpu_model(), "cpu_threads": torch.get_num_threads(), "cores": os.cpu_count(),
                    "load_before": load_before, "load_after": load_average(),
                    "busy": not device.startswith("cuda") and busy_warning(load_before, os.cpu_count()) is not None},
        "rows": [r.to_json() for r in rows],
        **(extra or {}),
    }


def validate_document(doc: dict[str, Any]) -> None:
    """Raise ValueError when a results document does not have the expected shape."""
    missing = SCHEMA_KEYS - set(doc)
    if missing:
        raise ValueError(f"results document lacks {sorted(missing)}")
    for row in doc["rows"]:
        lacking = ROW_KEYS - set(row)
        if lacking:
            raise ValueError(f"row {row.get('name')!r} lacks {sorted(lacking)}")
        if row["reference_value"] is not None and row["ratio"] is not None:
            if abs(row["ratio"] - row["value"] / row["reference_value"]) > 1e-9 * max(1.0, row["ratio"]):
                raise ValueError(f"row {row['name']!r}: ratio does not equal value / reference")


def write_results(doc: dict[str, Any], folder: Path) -> Path:
    validate_document(doc)
    folder.mkdir(parents=True, exist_ok=True)
    path = new_path(folder / f"{doc['device']}-{doc['date']}{'-quick' if doc['quick'] else ''}.json")
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def new_path(path: Path) -> Path:
    """``path``, or NAME-2.json, NAME-3.json, ... where it exists: a second run on one day never replaces the
    first run's figures (they may be committed)."""
    n = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate
