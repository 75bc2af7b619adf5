"""Parts of a boundary: ``(A - B).boundary[B]`` lies on B and ``boundary[A]`` on A, in shares of
their lengths, with the domain's outward normals (into the hole); exact measures; sides of box
operands; nested set operations; ``where`` predicates select the right points and measure;
distance functions of parts vanish on them and are positive inside; refusals are one line."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import pinr as pr
from pinr import Eq, dn, dt, lap
from pinr.domains import AbstractBoundaryPart
from pinr.errors import ProblemError
from pinr.symbolic.hard import harden

R = 0.3  # hole radius


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def square_minus_disk():
    sq, hole = pr.Rectangle(x=(-1, 1), y=(-1, 1)), pr.Disk((0.2, -0.1), R)
    return sq - hole, sq, hole


def sample(region, n, seed=0, method="uniform"):
    s = region.sample(n, method=method, generator=gen(seed), dtype=torch.float64)
    return s.points.numpy(), s.normals.numpy()


def one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


# ------------------------------------------------------------------------ shares and measures
def test_part_shares_of_the_full_boundary_are_their_lengths():
    d, sq, hole = square_minus_disk()
    outer, rim = 8.0, 2 * math.pi * R
    assert d.boundary[sq].surface_measure == outer  # every point kept: exact
    assert d.boundary[hole].surface_measure == pytest.approx(rim, rel=1e-15)
    assert d.surface_measure == pytest.approx(outer + rim, rel=1e-15)
    n = 20000
    p, _ = sample(d.boundary, n, seed=1)
    on_hole = np.abs(hole.signed_distance(p)) < 1e-12
    share = rim / (outer + rim)
    assert abs(on_hole.mean() - share) < 4 * math.sqrt(share * (1 - share) / n)


@pytest.mark.parametrize("method", ["uniform", "sobol"])
def test_parts_lie_on_their_operand_uniformly_with_outward_normals(method):
    d, sq, hole = square_minus_disk()
    n = 8000
    p, nrm = sample(d.boundary[hole], n, seed=2, method=method)
    assert p.shape == nrm.shape == (n, 2)
    np.testing.assert_allclose(np.linalg.norm(p - hole.center, axis=1), R, atol=1e-12)
    # outward for the domain: into the hole, towards its centre (opposite to the disk's own normal)
    np.testing.assert_allclose(nrm, (np.asarray(hole.center) - p) / R, atol=1e-12)
    quadrant = np.arctan2(*(p - hole.center).T[::-1]) // (math.pi / 2)
    np.testing.assert_allclose(np.bincount((quadrant + 2).astype(int), minlength=4) / n, 0.25, atol=0.02)
    p, nrm = sample(d.boundary[sq], n, seed=3, method=method)
    assert np.abs(sq.signed_distance(p)).max() < 1e-12
    sides = np.array([np.isclose(p[:, 0], -1).mean(), np.isclose(p[:, 0], 1).mean(),
                      np.isclose(p[:, 1], -1).mean(), np.isclose(p[:, 1], 1).mean()])
    np.testing.assert_allclose(sides, 0.25, atol=0.02)
    np.testing.assert_allclose(np.abs(nrm).sum(axis=1), 1.0)  # axis normals, pointing out of the square
    assert (np.sum(nrm * p, axis=1) > 0).all()


def test_a_hole_cutting_the_edge_measures_its_arc_and_the_rest():
    """Square [-1, 1]² minus the disk of radius 0.5 centred on its side x = 1: the part on the disk
    is a half circle (π/2), the square's part 8 - 1, its side x+ 2 - 1."""
    sq, notch = pr.Rectangle(x=(-1, 1), y=(-1, 1)), pr.Disk((1.0, 0.0), 0.5)
    d = sq - notch
    assert d.boundary[notch].surface_measure == pytest.approx(math.pi / 2, rel=2e-3)
    assert d.boundary[sq].surface_measure == pytest.approx(7.0, rel=2e-3)
    assert d.boundary[sq]["x+"].surface_measure == pytest.approx(1.0, rel=2e-3)
    assert d.boundary[sq]["x-"].surface_measure == 2.0
    p, nrm = sample(d.boundary[sq]["x+"], 2000, seed=4)
    assert np.all(p[:, 0] == 1) and np.all(np.abs(p[:, 1]) >= 0.5 - 1e-12)
    np.testing.assert_array_equal(nrm, np.tile([1.0, 0.0], (2000, 1)))
    p, _ = sample(d.boundary[notch], 2000, seed=5)
    assert np.all(p[:, 0] <= 1 + 1e-12)  # only the arc inside the square


def test_nested_operands_and_sub_combinations():
    sq = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    left, right = pr.Disk((-0.5, 0.0), 0.2), pr.Disk((0.5, 0.0), 0.3)
    holes = left | right
    d = sq - holes
    assert d.boundary[holes].surface_measure == pytest.approx(2 * math.pi * 0.5, rel=1e-15)
    assert d.boundary[right].surface_measure == pytest.approx(2 * math.pi * 0.3, rel=1e-15)
    p, nrm = sample(d.boundary[pr.Disk((0.5, 0.0), 0.3)], 500, seed=6)  # keyed by an equal operand
    np.testing.assert_allclose(nrm, (np.array([0.5, 0.0]) - p) / 0.3, atol=1e-12)
    e = (sq - left) - right  # the same holes, nested the other way
    assert e.boundary[left].surface_measure == pytest.approx(2 * math.pi * 0.2, rel=1e-15)
    assert e.boundary[sq - left].surface_measure == pytest.approx(8 + 2 * math.pi * 0.2, rel=1e-15)


def test_space_time_parts():
    d, sq, hole = square_minus_disk()
    st = d * pr.TimeInterval(0, 2)
    part = st.boundary[hole]
    assert isinstance(part, AbstractBoundaryPart) and part.name == "boundary[disk]"
    assert part.surface_measure == pytest.approx(2 * 2 * math.pi * R)
    s = part.sample(400, generator=gen(7), dtype=torch.float64)
    p, nrm = s.points.numpy(), s.normals.numpy()
    np.testing.assert_allclose(np.linalg.norm(p[:, :2] - hole.center, axis=1), R, atol=1e-12)
    assert (p[:, 2] >= 0).all() and (p[:, 2] <= 2).all() and (nrm[:, 2] == 0).all()
    assert st.boundary[sq]["y+"].surface_measure == 4.0
    assert part.adf() == d.boundary[hole].adf()  # time-independent
    u = st.field("u")
    x, y, t = st.coords
    heat = pr.Problem(st, [Eq(dt(u), lap(u))], [pr.Initial(Eq(u, 0)), pr.Boundary(Eq(u, t), on=st.boundary[hole]),
                                                pr.Boundary(Eq(dn(u), 0), on=st.boundary[sq])])
    hard, names = harden(heat)
    assert names == ("initial", "boundary[disk]") and hard.hard["u"][1] == t * (-hole.adf())


# --------------------------------------------------------------------------------- where
def test_where_selects_the_right_points_and_measure():
    d, sq, hole = square_minus_disk()
    x, y = d.coords
    right = d.boundary.where(x > 0.2)  # through the hole's centre: half the rim, 2 + 2 * 0.8 of the square
    assert right.surface_measure == pytest.approx(3.6 + math.pi * R, rel=2e-3)
    p, nrm = sample(right, 4000, seed=8)
    assert (p[:, 0] > 0.2).all() and np.abs(d.signed_distance(p)).max() < 1e-12
    on_hole = np.abs(hole.signed_distance(p)) < 1e-12
    share = math.pi * R / (3.6 + math.pi * R)
    assert abs(on_hole.mean() - share) < 4 * math.sqrt(share * (1 - share) / 4000)
    np.testing.assert_allclose(nrm[on_hole], (np.asarray(hole.center) - p[on_hole]) / R, atol=1e-12)
    band = d.boundary[sq].where((y > 0.5) | (y < -0.5))  # on a part, combined by |
    assert band.surface_measure == pytest.approx(4 + 4 * 0.5, rel=2e-3)
    q, _ = sample(band, 2000, seed=9)
    assert (np.abs(q[:, 1]) > 0.5).all()
    corner = d.boundary[sq].where(x > 0).where(y > 0)  # chained: the same as &
    assert corner.predicate == ((x > 0) & (y > 0))
    assert corner.surface_measure == pytest.approx(2.0, rel=2e-3)
    box = pr.Rectangle(x=(0, 2), y=(0, 1))
    bx, by = box.coords
    assert box.boundary.where(bx < 0.5).surface_measure == pytest.approx(2.0, rel=2e-3)
    st = box * pr.TimeInterval(0, 3)
    late = st.boundary["x-"].where(st.coords[2] > 1)
    assert late.surface_measure == pytest.approx(2.0, rel=2e-3)
    assert (sample(late, 300, seed=10)[0][:, 2] > 1).all()


# ------------------------------------------------------------------------ distance functions
def _values(expr, coords, p):
    import sympy

    return np.broadcast_to(sympy.lambdify(coords, expr, "numpy")(*p.T), (len(p),))


def test_part_distance_vanishes_on_the_part_and_is_positive_inside():
    d, sq, hole = square_minus_disk()
    inside = d.interior.sample(2000, generator=gen(11), dtype=torch.float64).points.numpy()
    for part in (d.boundary[sq], d.boundary[hole], d.boundary[sq]["x-"]):
        phi = part.adf()
        assert np.abs(_values(phi, d.coords, sample(part, 500, seed=12)[0])).max() < 1e-12
        assert (_values(phi, d.coords, inside) > 0).all()
    lens = pr.Disk((-0.4, 0.0), 0.6) & pr.Disk((0.4, 0.0), 0.6)
    inner = lens.interior.sample(500, generator=gen(13), dtype=torch.float64).points.numpy()
    part = lens.boundary[lens.operands[1]]
    assert np.abs(_values(part.adf(), lens.coords, sample(part, 300, seed=14)[0])).max() < 1e-12
    assert (_values(part.adf(), lens.coords, inner) > 0).all()
    union = pr.Disk((-0.4, 0.0), 0.6) | pr.Disk((0.4, 0.0), 0.6)
    with pytest.raises(NotImplementedError, match="operand of a union"):
        union.boundary[union.operands[0]].adf()
    with pytest.raises(NotImplementedError, match="side 'x-' runs through the domain"):
        (sq - pr.Rectangle(x=(-0.5, 0.5), y=(-0.5, 0.5))).boundary[pr.Rectangle(x=(-0.5, 0.5), y=(-0.5, 0.5))][
            "x-"].adf()
    with pytest.raises(NotImplementedError, match="no distance function"):
        d.boundary.where(d.coords[0] > 0).adf()


# --------------------------------------------------------------------------------- problems
def hole_problem(**hard):
    d, sq, hole = square_minus_disk()
    u = d.field("u")
    return pr.Problem(d, [Eq(lap(u), 0)], [pr.Boundary(Eq(u, 1), on=d.boundary[sq], **hard),
                                           pr.Boundary(Eq(dn(u), 0), on=d.boundary[hole])])


def test_problems_take_parts_and_impose_them_exactly():
    p = hole_problem(hard=True)
    assert [c.name for c in p.conditions] == ["pde", "boundary[rectangle]", "boundary[disk]"]
    G, phi = p.hard["u"]
    assert G == 1 and phi == p.domain.operands[0].adf()
    sol = pr.solve(p, steps=0, dtype="float64", progress=False, backbone_options={"width": 16})
    outer, _ = sample(p.domain.boundary[p.domain.operands[0]], 200, seed=15)
    np.testing.assert_allclose(sol(outer), 1.0, rtol=0, atol=1e-12)
    rim, _ = sample(p.domain.boundary[p.domain.operands[1]], 200, seed=16)
    assert np.abs(sol(rim) - 1.0).min() > 1e-6  # the hole is free


def test_union_parts_stay_loss_terms():
    a, b = pr.Disk((-0.4, 0.0), 0.6), pr.Disk((0.4, 0.0), 0.6)
    d = a | b
    u = d.field("u")
    conds = [pr.Boundary(Eq(u, 0), on=d.boundary[a]), pr.Boundary(Eq(u, 0), on=d.boundary[b])]
    x, _ = d.coords
    conds[1] = pr.Boundary(Eq(u, 0), on=d.boundary.where(x > 0))  # a predicate part has none either
    p = pr.Problem(d, [Eq(lap(u), 1)], conds)
    assert harden(p) == (p, ())
    with pytest.raises(ProblemError, match=r"part boundary\[disk\] of the boundary has no distance function.*soft"):
        pr.Problem(d, [Eq(lap(u), 1)], [conds[0].replace(hard=True)])


def test_refusals_are_one_line():
    d, sq, hole = square_minus_disk()
    x, y = d.coords
    u = d.field("u")
    with pytest.raises(KeyError, match=r"Disk\(center=\(0.0, 0.0\), radius=0.3\) is not an operand") as err:
        d.boundary[pr.Disk((0, 0), R)]
    one_line(err)
    with pytest.raises(KeyError, match="no named sides; key its boundary by an operand"):
        d.boundary["x-"]
    with pytest.raises(KeyError, match="only box operands have named sides"):
        d.boundary[hole]["x-"]
    with pytest.raises(ValueError, match=r"where\(x > 2\) of .* selects nothing") as err:
        d.boundary.where(x > 2)
    one_line(err)
    with pytest.raises(ValueError, match="z not among the domain's coordinates"):
        d.boundary.where(pr.Rectangle(x=(0, 1), z=(0, 1)).coords[1] > 0)
    with pytest.raises(TypeError, match="a condition on the coordinates"):
        d.boundary.where(True)
    inner = pr.Disk((0.0, 0.0), 0.1)
    with pytest.raises(ValueError, match=r"boundary\[disk\] is empty"):
        (pr.Disk((0.0, 0.0), 0.5) | inner).boundary[inner]
    with pytest.raises(ProblemError, match=r"a region of an operand of the domain.*domain.boundary\[B\]") as err:
        pr.Problem(d, [Eq(lap(u), 0)], [pr.Boundary(Eq(dn(u), 0), on=hole.boundary)])
    one_line(err)


def test_the_fd_reference_refuses_parts_naming_them():
    named = r"condition 'boundary\[rectangle\]' is on boundary\[rectangle\] of Rect"
    with pytest.raises(NotImplementedError, match=named) as err:
        pr.reference(hole_problem())
    one_line(err)
    box = pr.Rectangle(x=(0, 1), y=(0, 1))
    x, _ = box.coords
    u = box.field("u")
    p = pr.Problem(box, [Eq(lap(u), 0)], [pr.Boundary(Eq(u, 0), on=box.boundary.where(x > 0.5)),
                                          pr.Boundary(Eq(u, 1), on=box.boundary.where(x <= 0.5))])
    with pytest.raises(NotImplementedError, match=r"part of a boundary.*boundary.where\(x > 0.5\)") as err:
        pr.reference(p)
    one_line(err)
