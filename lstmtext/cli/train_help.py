"""How train's --help shows its many options: in panels by subject (HELP_PANELS), which group_help sets on the
Click command that Typer builds for train."""

from __future__ import annotations

from typing import Any

# train's options, grouped in its --help (--task and --help stay under "Options").
HELP_PANELS = {
    "Data": ("level", "vocab_size", "lowercase", "min_freq", "word_split", "text_column", "label_column", "encoding",
             "valid_fraction", "test_fraction", "split_seed"),
    "Model": ("embed_dim", "hidden_size", "layers", "last_layer_size", "dropout", "layer_dropout", "variational",
              "embed_dropout", "weight_drop", "tie_weights", "adaptive_softmax", "cutoffs", "bidirectional", "reverse",
              "pooling", "max_length"),
    "Optimisation": ("seq_len", "shift_windows", "batch_size", "lr", "optimizer", "weight_decay", "clip", "ar", "tar",
                     "schedule", "warmup_steps", "class_weights", "adversarial", "ema", "patience"),
    "Starting from pretrained weights": ("init_from", "init_backward_from", "extend_vocab", "embed_init",
                                         "freeze_embedding", "freeze_epochs", "pretrained_lr"),
    "Learning from other classifiers": ("distill_from", "distill_weight", "distill_temperature"),
    "Length, saving and output": ("epochs", "max_steps", "time_limit", "eval_every", "log_every", "save_every",
                                  "on_nan", "out", "overwrite", "resume", "preset", "seed", "output", "json_out",
                                  "quiet"),
    "Hardware": ("device", "precision", "cuda_graphs", "compile_head"),
}


def group_help(command: Any) -> None:
    """Put train's options (of the Click ``command`` Typer built for it) in HELP_PANELS' groups."""
    panel_of = {name: panel for panel, names in HELP_PANELS.items() for name in names}
    for param in command.params:
        if param.name in panel_of:
            param.rich_help_panel = panel_of[param.name]
