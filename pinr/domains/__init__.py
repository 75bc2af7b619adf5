"""Domains and regions (see :mod:`pinr.domains.base`).

Floor: domains (imports the symbolic expressions and the foundation only)."""

from .base import AbstractBoundary as AbstractBoundary
from .base import AbstractBoundaryPart as AbstractBoundaryPart
from .base import AbstractDomain as AbstractDomain
from .base import AbstractInitial as AbstractInitial
from .base import AbstractInterior as AbstractInterior
from .base import AbstractPatch as AbstractPatch
from .base import AbstractPointSet as AbstractPointSet
from .base import AbstractRegion as AbstractRegion
from .base import AbstractSurface as AbstractSurface
from .base import BoundaryWhere as BoundaryWhere
from .base import Samples as Samples
from .csg import AbstractSolid as AbstractSolid
from .csg import Difference as Difference
from .csg import Intersection as Intersection
from .csg import OperandPart as OperandPart
from .csg import Polygon as Polygon
from .csg import Union as Union
from .patches import ConePatch as ConePatch
from .patches import DiskPatch as DiskPatch
from .shapes import Ball as Ball
from .shapes import Box as Box
from .shapes import Disk as Disk
from .shapes import Grid as Grid
from .shapes import Interval as Interval
from .shapes import PointCloud as PointCloud
from .shapes import Rectangle as Rectangle
from .shapes import SpaceTime as SpaceTime
from .shapes import TimeInterval as TimeInterval
from .shapes import Torus as Torus
