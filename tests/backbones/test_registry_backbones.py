"""Invariants of every registered backbone: its own recommended training settings, output
shapes, pointwise in the batch, jet == autograd in float64 (values, first, pure and mixed second
derivatives, Laplacian and weighted combos, parameter gradients), a short fit lowers the loss,
and a problems × backbones matrix of short solver runs gives finite metrics."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from small_backbones import SMALL  # tests/ is on the path (pyproject: pythonpath)

import pinr as pr
from pinr.backbones import AbstractBackbone, BackboneTraining, Network, backbone_training, registry
from pinr.compiler import Atom, Combo
from pinr.derivatives import AutogradEngine, JetEngine
from pinr.derivatives.jet import Jet

BACKBONES = pr.available_backbones()
#: Option variants with their own derivative rules: FINER's scale factor is detached by default
#: (as in its paper's code); with scale_grad=True its derivatives enter the jet too.
VARIANTS = {"finer:scale_grad": ("finer", dict(width=24, depth=2, scale_grad=True)),
            "hashgrid:smoothstep": ("hashgrid", {**SMALL["hashgrid"], "interpolation": "smoothstep"})}
BOUNDS = np.array([[-2.0, 3.0], [0.5, 1.5], [0.0, 4.0]])


def small(name: str) -> dict:
    return VARIANTS[name][1] if name in VARIANTS else SMALL.get(name, {})


def exercise(backbone, d: int, seed: int = 3) -> None:
    """Drive the progress hooks part-way (3/8 of a short run) with losses that are high for
    x_0 > 0 and tiny elsewhere, so progressive backbones (SAPE's masks, PINs' level weights)
    are in a non-trivial, spatially varying state."""
    g = torch.Generator().manual_seed(seed)
    total = 48
    for step in range(3 * total // 8):
        backbone.on_step(step, total)
        if backbone.wants_point_losses:
            pts = 2 * torch.rand(256, d, generator=g, dtype=torch.float64) - 1
            backbone.observe_point_losses(pts, torch.where(pts[:, 0] > 0, 1.0, 1e-9))


def build(name: str, d: int, out: int = 2, seed: int = 0) -> Network:
    torch.manual_seed(seed)
    backbone = pr.build_backbone(VARIANTS.get(name, (name,))[0], d, out, **small(name)).double()
    exercise(backbone, d)
    return Network(backbone, BOUNDS[:d]).double()


def sample(d: int, n: int = 40, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    b = torch.as_tensor(BOUNDS[:d])
    return b[:, 0] + torch.rand(n, d, generator=g, dtype=torch.float64) * (b[:, 1] - b[:, 0])


def unit(d: int, *axes: int) -> tuple[int, ...]:
    o = [0] * d
    for a in axes:
        o[a] += 1
    return tuple(o)


def cases(d: int, pts: torch.Tensor) -> dict:
    """(atoms, combos, coefficients) per kind of derivative request."""
    lap_orders = tuple(unit(d, i, i) for i in range(d))
    weights = [torch.cos(pts[:, i]) + 2.0 for i in range(d)]
    return {
        "value": ([Atom(0, unit(d)), Atom(1, unit(d))], [], []),
        "first": ([Atom(0, unit(d, 0)), Atom(1, unit(d, d - 1)), Atom(1, unit(d))], [], []),
        "pure_second": ([Atom(0, unit(d, 0, 0)), Atom(1, unit(d, d - 1, d - 1))], [], []),
        "mixed_second": ([Atom(0, unit(d, 0, 1)), Atom(1, unit(d, 1, d - 1)), Atom(0, unit(d, 0))], [], []),
        "laplacian": ([], [Combo(0, lap_orders, tuple(range(d)))], [1.0] * d),
        "weighted": ([Atom(1, unit(d))],
                     [Combo(1, lap_orders, tuple(range(d))), Combo(0, (unit(d, 0, 1), unit(d, 1, 1)), (d, d + 1))],
                     weights + [0.5, weights[0] * pts[:, 1]]),
    }


# ----------------------------------------------------------------------------------- shapes
def test_every_backbone_is_listed_with_options():
    assert {"scone", "pins", "sape", "finer", "wire", "gauss", "siren", "ff", "mlp"} <= set(BACKBONES)
    for name in BACKBONES:
        assert pr.backbones.backbone_options(name), name


# ------------------------------------------------------------------------ training settings
@pytest.mark.parametrize("name", BACKBONES)
def test_every_backbone_states_its_own_training(name):
    backbone = pr.build_backbone(name, 2, 1, **small(name))
    cls = type(backbone)
    assert "recommended" in cls.__dict__, f"{cls.__name__} inherits AbstractBackbone's default training settings"
    settings = cls.recommended
    assert isinstance(settings, BackboneTraining) and settings is not AbstractBackbone.recommended
    assert math.isfinite(settings.lr) and settings.lr > 0 and settings.source.strip()
    assert backbone_training(name) == settings
    # the settings do not touch torch's train/eval flag
    assert backbone.training is True
    backbone.eval()
    assert backbone.training is False and backbone.recommended == settings


def test_backbone_training_of_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown backbone 'nope'; available backbones") as err:
        backbone_training("nope")
    assert all(name in str(err.value) for name in BACKBONES)


def test_backbone_training_of_a_registered_plain_module_says_it_states_none(monkeypatch):
    class Plain(torch.nn.Module):
        pass

    monkeypatch.setitem(registry._BACKBONES, "plain", Plain)
    with pytest.raises(TypeError, match="'plain' .Plain. is not an AbstractBackbone"):
        backbone_training("plain")


@pytest.mark.parametrize("lr", [0, 0.0, -1e-3, math.nan, math.inf, True, "1e-3", None])
def test_backbone_training_rejects_a_bad_lr(lr):
    with pytest.raises(ValueError, match=f"lr must be a finite positive number.*got {lr!r}"):
        BackboneTraining(lr=lr, source="a paper")


def test_backbone_training_is_a_frozen_value():
    settings = BackboneTraining(lr=np.float32(5e-4), source="a paper")
    assert type(settings.lr) is float and settings == BackboneTraining(lr=float(np.float32(5e-4)), source="a paper")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lr = 1.0
    with pytest.raises(ValueError, match="source must say where"):
        BackboneTraining(lr=1e-3, source=" ")


def test_quality_benchmark_trains_at_the_backbones_own_lr():
    from pinr.bench.quality import CONFIGS, learning_rate

    for name in BACKBONES:
        assert learning_rate(name) == backbone_training(name).lr, name
    assert learning_rate("pins", 3e-3) == 3e-3  # --lr pins=3e-3
    assert set(CONFIGS) <= set(BACKBONES)
    for name, options in CONFIGS.items():  # options only, each one the backbone's
        assert set(options) <= set(pr.backbones.backbone_options(name)), name


@pytest.mark.parametrize("name", BACKBONES)
@pytest.mark.parametrize("d, out", [(1, 1), (2, 3), (3, 2)])
def test_output_shapes(name, d, out):
    torch.manual_seed(0)
    backbone = pr.build_backbone(name, d, out, **small(name)).double()
    exercise(backbone, d)
    x = 2 * torch.rand(17, d, dtype=torch.float64) - 1
    y = backbone(x)
    assert y.shape == (17, out) and y.dtype == torch.float64 and torch.isfinite(y).all()
    jet = backbone(Jet.seed(x, list(range(d)), [[(a, a, 1.0) for a in range(d)]]))
    assert jet.value.shape == (17, out) and jet.first.shape == (d, 17, out) and jet.second.shape == (1, 17, out)
    torch.testing.assert_close(jet.value, y, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", BACKBONES)
def test_pointwise_in_the_batch(name):
    """Permuting the batch permutes the output (and each point's value is its own: a batch of
    one gives the same value)."""
    net = build(name, 2, out=3)
    pts = sample(2, n=33)
    perm = torch.randperm(33, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        y = net(pts)
        torch.testing.assert_close(net(pts[perm]), y[perm], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(net(pts[3:4]), y[3:4], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", BACKBONES)
def test_state_dict_round_trip(name):
    """Random buffers (frequencies, SAPE's masks, PINs' level weights) travel with the state."""
    net = build(name, 2, out=3)
    other = Network(pr.build_backbone(name, 2, 3, **small(name)).double(), BOUNDS[:2]).double()
    other.load_state_dict(net.state_dict())
    pts = sample(2)
    with torch.no_grad():
        torch.testing.assert_close(other(pts), net(pts), rtol=0, atol=0)


# ------------------------------------------------------------------------ jet == autograd
@pytest.mark.parametrize("name", BACKBONES + list(VARIANTS))
@pytest.mark.parametrize("d", [2, 3])
def test_jet_equals_autograd(name, d):
    net = build(name, d)
    pts = sample(d)
    for kind, (atoms, combos, coefs) in cases(d, pts).items():
        aj, cj = JetEngine().evaluate(net, pts, atoms, combos, coefs)
        aa, ca = AutogradEngine().evaluate(net, pts, atoms, combos, coefs)
        assert len(aj) == len(aa) == len(atoms) and len(cj) == len(ca) == len(combos)
        for got, ref in zip(aj + cj, aa + ca):
            assert got.shape == ref.shape == (pts.shape[0],) and got.dtype == torch.float64
            scale = ref.abs().max().item()
            assert scale > 1e-8, f"{name} d={d} {kind}: degenerate reference"
            assert (got - ref).abs().max().item() <= 1e-10 * scale, f"{name} d={d} {kind}"


@pytest.mark.parametrize("name", BACKBONES + list(VARIANTS))
def test_jet_and_autograd_parameter_gradients_agree(name):
    d = 2
    pts = sample(d)
    atoms, combos, coefs = [], [], []
    for a, c, k in cases(d, pts).values():
        offset = len(coefs)
        atoms += a
        combos += [Combo(cb.component, cb.orders, tuple(i + offset for i in cb.coefficients)) for cb in c]
        coefs += k
    grads = []
    for engine in (JetEngine(), AutogradEngine()):
        net = build(name, d)
        av, cv = engine.evaluate(net, pts, atoms, combos, coefs)
        loss = sum((v**2).mean() for v in av + cv)
        params = [p for p in net.parameters() if p.requires_grad]
        grads.append(torch.autograd.grad(loss, params, allow_unused=True))
    for gj, ga in zip(*grads):
        if ga is None:
            assert gj is None or gj.abs().max() == 0
            continue
        scale = max(ga.abs().max().item(), 1e-6)
        assert (gj - ga).abs().max().item() <= 1e-10 * scale, name


# ------------------------------------------------------------------------------ training
@pytest.mark.parametrize("name", BACKBONES)
def test_short_fit_lowers_the_loss(name):
    torch.manual_seed(0)
    backbone = pr.build_backbone(name, 2, 1, **small(name))
    g = torch.Generator().manual_seed(2)
    x = 2 * torch.rand(256, 2, generator=g) - 1
    target = (torch.sin(2 * x[:, :1]) * torch.cos(3 * x[:, 1:]))
    opt = torch.optim.Adam(backbone.parameters(), lr=3e-3)
    steps, losses = 60, []
    for step in range(steps):
        backbone.on_step(step, steps)
        opt.zero_grad()
        res = backbone(x) - target
        if backbone.wants_point_losses:
            backbone.observe_point_losses(x, res.detach().square().sum(1))
        loss = res.square().mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert min(losses[-5:]) < 0.8 * losses[0], f"{name}: {losses[0]:.3g} -> {losses[-1]:.3g}"


@pytest.fixture(scope="module")
def matrix_problems():
    return {"image": pr.problems.get("image", size=16), "poisson-image": pr.problems.get("poisson-image", size=16)}


@pytest.mark.parametrize("name", BACKBONES)
@pytest.mark.parametrize("problem_name", ["image", "poisson-image"])
def test_problems_by_backbones(matrix_problems, problem_name, name):
    problem = matrix_problems[problem_name]
    sol = pr.solve(problem, backbone=name, backbone_options=small(name), steps=3, progress=False,
                   reference_solution=None)
    metrics = pr.compare(sol, pr.reference(problem))
    assert {"rel_l2", "max_abs", "psnr"} <= set(metrics)
    assert all(math.isfinite(metrics[k]) for k in ("rel_l2", "max_abs", "psnr")), metrics
