r"""The PINN benchmark suite: problems with exact solutions or fine references, run by pinr at
its defaults and, optionally, by DeepXDE with the settings of its own examples, side by side.

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

pinr is called as ``pr.solve(problem, progress=False, seed=0, device="cpu")`` and nothing else:
its defaults are what is measured (``quick`` adds only ``steps`` and ``lbfgs_steps``), except in a
case that reproduces a paper's setup, whose :attr:`Statement.options` say so. ``optimizers`` runs
pinr again per optimiser (``optimizer=NAME`` over its defaults), side by side.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy

import pinr as pr
from pinr import Eq, cos, div, dt, exp, grad, lap, pi, sin
from pinr.metrics import rel_l2

log = logging.getLogger(__name__)

__all__ = ["SuiteCase", "Statement", "Record", "CASES", "PEERS", "available_cases", "run_suite",
           "format_markdown", "machine_line"]

QUICK_STEPS = 5  #: Adam steps per case under ``quick`` (no L-BFGS for either tool)
PEERS = ("deepxde",)


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
    """A registered case: ``build()`` gives its :class:`Statement`; ``deepxde(statement, quick)``
    gives DeepXDE's model and training plan (:class:`_DdePlan`); ``example`` names the DeepXDE
    example file whose settings are used."""

    name: str
    title: str
    build: Callable[[], Statement]
    deepxde: Callable | None
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


CASES: dict[str, SuiteCase] = {}


def _case(name: str, title: str, example: str):
    def register(build):
        CASES[name] = SuiteCase(name, title, build, None, example)
        return build
    return register


def _deepxde_of(name: str):
    def register(builder):
        c = CASES[name]
        CASES[name] = SuiteCase(c.name, c.title, c.build, builder, c.example)
        return builder
    return register


def available_cases() -> list[str]:
    return list(CASES)


def _lattice(*axes) -> np.ndarray:
    """All points of the lattice ``axes`` (each a 1-D array), ``(N, len(axes))``."""
    return np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=1)


def _exact_function(expr, coords) -> Callable[[np.ndarray], np.ndarray]:
    f = sympy.lambdify(coords, expr, modules="numpy")
    return lambda p: np.broadcast_to(np.asarray(f(*p.T), dtype=np.float64), (len(p),)).copy()


# ------------------------------------------------------------------------------------ cases
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


# ----------------------------------------------------------------------------------- DeepXDE
@dataclass
class _DdePlan:
    """A DeepXDE model and how to train it: Adam ``iterations`` at ``lr`` (``decay``,
    ``loss_weights``, ``callbacks``), then L-BFGS when ``lbfgs``; ``variable`` for an inverse problem."""

    model: object
    iterations: int
    lr: float = 1e-3
    lbfgs: bool = False
    decay: tuple | None = None
    loss_weights: object = None
    callbacks: list = field(default_factory=list)
    variable: object = None
    initial_weighting: bool = False  # wave_1d.py: loss weights 5 / initial losses


def _import_deepxde():
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    if os.environ["DDE_BACKEND"] != "pytorch":
        raise ValueError("DeepXDE must use the torch backend: set DDE_BACKEND=pytorch "
                         f"(it is {os.environ['DDE_BACKEND']!r})")
    try:
        import deepxde as dde
    except ImportError:
        raise ValueError("--against deepxde needs DeepXDE: pip install pinr[peers]") from None
    return dde


def _torch_fn(expr, coords):
    """``expr`` of ``coords`` as a function of a torch tensor ``(N, d)`` returning ``(N, 1)``."""
    import torch

    f = sympy.lambdify(coords, expr.evalf(), modules="torch")  # numbers folded: torch.pow refuses (float, int)
    return lambda X: torch.as_tensor(f(*[X[:, i:i + 1] for i in range(len(coords))])) + 0 * X[:, :1]


@_deepxde_of("poisson-1d")
def _dde_poisson_1d(st: Statement, quick: bool) -> _DdePlan:
    import torch
    dde = _import_deepxde()

    def pde(x, y):
        return dde.grad.hessian(y, x) + np.pi**2 * torch.sin(np.pi * x)

    geom = dde.geometry.Interval(0, 1)
    bc = dde.icbc.DirichletBC(geom, lambda x: 0, lambda _, on_boundary: on_boundary)
    data = dde.data.PDE(geom, pde, bc, 16, 2)
    net = dde.nn.FNN([1] + [50] * 3 + [1], "tanh", "Glorot uniform")
    return _DdePlan(dde.Model(data, net), 10000)


@_deepxde_of("poisson-2d")
def _dde_poisson_2d(st: Statement, quick: bool) -> _DdePlan:
    import torch
    dde = _import_deepxde()

    def pde(x, y):
        lap_y = dde.grad.hessian(y, x, i=0, j=0) + dde.grad.hessian(y, x, i=1, j=1)
        return lap_y + 2 * np.pi**2 * torch.sin(np.pi * x[:, 0:1]) * torch.sin(np.pi * x[:, 1:2])

    return _dde_poisson_plan(dde, dde.geometry.Rectangle([0, 0], [1, 1]), pde)


def _dde_poisson_plan(dde, geom, pde) -> "_DdePlan":
    """``Poisson_Lshape.py``'s settings: u = 0 on the boundary, 1,200 / 120 points, a tanh FNN
    of 4 × 50, 50,000 Adam steps and L-BFGS."""
    bc = dde.icbc.DirichletBC(geom, lambda x: 0, lambda _, on_boundary: on_boundary)
    data = dde.data.PDE(geom, pde, bc, num_domain=1200, num_boundary=120)
    net = dde.nn.FNN([2] + [50] * 4 + [1], "tanh", "Glorot uniform")
    return _DdePlan(dde.Model(data, net), 50000, lbfgs=True)


_deepxde_of("poisson-2d-engd")(_dde_poisson_2d)  # the same statement: DeepXDE with its own settings


@_deepxde_of("poisson-lshape")
def _dde_lshape(st: Statement, quick: bool) -> _DdePlan:
    dde = _import_deepxde()

    def pde(x, y):
        return -dde.grad.hessian(y, x, i=0, j=0) - dde.grad.hessian(y, x, i=1, j=1) - 1

    # the example's Polygon samples float64 points under the torch backend (DeepXDE 1.15: a dtype
    # error in the first step), so the same L is built by CSG difference
    geom = dde.geometry.Rectangle([-1, -1], [1, 1]) - dde.geometry.Rectangle([0, 0], [1, 1])
    return _dde_poisson_plan(dde, geom, pde)


@_deepxde_of("heat-2d")
def _dde_heat_2d(st: Statement, quick: bool) -> _DdePlan:
    import torch
    dde = _import_deepxde()
    domain, kappa, exact, f = heat_2d_exact()
    x, y, _ = domain.coords
    kappa_t, f_t = _torch_fn(kappa, domain.coords), _torch_fn(f, domain.coords)
    kx_t, ky_t = (_torch_fn(sympy.diff(kappa, c), domain.coords) for c in (x, y))
    exact_np = st.reference

    def pde(X, y):  # u_t - div(κ ∇u) - f, with div(κ ∇u) = κ Δu + ∇κ · ∇u
        g = torch.cat([dde.grad.jacobian(y, X, i=0, j=k) for k in range(3)], dim=1)
        lap_y = dde.grad.hessian(y, X, i=0, j=0) + dde.grad.hessian(y, X, i=1, j=1)
        return g[:, 2:3] - (kappa_t(X) * lap_y + kx_t(X) * g[:, 0:1] + ky_t(X) * g[:, 1:2]) - f_t(X)

    geom = dde.geometry.GeometryXTime(dde.geometry.Rectangle([0, 0], [1, 1]), dde.geometry.TimeDomain(0, 1))
    bc = dde.icbc.DirichletBC(geom, lambda X: 0, lambda _, on_boundary: on_boundary)
    ic = dde.icbc.IC(geom, lambda X: exact_np(X)[:, None], lambda _, on_initial: on_initial)
    data = dde.data.TimePDE(geom, pde, [bc, ic], num_domain=2540, num_boundary=80, num_initial=160)
    net = dde.nn.FNN([3] + [20] * 3 + [1], "tanh", "Glorot normal")
    return _DdePlan(dde.Model(data, net), 20000, lbfgs=True)


@_deepxde_of("wave-1d")
def _dde_wave_1d(st: Statement, quick: bool) -> _DdePlan:
    dde = _import_deepxde()
    exact_np = st.reference

    def pde(x, y):
        return dde.grad.hessian(y, x, i=1, j=1) - 4 * dde.grad.hessian(y, x, i=0, j=0)

    geom = dde.geometry.GeometryXTime(dde.geometry.Interval(0, 1), dde.geometry.TimeDomain(0, 1))
    bc = dde.icbc.DirichletBC(geom, lambda X: 0, lambda _, on_boundary: on_boundary)
    ic_1 = dde.icbc.IC(geom, lambda X: exact_np(X)[:, None], lambda _, on_initial: on_initial)
    ic_2 = dde.icbc.OperatorBC(geom, lambda x, y, _: dde.grad.jacobian(y, x, i=0, j=1),
                               lambda x, _: dde.utils.isclose(x[1], 0))
    data = dde.data.TimePDE(geom, pde, [bc, ic_1, ic_2], num_domain=360, num_boundary=360, num_initial=360)
    # the example's STMsFFN (sigmas_x=[1], sigmas_t=[1, 10]) exists only for TensorFlow: its plain
    # [2] + [100] * 3 + [1] body stands in under torch
    net = dde.nn.FNN([2] + [100] * 3 + [1], "tanh", "Glorot uniform")
    net.apply_feature_transform(lambda x: (x - 0.5) * 2 * np.sqrt(3))
    return _DdePlan(dde.Model(data, net), 10000, decay=("inverse time", 2000, 0.9), initial_weighting=True,
                    callbacks=[dde.callbacks.PDEPointResampler(period=1)])


@_deepxde_of("helmholtz-2d")
def _dde_helmholtz_2d(st: Statement, quick: bool) -> _DdePlan:
    import torch
    dde = _import_deepxde()
    k0 = float(HELMHOLTZ_K0)

    def pde(x, y):
        lap_y = dde.grad.hessian(y, x, i=0, j=0) + dde.grad.hessian(y, x, i=1, j=1)
        f = k0**2 * torch.sin(k0 * x[:, 0:1]) * torch.sin(k0 * x[:, 1:2])
        return -lap_y - k0**2 * y - f

    geom = dde.geometry.Rectangle([0, 0], [1, 1])
    nx = int(1 / (0.5 / 10))  # wave length 1/n over precision_train = 10
    data = dde.data.PDE(geom, pde, [], num_domain=nx**2, num_boundary=4 * nx)
    net = dde.nn.FNN([2] + [150] * 3 + [1], "sin", "Glorot uniform")
    net.apply_output_transform(lambda x, y: x[:, 0:1] * (1 - x[:, 0:1]) * x[:, 1:2] * (1 - x[:, 1:2]) * y)
    return _DdePlan(dde.Model(data, net), 5000)


@_deepxde_of("burgers-1d")
def _dde_burgers(st: Statement, quick: bool) -> _DdePlan:
    dde = _import_deepxde()

    def pde(x, y):
        dy_x = dde.grad.jacobian(y, x, i=0, j=0)
        dy_t = dde.grad.jacobian(y, x, i=0, j=1)
        return dy_t + y * dy_x - BURGERS_NU * dde.grad.hessian(y, x, i=0, j=0)

    geom = dde.geometry.GeometryXTime(dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 1))
    bc = dde.icbc.DirichletBC(geom, lambda x: 0, lambda _, on_boundary: on_boundary)
    ic = dde.icbc.IC(geom, lambda x: -np.sin(np.pi * x[:, 0:1]), lambda _, on_initial: on_initial)
    data = dde.data.TimePDE(geom, pde, [bc, ic], num_domain=2540, num_boundary=80, num_initial=160)
    net = dde.nn.FNN([2] + [20] * 3 + [1], "tanh", "Glorot normal")
    return _DdePlan(dde.Model(data, net), 15000, lbfgs=True)


@_deepxde_of("allen-cahn-1d")
def _dde_allen_cahn(st: Statement, quick: bool) -> _DdePlan:
    import torch
    dde = _import_deepxde()

    def pde(x, y):
        dy_t = dde.grad.jacobian(y, x, i=0, j=1)
        return dy_t - ALLEN_CAHN_D * dde.grad.hessian(y, x, i=0, j=0) - 5 * (y - y**3)

    geom = dde.geometry.GeometryXTime(dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 1))
    on_b = lambda _, on_boundary: on_boundary  # noqa: E731
    bcs = [dde.icbc.PeriodicBC(geom, 0, on_b, derivative_order=k) for k in (0, 1)]
    data = dde.data.TimePDE(geom, pde, bcs, num_domain=8000, num_boundary=400, num_initial=800)
    net = dde.nn.FNN([2] + [20] * 3 + [1], "tanh", "Glorot normal")
    # the example's hard initial condition; its hard u(±1) = -1 is replaced by the periodic conditions above
    net.apply_output_transform(lambda x, y: x[:, 0:1]**2 * torch.cos(np.pi * x[:, 0:1]) + x[:, 1:2] * y)
    return _DdePlan(dde.Model(data, net), 40000, lbfgs=True)


@_deepxde_of("inverse-diffusion")
def _dde_inverse(st: Statement, quick: bool) -> _DdePlan:
    dde = _import_deepxde()
    domain, exact, f = inverse_exact()
    f_t = _torch_fn(f, domain.coords)
    exact_np = st.reference
    kappa = dde.Variable(INVERSE_START)

    def pde(x, y):
        return dde.grad.jacobian(y, x, i=0, j=1) - kappa * dde.grad.hessian(y, x, i=0, j=0) + y - f_t(x)

    geom = dde.geometry.GeometryXTime(dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 1))
    bc = dde.icbc.DirichletBC(geom, lambda X: 0, lambda _, on_boundary: on_boundary)
    ic = dde.icbc.IC(geom, lambda X: exact_np(X)[:, None], lambda _, on_initial: on_initial)
    points, values = st.observations
    observe = dde.icbc.PointSetBC(points, values[:, None], component=0)
    data = dde.data.TimePDE(geom, pde, [bc, ic, observe], num_domain=40, num_boundary=20, num_initial=10,
                            anchors=points)
    net = dde.nn.FNN([2] + [32] * 3 + [1], "tanh", "Glorot uniform")
    return _DdePlan(dde.Model(data, net), 50000, variable=kappa)


def _run_deepxde(case: SuiteCase, st: Statement, quick: bool, budget: float | None = None) -> Record:
    """DeepXDE on ``case`` with its example's plan (Adam, then L-BFGS where the example has it);
    with ``budget`` (seconds, pinr's wall time on the case) the plan is cut there: training stops
    at the first step that ends past the budget, and L-BFGS does not start once it is spent."""
    dde = _import_deepxde()
    import torch

    dde.config.set_random_seed(0)
    torch.set_default_device("cpu")
    plan = case.deepxde(st, quick)
    iterations = QUICK_STEPS if quick else plan.iterations
    extra = {"external_trainable_variables": [plan.variable]} if plan.variable is not None else {}
    started = time.perf_counter()
    weights = plan.loss_weights
    if plan.initial_weighting:  # wave_1d.py: weights 5 / (the untrained model's losses)
        plan.model.compile("adam", lr=plan.lr)
        history, _ = plan.model.train(iterations=0, display_every=10**9, verbose=0)
        weights = 5 / np.asarray(history.loss_train[0])
    deadline = [] if budget is None else [_deadline(dde, started + budget)]
    plan.model.compile("adam", lr=plan.lr, decay=plan.decay, loss_weights=weights, **extra)
    plan.model.train(iterations=iterations, callbacks=plan.callbacks + deadline, display_every=10**9, verbose=0)
    spent = budget is not None and time.perf_counter() - started >= budget
    if plan.lbfgs and not quick and not spent:  # under quick, maxiter=5 still ran 1,000 L-BFGS iterations
        plan.model.compile("L-BFGS", loss_weights=weights, **extra)
        plan.model.train(callbacks=deadline, display_every=10**9, verbose=0)
    seconds = time.perf_counter() - started
    steps = int(plan.model.train_state.step)
    pred = plan.model.predict(st.grid.astype(np.float32)).reshape(-1)
    rec = Record(case.name, "deepxde", rel_l2=rel_l2(pred, st.reference(st.grid)), seconds=seconds,
                 ms_per_step=1000 * seconds / max(steps, 1), steps=steps)
    if budget is not None:
        rec.note = (f"cut at pinr's {budget:.1f} s" if seconds >= budget
                    else f"its plan ended within pinr's {budget:.1f} s")
    if st.parameter is not None:
        value = float(plan.variable.detach().cpu())
        rec.param_error = abs(value - st.parameter[1]) / abs(st.parameter[1])
        rec.note = "; ".join(filter(None, [f"{st.parameter[0]} = {value:.4g}", rec.note]))
    return rec


def _deadline(dde, at: float):
    """A DeepXDE callback that stops training at the end of the first step past ``at``
    (``time.perf_counter()``), in Adam's loop and in L-BFGS's alike."""

    class Deadline(dde.callbacks.Callback):
        def on_epoch_end(self):
            if time.perf_counter() >= at:
                self.model.stop_training = True

    return Deadline()


# --------------------------------------------------------------------------------- running
def _run_pinr(case: SuiteCase, st: Statement, quick: bool, **options) -> Record:
    """pinr on ``case`` at its defaults (the case's own options, then ``options`` over them, for
    benchmarks of one option), scored on the case's grid."""
    options = {**st.options, **({"steps": QUICK_STEPS, "lbfgs_steps": 0} if quick else {}), **options}
    started = time.perf_counter()
    sol = pr.solve(st.problem, progress=False, seed=0, device="cpu", reference_solution=_reference(st), **options)
    seconds = time.perf_counter() - started
    steps = int(sol.metadata.get("steps", 0))
    train_seconds = float(sol.metadata.get("seconds", seconds))
    pred = np.asarray(sol(st.grid))[:, 0]
    rec = Record(case.name, "pinr", rel_l2=rel_l2(pred, st.reference(st.grid)), seconds=seconds,
                 ms_per_step=1000 * train_seconds / max(steps, 1), steps=steps,
                 note="the paper's setup" if st.options else "",
                 trusted=None if sol.verdict is None else sol.verdict.ok)
    if st.parameter is not None:
        value = float(sol.parameters[st.parameter[0]])
        rec.param_error = abs(value - st.parameter[1]) / abs(st.parameter[1])
        rec.note = f"{st.parameter[0]} = {value:.4g}"
    return rec


def _reference(st: Statement):
    """What pinr's run is validated and judged against: pinr's own reference of the statement, else
    the case's (the L-shape's, which no FD lowering covers)."""
    from pinr.solvers import DenseSolution, grid_of

    try:
        return pr.reference(st.problem)
    except NotImplementedError:
        problem = st.problem
        return DenseSolution(lambda p: np.asarray(st.reference(p), dtype=np.float64).reshape(len(p), -1),
                             grid_of(problem.domain), fields=problem.fields, coords=problem.domain.coords,
                             metadata={"solver": "the suite's reference"})


def run_suite(names: Sequence[str] | None = None, *, quick: bool = False, against: Sequence[str] = (),
              equal_time: bool = False, optimizers: Sequence[str] = (),
              echo: Callable[[str], None] = log.info) -> list[Record]:
    """Run cases ``names`` (default all) by pinr at its defaults, by pinr with each optimiser in
    ``optimizers`` (tool ``pinr (NAME)``) and by each peer in ``against``; ``echo`` gets one
    progress line per case and tool. With ``equal_time`` each peer gets the wall time of pinr at
    its defaults on the case and is stopped there (its example's plan, cut). Unknown names raise
    ``ValueError`` listing the valid ones."""
    names = list(names or CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise ValueError(f"unknown suite case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    bad = [p for p in against if p not in PEERS]
    if bad:
        raise ValueError(f"unknown peer(s) {', '.join(bad)}; choose from {', '.join(PEERS)}")
    from pinr.training.optimizers import optimizer_kind

    for o in optimizers:
        optimizer_kind(o)
    if against:
        _import_deepxde()  # fail before the first case, not after it
    records = []
    for i, name in enumerate(names, 1):
        case = CASES[name]
        st = case.build()
        tools = [("pinr", _run_pinr)] + [(f"pinr ({o})", functools.partial(_run_pinr, optimizer=o)) for o in optimizers]
        tools += [(p, _run_deepxde) for p in against]
        budget = None
        for tool, runner in tools:
            if tool.startswith("pinr") and st.problem is None:
                rec = Record(name, tool, note=st.note)
            elif tool.startswith("pinr"):
                rec = runner(case, st, quick)
                rec.tool = tool
                budget = rec.seconds if equal_time and tool == "pinr" else budget
            else:  # a peer's failure is a row of the table, not the end of the run
                try:
                    rec = runner(case, st, quick, budget)
                except Exception as err:  # noqa: BLE001
                    rec = Record(name, tool, note=f"failed: {type(err).__name__}: {str(err).splitlines()[0]}")
            records.append(rec)
            echo(f"[{i}/{len(names)}] {name} ({tool}): " + _summary(rec))
    return records


def _summary(r: Record) -> str:
    if r.rel_l2 is None:
        return r.note
    text = f"rel. L2 {r.rel_l2:.3g}, {r.seconds:.1f} s, {r.ms_per_step:.1f} ms/step, {r.steps} steps"
    if r.param_error is not None:
        text += f", {r.note} (rel. error {r.param_error:.3g})"
    if r.trusted is not None:
        text += ", trusted" if r.trusted else ", NOT trusted"
    return text


def machine_line() -> str:
    import torch

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (f"{platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), python {platform.python_version()}, "
            f"load average {load}")


def format_markdown(records: Sequence[Record], *, quick: bool, equal_time: bool = False) -> str:
    """A markdown section: the machine, then one row per case and tool."""
    def num(v, fmt):
        return "—" if v is None else format(v, fmt)

    lines = [f"### PINN suite{' (--quick: a few steps, not accuracy figures)' if quick else ''}", "",
             f"Machine: {machine_line()}; pinr at its defaults "
             f"(`pr.solve(problem, progress=False, seed=0, device=\"cpu\")`"
             f"{', steps=' + str(QUICK_STEPS) + ', lbfgs_steps=0' if quick else ''}), "
             f"DeepXDE (torch backend) with its examples' settings"
             f"{', stopped at pinr wall time on each case (equal time)' if equal_time else ''}.", "",
             "| case | tool | rel. L2 | param. rel. error | wall s | ms/step | steps | verdict | note |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in records:
        verdict = "—" if r.trusted is None else "trusted" if r.trusted else "**not trusted**"
        lines.append(f"| {r.case} | {r.tool} | {num(r.rel_l2, '.3g')} | {num(r.param_error, '.3g')} | "
                     f"{num(r.seconds, '.1f')} | {num(r.ms_per_step, '.1f')} | {num(r.steps, 'd')} | {verdict} | "
                     f"{r.note} |")
    return "\n".join(lines) + "\n"
