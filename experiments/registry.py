"""Learner registry: CLI model name -> constructor from a :class:`TrainConfig` (and the
stream transform the method trains on, the identity for every continual learner).

A new learner is one module plus one line here; the runner never special-cases a model.
Composition, not copies: "sdmlp+ewc" is the SDMLP given an EWC regulariser, "topk" is the
SDMLP with every SDM constraint switched off, "oracle" is the ReLU MLP on the joint stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ann import EWC, L2, MAS, SDMLP, SI, FlyModel, ImportancePenalty, ReLUMLP
from bridge import Learner
from experiments.config import CircuitLearning, ConfigError, TrainConfig
from experiments.streams import TaskStream, joint

Builder = Callable[[TrainConfig, int, int], Learner]


def given(**kwargs) -> dict:
    """Keyword arguments that were set (None = keep the method's own default)."""
    return {k: v for k, v in kwargs.items() if v is not None}


def _sdmlp(c: TrainConfig, n_inputs: int, n_outputs: int, regularizer: ImportancePenalty | None = None,
           **constraints) -> SDMLP:
    flags = {"nonnegative": c.nonnegative, "l2_normalize": c.l2_normalize, "hidden_bias": c.hidden_bias,
             "output_bias": c.output_bias, "anneal_epochs": c.anneal_epochs, "init": c.init,
             "bias_init": c.bias_init, "bias_clamp": c.bias_clamp, "rectify": c.rectify_drive, **constraints}
    return SDMLP(n_inputs, c.n_neurons, n_outputs, k=c.k, topk_mode=c.topk_mode, gaba_s=c.gaba_s, lr=c.lr,
                 batch_size=c.batch_size, optimizer=c.optimizer, rectify_inputs=c.rectify_inputs,
                 grad_clip=c.grad_clip, device=c.device, seed=c.seed, n_models=c.n_models,
                 regularizer=regularizer, **flags)


def _topk(c: TrainConfig, n_inputs: int, n_outputs: int) -> SDMLP:
    """The paper's "Top-K" row: Top-K activation, biases, no L2 norm, no positivity, no annealing."""
    return _sdmlp(c, n_inputs, n_outputs, nonnegative=False, l2_normalize=False, hidden_bias=True,
                  output_bias=True, anneal_epochs=0)


def _relu(c: TrainConfig, n_inputs: int, n_outputs: int, regularizer: ImportancePenalty | None = None,
          dropout: float = 0.0) -> ReLUMLP:
    return ReLUMLP(n_inputs, c.n_neurons, n_outputs, lr=c.lr, batch_size=c.batch_size, optimizer=c.optimizer,
                   dropout=dropout, regularizer=regularizer, grad_clip=c.grad_clip, device=c.device, seed=c.seed)


# --reg-coef when not given. Our importances follow the original papers (per-sample Fisher etc.). The
# reference code's EWC and SI importances are orders of magnitude larger (batch-summed losses), its MAS
# importance smaller (averaged over outputs and divided by the task's batches; docs/reference-differences.md),
# so Table 9's coefficients (the classes' defaults) do not transfer (EWC 200 -> ACC 0.196 on Split MNIST).
# These are the best of our sweeps with the reference code's protocol, plain SGD lr 0.05, batch 128,
# gradient clip 1 (README, Results): EWC, MAS, SI at 10 epochs per task, SDMLP+EWC at 500. SDMLP+MAS: the
# best of 0.005-50 on the mean scale (results/reference/1-mas-scale.json, a small budget: every 5th training
# sample, 5 epochs per task, lr 0.2, batch 32); 0.5, Table 9's value, stays, ~40x the strength Table 9's
# 0.5 has on the reference scale. L2 keeps Table 9's 10. Tuned on Split MNIST; where a dataset was
# re-tuned, its own value replaces MNIST's: Fashion-MNIST's SDMLP+EWC at 500 epochs per task gives ACC
# 0.631 with 1e5 and 0.706 with 1e6 (seed 0, side by side on one host; 1e6 over 3 seeds 0.718 +- 0.006;
# paper 0.74).
TUNED_REG_COEF = {"ewc": 1e7, "mas": 5.0, "si": 5e5, "sdmlp+ewc": 1e5, "sdmlp+mas": 0.5}
RETUNED_REG_COEF = {"fashion-mnist": {"sdmlp+ewc": 1e6}}


# Table 9's coefficients were tuned with the reference code's importance scale: with --importance-scale
# reference these methods take them (the classes' defaults) instead of ours.
REFERENCE_SCALED = ("mas", "si", "sdmlp+mas")


def tuned_reg_coef(model: str, dataset: str, importance_scale: str = "mean") -> float | None:
    """The tuned regulariser coefficient of ``model`` on ``dataset`` (None: the class's Table 9 default)."""
    if importance_scale == "reference" and model in REFERENCE_SCALED:
        return None
    return RETUNED_REG_COEF.get(dataset, {}).get(model, TUNED_REG_COEF.get(model))


def _coef(c: TrainConfig) -> float | None:
    return c.reg_coef if c.reg_coef is not None else tuned_reg_coef(c.model, c.dataset, c.importance_scale)


def _ewc(c: TrainConfig) -> EWC:
    return EWC(**given(coef=_coef(c), beta=c.beta), anchors=c.ewc_anchors)


def _mas(c: TrainConfig) -> MAS:
    return MAS(**given(coef=_coef(c)), scale=c.importance_scale)


def _si(c: TrainConfig) -> SI:
    return SI(**given(coef=_coef(c), beta=c.beta), scale=c.importance_scale)


def _fly(c: TrainConfig, n_inputs: int, n_outputs: int) -> FlyModel:
    return FlyModel(n_inputs, c.n_neurons, n_outputs, k=c.k, m=c.fly_m, lr=c.fly_lr, scaling=c.fly_scaling,
                    seed=c.seed)


# TrainConfig fields passed to the circuit under their own names where set (it refuses combinations its mode
# cannot run); CircuitLearning's: lr_address, value_rule, purkinje_norm
_CIRCUIT = ("codegen_target", "golgi_gain", "golgi_threshold", "golgi_model", "max_rate_hz", "mossy_firing",
            "granule_threshold", "smoothing", "feedforward_inhibition", "anatomy", *CircuitLearning.model_fields)
_CIRCUIT_FILES = ("cell_params", "wiring")  # a name or a file: resolved by _circuit_files


def _circuit_files(c: TrainConfig) -> dict:
    """The circuit's ``cell_params`` (a named set, or the set read from a TOML file) and ``graph`` (read from
    --wiring), where given."""
    from experiments.param_tables import resolve_cell_params
    from experiments.wiring_io import read_wiring

    return given(cell_params=None if c.cell_params is None else resolve_cell_params(c.cell_params),
                 graph=None if c.wiring is None else read_wiring(c.wiring))


def _bio(mode: str) -> Callable[[TrainConfig, int, int], Learner]:
    """The Brian2 cerebellar circuit with its own local rules (``--epochs-per-task`` presentations of
    each task; lr, batch size and optimiser do not apply)."""
    from bio import CerebellarCircuit

    return lambda c, n_inputs, n_outputs: CerebellarCircuit(
        n_inputs, c.n_neurons, n_outputs, mode=mode, seed=c.seed, n_workers=c.bio_workers,
        **given(**{name: getattr(c, name) for name in _CIRCUIT}), **_circuit_files(c),
        **_groups(c),
    )


def _groups(c: TrainConfig) -> dict:
    """The parameter groups of a TOML config's [circuit.GROUP] tables, less the fields passed by name above (the
    options win: the circuit applies named fields on top of the groups, and a None option means its default)."""
    return {group: {k: v for k, v in fields.items() if k not in _CIRCUIT or getattr(c, k) is None}
            for group, fields in (c.circuit or {}).items()}


SET_UP_INPUTS = 200  # training inputs a circuit is set up on (csdm train)


def set_up_from_data(learner: Learner, config: TrainConfig, stream: TaskStream,
                     n_inputs: int = SET_UP_INPUTS) -> dict | None:
    """Set a circuit up from a sample of the stream's training inputs (all tasks, no labels) for ``config.k`` active
    cells (:func:`bridge.paired.set_up`, as ``csdm run`` does): rate mode sets Eq. 13 from the drives
    (:func:`bridge.calibrate.adapt_circuit`) unless the user fixed one of Eq. 13's settings
    (--granule-threshold, --smoothing, --feedforward-inhibition, --golgi-threshold, --golgi-gain); spiking mode
    calibrates the Golgi gain unless --golgi-gain is given. Return the calibration record with the number of
    ``inputs`` it used, or None where nothing was set (other learners, fixed settings)."""
    mode = getattr(learner, "mode", None)
    fixed = {"rate": ("granule_threshold", "smoothing", "feedforward_inhibition", "golgi_threshold", "golgi_gain"),
             "spiking": ("golgi_gain",)}
    if mode not in fixed or any(getattr(config, name) is not None for name in fixed[mode]):
        return None
    from bridge.calibrate import golgi_search
    from bridge.paired import set_up

    x = np.concatenate([t.x_train for t in stream])
    x = x[np.sort(np.random.default_rng(config.seed + 1).choice(len(x), min(n_inputs, len(x)), replace=False))]
    return {**vars(set_up(learner, x, config.k, golgi_search(mode, learner.golgi_model))), "inputs": len(x)}


def _identity(stream: TaskStream) -> TaskStream:
    return stream


class Method(NamedTuple):
    build: Builder
    settings: tuple[str, ...]  # the TrainConfig fields the method reads besides sizes, epochs and seed
    stream: Callable[[TaskStream], TaskStream] = _identity
    batched: bool = False  # trains config.n_models seeds as one stacked model


_TRAINING = ("optimizer", "lr", "batch_size", "grad_clip")  # backprop learners
_TOPK = (*_TRAINING, "gaba_s", "topk_mode")  # Top-K's form and the GABA switch (Eq. 12)
CONSTRAINTS = ("nonnegative", "l2_normalize", "hidden_bias", "output_bias")  # Algorithm 1's, Table 2 ablations
# where the authors' code differs (docs/reference-differences.md); shown in settings only when not the default
REFERENCE_OPTIONS = ("init", "bias_init", "bias_clamp", "rectify_drive", "importance_scale", "ewc_anchors",
                     "fly_scaling")
_SDM = (*_TOPK, "anneal_epochs", *CONSTRAINTS, "init", "bias_init", "bias_clamp", "rectify_drive")


MODELS: dict[str, Method] = {
    "sdmlp": Method(_sdmlp, _SDM, batched=True),
    "relu": Method(_relu, _TRAINING),
    "topk": Method(_topk, _TOPK, batched=True),
    "dropout": Method(lambda c, n, o: _relu(c, n, o, dropout=c.dropout), (*_TRAINING, "dropout")),
    "l2": Method(lambda c, n, o: _relu(c, n, o, L2(**given(coef=_coef(c)))), (*_TRAINING, "reg_coef")),
    "ewc": Method(lambda c, n, o: _relu(c, n, o, _ewc(c)), (*_TRAINING, "reg_coef", "beta", "ewc_anchors")),
    "mas": Method(lambda c, n, o: _relu(c, n, o, _mas(c)), (*_TRAINING, "reg_coef", "importance_scale")),
    "si": Method(lambda c, n, o: _relu(c, n, o, _si(c)), (*_TRAINING, "reg_coef", "beta", "importance_scale")),
    "flymodel": Method(_fly, ("fly_m", "fly_lr", "fly_scaling")),
    "sdmlp+ewc": Method(lambda c, n, o: _sdmlp(c, n, o, _ewc(c)), (*_SDM, "reg_coef", "beta", "ewc_anchors")),
    "sdmlp+mas": Method(lambda c, n, o: _sdmlp(c, n, o, _mas(c)), (*_SDM, "reg_coef", "importance_scale")),
    "oracle": Method(_relu, _TRAINING, joint),
    "bio-rate": Method(_bio("rate"), ("bio_workers", *_CIRCUIT, *_CIRCUIT_FILES, "circuit")),
    "bio-spiking": Method(_bio("spiking"), ("bio_workers", *_CIRCUIT, *_CIRCUIT_FILES, "circuit")),
}


def get_method(name: str) -> Method:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"--model: unknown model {name!r}; choose one of {', '.join(MODELS)}.") from None


def describe_settings(config: TrainConfig) -> str:
    """The training settings ``config.model`` reads, e.g. 'optimizer=sgd, lr=0.05, ...'; a setting
    left at None (off, or the method's own default) is left out, and so is an SDM constraint
    (``CONSTRAINTS``) left as Algorithm 1 has it or a ``REFERENCE_OPTIONS`` left at its default."""
    algorithm_1 = {name: TrainConfig.model_fields[name].default for name in (*CONSTRAINTS, *REFERENCE_OPTIONS)}
    values = {name: getattr(config, name) for name in get_method(config.model).settings}
    return ", ".join(f"{name}={value}" for name, value in values.items()
                     if value is not None and not (name in algorithm_1 and value == algorithm_1[name]))


def batched_models() -> list[str]:
    """Names of the learners that train several seeds as one batched model."""
    return [name for name, method in MODELS.items() if method.batched]


def build_learner(config: TrainConfig, n_inputs: int, n_outputs: int) -> Learner:
    return get_method(config.model).build(config, n_inputs, n_outputs)
