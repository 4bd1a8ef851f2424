"""Rate mode: the Eq. 13 granule/Golgi ODEs, many presentations side by side in one Brian2 network.

Implements Eq. 13 of Bricken et al. 2023 (App. C.1, after Gozel & Gerstner 2021) with the
inhibitory sign made explicit (``bio/equations.py``):

    de/dt = (-e + tanh([(e0 - lambda (W_IE i + f) - b) / L]_+)) / tau_a
    di/dt = (-i + gain [W_EI s(e) - b_i]_+) / tau_i

s(e) = e in Eq. 13; with ``golgi_depression`` rho > 0 the granule -> Golgi transfer saturates,
s(e) = e (1 + rho) / (e + rho) (:func:`depressed`), an option of this engine.
e0 = ``drive`` = address^T x and the feedforward Golgi inhibition f (``ffi``, 0 unless the
circuit's ``feedforward_inhibition`` is set) are computed once per presentation (numpy) and
passed in as per-neuron constants. ``n_copies`` independent circuits (same W_EI / W_IE masks) share one
NeuronGroup each for granule and Golgi cells (coupled by matrix products on the runtime targets,
by summed-variable Synapses in C++ standalone); the network is built once and reused: each
``run`` starts from e = i = 0, sets drive, lambda and the parameters, runs one presentation
and reads e. With the "cpp_standalone" target the network is compiled once per presentation
time into ``.brian_cache/standalone/`` and each ``run`` executes the binary with the per-run
values on its command line (Brian2 ``run_args``).

Integration (exponential Euler, :data:`RATE_METHOD`): each unit's leak is integrated exactly for the
step's frozen input, and the loop is coupled once per step. The loop is stiff where the granule
response is steep: near the steady state a change dI of inhibition moves each marginal granule cell by
sech^2(u) / L dI and the Golgi drive by W_EI s'(e) of that, so the loop gain is
G = gain * sum_j W_EI[j, g] sech^2(u_j) s'(e_j) / L (:func:`reached_loop_gain`). The linearised 2-D loop
(tau_a, tau_i) is stable under an explicit step only for dt < (tau_a + tau_i) / (1 + G). Before the
loop settles several cells can sit on the steep part at once, so G at the start of a presentation is
larger than with the one marginal cell of the steady state: measured, a step of 0.27 x the one-cell
bound ended in a limit cycle and 0.14 x converged. :func:`stable_dt_ms` takes :data:`DT_SAFETY` of the
one-cell bound, and :meth:`RateLoop.run` refuses a step above the bound at the loop gain of the state
reached (:data:`DT_LIMIT`). The implicit coupling (:class:`ImplicitCoupling`, ``integration="implicit"``) removes
the bound: each step's Golgi activity is solved for, and the step is set by accuracy alone.
"""

from __future__ import annotations

import hashlib

import brian2 as b2
import networkx as nx
import numpy as np

from bio import equations
from bio.brian import CACHE_DIR, STANDALONE_KEEP, block_synapses, codegen, frozen_gc, prune_projects, standalone_device
from bio.wiring import normalised_weights

RATE_METHOD = "exponential_euler"  # exact leak per unit for the step's frozen input (Brian2 method=)
DT_SAFETY = 0.1  # stable_dt_ms: this fraction of the linear stability bound (tau_a + tau_i) / (1 + G)
DT_LIMIT = 1.0  # RateLoop.run refuses a step above the linear stability bound at the state reached
INTEGRATIONS = ("explicit", "implicit")  # the Golgi loop's coupling per step: golgi_coupling or ImplicitCoupling
GRANULE_PARAMS = ("b", "L", "tau_a")  # shared variables of the granule group (Eq. 13)
GOLGI_PARAMS = ("gain", "b_i", "tau_i")  # shared variables of the Golgi group


def golgi_input_weights(graph: nx.DiGraph, coupling: float = 1.0) -> np.ndarray:
    """Effective W_EI (n_neurons, n_golgi): each Golgi cell's input, the mean activity of the granule
    cells that reach it (``normalised_weights``), shared with the other Golgi cells by electrical coupling.

    Golgi cells are coupled by gap junctions (connexin-36; Dugue et al. 2009, Neuron 61:126; Vervaeke et
    al. 2010, Neuron 67:435). In the rate model the coupled cells average their inputs:
    W = W_EI ((1 - c) Id + c / n_golgi), c = ``coupling`` in [0, 1]. With c = 1 every Golgi cell sees
    the same input, so each granule cell receives the same inhibition (its W_IE row sums to 1): with p
    = 0.9 and no coupling the Golgi cells miss different winners and the inhibition differs across
    granule cells by more than the gap between the k-th and (k+1)-th drives (Jaccard 0.57-0.71 against
    0.91-0.94 coupled, measured on digits / Fashion-MNIST).
    """
    if not 0.0 <= coupling <= 1.0:
        raise ValueError(f"The Golgi 'coupling' must be in [0, 1]. Got {coupling!r}.")
    w_ei = normalised_weights(graph.edges["granule", "golgi"]["mask"])
    n_golgi = w_ei.shape[1]
    return w_ei @ ((1.0 - coupling) * np.eye(n_golgi) + coupling / n_golgi)


def depressed(e: np.ndarray, rho: float) -> np.ndarray:
    """What a granule cell of activity ``e`` (its rate over the maximal rate) passes to the Golgi cells through a
    saturating synapse: s(e) = e (1 + rho) / (e + rho), and s(e) = e (Eq. 13) with ``rho`` = 0 (the option off).

    The form is the mean-field steady state of a depressing synapse (Tsodyks & Markram 1997, PNAS 94:719): at
    rate r the transmitted drive r U x = r U / (1 + U tau_rec r) grows linearly below the limiting rate
    1 / (U tau_rec) and saturates above it (Abbott et al. 1997, Science 275:220), so above rho the Golgi input
    counts the active cells more than it weighs their rates. ``rho`` is the limiting rate over the maximal
    rate; s(0) = 0, s(rho) = (1 + rho) / 2, s(1) = 1. A hypothesis of this engine, not a measured property of
    granule -> Golgi synapses: parallel-fiber synapses onto Purkinje cells facilitate (Atluri & Regehr 1996,
    J Neurosci 16:5661), and the short-term plasticity of granule -> Golgi synapses is not fixed here.
    """
    if rho == 0:
        return e
    return e * (1.0 + rho) / (e + rho)


def depressed_slope(e: np.ndarray | float, rho: float) -> np.ndarray | float:
    """ds/de of :func:`depressed`: rho (1 + rho) / (e + rho)^2 (1 with ``rho`` = 0); at rest (e = 0),
    (1 + rho) / rho, the slope the integration step is set by."""
    if rho == 0:
        return np.ones_like(e)
    return rho * (1.0 + rho) / (e + rho) ** 2


def stable_dt_ms(tau_a_ms: float, tau_i_ms: float, gain_loop: float, safety: float = DT_SAFETY) -> float:
    """An explicit step for Eq. 13 at loop gain G: ``safety * (tau_a + tau_i) / (1 + G)``, and at most a
    fifth of the faster time constant (ms)."""
    return min(safety * (tau_a_ms + tau_i_ms) / (1.0 + gain_loop), min(tau_a_ms, tau_i_ms) / 5.0)


def reached_loop_gain(drive: np.ndarray, feedforward: np.ndarray, lam: np.ndarray, w_ei: np.ndarray, gain: float,
                      smoothing: float, b: float, b_i: float, inh: np.ndarray | None = None,
                      depression: float = 0.0) -> np.ndarray:
    """Eq. 13's loop gain per presentation (batch,), the larger of: at the state with granule inhibition
    ``inh`` (if given) and at the steady state, with uniform inhibition I solving I = gain [W s(e(I)) - b_i]_+
    (bisection; exact for fully coupled Golgi cells). G = gain * sum_j W_EI[j, g] |lambda_j| sech^2(u_j) s'(e_j) / L
    over Golgi cells above threshold, s' the slope of the saturating granule -> Golgi synapse
    (:func:`depressed_slope`; 1 without ``depression``). The steady state matters because an unstable step ends in
    a limit cycle whose last state can sit anywhere on the cycle.

    drive (batch, n_neurons), feedforward (batch, 1) or (batch,), lam (n_neurons,).
    """
    feedforward = np.asarray(feedforward, dtype=float).reshape(len(drive), -1)
    w_mean = w_ei.mean(axis=1)

    def response(i_level: np.ndarray) -> np.ndarray:
        return np.maximum((drive - lam * (i_level + feedforward) - b) / smoothing, 0.0)

    lo, hi = np.zeros((len(drive), 1)), np.full((len(drive), 1), gain * max(1.0 - b_i, 0.0) + 1e-12)
    for _ in range(50):  # I - gain [W e(I) - b_i]_+ is increasing in I
        mid = (lo + hi) / 2
        golgi = gain * np.maximum(depressed(np.tanh(response(mid)), depression) @ w_mean - b_i, 0.0)[:, None]
        lo, hi = np.where(golgi > mid, mid, lo), np.where(golgi > mid, hi, mid)
    g = np.zeros(len(drive))
    for u in ((lo + hi) / 2, inh) if inh is not None else ((lo + hi) / 2,):
        u = response(u)
        e = np.tanh(u)
        steep = np.abs(lam) * np.where(u > 0, 1.0 - e**2, 0.0) * depressed_slope(e, depression)
        on = depressed(e, depression) @ w_ei > b_i  # (batch, n_golgi): a Golgi cell below threshold closes no loop
        g = np.maximum(g, (gain * (steep @ w_ei) * on).max(axis=1) / smoothing)
    return g


def golgi_coupling(graph: nx.DiGraph, granule: b2.NeuronGroup, golgi: b2.NeuronGroup, n_copies: int,
                   dt: b2.Quantity, coupling: float = 1.0, depression: float = 0.0) -> b2.NetworkOperation:
    """Eq. 13's projections for ``n_copies`` circuits: Golgi ``exc`` = W_EI^T s(e) and granule ``inh`` = W_IE^T i,
    s the depressing granule -> Golgi synapse (:func:`depressed`; s(e) = e without ``depression``).

    Both are dense matrix products per step, written in place, in a network operation scheduled where
    Brian2 runs summed variables (before the state updaters, so from the previous step's ``act``).
    Synapses with summed variables would read ~24 bytes per synapse per step (memory-bound: half
    of the rate-mode run time at 1,000 cells); the products read each activity once.
    """
    w_ei = golgi_input_weights(graph, coupling)  # (n_neurons, n_golgi)
    w_ie = normalised_weights(graph.edges["golgi", "granule"]["mask"])  # (n_golgi, n_neurons)
    n_neurons, n_golgi = w_ei.shape

    passed, denominator = np.empty((n_copies, n_neurons)), np.empty((n_copies, n_neurons))

    def couple() -> None:
        e = granule.variables["act"].get_value().reshape(n_copies, n_neurons)
        i = golgi.variables["act"].get_value().reshape(n_copies, n_golgi)
        if depression:  # depressed(e) in place: e (1 + rho) / (e + rho), once per step
            np.multiply(e, 1.0 + depression, out=passed)
            np.divide(passed, np.add(e, depression, out=denominator), out=passed)
        np.matmul(passed if depression else e, w_ei,
                  out=golgi.variables["exc"].get_value().reshape(n_copies, n_golgi))
        np.matmul(i, w_ie, out=granule.variables["inh"].get_value().reshape(n_copies, n_neurons))

    return b2.NetworkOperation(couple, dt=dt, when="groups", order=-1)


class ImplicitCoupling:
    """Eq. 13's loop coupled implicitly: each step's Golgi activity solves the step it produces.

    Brian2 integrates each unit with exponential Euler for the step's frozen input (:data:`RATE_METHOD`):
    e' = e + a (tanh([u]_+) - e), i' = i + c (gain [W^T s(e') - b_i]_+ - i), a = 1 - exp(-dt / tau_a), c = 1 -
    exp(-dt / tau_i), u = (e0 - lambda (I + f) - b) / L. The explicit coupling (:func:`golgi_coupling`) feeds each
    unit the other's previous value, which is stable only for dt < (tau_a + tau_i) / (1 + G) (the loop gain G).
    Here the inhibition I that reaches the granule cells in a step is the Golgi activity i' at its end, found
    per presentation as the root of h(I) = I - (1 - c) i - c gain [S(I) - b_i]_+, S(I) = w . s(e'(I)) (Newton steps
    kept inside a bracket; h' >= 1). The network operation then writes granule ``inh`` = I and Golgi ``exc`` = S(I),
    so Brian2's two updates land on that root. The fixed point of every step is Eq. 13's steady state; the step
    is limited by accuracy, not stability (backward Euler in the loop, exact leaks).

    Needs fully coupled Golgi cells (``coupling`` 1: every Golgi cell the same input w, every granule cell the
    same inhibition; :func:`golgi_input_weights`) and GABA that inhibits (lambda >= 0), for which h is increasing
    and the root unique. A cell below threshold before any inhibition (drive - lambda f - b <= 0) stays at e = 0
    all run and is left out of S; the others enter the solve. A step that does not converge raises RuntimeError.
    """

    TOLERANCE = 1e-9  # |h(I)| relative to I at which I is taken (or the bracket is down to rounding)
    MAX_ITERATIONS = 100  # each step that Newton cannot take halves the bracket

    def __init__(self, graph: nx.DiGraph, granule: b2.NeuronGroup, golgi: b2.NeuronGroup, n_copies: int,
                 dt: b2.Quantity, coupling: float, depression: float) -> None:
        if coupling != 1.0:
            raise ValueError(f"Implicit integration of Eq. 13 needs fully coupled Golgi cells (golgi_coupling=1, "
                             f"every granule cell the same inhibition). Got golgi_coupling={coupling:g}; use the "
                             "explicit integration.")
        self.w = golgi_input_weights(graph, 1.0)[:, 0]  # (n_neurons,): every Golgi cell's column
        self.granule, self.golgi, self.n_copies = granule, golgi, n_copies
        self.n_neurons, self.n_golgi = len(self.w), graph.nodes["golgi"]["size"]
        self.depression = depression
        self.dt_s = float(dt)
        self.operation = b2.NetworkOperation(self._couple, dt=dt, when="groups", order=-1)
        self.iterations = 0  # the most Newton steps a step took in the last run (a diagnostic)

    def prepare(self, drive: np.ndarray, feedforward: np.ndarray, lam: np.ndarray, params: dict) -> None:
        """The run's constants: drive and feedforward (n_copies, n_neurons), lambda (n_neurons,), Eq. 13's params.

        A cell whose drive is below threshold before any inhibition (u <= 0 at I = 0) stays at e = 0 for the whole
        run (it starts there, I >= 0 and lambda >= 0), so only the others enter the solve.
        """
        if (lam < 0).any():
            raise ValueError("Implicit integration of Eq. 13 needs GABA that inhibits (lambda >= 0 in every granule "
                             "cell; a mature circuit): with excitatory GABA the loop's step has no unique root. Use "
                             "the explicit integration for young circuits.")
        base = drive - lam * feedforward - params["b"]  # L u + lambda I
        self.rows, cols = np.nonzero(base > 0)
        self.cells = self.rows * self.n_neurons + cols  # flat index into the granule group
        self.base, self.lam, self.w_cells = base[self.rows, cols], lam[cols], self.w[cols]
        self.L, self.gain, self.b_i = params["L"], params["gain"], params["b_i"]
        self.a = -np.expm1(-self.dt_s / float(params["tau_a"]))
        self.slope_scale = -self.w_cells * self.a * self.lam / self.L  # de'/dI over sech^2(u), weighted by w
        self.c = -np.expm1(-self.dt_s / float(params["tau_i"]))
        self.iterations = 0

    def _golgi_drive(self, level: np.ndarray, e_kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """S(I) = w . s(e'(I)) and dS/dI per copy at inhibition ``level`` (n_copies,), e' = e_kept + a tanh([u]_+)."""
        u = np.maximum(self.base - self.lam * level[self.rows], 0.0) / self.L
        f = np.tanh(u)
        e_new = e_kept + self.a * f
        total = np.bincount(self.rows, self.w_cells * depressed(e_new, self.depression), minlength=self.n_copies)
        slope = self.slope_scale * (u > 0) * (1.0 - f * f)  # d s(e') / dI, s' = 1 for linear synapses
        if self.depression:
            slope *= depressed_slope(e_new, self.depression)
        return total, np.bincount(self.rows, slope, minlength=self.n_copies)

    def _couple(self) -> None:
        e = self.granule.variables["act"].get_value()
        i = self.golgi.variables["act"].get_value().reshape(self.n_copies, self.n_golgi)[:, 0]
        e_kept = (1.0 - self.a) * e[self.cells]  # e' with no input
        low = (1.0 - self.c) * i  # h(low) <= 0: the Golgi drive is >= 0
        total, _ = self._golgi_drive(low, e_kept)
        high = low + self.c * self.gain * np.maximum(total - self.b_i, 0.0)  # h(high) >= 0: S decreases with I
        lo, hi = low, high
        level = np.clip(i, lo, hi)  # from the last step's inhibition: near the steady state, one Newton step
        for iterations in range(1, self.MAX_ITERATIONS + 1):  # noqa: B007 (the count is kept as a diagnostic)
            total, slope = self._golgi_drive(level, e_kept)
            on = total > self.b_i
            h = level - low - self.c * self.gain * np.where(on, total - self.b_i, 0.0)
            scale = np.maximum(level, 1e-12 * high + 1e-300)  # the root's own scale
            done = (np.abs(h) <= self.TOLERANCE * scale) | (hi - lo <= 4 * np.finfo(float).eps * scale)
            if done.all():
                break
            lo, hi = np.where(h < 0, level, lo), np.where(h > 0, level, hi)
            newton = level - h / (1.0 - self.c * self.gain * np.where(on, slope, 0.0))
            step = np.where((newton > lo) & (newton < hi), newton, (lo + hi) / 2)
            level = np.where(done, level, step)  # a solved presentation stays at its root
        else:
            raise RuntimeError(f"ImplicitCoupling: the step's inhibition did not converge in {self.MAX_ITERATIONS} "
                               f"iterations (largest residual {np.abs(h).max():.3g}); use the explicit integration.")
        self.iterations = max(self.iterations, iterations)
        self.golgi.variables["exc"].get_value().reshape(self.n_copies, self.n_golgi)[:] = total[:, None]
        self.granule.variables["inh"].get_value().reshape(self.n_copies, self.n_neurons)[:] = level[:, None]


class RateLoop:
    """Batched Eq. 13 network built from the circuit graph.

    Parameters
    ----------
    graph : from :func:`bio.wiring.circuit_graph` (uses the granule<->Golgi masks).
    n_copies : presentations simulated at once.
    dt_ms : integration step (exponential Euler; see :func:`stable_dt_ms`).
    target : Brian2 code generation, "numpy", "cython" or "cpp_standalone".
    coupling : Golgi electrical coupling in [0, 1] (:func:`golgi_input_weights`); default the graph's
        ``golgi`` node attribute ``coupling`` (set by the circuit), else 1.
    depression : rho of the saturating granule -> Golgi synapses (:func:`depressed`); default the graph's
        ``golgi`` node attribute ``depression`` (set by the circuit), else 0 (Eq. 13's linear input).
    integration : "explicit" (:func:`golgi_coupling`, each unit fed the other's value from the step before; the
        step must stay within the loop's stability bound) or "implicit" (:class:`ImplicitCoupling`, each step
        solved; runtime targets, coupling 1, lambda >= 0).
    """

    def __init__(self, graph: nx.DiGraph, n_copies: int, dt_ms: float, target: str = "numpy",
                 coupling: float | None = None, depression: float | None = None,
                 integration: str = "explicit") -> None:
        if integration not in INTEGRATIONS:
            raise ValueError(f"RateLoop's 'integration' must be one of {INTEGRATIONS}. Got {integration!r}.")
        if integration == "implicit" and target == "cpp_standalone":
            raise ValueError("Implicit integration of Eq. 13 solves each step in Python: use codegen_target 'numpy' "
                             "or 'cython', not 'cpp_standalone'.")
        self.integration = integration
        self.coupler: ImplicitCoupling | None = None
        self.graph = graph
        self.coupling = float(graph.nodes["golgi"].get("coupling", 1.0) if coupling is None else coupling)
        self.w_ei = golgi_input_weights(graph, self.coupling)
        self.depression = float(graph.nodes["golgi"].get("depression", 0.0) if depression is None else depression)
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
            self.n_copies * self.n_neurons, equations.GRANULE_RATE, method=RATE_METHOD, dt=dt
        )
        self.golgi = b2.NeuronGroup(self.n_copies * self.n_golgi, equations.GOLGI_RATE, method=RATE_METHOD, dt=dt)
        if self.target == "cpp_standalone":
            coupling = (
                self._synapses("granule", "golgi", self.granule, self.golgi,
                              equations.granule_to_golgi_rate(self.depression)),
                self._synapses("golgi", "granule", self.golgi, self.granule, equations.GOLGI_TO_GRANULE_RATE),
            )
        elif self.integration == "implicit":
            self.coupler = ImplicitCoupling(self.graph, self.granule, self.golgi, self.n_copies, dt, self.coupling,
                                            self.depression)
            coupling = (self.coupler.operation,)
        else:
            coupling = (golgi_coupling(self.graph, self.granule, self.golgi, self.n_copies, dt, self.coupling,
                                       self.depression),)
        self.network = b2.Network(self.granule, self.golgi, *coupling)

    def _synapses(self, pre, post, source, target, model) -> b2.Synapses:
        if (pre, post) == ("granule", "golgi"):
            w = self.w_ei
        else:
            w = normalised_weights(self.graph.edges[pre, post]["mask"])
        mask = w > 0
        syn = b2.Synapses(source, target, model, dt=self.dt_ms * b2.ms)
        i, j = block_synapses(mask, self.n_copies, *mask.shape)
        syn.connect(i=i, j=j)
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
        key.update(repr((self.coupling, self.depression, RATE_METHOD)).encode())
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
        inhibition: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, ...]:
        """Simulate one presentation of each row of ``drive`` (batch <= n_copies, n_neurons).

        ``params`` holds Eq. 13's b, L, tau_a (granule) and gain, b_i, tau_i (Golgi), time
        constants as Brian2 quantities. ``ffi`` (batch,): each presentation's feedforward Golgi
        inhibition (default none). Returns the final granule activity e, (batch, n_neurons)
        float32; with ``monitor`` (runtime targets only) also the time points (ms) and e(t), shape
        (batch, n_neurons, n_steps), for checking the ODEs; with ``inhibition`` also the inhibition
        W_IE i + f that each granule cell receives at the end (the term lambda multiplies in Eq. 13),
        (batch, n_neurons) float64, read from the simulated state.
        """
        if monitor and inhibition:
            raise ValueError("RateLoop.run returns either the monitor (monitor=True) or the inhibition "
                             "(inhibition=True); ask for one at a time.")
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
            e = self.granule.act[:].reshape(self.n_copies, self.n_neurons)[:batch]
            inh = self.granule.inh[:].reshape(self.n_copies, self.n_neurons)[:batch]
            self._check_step(padded[:batch], feedforward[:batch], lam, params, inh)
            return (e.astype(np.float32), inh + feedforward[:batch]) if inhibition else e.astype(np.float32)
        for group, name, value in self._values(padded, feedforward, lam, params):
            setattr(group, name, value)
        if self.coupler is not None:
            self.coupler.prepare(padded, feedforward, np.asarray(lam, dtype=float), params)
        for group, name in ((self.granule, "act"), (self.granule, "inh"), (self.golgi, "act"), (self.golgi, "exc")):
            setattr(group, name, 0.0)  # inh too: else the first step would see the last run's Golgi
        mon = b2.StateMonitor(self.granule, "act", record=range(batch * self.n_neurons)) if monitor else None
        if mon is not None:
            self.network.add(mon)
        with codegen(self.target), frozen_gc():
            self.network.run(duration_ms * b2.ms, namespace={})  # every name is a group variable
        e = self.granule.act_[:].reshape(self.n_copies, self.n_neurons)[:batch].astype(np.float32)
        inh = self.granule.inh_[:].reshape(self.n_copies, self.n_neurons)[:batch].copy()
        self._check_step(padded[:batch], feedforward[:batch], lam, params, inh)
        if inhibition:
            return e, inh + self.granule.ffi_[:].reshape(self.n_copies, self.n_neurons)[:batch]
        if mon is None:
            return e
        self.network.remove(mon)
        t_ms = np.asarray(mon.t / b2.ms) - mon.t[0] / b2.ms
        return e, t_ms, np.asarray(mon.act).reshape(batch, self.n_neurons, -1)

    def _check_step(self, drive: np.ndarray, feedforward: np.ndarray, lam: np.ndarray, params: dict,
                    inh: np.ndarray) -> None:
        """Refuse a step too long for the loop gain (ValueError naming dt_ms, golgi_gain and L).

        G (:func:`reached_loop_gain`) at the state reached and at the steady state; the step must be
        <= DT_LIMIT * (tau_a + tau_i) / (1 + G). Cells on the steep part of tanh make the loop stiff: a wide
        L over a narrow drive distribution puts hundreds there. The implicit coupling has no such bound.
        """
        if self.integration == "implicit":
            return
        gain, L = params["gain"], params["L"]
        g = float(reached_loop_gain(drive, feedforward, lam, self.w_ei, gain, L, params["b"], params["b_i"], inh,
                                    self.depression).max())
        tau_ms = float((params["tau_a"] + params["tau_i"]) / b2.ms)
        if self.dt_ms > DT_LIMIT * tau_ms / (1.0 + g):
            raise ValueError(
                f"The integration step dt_ms={self.dt_ms:g} is too long for Eq. 13's Golgi loop at golgi_gain="
                f"{gain:g}, smoothing (L)={L:g}: on these inputs the loop gain reaches {g:.3g}, "
                f"which needs dt_ms <= {DT_LIMIT * tau_ms / (1 + g):.3g} (stable) and "
                f"{stable_dt_ms(float(params['tau_a'] / b2.ms), float(params['tau_i'] / b2.ms), g):.3g} (accurate). "
                "Lower dt_ms, raise smoothing or lower golgi_gain (CerebellarCircuit.adapt_to sets all three "
                "from the data)."
            )

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
