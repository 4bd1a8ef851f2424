"""End to end: the default circuit on class-incremental digits (5 tasks of 2 classes)."""

import numpy as np
import pytest

import bio


@pytest.mark.slow
def test_defaults_learn_split_digits(digits):
    """Final average accuracy over the 5 tasks > 0.5 (measured 0.68; a naive learner that forgets
    everything but the last task scores ~0.2)."""
    x, y = digits
    idx = np.random.default_rng(0).permutation(len(x))
    train, test = idx[:1400], idx[1400:]
    c = bio.CerebellarCircuit(64, 1000, 10, seed=0, batch_size=200)
    for task in range(5):
        keep = np.isin(y[train], [2 * task, 2 * task + 1])
        c.fit_task(x[train][keep], y[train][keep], epochs=3)
    final = [
        (c.predict(x[test][m]) == y[test][m]).mean()
        for m in (np.isin(y[test], [2 * t, 2 * t + 1]) for t in range(5))
    ]
    assert np.mean(final) > 0.5
