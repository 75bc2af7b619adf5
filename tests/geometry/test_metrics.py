"""Shape metrics, marching cubes, regions and outputs, asserted against known geometry."""

import math

import numpy as np
import pytest
import torch

import pinr as pr
from pinr import geometry as geo


@pytest.mark.parametrize("name, chamfer_max", [("circle", 1e-4), ("star", 1e-3), ("sphere", 5e-4), ("torus", 5e-4)])
def test_exact_sdf_against_itself(name, chamfer_max):
    """IoU 1 and Chamfer ≈ 0 (the marching-cubes/contour discretisation only)."""
    shape = geo.builtin_shape(name)
    m = geo.shape_metrics(shape, shape, samples=20000)
    assert m["iou"] == 1.0
    assert m["chamfer"] < chamfer_max
    assert m["normal_consistency"] > 0.99
    assert m["eikonal_residual"] < 0.01


def test_concentric_circles_have_known_metrics():
    """u = |x| - r' against the circle of radius r: Chamfer = Hausdorff = |r - r'|, IoU = (r'/r)²."""
    r, r2 = 0.6, 0.5
    m = geo.shape_metrics(lambda p: np.linalg.norm(p, axis=-1) - r2, pr.Disk((0, 0), r), samples=20000)
    assert m["chamfer"] == pytest.approx(r - r2, abs=1e-4)
    assert m["hausdorff"] == pytest.approx(r - r2, abs=1e-4)
    assert m["iou"] == pytest.approx((r2 / r) ** 2, abs=5e-3)
    assert m["normal_consistency"] == pytest.approx(1, abs=1e-4)  # polyline segments vs the circle


def test_eikonal_residual_reads_the_given_gradient_norm_else_differences():
    """|∇u| = 1 exactly gives 0; a constant |∇u| = 3 gives exactly 2; without it, central
    differences of u = |x|² (|∇u| = 2|x|) on the lattice."""
    disk, u = pr.Disk((0, 0), 0.5), (lambda p: np.linalg.norm(p, axis=-1) ** 2 - 0.25)
    ones = geo.shape_metrics(u, disk, resolution=64, samples=200, gradient_norm=lambda p: np.ones(len(p)))
    threes = geo.shape_metrics(u, disk, resolution=64, samples=200, gradient_norm=lambda p: np.full(len(p), 3.0))
    assert ones["eikonal_residual"] == 0.0 and threes["eikonal_residual"] == 2.0
    grid = geo.evaluate_grid(u, 64, 2)
    c = -1 + (np.arange(64) + 0.5) * 2 / 64
    x, y = np.meshgrid(c, c, indexing="ij")
    exact = np.abs(2 * np.hypot(x, y) - 1)[1:-1, 1:-1].mean()  # central differences of a quadratic are exact
    assert geo.eikonal_residual(None, 2, grid=grid) == pytest.approx(exact, rel=1e-5)
    with pytest.raises(ValueError, match="grid"):
        geo.eikonal_residual(None, 2)


def test_gradient_norm_of_a_neural_solution_is_its_exact_gradient():
    from pinr.solution import GridSolution, NeuralSolution, gradient_norm

    torch.manual_seed(0)
    domain = pr.Rectangle(x=(0, 4), y=(-1, 1))  # not the unit box: the network's input scaling counts
    net = pr.backbones.Network(pr.build_backbone("siren", 2, 1, width=8, depth=1), domain.bounds).double()
    grid = pr.Grid((4, 4), x=(0, 4), y=(-1, 1))
    sol = NeuralSolution(net, fields=("u",), coords=domain.coords, grid=grid, backbone="siren", options={})
    pts = torch.rand(50, 2, dtype=torch.float64) * torch.tensor([4.0, 2.0], dtype=torch.float64) - torch.tensor(
        [0.0, 1.0], dtype=torch.float64)
    p = pts.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(net(p)[:, 0].sum(), p)
    np.testing.assert_allclose(gradient_norm(sol)(pts.numpy()), g.norm(dim=1).numpy(), rtol=1e-10)
    assert gradient_norm(GridSolution(np.zeros((4, 4, 1)), grid, fields=("u",))) is None


def test_concentric_spheres_have_known_metrics():
    r, r2 = 0.6, 0.55
    m = geo.shape_metrics(lambda p: np.linalg.norm(p, axis=-1) - r2, pr.Ball((0, 0, 0), r), resolution=64,
                          samples=20000)
    assert m["chamfer"] == pytest.approx(r - r2, abs=2e-3)
    assert m["iou"] == pytest.approx((r2 / r) ** 3, abs=0.02)


def test_metrics_of_a_point_cloud_reference_and_input_units(rng):
    p, n = pr.Ball((0, 0, 0), 0.5).sample_surface(20000, rng)
    cloud = geo.OrientedPointCloud(p, n, normalization=geo.Normalization((0, 0, 0), 2.0))
    m = geo.shape_metrics(pr.Ball((0, 0, 0), 0.5), cloud, resolution=48, samples=5000)
    assert m["iou"] > 0.99 and m["chamfer"] < 5e-3 and m["reference"] == "estimated"
    assert m["chamfer_input_units"] == pytest.approx(2 * m["chamfer"])


def test_point_set_metrics():
    a = np.array([[0.0, 0.0], [1.0, 0.0]])
    b = np.array([[0.0, 0.5], [1.0, 0.0]])
    assert geo.chamfer(a, b) == pytest.approx(0.25)
    assert geo.hausdorff(a, b) == pytest.approx(0.5)
    assert geo.iou(np.array([1, 1, 0], bool), np.array([1, 0, 0], bool)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="empty"):
        geo.iou(np.zeros(3, bool), np.zeros(3, bool))


def test_no_level_set_gives_infinite_distances(caplog):
    m = geo.shape_metrics(lambda p: np.ones(len(p)), pr.Disk((0, 0), 0.5), resolution=32, samples=100)
    assert m["iou"] == 0.0 and math.isinf(m["chamfer"])


def test_chunked_marching_cubes_is_one_closed_mesh():
    values = geo.evaluate_grid(pr.Ball((0, 0, 0), 0.6), 64, 3)
    v, f = geo.marching_cubes(values, slab=8)
    v1, f1 = geo.marching_cubes(values, slab=64)
    assert len(v) == len(v1) and len(f) == len(f1)
    mesh = geo.TriangleMesh(v, f)
    assert mesh.closed
    assert mesh.signed_volume == pytest.approx(4 / 3 * math.pi * 0.6**3, rel=5e-3)
    assert np.abs(np.linalg.norm(v, axis=-1) - 0.6).max() < 1e-3


def test_regions_sample_the_surface_and_near_it():
    domain = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    shape = geo.builtin_shape("star")
    surface = geo.SurfaceRegion(domain, shape)
    g = torch.Generator().manual_seed(0)
    s = surface.sample(1000, generator=g, dtype=torch.float64)
    assert np.abs(shape.signed_distance(s.points.numpy())).max() < 1e-12
    again = surface.sample(1000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.equal(s.points, again.points)  # seeded by the solver's generator
    d = geo.signed_distance_data("d", shape, domain)
    near = geo.NearSurfaceRegion(domain, shape, d)
    pts = near.sample(20000, generator=g, dtype=torch.float64).points
    values = d.func.source.interpolate(pts[:, [0, 1]])  # handed over, not recomputed
    np.testing.assert_allclose(values.numpy(), shape.signed_distance(pts.numpy()), atol=1e-12)
    dist = np.abs(values.numpy())
    # half the points at Laplace scale 1e-3 (|noise| < 5e-3 for all but a few), half at 1e-1
    assert 0.45 < np.mean(dist < 5e-3) < 0.6
    with pytest.raises(ValueError, match="2-D spatial domain"):
        geo.SurfaceRegion(pr.Box(x=(-1, 1), y=(-1, 1), z=(-1, 1)), shape)


def test_write_sdf_outputs_2d_and_3d(tmp_path, make_icosphere):
    m2 = geo.write_sdf_outputs(tmp_path / "2d", geo.builtin_shape("ring"), geo.builtin_shape("ring"), resolution=64,
                               samples=2000)
    assert m2["iou"] == 1.0
    assert (tmp_path / "2d" / "level_sets.png").stat().st_size > 0
    with np.load(tmp_path / "2d" / "zero_level.npz") as z:
        assert len(z.files) == 2  # the ring's two circles
    v, f = make_icosphere(2, 1.0)
    mesh = geo.TriangleMesh.fit(v * 5 + 1, f)  # input units: radius 5 around (1, 1, 1)
    m3 = geo.write_sdf_outputs(tmp_path / "3d", mesh, mesh, resolution=48, samples=2000, render_resolution=32)
    assert m3["iou"] > 0.99
    for name in ("mesh.ply", "mesh.obj", "render.png", "slices.png", "shape_metrics.json"):
        assert (tmp_path / "3d" / name).stat().st_size > 0
    out = geo.read_mesh(tmp_path / "3d" / "mesh.ply")
    centre = out.normalization.to_input(out.vertices).mean(0)
    np.testing.assert_allclose(centre, [1, 1, 1], atol=0.05)
    assert out.normalization.scale == pytest.approx(5 / 0.9, rel=0.02)
