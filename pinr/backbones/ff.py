r"""Fourier-feature networks (Tancik et al., 2020): :math:`\gamma(x) = [\sin 2\pi Bx, \cos 2\pi Bx]`
followed by an MLP."""

from __future__ import annotations

import torch

from . import primitives as P
from .base import AbstractBackbone, BackboneTraining
from .registry import register_backbone

__all__ = ["FourierFeatures", "fourier_matrix"]

MAPPINGS = ("basic", "positional", "gaussian")


def fourier_matrix(mapping: str, in_features: int, *, m: int, sigma: float, generator=None) -> torch.Tensor:
    r"""Frequency matrix ``B`` ``(n_freq, in_features)`` of a Fourier-feature mapping.

    - ``basic``: :math:`B = I` (one frequency per axis);
    - ``positional``: per axis, :math:`\sigma^{j/m'}` for :math:`j = 0..m'-1`, :math:`m' = m / d`
      (log-spaced, axis-aligned);
    - ``gaussian``: :math:`B_{ij} \sim \mathcal N(0, \sigma^2)`, ``m`` rows.
    """
    if mapping == "basic":
        return torch.eye(in_features)
    if mapping == "positional":
        per = max(1, m // in_features)
        freqs = sigma ** (torch.arange(per, dtype=torch.float64) / per)
        rows = [torch.eye(in_features, dtype=torch.float64)[a] * f for a in range(in_features) for f in freqs]
        return torch.stack(rows).float()
    if mapping == "gaussian":
        return torch.randn(m, in_features, generator=generator) * sigma
    raise ValueError(f"unknown Fourier mapping {mapping!r}; choose one of {MAPPINGS}")


@register_backbone("ff")
class FourierFeatures(AbstractBackbone):
    r"""Fourier features + MLP. Defaults from the paper: Gaussian mapping with ``m = 256``
    frequencies of scale :math:`\sigma = 10`, then ``depth`` hidden layers of ``width`` 256 with
    ReLU and a linear head. Inputs are the domain mapped to :math:`[-1, 1]^d`. The frequencies
    are fixed (a buffer). ``activation`` may be any of pinr's activations; use a smooth one
    (``softplus``, ``tanh``) when second derivatives matter, since ReLU's vanish.
    """

    recommended = BackboneTraining(lr=1e-3, source="SCONE's Gaussian-RFF baseline")

    def __init__(self, in_features: int, out_features: int, *, mapping: str = "gaussian", m: int = 256,
                 sigma: float = 10.0, width: int = 256, depth: int = 3, activation: str = "relu"):
        super().__init__(in_features, out_features)
        B = fourier_matrix(mapping, in_features, m=m, sigma=sigma)
        self.encoding = P.FourierEncoding(B)
        sizes = [2 * B.shape[0]] + [width] * depth
        self.layers = torch.nn.ModuleList(P.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = P.Activation(activation)
        self.head = P.Linear(sizes[-1], out_features)

    def forward(self, x):
        x = self.encoding(x)
        for layer in self.layers:
            x = self.act(layer(x))
        return self.head(x)
