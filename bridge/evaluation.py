"""Evaluation shared by every runner: per-task accuracy and the dead-neuron fraction."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from bridge.learner import Learner


def task_accuracies(learner: Learner, tasks: Iterable) -> np.ndarray:
    """Accuracy on every task's test set (objects with ``x_test``, ``y_test``), shape (T,)."""
    return np.array([float(np.mean(learner.predict(t.x_test) == t.y_test)) for t in tasks])


def dead_fraction(hidden: np.ndarray, threshold: float = 0.0) -> float:
    """Fraction of hidden neurons never active (activity <= ``threshold``) on any row of ``hidden``
    (batch, n_neurons): never in the Top-K, or a granule cell never above its activity threshold."""
    hidden = np.asarray(hidden)
    if hidden.ndim != 2 or hidden.shape[0] == 0:
        raise ValueError(f"hidden must be (batch >= 1, n_neurons); got {hidden.shape}.")
    return float(np.mean(~(hidden > threshold).any(axis=0)))
