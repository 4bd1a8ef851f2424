"""PyTorch learners: the SDMLP of Bricken et al. (ICLR 2023) and its baselines."""

from ann.flymodel import FlyModel
from ann.regularizers import EWC, L2, MAS, SI, ImportancePenalty
from ann.relu_mlp import ReLUMLP
from ann.sdmlp import SDMLP
from ann.topk import gaba_lambda, k_schedule, topk

__all__ = ["EWC", "L2", "MAS", "SDMLP", "SI", "FlyModel", "ImportancePenalty", "ReLUMLP", "gaba_lambda",
           "k_schedule", "topk"]
