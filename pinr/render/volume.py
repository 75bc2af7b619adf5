r"""Volume rendering: samples along rays and the emission–absorption quadrature that turns a
field of density :math:`\sigma` and colour :math:`c` into pixels (Max 1995; NeRF, Mildenhall et al. 2020).

A ray :math:`r(t) = o + t d` (unit :math:`d`, so :math:`t` is a distance) is cut into intervals
of lengths :math:`\delta_i` around samples :math:`t_i`; with the field constant on each interval,

.. math:: \alpha_i = 1 - e^{-\sigma_i\delta_i}, \qquad
          T_i = \exp\Big(-\sum_{j<i}\sigma_j\delta_j\Big), \qquad w_i = T_i\,\alpha_i,

.. math:: C = \sum_i w_i c_i + \Big(1 - \sum_i w_i\Big) c_{\mathrm{bg}}, \qquad
          D = \sum_i w_i t_i,

which is exact for a piecewise-constant field (:math:`\sum_i w_i = 1 - T_{\mathrm{end}}` telescopes).

Samples are *packed* (:class:`Samples`): one flat list for all rays, each ray's samples contiguous
and sorted, any number per ray (none allowed). Per-ray scans run on a padded ``(rays, max count)``
view — a reshape when every ray has the same count — so they are exact within a ray in any dtype
and vectorised over rays.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

__all__ = ["Samples", "Rendering", "ray_box", "stratified", "composite", "composite_alpha", "sample_pdf",
           "resample", "interval_lengths"]


# ------------------------------------------------------------------------------------ samples
@dataclass(frozen=True, eq=False)
class Samples:
    """Packed samples along rays: sample k lies on ray ``ray[k]`` at distance ``t[k]`` and stands
    for the interval of length ``delta[k]`` around it; samples of one ray are contiguous and sorted
    by t; rays with no sample allowed.

    ``ray`` ``(M,)`` int64 non-decreasing, ``t`` ``(M,)``, ``delta`` ``(M,)``, ``n_rays`` the number
    of rays R (the ordering is the producer's promise; it is not checked)."""

    ray: torch.Tensor
    t: torch.Tensor
    delta: torch.Tensor
    n_rays: int

    def __post_init__(self):
        if self.ray.dtype != torch.long:
            raise TypeError(f"Samples.ray must be an int64 tensor of ray indices, got {self.ray.dtype}")
        if self.ray.dim() != 1 or self.t.shape != self.ray.shape or self.delta.shape != self.ray.shape:
            raise ValueError(f"Samples: ray, t and delta must have one shape (M,), got {tuple(self.ray.shape)}, "
                             f"{tuple(self.t.shape)}, {tuple(self.delta.shape)}")
        if isinstance(self.n_rays, bool) or int(self.n_rays) != self.n_rays or self.n_rays < 0:
            raise ValueError(f"Samples.n_rays must be a non-negative int, got {self.n_rays!r}")
        object.__setattr__(self, "n_rays", int(self.n_rays))

    @classmethod
    def from_dense(cls, t: torch.Tensor, delta: torch.Tensor) -> Samples:
        """Samples from ``(R, n)`` tensors: ``n`` samples on each of the ``R`` rays."""
        if t.dim() != 2 or delta.shape != t.shape:
            raise ValueError(f"Samples.from_dense: t and delta must be (R, n), got {tuple(t.shape)} and "
                             f"{tuple(delta.shape)}")
        r, n = t.shape
        ray = torch.arange(r, device=t.device).repeat_interleave(n)
        s = cls(ray, t.reshape(-1), delta.reshape(-1), r)
        s.__dict__["per_ray"] = n  # known: spares the count
        return s

    def __len__(self) -> int:
        return self.t.shape[0]

    @cached_property
    def counts(self) -> torch.Tensor:
        """Samples per ray ``(R,)``."""
        return torch.bincount(self.ray, minlength=self.n_rays)

    @cached_property
    def offsets(self) -> torch.Tensor:
        """Index of each ray's first sample ``(R + 1,)`` (the last entry is M)."""
        return torch.cat([self.counts.new_zeros(1), torch.cumsum(self.counts, 0)])

    @cached_property
    def slot(self) -> torch.Tensor:
        """Position of each sample within its ray ``(M,)``: 0 for the first."""
        return torch.arange(len(self), device=self.ray.device) - self.offsets[self.ray]

    @cached_property
    def per_ray(self) -> int | None:
        """The number of samples on every ray when all rays have the same count (dense), else None."""
        if self.n_rays == 0:
            return 0
        c = self.counts
        return int(c[0]) if bool((c == c[0]).all()) else None

    @cached_property
    def max_count(self) -> int:
        """The largest number of samples on one ray."""
        if self.per_ray is not None:
            return self.per_ray
        return int(self.counts.max())

    def points(self, origins: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """The samples' positions :math:`o + t d` ``(M, 3)`` for rays ``origins``, ``directions`` ``(R, 3)``."""
        return origins[self.ray] + self.t[:, None] * directions[self.ray]

    def dense(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sample values ``(M, ...)`` viewed as ``(R, n, ...)``; only for dense samples."""
        if self.per_ray is None:
            raise ValueError("Samples.dense: the rays have different numbers of samples; use padded() instead")
        return x.reshape(self.n_rays, self.per_ray, *x.shape[1:])

    def padded(self, x: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
        """Per-sample values ``(M,)`` as ``(R, max_count)``, rays' missing slots set to ``fill``
        (differentiable in ``x``)."""
        if self.per_ray is not None:
            return x.reshape(self.n_rays, self.per_ray)
        out = x.new_full((self.n_rays, self.max_count), fill)
        return out.index_put((self.ray, self.slot), x)

    def unpadded(self, x: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`padded`: ``(R, max_count, ...)`` → ``(M, ...)``."""
        if self.per_ray is not None:
            return x.reshape(len(self), *x.shape[2:])
        return x[self.ray, self.slot]

    def sum(self, x: torch.Tensor) -> torch.Tensor:
        """Per-ray sums of per-sample values ``(M, ...)`` → ``(R, ...)`` (0 on rays with no sample)."""
        if self.per_ray is not None:
            return self.dense(x).sum(1)
        return x.new_zeros((self.n_rays, *x.shape[1:])).index_add(0, self.ray, x)

    def __repr__(self):
        kind = f"{self.per_ray} per ray" if "per_ray" in self.__dict__ and self.per_ray is not None else "packed"
        return f"Samples({len(self)} on {self.n_rays} rays, {kind})"


def _near_far(near, far, n_rays: int | None, dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    """``near``, ``far`` (numbers or ``(R,)`` tensors) as ``(R,)`` tensors; dtype and device from
    the arguments, else from the tensors, else the default dtype."""
    tensors = [x for x in (near, far) if torch.is_tensor(x)]
    if n_rays is None:
        n_rays = next((x.shape[0] for x in tensors if x.dim() == 1), None)
        if n_rays is None:
            raise ValueError("near and far are numbers: say how many rays with n_rays=")
    if dtype is None:
        dtype = next((x.dtype for x in tensors if x.is_floating_point()), torch.get_default_dtype())
    if device is None and tensors:
        device = tensors[0].device
    out = []
    for name, x in (("near", near), ("far", far)):
        x = torch.as_tensor(x, dtype=dtype, device=device)
        if x.dim() > 1 or (x.dim() == 1 and x.shape[0] != n_rays):
            raise ValueError(f"{name} must be a number or an ({n_rays},) tensor, got shape {tuple(x.shape)}")
        out.append(x.expand(n_rays))
    return out[0], out[1]


def interval_lengths(t: torch.Tensor, near: torch.Tensor, far: torch.Tensor) -> torch.Tensor:
    r"""Lengths ``(R, n)`` of the intervals sorted samples ``t`` ``(R, n)`` stand for: from the
    midpoint to the previous sample (``near`` for the first) to the midpoint to the next (``far``
    for the last), so the intervals tile :math:`[\mathrm{near}, \mathrm{far}]`."""
    mid = 0.5 * (t[:, 1:] + t[:, :-1])
    edges = torch.cat([near[:, None], mid, far[:, None]], 1)
    return edges[:, 1:] - edges[:, :-1]


# -------------------------------------------------------------------------------- ray and box
def ray_box(origins: torch.Tensor, directions: torch.Tensor, bounds) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Where rays ``(R, 3)`` cross the axis-aligned box ``bounds`` ``(3, 2)`` (rows ``[lo, hi]``
    per axis), by the slab method: :math:`t_{\mathrm{near}} = \max_a \min(t_a^{lo}, t_a^{hi})`,
    :math:`t_{\mathrm{far}} = \min_a \max(t_a^{lo}, t_a^{hi})` with
    :math:`t_a^{lo} = (lo_a - o_a)/d_a`. Returns ``t_near, t_far`` ``(R,)`` with ``t_near``
    clamped at 0 (a ray starting inside enters at 0); rays that miss the box (or leave it behind
    them) get ``t_near = t_far = 0``. A direction component of 0 is handled exactly (inside or
    outside that slab)."""
    o, d = origins, directions
    b = torch.as_tensor(bounds, dtype=o.dtype, device=o.device)
    if b.shape != (3, 2):
        raise ValueError(f"ray_box: bounds must be (3, 2) rows [lo, hi] per axis, got shape {tuple(b.shape)}")
    lo, hi = b[:, 0], b[:, 1]
    flat = d == 0
    safe = torch.where(flat, torch.ones_like(d), d)
    ta, tb = (lo - o) / safe, (hi - o) / safe
    inside = (o >= lo) & (o <= hi)
    inf = torch.full_like(d, float("inf"))
    t0 = torch.where(flat, torch.where(inside, -inf, inf), torch.minimum(ta, tb))
    t1 = torch.where(flat, torch.where(inside, inf, -inf), torch.maximum(ta, tb))
    near = t0.amax(-1).clamp(min=0)
    far = t1.amin(-1)
    miss = ~(far > near)
    zero = torch.zeros_like(near)
    return torch.where(miss, zero, near), torch.where(miss, zero, far)


# --------------------------------------------------------------------------------- stratified
def stratified(near, far, n: int, *, generator: torch.Generator | None = None, n_rays: int | None = None,
               dtype: torch.dtype | None = None, device=None) -> Samples:
    r"""``n`` samples on each ray in :math:`[\mathrm{near}, \mathrm{far}]`, one in each of ``n``
    equal bins: uniform inside its bin with a ``generator`` (training; Mildenhall et al. 2020),
    at the bin centre without one (evaluation, the midpoint rule). ``delta`` is the bin width
    :math:`(\mathrm{far} - \mathrm{near})/n`.

    ``near``, ``far``: ``(R,)`` tensors, or numbers with ``n_rays=`` (then ``dtype``/``device``
    as given, default the default dtype on the CPU). Dtype and device follow tensor inputs."""
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"stratified: n must be a positive number of samples per ray, got {n!r}")
    near, far = _near_far(near, far, n_rays, dtype, device)
    r = near.shape[0]
    width = (far - near) / n
    k = torch.arange(n, dtype=near.dtype, device=near.device)
    if generator is None:
        u = torch.full((r, n), 0.5, dtype=near.dtype, device=near.device)
    else:
        u = torch.rand((r, n), generator=generator, dtype=near.dtype, device=generator.device).to(near.device)
    t = near[:, None] + width[:, None] * (k + u)
    return Samples.from_dense(t, width[:, None].expand(r, n))


# ---------------------------------------------------------------------------------- rendering
@dataclass(frozen=True, eq=False)
class Rendering:
    r"""What :func:`composite` returns: pixel ``colour`` ``(R, C)``, expected distance ``depth``
    :math:`\sum_i w_i t_i` ``(R,)`` (not normalised by the opacity), ``opacity``
    :math:`\sum_i w_i` ``(R,)`` and the samples' ``weights`` :math:`w_i` ``(M,)``."""

    colour: torch.Tensor
    depth: torch.Tensor
    opacity: torch.Tensor
    weights: torch.Tensor


def _check(values: torch.Tensor, colour: torch.Tensor, samples: Samples, name: str, fn: str):
    m = len(samples)
    if values.shape != (m,):
        raise ValueError(f"{fn}: {name} must be (M,) = ({m},), one per sample, got {tuple(values.shape)}")
    if colour.dim() != 2 or colour.shape[0] != m:
        raise ValueError(f"{fn}: colour must be (M, C) with M = {m}, got {tuple(colour.shape)}")


def _finish(w: torch.Tensor, transmitted: torch.Tensor, colour, samples: Samples, background) -> Rendering:
    rgb = samples.sum(w[:, None] * colour)
    if background is not None:
        bg = torch.as_tensor(background, dtype=rgb.dtype, device=rgb.device)
        if bg.dim() > 1 or (bg.dim() == 1 and bg.shape[0] not in (1, rgb.shape[1])):
            raise ValueError(f"background must be a number or ({rgb.shape[1]},), got shape {tuple(bg.shape)}")
        rgb = rgb + transmitted[:, None] * bg
    return Rendering(rgb, samples.sum(w * samples.t), 1 - transmitted, w)


def composite(sigma: torch.Tensor, colour: torch.Tensor, samples: Samples, *, background=None) -> Rendering:
    r"""Emission–absorption compositing of densities ``sigma`` ``(M,)`` (:math:`\geq 0`) and
    colours ``colour`` ``(M, C)`` at ``samples``:

    .. math:: w_i = T_i\,(1 - e^{-\sigma_i\delta_i}), \quad
              T_i = \exp\Big(-\sum_{j<i,\ \mathrm{same\ ray}}\sigma_j\delta_j\Big), \quad
              C = \sum_i w_i c_i + T_{\mathrm{end}}\,c_{\mathrm{bg}},

    with opacity :math:`1 - T_{\mathrm{end}} = 1 - e^{-\sum_i\sigma_i\delta_i}` (``background``
    ``(C,)`` or a number; None for black). Transmittances come from sums of optical depth in log
    space (no products of :math:`1-\alpha`), so large densities neither underflow into NaN nor lose
    accuracy; differentiable in ``sigma`` and ``colour``."""
    _check(sigma, colour, samples, "sigma", "composite")
    tau = samples.padded(sigma * samples.delta)
    inclusive = torch.cumsum(tau, 1)
    exclusive = torch.cat([torch.zeros_like(tau[:, :1]), inclusive[:, :-1]], 1)
    w = samples.unpadded(torch.exp(-exclusive) * -torch.expm1(-tau))
    total = inclusive[:, -1] if tau.shape[1] else tau.new_zeros(samples.n_rays)
    return _finish(w, torch.exp(-total), colour, samples, background)


def composite_alpha(alpha: torch.Tensor, colour: torch.Tensor, samples: Samples, *, background=None) -> Rendering:
    r"""Compositing of given opacities ``alpha`` ``(M,)`` in :math:`[0, 1]` (multiplane images,
    NeX): :math:`w_i = \alpha_i\prod_{j<i}(1 - \alpha_j)` within each ray, colour and background as
    in :func:`composite`; opacity :math:`1 - \prod_i (1 - \alpha_i)`. An :math:`\alpha_i = 1` hides
    what lies behind it exactly (the product is a cumulative product, whose gradient is defined
    there too)."""
    _check(alpha, colour, samples, "alpha", "composite_alpha")
    a = samples.padded(alpha)
    inclusive = torch.cumprod(1 - a, 1)
    exclusive = torch.cat([torch.ones_like(a[:, :1]), inclusive[:, :-1]], 1)
    w = samples.unpadded(exclusive * a)
    transmitted = inclusive[:, -1] if a.shape[1] else a.new_ones(samples.n_rays)
    return _finish(w, transmitted, colour, samples, background)


# ------------------------------------------------------------------------------- resampling
def sample_pdf(edges: torch.Tensor, weights: torch.Tensor, n: int, *,
               generator: torch.Generator | None = None) -> torch.Tensor:
    r"""``n`` draws ``(R, n)`` per ray from the piecewise-constant density on the intervals
    ``[edges[:, k], edges[:, k+1]]`` (``edges`` ``(R, K+1)`` non-decreasing) with mass
    proportional to ``weights`` ``(R, K)`` (:math:`\geq 0`), by the inverse CDF
    :math:`t = F^{-1}(u)`: uniform :math:`u` with a ``generator``, the quantiles
    :math:`u_j = (j + \tfrac12)/n` without one (sorted). A ray of zero total weight draws at its
    first edge. No gradient."""
    edges, weights = edges.detach(), weights.detach()
    r, k = weights.shape
    if edges.shape != (r, k + 1):
        raise ValueError(f"sample_pdf: edges must be (R, K+1) = ({r}, {k + 1}), got {tuple(edges.shape)}")
    cdf = torch.cumsum(weights, 1)
    cdf = torch.cat([torch.zeros_like(cdf[:, :1]), cdf], 1) / cdf[:, -1:].clamp(min=torch.finfo(cdf.dtype).tiny)
    if generator is None:
        u = ((torch.arange(n, dtype=cdf.dtype, device=cdf.device) + 0.5) / n).expand(r, n).contiguous()
    else:
        u = torch.rand((r, n), generator=generator, dtype=cdf.dtype, device=generator.device).to(cdf.device)
    i = (torch.searchsorted(cdf, u, right=True) - 1).clamp(0, k - 1)
    c0, c1 = cdf.gather(1, i), cdf.gather(1, i + 1)
    e0, e1 = edges.gather(1, i), edges.gather(1, i + 1)
    span = c1 - c0
    frac = torch.where(span > 0, (u - c0) / torch.where(span > 0, span, torch.ones_like(span)), torch.zeros_like(u))
    return e0 + frac.clamp(0, 1) * (e1 - e0)


def resample(samples: Samples, weights: torch.Tensor, n: int, *, generator: torch.Generator | None = None,
             near, far, epsilon: float = 1e-5) -> Samples:
    r"""Hierarchical sampling (NeRF's coarse-to-fine) for dense ``samples`` (the same count K on
    every ray, sorted): the coarse sample k stands for the interval between the midpoints to its
    neighbours (``near`` before the first, ``far`` after the last); ``n`` new distances per ray are
    drawn (:func:`sample_pdf`) from the piecewise-constant density whose mass on interval k is

    .. math:: p_k \propto w_k + \epsilon\,\frac{|I_k|}{\mathrm{far} - \mathrm{near}},

    the weights plus a mass ``epsilon`` spread uniformly in t (NeRF adds 1e-5 per interval; spread
    by length, a ray of zero weight samples uniformly in t whatever the coarse spacing). Returns the
    union of the coarse and new distances, ``K + n`` per ray, sorted, each standing for the interval
    between the midpoints to its neighbours (the first from ``near``, the last to ``far``;
    :func:`interval_lengths`). ``near``, ``far``: ``(R,)`` tensors or numbers. The
    result carries no gradient (weights and distances are detached)."""
    if samples.per_ray is None:
        raise ValueError("resample: needs dense samples (the same number on every ray), e.g. from stratified()")
    if weights.shape != (len(samples),):
        raise ValueError(f"resample: weights must be (M,) = ({len(samples)},), got {tuple(weights.shape)}")
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"resample: n must be a positive number of new samples per ray, got {n!r}")
    t = samples.dense(samples.t.detach())
    near, far = (x.detach() for x in _near_far(near, far, samples.n_rays, t.dtype, t.device))
    w = samples.dense(weights.detach()).clamp(min=0)
    edges = torch.cat([near[:, None], 0.5 * (t[:, 1:] + t[:, :-1]), far[:, None]], 1)
    share = (edges[:, 1:] - edges[:, :-1]).clamp(min=0) / (far - near).clamp(min=torch.finfo(t.dtype).tiny)[:, None]
    mass = w + epsilon * share
    fine = sample_pdf(edges, mass, n, generator=generator)
    union, _ = torch.sort(torch.cat([t, fine], 1), 1)
    return Samples.from_dense(union, interval_lengths(union, near, far))
