"""Analytic solids as shapes: exact signed distances obey the eikonal equation and know their surfaces."""

import math

import numpy as np
import pytest

import pinr as pr
from pinr import geometry as geo

PRIMITIVES = {
    "circle": pr.Disk((0.1, -0.2), 0.6),
    "rectangle": pr.Rectangle(x=(-0.65, 0.75), y=(-0.2, 0.4)),
    "star": geo.builtin_shape("star"),
    "sphere": pr.Ball((0.1, 0.0, -0.1), 0.55),
    "box": pr.Box(x=(-0.6, 0.6), y=(-0.4, 0.4), z=(-0.25, 0.25)),
    "torus": pr.Torus(0.55, 0.2),
}
COMBINED = {name: geo.builtin_shape(name) for name in ("ring", "lens", "two-circles", "hollow-box", "snowman")}
ALL = {**PRIMITIVES, **COMBINED}


def fd_gradient(shape, p, h=1e-6):
    return np.stack([(shape.signed_distance(p + h * e) - shape.signed_distance(p - h * e)) / (2 * h)
                     for e in np.eye(shape.dim)], -1)


@pytest.mark.parametrize("name", sorted(ALL))
def test_gradient_has_unit_norm_away_from_the_medial_axis(name, rng):
    """|∇φ| = 1 almost everywhere (central differences), and never more: φ is 1-Lipschitz."""
    shape = ALL[name]
    p = rng.uniform(-1, 1, (20000, shape.dim))
    g = np.linalg.norm(fd_gradient(shape, p), axis=-1)
    assert g.max() <= 1 + 1e-6
    assert np.mean(np.abs(g - 1) < 1e-6) > 0.98  # the rest straddle a medial axis or a CSG kink
    q = p + rng.normal(0, 0.05, p.shape)
    assert np.all(np.abs(shape.signed_distance(p) - shape.signed_distance(q)) <= np.linalg.norm(p - q, axis=-1) + 1e-12)


@pytest.mark.parametrize("name", sorted(ALL))
def test_surface_samples_are_on_the_zero_level_set_with_outward_normals(name, rng):
    shape = ALL[name]
    pts, nrm = shape.sample_surface(4000, rng)
    assert pts.shape == nrm.shape == (4000, shape.dim)
    assert np.abs(shape.signed_distance(pts)).max() < 1e-12
    np.testing.assert_allclose(np.linalg.norm(nrm, axis=-1), 1, atol=1e-12)
    # stepping along the normal raises φ by the step (away from corners, where 1-Lipschitz caps it)
    t = 1e-4
    rise = shape.signed_distance(pts + t * nrm) / t
    assert rise.max() <= 1 + 1e-6 and np.mean(rise > 1 - 1e-6) > 0.98


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitive_distance_matches_brute_force_distance_to_dense_surface_samples(name, rng):
    """|φ| is the distance to the surface: within the sample spacing of a dense surface sampling."""
    shape = PRIMITIVES[name]
    surf, _ = shape.sample_surface(400000 if shape.dim == 3 else 40000, rng)
    from scipy.spatial import cKDTree

    p = rng.uniform(-1, 1, (2000, shape.dim))
    near, _ = cKDTree(surf).query(p)
    phi = np.abs(shape.signed_distance(p))
    assert np.all(phi <= near + 1e-12)  # the exact distance never exceeds the distance to a surface point
    spacing = (shape.surface_measure / len(surf)) ** (1 / (shape.dim - 1))
    assert np.all(near - phi < 3 * spacing)


@pytest.mark.parametrize("name", sorted(ALL))
def test_surface_sampling_is_uniform_by_measure(name, rng):
    """The fraction of samples inside a ball around a surface point matches the measure it cuts."""
    shape = ALL[name]
    pts, _ = shape.sample_surface(200000, rng)
    if shape.dim == 2 and name == "circle":
        frac = np.mean(pts[:, 0] > shape.center[0])
        assert abs(frac - 0.5) < 0.01
    # measure of the surface estimated from two independent halves agrees
    half = np.mean(pts[:, 0] > 0)
    pts2, _ = shape.sample_surface(200000, np.random.default_rng(1))
    assert abs(half - np.mean(pts2[:, 0] > 0)) < 0.01


def test_known_surface_measures():
    assert pr.Disk((0, 0), 0.5).surface_measure == pytest.approx(math.pi)
    assert pr.Box(x=(-0.5, 0.5), y=(-0.5, 0.5), z=(-0.5, 0.5)).surface_measure == pytest.approx(6.0)
    assert pr.Torus(0.5, 0.2).surface_measure == pytest.approx(4 * math.pi**2 * 0.1)
    ring = pr.Disk((0, 0), 0.7) - pr.Disk((0, 0), 0.35)
    assert ring.surface_measure == pytest.approx(2 * math.pi * 1.05, rel=1e-12)


def test_set_operations_follow_min_max():
    a, b = pr.Disk((-0.2, 0), 0.5), pr.Disk((0.2, 0), 0.5)
    p = np.random.default_rng(0).uniform(-1, 1, (1000, 2))
    da, db = a.signed_distance(p), b.signed_distance(p)
    np.testing.assert_array_equal((a | b).signed_distance(p), np.minimum(da, db))
    np.testing.assert_array_equal((a & b).signed_distance(p), np.maximum(da, db))
    np.testing.assert_array_equal((a - b).signed_distance(p), np.maximum(da, -db))
    assert not (a | b).exact and a.exact


def test_occupancy_is_the_sign_on_the_lattice():
    occ = pr.Disk((0, 0), 0.5).occupancy(64)
    c = -1 + (2 / 64) * (np.arange(64) + 0.5)
    x, y = np.meshgrid(c, c, indexing="ij")
    np.testing.assert_array_equal(occ, x**2 + y**2 <= 0.25)


def test_normalization_round_trip(rng):
    p = rng.uniform(-3, 7, (100, 3)) * [1, 2, 0.5]
    n = geo.Normalization.fit(p, padding=0.1)
    q = n.to_normalized(p)
    assert np.abs(q).max() == pytest.approx(0.9)
    np.testing.assert_allclose(n.to_input(q), p, atol=1e-12)
    assert (q.max(0) - q.min(0)).max() == pytest.approx(1.8)  # aspect ratio kept: only the longest side fills


@pytest.mark.parametrize("bad, match", [
    (lambda: pr.Disk((0, 0), -1), "radius"),
    (lambda: pr.Torus(0.2, 0.5), "r < R"),
    (lambda: pr.Polygon([[0, 0], [1, 1], [2, 2]]), "zero area"),
    (lambda: pr.Polygon([[0, 0], [1, np.nan], [2, 0]]), "NaN"),
    (lambda: pr.Disk((0, 0), 0.5) | pr.Ball((0, 0, 0), 0.5), "need the same coordinates"),
    (lambda: geo.builtin_shape("blob"), "built-in shapes are"),
    (lambda: pr.Disk((0, 0), 0.5).signed_distance(np.zeros((3, 3))), "shape"),
])
def test_bad_shapes_raise_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def test_available_shapes_cover_both_dimensions():
    names = geo.available_shapes()
    dims = {geo.builtin_shape(n).dim for n in names}
    assert dims == {2, 3} and "circle" in names and "torus" in names
