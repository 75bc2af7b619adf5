"""pinr — physics-informed problems solved with implicit neural representations.

State a problem once in mathematics, train any registered INR backbone on it with exact
higher-order input derivatives, and check the answer against a finite-difference reference
lowered from the same statement.

Floor: the façade — re-exports the public surface of every floor below it; only the bench wing and
the cli are above."""

__version__ = "0.1.0"

from .symbolic import D as D
from .symbolic import Boundary as Boundary
from .symbolic import Condition as Condition
from .symbolic import Data as Data
from .symbolic import HelmholtzSource as HelmholtzSource
from .symbolic import WavePulse as WavePulse
from .symbolic import KnownField as KnownField
from .symbolic import known_apps as known_apps
from .symbolic import Eq as Eq
from .symbolic import Equation as Equation
from .symbolic import Initial as Initial
from .symbolic import Periodic as Periodic
from .symbolic import Observation as Observation
from .symbolic import Parameter as Parameter
from .symbolic import Problem as Problem
from .symbolic import div as div
from .symbolic import dn as dn
from .symbolic import dot as dot
from .symbolic import dt as dt
from .symbolic import grad as grad
from .symbolic import lap as lap
from .symbolic import norm as norm
from sympy import exp as exp, sin as sin, cos as cos, sqrt as sqrt, pi as pi, tanh as tanh, log as log

from .domains import Ball as Ball
from .domains import Box as Box
from .domains import Difference as Difference
from .domains import Disk as Disk
from .domains import Grid as Grid
from .domains import Intersection as Intersection
from .domains import Interval as Interval
from .domains import PointCloud as PointCloud
from .domains import Polygon as Polygon
from .domains import Rectangle as Rectangle
from .domains import TimeInterval as TimeInterval
from .domains import Torus as Torus
from .domains import Union as Union

from .backbones import available_backbones as available_backbones
from .backbones import build_backbone as build_backbone
from .backbones import register_backbone as register_backbone

from .case import Case as Case
from .collection import CodeConfig as CodeConfig
from .collection import Collection as Collection

from . import problems as problems  # noqa: E402  (pinr.problems, installed from problems/)
from .problems import available_problems as available_problems

from . import domains as domains
from . import geometry as geometry
from .geometry import TriangleMesh as TriangleMesh
from . import training as training
from . import metrics as metrics
from .api import compare as compare
from .api import reference as reference
from .api import solve as solve
from .sweep import sweep as sweep
from .solution import load as load
from .solution import AbstractSolution as AbstractSolution
