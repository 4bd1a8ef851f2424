import brian2 as b2
import numpy as np
import pytest
from sklearn.datasets import load_digits


@pytest.fixture(autouse=True)
def reset_brian():
    """Restore Brian2's global preferences and clock after each test (as Brian2's own suite does)."""
    saved = {k: b2.prefs[k] for k in ("codegen.target", "codegen.runtime.cython.cache_dir")}
    yield
    for k, v in saved.items():
        b2.prefs[k] = v
    b2.defaultclock.dt = 0.1 * b2.ms


@pytest.fixture(scope="session")
def digits():
    d = load_digits()
    return d.data.astype(np.float32), d.target.astype(np.int64)
