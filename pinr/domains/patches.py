r"""Patches: sub-regions of a domain for extra collocation points where the answer lives.

A condition stated again on a patch adds points, not equations: the FD lowering recognises
the repetition, and the PINN loss sees the same residual sampled more densely there.

- :class:`DiskPatch` — the disk of a radius around a centre (Helmholtz's source, the wave's
  initial pulse), at a fixed time or over the whole time interval.
- :class:`ConePatch` — a shell around the front of a wave leaving a point, the space-time cone
  :math:`c_{lo} t - w \le \lVert x - x_0 \rVert \le c_{hi} t + w`.
"""

from __future__ import annotations

import math

import torch

from .base import AbstractPatch, Samples, unit_samples

__all__ = ["DiskPatch", "ConePatch"]


def _ring(u_r, u_th, lo, hi, center):
    """Area-uniform points in the annuli ``lo <= r <= hi`` (tensors, per point)."""
    r = torch.sqrt(lo**2 + (hi**2 - lo**2) * u_r)
    th = 2 * math.pi * u_th
    return center + torch.stack([r * torch.cos(th), r * torch.sin(th)], dim=-1)


class DiskPatch(AbstractPatch):
    """The disk of ``radius`` around ``center`` inside a 2-D ``domain`` (area-uniform samples). On
    a space-time domain the points carry a time column, fixed at ``time`` (e.g. the initial time)
    or, when ``time`` is ``None``, uniform over the interval."""

    has_normals = False

    def __init__(self, domain, center, radius: float, *, name: str = "source", time: float | None = None):
        if not radius > 0:
            raise ValueError(f"DiskPatch radius must be positive, got {radius}")
        self.domain, self.center, self.radius, self.name = domain, tuple(float(c) for c in center), float(radius), name
        self.time = None if time is None else float(time)

    def _sample(self, n, *, method, generator, dtype, device):
        if method == "grid":
            method = "uniform"
        spacetime = self.domain.time is not None
        u = unit_samples(n, 3 if spacetime else 2, method=method, generator=generator, dtype=dtype, device=device)
        c = torch.as_tensor(self.center, dtype=dtype, device=device)
        pts = _ring(u[:, 0], u[:, 1], torch.zeros((), dtype=dtype, device=device), self.radius, c)
        if spacetime:
            t0, t1 = (float(b) for b in self.domain.bounds[-1])
            t = torch.full_like(u[:, 0], self.time) if self.time is not None else t0 + (t1 - t0) * u[:, 2]
            pts = torch.cat([pts, t[:, None]], dim=-1)
        return Samples(pts)

    def windowed(self, points, fraction: float, t0: float):
        if self.time is not None:  # a fixed-time patch stays where it is
            return points
        return super().windowed(points, fraction, t0)

    def in_window(self, domain):
        """The disk on ``domain``, over its whole interval or at its fixed time (which must be in it)."""
        if self.time is not None and not domain.bounds[-1, 0] - 1e-12 <= self.time <= domain.bounds[-1, 1] + 1e-12:
            raise ValueError(f"{self!r} lies at t={self.time:g}, outside the window {domain!r}")
        return DiskPatch(domain, self.center, self.radius, name=self.name, time=self.time)

    def __repr__(self):
        at = "" if self.time is None else f", t={self.time:g}"
        return f"{self.domain!r}.disk(center={self.center}, radius={self.radius:g}{at})"


class ConePatch(AbstractPatch):
    r"""Space-time shell around the front of a wave that leaves ``center`` at time ``start``
    (default the start time :math:`t_0` of the 2-D × time ``domain``): at time :math:`t` the annulus
    :math:`\max(0, c_{lo}(t - t_s) - w) \le r \le c_{hi}(t - t_s) + w` with
    ``speeds = (c_lo, c_hi)`` and half-width ``width`` (area-uniform in the annulus, times
    uniform over the domain's interval — a time window of a marched run keeps the apex at ``start``).
    A time-window curriculum shrinks the cone about its apex: squeezing times by a factor
    squeezes radii by the same factor, so the points stay on the front (the width shrinks
    too, never below ``width·fraction``)."""

    has_normals = False

    def __init__(self, domain, center, speeds, width: float, *, name: str = "front", start: float | None = None):
        if domain.time is None or domain.dim != 3:
            raise ValueError(f"ConePatch needs a 2-D space x time domain, got {domain!r}")
        lo, hi = (float(s) for s in (speeds if isinstance(speeds, (tuple, list)) else (speeds, speeds)))
        if not 0 <= lo <= hi or not width > 0:
            raise ValueError(f"ConePatch needs 0 <= speeds[0] <= speeds[1] and width > 0, got speeds={speeds}, "
                             f"width={width}")
        self.domain, self.center, self.speeds, self.width, self.name = domain, tuple(float(c) for c in center), \
            (lo, hi), float(width), name
        self.start = float(domain.bounds[-1, 0]) if start is None else float(start)
        if self.start > float(domain.bounds[-1, 0]) + 1e-12:
            raise ValueError(f"ConePatch start {self.start:g} is after the domain's start {domain.bounds[-1, 0]:g}")

    def _sample(self, n, *, method, generator, dtype, device):
        if method == "grid":
            method = "uniform"
        u = unit_samples(n, 3, method=method, generator=generator, dtype=dtype, device=device)
        t0, t1 = (float(b) for b in self.domain.bounds[-1])
        t = t0 + (t1 - t0) * u[:, 2]
        lo = torch.clamp(self.speeds[0] * (t - self.start) - self.width, min=0.0)
        hi = self.speeds[1] * (t - self.start) + self.width
        c = torch.as_tensor(self.center, dtype=dtype, device=device)
        return Samples(torch.cat([_ring(u[:, 0], u[:, 1], lo, hi, c), t[:, None]], dim=-1))

    def windowed(self, points, fraction: float, t0: float):
        c = torch.as_tensor(self.center, dtype=points.dtype, device=points.device)
        x = c + (points[:, :2] - c) * fraction
        return torch.cat([x, t0 + (points[:, 2:] - t0) * fraction], dim=-1)

    def in_window(self, domain):
        return ConePatch(domain, self.center, self.speeds, self.width, name=self.name, start=self.start)

    def __repr__(self):
        return f"{self.domain!r}.cone(center={self.center}, speeds={self.speeds}, width={self.width:g})"
