"""Learning-rate probe: the first steps of a preset's model at a few learning rates, as mean losses.

    python bench/lr_probe.py ptb-word-awd --device cpu --steps 300 --lr 30 15 10 5 [--optimizer adamw]

Each rate trains the preset's model from the same seed with lstmtext's own loop (`training.train`,
no evaluation until the end) and prints the mean training loss of every window of ``--window``
steps, and the largest single-window value: a rate whose first steps spike far above the uniform
loss, ln(vocabulary), is one the preset must not use. Nothing is written to bench/results: this
is a check to run before spending device time on a long run, not a figure.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configs(settings: dict, vocab_size: int, num_classes: int = 0, **overrides):
    """The ModelConfig and TrainConfig a preset's settings name (other settings are the tokenizer's), checked as
    lstmtext train checks them (an unknown --optimizer, say, is refused)."""
    from lstmtext.adaptive import default_cutoffs
    from lstmtext.config import ModelConfig, TrainConfig, from_dict, parse_cutoffs, validate_model

    cutoffs = (parse_cutoffs(str(settings["cutoffs"])) if "cutoffs" in settings else default_cutoffs(vocab_size)) \
        if settings.get("adaptive_softmax") else []
    model = from_dict(ModelConfig, {**settings, "vocab_size": vocab_size, "num_classes": num_classes,
                                    "cutoffs": cutoffs})
    train = from_dict(TrainConfig, {**settings, **overrides})
    validate_model(model)
    train.validate()
    return model, train


def main() -> None:
    from bench.harness import device_error
    from lstmtext.errors import UserError

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("preset", help="a preset of lstmtext/presets, e.g. ptb-word-cpu")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--steps", type=int, default=100, help="training steps at each rate")
    parser.add_argument("--window", type=int, default=10, help="steps per mean loss printed")
    parser.add_argument("--lr", type=float, nargs="+", required=True, help="the learning rates to try")
    parser.add_argument("--optimizer", help="instead of the preset's")
    args = parser.parse_args()
    if args.steps < 1 or args.window < 1:
        parser.error("--steps and --window must be at least 1")
    if any(not lr > 0 for lr in args.lr):
        parser.error("every --lr must be positive")
    if error := device_error(args.device):  # before the corpus is prepared
        parser.error(error)
    args.window = min(args.window, args.steps)  # the loss of 5 steps is one window of 5, not of 10
    try:
        probe(args)
    except UserError as err:
        sys.exit(f"error: {err}")


def probe(args: argparse.Namespace) -> None:
    from bench.harness import SHARED
    from lstmtext.cli.train_presets import load_preset
    from lstmtext.config import TokenizerSpec
    from lstmtext.corpus import open_corpus
    from lstmtext.data import Prepared, ensure_prepared
    from lstmtext.errors import UserError
    from lstmtext.training import TrainEvents, train

    preset = load_preset(args.preset)
    if not (SHARED / preset["corpus"]).exists():
        raise UserError(f"{SHARED / preset['corpus']} is not here; the probe needs ../shared/corpora (or "
                        "LSTMTEXT_CORPORA)")
    settings = preset["settings"]
    spec = TokenizerSpec(**{k: settings[k] for k in ("level", "lowercase", "word_split", "vocab_size")
                            if k in settings})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "prepared"
        ensure_prepared(open_corpus(SHARED / preset["corpus"], task=settings.get("task", "lm")), spec, folder,
                        task=settings.get("task", "lm"))
        prepared = Prepared.open(folder)
        classes = len(prepared.labels)
        uniform = math.log(classes or prepared.tokenizer.vocab_size)  # a classifier guesses among its labels
        print(f"{args.preset}: {args.steps} steps per rate; uniform loss ln({'classes' if classes else 'V'}) = "
              f"{uniform:.2f}")

        class Windows(TrainEvents):
            def __init__(self) -> None:
                self.losses: list[float] = []

            def step(self, info: dict) -> None:
                self.losses.append(info["loss"])

        for lr in args.lr:
            overrides = {"lr": lr, "max_steps": args.steps, "log_every": args.window, "eval_every": 10**9,
                         "device": args.device, "time_limit": None}
            if args.optimizer:  # with the other optimizer's own decay, not the preset's SGD one
                overrides.update(optimizer=args.optimizer, weight_decay=None)
            model_cfg, train_cfg = configs(settings, prepared.tokenizer.vocab_size, classes, **overrides)
            run = Path(tmp) / f"lr-{lr}"
            run.mkdir()
            events = Windows()
            train(run, prepared, model_cfg, train_cfg, events=events, save_every="0")
            means = " ".join(f"{v:.2f}" for v in events.losses)
            print(f"{train_cfg.optimizer} lr {lr:g}: worst window {max(events.losses):.2f}, "
                  f"last {events.losses[-1]:.2f} | every {args.window} steps: {means}", flush=True)


if __name__ == "__main__":
    main()
