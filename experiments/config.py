"""Validated run configuration (pydantic). One place declares every hyperparameter, its
paper symbol and its constraint, so the CLI, TOML configs and tests share one source.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CodegenTarget = Literal["numpy", "cython", "cpp_standalone"]
CODEGEN_HELP = ("Brian2 code generation: numpy needs no compiler; cython compiles once (~10-30 s, cached in "
                ".brian_cache/), then runs ~3x faster; cpp_standalone (rate mode only) compiles a C++ program "
                "per circuit and runs it once per batch")
WORKERS_HELP = ("circuit worker processes: each simulation batch is split across them (Brian2 simulates on one "
                "core per process); numpy or cython only")
GolgiModel = Literal["lif", "population"]
# bio.params.CELL_PARAMS's names (checked in tests); kept here so validating a config needs no Brian2 import
CELL_PARAMS_NAMES = ("fore2020-notonic", "fore2020", "geminiani2019-lif", "fore2020-golgi-2ms")
GOLGI_MODEL_HELP = ("spiking Golgi cells: lif (conductance-based LIF cells) or population (Eq. 13's rate unit "
                    "driven by the filtered granule spikes: holds k steady)")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the option and the fix."""


NOT_CIRCUIT = ("batch_size",)  # config fields named as a circuit field that mean something else (the SDMLP's batch)


def check_circuit(config: BaseModel, groups: dict[str, dict[str, Any]] | None = None) -> None:
    """Validate a config's circuit settings with the circuit's own schema (:mod:`bio.groups`): the fields it
    shares with the groups (where set) on top of ``groups``. Raises ValueError naming the field."""
    from bio.groups import GROUP_OF, settings_groups

    flat = {name: getattr(config, name) for name in type(config).model_fields
            if name in GROUP_OF and name not in NOT_CIRCUIT and getattr(config, name) is not None}
    settings_groups(groups, owner="the circuit", **flat)


class CircuitLearning(BaseModel):
    """The circuit's local learning rules and Purkinje read-out, shared by ``csdm train`` (bio-rate, bio-spiking)
    and ``csdm run`` (the native circuit; the transfer circuit runs the SDMLP's weights and read-out as they are)."""

    lr_address: float | None = Field(None, ge=0, description="learning rate of the circuit's Hebbian address rule "
                                     "(None: 0.01; 0: fixed random addresses) (bio-rate, bio-spiking; csdm run: "
                                     "the native circuit)")
    value_rule: Literal["error", "target", "ltd"] | None = Field(
        None, description="the circuit's climbing-fiber rule: error (target - output, LTP and LTD), target "
        "(LTP at the labelled class's Purkinje cell only, weights <= 1) or ltd (Marr-Albus-Ito: the labelled "
        "class's climbing fiber depresses its Purkinje cell's active synapses, parallel fibers alone potentiate "
        "the others by a tenth of that, weights in [0, 1]; the class is the least active Purkinje cell, whose "
        "deep nuclear cell is disinhibited) (None: error) (bio-rate, bio-spiking; csdm run: the native circuit)")
    purkinje_norm: Literal["none", "l1", "l2"] | None = Field(
        None, description="the circuit's Purkinje read-out: none (h X_v) or l1 / l2 (each Purkinje cell's output "
        "divided by the norm of its parallel-fiber weights, homeostatic scaling; with --value-rule target it "
        "keeps classes with many or widespread inputs from outvoting the others; needs --value-rule target) (None: "
        "none) (bio-rate, bio-spiking; csdm run: the native circuit)")

    @model_validator(mode="after")
    def _scaling_needs_target(self) -> CircuitLearning:
        if self.purkinje_norm not in (None, "none") and self.value_rule != "target":
            raise ValueError(f"--purkinje-norm {self.purkinje_norm} needs --value-rule target (with the error rule "
                             "the scaled output cannot reach its target and the weights grow without end)")
        return self


class TrainConfig(CircuitLearning):
    """Everything that determines a ``csdm train`` run (and so its results)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field("sdmlp", description="learner name (Tables 7/8 of Bricken et al. 2023, and the circuit)")
    dataset: str = Field("digits", description="digits | mnist | fashion-mnist | npz")
    data_dir: str | None = Field(None, description="folder of IDX files, or the .npz file")
    n_neurons: int = Field(1000, ge=2, description="r, hidden neurons (granule cells)")
    k: int = Field(10, ge=1, description="k_target, neurons left active by Top-K (Eq. 4)")
    anneal_epochs: int = Field(30, ge=0, description="s of Eq. 4: epochs to anneal k from r to k (0: off)")
    gaba_s: float | None = Field(None, gt=0, description="s of Eq. 12: activations per neuron for the "
                                 "full GABA switch (replaces k annealing)")
    topk_mode: Literal["subtract", "mask"] = Field("subtract", description="Top-K by subtraction (Eq. 4) or mask")
    optimizer: Literal["sgd", "sgdm", "adam", "rmsprop"] = Field("sgd", description="optimiser (paper: sgd)")
    lr: float = Field(0.2, gt=0, description="learning rate")
    batch_size: int = Field(32, ge=1, description="batch size")
    grad_clip: float | None = Field(None, gt=0, description="cap on the gradient L2 norm per step (reference "
                                    "code: 1.0; None: off)")
    epochs_per_task: int = Field(100, ge=1, description="epochs on each task")
    classes_per_task: int = Field(2, ge=1, description="classes per task (class-incremental)")
    class_order: Literal["sequential", "random"] = Field("sequential", description="task order of the classes")
    seed: int = Field(0, ge=0, description="seed of weights, batch order and random class order")
    n_models: int = Field(1, ge=1, description="train seeds seed..seed+N-1 as one batched model (stacked "
                          "weights, batched matmuls; SDMLP family); results per seed in OUT/seedN")
    device: str = Field("auto", description="auto | cpu | cuda")
    rectify_inputs: bool = Field(False, description="ReLU the inputs instead of refusing negative ones")
    eval_every: int = Field(10, ge=1, description="epochs between learning-curve evaluations, each also a "
                            "checkpoint that --resume continues from")
    # baselines (App. G); None = the method's default (experiments/registry.py: tuned_reg_coef)
    reg_coef: float | None = Field(None, gt=0, description="regulariser coefficient of l2/ewc/mas/si/sdmlp+ewc/"
                                   "sdmlp+mas (None: tuned here with --optimizer sgd --lr 0.05 --batch-size 128 "
                                   "--grad-clip 1: ewc 1e7, mas 5, si 5e5, sdmlp+ewc 1e5 (fashion-mnist: 1e6); "
                                   "sdmlp+mas 0.5 (tuned on the mean importance scale); Table 9's l2 10; with "
                                   "--importance-scale reference Table 9's mas/sdmlp+mas 0.5, si 1500)")
    beta: float | None = Field(None, gt=0, description="softmax temperature of Eq. 18, used only to estimate "
                               "EWC/SI importances (None: 0.005, Table 9)")
    dropout: float = Field(0.5, ge=0, lt=1, description="hidden dropout probability of the 'dropout' baseline")
    fly_m: int = Field(32, ge=1, description="inputs sampled by each FlyModel Kenyon cell (App. G.2); "
                       "the FlyModel's k-WTA uses --k")
    fly_lr: float = Field(0.005, gt=0, description="FlyModel associative learning rate (App. G.2)")
    fly_scaling: Literal["none", "max"] = Field("none", description="FlyModel Kenyon-cell vectors after k-WTA: "
                                                "none, or max (each divided by its maximum, the authors' notebook)")
    codegen_target: CodegenTarget = Field("cython", description=CODEGEN_HELP + " (bio-rate, bio-spiking)")
    bio_workers: int = Field(1, ge=1, description=WORKERS_HELP + " (bio-rate, bio-spiking)")
    golgi_model: GolgiModel = Field("lif", description=GOLGI_MODEL_HELP + " (bio-spiking)")
    golgi_gain: float | None = Field(None, gt=0, description="Eq. 13's Golgi gain (None: set from the data, in rate "
                                     "mode with Eq. 13's settings unless one of those is given, in spiking mode "
                                     "calibrated to --k on 200 training inputs; else the circuit's default: rate 30, "
                                     "spiking LIF 0.4, spiking population 800 (5,000 with linear synapses); a given "
                                     "gain skips the set-up) (bio-rate, bio-spiking)")
    golgi_threshold: float | None = Field(None, description="Eq. 13's Golgi threshold b_i (None: 0.01, "
                                          "population 0) (bio-rate, bio-spiking)")
    granule_threshold: float | None = Field(None, description="Eq. 13's granule threshold b (None: 0.55, set for "
                                            "digits; MNIST's drive address.x is ~0.32) (bio-rate)")
    smoothing: float | None = Field(None, gt=0, description="Eq. 13's L, granule response smoothing (None: 0.2) "
                                    "(bio-rate)")
    feedforward_inhibition: float | None = Field(
        None, ge=0, description="w_ff of the mossy -> Golgi feedforward inhibition, w_ff x the mean granule drive "
        "(None: 0, none; 1 cancels the drive common to all cells, so the number of active cells stops "
        "depending on the input; then --granule-threshold sits near 0, e.g. 0.02 on MNIST) (bio-rate)")
    max_rate_hz: float = Field(1000.0, gt=0, description="mossy rate of a unit-norm input's largest possible "
                               "component (bio-spiking; rate mode scales it out)")
    mossy_firing: Literal["poisson", "regular"] = Field("regular", description="mossy spike trains: poisson, or "
                                                         "regular with a random phase (bio-spiking)")
    cell_params: str | None = Field(None, description="the spiking cells' parameter set: a name (" +
                                    ", ".join(CELL_PARAMS_NAMES) + ") or a TOML file of your own (docs/cell-params.md) "
                                    "(None: fore2020-golgi-2ms) (bio-spiking)")
    anatomy: Literal["global", "dendrites4"] | None = Field(
        None, description="the circuit's wiring: global (every Golgi cell reaches ~90 % of granule cells in rate mode, "
        "App. C.1, all of them in spiking mode) or dendrites4 (4 mossy fibers per granule cell, Golgi cells with "
        "local territories; bio/wiring.py) "
        "(None: global) (bio-rate, bio-spiking)")
    wiring: str | None = Field(None, description="a wiring of your own: the .graphml file written by "
                               "experiments.wiring_io.save_wiring, its .npz beside it (None: sampled from --anatomy) "
                               "(bio-rate, bio-spiking)")
    circuit: dict[str, dict[str, Any]] | None = Field(
        None, description="the circuit's parameter groups, from a TOML config's [circuit.GROUP] tables (GROUP: "
        "granule, golgi, mossy, chloride, plasticity, simulation; fields and sources: docs/cell-params.md); the "
        "options above win where both set a field (bio-rate, bio-spiking)")
    # SDMLP ablations (Table 2); the defaults are the SDMLP
    nonnegative: bool = Field(True, description="clamp SDMLP weights >= 0 (False: 'negative weights' ablation)")
    l2_normalize: bool = Field(True, description="L2-normalise SDMLP inputs and addresses (False: 'no L2 norm')")
    hidden_bias: bool = Field(False, description="SDMLP hidden-layer bias ('hidden bias' ablation)")
    output_bias: bool = Field(False, description="SDMLP output-layer bias ('output bias' ablation)")
    # the SDM authors' code where it differs (docs/reference-differences.md); the defaults are ours
    init: Literal["uniform", "reference"] = Field(
        "uniform", description="SDMLP initial weights: uniform (addresses U[0,1) with unit-norm columns, values "
        "U[0,1)/sqrt(r)) or reference (the authors' nn.Linear default, then clamp and renormalise: half the "
        "entries start at 0)")
    bias_init: Literal["zero", "reference"] = Field(
        "zero", description="SDMLP initial biases (--hidden-bias, --output-bias): zero or reference "
        "(nn.Linear's U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the authors' code)")
    bias_clamp: bool = Field(False, description="clamp SDMLP biases >= 0 with the weights (the authors' code); "
                             "off: biases unconstrained")
    rectify_drive: Literal["after", "before"] = Field(
        "after", description="GABA switch (Eq. 12) order: after ([a - lambda I]+, as printed) or before "
        "([[a]+ - lambda I]+, the authors' code); differs only for negative drive (negative weights, hidden bias)")
    importance_scale: Literal["mean", "reference"] = Field(
        "mean", description="MAS/SI importance scale (mas, si, sdmlp+mas): mean (the original papers: MAS per-sample "
        "mean, SI gradient of the mean loss) or reference (the authors' code, where Table 9's coefficients come "
        "from: MAS ~0.025x on a 12k-sample Split MNIST task, SI batch-size x; --reg-coef then defaults to Table 9's)")
    ewc_anchors: Literal["latest", "per-task"] = Field(
        "latest", description="EWC anchors (ewc, sdmlp+ewc): latest (Fishers summed, one anchor at the latest "
        "weights) or per-task (one Fisher and one anchor per task, the authors' code)")

    @model_validator(mode="after")
    def _k_below_n(self) -> TrainConfig:
        if self.k >= self.n_neurons:
            raise ValueError(f"k={self.k} must be < n_neurons={self.n_neurons} (Top-K needs a (k+1)-th neuron)")
        if self.n_models > 1 and self.class_order == "random":
            raise ValueError("--n-models > 1 needs --class-order sequential (the seeds share one stream)")
        if self.gaba_s is not None and self.anneal_epochs:
            raise ValueError("use either --gaba-s (Eq. 12) or --anneal-epochs (Eq. 4), not both; "
                             "set --anneal-epochs 0 with --gaba-s")
        return self

    @model_validator(mode="after")
    def _circuit_schema(self) -> TrainConfig:
        if self.model.startswith("bio"):
            check_circuit(self, self.circuit)
        elif self.circuit:
            raise ValueError(f"[circuit] tables set the Brian2 circuit; --model {self.model} has none")
        return self

    @model_validator(mode="after")
    def _circuit_files(self) -> TrainConfig:
        if self.cell_params is not None and self.cell_params not in CELL_PARAMS_NAMES \
                and not self.cell_params.endswith(".toml"):
            raise ValueError(f"--cell-params {self.cell_params}: give one of {', '.join(CELL_PARAMS_NAMES)} or a "
                             ".toml file")
        if self.wiring is not None and not self.wiring.endswith(".graphml"):
            raise ValueError(f"--wiring {self.wiring}: give the .graphml file (its arrays lie beside it as .npz)")
        if self.wiring is not None and self.anatomy is not None:
            raise ValueError("--wiring fixes the circuit's wiring; leave --anatomy unset")
        return self


def build_config(values: dict[str, Any], config_file: str | Path | None = None,
                 model: type[BaseModel] = TrainConfig) -> Any:
    """Merge a TOML file (optional) with explicit values (which win) and validate as ``model``."""
    merged: dict[str, Any] = {}
    if config_file is not None:
        merged = read_toml(Path(config_file))
    merged.update({k: v for k, v in values.items() if v is not None})
    return validated(model, merged)


def read_toml(path: Path) -> dict[str, Any]:
    """The settings of the TOML file ``path``, keys with ``_`` for ``-``; any unreadable or invalid file
    raises a one-line :class:`ConfigError` naming it."""
    try:
        text = path.read_bytes().decode("utf-8")
        table = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read it ({exc.strerror or exc}).") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"--config {path}: not a UTF-8 text file (byte {exc.start}); give a TOML file.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path}: invalid TOML ({exc}).") from None
    except RecursionError:
        raise ConfigError(f"--config {path}: invalid TOML (nested too deeply).") from None
    settings: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name in settings:
            raise ConfigError(f"--config {path}: sets {name} twice (as {name} and {name.replace('_', '-')}); "
                              "keep one.")
        settings[name] = value
    return settings


# How ``csdm run`` ran before a setting existed, where that differs from the setting's default today: a stored run
# whose config.json lacks the key ran this way (resume and the docs' commands read old runs through it).
PAIRED_BEFORE = {"rate_integration": "explicit"}


class PairedConfig(CircuitLearning):
    """Everything that determines a ``csdm run`` (SDMLP and cerebellar circuit, one stream)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field("digits", description="digits | mnist | fashion-mnist | npz")
    data_dir: str | None = Field(None, description="folder of IDX files, or the .npz file")
    protocol: Literal["transfer", "native", "both"] = Field(
        "both", description="transfer: circuit runs the SDMLP's weights; native: circuit learns itself")
    mode: Literal["rate", "spiking"] = Field("rate", description="circuit mode (Eq. 13 rates or LIF spikes)")
    n_neurons: int = Field(1000, ge=2, description="r, granule cells / hidden neurons")
    k: int = Field(10, ge=1, description="k_target of the SDMLP and the circuit's calibration target")
    anneal_epochs: int = Field(30, ge=0, description="s of Eq. 4 for the SDMLP")
    lr: float = Field(0.2, gt=0, description="SDMLP learning rate")
    batch_size: int = Field(32, ge=1, description="SDMLP batch size")
    epochs_per_task: int = Field(100, ge=1, description="SDMLP epochs per task")
    bio_epochs: int = Field(1, ge=1, description="circuit presentations of each task (native protocol)")
    codegen_target: CodegenTarget = Field("cython", description=CODEGEN_HELP)
    bio_workers: int = Field(1, ge=1, description=WORKERS_HELP)
    golgi_model: GolgiModel = Field("lif", description=GOLGI_MODEL_HELP + " (spiking mode)")
    classes_per_task: int = Field(2, ge=1, description="classes per task")
    class_order: Literal["sequential", "random"] = Field("sequential", description="task order of the classes")
    smoothing: float = Field(0.05, gt=0, description="L of Eq. 13: granule response smoothing (smaller: closer "
                             "to all-or-none, a sharper Top-K)")
    granule_threshold: float | None = Field(None, description="b of Eq. 13: granule threshold (None: 0.55, set "
                                            "for digits; MNIST's drive address.x is ~0.32)")
    feedforward_inhibition: float | None = Field(None, ge=0, description="w_ff of the mossy -> Golgi feedforward "
                                                 "inhibition (None: 0; 1 with --granule-threshold ~0.05 on digits "
                                                 "makes k independent of the input, rate mode)")
    golgi_depression: float | None = Field(None, ge=0, description="rho of saturating (depressing) granule -> "
                                           "Golgi synapses (None: 0, off, in rate mode; 0.05 in spiking mode; "
                                           "0.05: the Golgi cells count active cells, the Purkinje cells read "
                                           "graded rates; spiking mode: Tsodyks-Markram synapses)")
    rate_integration: Literal["explicit", "implicit"] | None = Field(
        None, description="rate mode, the transfer circuit's Golgi loop: explicit (a step within the loop's "
        "stability bound) or implicit (each step solved, a 1 ms step, many times faster on addresses an SDMLP has "
        "learned) (None: implicit, explicit with cpp_standalone); the native circuit, young, integrates explicitly")
    calibrate: bool = Field(True, description="calibrate the Golgi threshold to k before measuring")
    fidelity_inputs: int = Field(100, ge=10, description="test inputs (all tasks) on which fidelity is measured")
    seeds: int = Field(1, ge=1, description="number of seeds (0..N-1), one sub-folder each")
    device: str = Field("auto", description="auto | cpu | cuda (SDMLP)")

    @model_validator(mode="after")
    def _k_below_n(self) -> PairedConfig:
        if self.k >= self.n_neurons:
            raise ValueError(f"k={self.k} must be < n_neurons={self.n_neurons}")
        given_native = [name for name in CircuitLearning.model_fields if getattr(self, name) is not None]
        if self.protocol == "transfer" and given_native:
            flags = ", ".join("--" + name.replace("_", "-") for name in given_native)
            raise ValueError(f"{flags} set the native circuit's learning; --protocol transfer has no native circuit")
        check_circuit(self)
        return self


def validated(model: type[BaseModel], merged: dict[str, Any]) -> Any:
    """Construct ``model`` from ``merged``, turning validation errors into one-line ConfigErrors."""
    try:
        return model(**merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "--" + str(err["loc"][0]).replace("_", "-") if err["loc"] else "config"
        given = repr(err["input"])
        got = f" Got {given if len(given) <= 60 else given[:57] + '...'}." if err["loc"] else ""
        raise ConfigError(" ".join(f"{name}: {err['msg']}.{got}".split())) from None  # one line, whatever the input
