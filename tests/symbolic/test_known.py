"""Known parts of an answer (pinr.symbolic.known): the subtracted source field satisfies its operator
exactly, its derivatives are the field's, the compiler composes it with the network's output, and a
solution saves and rebuilds it without running code."""

import numpy as np
import pytest
import sympy
import torch

import pinr as pr
from pinr.compiler import compile_problem
from pinr.derivatives import AutogradEngine
from pinr.errors import ProblemError
from pinr.symbolic.known import HelmholtzSource, known_apps, known_from_spec


def _statement(k=20.0, a0=5.0, width=0.5, center=(0.0, 0.0), variance=1e-4, extra=0):
    """Δ_PML u + k² u = s G_σ(x - x0) + extra on [-1, 1]², u = 0 outside, with the layer's stretch."""
    domain = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    x, y = domain.coords
    u = domain.field("u", components=("re", "im"))
    U = u[0] + sympy.I * u[1]
    L, edge = sympy.nsimplify(width), 1 - sympy.nsimplify(width)
    ex = 1 - sympy.I * a0 * (sympy.Max(sympy.Abs(x) - edge, 0) / L) ** 2
    ey = 1 - sympy.I * a0 * (sympy.Max(sympy.Abs(y) - edge, 0) / L) ** 2
    s = 1 + 1j
    r2 = (x - center[0]) ** 2 + (y - center[1]) ** 2
    f = (1 + sympy.I) * sympy.exp(-r2 / (2 * variance)) / (2 * sympy.pi * variance) if variance else 0

    def op(v):
        return (sympy.diff(ey / ex * sympy.diff(v, x), x) + sympy.diff(ex / ey * sympy.diff(v, y), y)
                + ex * ey * k**2 * v)

    pde = pr.Eq(pr.D(ey / ex * pr.D(U, x), x) + pr.D(ex / ey * pr.D(U, y), y) + ex * ey * k**2 * U,
                f + (op(extra) if extra != 0 else 0))
    field = HelmholtzSource(k=k, center=center, source=s, variance=variance, a0=a0, width=width)
    K = known_apps(field, (x, y))
    return pr.Problem(domain, [pde], [pr.Boundary(pr.Eq(U, 0))], known={"u_re": K[0], "u_im": K[1]}), field


def _residuals(problem, model, n=3000, seed=1, away=0.0, center=(0.0, 0.0)):
    term = compile_problem(problem).terms[0]
    s = term.region.sample(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    p = s.points[torch.hypot(s.points[:, 0] - center[0], s.points[:, 1] - center[1]) > away]
    e = term.expression
    av, cv = AutogradEngine().evaluate(model, p, e.atoms, e.combos, e.coefficients(p, None))
    return e(p, None, av, cv), p


class _Zero(torch.nn.Module):
    def forward(self, p):
        return torch.sin(p[:, :2]) * 0.0  # zero, with derivatives autograd can take


@pytest.mark.parametrize("variance,center", [(1e-4, (0.0, 0.0)), (1e-4, (-0.35, 0.1)), (0.0, (0.2, -0.1))])
def test_source_field_satisfies_the_stretched_operator(variance, center):
    """With the network at zero the residual is the known part's own, L(K) - f: zero in float64 to
    1e-10 of the equation's size k²|K| everywhere (in the layer and, for a Gaussian, in the source),
    away from a point source's centre."""
    problem, field = _statement(center=center, variance=variance)
    r, p = _residuals(problem, _Zero(), away=0.0 if variance else 0.02, center=center)
    size = 20.0**2 * np.abs(field.complex_values(p.numpy())).max()
    assert r.abs().max().item() < 1e-10 * size


def test_source_field_derivatives_match_finite_differences():
    field = HelmholtzSource(k=20.0, center=(-0.35, 0.0), source=1 + 1j, variance=1e-4, a0=5.0, width=0.5)
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(-0.95, 0.95, (200, 2)), [[-0.35 + 3e-3, 1e-3], [-0.35, 0.05]]])
    d = field.derivatives(p)

    def z(q, key=(0, 0)):
        v = field.derivatives(q)[key]
        return v[:, 0] + 1j * v[:, 1]

    def differences(h):
        """First derivatives from the values, second ones from the (exact) first derivatives: second
        differences of the near field's tabulated integrals would amplify their rounding by 1/h²."""
        ex, ey = np.array([h, 0.0]), np.array([0.0, h])
        return {(1, 0): (z(p + ex) - z(p - ex)) / (2 * h), (0, 1): (z(p + ey) - z(p - ey)) / (2 * h),
                (2, 0): (z(p + ex, (1, 0)) - z(p - ex, (1, 0))) / (2 * h),
                (0, 2): (z(p + ey, (0, 1)) - z(p - ey, (0, 1))) / (2 * h),
                (1, 1): (z(p + ey, (1, 0)) - z(p - ey, (1, 0))) / (2 * h)}

    coarse, fine = differences(2e-4), differences(1e-4)
    for key in coarse:
        approx = (4 * fine[key] - coarse[key]) / 3  # Richardson: the h² terms cancel (the source is 1e-2 wide)
        exact = d[key][:, 0] + 1j * d[key][:, 1]
        err = np.abs(exact - approx)
        # away from the source to 1e-6; at the two points inside it (σ = 0.01) the differences of the
        # tabulated near field reach 1e-3 (a wrong formula is off by O(1))
        assert err[:-2].max() < 1e-6 * np.abs(exact[:-2]).max(), key
        assert err[-2:].max() < 1e-3 * np.abs(exact[-2:]).max(), key


def test_remainder_problem_is_solved_by_the_manufactured_remainder():
    """A source plus (L φ) for a smooth φ vanishing on the walls: with the known part subtracted the
    exact remainder is φ, and a model returning φ leaves residuals at rounding level."""
    domain = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    x, y = domain.coords
    phi = sympy.sin(sympy.pi * x) * sympy.sin(sympy.pi * y) * 0.1
    problem, field = _statement(k=8.0, extra=phi * (1 + sympy.I))

    class Phi(torch.nn.Module):
        def forward(self, p):
            v = 0.1 * torch.sin(torch.pi * p[:, 0]) * torch.sin(torch.pi * p[:, 1])
            return torch.stack([v, v], dim=-1)

    r, _ = _residuals(problem, Phi())
    assert r.abs().max().item() < 1e-9 * 8.0**2
    wrong, _ = _residuals(problem, _Zero())
    assert wrong.abs().max().item() > 1.0  # the check can fail: without φ the residual is L φ


def test_known_parts_are_checked_saved_and_rebuilt(tmp_path):
    problem, field = _statement(k=6.0, variance=4e-3)
    assert "known part" in str(problem) and "Gaussian source" in problem.describe_known()
    assert problem.hard["u_re"][1] == 1
    # a hard condition on a field with a known part is refused in one line
    with pytest.raises(ProblemError, match="known part and a hard condition"):
        problem.replace(conditions=[problem.conditions[0],
                                    pr.Boundary(pr.Eq(problem.field_apps[0], 0), hard=True)])
    with pytest.raises(ProblemError, match="not a field"):
        problem.replace(known={"v": problem.known["u_re"]})
    with pytest.raises(ProblemError, match="known field's channel"):
        problem.replace(known={"u_re": sympy.Symbol("x") ** 2})
    assert known_from_spec(field.spec()).spec() == field.spec()
    with pytest.raises(ValueError, match="unknown known-part kind"):
        known_from_spec({"kind": "os.system"})
    sol = pr.solve(problem, steps=3, batch=64, backbone="siren", backbone_options=dict(width=16, depth=1),
                   progress=False)
    path = sol.save(tmp_path / "s.pt")
    again = pr.load(path)
    pts = torch.tensor([[0.3, -0.2], [0.7, 0.8], [0.01, 0.02]], dtype=torch.float64)
    assert torch.allclose(sol(pts), again(pts), atol=1e-6)
    # a file written before known parts joined the hard forms' entries ("known": spec and channel) still loads
    state = sol.state()
    state["known"] = {k: {"spec": field.spec(), "channel": c} for c, k in enumerate(("u_re", "u_im"))}
    state["hard"], state["hard_known"], state["known_fields"] = {}, {}, []
    torch.save(state, tmp_path / "old.pt")
    assert torch.allclose(sol(pts), pr.load(tmp_path / "old.pt")(pts), atol=1e-6)
    # the values are the known part's plus the network's (which starts at zero)
    z = field.complex_values(pts.numpy())
    assert np.allclose(again(pts).numpy(), np.stack([z.real, z.imag], -1), atol=0.05 * np.abs(z).max())


def test_a_known_part_of_space_in_a_space_time_problem_reads_its_own_columns():
    """K(x, y) as data of an (x, y, t) problem (here the initial value a network hands to the next
    time window): the field is evaluated at the points' (x, y) columns, not at all three."""
    from pinr.symbolic.known import ORDERS, KnownField
    from pinr.training.terms import build_terms

    class Plane(KnownField):  # x + 2y and its derivatives, of exactly two coordinates
        kind = "plane"

        def derivatives(self, points):
            assert points.shape[1] == 2, points.shape
            value = points[:, :1] + 2 * points[:, 1:2]
            first = {(1, 0): 1.0, (0, 1): 2.0}
            return {o: value if o == (0, 0) else np.full_like(value, first.get(o, 0.0)) for o in ORDERS}

    domain = pr.Rectangle(x=(-1, 1), y=(-1, 1)) * pr.TimeInterval(0.5, 1.0)
    x, y, t = domain.coords
    u = domain.field("u")
    (K,) = known_apps(Plane(), (x, y))
    problem = pr.Problem(domain, [pr.Eq(pr.dt(u, 2), pr.lap(u))], [pr.Initial(pr.Eq(u, K), name="handover")])
    (term,) = [tm for tm in build_terms(compile_problem(problem), batch=32, dtype=torch.float64, device="cpu",
                                        default_batch=32) if tm.name == "handover"]
    batch = term.sample(torch.Generator().manual_seed(0))
    carried = next(iter(batch.data.values()))
    assert torch.allclose(carried[:, 0], batch.points[:, 0] + 2 * batch.points[:, 1])
    assert torch.all(batch.points[:, 2] == 0.5)


def test_the_fd_reference_solves_for_the_whole_field():
    problem, field = _statement(k=6.0, variance=4e-3)
    fd = pr.solve(problem, solver="fd", resolution=96)
    pts = np.array([[0.2, 0.1], [-0.3, 0.25]])
    z = field.complex_values(pts)
    got = fd(pts)
    assert np.allclose(got[:, 0] + 1j * got[:, 1], z, atol=0.03 * np.abs(z).max())


# ------------------------------------------------------------------------------ the wave's pulse
def _pulse(**kw):
    from pinr.symbolic.known import WavePulse

    return WavePulse(**{"amplitude": 0.02, "beta": 300.0, "speed": 1.5, "t_end": 0.3, "reach": 1.5, **kw})


def test_wave_pulse_starts_as_the_pulse_at_rest_and_solves_the_wave_equation():
    """At t = 0 the Gaussian at rest; everywhere u_tt = c² Δu to 1e-5 of u_tt's size (the splines'
    accuracy: the quadrature itself is exact to rounding); symmetric about its centre."""
    field = _pulse(center=(0.1, -0.2))
    rng = np.random.default_rng(0)
    p = np.c_[rng.uniform(-1, 1, (3000, 2)), rng.uniform(0, 0.3, 3000)]
    p[:200, :2] = (0.1, -0.2) + rng.normal(0, 0.02, (200, 2))  # near the centre, where q and A take limits
    d = field.derivatives(p)
    residual = d[(0, 0, 2)] - 1.5**2 * (d[(2, 0, 0)] + d[(0, 2, 0)])
    assert np.abs(residual).max() < 1e-5 * np.abs(d[(0, 0, 2)]).max()
    p0 = p.copy()
    p0[:, 2] = 0.0
    d0 = field.derivatives(p0)
    g = 0.02 * np.exp(-300.0 * ((p0[:, 0] - 0.1) ** 2 + (p0[:, 1] + 0.2) ** 2))
    assert np.abs(d0[(0, 0, 0)][:, 0] - g).max() < 1e-6 * 0.02 and np.abs(d0[(0, 0, 1)]).max() < 1e-9 * 0.02
    mirrored = p.copy()
    mirrored[:, 0] = 0.2 - p[:, 0]
    assert np.allclose(field.derivatives(mirrored)[(0, 0, 0)], d[(0, 0, 0)], atol=1e-12)


def test_wave_pulse_derivatives_match_finite_differences():
    field = _pulse()
    rng = np.random.default_rng(1)
    p = np.c_[rng.uniform(-0.6, 0.6, (300, 2)), rng.uniform(0.02, 0.28, 300)]
    d = field.derivatives(p)
    h = 1e-4
    for axis in range(3):
        e = np.zeros(3)
        e[axis] = h
        for base in [(0, 0, 0), *[tuple(int(i == j) for i in range(3)) for j in range(3)]]:
            if sum(base) + 1 > 2:
                continue
            key = tuple(b + (i == axis) for i, b in enumerate(base))
            fd = (field.derivatives(p + e)[base] - field.derivatives(p - e)[base]) / (2 * h)
            scale = np.abs(d[key]).max()
            assert np.abs(fd - d[key]).max() < 2e-4 * scale, (base, axis)


def test_wave_pulse_is_saved_and_rebuilt():
    field = _pulse(center=(0.0, 0.3))
    again = known_from_spec(field.spec())
    assert again.spec() == field.spec()
    p = np.array([[0.1, 0.2, 0.1], [0.5, -0.4, 0.25]])
    assert all(np.array_equal(field.derivatives(p)[k], again.derivatives(p)[k]) for k in field.derivatives(p))
    with pytest.raises(ValueError, match="beta must be a positive number"):
        _pulse(beta=0.0)
