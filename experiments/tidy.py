"""metrics.csv: a run's metrics as one tidy table, one row per learner, task and metric.

Columns ``learner, after_task, task, metric, value``: ``accuracy`` rows hold R[i, j] (after_task i,
task j); per-task records (``dead_fraction``, the circuit's fidelity) have an after_task and no task;
the summary metrics (``acc``, ``bwt``, ``forgetting``, ``learning_acc``) have neither. A run reads
into pandas in one line: ``pd.read_csv("metrics.csv")``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

COLUMNS = ["learner", "after_task", "task", "metric", "value"]
SUMMARY = ("acc", "bwt", "forgetting", "learning_acc")


def learner_rows(learner: str, tasks: Sequence[str], accuracy: Any, tasks_done: int, summary: Mapping[str, float],
                 per_task: Mapping[str, Sequence[float]] | None = None) -> list[list[Any]]:
    """Rows of one learner: R over the ``tasks_done`` finished rows, its summary metrics, and every
    per-task series in ``per_task`` (metric name -> one value per finished task)."""
    R = np.asarray(accuracy, dtype=float)
    rows: list[list[Any]] = [[learner, tasks[i], tasks[j], "accuracy", float(R[i, j])]
                             for i in range(tasks_done) for j in range(i + 1)]
    rows += [[learner, "", "", name, summary[name]] for name in SUMMARY if name in summary]
    for name, values in (per_task or {}).items():
        rows += [[learner, tasks[i], "", name, float(v)] for i, v in enumerate(values[:tasks_done])]
    return rows
