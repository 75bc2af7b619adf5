"""Data whose grid stops short of the domain is refused, not clamped silently; staggered
gradient grids half a cell inside the domain (poisson-image) are accepted."""

import numpy as np
import pytest

import pinr as pr
from pinr import Data, Eq, Grid, grad, lap
from pinr.errors import ProblemError


def _source(data):
    return data.func.source if not hasattr(data, "shape") else data[0].func.source


@pytest.fixture
def square():
    return pr.Rectangle(x=(0, 1), y=(0, 1))


def test_covers_within_one_cell():
    g = Data("g", np.zeros((10, 10)), on=Grid((10, 10), x=(0.05, 0.95), y=(0, 1)))  # h = 0.09 along x
    src = _source(g)
    assert src.covers({"x": (0, 1), "y": (0, 1)})
    assert not src.covers({"x": (-0.2, 1), "y": (0, 1)})
    assert not src.covers({"x": (0, 1), "y": (0, 1.2)})
    assert src.covers({"x": (-0.2, 1), "y": (0, 1)}, cells=3)
    assert src.covers({"x": (0.3, 0.6), "z": (5, 6)})  # a smaller box; coordinates it lacks are ignored
    assert src.extent_text() == "x in [0.05, 0.95], y in [0, 1]"


def test_data_far_outside_the_domain_is_refused_naming_both_extents(square):
    u = square.field("u")
    f = Data("f", np.ones((8, 8)), on=Grid((8, 8), x=(5, 6), y=(5, 6)))
    with pytest.raises(ProblemError) as err:
        pr.Problem(square, [Eq(lap(u), f)], [pr.Boundary(Eq(u, 0))])
    message = str(err.value)
    assert "f covers x in [5, 6], y in [5, 6]" in message
    assert "x in [0, 1], y in [0, 1]" in message and "pr.Grid" in message and "\n" not in message


def test_data_covering_only_part_of_the_domain_is_refused_in_any_condition(square):
    u = square.field("u")
    g = Data("g", np.ones((8, 8)), on=Grid((8, 8), x=(0, 0.5), y=(0, 1)))
    with pytest.raises(ProblemError, match="data g covers"):
        pr.Problem(square, [Eq(lap(u), 0)], [pr.Boundary(Eq(u, g))])


def test_data_on_the_domain_grid_and_on_staggered_grids_is_accepted():
    grid = Grid((16, 12), x=(0, 2), y=(-1, 1))
    hx, hy = grid.spacing
    (x0, x1), (y0, y1) = grid.bounds
    u = grid.field("u")
    gx = Data("g_x", np.zeros((15, 12)), on=Grid((15, 12), x=(x0 + hx / 2, x1 - hx / 2), y=(y0, y1)))
    gy = Data("g_y", np.zeros((16, 11)), on=Grid((16, 11), x=(x0, x1), y=(y0 + hy / 2, y1 - hy / 2)))
    exact = Data("I", np.zeros(grid.shape), on=grid)
    problem = pr.Problem(grid, conditions=[pr.Condition(Eq(grad(u), [gx, gy]), on=grid.interior)], exact=exact)
    assert problem.fields == ("u",)


def test_one_dimensional_data_in_a_space_time_problem_is_checked_along_its_own_axis():
    dom = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 1)
    u = dom.field("u")
    good = Data("u0", np.zeros(32), on=Grid((32,), x=(0, 1)))
    pr.Problem(dom, [Eq(pr.dt(u), lap(u))], [pr.Initial(Eq(u, good))])
    short = Data("u0", np.zeros(32), on=Grid((32,), x=(0, 0.25)))
    with pytest.raises(ProblemError, match=r"u0 covers x in \[0, 0.25\] but the domain spans x in \[0, 1\]"):
        pr.Problem(dom, [Eq(pr.dt(u), lap(u))], [pr.Initial(Eq(u, short))])


@pytest.mark.parametrize("mode", ["gradient", "laplacian"])
def test_the_poisson_image_catalogue_problems_still_build(mode):
    assert pr.problems.get("poisson-image", size=16, mode=mode).fields == ("u",)
