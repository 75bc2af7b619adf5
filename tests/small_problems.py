"""Small problems shared by tests (importable because pyproject puts ``tests`` on the path; the
torchrun worker adds it itself)."""

from __future__ import annotations

import pinr as pr
from pinr import Eq, lap, pi, sin


def poisson_1d():
    """u'' = -π² sin(πx) on (0, 1), u = 0 at both ends (weight 10): u = sin(πx)."""
    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    return pr.Problem(d, [Eq(lap(u), -pi**2 * sin(pi * x))], [pr.Boundary(Eq(u, 0), weight=10.0)],
                      exact=sin(pi * x), name="poisson-1d")
