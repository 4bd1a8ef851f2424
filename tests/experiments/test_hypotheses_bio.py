"""The circuit's Golgi clamp (``golgi_clamp``, the ablation of ``golgi-feedback-needed``) against Eq. 13 solved
here with scipy, and the two circuit hypotheses that learn natively (bio-forgets-like-sdm, golgi-feedback-needed).

Eq. 13 (Bricken et al. 2023, App. C.1; bio/equations.py), mature GABA (lambda = 1), coupled Golgi cells:
    e_j = tanh([(e0_j - (I + f) - b) / L]_+),   I = gain [sum_j w_j e_j - b_i]_+
with w_j the mean over Golgi cells of granule j's normalised weight onto each (every Golgi cell sees the same input)
and I the inhibition W_IE i every granule cell receives (W_IE rows sum to 1).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

import bio
from experiments.data import load_dataset

N_CELLS, K = 40, 4


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")
    return data.x_train[:40], data.x_test[:30]


@pytest.fixture(scope="module")
def circuit(digits):
    sample, _ = digits
    c = bio.CerebellarCircuit(64, N_CELLS, 10, seed=3, codegen_target="numpy")
    c.mature()
    c.adapt_to(sample, K)
    return c


def steady_inhibition(c: bio.CerebellarCircuit, x: np.ndarray) -> np.ndarray:
    """Eq. 13's steady-state feedback inhibition I per input, by root finding (scipy.optimize.brentq)."""
    mask = c.graph.edges["granule", "golgi"]["mask"].astype(float)  # (n_neurons, n_golgi)
    w = (mask / mask.sum(axis=0)).mean(axis=1)  # each Golgi cell's input weights, averaged by full coupling
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    e0 = unit @ c.address_.astype(np.float64)
    f = c.feedforward_inhibition * e0.mean(axis=1)
    out = []
    for e0_row, f_row in zip(e0, f, strict=True):
        def excess(i_level, e0_row=e0_row, f_row=f_row):
            e = np.tanh(np.maximum((e0_row - (i_level + f_row) - c.granule_threshold) / c.smoothing, 0.0))
            return c.golgi_gain * max(w @ e - c.golgi_threshold, 0.0) - i_level

        out.append(optimize.brentq(excess, 0.0, c.golgi_gain + 1.0, xtol=1e-12))
    return np.array(out)


def test_feedback_inhibition_is_eq13_steady_state(circuit, digits):
    _, x = digits
    circuit.golgi_clamp = None
    got = circuit.feedback_inhibition(x)
    ref = steady_inhibition(circuit, x)
    assert ref.min() > 0  # the loop is closed on every input
    np.testing.assert_allclose(got, ref, rtol=1e-3)  # 50 ms presentation: at the fixed point (measured 1e-5)


def test_clamped_inhibition_is_constant_and_the_dynamic_mean(circuit, digits):
    sample, x = digits
    circuit.golgi_clamp = None
    dynamic = steady_inhibition(circuit, sample).mean()
    level = circuit.clamp_golgi(sample)
    try:
        assert level == pytest.approx(dynamic, rel=1e-3)  # the mean of Eq. 13's fixed points over the sample
        clamped = circuit.feedback_inhibition(x)
        assert np.ptp(clamped) < 1e-9 * level  # the same on every input
        np.testing.assert_allclose(clamped, level, rtol=1e-9)
        # the granule cells see exactly that inhibition: exponential Euler from e = 0 under a constant input s
        # gives e(t) = s (1 - exp(-t / tau_a)) at every step, with the Golgi cells silent; t = the presentation time
        # to within one step (Brian2 rounds the number of steps)
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        e0 = unit @ circuit.address_.astype(np.float64)
        f = circuit.feedforward_inhibition * e0.mean(axis=1, keepdims=True)
        s = np.tanh(np.maximum((e0 - (level + f) - circuit.granule_threshold) / circuit.smoothing, 0.0))
        t_ms = circuit.presentation_ms + np.array([-1, 1]) * circuit.dt_ms
        lo, hi = (s * (1 - np.exp(-t / circuit.tau_granule_ms)) for t in t_ms)
        h = circuit.hidden(x)
        assert np.all(h >= lo - 2e-6) and np.all(h <= hi + 2e-6) and np.any(h > 0.5)
        # inputs now differ in how many cells the constant inhibition leaves active; the loop held them together
        state = circuit.state_dict()
        assert state["golgi_clamp"] == level
        other = bio.CerebellarCircuit(64, N_CELLS, 10, seed=3, codegen_target="numpy")
        other.load_state_dict(state)
        assert other.golgi_clamp == level
    finally:
        circuit.golgi_clamp = None


@pytest.mark.parametrize("kwargs", [{"golgi_clamp": -0.1}, {"golgi_clamp": float("nan")},
                                    {"golgi_clamp": 0.1, "mode": "spiking"}])
def test_bad_clamp_is_refused(kwargs):
    with pytest.raises(ValueError, match="golgi_clamp"):
        bio.CerebellarCircuit(64, N_CELLS, 10, **kwargs)


def test_circuit_against_relu_is_a_paired_permutation_test_from_the_values():
    from scipy import stats

    from experiments.hypotheses.builtins_bio import _against_relu

    circuit, relu = np.array([0.31, 0.35, 0.28, 0.40, 0.33]), np.array([0.52, 0.49, 0.55, 0.47, 0.58])
    result = {"alpha": 0.05, "conditions": {"circuit": {"values": circuit.tolist()}, "relu": {"values": relu.tolist()},
                                            "sdmlp": {"values": [0.3] * 5}}}
    got = _against_relu(result, {})["circuit_vs_relu"]
    d = circuit - relu
    ref = stats.permutation_test((d,), np.mean, permutation_type="samples", alternative="less",
                                 rng=np.random.default_rng(0))
    assert got["effect"] == pytest.approx(d.mean()) and got["p_value"] == pytest.approx(ref.pvalue)
    assert got["p_value"] == pytest.approx(1 / 32)  # every difference negative: 1 of the 2^5 sign patterns
    assert got["decision"] == "supported"
