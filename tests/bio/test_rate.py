"""Rate mode: the Brian2 Eq. 13 network against scipy, and the constant-k property (Fig. 12)."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import bio
from bio.golgi import RateLoop
from bio.wiring import normalised_weights
from bridge.calibrate import calibrate_golgi


def test_trajectories_match_solve_ivp():
    """Brian2 Euler (dt 0.01 ms) vs RK45 (rtol 1e-8) of the same ODEs, with and without feedforward
    inhibition: max |delta e| < 5e-3."""
    n, ng, T = 12, 2, 30.0
    graph = bio.circuit_graph(5, n, 2, n_golgi=ng, seed=3)
    w_ei = normalised_weights(graph.edges["granule", "golgi"]["mask"])  # (n, ng)
    w_ie = normalised_weights(graph.edges["golgi", "granule"]["mask"])  # (ng, n)
    rng = np.random.default_rng(0)
    drive = rng.uniform(0.3, 1.0, (2, n))
    lam = np.linspace(-1, 1, n)
    p = dict(tau_a=10.0, tau_i=2.0, b=0.05, L=0.2, gain=5.0, b_i=0.05)
    import brian2 as b2

    params = dict(p, tau_a=p["tau_a"] * b2.ms, tau_i=p["tau_i"] * b2.ms)
    ffi = np.array([0.0, 0.2])  # feedforward Golgi inhibition, none in the first copy
    loop = RateLoop(graph, n_copies=2, dt_ms=0.01, target="numpy")
    _, t_ms, e_brian = loop.run(drive, lam, T, params, ffi, monitor=True)

    def rhs(_, s, d, f):
        e, i = s[:n], s[n:]
        p_a = d - lam * (i @ w_ie + f)  # Eq. 13 with explicit inhibitory sign
        de = (-e + np.tanh(np.maximum((p_a - p["b"]) / p["L"], 0))) / p["tau_a"]
        di = (-i + p["gain"] * np.maximum(e @ w_ei - p["b_i"], 0)) / p["tau_i"]
        return np.concatenate([de, di])

    for c in range(2):
        sol = solve_ivp(rhs, (0, T), np.zeros(n + ng), t_eval=t_ms, args=(drive[c], ffi[c]), rtol=1e-8,
                        atol=1e-10)
        assert np.abs(sol.y[:n] - e_brian[c]).max() < 5e-3


def test_active_count_roughly_constant(digits):
    """50 digits, random unit-norm address, mature GABA: active count CV < 0.15 (paper Fig. 12)."""
    x, _ = digits
    c = bio.CerebellarCircuit(64, 1000, 10, seed=0, batch_size=50)
    c.mature()
    active = (c.hidden(x[:50]) > c.active_threshold).sum(axis=1)
    cv = active.std() / active.mean()
    print(f"active granule cells: mean {active.mean():.1f}, std {active.std():.1f}, CV {cv:.3f}")
    assert 0 < active.mean() < 1000
    assert cv < 0.15


def test_feedforward_inhibition_makes_k_independent_of_the_input(digits):
    """Calibrated to mean k = 10 on 200 digits, a fixed granule threshold lets k follow the input's mass
    ||x||_1 / ||x||_2 (Spearman 0.91 measured); feedforward Golgi inhibition (w_ff = 1, threshold on the
    centred drive) removes that (-0.26) and halves the spread of k (sd 3.9 -> 1.6)."""
    x, _ = digits
    cal = {}
    for w_ff, b in ((0.0, 0.55), (1.0, 0.05)):
        c = bio.CerebellarCircuit(64, 1000, 10, seed=0, granule_threshold=b, feedforward_inhibition=w_ff)
        c.mature()
        cal[w_ff] = calibrate_golgi(c, x[:200], 10)
        assert abs(cal[w_ff].achieved_k - 10) < 1.0 and cal[w_ff].silent_fraction == 0.0
    assert cal[0.0].k_mass_spearman > 0.8 and abs(cal[1.0].k_mass_spearman) < 0.4
    assert cal[1.0].achieved_k_sd < 0.6 * cal[0.0].achieved_k_sd


def test_frozen_gc_hands_objects_back(digits):
    """Simulating freezes live objects only for the run: the collector's state is as before."""
    import gc

    x, _ = digits
    before = gc.get_freeze_count()
    bio.CerebellarCircuit(64, 50, 10, batch_size=5).hidden(x[:5])
    assert gc.get_freeze_count() == before and gc.isenabled()


def test_cpp_standalone_matches_runtime(digits):
    """The compiled C++ program (summed-variable synapses) gives numpy's activity (matrix-product
    coupling) to 1e-9, and a changed Golgi gain is
    taken at run time without recompiling (the binary is built once)."""
    import brian2 as b2

    x, _ = digits
    circuits = {t: bio.CerebellarCircuit(64, 40, 10, seed=2, batch_size=8, codegen_target=t)
                for t in ("numpy", "cpp_standalone")}
    out, devices = {}, []
    for t, c in circuits.items():
        c.mature()
        before = c.hidden(x[:10])  # 2 batches, the second padded
        devices.append(c._loop._device)
        c.golgi_gain = 5.0
        out[t] = before, c.hidden(x[:10])
    compiled = circuits["cpp_standalone"]._loop._device
    assert compiled is devices[1] and compiled is not None  # same binary after the gain change
    assert b2.get_device() is not compiled  # the standalone device was handed back
    for a, b in zip(out["numpy"], out["cpp_standalone"], strict=True):
        np.testing.assert_allclose(b, a, atol=1e-9)
    assert (out["numpy"][0] > 0.05).sum() < (out["numpy"][1] > 0.05).sum()  # lower gain: more cells active
    with pytest.raises(ValueError, match="monitor"):
        circuits["cpp_standalone"]._loop.run(np.zeros((1, 40)), np.ones(40), 50.0, {}, monitor=True)
