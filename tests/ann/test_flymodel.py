"""FlyModel (Shen et al. 2021): the associative update rule on a toy case."""

import numpy as np
import pytest

from ann import FlyModel


def test_update_rule_by_hand():
    fly = FlyModel(n_inputs=3, n_neurons=3, n_outputs=3, k=1, m=1, lr=0.25)
    fly.set_weights({"address": np.eye(3, dtype=np.float32), "value": np.zeros((3, 3), np.float32)})
    x = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0]], dtype=np.float32)  # unit-normalised: [.6, .8, 0], [0, 0, 1]
    h = fly.hidden(x)
    np.testing.assert_allclose(h, [[0, 0.8, 0], [0, 0, 1]], atol=1e-6)  # k-WTA keeps the largest cell
    fly.fit_task(x, np.array([2, 0]), epochs=50)  # epochs is ignored: one pass
    expected = np.zeros((3, 3))
    expected[1, 2] = 0.25 * 0.8  # cell 1 -> class 2 only
    expected[2, 0] = 0.25 * 1.0  # cell 2 -> class 0 only
    np.testing.assert_allclose(fly.get_weights()["value"], expected, atol=1e-6)
    for _ in range(10):
        fly.fit_task(x, np.array([2, 0]), epochs=1)
    assert fly.get_weights()["value"].max() == 1.0  # clipped at 1
    np.testing.assert_array_equal(fly.predict(x), [2, 0])


def test_projection_is_sparse_binary_with_m_inputs_per_cell():
    fly = FlyModel(n_inputs=20, n_neurons=50, n_outputs=2, k=5, m=7, seed=1)
    p = fly.get_weights()["address"]
    assert set(np.unique(p)) == {0.0, 1.0}
    np.testing.assert_array_equal(p.sum(axis=0), 7)
    assert (fly.hidden(np.random.default_rng(0).random((4, 20))) > 0).sum(axis=1).max() <= 5


def test_bad_input():
    with pytest.raises(ValueError, match="'m' parameter of FlyModel"):
        FlyModel(n_inputs=4, n_neurons=8, n_outputs=2, k=2, m=5)
    with pytest.raises(ValueError, match=">= 0"):
        FlyModel(n_inputs=2, n_neurons=8, n_outputs=2, k=2, m=1).predict(np.array([[-1.0, 0.0]]))


def test_k_defaults_to_the_top_one_percent():
    assert FlyModel(n_inputs=4, n_neurons=1000, m=2).k == 10
    assert FlyModel(n_inputs=4, n_neurons=10_000, m=2).k == 100
    assert FlyModel(n_inputs=4, n_neurons=50, m=2).k == 1
