"""`csdm fidelity`: the map's cells, its files, and a rerun that continues instead of recomputing."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from experiments.cli import app
from experiments.fidelity_map import COLUMNS, MECHANISMS, format_markdown, get_mechanism, read_rows

ARGS = ["--mode", "rate", "--mechanism", "rate:adapted", "--mechanism", "rate:adapted-uncoupled", "--n-neurons",
        "300", "--k", "5", "--inputs", "40", "--codegen-target", "numpy", "--quiet"]


@pytest.fixture(scope="module")
def fidelity_map(tmp_path_factory):
    out = tmp_path_factory.mktemp("map")
    result = CliRunner().invoke(app, ["fidelity", *ARGS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_map_files_and_numbers(fidelity_map):
    rows = read_rows(fidelity_map / "fidelity_map.csv")
    assert [(r["mechanism"], r["dataset"], r["k"]) for r in rows] == [("adapted", "digits", 5),
                                                                      ("adapted-uncoupled", "digits", 5)]
    adapted, uncoupled = rows
    # the data-driven rate circuit implements Top-K on held-out inputs; Golgi cells that each see a random
    # subset of granule cells inhibit them unequally, and Top-K fails (design.md's measured facts)
    assert adapted["jaccard"] > 0.8 and adapted["silent"] == 0 and abs(adapted["k_mean"] - 5) < 1.5
    assert uncoupled["jaccard"] < adapted["jaccard"] - 0.05  # measured 0.83 against 0.92 (seed 0)
    assert (fidelity_map / "fidelity_map.png").stat().st_size > 5000
    assert (fidelity_map / "fidelity_map.md").read_text() == format_markdown(rows)
    assert set(COLUMNS) <= set(rows[0])


def test_rerun_reads_finished_cells_back(fidelity_map, monkeypatch):
    import experiments.fidelity_map as fm

    monkeypatch.setattr(fm, "measure_cell", lambda *a, **k: pytest.fail("a finished cell was measured again"))
    result = CliRunner().invoke(app, ["fidelity", *ARGS, "--out", str(fidelity_map)])
    assert result.exit_code == 0, result.output
    cell = json.loads((fidelity_map / "cells" / "rate-adapted-digits-k5.json").read_text())
    assert np.isclose(cell["row"]["jaccard"], read_rows(fidelity_map / "fidelity_map.csv")[0]["jaccard"], atol=1e-6)


def test_rerun_with_other_settings_is_refused(fidelity_map):
    args = [("41" if a == "40" else a) for a in ARGS]  # --inputs 41
    result = CliRunner().invoke(app, ["fidelity", *args, "--out", str(fidelity_map)])
    assert result.exit_code == 2 and "other settings" in result.output


def test_cell_measured_at_other_circuit_defaults_is_refused(fidelity_map):
    """A stored cell records the circuit parameters it was measured with; a rerun whose circuit resolves them
    differently (the defaults changed) is refused, naming the parameter, instead of reusing the stale cell."""
    path = fidelity_map / "cells" / "rate-adapted-digits-k5.json"
    cell = json.loads(path.read_text())
    assert cell["circuit"]["tau_granule_ms"] == 10.0 and "golgi_gain" not in cell["circuit"]
    try:
        path.write_text(json.dumps({**cell, "circuit": {**cell["circuit"], "tau_granule_ms": 20.0}}))
        result = CliRunner().invoke(app, ["fidelity", *ARGS, "--out", str(fidelity_map)])
        assert result.exit_code == 2 and "tau_granule_ms" in result.output
    finally:
        path.write_text(json.dumps(cell))


def test_unknown_mechanism_is_refused():
    with pytest.raises(ValueError, match="unknown mechanism"):
        get_mechanism("rate:magic")


def test_stored_maps_regenerate(pytestconfig):
    """Every fidelity_map.md kept under results/ is what its fidelity_map.csv renders to (nothing typed by hand)."""
    from pathlib import Path

    stored = sorted(Path(pytestconfig.rootpath, "results").glob("*/fidelity_map.csv"))
    for csv_path in stored:
        assert (csv_path.parent / "fidelity_map.md").read_text() == format_markdown(read_rows(csv_path)), csv_path


@pytest.mark.parametrize("m", MECHANISMS, ids=lambda m: f"{m.mode}:{m.name}")
def test_every_mechanism_builds_its_circuit(m):
    """Each mechanism's switches are circuit parameters its mode accepts (checked by the circuit's schema)."""
    from bio import CerebellarCircuit

    c = CerebellarCircuit(64, 200, 10, mode=m.mode, seed=0, **m.circuit)
    for name, value in m.circuit.items():
        got = getattr(c, name)
        assert (got.name if name == "cell_params" else got) == value  # a cell set is kept as its CellParams


def test_circuit_record_keeps_the_spiking_step_and_leaves_the_rate_step_to_the_data():
    """Rate mode sets its step from the data (adapt_to), so a rate cell's record leaves it out; spiking mode keeps
    its default step, and a cell measured at another one must not be reused: its record holds the step."""
    from experiments.data import load_dataset
    from experiments.fidelity_map import CellSettings, circuit_parameters

    data, settings = load_dataset("digits"), CellSettings(inputs=10, n_neurons=50)
    assert "dt_ms" not in circuit_parameters(get_mechanism("rate:adapted"), data, settings)
    spiking = circuit_parameters(get_mechanism("spiking:lif"), data, settings)
    assert spiking["dt_ms"] == 0.2 and "golgi_gain" not in spiking
