r"""Pinhole cameras and their rays, in the OpenGL convention of the NeRF synthetic scenes.

A camera looks down its own :math:`-z` axis with :math:`x` to the right and :math:`y` up; its
``pose`` is the :math:`4\times4` camera-to-world matrix :math:`[R\,|\,o]` whose columns are the
camera's axes and centre in world coordinates (the ``transform_matrix`` of a Blender
``transforms_*.json``). Pixel :math:`(i, j)` (column :math:`i` from the left, row :math:`j` from
the top) has its centre at :math:`(i + \tfrac12, j + \tfrac12)`; its ray leaves the camera centre
:math:`o` along the unit vector

.. math:: d = \frac{R\,\hat d}{\|\hat d\|}, \qquad
          \hat d = \Big(\frac{i + \frac12 - c_x}{f},\ -\frac{j + \frac12 - c_y}{f},\ -1\Big),

so a point :math:`o + t d` lies at distance :math:`t` from the centre (depths along rays are
distances, not :math:`z`-depths).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Camera", "look_at", "orbit_poses", "rays_of"]


def _pose(pose) -> np.ndarray:
    p = np.asarray(pose, dtype=np.float64)
    if p.shape == (3, 4):
        p = np.vstack([p, [0.0, 0.0, 0.0, 1.0]])
    if p.shape != (4, 4) or not np.isfinite(p).all():
        raise ValueError(f"camera pose must be a finite 4x4 (or 3x4) camera-to-world matrix, got shape {p.shape}")
    r = p[:3, :3]
    if not np.allclose(r.T @ r, np.eye(3), atol=1e-4):
        raise ValueError("camera pose: the rotation part is not orthonormal (columns are the camera's x, y, z "
                         "axes in world coordinates); scale the scene, not the pose")
    p.setflags(write=False)
    return p


@dataclass(frozen=True, eq=False)
class Camera:
    r"""A pinhole camera of ``width`` × ``height`` pixels, focal length ``focal`` in pixels,
    principal point ``(cx, cy)`` (default the image centre) and camera-to-world ``pose``
    ``(4, 4)`` (OpenGL: looking down :math:`-z`, :math:`y` up)."""

    width: int
    height: int
    focal: float
    pose: np.ndarray
    cx: float | None = None
    cy: float | None = None

    def __post_init__(self):
        for name in ("width", "height"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Camera {name} must be a positive number of pixels, got {v!r}")
            object.__setattr__(self, name, int(v))
        f = float(self.focal)
        if not (math.isfinite(f) and f > 0):
            raise ValueError(f"Camera focal must be a positive length in pixels, got {self.focal!r}")
        object.__setattr__(self, "focal", f)
        object.__setattr__(self, "pose", _pose(self.pose))
        object.__setattr__(self, "cx", self.width / 2 if self.cx is None else float(self.cx))
        object.__setattr__(self, "cy", self.height / 2 if self.cy is None else float(self.cy))

    @classmethod
    def from_fov(cls, width: int, height: int, fov_x: float, pose) -> "Camera":
        r"""The camera whose horizontal field of view is ``fov_x`` radians (Blender's
        ``camera_angle_x``): :math:`f = \tfrac{W/2}{\tan(\mathrm{fov}_x/2)}`."""
        if not 0 < float(fov_x) < math.pi:
            raise ValueError(f"Camera field of view must be in (0, pi) radians, got {fov_x!r}")
        return cls(width, height, 0.5 * width / math.tan(0.5 * float(fov_x)), pose)

    @property
    def fov_x(self) -> float:
        """Horizontal field of view in radians."""
        return 2 * math.atan(0.5 * self.width / self.focal)

    @property
    def center(self) -> np.ndarray:
        """The camera centre ``(3,)`` in world coordinates."""
        return self.pose[:3, 3]

    def resized(self, width: int, height: int) -> "Camera":
        """The same camera seeing the same picture at another resolution."""
        sx, sy = width / self.width, height / self.height
        return Camera(width, height, self.focal * sx, self.pose, cx=self.cx * sx, cy=self.cy * sy)

    def rays(self, *, dtype: torch.dtype = torch.float32, device=None,
             pixels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Origins and unit directions ``(N, 3)`` of the rays through the pixel centres, row by
        row from the top-left (``N = height * width``), or through the image positions ``pixels``
        ``(N, 2)`` in pixel units (column, row: pixel ``(i, j)`` spans ``[i, i + 1] × [j, j + 1]``)."""
        if pixels is None:
            j, i = torch.meshgrid(torch.arange(self.height, dtype=torch.float64),
                                  torch.arange(self.width, dtype=torch.float64), indexing="ij")
            u, v = i.reshape(-1) + 0.5, j.reshape(-1) + 0.5
        else:
            pixels = torch.as_tensor(pixels, dtype=torch.float64).cpu()
            u, v = pixels[:, 0], pixels[:, 1]
        local = torch.stack([(u - self.cx) / self.focal, -(v - self.cy) / self.focal, -torch.ones_like(u)], -1)
        pose = torch.tensor(self.pose)
        d = local @ pose[:3, :3].T
        d = d / d.norm(dim=-1, keepdim=True)
        o = pose[:3, 3].expand_as(d)
        return o.to(dtype=dtype, device=device).contiguous(), d.to(dtype=dtype, device=device).contiguous()

    def project(self, points) -> tuple[torch.Tensor, torch.Tensor]:
        """World points ``(N, 3)`` → pixel positions ``(N, 2)`` (column, row; a pixel's centre at
        ``+ 0.5``) and distances ``(N,)`` from the camera centre; points behind the camera get
        NaN positions."""
        p = torch.as_tensor(points)
        pose = torch.tensor(self.pose, dtype=p.dtype, device=p.device)
        local = (p - pose[:3, 3]) @ pose[:3, :3]
        z = -local[:, 2]
        ahead = z > 0
        zs = torch.where(ahead, z, torch.ones_like(z))
        u = self.cx + self.focal * local[:, 0] / zs
        v = self.cy - self.focal * local[:, 1] / zs
        uv = torch.stack([u, v], -1)
        uv = torch.where(ahead[:, None], uv, torch.full_like(uv, float("nan")))
        return uv, local.norm(dim=-1)

    def __repr__(self):
        c = np.array2string(self.center, precision=3, separator=", ")
        return f"Camera({self.width}x{self.height}, fov_x {math.degrees(self.fov_x):.1f} deg, at {c})"


def look_at(eye, target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """The camera-to-world pose ``(4, 4)`` of a camera at ``eye`` looking at ``target`` with
    ``up`` (default world :math:`+z`, as in the NeRF synthetic scenes) pointing up in the image."""
    eye, target, up = (np.asarray(a, dtype=np.float64) for a in (eye, target, up))
    back = eye - target
    if np.linalg.norm(back) == 0:
        raise ValueError("look_at: eye and target are the same point")
    back /= np.linalg.norm(back)
    right = np.cross(up, back)
    if np.linalg.norm(right) < 1e-9:
        raise ValueError("look_at: the viewing direction is parallel to up; choose another up vector")
    right /= np.linalg.norm(right)
    true_up = np.cross(back, right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, true_up, back, eye
    return pose


def orbit_poses(n: int, *, radius: float, elevation: float | Sequence[float] = math.radians(30),
                target=(0.0, 0.0, 0.0), start: float = 0.0) -> list[np.ndarray]:
    """``n`` poses on a circle of ``radius`` around ``target`` (about world :math:`+z`), at
    ``elevation`` radians above the horizon (one number, or one per pose), azimuths
    ``start + 2πk/n``: a turntable."""
    elev = np.broadcast_to(np.asarray(elevation, dtype=np.float64), (n,))
    target = np.asarray(target, dtype=np.float64)
    poses = []
    for k in range(n):
        a = start + 2 * math.pi * k / n
        e = elev[k]
        eye = target + radius * np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])
        poses.append(look_at(eye, target))
    return poses


def rays_of(cameras: Sequence[Camera], *, dtype: torch.dtype = torch.float32, device=None):
    """The rays of every pixel of every camera, camera after camera: origins and directions
    ``(sum(H*W), 3)``."""
    out = [c.rays(dtype=dtype, device=device) for c in cameras]
    return torch.cat([o for o, _ in out]), torch.cat([d for _, d in out])
