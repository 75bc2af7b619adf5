"""Inverse problems and data terms: trainable parameters recovered from noisy measurements,
fields reconstructed from observed derivatives, and the bookkeeping around them."""

import json

import numpy as np
import pytest
import torch

import pinr as pr
from pinr import Eq, cos, dt, grad, lap, sin
from pinr.errors import ProblemError
from pinr.solvers import PINNSolver

NET = dict(width=32, depth=2, omega0=3.0, omega_hidden=3.0)
FIT = dict(backbone="siren", backbone_options=NET, steps=1000, lr=1e-3, batch=256, dtype="float64", progress=False,
           seed=0)


def heat_inverse(n: int = 200, noise: float = 0.01, seed: int = 0):
    r""":math:`u_t = \kappa u_{xx}` on [0, 1] × [0, 0.5], u = 0 at the ends; ``n`` scattered
    measurements of :math:`e^{-0.3\pi^2 t}\sin\pi x` with ``noise`` standard deviation; κ starts at 1."""
    rng = np.random.default_rng(seed)
    dom = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 0.5)
    u = dom.field("u")
    kappa = pr.Parameter("kappa", 1.0, trainable=True, positive=True)
    pts = np.column_stack([rng.uniform(0, 1, n), rng.uniform(0, 0.5, n)])
    values = np.exp(-0.3 * np.pi**2 * pts[:, 1]) * np.sin(np.pi * pts[:, 0]) + noise * rng.standard_normal(n)
    return pr.Problem(dom, [Eq(dt(u), kappa * lap(u))], [pr.Boundary(Eq(u, 0))],
                      observations=[pr.Observation(u, points=pts, values=values, noise=noise)], name="heat-inverse")


def test_heat_diffusivity_is_recovered_from_noisy_scattered_data():
    sol = pr.solve(heat_inverse(), **FIT)
    assert sol.parameters["kappa"] == pytest.approx(0.3, rel=0.02)


def test_wave_speed_is_recovered_from_a_standing_wave():
    r""":math:`u_{tt} = c^2 u_{xx}` with :math:`u = \sin\pi x\cos(1.5\pi t)` measured at 300
    points (1 % noise): c = 1.5 from a start at 1."""
    rng = np.random.default_rng(1)
    dom = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 1)
    u = dom.field("u")
    c = pr.Parameter("c", 1.0, trainable=True, positive=True)
    pts = rng.uniform(0, 1, (300, 2))
    values = np.sin(np.pi * pts[:, 0]) * np.cos(1.5 * np.pi * pts[:, 1]) + 0.01 * rng.standard_normal(300)
    prob = pr.Problem(dom, [Eq(dt(u, 2), c**2 * lap(u))], [pr.Boundary(Eq(u, 0))],
                      observations=[pr.Observation(u, points=pts, values=values, noise=0.01)])
    sol = pr.solve(prob, **FIT)
    assert sol.parameters["c"] == pytest.approx(1.5, rel=0.02)


def test_observed_gradient_and_one_value_reconstruct_a_2d_field():
    """No equation at all: ∇u measured at 400 points and u at one point determine u."""
    rng = np.random.default_rng(2)
    dom = pr.Rectangle(x=(0, 1), y=(0, 1))
    x, y = dom.coords
    u = dom.field("u")
    pts = rng.uniform(0, 1, (400, 2))
    g = np.column_stack([2 * np.cos(2 * pts[:, 0]) * np.cos(pts[:, 1]) + pts[:, 1],
                         -np.sin(2 * pts[:, 0]) * np.sin(pts[:, 1]) + pts[:, 0]])
    anchor = np.sin(1.0) * np.cos(0.5) + 0.25
    prob = pr.Problem(dom, observations=[pr.Observation(grad(u), points=pts, values=g, name="slopes"),
                                         pr.Observation(u, points=[[0.5, 0.5]], values=[anchor], name="anchor")],
                      exact=sin(2 * x) * cos(y) + x * y)
    sol = pr.solve(prob, **{**FIT, "steps": 400, "lr": 3e-3})
    assert pr.compare(sol, pr.reference(prob))["rel_l2"] < 2e-3


def test_resume_with_trainable_parameters_is_bit_exact(tmp_path):
    p = heat_inverse(n=50)
    kw = {**FIT, "steps": 12, "batch": 32}
    straight = PINNSolver.from_options(p, **kw, out=tmp_path / "a").run()
    PINNSolver.from_options(p, **kw, out=tmp_path / "b").run(until=5)
    resumed = PINNSolver.from_options(p, **kw, out=tmp_path / "b", resume=tmp_path / "b").run()
    assert resumed.parameters == straight.parameters and straight.parameters["kappa"] != 1.0
    for (k, a), (_, b) in zip(straight.network.state_dict().items(), resumed.network.state_dict().items()):
        assert torch.equal(a, b), k


def test_parameters_are_saved_reported_and_plotted(tmp_path):
    out = tmp_path / "run"
    sol = pr.solve(heat_inverse(n=50), **{**FIT, "steps": 20}, out=out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["parameters"] == sol.parameters
    assert (out / "parameters.png").stat().st_size > 1000
    loaded = pr.load(out / "solution.pt")
    assert loaded.parameters == sol.parameters
    # evaluating the statement uses the trained value of kappa
    u = sol.problem.field_apps[0]
    pts = np.array([[0.3, 0.1], [0.6, 0.2]])
    kappa = pr.Parameter("kappa", 1.0, trainable=True, positive=True)
    np.testing.assert_allclose(sol.evaluate(kappa * lap(u), pts), sol.parameters["kappa"] * sol.evaluate(lap(u), pts))
    config = json.loads((out / "config.json").read_text())
    assert config["parameter_lr"] == 1e-2 and config["lr"] == 1e-3 and config["steps"] == 20
    # backbone, steps, lr given (lr: an Adam run); points, balancing, hardness were not
    # (and the L-BFGS finish nobody asked for: a quarter of the 20 steps given)
    assert set(config["chosen_by"]) == {"method", "hard", "optimizer", "lbfgs_steps"}
    assert config["chosen_by"]["optimizer"] == "Adam: you set lr, an option of Adam"


def test_transforms_keep_parameters_positive_or_bounded():
    from pinr.training import ParameterSet

    pos = pr.Parameter("a", 0.5, trainable=True, positive=True)
    box = pr.Parameter("b", 0.2, trainable=True, bounds=(0.0, 1.0))
    free = pr.Parameter("c", -3.0, trainable=True)
    ps = ParameterSet({"a": pos, "b": box, "c": free})
    assert ps.floats() == pytest.approx({"a": 0.5, "b": 0.2, "c": -3.0}, rel=1e-12)
    with torch.no_grad():
        for theta in ps.theta.values():
            theta.add_(-50.0)
    v = ps.floats()
    assert v["a"] > 0 and 0 <= v["b"] < 1e-12 + 1e-20 and v["c"] == pytest.approx(-53.0)
    with pytest.raises(ValueError, match="positive"):
        pr.Parameter("a", -1.0, trainable=True, positive=True)
    with pytest.raises(ValueError, match="strictly contain"):
        pr.Parameter("b", 2.0, trainable=True, bounds=(0, 1))
    with pytest.raises(ValueError, match="trainable=True"):
        pr.Parameter("b", 0.5, bounds=(0, 1))


def test_fd_reference_needs_the_parameters_fixed():
    p = heat_inverse(n=10)
    with pytest.raises(NotImplementedError, match=r"trainable parameters \(kappa\).*fixed"):
        pr.reference(p)
    forward = p.fixed(kappa=0.3)
    assert not forward.trainable and forward.params["kappa"] == 0.3
    initial = pr.Initial(Eq(forward.field_apps[0], sin(np.pi * forward.coords[0])))
    ref = pr.reference(forward.replace(conditions=[*forward.conditions, initial]), resolution=64)
    xt = np.array([[0.5, 0.4]])
    assert ref(xt)[0, 0] == pytest.approx(np.exp(-0.3 * np.pi**2 * 0.4), rel=2e-3)


@pytest.mark.parametrize("bad, match", [
    (dict(points=[[2.0, 0.1]], values=[0.0]), "outside"),
    (dict(points=[[0.5, 0.1]], values=[np.nan]), "NaN"),
    (dict(points=[[0.5, 0.1], [0.2, 0.2]], values=[0.0]), "do not match"),
    (dict(points=[[0.5, 0.1]], values=[0.0], noise=-1.0), "positive"),
    (dict(points=[[0.5]], values=[0.0]), "columns"),
])
def test_bad_observations_are_refused_naming_the_culprit(bad, match):
    dom = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 0.5)
    u = dom.field("u")
    with pytest.raises((ValueError, ProblemError), match=match):
        pr.Problem(dom, [Eq(dt(u), lap(u))], observations=[pr.Observation(u, **bad)])


def test_observations_draw_random_subsets_of_their_measurements():
    p = heat_inverse(n=100)
    solver = PINNSolver.from_options(p, steps=1, batch={"data": 30}, progress=False)
    state = solver.build()
    (obs,) = [t for t in solver.terms if isinstance(t, pr.training.Observation)]
    a, b = obs.sample(state.generator), obs.sample(state.generator)
    assert a.points.shape == (30, 2) and not torch.equal(a.points, b.points)
    full = torch.tensor(p.observations[0].points, dtype=a.points.dtype)
    # every drawn point is a measurement point, with its own value
    idx = torch.cdist(a.points, full).argmin(dim=1)
    assert torch.equal(full[idx], a.points)
    assert torch.allclose(a.targets[0], torch.tensor(p.observations[0].values[:, 0], dtype=a.points.dtype)[idx])
