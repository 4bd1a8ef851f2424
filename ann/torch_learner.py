"""The training loop shared by every PyTorch learner (SDMLP and the baselines).

Data for a task is moved to the device once; batches are index slices of it (no
DataLoader, no per-batch host copies). Each learner owns its random generator, saved
in ``state_dict``, so a resumed run continues bit-for-bit on CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

OptimizerName = Literal["sgd", "sgdm", "adam", "rmsprop"]
_EVAL_BATCH = 4096


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; 'cuda' without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but PyTorch sees no CUDA GPU; use 'auto' or 'cpu'.")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]'. Got {device!r}.")
    return torch.device(device)


def make_optimizer(name: OptimizerName, params, lr: float) -> torch.optim.Optimizer:
    """The optimisers of the paper's Table 2 with their standard hyperparameters (App. D)."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "sgdm":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.99)
    raise ValueError(f"optimizer must be one of sgd, sgdm, adam, rmsprop. Got {name!r}.")


class TorchLearner:
    """Base of the PyTorch learners; implements the ``bridge.Learner`` protocol.

    Subclasses build ``self.net`` (an ``nn.Module`` whose ``forward(x)`` returns
    ``(logits, hidden)``) in ``_build`` and may override ``_prepare`` (input checks
    and preprocessing), ``_loss`` (add penalties) and ``_after_step`` (constraints).
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        *,
        lr: float,
        batch_size: int,
        optimizer: OptimizerName,
        device: str,
        seed: int,
    ) -> None:
        _check_int("n_inputs", n_inputs, 1)
        _check_int("n_outputs", n_outputs, 2)
        _check_int("batch_size", batch_size, 1)
        if not (lr > 0 and np.isfinite(lr)):
            raise ValueError(f"The 'lr' parameter must be a finite float > 0. Got {lr}.")
        self.n_inputs, self.n_outputs = n_inputs, n_outputs
        self.lr, self.batch_size, self.seed = lr, batch_size, seed
        self.device = resolve_device(device)
        self._gen = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net: nn.Module = self._build().to(self.device)
        self.optimizer = make_optimizer(optimizer, self.net.parameters(), lr)
        self.epochs_seen = 0  # global epoch counter across tasks (E_t of Eq. 4)

    # --- hooks -----------------------------------------------------------------------
    def _build(self) -> nn.Module:
        raise NotImplementedError

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(logits, y)

    def _after_step(self, hidden: torch.Tensor) -> None:
        """Called after every optimiser step with the batch's hidden activity."""

    # --- Learner protocol ------------------------------------------------------------
    def fit_task(
        self, x: np.ndarray, y: np.ndarray, epochs: int, on_epoch: Callable[[int], None] | None = None
    ) -> TorchLearner:
        _check_int("epochs", epochs, 1)
        xt = self._prepare(self._to_tensor(x))
        yt = torch.as_tensor(self._check_labels(y, len(x)), device=self.device)
        n = len(xt)
        self.net.train()
        for epoch in range(epochs):
            order = torch.randperm(n, generator=self._gen).to(self.device)
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                logits, hidden = self.net(xt[idx])  # (B, n_outputs), (B, n_neurons)
                loss = self._loss(logits, yt[idx])
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                self._after_step(hidden.detach())
            self.epochs_seen += 1
            self._on_epoch_end()
            if on_epoch is not None:
                on_epoch(epoch)
        return self

    def _on_epoch_end(self) -> None:
        """Called after each epoch, before ``on_epoch`` (k annealing updates here)."""

    @torch.no_grad()
    def _forward_all(self, x: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        self.net.eval()
        xt = self._prepare(self._to_tensor(x))
        outs = [self.net(xt[i : i + _EVAL_BATCH]) for i in range(0, len(xt), _EVAL_BATCH)]
        self.net.train()
        return torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs])

    def predict(self, x: np.ndarray) -> np.ndarray:
        logits, _ = self._forward_all(x)
        return logits.argmax(dim=1).cpu().numpy().astype(np.int64)

    def hidden(self, x: np.ndarray) -> np.ndarray:
        _, hidden = self._forward_all(x)
        return hidden.cpu().numpy().astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {
            "net": {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "generator": self._gen.get_state(),
            "epochs_seen": self.epochs_seen,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self._gen.set_state(state["generator"])
        self.epochs_seen = int(state["epochs_seen"])
        self._on_load()

    def _on_load(self) -> None:
        """Re-derive cached quantities after ``load_state_dict``."""

    # --- input checks ----------------------------------------------------------------
    def _to_tensor(self, x: np.ndarray) -> torch.Tensor:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(
                f"x must have shape (batch, {self.n_inputs}) for {type(self).__name__}; got {x.shape}."
            )
        if not np.all(np.isfinite(x)):
            raise ValueError("x contains NaN or inf; clean the data before training.")
        return torch.as_tensor(x, dtype=torch.float32, device=self.device)

    def _check_labels(self, y: np.ndarray, n: int) -> np.ndarray:
        y = np.asarray(y)
        if y.shape != (n,):
            raise ValueError(f"y must have shape ({n},) to match x; got {y.shape}.")
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must hold integer class labels; got dtype {y.dtype}.")
        if n and (y.min() < 0 or y.max() >= self.n_outputs):
            raise ValueError(
                f"labels must be in [0, {self.n_outputs - 1}] for n_outputs={self.n_outputs}; "
                f"got range [{y.min()}, {y.max()}]."
            )
        return y.astype(np.int64)


def _check_int(name: str, value: int, low: int, high: int | None = None) -> None:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low
    ok = ok and (high is None or value <= high)
    if not ok:
        rng = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"The '{name}' parameter must be an int {rng}. Got {value!r}.")
