"""SAPE's mask grid and schedule behave as specified: res^d nodes, identity-only start, an
advance every T/(2K) steps until T/2, progress stopped where the blurred loss is at most
epsilon, box-blurred node masks interpolated multilinearly, the global variant, checkpoints,
the solver's loss feedback and the mask plots."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import pinr as pr
from pinr.backbones import Network
from pinr.backbones.sape import SAPE, plot_masks


def sape(d=2, **options) -> SAPE:
    torch.manual_seed(0)
    kw = dict(m=5, width=8, depth=1, res=9, blur=3)
    kw.update(options)
    return pr.build_backbone("sape", d, 1, **kw).double()


def node_points(res: int, d: int) -> torch.Tensor:
    """Coordinates of the mask nodes ``(res**d, d)`` in C order (axis 0 slowest)."""
    axes = [torch.linspace(-1, 1, res, dtype=torch.float64)] * d
    return torch.stack([g.reshape(-1) for g in torch.meshgrid(*axes, indexing="ij")], dim=-1)


def run_schedule(s: SAPE, total: int, loss_fn, *, seed=0, n=400, until=None):
    g = torch.Generator().manual_seed(seed)
    levels = {}
    for step in range(total if until is None else until):
        s.on_step(step, total)
        levels[step] = s.level.clone()
        pts = 2 * torch.rand(n, s.in_features, generator=g, dtype=torch.float64) - 1
        s.observe_point_losses(pts, loss_fn(pts))
    return levels


def test_grid_defaults_and_identity_only_start():
    assert sape(2, res=None).n_nodes == 128**2
    assert sape(3, res=None, m=2).n_nodes == 64**3
    assert sape(2, res=None, blur=None).blur == 5 and sape(2, res=9, blur=None).blur == 3
    s = sape(2)
    assert s.level_map().shape == (9, 9) and s.mask_map().shape == (9, 9)
    x = 2 * torch.rand(50, 2, dtype=torch.float64) - 1
    assert s.mask(x).shape == (50, 5) and s.mask(x).abs().max() == 0  # only x itself is seen
    # so the network cannot see the frequencies: changing them leaves the output unchanged
    y = s(x)
    s.encoding.B.mul_(3.0)
    torch.testing.assert_close(s(x), y, rtol=0, atol=0)


def test_schedule_advances_every_t_over_2k_steps_until_half():
    s = sape(2)  # K = 5 blocks
    total = 40
    assert s.block_steps(total) == 4
    levels = run_schedule(s, total, lambda p: torch.ones(p.shape[0], dtype=torch.float64))
    changes = [step for step in range(1, total) if not torch.equal(levels[step], levels[step - 1])]
    assert changes == [4, 8, 12, 16, 20]  # every T/(2K) steps, done at T/2
    assert (s.level == s.n_blocks).all() and (s.mask(node_points(9, 2)) == 1).all()


def test_progress_stops_where_the_blurred_loss_is_below_epsilon():
    s = sape(2, epsilon=1e-3)
    run_schedule(s, 40, lambda p: torch.where(p[:, 0] > 0, 1.0, 0.0))
    level = s.level_map()  # axis 0 is x, nodes at x = -1, -0.75, ..., 1
    assert (level[:3] == 0).all()  # x <= -0.5: blurred loss 0 -> stopped at the first advance
    assert (level[3:] == s.n_blocks).all()  # x >= -0.25: the 3-wide blur reaches the lossy half
    assert not s.active[: 3 * 9].any() and s.active[3 * 9:].all()
    frac = s.mask_map()
    np.testing.assert_allclose(frac[:, 4], [0, 0, 1 / 3, 2 / 3, 1, 1, 1, 1, 1], atol=1e-12)


def test_node_masks_are_box_blurred_and_interpolated_multilinearly():
    s = sape(2)
    s.level.zero_()
    centre = 4 * 9 + 4  # node (4, 4), at the origin
    s.level[centre] = s.n_blocks
    s._table = None
    table = s.mask_table(torch.float64).view(9, 9, 5)
    expected = torch.zeros(9, 9, dtype=torch.float64)
    expected[3:6, 3:6] = 1 / 9
    for f in range(5):
        torch.testing.assert_close(table[..., f], expected)
    nodes = node_points(9, 2)
    torch.testing.assert_close(s.mask(nodes), table.reshape(81, 5))  # interpolation is exact at nodes
    # midway between (3, 4) and (4, 4) along x; at the centre of cell (3..4, 3..4)
    mid = torch.tensor([[-0.125, 0.0], [-0.125, -0.125], [-0.2, -0.05]], dtype=torch.float64)
    u = (mid + 1) * 4  # node units
    i0 = u.floor()
    t = u - i0
    bilinear = []
    for (ix, iy), (tx, ty) in zip(i0.long().tolist(), t.tolist()):
        e = expected
        bilinear.append((1 - tx) * (1 - ty) * e[ix, iy] + tx * (1 - ty) * e[ix + 1, iy]
                        + (1 - tx) * ty * e[ix, iy + 1] + tx * ty * e[ix + 1, iy + 1])
    torch.testing.assert_close(s.mask(mid)[:, 0], torch.stack(bilinear))


def test_losses_are_accumulated_on_nodes_and_empty_nodes_take_their_neighbours():
    s = sape(1, res=5, blur=1)
    nodes = node_points(5, 1)
    s.observe_point_losses(nodes[[0, 1, 3, 4]], torch.tensor([1.0, 2.0, 4.0, 8.0], dtype=torch.float64))
    s.observe_point_losses(nodes[[1]], torch.tensor([4.0], dtype=torch.float64))  # node 1: mean of 2, 4
    s.blur = 3  # fill node 2 from its neighbours 1 and 3, then blur
    loss = s.node_loss()
    filled = torch.tensor([1.0, 3.0, 3.5, 4.0, 8.0], dtype=torch.float64)
    padded = torch.cat([filled[:1], filled, filled[-1:]])
    torch.testing.assert_close(loss, (padded[:-2] + padded[1:-1] + padded[2:]) / 3)
    # a point between two nodes splits its loss by the linear weights
    s2 = sape(1, res=5, blur=1)
    s2.observe_point_losses(torch.tensor([[-0.875]], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64))
    torch.testing.assert_close(s2.loss_weight[:2].to(torch.float64), torch.tensor([0.75, 0.25], dtype=torch.float64))
    assert math.isinf(s2.node_loss()[4])  # nothing known near node 4: it keeps progressing


def test_global_variant_progresses_until_the_mean_loss_is_small():
    s = sape(2, spatial=False)
    assert s.n_nodes == 1
    losses = iter([1.0] * 12 + [1e-4] * 100)  # large for three advances, then small
    levels = run_schedule(s, 40, lambda p: torch.full((p.shape[0],), next(losses), dtype=torch.float64))
    assert [int(levels[k][0]) for k in (4, 8, 12, 16, 20, 39)] == [1, 2, 3, 3, 3, 3]
    x = 2 * torch.rand(7, 2, dtype=torch.float64) - 1
    np.testing.assert_array_equal(s.mask(x).numpy(), np.tile([1.0, 1.0, 1.0, 0.0, 0.0], (7, 1)))


def test_state_dict_restores_the_masks():
    s = sape(2)
    run_schedule(s, 40, lambda p: torch.where(p[:, 1] > 0.3, 1.0, 0.0), until=13)
    x = 2 * torch.rand(30, 2, dtype=torch.float64) - 1
    fresh = sape(2)
    fresh.mask(x)  # build (and cache) the fresh, identity-only mask first
    fresh.load_state_dict(s.state_dict())
    torch.testing.assert_close(fresh.mask(x), s.mask(x))
    torch.testing.assert_close(fresh(x), s(x))
    for name in ("level", "active", "loss_sum", "loss_weight"):
        assert torch.equal(getattr(fresh, name), getattr(s, name))


def test_the_solver_feeds_point_losses_and_the_schedule():
    problem = pr.problems.get("image", size=16)
    solver = pr.solvers.PINNSolver.from_options(problem, backbone="sape", steps=10, lr=1e-3, progress=False,
                                   backbone_options=dict(m=4, width=16, depth=1, res=8))
    sol = solver.run()
    backbone = sol.network.backbone
    assert backbone.block_steps(10) == 1
    assert backbone.level.max() == 4  # four advances (steps 1..4), the image loss stays > epsilon
    assert float(backbone.loss_weight.sum()) > 0  # losses of the steps after the last advance


def test_plot_masks(tmp_path):
    s = sape(2)
    run_schedule(s, 40, lambda p: torch.where(p.norm(dim=1) < 0.5, 1.0, 0.0), until=15)
    net = Network(s, np.array([[0.0, 2.0], [0.0, 1.0]]))
    for source in (s, net, sape(3, res=4, m=3), sape(1, res=6), sape(2, spatial=False)):
        path = plot_masks(source, tmp_path / f"masks{id(source)}.png")
        assert path.exists() and path.stat().st_size > 1000
    with pytest.raises(TypeError, match="SAPE"):
        plot_masks(pr.build_backbone("siren", 2, 1), tmp_path / "x.png")


def test_bad_options_raise():
    with pytest.raises(ValueError, match="res"):
        sape(2, res=1)
    with pytest.raises(ValueError, match="blur"):
        sape(2, blur=2)
    with pytest.raises(ValueError, match="epsilon"):
        sape(2, epsilon=-1.0)
