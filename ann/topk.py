"""Top-K inhibition and its schedules: Eq. 4 and Eq. 12 of Bricken et al. (ICLR 2023).

Eq. 4   a* = [a - I]_+ ,  I = (k_t + 1)-th largest of [a]_+      (Top-K by subtraction)
        k_t = max(k_target, floor(k_max - E_t (k_max - k_target) / s))   (k annealing)
Eq. 12  lambda_i = min(1, max(-1, -1 + 2 C_i / s)),  a*_i = [a_i - lambda_i I]_+   (GABA switch)

The authors' code (TrentBrick/SDMContinualLearner, models/TopK_Act.py) rectifies the drive before
the switch, a*_i = [[a_i]_+ - lambda_i I]_+ (``rectify="before"``). The two agree wherever a_i >= 0
or lambda_i >= 0; they differ only when GABA excites (lambda_i < 0) a neuron with negative drive
(possible with negative weights or a hidden bias): Eq. 12 lets it through with a_i - lambda_i I and
a gradient to its address, the authors' code gives it -lambda_i I and no gradient to its address.

In the cerebellum, I is the Golgi cell's feedback inhibition onto granule cells.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

TopKMode = Literal["subtract", "mask"]
Rectify = Literal["after", "before"]


def inhibition(drive: torch.Tensor, k: int) -> torch.Tensor:
    """I of Eq. 4: the (k+1)-th largest of [drive]_+ per row, shape (..., 1), detached.

    With k >= n_neurons there is no (k+1)-th neuron and I = 0 (no inhibition), so
    k annealing from k_max = n_neurons starts with every neuron active.
    """
    n = drive.shape[-1]
    if k >= n:
        return drive.new_zeros(drive.shape[:-1] + (1,))
    # (..., 1): the inhibitory level, treated as a constant (as a Golgi cell's output is to its targets).
    return torch.topk(torch.relu(drive.detach()), k + 1, dim=-1).values[..., -1:]


def topk(
    drive: torch.Tensor, k: int, mode: TopKMode = "subtract", gaba: torch.Tensor | None = None,
    rectify: Rectify = "after",
) -> torch.Tensor:
    """Top-K activation of Eq. 4 (and Eq. 12 when ``gaba`` is given).

    Parameters
    ----------
    drive : (..., n_neurons) tensor, a = X_a^T x: (batch, n_neurons), or (S, batch, n_neurons) for S
        stacked models.
    k : number of neurons left active; k >= n_neurons leaves all of [drive]_+ untouched.
    mode : "subtract" (Eq. 4: [a - I]_+, at most k non-zeros, exactly k without ties) or
        "mask" (ablation: the k largest of [a]_+ are kept unchanged, the rest zeroed; exactly k
        indices are kept, which of tied ones is up to ``torch.topk``, so at most k non-zeros).
    gaba : optional per-neuron lambda of Eq. 12, in [-1, 1], broadcast against ``drive``
        ((n_neurons,), or (S, 1, n_neurons) for stacked models); then
        a*_i = [a_i - lambda_i I]_+ (subtract mode only).
    rectify : with ``gaba``, "after" (Eq. 12 as printed: [a_i - lambda_i I]_+) or "before" (the
        authors' code: [[a_i]_+ - lambda_i I]_+). Without ``gaba`` both are Eq. 4 (I >= 0).

    Examples
    --------
    >>> topk(torch.tensor([[3.0, 1.0, 2.0, 0.5]]), k=2)
    tensor([[2., 0., 1., 0.]])
    """
    if k < 1:
        raise ValueError(f"The 'k' parameter of topk must be an int >= 1. Got {k}.")
    if rectify not in ("after", "before"):
        raise ValueError(f"The 'rectify' parameter of topk must be 'after' or 'before'. Got {rectify!r}.")
    if mode == "subtract":
        level = inhibition(drive, k)
        if gaba is not None:
            return torch.relu((drive if rectify == "after" else torch.relu(drive)) - gaba * level)
        return torch.relu(drive - level)
    if mode == "mask":
        if gaba is not None:
            raise ValueError("The GABA switch (Eq. 12) is defined for mode='subtract' only.")
        positive = torch.relu(drive)
        if k >= drive.shape[-1]:
            return positive
        idx = torch.topk(positive.detach(), k, dim=-1).indices
        keep = torch.zeros_like(positive, dtype=torch.bool).scatter_(-1, idx, True)
        return positive * keep
    raise ValueError(f"The 'mode' parameter of topk must be 'subtract' or 'mask'. Got {mode!r}.")


def k_schedule(epoch: int, k_max: int, k_target: int, anneal_epochs: int) -> int:
    """k_t of Eq. 4: linear annealing from k_max to k_target over ``anneal_epochs`` epochs.

    >>> [k_schedule(e, k_max=100, k_target=10, anneal_epochs=3) for e in range(5)]
    [100, 70, 40, 10, 10]
    """
    if anneal_epochs < 0:
        raise ValueError(f"anneal_epochs must be >= 0. Got {anneal_epochs}.")
    if anneal_epochs == 0:
        return k_target
    return max(k_target, math.floor(k_max - epoch * (k_max - k_target) / anneal_epochs))


def gaba_lambda(counts: torch.Tensor, s: float) -> torch.Tensor:
    """lambda_i of Eq. 12: clip(-1 + 2 C_i / s, -1, 1); -1 = GABA excites, +1 = full inhibition.

    >>> gaba_lambda(torch.tensor([0.0, 50.0, 100.0, 500.0]), s=100)
    tensor([-1.,  0.,  1.,  1.])
    """
    if s <= 0:
        raise ValueError(f"The GABA switch length s must be > 0. Got {s}.")
    return torch.clamp(-1.0 + 2.0 * counts / s, -1.0, 1.0)
