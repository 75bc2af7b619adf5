"""The eikonal-sdf catalogue problem: statement, references, short runs, CLI."""

import json
import warnings

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import pinr as pr
from pinr import geometry as geo
from pinr.cli import app
from pinr.problems.eikonal_sdf import SDFOutputs
from pinr.solution import gradient_norm

FAST_NET = {"width": 64, "depth": 2, "omega0": 5.0, "omega_hidden": 5.0}


def test_statement_is_sirens_loss():
    p = pr.problems.get("eikonal-sdf", shape="circle")
    terms = {c.name: c for c in p.conditions}
    assert set(terms) == {"eikonal", "surface", "normals", "off_surface"}
    assert {k: c.weight for k, c in terms.items()} == {"eikonal": 50.0, "surface": 3000.0, "normals": 100.0,
                                                        "off_surface": 100.0}
    assert {c.reduction for c in p.conditions} == {"mae"}
    assert terms["surface"].on.name == terms["normals"].on.name == "surface"
    assert terms["eikonal"].on.name == terms["off_surface"].on.name == "interior" and p.params == {"alpha": 100.0}
    assert "sqrt(u_x**2 + u_y**2) = 1" in str(p) and "[n_x, n_y]" in str(p)
    assert isinstance(p.outputs, SDFOutputs) and isinstance(p.outputs.shape, pr.Disk)
    q = pr.problems.get("eikonal-sdf", shape="torus", mode="eikonal", surface_weight=1e3, alpha=50)
    assert q.domain.dim == 3 and q.params["alpha"] == 50 and {c.name: c.weight for c in q.conditions}["surface"] == 1e3


def test_exact_reference_is_the_shapes_signed_distance():
    p = pr.problems.get("eikonal-sdf", shape="star")
    ref = pr.reference(p, resolution=64)
    pts = ref.grid.points(dtype=torch.float64).numpy()
    np.testing.assert_allclose(ref(pts)[:, 0], p.outputs.shape.signed_distance(pts), atol=1e-12)
    m = pr.compare(ref, ref)
    assert m["rel_l2"] == 0.0


def test_supervised_mode_and_file_shapes(tmp_path, make_icosphere, rng):
    p = pr.problems.get("eikonal-sdf", shape="sphere", mode="supervised")
    (c,) = p.conditions
    assert c.name == "sdf" and c.on.name == "near_surface" and c.reduction == "mse"
    v, f = make_icosphere(2, 3.0)
    geo.write_mesh(tmp_path / "ball.obj", v + 7, f)
    pm = pr.problems.get("eikonal-sdf", shape=str(tmp_path / "ball.obj"))
    assert isinstance(pm.outputs.shape, geo.TriangleMesh) and pm.exact is not None
    pts, nrm = pr.Ball((0, 0, 0), 0.5).sample_surface(2000, rng)
    np.savez(tmp_path / "cloud.npz", points=pts, normals=nrm)
    pc = pr.problems.get("eikonal-sdf", shape=str(tmp_path / "cloud.npz"))
    assert pc.exact is None and not pc.outputs.shape.exact
    with pytest.raises(ValueError, match="mode"):
        pr.problems.get("eikonal-sdf", mode="occupancy")


def test_short_2d_run_on_a_circle_reaches_a_high_iou():
    """400 steps at a high learning rate reach IoU > 0.99 — on most seeds: in float32 the two
    engines' rounding sends seed 0 down different paths, and one of six (engine, seed) runs
    measured kept a spurious blob (IoU 0.82), so the median of three seeds is asserted."""
    p = pr.problems.get("eikonal-sdf", shape="circle", batch=256)
    runs = []
    for seed in (0, 1, 2):
        sol = pr.solve(p, steps=400, lr=3e-3, backbone="siren", backbone_options=FAST_NET, seed=seed,
                       progress=False, reference_solution=None)
        assert sol.metadata["engine"] == "autograd"  # first derivatives only: reverse mode is the cheaper engine
        runs.append(geo.shape_metrics(sol, p.outputs.shape, samples=20000, gradient_norm=gradient_norm(sol)))
    assert np.median([m["iou"] for m in runs]) > 0.99
    assert np.median([m["chamfer"] for m in runs]) < 5e-3
    assert np.median([m["normal_consistency"] for m in runs]) > 0.99


def test_short_supervised_run_on_a_circle():
    p = pr.problems.get("eikonal-sdf", shape="circle", mode="supervised", batch=256)
    sol = pr.solve(p, steps=300, lr=1e-3, backbone="siren", backbone_options={**FAST_NET, "omega0": 10.0,
                   "omega_hidden": 10.0}, seed=0, progress=False, reference_solution=None)
    m = geo.shape_metrics(sol, p.outputs.shape, samples=20000, gradient_norm=gradient_norm(sol))
    assert m["iou"] > 0.99 and m["chamfer"] < 5e-3


def test_cli_solves_a_named_shape_and_a_mesh_file(tmp_path, make_icosphere):
    runner = CliRunner()
    out = tmp_path / "run"
    r = runner.invoke(app, ["solve", "eikonal-sdf", "--set", "shape=ring", "--set", "batch=64", "--steps", "3",
                            "--out", str(out), "--no-progress", "--option", "width=16", "--option", "depth=1"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["problem"] == "eikonal-sdf"
    v, f = make_icosphere(1, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        geo.write_mesh(tmp_path / "m.stl", v, f)
    r = runner.invoke(app, ["solve", "eikonal-sdf", "--set", f"shape={tmp_path / 'missing.obj'}", "--out",
                            str(tmp_path / "x")])
    assert r.exit_code == 2 and "does not exist" in r.output
    (tmp_path / "empty.ply").write_text("")
    r = runner.invoke(app, ["solve", "eikonal-sdf", "--set", f"shape={tmp_path / 'empty.ply'}"])
    assert r.exit_code == 2 and "empty" in r.output


def test_default_mode_follows_the_shape(tmp_path, make_icosphere, rng):
    """3-D shapes with an exact distance (built-in, mesh) default to the regression with the hash
    grid; 2-D shapes and point clouds to SIREN's eikonal loss; a mode given is kept."""
    from pinr.problems.eikonal_sdf import default_mode

    sphere = pr.problems.get("eikonal-sdf", shape="sphere")
    assert [c.name for c in sphere.conditions] == ["sdf"] and sphere.conditions[0].on.uniform == 0.2
    assert sphere.training.model.backbone == "hashgrid" and "the default for this shape" in sphere.description
    v, f = make_icosphere(2, 1.0)
    geo.write_mesh(tmp_path / "ball.obj", v, f)
    assert default_mode(geo.load_shape(str(tmp_path / "ball.obj"))) == "supervised"
    pts, nrm = pr.Ball((0, 0, 0), 0.5).sample_surface(2000, rng)
    np.savez(tmp_path / "cloud.npz", points=pts, normals=nrm)
    cloud = pr.problems.get("eikonal-sdf", shape=str(tmp_path / "cloud.npz"))
    assert {c.name for c in cloud.conditions} == {"eikonal", "surface", "normals", "off_surface"}
    assert cloud.training.model.backbone == "siren"
    circle = pr.problems.get("eikonal-sdf", shape="circle")
    assert "eikonal" in {c.name for c in circle.conditions} and circle.training.model.backbone == "siren"
    kept = pr.problems.get("eikonal-sdf", shape="sphere", mode="eikonal")
    assert "eikonal" in {c.name for c in kept.conditions} and "default" not in kept.description


@pytest.mark.parametrize("shape", ["sphere", "mesh"])
def test_near_surface_points_keep_a_uniform_share_in_the_box(shape, tmp_path, make_icosphere):
    """With ``uniform=0.25`` a quarter of the points lie anywhere in the box (Laplace noise of
    1e-3 never carries a surface point 0.05 away: probability e^-50), and every point's distance
    is the shape's exact one — drawn fresh (analytic) or from the pool (mesh)."""
    if shape == "mesh":
        v, f = make_icosphere(3, 0.5)
        geo.write_mesh(tmp_path / "ball.obj", v, f)
        solid = geo.load_shape(str(tmp_path / "ball.obj"), padding=0.1)
    else:
        solid = geo.load_shape("sphere")
    domain = pr.Box(x=(-1, 1), y=(-1, 1), z=(-1, 1))
    dist = geo.signed_distance_data("d", solid, domain)
    region = geo.NearSurfaceRegion(domain, solid, dist, scales=(1e-3,), uniform=0.25, pool=1 << 14)
    s = region.sample(8000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    p = s.points.numpy()
    d = solid.signed_distance(p)
    np.testing.assert_allclose(s.data[region.source].numpy(), d, atol=1e-12)
    # box points further than 0.05 from the surface: the box's volume less the shell's
    shell = np.mean(np.abs(solid.signed_distance(np.random.default_rng(1).uniform(-1, 1, (200000, 3)))) <= 0.05)
    expected = 0.25 * (1 - shell)
    assert abs(np.mean(np.abs(d) > 0.05) - expected) < 5 * np.sqrt(expected * (1 - expected) / 8000)
    assert np.all(np.abs(p) <= 1)
    with pytest.raises(ValueError, match="uniform"):
        geo.NearSurfaceRegion(domain, solid, dist, uniform=1.0)
    with pytest.raises(ValueError, match="eikonal-sdf uniform"):
        pr.problems.get("eikonal-sdf", shape="sphere", uniform=1)


def test_short_3d_supervised_run_with_the_hash_grid():
    """The 3-D default (a hash grid regressing exact distances near the surface and in the box),
    small: a sphere's SDF to IoU > 0.98 and a relative L2 < 0.05 over the box in a few seconds."""
    p = pr.problems.get("eikonal-sdf", shape="sphere", batch=1024)
    sol = pr.solve(p, steps=400, backbone_options={"levels": 6, "log2_table": 14, "max_resolution": 64},
                   seed=0, progress=False, reference_solution=None)
    m = geo.shape_metrics(sol, p.outputs.shape, resolution=64, samples=20000, gradient_norm=gradient_norm(sol))
    assert m["iou"] > 0.98 and m["chamfer"] < 5e-3
    pts = np.random.default_rng(0).uniform(-1, 1, (20000, 3))
    err = sol(pts)[:, 0] - p.outputs.shape.signed_distance(pts)
    assert np.linalg.norm(err) / np.linalg.norm(p.outputs.shape.signed_distance(pts)) < 0.05


def test_a_solid_whose_distance_is_only_a_bound_keeps_the_eikonal_loss():
    """The snowman (a union) and CSG solids report a bound, not the distance: no exact labels to
    regress, so they keep SIREN's statement even in 3-D."""
    from pinr.problems.eikonal_sdf import default_mode

    assert not geo.load_shape("snowman").exact and default_mode(geo.load_shape("snowman")) == "eikonal"
    solid = pr.Ball((0, 0, 0), 0.7) - pr.Box(x=(0, 1), y=(0, 1), z=(-1, 1))
    assert "eikonal" in {c.name for c in pr.problems.get("eikonal-sdf", shape=solid).conditions}
