"""`csdm table`: every method of the paper's Tables 7/8 (or the Table 2 ablations) on one
class-incremental stream, several seeds, one comparison table beside the published numbers.

Each (row, seed) is an ordinary run folder OUT/ROW/seedN trained by ``run_training`` (so an
interrupted table resumes where it stopped: finished runs are read back, unfinished ones
continue from their last task). Rows whose learner batches seeds (the SDMLP family) train all
seeds as one stacked model whose run folder is OUT/ROW, still with results in OUT/ROW/seedN.
Writes OUT/table.csv, OUT/table.md and OUT/plots/accuracy_over_tasks.png (mean accuracy on all
tasks after each task, Fig. 3 style).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from experiments.config import ConfigError, TrainConfig, build_config
from experiments.metrics import format_mean_sem, mean_sem
from experiments.plots import plot_methods_over_tasks
from experiments.published import lookup
from experiments.registry import describe_settings, get_method, tuned_reg_coef
from experiments.rundir import RunDir, atomic_write, write_csv
from experiments.train import run_training


class Row(NamedTuple):
    name: str  # row label and folder name
    model: str  # registry name
    overrides: dict[str, Any]  # config values this row changes
    sdm: bool = False  # an SDMLP row of Tables 7/8: trained with the SDM protocol chosen by --sdm-protocol


SDM_PROTOCOLS = ("reference", "options")
REFERENCE_GABA_S = 5e6  # the reference code's s of Eq. 12 for its 500 epochs per task
REFERENCE_EPOCHS = 500
_DEFAULT_EPOCHS = TrainConfig.model_fields["epochs_per_task"].default


def reference_sdm_protocol(epochs_per_task: int) -> dict[str, Any]:
    """The reference code's SDMLP protocol, scaled to ``epochs_per_task``.

    Plain SGD, lr 0.05, batch 128, gradient norm clipped at 1.0, no k annealing, and the full GABA switch
    (Eq. 12) with s = 5e6 x epochs_per_task / 500: the reference's s for its 500 epochs per task,
    scaled so that the switch completes at the same fraction of the budget. On Split MNIST it gave
    ACC 0.607 (k = 10) and 0.810 (k = 1) at 500 epochs, and 0.364 (k = 10, s = 1e5) at 10 epochs
    where k annealing gave 0.251 (README, Results).
    """
    return {**_REFERENCE, "anneal_epochs": 0, "gaba_s": REFERENCE_GABA_S * epochs_per_task / REFERENCE_EPOCHS}


# Tables 7/8 (Split MNIST / FashionMNIST). FlyModel: the "k" printed beside it in Table 7 (64 at 1K,
# 32 at 10K) is m, the inputs each Kenyon cell samples (App. G.2 varies "the number of projection
# neuron connections"); the authors' FlyModel notebook keeps the top 1 % of cells, which the
# default k = 10 of 1,000 neurons is. The row keeps the defaults k = 10, m = 32: ACC 0.763 on
# Split MNIST (m = 64: 0.745; paper 0.77) and 0.634 on Fashion-MNIST (m = 64: 0.597; paper 0.67).
# EWC, MAS, SI train with the reference code's protocol (plain SGD, lr 0.05, batch 128, gradient norm
# clipped at 1.0) and with the coefficients re-tuned for our importance estimates
# (registry.tuned_reg_coef of the row's model and dataset, written into each run's config so that its
# run folder records it).
# L2 keeps Adam, lr 1e-3 (Hsu et al. 2018's setup; not re-swept).
_REFERENCE = {"optimizer": "sgd", "lr": 0.05, "batch_size": 128, "grad_clip": 1.0}
_HSU = {"optimizer": "adam", "lr": 0.001}
ALL = [
    Row("relu", "relu", {}),
    Row("topk", "topk", {}),
    Row("l2", "l2", _HSU),
    Row("dropout", "dropout", {}),
    Row("ewc", "ewc", _REFERENCE),
    Row("mas", "mas", _REFERENCE),
    Row("si", "si", _REFERENCE),
    Row("flymodel", "flymodel", {}),
    Row("sdmlp-k1", "sdmlp", {"k": 1}, sdm=True),  # the paper reports the SDMLP at k = 1 and k = 10
    Row("sdmlp", "sdmlp", {}, sdm=True),
    Row("sdmlp+ewc", "sdmlp+ewc", {}, sdm=True),
    Row("sdmlp+mas", "sdmlp+mas", {}, sdm=True),
    Row("oracle", "oracle", {}),
]
# Table 2: one SDMLP option changed at a time ("sgd" is the SDMLP itself).
ABLATIONS = [
    Row("sgd", "sdmlp", {}),
    Row("sgdm", "sdmlp", {"optimizer": "sgdm"}),
    Row("adam", "sdmlp", {"optimizer": "adam"}),
    Row("rmsprop", "sdmlp", {"optimizer": "rmsprop"}),
    Row("linear-mask", "sdmlp", {"topk_mode": "mask"}),
    Row("no-anneal", "sdmlp", {"anneal_epochs": 0}),
    Row("negative-weights", "sdmlp", {"nonnegative": False}),
    Row("no-l2-norm", "sdmlp", {"l2_normalize": False}),
    Row("hidden-bias", "sdmlp", {"hidden_bias": True}),
    Row("output-bias", "sdmlp", {"output_bias": True}),
]
COLUMNS = ["method", "model", "seeds", "acc_mean", "acc_sem", "bwt_mean", "bwt_sem", "forgetting_mean",
           "forgetting_sem", "paper_acc", "delta_vs_paper", "paper_source", "epochs_per_task", "n_neurons", "k",
           "protocol"]
TOLERANCE = 0.05  # |ours - paper| above this is called a miss in the table's notes


def select_rows(methods: str) -> list[Row]:
    """'all' | 'ablations' | comma-separated registry names."""
    if methods == "all":
        return ALL
    if methods == "ablations":
        return ABLATIONS
    by_name = {r.name: r for r in ALL}
    names = [m.strip() for m in methods.split(",") if m.strip()]
    unknown = [m for m in names if m not in by_name]
    if unknown or not names:
        raise ConfigError(f"--methods: unknown {unknown or methods!r}; use all, ablations or a comma-separated "
                          f"list of {', '.join(by_name)}.")
    return [by_name[m] for m in names]


def _paper_row(row: Row, model_k: int, dataset: str, ablations: bool):
    if ablations:
        return lookup("cifar10-embeddings", row.name)
    return lookup(dataset, f"sdmlp k={model_k}" if row.model == "sdmlp" else row.name)


def _finished_or_resumed(config: TrainConfig, folder: Path, progress: bool) -> dict[str, Any]:
    """metrics.json of the run in ``folder``: read back if complete (and made with ``config``: a table
    rerun with other options into the same OUT is refused, not filled with the old results), else
    trained (resuming)."""
    rundir = RunDir(folder)
    if rundir.file(RunDir.CONFIG).exists():
        rundir.check_settings(config.model_dump(), TrainConfig().model_dump(),
                              hint="choose another --out for other options, or delete that folder")
    metrics_path = rundir.file(RunDir.METRICS)
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    if metrics.get("complete"):
        return metrics
    return run_training(config, folder, resume=rundir.file(RunDir.CONFIG).exists(), progress=progress)


def row_settings(row: Row, dataset: str, data_dir: str | None, options: dict[str, Any] | None,
                 sdm_protocol: str) -> dict[str, Any]:
    """The run settings of ``row`` on ``dataset``: the options, the row's own settings over them, the
    regulariser coefficient tuned for the model on that dataset (``registry.tuned_reg_coef``, so that
    each run folder records it) and, for an SDMLP row under ``sdm_protocol`` "reference", the
    reference protocol at the table's epochs per task."""
    values = {**(options or {}), **row.overrides, "model": row.model, "dataset": dataset, "data_dir": data_dir}
    if (coef := tuned_reg_coef(row.model, dataset)) is not None:
        values["reg_coef"] = coef
    if row.sdm and sdm_protocol == "reference":
        values.update(reference_sdm_protocol(values.get("epochs_per_task", _DEFAULT_EPOCHS)))
    return values


def run_table(dataset: str, data_dir: str | None, methods: str, seeds: int, out: str | Path,
              options: dict[str, Any] | None = None, progress: bool = True,
              batch_seeds: bool = True, sdm_protocol: str = "reference") -> list[dict[str, Any]]:
    """Train (or resume) every row x seed, then write table.csv, table.md and the plot; return the rows.

    ``sdm_protocol`` "reference" trains the SDMLP rows of Tables 7/8 with
    :func:`reference_sdm_protocol` at the table's epochs per task (over the options); "options"
    trains them with the options as given (e.g. k annealing). The ablations always use the options.

    With ``batch_seeds`` the seeds of a row whose learner supports it (``registry.batched_models``)
    train as one batched model in OUT/ROW (per-seed results in OUT/ROW/seedN, the same place as
    sequential runs); other rows train one run folder OUT/ROW/seedN per seed, and so does a row
    whose seeds were started one by one in OUT before (read back or resumed, not retrained).
    """
    if not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"--seeds must be an int >= 1. Got {seeds!r}.")
    if sdm_protocol not in SDM_PROTOCOLS:
        raise ConfigError(f"--sdm-protocol must be one of {', '.join(SDM_PROTOCOLS)}. Got {sdm_protocol!r}.")
    rows = select_rows(methods)
    if sdm_protocol == "reference" and "anneal_epochs" in (options or {}) and any(r.sdm for r in rows):
        raise ConfigError("--anneal-epochs: the SDMLP rows train with the reference protocol (GABA switch, no "
                          "annealing); add --sdm-protocol options to anneal k instead.")
    out = Path(out)
    results, curves = [], {}
    for row in rows:
        values = row_settings(row, dataset, data_dir, options, sdm_protocol)
        config = build_config({**values, "seed": 0})
        one_by_one = (out / row.name / "seed0" / RunDir.CONFIG).exists()  # trained with --sequential-seeds before
        if (batch_seeds and seeds > 1 and get_method(row.model).batched and config.class_order == "sequential"
                and not one_by_one):
            batched = config.model_copy(update={"n_models": seeds})
            runs = _finished_or_resumed(batched, out / row.name, progress)["per_seed"]
        else:
            runs = [_finished_or_resumed(build_config({**values, "seed": seed}), out / row.name / f"seed{seed}",
                                         progress) for seed in range(seeds)]
        results.append(_summarise(row, config, runs, dataset, methods == "ablations"))
        curves[row.name] = [np.array(m["accuracy_matrix"], dtype=float).mean(axis=1) for m in runs]
    write_csv(out / "table.csv", COLUMNS, [[r[c] for c in COLUMNS] for r in results])
    atomic_write(out / "table.md", lambda f: f.write(format_markdown(results, dataset, methods)))
    plot_methods_over_tasks(curves, out / "plots" / "accuracy_over_tasks.png", f"{methods} on split {dataset}")
    return results


def _summarise(row: Row, config, runs: list[dict], dataset: str, ablations: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"method": row.name, "model": row.model, "seeds": len(runs)}
    for key in ("acc", "bwt", "forgetting"):
        out[f"{key}_mean"], out[f"{key}_sem"] = mean_sem([m[key] for m in runs])
    paper = _paper_row(row, config.k, dataset, ablations)
    out["paper_acc"] = paper.acc if paper else float("nan")
    # Table 2 is on CIFAR-10 embeddings, a dataset we do not train on: its column gives the order of the
    # ablations to compare with ours, and no difference or miss is computed against it
    out["delta_vs_paper"] = float("nan") if ablations else out["acc_mean"] - out["paper_acc"]
    out["paper_source"] = f"{paper.source}; {paper.setting}".rstrip("; ") if paper else ""
    out["epochs_per_task"] = 1 if row.model == "flymodel" else config.epochs_per_task
    out["n_neurons"], out["k"] = config.n_neurons, config.k
    out["protocol"] = describe_settings(config)
    return out


def format_markdown(results: list[dict[str, Any]], dataset: str, methods: str) -> str:
    """The table as Markdown: ours (mean ± SEM over seeds) beside the paper's number."""

    def pm(r: dict, key: str) -> str:
        return format_mean_sem(r[f"{key}_mean"], r[f"{key}_sem"])

    lines = [f"# Split {dataset}: {methods}", "",
             "ACC, BWT, forgetting: mean ± SEM over seeds (class-incremental, final accuracy matrix row).", "",
             "| method | ACC (ours) | ACC (paper) | ours - paper | BWT | forgetting | seeds | epochs/task | neurons "
             "| k | protocol | paper source |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    misses = []
    for r in results:
        paper = "—" if np.isnan(r["paper_acc"]) else f"{r['paper_acc']:.2f}"
        delta = "—" if np.isnan(r["delta_vs_paper"]) else f"{r['delta_vs_paper']:+.3f}"
        lines.append(f"| {r['method']} | {pm(r, 'acc')} | {paper} | {delta} | {pm(r, 'bwt')} | {pm(r, 'forgetting')} "
                     f"| {r['seeds']} | {r['epochs_per_task']} | {r['n_neurons']} | {r['k']} | {r['protocol']} "
                     f"| {r['paper_source']} |")
        if abs(r["delta_vs_paper"]) > TOLERANCE:  # NaN (no published number) compares False
            misses.append(f"- **{r['method']}** misses the paper by {r['delta_vs_paper']:+.3f} "
                          f"(ours {r['acc_mean']:.3f}, paper {r['paper_acc']:.2f}). Tried here: {r['epochs_per_task']} "
                          f"epochs/task, {r['protocol'] or 'defaults'}; the paper's setting: "
                          f"{r['paper_source'] or 'not stated'}.")
    lines += ["", "## Notes", "",
              f"Rows more than {TOLERANCE} from the published number ({len(misses)} of {len(results)}); the "
              "README's Results section lists the budgets and coefficient sweeps tried for each:", "",
              *(misses or ["- none"]),
              "", "protocol: the training settings each method reads; one left out is off or the method's default."]
    if methods == "ablations":
        lines += ["", "ACC (paper): Table 2, measured on CIFAR-10 embeddings, not on this dataset; compare the order "
                  "of the rows, not the numbers (no difference is computed)."]
    return "\n".join(lines) + "\n"
