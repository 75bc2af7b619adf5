"""Periodic conditions: the network's periodic embedding makes values and derivatives agree at
both ends (jet == autograd in float64), and a periodic problem trains and reloads."""

import math

import numpy as np
import pytest
import torch

import pinr as pr
from pinr import D, Eq, lap, sin
from pinr.backbones import Network, build_backbone
from pinr.backbones.base import embedded_features
from pinr.compiler import compile_problem
from pinr.errors import ProblemError
from pinr.solution import NeuralSolution, grid_of, load
from pinr.solvers import PINNSolver

A, B = 0.5, 2.0


@pytest.mark.parametrize("backbone, options", [("mlp", {"width": 16, "depth": 2}),
                                                ("siren", {"width": 16, "depth": 1, "omega0": 3.0})])
def test_values_and_derivatives_agree_at_both_ends_in_both_engines(backbone, options):
    domain = pr.Rectangle(x=(A, B), y=(-1, 1))
    x, y = domain.coords
    u = domain.field("u")
    torch.manual_seed(0)
    net = Network(build_backbone(backbone, embedded_features(2, (0,)), 1, **options), domain.bounds,
                  periodic=(0,)).to(torch.float64)
    sol = NeuralSolution(net, fields=("u",), coords=domain.coords, grid=grid_of(domain, 8), backbone=backbone,
                         options=options)
    ys = torch.rand(16, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1
    left, right = torch.cat([torch.full_like(ys, A), ys], 1), torch.cat([torch.full_like(ys, B), ys], 1)
    exprs = [u, D(u, x), D(u, y), D(u, x, x), D(u, y, y), D(u, x, y), lap(u)]
    jet = [sol.evaluate(exprs, p, engine="jet") for p in (left, right)]
    auto = [sol.evaluate(exprs, p, engine="autograd") for p in (left, right)]
    for j, a in zip(jet, auto):
        torch.testing.assert_close(j, a, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(jet[0], jet[1], rtol=1e-10, atol=1e-10)
    assert jet[0][:, 1].abs().max() > 1e-3 and jet[0][:, 3].abs().max() > 1e-3  # derivatives are not trivially 0
    inside = torch.tensor([[1.0, 0.3], [1.7, 0.3]], dtype=torch.float64)
    assert not torch.allclose(sol.evaluate(u, inside)[0], sol.evaluate(u, inside)[1])


def test_the_embedding_is_the_stated_map():
    net = Network(torch.nn.Identity(), np.array([[A, B], [-1.0, 3.0]]), periodic=(0,)).to(torch.float64)
    p = torch.tensor([[A, -1.0], [1.25, 1.0], [B, 3.0]], dtype=torch.float64)
    theta = 2 * math.pi * (p[:, 0] - A) / (B - A)
    expected = torch.stack([(p[:, 1] - 1.0) / 2.0, torch.cos(theta), torch.sin(theta)], 1)
    torch.testing.assert_close(net.embed(p), expected)
    assert not dict(net.state_dict()).keys() - {"scale_weight", "scale_bias", "output_scale"}
    with pytest.raises(ValueError, match="periodic axes must be coordinate indices"):
        Network(torch.nn.Identity(), np.array([[0.0, 1.0]]), periodic=(1,))


def periodic_problem():
    r""":math:`-u'' + u = 2\sin x` on :math:`[0, 2\pi]`, periodic: the one solution is :math:`\sin x`."""
    d = pr.Interval(x=(0, 2 * math.pi))
    (x,) = d.coords
    u = d.field("u")
    return pr.Problem(d, [Eq(-lap(u) + u, 2 * sin(x))], [pr.Periodic(x)], exact=sin(x), name="periodic1d")


def test_periodic_is_a_property_of_the_problem_not_a_term():
    p = periodic_problem()
    assert p.periodic == (pr.Periodic("x"),) and p.periodic_axes == (0,)
    assert [t.name for t in compile_problem(p).terms] == ["pde"]
    assert "periodic in x" in str(p)
    assert p.replace(name="other").periodic == p.periodic
    assert p.with_params().periodic_axes == (0,)
    d = pr.Rectangle(x=(0, 1), t=(0, 1))
    with pytest.raises(ProblemError, match=r"Periodic\('z'\).*coordinates are \['x', 't'\]"):
        pr.Problem(d, [Eq(lap(d.field("u")), 1)], [pr.Periodic("z")])
    with pytest.raises(TypeError, match="coordinate symbol or its name"):
        pr.Periodic(3)


def test_a_periodic_problem_trains_and_reloads(tmp_path):
    p = periodic_problem()
    solver = PINNSolver.from_options(p, steps=150, lr=3e-3, batch=128, backbone="mlp",
                                     backbone_options={"width": 32, "depth": 2}, dtype="float64", progress=False)
    sol = solver.run()
    losses = solver.history["loss"]
    assert losses[-1] < 0.1 * losses[0]
    ends = torch.tensor([[0.0], [2 * math.pi]], dtype=torch.float64)
    d = sol.evaluate([p.field_apps[0], D(p.field_apps[0], p.coords[0])], ends,
                     engine="jet")
    torch.testing.assert_close(d[0], d[1], rtol=1e-9, atol=1e-9)
    sol.save(tmp_path / "solution.pt")
    back = load(tmp_path / "solution.pt")
    xs = torch.linspace(0, 2 * math.pi, 7, dtype=torch.float64)[:, None]
    torch.testing.assert_close(back(xs), sol(xs))


def test_random_weight_factorisation_keeps_the_initial_map_and_the_engines_agree():
    domain = pr.Rectangle(x=(A, B), y=(-1, 1))
    x, y = domain.coords
    u = domain.field("u")
    nets = []
    for rwf in (False, True):
        torch.manual_seed(0)
        backbone = build_backbone("mlp", embedded_features(2, (0,)), 1, width=16, depth=2, rwf=rwf)
        nets.append(Network(backbone, domain.bounds, periodic=(0,)).to(torch.float64))
    plain, factored = nets
    assert {n for n, _ in factored.backbone.head.named_parameters()} == {"s", "v", "bias"}
    s = torch.cat([layer.s for layer in [*factored.backbone.layers, factored.backbone.head]]).detach()
    assert abs(float(s.mean()) - 1.0) < 0.05 and 0.05 < float(s.std()) < 0.15
    p = torch.rand(32, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * torch.tensor(
        [B - A, 2.0], dtype=torch.float64) + torch.tensor([A, -1.0], dtype=torch.float64)
    torch.testing.assert_close(factored(p), plain(p))
    sol = NeuralSolution(factored, fields=("u",), coords=domain.coords, grid=grid_of(domain, 8), backbone="mlp",
                         options={"rwf": True})
    exprs = [u, D(u, x), D(u, y, y), D(u, x, y)]
    torch.testing.assert_close(sol.evaluate(exprs, p, engine="jet"), sol.evaluate(exprs, p, engine="autograd"),
                               rtol=1e-10, atol=1e-10)
