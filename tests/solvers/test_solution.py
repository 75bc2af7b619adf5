"""Solutions: save/load is bit-identical, derivatives agree across engines, grid solutions
interpolate their values, compare() of a solution with itself is perfect."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch

import pinr as pr
from pinr import D, Eq, lap
from pinr.solution import GridSolution, NeuralSolution, load
from pinr.solvers import PINNSolver


@pytest.fixture(scope="module")
def problem():
    dom = pr.Rectangle(x=(-1, 2), y=(0, 1))
    x, y = dom.coords
    u = dom.field("u")
    return pr.Problem(dom, [Eq(lap(u), sympy.sin(x) * y)], [pr.Boundary(Eq(u, 0))], name="poisson-test")


@pytest.fixture(scope="module", params=["siren", "mlp"])
def solution(request, problem):
    options = {"siren": dict(width=16, depth=1), "mlp": dict(width=16, depth=2, activation="tanh")}
    solver = PINNSolver.from_options(problem, backbone=request.param, backbone_options=options[request.param], steps=2,
                        batch=32, dtype="float64", device="cpu", progress=False, seed=0)
    return solver.run()


@pytest.fixture
def pts():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(200, 2)) * [3.0, 1.0] + [-1.0, 0.0]


def test_solution_is_a_neural_solution(solution, problem, pts):
    assert isinstance(solution, NeuralSolution) and isinstance(solution, pr.AbstractSolution)
    assert solution.fields == ("u",)
    out = solution(pts)
    assert isinstance(out, np.ndarray) and out.shape == (200, 1) and out.dtype == np.float64
    t = solution(torch.as_tensor(pts))
    assert isinstance(t, torch.Tensor) and np.array_equal(t.numpy(), out)
    with pytest.raises(ValueError, match="n_points, 2"):
        solution(pts[:, :1])


def test_save_load_round_trip_is_bit_identical(solution, pts, tmp_path):
    path = solution.save(tmp_path / "solution.pt")
    loaded = load(path)
    assert isinstance(loaded, NeuralSolution)
    assert loaded.fields == solution.fields
    assert [c.name for c in loaded.coords] == [c.name for c in solution.coords]
    assert loaded.backbone == solution.backbone and loaded.options == solution.options
    assert loaded.grid == solution.grid
    assert np.array_equal(loaded(pts), solution(pts))
    a, b = solution.on_grid(), loaded.on_grid()
    assert a.shape == (*solution.grid.shape, 1)
    assert np.array_equal(a, b)
    assert np.array_equal(solution.on_grid(16), loaded.on_grid(16))
    # a run directory holding solution.pt loads too
    assert np.array_equal(load(tmp_path)(pts), solution(pts))


def test_load_rejects_other_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a pinr solution"):
        load(tmp_path / "other.pt")


def test_space_time_solution_round_trip(tmp_path):
    dom = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 2)
    x, t = dom.coords
    u = dom.field("u")
    problem = pr.Problem(dom, [Eq(pr.dt(u), D(u, (x, 2)))], [pr.Initial(Eq(u, sympy.sin(sympy.pi * x)))])
    sol = PINNSolver.from_options(problem, backbone="siren", backbone_options=dict(width=8, depth=1), steps=1, batch=16,
                     dtype="float64", device="cpu", progress=False).run()
    loaded = load(sol.save(tmp_path / "st.pt"))
    assert type(loaded.coords[-1]) is type(sol.coords[-1])
    p = np.random.default_rng(1).uniform(size=(50, 2)) * [1.0, 2.0]
    assert np.array_equal(loaded(p), sol(p))


def test_a_time_scale_is_the_network_s_and_survives_a_round_trip(tmp_path):
    """``time_scale`` maps t_mid ± time_scale (not the interval's ends) onto ±1; a saved solution keeps it."""
    dom = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 0.2)
    x, t = dom.coords
    u = dom.field("u")
    problem = pr.Problem(dom, [Eq(pr.dt(u, 2), D(u, (x, 2)))], [pr.Initial(Eq(u, sympy.sin(sympy.pi * x)))])
    sol = PINNSolver.from_options(problem, backbone="siren", backbone_options=dict(width=8, depth=1), steps=1,
                                  batch=16, dtype="float64", device="cpu", progress=False, time_scale=0.5).run()
    z = sol.network.embed(torch.tensor([[0.0, 0.1 - 0.5], [1.0, 0.1 + 0.5]], dtype=torch.float64))
    assert torch.allclose(z, torch.tensor([[-1.0, -1.0], [1.0, 1.0]], dtype=torch.float64))
    loaded = load(sol.save(tmp_path / "st.pt"))
    p = np.random.default_rng(1).uniform(size=(50, 2)) * [1.0, 0.2]
    assert np.array_equal(loaded(p), sol(p))
    with pytest.raises(ValueError, match="time_scale must be a positive number"):
        PINNSolver.from_options(problem, time_scale=0.0, progress=False)
    still = pr.Problem(pr.Interval(x=(0, 1)), [Eq(D(u.func(x), x, x), 0)])
    with pytest.raises(ValueError, match="time_scale needs a time axis"):
        PINNSolver.from_options(still, time_scale=1.0, progress=False)


def test_evaluate_matches_across_engines(solution, problem, pts):
    u = problem.domain.field("u")
    x, y = problem.domain.coords
    for expr in (lap(u), D(u, x, y), pr.grad(u), u * D(u, (x, 2)) + x):
        jet = solution.evaluate(expr, pts, engine="jet")
        ag = solution.evaluate(expr, pts, engine="autograd")
        n_entries = len(expr) if isinstance(expr, sympy.MatrixBase) else 1
        assert jet.shape == ag.shape == (200, n_entries)
        assert np.abs(jet - ag).max() <= 1e-10 * np.abs(ag).max()
    # evaluate(u) is the solution itself
    np.testing.assert_allclose(solution.evaluate(u, pts)[:, 0], solution(pts)[:, 0], rtol=1e-14, atol=1e-14)


def test_evaluate_laplacian_matches_finite_differences(solution, problem, pts):
    u = problem.domain.field("u")
    got = solution.evaluate(lap(u), pts)[:, 0]
    h = 1e-4
    f = lambda q: solution(q)[:, 0]  # noqa: E731
    fd = sum((f(pts + e) - 2 * f(pts) + f(pts - e)) / h**2 for e in (np.array([h, 0]), np.array([0, h])))
    assert np.abs(got - fd).max() <= 1e-4 * max(1.0, np.abs(got).max())


def test_evaluate_with_dn_needs_normals(solution, problem, pts):
    u = problem.domain.field("u")
    with pytest.raises(ValueError, match="normals"):
        solution.evaluate(pr.dn(u), pts)


def test_grid_solution_interpolates_cell_centres():
    g = pr.Grid((7, 5), x=(0, 1.3), y=(-1, 2))
    values = np.random.default_rng(0).normal(size=(7, 5, 2))
    sol = GridSolution(values, g, fields=("a", "b"))
    centres = g.points(dtype=torch.float64).numpy()
    out = sol(centres)
    assert out.shape == (35, 2)
    np.testing.assert_allclose(out, values.reshape(-1, 2), rtol=0, atol=1e-13)
    assert np.array_equal(sol.on_grid(), values)
    # multilinear between the centres: the midpoint of two neighbours is their mean
    mid = (centres[0] + centres[5]) / 2  # (i=0, j=0) and (i=1, j=0)
    np.testing.assert_allclose(sol(mid[None])[0], (values[0, 0] + values[1, 0]) / 2, atol=1e-13)
    with pytest.raises(ValueError, match="do not match"):
        GridSolution(values, g, fields=("a",))


def test_scalar_grid_solution_accepts_grid_shaped_values():
    g = pr.Grid((4, 3), x=(0, 1), y=(0, 1))
    v = np.arange(12.0).reshape(4, 3)
    sol = GridSolution(v, g, fields=("u",))
    assert sol.on_grid().shape == (4, 3, 1)
    np.testing.assert_allclose(sol(g.points(dtype=torch.float64).numpy())[:, 0], v.reshape(-1), atol=1e-13)


def test_compare_identical_solutions(solution, tmp_path):
    metrics = pr.compare(solution, solution)
    assert metrics["rel_l2"] == 0.0
    assert metrics["max_abs"] == 0.0
    assert metrics["psnr"] == float("inf")
    loaded = load(solution.save(tmp_path / "s.pt"))
    again = pr.compare(loaded, solution)
    assert again["rel_l2"] == 0.0 and again["psnr"] == float("inf")


def test_compare_grid_solutions_known_error():
    g = pr.Grid((8, 8), x=(0, 1), y=(0, 1))
    v = np.random.default_rng(3).normal(size=(8, 8))
    a = GridSolution(v, g, fields=("u",))
    b = GridSolution(1.1 * v, g, fields=("u",))
    m = pr.compare(b, a)
    assert m["rel_l2"] == pytest.approx(0.1, rel=1e-12)
    assert m["max_abs"] == pytest.approx(0.1 * np.abs(v).max(), rel=1e-12)
    with pytest.raises(ValueError, match="fields"):
        pr.compare(GridSolution(v, g, fields=("w",)), a)


def test_values_on_a_grid_are_computed_once_while_the_weights_are_unchanged(problem):
    """A run's final validation, metrics and plots read the same grid: the network passes over it
    once; a step of the optimiser (an in-place change of a weight) makes the next read recompute."""
    options = dict(width=8, depth=1, activation="tanh")
    solver = PINNSolver.from_options(problem, backbone="mlp", backbone_options=options, steps=1, batch=16,
                                     dtype="float64", device="cpu", progress=False, seed=0)
    first = solver.run()
    calls = []
    first.network.register_forward_hook(lambda *_: calls.append(1))
    grid = first.grid
    a = first.values_on(grid)
    assert len(calls) == 1
    again = solver.solution()  # a second solution of the same network, as validation and outputs build
    b = again.values_on(grid)
    assert len(calls) == 1 and np.array_equal(a, b)
    b += 1.0  # callers own what they get: the kept values are not theirs to change
    assert np.array_equal(first.values_on(grid), a) and len(calls) == 1
    coarser = pr.solvers.grid_of(problem.domain, 16)
    assert first.values_on(coarser).shape == (*coarser.shape, 1) and len(calls) == 2
    with torch.no_grad():
        next(first.network.parameters()).add_(0.5)
    changed = first.values_on(grid)
    assert len(calls) == 3 and not np.array_equal(changed, a)
    points = pr.solution.lattice_points(grid, 0, grid.size).numpy()
    assert np.array_equal(changed, first(points).reshape(changed.shape))
