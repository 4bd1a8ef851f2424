"""The training loop shared by every PyTorch learner (SDMLP and the baselines).

Data for a task is moved to the device once; batches are index slices of it (no
DataLoader, no per-batch host copies). Each learner owns its random generators, saved
in ``state_dict``, so a resumed run continues bit-for-bit on CPU.

Batched seeds: a learner may hold ``n_models`` independent models (seeds ``seed``,
``seed + 1``, ...) whose weights are stacked along a leading axis S. Every net takes
inputs (S, B, n_inputs) (or (1, B, n_inputs), broadcast) and returns logits (S, B, o)
and hidden (S, B, r); each model draws its own batch order, and the loss is the sum of
the models' mean losses, so each model's gradient is exactly its own single-seed
gradient. With S = 1 this is the ordinary single-model path (one code path for both).

``grad_clip`` caps each model's gradient norm before the step (the reference code's 1.0).

Continual-learning regularisers (``ann.regularizers``) are components: any learner takes
``regularizer=``; the loop adds ``regularizer.penalty(net)`` to the loss, calls
``before_step`` / ``after_step`` around each optimiser step and ``after_task`` at the end
of ``fit_task`` (the end-of-task hook ``_on_task_end``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

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


class Regularizer(Protocol):
    """What the training loop asks of a regulariser (``ann.regularizers.ImportancePenalty``)."""

    def penalty(self, net: nn.Module) -> torch.Tensor: ...

    def before_step(self, net: nn.Module, logits: torch.Tensor, y: torch.Tensor) -> None: ...

    def after_step(self, net: nn.Module) -> None: ...

    def after_task(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any], device: torch.device | str = "cpu") -> None: ...


class TorchLearner:
    """Base of the PyTorch learners; implements the ``bridge.Learner`` protocol.

    Subclasses build ``self.net`` (an ``nn.Module`` whose ``forward(x)`` returns
    ``(logits, hidden)``) in ``_build`` and may override ``_prepare`` (input checks
    and preprocessing), ``_loss``, ``_after_step`` (constraints), ``_on_epoch_end`` and
    ``_on_task_end``. Subclasses whose net is stacked over models set ``batched = True``.
    """

    batched = False

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
        n_models: int = 1,
        regularizer: Regularizer | None = None,
        grad_clip: float | None = None,
    ) -> None:
        _check_int("n_inputs", n_inputs, 1)
        if grad_clip is not None and not (grad_clip > 0 and np.isfinite(grad_clip)):
            raise ValueError(f"The 'grad_clip' parameter must be a finite float > 0 or None. Got {grad_clip!r}.")
        _check_int("n_models", n_models, 1)
        if n_models > 1 and not self.batched:
            raise ValueError(f"The 'n_models' parameter of {type(self).__name__} must be 1 (batched seeds are "
                             f"implemented for SDMLP). Got {n_models}.")
        if n_models > 1 and regularizer is not None:
            raise ValueError("A regularizer needs n_models=1: importances are estimated per model.")
        _check_int("n_outputs", n_outputs, 2)
        _check_int("batch_size", batch_size, 1)
        if not (lr > 0 and np.isfinite(lr)):
            raise ValueError(f"The 'lr' parameter must be a finite float > 0. Got {lr}.")
        self.n_inputs, self.n_outputs = n_inputs, n_outputs
        self.lr, self.batch_size, self.seed, self.n_models = lr, batch_size, seed, n_models
        self.regularizer, self.grad_clip = regularizer, grad_clip
        self.device = resolve_device(device)
        self._gens = [torch.Generator().manual_seed(s) for s in self.seeds]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net: nn.Module = self._build().to(self.device)
        self.optimizer = make_optimizer(optimizer, self.net.parameters(), lr)
        self.epochs_seen = 0  # global epoch counter across tasks (E_t of Eq. 4)

    @property
    def seeds(self) -> list[int]:
        """The seed of each stacked model: seed, seed + 1, ..., seed + n_models - 1."""
        return list(range(self.seed, self.seed + self.n_models))

    # --- hooks -----------------------------------------------------------------------
    def _build(self) -> nn.Module:
        raise NotImplementedError

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Sum over models of each model's mean cross-entropy; logits (S, B, o), y (S, B)."""
        return nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten()) * logits.shape[0]

    def _after_step(self, hidden: torch.Tensor) -> None:
        """Called after every optimiser step with the batch's hidden activity."""

    # --- Learner protocol ------------------------------------------------------------
    def fit_task(
        self, x: np.ndarray, y: np.ndarray, epochs: int, on_epoch: Callable[[int], None] | None = None,
        start_epoch: int = 0,
    ) -> TorchLearner:
        """Epochs ``start_epoch ... epochs - 1`` of one task (``bridge.Learner``), then the end-of-task hook."""
        _check_int("epochs", epochs, 1)
        _check_int("start_epoch", start_epoch, 0, epochs)
        xt = self._prepare(self._to_tensor(x))
        yt = torch.as_tensor(self._check_labels(y, len(x)), device=self.device)
        n = len(xt)
        self.net.train()
        for epoch in range(start_epoch, epochs):
            # (S, n): each model shuffles with its own generator
            orders = torch.stack([torch.randperm(n, generator=g) for g in self._gens]).to(self.device)
            for start in range(0, n, self.batch_size):
                idx = orders[:, start : start + self.batch_size]  # (S, B)
                self._step(xt[idx], yt[idx])
            self.epochs_seen += 1
            self._on_epoch_end()
            if on_epoch is not None:
                on_epoch(epoch)
        self._on_task_end(xt, yt)
        return self

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """One optimiser step on x (S, B, n_inputs), y (S, B)."""
        logits, hidden = self.net(x)  # (S, B, n_outputs), (S, B, n_neurons)
        loss = self._loss(logits, y)
        reg = self.regularizer
        if reg is not None:
            reg.before_step(self.net, logits, y)
            loss = loss + reg.penalty(self.net)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip is not None:
            self._clip_gradients(self.grad_clip)
        self.optimizer.step()
        self._after_step(hidden.detach())
        if reg is not None:
            reg.after_step(self.net)

    @torch.no_grad()
    def _clip_gradients(self, max_norm: float) -> None:
        """Scale each model's gradient to total L2 norm <= ``max_norm`` (over all its parameters).

        The same rule as ``torch.nn.utils.clip_grad_norm_`` (the reference code clips at 1.0), applied
        per stacked model so that a batched learner's seeds stay independent.
        """
        grads = [p.grad for p in self.net.parameters() if p.grad is not None]
        per_model = [g.flatten(1) if self.batched else g.reshape(1, -1) for g in grads]
        norm = torch.sqrt(sum(g.pow(2).sum(dim=1) for g in per_model))  # (S,)
        scale = (max_norm / (norm + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(scale.view(-1, *[1] * (g.dim() - 1)) if self.batched else scale)

    def _on_task_end(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Called at the end of ``fit_task`` with the task's prepared data (importances, anchors)."""
        if self.regularizer is not None:
            self.net.eval()
            self.regularizer.after_task(self.net, x, y)
            self.net.train()

    def _on_epoch_end(self) -> None:
        """Called after each epoch, before ``on_epoch`` (k annealing updates here)."""

    @torch.no_grad()
    def _forward_all(self, x: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (S, N, o) and hidden (S, N, r) of every model on x (N, n_inputs)."""
        self.net.eval()
        xt = self._prepare(self._to_tensor(x))
        outs = [self.net(xt[None, i : i + _EVAL_BATCH]) for i in range(0, len(xt), _EVAL_BATCH)]
        self.net.train()
        return torch.cat([o[0] for o in outs], dim=1), torch.cat([o[1] for o in outs], dim=1)

    def _unstack(self, t: torch.Tensor) -> torch.Tensor:
        """(S, N, ...) -> (N, ...) for a single model; batched learners keep the leading S axis."""
        return t[0] if self.n_models == 1 else t

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Labels (N,); a batched learner (n_models > 1) returns (n_models, N)."""
        logits, _ = self._forward_all(x)
        return self._unstack(logits.argmax(dim=-1)).cpu().numpy().astype(np.int64)

    def hidden(self, x: np.ndarray) -> np.ndarray:
        """Hidden activity (N, r); a batched learner returns (n_models, N, r)."""
        _, hidden = self._forward_all(x)
        return self._unstack(hidden).cpu().numpy().astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {
            "net": {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "generators": [g.get_state() for g in self._gens],
            "epochs_seen": self.epochs_seen,
            "regularizer": None if self.regularizer is None else self.regularizer.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        for g, g_state in zip(self._gens, state["generators"], strict=True):
            g.set_state(g_state)
        self.epochs_seen = int(state["epochs_seen"])
        if self.regularizer is not None:
            self.regularizer.load_state_dict(state["regularizer"], self.device)
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
