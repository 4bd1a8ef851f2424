"""Metric formulas on hand-made accuracy matrices."""

import numpy as np
import pytest

from bridge.evaluation import learner_dead_fraction
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


class _FixedHidden:
    """A learner whose hidden activity is fixed: only what the dead fraction reads."""

    def __init__(self, h, active_threshold=None):
        self._h = np.asarray(h)
        if active_threshold is not None:
            self.active_threshold = active_threshold

    def hidden(self, x):
        return self._h


def test_learner_dead_fraction_uses_the_learners_own_threshold():
    """A granule cell whose activity never exceeds the circuit's active_threshold is dead, however
    slightly it stays above 0 (e.g. excited at the start of a presentation, silenced by the Golgi
    cell); an ANN (no active_threshold) counts every positive post-Top-K activity."""
    h = np.array([[0.0, 0.01, 0.3, 0.04], [0.0, 0.02, 0.0, 0.06]])
    assert learner_dead_fraction(_FixedHidden(h), None) == pytest.approx(0.25)  # only neuron 0 never > 0
    assert learner_dead_fraction(_FixedHidden(h, 0.05), None) == pytest.approx(0.5)  # neurons 0 and 1
