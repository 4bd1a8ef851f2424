"""Weight transfer between learners that share the SDM weights (address, value), exact to
float32, validated through :class:`bridge.SDMWeights` (shapes, finiteness, sign)."""

from __future__ import annotations

import numpy as np

from bridge.learner import Learner
from bridge.weights import SDMWeights


def transfer_weights(source: Learner, target: Learner) -> SDMWeights:
    """Copy ``source``'s address and value into ``target``; return the weights copied."""
    weights = SDMWeights.from_mapping(source.get_weights())
    target.set_weights(weights.to_mapping())
    return weights


def normalised_drive(x: np.ndarray, address: np.ndarray) -> np.ndarray:
    """drive = X_a^T x / ||x|| for every row of x, (batch, n_neurons) (Algorithm 1, steps 1-2)."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)) @ np.asarray(address, dtype=np.float64)
