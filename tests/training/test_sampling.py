"""Adaptive sampling of residual points: RAD and RAR-D follow their residual densities, R3 keeps
exactly the above-mean points, all repeat with the seed, and a solve runs with each."""

import math

import pytest
import torch

import pinr as pr
from pinr import Eq, exp, lap, sin
from pinr.backbones import Network, build_backbone
from pinr.compiler import compile_problem
from pinr.derivatives import select_engine
from pinr.training import R3, RAD, RARD
from pinr.training.parameters import ParameterSet
from pinr.training.sampling import AdaptiveSampling, sampling_rule
from pinr.training.terms import Batch, Model, build_terms

CENTRE, WIDTH = 0.7, 0.05


def peak_problem():
    """u = f with f a sharp bump: with u ≡ 0 the residual is ε(x) = exp(-((x - 0.7)/0.05)²)."""
    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    return pr.Problem(d, [Eq(u, exp(-((x - CENTRE) / WIDTH) ** 2))])


def zero_model(problem):
    net = build_backbone("mlp", problem.domain.dim, 1, width=4, depth=1)
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.zero_()
    network = Network(net, problem.domain.bounds).to(torch.float64)
    return Model(network, select_engine(network, "autograd", max_order=0), ParameterSet({}))


def pde_term(problem, rule, batch):
    terms = build_terms(compile_problem(problem), batch=batch, sampling=rule, dtype=torch.float64,
                        device=torch.device("cpu"))
    return terms[0]


def in_peak(points):
    return ((points[:, 0] - CENTRE).abs() < WIDTH).double().mean().item()


def test_rad_concentrates_points_by_its_density():
    problem = peak_problem()
    term = pde_term(problem, RAD(candidates=200_000), 4000)
    g = torch.Generator().manual_seed(0)
    before = term.sample(g).points
    assert abs(in_peak(before) - 0.1) < 0.02  # uniform: the peak's share of the interval
    term.sampler.update(term, zero_model(problem), None, g)
    after = term.sample(g).points
    assert after.shape == before.shape and ((after >= 0) & (after <= 1)).all()
    # p ∝ ε/E[ε] + 1 on [0, 1]: ∫ε/E[ε] over |x - c| < w is erf(1), the constant adds 0.1, the total is 2
    expected = (math.erf(1.0) + 0.1) / 2
    sd = math.sqrt(expected * (1 - expected) / 4000)
    assert abs(in_peak(after) - expected) < 5 * sd
    assert in_peak(after) > 4 * in_peak(before)


def test_rar_d_adds_points_from_the_squared_residual():
    problem = peak_problem()
    term = pde_term(problem, RARD(candidates=100_000, added=2000), 1000)
    g = torch.Generator().manual_seed(1)
    first = term.sample(g).points.clone()
    term.sampler.update(term, zero_model(problem), None, g)
    pool = term.sample(g).points
    assert pool.shape == (3000, 1) and torch.equal(pool[:1000], first)  # the old points stay
    # p ∝ ε²: ∫ over |x - c| < w of exp(-2u²/w²) / ∫ everywhere = erf(√2)
    expected = math.erf(math.sqrt(2.0))
    assert abs(in_peak(pool[1000:]) - expected) < 5 * math.sqrt(expected * (1 - expected) / 2000)


def test_r3_retains_exactly_the_above_mean_points_and_refills():
    problem = peak_problem()
    term = pde_term(problem, "r3", 500)
    g = torch.Generator().manual_seed(2)
    pts = term.sample(g).points.clone()
    per_point = torch.exp(-((pts[:, 0] - CENTRE) / WIDTH) ** 2).square()  # squared residuals, as a step gives
    eps = per_point.sqrt()
    keep = eps > eps.mean()
    assert 0 < keep.sum() < 500
    term.sampler.update(term, None, per_point, g)
    new = term.sample(g).points
    assert new.shape == pts.shape
    assert torch.equal(new[keep], pts[keep])
    assert not (new[~keep] == pts[~keep]).any()  # the released points are replaced by fresh ones
    assert ((new >= 0) & (new <= 1)).all()


@pytest.mark.parametrize("rule", ["rad", "rar-d", "r3"])
def test_adaptive_pools_repeat_with_the_seed(rule):
    problem = peak_problem()

    def run():
        term = pde_term(problem, sampling_rule(rule), 300)
        g = torch.Generator().manual_seed(5)
        model = zero_model(problem)
        for _ in range(2):
            b = term.sample(g)
            term.sampler.update(term, model, model.residuals(term.expression, b).square().sum(0), g)
        return term.sample(g).points

    assert torch.equal(run(), run())


def test_pool_respects_the_time_window():
    d = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 2)
    x, t = d.coords
    u = d.field("u")
    problem = pr.Problem(d, [Eq(pr.dt(u), lap(u))], [pr.Initial(Eq(u, sin(math.pi * x)))])
    term = pde_term(problem, R3(), 400)
    g = torch.Generator().manual_seed(3)
    full = term.sample(g).points
    half = term.sample(g, window=0.25).points
    assert torch.equal(half[:, 0], full[:, 0]) and torch.allclose(half[:, 1], full[:, 1] * 0.25)
    assert full[:, 1].max() > 1.5


def test_only_interior_terms_sample_adaptively():
    d = pr.Interval(x=(0, 1))
    u = d.field("u")
    problem = pr.Problem(d, [Eq(lap(u), 1)], [pr.Boundary(Eq(u, 0))])
    pde, bc = build_terms(compile_problem(problem), batch=16, sampling="r3", dtype=torch.float64,
                          device=torch.device("cpu"))
    assert pde.sampler.adaptive and not bc.sampler.adaptive
    assert AdaptiveSampling.wanted([pde, bc]) and not AdaptiveSampling.wanted([bc])


def test_bad_rules_are_refused_by_name():
    with pytest.raises(ValueError, match="unknown sampling 'rar'.*'rad'.*'r3'"):
        sampling_rule("rar")
    with pytest.raises(ValueError, match="period must be a positive integer"):
        R3(period=0)
    with pytest.raises(ValueError, match="unknown sampling"):
        pr.solve(peak_problem(), steps=1, sampling="nope", progress=False)


@pytest.mark.parametrize("rule", ["rad", "rar-d", "r3"])
def test_a_short_solve_runs_with_adaptive_sampling(rule, tmp_path):
    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    problem = pr.Problem(d, [Eq(lap(u), -math.pi**2 * sin(math.pi * x))], [pr.Boundary(Eq(u, 0))],
                         exact=sin(math.pi * x), name="poisson1d")
    sampling = {"rad": RAD(period=5), "rar-d": RARD(period=5, added=8), "r3": R3()}[rule]
    sol = pr.solve(problem, steps=20, sampling=sampling, batch=64, backbone="mlp",
                   backbone_options={"width": 16, "depth": 2}, progress=False, out=tmp_path / "run")
    assert sol(torch.tensor([[0.5]])).shape[0] == 1
    assert (tmp_path / "run" / "sampled_points.png").stat().st_size > 0


def test_the_pool_goes_into_the_checkpoint_and_comes_back(tmp_path):
    from pinr.solvers import PINNSolver

    problem = peak_problem()
    opts = dict(steps=6, sampling=RAD(period=2, candidates=64), batch=32, backbone="mlp",
                backbone_options={"width": 8, "depth": 1}, progress=False)
    whole = PINNSolver.from_options(problem, **opts)
    whole.run()
    first = PINNSolver.from_options(problem, out=tmp_path / "a", **opts)
    first.run(until=3)
    second = PINNSolver.from_options(problem, resume=tmp_path / "a", **opts)
    second.run()
    assert torch.equal(whole.terms[0].sampler.batch.points, second.terms[0].sampler.batch.points)
    assert isinstance(second.terms[0].sampler.batch, Batch)


def narrow_source_problem():
    """-Δu = G_σ (a unit-mass Gaussian of width 0.02 at (0.3, -0.2)) on [-1, 1]², u = 0 outside."""
    d = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    x, y = d.coords
    u = d.field("u")
    g = exp(-((x - 0.3) ** 2 + (y + 0.2) ** 2) / (2 * 0.02**2)) / (2 * math.pi * 0.02**2)
    return pr.Problem(d, [Eq(-lap(u), g)], [pr.Boundary(Eq(u, 0))])


def smooth_model(problem):
    """A fixed field, u = 0.1 sin(3x) cos(2y)."""
    class Field(torch.nn.Module):
        def forward(self, p):
            return (0.1 * torch.sin(3 * p[:, 0]) * torch.cos(2 * p[:, 1]))[:, None]

    network = Field().double()
    return Model(network, select_engine(network, "autograd", max_order=2), ParameterSet({}))


def test_source_sampling_puts_points_on_the_source_and_its_weighted_mean_is_unbiased():
    """The weighted mean square of a fixed field's residual over importance-sampled batches agrees
    with the uniform mean (1e6 points) to within the spread of the draws, while a quarter of the
    points sit in the source (where a uniform draw puts 0.3 %)."""
    problem = narrow_source_problem()
    term = pde_term(problem, "source", 512)
    model = smooth_model(problem)
    g = torch.Generator().manual_seed(0)
    reference = 0.0
    for _ in range(10):
        big = Batch(term.draw(100_000, g).points)
        reference += model.residuals(term.expression, big).square().mean().item() / 10
    estimates, inside = [], []
    for _ in range(200):
        b = term.sample(g)
        r = model.residuals(term.expression, b)
        estimates.append(term.reduction(r, b).item())
        inside.append((torch.hypot(b.points[:, 0] - 0.3, b.points[:, 1] + 0.2) < 0.06).double().mean().item())
    est = torch.tensor(estimates)
    spread = est.std().item() / math.sqrt(len(estimates))
    assert abs(est.mean().item() - reference) < 4 * spread + 0.02 * reference, (est.mean().item(), reference, spread)
    assert 0.2 < sum(inside) / len(inside) < 0.3
    # the weights are the uniform density over the mixture's: 1 / (0.75 + 0.25 |s| / mean |s|)
    w = b.data["importance"]
    assert w.max().item() <= 1 / 0.75 + 1e-9 and w.min().item() > 0
