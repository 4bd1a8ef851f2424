"""`csdm record`: present a few inputs to the cerebellar circuit with monitors on, and write what they saw.

``OUT/recording.nwb`` (Neurodata Without Borders 2, written with pynwb, the optional extra ``[nwb]``):

- the units table: one unit per recorded cell, its spike times in s, with the columns ``population``
  (granule, golgi, mossy) and ``cell`` (its index within the population);
- the processing module ``circuit``: one ``TimeSeries`` per monitored variable and population (e.g.
  ``granule_v_mV``), data in the unit named, ``unit`` and ``conversion`` giving SI, columns the recorded cells;
- the stimulus ``mossy_rates``: each presentation's mossy fiber rates (Hz, spiking mode) or unit-norm
  input (rate mode), stamped at its start;
- the time intervals ``presentations``: start and stop of each presentation, the input's row in the test
  set, its label, the start of the read window and the number of granule cells the circuit left active.

Presentations are laid end to end (``bio/recording.py``). Beside it: ``raster.png``, ``traces.png`` and
``config.json``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # numpy, Brian2 and matplotlib load when a command runs, not with --help
    import numpy as np

    from bio.recording import Recording

NWB_EXTRA = ("csdm record writes NWB files with pynwb, which is not installed: install the extra with "
             "`pip install 'cerebellar-sdm[nwb]'` (or `pip install pynwb`)")


class RecordConfig(BaseModel):
    """Everything that determines a ``csdm record`` output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field("digits", description="digits | mnist | fashion-mnist | npz")
    data_dir: str | None = Field(None, description="folder of IDX files, or the .npz file")
    inputs: int = Field(10, ge=1, description="test inputs presented (the first N of the test set)")
    mode: Literal["rate", "spiking"] = Field("spiking", description="circuit mode (Eq. 13 rates or LIF spikes)")
    n_neurons: int = Field(1000, ge=2, description="granule cells")
    cells: int = Field(100, ge=0, description="granule cells recorded (spikes and traces): the N with the largest "
                       "drive address.x on any presented input (0: every cell); every Golgi cell is recorded")
    mossy: bool = Field(False, description="also record the mossy fibers' spikes (their rates are in the NWB stimulus)")
    gaba: Literal["mature", "young"] = Field("mature", description="GABA switch state: mature (hyperpolarising, "
                                             "Top-K-like inhibition) or young (depolarising, as a new circuit)")
    golgi_model: Literal["lif", "population"] = Field("lif", description="spiking Golgi cells: lif | population")
    codegen_target: Literal["numpy", "cython"] = Field("numpy", description="Brian2 code generation")
    seed: int = Field(0, ge=0, description="seed of the circuit's wiring, weights and spikes")


def require_pynwb() -> None:
    """Raise a one-line ValueError naming the ``[nwb]`` extra when pynwb cannot be imported."""
    try:
        import pynwb  # noqa: F401
    except ImportError:
        raise ValueError(NWB_EXTRA) from None


def recorded_cells(x: np.ndarray, address: np.ndarray, n_cells: int) -> np.ndarray:
    """The ``n_cells`` granule cells with the largest drive address^T x on any row of ``x`` (every cell where
    ``n_cells`` is 0), sorted; x is L2-normalised first, as the circuit does."""
    import numpy as np

    drive = (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)) @ address  # (inputs, n_neurons)
    if n_cells == 0 or n_cells >= drive.shape[1]:
        return np.arange(drive.shape[1])
    return np.sort(np.argsort(-drive.max(axis=0), kind="stable")[:n_cells])


def run_record(cfg: RecordConfig, out: Path) -> dict:
    """Build the circuit, record ``cfg.inputs`` test inputs, write OUT/recording.nwb, raster.png, traces.png
    and config.json; return a summary (paths, spike counts)."""
    require_pynwb()  # before anything is simulated
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder.")
    import numpy as np

    from bio import CerebellarCircuit
    from experiments.data import load_dataset
    from experiments.rundir import provenance, write_json

    data = load_dataset(cfg.dataset, cfg.data_dir)
    x, labels = data.x_test[: cfg.inputs], data.y_test[: cfg.inputs]
    circuit = CerebellarCircuit(data.n_inputs, cfg.n_neurons, data.n_classes, mode=cfg.mode, seed=cfg.seed,
                                golgi_model=cfg.golgi_model, codegen_target=cfg.codegen_target,
                                batch_size=len(x))
    if cfg.gaba == "mature":
        circuit.mature()
    cells = {"granule": recorded_cells(x, circuit.address_, cfg.cells),
             "golgi": range(circuit.graph.nodes["golgi"]["size"])}
    if cfg.mossy:
        cells["mossy"] = range(data.n_inputs)
    rec = circuit.record(x, cells=cells)
    out.mkdir(parents=True, exist_ok=True)
    x_unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    stimulus = x_unit * (circuit.max_rate_hz if cfg.mode == "spiking" else 1.0)
    write_nwb(rec, out / "recording.nwb", cfg, stimulus, labels, circuit.read_ms if cfg.mode == "spiking" else None,
              circuit.active_threshold)
    title = f"{cfg.mode} circuit, {len(x)} {cfg.dataset} inputs, {cfg.gaba} GABA"
    plot_raster(rec, out / "raster.png", title)
    plot_traces(rec, out / "traces.png", title)
    write_json(out / "config.json", {"config": cfg.model_dump(), "provenance": provenance()})
    return {"nwb": out / "recording.nwb", "raster": out / "raster.png", "traces": out / "traces.png",
            "spikes": {p: len(t) for p, t in rec.spike_times_s.items()},
            "cells": {p: len(c) for p, c in rec.cells.items()},
            "active_per_input": float((rec.activity > circuit.active_threshold).sum(axis=1).mean())}


def write_nwb(rec: Recording, path: Path, cfg: RecordConfig, stimulus: np.ndarray, labels: np.ndarray,
              read_ms: float | None, active_threshold: float) -> None:
    """Write ``rec`` (a :class:`bio.recording.Recording`) as an NWB file at ``path``, atomically.

    stimulus : (n_presentations, n_inputs) what each presentation fed the mossy fibers; labels : their
    classes; read_ms : spiking mode's read window at the end of a presentation (None in rate mode).
    """
    import h5py
    import numpy as np
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.epoch import TimeIntervals

    from experiments.rundir import atomic_write

    settings = json.dumps(cfg.model_dump(), sort_keys=True)
    nwb = NWBFile(
        session_description=f"Brian2 cerebellar granular layer ({cfg.mode} mode) presented {rec.n_presentations} "
                            f"{cfg.dataset} test inputs, {cfg.gaba} GABA",
        identifier=hashlib.sha1(settings.encode()).hexdigest(),
        session_start_time=dt.datetime.now(dt.UTC),
        experiment_description="csdm record " + settings,
        source_script="csdm record (cerebellar-sdm)",
        source_script_file_name="experiments/record.py",
    )
    spiking = [p for p in ("granule", "golgi", "mossy") if p in rec.spike_times_s and len(rec.cells[p])]
    if spiking:  # rate mode has no spikes, hence no units
        nwb.add_unit_column("population", "the cell's population: granule, golgi or mossy")
        nwb.add_unit_column("cell", "the cell's index within its population")
    for population in spiking:
        for cell in rec.cells[population]:
            nwb.add_unit(spike_times=rec.spike_times_of(population, int(cell)), population=population, cell=int(cell))
    module = nwb.create_processing_module("circuit", "Brian2 state monitors, one column per recorded cell")
    clock = None
    for trace in rec.traces:
        ts = TimeSeries(name=trace.name, data=trace.data, unit=trace.si_unit, conversion=trace.to_si,
                        timestamps=rec.times_s if clock is None else clock,
                        description=f"{trace.population} {trace.variable} ({trace.unit}); column j is "
                                    f"{trace.population} cell " + ", ".join(map(str, rec.cells[trace.population])))
        if clock is None:
            clock = ts  # later series link the first one's timestamps
        module.add(ts)
    starts = rec.intervals_s()
    nwb.add_stimulus(TimeSeries(name="mossy_rates", data=np.asarray(stimulus, dtype=np.float32),
                                unit="Hz" if cfg.mode == "spiking" else "1", timestamps=starts[:, 0],
                                description="mossy fiber rates of each presentation (spiking) or its unit-norm "
                                            "input (rate mode), held for the whole presentation"))
    intervals = TimeIntervals(name="presentations", description="one input per presentation, laid end to end")
    intervals.add_column("input", "row of the input in the test set")
    intervals.add_column("label", "class of the input")
    intervals.add_column("read_start", "start of the read window, s (spiking mode; the stop time in rate mode)")
    intervals.add_column("active_granule_cells", "granule cells the circuit left active (activity above its "
                                                 "active threshold)")
    active = (rec.activity > active_threshold).sum(axis=1)
    for p, (start, stop) in enumerate(starts):
        read = stop if read_ms is None else stop - read_ms * 1e-3
        intervals.add_row(start_time=float(start), stop_time=float(stop), input=p, label=int(labels[p]),
                          read_start=float(read), active_granule_cells=int(active[p]))
    nwb.add_time_intervals(intervals)

    def write(f) -> None:  # HDF5 into the temporary file object of atomic_write
        with h5py.File(f, "w") as h5, NWBHDF5IO(mode="w", file=h5) as io:
            io.write(nwb)

    atomic_write(path, write, mode="w+b")


def plot_raster(rec: Recording, path: Path, title: str = "") -> None:
    """Spike raster per population (spiking mode) or granule activity as a heat map (rate mode), with the
    presentation boundaries dashed."""
    import matplotlib.pyplot as plt
    import numpy as np

    from experiments.plots import _save

    pops = [p for p in ("mossy", "granule", "golgi") if p in rec.spike_times_s]
    ms = 1e3
    if pops:
        heights = [3 if p == "granule" else 1 for p in pops]
        fig, axes = plt.subplots(len(pops), 1, figsize=(9, 1.2 + 1.3 * sum(heights)), sharex=True,
                                 gridspec_kw={"height_ratios": heights}, squeeze=False)
        for ax, p in zip(axes[:, 0], pops, strict=True):
            rank = np.searchsorted(rec.cells[p], rec.spike_cells[p])  # row of each recorded cell
            ax.scatter(rec.spike_times_s[p] * ms, rank, s=2, marker="|", color="black", linewidths=0.8)
            ax.set(ylabel=f"{p}\n({len(rec.cells[p])} recorded cells)", ylim=(-0.5, max(len(rec.cells[p]), 1) - 0.5))
    else:
        act = rec.trace("granule", "act")
        fig, ax = plt.subplots(figsize=(9, 4))
        axes = np.array([[ax]])
        image = ax.imshow(act.data.T, aspect="auto", origin="lower", cmap="magma", interpolation="nearest",
                          extent=(rec.times_s[0] * ms, rec.times_s[-1] * ms, -0.5, act.data.shape[1] - 0.5))
        fig.colorbar(image, ax=ax, label="Eq. 13 activity e", pad=0.01)
        ax.set(ylabel=f"granule\n({act.data.shape[1]} recorded cells)")
    for ax in axes[:, 0]:
        for start in rec.intervals_s()[1:, 0]:
            ax.axvline(start * ms, color="tab:blue", linestyle="--", linewidth=0.6)
    axes[-1, 0].set_xlabel("time (ms), presentations end to end")
    axes[0, 0].set_title(title or "raster")
    _save(fig, path)


def plot_traces(rec: Recording, path: Path, title: str = "", n_cells: int = 3) -> None:
    """Each monitored variable over time for the ``n_cells`` most active recorded cells of its population."""
    import matplotlib.pyplot as plt
    import numpy as np

    from experiments.plots import _save

    traces = [t for t in rec.traces if t.data.size]
    if not traces:
        return
    fig, axes = plt.subplots(len(traces), 1, figsize=(9, 1.6 * len(traces) + 0.6), sharex=True, squeeze=False)
    for ax, trace in zip(axes[:, 0], traces, strict=True):
        if trace.population in rec.spike_times_s:  # the cells that fired most
            counts = np.bincount(np.searchsorted(rec.cells[trace.population], rec.spike_cells[trace.population]),
                                 minlength=trace.data.shape[1])
        else:
            counts = trace.data.max(axis=0)
        for col in np.argsort(-counts, kind="stable")[:n_cells]:
            ax.plot(rec.times_s * 1e3, trace.data[:, col], linewidth=0.7,
                    label=f"cell {rec.cells[trace.population][col]}")
        ax.set_ylabel(f"{trace.population}\n{trace.variable}" + ("" if trace.unit == "1" else f" ({trace.unit})"),
                      fontsize=8)
        ax.legend(fontsize=6, loc="upper right")
    axes[-1, 0].set_xlabel("time (ms), presentations end to end")
    axes[0, 0].set_title(title or "traces")
    _save(fig, path)


def e_gaba_entry(task: str, e_gaba_mV: np.ndarray) -> dict:
    """One point of the E_GABA history of ``csdm run``: the task just trained and every granule cell's E_GABA
    (mV, to 0.01 mV)."""
    import numpy as np

    return {"task": task, "e_gaba_mV": np.round(np.asarray(e_gaba_mV, dtype=float), 2).tolist()}


def plot_e_gaba(history: dict[str, list[dict]], path: Path, e_rest_mV: float) -> None:
    """E_GABA of every granule cell after each task (violins, one panel per circuit), resting potential dashed:
    above it GABA depolarises (young), below it inhibits (mature)."""
    import matplotlib.pyplot as plt
    import numpy as np

    from experiments.plots import _save

    fig, axes = plt.subplots(1, len(history), figsize=(4.5 * len(history), 3.5), squeeze=False, sharey=True)
    for ax, (name, entries) in zip(axes[0], history.items(), strict=True):
        values = [np.asarray(e["e_gaba_mV"]) for e in entries]
        ax.violinplot(values, showmedians=True, widths=0.8)
        ax.axhline(e_rest_mV, color="grey", linestyle="--", linewidth=0.8, label=f"rest ({e_rest_mV:g} mV)")
        ax.set_xticks(np.arange(1, len(entries) + 1), [e["task"] for e in entries], fontsize=7, rotation=30)
        ax.set(title=f"circuit ({name})", xlabel="after training task")
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("E_GABA of granule cells (mV)")
    _save(fig, path)
