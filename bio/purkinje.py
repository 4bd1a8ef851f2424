"""Purkinje cells in Brian2: parallel-fiber input through ``Synapses``, climbing-fiber complex spikes.

Each Purkinje cell (one per class) is a rate unit whose rate is the linear sum of its parallel-fiber
input, y_c = sum_j w_jc h_j: the read-out of Marr (1969, J Physiol 202:437) and Albus (1971, Math Biosci
10:25), and the output layer y = h X_v of the SDMLP (Bricken et al. 2023, Algorithm 1 step 4). A
climbing fiber contacts one Purkinje cell (one-to-one; Ito 2001, Physiol Rev 81:1143) and fires one
complex spike per presentation when the teaching signal selects its cell.

A presentation holds the granule activity constant (the circuit reads it at the end of the granule
simulation, ``bio/circuit.py``), and the rate unit follows its input without delay, so each
presentation is one time step: a batch of presentations is one ``Network.run`` over a 2-D
``TimedArray`` of granule activity (rows = presentations), never one run per input. Per step a
monitor records each Purkinje cell's rate and the complex spikes it received in that step.
"""

from __future__ import annotations

import brian2 as b2
import numpy as np

from bio import _checks
from bio.brian import codegen, frozen_gc

# Parallel fibers: granule cell j's activity in presentation s = timestep since t0, read from the
# TimedArray h_in (presentations, n_neurons) passed to each run.
PARALLEL_FIBER = """
h = h_in(t - t0, i) : 1
t0 : second (shared)
"""
# Purkinje rate unit (Marr 1969, Albus 1971): y = sum_j w_jc h_j, the summed parallel-fiber input;
# complex_spikes counts the climbing-fiber spikes of the current presentation (reset at its start).
PURKINJE_RATE = """
y : 1
complex_spikes : 1
"""
PF_TO_PC = "w : 1\ny_post = w * h_pre : 1 (summed)"
# Climbing fibers (inferior olive): fire once in a presentation whose teaching entry cf_in is 1.
CLIMBING_FIBER = """
fire = cf_in(t - t0, i) : 1
t0 : second (shared)
"""
CF_TO_PC = "complex_spikes_post += 1"
STEP = 1.0 * b2.ms  # one presentation per step; the rate unit has no dynamics, so any step gives the same rates
CHUNK = 2_000  # presentations per run: bounds the TimedArray (CHUNK x n_neurons floats)


class PurkinjeLayer:
    """Parallel fibers -> Purkinje cells <- climbing fibers, as Brian2 groups (runtime "numpy" target).

    Parameters
    ----------
    n_neurons : granule cells (parallel fibers).
    n_outputs : Purkinje cells, each with its climbing fiber.

    The network is small (n_neurons x n_outputs synapses) and runs one step per presentation, so it uses
    Brian2's numpy target, which needs no compiler, whatever the granule layer's target.

    Examples
    --------
    >>> layer = PurkinjeLayer(3, 2)
    >>> rates, spikes = layer.run(np.array([[1.0, 0.0, 2.0]]), np.array([[0.5, 0.0], [1.0, 1.0], [0.25, 1.0]]))
    >>> rates  # doctest: +SKIP
    array([[1., 2.]], dtype=float32)
    """

    def __init__(self, n_neurons: int, n_outputs: int) -> None:
        self.n_neurons = _checks.count("n_neurons", n_neurons, owner="PurkinjeLayer")
        self.n_outputs = _checks.count("n_outputs", n_outputs, owner="PurkinjeLayer")
        self.parallel = b2.NeuronGroup(n_neurons, PARALLEL_FIBER, dt=STEP)
        self.purkinje = b2.NeuronGroup(n_outputs, PURKINJE_RATE, dt=STEP)
        self.climbing = b2.NeuronGroup(n_outputs, CLIMBING_FIBER, threshold="fire > 0.5", reset="", dt=STEP)
        self.pf_pc = b2.Synapses(self.parallel, self.purkinje, PF_TO_PC, dt=STEP)
        # synapse (j, c) at index j * n_outputs + c: the row-major order of value (n_neurons, n_outputs)
        self.pf_pc.connect(i=np.repeat(np.arange(n_neurons), n_outputs), j=np.tile(np.arange(n_outputs), n_neurons))
        self.cf_pc = b2.Synapses(self.climbing, self.purkinje, on_pre=CF_TO_PC, dt=STEP)
        self.cf_pc.connect(j="i")  # one climbing fiber per Purkinje cell
        reset = self.purkinje.run_regularly("complex_spikes = 0", when="start")
        self.network = b2.Network(self.parallel, self.purkinje, self.climbing, self.pf_pc, self.cf_pc, reset)

    def run(
        self, hidden: np.ndarray, weights: np.ndarray, complex_spikes: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Present each row of ``hidden`` (batch, n_neurons) for one step with parallel-fiber weights ``weights``
        (n_neurons, n_outputs); ``complex_spikes`` (batch, n_outputs) bool: which climbing fibers fire in each
        presentation (default none). Returns the Purkinje rates (batch, n_outputs) float32 and the complex
        spikes each Purkinje cell received (batch, n_outputs) bool.
        """
        hidden = np.asarray(hidden, dtype=np.float64)
        if hidden.ndim != 2 or hidden.shape[1] != self.n_neurons:
            raise ValueError(f"'hidden' must have shape (batch, {self.n_neurons}). Got {hidden.shape}.")
        if np.shape(weights) != (self.n_neurons, self.n_outputs):
            raise ValueError(f"'weights' must have shape ({self.n_neurons}, {self.n_outputs}). "
                             f"Got {np.shape(weights)}.")
        fired = np.zeros((len(hidden), self.n_outputs)) if complex_spikes is None else np.asarray(complex_spikes)
        if fired.shape != (len(hidden), self.n_outputs):
            raise ValueError(f"'complex_spikes' must have shape {(len(hidden), self.n_outputs)}. Got {fired.shape}.")
        self.pf_pc.w = np.asarray(weights, dtype=np.float64).ravel()
        rates, spikes = [], []
        for start in range(0, len(hidden), CHUNK):
            r, s = self._run_chunk(hidden[start : start + CHUNK], fired[start : start + CHUNK].astype(np.float64))
            rates.append(r)
            spikes.append(s)
        if not rates:
            return np.zeros((0, self.n_outputs), np.float32), np.zeros((0, self.n_outputs), bool)
        return np.concatenate(rates), np.concatenate(spikes)

    def _run_chunk(self, hidden: np.ndarray, fired: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        steps = len(hidden)
        monitor = b2.StateMonitor(self.purkinje, ("y", "complex_spikes"), record=True, when="end")
        self.network.add(monitor)
        t0 = self.network.t
        self.parallel.t0 = t0
        self.climbing.t0 = t0
        namespace = {"h_in": b2.TimedArray(hidden, dt=STEP), "cf_in": b2.TimedArray(fired, dt=STEP)}
        with codegen("numpy"), frozen_gc():
            self.network.run(steps * STEP, namespace=namespace)
        self.network.remove(monitor)
        rates = np.asarray(monitor.y).T.astype(np.float32)  # (steps, n_outputs)
        return rates, np.asarray(monitor.complex_spikes).T > 0
