"""The GABA chloride switch (``gaba_switch``): chloride transport per granule cell, NKCC1 -> KCC2 with activity.

Biology (App. B.2 of Bricken et al. 2023): young neurons express NKCC1, which imports Cl-, so E_Cl sits
above rest and GABA depolarises; activity raises KCC2, which exports Cl-, and E_Cl falls between E_K
and rest (Rivera et al. 1999, Nature 397:251; Ganguly et al. 2001, Cell 105:521).

Model, per granule cell j, with [Cl]_i as state (mM) and Brian2 quantities for every parameter
(:class:`ChlorideParams`):

    d[Cl]_i/dt = (J_NKCC1 - J_KCC2 + J_GABA) / (F vol)                                  (1)
    J_NKCC1 = g_NKCC1(m) (E_NKCC1 - E_Cl),   E_NKCC1 = (E_Na + E_K) / 2                  (2)
    J_KCC2  = g_KCC2(m)  (E_Cl - E_K)                                                    (3)
    J_GABA  = w g_GABA (v - E_Cl),   w = (E_HCO3 - E_GABA) / (E_HCO3 - E_Cl)             (4)
    E_Cl = (RT/F) ln([Cl]_i / [Cl]_o)                          (Nernst, z = -1)          (5)
    E_GABA = (RT/F) ln(([Cl]_i + r [HCO3]_i) / ([Cl]_o + r [HCO3]_o))   (GHK, r = P_HCO3/P_Cl)  (6)

(2)-(3): each cotransporter's flux is proportional to the free energy of one transport cycle
(electroneutral; NKCC1 moves Na+, K+, 2 Cl-, KCC2 moves K+, Cl-), the form of Doyon et al. 2011
(PLoS Comput Biol 7:e1002149) and Duesterwald et al. 2018 (eLife 7:e39575); g is a flux
capacity in conductance units. KCC2 alone would bring E_Cl to E_K, NKCC1 alone to (E_Na + E_K)/2.
(4): the chloride part of the GABA-A current g_GABA (v - E_GABA), split into Cl- and HCO3- chord
conductances that reverse together at the GHK E_GABA of (6); J > 0 is chloride entry (an outward
current). (6): Bormann, Hamill & Sakmann 1987 (J Physiol 385:243), r ~ 0.2.

Transporter expression follows the cell's own activity (the accumulated activation count C_j of
Eq. 12, the counter the paper suggests replacing by an activity amount): the KCC2 share
m_j = clip(C_j / s, 0, 1), and with it

    g_X(m) = (1 - m) g_X,young + m g_X,mature   for X = NKCC1, KCC2,

the young and mature levels set so that, without GABA load, chloride settles at the set points
[Cl]_young (E_Cl,young) and [Cl]_mature (E_Cl,mature) with one total capacity G = g_NKCC1 + g_KCC2.
G follows from ``tau_cl``, the time constant of (1) linearised at the mature set point:
tau_cl = F vol [Cl]_mature / (G RT/F). With a constant G the transport-only steady state is
E_Cl,ss(m) = (1 - m) E_Cl,young + m E_Cl,mature, so *when* a cell switches is set by its activity,
and the switch of the GABA sign is sharp: E_GABA crosses rest late, in the last part of m.

Integration (:func:`integrate`): within a presentation the inputs (m, g_GABA, v) are constant, so
(1) is integrated between batches of presentations, in numpy (RK4, a step of at most a fifth of
the fastest chloride time constant), in both modes. The presentation loops simulate
independent copies side by side (different inputs at the same time), so a cell's chloride cannot
live inside them as Brian2 state: the batch's activity (and, in rate mode, its GABA conductance)
is recorded and the same ODE integrated afterwards over the batch's biological time.

Rate-mode GABA sign: lambda_j = clip((E_L - E_GABA_j) / (E_L - E_GABA,mature), -1, 1): +1 at the
mature set point (full inhibition, the SDMLP's Top-K), 0 where E_GABA = rest (shunting only), -1
where GABA depolarises as far above rest as the mature set point lies below (Golgi excites):
Eq. 12's lambda, now from chloride.

Time is compressed: s and tau_cl make the switch complete within a task of a few thousand
presentations, where KCC2 up-regulation takes days in vivo.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import brian2 as b2
import numpy as np
from brian2.units.constants import faraday_constant, gas_constant

FARADAY = float(faraday_constant)  # C/mol
GAS_CONSTANT = float(gas_constant)  # J/(mol K)
STEP_FRACTION = 0.2  # integrate: RK4 step <= this fraction of the fastest chloride time constant


def thermal_voltage_mV(temperature_c: float) -> float:
    """RT/F in mV at ``temperature_c`` (26.7 mV at 37 C)."""
    return 1e3 * GAS_CONSTANT * (temperature_c + 273.15) / FARADAY


def nernst_chloride_mV(cl_in_mM: np.ndarray, cl_out_mM: float, temperature_c: float) -> np.ndarray:
    """E_Cl = (RT/F) ln([Cl]_i/[Cl]_o), mV (Nernst for z = -1: more Cl inside -> higher E_Cl)."""
    return thermal_voltage_mV(temperature_c) * np.log(np.asarray(cl_in_mM) / cl_out_mM)


def chloride_for_mV(e_cl_mV: np.ndarray, cl_out_mM: float, temperature_c: float) -> np.ndarray:
    """Inverse Nernst: the [Cl]_i (mM) whose E_Cl is ``e_cl_mV``."""
    return cl_out_mM * np.exp(np.asarray(e_cl_mV) / thermal_voltage_mV(temperature_c))


def maturation(activity_count: np.ndarray, switch_count: float) -> np.ndarray:
    """KCC2 share m = clip(C / s, 0, 1), from the accumulated activity count C (Eq. 12's C_i)."""
    return np.clip(np.asarray(activity_count, dtype=np.float64) / switch_count, 0.0, 1.0)


def inhibition_sign(e_gaba: np.ndarray, e_rest_mV: float, e_gaba_mature_mV: float) -> np.ndarray:
    """Rate-mode GABA sign lambda = clip((E_L - E_GABA) / (E_L - E_GABA_mature), -1, 1).

    +1: full inhibition (mature); 0: shunting only; -1: Golgi excites (young), as Eq. 12's lambda.
    """
    return np.clip((e_rest_mV - np.asarray(e_gaba)) / (e_rest_mV - e_gaba_mature_mV), -1.0, 1.0)


def _param(default: b2.Quantity, unit: b2.Quantity, doc: str, source: str) -> dataclasses.Field:
    return field(default_factory=lambda: default, metadata={"unit": unit, "doc": doc, "source": source})


@dataclass(frozen=True)
class ChlorideParams:
    """Chloride transport of a granule cell: concentrations, set points, capacity, expression pace.

    Every value is a scalar Brian2 quantity (checked against its field's unit on construction), with
    its source in the field's metadata (:func:`parameter_table`). Physiological ranges are checked too:
    young [Cl]_i 20-40 mM with E_GABA above rest, mature [Cl]_i 3-10 mM with E_Cl between E_K and rest.
    """

    cl_out: b2.Quantity = _param(130 * b2.mM, b2.mM, "extracellular Cl-",
                                 "Hille 2001, Ion Channels of Excitable Membranes, 3rd ed., Table 1.1 (~110-130 mM)")
    k_out: b2.Quantity = _param(3 * b2.mM, b2.mM, "extracellular K+", "Hille 2001, Table 1.1; issue 23 (3 / 140 mM)")
    k_in: b2.Quantity = _param(140 * b2.mM, b2.mM, "intracellular K+", "Hille 2001, Table 1.1; issue 23 (3 / 140 mM)")
    na_out: b2.Quantity = _param(145 * b2.mM, b2.mM, "extracellular Na+", "Hille 2001, Table 1.1 (145 mM)")
    na_in: b2.Quantity = _param(12 * b2.mM, b2.mM, "intracellular Na+", "Hille 2001, Table 1.1 (12 mM)")
    hco3_out: b2.Quantity = _param(26 * b2.mM, b2.mM, "extracellular HCO3-", "Hille 2001, Table 1.1 (~26 mM)")
    e_hco3: b2.Quantity = _param(-18 * b2.mV, b2.mV, "HCO3- reversal (sets [HCO3-]_i)",
                                 "Currin et al. 2020, PLoS Comput Biol 16:e1007932 (-18 mV)")
    hco3_permeability: b2.Quantity = _param(b2.Quantity(0.2), b2.Quantity(1.0), "P_HCO3 / P_Cl of the GABA-A pore",
                                            "Bormann, Hamill & Sakmann 1987, J Physiol 385:243 (0.18-0.2)")
    temperature: b2.Quantity = _param(310.15 * b2.kelvin, b2.kelvin, "temperature (37 C)", "body temperature")
    diameter: b2.Quantity = _param(6 * b2.um, b2.um, "granule soma diameter (sphere: chloride volume)",
                                   "Palay & Chan-Palay 1974, Cerebellar Cortex (granule somata 5-8 um)")
    e_cl_young: b2.Quantity = _param(-42 * b2.mV,
        b2.mV, "transport-only E_Cl set point, young (NKCC1 dominant)",
        "immature [Cl]_i 20-40 mM (Ben-Ari 2002, Nat Rev Neurosci 3:728; Doyon et al. 2016, Neuron 89:1157): 27 mM")
    e_cl_mature: b2.Quantity = _param(-90 * b2.mV,
        b2.mV, "transport-only E_Cl set point, mature (KCC2 dominant)",
        "mature [Cl]_i 4-8 mM, E_Cl between E_K and rest (Doyon et al. 2016, Neuron 89:1157): 4.4 mM")
    tau_cl: b2.Quantity = _param(
        500 * b2.ms, b2.ms, "chloride time constant at the mature set point (sets the capacity G)",
        "compressed from tau_KCC2 ~50 s (Currin et al. 2020) so the switch completes early in the first task; "
        "2 s kept every cell young (all active) ~300 presentations, and Split digits then forgot task 1")
    switch_count: b2.Quantity = _param(b2.Quantity(200.0), b2.Quantity(1.0), "activations for full KCC2 expression (s)",
                                       "Eq. 12's s (Bricken et al. 2023, App. B.3), compressed")
    gaba_load: b2.Quantity = _param(
        0.01 * b2.nS, b2.nS, "rate mode: GABA-A conductance per unit of Eq. 13 inhibition",
        "modelling choice: mature inhibition (~0.5 unit) loads 5 pS, young Golgi excitation (~30 units) 0.3 nS, "
        "against G = 3.7 nS; 0.1 nS per unit (with tau_cl 2 s) held every cell young on Split digits")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value, unit = getattr(self, f.name), f.metadata["unit"]
            if not isinstance(value, b2.Quantity) or value.shape != () \
                    or b2.get_dimensions(value) != b2.get_dimensions(unit):
                raise ValueError(f"The '{f.name}' parameter of ChlorideParams must be a scalar Brian2 quantity in "
                                 f"{unit.dim or 'no unit'} (e.g. {1 * unit!r}). Got {value!r}.")
            if f.name == "gaba_load" and not value >= 0:
                raise ValueError(f"The 'gaba_load' parameter of ChlorideParams must be >= 0. Got {value!r}.")
            if f.name not in ("e_hco3", "gaba_load") and not f.name.startswith("e_cl") and not value > 0:
                raise ValueError(f"The '{f.name}' parameter of ChlorideParams must be > 0. Got {value!r}.")
        self._check_ranges()

    def _check_ranges(self) -> None:
        young, mature = self.cl_young, self.cl_mature
        if not 20 * b2.mM <= young <= 40 * b2.mM:
            raise ValueError(f"The young chloride set point ({young!r}, from 'e_cl_young'={self.e_cl_young!r}) "
                             "must lie in 20-40 mM (immature neurons, NKCC1 dominant). Move e_cl_young toward -42 mV.")
        if not 3 * b2.mM <= mature <= 10 * b2.mM:
            raise ValueError(f"The mature chloride set point ({mature!r}, from 'e_cl_mature'={self.e_cl_mature!r}) "
                             "must lie in 3-10 mM (mature neurons, KCC2 dominant). Move e_cl_mature toward -90 mV.")
        if not self.e_k < self.e_cl_mature:
            raise ValueError(f"The mature E_Cl ({self.e_cl_mature!r}) must lie above E_K ({self.e_k!r}): KCC2, driven "
                             "by the K+ gradient, cannot export chloride below it. Raise e_cl_mature.")
        if not self.e_cl_young < self.e_nkcc1:
            raise ValueError(f"The young E_Cl ({self.e_cl_young!r}) must lie below NKCC1's reversal "
                             f"(E_Na + E_K) / 2 = {self.e_nkcc1!r}. Lower e_cl_young.")

    # ---------------------------------------------------------------- derived quantities
    @property
    def thermal_voltage(self) -> b2.Quantity:
        """RT/F."""
        return gas_constant * self.temperature / faraday_constant

    @property
    def e_k(self) -> b2.Quantity:
        """E_K = (RT/F) ln([K]_o / [K]_i): KCC2's reversal in E_Cl units (Eq. 3)."""
        return self.thermal_voltage * np.log(float(self.k_out / self.k_in))

    @property
    def e_na(self) -> b2.Quantity:
        return self.thermal_voltage * np.log(float(self.na_out / self.na_in))

    @property
    def e_nkcc1(self) -> b2.Quantity:
        """NKCC1's reversal in E_Cl units, (E_Na + E_K) / 2 (Eq. 2; 1 Na+, 1 K+, 2 Cl- per cycle)."""
        return (self.e_na + self.e_k) / 2

    @property
    def hco3_in(self) -> b2.Quantity:
        """[HCO3-]_i from E_HCO3 (Nernst, z = -1)."""
        return self.hco3_out * np.exp(float(self.e_hco3 / self.thermal_voltage))

    @property
    def volume(self) -> b2.Quantity:
        return np.pi / 6 * self.diameter**3

    @property
    def cl_young(self) -> b2.Quantity:
        return self.cl_out * np.exp(float(self.e_cl_young / self.thermal_voltage))

    @property
    def cl_mature(self) -> b2.Quantity:
        return self.cl_out * np.exp(float(self.e_cl_mature / self.thermal_voltage))

    @property
    def capacity(self) -> b2.Quantity:
        """G = g_NKCC1 + g_KCC2 = F vol [Cl]_mature / (tau_cl RT/F), at every expression level."""
        return faraday_constant * self.volume * self.cl_mature / (self.tau_cl * self.thermal_voltage)

    def transporters(self, stage: str) -> tuple[b2.Quantity, b2.Quantity]:
        """(g_NKCC1, g_KCC2) at the ``stage`` "young" or "mature": the split of G whose transport-only steady
        state, g_N (E_NKCC1 - E) = g_K (E - E_K), is that stage's set point E."""
        e_set = {"young": self.e_cl_young, "mature": self.e_cl_mature}[stage]
        span = self.e_nkcc1 - self.e_k
        return self.capacity * (e_set - self.e_k) / span, self.capacity * (self.e_nkcc1 - e_set) / span

    def e_gaba(self, cl_in: b2.Quantity) -> b2.Quantity:
        """E_GABA by GHK with HCO3- (Eq. 6)."""
        r = float(self.hco3_permeability)
        return self.thermal_voltage * np.log((cl_in + r * self.hco3_in) / (self.cl_out + r * self.hco3_out))


def parameter_table(params: ChlorideParams) -> list[dict[str, str]]:
    """Rows (parameter, value, unit, meaning, source) of ``params``, then the derived transport constants."""
    rows = []
    for f in dataclasses.fields(params):
        unit = f.metadata["unit"]
        value = float(getattr(params, f.name) / unit)
        unit_name = "" if not unit.dim else str(unit).split()[-1]
        if f.name == "temperature":
            value, unit_name = value - 273.15, "C"
        rows.append(dict(parameter=f.name, value=f"{value:.4g}", unit=unit_name, meaning=f.metadata["doc"],
                         source=f.metadata["source"]))
    derived = [
        ("E_K", params.e_k, b2.mV, "KCC2 reversal (Eq. 3)"),
        ("E_NKCC1", params.e_nkcc1, b2.mV, "NKCC1 reversal (E_Na + E_K) / 2 (Eq. 2)"),
        ("[Cl]_young", params.cl_young, b2.mM, "young set point"),
        ("[Cl]_mature", params.cl_mature, b2.mM, "mature set point"),
        ("E_GABA,young", params.e_gaba(params.cl_young), b2.mV, "GHK (Eq. 6) at the young set point"),
        ("E_GABA,mature", params.e_gaba(params.cl_mature), b2.mV, "GHK (Eq. 6) at the mature set point"),
        ("[HCO3]_i", params.hco3_in, b2.mM, "from E_HCO3"),
        ("G", params.capacity, b2.psiemens, "transport capacity g_NKCC1 + g_KCC2"),
        ("g_NKCC1,young", params.transporters("young")[0], b2.psiemens, "NKCC1 capacity, young"),
        ("g_KCC2,young", params.transporters("young")[1], b2.psiemens, "KCC2 capacity, young"),
        ("g_NKCC1,mature", params.transporters("mature")[0], b2.psiemens, "NKCC1 capacity, mature"),
        ("g_KCC2,mature", params.transporters("mature")[1], b2.psiemens, "KCC2 capacity, mature"),
    ]
    for name, value, unit, doc in derived:
        rows.append(dict(parameter=name, value=f"{float(value / unit):.4g}", unit=str(unit).split()[-1], meaning=doc,
                         source="derived"))
    return rows


@dataclass(frozen=True)
class _Plain:
    """The constants of Eqs. 1-6 as plain floats (mM, mV, ms, nS) for the integrator's inner loop."""

    vt_mV: float
    cl_out_mM: float
    e_k_mV: float
    e_nkcc1_mV: float
    e_hco3_mV: float
    hco3_num_mM: float  # r [HCO3]_i
    out_mM: float  # [Cl]_o + r [HCO3]_o
    g_young_nS: tuple[float, float]
    g_mature_nS: tuple[float, float]
    f_vol_nS_ms_per_mM_mV: float  # F vol in nS ms mV / mM, so that g [nS] dE [mV] / (F vol) is in mM/ms

    @classmethod
    def of(cls, p: ChlorideParams) -> _Plain:
        r = float(p.hco3_permeability)
        return cls(
            vt_mV=float(p.thermal_voltage / b2.mV), cl_out_mM=float(p.cl_out / b2.mM), e_k_mV=float(p.e_k / b2.mV),
            e_nkcc1_mV=float(p.e_nkcc1 / b2.mV), e_hco3_mV=float(p.e_hco3 / b2.mV),
            hco3_num_mM=r * float(p.hco3_in / b2.mM), out_mM=float((p.cl_out + r * p.hco3_out) / b2.mM),
            g_young_nS=tuple(float(g / b2.nS) for g in p.transporters("young")),
            g_mature_nS=tuple(float(g / b2.nS) for g in p.transporters("mature")),
            f_vol_nS_ms_per_mM_mV=float(faraday_constant * p.volume / (b2.nS * b2.ms * b2.mV / b2.mM)),
        )


def fluxes(cl_mM: np.ndarray, m: np.ndarray, g_gaba_nS: np.ndarray, v_mV: float,
           params: ChlorideParams | _Plain) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three terms of Eq. 1 as concentration rates (mM/ms): NKCC1 import, KCC2 export, GABA-A entry.

    d[Cl]_i/dt = nkcc1 - kcc2 + gaba. ``m``: KCC2 share of expression; ``g_gaba_nS``: GABA-A conductance;
    ``v_mV``: membrane potential the GABA current is driven from.
    """
    p = params if isinstance(params, _Plain) else _Plain.of(params)
    e_cl = p.vt_mV * np.log(cl_mM / p.cl_out_mM)
    g_n = (1 - m) * p.g_young_nS[0] + m * p.g_mature_nS[0]
    g_k = (1 - m) * p.g_young_nS[1] + m * p.g_mature_nS[1]
    e_gaba = p.vt_mV * np.log((cl_mM + p.hco3_num_mM) / p.out_mM)
    share = (p.e_hco3_mV - e_gaba) / (p.e_hco3_mV - e_cl)  # Eq. 4's w: the Cl- part of the chord conductance
    return (g_n * (p.e_nkcc1_mV - e_cl) / p.f_vol_nS_ms_per_mM_mV,
            g_k * (e_cl - p.e_k_mV) / p.f_vol_nS_ms_per_mM_mV,
            share * g_gaba_nS * (v_mV - e_cl) / p.f_vol_nS_ms_per_mM_mV)


def integrate(cl_mM: np.ndarray, m: np.ndarray, g_gaba_nS: np.ndarray | None, v_mV: float, presentation_ms: float,
              params: ChlorideParams) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Integrate Eq. 1 over a batch of presentations, inputs constant within each (RK4).

    cl_mM (n_cells,): chloride at the start; m (presentations, n_cells): KCC2 share in each presentation;
    g_gaba_nS (presentations, n_cells) or None (no GABA load). Returns the chloride at the end and the
    chloride each pathway moved over the batch (mM per cell; ``nkcc1`` in, ``kcc2`` out, ``gaba`` in), so
    that end - start = nkcc1 - kcc2 + gaba (conservation).
    """
    p = _Plain.of(params)
    m = np.atleast_2d(np.asarray(m, dtype=np.float64))
    g = np.zeros_like(m) if g_gaba_nS is None else np.atleast_2d(np.asarray(g_gaba_nS, dtype=np.float64))
    cl = np.array(cl_mM, dtype=np.float64)
    moved = {name: np.zeros_like(cl) for name in ("nkcc1", "kcc2", "gaba")}
    # fastest time constant of Eq. 1 (linearised), F vol [Cl] / ((G + g_GABA) RT/F), at the lowest [Cl] that KCC2
    # can reach ([Cl]_i at E_Cl = E_K) or the current one if lower
    cl_low = min(float(cl.min()), p.cl_out_mM * np.exp(p.e_k_mV / p.vt_mV))
    tau_ms = p.f_vol_nS_ms_per_mM_mV * cl_low / ((sum(p.g_young_nS) + float(g.max(initial=0.0))) * p.vt_mV)
    n_sub = max(1, int(np.ceil(presentation_ms / (STEP_FRACTION * tau_ms))))
    h = presentation_ms / n_sub
    for m_p, g_p in zip(m, g, strict=True):
        for _ in range(n_sub):
            k = []
            c = cl
            for stage in range(4):
                k.append(fluxes(c, m_p, g_p, v_mV, p))
                if stage < 3:
                    c = cl + (h if stage == 2 else h / 2) * (k[-1][0] - k[-1][1] + k[-1][2])
            step = [h / 6 * (k[0][i] + 2 * k[1][i] + 2 * k[2][i] + k[3][i]) for i in range(3)]
            for name, d in zip(moved, step, strict=True):
                moved[name] += d
            cl = cl + step[0] - step[1] + step[2]
    return cl, moved
