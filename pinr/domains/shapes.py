r"""Concrete domains: boxes (Interval, Rectangle, Box), pixel grids, disks, balls and tori, time
intervals, space-time products and point clouds. Boxes, disks, balls and tori are solids
(:class:`~pinr.domains.csg.AbstractSolid`): they know their exact signed distance, combine by
``| & -`` and give distance functions ``adf()``."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import sympy
import torch

from ..symbolic.expressions import Coordinate, TimeCoordinate
from .base import (
    AbstractBoundary,
    AbstractBoundaryPart,
    AbstractDomain,
    AbstractInitial,
    AbstractInterior,
    AbstractPointSet,
    AbstractRegion,
    Samples,
    split_draws,
    unit_samples,
)
from .csg import AbstractSolid, SolidBoundary, _Combination, r_and
from .frame import as_points

__all__ = ["Interval", "Rectangle", "Box", "Grid", "Disk", "Ball", "Torus", "TimeInterval", "SpaceTime", "PointCloud"]


def _num(v: float) -> sympy.Expr:
    """A domain's number as an exact sympy rational (so the distance function vanishes exactly)."""
    return sympy.nsimplify(float(v), rational=True)


def _check_range(name: str, value) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"axis {name!r} must be given as a (low, high) pair of numbers, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
        raise ValueError(f"axis {name!r} must satisfy low < high with finite numbers, got ({lo}, {hi})")
    return lo, hi


# --------------------------------------------------------------------------------------- boxes
class _BoxInterior(AbstractInterior):
    name = "interior"

    def __init__(self, domain: "_AbstractBox"):
        self.domain = domain

    def _sample(self, n, *, method, generator, dtype, device):
        if method == "grid":
            raise ValueError(f"{self}: method 'grid' needs a pr.Grid domain; use 'uniform' or 'sobol'")
        b = torch.as_tensor(self.domain.bounds, dtype=dtype, device=device)
        u = unit_samples(n, self.domain.dim, method=method, generator=generator, dtype=dtype, device=device)
        return Samples(b[:, 0] + u * (b[:, 1] - b[:, 0]))


class _BoxBoundary(AbstractBoundary):
    """The boundary of a box, or one of its sides ``"x-"``, ``"x+"``, ... (normals point outward)."""

    has_normals = True

    def __init__(self, domain: "_AbstractBox", sides: tuple[str, ...]):
        self.domain = domain
        self.sides = sides
        self.name = "boundary" if len(sides) == 2 * domain.dim else f'boundary["{sides[0]}"]'

    def __getitem__(self, side: str) -> "_BoxBoundary":
        valid = self.domain.side_names()
        if side not in valid:
            raise KeyError(f"{self.domain!r} has no side {side!r}; valid sides are {valid}")
        return _BoxBoundary(self.domain, (side,))

    @property
    def surface_measure(self) -> float:
        return sum(self.domain.side_measure(s) for s in self.sides)

    def _sample(self, n, *, method, generator, dtype, device):
        dom = self.domain
        d = dom.dim
        b = torch.as_tensor(dom.bounds, dtype=dtype, device=device)
        ext = b[:, 1] - b[:, 0]
        names = [c.name for c in dom.coords]
        # measure of each side (length/area of the face; 1 for the end points of an interval)
        meas = []
        for s in self.sides:
            axis = names.index(s[:-1])
            meas.append(float(torch.prod(torch.cat([ext[:axis], ext[axis + 1:]]))) if d > 1 else 1.0)
        p = torch.tensor(meas, dtype=torch.float64)
        gdev = generator.device if generator is not None else "cpu"
        if method == "sobol" and len(self.sides) > 1:  # stratified by side, each side its own Sobol points
            counts = split_draws(n, p, method=method, generator=generator)
            which = torch.repeat_interleave(torch.arange(len(self.sides)), counts)
            u = torch.cat([unit_samples(c, d, method=method, generator=generator, dtype=dtype, device=device)
                           for c in counts.tolist() if c])
            perm = torch.randperm(n, generator=generator, device=gdev).to(device)
            which, u = which.to(device)[perm], u[perm]
        else:
            which = torch.multinomial(p / p.sum(), n, replacement=True, generator=generator) if len(self.sides) > 1 \
                else torch.zeros(n, dtype=torch.long)
            which = which.to(gdev)
            u = unit_samples(n, d, method=method, generator=generator, dtype=dtype, device=device)
        pts = b[:, 0] + u * ext
        normals = torch.zeros(n, d, dtype=dtype, device=device)
        which = which.to(device)
        for k, s in enumerate(self.sides):
            axis, sign = names.index(s[:-1]), (1.0 if s[-1] == "+" else -1.0)
            mask = which == k
            pts[:, axis] = torch.where(mask, b[axis, 1] if sign > 0 else b[axis, 0], pts[:, axis])
            normals[:, axis] = torch.where(mask, torch.as_tensor(sign, dtype=dtype, device=device), normals[:, axis])
        return Samples(pts, normals)


class _AbstractBox(AbstractSolid):
    """An axis-aligned box with named coordinates, in keyword order."""

    def __init__(self, **axes):
        if not axes:
            raise ValueError(f"{type(self).__name__} needs named axes, e.g. x=(-1, 1)")
        for name in axes:
            if not name.isidentifier():
                raise ValueError(f"axis name must be an identifier, got {name!r}")
        self._axes = {k: _check_range(k, v) for k, v in axes.items()}
        self._coords = tuple(Coordinate(k) for k in self._axes)

    @property
    def bounds(self):
        return np.array(list(self._axes.values()), dtype=np.float64)

    @property
    def interior(self):
        return _BoxInterior(self)

    @property
    def boundary(self):
        return _BoxBoundary(self, self.side_names())

    def side_names(self) -> tuple[str, ...]:
        return tuple(f"{c.name}{s}" for c in self._coords for s in "-+")

    def side_measure(self, side: str) -> float:
        """Length or area of one side (1 for an end of an interval)."""
        ext = self.bounds[:, 1] - self.bounds[:, 0]
        return float(np.prod(np.delete(ext, [c.name for c in self._coords].index(side[:-1]))))

    def _faces(self):
        return tuple((s, _BoxBoundary(self, (s,)), self.side_measure(s)) for s in self.side_names())

    def _side_adf(self, sides):
        return self.adf(sides)

    def contains(self, points):
        return AbstractDomain.contains(self, points)

    def signed_distance(self, points):
        r"""The exact box distance :math:`\phi = |\max(q, 0)| + \min(\max_i q_i, 0)` with
        :math:`q = |x - c| - h` (centre :math:`c`, half side lengths :math:`h`)."""
        p, b = as_points(points, self.dim), self.bounds
        c, h = b.mean(-1), (b[:, 1] - b[:, 0]) / 2
        q = [np.abs(p[:, k] - c[k]) - h[k] for k in range(self.dim)]  # per axis: no slow reductions over 2-3 columns
        return np.sqrt(sum(np.maximum(qk, 0) ** 2 for qk in q)) + np.minimum(functools.reduce(np.maximum, q), 0)

    @property
    def surface_measure(self):
        ext = self.bounds[:, 1] - self.bounds[:, 0]
        return float(sum(2 * np.prod(np.delete(ext, k)) for k in range(self.dim)))

    def adf(self, sides: Sequence[str] | None = None) -> sympy.Expr:
        r"""Distance function of the boundary, or of the ``sides`` only (e.g. ``("x-", "y+")``, for
        hard Dirichlet conditions on some sides): the R-conjunction of one factor per axis, the
        slab :math:`(x - a)(b - x)/(b - a)` when both sides of the axis are chosen, else
        :math:`x - a` (side ``"x-"``) or :math:`b - x` (``"x+"``). Each factor is smooth and
        normalised (:math:`|\nabla\phi| = 1` on its sides), so the result is smooth except at
        the corners and zero only on the chosen sides. (The product
        :math:`\prod_i (x_i - a_i)(b_i - x_i)/(b_i - a_i)` is smoother but not normalised:
        on the side :math:`x = a` its gradient is the other factors, not 1.)"""
        valid = self.side_names()
        sides = valid if sides is None else tuple(sides)
        bad = [s for s in sides if s not in valid]
        if bad or not sides:
            raise ValueError(f"{self!r}: sides must be a non-empty subset of {valid}, got {sides!r}")
        factors = []
        for c in self._coords:
            lo, hi = (_num(v) for v in self._axes[c.name])
            low, high = f"{c.name}-" in sides, f"{c.name}+" in sides
            if low and high:
                factors.append((c - lo) * (hi - c) / (hi - lo))
            elif low:
                factors.append(c - lo)
            elif high:
                factors.append(hi - c)
        phi = factors[0]
        for f in factors[1:]:
            phi = r_and(phi, f)
        return phi

    def _adf(self):
        return self.adf(), True

    def _key(self):
        return tuple(self._axes.items())

    def __repr__(self):
        args = ", ".join(f"{k}=({lo:g}, {hi:g})" for k, (lo, hi) in self._axes.items())
        return f"{type(self).__name__}({args})"


class Interval(_AbstractBox):
    """1-D interval, ``Interval(x=(0, 1))``."""

    def __init__(self, **axes):
        if len(axes) != 1:
            raise ValueError(f"Interval takes exactly one axis such as x=(0, 1), got {list(axes)}")
        super().__init__(**axes)


class Rectangle(_AbstractBox):
    """2-D rectangle, ``Rectangle(x=(-1, 1), y=(-1, 1))``."""

    def __init__(self, **axes):
        if len(axes) != 2:
            raise ValueError(f"Rectangle takes exactly two axes such as x=(-1, 1), y=(-1, 1), got {list(axes)}")
        super().__init__(**axes)


class Box(_AbstractBox):
    """Axis-aligned box of any dimension, ``Box(x=(-1, 1), y=(-1, 1), z=(-1, 1))``."""


class _GridInterior(_BoxInterior):
    default_method = "grid"

    def _sample(self, n, *, method, generator, dtype, device):
        if method != "grid":
            return super()._sample(n, method=method, generator=generator, dtype=dtype, device=device)
        pts = self.domain.points(dtype=dtype, device=device)
        if n >= pts.shape[0]:
            return Samples(pts)
        gdev = generator.device if generator is not None else "cpu"
        idx = torch.randperm(pts.shape[0], generator=generator, device=gdev)[:n].to(device)
        return Samples(pts[idx])


class Grid(_AbstractBox):
    """A pixel/voxel lattice over a box: ``Grid((256, 256), x=(-1, 1), y=(-1, 1))``.

    Cells are centred: along an axis with ``n`` cells on ``(lo, hi)`` the centres are
    ``lo + (i + 1/2)(hi - lo)/n``. Arrays on a grid are indexed like the coordinates
    (``array[ix, iy]``, "ij" indexing). The interior samples all cell centres (full batch),
    or a random subset when fewer points are asked for; ``method="uniform"`` samples the box.
    """

    combines = False

    def __init__(self, shape: Sequence[int], **axes):
        super().__init__(**axes)
        shape = tuple(int(s) for s in shape)
        if len(shape) != len(axes) or any(s < 1 for s in shape):
            raise ValueError(f"Grid shape {shape} must have one positive size per axis {list(axes)}")
        self.shape = shape

    @property
    def interior(self):
        return _GridInterior(self)

    @property
    def spacing(self) -> np.ndarray:
        b = self.bounds
        return (b[:, 1] - b[:, 0]) / np.array(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def points(self, *, dtype=torch.float32, device=None) -> torch.Tensor:
        """All cell centres ``(prod(shape), n_coords)`` in C order of the grid's array."""
        axes = [torch.as_tensor(a, dtype=dtype, device=device) for a in self.lattice(self.shape)]
        mesh = torch.meshgrid(*axes, indexing="ij")
        return torch.stack([m.reshape(-1) for m in mesh], dim=-1)

    def _key(self):
        return (self.shape, *super()._key())

    def __repr__(self):
        args = ", ".join(f"{k}=({lo:g}, {hi:g})" for k, (lo, hi) in self._axes.items())
        return f"Grid({self.shape}, {args})"


# -------------------------------------------------------------------------------- disks, balls
class _BallInterior(AbstractInterior):
    name = "interior"

    def __init__(self, domain):
        self.domain = domain

    def _sample(self, n, *, method, generator, dtype, device):
        if method == "grid":
            raise ValueError(f"{self}: method 'grid' needs a pr.Grid domain; use 'uniform' or 'sobol'")
        d = self.domain.dim
        u = unit_samples(n, d, method=method, generator=generator, dtype=dtype, device=device)
        direction = _sphere_directions(u[:, 1:], d)
        r = self.domain.radius * u[:, :1] ** (1.0 / d)
        return Samples(torch.as_tensor(self.domain.center, dtype=dtype, device=device) + r * direction)


class _BallBoundary(SolidBoundary):
    def _surface(self, n, *, method, generator):
        d = self.domain.dim
        u = unit_samples(n, d - 1, method=method, generator=generator, dtype=torch.float64, device="cpu")
        nrm = _sphere_directions(u, d)
        return torch.as_tensor(self.domain.center, dtype=torch.float64) + self.domain.radius * nrm, nrm


def _sphere_directions(u: torch.Tensor, d: int) -> torch.Tensor:
    """Area-uniform unit vectors in R^d (d = 2, 3) from unit-cube samples ``(n, d-1)``."""
    if d == 2:
        th = 2 * math.pi * u[:, 0]
        return torch.stack([torch.cos(th), torch.sin(th)], dim=-1)
    z = 1 - 2 * u[:, 0]
    phi = 2 * math.pi * u[:, 1]
    s = torch.sqrt(torch.clamp(1 - z * z, min=0))
    return torch.stack([s * torch.cos(phi), s * torch.sin(phi), z], dim=-1)


class _AbstractBall(AbstractSolid):
    _names: tuple[str, ...]

    def __init__(self, center: Sequence[float] = None, radius: float = 1.0):
        d = len(self._names)
        center = (0.0,) * d if center is None else tuple(float(c) for c in center)
        if len(center) != d:
            raise ValueError(f"{type(self).__name__} center must have {d} coordinates, got {center}")
        radius = float(radius)
        if not radius > 0:
            raise ValueError(f"{type(self).__name__} radius must be positive, got {radius}")
        self.center, self.radius = center, radius
        self._coords = tuple(Coordinate(k) for k in self._names)

    @property
    def bounds(self):
        c = np.array(self.center)
        return np.stack([c - self.radius, c + self.radius], axis=-1)

    @property
    def interior(self):
        return _BallInterior(self)

    @property
    def boundary(self):
        return _BallBoundary(self)

    def signed_distance(self, points):
        r""":math:`\phi = |x - c| - r`."""
        d = as_points(points, self.dim) - np.array(self.center)
        return np.sqrt(np.einsum("ij,ij->i", d, d)) - self.radius

    @property
    def surface_measure(self):
        return 2 * math.pi * self.radius if self.dim == 2 else 4 * math.pi * self.radius**2

    def _adf(self):
        r"""$(r^2 - |x - c|^2)/(2r)$: smooth, signed, $|\nabla\phi| = 1$ on the sphere."""
        r = _num(self.radius)
        d2 = sum((x - _num(c)) ** 2 for x, c in zip(self._coords, self.center))
        return (r**2 - d2) / (2 * r), True

    def _key(self):
        return (self.center, self.radius)

    def __repr__(self):
        return f"{type(self).__name__}(center={self.center}, radius={self.radius:g})"


class Disk(_AbstractBall):
    """Disk ``{|x - center| <= radius}`` in the plane with coordinates (x, y)."""

    _names = ("x", "y")


class Ball(_AbstractBall):
    """Ball ``{|x - center| <= radius}`` in space with coordinates (x, y, z)."""

    _names = ("x", "y", "z")


class _TorusBoundary(SolidBoundary):
    r"""Area-uniform points of the torus surface
    :math:`c + (R + r\cos v)(\cos u, \sin u, 0) + r \sin v\, e_z`: :math:`u = 2\pi u_1` and
    :math:`v` by inverting the CDF of the area density :math:`(R + r\cos v)/(2\pi R)`,
    :math:`v + (r/R)\sin v = 2\pi u_2` (monotone: 12 bisections, then Newton's method, whose
    derivative :math:`1 + (r/R)\cos v \ge 1 - r/R > 0`), so Sobol points stay low-discrepancy."""

    def _surface(self, n, *, method, generator):
        dom = self.domain
        w = unit_samples(n, 2, method=method, generator=generator, dtype=torch.float64, device="cpu")
        u, target, k = 2 * math.pi * w[:, 0], 2 * math.pi * w[:, 1], dom.r / dom.R
        lo, hi = torch.zeros_like(target), torch.full_like(target, 2 * math.pi)
        for _ in range(12):
            mid = (lo + hi) / 2
            below = mid + k * torch.sin(mid) < target
            lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
        v = (lo + hi) / 2
        for _ in range(4):
            v = torch.clamp(v - (v + k * torch.sin(v) - target) / (1 + k * torch.cos(v)), lo, hi)
        nrm = torch.stack([torch.cos(u) * torch.cos(v), torch.sin(u) * torch.cos(v), torch.sin(v)], -1)
        ring = dom.R * torch.stack([torch.cos(u), torch.sin(u), torch.zeros_like(u)], -1)
        return torch.as_tensor(dom.center, dtype=torch.float64) + ring + dom.r * nrm, nrm


class Torus(AbstractSolid):
    r"""Torus around the axis through ``center`` parallel to z, major radius ``R``, minor radius
    ``r`` (:math:`0 < r < R`), coordinates (x, y, z):
    :math:`\phi = \big|\big(\sqrt{x^2 + y^2} - R,\ z\big)\big| - r` relative to the centre.

    Area :math:`4\pi^2 R r`. ``adf()`` is :math:`(r^2 - q^2)/(2r)` with
    :math:`q^2 = (\sqrt{x^2 + y^2} - R)^2 + z^2`: signed, :math:`|\nabla\phi| = 1` on the surface,
    smooth except on the axis (away from the surface since :math:`r < R`).
    """

    def __init__(self, R: float = 0.55, r: float = 0.25, center: Sequence[float] | None = None):
        R, r = float(R), float(r)
        if not (math.isfinite(R) and math.isfinite(r) and 0 < r < R):
            raise ValueError(f"Torus needs finite radii with 0 < r < R (a ring torus), got R={R:g}, r={r:g}")
        center = (0.0, 0.0, 0.0) if center is None else tuple(float(c) for c in center)
        if len(center) != 3 or not all(math.isfinite(c) for c in center):
            raise ValueError(f"Torus center must be 3 finite numbers, got {center}")
        self.R, self.r, self.center = R, r, center
        self._coords = tuple(Coordinate(k) for k in ("x", "y", "z"))

    @property
    def bounds(self):
        e = np.array([self.R + self.r, self.R + self.r, self.r])
        c = np.array(self.center)
        return np.stack([c - e, c + e], -1)

    @property
    def boundary(self):
        return _TorusBoundary(self)

    def signed_distance(self, points):
        p = as_points(points, 3) - np.array(self.center)
        return np.hypot(np.hypot(p[:, 0], p[:, 1]) - self.R, p[:, 2]) - self.r

    @property
    def surface_measure(self):
        return 4 * math.pi**2 * self.R * self.r

    def _adf(self):
        x, y, z = (c - _num(v) for c, v in zip(self._coords, self.center))
        R, r = _num(self.R), _num(self.r)
        q2 = (sympy.sqrt(x**2 + y**2) - R) ** 2 + z**2
        return (r**2 - q2) / (2 * r), True

    def _key(self):
        return (self.R, self.r, self.center)

    def __repr__(self):
        c = "" if self.center == (0.0, 0.0, 0.0) else f", center={self.center}"
        return f"Torus(R={self.R:g}, r={self.r:g}{c})"


# ---------------------------------------------------------------------------------- space-time
class _TimeInterior(AbstractInterior):
    name = "interior"

    def __init__(self, domain):
        self.domain = domain

    def _sample(self, n, *, method, generator, dtype, device):
        t0, t1 = self.domain.t0, self.domain.t1
        if method == "grid":
            method = "uniform"
        u = unit_samples(n, 1, method=method, generator=generator, dtype=dtype, device=device)
        return Samples(t0 + (t1 - t0) * u)

    def in_window(self, domain):
        return domain.interior


class _TimeStart(AbstractInitial):
    name = "initial"

    def __init__(self, domain):
        self.domain = domain

    def _sample(self, n, *, method, generator, dtype, device):
        return Samples(torch.full((n, 1), self.domain.t0, dtype=dtype, device=device))

    def in_window(self, domain):
        return domain.initial


class TimeInterval(AbstractDomain):
    """Time interval ``[t0, t1]``; multiply a spatial domain by it to get a space-time domain."""

    def __init__(self, t0: float = 0.0, t1: float = 1.0, *, name: str = "t"):
        self.t0, self.t1 = _check_range(name, (t0, t1))
        self._coords = (TimeCoordinate(name),)

    def __rmul__(self, space):
        """``space * TimeInterval(t0, t1)``: the space-time product (time last)."""
        if isinstance(space, AbstractDomain) and not isinstance(space, (TimeInterval, SpaceTime)):
            return SpaceTime(space, self)
        return NotImplemented

    @property
    def coords(self):
        return self._coords

    @property
    def bounds(self):
        return np.array([[self.t0, self.t1]])

    @property
    def interior(self):
        return _TimeInterior(self)

    @property
    def boundary(self):
        return _TimeStart(self)

    @property
    def initial(self):
        return _TimeStart(self)

    def _key(self):
        return (self.t0, self.t1, self._coords[0].name)

    def __repr__(self):
        return f"TimeInterval({self.t0:g}, {self.t1:g})"


class _SpaceTimeRegion(AbstractRegion):
    """A spatial region times a time region (interior × interval, boundary × interval, interior × t0)."""

    def __init__(self, domain: "SpaceTime", space_region: AbstractRegion, time_region: AbstractRegion, name: str):
        self.domain, self.space_region, self.time_region, self.name = domain, space_region, time_region, name
        self.has_normals = space_region.has_normals
        self.default_method = "uniform"

    def _sample(self, n, *, method, generator, dtype, device):
        s = self.space_region.sample(n, method=method, generator=generator, dtype=dtype, device=device)
        t = self.time_region.sample(n, method=method, generator=generator, dtype=dtype, device=device)
        normals = None
        if s.normals is not None:
            normals = torch.cat([s.normals, torch.zeros_like(t.points)], dim=-1)
        return Samples(torch.cat([s.points, t.points], dim=-1), normals)

    def in_window(self, domain):
        """The same spatial region times ``domain``'s interval (its start, for an initial slice)."""
        if not isinstance(domain, SpaceTime) or domain.space != self.domain.space:
            raise ValueError(f"{self!r}: a time window is the same space times another interval, got {domain!r}")
        return type(self)(domain, self.space_region, self.time_region.in_window(domain.time_interval), self.name)


class _SpaceTimeInterior(_SpaceTimeRegion, AbstractInterior):
    pass


class _SpaceTimeInitial(_SpaceTimeRegion, AbstractInitial):
    pass


class _SpaceTimeBoundary(_SpaceTimeRegion, AbstractBoundary):
    """The spatial boundary (or one side of it) times the time interval."""

    @property
    def sides(self):
        return self.space_region.sides

    @property
    def surface_measure(self) -> float:
        return _swept(self.space_region, self.domain)

    def __getitem__(self, key):
        return _space_time_boundary(self.domain, self.space_region[key], self.time_region)


class _SpaceTimePart(_SpaceTimeRegion, AbstractBoundaryPart):
    """A part of the spatial boundary (``(A - B).boundary[B]``) times the time interval."""

    sides = None

    @property
    def surface_measure(self) -> float:
        return _swept(self.space_region, self.domain)

    def __getitem__(self, key):
        return _space_time_boundary(self.domain, self.space_region[key], self.time_region)

    def adf(self):
        """The spatial part's distance function (independent of time)."""
        return self.space_region.adf()


def _swept(space_region, domain) -> float:
    """Measure of a spatial boundary region times the duration."""
    return space_region.surface_measure * (domain.time_interval.t1 - domain.time_interval.t0)


def _space_time_boundary(domain, space_region, time_region):
    """A spatial boundary region (a side, or a part) times the time interval, typed like it."""
    kind = _SpaceTimePart if isinstance(space_region, AbstractBoundaryPart) else _SpaceTimeBoundary
    return kind(domain, space_region, time_region, space_region.name)


class SpaceTime(AbstractDomain):
    """Product ``space * TimeInterval(t0, t1)``; coordinates are the spatial ones, then time."""

    def __init__(self, space: AbstractDomain, time: TimeInterval):
        self.space, self.time_interval = space, time

    @property
    def coords(self):
        return self.space.coords + self.time_interval.coords

    @property
    def bounds(self):
        return np.concatenate([self.space.bounds, self.time_interval.bounds])

    @property
    def interior(self):
        return _SpaceTimeInterior(self, self.space.interior, self.time_interval.interior, "interior")

    @property
    def boundary(self):
        return _SpaceTimeBoundary(self, self.space.boundary, self.time_interval.interior, "boundary")

    @property
    def initial(self):
        return _SpaceTimeInitial(self, self.space.interior, self.time_interval.initial, "initial")

    def contains(self, points):
        p = np.asarray(points)
        return self.space.contains(p[:, :-1]) & self.time_interval.contains(p[:, -1:])

    def has_operand(self, other) -> bool:
        return self.space.has_operand(other)

    def adf(self, *args, **kwargs):
        """The spatial domain's distance function (independent of time; see its ``adf``)."""
        return self.space.adf(*args, **kwargs)

    def _key(self):
        return (self.space, self.time_interval)

    def __repr__(self):
        space = f"({self.space!r})" if isinstance(self.space, _Combination) else repr(self.space)
        return f"{space} * {self.time_interval!r}"


# --------------------------------------------------------------------------------- point cloud
class _CloudPoints(AbstractPointSet):
    name = "surface"

    def __init__(self, domain: "PointCloud"):
        self.domain = domain
        self.has_normals = domain.normals is not None

    def _sample(self, n, *, method, generator, dtype, device):
        gdev = generator.device if generator is not None else "cpu"
        m = self.domain.points.shape[0]
        idx = torch.randint(0, m, (n,), generator=generator, device=gdev).cpu().numpy()
        pts = torch.as_tensor(self.domain.points[idx], dtype=dtype, device=device)
        nrm = None
        if self.domain.normals is not None:
            nrm = torch.as_tensor(self.domain.normals[idx], dtype=dtype, device=device)
        return Samples(pts, nrm)


class PointCloud(_AbstractBox):
    """Points ``(n_points, d)`` (d = 2 or 3) with optional unit normals, inside their bounding box.

    ``cloud.surface`` samples the given points (with normals); ``cloud.interior`` samples the
    bounding box enlarged by ``margin`` of its extent.
    """

    combines = False

    def __init__(self, points, normals=None, *, margin: float = 0.1):
        pts = np.asarray(points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] not in (2, 3) or pts.shape[0] == 0:
            raise ValueError(f"PointCloud points must have shape (n_points, 2 or 3), got {pts.shape}")
        if not np.isfinite(pts).all():
            raise ValueError("PointCloud points contain NaN or infinite coordinates; remove them first")
        if normals is not None:
            normals = np.asarray(normals, dtype=np.float64)
            if normals.shape != pts.shape:
                raise ValueError(f"PointCloud normals must have the points' shape {pts.shape}, got {normals.shape}")
            lengths = np.linalg.norm(normals, axis=-1, keepdims=True)
            if not np.isfinite(normals).all() or (lengths == 0).any():
                raise ValueError("PointCloud normals contain NaN or zero vectors")
            normals = normals / lengths
        lo, hi = pts.min(0), pts.max(0)
        pad = margin * np.maximum(hi - lo, 1e-12).max()
        names = ("x", "y", "z")[: pts.shape[1]]
        super().__init__(**{k: (a - pad, b + pad) for k, a, b in zip(names, lo, hi)})
        self.points, self.normals = pts, normals

    @property
    def surface(self):
        return _CloudPoints(self)

    def adf(self, sides=None):
        raise NotImplementedError(f"{self!r} has no distance function: it is a frame around points, not a solid")

    def _key(self):
        return (id(self),)

    def __repr__(self):
        return f"PointCloud({self.points.shape[0]} points, normals={'yes' if self.normals is not None else 'no'})"
