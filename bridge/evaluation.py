"""Evaluation shared by every runner: per-task accuracy and the dead-neuron fraction."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from bridge.learner import Learner


def task_accuracies(learner: Learner, tasks: Iterable) -> np.ndarray:
    """Accuracy on every task's test set (objects with ``x_test``, ``y_test``), shape (T,).

    A batched learner (``predict`` returning (S, N), one row per seed) gives (S, T).
    """
    return np.stack([np.mean(learner.predict(t.x_test) == t.y_test, axis=-1) for t in tasks], axis=-1)


def dead_fraction(hidden: np.ndarray, threshold: float = 0.0) -> float | np.ndarray:
    """Fraction of hidden neurons never active (activity <= ``threshold``) on any row of ``hidden``
    (batch, n_neurons): never in the Top-K, or a granule cell never above its activity threshold.
    A batched learner's hidden (S, batch, n_neurons) gives one fraction per seed, shape (S,)."""
    hidden = np.asarray(hidden)
    if hidden.ndim not in (2, 3) or hidden.shape[-2] == 0:
        raise ValueError(f"hidden must be (batch >= 1, n_neurons) or (S, batch, n_neurons); got {hidden.shape}.")
    dead = np.mean(~(hidden > threshold).any(axis=-2), axis=-1)
    return float(dead) if hidden.ndim == 2 else dead


def learner_dead_fraction(learner: Learner, x: np.ndarray) -> float | np.ndarray:
    """:func:`dead_fraction` of ``learner.hidden(x)`` at the learner's own ``active_threshold`` where it
    has one (a granule cell of the circuit: activity above it; the chloride switch counts the same
    activations), else 0 (an ANN neuron is active when its post-Top-K activity is > 0)."""
    return dead_fraction(learner.hidden(x), getattr(learner, "active_threshold", 0.0))
