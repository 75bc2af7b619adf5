r"""Shapes with signed distance functions, in the normalised box :math:`[-1, 1]^d`.

A shape knows its signed distance :math:`\phi(x)` (negative inside, positive outside, zero on the
surface), samples its surface uniformly with outward unit normals, and carries the
:class:`Normalization` that maps its input units onto :math:`[-1, 1]^d`, so that outputs can
go back to the input's units.

Analytic primitives — :class:`Circle`, :class:`Rectangle`, :class:`Polygon` (2-D),
:class:`Sphere`, :class:`Box`, :class:`Torus` (3-D) — have exact signed distances. They combine
by set operations, ``a | b`` (:class:`Union`), ``a & b`` (:class:`Intersection`), ``a - b``
(:class:`Difference`), with :math:`\min`/:math:`\max` of the children's distances (the usual
CSG of distance fields). For those the zero level set, the sign and :math:`|\nabla\phi| = 1`
(almost everywhere) are exact, and so is the value outside a union and inside an intersection;
elsewhere (inside a union, outside an intersection, near the corners a set operation creates)
:math:`|\phi|` is a lower bound of the distance. ``shape.exact`` says which kind a shape is.

These names live in :mod:`pinr.geometry`: ``geometry.Box`` is a solid shape with a signed
distance, ``pinr.Box`` is a problem domain with named axes.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["AbstractShape", "Normalization", "Circle", "Rectangle", "Polygon", "Sphere", "Box", "Torus",
           "Union", "Intersection", "Difference", "builtin_shape", "available_shapes", "grid_points",
           "cell_centres"]


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

    def then(self, other: "Normalization") -> "Normalization":
        """This normalisation followed by ``other`` (both similarities)."""
        c = np.asarray(self.center) + self.scale * np.asarray(other.center)
        return Normalization(tuple(float(v) for v in c), self.scale * other.scale)


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


def _as_points(points, dim: int) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != dim:
        raise ValueError(f"points must have shape (n_points, {dim}), got {p.shape}")
    return p


# ---------------------------------------------------------------------------------- the base
class AbstractShape(abc.ABC):
    r"""A closed set in :math:`\mathbb R^d` (d = 2, 3) described by its signed distance.

    Attributes: ``dim``; ``exact`` (``signed_distance`` is the true signed distance
    everywhere); ``normalization`` (input units → the normalised box); ``name``.
    """

    dim: int
    exact: bool = True
    name: str = "shape"
    normalization: Normalization

    @abc.abstractmethod
    def signed_distance(self, points) -> np.ndarray:
        r""":math:`\phi(x)` at ``points`` ``(n, d)`` → ``(n,)`` (normalised units)."""

    @abc.abstractmethod
    def sample_surface(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points uniform on the surface (by length or area) and their outward unit normals,
        both ``(n, d)``."""

    @property
    @abc.abstractmethod
    def bounds(self) -> np.ndarray:
        """Bounding box ``(d, 2)`` in normalised units."""

    @property
    def surface_measure(self) -> float:
        """Length (2-D) or area (3-D) of the surface, in normalised units."""
        raise NotImplementedError(f"{type(self).__name__} does not know its surface measure")

    def occupancy(self, resolution: int, *, chunk: int = 1 << 20) -> np.ndarray:
        r"""Boolean grid ``(resolution,)*d`` of :math:`\phi \le 0` at the cell centres of
        :math:`[-1, 1]^d` ("ij" order)."""
        return self.sdf_grid(resolution, chunk=chunk) <= 0

    def sdf_grid(self, resolution: int, *, chunk: int = 1 << 20, dtype=np.float64) -> np.ndarray:
        """Signed distances on the cell centres of the ``resolution^d`` lattice of :math:`[-1, 1]^d`."""
        d = self.dim
        out = np.empty((resolution,) * d, dtype=dtype)
        per_slab = max(1, chunk // resolution ** (d - 1))
        for i in range(0, resolution, per_slab):
            sl = slice(i, min(resolution, i + per_slab))
            out[sl] = self.signed_distance(grid_points(resolution, d, first=sl)).reshape(
                (sl.stop - sl.start,) + (resolution,) * (d - 1))
        return out

    def normals(self, points, *, h: float = 1e-6) -> np.ndarray:
        r""":math:`\nabla\phi/|\nabla\phi|` at ``points`` by central differences of step ``h``."""
        p = _as_points(points, self.dim)
        g = np.stack([self.signed_distance(p + h * e) - self.signed_distance(p - h * e)
                      for e in np.eye(self.dim)], axis=-1)
        return g / np.maximum(np.linalg.norm(g, axis=-1, keepdims=True), 1e-300)

    # set operations
    def __or__(self, other):
        return Union(self, other)

    def __and__(self, other):
        return Intersection(self, other)

    def __sub__(self, other):
        return Difference(self, other)

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"


class _Analytic(AbstractShape):
    """Analytic shapes are stated in normalised units (identity normalisation)."""

    exact = True

    @property
    def normalization(self) -> Normalization:
        return Normalization.identity(self.dim)


def _check_center(center, dim, cls):
    c = np.zeros(dim) if center is None else np.asarray(center, dtype=np.float64)
    if c.shape != (dim,) or not np.isfinite(c).all():
        raise ValueError(f"{cls} center must be {dim} finite numbers, got {center!r}")
    return c


def _positive(value, what, cls):
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{cls} {what} must be a positive finite number, got {value!r}")
    return v


def _directions(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    if dim == 2:
        th = rng.uniform(0, 2 * math.pi, n)
        return np.stack([np.cos(th), np.sin(th)], -1)
    v = rng.normal(size=(n, dim))
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


# ------------------------------------------------------------------------------ primitives
class _Ball(_Analytic):
    def __init__(self, radius: float = 0.5, center=None):
        cls = type(self).__name__
        self.radius = _positive(radius, "radius", cls)
        self.center = _check_center(center, self.dim, cls)
        self.name = f"{cls.lower()}(r={self.radius:g})"

    def signed_distance(self, points):
        p = _as_points(points, self.dim)
        return np.linalg.norm(p - self.center, axis=-1) - self.radius

    def sample_surface(self, n, rng):
        nrm = _directions(n, self.dim, rng)
        return self.center + self.radius * nrm, nrm

    @property
    def bounds(self):
        return np.stack([self.center - self.radius, self.center + self.radius], -1)

    @property
    def surface_measure(self):
        return 2 * math.pi * self.radius if self.dim == 2 else 4 * math.pi * self.radius**2


class Circle(_Ball):
    r"""Disc :math:`|x - c| \le r`: :math:`\phi = |x - c| - r`."""

    dim = 2


class Sphere(_Ball):
    r"""Ball :math:`|x - c| \le r`: :math:`\phi = |x - c| - r`."""

    dim = 3


class _AxisBox(_Analytic):
    def __init__(self, half_size=None, center=None):
        cls = type(self).__name__
        h = np.full(self.dim, 0.5) if half_size is None else np.asarray(half_size, dtype=np.float64)
        if h.shape != (self.dim,) or not (np.isfinite(h).all() and (h > 0).all()):
            raise ValueError(f"{cls} half_size must be {self.dim} positive numbers, got {half_size!r}")
        self.half_size, self.center = h, _check_center(center, self.dim, cls)
        self.name = f"{cls.lower()}({'x'.join(f'{2 * v:g}' for v in h)})"

    def signed_distance(self, points):
        q = np.abs(_as_points(points, self.dim) - self.center) - self.half_size
        outside = np.linalg.norm(np.maximum(q, 0), axis=-1)
        return outside + np.minimum(q.max(-1), 0)

    def _faces(self):
        h, d = self.half_size, self.dim
        return np.array([np.prod(np.delete(2 * h, k)) for k in range(d)])

    def sample_surface(self, n, rng):
        d, h = self.dim, self.half_size
        meas = np.repeat(self._faces(), 2)  # faces (axis k, side -/+)
        face = rng.choice(2 * d, size=n, p=meas / meas.sum())
        axis, side = face // 2, np.where(face % 2 == 1, 1.0, -1.0)
        pts = rng.uniform(-1, 1, (n, d)) * h
        pts[np.arange(n), axis] = side * h[axis]
        nrm = np.zeros((n, d))
        nrm[np.arange(n), axis] = side
        return self.center + pts, nrm

    @property
    def bounds(self):
        return np.stack([self.center - self.half_size, self.center + self.half_size], -1)

    @property
    def surface_measure(self):
        return float(2 * self._faces().sum())


class Rectangle(_AxisBox):
    r"""Axis-aligned rectangle with half side lengths ``half_size`` :math:`h`:
    :math:`\phi = |\max(q, 0)| + \min(\max_i q_i, 0)`, :math:`q = |x - c| - h`."""

    dim = 2


class Box(_AxisBox):
    r"""Axis-aligned box with half side lengths ``half_size`` :math:`h` (same formula as
    :class:`Rectangle`)."""

    dim = 3


class Polygon(_Analytic):
    r"""Simple polygon with vertices ``(k, 2)`` (either orientation; not self-intersecting).

    :math:`|\phi|` is the distance to the nearest edge; the sign comes from the even-odd rule.
    """

    dim = 2

    def __init__(self, vertices, *, name: str = "polygon"):
        v = np.asarray(vertices, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 3:
            raise ValueError(f"Polygon needs vertices of shape (k >= 3, 2), got {v.shape}")
        if not np.isfinite(v).all():
            raise ValueError("Polygon vertices contain NaN or infinite coordinates")
        area = 0.5 * np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1])
        if abs(area) < 1e-14:
            raise ValueError("Polygon has zero area; give at least three non-collinear vertices")
        self.vertices = v if area > 0 else v[::-1].copy()  # counter-clockwise
        self.name = name
        e = np.roll(self.vertices, -1, axis=0) - self.vertices
        self._lengths = np.linalg.norm(e, axis=-1)
        if (self._lengths == 0).any():
            raise ValueError("Polygon has repeated consecutive vertices")

    def signed_distance(self, points):
        p = _as_points(points, 2)
        a = self.vertices
        b = np.roll(a, -1, axis=0)
        out = np.empty(p.shape[0])
        for s in range(0, p.shape[0], 1 << 16):
            q = p[s:s + (1 << 16), None, :]
            e, w = b - a, q - a  # (k,2), (n,k,2)
            t = np.clip((w * e).sum(-1) / (e * e).sum(-1), 0, 1)
            d2 = ((w - t[..., None] * e) ** 2).sum(-1).min(-1)
            y = q[..., 1]
            crosses = (a[:, 1] <= y) != (b[:, 1] <= y)
            x_at = a[:, 0] + (y - a[:, 1]) * e[:, 0] / np.where(e[:, 1] == 0, 1, e[:, 1])
            inside = (crosses & (q[..., 0] < x_at)).sum(-1) % 2 == 1
            out[s:s + (1 << 16)] = np.where(inside, -1, 1) * np.sqrt(d2)
        return out

    def sample_surface(self, n, rng):
        a = self.vertices
        e = np.roll(a, -1, axis=0) - a
        k = rng.choice(len(a), size=n, p=self._lengths / self._lengths.sum())
        t = rng.uniform(0, 1, n)[:, None]
        nrm = np.stack([e[:, 1], -e[:, 0]], -1) / self._lengths[:, None]  # outward for CCW
        return a[k] + t * e[k], nrm[k]

    @property
    def bounds(self):
        return np.stack([self.vertices.min(0), self.vertices.max(0)], -1)

    @property
    def surface_measure(self):
        return float(self._lengths.sum())


class Torus(_Analytic):
    r"""Torus around the z axis with major radius ``R`` and minor radius ``r`` (:math:`r < R`):
    :math:`\phi = \big|\big(\sqrt{x^2 + y^2} - R,\ z\big)\big| - r` (relative to ``center``)."""

    dim = 3

    def __init__(self, R: float = 0.55, r: float = 0.25, center=None):
        self.R, self.r = _positive(R, "major radius R", "Torus"), _positive(r, "minor radius r", "Torus")
        if not self.r < self.R:
            raise ValueError(f"Torus needs r < R (a ring torus), got R={R}, r={r}")
        self.center = _check_center(center, 3, "Torus")
        self.name = f"torus(R={self.R:g}, r={self.r:g})"

    def signed_distance(self, points):
        p = _as_points(points, 3) - self.center
        q = np.stack([np.hypot(p[:, 0], p[:, 1]) - self.R, p[:, 2]], -1)
        return np.linalg.norm(q, axis=-1) - self.r

    def sample_surface(self, n, rng):
        # area element (R + r cos v) du dv: v by rejection, u uniform
        v = np.empty(0)
        while v.size < n:
            cand = rng.uniform(0, 2 * math.pi, 2 * n)
            keep = rng.uniform(0, self.R + self.r, 2 * n) < self.R + self.r * np.cos(cand)
            v = np.concatenate([v, cand[keep]])
        v = v[:n]
        u = rng.uniform(0, 2 * math.pi, n)
        nrm = np.stack([np.cos(u) * np.cos(v), np.sin(u) * np.cos(v), np.sin(v)], -1)
        ring = np.stack([np.cos(u), np.sin(u), np.zeros(n)], -1) * self.R
        return self.center + ring + self.r * nrm, nrm

    @property
    def bounds(self):
        e = np.array([self.R + self.r, self.R + self.r, self.r])
        return np.stack([self.center - e, self.center + e], -1)

    @property
    def surface_measure(self):
        return 4 * math.pi**2 * self.R * self.r


# ------------------------------------------------------------------------------------- CSG
class _Combination(_Analytic):
    """Set operation on shapes of one dimension; ``exact`` is False (see the module notes)."""

    exact = False
    _symbol = "?"

    def __init__(self, *shapes: AbstractShape):
        if len(shapes) < 2:
            raise ValueError(f"{type(self).__name__} needs at least two shapes, got {len(shapes)}")
        for s in shapes:
            if not isinstance(s, AbstractShape):
                raise TypeError(f"{type(self).__name__} combines pinr.geometry shapes, got {type(s).__name__}")
        dims = {s.dim for s in shapes}
        if len(dims) != 1:
            raise ValueError(f"{type(self).__name__}: shapes of different dimensions {sorted(dims)}")
        for s in shapes:
            if s.normalization != Normalization.identity(s.dim):
                raise ValueError(f"{type(self).__name__} combines analytic shapes stated in normalised units; "
                                 f"{s!r} carries a normalisation")
        self.shapes = tuple(shapes)
        self.dim = dims.pop()
        self.name = "(" + f" {self._symbol} ".join(s.name for s in shapes) + ")"
        self._measures: tuple[float, ...] | None = None

    # which part of child i's surface lies on the result's surface, and its normal's sign
    @abc.abstractmethod
    def _keep(self, i: int, points: np.ndarray) -> tuple[np.ndarray, float]: ...

    def _child_measures(self) -> tuple[float, ...]:
        if self._measures is None:
            rng = np.random.default_rng(0)
            out = []
            for i, s in enumerate(self.shapes):
                p, _ = s.sample_surface(20000, rng)
                keep, _ = self._keep(i, p)
                out.append(s.surface_measure * float(keep.mean()))
            if not sum(out) > 0:
                raise ValueError(f"{self.name} has an empty surface (no part of any operand's surface remains)")
            self._measures = tuple(out)
        return self._measures

    @property
    def surface_measure(self):
        return float(sum(self._child_measures()))

    def sample_surface(self, n, rng):
        meas = np.array(self._child_measures())
        counts = rng.multinomial(n, meas / meas.sum())
        pts, nrms = [], []
        for i, (s, m) in enumerate(zip(self.shapes, counts)):
            got_p, got_n, have = [], [], 0
            while have < m:
                p, nrm = s.sample_surface(max(64, 2 * (m - have)), rng)
                keep, sign = self._keep(i, p)
                got_p.append(p[keep])
                got_n.append(sign * nrm[keep])
                have += int(keep.sum())
            if m:
                pts.append(np.concatenate(got_p)[:m])
                nrms.append(np.concatenate(got_n)[:m])
        p, nrm = np.concatenate(pts), np.concatenate(nrms)
        perm = rng.permutation(n)
        return p[perm], nrm[perm]

    def _others(self, i, points):
        return [s.signed_distance(points) for j, s in enumerate(self.shapes) if j != i]


class _Extremum(_Combination):
    r"""Union (:math:`\phi = \min_i \phi_i`, ``_sign`` +1) or intersection (:math:`\max_i \phi_i`,
    ``_sign`` −1): one body with the sign flipped. A child's surface point is kept where every
    other child has it outside (union) or inside (intersection); the box of a union spans the
    children's boxes, that of an intersection is their overlap."""

    _sign: float

    def signed_distance(self, points):
        d = np.stack([s.signed_distance(points) for s in self.shapes])
        return self._sign * np.min(self._sign * d, axis=0)

    def _keep(self, i, points):
        return np.all([self._sign * d >= 0 for d in self._others(i, points)], axis=0), 1.0

    @property
    def bounds(self):
        b = self._sign * np.stack([s.bounds for s in self.shapes])
        return self._sign * np.stack([b[:, :, 0].min(0), b[:, :, 1].max(0)], -1)


class Union(_Extremum):
    r""":math:`A \cup B`: :math:`\phi = \min(\phi_A, \phi_B)` (exact outside the union)."""

    _symbol = "|"
    _sign = 1.0


class Intersection(_Extremum):
    r""":math:`A \cap B`: :math:`\phi = \max(\phi_A, \phi_B)` (exact inside the intersection)."""

    _symbol = "&"
    _sign = -1.0


class Difference(_Combination):
    r""":math:`A \setminus B`: :math:`\phi = \max(\phi_A, -\phi_B)` (exact inside the difference)."""

    _symbol = "-"

    def __init__(self, a: AbstractShape, b: AbstractShape):
        super().__init__(a, b)

    def signed_distance(self, points):
        a, b = self.shapes
        return np.maximum(a.signed_distance(points), -b.signed_distance(points))

    def _keep(self, i, points):
        a, b = self.shapes
        if i == 0:
            return b.signed_distance(points) >= 0, 1.0
        return a.signed_distance(points) <= 0, -1.0

    @property
    def bounds(self):
        return self.shapes[0].bounds


# -------------------------------------------------------------------------------- built-ins
def _star(points: int = 5, outer: float = 0.8, inner: float = 0.38) -> Polygon:
    k = np.arange(2 * points)
    r = np.where(k % 2 == 0, outer, inner)
    th = math.pi / 2 + math.pi * k / points
    return Polygon(np.stack([r * np.cos(th), r * np.sin(th)], -1), name="star")


_BUILTINS: dict[str, Callable[[], AbstractShape]] = {
    "circle": lambda: Circle(0.6),
    "rectangle": lambda: Rectangle((0.7, 0.4)),
    "star": _star,
    "ring": lambda: Circle(0.7) - Circle(0.35),
    "lens": lambda: Circle(0.7, (-0.3, 0)) & Circle(0.7, (0.3, 0)),
    "two-circles": lambda: Circle(0.45, (-0.35, 0.1)) | Circle(0.35, (0.4, -0.15)),
    "sphere": lambda: Sphere(0.6),
    "box": lambda: Box((0.6, 0.45, 0.3)),
    "torus": lambda: Torus(0.55, 0.25),
    "hollow-box": lambda: Box((0.5, 0.5, 0.5)) - Sphere(0.62),
    "snowman": lambda: Sphere(0.45, (0, 0, -0.35)) | Sphere(0.32, (0, 0, 0.4)),
}


def available_shapes() -> list[str]:
    """Names of the built-in analytic shapes (in the normalised box)."""
    return sorted(_BUILTINS)


def builtin_shape(name: str) -> AbstractShape:
    """The built-in analytic shape ``name``; an unknown name lists the valid ones."""
    if name not in _BUILTINS:
        raise ValueError(f"unknown shape {name!r}; built-in shapes are {', '.join(available_shapes())}, "
                         "or give a mesh (.obj, .ply, .stl, .off) or point cloud (.xyz, .ply, .npz) file")
    shape = _BUILTINS[name]()
    if isinstance(shape, _Combination):
        shape.name = name
    return shape


def check_points(points: Sequence, dim: int) -> np.ndarray:
    """Validated points ``(n, dim)``; NaN or infinite coordinates raise."""
    p = _as_points(points, dim)
    if not np.isfinite(p).all():
        raise ValueError(f"{int((~np.isfinite(p)).any(-1).sum())} points have NaN or infinite coordinates")
    return p
