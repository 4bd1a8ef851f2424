"""Continual-learning task streams. A stream is data only: any learner can consume it.

- :func:`class_incremental`: Split MNIST style, classes_per_task classes per task
  ({0,1},{2,3},... in order by default, as in the paper's App. F.3), one shared head, no
  task identity at test time.
- :func:`permuted`: Permuted MNIST style, domain-incremental: every task is the whole
  dataset under its own fixed pixel permutation (task 0 unpermuted).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from experiments.data import DataError, Dataset


@dataclass(frozen=True)
class Task:
    """One task: its classes and its train/test arrays (x float32 rows, y int64)."""

    index: int
    classes: tuple[int, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class TaskStream:
    name: str
    tasks: tuple[Task, ...]
    n_inputs: int
    n_classes: int

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)

    def __getitem__(self, i: int) -> Task:
        return self.tasks[i]


def class_incremental(
    dataset: Dataset,
    classes_per_task: int = 2,
    order: Literal["sequential", "random"] = "sequential",
    seed: int = 0,
) -> TaskStream:
    """Split ``dataset`` into tasks of ``classes_per_task`` classes each.

    ``order="random"`` shuffles the classes with ``seed`` first (the paper's random class
    splits for CIFAR-10); labels keep their original values (single head).
    """
    classes = np.unique(np.concatenate([dataset.y_train, dataset.y_test]))
    if not isinstance(classes_per_task, int) or classes_per_task < 1 or len(classes) % classes_per_task:
        raise DataError(f"classes_per_task={classes_per_task!r} must be a positive divisor of the "
                        f"{len(classes)} classes of {dataset.name}.")
    if order == "random":
        classes = np.random.default_rng(seed).permutation(classes)
    elif order != "sequential":
        raise DataError(f"class order must be 'sequential' or 'random'. Got {order!r}.")
    tasks = []
    for i in range(len(classes) // classes_per_task):
        chosen = tuple(int(c) for c in classes[i * classes_per_task : (i + 1) * classes_per_task])
        tr, te = np.isin(dataset.y_train, chosen), np.isin(dataset.y_test, chosen)
        for split, rows in (("train", tr), ("test", te)):
            if not rows.any():
                raise DataError(f"{dataset.name}: task {i} (classes {list(chosen)}) has no {split} samples; "
                                "every class needs samples in both splits.")
        tasks.append(Task(i, chosen, dataset.x_train[tr], dataset.y_train[tr], dataset.x_test[te],
                          dataset.y_test[te]))
    name = f"split-{dataset.name}-{classes_per_task}per-{order}"
    return TaskStream(name, tuple(tasks), dataset.n_inputs, dataset.n_classes)


def permuted(dataset: Dataset, n_tasks: int, seed: int = 0) -> TaskStream:
    """``n_tasks`` tasks, each the full dataset under a fixed random input permutation."""
    if not isinstance(n_tasks, int) or n_tasks < 1:
        raise DataError(f"n_tasks must be an int >= 1. Got {n_tasks!r}.")
    rng = np.random.default_rng(seed)
    classes = tuple(int(c) for c in np.unique(dataset.y_train))
    tasks = []
    for i in range(n_tasks):
        perm = np.arange(dataset.n_inputs) if i == 0 else rng.permutation(dataset.n_inputs)
        tasks.append(Task(i, classes, dataset.x_train[:, perm], dataset.y_train, dataset.x_test[:, perm],
                          dataset.y_test))
    return TaskStream(f"permuted-{dataset.name}-{n_tasks}", tuple(tasks), dataset.n_inputs, dataset.n_classes)


def joint(stream: TaskStream) -> TaskStream:
    """All tasks merged into one (the "Oracle": every class trained at once, i.i.d.).

    The result has a single task whose train and test sets are the union of the stream's, so
    its accuracy matrix is 1 x 1: ACC is the accuracy on all test samples (for balanced
    tasks, the mean of per-task accuracies), BWT and forgetting are 0 by convention. With
    ``epochs_per_task`` epochs it takes as many gradient steps as the whole continual stream.
    """
    tasks = stream.tasks
    merged = Task(0, tuple(c for t in tasks for c in t.classes),
                  *(np.concatenate([getattr(t, f) for t in tasks])
                    for f in ("x_train", "y_train", "x_test", "y_test")))
    return TaskStream(f"joint-{stream.name}", (merged,), stream.n_inputs, stream.n_classes)
