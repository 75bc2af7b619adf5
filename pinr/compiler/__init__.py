"""Problem → loss terms (see :mod:`pinr.compiler.compile`).

Floor: compiler (imports the statement and below)."""

from .compile import Atom as Atom
from .compile import Combo as Combo
from .compile import CompiledExpression as CompiledExpression
from .compile import CompiledObservation as CompiledObservation
from .compile import CompiledProblem as CompiledProblem
from .compile import CompiledTerm as CompiledTerm
from .compile import compile_expressions as compile_expressions
from .compile import compile_problem as compile_problem
