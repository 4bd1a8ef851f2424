"""`csdm summary`: mean ± SEM over separately trained seeds, read back from real run folders on digits."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from experiments.cli import app
from experiments.config import build_config
from experiments.metrics import mean_sem
from experiments.summary import summarise_runs
from experiments.train import run_training

SMALL = {"n_neurons": 40, "k": 4, "anneal_epochs": 1, "epochs_per_task": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Seed 0 alone, seeds 1-2 as one batched model, and seed 3 with another k."""
    root = tmp_path_factory.mktemp("runs")
    run_training(build_config({**SMALL, "seed": 0}), root / "s0", progress=False)
    run_training(build_config({**SMALL, "seed": 1, "n_models": 2}), root / "s12", progress=False)
    run_training(build_config({**SMALL, "seed": 3, "k": 5}), root / "other_k", progress=False)
    return root


def test_mean_sem_hand_computed():
    mean, sem = mean_sem([0.80, 0.82, 0.84])
    assert mean == pytest.approx(0.82)
    assert sem == pytest.approx(0.02 / np.sqrt(3))  # sample sd 0.02
    assert np.isnan(mean_sem([0.5])[1])
    with pytest.raises(ValueError, match="non-empty"):
        mean_sem([])


def test_summary_counts_each_seed_of_a_batched_run(runs):
    s = summarise_runs([runs / "s0", runs / "s12"])
    assert [r["seed"] for r in s["seeds"]] == [0, 1, 2]
    accs = [json.loads((runs / "s0" / "metrics.json").read_text())["acc"]]
    accs += [m["acc"] for m in json.loads((runs / "s12" / "metrics.json").read_text())["per_seed"]]
    assert s["acc_mean"] == pytest.approx(np.mean(accs))
    assert s["acc_sem"] == pytest.approx(np.std(accs, ddof=1) / np.sqrt(3))
    assert s["protocol"]["k"] == 4 and "seed" not in s["protocol"] and "device" not in s["protocol"]


def _copy_run(src, dst, **config_changes):
    """A copy of run folder ``src`` whose stored config has ``config_changes`` (None: the key removed)."""
    dst.mkdir()
    stored = json.loads((src / "config.json").read_text())
    for key, value in config_changes.items():
        stored["config"].pop(key) if value is None else stored["config"].__setitem__(key, value)
    (dst / "config.json").write_text(json.dumps(stored))
    (dst / "metrics.json").write_text((src / "metrics.json").read_text())
    return dst


def test_summary_refuses_mixed_protocols_unfinished_and_repeated_seeds(runs, tmp_path):
    with pytest.raises(ValueError, match=r"another protocol .*k: 4 vs 5"):
        summarise_runs([runs / "s0", runs / "other_k"])
    with pytest.raises(ValueError, match="seed repeated"):
        summarise_runs([runs / "s0", runs / "s0"])
    with pytest.raises(FileNotFoundError, match="one seed of the batched run"):  # its results are in s12 already
        summarise_runs([runs / "s12", runs / "s12" / "seed1"])
    other_lr = _copy_run(runs / "s0", tmp_path / "lr", seed=5, lr=0.5)
    with pytest.raises(ValueError, match=r"lr: 0.2 vs 0.5"):
        summarise_runs([runs / "s0", other_lr])
    for flag, value in (("l2_normalize", False), ("nonnegative", False), ("hidden_bias", True), ("output_bias", True)):
        ablation = _copy_run(runs / "s0", tmp_path / flag, seed=6, **{flag: value})  # a Table 2 ablation
        with pytest.raises(ValueError, match=flag):
            summarise_runs([runs / "s0", ablation])
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "config.json").write_text((runs / "s0" / "config.json").read_text())
    (cut / "metrics.json").write_text(json.dumps({"complete": False, "tasks_done": 2}))
    with pytest.raises(ValueError, match="unfinished"):
        summarise_runs([cut])


def test_summary_command(runs, tmp_path):
    out = tmp_path / "summary.md"
    result = CliRunner().invoke(app, ["summary", str(runs / "s0"), str(runs / "s12"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "mean ± SEM (3 seeds)" in result.output and out.read_text() in result.output
    assert "protocol: model=sdmlp, dataset=digits, n_neurons=40, k=4" in result.output
    result = CliRunner().invoke(app, ["summary", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "not a run folder" in result.output


def test_execution_details_and_unread_settings_do_not_split_a_protocol(runs, tmp_path):
    """Another device, data folder or Brian2 target, a setting the SDMLP never reads (the circuit's value
    rule), or a setting that did not exist yet when the run was made (filled with its default) are the same
    protocol; an npz file is the dataset itself."""
    moved = _copy_run(runs / "s0", tmp_path / "moved", seed=7, device="cuda", data_dir="/elsewhere",
                      codegen_target="numpy", value_rule="target", purkinje_norm=None)
    s = summarise_runs([runs / "s0", moved])
    assert [r["seed"] for r in s["seeds"]] == [0, 7]
    npz = [_copy_run(runs / "s0", tmp_path / name, seed=seed, dataset="npz", data_dir=f"/d/{name}.npz")
           for seed, name in ((1, "one"), (2, "other"))]
    with pytest.raises(ValueError, match="data_dir"):
        summarise_runs(npz)


def test_damaged_metrics_name_the_folder(runs, tmp_path):
    bad = _copy_run(runs / "s0", tmp_path / "bad")
    (bad / "metrics.json").write_text('{"complete": true}')
    with pytest.raises(ValueError, match=r"bad.metrics.json is damaged"):
        summarise_runs([bad])
