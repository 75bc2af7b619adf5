r"""Shape metrics of a learned signed distance against a reference shape.

All lengths are in the **normalised box** :math:`[-1, 1]^d` (``shape_metrics`` also reports
Chamfer and Hausdorff in the input's units, times the normalisation's scale).

- **IoU** of the occupancies :math:`\{u \le 0\}` at the cell centres of the
  ``resolution^d`` lattice: :math:`|P \cap R| / |P \cup R|`;
- **Chamfer** (symmetric, mean of both directions, Euclidean not squared):
  :math:`\tfrac12\big(\overline{d(a, \partial R)} + \overline{d(b, \partial P)}\big)` over
  ``samples`` uniform points :math:`a` on the reconstructed surface :math:`\partial P` (marching
  cubes / contours of :math:`u = 0`) and :math:`b` on the reference surface :math:`\partial R`,
  with exact point-to-surface distances (k-d trees and libigl's AABB tree find the closest
  points), so the value has no sampling floor; :func:`chamfer` is the point-set version;
- **Hausdorff**: :math:`\max\big(\max_a d(a, \partial R), \max_b d(b, \partial P)\big)` over the same samples;
- **normal consistency**: mean of :math:`|n_a\cdot n(\text{closest point of } a)|` over both
  directions (1 is perfect; absolute value as in Occupancy Networks);
- **eikonal residual**: mean of :math:`\big||\nabla u| - 1\big|` at uniform points of the box
  (exact derivatives for a neural solution; central differences on the grid otherwise).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
from scipy.spatial import cKDTree

from ..domains.csg import AbstractSolid
from .marching import contours, evaluate_grid, marching_cubes, sample_mesh, sample_polylines
from .mesh import TriangleMesh
from .pointcloud import OrientedPointCloud

__all__ = ["iou", "surface_distances", "chamfer", "hausdorff", "normal_consistency", "eikonal_residual",
           "shape_metrics", "reconstruct_surface", "DEFAULT_RESOLUTION"]

log = logging.getLogger(__name__)

#: Metric lattice per dimension (256² in 2-D, 128³ in 3-D; 256³ and 512³ are options).
DEFAULT_RESOLUTION = {2: 256, 3: 128}


def iou(pred, ref) -> float:
    """Intersection over union of two boolean occupancy arrays of one shape."""
    a, b = np.asarray(pred, dtype=bool), np.asarray(ref, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"occupancies must have the same shape, got {a.shape} and {b.shape}")
    union = int(np.count_nonzero(a | b))
    if union == 0:
        raise ValueError("both occupancies are empty; IoU is undefined")
    return int(np.count_nonzero(a & b)) / union


def surface_distances(a: np.ndarray, b: np.ndarray):
    """Nearest-neighbour distances and indices both ways: ``(d_ab, i_ab, d_ba, i_ba)``."""
    d_ab, i_ab = cKDTree(b).query(a, workers=-1)
    d_ba, i_ba = cKDTree(a).query(b, workers=-1)
    return d_ab, i_ab, d_ba, i_ba


def chamfer(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric Chamfer distance between point sets ``(n, d)`` and ``(m, d)`` (mean of both directions)."""
    d_ab, _, d_ba, _ = surface_distances(a, b)
    return 0.5 * (float(d_ab.mean()) + float(d_ba.mean()))


def hausdorff(a: np.ndarray, b: np.ndarray) -> float:
    """Hausdorff distance between point sets."""
    d_ab, _, d_ba, _ = surface_distances(a, b)
    return max(float(d_ab.max()), float(d_ba.max()))


def normal_consistency(a, na, b, nb) -> float:
    """Mean :math:`|n_a\\cdot n_b|` over nearest-neighbour pairs in both directions."""
    _, i_ab, _, i_ba = surface_distances(a, b)
    return 0.5 * (float(np.abs((na * nb[i_ab]).sum(-1)).mean()) + float(np.abs((nb * na[i_ba]).sum(-1)).mean()))


def eikonal_residual(gradient_norm: Callable[[np.ndarray], np.ndarray] | None, dim: int, *,
                     samples: int = 65536, seed: int = 0, grid: np.ndarray | None = None) -> float:
    r"""Mean :math:`\big||\nabla u| - 1\big|` at ``samples`` uniform points of :math:`[-1, 1]^d`
    from ``gradient_norm`` (``points (n, d) → |∇u| (n,)``, exact: a neural solution's,
    :func:`pinr.solution.gradient_norm`), else by central differences on the ``grid`` values."""
    if gradient_norm is not None:
        pts = np.random.default_rng(seed).uniform(-1, 1, (samples, dim))
        out = [gradient_norm(pts[s:s + 16384]) for s in range(0, samples, 16384)]
        return float(np.abs(np.concatenate(out) - 1).mean())
    if grid is None:
        raise ValueError("eikonal_residual without gradient_norm needs the grid values (grid=)")
    h = 2.0 / grid.shape[0]
    g = np.gradient(grid.astype(np.float64), h)
    mag = np.sqrt(sum(x**2 for x in g))
    inner = tuple(slice(1, -1) for _ in range(dim))
    return float(np.abs(mag[inner] - 1).mean())


def reconstruct_surface(values: np.ndarray):
    """Zero level set of grid values: ``(vertices, faces)`` in 3-D, polylines in 2-D."""
    if values.ndim == 3:
        return marching_cubes(values)
    return contours(values)


class _Surface:
    """A surface that samples itself and answers exact closest-point queries:
    ``closest(points) -> (distance (n,), unit normal at the closest point (n, d))``."""

    def __init__(self, sample, closest):
        self.sample, self.closest = sample, closest


def _shape_surface(shape: AbstractSolid) -> _Surface:
    if isinstance(shape, TriangleMesh):
        def closest(p):
            dist, face, _ = shape.closest_points(p)
            return dist, shape.face_normals[face]
    elif isinstance(shape, OrientedPointCloud):
        def closest(p):
            dist, idx = shape.nearest(p)
            return dist, shape.normals[idx]
    else:
        def closest(p):
            return np.abs(shape.signed_distance(p)), shape.normals(p)
    return _Surface(shape.sample_surface, closest)


def _mesh_surface(vertices: np.ndarray, faces: np.ndarray) -> _Surface:
    import igl

    v, f = np.ascontiguousarray(vertices, dtype=np.float64), np.ascontiguousarray(faces, dtype=np.int64)
    cross = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    normals = cross / np.maximum(np.linalg.norm(cross, axis=-1, keepdims=True), 1e-300)

    def closest(p):
        d2, face, _ = igl.point_mesh_squared_distance(np.ascontiguousarray(p, dtype=np.float64), v, f)
        return np.sqrt(d2), normals[face]

    return _Surface(lambda n, rng: sample_mesh(v, f, n, rng), closest)


def _polyline_surface(lines: list[np.ndarray], grad) -> _Surface:
    segs = np.concatenate([np.stack([c[:-1], c[1:]], 1) for c in lines if len(c) > 1])
    segs = segs[np.linalg.norm(segs[:, 1] - segs[:, 0], axis=-1) > 0]
    mid = segs.mean(1)
    tree = cKDTree(mid)
    half = float(np.linalg.norm(segs[:, 1] - segs[:, 0], axis=-1).max()) / 2

    def closest(p):
        k = min(16, len(segs))
        dmid, idx = tree.query(p, k=k, workers=-1)
        dmid, idx = dmid.reshape(len(p), k), idx.reshape(len(p), k)
        a, b = segs[idx, 0], segs[idx, 1]
        e, w = b - a, p[:, None, :] - a
        t = np.clip((w * e).sum(-1) / (e * e).sum(-1), 0, 1)
        dist = np.linalg.norm(w - t[..., None] * e, axis=-1)
        j = dist.argmin(-1)
        rows = np.arange(len(p))
        best = dist[rows, j]
        far = dmid[:, -1] - half < best  # not certified by the k nearest midpoints: brute force
        for i in np.flatnonzero(far):
            ww = p[i] - segs[:, 0]
            ee = segs[:, 1] - segs[:, 0]
            tt = np.clip((ww * ee).sum(-1) / (ee * ee).sum(-1), 0, 1)
            dd = np.linalg.norm(ww - tt[:, None] * ee, axis=-1)
            jj = int(dd.argmin())
            best[i], idx[i, j[i]] = dd[jj], jj
        s = segs[idx[rows, j]]
        d = s[:, 1] - s[:, 0]
        nrm = np.stack([d[:, 1], -d[:, 0]], -1) / np.linalg.norm(d, axis=-1, keepdims=True)
        return best, nrm

    return _Surface(lambda n, rng: sample_polylines(lines, n, rng, grad=grad), closest)


def _reconstructed(values: np.ndarray) -> _Surface | None:
    surface = reconstruct_surface(values)
    if values.ndim == 3:
        v, f = surface
        return _mesh_surface(v, f) if len(f) else None
    if not surface or all(len(c) < 2 for c in surface):
        return None
    res = values.shape[0]
    g = np.gradient(values.astype(np.float64), 2.0 / res)

    def grad_at(p):  # orients the polyline normals outwards (towards increasing u)
        idx = np.clip(np.round((p + 1) * res / 2 - 0.5).astype(int), 0, res - 1)
        return np.stack([g[0][idx[:, 0], idx[:, 1]], g[1][idx[:, 0], idx[:, 1]]], -1)

    return _polyline_surface(surface, grad_at)


def shape_metrics(solution, shape: AbstractSolid, *, resolution: int | None = None, samples: int = 100_000,
                  seed: int = 0, values: np.ndarray | None = None,
                  gradient_norm: Callable[[np.ndarray], np.ndarray] | None = None) -> dict:
    r"""IoU, Chamfer, Hausdorff, normal consistency and eikonal residual of ``solution`` (a pinr
    solution, a shape or a callable of points) against ``shape``.

    ``resolution`` is the metric lattice (default 256² in 2-D, 128³ in 3-D); ``samples`` the
    number of points drawn on each surface; distances from them to the *other surface* are
    exact point-to-surface distances (to the marching-cubes mesh or contour polylines of
    :math:`u = 0`, to the mesh or analytic reference; to the nearest point for a point-cloud
    reference), so the numbers carry no sampling floor. ``values``: precomputed grid values of
    the solution on that lattice; ``gradient_norm``: its exact :math:`|\nabla u|` (see
    :func:`eikonal_residual`; ``None``: central differences). Lengths in the normalised box;
    ``*_input_units`` are times
    the shape's normalisation scale.
    """
    d = shape.dim
    res = int(resolution or DEFAULT_RESOLUTION[d])
    if values is None:
        values = evaluate_grid(solution, res, d)
    if values.shape != (res,) * d:
        raise ValueError(f"values of shape {values.shape} do not match resolution {res} in {d}-D")
    rng = np.random.default_rng(seed)
    out: dict = {"units": f"normalised box [-1, 1]^{d}", "resolution": res, "samples": samples}
    out["iou"] = iou(values <= 0, shape.occupancy(res))
    if not shape.exact:
        out["reference"] = "estimated" if isinstance(shape, OrientedPointCloud) else "CSG distance bound"
    pred = _reconstructed(values)
    if pred is None:
        log.warning("the solution has no zero level set on the %d^%d lattice; distances are infinite", res, d)
        out.update(chamfer=math.inf, hausdorff=math.inf, normal_consistency=0.0)
    else:
        ref = _shape_surface(shape)
        a, na = pred.sample(samples, rng)
        b, nb = ref.sample(samples, rng)
        d_ab, n_ab = ref.closest(a)
        d_ba, n_ba = pred.closest(b)
        out["chamfer"] = 0.5 * (float(d_ab.mean()) + float(d_ba.mean()))
        out["hausdorff"] = max(float(d_ab.max()), float(d_ba.max()))
        out["normal_consistency"] = 0.5 * (float(np.abs((na * n_ab).sum(-1)).mean())
                                           + float(np.abs((nb * n_ba).sum(-1)).mean()))
    scale = shape.normalization.scale
    out["chamfer_input_units"] = out["chamfer"] * scale
    out["hausdorff_input_units"] = out["hausdorff"] * scale
    out["eikonal_residual"] = eikonal_residual(gradient_norm, d, seed=seed, grid=values)
    return out
