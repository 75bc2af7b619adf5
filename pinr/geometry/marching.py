r"""Fields on the lattice of :math:`[-1, 1]^d` and their zero level sets.

- :func:`evaluate_grid`: a field (a pinr solution, a shape or a callable) at the
  ``resolution^d`` cell centres, evaluated slab by slab into a float32 array;
- :func:`marching_cubes`: the zero level set of a 3-D grid as a triangle mesh
  (``skimage.measure.marching_cubes``), run on slabs of the first axis that share one plane,
  seams welded, so the working memory stays a slab's (a 512³ grid needs the 512 MiB of its
  float32 values plus a few slabs);
- :func:`contours`: the zero level set of a 2-D grid as polylines (``find_contours``).

Vertices are in normalised coordinates; faces are wound so that their normals
:math:`(b - a)\times(c - a)` point to increasing values (outwards for a signed distance).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

from ..domains.csg import AbstractSolid
from ..domains.frame import grid_points

__all__ = ["as_field", "evaluate_grid", "marching_cubes", "contours", "sample_mesh", "sample_polylines"]


def as_field(field) -> Callable[[np.ndarray], np.ndarray]:
    """``points (n, d) → values (n,)`` for a shape or a callable of points (a pinr solution is
    one): values ``(n,)``, or ``(n, fields)`` of which the first field is taken."""
    if isinstance(field, AbstractSolid):
        return field.signed_distance
    if callable(field):
        return lambda p: _first_field(np.asarray(field(p)), len(p))
    raise TypeError(f"expected a pinr solution, a shape or a callable of points, got {type(field).__name__}")


def _first_field(values: np.ndarray, n: int) -> np.ndarray:
    return values[:, 0] if values.ndim == 2 else values.reshape(n)


#: lattices of this many points or more show a progress bar while a field is evaluated on them
PROGRESS_POINTS = 1 << 22


def evaluate_grid(field, resolution: int, dim: int, *, chunk: int = 1 << 18) -> np.ndarray:
    """``field`` at the cell centres of the ``resolution^dim`` lattice of :math:`[-1, 1]^d`
    ("ij" order), float32, slab by slab; a lattice of :data:`PROGRESS_POINTS` points or more shows
    a progress bar with its time estimate."""
    fn = as_field(field)
    res = int(resolution)
    out = np.empty((res,) * dim, dtype=np.float32)
    per = max(1, chunk // res ** (dim - 1))
    with tqdm(total=res, unit="slab", leave=False, disable=res ** dim < PROGRESS_POINTS,
              desc=f"evaluating on the {res}^{dim} lattice") as bar:
        for i in range(0, res, per):
            sl = slice(i, min(res, i + per))
            out[sl] = fn(grid_points(res, dim, first=sl)).reshape((sl.stop - sl.start,) + (res,) * (dim - 1))
            bar.update(sl.stop - sl.start)
    return out


def _lattice_to_box(index_coords: np.ndarray, resolution: int) -> np.ndarray:
    return -1.0 + (2.0 / resolution) * (index_coords + 0.5)


def _on_edges(v: np.ndarray, block: np.ndarray, level: float, offset: int) -> np.ndarray:
    r"""Vertices ``(n, 3)`` that skimage placed on lattice edges (in float32, relative to a block
    that starts at plane ``offset``), recomputed in float64 from the two values :math:`a, b` at the
    edge's ends: node :math:`lo` plus :math:`(\ell - a)/(b - a)` along the edge's axis. A vertex is
    then a function of its edge and the grid's values only, so a mesh computed slab by slab equals
    the one computed at once, bit for bit."""
    lo = np.floor(v.astype(np.float64)).astype(np.int64)
    frac = v.astype(np.float64) - lo
    rows = np.nonzero(frac.max(axis=1) > 0)[0]
    axis = np.argmax(frac[rows], axis=1)
    a_idx = lo[rows]
    b_idx = a_idx.copy()
    b_idx[np.arange(len(rows)), axis] += 1
    a = block[tuple(a_idx.T)].astype(np.float64)
    b = block[tuple(b_idx.T)].astype(np.float64)
    out = lo.astype(np.float64)
    out[:, 0] += offset  # integers: exact
    out[rows, axis] += (level - a) / (b - a)
    return out


def marching_cubes(values: np.ndarray, *, level: float = 0.0, slab: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Triangle mesh ``(vertices (n, 3), faces (m, 3))`` of ``{values = level}`` on the cell
    centres of :math:`[-1, 1]^3`; empty arrays when the level is not crossed."""
    from skimage.measure import marching_cubes as _mc

    if values.ndim != 3 or min(values.shape) < 2:
        raise ValueError(f"marching_cubes needs a 3-D grid with at least 2 cells per axis, got {values.shape}")
    if len(set(values.shape)) != 1:
        raise ValueError(f"marching_cubes expects a cubic lattice of [-1, 1]^3, got {values.shape}")
    res = values.shape[0]
    verts, faces, offset = [], [], 0
    for i in range(0, res - 1, slab):
        block = values[i:min(res, i + slab + 1)]
        lo, hi = float(block.min()), float(block.max())
        if not (lo <= level <= hi) or lo == hi:
            continue
        v, f, _, _ = _mc(np.ascontiguousarray(block, dtype=np.float32), level, allow_degenerate=False)
        v = _on_edges(v, block, level, i)  # seam vertices bitwise equal across slabs
        verts.append(v)
        faces.append(f + offset)
        offset += len(v)
    if not verts:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    v, f = np.concatenate(verts), np.concatenate(faces)
    v, inverse = np.unique(v, axis=0, return_inverse=True)
    f = inverse.reshape(-1)[f].astype(np.int64)
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    return _lattice_to_box(v, res), f


def contours(values: np.ndarray, *, level: float = 0.0) -> list[np.ndarray]:
    """Polylines ``[(k, 2), ...]`` of ``{values = level}`` on the cell centres of :math:`[-1, 1]^2`."""
    from skimage.measure import find_contours

    if values.ndim != 2 or len(set(values.shape)) != 1:
        raise ValueError(f"contours expects a square lattice of [-1, 1]^2, got {values.shape}")
    return [_lattice_to_box(c, values.shape[0]) for c in find_contours(np.asarray(values, dtype=np.float64), level)]


def sample_mesh(vertices, faces, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` area-uniform points on a triangle mesh and their face normals."""
    tri = np.asarray(vertices)[np.asarray(faces)]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = np.linalg.norm(cross, axis=-1)
    keep = area > 0
    tri, cross, area = tri[keep], cross[keep], area[keep]
    face = rng.choice(len(tri), size=n, p=area / area.sum())
    r1, r2 = np.sqrt(rng.uniform(0, 1, n)), rng.uniform(0, 1, n)
    w = np.stack([1 - r1, r1 * (1 - r2), r1 * r2], -1)
    return np.einsum("nk,nkd->nd", w, tri[face]), cross[face] / area[face, None]


def sample_polylines(lines: list[np.ndarray], n: int, rng: np.random.Generator,
                     grad: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` length-uniform points on polylines and unit normals (perpendicular to the segments,
    oriented along ``grad`` when given, e.g. the field's gradient)."""
    segs = np.concatenate([np.stack([c[:-1], c[1:]], 1) for c in lines if len(c) > 1])
    d = segs[:, 1] - segs[:, 0]
    length = np.linalg.norm(d, axis=-1)
    keep = length > 0
    segs, d, length = segs[keep], d[keep], length[keep]
    k = rng.choice(len(segs), size=n, p=length / length.sum())
    t = rng.uniform(0, 1, n)[:, None]
    pts = segs[k, 0] + t * d[k]
    nrm = np.stack([d[k, 1], -d[k, 0]], -1) / length[k, None]
    if grad is not None:
        nrm *= np.where((nrm * grad(pts)).sum(-1) < 0, -1.0, 1.0)[:, None]
    return pts, nrm

