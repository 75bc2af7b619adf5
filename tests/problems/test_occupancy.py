"""The occupancy catalogue problem: binary cross-entropy as a sided condition, labels, short
runs, CLI."""

import json

import numpy as np
import pytest
import sympy
import torch
from typer.testing import CliRunner

import pinr as pr
from pinr import Eq
from pinr import geometry as geo
from pinr.cli import app
from pinr.compiler import compile_problem
from pinr.problems.occupancy import OccupancyOutputs, occupancy_labels
from pinr.solvers import PINNSolver
from pinr.training.batch import Batch
from pinr.training.terms import BinaryCrossEntropy

FAST_NET = {"width": 64, "depth": 2, "omega0": 10.0, "omega_hidden": 10.0}


def closed_form(u, o):
    """softplus(u) - o u in float64, softplus as logaddexp(0, u) (exact for any u)."""
    return np.logaddexp(0.0, u) - o * u


def test_bce_equals_the_closed_form_and_stays_finite_for_huge_logits():
    u = np.array([-1e4, -30.0, -2.0, -1e-3, 0.0, 0.5, 3.0, 40.0, 1e4])
    o = np.array([1.0, 1.0, 0.0, 1.0, 0.5, 0.0, 1.0, 0.0, 0.0])
    logits = torch.tensor(u, dtype=torch.float64, requires_grad=True)
    rows = torch.stack([logits, torch.tensor(o, dtype=torch.float64)])
    bce = BinaryCrossEntropy()
    loss = bce(rows, Batch(torch.zeros(len(u), 1, dtype=torch.float64)))
    assert float(loss.detach()) == pytest.approx(closed_form(u, o).mean(), rel=1e-14)
    assert float(loss.detach()) == pytest.approx((1e4 + 1e4) / len(u), rel=1e-2)  # two wrong, confident logits
    np.testing.assert_allclose(bce.pointwise(rows).numpy(), closed_form(u, o), rtol=1e-14, atol=1e-300)
    (grad,) = torch.autograd.grad(loss, logits)
    assert torch.isfinite(grad).all()  # d/du = (sigmoid(u) - o) / N
    np.testing.assert_allclose(grad.numpy(), (0.5 + 0.5 * np.tanh(u / 2) - o) / len(u), atol=1e-15)
    # float32 too: no overflow at +-1e4
    assert torch.isfinite(bce(rows.detach().float(), None))
    with pytest.raises(ValueError, match="even number"):
        bce(rows[:1], None)


def test_a_bce_condition_compiles_its_two_sides():
    dom = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    x, y = dom.coords
    u = dom.field("u")
    label = sympy.Heaviside(-x, sympy.Rational(1, 2))
    c = pr.Condition(Eq(u, label), on=dom.interior, reduction="binary_cross_entropy")
    assert c.reduction == "bce" and c.sided and not pr.Condition(Eq(u, 0), on=dom.interior).sided
    problem = pr.Problem(dom, conditions=[c])
    assert "binary cross-entropy" in str(problem)
    (term,) = compile_problem(problem).terms
    assert term.sided and term.expression.exprs == (u, label)
    with pytest.raises(ValueError, match="hard"):
        pr.Condition(Eq(u, label), on=dom.boundary, reduction="bce", hard=True)
    with pytest.raises(NotImplementedError, match="binary cross-entropy"):
        pr.reference(problem)


def test_term_loss_is_the_mean_cross_entropy_of_the_network_against_the_labels():
    case = pr.problems.get("occupancy", shape="circle", batch=64)
    solver = PINNSolver.from_options(case, steps=1, progress=False, dtype="float64", backbone_options=FAST_NET)
    state = solver.build()
    sh = case.outputs.shape
    for term in solver.terms:
        batch = term.sample(state.generator)
        loss, per_point = term.loss(state.model, batch)
        pts = batch.points.detach().numpy()
        logit = state.model.network(batch.points)[:, 0].detach().numpy()
        o = (sh.signed_distance(pts) < 0).astype(float)
        expected = closed_form(logit, o)
        assert float(loss.detach()) == pytest.approx(term.weight * expected.mean(), rel=1e-10)
        np.testing.assert_allclose(per_point.numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("shape", ["circle", "star", "sphere", "torus"])
def test_labels_are_the_inside_sets_of_analytic_shapes(shape):
    sh = geo.builtin_shape(shape)
    dom = pr.problems.eikonal_sdf.sdf_domain(sh.dim)
    labels, _ = occupancy_labels(sh, dom)
    (term,) = compile_problem(pr.Problem(dom, conditions=[
        pr.Condition(Eq(dom.field("u"), labels), on=dom.interior, reduction="bce")])).terms
    pts = torch.rand(4000, sh.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    rows = term.expression(pts, None, [torch.zeros(len(pts), dtype=torch.float64)])
    p = pts.numpy()
    if shape in ("circle", "sphere"):  # radius 0.6 at the origin
        inside = np.linalg.norm(p, axis=1) < 0.6
    elif shape == "torus":  # R 0.55, r 0.25 about the z axis
        inside = (np.hypot(p[:, 0], p[:, 1]) - 0.55) ** 2 + p[:, 2] ** 2 < 0.25**2
    else:
        inside = sh.signed_distance(p) < 0
        assert 0.1 < inside.mean() < 0.5
    np.testing.assert_array_equal(rows[1].numpy(), inside.astype(float))


def test_statement_mixes_uniform_and_near_surface_points():
    case = pr.problems.get("occupancy")
    names = {c.name: c for c in case.conditions}
    assert set(names) == {"uniform", "near_surface"} and {c.reduction for c in case.conditions} == {"bce"}
    assert names["uniform"].on.name == "interior" and names["near_surface"].on.name == "near_surface"
    assert names["near_surface"].on.scales == (1e-1, 1e-2)
    assert isinstance(case.outputs, OccupancyOutputs) and case.outputs.resolution == 256
    sphere = pr.problems.get("occupancy", shape="sphere").training
    assert sphere.model.options["width"] == 256 and sphere.optim.steps == 1100  # measured on the bunny
    with pytest.raises(ValueError, match="point cloud"):
        pr.problems.get("occupancy", shape=geo.OrientedPointCloud(np.eye(3) * 0.5, np.eye(3)))


@pytest.mark.parametrize("shape", ["circle", "star"])
def test_short_training_classifies_the_shape(shape, tmp_path):
    """150 steps of 512 + 512 points (a few seconds): IoU > 0.95 on the 256² lattice."""
    case = pr.problems.get("occupancy", shape=shape, batch=512)
    sol = pr.solve(case, steps=150, progress=False, backbone_options=FAST_NET)
    m = case.outputs(tmp_path, sol, None)
    assert m["iou"] > 0.95 and m["accuracy"] > 0.98, m
    assert (tmp_path / "occupancy.png").stat().st_size > 0
    assert json.loads((tmp_path / "occupancy_metrics.json").read_text())["iou"] == m["iou"]


def test_3d_outputs_write_a_mesh(tmp_path):
    sh = geo.builtin_shape("sphere")
    m = geo.write_occupancy_outputs(tmp_path, lambda p: 0.6 - np.linalg.norm(p, axis=1), sh, resolution=32)
    assert m["iou"] > 0.97 and (tmp_path / "mesh.ply").exists() and (tmp_path / "render.png").exists()


def test_cli_solve_writes_metrics_with_iou(tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["solve", "occupancy", "--steps", "5", "--out", str(out), "--no-progress",
                                 "--option", "width=16", "--option", "depth=1"])
    assert r.exit_code == 0, r.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["problem"] == "occupancy" and 0.0 <= metrics["iou"] <= 1.0 and "accuracy" in metrics
    assert (out / "occupancy.png").exists()
