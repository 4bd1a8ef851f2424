"""The circuit's parameters grouped by population: granule, Golgi, mossy, chloride, plasticity, simulation.

Each group is a small validated model (pydantic, frozen): every field carries its unit (plain floats with a
``_ms`` / ``_mV`` / ``_nS`` / ``_hz`` suffix; Brian2 quantities are made from them where the network is
built), the source of its default and its bounds. :class:`bio.CerebellarCircuit` takes the groups
(``golgi=GolgiGroup(golgi_gain=3.0)``) or any of their fields by name (``golgi_gain=3.0``): both are
validated by the same schema, and :func:`settings_groups` routes a flat mapping (a TOML table, the
command line's options) onto the groups. Field names are unique across the groups.

The spiking cells' membrane constants are the literature sets of :mod:`bio.params` (``cell_params``);
the groups hold what the circuit adds to them: Eq. 13's rate-mode constants, the wiring, the synaptic
quanta and time constants of the Top-K mechanisms, chloride transport, plasticity and the simulation.
A default of ``None`` is resolved by the circuit from the mode (documented on the field).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bio.brian import CODEGEN_TARGETS
from bio.chloride import ChlorideParams
from bio.plasticity import PURKINJE_NORMS, VALUE_RULES
from bio.spiking import (
    GABA_TAU_MS,
    GOLGI_MODELS,
    GRANULE_GOLGI_NS,
    MOSSY_FIRING,
    MOSSY_GOLGI_NS,
    MOSSY_TAU_MS,
    READ_FRACTION,
    SPIKING_DEPRESSION,
    SPIKING_DT_MS,
    SPIKING_P_GOLGI,
    SPIKING_PRESENTATION_MS,
)
from bio.wiring import P_GOLGI

ENGINE = "this engine's choice (docs/concepts.md)"
EQ13 = "Bricken et al. ICLR 2023, App. C.1, Eq. 13 (after Gozel & Gerstner 2021)"
FORE = "Fore et al. 2020, J Neurosci 40:2882"
SPIKING_TOPK = "measured in docs/spiking-topk.md (bio/spiking.py cites the physiology)"


def _field(default: Any, unit: str, source: str, doc: str, **bounds: Any) -> Any:
    return Field(default, description=doc, json_schema_extra={"unit": unit, "source": source}, **bounds)


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class GranuleGroup(_Group):
    """Granule cells: Eq. 13's rate-mode unit and what counts as an active cell."""

    granule_threshold: float = _field(0.55, "1 (drive units)", EQ13 + "; set from the data by adapt_to",
                                      "Eq. 13's b, rate mode")
    smoothing: float = _field(0.2, "1 (drive units)", EQ13 + "; set from the data by adapt_to",
                              "Eq. 13's L, rate mode", gt=0)
    tau_granule_ms: float = _field(10.0, "ms", EQ13, "Eq. 13's tau_a", gt=0)
    active_threshold: float | None = _field(None, "1 (activity)", ENGINE,
                                            "activity above which a cell counts as active (None: 0.05 in rate "
                                            "mode, one spike in the read window in spiking mode)", gt=0)
    tonic_gaba_nS: float | None = _field(None, "nS", FORE, "spiking granule tonic GABA-A conductance (None: the "
                                         "cell set's)", ge=0)


class GolgiGroup(_Group):
    """Golgi cells: the feedback (and feedforward) inhibition and its wiring."""

    golgi_model: Literal[GOLGI_MODELS] = _field("lif", "-", FORE, "spiking mode's Golgi cells")
    golgi_gain: float | None = _field(None, "1", EQ13 + "; calibrated to k", "Golgi gain (None: 30 rate, 2 LIF, "
                                      "800 population, 5,000 with linear synapses)", gt=0)
    golgi_threshold: float | None = _field(None, "1 (activity)", EQ13 + "; calibrated to k",
                                           "Golgi threshold b_i (None: 0.01, 0 for the population Golgi)")
    tau_golgi_ms: float = _field(2.0, "ms", EQ13, "Eq. 13's tau_i", gt=0)
    golgi_coupling: float = _field(1.0, "1", "Golgi gap junctions: Dugue et al. 2009, Neuron 61:126",
                                   "electrical coupling of the Golgi cells' input, rate mode", ge=0, le=1)
    feedforward_inhibition: float = _field(0.0, "1", "Kanichay & Silver 2008, J Neurosci 28:8955; set from the "
                                           "data by adapt_to", "w_ff of the mossy -> Golgi inhibition, rate mode",
                                           ge=0)
    golgi_depression: float | None = _field(None, "1 (activity)", "form: Tsodyks & Markram 1997, PNAS 94:719; "
                                            + SPIKING_TOPK, "rho of saturating (depressing) granule -> Golgi synapses, "
                                            "the limiting rate over the maximal rate (0: off, Eq. 13's linear input; "
                                            "else >= 0.01); spiking: Tsodyks-Markram synapses, release fraction 0.5 "
                                            f"(None: 0 rate, {SPIKING_DEPRESSION:g} spiking)", ge=0)
    golgi_clamp: float | None = _field(None, "1", ENGINE, "rate mode: a constant inhibition in place of the "
                                       "feedback (the open-loop ablation)", ge=0)
    n_golgi: int | None = _field(None, "cells", FORE, "Golgi cells (None: 4; LIF: one per 100 granule cells)",
                                 ge=1)
    p_golgi: float | None = _field(None, "1", "rate: Bricken et al. ICLR 2023, App. C.1; spiking: " + SPIKING_TOPK,
                                   f"granule <-> Golgi connection probability (None: {P_GOLGI:g} rate, "
                                   f"{SPIKING_P_GOLGI:g} spiking)", gt=0, le=1)
    granule_golgi_nS: float = _field(GRANULE_GOLGI_NS, "nS", FORE + " x 5; " + SPIKING_TOPK,
                                     "granule -> Golgi quantum", gt=0)
    golgi_granule_nS: float = _field(1.0, "nS", SPIKING_TOPK, "Golgi -> granule GABA quantum", gt=0)
    golgi_threshold_scale_mV: float = _field(10.0, "mV", ENGINE, "LIF threshold shift per unit golgi_threshold",
                                             gt=0)
    gaba_tau_ms: float = _field(GABA_TAU_MS, "ms", "slow (spillover, tonic) GABA: Rossi & Hamann 1998, Neuron "
                                "20:783; value: " + SPIKING_TOPK,
                                "Golgi -> granule GABA decay, spiking", gt=0)
    mossy_golgi_nS: float = _field(MOSSY_GOLGI_NS, "nS", "Kanichay & Silver 2008, J Neurosci 28:8955; " + SPIKING_TOPK,
                                   "feedforward mossy -> Golgi quantum, spiking (0: no projection)", ge=0)
    golgi_golgi_p: float = _field(0.0, "1", "Hull & Regehr 2012, Neuron 73:149", "Golgi -> Golgi connection "
                                  "probability, spiking (0: none)", ge=0, le=1)
    golgi_golgi_nS: float = _field(1.0, "nS", "Hull & Regehr 2012, Neuron 73:149", "Golgi -> Golgi quantum", ge=0)
    golgi_threshold_sd_mV: float = _field(0.0, "mV", ENGINE, "spread of the LIF Golgi thresholds", ge=0)
    golgi_gap_nS: float = _field(0.0, "nS", "Dugue et al. 2009, Neuron 61:126; Vervaeke et al. 2010, Neuron 67:435",
                                 "gap-junction conductance between each pair of LIF Golgi cells (0: none)", ge=0)
    golgi_noise_mV: float = _field(0.0, "mV", "Vos et al. 1999, Eur J Neurosci 11:2621", "sd of each LIF Golgi "
                                   "cell's independent membrane noise", ge=0)


class MossyGroup(_Group):
    """Mossy fibers: rates, trains and the mossy -> granule synapse."""

    max_rate_hz: float = _field(1000.0, "Hz", "Rancz et al. 2007, Nature 450:1245 (above 700 Hz in vivo)",
                                "rate of a unit-norm input's largest possible component, spiking", gt=0)
    mossy_firing: Literal[MOSSY_FIRING] = _field("regular", "-", "Goldberg & Fernandez 1971, J "
                                                         "Neurophysiol 34:635 (regular afferents)", "spiking trains")
    mossy_nS: float = _field(0.5, "nS", FORE, "mossy -> granule quantum at a 12 ms decay", gt=0)
    mossy_tau_ms: float = _field(MOSSY_TAU_MS, "ms", "NMDA component, amplitude-weighted decay: Ebralidze et al. "
                                 "1996, J Neurosci 16:5014", "mossy -> granule conductance decay, spiking", gt=0)
    sparse_dendrites: int | None = _field(None, "fibers", "Bricken et al. ICLR 2023, App. C.1", "mossy fibers per "
                                          "granule cell with anatomy 'global' (None: dense)", ge=1)


def _cl(name: str) -> str:
    """The source :class:`bio.chloride.ChlorideParams` gives for its field ``name``."""
    return ChlorideParams.__dataclass_fields__[name].metadata["source"]


class ChlorideGroup(_Group):
    """Chloride transport behind the GABA switch, in plain units; the circuit builds
    :class:`bio.chloride.ChlorideParams` (Brian2 quantities, physiological ranges checked) from it."""

    switch_count: float = _field(200.0, "activations", _cl("switch_count"), "activations until KCC2 expression "
                                 "is complete (Eq. 12's s)", gt=0)
    switch_threshold: float = _field(0.05, "1 (activity)", ENGINE, "activity above which a presentation counts "
                                     "as an activation", gt=0)
    tau_cl_ms: float = _field(500.0, "ms", _cl("tau_cl"), "chloride time constant at the mature set point", gt=0)
    e_cl_young_mV: float = _field(-42.0, "mV", _cl("e_cl_young"), "transport-only young E_Cl")
    e_cl_mature_mV: float = _field(-90.0, "mV", _cl("e_cl_mature"), "transport-only mature E_Cl")
    e_hco3_mV: float = _field(-18.0, "mV", _cl("e_hco3"), "HCO3- reversal")
    hco3_permeability: float = _field(0.2, "1", _cl("hco3_permeability"), "P_HCO3 / P_Cl of GABA-A", gt=0)
    cl_out_mM: float = _field(130.0, "mM", _cl("cl_out"), "extracellular Cl-", gt=0)
    temperature_c: float = _field(37.0, "degC", _cl("temperature"), "temperature of the Nernst and GHK equations")
    gaba_load_nS: float = _field(0.01, "nS per unit inhibition", _cl("gaba_load"), "rate mode: GABA-A conductance "
                                 "per unit of Eq. 13 inhibition", ge=0)


class PlasticityGroup(_Group):
    """Parallel fiber -> Purkinje and mossy -> granule plasticity (:mod:`bio.plasticity`)."""

    lr_value: float = _field(0.1, "1", ENGINE, "parallel fiber -> Purkinje learning rate (normalised step)",
                             gt=0, lt=2)
    lr_address: float = _field(0.01, "1", ENGINE, "mossy -> granule (address) learning rate; 0 freezes", ge=0)
    value_rule: Literal[VALUE_RULES] = _field("error", "-", "Marr 1969; Albus 1971; Ito 2001",
                                                           "climbing-fiber rule")
    purkinje_norm: Literal[tuple(PURKINJE_NORMS)] = _field("none", "-", ENGINE, "Purkinje read-out scaling")


class SimulationGroup(_Group):
    """Time, batching and code generation."""

    presentation_ms: float | None = _field(None, "ms", ENGINE, "time per input (None: 50 rate, "
                                          f"{SPIKING_PRESENTATION_MS:g} spiking)", gt=0)
    dt_ms: float | None = _field(None, "ms", ENGINE, "integration step (None: rate mode chooses it from the loop's "
                                 f"stiffness; spiking {SPIKING_DT_MS:g})", gt=0)
    rate_integration: Literal["explicit", "implicit"] = _field(
        "explicit", "-", ENGINE, "rate mode: the Golgi loop coupled explicitly (a step within its stability bound) "
        "or implicitly (each step solved; golgi_coupling 1 and inhibitory GABA)")
    read_ms: float | None = _field(None, "ms", ENGINE, "spiking read window at the end of a presentation "
                                   f"(None: the last {READ_FRACTION:g} of it)", gt=0)
    batch_size: int = _field(100, "presentations", ENGINE, "presentations per learning batch", ge=1)
    copies: int | None = _field(None, "presentations", ENGINE, "presentations simulated side by side (None: "
                                "min(50, batch_size))", ge=1)
    codegen_target: Literal[CODEGEN_TARGETS] = _field("numpy", "-", ENGINE,
                                                                          "Brian2 code generation")
    n_workers: int = _field(1, "processes", ENGINE, "worker processes per batch", ge=1)


GROUPS: dict[str, type[_Group]] = {"granule": GranuleGroup, "golgi": GolgiGroup, "mossy": MossyGroup,
                                   "chloride": ChlorideGroup, "plasticity": PlasticityGroup,
                                   "simulation": SimulationGroup}
"""Every group, by the keyword the circuit takes it under."""
GROUP_OF: dict[str, str] = {name: group for group, model in GROUPS.items() for name in model.model_fields}
"""The group of every field (field names are unique across groups)."""


def settings_groups(groups: Mapping[str, _Group | Mapping[str, Any] | None] | None = None,
                    owner: str = "CerebellarCircuit", **settings: Any) -> dict[str, _Group]:
    """Every group, validated: each from ``groups[name]`` (a group, a mapping of its fields, or None for its
    defaults) with the flat ``settings`` (field names of any group) applied on top.

    Raises ``TypeError`` for a name no group has (as a Python call would) and ``ValueError`` naming the field,
    its group and the rule for a value the schema refuses.
    """
    unknown = sorted(set(settings) - set(GROUP_OF))
    if unknown:
        raise TypeError(f"{owner} got unexpected parameter(s) {', '.join(map(repr, unknown))}; the parameters "
                        f"are the fields of the groups {', '.join(GROUPS)} (bio.groups).")
    groups = dict(groups or {})
    extra = sorted(set(groups) - set(GROUPS))
    if extra:
        raise TypeError(f"{owner} has no parameter group {', '.join(map(repr, extra))}; groups: {', '.join(GROUPS)}.")
    out = {}
    for name, model in GROUPS.items():
        given = groups.get(name)
        base = given.model_dump() if isinstance(given, _Group) else dict(given or {})
        base.update({k: v for k, v in settings.items() if GROUP_OF[k] == name})
        try:
            out[name] = model(**base)
        except ValidationError as err:
            e = err.errors()[0]
            field = ".".join(str(p) for p in e["loc"]) or name
            raise ValueError(f"The '{field}' parameter of {owner} ({name} group): {e['msg']}. "
                             f"Got {e.get('input')!r}.") from None
    return out


SYMBOL = {"Gt": ">", "Ge": ">=", "Lt": "<", "Le": "<="}  # annotated_types bounds, as the docs table writes them


def group_table() -> list[dict[str, str]]:
    """One row per field of every group: group, parameter, default, unit, bounds, source, meaning (docs)."""
    rows = []
    for group, model in GROUPS.items():
        for name, f in model.model_fields.items():
            extra = f.json_schema_extra or {}
            bounds = ", ".join(f"{SYMBOL[type(m).__name__]} {getattr(m, type(m).__name__.lower())}"
                               for m in f.metadata if type(m).__name__ in SYMBOL)
            rows.append({"group": group, "parameter": name, "default": repr(f.default), "unit": extra["unit"],
                         "bounds": bounds, "source": extra["source"], "meaning": f.description or ""})
    return rows
