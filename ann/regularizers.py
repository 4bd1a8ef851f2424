"""Weight-importance regularisers for continual learning, one parameterised family.

Every member adds  coef * sum_i Omega_i (theta_i - theta*_i)^2  to the loss, where theta*
are the weights at the end of the previous task and Omega the importance of each weight;
they differ only in how Omega is estimated after (or during) a task:

- :class:`L2`   Omega = 1 (Goodfellow et al. 2014's L2 toward the previous task's weights).
- :class:`EWC`  Omega = diagonal Fisher information (Kirkpatrick et al. 2017, PNAS).
- :class:`MAS`  Omega = mean |d ||f(x)||_2^2 / d theta| (Aljundi et al. 2018, ECCV, Eq. 2-4).
- :class:`SI`   Omega = path integral of -g * dtheta over the task, divided by the squared
  total drift plus xi (Zenke et al. 2017, ICML, Eq. 4-5).

EWC and SI take the temperature beta of Bricken et al. (ICLR 2023) App. G.1, Eq. 18:
p = softmax(beta * logits), used ONLY to estimate importances, never in the training loss.
Importances of successive tasks are summed (all three original papers accumulate them),
and the anchor theta* moves to the weights after the latest task (``anchors="latest"``); with
``anchors="per-task"`` each task keeps its own Omega_t and theta*_t and the penalty sums
coef * Omega_t (theta - theta*_t)^2 over tasks (Kirkpatrick et al. 2017; what the SDM authors'
code does for EWC). The penalty has no 1/2 (as in Zenke and Aljundi; the coefficients of the
SDM paper's Table 9 were tuned that way).

Importance scale (``scale``, MAS and SI). "mean" follows the original papers: MAS averages
|d ||f(x)||^2 / d theta| over samples, SI's path integral uses the gradient of the mean loss.
"reference" follows the SDM authors' code (TrentBrick/SDMContinualLearner, models/CL_Benchmarks.py),
which Table 9's coefficients were tuned with: MAS takes |gradient| of mean_{batch, outputs} f^2 on
6 batches of 512 samples, summed and divided by the number of 512-batches in the task (so
~1/o x 6/ceil(N/512) of "mean" where gradients share a sign: 0.025x on a 12,000-sample task);
SI's path integral uses the gradient of the batch-summed loss (batch size x "mean").

Any ``TorchLearner`` takes one as ``regularizer=`` (composition: SDMLP+EWC is
``SDMLP(..., regularizer=EWC())``). Importances are computed on the net in eval mode.

EWC and MAS need sums over samples of per-sample gradients squared (or made absolute). Every
parameter of our nets is the weight W or bias b of a linear map out = in @ W + b, whose per-sample
gradient is the outer product in_i (x) delta_i with delta_i = d loss_i / d out_i. So
sum_i w_i (in_i (x) delta_i)^2 = (in^2)^T diag(w) delta^2, one matmul, and |in_i (x) delta_i| =
|in_i| (x) |delta_i|. The nets report these maps as :class:`Site` records (``net(x, sites=[])``),
and the deltas of all samples come from one backward pass of the summed loss (each sample's loss
depends on its own outputs only). This is exact, and ~100x faster on MNIST than materialising
one gradient per sample (85 s -> under 1 s for EWC's 1,000 samples, 1,000 neurons).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple

import torch
from torch import nn

Anchors = Literal["latest", "per-task"]
Scale = Literal["mean", "reference"]
# The SDM authors' importance passes (py_scripts/model_params.py): cl_baseline_batch_size 512 and
# cl_baseline_batches_per_dataset 5, read with `if i > 5: break`, so 6 batches.
REFERENCE_BATCH, REFERENCE_BATCHES = 512, 6


class Site(NamedTuple):
    """One linear map of a net: ``output = input @ W (+ bias)`` per sample.

    input (S, B, n_in) and output (S, B, n_out) are the forward pass's tensors. ``weight`` names a
    parameter of shape (S, n_in, n_out), or (n_out, n_in) when ``transposed`` (``nn.Linear``, S = 1);
    ``bias`` names one with n_out elements per model, or is None.
    """

    weight: str
    bias: str | None
    input: torch.Tensor
    output: torch.Tensor
    transposed: bool = False


def _positive(owner: str, name: str, value: float) -> float:
    if not (isinstance(value, int | float) and value > 0 and value < float("inf")):
        raise ValueError(f"The '{name}' parameter of {owner} must be a finite float > 0. Got {value!r}.")
    return float(value)


def sites_of(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[Site]]:
    """Forward x (B, n) through a single-model net; return logits (B, o) and its linear maps.

    Raises ValueError naming any parameter that no site covers (its importance would be unknown).
    """
    sites: list[Site] = []
    logits, _ = net(x[None], sites=sites)
    covered = {name for site in sites for name in (site.weight, site.bias) if name is not None}
    missing = [name for name, _ in net.named_parameters() if name not in covered]
    if missing:
        raise ValueError(f"{type(net).__name__} reports no linear site for parameters {missing}; "
                         "importances need every parameter in a Site.")
    return logits[0], sites


def site_sums(net: nn.Module, sites: list[Site], deltas: list[torch.Tensor],
              input_map: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, torch.Tensor]:
    """sum_i input_map(in_i) (x) d_i per weight and sum_i d_i per bias.

    ``deltas`` (S, B, n_out) per site are the mapped output gradients d_i (e.g. delta_i^2 or
    |delta_i|); ``input_map`` is the same elementwise map for the inputs (square, abs).
    """
    params = dict(net.named_parameters())
    out = {}
    for site, d in zip(sites, deltas, strict=True):
        w = torch.einsum("sbi,sbo->sio", input_map(site.input.detach()), d)
        out[site.weight] = w[0].T if site.transposed else w
        if site.bias is not None:
            out[site.bias] = d.sum(dim=1).reshape(params[site.bias].shape)
    return out


class ImportancePenalty:
    """coef * sum Omega (theta - theta*)^2 with Omega from :meth:`task_importance`.

    Subclasses set ``accumulate`` (sum Omega over tasks, or replace it) and implement
    ``task_importance``; SI also uses the per-step hooks.
    """

    accumulate = True

    def __init__(self, coef: float, anchors: Anchors = "latest") -> None:
        self.coef = _positive(type(self).__name__, "coef", coef)
        if anchors not in ("latest", "per-task"):
            raise ValueError(f"The 'anchors' parameter of {type(self).__name__} must be 'latest' or 'per-task'. "
                             f"Got {anchors!r}.")
        self.anchors = anchors
        self.importance: dict[str, torch.Tensor] = {}  # Omega (the latest task's with per-task anchors)
        self.anchor: dict[str, torch.Tensor] = {}  # theta* after the latest task
        # per-task anchors: (Omega_t, theta*_t) of every earlier task
        self.earlier: list[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]] = []

    def penalty(self, net: nn.Module) -> torch.Tensor:
        """coef * sum_t sum_i Omega_t,i (theta_i - theta*_t,i)^2; 0 before the first task ends."""
        terms = [(importance[n] * (p - anchor[n]) ** 2).sum()
                 for importance, anchor in [*self.earlier, (self.importance, self.anchor)]
                 for n, p in net.named_parameters() if n in anchor]
        if not terms:
            return torch.zeros((), device=next(net.parameters()).device)
        return self.coef * torch.stack(terms).sum()

    def before_step(self, net: nn.Module, logits: torch.Tensor, y: torch.Tensor) -> None:
        """Called before each optimiser step with the batch's logits (S, B, o) and labels (S, B)."""

    def after_step(self, net: nn.Module) -> None:
        """Called after each optimiser step (and the learner's constraints)."""

    @torch.no_grad()
    def after_task(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
        """Add this task's importances and move the anchor to the current weights."""
        with torch.enable_grad():
            new = self.task_importance(net, x, y)
        if self.anchors == "per-task":
            if self.anchor:
                self.earlier.append((self.importance, self.anchor))
        elif self.accumulate:
            new = {n: self.importance[n] + v if n in self.importance else v for n, v in new.items()}
        self.importance = new
        self.anchor = {n: p.detach().clone() for n, p in net.named_parameters()}

    def task_importance(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"importance": {n: v.cpu() for n, v in self.importance.items()},
                "anchor": {n: v.cpu() for n, v in self.anchor.items()},
                "earlier": [({n: v.cpu() for n, v in imp.items()}, {n: v.cpu() for n, v in anc.items()})
                            for imp, anc in self.earlier]}

    def load_state_dict(self, state: Mapping[str, Any], device: torch.device | str = "cpu") -> None:
        """Restore :meth:`state_dict`'s tensors (saved on the CPU) onto ``device``, the network's."""
        self.importance = _on(state["importance"], device)
        self.anchor = _on(state["anchor"], device)
        self.earlier = [(_on(imp, device), _on(anc, device)) for imp, anc in state.get("earlier", [])]


class L2(ImportancePenalty):
    """L2 toward the previous task's weights: Omega = 1, not accumulated. Table 9 coef: 10."""

    accumulate = False

    def __init__(self, coef: float = 10.0) -> None:
        super().__init__(coef)

    def task_importance(self, net, x, y):
        return {n: torch.ones_like(p) for n, p in net.named_parameters()}


class EWC(ImportancePenalty):
    """Elastic Weight Consolidation (Kirkpatrick et al. 2017) with the beta of Eq. 18.

    Omega = diagonal Fisher  F = (1/N) sum_x sum_c p_beta(c|x) (d log p_beta(c|x) / d theta)^2,
    the true Fisher (expectation over the model's own p_beta, computed exactly over the
    classes rather than sampled), divided by N, the number of samples it was computed on.
    (The reference code uses predicted labels only and divides by the wrong count.) To bound
    the cost, N = min(n_task, ``samples``) evenly spaced training samples of the task.
    Per-task Fishers are summed with the anchor at the latest weights (Huszar 2018's
    correction of multi-task EWC); ``anchors="per-task"`` keeps one Fisher and one anchor per task
    (Kirkpatrick et al. 2017, and the SDM authors' code).
    Table 9 (Split MNIST): coef 200, beta 0.005, the default here. That coefficient was tuned for
    the reference code's Fisher (squared gradients of batch-summed losses), orders of magnitude
    larger than this per-sample one: with plain SGD (lr 0.05, clip 1.0) on Split MNIST, 10
    epochs/task, coef 200 leaves ACC at 0.196 and coef 1e7 gives 0.700 (README, Results).
    """

    def __init__(self, coef: float = 200.0, beta: float = 0.005, samples: int = 1000,
                 anchors: Anchors = "latest") -> None:
        super().__init__(coef, anchors)
        self.beta = _positive("EWC", "beta", beta)
        if not (isinstance(samples, int) and samples >= 1):
            raise ValueError(f"The 'samples' parameter of EWC must be an int >= 1. Got {samples!r}.")
        self.samples = samples

    def task_importance(self, net, x, y):
        x = _subsample(x, self.samples)
        logits, sites = sites_of(net, x)
        log_p = torch.log_softmax(self.beta * logits, dim=-1)  # (N, o): log p_beta(c|x)
        probs = log_p.detach().exp()
        outputs = [site.output for site in sites]
        # sum_c p_c delta_c^2 per sample and output unit, delta_c = d(-log p_beta(c|x_i)) / d output_i
        weighted = [torch.zeros_like(o) for o in outputs]
        for c in range(probs.shape[1]):
            deltas = torch.autograd.grad(-log_p[:, c].sum(), outputs, retain_graph=True)
            for acc, d in zip(weighted, deltas, strict=True):
                acc += probs[None, :, c, None] * d**2
        fisher = site_sums(net, sites, weighted, torch.square)
        return {n: v / len(x) for n, v in fisher.items()}


class MAS(ImportancePenalty):
    """Memory Aware Synapses (Aljundi et al. 2018, Eq. 2-4): Omega = (1/N) sum_x |d ||f(x)||^2 / d theta|.

    f(x) are the logits; the absolute value is taken per sample, before averaging (the
    paper's definition). N = min(n_task, ``samples``) evenly spaced samples. Table 9 coef 0.5
    (tuned with ``scale="reference"``).

    ``scale="reference"``: the SDM authors' estimate, Omega = (1/ceil(N_task/512)) sum_b |d mean_{x in b, o}
    f_o(x)^2 / d theta| over at most 6 batches b of 512 samples (``samples`` is then unused). The batches
    interleave evenly spaced samples of the task, so each spans the task as a shuffled loader's does.
    """

    def __init__(self, coef: float = 0.5, samples: int = 1000, scale: Scale = "mean") -> None:
        super().__init__(coef)
        if not (isinstance(samples, int) and samples >= 1):
            raise ValueError(f"The 'samples' parameter of MAS must be an int >= 1. Got {samples!r}.")
        self.samples, self.scale = samples, _check_scale("MAS", scale)

    def task_importance(self, net, x, y):
        if self.scale == "reference":
            return self._reference_importance(net, x)
        x = _subsample(x, self.samples)
        logits, sites = sites_of(net, x)
        deltas = torch.autograd.grad((logits**2).sum(), [site.output for site in sites])
        omega = site_sums(net, sites, [d.abs() for d in deltas], torch.abs)
        return {n: v / len(x) for n, v in omega.items()}

    def _reference_importance(self, net: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        task_batches = math.ceil(len(x) / REFERENCE_BATCH)  # len(dataloader) in the authors' code
        used = _subsample(x, REFERENCE_BATCH * REFERENCE_BATCHES)
        n_used = math.ceil(len(used) / REFERENCE_BATCH)
        params = dict(net.named_parameters())
        omega = {n: torch.zeros_like(p) for n, p in params.items()}
        for b in range(n_used):
            logits, _ = net(used[b::n_used][None])  # (1, B, o)
            grads = torch.autograd.grad((logits**2).mean(), list(params.values()))
            for n, g in zip(params, grads, strict=True):
                omega[n] += g.abs() / task_batches
        return omega


class SI(ImportancePenalty):
    """Synaptic Intelligence (Zenke et al. 2017) with the beta of Eq. 18.

    During a task, omega += -g * (theta_after - theta_before) at every step, where g is the
    gradient of the tempered loss CE(beta * logits, y), computed with ``torch.autograd.grad``
    and never added to the gradient the optimiser uses (the reference code mixes the two).
    At the task's end Omega += [omega / ((theta_end - theta_start)^2 + xi)]_+ ; the clamp at 0
    keeps the penalty a penalty (a negative Omega would reward drifting away). Table 9:
    coef 1500, beta 0.005; xi = 0.1 (damping). ``scale="reference"``: g is the gradient of the
    batch-summed tempered loss, as in the SDM authors' code (``reduction='sum'``), batch size x "mean".
    """

    def __init__(self, coef: float = 1500.0, beta: float = 0.005, xi: float = 0.1, scale: Scale = "mean") -> None:
        super().__init__(coef)
        self.beta = _positive("SI", "beta", beta)
        self.xi = _positive("SI", "xi", xi)
        self.scale = _check_scale("SI", scale)
        self._omega: dict[str, torch.Tensor] = {}
        self._start: dict[str, torch.Tensor] = {}
        self._grad: dict[str, torch.Tensor] = {}
        self._before: dict[str, torch.Tensor] = {}

    def before_step(self, net, logits, y):
        named = dict(net.named_parameters())
        if not self._start:
            self._start = {n: p.detach().clone() for n, p in named.items()}
            self._omega = {n: torch.zeros_like(p) for n, p in named.items()}
        loss = nn.functional.cross_entropy(self.beta * logits.flatten(0, 1), y.flatten(),
                                           reduction="sum" if self.scale == "reference" else "mean")
        grads = torch.autograd.grad(loss, list(named.values()), retain_graph=True, allow_unused=True)
        self._grad = {n: g for n, g in zip(named, grads, strict=True) if g is not None}
        self._before = {n: p.detach().clone() for n, p in named.items()}

    @torch.no_grad()
    def after_step(self, net):
        for n, p in net.named_parameters():
            if n in self._grad:
                self._omega[n] -= self._grad[n] * (p - self._before[n])

    def task_importance(self, net, x, y):
        out = {}
        for n, p in net.named_parameters():
            if n in self._omega:
                drift = (p.detach() - self._start[n]) ** 2
                out[n] = torch.clamp(self._omega[n] / (drift + self.xi), min=0.0)
            else:
                out[n] = torch.zeros_like(p)
        self._omega, self._start = {}, {}
        return out

    def state_dict(self):
        return {**super().state_dict(), "omega": {n: v.cpu() for n, v in self._omega.items()},
                "start": {n: v.cpu() for n, v in self._start.items()}}

    def load_state_dict(self, state, device="cpu"):
        super().load_state_dict(state, device)
        self._omega, self._start = _on(state["omega"], device), _on(state["start"], device)


def _check_scale(owner: str, scale: str) -> str:
    if scale not in ("mean", "reference"):
        raise ValueError(f"The 'scale' parameter of {owner} must be 'mean' or 'reference'. Got {scale!r}.")
    return scale


def _on(tensors: Mapping[str, torch.Tensor], device: torch.device | str) -> dict[str, torch.Tensor]:
    return {n: v.to(device) for n, v in tensors.items()}


def _subsample(x: torch.Tensor, n: int) -> torch.Tensor:
    """At most ``n`` evenly spaced rows of x (deterministic)."""
    if len(x) <= n:
        return x
    return x[torch.linspace(0, len(x) - 1, n, device=x.device).long()]
