"""Train one learner on a task stream and record the accuracy matrix R[i, j], the learning
curves and the dead-neuron fraction after every task.

The runner knows the :class:`bridge.Learner` protocol only: every model, baseline or
circuit goes through the same loop. Persistence is the caller's job: ``on_task_end`` after
each task and ``on_checkpoint`` at every curve point within a task, so a resumed run
continues from the last curve point, not from the start of the interrupted task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from bridge import Learner
from bridge.evaluation import learner_dead_fraction, task_accuracies
from experiments.streams import TaskStream


@dataclass
class RunRecord:
    """What a run measured so far; rows of ``accuracy_matrix`` after ``tasks_done`` are NaN.

    ``epochs_done``: epochs finished in task ``tasks_done`` (the unfinished one) when the run
    was checkpointed within it; 0 at task boundaries.

    A batched learner (S seeds as one model) has ``accuracy_matrix`` (S, T, T), curve
    accuracies (S, T) and one dead fraction per seed; ``model(s)`` is seed s's own record.
    """

    accuracy_matrix: np.ndarray
    curves: list[dict[str, Any]] = field(default_factory=list)
    dead_fraction: list = field(default_factory=list)
    tasks_done: int = 0
    epochs_done: int = 0

    @classmethod
    def empty(cls, n_tasks: int, n_models: int = 1) -> RunRecord:
        shape = (n_tasks, n_tasks) if n_models == 1 else (n_models, n_tasks, n_tasks)
        return cls(np.full(shape, np.nan))

    @property
    def n_models(self) -> int:
        return 1 if self.accuracy_matrix.ndim == 2 else self.accuracy_matrix.shape[0]

    @property
    def finished_matrix(self) -> np.ndarray:
        """R restricted to the finished tasks, (tasks_done, tasks_done) (or (S, ...) batched)."""
        return self.accuracy_matrix[..., : self.tasks_done, : self.tasks_done]

    def model(self, s: int) -> RunRecord:
        """The record of seed ``s`` of a batched run (a copy; for S = 1, s must be 0)."""
        if self.n_models == 1:
            if s != 0:
                raise IndexError(f"a single-model record has only model 0; got {s}.")
            return RunRecord.from_dict(self.to_dict())
        curves = [{**c, "acc": c["acc"][s]} for c in self.curves]
        return RunRecord(self.accuracy_matrix[s].copy(), curves, [d[s] for d in self.dead_fraction],
                         self.tasks_done, self.epochs_done)

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy_matrix": self.accuracy_matrix.tolist(), "curves": self.curves,
                "dead_fraction": self.dead_fraction, "tasks_done": self.tasks_done, "epochs_done": self.epochs_done}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunRecord:
        return cls(np.array(d["accuracy_matrix"], dtype=float), list(d["curves"]), list(d["dead_fraction"]),
                   int(d["tasks_done"]), int(d.get("epochs_done", 0)))  # absent in runs of older versions


def train_stream(
    learner: Learner,
    stream: TaskStream,
    epochs_per_task: int,
    *,
    eval_every: int = 10,
    record: RunRecord | None = None,
    on_task_end: Callable[[RunRecord], None] | None = None,
    on_checkpoint: Callable[[RunRecord], None] | None = None,
    progress: bool = True,
) -> RunRecord:
    """Train ``learner`` task after task, starting after ``record.tasks_done`` when resuming
    (and after ``record.epochs_done`` epochs of that task: the learner must hold the state of then).

    After each task: R[i, :] = accuracy on all tasks (per seed for a batched learner), dead
    fraction on the task's train data, then ``on_task_end(record)``. Every ``eval_every``
    epochs a curve point is recorded:
    ``{"task", "epoch", "global_epoch", "acc": [per task]}`` (the paper's Fig. 20); at those
    within a task (not its last epoch) ``on_checkpoint(record)`` follows, with ``epochs_done`` set.
    """
    n_models = getattr(learner, "n_models", 1)  # seeds trained as one batched model
    record = record if record is not None else RunRecord.empty(len(stream), n_models)
    task_bar = tqdm(total=len(stream), initial=record.tasks_done, desc="tasks", unit="task", disable=not progress)
    for task in stream.tasks[record.tasks_done :]:
        start_epoch = record.epochs_done
        epoch_bar = tqdm(total=epochs_per_task, initial=start_epoch, desc=f"task {task.index} {list(task.classes)}",
                         unit="ep", leave=False, disable=not progress)

        def on_epoch(epoch: int, task=task, epoch_bar=epoch_bar) -> None:
            epoch_bar.update(1)
            if (epoch + 1) % eval_every == 0 or epoch + 1 == epochs_per_task:
                acc = task_accuracies(learner, stream)
                record.curves.append({"task": task.index, "epoch": epoch + 1,
                                      "global_epoch": task.index * epochs_per_task + epoch + 1,
                                      "acc": acc.round(6).tolist()})
                epoch_bar.set_postfix(acc=f"{acc[..., task.index].mean():.3f}")
                if epoch + 1 < epochs_per_task and on_checkpoint is not None:
                    record.epochs_done = epoch + 1
                    on_checkpoint(record)

        learner.fit_task(task.x_train, task.y_train, epochs_per_task, on_epoch=on_epoch, start_epoch=start_epoch)
        record.epochs_done = 0
        epoch_bar.close()
        record.accuracy_matrix[..., task.index, :] = task_accuracies(learner, stream)
        record.dead_fraction.append(np.asarray(learner_dead_fraction(learner, task.x_train)).tolist())
        record.tasks_done = task.index + 1
        task_bar.update(1)
        if on_task_end is not None:
            on_task_end(record)
    task_bar.close()
    return record
