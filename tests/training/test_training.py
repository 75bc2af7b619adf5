"""The trainer's parts: option groups and their resolution, terms, the loop's extension points."""

import math

import numpy as np
import pytest
import torch

import pinr as pr
from pinr import Eq, dt, lap, sin
from pinr import geometry as geo
from pinr.backbones import backbone_training
from pinr.solvers import PINNSolver
from pinr.training import AbstractCallback, TrainConfig, resolve
from pinr.training.config import OptimConfig, option_names
from pinr.training.terms import Batch, MeanAbs, MeanSquare


def poisson_1d():
    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    return pr.Problem(d, [Eq(lap(u), -math.pi**2 * sin(math.pi * x))], [pr.Boundary(Eq(u, 0))],
                      exact=sin(math.pi * x))


# ---------------------------------------------------------------------------- options
def test_flat_options_sort_into_groups_and_back():
    c = TrainConfig.from_options(steps=7, lr=2e-3, backbone_options={"width": 8}, causal=1.0, seed=3)
    assert c.optim.steps == 7 and c.optim.lr == 2e-3 and dict(c.model.options) == {"width": 8}
    assert c.schedule.causal == 1.0 and c.run.seed == 3 and c.device.dtype is None
    assert c.flat() == {"steps": 7, "lr": 2e-3, "backbone_options": {"width": 8}, "causal": 1.0, "seed": 3}
    with pytest.raises(TypeError, match="unknown training option.*'stpes'.*valid: .*steps"):
        TrainConfig.from_options(stpes=3)
    assert "parameter_lr" in option_names() and "backbone_options" in option_names()


def test_over_keeps_chosen_values_and_fills_open_ones():
    mine = TrainConfig(optim=OptimConfig(steps=5))
    theirs = TrainConfig(optim=OptimConfig(steps=100, lr=1e-2))
    both = mine.over(theirs)
    assert both.optim.steps == 5 and both.optim.lr == 1e-2


def test_learning_rate_comes_from_the_backbone_unless_the_case_tuned_it():
    plain = resolve(poisson_1d(), TrainConfig())
    assert plain.config.optim.lr == backbone_training("siren").lr
    assert plain.sources["lr"].startswith("backbone 'siren'") and plain.sources["backbone"] == "pinr default"
    image = pr.problems.get("image", size=8)
    own = resolve(image.problem, TrainConfig(), image.training, case_name="image")
    assert own.config.optim.lr == image.training.optim.lr and own.sources["lr"] == "problem 'image'"
    # another backbone: the case's lr and backbone options are not its; the backbone's own rate applies
    pins = resolve(image.problem, TrainConfig.from_options(backbone="pins"), image.training, case_name="image")
    assert pins.config.optim.lr == backbone_training("pins").lr == 1e-3
    assert pins.sources["lr"].startswith("backbone 'pins'") and not pins.config.model.options
    assert pins.config.optim.steps == image.training.optim.steps  # the case's other defaults still hold
    wave = pr.problems.get("wave")
    same = resolve(wave.problem, TrainConfig.from_options(backbone_options={"width": 16}), wave.training)
    assert dict(same.config.model.options) == {**wave.training.model.options, "width": 16}


def test_the_solver_records_what_it_chose(tmp_path):
    out = tmp_path / "run"
    pr.solve(pr.problems.get("image", size=8), backbone="pins", steps=2, out=out, progress=False,
             backbone_options={"width": 8, "m": 4})
    config = pr.io.read_json(out / "config.json")
    assert config["lr"] == 1e-3 and config["chosen_by"]["lr"].startswith("backbone 'pins'")
    assert "steps" not in config["chosen_by"] and config["steps"] == 2  # given, so not chosen


@pytest.mark.parametrize("bad, match", [(dict(steps=-1), "steps"), (dict(lr=0.0), "lr must"),
                                        (dict(parameter_lr=float("nan")), "parameter_lr"),
                                        (dict(batch=0), "batch"), (dict(time_window=2.0), "time_window"),
                                        (dict(causal=1.0), "time axis"), (dict(compile="fast"), "compile")])
def test_bad_options_are_refused_by_name(bad, match):
    with pytest.raises(ValueError, match=match):
        PINNSolver.from_options(poisson_1d(), **bad)


# ------------------------------------------------------------------------------ terms
def test_near_surface_samples_carry_their_distances():
    """The supervised SDF term reads the distances its region drew with the points: with a zero
    network the residual is minus the exact signed distance at exactly those points."""
    case = pr.problems.get("eikonal-sdf", shape="circle", mode="supervised", batch=64)
    solver = PINNSolver.from_options(case, steps=1, progress=False, dtype="float64")
    state = solver.build()
    with torch.no_grad():
        for p in state.model.network.parameters():
            p.zero_()
    (term,) = solver.terms
    batch = term.sample(state.generator)
    (carried,) = batch.data.values()
    exact = case.outputs.shape.signed_distance(batch.points.numpy())
    np.testing.assert_allclose(carried.numpy(), exact, atol=1e-12)
    res = state.model.residuals(term.expression, batch)
    np.testing.assert_allclose(res[0].detach().numpy(), -exact, atol=1e-12)


def test_observation_loss_is_the_reduced_chi_square():
    dom = pr.Interval(x=(0, 1))
    u = dom.field("u")
    pts, vals, sigma = np.array([[0.2], [0.4], [0.9]]), np.array([1.0, -2.0, 0.5]), np.array([0.1, 0.2, 0.5])
    prob = pr.Problem(dom, observations=[pr.Observation(u, points=pts, values=vals, noise=sigma, weight=2.0)])
    solver = PINNSolver.from_options(prob, steps=1, progress=False, dtype="float64")
    state = solver.build()
    (term,) = solver.terms
    batch = term.sample(state.generator)
    pred = state.model.network(batch.points)[:, 0].detach().numpy()
    loss, per_point = term.loss(state.model, batch)
    expected = ((pred - vals) / sigma) ** 2
    assert float(loss.detach()) == pytest.approx(2.0 * expected.mean(), rel=1e-12)
    np.testing.assert_allclose(per_point.numpy(), expected, rtol=1e-12)


def test_reductions_follow_their_formulas():
    r = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    b = Batch(torch.zeros(2, 1))
    assert float(MeanSquare()(r, b)) == pytest.approx((1 + 4) / 2 + 9 / 2)
    assert float(MeanAbs()(r, b)) == pytest.approx(1.5 + 1.5)


@pytest.mark.parametrize("engine", ["jet", "autograd"])
def test_trainable_parameters_get_the_same_gradients_from_both_engines(engine):
    """The residual of ``u_t = κ u_xx`` and its gradient with respect to κ agree between engines
    in float64 (κ enters the compiled residual as an argument, never as a constant)."""
    dom = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 1)
    u = dom.field("u")
    kappa = pr.Parameter("kappa", 0.7, trainable=True, positive=True)
    prob = pr.Problem(dom, [Eq(dt(u), kappa * lap(u))])
    grads = {}
    for eng in ("jet", "autograd"):
        solver = PINNSolver.from_options(prob, steps=1, progress=False, dtype="float64", engine=eng, batch=16,
                                         backbone_options=dict(width=16, depth=2))
        state = solver.build()
        (term,) = solver.terms
        loss, _ = term.loss(state.model, term.sample(state.generator))
        (g,) = torch.autograd.grad(loss, list(state.model.parameters.parameters()))
        grads[eng] = (float(loss.detach()), float(g))
    assert grads["jet"][0] == pytest.approx(grads["autograd"][0], rel=1e-10)
    assert grads["jet"][1] == pytest.approx(grads["autograd"][1], rel=1e-10) and grads["jet"][1] != 0


# ------------------------------------------------------------------------------- loop
def test_a_callback_is_the_extension_point():
    """A user's callback sees every step after pinr's own parts, in order, and the end of the run."""
    seen = []

    class Spy(AbstractCallback):
        def on_train_begin(self, loop):
            seen.append(("begin", loop.state.step))

        def on_step_end(self, loop, out):
            seen.append(("step", loop.state.step, tuple(out.losses.shape)))

        def on_train_end(self, loop):
            seen.append(("end", loop.state.step, loop.finished))

    PINNSolver.from_options(poisson_1d(), steps=3, batch=8, progress=False, callbacks=[Spy()],
                            backbone_options=dict(width=8, depth=1), hard=False).run()
    assert seen == [("begin", 0), ("step", 1, (2,)), ("step", 2, (2,)), ("step", 3, (2,)), ("end", 3, True)]


def test_region_kinds_are_types():
    box = pr.Rectangle(x=(0, 1), y=(0, 1))
    st = box * pr.TimeInterval(0, 1)
    D = pr.domains
    assert isinstance(box.interior, D.AbstractInterior) and isinstance(st.interior, D.AbstractInterior)
    assert isinstance(st.boundary, D.AbstractBoundary) and st.boundary["x-"].sides == ("x-",)
    assert isinstance(st.initial, D.AbstractInitial) and not isinstance(st.initial, D.AbstractInterior)
    assert set(box.boundary.sides) == {"x-", "x+", "y-", "y+"}
    assert isinstance(geo.SurfaceRegion(box, pr.Disk((0, 0), 0.5)), D.AbstractSurface)
    assert isinstance(pr.domains.DiskPatch(box, (0.5, 0.5), 0.1), D.AbstractPatch)
