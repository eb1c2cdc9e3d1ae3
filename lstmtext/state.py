"""Resumable training state: model, optimizer, schedule, scaler, every RNG and the data position.

Tensors go to `state-<step>.safetensors`, everything else to `state.json`, which names that file.
The tensor file is complete (written, fsynced, renamed) before `state.json` points at it, and
older state files are removed only afterwards, so a crash at any moment leaves a loadable pair.
Nothing is pickled.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstmtext.checkpoint import atomic_write_json, read_json, safe_open_path, save_weights
from lstmtext.errors import UserError
from lstmtext.graphs import tensor_learning_rates

STATE = "state.json"
STATE_VERSION = 1


def save_state(run_dir: Path, step: int, model: torch.nn.Module, opt: torch.optim.Optimizer, schedule: Any,
               scaler: Any, task_tensors: dict[str, torch.Tensor], counters: dict[str, Any]) -> None:
    tensors: dict[str, torch.Tensor] = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt_state = opt.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for pid, entry in opt_state["state"].items():
        for name, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"opt.{pid}.{name}"] = value
            else:
                scalars.setdefault(str(pid), {})[name] = value
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, rng in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = rng
    for name, value in task_tensors.items():
        tensors[f"task.{name}"] = value
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    tensors["rng.numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    file = f"state-{step:09d}.safetensors"
    save_weights(run_dir / file, tensors)
    py_state = random.getstate()
    atomic_write_json(run_dir / STATE, {
        "state_version": STATE_VERSION, "step": step, "file": file,
        "optimizer": {"param_groups": plain(opt_state["param_groups"]), "scalars": scalars},
        "schedule": plain(schedule.state_dict()), "scaler": scaler.state_dict(),
        "rng": {"python": [py_state[0], list(py_state[1]), py_state[2]],
                "numpy": {"kind": kind, "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)}},
        **counters,
    })
    for old in run_dir.glob("state-*.safetensors"):
        if old.name != file:
            old.unlink(missing_ok=True)


def plain(value: Any) -> Any:
    """``value`` with one-element tensors as numbers: a capturable optimizer keeps its learning rate,
    and its schedule the base rates, as tensors (`load_state` restores them)."""
    if torch.is_tensor(value):
        return value.item()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def read_state(run_dir: Path) -> dict[str, Any]:
    path = run_dir / STATE
    if not path.exists():
        if any((run_dir / name).exists() for name in ("model.safetensors", "last.safetensors")):
            raise UserError(f"{run_dir} has trained weights but its {STATE} is missing, so --resume cannot go on "
                            "from where it stopped", f"restore {STATE}, or start a new run from the weights with "
                            "--init-from, which takes a language model; --overwrite would replace them")
        raise UserError(f"{run_dir} has no saved training state yet (no {STATE})",
                        "it was stopped before its first save; start it again with --overwrite")
    meta = read_json(path, "the saved training state")
    if meta.get("state_version") != STATE_VERSION or "file" not in meta:
        raise UserError(f"{path}: unknown state format", "start the run again with --overwrite")
    return meta


def load_state(run_dir: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, schedule: Any, scaler: Any,
               device: torch.device) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Restore everything saved by `save_state`; returns (state.json contents, task tensors)."""
    from safetensors import SafetensorError

    meta = read_state(run_dir)
    file = run_dir / meta["file"]
    try:
        with safe_open_path(file, "pt") as fh:
            tensors = {name: fh.get_tensor(name) for name in fh.keys()}
    except (SafetensorError, OSError, RuntimeError) as err:
        raise UserError(f"{file} is unreadable ({str(err)[:100]})", "start the run again with --overwrite") from None
    model_sd = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    expected = model.state_dict()
    if set(model_sd) != set(expected) or any(model_sd[k].shape != expected[k].shape for k in expected):
        raise UserError(f"{file} does not match the run's model as config.json describes it",
                        "if config.json was edited, restore it; else start the run again with --overwrite")
    model.load_state_dict(model_sd)
    opt_state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, pid, name = key.split(".", 2)
            opt_state.setdefault(int(pid), {})[name] = value
    for pid, scalars in meta["optimizer"]["scalars"].items():
        opt_state.setdefault(int(pid), {}).update(scalars)
    tensor_rates = any(torch.is_tensor(group["lr"]) for group in opt.param_groups)
    opt.load_state_dict({"state": opt_state, "param_groups": meta["optimizer"]["param_groups"]})
    if tensor_rates:  # saved as numbers (see `plain`): a capturable optimizer gets its tensors back
        tensor_learning_rates(opt)
    schedule.load_state_dict(meta["schedule"])
    scaler.load_state_dict(meta["scaler"])
    torch.set_rng_state(tensors["rng.torch"])
    cuda_states = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)
    rng = meta["rng"]
    random.setstate((rng["python"][0], tuple(rng["python"][1]), rng["python"][2]))
    np_meta = rng["numpy"]
    np.random.set_state((np_meta["kind"], tensors["rng.numpy"].numpy().astype(np.uint32), np_meta["pos"],
                         np_meta["has_gauss"], np_meta["gauss"]))
    task = {k[len("task."):]: v.to(device) for k, v in tensors.items() if k.startswith("task.")}
    return meta, task
