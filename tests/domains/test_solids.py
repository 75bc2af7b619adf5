"""Solids are shapes: closed-form signed distances, area-uniform surface samples with outward
normals, tori and triangle meshes as PDE domains (interior, boundary, distance function), and
the FD reference refusing what is not a box."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
import torch

import pinr as pr
from pinr import Eq, lap
from pinr import geometry as geo
from pinr.domains import AbstractSolid

L_VERTICES = [(-1, -1), (1, -1), (1, 0), (0, 0), (0, 1), (-1, 1)]
METHODS = ["uniform", "sobol"]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def sample(region, n, method, seed=0):
    s = region.sample(n, method=method, generator=gen(seed), dtype=torch.float64)
    return s.points.numpy(), None if s.normals is None else s.normals.numpy()


def binomial_tol(p, n, k=4.0):
    return k * math.sqrt(p * (1 - p) / n)


# ---------------------------------------------------------------------------- distances
SQ2 = math.sqrt(2)
CLOSED_FORMS = [  # (solid, point, signed distance worked out by hand)
    (pr.Rectangle(x=(0, 2), y=(0, 1)), (1, 0.5), -0.5),  # centre: half the short side
    (pr.Rectangle(x=(0, 2), y=(0, 1)), (0.2, 0.5), -0.2),  # nearest side x = 0
    (pr.Rectangle(x=(0, 2), y=(0, 1)), (1, 3), 2.0),  # above the top side
    (pr.Rectangle(x=(0, 2), y=(0, 1)), (3, 2), SQ2),  # off the corner (2, 1)
    (pr.Box(x=(-1, 1), y=(-1, 1), z=(-1, 1)), (2, 2, 2), math.sqrt(3)),  # off a vertex
    (pr.Box(x=(-1, 1), y=(-1, 1), z=(-1, 1)), (0, 0, 0.75), -0.25),
    (pr.Disk((1, 0), 2), (1, 0), -2.0),
    (pr.Disk((1, 0), 2), (4, 4), 3.0),  # |(3, 4)| - 2
    (pr.Ball((0, 0, 0), 1), (1, 2, 2), 2.0),  # |(1, 2, 2)| - 1
    (pr.Polygon([(0, 0), (4, 0), (0, 3)]), (1, 1), -1.0),  # incentre of the 3-4-5 triangle, inradius 1
    (pr.Polygon([(0, 0), (4, 0), (0, 3)]), (5, 0), 1.0),  # beyond the vertex (4, 0)
    (pr.Polygon([(0, 0), (4, 0), (0, 3)]), (2, -1), 1.0),  # below the edge y = 0
    (pr.Polygon([(0, 0), (4, 0), (0, 3)]), (4, 3), 12 / 5),  # off the hypotenuse 3x + 4y = 12: (12+12-12)/5
    (pr.Polygon(L_VERTICES), (0.5, 0.5), 0.5),  # in the notch: nearest edges x = 0, y = 0
    (pr.Torus(2, 0.5, center=(0, 0, 1)), (2, 0, 1), -0.5),  # on the core circle
    (pr.Torus(2, 0.5, center=(0, 0, 1)), (0, 0, 1), 1.5),  # the centre: R - r
    (pr.Torus(2, 0.5, center=(0, 0, 1)), (3, 4, 1), 2.5),  # |(5 - 2, 0)| - r
    (pr.Torus(2, 0.5, center=(0, 0, 1)), (0, 2, 2), 0.5),  # |(0, 1)| - r
]


@pytest.mark.parametrize("solid, point, expected", CLOSED_FORMS, ids=[f"{type(c[0]).__name__}-{i}"
                                                                      for i, c in enumerate(CLOSED_FORMS)])
def test_signed_distance_equals_the_closed_form(solid, point, expected):
    d = solid.signed_distance(np.array([point], dtype=np.float64))
    assert d.shape == (1,) and d[0] == pytest.approx(expected, abs=1e-14)
    assert solid.exact and solid.normalization == geo.Normalization.identity(solid.dim)


def test_set_operations_are_min_max_of_their_operands_and_not_exact():
    a, b = pr.Rectangle(x=(-1, 1), y=(-1, 1)), pr.Disk((0.5, 0.5), 0.7)
    p = np.random.default_rng(0).uniform(-1.5, 1.5, (500, 2))
    da, db = a.signed_distance(p), b.signed_distance(p)
    np.testing.assert_array_equal((a | b).signed_distance(p), np.minimum(da, db))
    np.testing.assert_array_equal((a & b).signed_distance(p), np.maximum(da, db))
    np.testing.assert_array_equal((a - b).signed_distance(p), np.maximum(da, -db))
    assert not (a - b).exact and (a - b).analytic


def test_names_default_to_the_class_and_builtins_set_theirs():
    assert pr.Disk((0, 0), 1).name == "disk" and pr.Torus().name == "torus"
    assert (pr.Disk((0, 0), 1) - pr.Disk((0, 0), 0.5)).name == "(disk - disk)"
    for name in geo.available_shapes():
        shape = geo.builtin_shape(name)
        assert shape.name == name and isinstance(shape, AbstractSolid)
    assert isinstance(geo.builtin_shape("torus"), pr.Torus)
    assert not hasattr(geo, "Circle") and not hasattr(geo, "AbstractShape")


# ------------------------------------------------------------------- surfaces as shapes
def _outward(solid, p, nrm, eps=1e-6, share=0.98):
    """Unit normals; φ(p + εn) > 0 > φ(p - εn) for all but the points within ε of a corner."""
    np.testing.assert_allclose(np.linalg.norm(nrm, axis=1), 1.0, atol=1e-12)
    ok = (solid.signed_distance(p + eps * nrm) > 0) & (solid.signed_distance(p - eps * nrm) < 0)
    assert ok.mean() >= share


@pytest.mark.parametrize("method", METHODS)
def test_torus_boundary_is_area_uniform_with_outward_normals(method):
    R, r = 0.6, 0.25
    t = pr.Torus(R, r, center=(0.1, -0.1, 0.2))
    n = 20000
    p, nrm = sample(t.boundary, n, method)
    assert np.abs(t.signed_distance(p)).max() < 1e-12
    _outward(t, p, nrm, share=1.0)
    # area element (R + r cos v) du dv: the outer half (cos v > 0) holds 1/2 + r/(pi R) of the area
    q = p - t.center
    outer = np.hypot(q[:, 0], q[:, 1]) > R
    share = 0.5 + r / (math.pi * R)
    assert abs(outer.mean() - share) < binomial_tol(share, n)
    assert t.surface_measure == pytest.approx(4 * math.pi**2 * R * r)


@pytest.mark.parametrize("method", METHODS)
def test_torus_interior_fills_its_volume(method):
    R, r = 0.6, 0.25
    t = pr.Torus(R, r)
    p, _ = sample(t.interior, 3000, method)
    assert p.shape == (3000, 3) and t.contains(p).all()
    b = t.bounds
    q = b[:, 0] + np.random.default_rng(3).random((40000, 3)) * (b[:, 1] - b[:, 0])
    ratio = 2 * math.pi**2 * R * r**2 / np.prod(b[:, 1] - b[:, 0])
    assert abs(t.contains(q).mean() - ratio) < binomial_tol(ratio, 40000)


def test_torus_distance_function_vanishes_on_the_surface_with_unit_gradient():
    t = pr.Torus(0.6, 0.25, center=(0.1, 0.0, -0.2))
    phi = t.adf()
    xs = t.coords
    f = sympy.lambdify(xs, phi, "numpy")
    g = sympy.lambdify(xs, [sympy.diff(phi, x) for x in xs], "numpy")
    p, nrm = t.sample_surface(500, np.random.default_rng(0))
    assert np.abs(f(*p.T)).max() < 1e-12
    np.testing.assert_allclose(np.stack(g(*p.T), -1), -nrm, atol=1e-12)  # grad phi = -n: positive inside
    inside, _ = sample(t.interior, 500, "uniform")
    assert (f(*inside.T) > 0).all()


# ------------------------------------------------------------------------ meshes as domains
@pytest.mark.parametrize("method", METHODS)
def test_box_mesh_boundary_is_on_the_faces_by_area_with_outward_normals(make_box_mesh, method):
    half = (0.6, 0.4, 0.25)
    mesh = pr.TriangleMesh(*make_box_mesh(half))
    n = 24000
    p, nrm = sample(mesh.boundary, n, method)
    assert np.abs(mesh.signed_distance(p)).max() < 1e-12
    _, face, _ = mesh.closest_points(p)
    share = mesh.areas / mesh.areas.sum()  # 12 triangles, half a box face each
    counts = np.bincount(face, minlength=len(mesh.faces)) / n
    assert np.all(np.abs(counts - share) < [binomial_tol(q, n) for q in share])
    np.testing.assert_array_equal(nrm, mesh.face_normals[face])
    _outward(mesh, p, nrm, share=0.99)  # all but the points within eps of the box's edges
    assert mesh.surface_measure == pytest.approx(8 * (0.6 * 0.4 + 0.6 * 0.25 + 0.4 * 0.25))


@pytest.mark.parametrize("method", METHODS)
def test_icosphere_mesh_as_a_pde_domain(make_icosphere, method):
    mesh = pr.TriangleMesh(*make_icosphere(2, 0.7))
    assert mesh.coords == pr.Ball((0, 0, 0), 0.7).coords and not mesh.analytic and mesh.exact
    p, _ = sample(mesh.interior, 2000, method)
    assert p.shape == (2000, 3) and (mesh.signed_distance(p) < 0).all()
    b, nrm = sample(mesh.boundary, 2000, method)
    assert np.abs(mesh.signed_distance(b)).max() < 1e-12
    assert ((b * nrm).sum(-1) > 0).all()  # outward: away from the centre
    _outward(mesh, b, nrm)
    # interior share of the bounding box is the mesh's volume over the box's
    ratio = mesh.signed_volume / np.prod(mesh.bounds[:, 1] - mesh.bounds[:, 0])
    q = mesh.bounds[:, 0] + np.random.default_rng(4).random((20000, 3)) * (mesh.bounds[:, 1] - mesh.bounds[:, 0])
    assert abs(mesh.contains(q).mean() - ratio) < binomial_tol(ratio, 20000)


def test_mesh_and_point_cloud_have_no_distance_function_and_say_so_in_one_line(make_icosphere):
    v, f = make_icosphere(1, 0.7)
    mesh = pr.TriangleMesh(v, f)
    cloud = geo.OrientedPointCloud(v, v / np.linalg.norm(v, axis=-1, keepdims=True))
    for solid in (mesh, cloud, mesh - pr.Ball((0.7, 0, 0), 0.3)):
        with pytest.raises(NotImplementedError, match="no closed-form distance function.*soft condition") as err:
            solid.adf()
        assert "\n" not in str(err.value)
    u = mesh.field("u")
    with pytest.raises(pr.errors.ProblemError, match="no closed-form distance function.*make it soft"):
        pr.Problem(mesh, [Eq(-lap(u), 1)], [pr.Boundary(Eq(u, 0), hard=True)])


def test_point_cloud_boundary_draws_its_points_and_normals(make_icosphere):
    v, _ = make_icosphere(4, 0.6)
    cloud = geo.OrientedPointCloud(v, v)
    p, nrm = sample(cloud.boundary, 500, "sobol")
    idx = cloud.nearest(p)[1]
    np.testing.assert_array_equal(p, cloud.points[idx])
    np.testing.assert_allclose(nrm, p / 0.6, atol=1e-12)
    inside, _ = sample(cloud.interior, 200, "uniform")
    assert (np.linalg.norm(inside, axis=-1) < 0.6 * 1.01).all()  # the estimated sign errs by the sagitta
    with pytest.raises(ValueError, match="no surface measure"):
        _ = cloud.surface_measure


@pytest.mark.parametrize("method", METHODS)
def test_box_mesh_minus_a_ball_samples_its_boundary_and_volume(make_box_mesh, method):
    mesh = pr.TriangleMesh(*make_box_mesh((0.5, 0.5, 0.5)))
    ball = pr.Ball((0.5, 0.5, 0.5), 0.5)
    d = mesh - ball
    p = np.random.default_rng(5).uniform(-0.5, 0.5, (5000, 3))
    np.testing.assert_allclose(d.signed_distance(p),
                               np.maximum(mesh.signed_distance(p), -ball.signed_distance(p)), atol=0)
    ratio = 1 - (4 / 3) * math.pi * 0.5**3 / 8  # the cube minus an eighth of the ball
    assert abs(d.contains(p).mean() - ratio) < binomial_tol(ratio, 5000)
    b, nrm = sample(d.boundary, 4000, method)
    assert np.abs(d.signed_distance(b)).max() < 1e-9
    on_ball = np.abs(ball.signed_distance(b)) < 1e-9
    np.testing.assert_allclose(nrm[on_ball], (ball.center - b[on_ball]) / 0.5, atol=1e-9)  # into the hole
    # the boundary is 6 faces less 3 quarter-disks of radius 0.5, plus an eighth of the sphere
    area = 6 - 3 * math.pi * 0.25 / 4 + 4 * math.pi * 0.25 / 8
    share = (4 * math.pi * 0.25 / 8) / area
    assert abs(on_ball.mean() - share) < binomial_tol(share, 4000)
    assert d.surface_measure == pytest.approx(area, rel=0.02)
    i, _ = sample(d.interior, 1000, method)
    assert d.contains(i).all()


def test_operands_with_different_normalisations_do_not_combine(make_icosphere):
    v, f = make_icosphere(1, 1.0)
    a = geo.TriangleMesh.fit(v, f)
    b = geo.TriangleMesh.fit(v * 3, f)
    with pytest.raises(ValueError, match="different normalisations"):
        a | b
    assert (a - pr.Ball((0, 0, 0), 0.2)).normalization == a.normalization


# ---------------------------------------------------------------------------- FD reference
@pytest.mark.parametrize("domain", [pr.Disk((0, 0), 1), pr.Torus(0.6, 0.25)], ids=["disk", "torus"])
def test_fd_reference_refuses_a_non_box_domain_in_one_line(domain):
    u = domain.field("u")
    problem = pr.Problem(domain, [Eq(-lap(u), 1)], [pr.Boundary(Eq(u, 0))])
    with pytest.raises(NotImplementedError, match="the FD reference works on boxes only") as err:
        pr.reference(problem)
    assert "\n" not in str(err.value) and repr(domain) in str(err.value)
