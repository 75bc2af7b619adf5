r"""Poisson image reconstruction (SIREN, Sec. 4.1): recover an image from its gradient field or
from its Laplacian.

Scaling. The image is scaled to :math:`I \in [-1, 1]` on the pixel grid of
:math:`[-1, 1]^2` (cell centres, spacing :math:`h = 2/N`). Targets are exact discrete
derivatives in coordinate units:

- ``mode="gradient"``: forward differences on the staggered grid,
  :math:`g_x = (I_{i+1,j} - I_{i,j})/h` at the x-faces and :math:`g_y` likewise at the y-faces;
  the equation is :math:`\nabla u = g`, with :math:`g` interpolated bilinearly at points
  (so at a pixel centre it is the central difference);
- ``mode="laplacian"``: :math:`\Delta u = f` with :math:`f = \Delta_h I` the 5-point Laplacian
  with Neumann (mirror) boundary cells.

Each loss term is divided by the mean square of its target so that it starts near 1.
The answer is defined only up to a constant (gradient) or a harmonic function (Laplacian):
PSNR is reported after least-squares affine alignment to the image (``align="affine"``).
The FD reference is the same discrete Neumann Poisson problem solved exactly by the DCT; it
recovers the image up to its mean.
"""

from __future__ import annotations

import numpy as np

from pinr.case import Case
from pinr.domains import Grid
from pinr.images import load_image
from pinr.solvers.fd_poisson import forward_gradient, neumann_laplacian
from pinr.symbolic import Condition, Data, Eq, Problem, grad, lap
from pinr.training import ModelConfig, OptimConfig, TrainConfig

from . import register_problem
from .regression import image_grid, image_to_grid

__all__ = ["poisson_image"]


@register_problem("poisson-image")
def poisson_image(image: str = "camera", size: int = 96, mode: str = "gradient") -> Case:
    """Reconstruct grayscale ``image`` at ``size``² from its gradient (``mode="gradient"``) or
    Laplacian (``mode="laplacian"``).

    Defaults (96², 400 Adam steps at 3e-4, every pixel each step) reach 37.4 dB (SSIM 0.981)
    in 78 s on an idle 2-core CPU (184 ms per step, reverse-mode derivatives); the SIREN paper's
    protocol is ``size=256``, 10,000 steps at ``lr=1e-4`` on a GPU.
    """
    if mode not in ("gradient", "laplacian"):
        raise ValueError(f"poisson-image mode must be 'gradient' or 'laplacian', got {mode!r}")
    img = load_image(image, size=size, gray=True) * 2.0 - 1.0
    grid = image_grid(img.shape)
    a = image_to_grid(img)  # (nx, ny), y up
    (hx, hy) = grid.spacing
    (x0, x1), (y0, y1) = grid.bounds
    u = grid.field("u")
    if mode == "gradient":
        gx_yx, gy_yx = forward_gradient(a.T, hx, hy)  # fd_poisson arrays are (ny, nx)
        gx, gy = gx_yx.T, gy_yx.T
        gx_data = Data("g_x", gx, on=Grid(gx.shape, x=(x0 + hx / 2, x1 - hx / 2), y=(y0, y1)))
        gy_data = Data("g_y", gy, on=Grid(gy.shape, x=(x0, x1), y=(y0 + hy / 2, y1 - hy / 2)))
        scale = float(np.mean(np.concatenate([gx.ravel(), gy.ravel()]) ** 2))
        eq = Eq(grad(u), [gx_data, gy_data])
    else:
        f = neumann_laplacian(a.T, hx, hy).T
        scale = float(np.mean(f**2))
        eq = Eq(lap(u), Data("f", f, on=grid))
    exact = Data("I", a, on=grid)
    problem = Problem(grid, conditions=[Condition(eq, on=grid.interior, weight=1.0 / scale, name=mode)],
                      name="poisson-image", exact=exact, align="affine", image=True,
                      description=f"reconstruct {image} ({size}²) from its {mode}")
    return Case(problem, TrainConfig(model=ModelConfig(backbone="siren"), optim=OptimConfig(steps=400, lr=3e-4)))
