"""What cutting at spaces first pays word-level tokenizing: a word tokenizer's build (counting the words) and
encode of each shared corpus, with ``WordTokenizer._cut`` as it is and with the word pattern's ``findall`` on
the whole line, as it cut before 12-07 (the same tokens: tests/test_properties.py).

    python bench/word_cut_probe.py [--rounds 5]

The two run in turn, ``--rounds`` times, and each keeps its fastest (this machine's speed drifts within a
minute). Prints figures; writes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import SHARED  # noqa: E402
from lstmtext.config import TokenizerSpec  # noqa: E402
from lstmtext.tokenizers import WordTokenizer  # noqa: E402

CORPORA = {"PTB train": "ptb/ptb.train.txt", "tiny Shakespeare": "tinyshakespeare/input.txt",
           "SST-2 sentences": "sst2/sentences/train.tsv", "Tang poems": "tang_poems/tang_poems.txt"}


def regex_alone(self: WordTokenizer, line: str, pattern) -> list[str]:
    return pattern.findall(line)


def seconds(text: str) -> float:
    """Build a tokenizer of ``text`` and encode ``text`` with it."""
    start = time.perf_counter()
    WordTokenizer.build([text], TokenizerSpec(level="word")).encode(text)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    split_first = WordTokenizer._cut
    for name, relative in CORPORA.items():
        path = SHARED / relative
        if not path.exists():
            print(f"{name}: {path} is missing, skipped")
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".tsv":  # the sentences, not their labels or the header
            text = "\n".join(line.split("\t")[0] for line in text.splitlines()[1:]) + "\n"
        megabytes = 2 * len(text.encode("utf-8")) / 1e6  # read twice: once to count, once to encode
        best = {"regex alone": float("inf"), "split first": float("inf")}
        for _ in range(args.rounds):
            for label, cut in (("regex alone", regex_alone), ("split first", split_first)):
                WordTokenizer._cut = cut
                best[label] = min(best[label], seconds(text))
        WordTokenizer._cut = split_first
        print(f"{name}: {megabytes / best['regex alone']:.1f} MB/s with the regex alone, "
              f"{megabytes / best['split first']:.1f} MB/s split first: "
              f"{best['regex alone'] / best['split first']:.2f}x")


if __name__ == "__main__":
    main()
