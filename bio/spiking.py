"""Spiking mode: Poisson or regular mossy fibers, conductance-based LIF granule and Golgi cells (Brian2).

Granule and Golgi parameters are those of Fore et al. 2020 (``bio/equations.py``). Mossy
fibers fire at ``max_rate * x / ||x||``, as Poisson processes or as regular trains with a random
phase (``mossy_firing``); with synaptic quantum q and
time constant tau_e a granule cell's mean excitatory conductance is
``max_rate * q * tau_e * drive``, the spiking counterpart of Eq. 13's e0 = address^T x.
As in rate mode, ``n_copies`` presentations run side by side and the network is built once;
weights, rates and GABA reversals are set per run.

Golgi cells are either conductance-based LIF cells (``golgi_model="lif"``, Fore et al. 2020) or
a population-rate Golgi (``"population"``): Eq. 13's inhibitory unit driven by the granule
spike trains, the limit of many asynchronous Golgi cells. The 4 LIF cells fire in lockstep and
their GABA volleys leave all-or-none active sets; the population Golgi holds the number of
active granule cells steady across inputs (``tests/bio/test_spiking.py``).

The reported activity of a granule cell is its firing rate in the read window times the
refractory period (the fraction of its maximal rate), comparable to Eq. 13's tanh in [0, 1].
"""

from __future__ import annotations

import brian2 as b2
import networkx as nx
import numpy as np

from bio import equations
from bio.brian import block_synapses, codegen, frozen_gc
from bio.golgi import GOLGI_PARAMS, golgi_coupling
from bio.wiring import normalised_weights

# Fore et al. 2020, granular layer: granule cells, then Golgi cells (suffix g / _golgi).
CONSTANTS = dict(
    C_m=3.1 * b2.pF,
    g_L=0.2 * b2.nS,
    E_L=-75 * b2.mV,
    E_e=0 * b2.mV,
    V_th=-55 * b2.mV,
    V_reset=-75 * b2.mV,
    tau_e=12 * b2.ms,
    tau_gaba=20 * b2.ms,
    C_g=60 * b2.pF,
    g_Lg=3 * b2.nS,
    E_Lg=-51 * b2.mV,
    V_reset_golgi=-55 * b2.mV,
)
V_TH_GOLGI = -50 * b2.mV
GRANULE_REFRACTORY = 2 * b2.ms
GOLGI_REFRACTORY = 10 * b2.ms
MOSSY_FIRING = ("poisson", "regular")
GOLGI_MODELS = ("lif", "population")
GRANULE_TRACE = 20 * b2.ms  # population Golgi: filter of the granule spike trains (10 ms: worse fidelity)


class SpikingLoop:
    """Batched spiking granular layer built from the circuit graph.

    Parameters
    ----------
    graph : from :func:`bio.wiring.circuit_graph`.
    n_copies : presentations simulated at once.
    dt_ms : integration step (exponential Euler, stable for large conductances; <= 0.1 ms recommended).
    target : Brian2 runtime code generation, "numpy" or "cython".
    mossy_firing : "poisson" (PoissonGroup) or "regular" (phase oscillators, ``equations.MOSSY_REGULAR``).
    golgi_model : "lif" (conductance-based LIF Golgi cells, GABA quanta per spike) or "population"
        (Eq. 13's inhibitory rate unit driven by the filtered granule spike trains,
        ``equations.GRANULE_GABA_POPULATION``; coupled as in rate mode by :func:`bio.golgi.golgi_coupling`).
    """

    def __init__(self, graph: nx.DiGraph, n_copies: int, dt_ms: float, target: str = "numpy",
                 mossy_firing: str = "poisson", golgi_model: str = "lif") -> None:
        self.target = target
        self.mossy_firing = mossy_firing
        self.golgi_model = golgi_model
        lif = golgi_model == "lif"
        self.n_inputs = graph.nodes["mossy"]["size"]
        self.n_neurons = graph.nodes["granule"]["size"]
        self.n_golgi = graph.nodes["golgi"]["size"]
        self.n_copies = n_copies
        self.dt_ms = dt_ms
        self.dendrites = graph.edges["mossy", "granule"]["mask"]
        dt = dt_ms * b2.ms
        if mossy_firing == "poisson":
            self.mossy = b2.PoissonGroup(n_copies * self.n_inputs, rates=0 * b2.Hz, dt=dt)
        else:
            self.mossy = b2.NeuronGroup(n_copies * self.n_inputs, equations.MOSSY_REGULAR, threshold="phase >= 1",
                                        reset="phase -= 1", method="euler", dt=dt)
        self.granule = b2.NeuronGroup(
            n_copies * self.n_neurons,
            equations.GRANULE_LIF + (equations.GRANULE_GABA_LIF if lif else equations.GRANULE_GABA_POPULATION),
            threshold="v > V_th",
            reset=equations.GRANULE_RESET if lif else equations.GRANULE_RESET_POPULATION,
            refractory=GRANULE_REFRACTORY,
            method="exponential_euler",
            dt=dt,
        )
        self.dendrite_syn = self._synapses(
            self.dendrites, self.mossy, self.granule, equations.MOSSY_TO_GRANULE_SPIKE, dt, None
        )
        if lif:
            self.golgi = b2.NeuronGroup(
                n_copies * self.n_golgi,
                equations.GOLGI_LIF,
                threshold="v > V_th_golgi",
                reset="v = V_reset_golgi",
                refractory=GOLGI_REFRACTORY,
                method="exponential_euler",
                dt=dt,
            )
            coupling = (
                self._synapses(graph.edges["granule", "golgi"]["mask"], self.granule, self.golgi,
                               equations.GRANULE_TO_GOLGI_SPIKE, dt, "granule"),
                self._synapses(graph.edges["golgi", "granule"]["mask"], self.golgi, self.granule,
                               equations.GOLGI_TO_GRANULE_SPIKE, dt, "golgi"),
            )
        else:
            self.golgi = b2.NeuronGroup(n_copies * self.n_golgi, equations.GOLGI_RATE, method="euler", dt=dt)
            coupling = (golgi_coupling(graph, self.granule, self.golgi, n_copies, dt),)
        self.network = b2.Network(self.mossy, self.granule, self.golgi, self.dendrite_syn, *coupling)

    def _synapses(self, mask, source, target, model, dt, normalise) -> b2.Synapses:
        syn = b2.Synapses(source, target, model[0], on_pre=model[1], dt=dt)
        i, j = block_synapses(mask, self.n_copies, *mask.shape)
        syn.connect(i=i, j=j)
        if normalise is not None:
            syn.w_ = np.tile(normalised_weights(mask)[np.nonzero(mask)], self.n_copies)
        return syn

    def run(
        self,
        rates_hz: np.ndarray,
        address: np.ndarray,
        e_gaba_mV: np.ndarray,
        duration_ms: float,
        read_ms: float,
        namespace: dict,
        seed: int,
    ) -> np.ndarray:
        """Simulate one presentation per row of ``rates_hz`` (batch <= n_copies, n_inputs).

        ``namespace`` supplies q_mossy, q_granule, q_golgi (siemens), gain and V_th_golgi; the
        population Golgi also reads b_i and tau_i (Eq. 13's threshold and time constant).

        Returns the granule activity (rate in the last ``read_ms`` x refractory period),
        (batch, n_neurons) float32.
        """
        batch = len(rates_hz)
        padded = np.zeros((self.n_copies, self.n_inputs))
        padded[:batch] = rates_hz
        self.mossy.rates_ = padded.ravel()
        if self.mossy_firing == "regular":  # a random phase per fiber: the fibers do not fire in lockstep
            self.mossy.phase_ = np.random.default_rng(seed).random(self.n_copies * self.n_inputs)
        self.dendrite_syn.w_ = np.tile(address[np.nonzero(self.dendrites)], self.n_copies)
        self.granule.E_gaba_ = np.tile(e_gaba_mV * 1e-3, self.n_copies)
        self.granule.v_ = float(CONSTANTS["E_L"])
        self.granule.g_e_ = 0.0
        self.granule.count_ = 0.0
        self.granule.lastspike_ = -1e9  # no refractoriness carried over from the last presentation
        # half a step early: spikes fall on whole steps, so the window holds the same steps whatever the
        # network's clock reads (t grows over runs; t >= t_read at the boundary step would depend on rounding)
        ns = dict(CONSTANTS, **namespace, t_read=self.network.t + (duration_ms - read_ms - self.dt_ms / 2) * b2.ms)
        if self.golgi_model == "lif":
            self.granule.g_gaba_ = 0.0
            self.golgi.v_ = float(CONSTANTS["E_Lg"])
            self.golgi.lastspike_ = -1e9
            self.golgi.g_e_ = 0.0
        else:
            self.granule.act_ = 0.0
            self.golgi.act_ = 0.0
            for name in GOLGI_PARAMS:  # shared variables of the Golgi group, not namespace names
                setattr(self.golgi, name, ns.pop(name))
            ns.update(t_ref=GRANULE_REFRACTORY, tau_trace=GRANULE_TRACE)
        with codegen(self.target), frozen_gc():
            b2.seed(seed)
            self.network.run(duration_ms * b2.ms, namespace=ns)
        counts = self.granule.count_[:].reshape(self.n_copies, self.n_neurons)[:batch]
        return (counts / (read_ms * 1e-3) * float(GRANULE_REFRACTORY)).astype(np.float32)
