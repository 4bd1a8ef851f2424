"""Speed-up of training S seeds of the SDMLP as one batched model over S sequential runs (CPU).

    PYTHONPATH=. python benchmarks/bench_seeds.py --seeds 3 --n-neurons 1000 --epochs 2

Data: one Split-MNIST-sized task of random non-negative inputs (784 features, 12,000 samples)
unless --digits is given (scikit-learn digits, 64 features).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ann import SDMLP


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-neurons", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=12000)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 784)).astype(np.float32)
    y = rng.integers(0, 2, args.samples)

    def make(**kw):
        return SDMLP(784, args.n_neurons, 10, k=10, batch_size=args.batch_size, device="cpu", **kw)

    start = time.perf_counter()
    for seed in range(args.seeds):
        make(seed=seed).fit_task(x, y, args.epochs)
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    make(seed=0, n_models=args.seeds).fit_task(x, y, args.epochs)
    batched = time.perf_counter() - start
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.samples} samples x {args.epochs} "
          f"epochs, r={args.n_neurons}, batch {args.batch_size}")
    print(f"{args.seeds} sequential runs: {sequential:.2f} s; 1 batched model of {args.seeds}: {batched:.2f} s; "
          f"speed-up x{sequential / batched:.2f}")


if __name__ == "__main__":
    main()
