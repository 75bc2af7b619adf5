"""Cameras, rays and volume rendering: what turns a field of density and colour into pixels
(NeRF and NeX problems observe their fields through it).

Floor: render, beside backbones and geometry (imports derivatives and below)."""

from .cameras import Camera as Camera
from .cameras import look_at as look_at
from .cameras import orbit_poses as orbit_poses
from .cameras import rays_of as rays_of
from .data import BLENDER_BOUNDS as BLENDER_BOUNDS
from .data import Views as Views
from .data import forward_facing_views as forward_facing_views
from .data import load_blender as load_blender
from .data import synthetic_views as synthetic_views
from .data import write_blender as write_blender
from .mpi import PlaneSet as PlaneSet
from .observation import Planes as Planes
from .observation import Quadrature as Quadrature
from .observation import Rendered as Rendered
from .occupancy import OccupancyGrid as OccupancyGrid
from .scene import Box as Box
from .scene import Capsule as Capsule
from .scene import Cylinder as Cylinder
from .scene import Light as Light
from .scene import Primitive as Primitive
from .scene import Scene as Scene
from .scene import Sphere as Sphere
from .scene import Torus as Torus
from .scene import default_scene as default_scene
from .volume import Rendering as Rendering
from .volume import Samples as Samples
from .volume import composite as composite
from .volume import composite_alpha as composite_alpha
from .volume import interval_lengths as interval_lengths
from .volume import ray_box as ray_box
from .volume import resample as resample
from .volume import sample_pdf as sample_pdf
from .volume import stratified as stratified
