"""`csdm fidelity`: which Golgi mechanisms implement Top-K, on which data, at which k.

A grid of mechanisms (named sets of the circuit's switches, rate and spiking mode) x datasets x k.
Each cell builds a mature circuit with random unit-norm addresses, sets it up from a sample of the
training inputs (the same set-up ``csdm run`` and ``csdm calibrate`` use), and measures on held-out
test inputs how the granule cells the Golgi dynamics leave active compare with the exact Top-K set
of the same weights (``bridge.fidelity``): Jaccard, the effective k (mean and coefficient of
variation over inputs), the fraction of inputs that leave no cell active. With ``transfer_epochs``
it also trains an SDMLP on the training set, copies its weights into the circuit, sets the circuit up
again and measures the read-out agreement (the circuit's class against the SDMLP's own Top-K class).

Each cell is written to ``OUT/cells/NAME.json`` atomically when it finishes, with the circuit parameters it was
measured with; a rerun skips finished cells, so an interrupted map continues where it stopped, and refuses a cell
whose circuit now resolves its parameters differently (changed defaults). ``OUT/fidelity_map.csv``, ``.md`` and
``.png`` are rewritten from the cells.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from experiments.data import Dataset, load_dataset
from experiments.rundir import write_csv, write_json

COLUMNS = ["mode", "mechanism", "dataset", "k", "jaccard", "k_mean", "k_cv", "silent", "own_count_jaccard",
           "k_drive_pearson", "readout_agreement",
           "jaccard_trained", "golgi_parameter", "golgi_value", "seconds"]


@dataclass(frozen=True)
class Mechanism:
    """A named set of circuit switches. ``circuit``: keyword arguments of :class:`bio.CerebellarCircuit`;
    ``adapt``: rate mode's data-driven set-up (:func:`bridge.calibrate.adapt_circuit`, with these keyword
    arguments) when not None, else calibration of the Golgi parameter alone (``csdm calibrate``'s)."""

    name: str
    mode: str
    summary: str
    circuit: dict[str, Any] = field(default_factory=dict)
    adapt: dict[str, Any] | None = None


MECHANISMS: tuple[Mechanism, ...] = (
    Mechanism("adapted", "rate", "Eq. 13 set from the data (feedforward inhibition, b, L = 2 x the median gap between "
              "the k-th and (k+1)-th drives, gain, dt), coupled Golgi cells, Golgi threshold calibrated to k (the "
              "default)", adapt={}),
    Mechanism("adapted-uncoupled", "rate", "as adapted, Golgi cells not coupled: each granule cell is inhibited by "
              "its own random subset of 4 Golgi cells", circuit={"golgi_coupling": 0.0}, adapt={}),
    Mechanism("adapted-depressing", "rate", "as adapted, with depressing granule -> Golgi synapses (rho 0.05): "
              "the Golgi cells count the active cells, L grades the response over the top drives (their "
              "spread)", circuit={"golgi_depression": 0.05}, adapt={}),
    Mechanism("fixed-digits", "rate", "fixed settings tuned on digits (b 0.55, L 0.2, no feedforward "
              "inhibition, integrated at a stable 0.05 ms), Golgi threshold calibrated to k",
              circuit={"granule_threshold": 0.55, "smoothing": 0.2, "feedforward_inhibition": 0.0, "dt_ms": 0.05}),
    Mechanism("lif", "spiking", "LIF Golgi cells, one per 100 granule cells, each reaching every granule cell, with "
              "a 2 ms refractory period (cell set fore2020-golgi-2ms), regular 1 kHz mossy trains, slow mossy "
              "(85.6 ms, NMDA) and slow GABA (200 ms) conductances, mossy -> Golgi feedforward excitation (0.03 nS), a "
              "10 nS granule -> Golgi feedback through depressing synapses (rho 0.05), 400 ms presentations read over "
              "their last 150 ms (the default; docs/spiking-topk.md), Golgi gain calibrated",
              circuit={"golgi_model": "lif"}),
    Mechanism("lif-fore2020", "spiking", "4 LIF Golgi cells with Fore et al. 2020's cells (10 ms Golgi refractory "
              "period, no tonic GABA) and synapses, Poisson 200 Hz mossy trains, no feedforward path, 100 ms "
              "presentations read over their last 50 ms (Fore et al.'s circuit without the Top-K mechanisms), Golgi "
              "gain calibrated",
              circuit={"golgi_model": "lif", "cell_params": "fore2020-notonic", "mossy_firing": "poisson",
                       "max_rate_hz": 200.0, "mossy_tau_ms": 12.0, "gaba_tau_ms": 20.0, "mossy_golgi_nS": 0.0,
                       "n_golgi": 4, "granule_golgi_nS": 2.0, "golgi_depression": 0.0, "presentation_ms": 100.0,
                       "read_ms": 50.0}),
    # one default mechanism taken away at a time
    Mechanism("lif-poisson", "spiking", "as lif with Poisson mossy trains instead of regular ones",
              circuit={"golgi_model": "lif", "mossy_firing": "poisson"}),
    Mechanism("lif-fast-mossy", "spiking", "as lif with Fore et al.'s 12 ms AMPA mossy conductance instead of the "
              "85.6 ms (NMDA) one", circuit={"golgi_model": "lif", "mossy_tau_ms": 12.0}),
    Mechanism("lif-nmda-40ms", "spiking", "as lif with a 40 ms mossy conductance (D'Angelo et al. 1995's NMDA decay) "
              "instead of the 85.6 ms amplitude-weighted one", circuit={"golgi_model": "lif", "mossy_tau_ms": 40.0}),
    Mechanism("lif-fast-gaba", "spiking", "as lif with Fore et al.'s 20 ms phasic GABA instead of the 200 ms slow "
              "decay", circuit={"golgi_model": "lif", "gaba_tau_ms": 20.0}),
    Mechanism("lif-gaba-100ms", "spiking", "as lif with a 100 ms GABA decay instead of 200 ms",
              circuit={"golgi_model": "lif", "gaba_tau_ms": 100.0}),
    Mechanism("lif-golgi-10ms", "spiking", "as lif with Fore et al.'s 10 ms Golgi refractory period (cell set "
              "fore2020-notonic) instead of the E-GLIF Golgi cell's 2 ms",
              circuit={"golgi_model": "lif", "cell_params": "fore2020-notonic"}),
    Mechanism("lif-sparse-golgi", "spiking", "as lif with granule cells connected to and from each Golgi cell with "
              "probability 0.9 (App. C.1) instead of 1: granule cells inhibited by different sets of Golgi cells",
              circuit={"golgi_model": "lif", "p_golgi": 0.9}),
    Mechanism("lif-4-golgi", "spiking", "as lif with 4 Golgi cells (Fore et al.'s count) instead of one per 100 "
              "granule cells", circuit={"golgi_model": "lif", "n_golgi": 4}),
    Mechanism("lif-no-feedforward", "spiking", "as lif without the mossy -> Golgi feedforward excitation (Golgi cells "
              "driven by the granule cells alone)", circuit={"golgi_model": "lif", "mossy_golgi_nS": 0.0}),
    Mechanism("lif-fore-feedback", "spiking", "as lif with Fore et al.'s 2 nS granule -> Golgi quantum instead of "
              "10 nS", circuit={"golgi_model": "lif", "granule_golgi_nS": 2.0}),
    Mechanism("lif-linear-synapses", "spiking", "as lif with linear (non-depressing) granule -> Golgi synapses",
              circuit={"golgi_model": "lif", "golgi_depression": 0.0}),
    Mechanism("lif-200ms", "spiking", "as lif with 200 ms presentations read over their last 150 ms",
              circuit={"golgi_model": "lif", "presentation_ms": 200.0, "read_ms": 150.0}),
    Mechanism("lif-100ms", "spiking", "as lif with 100 ms presentations read over their last 50 ms",
              circuit={"golgi_model": "lif", "presentation_ms": 100.0, "read_ms": 50.0}),
    Mechanism("lif-short-read", "spiking", "as lif read over the last 50 ms of the presentation instead of 150 ms",
              circuit={"golgi_model": "lif", "read_ms": 50.0}),
    # one option added at a time
    Mechanism("lif-strong-feedforward", "spiking", "as lif with twice the mossy -> Golgi feedforward quantum "
              "(0.06 nS)", circuit={"golgi_model": "lif", "mossy_golgi_nS": 0.06}),
    Mechanism("lif-strong-feedback", "spiking", "as lif with twice the granule -> Golgi quantum (20 nS)",
              circuit={"golgi_model": "lif", "granule_golgi_nS": 20.0}),
    Mechanism("lif-tonic-gaba", "spiking", "as lif with Fore et al.'s 1 nS tonic GABA-A conductance of the granule "
              "cells", circuit={"golgi_model": "lif", "tonic_gaba_nS": 1.0}),
    Mechanism("lif-golgi-golgi", "spiking", "as lif with Golgi -> Golgi inhibition (connection probability 0.5, "
              "2 nS quanta) against synchronous volleys",
              circuit={"golgi_model": "lif", "golgi_golgi_p": 0.5, "golgi_golgi_nS": 2.0}),
    Mechanism("lif-dendrites4", "spiking", "as lif with the dendrites4 anatomy: 4 mossy fibers per granule cell and "
              "Golgi cells with local territories", circuit={"golgi_model": "lif", "anatomy": "dendrites4"}),
    Mechanism("lif-golgi-noise", "spiking", "as lif with independent membrane noise of 3 mV sd in each Golgi cell "
              "(against synchronous volleys)", circuit={"golgi_model": "lif", "golgi_noise_mV": 3.0}),
    Mechanism("lif-gap-junctions", "spiking", "as lif with the Golgi cells coupled pairwise by 1 nS gap junctions "
              "(electrical coupling against synchronous volleys)", circuit={"golgi_model": "lif", "golgi_gap_nS": 1.0}),
    Mechanism("lif-golgi-thresholds", "spiking", "as lif with heterogeneous Golgi thresholds (sd 2 mV; against "
              "synchronous volleys)", circuit={"golgi_model": "lif", "golgi_threshold_sd_mV": 2.0}),
    Mechanism("population", "spiking", "Eq. 13's rate unit as the Golgi population, driven by the granule spike "
              "trains through the depressing synapses' mean-field limit s(e) (not spiking Golgi cells), the other "
              "defaults as lif, Golgi gain calibrated", circuit={"golgi_model": "population"}),
)


def mechanisms(mode: str | None = None) -> tuple[Mechanism, ...]:
    return tuple(m for m in MECHANISMS if mode in (None, "both", m.mode))


def get_mechanism(name: str) -> Mechanism:
    for m in MECHANISMS:
        if f"{m.mode}:{m.name}" == name or m.name == name:
            return m
    known = ", ".join(f"{m.mode}:{m.name}" for m in MECHANISMS)
    raise ValueError(f"unknown mechanism {name!r}; known: {known}.")


@dataclass(frozen=True)
class CellSettings:
    """What one cell depends on besides its mechanism, dataset and k (stored with it: a rerun with other
    settings into the same OUT is refused)."""

    n_neurons: int = 1000
    inputs: int = 200
    seed: int = 0
    codegen_target: str = "cython"
    transfer_epochs: int = 0


def cell_name(m: Mechanism, dataset: str, k: int) -> str:
    return f"{m.mode}-{m.name}-{dataset}-k{k}"


def _sample(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return x[np.sort(rng.choice(len(x), size=min(n, len(x)), replace=False))]


def circuit_parameters(m: Mechanism, data: Dataset, settings: CellSettings) -> dict[str, Any]:
    """Every circuit parameter (bio.groups) as the circuit of mechanism ``m`` resolves it before set-up: what a
    stored cell was measured with, so that a cell measured at other defaults is not taken for this one."""
    from bio import CerebellarCircuit
    from bio.circuit import ADAPTED
    from bio.groups import GROUP_OF

    # moved to the data by calibration and (rate mode) adapt_to; spiking mode keeps its step and other defaults
    set_up = ("golgi_gain", "golgi_threshold", *(ADAPTED if m.mode == "rate" else ()))
    circuit = CerebellarCircuit(data.n_inputs, settings.n_neurons, data.n_classes, mode=m.mode, seed=settings.seed,
                                codegen_target=settings.codegen_target, **m.circuit)
    return {name: getattr(circuit, name) for name in GROUP_OF if name not in set_up}


def setup_circuit(circuit, m: Mechanism, x: np.ndarray, k: int):
    """Set ``circuit`` up for ``k`` on inputs ``x`` as mechanism ``m`` says; return the Calibration."""
    from bridge.calibrate import adapt_circuit, calibrate_golgi, golgi_search

    if m.adapt is not None:
        return adapt_circuit(circuit, x, k, **m.adapt)
    parameter, bracket = golgi_search(m.mode, circuit.golgi_model)
    return calibrate_golgi(circuit, x, k, parameter, bracket)


def measure_cell(m: Mechanism, data: Dataset, dataset: str, k: int, settings: CellSettings) -> dict[str, Any]:
    """One cell of the map: set up a mature circuit of mechanism ``m`` on a training sample of ``data``,
    measure Top-K fidelity on a test sample (and, with ``transfer_epochs``, after a weight transfer)."""
    import time

    from ann import SDMLP
    from bio import CerebellarCircuit
    from bridge.paired import measure_fidelity
    from bridge.transfer import transfer_weights

    start = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    x_setup, x_eval = _sample(data.x_train, settings.inputs, rng), _sample(data.x_test, settings.inputs, rng)
    circuit = CerebellarCircuit(data.n_inputs, settings.n_neurons, data.n_classes, mode=m.mode, seed=settings.seed,
                                codegen_target=settings.codegen_target, **m.circuit)
    circuit.mature()
    cal = setup_circuit(circuit, m, x_setup, k)
    fid = measure_fidelity(circuit, x_eval, k)
    row = {"mode": m.mode, "mechanism": m.name, "dataset": dataset, "k": k, "jaccard": fid["jaccard_mean"],
           "k_mean": fid["effective_k_mean"], "k_cv": fid["effective_k_sd"] / max(fid["effective_k_mean"], 1e-12),
           "silent": fid["silent_fraction"], "own_count_jaccard": fid["own_count_jaccard_mean"],
           "k_drive_pearson": fid["k_drive_pearson"], "readout_agreement": float("nan"),
           "jaccard_trained": float("nan"), "golgi_parameter": cal.parameter, "golgi_value": cal.value}
    if settings.transfer_epochs:
        ann = SDMLP(data.n_inputs, settings.n_neurons, data.n_classes, k=k, anneal_epochs=0, device="cpu",
                    seed=settings.seed)
        ann.fit_task(data.x_train, data.y_train, epochs=settings.transfer_epochs)
        transfer_weights(ann, circuit)
        setup_circuit(circuit, m, x_setup, k)
        trained = measure_fidelity(circuit, x_eval, k)
        row.update(readout_agreement=trained["readout_agreement"], jaccard_trained=trained["jaccard_mean"])
    circuit.close()
    row["seconds"] = time.perf_counter() - start
    return row


def run_map(mode: str, names: Sequence[str] | None, datasets: Sequence[tuple[str, str | None]], ks: Sequence[int],
            settings: CellSettings, out: Path, on_cell: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Every (mechanism, dataset, k) cell into ``out/cells``; return the rows (finished cells read back)."""
    chosen = [get_mechanism(n) for n in names] if names else list(mechanisms(mode))
    cells = out / "cells"
    rows = []
    for dataset, data_dir in datasets:
        data = load_dataset(dataset, data_dir)
        for m in chosen:
            for k in ks:
                path = cells / f"{cell_name(m, dataset, k)}.json"
                stored = json.loads(path.read_text()) if path.exists() else None
                if stored is not None and stored.get("settings") != vars(settings):
                    raise ValueError(f"{path} was measured with other settings ({stored.get('settings')}); choose "
                                     "another --out or delete that folder.")
                parameters = circuit_parameters(m, data, settings)
                if stored is not None and stored.get("circuit", parameters) != parameters:
                    changed = sorted(n for n in parameters if stored["circuit"].get(n) != parameters[n])
                    raise ValueError(f"{path} was measured with other circuit parameters ({', '.join(changed)}: the "
                                     "circuit's defaults have changed since); delete that cell to measure it again.")
                if stored is None:
                    if on_cell is not None:
                        on_cell(cell_name(m, dataset, k))
                    stored = {"settings": vars(settings), "circuit": parameters,
                              "row": measure_cell(m, data, dataset, k, settings)}
                    write_json(path, stored)
                rows.append(stored["row"])
    write_outputs(stored_rows(out), out)  # the folder's map: every cell stored there, from any command
    return rows


def stored_rows(out: Path) -> list[dict[str, Any]]:
    """The row of every cell stored in ``out/cells``, by mode, dataset (digits, MNIST, Fashion-MNIST, then by
    name), mechanism (in :data:`MECHANISMS` order) and k."""
    datasets = ("digits", "mnist", "fashion-mnist")
    order = {(m.mode, m.name): i for i, m in enumerate(MECHANISMS)}
    rows = [json.loads(p.read_text())["row"] for p in sorted((out / "cells").glob("*.json"))]
    return sorted(rows, key=lambda r: (r["mode"], datasets.index(r["dataset"]) if r["dataset"] in datasets else 3,
                                       r["dataset"], order.get((r["mode"], r["mechanism"]), len(order)), r["k"]))


def format_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The map as a Markdown table, one row per cell, mechanisms described below it."""
    head = ("| mode | mechanism | dataset | k | Jaccard | k mean | k cv | silent inputs | Jaccard at own k | "
            "r(k, mean drive) | read-out agreement (transfer) | Jaccard (transfer) |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|")

    def num(v: Any, fmt: str) -> str:
        return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, fmt)

    lines = [head] + [f"| {r['mode']} | {r['mechanism']} | {r['dataset']} | {r['k']} | {num(r['jaccard'], '.3f')} | "
                      f"{num(r['k_mean'], '.1f')} | {num(r['k_cv'], '.2f')} | {num(r['silent'], '.1%')} | "
                      f"{num(r.get('own_count_jaccard'), '.3f')} | {num(r.get('k_drive_pearson'), '.2f')} | "
                      f"{num(r['readout_agreement'], '.3f')} | {num(r['jaccard_trained'], '.3f')} |" for r in rows]
    used = {(r["mode"], r["mechanism"]) for r in rows}
    lines += ["", "Mechanisms:", ""]
    lines += [f"- `{m.mode}:{m.name}`: {m.summary}." for m in MECHANISMS if (m.mode, m.name) in used]
    return "\n".join(lines) + "\n"


def write_outputs(rows: Sequence[dict[str, Any]], out: Path) -> None:
    """fidelity_map.csv, fidelity_map.md and fidelity_map.png from the rows."""
    from experiments.plots import plot_fidelity_map
    from experiments.rundir import atomic_write

    write_csv(out / "fidelity_map.csv", COLUMNS, [[r.get(c, float("nan")) for c in COLUMNS] for r in rows])
    stored = read_rows(out / "fidelity_map.csv")  # the table is rendered from the file kept, so it regenerates
    atomic_write(out / "fidelity_map.md", lambda f: f.write(format_markdown(stored)))
    plot_fidelity_map(rows, out / "fidelity_map.png")


def read_rows(csv_path: Path) -> list[dict[str, Any]]:
    """The rows of a stored fidelity_map.csv (numbers parsed, empty cells NaN)."""
    import csv

    def parse(key: str, v: str) -> Any:
        if key in ("mode", "mechanism", "dataset", "golgi_parameter"):
            return v
        if key == "k":
            return int(v)
        return float(v) if v != "" else float("nan")

    with open(csv_path, newline="") as f:
        return [{k: parse(k, v) for k, v in row.items()} for row in csv.DictReader(f)]

