"""The SDMLP: Algorithm 1 (App. A.1) of Bricken et al., "Sparse Distributed Memory is a
Continual Learner", ICLR 2023.

Per training step on a batch (shapes: B batch, n inputs, r neurons, o outputs):
1. x <- x / ||x||                      (inputs >= 0)
2. a = X_a^T x                          drive, (B, r)
3. a* = Top-K(a)                        Eq. 4 (k annealing) or Eq. 12 (GABA switch)
4. y_hat = X_v^T a*                     (B, o), no bias anywhere
5. SGD step on cross-entropy, then X_a, X_v <- [X_a]_+, [X_v]_+ and every neuron's
   address column X_a[:, i] <- X_a[:, i] / ||X_a[:, i]||.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ann.regularizers import Site
from ann.topk import Rectify, TopKMode, gaba_lambda, k_schedule, topk
from ann.torch_learner import OptimizerName, TorchLearner, _check_int

Init = Literal["uniform", "reference"]
BiasInit = Literal["zero", "reference"]


def _fan_in_uniform(shape: tuple[int, ...], fan_in: int, gen: torch.Generator) -> torch.Tensor:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): ``torch.nn.Linear``'s default for weights and biases."""
    return (2.0 * torch.rand(shape, generator=gen) - 1.0) / fan_in**0.5


class SDMNet(nn.Module):
    """X_a (``address``, (S, n_inputs, n_neurons)) and X_v (``value``, (S, n_neurons, n_outputs)).

    S = len(seeds) independent models stacked for batched training (one per seed; S = 1 is
    the single model). Model s is initialised from its own generator seeded with seeds[s],
    so a stack equals the single-seed models it holds. ``k`` is the current k_t;
    ``counts`` (buffer, (S, n_neurons)) holds C_i of Eq. 12. The Table 2 ablations are
    options: ``l2_normalize=False`` skips step 1 (inputs) and the address renormalisation;
    ``hidden_bias`` / ``output_bias`` add biases b_a, b_v of Eq. 3. ``init`` / ``bias_init`` choose
    the initial weights / biases and ``rectify`` the order of Eq. 12 (see :class:`SDMLP`).
    """

    def __init__(self, n_inputs: int, n_neurons: int, n_outputs: int, k: int, mode: TopKMode,
                 gaba_s: float | None, seeds: list[int], *, l2_normalize: bool = True,
                 hidden_bias: bool = False, output_bias: bool = False, init: Init = "uniform",
                 bias_init: BiasInit = "zero", rectify: Rectify = "after") -> None:
        super().__init__()
        addresses, values, hidden_biases, output_biases = [], [], [], []
        for seed in seeds:
            gen = torch.Generator().manual_seed(seed)
            if init == "uniform":
                address = torch.rand(n_inputs, n_neurons, generator=gen)
                addresses.append(address / address.norm(dim=0, keepdim=True))
                values.append(torch.rand(n_neurons, n_outputs, generator=gen) / n_neurons**0.5)
            else:  # nn.Linear's default (kaiming_uniform_ with a = sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in))
                addresses.append(_fan_in_uniform((n_inputs, n_neurons), n_inputs, gen))
                values.append(_fan_in_uniform((n_neurons, n_outputs), n_neurons, gen))
            if bias_init == "reference":  # nn.Linear's bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
                hidden_biases.append(_fan_in_uniform((1, n_neurons), n_inputs, gen))
                output_biases.append(_fan_in_uniform((1, n_outputs), n_neurons, gen))
            else:
                hidden_biases.append(torch.zeros(1, n_neurons))
                output_biases.append(torch.zeros(1, n_outputs))
        S = len(seeds)
        self.address = nn.Parameter(torch.stack(addresses))  # (S, n_inputs, n_neurons)
        self.value = nn.Parameter(torch.stack(values))  # (S, n_neurons, n_outputs)
        self.hidden_bias = nn.Parameter(torch.stack(hidden_biases)) if hidden_bias else None  # (S, 1, n_neurons)
        self.output_bias = nn.Parameter(torch.stack(output_biases)) if output_bias else None  # (S, 1, n_outputs)
        self.register_buffer("counts", torch.zeros(S, n_neurons))
        self.k, self.mode, self.gaba_s, self.l2_normalize = k, mode, gaba_s, l2_normalize
        self.rectify = rectify

    def forward(self, x: torch.Tensor, sites: list[Site] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x (S, B, n_inputs) or (1, B, n_inputs) (shared by all models) -> logits (S, B, o), hidden (S, B, r).

        ``sites``: a list to which the two linear maps (address, value) are appended as
        ``ann.regularizers.Site`` records (for importance estimates).
        """
        if self.l2_normalize:
            x = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)  # step 1 (an all-zero input stays zero)
        drive = x @ self.address  # (S, B, n_neurons), step 2 (batched matmul)
        if self.hidden_bias is not None:
            drive = drive + self.hidden_bias
        gaba = gaba_lambda(self.counts, self.gaba_s)[:, None, :] if self.gaba_s is not None else None
        hidden = topk(drive, self.k, self.mode, gaba, self.rectify)  # (S, B, n_neurons), step 3, per model and sample
        logits = hidden @ self.value  # (S, B, n_outputs), step 4
        if self.output_bias is not None:
            logits = logits + self.output_bias
        if sites is not None:
            sites += [Site("address", "hidden_bias" if self.hidden_bias is not None else None, x, drive),
                      Site("value", "output_bias" if self.output_bias is not None else None, hidden, logits)]
        return logits, hidden


class SDMLP(TorchLearner):
    """Sparse Distributed Memory MLP (one hidden layer of ``n_neurons``, Top-K, no bias).

    Parameters
    ----------
    n_inputs, n_neurons, n_outputs : n, r, o of the paper.
    k : k_target, the number of neurons left active (1 <= k < n_neurons).
    topk_mode : "subtract" (Eq. 4) or "mask" (Table 2 ablation).
    anneal_epochs : s of Eq. 4, epochs for k_t to fall from k_max = n_neurons to k; 0 = no annealing.
    gaba_s : s of Eq. 12 (activations per neuron for the full GABA switch); when set, k is
        fixed at k_target and ``anneal_epochs`` must be 0.
    lr, batch_size, optimizer : SGD without momentum is the paper's continual-learning default.
    rectify_inputs : apply ReLU to inputs (as the reference code does) instead of refusing
        negative inputs.
    nonnegative : clamp X_a, X_v >= 0 after each step (step 5); False is the "negative
        weights" ablation of Table 2 (same initialisation, no clamp).
    l2_normalize : L2-normalise inputs (step 1) and address columns (step 5); False is the
        "no L2 norm" ablation.
    hidden_bias, output_bias : add b_a / b_v of Eq. 3: the "hidden layer bias" / "output layer
        bias" ablations.
    init : initial X_a, X_v. "uniform": X_a ~ U[0, 1) with unit-norm columns, X_v ~ U[0, 1) / sqrt(r)
        (non-negative from the start, no neuron with zero entries). "reference": the authors' code
        (TrentBrick/SDMContinualLearner): ``nn.Linear``'s U(-1/sqrt(fan_in), 1/sqrt(fan_in)), then
        step 5's clamp (when ``nonnegative``) and renormalisation (when ``l2_normalize``) before training,
        so about half of the entries start at 0.
    bias_init : initial b_a, b_v: "zero", or "reference" (``nn.Linear``'s U(-1/sqrt(fan_in),
        1/sqrt(fan_in)), as in the authors' code).
    bias_clamp : clamp b_a, b_v >= 0 with the weights (at the start and after every step), as the
        authors' code does with positive weights; False leaves the biases unconstrained.
    rectify : order of Eq. 12 with the GABA switch: "after" ([a - lambda I]_+, as printed) or "before"
        ([[a]_+ - lambda I]_+, the authors' code); they differ only for negative drive (ablations).
    device : "auto" | "cpu" | "cuda".
    seed : seeds the initial weights and the batch order.
    n_models : train this many independent models (seeds seed..seed+n_models-1) as one
        batched model; ``predict`` then returns (n_models, N).
    regularizer : an ``ann.regularizers`` penalty (SDMLP+EWC, SDMLP+MAS).
    grad_clip : cap on each model's gradient L2 norm per step (None: off; the reference code uses 1.0).

    Examples
    --------
    >>> import numpy as np
    >>> model = SDMLP(n_inputs=4, n_neurons=16, n_outputs=2, k=2, anneal_epochs=0, seed=0)
    >>> x = np.abs(np.random.default_rng(0).normal(size=(8, 4))).astype("float32")
    >>> model.fit_task(x, np.arange(8) % 2, epochs=2).predict(x).shape
    (8,)
    """

    batched = True

    def __init__(
        self,
        n_inputs: int,
        n_neurons: int = 1000,
        n_outputs: int = 10,
        *,
        k: int = 10,
        topk_mode: TopKMode = "subtract",
        anneal_epochs: int = 0,
        gaba_s: float | None = None,
        lr: float = 0.05,
        batch_size: int = 128,
        optimizer: OptimizerName = "sgd",
        rectify_inputs: bool = False,
        nonnegative: bool = True,
        l2_normalize: bool = True,
        hidden_bias: bool = False,
        output_bias: bool = False,
        init: Init = "uniform",
        bias_init: BiasInit = "zero",
        bias_clamp: bool = False,
        rectify: Rectify = "after",
        device: str = "auto",
        seed: int = 0,
        n_models: int = 1,
        regularizer=None,
        grad_clip: float | None = None,
    ) -> None:
        _check_int("n_neurons", n_neurons, 2)
        _check_int("k", k, 1, n_neurons - 1)
        _check_int("anneal_epochs", anneal_epochs, 0)
        if topk_mode not in ("subtract", "mask"):
            raise ValueError(f"The 'topk_mode' parameter must be 'subtract' or 'mask'. Got {topk_mode!r}.")
        if gaba_s is not None:
            if not gaba_s > 0:
                raise ValueError(f"The 'gaba_s' parameter must be > 0 (activations). Got {gaba_s}.")
            if anneal_epochs:
                raise ValueError("Use either the GABA switch (gaba_s) or k annealing (anneal_epochs), not both.")
        for name, value, allowed in (("init", init, ("uniform", "reference")),
                                     ("bias_init", bias_init, ("zero", "reference")),
                                     ("rectify", rectify, ("after", "before"))):
            if value not in allowed:
                raise ValueError(f"The '{name}' parameter of SDMLP must be one of {', '.join(allowed)}. Got {value!r}.")
        self.init, self.bias_init, self.bias_clamp, self.rectify = init, bias_init, bias_clamp, rectify
        self.n_neurons, self.k_target, self.topk_mode = n_neurons, k, topk_mode
        self.anneal_epochs, self.gaba_s, self.rectify_inputs = anneal_epochs, gaba_s, rectify_inputs
        self.nonnegative, self.l2_normalize = nonnegative, l2_normalize
        self.hidden_bias, self.output_bias = hidden_bias, output_bias
        self.zero_address_neurons = 0  # neurons whose address became all-zero after clamping
        super().__init__(n_inputs, n_outputs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                         device=device, seed=seed, n_models=n_models, regularizer=regularizer,
                         grad_clip=grad_clip)
        if init == "reference" or bias_clamp:  # the authors' code constrains the weights before training
            self._constrain()

    def _build(self) -> SDMNet:
        return SDMNet(self.n_inputs, self.n_neurons, self.n_outputs, self.current_k(0), self.topk_mode,
                      self.gaba_s, self.seeds, l2_normalize=self.l2_normalize, hidden_bias=self.hidden_bias,
                      output_bias=self.output_bias, init=self.init, bias_init=self.bias_init, rectify=self.rectify)

    def current_k(self, epoch: int) -> int:
        """k_t of Eq. 4 at global epoch ``epoch`` (k_target throughout with the GABA switch)."""
        return k_schedule(epoch, self.n_neurons, self.k_target, self.anneal_epochs)

    @property
    def k(self) -> int:
        return self.net.k

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        if self.rectify_inputs:
            return torch.relu(x)
        if (x < 0).any():
            raise ValueError(
                f"SDMLP inputs must be >= 0 (pixels or non-negative embeddings); found min {x.min().item():.4g}. "
                "Pass rectify_inputs=True (CLI: --rectify-inputs) to apply ReLU first."
            )
        return x

    @torch.no_grad()
    def _after_step(self, hidden: torch.Tensor) -> None:
        net = self.net
        if self.gaba_s is not None:  # C_i of Eq. 12 advances in training steps only
            net.counts += (hidden > 0).sum(dim=-2)  # (S, n_neurons)
        self._constrain()

    @torch.no_grad()
    def _constrain(self) -> None:
        """Step 5's constraints: clamp (weights; biases with ``bias_clamp``) and address renormalisation."""
        net = self.net
        if self.nonnegative:
            net.address.clamp_(min=0.0)
            net.value.clamp_(min=0.0)
        if self.bias_clamp:
            for bias in (net.hidden_bias, net.output_bias):
                if bias is not None:
                    bias.clamp_(min=0.0)
        if self.l2_normalize:
            norms = net.address.norm(dim=-2, keepdim=True)  # (S, 1, n_neurons)
            net.address.div_(norms.clamp_min(1e-12))  # an all-zero address stays zero, never NaN
            self._zero_norms = norms  # counted lazily: no host sync in the hot loop

    def _on_epoch_end(self) -> None:
        self.net.k = self.current_k(self.epochs_seen)
        if hasattr(self, "_zero_norms"):
            self.zero_address_neurons = int((self._zero_norms == 0).sum())

    def _on_load(self) -> None:
        self.net.k = self.current_k(self.epochs_seen)

    def get_weights(self) -> dict:
        """{"address": (n_inputs, r), "value": (r, o)}; with n_models > 1 a leading (n_models,) axis."""
        return {name: self._unstack(getattr(self.net, name).detach()).cpu().numpy().copy()
                for name in ("address", "value")}

    def set_weights(self, weights) -> None:
        for name in ("address", "value"):
            param = getattr(self.net, name)
            arr = torch.as_tensor(weights[name], dtype=torch.float32)
            if self.n_models == 1:
                arr = arr[None]
            if arr.shape != param.shape:
                raise ValueError(f"weights['{name}'] has shape {tuple(arr.shape)}; SDMLP expects {tuple(param.shape)}.")
            if self.nonnegative and (arr < 0).any():
                raise ValueError(f"weights['{name}'] has negative entries; SDMLP weights are >= 0 "
                                 "(nonnegative=False allows them).")
            with torch.no_grad():
                param.copy_(arr.to(self.device))
