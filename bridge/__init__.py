"""The bridge between the SDMLP (``ann``) and the cerebellar circuit (``bio``)."""

from bridge.learner import EpochCallback, Learner
from bridge.weights import SDMWeights

__all__ = ["EpochCallback", "Learner", "SDMWeights"]
