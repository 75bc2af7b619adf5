"""FD lowering of problem statements: second-order convergence against exact solutions."""

import numpy as np
import pytest
import sympy
import torch

import pinr as pr
from pinr import Eq, cos, grad, lap, pi
from pinr.solvers import FDSolver


def _max_error(problem, exact, n):
    sol = FDSolver(problem, resolution=n).solve()
    g = sol.grid
    pts = g.points(dtype=torch.float64).numpy()
    f = sympy.lambdify(problem.domain.coords, exact, "numpy")
    e = f(pts[:, 0], pts[:, 1])
    u = sol.on_grid()[..., 0].ravel()
    return np.abs((u - u.mean()) - (e - e.mean())).max()


@pytest.mark.parametrize("form", ["laplacian", "gradient"])
def test_poisson_lowering_converges_at_second_order(form):
    d = pr.Rectangle(x=(-1, 1), y=(-1, 2))
    x, y = d.coords
    u = d.field("u")
    exact = cos(pi * x) * cos(pi * (y + 1) / 3) + sympy.Rational(1, 10) * x**2 * (x**2 / 2 - 1)
    if form == "laplacian":
        eq = Eq(lap(u), sympy.diff(exact, x, 2) + sympy.diff(exact, y, 2))
    else:
        eq = Eq(grad(u), [sympy.diff(exact, x), sympy.diff(exact, y)])
    p = pr.Problem(d, [eq])
    errs = [_max_error(p, exact, n) for n in (24, 48, 96)]
    ratios = [errs[i] / errs[i + 1] for i in range(2)]
    assert all(3.5 < r < 4.5 for r in ratios), (errs, ratios)


def test_values_lowering_is_exact_on_grid():
    p = pr.problems.get("image", size=16)
    fd = pr.solve(p, solver="fd")
    assert pr.compare(fd, pr.reference(p))["max_abs"] == 0.0


@pytest.mark.parametrize("mode", ["gradient", "laplacian"])
def test_poisson_image_reference_recovers_image(mode):
    p = pr.problems.get("poisson-image", size=32, mode=mode)
    m = pr.compare(pr.solve(p, solver="fd"), pr.reference(p))
    assert m["max_abs"] < 1e-10 and m["psnr"] > 200


def test_unsupported_statements_raise_naming_the_term():
    d = pr.Rectangle(x=(0, 1), y=(0, 1))
    u = d.field("u")
    p = pr.Problem(d, [Eq(lap(u) + u * pr.D(u, d.coords[0]), 1)])
    with pytest.raises(NotImplementedError, match="pde"):
        FDSolver(p, resolution=8).solve()
    # Dirichlet conditions are lowered now (tests/solvers/test_fd_lowering.py); a nonlinear one is not
    p = pr.Problem(d, [Eq(lap(u), 1)], [pr.Boundary(Eq(u * pr.D(u, d.coords[0]), 0))])
    with pytest.raises(NotImplementedError, match="boundary"):
        FDSolver(p, resolution=8).solve()
    dt = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 1)
    v = dt.field("v")
    with pytest.raises(NotImplementedError, match="time-dependent"):
        FDSolver(pr.Problem(dt, [Eq(pr.dt(v), lap(v))]), resolution=8).solve()
