"""Solvers: physics-informed training (:class:`PINNSolver`), finite-difference references
(:class:`FDSolver`) and the :class:`~pinr.solvers.solution.AbstractSolution` they return."""

from .conditioned import ConditionedSolution as ConditionedSolution
from .conditioned import ConditionedSolver as ConditionedSolver
from .fd import FDSolver as FDSolver
from .pinn import PINNSolver as PINNSolver
from .solution import AbstractSolution as AbstractSolution
from .solution import DenseSolution as DenseSolution
from .solution import ExactSolution as ExactSolution
from .solution import GridSolution as GridSolution
from .solution import NeuralSolution as NeuralSolution
from .solution import grid_of as grid_of
from .solution import load as load
