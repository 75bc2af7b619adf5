r"""Gaussian-activated MLP (Ramasinghe & Lucey, ECCV 2022), as compared in WIRE and FINER.

.. math::  \phi(z) = e^{-(s z)^2}, \qquad z = W h + b
"""

from __future__ import annotations

import torch

from . import primitives as P
from .base import AbstractBackbone, BackboneTraining
from .registry import register_backbone

__all__ = ["Gauss"]


@register_backbone("gauss")
class Gauss(AbstractBackbone):
    r"""Gaussian MLP: an input layer, ``depth`` hidden ``width × width`` layers, a linear head.

    Defaults: width 256, 3 hidden layers (≈199k parameters for 2-D → RGB), scale
    :math:`s = 30` (``scale``, as in FINER's comparison code; WIRE's uses 10). Weights and
    biases keep PyTorch's default initialisation, as in the reference implementations.
    """

    recommended = BackboneTraining(lr=1e-3, source="as compared in FINER")

    def __init__(self, in_features: int, out_features: int, *, width: int = 256, depth: int = 3,
                 scale: float = 30.0):
        super().__init__(in_features, out_features)
        if width < 1 or depth < 0:
            raise ValueError(f"gauss needs width >= 1 and depth >= 0, got width={width}, depth={depth}")
        if not scale > 0:
            raise ValueError(f"gauss scale must be positive, got {scale!r}")
        sizes = [in_features] + [width] * (depth + 1)
        self.layers = torch.nn.ModuleList(P.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.scale = float(scale)
        self.head = P.Linear(width, out_features)

    def forward(self, x):
        s = self.scale  # folded into the weights: exp(-(s(Wx + b))²) = exp(-((sW)x + sb)²)
        for layer in self.layers:
            x = P.gaussian(P.linear(x, layer.weight * s, layer.bias * s))
        return self.head(x)
