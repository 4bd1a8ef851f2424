"""Rate mode: the Eq. 13 granule/Golgi ODEs, many presentations side by side in one Brian2 network.

Implements Eq. 13 of Bricken et al. 2023 (App. C.1, after Gozel & Gerstner 2021) with the
inhibitory sign made explicit (``bio/equations.py``):

    de/dt = (-e + tanh([(e0 - lambda W_IE i - b) / L]_+)) / tau_a
    di/dt = (-i + gain [W_EI e - b_i]_+) / tau_i

e0 = ``drive`` = address^T x is computed once per presentation (numpy) and passed in as a
per-neuron constant. ``n_copies`` independent circuits (same W_EI / W_IE masks) share one
NeuronGroup each for granule and Golgi cells; the network is built once and reused: each
``run`` resets e = i = 0, sets drive and lambda, runs one presentation and reads e.
"""

from __future__ import annotations

import brian2 as b2
import networkx as nx
import numpy as np

from bio import equations
from bio.brian import block_synapses, codegen, frozen_gc
from bio.wiring import normalised_weights


class RateLoop:
    """Batched Eq. 13 network built from the circuit graph.

    Parameters
    ----------
    graph : from :func:`bio.wiring.circuit_graph` (uses the granule<->Golgi masks).
    n_copies : presentations simulated at once.
    dt_ms : Euler step.
    """

    def __init__(self, graph: nx.DiGraph, n_copies: int, dt_ms: float) -> None:
        self.n_neurons = graph.nodes["granule"]["size"]
        self.n_golgi = graph.nodes["golgi"]["size"]
        self.n_copies = n_copies
        dt = dt_ms * b2.ms
        self.granule = b2.NeuronGroup(
            n_copies * self.n_neurons, equations.GRANULE_RATE, method="euler", dt=dt
        )
        self.golgi = b2.NeuronGroup(n_copies * self.n_golgi, equations.GOLGI_RATE, method="euler", dt=dt)
        self.excite = self._synapses(
            graph, "granule", "golgi", self.granule, self.golgi, equations.GRANULE_TO_GOLGI_RATE, dt
        )  # W_EI
        self.inhibit = self._synapses(
            graph, "golgi", "granule", self.golgi, self.granule, equations.GOLGI_TO_GRANULE_RATE, dt
        )  # W_IE
        self.network = b2.Network(self.granule, self.golgi, self.excite, self.inhibit)

    def _synapses(self, graph, pre, post, source, target, model, dt) -> b2.Synapses:
        mask = graph.edges[pre, post]["mask"]
        syn = b2.Synapses(source, target, model, dt=dt)
        i, j = block_synapses(mask, self.n_copies, *mask.shape)
        syn.connect(i=i, j=j)
        w = normalised_weights(mask)
        syn.w_ = np.tile(w[np.nonzero(mask)], self.n_copies)
        return syn

    def run(
        self,
        drive: np.ndarray,
        lam: np.ndarray,
        duration_ms: float,
        namespace: dict,
        target: str,
        monitor: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Simulate one presentation of each row of ``drive`` (batch <= n_copies, n_neurons).

        Returns the final granule activity e, (batch, n_neurons) float32; with ``monitor`` also
        the time points (ms) and e(t), shape (batch, n_neurons, n_steps), for checking the ODEs.
        """
        batch = len(drive)
        padded = np.zeros((self.n_copies, self.n_neurons))
        padded[:batch] = drive
        self.granule.drive_ = padded.ravel()
        self.granule.lam_ = np.tile(lam, self.n_copies)
        self.granule.act_ = 0.0
        self.granule.inh_ = 0.0  # summed from i = 0; else the first step would see the last run's Golgi
        self.golgi.act_ = 0.0
        self.golgi.exc_ = 0.0
        mon = b2.StateMonitor(self.granule, "act", record=range(batch * self.n_neurons)) if monitor else None
        if mon is not None:
            self.network.add(mon)
        with codegen(target), frozen_gc():
            self.network.run(duration_ms * b2.ms, namespace=namespace)
        e = self.granule.act_[:].reshape(self.n_copies, self.n_neurons)[:batch].astype(np.float32)
        if mon is None:
            return e
        self.network.remove(mon)
        t_ms = np.asarray(mon.t / b2.ms) - mon.t[0] / b2.ms
        return e, t_ms, np.asarray(mon.act).reshape(batch, self.n_neurons, -1)
