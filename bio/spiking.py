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
spike trains, the limit of many asynchronous Golgi cells. In Fore et al.'s circuit (4 LIF cells,
Poisson 200 Hz trains) the LIF cells fire in lockstep and their GABA volleys leave all-or-none
active sets (Jaccard 0.01 against Top-K on digits). The Top-K mechanisms below (circuit defaults,
each a Brian2 pathway or time constant, measured in ``docs/spiking-topk.md``) make the LIF loop
graded: regular 1 kHz mossy trains, a slow (NMDA) mossy conductance, slow spillover GABA, one
Golgi cell per 100 granule cells reaching every granule cell, Golgi cells free to fire fast (2 ms refractory, cell set
``fore2020-golgi-2ms``), feedforward mossy -> Golgi excitation, a granule -> Golgi feedback stronger than
the feedforward drive through depressing synapses, and 400 ms presentations read over their last 150 ms (their
Jaccard against Top-K, each removed in turn: ``csdm fidelity --mode spiking``, stored in docs/spiking-topk.md).
Optional, off by default: tonic GABA, Golgi -> Golgi inhibition, heterogeneous Golgi thresholds and Golgi membrane
noise.

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
from bio.params import DEFAULT as DEFAULT_CELL_PARAMS
from bio.params import CellParams, get_cell_params
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
    # Overridable per run (namespace); these defaults leave the circuit as Fore et al.'s without the options.
    tau_mossy=12 * b2.ms,  # mossy -> granule conductance decay: Fore et al.'s tau_e (AMPA)
    g_tonic=0 * b2.nS,  # tonic GABA of granule cells (Fore et al. 2020: 1 nS)
    q_mossy_golgi=0 * b2.nS,  # mossy -> Golgi quantum (feedforward excitation)
    q_golgi_golgi=0 * b2.nS,  # Golgi -> Golgi GABA quantum
    tau_gaba_golgi=20 * b2.ms,  # Golgi -> Golgi GABA decay (Fore et al.'s tau_i)
    E_gaba_golgi=-75 * b2.mV,  # Golgi GABA reversal (Fore et al.'s E_i)
    golgi_threshold_sd=0 * b2.mV,  # spread of the Golgi cells' thresholds (times graph's threshold_z)
    sigma_golgi=0 * b2.mV,  # sd of each Golgi cell's independent membrane noise (equations.GOLGI_LIF_NOISE)
    g_gap=0 * b2.nS,  # gap-junction conductance between each pair of Golgi cells (equations.GOLGI_GAP)
)
MOSSY_FIRING = ("poisson", "regular")
GOLGI_MODELS = ("lif", "population")
GRANULE_TRACE = 20 * b2.ms  # population Golgi: filter of the granule spike trains (10 ms: worse fidelity)

# Spiking Top-K: the mechanisms measured to let LIF Golgi cells hold k near Top-K (docs/spiking-topk.md has the
# table); CerebellarCircuit's defaults. Each can be switched off to Fore et al. 2020's circuit.
# - Golgi count: 1 Golgi cell per 100 granule cells (Fore et al. 2020: 100 granule cells per Golgi cell);
#   every granule cell's Golgi weights normalised to sum 1 (bio.wiring.normalised_weights). With every Golgi cell
#   reaching every granule cell (SPIKING_P_GOLGI, below) the Golgi cells receive the same input and fire alike, so
#   their count does not change the inhibition (row lif-4-golgi measures the same as lif).
GRANULE_PER_GOLGI = 100
# - Slow mossy conductance: the mossy -> granule EPSC has a slow NMDA component (D'Angelo et al. 1995, J Physiol
#   484:397; Cathala et al. 2003, J Neurosci 23:6074) that carries about half the synaptic charge (Schwartz et al.
#   2012, J Neurosci 32:6878), beside the fast AMPA one (Fore et al.'s tau_e, 12 ms). Mouse granule cells' NMDA EPSC
#   decays with two exponentials, 42.3 and 150.6 ms, amplitudes in the ratio 1.5 (Ebralidze et al. 1996, J Neurosci
#   16:5014, Table 1). One exponential with that EPSC's peak and charge models an NMDA-dominated integration (an
#   equal-charge mixture with the 12 ms AMPA component would decay faster): its decay is the amplitude-weighted one,
#   85.6 ms; the quantum keeps the charge per spike of Fore et al.'s (q x tau kept). It
#   averages the mossy trains over longer than the AMPA decay: without it the effective k spreads widely and inputs
#   fall silent (docs/spiking-topk.md, row lif-fast-mossy; D'Angelo et al.'s 40 ms, row lif-nmda-40ms, does about
#   as well).
NMDA_DECAY_MS = (42.3, 150.6)
NMDA_FAST_OVER_SLOW = 1.5
MOSSY_TAU_MS = round((NMDA_FAST_OVER_SLOW * NMDA_DECAY_MS[0] + NMDA_DECAY_MS[1]) / (NMDA_FAST_OVER_SLOW + 1), 1)
# - Slow GABA: Golgi -> granule inhibition includes spillover and tonic components far slower than the direct
#   phasic one (Rossi & Hamann 1998, Neuron 20:783; Brickley et al. 1996, J Physiol 497:753; Hamann, Rossi &
#   Attwell 2002, Neuron 33:625). One exponential of 200 ms stands for that slow inhibition: an engine choice, not a
#   measured IPSC decay; it smooths the Golgi volleys into a steady inhibition (Fore et al.: 20 ms; 100 ms does
#   less well on MNIST: docs/spiking-topk.md, row lif-gaba-100ms).
GABA_TAU_MS = 200.0
# - Every Golgi cell reaching every granule cell (connection probability 1; rate mode keeps App. C.1's 0.9): the
#   same inhibition for all granule cells, which Top-K needs, as rate mode's coupled Golgi cells give it (row
#   lif-sparse-golgi with 0.9). An engine choice: a granule cell receives from a few Golgi cells (Fore et al. 2020:
#   4), whose firing the feedback and the slow GABA make alike.
SPIKING_P_GOLGI = 1.0
# - Feedforward excitation of Golgi cells by mossy fibers (Kanichay & Silver 2008, J Neurosci 28:8955):
#   each Golgi cell's mossy weights are the granule cells' mean address, so its conductance follows the mean
#   granule drive and inhibition tracks the input from the first milliseconds, before the granule cells fire
#   (the spiking counterpart of rate mode's feedforward term). Quantum in nS per spike and unit weight.
MOSSY_GOLGI_NS = 0.03
# - Feedback over feedforward: a granule -> Golgi quantum of 10 nS (Fore et al.'s 2 nS x 5) with half the feedforward
#   quantum above (0.03 nS) drives the Golgi cells more by the granule cells than by the mossy fibers. At the other
#   defaults, twice the feedforward quantum lies within the map's sampling error of this choice, and Fore et al.'s
#   2 nS does on digits and falls below it on MNIST (docs/spiking-topk.md, rows lif-strong-feedforward and
#   lif-fore-feedback).
GRANULE_GOLGI_NS = 10.0
# - Depressing granule -> Golgi synapses (below): spiking mode's default rho, so that the Golgi cells count active
#   granule cells more than they weigh their rates (row lif-linear-synapses without them).
SPIKING_DEPRESSION = 0.05
# - Presentation and read window: 400 ms per input, the last READ_FRACTION of it read (150 ms). The loop, with its
#   200 ms GABA decay, needs the time to settle (rows lif-200ms and lif-100ms); the 150 ms window is this engine's
#   choice (rates read to 1 / 150 ms): reading only the last 50 ms does about as well (row lif-short-read).
SPIKING_PRESENTATION_MS = 400.0
READ_FRACTION = 0.375
# - Integration step: 0.2 ms. Exponential Euler integrates the conductance-based LIF membranes exactly for
#   conductances held over a step, so the step is set by spike timing (granule refractory period 2 ms; the fastest
#   mossy train, 1 kHz, fires at most every 5 steps). On the map's samples the Jaccard at 0.2 ms is within the
#   sampling error of 0.1 ms, at about a third of the wall time (benchmarks/bench_bio.py --spiking-dt 0.1 0.2).
SPIKING_DT_MS = 0.2


def mechanism_namespace(mossy_nS: float, mossy_tau_ms: float, gaba_tau_ms: float, mossy_golgi_nS: float,
                        tonic_gaba_nS: float, golgi_golgi_nS: float, golgi_threshold_sd_mV: float,
                        golgi_noise_mV: float = 0.0, golgi_gap_nS: float = 0.0) -> dict:
    """The run namespace entries of the spiking mechanisms (Brian2 quantities).

    ``mossy_nS`` is the quantum of a mossy spike with Fore et al.'s 12 ms decay; with another
    ``mossy_tau_ms`` the quantum is scaled so that each spike carries the same charge (q x tau).
    """
    return dict(
        q_mossy=mossy_nS * b2.nS * float(CONSTANTS["tau_e"] / b2.ms) / mossy_tau_ms,
        tau_mossy=mossy_tau_ms * b2.ms,
        tau_gaba=gaba_tau_ms * b2.ms,
        q_mossy_golgi=mossy_golgi_nS * b2.nS,
        g_tonic=tonic_gaba_nS * b2.nS,
        q_golgi_golgi=golgi_golgi_nS * b2.nS,
        golgi_threshold_sd=golgi_threshold_sd_mV * b2.mV,
        sigma_golgi=golgi_noise_mV * b2.mV,
        g_gap=golgi_gap_nS * b2.nS,
    )


# - Depressing granule -> Golgi synapses (``golgi_depression`` rho > 0; spiking mode's default SPIKING_DEPRESSION):
#   each granule cell passes at most about its limiting rate's worth of drive, so the Golgi cells count the active
#   granule cells more than they weigh their rates (rate mode's bio.golgi.depressed; Tsodyks & Markram 1997, PNAS
#   94:719). The release fraction U of a depressing synapse; 0.5 is of the order fitted at depressing neocortical
#   synapses (Tsodyks & Markram 1997; Markram et al. 1998, PNAS 95:5323). An engine hypothesis for granule -> Golgi
#   synapses, whose short-term plasticity is not fixed by the literature used here.
RELEASE_FRACTION = 0.5


def depression_namespace(rho: float, refractory: b2.Quantity) -> dict:
    """The run namespace of depressing granule -> Golgi synapses (``equations.GRANULE_TO_GOLGI_DEPRESSING``) whose
    mean-field steady state is rate mode's s(e) = e (1 + rho) / (e + rho) (:func:`bio.golgi.depressed`).

    With release fraction U and recovery tau_rec, a train at rate r keeps x_rel = 1 / (1 + U tau_rec r) and
    passes q r x_rel: linear below the limiting rate 1 / (U tau_rec), saturating above it. In units of Eq. 13's
    activity e = r t_ref (the spiking read-out), the limiting activity is rho when tau_rec = t_ref / (U rho); the
    quantum scaled by (1 + rho) / rho then passes q s(e) / t_ref (the linear synapse passes q e / t_ref).

    That is the mean for Poisson trains at steady state. Regular trains pass somewhat more (about a tenth more near
    the limiting rate), and a presentation starts with the synapses recovered (x_rel = 1) while tau_rec (80 ms at
    rho 0.05) is of the order of a presentation, so early in it they pass more than s(e).
    """
    return dict(U_rel=RELEASE_FRACTION, tau_rec=refractory / (RELEASE_FRACTION * rho),
                q_depressed=(1.0 + rho) / rho)


class SpikingLoop:
    """Batched spiking granular layer built from the circuit graph.

    Parameters
    ----------
    graph : from :func:`bio.wiring.circuit_graph`.
    n_copies : presentations simulated at once.
    dt_ms : integration step (exponential Euler, stable for large conductances; SPIKING_DT_MS by default).
    target : Brian2 runtime code generation, "numpy" or "cython".
    mossy_firing : "poisson" (PoissonGroup) or "regular" (phase oscillators, ``equations.MOSSY_REGULAR``).
    golgi_model : "lif" (conductance-based LIF Golgi cells, GABA quanta per spike) or "population"
        (Eq. 13's inhibitory rate unit driven by the filtered granule spike trains,
        ``equations.GRANULE_GABA_POPULATION``; coupled as in rate mode by :func:`bio.golgi.golgi_coupling`).
    cell_params : the granule, Golgi and synapse constants (:mod:`bio.params`; a name or a ``CellParams``). They
        replace ``CONSTANTS``' cell values; the run namespace (the circuit's mechanisms) overrides both.
    golgi_noise : LIF Golgi cells with independent membrane noise (``equations.GOLGI_LIF_NOISE``, Euler-Maruyama;
        its sd is the namespace's ``sigma_golgi``), desynchronising their volleys.
    golgi_gap : LIF Golgi cells coupled pairwise by gap junctions of the namespace's ``g_gap`` (every pair of a
        circuit copy; ``equations.GOLGI_GAP``).

    The graph's ``golgi`` node attribute ``depression`` (rho, set by the circuit's ``golgi_depression``; default 0)
    makes the granule -> Golgi synapses depressing: Tsodyks-Markram synapses for LIF Golgi cells
    (:func:`depression_namespace`), their mean-field limit s(e) on the filtered granule trains for the population
    Golgi (:func:`bio.golgi.golgi_coupling`).
    """

    def __init__(self, graph: nx.DiGraph, n_copies: int, dt_ms: float, target: str = "numpy",
                 mossy_firing: str = "poisson", golgi_model: str = "lif",
                 cell_params: str | CellParams = DEFAULT_CELL_PARAMS, golgi_noise: bool = False,
                 golgi_gap: bool = False) -> None:
        self.cells = get_cell_params(cell_params)
        self.target = target
        self.mossy_firing = mossy_firing
        self.golgi_model = golgi_model
        lif = golgi_model == "lif"
        self.n_inputs = graph.nodes["mossy"]["size"]
        self.n_neurons = graph.nodes["granule"]["size"]
        self.n_golgi = graph.nodes["golgi"]["size"]
        self.n_copies = n_copies
        self.dt_ms = dt_ms
        self.depression = float(graph.nodes["golgi"].get("depression", 0.0))
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
            refractory=self.cells.granule.refractory,
            method="exponential_euler",
            dt=dt,
        )
        self.dendrite_syn = self._synapses(
            self.dendrites, self.mossy, self.granule, equations.MOSSY_TO_GRANULE_SPIKE, dt, None
        )
        if lif:
            golgi_eqs = equations.GOLGI_LIF_NOISE if golgi_noise else equations.GOLGI_LIF
            self.golgi = b2.NeuronGroup(
                n_copies * self.n_golgi,
                equations.golgi_with_gap(golgi_eqs) if golgi_gap else golgi_eqs,
                threshold="v > V_th_golgi + dth",
                reset="v = V_reset_golgi",
                refractory=self.cells.golgi.refractory,
                method="euler" if golgi_noise else "exponential_euler",
                dt=dt,
            )
            self.feedback = self._synapses(graph.edges["granule", "golgi"]["mask"], self.granule, self.golgi,
                                           equations.GRANULE_TO_GOLGI_DEPRESSING if self.depression
                                           else equations.GRANULE_TO_GOLGI_SPIKE, dt, "granule")
            coupling = (
                self.feedback,
                self._synapses(graph.edges["golgi", "granule"]["mask"], self.golgi, self.granule,
                               equations.GOLGI_TO_GRANULE_SPIKE, dt, "golgi"),
            )
            # optional projections, present when the circuit graph has them (bio.wiring.circuit_graph)
            self.feedforward = None
            if graph.has_edge("mossy", "golgi"):
                self._ff_mask = graph.edges["mossy", "golgi"]["mask"]
                self.feedforward = self._synapses(self._ff_mask, self.mossy, self.golgi,
                                                  equations.MOSSY_TO_GOLGI_SPIKE, dt, None)
                coupling += (self.feedforward,)
            if graph.has_edge("golgi", "golgi"):
                coupling += (self._synapses(graph.edges["golgi", "golgi"]["mask"], self.golgi, self.golgi,
                                            equations.GOLGI_TO_GOLGI_SPIKE, dt, "golgi"),)
            if golgi_gap:  # every pair of Golgi cells of a copy, both directions (the current is symmetric)
                pairs = ~np.eye(self.n_golgi, dtype=bool)
                gap = b2.Synapses(self.golgi, self.golgi, model=equations.GOLGI_GAP, dt=dt)
                i, j = block_synapses(pairs, self.n_copies, self.n_golgi, self.n_golgi)
                gap.connect(i=i, j=j)
                coupling += (gap,)
            self.threshold_z = np.tile(graph.nodes["golgi"].get("threshold_z", np.zeros(self.n_golgi)), n_copies)
        else:
            self.golgi = b2.NeuronGroup(n_copies * self.n_golgi, equations.GOLGI_RATE, method="euler", dt=dt)
            coupling = (golgi_coupling(graph, self.granule, self.golgi, n_copies, dt, depression=self.depression),)
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
        gaba: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Simulate one presentation per row of ``rates_hz`` (batch <= n_copies, n_inputs).

        ``namespace`` supplies q_mossy, q_granule, q_golgi (siemens), gain and V_th_golgi; the
        population Golgi also reads b_i and tau_i (Eq. 13's threshold and time constant).

        Returns the granule activity (rate in the last ``read_ms`` x refractory period),
        (batch, n_neurons) float32; with ``gaba`` also each cell's GABA-A conductance (phasic and tonic) averaged
        over the presentation, in nS, (batch, n_neurons): the chloride load of ``bio.chloride.integrate``.
        """
        batch = len(rates_hz)
        padded = np.zeros((self.n_copies, self.n_inputs))
        padded[:batch] = rates_hz
        self.mossy.rates_ = padded.ravel()
        if self.mossy_firing == "regular":  # a random phase per fiber: the fibers do not fire in lockstep
            self.mossy.phase_ = np.random.default_rng(seed).random(self.n_copies * self.n_inputs)
        self.dendrite_syn.w_ = np.tile(address[np.nonzero(self.dendrites)], self.n_copies)
        if self.golgi_model == "lif" and self.feedforward is not None:
            # each Golgi cell's mossy weights: the granule cells' mean address, so its conductance follows
            # the mean granule drive (as rate mode's feedforward term), whatever the number of inputs
            mean_address = address.mean(axis=1)[:, None] * np.ones(self.n_golgi)
            self.feedforward.w_ = np.tile(mean_address[np.nonzero(self._ff_mask)], self.n_copies)
        self.granule.E_gaba_ = np.tile(e_gaba_mV * 1e-3, self.n_copies)
        self.granule.v_ = float(self.cells.granule.E_L)
        self.granule.g_e_ = 0.0
        self.granule.count_ = 0.0
        self.granule.gaba_time_ = 0.0
        self.granule.lastspike_ = -1e9  # no refractoriness carried over from the last presentation
        # half a step early: spikes fall on whole steps, so the window holds the same steps whatever the
        # network's clock reads (t grows over runs; t >= t_read at the boundary step would depend on rounding)
        ns = {**CONSTANTS, **self.cells.namespace(), **namespace,  # the run's mechanisms override the cell set
              "t_read": self.network.t + (duration_ms - read_ms - self.dt_ms / 2) * b2.ms}
        if self.golgi_model == "lif":
            self.granule.g_gaba_ = 0.0
            self.golgi.v_ = float(self.cells.golgi.E_L)
            self.golgi.lastspike_ = -1e9
            self.golgi.g_e_ = 0.0
            self.golgi.g_i_ = 0.0
            self.golgi.dth_ = self.threshold_z * float(ns.pop("golgi_threshold_sd"))
            if self.depression:  # every synapse's resources recovered
                self.feedback.x_rel_ = 1.0
                ns.update(depression_namespace(self.depression, self.cells.granule.refractory))
        else:
            self.granule.act_ = 0.0
            self.golgi.act_ = 0.0
            for name in GOLGI_PARAMS:  # shared variables of the Golgi group, not namespace names
                setattr(self.golgi, name, ns.pop(name))
            ns.update(t_ref=self.cells.granule.refractory, tau_trace=GRANULE_TRACE)
        with codegen(self.target), frozen_gc():
            b2.seed(seed)
            self.network.run(duration_ms * b2.ms, namespace=ns)
        counts = self.granule.count_[:].reshape(self.n_copies, self.n_neurons)[:batch]
        activity = (counts / (read_ms * 1e-3) * float(self.cells.granule.refractory)).astype(np.float32)
        if not gaba:
            return activity
        mean_nS = self.granule.gaba_time_[:].reshape(self.n_copies, self.n_neurons)[:batch] / (duration_ms * 1e-3)
        return activity, mean_nS * 1e9
