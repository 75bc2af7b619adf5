"""Domains and the regions of them that conditions live on.

A domain has coordinates (sympy symbols, time last), makes fields, and exposes regions:
``domain.interior``, ``domain.boundary`` (and its sides ``domain.boundary["x-"]``) and, for
space-time domains, ``domain.initial``. Every region samples points of shape
``(n_points, n_coords)`` uniformly or by a scrambled Sobol sequence, and boundary regions give
outward unit normals of the same shape.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..symbolic.expressions import Coordinate, TimeCoordinate, make_field

__all__ = ["Samples", "AbstractRegion", "AbstractInterior", "AbstractBoundary", "AbstractInitial",
           "AbstractSurface", "AbstractPatch", "AbstractPointSet", "AbstractDomain", "SAMPLING_METHODS",
           "unit_samples"]

SAMPLING_METHODS = ("uniform", "sobol", "grid")


@dataclass(frozen=True)
class Samples:
    """Points ``(n_points, n_coords)`` drawn from a region, with outward normals on boundaries.

    ``data`` carries values that the region knows at its own points, keyed by data source (e.g.
    the exact signed distances of near-surface points, ``(n_points,)``): a compiled expression
    reads them instead of interpolating its data there.
    """

    points: torch.Tensor
    normals: torch.Tensor | None = None
    data: Mapping[object, torch.Tensor] = field(default_factory=dict)


def unit_samples(n: int, d: int, *, method: str, generator: torch.Generator | None,
                 dtype: torch.dtype, device) -> torch.Tensor:
    """``n`` points in the unit cube ``[0, 1)^d`` (uniform i.i.d. or scrambled Sobol)."""
    if method == "uniform":
        gdev = generator.device if generator is not None else device
        u = torch.rand(n, d, generator=generator, dtype=dtype, device=gdev)
        return u.to(device)
    if method == "sobol":
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator,
                                 device=generator.device if generator is not None else "cpu"))
        engine = torch.quasirandom.SobolEngine(d, scramble=True, seed=seed)
        return engine.draw(n, dtype=torch.float64).to(dtype=dtype, device=device)
    raise ValueError(f"unknown sampling method {method!r}; choose one of {SAMPLING_METHODS}")


class AbstractRegion(abc.ABC):
    """A part of a domain on which a condition holds."""

    domain: "AbstractDomain"
    name: str
    has_normals: bool = False
    default_method: str = "uniform"

    def sample(self, n: int, *, method: str | None = None, generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float32, device=None) -> Samples:
        """Draw ``n`` points ``(n, n_coords)`` (and normals on boundaries)."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"{self}: number of sample points must be a positive integer, got {n!r}")
        method = method or self.default_method
        if method not in SAMPLING_METHODS:
            raise ValueError(f"unknown sampling method {method!r}; choose one of {SAMPLING_METHODS}")
        return self._sample(n, method=method, generator=generator, dtype=dtype,
                            device=torch.device(device) if device is not None else torch.device("cpu"))

    @abc.abstractmethod
    def _sample(self, n, *, method, generator, dtype, device) -> Samples: ...

    def windowed(self, points: torch.Tensor, fraction: float, t0: float) -> torch.Tensor:
        """Samples of this region moved into a time window ``[t0, t0 + fraction·(t1 - t0)]``
        (the solver's time-window curriculum): the time column (last) squeezed linearly.
        Regions that are fixed in time (initial slices) are left alone by their time column
        being ``t0``; regions whose shape depends on time override this."""
        return torch.cat([points[:, :-1], t0 + (points[:, -1:] - t0) * fraction], dim=-1)

    def __repr__(self) -> str:
        return f"{self.domain!r}.{self.name}"


class AbstractInterior(AbstractRegion):
    """The whole interior of a domain (space, or space-time)."""


class AbstractBoundary(AbstractRegion):
    """The boundary of a domain, or some sides of it (``sides``: side names such as ``"x-"`` for
    boxes; ``None`` for a boundary without sides); samples come with outward normals."""

    has_normals = True
    sides: tuple[str, ...] | None = None


class AbstractInitial(AbstractRegion):
    """The initial slice ``t = t0`` of a space-time domain."""


class AbstractSurface(AbstractRegion):
    """The surface of a shape inside the domain (with its normals when it has them)."""


class AbstractPatch(AbstractRegion):
    """A part of the interior (a disk around a source, a shell around a front, points near a
    surface): extra points where the solution needs them."""


class AbstractPointSet(AbstractRegion):
    """A fixed set of points (a point cloud, chosen pixels)."""


class AbstractDomain(abc.ABC):
    """A set in space (or space-time) with named coordinates."""

    @property
    @abc.abstractmethod
    def coords(self) -> tuple[Coordinate, ...]:
        """Coordinate symbols, time last."""

    @property
    @abc.abstractmethod
    def bounds(self) -> np.ndarray:
        """Bounding box ``(n_coords, 2)`` of (low, high) per coordinate."""

    @property
    @abc.abstractmethod
    def interior(self) -> AbstractRegion: ...

    @property
    @abc.abstractmethod
    def boundary(self) -> AbstractRegion: ...

    @property
    def initial(self) -> AbstractRegion:
        raise ValueError(f"{self!r} has no time axis, so it has no initial region; "
                         "build the domain as space * pr.TimeInterval(t0, t1)")

    @property
    def dim(self) -> int:
        return len(self.coords)

    @property
    def time(self) -> TimeCoordinate | None:
        return next((c for c in self.coords if isinstance(c, TimeCoordinate)), None)

    def field(self, name: str, components: int | Sequence[str] = 1):
        """The unknown field ``name`` over this domain's coordinates (a column matrix if vector)."""
        return make_field(name, self.coords, components)

    def default_grid_shape(self, resolution: int) -> tuple[int, ...]:
        """Lattice used to plot and compare fields: ``resolution`` points along the longest side."""
        ext = self.bounds[:, 1] - self.bounds[:, 0]
        return tuple(max(2, int(math.ceil(resolution * e / ext.max()))) for e in ext)

    def lattice(self, shape: Sequence[int]) -> list[np.ndarray]:
        """Cell-centred 1-D coordinate arrays of a lattice with ``shape`` over the bounding box."""
        if len(shape) != self.dim:
            raise ValueError(f"grid shape {tuple(shape)} has {len(shape)} axes but {self!r} has {self.dim} coordinates")
        out = []
        for (lo, hi), n in zip(self.bounds, shape):
            h = (hi - lo) / n
            out.append(lo + h * (np.arange(n) + 0.5))
        return out

    def adf(self):
        """Approximate distance function of the boundary (a sympy expression of the spatial
        coordinates, zero on the boundary, positive inside), for hard constraints."""
        raise NotImplementedError(f"{self!r} has no distance function; boxes, disks, balls, tori, polygons and their "
                                  "set operations (| & -) have one")

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Boolean mask ``(n_points,)`` of points inside the closed domain."""
        p = np.asarray(points)
        b = self.bounds
        return np.all((p >= b[:, 0] - 1e-12) & (p <= b[:, 1] + 1e-12), axis=-1)

    def __eq__(self, other):
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self):
        return hash((type(self).__name__, self._key()))

    @abc.abstractmethod
    def _key(self) -> tuple: ...
