r"""Run-directory outputs of a signed distance solution: metrics, meshes, level sets, renders.

:func:`write_sdf_outputs` evaluates the solution once on the metric lattice and writes, into
``out``:

- ``shape_metrics.json``: :func:`~pinr.geometry.metrics.shape_metrics` (IoU, Chamfer,
  Hausdorff, normal consistency, eikonal residual; lengths in the normalised box, Chamfer and
  Hausdorff also in input units);
- 3-D: ``mesh.ply`` and ``mesh.obj`` (marching cubes of :math:`u = 0`, written through meshio
  in the **input's units**), ``slices.png`` (mid-planes with the reference's zero level set),
  ``render.png`` (shaded mesh);
- 2-D: ``level_sets.png`` (level sets, reference, error) and ``zero_level.npz`` (the
  :math:`u = 0` polylines in input units, arrays ``line_0``, ``line_1``, ...).

:func:`write_occupancy_outputs` does the same for an occupancy logit :math:`u` (inside where
:math:`u > 0`): :func:`occupancy_metrics` (IoU and accuracy of :math:`\{u > 0\}` against the
shape's inside set on the lattice) in ``occupancy_metrics.json``; 2-D: ``occupancy.png``
(predicted and true inside sets, their difference); 3-D: ``mesh.ply``/``mesh.obj`` (marching
cubes of :math:`u = 0`, input units) and ``render.png``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..domains.csg import AbstractSolid
from ..domains.frame import cell_centres
from ..io import save_npz, write_json
from .io import write_mesh
from .marching import contours, evaluate_grid, marching_cubes
from .metrics import DEFAULT_RESOLUTION, iou, shape_metrics
from .plots import plot_level_sets, plot_occupancy, plot_slices, render_mesh

__all__ = ["write_sdf_outputs", "occupancy_metrics", "write_occupancy_outputs"]

log = logging.getLogger(__name__)


def _reference_slices(shape: AbstractSolid, res: int) -> list[np.ndarray]:
    c = cell_centres(res, 3)
    m = c[res // 2]
    a, b = np.meshgrid(c, c, indexing="ij")
    out = []
    for k in range(3):
        cols = [a.ravel(), b.ravel()]
        cols.insert(k, np.full(a.size, m))
        out.append(shape.signed_distance(np.stack(cols, -1)).reshape(res, res))
    return out


def write_sdf_outputs(out, solution, shape: AbstractSolid, *, resolution: int | None = None,
                      samples: int = 100_000, render_resolution: int = 128, seed: int = 0,
                      gradient_norm=None) -> dict:
    r"""Write the files listed in the module notes into ``out``; return the shape metrics.
    ``solution``: a callable of points (a pinr solution) or a shape; ``gradient_norm``: its exact
    :math:`|\nabla u|` for the eikonal residual (:func:`~pinr.geometry.metrics.shape_metrics`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    d = shape.dim
    res = int(resolution or DEFAULT_RESOLUTION[d])
    values = evaluate_grid(solution, res, d)
    metrics = shape_metrics(solution, shape, resolution=res, samples=samples, seed=seed, values=values,
                            gradient_norm=gradient_norm)
    norm = shape.normalization
    title = f"{shape.name}: IoU {metrics['iou']:.4f}, Chamfer {metrics['chamfer']:.2e}"
    if d == 2:
        plot_level_sets(out / "level_sets.png", values, reference=shape.sdf_grid(res), title=title)
        lines = contours(values)
        save_npz(out / "zero_level.npz", **{f"line_{i}": norm.to_input(c) for i, c in enumerate(lines)})
    else:
        v, f = marching_cubes(values)
        if len(f):
            for name in ("mesh.ply", "mesh.obj"):
                write_mesh(out / name, v, f, normalization=norm)
            if res > render_resolution:  # the render needs no more than ~10^5 faces
                v, f = marching_cubes(evaluate_grid(solution, render_resolution, 3))
            render_mesh(out / "render.png", v, f, title=title)
        else:
            log.warning("the solution has no zero level set; no mesh written")
        plot_slices(out / "slices.png", values, reference=_reference_slices(shape, res), title=title)
    write_json(out / "shape_metrics.json", metrics)
    return metrics


def occupancy_metrics(values: np.ndarray, shape: AbstractSolid) -> dict:
    r"""IoU and accuracy of the predicted inside set :math:`\{u > 0\}` (``values``: logits on the
    cell centres of the ``n^d`` lattice, "ij" order) against :math:`\{\phi \le 0\}` of ``shape``."""
    values = np.asarray(values)
    res, d = values.shape[0], values.ndim
    if d != shape.dim or values.shape != (res,) * d:
        raise ValueError(f"values of shape {values.shape} are not a {shape.dim}-D cubic lattice")
    pred, true = values > 0, shape.occupancy(res)
    return {"iou": iou(pred, true), "accuracy": float(np.mean(pred == true)), "resolution": res,
            "inside_fraction": float(true.mean())}


def write_occupancy_outputs(out, solution, shape: AbstractSolid, *, resolution: int | None = None,
                            render_resolution: int = 128) -> dict:
    """Write the occupancy files listed in the module notes into ``out``; return the metrics."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    d = shape.dim
    res = int(resolution or DEFAULT_RESOLUTION[d])
    values = evaluate_grid(solution, res, d)
    metrics = occupancy_metrics(values, shape)
    title = f"{shape.name}: IoU {metrics['iou']:.4f}, accuracy {metrics['accuracy']:.4f}"
    if d == 2:
        plot_occupancy(out / "occupancy.png", values > 0, shape.occupancy(res), title=title)
    else:
        v, f = marching_cubes(values)
        if len(f):
            for name in ("mesh.ply", "mesh.obj"):
                write_mesh(out / name, v, f, normalization=shape.normalization)
            if res > render_resolution:
                v, f = marching_cubes(evaluate_grid(solution, render_resolution, 3))
            render_mesh(out / "render.png", v, f, title=title)
        else:
            log.warning("the occupancy logit has no zero level set; no mesh written")
    write_json(out / "occupancy_metrics.json", metrics)
    return metrics
