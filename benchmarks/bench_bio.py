"""Throughput of the Brian2 cerebellar circuit: presentations per second, simulated/wall time.

Run: ``PYTHONPATH=. python benchmarks/bench_bio.py [--quick] [--targets numpy cython] [--workers 1 2]
[--rate-batches 50 100 200] [--spiking-batches 25 50] [--spiking-dt 0.1 0.2] [--spiking-presentation 200 400]
[--depression 0 0.05]
[--integration explicit implicit]``.
``--integration`` lists rate-mode ``rate_integration`` values to compare side by side: the Golgi loop coupled
explicitly (adapt_to's step, within the loop's stability bound) or implicitly (each step solved, a step set by
accuracy). Every circuit runs as production runs do: mature GABA, rate mode set from the data, spiking mode's Golgi
gain calibrated to k = 10 on the first 50 inputs. Every row also prints the Jaccard overlap of the active cells
with the exact Top-K set (k = 10), the fidelity that throughput buys (spiking: on inputs that include the 50 it was
calibrated on). ``--spiking-dt`` lists spiking integration steps to compare side by side, ``--spiking-presentation``
spiking presentation times (each read over its last ``bio.spiking.READ_FRACTION``): what the time to settle costs.
``--depression`` lists rate-mode ``golgi_depression`` values (saturating granule -> Golgi synapses) to compare
side by side at 1,000 cells: adapt_to's step, and so the throughput, follows the loop's steepness.
``--workers`` lists worker-process counts to compare side by side (``n_workers``: each batch is
split across the processes; runtime targets only). ``batch`` is the number of presentations one
process simulates side by side (the circuit's ``batch_size`` is batch x workers), so worker
counts are compared at equal work per process: the batch changes how much of the state fits in
the CPU caches (rate mode, 1,000 cells, 2 processes: 572/s at 100 each, 227/s at 200 each).
Goals (2 CPU cores, 1,000 granule cells): rate mode >= 1,000 presentations/s; spiking
<= 20 ms wall per presentation (``ms_per_pres``; spiking mode's default presentation is 400 ms, and
``ms_per_100ms`` gives the wall time per 100 ms simulated). The first call per configuration (code generation,
Cython or C++ compilation on a cold cache) is timed separately as "warm-up" and excluded.
cpp_standalone runs the compiled program once per simulation batch (a subprocess that reads
its inputs from and writes all state to files), so its figure includes that per-batch cost.
Every ``Network.run`` runs with the process's live objects frozen out of the garbage collector
(``bio.brian.frozen_gc``), so the full ``gc.collect()`` it starts with costs little.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits

import bio
from bridge.calibrate import adapt_circuit, calibrate_golgi, golgi_search
from bridge.fidelity import exact_topk_set, set_metrics


def measure(mode: str, target: str, n_neurons: int, n_presentations: int, batch: int,
            n_workers: int = 1, depression: float | None = None, integration: str = "explicit",
            dt_ms: float | None = None, presentation_ms: float | None = None) -> dict:
    """Presentations/s of ``n_presentations`` digits, ``batch`` per process side by side, after a warm-up call, and
    the fidelity of what was simulated: the Jaccard overlap of the active cells with the exact Top-K set."""
    x = load_digits().data.astype(np.float32)
    x = x[np.arange(n_presentations) % len(x)]
    c = bio.CerebellarCircuit(64, n_neurons, 10, mode=mode, batch_size=batch * n_workers, copies=batch,
                              codegen_target=target, n_workers=n_workers,
                              **({"golgi_depression": depression} if depression is not None else {}),
                              **({"rate_integration": integration} if mode == "rate" else {}),
                              **({"dt_ms": dt_ms} if dt_ms is not None else {}),
                              **({"presentation_ms": presentation_ms} if presentation_ms is not None else {}))
    # the production settings for k = 10, as csdm calibrate and csdm fidelity set them: mature GABA (an immature
    # circuit's depolarising GABA leaves the granule cells firing far more, a cost production runs do not pay), then
    # rate mode sets Eq. 13 and its step from the data, spiking mode calibrates its Golgi parameter on 50 inputs
    c.mature()
    if mode == "rate":
        adapt_circuit(c, x[:200], 10)
    else:
        calibrate_golgi(c, x[:50], 10, *golgi_search(mode, c.golgi_model))
    t0 = time.perf_counter()
    c.hidden(x[: batch * n_workers])  # every worker starts and builds its loop
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    h = c.hidden(x)
    wall = time.perf_counter() - t0
    drive = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ c.address_
    jaccard = set_metrics(exact_topk_set(drive, 10), h > c.active_threshold)["jaccard"].mean()
    c.close()
    simulated_s = n_presentations * c.presentation_ms * 1e-3
    return dict(
        mode=mode,
        integration=integration if mode == "rate" else "-",
        target=target,
        workers=n_workers,
        depression=c.golgi_depression,  # the circuit's (spiking rows: its default)
        n_neurons=n_neurons,
        batch=batch,
        presentation_ms=c.presentation_ms,
        dt_ms=c.dt_ms,
        warmup_s=warm,
        pres_per_s=n_presentations / wall,
        ms_per_pres=1e3 * wall / n_presentations,
        sim_to_wall=simulated_s / wall,
        ms_per_100ms=100.0 * wall / simulated_s,  # wall ms per 100 ms simulated
        jaccard=float(jaccard),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="+", default=["numpy", "cython", "cpp_standalone"],
                        help="Brian2 code generation targets (cpp_standalone: rate mode only)")
    parser.add_argument("--workers", nargs="+", type=int, default=[1],
                        help="worker-process counts to compare at 1,000 cells (runtime targets)")
    parser.add_argument("--rate-batches", nargs="+", type=int, default=[100],
                        help="rate-mode presentations per process simulated side by side (1,000 cells)")
    parser.add_argument("--spiking-batches", nargs="+", type=int, default=[50],
                        help="spiking-mode presentations per process simulated side by side")
    parser.add_argument("--spiking-dt", nargs="+", type=float, default=[None],
                        help="spiking-mode integration steps (ms) to compare side by side [default: the circuit's]")
    parser.add_argument("--spiking-presentation", nargs="+", type=float, default=[None],
                        help="spiking-mode presentation times (ms) to compare side by side [default: the circuit's]")
    parser.add_argument("--depression", nargs="+", type=float, default=[0.0],
                        help="rate-mode golgi_depression values to compare at 1,000 cells (0: Eq. 13's linear input)")
    parser.add_argument("--integration", nargs="+", default=["explicit", "implicit"],
                        choices=["explicit", "implicit"], help="rate-mode rate_integration values to compare side by "
                        "side at 1,000 cells (implicit: runtime targets)")
    parser.add_argument("--quick", action="store_true", help="fewer presentations")
    args = parser.parse_args()
    n_rate, n_spike = (200, 40) if args.quick else (1000, 100)
    rows = []
    for target in args.targets:
        for workers in args.workers:
            if workers > 1 and target == "cpp_standalone":
                continue  # one compiled project per circuit
            rows += [measure("rate", target, 1000, n_rate, b, workers, rho, integration) for b in args.rate_batches
                     for rho in args.depression for integration in args.integration
                     if integration == "explicit" or target != "cpp_standalone"]
            if target != "cpp_standalone":
                rows += [measure("spiking", target, 1000, n_spike, b, workers, dt_ms=dt, presentation_ms=t)
                         for b in args.spiking_batches for dt in args.spiking_dt for t in args.spiking_presentation]
        for n in (250, 4000):
            rows.append(measure("rate", target, n, n_rate, args.rate_batches[0]))
    cols = [
        "mode",
        "integration",
        "target",
        "workers",
        "depression",
        "n_neurons",
        "batch",
        "presentation_ms",
        "dt_ms",
        "warmup_s",
        "pres_per_s",
        "ms_per_pres",
        "sim_to_wall",
        "ms_per_100ms",
        "jaccard",
    ]
    print(" | ".join(f"{c:>15}" for c in cols))
    for r in rows:
        print(" | ".join(f"{r[c]:>15.3g}" if isinstance(r[c], float) else f"{r[c]:>15}" for c in cols))


if __name__ == "__main__":
    main()
