"""Chloride transport per granule cell (bio/chloride.py): references built by hand from the equations.

The references below re-derive every constant from the physics (Nernst, GHK, the transporters' free-energy
driving forces) with scipy, never through bio.chloride's helpers, so a changed sign, a scaled transporter or a
wrong volume in the module fails them.
"""

import dataclasses

import brian2 as b2
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

import bio
from bio import chloride
from bio.circuit import E_REST_MV

# The defaults, written out once more by hand (bio.chloride.ChlorideParams cites their sources).
F, R, T = 96485.33289, 8.3144598, 310.15  # CODATA 2014, the values Brian2 carries
VT = 1e3 * R * T / F  # mV
CL_O, K_O, K_I, NA_O, NA_I, HCO3_O, E_HCO3, R_HCO3 = 130.0, 3.0, 140.0, 145.0, 12.0, 26.0, -18.0, 0.2
E_YOUNG, E_MATURE = -42.0, -90.0
VOLUME_L = np.pi / 6 * (6e-6) ** 3 * 1e3  # 6 um sphere, litres
E_K = VT * np.log(K_O / K_I)
E_NKCC1 = (VT * np.log(NA_O / NA_I) + E_K) / 2
HCO3_I = HCO3_O * np.exp(E_HCO3 / VT)


def capacity_nS(tau_ms):
    """G = F vol [Cl]_mature / (tau RT/F), in nS."""
    return F * VOLUME_L * CL_O * np.exp(E_MATURE / VT) * 1e-3 / (tau_ms * 1e-3 * VT * 1e-3) * 1e9


def conductances_nS(m, tau_ms):
    """(g_NKCC1, g_KCC2) at KCC2 share m: each stage's split of G puts its transport-only rest at its set point."""
    g = capacity_nS(tau_ms)
    split = {e: (g * (e - E_K) / (E_NKCC1 - E_K), g * (E_NKCC1 - e) / (E_NKCC1 - E_K)) for e in (E_YOUNG, E_MATURE)}
    return tuple((1 - m) * split[E_YOUNG][i] + m * split[E_MATURE][i] for i in range(2))


def rhs_mM_per_ms(cl, m, g_gaba_nS, v_mV, tau_ms):
    """d[Cl]_i/dt by hand: NKCC1 (1 Na, 1 K, 2 Cl in), KCC2 (K, Cl out), the Cl- part of the GABA-A current."""
    e_cl = VT * np.log(cl / CL_O)
    e_gaba = VT * np.log((cl + R_HCO3 * HCO3_I) / (CL_O + R_HCO3 * HCO3_O))
    g_n, g_k = conductances_nS(m, tau_ms)
    share = (E_HCO3 - e_gaba) / (E_HCO3 - e_cl)
    current_pA = g_n * (E_NKCC1 - e_cl) - g_k * (e_cl - E_K) + share * g_gaba_nS * (v_mV - e_cl)  # nS mV = pA
    return current_pA * 1e-12 / (F * VOLUME_L) * 1e3 * 1e-3  # mol/(L s) -> mM/ms


def params(tau_ms=2000.0):
    return dataclasses.replace(chloride.ChlorideParams(), tau_cl=tau_ms * b2.ms)


def test_nernst_sign_and_value():
    """More chloride inside -> higher (less negative) E_Cl; 7 mM in / 130 mM out at 37 C ~ -78 mV."""
    e = chloride.nernst_chloride_mV(np.array([7.0, 20.0]), 130.0, 37.0)
    assert e[0] < e[1] < 0
    assert abs(e[0] - 26.71 * np.log(7 / 130)) < 0.05


def test_defaults_lie_in_physiological_ranges():
    """Young 20-40 mM with E_GABA (GHK) above rest; mature 3-10 mM with E_Cl between E_K and rest; E_K of
    K+ 3 / 140 mM ~ -102.7 mV."""
    p = chloride.ChlorideParams()
    assert abs(float(p.e_k / b2.mV) - E_K) < 1e-6 and abs(E_K + 102.7) < 0.1
    young, mature = float(p.cl_young / b2.mM), float(p.cl_mature / b2.mM)
    assert 20 < young < 40 and 3 < mature < 10
    ghk = VT * np.log((np.array([young, mature]) + R_HCO3 * HCO3_I) / (CL_O + R_HCO3 * HCO3_O))
    np.testing.assert_allclose([float(p.e_gaba(c) / b2.mV) for c in (p.cl_young, p.cl_mature)], ghk, atol=1e-9)
    assert ghk[0] > E_REST_MV > ghk[1]
    assert E_K < VT * np.log(mature / CL_O) < E_REST_MV


@pytest.mark.parametrize("m", [0.0, 0.3, 1.0])
def test_transport_steady_state_matches_closed_form(m):
    """Without GABA, NKCC1 and KCC2 balance where g_N (E_NKCC1 - E_Cl) = g_K (E_Cl - E_K): with the hand-made
    conductances that is E_Cl = (g_N E_NKCC1 + g_K E_K) / (g_N + g_K); integrated to it within 1e-6 mM."""
    g_n, g_k = conductances_nS(m, 20.0)
    e_ss = (g_n * E_NKCC1 + g_k * E_K) / (g_n + g_k)
    assert abs(e_ss - ((1 - m) * E_YOUNG + m * E_MATURE)) < 1e-9  # the set points interpolate (constant G)
    start = np.array([2.9, 15.0, 60.0])  # from below, between and above
    cl, _ = chloride.integrate(start, np.full((100, 3), m), None, E_REST_MV, 50.0, params(20.0))  # 19 tau and more
    np.testing.assert_allclose(cl, CL_O * np.exp(e_ss / VT), atol=1e-6)


def test_steady_state_with_gaba_load_matches_root_of_the_equations():
    """With a GABA-A load of 0.5 nS driven from rest, the integrated chloride reaches the root of the hand-written
    d[Cl]/dt (scipy brentq) within 1e-6 mM, for a young and a mature cell."""
    g_gaba = 0.5
    for m in (0.0, 1.0):
        root = brentq(lambda c, m=m: rhs_mM_per_ms(c, m, g_gaba, E_REST_MV, 200.0), 1.0, 60.0, xtol=1e-12)
        cl, _ = chloride.integrate(np.array([10.0]), np.full((400, 1), m), np.full((400, 1), g_gaba), E_REST_MV,
                                   50.0, params(200.0))
        assert abs(cl[0] - root) < 1e-6, (m, cl[0], root)


def test_against_scipy_solve_ivp_at_fixed_activity():
    """A cell active in every presentation (KCC2 share rising by 1/s each) under a GABA load that varies from
    presentation to presentation: chloride and each pathway's moved chloride match a scipy LSODA integration of
    the hand-written ODE within 1e-6 relative."""
    s, n_pres, pres_ms, tau_ms = 50.0, 80, 50.0, 300.0
    m = np.minimum(np.arange(1, n_pres + 1) / s, 1.0)[:, None]
    g_gaba = (0.2 + 0.3 * np.sin(np.arange(n_pres) / 7.0) ** 2)[:, None]
    cl, moved = chloride.integrate(np.array([27.0]), m, g_gaba, E_REST_MV, pres_ms, params(tau_ms))

    def rhs(_, y, m_p, g_p):
        c = y[0]
        e_cl = VT * np.log(c / CL_O)
        g_n, g_k = conductances_nS(m_p, tau_ms)
        e_gaba = VT * np.log((c + R_HCO3 * HCO3_I) / (CL_O + R_HCO3 * HCO3_O))
        to_mM = 1e-12 / (F * VOLUME_L)  # pA -> mM/ms
        n, k = g_n * (E_NKCC1 - e_cl) * to_mM, g_k * (e_cl - E_K) * to_mM
        gaba = (E_HCO3 - e_gaba) / (E_HCO3 - e_cl) * g_p * (E_REST_MV - e_cl) * to_mM
        return [n - k + gaba, n, k, gaba]

    y = np.array([27.0, 0.0, 0.0, 0.0])
    for m_p, g_p in zip(m[:, 0], g_gaba[:, 0], strict=True):
        y = solve_ivp(rhs, (0, pres_ms), y, args=(m_p, g_p), method="LSODA", rtol=1e-11, atol=1e-13).y[:, -1]
    np.testing.assert_allclose(cl[0], y[0], rtol=1e-6)
    for i, name in enumerate(("nkcc1", "kcc2", "gaba"), start=1):
        np.testing.assert_allclose(moved[name][0], y[i], rtol=1e-6, err_msg=name)
    assert cl[0] < 10  # from young to mature


def test_chloride_is_conserved():
    """The change of [Cl]_i equals NKCC1 import - KCC2 export + GABA-A entry, cell by cell (to 1e-12 mM); the
    pathways carry chloride the way the physics says: KCC2 out, NKCC1 in, GABA draining a young cell (E_Cl above
    rest) and loading a mature one."""
    rng = np.random.default_rng(0)
    start = np.array([27.0, 27.0, 4.5, 4.5])
    m = np.repeat([[0.0, 0.0, 1.0, 1.0]], 60, axis=0)
    g = rng.random((60, 4)) * np.array([0.0, 1.0, 0.0, 1.0])
    cl, moved = chloride.integrate(start, m, g, E_REST_MV, 50.0, params(500.0))
    np.testing.assert_allclose(cl - start, moved["nkcc1"] - moved["kcc2"] + moved["gaba"], atol=1e-12)
    assert np.all(moved["nkcc1"] > 0) and np.all(moved["kcc2"] > 0)
    assert moved["gaba"][1] < 0 < moved["gaba"][3] and moved["gaba"][0] == moved["gaba"][2] == 0
    assert cl[1] < cl[0] and cl[3] > cl[2]


def _circuit(**kw):
    return bio.CerebellarCircuit(8, 20, 2, seed=0, **kw)


def test_switch_needs_activity():
    """Silent cells keep young chloride (20-40 mM, E_GABA above rest); active ones mature below rest."""
    c = _circuit(tau_cl_ms=50.0, switch_count=100.0)
    young_cl, young_gaba = c.chloride_mM_.copy(), c.e_gaba_mV().copy()
    assert np.all((20 < young_cl) & (young_cl < 40)) and np.all(young_gaba > E_REST_MV)
    c.record_activity(np.zeros((100, 20), bool))  # 5 s of silence
    np.testing.assert_allclose(c.chloride_mM_, young_cl, rtol=1e-9)
    np.testing.assert_allclose(c.gaba_switch(), -1.0)
    active = np.zeros((100, 20), bool)
    active[:, :10] = True
    for _ in range(3):
        c.record_activity(active)
    assert np.all(c.e_gaba_mV()[:10] < E_REST_MV)  # hyperpolarising once mature
    assert np.all((3 < c.chloride_mM_[:10]) & (c.chloride_mM_[:10] < 10))
    np.testing.assert_allclose(c.chloride_mM_[10:], young_cl[10:], rtol=1e-9)


def test_mature_sets_adult_chloride():
    """After mature(): [Cl]_i in 3-10 mM, its Nernst E_Cl above E_K (K+ 3 / 140 mM), lambda = +1."""
    c = _circuit()
    c.mature()
    assert np.all((3 < c.chloride_mM_) & (c.chloride_mM_ < 10))
    assert np.all(chloride.nernst_chloride_mV(c.chloride_mM_, 130.0, 37.0) > E_K)
    np.testing.assert_allclose(c.gaba_switch(), 1.0)


def test_lambda_changes_sign_where_e_gaba_crosses_rest():
    """Once chloride has settled, lambda follows the KCC2 share m = C / s: -1 young, +1 mature, and it changes sign
    at the m whose transport-only E_GABA (GHK) equals rest, found by brentq from the hand-written equations."""
    s = 500.0
    c = _circuit(switch_count=s, tau_cl_ms=50.0)

    def e_gaba(m):
        cl = CL_O * np.exp(((1 - m) * E_YOUNG + m * E_MATURE) / VT)
        return VT * np.log((cl + R_HCO3 * HCO3_I) / (CL_O + R_HCO3 * HCO3_O))

    m0 = brentq(lambda m: e_gaba(m) - E_REST_MV, 0.0, 1.0)
    assert 0.5 < m0 < 1.0  # the switch of the sign comes late
    rate = np.linspace(0.05, 1.0, 20)
    rng = np.random.default_rng(0)
    for _ in range(12):
        c.record_activity(rng.random((50, 20)) < rate)
    c.record_activity(np.zeros((60, 20), bool))  # 3 s at constant m: chloride settles (tau <= 0.3 s)
    m = np.clip(c.activity_count_ / s, 0, 1)
    lam = c.gaba_switch()
    away = np.abs(m - m0) > 0.02  # cells not within a step of the crossing
    assert away.sum() > 10
    assert np.all(np.sign(lam[away]) == np.sign(m[away] - m0))
    assert np.all(np.diff(lam[np.argsort(m)]) >= -1e-9)  # more activity, more inhibition


def test_lambda_lags_with_realistic_kcc2():
    """With tau_Cl = 50 s (Currin et al.) chloride trails the expression: after 500 activations each, Eq. 12's
    lambda would be +1, the biophysical one is still -1 (chloride far from its mature level)."""
    c = _circuit(switch_count=500.0, tau_cl_ms=50_000.0)
    for _ in range(10):
        c.record_activity(np.ones((50, 20), bool))
    assert np.all(c.chloride_mM_ > 10)
    np.testing.assert_allclose(c.gaba_switch(), -1.0)


def test_rate_mode_learning_loads_chloride_through_gaba():
    """fit_task passes each cell's GABA-A conductance (gaba_load_nS x its Eq. 13 inhibition): with a load, the
    mature cells end with more chloride than without (the GABA current drives E_Cl toward rest)."""
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 8)), rng.integers(0, 2, 40)
    ends = []
    for load in (0.0, 1.0):
        c = _circuit(gaba_load_nS=load, tau_cl_ms=50.0, switch_count=20.0)
        c.fit_task(x, y, epochs=1)
        ends.append(c.chloride_mM_[c.activity_count_ >= 20])
    assert len(ends[0]) > 0 and np.all(ends[1] > ends[0])


@pytest.mark.parametrize("rho", [0.0, 0.05])
def test_rate_mode_gaba_load_is_the_eq13_inhibition(rho):
    """The conductance fit_task loads chloride with: gaba_load_nS x the Eq. 13 steady inhibition, by hand from
    the masks: every Golgi cell (fully coupled) sees the mean over Golgi cells of the mean activity of the
    granule cells that reach it (through saturating synapses e (1 + rho) / (e + rho) with rho > 0), fires
    gain [that - b_i]_+, and each granule cell's GABA inputs sum to 1."""
    rng = np.random.default_rng(1)
    c = _circuit(gaba_load_nS=0.01, golgi_depression=rho)
    c.mature()
    x = rng.random((6, 8))
    h = c.hidden(x)
    mask = c.graph.edges["granule", "golgi"]["mask"].astype(float)  # (n_neurons, n_golgi)
    passed = h * (1 + rho) / (h + rho) if rho else h
    golgi_input = ((passed @ mask) / mask.sum(axis=0)).mean(axis=1)  # (batch,)
    inhibition = c.golgi_gain * np.maximum(golgi_input - c.golgi_threshold, 0.0)
    reached = c.graph.edges["golgi", "granule"]["mask"].any(axis=0)  # granule cells with a Golgi input
    expected = 0.01 * inhibition[:, None] * reached[None, :]
    got = c._gaba_load_nS(h, x / np.linalg.norm(x, axis=1, keepdims=True) @ c.address_)
    assert inhibition.max() > 0
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15)


def _spiking(**kwargs) -> bio.CerebellarCircuit:
    return bio.CerebellarCircuit(8, 30, 2, mode="spiking", seed=0, codegen_target="numpy", batch_size=6,
                                 presentation_ms=20.0, read_ms=10.0, **kwargs)


def test_spiking_gaba_load_is_the_mean_simulated_conductance():
    """The spiking loop's GABA load: each cell's GABA-A conductance averaged over the presentation. With the
    Golgi cells silenced (gain ~0) only the tonic conductance is left, 1 nS in every cell; with them, the
    phasic quanta add to it."""
    x = np.random.default_rng(2).random((6, 8))
    loads = {}
    for gain in (1e-9, None):
        c = _spiking(tonic_gaba_nS=1.0, **({} if gain is None else {"golgi_gain": gain}))
        c.mature()
        _, loads[gain] = c._simulate(c._mossy(x), np.random.default_rng(0), gaba=True)
    assert loads[1e-9].shape == (6, 30)
    np.testing.assert_allclose(loads[1e-9], 1.0, rtol=1e-6)
    assert loads[None].mean() > 1.5


def test_spiking_learning_loads_chloride_with_the_simulated_conductance():
    """fit_task in spiking mode passes the simulated GABA-A conductance to the chloride ODE: with the Golgi
    cells silenced, 1 nS of tonic GABA and no maturation (s huge), [Cl]_i ends where bio.chloride.integrate
    takes it with g = 1 nS in every presentation, and measurably away from transport alone."""
    x, y = np.random.default_rng(3).random((6, 8)), np.array([0, 1] * 3)
    c = _spiking(tonic_gaba_nS=1.0, golgi_gain=1e-9, switch_count=1e12, tau_cl_ms=50.0)
    start = c.chloride_mM_.copy()
    c.fit_task(x, y, epochs=1)
    m = np.zeros((6, 30))
    loaded, _ = chloride.integrate(start, m, np.ones((6, 30)), E_REST_MV, 20.0, c.chloride_params)
    transport, _ = chloride.integrate(start, m, None, E_REST_MV, 20.0, c.chloride_params)
    np.testing.assert_allclose(c.chloride_mM_, loaded, rtol=1e-5)
    assert np.abs(loaded - transport).min() > 1e-3 * start.mean()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(e_cl_young=-60 * b2.mV), "young chloride"),  # 13 mM: a mature-like level
        (dict(e_cl_mature=-105 * b2.mV), "mature chloride"),  # 2.6 mM, below E_K
        (dict(cl_out=130 * b2.mV), "cl_out"),  # a unit slip
        (dict(tau_cl=-1 * b2.ms), "tau_cl"),
    ],
)
def test_params_reject_unphysiological_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(chloride.ChlorideParams(), **kwargs)


def test_circuit_defaults_are_the_params_defaults():
    assert _circuit().chloride_params == chloride.ChlorideParams()


def test_record_activity_rejects_wrong_shape():
    c = _circuit()
    with pytest.raises(ValueError, match="active"):
        c.record_activity(np.ones((5, 7), bool))  # 7 columns for 20 granule cells
    with pytest.raises(ValueError, match="gaba_nS"):
        c.record_activity(np.ones((5, 20), bool), np.ones((4, 20)))


def test_docs_table_is_generated_from_the_params():
    """docs/chloride.md holds the table that experiments.chloride_figure renders from ChlorideParams()."""
    from experiments import chloride_figure

    page = chloride_figure.CHLORIDE_MD.read_text()
    assert chloride_figure.parameter_table_md(chloride.ChlorideParams()) in page
