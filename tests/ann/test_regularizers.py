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
    lr, xi, beta = 0.1, 0.1, 0.5
    net = Linear1(W)
    reg = SI(coef=1.0, beta=beta, xi=xi)
    x, y = X[:1], torch.tensor([1])
    logits, _ = net(x[None])
    reg.before_step(net, logits, y[None])
    g = torch.autograd.grad(nn.functional.cross_entropy(logits[0], y), net.weight)[0]  # the training loss
    with torch.no_grad():
        net.weight -= lr * g  # an SGD step
    reg.after_step(net)
    reg.after_task(net, x, y)
    # omega = -g_beta * dtheta = lr g_beta g with g_beta the gradient of CE(beta * logits) (Eq. 18);
    # Omega = omega / (dtheta^2 + xi)
    w = torch.tensor(W, requires_grad=True)
    g_beta = torch.autograd.grad(nn.functional.cross_entropy(beta * x @ w.T, y), w)[0]
    expected = lr * g_beta * g / ((lr * g) ** 2 + xi)
    torch.testing.assert_close(reg.importance["weight"], expected)
    assert not torch.allclose(g_beta, g)  # beta matters here


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


class Recorder(L2):
    """L2 that counts the training loop's calls to its hooks."""

    def __init__(self, coef):
        super().__init__(coef)
        self.calls = {"before_step": 0, "after_step": 0, "after_task": 0}

    def before_step(self, net, logits, y):
        self.calls["before_step"] += 1

    def after_step(self, net):
        self.calls["after_step"] += 1

    def after_task(self, net, x, y):
        self.calls["after_task"] += 1
        super().after_task(net, x, y)


def test_the_training_loop_applies_the_penalty_and_calls_every_hook():
    """Two disjoint tasks: with a strong L2 toward task 1's weights the second task barely moves them; without
    it they drift. The hooks run once per optimiser step (before and after) and once per task."""
    rng = torch.Generator().manual_seed(0)
    x = torch.rand(64, 12, generator=rng).numpy()
    y = (torch.arange(64) % 4).numpy()
    drift = {}
    for coef in (None, 40.0):
        reg = None if coef is None else Recorder(coef)
        relu = ReLUMLP(12, 30, 4, seed=0, device="cpu", batch_size=16, optimizer="sgd", lr=0.02, regularizer=reg)
        relu.fit_task(x[y < 2], y[y < 2], epochs=2)
        anchor = [p.detach().clone() for p in relu.net.parameters()]
        relu.fit_task(x[y >= 2], y[y >= 2], epochs=5)
        drift[coef] = float(sum((p.detach() - a).pow(2).sum()
                                for p, a in zip(relu.net.parameters(), anchor, strict=True)))
        if reg is not None:
            steps = (2 + 5) * 2  # 2 + 5 epochs x 32 samples / batch 16
            assert reg.calls == {"before_step": steps, "after_step": steps, "after_task": 2}
    assert drift[40.0] < 0.1 * drift[None]


def test_loaded_state_lands_on_the_requested_device():
    net = Linear1(W)
    reg = SI(coef=1.0)
    logits, _ = net(X[None])
    reg.before_step(net, logits, torch.tensor([[0, 1]]))
    reg.after_step(net)  # a task under way: omega and start exist
    reg.importance, reg.anchor = {"weight": torch.ones(2, 2)}, {"weight": torch.zeros(2, 2)}
    loaded = SI(coef=1.0)
    loaded.load_state_dict(reg.state_dict(), device="meta")
    for table in (loaded.importance, loaded.anchor, loaded._omega, loaded._start):
        assert table and all(v.device.type == "meta" for v in table.values())
