"""Rate mode: the Eq. 13 granule/Golgi ODEs, many presentations side by side in one Brian2 network.

Implements Eq. 13 of Bricken et al. 2023 (App. C.1, after Gozel & Gerstner 2021) with the
inhibitory sign made explicit (``bio/equations.py``):

    de/dt = (-e + tanh([(e0 - lambda (W_IE i + f) - b) / L]_+)) / tau_a
    di/dt = (-i + gain [W_EI e - b_i]_+) / tau_i

e0 = ``drive`` = address^T x and the feedforward Golgi inhibition f (``ffi``, 0 unless the
circuit's ``feedforward_inhibition`` is set) are computed once per presentation (numpy) and
passed in as per-neuron constants. ``n_copies`` independent circuits (same W_EI / W_IE masks) share one
NeuronGroup each for granule and Golgi cells (coupled by matrix products on the runtime targets,
by summed-variable Synapses in C++ standalone); the network is built once and reused: each
``run`` starts from e = i = 0, sets drive, lambda and the parameters, runs one presentation
and reads e. With the "cpp_standalone" target the network is compiled once per presentation
time into ``.brian_cache/standalone/`` and each ``run`` executes the binary with the per-run
values on its command line (Brian2 ``run_args``).
"""

from __future__ import annotations

import hashlib

import brian2 as b2
import networkx as nx
import numpy as np

from bio import equations
from bio.brian import CACHE_DIR, STANDALONE_KEEP, block_synapses, codegen, frozen_gc, prune_projects, standalone_device
from bio.wiring import normalised_weights

GRANULE_PARAMS = ("b", "L", "tau_a")  # shared variables of the granule group (Eq. 13)
GOLGI_PARAMS = ("gain", "b_i", "tau_i")  # shared variables of the Golgi group


def golgi_coupling(graph: nx.DiGraph, granule: b2.NeuronGroup, golgi: b2.NeuronGroup, n_copies: int,
                   dt: b2.Quantity) -> b2.NetworkOperation:
    """Eq. 13's projections for ``n_copies`` circuits: Golgi ``exc`` = W_EI^T e and granule ``inh`` = W_IE^T i.

    Both are dense matrix products per step, written in place, in a network operation scheduled where
    Brian2 runs summed variables (before the state updaters, so from the previous step's ``act``).
    Synapses with summed variables would read ~24 bytes per synapse per step (memory-bound: half
    of the rate-mode run time at 1,000 cells); the products read each activity once.
    """
    w_ei = normalised_weights(graph.edges["granule", "golgi"]["mask"])  # (n_neurons, n_golgi)
    w_ie = normalised_weights(graph.edges["golgi", "granule"]["mask"])  # (n_golgi, n_neurons)
    n_neurons, n_golgi = w_ei.shape

    def couple() -> None:
        e = granule.variables["act"].get_value().reshape(n_copies, n_neurons)
        i = golgi.variables["act"].get_value().reshape(n_copies, n_golgi)
        np.matmul(e, w_ei, out=golgi.variables["exc"].get_value().reshape(n_copies, n_golgi))
        np.matmul(i, w_ie, out=granule.variables["inh"].get_value().reshape(n_copies, n_neurons))

    return b2.NetworkOperation(couple, dt=dt, when="groups", order=-1)


class RateLoop:
    """Batched Eq. 13 network built from the circuit graph.

    Parameters
    ----------
    graph : from :func:`bio.wiring.circuit_graph` (uses the granule<->Golgi masks).
    n_copies : presentations simulated at once.
    dt_ms : Euler step.
    target : Brian2 code generation, "numpy", "cython" or "cpp_standalone".
    """

    def __init__(self, graph: nx.DiGraph, n_copies: int, dt_ms: float, target: str = "numpy") -> None:
        self.graph = graph
        self.n_neurons = graph.nodes["granule"]["size"]
        self.n_golgi = graph.nodes["golgi"]["size"]
        self.n_copies = n_copies
        self.dt_ms = dt_ms
        self.target = target
        self._device = None  # cpp_standalone: the compiled project, built on the first run
        self._built_ms: float | None = None  # the presentation time compiled into it
        if target != "cpp_standalone":
            self._create()

    def _create(self) -> None:
        """Granule and Golgi groups and the W_EI / W_IE coupling, on the current Brian2 device.

        Runtime targets couple by :func:`golgi_coupling`'s matrix products. C++ standalone has no
        Python in its loop, so there the coupling is Synapses with summed variables: the same sums
        (tested equal).
        """
        dt = self.dt_ms * b2.ms
        self.granule = b2.NeuronGroup(
            self.n_copies * self.n_neurons, equations.GRANULE_RATE, method="euler", dt=dt
        )
        self.golgi = b2.NeuronGroup(self.n_copies * self.n_golgi, equations.GOLGI_RATE, method="euler", dt=dt)
        if self.target == "cpp_standalone":
            coupling = (
                self._synapses("granule", "golgi", self.granule, self.golgi, equations.GRANULE_TO_GOLGI_RATE),
                self._synapses("golgi", "granule", self.golgi, self.granule, equations.GOLGI_TO_GRANULE_RATE),
            )
        else:
            coupling = (golgi_coupling(self.graph, self.granule, self.golgi, self.n_copies, dt),)
        self.network = b2.Network(self.granule, self.golgi, *coupling)

    def _synapses(self, pre, post, source, target, model) -> b2.Synapses:
        mask = self.graph.edges[pre, post]["mask"]
        syn = b2.Synapses(source, target, model, dt=self.dt_ms * b2.ms)
        i, j = block_synapses(mask, self.n_copies, *mask.shape)
        syn.connect(i=i, j=j)
        w = normalised_weights(mask)
        syn.w_ = np.tile(w[np.nonzero(mask)], self.n_copies)
        return syn

    def _compile(self, duration_ms: float) -> None:
        """Generate and compile the standalone project for ``duration_ms`` presentations.

        The project folder is named after everything compiled into it (masks, sizes, dt,
        duration, Brian2 version), so an identical network reuses it and its object files. Only
        the ``STANDALONE_KEEP`` most recently used projects are kept.
        """
        key = hashlib.sha1()
        for edge in (("granule", "golgi"), ("golgi", "granule")):
            key.update(np.ascontiguousarray(self.graph.edges[edge]["mask"], dtype=np.uint8).tobytes())
        sizes = (self.n_neurons, self.n_golgi, self.n_copies, self.dt_ms, duration_ms, b2.__version__)
        key.update(repr(sizes).encode())
        directory = CACHE_DIR / "standalone" / key.hexdigest()[:16]
        with standalone_device(directory) as device:
            self._create()
            self.network.run(duration_ms * b2.ms, namespace={})  # every name is a group variable
            device.build(directory=str(directory), compile=True, run=False, with_output=False)
        prune_projects(directory.parent, STANDALONE_KEEP, directory)
        self._device, self._built_ms = device, duration_ms

    def run(
        self,
        drive: np.ndarray,
        lam: np.ndarray,
        duration_ms: float,
        params: dict,
        ffi: np.ndarray | None = None,
        monitor: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Simulate one presentation of each row of ``drive`` (batch <= n_copies, n_neurons).

        ``params`` holds Eq. 13's b, L, tau_a (granule) and gain, b_i, tau_i (Golgi), time
        constants as Brian2 quantities. ``ffi`` (batch,): each presentation's feedforward Golgi
        inhibition (default none). Returns the final granule activity e, (batch, n_neurons)
        float32; with ``monitor`` (runtime targets only) also the time points (ms) and e(t), shape
        (batch, n_neurons, n_steps), for checking the ODEs.
        """
        batch = len(drive)
        padded = np.zeros((self.n_copies, self.n_neurons))
        padded[:batch] = drive
        feedforward = np.zeros((self.n_copies, self.n_neurons))
        if ffi is not None:
            feedforward[:batch] = np.asarray(ffi, dtype=float)[:, None]
        if self.target == "cpp_standalone":
            if monitor:
                raise ValueError("monitor=True needs a runtime target ('numpy' or 'cython'), not 'cpp_standalone'.")
            if self._built_ms != duration_ms:
                self._compile(duration_ms)
            values = self._values(padded, feedforward, lam, params)
            self._device.run(run_args={getattr(g, name): v for g, name, v in values}, with_output=False)
            self._device.delete(code=False, data=False, run_args=True, directory=False)
            return self.granule.act[:].reshape(self.n_copies, self.n_neurons)[:batch].astype(np.float32)
        for group, name, value in self._values(padded, feedforward, lam, params):
            setattr(group, name, value)
        for group, name in ((self.granule, "act"), (self.granule, "inh"), (self.golgi, "act"), (self.golgi, "exc")):
            setattr(group, name, 0.0)  # inh too: else the first step would see the last run's Golgi
        mon = b2.StateMonitor(self.granule, "act", record=range(batch * self.n_neurons)) if monitor else None
        if mon is not None:
            self.network.add(mon)
        with codegen(self.target), frozen_gc():
            self.network.run(duration_ms * b2.ms, namespace={})  # every name is a group variable
        e = self.granule.act_[:].reshape(self.n_copies, self.n_neurons)[:batch].astype(np.float32)
        if mon is None:
            return e
        self.network.remove(mon)
        t_ms = np.asarray(mon.t / b2.ms) - mon.t[0] / b2.ms
        return e, t_ms, np.asarray(mon.act).reshape(batch, self.n_neurons, -1)

    def _values(self, padded: np.ndarray, feedforward: np.ndarray, lam: np.ndarray,
                params: dict) -> list[tuple[b2.NeuronGroup, str, object]]:
        """(group, variable, value) for everything set per run: drive, feedforward inhibition, lambda and
        Eq. 13's parameters."""
        return [
            (self.granule, "drive", padded.ravel()),
            (self.granule, "ffi", feedforward.ravel()),
            (self.granule, "lam", np.tile(lam, self.n_copies)),
            *((self.granule, name, params[name]) for name in GRANULE_PARAMS),
            *((self.golgi, name, params[name]) for name in GOLGI_PARAMS),
        ]
