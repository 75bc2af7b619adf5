r"""The normalised box :math:`[-1, 1]^d` that solids with a signed distance live in.

:class:`Normalization` maps a shape's input units (a mesh file's, a point cloud's) onto the box
and back; analytic solids are stated in it directly (the identity). :func:`grid_points` and
:func:`cell_centres` give the cell-centred lattice of the box on which occupancy and signed
distance grids are evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Normalization", "cell_centres", "grid_points", "as_points", "check_points"]


# ------------------------------------------------------------------------------ normalisation
@dataclass(frozen=True)
class Normalization:
    r"""The similarity :math:`x_{\mathrm{norm}} = (x_{\mathrm{input}} - c)/s` onto :math:`[-1, 1]^d`.

    ``center`` :math:`c` has shape ``(d,)``; ``scale`` :math:`s > 0` is one number, so the
    aspect ratio is kept and distances in input units are :math:`s` times distances in
    normalised units.
    """

    center: tuple[float, ...]
    scale: float = 1.0

    def __post_init__(self):
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"Normalization scale must be a positive finite number, got {self.scale}")

    @classmethod
    def identity(cls, dim: int) -> "Normalization":
        return cls((0.0,) * dim, 1.0)

    @classmethod
    def fit(cls, points: np.ndarray, *, padding: float = 0.1) -> "Normalization":
        r"""Centre the bounding box of ``points`` ``(n, d)`` and scale its longest side to
        :math:`2(1 - \mathrm{padding})`, i.e. into :math:`[-(1-p), 1-p]^d` (aspect ratio kept)."""
        if not 0 <= padding < 1:
            raise ValueError(f"padding must be in [0, 1), got {padding}")
        lo, hi = points.min(0), points.max(0)
        half = float((hi - lo).max()) / 2
        if not half > 0:
            raise ValueError("cannot normalise: all points coincide (the shape has zero extent)")
        return cls(tuple(float(v) for v in (lo + hi) / 2), half / (1 - padding))

    @property
    def dim(self) -> int:
        return len(self.center)

    def to_normalized(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) - np.asarray(self.center)) / self.scale

    def to_input(self, points: np.ndarray) -> np.ndarray:
        """Normalised coordinates ``(n, d)`` back to the input's units."""
        return np.asarray(self.center) + self.scale * np.asarray(points, dtype=np.float64)


def cell_centres(resolution: int, dim: int) -> np.ndarray:
    """1-D cell centres ``(resolution,)`` of :math:`[-1, 1]` (the lattice of ``pinr.solvers.grid_of``)."""
    h = 2.0 / resolution
    return -1.0 + h * (np.arange(resolution) + 0.5)


def grid_points(resolution: int, dim: int, *, first: slice = slice(None)) -> np.ndarray:
    """Cell centres of the ``resolution^dim`` lattice of :math:`[-1, 1]^d` in C order ("ij"),
    ``(n, dim)``; ``first`` restricts the first axis (for slab-wise evaluation)."""
    axes = [cell_centres(resolution, dim)] * dim
    axes[0] = axes[0][first]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=-1)


def as_points(points, dim: int) -> np.ndarray:
    """``points`` as float64 ``(n_points, dim)``; another shape raises."""
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != dim:
        raise ValueError(f"points must have shape (n_points, {dim}), got {p.shape}")
    return p


def check_points(points: Sequence, dim: int) -> np.ndarray:
    """Validated points ``(n, dim)``; NaN or infinite coordinates raise."""
    p = as_points(points, dim)
    if not np.isfinite(p).all():
        raise ValueError(f"{int((~np.isfinite(p)).any(-1).sum())} points have NaN or infinite coordinates")
    return p
