"""NeX through the ordinary solver: a tiny forward-facing scene trains to a rising held-out PSNR
on a multiplane image, the CLI writes the renders and the path GIF, a stated problem with planes
gets NeX's defaults, and NeRF takes the same forward-facing data (``rig="forward"``)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import pinr as pr
from pinr.cli import app
from pinr.render import Planes, Rendered, forward_facing_views
from pinr.render.evaluate import path_cameras, render_held_out

SMALL = {"width": 32, "depth": 2, "levels": 5, "basis": 4, "basis_width": 16, "direction_levels": 2}


def test_nex_training_raises_held_out_psnr():
    case = pr.problems.get("nex", size=12, views=6, test_views=2, planes=12)
    obs = case.problem.observations[0]
    assert isinstance(obs.quadrature, Planes) and case.training.model.backbone == "nex"
    sol0 = pr.solve(case, steps=1, seed=0, progress=False, backbone_options=SMALL, batch=256, device="cpu")
    before = render_held_out(sol0, obs)["psnr"]
    sol = pr.solve(case, steps=120, seed=0, progress=False, backbone_options=SMALL, batch=256, lr=5e-3, device="cpu")
    after = render_held_out(sol, obs)["psnr"]
    assert after > before + 3.0, (before, after)


def test_cli_nex_writes_renders_scores_and_a_path(tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["-q", "solve", "nex", "--steps", "3", "--batch", "64", "--set", "size=8",
                                 "--set", "views=3", "--set", "test_views=2", "--set", "planes=6",
                                 "--option", "width=16", "--option", "depth=1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["psnr_views"]) == 2 and np.isfinite(metrics["psnr"])
    for name in ("renders.png", "depth.png", "path.gif", "config.json", "solution.pt"):
        assert (out / name).is_file(), name
    assert not (out / "turntable.gif").exists()


def test_forward_path_circles_the_held_out_cameras():
    views = forward_facing_views(size=8, n_train=3, n_test=4, spread=0.4)
    d = pr.Box(x=(-1, 1), y=(-1, 1), z=(-1, 1))
    obs = Rendered(views["train"], density=d.field("density"), colour=d.field("rgb", components=3),
                   held_out=views["test"])
    cams = path_cameras(obs, 12)
    centres = np.stack([c.center for c in cams])
    ref = views["train"].cameras[0].center
    np.testing.assert_allclose(np.linalg.norm(centres - ref, axis=1), 0.2, rtol=1e-9)
    for c in cams:
        np.testing.assert_allclose(c.pose[:3, :3], views["test"].cameras[0].pose[:3, :3])
    orbit = pr.problems.get("nerf", size=8, views=2, test_views=2, occupancy=0, samples=8).problem.observations[0]
    assert path_cameras(orbit) is None  # a turntable rig: no forward path


def test_nerf_on_forward_views_and_nex_share_the_data():
    nerf = pr.problems.get("nerf", size=8, views=3, test_views=2, rig="forward")
    nex = pr.problems.get("nex", size=8, views=3, test_views=2)
    a, b = nerf.problem.observations[0], nex.problem.observations[0]
    np.testing.assert_array_equal(a.views.images, b.views.images)
    np.testing.assert_array_equal(a.held_out.images, b.held_out.images)
    with pytest.raises(ValueError, match="rig must be one of"):
        pr.problems.get("nerf", size=8, views=2, test_views=1, rig="sideways")
    with pytest.raises(ValueError, match="basis"):
        pr.problems.get("nex", size=8, views=2, test_views=1, basis=0)
    assert pr.problems.get("nex", size=8, views=2, test_views=1, basis=3).training.model.options == {"basis": 3}


def test_a_stated_problem_with_planes_gets_nex_defaults():
    views = forward_facing_views(size=8, n_train=2, n_test=1)["train"]
    box = pr.Box(x=(-1, 1), y=(-1, 1), z=(-1, 1))
    problem = pr.Problem(box, observations=[Rendered(views, density=box.field("density"),
                                                     colour=box.field("rgb", components=3), quadrature=Planes())])
    c = pr.solvers.PINNSolver.from_options(problem, progress=False).config
    assert (c.model.backbone, c.optim.steps, c.sampling.batch) == ("nex", 3000, 1024)
    assert "32 planes" in str(problem)
