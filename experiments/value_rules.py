"""Forgetting under each parallel fiber -> Purkinje rule (``--value-rule error | target | ltd``), stored and rendered.

The runs are ``csdm train --model bio-rate`` on class-incremental streams (5 tasks of 2 classes), one per rule and
dataset (:func:`command`). Split MNIST runs on a fixed subset of the IDX files (the first ``--train`` training
and ``--test`` test images, written as an ``.npz`` by ``subset``) so that it fits a small CPU budget. Each run's
metrics are kept as one small JSON file under ``results/value-rules/``, and the table in
``docs/value-rules.md`` is rendered from those files only::

    python -m experiments.value_rules subset --data-dir /tmp/mnist --out runs/value-rules/mnist-subset.npz
    csdm train ...                                   # the commands :func:`command` prints, one per run
    python -m experiments.value_rules store RUN_FOLDER --dataset digits --rule ltd
    python -m experiments.value_rules render         # rewrites the table block of docs/value-rules.md
    python -m experiments.docs --check               # exit 1 if the committed table differs

ACC, BWT, forgetting and learning accuracy are :func:`experiments.metrics.summarize` of the accuracy matrix.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results" / "value-rules"
DOC = ROOT / "docs" / "value-rules.md"
RULES = ("error", "target", "ltd")
DATASETS = {"digits": "Split digits", "mnist": "Split MNIST (subset)"}
MNIST_SUBSET = {"train": 1500, "test": 500}  # first images of the IDX files (sizes of the stored runs)
SUBSET_PATH = "runs/value-rules/mnist-subset.npz"
RUN = {"model": "bio-rate", "epochs_per_task": 1, "n_neurons": 1000, "k": 10, "seed": 0}  # the settings of every run
COMMON = "--model bio-rate --epochs-per-task 1 --n-neurons 1000 --k 10 --seed 0 --quiet"
METRICS = ("acc", "bwt", "forgetting", "learning_acc")
BLOCK = re.compile(r"(<!-- generated: value-rules-table -->\n)(.*?)(<!-- /generated -->)", re.DOTALL)


def command(dataset: str, rule: str) -> str:
    """The ``csdm train`` command of the stored run of ``rule`` on ``dataset``."""
    data = "--dataset digits" if dataset == "digits" else f"--dataset npz --data-dir {SUBSET_PATH}"
    return f"csdm train {COMMON} {data} --value-rule {rule} --out runs/value-rules/{dataset}-{rule}"


def subset_command(data_dir: str = "/tmp/mnist") -> str:
    return (f"python -m experiments.value_rules subset --data-dir {data_dir} --train {MNIST_SUBSET['train']} "
            f"--test {MNIST_SUBSET['test']} --out {SUBSET_PATH}")


def write_subset(data_dir: str, n_train: int, n_test: int, out: Path) -> Path:
    """The first ``n_train`` training and ``n_test`` test images of MNIST (as ``csdm`` loads them) as an .npz."""
    from experiments.data import load_dataset

    data = load_dataset("mnist", data_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, x_train=data.x_train[:n_train], y_train=data.y_train[:n_train],
                        x_test=data.x_test[:n_test], y_test=data.y_test[:n_test])
    return out


def store(run_folder: Path, dataset: str, rule: str, results: Path = RESULTS) -> Path:
    """Keep the metrics of the run in ``run_folder`` as ``results/dataset-rule.json`` with the command that made
    it (written to a temporary file, then renamed)."""
    if dataset not in DATASETS or rule not in RULES:
        raise ValueError(f"dataset must be one of {tuple(DATASETS)} and rule one of {RULES}; got {dataset!r}, "
                         f"{rule!r}.")
    metrics = json.loads((run_folder / "metrics.json").read_text())
    config = json.loads((run_folder / "config.json").read_text())["config"]
    config["value_rule"] = config.get("value_rule") or "error"  # None: the circuit's default
    expected = {**RUN, "value_rule": rule, "dataset": "digits" if dataset == "digits" else "npz"}
    differ = {name: config.get(name) for name, value in expected.items() if config.get(name) != value}
    if differ:
        raise ValueError(f"{run_folder} is not the run of `{command(dataset, rule)}`: it has {differ}.")
    record = {"dataset": dataset, "rule": rule, "command": command(dataset, rule),
              **{name: metrics[name] for name in METRICS}, "accuracy_matrix": metrics["accuracy_matrix"]}
    if dataset == "mnist":
        record["subset_command"] = subset_command()
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{dataset}-{rule}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(path)
    return path


def render_table(results: Path = RESULTS) -> str:
    """The markdown table of every stored run (dataset, rule: ACC, BWT, forgetting, learning accuracy) and the
    commands that made them."""
    rows = ["| stream | rule | ACC | BWT | forgetting | learning accuracy |", "|---|---|---|---|---|---|"]
    commands, same = [], []
    for dataset, title in DATASETS.items():
        matrices = {}
        for rule in RULES:
            path = results / f"{dataset}-{rule}.json"
            if not path.exists():
                continue
            r = json.loads(path.read_text())
            rows.append(f"| {title} | {rule} | " + " | ".join(f"{r[m]:.3f}" for m in METRICS) + " |")
            if "subset_command" in r and r["subset_command"] not in commands:
                commands.append(r["subset_command"])
            commands.append(r["command"])
            matrices[rule] = r["accuracy_matrix"]
        same += [f"{title}: `{a}` and `{b}`" for i, a in enumerate(matrices) for b in list(matrices)[i + 1 :]
                 if matrices[a] == matrices[b]]
    note = [f"Identical accuracy matrices (every entry): {'; '.join(same)}.", ""] if same else []
    return "\n".join([*rows, "", *note, "```bash", *commands, "```"]) + "\n"


def render_doc(text: str, results: Path = RESULTS) -> str:
    """``text`` (docs/value-rules.md) with its table block replaced by :func:`render_table`."""
    if not BLOCK.search(text):
        raise ValueError("docs/value-rules.md has no '<!-- generated: value-rules-table -->' ... "
                         "'<!-- /generated -->' block to fill.")
    return BLOCK.sub(lambda m: m[1] + render_table(results) + m[3], text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.value_rules", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    s = sub.add_parser("subset", help="write the MNIST subset .npz")
    s.add_argument("--data-dir", required=True)
    s.add_argument("--train", type=int, default=MNIST_SUBSET["train"])
    s.add_argument("--test", type=int, default=MNIST_SUBSET["test"])
    s.add_argument("--out", type=Path, default=Path(SUBSET_PATH))
    st = sub.add_parser("store", help="keep a run's metrics under results/value-rules/")
    st.add_argument("run_folder", type=Path)
    st.add_argument("--dataset", required=True, choices=tuple(DATASETS))
    st.add_argument("--rule", required=True, choices=RULES)
    sub.add_parser("render", help="rewrite the table in docs/value-rules.md from the stored results")
    args = parser.parse_args(argv)
    if args.action == "subset":
        print(f"written: {write_subset(args.data_dir, args.train, args.test, args.out)}")
    elif args.action == "store":
        print(f"written: {store(args.run_folder, args.dataset, args.rule)}")
    else:
        text = DOC.read_text()
        new = render_doc(text)
        DOC.write_text(new)
        print(f"written: {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
