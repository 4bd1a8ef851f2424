"""`csdm train`: one learner, one class-incremental stream, one run folder."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from experiments.config import ConfigError, TrainConfig
from experiments.data import load_dataset
from experiments.metrics import summarize
from experiments.plots import plot_accuracy_curves, plot_accuracy_matrix
from experiments.registry import batched_models, get_method, set_up_from_data
from experiments.resources import check_model_memory
from experiments.rundir import RunDir, write_csv, write_json
from experiments.runner import RunRecord, train_stream
from experiments.streams import TaskStream, class_incremental
from experiments.tidy import COLUMNS, learner_rows

CALIBRATION = "calibration.json"  # how a circuit was set up from the data (bridge.calibrate.Calibration)


def task_names(stream: TaskStream) -> list[str]:
    return ["{" + ",".join(map(str, t.classes)) + "}" for t in stream]


def write_results(rundir: RunDir, record: RunRecord, stream: TaskStream, config: TrainConfig,
                  extra: dict | None = None) -> dict:
    """metrics.json, accuracy_matrix.csv and plots/ for the tasks finished so far."""
    names = task_names(stream)
    metrics = {"complete": record.tasks_done == len(stream), "tasks_done": record.tasks_done,
               "tasks": names, **summarize(record.finished_matrix), **record.to_dict(), **(extra or {})}
    write_json(rundir.file(RunDir.METRICS), metrics)
    write_csv(rundir.file("accuracy_matrix.csv"), ["after_task", *names],
              [[name, *row] for name, row in zip(names, record.accuracy_matrix, strict=True)])
    write_csv(rundir.file("metrics.csv"), COLUMNS,
              learner_rows(config.model, names, record.accuracy_matrix, record.tasks_done, metrics,
                           {"dead_fraction": record.dead_fraction}))
    title = f"{config.model} on {stream.name}"
    plot_accuracy_curves(record.curves, names, config.epochs_per_task, rundir.file("plots/accuracy.png"), title)
    plot_accuracy_matrix(record.accuracy_matrix, names, rundir.file("plots/accuracy_matrix.png"), title)
    return metrics


def seed_folder(out: str | Path, seed: int) -> Path:
    """Where a batched run (``n_models`` > 1) writes the results of one of its seeds."""
    return Path(out) / f"seed{seed}"


def write_all_results(rundir: RunDir, record: RunRecord, stream: TaskStream, config: TrainConfig) -> dict:
    """``write_results`` for a run; a batched run writes each seed's results into ``seed_folder``
    (with that seed's config) and, at the top, a metrics.json whose ``per_seed`` holds them all."""
    if record.n_models == 1:
        return write_results(rundir, record, stream, config)
    seeds = []
    for s in range(record.n_models):
        seed_config = config.model_copy(update={"seed": config.seed + s, "n_models": 1})
        seeds.append(write_results(RunDir(seed_folder(rundir.path, config.seed + s)), record.model(s), stream,
                                   seed_config))
    metrics = {"complete": record.tasks_done == len(stream), "tasks_done": record.tasks_done,
               "seeds": [config.seed + s for s in range(record.n_models)], "per_seed": seeds}
    write_json(rundir.file(RunDir.METRICS), metrics)
    return metrics


def run_training(config: TrainConfig, out: str | Path, *, resume: bool = False, overwrite: bool = False,
                 progress: bool = True) -> dict:
    """Train ``config.model`` on the stream of ``config`` into run folder ``out``; return metrics.json.

    With ``config.n_models`` = S > 1 the seeds seed..seed+S-1 train as one batched model (one
    checkpoint in ``out``) and each seed's results go to ``out/seedN`` (``seed_folder``).
    """
    dataset = load_dataset(config.dataset, config.data_dir)
    method = get_method(config.model)
    stream = method.stream(class_incremental(dataset, config.classes_per_task, config.class_order, config.seed))
    check_model_memory(stream.n_inputs, config.n_neurons, stream.n_classes, config.n_models)
    learner = method.build(config, stream.n_inputs, stream.n_classes)
    if getattr(learner, "n_models", 1) != config.n_models:
        raise ConfigError(f"--n-models {config.n_models}: {config.model} trains one seed at a time; batched "
                          f"seeds are implemented for {', '.join(batched_models())}.")
    rundir = RunDir(out)
    checkpoint = rundir.prepare(config.model_dump(), resume=resume, overwrite=overwrite,
                                defaults=TrainConfig().model_dump())
    record = None
    if checkpoint is not None:
        rundir.load_learner(learner, checkpoint["learner"])
        record = RunRecord.from_dict(checkpoint["record"])
    else:
        try:
            calibration = set_up_from_data(learner, config, stream)  # a circuit: from the data (state_dict keeps it)
        except Exception:
            rundir.abandon()
            raise
        if calibration is not None:
            write_json(rundir.file(CALIBRATION), calibration)
            if progress:
                tqdm.write(f"{config.model}: {calibration['parameter']} {calibration['value']:.4g} gives mean k "
                           f"{calibration['achieved_k']:.1f} (target {config.k}) on {calibration['inputs']} training "
                           f"inputs, {calibration['silent_fraction']:.1%} of them with no active cell ({CALIBRATION})")

    def checkpoint(rec: RunRecord) -> None:
        rundir.save_checkpoint({"learner": learner.state_dict(), "record": rec.to_dict()})

    def on_task_end(rec: RunRecord) -> None:
        checkpoint(rec)
        write_all_results(rundir, rec, stream, config)

    try:
        record = train_stream(learner, stream, config.epochs_per_task, eval_every=config.eval_every,
                              record=record, on_task_end=on_task_end, on_checkpoint=checkpoint,
                              progress=progress)
    except Exception:
        rundir.abandon()  # a new run that failed before its first checkpoint leaves nothing behind
        raise
    return write_all_results(rundir, record, stream, config)


def format_summary(metrics: dict) -> str:
    """Plain-text table of R and the summary metrics."""
    names = metrics["tasks"]
    width = max(8, *(len(n) for n in names))
    lines = ["accuracy matrix R[i, j] (row: after training task i; column: test on task j)",
             " " * width + "".join(f"{n:>{width}}" for n in names)]
    for name, row in zip(names, metrics["accuracy_matrix"], strict=True):
        cells = "".join(f"{'':>{width}}" if v is None else f"{v:>{width}.3f}" for v in row)
        lines.append(f"{name:>{width}}{cells}")
    lines.append("")
    lines.append("  ".join(f"{k}={metrics[k]:.3f}" for k in ("acc", "bwt", "forgetting", "learning_acc")))
    dead = metrics["dead_fraction"]
    lines.append("dead_fraction per task: " + ", ".join(f"{d:.3f}" for d in dead))
    return "\n".join(lines)
