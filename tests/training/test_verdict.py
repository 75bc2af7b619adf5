"""The verdict on a run: residual sizes by their parts, trusted and untrusted runs, metrics.json."""

from __future__ import annotations

import json
import math

import pytest
import sympy
import torch

import pinr as pr
from pinr import Eq, lap, pi, sin
from pinr.compiler import compile_problem
from pinr.derivatives import select_engine
from pinr.solvers import PINNSolver
from pinr.training.batch import Batch
from pinr.training.parameters import ParameterSet
from pinr.training.terms import Model
from pinr.training.verdict import LIMITS, Check, Verdict, judge


def poisson_1d(exact: bool = True):
    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    return pr.Problem(d, [Eq(-u.diff(x, 2), pi**2 * sin(pi * x))], [pr.Boundary(Eq(u, 0))],
                      exact={"u": sin(pi * x)} if exact else None)


class Saddle(torch.nn.Module):
    """u = x² - y²: harmonic, with u_xx = 2 and u_yy = -2."""

    def forward(self, p):
        return (p[:, :1] ** 2 - p[:, 1:2] ** 2)


def test_part_sizes_are_the_root_sum_of_squares_of_the_additive_parts():
    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    problem = pr.Problem(d, [Eq(-u.diff(x, 2) + u**3, 5 * x)], [pr.Boundary(Eq(u, 0))])
    expr = compile_problem(problem).terms[0].expression
    p = torch.linspace(0, 1, 7, dtype=torch.float64)[:, None]
    values = {a: torch.full((7,), float(a.order + 2), dtype=torch.float64) for a in expr.atoms}  # u = 2, u'' = 4
    av = [values[a] for a in expr.atoms]
    sizes = expr.part_sizes(p, None, av)
    expected = torch.sqrt(4.0**2 + 2.0**6 + (5 * p[:, 0]) ** 2)
    torch.testing.assert_close(sizes[0], expected)


def test_a_laplacian_counts_as_its_members():
    d = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    u = d.field("u")
    x, y = d.coords
    problem = pr.Problem(d, [Eq(lap(u), 0)], [pr.Boundary(Eq(u, x**2 - y**2))])
    compiled = compile_problem(problem)
    assert compiled.terms[0].expression.combos  # the Laplacian is one stream
    net = Saddle()
    model = Model(net, select_engine(net, "autograd", max_order=2), ParameterSet({}))
    pts = torch.rand(50, 2, dtype=torch.float64) * 2 - 1
    rows, sizes = model.residuals_and_sizes(compiled.terms[0].expression, Batch(pts))
    assert rows.abs().max() < 1e-12  # harmonic
    torch.testing.assert_close(sizes, torch.full_like(sizes, math.sqrt(8.0)))  # sqrt(2² + 2²), not |Δu| = 0


def test_judge_an_exact_answer_is_trusted_and_a_wrong_one_is_not():
    d = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    x, y = d.coords
    u = d.field("u")
    problem = pr.Problem(d, [Eq(lap(u), 0)], [pr.Boundary(Eq(u, x**2 - y**2))])
    solver = PINNSolver.from_options(problem, progress=False, optimizer="adam", steps=1, dtype="float64", hard=False)
    net = Saddle()
    model = Model(net, select_engine(net, "autograd", max_order=2), ParameterSet({}))
    good = judge(model, solver.terms)
    assert good.ok and all(c.value < 1e-10 for c in good.checks.values())
    assert set(good.checks) == {"residual/pde", "residual/boundary"}

    class Off(Saddle):
        def forward(self, p):
            return super().forward(p) + 0.1 * torch.sin(3 * p[:, :1])

    off = Off()
    bad = judge(Model(off, select_engine(off, "autograd", max_order=2), ParameterSet({})), solver.terms,
                advice="more steps")
    assert not bad.ok and bad.checks["residual/pde"].value > LIMITS["residual"]
    assert bad.line().startswith("verdict: NOT trusted") and "try more steps" in bad.line()


def test_checks_and_lines():
    v = Verdict({"reference": Check(3e-3, 1e-2, "the error"), "residual/pde": Check(5e-4, 0.3, "r")})
    assert v.ok and "rel. L2 0.003" in v.line()
    d = v.as_dict()
    assert d["ok"] is True and d["checks"]["reference"]["ok"] is True and json.dumps(d)
    nan = Verdict({"residual/pde": Check(float("nan"), 1e-2, "the residual")}, advice="dtype='float64'")
    assert not nan.ok and "NOT trusted" in nan.line() and nan.as_dict()["checks"]["residual/pde"]["value"] == "nan"
    assert not Verdict({}).ok and "not checked" in Verdict({}).line()
    low = Verdict({"reference_psnr": Check(25.0, 30.0, "the PSNR", at_least=True)})  # an image: a PSNR to reach
    assert not low.ok and "(at least 30)" in low.line()
    high = Verdict({"reference_psnr": Check(37.5, 30.0, "the PSNR", at_least=True)})
    assert high.ok and high.line().startswith("verdict: trusted (PSNR 37.5 dB")


def test_a_converged_run_is_trusted_and_an_undertrained_one_is_not(tmp_path):
    problem = poisson_1d()
    good = pr.solve(problem, progress=False, steps=40, out=tmp_path / "good")  # natural steps, float64
    assert good.verdict.ok, good.verdict.line()
    assert good.verdict.checks["reference"].value < 1e-4
    record = json.loads((tmp_path / "good" / "metrics.json").read_text())
    assert record["verdict"]["ok"] is True and record["verdict"]["line"].startswith("verdict: trusted")
    bad = pr.solve(problem, progress=False, optimizer="adam", steps=2)
    assert not bad.verdict.ok
    assert "NOT trusted" in bad.verdict.line() and "optimizer='natural'" in bad.verdict.line()


def test_without_a_reference_the_residuals_decide():
    problem = poisson_1d(exact=False)
    good = pr.solve(problem, progress=False, steps=40, reference_solution=None)
    assert "reference" not in good.verdict.checks and good.verdict.ok, good.verdict.line()
    bad = pr.solve(problem, progress=False, optimizer="adam", steps=5, reference_solution=None)
    assert not bad.verdict.ok and bad.verdict.checks["residual/pde"].value > LIMITS["residual"]


def test_hard_conditions_are_checked_on_the_answer_as_users_get_it():
    problem = poisson_1d(exact=False)
    sol = pr.solve(problem, progress=False, optimizer="adam", steps=3, hard=True, reference_solution=None)
    assert sol.verdict.checks["residual/boundary"].value < 1e-6  # imposed exactly by the answer's form


def test_an_unasked_lbfgs_finish_fits_in_the_steps():
    problem = poisson_1d()
    two = PINNSolver.from_options(problem, progress=False, optimizer="adam", steps=2)
    assert two.config.optim.lbfgs_steps == 0 and "quarter" in two.resolved.sources["lbfgs_steps"]
    hundred = PINNSolver.from_options(problem, progress=False, optimizer="adam", steps=100)
    assert hundred.config.optim.lbfgs_steps == 25
    asked = PINNSolver.from_options(problem, progress=False, optimizer="adam", steps=2, lbfgs_steps=7)
    assert asked.config.optim.lbfgs_steps == 7
    default = PINNSolver.from_options(problem, progress=False, optimizer="adam")
    assert default.config.optim.lbfgs_steps == 500


@pytest.mark.parametrize("value", [sympy.pi**2, sympy.E, sympy.Rational(3, 7), sympy.sqrt(2)])
def test_constants_anywhere_are_judged(value):
    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    problem = pr.Problem(d, [Eq(-u.diff(x, 2), value * sin(pi * x))], [pr.Boundary(Eq(u, 0))],
                         exact={"u": value / pi**2 * sin(pi * x)})
    sol = pr.solve(problem, progress=False, steps=20)
    assert sol.verdict.ok, sol.verdict.line()
