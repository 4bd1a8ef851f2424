"""`csdm table` end to end on digits: two methods, two seeds, files, columns and resume."""

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from experiments.cli import app
from experiments.config import ConfigError, build_config
from experiments.published import PUBLISHED, lookup
from experiments.table import ABLATIONS, ALL, COLUMNS, _summarise, format_markdown, row_settings


def test_table_end_to_end(tmp_path):
    args = ["table", "--dataset", "digits", "--methods", "relu,flymodel", "--seeds", "2", "--out", str(tmp_path),
            "--epochs-per-task", "2", "--n-neurons", "100", "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for f in ("table.md", "table.csv", "plots/accuracy_over_tasks.png", "relu/seed1/metrics.json",
              "flymodel/seed0/checkpoint.pt"):
        assert (tmp_path / f).is_file(), f
    rows = list(csv.DictReader((tmp_path / "table.csv").open()))
    assert list(rows[0]) == COLUMNS and [r["method"] for r in rows] == ["relu", "flymodel"]
    assert rows[1]["epochs_per_task"] == "1" and rows[0]["seeds"] == "2"
    assert 0 <= float(rows[0]["acc_mean"]) <= 1
    assert rows[0]["protocol"].startswith("optimizer=sgd, lr=") and rows[1]["protocol"] == "fly_m=32, fly_lr=0.005"
    assert "## Notes" in (tmp_path / "table.md").read_text()
    stamp = (tmp_path / "relu/seed0/checkpoint.pt").stat().st_mtime_ns
    assert CliRunner().invoke(app, args).exit_code == 0  # finished runs are read back, not retrained
    assert (tmp_path / "relu/seed0/checkpoint.pt").stat().st_mtime_ns == stamp
    other = CliRunner().invoke(app, [*args, "--lr", "0.3"])  # other options, same OUT: refused, not mixed
    assert other.exit_code == 2 and "different settings (lr)" in other.output and "another --out" in other.output


def test_bad_methods_exit_2(tmp_path):
    result = CliRunner().invoke(app, ["table", "--methods", "relu,nope", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "nope" in result.output


def test_published_numbers():
    assert lookup("mnist", "sdmlp+ewc").acc == 0.83 and lookup("mnist", "dropout") is None
    assert all(("cifar10-embeddings", r.name) in PUBLISHED for r in ABLATIONS)


def test_batched_seeds_match_sequential_seeds(tmp_path):
    """SDMLP rows train their seeds as one stacked model; per-seed results equal one run per seed. The
    rows use the reference protocol by default: the GABA switch with s scaled to 2 epochs (5e6 * 2 / 500)."""
    base = ["table", "--dataset", "digits", "--methods", "sdmlp", "--seeds", "2", "--epochs-per-task", "2",
            "--n-neurons", "60", "--quiet"]
    for flag, sub in (("--batch-seeds", "b"), ("--sequential-seeds", "s")):
        result = CliRunner().invoke(app, [*base, flag, "--out", str(tmp_path / sub)])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "b/sdmlp/checkpoint.pt").is_file() and not (tmp_path / "s/sdmlp/checkpoint.pt").exists()
    again = CliRunner().invoke(app, [*base, "--batch-seeds", "--out", str(tmp_path / "s")])  # seeds made one by one
    assert again.exit_code == 0, again.output
    assert not (tmp_path / "s/sdmlp/checkpoint.pt").exists()  # read back, not retrained as a batch
    for seed in (0, 1):
        batched = json.loads((tmp_path / f"b/sdmlp/seed{seed}/metrics.json").read_text())
        single = json.loads((tmp_path / f"s/sdmlp/seed{seed}/metrics.json").read_text())
        np.testing.assert_allclose(batched["accuracy_matrix"], single["accuracy_matrix"], atol=1e-3)
        assert batched["dead_fraction"] == pytest.approx(single["dead_fraction"], abs=1e-3)
    tables = [list(csv.DictReader((tmp_path / sub / "table.csv").open()))[0] for sub in "bs"]
    assert float(tables[0]["acc_mean"]) == pytest.approx(float(tables[1]["acc_mean"]), abs=1e-3)
    assert tables[0]["protocol"] == "optimizer=sgd, lr=0.05, batch_size=128, grad_clip=1.0, gaba_s=20000.0, " \
                                    "topk_mode=subtract, anneal_epochs=0"


def test_sdm_protocol_conflicts_are_refused(tmp_path):
    from experiments.table import run_table

    with pytest.raises(ConfigError, match="--sdm-protocol options"):
        run_table("digits", None, "relu,sdmlp", 1, tmp_path, {"anneal_epochs": 3})
    with pytest.raises(ConfigError, match="--sdm-protocol"):
        run_table("digits", None, "sdmlp", 1, tmp_path, sdm_protocol="paper")


def test_batched_seeds_refused_for_other_learners(tmp_path):
    result = CliRunner().invoke(app, ["train", "--model", "relu", "--n-models", "2", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "batched seeds are implemented for sdmlp" in result.output


def test_fashion_mnist_by_changing_only_the_dataset(tmp_path):
    """Table 8's stream is the same command with --dataset fashion-mnist (generated IDX files here)."""
    from tests.experiments.test_data import make_idx_dir

    data = tmp_path / "fashion"
    data.mkdir()
    make_idx_dir(data, compress=True, n_train=100, n_test=50)
    result = CliRunner().invoke(app, ["table", "--dataset", "fashion-mnist", "--data-dir", str(data), "--methods",
                                      "relu,sdmlp", "--seeds", "1", "--epochs-per-task", "1", "--n-neurons", "30",
                                      "--out", str(tmp_path / "t"), "--quiet"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "t/table.csv").open()))
    assert [r["method"] for r in rows] == ["relu", "sdmlp"]
    assert float(rows[1]["paper_acc"]) == 0.53  # Table 8's SDMLP beside ours


def test_rows_take_the_coefficient_tuned_on_their_dataset():
    """Each regulariser row records the coefficient tuned for its model on the table's dataset:
    SDMLP+EWC 1e5 on MNIST and 1e6 on Fashion-MNIST (re-tuned), EWC 1e7 on both; ReLU has none."""
    rows = {r.name: r for r in ALL}

    def coef(name: str, dataset: str):
        return row_settings(rows[name], dataset, None, {"epochs_per_task": 10}, "reference").get("reg_coef")

    assert (coef("sdmlp+ewc", "mnist"), coef("sdmlp+ewc", "fashion-mnist")) == (1e5, 1e6)
    assert (coef("ewc", "mnist"), coef("ewc", "fashion-mnist"), coef("relu", "mnist")) == (1e7, 1e7, None)
    sdm = row_settings(rows["sdmlp+ewc"], "mnist", None, {"epochs_per_task": 10}, "reference")
    assert (sdm["gaba_s"], sdm["lr"]) == (1e5, 0.05)  # the reference protocol, s scaled to 10 epochs


def test_notes_name_the_rows_that_miss_the_paper():
    """A row 0.06 off the paper is listed with its protocol; one 0.04 off and one without a number are not."""
    base = dict(model="m", seeds=1, acc_sem=np.nan, bwt_mean=0.0, bwt_sem=np.nan, forgetting_mean=0.0,
                forgetting_sem=np.nan, paper_source="Table 7", epochs_per_task=10, n_neurons=100, k=10)
    rows = [dict(base, method="far", acc_mean=0.47, paper_acc=0.53, protocol="optimizer=sgd, lr=0.05"),
            dict(base, method="near", acc_mean=0.57, paper_acc=0.53, protocol=""),
            dict(base, method="unpublished", acc_mean=0.2, paper_acc=np.nan, protocol="")]
    for r in rows:
        r["delta_vs_paper"] = r["acc_mean"] - r["paper_acc"]
    notes = format_markdown(rows, "mnist", "all").split("## Notes")[1]
    assert "**far** misses the paper by -0.060" in notes and "optimizer=sgd, lr=0.05" in notes
    assert "near" not in notes and "unpublished" not in notes and "(1 of 3)" in notes


def test_ablations_are_set_beside_table_2_without_a_difference():
    """Table 2 was measured on CIFAR-10 embeddings: its numbers stand beside ours for the order of the
    rows, but no difference or miss is computed; an ablation's protocol names the flag it changes."""
    row = next(r for r in ABLATIONS if r.name == "no-l2-norm")
    config = build_config({"model": "sdmlp", **row.overrides})
    r = _summarise(row, config, [{"acc": 0.2, "bwt": -0.5, "forgetting": 0.5}], "digits", ablations=True)
    assert r["paper_acc"] == lookup("cifar10-embeddings", "no-l2-norm").acc and np.isnan(r["delta_vs_paper"])
    assert "l2_normalize=False" in r["protocol"] and "nonnegative" not in r["protocol"]
    md = format_markdown([r], "digits", "ablations")
    assert "misses the paper" not in md and "CIFAR-10 embeddings, not on this dataset" in md
