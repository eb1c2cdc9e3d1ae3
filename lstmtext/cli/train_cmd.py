"""`train`: its options and the run it starts, a language model or a classifier. Its presets, --resume, checks of
flag combinations, --init-from, run folder, report and --help panels each have a module of their own beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lstmtext.cli.embed_init import check_embed_init, load_embed_init
from lstmtext.cli.exits import handle_errors
from lstmtext.cli.init_from import _check_backward, _lm_config, _lm_dims, _lm_tokenizer
from lstmtext.cli.notes import warn
from lstmtext.cli.options import (DEFAULT_LEVEL, Device, Encoding, JsonFlag, LabelColumn, Level, Lowercase, MinFreq,
                                  Quiet, SplitSeed, TaskOpt, TestFraction, TextColumn, ValidFraction, VocabSize,
                                  WordSplit, _check_task, choice_value, chosen_format, refuse_unless, seed_value,
                                  typed)
from lstmtext.cli.prepare import _data_table, _default_corpus, _prepare, _spec, _stale
from lstmtext.cli.run_folder import _check_out, _run_dir
from lstmtext.cli.train_checks import (_check_prepared_task, _refuse_conflicting_flags, _refuse_other_task_flags,
                                       _refuse_out_as_input, _refuse_unused_data_flags)
from lstmtext.cli.train_presets import _preset_values
from lstmtext.cli.train_report import _train_and_report
from lstmtext.cli.train_resume import _resume_run
from lstmtext.config import (ModelConfig, TrainConfig, cutoffs_problem, parse_cutoffs, parse_duration, parse_save_every,
                             validate_model)
from lstmtext.errors import UserError, usage_error

# Defaults that differ by task; a flag left unset takes its task's value.
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "lm": {"hidden_size": 256, "layers": 2, "dropout": 0.2, "lr": 3e-3, "epochs": 15.0,
           "eval_every": 100, "batch_size": 32},
    "classify": {"hidden_size": 128, "layers": 1, "dropout": 0.3, "lr": 3e-3, "epochs": 10.0,
                 "eval_every": 0, "batch_size": 32},
}
# --lr's default for plain SGD (and ASGD), by task: AdamW's 3e-3 left SGD where it started (a language model's
# loss stayed at the uniform guess's). 400 steps on corpora/: lm valid loss 1.95 at 20 (2.98 at 1, 4.20 at 3e-3),
# classify valid accuracy 79% at 1 (76% at 20, 57% at 3e-3)
SGD_LR = {"lm": 20.0, "classify": 1.0}


@handle_errors
def train(
    ctx: typer.Context,
    corpus: Annotated[Optional[str], typer.Argument(
        metavar="CORPUS", help="Corpus (as for tokenize) or a prepared folder. "
                                                    "Default: corpora/tales.txt (lm) or corpora/reviews.tsv "
                                                    "(classify).")] = None,
    task: TaskOpt = "lm",
    level: Level = None,
    vocab_size: VocabSize = None,
    lowercase: Lowercase = False,
    min_freq: MinFreq = 1,
    word_split: WordSplit = "punct",
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    encoding: Encoding = "utf-8",
    valid_fraction: ValidFraction = 0.05,
    test_fraction: TestFraction = 0.05,
    split_seed: SplitSeed = 0,
    embed_dim: Annotated[Optional[int], typer.Option("--embed-dim", help="Embedding size (default: the "
                                                     "hidden size).")] = None,
    hidden_size: Annotated[Optional[int], typer.Option("--hidden-size", help="LSTM units per layer (default 256 "
                                                       "for lm, 128 for classify).")] = None,
    layers: Annotated[Optional[int], typer.Option("--layers", help="Stacked LSTM layers (default 2 for lm, "
                                                  "1 for classify).")] = None,
    last_layer_size: Annotated[int, typer.Option("--last-layer-size", help="lm: units of the last LSTM layer "
                                                 "(default: --hidden-size; AWD-LSTM gives it --embed-dim, so "
                                                 "the tied decoder needs no projection).", show_default=False)] = 0,
    dropout: Annotated[Optional[float], typer.Option("--dropout", help="Dropout on embeddings, between layers "
                                                     "and before the output (default 0.2 lm, 0.3 classify).")] = None,
    layer_dropout: Annotated[Optional[float], typer.Option("--layer-dropout", help="Dropout between stacked "
                                                           "LSTM layers (default: --dropout).")] = None,
    variational: Annotated[bool, typer.Option("--variational-dropout", help="lm: one dropout mask per sequence "
                                              "on the LSTM's input, between its layers and on its output "
                                              "(AWD-LSTM).")] = False,
    embed_dropout: Annotated[float, typer.Option("--embed-dropout", help="Drop this fraction of word types "
                                                 "(whole embedding rows) per batch: word dropout.")] = 0.0,
    weight_drop: Annotated[float, typer.Option("--weight-drop", help="lm: DropConnect on the LSTM's "
                                               "hidden-to-hidden weights.")] = 0.0,
    tie_weights: Annotated[Optional[bool], typer.Option("--tie-weights/--no-tie-weights", help="lm: share the "
                                                        "embedding and decoder matrices (default: on when "
                                                        "embed-dim equals the last layer's size).")] = None,
    bidirectional: Annotated[Optional[bool], typer.Option("--bidirectional/--no-bidirectional", help="classify: "
                                                          "read texts both ways (default on; off with "
                                                          "--init-from unless --init-backward-from is "
                                                          "given).")] = None,
    reverse: Annotated[bool, typer.Option("--reverse", help="lm: read the text right to left, predicting each "
                                          "token from those after it: a backward model, which "
                                          "--init-backward-from takes.")] = False,
    adaptive_softmax: Annotated[bool, typer.Option("--adaptive-softmax/--full-softmax", help="lm: Grave et al.'s "
                                                   "adaptive softmax for a large vocabulary: frequent tokens get a "
                                                   "full softmax, rare ones clusters behind narrower projections (a "
                                                   "step 1.6-1.8x as fast at 10k words, 4.1-5.3x at 33k, on 2 CPU "
                                                   "cores).")
                                ] = False,
    cutoffs: Annotated[Optional[str], typer.Option("--cutoffs", help="With --adaptive-softmax: the frequency ranks "
                                                   "where the head and each cluster but the last end (default 2000, "
                                                   "10000, 50000, ... up to 80% of the vocabulary).",
                                                   show_default=False)] = None,
    pooling: Annotated[str, typer.Option("--pooling", help="classify: concat (the last state, max and mean side "
                                         "by side, as ULMFiT; measured best), mean, last, max or attention.",
                                         callback=choice_value)] = "concat",
    max_length: Annotated[int, typer.Option("--max-length", help="classify: tokens kept per text.")] = 256,
    class_weights: Annotated[str, typer.Option("--class-weights", help="classify: none, or auto to weight "
                                               "classes by inverse frequency.", callback=choice_value)] = "none",
    patience: Annotated[Optional[int], typer.Option("--patience", help="Stop after this many validations "
                                                    "without improvement.")] = None,
    init_from: Annotated[Optional[Path], typer.Option("--init-from", help="Start from this language model's "
                                                      "weights and tokenizer: its embedding and LSTM for a "
                                                      "classifier, all of it for a language model.")] = None,
    init_backward_from: Annotated[Optional[Path], typer.Option("--init-backward-from", help="classify with "
                                                               "--init-from: start the backward direction "
                                                               "from this right-to-left language model "
                                                               "(trained with --reverse --init-from the "
                                                               "same model --freeze-embedding).")] = None,
    embed_init: Annotated[Optional[Path], typer.Option("--embed-init", help="Start the embedding from pretrained "
                                                       "word vectors: a GloVe, word2vec or fastText file (text or "
                                                       "word2vec binary, maybe compressed). The vocabulary's words "
                                                       "take their vectors (as written, else lowercased); the "
                                                       "others start at random ones of the same scale. Sets "
                                                       "--embed-dim.")] = None,
    extend_vocab: Annotated[bool, typer.Option("--extend-vocab", help="With --init-from a char or word level "
                                               "model: add the words (or characters) of this corpus's training "
                                               "split that it lacks, seen at least --min-freq times, their "
                                               "embeddings starting at the mean of its own (ULMFiT), instead of "
                                               "reading them as <unk> (a language model with an adaptive "
                                               "softmax can seed a classifier so, not another language model)."
                                               )] = False,
    freeze_embedding: Annotated[bool, typer.Option("--freeze-embedding", help="Keep the embedding table (and "
                                                   "a decoder tied to it) as it starts, from "
                                                   "--init-from or --embed-init.")] = False,
    freeze_epochs: Annotated[int, typer.Option("--freeze-epochs", help="classify with --init-from: epochs "
                                               "with the pretrained layers frozen (1 adds 0.8 points on "
                                               "SST-2).")] = 0,
    pretrained_lr: Annotated[float, typer.Option("--pretrained-lr", help="classify with --init-from: the "
                                                 "pretrained embedding and LSTM learn at this fraction of "
                                                 "--lr (ULMFiT's discriminative fine-tuning; 0.3 with "
                                                 "--bidirectional --freeze-epochs 1 gives 87.2% on "
                                                 "SST-2).")] = 1.0,
    adversarial: Annotated[float, typer.Option("--adversarial", help="classify: adversarial training (Miyato "
                                               "et al.): also learn from each text's embeddings moved this far "
                                               "(L2 norm, in units of the embeddings' RMS value) the way that "
                                               "raises the loss most; 5 adds 1.1 points on SST-2; a step costs "
                                               "about 1.3x.")] = 0.0,
    ema: Annotated[float, typer.Option("--ema", help="Validate and save a moving average of the weights "
                                       "with this decay (e.g. 0.999: about the last 1,000 steps) instead of "
                                       "the last weights; 0 is off.")] = 0.0,
    distill_from: Annotated[Optional[list[Path]], typer.Option("--distill-from", metavar="RUN", help="classify: "
                                                               "also learn from this classifier run's "
                                                               "probabilities on the training texts (repeatable: "
                                                               "their mean), knowledge distillation: one model "
                                                               "near an ensemble's accuracy. The runs share this "
                                                               "run's tokenizer and labels.")] = None,
    distill_weight: Annotated[float, typer.Option("--distill-weight", help="With --distill-from: the teachers' "
                                                  "share of the loss; the labels have the rest.")] = 0.5,
    distill_temperature: Annotated[float, typer.Option("--distill-temperature", help="With --distill-from: both "
                                                       "the teachers' and the model's logits are divided by "
                                                       "this; above 1 softens confident teachers.")] = 2.0,
    seq_len: Annotated[int, typer.Option("--seq-len", help="lm: tokens per truncated-BPTT window.")] = 128,
    shift_windows: Annotated[bool, typer.Option("--shift-windows/--fixed-windows", help="lm: start each "
                                                "epoch's windows at a random offset, so no token is always "
                                                "first in its window (the aim of AWD-LSTM's variable BPTT, "
                                                "at one fixed shape).")] = False,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Streams (lm) or texts (classify) "
                                                      "per step.")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Peak learning rate (default 3e-3 with adamw; with sgd or "
                                                "asgd 20 for a language model, 1 for a classifier).")] = None,
    optimizer: Annotated[str, typer.Option("--optimizer", help="adamw, sgd, or asgd (SGD that starts "
                                           "averaging the weights once validation stalls: NT-ASGD).",
                                           callback=choice_value)] = "adamw",
    weight_decay: Annotated[Optional[float], typer.Option("--weight-decay", help="Decay of the weight matrices "
                                                          "(default 0.01 for adamw, none for sgd and asgd; "
                                                          "AWD-LSTM uses 1.2e-6 with sgd).")] = None,
    clip: Annotated[float, typer.Option("--clip", help="Gradient-norm clipping (0 = off).")] = 1.0,
    ar: Annotated[float, typer.Option("--ar", help="lm: activation regularisation, this times the mean square "
                                      "of the last layer's outputs (AWD-LSTM: 2; in the logged train "
                                      "loss).")] = 0.0,
    tar: Annotated[float, typer.Option("--tar", help="lm: temporal activation regularisation, this times the "
                                       "mean square of their step-to-step change (AWD-LSTM: 1).")] = 0.0,
    schedule: Annotated[str, typer.Option("--schedule", help="cosine (down to a tenth of --lr over the run's "
                                          "planned steps, --epochs or --max-steps; a --time-limit that comes first "
                                          "ends it where it is), plateau (/4 for sgd, /2 else, when validation "
                                          "does not improve) or constant.", callback=choice_value)] = "cosine",
    warmup_steps: Annotated[int, typer.Option("--warmup-steps", help="Linear LR warm-up steps.")] = 50,
    epochs: Annotated[Optional[float], typer.Option("--epochs", help="Passes over the training split (default "
                                                    "15 for lm, 10 for classify; none with --max-steps).")] = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="Stop after this many steps (without "
                                                  "--epochs, however many epochs they take).")] = None,
    time_limit: Annotated[Optional[str], typer.Option("--time-limit", help="Stop once the run has trained this "
                                                      "long: seconds (600) or 90s, 10m, 1.5h; on --resume, the time "
                                                      "before counts.")] = None,
    eval_every: Annotated[Optional[int], typer.Option("--eval-every", help="Steps between validations (0 = once "
                                                      "per epoch; default 100 for lm, 0 for classify).")] = None,
    log_every: Annotated[int, typer.Option("--log-every", help="Steps between loss read-backs.")] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.", callback=seed_value)] = 1234,
    device: Device = "auto",
    precision: Annotated[str, typer.Option("--precision", help="auto (bf16 autocast on CUDA and on CPUs "
                                           "with bf16 units such as AMX, else fp32), fp32, bf16 or fp16.",
                                           callback=choice_value)] = "auto",
    cuda_graphs: Annotated[bool, typer.Option("--cuda-graphs/--no-cuda-graphs", help="On CUDA: replay the whole "
                                              "training step as one captured CUDA graph (faster).")] = True,
    compile_head: Annotated[bool, typer.Option("--compile/--no-compile", help="lm: compile the full softmax's decoder "
                                               "and loss with torch.compile (1.5x on that part for a 10k-word model "
                                               "on a CPU; seconds to compile at the start; eager if compiling fails)."
                                               )] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Run folder (default "
                                                "checkpoints/<corpus>-<level>-<time>).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing run in --out (its own "
                                            "files; other files there are kept).")] = False,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue this run folder from its last "
                                                   "saved state (settings come from the run).")] = None,
    save_every: Annotated[str, typer.Option("--save-every", help="Save resumable state every N steps (500) or "
                                            "every so long (90s, 10m, 1h), besides every validation (0: only "
                                            "then).")] = "10m",
    on_nan: Annotated[str, typer.Option("--on-nan", help="stop (default) or skip batches whose loss is not "
                                        "finite.", callback=choice_value)] = "stop",
    preset: Annotated[Optional[str], typer.Option("--preset", help="Start from a named recipe, or a recipe file "
                                                  "(.json) of your own; flags you give override it. --preset list "
                                                  "describes them and where to get their corpora.")] = None,
    output: Annotated[str, typer.Option("--format", help="table, or json: the summary as one JSON object on "
                                        "stdout, for scripts (progress and notes stay on stderr).",
                                        callback=choice_value)] = "table",
    json_out: JsonFlag = False,
    quiet: Quiet = False,
) -> None:
    """Train an LSTM language model or text classifier (tokenizing the corpus first when needed).

    Examples: lstmtext train corpora/tales.txt --epochs 8 --out checkpoints/tales-8;
    lstmtext train --task classify --out checkpoints/reviews
    """
    given = {k: v for k, v in locals().items() if k != "ctx"}  # the converted arguments (Paths as Paths)
    from rich.markup import escape

    from lstmtext.data import MOSTLY_UNK, Prepared, is_prepared
    from lstmtext.distill import check_teacher_runs, check_teachers_fit
    from lstmtext.render import err
    from lstmtext.tokenizers import extends

    if preset == "list":
        from lstmtext.cli.train_presets import list_presets

        list_presets()
        return
    if preset is not None:
        if resume is not None:
            raise usage_error("--preset cannot be combined with --resume", "the run already has its settings")
        merged = {**given, **_preset_values(ctx, preset), "preset": None}
        return train.__wrapped__(ctx, **merged)  # type: ignore[attr-defined]
    output = chosen_format(ctx, output, json_out)
    parse_save_every(save_every)
    time_limit = parse_duration(time_limit, "--time-limit")
    if on_nan not in ("stop", "skip"):
        raise usage_error(f"unknown --on-nan {on_nan!r}", "choose stop or skip")
    if resume is not None:
        _resume_run(ctx, resume, max_steps=max_steps, epochs=epochs, time_limit=time_limit, device=device,
                    save_every=save_every, on_nan=on_nan, quiet=quiet, log_every=log_every, output=output,
                    patience=patience)
        return
    if corpus is not None and "task" not in typed(ctx) and ctx.params.get("preset") is None and is_prepared(
            Path(corpus)):  # a prepared folder says which task it was prepared for
        from lstmtext.data import read_meta

        prepared_task = (read_meta(Path(corpus)) or {}).get("task")
        if prepared_task in TASK_DEFAULTS and prepared_task != task:
            task = prepared_task
            if not quiet:
                from lstmtext.render import err

                err.print(f"note: {escape(corpus)} was prepared for a classifier: training one (--task classify)")
    _check_task(task)
    d = TASK_DEFAULTS[task]
    asked_cutoffs = parse_cutoffs(cutoffs) if cutoffs is not None else None
    output_flags = {name: value for name, value in (("tie_weights", tie_weights), ("cutoffs", asked_cutoffs),
                                                    ("adaptive_softmax", adaptive_softmax)) if name in typed(ctx)}
    lm_model = _lm_config(init_from, "--init-from")["model"] if init_from is not None else None
    lm_dims = _lm_dims(lm_model, init_from, task, embed_dim, hidden_size, layers, last_layer_size, output_flags)
    lm_tokenizer = _lm_tokenizer(init_from) if init_from is not None else None
    _check_backward(init_backward_from, init_from, lm_model, lm_tokenizer, task, bidirectional)
    vectors_shape = None if embed_init is None else check_embed_init(
        embed_init, init_from, embed_dim, level if task == "lm" else "word", corpus is not None and is_prepared(
            Path(corpus)))
    hidden = lm_dims.get("hidden_size", hidden_size if hidden_size is not None else d["hidden_size"])
    train_cfg = TrainConfig(
        seq_len=seq_len, batch_size=batch_size if batch_size is not None else d["batch_size"],
        lr=lr if lr is not None else d["lr"] if optimizer == "adamw" else SGD_LR[task], optimizer=optimizer,
        weight_decay=weight_decay, clip=clip,
        schedule=schedule, warmup_steps=warmup_steps,
        epochs=epochs if epochs is not None else None if max_steps is not None else d["epochs"],
        max_steps=max_steps, time_limit=time_limit,
        eval_every=eval_every if eval_every is not None else d["eval_every"], log_every=log_every, seed=seed,
        device=device, precision=precision, patience=patience, max_length=max_length, class_weights=class_weights,
        freeze_epochs=freeze_epochs, adversarial=adversarial, cuda_graphs=cuda_graphs, ar=ar, tar=tar,
        compile=compile_head, shift_windows=shift_windows, freeze_embedding=freeze_embedding,
        pretrained_lr=pretrained_lr, ema=ema, distill_from=[str(p) for p in distill_from or []],
        distill_weight=distill_weight, distill_temperature=distill_temperature)
    train_cfg.validate()
    embed = lm_dims.get("embed_dim", embed_dim if embed_dim is not None else vectors_shape.dim if vectors_shape
                        else hidden)
    model_cfg = ModelConfig(
        task=task, embed_dim=embed, hidden_size=hidden,
        layers=lm_dims.get("layers", layers if layers is not None else d["layers"]),
        dropout=dropout if dropout is not None else d["dropout"],
        tie_weights=lm_dims.get("tie_weights", embed == (last_layer_size or hidden)) if tie_weights is None
        else tie_weights,
        bidirectional=False if task != "classify" else (init_from is None or init_backward_from is not None)
        if bidirectional is None else bidirectional, pooling=pooling, variational=variational,
        embed_dropout=embed_dropout, weight_drop=weight_drop, layer_dropout=layer_dropout,
        last_layer_size=lm_dims.get("last_layer_size", last_layer_size), reverse=reverse,
        cutoffs=lm_dims.get("cutoffs", (asked_cutoffs or []) if adaptive_softmax else []))
    _refuse_other_task_flags(ctx, task)
    refuse_unless(ctx, {"overwrite": (out is not None, "replaces the run in --out, and no --out was given (a new "
                                                       "run folder is made)")})
    validate_model(model_cfg)
    _refuse_conflicting_flags(ctx, model_cfg, lm_tokenizer, task=task, cutoffs=cutoffs,
                              adaptive_softmax=adaptive_softmax, freeze_epochs=freeze_epochs, optimizer=optimizer,
                              pretrained_lr=pretrained_lr, init_from=init_from, extend_vocab=extend_vocab,
                              reverse=reverse, adversarial=adversarial, ar=ar, tar=tar, compile_head=compile_head,
                              shift_windows=shift_windows, distill_from=distill_from, schedule=schedule)
    teachers = check_teacher_runs(distill_from or [])
    _refuse_out_as_input(out, [("--init-from", init_from), ("--init-backward-from", init_backward_from),
                               *(("--distill-from", run) for run in distill_from or [])])
    if not quiet:
        from lstmtext.cli.notes import note_in_training

        for run, use in [(init_from, "starting from"), (init_backward_from, "starting from"),
                         *((teacher, "learning from") for teacher in distill_from or [])]:
            if run is not None:
                note_in_training(run, use)
    if vectors_shape is not None and task == "lm" and tie_weights is None and not model_cfg.tie_weights \
            and not quiet:  # the vectors set the embedding's width, and the default tie follows widths
        from lstmtext.render import err

        last = model_cfg.last_layer_size or model_cfg.hidden_size
        err.print(f"note: the decoder is not tied to the embedding: --embed-init's vectors have {embed} numbers and "
                  f"the last LSTM layer {last:,} units; --tie-weights ties them through a projection, or "
                  f"--last-layer-size {embed} without one")
    # A device that may be missing (cuda, mps) is checked before tokenizing; auto and cpu cannot fail,
    # so with them torch loads only once training starts, after any mistake in the corpus is reported.
    if device not in ("auto", "cpu"):
        from lstmtext.devices import resolve_device

        resolve_device(device)
    corpus_arg = corpus if corpus is not None else str(_default_corpus(task))
    _refuse_unused_data_flags(ctx, corpus_arg, is_prepared(Path(corpus_arg)), lm_tokenizer, init_from,
                              extend_vocab, given)  # first: a flag that cannot apply, before a folder in the way
    if out is not None:
        _check_out(out, overwrite)
    if is_prepared(Path(corpus_arg)):
        prepared_path = Path(corpus_arg)
        stale = _stale(prepared_path, lm_tokenizer)
        if stale and not quiet:
            from lstmtext.data import prepare_again

            again = prepare_again(prepared_path, Prepared.open(prepared_path).meta)
            warn([f"{prepared_path} was prepared by an older lstmtext: {stale}; to {again}"])
    else:
        spec = _spec(level or DEFAULT_LEVEL[task], vocab_size, lowercase, min_freq, word_split)
        if lm_tokenizer is not None:
            spec = _spec(lm_tokenizer.kind, None, lm_tokenizer.lowercase, min_freq if extend_vocab else 1,
                         getattr(lm_tokenizer, "word_split", "punct"))
        prepared_path, meta, reused, seconds = _prepare(
            corpus_arg, spec, None, False, encoding=encoding, text_column=text_column,
            valid_fraction=valid_fraction, test_fraction=test_fraction, split_seed=split_seed, task=task,
            label_column=label_column, quiet=quiet, tokenizer=lm_tokenizer, extend=extend_vocab, given=typed(ctx))
        if not quiet:
            err.print(_data_table(prepared_path, meta, reused, seconds))
    prepared = Prepared.open(prepared_path)
    _check_prepared_task(prepared, task, prepared_path)
    if extend_vocab and not quiet:
        added = prepared.tokenizer.vocab_size - lm_tokenizer.vocab_size
        err.print(f"--extend-vocab: {added:,} {'characters' if lm_tokenizer.kind == 'char' else 'words'} added to "
                  f"the {lm_tokenizer.vocab_size:,} of {escape(str(init_from))}, starting at their mean embedding")
    train_split = prepared.meta["splits"]["train"]
    unk_rate = train_split["unk"] / train_split["tokens"] if train_split["tokens"] else 0.0
    noted = unk_rate > MOSTLY_UNK and not is_prepared(Path(corpus_arg))  # preparing warned of it, the same advice
    if lm_tokenizer is not None and not extend_vocab and unk_rate > 0.05 and not noted and not quiet:
        warn([f"{unk_rate:.1%} of the training tokens are <unk> to {init_from}'s vocabulary (all read as one word); "
              "--extend-vocab adds this corpus's words to it"])
    if lm_tokenizer is not None and not (extends(prepared.tokenizer, lm_tokenizer) if extend_vocab
                                         else prepared.tokenizer.to_json() == lm_tokenizer.to_json()):
        raise UserError(f"{prepared_path} was tokenized with a different tokenizer than {init_from}",
                        "pass the raw corpus instead, so it is tokenized with the language model's tokenizer")
    check_teachers_fit(distill_from or [], teachers, prepared.labels, prepared.tokenizer, str(prepared_path),
                       extend_vocab=extend_vocab)
    model_cfg.vocab_size = prepared.tokenizer.vocab_size
    model_cfg.num_classes = len(prepared.labels)
    if adaptive_softmax and "cutoffs" not in lm_dims and not model_cfg.cutoffs:  # (--init-from decides its own)
        from lstmtext.adaptive import DEFAULT_CUTOFFS, default_cutoffs

        model_cfg.cutoffs = default_cutoffs(model_cfg.vocab_size)
        if not model_cfg.cutoffs:
            raise usage_error(f"--adaptive-softmax: the vocabulary has {model_cfg.vocab_size:,} tokens, too few to "
                              f"split after the {DEFAULT_CUTOFFS[0]:,} its head holds by default",
                              f"use --full-softmax, as cheap at this size; or give --cutoffs below "
                              f"{model_cfg.vocab_size:,}")
    wrong = cutoffs_problem(model_cfg.cutoffs, model_cfg.vocab_size)
    if wrong:
        raise usage_error(f"--cutoffs {','.join(map(str, model_cfg.cutoffs))}: {wrong}",
                          f"give cutoffs below {model_cfg.vocab_size:,}, or leave --cutoffs out")
    vectors = None if vectors_shape is None else load_embed_init(embed_init, vectors_shape, prepared, quiet,
                                                                 embed_dim, freeze_embedding)
    run_dir, clear_old, made = _run_dir(out, Path(corpus_arg).stem or "corpus", prepared.level, overwrite)
    if distill_from and not quiet:
        texts = int(prepared.meta["splits"]["train"]["texts"])
        err.print(f"--distill-from: {len(distill_from)} teacher{'s' * (len(distill_from) > 1)} label the "
                  f"{texts:,} training texts first")

    from lstmtext.training import train as run_training

    _train_and_report(run_dir, quiet, lambda events, stop: run_training(
        run_dir, prepared, model_cfg, train_cfg, events, init_from=init_from, stop=stop, save_every=save_every,
        on_nan=on_nan, init_backward=init_backward_from,
        pretrained_vocab=lm_tokenizer.vocab_size if extend_vocab else 0, on_start=clear_old,
        embed_vectors=vectors), typed(ctx), made,
        output)
