r"""Exact solvers for discrete Neumann Poisson problems on a cell-centred grid.

Grid: :math:`N_y \times N_x` cells of size :math:`h_x \times h_y` (coordinate units); array
axis 0 is :math:`y`, axis 1 is :math:`x`; cell centres sit at
:math:`x_j = x_0 + (j + \tfrac12) h_x`. An optional trailing channel axis ``(Ny, Nx, C)`` is
treated channel by channel.

Operators (all float64):

* forward gradient on the staggered (cell-face) grid,
  :math:`(\nabla_h u)^x_{i,j} = (u_{i,j+1} - u_{i,j})/h_x`, shape ``(Ny, Nx-1)``, and
  :math:`(\nabla_h u)^y_{i,j} = (u_{i+1,j} - u_{i,j})/h_y`, shape ``(Ny-1, Nx)``;
* divergence :math:`\operatorname{div}_h = -\nabla_h^{\top}` with zero flux through the
  outer faces:
  :math:`(\operatorname{div}_h g)_{i,j} = (g^x_{i,j} - g^x_{i,j-1})/h_x
  + (g^y_{i,j} - g^y_{i-1,j})/h_y`, where out-of-range faces carry zero;
* Neumann Laplacian :math:`\Delta_h = \operatorname{div}_h \nabla_h`, the 5-point stencil
  with mirror ghost cells (:math:`u_{-1} = u_0`, :math:`u_N = u_{N-1}`), i.e. homogeneous
  Neumann data :math:`\partial_n u = 0` imposed at the cell faces on the boundary.

:math:`\Delta_h` is diagonalised by the type-II DCT: in 1-D,
:math:`\Delta_h \cos\!\big(\pi k (j + \tfrac12)/N\big)
= -\lambda_k \cos\!\big(\pi k (j + \tfrac12)/N\big)` with
:math:`\lambda_k = (2 - 2\cos(\pi k/N))/h^2 = 4\sin^2(\pi k / 2N)/h^2`, :math:`k = 0..N-1`;
in 2-D the eigenvalues add, :math:`\lambda_{k,l} = \lambda^x_l + \lambda^y_k`. The only null
vector is the constant (:math:`k = l = 0`), so :math:`\Delta_h u = f - \bar f` has exactly one
zero-mean solution, computed by :func:`solve_neumann_poisson` in
:math:`O(N_x N_y \log(N_x N_y))`. The scheme is second-order accurate for smooth solutions.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spl
from scipy.fft import dctn, idctn

__all__ = [
    "forward_gradient",
    "divergence_of_staggered",
    "neumann_laplacian",
    "neumann_eigenvalues",
    "solve_neumann_poisson",
    "poisson_from_gradient",
    "poisson_from_gradient_fixed",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- validation


def _check_spacing(h: Any, name: str) -> float:
    try:
        value = float(h)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive finite number, got {h!r}") from None
    if not (np.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} must be a positive finite number, got {h!r}")
    return value


def _check_field(a: Any, name: str) -> np.ndarray:
    """Real array of shape (Ny, Nx) or (Ny, Nx, C) -> float64, finite."""
    arr = np.asarray(a)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real; solve real and imaginary parts separately")
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"{name} must have shape (Ny, Nx) or (Ny, Nx, C), got shape {arr.shape}"
        )
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_grid(a: np.ndarray, name: str) -> None:
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{name} needs at least one cell in each direction, got {a.shape}")


# --------------------------------------------------------------------------- operators


def forward_gradient(u: Any, hx: float, hy: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Staggered forward differences :math:`\nabla_h u` on the interior cell faces.

    Args:
        u: cell values, ``(Ny, Nx)`` or ``(Ny, Nx, C)``.
        hx, hy: cell sizes along x (axis 1) and y (axis 0).

    Returns:
        ``(gx, gy)`` with ``gx = (u[:, 1:] - u[:, :-1]) / hx`` of shape ``(Ny, Nx-1[, C])`` and
        ``gy = (u[1:, :] - u[:-1, :]) / hy`` of shape ``(Ny-1, Nx[, C])``.
    """
    u = _check_field(u, "u")
    _check_grid(u, "u")
    hx = _check_spacing(hx, "hx")
    hy = _check_spacing(hy, "hy")
    gx = (u[:, 1:] - u[:, :-1]) / hx
    gy = (u[1:, :] - u[:-1, :]) / hy
    return gx, gy


def _grid_shape_of_gradient(gx: np.ndarray, gy: np.ndarray) -> tuple[int, ...]:
    ny, nx = gx.shape[0], gy.shape[1]
    expected_gx = (ny, nx - 1) + gy.shape[2:]
    expected_gy = (ny - 1, nx) + gx.shape[2:]
    if gx.shape != expected_gx or gy.shape != expected_gy or gx.ndim != gy.ndim:
        raise ValueError(
            "gx must have shape (Ny, Nx-1[, C]) and gy shape (Ny-1, Nx[, C]) for one grid, "
            f"got gx {gx.shape} and gy {gy.shape}"
        )
    return (ny, nx) + gx.shape[2:]


def divergence_of_staggered(gx: Any, gy: Any, hx: float, hy: float) -> np.ndarray:
    r"""Discrete divergence of a face field, :math:`\operatorname{div}_h = -\nabla_h^{\top}`.

    .. math::

        (\operatorname{div}_h g)_{i,j} = \frac{g^x_{i,j} - g^x_{i,j-1}}{h_x}
                                       + \frac{g^y_{i,j} - g^y_{i-1,j}}{h_y},

    with zero flux on the boundary faces (:math:`g^x_{i,-1} = g^x_{i,N_x-1} = 0`, likewise in
    y), so that :math:`\sum u\,\operatorname{div}_h g = -\sum \nabla_h u \cdot g` for all
    ``u``, ``g`` (plain sums, no cell-area weights) and
    ``divergence_of_staggered(*forward_gradient(u, hx, hy), hx, hy) == neumann_laplacian(u)``.

    Args:
        gx: x-face values, ``(Ny, Nx-1[, C])``.
        gy: y-face values, ``(Ny-1, Nx[, C])``.

    Returns:
        ``(Ny, Nx[, C])`` float64.
    """
    gx = _check_field(gx, "gx")
    gy = _check_field(gy, "gy")
    hx = _check_spacing(hx, "hx")
    hy = _check_spacing(hy, "hy")
    _grid_shape_of_gradient(gx, gy)
    zero_cols = [(0, 0)] * gx.ndim
    zero_cols[1] = (1, 1)
    zero_rows = [(0, 0)] * gy.ndim
    zero_rows[0] = (1, 1)
    fx = np.pad(gx, zero_cols)  # (Ny, Nx+1): boundary faces carry zero flux
    fy = np.pad(gy, zero_rows)  # (Ny+1, Nx)
    return (fx[:, 1:] - fx[:, :-1]) / hx + (fy[1:, :] - fy[:-1, :]) / hy


def neumann_laplacian(u: Any, hx: float, hy: float) -> np.ndarray:
    r"""5-point Laplacian with homogeneous Neumann conditions (mirror ghost cells).

    .. math::

        (\Delta_h u)_{i,j} = \frac{u_{i,j+1} - 2u_{i,j} + u_{i,j-1}}{h_x^2}
                           + \frac{u_{i+1,j} - 2u_{i,j} + u_{i-1,j}}{h_y^2},
        \qquad u_{i,-1} = u_{i,0},\ u_{i,N_x} = u_{i,N_x-1}\ (\text{same in } y).

    Equal to ``divergence_of_staggered(*forward_gradient(u, hx, hy), hx, hy)``.

    Args:
        u: ``(Ny, Nx)`` or ``(Ny, Nx, C)``.

    Returns:
        Same shape as ``u``, float64.
    """
    u = _check_field(u, "u")
    _check_grid(u, "u")
    hx = _check_spacing(hx, "hx")
    hy = _check_spacing(hy, "hy")
    pad = [(1, 1), (1, 1)] + [(0, 0)] * (u.ndim - 2)
    g = np.pad(u, pad, mode="edge")
    c = g[1:-1, 1:-1]
    lap_x = (g[1:-1, 2:] - 2.0 * c + g[1:-1, :-2]) / hx**2
    lap_y = (g[2:, 1:-1] - 2.0 * c + g[:-2, 1:-1]) / hy**2
    return lap_x + lap_y


def neumann_eigenvalues(ny: int, nx: int, hx: float, hy: float) -> np.ndarray:
    r"""Eigenvalues :math:`-\lambda_{k,l}` of :func:`neumann_laplacian` in DCT-II order.

    .. math::

        \lambda_{k,l} = \frac{2 - 2\cos(\pi l / N_x)}{h_x^2}
                      + \frac{2 - 2\cos(\pi k / N_y)}{h_y^2} \ge 0,

    returned as the ``(Ny, Nx)`` array of :math:`-\lambda_{k,l}` (entry ``[0, 0]`` is 0).
    """
    hx = _check_spacing(hx, "hx")
    hy = _check_spacing(hy, "hy")
    if ny < 1 or nx < 1:
        raise ValueError(f"ny and nx must be positive, got ny={ny}, nx={nx}")
    # 2 - 2 cos(theta) = 4 sin^2(theta / 2): the sine form keeps full relative accuracy at small k.
    lam_x = 4.0 * np.sin(np.pi * np.arange(nx) / (2.0 * nx)) ** 2 / hx**2
    lam_y = 4.0 * np.sin(np.pi * np.arange(ny) / (2.0 * ny)) ** 2 / hy**2
    return -(lam_y[:, None] + lam_x[None, :])


def solve_neumann_poisson(f: Any, hx: float, hy: float) -> np.ndarray:
    r"""Zero-mean solution of the discrete Neumann problem :math:`\Delta_h u = f - \bar f`.

    The compatibility condition :math:`\sum f = 0` is enforced by removing the mean of ``f``
    (per channel). With :math:`\hat{\cdot}` the orthonormal 2-D DCT-II,

    .. math::

        \hat u_{k,l} = -\frac{\hat f_{k,l}}{\lambda_{k,l}}\ \ ((k,l) \ne (0,0)), \qquad
        \hat u_{0,0} = 0,

    which is exact up to rounding (residual ~ 1e-13 relative). See :func:`neumann_eigenvalues`.

    Args:
        f: right-hand side, ``(Ny, Nx)`` or ``(Ny, Nx, C)`` (channels solved independently).
        hx, hy: cell sizes along x (axis 1) and y (axis 0).

    Returns:
        ``u`` of the same shape, float64, with zero mean per channel.
    """
    f = _check_field(f, "f")
    _check_grid(f, "f")
    eig = neumann_eigenvalues(f.shape[0], f.shape[1], hx, hy)
    if f.ndim == 3:
        eig = eig[..., None]
    f_hat = dctn(f, type=2, axes=(0, 1), norm="ortho")
    eig[0, 0] = 1.0  # placeholder; the constant mode is set to zero below
    u_hat = f_hat / eig
    u_hat[0, 0] = 0.0  # removes mean(f) from the data and fixes mean(u) = 0
    return idctn(u_hat, type=2, axes=(0, 1), norm="ortho")


def poisson_from_gradient(gx: Any, gy: Any, hx: float, hy: float) -> np.ndarray:
    r"""Least-squares integration of a gradient field on the staggered grid.

    Solves :math:`\min_u \lVert \nabla_h u - (g_x, g_y)\rVert_2^2`, whose normal equations
    are :math:`\nabla_h^{\top}\nabla_h u = \nabla_h^{\top} g`, i.e.
    :math:`\Delta_h u = \operatorname{div}_h g` (the Neumann condition is natural here).
    Returns the zero-mean minimiser; if ``g`` is the gradient of some ``v`` the result is
    ``v - mean(v)`` exactly.

    Args:
        gx: ``(Ny, Nx-1[, C])``, x-differences divided by ``hx``.
        gy: ``(Ny-1, Nx[, C])``, y-differences divided by ``hy``.

    Returns:
        ``(Ny, Nx[, C])`` float64, zero mean per channel.
    """
    return solve_neumann_poisson(divergence_of_staggered(gx, gy, hx, hy), hx, hy)


def _difference_matrix(n: int, h: float) -> sp.csr_matrix:
    """Forward differences ``(n-1, n)``: row i is ``(u[i+1] - u[i]) / h``."""
    return sp.diags([-np.ones(n - 1), np.ones(n - 1)], [0, 1], shape=(n - 1, n), format="csr") / h


def poisson_from_gradient_fixed(gx: Any, gy: Any, hx: float, hy: float, values: Any, fixed: Any) -> np.ndarray:
    r"""Least-squares integration of a gradient field with the values of some cells given
    (gradient-domain compositing, Pérez et al. 2003, on the whole grid).

    Solves :math:`\min_u \lVert \nabla_h u - g\rVert_2^2` subject to :math:`u = v` on the
    ``fixed`` cells; the free cells satisfy the normal equations
    :math:`\operatorname{div}_h(\nabla_h u - g) = 0`, i.e. :math:`\Delta_h u = \operatorname{div}_h g`
    with the fixed cells as Dirichlet data (the Neumann condition is natural where no cell is
    fixed), solved by a sparse direct factorisation. If ``g`` is the gradient of some ``w``
    with ``w = v`` on the fixed cells, the result is ``w`` exactly (up to rounding).

    Args:
        gx: ``(Ny, Nx-1)``, x-differences divided by ``hx``; gy: ``(Ny-1, Nx)``.
        values: ``(Ny, Nx)``, read on the fixed cells only.
        fixed: boolean ``(Ny, Nx)``, at least one cell.

    Returns:
        ``(Ny, Nx)`` float64.
    """
    gx, gy = _check_field(gx, "gx"), _check_field(gy, "gy")
    ny, nx, *channels = _grid_shape_of_gradient(gx, gy)
    if channels:
        raise ValueError(f"poisson_from_gradient_fixed takes one channel, got gradients of shape {gx.shape}")
    values = _check_field(values, "values")
    fixed = np.asarray(fixed, dtype=bool)
    if values.shape != (ny, nx) or fixed.shape != (ny, nx):
        raise ValueError(f"values and fixed must have the grid's shape {(ny, nx)}, got {values.shape} and "
                         f"{fixed.shape}")
    if not fixed.any():
        raise ValueError("no fixed cell: the answer is defined only up to a constant; use poisson_from_gradient")
    hx, hy = _check_spacing(hx, "hx"), _check_spacing(hy, "hy")
    d = sp.vstack([sp.kron(sp.eye(ny), _difference_matrix(nx, hx)),  # x-faces, row-major like gx
                   sp.kron(_difference_matrix(ny, hy), sp.eye(nx))]).tocsc()  # y-faces, like gy
    g = np.concatenate([gx.ravel(), gy.ravel()])
    free = ~fixed.ravel()
    u = values.ravel().copy()
    if free.any():
        a, b = d[:, free], d[:, ~free]
        rhs = a.T @ (g - b @ u[~free])
        u[free] = spl.splu((a.T @ a).tocsc()).solve(rhs)
    return u.reshape(ny, nx)
