"""Continual-learning metrics as pure functions of the accuracy matrix.

R[i, j] is the accuracy on task j's test set after training task i (0-based, T tasks).
Definitions (as in Avalanche and GEM):

- ACC         = mean_j R[T-1, j]                                   (final average accuracy)
- BWT         = mean_{j<T-1} (R[T-1, j] - R[j, j])                 (Lopez-Paz & Ranzato 2017; < 0 is forgetting)
- forgetting  = mean_{j<T-1} (max_{l<T-1} R[l, j] - R[T-1, j])     (Chaudhry et al. 2018; > 0 is forgetting)
- learning_acc = mean_j R[j, j]                                    (accuracy just after learning each task)

With a single task BWT and forgetting are 0 by convention.
"""

from __future__ import annotations

import numpy as np

from bridge.evaluation import dead_fraction

__all__ = ["average_accuracy", "backward_transfer", "dead_fraction", "forgetting", "learning_accuracy",
           "mean_sem", "format_mean_sem", "summarize"]


def _check(R) -> np.ndarray:
    R = np.asarray(R, dtype=float)
    if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] == 0:
        raise ValueError(f"the accuracy matrix R must be square (T, T) with T >= 1; got shape {R.shape}.")
    if not np.all(np.isfinite(R)) or R.min() < 0 or R.max() > 1:
        raise ValueError("the accuracy matrix R must hold finite accuracies in [0, 1].")
    return R


def average_accuracy(R) -> float:
    """ACC = (1/T) sum_j R[T-1, j] (Lopez-Paz & Ranzato 2017): every task weighs the same. The paper's
    "final validation accuracy" is over the whole test set, so tasks weigh by their test size; on
    Split MNIST (1,874-2,115 test images per task) the two differ by ~0.002."""
    return float(_check(R)[-1].mean())


def backward_transfer(R) -> float:
    R = _check(R)
    T = len(R)
    return float(np.mean(R[-1, : T - 1] - np.diag(R)[: T - 1])) if T > 1 else 0.0


def forgetting(R) -> float:
    R = _check(R)
    T = len(R)
    return float(np.mean(R[: T - 1, : T - 1].max(axis=0) - R[-1, : T - 1])) if T > 1 else 0.0


def learning_accuracy(R) -> float:
    return float(np.mean(np.diag(_check(R))))


def summarize(R) -> dict[str, float]:
    """All summary metrics of R: ``acc``, ``bwt``, ``forgetting``, ``learning_acc``."""
    return {"acc": average_accuracy(R), "bwt": backward_transfer(R), "forgetting": forgetting(R),
            "learning_acc": learning_accuracy(R)}


def mean_sem(values) -> tuple[float, float]:
    """Mean and standard error of the mean (sample sd, ddof 1, over sqrt(n)) over seeds; SEM is NaN for one value."""
    a = np.asarray(values, dtype=float)
    if a.ndim != 1 or len(a) == 0:
        raise ValueError(f"mean_sem needs a non-empty 1-D sequence of values; got shape {a.shape}.")
    sem = float(a.std(ddof=1) / np.sqrt(len(a))) if len(a) > 1 else float("nan")
    return float(a.mean()), sem


def format_mean_sem(mean: float, sem: float) -> str:
    """'0.812 ± 0.004', or '0.812' when the SEM is undefined (one seed)."""
    return f"{mean:.3f}" + ("" if np.isnan(sem) else f" ± {sem:.3f}")
