"""Metric formulas on hand-made accuracy matrices."""

import numpy as np
import pytest

from experiments.metrics import dead_fraction, summarize

R = np.array([
    [0.9, 0.0, 0.0],
    [0.6, 0.8, 0.0],
    [0.3, 0.7, 1.0],
])


def test_hand_computed_summary():
    s = summarize(R)
    assert s["acc"] == pytest.approx((0.3 + 0.7 + 1.0) / 3)
    assert s["bwt"] == pytest.approx(((0.3 - 0.9) + (0.7 - 0.8)) / 2)
    # forgetting_j = max_{l < T-1} R[l, j] - R[T-1, j]: task 0: 0.9 - 0.3, task 1: 0.8 - 0.7
    assert s["forgetting"] == pytest.approx((0.6 + 0.1) / 2)
    assert s["learning_acc"] == pytest.approx((0.9 + 0.8 + 1.0) / 3)


def test_forgetting_uses_best_earlier_row_not_diagonal():
    # accuracy on task 0 improves after task 1 (backward transfer) then drops
    R2 = np.array([[0.5, 0.0, 0.0], [0.9, 0.8, 0.0], [0.4, 0.8, 1.0]])
    s = summarize(R2)
    assert s["forgetting"] == pytest.approx(((0.9 - 0.4) + 0.0) / 2)
    assert s["bwt"] == pytest.approx(((0.4 - 0.5) + 0.0) / 2)


def test_no_forgetting_and_single_task():
    assert summarize(np.eye(3))["bwt"] == pytest.approx(-1.0)
    perfect = np.tril(np.ones((4, 4)))
    assert summarize(perfect) == {"acc": 1.0, "bwt": 0.0, "forgetting": 0.0, "learning_acc": 1.0}
    assert summarize([[0.7]]) == {"acc": 0.7, "bwt": 0.0, "forgetting": 0.0, "learning_acc": 0.7}


@pytest.mark.parametrize("bad", [np.ones((2, 3)), np.full((2, 2), np.nan), np.full((2, 2), 1.5), np.zeros((0, 0))])
def test_invalid_matrices(bad):
    with pytest.raises(ValueError):
        summarize(bad)


def test_dead_fraction():
    h = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.5, 0.2, 0.0]])
    assert dead_fraction(h) == pytest.approx(0.5)
