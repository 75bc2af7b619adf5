"""Occupancy grid: it finds where the density lives, marches only there, and rendering through
its samples agrees with dense sampling when the field vanishes in the skipped cells."""

import io
import math

import numpy as np
import pytest
import torch

from pinr.render import Camera, OccupancyGrid, composite, look_at, ray_box, stratified

f64 = torch.float64
BOX = [[-1.0, 1.0], [-1.0, 1.0], [-1.0, 1.0]]
RADIUS = 0.4


def sphere(x):
    return torch.where(x.norm(dim=-1) < RADIUS, 10.0, 0.0).to(x.dtype)


def _grid(resolution=16, **options):
    grid = OccupancyGrid(BOX, resolution=resolution, dtype=f64, **options)
    grid.update(sphere, generator=torch.Generator().manual_seed(0))
    return grid


def _centres(grid):
    return grid.cell_points(torch.arange(grid.n_cells))


def test_starts_all_occupied_and_finds_a_sphere():
    grid = OccupancyGrid(BOX, resolution=16, dtype=f64)
    assert grid.occupancy == 1.0 and grid.occupied(torch.tensor([[0.9, -0.9, 0.1]], dtype=f64)).item()
    grid.update(sphere, generator=torch.Generator().manual_seed(0))
    c = _centres(grid)
    r = c.norm(dim=-1)
    half_diagonal = math.sqrt(3) * 2 / 16 / 2
    occupied = grid.occupied(c)
    assert occupied[r + half_diagonal < RADIUS].all()  # cells wholly inside
    assert not occupied[r - half_diagonal > RADIUS].any()  # cells wholly outside
    assert 0 < grid.occupancy < 0.05
    far = torch.tensor([[0.0, 0, 0], [0.9, 0.9, 0.9], [2.0, 0, 0], [0, 0, -1.5]], dtype=f64)
    assert grid.occupied(far).tolist() == [True, False, False, False]


def test_threshold_rule_and_decay():
    grid = _grid()
    sigma_th = -math.log(0.99) / grid.step
    assert grid.density_threshold == pytest.approx(sigma_th)
    assert grid.step == pytest.approx(2 * math.sqrt(3) / 1024)
    # the estimate decays by 0.95 per update once the density is gone, and keeps the max otherwise
    inside = grid.cells_of(torch.zeros(1, 3, dtype=f64))[0]
    grid.update(lambda x: torch.zeros(x.shape[0], dtype=x.dtype), generator=torch.Generator().manual_seed(1))
    assert grid.estimates[inside].item() == pytest.approx(9.5)
    # a field everywhere below the density threshold keeps its above-mean cells (early training)
    weak = OccupancyGrid(BOX, resolution=8, dtype=f64)
    weak.update(lambda x: 1e-3 * (x[:, 0] > 0).to(x.dtype), generator=torch.Generator().manual_seed(2))
    assert weak.occupancy == pytest.approx(0.5)
    assert weak.occupied(torch.tensor([[0.5, 0, 0], [-0.5, 0, 0]], dtype=f64)).tolist() == [True, False]


def test_partial_updates_touch_a_fraction_and_leave_the_rest_occupied():
    grid = OccupancyGrid(BOX, resolution=8, dtype=f64)
    grid.update(lambda x: torch.zeros(x.shape[0], dtype=x.dtype), generator=torch.Generator().manual_seed(3),
                fraction=0.25)
    seen = torch.isfinite(grid.estimates)
    assert int(seen.sum()) == 128
    assert grid.occupancy == pytest.approx(0.75) and not grid.mask[seen].any()
    with pytest.raises(ValueError, match="fraction"):
        grid.update(sphere, generator=torch.Generator(), fraction=0.0)


def _rays(n_random=40):
    cam = Camera.from_fov(8, 8, math.radians(40), look_at((2.5, 1.0, 0.8)))
    o, d = cam.rays(dtype=f64)
    g = torch.Generator().manual_seed(4)
    o2 = torch.randn(n_random, 3, generator=g, dtype=f64) * 0.3 + torch.tensor([0.0, -2.5, 0.2], dtype=f64)
    d2 = torch.tensor([0.0, 1.0, 0.0], dtype=f64) + 0.3 * torch.randn(n_random, 3, generator=g, dtype=f64)
    d2 = d2 / d2.norm(dim=-1, keepdim=True)
    o3 = torch.tensor([[0.0, 0.0, 0.0], [3.0, 3.0, 3.0]], dtype=f64)  # starts inside; misses
    d3 = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], dtype=f64)
    return torch.cat([o, o2, o3]), torch.cat([d, d2, d3])


def test_march_keeps_only_occupied_samples_and_tiles_the_ray():
    o, d = _rays()
    everywhere = OccupancyGrid(BOX, resolution=16, dtype=f64)
    step = 0.05
    s = everywhere.march(o, d, 0.0, 10.0, step=step, generator=torch.Generator().manual_seed(5))
    t0, t1 = ray_box(o, d, torch.tensor(BOX, dtype=f64))
    assert (torch.diff(s.t)[s.ray[1:] == s.ray[:-1]] > 0).all() and (torch.diff(s.ray) >= 0).all()
    assert torch.allclose(s.sum(s.delta), t1 - t0)  # all occupied: the intervals tile [t0, t1]
    inner = (s.slot > 0) & (s.slot < s.counts[s.ray] - 1)
    assert torch.allclose(s.delta[inner], torch.full_like(s.delta[inner], step))
    assert s.counts[-1] == 0 and s.max_count <= math.ceil(2 * math.sqrt(3) / step) + 1
    grid = _grid()
    m = grid.march(o, d, 0.0, 10.0, step=0.01)
    assert len(m) > 0 and grid.occupied(m.points(o, d)).all()
    assert (m.t >= t0[m.ray] - 1e-12).all() and (m.t <= t1[m.ray]).all()
    near = grid.march(o, d, 0.0, 2.6, step=0.01)  # a far plane cuts the rays short
    assert len(near) < len(m) and (near.t <= 2.6).all()
    capped = grid.march(o, d, 0.0, 10.0, step=0.01, max_samples=10)
    assert capped.max_count <= 10


@pytest.mark.parametrize("generator", [None, 6])
def test_march_renders_like_dense_sampling(generator):
    grid = _grid()

    def field(x):
        sigma = 3.0 * grid.occupied(x).to(x.dtype) * (x.norm(dim=-1) < 0.5).to(x.dtype)
        colour = torch.stack([x[:, 0].sin(), x[:, 1].cos(), (x[:, 2] + x[:, 0]).square()], -1)
        return sigma, colour

    o, d = _rays()
    bg = torch.tensor([0.2, 0.4, 0.6], dtype=f64)
    t0, t1 = ray_box(o, d, torch.tensor(BOX, dtype=f64))
    dense = stratified(t0, t1, 4000)
    sigma, colour = field(dense.points(o, d))
    reference = composite(sigma, colour, dense, background=bg)
    assert reference.opacity.max() > 0.3  # the test sees something
    g = None if generator is None else torch.Generator().manual_seed(generator)
    for step in (0.01, 0.005):
        s = grid.march(o, d, 0.0, 10.0, step=step, generator=g)
        sigma, colour = field(s.points(o, d))
        r = composite(sigma, colour, s, background=bg)
        # the field jumps at cell walls and at the sphere: first-order quadrature, error ~ step
        assert (r.colour - reference.colour).abs().max() < 2.5 * step
        assert (r.opacity - reference.opacity).abs().max() < 2.5 * step
        assert (r.depth - reference.depth).abs().max() < 7 * step
        everywhere = OccupancyGrid(BOX, resolution=16, dtype=f64).march(o, d, 0.0, 10.0, step=step)
        assert len(s) < 0.25 * len(everywhere)  # and it skipped most of the box


def test_state_dict_round_trip():
    grid = _grid()
    buffer = io.BytesIO()
    torch.save(grid.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    other = OccupancyGrid(BOX, resolution=16, dtype=f64)
    assert other.occupancy == 1.0
    other.load_state_dict(state)
    assert torch.equal(other.estimates, grid.estimates) and torch.equal(other.mask, grid.mask)
    with pytest.raises(ValueError, match="resolution"):
        OccupancyGrid(BOX, resolution=8, dtype=f64).load_state_dict(state)
    with pytest.raises(ValueError, match="bounds"):
        OccupancyGrid(np.array(BOX) * 2, resolution=16, dtype=f64).load_state_dict(state)


def test_bad_settings_name_the_culprit():
    with pytest.raises(ValueError, match="bounds"):
        OccupancyGrid([[0, 1], [0, 1]])
    with pytest.raises(ValueError, match="resolution"):
        OccupancyGrid(BOX, resolution=0)
    with pytest.raises(ValueError, match="threshold"):
        OccupancyGrid(BOX, threshold=2.0)
    with pytest.raises(ValueError, match="density_fn"):
        OccupancyGrid(BOX, resolution=4).update(lambda x: x, generator=torch.Generator())
