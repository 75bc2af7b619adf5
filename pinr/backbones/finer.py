r"""FINER: variable-periodic sine activations (Liu, Zhu et al., CVPR 2024).

.. math::  \phi(z) = \sin\big(\omega\,(|z| + 1)\,z\big), \qquad z = W h + b

The factor :math:`|z| + 1` raises the local frequency where :math:`|z|` is large. As in the
paper's implementation, the factor is *detached* by default: it scales the pre-activation but
is treated as a constant by every derivative, so the input derivatives (and the parameter
gradients) are those of the network with :math:`|z| + 1` frozen at its current value. Both
derivative engines agree on this (the autograd engine sees the same detached factor).
``scale_grad=True`` differentiates the factor too (:math:`\partial|z| = \operatorname{sign}(z)\,
\partial z`, exact away from :math:`z = 0`), which gives the derivatives of the function the
network represents: use it when the derivatives themselves enter the loss (PDE residuals).
"""

from __future__ import annotations

import torch

from ..derivatives.jet import Jet
from . import primitives as P
from .base import AbstractBackbone, BackboneTraining
from .registry import register_backbone
from .siren import siren_init_

__all__ = ["Finer"]


def _value(x):
    return x.value if isinstance(x, Jet) else x


@register_backbone("finer")
class Finer(AbstractBackbone):
    r"""FINER with an input layer, ``depth`` hidden ``width × width`` layers and a linear head.

    Defaults follow the paper's image fitting: width 256, 3 hidden layers (5 linear layers,
    ≈199k parameters for 2-D → RGB), :math:`\omega_0 = 30` on the first layer (``omega0``) and
    on the hidden layers (``omega_hidden``). Initialisation as SIREN: first layer
    :math:`U(\pm 1/n)`, later layers and the head :math:`U(\pm\sqrt{6/n}/\omega)` with
    :math:`\omega` = ``omega_hidden``; biases PyTorch's default, except that
    ``first_bias_scale`` :math:`k` draws the first layer's biases from :math:`U(\pm k)` (the
    paper's knob for tuning the spectral bias; ``None`` keeps the default). ``scale_grad``:
    see the module docstring (default ``False``, the paper's detached factor).
    """

    recommended = BackboneTraining(lr=5e-4, source="FINER's image-fitting scripts")

    def __init__(self, in_features: int, out_features: int, *, width: int = 256, depth: int = 3,
                 omega0: float = 30.0, omega_hidden: float = 30.0, first_bias_scale: float | None = None,
                 scale_grad: bool = False):
        super().__init__(in_features, out_features)
        if width < 1 or depth < 0:
            raise ValueError(f"finer needs width >= 1 and depth >= 0, got width={width}, depth={depth}")
        if first_bias_scale is not None and not first_bias_scale > 0:
            raise ValueError(f"finer first_bias_scale must be positive or None, got {first_bias_scale!r}")
        self.scale_grad = bool(scale_grad)
        sizes = [in_features] + [width] * (depth + 1)
        self.layers = torch.nn.ModuleList(P.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.omegas = tuple(float(omega0 if i == 0 else omega_hidden) for i in range(len(self.layers)))
        self.head = P.Linear(width, out_features)
        siren_init_([*self.layers, self.head], omega_hidden)
        if first_bias_scale is not None:
            with torch.no_grad():
                self.layers[0].bias.uniform_(-first_bias_scale, first_bias_scale)

    def _stretch(self, w, omega: float):
        r""":math:`\omega(|z| + 1)\,z` from :math:`w = \omega z`, as :math:`(|w|/\omega + 1)\,w`, with the
        factor detached, or differentiated (``scale_grad``)."""
        v = _value(w).detach()
        if self.scale_grad:
            return w * (w * (torch.sign(v) / omega) + 1.0)
        return w * (v.abs() / omega + 1.0)

    def forward(self, x):
        # ω multiplies the weight matrices, not the (N, width) pre-activations (one pass less).
        for layer, omega in zip(self.layers, self.omegas):
            x = P.sin(self._stretch(P.linear(x, layer.weight * omega, layer.bias * omega), omega))
        return self.head(x)
