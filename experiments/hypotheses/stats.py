"""The statistical tests a hypothesis can state, all from ``scipy.stats``, and the effect size they report.

A test compares the values of condition ``a`` with those of condition ``b`` (one value per seed; paired by
seed when ``paired``), or the values of ``a`` with a fixed ``null`` when ``b`` is None. The effect is always
computed from the values, in the units of the measure:

- paired (or one-sample):  effect = mean_s (a_s - b_s)        (one-sample: mean_s a_s - null)
- unpaired:                effect = mean(a) - mean(b)

``ci`` is the 95 % bootstrap confidence interval of that effect (``scipy.stats.bootstrap``, percentile method,
a fixed generator so that a rerun gives the same numbers). Tests:

- ``permutation``: ``scipy.stats.permutation_test`` of the effect (paired: sign flips of the differences,
  ``permutation_type="samples"``; unpaired: relabelling, ``"independent"``); exact when the permutations are few.
- ``wilcoxon``: ``scipy.stats.wilcoxon`` signed-rank test of the paired differences (or of a - null).
- ``bootstrap``: the bootstrap distribution of the effect; p = (1 + #resamples on the null side) / (1 + B),
  a one-sided percentile p-value (two-sided: twice the smaller side, at most 1).
- ``tost``: two one-sided t-tests (Schuirmann 1987) for equivalence within +-``margin``
  (``scipy.stats.ttest_1samp`` on the paired differences, ``ttest_ind`` unpaired); p = the larger of the two,
  statistic = the t of that side. A small p supports equivalence.

``decision`` is "supported" when p < alpha (in the claimed direction; for TOST: equivalent), "not supported"
otherwise; a test that cannot be computed (too few seeds, all values equal) says so and gives p = null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

TestName = Literal["permutation", "wilcoxon", "bootstrap", "tost"]
Alternative = Literal["less", "greater", "two-sided"]
TESTS: tuple[str, ...] = ("permutation", "wilcoxon", "bootstrap", "tost")
N_RESAMPLES = 9999
RNG_SEED = 0


@dataclass(frozen=True)
class Comparison:
    """The stated test of a hypothesis: ``a`` against ``b`` (or against ``null`` when ``b`` is None)."""

    test: TestName
    a: str
    b: str | None = None
    alternative: Alternative = "two-sided"
    paired: bool = True
    null: float = 0.0
    margin: float | None = None  # TOST: equivalence margin, in the units of the measure

    def __post_init__(self) -> None:
        if self.test not in TESTS:
            raise ValueError(f"test must be one of {', '.join(TESTS)}. Got {self.test!r}.")
        if self.alternative not in ("less", "greater", "two-sided"):
            raise ValueError(f"alternative must be less, greater or two-sided. Got {self.alternative!r}.")
        if self.test == "tost" and not (self.margin is not None and self.margin > 0):
            raise ValueError("a tost (equivalence) test needs margin > 0, in the units of the measure.")
        if self.test == "wilcoxon" and self.b is not None and not self.paired:
            raise ValueError("the Wilcoxon signed-rank test is paired; use permutation for unpaired values.")

    def describe(self) -> str:
        """e.g. 'wilcoxon signed-rank, paired by seed, rmsprop - sgd, alternative greater'."""
        names = {"permutation": "permutation test", "wilcoxon": "Wilcoxon signed-rank test",
                 "bootstrap": "bootstrap test", "tost": "two one-sided t-tests (TOST)"}
        other = f"{self.b}" if self.b is not None else f"{self.null:g}"
        pairing = "" if self.b is None else (", paired by seed" if self.paired else ", unpaired")
        side = f"equivalence within +-{self.margin:g}" if self.test == "tost" else f"alternative {self.alternative}"
        return f"{names[self.test]} (scipy.stats){pairing}: {self.a} - {other}, {side}"


def _paired_diff(c: Comparison, a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    if b is None:
        return a - c.null
    if len(a) != len(b):
        raise ValueError(f"paired values need as many seeds in {c.a} ({len(a)}) as in {c.b} ({len(b)}).")
    return a - b


def effect_size(c: Comparison, a, b=None) -> float:
    """The effect of :class:`Comparison` ``c`` from the values (see the module docstring)."""
    a = np.asarray(a, dtype=float)
    b = None if b is None else np.asarray(b, dtype=float)
    if b is None or c.paired:
        return float(np.mean(_paired_diff(c, a, b)))
    return float(np.mean(a) - np.mean(b))


def _mean_diff(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def _samples(c: Comparison, a: np.ndarray, b: np.ndarray | None) -> tuple[tuple[np.ndarray, ...], object]:
    """The samples scipy resamples for the effect, and the statistic on them."""
    if b is None or c.paired:
        return (_paired_diff(c, a, b),), _mean
    return (a, b), _mean_diff


def bootstrap_ci(c: Comparison, a, b=None, confidence: float = 0.95) -> tuple[list[float], np.ndarray]:
    """95 % percentile bootstrap CI of the effect and the bootstrap distribution (``scipy.stats.bootstrap``)."""
    a = np.asarray(a, dtype=float)
    b = None if b is None else np.asarray(b, dtype=float)
    data, statistic = _samples(c, a, b)
    if any(len(d) < 2 for d in data) or all(np.ptp(d) == 0 for d in data):
        e = effect_size(c, a, b)  # nothing to resample: every resample gives the same effect
        return [e, e], np.full(1, e)
    res = stats.bootstrap(data, statistic, n_resamples=N_RESAMPLES, confidence_level=confidence,
                          method="percentile", paired=False, vectorized=True, rng=np.random.default_rng(RNG_SEED))
    return [float(res.confidence_interval.low), float(res.confidence_interval.high)], res.bootstrap_distribution


def run_test(c: Comparison, a, b=None) -> dict:
    """statistic, p_value, effect, ci of ``c`` on values ``a`` (and ``b``): plain floats (p None if undefined)."""
    a = np.asarray(a, dtype=float)
    b = None if b is None else np.asarray(b, dtype=float)
    effect = effect_size(c, a, b)
    ci, dist = bootstrap_ci(c, a, b)
    statistic: float | None
    p: float | None
    if c.test == "permutation":
        data, stat = _samples(c, a, b)
        if min(len(d) for d in data) < 2:  # scipy needs two observations per sample
            statistic, p = effect, None
        else:
            kind = "samples" if len(data) == 1 else "independent"
            res = stats.permutation_test(data, stat, permutation_type=kind, alternative=c.alternative,
                                         n_resamples=N_RESAMPLES, vectorized=True, rng=np.random.default_rng(RNG_SEED))
            statistic, p = float(res.statistic), float(res.pvalue)
    elif c.test == "wilcoxon":
        d = _paired_diff(c, a, b)
        if np.all(d == 0) or len(d) < 2:
            statistic, p = 0.0, None
        else:
            res = stats.wilcoxon(d, alternative=c.alternative)
            statistic, p = float(res.statistic), float(res.pvalue)
    elif c.test == "bootstrap":
        statistic = effect
        p = bootstrap_p(dist, c.alternative)
    else:  # tost
        statistic, p = tost(c, a, b)
    return {"statistic": statistic, "p_value": None if p is None or not np.isfinite(p) else p,
            "effect": effect, "ci": ci}


def bootstrap_p(dist: np.ndarray, alternative: str, null: float = 0.0) -> float:
    """One-sided percentile p-value of a bootstrap distribution of an effect whose null value is ``null``."""
    dist = np.asarray(dist, dtype=float)
    b = len(dist)
    p_less = (1 + np.sum(dist >= null)) / (1 + b)  # evidence that the effect is < null
    p_greater = (1 + np.sum(dist <= null)) / (1 + b)
    if alternative == "less":
        return float(p_less)
    if alternative == "greater":
        return float(p_greater)
    return float(min(1.0, 2 * min(p_less, p_greater)))


def tost(c: Comparison, a: np.ndarray, b: np.ndarray | None) -> tuple[float | None, float | None]:
    """Two one-sided t-tests of |effect| < margin; (t of the side with the larger p, that p)."""
    m = c.margin
    if b is None or c.paired:
        d = _paired_diff(c, a, b)
        if len(d) < 2 or np.ptp(d) == 0:
            return None, None
        lower = stats.ttest_1samp(d, -m, alternative="greater")
        upper = stats.ttest_1samp(d, m, alternative="less")
    else:
        if len(a) < 2 or len(b) < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
            return None, None
        lower = stats.ttest_ind(a - (-m), b, alternative="greater")
        upper = stats.ttest_ind(a - m, b, alternative="less")
    worst = lower if lower.pvalue >= upper.pvalue else upper
    return float(worst.statistic), float(worst.pvalue)


def decide(p_value: float | None, alpha: float, effect: float, c: Comparison) -> str:
    """'supported' / 'not supported' / 'undetermined (...)' for the claim of ``c`` at level ``alpha``."""
    if p_value is None:
        return "undetermined (test undefined: too few seeds or identical values)"
    if p_value >= alpha:
        return "not supported"
    if c.test != "tost" and c.alternative == "two-sided":
        return f"supported (difference, effect {'>' if effect > 0 else '<'} 0)"
    return "supported"
