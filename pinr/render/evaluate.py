r"""Scores and files of a trained radiance field: held-out views rendered and compared with the
truth (PSNR, SSIM on [0, 1] colours), depth and opacity maps, a turntable GIF and a mesh of the
density by marching cubes.

Evaluation renders with the training quadrature's samples doubled, at the bin centres (no
randomness), with no occupancy grid, so a score never depends on a grid's state. The mesh is the
level set :math:`\sigma = \sigma^*` of the density at which a lattice cell of side :math:`h` is
half opaque, :math:`1 - e^{-\sigma^* h} = \tfrac12`, i.e. :math:`\sigma^* = \ln 2 / h` — or half
the density's peak on the lattice where it is lower: a field trained with march steps longer than
:math:`h` need only be opaque over a few of those, and may never get that dense.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from .cameras import Camera, orbit_poses
from .observation import Planes, Rendered
from .pipeline import plane_set, radiance, render_views

__all__ = ["field_of", "render_held_out", "write_nerf_outputs", "turntable_cameras", "path_cameras"]

log = logging.getLogger(__name__)


def field_of(solution, observation: Rendered):
    """``(points, directions) -> (density, colour)`` of a trained solution."""
    fields = list(solution.fields)
    density = fields.index(observation.density.func.__name__)
    colour = [fields.index(c.func.__name__) for c in observation.colour]
    net = solution.network

    def field(points, directions):
        p = next(net.parameters())
        return radiance(net, points.to(p.dtype), directions.to(p.dtype), density, colour)

    return field


def _quadrature(observation: Rendered):
    q = observation.quadrature
    if isinstance(q, Planes):  # the planes are the representation: evaluation uses them as they are
        return q
    return replace(q, samples=2 * max(q.samples, 64), fine=q.fine and 2 * q.fine, occupancy=0)


def render_cameras(solution, observation: Rendered, cameras, *, chunk: int = 8192) -> dict[str, np.ndarray]:
    """Pictures of the trained fields from ``cameras`` (see :func:`~pinr.render.pipeline.render_views`)."""
    v = observation.views
    p = next(solution.network.parameters())
    return render_views(field_of(solution, observation), cameras, near=v.near, far=v.far, bounds=v.bounds,
                        quadrature=_quadrature(observation), background=observation.background, chunk=chunk,
                        dtype=p.dtype, device=p.device, planes=plane_set(v, observation.quadrature))


def render_held_out(solution, observation: Rendered, *, views: Iterable[int] | None = None,
                    ssim: bool = False) -> dict:
    """Render the held-out views (``views`` indices; default all) and score them: ``psnr``
    (mean over views of each view's PSNR, colours in [0, 1]), ``psnr_views``, optionally ``ssim``
    and ``ssim_views``; the pictures are under ``rendered``."""
    from pinr.metrics import psnr
    from pinr.metrics import ssim as ssim_fn

    held = observation.held_out if observation.held_out is not None else observation.views
    index = list(range(len(held))) if views is None else list(views)
    r = render_cameras(solution, observation, [held.cameras[i] for i in index])
    truth = held.images[index]
    ps = [psnr(r["colour"][k], truth[k], data_range=1.0) for k in range(len(index))]
    out = {"psnr": float(np.mean(ps)), "psnr_views": [round(float(x), 3) for x in ps], "rendered": r,
           "truth": truth}
    if ssim:
        ss = [ssim_fn(r["colour"][k], truth[k], data_range=1.0, channel_axis=-1) for k in range(len(index))]
        out.update(ssim=float(np.mean(ss)), ssim_views=[round(float(x), 4) for x in ss])
    return out


def turntable_cameras(observation: Rendered, n: int = 24) -> list[Camera]:
    """``n`` cameras circling the scene at the held-out (or training) cameras' mean distance and
    elevation, with their resolution and focal length."""
    held = observation.held_out if observation.held_out is not None else observation.views
    c0 = held.cameras[0]
    centre = np.asarray(held.bounds, dtype=np.float64).mean(axis=1)
    eyes = np.stack([c.center for c in held.cameras]) - centre
    radius = float(np.linalg.norm(eyes, axis=1).mean())
    elevation = float(np.mean(np.arcsin(np.clip(eyes[:, 2] / np.linalg.norm(eyes, axis=1), -1, 1))))
    return [Camera(c0.width, c0.height, c0.focal, pose)
            for pose in orbit_poses(n, radius=radius, elevation=elevation, target=centre)]


def path_cameras(observation: Rendered, n: int = 24) -> list[Camera] | None:
    """For forward-facing held-out views (one orientation, centres on a plane): ``n`` cameras of
    that orientation on the circle through their centres (the mean distance from their mean);
    ``None`` for other rigs."""
    held = observation.held_out if observation.held_out is not None else observation.views
    rotations = np.stack([c.pose[:3, :3] for c in held.cameras])
    if len(held) < 2 or not np.allclose(rotations, rotations[0], atol=1e-9):
        return None
    c0 = held.cameras[0]
    centres = np.stack([c.center for c in held.cameras])
    middle = centres.mean(axis=0)
    radius = float(np.linalg.norm(centres - middle, axis=1).mean())
    right, up = rotations[0][:, 0], rotations[0][:, 1]
    cams = []
    for a in 2 * math.pi * np.arange(n) / n:
        pose = c0.pose.copy()
        pose[:3, 3] = middle + radius * (math.cos(a) * right + math.sin(a) * up)
        cams.append(Camera(c0.width, c0.height, c0.focal, pose, cx=c0.cx, cy=c0.cy))
    return cams


def _density_mesh(solution, observation: Rendered, resolution: int):
    """Marching cubes of the density at :math:`\\sigma^* = \\ln 2 / h` on a ``resolution``³
    lattice of the scene box; vertices in scene coordinates."""
    from pinr.geometry.marching import evaluate_grid, marching_cubes

    b = np.asarray(observation.views.bounds, dtype=np.float64)
    centre, half = b.mean(axis=1), (b[:, 1] - b[:, 0]) / 2
    field = field_of(solution, observation)
    p = next(solution.network.parameters())

    def density(points):  # points in [-1, 1]^3 → the scene box
        x = torch.as_tensor(centre + half * points, dtype=p.dtype, device=p.device)
        with torch.no_grad():
            return field(x, torch.zeros_like(x))[0].cpu().numpy()

    values = evaluate_grid(density, resolution, 3)
    h = float(np.min(2 * half / resolution))
    # a field trained with march steps longer than h need not get that dense: half its peak then
    level = min(math.log(2.0) / h, 0.5 * float(np.max(values)))
    v, f = marching_cubes(values, level=level)
    return centre + half * v, f, level


def write_nerf_outputs(out, solution, observation: Rendered, *, turntable: int = 24, mesh_resolution: int = 128,
                       shown: int = 4) -> dict:
    """Into ``out``: ``renders.png`` (held-out views: rendered, truth, error), ``depth.png`` and
    ``opacity.png``, ``turntable.gif`` (``path.gif`` for forward-facing views: a circle through the
    held-out cameras), ``mesh.ply`` and ``mesh.png``; returns the scores (PSNR and
    SSIM per held-out view and their means, the mesh's size and level)."""
    import imageio.v3 as iio

    from pinr.geometry.io import write_mesh
    from pinr.geometry.plots import render_mesh
    from pinr.io import atomic_write

    from .plots import plot_depth_opacity, plot_renders

    out = Path(out)
    scores = render_held_out(solution, observation, ssim=True)
    r, truth = scores.pop("rendered"), scores.pop("truth")
    k = min(shown, len(truth))
    plot_renders(out / "renders.png", r["colour"][:k], truth[:k], scores["psnr_views"][:k])
    plot_depth_opacity(out / "depth.png", r["depth"][:k], r["opacity"][:k])
    metrics = {"psnr": round(scores["psnr"], 3), "ssim": round(scores["ssim"], 4),
               "psnr_views": scores["psnr_views"], "ssim_views": scores["ssim_views"],
               "held_out_views": len(truth)}
    if turntable:
        path = path_cameras(observation, turntable)
        cameras, gif = (path, "path.gif") if path is not None else \
            (turntable_cameras(observation, turntable), "turntable.gif")
        frames = render_cameras(solution, observation, cameras)["colour"]
        frames = (np.clip(frames, 0, 1) * 255).round().astype(np.uint8)
        atomic_write(out / gif, lambda p: iio.imwrite(p, frames, extension=".gif", duration=80, loop=0))
    if mesh_resolution:
        v, f, level = _density_mesh(solution, observation, mesh_resolution)
        metrics["mesh_level"] = round(level, 3)
        metrics["mesh_faces"] = int(len(f))
        if len(f):
            write_mesh(out / "mesh.ply", v, f)
            render_mesh(out / "mesh.png", v, f, title=f"density = {level:.3g} (marching cubes)")
        else:
            log.warning("the density never reaches %.3g: no mesh written", level)
    return metrics
