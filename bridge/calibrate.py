"""Golgi calibration: find the Golgi parameter value (gain or threshold) at which the
circuit's mean effective k (granule cells left active) equals a target k.

The effective k is an outcome of the Golgi dynamics, monotone in the Golgi threshold or gain
but a step function of it (counts of cells); :func:`scipy.optimize.brentq` finds the crossing
of ``mean_k(p) - target`` inside a bracket where it changes sign.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq


@dataclass(frozen=True)
class Calibration:
    parameter: str
    value: float
    achieved_k: float
    achieved_k_sd: float
    target_k: float
    evaluations: int


def solve_for_k(mean_k: Callable[[float], float], target_k: float, bracket: tuple[float, float],
                xtol: float = 1e-3, maxiter: int = 40) -> tuple[float, float, int]:
    """Solve ``mean_k(p) = target_k`` for p in ``bracket``; return (best p, its k, evaluations).

    Raises ValueError (with the k reached at both ends) when the bracket does not contain the
    target, so the caller can widen it.
    """
    seen: dict[float, float] = {}

    def f(p: float) -> float:
        if p not in seen:
            seen[p] = float(mean_k(p))
        return seen[p] - target_k

    lo, hi = bracket
    f_lo, f_hi = f(lo), f(hi)
    if f_lo * f_hi > 0:
        raise ValueError(f"target k={target_k} is outside the bracket: mean k is {seen[lo]:.1f} at {lo} "
                         f"and {seen[hi]:.1f} at {hi}; widen the bracket.")
    if f_lo != 0 and f_hi != 0:
        brentq(f, lo, hi, xtol=xtol, maxiter=maxiter, full_output=True, disp=False)
    best = min(seen, key=lambda p: abs(seen[p] - target_k))
    return best, seen[best], len(seen)


def calibrate_golgi(circuit, x: np.ndarray, target_k: float, parameter: str = "golgi_threshold",
                    bracket: tuple[float, float] = (-2.0, 2.0), active_threshold: float | None = None) -> Calibration:
    """Set ``circuit.<parameter>`` so that on inputs ``x`` the mean number of granule cells with
    activity above ``active_threshold`` (default: the circuit's own) equals ``target_k``."""
    if not hasattr(circuit, parameter):
        raise ValueError(f"the circuit has no Golgi parameter {parameter!r}; use golgi_threshold or golgi_gain.")
    threshold = circuit.active_threshold if active_threshold is None else active_threshold
    original = getattr(circuit, parameter)
    counts: dict[float, np.ndarray] = {}  # active cells per input at each parameter value tried

    def mean_k(p: float) -> float:
        setattr(circuit, parameter, p)
        counts[p] = (circuit.hidden(x) > threshold).sum(axis=1)
        return float(counts[p].mean())

    try:
        best, k, n = solve_for_k(mean_k, target_k, bracket)
    except ValueError:
        setattr(circuit, parameter, original)
        raise
    setattr(circuit, parameter, best)
    return Calibration(parameter, best, k, float(counts[best].std()), float(target_k), n)
