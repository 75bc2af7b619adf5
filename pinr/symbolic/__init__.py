"""pinr's problem language (sympy underneath).

Floor: statement — the package holds two floors: expressions and printing at the bottom (above the
foundation), the statement (problem, parser, domain strings, data, hard conditions, problem files)
above the domains."""

from .data import Data as Data
from .expressions import D as D
from .expressions import Parameter as Parameter
from .expressions import div as div
from .expressions import dn as dn
from .expressions import dot as dot
from .expressions import dt as dt
from .expressions import grad as grad
from .expressions import lap as lap
from .expressions import norm as norm
from .known import HelmholtzSource as HelmholtzSource
from .known import KnownField as KnownField
from .known import WavePulse as WavePulse
from .known import known_apps as known_apps
from .problem import AbstractObservation as AbstractObservation
from .problem import Boundary as Boundary
from .problem import Condition as Condition
from .problem import Eq as Eq
from .problem import Equation as Equation
from .problem import Initial as Initial
from .problem import Observation as Observation
from .problem import Periodic as Periodic
from .problem import Problem as Problem
