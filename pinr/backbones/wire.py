r"""WIRE: complex Gabor wavelet activations (Saragadam et al., CVPR 2023), in real arithmetic.

.. math::
    \psi(z) = e^{\,i\omega_0 z - |s_0 z|^2}, \qquad z = a + i b \in \mathbb C, \qquad
    \psi(z) = e^{-s_0^2 (a^2 + b^2) - \omega_0 b}\,\big(\cos\omega_0 a + i \sin\omega_0 a\big)

The first layer is real (:math:`b = 0`); hidden layers are complex linear maps
:math:`z = W y + c` with :math:`W = W_r + i W_i`, computed on the stacked real and imaginary
channels :math:`[y_r, y_i]` as the real block map

.. math::  a = [\,W_r,\ -W_i\,]\,[y_r; y_i] + c_r, \qquad b = [\,W_i,\ W_r\,]\,[y_r; y_i] + c_i ,

and the output is the real part of a complex linear head, :math:`\Re(W y + c) = [\,W_r,\,
-W_i\,][y_r; y_i] + c_r`, i.e. a real linear map of the stacked channels. The modulus is
evaluated as :math:`e^{-(s_0 a)^2}\,e^{-(s_0 b + \omega_0/2s_0)^2}\,e^{\omega_0^2/4s_0^2}`
(completing the square), so every factor is a jet-aware elementwise function.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import primitives as P
from .base import AbstractBackbone, BackboneTraining
from .registry import register_backbone

__all__ = ["Wire"]

#: Largest :math:`\omega_0^2 / 4 s_0^2`: :math:`e^{60}` is still finite in float32.
_MAX_EXPONENT = 60.0


class _ComplexLinear(nn.Module):
    r"""Complex linear map on stacked real/imaginary channels ``(N, 2n) -> ((N, m), (N, m))``.

    Real and imaginary parts of weights and biases are drawn from PyTorch's default
    :math:`U(\pm 1/\sqrt n)`, as ``torch.nn.Linear(dtype=torch.cfloat)`` does.
    """

    def __init__(self, n: int, m: int):
        super().__init__()
        bound = 1.0 / math.sqrt(n)
        self.weight_re = nn.Parameter(torch.empty(m, n).uniform_(-bound, bound))
        self.weight_im = nn.Parameter(torch.empty(m, n).uniform_(-bound, bound))
        self.bias_re = nn.Parameter(torch.empty(m).uniform_(-bound, bound))
        self.bias_im = nn.Parameter(torch.empty(m).uniform_(-bound, bound))

    def forward(self, y):
        wr, wi = self.weight_re, self.weight_im
        a = P.linear(y, torch.cat([wr, -wi], dim=1), self.bias_re)
        b = P.linear(y, torch.cat([wi, wr], dim=1), self.bias_im)
        return a, b


@register_backbone("wire")
class Wire(AbstractBackbone):
    r"""WIRE: a real input layer, ``depth`` complex Gabor layers and the real part of a complex head.

    Defaults follow the official image-fitting code: ``width`` 256, divided by :math:`\sqrt2`
    for the complex features (181) so the parameter count matches a real network of width 256
    (≈199k real parameters for 2-D → RGB); 3 hidden layers; :math:`\omega_0 = 20` (``omega0``),
    :math:`s_0 = 10` (``sigma0``). Weights and biases keep PyTorch's default initialisation
    (real and imaginary parts each :math:`U(\pm 1/\sqrt n)`). ``omega0**2 / (4 sigma0**2)``
    must stay below 60 (the peak of the modulus, :math:`e^{\omega_0^2/4s_0^2}`, must be finite).
    """

    # WIRE's own scripts suggest 5e-3..2e-2, but on CPU checks (128² astronaut, 200 steps) 5e-3
    # stalled at 14 dB and 1e-3 reached 34.8 dB
    recommended = BackboneTraining(lr=1e-3, source="SCONE's setting for WIRE")

    def __init__(self, in_features: int, out_features: int, *, width: int = 256, depth: int = 3,
                 omega0: float = 20.0, sigma0: float = 10.0):
        super().__init__(in_features, out_features)
        hidden = int(width / math.sqrt(2.0))
        if hidden < 1 or depth < 0:
            raise ValueError(f"wire needs width >= 2 and depth >= 0, got width={width}, depth={depth}")
        if not omega0 > 0 or not sigma0 > 0:
            raise ValueError(f"wire needs omega0 > 0 and sigma0 > 0, got {omega0!r}, {sigma0!r}")
        self.omega0, self.sigma0 = float(omega0), float(sigma0)
        self._shift = self.omega0 / (2.0 * self.sigma0)
        if self._shift**2 > _MAX_EXPONENT:
            raise ValueError(f"wire: omega0**2 / (4 sigma0**2) = {self._shift**2:g} exceeds {_MAX_EXPONENT:g}, "
                             "so the Gabor modulus overflows; lower omega0 or raise sigma0")
        self._peak = math.exp(self._shift**2)
        self.first = P.Linear(in_features, hidden)
        self.layers = nn.ModuleList(_ComplexLinear(hidden, hidden) for _ in range(depth))
        self.head = P.Linear(2 * hidden, out_features)
        with torch.no_grad():
            bound = 1.0 / math.sqrt(hidden)
            self.head.weight.uniform_(-bound, bound)
            self.head.bias.uniform_(-bound, bound)
        self.gauss = P.Activation("gaussian", omega=self.sigma0)
        self.cos = P.Activation("cos", omega=self.omega0)
        self.sin = P.Activation("sin", omega=self.omega0)

    def _gabor(self, a, b=None):
        r""":math:`\psi(a + ib)` as stacked ``[real, imag]`` channels; ``b=None`` for real inputs."""
        modulus = self.gauss(a)
        if b is not None:
            modulus = modulus * P.gaussian(b * self.sigma0 + self._shift) * self._peak
        return P.cat([modulus * self.cos(a), modulus * self.sin(a)])

    def forward(self, x):
        y = self._gabor(self.first(x))
        for layer in self.layers:
            y = self._gabor(*layer(y))
        return self.head(y)
