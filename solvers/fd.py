r"""Finite-difference reference solutions lowered from the same :class:`~pinr.Problem`.

Two paths, chosen from the statement:

- **general lowering** (:mod:`pinr.solvers.fd_lowering`) for linear problems on boxes with
  boundary and/or initial conditions: variable and complex coefficients, first, second and
  mixed derivatives, Dirichlet/Neumann/Robin conditions; stationary problems become one
  sparse LU solve (complex128 when the statement is complex), second order in time is
  stepped by leapfrog with :math:`\Delta t` from the CFL bound, first order in time by
  Crank–Nicolson. The grid is a vertex grid (boundary nodes included) of ``resolution``
  cells along the longest side.
- **gradient with boundary values on a pixel grid** (gradient-domain compositing): on a
  :class:`~pinr.Grid`, :math:`\nabla u = g` on the interior and :math:`a u = f` on the
  boundary or some of its sides is :math:`\min_u \|\nabla_h u - g\|^2` on the staggered grid
  with :math:`u = -f/a` on the outermost cells of those sides (half a cell inside the box:
  the cell-centred grid has no nodes on it), a sparse direct solve
  (:func:`~pinr.solvers.fd_poisson.poisson_from_gradient_fixed`).
- **interior-only stationary statements** (no boundary conditions: fitting and Poisson
  image problems) on the cell-centred grid, of three kinds:

  - *no derivatives* (fitting): :math:`a\,u = f(x)` gives :math:`u = f/a` at the cell centres;
  - *gradient* (Poisson from a gradient field): :math:`\nabla u = g` is solved in the least-
    squares sense with forward differences on the staggered grid,
    :math:`\min_u \|\nabla_h u - g\|^2 \iff \Delta_h u = \operatorname{div}_h g` (Neumann), where
    :math:`g_x` is read at the x-faces and :math:`g_y` at the y-faces between cell centres;
  - *Laplacian*: :math:`c\,\Delta u = f` with the 5-point Neumann Laplacian.

  Both Poisson kinds are solved exactly by the DCT (:mod:`pinr.solvers.fd_poisson`) and fix
  the free constant by a zero mean.

- **ODE systems** on a :class:`~pinr.TimeInterval` alone, of any order and nonlinear
  (:mod:`pinr.solvers.fd_ivp`): the first-order system with LSODA at tolerances 1e-10/1e-12, a
  :class:`~pinr.solvers.DenseSolution`.
- **1-D evolution equations** :math:`u_t = F(x, t, u, u_x, u_{xx})` on ``Interval * TimeInterval``
  that are nonlinear or periodic (:mod:`pinr.solvers.fd_lines`): the method of lines, central
  differences and BDF with the Jacobian's sparsity pattern.

Anything else (nonlinear terms elsewhere, unsupported geometry or regions) raises
``NotImplementedError`` in one line naming what is unsupported.
"""

from __future__ import annotations

import numpy as np
import sympy
import torch

from pinr.compiler import compile_problem
from pinr.domains import Grid, TimeInterval
from pinr.domains.base import AbstractBoundary, AbstractBoundaryPart, AbstractInterior
from pinr.solution import AbstractSolution, GridSolution, grid_of

from .fd_ivp import solve_ode
from .fd_lines import is_evolution_1d, method_of_lines
from .fd_lowering import _space_of, lower_stationary, lower_time_dependent
from .fd_poisson import poisson_from_gradient, poisson_from_gradient_fixed, solve_neumann_poisson

__all__ = ["FDSolver"]


class FDSolver:
    """Finite-difference reference for ``problem``.

    Options (keyword-only; a catalogue case names its own in ``Case.fd``):
    ``resolution`` (cells along the longest side; default the problem's grid, else 256; the method
    of lines raises its default with the cell Péclet number; an ODE's dense solution is plotted and
    compared on ``resolution`` times, default 1024), ``dt`` (time step; default from the CFL bound
    for leapfrog, ``T/resolution`` for Crank–Nicolson), ``cfl`` (fraction of the leapfrog
    stability bound, default 0.5), ``slices`` (stored time levels, default 41; 101 for the method
    of lines), ``stride`` (store every ``stride``-th node per spatial axis, default 1). The forward
    problem only: observations are data, not part of the statement, and trainable parameters must
    be fixed first (``problem.fixed(...)``): a reference at their starting values would judge an
    inverse problem's answer against the wrong parameters.
    """

    def __init__(self, problem, *, resolution: int | None = None, dt: float | None = None, cfl: float | None = None,
                 slices: int | None = None, stride: int | None = None):
        if problem.trainable:
            names = ", ".join(problem.trainable)
            raise NotImplementedError(
                f"problem {problem.name!r} has trainable parameters ({names}), unknowns the FD reference cannot "
                f"solve for; fix them to get the forward reference: pr.reference(problem.fixed({names.split(', ')[0]}"
                f"=...))")
        if not problem.conditions:
            raise NotImplementedError(f"problem {problem.name!r} states only observations; the FD reference "
                                      "needs equations")
        sided = [c.name for c in problem.conditions if c.sided]
        if sided:
            raise NotImplementedError(f"problem {problem.name!r} classifies (conditions {sided} compare a logit with "
                                      "labels by binary cross-entropy); the FD reference solves equations")
        parts = [c for c in problem.conditions if isinstance(c.on, AbstractBoundaryPart)]
        if parts:
            raise NotImplementedError(
                f"the FD reference does not lower conditions on a part of a boundary: condition '{parts[0].name}' "
                f"is on {parts[0].on.name} of {problem.domain!r}; it lowers boxes and their sides (boundary['x-']): "
                "train the PINN, or give the problem an exact solution")
        #: "ivp" (ODE system), "lines" (1-D evolution equation) or "lowering" (linear, on boxes)
        self.kind = "ivp" if isinstance(problem.domain, TimeInterval) else \
            "lines" if is_evolution_1d(problem) else "lowering"
        if self.kind == "lowering":
            _space_of(problem)  # boxes only: every lowering below works on the bounding-box lattice
        # the reference solves the statement for the whole field: a known part (a subtracted singular
        # part, pinr.symbolic.known) only shapes what a network learns
        self.problem = problem.replace(known={}) if problem.known else problem
        self.resolution = resolution
        self.dt = dt
        self.cfl = float(cfl if cfl is not None else 0.5)
        self.slices = int(slices) if slices is not None else None  # None: each path's default
        self.stride = int(stride if stride is not None else 1)
        self.grid = grid_of(problem.domain, self.resolution if self.resolution is not None else
                            (None if isinstance(problem.domain, Grid) else 256))

    def solve(self) -> AbstractSolution:
        problem = self.problem
        if self.kind == "ivp":
            return solve_ode(problem, resolution=self.resolution)
        if self.kind == "lines":
            return method_of_lines(problem, resolution=self.resolution, slices=self.slices)
        if problem.domain.time is not None:
            return lower_time_dependent(problem, resolution=self.resolution, dt=self.dt, cfl=self.cfl,
                                        slices=self.slices or 41, stride=self.stride)
        if any(not isinstance(c.on, AbstractInterior) for c in problem.conditions):
            if isinstance(problem.domain, Grid):
                fixed = self._gradient_with_values(compile_problem(problem))
                if fixed is not None:
                    return self._solve_gradient_fixed(*fixed)
            return lower_stationary(problem, resolution=self.resolution)
        compiled = compile_problem(problem)
        linear = [self._linear(t) for t in compiled.terms]
        kinds = {k for terms in linear for k, *_ in terms}
        if kinds == {"value"}:
            return self._solve_values(linear)
        if problem.n_outputs != 1:
            raise NotImplementedError("FD lowering of derivative equations without boundary conditions handles one "
                                      f"scalar field; this problem has {list(problem.fields)}")
        if problem.domain.dim != 2:
            raise NotImplementedError(f"FD Poisson lowering without boundary conditions needs a 2-D domain, got "
                                      f"{problem.domain.dim}-D; state boundary conditions for the general lowering")
        if kinds == {"first"}:
            return self._solve_gradient(linear)
        if kinds == {"laplacian"}:
            return self._solve_laplacian(linear)
        raise NotImplementedError(f"FD lowering of a mixture of {sorted(kinds)} terms without boundary conditions is "
                                  "not implemented; supported: u = f, grad(u) = g, lap(u) = f, or any linear "
                                  "statement with boundary conditions")

    # ------------------------------------------------------------------------ analysis
    def _linear(self, term):
        """Split each residual as ``a·atom + rest(x)``; returns (kind, atom, a, residual index, term)."""
        e = term.expression
        out = []
        for i, r in enumerate(e.symbolic):
            syms = [s for s in (*e.atom_symbols, *e.combo_symbols) if r.has(s)]
            if len(syms) != 1:
                raise NotImplementedError(f"FD lowering: residual {e.exprs[i]} of term '{term.name}' couples "
                                          f"{len(syms)} derivative atoms; supported forms are u = f, "
                                          "grad(u) = g, lap(u) = f")
            (s,) = syms
            a = sympy.diff(r, s)
            if a.free_symbols:
                raise NotImplementedError(f"FD lowering: coefficient {a} in term '{term.name}' is not a constant "
                                          "(nonlinear or variable-coefficient terms are not lowered yet)")
            a = float(a)
            if s in e.atom_symbols:
                atom = e.atoms[e.atom_symbols.index(s)]
                kind = {0: "value", 1: "first"}.get(atom.order)
                if kind is None:
                    raise NotImplementedError(f"FD lowering: derivative of order {atom.order} alone in term "
                                              f"'{term.name}' is not supported")
            else:
                combo = e.combos[e.combo_symbols.index(s)]
                coefs = [float(sympy.sympify(e.coefficient_exprs[k])) if not
                         sympy.sympify(e.coefficient_exprs[k]).free_symbols else None for k in combo.coefficients]
                if sorted(combo.orders) != [(0, 2), (2, 0)] or coefs[0] is None or coefs[0] != coefs[1]:
                    raise NotImplementedError(f"FD lowering: only the Laplacian is supported among second-order "
                                              f"operators, got {e.exprs[i]} in term '{term.name}'")
                atom, a, kind = combo, a * coefs[0], "laplacian"
            out.append((kind, atom, a, i, term))
        return out

    def _gradient_with_values(self, compiled):
        """(interior linear forms, boundary linear forms) when the statement is a scalar
        gradient equation on the interior with value conditions on boundary sides, else None."""
        if self.problem.n_outputs != 1 or self.problem.domain.dim != 2:
            return None
        interior = [t for t in compiled.terms if isinstance(t.region, AbstractInterior)]
        boundary = [t for t in compiled.terms if isinstance(t.region, AbstractBoundary)]
        if not boundary or len(interior) + len(boundary) != len(compiled.terms):
            return None
        try:
            li, lb = [self._linear(t) for t in interior], [self._linear(t) for t in boundary]
        except NotImplementedError:
            return None
        if {k for ts in li for k, *_ in ts} != {"first"} or {k for ts in lb for k, *_ in ts} != {"value"}:
            return None
        return li, lb

    def _solve_gradient_fixed(self, interior, boundary):
        g = self.grid
        nx, ny = g.shape
        pts = g.points(dtype=torch.float64).numpy().reshape(nx, ny, 2)
        values, fixed = np.zeros((nx, ny)), np.zeros((nx, ny), dtype=bool)
        rings = {"x-": (0, slice(None)), "x+": (nx - 1, slice(None)), "y-": (slice(None), 0),
                 "y+": (slice(None), ny - 1)}
        for terms in boundary:
            for _, _, a, i, term in terms:
                for side in term.region.sides or tuple(rings):
                    cells = rings[side]
                    values[cells] = -self._rest(term, i, pts[cells]) / a
                    fixed[cells] = True
        gx, gy = self._face_gradient(interior)
        u = poisson_from_gradient_fixed(gx, gy, *g.spacing, values.T, fixed.T).T
        return GridSolution(u, g, fields=self.problem.fields, metadata={"solver": "fd", "kind": "gradient+values"})

    def _face_gradient(self, linear):
        """The gradient equation's data at the cell faces, ``(gx (ny, nx-1), gy (ny-1, nx))``."""
        g = self.grid
        hx, hy = g.spacing
        xs, ys = g.lattice(g.shape)
        faces = {0: (xs[:-1] + hx / 2, ys), 1: (xs, ys[:-1] + hy / 2)}
        comps: dict[int, np.ndarray] = {}
        for terms in linear:
            for _, atom, a, i, term in terms:
                axis = atom.orders.index(1)
                fx, fy = faces[axis]
                X, Y = np.meshgrid(fx, fy, indexing="ij")
                vals = -self._rest(term, i, np.stack([X.ravel(), Y.ravel()], -1)) / a
                comps[axis] = vals.reshape(X.shape).T  # fd_poisson arrays are (ny, nx)
        if set(comps) != {0, 1}:
            raise NotImplementedError("FD lowering of a gradient equation needs both components (u_x and u_y)")
        return comps[0], comps[1]

    def _rest(self, term, index: int, points: np.ndarray) -> np.ndarray:
        """``rest(x)`` of residual ``index`` at points ``(N, d)`` (atoms set to zero)."""
        e = term.expression
        p = torch.as_tensor(points, dtype=torch.float64)
        zeros = [torch.zeros(p.shape[0], dtype=torch.float64)] * len(e.atoms)
        czeros = [torch.zeros(p.shape[0], dtype=torch.float64)] * len(e.combos)
        return e(p, None, zeros, czeros)[index].numpy()

    # ------------------------------------------------------------------------- solvers
    def _solve_values(self, linear):
        g = self.grid
        pts = g.points(dtype=torch.float64).numpy()
        values = np.full((pts.shape[0], self.problem.n_outputs), np.nan)
        for terms in linear:
            for _, atom, a, i, term in terms:
                values[:, atom.component] = -self._rest(term, i, pts) / a
        missing = [f for c, f in enumerate(self.problem.fields) if np.isnan(values[:, c]).all()]
        if missing:
            raise NotImplementedError(f"FD lowering: no equation determines {missing}")
        return GridSolution(values.reshape(*g.shape, -1), g, fields=self.problem.fields,
                            metadata={"solver": "fd", "kind": "values"})

    def _solve_gradient(self, linear):
        g = self.grid
        u = poisson_from_gradient(*self._face_gradient(linear), *g.spacing).T
        return GridSolution(u, g, fields=self.problem.fields, metadata={"solver": "fd", "kind": "gradient"})

    def _solve_laplacian(self, linear):
        g = self.grid
        (hx, hy) = g.spacing
        pts = g.points(dtype=torch.float64).numpy()
        ((_, _, a, i, term),) = [t for terms in linear for t in terms]
        f = (-self._rest(term, i, pts) / a).reshape(g.shape)
        u = solve_neumann_poisson(f.T, hx, hy).T
        return GridSolution(u, g, fields=self.problem.fields, metadata={"solver": "fd", "kind": "laplacian"})
