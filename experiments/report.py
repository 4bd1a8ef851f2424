"""A self-contained HTML report of a paired run: tables and figures (PNG embedded as base64),
readable offline in any browser."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _table(header: list[str], rows: list[list[object]]) -> str:
    def cell(v: object) -> str:
        if isinstance(v, float):
            return "" if not np.isfinite(v) else f"{v:.3f}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def paired_report(title: str, config: dict, metrics: dict, fidelity: dict, calibration: dict,
                  figures: list[Path]) -> str:
    """HTML text of the report: summary per learner, fidelity per task, calibration, figures."""
    learners = metrics["learners"]
    summary = _table(["learner", "ACC", "BWT", "forgetting", "learning acc", "dead fraction (last task)"],
                     [[name, m["acc"], m["bwt"], m["forgetting"], m["learning_acc"], m["dead_fraction"][-1]]
                      for name, m in learners.items()])
    matrices = "".join(
        f"<h3>{html.escape(name)}</h3>" + _table(["after \\ test", *metrics["tasks"]],
                                                 [[t, *[float("nan") if v is None else v for v in row]]
                                                  for t, row in zip(metrics["tasks"], m["accuracy_matrix"],
                                                                    strict=True)])
        for name, m in learners.items())
    fid_keys = ["jaccard_mean", "effective_k_mean", "effective_k_sd", "effective_k_min", "effective_k_max",
                "precision_mean", "recall_mean", "spearman_mean", "readout_agreement"]
    fid_head = ["after task", "Jaccard", "k mean", "k sd", "k min", "k max", "precision", "recall", "Spearman",
                "read-out agreement"]
    fid = "".join(
        f"<h3>circuit ({html.escape(p)})</h3>" + _table(fid_head,
                                                        [[r["task"], *[r[k] for k in fid_keys]] for r in recs])
        for p, recs in fidelity.items())
    cal = "".join(
        f"<h3>{html.escape(p)}</h3>" + _table(["#", "parameter", "value", "achieved k", "k sd", "target k",
                                               "inputs with no active cell", "Spearman(k, input mass)"],
                                              [[i, c["parameter"], c["value"], c["achieved_k"], c["achieved_k_sd"],
                                                c["target_k"], c.get("silent_fraction", "n/a"),
                                                c.get("k_mass_spearman", "n/a")] for i, c in enumerate(recs)])
        for p, recs in calibration.items()) or "<p>not calibrated</p>"
    cfg = _table(["option", "value"], [[k, v] for k, v in config.items()])
    figs = "".join(_img(f) for f in figures if f.exists())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.85em}}
td,th{{border:1px solid #bbb;padding:3px 6px;text-align:right}}
th{{background:#eee}}img{{max-width:100%;margin:0.5em 0}}
img[alt^="accuracy_matrix"]{{max-width:48%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>The SDMLP (Bricken et al., ICLR 2023) and the Brian2 cerebellar circuit on the same class-incremental
stream and seed. <b>transfer</b>: the circuit runs the SDMLP's weights after every task; <b>native</b>: the
circuit learns with its own local rules. Fidelity compares the granule cells the Golgi dynamics leave active
with the exact Top-K set of the same weights.</p>
<h2>Forgetting: learners side by side</h2>{summary}
<h2>Top-K fidelity after every task</h2>{fid}
<h2>Figures</h2>{figs}
<h2>Accuracy matrices R[i, j]</h2>{matrices}
<h2>Golgi calibration</h2>{cal}
<h2>Configuration</h2>{cfg}
</body></html>"""
