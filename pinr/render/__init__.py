"""Cameras, rays and volume rendering: what turns a field of density and colour into pixels
(NeRF and NeX problems observe their fields through it)."""

from .cameras import Camera as Camera
from .cameras import look_at as look_at
from .cameras import orbit_poses as orbit_poses
from .cameras import rays_of as rays_of
