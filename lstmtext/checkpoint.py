"""Checkpoint directories: atomic writes, safetensors weights, JSON config; never pickle.

A run directory holds `config.json` (format version, task, model, tokenizer and training
settings, results), `model.safetensors` (best-validation weights), `last.safetensors` (the last
weights), `tokenizer.json` and `metrics.jsonl`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from shlex import quote
from typing import Any

from lstmtext.errors import UserError, usage_error

FORMAT_VERSION = 1
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
LAST_WEIGHTS = "last.safetensors"
METRICS = "metrics.jsonl"
TRAIN_LOG = "train.jsonl"  # the training loss, rate and speed of every --log-every window (a curve to plot)
TEACHER_TARGETS = "teachers.safetensors"  # --distill-from: the teachers' targets (distill.py)
# Everything a run writes (state.py's files and atomic writes' temporaries included): --overwrite
# removes these and keeps whatever else the user put in the folder.
RUN_FILES = (CONFIG, WEIGHTS, LAST_WEIGHTS, METRICS, TRAIN_LOG, "tokenizer.json", "state.json",
             "state-*.safetensors", TEACHER_TARGETS, ".*.tmp-*")


# a run whose files disagree: config.json (or the weights) was edited or half-copied
DAMAGED_HINT = "restore config.json from a backup, or train the run again"


def clear_run(run_dir: Path) -> list[str]:
    """Delete a run's own files from ``run_dir``; return the names of the other entries, which stay."""
    for pattern in RUN_FILES:
        for path in run_dir.glob(pattern):
            path.unlink()
    return sorted(p.name for p in run_dir.iterdir())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, fsync, then rename over the target."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # a read-only file system refuses even that: nothing was written to remove
            pass
        raise UserError(f"could not write {path}: {err.strerror or err}",
                        "check free space and permissions of the output folder") from None
    except BaseException:  # Ctrl-C or a signal mid-write: the target is as it was, and no copy is left beside it
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_json(path: Path, obj: Any) -> None:
    try:
        data = (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a file name that is not UTF-8 (café in Latin-1): JSON's \udce9 keeps its bytes
        data = (json.dumps(obj, indent=2) + "\n").encode("ascii")
    atomic_write_bytes(path, data)


def finite(obj: Any) -> Any:
    """``obj`` with NaN and infinities as null: strict JSON, which jq and other readers parse."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [finite(v) for v in obj]
    return obj


def append_jsonl(path: Path, obj: Any, sync: bool = True) -> None:
    """Append one line; a reader skips a torn last line, so appends need no rename. ``sync=False`` for the
    training log, written every --log-every steps, which may lose its last lines to a crash."""
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(finite(obj)) + "\n")
        if sync:
            fh.flush()
            os.fsync(fh.fileno())


def truncate_log(path: Path, step: int) -> None:
    """Drop a log's lines past ``step`` (and a torn one): what a run trained after its last save, which a resumed
    run trains again and logs anew."""
    if not Path(path).exists():
        return
    kept = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] <= step:
            kept.append(line + "\n")
    atomic_write_bytes(path, "".join(kept).encode("utf-8"))


def read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} is missing: {what}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path} is not valid JSON ({err}); the file is damaged") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} is not a JSON object; the file is damaged")
    return data


def save_weights(path: Path, tensors: dict[str, Any]) -> None:
    from safetensors.torch import save

    atomic_write_bytes(path, save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}))


class _Loaded:
    """A safetensors file read whole, with safe_open's keys() and get_tensor()."""

    def __init__(self, tensors: dict[str, Any]) -> None:
        self.tensors = tensors

    def keys(self) -> list[str]:
        return list(self.tensors)

    def get_tensor(self, name: str) -> Any:
        return self.tensors[name]


@contextmanager
def safe_open_path(path: Path, framework: str) -> Iterator[Any]:
    """safetensors' ``safe_open``, which takes only UTF-8 paths: a run folder named in another encoding (café in
    Latin-1) is read whole instead."""
    from safetensors import safe_open

    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        import importlib

        load = importlib.import_module("safetensors.torch" if framework == "pt" else "safetensors.numpy").load
        yield _Loaded(load(path.read_bytes()))
        return
    with safe_open(str(path), framework=framework) as fh:
        yield fh


@contextmanager
def _open_weights(path: Path, framework: str) -> Iterator[Any]:
    """``safe_open`` of a weights file, with a missing, truncated or foreign file refused in one line (which names
    the run's last weights where these are its best and those are there)."""
    from safetensors import SafetensorError

    last = path.with_name(LAST_WEIGHTS)
    other = "; its last weights are there: pass --weights last" if path.name == WEIGHTS and last.exists() else ""
    if not path.exists():
        raise UserError(f"{path} is missing",
                        "the checkpoint is incomplete" + (other or "; train again or pick another run"))
    import os

    if not os.access(path, os.R_OK):  # safetensors would call it missing
        raise UserError(f"{path} is not readable (permission denied)", f"check who may read it: ls -l {path}")
    try:
        with safe_open_path(path, framework) as fh:
            yield fh
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise UserError(f"{path} is not a valid safetensors file ({str(err)[:120]})",
                        f"it may be truncated or in another format; weights are never unpickled{other}") from None


def load_weights(path: Path, expected: dict[str, tuple[int, ...]]) -> dict[str, Any]:
    """Load tensors, checking names and shapes against the model the config describes."""
    with _open_weights(path, "pt") as fh:
        names = set(fh.keys())
        missing = sorted(set(expected) - names)
        extra = sorted(names - set(expected))
        if missing or extra:
            raise UserError(f"{path} does not match config.json (missing: {', '.join(missing) or '-'}; "
                            f"unexpected: {', '.join(extra) or '-'})", DAMAGED_HINT)
        out = {}
        for name in sorted(names):
            tensor = fh.get_tensor(name)
            if tuple(tensor.shape) != tuple(expected[name]):
                raise UserError(f"{path}: tensor {name} has shape {tuple(tensor.shape)}, "
                                f"config.json implies {tuple(expected[name])}", DAMAGED_HINT)
            out[name] = tensor
        return out


def weights_file(path: Path, config: dict[str, Any], weights: str = "best", choose: bool = True) -> Path:
    """The weights file that ``load_checkpoint`` reads: the best weights, or the last where a run stopped before
    its first validation. ``choose``: the command has a --weights option (generate, classify, evaluate), which
    --init-from and --distill-from runs do not."""
    file, last = path / (WEIGHTS if weights == "best" else LAST_WEIGHTS), path / LAST_WEIGHTS
    if weights == "best" and not file.exists() and last.exists():
        if config.get("status") != "done":
            return last  # a run stopped before its first validation: its last weights are all there is
        copy = f"cp {quote(str(last))} {quote(str(file))}"
        raise UserError(f"{file} (the best weights) is missing, but the run's last weights are there",
                        f"pass --weights last to use those, or: {copy}" if choose else
                        f"restore it, or put the last weights in its place: {copy}")
    if not file.exists() and being_trained(path):
        raise UserError(f"{path} is being trained now and has saved no weights yet",
                        "try again after its first validation or its first --save-every save")
    return file


def being_trained(path: Path) -> bool:
    """Whether a train process holds the run folder now (the flock of cli.run_folder._lock_run, which the system
    drops when that process ends, however it ends); False where the system has no such locks."""
    try:
        import fcntl
    except ImportError:  # Windows
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # a file system without locks
        return False
    finally:
        os.close(fd)  # and with it the shared lock just taken
    return False


def check_weights(path: Path, config: dict[str, Any], choose: bool = True) -> Path:
    """Refuse a run whose weights file is missing, truncated or not safetensors, reading only its header (and
    importing no torch), so that a command can say so before it spends minutes on anything else; the file."""
    file = weights_file(Path(path), config, choose=choose)
    with _open_weights(file, "numpy") as fh:
        fh.keys()
    return file


def is_checkpoint(path: Path) -> bool:
    return (Path(path) / CONFIG).is_file() and (Path(path) / WEIGHTS).exists()


@dataclass
class Checkpoint:
    path: Path
    config: dict[str, Any]
    model: Any
    tokenizer: Any
    weights_file: str = WEIGHTS  # LAST_WEIGHTS for a run stopped before its first validation


def run_settings(config: dict[str, Any]) -> dict[str, Any]:
    """How a run's corpus was read (corpus._settings: columns, encoding, layout), empty for a run saved before
    they were recorded."""
    return config.get("data", {}).get("settings") or {}


def run_columns(config: dict[str, Any]) -> tuple[str | None, str | None]:
    """The text and label columns of the table a run trained on (None for plain text)."""
    settings = run_settings(config)
    return settings.get("text_column"), settings.get("label_column")


def run_encoding(config: dict[str, Any]) -> str | None:
    """The --encoding a run's text files were read with, where it was not UTF-8 (None otherwise); stored as
    codecs' name, so UTF-8 is always 'utf-8'."""
    encoding = run_settings(config).get("encoding")
    return encoding if isinstance(encoding, str) and encoding != "utf-8" else None


def read_config(path: Path) -> dict[str, Any]:
    path = Path(path)
    if str(path) == "." and not (path / CONFIG).exists():  # "" reads as the working folder
        raise usage_error("the checkpoint path is empty (or the working folder, which holds no run)",
                          "pass a run folder such as checkpoints/NAME; is a shell variable unset?")
    if not path.exists():
        if path.is_symlink():
            raise UserError(f"checkpoint {path} is a symbolic link that leads nowhere (to {os.readlink(path)})",
                            "fix or remove the link")
        raise UserError(f"checkpoint not found: {path}", "pass a run folder such as checkpoints/NAME")
    if path.is_file() and (path.parent / CONFIG).is_file():
        raise UserError(f"{path} is a file of a run", f"pass the run folder: {path.parent}")
    # data.is_prepared's test, written out: data imports numpy, and this is read before anything heavy
    if not (path / CONFIG).exists() and (path / "meta.json").is_file() and (path / "tokenizer.json").is_file():
        raise UserError(f"{path} is a prepared data folder (written by lstmtext tokenize), not a run",
                        f"train a run on it: lstmtext train {quote(str(path))}")
    if not path.is_dir() or not (path / CONFIG).exists():
        what = "a file, not a run folder" if path.is_file() else f"not a checkpoint (no {CONFIG})"
        raise UserError(f"{path} is {what}", "pass a run folder written by lstmtext train")
    config = read_json(path / CONFIG, "the checkpoint's settings")
    if "format_version" not in config and "task" not in config:  # a Hugging Face model's config.json, say
        raise UserError(f"{path} is not an lstmtext run: its {CONFIG} is another program's",
                        "pass a run folder written by lstmtext train")
    version = config.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise UserError(f"{path / CONFIG}: checkpoint format version {version!r} is not one this lstmtext reads "
                        f"(it reads up to {FORMAT_VERSION})", "upgrade lstmtext")
    damaged = f"{path / CONFIG} is damaged"
    hint = DAMAGED_HINT
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UserError(f"{damaged}: its format version {version!r} is not a version number", hint)
    for key in ("task", "model", "tokenizer", "data", "train"):
        if key not in config:
            raise UserError(f"{damaged}: it has no {key!r} entry", hint)
    if config["task"] not in ("lm", "classify"):
        raise UserError(f"{damaged}: task {config['task']!r} is neither lm nor classify", hint)
    for key in ("model", "tokenizer", "data", "train"):
        if key in config and not isinstance(config[key], dict):
            raise UserError(f"{damaged}: its {key!r} entry is not an object", hint)
    lost = [k for k in ("vocab_size", "embed_dim", "hidden_size", "layers") if k not in config["model"]]
    if lost:  # every run has written these: without them the model would be rebuilt at the defaults' size
        raise UserError(f"{damaged}: its model entry has no {lost[0]!r}", hint)
    from lstmtext.config import ModelConfig, TrainConfig, cutoffs_problem, wrong_types

    for key, cls in (("model", ModelConfig), ("train", TrainConfig)):
        bad = wrong_types(cls, config.get(key, {}))
        if bad:
            raise UserError(f"{damaged}: {key}.{bad[0]} is {config[key][bad[0]]!r}, not a value of its type", hint)
    out_of_range = _out_of_range(config)
    if out_of_range:
        raise UserError(f"{damaged}: {out_of_range}", hint)
    cutoffs = config["model"].get("cutoffs", [])
    wrong = cutoffs_problem(cutoffs, config["model"]["vocab_size"])
    if wrong:
        raise UserError(f"{damaged}: model.cutoffs {cutoffs!r}: {wrong}", hint)
    labels = config.get("labels")
    if config["task"] == "classify" and not (isinstance(labels, list) and len(labels) >= 2
                                             and all(isinstance(n, str) for n in labels)):
        raise UserError(f"{damaged}: a classifier's labels should be a list of two or more names, not {labels!r}",
                        hint)
    if config["task"] == "classify":
        twice = next((name for k, name in enumerate(labels) if name in labels[:k]), None)
        if twice is not None:
            raise UserError(f"{damaged}: it names the label {twice!r} twice", hint)
        classes = config["model"].get("num_classes")
        if classes and classes != len(labels):  # the weights' output layer has num_classes rows
            raise UserError(f"{damaged}: it names {len(labels)} labels for a model of {classes} classes", hint)
    return config


# the settings a run is rebuilt and read with, and the least (and most) each can be: an edit out of range would
# otherwise fail deep in torch (a negative dimension, no layers, a dropout of 5)
_AT_LEAST = {("model", "vocab_size"): 1, ("model", "embed_dim"): 1, ("model", "hidden_size"): 1,
             ("model", "layers"): 1, ("model", "num_classes"): 0, ("model", "last_layer_size"): 0,
             ("train", "seq_len"): 1, ("train", "batch_size"): 1, ("train", "eval_batch_size"): 1,
             ("train", "max_length"): 1, ("train", "log_every"): 1, ("train", "eval_every"): 0}
_RATES = (("model", "dropout"), ("model", "embed_dropout"), ("model", "weight_drop"), ("model", "layer_dropout"))


def _out_of_range(config: dict[str, Any]) -> str | None:
    """What in a run's settings no run could have been saved with ("model.layers is 0, below 1"), else None."""
    from lstmtext.config import LEVELS, POOLINGS, PRECISIONS

    for (part, key), least in _AT_LEAST.items():
        value = config.get(part, {}).get(key)
        if isinstance(value, int) and value < least:
            return f"{part}.{key} is {value}, below {least}"
    for part, key in _RATES:
        value = config.get(part, {}).get(key)
        if isinstance(value, (int, float)) and not 0 <= value < 1:
            return f"{part}.{key} is {value}, not a rate from 0 to below 1"
    for part, key, known in (("model", "pooling", POOLINGS), ("train", "precision", PRECISIONS),
                             ("tokenizer", "level", LEVELS)):
        value = config.get(part, {}).get(key)
        if value is not None and value not in known:
            return f"{part}.{key} is {value!r}, not one of {', '.join(known)}"
    return None


def check_run(path: Path, task: str | None = None, flag: str = "", hint: str = "") -> dict[str, Any]:
    """A run folder's settings, refused if missing, damaged or of another task; imports nothing
    heavy, so that the commands report these mistakes before they import torch. A run given with ``flag``
    (``--ensemble``) and of another task is a usage error that names the flag, with ``hint``."""
    path = Path(path)
    if path.is_dir() and not (path / CONFIG).exists() and being_trained(path):  # its first second: nothing saved
        raise UserError(f"{path} is being trained now and has saved no weights yet",
                        "try again after its first validation or its first --save-every save")
    config = read_config(path)
    if task is not None and config["task"] != task:
        message = (f"{flag + ' ' if flag else ''}{path} is a {_TASK_NAMES.get(config['task'], config['task'])} "
                   f"checkpoint, not a {_TASK_NOUNS[task]}")
        raise usage_error(message, hint) if flag else UserError(message, _TASK_HINTS[task])
    return config


def run_tokenizer(path: Path, config: dict[str, Any], hint: str = "") -> Any:
    """A run's tokenizer, refused where it is missing, damaged or not the one its settings name; ``hint``, where
    given, says how to restore a missing or damaged one."""
    from lstmtext.tokenizers import FILENAME, load_tokenizer

    try:
        tokenizer = load_tokenizer(path / FILENAME)
    except UserError as error:
        if hint:
            error.hint = hint
        raise
    level = config["tokenizer"].get("level")
    if level is not None and level != tokenizer.kind:
        raise UserError(f"{path / CONFIG} is damaged: it says level {level!r}, but {path / FILENAME} is a "
                        f"{tokenizer.kind} tokenizer", DAMAGED_HINT)
    if tokenizer.vocab_size != config["model"]["vocab_size"]:
        raise UserError(f"{path / FILENAME} has {tokenizer.vocab_size} tokens but config.json says "
                        f"{config['model']['vocab_size']}; the checkpoint is inconsistent")
    return tokenizer


def load_checkpoint(path: Path, device: str = "cpu", weights: str = "best", task: str | None = None,
                    choose: bool = True) -> Checkpoint:
    """Validate and load a run folder: config, tokenizer, then weights into a fresh model (``choose``: as for
    weights_file)."""
    import torch

    from lstmtext.config import ModelConfig, from_dict
    from lstmtext.models import build_model

    path = Path(path)
    config = check_run(path, task)
    tokenizer = run_tokenizer(path, config)
    model_cfg = from_dict(ModelConfig, config["model"])
    # built once, on the CPU: the meta device would spare its memory, but its first use costs a second
    model = build_model(model_cfg)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    file = weights_file(path, config, weights, choose)
    tensors = load_weights(file, shapes)
    order = tensors.get("adaptive.order")
    if order is not None and not torch.equal(order.sort().values, torch.arange(len(order))):
        raise UserError(f"{file}: its adaptive softmax's token order (adaptive.order) is not an ordering of the "
                        f"{len(order):,} tokens; the file is damaged", "train the run again, or use its other weights")
    model.load_state_dict(tensors)
    model.to(device).eval()
    return Checkpoint(path, config, model, tokenizer, file.name)


_TASK_NAMES = {"lm": "language-model", "classify": "classifier"}  # "a language-model checkpoint"
_TASK_NOUNS = {"lm": "language model", "classify": "classifier"}  # "not a language model"
_TASK_HINTS = {"lm": "use lstmtext classify for classifier checkpoints",
               "classify": "use lstmtext generate for language-model checkpoints"}
