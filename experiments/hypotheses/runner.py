"""``run_hypothesis``: conditions x seeds (on Dask), one value per run, the stated test, hypothesis.json.

OUT/ receives:

- ``runs/<condition>-s<seed>-<config hash>/``: one ``csdm train`` run folder per condition x seed (a rerun
  skips the finished ones; another budget or dataset gets other folders, as its config hash differs);
- ``hypothesis.json`` with exactly the keys of :data:`KEYS` (the public record; ``conditions`` maps each
  condition to ``{"config", "values"}``, one value per seed 0..N-1);
- ``figures/*.png``, ``hypothesis.md`` (a Markdown section: claim, source, values, test, decision, figures,
  commands) and ``details.json`` (numbers a hypothesis reports beside its one tested value).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import numpy as np

from experiments.hypotheses.core import Hypothesis, get_hypothesis
from experiments.hypotheses.stats import decide, run_test

KEYS = ("name", "claim", "source", "conditions", "measure", "test", "statistic", "p_value", "effect", "ci",
        "alpha", "decision", "commands", "git_revision")
_FLAG_BOOLS = {"nonnegative": ("--nonnegative", "--negative-weights"),
               "l2_normalize": ("--l2-normalize", "--no-l2-normalize"),
               "hidden_bias": ("--hidden-bias", "--no-hidden-bias"),
               "output_bias": ("--output-bias", "--no-output-bias"),
               "rectify_inputs": ("--rectify-inputs", "--no-rectify-inputs")}


def train_command(config: dict, out: str) -> str:
    """The ``csdm train`` command line of one run (options that differ from the defaults)."""
    from experiments.config import TrainConfig

    defaults = TrainConfig().model_dump()
    args = ["csdm", "train"]
    for name, value in config.items():
        if value == defaults.get(name) or value is None:
            continue
        if isinstance(value, bool):
            on, off = _FLAG_BOOLS.get(name, (f"--{name.replace('_', '-')}", f"--no-{name.replace('_', '-')}"))
            args.append(on if value else off)
        else:
            args += [f"--{name.replace('_', '-')}", str(value)]
    return shlex.join([*args, "--out", out, "--quiet"])


def plan_runs(h: Hypothesis, *, seeds: int, dataset: str, data_dir: str | None, budget: str, device: str,
              out: Path) -> dict[str, dict[str, Any]]:
    """condition -> {"config": config without seed, "runs": [(config dict, folder)] one per seed}."""
    from experiments.config import TrainConfig, validated
    from experiments.hypotheses.execute import config_key

    plan: dict[str, dict[str, Any]] = {}
    for cond, values in h.condition_values(budget).items():
        runs = []
        for seed in range(seeds):
            merged = {**h.base(budget), **values, "dataset": dataset, "data_dir": data_dir, "seed": seed,
                      "device": device}
            cfg = validated(TrainConfig, merged).model_dump()
            key = config_key({k: v for k, v in cfg.items() if k != "device"})
            runs.append((cfg, str(out.resolve() / "runs" / f"{cond}-s{seed}-{key}")))  # absolute: remote workers
        shown = {k: v for k, v in runs[0][0].items() if k != "seed"}
        plan[cond] = {"config": shown, "runs": runs}
    return plan


def run_hypothesis(hypothesis: Hypothesis | str, *, seeds: int = 5, dataset: str = "digits",
                   data_dir: str | None = None, budget: str = "small", out: str | Path | None = None,
                   workers: int = 0, scheduler: str | None = None, device: str = "auto",
                   alpha: float = 0.05, figures: bool = True) -> dict:
    """Run every condition x seed of ``hypothesis`` (serially with ``workers=0``, else on Dask), measure each
    run, apply the stated test and write OUT/hypothesis.json (returned), figures and hypothesis.md."""
    h = get_hypothesis(hypothesis) if isinstance(hypothesis, str) else hypothesis
    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"--seeds must be >= 1. Got {seeds}.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1). Got {alpha}.")
    out = Path(out) if out is not None else Path("runs") / f"hypothesis-{h.name}-{dataset}-{budget}"
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder.")
    command = ["csdm", "hypothesis", "run", h.name, "--seeds", str(seeds), "--budget", budget, "--out", str(out)]
    conditions: dict[str, dict[str, Any]] = {}
    folders: dict[str, list[Path]] = {}
    commands: list[str]
    if h.simulate is not None:
        base = h.base(budget)
        if h.needs_data:
            base = {**base, "dataset": dataset, "data_dir": data_dir}
            command[6:6] = ["--dataset", dataset] + (["--data-dir", str(data_dir)] if data_dir else [])
        for cond, values in h.condition_values(budget).items():
            config = {**base, **values}
            conditions[cond] = {"config": config, "values": [float(h.simulate(config, s)) for s in range(seeds)]}
        commands = [shlex.join(command)]
    else:
        from experiments.hypotheses.execute import execute

        command[6:6] = ["--dataset", dataset] + (["--data-dir", str(data_dir)] if data_dir else [])
        plan = plan_runs(h, seeds=seeds, dataset=dataset, data_dir=data_dir, budget=budget, device=device, out=out)
        jobs = [run for p in plan.values() for run in p["runs"]]
        if workers:
            command += ["--workers", str(workers)]
        if scheduler:
            command += ["--scheduler", scheduler]
        execute(jobs, workers=workers, scheduler=scheduler)
        for cond, p in plan.items():
            folders[cond] = [Path(folder) for _, folder in p["runs"]]
            conditions[cond] = {"config": p["config"],
                                "values": [float(h.measurement(Path(folder))) for _, folder in p["runs"]]}
        commands = [shlex.join(command)] + [train_command(cfg, _shown(folder)) for p in plan.values()
                                            for cfg, folder in p["runs"]]
    t = h.comparison(budget)
    a = conditions[t.a]["values"]
    b = conditions[t.b]["values"] if t.b is not None else None
    res = run_test(t, a, b)
    result = {"name": h.name, "claim": h.claim, "source": h.source, "conditions": conditions, "measure": h.measure,
              "test": t.describe(), "statistic": res["statistic"], "p_value": res["p_value"],
              "effect": res["effect"], "ci": res["ci"], "alpha": alpha,
              "decision": decide(res["p_value"], alpha, res["effect"], t), "commands": commands,
              "git_revision": _git_revision()}
    assert tuple(result) == KEYS
    from experiments.rundir import write_json

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "hypothesis.json", result)
    details = {"metrics": summarise_metrics(folders)} if folders else {}
    if h.details is not None:
        details.update(h.details(result, folders))
    if details:
        write_json(out / "details.json", details)
    files = make_figures(h, result, folders, out) if figures else []
    from experiments.rundir import atomic_write

    text = markdown_section(result, details, [f.relative_to(out) for f in files])
    atomic_write(out / "hypothesis.md", lambda f: f.write(text))
    return result


def _shown(folder: str) -> str:
    """A run folder as the commands show it: relative to the working directory when inside it (the tasks get
    absolute paths, for remote workers)."""
    path = Path(folder)
    return path.relative_to(Path.cwd()).as_posix() if path.is_relative_to(Path.cwd()) else folder


def _git_revision() -> str:
    from experiments.rundir import provenance

    return provenance()["git_revision"]


def summarise_metrics(folders: dict[str, list[Path]]) -> dict[str, dict[str, float]]:
    """Mean over seeds of each condition's acc, forgetting, learning_acc and final dead fraction."""
    from experiments.hypotheses.core import read_metrics

    summary = {}
    for cond, paths in folders.items():
        ms = [read_metrics(p) for p in paths]
        summary[cond] = {key: float(np.mean([m[key] for m in ms])) for key in ("acc", "forgetting", "learning_acc")}
        summary[cond]["dead_fraction"] = float(np.mean([m["dead_fraction"][-1] for m in ms]))
    return summary


def make_figures(h: Hypothesis, result: dict, folders: dict[str, list[Path]], out: Path) -> list[Path]:
    """figures/values.png (every hypothesis: values per condition, seeds joined) and the hypothesis's own."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = out / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    names = list(result["conditions"])
    vals = [np.asarray(result["conditions"][n]["values"], dtype=float) for n in names]
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(names), 3.2))
    for s in range(max(len(v) for v in vals)):
        ax.plot(range(len(names)), [v[s] if s < len(v) else np.nan for v in vals], "-o", color="0.6", lw=0.8,
                ms=3, zorder=1)
    ax.scatter(range(len(names)), [v.mean() for v in vals], s=60, color="C3", zorder=2, label="mean")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel(re.split(r"[(:;,]", result["measure"])[0].strip()[:45], fontsize=8)
    p = result["p_value"]
    ax.set_title(f"{result['name']}: p = {p:.3g}" if p is not None else result["name"], fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = folder / "values.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    files = [path]
    if h.figure is not None:
        files += h.figure(result, folders, folder)
    return files


def _fmt(x: Any) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def markdown_section(result: dict, details: dict, figures: list[Path]) -> str:
    """The Markdown section of one hypothesis result (links relative to its OUT folder)."""
    lines = [f"## `{result['name']}`", "", f"**Claim.** {result['claim']}", "", f"**Source.** {result['source']}",
             "", f"**Measure.** {result['measure']}", "", "| condition | values (seed 0, 1, ...) | mean |",
             "|---|---|---|"]
    for name, c in result["conditions"].items():
        v = c["values"]
        lines.append(f"| {name} | {', '.join(f'{x:.4g}' for x in v)} | {np.mean(v):.4g} |")
    ci = result["ci"]
    lines += ["", f"**Test.** {result['test']}: statistic {_fmt(result['statistic'])}, p = {_fmt(result['p_value'])}, "
              f"effect {_fmt(result['effect'])} (95 % CI {_fmt(ci[0])} to {_fmt(ci[1])}), alpha {result['alpha']}.",
              "", f"**Decision.** {result['decision']}."]
    if details:
        lines += ["", "**Details.**", "", "```", json.dumps(details, indent=1, default=str)[:4000], "```"]
    for f in figures:
        lines += ["", f"![{f.stem}]({f.as_posix()})"]
    lines += ["", "Reproduce:", "", "```", result["commands"][0], "```", ""]
    return "\n".join(lines)
