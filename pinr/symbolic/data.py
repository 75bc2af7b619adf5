r"""Data arrays that enter equations as functions of the coordinates.

``pr.Data("g", array, on=grid)`` is the sympy expression ``g(x, y)``; at sample points it is
interpolated multilinearly from the grid's cell centres (clamped outside the outermost
centres), so it can sit anywhere a known function of the coordinates can. A problem refuses
data whose grid stops more than one cell short of its domain (:meth:`DataSource.covers`).
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy
import torch
from sympy.core.function import UndefinedFunction

from ..domains.shapes import Grid
from .expressions import DataFunction

__all__ = ["Data", "DataSource"]

_IDS = itertools.count()


class DataSource:
    """An array on a :class:`~pinr.domains.Grid` and its multilinear interpolant.

    ``values`` has shape ``grid.shape`` (scalar) or ``grid.shape + (n_channels,)``.
    """

    def __init__(self, name: str, values: np.ndarray, grid):
        self.name, self.values, self.grid = name, values, grid
        self._cache: dict = {}

    @property
    def channels(self) -> int:
        return 1 if self.values.ndim == len(self.grid.shape) else self.values.shape[-1]

    def covers(self, extent, *, cells: float = 1.0) -> bool:
        r"""Whether the grid reaches every side of ``extent`` to within ``cells`` of its cells.

        ``extent`` maps coordinates to ``(lo, hi)``; those the grid lacks are ignored. With grid
        bounds :math:`(a_k, b_k)` and spacing :math:`h_k` along each shared coordinate, it
        covers when :math:`a_k \le lo_k + c\,h_k` and :math:`b_k \ge hi_k - c\,h_k` (``cells``
        :math:`= c`, default 1). One cell of slack admits gradient data on staggered grids half
        a cell inside the domain; beyond it, :meth:`interpolate` would clamp the data silently.
        """
        lookup = {str(c): tuple(map(float, b)) for c, b in dict(extent).items()}
        for c, (a, b), h in zip(self.grid.coords, self.grid.bounds, self.grid.spacing):
            if str(c) not in lookup:
                continue
            lo, hi = lookup[str(c)]
            slack = cells * h + 1e-9 * max(abs(lo), abs(hi), h)
            if a > lo + slack or b < hi - slack:
                return False
        return True

    def extent_text(self) -> str:
        """The grid's extent as text, e.g. ``x in [5, 6], y in [5, 6]``."""
        return ", ".join(f"{c} in [{a:g}, {b:g}]" for c, (a, b) in zip(self.grid.coords, self.grid.bounds))

    def interpolate(self, points: torch.Tensor, channel: int = 0) -> torch.Tensor:
        r"""Multilinear interpolant at ``points`` ``(n_points, grid_dim)`` → ``(n_points,)``."""
        key = (points.dtype, points.device)
        if key not in self._cache:
            v = self.values if self.values.ndim > len(self.grid.shape) else self.values[..., None]
            # a copy, not np.ascontiguousarray: that keeps a flipped view whose axes have length 1
            # (a 1×1 image), whose negative strides torch refuses
            self._cache[key] = torch.as_tensor(np.array(v, order="C"), dtype=points.dtype, device=points.device)
        table = self._cache[key]
        shape = self.grid.shape
        lo = torch.as_tensor(self.grid.bounds[:, 0], dtype=points.dtype, device=points.device)
        h = torch.as_tensor(self.grid.spacing, dtype=points.dtype, device=points.device)
        s = (points - lo) / h - 0.5
        n = torch.as_tensor(shape, device=points.device)
        s = torch.clamp(s, min=torch.zeros_like(s), max=(n - 1).to(s.dtype).expand_as(s))
        i0 = torch.clamp(torch.floor(s).long(), max=torch.clamp(n - 2, min=0))
        w = s - i0.to(s.dtype)
        out = torch.zeros(points.shape[0], dtype=points.dtype, device=points.device)
        d = len(shape)
        strides = [int(np.prod(shape[k + 1:])) for k in range(d)]
        flat = table[..., channel].reshape(-1)
        for corner in range(2 ** d):
            idx = torch.zeros(points.shape[0], dtype=torch.long, device=points.device)
            weight = torch.ones_like(out)
            for k in range(d):
                bit = (corner >> k) & 1
                ik = torch.clamp(i0[:, k] + bit, max=shape[k] - 1)
                idx = idx + ik * strides[k]
                weight = weight * (w[:, k] if bit else 1 - w[:, k])
            out = out + weight * flat[idx]
        return out

    def __repr__(self):
        return f"Data({self.name!r}, array{tuple(self.values.shape)}, on={self.grid!r})"


def Data(name: str, array, *, on):
    r"""A data array as a function of the coordinates of grid ``on``.

    Returns ``g(x, y)`` for an array of shape ``on.shape``, or a column matrix of
    ``g_0(x, y), g_1(x, y), ...`` for an array of shape ``on.shape + (n_channels,)``.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"Data name must be an identifier such as 'g', got {name!r}")
    if not isinstance(on, Grid):
        raise TypeError(f"Data({name!r}): `on` must be a pr.Grid describing where the array's values sit, "
                        f"got {type(on).__name__}")
    try:
        values = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"Data({name!r}): array must be numeric, got {type(array).__name__}") from None
    if values.shape != on.shape and not (values.ndim == len(on.shape) + 1 and values.shape[:-1] == on.shape):
        raise ValueError(f"Data({name!r}): array of shape {values.shape} does not match the grid shape "
                         f"{on.shape} (or {on.shape} + (channels,)); resample it or build the Grid with "
                         f"shape {values.shape[:len(on.shape)]}")
    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).sum())
        raise ValueError(f"Data({name!r}): array has {bad} NaN or infinite values; fill or mask them first")
    source = DataSource(name, values, on)
    # each Data is its own function (pinr_data in sympy's equality key), so sympy's caches never
    # confuse two arrays that share a name
    uid = next(_IDS)
    if source.channels == 1 and values.ndim == len(on.shape):
        cls = UndefinedFunction(name, bases=(DataFunction,), __dict__={"source": source, "channel": 0}, pinr_data=uid)
        return cls(*on.coords)
    apps = [UndefinedFunction(f"{name}_{c}", bases=(DataFunction,), __dict__={"source": source, "channel": c},
                              pinr_data=uid)(*on.coords)
            for c in range(source.channels)]
    return sympy.Matrix(apps)
