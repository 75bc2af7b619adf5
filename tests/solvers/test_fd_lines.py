"""Method-of-lines references of 1-D evolution equations: second-order convergence on exact
solutions (Dirichlet, Neumann, periodic; linear, Burgers, Fisher–KPP, a coupled system), the
dispatch from the statement, and the statements it refuses in one line."""

import numpy as np
import pytest
import sympy
import torch

import pinr as pr
from pinr import D, Eq, cos, dn, dt, exp, lap, pi, sin, tanh
from pinr.solution import GridSolution
from pinr.solvers import FDSolver
from pinr.solvers.fd_lines import is_evolution_1d, method_of_lines


def _errors(problem, exact, cells, solve=method_of_lines):
    """Max nodal error over all stored times, per resolution, against sympy ``exact`` (per field)."""
    exact = exact if isinstance(exact, list) else [exact]
    fns = [sympy.lambdify(problem.domain.coords, e, "numpy") for e in exact]
    out = []
    for n in cells:
        sol = solve(problem, resolution=n)
        pts = sol.grid.points(dtype=torch.float64).numpy()
        vals = sol.on_grid().reshape(len(pts), -1)
        ref = np.stack([np.broadcast_to(f(*pts.T), len(pts)) for f in fns], axis=-1)
        out.append(float(np.abs(vals - ref).max()))
    return out


def _second_order(errors):
    return all(3.5 < a / b < 4.5 for a, b in zip(errors, errors[1:]))


def test_heat_equation_converges_at_second_order_with_dirichlet_and_neumann_ends():
    """u_t = u_xx/10 on [0, 1] x [0, 1/2]: e^{-π²t/10} sin πx with u = 0 at both ends, and
    e^{-π²t/10} cos πx with ∂u/∂n = 0 (ghost nodes)."""
    d = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 0.5)
    x, t = d.coords
    u = d.field("u")
    for start, end in ((sin(pi * x), Eq(u, 0)), (cos(pi * x), Eq(dn(u), 0))):
        p = pr.Problem(d, [Eq(dt(u), lap(u) / 10)], [pr.Initial(Eq(u, start)), pr.Boundary(end)])
        errors = _errors(p, exp(-pi**2 * t / 10) * start, (16, 32, 64))
        assert _second_order(errors) and errors[-1] < 1e-4, errors


def test_periodic_statement_goes_to_the_method_of_lines_and_converges():
    """u_t = u_xx + u_x periodic on [0, 2π]: e^{-t} sin(x + t), through pr.reference."""
    d = pr.Interval(x=(0, 2 * sympy.pi)) * pr.TimeInterval(0, 1)
    x, t = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(dt(u), lap(u) + D(u, x))], [pr.Initial(Eq(u, sin(x))), pr.Periodic(x)])
    assert is_evolution_1d(p)
    errors = _errors(p, exp(-t) * sin(x + t), (16, 32, 64),
                     solve=lambda q, resolution: pr.reference(q, resolution=resolution))
    assert _second_order(errors), errors


def test_burgers_travelling_wave_with_time_dependent_dirichlet_values():
    """u_t + u u_x = ν u_xx, ν = 1/20, on [-1, 1] x [0, 1]: the viscous shock
    (1 - tanh((x - t/2)/4ν))/2 moving at speed 1/2, its values imposed at both ends; second
    order, and within 3e-4 in rel. L2 on 128 cells through pr.reference."""
    nu = sympy.Rational(1, 20)
    d = pr.Interval(x=(-1, 1)) * pr.TimeInterval(0, 1)
    x, t = d.coords
    u = d.field("u")
    exact = (1 - tanh((x - t / 2) / (4 * nu))) / 2
    p = pr.Problem(d, [Eq(dt(u) + u * D(u, x), nu * lap(u))], [pr.Initial(Eq(u, exact.subs(t, 0))),
                                                               pr.Boundary(Eq(u, exact))])
    assert _second_order(_errors(p, exact, (32, 64, 128)))
    ref = pr.reference(p, resolution=128)
    assert isinstance(ref, GridSolution) and ref.metadata["kind"] == "lines"
    pts = ref.grid.points(dtype=torch.float64).numpy()
    e = sympy.lambdify((x, t), exact, "numpy")(*pts.T)
    assert np.linalg.norm(ref.on_grid().ravel() - e) / np.linalg.norm(e) < 3e-4


def test_fisher_kpp_travelling_front_with_reaction():
    """u_t = u_xx + u(1 - u) on [-10, 10] x [0, 2]: Ablowitz & Zeppetella's front
    1/(1 + e^{x/√6 - 5t/6})², second order, max error under 1e-4 on 64 cells."""
    d = pr.Interval(x=(-10, 10)) * pr.TimeInterval(0, 2)
    x, t = d.coords
    u = d.field("u")
    exact = 1 / (1 + exp(x / sympy.sqrt(6) - 5 * t / 6))**2
    p = pr.Problem(d, [Eq(dt(u), lap(u) + u * (1 - u))], [pr.Initial(Eq(u, exact.subs(t, 0))),
                                                          pr.Boundary(Eq(u, exact))])
    errors = _errors(p, exact, (16, 32, 64), solve=lambda q, resolution: FDSolver(q, resolution=resolution).solve())
    assert _second_order(errors[1:]) and errors[-1] < 1e-4, errors


def test_coupled_nonlinear_system_converges():
    """u_t = u_xx + u² + v² - e^{-2t}, v_t = v_xx + u v_x + u², periodic on [0, 2π]:
    u = e^{-t} sin x, v = e^{-t} cos x (the nonlinear terms cancel on it, not in the scheme)."""
    d = pr.Interval(x=(0, 2 * sympy.pi)) * pr.TimeInterval(0, 1)
    x, t = d.coords
    u, v = d.field("u"), d.field("v")
    p = pr.Problem(d, [Eq(dt(u), lap(u) + u**2 + v**2 - exp(-2 * t)), Eq(dt(v), lap(v) + u * D(v, x) + u**2)],
                   [pr.Initial(Eq(u, sin(x))), pr.Initial(Eq(v, cos(x))), pr.Periodic(x)])
    errors = _errors(p, [exp(-t) * sin(x), exp(-t) * cos(x)], (16, 32, 64))
    assert _second_order(errors), errors


def test_default_resolution_keeps_the_cell_peclet_number_under_two():
    """Burgers with ν = 0.01/π from -sin πx: |u| ≤ 1 needs h ≤ 2ν, 512 cells on [-1, 1]."""
    d = pr.Interval(x=(-1, 1)) * pr.TimeInterval(0, 0.1)
    x, t = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(dt(u) + u * D(u, x), 0.01 / np.pi * lap(u))],
                   [pr.Initial(Eq(u, -sin(pi * x))), pr.Boundary(Eq(u, 0))])
    sol = pr.reference(p)
    assert sol.metadata["cells"] == [512] and sol.grid.shape == (513, 101)


@pytest.mark.parametrize("case, message", [
    ("second order in time", r"u_tt in the equations of 'problem' is second order in time"),
    ("one side", r"gives no condition for u on x\+; add pr.Boundary\(Eq\(u, \.\.\.\), on='x\+'\)"),
    ("periodic and sides", r"periodic in x and states the boundary condition"),
    ("two dimensions", r"not linear in the unknowns.*u_t = F\(x, t, u, u_x, u_xx\) on an Interval"),
])
def test_unsupported_evolution_statements_are_refused_in_one_line(case, message):
    d = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 1)
    x, t = d.coords
    u = d.field("u")
    start = pr.Initial(Eq(u, sin(pi * x)))
    if case == "second order in time":
        p = pr.Problem(d, [Eq(dt(u, 2), lap(u) + u**3)], [start, pr.Initial(Eq(dt(u), 0)), pr.Boundary(Eq(u, 0))])
    elif case == "one side":
        p = pr.Problem(d, [Eq(dt(u), lap(u) + u**3)], [start, pr.Boundary(Eq(u, 0), on="x-")])
    elif case == "periodic and sides":
        p = pr.Problem(d, [Eq(dt(u), lap(u) + u**3)], [start, pr.Boundary(Eq(u, 0)), pr.Periodic(x)])
    else:
        sq = pr.Rectangle(x=(0, 1), y=(0, 1)) * pr.TimeInterval(0, 1)
        w = sq.field("u")
        p = pr.Problem(sq, [Eq(dt(w), lap(w) + w**3)], [pr.Initial(Eq(w, 0)), pr.Boundary(Eq(w, 0))])
    with pytest.raises(NotImplementedError, match=message) as err:
        pr.reference(p, resolution=16)
    assert "\n" not in str(err.value)


def test_a_field_with_values_at_the_ends_feeds_a_field_with_fluxes_there():
    """u_t = u_xx/π² + v_x + πu with u = 0 at both ends, v_t = v_xx/π² + u_x - πv with ∂v/∂n = 0:
    u = e^{-t} sin πx, v = e^{-t} cos πx. v's equation at the end nodes reads u_x there (u's ghost
    node by cubic extrapolation); second order all the same."""
    d = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 1)
    x, t = d.coords
    u, v = d.field("u"), d.field("v")
    p = pr.Problem(d, [Eq(dt(u), lap(u) / pi**2 + D(v, x) + pi * u), Eq(dt(v), lap(v) / pi**2 + D(u, x) - pi * v)],
                   [pr.Initial(Eq(u, sin(pi * x))), pr.Initial(Eq(v, cos(pi * x))), pr.Boundary(Eq(u, 0)),
                    pr.Boundary(Eq(dn(v), 0))])
    errors = _errors(p, [exp(-t) * sin(pi * x), exp(-t) * cos(pi * x)], (16, 32, 64))
    assert _second_order(errors), errors
