"""PNG plots for run directories: fields, error maps, loss and metric curves.

Uses matplotlib's object API only (``Figure`` + ``FigureCanvasAgg``): no pyplot, no global
figure state, safe under any backend and in worker threads. Every file is written by
:func:`pinr.io.atomic_write` (temporary file in the target directory, fsync, mode 0644, then
``os.replace``), so a reader never sees a half-written PNG. Parent directories are created.

Floor: foundation (imports only :mod:`pinr.io`)."""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .io import atomic_write

__all__ = ["plot_fields", "plot_loss_curves", "plot_metric_curve", "plot_sampled_points"]

logger = logging.getLogger(__name__)

_PANEL_INCHES = 3.6
_MAX_COLUMNS = 4
_DIVERGING = "RdBu_r"


def _to_numpy(x: Any, name: str) -> np.ndarray:
    """Array-like (or torch tensor, detached and moved to host) -> real float64 array."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if np.iscomplexobj(arr):
        raise ValueError(f"{name!r} is complex; plot np.abs(...), .real or .imag instead")
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{name!r} must be a numeric array, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _save(fig: Figure, path: str | os.PathLike, *, dpi: int = 110) -> Path:
    """Render ``fig`` to PNG at ``path`` with :func:`pinr.io.atomic_write` (mode 0644); returns ``path``."""
    FigureCanvasAgg(fig)
    try:
        return atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=dpi))
    finally:
        fig.clear()


def _grid(n: int) -> tuple[int, int]:
    ncols = min(n, _MAX_COLUMNS)
    return math.ceil(n / ncols), ncols


def plot_fields(
    path: str | os.PathLike,
    fields: Mapping[str, Any],
    *,
    extent: Sequence[float] | None = None,
    cmap: str = "viridis",
    suptitle: str | None = None,
    symmetric: Collection[str] = (),
    origin: str = "lower",
) -> Path:
    """One panel per named field, saved as a PNG.

    Args:
        path: output ``.png`` file.
        fields: name -> array. ``(H, W)`` arrays (axis 0 is y) are drawn with ``imshow`` and a
            colour bar; ``(H, W, 3|4)`` arrays as RGB(A) clipped to
            ``[0, 1]``; ``(H, W, 1)`` as ``(H, W)``; 1-D arrays as a line against x.
        extent: ``(x_min, x_max, y_min, y_max)`` for 2-D panels; for 1-D panels
            ``extent[0:2]`` is the x range (default: sample index).
        cmap: colour map for 2-D scalar panels.
        suptitle: figure title.
        symmetric: names drawn with a diverging colour map centred on 0 (error maps).
        origin: ``"lower"`` (default; row 0 at the bottom, as for fields whose axis 0 is y)
            or ``"upper"`` (row 0 at the top, as for photographs from
            :func:`pinr.images.load_image`). Applies to every 2-D and RGB panel.

    Returns:
        The written path.
    """
    if not fields:
        raise ValueError("plot_fields needs at least one field")
    unknown = set(symmetric) - set(fields)
    if unknown:
        raise ValueError(
            f"symmetric names {sorted(unknown)} are not among the fields {list(fields)}"
        )
    if origin not in ("lower", "upper"):
        raise ValueError(f"origin must be 'lower' or 'upper', got {origin!r}")
    if extent is not None and len(extent) not in (2, 4):
        raise ValueError(f"extent must be (x_min, x_max[, y_min, y_max]), got {extent!r}")

    arrays = {name: _to_numpy(value, name) for name, value in fields.items()}
    for name, arr in arrays.items():
        if arr.ndim == 3 and arr.shape[-1] == 1:
            arrays[name] = arr = arr[..., 0]
        if not (arr.ndim in (1, 2) or (arr.ndim == 3 and arr.shape[-1] in (3, 4))):
            raise ValueError(
                f"field {name!r} has shape {arr.shape}; expected (N,), (H, W) or (H, W, 3|4)"
            )
        if arr.size == 0:
            raise ValueError(f"field {name!r} is empty (shape {arr.shape})")

    nrows, ncols = _grid(len(arrays))
    fig = Figure(figsize=(_PANEL_INCHES * ncols, _PANEL_INCHES * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(arrays) :]:
        ax.set_axis_off()

    for ax, (name, arr) in zip(axes, arrays.items()):
        ax.set_title(name)
        if arr.ndim == 1:
            if extent is not None:
                x = np.linspace(extent[0], extent[1], arr.size)
            else:
                x = np.arange(arr.size)
            ax.plot(x, arr)
            ax.set_xlabel("x")
            ax.grid(True, alpha=0.3)
            if name in symmetric:
                ax.axhline(0.0, color="0.4", linewidth=0.8)
            continue
        img_extent = tuple(extent) if extent is not None and len(extent) == 4 else None
        if arr.ndim == 3:
            ax.imshow(np.clip(arr, 0.0, 1.0), origin=origin, extent=img_extent)
        else:
            if name in symmetric:
                finite = np.abs(arr[np.isfinite(arr)])
                vmax = float(finite.max()) if finite.size else 0.0
                vmax = vmax if vmax > 0.0 else 1.0
                im = ax.imshow(arr, origin=origin, extent=img_extent, cmap=_DIVERGING,
                               vmin=-vmax, vmax=vmax)
            else:
                im = ax.imshow(arr, origin=origin, extent=img_extent, cmap=cmap)
            fig.colorbar(im, ax=ax, shrink=0.85)
        if img_extent is not None:
            ax.set_xlabel("x")
            ax.set_ylabel("y")
    if suptitle:
        fig.suptitle(suptitle)
    return _save(fig, path)


def _use_log(ax: Any, series: Sequence[np.ndarray]) -> None:
    """Log y-scale when some value is positive and finite (matplotlib warns otherwise)."""
    if any(np.any(np.isfinite(s) & (s > 0)) for s in series):
        ax.set_yscale("log")
    else:
        logger.debug("no positive values; keeping a linear y-axis")


def plot_loss_curves(
    path: str | os.PathLike,
    history: Mapping[str, Sequence[float]],
    *,
    steps: Sequence[int] | None = None,
    logy: bool = True,
) -> Path:
    """One line per loss term against the training step, saved as a PNG.

    Args:
        path: output ``.png`` file.
        history: term name -> values (e.g. ``{"total": [...], "pde": [...], "bc": [...]}``).
        steps: x values shared by all terms (each series must match its length); default
            ``0, 1, ...`` per series.
        logy: logarithmic y-axis (falls back to linear when no value is positive).

    Returns:
        The written path.
    """
    if not history:
        raise ValueError("plot_loss_curves needs at least one loss term in history")
    series = {name: _to_numpy(values, name).ravel() for name, values in history.items()}
    x_shared = None if steps is None else _to_numpy(steps, "steps").ravel()
    if x_shared is not None:
        for name, values in series.items():
            if values.size != x_shared.size:
                raise ValueError(
                    f"loss term {name!r} has {values.size} values but steps has {x_shared.size}"
                )

    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    for name, values in series.items():
        x = x_shared if x_shared is not None else np.arange(values.size)
        ax.plot(x, values, label=name, linewidth=1.2)
    if logy:
        _use_log(ax, list(series.values()))
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_metric_curve(
    path: str | os.PathLike,
    steps: Sequence[int],
    values: Sequence[float],
    *,
    name: str,
    logy: bool = False,
) -> Path:
    """A validation metric (e.g. ``rel_l2`` against the FD reference) against the step.

    ``logy=True`` uses a logarithmic y-axis (falls back to linear when no value is positive).

    Returns:
        The written path.
    """
    x = _to_numpy(steps, "steps").ravel()
    y = _to_numpy(values, name).ravel()
    if x.size != y.size:
        raise ValueError(f"steps has {x.size} entries but {name!r} has {y.size}")
    if x.size == 0:
        raise ValueError(f"no values to plot for {name!r}")
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    ax.plot(x, y, marker="o", markersize=3, linewidth=1.2)
    if logy:
        _use_log(ax, [y])
    ax.set_xlabel("step")
    ax.set_ylabel(name)
    ax.set_title(name)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_parameters(
    path: str | os.PathLike,
    steps: Sequence[int],
    trajectories: Mapping[str, Sequence[float]],
    *,
    targets: Mapping[str, float] | None = None,
) -> Path:
    """Trajectories of trainable problem parameters against the step, one panel each, with a
    dashed line at the value in ``targets`` when one is known.

    Returns:
        The written path.
    """
    x = _to_numpy(steps, "steps").ravel()
    if not trajectories:
        raise ValueError("no parameters to plot")
    n = len(trajectories)
    fig = Figure(figsize=(4.2 * n, 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n))
    for ax, (name, values) in zip(axes, trajectories.items()):
        y = _to_numpy(values, name).ravel()
        if y.size != x.size:
            raise ValueError(f"steps has {x.size} entries but parameter {name!r} has {y.size}")
        ax.plot(x, y, linewidth=1.4, label="trained")
        if targets and name in targets:
            ax.axhline(float(targets[name]), color="k", linestyle="--", linewidth=1, label="target")
            ax.legend(loc="best", fontsize=8)
        ax.set_xlabel("step")
        ax.set_title(f"{name} = {y[-1]:.5g}")
        ax.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_sampled_points(
    path: str | os.PathLike,
    pools: Mapping[str, Any],
    *,
    coords: Sequence[str],
    bounds: Any = None,
) -> Path:
    """Where adaptive sampling left each term's points: ``pools`` maps a term name to points
    ``(N, d)`` with coordinates named ``coords``. One panel per term: a histogram of the
    coordinate for d = 1, a scatter for d = 2; for d > 2 one histogram per coordinate (a row per
    term). ``bounds`` ``(d, 2)`` fixes the axes to the domain's box.

    Returns:
        The written path.
    """
    if not pools:
        raise ValueError("no sampled points to plot")
    arrays = {name: _to_numpy(p, name) for name, p in pools.items()}
    d = len(coords)
    for name, a in arrays.items():
        if a.ndim != 2 or a.shape[1] != d:
            raise ValueError(f"points of {name!r} must be (N, {d}), got shape {a.shape}")
    b = None if bounds is None else np.asarray(bounds, dtype=np.float64)
    rows, cols = (len(arrays), d) if d > 2 else (1, len(arrays))
    fig = Figure(figsize=(4.2 * cols, 3.6 * rows), layout="constrained")
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False))
    for i, (name, a) in enumerate(arrays.items()):
        if d == 2:
            ax = axes[0, i]
            ax.scatter(a[:, 0], a[:, 1], s=1.5, alpha=0.5, linewidths=0)
            ax.set_xlabel(coords[0])
            ax.set_ylabel(coords[1])
            if b is not None:
                ax.set_xlim(*b[0])
                ax.set_ylim(*b[1])
            ax.set_aspect("equal" if b is None else "auto")
            ax.set_title(f"{name}: {a.shape[0]} points")
            continue
        panels = [axes[0, i]] if d == 1 else list(axes[i])
        for j, ax in enumerate(panels):
            ax.hist(a[:, j], bins=50, range=None if b is None else tuple(b[j]), density=True)
            ax.set_xlabel(coords[j])
            ax.set_ylabel("density")
            ax.set_title(f"{name}: {a.shape[0]} points")
    return _save(fig, path)
