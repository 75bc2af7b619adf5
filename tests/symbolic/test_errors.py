"""Bad inputs fail early with ValueError/TypeError (or pinr.errors.ProblemError, a ValueError)
whose message names the culprit."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch

import pinr as pr
from pinr import D, Eq, dn, dt, lap
from pinr.derivatives import get_engine, select_engine
from pinr.errors import PinrError, ProblemError


@pytest.fixture
def rect():
    return pr.Rectangle(x=(0, 1), y=(0, 1))


def test_problem_error_is_a_value_error():
    assert issubclass(ProblemError, ValueError) and issubclass(ProblemError, PinrError)


def test_undeclared_symbol_is_named_with_parameter_hint(rect):
    u = rect.field("u")
    kappa = sympy.Symbol("kappa")
    with pytest.raises(ProblemError) as err:
        pr.Problem(rect, [Eq(lap(u), kappa * u)])
    msg = str(err.value)
    assert "kappa" in msg and "Parameter" in msg


def test_undeclared_symbol_in_condition(rect):
    u = rect.field("u")
    with pytest.raises(ProblemError, match="omega"):
        pr.Problem(rect, [Eq(lap(u), 0)], [pr.Boundary(Eq(u, sympy.Symbol("omega")))])


def test_time_derivative_without_time_axis(rect):
    u = rect.field("u")
    with pytest.raises(ValueError, match="TimeInterval"):
        pr.Problem(rect, [Eq(dt(u), lap(u))])
    with pytest.raises(ValueError, match="TimeInterval"):
        pr.Problem.from_strings(rect, ["dt(u) = lap(u)"])


def test_initial_condition_without_time_axis(rect):
    u = rect.field("u")
    with pytest.raises(ValueError, match="TimeInterval"):
        pr.Problem(rect, [Eq(lap(u), 0)], [pr.Initial(Eq(u, 0))])


def test_condition_on_another_domains_region(rect):
    other = pr.Rectangle(x=(0, 2), y=(0, 1))
    u = rect.field("u")
    with pytest.raises(ProblemError) as err:
        pr.Problem(rect, [Eq(lap(u), 0)], [pr.Condition(Eq(u, 0), on=other.boundary)])
    msg = str(err.value)
    assert "another domain" in msg and "x=(0, 2)" in msg


def test_field_of_another_domain(rect):
    other = pr.Rectangle(x=(0, 1), y=(0, 1)) * pr.TimeInterval(0, 1)
    v = other.field("v")
    with pytest.raises(ProblemError, match="v"):
        pr.Problem(rect, [Eq(lap(v), 0)])


def test_unknown_side(rect):
    u = rect.field("u")
    with pytest.raises(ProblemError, match="z-"):
        pr.Problem(rect, [Eq(lap(u), 0)], [pr.Boundary(Eq(u, 0), on="z-")])
    with pytest.raises(KeyError, match="x-"):  # lists the valid sides
        rect.boundary["z-"]


def test_data_with_wrong_shape_names_both_shapes():
    g = pr.Grid((4, 5), x=(0, 1), y=(0, 1))
    with pytest.raises(ValueError) as err:
        pr.Data("g", np.zeros((5, 4)), on=g)
    msg = str(err.value)
    assert "(5, 4)" in msg and "(4, 5)" in msg and "'g'" in msg


def test_data_with_nan_or_inf():
    g = pr.Grid((4, 5), x=(0, 1), y=(0, 1))
    for bad in (np.nan, np.inf):
        a = np.zeros((4, 5))
        a[1, 2] = bad
        with pytest.raises(ValueError, match="NaN"):
            pr.Data("g", a, on=g)


def test_data_needs_a_grid():
    with pytest.raises(TypeError, match="Grid"):
        pr.Data("g", np.zeros((4, 5)), on=pr.Rectangle(x=(0, 1), y=(0, 1)))


def test_unknown_problem_lists_valid_names():
    with pytest.raises(ValueError) as err:
        pr.problems.get("no-such-problem")
    msg = str(err.value)
    assert "no-such-problem" in msg
    for name in pr.available_problems():
        assert name in msg


def test_unknown_problem_parameter_lists_valid_ones():
    from pinr.problems import problem_params

    name = pr.available_problems()[0]
    with pytest.raises((TypeError, ValueError)) as err:
        pr.problems.get(name, no_such_param=1)
    msg = str(err.value)
    assert "no_such_param" in msg
    for p in problem_params(name):
        assert p in msg


def test_unknown_backbone_lists_valid_names():
    with pytest.raises(ValueError) as err:
        pr.build_backbone("no-such-backbone", 2, 1)
    msg = str(err.value)
    assert "no-such-backbone" in msg
    for name in pr.available_backbones():
        assert name in msg


@pytest.mark.parametrize("name", pr.available_backbones())
def test_unknown_backbone_option_lists_valid_ones(name):
    from pinr.backbones import backbone_options

    with pytest.raises((TypeError, ValueError)) as err:
        pr.build_backbone(name, 2, 1, no_such_option=3)
    msg = str(err.value)
    assert "no_such_option" in msg
    for opt in backbone_options(name):
        assert opt in msg


def test_trivial_equation_is_caught_by_simplification(rect):
    u = rect.field("u")
    with pytest.raises(ProblemError, match="trivially true"):
        pr.Problem(rect, [Eq(sympy.sin(u) ** 2 + sympy.cos(u) ** 2, 1)])


def test_trivial_equation_u_eq_u_raises(rect):
    u = rect.field("u")
    with pytest.raises(ProblemError):
        pr.Problem(rect, [Eq(u, u)])


@pytest.mark.parametrize("where", ["equation", "condition"])
def test_trivial_equation_u_eq_u_is_named_trivial(rect, where):
    u = rect.field("u")
    with pytest.raises(ProblemError, match="trivial"):
        if where == "equation":
            pr.Problem(rect, [Eq(u, u)])
        else:
            pr.Problem(rect, [Eq(lap(u), 0)], [pr.Boundary(Eq(u, u))])


def test_dn_on_the_interior(rect):
    u = rect.field("u")
    with pytest.raises(ProblemError) as err:
        pr.Problem(rect, [Eq(dn(u), 0)])
    msg = str(err.value)
    assert ("n_x" in msg or "n_y" in msg) and "normals" in msg and "boundary" in msg


def test_dn_on_the_initial_region():
    dom = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 1)
    u = dom.field("u")
    with pytest.raises(ProblemError, match="normals"):
        pr.Problem(dom, [Eq(dt(u), lap(u))], [pr.Initial(Eq(dn(u), 0))])


@pytest.mark.parametrize("make", [
    lambda: pr.Rectangle(x=(1, 0), y=(0, 1)),
    lambda: pr.Rectangle(x=(0, 0), y=(0, 1)),
    lambda: pr.Interval(x=(0, float("nan"))),
    lambda: pr.Box(x=(0, 1), y=(3, -3), z=(0, 1)),
    lambda: pr.TimeInterval(1, 0),
    lambda: pr.Grid((4, 4), x=(1, 0), y=(0, 1)),
])
def test_bad_domain_ranges(make):
    with pytest.raises(ValueError, match="low < high"):
        make()


def test_bad_domain_shapes():
    with pytest.raises(TypeError, match="'x'"):
        pr.Rectangle(x=0, y=(0, 1))
    with pytest.raises(ValueError, match="two axes"):
        pr.Rectangle(x=(0, 1))
    with pytest.raises(ValueError, match="radius"):
        pr.Disk((0, 0), -1.0)
    with pytest.raises(ValueError, match="shape"):
        pr.Grid((4,), x=(0, 1), y=(0, 1))


def test_unknown_sampling_method(rect):
    with pytest.raises(ValueError) as err:
        rect.interior.sample(10, method="halton")
    msg = str(err.value)
    assert "halton" in msg and "sobol" in msg and "uniform" in msg
    with pytest.raises(ValueError, match="halton"):
        rect.boundary.sample(10, method="halton")
    with pytest.raises(ValueError, match="positive integer"):
        rect.interior.sample(0)


def test_unknown_engine_name():
    with pytest.raises(ValueError) as err:
        get_engine("forward")
    msg = str(err.value)
    assert "forward" in msg and "autograd" in msg and "jet" in msg
    model = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="forward"):
        select_engine(model, "forward")


def test_jet_forced_on_plain_module():
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    with pytest.raises(ValueError) as err:
        select_engine(model, "jet")
    msg = str(err.value)
    assert "jet" in msg and "Sequential" in msg and "autograd" in msg
    assert select_engine(model, "auto").name == "autograd"


def test_jet_forced_beyond_second_order():
    net = pr.build_backbone("mlp", 1, 1, width=4, depth=1)
    from pinr.backbones import Network

    model = Network(net, np.array([[0.0, 1.0]]))
    with pytest.raises(ValueError, match="order"):
        select_engine(model, "jet", max_order=3)
    assert select_engine(model, "auto", max_order=3).name == "autograd"
    assert select_engine(model, "auto", max_order=2).name == "jet"
    # first derivatives only: one reverse pass beats a forward stream per input, unless compiled
    assert select_engine(model, "auto", max_order=1).name == "autograd"
    assert select_engine(model, "auto", max_order=1, compile=True).name == "jet"


def test_operator_misuse(rect):
    x, y = rect.coords
    u = rect.field("u")
    z = sympy.Symbol("z")
    with pytest.raises(ValueError, match="z"):
        D(u, z)
    with pytest.raises(ValueError, match="no unknown field"):
        lap(x * y)
    with pytest.raises(ValueError, match="order"):
        dt((rect * pr.TimeInterval(0, 1)).field("w"), 0)
    with pytest.raises(ValueError, match="vector"):
        pr.div(u)
    with pytest.raises(ValueError, match="scalar"):
        pr.grad(rect.field("v", components=2))
    with pytest.raises(ValueError, match="entries"):
        Eq(rect.field("v", components=2), [1, 2, 3])


def test_bad_parameter_and_condition_arguments(rect):
    u = rect.field("u")
    with pytest.raises(TypeError, match="'c'"):
        pr.Parameter("c", "fast")
    with pytest.raises(ValueError, match="identifier"):
        pr.Parameter("2c", 1.0)
    with pytest.raises(ValueError, match="weight"):
        pr.Boundary(Eq(u, 0), weight=-1)
    with pytest.raises(ValueError, match="reduction"):
        pr.Boundary(Eq(u, 0), reduction="median")
    with pytest.raises(TypeError, match="pr.Eq"):
        pr.Problem(rect, [lap(u)])


def test_large_powers_are_checked_for_triviality_without_simplify(rect):
    """The triviality check evaluates numbers instead of calling sympy.simplify, which took
    minutes on a product of high powers; the statement below builds and is not trivial."""
    x, y = rect.coords
    u = rect.field("u")
    p = pr.Problem(rect, [Eq(lap(u), (x + y + 1) ** 64 * (x - y + 2) ** 60 * (x * y + 3) ** 64)])
    assert len(p.conditions) == 1
    with pytest.raises(ProblemError, match="trivially true"):
        pr.Problem(rect, [Eq(u * (sympy.sin(x) ** 2 + sympy.cos(x) ** 2), u)])


@pytest.mark.parametrize("nested", [3, 4, 8])
def test_derivative_order_is_bounded_at_statement_time(rect, nested):
    """Three nested Laplacians (order 6) and more are refused while the problem is built, in one
    line naming the equation, the derivative and its order, well before any training."""
    text = "lap(" * nested + "u" + ")" * nested + " = 1"
    with pytest.raises(ProblemError) as err:  # at statement time: nothing compiled, nothing trained
        pr.Problem.from_strings(rect, [text], [("u = 0", "boundary")])
    msg = str(err.value)
    assert "\n" not in msg and "'pde'" in msg and f"order {2 * nested}" in msg
    assert f"up to {pr.symbolic.problem.MAX_DERIVATIVE_ORDER}" in msg and "auxiliary field" in msg


def test_biharmonic_and_fourth_order_are_accepted(rect):
    p = pr.Problem.from_strings(rect, ["lap(lap(u)) = 1"], [("u = 0", "boundary"), ("lap(u) = 0", "boundary")])
    assert p.fields == ("u",)
    u = rect.field("u")
    x = rect.coords[0]
    with pytest.raises(ProblemError, match="order 5"):
        pr.Problem(rect, [Eq(D(u, (x, 5)), 0)])
