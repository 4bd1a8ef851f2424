"""The chloride switch page (``docs/chloride.md``) and figure (``docs/img/chloride-switch.png``).

The figure compares, over class-incremental training of the default rate circuit on Split digits (scikit-learn
digits, 5 tasks of 2 classes, 3 epochs each), the biophysical GABA sign lambda of every granule cell (from its
chloride, ``bio/chloride.py``) with Eq. 12's lambda = clip(-1 + 2 C / s, -1, 1) computed from the same cells'
activation counts C: mean and 10-90 % range over cells after every learning batch. The page's parameter table is
rendered from :class:`bio.chloride.ChlorideParams`; its numbers come from the stored measurement
``results/chloride/switch.csv``::

    python -m experiments.chloride_figure --measure   # train, store results/chloride/switch.csv (~4 min)
    python -m experiments.chloride_figure             # write docs/chloride.md and the figure from the CSV
    python -m experiments.chloride_figure --check     # exit 1 if docs/chloride.md differs from what it renders
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import brian2 as b2
import numpy as np

from bio.chloride import ChlorideParams, parameter_table

ROOT = Path(__file__).resolve().parent.parent
CHLORIDE_MD = ROOT / "docs" / "chloride.md"
SWITCH_PNG = ROOT / "docs" / "img" / "chloride-switch.png"
SWITCH_CSV = ROOT / "results" / "chloride" / "switch.csv"
COMMAND = "python -m experiments.chloride_figure"
COLUMNS = ("task", "presented", "bio_mean", "bio_p10", "bio_p90", "eq12_mean", "eq12_p10", "eq12_p90",
           "cl_p10", "cl_median", "cl_p90", "acc")


def record_switch(seed: int = 0, n_neurons: int = 1000, epochs: int = 3, batch_size: int = 200) -> list[dict]:
    """Train the default rate circuit on Split digits and record, after every learning batch, the biophysical and
    Eq. 12 lambda over cells (mean, 10th, 90th percentile) and [Cl]_i (10th, median, 90th percentile), with the
    presentations so far; ``acc`` (average accuracy over the tasks seen, on held-out digits) after each task."""
    from sklearn.datasets import load_digits

    from bio import CerebellarCircuit

    x, y = load_digits(return_X_y=True)  # the split of tests/bio/test_class_incremental.py
    order = np.random.default_rng(seed).permutation(len(x))
    train, test = order[:1400], order[1400:]
    circuit = CerebellarCircuit(x.shape[1], n_neurons, 10, seed=seed, batch_size=batch_size)
    rows: list[dict] = []
    state = {"task": 0, "presented": 0}
    learn = circuit.record_activity

    def observed(active: np.ndarray, gaba_nS: np.ndarray | None = None) -> None:  # after each learning batch
        learn(active, gaba_nS)
        state["presented"] += len(active)
        bio_lam = circuit.gaba_switch()
        eq12 = np.clip(-1 + 2 * circuit.activity_count_ / circuit.switch_count, -1, 1)
        rows.append(dict(task=state["task"], presented=state["presented"],
                         **_spread("bio", bio_lam), **_spread("eq12", eq12),
                         **dict(zip(("cl_p10", "cl_median", "cl_p90"),
                                    np.percentile(circuit.chloride_mM_, [10, 50, 90]), strict=True)), acc=""))

    circuit.record_activity = observed
    observed(np.zeros((0, n_neurons), bool))  # the young state before training
    for task in range(5):
        state["task"] = task
        classes = [2 * task, 2 * task + 1]
        circuit.fit_task(x[train][np.isin(y[train], classes)], y[train][np.isin(y[train], classes)], epochs=epochs)
        seen = np.isin(y[test], np.arange(2 * task + 2))
        rows[-1]["acc"] = float((circuit.predict(x[test][seen]) == y[test][seen]).mean())
    circuit.close()
    return rows


def _spread(name: str, values: np.ndarray) -> dict[str, float]:
    p10, p90 = np.percentile(values, [10, 90])
    return {f"{name}_mean": float(values.mean()), f"{name}_p10": float(p10), f"{name}_p90": float(p90)}


def write_csv(rows: list[dict], path: Path = SWITCH_CSV) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    tmp.replace(path)
    return path


def read_csv(path: Path = SWITCH_CSV) -> dict[str, np.ndarray]:
    """The stored measurement as columns (``acc`` NaN where no task ended)."""
    with path.open() as f:
        rows = list(csv.DictReader(f))
    return {c: np.array([float(r[c]) if r[c] != "" else np.nan for r in rows]) for c in COLUMNS}


def plot_switch(data: dict[str, np.ndarray], path: Path = SWITCH_PNG) -> Path:
    """Two panels over presentations: lambda (biophysical vs Eq. 12, mean and 10-90 % band) and [Cl]_i."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = ChlorideParams()
    t = data["presented"]
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(7, 5.5), sharex=True)
    for name, label, color in (("bio", "chloride (bio/chloride.py)", "C0"), ("eq12", "Eq. 12 counter", "C1")):
        ax.plot(t, data[f"{name}_mean"], color=color, label=f"{label}: mean")
        ax.fill_between(t, data[f"{name}_p10"], data[f"{name}_p90"], color=color, alpha=0.25,
                        label=f"{label}: 10-90 % of cells")
    ax.set_ylabel("GABA sign lambda")
    ax.set_ylim(-1.1, 1.1)
    ax.legend(fontsize=8, loc="center right")
    bx.plot(t, data["cl_median"], color="C2", label="[Cl]$_i$ median")
    bx.fill_between(t, data["cl_p10"], data["cl_p90"], color="C2", alpha=0.25, label="10-90 % of cells")
    for level, text in ((p.cl_young, "young set point"), (p.cl_mature, "mature set point")):
        bx.axhline(float(level / b2.mM), color="grey", lw=0.8, ls="--")
        bx.text(t[-1], float(level / b2.mM), text, ha="right", va="bottom", fontsize=8, color="grey")
    bx.set_ylabel("[Cl]$_i$ (mM)")
    bx.set_xlabel("training presentations (Split digits, 5 tasks x 3 epochs)")
    for end in t[~np.isnan(data["acc"])][:-1]:  # task boundaries
        for axis in (ax, bx):
            axis.axvline(end, color="k", lw=0.5, alpha=0.4)
    bx.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def parameter_table_md(params: ChlorideParams) -> str:
    """The parameter table of ``params`` as markdown (parameter, value, unit, meaning, source)."""
    lines = ["| parameter | value | unit | meaning | source |", "|---|---|---|---|---|"]
    for row in parameter_table(params):
        lines.append("| {parameter} | {value} | {unit} | {meaning} | {source} |".format(**row))
    return "\n".join(lines) + "\n"


def _crossing(t: np.ndarray, values: np.ndarray) -> str:
    above = np.nonzero(values > 0)[0]
    return f"{int(t[above[0]]):,}" if len(above) else "never"


def render_page(data: dict[str, np.ndarray]) -> str:
    """The text of ``docs/chloride.md`` from the stored measurement and :class:`bio.chloride.ChlorideParams`."""
    t = data["presented"]
    ends = ~np.isnan(data["acc"])
    accs = ", ".join(f"{a:.2f}" for a in data["acc"][ends])
    return f"""# The GABA switch: chloride transport per granule cell

<!-- Generated by `{COMMAND}` from bio/chloride.py and results/chloride/switch.csv: do not edit by hand.
     tests/bio/test_chloride.py fails when the parameter table differs from the code. -->

Each granule cell carries its intracellular chloride [Cl]$_i$. NKCC1 imports it, KCC2 exports it, and the
GABA-A current moves it; which transporter dominates follows the cell's own activity. E_Cl follows by
Nernst, E_GABA by the Goldman-Hodgkin-Katz equation with bicarbonate, and in rate mode the sign of Golgi
inhibition, lambda, follows from E_GABA. The SDMLP keeps the paper's counter (Eq. 12).

## Model

    d[Cl]_i/dt = (J_NKCC1 - J_KCC2 + J_GABA) / (F vol)                                  (1)
    J_NKCC1 = g_NKCC1(m) (E_NKCC1 - E_Cl),   E_NKCC1 = (E_Na + E_K) / 2                  (2)
    J_KCC2  = g_KCC2(m)  (E_Cl - E_K)                                                    (3)
    J_GABA  = w g_GABA (v - E_Cl),   w = (E_HCO3 - E_GABA) / (E_HCO3 - E_Cl)             (4)
    E_Cl = (RT/F) ln([Cl]_i / [Cl]_o)                                                    (5)
    E_GABA = (RT/F) ln(([Cl]_i + r [HCO3]_i) / ([Cl]_o + r [HCO3]_o))                    (6)
    g_X(m) = (1 - m) g_X,young + m g_X,mature,   m = clip(C / s, 0, 1)                   (7)
    lambda = clip((E_L - E_GABA) / (E_L - E_GABA,mature), -1, 1)                         (8)

(2)-(3): transport proportional to the free energy of one cotransport cycle (Doyon et al. 2011, PLoS
Comput Biol 7:e1002149; Duesterwald et al. 2018, eLife 7:e39575). (4): the chloride part of the GABA-A
current; in rate mode g_GABA is `gaba_load` times the Eq. 13 inhibition each cell receives, driven from
rest (v = E_L); in spiking mode g_GABA is each cell's GABA-A conductance (Golgi quanta and tonic GABA)
averaged over the presentation in the Brian2 simulation, driven from rest as well. (7): C counts the
presentations in which the cell was active (Eq. 12's C); the young and mature transporter levels split
one capacity G so that transport alone settles at the young and mature set points, and G sets the chloride
time constant tau_cl at the mature set point. (1) is integrated between batches of presentations (RK4),
because the presentations of a batch run side by side as independent copies of the circuit.

## Parameters

{parameter_table_md(ChlorideParams())}
## Biophysical lambda against Eq. 12 over training

![lambda and chloride over Split digits training](img/chloride-switch.png)

Written by `{COMMAND} --measure` (stored in `results/chloride/switch.csv`), drawn by `{COMMAND}`: the
default rate circuit (1,000 granule cells, seed 0, batches of 200) on Split digits, 3 epochs per task, after
every learning batch (vertical lines: task boundaries).

- Mean lambda turns positive after {_crossing(t, data["bio_mean"])} presentations with chloride, after \
{_crossing(t, data["eq12_mean"])} with Eq. 12's counter.
- Spread over cells at the end, 10-90 %: lambda {data["bio_p10"][-1]:.3f}-{data["bio_p90"][-1]:.3f} (chloride), \
{data["eq12_p10"][-1]:.3f}-{data["eq12_p90"][-1]:.3f} (Eq. 12); \
[Cl]$_i$ {data["cl_p10"][-1]:.2f}-{data["cl_p90"][-1]:.2f} mM (median {data["cl_median"][-1]:.2f} mM).
- Average accuracy over the tasks seen, after each task: {accs}.

Young GABA excites every granule cell (lambda = -1), so every cell is active in the first presentations and
all cells mature together: the spread over cells stays narrow in this run.
"""


def stored_page() -> str:
    """docs/chloride.md rendered from the stored results (``python -m experiments.docs`` calls this)."""
    return render_page(read_csv())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure", action="store_true", help="train and store results/chloride/switch.csv first")
    args = parser.parse_args(argv)
    if args.measure:
        print(f"wrote {write_csv(record_switch())}")
    CHLORIDE_MD.write_text(stored_page())
    print(f"wrote {CHLORIDE_MD} and {plot_switch(read_csv())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
