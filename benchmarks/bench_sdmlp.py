"""Training throughput of the SDMLP against a dense ReLU MLP of the same shape, same run.

Prints samples/s for each and the cost ratio SDMLP / dense (goal: <= 1.5x per step), on CPU
and, when PyTorch sees one, on CUDA. Data: MNIST-shaped non-negative random inputs (speed
does not depend on the pixel values).

    python benchmarks/bench_sdmlp.py [--n-neurons 1000] [--batch-size 128] [--samples 12800] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ann import SDMLP, ReLUMLP


def throughput(model, x, y, epochs: int, repeats: int) -> float:
    """Best-of-``repeats`` training samples per second over ``epochs`` epochs (after a warm-up epoch)."""
    model.fit_task(x, y, epochs=1)
    best = 0.0
    for _ in range(repeats):
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        model.fit_task(x, y, epochs=epochs)
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, epochs * len(x) / (time.perf_counter() - t0))
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-inputs", type=int, default=784)
    p.add_argument("--n-neurons", type=int, default=1000)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--samples", type=int, default=12800)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()

    rng = np.random.default_rng(0)
    x = rng.random((args.samples, args.n_inputs), dtype=np.float32)
    y = rng.integers(0, 10, args.samples)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, n_inputs {args.n_inputs}, "
          f"n_neurons {args.n_neurons}, k {args.k}, batch {args.batch_size}")
    print(f"{'device':<8}{'SDMLP samples/s':>18}{'dense MLP samples/s':>22}{'SDMLP/dense cost':>18}")
    for device in devices:
        common = dict(n_outputs=10, lr=0.05, batch_size=args.batch_size, device=device, seed=0)
        sdm = SDMLP(args.n_inputs, args.n_neurons, k=args.k, **common)
        dense = ReLUMLP(args.n_inputs, args.n_neurons, **common)
        s = throughput(sdm, x, y, args.epochs, args.repeats)
        d = throughput(dense, x, y, args.epochs, args.repeats)
        print(f"{device:<8}{s:>18,.0f}{d:>22,.0f}{d / s:>17.2f}x")


if __name__ == "__main__":
    main()
