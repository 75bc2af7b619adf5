r"""Plain MLP with ReLU, tanh or softplus, and optional NeRF positional encoding
:math:`\gamma(x) = [x, \sin(2^k\pi x), \cos(2^k\pi x)]_{k<L}`."""

from __future__ import annotations

import math

import torch

from . import primitives as P
from .base import AbstractBackbone, BackboneTraining
from .registry import register_backbone

__all__ = ["MLP", "FactorizedLinear"]


class FactorizedLinear(torch.nn.Module):
    r"""Random weight factorisation (Wang, Wang, Seidman & Perdikaris 2022): a dense layer
    :math:`z = x W^\top + b` with :math:`W = \operatorname{diag}(e^{s}) V` trained through
    :math:`s` ``(out,)`` and :math:`V` ``(out, in)``. ``factorize_`` starts from a given
    :math:`W`: :math:`s \sim \mathcal N(\mu, \sigma)` (defaults 1, 0.1 from the paper),
    :math:`V = W / e^{s}`, so the layer's initial map is unchanged."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.s = torch.nn.Parameter(torch.zeros(out_features))
        self.v = torch.nn.Parameter(torch.empty(out_features, in_features))
        self.bias = torch.nn.Parameter(torch.zeros(out_features))

    @torch.no_grad()
    def factorize_(self, weight: torch.Tensor, bias: torch.Tensor, *, mean: float = 1.0, std: float = 0.1):
        self.s.normal_(mean, std)
        self.v.copy_(weight / torch.exp(self.s)[:, None])
        self.bias.copy_(bias)
        return self

    @property
    def weight(self) -> torch.Tensor:
        return torch.exp(self.s)[:, None] * self.v

    def forward(self, x):
        return P.linear(x, self.weight, self.bias)


@register_backbone("mlp")
class MLP(AbstractBackbone):
    """MLP with ``depth`` hidden layers of ``width`` (default 4 × 256, tanh) and a linear head.

    ``encoding_levels`` L > 0 prepends NeRF's positional encoding with frequencies
    :math:`2^k\\pi`, k < L (the raw input is kept). Weights use Xavier-uniform init for tanh
    and Kaiming-uniform otherwise; biases are zero. ``rwf=True`` factorises every dense layer,
    the head included, as :class:`FactorizedLinear` (random weight factorisation,
    :math:`s \\sim \\mathcal N(1, 0.1)`) after that initialisation.
    """

    recommended = BackboneTraining(lr=1e-3, source="pinr's quality benchmark; no paper figure")

    def __init__(self, in_features: int, out_features: int, *, width: int = 256, depth: int = 4,
                 activation: str = "tanh", encoding_levels: int = 0, rwf: bool = False):
        super().__init__(in_features, out_features)
        if activation not in ("relu", "tanh", "softplus", "sin", "sigmoid", "gaussian"):
            raise ValueError("mlp activation must be relu, tanh, softplus, sin, sigmoid or gaussian, "
                             f"got {activation!r}")
        self.encoding = None
        n_in = in_features
        if encoding_levels > 0:
            eye = torch.eye(in_features)
            B = torch.cat([eye * (2.0 ** k) / 2.0 for k in range(encoding_levels)])  # 2π·(2^k/2)·x = 2^k π x
            self.encoding = P.FourierEncoding(B, include_input=True)
            n_in = in_features * (1 + 2 * encoding_levels)
        sizes = [n_in] + [width] * depth
        self.layers = torch.nn.ModuleList(P.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = P.Activation(activation)
        self.head = P.Linear(sizes[-1], out_features)
        gain = torch.nn.init.calculate_gain("tanh") if activation == "tanh" else math.sqrt(2.0)
        with torch.no_grad():
            for layer in [*self.layers, self.head]:
                if activation == "tanh":
                    torch.nn.init.xavier_uniform_(layer.weight, gain=gain if layer is not self.head else 1.0)
                else:
                    torch.nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
                torch.nn.init.zeros_(layer.bias)
        if rwf:
            def factorized(layer):
                return FactorizedLinear(layer.in_features, layer.out_features).factorize_(layer.weight, layer.bias)

            self.layers = torch.nn.ModuleList(factorized(layer) for layer in self.layers)
            self.head = factorized(self.head)

    def forward(self, x):
        if self.encoding is not None:
            x = self.encoding(x)
        for layer in self.layers:
            x = self.act(layer(x))
        return self.head(x)
