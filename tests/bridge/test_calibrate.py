import numpy as np
import pytest

from bridge.calibrate import solve_for_k


def test_solve_for_k_on_a_step_function():
    # a decreasing step function of a threshold, like a count of active cells
    def mean_k(p):
        return float(np.floor(100 * np.exp(-p)))

    best, k, evaluations = solve_for_k(mean_k, 10, (0.0, 10.0))
    assert k == 10 and mean_k(best) == 10
    assert evaluations < 45


def test_solve_for_k_out_of_bracket():
    with pytest.raises(ValueError, match="widen"):
        solve_for_k(lambda p: 50.0 + p, 10, (0.0, 1.0))
