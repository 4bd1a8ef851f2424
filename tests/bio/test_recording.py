"""Monitors on the circuit (CerebellarCircuit.record): they see what the circuit computes and change nothing.

Small circuits (40 granule cells, 30 ms presentations) so that the file runs in seconds.
"""

import numpy as np
import pytest

import bio

# Fore et al. 2020's granule cell (C_m, g_L, E_L, E_e), written out here independently of bio/spiking.py.
C_M_PF, G_L_NS, E_L_MV, E_E_MV = 3.1, 0.2, -75.0, 0.0
# Fore et al.'s 12 ms AMPA mossy conductance: the default slow (NMDA) one rises over longer than 30 ms. A 0.1 ms step
# (the default is 0.2): the finite-difference check of the membrane equation below holds to 3 % at it.
SPIKING = dict(mode="spiking", seed=1, batch_size=3, copies=3, presentation_ms=30.0, read_ms=20.0, mossy_tau_ms=12.0,
               dt_ms=0.1)


@pytest.fixture(scope="module")
def spiking(request):
    """A mature spiking circuit, 4 digits (two simulation runs of <= 3), recorded with the default monitors."""
    from sklearn.datasets import load_digits

    x = load_digits().data[:4].astype(np.float32)
    c = bio.CerebellarCircuit(64, 40, 10, **SPIKING)
    c.mature()
    return c, x, c.record(x)


def test_recorded_activity_equals_hidden_and_changes_nothing(spiking):
    c, x, rec = spiking
    h = c.hidden(x)
    np.testing.assert_array_equal(rec.activity, h)  # same seeds, same batches: bit for bit
    assert (h > 0).any()
    again = c.record(x, cells={"granule": [0, 5]}, variables={"granule": ("v",)})
    np.testing.assert_array_equal(again.activity, h)  # the monitors of the first recording were removed
    np.testing.assert_array_equal(c.hidden(x), h)


def test_spike_counts_in_the_read_window_are_the_reported_activity(spiking):
    """Activity = spikes in the read window / read time x refractory period (2 ms); the window opens half a
    step early (bio/spiking.py), so a spike at t >= T - read - dt/2 into a presentation counts."""
    c, x, rec = spiking
    T, read, dt = 0.030, 0.020, c.dt_ms * 1e-3
    cell, t = rec.spike_cells["granule"], rec.spike_times_s["granule"]
    presentation = np.floor(t / T).astype(int)
    in_window = t - presentation * T >= T - read - dt / 2
    counts = np.zeros((len(x), 40))
    np.add.at(counts, (presentation[in_window], cell[in_window]), 1)
    np.testing.assert_allclose(counts / read * 0.002, rec.activity, rtol=1e-6, atol=1e-7)
    assert counts.sum() >= 10 and (~in_window).any()  # spikes on both sides of the window boundary
    assert t.min() >= 0 and t.max() < len(x) * T and np.all(np.diff(t) >= 0)
    assert len(rec.spike_times_s["golgi"]) > 0


def test_membrane_potential_obeys_the_lif_equation(spiking):
    """C dv/dt = g_L (E_L - v) + g_e (E_e - v) + g_gaba (E_gaba - v) on the recorded traces, in their units
    (mV, nS, pF -> mV/ms): the finite difference matches the right-hand side at the midpoint to 3 % (median),
    away from spikes and refractory periods, at the circuit's step."""
    c, _, rec = spiking
    v, g_e, g_gaba, e_gaba = (rec.trace("granule", name).data.astype(np.float64)
                              for name in ("v", "g_e", "g_gaba", "E_gaba"))
    assert rec.trace("granule", "v").unit == "mV" and rec.trace("granule", "g_e").unit == "nS"
    dt_ms = np.diff(rec.times_s) * 1e3
    dv = np.diff(v, axis=0) / dt_ms[:, None]
    mid = [(a[1:] + a[:-1]) / 2 for a in (v, g_e, g_gaba, e_gaba)]
    rhs = (G_L_NS * (E_L_MV - mid[0]) + mid[1] * (E_E_MV - mid[0]) + mid[2] * (mid[3] - mid[0])) / C_M_PF
    ok = (np.abs(dt_ms - c.dt_ms) < 1e-6)[:, None] & (v[:-1] > -74.9) & (v[1:] > -74.9) & (np.abs(dv) > 0.05)
    assert ok.sum() > 1000
    rel = np.abs(dv[ok] - rhs[ok]) / np.abs(rhs[ok])
    assert np.median(rel) < 0.03
    np.testing.assert_allclose(rec.cell_values["e_gaba_mV"], e_gaba[0], atol=1e-3)  # mature E_GABA per cell
    assert np.all(e_gaba < E_L_MV)


def test_a_subset_records_those_cells_only(spiking):
    c, x, full = spiking
    rec = c.record(x, cells={"granule": [7, 3, 7], "golgi": []}, variables={"granule": ("v", "g_e")})
    np.testing.assert_array_equal(rec.cells["granule"], [3, 7])
    assert set(rec.spike_times_s) == {"granule"} and set(np.unique(rec.spike_cells["granule"])) <= {3, 7}
    for cell in (3, 7):
        np.testing.assert_allclose(rec.spike_times_of("granule", cell), full.spike_times_of("granule", cell),
                                   rtol=0, atol=1e-12)
    np.testing.assert_array_equal(rec.trace("granule", "v").data, full.trace("granule", "v").data[:, [3, 7]])
    assert [t.name for t in rec.traces] == ["granule_v_mV", "granule_g_e_nS"]
    np.testing.assert_allclose(rec.intervals_s(), [[0, 0.03], [0.03, 0.06], [0.06, 0.09], [0.09, 0.12]])


def test_rate_traces_equal_the_loops_own_monitor():
    """Rate mode: the recorded e(t) equals RateLoop.run(monitor=True)'s record of the same presentation."""
    from sklearn.datasets import load_digits

    x = load_digits().data[:2].astype(np.float32)
    c = bio.CerebellarCircuit(64, 30, 10, mode="rate", seed=0, dt_ms=0.2, presentation_ms=20.0)
    c.mature()
    rec = c.record(x)
    assert rec.spike_times_s == {} and rec.n_presentations == 2
    args = c._run_args(c._mossy(x), None)
    e, t_ms, e_t = bio.golgi.RateLoop(c.graph, 2, c.dt_ms).run(*args, monitor=True)
    np.testing.assert_array_equal(rec.activity, e)
    act = rec.trace("granule", "act").data.reshape(2, -1, 30)  # (presentation, step, cell)
    np.testing.assert_allclose(act, e_t.transpose(0, 2, 1), rtol=1e-6)
    np.testing.assert_allclose(rec.times_s[: len(t_ms)] * 1e3, t_ms, atol=1e-9)
    lam = rec.trace("granule", "lam").data
    np.testing.assert_allclose(lam, 1.0)  # mature: Eq. 12's lambda = +1 everywhere


def test_bad_requests_fail_before_running(spiking):
    c, x, _ = spiking
    with pytest.raises(ValueError, match="no per-cell variable 'vm'"):
        c.record(x, variables={"granule": ("vm",)})
    with pytest.raises(ValueError, match=r"granule must lie in \[0, 40\)"):
        c.record(x, cells={"granule": [40]})
    with pytest.raises(ValueError, match="population 'purkinje'"):
        c.record(x, cells={"purkinje": [0]})
    rate = bio.CerebellarCircuit(64, 30, 10, codegen_target="cpp_standalone")
    with pytest.raises(ValueError, match="cpp_standalone"):
        rate.record(x)


@pytest.mark.slow
def test_recording_beside_a_worker_pool(spiking):
    """With n_workers > 1 the recording runs in this process, beside the pool, and gives hidden()'s activity."""
    from bio.workers import LoopPool

    _, x, rec = spiking
    c = bio.CerebellarCircuit(64, 40, 10, n_workers=2, **SPIKING)
    c.mature()
    try:
        h = c.hidden(x)
        pool = c._loop
        np.testing.assert_array_equal(c.record(x).activity, h)
        assert isinstance(pool, LoopPool) and c._loop is pool and c.n_workers == 2
    finally:
        c.close()
    np.testing.assert_array_equal(h, rec.activity)  # workers are a speed setting only
