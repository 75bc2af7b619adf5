r"""Equations, conditions on regions, and the frozen, validated :class:`Problem`.
Floor: statement (above the expressions and domains it is written with; its string form is read by
:mod:`pinr.symbolic.parser`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np
import sympy
from sympy.core.function import AppliedUndef

from ..domains.base import AbstractDomain, AbstractRegion
from ..errors import ProblemError
from . import expressions as ex
from .data import DataSource
from .domain_strings import parse_domain
from .expressions import DataFunction, FieldFunction, NormalComponent, Parameter
from .hard import hard_transforms
from .known import known_field_of
from .parser import exact_from_strings, located, namespace, parse_expression, shorten
from .printing import to_latex, to_text

__all__ = ["Eq", "Equation", "Condition", "Initial", "Boundary", "Periodic", "AbstractObservation", "Observation",
           "Problem", "REDUCTIONS", "SIDED_REDUCTIONS", "MAX_DERIVATIVE_ORDER", "resolve_region"]

REDUCTIONS = {"mse": "mse", "mean_square": "mse", "mae": "mae", "mean_abs": "mae", "sse": "sse", "sum": "sse",
              "bce": "bce", "binary_cross_entropy": "bce"}

#: reductions that compare the two sides of the equation (a logit and a label), not their difference
SIDED_REDUCTIONS = frozenset({"bce"})

#: the highest total order of a derivative of a field: the order the ``func`` engine computes (4,
#: enough for a biharmonic :math:`\Delta^2 u`); higher orders grow the cost of a step
#: combinatorially (``lap(lap(lap(lap(u))))``, order 8, took 24 s and 6 GB per step)
MAX_DERIVATIVE_ORDER = 4


class Equation:
    r"""``lhs = rhs`` between scalars or equally long vectors; residuals are ``lhs - rhs`` entries,
    ``sides`` the ``(lhs_k, rhs_k)`` pairs (what a sided reduction such as "bce" reads)."""

    __slots__ = ("lhs", "rhs", "residuals", "sides")

    def __init__(self, lhs, rhs=0):
        lhs, rhs = ex.as_expr(lhs), ex.as_expr(rhs)
        lv, rv = ex.flatten(lhs), ex.flatten(rhs)
        if len(rv) == 1 and len(lv) > 1 and not isinstance(rhs, sympy.MatrixBase):
            rv = rv * len(lv)
        if len(lv) != len(rv):
            raise ValueError(f"Eq: left side has {len(lv)} entries but right side has {len(rv)}: {lhs} = {rhs}")
        object.__setattr__(self, "lhs", lhs)
        object.__setattr__(self, "rhs", rhs)
        object.__setattr__(self, "residuals", tuple(sympy.sympify(a - b) for a, b in zip(lv, rv)))
        object.__setattr__(self, "sides", tuple((sympy.sympify(a), sympy.sympify(b)) for a, b in zip(lv, rv)))

    def __setattr__(self, *_):
        raise AttributeError("Equation is immutable")

    def __str__(self):
        return f"{to_text(self.lhs)} = {to_text(self.rhs)}"

    __repr__ = __str__

    def latex(self) -> str:
        return f"{to_latex(self.lhs)} = {to_latex(self.rhs)}"


def Eq(lhs, rhs=0) -> Equation:
    r"""The equation ``lhs = rhs`` (vectors allowed: one residual per entry)."""
    return Equation(lhs, rhs)


class Condition:
    r"""Equation ``eq`` required on ``region`` with loss weight ``weight``.

    ``on`` is a region object, or one of the strings ``"interior"``, ``"boundary"``,
    ``"initial"``, a side such as ``"x-"``; strings are resolved against the problem's domain.
    ``batch`` points are drawn per step (default: the solver's), by ``method`` ("uniform",
    "sobol", "grid"); ``reduction`` is "mse" (default), "mae" or "sse" (sum of squares) of the
    residuals ``lhs - rhs``, or "bce": binary cross-entropy of a logit ``lhs`` against a label
    ``rhs`` in [0, 1], :math:`\frac1N\sum_i \operatorname{softplus}(u_i) - o_i u_i` (classification, e.g.
    occupancy; the equation then reads "u classifies as o", and no FD reference solves it).
    ``hard=True`` imposes a value condition (``u = g`` on a boundary, its sides, or the initial
    slice) exactly instead of as a loss term: the network :math:`N` is trained in
    :math:`u = g + \phi N` with :math:`\phi` the region's distance function (``domain.adf()``,
    :math:`t - t_0` for the initial slice), as Sukumar & Srivastava 2022.
    """

    __slots__ = ("eq", "on", "weight", "name", "batch", "method", "reduction", "hard")

    def __init__(self, eq: Equation, *, on, weight: float = 1.0, name: str | None = None,
                 batch: int | None = None, method: str | None = None, reduction: str = "mse", hard: bool = False):
        if not isinstance(eq, Equation):
            raise TypeError(f"Condition takes an equation made with pr.Eq(lhs, rhs), got {type(eq).__name__}: {eq!r}")
        weight = float(weight)
        if not weight >= 0:
            raise ValueError(f"Condition weight must be >= 0, got {weight}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {reduction!r}; choose one of {sorted(set(REDUCTIONS))}")
        if batch is not None and (not isinstance(batch, int) or batch < 1):
            raise ValueError(f"Condition batch must be a positive integer, got {batch!r}")
        if not isinstance(hard, bool):
            raise TypeError(f"Condition hard must be True or False, got {hard!r}")
        if hard and REDUCTIONS[reduction] in SIDED_REDUCTIONS:
            raise ValueError(f"Condition reduction {reduction!r} classifies; it cannot be imposed hard=True")
        for k, v in dict(eq=eq, on=on, weight=weight, name=name, batch=batch, method=method,
                         reduction=REDUCTIONS[reduction], hard=hard).items():
            object.__setattr__(self, k, v)

    def __setattr__(self, *_):
        raise AttributeError("Condition is immutable")

    @property
    def sided(self) -> bool:
        """Whether the reduction reads the two sides of the equation (``eq.sides``) instead of ``eq.residuals``."""
        return self.reduction in SIDED_REDUCTIONS

    def replace(self, **changes) -> "Condition":
        kw = {k: getattr(self, k) for k in self.__slots__ if k != "eq"}
        kw.update(changes)
        return Condition(changes.get("eq", self.eq), **{k: v for k, v in kw.items() if k != "eq"})

    def __repr__(self):
        return f"Condition({self.eq}, on={self.on!r}, " + ("hard)" if self.hard else f"weight={self.weight:g})")


def Initial(eq: Equation, **options) -> Condition:
    """Condition at the initial time (``on="initial"``)."""
    return Condition(eq, on="initial", **options)


def Boundary(eq: Equation, on=None, **options) -> Condition:
    """Condition on the boundary, or on one side (``on="x-"``) or boundary region."""
    return Condition(eq, on="boundary" if on is None else on, **options)


class Periodic:
    r"""The solution is periodic in coordinate ``coord`` (a coordinate symbol or its name) over
    the domain's extent :math:`[a, b]` in it: :math:`u(\dots, a, \dots) = u(\dots, b, \dots)`
    with every derivative. Listed among a problem's conditions, it is not a loss term: the PINN
    solver makes the network periodic by construction (it sees :math:`\cos\theta, \sin\theta`
    with :math:`\theta = 2\pi(x - a)/(b - a)` instead of :math:`x`;
    :class:`~pinr.backbones.Network`), so no condition on those sides is needed."""

    __slots__ = ("coord",)

    def __init__(self, coord):
        name = coord.name if isinstance(coord, sympy.Symbol) else coord
        if not isinstance(name, str) or not name:
            raise TypeError(f"Periodic takes a coordinate symbol or its name, e.g. pr.Periodic('x'), got {coord!r}")
        object.__setattr__(self, "coord", name)

    def __setattr__(self, *_):
        raise AttributeError("Periodic is immutable")

    def __eq__(self, other):
        return isinstance(other, Periodic) and other.coord == self.coord

    def __hash__(self):
        return hash(("Periodic", self.coord))

    def __repr__(self):
        return f"Periodic({self.coord!r})"


class AbstractObservation:
    r"""Data a problem's fields must reproduce through a measurement operator: values at points
    (:class:`Observation`), pixels rendered along rays (:class:`pinr.render.Rendered`), ...

    A concrete observation declares ``name``, ``weight``, ``batch`` (measurements per step, or
    ``None``) and ``exprs`` (the expressions of the fields it reads, so the problem knows its
    unknowns), and implements ``replace``, ``substitute`` (fixed values for trainable
    parameters), ``check`` (against the problem's domain and fields), ``describe`` (one line)
    and ``__len__`` (the number of measurements). The trainer turns each kind into its own
    loss term; the problem never learns what an observation computes."""

    name: str | None
    weight: float
    batch: int | None
    exprs: tuple

    def replace(self, **changes) -> "AbstractObservation":
        raise NotImplementedError

    def substitute(self, swap: Mapping) -> "AbstractObservation":
        """A copy with the symbols in ``swap`` replaced in its expressions (default: itself)."""
        return self

    def check(self, problem: "Problem") -> None:
        """Raise :class:`~pinr.errors.ProblemError` naming the culprit if this observation does
        not fit ``problem`` (default: its expressions are valid expressions of the fields)."""
        for e in self.exprs:
            problem._validate_expression(f"observation '{self.name}'", e, e)

    def describe(self) -> str:
        return f"{self!r}"

    def __len__(self) -> int:
        raise NotImplementedError


class Observation(AbstractObservation):
    r"""Measurements ``values`` of ``expr`` — any expression of the fields, e.g. ``u``,
    ``grad(u)`` or ``dt(u)`` — at ``points``: the data term

    .. math:: \mathcal L = \frac{w}{N}\sum_i \big\|(e(x_i) - v_i)/\sigma_i\big\|^2 .

    ``points`` is an ``(N, dim)`` array in the domain's coordinates (time last), ``values``
    ``(N,)`` or ``(N, C)`` for an expression of ``C`` entries. ``noise`` (optional: a number, or
    one per point ``(N,)`` or per value ``(N, C)``) is the measurement's standard deviation
    :math:`\sigma`; residuals are divided by it, so the term is the reduced :math:`\chi^2` of
    the fit (about 1 when the fit is at the noise level). ``batch`` measurements are drawn per step
    (default: all of them, or the solver's batch when there are more).
    """

    __slots__ = ("expr", "exprs", "points", "values", "weight", "noise", "name", "batch")

    def __init__(self, expr, *, points, values, weight: float = 1.0, noise=None, name: str | None = None,
                 batch: int | None = None):
        exprs = tuple(sympy.sympify(e) for e in ex.flatten(ex.as_expr(expr)))
        pts = _array(points, "points")
        if pts.ndim == 1:
            pts = pts[:, None]
        if pts.ndim != 2 or pts.shape[0] == 0:
            raise ValueError(f"Observation of {expr}: points must be an (N, dim) array with N >= 1, "
                             f"got shape {pts.shape}")
        vals = _array(values, "values")
        if vals.ndim == 1:
            vals = vals[:, None]
        if vals.shape != (pts.shape[0], len(exprs)):
            raise ValueError(f"Observation of {expr}: values of shape {np.shape(values)} do not match {pts.shape[0]} "
                             f"points and {len(exprs)} observed entr{'y' if len(exprs) == 1 else 'ies'}; "
                             f"give values of shape ({pts.shape[0]},{'' if len(exprs) == 1 else f' {len(exprs)}'})")
        for what, a in (("points", pts), ("values", vals)):
            bad = ~np.isfinite(a).all(axis=1)
            if bad.any():
                raise ValueError(f"Observation of {expr}: {int(bad.sum())} of the {what} are NaN or infinite (first at "
                                 f"row {int(np.argmax(bad))}); drop those measurements")
        if noise is not None:
            sigma = np.asarray(_array(noise, "noise"), dtype=np.float64)
            if sigma.ndim == 1 and sigma.shape[0] == pts.shape[0] and sigma.shape[0] != 1:
                sigma = sigma[:, None]
            try:
                sigma = np.broadcast_to(sigma, vals.shape).copy()
            except ValueError:
                raise ValueError(f"Observation of {expr}: noise of shape {np.shape(noise)} fits neither one number, "
                                 f"one per point ({pts.shape[0]},) nor one per value {vals.shape}") from None
            if not (np.isfinite(sigma).all() and (sigma > 0).all()):
                raise ValueError(f"Observation of {expr}: noise is the measurements' standard deviation and must be "
                                 "positive and finite")
            sigma.setflags(write=False)
            noise = sigma
        weight = float(weight)
        if not weight >= 0:
            raise ValueError(f"Observation weight must be >= 0, got {weight}")
        if batch is not None and (not isinstance(batch, int) or batch < 1):
            raise ValueError(f"Observation batch must be a positive integer, got {batch!r}")
        pts.setflags(write=False)
        vals.setflags(write=False)
        for k, v in dict(expr=expr, exprs=exprs, points=pts, values=vals, weight=weight, noise=noise, name=name,
                         batch=batch).items():
            object.__setattr__(self, k, v)

    def __setattr__(self, *_):
        raise AttributeError("Observation is immutable")

    def replace(self, **changes) -> "Observation":
        kw = {k: getattr(self, k) for k in ("points", "values", "weight", "noise", "name", "batch")}
        kw.update(changes)
        return Observation(changes.get("expr", self.expr), **{k: v for k, v in kw.items() if k != "expr"})

    def __len__(self) -> int:
        return self.points.shape[0]

    def substitute(self, swap):
        return self.replace(expr=ex.as_expr(self.expr).xreplace(swap))

    def check(self, problem):
        domain = problem.domain
        if self.points.shape[1] != domain.dim:
            raise ProblemError(f"observation '{self.name}': points have {self.points.shape[1]} columns but the domain "
                               f"has {domain.dim} coordinates {tuple(str(c) for c in domain.coords)}")
        inside = domain.contains(self.points)
        if not inside.all():
            k = int(np.argmin(inside))
            raise ProblemError(f"observation '{self.name}': {int((~inside).sum())} of {len(self)} points lie outside "
                               f"{domain!r} (first: row {k}, {self.points[k].tolist()}); drop them or enlarge "
                               "the domain")
        super().check(problem)

    def describe(self):
        return f"{self.expr} observed at {len(self)} points   (weight {self.weight:g})"

    def __repr__(self):
        return f"Observation({self.expr}, {len(self)} points, weight={self.weight:g})"


def _vanishes(r) -> bool:
    r"""Whether residual ``r`` is identically zero, whatever the unknowns: with every field value
    and derivative replaced by a symbol :math:`a_k`, both :math:`r` and each
    :math:`\partial r / \partial a_k` vanish at three random points (numbers, never ``simplify``,
    which can take minutes on a power such as :math:`(x + y + 1)^{64}`)."""
    if r == 0:
        return True
    unknowns = {d: sympy.Dummy() for d in r.atoms(sympy.Derivative)}
    r = r.xreplace(unknowns)
    more = {a: sympy.Dummy() for a in r.atoms(AppliedUndef) if isinstance(a, FieldFunction)}
    r = r.xreplace(more)
    checks = [r] + [sympy.diff(r, s) for s in [*unknowns.values(), *more.values()]]
    rng = np.random.default_rng(0)
    symbols = sorted(r.free_symbols, key=str)
    for _ in range(3):
        point = {s: sympy.Float(v, 40) for s, v in zip(symbols, rng.uniform(0.3, 0.9, len(symbols)))}
        for e in checks:
            try:
                value = complex(e.xreplace(point).evalf(30))
            except (TypeError, ValueError):  # data functions and the like: not a number here
                return False
            if abs(value) > 1e-20:
                return False
    return True


def _array(value, what: str) -> np.ndarray:
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"Observation {what} must be a numeric array, got {type(value).__name__}") from None


def resolve_region(domain, on):
    """The region ``on`` names on ``domain`` (``"interior"``, ``"boundary"``, ``"initial"``, a side such
    as ``"x-"`` or ``"boundary['x-']"``); a region object passes unchanged."""
    if not isinstance(on, str):
        return on
    if on in ("interior", "boundary", "initial"):
        return getattr(domain, on)
    if on.startswith("boundary[") and on.endswith("]"):
        on = on[len("boundary["):-1].strip("'\"")
    return domain.boundary[on]


# ------------------------------------------------------------------ the parts of Problem.__init__
def _periodic(conditions, names: list[str]) -> list[Periodic]:
    """The :class:`Periodic` entries of ``conditions`` (each once), each on a coordinate in ``names``."""
    periodic = []
    for c in conditions:
        if isinstance(c, Periodic):
            if c.coord not in names:
                raise ProblemError(f"{c!r}: the domain's coordinates are {names}; name one of them")
            if c not in periodic:
                periodic.append(c)
    return periodic


def _equations_as_conditions(domain, equations) -> list[Condition]:
    """Each equation as a condition on ``domain.interior``, named ``pde`` (or ``pde0``, ``pde1``, …)."""
    conds = []
    for i, eq in enumerate(equations):
        if not isinstance(eq, Equation):
            raise TypeError(f"equations[{i}] must be made with pr.Eq(lhs, rhs), got {type(eq).__name__}: {eq!r}")
        conds.append(Condition(eq, on=domain.interior, name="pde" if len(equations) == 1 else f"pde{i}"))
    return conds


def _placed(domain, conditions) -> list[Condition]:
    """The conditions other than :class:`Periodic`, each on its region of ``domain`` (a name such
    as ``"boundary"`` resolved) and named by it unless named already."""
    conds = []
    for i, c in enumerate(c for c in conditions if not isinstance(c, Periodic)):
        if not isinstance(c, Condition):
            raise TypeError(f"conditions[{i}] must be a pr.Condition (or pr.Initial / pr.Boundary / pr.Periodic), "
                            f"got {type(c).__name__}")
        try:
            region = resolve_region(domain, c.on)
        except (KeyError, ValueError) as err:
            raise ProblemError(f"condition {c.eq}: cannot place it on {c.on!r}: {err}") from None
        term = c.name or (region.name if isinstance(c.on, str) else getattr(region, "name", f"cond{i}"))
        conds.append(c.replace(on=region, name=term))
    return conds


def _named_observations(observations) -> list[AbstractObservation]:
    obs = []
    for i, o in enumerate(observations):
        if not isinstance(o, AbstractObservation):
            raise TypeError(f"observations[{i}] must be a pr.Observation (or another observation such as "
                            f"pr.render.Rendered), got {type(o).__name__}")
        obs.append(o if o.name else o.replace(name="data"))
    return obs


def _unique_names(conds: list, obs: list) -> tuple[list, list]:
    """Conditions and observations renamed so that every term name is unique (``data``, ``data1``, …)."""
    seen: dict[str, int] = {}

    def unique(n):
        if n in seen:
            seen[n] += 1
            return f"{n}{seen[n]}"
        seen[n] = 0
        return n

    conds = [c.replace(name=unique(c.name)) for c in conds]
    return conds, [o.replace(name=unique(o.name)) for o in obs]


def _parameter_values(exprs, params: Mapping[str, float] | None) -> tuple[dict, dict]:
    """``(values, trainable)`` of the parameters in ``exprs``: name → value (``params`` overriding
    them by name) and name → the trainable :class:`Parameter` at its value."""
    parameters: dict[str, Parameter] = {}
    for p in ex.iter_atoms(exprs, Parameter):
        if p.name in parameters and parameters[p.name] != p:
            q = parameters[p.name]
            raise ProblemError(f"two parameters are named {p.name!r} with different values or roles "
                               f"({q.value}{' trainable' if q.trainable else ''} and {p.value}"
                               f"{' trainable' if p.trainable else ''}); rename one")
        parameters[p.name] = p
    values = {k: p.value for k, p in sorted(parameters.items())}
    for k, v in (params or {}).items():
        if k not in values:
            raise ProblemError(f"params: {k!r} is not a parameter of this problem; "
                               f"its parameters are {sorted(values) or 'none'}")
        values[k] = float(v)
    trainable = {k: p.with_value(values[k]) for k, p in sorted(parameters.items()) if p.trainable}
    return values, trainable


def _refuse_trivial(conds) -> None:
    for c in conds:
        for r in c.eq.residuals:
            if _vanishes(r):
                raise ProblemError(f"condition '{c.name}': {c.eq} is trivially true (its residual is 0); "
                                   "state an equation that constrains the unknowns")


def _unknown_fields(exprs) -> list:
    """The unknown fields' applications in ``exprs``, one per component, ordered by field and component."""
    fields: dict[str, FieldFunction] = {}
    for e in exprs:
        for a in e.atoms(AppliedUndef):
            if isinstance(a, FieldFunction):
                fields.setdefault(a.func.__name__, a)
    if not fields:
        raise ProblemError("the problem has no unknown field; make one with domain.field('u') and use it")
    return sorted(fields.values(), key=lambda a: (a.func.field_name, a.func.component))


class Problem:
    r"""A physics-informed problem: a domain, unknown fields, equations and conditions on regions,
    and observations (measured data).

    Frozen and validated on construction. ``equations`` hold on ``domain.interior``;
    ``conditions`` are :class:`Condition` objects; ``observations`` are :class:`Observation`
    objects. ``params`` overrides :class:`Parameter` values by name (the starting value of a
    trainable one). ``exact`` optionally gives the true solution per field component (sympy
    expressions of the coordinates or ``pr.Data``), used as the reference; ``align`` says how
    solutions are compared when the answer is defined only up to a constant ("constant") or an
    affine map ("affine"); ``image`` marks fields that are pictures (plotted and scored as images);
    ``known`` (field name → expression of known parts, :mod:`pinr.symbolic.known`) writes those fields
    as a known function plus the network's output, substituted into every residual (a point source's
    singular part, subtracted).
    Training settings are not part of a problem: pass them to ``pr.solve``, or find them with a
    catalogue entry (:class:`pinr.Case`).
    """

    def __init__(self, domain, equations: Sequence[Equation] = (), conditions: Sequence[Condition] = (), *,
                 observations: Sequence[Observation] = (), params: Mapping[str, float] | None = None, exact=None,
                 align: str | None = None, name: str = "problem", description: str = "", image: bool = False,
                 known: Mapping | None = None):
        if not isinstance(domain, AbstractDomain):
            raise TypeError("Problem: first argument must be a pr domain (Rectangle, Grid, ...), "
                            f"got {type(domain).__name__}")
        if isinstance(equations, Equation):
            equations = [equations]
        if isinstance(conditions, Condition):
            conditions = [conditions]
        if isinstance(observations, AbstractObservation):
            observations = [observations]
        names = [c.name for c in domain.coords]
        periodic = _periodic(conditions, names)
        conds = _equations_as_conditions(domain, equations) + _placed(domain, conditions)
        obs = _named_observations(observations)
        if not conds and not obs:
            raise ProblemError("Problem has no equations, conditions or observations; give at least one pr.Eq")
        conds, obs = _unique_names(conds, obs)

        self._set("domain", domain)
        self._set("conditions", tuple(conds))
        self._set("periodic", tuple(sorted(periodic, key=lambda p: names.index(p.coord))))
        self._set("equations", tuple(c.eq for c in conds[:len(equations)]))
        self._set("observations", tuple(obs))
        self._set("name", str(name))
        self._set("description", str(description))
        self._set("image", bool(image))
        if align not in (None, "constant", "affine"):
            raise ValueError(f"align must be None, 'constant' or 'affine', got {align!r}")
        self._set("align", align)

        exprs = [r for c in conds for r in c.eq.residuals] + [e for o in obs for e in o.exprs]
        values, trainable = _parameter_values(exprs, params)
        self._set("params", MappingProxyType(values))
        self._set("trainable", MappingProxyType(trainable))
        _refuse_trivial(conds)
        ordered = _unknown_fields(exprs)
        self._set("fields", tuple(a.func.__name__ for a in ordered))
        self._set("field_apps", tuple(ordered))
        for c in conds:
            self._validate_condition(c)
        for o in obs:
            o.check(self)
        self._set("exact", self._validate_exact(exact))
        #: field name → known part (:mod:`pinr.symbolic.known`): the field is it plus the network's output
        self._set("known", MappingProxyType(self._validate_known(known)))
        hard = hard_transforms(self, conds)
        both = sorted(set(hard) & set(self.known))
        if both:
            raise ProblemError(f"field {both[0]} has a known part and a hard condition; make the condition soft "
                               "(hard=False)")
        #: field name → (G, φ) of the hard conditions and known parts: the field is G + φ·(network output)
        self._set("hard", MappingProxyType({**hard, **{k: (v, sympy.Integer(1)) for k, v in self.known.items()}}))

    # ------------------------------------------------------------------ validation helpers
    def _set(self, k, v):
        object.__setattr__(self, k, v)

    def __setattr__(self, *_):
        raise AttributeError("Problem is frozen; build a new one (e.g. with problem.with_params(...))")

    def _validate_condition(self, c: Condition):
        region = c.on
        if not isinstance(region, AbstractRegion):
            raise ProblemError(f"condition {c.eq}: `on` must be a region such as domain.boundary, got {region!r}")
        if region.domain != self.domain:
            if self.domain.has_operand(region.domain):
                raise ProblemError(f"condition {c.eq} is placed on {region!r}, a region of an operand of the domain; "
                                   "for the part of the domain's boundary on that operand B use domain.boundary[B]")
            raise ProblemError(f"condition {c.eq} is placed on {region!r}, a region of another domain; "
                               f"use a region of this problem's domain {self.domain!r}")
        for r in c.eq.residuals:
            self._validate_expression(f"condition '{c.name}'", c.eq, r, region=region)

    def _validate_expression(self, label: str, text, r, *, region=None):
        """Check one residual (or observed expression) ``r`` of ``text``: it involves a field of
        this domain, known functions and declared symbols, derivatives act on fields along
        coordinates, data cover the domain; normals only on a ``region`` that has them (an
        observation has no region)."""
        coords = set(self.domain.coords)
        apps = set(r.atoms(AppliedUndef))
        if not any(isinstance(a, FieldFunction) for a in apps):
            raise ProblemError(f"{label}: {text} involves no unknown field; "
                               f"write it in terms of the fields {list(self.fields)}")
        for a in apps:
            if isinstance(a, FieldFunction) and tuple(a.args) != tuple(self.domain.coords):
                raise ProblemError(f"field {a} is defined over {a.args} but the domain's coordinates are "
                                   f"{self.domain.coords}; make fields with this domain's .field()")
            if isinstance(a, DataFunction) and not set(a.args) <= coords:
                raise ProblemError(f"data {a.func.__name__} lives on coordinates {a.args} not all in the domain's "
                                   f"{self.domain.coords}")
            if isinstance(a, DataFunction) and isinstance(a.source, DataSource) \
                    and not a.source.covers(zip(self.domain.coords, self.domain.bounds)):
                extent = ", ".join(f"{s} in [{lo:g}, {hi:g}]" for s, (lo, hi) in
                                   zip(self.domain.coords, self.domain.bounds) if s in a.args)
                raise ProblemError(f"{label}: data {a.source.name} covers {a.source.extent_text()} "
                                   f"but the domain spans {extent}, where it would be clamped to its edge "
                                   "values; build its pr.Grid over the domain's extent")
            if not isinstance(a, (FieldFunction, DataFunction)):
                raise ProblemError(f"{label}: unknown function {a.func.__name__!r} in {text}; "
                                   "unknowns come from domain.field(), data from pr.Data()")
        for d in r.atoms(sympy.Derivative):
            if isinstance(d.expr, DataFunction):
                raise ProblemError(f"{label}: derivative of data {d.expr.func.__name__} is not "
                                   "supported; differentiate the array yourself and pass it as pr.Data")
            if not isinstance(d.expr, FieldFunction):
                raise ProblemError(f"{label}: {d} differentiates an expression; "
                                   "expand it so derivatives act on fields directly")
            for v, _ in d.variable_count:
                if v not in coords:
                    raise ProblemError(f"{label}: derivative by {v}, which is not a coordinate "
                                       f"of the domain {self.domain.coords}")
        top = max(r.atoms(sympy.Derivative), key=lambda d: d.derivative_count, default=None)
        if top is not None and top.derivative_count > MAX_DERIVATIVE_ORDER:
            raise ProblemError(f"{label}: {shorten(str(text))} needs the derivative {to_text(top)} of order "
                               f"{top.derivative_count}; pinr computes orders up to {MAX_DERIVATIVE_ORDER}: "
                               "introduce an auxiliary field (e.g. v = lap(u)) and state a system of lower order")
        for s in r.free_symbols:
            if s in coords or isinstance(s, Parameter):
                continue
            if isinstance(s, NormalComponent) and region is None:
                raise ProblemError(f"{label} uses the normal {s}; measurement points carry no normals — "
                                   "observe grad(u) and dot it with known normals yourself")
            if isinstance(s, NormalComponent):
                if not region.has_normals:
                    raise ProblemError(f"{label} uses the normal {s} (via dn) on {region!r}, "
                                       "which has no normals; put it on a boundary region")
                continue
            raise ProblemError(f"{label}: {text} uses the undeclared symbol {s}; declare it as "
                               f"pr.Parameter('{s}', value) or use a coordinate of the domain "
                               f"{tuple(str(c) for c in self.domain.coords)}")

    def _validate_exact(self, exact):
        if exact is None:
            return None
        if not isinstance(exact, Mapping):
            items = ex.flatten(exact)
            if len(items) != len(self.fields):
                raise ProblemError(f"exact has {len(items)} entries but the problem has fields {list(self.fields)}")
            exact = dict(zip(self.fields, items))
        out = {}
        coords = set(self.domain.coords)
        for k, v in exact.items():
            if k not in self.fields:
                raise ProblemError(f"exact: {k!r} is not a field; fields are {list(self.fields)}")
            v = sympy.sympify(v)
            for s in v.free_symbols:
                if s not in coords and not isinstance(s, Parameter):
                    raise ProblemError(f"exact solution for {k} uses the undeclared symbol {s}")
                if isinstance(s, Parameter) and s.trainable:
                    raise ProblemError(f"exact solution for {k} uses the trainable parameter {s}, whose value is "
                                       f"unknown; write the exact solution with the true value as a number")
            out[k] = v
        missing = set(self.fields) - set(out)
        if missing:
            raise ProblemError(f"exact is missing fields {sorted(missing)}")
        return MappingProxyType(out)

    def _validate_known(self, known) -> dict:
        if not known:
            return {}
        if not isinstance(known, Mapping):
            raise ProblemError("known must map field names to known parts, e.g. {'u_re': K[0], 'u_im': K[1]} "
                               "from pr.known_apps")
        out = {}
        for k, v in known.items():
            if k not in self.fields:
                raise ProblemError(f"known: {k!r} is not a field; fields are {list(self.fields)}")
            v = sympy.sympify(v)
            if known_field_of(v) is None or any(v.func.known_orders):
                raise ProblemError(f"known part of {k}: {v} is not a known field's channel; build known parts with "
                                   "pr.known_apps(...) and give one channel per field")
            if tuple(v.args) != tuple(self.domain.coords):
                raise ProblemError(f"known part of {k} is a function of {v.args}, the domain's coordinates are "
                                   f"{self.domain.coords}; build it with pr.known_apps(field, domain.coords)")
            out[k] = v
        return out

    def describe_known(self) -> str:
        """One line per field with a known part: what it is."""
        fields = {}
        for k, v in self.known.items():
            fields.setdefault(known_field_of(v).describe(), []).append(k)
        return "; ".join(f"{', '.join(names)} = {what} + network" for what, names in fields.items())

    # ---------------------------------------------------------------------------- views
    @property
    def n_outputs(self) -> int:
        return len(self.fields)

    @property
    def coords(self):
        return self.domain.coords

    @property
    def periodic_axes(self) -> tuple[int, ...]:
        """Indices of the coordinates the solution is periodic in (:class:`Periodic`)."""
        names = [c.name for c in self.domain.coords]
        return tuple(names.index(p.coord) for p in self.periodic)

    def replace(self, **changes) -> "Problem":
        """A copy with constructor arguments changed (``conditions``, ``observations``, ``params``,
        ``name``, ...), validated like a new problem. The equations become conditions of the copy."""
        kw = dict(conditions=self.conditions, observations=self.observations, params=self.params, exact=self.exact,
                  align=self.align, name=self.name, description=self.description, image=self.image,
                  known=self.known)
        unknown = set(changes) - set(kw)
        if unknown:
            raise TypeError(f"Problem.replace: unknown fields {sorted(unknown)}; valid: {sorted(kw)}")
        kw.update(changes)
        conds = list(kw.pop("conditions"))
        periodic = [*self.periodic, *(c for c in conds if isinstance(c, Periodic))]  # periodicity is kept
        conds = [c for c in conds if not isinstance(c, Periodic)]
        n = 0  # leading conditions that are still this problem's equations stay equations
        while n < min(len(self.equations), len(conds)) and conds[n] is self.conditions[n]:
            n += 1
        return Problem(self.domain, [c.eq for c in conds[:n]], [*conds[n:], *periodic], **kw)

    def fixed(self, **values) -> "Problem":
        """A copy whose trainable parameters are constants, at ``values`` (name → number) or at
        their current values: the forward problem, which the FD reference can solve."""
        unknown = set(values) - set(self.trainable)
        if unknown:
            raise ProblemError(f"fixed: {sorted(unknown)} are not trainable parameters of this problem; "
                               f"trainable: {sorted(self.trainable) or 'none'}")
        swap = {p: p.fixed(values.get(k, self.params[k])) for k, p in self._parameter_atoms().items() if p.trainable}

        def sub(eq):
            return Eq(eq.lhs.xreplace(swap), eq.rhs.xreplace(swap))

        n = len(self.equations)
        conds = [c.replace(eq=sub(c.eq)) for c in self.conditions]
        obs = [o.substitute(swap) for o in self.observations]
        params = {k: float(values.get(k, v)) for k, v in self.params.items()}
        return Problem(self.domain, [c.eq for c in conds[:n]], [*conds[n:], *self.periodic], observations=obs,
                       params=params,
                       exact=self.exact, align=self.align, name=self.name, description=self.description,
                       image=self.image, known=self.known)

    def _parameter_atoms(self) -> dict:
        exprs = [r for c in self.conditions for r in c.eq.residuals] + [e for o in self.observations for e in o.exprs]
        return {p.name: p for p in ex.iter_atoms(exprs, Parameter)}

    def with_params(self, **values) -> "Problem":
        """A copy with parameter values overridden."""
        return self.replace(params={**self.params, **values})

    def __str__(self):
        lines = [f"Problem '{self.name}' on {self.domain!r}", f"  unknowns: {', '.join(self.fields)}"]
        if self.params:
            lines.append("  parameters: " + ", ".join(f"{k} = {v:g}" + (" (trainable)" if k in self.trainable else "")
                                                       for k, v in self.params.items()))
        for c in self.conditions:
            how = "(hard)" if c.hard else f"(weight {c.weight:g}" + (", binary cross-entropy)" if c.sided else ")")
            lines.append(f"  [{c.name}] {c.eq}   on {c.on.name}   {how}")
        for p in self.periodic:
            lines.append(f"  periodic in {p.coord}")
        if self.known:
            lines.append(f"  known part: {self.describe_known()}")
        for o in self.observations:
            lines.append(f"  [{o.name}] {o.describe()}")
        return "\n".join(lines)

    def __repr__(self):
        return (f"<Problem '{self.name}': {len(self.conditions) + len(self.observations)} terms, "
                f"fields {list(self.fields)}>")

    def _repr_latex_(self) -> str:
        rows = [rf"{c.eq.latex()} & \text{{on {c.on.name.replace('_', ' ')}}}" for c in self.conditions]
        return r"$\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}$"

    # ------------------------------------------------------------------------ strings
    @classmethod
    def from_strings(cls, domain, equations: Sequence[str] = (), conditions: Sequence = (), *,
                     fields: Mapping[str, int] | Sequence[str] = ("u",), params: Mapping[str, float] | None = None,
                     data: Mapping | None = None, **options) -> "Problem":
        r"""Parse a problem written as strings, e.g.

        ``Problem.from_strings(domain, ["lap(u) = -2*pi**2*sin(pi*x)*sin(pi*y)"],
        [("u = 0", "boundary")])``.

        Each side of an equation is read by :func:`ast.parse` (which executes nothing) and
        checked against a closed grammar before sympy builds it: numbers, the names of a
        closed namespace — the domain's coordinates, ``n_x``-style normal components, the
        ``fields``, ``params`` (name → value), ``data`` (name → ``pr.Data`` expression), pinr's
        operators (dt, D, grad, div, lap, dn, norm, dot), elementary functions and ``pi, E, I``
        — with ``+ - * / **`` (``^`` is ``**``), calls with positional arguments, ``v[i]`` and
        ``[lists]`` for vector sides. An equation has at most 10,000 characters, a side at most
        2,000 syntax nodes and depth 100; numeric exponents stay within ±64 (multiplied along
        nested powers) and exponents contain no powers, so ``9**9**9`` is refused at once.
        Anything else raises a one-line :class:`ValueError`; an undeclared name raises
        :class:`~pinr.errors.ProblemError`. Each condition is ``(equation, region)`` with region
        a name ("boundary", "initial", "x-") or a region object, or a dict of
        :class:`Condition` keywords with key ``eq``. An error names the equation or condition
        it comes from (``equations[0]``, ``conditions[1]``).

        ``domain`` may be a string too, read by the closed grammar of
        :func:`~pinr.symbolic.domain_strings.parse_domain` (shapes, their set operations and
        ``* TimeInterval(t0, t1)``). A value in ``params`` is a number (a constant) or a
        :class:`Parameter` (e.g. a trainable one). ``exact`` may be given as strings — one
        formula, a list (one per field) or a mapping field → formula — read by the same grammar
        over the coordinates, the parameters and the elementary functions.
        """
        if isinstance(domain, str):
            domain = parse_domain(domain)
        ns = namespace(domain, fields=fields, params=params, data=data)

        def parse_eq(text):
            if not isinstance(text, str):
                raise TypeError(f"expected an equation string such as 'lap(u) = f', got {type(text).__name__}")
            parts = text.replace("==", "=").split("=")
            if len(parts) != 2:
                raise ValueError(f"equation {text!r} must contain exactly one '='")
            return Eq(parse_expression(parts[0], ns, text), parse_expression(parts[1], ns, text))

        def condition(c):
            if isinstance(c, Periodic):
                return c
            if isinstance(c, Mapping):
                kw = dict(c)
                return Condition(parse_eq(kw.pop("eq")), **kw)
            text, on, *rest = c
            return Condition(parse_eq(text), on=on, **(rest[0] if rest else {}))

        eqs = [located(f"equations[{i}]", parse_eq, e) for i, e in enumerate(equations)]
        conds = [located(f"conditions[{i}]", condition, c) for i, c in enumerate(conditions)]
        if "exact" in options:
            options["exact"] = located("exact", exact_from_strings, options["exact"], ns)
        return cls(domain, eqs, conds, **options)
