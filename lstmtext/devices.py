"""Where and in what precision a run computes: the device --device names (or the best one there is), bf16
autocast where the hardware runs it, seeding, and the allocator setting that spares a CPU run its page faults."""

from __future__ import annotations

import functools
import random
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch

from lstmtext.config import check_device
from lstmtext.errors import UserError, usage_error


def resolve_device(spec: str) -> torch.device:
    check_device(spec)
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"--device {spec} was asked for, but no CUDA GPU is visible", "use --device cpu or auto")
        index = int(spec.split(":")[1]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise UserError(f"--device {spec}: only {torch.cuda.device_count()} GPU(s) visible")
    if spec == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps was asked for, but MPS is not available here", "use --device cpu or auto")
    return torch.device(spec)


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with native bf16 matrix units (AMX tiles or AVX512-BF16), where oneDNN runs
    bf16 LSTM and matmul kernels about twice as fast as fp32 (bench/run.py measures it)."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    try:
        return torch.backends.mkldnn.is_available() and any(probe() for probe in probes if probe is not None)
    except Exception:  # a private probe that changed shape: fall back to fp32
        return False


@functools.lru_cache(maxsize=1)
def cpu_runs_bf16_lstm() -> bool:
    """Whether this CPU has a bf16 LSTM kernel at all: oneDNN's needs AVX-512 (on an AVX2 CPU it cannot be
    created, and the first step would fail). A tiny LSTM is run once to find out."""
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.LSTM(8, 8, batch_first=True)(torch.zeros(1, 2, 8))
    except RuntimeError:
        return False
    return True


def autocast_dtype(precision: str, device: torch.device, strict: bool = True) -> torch.dtype | None:
    """``auto`` is bf16 autocast on CUDA and on CPUs with bf16 matrix units, fp32 elsewhere. bf16 on a CPU
    without a bf16 LSTM kernel is refused (``strict``: training asked for it) or run in fp32 (measuring a run
    trained in bf16 on another machine)."""
    if precision == "auto":
        if device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bf16()):
            return torch.bfloat16
        return None
    if precision == "bf16" and device.type == "cpu" and not cpu_runs_bf16_lstm():
        if strict:
            raise usage_error("--precision bf16: this CPU has no bf16 LSTM kernel (oneDNN's needs AVX-512)",
                              "use --precision auto, which is fp32 here, or fp32")
        return None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast_for(dtype: torch.dtype | None, device: torch.device) -> Any:
    """The autocast context for ``dtype`` (from `autocast_dtype`), or a no-op for full fp32."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


THREADS_ENV = "LSTMTEXT_THREADS"


_CORES: int | None = None


def cpu_threads(saved: int | None = None, resumed: bool = False) -> tuple[int, str | None]:
    """The threads a CPU run computes with, set in torch: ``LSTMTEXT_THREADS`` or OMP_NUM_THREADS where given;
    else, ``resumed``, ``saved`` (a run's own count: results differ in their last bits between counts); else torch's
    default, one a core, less the cores other programs keep busy (``busy_cores``). Threads that wait for a
    core at every one of an LSTM's many small parallel regions cost far more than they bring: with another
    program busy on one of two cores, the default 256-unit model trained 2.3 times slower on two threads than on
    one. Returns the count, and a note where it is below the cores."""
    import os

    import torch

    given = os.environ.get(THREADS_ENV, "").strip()
    if given:
        if not given.isdigit() or int(given) < 1:
            raise UserError(f"{THREADS_ENV}={given!r} is not a number of threads", "set it to 1 or more, or unset it")
        torch.set_num_threads(int(given))
        return int(given), None
    global _CORES
    if _CORES is None:  # torch's default, one a core, as the process started: a count set here is no default
        _CORES = torch.get_num_threads()
    cores = _CORES
    if "OMP_NUM_THREADS" in os.environ:
        return torch.get_num_threads(), None
    if resumed:  # its own count; a run saved before counts were kept, the default
        count = saved if saved is not None and saved >= 1 else cores
        torch.set_num_threads(count)
        return count, None
    busy = busy_cores()
    if busy is None:  # not on Windows
        return cores, None
    # the machine's cores (a container's view of its host's load counts the host's), less those kept busy
    free = max(1, min(cores, int((os.cpu_count() or cores) - busy + 0.5)))
    torch.set_num_threads(free)
    if free == cores:
        return cores, None
    return free, (f"{free} of {cores} threads: other programs keep the machine busy (load {busy:.1f}); "
                  f"{THREADS_ENV}={cores} uses them all")


def busy_cores() -> float | None:
    """How many cores other programs keep busy: the load average of the last minute, but no more than the tasks
    running now, less this one (Linux's /proc/loadavg, read three times over 40 ms): the minute's average still
    counts a program that has just ended, such as the run before this one. None where there is no load average."""
    import os
    import time

    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        return None
    if load < 0.5:  # an idle machine: no core to count, and no need to wait for samples
        return load
    running = []
    try:
        for k in range(3):
            if k:
                time.sleep(0.02)
            with open("/proc/loadavg", encoding="ascii") as fh:
                running.append(int(fh.read().split()[3].split("/")[0]) - 1)
    except (OSError, ValueError, IndexError):  # not Linux: the minute's average alone
        return load
    return min(load, float(max(running)))


def keep_freed_memory() -> None:
    """Stop glibc from handing big freed blocks back to the OS after every step.

    Each step allocates and frees the same large activations; by default glibc returns them to
    the kernel and faults them in again, which costs a large share of CPU time (see DESIGN.md).
    Like MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647; a no-op off glibc.
    """
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_max = -1, -4
    mallopt(m_mmap_max, 0)
    mallopt(m_trim_threshold, 2**31 - 1)  # mallopt takes an int


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def precision_name(dtype: torch.dtype | None) -> str:
    """``bfloat16``, ``float16`` or ``fp32`` (no autocast)."""
    return str(dtype).replace("torch.", "") if dtype is not None else "fp32"
