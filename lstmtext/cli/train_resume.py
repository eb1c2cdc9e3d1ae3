"""`train --resume`: continuing a run from its saved state with the run's own settings; only the flags in
RESUMABLE (its length, device, saving and output) may be given beside it."""

from __future__ import annotations

from pathlib import Path
from shlex import quote

import typer

from lstmtext.cli.options import flag_name, typed, typed_flag
from lstmtext.cli.run_folder import _lock_run
from lstmtext.cli.train_report import _train_and_report
from lstmtext.config import ModelConfig
from lstmtext.errors import UserError, usage_error

RESUMABLE = {"resume", "max_steps", "epochs", "time_limit", "device", "save_every", "on_nan", "quiet", "log_every",
             "output", "json_out", "patience"}


def _resume_run(ctx: typer.Context, run_dir: Path, *, max_steps: int | None, epochs: float | None,
                time_limit: float | None, device: str, save_every: str, on_nan: str, quiet: bool,
                log_every: int, output: str = "table", patience: int | None = None) -> None:
    """Continue a run with its own settings; only the flags in RESUMABLE may be given."""
    from lstmtext.checkpoint import read_config
    from lstmtext.config import from_dict, saved_train_config
    from lstmtext.data import Prepared

    conflicts = ["CORPUS" if n == "corpus" else typed_flag(ctx, n) for n in typed(ctx) if n not in RESUMABLE]
    if conflicts:
        allowed = ", ".join(flag_name(n) for n in sorted(RESUMABLE - {"resume"}))
        raise usage_error(f"{', '.join(conflicts)} cannot be given with --resume: training settings come from "
                          "the run", f"only {allowed} may be given with --resume")
    _lock_run(run_dir)  # first: a run that another train holds is that, not a run with no weights yet
    config = read_config(run_dir)  # a missing or broken run is reported before torch is imported
    from lstmtext.state import read_state
    from lstmtext.training import train as run_training

    saved_state = read_state(run_dir)
    elapsed = saved_state.get("elapsed", 0.0)
    result = config.get("result") or {}
    early = config.get("status") == "done" and result.get("stopped_by") == "early stopping"
    if early and max_steps is None and epochs is None and time_limit is None and "patience" not in typed(ctx):
        patience = config["train"].get("patience")
        best = saved_state.get("best_step")
        raise UserError(f"{run_dir} was stopped by early stopping at step {saved_state.get('step', 0):,}: "
                        f"validation had not improved for {patience} validation{'s' * (patience != 1)}"
                        + (f" (its best weights are step {best:,}'s)" if best is not None else ""),
                        "pass a larger --epochs or --max-steps, or a larger --patience, to train on: patience "
                        "counts afresh")
    data = config["data"]
    again = "restore it, or start a new run"
    if not config.get("init_from") and isinstance(config.get("tokenizer"), dict):  # (--init-from's is the model's)
        from lstmtext.data import source_shown, tokenize_command

        command = tokenize_command(source_shown(data.get("source"), data.get("source_abs")), config["tokenizer"],
                                   data.get("settings") or {},
                                   Path(data.get("prepared_abs") or data["prepared"]), overwrite=False)
        again = f"restore it, or prepare it again from the same corpus, unchanged: {command}" + (
            f" (its corpus was {data.get('source')})" if " CORPUS " in command else "")
    prepared = Prepared.of_run(run_dir, data, again)
    from lstmtext.checkpoint import run_tokenizer  # the run's own copy, which generate and classify read

    run_tokenizer(run_dir, config, "copy the prepared data's back: cp "
                  f"{quote(str(prepared.path / 'tokenizer.json'))} {quote(str(run_dir))}/")
    model_cfg = from_dict(ModelConfig, config["model"])
    train_cfg = saved_train_config(config["train"])
    before = (train_cfg.max_steps, train_cfg.epochs)
    if max_steps is not None:
        train_cfg.max_steps = max_steps
    if epochs is not None or max_steps is not None:  # --max-steps alone: as many steps as it says
        train_cfg.epochs = epochs
    if epochs is not None and max_steps is None:  # --epochs alone: as many epochs as it says, not capped by the
        train_cfg.max_steps = None  # run's own --max-steps
    if time_limit is not None:  # else the run's own limit, which counts the time it trained before
        train_cfg.time_limit = time_limit
    spent = train_cfg.time_spent(elapsed)  # refused by training: no note on a schedule that will not run
    left = None if train_cfg.time_limit is None else train_cfg.time_limit - elapsed
    if left is not None and not spent and left < 0.1 * train_cfg.time_limit and time_limit is None and not quiet:
        from lstmtext.render import err

        err.print(f"note: the run's --time-limit {train_cfg.time_limit:g} counts its whole time, and leaves "
                  f"{left:.1f} s of it; pass a larger --time-limit to train longer")
    step = int(saved_state.get("step", 0))
    further = (max_steps is None or max_steps > step) and (epochs is None or epochs > saved_state.get("epoch", 0))
    if train_cfg.schedule == "cosine" and (train_cfg.max_steps, train_cfg.epochs) != before and not quiet \
            and not spent and further:  # (no note on a run that training refuses to take further)
        from lstmtext.render import err

        err.print("note: the cosine schedule is laid out again over the new length, so the learning rate moves to "
                  "where that schedule has it at this step (up, for a run that has decayed to its end)")
    if "log_every" in typed(ctx):
        train_cfg.log_every = log_every
    if "patience" in typed(ctx):  # a stopping rule, as the length is: more patience for a run early stopping ended
        train_cfg.patience = patience
    train_cfg.device = device
    train_cfg.validate()
    init = Path(config["init_from"]) if config.get("init_from") else None
    backward = Path(config["init_backward_from"]) if config.get("init_backward_from") else None
    _train_and_report(run_dir, quiet, lambda events, stop: run_training(
        run_dir, prepared, model_cfg, train_cfg, events, init_from=init, resume=True, stop=stop,
        save_every=save_every, on_nan=on_nan, init_backward=backward, fresh_patience=early), output=output)
