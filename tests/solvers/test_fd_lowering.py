"""General FD lowering: second-order convergence on manufactured solutions for each path
(stationary real, stationary complex, leapfrog, Crank–Nicolson), and the statements it refuses."""

import numpy as np
import pytest
import sympy
import torch
from sympy import I

import pinr as pr
from pinr import D, Eq, cos, dn, dt, exp, lap, pi, sin, sqrt
from pinr.solvers import FDSolver


def _max_error(problem, exact, n, **options):
    """Max nodal error of the FD solution at ``n`` cells against sympy ``exact`` (one per field)."""
    sol = FDSolver(problem, resolution=n, **options).solve()
    pts = sol.grid.points(dtype=torch.float64).numpy()
    vals = sol.on_grid().reshape(len(pts), -1)
    exact = exact if isinstance(exact, list) else [exact]
    ref = np.stack([np.broadcast_to(sympy.lambdify(problem.domain.coords, e, "numpy")(*pts.T), len(pts))
                    for e in exact], axis=-1)
    return float(np.abs(vals - ref).max()), sol


def _ratios(errors):
    return [errors[i] / errors[i + 1] for i in range(len(errors) - 1)]


def test_stationary_real_variable_coefficients_converge_at_second_order():
    """∂x(a ∂x u) + u_yy + ½u_xy + y u_y − 3u = f with a = 1 + x²/2 + y/3 (expanded by the product
    rule), Dirichlet on x±, Neumann on y−, Robin on y+."""
    d = pr.Rectangle(x=(-1, 1), y=(0, 1.5))
    x, y = d.coords
    u = d.field("u")
    a = 1 + x**2 / 2 + y / 3
    exact = sin(2 * x) * cos(sympy.Rational(3, 2) * y) + x * y

    def op(v):
        return sympy.diff(a * sympy.diff(v, x), x) + sympy.diff(v, y, 2) + sympy.diff(v, x, y) / 2 \
            + y * sympy.diff(v, y) - 3 * v

    p = pr.Problem(d, [Eq(D(a * D(u, x), x) + D(u, (y, 2)) + D(u, x, y) / 2 + y * D(u, y) - 3 * u, op(exact))],
                   [pr.Boundary(Eq(u, exact), on="x-"), pr.Boundary(Eq(u, exact), on="x+"),
                    pr.Boundary(Eq(dn(u), -sympy.diff(exact, y)), on="y-"),
                    pr.Boundary(Eq(dn(u) + u, sympy.diff(exact, y) + exact), on="y+")])
    errors = []
    for n in (16, 32, 64):
        e, sol = _max_error(p, exact, n)
        errors.append(e)
    assert sol.metadata["kind"] == "stationary" and sol.metadata["system"] == "float64"
    assert all(3.6 < r < 4.6 for r in _ratios(errors)), errors


def test_stationary_complex_converges_at_second_order_in_complex128():
    """A complex statement over (u_re, u_im): ∂x((1 − i x²/2) ∂x u) + u_yy + (1 + i y) k² u = f,
    Dirichlet on three sides, Neumann on y+; solved as one complex128 system."""
    d = pr.Rectangle(x=(0, 1), y=(0, 1))
    x, y = d.coords
    u = d.field("u", components=("re", "im"))
    U = u[0] + I * u[1]
    k = pr.Parameter("k", 4.0)
    ax = 1 - I * x**2 / 2
    exact = exp(I * (3 * x + 2 * y)) * (1 + x * y)

    def op(v, kk):
        return sympy.diff(ax * sympy.diff(v, x), x) + sympy.diff(v, y, 2) + (1 + I * y) * kk**2 * v

    p = pr.Problem(d, [Eq(op(U, k), op(exact, 4))],
                   [*(pr.Boundary(Eq(U, exact), on=s) for s in ("x-", "x+", "y-")),
                    pr.Boundary(Eq(dn(U), sympy.diff(exact, y)), on="y+")])
    errors = []
    for n in (16, 32, 64):
        e, sol = _max_error(p, [sympy.re(exact), sympy.im(exact)], n)
        errors.append(e)
    assert sol.metadata["system"] == "complex128"
    assert all(3.6 < r < 4.6 for r in _ratios(errors)), errors


def test_leapfrog_standing_wave_converges_at_second_order():
    """u_tt = Δu on [0, 1]², u = 0 on the boundary, u(x, 0) = sin(πx) sin(πy), u_t(x, 0) = 0:
    u = sin(πx) sin(πy) cos(√2 π t); dt from the CFL bound."""
    d = pr.Rectangle(x=(0, 1), y=(0, 1)) * pr.TimeInterval(0, 0.75)
    x, y, t = d.coords
    u = d.field("u")
    exact = sin(pi * x) * sin(pi * y) * cos(sqrt(2) * pi * t)
    p = pr.Problem(d, [Eq(dt(u, 2), lap(u))],
                   [pr.Initial(Eq(u, sin(pi * x) * sin(pi * y))), pr.Initial(Eq(dt(u), 0)), pr.Boundary(Eq(u, 0))])
    errors = []
    for n in (16, 32, 64):
        e, sol = _max_error(p, exact, n, slices=4)
        errors.append(e)
    assert sol.metadata["kind"] == "leapfrog"
    assert sol.metadata["dt"] <= 0.5 / 64 / np.sqrt(2) + 1e-12  # half the CFL bound h/√2
    assert all(3.6 < r < 4.6 for r in _ratios(errors)), errors


def test_crank_nicolson_heat_converges_at_second_order():
    """u_t = ∂x(κ ∂x u) + u_yy + f with κ = 1 + xy/2, Dirichlet data, dt = h."""
    d = pr.Rectangle(x=(0, 1), y=(0, 1)) * pr.TimeInterval(0, 0.5)
    x, y, t = d.coords
    u = d.field("u")
    exact = exp(-t) * cos(pi * x / 2) * (1 + y**2) + t * x
    kap = 1 + x * y / 2

    def op(v):
        return sympy.diff(v, t) - sympy.diff(kap * sympy.diff(v, x), x) - sympy.diff(v, y, 2)

    p = pr.Problem(d, [Eq(dt(u) - D(kap * D(u, x), x) - D(u, (y, 2)), op(exact))],
                   [pr.Initial(Eq(u, exact.subs(t, 0))), pr.Boundary(Eq(u, exact))])
    errors = []
    for n in (8, 16, 32):
        e, sol = _max_error(p, exact, n, dt=1.0 / n, slices=2)
        errors.append(e)
    assert sol.metadata["kind"] == "crank-nicolson"
    assert all(3.6 < r < 4.6 for r in _ratios(errors)), errors


def test_crank_nicolson_with_neumann_end_in_1d():
    """u_t = u_xx − 2 on [0, 1] with u_x(0) = 0 (one-sided stencil) and u(1, t) given:
    u = e^{-t} cos(x) + x²; dt = h/10 so the spatial error shows. The ratio approaches 4
    from below (3.56, 3.78)."""
    d = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 0.5)
    x, t = d.coords
    u = d.field("u")
    exact = exp(-t) * cos(x) + x**2
    p = pr.Problem(d, [Eq(dt(u), D(u, (x, 2)) - 2)],
                   [pr.Initial(Eq(u, exact.subs(t, 0))), pr.Boundary(Eq(dn(u), 0), on="x-"),
                    pr.Boundary(Eq(u, exact), on="x+")])
    errors = [_max_error(p, exact, n, dt=0.1 / n, slices=2)[0] for n in (32, 64, 128)]
    assert all(3.5 < r < 4.6 for r in _ratios(errors)), errors


def test_damped_wave_in_1d_with_neumann_end():
    """u_tt + u_t = u_xx on [0, 1], u(0) = 0, u_x(1) = 0 (Neumann): u = e^{-t/2} cos(ωt) sin(πx/2)
    with ω² = π²/4 − 1/4; leapfrog with the centred u_t. The ratio approaches 4 from above (4.8, 4.45)."""
    d = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 1)
    x, t = d.coords
    u = d.field("u")
    w = sqrt(pi**2 / 4 - sympy.Rational(1, 4))
    exact = exp(-t / 2) * cos(w * t) * sin(pi * x / 2)
    p = pr.Problem(d, [Eq(dt(u, 2) + dt(u), D(u, (x, 2)))],
                   [pr.Initial(Eq(u, sin(pi * x / 2))), pr.Initial(Eq(dt(u), -sin(pi * x / 2) / 2)),
                    pr.Boundary(Eq(u, 0), on="x-"), pr.Boundary(Eq(dn(u), 0), on="x+")])
    errors = [_max_error(p, exact, n, slices=3)[0] for n in (64, 128, 256)]
    assert all(3.6 < r < 5.0 for r in _ratios(errors)), errors


def test_unsupported_statements_name_the_culprit():
    d = pr.Rectangle(x=(0, 1), y=(0, 1))
    x, y = d.coords
    u = d.field("u")
    bc = pr.Boundary(Eq(u, 0))
    with pytest.raises(NotImplementedError, match=r"term 'pde' is not linear.*u_x"):
        FDSolver(pr.Problem(d, [Eq(lap(u) + u * D(u, x), 1)], [bc]), resolution=8).solve()
    with pytest.raises(NotImplementedError, match="spatial order 3"):
        FDSolver(pr.Problem(d, [Eq(D(u, (x, 3)) + lap(u), 1)], [bc]), resolution=8).solve()
    with pytest.raises(NotImplementedError, match=r"side\(s\) \['y\+'\]"):
        FDSolver(pr.Problem(d, [Eq(lap(u), 1)], [pr.Boundary(Eq(u, 0), on=s) for s in ("x-", "x+", "y-")]),
                 resolution=8).solve()
    disk = pr.Disk(radius=1.0)
    v = disk.field("v")
    with pytest.raises(NotImplementedError, match="unsupported geometry"):
        FDSolver(pr.Problem(disk, [Eq(lap(v), 1)], [pr.Boundary(Eq(v, 0))]), resolution=8).solve()
    st = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 1)
    (xs, ts), w = st.coords, st.field("w")
    with pytest.raises(NotImplementedError, match="mixed time-space derivative w_xt"):
        FDSolver(pr.Problem(st, [Eq(dt(w) + D(w, xs, ts), D(w, (xs, 2)))],
                            [pr.Initial(Eq(w, 0)), pr.Boundary(Eq(w, 0))]), resolution=8).solve()
    with pytest.raises(NotImplementedError, match="initial condition"):
        FDSolver(pr.Problem(st, [Eq(dt(w, 2), D(w, (xs, 2)))], [pr.Initial(Eq(w, 0)), pr.Boundary(Eq(w, 0))]),
                 resolution=8).solve()


def test_extra_collocation_region_repeating_an_equation_adds_nothing():
    from pinr.domains import DiskPatch

    d = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    x, y = d.coords
    u = d.field("u")
    eq = Eq(lap(u), exp(-(x**2 + y**2)))
    plain = pr.Problem(d, [eq], [pr.Boundary(Eq(u, 0))])
    extra = pr.Problem(d, [eq], [pr.Boundary(Eq(u, 0)), pr.Condition(eq, on=DiskPatch(d, (0, 0), 0.2))])
    a, b = FDSolver(plain, resolution=16).solve(), FDSolver(extra, resolution=16).solve()
    assert np.array_equal(a.values, b.values)
    other = pr.Problem(d, [eq], [pr.Boundary(Eq(u, 0)), pr.Condition(Eq(u, 1), on=DiskPatch(d, (0, 0), 0.2))])
    with pytest.raises(NotImplementedError, match="term 'source'"):
        FDSolver(other, resolution=16).solve()
