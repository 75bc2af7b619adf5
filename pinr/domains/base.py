"""Domains and the regions of them that conditions live on.

A domain has coordinates (sympy symbols, time last), makes fields, and exposes regions:
``domain.interior``, ``domain.boundary`` (and its sides ``domain.boundary["x-"]``) and, for
space-time domains, ``domain.initial``. Every region samples points of shape
``(n_points, n_coords)`` uniformly or by a scrambled Sobol sequence, and boundary regions give
outward unit normals of the same shape.

Parts of a boundary (:class:`AbstractBoundaryPart`) are regions too: the part on one operand of
a set operation (``(A - B).boundary[B]``, :mod:`pinr.domains.csg`) and the part where a
predicate in the coordinates holds (``boundary.where(x > 0)``, :class:`BoundaryWhere`). They
sample uniformly on the part only, carry the domain's outward normals and know their
``surface_measure``.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy
import torch

from ..errors import ProblemError
from ..symbolic.expressions import Coordinate, TimeCoordinate, make_field

__all__ = ["Samples", "AbstractRegion", "AbstractInterior", "AbstractBoundary", "AbstractInitial",
           "AbstractSurface", "AbstractPatch", "AbstractPointSet", "AbstractDomain", "AbstractBoundaryPart",
           "BoundaryWhere", "SAMPLING_METHODS", "unit_samples", "split_draws"]

SAMPLING_METHODS = ("uniform", "sobol", "grid")


@dataclass(frozen=True)
class Samples:
    """Points ``(n_points, n_coords)`` drawn from a region, with outward normals on boundaries.

    ``data`` carries values that the region knows at its own points, keyed by data source (e.g.
    the exact signed distances of near-surface points, ``(n_points,)``): a compiled expression
    reads them instead of interpolating its data there.
    """

    points: torch.Tensor
    normals: torch.Tensor | None = None
    data: Mapping[object, torch.Tensor] = field(default_factory=dict)


def unit_samples(n: int, d: int, *, method: str, generator: torch.Generator | None,
                 dtype: torch.dtype, device) -> torch.Tensor:
    """``n`` points in the unit cube ``[0, 1)^d`` (uniform i.i.d. or scrambled Sobol)."""
    if method == "uniform":
        gdev = generator.device if generator is not None else device
        u = torch.rand(n, d, generator=generator, dtype=dtype, device=gdev)
        return u.to(device)
    if method == "sobol":
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator,
                                 device=generator.device if generator is not None else "cpu"))
        engine = torch.quasirandom.SobolEngine(d, scramble=True, seed=seed)
        return engine.draw(n, dtype=torch.float64).to(dtype=dtype, device=device)
    raise ValueError(f"unknown sampling method {method!r}; choose one of {SAMPLING_METHODS}")


def split_draws(n: int, weights: torch.Tensor, *, method: str, generator: torch.Generator | None) -> torch.Tensor:
    """How many of ``n`` draws fall on each of ``k`` pieces of a region with ``weights`` ``(k,)``
    (float64, their lengths or areas): ``(k,)`` counts (CPU, long) by a multinomial lot for
    ``"uniform"``; for ``"sobol"`` each piece its share rounded down and the rest by lot
    (stratified: low-discrepancy points stay even across the pieces)."""
    share = weights / weights.sum()
    if method != "sobol":
        which = torch.multinomial(share, n, replacement=True, generator=generator).cpu()
        return torch.bincount(which, minlength=len(weights))
    counts = torch.floor(n * share).long()
    rest = n - int(counts.sum())
    if rest:
        extra = torch.multinomial(n * share - counts + 1e-12, rest, replacement=False, generator=generator)
        counts[extra.cpu()] += 1
    return counts


class AbstractRegion(abc.ABC):
    """A part of a domain on which a condition holds."""

    domain: "AbstractDomain"
    name: str
    has_normals: bool = False
    default_method: str = "uniform"

    def sample(self, n: int, *, method: str | None = None, generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float32, device=None) -> Samples:
        """Draw ``n`` points ``(n, n_coords)`` (and normals on boundaries)."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"{self}: number of sample points must be a positive integer, got {n!r}")
        method = method or self.default_method
        if method not in SAMPLING_METHODS:
            raise ValueError(f"unknown sampling method {method!r}; choose one of {SAMPLING_METHODS}")
        return self._sample(n, method=method, generator=generator, dtype=dtype,
                            device=torch.device(device) if device is not None else torch.device("cpu"))

    @abc.abstractmethod
    def _sample(self, n, *, method, generator, dtype, device) -> Samples: ...

    def windowed(self, points: torch.Tensor, fraction: float, t0: float) -> torch.Tensor:
        """Samples of this region moved into a time window ``[t0, t0 + fraction·(t1 - t0)]``
        (the solver's time-window curriculum): the time column (last) squeezed linearly.
        Regions that are fixed in time (initial slices) are left alone by their time column
        being ``t0``; regions whose shape depends on time override this."""
        return torch.cat([points[:, :-1], t0 + (points[:, -1:] - t0) * fraction], dim=-1)

    def in_window(self, domain: "AbstractDomain") -> "AbstractRegion":
        """This region on ``domain``, a time window of its own domain (the same space, a shorter
        interval; :mod:`pinr.solvers.marching`). Regions that live in space-time implement it; the
        others cannot be marched."""
        raise ProblemError(f"{self!r} cannot be moved into a time window; state the condition on the domain's "
                           "interior, boundary or initial slice, or solve without windows")

    def __repr__(self) -> str:
        return f"{self.domain!r}.{self.name}"


class AbstractInterior(AbstractRegion):
    """The whole interior of a domain (space, or space-time)."""


class AbstractBoundary(AbstractRegion):
    """The boundary of a domain, or some sides of it (``sides``: side names such as ``"x-"`` for
    boxes; ``None`` for a boundary without sides); samples come with outward normals."""

    has_normals = True
    sides: tuple[str, ...] | None = None

    @property
    def surface_measure(self) -> float:
        """Length (2-D) or area (3-D) of this boundary region (times the duration on a space-time
        domain)."""
        raise NotImplementedError(f"{self!r} does not know its measure")

    def where(self, condition) -> "BoundaryWhere":
        """The part of this boundary where ``condition`` holds: a sympy relational in the domain's
        coordinates, or several combined by ``&``, ``|``, ``~`` (``boundary.where((x > 0) & (y < 1))``)."""
        return BoundaryWhere(self, condition)


class AbstractBoundaryPart(AbstractBoundary):
    """A part of a domain's boundary: on one operand of a set operation (``(A - B).boundary[B]``)
    or where a predicate holds (``boundary.where(x > 0)``). Samples are uniform by length or area
    on the part only and carry the domain's outward normals."""

    def adf(self) -> sympy.Expr:
        r"""Approximate distance function of the part (zero on it, positive inside the domain), for
        hard constraints; parts without one raise ``NotImplementedError`` (their conditions stay loss
        terms)."""
        raise NotImplementedError(f"{self!r} has no distance function")


_PILOT_POINTS = 1 << 14  #: Sobol points of the base region that measure a predicate's share of it


class BoundaryWhere(AbstractBoundaryPart):
    r"""The points of the boundary region ``base`` where ``predicate`` holds (``base.where(x > 0)``).

    Sampled by rejection from ``base``, so uniform on the part by length or area, with ``base``'s
    outward normals. ``fraction`` is the share of ``base`` the predicate selects, measured on
    16,384 scrambled Sobol points of ``base`` (seed 0); ``surface_measure`` is ``base``'s times it.
    A predicate that selects none of those points is refused. No distance function: hard
    conditions here stay loss terms.
    """

    def __init__(self, base: AbstractBoundary, predicate):
        if isinstance(base, BoundaryWhere):  # b.where(p).where(q) is b.where(p & q)
            base, predicate = base.base, sympy.And(base.predicate, predicate)
        coords = base.domain.coords
        text = f"{base.name}.where({predicate}) of {base.domain!r}"
        if not isinstance(predicate, sympy.logic.boolalg.Boolean) \
                or isinstance(predicate, sympy.logic.boolalg.BooleanAtom):
            raise TypeError(f"{text}: give a condition on the coordinates such as x > 0 or (x > 0) & (y < 1) "
                            f"(x, y = domain.coords), got {type(predicate).__name__}")
        unknown = sorted(map(str, predicate.free_symbols - set(coords)))
        if unknown:
            raise ValueError(f"{text}: {', '.join(unknown)} not among the domain's coordinates "
                             f"{tuple(c.name for c in coords)}; use the symbols of domain.coords")
        self.base, self.predicate, self.domain = base, predicate, base.domain
        self.has_normals, self.default_method = base.has_normals, base.default_method
        self.name = f"{base.name}.where({predicate})"
        self._test = sympy.lambdify(coords, predicate, "numpy")
        s = base.sample(_PILOT_POINTS, method="sobol", generator=torch.Generator().manual_seed(0),
                        dtype=torch.float64)
        self.fraction = float(self._mask(s.points).float().mean())
        if self.fraction == 0:
            raise ValueError(f"{text} selects nothing: none of {_PILOT_POINTS} points spread over the "
                             f"{base.name} satisfies it; check it against the domain's extent "
                             f"{self.domain.bounds.tolist()}")

    def _mask(self, points: torch.Tensor) -> torch.Tensor:
        p = points.detach().cpu().double().numpy()
        return torch.from_numpy(np.broadcast_to(np.asarray(self._test(*p.T), dtype=bool), (p.shape[0],)).copy())

    @property
    def surface_measure(self) -> float:
        return self.base.surface_measure * self.fraction

    def _sample(self, n, *, method, generator, dtype, device):
        pts, nrm, data, have = [], [], [], 0
        for _ in range(100):
            m = int(math.ceil((n - have) / max(self.fraction, 1 / _PILOT_POINTS) * 1.1)) + 64
            s = self.base.sample(m, method=method, generator=generator, dtype=torch.float64)
            keep = self._mask(s.points).to(s.points.device)
            pts.append(s.points[keep])
            nrm.append(s.normals[keep] if s.normals is not None else None)
            data.append({k: v[keep.to(v.device)] for k, v in s.data.items()})
            have += int(keep.sum())
            if have >= n:
                break
        else:
            raise ValueError(f"{self!r}: too few points of {self.base!r} satisfy {self.predicate} to draw {n}")
        points = torch.cat(pts)[:n].to(dtype=dtype, device=device)
        normals = torch.cat(nrm)[:n].to(dtype=dtype, device=device) if nrm[0] is not None else None
        values = {k: torch.cat([d[k] for d in data])[:n].to(device) for k in data[0]}
        return Samples(points, normals, values)

    def windowed(self, points, fraction, t0):
        return self.base.windowed(points, fraction, t0)

    def in_window(self, domain):
        return BoundaryWhere(self.base.in_window(domain), self.predicate)


class AbstractInitial(AbstractRegion):
    """The initial slice ``t = t0`` of a space-time domain."""


class AbstractSurface(AbstractRegion):
    """The surface of a shape inside the domain (with its normals when it has them)."""


class AbstractPatch(AbstractRegion):
    """A part of the interior (a disk around a source, a shell around a front, points near a
    surface): extra points where the solution needs them."""


class AbstractPointSet(AbstractRegion):
    """A fixed set of points (a point cloud, chosen pixels)."""


class AbstractDomain(abc.ABC):
    """A set in space (or space-time) with named coordinates."""

    @property
    @abc.abstractmethod
    def coords(self) -> tuple[Coordinate, ...]:
        """Coordinate symbols, time last."""

    @property
    @abc.abstractmethod
    def bounds(self) -> np.ndarray:
        """Bounding box ``(n_coords, 2)`` of (low, high) per coordinate."""

    @property
    @abc.abstractmethod
    def interior(self) -> AbstractRegion: ...

    @property
    @abc.abstractmethod
    def boundary(self) -> AbstractRegion: ...

    @property
    def initial(self) -> AbstractRegion:
        raise ValueError(f"{self!r} has no time axis, so it has no initial region; "
                         "build the domain as space * pr.TimeInterval(t0, t1)")

    @property
    def dim(self) -> int:
        return len(self.coords)

    @property
    def time(self) -> TimeCoordinate | None:
        return next((c for c in self.coords if isinstance(c, TimeCoordinate)), None)

    @property
    def time_axis(self) -> int | None:
        """The index of the time coordinate among :attr:`coords` (the column of points), or None."""
        return next((i for i, c in enumerate(self.coords) if isinstance(c, TimeCoordinate)), None)

    def field(self, name: str, components: int | Sequence[str] = 1):
        """The unknown field ``name`` over this domain's coordinates (a column matrix if vector)."""
        return make_field(name, self.coords, components)

    def default_grid_shape(self, resolution: int) -> tuple[int, ...]:
        """Lattice used to plot and compare fields: ``resolution`` points along the longest side."""
        ext = self.bounds[:, 1] - self.bounds[:, 0]
        return tuple(max(2, int(math.ceil(resolution * e / ext.max()))) for e in ext)

    def lattice(self, shape: Sequence[int]) -> list[np.ndarray]:
        """Cell-centred 1-D coordinate arrays of a lattice with ``shape`` over the bounding box."""
        if len(shape) != self.dim:
            raise ValueError(f"grid shape {tuple(shape)} has {len(shape)} axes but {self!r} has {self.dim} coordinates")
        out = []
        for (lo, hi), n in zip(self.bounds, shape):
            h = (hi - lo) / n
            out.append(lo + h * (np.arange(n) + 0.5))
        return out

    def adf(self):
        """Approximate distance function of the boundary (a sympy expression of the spatial
        coordinates, zero on the boundary, positive inside), for hard constraints."""
        raise NotImplementedError(f"{self!r} has no distance function; boxes, disks, balls, tori, polygons and their "
                                  "set operations (| & -) have one")

    def has_operand(self, other: "AbstractDomain") -> bool:
        """Whether ``other`` is an operand of this set operation (at any depth; so that
        ``domain.boundary[other]`` is a part of the boundary)."""
        return False

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Boolean mask ``(n_points,)`` of points inside the closed domain."""
        p = np.asarray(points)
        b = self.bounds
        return np.all((p >= b[:, 0] - 1e-12) & (p <= b[:, 1] + 1e-12), axis=-1)

    def __eq__(self, other):
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self):
        return hash((type(self).__name__, self._key()))

    @abc.abstractmethod
    def _key(self) -> tuple: ...
