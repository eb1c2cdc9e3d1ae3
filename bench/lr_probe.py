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


def configs(settings: dict, vocab_size: int, **overrides):
    """The ModelConfig and TrainConfig a preset's settings name (other settings are the tokenizer's)."""
    from lstmtext.config import ModelConfig, TrainConfig, from_dict

    model = from_dict(ModelConfig, {**settings, "vocab_size": vocab_size})
    return model, from_dict(TrainConfig, {**settings, **overrides})


def main() -> None:
    from bench.harness import SHARED
    from lstmtext.cli import load_preset
    from lstmtext.config import TokenizerSpec
    from lstmtext.corpus import open_corpus
    from lstmtext.data import Prepared, ensure_prepared
    from lstmtext.training import TrainEvents, train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--lr", type=float, nargs="+", required=True)
    parser.add_argument("--optimizer", help="instead of the preset's")
    args = parser.parse_args()

    preset = load_preset(args.preset)
    settings = preset["settings"]
    spec = TokenizerSpec(**{k: settings[k] for k in ("level", "lowercase", "word_split", "vocab_size")
                            if k in settings})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "prepared"
        ensure_prepared(open_corpus(SHARED / preset["corpus"], task=settings.get("task", "lm")), spec, folder,
                        task=settings.get("task", "lm"))
        prepared = Prepared.open(folder)
        uniform = math.log(prepared.tokenizer.vocab_size)
        print(f"{args.preset}: {args.steps} steps per rate; uniform loss ln(V) = {uniform:.2f}")

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
            model_cfg, train_cfg = configs(settings, prepared.tokenizer.vocab_size, **overrides)
            run = Path(tmp) / f"lr-{lr}"
            run.mkdir()
            events = Windows()
            train(run, prepared, model_cfg, train_cfg, events=events, save_every="0")
            means = " ".join(f"{v:.2f}" for v in events.losses)
            print(f"{train_cfg.optimizer} lr {lr:g}: worst window {max(events.losses):.2f}, "
                  f"last {events.losses[-1]:.2f} | every {args.window} steps: {means}", flush=True)


if __name__ == "__main__":
    main()
