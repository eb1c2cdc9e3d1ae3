"""Sampling text from a language model: greedy, temperature, top-k, top-p, batched, streamed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from lstmtext.config import SampleSettings
from lstmtext.tokenizers import EOS, PAD, UNK, Tokenizer


def filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Keep the ``top_k`` largest logits and the smallest set whose probability reaches ``top_p``."""
    if top_k > 0 and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = torch.softmax(sorted_logits, dim=-1)
        drop = probs.cumsum(-1) - probs > top_p  # the first token is always kept
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


def start_ids(tokenizer: Tokenizer, prompt: str) -> list[int]:
    """The prompt's ids, or a line break to start from when the prompt is empty."""
    ids = tokenizer.encode(prompt).tolist() if prompt else []
    if ids:
        return ids
    if tokenizer.kind == "char":
        newline = tokenizer.encode("\n").tolist()
        return newline if newline and newline[0] != UNK else [UNK]
    return [EOS]


class StreamText:
    """A sample's text, written as its tokens arrive.

    A tokenizer with a ``decoder()`` (word level: a token's spacing hangs on its whole line so far, the quotes
    open in it) gives each token's text as it comes. Otherwise each new token is decoded together with the few
    tokens before it (``CONTEXT``), and what it adds is written once that text is settled (a tokenizer may join
    tokens differently from decoding them apart, and byte pieces may end mid-character). Decoding everything so
    far at every token instead would make a long stream quadratic: hours for a million tokens.
    """

    CONTEXT = 8

    def __init__(self, tokenizer: Tokenizer, write: Callable[[str], Any], context: Sequence[int] = ()) -> None:
        """``context``: the tokens already shown (the prompt's), which the first new ones join onto."""
        self.tokenizer, self.write = tokenizer, write
        self.decoder = _decoder(tokenizer, context)
        self.tokens: list[int] = list(context)[-self.CONTEXT:]
        self.done = len(self.tokens)  # tokens whose text has been written

    def add(self, token: int) -> None:
        if self.decoder is not None:
            text = self.decoder(token)
            if text:
                self.write(text)
            return
        self.tokens.append(token)
        self._emit(final=False)

    def finish(self) -> None:
        self._emit(final=True)

    def _emit(self, final: bool) -> None:
        if self.decoder is not None:
            return
        start = max(0, self.done - self.CONTEXT)
        head = self.tokenizer.decode(self.tokens[start:self.done])
        text = self.tokenizer.decode(self.tokens[start:])
        if text.startswith(head) and (final or not text.endswith("\ufffd")):
            if len(text) > len(head):
                self.write(text[len(head):])
            self.done = len(self.tokens)


def _decoder(tokenizer: Tokenizer, context: Sequence[int]) -> Callable[[int], str] | None:
    """The tokenizer's decoder (see StreamText), told of ``context`` already, or None where it has none."""
    make = getattr(tokenizer, "decoder", None)
    if make is None:
        return None
    decoder = make()
    for i in context:
        decoder(i)
    return decoder


def text_after(tokenizer: Tokenizer, context: Sequence[int], ids: Sequence[int]) -> str:
    """The text that tokens ``ids`` add after the tokens ``context`` (the space between them included)."""
    decoder = _decoder(tokenizer, context)
    if decoder is not None:
        return "".join(decoder(i) for i in ids)
    near = list(context)[-StreamText.CONTEXT:]
    head = tokenizer.decode(near)
    whole = tokenizer.decode(near + list(ids))
    return whole[len(head):] if whole.startswith(head) else tokenizer.decode(ids)


def text_before(tokenizer: Tokenizer, ids: Sequence[int], context: Sequence[int]) -> str:
    """The text that tokens ``ids`` add before the tokens ``context``: what a reversed model wrote."""
    decoder = _decoder(tokenizer, ())
    if decoder is not None:
        text = "".join(decoder(i) for i in ids)
        joint = decoder(context[0]) if ids and context else ""  # the space the context's first token takes
        return text + " " if joint.startswith(" ") else text
    near = list(context)[:StreamText.CONTEXT]
    tail = tokenizer.decode(near)
    whole = tokenizer.decode(list(ids) + near)
    return whole[:len(whole) - len(tail)] if whole.endswith(tail) else tokenizer.decode(ids)


GRAPH_MIN_LENGTH = 32  # shorter samples decode eagerly: capturing costs more than it would save
COUNT_EVERY = 32  # sample() tells a progress bar of its tokens every this many steps (a call costs microseconds)
NOISE_STEPS = 64  # steps of sampling noise drawn in one go (fewer, larger RNG calls) ...
NOISE_BYTES = 64 << 20  # ... as long as [steps, samples, vocabulary] floats stay under this


class Decoder:
    """One token of sampling for every row, over fixed buffers, so that on CUDA the step can be
    captured once as a graph and replayed for each token (see ``graphs.Replayer``).

    The buffers hold the last logits, the LSTM state, the tokens drawn so far with a device-side
    position, and exponential noise drawn ahead for ``NOISE_STEPS`` steps. A row's token is
    ``argmax(p / q)`` with ``q ~ Exp(1)``: the algorithm ``torch.multinomial`` uses for one sample,
    without its host-side check of the probabilities (a sync per token, and not capturable).
    The noise for a step depends only on the seed, the step and the batch shape, so a longer
    ``--length`` with the same seed continues the shorter sample.
    """

    def __init__(self, model: torch.nn.Module, settings: SampleSettings, last: torch.Tensor, state: tuple,
                 device: torch.device) -> None:
        self.model, self.settings = model, settings
        rows, vocab = last.shape
        self.last = last.float().contiguous()
        self.state = tuple(s.contiguous() for s in state)
        self.banned = torch.zeros(vocab, dtype=torch.bool, device=device)
        self.banned[[PAD, UNK]] = True
        self.out = torch.empty(rows, settings.length, dtype=torch.long, device=device)
        self.token = torch.zeros(rows, dtype=torch.long, device=device)
        self.t = torch.zeros(1, dtype=torch.long, device=device)
        self.chunk = max(1, min(NOISE_STEPS, NOISE_BYTES // (4 * rows * vocab)))
        self.noise = torch.empty(self.chunk, rows, vocab, device=device) if settings.temperature > 0 else None
        self.slot = torch.zeros(1, dtype=torch.long, device=device)

    def prepare(self, t: int, generator: torch.Generator) -> None:
        """Before step ``t``, outside any graph: draw the next chunk of noise when the last is used up."""
        if self.noise is not None and t % self.chunk == 0:
            # a zero draw would make a filtered token's 0/0 a NaN, which argmax would pick
            self.noise.exponential_(generator=generator).clamp_(min=torch.finfo(torch.float32).tiny)
            self.slot.zero_()

    def step(self) -> None:
        """Draw one token per row from the last logits, record it, and run the model one step on it."""
        settings = self.settings
        last = self.last.masked_fill(self.banned, float("-inf"))
        if self.noise is None:
            nxt = last.argmax(-1)
        else:
            # the largest logit brought to 0 first: divided by a tiny temperature (1e-40) the others go to -inf,
            # where logits divided as they were overflowed to inf, and softmax gave NaN (and argmax the padding)
            scaled = (last - last.amax(-1, keepdim=True)) / settings.temperature
            probs = torch.softmax(filter_logits(scaled, settings.top_k, settings.top_p), -1)
            nxt = (probs / self.noise.index_select(0, self.slot)[0]).argmax(-1)
            self.slot += 1
        self.out.index_copy_(1, self.t, nxt[:, None])
        self.t += 1
        self.token.copy_(nxt)
        logits, state = self.model(nxt[:, None], self.state)
        self.last.copy_(logits[:, -1])
        for buffer, new in zip(self.state, state):
            buffer.copy_(new)


@torch.no_grad()
def sample(model: torch.nn.Module, tokenizer: Tokenizer, prompt: str, settings: SampleSettings,
           device: torch.device, on_step: Callable[[list[int]], None] | None = None, cuda_graph: bool = True,
           report: dict | None = None, done: Callable[[int], None] | None = None,
           keep_on_interrupt: bool = False) -> list[list[int]]:
    """Generate ``settings.length`` tokens after the prompt for each of ``num_samples`` rows (before
    it, in text order, for a model that reads right to left: ``--reverse``).

    The prompt is run through the model first to warm the LSTM state. ``on_step`` (used for
    streaming) receives the new token of every row after each step. On CUDA (unless ``cuda_graph``
    is False, or the sample is shorter than ``GRAPH_MIN_LENGTH``) the one-token step is captured as a
    CUDA graph after a few eager steps and replayed, which takes its dozens of kernel launches off the
    host; if capture fails it stays eager.
    ``report``, when given, receives how the steps ran (``decode``). ``done(n)`` (a progress bar) is told of
    every n tokens written, every ``COUNT_EVERY`` steps; it does not wait for the device. With
    ``keep_on_interrupt``, Ctrl-C or SIGTERM ends the sampling with the tokens drawn so far, the exception and
    their number left in ``report`` (``interrupted``, ``steps``) for the caller to raise once it has shown them.
    """
    from lstmtext.graphs import Replayer

    model.eval()
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    reverse = model.cfg.reverse
    first = start_ids(tokenizer, prompt)
    ids = torch.tensor([first[::-1] if reverse else first], device=device).repeat(settings.num_samples, 1)
    state = None
    for start in range(0, ids.shape[1], 4096):  # long prompts in slices: bounded memory
        logits, state = model(ids[:, start:start + 4096], state, last_only=True)
    decoder = Decoder(model, settings, logits[:, -1], state, device)
    if not prompt:  # started from a line break: the text starts with a line, not blank ones
        decoder.last[:, first[0]] = float("-inf")
    replayer = Replayer(None, device, capture=cuda_graph and device.type == "cuda"
                        and settings.length >= GRAPH_MIN_LENGTH)
    steps = 0
    try:
        for t in range(settings.length):
            decoder.prepare(t, generator)
            replayer.run(settings.num_samples, decoder.step)
            steps = t + 1
            if on_step is not None:
                on_step(decoder.token.tolist())
            if done is not None and ((t + 1) % COUNT_EVERY == 0 or t + 1 == settings.length):
                done(settings.num_samples * ((t % COUNT_EVERY) + 1))
    except KeyboardInterrupt as stop:
        if not keep_on_interrupt or report is None:
            raise
        report.update(interrupted=stop, steps=steps)
    if report is not None:
        report["decode"] = replayer.mode
    rows = decoder.out[:, :steps].tolist()
    return [row[::-1] for row in rows] if reverse else rows
