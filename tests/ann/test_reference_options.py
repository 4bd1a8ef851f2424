"""The options that switch to the authors' code (docs/reference-differences.md), each against values by hand."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from ann import EWC, L2, MAS, SDMLP, SI, FlyModel, topk
from ann.regularizers import Site

# --- 2. Eq. 12's order: [a - lambda I]+ (after) or [[a]+ - lambda I]+ (before) -------------------------------


def test_rectify_order_by_hand():
    # k = 1: I = 2nd largest of [a]+ = 1.0; lambda = -1 for neuron 0 (GABA excites), +1 for the rest
    drive = torch.tensor([[-0.5, 2.0, 1.0, 0.2]], requires_grad=True)
    gaba = torch.tensor([-1.0, 1.0, 1.0, 1.0])
    after = topk(drive, 1, gaba=gaba, rectify="after")
    before = topk(drive, 1, gaba=gaba, rectify="before")
    torch.testing.assert_close(after, torch.tensor([[0.5, 1.0, 0.0, 0.0]]))  # -0.5 + 1.0
    torch.testing.assert_close(before, torch.tensor([[1.0, 1.0, 0.0, 0.0]]))  # [-0.5]+ + 1.0
    # neuron 0's output depends on its drive only in Eq. 12's order
    assert torch.autograd.grad(after[0, 0], drive)[0][0, 0].item() == 1.0
    assert torch.autograd.grad(before[0, 0], drive)[0][0, 0].item() == 0.0


def test_rectify_order_is_irrelevant_without_negative_drive_or_without_the_switch():
    drive = torch.tensor([[0.5, 2.0, 1.0, 0.2]])
    gaba = torch.tensor([-1.0, 0.3, 1.0, -0.5])
    torch.testing.assert_close(topk(drive, 1, gaba=gaba, rectify="after"), topk(drive, 1, gaba=gaba, rectify="before"))
    drive = torch.tensor([[-0.5, 2.0, 1.0, 0.2]])
    torch.testing.assert_close(topk(drive, 1, rectify="after"), topk(drive, 1, rectify="before"))
    with pytest.raises(ValueError, match="'rectify' parameter"):
        topk(drive, 1, rectify="first")


@pytest.mark.parametrize("rectify", ["after", "before"])
def test_sdmlp_hidden_follows_the_rectify_option(rectify):
    """lambda = -1 at the start of the switch; negative addresses give negative drive."""
    rng = np.random.default_rng(1)
    model = SDMLP(6, 8, 2, k=2, gaba_s=100.0, nonnegative=False, rectify=rectify, device="cpu", seed=0)
    address = rng.normal(size=(6, 8)).astype(np.float32)
    model.set_weights({"address": address, "value": np.abs(rng.normal(size=(8, 2))).astype(np.float32)})
    x = rng.random((5, 6)).astype(np.float32)
    drive = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ address
    assert (drive < 0).any()
    level = np.sort(np.maximum(drive, 0), axis=1)[:, -3:-2]  # 3rd largest of [a]+ (k + 1 = 3)
    base = drive if rectify == "after" else np.maximum(drive, 0)
    np.testing.assert_allclose(model.hidden(x), np.maximum(base + level, 0), atol=1e-5)


# --- 4. initial weights --------------------------------------------------------------------------------------

def test_reference_init_is_nn_linear_then_clamp_and_renormalise():
    n, r, o = 200, 300, 5
    raw = SDMLP(n, r, o, init="reference", nonnegative=False, l2_normalize=False, device="cpu", seed=0)
    w = raw.get_weights()
    for name, fan_in in (("address", n), ("value", r)):  # nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(w[name]).max() <= bound and np.abs(w[name]).max() > 0.95 * bound
        assert abs((w[name] < 0).mean() - 0.5) < 0.05
    sdm = SDMLP(n, r, o, init="reference", device="cpu", seed=0).get_weights()
    assert abs((sdm["address"] == 0).mean() - 0.5) < 0.03 and abs((sdm["value"] == 0).mean() - 0.5) < 0.05
    np.testing.assert_allclose(np.linalg.norm(sdm["address"], axis=0), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(sdm["value"], np.maximum(w["value"], 0))  # same draw, clamped, not rescaled
    uniform = SDMLP(n, r, o, device="cpu", seed=0).get_weights()
    assert (uniform["address"] > 0).all() and (uniform["value"] > 0).all()
    with pytest.raises(ValueError, match="'init' parameter of SDMLP"):
        SDMLP(n, r, o, init="linear", device="cpu")


# --- 3. biases: nn.Linear's initialisation and the clamp -----------------------------------------------------

def test_reference_bias_init_and_clamp():
    n, r, o = 50, 400, 300
    free = SDMLP(n, r, o, k=5, hidden_bias=True, output_bias=True, bias_init="reference", device="cpu", seed=0)
    for bias, fan_in in ((free.net.hidden_bias, n), (free.net.output_bias, r)):
        b, bound = bias.detach().numpy(), 1 / math.sqrt(fan_in)
        assert np.abs(b).max() <= bound and np.abs(b).max() > 0.95 * bound and abs((b < 0).mean() - 0.5) < 0.1
    zero = SDMLP(n, r, o, k=5, hidden_bias=True, output_bias=True, device="cpu", seed=0)
    assert not zero.net.hidden_bias.detach().any() and not zero.net.output_bias.detach().any()
    clamped = SDMLP(n, r, o, k=5, hidden_bias=True, output_bias=True, bias_init="reference", bias_clamp=True,
                    device="cpu", seed=0)
    torch.testing.assert_close(clamped.net.hidden_bias, free.net.hidden_bias.clamp(min=0))
    rng = np.random.default_rng(0)
    x, y = rng.random((64, n)).astype(np.float32), (np.arange(64) % o).astype(np.int64)
    clamped.fit_task(x, y, 2)
    free.fit_task(x, y, 2)
    assert min(clamped.net.hidden_bias.min().item(), clamped.net.output_bias.min().item()) >= 0
    assert free.net.hidden_bias.min().item() < 0


# --- 5. FlyModel: Kenyon-cell vectors divided by their maximum -----------------------------------------------

def test_fly_max_scaling_by_hand():
    fly = FlyModel(n_inputs=3, n_neurons=3, n_outputs=3, k=2, m=1, lr=0.25, scaling="max")
    fly.set_weights({"address": np.eye(3, dtype=np.float32), "value": np.zeros((3, 3), np.float32)})
    x = np.array([[3.0, 4.0, 0.0], [0.0, 1.0, 2.0]], dtype=np.float32)  # unit-normalised: [.6, .8, 0], [0, 1, 2]/sqrt5
    np.testing.assert_allclose(fly.hidden(x), [[0.75, 1, 0], [0, 0.5, 1]], atol=1e-6)  # 0.6/0.8; (1/sqrt5)/(2/sqrt5)
    fly.fit_task(x, np.array([2, 0]))
    expected = np.zeros((3, 3))
    expected[:, 2] = 0.25 * np.array([0.75, 1, 0])
    expected[:, 0] = 0.25 * np.array([0, 0.5, 1])
    np.testing.assert_allclose(fly.get_weights()["value"], expected, atol=1e-6)
    plain = FlyModel(n_inputs=3, n_neurons=3, n_outputs=3, k=2, m=1, lr=0.25)
    plain.set_weights({"address": np.eye(3, dtype=np.float32), "value": np.zeros((3, 3), np.float32)})
    np.testing.assert_allclose(plain.hidden(x), [[0.6, 0.8, 0], [0, 1 / 5**0.5, 2 / 5**0.5]], atol=1e-6)
    with pytest.raises(ValueError, match="'scaling' parameter of FlyModel"):
        FlyModel(n_inputs=3, n_neurons=3, n_outputs=3, k=1, m=1, scaling="minmax")


# --- 1. MAS importance scale ---------------------------------------------------------------------------------

class Linear1(nn.Module):
    """logits = x W^T."""

    def __init__(self, w):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(w, dtype=torch.float32))

    def forward(self, x, sites=None):
        logits = x @ self.weight.T
        if sites is not None:
            sites.append(Site("weight", None, x, logits, transposed=True))
        return logits, logits


W = [[0.3, -0.2], [0.1, 0.4]]
X = torch.tensor([[1.0, 2.0], [0.5, -1.0]])


def test_mas_reference_scale_on_one_small_batch_by_hand():
    # one batch of both samples: |d mean_{i, o} (W x_i)_o^2 / dW| = |(2 / (B o)) sum_i (W x_i) x_i^T|, B = o = 2
    net = Linear1(W)
    reg = MAS(scale="reference")
    reg.after_task(net, X, None)
    out = X @ torch.tensor(W).T
    expected = (2 / 4 * (out[:, :, None] * X[:, None, :]).sum(dim=0)).abs()
    torch.testing.assert_close(reg.importance["weight"], expected)


def test_mas_reference_scale_uses_six_batches_of_512_divided_by_the_task_batches():
    """12 batches of 512 identical samples: 6 are used, each gives |(2 / o) (W x) x^T|, divided by 12; the
    per-sample mean gives 2 |(W x) x^T|: ratio 6 / (12 o) = 0.25 with o = 2."""
    x = torch.tensor([[1.0, 2.0]]).repeat(12 * 512, 1)
    net = Linear1(W)
    mean, ref = MAS(scale="mean"), MAS(scale="reference")
    mean.after_task(net, x, None)
    ref.after_task(net, x, None)
    out = torch.tensor(W) @ x[0]
    # a float32 mean over 6,144 samples: its rounding depends on the summation order of the CPU's kernels (1e-5
    # relative seen), so 1e-4 relative; a wrong scale is off by a factor
    torch.testing.assert_close(mean.importance["weight"], (2 * out[:, None] * x[0][None, :]).abs(), rtol=1e-4, atol=0)
    torch.testing.assert_close(ref.importance["weight"], 0.25 * mean.importance["weight"], rtol=1e-4, atol=0)
    with pytest.raises(ValueError, match="'scale' parameter of MAS"):
        MAS(scale="sum")


# --- 6. SI path integral scale, EWC anchors per task ---------------------------------------------------------

@pytest.mark.parametrize("scale", ["mean", "reference"])
def test_si_reference_scale_uses_the_batch_summed_loss(scale):
    lr, xi, beta = 0.1, 0.1, 0.5
    net = Linear1(W)
    reg = SI(coef=1.0, beta=beta, xi=xi, scale=scale)
    y = torch.tensor([1, 0])
    logits, _ = net(X[None])
    reg.before_step(net, logits, y[None])
    g = torch.autograd.grad(nn.functional.cross_entropy(logits[0], y), net.weight)[0]
    with torch.no_grad():
        net.weight -= lr * g
    reg.after_step(net)
    reg.after_task(net, X, y)
    w = torch.tensor(W, requires_grad=True)
    g_beta = torch.autograd.grad(nn.functional.cross_entropy(beta * X @ w.T, y, reduction="sum"), w)[0]
    if scale == "mean":
        g_beta = g_beta / 2  # batch of 2
    expected = torch.clamp(lr * g_beta * g / ((lr * g) ** 2 + xi), min=0)
    torch.testing.assert_close(reg.importance["weight"], expected)
    assert (expected > 0).any()


def test_per_task_anchors_by_hand():
    """L2 (Omega = 1): after task 1 at W and task 2 at W + 1, at W + 2 the per-task penalty is
    coef (4 x 2^2 + 4 x 1^2), the latest-anchor one coef (4 x 1^2)."""
    penalties = {}
    for anchors in ("latest", "per-task"):
        net, reg = Linear1(W), L2(coef=2.0)
        reg.anchors = anchors  # L2's own option is fixed; the mechanism is the base class's
        for _ in range(2):
            reg.after_task(net, X, None)
            with torch.no_grad():
                net.weight += 1.0
        penalties[anchors] = reg.penalty(net).item()
    assert penalties == pytest.approx({"latest": 2.0 * 4, "per-task": 2.0 * (16 + 4)})


def test_ewc_per_task_keeps_each_fisher_with_its_anchor():
    beta = 0.5

    def fisher(w):  # two classes: F_ji = beta^2 mean_x p_j (1 - p_j) x_i^2 (test_regularizers.py)
        p = torch.softmax(beta * X @ torch.tensor(w).T, dim=1)
        return beta**2 * ((p * (1 - p))[:, :, None] * X[:, None, :] ** 2).mean(dim=0)

    w1, w2 = torch.tensor(W), torch.tensor(W) + 1.0
    per_task, latest, net = EWC(coef=1.0, beta=beta, anchors="per-task"), EWC(coef=1.0, beta=beta), Linear1(W)
    for reg in (per_task, latest):
        with torch.no_grad():
            net.weight.copy_(w1)
        reg.after_task(net, X, None)
        with torch.no_grad():
            net.weight.copy_(w2)
        reg.after_task(net, X, None)
    with torch.no_grad():
        net.weight.copy_(w2 + 1.0)
    f1, f2 = fisher(w1.tolist()), fisher(w2.tolist())
    assert per_task.penalty(net).item() == pytest.approx((f1 * 4 + f2).sum().item(), rel=1e-5)
    assert latest.penalty(net).item() == pytest.approx((f1 + f2).sum().item(), rel=1e-5)
    loaded = EWC(anchors="per-task")
    loaded.load_state_dict(per_task.state_dict())
    assert loaded.penalty(net).item() == pytest.approx(per_task.penalty(net).item() * 200.0)  # default coef 200
    with pytest.raises(ValueError, match="'anchors' parameter of EWC"):
        EWC(anchors="all")
