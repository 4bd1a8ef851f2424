"""The one interface every learner meets: SDMLP, baselines and the cerebellar circuit.

It is a :class:`typing.Protocol`, so ``ann/`` and ``bio/`` implement it structurally
without importing ``bridge/``. Arrays at the edge are numpy: inputs ``x`` are float32
of shape (batch, n_inputs), labels are int64 of shape (batch,).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

EpochCallback = Callable[[int], None]
"""Called by ``fit_task`` after each finished epoch with the epoch index within the task (0-based)."""


@runtime_checkable
class Learner(Protocol):
    """A continual learner: trained task after task, evaluated on all tasks.

    ``fit_task`` trains on one task's data for ``epochs`` passes (a learner whose
    method fixes the number of passes, such as the FlyModel, documents that it
    ignores the argument) and returns ``self``. Learned state persists across
    calls: that is what makes forgetting measurable. ``start_epoch`` > 0 continues a
    task interrupted after that many finished epochs, from the state the learner had
    then (``state_dict`` saved in ``on_epoch``): only epochs ``start_epoch ... epochs - 1``
    run, so an interrupted and resumed task equals an uninterrupted one.

    Optional attributes the runners read where present: ``n_models`` (seeds trained as one
    batched model; default 1) and ``active_threshold`` (the ``hidden`` activity above which a
    neuron counts as active; default 0).
    """

    n_inputs: int
    n_outputs: int

    def fit_task(
        self, x: np.ndarray, y: np.ndarray, epochs: int, on_epoch: EpochCallback | None = None,
        start_epoch: int = 0,
    ) -> Learner: ...

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted class per row of ``x``, shape (batch,), int64."""
        ...

    def hidden(self, x: np.ndarray) -> np.ndarray:
        """Post-inhibition hidden (granule) activity, shape (batch, n_neurons), float32."""
        ...

    def get_weights(self) -> dict[str, np.ndarray]: ...

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training bit-for-bit (weights, counters, RNG state)."""
        ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...
