"""Tokenizers: char, word and SentencePiece (bpe, unigram; subwords.py) behind one small interface.

Every tokenizer reserves id 0 for <pad> and id 1 for <unk>; word and SentencePiece also use id 2
for <eos>, which stands for a newline. A tokenizer saves to one JSON file (SentencePiece's model
bytes are embedded in it, base64), so a checkpoint carries a single tokenizer file.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lstmtext.config import TokenizerSpec
from lstmtext.errors import UserError, usage_error

PAD, UNK, EOS = 0, 1, 2
FILENAME = "tokenizer.json"
# Decoding words: no space before closing marks (Latin; Devanagari's danda; Arabic's comma, semicolon and question
# mark; curly closing quotes; the CJK full stops and commas), none after opening ones (Spanish ¿ and ¡, German „)
_NO_SPACE_BEFORE = set(".,!?;:)]}%…।॥،؛؟”’、。，！？；：）」』】》〉")
_NO_SPACE_AFTER = set("([{“‘„‚¿¡（「『【《〈") | set("、。，！？；：")  # CJK marks hold their own spacing
# no space before a CJK opening bracket after a word of a script written without spaces (彼は「), nor after a closing
# one but before a Latin word (《春曉》很好, 「OK」と; 「Kokoro」 today)
_CJK_OPENING = frozenset("（「『【《〈")
_CJK_CLOSING = frozenset("）」』】》〉")
_LOW_QUOTES = {"„": "“", "‚": "‘"}  # German's opening quotes, and the ones that close them (which open in English)
_GUILLEMETS = frozenset("«»")  # « » in French, Russian and Swiss German, » « in German: which opens is the first
_LATIN = re.compile("[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]")  # a Latin letter
_STICKY = frozenset("$£€¥#@")  # no space after: $5, #1, @name
# How word level cuts text, by generation (saved in the tokenizer file, so a model reads text as it was trained to):
# 0 the first pattern; 1 (12-04) combining marks stay in their words; 2 (12-05) joiners (ZWNJ, ZWJ) stay in their
# words, numbers such as 3.14 and 1,000 are one token, and an emoji sequence (skin tone, ZWJ, flag) is one token
WORD_CUT = 2
# The Unicode normal form a tokenizer built since 12-08 reads text in (saved in its file as "normalize"): composed,
# so that an 'é' written as 'e' and a combining accent (as macOS writes file names, and some editors text) or Korean
# written as loose jamo reads as the composed text the model was trained on, and the reverse. A tokenizer saved
# before has no "normalize", and reads text as it is, as its model was trained to.
NORMALIZE = "NFC"


def normalized(text: str, form: str | None) -> str:
    """``text`` in Unicode normal form ``form`` (None: as it is). Most text already is, and goes through without a
    copy: ASCII (str.isascii reads a flag) at once, the rest after a quick check in C."""
    if form is None or text.isascii() or unicodedata.is_normalized(form, text):
        return text
    return unicodedata.normalize(form, text)


def settled_chunks(texts: Iterable[str]) -> Iterator[str]:
    """One text streamed in chunks, cut again so that normalising each chunk apart gives what normalising the whole
    would. That differs only where a chunk starts with a combining mark or a Hangul vowel or final jamo (a text
    without spaces, which the reader cut anywhere) after one that ends in a letter: the chunk before hands it its
    last character that starts afresh and the marks after that, which the mark may join (nothing joins a space or a
    line break). Chunks are otherwise passed on as they are, one behind."""
    held: str | None = None
    for chunk in texts:
        if held and chunk and _joins_back(chunk[0]) and not held[-1].isspace():
            cut = len(held) - 1
            while cut > 0 and _joins_back(held[cut]):
                cut -= 1
            held, chunk = held[:cut], held[cut:] + chunk
        if held:
            yield held
        held = chunk
    if held:
        yield held


def _joins_back(ch: str) -> bool:
    """Whether normalising may join ``ch`` to the characters before it: a combining mark (the second character of
    every composition in Unicode is one), or a Hangul vowel or final consonant jamo."""
    return unicodedata.category(ch)[0] == "M" or "\u1160" <= ch <= "\u11ff" or "\ud7b0" <= ch <= "\ud7ff"


def normal_form(saved: dict[str, Any]) -> str | None:
    """The normal form a saved tokenizer reads text in (NORMALIZE), or None for one saved before 12-08."""
    form = saved.get("normalize")
    if form not in (None, NORMALIZE):
        raise ValueError(f"its normalisation {form!r} is not one this lstmtext knows ({NORMALIZE}): upgrade lstmtext")
    return form


# Scripts written without spaces between words: Chinese, Japanese kana, Thai, Lao, Khmer, Myanmar
_UNSPACED = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0eff\u1780-\u17ff"
                       "\u1000-\u109f\U00020000-\U0003ffff]")
_WORDLIKE = re.compile(r"\w")
# marks that end a word in prose ('lord,' 'me.'), and no pattern joins to it: a word cut before one of them is cut as
# the regex cuts it (WordTokenizer._cut)
_TRAILING = frozenset(",.;:!?")
# between two words, joins them when decoded: far-off, and/or, word—word (in prose far more common than a - b; the
# word pattern cuts a hyphenated word in three, so decoding cannot tell them apart)
_JOINING = frozenset("-/—")


class Tokenizer(Protocol):
    kind: str
    notes: list[str]  # what building it noticed about the text (kept as the prepared data's warnings)

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str) -> np.ndarray: ...

    def decode(self, ids: Iterable[int]) -> str: ...

    def unknown(self, text: str) -> list[str]: ...

    def to_json(self) -> dict[str, Any]: ...


# ----------------------------------------------------------------------------- char


class CharTokenizer:
    """One token per Unicode code point; every character seen in training is kept."""

    kind = "char"

    def __init__(self, chars: list[str], lowercase: bool = False, normalize: str | None = None) -> None:
        self.itos = ["<pad>", "<unk>", *chars]
        self.lowercase = lowercase
        self.normalize = normalize  # NORMALIZE, or None (saved before 12-08): the text as it is
        self.notes: list[str] = []
        self._table: np.ndarray | None = None

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    @staticmethod
    def _codepoints(text: str) -> np.ndarray:
        return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")

    def _text(self, text: str) -> str:
        """The text as this tokenizer reads it: lowercased where it was trained so, then normalised."""
        return normalized(text.lower() if self.lowercase else text, self.normalize)

    @classmethod
    def build(cls, texts: Iterable[str], spec: TokenizerSpec, normalize: str | None = NORMALIZE) -> CharTokenizer:
        counts: Counter[int] = Counter()
        probe = cls([], spec.lowercase, normalize)
        for chunk in texts:
            chunk = probe._text(chunk)
            values, freq = np.unique(cls._codepoints(chunk), return_counts=True)
            counts.update(dict(zip(values.tolist(), freq.tolist())))
        kept = [cp for cp, c in counts.items() if c >= spec.min_freq]
        kept.sort(key=lambda cp: (-counts[cp], cp))
        if spec.vocab_size is not None:
            if spec.vocab_size <= 2:
                raise usage_error(f"--vocab-size {spec.vocab_size} is too small for char level",
                                  "it must leave room for characters beyond <unk> and <eos>")
            kept = kept[: spec.vocab_size - 2]
        return cls([chr(cp) for cp in sorted(kept)], spec.lowercase, normalize)

    def _lookup(self) -> np.ndarray:
        if self._table is None:
            table = np.full(0x110000, UNK, dtype=np.int32)
            for i, ch in enumerate(self.itos[2:], start=2):
                table[ord(ch)] = i
            self._table = table
        return self._table

    def encode(self, text: str) -> np.ndarray:
        cps = self._codepoints(self._text(text))
        return self._lookup()[np.minimum(cps, 0x10FFFF)].astype(np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        itos = self.itos
        return "".join(itos[i] if i > UNK else ("\ufffd" if i == UNK else "") for i in ids)

    def unknown(self, text: str) -> list[str]:
        ids = self.encode(text)
        chars = list(self._text(text))
        return sorted({c for c, i in zip(chars, ids.tolist()) if i == UNK})

    def to_json(self) -> dict[str, Any]:
        saved = {"kind": self.kind, "lowercase": self.lowercase, "tokens": self.itos[2:]}
        return {**saved, "normalize": self.normalize} if self.normalize else saved  # none saved before 12-08


# ----------------------------------------------------------------------------- word

_PATTERNS = {
    "punct": re.compile(r"<unk>|<eos>|\w+(?:['’]\w+)*|[^\w\s]"),
    "whitespace": re.compile(r"\S+"),
}


_NUMBER = r"\d+(?:[.,]\d+)+|"  # 3.14, 1,000, 12.5.2026: one token, written back as it was


@functools.cache
def _pattern(word_split: str, cut: int) -> re.Pattern[str]:
    """The word pattern of generation ``cut`` (WORD_CUT). Python's \\w leaves out combining marks (Unicode
    categories M*), so the first pattern cut a word of Hindi, Bengali, Tamil or Thai apart at every vowel sign,
    and a decomposed 'é' at its accent; it also cut a Persian word at its zero-width non-joiner ('می‌خواهم'), a
    number at its point ('3. 14' when written back) and an emoji with a skin tone into two. Tokenizers saved
    before read text as they were trained to."""
    if word_split != "punct" or not cut:
        return _PATTERNS[word_split]
    marks = _class(_combining_marks())
    if cut == 1:
        return re.compile(rf"<unk>|<eos>|\w[\w{marks}]*(?:['’]\w[\w{marks}]*)*|[{marks}][\w{marks}]*|[^\w\s]")
    inner = f"[\\w{marks}\u200c\u200d]"  # what continues a word: letters, marks and the joiners
    flag = "[\U0001f1e6-\U0001f1ff]{2}"  # two regional indicators
    symbol = f"[^\\w\\s](?:[{marks}\U0001f3fb-\U0001f3ff]|\u200d[^\\w\\s])*"  # with its variation, tone or ZWJ
    return re.compile(rf"<unk>|<eos>|{_NUMBER}\w{inner}*(?:['’]\w{inner}*)*|[{marks}]{inner}*|{flag}|{symbol}")


@functools.cache
def _plain(word_split: str, cut: int) -> re.Pattern[str]:
    """The pattern that cuts a line without marks, joiners or characters beyond the BMP as ``_pattern`` does,
    2-3 times as fast."""
    if word_split == "punct" and cut >= 2:
        return re.compile(rf"<unk>|<eos>|{_NUMBER}\w+(?:['’]\w+)*|[^\w\s]")
    return _PATTERNS[word_split]


@functools.cache
def _may_have_marks() -> re.Pattern[str]:
    """Finds a combining mark or a joiner in the Basic Multilingual Plane, or any character beyond it (where a
    few marks are, and the emoji): a line without any is cut the same by ``_plain``. (A class of BMP characters
    alone is a bitmap to Python's re, so this search runs at hundreds of MB/s.)"""
    bmp = _class([cp for cp in _combining_marks() if cp < 0x10000])
    return re.compile(f"[{bmp}\u200c\u200d]|[\U00010000-\U0010ffff]")


@functools.cache
def _combining_marks() -> tuple[int, ...]:
    """Every combining mark's code point. They all lie below U+20000 or in the variation selectors at U+E0100
    (a scan of about 10 ms, done once)."""
    import unicodedata

    return tuple(cp for cp in (*range(0x20000), *range(0xE0000, 0xE1000)) if unicodedata.category(chr(cp))[0] == "M")


def _class(points: Iterable[int]) -> str:
    """Code points as the inside of a regex character class, in runs ('\\u0300-\\u036f...')."""
    runs: list[list[int]] = []
    for cp in points:
        if runs and cp == runs[-1][1] + 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp])
    return "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in runs)


# abbreviations of two single letters that end there: a letter after one starts a word ('e.g. a', 'a.m. e.g.')
_WHOLE = frozenset({"am", "pm", "eg", "ie", "nb"})


def _inside_word(before: str, mark: str, tok: str, run: str) -> bool:
    """Whether ``tok`` goes on, unspaced, a word that ``before`` and the mark after it started: the minutes of
    2:40, the next letter of a.m., e.g. or a.k.a. (lower-case letters only: 'Plan A. I think' stays spaced).
    ``run`` holds the letters of the abbreviation so far (a.m: 'am'). The tokens of 'a.m. e.g.' and of 'a.m.e.g.'
    are the same, so a letter after two that are a whole abbreviation (_WHOLE) starts a word: 'e.g. a' is far
    more common than a longer abbreviation that starts as one does."""
    if mark == ":":
        return before.isdigit() and tok.isdigit()
    return mark == "." and bool(run) and len(tok) == 1 and tok.islower() and run[:2] not in _WHOLE


class _Spacing:
    """Word level's decoder (``WordTokenizer.decoder``): the text of each next token of punct-split words, its
    space before it decided by the tokens before it on its line."""

    def __init__(self, token: Callable[[int], str]) -> None:
        self.token = token
        self._new_line()

    def _new_line(self) -> None:
        self.glue = True  # no space before the next token: at a line's start, after an opening bracket or a hyphen
        self.opening = True  # a straight double quote here opens: at a line's start, or after an opening bracket
        self.quoted = False  # a straight double quote is open on this line
        self.single = False  # and a straight single one
        self.before = self.last = ""  # the two tokens before this one on the line
        self.run = ""  # the letters of an abbreviation those tokens end (a.m. -> 'am'; _inside_word)
        self.low = ""  # the quotes that close the German ones open on the line („ is closed by “, ‚ by ‘)
        self.guillemet = ""  # the guillemet that opened the pair open on the line (« or »), if any
        self.spaced: bool | None = False  # whether that pair has spaces inside; None until its first word

    def __call__(self, i: int) -> str:
        tok = self.token(i)
        if not tok:
            return ""
        if tok == "<eos>":
            self._new_line()
            return "\n"
        joined = False
        inside = self.spaced is None  # the first token after an opening guillemet
        if tok in ('"', "'"):  # straight quotes: which way they face comes from the line before them
            opens = self._opens(tok)
            space = not self.glue and opens
            self.glue = self.opening = opens
        elif len(tok) == 1 and tok in self.low:  # the “ that closes a German „ (in English it opens)
            self.low = self.low.replace(tok, "", 1)
            space = self.glue = self.opening = False
        elif tok in _GUILLEMETS:
            space = self._guillemet(tok)
        elif tok in _JOINING:  # a hyphen between two words joins them (far-off); elsewhere it is a dash (so - and)
            joins = self.last[-1:].isalnum() or tok == self.last == "-"  # and a second hyphen: x--y, I--I
            space = not self.glue and not joins
            self.glue, self.opening = joins, False
        else:
            joined = _inside_word(self.before, self.last, tok, self.run)
            space = not self.glue and tok not in _NO_SPACE_BEFORE and not joined and not (
                tok in _CJK_OPENING and _UNSPACED.match(self.last[-1:])) and not (  # 彼は「, not 彼は 「
                self.last in _CJK_CLOSING and not _LATIN.match(tok))
            self.glue = tok in _NO_SPACE_AFTER or tok in _STICKY
            self.opening = tok in _NO_SPACE_AFTER or tok in _CJK_CLOSING
            self.low += _LOW_QUOTES.get(tok, "")
        if inside:  # French spaces the words inside its guillemets (« Bonjour »), other languages do not («Привет»)
            self.spaced = self.guillemet == "«" and _LATIN.match(tok) is not None
            space = space or self.spaced
        if len(tok) == 1 and tok.islower():  # a letter goes on an abbreviation or may start one
            self.run = self.run + tok if joined else tok
        elif tok != "." or self.last != self.run[-1:]:  # a point after its letter keeps it going
            self.run = ""
        self.before, self.last = self.last, tok
        return " " + tok if space else tok

    def _guillemet(self, tok: str) -> bool:
        """Whether a space goes before this guillemet. The first on a line opens, whichever way it faces (« » in
        French and Russian, » « in German), and the other one closes it; a space goes inside the pair where its first
        word is a Latin one after a «, as French writes it (the word after it decides, in ``__call__``)."""
        if self.guillemet and tok != self.guillemet:  # closes the pair (an empty one as French writes it: « »)
            space = self.guillemet == "«" if self.spaced is None else not self.glue and self.spaced
            self.guillemet, self.spaced = "", False
            self.glue = self.opening = False
            return space
        space = not self.glue
        self.guillemet, self.spaced = tok, None
        self.glue = self.opening = True
        return space

    def _opens(self, quote: str) -> bool:
        """Whether this straight quote opens (a space before it, none after) and not closes. A double quote opens
        and closes in turn along a line, and opens at its start or after an opening bracket. A single quote closes
        one it opened, and a plural's possessive (the students' books); else it opens: a quotation ('no') or a
        word it begins ('tis, 'em, '90s)."""
        start = self.opening and self.last not in ("\"", "'")  # at the line's start, or after an opening bracket
        if quote == '"':
            self.quoted = not self.quoted or start
            return self.quoted
        if self.single and not start:
            self.single = False
            return False
        if not start and self.last[-1:] in ("s", "S"):
            return False
        self.single = True
        return True


class WordTokenizer:
    """Words (and, by default, punctuation marks) as tokens; a newline is <eos>."""

    kind = "word"

    def __init__(self, words: list[str], lowercase: bool = False, word_split: str = "punct",
                 cut: int = WORD_CUT, normalize: str | None = None) -> None:
        self.itos = ["<pad>", "<unk>", "<eos>", *words]
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.stoi.pop("<pad>")
        self.lowercase = lowercase
        self.normalize = normalize  # NORMALIZE, or None (saved before 12-08): the text as it is
        self.word_split = word_split
        self.cut = cut
        self.notes: list[str] = []
        self._pattern = _pattern(word_split, cut)
        self._plain = _plain(word_split, cut)  # the same cut where a line has no marks to keep, and faster
        self._marks_matter = self._pattern is not self._plain

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def _lines(self, text: str) -> Iterator[list[str]]:
        if self.lowercase:
            text = text.lower()
        lines = normalized(text, self.normalize).split("\n")
        for k, line in enumerate(lines):
            marked = self._marks_matter and not line.isascii() and _may_have_marks().search(line)
            tokens = self._cut(line, self._pattern if marked else self._plain)
            if k < len(lines) - 1:
                tokens.append("<eos>")
            yield tokens

    def _cut(self, line: str, pattern: re.Pattern[str]) -> list[str]:
        """``pattern.findall(line)``, faster: no token holds a space, so the line is cut at spaces first (str.split,
        in C). In every pattern a piece of letters and digits alone (str.isalnum: the regex's \\w but '_') is one
        token, and one followed by a mark of _TRAILING is two; only the other pieces go through the regex."""
        if self.word_split == "whitespace":
            return line.split()
        pieces = line.split()
        if len(pieces) < 2:  # a script written without spaces (Chinese): one piece, the regex's whole
            return pattern.findall(line)
        tokens: list[str] = []
        add, extend, findall = tokens.append, tokens.extend, pattern.findall
        for piece in pieces:
            if piece.isalnum():
                add(piece)
            elif piece[-1] in _TRAILING and piece[:-1].isalnum():
                add(piece[:-1])
                add(piece[-1])
            else:
                extend(findall(piece))
        return tokens

    @classmethod
    def build(cls, texts: Iterable[str], spec: TokenizerSpec, cut: int = WORD_CUT,
              normalize: str | None = NORMALIZE) -> WordTokenizer:
        probe = cls([], spec.lowercase, spec.word_split, cut, normalize)
        counts: Counter[str] = Counter()
        for chunk in texts:
            for tokens in probe._lines(chunk):
                counts.update(tokens)
        for special in ("<unk>", "<eos>", "<pad>"):
            counts.pop(special, None)
        kept = [w for w, c in counts.items() if c >= spec.min_freq]
        kept.sort(key=lambda w: (-counts[w], w))
        if spec.vocab_size is not None:
            if spec.vocab_size <= 3:
                raise usage_error(f"--vocab-size {spec.vocab_size} is too small for word level",
                                  "it must leave room for words beyond <pad>, <unk> and <eos>")
            kept = kept[: spec.vocab_size - 3]
        tokenizer = cls(kept, spec.lowercase, spec.word_split, cut, normalize)
        tokenizer.notes = _unspaced_words(counts)
        return tokenizer

    def encode(self, text: str) -> np.ndarray:
        get = self.stoi.get
        ids = [get(tok, UNK) for tokens in self._lines(text) for tok in tokens]
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        """The tokens as text: a space between two words, none before a closing mark or after an opening one, nor
        either side of a hyphen or slash (far-off, and/or), nor inside 2:40 or a.m. and e.g. A straight double
        quote opens and closes in turn along a line (He said "Go" and left.), as it has no direction of its own."""
        text = self.decoder()
        return "".join(text(i) for i in ids)

    def decoder(self) -> Callable[[int], str]:
        """A function of each next id that returns its text, the space before it included. A token's spacing
        hangs on the tokens before it on its line alone, so the texts it returns, joined, are the decoded text of
        all its ids, and text streamed a token at a time is written as it comes (however long the quote)."""
        if self.word_split != "punct":
            first = [True]

            def spaced(i: int) -> str:  # one space between two tokens on a line
                tok = self._token(i)
                if tok == "<eos>":
                    first[0] = True
                    return "\n"
                if not tok:
                    return ""
                space, first[0] = not first[0], False
                return " " + tok if space else tok
            return spaced
        return _Spacing(self._token)

    def _token(self, i: int) -> str:
        """Token ``i``'s string: "" for <pad> (which decodes to nothing), <unk> for an id outside the vocabulary."""
        return "" if i == PAD else self.itos[i] if 0 <= i < len(self.itos) else "<unk>"

    def unknown(self, text: str) -> list[str]:
        return sorted({t for tokens in self._lines(text) for t in tokens if t not in self.stoi})

    def to_json(self) -> dict[str, Any]:
        saved = {"kind": self.kind, "lowercase": self.lowercase, "word_split": self.word_split,
                 "tokens": self.itos[3:]}
        # files saved before 12-04 have neither key, those saved before 12-05 no "cut", and before 12-08 no "normalize"
        saved = saved if not self.cut else {**saved, "keep_marks": True} if self.cut == 1 else \
            {**saved, "keep_marks": True, "cut": self.cut}
        return {**saved, "normalize": self.normalize} if self.normalize else saved


def _unspaced_words(counts: Counter[str]) -> list[str]:
    """A note when most words are runs of a script written without spaces (Chinese, say): the word pattern then
    makes each run between two punctuation marks one 'word', and a vocabulary of phrases that rarely recur.
    Text already segmented into words (spaces between them) has short words and is left alone."""
    total = sum(c for w, c in counts.items() if _WORDLIKE.search(w))  # punctuation marks aside
    runs = {w: c for w, c in counts.items() if _UNSPACED.search(w)}
    occurrences = sum(runs.values())
    if not total or occurrences < total / 2:
        return []
    mean = sum(len(w) * c for w, c in runs.items()) / occurrences
    if mean <= 3:
        return []
    once = sum(1 for c in counts.values() if c == 1) / len(counts)
    note = (f"most words here are runs of a script written without spaces ({mean:.1f} characters on average; "
            f"{len(counts):,} kinds, {once:.0%} seen once), so word level reads each run between punctuation as one "
            "word: use --level char or --level unigram (or split the text into words with spaces first)")
    return [note]


# ----------------------------------------------------------------------------- build, save, load


def build_tokenizer(texts: Iterable[str], spec: TokenizerSpec) -> Tokenizer:
    spec.validate()
    texts = settled_chunks(texts)  # a text streamed in chunks is normalised as if whole
    if spec.level == "char":
        return CharTokenizer.build(texts, spec)
    if spec.level == "word":
        return WordTokenizer.build(texts, spec)
    from lstmtext.subwords import SentencePieceTokenizer  # here: subwords.py reads this module's special ids

    return SentencePieceTokenizer.build(texts, spec)


def check_extendable(base: Tokenizer, name: str = "the model") -> None:
    """--extend-vocab's refusal of a tokenizer whose vocabulary cannot grow."""
    if base.kind not in ("char", "word"):
        raise usage_error(f"--extend-vocab needs a char or word level model; {name} is {base.kind}",
                          "a SentencePiece vocabulary is fixed once trained: pretrain on text that includes yours, "
                          "or drop --extend-vocab")


def extend_tokenizer(base: Tokenizer, texts: Iterable[str], min_freq: int = 1) -> Tokenizer:
    """``base`` with the tokens of ``texts`` it lacks (seen at least ``min_freq`` times) appended, so
    that every id of ``base`` keeps its meaning: what ``--extend-vocab`` gives a model fine-tuned on
    new text. Char and word level only: a SentencePiece model's pieces are fixed once trained."""
    check_extendable(base)
    saved = base.to_json()
    spec = TokenizerSpec(level=base.kind, lowercase=base.lowercase, min_freq=min_freq,
                         word_split=saved.get("word_split", "punct"))
    spec.validate()
    known = set(base.itos)  # the specials included, so only new tokens are added
    form = normal_form(saved)  # the new words cut and normalised (or not, before 12-08) as the base reads text
    texts = settled_chunks(texts) if form else texts
    new = WordTokenizer.build(texts, spec, word_cut(saved), form) if base.kind == "word" \
        else CharTokenizer.build(texts, spec, form)
    added = [t for t in new.itos if t not in known]
    return tokenizer_from_json({**saved, "tokens": saved["tokens"] + added})


def extends(tok: Tokenizer, base: Tokenizer) -> bool:
    """Whether ``tok`` is ``base`` itself or ``base`` with tokens appended (``extend_tokenizer``)."""
    mine, theirs = tok.to_json(), base.to_json()
    if mine == theirs:
        return True
    if "tokens" not in mine or {k: v for k, v in mine.items() if k != "tokens"} != \
            {k: v for k, v in theirs.items() if k != "tokens"}:
        return False
    return mine["tokens"][: len(theirs["tokens"])] == theirs["tokens"]


def save_tokenizer(tok: Tokenizer, path: Path) -> None:
    from lstmtext.checkpoint import atomic_write_bytes

    atomic_write_bytes(path, json.dumps(tok.to_json(), ensure_ascii=False).encode("utf-8"))


def word_cut(saved: dict[str, Any]) -> int:
    """The generation of the word pattern a saved word tokenizer cuts with (WORD_CUT)."""
    cut = saved.get("cut", 1 if saved.get("keep_marks") else 0)
    if not isinstance(cut, int) or not 0 <= cut <= WORD_CUT:
        raise ValueError(f"its word cut {cut!r} is not one this lstmtext knows (0 to {WORD_CUT}): upgrade lstmtext")
    return cut


def tokenizer_from_json(data: dict[str, Any]) -> Tokenizer:
    kind = data.get("kind")
    if kind == "char":
        return CharTokenizer(list(data["tokens"]), bool(data.get("lowercase")), normal_form(data))
    if kind == "word":
        return WordTokenizer(list(data["tokens"]), bool(data.get("lowercase")), data.get("word_split", "punct"),
                             word_cut(data), normal_form(data))
    if kind in ("bpe", "unigram"):
        from lstmtext.subwords import SentencePieceTokenizer

        return SentencePieceTokenizer(base64.b64decode(data["model"]), kind, bool(data.get("lowercase")),
                                      normal_form(data))
    raise ValueError(f"unknown tokenizer kind {kind!r}")


def load_tokenizer(path: Path) -> Tokenizer:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return tokenizer_from_json(data)
    except FileNotFoundError:
        raise UserError(f"tokenizer file missing: {path}", "the folder is incomplete: train (or tokenize) again, "
                        "or restore the file") from None
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        raise UserError(f"{path} is not a valid tokenizer file ({type(err).__name__}: {err})"[:300]) from None
