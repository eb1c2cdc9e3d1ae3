"""SentencePiece subwords (bpe, unigram): trained on the train split with identity normalisation (the text
NFC-normalised here first, since 12-08), the model's bytes kept in the tokenizer file (base64), and lines cut where
SentencePiece would skip them."""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from lstmtext.config import TokenizerSpec
from lstmtext.errors import UserError, usage_error
from lstmtext.tokenizers import EOS, NORMALIZE, PAD, UNK, normalized

DEFAULT_PIECES = 4000  # a SentencePiece vocabulary's size unless --vocab-size says otherwise or the alphabet needs more
# the longest line SentencePiece learns from, in characters: it skips any over max_sentence_length (64 KiB of UTF-8,
# up to 4 bytes a character), so a text of one long line, or one long line among others, is cut into such lines
_LONGEST_SENTENCE = 1 << 14
SPACELESS = 0.01  # a text with fewer spaces than this share of its characters is of a script written without them


class SentencePieceTokenizer:
    """SentencePiece BPE or unigram subwords. SentencePiece itself keeps the text as it is (identity normalisation:
    its own rules are NFKC, which would also fold full-width letters, ligatures and superscripts); a tokenizer built
    since 12-08 normalises it to NFC first, when it learns its pieces and when it encodes."""

    def __init__(self, model: bytes, kind: str, lowercase: bool = False, normalize: str | None = None) -> None:
        import sentencepiece as spm

        self.kind = kind
        self.lowercase = lowercase
        self.normalize = normalize  # NORMALIZE, or None (saved before 12-08): the text as it is
        self.model = model
        self.notes: list[str] = []
        self.sp = spm.SentencePieceProcessor(model_proto=model)

    @property
    def vocab_size(self) -> int:
        return int(self.sp.get_piece_size())

    def _text(self, text: str) -> str:
        """The text as this tokenizer reads it: lowercased where it was trained so, then normalised."""
        return normalized(text.lower() if self.lowercase else text, self.normalize)

    @classmethod
    def build(cls, texts: Iterable[str], spec: TokenizerSpec) -> SentencePieceTokenizer:
        import io

        import sentencepiece as spm

        alphabet: set[str] = set()
        counts = {"chars": 0, "spaces": 0}

        def sentences() -> Iterator[str]:
            for chunk in texts:
                chunk = normalized(chunk.lower() if spec.lowercase else chunk, NORMALIZE)
                if len(alphabet) < 1000:
                    alphabet.update(chunk)
                counts["chars"] += len(chunk)
                counts["spaces"] += chunk.count(" ")
                for line in chunk.split("\n"):
                    while len(line) > _LONGEST_SENTENCE:  # SentencePiece skips longer lines: cut after a space
                        cut = line.rfind(" ", _LONGEST_SENTENCE // 2, _LONGEST_SENTENCE) + 1 or _LONGEST_SENTENCE
                        if line[:cut].strip():
                            yield line[:cut]
                        line = line[cut:]
                    if line.strip():
                        yield line

        lines = list(_take(sentences(), 2_000_000))
        if not lines:
            raise UserError("the training split has no text to learn subwords from")
        coverage = 1.0 if len(alphabet) < 1000 else 0.9995
        # A script written without spaces (Chinese, Japanese) gets no space marker before each line's first piece:
        # with it, the pieces that start lines ("▁萬") were sampled mid-line too, and decoded with a space before
        # them that the text never has.
        spaced = counts["spaces"] >= SPACELESS * max(counts["chars"], 1)

        def train(size: int) -> bytes | str:
            """The model's bytes, or the reason SentencePiece gave for not building it."""
            buffer = io.BytesIO()
            try:
                spm.SentencePieceTrainer.train(
                    sentence_iterator=iter(lines), model_writer=buffer, vocab_size=size, model_type=spec.level,
                    character_coverage=coverage,
                    pad_id=PAD, unk_id=UNK, eos_id=EOS, bos_id=-1,
                    pad_piece="<pad>", unk_piece="<unk>", eos_piece="<eos>",
                    normalization_rule_name="identity", remove_extra_whitespaces=False,
                    max_sentence_length=1 << 16, num_threads=2, minloglevel=2, shuffle_input_sentence=True,
                    add_dummy_prefix=spaced,
                )
            except RuntimeError as err:
                return str(err).strip().splitlines()[-1]
            return buffer.getvalue()

        def pieces_for_alphabet(detail: str) -> int | None:
            """From 'required_chars ... 4000 vs 5920': the characters it keeps, and <pad>, <unk>, <eos>."""
            found = re.search(r"(\d+) vs (\d+)", detail)
            return int(found.group(2)) + 3 if found and "required_chars" in detail else None

        def most_pieces(detail: str) -> int | None:
            """From 'Vocabulary size too high (4000). Please set it to a value <= 304.'"""
            found = re.search(r"<= (\d+)", detail)
            return int(found.group(1)) if found else None

        def room(pieces: int) -> int:  # a quarter more than the alphabet needs, for subwords, in thousands
            return max(DEFAULT_PIECES, math.ceil(pieces * 1.25 / 1000) * 1000)

        # the default grows to fit a large alphabet (Chinese: thousands of characters; SentencePiece names how many
        # it keeps) and shrinks to what a small text supports; a size that was asked for is built as asked, or refused
        size = spec.vocab_size or DEFAULT_PIECES
        model = train(size)
        notes = []
        for _ in range(2 if spec.vocab_size is None else 0):
            if not isinstance(model, str):
                break
            needed, most = pieces_for_alphabet(model), most_pieces(model)
            if needed:
                size = room(needed)
            elif most:
                notes = [(f"this text supports at most {most:,} {spec.level} pieces, so the vocabulary has {most:,} "
                          f"rather than {size:,} (give more text for more)")]
                size = most
            else:
                break
            model = train(size)
        if isinstance(model, str):
            needed = pieces_for_alphabet(model)
            if needed:
                raise usage_error(f"--vocab-size {size} is too small for this text: SentencePiece keeps the "
                                  f"{needed - 3:,} characters that make up {coverage:.2%} of it as pieces",
                                  f"use --vocab-size {needed} or more, leave it out to size it to the text, "
                                  "or use --level char")
            most = most_pieces(model)
            if most:
                raise usage_error(f"--vocab-size {size} is more than this text supports: SentencePiece finds at "
                                  f"most {most:,} {spec.level} pieces in it",
                                  f"use --vocab-size {most} or less, or leave it out to size it to the text")
            raise usage_error(f"SentencePiece could not build a {size}-piece vocabulary: {model}",
                              "try a different --vocab-size")
        tokenizer = cls(model, spec.level, spec.lowercase, NORMALIZE)
        tokenizer.notes = notes
        return tokenizer

    def encode(self, text: str) -> np.ndarray:
        lines = self._text(text).split("\n")
        pieces = self.sp.encode(lines)
        ids: list[int] = []
        for k, p in enumerate(pieces):
            ids.extend(p)
            if k < len(lines) - 1:
                ids.append(EOS)
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        lines: list[list[int]] = [[]]
        for i in ids:
            if i == EOS:
                lines.append([])
            elif i != PAD:
                lines[-1].append(int(i))
        return "\n".join(self.sp.decode(line) for line in lines)

    def unknown(self, text: str) -> list[str]:
        out = set()
        for line in self._text(text).split("\n"):
            for piece, i in zip(self.sp.encode(line, out_type=str), self.sp.encode(line)):
                if i == UNK:
                    out.add(piece.replace("\u2581", ""))
        return sorted(out)

    def to_json(self) -> dict[str, Any]:
        saved = {"kind": self.kind, "lowercase": self.lowercase, "model": base64.b64encode(self.model).decode("ascii")}
        return {**saved, "normalize": self.normalize} if self.normalize else saved  # none saved before 12-08


def _take(items: Iterator[str], n: int) -> Iterator[str]:
    for k, item in enumerate(items):
        if k >= n:
            return
        yield item
