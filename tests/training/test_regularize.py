"""Issue 13: `he.regularize` — the penalty, its gradient, padding, removal, arguments."""

from __future__ import annotations

import functools

import pytest
import torch

import headentropy as he
from headentropy.hf.training import _SESSIONS
from headentropy.kernels import torch_blocked

from ..hf.conftest import VOCAB, enable_checkpointing
from .helpers import RandomTokens, scale_qk, tiny_llama


def _grads(model) -> dict[str, torch.Tensor]:
    out = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return out


@pytest.fixture
def fp64_torch_engine(monkeypatch):
    """The torch backend's recomputing engine in fp64 (the public one computes fp32), so finite
    differences resolve the penalty. The model's RMSNorm still rounds through fp32, which is
    what limits the step and the tolerance below."""
    monkeypatch.setattr(torch_blocked, "TorchEngine",
                        functools.partial(torch_blocked.TorchEngine, compute_dtype=torch.float64))


@pytest.mark.parametrize("kind", ["band", "max", "target"])
def test_gradient_is_the_gradient_of_the_penalty(kind, fp64_torch_engine):
    """d(loss)/dθ with the regulariser minus without = weight · d(penalty)/dθ, checked against
    central finite differences of `handle.last_penalty` along random directions (fp64)."""
    model = tiny_llama().double().train()
    ids = RandomTokens(2).ids[:, :12]
    targets = torch.linspace(0.2, 0.9, 12).reshape(3, 4)
    opts = dict(kind=kind, band=(0.55, 0.6), targets=targets if kind == "target" else None, backend="torch")

    # Autograd: the same forward path at two weights; the language-model part cancels exactly.
    grads = {}
    for weight in (1.0, 3.0):
        with he.regularize(model, weight=weight, **opts) as handle:
            model(input_ids=ids, labels=ids).loss.backward()
        grads[weight] = _grads(model)
        assert handle.last_penalty != 0.0  # the band/targets are chosen so that heads are off them

    def penalty() -> float:
        with he.regularize(model, weight=1.0, **opts) as h:
            model(input_ids=ids)  # no labels: nothing to add to, but the penalty is computed
        return h.last_penalty

    gen = torch.Generator().manual_seed(0)
    params = dict(model.named_parameters())
    for name in ["model.layers.0.self_attn.k_proj.weight", "model.layers.1.self_attn.q_proj.weight",
                 "model.layers.2.self_attn.q_proj.weight", "model.embed_tokens.weight"]:
        p = params[name]
        d = torch.randn(p.shape, generator=gen, dtype=p.dtype)
        autograd = float(((grads[3.0][name] - grads[1.0][name]) / 2.0 * d).sum())
        eps = 1e-4
        with torch.no_grad():
            p.add_(eps * d)
        plus = penalty()
        with torch.no_grad():
            p.sub_(2 * eps * d)
        minus = penalty()
        with torch.no_grad():
            p.add_(eps * d)
        fd = (plus - minus) / (2 * eps)
        assert abs(fd) > 1e-3, name  # a direction that moves the penalty
        assert autograd == pytest.approx(fd, rel=2e-3, abs=1e-4), name


def test_penalty_value_matches_its_definition():
    model = tiny_llama().train()
    ids = RandomTokens(4).ids
    with he.regularize(model, weight=0.5, kind="band", band=(0.5, 0.52), backend="torch") as band:
        loss_band = model(input_ids=ids, labels=ids).loss
    h = band.last_stats  # [L, H]
    assert h.shape == (3, 4) and bool(((h > 0) & (h < 1)).all())
    expected = ((0.5 - h).clamp(min=0) + (h - 0.52).clamp(min=0)).square().mean()
    assert band.last_penalty == pytest.approx(float(expected), rel=1e-5)
    with he.regularize(model, weight=0.5, kind="max", backend="torch") as mx:
        loss_max = model(input_ids=ids, labels=ids).loss
    assert mx.last_penalty == pytest.approx(-float(h.mean()), rel=1e-5)
    plain = model(input_ids=ids, labels=ids).loss  # SDPA, no penalty
    assert float((loss_band - plain).detach()) == pytest.approx(0.5 * band.last_penalty, abs=2e-5)
    assert float((loss_max - plain).detach()) == pytest.approx(0.5 * mx.last_penalty, abs=2e-5)
    # layers= selects rows of the same per-head means
    with he.regularize(model, kind="max", layers=[2, 0], backend="torch") as sel:
        model(input_ids=ids, labels=ids)
    assert torch.allclose(sel.last_stats, h[[0, 2]], atol=1e-6)


def test_regulariser_raises_the_entropy_of_a_collapsed_model():
    """Query/key ×2.5: mean normalised entropy 0.08, most heads below the collapse threshold.
    Six SGD steps with the band penalty raise it; the same steps without it lower it."""
    ids = RandomTokens(8).ids
    finals = {}
    for weight in (0.0, 100.0):
        model = scale_qk(tiny_llama(), 2.5).train()
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)
        means = []
        with he.regularize(model, weight=weight, kind="band", band=(0.2, 0.9), backend="torch") as h:
            for _ in range(6):
                model(input_ids=ids, labels=ids).loss.backward()
                opt.step()
                opt.zero_grad()
                means.append(float(h.last_stats.mean()))
        finals[weight] = means
    start = finals[0.0][0]  # the first forward, before any step: the same model in both runs
    assert start < 0.1 and finals[100.0][0] == pytest.approx(start)
    assert finals[100.0][-1] > start + 0.005  # raised
    assert finals[0.0][-1] < start  # without it the run keeps narrowing
    assert finals[100.0][-1] > finals[0.0][-1] + 0.01


def test_padding_does_not_change_the_penalty():
    model = tiny_llama().train()
    g = torch.Generator().manual_seed(3)
    a = torch.randint(1, VOCAB, (1, 16), generator=g)  # [1, 16]
    b = torch.randint(1, VOCAB, (1, 24), generator=g)  # [1, 24]

    def run(**inputs):
        with he.regularize(model, kind="band", band=(0.55, 0.6), backend="torch") as h:
            model(**inputs)
        return h.last_penalty, h.last_stats

    # Right padding: whatever the padded slots hold, the penalty and the head means are the same.
    mask = torch.ones(2, 24, dtype=torch.long)
    mask[0, 16:] = 0
    results = []
    for fill in (0, 5, 77):
        ids = torch.cat([torch.cat([a, torch.full((1, 8), fill)], 1), b])  # [2, 24]
        results.append(run(input_ids=ids, attention_mask=mask))
    for pen, stats in results[1:]:
        assert pen == pytest.approx(results[0][0], rel=1e-6, abs=1e-9)
        assert torch.allclose(stats, results[0][1], atol=1e-6)
    # Left padding (with the real tokens' positions): the same as the unpadded sequence alone.
    left = torch.cat([torch.full((1, 8), 9), a], 1)  # [1, 24]
    lmask = torch.cat([torch.zeros(1, 8, dtype=torch.long), torch.ones(1, 16, dtype=torch.long)], 1)
    pos = (lmask.cumsum(-1) - 1).clamp(min=0)
    pen_left, stats_left = run(input_ids=left, attention_mask=lmask, position_ids=pos)
    pen_alone, stats_alone = run(input_ids=a)
    assert pen_left == pytest.approx(pen_alone, rel=1e-5)
    assert torch.allclose(stats_left, stats_alone, atol=1e-5)
    # ... whereas counting the padded rows would have changed it.
    pen_unmasked, _ = run(input_ids=left)
    assert abs(pen_unmasked - pen_alone) > 1e-4


def test_remove_restores_the_model_exactly():
    model = tiny_llama().train()
    ids = RandomTokens(4).ids
    impl = model.config._attn_implementation
    hooks = (dict(model._forward_hooks), dict(model._forward_pre_hooks))
    before = model(input_ids=ids, labels=ids).loss
    handle = he.regularize(model, weight=1.0, kind="max", backend="torch")
    during = model(input_ids=ids, labels=ids).loss
    assert model.config._attn_implementation == "headentropy"
    assert float((during - before).detach()) == pytest.approx(handle.last_penalty, abs=2e-5)
    assert handle.last_penalty < -0.3  # -mean entropy: the penalty really was added
    handle.remove()
    handle.remove()  # idempotent
    after = model(input_ids=ids, labels=ids).loss
    assert torch.equal(after, before)  # bit for bit: the model's own attention again
    assert model.config._attn_implementation == impl
    assert (dict(model._forward_hooks), dict(model._forward_pre_hooks)) == hooks
    assert model not in _SESSIONS
    # eval mode: the penalty is not added (evaluation losses stay comparable)
    with he.regularize(model, weight=1.0, kind="max", backend="torch") as handle:
        model.eval()
        evaluated = model(input_ids=ids, labels=ids).loss
    assert handle.last_penalty is None  # no training forward, no penalty
    assert float(evaluated.detach()) == pytest.approx(float(model(input_ids=ids, labels=ids).loss.detach()), abs=2e-5)


def test_regulariser_and_training_monitor_share_one_forward():
    """Both on one model: one he.monitor, the monitor reads the regulariser's forward and does
    not change its gradient."""
    ids = RandomTokens(4).ids
    alone = tiny_llama().train()
    with he.regularize(alone, kind="max", backend="torch"):
        alone(input_ids=ids, labels=ids).loss.backward()
    model = tiny_llama().train()
    calls = []
    model.register_forward_pre_hook(lambda *a: calls.append(1))
    with he.TrainingMonitor(model, every_n_steps=1, backend="torch") as mon, \
            he.regularize(model, kind="max", backend="torch") as h:
        model(input_ids=ids, labels=ids).loss.backward()
        scalars = mon.step(0)
    assert len(calls) == 1  # no second forward
    for (name, p), q in zip(model.named_parameters(), alone.parameters()):
        assert torch.equal(p.grad, q.grad), name
    assert scalars["attention_entropy/mean"] == pytest.approx(-h.last_penalty, abs=0.05)
    assert model.config._attn_implementation != "headentropy" and model not in _SESSIONS


def test_bad_arguments_are_refused_with_the_argument_named():
    model = tiny_llama()
    for kwargs, match in [
        (dict(weight=-1.0), "weight"), (dict(weight=float("nan")), "weight"), (dict(kind="min"), "kind"),
        (dict(band=(0.9, 0.2)), "band"), (dict(band=0.5), "band"), (dict(stat="lse"), "stat"),
        (dict(layers=[7]), "layers"), (dict(kind="target"), "targets"),
        (dict(kind="target", targets=torch.zeros(3, 5)), "targets"),
        (dict(kind="target", targets=torch.full((3, 4), 2.0)), "targets"),
        (dict(kind="band", targets=torch.zeros(3, 4)), "targets"),
        (dict(backend="nope"), "nope"),
    ]:
        with pytest.raises(ValueError, match=match):
            he.regularize(model, **kwargs)
        assert model not in _SESSIONS and model.config._attn_implementation != "headentropy"
    with he.regularize(model, kind="target", targets=torch.full((3, 4), 0.5), backend="torch"):
        pass
    # A tuple output has no named loss: refused rather than silently unregularised.
    model.train()
    with he.regularize(model, backend="torch"), pytest.raises(ValueError, match="return_dict"):
        ids = RandomTokens(2).ids
        model(input_ids=ids, labels=ids, return_dict=False)


def test_renyi2_and_targets_from_a_reference():
    model = tiny_llama().train()
    ids = RandomTokens(4).ids
    with he.regularize(model, kind="max", stat="shannon", backend="torch") as sh:
        model(input_ids=ids, labels=ids)
    with he.regularize(model, kind="max", stat="renyi2", backend="torch") as r2:
        model(input_ids=ids, labels=ids)
    assert bool((r2.last_stats <= sh.last_stats + 1e-6).all())  # H2 <= H, head by head
    assert float((sh.last_stats - r2.last_stats).mean()) > 0.01
    # Targets taken from a reference (here: this model itself): no penalty on the same batch,
    # a positive one once the model has moved away from them.
    with he.regularize(model, weight=1.0, kind="target", targets=sh.last_stats, backend="torch") as tg:
        model(input_ids=ids, labels=ids)
        assert tg.last_penalty == pytest.approx(0.0, abs=1e-10)
        scale_qk(model, 1.5)
        model(input_ids=ids, labels=ids)
        assert tg.last_penalty > 1e-3


def test_trainer_uses_the_regularised_loss_unchanged(tmp_path):
    """The Trainer's logged loss at step 1 is the model's loss plus weight × penalty."""
    from .helpers import trainer_for

    model = tiny_llama()
    trainer = trainer_for(model, tmp_path, max_steps=1, report_to=())
    trainer.train_dataset = RandomTokens(4)  # one batch: the whole dataset (the mean ignores order)
    batch = RandomTokens(4).ids
    with torch.no_grad():
        plain = float(model.train()(input_ids=batch, labels=batch).loss)
    with he.regularize(model, weight=0.5, kind="max", backend="torch") as handle:
        trainer.train()
    logged = next(e["loss"] for e in trainer.state.log_history if "loss" in e)
    assert logged == pytest.approx(plain + 0.5 * handle.last_penalty, abs=1e-4)
    assert handle.last_penalty < -0.3


def test_gradient_checkpointing_gives_the_same_penalty_gradient_and_scalars():
    """Layers re-run during backward are not recorded (it would change what they compute)."""
    ids = RandomTokens(4).ids
    results = []
    for checkpointing in (False, True):
        model = tiny_llama().train()
        if checkpointing:
            enable_checkpointing(model)
        with he.regularize(model, weight=1.0, kind="max", backend="torch") as h, \
                he.TrainingMonitor(model, every_n_steps=1, backend="torch") as mon:
            model(input_ids=ids, labels=ids).loss.backward()
            scalars = mon.step(0)
        results.append(({n: p.grad for n, p in model.named_parameters()}, h.last_penalty, scalars))
    (g0, p0, s0), (g1, p1, s1) = results
    assert p1 == p0 and s1 == s0
    for name in g0:
        assert torch.allclose(g1[name], g0[name], rtol=1e-5, atol=1e-7), name
