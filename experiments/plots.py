"""Figures of a run: per-task accuracy over training (the paper's Fig. 20) and the
accuracy matrix as a heat map. matplotlib with the Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)


def plot_accuracy_curves(curves: list[dict], task_names: list[str], epochs_per_task: int, path: Path,
                         title: str = "") -> None:
    """Accuracy on every task's test set against training epochs; dashed lines mark task switches."""
    fig, ax = plt.subplots(figsize=(7, 4))
    if curves:
        epochs = np.array([c["global_epoch"] for c in curves])
        acc = np.array([c["acc"] for c in curves])  # (points, T)
        for j, name in enumerate(task_names):
            ax.plot(epochs, acc[:, j], marker=".", label=name)
        for i in range(1, len(task_names)):
            ax.axvline(i * epochs_per_task, color="grey", linestyle="--", linewidth=0.7)
        ax.plot(epochs, acc.mean(axis=1), color="black", linewidth=2, label="mean (all tasks)")
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
    ax.set(xlabel="epoch", ylabel="test accuracy", ylim=(-0.02, 1.02), title=title or "accuracy per task")
    _save(fig, path)


def plot_accuracy_matrix(R: np.ndarray, task_names: list[str], path: Path, title: str = "") -> None:
    """R[i, j] (accuracy on task j after task i) as an annotated heat map."""
    fig, ax = plt.subplots(figsize=(1.1 * len(R) + 2, 1.0 * len(R) + 1.5))
    im = ax.imshow(np.nan_to_num(R, nan=0.0), vmin=0, vmax=1, cmap="viridis")
    for i in range(R.shape[0]):
        for j in range(R.shape[1]):
            if np.isfinite(R[i, j]):
                ax.text(j, i, f"{R[i, j]:.2f}", ha="center", va="center",
                        color="white" if R[i, j] < 0.6 else "black", fontsize=8)
    ax.set_xticks(range(len(task_names)), task_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(task_names)), task_names, fontsize=8)
    ax.set(xlabel="evaluated on task", ylabel="after training task", title=title or "accuracy matrix R[i, j]")
    fig.colorbar(im, ax=ax, fraction=0.046)
    _save(fig, path)


def plot_fidelity(fidelity: dict[str, list[dict]], k: int, path: Path) -> None:
    """Jaccard overlap with the exact Top-K set and effective k after every task, per protocol."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    for protocol, recs in fidelity.items():
        tasks = [r["task"] for r in recs]
        ax1.plot(tasks, [r["jaccard_mean"] for r in recs], marker="o", label=protocol)
        ax2.errorbar(tasks, [r["effective_k_mean"] for r in recs], yerr=[r["effective_k_sd"] for r in recs],
                     marker="o", capsize=3, label=protocol)
    ax1.set(xlabel="after task", ylabel="Jaccard(bio active set, Top-K set)", ylim=(0, 1.02), title="Top-K fidelity")
    ax2.axhline(k, color="grey", linestyle="--", label=f"target k = {k}")
    ax2.set(xlabel="after task", ylabel="active granule cells", title="effective k")
    for ax in (ax1, ax2):
        ax.legend(fontsize=8)
    _save(fig, path)


def plot_methods_over_tasks(curves: dict[str, list[np.ndarray]], path: Path, title: str = "") -> None:
    """Mean accuracy on all tasks after each task, one line per method (mean ± SEM over seeds; Fig. 3).

    ``curves[method]`` holds one array per seed: mean_j R[i, j] for each task i. A method
    trained on one merged task (the oracle) is drawn as a dashed horizontal line.
    """
    fig, ax = plt.subplots(figsize=(7, 4))
    n_tasks = max(len(c[0]) for c in curves.values()) if curves else 1
    for i, (name, runs) in enumerate(curves.items()):
        acc = np.array(runs)  # (seeds, tasks)
        mean = acc.mean(axis=0)
        sem = acc.std(axis=0, ddof=1) / np.sqrt(len(acc)) if len(acc) > 1 else np.zeros_like(mean)
        if len(mean) == 1:
            ax.axhline(mean[0], linestyle="--", color="black", linewidth=1, label=name)
            continue
        x = np.arange(1, len(mean) + 1)
        # 10 colours; past them the line style changes, so no two methods look alike
        style = dict(color=f"C{i % 10}", marker="os^Dv"[i % 5], linestyle=("-", "--", ":")[i // 10 % 3])
        ax.errorbar(x, mean, yerr=sem, capsize=2, label=name, **style)
    ax.set(xlabel="tasks learnt", ylabel="accuracy on all tasks", ylim=(-0.02, 1.02), xticks=range(1, n_tasks + 1),
           title=title or "accuracy after each task")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
    _save(fig, path)


def plot_fidelity_map(rows: list[dict], path: Path) -> None:
    """The fidelity map: Jaccard with the exact Top-K set and the fraction of silent inputs, one row per
    mechanism (mode:name), one column per dataset and k; the goal lines of the map are 0.9 (rate) and 0.8
    (spiking)."""
    mechs = list(dict.fromkeys(f"{r['mode']}:{r['mechanism']}" for r in rows))
    cols = list(dict.fromkeys(f"{r['dataset']}\nk={r['k']}" for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(3 + 1.6 * len(cols), 1.2 + 0.45 * len(mechs)), squeeze=False)
    for ax, key, title, cmap in ((axes[0, 0], "jaccard", "Jaccard with the exact Top-K set", "viridis"),
                                 (axes[0, 1], "silent", "inputs with no active cell", "magma_r")):
        grid = np.full((len(mechs), len(cols)), np.nan)
        for r in rows:
            grid[mechs.index(f"{r['mode']}:{r['mechanism']}"), cols.index(f"{r['dataset']}\nk={r['k']}")] = r[key]
        ax.imshow(grid, vmin=0, vmax=1, cmap=cmap, aspect="auto")
        for (i, j), v in np.ndenumerate(grid):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if (v < 0.5) == (key == "jaccard") else "black")
        ax.set(xticks=range(len(cols)), yticks=range(len(mechs)), title=title)
        ax.set_xticklabels(cols, fontsize=8)
        ax.set_yticklabels(mechs if key == "jaccard" else [""] * len(mechs), fontsize=8)
    _save(fig, path)
