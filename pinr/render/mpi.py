r"""The planes of a multiplane image (MPI) and where rays cross them.

A reference camera with centre :math:`c` and viewing axis :math:`f` (its :math:`-z` column) holds
:math:`D` planes :math:`\{p : (p - c)\cdot f = z_i\}`. The depths :math:`z_i` are evenly spaced in
disparity :math:`1/z` between the nearest and farthest depth of the scene box in front of the
camera: slab edges :math:`1/e_k = 1/z_{near} + \tfrac{k}{D}(1/z_{far} - 1/z_{near})`,
:math:`k = 0..D`, and plane :math:`i` at the disparity midpoint of slab :math:`[e_i, e_{i+1}]`.
A ray :math:`o + t d` meets plane :math:`i` at :math:`t_i = (z_i - (o - c)\cdot f) / (d\cdot f)`
and crosses its slab over :math:`\delta_i = (e_{i+1} - e_i)/(d\cdot f)`; both are sorted along the
ray because :math:`d\cdot f > 0` for every camera that faces the planes.
"""

from __future__ import annotations

import numpy as np
import torch

from .cameras import Camera
from .volume import Samples

__all__ = ["PlaneSet"]


class PlaneSet:
    """The ``planes`` planes of ``reference`` over the depth range of the box ``bounds`` ``(3, 2)``,
    each as large as the reference picture widened by ``margin`` (a fraction of its size) on each
    side."""

    def __init__(self, reference: Camera, bounds, planes: int, *, margin: float = 0.1):
        self.reference, self.margin = reference, float(margin)
        self.bounds = np.asarray(bounds, dtype=np.float64)
        pose = reference.pose
        self.centre, self.axis = pose[:3, 3].copy(), -pose[:3, 2]
        corners = np.array(np.meshgrid(*self.bounds, indexing="ij")).reshape(3, -1).T
        depth = (corners - self.centre) @ self.axis
        if not depth.min() > 0:
            raise ValueError(f"Planes: the scene box {self.bounds.tolist()} is not wholly in front of the reference "
                             f"camera at {np.round(self.centre, 3).tolist()}; choose a reference that faces the scene")
        disparity = np.linspace(1 / depth.min(), 1 / depth.max(), int(planes) + 1)
        self.edges = 1 / disparity  #: slab edges (D + 1,), near to far
        self.depths = 1 / (0.5 * (disparity[:-1] + disparity[1:]))  #: plane depths (D,)

    def __len__(self) -> int:
        return len(self.depths)

    def samples(self, origins: torch.Tensor, directions: torch.Tensor) -> Samples:
        """Where rays ``(R, 3)`` (unit directions) cross the planes inside the box and the planes'
        extent: packed :class:`~pinr.render.Samples` (a ray that misses every plane has none)."""
        dtype, device = origins.dtype, origins.device
        c, f = (torch.as_tensor(a, dtype=dtype, device=device) for a in (self.centre, self.axis))
        z = torch.as_tensor(self.depths, dtype=dtype, device=device)
        thick = torch.as_tensor(np.diff(self.edges), dtype=dtype, device=device)
        cos = directions @ f  # (R,)
        facing = cos > 1e-6
        cos = torch.where(facing, cos, torch.ones_like(cos))
        t = (z[None, :] - ((origins - c) @ f)[:, None]) / cos[:, None]  # (R, D)
        delta = thick[None, :] / cos[:, None]
        points = origins[:, None, :] + t[..., None] * directions[:, None, :]
        keep = facing[:, None] & (t > 0)
        b = torch.as_tensor(self.bounds, dtype=dtype, device=device)
        keep &= ((points >= b[:, 0]) & (points <= b[:, 1])).all(-1)
        cam = self.reference
        uv, _ = cam.project(points.reshape(-1, 3))
        uv = uv.reshape(*t.shape, 2)
        mw, mh = self.margin * cam.width, self.margin * cam.height
        inside = (uv[..., 0] >= -mw) & (uv[..., 0] <= cam.width + mw) & (uv[..., 1] >= -mh) & \
                 (uv[..., 1] <= cam.height + mh)
        keep &= inside  # NaN positions (behind the reference camera) compare False
        ray = torch.arange(t.shape[0], device=device)[:, None].expand_as(t)
        return Samples(ray[keep], t[keep], delta[keep], t.shape[0])

    def __repr__(self):
        return (f"PlaneSet({len(self)} planes of {self.reference!r}, depths {self.edges[0]:.3g}..{self.edges[-1]:.3g})")
