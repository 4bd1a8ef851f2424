"""Recording: Brian2 spike and state monitors on a chosen subset of the circuit's cells.

A loop (:class:`bio.spiking.SpikingLoop` or :class:`bio.golgi.RateLoop`) simulates ``n_copies``
presentations side by side, each in its own copy of the circuit, and resets every state at the start of a
presentation. :func:`record_runs` adds a ``SpikeMonitor`` per spiking population and a ``StateMonitor``
per population with variables to the loop's ``network`` for one run and removes them afterwards, so the
network that later runs is the one that ran before. Monitors only read state (Brian2 schedules them in
their own slots and they draw no random numbers), so the activity a run returns is the same with and
without them.

The presentations are laid end to end in time, as a circuit meeting its inputs one after another
would see them: presentation p spans [p T, (p + 1) T) with T the presentation time, and cell j of a
population is the same unit in every presentation (the copies share wiring and weights). Monitored values
are kept in the display unit named in their key (``v_mV``, ``g_gaba_nS``, ``E_gaba_mV``); Brian2's
base unit and the factor to it are kept beside them (e.g. NWB's ``unit`` and ``conversion``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import brian2 as b2
import numpy as np
from brian2.units.fundamentalunits import DIMENSIONLESS

if TYPE_CHECKING:
    from bio.golgi import RateLoop
    from bio.spiking import SpikingLoop

POPULATIONS = ("mossy", "granule", "golgi")
# the unit each physical dimension is shown in (the biophysics' usual scale; Brian2's base unit otherwise)
DISPLAY_UNITS = (b2.mV, b2.nS, b2.pA, b2.mmolar, b2.Hz, b2.ms, b2.pF)
# default variables per population and loop, where the group has them (``bio/equations.py``): the state of a
# granule cell (membrane potential, mossy and GABA conductances, GABA reversal), of a Golgi cell; rate mode's
# Eq. 13 activities, Golgi input and GABA sign lambda. Chloride concentrations (dimension mM) are added
# wherever a group carries them.
DEFAULT_VARIABLES = {
    "spiking": {"granule": ("v", "g_e", "g_gaba", "E_gaba", "act", "inh"), "golgi": ("v", "g_e", "g_i", "act")},
    "rate": {"granule": ("act", "inh", "lam"), "golgi": ("act", "exc")},
}


@dataclass(frozen=True)
class Trace:
    """One monitored variable of one population: ``data`` (n_steps, n_cells) float32 in ``unit``.

    ``data * to_si`` is in Brian2's base unit ``si_unit`` (``unit`` '1': dimensionless). Row i is the sample
    taken at ``Recording.times_s[i]`` (Brian2's StateMonitor reads at the start of each step).
    """

    population: str
    variable: str
    unit: str
    si_unit: str
    to_si: float
    data: np.ndarray

    @property
    def name(self) -> str:
        """``population_variable_unit``, e.g. 'granule_v_mV' ('granule_act' when dimensionless)."""
        return f"{self.population}_{self.variable}" + ("" if self.unit == "1" else f"_{self.unit}")


@dataclass(frozen=True)
class Recording:
    """What the monitors saw over a batch of presentations laid end to end.

    Attributes
    ----------
    presentation_s, dt_s : presentation time and integration step, s.
    times_s : (n_steps,) the time of each trace sample, s from the start of the recording: the steps of
        each presentation, offset by its start (where the step does not divide the presentation time, Brian2's
        clock may give runs one step more or less).
    n_presentations : presentations recorded; presentation p spans [p, p + 1) * presentation_s.
    cells : population -> the indices (within one circuit) of the cells recorded, sorted.
    spike_cells, spike_times_s : population -> cell index and time (s, from the start of the recording) of
        every spike of a recorded cell, in time order (spiking populations only).
    traces : monitored variables (:class:`Trace`), sampled every step at ``times_s``.
    activity : the granule activity the circuit reports for each presentation, (n_presentations,
        n_neurons) float32: what ``CerebellarCircuit.hidden`` returns for the same inputs.
    cell_values : per recorded granule cell values held over the recording (e.g. 'e_gaba_mV',
        'chloride_mM'), added by the circuit (:meth:`with_cell_values`).
    """

    presentation_s: float
    dt_s: float
    times_s: np.ndarray
    n_presentations: int
    cells: dict[str, np.ndarray]
    spike_cells: dict[str, np.ndarray]
    spike_times_s: dict[str, np.ndarray]
    traces: tuple[Trace, ...]
    activity: np.ndarray
    cell_values: dict[str, np.ndarray] = field(default_factory=dict)

    def with_cell_values(self, **values: np.ndarray) -> Recording:
        """A copy with ``values`` added to :attr:`cell_values`."""
        return replace(self, cell_values={**self.cell_values, **values})

    def intervals_s(self) -> np.ndarray:
        """(n_presentations, 2): start and stop time of each presentation, s."""
        start = np.arange(self.n_presentations) * self.presentation_s
        return np.stack([start, start + self.presentation_s], axis=1)

    def spike_times_of(self, population: str, cell: int) -> np.ndarray:
        """Spike times (s) of one recorded cell."""
        return self.spike_times_s[population][self.spike_cells[population] == cell]

    def trace(self, population: str, variable: str) -> Trace:
        for t in self.traces:
            if (t.population, t.variable) == (population, variable):
                return t
        have = ", ".join(f"{t.population}.{t.variable}" for t in self.traces) or "none"
        raise KeyError(f"No trace of {population}.{variable} was recorded (recorded: {have}).")


def _groups(loop: RateLoop | SpikingLoop) -> dict[str, b2.Group]:
    return {name: getattr(loop, name) for name in POPULATIONS if hasattr(loop, name)}


def _display(dim) -> tuple[str, str, float]:
    """(display unit, Brian2 base unit, display-to-base factor) of a physical dimension."""
    if dim == DIMENSIONLESS:
        return "1", "1", 1.0
    for unit in DISPLAY_UNITS:
        if unit.dim == dim:
            return str(unit), str(b2.get_unit(dim)), float(unit)
    base = b2.get_unit(dim)
    return str(base), str(base), 1.0


def default_variables(loop: RateLoop | SpikingLoop) -> dict[str, tuple[str, ...]]:
    """The variables recorded when none are asked for: DEFAULT_VARIABLES where the group has them, and any
    per-cell concentration (chloride) the group carries."""
    kind = "rate" if not hasattr(loop, "mossy") else "spiking"
    out = {}
    for name, group in _groups(loop).items():
        wanted = [v for v in DEFAULT_VARIABLES[kind].get(name, ()) if v in group.variables]
        wanted += [v for v, var in group.variables.items() if var.dim == b2.mmolar.dim and v not in wanted
                   and not var.scalar]
        if wanted:
            out[name] = tuple(wanted)
    return out


def _check(loop: RateLoop | SpikingLoop, variables: Mapping[str, Sequence[str]],
           cells: Mapping[str, Sequence[int]] | None) -> tuple[dict[str, tuple[str, ...]], dict[str, np.ndarray]]:
    """Validate the populations, variables and cell indices asked for; return them with cells sorted."""
    groups = _groups(loop)
    for name in (*variables, *(cells or {})):
        if name not in groups:
            raise ValueError(f"Cannot record population {name!r}: this circuit's loop has {', '.join(groups)}.")
    for name, names in variables.items():
        per_cell = {v for v, var in groups[name].variables.items() if not var.scalar and not v.startswith("_")
                    and v not in ("i", "N", "t", "dt", "t_in_timesteps")}
        missing = [v for v in names if v not in per_cell]
        if missing:
            raise ValueError(f"{name} cells have no per-cell variable {', '.join(map(repr, missing))} in this "
                             f"circuit (they have: {', '.join(sorted(per_cell))}).")
    size = {name: len(group) // loop.n_copies for name, group in groups.items()}
    if cells is None:  # every granule and Golgi cell (mossy fibers only when asked for)
        cells = {name: range(size[name]) for name in groups if name != "mossy"}
    chosen = {}
    for name, idx in cells.items():
        idx = np.unique(np.asarray(list(idx), dtype=np.int64))
        if len(idx) and (idx[0] < 0 or idx[-1] >= size[name]):
            raise ValueError(f"Cell indices of {name} must lie in [0, {size[name]}). Got {idx[0]} ... {idx[-1]}.")
        chosen[name] = idx
    return {name: tuple(v) for name, v in variables.items() if name in chosen and v}, chosen


def record_runs(loop: RateLoop | SpikingLoop, runs: Iterable[tuple], presentation_ms: float,
                variables: Mapping[str, Sequence[str]] | None = None,
                cells: Mapping[str, Sequence[int]] | None = None) -> Recording:
    """Run ``loop.run(*args)`` for each ``args`` of ``runs`` with monitors attached; return the recording.

    variables : population -> variable names to monitor (default :func:`default_variables`); every name is
        checked against the Brian2 group, so a misspelt one fails before anything runs.
    cells : population -> indices of the cells (within one circuit) to record; default every granule and
        Golgi cell. Spikes and traces are kept for these cells only.
    """
    variables = default_variables(loop) if variables is None else variables
    variables, cells = _check(loop, variables, cells)
    groups = _groups(loop)
    size = {name: len(group) // loop.n_copies for name, group in groups.items()}
    spiking = [name for name, g in groups.items() if len(cells.get(name, ())) and "spike" in g.events]
    spikes: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in spiking}
    samples: dict[tuple[str, str], list[np.ndarray]] = {(p, v): [] for p, names in variables.items() for v in names}
    activity, times, done = [], [], 0
    for args in runs:
        batch = len(args[0])
        spike_mons = {name: b2.SpikeMonitor(groups[name]) for name in spiking}
        state_mons = {name: b2.StateMonitor(groups[name], list(names),
                                            record=(np.arange(batch)[:, None] * size[name] + cells[name]).ravel())
                      for name, names in variables.items() if len(cells[name])}
        monitors = [*spike_mons.values(), *state_mons.values()]
        start = loop.network.t
        loop.network.add(*monitors)
        try:
            activity.append(loop.run(*args))
        finally:
            loop.network.remove(*monitors)
        offset_s = done * presentation_ms * 1e-3
        for name, mon in spike_mons.items():
            copy, cell = np.divmod(np.asarray(mon.i[:]), size[name])
            t = np.asarray((mon.t[:] - start) / b2.second)
            keep = (copy < batch) & np.isin(cell, cells[name])
            spikes[name].append((cell[keep], offset_s + copy[keep] * presentation_ms * 1e-3 + t[keep]))
        if state_mons:  # every group runs on the granule cells' clock
            steps = np.asarray((next(iter(state_mons.values())).t[:] - start) / b2.second)
            times.append((offset_s + np.arange(batch)[:, None] * presentation_ms * 1e-3 + steps).ravel())
        for name, mon in state_mons.items():
            for v in variables[name]:
                values = np.asarray(getattr(mon, v + "_"))  # (batch * n_cells, n_steps), base units
                _, _, to_si = _display(groups[name].variables[v].dim)
                values = values.reshape(batch, len(cells[name]), -1).transpose(0, 2, 1) / to_si
                samples[name, v].append(values.reshape(-1, len(cells[name])))  # (batch * n_steps, n_cells)
        done += batch
    dt_s = float(groups["granule"].clock.dt / b2.second)
    traces = []
    for (name, v), parts in samples.items():
        unit, si_unit, to_si = _display(groups[name].variables[v].dim)
        data = np.concatenate(parts) if parts else np.zeros((0, len(cells[name])))
        traces.append(Trace(name, v, unit, si_unit, to_si, data.astype(np.float32)))
    spike_cells, spike_times = {}, {}
    for name, parts in spikes.items():
        cell = np.concatenate([c for c, _ in parts]) if parts else np.zeros(0, np.int64)
        t = np.concatenate([s for _, s in parts]) if parts else np.zeros(0)
        order = np.argsort(t, kind="stable")
        spike_cells[name], spike_times[name] = cell[order].astype(np.int64), t[order]
    n_neurons = size["granule"]
    return Recording(
        presentation_s=presentation_ms * 1e-3, dt_s=dt_s, times_s=np.concatenate(times) if times else np.zeros(0),
        n_presentations=done, cells=cells,
        spike_cells=spike_cells, spike_times_s=spike_times, traces=tuple(traces),
        activity=np.concatenate(activity) if activity else np.zeros((0, n_neurons), np.float32),
    )
