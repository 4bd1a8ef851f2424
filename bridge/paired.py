"""The paired runner: one task stream, one seed, the SDMLP and the cerebellar circuit.

Protocols (per circuit):

- ``transfer``: the SDMLP learns; after every task its weights are copied into the circuit,
  which is evaluated on all tasks. Does the biology implement the learned SDM faithfully?
- ``native``: the circuit learns the same stream with its own local rules. Does it forget
  like the SDMLP?

After every task both accuracy matrices get a row, and a fidelity record compares the
circuit's active granule cells with the exact Top-K set of an SDMLP holding the circuit's
current weights (``bridge.fidelity``). The SDMLP is trained once and shared by both protocols.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ann import SDMLP
from bridge.calibrate import Calibration, adapt_circuit, calibrate_golgi
from bridge.evaluation import learner_dead_fraction, task_accuracies
from bridge.fidelity import fidelity
from bridge.learner import Learner
from bridge.transfer import normalised_drive, transfer_weights

PROTOCOLS = ("transfer", "native")

DEAD_INPUTS = 2000  # training inputs per task on which run_paired measures the dead fraction


class TaskLike(Protocol):
    index: int
    classes: tuple[int, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass
class PairedRecord:
    """Per learner: accuracy matrix (NaN rows not yet run) and dead fraction; per circuit: fidelity."""

    accuracy: dict[str, np.ndarray]
    dead_fraction: dict[str, list[float]] = field(default_factory=dict)
    fidelity: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calibration: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tasks_done: int = 0


def measure_fidelity(circuit: Learner, x: np.ndarray, k: int) -> dict[str, Any]:
    """Fidelity of ``circuit`` on inputs ``x`` against the exact Top-K SDMLP with its own weights.

    A granule cell is active above the circuit's ``active_threshold``.

    Both read-outs are the SDM read-out of the same values, argmax of y = h X_v (Algorithm 1 step 4;
    the unscaled Purkinje sum in the circuit, also for a circuit whose ``purkinje_norm`` scales its own
    predictions), so each circuit presentation is simulated once.
    """
    weights = circuit.get_weights()
    n_neurons, n_outputs = weights["value"].shape
    reference = SDMLP(x.shape[1], n_neurons, n_outputs, k=k, anneal_epochs=0, device="cpu")
    reference.set_weights(weights)
    topk_activity, bio_activity = reference.hidden(x), circuit.hidden(x)
    topk_pred, bio_pred = (np.argmax(h @ weights["value"], axis=1) for h in (topk_activity, bio_activity))
    return fidelity(normalised_drive(x, weights["address"]), topk_activity, bio_activity, k, circuit.active_threshold,
                    topk_pred, bio_pred)


def set_up(circuit: Learner, x: np.ndarray, k: int, golgi_search: tuple[str, tuple[float, float]]) -> Calibration:
    """Set a circuit up for ``k`` active cells on inputs ``x``: rate mode from the data
    (:func:`bridge.calibrate.adapt_circuit`: Eq. 13's settings from the drives, then the Golgi threshold);
    spiking mode by calibrating the Golgi parameter ``golgi_search`` names. Both tune the mature circuit (inhibitory
    GABA, as the SDMLP's Top-K) and give a young circuit its state back with the tuned Golgi setting, so that it
    learns with that Golgi cell and goes through its own GABA switch."""
    if circuit.mode == "rate":
        return adapt_circuit(circuit, x, k)
    young = circuit.state_dict()
    circuit.mature()
    matured = not (np.array_equal(young["chloride_mM"], circuit.chloride_mM_)
                   and np.array_equal(young["activity_count"], circuit.activity_count_))
    parameter = golgi_search[0]
    try:
        return calibrate_golgi(circuit, x, k, *golgi_search)
    finally:  # calibrated or not, a young circuit gets its state back (loading a state rebuilds the network)
        if matured:
            circuit.load_state_dict({**young, parameter: getattr(circuit, parameter)})


def run_paired(
    ann: Learner,
    circuits: Mapping[str, Learner],
    tasks: Sequence[TaskLike],
    epochs_per_task: int,
    *,
    k: int,
    fidelity_x: np.ndarray,
    bio_epochs: int = 1,
    calibration_x: np.ndarray | None = None,
    golgi_search: tuple[str, tuple[float, float]] = ("golgi_threshold", (-2.0, 2.0)),
    record: PairedRecord | None = None,
    on_task_end: Callable[[PairedRecord], None] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> PairedRecord:
    """Train ``ann`` and each circuit (keyed by protocol) on ``tasks``; measure after each task.

    ``fidelity_x`` are the inputs on which Top-K fidelity is measured (e.g. a fixed sample of
    all tasks' test inputs); a granule cell counts as active above its circuit's
    ``active_threshold``. With ``calibration_x``, the Golgi threshold is calibrated to k on those
    inputs: in ``transfer`` after every weight transfer, in ``native`` once before the first task
    on a matured copy of the circuit's state (the young circuit then learns with that Golgi cell
    and goes through its own GABA switch). ``golgi_search`` names the Golgi parameter solved for
    and its bracket. ``record`` resumes after ``record.tasks_done`` tasks (the learners must hold
    the matching state); ``on_step(message)`` reports progress within a task. The dead fraction after each
    task is measured on its first :data:`DEAD_INPUTS` training inputs (all of them on smaller tasks): a circuit
    simulates every input, and on Split MNIST's 12,000 per task that alone took longer than the rest of the run.
    """
    unknown = set(circuits) - set(PROTOCOLS)
    if unknown:
        raise ValueError(f"unknown protocol(s) {sorted(unknown)}; choose from {PROTOCOLS}.")
    T = len(tasks)
    if record is None:
        record = PairedRecord({name: np.full((T, T), np.nan) for name in ("sdmlp", *circuits)})
    step = on_step or (lambda message: None)
    if calibration_x is not None and "native" in circuits and record.tasks_done == 0:
        step("calibrating the native circuit's Golgi cell")
        calibration = set_up(circuits["native"], calibration_x, k, golgi_search)
        record.calibration.setdefault("native", []).append(vars(calibration))
    for task in tasks[record.tasks_done :]:
        step(f"task {task.index}: SDMLP")
        ann.fit_task(task.x_train, task.y_train, epochs_per_task)
        learners: dict[str, Learner] = {"sdmlp": ann}
        for protocol, circuit in circuits.items():
            step(f"task {task.index}: circuit ({protocol})")
            if protocol == "transfer":
                transfer_weights(ann, circuit)
                if calibration_x is not None:
                    calibration = set_up(circuit, calibration_x, k, golgi_search)
                    record.calibration.setdefault("transfer", []).append(vars(calibration))
            else:
                circuit.fit_task(task.x_train, task.y_train, bio_epochs)
            learners[protocol] = circuit
        for name, learner in learners.items():
            step(f"task {task.index}: evaluating {name}")
            record.accuracy[name][task.index] = task_accuracies(learner, tasks)
            # every learner on the same inputs: the task's first DEAD_INPUTS training inputs
            record.dead_fraction.setdefault(name, []).append(learner_dead_fraction(learner,
                                                                                   task.x_train[:DEAD_INPUTS]))
            if name != "sdmlp":
                record.fidelity.setdefault(name, []).append(
                    {"task": task.index, **measure_fidelity(learner, fidelity_x, k)})
        record.tasks_done = task.index + 1
        if on_task_end is not None:
            on_task_end(record)
    return record
