"""Brian2 Purkinje cells: the read-out against its closed form, climbing-fiber complex spikes, and the
Marr-Albus-Ito LTD rule learning digits."""

import numpy as np
import pytest

import bio
from bio import plasticity
from bio.purkinje import PurkinjeLayer


def test_purkinje_rates_equal_the_closed_form_hand_case():
    """h = (1, 0, 2) and (0, 1, 0); w columns (0.5, 1, 0.25) and (0, 1, 1): y = (1, 2) and (1, 1) by hand.
    Climbing fiber 0 fires in presentation 1 and fiber 1 in presentation 2: each Purkinje cell receives
    exactly its own fiber's complex spike, in that presentation only."""
    layer = PurkinjeLayer(3, 2)
    h = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]])
    w = np.array([[0.5, 0.0], [1.0, 1.0], [0.25, 1.0]])
    fired = np.array([[True, False], [False, True]])
    rates, spikes = layer.run(h, w, fired)
    np.testing.assert_allclose(rates, [[1.0, 2.0], [1.0, 1.0]], rtol=1e-6)
    np.testing.assert_array_equal(spikes, fired)
    # a second run starts where the first ended in time, and no complex spike is left over from it
    rates, spikes = layer.run(h[::-1], 2 * w)
    np.testing.assert_allclose(rates, [[2.0, 2.0], [2.0, 4.0]], rtol=1e-6)
    assert not spikes.any()


def test_purkinje_rates_equal_h_times_weights_on_random_activity():
    rng = np.random.default_rng(0)
    h = (rng.random((40, 50)) * (rng.random((40, 50)) < 0.2)).astype(np.float32)
    w = rng.random((50, 4)).astype(np.float32)
    layer = PurkinjeLayer(50, 4)
    rates, spikes = layer.run(h, w)
    np.testing.assert_allclose(rates, h.astype(np.float64) @ w, rtol=1e-5, atol=1e-6)
    assert rates.shape == (40, 4) and not spikes.any()
    with pytest.raises(ValueError, match="weights"):
        layer.run(h, w[:, :3])


def test_circuit_ltd_step_equals_the_closed_form(digits):
    """One batch of the ltd rule: the complex spikes go through Brian2, the weights change as
    value_update(0.5, h, ltd_teach(one-hot labels)) computed here from the same granule activity."""
    x, y = digits
    x, y = x[y < 3][:30], y[y < 3][:30]
    kwargs = dict(seed=0, value_rule="ltd", lr_address=0.0, batch_size=30)
    h = bio.CerebellarCircuit(64, 100, 3, **kwargs).hidden(x)
    c = bio.CerebellarCircuit(64, 100, 3, **kwargs).fit_task(x, y, epochs=1)
    teach = np.where(np.eye(3, dtype=bool)[y], -1.0, plasticity.LTP_FRACTION)
    expected = plasticity.value_update(np.full((100, 3), 0.5, np.float32), h, teach, c.lr_value, 1.0)
    np.testing.assert_allclose(c.get_weights()["value"], expected, atol=1e-6)


def test_ltd_rule_learns_two_digits_read_out_by_the_least_active_purkinje_cell(digits):
    """CF + PF depresses the labelled class's Purkinje cell, so after one epoch on 0s and 1s the least active
    cell names the class of held-out digits (measured 1.00; chance 0.5). With the sign flipped (CF
    potentiates) the least active cell is the wrong one."""
    x, y = digits
    keep = y < 2
    x, y = x[keep][:200], y[keep][:200]
    c = bio.CerebellarCircuit(64, 200, 2, seed=0, value_rule="ltd")
    c.mature()  # GABA inhibitory from the start: the test is about the Purkinje rule, not the chloride switch
    c.fit_task(x[:150], y[:150], epochs=1)
    assert (c.predict(x[150:]) == y[150:]).mean() > 0.9
    w = c.get_weights()["value"]
    assert w.min() >= 0.0 and w.max() <= 1.0 and w.min() < 0.5 < w.max()  # both LTD and LTP happened
