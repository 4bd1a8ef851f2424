"""ReLU MLP baseline: the same width as the SDMLP, with biases, unconstrained weights.

The paper's "ReLU" row (Tables 1, 7, 8): it learns each task and forgets the previous
ones almost entirely in the class-incremental setting (final accuracy ~0.2 on 5 tasks).
``dropout > 0`` gives the "Dropout" baseline (Goodfellow et al. 2014: dropout on the hidden
layer); ``regularizer=`` gives L2 / EWC / MAS / SI (``ann.regularizers``).
"""

from __future__ import annotations

import torch
from torch import nn

from ann.regularizers import Site
from ann.torch_learner import OptimizerName, TorchLearner, _check_int


class ReLUNet(nn.Module):
    """Hidden ReLU layer, optional inverted dropout on it, linear output layer; both with biases.

    Dropout masks are drawn from ``generator`` (a CPU ``torch.Generator``; the learner passes its
    own, saved in its state), not from torch's global generator, so a run is reproducible from its
    seed and a resumed run continues bit-for-bit.
    """

    def __init__(self, n_inputs: int, n_neurons: int, n_outputs: int, dropout: float = 0.0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.hidden_layer = nn.Linear(n_inputs, n_neurons)
        self.output_layer = nn.Linear(n_neurons, n_outputs)
        self.dropout, self.generator = dropout, generator

    def forward(self, x: torch.Tensor, sites: list[Site] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x (S=1, B, n_inputs) -> logits (1, B, o), hidden (1, B, r) (before dropout).

        ``sites``: a list to which the two linear layers are appended as ``ann.regularizers.Site``.
        """
        pre = self.hidden_layer(x)
        hidden = torch.relu(pre)  # (1, B, n_neurons)
        dropped = hidden
        if self.training and self.dropout > 0:  # inverted dropout: keep with 1 - p, scale by 1 / (1 - p)
            keep = torch.rand(hidden.shape, generator=self.generator) >= self.dropout
            dropped = hidden * keep.to(hidden.device) / (1.0 - self.dropout)
        logits = self.output_layer(dropped)
        if sites is not None:
            sites += [Site("hidden_layer.weight", "hidden_layer.bias", x, pre, transposed=True),
                      Site("output_layer.weight", "output_layer.bias", dropped, logits, transposed=True)]
        return logits, hidden


class ReLUMLP(TorchLearner):
    """One hidden ReLU layer of ``n_neurons`` with biases; trained like the SDMLP.

    ``dropout``: probability of zeroing a hidden unit while training (0 = off); the masks come from
    the learner's own generator (the one that shuffles its batches), so they follow ``seed``.
    ``regularizer``: an ``ann.regularizers`` penalty (L2, EWC, MAS, SI) or None.
    ``grad_clip``: cap on the gradient's L2 norm per step (None: off).
    """

    def __init__(
        self,
        n_inputs: int,
        n_neurons: int = 1000,
        n_outputs: int = 10,
        *,
        lr: float = 0.05,
        batch_size: int = 128,
        optimizer: OptimizerName = "sgd",
        dropout: float = 0.0,
        regularizer=None,
        device: str = "auto",
        seed: int = 0,
        grad_clip: float | None = None,
    ) -> None:
        _check_int("n_neurons", n_neurons, 1)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"The 'dropout' parameter of ReLUMLP must be a float in [0, 1). Got {dropout!r}.")
        self.n_neurons, self.dropout = n_neurons, dropout
        super().__init__(n_inputs, n_outputs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                         device=device, seed=seed, regularizer=regularizer, grad_clip=grad_clip)

    def _build(self) -> ReLUNet:
        return ReLUNet(self.n_inputs, self.n_neurons, self.n_outputs, self.dropout, generator=self._gens[0])

    def get_weights(self) -> dict:
        return {"address": self.net.hidden_layer.weight.detach().cpu().numpy().T.copy(),
                "value": self.net.output_layer.weight.detach().cpu().numpy().T.copy()}

    def set_weights(self, weights) -> None:
        with torch.no_grad():
            for layer, name in ((self.net.hidden_layer, "address"), (self.net.output_layer, "value")):
                arr = torch.as_tensor(weights[name], dtype=torch.float32).T
                if arr.shape != layer.weight.shape:
                    raise ValueError(f"weights['{name}'] has shape {tuple(arr.T.shape)}; expected "
                                     f"{tuple(layer.weight.T.shape)}.")
                layer.weight.copy_(arr.to(self.device))
