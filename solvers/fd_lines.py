r"""The reference of a 1-D evolution equation by the method of lines.

On ``Interval * TimeInterval`` the interior equations — one per field, nonlinear allowed — are
solved for the time derivatives (:func:`~pinr.solvers.fd_statement.solve_for`),

.. math:: \partial_t u_c = F_c(x, t, u, u_x, u_{xx}),

as for Burgers :math:`u_t + u u_x = \nu u_{xx}`, Allen–Cahn :math:`u_t = \epsilon u_{xx} + u - u^3`
or a reaction–diffusion system. On the vertex grid :math:`x_i = a + ih`, :math:`i = 0..n`, the
derivatives are central differences, :math:`u_x \approx (u_{i+1} - u_{i-1})/2h` and
:math:`u_{xx} \approx (u_{i+1} - 2u_i + u_{i-1})/h^2` (second order), and the nodal values obey an
ODE system integrated by BDF (``rtol`` 1e-8, ``atol`` 1e-10) with the Jacobian's sparsity pattern
(``jac_sparsity``: neighbours only, so scipy forms it with three grouped evaluations per field).

Conditions, as stated:

- ``pr.Periodic(x)``: node :math:`n` is node 0 and the stencils wrap around;
- a value condition on a side, :math:`g(u, x, t) = 0` solved for :math:`u` (Dirichlet, time
  dependent allowed): the side's node follows it and carries no equation;
- a condition with :math:`\partial_n u` (Neumann, Robin, nonlinear flux :math:`\partial_n u = h(u)`)
  solved for :math:`u_x`: the side's node carries the equation, with the ghost node
  :math:`u_{-1} = u_1 - 2h\,u_x` (and :math:`u_{n+1} = u_{n-1} + 2h\,u_x`), second order;
- an initial condition :math:`u(x, t_0) = u_0(x)`.

A field with a value condition on a side whose equation also reads another field's derivatives
there gets that field's ghost by cubic extrapolation (second order too). The default resolution
is 256 cells, doubled (up to 4096) until the cell Péclet number :math:`|\partial F/\partial u_x|\,h /
\partial F/\partial u_{xx}` of the initial state is at most 2, where central differences stay free
of wiggles. The result is a :class:`~pinr.solvers.GridSolution` on the nodes at ``slices``
equally spaced times (default 101), as the linear lowering's.
"""

from __future__ import annotations

import logging
import time as _time

import numpy as np
import scipy.sparse as sp
import sympy
from scipy.integrate import solve_ivp

from pinr.domains import Interval, SpaceTime
from pinr.domains.base import AbstractBoundary, AbstractInitial, AbstractInterior
from pinr.solution import GridSolution

from .fd_lowering import VertexGrid, _single_threaded
from .fd_statement import Atoms, read_residuals, solve_for

__all__ = ["is_evolution_1d", "method_of_lines"]

log = logging.getLogger(__name__)

_SECOND = (2, 0)  # orders (x, t) of the atoms F may read: u, u_x, u_xx
_ALLOWED = {(0, 0), (1, 0), _SECOND}


def is_evolution_1d(problem) -> bool:
    """Whether the method of lines is the reference of ``problem``: a field on an Interval times a
    TimeInterval whose interior equations are nonlinear in the unknowns, or that is periodic in x
    (linear statements with boundary conditions keep Crank–Nicolson, :mod:`~pinr.solvers.fd_lowering`)."""
    dom = problem.domain
    if not (isinstance(dom, SpaceTime) and isinstance(dom.space, Interval)):
        return False
    if problem.periodic:
        return True
    atoms = Atoms(problem, {})
    for c in problem.conditions:
        if isinstance(c.on, AbstractInterior):
            try:
                residuals = read_residuals(problem, c, atoms)
            except NotImplementedError:  # data in the equation: the linear lowering reads it
                return False
            for r in residuals:
                syms = set(atoms.symbols.values())
                if any(sympy.diff(r, s).free_symbols & syms for s in r.free_symbols & syms):
                    return True
    return False


class _Statement:
    """The statement read for the method of lines: ``F`` per field, side conditions, initial values."""

    def __init__(self, problem):
        dom = problem.domain
        self.problem, self.atoms = problem, Atoms(problem, {})
        self.x, self.t = dom.coords
        self.periodic = bool(problem.periodic)
        self.C = problem.n_outputs
        equations, initial, sides = [], [], {"x-": [], "x+": []}
        for c in problem.conditions:
            if isinstance(c.on, AbstractInterior):
                equations += read_residuals(problem, c, self.atoms)
            elif isinstance(c.on, AbstractInitial):
                initial += read_residuals(problem, c, self.atoms)
            elif isinstance(c.on, AbstractBoundary):
                for side in c.on.sides or ("x-", "x+"):
                    normal = {self.x: -1 if side == "x-" else 1}
                    sides[side] += [(c.name, r) for r in read_residuals(problem, c, self.atoms, normal=normal)]
            else:
                raise NotImplementedError(f"condition '{c.name}' of '{problem.name}' holds on {c.on!r}; the method of "
                                          "lines reads the interior, the sides x-/x+ and the initial time")
        self.F = self._equations(equations)
        self.sides = self._sides(sides)
        self.u0 = self._initial(initial)

    def _name(self, key):
        return str(self.atoms(*key))

    def _equations(self, equations):
        problem, C = self.problem, self.C
        if len(equations) != C:
            raise NotImplementedError(f"'{problem.name}' states {len(equations)} equation(s) for {C} field(s) "
                                      f"{list(problem.fields)}; the method of lines needs one per field")
        for r in equations:
            for c, o in self.atoms.keys_in(r):
                if o == (0, 1) or o in _ALLOWED:
                    continue
                why = "a mixed derivative" if o[0] and o[1] else "second order in time" if o[1] else \
                    "of order above two in space"
                raise NotImplementedError(
                    f"{self._name((c, o))} in the equations of '{problem.name}' is {why}; the method of lines "
                    "lowers u_t = F(x, t, u, u_x, u_xx)")
        seen = {k for r in equations for k in self.atoms.keys_in(r)}
        for c in range(C):
            if (c, (0, 1)) not in seen:
                raise NotImplementedError(f"field {problem.fields[c]} of '{problem.name}' has no time derivative in "
                                          "the equations; the method of lines lowers u_t = F(x, t, u, u_x, u_xx)")
        rates = [self.atoms(c, (0, 1)) for c in range(C)]
        return solve_for(equations, rates, f"the equations of '{problem.name}'")

    def _sides(self, sides):
        problem = self.problem
        if self.periodic:
            stated = [name for side in sides.values() for name, _ in side]
            if stated:
                raise NotImplementedError(f"'{problem.name}' is periodic in {self.x} and states the boundary "
                                          f"condition '{stated[0]}' too; drop one")
            return {}
        out = {}
        for side, conditions in sides.items():
            for name, r in conditions:
                keys = self.atoms.keys_in(r)
                fields = {c for c, _ in keys}
                if len(fields) != 1 or any(o not in ((0, 0), (1, 0)) for _, o in keys):
                    raise NotImplementedError(
                        f"boundary condition '{name}' of '{problem.name}' on {side} reads "
                        f"{sorted(map(self._name, keys))}; "
                        "the method of lines takes one field's value or normal derivative per condition")
                (c,) = fields
                if (side, c) in out:
                    raise NotImplementedError(f"'{problem.name}' states two conditions for {problem.fields[c]} on "
                                              f"{side}; state one per field and side")
                if (c, (1, 0)) in keys:
                    (g,) = solve_for([r], [self.atoms(c, (1, 0))], f"boundary condition '{name}'")
                    out[side, c] = ("flux", sympy.lambdify([self.x, self.t, self.atoms(c, (0, 0))], g, "numpy"))
                else:
                    (g,) = solve_for([r], [self.atoms(c, (0, 0))], f"boundary condition '{name}'")
                    out[side, c] = ("value", sympy.lambdify([self.x, self.t], g, "numpy"))
        for side in ("x-", "x+"):
            for c in range(self.C):
                if (side, c) not in out:
                    f = problem.fields[c]
                    raise NotImplementedError(
                        f"'{problem.name}' gives no condition for {f} on {side}; add "
                        f"pr.Boundary(Eq({f}, ...), on='{side}') or pr.Periodic({self.x})")
        return out

    def _initial(self, initial):
        problem = self.problem
        t0 = float(problem.domain.time_interval.t0)
        given = [r.xreplace({self.t: t0}) for r in initial]
        keys = {k for r in given for k in self.atoms.keys_in(r)}
        other = sorted(self._name(k) for k in keys if k[1] != (0, 0))
        if other:
            raise NotImplementedError(f"the initial conditions of '{problem.name}' read {other}; the method of lines "
                                      "takes values u(x, t0) = u0(x)")
        missing = [problem.fields[c] for c in range(self.C) if (c, (0, 0)) not in keys]
        if missing or len(given) != self.C:
            raise NotImplementedError(f"'{problem.name}' needs one initial value per field at t = {t0:g}"
                                      + (f"; add pr.Initial(Eq({missing[0]}, ...))" if missing else ""))
        values = solve_for(given, [self.atoms(c, (0, 0)) for c in range(self.C)],
                           f"the initial conditions of '{problem.name}'")
        return [sympy.lambdify([self.x], v, "numpy") for v in values]


class _Lines:
    """The semi-discrete system on ``n`` cells: state = each field's nodes that carry an equation."""

    def __init__(self, st: _Statement, n: int):
        dom = st.problem.domain
        (lo, hi), = dom.space.bounds
        self.st, self.n, self.h = st, n, (hi - lo) / n
        self.nodes = lo + self.h * np.arange(n + 1)
        C = st.C
        self.args = [s for c in range(C) for s in (st.atoms(c, (0, 0)), st.atoms(c, (1, 0)), st.atoms(c, _SECOND))]
        self.F = sympy.lambdify([st.x, st.t, *self.args], st.F, "numpy", cse=True)
        if st.periodic:
            self.dyn = [np.arange(n)] * C
        else:
            self.dyn = [np.array([i for i, side in ((0, "x-"), *((j, None) for j in range(1, n)), (n, "x+"))
                                  if side is None or st.sides[side, c][0] == "flux"]) for c in range(C)]
        self.offsets = np.cumsum([0] + [len(d) for d in self.dyn])

    def padded(self, t: float, y: np.ndarray) -> np.ndarray:
        """Every field on the nodes with one ghost node per end, ``(C, n + 3)``."""
        n, h, st = self.n, self.h, self.st
        W = np.zeros((st.C, n + 3))
        for c in range(st.C):
            w = W[c]
            w[1 + self.dyn[c]] = y[self.offsets[c]:self.offsets[c + 1]]
            if st.periodic:
                w[n + 1], w[0], w[n + 2] = w[1], w[n], w[2]
                continue
            for side, node in (("x-", 1), ("x+", n + 1)):
                kind, g = st.sides[side, c]
                if kind == "value":
                    w[node] = g(self.nodes[node - 1], t)
            for side, node, sign in (("x-", 1, -1), ("x+", n + 1, 1)):
                kind, g = st.sides[side, c]
                ghost = node + sign
                if kind == "flux":
                    w[ghost] = w[node - sign] + sign * 2 * h * g(self.nodes[node - 1], t, w[node])
                else:  # cubic extrapolation, read only by other fields' equations
                    w[ghost] = 4 * w[node] - 6 * w[node - sign] + 4 * w[node - 2 * sign] - w[node - 3 * sign]
        return W

    def rates(self, t: float, y: np.ndarray) -> np.ndarray:
        W = self.padded(t, y)
        h = self.h
        cols = []
        for w in W:
            cols += [w[1:-1], (w[2:] - w[:-2]) / (2 * h), (w[2:] - 2 * w[1:-1] + w[:-2]) / h**2]
        F = self.F(self.nodes, t, *cols)
        return np.concatenate([np.broadcast_to(f, self.nodes.shape)[d] for f, d in zip(F, self.dyn)])

    def sparsity(self) -> sp.csr_matrix:
        """Which rates depend on which state entries: neighbours, wrapped when periodic; the
        cubic ghost's four nodes at a side; field k in field c's rate when F_c reads field k."""
        n, st = self.n, self.st
        P = sp.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(n + 1, n + 1), format="lil")
        if st.periodic:
            P = P[:n, :n]
            P[0, n - 1] = P[n - 1, 0] = 1
        else:
            P[0, :4] = 1
            P[n, n - 3:] = 1
        P = P.tocsr()
        blocks = []
        for c in range(st.C):
            free = st.F[c].free_symbols
            row = []
            for k in range(st.C):
                reads = c == k or any(self.args[3 * k + j] in free for j in range(3))
                block = P[self.dyn[c]][:, self.dyn[k]]
                row.append(block if reads else sp.csr_matrix(block.shape))
            blocks.append(row)
        return sp.bmat(blocks, format="csr")

    def full(self, t: float, y: np.ndarray) -> np.ndarray:
        """Every field at every node ``(n + 1, C)``."""
        return self.padded(t, y)[:, 1:-1].T


def _default_cells(st: _Statement, lo: float, hi: float) -> int:
    """256 cells, doubled up to 4096 until the initial cell Péclet number is at most 2."""
    x = np.linspace(lo, hi, 257)
    pe = 0.0
    for c, F in enumerate(st.F):
        a, d = (sympy.diff(F, st.atoms(c, o)) for o in ((1, 0), _SECOND))
        if d == 0 or a == 0:
            continue
        subs = [st.atoms(k, (0, 0)) for k in range(st.C)]
        rest = sorted((a.free_symbols | d.free_symbols) - {st.x, st.t, *subs}, key=str)
        if rest:  # reads derivatives of the initial state: leave it to the user's resolution
            continue
        t0 = float(st.problem.domain.time_interval.t0)
        u0 = [np.broadcast_to(f(x), x.shape) for f in st.u0]
        fa = sympy.lambdify([st.x, st.t, *subs], a, "numpy")
        fd = sympy.lambdify([st.x, st.t, *subs], d, "numpy")
        av, dv = np.abs(np.broadcast_to(fa(x, t0, *u0), x.shape)), np.broadcast_to(fd(x, t0, *u0), x.shape)
        ok = dv > 0
        if ok.any():
            pe = max(pe, float((av[ok] / dv[ok]).max()))
    n = 256
    while n < 4096 and pe * (hi - lo) / n > 2:
        n *= 2
    return n


def method_of_lines(problem, *, resolution: int | None = None, slices: int | None = None, rtol: float = 1e-8,
                    atol: float = 1e-10) -> GridSolution:
    """Solve the 1-D evolution equation ``problem`` by the method of lines (see the module) on
    ``resolution`` cells; returns ``slices`` time levels (default 101) on the nodes."""
    with _single_threaded():
        return _method_of_lines(problem, resolution, slices, rtol, atol)


def _method_of_lines(problem, resolution, slices, rtol, atol):
    started = _time.perf_counter()
    dom = problem.domain
    if not (isinstance(dom, SpaceTime) and isinstance(dom.space, Interval)):
        raise NotImplementedError(f"the method of lines needs an Interval times a TimeInterval, got {dom!r}")
    st = _Statement(problem)
    (lo, hi), = dom.space.bounds
    n = int(resolution) if resolution is not None else _default_cells(st, lo, hi)
    if n < 4:
        raise ValueError(f"the method of lines needs at least 4 cells, got resolution={n}")
    lines = _Lines(st, n)
    t0, t1 = float(dom.time_interval.t0), float(dom.time_interval.t1)
    times = np.linspace(t0, t1, max(2, int(slices or 101)))
    y0 = np.concatenate([np.broadcast_to(np.asarray(f(lines.nodes), dtype=np.float64), lines.nodes.shape)[d]
                         for f, d in zip(st.u0, lines.dyn)])
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        # a rejected trial step may overflow (BDF then shrinks it); whether one does depends on the
        # BLAS's rounding, so its warning must not decide a run: the result is checked instead
        sol = solve_ivp(lines.rates, (t0, t1), y0, method="BDF", t_eval=times, jac_sparsity=lines.sparsity(),
                        rtol=rtol, atol=atol)
    if sol.success and not np.all(np.isfinite(sol.y)):
        sol.success, sol.message = False, "the solution is not finite"
    if not sol.success:
        raise ValueError(f"the method of lines for '{problem.name}' stopped at t = {sol.t[-1]:g}: {sol.message}; "
                         "the solution may blow up, or raise the resolution")
    values = np.stack([lines.full(tk, yk) for tk, yk in zip(sol.t, sol.y.T)], axis=1)  # (n + 1, slices, C)
    grid = VertexGrid((st.x.name,), np.array([[lo, hi]], dtype=np.float64), (n,))
    return GridSolution(values, grid.as_grid(times, st.t.name), fields=problem.fields, coords=dom.coords,
                        metadata={"solver": "fd", "kind": "lines", "grid": "vertex", "cells": [n], "method": "BDF",
                                  "rtol": rtol, "atol": atol, "evaluations": int(sol.nfev),
                                  "periodic": st.periodic, "seconds": _time.perf_counter() - started})
