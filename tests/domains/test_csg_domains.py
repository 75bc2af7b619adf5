"""CSG domains: interior samples fill the exact area, boundary samples lie on the composite
boundary in proportion to length with outward unit normals, distance functions vanish on the
boundary with unit gradient there, and a PINN trains on an L-shape."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
import torch

import pinr as pr
from pinr import Eq, lap

L_VERTICES = [(-1, -1), (1, -1), (1, 0), (0, 0), (0, 1), (-1, 1)]
_CUSPS = [(0, math.sqrt(0.2)), (0, -math.sqrt(0.2))]  # where the two disks' circles cross


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def l_shape():
    return pr.Rectangle(x=(-1, 1), y=(-1, 1)) - pr.Rectangle(x=(0, 1), y=(0, 1))


def plate():
    """Rectangle [0, 2] x [0, 1] minus the disk of radius 0.3 around (1, 0.5)."""
    return pr.Rectangle(x=(0, 2), y=(0, 1)) - pr.Disk((1.0, 0.5), 0.3)


DOMAINS = {
    "L": l_shape,
    "plate": plate,
    "two-disks": lambda: pr.Disk((-0.4, 0.0), 0.6) | pr.Disk((0.4, 0.0), 0.6),
    "lens": lambda: pr.Disk((-0.4, 0.0), 0.6) & pr.Disk((0.4, 0.0), 0.6),
    "polygon-L": lambda: pr.Polygon(L_VERTICES),
    "triangle": lambda: pr.Polygon([(0, 0), (2, 0), (0, 1)]),
    "box-minus-ball": lambda: pr.Box(x=(-1, 1), y=(-1, 1), z=(-1, 1)) - pr.Ball((1.0, 1.0, 1.0), 0.8),
}

# lens of two unit-overlap disks: 2 r^2 acos(d/2r) - (d/2) sqrt(4r^2 - d^2), d = 0.8, r = 0.6
_LENS = 2 * 0.36 * math.acos(0.8 / 1.2) - 0.4 * math.sqrt(4 * 0.36 - 0.64)
AREAS = {  # exact area (volume) of each domain
    "L": 3.0,
    "plate": 2.0 - math.pi * 0.09,
    "two-disks": 2 * math.pi * 0.36 - _LENS,
    "lens": _LENS,
    "polygon-L": 3.0,
    "triangle": 1.0,
    "box-minus-ball": 8.0 - (4 / 3) * math.pi * 0.8**3 / 8,
}


def box_area(d):
    return float(np.prod(d.bounds[:, 1] - d.bounds[:, 0]))


# ------------------------------------------------------------------------------ interior
@pytest.mark.parametrize("name", list(DOMAINS))
def test_inside_fraction_of_bounding_box_is_the_area_ratio(name):
    d = DOMAINS[name]()
    b = d.bounds
    n = 40000
    p = b[:, 0] + np.random.default_rng(1).random((n, d.dim)) * (b[:, 1] - b[:, 0])
    ratio = AREAS[name] / box_area(d)
    assert abs(d.contains(p).mean() - ratio) < 4 * math.sqrt(ratio * (1 - ratio) / n)


@pytest.mark.parametrize("method", ["uniform", "sobol"])
@pytest.mark.parametrize("name", list(DOMAINS))
def test_interior_samples_exact_count_inside_and_uniform(name, method):
    d = DOMAINS[name]()
    n = 4000
    s = d.interior.sample(n, method=method, generator=gen(), dtype=torch.float64)
    p = s.points.numpy()
    assert p.shape == (n, d.dim) and s.normals is None
    assert d.contains(p).all()
    # uniform over the domain: the share left of the bounding box's centre line is that part's area
    mid = d.bounds[0].mean()
    b = d.bounds
    q = b[:, 0] + np.random.default_rng(2).random((200000, d.dim)) * (b[:, 1] - b[:, 0])
    q = q[d.contains(q)]
    share = (q[:, 0] < mid).mean()
    assert abs((p[:, 0] < mid).mean() - share) < 4 * math.sqrt(share * (1 - share) / n) + 0.005


def test_float32_and_spacetime_samples():
    st = l_shape() * pr.TimeInterval(0, 2)
    s = st.interior.sample(500, generator=gen())
    assert s.points.dtype == torch.float32 and s.points.shape == (500, 3)
    assert st.contains(s.points.double().numpy()).all()
    b = st.boundary.sample(300, generator=gen(), dtype=torch.float64)
    assert b.normals.shape == (300, 3) and (b.normals[:, 2] == 0).all()
    assert st.initial.sample(10, generator=gen()).points.shape == (10, 3)
    assert repr(st) == "(Rectangle(x=(-1, 1), y=(-1, 1)) - Rectangle(x=(0, 1), y=(0, 1))) * TimeInterval(0, 2)"


# ------------------------------------------------------------------------------ boundary
def _edge_fractions(p, vertices):
    """Share of points ``p`` on each edge of the polygon ``vertices`` (distance < 1e-9)."""
    v = np.asarray(vertices, dtype=np.float64)
    out = []
    for a, b in zip(v, np.roll(v, -1, axis=0)):
        e = b - a
        t = np.clip(((p - a) @ e) / (e @ e), 0, 1)
        out.append((np.linalg.norm(p - a - t[:, None] * e, axis=1) < 1e-9).mean())
    return np.array(out)


def _check_outward(d, p, nrm, corners, h=1e-3):
    """Unit normals; a step ``h`` along the normal leaves the domain, against it enters (points
    farther than ``2h`` from every corner)."""
    np.testing.assert_allclose(np.linalg.norm(nrm, axis=1), 1.0, atol=1e-12)
    far = np.ones(len(p), dtype=bool)
    for c in corners:
        far &= np.linalg.norm(p - np.asarray(c, dtype=np.float64), axis=1) > 2 * h
    assert far.mean() > 0.9
    assert not d.contains(p[far] + h * nrm[far]).any()
    assert d.contains(p[far] - h * nrm[far]).all()


@pytest.mark.parametrize("make", [l_shape, lambda: pr.Polygon(L_VERTICES)], ids=["csg", "polygon"])
@pytest.mark.parametrize("method", ["uniform", "sobol"])
def test_l_shape_boundary_is_on_the_edges_by_length_with_outward_normals(make, method):
    d = make()
    n = 8000
    s = d.boundary.sample(n, method=method, generator=gen(3), dtype=torch.float64)
    p, nrm = s.points.numpy(), s.normals.numpy()
    assert p.shape == nrm.shape == (n, 2)
    assert np.abs(pr.Polygon(L_VERTICES).signed_distance(p)).max() < 1e-9  # exact distance to the L's edges
    frac = _edge_fractions(p, L_VERTICES)
    np.testing.assert_allclose(frac.sum(), 1.0, atol=1e-12)  # every point on exactly one edge (corners aside)
    np.testing.assert_allclose(frac, np.array([2, 1, 1, 1, 1, 2]) / 8, atol=0.02)  # lengths over perimeter 8
    assert abs(frac[2] + frac[3] - 2 / 8) < 0.02  # the two re-entrant edges
    _check_outward(d, p, nrm, L_VERTICES)
    on_x0 = (np.abs(p[:, 0]) < 1e-12) & (p[:, 1] > 1e-6)  # re-entrant edge x = 0: normal +x (into the notch)
    on_y0 = (np.abs(p[:, 1]) < 1e-12) & (p[:, 0] > 1e-6)
    np.testing.assert_allclose(nrm[on_x0], np.tile([1.0, 0.0], (on_x0.sum(), 1)), atol=1e-15)
    np.testing.assert_allclose(nrm[on_y0], np.tile([0.0, 1.0], (on_y0.sum(), 1)), atol=1e-15)
    assert abs(d.surface_measure - 8.0) < 0.1


def test_sample_surface_of_an_l_shape_is_uniform_by_length_with_outward_normals():
    d = l_shape()
    n = 20000
    p, nrm = d.sample_surface(n, np.random.default_rng(7))
    assert p.dtype == nrm.dtype == np.float64 and p.shape == nrm.shape == (n, 2)
    frac = _edge_fractions(p, L_VERTICES)
    lengths = np.array([2, 1, 1, 1, 1, 2]) / 8  # edge length / perimeter 8
    assert np.all(np.abs(frac - lengths) < [4 * math.sqrt(q * (1 - q) / n) for q in lengths])
    np.testing.assert_allclose(np.linalg.norm(nrm, axis=1), 1.0, atol=1e-12)
    eps = 1e-6  # outward: phi(p + eps n) > 0 > phi(p - eps n)
    assert (d.signed_distance(p + eps * nrm) > 0).all() and (d.signed_distance(p - eps * nrm) < 0).all()
    assert d.surface_measure == pytest.approx(8.0, rel=0.01)  # 8 of the operands' 12 units of length
    again, _ = d.sample_surface(n, np.random.default_rng(7))
    np.testing.assert_array_equal(p, again)  # seeded by the numpy generator


def test_hole_normals_point_to_the_hole_centre():
    d = plate()
    n = 8000
    s = d.boundary.sample(n, generator=gen(4), dtype=torch.float64)
    p, nrm = s.points.numpy(), s.normals.numpy()
    r = np.linalg.norm(p - [1.0, 0.5], axis=1)
    on_hole = np.abs(r - 0.3) < 1e-12
    on_rect = np.abs(pr.Rectangle(x=(0, 2), y=(0, 1)).signed_distance(p)) < 1e-12
    assert (on_hole ^ on_rect).all()
    share = 2 * math.pi * 0.3 / (6 + 2 * math.pi * 0.3)
    assert abs(on_hole.mean() - share) < 4 * math.sqrt(share * (1 - share) / n)
    np.testing.assert_allclose(nrm[on_hole], ([1.0, 0.5] - p[on_hole]) / 0.3, atol=1e-12)
    _check_outward(d, p, nrm, [(0, 0), (2, 0), (2, 1), (0, 1)])


def test_union_with_a_shared_edge_counts_each_edge_once():
    """[0,1]x[0,1] | [1,2]x[0,1] is the 2x1 rectangle: perimeter 6, nothing on the seam x = 1."""
    d = pr.Rectangle(x=(0, 1), y=(0, 1)) | pr.Rectangle(x=(1, 2), y=(0, 1))
    rect = [(0, 0), (2, 0), (2, 1), (0, 1)]
    s = d.boundary.sample(6000, generator=gen(5), dtype=torch.float64)
    p, nrm = s.points.numpy(), s.normals.numpy()
    frac = _edge_fractions(p, rect)
    np.testing.assert_allclose(frac, np.array([2, 1, 2, 1]) / 6, atol=0.02)
    assert not ((np.abs(p[:, 0] - 1) < 1e-9) & (p[:, 1] > 1e-6) & (p[:, 1] < 1 - 1e-6)).any()
    _check_outward(d, p, nrm, rect)


@pytest.mark.parametrize("name", ["two-disks", "lens", "box-minus-ball", "triangle"])
def test_boundary_points_on_the_composite_boundary_with_outward_normals(name):
    d = DOMAINS[name]()
    s = d.boundary.sample(3000, generator=gen(6), dtype=torch.float64)
    p, nrm = s.points.numpy(), s.normals.numpy()
    assert np.abs(d.signed_distance(p)).max() < 1e-9
    corners = {"two-disks": _CUSPS, "lens": _CUSPS,
               "triangle": [(0, 0), (2, 0), (0, 1)]}.get(name, [])
    if name == "box-minus-ball":  # edges of the cube and the circles where the ball cuts it: step test off them
        q = np.abs(p)
        away = (np.sort(q, axis=1)[:, -2] < 1 - 2e-3) & (np.abs(np.linalg.norm(p - 1, axis=1) - 0.8) > 2e-3)
        p, nrm = p[away], nrm[away]
    _check_outward(d, p, nrm, corners)


# ----------------------------------------------------------------------- distance functions
def _adf_functions(d):
    phi = d.adf()
    xs = d.coords[: d.dim]
    assert phi.free_symbols <= set(xs)
    f = sympy.lambdify(xs, phi, "numpy")
    g = sympy.lambdify(xs, [sympy.diff(phi, x) for x in xs], "numpy")
    return (lambda p: np.broadcast_to(f(*p.T), (len(p),))), \
        (lambda p: np.stack([np.broadcast_to(c, (len(p),)) for c in g(*p.T)], axis=1))


ADF_CASES = {
    **DOMAINS,
    "rectangle": lambda: pr.Rectangle(x=(0, 2), y=(-1, 1)),
    "disk": lambda: pr.Disk((0.5, -0.5), 2.0),
    "ball": lambda: pr.Ball((1.0, 0.0, -1.0), 0.5),
}
CORNERS = {"L": L_VERTICES, "polygon-L": L_VERTICES, "plate": [(0, 0), (2, 0), (2, 1), (0, 1)],
           "two-disks": _CUSPS, "lens": _CUSPS,
           "triangle": [(0, 0), (2, 0), (0, 1)], "rectangle": [(0, -1), (2, -1), (2, 1), (0, 1)]}


@pytest.mark.parametrize("name", list(ADF_CASES))
def test_adf_zero_on_boundary_positive_inside_unit_gradient(name):
    d = ADF_CASES[name]()
    phi, grad = _adf_functions(d)
    with np.errstate(all="raise"):
        b = d.boundary.sample(1500, generator=gen(7), dtype=torch.float64)
        p, nrm = b.points.numpy(), b.normals.numpy()
        assert np.abs(phi(p)).max() < 1e-6
        interior = d.interior.sample(1500, generator=gen(8), dtype=torch.float64).points.numpy()
        assert (phi(interior) > 0).all()
        # gradient just inside the boundary (the non-convex polygon's form is |f| at the edge)
        if d.dim == 3:
            q = np.sort(np.abs(p), axis=1)[:, -2]
            far = (q < 0.95) & (np.abs(np.linalg.norm(p - 1, axis=1) - 0.8) > 0.05)
        else:
            far = np.ones(len(p), dtype=bool)
            for c in CORNERS.get(name, []):
                far &= np.linalg.norm(p - np.asarray(c, dtype=np.float64), axis=1) > 0.05
        assert far.mean() > 0.5
        gv = grad(p[far] - 1e-7 * nrm[far])
    np.testing.assert_allclose(np.linalg.norm(gv, axis=1), 1.0, atol=1e-4)
    # the gradient points inward: along minus the outward normal
    np.testing.assert_allclose(gv, -nrm[far], atol=1e-4)


def test_box_adf_on_some_sides_only():
    d = pr.Rectangle(x=(0, 2), y=(-1, 1))
    x, y = d.coords
    f = sympy.lambdify((x, y), d.adf(sides=("x-", "y+")), "numpy")
    t = np.linspace(0.1, 1.9, 7)
    np.testing.assert_allclose(f(0 * t, t - 1), 0, atol=1e-15)  # x- side
    np.testing.assert_allclose(f(t, 1 + 0 * t), 0, atol=1e-15)  # y+ side
    assert (f(2 + 0 * t, t - 1) > 0).all() and (f(t, -1 + 0 * t) > 0).all()  # the other sides are free
    assert sympy.simplify(d.adf(sides=("x-", "x+")) - x * (2 - x) / 2) == 0  # the normalised slab
    with pytest.raises(ValueError, match="sides must be a non-empty subset"):
        d.adf(sides=("z+",))
    assert (l_shape() * pr.TimeInterval(0, 1)).adf() == l_shape().adf()


def test_non_convex_polygon_cannot_be_subtracted_from():
    hole = pr.Polygon(L_VERTICES) - pr.Disk((-0.5, -0.5), 0.2)
    assert hole.adf().free_symbols == set(hole.coords)  # an unsigned minuend is fine
    with pytest.raises(ValueError, match="unsigned distance function"):
        (pr.Rectangle(x=(-2, 2), y=(-2, 2)) - pr.Polygon(L_VERTICES)).adf()
    with pytest.raises(ValueError, match="convex polygons joined by |"):
        (pr.Polygon(L_VERTICES) | pr.Disk((1, 1), 0.5)).adf()


# ------------------------------------------------------------------------- construction
def test_equality_repr_and_errors():
    assert l_shape() == l_shape() and hash(l_shape()) == hash(l_shape())
    assert l_shape() != (pr.Rectangle(x=(-1, 1), y=(-1, 1)) | pr.Rectangle(x=(0, 1), y=(0, 1)))
    assert repr(l_shape()) == "Rectangle(x=(-1, 1), y=(-1, 1)) - Rectangle(x=(0, 1), y=(0, 1))"
    three = (pr.Disk((0, 0), 1) | pr.Disk((1, 0), 1)) - pr.Polygon([(0, 0), (1, 0), (0, 1)])
    assert repr(three) == "(Disk(center=(0.0, 0.0), radius=1) | Disk(center=(1.0, 0.0), radius=1)) - " \
                          "Polygon([(0, 0), (1, 0), (0, 1)])"
    with pytest.raises(ValueError, match=r"cannot combine Rectangle\(x=.*coordinates x, y.*coordinates u, v"):
        pr.Rectangle(x=(0, 1), y=(0, 1)) - pr.Rectangle(u=(0, 1), v=(0, 1))
    with pytest.raises(TypeError, match="combines 2-D/3-D solid domains"):
        pr.Rectangle(x=(0, 1), y=(0, 1)) | pr.Grid((4, 4), x=(0, 1), y=(0, 1))
    with pytest.raises(ValueError, match="2-D or 3-D"):
        pr.Interval(x=(0, 1)) | pr.Interval(x=(2, 3))
    with pytest.raises(ValueError, match="empty"):
        pr.Disk((0, 0), 1) & pr.Disk((5, 0), 1)
    with pytest.raises(ValueError, match="coords must be two distinct identifiers"):
        pr.Polygon(L_VERTICES, coords=("x", "x"))
    with pytest.raises(KeyError, match="no named sides"):
        l_shape().boundary["x-"]
    assert pr.Polygon(L_VERTICES, coords=("u", "v")).coords[0].name == "u"


# ----------------------------------------------------------------------------- solvers
def test_pinn_trains_on_the_l_shape_and_fd_reference_refuses_it():
    d = l_shape()
    u = d.field("u")
    problem = pr.Problem(d, [Eq(-lap(u), 1)], [pr.Boundary(Eq(u, 0))])
    with pytest.raises(NotImplementedError, match=r"the FD reference works on boxes only.*Rectangle\(x=\(0, 1\)"):
        pr.reference(problem)
    sol = pr.solve(problem, steps=20, progress=False, batch=128, seed=0)
    values = sol(d.interior.sample(64, generator=gen(), dtype=torch.float64).points.numpy())
    assert values.shape == (64, 1) and np.isfinite(values).all()
