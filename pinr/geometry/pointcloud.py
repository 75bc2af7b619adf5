r"""Oriented point clouds (points with outward unit normals) as solids.

A point cloud has no exact signed distance. :meth:`OrientedPointCloud.signed_distance` is the
usual estimate :math:`\phi(p) \approx \operatorname{sign}\big((p - q)\cdot n_q\big)\,|p - q|`
with :math:`q` the nearest point of the cloud (``exact`` is False): good near a dense cloud,
rough far from it and between close sheets. As a domain (coordinates x, y(, z)) its
``boundary`` samples the cloud's points with their normals and its ``interior`` is drawn by
rejection from the bounding box with that estimated sign.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree

from ..domains.base import unit_samples
from ..domains.csg import AbstractSolid, SolidBoundary
from ..domains.frame import Normalization, check_points
from ..symbolic.expressions import Coordinate

__all__ = ["OrientedPointCloud"]


class _CloudBoundary(SolidBoundary):
    """The cloud's points (drawn with replacement, index :math:`\\lfloor u\\,n \rfloor`) and normals."""

    def _surface(self, n, *, method, generator):
        cloud = self.domain
        u = unit_samples(n, 1, method=method, generator=generator, dtype=torch.float64, device="cpu").numpy()[:, 0]
        idx = np.minimum((u * len(cloud.points)).astype(np.int64), len(cloud.points) - 1)
        return torch.from_numpy(cloud.points[idx]), torch.from_numpy(cloud.normals[idx])


class OrientedPointCloud(AbstractSolid):
    """Points ``(n, d)`` (d = 2, 3) with outward normals ``(n, d)`` (normalised to unit length)."""

    exact = False
    analytic = False

    def __init__(self, points, normals, *, normalization: Normalization | None = None, name: str = "point cloud"):
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] not in (2, 3) or p.shape[0] == 0:
            raise ValueError(f"point cloud {name!r}: points must have shape (n_points >= 1, 2 or 3), got {p.shape}")
        p = check_points(p, p.shape[1])
        if normals is None:
            raise ValueError(f"point cloud {name!r} has no normals, which the eikonal SDF needs (the surface "
                             "condition grad(u) = n and the sign of the distance); provide nx, ny(, nz) columns or "
                             "a 'normals' array, e.g. estimated with Open3D's estimate_normals")
        n = np.asarray(normals, dtype=np.float64)
        if n.shape != p.shape:
            raise ValueError(f"point cloud {name!r}: normals must have the points' shape {p.shape}, got {n.shape}")
        length = np.linalg.norm(n, axis=-1)
        bad = ~np.isfinite(n).all(-1) | (length == 0)
        if bad.any():
            raise ValueError(f"point cloud {name!r}: {int(bad.sum())} normals are NaN, infinite or zero")
        self.points, self.normals = p, n / length[:, None]
        self._coords = tuple(Coordinate(c) for c in ("x", "y", "z")[: p.shape[1]])
        self.name = name
        self._normalization = normalization
        self._tree: cKDTree | None = None

    @classmethod
    def fit(cls, points, normals, *, padding: float = 0.1, name: str = "point cloud") -> "OrientedPointCloud":
        """The cloud normalised into :math:`[-(1-p), 1-p]^d` (aspect ratio kept)."""
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] not in (2, 3) or p.shape[0] == 0:
            raise ValueError(f"point cloud {name!r}: points must have shape (n_points >= 1, 2 or 3), got {p.shape}")
        norm = Normalization.fit(check_points(p, p.shape[1]), padding=padding)
        return cls(norm.to_normalized(p), normals, normalization=norm, name=name)

    def nearest(self, points) -> tuple[np.ndarray, np.ndarray]:
        """Distance to and index of the nearest cloud point, ``(n,)`` each."""
        if self._tree is None:
            self._tree = cKDTree(self.points)
        return self._tree.query(check_points(points, self.dim), workers=-1)

    def signed_distance(self, points):
        p = check_points(points, self.dim)
        dist, idx = self.nearest(p)
        side = ((p - self.points[idx]) * self.normals[idx]).sum(-1)
        return np.where(side < 0, -dist, dist)

    @property
    def boundary(self):
        return _CloudBoundary(self)

    @property
    def surface_measure(self):
        raise ValueError(f"{self!r} has no surface measure (its points carry no area); reconstruct a mesh from it "
                         "to combine it by | & -")

    def _key(self):
        return (id(self),)

    @property
    def bounds(self):
        return np.stack([self.points.min(0), self.points.max(0)], -1)

    def __repr__(self):
        return f"OrientedPointCloud({self.name!r}, {len(self.points)} points, {self.dim}-D)"
