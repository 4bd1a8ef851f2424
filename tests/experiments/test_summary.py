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
    assert s["settings"]["k"] == 4 and "seed" not in s["settings"]


def test_summary_refuses_mixed_protocols_unfinished_and_repeated_seeds(runs, tmp_path):
    with pytest.raises(ValueError, match=r"other settings .*k: 4 vs 5"):
        summarise_runs([runs / "s0", runs / "other_k"])
    with pytest.raises(ValueError, match="seed repeated"):
        summarise_runs([runs / "s0", runs / "s0"])
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
    result = CliRunner().invoke(app, ["summary", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "not a run folder" in result.output
