r"""Solids: domains that are shapes, and their set operations (constructive solid geometry).

A *solid* is a domain that knows its signed distance :math:`\phi` (negative inside, positive
outside, zero on the boundary), the measure of its boundary (``surface_measure``), and an
approximate distance function ``domain.adf()`` for hard boundary constraints. The same object
is a PDE domain (interior and boundary regions that sample with outward normals, ``contains``)
and a shape for signed distance fields (``signed_distance``, ``sample_surface``,
``occupancy``, ``sdf_grid``, ``normals``, ``normalization`` back to its input's units).
Boxes, disks, balls, tori, polygons (:mod:`pinr.domains`) and triangle meshes and oriented
point clouds (:mod:`pinr.geometry`) are solids. Solids combine by ``a | b`` (:class:`Union`),
``a & b`` (:class:`Intersection`) and ``a - b`` (:class:`Difference`) into domains that
sample, contain and carry normals like the primitives::

    L = pr.Rectangle(x=(-1, 1), y=(-1, 1)) - pr.Rectangle(x=(0, 1), y=(0, 1))
    plate = pr.Rectangle(x=(0, 2), y=(0, 1)) - pr.Disk((1.0, 0.5), 0.2)

Sampling. The interior is sampled by rejection from the bounding box (uniform or Sobol points,
exactly ``n`` returned). The boundary is sampled from the operands' boundaries in proportion
to their measures, keeping a point :math:`p` with operand normal :math:`n` when it separates
the composite, :math:`p - \varepsilon n` inside and :math:`p + \varepsilon n` outside (normal
:math:`n`) or the other way round (normal :math:`-n`: a subtracted shape's normals flip); a
point also on an earlier operand's boundary (coincident edges, as in the L-shape) is dropped,
so every piece of the boundary is counted once. That is rejection sampling from the disjoint
union of the operands' boundaries, hence uniform by length or area. Boxes are sampled side by
side, so each side's share is measured on its own.

Parts. ``domain.boundary[B]`` is the part of the boundary that lies on operand ``B`` (a primitive
or a nested set operation, found by identity or equality), ``domain.boundary[A]["x-"]`` one
side of a box operand's part; a piece shared by two operands belongs to the first. A part is
sampled by the same rejection from its operand's boundary only, with the domain's outward
normals (on the hole of ``A - B`` they point into ``B``). Measures: each side or primitive
boundary's kept share is measured once on 16,384 scrambled Sobol points (seed 0), exact when
all or none are kept; ``surface_measure`` of the domain and of a part sum those.

Distance functions of parts: where the operand is reached through intersections and
differences only, the domain lies inside the operand (or, for a subtracted one, outside it), so
the operand's own distance function, negated for a subtracted operand, vanishes on the part
and is positive in the domain. Under a union it would vanish inside the other operand too, so
those parts (and predicate parts) have none: their hard conditions stay loss terms.

Distance functions (Sukumar & Srivastava 2022). ``adf()`` is a sympy expression :math:`\phi`
of the coordinates with :math:`\phi = 0` on the boundary, :math:`\phi > 0` inside and
:math:`|\nabla\phi| = 1` on the boundary away from corners (normalised to first order). Set
operations use the R-equivalences

.. math::
    \phi_1 \wedge \phi_2 = \phi_1 + \phi_2 - \sqrt{\phi_1^2 + \phi_2^2}, \qquad
    \phi_1 \vee \phi_2 = \phi_1 + \phi_2 + \sqrt{\phi_1^2 + \phi_2^2}, \qquad
    A - B = A \wedge (-B),

smooth except where both operands vanish (the corners the operation creates).

Signed distances of set operations are the usual CSG of distance fields,
:math:`\min(\phi_A, \phi_B)` (union), :math:`\max(\phi_A, \phi_B)` (intersection),
:math:`\max(\phi_A, -\phi_B)` (difference): exact in sign, zero set and
:math:`|\nabla\phi| = 1` (almost everywhere), and in value outside a union and inside an
intersection or difference; elsewhere :math:`|\phi|` is a lower bound of the distance, so
``exact`` is False.
"""

from __future__ import annotations

import abc
import math
from typing import ClassVar

import numpy as np
import sympy
import torch

from ..symbolic.expressions import Coordinate
from .base import (
    AbstractBoundary,
    AbstractBoundaryPart,
    AbstractDomain,
    AbstractInterior,
    Samples,
    split_draws,
    unit_samples,
)
from .frame import Normalization, as_points, grid_points

__all__ = ["AbstractSolid", "Union", "Intersection", "Difference", "Polygon", "OperandPart", "r_and", "r_or"]

_PILOT_POINTS = 1 << 14  #: Sobol points per side or primitive boundary that measure its share on a composite


def r_and(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    r"""R-conjunction :math:`a \wedge b = a + b - \sqrt{a^2 + b^2}` (intersection)."""
    return a + b - sympy.sqrt(a**2 + b**2)


def r_or(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    r"""R-disjunction :math:`a \vee b = a + b + \sqrt{a^2 + b^2}` (union)."""
    return a + b + sympy.sqrt(a**2 + b**2)


def _no_grid(region):
    raise ValueError(f"{region}: method 'grid' needs a pr.Grid domain; use 'uniform' or 'sobol'")


class AbstractSolid(AbstractDomain):
    r"""A spatial domain with a signed distance :math:`\phi` (negative inside), combinable by ``| & -``.

    Subclasses set ``_coords`` and give ``signed_distance``, ``bounds``, ``surface_measure``
    (length or area of the boundary), the ``boundary`` region (outward normals) and, where a
    closed form exists, ``_adf`` (the distance function and whether it is *signed*, i.e.
    negative outside; only signed ones may be subtracted or joined). The ``interior`` is
    sampled by rejection from the bounding box unless a subclass samples it directly.
    Attributes: ``exact`` (``signed_distance`` is the true distance everywhere, not a bound or
    an estimate); ``analytic`` (the distance is a cheap closed form, so samples near the
    surface are drawn afresh each step rather than from a pool); ``combines`` (False for
    domains that are boxes only as a frame: pixel grids, point-cloud frames); ``name`` (a short
    label for output files and plot titles, default the class name in lower case);
    ``normalization`` (input units → these coordinates; the identity for analytic solids).
    """

    combines: ClassVar[bool] = True
    exact: ClassVar[bool] = True
    analytic: ClassVar[bool] = True
    _label: str | None = None
    _normalization: Normalization | None = None
    _frac: float | None = None
    _coords: tuple[Coordinate, ...]

    @property
    def coords(self):
        return self._coords

    @property
    def interior(self):
        return RejectionInterior(self)

    @property
    def name(self) -> str:
        return self._label or type(self).__name__.lower()

    @name.setter
    def name(self, value: str):
        if not isinstance(value, str) or not value:
            raise TypeError(f"a solid's name must be a non-empty string, got {value!r}")
        self._label = value

    @property
    def normalization(self) -> Normalization:
        return self._normalization or Normalization.identity(self.dim)

    @abc.abstractmethod
    def signed_distance(self, points) -> np.ndarray:
        r""":math:`\phi` at ``points`` ``(n_points, dim)`` → ``(n_points,)`` (negative inside)."""

    @property
    @abc.abstractmethod
    def surface_measure(self) -> float:
        """Length (2-D) or area (3-D) of the boundary."""

    def _adf(self) -> tuple[sympy.Expr, bool]:
        raise NotImplementedError(f"{type(self).__name__} {self.name!r} has no closed-form distance function; make "
                                  "its boundary condition a soft condition (no hard=True)")

    def adf(self) -> sympy.Expr:
        r"""Approximate distance function :math:`\phi` of the boundary: a sympy expression of
        ``coords``, zero on the boundary, positive inside, :math:`|\nabla\phi| = 1` on the
        boundary away from corners (for hard constraints :math:`u = g + \phi N`)."""
        return self._adf()[0]

    def _faces(self) -> tuple[tuple[str | None, AbstractBoundary, float], ...]:
        """The pieces of the boundary that set operations sample and measure one by one, as
        ``(side, region, measure)``: the whole boundary (side ``None``) unless the solid has sides."""
        return ((None, self.boundary, self.surface_measure),)

    def _side_adf(self, sides: tuple[str, ...]) -> sympy.Expr:
        """Distance function of some named sides only (boxes)."""
        raise NotImplementedError(f"{self!r} has no named sides")

    def contains(self, points) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        return self.signed_distance(p) <= 1e-12 * max(1.0, float(np.abs(self.bounds).max()))

    def _fraction(self) -> float:
        """Monte Carlo share of the bounding box inside (8192 points, seed 0), for sizing draws."""
        if self._frac is None:
            b = self.bounds
            p = b[:, 0] + np.random.default_rng(0).random((8192, self.dim)) * (b[:, 1] - b[:, 0])
            self._frac = float(np.mean(self.signed_distance(p) < 0))
            if self._frac == 0:
                raise ValueError(f"{self!r} is empty (or thinner than sampling resolves); no points lie inside")
        return max(self._frac, 1e-3)

    # ------------------------------------------------------------------ as a shape
    def sample_surface(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points uniform on the boundary (by length or area) and their outward unit normals,
        both float64 ``(n, dim)``: ``boundary`` sampled with a torch generator seeded from ``rng``."""
        g = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
        s = self.boundary.sample(int(n), method="uniform", generator=g, dtype=torch.float64)
        return s.points.numpy(), s.normals.numpy()

    def sdf_grid(self, resolution: int, *, chunk: int = 1 << 20, dtype=np.float64) -> np.ndarray:
        """Signed distances on the cell centres of the ``resolution^d`` lattice of :math:`[-1, 1]^d`."""
        d = self.dim
        out = np.empty((resolution,) * d, dtype=dtype)
        per_slab = max(1, chunk // resolution ** (d - 1))
        for i in range(0, resolution, per_slab):
            sl = slice(i, min(resolution, i + per_slab))
            out[sl] = self.signed_distance(grid_points(resolution, d, first=sl)).reshape(
                (sl.stop - sl.start,) + (resolution,) * (d - 1))
        return out

    def occupancy(self, resolution: int, *, chunk: int = 1 << 20) -> np.ndarray:
        r"""Boolean grid ``(resolution,)*d`` of :math:`\phi \le 0` at the cell centres of
        :math:`[-1, 1]^d` ("ij" order)."""
        return self.sdf_grid(resolution, chunk=chunk) <= 0

    def normals(self, points, *, h: float = 1e-6) -> np.ndarray:
        r""":math:`\nabla\phi/|\nabla\phi|` at ``points`` ``(n, dim)`` by central differences of step ``h``."""
        p = as_points(points, self.dim)
        g = np.stack([self.signed_distance(p + h * e) - self.signed_distance(p - h * e)
                      for e in np.eye(self.dim)], axis=-1)
        return g / np.maximum(np.linalg.norm(g, axis=-1, keepdims=True), 1e-300)

    def __or__(self, other):
        return Union(self, other)

    def __and__(self, other):
        return Intersection(self, other)

    def __sub__(self, other):
        return Difference(self, other)


class RejectionInterior(AbstractInterior):
    """Interior of a solid sampled by rejection from its bounding box (exactly ``n`` points)."""

    name = "interior"

    def __init__(self, domain: AbstractSolid):
        self.domain = domain

    def _sample(self, n, *, method, generator, dtype, device):
        if method == "grid":
            _no_grid(self)
        dom = self.domain
        frac = dom._fraction()
        b = torch.as_tensor(dom.bounds, dtype=torch.float64)
        chunks, have = [], 0
        while have < n:
            m = int(math.ceil((n - have) / frac * 1.2)) + 64
            u = unit_samples(m, dom.dim, method=method, generator=generator, dtype=torch.float64, device="cpu")
            p = b[:, 0] + u * (b[:, 1] - b[:, 0])
            p = p[torch.from_numpy(dom.signed_distance(p.numpy()) < 0)]
            chunks.append(p)
            have += p.shape[0]
        return Samples(torch.cat(chunks)[:n].to(dtype=dtype, device=device))


class SolidBoundary(AbstractBoundary):
    """The whole boundary of a solid (no named sides), with outward unit normals. Subclasses
    draw ``n`` float64 CPU points and normals from unit-cube samples in ``_surface``."""

    name = "boundary"
    sides = None

    def __init__(self, domain: AbstractSolid):
        self.domain = domain

    def __getitem__(self, side):
        raise KeyError(f"{self.domain!r} has no named sides; its whole boundary is {self.domain!r}.boundary")

    @property
    def surface_measure(self) -> float:
        return self.domain.surface_measure

    def _sample(self, n, *, method, generator, dtype, device):
        if method == "grid":
            _no_grid(self)
        p, nrm = self._surface(n, method=method, generator=generator)
        return Samples(p.to(dtype=dtype, device=device), nrm.to(dtype=dtype, device=device))

    @abc.abstractmethod
    def _surface(self, n: int, *, method: str, generator) -> tuple[torch.Tensor, torch.Tensor]: ...


# ------------------------------------------------------------------------------ set operations
def _names(domain) -> tuple[str, ...]:
    return tuple(c.name for c in domain.coords)


class _Combination(AbstractSolid):
    """A set operation on solids with the same coordinates (and the same normalisation, where
    an operand has one: a mesh minus a ball stated in the mesh's normalised units)."""

    _symbol: ClassVar[str]
    exact = False

    def __init__(self, *operands: AbstractSolid):
        op = type(self).__name__
        if len(operands) < 2:
            raise ValueError(f"{op} needs at least two domains, got {len(operands)}")
        for d in operands:
            if not isinstance(d, AbstractSolid) or not d.combines:
                raise TypeError(f"{op} combines 2-D/3-D solid domains (Rectangle, Box, Disk, Ball, Polygon, Torus, "
                                f"TriangleMesh and their combinations), got {d!r}")
            if d.dim not in (2, 3):
                raise ValueError(f"{op} combines 2-D or 3-D domains; {d!r} is {d.dim}-D")
        first = operands[0]
        for d in operands[1:]:
            if _names(d) != _names(first):
                raise ValueError(f"cannot combine {first!r} (coordinates {', '.join(_names(first))}) with {d!r} "
                                 f"(coordinates {', '.join(_names(d))}): operands of {op} need the same coordinates")
        norms = {d._normalization for d in operands if d._normalization is not None}
        if len(norms) > 1:
            raise ValueError(f"{op}: operands carry different normalisations {sorted(map(str, norms))}; state them "
                             "in one normalised box (fit one mesh, then give the others in its units)")
        self.operands = tuple(operands)
        self._coords = first.coords
        self._normalization = norms.pop() if norms else None
        self._kept: dict[tuple[int, str | None], float] = {}
        if np.any(self.bounds[:, 0] >= self.bounds[:, 1]):
            raise ValueError(f"{self!r} is empty: the bounding boxes of its operands do not overlap")

    @property
    def name(self) -> str:
        return self._label or "(" + f" {self._symbol} ".join(d.name for d in self.operands) + ")"

    @name.setter
    def name(self, value: str):
        AbstractSolid.name.fset(self, value)

    @property
    def analytic(self) -> bool:
        return all(d.analytic for d in self.operands)

    @property
    def boundary(self):
        return _CompositeBoundary(self)

    def leaves(self) -> tuple[AbstractSolid, ...]:
        """The primitive domains whose boundaries make up this one's, in order."""
        out = []
        for d in self.operands:
            out.extend(d.leaves() if isinstance(d, _Combination) else (d,))
        return tuple(out)

    def _tree(self) -> list[tuple[AbstractSolid, int, int, tuple[tuple["_Combination", int], ...]]]:
        """Every operand below this one, nested ones included, as ``(operand, first leaf, last leaf
        + 1, path)``: its span in :meth:`leaves` and the ``(combination, position)`` steps from here."""
        out, start = [], 0
        for i, d in enumerate(self.operands):
            n = 1
            if isinstance(d, _Combination):
                out.extend((sub, start + lo, start + hi, ((self, i), *path)) for sub, lo, hi, path in d._tree())
                n = len(d.leaves())
            out.append((d, start, start + n, ((self, i),)))
            start += n
        return out

    def has_operand(self, other) -> bool:
        return any(d is other or d == other for d, *_ in self._tree())

    def _pieces(self) -> list[tuple[int, str | None, AbstractBoundary, float]]:
        """The leaves' faces as ``(leaf index, side, region, measure)``."""
        return [(k, side, region, m) for k, leaf in enumerate(self.leaves()) for side, region, m in leaf._faces()]

    def _kept_share(self, piece) -> float:
        """Share of a piece's length or area that lies on this boundary: measured on 16,384 of its
        scrambled Sobol points (seed 0) and kept."""
        k, side, region, _ = piece
        if (k, side) not in self._kept:
            s = region.sample(_PILOT_POINTS, method="sobol", generator=torch.Generator().manual_seed(0),
                              dtype=torch.float64)
            idx = np.full(_PILOT_POINTS, k)
            self._kept[k, side] = float(np.mean(_signs(self, s.points.numpy(), s.normals.numpy(), idx) != 0))
        return self._kept[k, side]

    @property
    def surface_measure(self) -> float:
        """Length or area of the boundary: each face's measure times its kept share."""
        return sum(p[3] * self._kept_share(p) for p in self._pieces())

    def _key(self):
        return self.operands

    def __repr__(self):
        parts = [f"({d!r})" if isinstance(d, _Combination) else repr(d) for d in self.operands]
        return f" {self._symbol} ".join(parts)


class Union(_Combination):
    r""":math:`A \cup B \cup \dots` (``a | b``): :math:`\phi = \min_i \phi_i` (exact outside);
    distance function :math:`\phi_A \vee \phi_B`."""

    _symbol = "|"

    def signed_distance(self, points):
        return np.min([d.signed_distance(points) for d in self.operands], axis=0)

    @property
    def bounds(self):
        b = np.stack([d.bounds for d in self.operands])
        return np.stack([b[:, :, 0].min(0), b[:, :, 1].max(0)], -1)

    def _adf(self):
        parts = [d._adf() for d in self.operands]
        if not all(s for _, s in parts):
            raise ValueError(f"{self!r}: a union needs signed distance functions of its operands; a non-convex "
                             "Polygon's is unsigned: split it into convex polygons joined by |")
        phi = parts[0][0]
        for p, _ in parts[1:]:
            phi = r_or(phi, p)
        return phi, True


class Intersection(_Combination):
    r""":math:`A \cap B \cap \dots` (``a & b``): :math:`\phi = \max_i \phi_i` (exact inside);
    distance function :math:`\phi_A \wedge \phi_B`."""

    _symbol = "&"

    def signed_distance(self, points):
        return np.max([d.signed_distance(points) for d in self.operands], axis=0)

    @property
    def bounds(self):
        b = np.stack([d.bounds for d in self.operands])
        return np.stack([b[:, :, 0].max(0), b[:, :, 1].min(0)], -1)

    def _adf(self):
        parts = [d._adf() for d in self.operands]
        phi = parts[0][0]
        for p, _ in parts[1:]:
            phi = r_and(phi, p)
        return phi, all(s for _, s in parts)


class Difference(_Combination):
    r""":math:`A \setminus B` (``a - b``): :math:`\phi = \max(\phi_A, -\phi_B)` (exact inside);
    distance function :math:`\phi_A \wedge (-\phi_B)`; the bounding box is :math:`A`'s."""

    _symbol = "-"

    def __init__(self, a: AbstractSolid, b: AbstractSolid):
        super().__init__(a, b)

    def signed_distance(self, points):
        a, b = self.operands
        return np.maximum(a.signed_distance(points), -b.signed_distance(points))

    @property
    def bounds(self):
        return self.operands[0].bounds

    def _adf(self):
        (pa, sa), (pb, sb) = (d._adf() for d in self.operands)
        if not sb:
            raise ValueError(f"{self!r}: the subtracted domain {self.operands[1]!r} has an unsigned distance function "
                             "(a non-convex Polygon); split it into convex polygons joined by |")
        return r_and(pa, -pb), sa


def _signs(dom: _Combination, p: np.ndarray, n: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """For operand boundary points ``p`` ``(m, dim)`` with normals ``n`` of the leaves ``idx``
    ``(m,)``: +1 (the leaf's normal is outward), -1 (it points inward) or 0 (not on this boundary,
    or on an earlier leaf's boundary, which counts it)."""
    leaves = dom.leaves()
    scale = float(np.abs(dom.bounds).max()) + float((dom.bounds[:, 1] - dom.bounds[:, 0]).max())
    eps, tol = 1e-6 * scale, 1e-9 * scale
    sd = dom.signed_distance
    inner, outer = sd(p - eps * n) < 0, sd(p + eps * n) < 0
    sign = np.where(inner & ~outer, 1.0, np.where(outer & ~inner, -1.0, 0.0))
    for k, leaf in enumerate(leaves[:-1]):  # a point shared with an earlier operand's boundary counts once
        later = idx > k
        if later.any():
            sign[later] = np.where(np.abs(leaf.signed_distance(p[later])) < tol, 0.0, sign[later])
    return sign


def _draw(dom: _Combination, pieces, m: int, *, method, generator) -> tuple[np.ndarray, np.ndarray]:
    """``m`` points of the ``pieces`` (proportional to their measures, float64); returns the kept
    ones and their outward normals."""
    meas = torch.tensor([p[3] for p in pieces], dtype=torch.float64)
    gdev = generator.device if generator is not None else "cpu"
    counts = split_draws(m, meas, method=method, generator=generator)
    pts, nrm, idx = [], [], []
    for (k, _, region, _), c in zip(pieces, counts.tolist()):
        if c:
            s = region.sample(c, method=method, generator=generator, dtype=torch.float64)
            pts.append(s.points.cpu())
            nrm.append(s.normals.cpu())
            idx.append(torch.full((c,), k))
    p, n, idx = torch.cat(pts).numpy(), torch.cat(nrm).numpy(), torch.cat(idx).numpy()
    perm = torch.randperm(m, generator=generator, device=gdev).cpu().numpy()
    p, n, idx = p[perm], n[perm], idx[perm]
    sign = _signs(dom, p, n, idx)
    keep = sign != 0
    return p[keep], sign[keep, None] * n[keep]


def _sample_pieces(region, pieces, n: int, *, method, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points uniform on the part of ``region.domain``'s boundary that ``pieces`` cover, by
    rejection (the draws kept: its measure over the pieces' total)."""
    dom = region.domain
    frac = region.surface_measure / sum(p[3] for p in pieces)
    pts, nrm, have = [], [], 0
    for _ in range(100):
        m = int(math.ceil((n - have) / max(frac, 1e-3) * 1.05)) + 64
        p, nv = _draw(dom, pieces, m, method=method, generator=generator)
        pts.append(p)
        nrm.append(nv)
        have += len(p)
        if have >= n:
            break
    else:
        raise ValueError(f"{region!r} has (almost) no boundary left after the set operations")
    return torch.from_numpy(np.concatenate(pts)[:n]), torch.from_numpy(np.concatenate(nrm)[:n])


class _CompositeBoundary(SolidBoundary):
    """Boundary of a set operation: operand boundary points that separate inside from outside.
    ``boundary[B]`` is its part on the operand ``B`` (:class:`OperandPart`)."""

    def __getitem__(self, key):
        if isinstance(key, AbstractSolid):
            return OperandPart(self.domain, key)
        if isinstance(key, str):
            raise KeyError(f"{self.domain!r} has no named sides; key its boundary by an operand "
                           f"(domain.boundary[B] for an operand B of the set operation), or cut it with "
                           f".where(x > 0)")
        raise TypeError(f"{self.domain!r}.boundary[...] takes an operand of the set operation (a shape), "
                        f"got {type(key).__name__}")

    def _surface(self, n, *, method, generator):
        return _sample_pieces(self, self.domain._pieces(), n, method=method, generator=generator)


class OperandPart(SolidBoundary, AbstractBoundaryPart):
    r"""The part of a set operation's boundary that lies on its operand ``key`` (a primitive or a
    nested set operation, by identity or equality): ``(A - B).boundary[B]`` is the hole's rim,
    ``(A - B).boundary[A]`` the rest. ``side`` narrows it to one side of a box operand
    (``boundary[A]["x-"]``). Normals are the domain's outward ones; samples are uniform on the part.
    """

    def __init__(self, domain: "_Combination", key: AbstractSolid, side: str | None = None):
        self.domain, self.key, self.side = domain, key, side
        self._matches = [m for m in domain._tree() if m[0] is key or m[0] == key]
        if not self._matches:
            names = ", ".join(repr(d) for d in domain.operands)
            raise KeyError(f"{key!r} is not an operand of {domain!r}; key its boundary by one of its operands "
                           f"({names}) or an operand nested in them")
        self.name = f"boundary[{key.name}]" + (f'["{side}"]' if side is not None else "")
        spans = [(lo, hi) for _, lo, hi, _ in self._matches]
        mine = [p for p in domain._pieces() if any(lo <= p[0] < hi for lo, hi in spans)]
        self.pieces = [p for p in mine if side is None or p[1] == side]
        if not self.pieces:
            valid = sorted({p[1] for p in mine if p[1] is not None})
            raise KeyError(f"{key!r} has no side {side!r}" + (f"; its sides are {valid}" if valid else
                           "; only box operands have named sides: cut the part with .where(x > 0) instead"))
        self._measure = sum(p[3] * domain._kept_share(p) for p in self.pieces)
        if self._measure == 0:
            raise ValueError(f"{self!r} is empty: no part of {key!r}"
                             + (f"'s side {side!r}" if side else "'s boundary")
                             + f" lies on the boundary of {domain!r}; put the condition on another operand")

    def __getitem__(self, side):
        if not isinstance(side, str) or self.side is not None:
            raise KeyError(f"{self!r} can be narrowed once, by a side of a box operand such as \"x-\", "
                           f"got {side!r}; cut it further with .where(x > 0)")
        return OperandPart(self.domain, self.key, side)

    @property
    def surface_measure(self) -> float:
        return self._measure

    def _surface(self, n, *, method, generator):
        return _sample_pieces(self, self.pieces, n, method=method, generator=generator)

    def adf(self) -> sympy.Expr:
        r""":math:`\pm\phi_B` of the operand ``B`` (minus for a subtracted one, when its distance
        function is signed), where ``B`` is reached through ``&`` and ``-`` only."""
        if len(self._matches) > 1:
            raise NotImplementedError(f"{self.key!r} appears {len(self._matches)} times in {self.domain!r}")
        node, _, _, path = self._matches[0]
        sign = 1
        for combination, position in path:
            if isinstance(combination, Union):
                raise NotImplementedError(f"{self.key!r} is an operand of a union, where its distance function "
                                          "would vanish inside the other operands")
            if isinstance(combination, Difference) and position == 1:
                sign = -sign
        if self.side is not None:
            if sign < 0:
                raise NotImplementedError(f"the plane of the subtracted {self.key!r}'s side {self.side!r} runs "
                                          "through the domain")
            return node._side_adf((self.side,))
        try:
            phi, signed = node._adf()
        except ValueError as err:
            raise NotImplementedError(str(err)) from None
        return phi if sign > 0 or not signed else -phi


# ----------------------------------------------------------------------------------- polygon
class _PolygonBoundary(SolidBoundary):
    def _surface(self, n, *, method, generator):
        a = torch.as_tensor(self.domain.vertices, dtype=torch.float64)
        e = torch.roll(a, -1, dims=0) - a
        length = torch.linalg.norm(e, dim=-1)
        k = torch.multinomial(length / length.sum(), n, replacement=True, generator=generator).cpu()
        t = unit_samples(n, 1, method=method, generator=generator, dtype=torch.float64, device="cpu")
        nrm = torch.stack([e[:, 1], -e[:, 0]], -1) / length[:, None]  # outward for counter-clockwise
        return a[k] + t * e[k], nrm[k]


class Polygon(AbstractSolid):
    r"""Simple polygon with ``vertices`` ``(k, 2)`` (either orientation, not self-intersecting) in
    the plane of ``coords`` (default ``("x", "y")``).

    Signed distance: :math:`|\phi|` is the distance to the nearest edge (segment), the sign
    comes from the even–odd rule (negative inside).

    ``adf()``: for a convex polygon the R-conjunction of its edges' half-plane distances
    (signed); for a non-convex one the unsigned segment form of Sukumar & Srivastava (eq. 16,
    :math:`m = 1`) :math:`\phi = \prod_i \phi_i / \sum_i \prod_{j \ne i} \phi_j` with the
    trimmed segment distances :math:`\phi_i = \sqrt{f_i^2 + ((\sqrt{t_i^2 + f_i^4} - t_i)/2)^2}`,
    positive on both sides (so it cannot be subtracted or joined: split such a polygon into
    convex pieces for that).
    """

    def __init__(self, vertices, *, coords: tuple[str, str] = ("x", "y")):
        coords = tuple(coords)
        if len(coords) != 2 or not all(isinstance(c, str) and c.isidentifier() for c in coords) \
                or coords[0] == coords[1]:
            raise ValueError(f"Polygon coords must be two distinct identifiers such as ('x', 'y'), got {coords!r}")
        v = np.asarray(vertices, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 3:
            raise ValueError(f"Polygon needs vertices of shape (k >= 3, 2), got {v.shape}")
        if not np.isfinite(v).all():
            raise ValueError("Polygon vertices contain NaN or infinite coordinates; give finite numbers")
        area = 0.5 * np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1])
        if abs(area) < 1e-14:
            raise ValueError("Polygon has zero area; give at least three non-collinear vertices")
        self.vertices = v if area > 0 else v[::-1].copy()  # counter-clockwise
        self._lengths = np.linalg.norm(np.roll(self.vertices, -1, axis=0) - self.vertices, axis=-1)
        if (self._lengths == 0).any():
            raise ValueError("Polygon has repeated consecutive vertices; drop the duplicates")
        self._coords = tuple(Coordinate(c) for c in coords)

    @property
    def bounds(self):
        return np.stack([self.vertices.min(0), self.vertices.max(0)], -1)

    @property
    def boundary(self):
        return _PolygonBoundary(self)

    @property
    def surface_measure(self):
        return float(self._lengths.sum())

    def signed_distance(self, points):
        p = as_points(points, 2)
        a = self.vertices
        b = np.roll(a, -1, axis=0)
        out = np.empty(p.shape[0])
        for s in range(0, p.shape[0], 1 << 16):
            q = p[s:s + (1 << 16), None, :]
            e, w = b - a, q - a  # (k, 2), (n, k, 2)
            t = np.clip((w * e).sum(-1) / (e * e).sum(-1), 0, 1)
            d2 = ((w - t[..., None] * e) ** 2).sum(-1).min(-1)
            y = q[..., 1]
            crosses = (a[:, 1] <= y) != (b[:, 1] <= y)
            x_at = a[:, 0] + (y - a[:, 1]) * e[:, 0] / np.where(e[:, 1] == 0, 1, e[:, 1])
            inside = (crosses & (q[..., 0] < x_at)).sum(-1) % 2 == 1
            out[s:s + (1 << 16)] = np.where(inside, -1, 1) * np.sqrt(d2)
        return out

    @property
    def convex(self) -> bool:
        a = self.vertices
        e = np.roll(a, -1, axis=0) - a
        f = np.roll(e, -1, axis=0)
        return bool(np.all(e[:, 0] * f[:, 1] - e[:, 1] * f[:, 0] >= -1e-12))

    def _adf(self):
        x, y = self._coords
        a = [tuple(sympy.nsimplify(float(v), rational=True) for v in p) for p in self.vertices]
        b = a[1:] + a[:1]
        lengths = [sympy.sqrt((q[0] - p[0]) ** 2 + (q[1] - p[1]) ** 2) for p, q in zip(a, b)]
        # left of each counter-clockwise edge is inside
        f = [((q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])) / L for p, q, L in zip(a, b, lengths)]
        if self.convex:
            phi = f[0]
            for g in f[1:]:
                phi = r_and(phi, g)
            return phi, True
        phis = []
        for p, q, L, g in zip(a, b, lengths, f):
            cx, cy = (p[0] + q[0]) / 2, (p[1] + q[1]) / 2
            t = ((L / 2) ** 2 - (x - cx) ** 2 - (y - cy) ** 2) / L
            phis.append(sympy.sqrt(g**2 + ((sympy.sqrt(t**2 + g**4) - t) / 2) ** 2))
        num = sympy.Mul(*phis)
        den = sympy.Add(*(sympy.Mul(*(phis[:i] + phis[i + 1:])) for i in range(len(phis))))
        return num / den, False

    def _key(self):
        return (tuple(map(tuple, self.vertices.tolist())), tuple(c.name for c in self._coords))

    def __repr__(self):
        v = ", ".join(f"({p[0]:g}, {p[1]:g})" for p in self.vertices)
        c = "" if _names(self) == ("x", "y") else f", coords={_names(self)}"
        return f"Polygon([{v}]{c})"
