r"""Symbols and operators of pinr's problem language, on top of sympy.

Fields are sympy undefined functions applied to the domain's coordinates, so ``lap(u)`` is the
sympy expression :math:`\partial_x^2 u(x, y) + \partial_y^2 u(x, y)` and every consumer (the
compiler, the finite-difference reference, the printers) reads the same object.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import sympy
from sympy.core.function import AppliedUndef, UndefinedFunction

__all__ = [
    "Coordinate", "TimeCoordinate", "NormalComponent", "Parameter", "FieldFunction",
    "DataFunction", "make_field", "dt", "D", "grad", "div", "lap", "dn", "norm", "dot",
    "field_applications", "spatial_coords_of", "time_coord_of", "normal_symbol", "as_expr",
]


class Coordinate(sympy.Symbol):
    """A spatial input coordinate of a domain (real)."""

    def __new__(cls, name: str):
        return super().__new__(cls, name, real=True)


class TimeCoordinate(Coordinate):
    """The time coordinate; it is always the last coordinate of a domain."""


class NormalComponent(sympy.Symbol):
    """Component ``n_x`` of the outward unit normal, supplied by boundary regions at sample points."""

    def __new__(cls, name: str):
        return super().__new__(cls, name, real=True)


def normal_symbol(coord: sympy.Symbol) -> NormalComponent:
    """The outward-normal component along ``coord``: ``n_x`` for ``x``."""
    return NormalComponent(f"n_{coord.name}")


class Parameter(sympy.Symbol):
    r"""A named scalar of a problem, e.g. a wave speed :math:`c`.

    ``Parameter("c", 1.0)`` behaves as the symbol ``c`` in expressions; its value is substituted
    when the problem is compiled and can be overridden with ``Problem(..., params={"c": 2.0})``.

    ``trainable=True`` makes it an unknown trained with the network (an inverse problem), starting
    at ``value``. ``positive=True`` keeps it positive through :math:`p = e^{\theta}`;
    ``bounds=(lo, hi)`` keeps it inside through :math:`p = lo + (hi - lo)\,\sigma(\theta)`;
    the optimiser moves the unconstrained :math:`\theta`.
    """

    value: float
    trainable: bool
    positive: bool
    bounds: tuple[float, float] | None

    def __new__(cls, name: str, value: float, *, trainable: bool = False, positive: bool = False,
                bounds: tuple[float, float] | None = None):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"Parameter name must be an identifier, got {name!r}")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"Parameter {name!r}: value must be a real number, got {value!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"Parameter {name!r}: value must be finite, got {value}")
        if bounds is not None:
            try:
                lo, hi = (float(b) for b in bounds)
            except (TypeError, ValueError):
                raise TypeError(f"Parameter {name!r}: bounds must be a (low, high) pair, got {bounds!r}") from None
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < value < hi):
                raise ValueError(f"Parameter {name!r}: bounds ({lo:g}, {hi:g}) must be finite and strictly "
                                 f"contain the value {value:g}")
            bounds = (lo, hi)
        if positive and not value > 0:
            raise ValueError(f"Parameter {name!r} is positive=True but its value is {value:g}; start it above 0")
        if (positive or bounds is not None) and not trainable:
            raise ValueError(f"Parameter {name!r}: positive= and bounds= constrain a trainable parameter; "
                             "pass trainable=True too")
        if positive and bounds is not None:
            raise ValueError(f"Parameter {name!r}: give positive=True or bounds=(lo, hi), not both")
        obj = sympy.Symbol.__xnew__(cls, name, real=True)  # uncached: the value belongs to this instance
        obj.value, obj.trainable, obj.positive, obj.bounds = value, bool(trainable), bool(positive), bounds
        return obj

    def _hashable_content(self):
        # value and role are part of the identity, so sympy's caches never swap two same-named parameters
        return super()._hashable_content() + (self.value, self.trainable, self.positive, self.bounds)

    def __getnewargs_ex__(self):
        return ((self.name, self.value), {"trainable": self.trainable, "positive": self.positive,
                                          "bounds": self.bounds})

    def fixed(self, value: float | None = None) -> "Parameter":
        """The same parameter as a constant (at ``value``, default its own)."""
        return Parameter(self.name, self.value if value is None else value)

    def with_value(self, value: float) -> "Parameter":
        """The same parameter (same role and constraints) at another ``value``."""
        return Parameter(self.name, value, trainable=self.trainable, positive=self.positive, bounds=self.bounds)


class FieldFunction(AppliedUndef):
    """Application of an unknown field component to coordinates, e.g. ``u(x, y, t)``."""

    field_name: str
    component: int
    n_components: int


class DataFunction(AppliedUndef):
    """Application of a data array (interpolated at sample points) to coordinates."""

    source: object


def make_field(name: str, coords: Sequence[sympy.Symbol], components: int | Sequence[str] = 1):
    """Unknown field ``name`` over ``coords``: a scalar expression, or a column ``sympy.Matrix``.

    ``components`` is a count (names ``u_0, u_1, ...``) or a sequence of suffixes
    (``("re", "im")`` gives ``u_re, u_im``).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"field name must be an identifier such as 'u', got {name!r}")
    if isinstance(components, int):
        if components < 1:
            raise ValueError(f"field {name!r}: components must be >= 1, got {components}")
        suffixes = None if components == 1 else [str(i) for i in range(components)]
    else:
        suffixes = [str(s) for s in components]
        if not suffixes or len(set(suffixes)) != len(suffixes):
            raise ValueError(f"field {name!r}: component names must be distinct and non-empty, got {components!r}")
    if suffixes is None:
        cls = UndefinedFunction(name, bases=(FieldFunction,),
                                __dict__={"field_name": name, "component": 0, "n_components": 1})
        return cls(*coords)
    apps = []
    for i, s in enumerate(suffixes):
        cls = UndefinedFunction(f"{name}_{s}", bases=(FieldFunction,),
                                __dict__={"field_name": name, "component": i, "n_components": len(suffixes)})
        apps.append(cls(*coords))
    return sympy.Matrix(apps)


def as_expr(value):
    """Convert numbers, lists and tuples to sympy objects (lists become column matrices)."""
    if isinstance(value, (list, tuple)):
        return sympy.Matrix([as_expr(v) for v in value])
    if isinstance(value, sympy.MatrixBase):
        return value
    return sympy.sympify(value, strict=True)


def field_applications(expr) -> set[FieldFunction]:
    """All unknown-field applications occurring in ``expr``."""
    expr = as_expr(expr)
    return {a for a in expr.atoms(AppliedUndef) if isinstance(a, FieldFunction)}


def _coords_of(expr) -> tuple[sympy.Symbol, ...]:
    apps = field_applications(expr)
    if not apps:
        raise ValueError(
            f"{expr} contains no unknown field; differential operators act on fields made by "
            "domain.field('u')")
    coords = next(iter(apps)).args
    for a in apps:
        if a.args != coords:
            raise ValueError(f"fields in {expr} are defined over different coordinates: {coords} vs {a.args}")
    return coords


def spatial_coords_of(expr) -> tuple[sympy.Symbol, ...]:
    """Spatial coordinates (time excluded) over which the fields in ``expr`` are defined."""
    return tuple(c for c in _coords_of(expr) if not isinstance(c, TimeCoordinate))


def time_coord_of(expr) -> TimeCoordinate:
    """The time coordinate of the fields in ``expr``; raises when the domain has no time axis."""
    times = [c for c in _coords_of(expr) if isinstance(c, TimeCoordinate)]
    if not times:
        raise ValueError(
            f"dt({expr}) needs a time axis, but the fields are defined over "
            f"{_coords_of(expr)} only; build the domain as space * pr.TimeInterval(t0, t1)")
    return times[0]


def _map(expr, fn):
    expr = as_expr(expr)
    if isinstance(expr, sympy.MatrixBase):
        return expr.applyfunc(fn)
    return fn(expr)


def dt(u, order: int = 1):
    r""":math:`\partial_t^{k} u` for ``order`` k >= 1 (elementwise on vectors).

    Every operator differentiates with :func:`sympy.diff`, so products with known functions
    expand by the product rule: ``D(a(x) * D(u, x), x)`` is :math:`a u_{xx} + a' u_x`.
    """
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"dt order must be a positive integer, got {order!r}")
    t = time_coord_of(u)
    return _map(u, lambda e: sympy.diff(e, (t, order)))


def D(u, *variables):
    r"""Partial derivative by the math: ``D(u, x)`` is :math:`u_x`, ``D(u, x, y)`` is :math:`u_{xy}`,
    ``D(u, (x, 2))`` is :math:`u_{xx}`."""
    if not variables:
        raise ValueError("D(u, ...) needs at least one coordinate, e.g. D(u, x)")
    coords = set(_coords_of(u))
    for v in variables:
        sym = v[0] if isinstance(v, tuple) else v
        if sym not in coords:
            raise ValueError(f"D: {sym} is not a coordinate of {u}; its coordinates are {sorted(map(str, coords))}")
    return _map(u, lambda e: sympy.diff(e, *variables))


def grad(u):
    r"""Spatial gradient :math:`\nabla u` of a scalar, as a column matrix (time excluded)."""
    u = as_expr(u)
    if isinstance(u, sympy.MatrixBase):
        raise ValueError("grad takes a scalar expression; use grad(u[i]) per component of a vector field")
    return sympy.Matrix([sympy.diff(u, c) for c in spatial_coords_of(u)])


def div(v):
    r"""Divergence :math:`\nabla\cdot v` of a vector with one entry per spatial coordinate."""
    v = as_expr(v)
    if not isinstance(v, sympy.MatrixBase):
        raise ValueError("div takes a vector, e.g. div(grad(u)) or div([a, b])")
    coords = spatial_coords_of(v)
    if len(v) != len(coords):
        raise ValueError(f"div: vector has {len(v)} entries but the domain has {len(coords)} spatial coordinates")
    return sympy.Add(*[sympy.diff(vi, c) for vi, c in zip(v, coords)])


def lap(u):
    r"""Spatial Laplacian :math:`\Delta u = \sum_i \partial_{x_i}^2 u` (elementwise on vectors)."""
    return _map(u, lambda e: sympy.Add(*[sympy.diff(e, (c, 2)) for c in spatial_coords_of(e)]))


def dn(u):
    r"""Outward normal derivative :math:`\partial_n u = n\cdot\nabla u`; only valid on boundary regions."""
    return _map(u, lambda e: sympy.Add(*[normal_symbol(c) * sympy.diff(e, c) for c in spatial_coords_of(e)]))


def dot(a, b):
    r"""Euclidean inner product :math:`a\cdot b` of two vectors of equal length."""
    a, b = as_expr(a), as_expr(b)
    if not (isinstance(a, sympy.MatrixBase) and isinstance(b, sympy.MatrixBase)) or len(a) != len(b):
        raise ValueError(f"dot takes two vectors of equal length, got {a} and {b}")
    return sympy.Add(*[ai * bi for ai, bi in zip(a, b)])


def norm(v):
    r"""Euclidean norm :math:`|v| = \sqrt{v\cdot v}` of a vector."""
    v = as_expr(v)
    if not isinstance(v, sympy.MatrixBase):
        return sympy.Abs(v)
    return sympy.sqrt(dot(v, v))


def flatten(expr) -> list:
    """Entries of a scalar or matrix expression, as a flat list."""
    expr = as_expr(expr)
    return list(expr) if isinstance(expr, sympy.MatrixBase) else [expr]


def iter_atoms(exprs: Iterable, kind) -> set:
    out = set()
    for e in exprs:
        out |= e.atoms(kind)
    return out
