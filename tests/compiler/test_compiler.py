"""The compiler collects derivative atoms and combos and lambdifies the rest; the jet and
autograd engines compute the same atoms, combos and parameter gradients in float64."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch

import pinr as pr
from pinr import D, Eq, lap
from pinr.backbones import Network
from pinr.compiler import Atom, compile_expressions, compile_problem
from pinr.derivatives import AutogradEngine, JetEngine

PI = sympy.pi


@pytest.fixture
def rect():
    return pr.Rectangle(x=(0, 2), y=(-1, 1))


def points(domain, n=64, seed=0, dtype=torch.float64):
    return domain.interior.sample(n, generator=torch.Generator().manual_seed(seed), dtype=dtype).points


def term(problem, name="pde"):
    return next(t for t in compile_problem(problem).terms if t.name == name)


# ------------------------------------------------------------------------- atoms, combos
def test_laplacian_residual_is_one_combo(rect):
    x, y = rect.coords
    u = rect.field("u")
    f = sympy.sin(x) * y
    e = term(pr.Problem(rect, [Eq(lap(u), f)])).expression
    assert e.atoms == ()
    assert len(e.combos) == 1
    cb = e.combos[0]
    assert cb.component == 0 and cb.orders == ((2, 0), (0, 2))
    assert e.max_order == 2
    p = points(rect)
    coefs = e.coefficients(p, None)
    for k in cb.coefficients:
        np.testing.assert_array_equal(coefs[k].numpy(), 1.0)
    # residual = combo − f
    combo = torch.linspace(-1, 1, p.shape[0], dtype=torch.float64)
    res = e(p, None, [], [combo])
    assert res.shape == (1, p.shape[0])
    expected = combo.numpy() - np.sin(p[:, 0].numpy()) * p[:, 1].numpy()
    np.testing.assert_allclose(res[0].numpy(), expected, rtol=0, atol=1e-15)


def test_collapse_false_keeps_separate_atoms(rect):
    u = rect.field("u")
    problem = pr.Problem(rect, [Eq(lap(u), 1)])
    e = compile_problem(problem, collapse=False).terms[0].expression
    assert e.combos == ()
    assert set(e.atoms) == {Atom(0, (2, 0)), Atom(0, (0, 2))}


def test_coordinate_dependent_coefficients_form_one_combo(rect):
    x, y = rect.coords
    u = rect.field("u")
    A, B = 1 + x**2, sympy.exp(y) * sympy.cos(x)
    e = term(pr.Problem(rect, [Eq(A * D(u, (x, 2)) + B * D(u, (y, 2)), x)])).expression
    assert e.atoms == ()
    (cb,) = e.combos
    assert cb.orders == ((2, 0), (0, 2))
    p = points(rect)
    px, py = p[:, 0].numpy(), p[:, 1].numpy()
    coefs = e.coefficients(p, None)
    np.testing.assert_allclose(coefs[cb.coefficients[0]].numpy(), 1 + px**2, rtol=1e-15)
    np.testing.assert_allclose(coefs[cb.coefficients[1]].numpy(), np.exp(py) * np.cos(px), rtol=1e-15)
    combo = torch.ones(p.shape[0], dtype=torch.float64)
    np.testing.assert_allclose(e(p, None, [], [combo])[0].numpy(), 1 - px, atol=1e-15)


def test_wave_operator_with_parameter_is_one_combo():
    dom = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 1)
    x, t = dom.coords
    u = dom.field("u")
    c = pr.Parameter("c_wave", 3.0)
    e = term(pr.Problem(dom, [Eq(pr.dt(u, 2), c**2 * D(u, (x, 2)))])).expression
    (cb,) = e.combos
    coefs = e.coefficients(points(dom), None)
    got = {o: float(coefs[k][0]) for o, k in zip(cb.orders, cb.coefficients)}
    assert got == {(2, 0): -9.0, (0, 2): 1.0}


def test_nonlinear_residual_keeps_atoms(rect):
    x, y = rect.coords
    u = rect.field("u")
    e = term(pr.Problem(rect, [Eq(u * lap(u), 1)])).expression
    assert e.combos == ()
    assert set(e.atoms) == {Atom(0, (0, 0)), Atom(0, (2, 0)), Atom(0, (0, 2))}
    p = points(rect)
    n = p.shape[0]
    vals = {Atom(0, (0, 0)): torch.full((n,), 2.0, dtype=torch.float64),
            Atom(0, (2, 0)): torch.full((n,), 3.0, dtype=torch.float64),
            Atom(0, (0, 2)): torch.full((n,), -0.5, dtype=torch.float64)}
    res = e(p, None, [vals[a] for a in e.atoms], [])
    np.testing.assert_allclose(res.numpy(), 2.0 * 2.5 - 1)
    # u * u_xx alone: one second-order atom, no combo
    e2 = term(pr.Problem(rect, [Eq(u * D(u, (x, 2)), 0)])).expression
    assert e2.combos == () and set(e2.atoms) == {Atom(0, (0, 0)), Atom(0, (2, 0))}


def test_eikonal_needs_first_order_atoms_only(rect):
    x, y = rect.coords
    u = rect.field("u")
    e = term(pr.Problem(rect, [Eq(pr.norm(pr.grad(u)), 1)])).expression
    assert set(e.atoms) == {Atom(0, (1, 0)), Atom(0, (0, 1))}
    assert e.combos == () and e.max_order == 1
    # the distance to a point solves it
    p = points(rect)
    cx, cy = 3.0, 0.5
    r = torch.sqrt((p[:, 0] - cx) ** 2 + (p[:, 1] - cy) ** 2)
    grads = {Atom(0, (1, 0)): (p[:, 0] - cx) / r, Atom(0, (0, 1)): (p[:, 1] - cy) / r}
    res = e(p, None, [grads[a] for a in e.atoms], [])
    assert res.abs().max() < 1e-14


def test_atoms_of_vector_fields_name_components(rect):
    x, y = rect.coords
    v = rect.field("v", components=("re", "im"))
    problem = pr.Problem(rect, [Eq(lap(v[0]) + v[1], 0), Eq(D(v[1], x), v[0])])
    assert problem.fields == ("v_re", "v_im")
    pde0 = term(problem, "pde0").expression
    assert pde0.combos[0].component == 0 and set(pde0.atoms) == {Atom(1, (0, 0))}
    pde1 = term(problem, "pde1").expression
    assert set(pde1.atoms) == {Atom(1, (1, 0)), Atom(0, (0, 0))}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_exact_constants_compile(rect, dtype):
    """pi**2, sqrt(2), E**2 and rationals become numbers (sympy's torch printer cannot raise a
    Python float to a power), and the result keeps the points' dtype."""
    x, y = rect.coords
    u = rect.field("u")
    rhs = PI**2 * sympy.sin(PI * x) + sympy.sqrt(2) * y + sympy.E**2 + sympy.Rational(1, 3) + 2**PI
    e = term(pr.Problem(rect, [Eq(u, rhs)])).expression
    p = points(rect, dtype=dtype)
    zero = torch.zeros(p.shape[0], dtype=dtype)
    res = e(p, None, [zero], [])
    assert res.dtype == dtype
    px, py = p[:, 0].double().numpy(), p[:, 1].double().numpy()
    expected = -(np.pi**2 * np.sin(np.pi * px) + np.sqrt(2) * py + np.e**2 + 1 / 3 + 2**np.pi)
    tol = 1e-13 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(res[0].double().numpy(), expected, rtol=tol, atol=tol)


def test_constant_only_residual_has_one_value_per_point(rect):
    u = rect.field("u")
    e = term(pr.Problem(rect, [Eq(u, PI)])).expression
    p = points(rect, n=10)
    res = e(p, None, [torch.zeros(10, dtype=torch.float64)], [])
    assert res.shape == (1, 10)
    np.testing.assert_allclose(res.numpy(), -np.pi, rtol=1e-15)


def test_data_functions_are_interpolated():
    g = pr.Grid((6, 5), x=(0, 1), y=(0, 2))
    x, y = g.coords
    c = g.points(dtype=torch.float64).numpy()
    f = lambda q: 1 + 2 * q[:, 0] - 3 * q[:, 1] + 0.5 * q[:, 0] * q[:, 1]  # noqa: E731
    data = pr.Data("f", f(c).reshape(6, 5), on=g)
    u = g.field("u")
    e = term(pr.Problem(g, [Eq(u, data * x)])).expression
    assert len(e.data) == 1 and e.data[0].func.__name__ == "f"
    lo, hi = c.min(0), c.max(0)
    p = torch.as_tensor(lo + np.random.default_rng(0).uniform(size=(100, 2)) * (hi - lo))
    zero = torch.zeros(100, dtype=torch.float64)
    res = e(p, None, [zero], [])
    np.testing.assert_allclose(res[0].numpy(), -f(p.numpy()) * p[:, 0].numpy(), atol=1e-12)


def test_normals_enter_boundary_residuals(rect):
    u = rect.field("u")
    t = term(pr.Problem(rect, [Eq(lap(u), 0)], [pr.Boundary(Eq(pr.dn(u), 1))]), "boundary")
    e = t.expression
    assert e.uses_normals
    s = t.region.sample(50, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    vals = {Atom(0, (1, 0)): torch.full((50,), 2.0, dtype=torch.float64),
            Atom(0, (0, 1)): torch.full((50,), 5.0, dtype=torch.float64)}
    res = e(s.points, s.normals, [vals[a] for a in e.atoms], [])
    expected = 2.0 * s.normals[:, 0] + 5.0 * s.normals[:, 1] - 1
    np.testing.assert_allclose(res[0].numpy(), expected.numpy(), atol=1e-15)
    with pytest.raises(ValueError, match="normals"):
        e(s.points, None, [vals[a] for a in e.atoms], [])


@pytest.mark.parametrize("reduction, alias, expected", [("mse", "mean_square", (9 + 16 + 1 + 4) / 2),
                                                         ("mae", "mean_abs", (3 + 4) / 2 + (1 + 2) / 2),
                                                         ("sse", "sum", 9 + 16 + 1 + 4)])
def test_reductions(rect, reduction, alias, expected):
    u = rect.field("u")
    for name in (reduction, alias):
        problem = pr.Problem(rect, [Eq(lap(u), 0)], [pr.Boundary(Eq(u, 0), reduction=name)])
        t = term(problem, "boundary")
        assert t.reduction == reduction
        residuals = torch.tensor([[3.0, -4.0], [1.0, 2.0]], dtype=torch.float64)
        assert float(t.reduce(residuals)) == expected


def test_condition_options_reach_the_term(rect):
    u = rect.field("u")
    problem = pr.Problem(rect, [Eq(lap(u), 0)],
                         [pr.Boundary(Eq(u, 0), weight=5.0, batch=17, method="sobol", name="wall")])
    t = term(problem, "wall")
    assert (t.weight, t.batch, t.method) == (5.0, 17, "sobol")
    assert t.region.name == "boundary"


def test_compile_expressions_substitutes_parameters():
    dom = pr.Interval(x=(0, 1))
    (x,) = dom.coords
    u = dom.field("u")
    k = pr.Parameter("k_subst", 2.0)
    e = compile_expressions([k * x + u], fields=("u",), coords=dom.coords, params={"k_subst": 5.0})
    p = points(dom, n=8)
    res = e(p, None, [torch.zeros(8, dtype=torch.float64)], [])
    np.testing.assert_allclose(res[0].numpy(), 5.0 * p[:, 0].numpy(), rtol=1e-15)


# ---------------------------------------- engines through the input scaling and a compiled problem
# (jet == autograd for every backbone and derivative kind: tests/backbones/test_registry_backbones.py)
OPTIONS = {
    "siren": dict(width=32, depth=2),
    "ff": dict(m=16, width=32, activation="softplus"),
    "mlp": dict(width=32, depth=2, activation="tanh"),
    "scone": dict(width=24, omegas=(30.0, 10.0)),
    "pins": dict(levels=3, m=12, width=16, depth=2, activation="tanh"),
    "sape": dict(m=12, width=24, depth=2, activation="softplus", res=6),
    # FINER's scale factor (|z| + 1) is detached by default (as in the paper's code), so its input
    # derivatives would be those of the network with the factor frozen; with scale_grad=True they
    # are the network's true derivatives, which these tests compare with finite differences
    "finer": dict(width=24, depth=2, scale_grad=True),
    "wire": dict(width=24, depth=2),
    "gauss": dict(width=24, depth=2, scale=3.0),
    "nerf": dict(width=24, depth=2, levels=3, direction_levels=2, activation="softplus"),
    # a C² kernel, so that finite differences across cell faces converge as for a smooth network
    "hashgrid": dict(levels=3, log2_table=8, base_resolution=3, max_resolution=12, width=16, interpolation="cubic",
                     activation="softplus", init_scale=0.1),
    "ngp": dict(levels=3, log2_table=8, base_resolution=3, max_resolution=12, width=16, geometry=4,
                colour_depth=1, direction_levels=2, interpolation="cubic", activation="softplus",
                init_scale=0.1),
    "nex": dict(width=24, depth=2, levels=3, basis=3, basis_width=8, direction_levels=2, activation="softplus"),
}
BOUNDS = np.array([[-2.0, 3.0], [0.5, 1.5], [0.0, 4.0]])


def test_every_backbone_has_small_options():
    assert set(pr.available_backbones()) <= set(OPTIONS), "add small options for the new backbone here"


def _net(name, d, out=2, seed=0):
    torch.manual_seed(seed)
    return Network(pr.build_backbone(name, d, out, **OPTIONS[name]), BOUNDS[:d]).double()


def _points(d, n=48, seed=1):
    g = torch.Generator().manual_seed(seed)
    b = torch.as_tensor(BOUNDS[:d])
    return b[:, 0] + torch.rand(n, d, generator=g, dtype=torch.float64) * (b[:, 1] - b[:, 0])


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_input_scaling_enters_derivatives(name):
    """Network maps the bounds onto [-1, 1]^d: derivatives w.r.t. the problem's coordinates
    agree with central finite differences of the network (chain rule through the scaling)."""
    net = _net(name, 2)
    pts = _points(2, n=16)
    atoms = [Atom(0, (1, 0)), Atom(0, (0, 1))]
    aj, _ = JetEngine().evaluate(net, pts, atoms)
    h = 1e-6
    for i, a in enumerate(aj):
        e = torch.zeros(2, dtype=torch.float64)
        e[i] = h
        with torch.no_grad():
            fd = (net(pts + e)[:, 0] - net(pts - e)[:, 0]) / (2 * h)
        assert (a - fd).abs().max() <= 1e-6 * max(1.0, fd.abs().max().item())


def test_engines_through_compiled_problem_agree():
    """End to end: the Poisson residual of a network through either engine."""
    dom = pr.Rectangle(x=(-2, 3), y=(0.5, 1.5))
    x, y = dom.coords
    u = dom.field("u")
    problem = pr.Problem(dom, [Eq((1 + x**2) * lap(u) + u * D(u, x), sympy.sin(y))])
    e = compile_problem(problem).terms[0].expression
    net = _net("siren", 2, out=1)
    pts = points(dom)
    coefs = e.coefficients(pts, None)
    out = []
    for engine in (JetEngine(), AutogradEngine()):
        av, cv = engine.evaluate(net, pts, e.atoms, e.combos, coefs)
        out.append(e(pts, None, av, cv))
    assert (out[0] - out[1]).abs().max() <= 1e-10 * out[1].abs().max()


@pytest.mark.parametrize("constant", [sympy.pi**2, sympy.E, sympy.Rational(1, 3), sympy.sqrt(2),
                                      sympy.sqrt(100 + 4 * sympy.pi**2)],
                         ids=["pi**2", "E", "Rational", "sqrt(2)", "sqrt(100 + 4 pi**2)"])
def test_exact_constants_compile_at_any_depth(constant):
    """A sympy constant alone, as a factor, inside a function's argument and as an exponent's base
    compiles to torch and agrees with numpy's evaluation of the same expression (float64)."""
    x, y = sympy.symbols("x y")
    exprs = [constant + 0 * x, constant * x, sympy.exp(-2 * constant * y) * sympy.sin(constant * x),
             constant**x + sympy.cos(x / constant)]
    compiled = compile_expressions(exprs, fields=[], coords=[x, y], params={})
    pts = torch.rand(16, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    got = compiled(pts, None, [], [])
    for row, e in zip(got, exprs):
        want = np.broadcast_to(sympy.lambdify((x, y), e, "numpy")(*pts.numpy().T), (16,))
        np.testing.assert_allclose(row.numpy(), want, rtol=1e-13, atol=1e-14)


def test_a_statement_with_pi_squared_trains_validates_and_has_a_reference():
    """``exp(-2*pi**2*t)*sin(2*pi*x)`` as the exact solution and ``pi**2`` in the source: scales are
    read, two steps train, the validation and the reference evaluate (issue: a ``torch.pow(float,
    int)`` crash)."""
    d = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 1)
    x, t = d.coords
    u = d.field("u")
    exact = sympy.exp(-2 * sympy.pi**2 * t) * sympy.sin(sympy.pi * x)
    problem = pr.Problem(d, [Eq(pr.dt(u), lap(u) - sympy.pi**2 * exact)],
                         [pr.Initial(Eq(u, sympy.sin(sympy.pi * x))), pr.Boundary(Eq(u, 0))], exact=exact)
    sol = pr.solve(problem, steps=2, progress=False, device="cpu")
    metrics = pr.compare(sol, pr.reference(problem))
    assert np.isfinite(metrics["rel_l2"])
