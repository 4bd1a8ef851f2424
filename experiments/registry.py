"""Learner registry: CLI model name -> constructor from a :class:`TrainConfig`.

A new learner is one module plus one line here; the runner never special-cases a model.
"""

from __future__ import annotations

from collections.abc import Callable

from ann import SDMLP, ReLUMLP
from bridge import Learner
from experiments.config import ConfigError, TrainConfig

Builder = Callable[[TrainConfig, int, int], Learner]


def _sdmlp(c: TrainConfig, n_inputs: int, n_outputs: int) -> Learner:
    return SDMLP(n_inputs, c.n_neurons, n_outputs, k=c.k, topk_mode=c.topk_mode, anneal_epochs=c.anneal_epochs,
                 gaba_s=c.gaba_s, lr=c.lr, batch_size=c.batch_size, optimizer=c.optimizer,
                 rectify_inputs=c.rectify_inputs, device=c.device, seed=c.seed)


def _relu(c: TrainConfig, n_inputs: int, n_outputs: int) -> Learner:
    return ReLUMLP(n_inputs, c.n_neurons, n_outputs, lr=c.lr, batch_size=c.batch_size, optimizer=c.optimizer,
                   device=c.device, seed=c.seed)


MODELS: dict[str, Builder] = {
    "sdmlp": _sdmlp,
    "relu": _relu,
}


def build_learner(config: TrainConfig, n_inputs: int, n_outputs: int) -> Learner:
    try:
        builder = MODELS[config.model]
    except KeyError:
        raise ConfigError(f"--model: unknown model {config.model!r}; choose one of {', '.join(MODELS)}.") from None
    return builder(config, n_inputs, n_outputs)
