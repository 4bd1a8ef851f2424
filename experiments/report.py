"""A self-contained HTML report of a paired run (``csdm run``): a human title, provenance (seed, git revision,
date, runtime), the learners' metrics with their definitions, captioned figures (PNG embedded as base64,
learning curves drawn from the accuracy matrices), Top-K fidelity, Golgi calibration and the resolved
configuration. Readable offline in any browser; one file."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DATASET_NAMES = {"digits": "Split digits", "mnist": "Split MNIST", "fashion-mnist": "Split Fashion-MNIST",
                 "npz": "Split npz data"}

# What every number in the report means. R[i, j]: accuracy on task j's test set after training task i; T tasks.
DEFINITIONS: list[tuple[str, str]] = [
    ("R[i, j]", "accuracy on the test set of task j after training task i (0-based, T tasks); the rows below "
                "the diagonal show forgetting, the entries above it (tasks not yet seen) are near 0 in a "
                "class-incremental stream with one output head."),
    ("ACC", "final average accuracy, (1/T) &Sigma;<sub>j</sub> R[T-1, j]; every task weighs the same "
            "(Lopez-Paz &amp; Ranzato 2017)."),
    ("BWT", "backward transfer, 1/(T-1) &Sigma;<sub>j&lt;T-1</sub> (R[T-1, j] - R[j, j]); negative values "
            "are forgetting (Lopez-Paz &amp; Ranzato 2017)."),
    ("forgetting", "1/(T-1) &Sigma;<sub>j&lt;T-1</sub> (max<sub>l&lt;T-1</sub> R[l, j] - R[T-1, j]): how far each "
                   "old task fell from its best accuracy; positive values are forgetting (Chaudhry et al. 2018)."),
    ("learning accuracy", "(1/T) &Sigma;<sub>j</sub> R[j, j]: accuracy on each task just after learning it "
                          "(plasticity)."),
    ("dead fraction (last task)", "fraction of hidden neurons (granule cells) never active on any training input "
                                  "of the last task: never in the Top-K set for the SDMLP, never above the "
                                  "circuit's activity threshold for the circuit."),
    ("Jaccard", "|A &cap; B| / |A &cup; B| per input, averaged over inputs, where A is the exact Top-K set of the "
                "drive a = X<sub>a</sub><sup>T</sup> x and B the granule cells the Golgi dynamics leave active "
                "(1: the circuit implements Top-K exactly)."),
    ("effective k", "|B|, the number of active granule cells per input (mean, sd, min, max over inputs); "
                    "Top-K keeps exactly k."),
    ("precision, recall", "|A &cap; B| / |B| and |A &cap; B| / |A|: the share of active cells that are in the "
                          "Top-K set, and of the Top-K set that is active."),
    ("Spearman", "rank correlation of the Top-K activity and the circuit's activity over the cells active in "
                 "either, averaged over inputs."),
    ("read-out agreement", "fraction of inputs on which the circuit's read-out class, argmax h X<sub>v</sub> of "
                           "its own granule activity h, equals the exact Top-K read-out of the same weights."),
    ("inputs with no active cell", "fraction of inputs that leave no granule cell active (silent inputs)."),
    ("Spearman(k, input mass)", "rank correlation over inputs of the effective k with the input's mass "
                                "||x||<sub>1</sub>/||x||<sub>2</sub>; 0 for Top-K, near 1 when a fixed threshold "
                                "lets spread-out inputs excite more cells."),
]


def paired_title(dataset: str, n_tasks: int, classes_per_task: int, mode: str, seed: int) -> str:
    """E.g. 'SDMLP vs cerebellar circuit on Split digits (5 tasks of 2 classes), rate mode, seed 0'."""
    data = DATASET_NAMES.get(dataset, f"Split {dataset}")
    tasks = (f"{n_tasks} task{'s' if n_tasks != 1 else ''} of "
             f"{classes_per_task} class{'es' if classes_per_task != 1 else ''}")
    return f"SDMLP vs cerebellar circuit on {data} ({tasks}), {mode} mode, seed {seed}"


def run_provenance(folder: str | Path) -> dict[str, Any]:
    """Seed, start time and provenance (git revision, library versions) of a run folder's config.json."""
    path = Path(folder) / "config.json"
    try:
        stored = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    started = dt.datetime.fromtimestamp(path.stat().st_mtime).astimezone().isoformat(timespec="seconds")
    return {"seed": stored.get("config", {}).get("seed"), "started": started, **stored.get("provenance", {})}


def circuit_defaults() -> dict[str, Any]:
    """The cerebellar circuit's parameter defaults (every field of :mod:`bio.groups`): what a ``None`` option of
    ``csdm run`` resolves to."""
    import inspect

    from bio import CerebellarCircuit
    from bio.groups import GROUPS

    signature = {name: p.default for name, p in inspect.signature(CerebellarCircuit.__init__).parameters.items()
                 if p.default is not inspect.Parameter.empty and name not in GROUPS}
    return {**signature, **{name: f.default for model in GROUPS.values() for name, f in model.model_fields.items()}}


def resolved_config(config: Mapping[str, Any], defaults: Mapping[str, Any],
                    unset: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(option, value) rows with no bare ``None``: an unset option shows its text in ``unset`` (what the run
    resolved it to, e.g. a mode-dependent default or 'set from the data'), else 'default (X)' where its default is
    known, 'not used (embedded dataset)' for an unset data folder, else 'auto' (chosen at run time)."""
    unset = unset or {}
    rows = []
    for key, value in config.items():
        if value is None:
            if key in unset:
                text = unset[key]
            elif key == "data_dir":
                text = "not used (embedded dataset)" if config.get("dataset") == "digits" else "$CSDM_DATA_DIR"
            elif defaults.get(key) is not None:
                text = f"default ({_plain(defaults[key])})"
            else:
                text = "auto"
        else:
            text = _plain(value)
        rows.append((key, text))
    return rows


def _plain(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _num(v: Any, digits: int = 3) -> str:
    """A float with ``digits`` decimals and no negative zero; '' for None or NaN."""
    if v is None:
        return ""
    v = float(v)
    if not np.isfinite(v):
        return ""
    text = f"{v:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def fmt(digits: int) -> Callable[[Any], str]:
    return lambda v: _num(v, digits)


def count(v: Any) -> str:
    """A count as an integer ('30', not '30.000')."""
    return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else str(int(round(float(v))))


def percent(v: Any) -> str:
    return "n/a" if v is None or isinstance(v, str) else f"{100 * float(v):.0f} %"


def _table(header: list[str], rows: list[list[Any]], formats: list[Callable[[Any], str] | None] | None = None) -> str:
    formats = formats or [None] * len(header)

    def cell(v: Any, f: Callable[[Any], str] | None) -> str:
        if f is not None and not isinstance(v, str):
            return html.escape(f(v))
        if isinstance(v, float):
            return html.escape(_num(v))
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    head = f"<tr>{head}</tr>" if any(header) else ""
    body = "".join("<tr>" + "".join(f"<td>{cell(v, f)}</td>" for v, f in zip(r, formats, strict=True)) + "</tr>"
                   for r in rows)
    return f"<table>{head}{body}</table>"


def _figure(data: bytes, alt: str, caption: str, css: str = "") -> str:
    src = base64.b64encode(data).decode()
    return (f'<figure{css}><img alt="{html.escape(alt)}" src="data:image/png;base64,{src}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _caption(stem: str, names: Mapping[str, str]) -> str:
    """Caption of a figure written by ``csdm run`` (plots/STEM.png)."""
    if stem == "fidelity":
        return ("<b>Top-K fidelity after every task.</b> Left: Jaccard overlap of the granule cells the Golgi "
                "dynamics leave active with the exact Top-K set of the same weights and inputs (1 = exact Top-K). "
                "Right: effective k, the number of active granule cells per input (mean &plusmn; sd over the "
                "fidelity inputs); the dashed line is the target k.")
    if stem.startswith("accuracy_matrix"):
        key = stem.removeprefix("accuracy_matrix").lstrip("_")
        who = html.escape(names.get(key, key or "learner"))
        return (f"<b>Accuracy matrix R[i, j] of the {who}.</b> Row i: after training task i; column j: accuracy "
                "on task j's test set. Values below the diagonal that fall from the diagonal are forgetting.")
    if stem == "e_gaba":
        return ("<b>The GABA switch over training.</b> E<sub>GABA</sub> of every granule cell (its chloride, Nernst, "
                "with the HCO<sub>3</sub><sup>-</sup> share) at the start and after each task; above the resting "
                "potential (dashed) Golgi GABA depolarises (young), below it inhibits (mature). Data: e_gaba.json.")
    if stem == "raster":
        return ("<b>Raster after the last task.</b> The circuit presented a few test inputs, laid end to end "
                "(dashed lines part the presentations): spikes of every granule and Golgi cell (spiking mode) or "
                "Eq. 13's activity of the granule cells with the largest drive (rate mode). <code>csdm record</code> "
                "writes such recordings as NWB files.")
    return html.escape(stem.replace("_", " "))


def _learning_curves(metrics: Mapping[str, Any]) -> bytes | None:
    """Accuracy over the task sequence, drawn from each learner's R: mean accuracy on the tasks seen so far
    (left) and accuracy on the first task (right)."""
    learners = metrics["learners"]
    done = int(metrics.get("tasks_done", 0)) or len(metrics["tasks"])
    if not learners or done < 1:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    steps = np.arange(1, done + 1)
    for name, m in learners.items():
        R = np.array([[np.nan if v is None else v for v in row] for row in m["accuracy_matrix"]], dtype=float)[:done]
        seen = [np.nanmean(R[i, : i + 1]) for i in range(done)]
        ax1.plot(steps, seen, marker="o", label=name)
        ax2.plot(steps, R[:, 0], marker="o", label=name)
    labels = [str(t) for t in metrics["tasks"][:done]]
    ax1.set(xlabel="after training task", ylabel="mean accuracy on tasks seen", ylim=(0, 1.02),
            title="accuracy on the tasks seen so far")
    ax2.set(xlabel="after training task", ylabel=f"accuracy on task {labels[0]}", ylim=(0, 1.02),
            title="retention of the first task")
    for ax in (ax1, ax2):
        ax.set_xticks(steps, labels, fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _png(fig)


def _png(fig) -> bytes:
    """The figure as PNG bytes (closed afterwards)."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _epoch_curves(name: str, curves: list[Mapping[str, Any]], tasks: list[str]) -> bytes | None:
    """Accuracy on every task over training epochs, where the record holds epoch-level curves."""
    if not curves:
        return None
    epochs = np.array([c["global_epoch"] for c in curves])
    acc = np.array([c["acc"] for c in curves], dtype=float)  # (points, T)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for j in range(acc.shape[1]):
        ax.plot(epochs, acc[:, j], label=f"task {tasks[j] if j < len(tasks) else j}")
    ax.set(xlabel="epoch", ylabel="test accuracy", ylim=(0, 1.02), title=name)
    ax.legend(fontsize=8)
    return _png(fig)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    minutes, s = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min {s} s" if hours else f"{minutes} min {s} s" if minutes else f"{s} s"


def paired_report(title: str, config: dict, metrics: dict, fidelity: dict, calibration: dict,
                  figures: list[Path], *, provenance: Mapping[str, Any] | None = None,
                  runtime_s: float | None = None, defaults: Mapping[str, Any] | None = None,
                  unset: Mapping[str, str] | None = None, names: Mapping[str, str] | None = None) -> str:
    """HTML text of the report: provenance, summary per learner, definitions, captioned figures and learning
    curves, accuracy matrices, fidelity per task, calibration and the resolved configuration.

    ``provenance``: seed, git revision, start time and library versions (:func:`run_provenance`);
    ``runtime_s``: wall time of the command that wrote the report; ``defaults``: what unset options resolve
    to (:func:`circuit_defaults` when None); ``unset``: what the run resolved unset options to
    (:func:`resolved_config`); ``names``: figure key -> learner name for the captions.
    """
    provenance = dict(provenance or {})
    names = dict(names or {})
    learners = metrics["learners"]
    done, n_tasks = metrics.get("tasks_done", len(metrics["tasks"])), len(metrics["tasks"])
    summary = _table(["learner", "ACC", "BWT", "forgetting", "learning acc", "dead fraction (last task)"],
                     [[name, m["acc"], m["bwt"], m["forgetting"], m["learning_acc"],
                       m["dead_fraction"][-1] if m.get("dead_fraction") else None] for name, m in learners.items()])
    matrices = "".join(
        f"<h3>{html.escape(name)}</h3>" + _table(["after \\ test", *metrics["tasks"]],
                                                 [[t, *[float("nan") if v is None else v for v in row]]
                                                  for t, row in zip(metrics["tasks"], m["accuracy_matrix"],
                                                                    strict=True)])
        for name, m in learners.items())
    fid_keys = ["jaccard_mean", "effective_k_mean", "effective_k_sd", "effective_k_min", "effective_k_max",
                "precision_mean", "recall_mean", "spearman_mean", "readout_agreement", "silent_fraction"]
    fid_head = ["after task", "Jaccard", "k mean", "k sd", "k min", "k max", "precision", "recall", "Spearman",
                "read-out agreement", "inputs with no active cell"]
    fid_fmt = [None, fmt(3), fmt(1), fmt(1), count, count, fmt(3), fmt(3), fmt(3), fmt(3), percent]
    fid = "".join(
        f"<h3>circuit ({html.escape(p)})</h3>"
        + _table(fid_head, [[r["task"], *[r.get(k) for k in fid_keys]] for r in recs], fid_fmt)
        for p, recs in fidelity.items()) or "<p>no circuit was measured.</p>"
    cal_fmt = [count, None, fmt(4), fmt(1), fmt(1), count, percent, fmt(2)]
    cal = "".join(
        f"<h3>circuit ({html.escape(p)})</h3>"
        + _table(["#", "parameter", "value", "achieved k", "k sd", "target k", "inputs with no active cell",
                  "Spearman(k, input mass)"],
                 [[i, c["parameter"], c["value"], c["achieved_k"], c["achieved_k_sd"], c["target_k"],
                   c.get("silent_fraction", "n/a"), c.get("k_mass_spearman", "n/a")] for i, c in enumerate(recs)],
                 cal_fmt)
        for p, recs in calibration.items()) or "<p>Not calibrated (<code>--no-calibrate</code>).</p>"
    if defaults is None:
        defaults = circuit_defaults()
    cfg = _table(["option", "value"], [list(r) for r in resolved_config(config, defaults, unset)])
    definitions = "<dl>" + "".join(f"<dt>{term}</dt><dd>{text}</dd>" for term, text in DEFINITIONS) + "</dl>"

    figs = []
    curves = _learning_curves(metrics)
    if curves is not None:
        figs.append(_figure(curves, "learning_curves",
                            "<b>Learning curves over the task sequence</b> (from R). Left: mean accuracy on the "
                            "tasks trained so far after each task, (1/(i+1)) &Sigma;<sub>j&le;i</sub> R[i, j]. "
                            "Right: accuracy on the first task after each task: how long it is remembered."))
    for name, m in learners.items():
        epoch_curves = _epoch_curves(name, m.get("curves") or [], metrics["tasks"])
        if epoch_curves is not None:
            figs.append(_figure(epoch_curves, f"curves_{name}", f"<b>{html.escape(name)}: test accuracy on every "
                                "task over training epochs.</b>"))
    for path in figures:
        if Path(path).exists():
            half = ' class="half"' if Path(path).stem.startswith("accuracy_matrix") else ""
            figs.append(_figure(Path(path).read_bytes(), Path(path).stem, _caption(Path(path).stem, names), half))

    status = "complete" if metrics.get("complete", done == n_tasks) else f"in progress: {done} of {n_tasks} tasks done"
    rev = str(provenance.get("git_revision", "unknown"))
    versions = ", ".join(f"{k} {provenance[k]}" for k in ("python", "torch", "numpy", "brian2") if k in provenance)
    prov = _table(["", ""], [
        ["seed", config.get("seed", provenance.get("seed", "n/a"))],
        ["status", status],
        ["git revision", rev[:12] if len(rev) == 40 else rev],
        ["run started", provenance.get("started", "n/a")],
        ["report written", dt.datetime.now().astimezone().isoformat(timespec="seconds")],
        ["wall time (this invocation)", _duration(runtime_s)],
        ["libraries", versions or "n/a"],
        ["machine", provenance.get("machine", "n/a")],
    ])
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.4}}
table{{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.85em}}
td,th{{border:1px solid #bbb;padding:3px 6px;text-align:right}}td:first-child{{text-align:left}}
th{{background:#eee}}figure{{margin:1em 0 1.5em}}figure img{{max-width:100%}}
figure.half{{display:inline-block;width:48%;vertical-align:top;margin-right:1%}}
figcaption{{font-size:0.85em;color:#444}}dt{{font-weight:bold;margin-top:0.4em}}dd{{margin-left:1.5em}}
.prov td:first-child{{font-weight:bold}}.prov td,.cfg td{{text-align:left}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>The SDMLP (Bricken et al., ICLR 2023) and the Brian2 cerebellar circuit on the same class-incremental
stream and seed. <b>transfer</b>: the circuit runs the SDMLP's weights after every task; <b>native</b>: the
circuit learns with its own local rules. Fidelity compares the granule cells the Golgi dynamics leave active
with the exact Top-K set of the same weights.</p>
<div class="prov">{prov}</div>
<h2>Forgetting: learners side by side</h2>{summary}
<h2>Figures</h2>{"".join(figs)}
<h2>Top-K fidelity after every task</h2>{fid}
<h2>Accuracy matrices R[i, j]</h2>{matrices}
<h2>Golgi calibration</h2>
<p>The Golgi parameter found by root finding (Brent's method) so that the mean number of active granule
cells equals the target k, once per calibration (transfer: after every weight copy; native: once on a
matured copy).</p>{cal}
<h2>Definitions</h2>{definitions}
<h2>Configuration (resolved)</h2><div class="cfg">{cfg}</div>
</body></html>"""
