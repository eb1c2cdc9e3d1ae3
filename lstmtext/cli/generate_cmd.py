"""`generate`: sampling text from a trained language model, streamed as it is written, or printed whole (as
JSON too)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lstmtext.cli.exits import handle_errors
from lstmtext.cli.notes import note_weights
from lstmtext.cli.options import Device, Weights, refuse_unless, seed_value, typed, choice_value
from lstmtext.errors import usage_error


@handle_errors
def generate(
    ctx: typer.Context,
    checkpoint: Annotated[Path, typer.Argument(
        metavar="CHECKPOINT", help="A run folder written by lstmtext train.")],
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="Text to start from.")] = "",
    prompt_file: Annotated[Optional[Path], typer.Option("--prompt-file", help="Read the prompt from this file "
                                                        "('-': stdin), for a prompt too long to type.")
                           ] = None,
    length: Annotated[int, typer.Option("--length", "-n", "--max-tokens", help="Tokens to generate.")] = 300,
    temperature: Annotated[float, typer.Option("--temperature", "-t", help="Sampling temperature (0 = "
                                               "greedy).")] = 0.8,
    top_k: Annotated[int, typer.Option("--top-k", help="Sample from the k most likely tokens (0 = off).")] = 0,
    top_p: Annotated[float, typer.Option("--top-p", help="Nucleus sampling mass, in (0, 1].")] = 1.0,
    num_samples: Annotated[int, typer.Option("--num-samples", help="Samples drawn together in one "
                                             "batch.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Same seed (and --num-samples), same text, on the same device.",
                                      callback=seed_value)] = 0,
    stream: Annotated[bool, typer.Option("--stream/--no-stream", help="Print tokens as they come (one "
                                         "sample only).")] = True,
    weights: Weights = "best",
    device: Device = "auto",
    output: Annotated[str, typer.Option("--format", help="text, or json: one object with the samples and "
                                        "the settings that give them again, for scripts.",
                                        callback=choice_value)] = "text",
    json_out: Annotated[bool, typer.Option("--json", help="The same as --format json.")] = False,
    cuda_graphs: Annotated[bool, typer.Option("--cuda-graphs/--no-cuda-graphs", help="On CUDA: replay the "
                                              "one-token step as a captured CUDA graph (faster).")] = True,
) -> None:
    """Sample text from a trained language model.

    Example: lstmtext generate checkpoints/tales --prompt "The miller said" --length 400 --temperature 0.7
    """
    from lstmtext.config import SampleSettings

    if output not in ("text", "json"):
        raise usage_error(f"unknown --format {output!r}", "choose text or json")
    if json_out and output != "json" and "output" in typed(ctx):
        raise usage_error(f"--json and --format {output} ask for two formats", "give one of them")
    json_out = json_out or output == "json"
    settings = SampleSettings(length=length, temperature=temperature, top_k=top_k, top_p=top_p,
                              num_samples=num_samples, seed=seed)
    settings.validate()
    greedy = "does nothing with --temperature 0: greedy decoding takes the most likely token every time"
    refuse_unless(ctx, {"stream": (not stream or num_samples == 1 and not json_out, "prints one sample as it is "
                                   "written, not --num-samples above 1 or --format json"),
                        **{name: (temperature > 0, greedy) for name in ("top_k", "top_p", "seed")}})
    if temperature == 0 and num_samples > 1:
        raise usage_error(f"--num-samples {num_samples} with --temperature 0 would print one text {num_samples} times: "
                          "greedy decoding takes the most likely token every time",
                          "sample (--temperature above 0), or leave out --num-samples")
    if prompt_file is not None:
        if "prompt" in typed(ctx):
            raise usage_error("--prompt and --prompt-file give two prompts", "give one of them")
        prompt = _read_prompt(prompt_file)
    if len(prompt) > 1_000_000:
        flag = "--prompt" if prompt_file is None else f"--prompt-file {prompt_file}"
        raise usage_error(f"{flag} is {len(prompt):,} characters long", "keep it under 1,000,000 characters")
    from lstmtext.checkpoint import check_run, load_checkpoint

    check_run(checkpoint, "lm")  # a missing or wrong run is reported before torch is imported
    from lstmtext.render import counting, err
    from lstmtext.sampling import StreamText, sample, start_ids, text_after, text_before
    from lstmtext.cli.notes import on_the_cpu
    from lstmtext.devices import resolve_device

    dev = resolve_device(device)
    if dev.type == "cpu":  # each step's freed activations stay with the process: 4.6x generate's tokens/s
        on_the_cpu()
    ckpt = load_checkpoint(checkpoint, str(dev), weights=weights, task="lm")
    note_weights(ckpt, weights)
    tok = ckpt.tokenizer
    unknown = tok.unknown(prompt)
    if unknown:
        from rich.markup import escape

        from lstmtext.render import visible_repr

        shown = escape(", ".join(visible_repr(u) for u in unknown[:10]))
        cased = "" if len(tok.unknown(prompt.lower())) >= len(unknown) else \
            " (the model knows more of them in lowercase: it was trained on lowercased text)"
        err.print(f"[yellow]warning:[/] the prompt has {len(unknown)} token(s) the model never saw ({shown}); "
                  f"they are read as <unk>{escape(cased)}")
    reverse = ckpt.model.cfg.reverse  # it writes what comes before the prompt, last token first
    if reverse and stream and "stream" in typed(ctx):
        raise usage_error(f"--stream cannot stream {checkpoint}: it was trained with --reverse and writes the text "
                          "before the prompt last word first, so the text is printed once it is whole", "drop --stream")
    streaming = stream and num_samples == 1 and not json_out and not reverse
    context = start_ids(tok, prompt)  # the prompt's tokens, which the new text joins onto
    # the space a word's decoding puts between the prompt and the new text, where the prompt has one of its own
    spaced_after, spaced_before = prompt[-1:].isspace(), prompt[:1].isspace()
    if streaming:
        sys.stdout.write(prompt)
        sys.stdout.flush()
        first = [spaced_after]

        def write(piece: str) -> None:  # StreamText writes only non-empty pieces: the first is the joint
            piece, first[0] = _unspaced(piece, first[0]), False
            sys.stdout.write(piece)
            sys.stdout.flush()
        text = StreamText(tok, write, context=context)
        try:
            sample(ckpt.model, tok, prompt, settings, dev, lambda new: text.add(new[0]), cuda_graph=cuda_graphs)
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM: the line so far ends, the error has a line of its own
            sys.stdout.write("\n")
            sys.stdout.flush()
            raise
        text.finish()
        sys.stdout.write("\n")
        return
    report: dict[str, Any] = {}
    with counting("generate", length * num_samples, "tokens") as done:
        rows = sample(ckpt.model, tok, prompt, settings, dev, cuda_graph=cuda_graphs, done=done, report=report,
                      keep_on_interrupt=True)
    if reverse:
        texts = [_unspaced(text_before(tok, r, context), spaced_before, end=True) + prompt for r in rows]
    else:
        texts = [prompt + _unspaced(text_after(tok, context, r), spaced_after) for r in rows]
    stopped = report.get("interrupted")  # Ctrl-C or SIGTERM: the samples so far are printed, then the stop
    if json_out:
        from dataclasses import asdict

        from lstmtext.checkpoint import LAST_WEIGHTS

        used = "last" if ckpt.weights_file == LAST_WEIGHTS else weights  # and the settings: the same samples again
        cut = {"interrupted_after": report["steps"]} if stopped is not None else {}
        print(json.dumps({"checkpoint": str(checkpoint), "prompt": prompt, "samples": texts, "weights": used,
                          **asdict(settings), **cut}, ensure_ascii=False))
    else:
        for k, text in enumerate(texts):
            if num_samples > 1:
                print(f"--- sample {k + 1} ---")
            print(text)
    if stopped is not None:  # the samples so far are printed; the command still ends as interrupted
        err.print(f"note: stopped after {report['steps']:,} of {length:,} tokens a sample; the text so far is above")
        raise stopped


def _unspaced(text: str, prompt_spaced: bool, end: bool = False) -> str:
    """``text`` without the one space that joins it to a prompt which has a space of its own there."""
    if not prompt_spaced:
        return text
    if end:
        return text[:-1] if text.endswith(" ") else text
    return text[1:] if text.startswith(" ") else text


def _read_prompt(path: Path) -> str:
    """--prompt-file's text: the file's, or stdin's for '-'; UTF-8, or UTF-16 or UTF-32 where it starts with their
    byte-order mark (as a corpus is read: Windows' Notepad saves 'Unicode' so); one line break at its end dropped
    (an editor's or echo's, which the user did not mean as the text's last character)."""
    import codecs
    import sys

    from lstmtext.errors import UserError

    if str(path) == "-":
        data = sys.stdin.buffer.read()
        where = "stdin"
    else:
        if not path.exists():
            raise UserError(f"--prompt-file not found: {path}", "check the path")
        if path.is_dir():
            raise UserError(f"--prompt-file {path} is a folder", "give the file that holds the prompt")
        data = path.read_bytes()  # a file, or a pipe (<(...)) read once
        where = str(path)
    # the mark read from the bytes, as textfiles.marked_encoding reads a corpus's (which opens the file again: a
    # pipe, or stdin, is read once); UTF-32's little-endian mark starts as UTF-16's does, so it is tried first
    encoding = "utf-32" if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) else \
        "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"
    try:
        text = data.decode(encoding)  # (each drops its mark)
    except UnicodeDecodeError as err:
        name = "UTF-8" if encoding == "utf-8-sig" else encoding.upper()
        raise UserError(f"--prompt-file {where}: invalid {name} at byte {err.start}",
                        "save it as UTF-8 (iconv -f ENCODING -t utf-8)") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # Windows and old Mac line ends, as a corpus's are read
    if text in ("", "\n"):
        from lstmtext.render import err

        err.print(f"note: --prompt-file {where} is empty, so the text starts from a line of its own")
    return text[:-1] if text.endswith("\n") else text
