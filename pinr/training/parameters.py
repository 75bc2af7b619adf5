r"""Trainable problem parameters (inverse problems) as a module trained with the network.

Each trainable :class:`~pinr.Parameter` :math:`p` is stored as an unconstrained
:math:`\theta`: :math:`p = \theta` when free, :math:`p = e^\theta` when ``positive``,
:math:`p = lo + (hi - lo)\,\sigma(\theta)` with ``bounds=(lo, hi)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["ParameterSet"]


def _inverse(p, value: float) -> float:
    if p.positive:
        return math.log(value)
    if p.bounds is not None:
        lo, hi = p.bounds
        s = (value - lo) / (hi - lo)
        return math.log(s / (1 - s))
    return value


def _forward(p, theta: torch.Tensor) -> torch.Tensor:
    if p.positive:
        return torch.exp(theta)
    if p.bounds is not None:
        lo, hi = p.bounds
        return lo + (hi - lo) * torch.sigmoid(theta)
    return theta


class ParameterSet(nn.Module):
    """The trainable parameters of a problem, ``trainable`` (name → :class:`~pinr.Parameter` at
    its starting value); :meth:`values` gives the constrained values as 0-d tensors."""

    def __init__(self, trainable: Mapping):
        super().__init__()
        self.specs = dict(trainable)
        self.theta = nn.ParameterDict({k: nn.Parameter(torch.tensor(_inverse(p, p.value), dtype=torch.float64))
                                       for k, p in self.specs.items()})

    def values(self) -> dict[str, torch.Tensor]:
        """Name → constrained value (0-d tensor with gradients)."""
        return {k: _forward(p, self.theta[k]) for k, p in self.specs.items()}

    def floats(self) -> dict[str, float]:
        """Name → current value as a Python float."""
        with torch.no_grad():
            return {k: float(v) for k, v in self.values().items()}

    def __len__(self) -> int:
        return len(self.specs)
