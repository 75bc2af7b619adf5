"""The points of one term for one step, and what they carry (its own module: terms and the
adaptive sampling pools both hold batches)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

__all__ = ["Batch"]


@dataclass(frozen=True)
class Batch:
    """Points ``(N, d)`` of one term for one step, with normals ``(N, d)`` on boundaries, values
    the region carries for data sources, and measured ``targets`` ``(C, N)`` with their standard
    deviations ``sigma`` ``(C, N)`` for observations."""

    points: torch.Tensor
    normals: torch.Tensor | None = None
    data: Mapping = field(default_factory=dict)
    targets: torch.Tensor | None = None
    sigma: torch.Tensor | None = None

    def subset(self, index) -> "Batch":
        """The points ``index`` (a slice or index tensor) of this batch, with their data."""
        def pick(v, axis=0):
            return None if v is None else (v[index] if axis == 0 else v[:, index])
        return Batch(self.points[index], pick(self.normals), {k: v[index] for k, v in self.data.items()},
                     pick(self.targets, 1), pick(self.sigma, 1))
