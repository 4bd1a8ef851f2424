"""The GABA chloride switch (``gaba_switch``): NKCC1 -> KCC2 with accumulated activity.

Biology (App. B.2 of Bricken et al. 2023; Gozel & Gerstner 2021): young granule cells express
NKCC1, which imports Cl-, so E_Cl sits high and GABA depolarises; activity raises KCC2, which
exports Cl-, E_Cl falls below rest and GABA hyperpolarises.

Model, per granule cell j:

* maturation (KCC2 share of transport): m_j = clip(C_j / s, 0, 1), C_j the number of
  presentations in which the cell was active (the counter of Eq. 12), s = ``switch_count``.
* transporter balance (chord form, one equivalent "chloride capacitance"):
  dE_Cl/dt = [(1 - m) (E_NKCC1 - E_Cl) + m (E_KCC2 - E_Cl)] / tau_Cl,
  i.e. E_Cl relaxes to E_ss(m) = (1 - m) E_NKCC1 + m E_KCC2 with time constant tau_Cl
  (Currin et al.: ~50 s for KCC2). The state kept is [Cl-]_i; E_Cl follows by Nernst.
* Nernst for the monovalent anion (z = -1): E_Cl = (RT/F) ln([Cl]_i / [Cl]_o).
* E_GABA = (1 - f) E_Cl + f E_HCO3 (Currin et al.: f = 0.2, E_HCO3 = -18 mV).
* rate-mode sign of inhibition:
  lambda_j = clip((E_L - E_GABA_j) / (E_L - E_GABA_mature), -1, 1).

With the defaults, E_GABA_young = 2 E_L - E_GABA_mature, so lambda is linear in m and, once
tau_Cl is short against the time between presentations, lambda_j = clip(-1 + 2 C_j / s, -1, 1):
the paper's Eq. 12. Young E_GABA (-59.6 mV) lies between rest (-75 mV) and the granule
threshold (-55 mV): GABA depolarises but cannot fire the cell, so Golgi feedback shunts instead
of running away (E_GABA above threshold turned the loop into ~450 Hz runaway excitation).
"""

from __future__ import annotations

import numpy as np

FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)


def thermal_voltage_mV(temperature_c: float) -> float:
    """RT/F in mV at ``temperature_c`` (26.7 mV at 37 C)."""
    return 1e3 * GAS_CONSTANT * (temperature_c + 273.15) / FARADAY


def nernst_chloride_mV(cl_in_mM: np.ndarray, cl_out_mM: float, temperature_c: float) -> np.ndarray:
    """E_Cl = (RT/F) ln([Cl]_i/[Cl]_o), mV (Nernst for z = -1: more Cl inside -> higher E_Cl)."""
    return thermal_voltage_mV(temperature_c) * np.log(np.asarray(cl_in_mM) / cl_out_mM)


def chloride_for_mV(e_cl_mV: np.ndarray, cl_out_mM: float, temperature_c: float) -> np.ndarray:
    """Inverse Nernst: the [Cl]_i (mM) whose E_Cl is ``e_cl_mV``."""
    return cl_out_mM * np.exp(np.asarray(e_cl_mV) / thermal_voltage_mV(temperature_c))


def e_gaba_mV(e_cl_mV: np.ndarray, e_hco3_mV: float, hco3_fraction: float) -> np.ndarray:
    """E_GABA = (1 - f) E_Cl + f E_HCO3 (Currin et al.; the GABA_A pore also passes HCO3-)."""
    return (1.0 - hco3_fraction) * np.asarray(e_cl_mV) + hco3_fraction * e_hco3_mV


def maturation(activity_count: np.ndarray, switch_count: float) -> np.ndarray:
    """KCC2 share m = clip(C / s, 0, 1), from the accumulated activity count C (Eq. 12's C_i)."""
    return np.clip(np.asarray(activity_count, dtype=np.float64) / switch_count, 0.0, 1.0)


def relax_chloride(
    cl_in_mM: np.ndarray,
    m: np.ndarray,
    elapsed_ms: float,
    tau_cl_ms: float,
    e_nkcc1_mV: float,
    e_kcc2_mV: float,
    cl_out_mM: float,
    temperature_c: float,
) -> np.ndarray:
    """Integrate dE_Cl/dt = [(1-m)(E_NKCC1 - E_Cl) + m (E_KCC2 - E_Cl)] / tau_Cl exactly over ``elapsed_ms``.

    ``m`` is held constant over the interval (it changes once per batch of presentations).
    Returns the new [Cl]_i in mM.
    """
    e_cl = nernst_chloride_mV(cl_in_mM, cl_out_mM, temperature_c)
    e_ss = (1.0 - m) * e_nkcc1_mV + m * e_kcc2_mV
    e_cl = e_ss + (e_cl - e_ss) * np.exp(-elapsed_ms / tau_cl_ms)
    return chloride_for_mV(e_cl, cl_out_mM, temperature_c)


def inhibition_sign(e_gaba: np.ndarray, e_rest_mV: float, e_gaba_mature_mV: float) -> np.ndarray:
    """Rate-mode GABA sign lambda = clip((E_L - E_GABA) / (E_L - E_GABA_mature), -1, 1).

    +1: full inhibition (mature); 0: shunting only; -1: Golgi excites (young), as Eq. 12's lambda.
    """
    return np.clip((e_rest_mV - np.asarray(e_gaba)) / (e_rest_mV - e_gaba_mature_mV), -1.0, 1.0)
