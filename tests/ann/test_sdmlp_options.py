"""Each Table 2 ablation flag of the SDMLP changes its forward or its step; batched seeds equal single seeds."""

import numpy as np
import pytest
import torch

from ann import SDMLP

RNG = np.random.default_rng(0)
X = RNG.random((64, 12)).astype(np.float32)
Y = (np.arange(64) % 3).astype(np.int64)


def make(**kw):
    return SDMLP(12, 40, 3, k=4, lr=0.5, batch_size=16, device="cpu", seed=3, **kw)


def logits(model):
    with torch.no_grad():
        return model._forward_all(X)[0]


def test_l2_normalize_changes_the_forward():
    assert not torch.allclose(logits(make()), logits(make(l2_normalize=False)))


@pytest.mark.parametrize("flag", [{"hidden_bias": True}, {"output_bias": True}, {"optimizer": "adam"},
                                  {"optimizer": "sgdm"}, {"optimizer": "rmsprop"}, {"topk_mode": "mask"}])
def test_flag_changes_the_step(flag):
    base, ablated = make().fit_task(X, Y, 2), make(**flag).fit_task(X, Y, 2)
    assert not torch.allclose(logits(base), logits(ablated))


def test_negative_weights_flag_skips_the_clamp():
    base, ablated = make().fit_task(X, Y, 3), make(nonnegative=False).fit_task(X, Y, 3)
    assert min(w.min() for w in base.get_weights().values()) >= 0
    assert min(w.min() for w in ablated.get_weights().values()) < 0


def test_no_anneal_changes_k():
    assert make(anneal_epochs=5).k == 40 and make(anneal_epochs=0).k == 4


@pytest.mark.parametrize("grad_clip", [None, 0.05])
def test_batched_seeds_equal_single_seed_runs(grad_clip):
    """Also with gradient clipping, which must act per model (a joint norm would couple the seeds)."""
    kw = dict(k=4, lr=0.5, batch_size=16, device="cpu", gaba_s=200.0, grad_clip=grad_clip)
    batched = SDMLP(12, 40, 3, seed=5, n_models=3, **kw)
    batched.fit_task(X, Y, 2).fit_task(X[:32], Y[:32], 1)
    singles = [SDMLP(12, 40, 3, seed=5 + i, **kw)
               .fit_task(X, Y, 2).fit_task(X[:32], Y[:32], 1) for i in range(3)]
    for i, single in enumerate(singles):
        for name in ("address", "value"):
            np.testing.assert_allclose(batched.get_weights()[name][i], single.get_weights()[name], atol=1e-5)
        np.testing.assert_array_equal(batched.predict(X)[i], single.predict(X))
    assert batched.predict(X).shape == (3, 64) and batched.hidden(X).shape == (3, 64, 40)


def test_batched_resume_round_trip():
    a = SDMLP(12, 40, 3, k=4, device="cpu", n_models=2).fit_task(X, Y, 1)
    b = SDMLP(12, 40, 3, k=4, device="cpu", n_models=2)
    b.load_state_dict(a.state_dict())
    a.fit_task(X, Y, 1), b.fit_task(X, Y, 1)
    np.testing.assert_array_equal(a.get_weights()["value"], b.get_weights()["value"])


def test_regularizer_needs_a_single_model():
    from ann import EWC

    with pytest.raises(ValueError, match="n_models=1"):
        make(n_models=2, regularizer=EWC())


def test_grad_clip_caps_the_step():
    """Plain SGD, lr 1, one full batch: the parameter change is the clipped gradient, norm = grad_clip."""
    from ann import ReLUMLP

    def step_norm(grad_clip):
        m = ReLUMLP(12, 8, 3, lr=1.0, batch_size=64, device="cpu", seed=0, grad_clip=grad_clip)
        before = [p.detach().clone() for p in m.net.parameters()]
        m.fit_task(X, Y, 1)
        after = [p.detach() for p in m.net.parameters()]
        return float(torch.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(after, before, strict=True))))

    assert step_norm(None) > 0.01
    assert step_norm(0.01) == pytest.approx(0.01, rel=1e-3)
    with pytest.raises(ValueError, match="grad_clip"):
        ReLUMLP(12, 8, 3, device="cpu", grad_clip=0.0)
