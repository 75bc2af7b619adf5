r"""Finite-difference lowering of linear problem statements on boxes.

This is the general path of :class:`~pinr.solvers.FDSolver`: the same compiled
:class:`~pinr.Problem` the PINN trains on is read term by term and becomes a sparse linear
system (stationary) or a time stepper (one or two time derivatives).

**Reading the statement.** Every condition is compiled (:func:`pinr.compiler.compile_problem`);
each of its residuals is split, from the compiled symbolic form, into

.. math:: r(x) = \sum_j a_j(x)\, \partial^{\alpha_j} u_{c_j}(x) + f(x),

where the :math:`\partial^{\alpha_j} u_{c_j}` are the derivative atoms (second-derivative
combos expand into their atoms with their coefficient functions). A coefficient that involves
an unknown (``u u_x``, ``sin(u)``) raises ``NotImplementedError`` naming the term. Operators
already expanded by the product rule (``D(a * D(u, x), x)`` is :math:`a u_{xx} + a_x u_x`) need
nothing special. Coefficients that are numbers are used exactly; the others are evaluated at
the grid nodes with the compiled torch functions in float64 (the residual with atom
:math:`j` set to one minus the residual with all atoms zero). Complex statements arrive split
by the compiler into real and imaginary residuals over real channels (``u_re``, ``u_im``): the
lowering builds the real block system and, when it has the structure
:math:`\begin{pmatrix}A & -B\\ B & A\end{pmatrix}`, solves :math:`(A + iB)(u_{re} + i u_{im}) =
b_{re} + i b_{im}` in complex128 (half the unknowns, much less fill-in).

**Grid.** A vertex grid over the spatial box: along an axis with :math:`n` cells on
:math:`[lo, hi]` the nodes are :math:`x_i = lo + i h`, :math:`i = 0..n`, boundary nodes
included. Interior nodes carry the interior equations with second-order central differences
(:math:`u_x`: :math:`(u_{i+1} - u_{i-1})/2h`; :math:`u_{xx}`: :math:`(u_{i-1} - 2u_i + u_{i+1})/h^2`;
:math:`u_{xy}`: the product of the two central first differences). Boundary nodes carry the
boundary conditions; a derivative whose central stencil would leave the box uses the
second-order one-sided stencil there (:math:`u_x \approx (-3u_0 + 4u_1 - u_2)/2h`,
:math:`u_{xx} \approx (2u_0 - 5u_1 + 4u_2 - u_3)/h^2`), so Dirichlet, Neumann (``dn(u)``, with
the side's outward normal) and Robin conditions are all second order. A node on several sides
(a corner) takes the conditions of lowest derivative order first, then in statement order,
until it has one equation per unknown channel. A condition on another region that repeats an
equation stated on the interior, the boundary or the initial time (extra collocation points, e.g.
around a source) adds no equation.

**Time.** For ``space * TimeInterval`` domains the interior equations are read as
:math:`M_2 u_{tt} + M_1 u_t + L u + f = 0` (:math:`M_1, M_2` pointwise; mixed time-space
derivatives are not lowered):

- second order in time: leapfrog
  :math:`M_2 (u^{n+1} - 2u^n + u^{n-1})/\Delta t^2 + M_1 (u^{n+1} - u^{n-1})/2\Delta t + L u^n + f^n = 0`,
  started from the two initial conditions by :math:`u^1 = u^0 + \Delta t\, v^0 + \tfrac12\Delta t^2 a^0`
  with :math:`a^0` from the equation; :math:`\Delta t = \mathrm{cfl} \cdot 2/\sqrt{\rho}` where
  :math:`\rho \ge \rho(M_2^{-1}L)` is the Gershgorin bound (for :math:`u_{tt} = c^2\Delta u` this is
  the CFL limit :math:`h/(c\sqrt d)` times ``cfl``);
- first order in time: Crank–Nicolson
  :math:`M_1 (u^{n+1} - u^n)/\Delta t + \tfrac12 (L u^{n+1} + f^{n+1} + L u^n + f^n) = 0`,
  by default with as many steps as cells along the longest axis (:math:`\Delta t \propto h`).

Boundary conditions are imposed at the new time level. The time step is shortened so that
the ``slices`` output times (equally spaced, both ends included) fall on steps. The result is
a :class:`~pinr.solvers.GridSolution` whose grid cells are centred on the nodes (its bounds
extend half a spacing beyond the domain), indexed ``[ix, iy, (it), channel]``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time as _time
from dataclasses import dataclass, field
from functools import reduce

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spl
import sympy
import torch
from threadpoolctl import ThreadpoolController

from pinr.compiler import compile_problem
from pinr.domains import Box, Grid, Interval, PointCloud, Rectangle, SpaceTime
from pinr.domains.base import AbstractBoundary, AbstractBoundaryPart, AbstractInitial, AbstractInterior
from pinr.solution import GridSolution

__all__ = ["VertexGrid", "lower_stationary", "lower_time_dependent", "linear_form"]

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------- grid
def _first_difference(n: int, h: float) -> sp.csr_matrix:
    """``(n+1, n+1)`` first derivative on nodes ``0..n``: central inside, one-sided at the ends."""
    rows, cols, vals = [], [], []
    for i in range(1, n):
        rows += [i, i]
        cols += [i - 1, i + 1]
        vals += [-0.5, 0.5]
    rows += [0, 0, 0, n, n, n]
    cols += [0, 1, 2, n, n - 1, n - 2]
    vals += [-1.5, 2.0, -0.5, 1.5, -2.0, 0.5]
    return sp.csr_matrix((np.array(vals) / h, (rows, cols)), shape=(n + 1, n + 1))


def _second_difference(n: int, h: float) -> sp.csr_matrix:
    """``(n+1, n+1)`` second derivative on nodes ``0..n``: central inside, one-sided at the ends."""
    rows, cols, vals = [], [], []
    for i in range(1, n):
        rows += [i, i, i]
        cols += [i - 1, i, i + 1]
        vals += [1.0, -2.0, 1.0]
    rows += [0] * 4 + [n] * 4
    cols += [0, 1, 2, 3, n, n - 1, n - 2, n - 3]
    vals += [2.0, -5.0, 4.0, -1.0] * 2
    return sp.csr_matrix((np.array(vals) / h**2, (rows, cols)), shape=(n + 1, n + 1))


@dataclass
class VertexGrid:
    """Nodes ``lo + i h``, ``i = 0..n`` per spatial axis (boundary included), in C order."""

    names: tuple[str, ...]
    bounds: np.ndarray  # (d, 2)
    cells: tuple[int, ...]
    _ops: dict = field(default_factory=dict, repr=False)  # cached stencil matrices and nodes

    def __post_init__(self):
        if any(n < 3 for n in self.cells):
            raise ValueError(f"FD grid needs at least 3 cells per axis, got {self.cells}; raise the resolution")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(n + 1 for n in self.cells)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def spacing(self) -> np.ndarray:
        return (self.bounds[:, 1] - self.bounds[:, 0]) / np.array(self.cells)

    def axes(self) -> list[np.ndarray]:
        return [lo + h * np.arange(n + 1) for (lo, _), h, n in zip(self.bounds, self.spacing, self.cells)]

    def points(self) -> np.ndarray:
        """All nodes ``(size, d)`` (computed once)."""
        if "points" not in self._ops:
            mesh = np.meshgrid(*self.axes(), indexing="ij")
            self._ops["points"] = np.stack([m.ravel() for m in mesh], axis=-1)
        return self._ops["points"]

    def operator(self, orders: tuple[int, ...]) -> sp.csr_matrix:
        """``∂^orders`` on all nodes as a sparse ``(size, size)`` matrix (Kronecker product of 1-D stencils)."""
        if orders not in self._ops:
            mats = []
            for n, h, o in zip(self.cells, self.spacing, orders):
                mats.append(sp.identity(n + 1, format="csr") if o == 0 else
                            _first_difference(n, h) if o == 1 else _second_difference(n, h))
            self._ops[orders] = reduce(lambda a, b: sp.kron(a, b, format="csr"), mats).tocsr()
        return self._ops[orders]

    def side_mask(self, axis: int, plus: bool) -> np.ndarray:
        idx = np.indices(self.shape).reshape(len(self.shape), -1)
        return idx[axis] == (self.cells[axis] if plus else 0)

    def interior_mask(self) -> np.ndarray:
        idx = np.indices(self.shape).reshape(len(self.shape), -1)
        return np.all((idx > 0) & (idx < np.array(self.cells)[:, None]), axis=0)

    def as_grid(self, time_axis: np.ndarray | None = None, time_name: str = "t") -> Grid:
        """A :class:`~pinr.domains.Grid` whose cell centres are these nodes (and the output times)."""
        axes = {n: (lo - h / 2, hi + h / 2) for n, (lo, hi), h in zip(self.names, self.bounds, self.spacing)}
        shape = list(self.shape)
        if time_axis is not None:
            tau = time_axis[1] - time_axis[0]
            axes[time_name] = (time_axis[0] - tau / 2, time_axis[-1] + tau / 2)
            shape.append(len(time_axis))
        return Grid(tuple(shape), **axes)


# ------------------------------------------------------------------------- linear forms
@dataclass(frozen=True)
class _Entry:
    """One unknown-dependent piece ``a(x) · ∂^orders u_component`` of a residual."""

    component: int
    orders: tuple[int, ...]
    kind: str  # "atom" or "combo"
    index: int  # into expression.atoms / expression.combos
    coef_index: int | None  # combos: index of the coefficient function
    const: float | None  # the coefficient of the atom/combo symbol when it is a number


@dataclass
class LinearForm:
    """A compiled term read as ``Σ a_j(x) ∂^{α_j} u_{c_j} + f(x)`` per residual."""

    term: object
    index: int
    residuals: list[list[_Entry]]
    max_space_order: int
    max_time_order: int
    coefficients_depend_on_time: bool
    rest_depends_on_time: bool

    def evaluate(self, points: torch.Tensor, normals: torch.Tensor):
        """Per residual: ``({(component, orders): coefficient}, rest)``; coefficients are floats or ``(M,)`` arrays."""
        e = self.term.expression
        m = points.shape[0]
        zero = torch.zeros(m, dtype=torch.float64)
        one = torch.ones(m, dtype=torch.float64)
        atoms0, combos0 = [zero] * len(e.atoms), [zero] * len(e.combos)
        base = e(points, normals, atoms0, combos0).numpy()
        probes: dict = {}
        weights = None

        def probe(kind, j):
            if (kind, j) not in probes:
                av, cv = list(atoms0), list(combos0)
                (av if kind == "atom" else cv)[j] = one
                probes[(kind, j)] = e(points, normals, av, cv).numpy() - base
            return probes[(kind, j)]

        out = []
        for i, entries in enumerate(self.residuals):
            coefs: dict = {}
            for ent in entries:
                c = ent.const if ent.const is not None else probe(ent.kind, ent.index)[i]
                if ent.kind == "combo":
                    if weights is None:
                        weights = [w.numpy() for w in e.coefficients(points, normals)]
                    w = weights[ent.coef_index]
                    c = c * (float(w[0]) if np.all(w == w[0]) else w)
                key = (ent.component, ent.orders)
                coefs[key] = coefs[key] + c if key in coefs else c
            out.append((coefs, base[i]))
        return out


def _names(problem, e) -> dict:
    """Readable names (``u_re_xx``) for an expression's atom and combo symbols."""
    coords = [c.name for c in problem.domain.coords]
    out = {}
    for a, s in zip(e.atoms, e.atom_symbols):
        out[s] = _atom_name(problem.fields[a.component], coords, a.orders)
    for cb, s in zip(e.combos, e.combo_symbols):
        parts = [_atom_name(problem.fields[cb.component], coords, o) for o in cb.orders]
        out[s] = "(" + " + ".join(f"a{k}*{p}" for k, p in zip(cb.coefficients, parts)) + ")"
    return out


def _atom_name(field_name: str, coords, orders) -> str:
    sub = "".join(c * o for c, o in zip(coords, orders))
    return f"{field_name}_{sub}" if sub else field_name


def _readable(expr, names: dict) -> str:
    return str(expr.xreplace({s: sympy.Symbol(n) for s, n in names.items()}))


def linear_form(problem, term, index: int) -> LinearForm:
    """Read compiled ``term`` (the ``index``-th condition of ``problem``) as a linear form;
    ``NotImplementedError`` names the first nonlinear or unsupported piece."""
    e = term.expression
    names = _names(problem, e)
    syms = set(e.atom_symbols) | set(e.combo_symbols)
    tcoord = problem.domain.time
    d_space = len(problem.domain.coords) - (tcoord is not None)
    time_data = tcoord is not None and any(tcoord in app.args for app in e.data)
    residuals, coef_t, rest_t = [], time_data, time_data
    coord_names = [c.name for c in problem.domain.coords]
    max_space = max_time = 0
    for r in e.symbolic:
        entries = []
        for kind, symbols in (("atom", e.atom_symbols), ("combo", e.combo_symbols)):
            for j, s in enumerate(symbols):
                if s not in r.free_symbols:
                    continue
                coef = sympy.diff(r, s)
                if coef.free_symbols & syms:
                    raise NotImplementedError(
                        f"FD lowering: term '{term.name}' is not linear in the unknowns: the coefficient of "
                        f"{names[s]} is {_readable(coef, names)}; on boxes only linear statements "
                        "Σ a(x)·∂u + f(x) = 0 are lowered (nonlinear ones have a reference as ODE systems on a "
                        "TimeInterval and as u_t = F(x, t, u, u_x, u_xx) on an Interval times a TimeInterval)")
                const = float(coef) if coef.is_Number else None
                if tcoord is not None and tcoord in coef.free_symbols:
                    coef_t = True
                if kind == "atom":
                    a = e.atoms[j]
                    entries.append(_Entry(a.component, a.orders, "atom", j, None, const))
                    orders_list = [a.orders]
                else:
                    cb = e.combos[j]
                    for o, k in zip(cb.orders, cb.coefficients):
                        entries.append(_Entry(cb.component, o, "combo", j, k, const))
                        if tcoord is not None and tcoord in sympy.sympify(e.coefficient_exprs[k]).free_symbols:
                            coef_t = True
                    orders_list = list(cb.orders)
                for o in orders_list:
                    so, to = sum(o[:d_space]), sum(o[d_space:])
                    name = _atom_name(problem.fields[entries[-1].component], coord_names, o)
                    if so > 2:
                        raise NotImplementedError(
                            f"FD lowering: {name} in term '{term.name}' has spatial order {so}; derivatives up to "
                            "second order (u_x, u_xx, u_xy) are lowered")
                    if to and so:
                        raise NotImplementedError(
                            f"FD lowering: the mixed time-space derivative {name} in term '{term.name}' is not "
                            "lowered; write the equation with u_t/u_tt and spatial derivatives separately")
                    if to > 2:
                        raise NotImplementedError(
                            f"FD lowering: {name} in term '{term.name}' is of order {to} in time; first order "
                            "(Crank–Nicolson) and second order (leapfrog) are lowered")
                    max_space, max_time = max(max_space, so), max(max_time, to)
        rest = sympy.sympify(r.xreplace({s: sympy.S.Zero for s in syms}))
        if tcoord is not None and tcoord in rest.free_symbols:
            rest_t = True
        residuals.append(entries)
    return LinearForm(term, index, residuals, max_space, max_time, coef_t, rest_t)


# ------------------------------------------------------------------------------ regions
@dataclass
class _Block:
    """One linear form applied at a set of nodes (with one outward normal), filling residual slots."""

    form: LinearForm
    nodes: np.ndarray  # node indices
    normal: np.ndarray  # (n_coords,)
    slots: list[int]  # slot of each residual
    rows: list[int] | None = None  # residual indices used (default all)


def _space_of(problem):
    dom = problem.domain
    space = dom.space if isinstance(dom, SpaceTime) else dom
    if not isinstance(space, (Interval, Rectangle, Box, Grid)) or isinstance(space, PointCloud):
        raise NotImplementedError(
            f"the FD reference works on boxes only (Interval, Rectangle, Box, Grid, or one times a TimeInterval); "
            f"{space!r} is unsupported geometry: train the PINN on it, or state an exact solution")
    return space


def _vertex_grid(problem, resolution: int | None) -> VertexGrid:
    space = _space_of(problem)
    if resolution is None and isinstance(space, Grid):
        cells = space.shape
    else:
        cells = space.default_grid_shape(int(resolution or 256))
    return VertexGrid(tuple(c.name for c in space.coords), np.asarray(space.bounds, dtype=np.float64),
                      tuple(int(c) for c in cells))


def _side_normal(problem, grid: VertexGrid, side: str):
    axis = grid.names.index(side[:-1])
    normal = np.zeros(len(problem.domain.coords))
    normal[axis] = 1.0 if side[-1] == "+" else -1.0
    return axis, side[-1] == "+", normal


def _classify(problem, compiled):
    """Split the statement's conditions into interior, boundary (per side) and initial forms."""
    conds = problem.conditions
    forms = [linear_form(problem, t, i) for i, t in enumerate(compiled.terms)]
    interior, boundary, initial = [], [], []
    kinds = (AbstractInterior, AbstractInitial, AbstractBoundary)
    standard = [c.eq.residuals for c in conds if isinstance(c.on, kinds)]
    space_sides = _space_of(problem).side_names()
    for f, c in zip(forms, conds):
        region = c.on
        if isinstance(region, AbstractBoundaryPart):
            raise NotImplementedError(f"FD lowering of conditions on a part of a boundary ({region.name}, term "
                                      f"'{c.name}') is not supported; state them on the box's sides")
        if isinstance(region, AbstractInterior):
            interior.append(f)
        elif isinstance(region, AbstractInitial):
            initial.append(f)
        elif isinstance(region, AbstractBoundary) and region.sides is not None:
            boundary.extend((f, s) for s in region.sides)
        elif isinstance(region, AbstractBoundary):
            boundary.extend((f, s) for s in space_sides)
        elif c.eq.residuals in standard:
            log.info("FD lowering: term '%s' repeats an equation of the statement on %r; nothing to add",
                     c.name, c.on)
        else:
            raise NotImplementedError(
                f"FD lowering of conditions on {c.on!r} (term '{c.name}') is not supported; conditions live on "
                "the interior, the boundary or its sides, or the initial time")
    return interior, boundary, initial


def _layout(problem, grid: VertexGrid, interior, boundary) -> list[_Block]:
    """Assign equations to nodes: interior equations at interior nodes, boundary conditions at
    boundary nodes (lowest derivative order first, then statement order), one per channel."""
    C, N = problem.n_outputs, grid.size
    inner = grid.interior_mask()
    zero_normal = np.zeros(len(problem.domain.coords))
    n_int = sum(len(f.residuals) for f in interior)
    if n_int != C:
        what = ", ".join(f"'{f.term.name}'" for f in interior) or "none"
        raise NotImplementedError(
            f"FD lowering: the interior equations ({what}) give {n_int} residual(s) for {C} unknown channel(s) "
            f"{list(problem.fields)}; state one interior equation per unknown")
    blocks, slot = [], 0
    idx = np.flatnonzero(inner)
    for f in interior:
        blocks.append(_Block(f, idx, zero_normal, list(range(slot, slot + len(f.residuals)))))
        slot += len(f.residuals)
    filled = np.zeros(N, dtype=np.int64)
    used: dict[int, set] = {}
    order = sorted(range(len(boundary)), key=lambda k: (boundary[k][0].max_space_order, boundary[k][0].index, k))
    for k in order:
        f, side = boundary[k]
        axis, plus, normal = _side_normal(problem, grid, side)
        R = len(f.residuals)
        mask = grid.side_mask(axis, plus) & ~inner & (filled + R <= C)
        # the same condition on two sides fills a corner node once
        nodes = np.array([n for n in np.flatnonzero(mask) if f.index not in used.get(n, ())], dtype=np.int64) \
            if used else np.flatnonzero(mask)
        if nodes.size == 0:
            continue
        # slots per node differ only where a corner is already partly filled; group by fill level
        for level in np.unique(filled[nodes]):
            sel = nodes[filled[nodes] == level]
            blocks.append(_Block(f, sel, normal, list(range(level, level + R))))
        filled[nodes] += R
        for n in nodes.tolist():
            used.setdefault(n, set()).add(f.index)
    missing = np.flatnonzero(~inner & (filled < C))
    if missing.size:
        sides = sorted({s for s in _space_of(problem).side_names()
                        if grid.side_mask(*_side_normal(problem, grid, s)[:2])[missing].any()})
        raise NotImplementedError(
            f"FD lowering: boundary nodes on side(s) {sides} are not determined by the statement's boundary "
            f"conditions ({C} equation(s) per node needed); add e.g. pr.Boundary(Eq(u, 0), on='{sides[0]}')")
    return blocks


def _points(grid: VertexGrid, nodes: np.ndarray, t: float | None) -> torch.Tensor:
    pts = grid.points()[nodes]
    if t is not None:
        pts = np.concatenate([pts, np.full((len(nodes), 1), t)], axis=1)
    return torch.as_tensor(pts, dtype=torch.float64)


@dataclass
class _System:
    """Rows ``slot*N + node``, columns ``channel*N + node``; the operator split by time order."""

    L: sp.csr_matrix  # spatial part (incl. zeroth order)
    M1: sp.csr_matrix  # coefficients of u_t (pointwise)
    M2: sp.csr_matrix  # coefficients of u_tt (pointwise)
    f: np.ndarray  # rest


def _assemble(problem, grid: VertexGrid, blocks: list[_Block], t: float | None, *,
              rest_only: bool | str = False) -> _System:
    """The operator and rest of ``blocks`` at time ``t``; ``rest_only`` skips the operator ("time": and the
    blocks whose rest does not depend on time)."""
    C, N = problem.n_outputs, grid.size
    d_space = len(grid.names)
    trip = {0: ([], [], []), 1: ([], [], []), 2: ([], [], [])}
    f = np.zeros(C * N)
    for b in blocks:
        pts = _points(grid, b.nodes, t)
        nrm = torch.as_tensor(np.broadcast_to(b.normal, (len(b.nodes), len(b.normal))).copy(), dtype=torch.float64)
        use = b.rows if b.rows is not None else list(range(len(b.form.residuals)))
        if rest_only == "time" and not b.form.rest_depends_on_time:
            continue
        if rest_only:
            e = b.form.term.expression
            z = torch.zeros(len(b.nodes), dtype=torch.float64)
            base = e(pts, nrm, [z] * len(e.atoms), [z] * len(e.combos)).numpy()
            for s, i in zip(b.slots, use):
                f[s * N + b.nodes] = base[i]
            continue
        evaluated = b.form.evaluate(pts, nrm)
        for s, i in zip(b.slots, use):
            coefs, rest = evaluated[i]
            f[s * N + b.nodes] = rest
            for (comp, orders), c in coefs.items():
                space, tord = orders[:d_space], sum(orders[d_space:])
                if tord:
                    rows = np.arange(len(b.nodes))
                    K = sp.csr_matrix((np.ones(len(b.nodes)), (rows, b.nodes)), shape=(len(b.nodes), N))
                else:
                    K = grid.operator(tuple(space))[b.nodes]
                K = K.tocoo()
                vals = K.data * (c if np.isscalar(c) else np.asarray(c)[K.row])
                r_, c_, v_ = trip[tord]
                r_.append(s * N + b.nodes[K.row])
                c_.append(comp * N + K.col)
                v_.append(vals)
    mats = []
    for k in (0, 1, 2):
        r_, c_, v_ = trip[k]
        if r_:
            m = sp.csr_matrix((np.concatenate(v_), (np.concatenate(r_), np.concatenate(c_))), shape=(C * N, C * N))
            m.sum_duplicates()
            m.eliminate_zeros()
        else:
            m = sp.csr_matrix((C * N, C * N))
        mats.append(m)
    return _System(mats[0], mats[1], mats[2], f)


# ------------------------------------------------------------------------------- solving
def _as_complex(M: sp.spmatrix, b: np.ndarray, N: int):
    """``(A + iB, b_re + i b_im)`` when the 2-channel real system is ``[[A, -B], [B, A]]``
    (rows real part then imaginary part, or the reverse); else ``None``."""
    M = M.tocsr()
    blocks = [[M[i * N:(i + 1) * N, j * N:(j + 1) * N] for j in range(2)] for i in range(2)]
    scale = max(abs(M).max(), 1e-300)

    def same(a, c):
        dif = (a - c).tocsr()
        dif.eliminate_zeros()
        return dif.nnz == 0 or abs(dif).max() <= 1e-13 * scale

    for swap in (False, True):
        (a00, a01), (a10, a11) = (blocks[1], blocks[0]) if swap else (blocks[0], blocks[1])
        b0, b1 = (b[N:], b[:N]) if swap else (b[:N], b[N:])
        if same(a00, a11) and same(a01, -a10):
            return (a00 + 1j * a10).tocsc(), b0 + 1j * b1
    return None


_BLAS: ThreadpoolController | None = None  # the loaded BLAS libraries, found once


@contextlib.contextmanager
def _one_blas_thread():
    """Run SuperLU with one BLAS thread (threadpoolctl: OpenBLAS, MKL, BLIS on any platform). Its
    supernode updates are small BLAS calls whose worker threads spin when the machine is
    oversubscribed: on a loaded 2-core machine the Helmholtz factorisation at 128 cells took 16 s
    with two threads, 0.3 s with one."""
    global _BLAS
    if _BLAS is None:
        _BLAS = ThreadpoolController()
    with _BLAS.limit(limits=1, user_api="blas"):
        yield


@contextlib.contextmanager
def _single_threaded():
    """The whole lowering on one torch and one BLAS thread: its work is elementwise evaluation and
    sparse factorisation, which gain little from two threads and lose 10-70x when an
    oversubscribed machine makes the worker threads spin."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with _one_blas_thread():
            yield
    finally:
        torch.set_num_threads(n)


class _Factor:
    """Sparse LU of a row-equilibrated matrix: rows scaled to unit max norm so that Dirichlet rows
    and :math:`1/h^2` stencil rows pivot alike, minimum-degree ordering on :math:`A^T + A` and a
    relaxed pivot threshold (0.1) so the ordering keeps its fill-in (a strict threshold can
    multiply the factorisation time by 40 on the Helmholtz system); one step of iterative
    refinement when the residual is not at round-off level."""

    def __init__(self, M: sp.spmatrix):
        M = M.tocsr()
        big = np.asarray(abs(M).max(axis=1).todense()).ravel()
        if np.any(big == 0):
            raise ValueError("FD lowering: the discrete system has empty rows; some unknowns appear in no equation")
        self.scale = 1.0 / big
        self.matrix = (sp.diags(self.scale) @ M).tocsc()
        try:
            with _one_blas_thread():
                self.lu = spl.splu(self.matrix, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.1)
        except RuntimeError as err:
            raise ValueError(f"FD lowering: the discrete system is singular ({err}); check that the boundary "
                             "conditions determine the solution (a pure Neumann problem leaves a constant "
                             "free)") from None

    def solve(self, b: np.ndarray) -> np.ndarray:
        b = self.scale * b
        with _one_blas_thread():
            x = self.lu.solve(b)
            r = b - self.matrix @ x
            if np.abs(r).max() > 1e-12 * max(np.abs(b).max(), 1e-300):
                x = x + self.lu.solve(r)
        return x


def _solve(M: sp.spmatrix, b: np.ndarray, C: int, N: int) -> tuple[np.ndarray, str]:
    """Solve ``M u = b``, in complex128 when the system is a complex one written over real channels."""
    if C == 2:
        z = _as_complex(M, b, N)
        if z is not None:
            Z, zb = z
            u = _Factor(Z).solve(zb)
            return np.concatenate([u.real, u.imag]), "complex128"
    return _Factor(M).solve(b), "float64"


def lower_stationary(problem, *, resolution: int | None = None) -> GridSolution:
    """Lower a stationary linear ``problem`` on a box and solve it (sparse LU)."""
    with _single_threaded():
        return _lower_stationary(problem, resolution)


def _lower_stationary(problem, resolution):
    started = _time.perf_counter()
    compiled = compile_problem(problem)
    grid = _vertex_grid(problem, resolution)
    interior, boundary, initial = _classify(problem, compiled)
    blocks = _layout(problem, grid, interior, boundary)
    system = _assemble(problem, grid, blocks, None)
    C, N = problem.n_outputs, grid.size
    u, kind = _solve(system.L, -system.f, C, N)
    values = u.reshape(C, *grid.shape)
    values = np.moveaxis(values, 0, -1)
    return GridSolution(values, grid.as_grid(), fields=problem.fields, coords=problem.domain.coords,
                        metadata={"solver": "fd", "kind": "stationary", "grid": "vertex", "cells": list(grid.cells),
                                  "system": kind, "unknowns": C * N, "seconds": _time.perf_counter() - started})


# ---------------------------------------------------------------------------------- time
def _initial_state(problem, grid, initial: list[LinearForm], t0: float, order: int):
    """``u^0`` (and ``u_t^0`` for second order) at all nodes from the initial conditions."""
    C, N = problem.n_outputs, grid.size
    d_space = len(grid.names)
    values, velocity = [], []
    for f in initial:
        for i, entries in enumerate(f.residuals):
            tords = {sum(e.orders[d_space:]) for e in entries}
            if 2 in tords:
                raise NotImplementedError(f"FD lowering: initial condition '{f.term.name}' involves u_tt; state u "
                                          "and u_t at the initial time")
            if 1 not in tords and any(sum(e.orders[:d_space]) for e in entries):
                raise NotImplementedError(f"FD lowering: initial condition '{f.term.name}' involves spatial "
                                          "derivatives of u; state the initial values pointwise, u = u0(x)")
            (velocity if 1 in tords else values).append((f, i))
    if len(values) != C:
        raise NotImplementedError(
            f"FD lowering of the time-dependent problem '{problem.name}': the initial conditions give {len(values)} "
            f"equation(s) for the values of {C} channel(s) {list(problem.fields)} at t = {t0:g}; state "
            "pr.Initial(Eq(u, u0))")
    if len(velocity) != (C if order == 2 else 0):
        raise NotImplementedError(
            f"FD lowering of the time-dependent problem '{problem.name}': {'second' if order == 2 else 'first'} "
            f"order in time needs {C if order == 2 else 0} initial condition(s) on u_t, got {len(velocity)}")
    nodes = np.arange(N)
    zero_normal = np.zeros(len(problem.domain.coords))

    def system(pairs):
        blocks = [_Block(f, nodes, zero_normal, [slot], [i]) for slot, (f, i) in enumerate(pairs)]
        return _assemble(problem, grid, blocks, t0)

    s0 = system(values)
    u0 = _Factor(s0.L).solve(-s0.f)
    if order == 1:
        return u0, None
    s1 = system(velocity)
    v0 = _Factor(s1.M1).solve(-(s1.f + s1.L @ u0))
    return u0, v0


def _block_inverse(M: sp.spmatrix, rows: np.ndarray, C: int, N: int) -> sp.csr_matrix:
    """Inverse of the pointwise (per-node ``C×C`` block) matrix ``M`` restricted to interior ``rows``."""
    nodes = rows[rows < N]
    blocks = np.zeros((len(nodes), C, C))
    Md = M.tocsr()
    for s in range(C):
        for c in range(C):
            blocks[:, s, c] = np.asarray(Md[s * N + nodes, c * N + nodes]).ravel()
    det_ok = np.abs(np.linalg.det(blocks)) > 0
    if not det_ok.all():
        raise NotImplementedError("FD lowering: at some interior nodes the highest time derivative has a zero "
                                  "coefficient; every interior equation must contain it")
    inv = np.linalg.inv(blocks)
    r, c, v = [], [], []
    for s in range(C):
        for k in range(C):
            r.append(s * N + nodes)
            c.append(k * N + nodes)
            v.append(inv[:, s, k])
    return sp.csr_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(C * N, C * N))


def lower_time_dependent(problem, *, resolution: int | None = None, dt: float | None = None, cfl: float = 0.5,
                         slices: int = 41, stride: int = 1) -> GridSolution:
    """Lower a linear ``problem`` on ``box * TimeInterval`` and step it in time (leapfrog for
    second order, Crank–Nicolson for first order); returns ``slices`` equally spaced time levels
    on every ``stride``-th node per spatial axis."""
    with _single_threaded():
        return _lower_time_dependent(problem, resolution, dt, cfl, slices, stride)


def _lower_time_dependent(problem, resolution, dt, cfl, slices, stride):
    started = _time.perf_counter()
    dom = problem.domain
    t0, t1 = float(dom.time_interval.t0), float(dom.time_interval.t1)
    compiled = compile_problem(problem)
    grid = _vertex_grid(problem, resolution)
    interior, boundary, initial, order = _time_parts(problem, compiled)
    ev = _Evolution(problem, grid, _layout(problem, grid, interior, boundary), t0)
    if order == 2:
        if ev.system.M2[ev.inner].nnz == 0:
            raise NotImplementedError("FD lowering: no u_tt coefficient in the interior equations")
        Minv = _block_inverse(ev.system.M2, ev.inner, ev.C, ev.N)
        dt_target = _leapfrog_dt(ev, Minv, dt, cfl, t1 - t0)
    else:
        dt_target = dt if dt is not None else (t1 - t0) / max(grid.cells)
    slices = max(2, int(slices))
    interval = (t1 - t0) / (slices - 1)
    per_slice = max(1, math.ceil(interval / dt_target - 1e-9))
    step = interval / per_slice
    n_steps = per_slice * (slices - 1)
    u0, v0 = _initial_state(problem, grid, initial, t0, order)
    if order == 2:
        out, method = _leapfrog(ev, Minv, u0, v0, step, per_slice, n_steps), "leapfrog"
    else:
        out, method = _crank_nicolson(ev, u0, step, per_slice, n_steps), "crank-nicolson"
    times = t0 + interval * np.arange(slices)
    vals = np.moveaxis(np.stack(out, axis=-1).reshape(ev.C, *grid.shape, slices), 0, -1)
    stride = max(1, int(stride))
    vals, store = _strided(vals, grid, stride)
    return GridSolution(vals, store.as_grid(times, dom.time.name), fields=problem.fields, coords=dom.coords,
                        metadata={"solver": "fd", "kind": method, "grid": "vertex", "cells": list(grid.cells),
                                  "dt": step, "steps": n_steps, "stride": stride,
                                  "seconds": _time.perf_counter() - started})


def _time_parts(problem, compiled):
    """The interior equations, boundary conditions and initial conditions of a time-dependent
    ``problem`` and the highest time order of its interior equations; ``NotImplementedError``
    naming what is outside the time stepping (no interior equation or no time derivative in it,
    a time derivative in a boundary condition, no initial condition)."""
    interior, boundary, initial = _classify(problem, compiled)
    if not interior:
        raise NotImplementedError(f"FD lowering of the time-dependent problem '{problem.name}' needs an interior "
                                  "equation")
    order = max(f.max_time_order for f in interior)
    if order == 0:
        raise NotImplementedError(f"FD lowering of the time-dependent problem '{problem.name}': the interior "
                                  "equations contain no time derivative")
    for f, _ in boundary:
        if f.max_time_order:
            raise NotImplementedError(f"FD lowering: time derivatives in boundary conditions (term "
                                      f"'{f.term.name}') are not lowered")
    if not initial:
        raise NotImplementedError(f"FD lowering of the time-dependent problem '{problem.name}' needs initial "
                                  "conditions (pr.Initial(Eq(u, u0)))")
    return interior, boundary, initial, order


class _Evolution:
    r"""The lowered system :math:`M_2 u'' + M_1 u' + L u + f = 0` of a time-dependent problem at
    any time: the interior rows evolve (``P_dyn``), the boundary rows constrain (``P_con``);
    the matrices are assembled again only when their coefficients depend on time, ``f`` only
    in the blocks whose rest does."""

    def __init__(self, problem, grid, blocks, t0: float):
        self.problem, self.grid, self.blocks, self.t0 = problem, grid, blocks, t0
        self.C, self.N = problem.n_outputs, grid.size
        self.inner = np.flatnonzero(np.tile(grid.interior_mask(), self.C))
        dyn = np.zeros(self.C * self.N, dtype=bool)
        dyn[self.inner] = True
        self.P_dyn = sp.diags(dyn.astype(np.float64), format="csr")
        self.P_con = sp.diags((~dyn).astype(np.float64), format="csr")
        self.coef_t = any(b.form.coefficients_depend_on_time for b in blocks)
        self.rest_t = any(b.form.rest_depends_on_time for b in blocks)
        self.system = _assemble(problem, grid, blocks, t0)

    def f_at(self, t):
        """The source vector at time ``t``."""
        if not self.rest_t:
            return self.system.f
        f, N = self.system.f.copy(), self.N
        timed = [b for b in self.blocks if b.form.rest_depends_on_time]
        fresh = _assemble(self.problem, self.grid, timed, t, rest_only="time").f
        for b in timed:
            use = b.rows if b.rows is not None else range(len(b.form.residuals))
            for s, _ in zip(b.slots, use):
                f[s * N + b.nodes] = fresh[s * N + b.nodes]
        return f

    def at(self, t):
        """The system at time ``t``."""
        return _assemble(self.problem, self.grid, self.blocks, t) if self.coef_t else self.system


def _leapfrog_dt(ev: _Evolution, Minv, dt, cfl: float, span: float) -> float:
    r"""The leapfrog step: ``dt`` when given (a warning when it exceeds the stability bound
    :math:`2/\sqrt{
ho(M_2^{-1}L)}`), else ``cfl`` times that bound (``span`` for a system without one)."""
    A = (Minv @ (ev.P_dyn @ ev.system.L)).tocsr()
    rho = float(np.max(np.asarray(abs(A).sum(axis=1)).ravel()))
    dt_max = 2.0 / math.sqrt(rho) if rho > 0 else span
    if dt is not None and dt > dt_max:
        log.warning("FD leapfrog: dt=%g exceeds the stability bound %g", dt, dt_max)
    return dt if dt is not None else cfl * dt_max


def _leapfrog(ev: _Evolution, Minv, u0, v0, step: float, per_slice: int, n_steps: int) -> list:
    """Second-order stepping from ``u0``, ``v0``: ``u0``, then every ``per_slice``-th of
    ``n_steps`` states ``step`` apart (the first from a Taylor step with the initial acceleration)."""
    t0, P_dyn, P_con = ev.t0, ev.P_dyn, ev.P_con

    def lhs(s):
        return (s.M2 / step**2 + s.M1 / (2 * step) + P_con @ s.L).tocsc()
    S = ev.at(t0 + step)
    lu = _Factor(lhs(S))
    s0 = ev.at(t0)
    a0 = -(Minv @ (P_dyn @ (s0.M1 @ v0 + s0.L @ u0 + ev.f_at(t0))))
    cand = u0 + step * v0 + 0.5 * step**2 * a0
    b = (S.M2 / step**2 + S.M1 / (2 * step)) @ cand - P_con @ ev.f_at(t0 + step)
    out = [u0]
    prev, cur = u0, lu.solve(b)
    if per_slice == 1:
        out.append(cur)
    for n in range(1, n_steps):
        t, tn = t0 + n * step, t0 + (n + 1) * step
        s = ev.at(t)
        if ev.coef_t:
            lu = _Factor(lhs(ev.at(tn)))
        fn = ev.f_at(t)
        b = P_dyn @ (s.M2 @ (2 * cur - prev) / step**2 + s.M1 @ prev / (2 * step) - s.L @ cur - fn) \
            - P_con @ ev.f_at(tn)
        prev, cur = cur, lu.solve(b)
        if (n + 1) % per_slice == 0:
            out.append(cur)
    return out


def _crank_nicolson(ev: _Evolution, u0, step: float, per_slice: int, n_steps: int) -> list:
    """First-order stepping from ``u0``: ``u0``, then every ``per_slice``-th of ``n_steps``
    states ``step`` apart."""
    if ev.system.M1[ev.inner].nnz == 0:
        raise NotImplementedError("FD lowering: no u_t coefficient in the interior equations")
    t0, P_dyn, P_con = ev.t0, ev.P_dyn, ev.P_con

    def lhs(s):
        return (s.M1 / step + 0.5 * (P_dyn @ s.L) + P_con @ s.L).tocsc()
    lu = _Factor(lhs(ev.system))
    out = [u0]
    cur, f_prev = u0, ev.f_at(t0)
    for n in range(n_steps):
        t, tn = t0 + n * step, t0 + (n + 1) * step
        s = ev.at(t)
        if ev.coef_t:
            lu = _Factor(lhs(ev.at(tn)))
        fn = ev.f_at(tn)
        b = P_dyn @ (s.M1 @ cur / step - 0.5 * (s.L @ cur) - 0.5 * (f_prev + fn)) - P_con @ fn
        cur, f_prev = lu.solve(b), fn
        if (n + 1) % per_slice == 0:
            out.append(cur)
    return out


def _strided(vals: np.ndarray, grid: VertexGrid, stride: int) -> tuple[np.ndarray, VertexGrid]:
    """``vals`` ``(*grid.shape, slices, C)`` and ``grid`` kept at every ``stride``-th node per axis."""
    if stride == 1:
        return vals, grid
    if any(n % stride for n in grid.cells):
        raise ValueError(f"FD stride {stride} must divide the cell counts {grid.cells}")
    vals = vals[tuple(slice(None, None, stride) for _ in grid.cells)]
    return vals, VertexGrid(grid.names, grid.bounds, tuple(n // stride for n in grid.cells))
