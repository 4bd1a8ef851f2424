"""The ``csdm`` command line. Bad input exits with code 2 and a one-line message."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from experiments.config import TrainConfig, build_config

app = typer.Typer(
    help="Cerebellar SDM engine: the SDMLP (Bricken et al., ICLR 2023) and a Brian2 cerebellar circuit "
    "on the same continual-learning streams.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Cerebellar SDM engine (see `csdm COMMAND --help`)."""


def friendly_errors(command: Callable) -> Callable:
    """Bad input (ValueError, missing file) exits with code 2 and one line, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (ValueError, FileNotFoundError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(2) from None

    return wrapper


def _help(field: str, extra: str = "") -> str:
    info = TrainConfig.model_fields[field]
    return f"{info.description}{extra} [default: {info.default}]"


@app.command()
@friendly_errors
def train(
    model: Annotated[str | None, typer.Option(help=_help("model", ": sdmlp | relu"))] = None,
    dataset: Annotated[str | None, typer.Option(help=_help("dataset"))] = None,
    data_dir: Annotated[str | None, typer.Option(help=_help("data_dir", "; env CSDM_DATA_DIR"))] = None,
    n_neurons: Annotated[int | None, typer.Option(help=_help("n_neurons"))] = None,
    k: Annotated[int | None, typer.Option("--k", help=_help("k"))] = None,
    anneal_epochs: Annotated[int | None, typer.Option(help=_help("anneal_epochs"))] = None,
    gaba_s: Annotated[float | None, typer.Option(help=_help("gaba_s"))] = None,
    topk_mode: Annotated[str | None, typer.Option(help=_help("topk_mode"))] = None,
    optimizer: Annotated[str | None, typer.Option(help=_help("optimizer"))] = None,
    lr: Annotated[float | None, typer.Option(help=_help("lr"))] = None,
    batch_size: Annotated[int | None, typer.Option(help=_help("batch_size"))] = None,
    epochs_per_task: Annotated[int | None, typer.Option(help=_help("epochs_per_task"))] = None,
    classes_per_task: Annotated[int | None, typer.Option(help=_help("classes_per_task"))] = None,
    class_order: Annotated[str | None, typer.Option(help=_help("class_order"))] = None,
    seed: Annotated[int | None, typer.Option(help=_help("seed"))] = None,
    device: Annotated[str | None, typer.Option(help=_help("device"))] = None,
    rectify_inputs: Annotated[bool | None, typer.Option("--rectify-inputs", help=_help("rectify_inputs"))] = None,
    eval_every: Annotated[int | None, typer.Option(help=_help("eval_every"))] = None,
    config: Annotated[Path | None, typer.Option(help="TOML file of options (keys as above); flags override it")] = None,
    out: Annotated[Path | None, typer.Option(help="run folder [default: runs/train-MODEL-DATASET-sSEED]")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue the run in --out from its last task")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace the run in --out")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bars")] = False,
) -> None:
    """Train one learner on a class-incremental stream and write a run folder.

    Writes config.json, metrics.json (accuracy_matrix, acc, bwt, forgetting, learning_acc,
    dead_fraction, curves), accuracy_matrix.csv, checkpoint.pt and plots/. Example:

        csdm train --model sdmlp --dataset digits --out runs/demo
    """
    values = {name: v for name, v in locals().items() if name in TrainConfig.model_fields}
    from experiments.train import format_summary, run_training

    cfg = build_config(values, config)
    out = out or Path("runs") / f"train-{cfg.model}-{cfg.dataset}-s{cfg.seed}"
    metrics = run_training(cfg, out, resume=resume, overwrite=overwrite, progress=not quiet)
    typer.echo(format_summary(metrics))
    typer.echo(f"run folder: {out}")


def main() -> None:
    """Entry point of the ``csdm`` console script."""
    app()


if __name__ == "__main__":
    main()
