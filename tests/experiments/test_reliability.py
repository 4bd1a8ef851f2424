"""Issue 21: safe checkpoints, one error boundary, files others can read, a tidy metrics table,
Ctrl-C that says how to continue, fail-fast options and help that shows defaults and choices."""

import json
import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from experiments.cli import app
from experiments.rundir import RunDir, RunDirError, load_checkpoint

FAST = ["--n-neurons", "30", "--k", "3", "--anneal-epochs", "1", "--epochs-per-task", "1", "--eval-every", "1",
        "--device", "cpu", "--quiet"]


def csdm(*args):
    result = CliRunner().invoke(app, list(map(str, args)))
    return result.exit_code, result.output


def one_line_exit_2(code, out, needle):
    assert code == 2, out
    assert needle in out, out
    assert out.strip().count("\n") == 0 and "Traceback" not in out, out


@pytest.fixture
def finished_run(tmp_path):
    run = tmp_path / "run"
    code, out = csdm("train", *FAST, "--out", run)
    assert code == 0, out
    return run


class _Payload:
    """An object whose unpickling runs a command (what a malicious checkpoint holds)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_checkpoint_is_refused_and_runs_nothing(finished_run, tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"learner": _Payload(marker)}, finished_run / "checkpoint.pt")
    code, out = csdm("train", *FAST, "--out", finished_run, "--resume")
    one_line_exit_2(code, out, "holds objects other than tensors and plain data")
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_damaged_checkpoint_exits_2(finished_run, damage):
    path = finished_run / "checkpoint.pt"
    data = path.read_bytes()
    garbage = np.random.default_rng(0).bytes(300)
    path.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "garbage": garbage}[damage])
    code, out = csdm("train", *FAST, "--out", finished_run, "--resume")
    one_line_exit_2(code, out, "checkpoint.pt is damaged or truncated")


def test_any_garbage_checkpoint_is_refused_as_damaged(tmp_path):
    """Random bytes fail torch's unpickler in many ways (about 1 file in 20 with an IndexError): every one of 300
    seeded garbage files is refused with RunDirError."""
    rng = np.random.default_rng(1)
    path = tmp_path / "checkpoint.pt"
    for _ in range(300):
        path.write_bytes(rng.bytes(int(rng.integers(1, 600))))
        with pytest.raises(RunDirError, match="checkpoint.pt (is damaged|holds objects other than tensors)"):
            load_checkpoint(path)


def test_checkpoints_round_trip_numpy_and_plain_data(tmp_path):
    import numpy as np

    rundir = RunDir(tmp_path)
    state = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "mask": np.eye(2, dtype=bool), "n": np.int64(3),
             "rng": np.random.default_rng(1).bit_generator.state, "t": torch.ones(2), "nested": [(1, "x")]}
    rundir.save_checkpoint(state)
    back = load_checkpoint(tmp_path / "checkpoint.pt")
    np.testing.assert_array_equal(back["a"], state["a"])
    assert back["a"].dtype == np.float32 and back["mask"].dtype == bool and back["n"] == 3
    assert back["rng"] == state["rng"] and back["nested"] == [(1, "x")]
    with pytest.raises(RunDirError):
        load_checkpoint(tmp_path / "missing.pt")


@pytest.mark.parametrize("command", [
    ["train", *FAST], ["run", "--n-neurons", "30", "--k", "3", "--quiet"], ["table", "--methods", "relu"],
    ["circuit"],
])
def test_out_that_is_a_file_exits_2(tmp_path, command):
    target = tmp_path / "afile"
    target.write_text("x")
    code, out = csdm(*command, "--out", target)
    one_line_exit_2(code, out, "afile")
    assert target.read_text() == "x"


def test_unwritable_out_exits_2(tmp_path):
    """An --out below a file cannot be made by anyone (root included): one line naming the path."""
    (tmp_path / "afile").write_text("x")
    code, out = csdm("train", *FAST, "--out", tmp_path / "afile" / "run")
    one_line_exit_2(code, out, "afile")


def test_summary_out_that_is_a_folder_exits_2(finished_run, tmp_path):
    code, out = csdm("summary", finished_run, "--out", tmp_path)
    one_line_exit_2(code, out, "is a folder")


def test_resume_of_a_missing_run_exits_2(tmp_path):
    code, out = csdm("train", *FAST, "--out", tmp_path / "none", "--resume")
    one_line_exit_2(code, out, "holds no run to continue")
    assert not (tmp_path / "none").exists()


def test_a_failed_new_run_leaves_nothing_so_the_fix_needs_no_overwrite(tmp_path, monkeypatch):
    """A run that fails before its first checkpoint removes its folder (formerly config.json stayed)."""
    import experiments.train as train_module

    def boom(*args, **kwargs):
        raise ValueError("no granule cell fires")

    monkeypatch.setattr(train_module, "train_stream", boom)
    code, out = csdm("train", *FAST, "--out", tmp_path / "r")
    one_line_exit_2(code, out, "no granule cell fires")
    assert not (tmp_path / "r").exists()


def test_memory_estimate_refuses_a_model_that_cannot_fit(tmp_path):
    code, out = csdm("train", "--n-neurons", "100000000", "--device", "cpu", "--out", tmp_path / "r")
    one_line_exit_2(code, out, "lower --n-neurons")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("args", "needle"), [
    (["--k", "200", "--n-neurons", "100"], "--k 200 must lie in [1, --n-neurons)"),
    (["--inputs", "0"], "--inputs 0"),
    (["--mode", "bursting"], "--mode must be"),
])
def test_calibrate_bad_options_say_what_is_wrong(args, needle):
    one_line_exit_2(*csdm("calibrate", *args), needle)


def test_summary_on_a_csdm_run_folder_says_what_it_is(tmp_path):
    seed = tmp_path / "seed0"
    seed.mkdir()
    (seed / "config.json").write_text(json.dumps({"config": {"seed": 0}}))
    (seed / "metrics.json").write_text(json.dumps({"complete": True, "learners": {"SDMLP": {}}}))
    one_line_exit_2(*csdm("summary", seed), "is a `csdm run` folder")


def test_circuit_works_in_an_empty_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out = csdm("circuit", "--n-neurons", "50")
    assert code == 0, out
    assert (tmp_path / "runs" / "circuit" / "circuit.png").stat().st_size > 1000


def test_results_are_readable_by_others_and_tidy(finished_run):
    """Files get 0666 less the umask (0644 under the usual 022), not mkstemp's 0600; metrics.csv is one
    long table that pandas reads in one line, agreeing with metrics.json."""
    old = os.umask(0o022)
    os.umask(old)
    for name in ("config.json", "metrics.json", "metrics.csv", "accuracy_matrix.csv", "checkpoint.pt"):
        assert stat.S_IMODE((finished_run / name).stat().st_mode) == 0o666 & ~old, name
    table = pd.read_csv(finished_run / "metrics.csv")
    assert list(table.columns) == ["learner", "after_task", "task", "metric", "value"]
    metrics = json.loads((finished_run / "metrics.json").read_text())
    acc = table.query("metric == 'acc'")["value"].item()
    assert acc == pytest.approx(metrics["acc"], abs=1e-6)
    R = table.query("metric == 'accuracy'").pivot(index="after_task", columns="task", values="value")
    assert R.loc["{8,9}", "{0,1}"] == pytest.approx(metrics["accuracy_matrix"][4][0], abs=1e-6)
    assert len(table.query("metric == 'accuracy'")) == 15  # the lower triangle of a 5 x 5 matrix


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(*args, **kwargs):
    """``csdm ARGS`` as a child process whose SIGINT acts as a terminal's Ctrl-C, even when the tests themselves
    run where SIGINT is ignored (a background job of a shell); a test passes its own ``preexec_fn`` to change it."""
    kwargs.setdefault("preexec_fn", _default_sigint)
    return subprocess.Popen([sys.executable, "-m", "experiments.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_options_are_checked_before_torch_and_brian2_are_imported():
    code = ("import sys\nfrom experiments.cli import app\n"
            "try:\n    app(['train', '--n-neurons', '-5'])\nexcept SystemExit as e:\n    print(e.code)\n"
            "print(sorted(m for m in ('torch', 'brian2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["2", "[]"], out


def test_ctrl_c_says_how_to_continue_and_the_run_resumes(tmp_path):
    run = tmp_path / "r"
    proc = _cli("train", "--n-neurons", "200", "--k", "5", "--epochs-per-task", "400", "--eval-every", "1",
                "--device", "cpu", "--quiet", "--out", run)
    deadline = time.time() + 120
    while not (run / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)  # generous: a loaded machine stops slowly, a hung one still fails
    assert proc.returncode == 130, err
    assert err.strip() == "interrupted; continue with the same command and --resume", err
    state = load_checkpoint(run / "checkpoint.pt")  # intact
    assert "learner" in state


def test_an_ignored_sigint_stays_ignored(tmp_path):
    """A process started with SIGINT ignored (nohup-like) keeps ignoring it; Brian2's import used to
    replace the handler and crash on the next SIGINT ('Handlers' object is not callable)."""
    run = tmp_path / "r"
    proc = _cli("train", "--n-neurons", "30", "--k", "3", "--epochs-per-task", "50", "--eval-every", "1", "--quiet",
                "--model", "bio-rate", "--codegen-target", "numpy", "--out", run,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.time() + 120
    while not (run / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    try:
        for _ in range(3):  # Brian2 is imported and simulating now
            proc.send_signal(signal.SIGINT)
            time.sleep(1.0)
        assert proc.poll() is None, proc.communicate()[1]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err


def test_help_shows_defaults_and_choices():
    out = CliRunner().invoke(app, ["train", "--help"], terminal_width=200).output
    assert "[default: 1000]" in out and "[default: sdmlp]" in out
    for choices in ("sgd|sgdm|adam|rmsprop", "subtract|mask", "sequential|random", "bio-rate|bio-spiking"):
        assert choices in out
    assert "<bool>" not in out and "see `csdm train --help`" not in out
    run_help = CliRunner().invoke(app, ["run", "--help"], terminal_width=200).output
    assert "rate|spiking" in run_help and "transfer|native|both" in run_help


@pytest.mark.slow  # ~1-2 minutes: the rate circuit's adapted Golgi loop runs at a short step
def test_ctrl_c_with_worker_processes_prints_one_line(tmp_path):
    """With --bio-workers 2 the workers ignore SIGINT (the parent stops them): no worker tracebacks."""
    run = tmp_path / "r"
    proc = _cli("train", "--n-neurons", "30", "--k", "3", "--epochs-per-task", "50", "--eval-every", "1", "--quiet",
                "--model", "bio-rate", "--codegen-target", "numpy", "--bio-workers", "2", "--out", run,
                start_new_session=True)
    deadline = time.time() + 180
    while not (run / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the whole process group
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert err.strip() == "interrupted; continue with the same command and --resume", err


def test_resume_refuses_a_circuit_saved_with_other_parameters(tmp_path):
    """--resume of a circuit whose saved parameters this version builds otherwise (a default changed since) stops
    with the revision that wrote the run, not with a traceback and not by running the old weights with new
    dynamics; other errors of the learner pass unchanged."""
    import bio

    rundir = RunDir(tmp_path / "run")
    rundir.prepare({"model": "bio-rate"}, resume=False, overwrite=False)
    config = json.loads((rundir.path / "config.json").read_text())
    config["provenance"]["git_revision"] = "0123abc"
    (rundir.path / "config.json").write_text(json.dumps(config))
    state = bio.CerebellarCircuit(8, 20, 2, tau_granule_ms=5.0).state_dict()
    with pytest.raises(RunDirError, match=r"other parameters.*tau_granule_ms=5\.0.*0123abc.*--overwrite"):
        rundir.load_learner(bio.CerebellarCircuit(8, 20, 2), state)
    with pytest.raises(ValueError, match="shape") as caught:
        rundir.load_learner(bio.CerebellarCircuit(8, 21, 2), {**state, "parameters": None})
    assert not isinstance(caught.value, RunDirError)
