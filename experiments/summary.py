"""`csdm summary`: mean ± SEM over the seeds of finished run folders trained separately.

A long protocol (500 epochs per task) is often trained one seed at a time, resumed across days,
some seeds batched (``--n-models``) and some not. This reads those run folders back, one row per
seed, refuses folders trained under another protocol, and reports ACC, BWT, forgetting and learning
accuracy as mean ± SEM over the seeds.

The protocol is what decides the numbers: the model, the stream (dataset, its file for ``npz``,
classes per task, order), the sizes and epochs, and every setting the model reads
(``registry.Method.settings``; for the circuit models that includes the worker count, which sets the
batch). How a run executed (device, data folder of a named dataset, ``--n-models``, Brian2 target,
``--eval-every``: spiking mode's read-outs draw their spike trains from a stream made from the seed,
epoch and inputs, so they neither change training nor depend on earlier read-outs) is not part of it. An option
given at its default value counts as different from one left out (None: the method's own default), as
in ``csdm table``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from experiments.config import TrainConfig
from experiments.metrics import format_mean_sem, mean_sem
from experiments.registry import get_method
from experiments.rundir import RunDir

STREAM = ("model", "dataset", "n_neurons", "k", "epochs_per_task", "classes_per_task", "class_order",
          "rectify_inputs")
REPORTED = ("acc", "bwt", "forgetting", "learning_acc")


def protocol(config: dict[str, Any]) -> dict[str, Any]:
    """The settings of a stored run config that decide its results (see the module docstring)."""
    names = [*STREAM, *get_method(config["model"]).settings]
    if config["dataset"] == "npz":
        names.append("data_dir")  # the file is the dataset
    return {name: config.get(name) for name in names}


def _read(folder: Path) -> tuple[dict[str, Any], list[tuple[int, dict[str, Any]]]]:
    """(protocol, [(seed, metrics), ...]) of one finished run folder, batched or not."""
    rundir = RunDir(folder)
    if not rundir.file(RunDir.CONFIG).exists() and (folder.parent / RunDir.CONFIG).exists():
        raise FileNotFoundError(f"{folder} holds one seed of the batched run {folder.parent}; pass {folder.parent}.")
    if not rundir.file(RunDir.CONFIG).exists() or not rundir.file(RunDir.METRICS).exists():
        raise FileNotFoundError(f"{folder} is not a run folder (no {RunDir.CONFIG} or {RunDir.METRICS}).")
    config = rundir.stored_config(TrainConfig().model_dump())
    try:
        metrics = json.loads(rundir.file(RunDir.METRICS).read_text())
        if isinstance(metrics, dict) and "learners" in metrics:
            raise ValueError(f"{folder} is a `csdm run` folder (SDMLP and circuit side by side); csdm summary reads "
                             f"`csdm train` folders, and {folder.parent / 'summary.json'} already aggregates the "
                             "seeds of a csdm run.")
        if not metrics.get("complete"):
            raise ValueError(f"{folder} is unfinished ({metrics.get('tasks_done', 0)} tasks done): finish it with "
                             "its command plus --resume, or leave it out.")
        if "per_seed" in metrics:  # a batched run (--n-models): one entry per seed
            if len(metrics["seeds"]) != len(metrics["per_seed"]):
                raise KeyError("per_seed")
            seeds = list(zip(metrics["seeds"], metrics["per_seed"], strict=True))
        else:
            seeds = [(config["seed"], metrics)]
        return protocol(config), [(seed, {k: m[k] for k in REPORTED}) for seed, m in seeds]
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{folder / RunDir.METRICS} is damaged ({type(exc).__name__}: {exc}).") from None


def summarise_runs(folders: list[str | Path]) -> dict[str, Any]:
    """Per-seed and mean ± SEM metrics of the finished run folders ``folders``.

    Returns {"protocol": the shared settings, "seeds": [{"seed", "folder", acc, bwt, ...}, ...],
    "<metric>_mean" / "<metric>_sem" for acc, bwt, forgetting, learning_acc}. Raises ValueError when
    the folders were trained under different protocols or repeat a seed.
    """
    if not folders:
        raise ValueError("give at least one run folder.")
    first: tuple[Path, dict[str, Any]] | None = None
    rows: list[dict[str, Any]] = []
    for folder in map(Path, folders):
        settings, seeds = _read(folder)
        if first is None:
            first = folder, settings
        reference = first[1]
        differ = sorted(k for k in reference.keys() | settings.keys() if reference.get(k) != settings.get(k))
        if differ:
            detail = ", ".join(f"{k}: {reference.get(k)!r} vs {settings.get(k)!r}" for k in differ)
            raise ValueError(f"{folder} was trained under another protocol than {first[0]} ({detail}); summarise "
                             "one protocol at a time.")
        rows += [{"seed": seed, "folder": str(folder), **m} for seed, m in seeds]
    seen = sorted(r["seed"] for r in rows)
    if len(set(seen)) != len(seen):
        raise ValueError(f"seed repeated among the run folders (a batched folder already holds its seedN "
                         f"subfolders' results): seeds {seen}.")
    summary: dict[str, Any] = {"protocol": first[1], "seeds": sorted(rows, key=lambda r: r["seed"])}
    for key in REPORTED:
        summary[f"{key}_mean"], summary[f"{key}_sem"] = mean_sem([r[key] for r in rows])
    return summary


def format_seed_table(summary: dict[str, Any]) -> str:
    """Markdown: the protocol, one row per seed, then the mean ± SEM row."""
    settings = ", ".join(f"{k}={v}" for k, v in summary["protocol"].items() if v is not None)
    n = len(summary["seeds"])
    lines = [f"protocol: {settings}", "",
             "| seed | ACC | BWT | forgetting | learning accuracy | run folder |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['seed']} | {r['acc']:.3f} | {r['bwt']:.3f} | {r['forgetting']:.3f} | {r['learning_acc']:.3f} "
              f"| {r['folder']} |" for r in summary["seeds"]]
    cells = [format_mean_sem(summary[f"{k}_mean"], summary[f"{k}_sem"]) for k in REPORTED]
    lines.append(f"| mean ± SEM ({n} seed{'s' if n > 1 else ''}) | " + " | ".join(cells) + " | |")
    return "\n".join(lines) + "\n"
