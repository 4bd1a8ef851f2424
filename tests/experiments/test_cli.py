"""`csdm train` end to end on digits, resume equivalence, and every bad input of issue #3."""

import csv
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import experiments.train as train_module
from experiments.cli import app
from experiments.config import build_config
from experiments.train import run_training

FAST = ["--n-neurons", "60", "--k", "5", "--anneal-epochs", "2", "--epochs-per-task", "3", "--eval-every", "1",
        "--device", "cpu", "--quiet"]


def csdm(*args):
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_train_end_to_end_on_digits(tmp_path):
    code, out = csdm("train", *FAST, "--out", str(tmp_path / "run"))
    assert code == 0, out
    assert "acc=" in out and "accuracy matrix" in out
    run = tmp_path / "run"
    for name in ("config.json", "metrics.json", "accuracy_matrix.csv", "checkpoint.pt", "plots/accuracy.png",
                 "plots/accuracy_matrix.png"):
        assert (run / name).is_file(), name
    m = json.loads((run / "metrics.json").read_text())
    for key in ("accuracy_matrix", "acc", "bwt", "forgetting", "learning_acc", "dead_fraction", "curves"):
        assert key in m
    R = np.array(m["accuracy_matrix"])
    assert R.shape == (5, 5) and m["complete"]
    assert m["acc"] == pytest.approx(R[-1].mean())
    assert len(m["curves"]) == 15 and len(m["dead_fraction"]) == 5
    with open(run / "accuracy_matrix.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["after_task", "{0,1}", "{2,3}", "{4,5}", "{6,7}", "{8,9}"]
    assert np.allclose(np.array(rows[1:], dtype=object)[:, 1:].astype(float), R)
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["config"]["n_neurons"] == 60 and "git_revision" in cfg["provenance"]
    assert not list(run.glob(".*.tmp"))  # no temp files left behind


def test_toml_config_and_flag_override(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('n-neurons = 40\nk = 3\nlr = 0.3\n')
    cfg = build_config({"k": 4}, f)
    assert (cfg.n_neurons, cfg.k, cfg.lr) == (40, 4, 0.3)


def test_resume_gives_identical_results(tmp_path, monkeypatch):
    cfg = build_config({"n_neurons": 60, "k": 5, "anneal_epochs": 2, "epochs_per_task": 2, "device": "cpu",
                        "eval_every": 1})
    full = run_training(cfg, tmp_path / "full", progress=False)

    calls = {"n": 0}
    real_write = train_module.write_results

    def crash_after_two_tasks(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl-C after task 1's checkpoint
        return real_write(*args, **kwargs)

    monkeypatch.setattr(train_module, "write_results", crash_after_two_tasks)
    with pytest.raises(KeyboardInterrupt):
        run_training(cfg, tmp_path / "cut", progress=False)
    monkeypatch.setattr(train_module, "write_results", real_write)
    with pytest.raises(ValueError, match="--resume"):
        run_training(cfg, tmp_path / "cut", progress=False)
    resumed = run_training(cfg, tmp_path / "cut", resume=True, progress=False)
    assert resumed["accuracy_matrix"] == full["accuracy_matrix"]
    assert resumed["curves"] == full["curves"] and resumed["dead_fraction"] == full["dead_fraction"]


MID_TASK = {
    "sdmlp": {"n_neurons": 60, "k": 5, "anneal_epochs": 2},
    "si": {"n_neurons": 60, "reg_coef": 100.0},  # in-task state: SI's path integral omega
    "bio-rate": {"n_neurons": 60, "codegen_target": "cython"},
    "flymodel": {"n_neurons": 60, "k": 5},  # one pass per task, however many epochs
}


# bio-rate takes ~2 minutes (the adapted Golgi loop needs a short step): slow; the circuit's resume is also
# covered by tests/bridge/test_paired.py::test_csdm_run_resume_gives_identical_results
@pytest.mark.parametrize("model", [pytest.param(m, marks=pytest.mark.slow) if m == "bio-rate" else m
                                   for m in sorted(MID_TASK)])
def test_interrupted_task_resumes_from_its_last_curve_point(model, tmp_path, monkeypatch):
    """Ctrl-C after epoch 1 of 3 of task 1: --resume continues from there and ends where an
    uninterrupted run ends (R, curves, dead fractions equal). The FlyModel's single pass reports
    epoch 0 only: resumed after it, the task has nothing left to do."""
    cfg = build_config({"model": model, "epochs_per_task": 3, "eval_every": 1, "device": "cpu", **MID_TASK[model]})
    full = run_training(cfg, tmp_path / "full", progress=False)

    saved = []
    real_save = train_module.RunDir.save_checkpoint

    def crash_in_task_one(self, state):
        real_save(self, state)
        saved.append((state["record"]["tasks_done"], state["record"]["epochs_done"]))
        if saved[-1] == (1, 1):
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module.RunDir, "save_checkpoint", crash_in_task_one)
    with pytest.raises(KeyboardInterrupt):
        run_training(cfg, tmp_path / "cut", progress=False)
    epochs = [(0, 1), (0, 2)] if model != "flymodel" else [(0, 1)]
    assert saved == [*epochs, (1, 0), (1, 1)]
    monkeypatch.setattr(train_module.RunDir, "save_checkpoint", real_save)
    resumed = run_training(cfg, tmp_path / "cut", resume=True, progress=False)
    assert resumed["accuracy_matrix"] == full["accuracy_matrix"]
    assert resumed["curves"] == full["curves"] and resumed["dead_fraction"] == full["dead_fraction"]


def test_resume_with_other_settings_refused(tmp_path):
    assert csdm("train", *FAST, "--out", str(tmp_path / "r"))[0] == 0
    code, out = csdm("train", *FAST, "--lr", "0.3", "--out", str(tmp_path / "r"), "--resume")
    assert code == 2 and "different settings (lr)" in out
    code, out = csdm("train", *FAST, "--lr", "0.3", "--out", str(tmp_path / "r"), "--overwrite")
    assert code == 0
    assert json.loads((tmp_path / "r" / "config.json").read_text())["config"]["lr"] == 0.3


def _npz(tmp_path, **over):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.random((40, 6)), "y_train": np.arange(40) % 4, "x_test": rng.random((12, 6)),
              "y_test": np.arange(12) % 4}
    arrays.update(over)
    f = tmp_path / "d.npz"
    np.savez(f, **arrays)
    return str(f)


BAD = {
    "unknown dataset": (["--dataset", "cifar"], "unknown dataset"),
    "unknown model": (["--model", "transformer"], "unknown model"),
    "missing mnist": (["--dataset", "mnist", "--data-dir", "/nonexistent"], "IDX files"),
    "k zero": (["--k", "0"], "--k"),
    "k too big": (["--k", "60"], "k=60 must be < n_neurons=60"),
    "classes per task": (["--classes-per-task", "3"], "divisor"),
    "lr negative": (["--lr", "-0.1"], "--lr"),
    "epochs zero": (["--epochs-per-task", "0"], "--epochs-per-task"),
    "bad optimizer": (["--optimizer", "lbfgs"], "--optimizer"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_one_line(tmp_path, case):
    args, needle = BAD[case]
    code, out = csdm("train", *FAST, *args, "--out", str(tmp_path / "r"))
    assert code == 2, out
    assert needle in out
    assert out.strip().count("\n") == 0, out  # one line, no traceback
    assert not (tmp_path / "r").exists()  # nothing half-written


@pytest.mark.parametrize(("args", "needle"), [
    (["--protocol", "transfer", "--value-rule", "target"], "--value-rule set the native circuit's learning"),
    (["--purkinje-norm", "l2"], "--purkinje-norm l2 needs --value-rule target"),
])
def test_run_refuses_native_settings_it_cannot_use(tmp_path, args, needle):
    code, out = csdm("run", *args, "--out", str(tmp_path / "r"), "--quiet")
    assert code == 2 and needle in out, out
    assert out.strip().count("\n") == 0, out
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("over", "needle"), [
    ({"x_train": np.full((40, 6), np.inf)}, "NaN or inf"),
    ({"x_train": -np.ones((40, 6))}, "must be >= 0"),
    ({"y_train": np.arange(40) % 4 - 1}, "labels"),
])
def test_bad_data_exits_2(tmp_path, over, needle):
    code, out = csdm("train", *FAST, "--dataset", "npz", "--data-dir", _npz(tmp_path, **over),
                     "--out", str(tmp_path / "r"))
    assert code == 2 and needle in out, out
    assert not (tmp_path / "r").exists()


def test_rectify_inputs_flag_accepts_negative_data(tmp_path):
    code, out = csdm("train", *FAST, "--dataset", "npz", "--data-dir", _npz(tmp_path, x_train=-np.ones((40, 6))),
                     "--rectify-inputs", "--classes-per-task", "2", "--out", str(tmp_path / "r"))
    assert code == 0, out


def test_out_folder_with_other_files_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    code, out = csdm("train", *FAST, "--out", str(tmp_path), "--overwrite")
    assert code == 2 and "holds no run" in out
    assert (tmp_path / "notes.txt").exists()


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "experiments.cli", "train", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for flag in ("--model", "--dataset", "--data-dir", "--n-neurons", "--k", "--lr", "--batch-size",
                 "--epochs-per-task", "--classes-per-task", "--class-order", "--seed", "--device", "--out",
                 "--resume", "--overwrite", "--config", "--rectify-inputs"):
        assert flag in out



def test_calibrate_help_names_the_search_brackets_calibration_uses():
    """The bracket ends `csdm calibrate --help` promises are bridge.calibrate.GOLGI_SEARCH's (typed in the help so
    that --help stays fast)."""
    from bridge.calibrate import GOLGI_SEARCH

    params = {p.name: p for p in calibrate_cmd_params()}
    for end, which in (("low", 0), ("high", 1)):
        helped = {label: float(v) for label, v in re.findall(r"(rate|spiking|population Golgi) (-?[\d.e]+)",
                                                             params[end].help)}
        assert helped == {label: GOLGI_SEARCH[name][1][which] for name, label in
                          (("rate", "rate"), ("spiking", "spiking"), ("population", "population Golgi"))}


def calibrate_cmd_params():
    import typer.main

    command = typer.main.get_command(app)
    return command.commands["calibrate"].params

def test_batched_run_resumes_identically(tmp_path, monkeypatch):
    cfg = build_config({"n_neurons": 40, "k": 4, "anneal_epochs": 1, "epochs_per_task": 1, "device": "cpu",
                        "n_models": 2})
    full = run_training(cfg, tmp_path / "full", progress=False)
    real_write = train_module.write_all_results

    def crash_after_task_two(rundir, record, *args):
        if record.tasks_done == 2:
            raise KeyboardInterrupt
        return real_write(rundir, record, *args)

    monkeypatch.setattr(train_module, "write_all_results", crash_after_task_two)
    with pytest.raises(KeyboardInterrupt):
        run_training(cfg, tmp_path / "cut", progress=False)
    monkeypatch.setattr(train_module, "write_all_results", real_write)
    resumed = run_training(cfg, tmp_path / "cut", resume=True, progress=False)
    assert [m["accuracy_matrix"] for m in resumed["per_seed"]] == [m["accuracy_matrix"] for m in full["per_seed"]]
    assert json.loads((tmp_path / "cut/seed1/metrics.json").read_text())["complete"]


def test_run_from_an_older_version_resumes(tmp_path):
    """A stored config without an option added since (here n_models, grad_clip) counts as its default."""
    assert csdm("train", *FAST, "--out", str(tmp_path / "r"))[0] == 0
    path = tmp_path / "r" / "config.json"
    stored = json.loads(path.read_text())
    for key in ("n_models", "grad_clip"):
        del stored["config"][key]
    path.write_text(json.dumps(stored))
    assert csdm("train", *FAST, "--out", str(tmp_path / "r"), "--resume")[0] == 0


def test_calibrate_reaches_the_target_k():
    """`csdm calibrate` solves the Golgi threshold on real digits to within 1 cell of the target k."""
    code, output = csdm("calibrate", "--k", "5", "--n-neurons", "60", "--inputs", "20", "--codegen-target", "numpy")
    assert code == 0, output
    achieved = float(output.split("effective k ")[1].split()[0])
    assert abs(achieved - 5) < 1.0 and "Jaccard" in output
    ceiling = float(output.split("(feedforward at its best) would reach Jaccard ")[1].split()[0])
    assert 0.0 < ceiling <= 1.0
    own = float(output.split("picking against counting: Jaccard ")[1].split()[0])
    pearson = output.split("Pearson(k, the input's mean drive) ")[1].split()[0]
    assert 0.0 < own <= 1.0 and (pearson == "nan" or -1.0 <= float(pearson) <= 1.0)


def test_calibrate_passes_circuit_options():
    """With 4 mossy fibers per granule cell the drive stays below the former default granule threshold 0.55
    (given, so the circuit is not set from the data): the error says so (k = 0 at both ends of the bracket),
    which it would not with the dense default."""
    code, output = csdm("calibrate", "--k", "5", "--n-neurons", "60", "--inputs", "20", "--sparse-dendrites", "4",
                        "--granule-threshold", "0.55", "--codegen-target", "numpy")
    assert code == 2 and "mean k is 0.0 at -2.0 and 0.0 at 2.0" in output


def test_calibrate_passes_mossy_firing():
    """--mossy-firing reaches the circuit: an unknown train type is refused by name."""
    code, output = csdm("calibrate", "--mode", "spiking", "--n-neurons", "60", "--inputs", "5",
                        "--mossy-firing", "bursting", "--codegen-target", "numpy")
    assert code == 2 and "mossy_firing" in output


def test_calibrate_passes_golgi_model():
    """--golgi-model reaches the circuit: 'population' in rate mode is refused by name."""
    code, output = csdm("calibrate", "--golgi-model", "population", "--n-neurons", "60", "--inputs", "5",
                        "--codegen-target", "numpy")
    assert code == 2 and "golgi_model" in output


def test_run_made_before_rate_integration_resumes_only_as_it_ran(tmp_path):
    """A csdm run folder written before --rate-integration existed ran its transfer circuit explicitly: resuming it
    with today's default (implicit) is refused, and the docs' command for it says --rate-integration explicit."""
    from experiments.config import PairedConfig
    from experiments.docs import run_command

    folder = tmp_path / "r" / "seed0"
    folder.mkdir(parents=True)
    old = {k: v for k, v in PairedConfig().model_dump().items() if k != "rate_integration"}
    (folder / "config.json").write_text(json.dumps({"config": {**old, "seed": 0}, "provenance": {}}))
    code, out = csdm("run", "--out", str(tmp_path / "r"), "--resume", "--quiet")
    assert code == 2 and "different settings (rate_integration)" in out, out
    assert "--rate-integration explicit" in run_command(folder)
