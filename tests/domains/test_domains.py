"""Domains and regions: samples lie where they should, normals are outward unit vectors,
sampling is reproducible and proportional to measure, grids give exact cell centres and data
on grids interpolates multilinear functions exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pinr as pr

DOMAINS = {
    "interval": lambda: pr.Interval(x=(-1, 2)),
    "rectangle": lambda: pr.Rectangle(x=(0, 2), y=(-1, 1)),
    "box": lambda: pr.Box(x=(0, 1), y=(-2, 0), z=(1, 1.5)),
    "disk": lambda: pr.Disk((0.5, -0.5), 2.0),
    "ball": lambda: pr.Ball((1.0, 0.0, -1.0), 0.5),
    "grid": lambda: pr.Grid((8, 4), x=(0, 1), y=(0, 2)),
    "spacetime": lambda: pr.Rectangle(x=(0, 1), y=(-1, 1)) * pr.TimeInterval(0.5, 2),
}
METHODS = ["uniform", "sobol"]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(params=list(DOMAINS))
def domain(request):
    return DOMAINS[request.param]()


# ------------------------------------------------------------------------------ interior
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_interior_samples_inside_with_shape_and_dtype(domain, method, dtype):
    s = domain.interior.sample(500, method=method, generator=gen(), dtype=dtype, device="cpu")
    assert s.points.shape == (500, domain.dim)
    assert s.points.dtype == dtype and s.points.device == torch.device("cpu")
    assert s.normals is None
    assert torch.isfinite(s.points).all()
    assert domain.contains(s.points.double().numpy()).all()
    # the samples spread over the domain (not all on one spot)
    assert (s.points.double().std(dim=0) > 0).all()


def test_default_dtype_and_device(domain):
    s = domain.interior.sample(16, generator=gen())
    assert s.points.dtype == torch.float32 and s.points.device.type == "cpu"


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_points(domain, method):
    for region in (domain.interior, domain.boundary):
        a = region.sample(64, method=method, generator=gen(7), dtype=torch.float64)
        b = region.sample(64, method=method, generator=gen(7), dtype=torch.float64)
        c = region.sample(64, method=method, generator=gen(8), dtype=torch.float64)
        assert torch.equal(a.points, b.points)
        if a.normals is not None:
            assert torch.equal(a.normals, b.normals)
        assert not torch.equal(a.points, c.points)


@pytest.mark.parametrize("method", METHODS)
def test_mean_of_unit_square_samples(method):
    dom = pr.Rectangle(x=(0, 1), y=(0, 1))
    p = dom.interior.sample(4096, method=method, generator=gen(3), dtype=torch.float64).points
    tol = 1e-2 if method == "sobol" else 3e-2  # i.i.d.: std of the mean is 0.29/64 ≈ 4.5e-3
    assert (p.mean(dim=0) - 0.5).abs().max() < tol
    # quantiles of each coordinate match the uniform distribution
    for q in (0.1, 0.5, 0.9):
        assert (torch.quantile(p, q, dim=0) - q).abs().max() < tol


def test_sobol_is_more_even_than_uniform():
    """A scrambled Sobol set fills 16x16 cells more evenly than i.i.d. points (4096 points)."""
    dom = pr.Rectangle(x=(0, 1), y=(0, 1))

    def cell_spread(method):
        p = dom.interior.sample(4096, method=method, generator=gen(5), dtype=torch.float64).points.numpy()
        counts, _, _ = np.histogram2d(p[:, 0], p[:, 1], bins=16, range=[[0, 1], [0, 1]])
        return counts.std()

    assert cell_spread("sobol") < 0.5 * cell_spread("uniform")


def test_disk_interior_is_area_uniform():
    """Half the area of a disk lies within r/√2 of its centre."""
    dom = pr.Disk((1.0, 2.0), 3.0)
    p = dom.interior.sample(20000, generator=gen(2), dtype=torch.float64).points.numpy()
    r = np.linalg.norm(p - np.array([1.0, 2.0]), axis=1)
    assert abs(np.mean(r < 3.0 / np.sqrt(2)) - 0.5) < 0.015
    assert abs(p[:, 0].mean() - 1.0) < 0.05 and abs(p[:, 1].mean() - 2.0) < 0.05


# ------------------------------------------------------------------------------ boundary
def _on_box_boundary(points, bounds):
    lo, hi = bounds[:, 0], bounds[:, 1]
    at_lo, at_hi = np.isclose(points, lo, atol=1e-12, rtol=0), np.isclose(points, hi, atol=1e-12, rtol=0)
    return at_lo, at_hi


@pytest.mark.parametrize("make", ["interval", "rectangle", "box", "grid"])
@pytest.mark.parametrize("method", METHODS)
def test_box_boundary_points_and_normals(make, method):
    dom = DOMAINS[make]()
    s = dom.boundary.sample(600, method=method, generator=gen(), dtype=torch.float64)
    p, n = s.points.numpy(), s.normals.numpy()
    assert p.shape == n.shape == (600, dom.dim)
    assert dom.contains(p).all()
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=0, rtol=1e-15)
    at_lo, at_hi = _on_box_boundary(p, dom.bounds)
    for k in range(600):
        axis = int(np.flatnonzero(n[k])[0])
        assert np.count_nonzero(n[k]) == 1
        if n[k, axis] > 0:
            assert n[k, axis] == 1.0 and at_hi[k, axis]
        else:
            assert n[k, axis] == -1.0 and at_lo[k, axis]
    # every side is hit
    sides = {(int(np.flatnonzero(v)[0]), float(v[np.flatnonzero(v)[0]])) for v in n}
    assert len(sides) == 2 * dom.dim


@pytest.mark.parametrize("make", ["disk", "ball"])
@pytest.mark.parametrize("method", METHODS)
def test_ball_boundary_points_and_normals(make, method):
    dom = DOMAINS[make]()
    s = dom.boundary.sample(500, method=method, generator=gen(), dtype=torch.float64)
    p, n = s.points.numpy(), s.normals.numpy()
    c = np.array(dom.center)
    np.testing.assert_allclose(np.linalg.norm(p - c, axis=1), dom.radius, rtol=1e-14)
    np.testing.assert_allclose(n, (p - c) / dom.radius, atol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, rtol=1e-14)
    # directions cover the sphere evenly: mean direction ≈ 0
    assert np.abs(n.mean(axis=0)).max() < 0.1


def test_spacetime_boundary_normals_have_no_time_component():
    dom = DOMAINS["spacetime"]()
    s = dom.boundary.sample(400, generator=gen(), dtype=torch.float64)
    p, n = s.points.numpy(), s.normals.numpy()
    assert p.shape == n.shape == (400, 3)
    assert (n[:, 2] == 0).all()
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, rtol=1e-15)
    assert dom.contains(p).all()
    at_lo, at_hi = _on_box_boundary(p[:, :2], dom.space.bounds)
    assert (at_lo | at_hi).any(axis=1).all()
    assert (p[:, 2] >= 0.5).all() and (p[:, 2] <= 2).all()


@pytest.mark.parametrize("side, axis, end, sign", [("x-", 0, 0, -1.0), ("x+", 0, 1, 1.0),
                                                   ("y-", 1, 0, -1.0), ("y+", 1, 1, 1.0)])
def test_boundary_side_selection(side, axis, end, sign):
    dom = pr.Rectangle(x=(0, 2), y=(-1, 1))
    s = dom.boundary[side].sample(100, generator=gen(), dtype=torch.float64)
    p, n = s.points, s.normals
    assert (p[:, axis] == float(dom.bounds[axis, end])).all()
    expected = torch.zeros(2, dtype=torch.float64)
    expected[axis] = sign
    assert (n == expected).all()
    other = 1 - axis
    lo, hi = dom.bounds[other]
    assert (p[:, other] >= lo).all() and (p[:, other] <= hi).all() and p[:, other].std() > 0.1


def test_side_selection_on_spacetime():
    dom = DOMAINS["spacetime"]()
    s = dom.boundary["x-"].sample(50, generator=gen(), dtype=torch.float64)
    assert (s.points[:, 0] == 0.0).all()
    assert (s.normals == torch.tensor([-1.0, 0.0, 0.0], dtype=torch.float64)).all()


@pytest.mark.parametrize("method", METHODS)
def test_boundary_sampling_proportional_to_side_measure(method):
    dom = pr.Rectangle(x=(0, 2), y=(0, 1))
    n = 6000
    s = dom.boundary.sample(n, method=method, generator=gen(11), dtype=torch.float64)
    on_x_sides = (s.normals[:, 0] != 0).double().mean().item()
    # x-sides have length 1 each, y-sides length 2 each: perimeter fraction 2/6
    assert abs(on_x_sides - 1 / 3) < 0.03
    left = (s.normals[:, 0] < 0).double().mean().item()
    assert abs(left - 1 / 6) < 0.03


def test_initial_region_of_space_time():
    dom = DOMAINS["spacetime"]()
    s = dom.initial.sample(200, generator=gen(), dtype=torch.float64)
    assert s.points.shape == (200, 3)
    assert (s.points[:, 2] == 0.5).all()
    assert dom.space.contains(s.points[:, :2].numpy()).all()
    assert s.points[:, :2].std(dim=0).min() > 0.1
    with pytest.raises(ValueError, match="TimeInterval"):
        _ = pr.Rectangle(x=(0, 1), y=(0, 1)).initial


# ---------------------------------------------------------------------------------- grids
@pytest.mark.parametrize("shape, axes", [((5,), dict(x=(-1, 2))),
                                         ((6, 4), dict(x=(0, 1), y=(-2, 3))),
                                         ((3, 4, 2), dict(x=(0, 1), y=(0, 2), z=(-1, 0)))])
def test_grid_interior_is_all_cell_centres(shape, axes):
    g = pr.Grid(shape, **axes)
    s = g.interior.sample(10_000, generator=gen(), dtype=torch.float64)  # default method: grid
    p = s.points.numpy()
    assert p.shape == (int(np.prod(shape)), len(shape))
    for idx in np.ndindex(*shape):
        flat = np.ravel_multi_index(idx, shape)
        for k, (lo, hi) in enumerate(axes.values()):
            h = (hi - lo) / shape[k]
            assert p[flat, k] == lo + (idx[k] + 0.5) * h
    assert np.array_equal(p, g.points(dtype=torch.float64).numpy())


def test_grid_interior_random_subset_when_fewer_points():
    g = pr.Grid((6, 5), x=(0, 1), y=(0, 1))
    full = g.points(dtype=torch.float64).numpy()
    s = g.interior.sample(10, generator=gen(1), dtype=torch.float64).points.numpy()
    assert s.shape == (10, 2)
    rows = {tuple(r) for r in full}
    assert all(tuple(r) in rows for r in s)
    assert len({tuple(r) for r in s}) == 10  # without repetition
    again = g.interior.sample(10, generator=gen(1), dtype=torch.float64).points.numpy()
    other = g.interior.sample(10, generator=gen(2), dtype=torch.float64).points.numpy()
    assert np.array_equal(s, again) and not np.array_equal(s, other)


def test_grid_uniform_method_samples_the_box():
    g = pr.Grid((4, 4), x=(0, 1), y=(0, 1))
    p = g.interior.sample(1000, method="uniform", generator=gen(), dtype=torch.float64).points.numpy()
    centres = g.points(dtype=torch.float64).numpy()
    assert len(np.unique(p, axis=0)) == 1000 and len(centres) == 16
    assert g.contains(p).all()


MULTILINEAR = {
    1: lambda x: 1 + 2 * x[..., 0],
    2: lambda x: 1 + 2 * x[..., 0] - 3 * x[..., 1] + 0.5 * x[..., 0] * x[..., 1],
    3: lambda x: (1 + 2 * x[..., 0] - 3 * x[..., 1] + 0.5 * x[..., 0] * x[..., 1] + x[..., 2]
                  - 0.25 * x[..., 0] * x[..., 1] * x[..., 2] + 0.7 * x[..., 1] * x[..., 2]),
}


@pytest.mark.parametrize("shape, axes", [((7,), dict(x=(-1, 2))),
                                         ((6, 9), dict(x=(0, 1), y=(-2, 3))),
                                         ((4, 5, 3), dict(x=(0, 1), y=(0, 2), z=(-1, 0.5)))])
def test_data_interpolation_is_exact_for_multilinear_functions(shape, axes):
    g = pr.Grid(shape, **axes)
    d = len(shape)
    f = MULTILINEAR[d]
    centres = g.points(dtype=torch.float64).numpy()
    values = f(centres).reshape(shape)
    data = pr.Data("f", values, on=g)
    source = data.func.source
    # at the cell centres
    at_centres = source.interpolate(torch.as_tensor(centres)).numpy()
    np.testing.assert_allclose(at_centres, values.reshape(-1), rtol=0, atol=1e-12)
    # at random points within the outermost centres
    lo = centres.min(axis=0)
    hi = centres.max(axis=0)
    rng = np.random.default_rng(0)
    pts = lo + rng.uniform(size=(500, d)) * (hi - lo)
    out = source.interpolate(torch.as_tensor(pts))
    assert out.shape == (500,) and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), f(pts), rtol=0, atol=1e-12)
    # float32 points give float32 values
    assert source.interpolate(torch.as_tensor(pts, dtype=torch.float32)).dtype == torch.float32


def test_data_interpolation_clamps_outside_outer_centres():
    g = pr.Grid((4,), x=(0, 1))
    data = pr.Data("f", np.array([1.0, 2.0, 4.0, 8.0]), on=g)
    out = data.func.source.interpolate(torch.tensor([[0.0], [0.05], [1.0], [0.95]], dtype=torch.float64))
    np.testing.assert_array_equal(out.numpy(), [1.0, 1.0, 8.0, 8.0])


def test_multichannel_data_interpolates_each_channel():
    g = pr.Grid((5, 6), x=(0, 1), y=(0, 1))
    c = g.points(dtype=torch.float64).numpy()
    f = MULTILINEAR[2]
    values = np.stack([f(c), -2 * f(c) + 1], axis=-1).reshape(5, 6, 2)
    data = pr.Data("g", values, on=g)
    assert data.shape == (2, 1)
    pts = torch.as_tensor(0.1 + 0.8 * np.random.default_rng(1).uniform(size=(100, 2)))
    for ch in range(2):
        src = data[ch].func.source
        assert data[ch].func.channel == ch
        expected = f(pts.numpy()) if ch == 0 else -2 * f(pts.numpy()) + 1
        np.testing.assert_allclose(src.interpolate(pts, ch).numpy(), expected, atol=1e-12)


def test_grid_lattice_and_default_shape():
    dom = pr.Rectangle(x=(0, 2), y=(0, 1))
    assert dom.default_grid_shape(64) == (64, 32)
    xs, ys = dom.lattice((4, 2))
    np.testing.assert_array_equal(xs, [0.25, 0.75, 1.25, 1.75])
    np.testing.assert_array_equal(ys, [0.25, 0.75])


def test_disk_patch_samples_the_disk_uniformly_by_area():
    d = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    g = torch.Generator().manual_seed(0)
    pts = pr.domains.DiskPatch(d, (0.2, -0.1), 0.3).sample(20000, generator=g, dtype=torch.float64).points
    r = torch.linalg.norm(pts - torch.tensor([0.2, -0.1], dtype=torch.float64), dim=-1)
    assert float(r.max()) <= 0.3
    # area-uniform: P(r < 0.15) = 1/4
    assert abs(float((r < 0.15).double().mean()) - 0.25) < 0.02
    st = d * pr.TimeInterval(0, 2)
    at0 = pr.domains.DiskPatch(st, (0, 0), 0.3, time=0.0).sample(100, generator=g).points
    assert torch.all(at0[:, 2] == 0) and torch.equal(pr.domains.DiskPatch(st, (0, 0), 0.3, time=0.0)
                                                       .windowed(at0, 0.5, 0.0), at0)
    with pytest.raises(ValueError, match="radius"):
        pr.domains.DiskPatch(d, (0, 0), 0.0)


def test_cone_patch_follows_the_front_and_shrinks_about_its_apex_in_a_time_window():
    st = pr.Rectangle(x=(-1, 1), y=(-1, 1)) * pr.TimeInterval(0, 0.4)
    cone = pr.domains.ConePatch(st, (0.1, 0.0), (1.0, 2.0), 0.05)
    pts = cone.sample(5000, generator=torch.Generator().manual_seed(1), dtype=torch.float64).points
    r = torch.linalg.norm(pts[:, :2] - torch.tensor([0.1, 0.0], dtype=torch.float64), dim=-1)
    t = pts[:, 2]
    assert torch.all((t >= 0) & (t <= 0.4))
    assert torch.all(r >= torch.clamp(t - 0.05, min=0) - 1e-12) and torch.all(r <= 2 * t + 0.05 + 1e-12)
    w = cone.windowed(pts, 0.25, 0.0)
    rw = torch.linalg.norm(w[:, :2] - torch.tensor([0.1, 0.0], dtype=torch.float64), dim=-1)
    assert torch.allclose(w[:, 2], 0.25 * t) and torch.allclose(rw, 0.25 * r)  # still inside the cone
    # the default window squeezes only the time column
    box = st.interior.sample(10, dtype=torch.float64).points
    assert torch.equal(st.interior.windowed(box, 0.5, 0.0)[:, :2], box[:, :2])
    with pytest.raises(ValueError, match="space x time"):
        pr.domains.ConePatch(pr.Rectangle(x=(-1, 1), y=(-1, 1)), (0, 0), 1.0, 0.1)
    with pytest.raises(ValueError, match="speeds"):
        pr.domains.ConePatch(st, (0, 0), (2.0, 1.0), 0.1)


def test_time_axis_is_the_time_coordinates_column():
    st = pr.Rectangle(x=(0, 1), y=(-1, 1)) * pr.TimeInterval(0.5, 2)
    assert st.time_axis == 2 and st.coords[st.time_axis] is st.time
    assert pr.TimeInterval(0, 1).time_axis == 0 and pr.Rectangle(x=(0, 1), y=(0, 1)).time_axis is None
