"""PyTorch learners: the SDMLP of Bricken et al. (ICLR 2023) and its baselines."""

from ann.relu_mlp import ReLUMLP
from ann.sdmlp import SDMLP
from ann.topk import gaba_lambda, k_schedule, topk

__all__ = ["SDMLP", "ReLUMLP", "gaba_lambda", "k_schedule", "topk"]
