"""The GABA chloride switch: E_Cl and E_GABA move from depolarising to hyperpolarising with activity."""

import numpy as np
import pytest

import bio
from bio import chloride
from bio.circuit import E_REST_MV


def test_nernst_sign_and_value():
    """More chloride inside -> higher (less negative) E_Cl; 7 mM in / 130 mM out at 37 C ~ -78 mV."""
    e = chloride.nernst_chloride_mV(np.array([7.0, 20.0]), 130.0, 37.0)
    assert e[0] < e[1] < 0
    assert abs(e[0] - 26.71 * np.log(7 / 130)) < 0.05


def _circuit(**kw):
    return bio.CerebellarCircuit(8, 20, 2, seed=0, **kw)


def test_switch_needs_activity():
    c = _circuit()
    young_gaba = c.e_gaba_mV().copy()
    assert np.all(young_gaba > E_REST_MV)  # depolarising while young
    assert np.all(young_gaba < -55.0)  # ...but below the granule threshold (shunting regime)
    # Silence: time passes (100 presentations' worth), no cell active -> nothing changes.
    c.record_activity(np.zeros((100, 20), bool))
    np.testing.assert_allclose(c.e_gaba_mV(), young_gaba)
    np.testing.assert_allclose(c.gaba_switch(), -1.0, atol=1e-9)
    # Activity: half the cells active in every presentation; they mature, the others stay young.
    active = np.zeros((100, 20), bool)
    active[:, :10] = True
    cl_before = c.chloride_mM_.copy()
    for _ in range(20):
        c.record_activity(active)
    assert np.all(c.chloride_mM_[:10] < cl_before[:10])
    assert np.all(c.e_gaba_mV()[:10] < E_REST_MV)  # hyperpolarising once mature
    np.testing.assert_allclose(c.e_gaba_mV()[10:], young_gaba[10:])


def test_lambda_follows_eq12():
    """With tau_Cl short against a presentation batch, lambda = clip(-1 + 2 C / s, -1, 1) within 1e-6."""
    s = 500.0
    c = _circuit(switch_count=s, tau_cl_ms=1.0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        active = rng.random((50, 20)) < np.linspace(0.1, 1.0, 20)
        c.record_activity(active)
        eq12 = np.clip(-1 + 2 * c.activity_count_ / s, -1, 1)
        np.testing.assert_allclose(c.gaba_switch(), eq12, atol=1e-6)
    assert c.gaba_switch().min() < 0 < c.gaba_switch().max()


def test_lambda_lags_with_realistic_kcc2():
    """With tau_Cl = 50 s (Currin et al.) lambda trails Eq. 12 but moves the same way."""
    c = _circuit(switch_count=500.0, tau_cl_ms=50_000.0)
    for _ in range(10):
        c.record_activity(np.ones((50, 20), bool))
    lam = c.gaba_switch()
    assert np.all(lam > -1) and np.all(lam < 1)  # Eq. 12 would already be at +1


def test_record_activity_rejects_wrong_shape():
    c = _circuit()
    with pytest.raises(ValueError, match="active"):
        c.record_activity(np.ones((5, 7), bool))  # 7 columns for 20 granule cells
