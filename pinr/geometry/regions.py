r"""Regions and data that put a shape into a pinr problem.

- :class:`SurfaceRegion`: points on the shape's surface with its outward normals, fresh each
  step (the shape's own ``boundary`` region: area-/length-uniform, or Sobol), so
  ``Eq(grad(u), [n_x, n_y, n_z])`` can hold there;
- :class:`NearSurfaceRegion`: surface points moved by Laplace noise at a few scales (the
  SCONE/BACON protocol, default :math:`b = 10^{-1}` and :math:`10^{-3}`, half the batch each);
- :func:`signed_distance_data`: the shape's signed distance as a data function ``d(x, y, z)``
  of the coordinates, for supervised fits ``Eq(u, d)`` and as the problem's exact solution.

Regions draw their random numbers from the solver's torch generator (numpy ones from a seed
taken from it), so seeded runs repeat and resumed runs continue exactly.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch
from sympy.core.function import UndefinedFunction

from ..domains.base import AbstractPatch, AbstractSurface, Samples
from ..domains.csg import AbstractSolid
from ..symbolic.expressions import DataFunction

__all__ = ["SurfaceRegion", "NearSurfaceRegion", "SignedDistanceSource", "signed_distance_data", "numpy_rng"]


def numpy_rng(generator: torch.Generator | None) -> np.random.Generator:
    """A numpy generator seeded from ``generator`` (torch's default generator when None)."""
    dev = generator.device if generator is not None else "cpu"
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=dev))
    return np.random.default_rng(seed)


def _check(domain, shape: AbstractSolid, what: str):
    if not isinstance(shape, AbstractSolid):
        raise TypeError(f"{what} takes a solid (e.g. pinr.Disk, pinr.TriangleMesh), got {type(shape).__name__}")
    if domain.dim != shape.dim or domain.time is not None:
        raise ValueError(f"{what}: the {shape.dim}-D shape {shape.name!r} needs a {shape.dim}-D spatial domain, "
                         f"got {domain!r}")
    names = tuple(c.name for c in shape.coords)
    if names != tuple(c.name for c in domain.coords):
        raise ValueError(f"{what}: the shape {shape!r} has coordinates {', '.join(names)} but {domain!r} has "
                         f"{', '.join(c.name for c in domain.coords)}; state both in the same coordinates")


class SurfaceRegion(AbstractSurface):
    """The surface of ``shape`` inside ``domain``: ``shape.boundary``'s samples (uniform by length
    or area, or Sobol), with outward unit normals."""

    name = "surface"
    has_normals = True

    def __init__(self, domain, shape: AbstractSolid):
        _check(domain, shape, "SurfaceRegion")
        self.domain, self.shape = domain, shape

    def _sample(self, n, *, method, generator, dtype, device):
        return self.shape.boundary.sample(n, method=method, generator=generator, dtype=dtype, device=device)


class SignedDistanceSource:
    r"""The exact (or, for point clouds, estimated) signed distance of ``shape`` at points, in
    the interface of :class:`~pinr.symbolic.data.DataSource` (``interpolate(points, channel)``).

    A :class:`NearSurfaceRegion` hands the distances of the points it draws over in its samples
    (``Samples.data``), so training never recomputes them; other points are computed on the CPU,
    and the last few large queries (reference grids) are cached by content.
    """

    def __init__(self, name: str, shape: AbstractSolid):
        self.name, self.shape = name, shape
        self._cache: OrderedDict = OrderedDict()

    @property
    def channels(self) -> int:
        return 1

    def interpolate(self, points: torch.Tensor, channel: int = 0) -> torch.Tensor:
        x = points.detach().to("cpu", torch.float64).numpy()
        key = None
        if len(x) > 65536:
            key = (x.shape, hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=16).hexdigest())
            if key in self._cache:
                return torch.as_tensor(self._cache[key], dtype=points.dtype).to(points.device)
        values = self.shape.signed_distance(x)
        if key is not None:
            self._cache[key] = values
            while len(self._cache) > 2:
                self._cache.popitem(last=False)
        return torch.as_tensor(values, dtype=points.dtype).to(points.device)

    def __repr__(self):
        return f"SignedDistance({self.name!r}, {self.shape.name!r})"


def signed_distance_data(name: str, shape: AbstractSolid, domain):
    r"""The signed distance of ``shape`` as a data function of ``domain``'s coordinates,
    e.g. ``d(x, y, z)``; use it in equations (``Eq(u, d)``) or as ``Problem(..., exact=d)``."""
    _check(domain, shape, "signed_distance_data")
    source = SignedDistanceSource(name, shape)
    cls = UndefinedFunction(name, bases=(DataFunction,), __dict__={"source": source, "channel": 0},
                            pinr_data=id(source))
    return cls(*domain.coords)


def _source_of(data) -> SignedDistanceSource:
    if isinstance(data, DataFunction) and isinstance(getattr(data.func, "source", None), SignedDistanceSource):
        return data.func.source
    raise TypeError(f"expected the data function made by signed_distance_data(...), got {data!r}")


class NearSurfaceRegion(AbstractPatch):
    r"""Points :math:`x_s + \varepsilon` near the surface of ``shape``: :math:`x_s` uniform on the
    surface, :math:`\varepsilon_i \sim \mathrm{Laplace}(0, b)` per coordinate, the batch split
    evenly over ``scales`` :math:`b`; points are clipped to the domain's box. A share ``uniform``
    of the points (default none) is drawn uniformly in the domain's box instead, so that a fit to
    the distances holds away from the surface too.

    The samples carry the exact signed distances of the drawn points for ``data`` (from
    :func:`signed_distance_data`). Shapes whose distance is cheap (analytic) are sampled afresh each step;
    meshes and point clouds draw from a pool of ``pool`` points computed once.
    """

    name = "near_surface"
    has_normals = False

    def __init__(self, domain, shape: AbstractSolid, data, *, scales: Sequence[float] = (1e-1, 1e-3),
                 uniform: float = 0.0, pool: int = 1 << 18):
        _check(domain, shape, "NearSurfaceRegion")
        if not (isinstance(uniform, (int, float)) and 0 <= uniform < 1):
            raise ValueError(f"NearSurfaceRegion uniform is the share of box points, in [0, 1), got {uniform!r}")
        self.uniform = float(uniform)
        self.domain, self.shape, self.source = domain, shape, _source_of(data)
        self.scales = tuple(float(s) for s in scales)
        if not self.scales or not all(s > 0 for s in self.scales):
            raise ValueError(f"NearSurfaceRegion scales must be positive numbers, got {scales!r}")
        self.pool_size = int(pool)
        self._pool: tuple[np.ndarray, np.ndarray] | None = None
        self._fresh = shape.analytic

    def _draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        b = self.domain.bounds
        box = round(self.uniform * n)
        inside = rng.uniform(b[:, 0], b[:, 1], (box, len(b)))
        if box == n:
            return inside
        pts, _ = self.shape.sample_surface(n - box, rng)
        which = np.arange(n - box) % len(self.scales)
        noise = rng.laplace(0.0, 1.0, pts.shape) * np.asarray(self.scales)[which][:, None]
        return np.concatenate([np.clip(pts + noise, b[:, 0], b[:, 1]), inside])

    def _sample(self, n, *, method, generator, dtype, device):
        if method != "uniform":
            raise ValueError(f"{self}: near-surface points are drawn at random; method must be 'uniform'")
        rng = numpy_rng(generator)
        if self._fresh:
            pts = self._draw(n, rng)
            values = self.shape.signed_distance(pts)
        else:
            if self._pool is None:
                pool_pts = self._draw(self.pool_size, np.random.default_rng(0))
                self._pool = (pool_pts, self.shape.signed_distance(pool_pts))
            idx = rng.integers(0, self.pool_size, n)
            pts, values = self._pool[0][idx], self._pool[1][idx]
        points = torch.as_tensor(pts, dtype=dtype).to(device)
        return Samples(points, data={self.source: torch.as_tensor(values, dtype=dtype).to(device)})

