"""The natural-gradient step (:mod:`pinr.training.natural`) against mathematics: one damped
Gauss–Newton step on a linear least-squares problem is its minimiser; the per-point Jacobian equals
reverse mode on the real modules row by row (float64, with a hard constraint, a trainable parameter
and an observation); the ``P × P`` and Woodbury solves agree; every least-squares reduction's row
weights give back its loss; a plainly stated 1-D Poisson problem reaches 1e-6; resume is exact;
the refusals are one line each."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from small_problems import poisson_1d

import pinr as pr
from pinr import Eq, lap, pi, sin
from pinr.derivatives import select_engine
from pinr.solvers import PINNSolver
from pinr.training.batch import Batch
from pinr.training.natural import (
    NaturalGradient,
    damped_solve,
    flatten,
    residual_jacobian,
    stacked_residuals,
    unfit_reason,
)
from pinr.training.terms import Causal, MeanSquare, Observation, SumSquare

SMALL = dict(backbone="siren", backbone_options=dict(width=8, depth=1, omega0=3.0, omega_hidden=1.0),
             dtype="float64", progress=False, device="cpu", seed=0)


def _linear(m: int, p: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(m, p, generator=g, dtype=torch.float64)
    b = torch.randn(m, generator=g, dtype=torch.float64)
    theta = torch.nn.Parameter(torch.randn(p, generator=g, dtype=torch.float64))
    return a, b, theta


@pytest.mark.parametrize("m, p", [(40, 12), (12, 40)], ids=["overdetermined (P x P)", "underdetermined (Woodbury)"])
def test_one_damped_gauss_newton_step_on_linear_least_squares_lands_on_the_minimiser(m, p):
    a, b, theta = _linear(m, p)
    start = theta.detach().clone()
    opt = NaturalGradient([theta], damping=1e-13, damping_min=1e-14)

    def closure(jacobian):
        return a @ theta - b, (a if jacobian else None)

    opt.step(closure)
    # the Gauss-Newton step of a linear residual: theta - pinv(A) (A theta - b), the least-squares
    # minimiser (overdetermined) or the one nearest the start (underdetermined)
    expected = start - torch.linalg.pinv(a) @ (a @ start - b)
    torch.testing.assert_close(theta.detach(), expected, rtol=1e-9, atol=1e-9)
    assert opt.param_groups[0]["step_size"] == 1.0  # the full step
    assert opt.last["form"] == ("P x P" if p <= m else "Woodbury N x N")


@pytest.mark.parametrize("m, p", [(30, 10), (10, 30)])
def test_the_p_by_p_and_woodbury_solves_agree(m, p):
    a, b, _ = _linear(m, p, seed=1)
    damping = 1e-3
    primal = damped_solve(a.T @ a, a.T @ b, damping)
    woodbury = damped_solve(a @ a.T, b, damping, jac=a)
    exact = torch.linalg.solve(a.T @ a + damping * torch.eye(p, dtype=a.dtype), a.T @ b)
    torch.testing.assert_close(primal, exact, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(woodbury, exact, rtol=1e-10, atol=1e-12)


def test_a_step_that_lowers_nothing_leaves_the_parameters_and_raises_the_damping():
    theta = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = NaturalGradient([theta], damping=1e-3, retries=2)

    def closure(jacobian):  # a Jacobian that points the wrong way: no step size lowers the loss
        rho = theta.detach().clone()
        return (rho, -torch.eye(2, dtype=torch.float64)) if jacobian else (theta.detach().clone(), None)

    opt.step(closure)
    assert torch.equal(theta.detach(), torch.tensor([1.0, -2.0], dtype=torch.float64))
    assert opt.param_groups[0]["step_size"] == 0.0
    assert opt.param_groups[0]["damping"] == pytest.approx(1e-3 * 8**3)


def _inverse_problem():
    """u'' = -c π² sin(πx) on (0, 1), u = 0 at the ends (hard), c trainable, u measured at 5 points."""
    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    c = pr.Parameter("c", 0.5, trainable=True)
    points = np.linspace(0.1, 0.9, 5)[:, None]
    return pr.Problem(d, [Eq(lap(u), -c * pi**2 * sin(pi * x))], [pr.Boundary(Eq(u, 0))],
                      observations=[pr.Observation(u, points=points, values=np.sin(np.pi * points[:, 0]))])


def test_the_jacobian_equals_reverse_mode_on_the_modules_row_by_row():
    solver = PINNSolver.from_options(_inverse_problem(), optimizer="natural", hard=True, batch=7, **SMALL)
    assert solver.problem.hard  # the boundary condition is in the form of the answer
    state = solver.build()
    model = state.model
    params = state.optimizer._params()
    assert params[-1] is model.parameters.theta["c"]  # the trainable parameter is a column too
    batches = [t.sample(state.generator) for t in solver.terms]
    with torch.no_grad():
        rows, scales = stacked_residuals(model, solver.terms, batches)
    jac = residual_jacobian(model, solver.terms, batches, params, scales, chunk=3)  # chunks: 3 + 3 + 1 points
    rho = flatten(stacked_residuals(model, solver.terms, batches, scales)[0], scales)
    assert jac.shape == (rho.shape[0], sum(p.numel() for p in params))
    expected = []
    for i in range(rho.shape[0]):
        grads = torch.autograd.grad(rho[i], params, retain_graph=True, allow_unused=True, materialize_grads=True)
        expected.append(torch.cat([g.reshape(-1) for g in grads]))
    torch.testing.assert_close(jac, torch.stack(expected), rtol=1e-10, atol=1e-12)
    assert torch.any(jac[:, -1] != 0)  # c reaches the equation's rows


def _batch(n: int, seed: int = 0) -> tuple[torch.Tensor, Batch]:
    g = torch.Generator().manual_seed(seed)
    points = torch.rand(n, 2, generator=g, dtype=torch.float64)
    return torch.randn(2, n, generator=g, dtype=torch.float64), Batch(points)


@pytest.mark.parametrize("reduction", [MeanSquare(), SumSquare(), Causal(0.7, chunks=4)],
                         ids=["mean square", "sum of squares", "causal"])
def test_row_weights_give_back_every_least_squares_reduction(reduction):
    rows, batch = _batch(50)
    weights = reduction.row_weights(rows, batch)
    torch.testing.assert_close((weights * rows.square().sum(0)).sum(), reduction(rows, batch), rtol=1e-12, atol=0)


def test_row_weights_give_back_an_observation_loss():
    compiled = pr.compiler.compile_problem(_inverse_problem())
    term = Observation(compiled.observations[0], batch=5, dtype=torch.float64, device=torch.device("cpu"))
    rows = torch.randn(1, 5, dtype=torch.float64)
    assert term.least_squares
    np.testing.assert_allclose(float((term.row_weights(rows, None) * rows.square().sum(0)).sum()),
                               float(term.weight * rows.square().mean()), rtol=1e-12)


def test_a_plainly_stated_1d_poisson_problem_reaches_1e_6_in_float64():
    problem = poisson_1d()
    solver = PINNSolver.from_options(problem, progress=False, device="cpu")
    assert solver.config.optim.optimizer == "natural" and solver.config.device.dtype == "float64"
    assert "linear" in solver.resolved.sources["optimizer"]
    sol = solver.run()
    err = pr.compare(sol, pr.reference(problem))["rel_l2"]
    assert err <= 1e-6, err
    assert len(solver.history["damping"]) == len(solver.history["step"])  # shown and recorded at log steps


def test_resume_continues_exactly(tmp_path):
    opts = dict(optimizer="natural", batch=16, steps=6, checkpoint_every=3, log_every=1, **SMALL)
    whole = PINNSolver.from_options(poisson_1d(), **opts)
    whole.run()
    part = PINNSolver.from_options(poisson_1d(), out=tmp_path, **opts)
    part.run(until=3)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["optimizer"]["param_groups"][0]["damping"] > 0  # the damping travels with the checkpoint
    rest = PINNSolver.from_options(poisson_1d(), out=tmp_path, resume=tmp_path, **opts)
    rest.run()
    for k, v in whole.network.state_dict().items():
        assert torch.equal(v, rest.network.state_dict()[k]), k
    assert whole.history["loss"] == rest.history["loss"]


def test_a_nonlinear_equation_gets_more_natural_gradient_steps_and_a_domain_with_corners_keeps_adam():
    d = pr.Interval(x=(0, 1))
    u = d.field("u")
    problem = pr.Problem(d, [Eq(lap(u), u**3 - 1)], [pr.Boundary(Eq(u, 0))])
    solver = PINNSolver.from_options(problem, progress=False, device="cpu")
    assert solver.config.optim.optimizer == "natural" and solver.steps == 200  # twice a linear one's
    assert "nonlinear" in solver.resolved.sources["optimizer"]
    lshape = pr.Rectangle(x=(-1, 1), y=(-1, 1)) - pr.Rectangle(x=(0, 1), y=(0, 1))
    v = lshape.field("v")
    corner = PINNSolver.from_options(pr.Problem(lshape, [Eq(-lap(v), 1)], [pr.Boundary(Eq(v, 0))]), progress=False)
    assert corner.config.optim.optimizer == "adam" and "re-entrant" in corner.resolved.sources["optimizer"]
    # asked for, the natural step trains it with its own defaults
    asked = PINNSolver.from_options(pr.Problem(lshape, [Eq(-lap(v), 1)], [pr.Boundary(Eq(v, 0))]),
                                    optimizer="natural", progress=False)
    assert asked.config.device.dtype == "float64" and asked.config.model.options["width"] == 32


def test_several_equations_share_the_jacobians_rows():
    d = pr.Rectangle(x=(0, 1), y=(0, 1))
    u, v = d.field("u"), d.field("v")
    one = PINNSolver.from_options(pr.Problem(d, [Eq(lap(u), 1)], [pr.Boundary(Eq(u, 0))]), progress=False)
    two = PINNSolver.from_options(pr.Problem(d, [Eq(lap(u), v), Eq(lap(v), 1)],
                                             [pr.Boundary(Eq(u, 0)), pr.Boundary(Eq(v, 0))]), progress=False)
    rows = {s: sum(t.batch * len(t.expression.exprs) for t in s.terms) for s in (one, two)}
    assert rows[one] == 1024 + 256 and abs(rows[two] - rows[one]) <= 0.25 * rows[one]


def _one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def test_a_condition_that_is_not_a_sum_of_squares_is_refused_in_one_line():
    d = pr.Interval(x=(0, 1))
    u = d.field("u")
    problem = pr.Problem(d, [Eq(lap(u), -1)], [pr.Boundary(Eq(u, 0), reduction="mae")])
    with pytest.raises(ValueError) as err:
        PINNSolver.from_options(problem, optimizer="natural", **SMALL)
    assert "'boundary'" in _one_line(err) and "optimizer='adam'" in _one_line(err)
    # stated without options, such a problem keeps Adam
    assert PINNSolver.from_options(problem, progress=False, device="cpu").config.optim.optimizer == "adam"


def test_self_adaptive_weights_are_refused_in_one_line():
    with pytest.raises(ValueError) as err:
        PINNSolver.from_options(poisson_1d(), optimizer="natural", balance="self-adaptive", **SMALL).build()
    assert "self-adaptive" in _one_line(err)


def test_the_nested_autograd_engine_is_refused_in_one_line():
    with pytest.raises(ValueError) as err:
        PINNSolver.from_options(poisson_1d(), optimizer="natural", engine="autograd", **SMALL)
    assert "engine='autograd'" in _one_line(err)


def test_an_unknown_optimizer_names_the_valid_ones():
    with pytest.raises(ValueError) as err:
        PINNSolver.from_options(poisson_1d(), optimizer="sgd", **SMALL)
    assert "'adam'" in _one_line(err) and "'natural'" in _one_line(err)


def test_a_jacobian_larger_than_the_memory_budget_trains_with_adam_and_says_so(caplog):
    with caplog.at_level(logging.WARNING, logger="pinr.training.optimizers"):
        solver = PINNSolver.from_options(poisson_1d(), optimizer="natural", memory_budget=200_000, batch=512,
                                         **SMALL)
    assert solver.config.optim.optimizer == "adam"
    assert "memory budget" in solver.resolved.sources["optimizer"]
    (record,) = [r for r in caplog.records if "does not fit" in r.getMessage()]
    assert "\n" not in record.getMessage()


def test_a_step_too_costly_for_a_cpu_trains_with_adam_and_says_so(caplog):
    with caplog.at_level(logging.WARNING, logger="pinr.training.optimizers"):
        solver = PINNSolver.from_options(poisson_1d(), optimizer="natural", batch=4096, memory_budget="64GiB",
                                         **{**SMALL, "backbone_options": dict(width=200, depth=2)})
    assert solver.config.optim.optimizer == "adam" and "operations a step" in solver.resolved.sources["optimizer"]


def test_unfit_reason_counts_every_residual_row():
    compiled = pr.compiler.compile_problem(poisson_1d())
    terms = pr.training.build_terms(compiled, batch=100, dtype=torch.float64, device=torch.device("cpu"))
    assert unfit_reason(terms, 1000, itemsize=8, budget=None) is None
    need = 8 * (2 * 200 * 1000 + 2 * 200 * 200)  # 200 rows (two terms of 100 points), 1000 parameters
    assert unfit_reason(terms, 1000, itemsize=8, budget=need) is None
    assert "memory budget" in unfit_reason(terms, 1000, itemsize=8, budget=need - 1)


def test_the_engine_for_torch_func_is_jet_or_func_never_nested_autograd():
    net = pr.backbones.build_backbone("siren", 1, 1, width=4, depth=1)
    assert select_engine(net, max_order=1).name == "autograd"  # first order, plain training: one reverse pass
    assert select_engine(net, max_order=1, functional=True).name == "jet"
    plain = torch.nn.Sequential(torch.nn.Linear(1, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    assert select_engine(plain, max_order=2, functional=True).name == "func"


def test_a_collection_refuses_the_natural_step_in_one_line():
    from pinr.collection import Collection

    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    cases = [pr.Problem(d, [Eq(lap(u), -a * pi**2 * sin(pi * x))], [pr.Boundary(Eq(u, 0))]) for a in (1, 2)]
    with pytest.raises(ValueError) as err:
        pr.solve(Collection(cases, names=["a", "b"]), optimizer="natural", steps=2, progress=False)
    assert "optimizer='adam'" in _one_line(err)


def test_a_sweep_trains_natural_gradient_models_one_after_the_other(caplog):
    with caplog.at_level(logging.WARNING):
        result = pr.sweep(poisson_1d(), over={"seed": [0, 1]}, optimizer="natural", steps=3, batch=16,
                          backbone_options=dict(width=6, depth=1), dtype="float64")
    assert "one after the other" in result.notice and len(result.solutions) == 2
    lone = PINNSolver.from_options(poisson_1d(), optimizer="natural", steps=3, batch=16, seed=1,
                                   backbone_options=dict(width=6, depth=1), dtype="float64", progress=False).run()
    for k, v in lone.network.state_dict().items():
        assert torch.equal(v, result.solutions[1].network.state_dict()[k]), k


def test_a_divergent_natural_run_stops_with_advice_for_its_optimiser(monkeypatch):
    from pinr.errors import DivergenceError
    from pinr.training import natural

    original = natural.stacked_residuals

    def poisoned(model, terms, batches, scales=None):
        rows, scales = original(model, terms, batches, scales)
        return [r * float("nan") for r in rows], scales

    monkeypatch.setattr(natural, "stacked_residuals", poisoned)
    with pytest.raises(DivergenceError, match="optimizer='adam'") as err:
        PINNSolver.from_options(poisson_1d(), optimizer="natural", steps=3, batch=8, **SMALL).run()
    assert "learning rate" not in str(err.value)


def test_the_defaults_impose_the_initial_values_exactly_and_keep_the_boundary_as_a_term():
    d = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 1)
    x, t = d.coords
    u = d.field("u")
    heat = pr.Problem(d, [Eq(pr.dt(u), lap(u))], [pr.Initial(Eq(u, sin(pi * x))), pr.Boundary(Eq(u, 0))])
    solver = PINNSolver.from_options(heat, progress=False, device="cpu")
    assert solver.config.model.hard == "initial" and solver.config.optim.optimizer == "natural"
    assert [c.name for c in solver.problem.conditions if c.hard] == ["initial"]
    assert [t.name for t in solver.terms] == ["pde", "boundary"]
    assert "initial slice" in solver.resolved.summary()
    everywhere = PINNSolver.from_options(heat, hard=True, progress=False, device="cpu")
    assert [c.name for c in everywhere.problem.conditions if c.hard] == ["initial", "boundary"]
    with pytest.raises(ValueError) as err:
        PINNSolver.from_options(heat, hard="boundary", progress=False)
    assert "'initial'" in _one_line(err)
