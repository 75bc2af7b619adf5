"""Instant-NGP's radiance field: the density reads the position alone, the colour also the view
direction; the paper's Adam settings reach every part; a tiny scene trains with it."""

import pytest
import torch

import pinr as pr
from pinr.backbones.hashgrid import MLP_PART, TABLE_PART
from pinr.render.evaluate import render_held_out

SMALL = dict(levels=4, log2_table=10, base_resolution=4, max_resolution=32, width=16, geometry=4, colour_depth=1,
             direction_levels=2)


def test_density_ignores_the_direction_and_colour_follows_it():
    torch.manual_seed(0)
    net = pr.build_backbone("ngp", 3, 4, **SMALL).double()
    x = torch.rand(32, 3, dtype=torch.float64) * 2 - 1
    a, b = torch.nn.functional.normalize(torch.randn(2, 32, 3, dtype=torch.float64), dim=-1)
    out_a, out_b = net(x, a), net(x, b)
    assert out_a.shape == (32, 4) and net.view_dependent
    assert torch.equal(out_a[:, 0], out_b[:, 0])
    assert (out_a[:, 1:] - out_b[:, 1:]).abs().max() > 1e-6
    assert torch.equal(net(x)[:, 0], out_a[:, 0])  # without directions: the zero vector's colour


def test_every_part_gets_the_papers_adam():
    net = pr.build_backbone("ngp", 3, 4, **SMALL)
    parts = {name: getattr(p, "adam_part", None) for name, p in net.named_parameters()}
    assert parts["grid.table"] is TABLE_PART
    weights = [name for name in parts if name.endswith("weight")]
    assert weights and all(parts[name] is MLP_PART for name in weights)


def test_bad_sizes_are_refused_in_one_line():
    with pytest.raises(ValueError, match="ngp geometry must be an integer >= 1"):
        pr.build_backbone("ngp", 3, 4, geometry=0)


def test_a_tiny_scene_trains_with_it():
    case = pr.problems.get("nerf", size=12, views=16, test_views=2, samples=24, occupancy=16)
    obs = case.problem.observations[0]
    options = dict(backbone="ngp", backbone_options=SMALL, batch=256, lr=1e-2, seed=0, progress=False, device="cpu")
    before = render_held_out(pr.solve(case, steps=1, **options), obs)["psnr"]
    after = render_held_out(pr.solve(case, steps=150, **options), obs)["psnr"]
    assert after > before + 3.0, (before, after)
