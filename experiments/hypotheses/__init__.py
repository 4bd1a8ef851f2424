"""Hypothesis tests: ``csdm hypothesis list | run NAME``.

A :class:`Hypothesis` (claim, source, conditions, measurement, test) is registered with :func:`register`;
:func:`run_hypothesis` trains every condition x seed (serially or as Dask tasks, see
:mod:`experiments.hypotheses.execute`), measures each run, applies the stated ``scipy.stats`` test and writes
``hypothesis.json``, figures and a Markdown section. The built-ins live in :mod:`experiments.hypotheses.builtins`.
"""

from experiments.hypotheses.core import BUDGETS, HYPOTHESES, Hypothesis, get_hypothesis, metric, register
from experiments.hypotheses.runner import KEYS, run_hypothesis
from experiments.hypotheses.stats import Comparison, run_test

__all__ = ["BUDGETS", "HYPOTHESES", "KEYS", "Comparison", "Hypothesis", "get_hypothesis", "metric", "register",
           "run_hypothesis", "run_test", "all_hypotheses"]


def all_hypotheses() -> dict[str, Hypothesis]:
    """The registry, built-ins included."""
    from experiments.hypotheses import builtins  # noqa: F401

    return HYPOTHESES
