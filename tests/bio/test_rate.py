"""Rate mode: the Brian2 Eq. 13 network against scipy, and the constant-k property (Fig. 12)."""

import numpy as np
from scipy.integrate import solve_ivp

import bio
from bio.golgi import RateLoop
from bio.wiring import normalised_weights


def test_trajectories_match_solve_ivp():
    """Brian2 Euler (dt 0.01 ms) vs RK45 (rtol 1e-8) of the same ODEs: max |delta e| < 5e-3."""
    n, ng, T = 12, 2, 30.0
    graph = bio.circuit_graph(5, n, 2, n_golgi=ng, seed=3)
    w_ei = normalised_weights(graph.edges["granule", "golgi"]["mask"])  # (n, ng)
    w_ie = normalised_weights(graph.edges["golgi", "granule"]["mask"])  # (ng, n)
    rng = np.random.default_rng(0)
    drive = rng.uniform(0.3, 1.0, (2, n))
    lam = np.linspace(-1, 1, n)
    p = dict(tau_a=10.0, tau_i=2.0, b=0.05, L=0.2, gain=5.0, b_i=0.05)
    import brian2 as b2

    ns = dict(p, tau_a=p["tau_a"] * b2.ms, tau_i=p["tau_i"] * b2.ms)
    loop = RateLoop(graph, n_copies=2, dt_ms=0.01)
    _, t_ms, e_brian = loop.run(drive, lam, T, ns, "numpy", monitor=True)

    def rhs(_, s, d):
        e, i = s[:n], s[n:]
        p_a = d - lam * (i @ w_ie)  # Eq. 13 with explicit inhibitory sign
        de = (-e + np.tanh(np.maximum((p_a - p["b"]) / p["L"], 0))) / p["tau_a"]
        di = (-i + p["gain"] * np.maximum(e @ w_ei - p["b_i"], 0)) / p["tau_i"]
        return np.concatenate([de, di])

    for c in range(2):
        sol = solve_ivp(rhs, (0, T), np.zeros(n + ng), t_eval=t_ms, args=(drive[c],), rtol=1e-8, atol=1e-10)
        assert np.abs(sol.y[:n] - e_brian[c]).max() < 5e-3


def test_active_count_roughly_constant(digits):
    """50 digits, random unit-norm address, mature GABA: active count CV < 0.15 (paper Fig. 12)."""
    x, _ = digits
    c = bio.CerebellarCircuit(64, 1000, 10, seed=0, batch_size=50)
    c.chloride_mM_[:] = c._chloride(c.e_cl_mature_mV)
    active = (c.hidden(x[:50]) > c.active_threshold).sum(axis=1)
    cv = active.std() / active.mean()
    print(f"active granule cells: mean {active.mean():.1f}, std {active.std():.1f}, CV {cv:.3f}")
    assert 0 < active.mean() < 1000
    assert cv < 0.15


def test_frozen_gc_hands_objects_back(digits):
    """Simulating freezes live objects only for the run: the collector's state is as before."""
    import gc

    x, _ = digits
    before = gc.get_freeze_count()
    bio.CerebellarCircuit(64, 50, 10, batch_size=5).hidden(x[:5])
    assert gc.get_freeze_count() == before and gc.isenabled()
