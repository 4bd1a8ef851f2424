"""`csdm run`, the main job: the SDMLP and the cerebellar circuit on one class-incremental
stream and seed, both protocols, with accuracy matrices, Top-K fidelity and an HTML report.

Each seed gets a run folder (``OUT/seedN``) with config.json, metrics.json (per learner),
accuracy_matrix.csv, fidelity.json, checkpoint.pt (after every task: ``--resume`` continues),
plots/ and report.html; ``OUT/summary.json`` aggregates the seeds.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ann import SDMLP
from bio import CerebellarCircuit
from bio.circuit import E_REST_MV
from bridge.calibrate import golgi_search
from bridge.paired import PairedRecord, run_paired
from experiments.config import PAIRED_BEFORE, PairedConfig
from experiments.data import load_dataset
from experiments.metrics import summarize
from experiments.plots import plot_accuracy_matrix, plot_fidelity
from experiments.record import e_gaba_entry, plot_e_gaba, plot_raster, recorded_cells
from experiments.registry import given
from experiments.report import paired_report, paired_title, run_provenance
from experiments.resources import check_model_memory
from experiments.rundir import RunDir, atomic_write, write_csv, write_json
from experiments.streams import TaskStream, class_incremental
from experiments.tidy import COLUMNS, learner_rows
from experiments.train import task_names

NAMES = {"sdmlp": "SDMLP", "transfer": "circuit (transfer)", "native": "circuit (native)"}
RASTER_INPUTS = 5  # fidelity inputs recorded for the report's raster at the end of a run
RASTER_RATE_CELLS = 200  # rate mode: granule cells drawn (those with the largest drive), as traces are kept


def _fidelity_sample(stream: TaskStream, n: int, seed: int) -> np.ndarray:
    x = np.concatenate([t.x_test for t in stream])
    rows = np.random.default_rng(seed).choice(len(x), size=min(n, len(x)), replace=False)
    return x[np.sort(rows)]


def _calibration_sample(stream: TaskStream, n: int, seed: int) -> np.ndarray:
    """Training inputs of every task (no labels) on which the Golgi cell is tuned to k."""
    x = np.concatenate([t.x_train for t in stream])
    return x[np.sort(np.random.default_rng(seed + 1).choice(len(x), size=min(n, len(x)), replace=False))]


def _transfer_integration(cfg: PairedConfig) -> str:
    """The transfer circuit's rate_integration: as given, else implicit (the mature circuit's Golgi loop solved each
    step; bio.golgi.ImplicitCoupling), explicit where the target runs no Python per step (cpp_standalone)."""
    if cfg.rate_integration is not None:
        return cfg.rate_integration
    return "explicit" if cfg.codegen_target == "cpp_standalone" else "implicit"


def _learners(cfg: PairedConfig, stream: TaskStream, seed: int) -> tuple[SDMLP, dict[str, CerebellarCircuit]]:
    check_model_memory(stream.n_inputs, cfg.n_neurons, stream.n_classes, 1 + (cfg.protocol == "both"))
    ann = SDMLP(stream.n_inputs, cfg.n_neurons, stream.n_classes, k=cfg.k, anneal_epochs=cfg.anneal_epochs,
                lr=cfg.lr, batch_size=cfg.batch_size, device=cfg.device, seed=seed)
    protocols = ("transfer", "native") if cfg.protocol == "both" else (cfg.protocol,)
    # learning rules and read-out apply to the native circuit: the transfer one runs the SDMLP's weights as they are
    learning = given(lr_address=cfg.lr_address, value_rule=cfg.value_rule, purkinje_norm=cfg.purkinje_norm)
    circuits = {p: CerebellarCircuit(stream.n_inputs, cfg.n_neurons, stream.n_classes, mode=cfg.mode, seed=seed,
                                   smoothing=cfg.smoothing, codegen_target=cfg.codegen_target,
                                   **given(granule_threshold=cfg.granule_threshold,
                                           feedforward_inhibition=cfg.feedforward_inhibition,
                                           golgi_depression=cfg.golgi_depression),
                                   n_workers=cfg.bio_workers, golgi_model=cfg.golgi_model,
                                   **(learning if p == "native" else {}),
                                   **({"rate_integration": _transfer_integration(cfg)}
                                      if p == "transfer" and cfg.mode == "rate" else {}))
                for p in protocols}
    if "transfer" in circuits:
        circuits["transfer"].mature()  # the SDMLP's Top-K is the mature, fully inhibitory Golgi cell
    return ann, circuits


def _unset_options(cfg: PairedConfig, circuits: dict[str, CerebellarCircuit]) -> dict[str, str]:
    """What the run's circuits resolved the unset circuit options of ``cfg`` to, as the report shows them: a
    mode-dependent default, 'set from the data' where calibration moves it, or 'not used' where the mode has none."""
    native, any_circuit = circuits.get("native"), next(iter(circuits.values()))
    texts = {"golgi_depression": f"default for {cfg.mode} mode ({any_circuit.golgi_depression:g})",
             "rate_integration": ("not used (rate mode only)" if cfg.mode == "spiking" else
                                  f"{_transfer_integration(cfg)} (transfer circuit)" if "transfer" in circuits else
                                  f"default ({native.rate_integration})")}
    for name in ("granule_threshold", "feedforward_inhibition"):
        texts[name] = ("not used (rate mode only)" if cfg.mode == "spiking" else
                       "set from the data (calibration below)" if cfg.calibrate else
                       f"default ({getattr(any_circuit, name):g})")
    for name in ("lr_address", "value_rule", "purkinje_norm"):
        texts[name] = f"default ({getattr(native, name)})" if native is not None else "not used (no native circuit)"
    return {name: text for name, text in texts.items() if getattr(cfg, name) is None}


def _write(rundir: RunDir, record: PairedRecord, stream: TaskStream, cfg: PairedConfig,
           started: float | None = None, e_gaba: dict[str, list[dict]] | None = None,
           unset: dict[str, str] | None = None) -> dict:
    names = task_names(stream)
    done = record.tasks_done
    learners = {}
    for key, R in record.accuracy.items():
        learners[NAMES[key]] = {**summarize(R[:done, :done]), "accuracy_matrix": R.tolist(),
                                "dead_fraction": record.dead_fraction.get(key, [])}
    metrics = {"complete": done == len(stream), "tasks_done": done, "tasks": names, "learners": learners}
    write_json(rundir.file(RunDir.METRICS), metrics)
    fidelity = {p: recs for p, recs in record.fidelity.items()}
    write_json(rundir.file("fidelity.json"), fidelity)

    write_csv(rundir.file("accuracy_matrix.csv"), ["learner", "after_task", *names],
              [[NAMES[key], t, *row] for key, R in record.accuracy.items() for t, row in zip(names, R, strict=True)])
    fidelity_keys = ("jaccard_mean", "effective_k_mean", "effective_k_sd", "readout_agreement", "spearman_mean")
    write_csv(rundir.file("metrics.csv"), COLUMNS,
              [row for key, R in record.accuracy.items()
               for row in learner_rows(NAMES[key], names, R, done, learners[NAMES[key]],
                                       {"dead_fraction": record.dead_fraction.get(key, []),
                                        **{f: [rec[f] for rec in record.fidelity.get(key, [])]
                                           for f in fidelity_keys if key in record.fidelity}})])
    figures = []
    for key, R in record.accuracy.items():
        path = rundir.file(f"plots/accuracy_matrix_{key}.png")
        plot_accuracy_matrix(R, names, path, NAMES[key])
        figures.append(path)
    if record.fidelity:
        path = rundir.file("plots/fidelity.png")
        plot_fidelity(record.fidelity, cfg.k, path)
        figures.insert(0, path)
    if e_gaba:
        write_json(rundir.file("e_gaba.json"), e_gaba)
        plot_e_gaba(e_gaba, rundir.file("plots/e_gaba.png"), E_REST_MV)
        figures.append(rundir.file("plots/e_gaba.png"))
    figures.append(rundir.file("plots/raster.png"))  # once the run is complete (_raster)
    prov = run_provenance(rundir.path)
    report = paired_report(paired_title(cfg.dataset, len(stream), cfg.classes_per_task, cfg.mode, prov.get("seed", 0)),
                           cfg.model_dump(), metrics, fidelity, record.calibration, figures, provenance=prov,
                           runtime_s=None if started is None else time.perf_counter() - started, unset=unset,
                           names=NAMES)
    atomic_write(rundir.file("report.html"), lambda f: f.write(report))
    return metrics


def run_seed(cfg: PairedConfig, dataset, seed: int, rundir: RunDir, *, resume: bool, overwrite: bool,
             progress: bool) -> dict:
    """One seed of ``csdm run`` into ``rundir``; checkpoint and results after every task."""
    started = time.perf_counter()
    stream = class_incremental(dataset, cfg.classes_per_task, cfg.class_order, seed)
    ann, circuits = _learners(cfg, stream, seed)
    unset = _unset_options(cfg, circuits)
    checkpoint = rundir.prepare({**cfg.model_dump(), "seed": seed}, resume=resume, overwrite=overwrite,
                                defaults={**PairedConfig().model_dump(), **PAIRED_BEFORE})
    record = None
    names = task_names(stream)
    e_gaba = {p: [e_gaba_entry("start", c.e_gaba_mV())] for p, c in circuits.items()}
    if checkpoint is not None:
        e_gaba = checkpoint.get("e_gaba", e_gaba)
        ann.load_state_dict(checkpoint["sdmlp"])
        for p, c in circuits.items():
            rundir.load_learner(c, checkpoint["circuits"][p])
            if "golgi_threshold" in checkpoint:  # written before the circuit's state held its Golgi settings
                c.golgi_threshold = checkpoint["golgi_threshold"][p]
        record = PairedRecord(**checkpoint["record"])
    bar = tqdm(total=len(stream), initial=record.tasks_done if record else 0, desc=f"seed {seed}", unit="task",
               disable=not progress)

    def on_task_end(rec: PairedRecord) -> None:
        for p, c in circuits.items():
            e_gaba[p].append(e_gaba_entry(names[rec.tasks_done - 1], c.e_gaba_mV()))
        rundir.save_checkpoint({"sdmlp": ann.state_dict(),
                                "circuits": {p: c.state_dict() for p, c in circuits.items()},
                                "record": dataclasses.asdict(rec), "e_gaba": e_gaba})
        _write(rundir, rec, stream, cfg, started, e_gaba, unset)
        bar.update(1)

    try:
        record = run_paired(ann, circuits, stream.tasks, cfg.epochs_per_task, k=cfg.k,
                            fidelity_x=_fidelity_sample(stream, cfg.fidelity_inputs, seed), bio_epochs=cfg.bio_epochs,
                            calibration_x=(_calibration_sample(stream, cfg.fidelity_inputs, seed) if cfg.calibrate
                                           else None),
                            golgi_search=golgi_search(cfg.mode, cfg.golgi_model),
                            record=record, on_task_end=on_task_end, on_step=bar.set_postfix_str)
        _raster(circuits, _fidelity_sample(stream, RASTER_INPUTS, seed), rundir.file("plots/raster.png"))
    except Exception:
        rundir.abandon()  # a new run that failed before its first checkpoint leaves nothing behind
        raise
    finally:
        bar.close()
        for circuit in circuits.values():
            circuit.close()  # stop worker processes
    return {"seed": seed, "folder": str(rundir.path),
            "metrics": _write(rundir, record, stream, cfg, started, e_gaba, unset), "fidelity": record.fidelity}


def _raster(circuits: dict[str, CerebellarCircuit], x: np.ndarray, path: Path) -> None:
    """The report's raster: the circuit (native if there is one) presented ``x`` after the last task. Spiking:
    the spikes of every granule and Golgi cell; rate: Eq. 13's activity of the RASTER_RATE_CELLS granule cells
    with the largest drive. None with the cpp_standalone target, which cannot take monitors."""
    protocol = "native" if "native" in circuits else "transfer"
    circuit = circuits[protocol]
    if circuit.codegen_target == "cpp_standalone":
        return
    if circuit.mode == "spiking":
        rec = circuit.record(x, variables={})
    else:
        cells = recorded_cells(x, circuit.address_, RASTER_RATE_CELLS)
        rec = circuit.record(x, variables={"granule": ("act",)}, cells={"granule": cells})
    plot_raster(rec, path, f"circuit ({protocol}) after the last task, {len(x)} test inputs")


def run_pair(cfg: PairedConfig, out: str | Path, *, resume: bool = False, overwrite: bool = False,
             progress: bool = True) -> list[dict]:
    """Run every seed of ``cfg`` into ``out``; return per seed its metrics and fidelity."""
    dataset = load_dataset(cfg.dataset, cfg.data_dir)
    out = Path(out)
    results = [run_seed(cfg, dataset, seed, RunDir(out / f"seed{seed}"), resume=resume, overwrite=overwrite,
                        progress=progress) for seed in range(cfg.seeds)]
    write_json(out / "summary.json", summarize_seeds(results))
    return results


def summarize_seeds(results: list[dict]) -> dict:
    """Mean and sd over seeds of ACC/BWT/forgetting per learner and final fidelity per protocol."""
    summary: dict = {"seeds": len(results), "learners": {}, "fidelity_last_task": {}}
    for name in results[0]["metrics"]["learners"]:
        for key in ("acc", "bwt", "forgetting", "learning_acc"):
            v = [r["metrics"]["learners"][name][key] for r in results]
            summary["learners"].setdefault(name, {})[key] = {"mean": float(np.mean(v)), "sd": float(np.std(v))}
    for protocol in results[0]["fidelity"]:
        for key in ("jaccard_mean", "effective_k_mean", "readout_agreement", "spearman_mean"):
            v = [r["fidelity"][protocol][-1][key] for r in results]
            summary["fidelity_last_task"].setdefault(protocol, {})[key] = {"mean": float(np.mean(v)),
                                                                          "sd": float(np.std(v))}
    return summary


def format_paired(results: list[dict]) -> str:
    """Console summary: learners side by side, then fidelity per task, for every seed."""
    lines = []
    for r in results:
        m = r["metrics"]
        lines.append(f"seed {r['seed']}  ({r['folder']})")
        lines.append(f"{'learner':<22}{'ACC':>8}{'BWT':>8}{'forget':>8}{'learn':>8}")
        for name, s in m["learners"].items():
            lines.append(f"{name:<22}{s['acc']:>8.3f}{s['bwt']:>8.3f}{s['forgetting']:>8.3f}{s['learning_acc']:>8.3f}")
        for protocol, recs in r["fidelity"].items():
            lines.append(f"Top-K fidelity, circuit ({protocol}): task  jaccard  k_eff(mean+-sd)  readout_agree")
            for f in recs:
                lines.append(f"{'':>38}{f['task']:>4}{f['jaccard_mean']:>9.3f}"
                             f"{f['effective_k_mean']:>9.1f}+-{f['effective_k_sd']:<6.1f}{f['readout_agreement']:>10.3f}")
        lines.append("")
    return "\n".join(lines)
