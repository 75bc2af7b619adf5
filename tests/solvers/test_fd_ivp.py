"""ODE references (solve_ivp from the statement): exact solutions of first- and second-order,
linear and nonlinear systems, and the statements without an initial-value form, refused in one line."""

import numpy as np
import pytest
import sympy

import pinr as pr
from pinr import Eq, dt
from pinr.solution import DenseSolution
from pinr.solvers import FDSolver
from pinr.solvers.fd_ivp import first_order_system, solve_ode


def _rel_l2(solution, exact, t0, t1):
    """Relative L2 error of ``solution`` against numpy ``exact(t) -> (N, fields)`` at 2001 times."""
    ts = np.linspace(t0, t1, 2001)
    v, e = solution(ts[:, None]), exact(ts)
    return float(np.linalg.norm(v - e) / np.linalg.norm(e))


def test_harmonic_oscillator_system_matches_cos_and_sin():
    """a' = b, b' = -a, a(0) = 1, b(0) = 0 on [0, 6]: a = cos t, b = -sin t."""
    tl = pr.TimeInterval(0, 6)
    a, b = tl.field("a"), tl.field("b")
    p = pr.Problem(tl, [Eq(dt(a), b), Eq(dt(b), -a)], [pr.Initial(Eq(a, 1)), pr.Initial(Eq(b, 0))])
    ref = pr.reference(p)
    assert isinstance(ref, DenseSolution) and ref.metadata["kind"] == "ivp" and ref.metadata["method"] == "LSODA"
    assert _rel_l2(ref, lambda t: np.stack([np.cos(t), -np.sin(t)], 1), 0, 6) < 1e-8


def test_logistic_equation_matches_its_closed_form():
    """u' = u(1 - u), u(0) = 1/10 on [0, 10]: u = 1 / (1 + 9 e^{-t})."""
    tl = pr.TimeInterval(0, 10)
    u = tl.field("u")
    p = pr.Problem(tl, [Eq(dt(u), u * (1 - u))], [pr.Initial(Eq(u, sympy.Rational(1, 10)))])
    ref = pr.solve(p, solver="fd")
    assert _rel_l2(ref, lambda t: (1 / (1 + 9 * np.exp(-t)))[:, None], 0, 10) < 1e-8
    assert ref.on_grid().shape == (1024, 1)


def test_second_order_scalar_with_a_parameter_and_a_start_time():
    """u'' + u'/2 + k u = 0 with k = 4 (a Parameter) on [1, 6], u(1) = 1, u'(1) = 0: a damped
    oscillation; the state is (u, u_t)."""
    tl = pr.TimeInterval(1, 6)
    (t,) = tl.coords
    u = tl.field("u")
    k = pr.Parameter("k", 4.0)
    p = pr.Problem(tl, [Eq(dt(u, 2) + dt(u) / 2 + k * u, 0)], [pr.Initial(Eq(u, 1)), pr.Initial(Eq(dt(u), 0))])
    assert first_order_system(p).state == ("u", "u_t")
    w = np.sqrt(63 / 16)
    exact = sympy.lambdify(t, sympy.exp(-(t - 1) / 4) * (sympy.cos(w * (t - 1)) + sympy.sin(w * (t - 1)) / (4 * w)))
    assert _rel_l2(FDSolver(p).solve(), lambda s: exact(s)[:, None], 1, 6) < 1e-8


def test_initial_conditions_are_solved_as_a_system_and_highest_derivatives_by_sympy():
    """u' + v' = 0 and u' - v' = -2(u - v) with u(0) + v(0) = 2 and u(0) - v(0) = 0 (both mix the
    fields) give u = v = 1; u' e^{u'} = e, nonlinear in u', has the one real root u' = 1."""
    tl = pr.TimeInterval(0, 2)
    (t,) = tl.coords
    u, v = tl.field("u"), tl.field("v")
    p = pr.Problem(tl, [Eq(dt(u) + dt(v), 0), Eq(dt(u) - dt(v), -2 * (u - v))],
                   [pr.Initial(Eq(u + v, 2)), pr.Initial(Eq(u - v, 0))])
    assert _rel_l2(pr.reference(p), lambda s: np.ones((len(s), 2)), 0, 2) < 1e-10
    q = pr.Problem(tl, [Eq(dt(u) * sympy.exp(dt(u)), sympy.E)], [pr.Initial(Eq(u, 0))])
    assert _rel_l2(pr.reference(q), lambda s: s[:, None], 0, 2) < 1e-8


def test_trainable_parameters_are_refused_by_the_reference_and_read_at_their_start_by_solve_ode():
    """An inverse problem's reference at the starting guess would judge the trained answer wrongly:
    pr.reference refuses it (fix the parameter first); solve_ode reads the starting value."""
    tl = pr.TimeInterval(0, 1)
    u = tl.field("u")
    k = pr.Parameter("k", 2.0, trainable=True)
    p = pr.Problem(tl, [Eq(dt(u), -k * u)], [pr.Initial(Eq(u, 1))])
    with pytest.raises(NotImplementedError, match=r"trainable parameters \(k\)"):
        pr.reference(p)
    assert _rel_l2(solve_ode(p), lambda s: np.exp(-2 * s)[:, None], 0, 1) < 1e-8
    assert _rel_l2(pr.reference(p.fixed(k=3.0)), lambda s: np.exp(-3 * s)[:, None], 0, 1) < 1e-8


def test_stiff_system_is_solved_by_lsoda():
    """Van der Pol at mu = 1000 over [0, 3000] (stiff relaxation oscillations): the solution stays
    within |u| <= 2.02 and crosses zero every half period, T/2 = (3 - 2 ln 2) mu / 2 + O(mu^(-1/3))
    = 807 (within 1 %)."""
    tl = pr.TimeInterval(0, 3000)
    u = tl.field("u")
    p = pr.Problem(tl, [Eq(dt(u, 2) - 1000 * (1 - u**2) * dt(u) + u, 0)], [pr.Initial(Eq(u, 2)),
                                                                              pr.Initial(Eq(dt(u), 0))])
    ref = pr.reference(p)
    values = ref(np.linspace(0, 3000, 30001)[:, None])[:, 0]
    assert np.abs(values).max() < 2.02 and ref.metadata["evaluations"] < 50_000
    crossings = np.flatnonzero(np.diff(np.sign(values))) * 0.1
    assert len(crossings) == 3
    assert np.allclose(np.diff(crossings), (3 - 2 * np.log(2)) * 500, rtol=1e-2)


@pytest.mark.parametrize("equations, conditions, message", [
    ("u'' = -u", "u(0)", r"no initial value for \['u_t'\] at t = 0; add pr.Initial\(Eq\(dt\(u\), \.\.\.\)\)"),
    ("u' = v, u + v = 0", "u(0)", "field v .* without a time derivative: an algebraic constraint"),
    ("u' + v' = 1, u' + v' = u", "u(0), v(0)", "cannot be solved for u_t, v_t: the equations are dependent"),
    ("u'^2 = u", "u(0)", r"cannot be solved uniquely for u_t \(2 solutions"),
    ("u' = -u", "u(0), u'(0)", r"state \['u_t'\], which the equations determine"),
])
def test_statements_without_an_initial_value_form_are_refused_in_one_line(equations, conditions, message):
    tl = pr.TimeInterval(0, 1)
    u, v = tl.field("u"), tl.field("v")
    eqs = {"u'' = -u": [Eq(dt(u, 2), -u)], "u' = v, u + v = 0": [Eq(dt(u), v), Eq(u + v, 0)],
           "u' + v' = 1, u' + v' = u": [Eq(dt(u) + dt(v), 1), Eq(dt(u) + dt(v), u)],
           "u'^2 = u": [Eq(dt(u)**2, u)], "u' = -u": [Eq(dt(u), -u)]}[equations]
    conds = {"u(0)": [pr.Initial(Eq(u, 1))], "u(0), v(0)": [pr.Initial(Eq(u, 1)), pr.Initial(Eq(v, 1))],
             "u(0), u'(0)": [pr.Initial(Eq(u, 1)), pr.Initial(Eq(dt(u), -1))]}[conditions]
    with pytest.raises(NotImplementedError, match=message) as err:
        pr.reference(pr.Problem(tl, eqs, conds))
    assert "\n" not in str(err.value)


def test_a_nonlinear_boundary_value_problem_is_refused_in_one_line():
    """-u'' + u^3 = 1 on [0, 1] with u = 0 at both ends: no initial-value form, not linear."""
    d = pr.Interval(x=(0, 1))
    u = d.field("u")
    with pytest.raises(NotImplementedError, match="not linear in the unknowns.*nonlinear ones have a reference as "
                                                  "ODE systems on a TimeInterval") as err:
        pr.reference(pr.Problem(d, [Eq(-pr.lap(u) + u**3, 1)], [pr.Boundary(Eq(u, 0))]))
    assert "\n" not in str(err.value)
