r"""Fitting problems: a field equals data (zero derivatives).

``image``: fit a bundled real image (or any image file) on its pixel grid,
:math:`u(x, y) = I(x, y)` with :math:`(x, y) \in [-1, 1]^2` at the pixel centres and
intensities scaled to :math:`[-1, 1]`. PSNR is reported on that range (``data_range`` 2),
which equals the usual PSNR of the [0, 1] image; SSIM as well.
"""

from __future__ import annotations

import numpy as np

from pinr.case import Case
from pinr.domains import Grid
from pinr.images import load_image
from pinr.memory import check_fits
from pinr.symbolic import Data, Eq, Problem
from pinr.training import ModelConfig, OptimConfig, SamplingConfig, TrainConfig

from . import register_problem

__all__ = ["image", "image_to_grid", "grid_to_image", "image_grid"]


def image_grid(shape_hw: tuple[int, int]) -> Grid:
    """Pixel grid of an ``(H, W)`` image: x across columns in [-1, 1], y up the rows, aspect kept."""
    h, w = shape_hw
    if w >= h:
        return Grid((w, h), x=(-1.0, 1.0), y=(-h / w, h / w))
    return Grid((w, h), x=(-w / h, w / h), y=(-1.0, 1.0))


def image_to_grid(img: np.ndarray) -> np.ndarray:
    """Image ``(H, W[, C])`` (row 0 at the top) → grid array ``(W, H[, C])`` indexed ``[ix, iy]``, y up."""
    return np.swapaxes(img[::-1], 0, 1)


def grid_to_image(a: np.ndarray) -> np.ndarray:
    """Inverse of :func:`image_to_grid`."""
    return np.swapaxes(a, 0, 1)[::-1]


@register_problem("image")
def image(image: str = "camera", size: int = 256, gray: bool | None = None) -> Case:
    """Fit image ``image`` (a bundled name such as camera, astronaut, coffee, ascent, or a path)
    resized to ``size`` pixels a side (SIREN's image-fitting experiment; RGB images give 3 fields).
    A size whose pixels would not fit in the free memory is refused before the image is resized:
    per pixel 8 bytes for each of two coordinates and, per channel (3 unless ``gray``), the
    resized image and its two rescaled copies."""
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        channels = 1 if gray else 3
        check_fits(f"image: size={size} ({size * size:,} pixels)", 8 * size * size * (3 * channels + 2),
                   "use a smaller --set size=... (or size=)")
    img = load_image(image, size=size, gray=gray) * 2.0 - 1.0
    grid = image_grid(img.shape[:2])
    target = Data("I", image_to_grid(img), on=grid)
    channels = 1 if img.ndim == 2 else img.shape[-1]
    u = grid.field("u", components=channels)
    problem = Problem(grid, [Eq(u, target)], name="image", exact=target, image=True,
                      description=f"fit {image} ({img.shape[1]}×{img.shape[0]}, {channels} channel(s))")
    return Case(problem, image_training(img.shape[0], img.shape[1]))


#: pixels per step of the hashgrid image fit (random pixels: a hash grid learns from many cheap steps)
IMAGE_BATCH = 1 << 16


def image_training(height: int, width: int) -> TrainConfig:
    """The image fit's defaults: the hashgrid backbone with its finest level at the image's longest
    side (one grid node a pixel), Instant-NGP's rate 1e-2, batches of :data:`IMAGE_BATCH` random
    pixels and 75 steps per 65,536 pixels (at least 300, at most 1,500). Chosen over SIREN (256 ×
    3 sine layers, every pixel each step, 500 steps at 1e-4) by the equal-CPU-time table of
    bench/RESULTS.md ("hashgrid")."""
    pixels = height * width
    steps = int(min(1500, max(300, round(75 * pixels / IMAGE_BATCH))))
    return TrainConfig(model=ModelConfig(backbone="hashgrid", options={"max_resolution": max(16, height, width)}),
                       optim=OptimConfig(steps=steps, lr=1e-2), sampling=SamplingConfig(batch=min(pixels, IMAGE_BATCH)))
