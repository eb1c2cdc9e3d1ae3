"""--extend-vocab: fine-tuning a pretrained model on text with words it has never seen (ULMFiT's
target-task vocabulary): the new words are added to its tokenizer and start at the mean embedding."""

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lstmtext.config import ModelConfig, TokenizerSpec
from lstmtext.models import LanguageModel
from lstmtext.tokenizers import build_tokenizer, extend_tokenizer, extends, load_tokenizer
from lstmtext.transfer import grow_vocab, init_from_lm
from tests.conftest import REVIEWS, SMALL_TEXT, TALES, assert_one_line_error

# Words the tales never use, twice or once each, among ones they do.
NEW_TEXT = ("the zeppelin teleported over the marsh while a zeppelin pilot whistled .\n"
            "the heron watched the quokka and the frog .\n") * 40 + "a lone wombat .\n"


def test_a_word_vocabulary_grows_at_its_end_and_keeps_every_id():
    base = build_tokenizer([SMALL_TEXT], TokenizerSpec(level="word", lowercase=True))
    grown = extend_tokenizer(base, ["The kettle hummed. A zeppelin, a zeppelin and a kettle hummed!\n"])
    assert grown.itos[: base.vocab_size] == base.itos
    assert grown.itos[base.vocab_size:] == ["hummed", "zeppelin", "!"]  # by count, then alphabetically
    assert grown.lowercase and grown.word_split == base.word_split
    assert grown.encode("the hummed zeppelin").tolist() == [base.stoi["the"], *range(base.vocab_size,
                                                                                      base.vocab_size + 2)]
    only_repeated = extend_tokenizer(base, ["a zeppelin, a zeppelin and a hummed kettle\n"], min_freq=2)
    assert only_repeated.itos[base.vocab_size:] == ["zeppelin"]
    assert extends(grown, base) and extends(base, base) and not extends(base, grown)
    other = build_tokenizer([SMALL_TEXT], TokenizerSpec(level="word", lowercase=False))
    assert not extends(extend_tokenizer(other, ["zeppelin\n"]), base)  # another casing is another vocabulary


def test_a_char_vocabulary_grows_too():
    base = build_tokenizer(["abcabc\n"], TokenizerSpec(level="char"))
    grown = extend_tokenizer(base, ["abzzy\n"])
    assert grown.itos[: base.vocab_size] == base.itos and set(grown.itos[base.vocab_size:]) == {"z", "y"}
    assert (grown.encode("abc") == base.encode("abc")).all() and 1 not in grown.encode("zy").tolist()


def test_a_sentencepiece_vocabulary_cannot_grow():
    base = build_tokenizer([TALES.read_text(encoding="utf-8")[:60_000]], TokenizerSpec(level="bpe", vocab_size=300))
    with pytest.raises(Exception, match="char or word level"):
        extend_tokenizer(base, ["zeppelin\n"])


def test_added_rows_start_at_the_mean_of_the_pretrained_ones():
    state = {"embedding.weight": torch.arange(12.0).reshape(4, 3), "decoder_bias": torch.tensor([1.0, 2, 3, 6]),
             "lstm.weight_hh_l0": torch.ones(8, 2)}
    grown = grow_vocab(state, 6)
    assert torch.equal(grown["embedding.weight"][:4], state["embedding.weight"])
    assert torch.equal(grown["embedding.weight"][4:], torch.tensor([[4.5, 5.5, 6.5]] * 2))
    assert torch.equal(grown["decoder_bias"], torch.tensor([1.0, 2, 3, 6, 3, 3]))
    assert grown["lstm.weight_hh_l0"] is state["lstm.weight_hh_l0"]


@pytest.fixture(scope="module")
def tales_lm(tmp_path_factory):
    """A small word model of the shipped tales, trained for a few steps."""
    from lstmtext.cli import main

    root = tmp_path_factory.mktemp("tales-lm")
    here = os.getcwd()
    os.chdir(root)  # the prepared data's cache (checkpoints/prepared) is made there, not in the user's checkout
    try:
        main(["train", str(TALES), "--level", "word", "--hidden-size", "32", "--max-steps", "3", "--seq-len", "32",
              "--batch-size", "8", "--device", "cpu", "--quiet", "--out", str(root / "lm")])
    except SystemExit as exc:
        assert not exc.code
    finally:
        os.chdir(here)
    assert (root / "checkpoints" / "prepared").is_dir()
    return root / "lm"


def test_init_from_grows_a_language_model_untied_decoder_included(tales_lm):
    lm = load_file(tales_lm / "model.safetensors")
    size = len(lm["embedding.weight"]) + 5
    for tied in (True, False):
        model = LanguageModel(ModelConfig(vocab_size=size, embed_dim=32, hidden_size=32, layers=2, tie_weights=tied))
        if tied:
            init_from_lm(model, tales_lm, grow=True)
        else:  # an untied model: its decoder's rows and biases grow as well
            untied = {k: v for k, v in lm.items() if k != "decoder_bias"}
            untied["decoder.weight"], untied["decoder.bias"] = lm["embedding.weight"], lm["decoder_bias"]
            model.load_state_dict(grow_vocab(untied, size))
        own = model.state_dict()
        decoder = ("decoder_bias",) if tied else ("decoder.weight", "decoder.bias")
        for key in ("embedding.weight", *decoder):
            pretrained = lm[key] if key in lm else lm["decoder_bias" if key.endswith("bias") else "embedding.weight"]
            assert torch.equal(own[key][: len(pretrained)], pretrained), key
            assert torch.allclose(own[key][len(pretrained):], pretrained.mean(0).expand_as(own[key][-5:])), key
        assert torch.equal(own["lstm.weight_hh_l0"], lm["lstm.weight_hh_l0"])


def test_fine_tuning_on_new_text_learns_its_words_instead_of_unk(tales_lm, cli, tmp_path):
    (tmp_path / "new.txt").write_text(NEW_TEXT, encoding="utf-8")
    common = ["--init-from", tales_lm, "--max-steps", "2", "--seq-len", "16", "--batch-size", "4", "--device", "cpu"]
    kept = cli("train", "new.txt", *common, "--quiet", "--out", "kept")
    assert kept.code == 0, kept.err
    grown = cli("train", "new.txt", *common, "--extend-vocab", "--min-freq", "2", "--out", "grown")
    assert grown.code == 0, grown.err
    base, tok = load_tokenizer(tales_lm / "tokenizer.json"), load_tokenizer(tmp_path / "grown" / "tokenizer.json")
    added = tok.itos[base.vocab_size:]
    assert extends(tok, base) and added[0] == "zeppelin"  # the most frequent first
    assert {"zeppelin", "quokka", "pilot", "whistled", "teleported"} <= set(added) and not set(added) & set(base.itos)
    assert "wombat" not in added and "lone" not in added  # seen once, under --min-freq 2
    ids = tok.encode(NEW_TEXT.removesuffix("a lone wombat .\n")).tolist()
    assert 1 not in ids and 1 in load_tokenizer(tmp_path / "kept" / "tokenizer.json").encode(NEW_TEXT).tolist()
    config = json.loads((tmp_path / "grown" / "config.json").read_text())
    assert config["extend_vocab"] == {"pretrained": base.vocab_size, "added": len(added)}
    assert f"--extend-vocab: {len(added)} words added to the {base.vocab_size:,} of" in grown.err
    assert config["model"]["vocab_size"] == tok.vocab_size
    meta = json.loads(Path(config["data"]["prepared"]).joinpath("meta.json").read_text())
    assert meta["vocab_size"] == tok.vocab_size
    weights = load_file(tmp_path / "grown" / "model.safetensors")
    assert weights["embedding.weight"].shape[0] == tok.vocab_size
    facts = json.loads(cli("info", "grown", "--format", "json").out)
    assert facts["extend_vocab"] == f"{base.vocab_size:,} pretrained tokens + {len(added)} added"
    sample = cli("generate", "grown", "--prompt", "the zeppelin", "--length", "3", "--json", "--device", "cpu")
    assert sample.code == 0 and json.loads(sample.out)["samples"][0].startswith("the zeppelin"), sample.err
    resumed = cli("train", "--resume", "grown", "--max-steps", "3", "--device", "cpu", "--quiet")
    assert resumed.code == 0, resumed.err


def test_text_the_pretrained_vocabulary_misses_is_warned_of_once(tales_lm, cli, tmp_path):
    common = ["--init-from", tales_lm, "--max-steps", "1", "--seq-len", "16", "--batch-size", "4", "--device", "cpu"]
    (tmp_path / "new.txt").write_text(NEW_TEXT, encoding="utf-8")  # over 20% <unk>: preparing warns
    most = cli("train", "new.txt", *common, "--out", "most")
    assert most.code == 0 and most.err.count("are <unk>") == 1 and "--extend-vocab adds" in most.err, most.err
    some = NEW_TEXT.replace("zeppelin", "heron").replace("teleported", "flew").replace("quokka", "frog")
    (tmp_path / "some.txt").write_text(some, encoding="utf-8")  # 5-20%: train's own warning
    fewer = cli("train", "some.txt", *common, "--out", "fewer")
    assert fewer.code == 0 and fewer.err.count("are <unk>") == 1 and "--extend-vocab adds" in fewer.err, fewer.err


def test_a_classifier_grows_the_vocabulary_it_takes_over(tales_lm, cli):
    """With --freeze-epochs 1 the pretrained embedding stays as it started for the first epoch: the
    model's rows, then the mean for the reviews' words the tales lack."""
    lm = load_file(tales_lm / "model.safetensors")["embedding.weight"]
    result = cli("train", REVIEWS, "--task", "classify", "--init-from", tales_lm, "--extend-vocab",
                 "--freeze-epochs", "1", "--max-steps", "2", "--device", "cpu", "--quiet", "--out", "clf")
    assert result.code == 0, result.err
    table = load_file("clf/model.safetensors")["embedding.weight"]
    added = len(table) - len(lm)
    assert added > 50
    assert torch.equal(table[: len(lm)], lm)
    assert torch.allclose(table[len(lm):], lm.mean(0).expand(added, -1))
    facts = json.loads(cli("info", "clf", "--format", "json").out)
    assert facts["freeze_epochs"] == 1
    assert "1 (the pretrained layers frozen for the first 1 epoch)" in cli("info", "clf").out
    prepared = Path(json.loads(Path("clf/config.json").read_text())["data"]["prepared_abs"])
    (prepared / "test.bin").unlink()  # damaged: made again as it was made, not by tokenize (another vocabulary)
    assert_one_line_error(cli("info", str(prepared)), 1, "test.bin is missing", "lstmtext train",
                          "--task classify --init-from MODEL, the language model its run started from")


def test_extend_vocab_refusals(tales_lm, cli, tmp_path):
    alone = cli("train", TALES, "--extend-vocab", "--max-steps", "1", "--device", "cpu")
    assert_one_line_error(alone, 2, "--extend-vocab", "--init-from")
    subword = cli("train", TALES, "--level", "bpe", "--vocab-size", "300", "--hidden-size", "16", "--max-steps", "1",
                  "--seq-len", "16", "--device", "cpu", "--quiet", "--out", "bpe")
    assert subword.code == 0, subword.err
    refused = cli("train", REVIEWS, "--task", "classify", "--init-from", "bpe", "--extend-vocab", "--device", "cpu")
    assert_one_line_error(refused, 2, "--extend-vocab", "char or word", "bpe")
    frozen = cli("train", REVIEWS, "--init-from", tales_lm, "--extend-vocab", "--freeze-embedding", "--max-steps",
                 "1", "--device", "cpu", "--out", "frozen")
    assert_one_line_error(frozen, 2, "--freeze-embedding would hold every word --extend-vocab adds", "drop")
    assert not (tmp_path / "frozen").exists()
