r"""Rays → pixels through a network: the quadrature of :mod:`pinr.render.observation`'s integral,
shared by training (random samples, a generator) and evaluation (bin centres, chunks of rays).

:func:`radiance` maps a network's raw outputs to density :math:`\operatorname{softplus}(s)` and
colour :math:`\operatorname{sigmoid}(k)`; :func:`render_rays` samples each ray inside the scene
box (stratified, then optionally a fine pass drawn from the coarse weights, or every ``step`` in
the occupied cells of an occupancy grid, or where it crosses the planes of a multiplane image)
and composites; :func:`render_views` renders whole
pictures in chunks without gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .mpi import PlaneSet
from .observation import Planes, Quadrature
from .volume import Rendering, composite, ray_box, resample, stratified

__all__ = ["radiance", "render_rays", "render_views", "RayRendering", "default_step", "plane_set"]


def radiance(network, points: torch.Tensor, directions: torch.Tensor, density: int,
             colour: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Density ``(M,)`` and colour ``(M, C)`` at ``points`` ``(M, 3)`` seen along unit
    ``directions`` ``(M, 3)``: softplus of output ``density``, sigmoid of outputs ``colour``."""
    raw = network(points, directions)
    return F.softplus(raw[:, density]), torch.sigmoid(raw[:, list(colour)])


def plane_set(views, quadrature) -> PlaneSet | None:
    """The planes of a :class:`~pinr.render.Planes` quadrature over ``views`` (its reference
    camera, default the first of ``views``); ``None`` for a volume quadrature."""
    if not isinstance(quadrature, Planes):
        return None
    reference = views.cameras[0] if quadrature.reference is None else quadrature.reference
    return PlaneSet(reference, views.bounds, quadrature.planes, margin=quadrature.margin)


def default_step(bounds, quadrature: Quadrature) -> float:
    """The marching step of an occupancy grid: the box diagonal over ``2 * samples``, unless the
    quadrature gives one."""
    if quadrature.step is not None:
        return float(quadrature.step)
    b = np.asarray(bounds, dtype=np.float64)
    return float(np.linalg.norm(b[:, 1] - b[:, 0])) / (2 * quadrature.samples)


@dataclass(frozen=True)
class RayRendering:
    """The final pass (``fine`` when there is one) and the coarse pass (or ``None``), with the
    number of field evaluations spent."""

    final: Rendering
    coarse: Rendering | None
    evaluations: int


def render_rays(field: Callable, origins: torch.Tensor, directions: torch.Tensor, *, near: float, far: float,
                bounds, quadrature: Quadrature, background: torch.Tensor | None, grid=None,
                generator: torch.Generator | None = None, planes: PlaneSet | None = None) -> RayRendering:
    """Render rays ``(R, 3)`` through ``field(points, directions) -> (sigma (M,), colour (M, C))``
    between ``near`` and ``far`` and inside the box ``bounds`` ``(3, 2)``; random sample positions
    with a ``generator`` (training), bin centres without one — or, with ``planes``, where the rays
    cross them (the same with or without a generator)."""
    if planes is not None:
        samples = planes.samples(origins, directions)
        sigma, rgb = field(samples.points(origins, directions), directions[samples.ray])
        return RayRendering(composite(sigma, rgb, samples, background=background), None, int(samples.t.shape[0]))
    b = torch.as_tensor(np.array(bounds, dtype=np.float64), dtype=origins.dtype, device=origins.device)
    t0, t1 = ray_box(origins, directions, b)
    lo = torch.clamp(t0, min=float(near))
    hi = torch.maximum(torch.clamp(t1, max=float(far)), lo)
    if grid is not None:
        samples = grid.march(origins, directions, lo, hi, step=default_step(bounds, quadrature), generator=generator)
    else:
        samples = stratified(lo, hi, quadrature.samples, generator=generator)
    sigma, rgb = field(samples.points(origins, directions), directions[samples.ray])
    out = composite(sigma, rgb, samples, background=background)
    evaluations = int(samples.t.shape[0])
    if not quadrature.fine or grid is not None:
        return RayRendering(out, None, evaluations)
    fine = resample(samples, out.weights.detach(), quadrature.fine, generator=generator, near=lo, far=hi)
    sigma, rgb = field(fine.points(origins, directions), directions[fine.ray])
    return RayRendering(composite(sigma, rgb, fine, background=background), out, evaluations + int(fine.t.shape[0]))


def render_views(field: Callable, cameras, *, near: float, far: float, bounds, quadrature: Quadrature,
                 background, grid=None, chunk: int = 4096, dtype=torch.float32, device=None,
                 planes: PlaneSet | None = None) -> dict[str, np.ndarray]:
    """Pictures of ``field`` from ``cameras`` (each ``H × W``): ``colour`` ``(N, H, W, C)``,
    ``depth`` ``(N, H, W)`` (expected distance, normalised by the opacity where it is positive)
    and ``opacity`` ``(N, H, W)``; rays in chunks of ``chunk``, no gradients."""
    bg = None if background is None else torch.as_tensor(np.asarray(background), dtype=dtype, device=device)
    colours, depths, opacities = [], [], []
    with torch.no_grad():
        for cam in cameras:
            o, d = cam.rays(dtype=dtype, device=device)
            parts = [render_rays(field, o[i:i + chunk], d[i:i + chunk], near=near, far=far, bounds=bounds,
                                 quadrature=quadrature, background=bg, grid=grid, planes=planes).final
                     for i in range(0, o.shape[0], chunk)]
            c = torch.cat([p.colour for p in parts]).clamp(0, 1)
            a = torch.cat([p.opacity for p in parts])
            z = torch.cat([p.depth for p in parts]) / torch.clamp(a, min=1e-6)
            z = torch.where(a > 1e-3, z, torch.full_like(z, math.nan))
            colours.append(c.reshape(cam.height, cam.width, -1).cpu().numpy())
            depths.append(z.reshape(cam.height, cam.width).cpu().numpy())
            opacities.append(a.reshape(cam.height, cam.width).cpu().numpy())
    return {"colour": np.stack(colours), "depth": np.stack(depths), "opacity": np.stack(opacities)}
