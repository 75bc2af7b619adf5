r"""Hard constraints: value conditions imposed exactly by the form of the answer.

A condition ``pr.Boundary(Eq(u, g), hard=True)`` (or ``pr.Initial(...)``, or on some sides of a
box) is not a loss term: the network's output :math:`N` for that field is trained inside

.. math:: u(x) = G(x) + \phi(x)\, N(x),

with :math:`\phi = \prod_i \phi_i` the product of the hard conditions' distance functions
(``domain.adf(sides)`` of the spatial domain for a boundary — R-functions for CSG domains, after
Sukumar & Srivastava 2022 —, the operand's own for a part of a CSG boundary such as
``(A - B).boundary[B]`` (``part.adf()``; parts without one keep their conditions as loss terms),
and :math:`t - t_0` for the initial slice) and :math:`G` one of their
data functions that takes every hard condition's values on its region (``u = 0`` on the walls
and ``u = sin(πx)`` at ``t = 0`` share :math:`G = \sin \pi x`). The compiler substitutes the form
into every residual symbolically, so both derivative engines differentiate it exactly.

A second-order-in-time field whose initial value *and* velocity are hard (``u = g``, ``u_t = v``
at :math:`t_0`, no other hard condition on it) is written
:math:`u = g + \epsilon \tanh(\tau/\epsilon)\,v + \tanh^2(\tau/\epsilon)\,N`, :math:`\tau = t - t_0`,
:math:`\epsilon` a tenth of the time interval (:data:`VELOCITY_RAMP`): both initial conditions hold
exactly, and the wave equation's network learns only what the start does not fix. Conditions that restate a hard initial
condition on a patch of the initial slice (extra points where a pulse lives) are then implied, and
:func:`harden` makes them hard too (no loss term).
"""

from __future__ import annotations

import sympy

from ..domains.base import AbstractBoundary, AbstractBoundaryPart, AbstractInitial
from ..errors import ProblemError
from .expressions import DataFunction, Parameter
from .known import known_field_of

__all__ = ["hard_transforms", "harden", "value_condition", "velocity_condition", "HARD_TOLERANCE"]

#: the ramp of a hard initial velocity, as a fraction ε of the time interval: the field is
#: g + ε tanh(τ/ε) v + tanh²(τ/ε) N, which is g + τ v + (τ/ε)² N at the start and leaves the network's
#: output at the answer's own size after it (with τ² itself, N = (u - g)/τ² spans orders of magnitude)
VELOCITY_RAMP = 0.1
HARD_TOLERANCE = 1e-9  #: how closely a data function must take another hard condition's values
_CHECK_POINTS = 256


def value_condition(residual, problem):
    """``(field application u, g)`` when ``residual`` states a value ``a·u = b`` of one field
    component (no derivatives, ``a`` a number): ``u = g``; else None."""
    r = sympy.sympify(residual)
    apps = [a for a in problem.field_apps if r.has(a)]
    if len(apps) != 1 or r.atoms(sympy.Derivative) or not sympy.diff(r, apps[0]).is_number:
        return None
    coef = sympy.diff(r, apps[0])
    return apps[0], sympy.expand(-(r - coef * apps[0]) / coef)


def velocity_condition(residual, problem):
    """``(field application u, v)`` when ``residual`` states a first time derivative ``a·u_t = b`` of
    one field component (``a`` a number, ``b`` free of fields): ``u_t = v``; else None."""
    t = problem.domain.time
    if t is None:
        return None
    r = sympy.sympify(residual)
    ders = [d for d in r.atoms(sympy.Derivative) if d.expr in problem.field_apps]
    if len(ders) != 1 or tuple(ders[0].variable_count) != ((t, 1),):
        return None
    d = ders[0]
    coef = sympy.diff(r, d)
    rest = r - coef * d
    if not coef.is_number or coef == 0 or any(rest.has(a) for a in problem.field_apps):
        return None
    return d.expr, sympy.expand(-rest / coef)


def _initial_patch(region, problem) -> bool:
    """Whether ``region`` is a patch of the initial slice (a fixed-time patch at :math:`t_0`)."""
    t0 = float(problem.domain.bounds[-1, 0]) if problem.domain.time is not None else None
    return t0 is not None and getattr(region, "time", None) is not None and abs(region.time - t0) < 1e-12


def _implied(cond, others) -> bool:
    """Whether hard ``cond`` restates one of ``others`` (hard initial conditions) on a patch of the
    initial slice: then it holds by the form of the answer and adds nothing."""
    return any(o is not cond and isinstance(o.on, AbstractInitial) and o.eq.residuals == cond.eq.residuals
               for o in others)


def _value_of(cond, problem):
    """``(field application, g)`` of a hard condition ``a·u = b``: ``u = g``."""
    label = f"hard condition '{cond.name}' ({cond.eq})"
    if len(cond.eq.residuals) != 1:
        raise ProblemError(f"{label}: a hard condition sets one field component; state one per component")
    value = value_condition(cond.eq.residuals[0], problem)
    if value is None:
        raise ProblemError(f"{label}: only value conditions u = g can be hard (no derivatives, one field, "
                           "linear); make it soft (hard=False)")
    a, g = value
    if _arrays(g):
        raise ProblemError(f"{label}: hard conditions take formulas (or known parts), not data arrays; make it soft")
    values = {p: problem.params.get(p.name, p.value) for p in g.atoms(Parameter)}
    if any(p.name in problem.trainable for p in g.atoms(Parameter)):
        raise ProblemError(f"{label}: its data hold a trainable parameter; make it soft")
    return a, g.xreplace(values)


def _arrays(expr) -> list:
    """The data arrays in ``expr``: data functions that are not known parts, whose derivatives the
    hard form would need and which have none (a known part's are exact)."""
    return [a for a in sympy.sympify(expr).atoms(DataFunction) if known_field_of(a) is None]


def _numeric(expr, coords):
    """``expr`` of ``coords`` as a numpy function, its known parts evaluated by their fields."""
    import numpy as np

    known = {a.func.__name__: a for a in sympy.sympify(expr).atoms(DataFunction) if known_field_of(a) is not None}

    def call(app):
        def f(*columns):
            points = np.stack(np.broadcast_arrays(*columns), axis=-1).astype(np.float64)
            return known_field_of(app).derivatives(points)[app.func.known_orders][:, app.func.channel]
        return f

    return sympy.lambdify(coords, expr, [{name: call(app) for name, app in known.items()}, "numpy"])


def _distance(cond, problem):
    region, domain = cond.on, problem.domain
    if isinstance(region, AbstractInitial):
        t = domain.time
        return t - sympy.nsimplify(float(domain.bounds[-1, 0]), rational=True)
    if isinstance(region, AbstractBoundaryPart):
        try:
            return region.adf()
        except NotImplementedError as err:
            raise ProblemError(f"hard condition '{cond.name}': the part {region.name} of the boundary has no "
                               f"distance function ({err}); make it soft") from None
    if not isinstance(region, AbstractBoundary):
        raise ProblemError(f"hard condition '{cond.name}': hard conditions hold on a boundary (or some of its "
                           f"sides) or the initial slice, not on {region!r}; make it soft")
    space = getattr(domain, "space", domain)
    sides = getattr(region, "sides", None)
    try:
        return space.adf(sides) if sides is not None and tuple(sides) != tuple(space.side_names()) else space.adf()
    except (NotImplementedError, AttributeError) as err:
        raise ProblemError(f"hard condition '{cond.name}': {space!r} gives no distance function ({err}); "
                           "make it soft") from None


def _takes_values(G, g, cond, problem) -> bool:
    """Whether ``G`` equals ``g`` on sampled points of ``cond``'s region."""
    import numpy as np
    import torch

    diff = sympy.simplify(G - g)
    if diff == 0:
        return True
    coords = problem.domain.coords
    f = _numeric(diff, coords)
    s = cond.on.sample(_CHECK_POINTS, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    p = s.points.numpy()
    values = np.broadcast_to(np.asarray(f(*p.T), dtype=float), (p.shape[0],))
    scale = 1.0 + float(np.abs(np.asarray(_numeric(g, coords)(*p.T), dtype=float)).max())
    return bool(np.all(np.abs(values) <= HARD_TOLERANCE * scale))


def hard_transforms(problem, conditions) -> dict:
    """Field name → ``(G, φ)`` for the fields that ``conditions``' hard ones fix."""
    hard = [c for c in conditions if c.hard]
    hard = [c for c in hard if not (_initial_patch(c.on, problem) and _implied(c, hard))]
    velocity = {}
    for c in hard:
        v = velocity_condition(c.eq.residuals[0], problem) if len(c.eq.residuals) == 1 else None
        if v is not None and isinstance(c.on, AbstractInitial):
            velocity[v[0]] = (c, v[1])
    by_field: dict = {}
    for c in hard:
        if any(c is vc for vc, _ in velocity.values()):
            continue
        app, g = _value_of(c, problem)
        by_field.setdefault(app, []).append((c, g, _distance(c, problem)))
    out = {}
    for app, (vc, v) in velocity.items():
        items = by_field.pop(app, [])
        if len(items) != 1 or not isinstance(items[0][0].on, AbstractInitial):
            raise ProblemError(f"hard condition '{vc.name}' ({vc.eq}) fixes the initial velocity of "
                               f"{app.func.__name__}: it is hard only with that field's initial value and no other "
                               "hard condition on it; make it soft")
        c, g, tau = items[0]
        if any(p.name in problem.trainable for p in v.atoms(Parameter)) or _arrays(v):
            raise ProblemError(f"hard condition '{vc.name}': its data hold a trainable parameter or data; make it soft")
        v = v.xreplace({p: problem.params.get(p.name, p.value) for p in v.atoms(Parameter)})
        t = problem.domain.time
        # g and v are the data at t0: of the space only (a t in them would move them off the slice)
        t0 = sympy.nsimplify(float(problem.domain.bounds[-1, 0]), rational=True)
        eps = sympy.nsimplify(float(problem.domain.bounds[-1, 1] - problem.domain.bounds[-1, 0]) * VELOCITY_RAMP,
                              rational=True)
        ramp = eps * sympy.tanh(tau / eps)
        out[app.func.__name__] = (g.subs(t, t0) + ramp * v.subs(t, t0), (ramp / eps) ** 2)
    for app, items in by_field.items():
        phi = sympy.Mul(*[d for _, _, d in items])
        G = next((g for _, g, _ in items if all(_takes_values(g, h, c, problem) for c, h, _ in items)), None)
        if G is None:
            names = ", ".join(f"'{c.name}'" for c, _, _ in items)
            raise ProblemError(f"hard conditions {names} on {app.func.__name__} disagree where they meet: none of "
                               "their data takes the others' values on their regions; make all but one soft")
        out[app.func.__name__] = (G, phi)
    return out


def harden(problem, *, initial_only: bool = False):
    """``problem`` with every value condition that can be imposed exactly made hard (its boundary
    or initial value conditions ``u = g`` whose domain gives a distance function and whose data
    agree where they meet); when the data disagree, only the boundary ones; else unchanged. With
    ``initial_only``, the initial slice's value conditions only. Returns ``(problem, names of the
    conditions made hard)``."""
    def eligible(c, kinds):
        if c.hard or not isinstance(c.on, kinds):
            return False
        try:
            _value_of(c, problem), _distance(c, problem)
        except ProblemError:
            return False
        return True

    for kinds in ((AbstractInitial,),) if initial_only else ((AbstractBoundary, AbstractInitial), (AbstractBoundary,)):
        chosen = [c for c in problem.conditions if eligible(c, kinds)]
        if not chosen:
            continue
        for extra in (_velocities(problem, chosen), []):  # with the initial velocities where they can join
            picked = chosen + extra
            picked += [c for c in problem.conditions if c not in picked and not c.hard
                       and _initial_patch(c.on, problem) and _implied(c, picked)]
            try:
                out = problem.replace(conditions=[c.replace(hard=True) if c in picked else c
                                                  for c in problem.conditions])
            except ProblemError:
                continue
            return out, tuple(c.name for c in picked)
    return problem, ()


def _velocities(problem, chosen) -> list:
    """The initial-velocity conditions ``u_t = v`` of the fields whose initial value is among
    ``chosen`` and which ``chosen`` fixes nowhere else."""
    fields = {}
    for c in chosen:
        fields.setdefault(_value_of(c, problem)[0], []).append(c)
    out = []
    for c in problem.conditions:
        if c.hard or not isinstance(c.on, AbstractInitial) or len(c.eq.residuals) != 1:
            continue
        v = velocity_condition(c.eq.residuals[0], problem)
        if v is not None and [type(o.on) for o in fields.get(v[0], [])] == [type(c.on)]:
            out.append(c)
    return out
