"""Volume rendering: the quadrature is exact for piecewise-constant fields, converges at second
order on a smooth depth integral, packs rays of any length, and hierarchical sampling draws from
the coarse weights' distribution."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from pinr.render import Samples, composite, composite_alpha, interval_lengths, ray_box, resample, sample_pdf, stratified

f64 = torch.float64


def _slab_truth(a, length, s):
    """Opacity and expected depth of a slab of density s on [a, a + length]."""
    e = math.exp(-s * length)
    return 1 - e, a * (1 - e) + 1 / s - e * (length + 1 / s)


# ----------------------------------------------------------------------------- ray and box
def test_ray_box_analytic_cases():
    bounds = torch.tensor([[-1.0, 1.0], [-1.0, 1.0], [-1.0, 1.0]], dtype=f64)
    s = 1 / math.sqrt(3)
    o = torch.tensor([[-3.0, 0, 0], [0, 0, 0], [-3, 2, 0], [3, 0, 0], [-3, -3, -3], [0, 1, 0], [0, 0, 0.5],
                      [0.5, 0.5, 5]], dtype=f64)
    d = torch.tensor([[1.0, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [s, s, s], [1, 0, 0], [0, 0, -1], [0, 0, -1]],
                     dtype=f64)
    near, far = ray_box(o, d, bounds)
    r3 = math.sqrt(3)
    want_near = torch.tensor([2.0, 0, 0, 0, 2 * r3, 0, 0, 4], dtype=f64)
    want_far = torch.tensor([4.0, 1, 0, 0, 4 * r3, 1, 1.5, 6], dtype=f64)
    assert torch.allclose(near, want_near) and torch.allclose(far, want_far)
    # a miss (beside the box) and a box behind the ray are empty; the ray on a face (y = 1, d_y = 0) is not NaN
    assert near[2] == far[2] and near[3] == far[3]
    assert torch.isfinite(near).all() and torch.isfinite(far).all()


# ------------------------------------------------------------------------------ stratified
def test_stratified_bins_and_jitter():
    near, far = torch.tensor([0.0, 2.0], dtype=f64), torch.tensor([1.0, 6.0], dtype=f64)
    s = stratified(near, far, 4)
    assert s.per_ray == 4 and s.t.dtype == f64
    assert torch.allclose(s.dense(s.t), torch.tensor([[0.125, 0.375, 0.625, 0.875], [2.5, 3.5, 4.5, 5.5]], dtype=f64))
    assert torch.allclose(s.dense(s.delta), torch.tensor([[0.25] * 4, [1.0] * 4], dtype=f64))
    g = torch.Generator().manual_seed(1)
    j = stratified(near, far, 4, generator=g)
    lo = near[:, None] + torch.arange(4, dtype=f64) * (far - near)[:, None] / 4
    assert ((j.dense(j.t) >= lo) & (j.dense(j.t) < lo + j.dense(j.delta))).all()
    assert not torch.allclose(j.t, s.t)
    f = stratified(0.0, 1.0, 3, n_rays=5)
    assert f.n_rays == 5 and len(f) == 15 and f.t.dtype == torch.get_default_dtype()
    pts = s.points(torch.zeros(2, 3, dtype=f64), torch.tensor([[1.0, 0, 0], [0, 1, 0]], dtype=f64))
    assert torch.allclose(pts[4:, 1], s.t[4:]) and torch.allclose(pts[:4, 0], s.t[:4])


# ------------------------------------------------------------------------------ compositing
@pytest.mark.parametrize("s", [0.5, 3.0])
def test_constant_slab_opacity_exact_and_depth_second_order(s):
    a, length = 2.0, 1.5
    opacity, depth = _slab_truth(a, length, s)
    errors = []
    for n in (8, 16, 32, 64):
        smp = stratified(torch.tensor([a], dtype=f64), torch.tensor([a + length], dtype=f64), n)
        r = composite(torch.full((n,), s, dtype=f64), torch.ones(n, 3, dtype=f64), smp)
        assert r.opacity.item() == pytest.approx(opacity, rel=1e-13)
        assert r.weights.sum().item() == pytest.approx(opacity, rel=1e-13)
        assert torch.allclose(r.colour, torch.full((1, 3), opacity, dtype=f64))
        errors.append(abs(r.depth.item() - depth))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.allclose(ratios, 4.0, rtol=0.05), ratios  # midpoint rule: error ~ h^2


def test_slab_inside_a_longer_ray_converges():
    """The slab occupies part of [0, 4]; its edges fall inside bins, so the error is first order."""
    a, length, s = 1.3, 1.1, 2.0
    opacity, depth = _slab_truth(a, length, s)
    for n, tol in ((64, 0.08), (1024, 0.005)):
        smp = stratified(torch.tensor([0.0], dtype=f64), torch.tensor([4.0], dtype=f64), n)
        sigma = torch.where((smp.t >= a) & (smp.t < a + length), s, 0.0)
        r = composite(sigma, torch.ones(n, 1, dtype=f64), smp)
        assert r.opacity.item() == pytest.approx(opacity, abs=tol)
        assert r.depth.item() == pytest.approx(depth, abs=tol * 4)


def test_empty_space_shows_the_background_exactly():
    smp = stratified(torch.tensor([0.0, 1.0]), torch.tensor([5.0, 2.0]), 32)
    bg = torch.tensor([0.2, 0.7, 0.1])
    r = composite(torch.zeros(64), torch.rand(64, 3), smp, background=bg)
    assert (r.opacity == 0).all() and (r.depth == 0).all() and (r.weights == 0).all()
    assert torch.equal(r.colour, bg.expand(2, 3))
    assert torch.equal(composite(torch.zeros(64), torch.rand(64, 3), smp).colour, torch.zeros(2, 3))


def test_transmittance_of_piecewise_constant_density_is_exact():
    g = torch.Generator().manual_seed(3)
    n = 40
    delta = torch.rand(n, generator=g, dtype=f64) * 0.3
    t = torch.cumsum(delta, 0) - delta / 2
    sigma = torch.rand(n, generator=g, dtype=f64) * 5
    smp = Samples(torch.zeros(n, dtype=torch.long), t, delta, 1)
    r = composite(sigma, torch.rand(n, 3, generator=g, dtype=f64), smp)
    tau = sigma * delta
    assert (1 - r.opacity).item() == pytest.approx(math.exp(-tau.sum().item()), rel=1e-13)
    alpha = 1 - torch.exp(-tau)
    before = torch.exp(-(torch.cumsum(tau, 0) - tau))
    assert torch.allclose(r.weights / alpha, before, rtol=1e-12)
    ra = composite_alpha(alpha, torch.ones(n, 3, dtype=f64), smp)
    assert torch.allclose(ra.weights, r.weights, rtol=1e-12, atol=0)


def test_composite_alpha_equals_composite():
    g = torch.Generator().manual_seed(4)
    smp = stratified(torch.rand(6, generator=g, dtype=f64), 3 + torch.rand(6, generator=g, dtype=f64), 17,
                     generator=g)
    sigma = torch.rand(len(smp), generator=g, dtype=f64) * 4
    colour = torch.rand(len(smp), 3, generator=g, dtype=f64)
    bg = torch.tensor([0.3, 0.5, 0.9], dtype=f64)
    r = composite(sigma, colour, smp, background=bg)
    ra = composite_alpha(1 - torch.exp(-sigma * smp.delta), colour, smp, background=bg)
    for name in ("colour", "depth", "opacity", "weights"):
        assert torch.allclose(getattr(r, name), getattr(ra, name), rtol=1e-12, atol=1e-15), name


def test_opaque_layer_hides_what_is_behind_with_finite_gradients():
    smp = stratified(torch.tensor([0.0], dtype=f64), torch.tensor([3.0], dtype=f64), 3)
    alpha = torch.tensor([0.5, 1.0, 0.7], dtype=f64, requires_grad=True)
    colour = torch.eye(3, dtype=f64)
    ra = composite_alpha(alpha, colour, smp, background=torch.ones(3, dtype=f64))
    assert torch.allclose(ra.colour, torch.tensor([[0.5, 0.5, 0.0]], dtype=f64)) and ra.opacity.item() == 1
    ra.colour.sum().backward()
    assert torch.isfinite(alpha.grad).all()
    sigma = torch.tensor([1e4, 1e6, 1e8], dtype=f64, requires_grad=True)  # very large optical depths
    r = composite(sigma.float(), colour.float(), Samples(smp.ray, smp.t.float(), smp.delta.float(), 1))
    assert torch.isfinite(r.weights).all() and r.opacity.item() == 1 and r.weights[0].item() == 1
    r.colour.sum().backward()
    assert torch.isfinite(sigma.grad).all()


def test_packed_rays_render_as_each_ray_alone():
    g = torch.Generator().manual_seed(5)
    counts = [3, 0, 7, 1, 0, 12, 5, 0]
    ray = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    m = int(ray.numel())
    delta = torch.rand(m, generator=g, dtype=f64) * 0.5
    t = torch.cat([torch.cumsum(delta[ray == i], 0) for i in range(len(counts))])
    sigma = torch.rand(m, generator=g, dtype=f64) * 3
    colour = torch.rand(m, 3, generator=g, dtype=f64)
    bg = torch.tensor([0.1, 0.2, 0.3], dtype=f64)
    smp = Samples(ray, t, delta, len(counts))
    assert smp.per_ray is None and smp.max_count == 12 and smp.counts.tolist() == counts
    for fn, values in ((composite, sigma), (composite_alpha, 1 - torch.exp(-sigma * delta))):
        packed = fn(values, colour, smp, background=bg)
        for i in range(len(counts)):
            k = ray == i
            alone = fn(values[k], colour[k], Samples(torch.zeros(int(k.sum()), dtype=torch.long), t[k], delta[k], 1),
                       background=bg)
            assert torch.allclose(packed.colour[i], alone.colour[0], rtol=1e-13)
            assert torch.allclose(packed.depth[i], alone.depth[0], rtol=1e-13)
            assert torch.allclose(packed.opacity[i], alone.opacity[0], rtol=1e-13)
            assert torch.allclose(packed.weights[k], alone.weights, rtol=1e-13)
        assert torch.equal(packed.colour[1], bg) and packed.opacity[4] == 0


def test_no_samples_at_all():
    smp = Samples(torch.zeros(0, dtype=torch.long), torch.zeros(0), torch.zeros(0), 3)
    r = composite(torch.zeros(0), torch.zeros(0, 3), smp, background=torch.ones(3))
    assert torch.equal(r.colour, torch.ones(3, 3)) and torch.equal(r.opacity, torch.zeros(3))


@pytest.mark.parametrize("packed", [False, True])
def test_gradients_flow_to_sigma_and_colour(packed):
    g = torch.Generator().manual_seed(6)
    if packed:
        ray = torch.tensor([0, 0, 0, 2, 2])
        smp = Samples(ray, torch.tensor([0.2, 0.5, 0.9, 0.1, 0.4], dtype=f64), torch.full((5,), 0.3, dtype=f64), 3)
    else:
        smp = stratified(torch.zeros(2, dtype=f64), torch.ones(2, dtype=f64), 3)
    sigma = (torch.rand(len(smp), generator=g, dtype=f64) * 3).requires_grad_()
    colour = torch.rand(len(smp), 2, generator=g, dtype=f64, requires_grad=True)
    bg = torch.tensor([0.4, 0.6], dtype=f64)

    def render(s, c):
        r = composite(s, c, smp, background=bg)
        return r.colour, r.depth, r.opacity, r.weights

    def render_alpha(a, c):
        r = composite_alpha(a, c, smp, background=bg)
        return r.colour, r.depth, r.opacity, r.weights

    assert torch.autograd.gradcheck(render, (sigma, colour))
    alpha = (torch.rand(len(smp), generator=g, dtype=f64) * 0.9).requires_grad_()
    assert torch.autograd.gradcheck(render_alpha, (alpha, colour))


def test_bad_shapes_name_the_culprit():
    smp = stratified(0.0, 1.0, 4, n_rays=2)
    with pytest.raises(ValueError, match="sigma"):
        composite(torch.zeros(7), torch.zeros(8, 3), smp)
    with pytest.raises(ValueError, match="colour"):
        composite(torch.zeros(8), torch.zeros(8), smp)
    with pytest.raises(ValueError, match="dense"):
        resample(Samples(torch.tensor([0, 0, 1]), torch.zeros(3), torch.zeros(3), 2), torch.zeros(3), 4,
                 near=0.0, far=1.0)


# ------------------------------------------------------------------------------- resampling
def _pdf_cdf(edges, weights):
    e, w = np.asarray(edges, float), np.asarray(weights, float)
    cum = np.concatenate([[0.0], np.cumsum(w) / w.sum()])
    return lambda x: np.interp(x, e, cum)


def test_sample_pdf_draws_from_the_piecewise_constant_density():
    edges = torch.tensor([[0.0, 1.0, 3.0, 3.5, 6.0]], dtype=f64)
    weights = torch.tensor([[1.0, 0.0, 2.0, 5.0]], dtype=f64)
    cdf = _pdf_cdf(edges[0], weights[0])
    g = torch.Generator().manual_seed(7)
    draws = sample_pdf(edges, weights, 20000, generator=g)[0].numpy()
    assert stats.kstest(draws, cdf).pvalue > 0.01
    assert not ((draws > 1.0) & (draws < 3.0)).any()  # no mass, no draws
    counts = np.histogram(draws, bins=edges[0].numpy())[0]
    expected = 20000 * weights[0].numpy() / weights.sum().item()
    keep = expected > 0
    assert stats.chisquare(counts[keep], expected[keep]).pvalue > 0.01
    # deterministic mode: the (j + 1/2)/n quantiles, sorted
    q = sample_pdf(edges, weights, 16)[0].numpy()
    assert np.allclose(cdf(q), (np.arange(16) + 0.5) / 16, atol=1e-12) and (np.diff(q) > 0).all()


def test_resample_union_intervals_and_distribution():
    near, far = torch.tensor([1.0, 0.0], dtype=f64), torch.tensor([5.0, 2.0], dtype=f64)
    coarse = stratified(near, far, 8)
    w = torch.zeros(16, dtype=f64)
    w[2], w[3], w[6] = 0.2, 0.5, 0.1  # ray 0: bins 2, 3 and 6; ray 1: no weight at all
    weights = w.clone().requires_grad_()
    fine = resample(coarse, weights, 64, near=near, far=far)
    assert fine.per_ray == 72 and not fine.t.requires_grad and not fine.delta.requires_grad
    t = fine.dense(fine.t)
    assert (torch.diff(t, dim=1) >= 0).all()
    for i in range(2):
        assert torch.isin(coarse.dense(coarse.t)[i], t[i]).all()
    # the interval rule: midpoints to the neighbours, near and far at the ends; they tile [near, far]
    assert torch.allclose(fine.dense(fine.delta), interval_lengths(t, near, far))
    assert torch.allclose(fine.dense(fine.delta).sum(1), far - near)
    assert (fine.delta >= 0).all()
    # the new distances are the weights' quantiles (plus the epsilon share): ray 0 lands in bins 2, 3 and 6
    new0 = t[0][~torch.isin(t[0], coarse.dense(coarse.t)[0])].numpy()
    edges0 = np.linspace(1.0, 5.0, 9)
    cdf = _pdf_cdf(edges0, w[:8].numpy() + 1e-5 * 0.125)
    assert np.allclose(cdf(new0), (np.arange(64) + 0.5) / 64, atol=1e-9)
    # a ray without weight samples uniformly in t
    new1 = t[1][~torch.isin(t[1], coarse.dense(coarse.t)[1])].numpy()
    assert np.allclose(new1, (np.arange(64) + 0.5) / 64 * 2.0)


def test_resample_random_draws_follow_the_weights():
    coarse = stratified(torch.zeros(1, dtype=f64), torch.full((1,), 4.0, dtype=f64), 4)
    w = torch.tensor([0.1, 0.6, 0.0, 0.3], dtype=f64)
    g = torch.Generator().manual_seed(8)
    fine = resample(coarse, w, 5000, generator=g, near=0.0, far=4.0)
    new = fine.t[~torch.isin(fine.t, coarse.t)].numpy()
    assert new.size == 5000
    assert stats.kstest(new, _pdf_cdf(np.linspace(0, 4, 5), w.numpy() + 1e-5 * 0.25)).pvalue > 0.01


def test_empty_rays_resample_to_empty_intervals():
    near, far = torch.tensor([0.5, 0.0]), torch.tensor([0.5, 1.0])  # a missed ray (near = far) and a real one
    coarse = stratified(near, far, 4)
    r = composite(torch.ones(8), torch.ones(8, 3), coarse, background=0.5)
    assert r.opacity[0] == 0 and torch.equal(r.colour[0], torch.full((3,), 0.5))
    g = torch.Generator().manual_seed(9)
    for gen in (None, g):
        fine = resample(coarse, r.weights, 8, near=near, far=far, generator=gen)
        assert torch.isfinite(fine.t).all() and (fine.dense(fine.t)[0] == 0.5).all()
        assert (fine.dense(fine.delta)[0] == 0).all()
        assert torch.allclose(fine.dense(fine.delta)[1].sum(), torch.tensor(1.0))


def test_samples_with_equal_counts_are_seen_as_dense():
    s = Samples(torch.tensor([0, 0, 1, 1, 2, 2]), torch.rand(6), torch.rand(6), 3)
    assert s.per_ray == 2 and s.dense(s.t).shape == (3, 2)
    p = Samples(torch.tensor([0, 0, 2, 2]), torch.rand(4), torch.rand(4), 3)
    assert p.per_ray is None and p.counts.tolist() == [2, 0, 2] and p.slot.tolist() == [0, 1, 0, 1]
    assert p.offsets.tolist() == [0, 2, 2, 4]
    with pytest.raises(ValueError, match="different numbers"):
        p.dense(p.t)
