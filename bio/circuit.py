"""``CerebellarCircuit``: the Brian2 cerebellar circuit as a continual learner.

Meets the ``Learner`` protocol structurally (fit_task, predict, hidden, get/set_weights,
state_dict/load_state_dict). Brian2 simulates the granular layer (mossy -> granule <-> Golgi)
per presentation; the Purkinje read-out, climbing-fiber teaching, plasticity and the chloride
switch are computed in numpy between presentation batches from the simulated activity.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import brian2 as b2
import networkx as nx
import numpy as np

from bio import _checks, chloride, groups, params, plasticity
from bio.golgi import (
    DT_LIMIT,
    RateLoop,
    depressed,
    depressed_slope,
    golgi_input_weights,
    reached_loop_gain,
    stable_dt_ms,
)
from bio.plasticity import VALUE_INIT
from bio.purkinje import PurkinjeLayer
from bio.recording import Recording, record_runs
from bio.spiking import (
    CONSTANTS,
    GRANULE_PER_GOLGI,
    READ_FRACTION,
    SPIKING_DEPRESSION,
    SPIKING_DT_MS,
    SPIKING_P_GOLGI,
    SPIKING_PRESENTATION_MS,
    SpikingLoop,
    mechanism_namespace,
)
from bio.wiring import (
    ANATOMIES,
    GOLGI_PER_GRANULE,
    GRANULE_PER_GOLGI_CELL,
    P_GOLGI,
    check_graph,
    circuit_graph,
    normalised_weights,
)
from bio.workers import LoopPool

MODES = ("rate", "spiking")
E_REST_MV = float(CONSTANTS["E_L"] / b2.mV)  # granule resting potential, Fore et al. 2020
WIRED = (("mossy", "granule"), ("granule", "golgi"), ("golgi", "granule"))  # sampled masks in state_dict
# Spiking mode's default Golgi gain per golgi_model, the starting point that calibration (csdm calibrate, csdm run)
# moves to the data. LIF: 0.4, of the order calibration finds for k = 10 of 1,000 cells with the default Top-K
# mechanisms (0.34 on MNIST, 0.49 on digits; results/fidelity-spiking). Population: 800, of the order calibration finds
# with the default depressing granule -> Golgi synapses (724 on MNIST, 1,165 on digits; results/fidelity-spiking);
# with linear synapses (golgi_depression=0) it found 4,492-5,334 on digits, hence POPULATION_LINEAR_GAIN. The gain
# multiplies a mean granule activity of ~0.003, hence its size.
DEFAULT_SPIKING_GAIN = {"lif": 0.4, "population": 800.0}
POPULATION_LINEAR_GAIN = 5000.0
# adapt_to (rate mode): Eq. 13's settings as fractions of the sample's drive statistics (no per-dataset
# constants). L = SMOOTHING_GAPS x the median gap between the k-th and (k+1)-th drives: the gap Top-K must
# resolve. Against L = 0.1 x the spread of the top k + 1 drives it keeps random addresses where they were
# and sharpens the SDMLP's learned addresses, whose top drives spread wider (Split digits after each task,
# scratch runs: Jaccard 0.85-0.92 at 0.1 x the spread, 0.90-0.93 at 2 gaps, 0.91-0.93 at 1.5). A sharper
# response also flattens the graded activity the Purkinje read-out weighs (read-out agreement with the
# SDMLP 0.95-1.00 at 2 gaps, 0.91 at 1.5) and raises the loop gain, so the step shortens. b sits
# THRESHOLD_MARGIN x the spread below the lowest (k+1)-th centred drive of the sample; the Golgi gain keeps
# the number of active cells within COUNT_TOLERANCE cells of the steady-state count over the sample's
# inhibition range.
SMOOTHING_GAPS = 2.0
# With depressing granule -> Golgi synapses (golgi_depression > 0) the Golgi cells count active cells whatever
# their rates, so L can grade the response over the active cells' drives as the SDMLP's Top-K values do:
# L = GRADED_SPREAD x the mean spread between the top and the (k+1)-th drive.
# Measured on digits with a 5-epoch SDMLP transfer (k 10, 200 inputs; Jaccard / read-out agreement):
# 0.5: 0.950 / 0.845, 1.0: 0.943 / 0.905, 2.0: 0.921 / 0.895; MNIST at 1.0: 0.947 / 0.920.
GRADED_SPREAD = 1.0
# The smallest rho of the depressing synapses: the loop gain grows as (1 + rho) / rho and the step shrinks with it
# (adapt_to's step: 0.046 ms at rho 0.05, 0.001 ms at rho 0.001).
MIN_DEPRESSION = 0.01
# rate_integration="implicit": each step of the Golgi loop solved (bio.golgi.ImplicitCoupling), so the step is set by
# accuracy alone: IMPLICIT_DT x tau_i (the Golgi time constant, the faster of Eq. 13's two). Against scipy LSODA on
# heavy-tailed inputs (tests/bio/test_rate.py) the steady state is exact and the state after 50 ms within 1e-2.
IMPLICIT_DT = 0.5
ADAPTED = ("granule_threshold", "smoothing", "feedforward_inhibition", "dt_ms")  # also in state_dict
# Parameters a state does not fix: the Golgi settings and ADAPTED, which it restores, and the speed settings.
# Every other parameter is saved with the state, and a circuit built with other values refuses it
# (load_state_dict): the saved weights would run with other dynamics (e.g. after a default changed).
NOT_IN_PARAMETERS = ("golgi_gain", "golgi_threshold", "golgi_clamp", *ADAPTED, "codegen_target", "n_workers")
THRESHOLD_MARGIN = 0.25
COUNT_TOLERANCE = 1.0


class ParameterMismatch(ValueError):
    """A saved state met a circuit built with other parameters (:meth:`CerebellarCircuit.load_state_dict`);
    ``listed``: each differing parameter, saved value first."""

    def __init__(self, listed: str) -> None:
        self.listed = listed
        super().__init__(f"The state was saved from a circuit with other parameters: {listed}. Build the circuit "
                         "with the saved values, or pass strict=False to run the saved weights with these.")


class CerebellarCircuit:
    """Mossy fibers -> granule cells (Golgi feedback inhibition) -> Purkinje cells, climbing-fiber taught.

    The parameters after ``seed`` are grouped by population (:mod:`bio.groups`): ``granule``, ``golgi``,
    ``mossy``, ``chloride``, ``plasticity`` and ``simulation``, each a validated model whose fields carry their
    unit, bounds and the source of their default (``docs/cell-params.md`` has the table). Pass a group
    (``golgi=GolgiGroup(golgi_gain=3.0)`` or a mapping of its fields) or any field by name (``golgi_gain=3.0``);
    both go through the same schema, and ``circuit.groups`` keeps what was given. The fields:

    Parameters
    ----------
    n_inputs, n_neurons, n_outputs : mossy fibers, granule cells, Purkinje cells (classes).
    mode : "rate" (Eq. 13 ODEs) or "spiking" (conductance-based LIF, Fore et al. 2020).
    seed : seeds wiring, initial address weights, presentation order and Poisson spikes. Learning
        (:meth:`fit_task`) draws its Poisson seeds from the circuit's random stream; a read-out
        (:meth:`hidden`, :meth:`predict`) draws them from a stream made for it from the seed, the epoch
        count and the inputs (:meth:`_read_stream`), so evaluating never changes what the circuit learns,
        and the same inputs read out after the same epoch give the same activity whatever was read before.
    golgi_gain, golgi_threshold : Eq. 13's Golgi gain and threshold b_i (in units of mean granule
        activity). Together they set how many granule cells stay active: an outcome, never a parameter.
        Default gain: 30 in rate mode; in spiking mode 0.4 with LIF Golgi cells (it scales the
        Golgi->granule GABA quantum; the threshold raises their firing threshold by
        golgi_threshold_scale_mV per unit) and 800 with the population Golgi (5,000 with linear granule -> Golgi
        synapses; DEFAULT_SPIKING_GAIN).
        Default threshold 0.01, and 0 for the population Golgi (its b_i is in units of mean granule
        activity, ~0.003 at k = 10 of 1,000 in spiking mode).
    golgi_model : spiking mode's Golgi cells: "lif" (conductance-based LIF cells whose spikes open
        GABA quanta) or "population" (Eq. 13's inhibitory rate ODE, the mean-field limit of many
        asynchronous Golgi cells, driven by the granule spike trains filtered with 20 ms; it opens
        the GABA conductance golgi_granule_nS x W_IE i). Rate mode's Golgi is always Eq. 13's unit.
    granule_threshold, smoothing : Eq. 13's b and L (rate mode; spiking cells have their LIF threshold).
        b must sit below the drive e0 = address^T x of the cells meant to fire: the defaults suit
        digits with dense dendrites (mean drive ~0.55); MNIST's is ~0.32 (b 0.32, L 0.07 leave ~75
        of 1,000 cells active) and 4 sparse dendrites give ~0.14 (top cells ~0.3). A circuit with no
        active cell refuses to learn (``fit_task`` raises, naming the drive).
    feedforward_inhibition : w_ff >= 0, rate mode: the Golgi inhibition driven directly by the mossy
        fibers, f = w_ff * mean_j e0_j (Golgi mossy weights equal to the granule cells' mean address),
        subtracted with the GABA sign like the feedback (``bio/equations.py``). The mean drive grows
        with the input's mass ||x||_1 / ||x||_2, so without it a fixed granule threshold lets
        spread-out inputs excite many cells and leaves compact ones silent (MNIST: 87 % of test
        "1"s with no active cell at mean k = 10); w_ff = 1 removes that common drive and the
        number of active cells stops depending on the input. Default 0 (none); with it the granule
        threshold b sits on the centred drive (near 0).
    tau_granule_ms, tau_golgi_ms : Eq. 13's tau_a and tau_i.
    golgi_clamp : rate mode: None (default) keeps Eq. 13's Golgi feedback. A number opens the loop, the
        ablation "feedback removed, inhibition clamped to its mean level": the Golgi cells are silenced
        (gain 0) and every granule cell receives this constant inhibition in place of W_IE i, with the same
        GABA sign lambda; feedforward inhibition is unchanged. :meth:`clamp_golgi` sets it to the mean
        feedback inhibition (:meth:`feedback_inhibition`) the circuit shows on a sample of inputs.
    golgi_coupling : rate mode, electrical coupling of the Golgi cells in [0, 1]
        (:func:`bio.golgi.golgi_input_weights`): 1 (default) gives every Golgi cell the same input, so every
        granule cell receives the same inhibition, which Top-K needs (the gap between the k-th and
        (k+1)-th drives is ~0.1 % of the drive).
    golgi_depression : rho of saturating granule -> Golgi synapses (:func:`bio.golgi.depressed`, the
        steady-state form of a depressing synapse; this engine's hypothesis): each granule cell passes
        s(e) = e (1 + rho) / (e + rho) to the Golgi cells, so the Golgi cells count the active cells while the
        Purkinje cells read their graded rates; :meth:`adapt_to` then sets L from the spread of the top drives
        (graded) instead of the gap at the k-th (saturated). Default: 0 in rate mode (off, Eq. 13's linear input),
        ``bio.spiking.SPIKING_DEPRESSION`` (0.05) in spiking mode; otherwise at least MIN_DEPRESSION (0.01). Spiking
        mode: Tsodyks-Markram synapses onto LIF Golgi cells whose mean for
        Poisson trains at steady state is s(e) (:func:`bio.spiking.depression_namespace`); for the population
        Golgi, s of each granule cell's filtered spike trace (below s(e) on average for sparse trains).
    n_golgi, p_golgi, sparse_dendrites, anatomy : wiring (see :func:`bio.wiring.circuit_graph`). Default n_golgi: 4;
        spiking mode's LIF Golgi cells: one per 100 granule cells (Fore et al. 2020; ``bio.spiking.GRANULE_PER_GOLGI``).
        Default p_golgi: 0.9 in rate mode (App. C.1), 1 in spiking mode (``bio.spiking.SPIKING_P_GOLGI``: the same
        inhibition for every granule cell);
        anatomy "dendrites4" (4 mossy fibers per granule cell, Golgi cells with local territories): Fore et al.
        2020's ratio of 27 Golgi cells per 4,096 granule cells, at least 4. Default anatomy "global".
    graph : a circuit graph of your own (:func:`bio.wiring.check_graph` validates it; e.g. read with
        ``bio.wiring.load_wiring``); it replaces the sampled wiring, so n_golgi, sparse_dendrites, anatomy and
        golgi_golgi_p must be left unset. The circuit works on a copy.
    cell_params : spiking mode's granule, Golgi and synapse constants, a name in :data:`bio.params.CELL_PARAMS`
        or a :class:`bio.params.CellParams` (e.g. :func:`bio.params.from_toml`). Default "fore2020-golgi-2ms"
        (Fore et al. 2020 without tonic GABA, with the 2 ms Golgi refractory period of Geminiani et al. 2018);
        "fore2020-notonic" keeps Fore et al.'s 10 ms, "fore2020" adds the 1 nS tonic GABA. Rate mode has no cell
        constants and refuses any other set.
    presentation_ms, dt_ms : biological time per input and integration step (default: 50 ms and, in
        rate mode, a step chosen from the Golgi loop's stiffness: 0.4 ms shortened to a tenth of the
        stability bound at the loop gain the inputs reach, ``auto_dt``; spiking 400 / 0.2 ms). A given
        rate-mode step that the loop cannot take is refused. read_ms : spiking read window at the end of a
        presentation (default: its last ``bio.spiking.READ_FRACTION``, 150 of 400 ms; the loop settles before).
    max_rate_hz : mossy rate of a unit-norm input's largest possible component. Default 1,000 Hz (mossy
        fibers fire above 700 Hz in vivo, Rancz et al. 2007, Nature 450:1245): with the spike noise of
        200 Hz trains no inhibition, however ideal, reaches Top-K (docs/spiking-topk.md).
    mossy_firing : spiking mossy trains, "poisson" or "regular" (default; random phase per presentation): a
        regular train removes the Poisson count noise from the granule drive.
    lr_value, lr_address : learning rates of the two local rules (``bio/plasticity.py``); lr_value in (0, 2).
    value_rule : the climbing-fiber rule at parallel fiber -> Purkinje synapses (:func:`bio.plasticity.teach`):
        "error" (default; teach = target - output, LTP and LTD, weights >= 0), "target" (only the
        labelled class's climbing fiber potentiates its Purkinje cell's active synapses, weights in
        [0, 1]: nothing a later task learns lowers an earlier task's weights) or "ltd" (Marr-Albus-Ito: the
        labelled class's climbing fiber fires a complex spike in the Brian2 Purkinje layer, depressing that
        cell's active parallel-fiber synapses, while active synapses onto the other cells, PF alone, are
        potentiated by ``bio.plasticity.LTP_FRACTION`` of that; weights in [0, 1] from 0.5; the class read
        out is the least active Purkinje cell, whose deep nuclear cell is the least inhibited).
        The Purkinje cells are Brian2 rate units driven through parallel-fiber Synapses (``bio/purkinje.py``).
    purkinje_norm : the Purkinje read-out (:func:`bio.plasticity.purkinje_weights`): "none" (default; y = h X_v) or
        "l1" / "l2" (each Purkinje cell's output divided by the 1- / 2-norm of its parallel-fiber weights,
        homeostatic synaptic scaling). With the "target" rule it stops classes with many or widespread
        inputs from outvoting the others: Split MNIST 0.713 -> 0.815 with "l2" (README, Results). Needs
        value_rule="target": the error rule would compare the scaled output, which cannot exceed ||h||
        (below the target 1 on digits), with the target, so its uncapped weights would grow without end.
    active_threshold : activity above which a granule cell counts as active in the read-outs: the
        dead fraction, Golgi calibration and Top-K fidelity. Default: 0.05 of the maximum rate in
        rate mode; half a spike in the read window (1 / read_ms) in spiking mode, so one spike counts.
    switch_count : Eq. 12's s, activations until KCC2 expression is complete (m = clip(C / s, 0, 1)).
    switch_threshold : activity above which a presentation counts as an activation of the cell (Eq.
        12's C, which drives the chloride switch): 0.05 in both modes (spiking, 150 ms read window:
        4 spikes). The switch's pace (switch_count, tau_cl_ms) was set with it; counting single
        spikes instead matured the spiking circuit faster and cut its Split digits ACC from 0.60 to
        0.48 (population Golgi, one seed; README).
    tau_cl_ms, e_cl_young_mV, e_cl_mature_mV, e_hco3_mV, hco3_permeability, cl_out_mM, temperature_c, gaba_load_nS :
        chloride transport (``bio/chloride.py``, :class:`bio.chloride.ChlorideParams`, whose fields cite the
        sources): each granule cell's [Cl]_i moves by NKCC1 import, KCC2 export and the GABA-A chloride
        current; e_cl_young_mV / e_cl_mature_mV are the transport-only set points (young [Cl]_i 20-40 mM,
        mature 3-10 mM, checked), tau_cl_ms the chloride time constant at the mature set point (it sets
        the transport capacity), hco3_permeability P_HCO3/P_Cl for the GHK E_GABA. Rate mode loads chloride
        through the GABA-A current from the Golgi inhibition it computes (gaba_load_nS per unit, driven
        from rest); spiking mode loads it with each cell's GABA-A conductance (phasic and tonic) averaged over
        the presentation in the Brian2 simulation, driven from rest as in rate mode.
    mossy_nS, granule_golgi_nS, golgi_granule_nS, golgi_threshold_scale_mV : spiking synaptic
        quanta and the voltage per unit golgi_threshold. mossy_nS is the quantum with Fore et al.'s 12 ms
        decay; each mossy spike keeps that charge whatever mossy_tau_ms.
    mossy_tau_ms, gaba_tau_ms, mossy_golgi_nS, tonic_gaba_nS, golgi_golgi_p, golgi_golgi_nS, golgi_threshold_sd_mV :
        spiking Top-K mechanisms of the LIF Golgi circuit (``bio/spiking.py``, measured in
        ``docs/spiking-topk.md``). mossy_tau_ms: decay of the mossy -> granule conductance (default 85.6 ms, the
        NMDA component's amplitude-weighted decay; Fore et al.'s AMPA-only 12 ms to switch off). gaba_tau_ms: Golgi
        -> granule GABA decay (default 200 ms, slow spillover and tonic inhibition; Fore et al. 20 ms).
        mossy_golgi_nS: feedforward mossy -> Golgi quantum (default 0.03 nS; 0 removes the projection).
        granule_golgi_nS: default 10 nS (Fore et al.'s 2 nS x 5: the feedback outweighs the feedforward drive of the
        Golgi cells). tonic_gaba_nS: granule tonic GABA (default: the cell set's, 0 in "fore2020-golgi-2ms" and
        "fore2020-notonic", 1 nS in "fore2020"). golgi_golgi_p / _nS: Golgi -> Golgi inhibition (default off).
        golgi_threshold_sd_mV: spread of the LIF Golgi thresholds (default 0). golgi_noise_mV: sd of each LIF Golgi
        cell's independent membrane noise (default 0: none). golgi_gap_nS: gap-junction conductance between each
        pair of LIF Golgi cells (default 0: none).
    batch_size : presentations per learning batch (plasticity is applied after each); default 100.
    copies : presentations simulated side by side (independent circuit copies) in one Brian2 run; a
        batch is simulated in runs of ``copies``, spread over the workers; default min(50, batch_size).
        Its size sets how much state stays in the CPU caches: at 1,000 cells with 2 workers, 100 per process ran 2.5x
        faster than 200 per process, whose state no longer fits the shared cache
        (``benchmarks/bench_bio.py --rate-batches``). Spiking mode draws one Poisson seed per run.
    n_workers : processes that simulate the runs of a batch in parallel (Brian2's runtime targets use one
        core each). A speed setting only: results depend on ``batch_size`` and ``copies``, never on
        ``n_workers`` (tested bit for bit). Call :meth:`close` to stop the workers early.
    codegen_target : Brian2 target: "numpy" (no compiler), "cython" (compiles once per model, cached) or
        "cpp_standalone" (rate mode only: compiles the network into a C++ program, ~10 s per
        circuit size and presentation time, cached in .brian_cache/standalone/, run once per batch).

    The defaults learn scikit-learn digits class-incrementally (5 tasks of 2 classes, 1,000 granule
    cells, 3 epochs per task: final average accuracy ~0.68). With random unit-norm addresses and
    mature GABA, granule_threshold 0.55 and golgi_gain 30 leave ~75 of 1,000 cells active on digits
    (sd ~6); granule_threshold 0.58 with golgi_threshold 0 leaves ~14 (sd ~4). switch_count and
    tau_cl_ms compress development (Currin et al. report tau_KCC2 ~50 s) so the switch completes
    within the first task. Young GABA (E_GABA ~ -41 mV, above the granule threshold) excites in both
    modes, as Eq. 12's lambda = -1 does.

    Examples
    --------
    >>> c = CerebellarCircuit(64, 200, 10)
    >>> c.fit_task(x, y, epochs=1).predict(x).shape  # doctest: +SKIP
    """

    def __init__(
        self,
        n_inputs: int,
        n_neurons: int,
        n_outputs: int,
        mode: str = "rate",
        seed: int = 0,
        *,
        granule: groups.GranuleGroup | Mapping[str, Any] | None = None,
        golgi: groups.GolgiGroup | Mapping[str, Any] | None = None,
        mossy: groups.MossyGroup | Mapping[str, Any] | None = None,
        chloride: groups.ChlorideGroup | Mapping[str, Any] | None = None,
        plasticity: groups.PlasticityGroup | Mapping[str, Any] | None = None,
        simulation: groups.SimulationGroup | Mapping[str, Any] | None = None,
        cell_params: str | params.CellParams = params.DEFAULT,
        anatomy: str = "global",
        graph: nx.DiGraph | None = None,
        **settings: Any,
    ) -> None:
        self.n_inputs = _checks.count("n_inputs", n_inputs)
        self.n_neurons = _checks.count("n_neurons", n_neurons, 2)
        self.n_outputs = _checks.count("n_outputs", n_outputs, 2)
        self.mode = _checks.choice("mode", mode, MODES)
        self.seed = int(seed)
        self.groups = groups.settings_groups(
            dict(granule=granule, golgi=golgi, mossy=mossy, chloride=chloride, plasticity=plasticity,
                 simulation=simulation), **settings)
        for group in self.groups.values():  # the circuit's working values, which calibration may move
            for name, value in group:
                setattr(self, name, value)
        spiking = self.mode == "spiking"
        if spiking and self.codegen_target == "cpp_standalone":
            raise ValueError(
                "The 'codegen_target' parameter of CerebellarCircuit: 'cpp_standalone' is implemented for "
                "mode='rate' only. Use 'cython' (or 'numpy') for mode='spiking'."
            )
        self.cell_params = params.get_cell_params(cell_params)
        if self.mode == "rate" and self.cell_params != params.get_cell_params(params.DEFAULT):
            raise ValueError(f"The 'cell_params' parameter of CerebellarCircuit ({self.cell_params.name!r}) sets the "
                             "spiking cells; rate mode's Eq. 13 units have no membrane constants. Use mode='spiking'.")
        self.anatomy = _checks.choice("anatomy", anatomy, ANATOMIES)
        if self.golgi_model == "population" and self.mode == "rate":
            raise ValueError(
                "The 'golgi_model' parameter of CerebellarCircuit: 'population' is for mode='spiking' "
                "(rate mode's Golgi is always Eq. 13's rate unit). Use 'lif' or mode='spiking'."
            )
        if self.golgi_depression is None:
            self.golgi_depression = SPIKING_DEPRESSION if spiking else 0.0
        default_gain = (30.0 if self.mode == "rate" else POPULATION_LINEAR_GAIN
                        if self.golgi_model == "population" and self.golgi_depression == 0
                        else DEFAULT_SPIKING_GAIN[self.golgi_model])
        self.golgi_gain = default_gain if self.golgi_gain is None else self.golgi_gain
        if self.golgi_threshold is None:
            self.golgi_threshold = 0.0 if self.golgi_model == "population" else 0.01
        if 0 < self.golgi_depression < MIN_DEPRESSION:
            raise ValueError(f"The 'golgi_depression' parameter of CerebellarCircuit must be 0 (linear) or >= "
                             f"{MIN_DEPRESSION:g}: the loop's steepness grows as 1 / rho and the integration step "
                             f"shrinks with it. Got {self.golgi_depression:g}.")
        if spiking and self.feedforward_inhibition > 0:
            raise ValueError("The 'feedforward_inhibition' parameter of CerebellarCircuit is implemented in rate "
                             "mode only; spiking mode's Golgi cells see the granule cells alone.")
        if self.rate_integration == "implicit" and (spiking or self.golgi_coupling != 1.0
                                                    or self.codegen_target == "cpp_standalone"):
            raise ValueError("The 'rate_integration' parameter of CerebellarCircuit: 'implicit' solves each step of "
                             "rate mode's Golgi loop in Python for fully coupled Golgi cells: it needs mode='rate', "
                             "golgi_coupling=1 and a runtime codegen_target ('numpy' or 'cython'). Got "
                             f"mode={self.mode!r}, golgi_coupling={self.golgi_coupling:g}, "
                             f"codegen_target={self.codegen_target!r}.")
        if self.golgi_clamp is not None and spiking:
            raise ValueError("The 'golgi_clamp' parameter of CerebellarCircuit must be None or a finite inhibition "
                             f">= 0, in rate mode only. Got {self.golgi_clamp!r} (mode={self.mode!r}).")
        self.presentation_ms = self.presentation_ms or (SPIKING_PRESENTATION_MS if spiking else 50.0)
        self.p_golgi = self.p_golgi or (SPIKING_P_GOLGI if spiking else P_GOLGI)
        # rate mode without a given step: start at 0.4 ms and shorten it to the inputs' loop stiffness (_fit_step)
        self.auto_dt = self.dt_ms is None and not spiking and not self.implicit
        rate_dt = IMPLICIT_DT * self.tau_golgi_ms if self.implicit else 0.4
        self.dt_ms = self.dt_ms or (SPIKING_DT_MS if spiking else rate_dt)
        self._check_time()
        self.read_ms = min(self.read_ms or READ_FRACTION * self.presentation_ms, self.presentation_ms)
        if self.purkinje_norm != "none" and self.value_rule != "target":
            raise ValueError(
                f"The 'purkinje_norm' parameter of CerebellarCircuit ({self.purkinje_norm!r}) needs "
                "value_rule='target': the error rule would chase a target the scaled output cannot reach, its "
                "weights growing without end."
            )
        if self.active_threshold is None:
            self.active_threshold = 1.0 / self.read_ms if spiking else 0.05
        self.chloride_params = self._chloride_params()
        if self.tonic_gaba_nS is None:  # the cell set's
            self.tonic_gaba_nS = float(self.cell_params.granule.g_tonic / b2.nS)
        lif = spiking and self.golgi_model == "lif"
        n_golgi = self.n_golgi
        if graph is not None:
            given = dict(n_golgi=n_golgi, sparse_dendrites=self.sparse_dendrites,
                         anatomy=self.anatomy != "global" or None, golgi_golgi_p=self.golgi_golgi_p or None)
            if any(v is not None for v in given.values()):
                raise ValueError(f"The 'graph' parameter of CerebellarCircuit fixes the wiring; leave "
                                 f"{', '.join(k for k, v in given.items() if v is not None)} unset.")
            graph = copy.deepcopy(check_graph(graph, self.n_inputs, self.n_neurons, self.n_outputs))
        elif n_golgi is None and self.anatomy == "dendrites4":
            n_golgi = min(self.n_neurons, max(GOLGI_PER_GRANULE, round(self.n_neurons / GRANULE_PER_GOLGI_CELL)))
        elif n_golgi is None:
            n_golgi = max(1, round(self.n_neurons / GRANULE_PER_GOLGI)) if lif else 4
        self.copies = min(50, self.batch_size) if self.copies is None else self.copies
        if self.n_workers > 1 and self.codegen_target == "cpp_standalone":
            raise ValueError(
                "The 'n_workers' parameter of CerebellarCircuit must be 1 with codegen_target='cpp_standalone' "
                "(one compiled project per circuit). Use 'cython' for several workers."
            )

        self.graph = graph if graph is not None else circuit_graph(
            self.n_inputs, self.n_neurons, self.n_outputs, n_golgi, self.p_golgi, self.sparse_dendrites, self.seed,
            mossy_golgi=lif and self.mossy_golgi_nS > 0, golgi_golgi=self.golgi_golgi_p if lif else 0.0,
            anatomy=self.anatomy,
        )
        # the loop's defaults when a RateLoop is built from the graph alone (the circuit passes its own values)
        self.graph.nodes["golgi"].update(coupling=self.golgi_coupling, depression=self.golgi_depression)
        self._check_time()  # again, with the wiring: the Golgi loop's stability bound
        self._dendrites = self.graph.edges["mossy", "granule"]["mask"]
        self._rng = np.random.default_rng(self.seed)  # wiring, address, presentation order, learning's spikes
        address = self._rng.random((self.n_inputs, self.n_neurons)) * self._dendrites
        self.address_ = (address / np.linalg.norm(address, axis=0, keepdims=True)).astype(np.float32)
        self.value_ = np.full((self.n_neurons, self.n_outputs), VALUE_INIT[self.value_rule], np.float32)
        self._purkinje_layer: PurkinjeLayer | None = None  # Brian2 Purkinje cells, built on first use
        self.activity_count_ = np.zeros(self.n_neurons, np.int64)
        self.chloride_mM_ = np.full(self.n_neurons, float(self.chloride_params.cl_young / b2.mM))
        self.epochs_ = 0
        self._loop: RateLoop | SpikingLoop | LoopPool | None = None  # built on first use, then reused

    # ------------------------------------------------------------------ checks
    @property
    def implicit(self) -> bool:
        """Rate mode's Golgi loop coupled implicitly (``rate_integration="implicit"``, ``ImplicitCoupling``)."""
        return self.rate_integration == "implicit"

    def _check_time(self) -> None:
        """Refuse a step the integration cannot take: above a fifth of the fastest time constant, and in rate
        mode above DT_LIMIT of the Golgi loop's stability bound (tau_a + tau_i) / (1 + G) with one granule
        cell on the steep part of its response, G = golgi_gain * max W_EI * s'(0) / smoothing (s' the slope of the
        granule -> Golgi synapse at rest, 1 when linear; ``bio/golgi.py``;
        :meth:`bio.golgi.RateLoop.run` checks again at the state each presentation reaches)."""
        # Rate: Golgi tau_i is the fastest; spiking: the granule refractory period (2 ms).
        fastest = self.tau_golgi_ms if self.mode == "rate" else float(self.cell_params.granule.refractory / b2.ms)
        if self.implicit:  # no stability bound: the step is limited by accuracy alone
            if self.dt_ms > fastest:
                raise ValueError(f"The 'dt_ms' parameter of CerebellarCircuit must be <= {fastest:g} ms (the Golgi "
                                 f"time constant) with rate_integration='implicit'. Got {self.dt_ms:g}.")
        elif self.dt_ms > fastest / 5:
            raise ValueError(
                f"The 'dt_ms' parameter of CerebellarCircuit must be <= {fastest / 5:g} ms "
                "(a fifth of the fastest "
                f"time constant, {fastest:g} ms) for Euler integration. Got {self.dt_ms:g}; lower dt_ms."
            )
        if self.mode == "rate" and not self.implicit and hasattr(self, "graph"):
            loop = (self.golgi_gain * float(golgi_input_weights(self.graph, self.golgi_coupling).max())
                    * float(depressed_slope(0.0, self.golgi_depression)) / self.smoothing)
            bound = (self.tau_granule_ms + self.tau_golgi_ms) / (1.0 + loop)
            if self.auto_dt and self.dt_ms > DT_LIMIT * bound:  # no step given: take an accurate one
                self.dt_ms = stable_dt_ms(self.tau_granule_ms, self.tau_golgi_ms, loop)
            if self.dt_ms > DT_LIMIT * bound:
                raise ValueError(
                    f"The 'dt_ms' parameter of CerebellarCircuit ({self.dt_ms:g} ms) is too long for the Golgi loop "
                    f"at golgi_gain={self.golgi_gain:g} and smoothing={self.smoothing:g} (loop gain {loop:.3g}): "
                    f"it must be <= {DT_LIMIT * bound:.3g} ms, and "
                    f"{stable_dt_ms(self.tau_granule_ms, self.tau_golgi_ms, loop):.3g} ms is accurate. "
                    "Lower dt_ms, lower golgi_gain or raise smoothing."
                )
        if self.presentation_ms < 5 * self.dt_ms:
            raise ValueError(
                f"The 'presentation_ms' parameter of CerebellarCircuit must span at least 5 time steps "
                f"(>= {5 * self.dt_ms:g} ms at dt_ms={self.dt_ms:g}). Got {self.presentation_ms:g}."
            )

    def _chloride_params(self) -> chloride.ChlorideParams:
        """The circuit's chloride arguments as :class:`bio.chloride.ChlorideParams` (which checks the
        physiological ranges), and young E_GABA above rest, mature E_GABA below it."""
        p = dataclasses.replace(
            chloride.ChlorideParams(), cl_out=self.cl_out_mM * b2.mM, e_hco3=self.e_hco3_mV * b2.mV,
            hco3_permeability=b2.Quantity(self.hco3_permeability),
            temperature=(self.temperature_c + 273.15) * b2.kelvin,
            e_cl_young=self.e_cl_young_mV * b2.mV, e_cl_mature=self.e_cl_mature_mV * b2.mV,
            tau_cl=self.tau_cl_ms * b2.ms, switch_count=b2.Quantity(self.switch_count),
            gaba_load=self.gaba_load_nS * b2.nS,
        )
        young, mature = (float(p.e_gaba(cl) / b2.mV) for cl in (p.cl_young, p.cl_mature))
        if young <= E_REST_MV:
            raise ValueError(f"Young E_GABA ({young:.1f} mV from 'e_cl_young_mV'={self.e_cl_young_mV}) must lie above "
                             f"rest ({E_REST_MV:g} mV): young GABA depolarises. Raise e_cl_young_mV.")
        if mature >= E_REST_MV:
            raise ValueError(f"Mature E_GABA ({mature:.1f} mV from 'e_cl_mature_mV'={self.e_cl_mature_mV}) must lie "
                             f"below rest ({E_REST_MV:g} mV) for GABA to inhibit. Lower e_cl_mature_mV.")
        return p

    # ------------------------------------------------------------ chloride
    def e_gaba_mV(self) -> np.ndarray:
        """E_GABA per granule cell (mV), GHK with HCO3- of its chloride (``bio/chloride.py``, Eq. 6)."""
        return np.asarray(self.chloride_params.e_gaba(self.chloride_mM_ * b2.mM) / b2.mV)

    def e_cl_mV(self) -> np.ndarray:
        """E_Cl per granule cell (mV), Nernst of its intracellular chloride."""
        return chloride.nernst_chloride_mV(self.chloride_mM_, self.cl_out_mM, self.temperature_c)

    def gaba_switch(self) -> np.ndarray:
        """Rate-mode inhibition sign lambda per granule cell (Eq. 12's lambda, from E_GABA): +1 at the mature
        set point, 0 at rest, -1 as far above rest as the mature set point lies below."""
        p = self.chloride_params
        return chloride.inhibition_sign(self.e_gaba_mV(), E_REST_MV, float(p.e_gaba(p.cl_mature) / b2.mV))

    def record_activity(self, active: np.ndarray, gaba_nS: np.ndarray | None = None) -> None:
        """Advance the GABA switch by one batch of presentations: count each cell's activations (Eq. 12's C,
        whose running total sets its KCC2 share m = clip(C / s, 0, 1) presentation by presentation), then
        integrate its chloride (``bio.chloride.integrate``) over the batch's biological time
        (``len(active) * presentation_ms``).

        active : bool (presentations, n_neurons), which granule cells were active in each.
        gaba_nS : (presentations, n_neurons) GABA-A conductance of each cell in each presentation, whose
            chloride current (driven from rest) loads or drains chloride; None: transport only.
        Learning calls this after every batch; call it directly to drive the switch by hand.
        """
        active = np.asarray(active, dtype=bool)
        if active.ndim != 2 or active.shape[1] != self.n_neurons:
            raise ValueError(
                f"'active' must have shape (presentations, {self.n_neurons}) (one column per granule cell). "
                f"Got {active.shape}."
            )
        if gaba_nS is not None and np.shape(gaba_nS) != active.shape:
            raise ValueError(f"'gaba_nS' must have the shape of 'active' {active.shape}. Got {np.shape(gaba_nS)}.")
        counts = self.activity_count_ + np.cumsum(active, axis=0)  # C after each presentation
        m = chloride.maturation(counts, self.switch_count)
        self.chloride_mM_, _ = chloride.integrate(self.chloride_mM_, m, gaba_nS, E_REST_MV, self.presentation_ms,
                                                  self.chloride_params)
        self.activity_count_ += active.sum(axis=0)

    def _gaba_load_nS(self, h: np.ndarray, drive: np.ndarray) -> np.ndarray:
        """Rate mode: each cell's GABA-A conductance in each presentation, gaba_load_nS x the inhibition
        Eq. 13 gives it at the activity ``h`` reached, W_IE gain [W_EI^T s(h) - b_i]_+ + f (s: the granule -> Golgi
        synapse, :func:`bio.golgi.depressed`; spiking mode measures
        the conductance in the simulation: ``SpikingLoop.run`` with ``gaba``)."""
        if self.golgi_clamp is not None:  # the open-loop ablation: a constant inhibition in place of W_IE i
            inhibition = np.full(h.shape, self.golgi_clamp)
        else:
            golgi = self.golgi_gain * np.maximum(depressed(h, self.golgi_depression)
                                                 @ golgi_input_weights(self.graph, self.golgi_coupling)
                                                 - self.golgi_threshold, 0.0)  # (batch, n_golgi), Eq. 13's steady i
            inhibition = golgi @ normalised_weights(self.graph.edges["golgi", "granule"]["mask"])
        return self.gaba_load_nS * (inhibition + self._feedforward(drive)[:, None])

    def mature(self) -> None:
        """Put every granule cell past the GABA switch: KCC2 fully expressed, chloride at its mature set
        point (E_Cl between E_K and rest, E_GABA below rest), lambda = +1 (the SDMLP's fully inhibitory
        Top-K)."""
        self.activity_count_ = np.maximum(self.activity_count_, int(np.ceil(self.switch_count)))
        self.chloride_mM_ = np.full(self.n_neurons, float(self.chloride_params.cl_mature / b2.mM))

    # ---------------------------------------------------------- data
    def adapt_to(self, x: np.ndarray, k: int) -> dict[str, float]:
        """Set rate mode's Eq. 13 settings from a sample ``x`` of the inputs the circuit will meet, for about
        ``k`` active granule cells; return them, with a bracket of the Golgi threshold for calibration.

        Eq. 13 of Bricken et al. 2023 (App. C.1, after Gozel & Gerstner 2021) leaves active the cells whose
        drive e0 = address^T x exceeds b + f + I, where I is the Golgi inhibition; the Golgi cell settles
        where the summed granule activity meets its threshold b_i. For that sum to count cells (as Top-K
        does) the active cells must saturate: L small next to the gaps between the top drives; or, with
        depressing granule -> Golgi synapses (``golgi_depression``), the synapses saturate and L grades the
        response over the top drives. Everything is set relative to the sample's drives, so no constant depends
        on the dataset:

        - feedforward inhibition w_ff: least-squares slope of the k-th drive on the mean drive over the
          sample, so f = w_ff * mean_j e0_j follows how the input's mass moves the top drives;
        - L = SMOOTHING_GAPS x the median gap between the k-th and (k+1)-th drives over the sample; with
          depressing synapses GRADED_SPREAD x the mean spread between the top and the (k+1)-th drive;
        - b = THRESHOLD_MARGIN x that spread below the lowest (k+1)-th drive net of f, so every sampled
          input has more than k cells above threshold before inhibition;
        - golgi_gain: the range of inhibition the sample needs, divided by COUNT_TOLERANCE cells' worth of
          Golgi input (the steady state sum of activity moves by I / gain);
        - golgi_threshold b_i: (k - 1/2) cells' worth of Golgi input less the mean inhibition / gain (a
          starting point; ``bridge.calibrate.adapt_circuit`` then solves for the target k);
        - dt_ms: :func:`bio.golgi.stable_dt_ms` at the loop gain G = golgi_gain * max W_EI * s'(0) / L, and at most half
          the stability bound at the loop gain the sample reaches (:func:`bio.golgi.reached_loop_gain`) over
          the calibration bracket.

        The number of active cells stays an outcome of the dynamics; nothing selects k cells. Rate mode only.
        The addresses must be the ones the circuit will run with (call again after a weight transfer).
        """
        if self.mode != "rate":
            raise ValueError("CerebellarCircuit.adapt_to sets rate mode's Eq. 13 settings; for mode='spiking' "
                             "calibrate the Golgi gain with bridge.calibrate.calibrate_golgi.")
        k = _checks.count("k", k, owner="CerebellarCircuit.adapt_to")
        if k >= self.n_neurons:
            raise ValueError(f"The 'k' parameter of CerebellarCircuit.adapt_to must be < n_neurons ({self.n_neurons}). "
                             f"Got {k}.")
        x_unit = self._mossy(x)
        x_unit = x_unit[np.linalg.norm(x_unit, axis=1) > 0]
        if len(x_unit) < 2:
            raise ValueError("CerebellarCircuit.adapt_to needs at least 2 inputs with a nonzero component.")
        drive = x_unit @ self.address_.astype(np.float64)  # Eq. 13's e0, (samples, n_neurons)
        top = -np.sort(-drive, axis=1)[:, : k + 1]
        edge = (top[:, k - 1] + top[:, k]) / 2  # where the k-th and (k+1)-th drives part
        mean = drive.mean(axis=1)
        w_ff = float(np.polyfit(mean, edge, 1)[0]) if np.ptp(mean) > 1e-9 * max(abs(mean).max(), 1e-12) else 1.0
        w_ff = max(w_ff, 0.0)
        spread = float((top[:, 0] - top[:, k]).mean())
        if not spread > 0:
            raise ValueError("CerebellarCircuit.adapt_to: the top drives address.x of the sample are all equal; "
                             "the addresses cannot tell the inputs' cells apart.")
        net_edge, net_next = edge - w_ff * mean, top[:, k] - w_ff * mean
        gaps = top[:, k - 1] - top[:, k]
        if self.golgi_depression > 0:  # the Golgi cells count through their synapses: graded granule rates
            smoothing = GRADED_SPREAD * spread
        else:
            smoothing = SMOOTHING_GAPS * float(np.median(gaps) if np.median(gaps) > 0 else gaps.mean())
        threshold = float(net_next.min()) - THRESHOLD_MARGIN * spread
        w_ei = golgi_input_weights(self.graph, self.golgi_coupling)
        w_cell = float(w_ei[w_ei > 0].mean())  # one active cell's share of a Golgi cell's input
        inhibition = net_edge - threshold  # I each sampled input needs, > 0
        gain = float(np.ptp(inhibition) + THRESHOLD_MARGIN * spread) / (COUNT_TOLERANCE * w_cell)
        b_i = (k - 0.5) * w_cell - float(inhibition.mean()) / gain
        loop = gain * float(w_ei.max()) * float(depressed_slope(0.0, self.golgi_depression)) / smoothing
        bracket = (b_i - 0.9 * k * w_cell, b_i + 1.5 * k * w_cell)
        # the loop gain the sample reaches over the calibration bracket (several cells steep at once on inputs
        # whose top drives crowd together): the step stays within half its stability bound there
        tau_ms = self.tau_granule_ms + self.tau_golgi_ms
        reached = max(float(reached_loop_gain(drive, w_ff * mean, np.ones(self.n_neurons), w_ei, gain, smoothing,
                                              threshold, level, depression=self.golgi_depression).max())
                      for level in (*bracket, b_i))
        self.feedforward_inhibition, self.smoothing, self.granule_threshold = w_ff, smoothing, threshold
        self.golgi_gain, self.golgi_threshold = gain, b_i
        self.dt_ms = IMPLICIT_DT * self.tau_golgi_ms if self.implicit else min(
            stable_dt_ms(self.tau_granule_ms, self.tau_golgi_ms, loop), 0.5 * DT_LIMIT * tau_ms / (1 + reached))
        self.auto_dt = False  # the step is chosen for these settings
        self._check_time()
        self.close()  # the network is rebuilt with the new step on next use
        return {"feedforward_inhibition": w_ff, "granule_threshold": threshold, "smoothing": smoothing,
                "golgi_gain": gain, "golgi_threshold": b_i, "dt_ms": self.dt_ms, "loop_gain": loop,
                "reached_loop_gain": reached, "golgi_threshold_bracket": bracket}

    # ---------------------------------------------------------- simulation
    def _mossy(self, x: np.ndarray) -> np.ndarray:
        """Validate and L2-normalise the input rows (as the SDMLP does); zero rows stay zero."""
        x = _checks.rates(x, self.n_inputs).astype(np.float64)
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.where(norm > 0, norm, 1.0)

    def _simulate(self, x_unit: np.ndarray, rng: np.random.Generator | None, inhibition: bool = False,
                  gaba: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Post-inhibition granule activity for unit-norm mossy input rows, in simulation batches (rate mode
        with ``inhibition``: the inhibition W_IE i + f each granule cell receives at the end instead; spiking
        mode with ``gaba``: also each cell's mean GABA-A conductance over the presentation, in nS).

        The rows are simulated in runs of ``copies`` presentations, in order; spiking mode draws each
        run's Poisson seed from ``rng`` (rate mode draws nothing). With ``n_workers`` > 1 the runs go to
        the workers side by side, with the same inputs and seeds, so the result is the same.
        """
        copies = self.copies
        if self.auto_dt and len(x_unit):
            self._fit_step(x_unit)
        if self._loop is None or self._loop.target != self.codegen_target:
            self.close()
            # circuits dropped before hold their networks in reference cycles that the runs' frozen collections
            # (bio.brian.frozen_gc) never reach: free them before building another (a build takes seconds, this
            # collection about 0.1 s)
            gc.collect()
            if self.mode == "rate":
                factory = RateLoop
                args = (self.graph, copies, self.dt_ms, self.codegen_target, self.golgi_coupling, self.golgi_depression,
                        self.rate_integration)
            else:
                factory = SpikingLoop
                args = (self.graph, copies, self.dt_ms, self.codegen_target, self.mossy_firing, self.golgi_model,
                        self.cell_params, self.golgi_noise_mV > 0, self.golgi_gap_nS > 0)
            if self.n_workers == 1:
                self._loop = factory(*args)
            else:
                warm = self._run_args(np.zeros((1, self.n_inputs)), seed=0)
                self._loop = LoopPool(self.n_workers, factory, args, warm, self.codegen_target)
        # RateLoop.run's monitor and inhibition; SpikingLoop.run's GABA conductances
        extra = (False, True) if inhibition else (True,) if gaba else ()
        batches = (self._run_args(x_unit[s : s + copies], self._spike_seed(rng)) + extra
                   for s in range(0, len(x_unit), copies))
        if isinstance(self._loop, LoopPool):
            out = self._loop.map(batches)
        else:
            out = [self._loop.run(*args) for args in batches]
        empty = np.zeros((0, self.n_neurons), np.float32)
        if inhibition:
            out = [inh for _, inh in out]
        elif gaba:
            return (np.concatenate([h for h, _ in out]) if out else empty,
                    np.concatenate([g for _, g in out]) if out else empty)
        return np.concatenate(out) if out else empty

    def _fit_step(self, x_unit: np.ndarray) -> None:
        """Rate mode with no step given: shorten ``dt_ms`` to :func:`bio.golgi.stable_dt_ms` (a tenth of the
        linear stability bound) at the largest loop gain these inputs reach at the steady state
        (:func:`bio.golgi.reached_loop_gain`), and rebuild the loop. The step only ever shortens."""
        drive = x_unit @ self.address_.astype(np.float64)
        w_ei = golgi_input_weights(self.graph, self.golgi_coupling)
        gain = float(reached_loop_gain(drive, self._feedforward(drive), self.gaba_switch(), w_ei, self.golgi_gain,
                                       self.smoothing, self.granule_threshold, self.golgi_threshold,
                                       depression=self.golgi_depression).max())
        dt = stable_dt_ms(self.tau_granule_ms, self.tau_golgi_ms, gain)
        if dt < self.dt_ms:
            self.dt_ms = dt
            self.close()  # rebuilt with the new step on next use

    def _read_stream(self, x_unit: np.ndarray) -> np.random.Generator | None:
        """The spike-seed stream of a read-out of ``x_unit`` (spiking mode; rate mode draws nothing).

        Made from the circuit's seed, its epoch count and a digest of the inputs, not from the learning
        stream: a read-out is a function of the circuit after ``epochs_`` epochs and of its inputs, however
        many read-outs came before (``--eval-every``), and never shifts the spikes learning sees.
        """
        if self.mode != "spiking":
            return None
        digest = int.from_bytes(hashlib.sha1(np.ascontiguousarray(x_unit).tobytes()).digest()[:8], "little")
        return np.random.default_rng([self.seed, 1, self.epochs_, digest])

    def _spike_seed(self, rng: np.random.Generator | None) -> int | None:
        """A simulation batch's Poisson seed (spiking mode; rate mode draws nothing)."""
        return int(rng.integers(2**31 - 1)) if self.mode == "spiking" else None

    def _run_args(self, x_unit: np.ndarray, seed: int | None) -> tuple:
        """The arguments of the loop's ``run`` for one simulation batch of unit-norm inputs.

        Spiking mode: ``seed`` seeds the batch's spike trains.
        """
        if self.mode == "rate":
            params = dict(
                tau_a=self.tau_granule_ms * b2.ms,
                tau_i=self.tau_golgi_ms * b2.ms,
                b=self.granule_threshold,
                L=self.smoothing,
                gain=self.golgi_gain if self.golgi_clamp is None else 0.0,  # clamped: Golgi cells silent
                b_i=self.golgi_threshold,
            )
            drive = x_unit @ self.address_  # Eq. 13's e0 = X_a^T x, (batch, n_neurons)
            # a clamped loop's constant inhibition enters where W_IE i would, beside f: lambda * (clamp + f)
            ffi = self._feedforward(drive) + (0.0 if self.golgi_clamp is None else self.golgi_clamp)
            return drive, self.gaba_switch(), self.presentation_ms, params, ffi
        namespace = dict(
            q_granule=self.granule_golgi_nS * b2.nS,
            q_golgi=self.golgi_granule_nS * b2.nS,
            gain=self.golgi_gain,
            V_th_golgi=self.cell_params.golgi.V_th + self.golgi_threshold * self.golgi_threshold_scale_mV * b2.mV,
            **mechanism_namespace(self.mossy_nS, self.mossy_tau_ms, self.gaba_tau_ms, self.mossy_golgi_nS,
                                  self.tonic_gaba_nS, self.golgi_golgi_nS, self.golgi_threshold_sd_mV,
                                  self.golgi_noise_mV, self.golgi_gap_nS),
            b_i=self.golgi_threshold,
            tau_i=self.tau_golgi_ms * b2.ms,
        )
        return (x_unit * self.max_rate_hz, self.address_, self.e_gaba_mV(), self.presentation_ms, self.read_ms,
                namespace, seed)

    def close(self) -> None:
        """Stop the worker processes of ``n_workers > 1`` (a later simulation starts new ones)."""
        if isinstance(self._loop, LoopPool):
            self._loop.close()
        self._loop = None

    # ------------------------------------------------------------ learner
    def fit_task(
        self, x: np.ndarray, y: np.ndarray, epochs: int, on_epoch: Callable[[int], None] | None = None,
        start_epoch: int = 0,
    ) -> CerebellarCircuit:
        """Present the task ``epochs`` times in shuffled batches, learning after each batch.

        Per batch: simulate (granule activity h), Purkinje output y (h X_v, scaled per ``purkinje_norm``) and,
        with the "ltd" rule, the climbing-fiber complex spikes in the Brian2 Purkinje layer; climbing-fiber
        signal (``value_rule``), value and address plasticity, then the chloride switch.
        ``start_epoch`` > 0 continues an interrupted task (``bridge.Learner``).
        """
        x_unit = self._mossy(x)
        y = _checks.labels(y, len(x_unit), self.n_outputs)
        epochs = _checks.count("epochs", epochs, 0, owner="fit_task")
        start_epoch = _checks.count("start_epoch", start_epoch, 0, owner="fit_task")
        for epoch in range(start_epoch, epochs):
            order = self._rng.permutation(len(x_unit))
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                # (batch, n_neurons) activity, and the GABA-A conductances that load chloride
                if self.mode == "spiking":
                    h, gaba = self._simulate(x_unit[rows], self._rng, gaba=True)
                else:
                    h = self._simulate(x_unit[rows], self._rng)
                    gaba = self._gaba_load_nS(h, x_unit[rows] @ self.address_)  # chloride load, before plasticity
                if start == 0 and epoch == start_epoch:
                    self._check_alive(h, x_unit[rows])
                if self.value_rule == "ltd":  # the labelled class's climbing fiber fires a complex spike
                    _, spikes = self._purkinje(h, plasticity.climbing_fibers(y[rows], self.n_outputs))
                    teach = plasticity.ltd_teach(spikes)
                else:
                    teach = plasticity.teach(y[rows], self._purkinje(h)[0], self.value_rule)
                self.value_ = plasticity.value_update(self.value_, h, teach, self.lr_value,
                                                         plasticity.VALUE_CEILING[self.value_rule])
                self.address_ = plasticity.address_update(
                    self.address_, x_unit[rows], h, self.lr_address, self._dendrites
                )
                self.record_activity(h > self.switch_threshold, gaba)
            self.epochs_ += 1
            if on_epoch is not None:
                on_epoch(epoch)
        return self

    def _feedforward(self, drive: np.ndarray) -> np.ndarray:
        """Feedforward Golgi inhibition per presentation, f = w_ff * mean_j e0_j: (batch,) from (batch, n_neurons)."""
        return self.feedforward_inhibition * drive.mean(axis=1)

    def _check_alive(self, h: np.ndarray, x_unit: np.ndarray) -> None:
        """Refuse to learn from a batch in which no granule cell is active at all (h = 0 everywhere).

        Both local rules change only synapses of cells with h > 0, so such a circuit would silently
        learn nothing. The usual cause is a granule threshold above every drive e0 = address^T x
        (inputs with many more, weaker components than the defaults were set for: MNIST's drive is
        ~0.32 where digits' is ~0.55)."""
        if (h > 0).any():
            return
        drive = x_unit @ self.address_
        drive = drive - self._feedforward(drive)[:, None]  # net of the (mature) feedforward inhibition
        fix = (f"lower the 'granule_threshold' parameter ({self.granule_threshold:g}) to about the mean drive"
               if self.mode == "rate" else f"raise the 'max_rate_hz' parameter ({self.max_rate_hz:g})")
        raise ValueError(
            f"No granule cell of CerebellarCircuit is active on the first {len(h)} inputs of the task, so it "
            f"cannot learn: their drive address.x (less any feedforward inhibition) has mean {drive.mean():.3f} "
            f"and maximum {drive.max():.3f}; {fix}."
        )

    def hidden(self, x: np.ndarray) -> np.ndarray:
        """Post-inhibition granule activity, (batch, n_neurons) float32.

        Rate mode: e at the end of the presentation; spiking: read-window rate x refractory period.
        """
        x_unit = self._mossy(x)
        return self._simulate(x_unit, self._read_stream(x_unit))

    def feedback_inhibition(self, x: np.ndarray) -> np.ndarray:
        """Golgi feedback inhibition per input, (batch,): W_IE i at the end of the presentation (Eq. 13), averaged
        over granule cells (equal for every cell with coupled Golgi cells); with ``golgi_clamp`` set, the clamped
        level. Read from the simulated state, less the feedforward inhibition f. Rate mode only."""
        if self.mode != "rate":
            raise ValueError("CerebellarCircuit.feedback_inhibition reads rate mode's Eq. 13 state; spiking mode's "
                             "inhibition is a conductance (record it with monitors).")
        x_unit = self._mossy(x)
        total = self._simulate(x_unit, None, inhibition=True)  # (batch, n_neurons): W_IE i + f
        return (total - self._feedforward(x_unit @ self.address_)[:, None]).mean(axis=1)

    def clamp_golgi(self, x: np.ndarray) -> float:
        """Open the Golgi loop: set ``golgi_clamp`` to the mean :meth:`feedback_inhibition` over the inputs ``x``
        (measured with the loop closed, in the circuit's present state); return that level."""
        self.golgi_clamp = None
        level = float(np.mean(self.feedback_inhibition(x)))
        self.golgi_clamp = max(level, 0.0)
        return self.golgi_clamp

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The class per row, (batch,) int64: the most active Purkinje cell, or with ``value_rule`` "ltd" the
        least active one (its deep nuclear cell the least inhibited; ``bio.plasticity.READOUT``)."""
        out = self._purkinje(self.hidden(x))[0]
        pick = np.argmin if plasticity.READOUT[self.value_rule] == "least active" else np.argmax
        return pick(out, axis=1).astype(np.int64)

    def record(self, x: np.ndarray, variables: Mapping[str, Sequence[str]] | None = None,
               cells: Mapping[str, Sequence[int]] | None = None) -> Recording:
        """Present ``x`` as :meth:`hidden` does, with Brian2 monitors on a subset of cells (``bio/recording.py``).

        variables : population ('mossy', 'granule', 'golgi') -> Brian2 variables to sample every step, e.g.
            ``{"granule": ("v", "g_gaba", "E_gaba")}``; default :func:`bio.recording.default_variables`
            (spiking: membrane potential, conductances, E_GABA; rate: Eq. 13's activities and lambda).
        cells : population -> cell indices; default every granule and Golgi cell. Spikes are recorded for
            every spiking population named here.

        The same inputs, seeds and simulation batches as :meth:`hidden`: ``Recording.activity`` equals
        ``hidden(x)``, and the circuit's state is unchanged. Runs in this process (also with ``n_workers`` > 1);
        needs a runtime target ('numpy' or 'cython').
        """
        if self.codegen_target == "cpp_standalone":
            raise ValueError("CerebellarCircuit.record attaches monitors to a running network: use "
                             "codegen_target 'numpy' or 'cython', not 'cpp_standalone'.")
        x_unit = self._mossy(x)
        if self.auto_dt and len(x_unit):
            self._fit_step(x_unit)
        # the in-process loop, built by _simulate as hidden() builds it; beside the pool of n_workers > 1
        pool, workers = (self._loop if isinstance(self._loop, LoopPool) else None), self.n_workers
        self._loop, self.n_workers = (None if pool is not None else self._loop), 1
        try:
            self._simulate(x_unit[:0], None)
            loop = self._loop
        finally:
            self.n_workers = workers
            if pool is not None:
                self._loop = pool
        rng = self._read_stream(x_unit)
        runs = (self._run_args(x_unit[s : s + self.copies], self._spike_seed(rng))
                for s in range(0, len(x_unit), self.copies))
        rec = record_runs(loop, runs, self.presentation_ms, variables, cells)
        granule = rec.cells.get("granule", np.zeros(0, np.int64))
        return rec.with_cell_values(e_gaba_mV=self.e_gaba_mV()[granule], chloride_mM=self.chloride_mM_[granule])

    def _purkinje(self, hidden: np.ndarray, complex_spikes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Purkinje rates and received complex spikes, each (batch, n_outputs), from the Brian2 Purkinje layer."""
        if self._purkinje_layer is None:
            self._purkinje_layer = PurkinjeLayer(self.n_neurons, self.n_outputs)
        weights = plasticity.purkinje_weights(self.value_, self.purkinje_norm)
        return self._purkinje_layer.run(hidden, weights, complex_spikes)

    def get_weights(self) -> dict[str, np.ndarray]:
        return {"address": self.address_.copy(), "value": self.value_.copy()}

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        checked = _checks.weights(weights, self.n_inputs, self.n_neurons, self.n_outputs)
        if (checked["address"][~self._dendrites] != 0).any():
            raise ValueError(
                "weights['address'] has synapses off the sparse dendrite mask; "
                "zero them or use dense dendrites."
            )
        self.address_, self.value_ = checked["address"], checked["value"]

    def state_dict(self) -> dict[str, Any]:
        """Weights, chloride, activity counts, epoch counter, RNG state, the sampled wiring masks, the
        Golgi gain and threshold (which ``bridge.calibrate_golgi`` may have set) and the granule -> Golgi
        depression the settings were made for."""
        return {
            **{f"mask_{u}_{v}": self.graph.edges[u, v]["mask"].copy() for u, v in WIRED},
            "address": self.address_.copy(),
            "value": self.value_.copy(),
            "chloride_mM": self.chloride_mM_.copy(),
            "activity_count": self.activity_count_.copy(),
            "epochs": self.epochs_,
            "rng_state": self._rng.bit_generator.state,
            "golgi_gain": self.golgi_gain,
            "golgi_threshold": self.golgi_threshold,
            "golgi_clamp": self.golgi_clamp,
            "golgi_depression": self.golgi_depression,
            **{name: getattr(self, name) for name in ADAPTED},
            "parameters": self.parameters(),
        }

    def parameters(self) -> dict[str, Any]:
        """The mode, anatomy, cell constants (SI units), the Golgi count and every other parameter (:mod:`bio.groups`)
        that a saved state does not restore itself (``NOT_IN_PARAMETERS``): what the state's weights were learned
        with."""
        cells = {name: float(value) for name, value in self.cell_params.namespace().items()}  # SI units
        return {"mode": self.mode, "anatomy": self.anatomy, "cell_params": self.cell_params.name, **cells,
                **{name: getattr(self, name) for name in groups.GROUP_OF if name not in NOT_IN_PARAMETERS},
                "n_golgi": self.graph.nodes["golgi"]["size"]}  # as resolved (None: a default count)

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Restore everything :meth:`state_dict` returned; the next run rebuilds the Brian2 network.

        A state saved with other parameters (:meth:`parameters`) is refused, naming them, unless ``strict`` is
        False: then the saved weights run with this circuit's parameters. States saved before the parameters were
        part of them are checked for golgi_depression alone.
        """
        saved_parameters, parameters = state.get("parameters"), self.parameters()
        if strict and saved_parameters is not None and saved_parameters != parameters:
            changed = sorted(n for n in saved_parameters.keys() | parameters.keys()
                             if saved_parameters.get(n) != parameters.get(n))
            listed = "; ".join(f"{n}={saved_parameters.get(n)!r} (this circuit: {parameters.get(n)!r})"
                               for n in changed)
            raise ParameterMismatch(listed)
        self.graph.edges["mossy", "granule"]["mask"] = np.asarray(state["mask_mossy_granule"], dtype=bool)
        self._dendrites = self.graph.edges["mossy", "granule"]["mask"]
        self.set_weights(state)
        for name, shape in (("chloride_mM", (self.n_neurons,)), ("activity_count", (self.n_neurons,))):
            if np.shape(state[name]) != shape:
                raise ValueError(f"state['{name}'] must have shape {shape}. Got {np.shape(state[name])}.")
        self.chloride_mM_ = np.array(state["chloride_mM"], dtype=np.float64)
        self.activity_count_ = np.array(state["activity_count"], dtype=np.int64)
        self.epochs_ = int(state["epochs"])
        self._rng.bit_generator.state = dict(state["rng_state"])
        # states saved before the Golgi settings were part of them keep the constructor's
        self.golgi_gain = float(state.get("golgi_gain", self.golgi_gain))
        self.golgi_threshold = float(state.get("golgi_threshold", self.golgi_threshold))
        self.golgi_clamp = state.get("golgi_clamp", self.golgi_clamp)
        saved = float(state.get("golgi_depression", 0.0))
        # adapt_to's L and the Golgi settings belong to the saved synapses
        if strict and saved != self.golgi_depression:
            raise ValueError(f"The state was saved from a circuit with golgi_depression={saved:g}; this circuit has "
                             f"{self.golgi_depression:g}. Build the circuit with golgi_depression={saved:g}.")
        for name in ADAPTED:  # set by adapt_to; states saved before it keep the constructor's
            setattr(self, name, float(state.get(name, getattr(self, name))))
        for u, v in WIRED:
            mask = np.asarray(state[f"mask_{u}_{v}"], dtype=bool)
            if mask.shape != self.graph.edges[u, v]["mask"].shape:
                raise ValueError(
                    f"state['mask_{u}_{v}'] has shape {mask.shape}; the circuit's wiring differs."
                )
            self.graph.edges[u, v]["mask"] = mask
        self._dendrites = self.graph.edges["mossy", "granule"]["mask"]
        self.close()  # the loop is rebuilt from the loaded wiring on next use
