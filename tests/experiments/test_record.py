"""`csdm record`: the NWB file round-trips through pynwb with every spike, trace and presentation."""

import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from experiments.cli import app

pynwb = pytest.importorskip("pynwb", reason="pynwb (the [nwb] extra, also in [test]) is not installed")

SMALL = ["--n-neurons", "40", "--inputs", "2", "--cells", "12"]


def csdm(*args):
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """`csdm record` of 2 digits on a 40-cell spiking circuit."""
    out = tmp_path_factory.mktemp("record")
    code, text = csdm("record", *SMALL, "--out", str(out))
    assert code == 0, text
    return out, text


def test_cli_writes_an_nwb_file_with_granule_and_golgi_spikes(recorded):
    out, text = recorded
    for name in ("recording.nwb", "raster.png", "traces.png", "config.json"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "config.json").read_text())["config"]["inputs"] == 2
    assert not list(out.glob(".*"))  # no temporary file left behind
    with pynwb.NWBHDF5IO(str(out / "recording.nwb"), "r") as io:
        nwb = io.read()
        units = nwb.units.to_dataframe()
        counts = units.groupby("population")["spike_times"].apply(lambda s: sum(map(len, s)))
        assert set(counts.index) == {"granule", "golgi"} and (counts > 0).all()
        assert (units["population"] == "granule").sum() == 12
        assert f"spikes: granule {counts['granule']}, golgi {counts['golgi']};" in text
        spikes = np.concatenate(units["spike_times"].to_list())
        assert spikes.min() >= 0 and spikes.max() < 0.8  # two 400 ms presentations
        volts = np.asarray(nwb.processing["circuit"]["granule_v_mV"].data[:]) * 1e-3
        assert -0.0755 < volts.min() and volts.max() < -0.0549  # between reset (-75 mV) and threshold (-55 mV)
        table = nwb.intervals["presentations"].to_dataframe()
        np.testing.assert_allclose(table[["start_time", "stop_time", "read_start"]].to_numpy(),
                                   [[0, 0.4, 0.25], [0.4, 0.8, 0.65]])  # read over the last 150 ms
        np.testing.assert_array_equal(table["label"], load_digits_labels()[:2])


def load_digits_labels():
    from experiments.data import load_dataset

    return load_dataset("digits").y_test


def synthetic_recording():
    """A Recording made by hand (no simulation): 2 presentations of 10 ms at 1 ms steps, 3 granule cells
    (ids 2, 5, 9) and 1 Golgi cell, known spikes and a membrane potential ramp in mV."""
    from bio.recording import Recording, Trace

    times = np.arange(20) * 1e-3
    v = (-70.0 + np.arange(20)[:, None] * np.array([0.1, 0.2, 0.3])).astype(np.float32)
    g = np.full((20, 1), 2.5, np.float32)
    return Recording(
        presentation_s=0.01, dt_s=1e-3, times_s=times, n_presentations=2,
        cells={"granule": np.array([2, 5, 9]), "golgi": np.array([0])},
        spike_cells={"granule": np.array([5, 2, 5]), "golgi": np.array([0])},
        spike_times_s={"granule": np.array([0.0031, 0.0042, 0.0157]), "golgi": np.array([0.012])},
        traces=(Trace("granule", "v", "mV", "V", 1e-3, v), Trace("golgi", "g_e", "nS", "S", 1e-9, g)),
        activity=np.array([[0, 0, 0.5, 0, 0, 0.5, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0.25, 0, 0, 0, 0]], np.float32),
    )


def test_nwb_round_trip(tmp_path):
    """Every spike, trace (to SI through conversion) and presentation of a hand-made recording comes back."""
    from experiments.record import RecordConfig, write_nwb

    rec = synthetic_recording()
    path = tmp_path / "recording.nwb"
    write_nwb(rec, path, RecordConfig(inputs=2), np.ones((2, 4)) * 100.0, np.array([3, 7]), 5.0, 0.1)
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        units = nwb.units.to_dataframe()
        assert units[["population", "cell"]].values.tolist() == [["granule", 2], ["granule", 5], ["granule", 9],
                                                                  ["golgi", 0]]
        expected = [[0.0042], [0.0031, 0.0157], [], [0.012]]
        for got, want in zip(units["spike_times"], expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)
        v = nwb.processing["circuit"]["granule_v_mV"]
        assert v.unit == "V" and "granule cell 2, 5, 9" in v.description
        np.testing.assert_allclose(np.asarray(v.data[:]) * v.conversion, -0.070 + np.arange(20)[:, None]
                                   * np.array([1e-4, 2e-4, 3e-4]), rtol=1e-6)
        g = nwb.processing["circuit"]["golgi_g_e_nS"]
        np.testing.assert_allclose(np.asarray(g.data[:]) * g.conversion, 2.5e-9, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(g.timestamps[:]), np.arange(20) * 1e-3)
        table = nwb.intervals["presentations"].to_dataframe()
        np.testing.assert_allclose(table[["start_time", "stop_time", "read_start"]].to_numpy(),
                                   [[0, 0.01, 0.005], [0.01, 0.02, 0.015]])
        assert table["label"].tolist() == [3, 7] and table["active_granule_cells"].tolist() == [2, 1]
        stim = nwb.stimulus["mossy_rates"]
        assert stim.unit == "Hz" and np.asarray(stim.data[:]).shape == (2, 4)
        np.testing.assert_allclose(np.asarray(stim.timestamps[:]), [0, 0.01])


def test_rate_mode_records_traces_without_units(tmp_path):
    code, text = csdm("record", *SMALL, "--mode", "rate", "--out", str(tmp_path))
    assert code == 0, text
    with pynwb.NWBHDF5IO(str(tmp_path / "recording.nwb"), "r") as io:
        nwb = io.read()
        assert nwb.units is None
        act = np.asarray(nwb.processing["circuit"]["granule_act"].data[:])
        assert act.shape[1] == 12 and 0 <= act.min() and act.max() <= 1  # Eq. 13's e lies in [0, 1)


def test_missing_pynwb_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynwb", None)  # import pynwb now raises ImportError
    code, text = csdm("record", *SMALL, "--out", str(tmp_path / "r"))
    assert code == 2 and "cerebellar-sdm[nwb]" in text
    assert not (tmp_path / "r").exists()  # refused before simulating anything


@pytest.mark.parametrize("args", [["--inputs", "0"], ["--mode", "ltd"], ["--cells", "-1"]])
def test_bad_options_exit_2(args, tmp_path):
    code, text = csdm("record", *args, "--out", str(tmp_path))
    assert code == 2 and text.count("\n") == 1, text


def test_run_report_shows_the_raster_and_the_gaba_switch(tmp_path):
    """`csdm run`'s additions: E_GABA per cell after each task (young above rest, mature below) and a raster of
    the circuit after the last task, both captioned in the report."""
    from bio import CerebellarCircuit
    from experiments.data import load_dataset
    from experiments.paired_run import _raster
    from experiments.record import e_gaba_entry, plot_e_gaba
    from experiments.report import paired_report

    circuit = CerebellarCircuit(64, 30, 10, mode="rate", seed=0, dt_ms=0.2, presentation_ms=20.0)
    history = {"native": [e_gaba_entry("start", circuit.e_gaba_mV())]}
    circuit.mature()
    history["native"].append(e_gaba_entry("{0,1}", circuit.e_gaba_mV()))
    young, mature = (np.asarray(e["e_gaba_mV"]) for e in history["native"])
    assert young.shape == (30,) and np.all(young > -75.0) and np.all(mature < -75.0)  # either side of rest
    plot_e_gaba(history, tmp_path / "e_gaba.png", -75.0)
    _raster({"native": circuit}, load_dataset("digits").x_test[:2], tmp_path / "raster.png")
    metrics = {"learners": {}, "tasks": ["{0,1}"], "tasks_done": 1}
    html = paired_report("t", {"seed": 0}, metrics, {}, {}, [tmp_path / "e_gaba.png", tmp_path / "raster.png"],
                         defaults={})
    assert "The GABA switch over training" in html and "Raster after the last task" in html
    assert html.count("data:image/png;base64") == 2


def test_recorded_cells_are_those_with_the_largest_drive():
    from experiments.record import recorded_cells

    address = np.array([[0.1, 0.9, 0.0, 0.5], [0.8, 0.0, 0.3, 0.5]])  # (n_inputs 2, n_neurons 4)
    x = np.array([[2.0, 0.0], [0.0, 1.0]])  # unit rows after normalisation: drives [.1 .9 0 .5], [.8 0 .3 .5]
    np.testing.assert_array_equal(recorded_cells(x, address, 2), [0, 1])  # max drives .8 .9 .3 .5
    np.testing.assert_array_equal(recorded_cells(x, address, 3), [0, 1, 3])
    np.testing.assert_array_equal(recorded_cells(x, address, 0), [0, 1, 2, 3])
