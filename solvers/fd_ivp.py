r"""The reference of an ODE system on a time interval: the statement as a first-order system for
:func:`scipy.integrate.solve_ivp`.

On a domain that is a :class:`~pinr.TimeInterval` alone, the interior equations
:math:`F_k(t, u, \dot u, \dots) = 0` — one per field, of any order :math:`m_c` in each field
:math:`u_c`, nonlinear allowed — are solved for the highest derivatives
:math:`u_c^{(m_c)}` (:func:`~pinr.solvers.fd_statement.solve_for`), and the state
:math:`y = (u_c, \dot u_c, \dots, u_c^{(m_c - 1)})_c` obeys

.. math:: \dot y = \big(\dot u_c, \dots, u_c^{(m_c)}(t, y)\big)_c ,

started from the initial conditions, which must give every state value at :math:`t_0` (solved
as one system: ``u(0) + v(0) = 1`` is fine). What has no initial-value form is refused in one
line: a field without a time derivative (an algebraic constraint), equations that do not
determine the highest derivatives, conditions anywhere but at :math:`t_0` (a boundary-value
problem in time), missing or surplus initial values.

The integration is LSODA at ``rtol`` 1e-10, ``atol`` 1e-12, with dense output: it detects
stiffness itself and switches between Adams (non-stiff) and BDF (stiff) within one integration,
so one method serves both kinds, as cheap as DOP853 on non-stiff systems and far cheaper than an
explicit or fully implicit method on stiff ones (bench/RESULTS.md, issue 24). Should LSODA fail,
Radau tries once more, and the metadata names the method. The result is a
:class:`~pinr.solvers.DenseSolution` that evaluates the dense output at any time in
:math:`[t_0, t_1]`.
"""

from __future__ import annotations

import logging
import time as _time

import numpy as np
import sympy
from scipy.integrate import solve_ivp

from pinr.domains import TimeInterval
from pinr.domains.base import AbstractInitial, AbstractInterior
from pinr.solution import DenseSolution, grid_of

from .fd_statement import Atoms, read_residuals, solve_for

__all__ = ["FirstOrderSystem", "first_order_system", "solve_ode"]

log = logging.getLogger(__name__)


class FirstOrderSystem:
    r"""An ODE statement as :math:`\dot y = f(t, y)` with :math:`y(t_0) = y_0`.

    ``state`` names the entries of :math:`y` (``u``, ``u_t``, ``v``, ...); ``values`` gives the
    index in :math:`y` of each field's value, in the problem's field order.
    """

    def __init__(self, state: tuple[str, ...], values: tuple[int, ...], f, y0: np.ndarray, span: tuple[float, float]):
        self.state, self.values, self.f, self.y0, self.span = state, values, f, y0, span

    def __call__(self, t: float, y: np.ndarray) -> np.ndarray:
        return self.f(t, y)


def first_order_system(problem) -> FirstOrderSystem:
    """Read ``problem`` (on a :class:`~pinr.TimeInterval`) as a first-order system; a statement
    without that form raises ``NotImplementedError`` naming what is unsupported."""
    dom = problem.domain
    if not isinstance(dom, TimeInterval):
        raise NotImplementedError(f"the ODE reference needs a domain that is a TimeInterval alone, got {dom!r}")
    (t,) = dom.coords
    t0, t1 = float(dom.t0), float(dom.t1)
    if problem.periodic:
        raise NotImplementedError(f"'{problem.name}' is periodic in time, a boundary-value problem; the ODE "
                                  "reference solves initial-value problems only")
    atoms = Atoms(problem, {})
    equations, initial = [], []
    for c in problem.conditions:
        if isinstance(c.on, AbstractInterior):
            equations += read_residuals(problem, c, atoms)
        elif isinstance(c.on, AbstractInitial):
            initial += [(c.name, r) for r in read_residuals(problem, c, atoms)]
        else:
            raise NotImplementedError(
                f"condition '{c.name}' of '{problem.name}' holds on {c.on!r}, not at t = {t0:g}: a boundary-value "
                "problem in time has no reference; state every condition with pr.Initial")
    C = problem.n_outputs
    seen = {key for r in equations for key in atoms.keys_in(r)}
    order = [max((o[0] for k, o in seen if k == c), default=-1) for c in range(C)]
    for c, m in enumerate(order):
        if m < 0:
            raise NotImplementedError(f"field {problem.fields[c]} of '{problem.name}' appears in no equation; "
                                      "state one equation per field")
        if m == 0:
            raise NotImplementedError(
                f"field {problem.fields[c]} of '{problem.name}' appears without a time derivative: an algebraic "
                "constraint (a differential-algebraic system), which has no reference; eliminate it or give "
                f"dt({problem.fields[c]})")
    if len(equations) != C:
        raise NotImplementedError(f"'{problem.name}' states {len(equations)} equation(s) for {C} field(s) "
                                  f"{list(problem.fields)}; the ODE reference needs one per field")
    top = [atoms(c, (m,)) for c, m in enumerate(order)]
    highest = solve_for(equations, top, f"the equations of '{problem.name}'")
    state = [atoms(c, (k,)) for c, m in enumerate(order) for k in range(m)]
    derivative = [atoms(c, (k + 1,)) if k + 1 < m else highest[c] for c, m in enumerate(order) for k in range(m)]
    stray = sorted(str(s) for s in sympy.Matrix(derivative).free_symbols - {t, *state})
    if stray:
        raise NotImplementedError(f"the equations of '{problem.name}' involve {stray}, which are neither the state "
                                  f"{[str(s) for s in state]} nor t")
    y0 = _initial_values(problem, initial, state, order, atoms, t, t0)
    fn = sympy.lambdify([t, *state], derivative, modules="numpy", cse=True)

    def f(tt, y):
        return np.asarray(fn(tt, *y), dtype=np.float64)

    values = tuple(sum(order[:c]) for c in range(C))
    return FirstOrderSystem(tuple(str(s) for s in state), values, f, y0, (t0, t1))


def _initial_values(problem, initial, state, order, atoms, t, t0) -> np.ndarray:
    """The state at ``t0`` from the initial conditions, solved as one system."""
    given = [r.xreplace({t: t0}) for _, r in initial]
    late = sorted({str(atoms(c, o)) for _, r in initial for c, o in atoms.keys_in(r) if o[0] >= order[c]})
    if late:
        raise NotImplementedError(f"the initial conditions of '{problem.name}' state {late}, which the equations "
                                  f"determine; give {[str(s) for s in state]} at t = {t0:g}")
    named = {s for r in given for s in r.free_symbols}
    missing = [(c, k) for c, m in enumerate(order) for k in range(m) if atoms(c, (k,)) not in named]
    if missing:
        c, k = missing[0]
        name = problem.fields[c]
        hint = name if k == 0 else f"dt({name})" if k == 1 else f"dt({name}, {k})"
        raise NotImplementedError(f"'{problem.name}' gives no initial value for "
                                  f"{[str(atoms(c, (k,))) for c, k in missing]} at t = {t0:g}; add "
                                  f"pr.Initial(Eq({hint}, ...))")
    if len(given) != len(state):
        raise NotImplementedError(f"'{problem.name}' states {len(given)} initial condition(s) for the "
                                  f"{len(state)} state value(s) {[str(s) for s in state]} at t = {t0:g}; state each "
                                  "once")
    values = solve_for(given, state, f"the initial conditions of '{problem.name}'")
    try:
        return np.array([float(v) for v in values])
    except TypeError:
        raise NotImplementedError(f"the initial conditions of '{problem.name}' do not give numbers for "
                                  f"{[str(s) for s in state]}: {values}") from None


def _integrate(system: FirstOrderSystem, rtol: float, atol: float):
    """LSODA, else Radau; returns (scipy's result, the method). A rejected trial step may overflow
    (the method then shrinks it): its floating-point warnings are silenced and the result is
    checked for finite values instead."""
    def run(method):
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            sol = solve_ivp(system, system.span, system.y0, method=method, dense_output=True, rtol=rtol, atol=atol)
        if sol.success and not np.all(np.isfinite(sol.y)):
            sol.success, sol.message = False, "the solution is not finite"
        return sol

    sol = run("LSODA")
    if sol.success:
        return sol, "LSODA"
    log.info("ODE reference: LSODA stopped at t = %g (%s); trying Radau", sol.t[-1], sol.message)
    return run("Radau"), "Radau"


def solve_ode(problem, *, resolution: int | None = None, rtol: float = 1e-10, atol: float = 1e-12) -> DenseSolution:
    """Solve the ODE system ``problem`` (see the module) and return its dense solution, plotted and
    compared on ``resolution`` points (default 1024) over the interval. A failed integration (a
    blow-up before :math:`t_1`) raises ``ValueError`` with scipy's message."""
    started = _time.perf_counter()
    system = first_order_system(problem)
    sol, method = _integrate(system, rtol, atol)
    if not sol.success:
        raise ValueError(f"the ODE reference of '{problem.name}' stopped at t = {sol.t[-1]:g} with {method}: "
                         f"{sol.message}; the solution may blow up before t = {system.span[1]:g}")
    t0, t1 = system.span
    dense, rows = sol.sol, list(system.values)

    def function(points):
        return dense(np.clip(points[:, 0], t0, t1))[rows].T

    return DenseSolution(function, grid_of(problem.domain, int(resolution or 1024)), fields=problem.fields,
                         coords=problem.domain.coords,
                         metadata={"solver": "fd", "kind": "ivp", "method": method, "rtol": rtol, "atol": atol,
                                   "state": list(system.state), "evaluations": int(sol.nfev),
                                   "seconds": _time.perf_counter() - started})
