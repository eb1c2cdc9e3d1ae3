import pytest
import torch

from lstmtext.checkpoint import load_checkpoint
from lstmtext.sampling import SampleSettings, filter_logits, sample


@pytest.fixture(scope="module")
def lm(tiny_lm):
    run, _ = tiny_lm
    ckpt = load_checkpoint(run, task="lm")
    return ckpt.model, ckpt.tokenizer


def draw(lm, prompt="The ", **kw):
    model, tok = lm
    return sample(model, tok, prompt, SampleSettings(**kw), torch.device("cpu"))


def test_same_seed_same_text_and_other_seed_other_text(lm):
    a = draw(lm, length=60, seed=7, temperature=1.0)
    assert a == draw(lm, length=60, seed=7, temperature=1.0)
    assert a != draw(lm, length=60, seed=8, temperature=1.0)


def test_greedy_is_deterministic_and_equals_top_k_1(lm):
    greedy = draw(lm, length=50, temperature=0.0, seed=1)
    assert greedy == draw(lm, length=50, temperature=0.0, seed=2)
    assert greedy == draw(lm, length=50, temperature=1.3, top_k=1, seed=3)


def test_length_and_num_samples_are_honoured(lm):
    rows = draw(lm, length=33, num_samples=5, seed=0)
    assert len(rows) == 5 and all(len(r) == 33 for r in rows)
    assert len({tuple(r) for r in rows}) > 1  # one batch, different samples


def test_prompt_warms_the_state(lm):
    # Greedy, so no random draws at all: only the warmed state can make the samples differ. (At
    # temperature 1 a briefly trained model's broad distributions let the shared noise decide most
    # draws, and two prompts can give the same sample.)
    a = draw(lm, prompt="The miller", length=40, temperature=0.0)
    b = draw(lm, prompt="Dear Tomas,\n", length=40, temperature=0.0)
    assert a[0][:5] != b[0][:5]


def test_never_samples_pad_or_unk(lm):
    rows = draw(lm, length=200, num_samples=4, temperature=2.0, seed=5)
    assert all(t > 1 for r in rows for t in r)


def test_filter_logits_top_k_and_top_p():
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]])
    kept = torch.isfinite(filter_logits(logits, top_k=2, top_p=1.0))
    assert kept.tolist() == [[True, True, False, False, False]]
    probs = torch.softmax(logits, -1)[0]
    p = float(probs[0] + probs[1]) - 1e-4  # needs the top two to reach p
    kept = torch.isfinite(filter_logits(logits, top_k=0, top_p=p))
    assert kept.tolist() == [[True, True, False, False, False]]
    assert torch.isfinite(filter_logits(logits, 0, 0.01)).sum() == 1


def reference_sample(model, tok, prompt, settings):
    """The plain sampling loop (torch.multinomial, one model call per token) that ``sample`` must match."""
    from lstmtext.sampling import start_ids
    from lstmtext.tokenizers import PAD, UNK

    generator = torch.Generator().manual_seed(settings.seed)
    ids = torch.tensor([start_ids(tok, prompt)]).repeat(settings.num_samples, 1)
    logits, state = model(ids, None, last_only=True)
    last, rows = logits[:, -1].float(), []
    for _ in range(settings.length):
        last[:, [PAD, UNK]] = float("-inf")
        if settings.temperature == 0:
            nxt = last.argmax(-1)
        else:
            probs = torch.softmax(filter_logits(last / settings.temperature, settings.top_k, settings.top_p), -1)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        rows.append(nxt)
        logits, state = model(nxt[:, None], state)
        last = logits[:, -1].float()
    return torch.stack(rows, 1).tolist()


@pytest.mark.parametrize("kw", [dict(temperature=1.0), dict(temperature=0.7, top_k=5), dict(temperature=1.2, top_p=0.8),
                                dict(temperature=0.0), dict(temperature=1.0, num_samples=3)])
def test_buffered_decoder_draws_what_the_plain_multinomial_loop_draws(lm, kw, monkeypatch):
    import lstmtext.sampling as sampling

    model, tok = lm
    monkeypatch.setattr(sampling, "NOISE_STEPS", 16)  # several noise chunks in 70 tokens
    settings = SampleSettings(length=70, seed=11, **kw)
    with torch.no_grad():
        expected = reference_sample(model.eval(), tok, "The ", settings)
    report = {}
    assert sample(model, tok, "The ", settings, torch.device("cpu"), report=report) == expected
    assert report["decode"] == "eager"


def test_a_longer_sample_with_the_same_seed_continues_the_shorter(lm):
    short = draw(lm, length=30, seed=4, temperature=1.0, num_samples=2)
    long = draw(lm, length=150, seed=4, temperature=1.0, num_samples=2)
    assert [row[:30] for row in long] == short


def test_streaming_sees_every_token_as_it_is_drawn(lm):
    model, tok = lm
    seen = []
    rows = sample(model, tok, "The ", SampleSettings(length=25, num_samples=2, seed=1), torch.device("cpu"),
                  on_step=seen.append)
    assert [list(col) for col in zip(*rows)] == seen


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("kw", [dict(temperature=0.0), dict(temperature=0.9, top_k=8),
                                dict(temperature=1.0, top_p=0.9, num_samples=4)])
def test_decoding_in_a_cuda_graph_draws_what_the_eager_steps_draw(lm, kw):
    import copy

    model, tok = lm
    model = copy.deepcopy(model).cuda()
    settings = SampleSettings(length=120, seed=5, **kw)
    graphed, eager = {}, {}
    a = sample(model, tok, "The ", settings, torch.device("cuda"), report=graphed)
    b = sample(model, tok, "The ", settings, torch.device("cuda"), cuda_graph=False, report=eager)
    assert graphed["decode"] == "cuda graph" and eager["decode"] == "eager"
    assert a == b


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_an_adaptive_softmax_decodes_in_a_cuda_graph_as_eagerly(lm):
    import dataclasses

    from lstmtext.models import LanguageModel

    model, tok = lm
    torch.manual_seed(0)
    model = LanguageModel(dataclasses.replace(model.cfg, cutoffs=[10, 30])).cuda()
    settings = SampleSettings(length=120, seed=5, temperature=0.9, num_samples=4)
    graphed = {}
    a = sample(model, tok, "The ", settings, torch.device("cuda"), report=graphed)
    assert graphed["decode"] == "cuda graph"
    assert a == sample(model, tok, "The ", settings, torch.device("cuda"), cuda_graph=False)


def test_a_prompt_is_read_composed_however_its_accents_were_written(lm):
    """A prompt typed with combining accents (as macOS writes them) starts the model where the same prompt
    written with composed letters does: the tokenizer normalises it to NFC, as it did the training text."""
    from lstmtext.sampling import start_ids

    _, tok = lm
    composed, decomposed = "The caf\u00e9 and the na\u00efve miller", "The cafe\u0301 and the nai\u0308ve miller"
    assert start_ids(tok, decomposed) == start_ids(tok, composed)
    assert draw(lm, prompt=decomposed, length=20, seed=3) == draw(lm, prompt=composed, length=20, seed=3)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le"])
def test_a_prompt_file_with_a_utf16_or_utf32_byte_order_mark_is_read_by_it(cli, tiny_lm, tmp_path, encoding):
    """Notepad's 'Unicode' (UTF-16 with a byte-order mark) is read as a corpus with that mark is, not refused as
    invalid UTF-8 at byte 0."""
    run, _ = tiny_lm
    (tmp_path / "prompt.txt").write_bytes("\ufeffThe miller\r\n".encode(encoding))
    by_file = cli("generate", run, "--prompt-file", "prompt.txt", "--length", "10", "--seed", "2")
    assert by_file.code == 0, by_file.err
    assert by_file.out == cli("generate", run, "--prompt", "The miller", "--length", "10", "--seed", "2").out
