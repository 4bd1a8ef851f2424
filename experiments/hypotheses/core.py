"""A hypothesis is one small registered object: a claim, its source, conditions, a measurement and a test.

Worked example (a user's own hypothesis, registered from any module imported before ``run_hypothesis``)::

    from experiments.hypotheses import Comparison, Hypothesis, register

    register(Hypothesis(
        name="lr-forgetting",
        claim="A larger learning rate forgets more on Split digits.",
        source="my notebook, 2026-12",
        conditions=lambda base: {"lr-0.05": {"lr": 0.05}, "lr-0.5": {"lr": 0.5}},
        measure="forgetting (Chaudhry et al. 2018) after the last task",
        measurement=metric("forgetting"),
        test=Comparison("permutation", a="lr-0.5", b="lr-0.05", alternative="greater"),
    ))

``conditions`` maps a condition name to the :class:`~experiments.config.TrainConfig` values it changes, or is a
callable of the budget's base values (a dict) returning that mapping (so a k grid can follow n_neurons). The
runner adds dataset, data_dir, the budget and the seed, validates each as a TrainConfig, trains every
condition x seed into its own run folder (``csdm train`` semantics) and calls ``measurement(folder)`` on each
finished folder: one float per seed. A hypothesis that needs no training (the stale-momentum toy) gives
``simulate(config, seed) -> float`` instead; its condition configs are then plain dicts of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.hypotheses.stats import Comparison

Conditions = Mapping[str, dict] | Callable[[dict], Mapping[str, dict]]

# Base TrainConfig values of each budget. tiny: the test suite (seconds per run); small: each built-in on digits
# on a CPU within a few minutes; paper: the sizes of the paper's Split MNIST runs (App. F.3: 1,000 neurons,
# 500 epochs per task; hours on a GPU, use --workers or --scheduler).
BUDGETS: dict[str, dict[str, Any]] = {
    "tiny": {"n_neurons": 40, "k": 4, "epochs_per_task": 1, "eval_every": 1, "anneal_epochs": 0,
             "classes_per_task": 5},
    "small": {"n_neurons": 200, "k": 10, "epochs_per_task": 10, "eval_every": 10, "anneal_epochs": 5},
    "paper": {"n_neurons": 1000, "k": 10, "epochs_per_task": 500, "eval_every": 50, "anneal_epochs": 30},
}


@dataclass(frozen=True)
class Hypothesis:
    """A claim, where it comes from, the conditions that test it, what is measured and how it is tested."""

    name: str
    claim: str
    source: str
    conditions: Conditions
    measure: str
    test: Comparison | Callable[[dict], Comparison]  # or a callable of the budget's base values (a k grid's ends)
    measurement: Callable[[Path], float] | None = None  # one value from a finished run folder
    simulate: Callable[[dict, int], float] | None = None  # or: one value from (condition config, seed), no training
    # (result, {condition: [run folder per seed]}, figure folder) -> the figure files it wrote
    figure: Callable[[dict, dict[str, list[Path]], Path], list[Path]] | None = None
    # (result, {condition: [run folder per seed]}) -> numbers reported beside the tested value (details.json)
    details: Callable[[dict, dict[str, list[Path]]], dict] | None = None
    needs_data: bool = False  # a simulation that reads the dataset: its configs get dataset and data_dir
    budget_overrides: Mapping[str, Mapping[str, Any]] | None = None  # budget -> base values changed

    def __post_init__(self) -> None:
        if (self.measurement is None) == (self.simulate is None):
            raise ValueError(f"hypothesis {self.name!r}: give exactly one of measurement (from a run folder) or "
                             "simulate (no training).")
        if not self.name or self.name != self.name.strip() or " " in self.name:
            raise ValueError(f"hypothesis name must be one word (dashes allowed). Got {self.name!r}.")

    def base(self, budget: str) -> dict[str, Any]:
        if budget not in BUDGETS:
            raise ValueError(f"--budget must be one of {', '.join(BUDGETS)}. Got {budget!r}.")
        start = {} if self.simulate is not None else BUDGETS[budget]  # a simulation has its own settings
        return {**start, **((self.budget_overrides or {}).get(budget, {}))}

    def comparison(self, budget: str) -> Comparison:
        """The stated test at ``budget``."""
        return self.test(self.base(budget)) if callable(self.test) else self.test

    def condition_values(self, budget: str) -> dict[str, dict]:
        """Condition name -> the values it sets on top of the budget's base."""
        base = self.base(budget)
        conds = self.conditions(base) if callable(self.conditions) else self.conditions
        conds = {str(k): dict(v) for k, v in conds.items()}
        test = self.comparison(budget)
        names = [n for n in (test.a, test.b) if n is not None]
        missing = [n for n in names if n not in conds]
        if missing:
            raise ValueError(f"hypothesis {self.name!r}: the test compares {', '.join(missing)}, which is not "
                             f"among its conditions ({', '.join(conds)}).")
        return conds


HYPOTHESES: dict[str, Hypothesis] = {}


def register(hypothesis: Hypothesis, *, replace: bool = False) -> Hypothesis:
    """Add ``hypothesis`` to the registry that ``csdm hypothesis list/run`` reads; returns it."""
    if hypothesis.name in HYPOTHESES and not replace:
        raise ValueError(f"a hypothesis named {hypothesis.name!r} is already registered; pass replace=True.")
    HYPOTHESES[hypothesis.name] = hypothesis
    return hypothesis


def get_hypothesis(name: str) -> Hypothesis:
    from experiments.hypotheses import builtins  # noqa: F401  (registers the built-ins)

    try:
        return HYPOTHESES[name]
    except KeyError:
        raise ValueError(f"unknown hypothesis {name!r}; choose one of {', '.join(HYPOTHESES)} "
                         "(csdm hypothesis list).") from None


def read_metrics(folder: Path) -> dict:
    return json.loads((Path(folder) / "metrics.json").read_text())


def metric(key: str, index: int | None = None) -> Callable[[Path], float]:
    """A measurement reading metrics.json's ``key`` (element ``index`` of a list, e.g. -1: after the last task)."""

    def read(folder: Path) -> float:
        value = read_metrics(folder)[key]
        return float(value if index is None else value[index])

    read.__name__ = f"metric_{key}"
    return read
