"""Importance estimates of L2/EWC/MAS/SI against hand-computed values on a 1-layer linear model."""

import pytest
import torch
from torch import nn

from ann import SDMLP, ReLUMLP
from ann.regularizers import EWC, L2, MAS, SI, Site


class Linear1(nn.Module):
    """logits = x W^T, the smallest net with the (S, B, n) -> ((S, B, o), hidden) interface."""

    def __init__(self, w):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(w, dtype=torch.float32))

    def forward(self, x, sites=None):
        logits = x @ self.weight.T
        if sites is not None:
            sites.append(Site("weight", None, x, logits, transposed=True))
        return logits, logits


X = torch.tensor([[1.0, 2.0], [0.5, -1.0]])
W = [[0.3, -0.2], [0.1, 0.4]]


def test_ewc_is_the_tempered_fisher_by_hand():
    # two classes: d log p_c / dW_j = beta (delta_cj - p_j) x, so
    # F_ji = beta^2 mean_x [ sum_c p_c (delta_cj - p_j)^2 ] x_i^2 = beta^2 mean_x p_j (1 - p_j) x_i^2
    beta = 0.5
    net = Linear1(W)
    reg = EWC(coef=1.0, beta=beta)
    reg.after_task(net, X, torch.tensor([0, 1]))
    p = torch.softmax(beta * X @ torch.tensor(W).T, dim=1)  # (2 samples, 2 classes)
    expected = beta**2 * ((p * (1 - p))[:, :, None] * X[:, None, :] ** 2).mean(dim=0)
    torch.testing.assert_close(reg.importance["weight"], expected)


def test_mas_is_mean_abs_gradient_of_squared_output_norm():
    net = Linear1(W)
    reg = MAS(coef=1.0)
    reg.after_task(net, X, torch.tensor([0, 1]))
    out = X @ torch.tensor(W).T  # d ||W x||^2 / dW = 2 (W x) x^T, |.| per sample, then the mean
    expected = (2 * out[:, :, None] * X[:, None, :]).abs().mean(dim=0)
    torch.testing.assert_close(reg.importance["weight"], expected)


def test_si_path_integral_of_one_sgd_step_by_hand():
    lr, xi = 0.1, 0.1
    net = Linear1(W)
    reg = SI(coef=1.0, beta=1.0, xi=xi)
    x, y = X[:1], torch.tensor([1])
    logits, _ = net(x[None])
    reg.before_step(net, logits, y[None])
    g = torch.autograd.grad(nn.functional.cross_entropy(logits[0], y), net.weight)[0]
    with torch.no_grad():
        net.weight -= lr * g  # an SGD step
    reg.after_step(net)
    reg.after_task(net, x, y)
    # omega = -g * dtheta = lr g^2 ; Omega = omega / (dtheta^2 + xi)
    expected = lr * g**2 / ((lr * g) ** 2 + xi)
    torch.testing.assert_close(reg.importance["weight"], expected)


def test_penalty_anchor_accumulation_and_l2():
    net = Linear1(W)
    reg = L2(coef=2.0)
    assert reg.penalty(net).item() == 0.0  # nothing to protect before the first task ends
    reg.after_task(net, X, torch.tensor([0, 1]))
    with torch.no_grad():
        net.weight += 1.0
    assert reg.penalty(net).item() == pytest.approx(2.0 * 4)  # coef * sum 1 * (1)^2 over 4 weights
    reg.after_task(net, X, torch.tensor([0, 1]))  # L2 replaces (Omega stays 1), the anchor moves
    assert reg.penalty(net).item() == 0.0 and reg.importance["weight"].max().item() == 1.0
    mas = MAS(coef=1.0)
    mas.after_task(net, X, torch.tensor([0, 1]))
    first = mas.importance["weight"].clone()
    mas.after_task(net, X, torch.tensor([0, 1]))
    torch.testing.assert_close(mas.importance["weight"], 2 * first)  # importances of tasks add up


def _per_sample_reference(net, x, loss_of_logits, combine):
    """Brute force: one autograd call per sample (and class), combined per parameter."""
    params = dict(net.named_parameters())
    total = {n: torch.zeros_like(p) for n, p in params.items()}
    for xi in x:
        logits = net(xi[None, None])[0][0, 0]
        for weight, loss in loss_of_logits(logits):
            grads = torch.autograd.grad(loss, list(params.values()), retain_graph=True)
            for n, g in zip(params, grads, strict=True):
                total[n] += weight * combine(g)
    return {n: v / len(x) for n, v in total.items()}


def _learners():
    rng = torch.Generator().manual_seed(0)
    x = torch.rand(40, 12, generator=rng)
    y = torch.arange(40) % 4
    sdm = SDMLP(12, 30, 4, k=5, gaba_s=50.0, anneal_epochs=0, hidden_bias=True, output_bias=True, seed=0,
                device="cpu")
    relu = ReLUMLP(12, 30, 4, seed=0, device="cpu")
    for model in (sdm, relu):
        model.fit_task(x.numpy(), y.numpy(), epochs=3)
        model.net.eval()
    return x[:9], [sdm.net, relu.net]


def test_site_importances_equal_per_sample_gradients():
    """EWC's Fisher and MAS's mean |grad| from linear sites equal one autograd call per sample, on the
    SDMLP (Top-K by subtraction, GABA switch, both biases) and the ReLU MLP."""
    x, nets = _learners()
    beta = 0.7
    for net in nets:
        ewc, mas = EWC(beta=beta), MAS()

        def per_class(logits):
            log_p = torch.log_softmax(beta * logits, dim=-1)
            return [(log_p[c].exp().detach(), -log_p[c]) for c in range(len(log_p))]

        expected = _per_sample_reference(net, x, per_class, torch.square)
        got = ewc.task_importance(net, x, None)
        for n in expected:
            torch.testing.assert_close(got[n], expected[n], rtol=1e-4, atol=1e-9)
        expected = _per_sample_reference(net, x, lambda logits: [(1.0, (logits**2).sum())], torch.abs)
        got = mas.task_importance(net, x, None)
        for n in expected:
            torch.testing.assert_close(got[n], expected[n], rtol=1e-4, atol=1e-9)


def test_a_parameter_outside_every_site_is_named():
    net = Linear1(W)
    net.extra = nn.Parameter(torch.zeros(3))
    with pytest.raises(ValueError, match="extra"):
        EWC().after_task(net, X, torch.tensor([0, 1]))


@pytest.mark.parametrize("make", [lambda: EWC(beta=0), lambda: SI(coef=-1), lambda: MAS(coef=float("nan"))])
def test_bad_parameters_are_named(make):
    with pytest.raises(ValueError, match="parameter of"):
        make()
