"""Rate mode: the Brian2 Eq. 13 network against scipy, and the constant-k property (Fig. 12)."""

import brian2 as b2
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import bio
from bio.golgi import RateLoop, reached_loop_gain
from bridge.calibrate import calibrate_golgi


def _own_weights(graph, coupling):
    """W_EI and W_IE from the masks by their documented definition, not from bio.wiring: each post cell's
    inputs sum to 1 (a Golgi cell's input is the mean activity of its granule cells), and electrically
    coupled Golgi cells share their inputs (W_EI averaged over the Golgi cells)."""
    m_ei = graph.edges["granule", "golgi"]["mask"].astype(float)
    m_ie = graph.edges["golgi", "granule"]["mask"].astype(float)
    w_ei, w_ie = m_ei / m_ei.sum(axis=0), m_ie / m_ie.sum(axis=0)
    ng = w_ei.shape[1]
    return w_ei @ ((1 - coupling) * np.eye(ng) + coupling * np.ones((ng, ng)) / ng), w_ie


@pytest.mark.parametrize(("rho", "integration", "sharpen"), [
    (0.0, "explicit", 1.0), (0.05, "explicit", 1.0), (0.0, "implicit", 1.0), (0.05, "implicit", 1.0),
    (0.0, "implicit", 30.0),  # L / 30: a loop gain no explicit or Gauss-Seidel update survives at 1 ms
])
def test_steady_state_matches_solve_ivp_at_production_settings(rho, integration, sharpen):
    """Brian2 (exponential Euler at the step adapt_to chooses) against scipy LSODA (rtol 1e-10) of Eq. 13 at the
    production gain, L and dt that adapt_to sets on heavy-tailed synthetic inputs, mature GABA with feedforward
    inhibition, with linear (rho 0) and depressing (rho 0.05) granule -> Golgi synapses, each step coupled
    explicitly or implicitly (rate_integration; its step, 1 ms, is 20-50x the explicit one), and implicitly at L / 30
    (a loop gain whose explicit bound is a third of that step): the steady state of the active cells agrees to 1e-3
    relative, and the state at the end of a 50 ms presentation to 1e-2 (2e-2 at L / 30: faster transients)."""
    rng = np.random.default_rng(5)
    n, k = 150, 4
    x = rng.lognormal(0.0, 1.0, (60, 40)) * (rng.random((60, 40)) < 0.3)
    x[x.sum(axis=1) == 0, 0] = 1.0
    c = bio.CerebellarCircuit(40, n, 2, seed=1, golgi_depression=rho, rate_integration=integration)
    c.mature()
    s = c.adapt_to(x, k)
    assert s["dt_ms"] > (0.5 if integration == "implicit" else 0.02)  # a step a presentation can afford
    w_ei, w_ie = _own_weights(c.graph, c.golgi_coupling)
    x_unit = x[:2] / np.linalg.norm(x[:2], axis=1, keepdims=True)
    drive = x_unit @ c.address_.astype(float)
    ffi = c.feedforward_inhibition * drive.mean(axis=1)
    lam = c.gaba_switch()
    assert np.allclose(lam, 1.0)
    p = dict(tau_a=c.tau_granule_ms, tau_i=c.tau_golgi_ms, b=c.granule_threshold, L=c.smoothing / sharpen,
             gain=c.golgi_gain, b_i=c.golgi_threshold)
    params = dict(p, tau_a=p["tau_a"] * b2.ms, tau_i=p["tau_i"] * b2.ms)
    ng = w_ei.shape[1]

    def rhs(_, y, d, f):
        e, i = y[:n], y[n:]
        p_a = d - lam * (i @ w_ie + f)  # Eq. 13 with the inhibitory sign explicit
        de = (-e + np.tanh(np.maximum((p_a - p["b"]) / p["L"], 0))) / p["tau_a"]
        synapse = e * (1 + rho) / (e + rho) if rho else e  # steady state of a depressing synapse
        di = (-i + p["gain"] * np.maximum(synapse @ w_ei - p["b_i"], 0)) / p["tau_i"]
        return np.concatenate([de, di])

    loop = RateLoop(c.graph, n_copies=2, dt_ms=c.dt_ms, target="numpy", integration=integration)
    for duration_ms, rtol in ((200.0, 1e-3), (50.0, 1e-2 if sharpen == 1 else 2e-2)):
        e_brian = loop.run(drive, lam, duration_ms, params, ffi).astype(float)
        if integration == "implicit":
            assert loop.coupler.iterations <= 30
            loop_gain = reached_loop_gain(drive, ffi, lam, w_ei, p["gain"], p["L"], p["b"], p["b_i"],
                                          depression=rho).max()
            assert sharpen == 1 or c.dt_ms > 3 * (p["tau_a"] + p["tau_i"]) / (1 + loop_gain)  # far past explicit
        for row in range(2):
            ref = solve_ivp(rhs, (0, duration_ms), np.zeros(n + ng), method="LSODA", rtol=1e-10, atol=1e-12,
                            args=(drive[row], ffi[row])).y[:n, -1]
            active = ref > 0.05
            assert 2 <= active.sum() <= 3 * k
            err = np.abs(e_brian[row, active] - ref[active]) / ref[active]
            assert err.max() < rtol, (duration_ms, err.max())


def test_depressing_synapse_is_the_tsodyks_markram_steady_state():
    """bio.golgi.depressed against the Tsodyks-Markram resource equation dx/dt = (1 - x) / tau_rec - U r x,
    integrated by scipy to its steady state at each rate r: the transmitted drive U r x, relative to its value at
    the maximal rate, for U = 0.5, tau_rec = 40 ms, r_max = 500 Hz (limiting rate over maximal: rho = 0.1)."""
    from bio.golgi import depressed, depressed_slope

    u, tau_s, r_max = 0.5, 0.04, 500.0

    def transmitted(r):
        x = solve_ivp(lambda _, x: (1 - x) / tau_s - u * r * x, (0, 2.0), [1.0], rtol=1e-10, atol=1e-12).y[0, -1]
        return u * r * x

    rates = np.array([0.0, 5.0, 50.0, 200.0, 500.0])
    expected = np.array([transmitted(r) for r in rates]) / transmitted(r_max)
    rho = 1 / (u * tau_s * r_max)
    assert rho == pytest.approx(0.1)
    assert np.allclose(depressed(rates / r_max, rho), expected, rtol=1e-6, atol=1e-9)
    e = np.linspace(0.0, 1.0, 11)
    assert np.array_equal(depressed(e, 0.0), e)  # rho = 0: Eq. 13's linear input
    h = 1e-6
    inner = np.concatenate([[h, rho], e[1:-1]])  # at rest, at the limiting rate, and across the range
    numeric = (depressed(inner + h, rho) - depressed(inner - h, rho)) / (2 * h)
    assert np.allclose(depressed_slope(inner, rho), numeric, rtol=1e-5)
    assert depressed_slope(np.zeros(1), rho)[0] == pytest.approx((1 + rho) / rho)  # the slope the step is set by


def test_cpp_standalone_matches_runtime_with_depressing_synapses(digits):
    """The compiled program's summed synapses pass s(e) as the runtime's matrix products do (to 1 %), and the
    depressing synapses change the activity (against the linear ones)."""
    x, _ = digits
    out = {}
    for t, rho in (("numpy", 0.05), ("cpp_standalone", 0.05), ("numpy", 0.0)):
        c = bio.CerebellarCircuit(64, 40, 10, seed=2, batch_size=8, codegen_target=t, golgi_depression=rho)
        c.mature()
        out[t, rho] = c.hidden(x[:10])
    np.testing.assert_allclose(out["cpp_standalone", 0.05], out["numpy", 0.05], rtol=1e-2, atol=1e-6)
    assert np.abs(out["numpy", 0.05] - out["numpy", 0.0]).max() > 0.05


@pytest.mark.parametrize("rho", [0.0, 0.05])
def test_reached_loop_gain_is_the_slope_of_the_closed_loop(rho):
    """reached_loop_gain at the steady state against a reference from the equations: the steady inhibition I*
    solved by scipy (I = gain [mean_j s(tanh([(d_j - I - b) / L]_+)) - b_i]_+, s the saturating synapse written
    out here), and the loop gain as the central-difference slope of the Golgi side at I*."""
    from scipy.optimize import brentq

    from bio.golgi import reached_loop_gain

    n, gain, L, b, b_i = 30, 40.0, 0.02, 0.0, 0.05
    drive = np.linspace(0.0, 0.3, n)[None, :]
    w_ei = np.full((n, 3), 1.0 / n)  # three fully coupled Golgi cells, each the mean of all granule cells

    def golgi(i_level):
        e = np.tanh(np.maximum((drive[0] - i_level - b) / L, 0.0))
        passed = e * (1 + rho) / (e + rho) if rho else e
        return gain * max(passed.mean() - b_i, 0.0)

    i_star = brentq(lambda i: golgi(i) - i, 0.0, 1.0, xtol=1e-14)
    h = 1e-7
    expected = -(golgi(i_star + h) - golgi(i_star - h)) / (2 * h)
    got = reached_loop_gain(drive, np.zeros(1), np.ones(n), w_ei, gain, L, b, b_i, depression=rho)
    assert expected > 1.0
    np.testing.assert_allclose(got, [expected], rtol=1e-4)


def test_depression_is_checked_and_kept_in_the_state():
    """0 or >= 0.01 (the step shrinks as 1 / rho), saved with the state and refused on a circuit built with other
    synapses."""
    with pytest.raises(ValueError, match=">= 0.01"):
        bio.CerebellarCircuit(20, 100, 2, golgi_depression=0.001)
    state = bio.CerebellarCircuit(8, 20, 2, golgi_depression=0.05).state_dict()
    bio.CerebellarCircuit(8, 20, 2, golgi_depression=0.05).load_state_dict(state)
    with pytest.raises(ValueError, match="golgi_depression=0.05"):
        bio.CerebellarCircuit(8, 20, 2).load_state_dict(state)


def test_refuses_a_step_too_long_for_the_loop():
    """The construction check (one steep cell) and the run check (the loop gain at the state reached) both
    refuse unstable steps, naming dt_ms; the step adapt_to chooses passes both."""
    with pytest.raises(ValueError, match="dt_ms.*golgi_gain=300"):
        bio.CerebellarCircuit(20, 100, 2, golgi_gain=300.0, smoothing=0.001, dt_ms=0.4)
    # the case: a wide L over a narrow drive distribution puts many cells on the steep part
    graph = bio.circuit_graph(5, 200, 2, seed=0)
    rng = np.random.default_rng(0)
    drive = 0.32 + 0.05 * rng.random((2, 200))
    p = dict(tau_a=10.0 * b2.ms, tau_i=2.0 * b2.ms, b=0.32, L=0.07, gain=300.0, b_i=0.01)
    with pytest.raises(ValueError, match="dt_ms=0.4.*loop gain reaches"):
        RateLoop(graph, 2, 0.4).run(drive, np.ones(200), 50.0, p)
    RateLoop(graph, 2, 0.01).run(drive, np.ones(200), 1.0, p)  # short enough: accepted


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


@pytest.mark.slow  # about a minute: two calibrations on 200 inputs at dt 0.1 ms
def test_feedforward_inhibition_makes_k_independent_of_the_input(digits):
    """Calibrated to mean k = 10 on 200 digits, a fixed granule threshold lets k follow the input's mass
    ||x||_1 / ||x||_2 (Spearman 0.91 measured); feedforward Golgi inhibition (w_ff = 1, threshold on the
    centred drive) removes that (-0.26) and halves the spread of k (sd 3.9 -> 1.6)."""
    x, _ = digits
    cal = {}
    for w_ff, b in ((0.0, 0.55), (1.0, 0.05)):
        c = bio.CerebellarCircuit(64, 1000, 10, seed=0, granule_threshold=b, feedforward_inhibition=w_ff,
                                  dt_ms=0.1)  # 0.4 ms: the loop gain reaches 65 at some thresholds tried
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
    coupling) to 1 %, and a changed Golgi gain is
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
        # equal to 1e-9 with forward Euler; with exponential Euler and Golgi coupling the two couplings differ by
        # up to ~1e-5 (0.5 % of the smallest activities), not yet explained
        np.testing.assert_allclose(b, a, rtol=1e-2, atol=1e-6)
    assert (out["numpy"][0] > 0.05).sum() < (out["numpy"][1] > 0.05).sum()  # lower gain: more cells active
    with pytest.raises(ValueError, match="monitor"):
        circuits["cpp_standalone"]._loop.run(np.zeros((1, 40)), np.ones(40), 50.0, {}, monitor=True)


def test_implicit_integration_keeps_the_explicit_active_sets(digits):
    """rate_integration='implicit' at its 1 ms step against the explicit coupling at adapt_to's step, same circuit
    and digits: the same active cells on every input and activities within 2e-2 (both converge to Eq. 13's steady
    state; test_steady_state_matches_solve_ivp_at_production_settings checks each against scipy)."""
    x, _ = digits
    h = {}
    for integration in ("explicit", "implicit"):
        c = bio.CerebellarCircuit(64, 300, 10, seed=0, batch_size=50, rate_integration=integration)
        c.mature()
        s = c.adapt_to(x[:100], 8)
        h[integration] = c.hidden(x[100:150])
        if integration == "implicit":
            assert s["dt_ms"] == pytest.approx(1.0) and c._loop.coupler.iterations <= 20
    active = h["explicit"] > 0.05
    assert 4 <= active.sum(axis=1).mean() <= 16
    np.testing.assert_array_equal(h["implicit"] > 0.05, active)
    np.testing.assert_allclose(h["implicit"], h["explicit"], atol=2e-2)


def test_implicit_integration_is_refused_where_its_step_has_no_unique_root(digits):
    """Implicit coupling needs mature (inhibitory) GABA, fully coupled Golgi cells, rate mode, a runtime target and
    a step within the Golgi time constant; each refusal names what to change."""
    x, _ = digits
    young = bio.CerebellarCircuit(64, 50, 10, rate_integration="implicit")
    with pytest.raises(ValueError, match="lambda >= 0"):
        young.hidden(x[:4])
    for settings in (dict(golgi_coupling=0.5), dict(mode="spiking"), dict(codegen_target="cpp_standalone")):
        with pytest.raises(ValueError, match="rate_integration"):
            bio.CerebellarCircuit(64, 50, 10, rate_integration="implicit", **settings)
    with pytest.raises(ValueError, match="dt_ms.*implicit"):
        bio.CerebellarCircuit(64, 50, 10, rate_integration="implicit", dt_ms=3.0)
