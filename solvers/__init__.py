"""Solvers: physics-informed training (:class:`PINNSolver`) and finite-difference references
(:class:`FDSolver`). Floor: solvers (above training; below cases and problems). The
:class:`~pinr.solution.AbstractSolution` they return lives in :mod:`pinr.solution`, a floor below
(re-exported here)."""

from pinr.solution import AbstractSolution as AbstractSolution
from pinr.solution import DenseSolution as DenseSolution
from pinr.solution import ExactSolution as ExactSolution
from pinr.solution import GridSolution as GridSolution
from pinr.solution import MarchedSolution as MarchedSolution
from pinr.solution import NeuralSolution as NeuralSolution
from pinr.solution import grid_of as grid_of
from pinr.solution import load as load

from .conditioned import ConditionedSolution as ConditionedSolution
from .conditioned import ConditionedSolver as ConditionedSolver
from .fd import FDSolver as FDSolver
from .marching import MarchingSolver as MarchingSolver
from .pinn import PINNSolver as PINNSolver
