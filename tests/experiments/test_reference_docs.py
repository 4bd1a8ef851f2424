"""docs/reference-differences.md equals what ``python -m experiments.reference render`` writes from
results/reference/, and each reference option reaches the learner it names."""

import json

import pytest

from experiments import reference
from experiments.config import TrainConfig
from experiments.registry import build_learner, tuned_reg_coef


def test_committed_page_equals_the_regenerated_one():
    assert sorted(p.stem for p in reference.RESULTS.glob("*.json")) == sorted(reference.DIFFERENCES)
    assert reference.PAGE.read_text() == reference.render()


def test_render_reads_the_stored_numbers(tmp_path):
    row = {"variant": "uniform", "options": {}, "seed": 0, "acc": 0.1234, "bwt": -0.5, "learning_acc": 0.9,
           "dead_fraction": 0.25}
    record = {"difference": "4-init", "title": "t", "budget": reference.BUDGET, "command": "cmd",
              "rows": [row, {**row, "variant": "reference", "acc": 0.4321}],
              "before_training": [{"init": "uniform", "zero_fraction": 0.0, "mean_cosine": 0.75}]}
    (tmp_path / "4-init.json").write_text(json.dumps(record))
    page = reference.render(tmp_path)
    assert "| uniform | 0.123 | -0.500 | 0.900 | 0.250 |" in page
    assert "| reference | 0.432 |" in page and "| uniform | 0.000 | 0.750 |" in page and "`cmd`" in page


@pytest.mark.parametrize(("settings", "attribute", "value"), [
    ({"model": "sdmlp", "init": "reference"}, lambda l: l.init, "reference"),
    ({"model": "sdmlp", "bias_init": "reference"}, lambda l: l.bias_init, "reference"),
    ({"model": "sdmlp", "bias_clamp": True}, lambda l: l.bias_clamp, True),
    ({"model": "sdmlp", "rectify_drive": "before"}, lambda l: l.net.rectify, "before"),
    ({"model": "flymodel", "fly_scaling": "max", "fly_m": 4}, lambda l: l.scaling, "max"),
    ({"model": "sdmlp+mas", "importance_scale": "reference"}, lambda l: l.regularizer.scale, "reference"),
    ({"model": "si", "importance_scale": "reference"}, lambda l: l.regularizer.scale, "reference"),
    ({"model": "ewc", "ewc_anchors": "per-task"}, lambda l: l.regularizer.anchors, "per-task"),
    ({"model": "sdmlp+ewc", "ewc_anchors": "per-task"}, lambda l: l.regularizer.anchors, "per-task"),
])
def test_each_option_reaches_the_learner(settings, attribute, value):
    default = build_learner(TrainConfig(**{**settings, **{name: TrainConfig.model_fields[name].default
                                                           for name in settings if name not in ("model", "fly_m")}},
                                        n_neurons=20, k=2, device="cpu"), 8, 3)
    chosen = build_learner(TrainConfig(**settings, n_neurons=20, k=2, device="cpu"), 8, 3)
    assert attribute(chosen) == value and attribute(default) != value


def test_reference_scale_takes_table_9_coefficients():
    assert tuned_reg_coef("sdmlp+mas", "mnist", "reference") is None  # the class default: Table 9's 0.5
    assert tuned_reg_coef("si", "mnist", "reference") is None and tuned_reg_coef("si", "mnist") == 5e5
    mas = build_learner(TrainConfig(model="sdmlp+mas", importance_scale="reference", n_neurons=20, k=2,
                                    device="cpu"), 8, 3)
    assert mas.regularizer.coef == 0.5
    assert tuned_reg_coef("ewc", "mnist", "reference") == tuned_reg_coef("ewc", "mnist")  # EWC has no scale option
