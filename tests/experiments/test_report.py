"""report.html of csdm run (built from a hand-made record, no training) and the circuit diagram."""

import json
import re

import matplotlib.pyplot as plt
import pytest

from bio import circuit_graph
from experiments.circuit_plot import KINDS, draw_circuit, edge_label, projection_kind
from experiments.config import PairedConfig
from experiments.report import (
    DEFINITIONS,
    count,
    fmt,
    paired_report,
    paired_title,
    resolved_config,
    run_provenance,
)


def _record():
    R = [[1.0, 0.0, 0.0], [0.9, 0.95, 0.0], [0.8, 0.7, 0.99]]
    learner = {"acc": 0.83, "bwt": -0.2, "forgetting": 0.2, "learning_acc": 0.98, "accuracy_matrix": R,
               "dead_fraction": [0.1, 0.2, 0.3]}
    metrics = {"complete": True, "tasks_done": 3, "tasks": ["{0,1}", "{2,3}", "{4,5}"],
               "learners": {"SDMLP": learner, "circuit (transfer)": {**learner, "bwt": -0.0000001}}}
    fid = {"jaccard_mean": 0.7, "effective_k_mean": 10.4, "effective_k_sd": 3.0, "effective_k_min": 2.0,
           "effective_k_max": 30.0, "precision_mean": 0.8, "recall_mean": 0.75, "spearman_mean": 0.9,
           "readout_agreement": 0.98, "silent_fraction": 0.0}
    fidelity = {"transfer": [{"task": t, **fid} for t in range(3)]}
    calibration = {"transfer": [{"parameter": "golgi_threshold", "value": 0.0123, "achieved_k": 10.0,
                                 "achieved_k_sd": 3.2, "target_k": 10, "silent_fraction": 0.02,
                                 "k_mass_spearman": 0.5}]}
    return metrics, fidelity, calibration


def _png(path):
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    fig.savefig(path)
    plt.close(fig)
    return path


def test_report_has_title_provenance_definitions_captions_and_curves(tmp_path):
    metrics, fidelity, calibration = _record()
    figures = [_png(tmp_path / "fidelity.png"), _png(tmp_path / "accuracy_matrix_sdmlp.png")]
    prov = {"seed": 0, "git_revision": "a" * 40, "started": "2026-01-01T10:00:00+00:00", "torch": "2.13.0"}
    title = paired_title("digits", 3, 2, "rate", 0)
    assert title == "SDMLP vs cerebellar circuit on Split digits (3 tasks of 2 classes), rate mode, seed 0"
    text = paired_report(title, PairedConfig().model_dump(), metrics, fidelity, calibration, figures,
                         provenance=prov, runtime_s=125.0, names={"sdmlp": "SDMLP"})
    assert f"<h1>{title}</h1>" in text
    for term, _ in DEFINITIONS:
        assert f"<dt>{term}</dt>" in text
    for needed in ("ACC", "BWT", "forgetting", "learning accuracy", "dead fraction (last task)", "Jaccard",
                   "effective k", "read-out agreement"):
        assert f"<dt>{needed}" in text
    figures_html = re.findall(r"<figure.*?</figure>", text, flags=re.DOTALL)
    assert len(figures_html) == 3  # learning curves + the two files
    assert all("<figcaption>" in f and "data:image/png;base64," in f for f in figures_html)
    assert "Learning curves" in text and "Accuracy matrix R[i, j] of the SDMLP" in text
    assert "aaaaaaaaaaaa" in text and "2026-01-01T10:00:00" in text and "2 min 5 s" in text
    assert "None" not in text
    assert "-0.000" not in text
    assert "30.000" not in text and "<td>30</td>" in text  # counts as integers
    assert "http" not in text.replace("http-equiv", "")  # self-contained


def test_resolved_config_shows_defaults_not_none():
    cfg = PairedConfig().model_dump()
    rows = dict(resolved_config(cfg, {"granule_threshold": 0.55, "feedforward_inhibition": 0.0}))
    assert rows["granule_threshold"] == "default (0.55)"
    assert rows["feedforward_inhibition"] == "default (0)"
    assert rows["data_dir"] == "not used (embedded dataset)"
    assert "None" not in rows.values()
    assert dict(resolved_config({"x": None}, {}))["x"] == "auto"


def test_number_formats():
    assert fmt(3)(-0.0000001) == "0.000"
    assert fmt(3)(float("nan")) == ""
    assert count(30.0) == "30"


def test_run_provenance_reads_config_json(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"config": {"seed": 3}, "provenance": {"git_revision": "abc"}}))
    prov = run_provenance(tmp_path)
    assert prov["seed"] == 3 and prov["git_revision"] == "abc" and prov["started"]
    assert run_provenance(tmp_path / "missing") == {}


def test_circuit_drawing_has_legend_and_labels(tmp_path):
    graph = circuit_graph(16, 50, 4, sparse_dendrites=4)
    assert projection_kind("golgi") == "inhibitory" and projection_kind("climbing") == "teaching"
    assert projection_kind("mossy") == "excitatory"
    assert set(KINDS) == {"excitatory", "inhibitory", "teaching"}
    assert edge_label(graph.edges["mossy", "granule"]) == "address\n4 inputs per cell"
    assert edge_label(graph.edges["golgi", "granule"]).endswith("p = 0.9")
    path = tmp_path / "circuit.png"
    draw_circuit(graph, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("sparse", [None, 4])
def test_circuit_labels_do_not_overlap(tmp_path, sparse, monkeypatch):
    """Every edge label's box is disjoint from every other label and from every node box."""
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: None)  # keep the figure to measure it
    draw_circuit(circuit_graph(16, 50, 4, sparse_dendrites=sparse), tmp_path / "c.png")
    fig = plt.gcf()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    labels = [t.get_bbox_patch().get_window_extent(renderer) for t in ax.texts if t.get_bbox_patch() is not None]
    nodes = [p.get_window_extent(renderer) for p in ax.patches if isinstance(p, plt.Rectangle)]
    assert len(labels) == 5 and len(nodes) == 5
    boxes = labels + nodes
    for i, a in enumerate(labels):
        for j, b in enumerate(boxes):
            if i != j:
                assert not a.overlaps(b), (i, j)
    close(fig)
