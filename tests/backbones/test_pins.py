"""PINs: the level outputs are partial sums whose last is the output (values and derivatives),
the progressive schedule ramps levels in and is saved, and the level plots are written."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pinr as pr
from pinr.backbones import Network
from pinr.backbones.pins import level_fields, plot_levels
from pinr.derivatives.jet import Jet


def pins(**options):
    torch.manual_seed(0)
    kw = dict(levels=3, m=12, width=16, depth=2, activation="tanh")
    kw.update(options)
    return pr.build_backbone("pins", 2, 3, **kw).double()


@pytest.mark.parametrize("progressive", [False, True])
def test_level_outputs_sum_to_the_output(progressive):
    net = pins(progressive=progressive)
    net.on_step(7, 32)  # mid-ramp when progressive
    x = 2 * torch.rand(25, 2, dtype=torch.float64) - 1
    residuals, levels = net.residuals(x), net.level_outputs(x)
    assert len(residuals) == len(levels) == 3
    torch.testing.assert_close(sum(residuals), net(x), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(levels[-1], net(x), rtol=0, atol=0)
    torch.testing.assert_close(levels[1], residuals[0] + residuals[1], rtol=1e-13, atol=1e-13)
    jet = Jet.seed(x, [0, 1], [[(0, 0, 1.0), (1, 1, 1.0)], [(0, 1, 1.0)]])
    total, parts = net(jet), net.residuals(jet)
    for slot in ("value", "first", "second"):
        torch.testing.assert_close(sum(getattr(p, slot) for p in parts), getattr(total, slot),
                                   rtol=1e-12, atol=1e-12)


def test_progressive_schedule():
    net = pins(levels=4, progressive=True)
    x = 2 * torch.rand(9, 2, dtype=torch.float64) - 1
    torch.testing.assert_close(net(x), net.residuals(x)[0])  # only level 1 at the start
    total = 60  # phase = 2 (L - 1) t / T = t / 10
    for step, weights in [(0, [1, 0, 0, 0]), (5, [1, 0.5, 0, 0]), (15, [1, 1, 0.5, 0]),
                          (29, [1, 1, 1, 0.9]), (30, [1, 1, 1, 1]), (59, [1, 1, 1, 1])]:
        net.on_step(step, total)
        np.testing.assert_allclose(net.level_weights.numpy(), weights, atol=1e-12)
    state = pins(levels=4, progressive=True)
    state.load_state_dict(net.state_dict())
    np.testing.assert_array_equal(state.level_weights.numpy(), [1, 1, 1, 1])
    fixed = pins(levels=4)
    fixed.on_step(0, 60)
    np.testing.assert_array_equal(fixed.level_weights.numpy(), [1, 1, 1, 1])


def test_frequency_bands_go_from_low_to_high():
    net = pins(levels=3, m=30)
    norms = [enc.B.norm(dim=1) for enc in net.encodings]
    assert [len(n) for n in norms] == [10, 10, 10]
    for lo, hi in zip(norms[:-1], norms[1:]):
        assert lo.max() <= hi.min()
    assert net.encodings[0].include_input and not net.encodings[1].include_input


def test_level_fields_and_plot(tmp_path):
    problem = pr.problems.get("image", image="astronaut", size=16)
    sol = pr.solve(problem, backbone="pins", backbone_options=dict(m=12, width=16, progressive=True), steps=4,
                   progress=False, reference_solution=None)
    data = level_fields(sol.network, sol.grid)
    assert len(data["levels"]) == 3 and data["levels"][0].shape == (16, 16, 3)
    np.testing.assert_allclose(data["levels"][-1], sol.on_grid(), atol=1e-5)
    assert plot_levels(sol.network, sol.grid, tmp_path / "levels.png", image=True).stat().st_size > 1000
    gray = pr.problems.get("image", size=16)
    sol = pr.solve(gray, backbone="pins", backbone_options=dict(m=12, width=16), steps=2, progress=False,
                   reference_solution=None)
    assert plot_levels(sol.network, gray.domain, tmp_path / "gray.png").exists()
    with pytest.raises(ValueError, match="grid"):
        plot_levels(sol.network, None, tmp_path / "none.png")
    with pytest.raises(TypeError, match="Network"):
        plot_levels(sol, gray.domain, tmp_path / "solution.png")
    with pytest.raises(TypeError, match="pins"):
        plot_levels(Network(pr.build_backbone("siren", 2, 1), np.array([[0.0, 1.0], [0.0, 1.0]])),
                    gray.domain, tmp_path / "siren.png")
