r"""An analytic scene that pinr renders itself, so NeRF and NeX run without any data files.

A :class:`Scene` is a union of coloured primitives given by signed distance functions
(:class:`Sphere`, :class:`Box` with rounded edges, :class:`Torus`, :class:`Capsule`,
:class:`Cylinder`): the scene's distance is :math:`f(x) = \min_k f_k(x)` and a surface point takes
the albedo :math:`a` of its nearest primitive. :meth:`Scene.render` sphere traces every pixel
(march :math:`t \leftarrow t + f(o + t d)` from where the ray enters the scene's ``bounds`` until
:math:`f < \varepsilon`, at most ``max_steps`` steps; a ray that leaves the bounds or runs out of
steps misses) and shades a hit with normal :math:`n = \nabla f / \|\nabla f\|` (automatic
differentiation of :math:`f`), view direction :math:`v = -d` and fixed directional lights :math:`l`
of intensities :math:`I_l`:

.. math:: c = a\,\Big(k_a + \sum_l I_l \max(0, n\cdot l)\Big)
          + k_s \sum_{l:\,n\cdot l > 0} I_l \max(0, n\cdot h_l)^{s},
          \qquad h_l = \frac{l + v}{\|l + v\|},

clipped to :math:`[0, 1]` (ambient :math:`k_a`, Blinn–Phong specular :math:`k_s` of shininess
:math:`s`; no shadows). The white highlight moves with the viewer, so the pictures are
view-dependent, as NeRF's direction input has to learn. A pixel averages ``samples`` ×
``samples`` rays spread over its square, each composited over the background, so the alpha is
fractional along silhouettes.
"""

from __future__ import annotations

import abc
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .cameras import Camera

__all__ = ["Primitive", "Sphere", "Box", "Torus", "Capsule", "Cylinder", "Light", "Scene", "default_scene",
           "DEFAULT_LIGHTS"]

logger = logging.getLogger(__name__)


def _vector(value, what: str, *, size: int = 3) -> np.ndarray:
    v = np.asarray(value, dtype=np.float64)
    if v.shape != (size,) or not np.isfinite(v).all():
        raise ValueError(f"{what} must be {size} finite numbers, got {value!r}")
    v = v.copy()
    v.setflags(write=False)
    return v


def _positive(value, what: str) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{what} must be a positive length, got {value!r}")
    return v


def _albedo(value, what: str) -> np.ndarray:
    a = _vector(value, f"{what} albedo")
    if (a < 0).any() or (a > 1).any():
        raise ValueError(f"{what} albedo must be an RGB colour in [0, 1], got {value!r}")
    return a


def _t(v: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(v, dtype=like.dtype, device=like.device)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(-1)


def _length(a: torch.Tensor) -> torch.Tensor:
    # (a * a).sum().sqrt() is several times faster than torch.linalg.vector_norm on (P, 3) CPU tensors
    return (a * a).sum(-1).sqrt()


class Primitive(abc.ABC):
    """A solid given by its exact signed distance (negative inside) and an RGB ``albedo``."""

    albedo: np.ndarray

    @abc.abstractmethod
    def distance(self, points: torch.Tensor) -> torch.Tensor:
        """Signed distance ``(P,)`` of ``points`` ``(P, 3)`` to the surface."""

    @abc.abstractmethod
    def extent(self) -> np.ndarray:
        """An axis-aligned box ``(3, 2)`` (low, high per axis) holding the solid."""


@dataclass(frozen=True, eq=False)
class Sphere(Primitive):
    r""":math:`f(x) = \|x - c\| - r`."""

    center: np.ndarray
    radius: float
    albedo: np.ndarray = (0.8, 0.8, 0.8)

    def __post_init__(self):
        object.__setattr__(self, "center", _vector(self.center, "Sphere center"))
        object.__setattr__(self, "radius", _positive(self.radius, "Sphere radius"))
        object.__setattr__(self, "albedo", _albedo(self.albedo, "Sphere"))

    def distance(self, points):
        return _length(points - _t(self.center, points)) - self.radius

    def extent(self):
        return np.stack([self.center - self.radius, self.center + self.radius], -1)


@dataclass(frozen=True, eq=False)
class Box(Primitive):
    r"""An axis-aligned box of centre ``center`` and half side lengths ``half_size`` whose edges
    are rounded with radius ``rounding`` (0: sharp): with :math:`q = |x - c| - (h - \rho)`,
    :math:`f = \|\max(q, 0)\| + \min(\max_i q_i, 0) - \rho`."""

    center: np.ndarray
    half_size: np.ndarray
    rounding: float = 0.0
    albedo: np.ndarray = (0.8, 0.8, 0.8)

    def __post_init__(self):
        object.__setattr__(self, "center", _vector(self.center, "Box center"))
        h = _vector(np.broadcast_to(np.asarray(self.half_size, dtype=np.float64), (3,)), "Box half_size")
        if (h <= 0).any():
            raise ValueError(f"Box half_size must be positive, got {self.half_size!r}")
        object.__setattr__(self, "half_size", h)
        r = float(self.rounding)
        if not 0 <= r < h.min():
            raise ValueError(f"Box rounding must be in [0, min(half_size)) = [0, {h.min():g}), got {self.rounding!r}")
        object.__setattr__(self, "rounding", r)
        object.__setattr__(self, "albedo", _albedo(self.albedo, "Box"))

    def distance(self, points):
        q = (points - _t(self.center, points)).abs() - _t(self.half_size - self.rounding, points)
        outside = _length(q.clamp(min=0))
        inside = q.amax(dim=-1).clamp(max=0)
        return outside + inside - self.rounding

    def extent(self):
        return np.stack([self.center - self.half_size, self.center + self.half_size], -1)


@dataclass(frozen=True, eq=False)
class Torus(Primitive):
    r"""A ring of tube radius ``minor`` around the circle of radius ``major`` about ``center`` in
    the plane normal to ``axis``: with :math:`h = (x - c)\cdot a`, :math:`\rho = \|x - c - h a\|`,
    :math:`f = \sqrt{(\rho - R)^2 + h^2} - r`."""

    center: np.ndarray
    major: float
    minor: float
    axis: np.ndarray = (0.0, 0.0, 1.0)
    albedo: np.ndarray = (0.8, 0.8, 0.8)

    def __post_init__(self):
        object.__setattr__(self, "center", _vector(self.center, "Torus center"))
        object.__setattr__(self, "major", _positive(self.major, "Torus major radius"))
        object.__setattr__(self, "minor", _positive(self.minor, "Torus minor radius"))
        if self.minor >= self.major:
            raise ValueError(f"Torus minor radius {self.minor:g} must be smaller than its major radius {self.major:g}")
        a = _vector(self.axis, "Torus axis")
        if np.linalg.norm(a) == 0:
            raise ValueError("Torus axis must be a non-zero vector")
        a = a / np.linalg.norm(a)
        a.setflags(write=False)
        object.__setattr__(self, "axis", a)
        object.__setattr__(self, "albedo", _albedo(self.albedo, "Torus"))

    def distance(self, points):
        q = points - _t(self.center, points)
        a = _t(self.axis, points)
        h = q @ a
        rho = _length(q - h[:, None] * a)
        return torch.sqrt((rho - self.major) ** 2 + h**2) - self.minor

    def extent(self):
        # the circle's extent along axis i is R * sqrt(1 - a_i^2), plus the tube radius
        reach = self.major * np.sqrt(np.clip(1 - self.axis**2, 0, None)) + self.minor
        return np.stack([self.center - reach, self.center + reach], -1)


@dataclass(frozen=True, eq=False)
class Capsule(Primitive):
    r"""The points within ``radius`` of the segment from ``a`` to ``b``:
    :math:`f = \|x - a - \mathrm{clamp}(\tfrac{(x - a)\cdot(b - a)}{\|b - a\|^2}, 0, 1)(b - a)\| - r`."""

    a: np.ndarray
    b: np.ndarray
    radius: float
    albedo: np.ndarray = (0.8, 0.8, 0.8)

    def __post_init__(self):
        object.__setattr__(self, "a", _vector(self.a, "Capsule end a"))
        object.__setattr__(self, "b", _vector(self.b, "Capsule end b"))
        object.__setattr__(self, "radius", _positive(self.radius, "Capsule radius"))
        object.__setattr__(self, "albedo", _albedo(self.albedo, "Capsule"))

    def distance(self, points):
        a = _t(self.a, points)
        ba = _t(self.b, points) - a
        pa = points - a
        h = (pa @ ba / _dot(ba, ba)).clamp(0, 1)
        return _length(pa - h[:, None] * ba) - self.radius

    def extent(self):
        lo, hi = np.minimum(self.a, self.b), np.maximum(self.a, self.b)
        return np.stack([lo - self.radius, hi + self.radius], -1)


@dataclass(frozen=True, eq=False)
class Cylinder(Primitive):
    r"""A solid cylinder of ``radius`` with flat caps at ``a`` and ``b`` (exact distance: in the
    axial and radial coordinates :math:`(y, x)` of :math:`x - a` it is the distance to a
    rectangle)."""

    a: np.ndarray
    b: np.ndarray
    radius: float
    albedo: np.ndarray = (0.8, 0.8, 0.8)

    def __post_init__(self):
        object.__setattr__(self, "a", _vector(self.a, "Cylinder end a"))
        object.__setattr__(self, "b", _vector(self.b, "Cylinder end b"))
        if np.array_equal(self.a, self.b):
            raise ValueError("Cylinder ends a and b must differ")
        object.__setattr__(self, "radius", _positive(self.radius, "Cylinder radius"))
        object.__setattr__(self, "albedo", _albedo(self.albedo, "Cylinder"))

    def distance(self, points):
        a = _t(self.a, points)
        axis = _t(self.b, points) - a
        length = axis.norm()
        axis = axis / length
        pa = points - a
        along = pa @ axis
        radial = _length(pa - along[:, None] * axis) - self.radius
        axial = (along - 0.5 * length).abs() - 0.5 * length
        outside = (radial.clamp(min=0) ** 2 + axial.clamp(min=0) ** 2).sqrt()
        return outside + torch.maximum(radial, axial).clamp(max=0)

    def extent(self):
        axis = (self.b - self.a) / np.linalg.norm(self.b - self.a)
        reach = self.radius * np.sqrt(np.clip(1 - axis**2, 0, None))
        lo, hi = np.minimum(self.a, self.b), np.maximum(self.a, self.b)
        return np.stack([lo - reach, hi + reach], -1)


@dataclass(frozen=True, eq=False)
class Light:
    """A directional light: unit ``direction`` pointing *towards* the light, and ``intensity``."""

    direction: np.ndarray
    intensity: float = 1.0

    def __post_init__(self):
        d = _vector(self.direction, "Light direction")
        if np.linalg.norm(d) == 0:
            raise ValueError("Light direction must be a non-zero vector (pointing towards the light)")
        d = d / np.linalg.norm(d)
        d.setflags(write=False)
        object.__setattr__(self, "direction", d)
        i = float(self.intensity)
        if not (math.isfinite(i) and i >= 0):
            raise ValueError(f"Light intensity must be a non-negative number, got {self.intensity!r}")
        object.__setattr__(self, "intensity", i)


#: A key light from the upper front right and a weaker fill light from the left.
DEFAULT_LIGHTS = (Light((0.5, -0.4, 0.75), 0.75), Light((-0.6, 0.5, 0.3), 0.3))


def _bounds(value) -> np.ndarray:
    b = np.asarray(value, dtype=np.float64)
    if b.shape != (3, 2) or not np.isfinite(b).all() or not (b[:, 0] < b[:, 1]).all():
        raise ValueError(f"bounds must be a (3, 2) array of finite (low, high) pairs with low < high, got {value!r}")
    b = b.copy()
    b.setflags(write=False)
    return b


@dataclass(frozen=True, eq=False)
class Scene:
    """The union of ``primitives`` inside the axis-aligned box ``bounds`` ``(3, 2)`` (default
    :math:`[-1, 1]^3`), lit by ``lights`` with ambient ``ambient``, specular weight ``specular``
    and Blinn–Phong exponent ``shininess`` (see the module docstring)."""

    primitives: tuple[Primitive, ...]
    bounds: np.ndarray = field(default_factory=lambda: np.array([[-1.0, 1.0]] * 3))
    lights: tuple[Light, ...] = DEFAULT_LIGHTS
    ambient: float = 0.15
    specular: float = 0.35
    shininess: float = 32.0

    def __post_init__(self):
        prims = tuple(self.primitives)
        if not prims or not all(isinstance(p, Primitive) for p in prims):
            raise ValueError("Scene needs at least one primitive (Sphere, Box, Torus, Capsule or Cylinder)")
        object.__setattr__(self, "primitives", prims)
        b = _bounds(self.bounds)
        object.__setattr__(self, "bounds", b)
        for k, p in enumerate(prims):
            e = p.extent()
            if (e[:, 0] < b[:, 0] - 1e-9).any() or (e[:, 1] > b[:, 1] + 1e-9).any():
                raise ValueError(f"Scene primitive {k} ({type(p).__name__}) reaches outside the bounds "
                                 f"{b.tolist()}; move or shrink it, or enlarge bounds")
        lights = tuple(self.lights)
        if not all(isinstance(li, Light) for li in lights):
            raise ValueError("Scene lights must be Light(direction, intensity) objects")
        object.__setattr__(self, "lights", lights)
        for name in ("ambient", "specular", "shininess"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"Scene {name} must be a non-negative number, got {getattr(self, name)!r}")
            object.__setattr__(self, name, v)

    # ---- geometry
    def distances(self, points: torch.Tensor) -> torch.Tensor:
        """Signed distances ``(P, K)`` of ``points`` ``(P, 3)`` to each of the ``K`` primitives."""
        return torch.stack([p.distance(points) for p in self.primitives], -1)

    def sdf(self, points: torch.Tensor) -> torch.Tensor:
        r"""The scene's signed distance ``(P,)``: :math:`\min_k f_k(x)` (exact outside the
        solids, a lower bound on the distance where they overlap)."""
        points = torch.as_tensor(points)
        f = self.primitives[0].distance(points)
        for p in self.primitives[1:]:
            f = torch.minimum(f, p.distance(points))
        return f

    def albedo(self, points: torch.Tensor) -> torch.Tensor:
        """The RGB albedo ``(P, 3)`` of the primitive nearest to each point."""
        points = torch.as_tensor(points)
        nearest = self.distances(points).argmin(dim=-1)
        table = torch.as_tensor(np.stack([p.albedo for p in self.primitives]), dtype=points.dtype,
                                device=points.device)
        return table[nearest]

    def normal(self, points: torch.Tensor) -> torch.Tensor:
        r"""Unit outward normals ``(P, 3)``: :math:`\nabla f / \|\nabla f\|`, the gradient of the
        nearest primitive's exact distance (by automatic differentiation; detached)."""
        x = torch.as_tensor(points).detach().clone().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self.sdf(x).sum(), x)
        return g / g.norm(dim=-1, keepdim=True).clamp(min=torch.finfo(g.dtype).tiny)

    # ---- rendering
    def trace(self, origins: torch.Tensor, directions: torch.Tensor, *, tolerance: float = 1e-4,
              max_steps: int = 128) -> torch.Tensor:
        r"""Sphere trace rays ``(R, 3)`` (unit ``directions``): the distance ``(R,)`` along each ray
        to the first point where :math:`f < ` ``tolerance``, ``inf`` where the ray misses the
        bounds, leaves them, or is still marching after ``max_steps`` steps (grazing rays)."""
        o, d = torch.as_tensor(origins), torch.as_tensor(directions)
        lo, hi = _t(self.bounds[:, 0], o), _t(self.bounds[:, 1], o)
        inv = 1.0 / d
        t_a, t_b = (lo - o) * inv, (hi - o) * inv
        # a zero direction component gives +-inf or nan (0 * inf): nan counts as no constraint
        t_near = torch.minimum(t_a, t_b).nan_to_num(nan=-math.inf).max(dim=-1).values.clamp(min=0)
        t_far = torch.maximum(t_a, t_b).nan_to_num(nan=math.inf).min(dim=-1).values
        depth = torch.full_like(t_near, math.inf)
        live = torch.nonzero(t_far > t_near).squeeze(-1)
        # the marching rays, compacted: origins, directions, distances so far and exit distances
        o, d, t, t_far = o[live], d[live], t_near[live], t_far[live]
        for _ in range(max_steps):
            if live.numel() == 0:
                break
            f = self.sdf(torch.addcmul(o, t[:, None], d))
            hit = f < tolerance
            depth[live[hit]] = t[hit]
            t = t + f
            keep = ~hit & (t <= t_far)
            live, o, d, t, t_far = live[keep], o[keep], d[keep], t[keep], t_far[keep]
        return depth

    def shade(self, points: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """Colours ``(P, 3)`` of surface ``points`` seen along ``directions`` (module docstring)."""
        n = self.normal(points)
        a = self.albedo(points)
        v = -directions
        diffuse = torch.full_like(n[:, 0], self.ambient)
        highlight = torch.zeros_like(diffuse)
        for light in self.lights:
            ldir = _t(light.direction, n)
            cos = n @ ldir
            diffuse = diffuse + light.intensity * cos.clamp(min=0)
            if self.specular > 0:
                h = ldir + v
                h = h / h.norm(dim=-1, keepdim=True).clamp(min=1e-12)
                spec = _dot(n, h).clamp(min=0) ** self.shininess
                highlight = highlight + torch.where(cos > 0, light.intensity * spec, torch.zeros_like(spec))
        return (a * diffuse[:, None] + self.specular * highlight[:, None]).clamp(0, 1)

    def render(self, camera: Camera, *, background: Sequence[float] = (1.0, 1.0, 1.0), samples: int = 2,
               dtype: torch.dtype = torch.float32, tolerance: float = 1e-4,
               max_steps: int = 128) -> dict[str, torch.Tensor]:
        """The picture seen by ``camera``: ``rgb`` ``(H, W, 3)`` composited over ``background``,
        ``alpha`` ``(H, W)`` (the fraction of a pixel's ``samples`` × ``samples`` rays that hit)
        and ``depth`` ``(H, W)`` (the mean distance of the hitting rays, ``inf`` where none hit)."""
        out = self.render_many([camera], background=background, samples=samples, dtype=dtype,
                               tolerance=tolerance, max_steps=max_steps)
        return {k: v[0] for k, v in out.items()}

    def render_many(self, cameras: Sequence[Camera], *, background: Sequence[float] = (1.0, 1.0, 1.0),
                    samples: int = 2, dtype: torch.dtype = torch.float32, tolerance: float = 1e-4,
                    max_steps: int = 128, chunk: int = 1 << 18) -> dict[str, torch.Tensor]:
        """:meth:`render` for cameras of one size at once (all their rays traced together, in
        chunks of ``chunk`` rays): ``rgb`` ``(N, H, W, 3)``, ``alpha`` and ``depth`` ``(N, H, W)``."""
        cameras = list(cameras)
        if not cameras:
            raise ValueError("render_many needs at least one camera")
        w, h = cameras[0].width, cameras[0].height
        if any((c.width, c.height) != (w, h) for c in cameras):
            raise ValueError("render_many: cameras differ in size; render them separately or resize them")
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ValueError(f"samples (rays per pixel side) must be a positive integer, got {samples!r}")
        bg = torch.tensor(_albedo(background, "background"), dtype=dtype)
        s = samples
        j, i, b, a = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                                    torch.arange(s, dtype=torch.float64), torch.arange(s, dtype=torch.float64),
                                    indexing="ij")
        pixels = torch.stack([i + (a + 0.5) / s, j + (b + 0.5) / s], -1).reshape(-1, 2)
        rays = [c.rays(dtype=dtype, pixels=pixels) for c in cameras]
        o = torch.cat([r[0] for r in rays])
        d = torch.cat([r[1] for r in rays])
        depth = torch.cat([self.trace(o[k:k + chunk], d[k:k + chunk], tolerance=tolerance, max_steps=max_steps)
                           for k in range(0, len(o), chunk)])
        hit = torch.isfinite(depth)
        rgb = bg.expand(len(o), 3).clone()
        idx = torch.nonzero(hit).squeeze(-1)
        for k in range(0, len(idx), chunk):
            sel = idx[k:k + chunk]
            rgb[sel] = self.shade(o[sel] + depth[sel, None] * d[sel], d[sel])
        n = len(cameras)
        rgb = rgb.reshape(n, h, w, s * s, 3).mean(-2)
        hits = hit.reshape(n, h, w, s * s)
        count = hits.sum(-1)
        alpha = count.to(dtype) / (s * s)
        total = torch.where(hits, depth.reshape(n, h, w, s * s), torch.zeros((), dtype=dtype)).sum(-1)
        mean_depth = torch.where(count > 0, total / count.clamp(min=1), torch.full_like(total, math.inf))
        return {"rgb": rgb, "alpha": alpha, "depth": mean_depth}


def default_scene() -> Scene:
    """Five coloured solids on a rounded slab, inside :math:`[-1, 1]^3`: a red sphere, a gold
    torus standing tilted, a green capsule leaning across, a purple cylinder and a blue slab
    under them (object-centric, like the Blender "lego")."""
    return Scene((
        Box((0.0, 0.0, -0.72), (0.8, 0.8, 0.1), rounding=0.04, albedo=(0.25, 0.4, 0.85)),
        Sphere((-0.3, -0.3, -0.27), 0.35, albedo=(0.85, 0.2, 0.15)),
        Torus((0.35, 0.3, -0.05), 0.38, 0.11, axis=(0.3, -0.6, 0.75), albedo=(0.95, 0.75, 0.2)),
        Capsule((-0.5, 0.45, -0.55), (0.05, 0.35, 0.65), 0.12, albedo=(0.2, 0.75, 0.3)),
        Cylinder((0.5, -0.45, -0.62), (0.5, -0.45, 0.05), 0.2, albedo=(0.6, 0.3, 0.75)),
    ))
