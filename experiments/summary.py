"""`csdm summary`: mean ± SEM over the seeds of finished run folders trained separately.

A long protocol (500 epochs per task) is often trained one seed at a time, resumed across days,
some seeds batched (``--n-models``) and some not. This reads those run folders back, one row per
seed, refuses folders whose settings differ in anything but the seed and how the run was executed,
and reports ACC, BWT, forgetting and learning accuracy as mean ± SEM over the seeds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from experiments.config import TrainConfig
from experiments.metrics import mean_sem
from experiments.rundir import RunDir

# settings that choose where or how a run executed, or which seed it is, not what it measures
EXECUTION = ("seed", "n_models", "data_dir", "device", "eval_every", "codegen_target", "bio_workers")
REPORTED = ("acc", "bwt", "forgetting", "learning_acc")


def _read(folder: Path) -> tuple[dict[str, Any], list[tuple[int, dict[str, Any]]]]:
    """(config, [(seed, metrics), ...]) of one finished run folder, batched or not."""
    rundir = RunDir(folder)
    config_path, metrics_path = rundir.file(RunDir.CONFIG), rundir.file(RunDir.METRICS)
    if not config_path.exists() or not metrics_path.exists():
        raise FileNotFoundError(f"{folder} is not a run folder (no {RunDir.CONFIG} or {RunDir.METRICS}).")
    # runs made before a setting existed stored none for it: they ran with its default
    config = {**TrainConfig().model_dump(), **json.loads(config_path.read_text())["config"]}
    metrics = json.loads(metrics_path.read_text())
    if not metrics.get("complete"):
        raise ValueError(f"{folder} is unfinished ({metrics.get('tasks_done', 0)} tasks done): finish it with "
                         "its command plus --resume, or leave it out.")
    if "per_seed" in metrics:  # a batched run (--n-models): one entry per seed
        return config, list(zip(metrics["seeds"], metrics["per_seed"], strict=True))
    return config, [(config["seed"], metrics)]


def summarise_runs(folders: list[str | Path]) -> dict[str, Any]:
    """Per-seed and mean ± SEM metrics of the finished run folders ``folders``.

    Returns {"settings": the shared settings, "seeds": [{"seed", "folder", acc, bwt, ...}, ...],
    "<metric>_mean" / "<metric>_sem" for acc, bwt, forgetting, learning_acc}. Raises ValueError when
    the folders differ in a setting other than those of ``EXECUTION``, or repeat a seed.
    """
    if not folders:
        raise ValueError("give at least one run folder.")
    reference: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = []
    for folder in map(Path, folders):
        config, seeds = _read(folder)
        settings = {k: v for k, v in config.items() if k not in EXECUTION}
        if reference is None:
            reference, first = settings, folder
        differ = sorted(k for k in reference.keys() | settings.keys() if reference.get(k) != settings.get(k))
        if differ:
            detail = ", ".join(f"{k}: {reference.get(k)!r} vs {settings.get(k)!r}" for k in differ)
            raise ValueError(f"{folder} was trained with other settings than {first} ({detail}); summarise one "
                             "protocol at a time.")
        rows += [{"seed": seed, "folder": str(folder), **{k: m[k] for k in REPORTED}} for seed, m in seeds]
    seen = [r["seed"] for r in rows]
    if len(set(seen)) != len(seen):
        raise ValueError(f"seed repeated among the run folders: {sorted(seen)}.")
    summary: dict[str, Any] = {"settings": reference, "seeds": sorted(rows, key=lambda r: r["seed"])}
    for key in REPORTED:
        summary[f"{key}_mean"], summary[f"{key}_sem"] = mean_sem([r[key] for r in rows])
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """Markdown: one row per seed, then the mean ± SEM row."""
    lines = ["| seed | ACC | BWT | forgetting | learning accuracy | run folder |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['seed']} | {r['acc']:.3f} | {r['bwt']:.3f} | {r['forgetting']:.3f} | {r['learning_acc']:.3f} "
              f"| {r['folder']} |" for r in summary["seeds"]]
    cells = [f"{summary[f'{k}_mean']:.3f} ± {summary[f'{k}_sem']:.3f}" for k in REPORTED]
    lines.append(f"| mean ± SEM ({len(summary['seeds'])} seeds) | " + " | ".join(cells) + " | |")
    return "\n".join(lines) + "\n"
