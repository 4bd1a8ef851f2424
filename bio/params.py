"""Literature parameter sets of the spiking granular layer: granule cell, Golgi cell, synapses.

Each group is a frozen dataclass of Brian2 quantities, checked on construction (dimension of every
value, then physiological ranges); :class:`CellParams` bundles the three groups with the source of
every value. The named sets (:data:`CELL_PARAMS`) are instances:

- ``fore2020``: Fore et al. 2020, J Neurosci 40:2882 (Brian2 granular layer), with the granule
  cells' 1 nS tonic GABA-A conductance. Values from the parameter block of the authors' model code
  (``chatmodel``, the version with g_t_GrC 1 nS, tau_e 12 ms, tau_i 20 ms; their code changed
  g_l_GrC and the decays across commits, so the version is named by those values).
- ``fore2020-notonic``: the same without tonic GABA: the constants of ``bio.spiking.CONSTANTS``.
- ``fore2020-golgi-2ms`` (the default): ``fore2020-notonic`` with the Golgi cell's 2 ms absolute refractory period
  of the E-GLIF Golgi cell (Geminiani et al. 2018) instead of Fore et al.'s 10 ms, which caps a Golgi cell at
  100 Hz and with it the Golgi cells' response to many active granule cells (docs/spiking-topk.md, row
  lif-golgi-10ms).
- ``geminiani2019-lif``: the passive membrane, threshold, reset and refractory period of the E-GLIF
  granule and Golgi cells of Geminiani et al. 2019, Front Comput Neurosci 13:35 (Golgi cell: Geminiani
  et al. 2018, Front Neuroinform 12:88), as configured in the BSB mouse model
  (dbbs-lab/cerebellar-models ``configurations/mouse/nest/basal.yaml`` at commit 08c955d). Only the
  leaky integrate-and-fire part is taken: E-GLIF's adaptation and spike-triggered currents (k_adap,
  k_1, k_2, A1, A2) and the endogenous currents I_e are left out, so these cells do not pace.

A set fixes cell constants only; the circuit's Top-K mechanisms (``bio/spiking.py``: mossy and GABA
decays ``mossy_tau_ms`` / ``gaba_tau_ms``, quanta, Golgi gain) and simulation settings stay circuit
arguments. A user adds a set as a TOML file (:func:`from_toml`): values as strings with a unit
(``C_m = "7 pF"``), optionally ``base = "NAME"`` to start from a named set, and a ``citation``.

Range checks (:data:`RANGES`) are wide on purpose: they enclose every model above (granule input
resistance 0.8-5 GOhm, tau_m 2.6-24 ms) and catch unit slips (a factor 1,000) and impossible orderings
(a reset above threshold), not the natural variability of the cells.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import brian2 as b2

OWNER = "CellParams"
# Units accepted in a TOML set: a whitelist, so that a string never reaches an evaluator.
UNITS = {"pF": b2.pF, "nF": b2.nF, "pS": b2.psiemens, "nS": b2.nS, "uS": b2.uS, "mV": b2.mV, "V": b2.volt,
         "us": b2.us, "ms": b2.ms, "s": b2.second}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]+)\s*$")


def _param(unit: b2.Quantity, doc: str) -> dataclasses.Field:
    return field(metadata={"unit": unit, "doc": doc})


def _check_dimensions(group: object) -> None:
    """Each field must be a Brian2 quantity of its declared unit's dimension."""
    for f in dataclasses.fields(group):
        value, unit = getattr(group, f.name), f.metadata["unit"]
        if not isinstance(value, b2.Quantity) or not value.shape == () \
                or b2.get_dimensions(value) != b2.get_dimensions(unit):
            raise ValueError(f"The '{f.name}' parameter of {type(group).__name__} must be a scalar Brian2 quantity "
                             f"in {unit.dim} (e.g. {1 * unit!r}). Got {value!r}.")


def _check_range(group: str, name: str, value: b2.Quantity) -> None:
    low, high = RANGES[group, name]
    if not low <= value <= high:
        raise ValueError(f"{group} {name} = {value!r} lies outside the physiological range [{low!r}, {high!r}] "
                         f"checked by {OWNER}; check the value and its unit.")


def _check_membrane(group: object, label: str, g_rest: b2.Quantity) -> None:
    """Shared checks of a LIF membrane: ranges of every value and of the derived tau_m and input resistance,
    and reset <= threshold, rest < threshold."""
    for f in dataclasses.fields(group):
        if (label, f.name) in RANGES:
            _check_range(label, f.name, getattr(group, f.name))
    _check_range(label, "tau_m", group.C_m / g_rest)
    _check_range(label, "R_in", 1 / g_rest)
    if group.V_reset > group.V_th:
        raise ValueError(f"{label} V_reset ({group.V_reset!r}) must not lie above V_th ({group.V_th!r}).")
    if group.E_L >= group.V_th:
        raise ValueError(f"{label} E_L ({group.E_L!r}) must lie below V_th ({group.V_th!r}): a cell at rest above "
                         "threshold fires without input.")


@dataclass(frozen=True)
class _Membrane:
    """The conductance-based LIF membrane both cell types share; ``label`` names the cell in range checks."""

    label: ClassVar[str]
    C_m: b2.Quantity = _param(b2.pF, "membrane capacitance")
    g_L: b2.Quantity = _param(b2.nS, "leak conductance")
    E_L: b2.Quantity = _param(b2.mV, "leak reversal (rest)")
    V_th: b2.Quantity = _param(b2.mV, "spike threshold")
    V_reset: b2.Quantity = _param(b2.mV, "reset potential")
    refractory: b2.Quantity = _param(b2.ms, "absolute refractory period")

    def __post_init__(self) -> None:
        _check_dimensions(self)
        _check_membrane(self, self.label, self.g_rest)

    @property
    def g_rest(self) -> b2.Quantity:
        """Conductance open at rest: the leak."""
        return self.g_L

    @property
    def tau_m(self) -> b2.Quantity:
        """Membrane time constant at rest, C_m / g_rest."""
        return self.C_m / self.g_rest

    @property
    def R_in(self) -> b2.Quantity:
        """Input resistance at rest, 1 / g_rest."""
        return 1 / self.g_rest


@dataclass(frozen=True)
class Granule(_Membrane):
    """Conductance-based LIF granule cell (``bio.equations.GRANULE_LIF``)."""

    label: ClassVar[str] = "granule"
    g_tonic: b2.Quantity = _param(b2.nS, "tonic GABA-A conductance (reversal: the cell's E_GABA from chloride)")

    @property
    def g_rest(self) -> b2.Quantity:
        """Conductance open at rest: the leak and the tonic GABA-A conductance."""
        return self.g_L + self.g_tonic


@dataclass(frozen=True)
class Golgi(_Membrane):
    """Conductance-based LIF Golgi cell (``bio.equations.GOLGI_LIF``)."""

    label: ClassVar[str] = "golgi"


@dataclass(frozen=True)
class Synapses:
    """Reversals and decays of the synaptic conductances (exponential decay after each spike).

    ``tau_e`` is the AMPA decay of the Golgi cells' excitation (the granule cells' mossy conductance decays
    with the circuit's ``mossy_tau_ms``); ``tau_i`` the GABA-A decay between Golgi cells (Golgi -> granule
    decays with the circuit's ``gaba_tau_ms``); ``E_i`` the Golgi cells' GABA-A reversal (granule cells
    take theirs from their chloride, ``bio/chloride.py``).
    """

    E_e: b2.Quantity = _param(b2.mV, "excitatory (AMPA) reversal")
    E_i: b2.Quantity = _param(b2.mV, "GABA-A reversal of Golgi cells")
    tau_e: b2.Quantity = _param(b2.ms, "AMPA conductance decay")
    tau_i: b2.Quantity = _param(b2.ms, "GABA-A conductance decay")

    def __post_init__(self) -> None:
        _check_dimensions(self)
        for f in dataclasses.fields(self):
            _check_range("synapses", f.name, getattr(self, f.name))


GROUPS = {"granule": Granule, "golgi": Golgi, "synapses": Synapses}

# Physiological bounds (see the module docstring: wide, to catch unit slips and impossible values).
RANGES = {
    ("granule", "tau_m"): (1 * b2.ms, 50 * b2.ms),
    ("granule", "R_in"): (0.1 * b2.Gohm, 10 * b2.Gohm),
    ("granule", "g_tonic"): (0 * b2.nS, 10 * b2.nS),
    ("granule", "E_L"): (-90 * b2.mV, -50 * b2.mV),
    ("granule", "V_th"): (-65 * b2.mV, -30 * b2.mV),
    ("granule", "V_reset"): (-100 * b2.mV, -40 * b2.mV),
    ("granule", "refractory"): (0.1 * b2.ms, 20 * b2.ms),
    ("golgi", "tau_m"): (5 * b2.ms, 100 * b2.ms),
    ("golgi", "R_in"): (0.03 * b2.Gohm, 3 * b2.Gohm),
    ("golgi", "E_L"): (-90 * b2.mV, -40 * b2.mV),
    ("golgi", "V_th"): (-65 * b2.mV, -30 * b2.mV),
    ("golgi", "V_reset"): (-100 * b2.mV, -40 * b2.mV),
    ("golgi", "refractory"): (0.1 * b2.ms, 20 * b2.ms),
    ("synapses", "E_e"): (-10 * b2.mV, 10 * b2.mV),
    ("synapses", "E_i"): (-100 * b2.mV, -50 * b2.mV),
    ("synapses", "tau_e"): (0.1 * b2.ms, 50 * b2.ms),
    ("synapses", "tau_i"): (0.1 * b2.ms, 200 * b2.ms),
}


@dataclass(frozen=True)
class CellParams:
    """A named parameter set: the three groups and the source of every value (keys ``"group.name"``)."""

    name: str
    citation: str
    granule: Granule
    golgi: Golgi
    synapses: Synapses
    sources: Mapping[str, str]

    def __post_init__(self) -> None:
        for group, cls in GROUPS.items():
            if not isinstance(getattr(self, group), cls):
                raise ValueError(f"The '{group}' group of {OWNER} {self.name!r} must be a bio.params.{cls.__name__}. "
                                 f"Got {type(getattr(self, group)).__name__}.")
        missing = [key for key in parameter_keys() if not str(self.sources.get(key, "")).strip()]
        if missing:
            raise ValueError(f"{OWNER} {self.name!r} gives no source for {', '.join(missing)}; every value cites one.")
        object.__setattr__(self, "sources", dict(self.sources))  # a copy (picklable, for worker processes)

    def namespace(self) -> dict[str, b2.Quantity]:
        """The Brian2 run-namespace names of the spiking model (``bio/equations.py``) and their values."""
        g, o, s = self.granule, self.golgi, self.synapses
        return dict(C_m=g.C_m, g_L=g.g_L, E_L=g.E_L, V_th=g.V_th, V_reset=g.V_reset, g_tonic=g.g_tonic,
                    C_g=o.C_m, g_Lg=o.g_L, E_Lg=o.E_L, V_reset_golgi=o.V_reset,
                    E_e=s.E_e, tau_e=s.tau_e, tau_gaba=s.tau_i, tau_gaba_golgi=s.tau_i, E_gaba_golgi=s.E_i)

    def table(self) -> list[tuple[str, str, float, str, str]]:
        """Rows (parameter, description, value, unit, source), derived tau_m and R_in included."""
        rows = []
        for group in GROUPS:
            values = getattr(self, group)
            for f in dataclasses.fields(values):
                unit = f.metadata["unit"]
                rows.append((f"{group}.{f.name}", f.metadata["doc"], float(getattr(values, f.name) / unit),
                             str(unit), self.sources[f"{group}.{f.name}"]))
            if group != "synapses":
                leak = "g_L + g_tonic" if group == "granule" else "g_L"
                rows.append((f"{group}.tau_m", "membrane time constant at rest", float(values.tau_m / b2.ms), "ms",
                             f"derived: C_m / ({leak})"))
                rows.append((f"{group}.R_in", "input resistance at rest", float(values.R_in / b2.Gohm), "GOhm",
                             f"derived: 1 / ({leak})"))
        return rows


def parameter_keys() -> list[str]:
    """Every ``"group.name"`` a set must give (and cite)."""
    return [f"{group}.{f.name}" for group, cls in GROUPS.items() for f in dataclasses.fields(cls)]


_FORE_CODE = "Fore et al. 2020, J Neurosci 40:2882, model code (chatmodel, g_t_GrC 1 nS version)"
FORE2020 = CellParams(
    name="fore2020",
    citation="Fore TR, Taylor BN, Brunel N, Hull C (2020) J Neurosci 40:2882 (granular layer in Brian2)",
    granule=Granule(C_m=3.1 * b2.pF, g_L=0.2 * b2.nS, g_tonic=1.0 * b2.nS, E_L=-75 * b2.mV, V_th=-55 * b2.mV,
                    V_reset=-75 * b2.mV, refractory=2 * b2.ms),
    golgi=Golgi(C_m=60 * b2.pF, g_L=3 * b2.nS, E_L=-51 * b2.mV, V_th=-50 * b2.mV, V_reset=-55 * b2.mV,
                refractory=10 * b2.ms),
    synapses=Synapses(E_e=0 * b2.mV, E_i=-75 * b2.mV, tau_e=12 * b2.ms, tau_i=20 * b2.ms),
    sources={f"{group}.{name}": f"{_FORE_CODE}: {variable}" for group, names in (
        ("granule", dict(C_m="C_m_GrC", g_L="g_l_GrC", g_tonic="g_t_GrC", E_L="E_l_GrC", V_th="V_th_GrC",
                         V_reset="V_r_GrC", refractory="tau_r_GrC")),
        ("golgi", dict(C_m="C_m_GoC", g_L="g_l_GoC", E_L="E_l_GoC", V_th="V_th_GoC", V_reset="V_r_GoC",
                       refractory="tau_r_GoC")),
        ("synapses", dict(E_e="E_e_GrC, E_e_GoC", E_i="E_i_GoC", tau_e="tau_e_decay_GoC", tau_i="tau_i_decay_GrC")),
    ) for name, variable in names.items()},
)

FORE2020_NOTONIC = dataclasses.replace(
    FORE2020,
    name="fore2020-notonic",
    citation=FORE2020.citation + "; without the granule cells' tonic GABA",
    granule=dataclasses.replace(FORE2020.granule, g_tonic=0 * b2.nS),
    sources={**FORE2020.sources, "granule.g_tonic": "0: tonic GABA left out (the circuit's slow GABA decay, "
                                                     "gaba_tau_ms, stands for the slow inhibition; bio.spiking)"},
)

_BSB = ("Geminiani et al. 2019, Front Comput Neurosci 13:35 (E-GLIF); dbbs-lab/cerebellar-models "
        "configurations/mouse/nest/basal.yaml @08c955d")
_BSB_GOLGI = "Geminiani et al. 2018, Front Neuroinform 12:88 (E-GLIF Golgi cell); " + _BSB.split("; ")[1]
GEMINIANI2019_LIF = CellParams(
    name="geminiani2019-lif",
    citation="Geminiani A, Casellato C, D'Angelo E, Pedrocchi A (2019) Front Comput Neurosci 13:35; "
             "Geminiani et al. (2018) Front Neuroinform 12:88 (E-GLIF; LIF part only)",
    # g_L = C_m / tau_m: the E-GLIF models give tau_m (granule 24.15 ms, Golgi 44 ms), not g_L
    granule=Granule(C_m=7 * b2.pF, g_L=7 * b2.pF / (24.15 * b2.ms), g_tonic=0 * b2.nS, E_L=-62 * b2.mV,
                    V_th=-41 * b2.mV, V_reset=-70 * b2.mV, refractory=1.5 * b2.ms),
    golgi=Golgi(C_m=145 * b2.pF, g_L=145 * b2.pF / (44 * b2.ms), E_L=-62 * b2.mV, V_th=-55 * b2.mV,
                V_reset=-75 * b2.mV, refractory=2 * b2.ms),
    synapses=Synapses(E_e=0 * b2.mV, E_i=-80 * b2.mV, tau_e=5.8 * b2.ms, tau_i=13.61 * b2.ms),
    sources={
        **{f"granule.{name}": f"{_BSB}: granule_cell {key}" for name, key in
           dict(C_m="C_m", E_L="E_L", V_th="V_th", V_reset="V_reset", refractory="t_ref").items()},
        "granule.g_L": f"{_BSB}: granule_cell C_m / tau_m (7 pF / 24.15 ms)",
        "granule.g_tonic": "0: E-GLIF has no tonic GABA conductance",
        **{f"golgi.{name}": f"{_BSB_GOLGI}: golgi_cell {key}" for name, key in
           dict(C_m="C_m", E_L="E_L", V_th="V_th", V_reset="V_reset", refractory="t_ref").items()},
        "golgi.g_L": f"{_BSB_GOLGI}: golgi_cell C_m / tau_m (145 pF / 44 ms)",
        "synapses.E_e": f"{_BSB}: E_rev1",
        "synapses.E_i": f"{_BSB}: E_rev2",
        "synapses.tau_e": f"{_BSB}: granule_cell tau_syn1 (alpha synapse; its decay used as exponential)",
        "synapses.tau_i": f"{_BSB}: granule_cell tau_syn2 (alpha synapse; its decay used as exponential)",
    },
)

# Fore et al.'s cells with the Golgi cell's absolute refractory period of the E-GLIF Golgi cell (2 ms; Fore et al.:
# 10 ms, which caps a Golgi cell at 100 Hz): the default set (docs/spiking-topk.md, row lif-golgi-10ms).
FORE2020_GOLGI_2MS = dataclasses.replace(
    FORE2020_NOTONIC,
    name="fore2020-golgi-2ms",
    citation=FORE2020_NOTONIC.citation + "; the Golgi cell's refractory period of Geminiani et al. 2018 (E-GLIF)",
    golgi=dataclasses.replace(FORE2020_NOTONIC.golgi, refractory=GEMINIANI2019_LIF.golgi.refractory),
    sources={**FORE2020_NOTONIC.sources, "golgi.refractory": GEMINIANI2019_LIF.sources["golgi.refractory"]},
)

CELL_PARAMS = {p.name: p for p in (FORE2020_NOTONIC, FORE2020, GEMINIANI2019_LIF, FORE2020_GOLGI_2MS)}
DEFAULT = FORE2020_GOLGI_2MS.name


def get_cell_params(value: str | CellParams) -> CellParams:
    """A :class:`CellParams` as given, or the named set ``value`` (one of :data:`CELL_PARAMS`)."""
    if isinstance(value, CellParams):
        return value
    try:
        return CELL_PARAMS[value]
    except (KeyError, TypeError):
        raise ValueError(f"The 'cell_params' parameter of CerebellarCircuit must be a bio.params.CellParams or one of "
                         f"{tuple(CELL_PARAMS)}. Got {value!r}; a set of your own: bio.params.from_toml.") from None


def parse_quantity(text: str, unit: b2.Quantity, where: str) -> b2.Quantity:
    """``"3.1 pF"`` -> 3.1 * pF, refused unless the unit is one of :data:`UNITS` and has ``unit``'s dimension."""
    match = _QUANTITY.match(text) if isinstance(text, str) else None
    if match is None or match.group(2) not in UNITS:
        raise ValueError(f"{where}: expected a number and a unit, e.g. \"{1 * unit!r}\" (units: {', '.join(UNITS)}). "
                         f"Got {text!r}.")
    value = float(match.group(1)) * UNITS[match.group(2)]
    if b2.get_dimensions(value) != b2.get_dimensions(unit):
        raise ValueError(f"{where}: {text!r} is not in {unit.dim} (e.g. \"{1 * unit!r}\").")
    return value


def from_toml(text: str, origin: str = "TOML") -> CellParams:
    """A parameter set from TOML text (``origin`` names it in errors, e.g. the file's path).

    Keys: ``name``, ``citation``, optional ``base`` (a named set whose values and sources fill what the file
    leaves out; without it every value must be given), and tables ``[granule]``, ``[golgi]``, ``[synapses]`` of
    ``NAME = "VALUE UNIT"`` or ``NAME = {value = "VALUE UNIT", source = "..."}`` (default source: the citation).

    Examples
    --------
    >>> p = from_toml('name = "slow"\\ncitation = "me"\\nbase = "fore2020"\\n[granule]\\ng_tonic = "0.5 nS"')
    >>> p.granule.g_tonic
    0.5 * nsiemens
    """
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{origin}: invalid TOML ({exc}).") from None
    unknown = set(table) - {"name", "citation", "base", *GROUPS}
    if unknown:
        raise ValueError(f"{origin}: unknown keys {sorted(unknown)}; expected name, citation, base, "
                         f"{', '.join(GROUPS)}.")
    for key in ("name", "citation"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise ValueError(f"{origin}: '{key}' must be a non-empty string.")
    base = get_cell_params(table["base"]) if "base" in table else None
    sources = dict(base.sources) if base else {}
    groups = {}
    for group, cls in GROUPS.items():
        given = table.get(group, {})
        if not isinstance(given, dict):
            raise ValueError(f"{origin}: [{group}] must be a table of NAME = \"VALUE UNIT\".")
        fields = {f.name: f.metadata["unit"] for f in dataclasses.fields(cls)}
        extra = set(given) - set(fields)
        if extra:
            raise ValueError(f"{origin}: [{group}] has unknown parameters {sorted(extra)}; known: {', '.join(fields)}.")
        values = {}
        for name, unit in fields.items():
            where = f"{origin}: {group}.{name}"
            entry = given.get(name)
            if entry is None:
                if base is None:
                    raise ValueError(f"{where} is missing; give it, or set base = \"NAME\" ({', '.join(CELL_PARAMS)}).")
                values[name] = getattr(getattr(base, group), name)
                continue
            source = table["citation"]
            if isinstance(entry, dict):
                if set(entry) - {"value", "source"} or "value" not in entry:
                    raise ValueError(f"{where}: an inline table takes 'value' and optionally 'source'. Got {entry!r}.")
                entry, source = entry["value"], str(entry.get("source", source))
            values[name] = parse_quantity(entry, unit, where)
            sources[f"{group}.{name}"] = source
        try:
            groups[group] = cls(**values)
        except ValueError as exc:
            raise ValueError(f"{origin}: {exc}") from None
    return CellParams(name=table["name"], citation=table["citation"], sources=sources, **groups)
