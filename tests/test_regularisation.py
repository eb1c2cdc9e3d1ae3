"""AWD-LSTM regularisers (variational dropout, embedding dropout, weight drop) and NT-ASGD."""

import json

import pytest
import torch

from lstmtext.config import ModelConfig, TrainConfig, saved_train_config
from lstmtext.models import Classifier, Dropout, LanguageModel
from lstmtext.optim import (ASGD_NOT_YET, NONMONO, AveragedSGD, averaged_weights, averaging, make_optimizer,
                            nt_asgd_trigger)
from tests.conftest import REVIEWS, TALES, assert_one_line_error


def lm(**kw):
    torch.manual_seed(0)
    return LanguageModel(ModelConfig(vocab_size=50, embed_dim=16, hidden_size=16, layers=2, dropout=0.0, **kw))


def test_variational_dropout_keeps_one_mask_across_time():
    drop = Dropout(0.5, locked=True).train()
    out = drop(torch.ones(4, 30, 8))
    assert torch.equal(out, out[:, :1].expand_as(out))  # the same mask at every step
    assert set(out.unique().tolist()) == {0.0, 2.0}
    plain = Dropout(0.5).train()(torch.ones(4, 30, 8))
    assert not torch.equal(plain, plain[:, :1].expand_as(plain))


@pytest.mark.parametrize("layer_dropout", [None, 0.25])
def test_variational_dropout_locks_the_mask_between_layers_too(layer_dropout):
    """Input and output masks at --dropout, the masks between layers at --layer-dropout (default:
    the same), all locked across time."""
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=50, embed_dim=16, hidden_size=24, layers=3, dropout=0.5,
                                      variational=True, layer_dropout=layer_dropout)).train()
    seen = []
    locked = {name: getattr(model, name).forward for name in ("drop", "layer_drop")}
    for name, forward in locked.items():
        getattr(model, name).forward = lambda x, name=name, forward=forward: seen.append((name, forward(x))) or x
    out, (h, c) = model(torch.randint(0, 50, (4, 20)))
    assert [(name, tuple(o.shape)) for name, o in seen] == [("drop", (4, 20, 16)), ("layer_drop", (4, 20, 24)),
                                                            ("layer_drop", (4, 20, 24)), ("drop", (4, 20, 24))]
    assert model.layer_drop.p == (0.5 if layer_dropout is None else layer_dropout) and model.drop.p == 0.5
    for _, between in seen[1:3]:  # after layers 1 and 2: the same units dropped at every step
        kept = between != 0
        assert torch.equal(kept, kept[:, :1].expand_as(kept)) and not kept.all()
    assert h.shape == c.shape == (3, 4, 24)
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.lstm.parameters())
    x = torch.randint(0, 50, (2, 9))
    for name, forward in locked.items():
        getattr(model, name).forward = forward
    model.drop.p = model.layer_drop.p = 0.0  # masks off: the layer-by-layer path must compute what the fused call does
    layered = model(x)[0]
    assert torch.allclose(layered, model.eval()(x)[0], atol=1e-5)


def test_layer_dropout_sets_the_rate_between_stacked_layers_only():
    plain = LanguageModel(ModelConfig(vocab_size=50, embed_dim=16, hidden_size=16, layers=2, dropout=0.4,
                                      layer_dropout=0.1))
    assert (plain.lstm.dropout, plain.drop.p) == (0.1, 0.4)
    unset = LanguageModel(ModelConfig(vocab_size=50, embed_dim=16, hidden_size=16, layers=2, dropout=0.4))
    assert unset.lstm.dropout == 0.4  # a checkpoint written before the option rebuilds as it trained
    classifier = Classifier(ModelConfig(task="classify", vocab_size=50, embed_dim=8, hidden_size=8, layers=2,
                                        dropout=0.5, layer_dropout=0.2, bidirectional=True, num_classes=2))
    assert (classifier.layer_drop.p, classifier.drop.p) == (0.2, 0.5)


def test_cpu_dropout_keeps_the_expected_value():
    torch.manual_seed(0)
    out = Dropout(0.3).train()(torch.ones(200_000))
    assert abs((out == 0).float().mean().item() - 0.3) < 0.01
    assert out.mean().item() == pytest.approx(1.0, abs=0.01)
    assert torch.equal(Dropout(0.3).eval()(torch.ones(10)), torch.ones(10))


def test_embedding_dropout_drops_whole_word_types():
    model = lm(embed_dropout=0.5).train()
    x = torch.tensor([[7, 7, 9, 9, 7, 11, 11, 9] * 4])
    dropped_sevens = 0
    for _ in range(40):
        emb = model.embed(x)[0]
        for t in (7, 9, 11):
            rows = emb[x[0] == t]
            assert (rows == rows[0]).all()  # every occurrence of a word gets the same treatment
            assert not rows[0].any() or torch.allclose(rows[0], 2 * model.embedding.weight[t])
        dropped_sevens += int(not emb[0].any())
    assert 5 < dropped_sevens < 35  # about half the draws drop word 7
    model.eval()
    assert torch.equal(model.embed(x), model.embedding(x))


def test_a_classifier_drops_whole_word_types_too():
    torch.manual_seed(0)
    cfg = ModelConfig(task="classify", vocab_size=50, embed_dim=8, hidden_size=8, layers=1, dropout=0.0,
                      bidirectional=True, pooling="mean", num_classes=2, embed_dropout=0.5)
    model = Classifier(cfg).train()
    x, lengths = torch.tensor([[5, 6, 7, 8]] * 2), torch.tensor([4, 4])
    outputs = {tuple(model(x, lengths)[0].tolist()) for _ in range(20)}
    assert len(outputs) > 1  # a different set of word types each batch
    model.eval()
    assert torch.equal(model(x, lengths), model(x, lengths))


def adversarial_case():
    torch.manual_seed(0)
    cfg = ModelConfig(task="classify", vocab_size=40, embed_dim=8, hidden_size=8, layers=1, dropout=0.0,
                      bidirectional=True, pooling="mean", num_classes=2)
    x = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 0, 0, 0], [12, 13, 14, 0, 0]])
    return Classifier(cfg).train(), x, torch.tensor([5, 2, 3]), torch.tensor([1, 0, 1])


@pytest.mark.parametrize("frozen", [False, True])
def test_adversarial_loss_averages_the_loss_at_embeddings_moved_up_its_gradient(frozen):
    """--adversarial r: the mean of the cross-entropy and the cross-entropy at each text's embeddings
    moved by L2 norm r times the RMS value of the batch's real tokens' embeddings (over its real
    tokens only) along their own gradient; r 0 is the plain loss."""
    from contextlib import nullcontext

    from lstmtext.tasks import classify_loss

    model, x, lengths, y = adversarial_case()
    model.embedding.weight.requires_grad_(not frozen)
    ce = torch.nn.functional.cross_entropy
    plain = classify_loss(model, x, lengths, y, nullcontext(), None)
    torch.testing.assert_close(plain, ce(model(x, lengths), y))
    e = model.embed(x).detach().requires_grad_()
    grad, = torch.autograd.grad(ce(model.classify(e, lengths), y), e)
    assert grad[1, 2:].abs().sum() == 0  # padding has no gradient of its own
    norms = grad.flatten(1).norm(dim=1)
    tokens = torch.cat([e[0, :5], e[1, :2], e[2, :3]]).detach()  # the real tokens' embeddings
    rms = tokens.pow(2).mean().sqrt()
    moved = e.detach() + 0.5 * rms * grad / norms[:, None, None]
    expected = (ce(model.classify(e, lengths), y) + ce(model.classify(moved, lengths), y)) / 2
    loss = classify_loss(model, x, lengths, y, nullcontext(), None, adversarial=0.5)
    torch.testing.assert_close(loss, expected)
    assert loss > plain  # the move raises the loss: it is the steepest way up
    loss.backward()
    assert all(p.grad is not None for p in model.fwd.parameters())
    assert (model.embedding.weight.grad is None) == frozen


def test_weight_drop_masks_recurrent_weights_only_in_training():
    plain, dropped = lm(), lm(weight_drop=0.5)
    x = torch.randint(0, 50, (3, 12))
    plain.eval(), dropped.eval()
    assert torch.equal(plain(x)[0], dropped(x)[0])  # same weights, no mask at evaluation
    dropped.train()
    first, second = dropped(x)[0], dropped(x)[0]
    assert not torch.equal(first, second)  # a new mask each call
    first.sum().backward()
    assert dropped.lstm.weight_hh_l0.grad is not None and dropped.lstm.weight_hh_l0.grad.abs().sum() > 0
    names = dict(dropped.lstm.named_parameters())
    assert all(isinstance(p, torch.nn.Parameter) for p in names.values())  # the module keeps its parameters
    # and nn.LSTM was never handed other weights: on CUDA it would re-flatten them and move its parameters'
    # storage, which a captured training step then replays against the old storage (the LSTM stops learning)
    assert [ref() for ref in dropped.lstm._flat_weight_refs] == list(names.values())
    assert not dropped.lstm._weights_have_changed()


def test_nt_asgd_triggers_on_a_non_monotone_stall_and_averages():
    model = lm()
    opt = make_optimizer(model, TrainConfig(optimizer="asgd", lr=0.5), torch.device("cpu"))
    assert isinstance(opt, AveragedSGD) and not averaging(opt)
    x = torch.randint(0, 50, (4, 10))

    def sgd_step():
        opt.zero_grad()
        model(x)[0].float().pow(2).mean().backward()
        opt.step()

    for _ in range(3):
        sgd_step()
    history = [5.0, 4.0, 3.0, 2.9, 2.95, 2.97, 2.96]
    assert not nt_asgd_trigger(opt, history[:NONMONO], 9.0)  # too few evaluations to judge
    assert not nt_asgd_trigger(opt, history, 2.99)  # not worse than 4.0, the best before the last five
    assert nt_asgd_trigger(opt, history, 4.5)
    assert averaging(opt) and opt.param_groups[0]["t0"] == 3 < ASGD_NOT_YET
    assert not nt_asgd_trigger(opt, history, 9.0)  # only once
    snapshots = []
    for _ in range(4):
        sgd_step()
        snapshots.append([p.detach().clone() for p in model.parameters()])
    own = [p.detach().clone() for p in model.parameters()]
    with averaged_weights(model, opt):
        for p, *steps in zip(model.parameters(), *snapshots):
            assert torch.allclose(p, torch.stack(steps).mean(0), atol=1e-6)  # the mean of every step since the trigger
    for p, q in zip(model.parameters(), own):
        assert torch.equal(p, q)  # its own weights back


def train_side_by_side(pairs, steps, before_step=lambda step: None):
    """``steps`` steps of each (model, optimizer) pair on the same batches."""
    x = torch.randint(0, 50, (4, 10))
    for step in range(steps):
        before_step(step)
        for model, opt in pairs:
            opt.zero_grad()
            model((x + step) % 50)[0].float().pow(2).mean().backward()
            opt.step()


def test_averaged_sgd_steps_as_torch_asgd_without_its_host_reads():
    """AveragedSGD (fused SGD, the average on the device) gives torch.optim.ASGD's weights and
    average, as Merity et al. use it (lambd=0), with the trigger after 3 of 8 steps."""
    def setup(make):
        torch.manual_seed(0)
        model = lm()
        return model, make(list(model.parameters()))

    ours, ours_opt = setup(lambda ps: AveragedSGD(ps, lr=0.5, fused=True))
    theirs, theirs_opt = setup(lambda ps: torch.optim.ASGD(ps, lr=0.5, lambd=0.0, alpha=0.75, t0=ASGD_NOT_YET))
    def trigger(step):
        if step == 3:  # torch's ASGD averages from step t0 + 2 on, AveragedSGD from t0 + 1: both from step 4
            ours_opt.param_groups[0]["t0"], theirs_opt.param_groups[0]["t0"] = 3.0, 2.0

    train_side_by_side([(ours, ours_opt), (theirs, theirs_opt)], 8, trigger)
    for mine, other in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(mine, other, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ours_opt.state[mine]["ax"], theirs_opt.state[other]["ax"], rtol=1e-5, atol=1e-6)
        assert not torch.equal(ours_opt.state[mine]["ax"], mine)  # a real average of several steps


@pytest.mark.parametrize("optimizer", ["sgd", "asgd"])
def test_sgd_decays_the_weight_matrices_when_asked(optimizer):
    """--weight-decay with SGD and NT-ASGD (AWD-LSTM's 1.2e-6): torch's SGD with decay on the matrices
    only; without the flag SGD does not decay (AdamW's default stays 0.01), in one group as before."""
    def setup():
        torch.manual_seed(0)
        return lm()

    ours, theirs = setup(), setup()
    cfg = TrainConfig(optimizer=optimizer, lr=0.5, weight_decay=0.1)
    ours_opt = make_optimizer(ours, cfg, torch.device("cpu"))
    matrices = [p for p in theirs.parameters() if p.dim() >= 2]
    vectors = [p for p in theirs.parameters() if p.dim() < 2]
    theirs_opt = torch.optim.SGD([{"params": matrices, "weight_decay": 0.1}, {"params": vectors}], lr=0.5)
    train_side_by_side([(ours, ours_opt), (theirs, theirs_opt)], 3)
    for mine, other in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(mine, other, rtol=1e-5, atol=1e-6)
    assert TrainConfig(optimizer=optimizer).decay == 0.0 and TrainConfig().decay == 0.01
    plain = make_optimizer(setup(), TrainConfig(optimizer=optimizer, lr=0.5), torch.device("cpu"))
    assert [group["weight_decay"] for group in plain.param_groups] == [0.0]
    # a run saved before SGD took the flag holds AdamW's 0.01 there, never applied: it resumes without it
    assert saved_train_config({"optimizer": optimizer, "weight_decay": 0.01}).decay == 0.0
    assert saved_train_config({"optimizer": optimizer, "weight_decay": 0.01, "pretrained_lr": 1.0}).decay == 0.01
    assert saved_train_config({"optimizer": "adamw", "weight_decay": 0.01}).decay == 0.01


def test_activation_regularisers_add_their_penalties_to_the_loss():
    """--ar: alpha times the mean square of the last layer's dropped-out outputs; --tar: beta times
    the mean square of their change between consecutive steps. Nothing is added when both are 0."""
    from contextlib import nullcontext

    from lstmtext.tasks import lm_loss

    model = lm().train()
    x, y = torch.randint(0, 50, (4, 12)), torch.randint(0, 50, (4, 12))
    logits, state, raw, dropped = model.outputs(x)
    assert torch.equal(model(x)[0], logits) and raw.shape == dropped.shape == (4, 12, 16)
    plain, _ = lm_loss(model, x, y, None, nullcontext(), TrainConfig())
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, 50), y.reshape(-1))
    torch.testing.assert_close(plain, ce)
    regularised, new_state = lm_loss(model, x, y, None, nullcontext(), TrainConfig(ar=2.0, tar=1.0))
    expected = ce + 2.0 * raw.pow(2).mean() + (raw[:, 1:] - raw[:, :-1]).pow(2).mean()  # dropout 0: dropped == raw
    torch.testing.assert_close(regularised, expected)
    assert regularised > plain and torch.equal(new_state[0], state[0])
    regularised.backward()
    assert all(p.grad is not None for p in model.lstm.parameters())


def test_awd_options_train_end_to_end_through_the_cli(cli, tmp_path):
    out = tmp_path / "awd"
    result = cli("train", TALES, "--level", "word", "--hidden-size", "32", "--seq-len", "16", "--batch-size", "8",
        "--max-steps", "30", "--eval-every", "10", "--variational-dropout", "--embed-dropout", "0.1",
        "--weight-drop", "0.3", "--layer-dropout", "0.1", "--optimizer", "asgd", "--lr", "5", "--schedule", "constant",
        "--ar", "2", "--tar", "1", "--shift-windows", "--out", str(out), "--quiet")
    assert result.code == 0, result.err
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["weight_drop"] == 0.3 and config["model"]["variational"] is True
    assert config["model"]["layer_dropout"] == 0.1 and (config["train"]["ar"], config["train"]["tar"]) == (2, 1)
    assert config["status"] == "done" and config["result"]["figures"]["test"]["ppl"] > 1
    generated = cli("generate", str(out), "--length", "5", "--seed", "1")
    assert generated.code == 0 and generated.out.strip()
    info = json.loads(cli("info", str(out), "--format", "json").out)
    assert info["regularisation"] == {"dropout": 0.2, "layer_dropout": 0.1, "variational": True, "embed_dropout": 0.1,
                                      "weight_drop": 0.3, "ar": 2.0, "tar": 1.0, "shift_windows": True}
    assert info["optimizer"] == "asgd"
    table = " ".join(cli("info", str(out)).out.replace("│", " ").split())  # the table names the flags that set them
    assert ("regularisation --dropout 0.2, --embed-dropout 0.1, --layer-dropout 0.1, --variational-dropout, "
            "--weight-drop 0.3, --ar 2, --tar 1, --shift-windows") in table, table


def test_only_the_lm_only_options_are_refused_for_a_classifier(cli, tmp_path):
    result = cli("train", "--task", "classify", "--weight-drop", "0.5", "--out", str(tmp_path / "c"))
    assert_one_line_error(result, 2, "--weight-drop is for --task lm")
    result = cli("train", "--task", "classify", "--ar", "2", "--out", str(tmp_path / "c"))
    assert_one_line_error(result, 2, "--ar is for --task lm")
    assert_one_line_error(cli("train", "--tar", "-1", "--out", str(tmp_path / "c")), 2, "--tar must be")
    result = cli("train", "--task", "classify", "--shift-windows", "--out", str(tmp_path / "c"))
    assert_one_line_error(result, 2, "--shift-windows is for --task lm")
    cases = [(["--task", "classify", "--seq-len", "64"], "--seq-len is for --task lm"),
             (["--task", "classify", "--no-tie-weights"], "--no-tie-weights is for --task lm"),
             (["--task", "classify", "--variational-dropout"], "--variational-dropout is for --task lm"),
             (["--task", "classify", "--adaptive-softmax"], "--adaptive-softmax is for --task lm"),
             (["--pooling", "mean"], "--pooling is for --task classify"),
             (["--no-bidirectional"], "--no-bidirectional is for --task classify"),
             (["--max-length", "9"], "--max-length is for --task classify"),
             (["--label-column", "y"], "--label-column is for --task classify"),
             (["--split-seed", "4"], "--split-seed is for --task classify")]
    for flags, message in cases:
        assert_one_line_error(cli("train", *flags, "--out", str(tmp_path / "c")), 2, message)
    assert not (tmp_path / "c").exists()


def test_every_task_only_option_is_an_option_of_train():
    import typer

    from lstmtext.cli import app
    from lstmtext.cli.train_checks import TASK_ONLY

    params = {p.name for p in typer.main.get_command(app).commands["train"].params}
    assert set(TASK_ONLY["lm"]) | set(TASK_ONLY["classify"]) <= params
    assert not set(TASK_ONLY["lm"]) & set(TASK_ONLY["classify"])


def test_a_last_layer_of_its_own_size_feeds_the_tied_decoder_directly_and_carries_padded_state():
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=50, embed_dim=12, hidden_size=20, layers=3, last_layer_size=12, dropout=0.0)
    model = LanguageModel(cfg).eval()
    assert model.proj is None and model.lstm.num_layers == 2 and model.top.hidden_size == 12
    x = torch.randint(2, 50, (3, 9))
    with torch.no_grad():
        whole, (h, c) = model(x)
        first, state = model(x[:, :4])
        rest, _ = model(x[:, 4:], state)
    assert h.shape == c.shape == (3, 3, 20) and cfg.state_size == 20
    assert torch.count_nonzero(h[2, :, 12:]) == 0 and torch.count_nonzero(h[2, :, :12]) > 0
    torch.testing.assert_close(torch.cat([first, rest], 1), whole)  # the padded state carries exactly
    assert LanguageModel(ModelConfig(vocab_size=50, embed_dim=12, hidden_size=20, layers=3)).proj is not None


def test_awd_shaped_lm_trains_generates_and_refuses_to_seed_a_classifier(cli, tmp_path):
    out = tmp_path / "awd"
    result = cli("train", TALES, "--level", "word", "--embed-dim", "16", "--hidden-size", "40", "--layers", "3",
                 "--last-layer-size", "16", "--seq-len", "16", "--batch-size", "8", "--max-steps", "12",
                 "--eval-every", "6", "--weight-drop", "0.3", "--variational-dropout", "--out", str(out), "--quiet")
    assert result.code == 0, result.err
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["last_layer_size"] == 16 and config["model"]["tie_weights"] is True  # tied by default
    resumed = cli("train", "--resume", str(out), "--max-steps", "18", "--quiet")
    assert resumed.code == 0, resumed.err
    info = json.loads(cli("info", str(out), "--format", "json").out)
    assert info["last_layer_size"] == 16 and info["steps"] == 18
    assert cli("generate", str(out), "--length", "40", "--seed", "1").code == 0
    refused = cli("train", REVIEWS, "--task", "classify", "--init-from", str(out), "--out", str(tmp_path / "c"))
    assert_one_line_error(refused, 2, "--last-layer-size", "pretrain the language model without it")
    assert not (tmp_path / "c").exists()


def test_last_layer_size_needs_a_stack_and_a_language_model(cli, tmp_path):
    assert_one_line_error(cli("train", "--layers", "1", "--last-layer-size", "8", "--out", str(tmp_path / "a")), 2,
                          "needs --layers 2 or more")
    assert_one_line_error(cli("train", "--task", "classify", "--last-layer-size", "8", "--out", str(tmp_path / "b")),
                          2, "--last-layer-size is for --task lm")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_ema_keeps_the_moving_average_each_parameter_joins_at_its_first_update():
    """--ema 0.8: a parameter's average is the plain mean of its first 1 / (1 - 0.8) = 5 updates, then
    an exponential average with weight 0.2; a layer frozen for the first steps joins when it learns."""
    model = lm()
    opt = make_optimizer(model, TrainConfig(ema=0.8, lr=0.01), torch.device("cpu"))
    assert averaging(opt)
    x = torch.randint(0, 50, (4, 10))
    frozen = model.embedding.weight
    history: dict[torch.nn.Parameter, list[torch.Tensor]] = {p: [] for p in model.parameters()}
    for step in range(9):
        frozen.requires_grad_(step >= 4)
        opt.zero_grad(set_to_none=True)
        model((x + step) % 50)[0].float().pow(2).mean().backward()
        opt.step()
        for p in model.parameters():
            if p.requires_grad:
                history[p].append(p.detach().clone())
    assert len(history[frozen]) == 5 and len(history[model.lstm.weight_hh_l0]) == 9

    def expected(updates):
        average = updates[0].clone()
        for n, weights in enumerate(updates[1:], start=2):
            average += max(1 / n, 0.2) * (weights - average)
        return average

    own = [p.detach().clone() for p in model.parameters()]
    with averaged_weights(model, opt):
        for p, mine in zip(model.parameters(), own):
            torch.testing.assert_close(p.detach(), expected(history[p]), rtol=1e-5, atol=1e-6)
            assert not torch.equal(p, mine)  # a real average
    for p, mine in zip(model.parameters(), own):
        assert torch.equal(p, mine)  # its own weights back


@pytest.mark.parametrize("flag, value, refused, recorded", [
    ("--adversarial", "2", [([TALES, "--adversarial", "5"], "--adversarial is for --task classify"),
                            (["--task", "classify", "--adversarial", "-1"], "--adversarial must be between 0")],
     lambda info: info["regularisation"]["adversarial"] == 2.0),
    ("--ema", "0.9", [([TALES, "--ema", "1"], "--ema must be 0 (off) or a decay below 1"),
                      ([TALES, "--ema", "0.99", "--optimizer", "asgd"], "--ema cannot be combined with")],
     lambda info: info["weights"] == "moving average (--ema 0.9)"),
])
def test_training_options_are_checked_and_recorded(cli, tmp_path, flag, value, refused, recorded):
    for k, (args, message) in enumerate(refused):
        result = cli("train", *args, "--out", str(tmp_path / str(k)))
        assert_one_line_error(result, 2, message)
        assert not (tmp_path / str(k)).exists()
    out = tmp_path / "run"
    result = cli("train", REVIEWS, "--task", "classify", "--hidden-size", "16", "--epochs", "1", flag, value,
                 "--out", str(out), "--quiet")
    assert result.code == 0, result.err
    assert recorded(json.loads(cli("info", str(out), "--format", "json").out))
    assert cli("classify", str(out), "a fine film").code == 0
