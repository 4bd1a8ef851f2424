"""``csdm hypothesis list | run NAME | report``: a Typer sub-app, registered in experiments/cli.py with

    from experiments.hypotheses.cli import hypothesis_app
    app.add_typer(hypothesis_app, name="hypothesis")

Bad input raises ValueError inside; ``experiments.errors.friendly_errors`` makes it ``error: <one line>`` and
exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from experiments.errors import friendly_errors

hypothesis_app = typer.Typer(
    help="Hypothesis tests: conditions x seeds (on Dask), a measurement per run, a scipy.stats test, "
    "hypothesis.json, figures and a Markdown section.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


_errors = friendly_errors("interrupted; run the same command again: finished runs are kept and skipped")


@hypothesis_app.command("list")
@_errors
def list_() -> None:
    """Show the registered hypotheses: name, claim and source."""
    from experiments.hypotheses import all_hypotheses

    for h in all_hypotheses().values():
        typer.echo(f"{h.name}\n  claim:  {h.claim}\n  source: {h.source}\n  test:   "
                   f"{h.comparison('small').describe()}\n")


@hypothesis_app.command("run")
@_errors
def run(
    name: Annotated[str, typer.Argument(help="hypothesis name (csdm hypothesis list)")],
    seeds: Annotated[int, typer.Option(help="seeds 0..N-1 per condition, paired by seed")] = 5,
    dataset: Annotated[str, typer.Option(help="digits | mnist | fashion-mnist | npz")] = "digits",
    data_dir: Annotated[str | None, typer.Option(help="folder of IDX files, or the .npz file")] = None,
    budget: Annotated[str, typer.Option(help="tiny (tests) | small (each within minutes on a CPU, digits) | "
                                        "paper (the paper's sizes)")] = "small",
    out: Annotated[Path | None, typer.Option(help="output folder [default: runs/hypothesis-NAME-DATASET-BUDGET]")]
    = None,
    workers: Annotated[int, typer.Option(help="Dask LocalCluster worker processes, one thread each (0: serial, "
                                         "in this process)")] = 0,
    scheduler: Annotated[str | None, typer.Option(help="address of a running Dask scheduler, e.g. "
                                                  "tcp://127.0.0.1:8786 (dask-jobqueue for Slurm/PBS)")] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    alpha: Annotated[float, typer.Option(help="significance level of the test")] = 0.05,
) -> None:
    """Run every condition x seed of NAME, apply its test and write OUT/hypothesis.json, figures/ and
    hypothesis.md. A rerun skips finished runs. Example:

        csdm hypothesis run subtract-beats-mask --seeds 5 --budget small --workers 2
    """
    from experiments.hypotheses import run_hypothesis

    if workers and scheduler:
        raise ValueError("give --workers (a LocalCluster) or --scheduler (an existing cluster), not both.")
    result = run_hypothesis(name, seeds=seeds, dataset=dataset, data_dir=data_dir, budget=budget, out=out,
                            workers=workers, scheduler=scheduler, device=device, alpha=alpha)
    for cond, c in result["conditions"].items():
        typer.echo(f"{cond:>20}: " + " ".join(f"{v:.4g}" for v in c["values"]))
    p = result["p_value"]
    typer.echo(f"{result['test']}\neffect {result['effect']:.4g} (95 % CI {result['ci'][0]:.4g} to "
               f"{result['ci'][1]:.4g}), p = {'n/a' if p is None else f'{p:.4g}'}: {result['decision']}")
    folder = out or Path("runs") / f"hypothesis-{name}-{dataset}-{budget}"
    typer.echo(f"written: {folder / 'hypothesis.json'}")


@hypothesis_app.command("report")
@_errors
def report(
    folders: Annotated[list[Path], typer.Argument(help="output folders of `csdm hypothesis run`")],
    out: Annotated[Path | None, typer.Option(help="Markdown file to write (default: print)")] = None,
) -> None:
    """Collect the hypothesis.md sections of finished hypothesis runs into one Markdown document."""
    from experiments.hypotheses.report import collect

    text = collect(folders, out)
    if out is None:
        typer.echo(text)
    else:
        typer.echo(f"written: {out}")

