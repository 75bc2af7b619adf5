"""Time marching (pinr.solvers.marching): regions moved into windows, a window's start, the handover
between windows, the marched answer against exact solutions, saving, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch

import pinr as pr
from pinr import Eq, cos, dt, exp, lap, pi, sin
from pinr.domains import ConePatch, DiskPatch
from pinr.errors import ProblemError
from pinr.solvers import MarchedSolution, MarchingSolver, PINNSolver
from pinr.solvers.marching import time_orders, window_problem, window_start
from pinr.symbolic.known import WindowStart, known_apps


def wave_1d(t_end=0.5):
    """u_tt = u_xx on (0, 1), u = sin(πx), u_t = 0 at t = 0, u = 0 at the ends: u = cos(πt) sin(πx)."""
    dom = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, t_end)
    x, t = dom.coords
    u = dom.field("u")
    return pr.Problem(dom, [Eq(dt(u, 2), lap(u))],
                      [pr.Initial(Eq(u, sin(pi * x)), weight=3.0, name="u0"), pr.Initial(Eq(dt(u), 0), name="v0"),
                       pr.Boundary(Eq(u, 0), name="wall")],
                      exact={"u": cos(pi * t) * sin(pi * x)}, name="wave-1d")


def heat_1d():
    """u_t = u_xx/10 on (0, 1) × (0, 0.3), u = sin(πx) at t = 0, 0 at the ends: u = exp(-π²t/10) sin(πx)."""
    dom = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 0.3)
    x, t = dom.coords
    u = dom.field("u")
    return pr.Problem(dom, [Eq(dt(u), lap(u) / 10)], [pr.Initial(Eq(u, sin(pi * x))), pr.Boundary(Eq(u, 0))],
                      exact={"u": exp(-pi**2 * t / 10) * sin(pi * x)}, name="heat-1d")


# ------------------------------------------------------------------------------ the start
def test_window_start_interpolates_with_exact_derivatives():
    """The spline through a lattice takes its values at the nodes, and between them converges to the
    function at fourth order and its second derivatives at second order; saved and rebuilt it is the
    same function."""
    p = np.random.default_rng(0).uniform(-0.9, 0.9, (400, 2))
    exact_v = np.sin(2 * p[:, 0]) * np.cos(p[:, 1])
    exact_xy = -2 * np.cos(2 * p[:, 0]) * np.sin(p[:, 1])
    errors = []
    for n in (49, 97, 193):
        x = np.linspace(-1, 1, n)
        X, Y = np.meshgrid(x, x, indexing="ij")
        f = np.sin(2 * X) * np.cos(Y)
        start = WindowStart(axes=[x, x], values=np.stack([f, X * Y], -1), labels=("u", "u_t"), time=0.2)
        nodes = np.stack([X.ravel(), Y.ravel()], -1)
        assert np.abs(start.derivatives(nodes)[(0, 0)][:, 0] - f.ravel()).max() < 1e-12
        d = start.derivatives(p)
        errors.append((np.abs(d[(0, 0)][:, 0] - exact_v).max(), np.abs(d[(1, 1)][:, 0] - exact_xy).max()))
        assert np.abs(d[(1, 1)][:, 1] - 1).max() < 1e-9  # xy is in the spline's space: exact
    (v1, h1), (v2, h2), (v3, h3) = errors
    assert v2 / v3 > 12 and h2 / h3 > 3.2, errors  # orders 4 and 2 (ratios 16 and 4 at halved spacing)
    assert v3 < 1e-7
    again = WindowStart.from_spec(start.spec())
    assert np.array_equal(again.derivatives(p)[(0, 2)], d[(0, 2)])


def test_known_part_is_differentiable_by_its_next_orders():
    """Nested autograd through a known part (a hard form holding a window's start) gets the part's
    own first and second derivatives."""
    x = np.linspace(0, 1, 65)
    start = WindowStart(axes=[x], values=np.sin(3 * x), time=0.0)
    p = torch.linspace(0.1, 0.9, 7, dtype=torch.float64)[:, None].requires_grad_(True)
    v = start.evaluate(p, 0, (0,))
    (g,) = torch.autograd.grad(v.sum(), p, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), p)
    ref = p.detach()[:, 0]
    assert torch.allclose(g[:, 0], 3 * torch.cos(3 * ref), atol=1e-5)
    assert torch.allclose(h[:, 0], -9 * torch.sin(3 * ref), atol=5e-3)  # the spline's O(h²) in the second derivative


def test_time_orders_read_the_equations():
    assert time_orders(wave_1d()) == {"u": 2}
    assert time_orders(heat_1d()) == {"u": 1}


# ------------------------------------------------------------------------------ regions in a window
def test_regions_move_into_a_window():
    dom = pr.Rectangle(x=(-1, 1), y=(-1, 1)) * pr.TimeInterval(0, 1)
    window = dom.space * pr.TimeInterval(0.5, 0.75)
    g = torch.Generator().manual_seed(0)
    for region in (dom.interior, dom.boundary, dom.boundary["x-"], dom.initial, dom.boundary.where(dom.coords[1] > 0),
                   DiskPatch(dom, (0, 0), 0.2, name="disk")):
        moved = region.in_window(window)
        assert type(moved) is type(region) and moved.domain is window and moved.name == region.name
        t = moved.sample(256, generator=g, dtype=torch.float64).points[:, -1]
        if region is dom.initial:
            assert torch.all(t == 0.5)
        else:
            assert 0.5 <= float(t.min()) and float(t.max()) <= 0.75
    # the front keeps its apex at the start of the whole interval
    cone = ConePatch(dom, (0, 0), (1.0, 2.0), 0.05).in_window(window)
    pts = cone.sample(512, generator=g, dtype=torch.float64).points
    r, t = pts[:, :2].norm(dim=1), pts[:, 2]
    assert torch.all(r >= torch.clamp(t - 0.05, min=0) - 1e-12) and torch.all(r <= 2 * t + 0.05 + 1e-12)
    with pytest.raises(ValueError, match="outside the window"):
        DiskPatch(dom, (0, 0), 0.2, time=0.0).in_window(window)
    with pytest.raises(ProblemError, match="cannot be moved into a time window"):
        dom.space.interior.in_window(window)  # a region of the space alone has no time to move


def test_window_problem_replaces_the_initial_conditions_by_the_start():
    p = wave_1d()
    first = window_problem(p, 0.0, 0.25)
    assert [c.name for c in first.conditions] == [c.name for c in p.conditions]
    assert first.domain.bounds[-1].tolist() == [0.0, 0.25]
    x = np.linspace(0, 1, 33)
    start = WindowStart(axes=[x], values=np.stack([np.sin(np.pi * x), 0 * x], -1), labels=("u", "u_t"), time=0.25)
    g, v = known_apps(start, p.domain.space.coords)
    later = window_problem(p, 0.25, 0.5, start={("u", 0): g, ("u", 1): v})
    by_name = {c.name: c for c in later.conditions}
    assert set(by_name) == {"pde", "wall", "u0", "v0"}
    assert by_name["u0"].weight == 3.0 and by_name["u0"].on.domain is later.domain  # the original's weight
    assert float(later.domain.bounds[-1, 0]) == 0.25


# ------------------------------------------------------------------------------ the handover
def test_windows_hand_over_continuous_values_and_velocities():
    """With the initial conditions hard (as auto chooses for a wave), the second window starts at
    exactly the first one's values and time derivative at the edge — whatever the training reached."""
    p = wave_1d()
    sol = pr.solve(p, windows=2, steps=16, hard="initial", dtype="float64", progress=False)
    assert isinstance(sol, MarchedSolution) and sol.edges == [0.0, 0.25, 0.5]
    a, b = sol.windows
    assert b.options == a.options  # the second window trains the first's network (its weights are handed over)
    assert sol.grid.bounds[-1].tolist() == [0.0, 0.5]
    xs = np.linspace(0, 1, 101)
    edge = np.stack([xs, np.full_like(xs, 0.25)], 1)
    u = p.field_apps[0]
    size = np.abs(a(edge)).max()
    assert np.abs(a(edge) - b(edge)).max() < 1e-6 * size
    assert np.abs(a.evaluate(dt(u), edge) - b.evaluate(dt(u), edge)).max() < 1e-5 * max(size, 1.0)
    # the marched answer takes the first window's value at the edge and the second's after it
    after = edge + [0, 1e-3]
    assert np.array_equal(sol(edge), a(edge)) and np.array_equal(sol(after), b(after))


def test_marched_heat_reaches_the_exact_solution():
    p = heat_1d()
    sol = pr.solve(p, windows=3, steps=60, progress=False)
    err = pr.compare(sol, pr.solvers.ExactSolution(p))["rel_l2"]
    assert err < 1e-4
    assert sol.verdict.ok, sol.verdict.line()
    assert sum(1 for k in sol.verdict.checks if k.startswith("residual/")) >= 3 * 2  # each window judged


def test_marched_ode_system_starts_each_window_at_numbers():
    dom = pr.TimeInterval(0, 2)
    (t,) = dom.coords
    a, b = dom.field("a"), dom.field("b")
    p = pr.Problem(dom, [Eq(dt(a), b), Eq(dt(b), -a)], [pr.Initial(Eq(a, 0)), pr.Initial(Eq(b, 1))],
                   exact={"a": sin(t), "b": cos(t)}, name="oscillator")
    sol = pr.solve(p, windows=2, steps=60, progress=False)
    assert pr.compare(sol, pr.solvers.ExactSolution(p))["rel_l2"] < 1e-4
    start = window_start(sol.windows[0], p, 1.0)
    assert all(isinstance(v, sympy.Float) for v in start.values())
    assert abs(float(start[("a", 0)]) - np.sin(1.0)) < 1e-4


def test_a_marched_solution_saves_and_loads(tmp_path):
    sol = pr.solve(wave_1d(), windows=2, steps=4, hard="initial", progress=False, out=tmp_path / "run")
    back = pr.load(tmp_path / "run")
    assert isinstance(back, MarchedSolution) and back.edges == sol.edges
    p = np.random.default_rng(1).uniform([0, 0], [1, 0.5], (64, 2))
    assert np.allclose(back(p), sol(p), rtol=1e-6, atol=1e-7)
    assert (tmp_path / "run" / "metrics.json").exists() and (tmp_path / "run" / "history.csv").exists()


# ------------------------------------------------------------------------------ errors
def test_marching_refusals(tmp_path):
    with pytest.raises(ValueError, match="windows .* needs a time axis"):
        pr.solve(pr.Problem(pr.Interval(x=(0, 1)), [Eq(lap(pr.Interval(x=(0, 1)).field("u")), 0)]), windows=2)
    with pytest.raises(ValueError, match="solve with pr.solve"):
        PINNSolver.from_options(heat_1d(), windows=2)
    with pytest.raises(ValueError, match="resume"):
        MarchingSolver(heat_1d(), windows=2, resume=str(tmp_path))
    dom = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 1)
    u = dom.field("u")
    with pytest.raises(ValueError, match="no time derivative"):
        MarchingSolver(pr.Problem(dom, [Eq(lap(u), 0)], [pr.Boundary(Eq(u, 0))]), windows=2)
    with pytest.raises(ValueError, match="positive integer"):
        pr.solve(heat_1d(), windows=0)
