"""Importance estimates of L2/EWC/MAS/SI against hand-computed values on a 1-layer linear model."""

import pytest
import torch
from torch import nn

from ann.regularizers import EWC, L2, MAS, SI


class Linear1(nn.Module):
    """logits = x W^T, the smallest net with the (S, B, n) -> ((S, B, o), hidden) interface."""

    def __init__(self, w):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(w, dtype=torch.float32))

    def forward(self, x):
        logits = x @ self.weight.T
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


@pytest.mark.parametrize("make", [lambda: EWC(beta=0), lambda: SI(coef=-1), lambda: MAS(coef=float("nan"))])
def test_bad_parameters_are_named(make):
    with pytest.raises(ValueError, match="parameter of"):
        make()
