"""The stale-momentum toy of App. D (Fig. 17) of Bricken et al. (ICLR 2023), run with ``torch.optim``.

One weight receives sparse gradient injections of ``gradient`` (0.2 in the paper) in bursts of 1-4 steps,
separated by quiet periods in which its gradient is exactly 0 (a neuron out of the Top-K). Every optimizer
steps at every step, as it does for a sparse layer whose inactive neurons get zero gradients. The applied
update term Delta_t = -(w_t - w_{t-1}) / lr is independent of the learning rate (Fig. 17a's Delta_Optimizer):

- SGD:      Delta = g
- SGDM:     b = mu b + g (b = g at the first step),  Delta = b                  (torch's momentum, no dampening)
- Adam:     m = b1 m + (1-b1) g,  v = b2 v + (1-b2) g^2,  Delta = m_hat / (sqrt(v_hat) + eps)
- RMSProp:  v = a v + (1-a) g^2,  Delta = g / (sqrt(v) + eps)

From a zero state the first injection gives RMSProp Delta = g / sqrt(0.01 g^2) = 10, i.e. 50x g = 0.2, and Adam
Delta = 1 (its bias-corrected update is sign(g)), 5x (Fig. 17c). Two measures per schedule:

- ``amplification``: |Delta| / g at the first step of each burst that follows a quiet period, averaged;
- ``stale``: the summed |Delta| applied in quiet steps (zero gradient) over the summed injected gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OPTIMIZERS = ("sgd", "sgdm", "adam", "rmsprop")


@dataclass(frozen=True)
class ToyConfig:
    """One optimizer on the toy; the schedule is drawn from ``seed``."""

    optimizer: str = "sgd"
    gradient: float = 0.2
    steps: int = 3000
    quiet_min: int = 20
    quiet_max: int = 400
    momentum: float = 0.9  # SGDM (torch default dampening 0)
    betas: tuple[float, float] = (0.9, 0.999)  # Adam (torch defaults)
    alpha: float = 0.99  # RMSProp (torch default)
    eps: float = 1e-8

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}. Got {self.optimizer!r}.")
        if not 1 <= self.quiet_min <= self.quiet_max or self.steps < 2:
            raise ValueError("need 1 <= quiet_min <= quiet_max and steps >= 2.")


def schedule(config: ToyConfig, seed: int) -> np.ndarray:
    """Gradient at each step (steps,): two injections first (as in Fig. 17a), then bursts of 1-4 injections
    separated by quiet periods of quiet_min..quiet_max steps drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    g = np.zeros(config.steps)
    g[:2] = config.gradient
    t = 2
    while True:
        t += int(rng.integers(config.quiet_min, config.quiet_max + 1))
        burst = int(rng.integers(1, 5))
        if t + burst > config.steps:
            return g
        g[t : t + burst] = config.gradient
        t += burst


def applied_updates(config: ToyConfig, grads: np.ndarray) -> np.ndarray:
    """Delta_t of ``config.optimizer`` (torch.optim, float64, lr = 1) for the gradients ``grads``."""
    import torch

    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = {"sgd": lambda: torch.optim.SGD([w], lr=1.0),
           "sgdm": lambda: torch.optim.SGD([w], lr=1.0, momentum=config.momentum),
           "adam": lambda: torch.optim.Adam([w], lr=1.0, betas=config.betas, eps=config.eps),
           "rmsprop": lambda: torch.optim.RMSprop([w], lr=1.0, alpha=config.alpha, eps=config.eps)}[config.optimizer]()
    deltas = np.empty(len(grads))
    for t, g in enumerate(grads):
        before = float(w.detach())
        w.grad = torch.full((1,), float(g), dtype=torch.float64)
        opt.step()
        deltas[t] = before - float(w.detach())  # lr = 1
    return deltas


def burst_starts(grads: np.ndarray) -> np.ndarray:
    """Indices of the first injection after each quiet period (the very first step included)."""
    on = grads != 0
    prev = np.concatenate([[False], on[:-1]])
    return np.flatnonzero(on & ~prev)


def measures(grads: np.ndarray, deltas: np.ndarray, gradient: float) -> dict[str, float]:
    """amplification and stale (module docstring) of one run."""
    starts = burst_starts(grads)
    quiet = grads == 0
    return {"amplification": float(np.mean(np.abs(deltas[starts]) / gradient)),
            "first_amplification": float(abs(deltas[0]) / gradient),
            "stale": float(np.sum(np.abs(deltas[quiet])) / np.sum(np.abs(grads)))}


def simulate(config: ToyConfig, seed: int) -> dict[str, float]:
    grads = schedule(config, seed)
    return measures(grads, applied_updates(config, grads), config.gradient)
