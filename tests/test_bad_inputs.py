"""The bad-input matrix: every case gets its exit code, one line naming the problem, no traceback,
and leaves every file the user already had exactly as it was."""

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SMALL_TEXT, assert_one_line_error
from tests.test_classify import separable_rows, write_tsv


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A small language model and a small classifier, trained once for the whole matrix."""
    from tests.conftest import train_small
    from tests.test_classify import train_classifier

    base = tmp_path_factory.mktemp("ckpts")
    train_small(base / "lm", steps=30, hidden=32, eval_every=30)
    corpus = write_tsv(base / "topics.tsv", separable_rows(120))
    _, clf = train_classifier(base / "c", corpus, epochs=2)
    (base / "c").mkdir(exist_ok=True)
    return base / "lm", clf


def make_files(d: Path, lm: Path, clf: Path) -> None:
    (d / "small.txt").write_text(SMALL_TEXT * 30, encoding="utf-8")
    (d / "empty.txt").write_text("")
    (d / "bins").mkdir()
    for i in range(3):
        (d / "bins" / f"blob{i}.dat").write_bytes(bytes(range(256)) * 4)
    (d / "prep").mkdir()  # a prepared folder's two files, enough to tell it from a run
    for name in ("meta.json", "tokenizer.json"):
        (d / "prep" / name).write_text("{}")
    (d / "bad_utf8.txt").write_bytes(b"first line\nsecond \xc3\x28 line\n" * 3)
    (d / "cut.txt").write_bytes("诗人\n李白".encode()[:-1])  # head -c through a character
    (d / "utf16.txt").write_text("a line of text\n" * 50, encoding="utf-16")
    (d / "oneline.txt").write_text(("long line of words without any break " * 1_400_000)[:50_000_000])
    (d / "ragged.csv").write_text("text,label\nfine row,1\ntoo,many,fields\nanother fine row,0\n" * 3)
    (d / "notext.csv").write_text("id,score\n1,2\n3,4\n")
    (d / "oneword.txt").write_text("hello\n")
    (d / "mixed").mkdir()
    (d / "mixed" / "a.txt").write_text("a line of text\n" * 50, encoding="utf-8")
    (d / "mixed" / "b.txt").write_text("a line of text\n" * 50, encoding="utf-16")
    (d / "noheader.csv").write_text("a fine film indeed,pos\nsuch a dull plot,neg\n" * 10)
    (d / "new_label").mkdir()
    write_tsv(d / "new_label" / "train.tsv", separable_rows(40))
    write_tsv(d / "new_label" / "test.tsv", [*separable_rows(6), ("stars over the hills", "space")])
    rows = [(t, l) for t, l in separable_rows(40)] + [("a row with no label", "")]
    write_tsv(d / "nolabels.tsv", rows)
    write_tsv(d / "oneclass.tsv", [(f"all the same {i}", "same") for i in range(30)])
    (d / "broken.jsonl").write_text('{"text": "one"}\n{"text": "two"\n{"text": "three"}\n' * 5)
    write_tsv(d / "unknown_labels.tsv", [("cow barn", "farm"), ("boat", "space")])
    write_tsv(d / "alien_labels.tsv", [("cow barn", "space"), ("boat", "space"), ("gull", "moon")])
    (d / "afile").write_text("precious")
    (d / "-dashed.txt").write_text(SMALL_TEXT * 30, encoding="utf-8")
    (d / "dangling").symlink_to(d / "nowhere")
    (d / "header_only.csv").write_text("text,label\n")
    (d / "excel.csv").write_text("text,label\n" + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(40)),
                                 encoding="utf-8-sig")  # with a byte-order mark, as Excel writes
    (d / "deep_latin1.tsv").write_bytes(b"text\tlabel\n" + b"fine row\tpos\n" * 3000 + "café\tneg\n".encode("latin-1"))
    (d / "all_ragged.tsv").write_text("text\tlabel\none\ttwo\tthree\n")
    (d / "windows.txt").write_bytes("He said \u201chello\u201d \u2014 it\u2019s fine.\n".encode("cp1252") * 40)
    (d / "oneclass_broken.jsonl").write_text('{"text": "good", "label": 1}\n{"text": "bad", "label": 0\n' * 3)
    (d / "empty_array.json").write_text("[\n]\n")
    (d / "blob.txt").write_bytes(bytes(range(256)) * 4)
    import bz2
    import gzip

    (d / "small.txt.gz").write_bytes(gzip.compress((SMALL_TEXT * 30).encode("utf-8")))
    (d / "sheet.xlsx").write_bytes(b"PK\x03\x04" + bytes(200))  # an office file is a zip file
    (d / "unclosed.csv").write_text('text,label\nfine,pos\nbad,neg\n"an unclosed quote,pos\n'
                                    + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(40)))
    (d / "short_unclosed.csv").write_text('text,label\n"an open quote,pos\nsecond row,neg\n')
    (d / "twice.csv").write_text("text,text,label\n" + "".join(f"a {i},b {i},{i % 2}\n" for i in range(20)))
    (d / "columns.json").write_text('{"text": ["a good film", "a dull one"], "label": [1, 0]}\n')
    (d / "utf16le.txt").write_bytes(("Café niño\n" * 200).encode("utf-16-le"))  # no byte-order mark
    (d / "blank.txt").write_text(" \n\n   \n\t\n" * 50)
    (d / "accents.txt").write_text("Café niño\n" * 200, encoding="utf-8")
    (d / "bom_only.txt").write_bytes(b"\xef\xbb\xbf")
    (d / "late_nul.txt").write_bytes(b"plain text\n" * 1000 + b"\x00\x01\x02")  # past the head that is sniffed
    (d / "utf16.csv").write_text("text,label\n" + "".join(f"row {i},{i % 2}\n" for i in range(20)), encoding="utf-16")
    (d / "semicolons.csv").write_text("text;label\n" + "".join(f"row {i};{i % 2}\n" for i in range(20)))
    (d / "splits").mkdir()
    for name in ("train", "valid"):
        (d / "splits" / f"{name}.txt").write_text(SMALL_TEXT * 5)
    (d / "packed").mkdir()
    for i in range(2):
        (d / "packed" / f"part{i}.txt.bz2").write_bytes(bz2.compress((SMALL_TEXT * 30).encode("utf-8")))
    for name, src in (("lm", lm), ("clf", clf)):
        shutil.copytree(src, d / name)
    for name in ("missing_w", "no_w", "trunc_w", "shape_w", "badjson", "notok", "future"):
        shutil.copytree(lm, d / name)
    for name, edit in (("labels3", {"labels": ["a", "b", "c"]}), ("labels_twice", {"labels": ["a", "a"]})):
        shutil.copytree(clf, d / name)
        config = json.loads((d / name / "config.json").read_text())
        (d / name / "config.json").write_text(json.dumps({**config, **edit}))
    shutil.copytree(lm, d / "level_edited")
    config = json.loads((d / "level_edited" / "config.json").read_text())
    (d / "level_edited" / "config.json").write_text(json.dumps({**config, "tokenizer": {**config["tokenizer"],
                                                                                         "level": "word"}}))
    (d / "missing_w" / "model.safetensors").unlink()
    (d / "no_w" / "model.safetensors").unlink()
    (d / "no_w" / "last.safetensors").unlink()
    data = (d / "trunc_w" / "model.safetensors").read_bytes()
    (d / "trunc_w" / "model.safetensors").write_bytes(data[: len(data) // 2])
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(d / "shape_w" / "model.safetensors")
    tensors["embedding.weight"] = torch.zeros(3, 3)
    save_file(tensors, d / "shape_w" / "model.safetensors")
    (d / "badjson" / "config.json").write_text("{not json")
    (d / "hfmodel").mkdir()  # another program's model folder, with its own config.json
    (d / "hfmodel" / "config.json").write_text('{"architectures": ["BertModel"], "model_type": "bert"}')
    (d / "notok" / "tokenizer.json").unlink()
    config = json.loads((d / "future" / "config.json").read_text())
    (d / "future" / "config.json").write_text(json.dumps({**config, "format_version": 99}))
    # a run whose prepared folder was since rebuilt from the same text split another way
    shutil.copytree(lm, d / "resplit")
    config = json.loads((d / "resplit" / "config.json").read_text())
    shutil.copytree(config["data"]["prepared_abs"], d / "resplit-data")
    meta = json.loads((d / "resplit-data" / "meta.json").read_text())
    assert meta["settings"] == config["data"]["settings"] and meta["settings"]["valid_fraction"] == 0.05
    (d / "resplit-data" / "meta.json").write_text(json.dumps({**meta, "settings": {**meta["settings"],
                                                                                   "valid_fraction": 0.2}}))
    config["data"].update(prepared="resplit-data", prepared_abs=str(d / "resplit-data"))
    (d / "resplit" / "config.json").write_text(json.dumps(config))


CASES = [
    # (id, args, exit code, words in the one error line; code 0 = must succeed, words then go to stdout+stderr)
    ("empty file", ["tokenize", "empty.txt"], 1, ["empty"]),
    ("folder of binaries", ["tokenize", "bins"], 1, ["no text files"]),
    ("invalid utf-8 offset", ["tokenize", "bad_utf8.txt"], 1, ["invalid utf-8 at byte 18", "line 2", "--encoding"]),
    ("utf-16 file", ["tokenize", "utf16.txt", "--out", "p16a"], 0, ["starts with a UTF-16 byte-order mark",
                                                                     "read as UTF-16"]),
    ("utf-16 with --encoding", ["tokenize", "utf16.txt", "--encoding", "utf-16", "--out", "p16"], 0, ["vocabulary"]),
    # one line, no break: the held-out tail still starts after a space, 90% in (train 45,000,000-45,000,037)
    ("50 MB single line", ["tokenize", "oneline.txt", "--out", "pline"], 0, ["45,000,0"]),
    ("ragged CSV rows", ["tokenize", "ragged.csv", "--out", "prag"], 0, ["skipped", "line 3", "3 fields"]),
    ("missing text column", ["tokenize", "notext.csv"], 2, ["columns found: id, score"]),
    ("a folder of UTF-8 and UTF-16 files", ["tokenize", "mixed"], 1,
     ["b.txt looks like utf-16", "one --encoding reads every file", "iconv"]),
    ("a one-word text at word level", ["tokenize", "oneword.txt", "--level", "word"], 1,
     ["empty after tokenizing", "--valid-fraction 0 --test-fraction 0"]),
    ("a table with no header line", ["tokenize", "noheader.csv", "--task", "classify"], 2,
     ["no header line", "(a fine film indeed, pos) reads as data", "naming the columns"]),
    ("NaN/empty labels", ["train", "nolabels.tsv", "--task", "classify", "--max-steps", "2", "--quiet",
                          "--out", "r1"], 0, ["missing label", "line 42"]),
    ("one class only", ["train", "oneclass.tsv", "--task", "classify"], 1, ["only one class, 'same'"]),
    ("broken JSONL line", ["tokenize", "broken.jsonl", "--out", "pjs"], 0, ["line 2", "not valid json"]),
    ("unseen prompt chars", ["generate", "lm", "--prompt", "Ωmega 🐙", "--length", "5"], 0, ["never saw"]),
    ("an unseen combining mark in the prompt", ["generate", "lm", "--prompt", "cafq\u0301", "--length", "5"], 0,
     ["never saw ('\\u0301')"]),  # written out: alone it shows as nothing
    ("control chars in prompt", ["generate", "lm", "--prompt", "a\x00b\x07\x1b[31m", "--length", "5"], 0, []),
    ("100k-char prompt", ["generate", "lm", "--prompt", "the cat " * 12_500, "--length", "3"], 0, []),
    ("whitespace-only text", ["classify", "clf", "   \t "], 0, ["(empty)"]),
    ("100k-char text", ["classify", "clf", "cow " * 25_000], 0, ["truncated"]),
    ("missing best weights", ["info", "missing_w"], 1, ["model.safetensors (the best weights) is missing",
                                                       "cp missing_w/last.safetensors missing_w/model.safetensors"]),
    ("missing best weights (generate)", ["generate", "missing_w"], 1, ["--weights last"]),
    ("missing weights", ["generate", "no_w"], 1, ["model.safetensors is missing", "train again"]),
    ("truncated weights", ["generate", "trunc_w"], 1, ["not a valid safetensors file", "--weights last"]),
    ("an edited classifier's labels, more than its classes", ["classify", "labels3", "text"], 1,
     ["config.json is damaged", "3 labels for a model of 2 classes"]),
    ("an edited classifier's labels, one twice", ["evaluate", "labels_twice"], 1, ["damaged", "label 'a' twice"]),
    ("an edited level", ["info", "level_edited"], 1, ["damaged", "level 'word'", "char tokenizer"]),
    ("a file of a run", ["generate", "lm/config.json"], 1, ["lm/config.json is a file of a run", "the run folder"]),
    ("utf-16 asked of a UTF-8 file with a byte-order mark", ["tokenize", "excel.csv", "--encoding", "utf-16"], 1,
     ["excel.csv is utf-8", "drop --encoding"]),
    ("the same, to classify", ["classify", "clf", "-f", "excel.csv", "--encoding", "utf-16"], 1, ["is utf-8"]),
    ("unknown encoding (classify)", ["classify", "clf", "-f", "small.txt", "--encoding", "bogus"], 2,
     ["unknown --encoding 'bogus'"]),
    ("--text-column on plain text (classify)", ["classify", "clf", "-f", "small.txt", "--text-column", "x"], 2,
     ["--text-column is for tables", "plain text"]),
    ("a seed beyond the generators' range", ["generate", "lm", "--seed", "99999999999999999999"], 2,
     ["--seed", "from 0 to"]),
    ("a negative seed", ["train", "small.txt", "--seed", "-1"], 2, ["--seed", "not a seed"]),
    ("an unknown --weights", ["classify", "clf", "text", "--weights", "worst"], 2, ["--weights", "best nor last"]),
    ("wrongly-shaped weights", ["generate", "shape_w"], 1, ["embedding.weight", "shape"]),
    ("damaged config.json", ["info", "badjson"], 1, ["not valid json"]),
    ("another program's config.json", ["info", "hfmodel"], 1, ["hfmodel is not an lstmtext run", "another program"]),
    ("--init-from another program's model", ["train", "small.txt", "--init-from", "hfmodel", "--out", "rhf"], 1,
     ["hfmodel is not an lstmtext run"]),
    ("missing tokenizer", ["generate", "notok"], 1, ["tokenizer file missing"]),
    ("classifier to generate", ["generate", "clf"], 1, ["classifier checkpoint"]),
    ("LM to classify", ["classify", "lm", "text"], 1, ["language-model checkpoint"]),
    ("a file cut through a character", ["tokenize", "cut.txt"], 1,
     ["cut.txt: ends in the middle of a character at byte 10 (line 2)", "cut short", "head -n"]),
    ("info on a non-checkpoint", ["info", "bins"], 1, ["not a checkpoint"]),
    ("classify with a prepared folder", ["classify", "prep", "text"], 1, ["prep is a prepared data folder"]),
    ("a label only the test file has", ["tokenize", "new_label", "--task", "classify", "--out", "pnew"], 1,
     ["the test split has labels the train split does not have: 'space' (1 row)", "test.tsv line 8",
      "give the train split examples"]),
    ("some labels unknown at evaluate", ["evaluate", "clf", "unknown_labels.tsv"], 0,
     ["1 text of unknown_labels.tsv has labels the model does not know, and is left out of the figures: 'space' (1)",
      "known labels: farm, sea"]),
    ("only unknown labels at evaluate", ["evaluate", "clf", "alien_labels.tsv"], 1,
     ["only labels the model does not know: 'moon' (1), 'space' (2)", "known labels"]),
    ("--out is a file (tokenize)", ["tokenize", "small.txt", "--out", "afile"], 2, ["existing file"]),
    ("--out is a file (train)", ["train", "small.txt", "--out", "afile"], 2, ["existing file"]),
    ("--out unwritable", ["train", "small.txt", "--max-steps", "1", "--out", "/sys/lstmtext-run"], 1,
     ["could not create"]),
    ("zero batch size", ["train", "small.txt", "--batch-size", "0"], 2, ["--batch-size"]),
    ("fp16 on the CPU", ["train", "small.txt", "--precision", "fp16", "--device", "cpu", "--max-steps", "2",
                         "--hidden-size", "16", "--out", "fp16run"], 2, ["fp16 needs a CUDA GPU", "bf16"]),
    ("negative length", ["generate", "lm", "--length", "-5"], 2, ["--length"]),
    ("absurd learning rate", ["train", "small.txt", "--lr", "1e9"], 2, ["--lr", "absurdly large"]),
    ("absurd hidden size", ["train", "small.txt", "--hidden-size", "1000000000"], 2, ["absurdly large"]),
    ("absurd sample count", ["generate", "lm", "--num-samples", "100000"], 2, ["--num-samples"]),
    ("zero max length", ["train", "--task", "classify", "--max-length", "0"], 2, ["--max-length"]),
    ("zero epochs", ["train", "small.txt", "--epochs", "0"], 2, ["--epochs"]),
    ("cuda without a GPU", ["train", "small.txt", "--device", "cuda"], 1, ["no cuda gpu"]),
    ("bad --save-every", ["train", "small.txt", "--save-every", "soon"], 2, ["--save-every"]),
    ("resume without state", ["train", "--resume", "bins"], 1, ["not a checkpoint"]),
    ("conflicting flag on resume", ["train", "--resume", "lm", "--hidden-size", "8"], 2,
     ["--hidden-size cannot be given with --resume"]),
    ("a flag named otherwise than its parameter, on resume", ["train", "--resume", "lm", "--no-compile"], 2,
     ["--no-compile cannot be given with --resume", "--format"]),
    ("newer checkpoint format", ["generate", "future"], 1, ["format version 99"]),
    ("resume on data split otherwise", ["train", "--resume", "resplit", "--max-steps", "60"], 1,
     ["no longer holds the data"]),
    ("CSV with a byte-order mark", ["tokenize", "excel.csv", "--task", "classify", "--out", "pbom"], 0,
     ["labels", "a: 20, b: 20"]),
    ("CSV with a byte-order mark to classify", ["classify", "clf", "--file", "excel.csv", "--format", "csv"], 0,
     ["row 39"]),
    ("invalid utf-8 deep in a TSV", ["tokenize", "deep_latin1.tsv", "--task", "classify"], 1,
     ["invalid utf-8 at byte 39014", "line 3002", "--encoding"]),
    ("invalid utf-8 below a TSV's header", ["classify", "clf", "--file", "deep_latin1.tsv"], 1,
     ["invalid utf-8 at byte 39014", "line 3002"]),
    ("malformed rows to classify", ["classify", "clf", "--file", "ragged.csv"], 0,
     ["3 records of ragged.csv could not be read and have no row", "skipped ragged.csv line 3: has 3 fields"]),
    ("malformed rows to evaluate", ["evaluate", "clf", "nolabels.tsv"], 0,
     ["skipped nolabels.tsv line 42: missing label"]),
    ("flags that would do nothing", ["tokenize", "small.txt", "--text-column", "body"], 2,
     ["--text-column is for tables", "small.txt is plain text"]),
    ("--word-split at char level", ["tokenize", "small.txt", "--word-split", "whitespace"], 2,
     ["--word-split is for --level word"]),
    ("--min-freq for subwords", ["tokenize", "small.txt", "--level", "bpe", "--min-freq", "2"], 2,
     ["--min-freq is for char and word levels"]),
    ("--split-seed for a language model", ["tokenize", "small.txt", "--split-seed", "2"], 2,
     ["--split-seed is for --task classify"]),
    ("--text-column without --file", ["classify", "clf", "cow", "--text-column", "body"], 2,
     ["--text-column is for --file"]),
    ("--encoding with texts as arguments", ["classify", "clf", "cow", "--encoding", "latin-1"], 2,
     ["--encoding is for --file or -"]),
    ("--encoding without a corpus", ["evaluate", "clf", "--encoding", "latin-1"], 2, ["reading a CORPUS"]),
    ("--label-column for a language model", ["evaluate", "lm", "small.txt", "--label-column", "y"], 2,
     ["--label-column is for a classifier"]),
    ("--stream with several samples", ["generate", "lm", "--num-samples", "2", "--stream"], 2,
     ["--stream prints one sample"]),
    ("--file - (stdin)", ["classify", "clf", "--file", "-"], 2, ["--file - is not read from stdin", "classify RUN -"]),
    ("corpus from stdin", ["tokenize", "-"], 2, ["not read from stdin ('-')", "save the text to a file"]),
    ("--top-k with greedy decoding", ["generate", "lm", "--temperature", "0", "--top-k", "5"], 2,
     ["--top-k does nothing with --temperature 0"]),
    ("--seed with greedy decoding", ["generate", "lm", "-t", "0", "--seed", "3"], 2,
     ["--seed does nothing with --temperature 0"]),
    ("header-only CSV", ["train", "header_only.csv", "--task", "classify"], 1, ["no records below its header"]),
    ("header-only CSV to classify", ["classify", "clf", "--file", "header_only.csv"], 1,
     ["no text to classify", "no records"]),
    ("only ragged rows", ["tokenize", "all_ragged.tsv"], 1, ["no readable records", "line 2: has 3 fields"]),
    ("empty JSON array", ["tokenize", "empty_array.json"], 1, ["empty_array.json has no records"]),
    ("binary --file to classify", ["classify", "clf", "--file", "blob.txt"], 1, ["looks like a binary file"]),
    ("gzip-compressed corpus", ["tokenize", "small.txt.gz"], 1, ["small.txt.gz is gzip-compressed",
                                                                 "gunzip -k small.txt.gz"]),
    ("folder of bzip2 files", ["train", "packed"], 1, ["holds only compressed files", "bzip2: part0.txt.bz2",
                                                       "bunzip2 -k"]),
    ("gzip-compressed --file to classify", ["classify", "clf", "--file", "small.txt.gz"], 1,
     ["--file small.txt.gz is gzip-compressed"]),
    ("a spreadsheet", ["train", "sheet.xlsx", "--task", "classify"], 1, ["sheet.xlsx is a spreadsheet", "as CSV"]),
    ("an unclosed quote in a CSV", ["tokenize", "unclosed.csv", "--task", "classify"], 1,
     ["unclosed.csv line 4", "never closes", 'as two ("")']),
    ("an unclosed quote in a short CSV", ["tokenize", "short_unclosed.csv", "--task", "classify"], 1,
     ["short_unclosed.csv line 2: a quoted field that starts there never closes", "to the end of the file"]),
    ("a column named twice", ["tokenize", "twice.csv", "--task", "classify"], 1,
     ["names column 'text' more than once"]),
    ("JSON of columns, not records", ["tokenize", "columns.json"], 1,
     ["'text' field is a list", "one record per text"]),
    ("UTF-16 without a byte-order mark", ["tokenize", "utf16le.txt", "--encoding", "utf-16-le", "--out", "p16le"], 0,
     ["vocabulary 12"]),  # C a f é n i ñ o, space and newline, <pad> and <unk>
    ("a text of only whitespace", ["train", "blank.txt"], 1, ["holds only whitespace"]),
    ("UTF-16 without a byte-order mark, no --encoding", ["tokenize", "utf16le.txt"], 1,
     ["utf16le.txt looks like UTF-16 text without a byte-order mark", "--encoding utf-16-le"]),
    ("--encoding utf-16 without a byte-order mark", ["tokenize", "utf16le.txt", "--encoding", "utf-16"], 1,
     ["has no byte-order mark, so --encoding utf-16 cannot tell its byte order", "--encoding utf-16-le"]),
    ("UTF-16 --file to classify", ["classify", "clf", "--file", "utf16le.txt"], 1,
     ["--file utf16le.txt looks like UTF-16", "--encoding utf-16-le"]),
    ("UTF-8 read as ASCII", ["tokenize", "accents.txt", "--encoding", "ascii"], 1,
     ["invalid ascii at byte 3 (line 1); the file is UTF-8", "--encoding utf-8"]),
    ("UTF-8 read as Latin-1", ["tokenize", "accents.txt", "--encoding", "latin-1", "--out", "platin"], 0,
     ["accents.txt is valid UTF-8 but is read as latin-1", "drop --encoding"]),
    ("a file of only a byte-order mark", ["tokenize", "bom_only.txt"], 1, ["corpus is empty: bom_only.txt"]),
    ("a NUL byte far into a text", ["tokenize", "late_nul.txt"], 1,
     ["late_nul.txt holds a NUL byte at byte 11000 (line 1001)", "tr -d"]),
    ("more subwords than the text has", ["tokenize", "small.txt", "--level", "bpe", "--vocab-size", "3000"], 2,
     ["--vocab-size 3000 is more than this text supports", "or less"]),
    ("--freeze-epochs without --init-from", ["train", "nolabels.tsv", "--task", "classify", "--freeze-epochs", "1"],
     2, ["--freeze-epochs needs --init-from"]),
    ("a list as the text to classify", ["classify", "clf", "--file", "columns.json"], 1,
     ["columns.json line 1: the 'text' field is a list"]),
    ("--layer-dropout with one layer", ["train", "small.txt", "--layers", "1", "--layer-dropout", "0.3"], 2,
     ["--layer-dropout is dropout between stacked layers"]),
    ("--warmup-steps with the plateau schedule", ["train", "small.txt", "--schedule", "plateau", "--warmup-steps",
                                                  "20"], 2, ["--warmup-steps does nothing with --schedule plateau"]),
    ("a UTF-16 CSV", ["tokenize", "utf16.csv", "--task", "classify", "--out", "p16c"], 0, ["read as UTF-16"]),
    ("a CSV separated by semicolons", ["tokenize", "semicolons.csv", "--task", "classify"], 1,
     ["one column, 'text;label'", "separated by semicolons", "with commas"]),
    ("the text column as the label", ["tokenize", "excel.csv", "--task", "classify", "--text-column", "label"], 2,
     ["column 'label' of excel.csv would be both the text and the label"]),
    ("a prepared folder to tokenize", ["tokenize", "p16"], 2, ["p16 is a prepared folder", "lstmtext train p16"]),
    ("a run to tokenize", ["tokenize", "lm"], 2, ["lm is a training run (a checkpoint), not a corpus"]),
    ("a fraction of a split the corpus has", ["tokenize", "splits", "--valid-fraction", "0.2"], 2,
     ["--valid-fraction does nothing: splits has a valid split of its own"]),
    ("tokenizer flag on a prepared folder", ["train", "p16", "--level", "word", "--encoding", "latin-1"], 2,
     ["--level, --encoding cannot apply to p16", "raw corpus"]),
    ("tokenizer flag against --init-from", ["train", "small.txt", "--init-from", "lm", "--level", "word"], 2,
     ["--level word conflicts with lm", "has level char"]),
    ("--min-freq with --init-from", ["train", "small.txt", "--init-from", "lm", "--min-freq", "3"], 2,
     ["--min-freq has no effect", "--extend-vocab"]),
    ("--out is the --init-from run", ["train", "small.txt", "--init-from", "lm", "--out", "./lm", "--overwrite"], 2,
     ["--out lm is the --init-from run", "another --out"]),
    ("columns by number in a table without a header", ["train", "noheader.csv", "--task", "classify",
                                                        "--text-column", "0", "--label-column", "1"], 2,
     ["noheader.csv has no header line", "sed -i '1i text,label' noheader.csv", "not numbered"]),
    ("an empty corpus path (an unset shell variable)", ["train", ""], 2, ["the corpus path is empty"]),
    ("an empty corpus path to evaluate", ["evaluate", "clf", " "], 2, ["the corpus path is empty"]),
    ("Windows quotes read as UTF-8", ["tokenize", "windows.txt"], 1, ["invalid utf-8 at byte 8", "--encoding cp1252"]),
    ("Windows quotes read as Latin-1", ["tokenize", "windows.txt", "--encoding", "latin-1", "--out", "pwin"], 0,
     ["control characters (bytes 0x80-0x9f)", "--encoding cp1252"]),
    ("a char vocabulary of nothing but its specials", ["tokenize", "small.txt", "--vocab-size", "2"], 2,
     ["--vocab-size 2 is too small for char level"]),
    ("a level there is not", ["tokenize", "small.txt", "--level", "bytes"], 2,
     ["unknown --level 'bytes'", "choose char, word, subword"]),
    ("one class, the other's row unreadable", ["train", "oneclass_broken.jsonl", "--task", "classify"], 1,
     ["only one class, '1'", "3 records were skipped, the first at oneclass_broken.jsonl line 2: not valid json"]),
    ("the examples' corpus path outside the checkout", ["tokenize", "corpora/tales.txt"], 1,
     ["corpus not found: corpora/tales.txt", "the shipped corpus is"]),
    ("a file whose name starts with a dash", ["train", "-dashed.txt"], 2,
     ["No such option: -d", "a file named -dashed.txt is passed as ./-dashed.txt"]),
    ("an empty checkpoint path", ["info", ""], 2, ["the checkpoint path is empty", "shell variable unset"]),
    ("an empty --out", ["train", "small.txt", "--out", ""], 2, ["--out is empty", "shell variable unset"]),
    ("a dangling link as the corpus", ["tokenize", "dangling"], 1, ["corpus dangling is a symbolic link that leads "
                                                                     "nowhere"]),
    ("a dangling link as the checkpoint", ["generate", "dangling"], 1, ["checkpoint dangling is a symbolic link"]),
    ("--out is a --distill-from run", ["train", "nolabels.tsv", "--task", "classify", "--distill-from", "clf",
                                       "--out", "clf", "--overwrite"], 2, ["--out clf is the --distill-from run"]),
]


def test_bad_input_matrix(cli, checkpoints, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("the matrix expects a machine without a GPU")
    make_files(tmp_path, *checkpoints)
    assert len(CASES) >= 30
    for name, args, code, words in CASES:
        before = snapshot(tmp_path)
        result = cli(*args)
        if code == 0:
            assert result.code == 0, (name, result.err)
            assert "Traceback" not in result.err
            for word in words:
                assert word.lower() in (result.out + result.err).lower(), (name, word, result.err[-300:])
        else:
            try:
                assert_one_line_error(result, code, *words)
            except AssertionError as exc:
                raise AssertionError(f"case {name!r}: {exc}") from None
        after = snapshot(tmp_path)
        changed = [p for p, digest in before.items() if after.get(p) != digest]
        assert not changed, (name, changed)


def test_full_disk_is_a_one_line_error(tmp_path):
    """Simulate a full disk: the file-size limit makes every large write fail with EFBIG."""
    (tmp_path / "big.txt").write_text(SMALL_TEXT * 3000, encoding="utf-8")
    (tmp_path / "keep.txt").write_text("mine")

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))

    before = snapshot(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "lstmtext", "tokenize", "big.txt", "--out", "prep", "--quiet"],
                          cwd=tmp_path, preexec_fn=limit, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 1, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "could not write" in lines[0] and "File too large" in lines[0], proc.stderr
    assert not (tmp_path / "prep").exists()
    after = snapshot(tmp_path)
    assert all(after.get(p) == d for p, d in before.items())
