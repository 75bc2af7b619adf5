r"""SIREN: sine-activated MLP (Sitzmann et al., 2020).

.. math::  \Phi(x) = W_n(\phi_{n-1}\circ\dots\circ\phi_0)(x) + b_n,\qquad
           \phi_i(z) = \sin(\omega_i (W_i z + b_i))
"""

from __future__ import annotations

import math

import torch

from . import primitives as P
from .base import AbstractBackbone, BackboneTraining
from .registry import register_backbone

__all__ = ["Siren", "siren_init_"]


def siren_init_(layers, omega_hidden: float, *, biases: bool = False) -> None:
    r"""SIREN's initialisation, in place: the first layer's weights :math:`U(\pm 1/n)`, the later
    ones' :math:`U(\pm\sqrt{6/n}/\omega)` with :math:`n` the fan-in; with ``biases`` the biases
    are drawn like their layer's weights (else PyTorch's default stays)."""
    with torch.no_grad():
        for i, layer in enumerate(layers):
            n = layer.in_features
            bound = 1.0 / n if i == 0 else math.sqrt(6.0 / n) / omega_hidden
            layer.weight.uniform_(-bound, bound)
            if biases:
                layer.bias.uniform_(-bound, bound)


@register_backbone("siren")
class Siren(AbstractBackbone):
    r"""SIREN with ``depth`` hidden ``width × width`` sine layers.

    Defaults follow the paper: width 256, an input layer, 3 hidden layers and a linear head
    (5 linear layers), :math:`\omega_0 = 30` on the first layer (``omega0``) and on hidden layers
    (``omega_hidden``). Initialisation: first layer :math:`W \sim U(-1/n, 1/n)`; every other layer,
    the head included, :math:`W \sim U(-\sqrt{6/n}/\omega, \sqrt{6/n}/\omega)` with
    :math:`\omega` = ``omega_hidden``; biases PyTorch's default :math:`U(\pm 1/\sqrt{n})`, or drawn
    like the weights with ``bias_init="weights"``.
    """

    recommended = BackboneTraining(lr=1e-4, source="SIREN paper")

    def __init__(self, in_features: int, out_features: int, *, width: int = 256, depth: int = 3,
                 omega0: float = 30.0, omega_hidden: float = 30.0, bias_init: str = "default"):
        super().__init__(in_features, out_features)
        if bias_init not in ("default", "weights"):
            raise ValueError(f"siren bias_init must be 'default' or 'weights', got {bias_init!r}")
        if width < 1 or depth < 0:
            raise ValueError(f"siren needs width >= 1 and depth >= 0, got width={width}, depth={depth}")
        sizes = [in_features] + [width] * (depth + 1)
        self.layers = torch.nn.ModuleList(P.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.acts = torch.nn.ModuleList(P.Activation("sin", omega=omega0 if i == 0 else omega_hidden)
                                        for i in range(len(self.layers)))
        self.head = P.Linear(width, out_features)
        siren_init_([*self.layers, self.head], omega_hidden, biases=bias_init == "weights")

    def forward(self, x):
        for layer, act in zip(self.layers, self.acts):
            x = act(layer(x))
        return self.head(x)
