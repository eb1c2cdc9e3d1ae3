"""Settings as plain dataclasses; JSON in and out. Imports nothing heavy."""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from lstmtext.errors import usage_error

LEVELS = ("char", "word", "bpe", "unigram")
OPTIMIZERS = ("adamw", "sgd", "asgd")
SCHEDULES = ("cosine", "plateau", "constant")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
POOLINGS = ("last", "mean", "max", "attention", "concat")


def pooled_parts(pooling: str) -> tuple[str, ...]:
    """The summaries a classifier's head reads: concat joins ULMFiT's three (last state, max, mean)."""
    return ("last", "max", "mean") if pooling == "concat" else (pooling,)


@dataclass
class TokenizerSpec:
    """How to build a tokenizer from a corpus's training split."""

    level: str = "char"
    vocab_size: int | None = None  # bpe/unigram: required size; word: cap on words kept
    lowercase: bool = False
    min_freq: int = 1
    word_split: str = "punct"  # word level: "punct" splits punctuation off, "whitespace" does not

    def validate(self) -> None:
        if self.level not in LEVELS:
            raise usage_error(f"unknown --level {self.level!r}",
                              "choose char, word, subword (SentencePiece's unigram model) or bpe")
        if self.vocab_size is not None and self.vocab_size < 1:
            raise usage_error(f"--vocab-size must be positive, got {self.vocab_size}", "leave it out for the default")
        if self.level in ("bpe", "unigram") and self.vocab_size is not None and self.vocab_size < 8:
            raise usage_error(
                f"--vocab-size {self.vocab_size} is too small for {self.level}",
                "leave it out to size it to the text, or use a few hundred or more"
            )
        if self.min_freq < 1:
            raise usage_error(f"--min-freq must be at least 1, got {self.min_freq}", "1 keeps every token")
        if self.word_split not in ("punct", "whitespace"):
            raise usage_error(f"unknown --word-split {self.word_split!r}", "choose punct or whitespace")
        if self.word_split != "punct" and self.level != "word":
            raise usage_error(f"--word-split is for --level word, not {self.level}", "drop it")
        if self.min_freq > 1 and self.level in ("bpe", "unigram"):
            raise usage_error(f"--min-freq is for char and word levels, not {self.level}",
                              "drop it: --vocab-size sets a subword vocabulary's size")


@dataclass
class ModelConfig:
    """The network's shape; enough to rebuild it from a checkpoint."""

    task: str = "lm"  # "lm" or "classify"
    vocab_size: int = 0
    embed_dim: int = 256
    hidden_size: int = 256
    layers: int = 2
    dropout: float = 0.2
    tie_weights: bool = True
    bidirectional: bool = False
    pooling: str = "last"
    num_classes: int = 0
    # regularisers from Merity et al.'s AWD-LSTM; all off by default
    variational: bool = False  # lm: one dropout mask per sequence on the LSTM's input, between layers, output
    embed_dropout: float = 0.0  # lm and classify: drop whole rows (word types) of the embedding matrix
    weight_drop: float = 0.0  # lm: DropConnect on the hidden-to-hidden weights
    layer_dropout: float | None = None  # between stacked LSTM layers; None: the same as dropout
    last_layer_size: int = 0  # lm: units of the last LSTM layer; 0: hidden_size (AWD-LSTM: the embedding's size)
    reverse: bool = False  # lm: reads text right to left, predicting each token from those after it
    cutoffs: list[int] = field(default_factory=list)  # lm: an adaptive softmax's cluster bounds; none: a full softmax

    @property
    def top_size(self) -> int:
        """Units of the last LSTM layer."""
        return self.last_layer_size or self.hidden_size

    @property
    def state_size(self) -> int:
        """Width of the carried state [layers, batch, width]; a smaller last layer's state is zero-padded."""
        return max(self.hidden_size, self.top_size)

    @property
    def between_layers(self) -> float:
        """The dropout rate between stacked LSTM layers."""
        return self.dropout if self.layer_dropout is None else self.layer_dropout


@dataclass
class TrainConfig:
    """How to train; stored in the checkpoint so a run can be read back."""

    seq_len: int = 128
    batch_size: int = 32
    lr: float = 3e-3
    optimizer: str = "adamw"
    weight_decay: float | None = None  # None: the optimizer's own default (``decay``)
    clip: float = 1.0
    schedule: str = "cosine"
    warmup_steps: int = 50
    epochs: float | None = 10.0  # None: --max-steps alone bounds the run
    max_steps: int | None = None
    time_limit: float | None = None  # seconds
    eval_every: int = 200
    log_every: int = 20
    seed: int = 1234
    device: str = "auto"
    precision: str = "auto"
    eval_batch_size: int = 16
    patience: int | None = None  # evals without improvement before stopping early
    max_length: int = 256  # classification: tokens kept per text
    class_weights: str = "none"  # classification: "none" or "auto" (inverse class frequency)
    freeze_epochs: int = 0  # classification with --init-from: epochs with embedding and LSTM frozen
    adversarial: float = 0.0  # classification: L2 norm of the adversarial move of each text's embeddings; 0 off
    cuda_graphs: bool = True  # on CUDA: capture the whole training step as a CUDA graph (graphs.py)
    ar: float = 0.0  # lm: activation regularisation (AWD-LSTM's alpha)
    tar: float = 0.0  # lm: temporal activation regularisation (AWD-LSTM's beta)
    shift_windows: bool = False  # lm: each epoch's BPTT windows start at a random offset (batches.LMBatches)
    compile: bool = False  # lm: torch.compile the decoder and loss (tasks.CompiledDecoderLoss)
    freeze_embedding: bool = False  # the embedding table (and a decoder tied to it) never trains
    pretrained_lr: float = 1.0  # classification with --init-from: the pretrained layers' share of the rate
    ema: float = 0.0  # decay of the moving average of the weights that is validated and saved; 0 off
    distill_from: list[str] = field(default_factory=list)  # classification: teacher runs (distill.py)
    distill_weight: float = 0.5  # with distill_from: the teachers' share of the loss
    distill_temperature: float = 2.0  # with distill_from: both sides' logits are divided by it
    extra: dict[str, Any] = field(default_factory=dict)

    def time_spent(self, elapsed: float) -> bool:
        """Whether a run that has trained ``elapsed`` seconds has used all of its --time-limit."""
        return self.time_limit is not None and elapsed >= self.time_limit

    @property
    def decay(self) -> float:
        """The weight decay in force: ``weight_decay``, else 0.01 for AdamW and none for SGD."""
        if self.weight_decay is not None:
            return self.weight_decay
        return 0.01 if self.optimizer == "adamw" else 0.0

    def validate(self) -> None:
        positive_ints = {
            "--seq-len": self.seq_len,
            "--batch-size": self.batch_size,
            "--log-every": self.log_every,
        }
        for flag, value in positive_ints.items():
            if value < 1:
                raise usage_error(f"{flag} must be at least 1, got {value}", "leave it out for the default")
            if value > 10_000_000:
                raise usage_error(f"{flag} {value} is absurdly large", "try a value in the tens or hundreds")
        if self.eval_every < 0:
            raise usage_error(f"--eval-every must be 0 (once per epoch) or more, got {self.eval_every}", "such as 100")
        if not self.lr > 0:
            raise usage_error(f"--lr must be positive, got {self.lr}",
                              "typical values are 3e-3 (adamw, the default) or 20 (sgd)")
        if self.lr > 100:
            raise usage_error(f"--lr {self.lr} is absurdly large", "typical values are 3e-3 (adamw, the default) or "
                              "20 (sgd)")
        if self.optimizer not in OPTIMIZERS:
            raise usage_error(f"unknown --optimizer {self.optimizer!r}", f"choose one of: {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise usage_error(f"unknown --schedule {self.schedule!r}", f"choose one of: {', '.join(SCHEDULES)}")
        if self.precision not in PRECISIONS:
            raise usage_error(f"unknown --precision {self.precision!r}", f"choose one of: {', '.join(PRECISIONS)}")
        if self.device == "cpu":  # auto may turn out to be the CPU too: the trainer checks again once it knows
            check_precision(self.precision, "cpu")
        if self.epochs is not None and not self.epochs > 0:
            raise usage_error(f"--epochs must be positive, got {self.epochs}", "such as 10, or 0.5 for half a pass")
        if self.epochs is not None and self.epochs > 1_000_000:
            raise usage_error(f"--epochs {self.epochs:g} is absurdly large", "try a value in the tens; --time-limit "
                              "ends a run by time instead")
        if self.epochs is None and self.max_steps is None:
            raise usage_error("a run needs --epochs or --max-steps to end", "give one of them")
        if self.max_steps is not None and self.max_steps < 1:
            raise usage_error(f"--max-steps must be at least 1, got {self.max_steps}", "leave it out to train --epochs")
        if self.time_limit is not None and not self.time_limit > 0:
            raise usage_error(f"--time-limit must be positive, got {self.time_limit}", "such as 600, 90s, 10m or 1.5h; "
                              "leave it out for no limit")
        if self.clip < 0:
            raise usage_error(f"--clip must be 0 (off) or positive, got {self.clip}", "such as 1 (the default) or 0.25")
        if self.patience is not None and self.patience < 1:
            raise usage_error(f"--patience must be at least 1, got {self.patience}",
                              "leave it out to train the whole run")
        if self.max_length < 1:
            raise usage_error(f"--max-length must be at least 1, got {self.max_length}", "such as 256 (the default)")
        if self.class_weights not in ("none", "auto"):
            raise usage_error(f"unknown --class-weights {self.class_weights!r}", "choose none or auto")
        if not 0 <= self.adversarial <= 1000:
            raise usage_error(f"--adversarial must be between 0 (off) and 1000, got {self.adversarial}",
                              "5 suits embeddings of 128-256 dimensions")
        if self.weight_decay is not None and not 0 <= self.weight_decay <= 1:
            raise usage_error(f"--weight-decay must be between 0 and 1, got {self.weight_decay}",
                              "typical values are 0.01 (adamw) or 1.2e-6 (sgd, as AWD-LSTM)")
        if self.freeze_epochs < 0:
            raise usage_error(f"--freeze-epochs must be 0 or more, got {self.freeze_epochs}", "such as 1; 0 is off")
        if not 0 < self.pretrained_lr <= 10:
            raise usage_error(f"--pretrained-lr must be above 0 and at most 10, got {self.pretrained_lr}",
                              "it is a fraction of --lr, e.g. 0.3; use --freeze-embedding or --freeze-epochs "
                              "to keep layers fixed")
        if not 0 <= self.ema < 1:
            raise usage_error(f"--ema must be 0 (off) or a decay below 1, got {self.ema}",
                              "0.999 averages over about the last 1,000 steps")
        if self.ema and self.optimizer == "asgd":
            raise usage_error("--ema cannot be combined with --optimizer asgd, which keeps an average of its own",
                              "drop --ema, or use --optimizer adamw or sgd")
        if not 0 < self.distill_weight <= 1:
            raise usage_error(f"--distill-weight must be above 0 and at most 1, got {self.distill_weight}",
                              "it is the teachers' share of the loss: 0.5 weighs them as much as the labels")
        if not 0.1 <= self.distill_temperature <= 100:
            raise usage_error(f"--distill-temperature must be between 0.1 and 100, got {self.distill_temperature}",
                              "1 keeps the teachers' probabilities as they are; 2-4 softens confident ones")
        for flag, value in (("--ar", self.ar), ("--tar", self.tar)):
            if not 0 <= value <= 100:
                raise usage_error(f"{flag} must be between 0 (off) and 100, got {value}",
                                  "AWD-LSTM uses --ar 2 --tar 1")
        if self.warmup_steps < 0:
            raise usage_error(f"--warmup-steps must be 0 or more, got {self.warmup_steps}", "0 is none")


def check_precision(precision: str, device_type: str) -> None:
    if precision == "fp16" and device_type == "cpu":  # oneDNN's LSTM has no fp16 kernel: it fails at step 1
        raise usage_error("--precision fp16 needs a CUDA GPU (the CPU's LSTM kernels have no fp16)",
                          "use --precision bf16, fp32 or auto on the CPU")


def validate_model(cfg: ModelConfig) -> None:
    for flag, value in (("--hidden-size", cfg.hidden_size), ("--embed-dim", cfg.embed_dim), ("--layers", cfg.layers)):
        if value < 1:
            raise usage_error(f"{flag} must be at least 1, got {value}", "leave it out for the default")
        if value > 100_000:
            raise usage_error(f"{flag} {value} is absurdly large", "try a value in the hundreds")
    if cfg.last_layer_size:
        if cfg.task != "lm":
            raise usage_error("--last-layer-size is for --task lm", "drop it, or use --hidden-size")
        if cfg.layers < 2:
            raise usage_error("--last-layer-size needs --layers 2 or more", "with one layer, set --hidden-size")
        if not 1 <= cfg.last_layer_size <= 100_000:
            raise usage_error(f"--last-layer-size must be between 1 and 100,000, got {cfg.last_layer_size}")
    if cfg.pooling not in POOLINGS:
        raise usage_error(f"unknown --pooling {cfg.pooling!r}", f"choose one of: {', '.join(POOLINGS)}")
    for flag, value in (("--dropout", cfg.dropout), ("--embed-dropout", cfg.embed_dropout),
                        ("--weight-drop", cfg.weight_drop), ("--layer-dropout", cfg.between_layers)):
        if not 0.0 <= value < 1.0:
            raise usage_error(f"{flag} must be in [0, 1), got {value}", "a fraction, such as 0.1; 0 is off")
    if cfg.cutoffs:
        if cfg.task != "lm":
            raise usage_error("--adaptive-softmax is for --task lm", "a classifier's output layer is small")
        wrong = cutoffs_problem(cfg.cutoffs, cfg.vocab_size or None)
        if wrong:
            raise usage_error(f"--cutoffs {','.join(map(str, cfg.cutoffs))}: {wrong}",
                              "give increasing token counts, e.g. --cutoffs 2000,10000")
    if cfg.task != "lm":
        for flag, on in (("--variational-dropout", cfg.variational), ("--weight-drop", cfg.weight_drop > 0)):
            if on:
                raise usage_error(f"{flag} is for --task lm", "drop it, or use --dropout for a classifier")


def cutoffs_problem(cutoffs: Any, vocab_size: int | None) -> str | None:
    """What is wrong with an adaptive softmax's cluster bounds (None if nothing): they must be whole
    numbers, increasing, from 1 up, and below the vocabulary's size where that is known."""
    if not isinstance(cutoffs, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in cutoffs):
        return "not a list of whole numbers"
    if any(c < 1 for c in cutoffs) or any(b <= a for a, b in itertools.pairwise(cutoffs)):
        return "each must be at least 1 and above the one before"
    if vocab_size is not None and cutoffs and cutoffs[-1] >= vocab_size:
        return f"the last must be below the vocabulary's {vocab_size:,} tokens, so that every cluster holds some"
    return None


def parse_cutoffs(spec: str) -> list[int]:
    """--cutoffs '2000,10000' as numbers (validated with the vocabulary's size later)."""
    try:
        cutoffs = [int(part.replace("_", "")) for part in spec.split(",")]
    except ValueError:
        raise usage_error(f"--cutoffs {spec!r} is not a comma-separated list of whole numbers",
                          "e.g. --cutoffs 2000,10000") from None
    wrong = cutoffs_problem(cutoffs, None)
    if wrong:
        raise usage_error(f"--cutoffs {spec}: {wrong}", "e.g. --cutoffs 2000,10000")
    return cutoffs


def to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


def saved_train_config(data: dict[str, Any]) -> TrainConfig:
    """A run's saved training settings. Runs saved before SGD took --weight-decay (their settings lack
    ``pretrained_lr``, which came with that change) hold AdamW's 0.01 there although SGD never
    applied it: they resume without decay, as they trained."""
    if "pretrained_lr" not in data and data.get("optimizer") in ("sgd", "asgd"):
        data = {**data, "weight_decay": 0.0}
    return from_dict(TrainConfig, data)


def wrong_types(cls: type, data: dict[str, Any]) -> list[str]:
    """The keys of ``data`` whose values are not of the type of ``cls``'s field of that name (a damaged or
    hand-edited config.json); unknown keys pass, and so do containers, which are not judged."""
    def fits(value: Any, annotation: str) -> bool:
        if value is None:
            return "None" in annotation
        if any(kind in annotation for kind in ("list", "tuple", "dict", "Any")):
            return True
        if annotation.startswith("bool"):
            return isinstance(value, bool)
        if isinstance(value, bool):
            return False
        if "float" in annotation:
            return isinstance(value, (int, float))
        if "int" in annotation:
            return isinstance(value, int)
        return isinstance(value, str) if "str" in annotation else True

    return [f.name for f in dataclasses.fields(cls) if f.name in data and not fits(data[f.name], str(f.type))]


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build a dataclass from a dict, ignoring keys it does not know (newer writers)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def parse_save_every(spec: str) -> tuple[int | None, float | None]:
    """'500' = every 500 steps; '90s', '10m', '1h' = every so many seconds; '0' = only at evals."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", spec or "")
    if not match:
        raise usage_error(f"--save-every {spec!r} is neither steps nor a duration", "use e.g. 500, 90s, 10m or 1h")
    value, unit = float(match.group(1)), match.group(2)
    if not unit:
        if not value.is_integer():
            raise usage_error(f"--save-every {spec!r} is not a whole number of steps",
                              "use e.g. 500, or 90s for seconds")
        return (int(value) or None), None
    return None, (value * {"s": 1, "m": 60, "h": 3600}[unit]) or None  # '0s' too: only at evals


def parse_duration(value: str | float | None, flag: str) -> float | None:
    """Seconds from '600', '90s', '10m', '1.5h' (or a number, as a preset gives it); None stays None."""
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(value))
        if not match:
            raise usage_error(f"{flag} {value!r} is not a duration", "use seconds (600) or e.g. 90s, 10m, 1.5h")
        seconds = float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    if seconds is not None and not (0 < seconds < float("inf")):
        raise usage_error(f"{flag} must be a positive duration, got {value!r}",
                          "use seconds (600) or e.g. 90s, 10m, 1.5h")
    return None if seconds is None else float(seconds)


@dataclass
class SampleSettings:
    length: int = 200
    temperature: float = 0.8
    top_k: int = 0
    top_p: float = 1.0
    num_samples: int = 1
    seed: int = 0

    def validate(self) -> None:
        if self.length < 1:
            raise usage_error(f"--length must be at least 1, got {self.length}", "the tokens to generate, such as 200")
        if self.length > 1_000_000:
            raise usage_error(f"--length {self.length} is absurdly large", "ask for at most 1,000,000 tokens")
        if not 0 <= self.temperature <= 100:  # nan fails too; a float32 softmax of logits / inf is nan
            raise usage_error(f"--temperature must be 0 (greedy) to 100, got {self.temperature}",
                              "0.5-1.2 is the useful range; higher is closer to uniform noise")
        if self.top_k < 0:
            raise usage_error(f"--top-k must be 0 (off) or more, got {self.top_k}",
                              "40 keeps the 40 likeliest tokens at each step")
        if not 0.0 < self.top_p <= 1.0:
            raise usage_error(f"--top-p must be above 0 and at most 1, got {self.top_p}",
                              "0.9 samples from the likeliest tokens that make up 90% of the probability; 1 is off")
        if not 1 <= self.num_samples <= 4096:
            raise usage_error(f"--num-samples must be between 1 and 4096, got {self.num_samples}",
                              "run the command again for more")
        if self.num_samples * self.length > 20_000_000:  # the token ids alone would take gigabytes
            raise usage_error(f"--num-samples {self.num_samples} x --length {self.length:,} is "
                              f"{self.num_samples * self.length:,} tokens", "ask for at most 20,000,000 in all")


def check_device(spec: str) -> str:
    """A --device value's form (its availability needs torch: ``devices.resolve_device``)."""
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", spec):
        raise usage_error(f"unknown --device {spec!r}", "use auto, cpu, cuda, cuda:N or mps")
    return spec
