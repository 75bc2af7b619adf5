"""Cameras, rays and volume rendering: what turns a field of density and colour into pixels
(NeRF and NeX problems observe their fields through it)."""

from .cameras import Camera as Camera
from .cameras import look_at as look_at
from .cameras import orbit_poses as orbit_poses
from .cameras import rays_of as rays_of
from .occupancy import OccupancyGrid as OccupancyGrid
from .volume import Rendering as Rendering
from .volume import Samples as Samples
from .volume import composite as composite
from .volume import composite_alpha as composite_alpha
from .volume import interval_lengths as interval_lengths
from .volume import ray_box as ray_box
from .volume import resample as resample
from .volume import sample_pdf as sample_pdf
from .volume import stratified as stratified
