"""Pictures of rendered views: renders next to the truth, depth and opacity maps (matplotlib's
object API, files written atomically through :func:`pinr.plotting._save`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from ..plotting import _save

__all__ = ["plot_renders", "plot_depth_opacity"]


def plot_renders(path, rendered: np.ndarray, truth: np.ndarray, psnr: Sequence[float] | None = None):
    """Rows of (rendered, truth, |error|) for pictures ``(K, H, W, 3)`` in [0, 1]."""
    k = len(rendered)
    fig = Figure(figsize=(3 * 3, 3 * k), layout="constrained")
    axes = fig.subplots(k, 3, squeeze=False)
    for i in range(k):
        err = np.abs(rendered[i] - truth[i]).mean(axis=-1)
        title = "rendered" + (f" ({psnr[i]:.2f} dB)" if psnr is not None else "")
        for ax, img, name in zip(axes[i], (np.clip(rendered[i], 0, 1), truth[i], err), (title, "truth", "|error|")):
            ax.imshow(img, cmap="magma" if img.ndim == 2 else None, vmin=0, vmax=1 if img.ndim == 3 else None)
            ax.set_title(name, fontsize=9)
            ax.set_axis_off()
    return _save(fig, path)


def plot_depth_opacity(path, depth: np.ndarray, opacity: np.ndarray):
    """Rows of (depth, opacity) for ``(K, H, W)`` maps; depth is NaN where nothing was hit."""
    k = len(depth)
    fig = Figure(figsize=(2 * 3.2, 3 * k), layout="constrained")
    axes = fig.subplots(k, 2, squeeze=False)
    finite = depth[np.isfinite(depth)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    for i in range(k):
        im = axes[i, 0].imshow(np.ma.masked_invalid(depth[i]), cmap="viridis", vmin=lo, vmax=hi)
        fig.colorbar(im, ax=axes[i, 0], shrink=0.8, label="distance")
        im = axes[i, 1].imshow(opacity[i], cmap="gray", vmin=0, vmax=1)
        fig.colorbar(im, ax=axes[i, 1], shrink=0.8, label="opacity")
        for ax in axes[i]:
            ax.set_axis_off()
    return _save(fig, path)
