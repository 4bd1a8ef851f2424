"""Golgi calibration: find the Golgi parameter value (gain or threshold) at which the
circuit's mean effective k (granule cells left active) equals a target k.

The effective k is an outcome of the Golgi dynamics, monotone in the Golgi threshold or gain
but a step function of it (counts of cells); :func:`scipy.optimize.brentq` finds the crossing
of ``mean_k(p) - target`` inside a bracket where it changes sign.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq
from scipy.stats import spearmanr

# The Golgi parameter calibrated and its search bracket: in rate mode Eq. 13's b_i; in spiking mode
# the Golgi synaptic gain (the Golgi threshold saturates there before k reaches ~10); for spiking
# mode's population-rate Golgi its gain, which multiplies a mean granule activity of ~0.003.
GOLGI_SEARCH = {"rate": ("golgi_threshold", (-2.0, 2.0)), "spiking": ("golgi_gain", (0.05, 300.0)),
                "population": ("golgi_gain", (10.0, 1e5))}


def golgi_search(mode: str, golgi_model: str) -> tuple[str, tuple[float, float]]:
    """The Golgi parameter and bracket that calibration searches for this circuit."""
    return GOLGI_SEARCH["population" if golgi_model == "population" else mode]


@dataclass(frozen=True)
class Calibration:
    """The Golgi setting found and how the number of active cells spreads over the inputs there.

    ``silent_fraction``: inputs that leave no granule cell active (Top-K always keeps k).
    ``k_mass_spearman``: Spearman correlation over inputs between the number of active cells and the
    input's mass ||x||_1 / ||x||_2 (how spread out it is): near 0 when inhibition adapts to each input
    as Top-K does, near 1 when a fixed threshold lets spread-out inputs excite more cells.
    """

    parameter: str
    value: float
    achieved_k: float
    achieved_k_sd: float
    target_k: float
    evaluations: int
    silent_fraction: float = float("nan")  # nan: a calibration recorded before these were measured
    k_mass_spearman: float = float("nan")
    settings: dict = field(default_factory=dict)  # what adapt_circuit set from the data (empty otherwise)


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
    mass = np.abs(x).sum(axis=1) / np.maximum(np.linalg.norm(x, axis=1), 1e-12)
    k_per_input = counts[best]
    rho = spearmanr(k_per_input, mass).statistic if np.ptp(k_per_input) > 0 and np.ptp(mass) > 0 else float("nan")
    return Calibration(parameter, best, k, float(k_per_input.std()), float(target_k), n,
                       float(np.mean(k_per_input == 0)), float(rho))


def adapt_circuit(circuit, x: np.ndarray, target_k: int, active_threshold: float | None = None) -> Calibration:
    """Set a rate-mode circuit from a sample ``x`` of its inputs so that about ``target_k`` granule cells stay
    active on every input, and return the calibration (with the settings in ``settings``).

    1. :meth:`bio.CerebellarCircuit.adapt_to` sets Eq. 13's feedforward inhibition, granule threshold b,
       smoothing L, Golgi gain and the integration step from the sample's drives address.x (no constant
       depends on the dataset);
    2. :func:`calibrate_golgi` solves for the Golgi threshold b_i giving mean k = ``target_k`` on ``x``, on the
       mature circuit (hyperpolarising GABA, Eq. 12's lambda = +1); a young circuit gets its state back with
       the calibrated Golgi cell.

    The number of active cells stays an outcome of the Golgi dynamics. Call again whenever the addresses
    change (e.g. after a weight transfer).
    """
    settings = circuit.adapt_to(x, target_k)
    young = circuit.state_dict()
    circuit.mature()
    try:
        cal = calibrate_golgi(circuit, x, target_k, "golgi_threshold", settings["golgi_threshold_bracket"],
                              active_threshold)
    finally:
        value = circuit.golgi_threshold
        circuit.load_state_dict({**young, "golgi_threshold": value})
    return Calibration(**{**vars(cal), "settings": settings})
