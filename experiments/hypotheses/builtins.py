"""The built-in hypotheses: the claims of Bricken et al. (ICLR 2023) that the SDMLP can test on its own.

Each is one :class:`~experiments.hypotheses.core.Hypothesis` registered below; ``csdm hypothesis list`` shows
them, ``docs/hypotheses.md`` describes them. Measurements that need the trained model (drives, hidden activity)
rebuild it from the run folder's config.json and checkpoint.pt (:func:`load_run`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from experiments.hypotheses.core import Hypothesis, metric, read_metrics, register
from experiments.hypotheses.stats import Comparison
from experiments.hypotheses.toy import OPTIMIZERS, ToyConfig, applied_updates, schedule, simulate


def load_run(folder: Path):
    """(config, learner, stream) of a finished run folder: the learner as it was after the last task."""
    from experiments.config import TrainConfig
    from experiments.data import load_dataset
    from experiments.registry import get_method
    from experiments.rundir import RunDir, load_checkpoint
    from experiments.streams import class_incremental

    folder = Path(folder)
    cfg = TrainConfig(**json.loads((folder / "config.json").read_text())["config"])
    method = get_method(cfg.model)
    stream = method.stream(class_incremental(load_dataset(cfg.dataset, cfg.data_dir), cfg.classes_per_task,
                                             cfg.class_order, cfg.seed))
    learner = method.build(cfg, stream.n_inputs, stream.n_classes)
    RunDir(folder).load_learner(learner, load_checkpoint(folder / "checkpoint.pt")["learner"])
    return cfg, learner, stream


def _all(stream, split: str) -> tuple[np.ndarray, np.ndarray]:
    return (np.concatenate([getattr(t, f"x_{split}") for t in stream]),
            np.concatenate([getattr(t, f"y_{split}") for t in stream]))


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> list[Path]:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    _plt().close(fig)
    return [path]


# ---- stale-momentum (App. D, Fig. 17) -----------------------------------------------------------------------

def _toy_value(config: dict, seed: int) -> float:
    return simulate(ToyConfig(**config), seed)["amplification"]


def _toy_details(result: dict, folders) -> dict:
    out = {}
    for name, c in result["conditions"].items():
        runs = [simulate(ToyConfig(**c["config"]), s) for s in range(len(c["values"]))]
        out[name] = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
    return {"per_optimizer_mean_over_seeds": out,
            "paper": "Fig. 17c: RMSProp 10/0.2 = 50x, Adam 1/0.2 = 5x (first injection after quiescence)"}


def _toy_figure(result: dict, folders, figdir: Path) -> list[Path]:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    configs = {n: ToyConfig(**c["config"]) for n, c in result["conditions"].items()}
    grads = schedule(next(iter(configs.values())), 0)[:800]
    for i, (name, cfg) in enumerate(configs.items()):
        d = np.abs(applied_updates(cfg, grads))
        ax.semilogy(np.where(d > 0, d, np.nan), ".-", ms=2, lw=0.6, color=f"C{i}", label=name)
    ax.semilogy(np.where(grads > 0, grads, np.nan), "kx", ms=4, label="true gradient 0.2")
    ax.set_ylim(1e-6, 200)  # SGDM's and Adam's stale updates decay geometrically below this
    ax.set_xlabel("step (seed 0 schedule)")
    ax.set_ylabel("|applied update| (lr = 1)")
    ax.set_title("Stale momentum toy (App. D, Fig. 17a)", fontsize=9)
    ax.legend(fontsize=7, ncol=5, loc="lower center")
    return _save(fig, figdir / "stale_momentum.png")


register(Hypothesis(
    name="stale-momentum",
    claim="After a quiet period a sparse weight's first gradient is amplified by RMSProp (~50x) and Adam (~5x) "
          "but not by SGD (1x); SGDM and Adam keep updating the weight while its gradient is zero.",
    source="Bricken et al. ICLR 2023, App. D, Fig. 17 (toy: one weight, injections of 0.2 between quiet periods)",
    conditions={name: {"optimizer": name} for name in OPTIMIZERS},
    measure="|applied update| / true gradient at the first injection after each quiet period (mean per schedule; "
            "one random schedule per seed)",
    simulate=_toy_value,
    test=Comparison("wilcoxon", a="rmsprop", b="sgd", alternative="greater"),
    details=_toy_details,
    figure=_toy_figure,
    budget_overrides={"tiny": {"steps": 600}, "small": {"steps": 3000}, "paper": {"steps": 20000}},
))


# ---- subtract-beats-mask (Table 2, App. B.3) ----------------------------------------------------------------

register(Hypothesis(
    name="subtract-beats-mask",
    claim="Top-K by subtracting the (k+1)-th activity (Eq. 4) ends a class-incremental stream with a higher "
          "average accuracy than keeping the k largest untouched (mask), because it forgets less.",
    source="Bricken et al. ICLR 2023, Table 2 (linear subtract 0.63 vs mask 0.38 ACC), App. B.3, Fig. 10c",
    conditions={"subtract": {"topk_mode": "subtract"}, "mask": {"topk_mode": "mask"}},
    measure="ACC: mean accuracy over all tasks after the last task (Table 2's number; forgetting, learning "
            "accuracy and dead fraction in details)",
    measurement=metric("acc"),
    test=Comparison("permutation", a="subtract", b="mask", alternative="greater"),
))


# ---- k-tradeoff (App. C.2, Fig. 13) -------------------------------------------------------------------------

def _k_grid(base: dict) -> dict[str, dict]:
    r = base["n_neurons"]
    grid = (1, r // 4) if r <= 50 else (1, r // 40, r // 10, r // 4)  # small budget (r = 200): 1, 5, 20, 50
    ks = sorted({max(1, k) for k in grid if k < r})
    return {f"k={k}": {"k": k} for k in ks}


def _sem(v: np.ndarray) -> float:
    return float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0


def _k_pareto(result: dict, folders, figdir: Path) -> list[Path]:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    for i, (name, paths) in enumerate(folders.items()):
        ms = [read_metrics(p) for p in paths]
        f = np.array([m["forgetting"] for m in ms])
        la = np.array([m["learning_acc"] for m in ms])
        ax.errorbar(f.mean(), la.mean(), xerr=_sem(f), yerr=_sem(la), fmt="o", color=f"C{i}", label=name)
    ax.set_xlabel("forgetting (lower is better)")
    ax.set_ylabel("single-task accuracy R[j, j] (learning_acc)")
    ax.set_title("k trade-off (App. C.2, Fig. 13)", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, figdir / "k_pareto.png")


def _k_names(base: dict) -> tuple[str, str]:
    names = list(_k_grid(base))
    return names[0], names[-1]


register(Hypothesis(
    name="k-tradeoff",
    claim="A smaller k forgets less but learns a single task worse: forgetting and single-task accuracy trade off "
          "along the k grid (tested: smallest k forgets less than largest k).",
    source="Bricken et al. ICLR 2023, App. C.2, Fig. 13",
    conditions=_k_grid,
    measure="forgetting after the last task (learning_acc, the single-task accuracy, in details and the Pareto plot)",
    measurement=metric("forgetting"),
    test=lambda base: Comparison("permutation", *_k_names(base), alternative="less"),  # the grid's two ends
    figure=_k_pareto,
))


# ---- kplus1-tracks-mean (App. C.1) --------------------------------------------------------------------------

def _drive_levels(folder: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """(summed drive / n_neurons, (k+1)-th largest [drive]_+) over every test input, and k."""
    cfg, learner, stream = load_run(folder)
    x, _ = _all(stream, "test")
    address = np.asarray(learner.get_weights()["address"], dtype=np.float64)  # (n_inputs, r)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)  # step 1 of Algorithm 1
    drive = np.maximum(x @ address, 0.0)  # (N, r), [a]_+
    kth = np.sort(drive, axis=1)[:, -(cfg.k + 1)]  # I of Eq. 4, the (k+1)-th largest
    return drive.sum(axis=1) / drive.shape[1], kth, cfg.k


def _linfit(m: np.ndarray, i: np.ndarray) -> dict[str, float]:
    from scipy import stats

    fit = stats.linregress(m, i)
    return {"slope": float(fit.slope), "intercept": float(fit.intercept), "r2": float(fit.rvalue**2)}


def _kplus1_r2(folder: Path) -> float:
    m, i, _ = _drive_levels(folder)
    return _linfit(m, i)["r2"]


def _kplus1_details(result: dict, folders) -> dict:
    from scipy import stats

    per_seed = []
    for path in folders["sdmlp"]:
        m, i, k = _drive_levels(path)
        fit = _linfit(m, i)

        def stat(mm, ii):
            f = _linfit(mm, ii)
            return np.array([f["slope"], f["intercept"], f["r2"]])

        # inputs resampled with replacement, (summed / n, I) pairs kept together
        res = stats.bootstrap((m, i), stat, paired=True, vectorized=False, n_resamples=999, method="percentile",
                              rng=np.random.default_rng(0))
        lo, hi = res.confidence_interval
        per_seed.append({**fit, "k": k, "inputs": len(m),
                         "ci95": {n: [float(lo[j]), float(hi[j])] for j, n in enumerate(("slope", "intercept", "r2"))},
                         "mean_ratio_kth_over_mean": float(np.mean(i / np.maximum(m, 1e-12)))})
    return {"fit_per_seed": per_seed,
            "paper": "App. C.1: (k+1)-th activity ~ summed activity / n (slope 1, intercept 0)"}


def _kplus1_figure(result: dict, folders, figdir: Path) -> list[Path]:
    plt = _plt()
    m, i, k = _drive_levels(folders["sdmlp"][0])
    fit = _linfit(m, i)
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    ax.scatter(m, i, s=5, alpha=0.5)
    xs = np.linspace(m.min(), m.max(), 10)
    ax.plot(xs, fit["slope"] * xs + fit["intercept"], "C3",
            label=f"fit: {fit['slope']:.2f} x + {fit['intercept']:.3f}, R^2 {fit['r2']:.2f}")
    ax.plot(xs, xs, "k--", lw=0.8, label="I = sum / n")
    ax.set_xlabel("summed drive / n_neurons")
    ax.set_ylabel(f"(k+1)-th drive, k={k}")
    ax.set_title("kplus1-tracks-mean (App. C.1), seed 0", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, figdir / "kplus1_scatter.png")


register(Hypothesis(
    name="kplus1-tracks-mean",
    claim="After the GABA switch (k annealed to k_target) the (k+1)-th largest drive, the inhibition `I` of Eq. 4, is "
          "largely linear in the summed drive divided by the number of neurons (R^2 > 0.8 over the test inputs).",
    source="Bricken et al. ICLR 2023, App. C.1 (the SDMLP, last paragraph)",
    conditions={"sdmlp": {}},
    measure="R^2 of the linear fit of the (k+1)-th drive on summed drive / n over all test inputs, trained SDMLP",
    measurement=_kplus1_r2,
    test=Comparison("wilcoxon", a="sdmlp", null=0.8, alternative="greater"),
    details=_kplus1_details,
    figure=_kplus1_figure,
    budget_overrides={"tiny": {"anneal_epochs": 2}},
))


# ---- gaba-switch-prevents-dead-neurons (App. B, Eq. 12, Fig. 9) ---------------------------------------------

def dead_on_all(folder: Path) -> float:
    """Fraction of neurons never active on any training input of any task, after the last task."""
    from bridge.evaluation import learner_dead_fraction

    _, learner, stream = load_run(folder)
    return float(learner_dead_fraction(learner, _all(stream, "train")[0]))


def _gaba_conditions(base: dict) -> dict[str, dict]:
    # s of Eq. 12 = 100 activations per epoch of a task: on digits (~290 training inputs per task) every neuron,
    # active for every input while GABA excites, switches within the first third of task 0's epochs.
    s = 100.0 * base["epochs_per_task"]
    anneal = base["anneal_epochs"] or 2
    return {"switch": {"anneal_epochs": 0, "gaba_s": s},
            "no-switch": {"anneal_epochs": 0},
            "anneal": {"anneal_epochs": anneal},
            # Fig. 9: with negative weights allowed, only the full switch is said to avoid dead neurons
            "switch-negative": {"anneal_epochs": 0, "gaba_s": s, "nonnegative": False},
            "anneal-negative": {"anneal_epochs": anneal, "nonnegative": False}}


def _dead_figure(result: dict, folders, figdir: Path) -> list[Path]:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for i, (name, paths) in enumerate(folders.items()):
        d = np.mean([read_metrics(p)["dead_fraction"] for p in paths], axis=0)
        ax.plot(range(1, len(d) + 1), d, "-o", color=f"C{i}", label=name)
    ax.set_xlabel("after task")
    ax.set_ylabel("dead fraction on that task's inputs")
    ax.set_title("GABA switch and dead neurons (App. B, Fig. 9)", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, figdir / "dead_per_task.png")


register(Hypothesis(
    name="gaba-switch-prevents-dead-neurons",
    claim="With the GABA switch (Eq. 12: inhibition excitatory until a neuron has been active s times) fewer "
          "neurons are dead than with Top-K inhibitory from the start.",
    source="Bricken et al. ICLR 2023, App. B (Eq. 12), Fig. 9",
    conditions=_gaba_conditions,
    measure="fraction of neurons never active on any training input of any task, after the last task",
    measurement=dead_on_all,
    test=Comparison("permutation", a="switch", b="no-switch", alternative="less"),
    figure=_dead_figure,
))


# ---- neurons-specialise (App. H, Table 10, Fig. 23) ---------------------------------------------------------

def class_entropy(hidden: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Top-K-weighted mean class entropy (nats) of App. H: per neuron, the distribution of the classes of the
    inputs it is active for, its entropy H_i and its activity share w_i; returns (sum w H / sum w, H, w)."""
    active = np.asarray(hidden) > 0  # (N, r): neuron in the Top-K (post-inhibition activity > 0)
    classes = np.unique(labels)
    counts = np.stack([active[labels == c].sum(axis=0) for c in classes], axis=1).astype(float)  # (r, C)
    total = counts.sum(axis=1)
    p = counts / np.maximum(total[:, None], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=1)
    w = total / len(labels)
    return (float(np.sum(w * h) / np.sum(w)) if np.sum(w) > 0 else float("nan")), h, w


def _entropy_of(folder: Path) -> tuple[float, np.ndarray, np.ndarray]:
    _, learner, stream = load_run(folder)
    x, y = _all(stream, "train")
    return class_entropy(learner.hidden(x), y)


def _specialise_figure(result: dict, folders, figdir: Path) -> list[Path]:
    plt = _plt()
    fig, axes = plt.subplots(1, len(folders), figsize=(2.6 * len(folders), 2.8), sharey=True)
    for ax, (name, paths) in zip(np.atleast_1d(axes), folders.items(), strict=True):
        mean_h, h, w = _entropy_of(paths[0])
        ax.scatter(h, 100 * w, s=5)
        ax.set_yscale("symlog", linthresh=0.1)
        ax.set_title(f"{name}: {mean_h:.2f}", fontsize=8)
        ax.set_xlabel("class entropy (nats)")
    np.atleast_1d(axes)[0].set_ylabel("% of inputs active")
    fig.suptitle("Neuron specialisation (App. H, Fig. 23), seed 0", fontsize=9)
    return _save(fig, figdir / "entropy_vs_activity.png")


register(Hypothesis(
    name="neurons-specialise",
    claim="SDMLP neurons specialise: their Top-K-weighted class entropy is lower than a ReLU MLP's (paper: SDMLP "
          "0.99, mask 1.36, no L2 1.96, Top-K 1.48, ReLU 2.25 nats).",
    source="Bricken et al. ICLR 2023, App. H, Table 10, Fig. 23",
    conditions={"sdmlp": {}, "mask": {"topk_mode": "mask"}, "no-l2": {"l2_normalize": False},
                "topk": {"model": "topk"}, "relu": {"model": "relu"}},
    measure="mean class entropy (nats) of the neurons active for each training input, weighted by how often each "
            "neuron is active (all tasks' training inputs, after the last task)",
    measurement=lambda folder: _entropy_of(folder)[0],
    test=Comparison("permutation", a="sdmlp", b="relu", alternative="less"),
    figure=_specialise_figure,
))


# ---- stale momentum on a real stream (App. D, Fig. 15) ------------------------------------------------------

register(Hypothesis(
    name="optimizer-dead-neurons",
    claim="On a real stream, Adam and RMSProp leave more dead SDMLP neurons than SGD (stale momentum).",
    source="Bricken et al. ICLR 2023, App. D, Fig. 15; Table 2 (SGD 0.63, SGDM 0.54, Adam 0.23, RMSProp 0.20)",
    conditions={"sgd": {"optimizer": "sgd"}, "sgdm": {"optimizer": "sgdm", "lr": 0.02},
                "adam": {"optimizer": "adam", "lr": 0.001}, "rmsprop": {"optimizer": "rmsprop", "lr": 0.001}},
    measure="fraction of neurons never active on any training input of any task, after the last task",
    measurement=dead_on_all,
    test=Comparison("permutation", a="adam", b="sgd", alternative="greater"),
))



# ---- manifold-tiling (Fig. 6) -------------------------------------------------------------------------------

def _cosines(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(address columns (r, n), training inputs (N, n), each neuron's largest cosine to a training input (r,))."""
    _, learner, stream = load_run(folder)
    x, _ = _all(stream, "train")
    address = np.asarray(learner.get_weights()["address"], dtype=np.float64).T  # (r, n_inputs)
    unit_a = address / np.maximum(np.linalg.norm(address, axis=1, keepdims=True), 1e-12)
    unit_x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return address, x, (unit_a @ unit_x.T).max(axis=1)


def _on_manifold(folder: Path) -> float:
    return float(np.mean(_cosines(folder)[2]))


def _tiling_figure(result: dict, folders, figdir: Path) -> list[Path]:
    """PCA (fitted on the data) of the training inputs and of the neuron addresses: UMAP is not a dependency."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(folders), figsize=(3.6 * len(folders), 3.4))
    for ax, (name, paths) in zip(np.atleast_1d(axes), folders.items(), strict=True):
        address, x, cos = _cosines(paths[0])
        unit_x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        unit_a = address / np.maximum(np.linalg.norm(address, axis=1, keepdims=True), 1e-12)
        mean = unit_x.mean(axis=0)
        _, _, vt = np.linalg.svd(unit_x - mean, full_matrices=False)
        px, pa = (unit_x - mean) @ vt[:2].T, (unit_a - mean) @ vt[:2].T
        ax.scatter(px[:, 0], px[:, 1], s=3, color="0.7", label="training inputs")
        ax.scatter(pa[:, 0], pa[:, 1], s=8, c=cos, cmap="viridis", vmin=0, vmax=1, label="neuron addresses")
        ax.set_title(f"{name}: mean max cosine {cos.mean():.2f}", fontsize=8)
        ax.legend(fontsize=6)
    fig.suptitle("Neuron addresses on the data manifold (Fig. 6; PCA of the inputs), seed 0", fontsize=9)
    return _save(fig, figdir / "manifold_pca.png")


register(Hypothesis(
    name="manifold-tiling",
    claim="SDMLP neurons tile the data manifold: their addresses lie closer to training inputs (higher largest "
          "cosine similarity) than a ReLU MLP's hidden weights.",
    source="Bricken et al. ICLR 2023, Fig. 6 (UMAP of CIFAR-10 and neuron addresses); 2-D view here: PCA",
    conditions={"sdmlp": {}, "relu": {"model": "relu"}},
    measure="mean over neurons of the largest cosine similarity between the neuron's address (input weights) "
            "and any training input, after the last task",
    measurement=_on_manifold,
    test=Comparison("permutation", a="sdmlp", b="relu", alternative="greater"),
    figure=_tiling_figure,
))


# ---- four-dendrites (Litwin-Kumar et al. 2017; Cayco-Gajic et al. 2017) -------------------------------------

def participation_ratio(hidden: np.ndarray) -> float:
    """Dimension of a representation (rows: inputs): (sum of covariance eigenvalues)^2 / sum of their squares
    (Litwin-Kumar et al. 2017, Eq. 2)."""
    ev = np.clip(np.linalg.eigvalsh(np.cov(np.asarray(hidden, dtype=np.float64), rowvar=False)), 0.0, None)
    return float(ev.sum() ** 2 / np.sum(ev**2)) if np.sum(ev**2) > 0 else 0.0


def _granule_dimension(folder: Path) -> float:
    _, learner, stream = load_run(folder)
    return participation_ratio(learner.hidden(_all(stream, "test")[0]))


def _dendrite_grid(base: dict) -> dict[str, dict]:
    grid = (1, 4, 32) if base["n_neurons"] <= 50 else (1, 2, 4, 8, 16, 32, 64)
    return {f"K={m}": {"model": "flymodel", "fly_m": m} for m in grid}


def _dendrite_figure(result: dict, folders, figdir: Path) -> list[Path]:
    plt = _plt()
    names = list(result["conditions"])
    ks = [result["conditions"][n]["config"]["fly_m"] for n in names]
    dims = [np.mean(result["conditions"][n]["values"]) for n in names]
    accs = [np.mean([read_metrics(p)["acc"] for p in folders[n]]) for n in names]
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ax.plot(ks, dims, "-o", color="C0")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("mossy inputs per granule cell (K)")
    ax.set_ylabel("dimension (participation ratio)", color="C0")
    ax2 = ax.twinx()
    ax2.plot(ks, accs, "-s", color="C1")
    ax2.set_ylabel("ACC (class-incremental)", color="C1")
    ax.set_title("four-dendrites (Litwin-Kumar et al. 2017)", fontsize=9)
    return _save(fig, figdir / "dimension_vs_K.png")


register(Hypothesis(
    name="four-dendrites",
    claim="With a fixed number of granule cells, the dimension of the granule representation is higher with ~4 "
          "mossy inputs per granule cell than with dense connectivity (tested: K=4 against K=32, the FlyModel's "
          "default; on digits K=64 connects every cell to all 64 pixels, so all cells are alike).",
    source="Litwin-Kumar, Harris, Axel, Sompolinsky & Abbott 2017, Neuron (optimal K ~4); Cayco-Gajic, Clopath & "
           "Silver 2017, Nat. Commun.; here the FlyModel's sparse binary projection with k-WTA (App. G.2)",
    conditions=_dendrite_grid,
    measure="participation ratio of the granule (Kenyon cell) activity over all test inputs, FlyModel after the "
            "last task (ACC in details and the figure)",
    measurement=_granule_dimension,
    test=Comparison("permutation", a="K=4", b="K=32", alternative="greater"),
    figure=_dendrite_figure,
))

from experiments.hypotheses import builtins_bio  # noqa: E402, F401  (the circuit's hypotheses, registered after)
