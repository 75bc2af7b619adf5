r"""Triangle meshes: exact signed distance, area-weighted surface samples, occupancy grids.

**Distance** is computed by libigl (``igl.signed_distance``: closest point on the mesh through
an AABB tree, exact to rounding). **Sign**: for closed, consistently oriented 2-manifolds, the
angle-weighted pseudo-normal of the closest feature — face, edge or vertex —
:math:`\operatorname{sign}\,(p - q)\cdot n_{\mathrm{feature}}` (Bærentzen & Aanæs, 2005), which is
exact; for open, non-manifold or inconsistently oriented meshes, which are accepted with a
:class:`MeshWarning` because their inside is ill-defined, the generalised winding number
(Jacobson et al., 2013), which degrades gracefully.

**Occupancy grids** (the IoU reference) of closed meshes use ray parity along z with the
top-left tie rule, so a ray through a shared edge or vertex is counted once (exact, and ~50×
faster than winding numbers on a grid); other meshes use the fast winding number
:math:`w \ge 1/2`.

libigl rather than numpy: on a 41k-face mesh it answers 2·10⁵–3·10⁵ exact queries per second
on 2 CPU cores, 5–10× faster than a vectorised numpy point–triangle search certified by k-d
trees, whose cost grows with the distance from the surface.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch

from ..domains.base import unit_samples
from ..domains.csg import AbstractSolid, SolidBoundary
from ..domains.frame import Normalization, cell_centres, check_points, grid_points
from ..symbolic.expressions import Coordinate

__all__ = ["TriangleMesh", "MeshWarning"]

log = logging.getLogger(__name__)


class MeshWarning(UserWarning):
    """The mesh is usable but its inside (the sign of the distance) is ill-defined."""


class _MeshBoundary(SolidBoundary):
    r"""Area-uniform points on the faces with their unit normals: a face by inverting the CDF of
    the areas, then barycentric weights :math:`(1 - \sqrt{u_1}, \sqrt{u_1}(1 - u_2), \sqrt{u_1} u_2)`
    (uniform in the triangle), all from one unit-cube sample ``(n, 3)`` (uniform or Sobol)."""

    def _surface(self, n, *, method, generator):
        mesh = self.domain
        u = unit_samples(n, 3, method=method, generator=generator, dtype=torch.float64, device="cpu").numpy()
        face = np.minimum(np.searchsorted(mesh._cdf, u[:, 0] * mesh._cdf[-1]), len(mesh.faces) - 1)
        r1, r2 = np.sqrt(u[:, 1]), u[:, 2]
        w = np.stack([1 - r1, r1 * (1 - r2), r1 * r2], -1)
        pts = np.einsum("nk,nkd->nd", w, mesh.vertices[mesh.faces[face]])
        return torch.from_numpy(pts), torch.from_numpy(mesh.face_normals[face])


class TriangleMesh(AbstractSolid):
    r"""A triangle mesh ``vertices (n, 3)``, ``faces (m, 3)`` in normalised units, as a solid with
    coordinates (x, y, z): its inside is a PDE domain (``interior`` by rejection from the
    bounding box, ``boundary`` area-uniform on the faces with outward normals).

    ``normalization`` maps the input's units to these coordinates (see :func:`TriangleMesh.fit`).
    Duplicate vertices are merged and zero-area faces dropped; open, non-manifold or
    inconsistently oriented meshes warn (:class:`MeshWarning`); a closed mesh whose faces point
    inwards is flipped. There is no closed-form distance function (``adf()``): state boundary
    conditions on a mesh as soft conditions.
    """

    analytic = False

    def __init__(self, vertices, faces, *, normalization: Normalization | None = None, name: str = "mesh"):
        v = check_points(vertices, 3)
        f = np.asarray(faces)
        if f.ndim != 2 or f.shape[1] != 3 or f.shape[0] == 0:
            raise ValueError(f"mesh {name!r}: faces must have shape (n_faces >= 1, 3), got {f.shape}")
        if not np.issubdtype(f.dtype, np.integer):
            raise ValueError(f"mesh {name!r}: faces must be integer vertex indices, got dtype {f.dtype}")
        if f.min() < 0 or f.max() >= len(v):
            raise ValueError(f"mesh {name!r}: face indices must lie in [0, {len(v)}), got [{f.min()}, {f.max()}]")
        v, inverse = np.unique(v, axis=0, return_inverse=True)  # weld duplicates (e.g. STL facets)
        f = inverse.reshape(-1)[f].astype(np.int64)
        area2 = np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=-1)
        degenerate = (area2 <= 1e-14 * max(float(area2.max()), 1e-300)) | (f[:, 0] == f[:, 1]) | \
            (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])
        if degenerate.all():
            raise ValueError(f"mesh {name!r}: every face has zero area")
        if degenerate.any():
            log.info("mesh %s: dropped %d zero-area faces", name, int(degenerate.sum()))
            f = f[~degenerate]
        self.name = name
        self._normalization = normalization
        self._coords = tuple(Coordinate(c) for c in ("x", "y", "z"))
        self.vertices, self.faces = v, f
        self._topology()
        self._prepare()

    # ------------------------------------------------------------------- construction
    @classmethod
    def fit(cls, vertices, faces, *, padding: float = 0.1, name: str = "mesh") -> "TriangleMesh":
        """The mesh normalised into :math:`[-(1-p), 1-p]^3` (aspect ratio kept; ``p`` = ``padding``)."""
        v = check_points(vertices, 3)
        norm = Normalization.fit(v, padding=padding)
        return cls(norm.to_normalized(v), faces, normalization=norm, name=name)

    def _topology(self):
        counts, dcounts = self._edges()
        self.n_boundary_edges = int((counts == 1).sum())
        self.n_nonmanifold_edges = int((counts > 2).sum())
        self.consistent = bool((dcounts == 1).all())
        self.closed = self.n_boundary_edges == 0 and self.n_nonmanifold_edges == 0 and self.consistent
        problems = []
        if self.n_boundary_edges:
            problems.append(f"{self.n_boundary_edges} boundary edges (the mesh is open)")
        if self.n_nonmanifold_edges:
            problems.append(f"{self.n_nonmanifold_edges} non-manifold edges")
        if not self.consistent and not self.n_nonmanifold_edges:
            problems.append("inconsistently oriented faces")
        if problems:
            warnings.warn(f"mesh {self.name!r} has {', '.join(problems)}: the inside of the shape, hence the sign "
                          "of the distance and the occupancy (IoU), is ill-defined; distances are still exact. "
                          "Repair the mesh (close holes, fix orientation) for trustworthy signs.",
                          MeshWarning, stacklevel=3)
        elif self.signed_volume < 0:
            log.info("mesh %s: faces point inwards; flipping them", self.name)
            self.faces = self.faces[:, ::-1].copy()

    def _edges(self):
        """Use counts of the undirected and of the directed edges."""
        f = self.faces
        directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        _, counts = np.unique(np.sort(directed, axis=1), axis=0, return_counts=True)
        _, dcounts = np.unique(directed, axis=0, return_counts=True)
        return counts, dcounts

    @property
    def signed_volume(self) -> float:
        """Enclosed volume by the divergence theorem (negative when the faces point inwards)."""
        a, b, c = (self.vertices[self.faces[:, k]] for k in range(3))
        return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6)

    def _prepare(self):
        v, f = self.vertices, self.faces
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        cross = np.cross(b - a, c - a)
        area2 = np.linalg.norm(cross, axis=-1)
        self.face_normals = cross / area2[:, None]
        self.areas = area2 / 2
        self._cdf = np.cumsum(self.areas)
        self._igl = None

    def _igl_arrays(self):
        if self._igl is None:
            self._igl = (np.ascontiguousarray(self.vertices, dtype=np.float64),
                         np.ascontiguousarray(self.faces, dtype=np.int64))
        return self._igl

    # ---------------------------------------------------------------------- the solid
    @property
    def boundary(self):
        return _MeshBoundary(self)

    def _key(self):
        return (id(self),)

    @property
    def bounds(self):
        return np.stack([self.vertices.min(0), self.vertices.max(0)], -1)

    @property
    def surface_measure(self):
        return float(self.areas.sum())

    def closest_points(self, points) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact closest points: ``(distance (n,), face (n,), point (n, 3))``."""
        import igl

        p = np.ascontiguousarray(check_points(points, 3))
        d2, face, q = igl.point_mesh_squared_distance(p, *self._igl_arrays())
        return np.sqrt(d2), face, q

    def signed_distance(self, points) -> np.ndarray:
        r"""Exact signed distance at ``points`` ``(n, 3)`` → ``(n,)``: pseudo-normal sign for closed
        meshes, generalised winding number otherwise."""
        import igl

        p = np.ascontiguousarray(check_points(points, 3))
        if len(p) == 0:
            return np.zeros(0)
        kind = igl.SignedDistanceType.SIGNED_DISTANCE_TYPE_PSEUDONORMAL if self.closed else \
            igl.SignedDistanceType.SIGNED_DISTANCE_TYPE_WINDING_NUMBER
        s, *_ = igl.signed_distance(p, *self._igl_arrays(), sign_type=kind)
        return np.asarray(s)

    def occupancy(self, resolution: int, *, chunk: int = 1 << 20) -> np.ndarray:
        r"""Inside test at the cell centres of :math:`[-1, 1]^3` by the parity of z-ray crossings.

        Each (triangle, ray) pair is tested with 2-D edge functions written so that a shared
        edge gives exactly opposite values in its two triangles, and ties follow the top-left
        rule: a ray meets a closed surface an even number of times whatever edges or vertices
        it passes through.
        """
        res = int(resolution)
        if not self.closed:
            return self._winding_occupancy(res, chunk=chunk)
        xs = cell_centres(res, 3)
        h = 2.0 / res
        tri = self.vertices[self.faces]  # (m, 3, 3)
        # counter-clockwise in the xy projection; vertical triangles are parallel to the rays
        orient = _orient(tri[:, 0, :2], tri[:, 1, :2], tri[:, 2, :2])
        tri = np.where((orient < 0)[:, None, None], tri[:, [0, 2, 1]], tri)
        tri = tri[orient != 0]
        lo = np.ceil((tri[:, :, :2].min(1) + 1) / h - 0.5).astype(np.int64).clip(0, res)
        hi = np.floor((tri[:, :, :2].max(1) + 1) / h - 0.5).astype(np.int64).clip(-1, res - 1)
        nx, ny = np.maximum(hi[:, 0] - lo[:, 0] + 1, 0), np.maximum(hi[:, 1] - lo[:, 1] + 1, 0)
        count = nx * ny
        toggles = np.zeros((res * res, res + 1), dtype=np.uint8)
        starts = np.concatenate([[0], np.cumsum(count)])
        total = int(starts[-1])
        for s in range(0, total, chunk):
            pair = np.arange(s, min(total, s + chunk))
            t = np.searchsorted(starts, pair, side="right") - 1
            local = pair - starts[t]
            ix, iy = lo[t, 0] + local % nx[t], lo[t, 1] + local // nx[t]
            px, py = xs[ix], xs[iy]
            a, b, c = tri[t, 0], tri[t, 1], tri[t, 2]
            pt = np.stack([px, py], -1)
            w = [_orient(b[:, :2], c[:, :2], pt), _orient(c[:, :2], a[:, :2], pt), _orient(a[:, :2], b[:, :2], pt)]
            inside = np.ones(len(t), dtype=bool)
            for e, (u, v) in zip(w, ((b, c), (c, a), (a, b))):
                inside &= (e > 0) | ((e == 0) & _top_left(u[:, :2], v[:, :2]))
            wa, wb, wc = (x[inside] for x in w)
            z = (wa * a[inside, 2] + wb * b[inside, 2] + wc * c[inside, 2]) / (wa + wb + wc)
            col = ix[inside] * res + iy[inside]
            iz = np.searchsorted(xs, z, side="right")  # first centre above the crossing
            np.add.at(toggles, (col, iz), 1)
        parity = np.bitwise_xor.accumulate(toggles[:, :res] & 1, axis=1).astype(bool)  # uint8 wraps: parity kept
        return parity.reshape(res, res, res)

    def _winding_occupancy(self, res: int, *, chunk: int) -> np.ndarray:
        import igl

        out = np.empty((res,) * 3, dtype=bool)
        per = max(1, chunk // res**2)
        for i in range(0, res, per):
            sl = slice(i, min(res, i + per))
            w = igl.fast_winding_number(*self._igl_arrays(), np.ascontiguousarray(grid_points(res, 3, first=sl)))
            out[sl] = (w >= 0.5).reshape(-1, res, res)
        return out

    def __repr__(self):
        return (f"TriangleMesh({self.name!r}, {len(self.vertices)} vertices, {len(self.faces)} faces, "
                f"{'closed' if self.closed else 'open/non-manifold'})")


def _orient(u: np.ndarray, v: np.ndarray, p: np.ndarray) -> np.ndarray:
    """2-D orientation of (u, v, p); swapping u and v negates it exactly in floating point."""
    return (u[..., 0] - p[..., 0]) * (v[..., 1] - p[..., 1]) - (u[..., 1] - p[..., 1]) * (v[..., 0] - p[..., 0])


def _top_left(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Edges u→v of counter-clockwise triangles that own the rays lying exactly on them."""
    dx, dy = v[..., 0] - u[..., 0], v[..., 1] - u[..., 1]
    return (dy < 0) | ((dy == 0) & (dx > 0))

