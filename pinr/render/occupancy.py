r"""An occupancy grid that lets rendering skip empty space (Instant-NGP, Müller et al. 2022; nerfacc,
Li et al. 2023).

The box ``bounds`` is cut into :math:`N^3` equal cells. Each cell keeps a density estimate
:math:`e`, refreshed from the field's density :math:`\sigma` at a random point :math:`x` inside
the cell by the decaying maximum those codes use (their "EMA"):

.. math:: e \leftarrow \max(\lambda\,e,\ \sigma(x)), \qquad \lambda = 0.95,

so a cell that turns dense is seen at once and one that empties fades within tens of updates. A
cell is occupied when

.. math:: e > \min\big(\sigma_{\mathrm{th}},\ \bar e\big), \qquad
          \sigma_{\mathrm{th}} = -\frac{\log(1 - \alpha_{\mathrm{th}})}{\Delta t},

where :math:`\alpha_{\mathrm{th}}` is ``threshold`` (default 0.01): a cell is skipped when a
march step :math:`\Delta t` in it would be less opaque than that; :math:`\bar e` (the mean
estimate) keeps cells early in training, when every density is still small. Cells never
measured count as occupied: the grid starts all occupied.
"""

from __future__ import annotations

import logging
import math

import torch

from .volume import Samples, ray_box

__all__ = ["OccupancyGrid"]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 16  # points per density_fn call in update()


class OccupancyGrid:
    """A binary occupancy grid over ``bounds`` ``(3, 2)`` (rows ``[lo, hi]`` per axis) with
    ``resolution`` cells a side (default 128). ``threshold`` is the opacity of one march
    ``step`` below which a cell counts as empty (default 0.01); ``step`` is the march step the
    grid serves (default the box diagonal / 1024, Instant-NGP's); the density threshold is
    ``-log(1 - threshold) / step``. ``decay`` is the estimates' decay per update (0.95)."""

    def __init__(self, bounds, *, resolution: int = 128, threshold: float = 0.01, step: float | None = None,
                 decay: float = 0.95, device=None, dtype: torch.dtype = torch.float32):
        b = torch.as_tensor(bounds, dtype=dtype, device=device)
        if b.shape != (3, 2) or not bool(torch.isfinite(b).all()) or not bool((b[:, 1] > b[:, 0]).all()):
            raise ValueError(f"OccupancyGrid: bounds must be finite (3, 2) rows [lo, hi] with lo < hi, got {bounds!r}")
        if isinstance(resolution, bool) or int(resolution) != resolution or resolution < 1:
            raise ValueError(f"OccupancyGrid: resolution must be a positive number of cells a side, got {resolution!r}")
        if not 0 < threshold < 1:
            raise ValueError(f"OccupancyGrid: threshold is an opacity in (0, 1), got {threshold!r}")
        if not 0 <= decay <= 1:
            raise ValueError(f"OccupancyGrid: decay must be in [0, 1], got {decay!r}")
        self.bounds = b
        self.resolution = int(resolution)
        diagonal = float((b[:, 1] - b[:, 0]).norm())
        self.step = diagonal / 1024 if step is None else float(step)
        if not self.step > 0:
            raise ValueError(f"OccupancyGrid: step must be a positive length, got {step!r}")
        self.threshold = float(threshold)
        self.density_threshold = -math.log1p(-self.threshold) / self.step
        self.decay = float(decay)
        self.cell = (b[:, 1] - b[:, 0]) / self.resolution
        #: density estimates (N^3,), x-major; +inf where never measured
        self.estimates = torch.full((self.resolution ** 3,), float("inf"), dtype=dtype, device=b.device)
        self.mask = torch.ones(self.resolution ** 3, dtype=torch.bool, device=b.device)

    @property
    def n_cells(self) -> int:
        return self.resolution ** 3

    @property
    def occupancy(self) -> float:
        """The fraction of occupied cells."""
        return float(self.mask.float().mean())

    def _refresh(self):
        seen = torch.isfinite(self.estimates)
        if bool(seen.any()):
            level = min(self.density_threshold, float(self.estimates[seen].mean()))
        else:
            level = self.density_threshold
        self.mask = ~seen | (self.estimates > level)

    def cell_points(self, cells: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A point ``(P, 3)`` inside each of the flat cell indices ``cells`` ``(P,)``: uniform with
        a ``generator``, the cell centre without one."""
        n = self.resolution
        ijk = torch.stack([cells // (n * n), (cells // n) % n, cells % n], -1).to(self.bounds.dtype)
        if generator is None:
            u = torch.full_like(ijk, 0.5)
        else:
            u = torch.rand(ijk.shape, generator=generator, dtype=ijk.dtype, device=generator.device).to(ijk.device)
        return self.bounds[:, 0] + (ijk + u) * self.cell

    def update(self, density_fn, *, generator: torch.Generator, fraction: float = 1.0) -> None:
        """Refresh the estimates of all cells (``fraction`` 1) or of a random ``fraction`` of them
        (distinct cells; cheap updates every few steps) from ``density_fn`` ``(P, 3) → (P,)`` at
        one uniform point in each, under ``no_grad``, in chunks of 65536 points."""
        if not 0 < fraction <= 1:
            raise ValueError(f"OccupancyGrid.update: fraction must be in (0, 1], got {fraction!r}")
        n = self.n_cells
        if fraction >= 1:
            cells = torch.arange(n, device=self.bounds.device)
        else:
            k = max(1, math.ceil(fraction * n))
            cells = torch.randperm(n, generator=generator, device=generator.device)[:k].to(self.bounds.device)
        with torch.no_grad():
            x = self.cell_points(cells, generator)
            sigma = torch.cat([density_fn(x[i:i + _CHUNK]).reshape(-1) for i in range(0, x.shape[0], _CHUNK)])
            if sigma.shape != cells.shape:
                raise ValueError(f"OccupancyGrid.update: density_fn must map (P, 3) points to (P,) densities, got "
                                 f"{sigma.numel()} values for {cells.numel()} points")
            sigma = sigma.to(self.estimates.dtype).clamp(min=0)
            old = self.estimates[cells]
            old = torch.where(torch.isfinite(old), old * self.decay, torch.zeros_like(old))
            self.estimates[cells] = torch.maximum(old, sigma)
        self._refresh()

    def cells_of(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat cell index ``(...,)`` of each point ``(..., 3)`` and whether it lies in the (closed) box."""
        n = self.resolution
        f = (points.to(self.bounds.dtype) - self.bounds[:, 0]) / self.cell
        inside = ((f >= 0) & (f <= n)).all(-1)
        ijk = f.long().clamp_(0, n - 1)  # truncation is the floor where it matters (f >= 0)
        return (ijk[..., 0] * n + ijk[..., 1]) * n + ijk[..., 2], inside

    def occupied(self, points: torch.Tensor) -> torch.Tensor:
        """Whether each point ``(P, 3)`` lies in an occupied cell ``(P,)`` (outside the box: False)."""
        cells, inside = self.cells_of(points)
        return inside & self.mask[cells]

    def march(self, origins: torch.Tensor, directions: torch.Tensor, near, far, *, step: float,
              generator: torch.Generator | None = None, max_samples: int | None = None) -> Samples:
        r"""Samples every ``step`` along each ray ``(R, 3)`` in :math:`[t_0, t_1] = [\mathrm{near},
        \mathrm{far}] \cap \mathrm{box}`, kept only where the cell is occupied.

        Sample k sits at :math:`t_0 + (u + k)\,\Delta t` with :math:`u` uniform in :math:`[0, 1)` per
        ray with a ``generator`` (training) and :math:`\tfrac12` without; it stands for the
        interval between the midpoints to its neighbours (from :math:`t_0` for the first, to
        :math:`t_1` for the last), so ``delta`` is ``step`` except at the ends and the kept and
        skipped intervals tile :math:`[t_0, t_1]`. ``near``, ``far``: numbers or ``(R,)`` tensors.

        At most ``max_samples`` per ray (default: as many as the longest chord of the box needs,
        ``ceil(diagonal / step) + 1``, so no ray is cut short; a smaller cap drops the samples
        beyond it). Vectorised over a ``(R, K)`` table of candidate samples, K the largest
        number any of these rays needs (capped)."""
        if not step > 0:
            raise ValueError(f"OccupancyGrid.march: step must be a positive length, got {step!r}")
        o, d = origins, directions
        r = o.shape[0]
        dt = o.dtype
        box_near, box_far = ray_box(o, d, self.bounds.to(dt))
        near = torch.as_tensor(near, dtype=dt, device=o.device).expand(r)
        far = torch.as_tensor(far, dtype=dt, device=o.device).expand(r)
        t0 = torch.maximum(near, box_near)
        t1 = torch.minimum(far, box_far)
        length = (t1 - t0).clamp(min=0)
        cap = math.ceil(float((self.bounds[:, 1] - self.bounds[:, 0]).norm()) / step) + 1
        if max_samples is not None:
            cap = min(cap, int(max_samples))
        k = min(cap, int(math.ceil(float(length.max()) / step)) + 1) if r else 0
        if generator is None:
            u = torch.full((r, 1), 0.5, dtype=dt, device=o.device)
        else:
            u = torch.rand((r, 1), generator=generator, dtype=dt, device=generator.device).to(o.device)
        t = t0[:, None] + (u + torch.arange(k, dtype=dt, device=o.device)) * step
        valid = t < t1[:, None]
        left = torch.cat([t0[:, None], t[:, 1:] - 0.5 * step], 1) if k else t
        last = t + step >= t1[:, None]
        right = torch.where(last, t1[:, None].expand_as(t), t + 0.5 * step)
        keep = valid & self.occupied(o[:, None, :] + t[..., None] * d[:, None, :])
        ray, slot = keep.nonzero(as_tuple=True)
        return Samples(ray, t[ray, slot], (right - left)[ray, slot], r)

    def state_dict(self) -> dict:
        """The grid's state, tensors only (loads with ``torch.load(weights_only=True)``)."""
        return {"bounds": self.bounds.clone(), "estimates": self.estimates.clone()}

    def load_state_dict(self, state) -> None:
        """Restore :meth:`state_dict`'s estimates into a grid built with the same bounds and resolution."""
        est = torch.as_tensor(state["estimates"])
        if est.shape != self.estimates.shape:
            raise ValueError(f"OccupancyGrid.load_state_dict: {est.numel()} cells saved, this grid has "
                             f"{self.n_cells} (resolution {self.resolution}); build it with the saved resolution")
        if not torch.allclose(torch.as_tensor(state["bounds"]).to(self.bounds), self.bounds):
            raise ValueError("OccupancyGrid.load_state_dict: the saved grid has other bounds; build it with those")
        self.estimates = est.to(self.estimates).clone()
        self._refresh()

    def __repr__(self):
        return (f"OccupancyGrid({self.resolution}^3 cells, {100 * self.occupancy:.1f} % occupied, "
                f"density threshold {self.density_threshold:.3g})")
