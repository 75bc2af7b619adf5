r"""The PINN suite's cases (:mod:`pinr.bench.suite` runs them): problems with exact solutions or
fine references, each stated once for pinr, with the grid and reference it is scored on.

Floor: the bench wing (above the api, below the cli); a case is registered in :data:`CASES`, a
:class:`~pinr.catalogue.Catalogue` like :mod:`pinr.problems`' own.

Each case states a problem once for pinr (a :class:`~pinr.Problem`) and builds the same
statement for DeepXDE; both are scored on one fixed evaluation grid against the exact solution
or a reference computed here by scipy/numpy:

=====================  ===============================================================================================
``poisson-1d``         :math:`u'' = -\pi^2\sin\pi x` on [0, 1], u = 0 at both ends; exact sin πx
``poisson-2d``         :math:`\Delta u = -2\pi^2\sin\pi x\sin\pi y` on [0, 1]², u = 0 on the wall
``poisson-lshape``     :math:`-\Delta u = 1` on [−1, 1]² minus [0, 1]², u = 0; FD reference (h = 1/200)
``heat-2d``            :math:`u_t = \nabla\cdot(\kappa\nabla u) + f`, κ = 1 + ½ sin πx sin πy,
                       exact :math:`e^{-t}\sin\pi x\sin\pi y` (f by sympy)
``wave-1d``            :math:`u_{tt} = 4u_{xx}`, exact sin πx cos 2πt + ½ sin 4πx cos 8πt (PINNacle Wave1D-C)
``helmholtz-2d``       :math:`-\Delta u - k_0^2 u = k_0^2\sin k_0x\sin k_0y`, k₀ = 4π, u = 0; exact sin k₀x sin k₀y
``burgers-1d``         :math:`u_t + uu_x = (0.01/\pi)u_{xx}`, u(x, 0) = −sin πx; method-of-lines reference
``allen-cahn-1d``      :math:`u_t = 10^{-4}u_{xx} - 5u^3 + 5u`, u(x, 0) = x² cos πx, periodic; method-of-lines reference
``inverse-diffusion``  :math:`u_t = \kappa u_{xx} - u + f`, κ trainable (true 1, start 2), 10 readings
``poisson-2d-engd``    ``poisson-2d`` on the setup of the ENGD paper (Müller & Zeinhofer 2023, its code's
                       ``engd_poisson_2d.py``): a tanh MLP 2-32-1 in float64, 900 interior and 120 boundary
                       points held fixed, 200 natural-gradient steps (its code runs 51 iterations; the
                       paper reports L2 errors of 1e-6 to 1e-7)
=====================  ===============================================================================================

The references without a closed form are computed here: an FD solve on the L-shape
(:func:`lshape_reference`) and pinr's method of lines for Burgers and Allen–Cahn
(:func:`burgers_reference`, :func:`allen_cahn_reference`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sympy

import pinr as pr
from pinr import Eq, cos, div, dt, exp, grad, lap, pi, sin
from pinr.catalogue import Catalogue

__all__ = ["SuiteCase", "Statement", "Record", "CASES", "QUICK_STEPS", "available_cases"]

QUICK_STEPS = 5  #: Adam steps per case under ``quick`` (no L-BFGS for either tool)


@dataclass(frozen=True)
class Statement:
    """One case, built: ``problem`` for pinr (``None`` when pinr cannot state it, ``note`` says
    why); ``reference(points (N, d)) -> (N,)``; evaluation ``grid`` ``(N, d)``; ``parameter``
    (name, true value) for an inverse problem; ``observations`` ``(points, values)`` it uses."""

    problem: object
    reference: Callable[[np.ndarray], np.ndarray]
    grid: np.ndarray
    parameter: tuple[str, float] | None = None
    observations: tuple[np.ndarray, np.ndarray] | None = None
    note: str = ""
    options: dict = field(default_factory=dict)  #: pinr options of a case that reproduces a paper's setup


@dataclass(frozen=True)
class SuiteCase:
    """A registered case: ``build()`` gives its :class:`Statement`; ``example`` names the DeepXDE
    example file whose settings a peer run uses (:mod:`pinr.bench.peers`)."""

    name: str
    title: str
    build: Callable[[], Statement]
    example: str


@dataclass
class Record:
    """One case run by one tool. ``rel_l2`` is against the reference on the case's grid;
    ``param_error`` the relative error of the recovered parameter (inverse problems)."""

    case: str
    tool: str
    rel_l2: float | None = None
    seconds: float | None = None
    ms_per_step: float | None = None
    steps: int | None = None
    param_error: float | None = None
    note: str = ""
    trusted: bool | None = None  #: pinr's verdict on its own run (``None`` for peers)



CASES: Catalogue[SuiteCase] = Catalogue("suite case")  #: the suite's cases by name, in the order they run


def _case(name: str, title: str, example: str):
    """Decorator registering a :class:`Statement` builder as case ``name`` of :data:`CASES`."""

    def register(build):
        CASES.add(name, SuiteCase(name, title, build, example))
        return build

    return register


def available_cases() -> list[str]:
    """The suite's case names, in the order they run."""
    return list(CASES)


def _lattice(*axes) -> np.ndarray:
    """All points of the lattice ``axes`` (each a 1-D array), ``(N, len(axes))``."""
    return np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=1)


def _exact_function(expr, coords) -> Callable[[np.ndarray], np.ndarray]:
    f = sympy.lambdify(coords, expr, modules="numpy")
    return lambda p: np.broadcast_to(np.asarray(f(*p.T), dtype=np.float64), (len(p),)).copy()



@_case("poisson-1d", "Poisson 1-D, u = sin πx", "examples/pinn_forward/Poisson_Dirichlet_1d.py")
def poisson_1d() -> Statement:
    domain = pr.Interval(x=(0, 1))
    (x,) = domain.coords
    u = domain.field("u")
    exact = sin(pi * x)
    problem = pr.Problem(domain, [Eq(lap(u), -pi**2 * sin(pi * x))], [pr.Boundary(Eq(u, 0))], exact=exact,
                         name="poisson-1d")
    return Statement(problem, _exact_function(exact, domain.coords), np.linspace(0, 1, 201)[:, None])


@_case("poisson-2d", "Poisson 2-D, u = sin πx sin πy", "examples/pinn_forward/Poisson_Lshape.py (network, points)")
def poisson_2d() -> Statement:
    domain = pr.Rectangle(x=(0, 1), y=(0, 1))
    x, y = domain.coords
    u = domain.field("u")
    exact = sin(pi * x) * sin(pi * y)
    problem = pr.Problem(domain, [Eq(lap(u), -2 * pi**2 * exact)], [pr.Boundary(Eq(u, 0))], exact=exact,
                         name="poisson-2d")
    g = np.linspace(0, 1, 101)
    return Statement(problem, _exact_function(exact, domain.coords), _lattice(g, g))


def lshape_mask(points: np.ndarray) -> np.ndarray:
    """Whether ``points`` ``(N, 2)`` lie in the closed L-shape [−1, 1]² minus the open (0, 1]²."""
    x, y = points[:, 0], points[:, 1]
    return (np.abs(x) <= 1) & (np.abs(y) <= 1) & ~((x > 0) & (y > 0))


@functools.lru_cache(maxsize=4)
def lshape_reference(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    r"""FD solution of :math:`-\Delta u = 1` on the L-shape, u = 0 on its boundary: 5-point
    stencil, h = 1/n, sparse LU. Returns the node axis ``(2n + 1,)`` and values ``(2n + 1, 2n + 1)``
    indexed ``[i_x, i_y]`` (zero outside the L and on its boundary). Second order away from the
    re-entrant corner, where u ~ r^{2/3} limits it to about h^{4/3}."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    axis = np.linspace(-1, 1, 2 * n + 1)
    h = 1.0 / n
    X, Y = np.meshgrid(axis, axis, indexing="ij")
    inside = (np.abs(X) < 1) & (np.abs(Y) < 1) & ~((X >= 0) & (Y >= 0))  # unknown nodes (open L)
    index = -np.ones(X.shape, dtype=np.int64)
    index[inside] = np.arange(inside.sum())
    i, j = np.nonzero(inside)
    rows, cols, vals = [np.arange(len(i))], [np.arange(len(i))], [np.full(len(i), 4.0 / h**2)]
    for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        k = index[i + di, j + dj]
        keep = k >= 0
        rows.append(np.nonzero(keep)[0])
        cols.append(k[keep])
        vals.append(np.full(keep.sum(), -1.0 / h**2))
    A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(i),) * 2)
    values = np.zeros(X.shape)
    values[inside] = spla.spsolve(A, np.ones(len(i)))
    return axis, values


def _lshape_interpolant(n: int = 200) -> Callable[[np.ndarray], np.ndarray]:
    from scipy.interpolate import RegularGridInterpolator

    axis, values = lshape_reference(n)
    f = RegularGridInterpolator((axis, axis), values)
    return lambda p: f(p)


@_case("poisson-lshape", "Poisson on the L-shape, −Δu = 1 (FD reference)", "examples/pinn_forward/Poisson_Lshape.py")
def poisson_lshape() -> Statement:
    domain = pr.Rectangle(x=(-1, 1), y=(-1, 1)) - pr.Rectangle(x=(0, 1), y=(0, 1))
    g = np.linspace(-1, 1, 101)
    grid = _lattice(g, g)
    grid = grid[lshape_mask(grid)]
    u = domain.field("u")
    problem = pr.Problem(domain, [Eq(-lap(u), 1)], [pr.Boundary(Eq(u, 0))], name="poisson-lshape")
    return Statement(problem, _lshape_interpolant(), grid)


def heat_2d_exact():
    """The heat case's (domain, κ, exact u, source f) as sympy expressions."""
    domain = pr.Rectangle(x=(0, 1), y=(0, 1)) * pr.TimeInterval(0, 1)
    x, y, t = domain.coords
    kappa = 1 + sin(pi * x) * sin(pi * y) / 2
    exact = exp(-t) * sin(pi * x) * sin(pi * y)
    gradient = [sympy.diff(exact, c) for c in (x, y)]
    f = sympy.simplify(sympy.diff(exact, t) - sum(sympy.diff(kappa * g, c) for g, c in zip(gradient, (x, y))))
    return domain, kappa, exact, f


@_case("heat-2d", "Heat 2-D, κ = 1 + ½ sin πx sin πy (manufactured)", "examples/pinn_forward/heat.py")
def heat_2d() -> Statement:
    domain, kappa, exact, f = heat_2d_exact()
    x, y, t = domain.coords
    u = domain.field("u")
    problem = pr.Problem(domain, [Eq(dt(u), div(kappa * grad(u)) + f)],
                         [pr.Initial(Eq(u, sin(pi * x) * sin(pi * y))), pr.Boundary(Eq(u, 0))], exact=exact,
                         name="heat-2d")
    g = np.linspace(0, 1, 41)
    return Statement(problem, _exact_function(exact, domain.coords), _lattice(g, g, np.linspace(0, 1, 11)))


@_case("wave-1d", "Wave 1-D, u_tt = 4u_xx (PINNacle Wave1D-C)", "examples/pinn_forward/wave_1d.py")
def wave_1d() -> Statement:
    domain = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 1)
    x, t = domain.coords
    u = domain.field("u")
    exact = sin(pi * x) * cos(2 * pi * t) + sin(4 * pi * x) * cos(8 * pi * t) / 2
    problem = pr.Problem(domain, [Eq(dt(u, 2), 4 * lap(u))],
                         [pr.Initial(Eq(u, exact.subs(t, 0))), pr.Initial(Eq(dt(u), 0)), pr.Boundary(Eq(u, 0))],
                         exact=exact, name="wave-1d")
    g = np.linspace(0, 1, 101)
    return Statement(problem, _exact_function(exact, domain.coords), _lattice(g, g))


HELMHOLTZ_K0 = 4 * sympy.pi  # 2π n with n = 2, as in DeepXDE's Helmholtz_Dirichlet_2d example


@_case("helmholtz-2d", "Helmholtz 2-D, k₀ = 4π (manufactured)", "examples/pinn_forward/Helmholtz_Dirichlet_2d.py")
def helmholtz_2d() -> Statement:
    domain = pr.Rectangle(x=(0, 1), y=(0, 1))
    x, y = domain.coords
    u = domain.field("u")
    k0 = HELMHOLTZ_K0
    exact = sin(k0 * x) * sin(k0 * y)
    problem = pr.Problem(domain, [Eq(-lap(u) - k0**2 * u, k0**2 * exact)], [pr.Boundary(Eq(u, 0))], exact=exact,
                         name="helmholtz-2d")
    g = np.linspace(0, 1, 101)
    return Statement(problem, _exact_function(exact, domain.coords), _lattice(g, g))


BURGERS_NU = 0.01 / math.pi


def _burgers_problem() -> pr.Problem:
    domain = pr.Interval(x=(-1, 1)) * pr.TimeInterval(0, 1)
    x, t = domain.coords
    u = domain.field("u")
    return pr.Problem(domain, [Eq(dt(u) + u * sympy.Derivative(u, x), BURGERS_NU * lap(u))],
                      [pr.Initial(Eq(u, -sin(pi * x))), pr.Boundary(Eq(u, 0))], name="burgers-1d")


@functools.lru_cache(maxsize=4)
def burgers_reference(n: int = 8193, levels: int = 101) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The FD reference of the stated problem, :math:`u_t + u u_x = \nu u_{xx}` on [−1, 1],
    ν = 0.01/π, u(x, 0) = −sin πx, u(±1, t) = 0: the general method of lines
    (:mod:`pinr.solvers.fd_lines`: central differences, BDF with a sparse Jacobian) on ``n`` nodes.
    8,193 nodes are 1.7e-5 from the Cole–Hopf solution in rel. L2, where the flux-form code it
    replaced was 7.2e-5 at 2,048 (bench/RESULTS.md). Returns x ``(n,)``, t ``(levels,)`` and u ``(levels, n)``."""
    from pinr.solvers import FDSolver

    sol = FDSolver(_burgers_problem(), resolution=n - 1, slices=levels).solve()
    return np.linspace(-1, 1, n), np.linspace(0, 1, levels), sol.values[..., 0].T


def _grid_interpolant(x, t, u) -> Callable[[np.ndarray], np.ndarray]:
    """Interpolant of ``u[t_k, x_i]`` at points ``(N, 2)`` ordered (x, t)."""
    from scipy.interpolate import RegularGridInterpolator

    f = RegularGridInterpolator((x, t), u.T)
    return lambda p: f(p)


def _xt_grid() -> np.ndarray:
    return _lattice(np.linspace(-1, 1, 201), np.linspace(0, 1, 101))


@_case("burgers-1d", "Burgers 1-D, ν = 0.01/π (method-of-lines reference)", "examples/pinn_forward/Burgers.py")
def burgers_1d() -> Statement:
    return Statement(_burgers_problem(), _grid_interpolant(*burgers_reference()), _xt_grid())


ALLEN_CAHN_D = 1e-4


@functools.lru_cache(maxsize=4)
def allen_cahn_reference(n: int = 4097, levels: int = 101) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The FD reference of the stated problem, :math:`u_t = d\,u_{xx} + 5u - 5u^3`, d = 1e-4,
    periodic on [−1, 1], u(x, 0) = x² cos πx: the general method of lines
    (:mod:`pinr.solvers.fd_lines`) on ``n`` nodes (the last one the periodic copy of the first).
    4,097 nodes are about 1e-5 from the converged solution in rel. L2, where the Fourier ETDRK4 it
    replaced (512 modes) was 6e-4: the periodic extension of x² cos πx has a kink at ±1, which
    limits spectral convergence (bench/RESULTS.md). Returns x ``(n,)``, t ``(levels,)`` and
    u ``(levels, n)``."""
    from pinr.solvers import FDSolver

    sol = FDSolver(_allen_cahn_problem(), resolution=n - 1, slices=levels).solve()
    return np.linspace(-1, 1, n), np.linspace(0, 1, levels), sol.values[..., 0].T


def _allen_cahn_problem() -> pr.Problem:
    domain = pr.Interval(x=(-1, 1)) * pr.TimeInterval(0, 1)
    x, t = domain.coords
    u = domain.field("u")
    return pr.Problem(domain, [Eq(dt(u), ALLEN_CAHN_D * lap(u) + 5 * u - 5 * u**3)],
                      [pr.Initial(Eq(u, x**2 * cos(pi * x))), pr.Periodic(x)], name="allen-cahn-1d")


@_case("allen-cahn-1d", "Allen–Cahn 1-D, periodic (method-of-lines reference)", "examples/pinn_forward/Allen_Cahn.py")
def allen_cahn_1d() -> Statement:
    return Statement(_allen_cahn_problem(), _grid_interpolant(*allen_cahn_reference()), _xt_grid())


#: the ENGD paper's 2-D Poisson setup (its code's ``engd_poisson_2d.py``): network, points, steps
ENGD_OPTIONS = dict(optimizer="natural", backbone="mlp", backbone_options=dict(width=32, depth=1, activation="tanh"),
                    dtype="float64", steps=200, batch={"pde": 900, "boundary": 120}, sampling="fixed", hard=False,
                    balance="none", lbfgs_steps=0)


@_case("poisson-2d-engd", "Poisson 2-D on ENGD's setup (tanh 2-32-1, 900 + 120 fixed points, 200 steps)",
       "examples/pinn_forward/Poisson_Lshape.py (DeepXDE's own settings)")
def poisson_2d_engd() -> Statement:
    st = poisson_2d()
    return Statement(st.problem.replace(name="poisson-2d-engd"), st.reference, st.grid, options=dict(ENGD_OPTIONS))


INVERSE_TRUE, INVERSE_START = 1.0, 2.0


def inverse_exact():
    """The inverse case's (domain, exact u, source f for the true κ) as sympy expressions."""
    domain = pr.Interval(x=(-1, 1)) * pr.TimeInterval(0, 1)
    x, t = domain.coords
    exact = exp(-t) * sin(pi * x)
    f = sympy.simplify(sympy.diff(exact, t) - INVERSE_TRUE * sympy.diff(exact, x, 2) + exact)
    return domain, exact, f


@_case("inverse-diffusion", "Inverse diffusion–reaction, recover κ = 1 from 10 readings",
       "examples/pinn_inverse/diffusion_1d_inverse.py")
def inverse_diffusion() -> Statement:
    domain, exact, f = inverse_exact()
    x, t = domain.coords
    u = domain.field("u")
    kappa = pr.Parameter("kappa", INVERSE_START, trainable=True, positive=True)
    exact_fn = _exact_function(exact, domain.coords)
    points = np.column_stack([np.linspace(-1, 1, 10), np.ones(10)])  # DeepXDE's example: 10 readings at t = 1
    values = exact_fn(points)
    problem = pr.Problem(domain, [Eq(dt(u), kappa * lap(u) - u + f)],
                         [pr.Initial(Eq(u, exact.subs(t, 0))), pr.Boundary(Eq(u, 0))],
                         observations=[pr.Observation(u, points=points, values=values)], exact=exact,
                         name="inverse-diffusion")
    return Statement(problem, exact_fn, _xt_grid(), parameter=("kappa", INVERSE_TRUE), observations=(points, values))

