"""Discrete Neumann Poisson operators: adjointness, exact inversion, second-order convergence."""

import numpy as np
import pytest

from pinr.solvers.fd_poisson import (
    divergence_of_staggered,
    forward_gradient,
    neumann_eigenvalues,
    neumann_laplacian,
    poisson_from_gradient,
    solve_neumann_poisson,
)

SHAPES = [(17, 23), (16, 16), (9, 31, 3)]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def cell_centres(n, lo, hi):
    h = (hi - lo) / n
    return lo + (np.arange(n) + 0.5) * h, h


@pytest.mark.parametrize("shape", SHAPES)
def test_divergence_is_negative_adjoint_of_gradient(rng, shape):
    hx, hy = 0.3, 0.7
    u = rng.normal(size=shape)
    gx = rng.normal(size=(shape[0], shape[1] - 1) + shape[2:])
    gy = rng.normal(size=(shape[0] - 1, shape[1]) + shape[2:])
    ux, uy = forward_gradient(u, hx, hy)
    lhs = np.sum(ux * gx) + np.sum(uy * gy)
    rhs = -np.sum(u * divergence_of_staggered(gx, gy, hx, hy))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


def test_forward_gradient_shapes_and_values():
    u = np.arange(12.0).reshape(3, 4)  # u = 4 y_index + x_index
    gx, gy = forward_gradient(u, 0.5, 2.0)
    assert gx.shape == (3, 3) and gy.shape == (2, 4)
    np.testing.assert_array_equal(gx, 2.0)
    np.testing.assert_array_equal(gy, 2.0)


@pytest.mark.parametrize("shape", SHAPES)
def test_laplacian_is_div_grad(rng, shape):
    hx, hy = 0.11, 0.05
    u = rng.normal(size=shape)
    np.testing.assert_allclose(
        neumann_laplacian(u, hx, hy),
        divergence_of_staggered(*forward_gradient(u, hx, hy), hx, hy),
        rtol=0,
        atol=1e-9,
    )


def test_laplacian_kills_constants_and_sums_to_zero(rng):
    np.testing.assert_allclose(neumann_laplacian(np.full((7, 9), 3.0), 0.1, 0.2), 0.0, atol=0)
    lap = neumann_laplacian(rng.normal(size=(7, 9)), 0.1, 0.2)
    assert abs(lap.sum()) < 1e-10 * np.abs(lap).sum()


def test_eigenvalues_match_dct_modes():
    ny, nx, hx, hy = 6, 8, 0.4, 0.25
    eig = neumann_eigenvalues(ny, nx, hx, hy)
    j, i = np.arange(nx), np.arange(ny)
    for k, l in [(0, 1), (2, 3), (5, 7)]:
        mode = np.cos(np.pi * k * (i[:, None] + 0.5) / ny) * np.cos(np.pi * l * (j + 0.5) / nx)
        np.testing.assert_allclose(
            neumann_laplacian(mode, hx, hy), eig[k, l] * mode, rtol=0, atol=1e-12
        )
    assert eig[0, 0] == 0.0
    expected = -(2 - 2 * np.cos(np.pi * 3 / nx)) / hx**2 - (2 - 2 * np.cos(np.pi * 2 / ny)) / hy**2
    assert eig[2, 3] == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("shape", SHAPES)
def test_solve_inverts_laplacian(rng, shape):
    hx, hy = 0.02, 0.035
    u = rng.normal(size=shape)
    u -= u.mean(axis=(0, 1))
    f = neumann_laplacian(u, hx, hy)
    u_solved = solve_neumann_poisson(f, hx, hy)
    scale = np.abs(u).max()
    np.testing.assert_allclose(u_solved, u, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(u_solved.mean(axis=(0, 1)), 0.0, atol=1e-12)


def test_solve_removes_mean_of_rhs(rng):
    hx = hy = 0.1
    f = rng.normal(size=(12, 10))
    u = solve_neumann_poisson(f + 5.0, hx, hy)
    np.testing.assert_allclose(neumann_laplacian(u, hx, hy), f - f.mean(), rtol=0, atol=1e-10)
    assert abs(u.mean()) < 1e-12


@pytest.mark.parametrize("shape", SHAPES)
def test_poisson_from_gradient_recovers_image_up_to_mean(rng, shape):
    hx, hy = 1.0 / shape[1], 1.0 / shape[0]
    img = rng.uniform(size=shape)
    u = poisson_from_gradient(*forward_gradient(img, hx, hy), hx, hy)
    np.testing.assert_allclose(u, img - img.mean(axis=(0, 1)), rtol=0, atol=1e-10)


def test_poisson_from_gradient_is_least_squares(rng):
    """Normal equations: the residual g - grad(u) is divergence-free (orthogonal to range)."""
    hx, hy = 0.2, 0.3
    gx, gy = rng.normal(size=(9, 10)), rng.normal(size=(8, 11))
    u = poisson_from_gradient(gx, gy, hx, hy)
    ux, uy = forward_gradient(u, hx, hy)
    residual_div = divergence_of_staggered(gx - ux, gy - uy, hx, hy)
    np.testing.assert_allclose(residual_div, 0.0, atol=1e-10)


def _max_error_square(n):
    x, h = cell_centres(n, -1.0, 1.0)
    X, Y = np.meshgrid(x, x, indexing="xy")  # axis 0 is y, axis 1 is x
    exact = np.cos(np.pi * X) * np.cos(np.pi * Y)
    f = -2 * np.pi**2 * exact
    u = solve_neumann_poisson(f, h, h)
    return np.abs(u - (exact - exact.mean())).max()


def test_second_order_convergence_square():
    errors = [_max_error_square(n) for n in (32, 64, 128)]
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert errors[-1] < 1e-3
    for r in ratios:
        assert 3.6 < r < 4.4, (errors, ratios)


def _max_error_rectangle(ny):
    """u = cos(pi x) g(y), g = y^2 (1-y)^2 on [0, 2] x [0, 1]; nx = ny so hx = 2 hy.

    u_x = 0 at x = 0, 2 and u_y = 0 at y = 0, 1; not a discrete eigenfunction.
    """
    nx = ny
    x, hx = cell_centres(nx, 0.0, 2.0)
    y, hy = cell_centres(ny, 0.0, 1.0)
    X, Y = np.meshgrid(x, y, indexing="xy")
    g = Y**2 * (1 - Y) ** 2
    g2 = 2 - 12 * Y + 12 * Y**2
    exact = np.cos(np.pi * X) * g
    f = np.cos(np.pi * X) * (g2 - np.pi**2 * g)
    u = solve_neumann_poisson(f, hx, hy)
    return np.abs(u - (exact - exact.mean())).max(), u.shape


def test_second_order_convergence_rectangle_hx_ne_hy():
    results = [_max_error_rectangle(n) for n in (32, 64, 128)]
    assert results[0][1] == (32, 32)
    errors = [e for e, _ in results]
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    for r in ratios:
        assert 3.6 < r < 4.4, (errors, ratios)


def test_non_square_grid_shapes():
    rng = np.random.default_rng(7)
    f = rng.normal(size=(10, 37))
    u = solve_neumann_poisson(f, 0.05, 0.2)
    assert u.shape == (10, 37)
    np.testing.assert_allclose(neumann_laplacian(u, 0.05, 0.2), f - f.mean(), atol=1e-9)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: solve_neumann_poisson(np.zeros(5), 1.0, 1.0), "f must have shape"),
        (lambda: solve_neumann_poisson(np.zeros((2, 3, 4, 5)), 1.0, 1.0), "f must have shape"),
        (lambda: solve_neumann_poisson(np.array([[np.nan, 0.0]]), 1.0, 1.0), "f contains NaN"),
        (lambda: solve_neumann_poisson(np.zeros((3, 3)), 0.0, 1.0), "hx"),
        (lambda: solve_neumann_poisson(np.zeros((3, 3)), 1.0, -1.0), "hy"),
        (lambda: forward_gradient(np.zeros((3, 3)), np.inf, 1.0), "hx"),
        (lambda: neumann_laplacian(np.zeros((3, 3)) + 1j, 1.0, 1.0), "u must be real"),
        (lambda: poisson_from_gradient(np.zeros((3, 3)), np.zeros((3, 3)), 1.0, 1.0), "gx"),
        (lambda: divergence_of_staggered(np.zeros((3, 2)), [[np.inf] * 3] * 2, 1.0, 1.0), "gy"),
    ],
)
def test_validation_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
