"""NeRF through the ordinary solver: a tiny synthetic scene trains to a rising held-out PSNR, the
run directory holds the renders, a resumed run with an occupancy grid continues exactly, and bad
statements are refused in one line."""

import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import pinr as pr
from pinr.cli import app
from pinr.errors import ProblemError
from pinr.render import Quadrature, Rendered, synthetic_views
from pinr.render.evaluate import render_held_out

SMALL = {"width": 32, "depth": 2, "levels": 6, "direction_levels": 2}  # NeRF's MLP, small


@pytest.fixture(scope="module")
def tiny():
    return pr.problems.get("nerf", size=12, views=16, test_views=2, samples=24, occupancy=16)


def test_training_raises_held_out_psnr(tiny):
    torch.manual_seed(0)
    obs = tiny.problem.observations[0]
    sol0 = pr.solve(tiny, steps=1, seed=0, progress=False, backbone="nerf", backbone_options=SMALL, batch=256,
                    device="cpu")
    before = render_held_out(sol0, obs)["psnr"]
    sol = pr.solve(tiny, steps=150, seed=0, progress=False, backbone="nerf", backbone_options=SMALL, batch=256,
                   lr=5e-3, device="cpu")
    after = render_held_out(sol, obs)["psnr"]
    assert after > before + 3.0, (before, after)
    # its mesh: where a lattice cell is half opaque, or at half the peak density of a field that never
    # gets that dense (trained with march steps longer than the cell)
    from pinr.render.evaluate import _density_mesh

    v, f, level = _density_mesh(sol, obs, 32)
    assert len(f) > 0 and 0 < level <= math.log(2) / (2 / 32)


@pytest.mark.parametrize("quadrature", [Quadrature(samples=16), Quadrature(samples=8, fine=8)])
def test_stratified_and_hierarchical_terms_train(quadrature):
    views = synthetic_views(size=8, n_train=4, n_test=1)
    domain = pr.Box(x=(-1, 1), y=(-1, 1), z=(-1, 1))
    d, c = domain.field("density"), domain.field("rgb", components=3)
    problem = pr.Problem(domain, observations=[Rendered(views["train"], density=d, colour=c, quadrature=quadrature,
                                                        held_out=views["test"])])
    solver = pr.solvers.PINNSolver.from_options(problem, steps=20, seed=0, progress=False, backbone="nerf",
                                                backbone_options=SMALL, batch=64, lr=5e-3, device="cpu")
    solver.run()
    losses = solver.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_resume_with_occupancy_grid_is_exact(tiny, tmp_path):
    opts = dict(seed=0, progress=False, backbone="nerf", backbone_options=SMALL, batch=128, device="cpu", steps=40)
    whole = pr.solvers.PINNSolver.from_options(tiny, **opts)
    a = whole.run()
    first = pr.solvers.PINNSolver.from_options(tiny, out=tmp_path, **opts)
    first.run(until=20)
    second = pr.solvers.PINNSolver.from_options(tiny, out=tmp_path, resume=tmp_path, **opts)
    b = second.run()
    assert torch.equal(whole.terms[0].grid.estimates, second.terms[0].grid.estimates)
    pts = torch.rand(50, 3) * 2 - 1
    torch.testing.assert_close(a(pts), b(pts), rtol=0, atol=0)


def test_cli_writes_renders_and_scores(tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["-q", "solve", "nerf", "--steps", "3", "--batch", "64", "--set", "size=8",
                                 "--set", "views=3", "--set", "test_views=2", "--option", "width=16",
                                 "--option", "levels=3", "--option", "max_resolution=16", "--out", str(out)])
    assert r.exit_code == 0, r.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["psnr_views"]) == 2 and np.isfinite(metrics["psnr"]) and 0 < metrics["ssim"] <= 1
    for name in ("renders.png", "depth.png", "turntable.gif", "config.json", "solution.pt"):
        assert (out / name).is_file(), name


def test_bad_statements_are_refused():
    views = synthetic_views(size=8, n_train=2, n_test=1)["train"]
    box = pr.Box(x=(-1, 1), y=(-1, 1), z=(-1, 1))
    d, c = box.field("density"), box.field("rgb", components=3)
    with pytest.raises(ValueError, match="channels"):
        Rendered(views, density=d, colour=box.field("k", components=2))
    with pytest.raises(TypeError, match="Views"):
        Rendered(np.zeros((2, 8, 8, 3)), density=d, colour=c)
    with pytest.raises(ValueError, match="not both"):
        Quadrature(fine=8, occupancy=16)
    small = pr.Box(x=(-0.5, 0.5), y=(-1, 1), z=(-1, 1))
    with pytest.raises(ProblemError, match="outside the domain"):
        pr.Problem(small, observations=[Rendered(views, density=small.field("density"),
                                                 colour=small.field("rgb", components=3))])
    with pytest.raises(ValueError, match="background"):
        pr.problems.get("nerf", size=8, views=2, test_views=1, background="green")


def test_a_stated_nerf_problem_gets_the_rendering_defaults():
    views = synthetic_views(size=8, n_train=2, n_test=1)["train"]
    box = pr.Box(x=(-1, 1), y=(-1, 1), z=(-1, 1))
    problem = pr.Problem(box, observations=[Rendered(views, density=box.field("density"),
                                                     colour=box.field("rgb", components=3))])
    c = pr.solvers.PINNSolver.from_options(problem, progress=False).config
    assert (c.model.backbone, c.optim.steps, c.optim.lr, c.sampling.batch) == ("ngp", 2000, 1e-2, 1024)


def test_a_grid_says_its_first_steps_cost_more_and_the_time_estimate_waits_for_them(tiny):
    from pinr.training.callbacks import TimeEstimate
    from pinr.training.rendering import OccupancyRefresh

    solver = pr.solvers.PINNSolver.from_options(tiny, steps=2, progress=False, device="cpu")
    parts = solver.callbacks(solver.build())
    (estimate,) = [p for p in parts if isinstance(p, TimeEstimate)]
    (refresh,) = [p for p in parts if isinstance(p, OccupancyRefresh)]
    # the estimate waits exactly as long as the grid is refreshed in full
    assert estimate.settle == solver.terms[0].settles == refresh.warmup > 0
    no_grid = pr.problems.get("nerf", size=8, views=2, test_views=1, occupancy=0)
    assert pr.solvers.PINNSolver.from_options(no_grid, steps=2, progress=False).terms[0].settles == 0
