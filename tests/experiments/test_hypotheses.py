"""csdm hypothesis: the statistics against scipy, the stale-momentum toy against its closed-form recurrences,
every built-in end to end at the tiny budget (effect and p recomputed here from the stored values), reruns,
half-written run folders, and Dask (a LocalCluster whose worker is killed mid-run)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from experiments.hypotheses import KEYS, Comparison, all_hypotheses, get_hypothesis, run_hypothesis, run_test
from experiments.hypotheses.builtins import class_entropy
from experiments.hypotheses.core import BUDGETS, Hypothesis, metric, register
from experiments.hypotheses.execute import PARTIAL, execute, train_run
from experiments.hypotheses.report import MARKER
from experiments.hypotheses.toy import ToyConfig, applied_updates, burst_starts, schedule

A = np.array([0.31, 0.42, 0.25, 0.38, 0.29, 0.45, 0.33])
B = np.array([0.35, 0.49, 0.30, 0.37, 0.36, 0.52, 0.41])


@pytest.fixture
def no_run_plots(monkeypatch):
    """Per-run accuracy plots off (they are ~75 % of a tiny run's time); results are unchanged."""
    import experiments.train as train

    monkeypatch.setattr(train, "plot_accuracy_curves", lambda *a, **k: None)
    monkeypatch.setattr(train, "plot_accuracy_matrix", lambda *a, **k: None)


# ---- statistics against scipy on fixed samples ---------------------------------------------------------------

def test_paired_permutation_is_the_exact_sign_flip_test():
    d = A - B
    flips = np.array(list(itertools.product([1, -1], repeat=len(d))))
    null = (flips * d).mean(axis=1)  # every sign pattern: the exact null distribution of the mean difference
    expected = np.mean(null <= d.mean() + 1e-12)
    res = run_test(Comparison("permutation", "a", "b", alternative="less"), A, B)
    assert res["effect"] == pytest.approx(d.mean())
    assert res["p_value"] == pytest.approx(expected)
    assert res["statistic"] == pytest.approx(d.mean())


def test_unpaired_permutation_matches_scipy():
    c = Comparison("permutation", "a", "b", alternative="two-sided", paired=False)
    res = run_test(c, A, B[:5])
    ref = stats.permutation_test((A, B[:5]), lambda x, y, axis: x.mean(axis) - y.mean(axis), vectorized=True,
                                 permutation_type="independent", alternative="two-sided", n_resamples=9999,
                                 rng=np.random.default_rng(0))
    assert res["effect"] == pytest.approx(A.mean() - B[:5].mean())
    assert res["p_value"] == pytest.approx(ref.pvalue)


def test_wilcoxon_matches_scipy_paired_and_one_sample():
    res = run_test(Comparison("wilcoxon", "a", "b", alternative="less"), A, B)
    ref = stats.wilcoxon(A - B, alternative="less")
    assert (res["statistic"], res["p_value"]) == pytest.approx((ref.statistic, ref.pvalue))
    res = run_test(Comparison("wilcoxon", "a", null=0.3, alternative="greater"), A)
    ref = stats.wilcoxon(A - 0.3, alternative="greater")
    assert res["p_value"] == pytest.approx(ref.pvalue)
    assert res["effect"] == pytest.approx(A.mean() - 0.3)


def test_bootstrap_ci_and_p_match_scipy():
    res = run_test(Comparison("bootstrap", "a", "b", alternative="less"), A, B)
    ref = stats.bootstrap((A - B,), np.mean, n_resamples=9999, method="percentile", rng=np.random.default_rng(0))
    assert res["ci"] == pytest.approx([ref.confidence_interval.low, ref.confidence_interval.high])
    dist = ref.bootstrap_distribution
    assert res["p_value"] == pytest.approx((1 + np.sum(dist >= 0)) / (1 + len(dist)))


def test_tost_is_two_one_sided_t_tests():
    c = Comparison("tost", "a", "b", margin=0.1)
    res = run_test(c, A, B)
    d = A - B
    lo = stats.ttest_1samp(d, -0.1, alternative="greater")
    hi = stats.ttest_1samp(d, 0.1, alternative="less")
    assert res["p_value"] == pytest.approx(max(lo.pvalue, hi.pvalue))
    assert run_test(Comparison("tost", "a", "b", margin=0.001), A, B)["p_value"] > 0.05  # not equivalent


def test_one_seed_gives_no_p_value_and_says_so():
    for test in ("permutation", "wilcoxon", "tost"):
        res = run_test(Comparison(test, "a", "b", margin=0.1), A[:1], B[:1])
        assert res["p_value"] is None and res["effect"] == pytest.approx(A[0] - B[0])


def test_bad_comparisons_say_what_is_wrong():
    with pytest.raises(ValueError, match="margin"):
        Comparison("tost", "a", "b")
    with pytest.raises(ValueError, match="one of"):
        Comparison("t-test", "a", "b")


# ---- the stale-momentum toy against closed-form recurrences (numpy, written here) ----------------------------

def closed_form(optimizer: str, g: np.ndarray, mu=0.9, b1=0.9, b2=0.999, alpha=0.99, eps=1e-8) -> np.ndarray:
    delta = np.zeros(len(g))
    buf = m = v = 0.0
    for t, gt in enumerate(g, start=1):
        if optimizer == "sgd":
            delta[t - 1] = gt
        elif optimizer == "sgdm":
            buf = gt if t == 1 else mu * buf + gt
            delta[t - 1] = buf
        elif optimizer == "adam":
            m, v = b1 * m + (1 - b1) * gt, b2 * v + (1 - b2) * gt**2
            delta[t - 1] = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        else:
            v = alpha * v + (1 - alpha) * gt**2
            delta[t - 1] = gt / (np.sqrt(v) + eps)
    return delta


@pytest.mark.parametrize("optimizer", ["sgd", "sgdm", "adam", "rmsprop"])
def test_toy_updates_are_the_closed_form_recurrences(optimizer):
    cfg = ToyConfig(optimizer=optimizer, steps=500)
    g = schedule(cfg, seed=3)
    np.testing.assert_allclose(applied_updates(cfg, g), closed_form(optimizer, g), rtol=1e-9, atol=1e-12)


def test_toy_amplification_is_50x_rmsprop_5x_adam_from_rest():
    g = np.zeros(50)
    g[0] = 0.2
    ratios = {o: closed_form(o, g)[0] / 0.2 for o in ("sgd", "adam", "rmsprop")}
    assert ratios == pytest.approx({"sgd": 1.0, "adam": 5.0, "rmsprop": 50.0}, rel=1e-5)  # Fig. 17c


def test_stale_momentum_values_come_from_the_recurrences(tmp_path):
    r = run_hypothesis("stale-momentum", seeds=3, budget="tiny", out=tmp_path)
    for name, c in r["conditions"].items():
        for seed, value in enumerate(c["values"]):
            g = schedule(ToyConfig(**c["config"]), seed)
            d = closed_form(name, g)
            assert value == pytest.approx(np.mean(np.abs(d[burst_starts(g)]) / 0.2), rel=1e-9)
    rms, adam = np.mean(r["conditions"]["rmsprop"]["values"]), np.mean(r["conditions"]["adam"]["values"])
    assert 30 < rms <= 50 and 3 < adam <= 5  # the first injection of a schedule from rest: 50x and 5x exactly


# ---- every built-in end to end (tiny budget) ------------------------------------------------------------------

def recompute(c: Comparison, a, b) -> tuple[float, float | None]:
    """effect and p of ``c`` straight from scipy."""
    a = np.asarray(a)
    d = a - (np.asarray(b) if b is not None else c.null)
    effect = d.mean()
    if c.test == "wilcoxon":
        p = None if np.all(d == 0) else stats.wilcoxon(d, alternative=c.alternative).pvalue
    elif c.test == "permutation":
        p = stats.permutation_test((d,), np.mean, permutation_type="samples", alternative=c.alternative,
                                   rng=np.random.default_rng(0)).pvalue
    elif c.test == "bootstrap":
        if np.ptp(d) == 0:
            dist = np.array([effect])
        else:
            dist = stats.bootstrap((d,), np.mean, method="percentile", rng=np.random.default_rng(0)
                                   ).bootstrap_distribution
        side = dist >= 0 if c.alternative == "less" else dist <= 0
        p = (1 + side.sum()) / (1 + len(dist))
    else:
        lo = stats.ttest_1samp(d, -c.margin, alternative="greater").pvalue
        hi = stats.ttest_1samp(d, c.margin, alternative="less").pvalue
        p = max(lo, hi)
    return effect, p


# the circuit learns the stream: minutes even at tiny
NATIVE = ["bio-forgets-like-sdm", "golgi-feedback-needed", "chloride-switch-prevents-dead-cells"]
BUILTINS = ["stale-momentum", "subtract-beats-mask", "k-tradeoff", "kplus1-tracks-mean",
            "gaba-switch-prevents-dead-neurons", "neurons-specialise", "optimizer-dead-neurons", "manifold-tiling",
            "four-dendrites", "golgi-constant-k", *NATIVE]


def test_every_builtin_is_registered_in_order():
    assert list(all_hypotheses())[: len(BUILTINS)] == BUILTINS


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in NATIVE else n for n in BUILTINS])
def test_builtin_runs_end_to_end(name, tmp_path, no_run_plots):
    seeds = 2
    r = run_hypothesis(name, seeds=seeds, budget="tiny", out=tmp_path)
    stored = json.loads((tmp_path / "hypothesis.json").read_text())
    assert tuple(stored) == KEYS
    c = get_hypothesis(name).comparison("tiny")
    a = stored["conditions"][c.a]["values"]
    b = stored["conditions"][c.b]["values"] if c.b is not None else None
    assert all(len(v["values"]) == seeds for v in stored["conditions"].values())
    effect, p = recompute(c, a, b)
    assert stored["effect"] == pytest.approx(effect)
    assert (stored["p_value"] is None and p is None) or stored["p_value"] == pytest.approx(p)
    lo, hi = stored["ci"]
    assert lo <= stored["effect"] + 1e-12 and stored["effect"] <= hi + 1e-12
    assert stored["decision"].startswith(("supported", "not supported", "undetermined"))
    assert stored["commands"][0].startswith(f"csdm hypothesis run {name} --seeds {seeds}")
    assert (tmp_path / "hypothesis.md").read_text().startswith(f"## `{name}`")
    assert (tmp_path / "figures" / "values.png").stat().st_size > 0
    assert r == stored
    if name == "bio-forgets-like-sdm":  # the claim's second part, in details: circuit - relu, permutation, less
        second = json.loads((tmp_path / "details.json").read_text())["circuit_vs_relu"]
        c = Comparison("permutation", "circuit", "relu", alternative="less")
        effect, p = recompute(c, stored["conditions"]["circuit"]["values"], stored["conditions"]["relu"]["values"])
        assert second["effect"] == pytest.approx(effect) and second["p_value"] == pytest.approx(p)


def test_participation_ratio_counts_equal_independent_dimensions():
    from experiments.hypotheses.builtins import participation_ratio

    rng = np.random.default_rng(0)
    assert participation_ratio(rng.normal(size=(20000, 5))) == pytest.approx(5, rel=0.02)
    assert participation_ratio(np.outer(rng.normal(size=100), np.ones(4))) == pytest.approx(1)


def test_class_entropy_of_specialised_and_mixed_neurons():
    labels = np.array([0, 0, 1, 1])
    specialised = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=float)
    mixed = np.ones((4, 2))
    assert class_entropy(specialised, labels)[0] == pytest.approx(0.0)
    assert class_entropy(mixed, labels)[0] == pytest.approx(np.log(2))


# ---- runs on disk: rerun, half-written folders, user hypotheses ------------------------------------------------

TINY = {**BUDGETS["tiny"], "n_neurons": 20, "k": 2}


def test_a_rerun_skips_finished_runs(tmp_path, no_run_plots, monkeypatch):
    first = run_hypothesis("subtract-beats-mask", seeds=2, budget="tiny", out=tmp_path)
    import experiments.train as train

    monkeypatch.setattr(train, "run_training", lambda *a, **k: pytest.fail("a finished run was trained again"))
    assert run_hypothesis("subtract-beats-mask", seeds=2, budget="tiny", out=tmp_path)["conditions"] == \
        first["conditions"]


def test_a_half_written_run_is_resumed_or_replaced_never_read(tmp_path, no_run_plots):
    from experiments.config import TrainConfig

    cfg = TrainConfig(**TINY, seed=1).model_dump()
    clean = json.loads((Path(train_run(cfg, str(tmp_path / "clean"))) / "metrics.json").read_text())
    for damage in ("garbage", "incomplete-final", "partial-run"):
        target = tmp_path / damage
        if damage == "garbage":  # a .partial with junk in it
            (target.parent / (target.name + PARTIAL)).mkdir()
            (target.parent / (target.name + PARTIAL) / "config.json").write_text("{not json")
        elif damage == "incomplete-final":  # a folder where the run goes whose metrics do not say complete
            shutil.copytree(tmp_path / "clean", target)
            m = json.loads((target / "metrics.json").read_text())
            (target / "metrics.json").write_text(json.dumps({**m, "complete": False, "acc": -1}))
        else:  # a run killed after its first task: its checkpoint is resumed
            shutil.copytree(tmp_path / "clean", target.parent / (target.name + PARTIAL))
            (target.parent / (target.name + PARTIAL) / "metrics.json").unlink()
        got = json.loads((Path(train_run(cfg, str(target))) / "metrics.json").read_text())
        assert got["accuracy_matrix"] == clean["accuracy_matrix"], damage
        assert not (target.parent / (target.name + PARTIAL)).exists()


def test_a_user_hypothesis_registers_and_runs(tmp_path, no_run_plots):
    h = register(Hypothesis(name="test-lr", claim="x", source="this test",
                            conditions=lambda base: {"lo": {"lr": 0.05}, "hi": {"lr": 0.5}},
                            measure="forgetting", measurement=metric("forgetting"),
                            test=Comparison("tost", a="hi", b="lo", margin=0.5)), replace=True)
    r = run_hypothesis(h, seeds=2, budget="tiny", out=tmp_path)
    assert r["conditions"]["lo"]["config"]["lr"] == 0.05 and "seed" not in r["conditions"]["lo"]["config"]
    with pytest.raises(ValueError, match="not among its conditions"):
        run_hypothesis(Hypothesis(name="bad", claim="x", source="x", conditions={"a": {}}, measure="m",
                                  measurement=metric("acc"), test=Comparison("wilcoxon", "a", "b")),
                       budget="tiny", out=tmp_path / "bad")


@pytest.mark.parametrize("kwargs, needle", [({"seeds": 0}, "--seeds"), ({"budget": "huge"}, "--budget"),
                                            ({"workers": -1}, "--workers"), ({"dataset": "nope"}, "nope"),
                                            ({"scheduler": "localhost"}, "--scheduler")])
def test_bad_input_is_one_line_value_error(kwargs, needle, tmp_path):
    with pytest.raises(ValueError, match=needle) as err:
        run_hypothesis("subtract-beats-mask", **{"budget": "tiny", "out": tmp_path, **kwargs})
    assert "\n" not in str(err.value)


def test_cli_list_run_and_report(tmp_path):
    import typer
    from typer.testing import CliRunner

    from experiments.hypotheses.cli import hypothesis_app

    app = typer.Typer()
    app.add_typer(hypothesis_app, name="hypothesis")
    runner = CliRunner()
    res = runner.invoke(app, ["hypothesis", "list"])
    assert res.exit_code == 0 and "stale-momentum" in res.output and "App. D" in res.output
    res = runner.invoke(app, ["hypothesis", "run", "nope"])
    assert res.exit_code == 2 and "unknown hypothesis" in res.output
    out = tmp_path / "stale"
    res = runner.invoke(app, ["hypothesis", "run", "stale-momentum", "--budget", "tiny", "--seeds", "3",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = tmp_path / "docs" / "o.md"
    doc.parent.mkdir()
    doc.write_text(f"# by hand\n\n{MARKER}\nold outcomes\n")
    res = runner.invoke(app, ["hypothesis", "report", str(out), "--out", str(doc)])
    assert res.exit_code == 0, res.output
    text = doc.read_text()
    assert text.startswith(f"# by hand\n\n{MARKER}") and "old outcomes" not in text
    assert "| `stale-momentum` |" in text and "](hypothesis-figures/stale-momentum/values.png)" in text
    assert (doc.parent / "hypothesis-figures" / "stale-momentum" / "values.png").is_file()
    res = runner.invoke(app, ["hypothesis", "report", str(tmp_path)])
    assert res.exit_code == 2 and "no hypothesis.json" in res.output


# ---- Dask -------------------------------------------------------------------------------------------------------

def _metrics(folder: str) -> dict:
    m = json.loads((Path(folder) / "metrics.json").read_text())
    return {k: m[k] for k in ("accuracy_matrix", "dead_fraction", "curves", "acc", "forgetting")}


@pytest.mark.slow
def test_dask_worker_killed_mid_run_every_result_once_and_equal_to_serial(tmp_path, no_run_plots):
    from dask.distributed import Client, LocalCluster

    from experiments.config import TrainConfig

    configs = [TrainConfig(**{**TINY, "epochs_per_task": 3, "eval_every": 1}, seed=s).model_dump() for s in range(4)]
    serial = [train_run(c, str(tmp_path / "serial" / f"s{i}")) for i, c in enumerate(configs)]
    jobs = [(c, str(tmp_path / "dask" / f"s{i}")) for i, c in enumerate(configs)]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        done: dict = {}
        thread = threading.Thread(target=lambda: done.setdefault("folders", execute(
            jobs, scheduler=cluster.scheduler_address)))
        thread.start()
        deadline = time.time() + 600  # generous: a loaded 2-core machine took > 120 s
        while not list((tmp_path / "dask").glob(f"*{PARTIAL}/checkpoint.pt")) and time.time() < deadline:
            time.sleep(0.05)
        assert time.time() < deadline, "no run reached its first checkpoint"
        pids = client.run(os.getpid)
        busy = [w for w, tasks in client.processing().items() if tasks]
        assert busy, "no worker was running a task"
        os.kill(pids[busy[0]], signal.SIGKILL)  # mid-run: a .partial folder with a checkpoint exists
        thread.join(timeout=900)
        assert not thread.is_alive()
        assert pids[busy[0]] not in client.run(os.getpid).values()  # the killed worker was replaced
    assert done["folders"] == [f for _, f in jobs]
    names = sorted(p.name for p in (tmp_path / "dask").iterdir())
    assert names == [f"s{i}" for i in range(4)]  # every result exactly once, nothing half-written left
    for s, (_, d) in zip(serial, jobs, strict=True):
        assert _metrics(d) == _metrics(s)


def test_execute_on_a_dask_scheduler_equals_serial(tmp_path, no_run_plots):
    """Fast: an in-process cluster given as --scheduler (the worker-process path is the slow test below)."""
    from dask.distributed import LocalCluster

    from experiments.config import TrainConfig

    configs = [TrainConfig(**TINY, seed=s).model_dump() for s in range(3)]
    serial = execute([(c, str(tmp_path / "a" / f"s{i}")) for i, c in enumerate(configs)], workers=0)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        dask = execute([(c, str(tmp_path / "b" / f"s{i}")) for i, c in enumerate(configs)],
                       scheduler=cluster.scheduler_address)
    for s, d in zip(serial, dask, strict=True):
        assert _metrics(s) == _metrics(d)


@pytest.mark.slow
def test_execute_with_local_worker_processes_equals_serial(tmp_path):
    from experiments.config import TrainConfig

    configs = [TrainConfig(**TINY, seed=s).model_dump() for s in range(2)]
    serial = execute([(c, str(tmp_path / "a" / f"s{i}")) for i, c in enumerate(configs)], workers=0)
    dask = execute([(c, str(tmp_path / "b" / f"s{i}")) for i, c in enumerate(configs)], workers=2)
    for s, d in zip(serial, dask, strict=True):
        assert _metrics(s) == _metrics(d)
