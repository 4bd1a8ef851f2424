"""Every registered learner learns one task on digits; the CLI lists exactly the registry's names."""

import numpy as np
import pytest

from experiments.cli import MODEL_NAMES
from experiments.config import TrainConfig
from experiments.data import load_dataset
from experiments.registry import MODELS, get_method
from experiments.streams import class_incremental, joint

# stated accuracy on the digits test set after one task with all 10 classes
MIN_ACC = {"flymodel": 0.8, "sdmlp": 0.6, "sdmlp+ewc": 0.6, "sdmlp+mas": 0.6}  # SDMLP: k annealing is slow
DEFAULT_MIN_ACC = 0.85


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_cli_names_are_the_registry():
    assert set(MODEL_NAMES) == set(MODELS)


TORCH_AND_FLY = sorted(m for m in MODELS if not m.startswith("bio-"))  # the circuit: tests/bio, and below


@pytest.mark.parametrize("name", TORCH_AND_FLY)
def test_learns_a_single_task(name, digits):
    values = {"model": name, "n_neurons": 300, "k": 20, "anneal_epochs": 3, "epochs_per_task": 15,
              "batch_size": 32, "lr": 0.1, "device": "cpu"}
    if name in ("l2", "ewc", "mas", "si"):
        values.update(lr=0.001, optimizer="adam")  # the table's setting for these (Hsu et al. 2018)
    config = TrainConfig(**values)
    learner = get_method(name).build(config, digits.n_inputs, digits.n_classes)
    learner.fit_task(digits.x_train, digits.y_train, config.epochs_per_task)
    learner.fit_task(digits.x_train[:200], digits.y_train[:200], 1)  # a second task: importances, anchors
    acc = float(np.mean(learner.predict(digits.x_test) == digits.y_test))
    assert acc > MIN_ACC.get(name, DEFAULT_MIN_ACC), f"{name}: {acc:.3f}"


def test_joint_stream_merges_all_tasks(digits):
    stream = class_incremental(digits, 2)
    merged = joint(stream)
    assert len(merged) == 1 and merged[0].classes == tuple(range(10))
    assert len(merged[0].x_train) == sum(len(t.x_train) for t in stream)


@pytest.mark.parametrize("name", ["bio-rate", "bio-spiking"])
def test_registry_builds_the_circuit_as_a_learner(name, digits):
    config = TrainConfig(model=name, n_neurons=60, k=5, epochs_per_task=1, seed=0, codegen_target="numpy")
    learner = get_method(name).build(config, digits.n_inputs, digits.n_classes)
    assert learner.mode == name.removeprefix("bio-") and learner.n_neurons == 60
    x, y = digits.x_train[:20], digits.y_train[:20]
    assert learner.fit_task(x, y, 1).predict(x).shape == (20,)


def test_bio_workers_reach_the_circuit(digits):
    from experiments.config import PairedConfig
    from experiments.paired_run import _learners
    from experiments.streams import class_incremental

    config = TrainConfig(model="bio-rate", n_neurons=60, k=5, codegen_target="numpy", bio_workers=2)
    assert get_method("bio-rate").build(config, digits.n_inputs, digits.n_classes).n_workers == 2
    stream = class_incremental(digits, 2)
    _, circuits = _learners(PairedConfig(n_neurons=60, k=5, codegen_target="numpy", bio_workers=2), stream, 0)
    assert {c.n_workers for c in circuits.values()} == {2}


def test_golgi_model_reaches_the_spiking_circuit(digits):
    from experiments.config import PairedConfig
    from experiments.paired_run import _learners
    from experiments.streams import class_incremental

    config = TrainConfig(model="bio-spiking", n_neurons=60, k=5, codegen_target="numpy", golgi_model="population")
    assert get_method("bio-spiking").build(config, digits.n_inputs, digits.n_classes).golgi_model == "population"
    paired = PairedConfig(mode="spiking", n_neurons=60, k=5, codegen_target="numpy", golgi_model="population")
    _, circuits = _learners(paired, class_incremental(digits, 2), 0)
    assert {c.golgi_model for c in circuits.values()} == {"population"}
    with pytest.raises(ValueError, match="golgi_model"):  # rate mode's Golgi is already a rate unit
        get_method("bio-rate").build(config, digits.n_inputs, digits.n_classes)


def test_circuit_settings_reach_the_circuit(digits):
    """--golgi-gain, --golgi-threshold, --max-rate-hz and --mossy-firing set the circuit; unset, the
    population Golgi gets its default gain with the default depressing synapses, not the LIF cells' quantum."""
    settings = dict(golgi_gain=7.5, golgi_threshold=0.2, max_rate_hz=1000.0, mossy_firing="regular")
    config = TrainConfig(model="bio-spiking", n_neurons=60, k=5, codegen_target="numpy", **settings)
    circuit = get_method("bio-spiking").build(config, digits.n_inputs, digits.n_classes)
    assert {name: getattr(circuit, name) for name in settings} == settings
    default = TrainConfig(model="bio-spiking", n_neurons=60, k=5, codegen_target="numpy", golgi_model="population")
    assert get_method("bio-spiking").build(default, digits.n_inputs, digits.n_classes).golgi_gain == 800.0
    rate_settings = dict(golgi_gain=12.0, granule_threshold=0.32, smoothing=0.07, lr_address=0.0,
                         feedforward_inhibition=1.0, value_rule="target")
    rate = TrainConfig(model="bio-rate", n_neurons=60, k=5, codegen_target="numpy", **rate_settings)
    circuit = get_method("bio-rate").build(rate, digits.n_inputs, digits.n_classes)
    assert {name: getattr(circuit, name) for name in rate_settings} == rate_settings
    unset = TrainConfig(model="bio-rate", n_neurons=60, k=5, codegen_target="numpy")  # the circuit's defaults
    circuit = get_method("bio-rate").build(unset, digits.n_inputs, digits.n_classes)
    assert (circuit.granule_threshold, circuit.feedforward_inhibition, circuit.value_rule) == (0.55, 0.0, "error")


@pytest.mark.parametrize(("model", "default"), [("ewc", 1e7), ("mas", 5.0), ("si", 5e5), ("sdmlp+ewc", 1e5),
                                                 ("l2", 10.0), ("sdmlp+mas", 0.5)])
def test_regulariser_coefficient_defaults_to_the_tuned_value(model, default):
    """Without --reg-coef a regulariser gets the coefficient tuned for our importance scale (Table 9's
    EWC 200 would do nothing); L2 and SDMLP+MAS keep Table 9's; --reg-coef wins."""
    build = get_method(model).build
    assert build(TrainConfig(model=model, device="cpu"), 64, 10).regularizer.coef == default
    assert build(TrainConfig(model=model, device="cpu", reg_coef=3.0), 64, 10).regularizer.coef == 3.0


def test_a_dataset_retuned_coefficient_replaces_mnists():
    """SDMLP+EWC was re-tuned on Fashion-MNIST (1e6); its other regularisers keep MNIST's coefficients."""
    build = get_method("sdmlp+ewc").build
    fashion = TrainConfig(model="sdmlp+ewc", dataset="fashion-mnist", device="cpu")
    assert build(fashion, 64, 10).regularizer.coef == 1e6
    assert build(fashion.model_copy(update={"reg_coef": 3.0}), 64, 10).regularizer.coef == 3.0
    assert get_method("ewc").build(fashion.model_copy(update={"model": "ewc"}), 64, 10).regularizer.coef == 1e7


def test_csdm_train_calibrates_a_spiking_circuit_to_k_and_keeps_it_young(digits):
    """csdm train sets a spiking circuit up as csdm run does: the Golgi gain calibrated to --k on training inputs
    (the mature circuit), the young chloride state given back; a given --golgi-gain is left alone."""
    from bio.circuit import DEFAULT_SPIKING_GAIN
    from experiments.registry import set_up_from_data

    stream = class_incremental(digits, 2)
    config = TrainConfig(model="bio-spiking", n_neurons=100, k=5, codegen_target="cython")
    circuit = get_method("bio-spiking").build(config, digits.n_inputs, digits.n_classes)
    young = circuit.chloride_mM_.copy()
    record = set_up_from_data(circuit, config, stream, n_inputs=30)
    assert record["parameter"] == "golgi_gain" and circuit.golgi_gain == record["value"] != DEFAULT_SPIKING_GAIN["lif"]
    assert abs(record["achieved_k"] - 5) <= 1.0, record
    np.testing.assert_array_equal(circuit.chloride_mM_, young)
    x = np.concatenate([t.x_train for t in stream])[:30]
    circuit.mature()  # the calibrated gain holds k on the mature circuit (other inputs than the sample: +-2)
    assert abs((circuit.hidden(x) > circuit.active_threshold).sum(axis=1).mean() - 5) <= 2.0

    for model in ("bio-spiking", "bio-rate"):  # a given gain is kept in both modes
        given = TrainConfig(model=model, n_neurons=100, k=5, codegen_target="cython", golgi_gain=3.0)
        fixed = get_method(model).build(given, digits.n_inputs, digits.n_classes)
        assert set_up_from_data(fixed, given, stream, n_inputs=30) is None and fixed.golgi_gain == 3.0
