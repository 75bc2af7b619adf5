r"""Shapes and signed distance fields: analytic shapes, triangle meshes and oriented point
clouds in; exact signed distances, shape metrics, meshes and pictures out.

Everything works in the normalised box :math:`[-1, 1]^d`; each shape carries the
:class:`~pinr.domains.Normalization` back to its input's units. A shape is a solid domain
(:class:`pinr.domains.AbstractSolid`): the analytic ones and their set operations are
``pinr.Disk``, ``pinr.Rectangle``, ``pinr.Polygon``, ``pinr.Ball``, ``pinr.Box``,
``pinr.Torus`` with ``| & -``; this module adds triangle meshes and oriented point clouds,
their I/O, the built-in shapes, metrics, marching cubes and plots. Import as a namespace,
``from pinr import geometry as geo``.

Floor: geometry, beside backbones and render (imports derivatives and below; a solution is taken
as a callable of points)."""

from ..domains.frame import Normalization as Normalization
from .export import occupancy_metrics as occupancy_metrics
from .export import write_occupancy_outputs as write_occupancy_outputs
from .export import write_sdf_outputs as write_sdf_outputs
from .io import ShapeFileError as ShapeFileError
from .io import load_shape as load_shape
from .io import read_mesh as read_mesh
from .io import read_point_cloud as read_point_cloud
from .io import write_mesh as write_mesh
from .marching import contours as contours
from .marching import evaluate_grid as evaluate_grid
from .marching import marching_cubes as marching_cubes
from .mesh import MeshWarning as MeshWarning
from .mesh import TriangleMesh as TriangleMesh
from .metrics import chamfer as chamfer
from .metrics import eikonal_residual as eikonal_residual
from .metrics import hausdorff as hausdorff
from .metrics import iou as iou
from .metrics import normal_consistency as normal_consistency
from .metrics import shape_metrics as shape_metrics
from .plots import plot_level_sets as plot_level_sets
from .plots import plot_occupancy as plot_occupancy
from .plots import plot_slices as plot_slices
from .plots import render_mesh as render_mesh
from .pointcloud import OrientedPointCloud as OrientedPointCloud
from .regions import NearSurfaceRegion as NearSurfaceRegion
from .regions import SurfaceRegion as SurfaceRegion
from .regions import signed_distance_data as signed_distance_data
from .shapes import available_shapes as available_shapes
from .shapes import builtin_shape as builtin_shape
