r"""Pictures of signed distance fields: 2-D level sets, 3-D slices, shaded mesh renders.

matplotlib's object API only (no pyplot state), written atomically like every run output.
Grids are "ij"-indexed values on the cell centres of :math:`[-1, 1]^d`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from ..io import atomic_write

__all__ = ["plot_level_sets", "plot_slices", "mid_slices", "render_mesh", "plot_occupancy"]


def _save(fig: Figure, path, dpi: int = 110) -> Path:
    FigureCanvasAgg(fig)
    try:
        return atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=dpi))
    finally:
        fig.clear()


def _panel(fig, ax, values: np.ndarray, title: str, *, ref: np.ndarray | None = None, vmax: float | None = None,
           spacing: float = 0.1, error: bool = False, zero: np.ndarray | None = None):
    """One field; bold: the zero level set of ``zero`` (default the field itself), dashed: of ``ref``."""
    img = values.T  # "ij" grid → image rows = y
    vmax = vmax or float(np.abs(img).max()) or 1.0
    im = ax.imshow(img, origin="lower", extent=(-1, 1, -1, 1), cmap="RdBu_r" if not error else "PuOr_r",
                   vmin=-vmax, vmax=vmax)
    n = values.shape[0]
    c = -1 + (2 / n) * (np.arange(n) + 0.5)
    if not error:
        lo, hi = float(values.min()), float(values.max())
        levels = np.arange(np.floor(lo / spacing), np.ceil(hi / spacing) + 1) * spacing
        levels = levels[(levels > lo) & (levels < hi) & (np.abs(levels) > 1e-12)]
        if len(levels):
            ax.contour(c, c, img, levels=levels, colors="k", linewidths=0.4, alpha=0.5)
    zero = values if zero is None else zero
    if zero.min() < 0 < zero.max():
        ax.contour(c, c, zero.T, levels=[0.0], colors="k", linewidths=1.6)
    if ref is not None and ref.min() < 0 < ref.max():
        ax.contour(c, c, ref.T, levels=[0.0], colors="lime", linewidths=1.0, linestyles="--")
    ax.set_title(title)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    fig.colorbar(im, ax=ax, shrink=0.85)


def plot_level_sets(path: str | os.PathLike, values: np.ndarray, *, reference: np.ndarray | None = None,
                    title: str | None = None, spacing: float = 0.1) -> Path:
    """2-D signed distance with level sets every ``spacing`` and the zero level set in bold;
    with a ``reference``: its panel, the error, and its zero level set dashed in green."""
    if values.ndim != 2:
        raise ValueError(f"plot_level_sets takes a 2-D grid, got shape {values.shape}")
    n = 1 if reference is None else 3
    fig = Figure(figsize=(4.2 * n, 3.8), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    vmax = float(np.abs(values).max() if reference is None else np.abs(reference).max()) or 1.0
    _panel(fig, axes[0], values, "u (pinr)", ref=reference, vmax=vmax, spacing=spacing)
    if reference is not None:
        _panel(fig, axes[1], reference, "exact signed distance", vmax=vmax, spacing=spacing)
        _panel(fig, axes[2], values - reference, "error", ref=reference, error=True, zero=values)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_occupancy(path: str | os.PathLike, predicted: np.ndarray, true: np.ndarray, *,
                   title: str | None = None) -> Path:
    """Predicted and true inside sets (boolean "ij" grids ``(n, n)`` on :math:`[-1, 1]^2`) and
    where they differ (red: predicted inside only, blue: missed), the true boundary dashed."""
    p, t = np.asarray(predicted, dtype=bool), np.asarray(true, dtype=bool)
    if p.ndim != 2 or p.shape != t.shape:
        raise ValueError(f"plot_occupancy takes two 2-D grids of one shape, got {p.shape} and {t.shape}")
    fig = Figure(figsize=(12.0, 4.0), layout="constrained")
    axes = fig.subplots(1, 3)
    n = p.shape[0]
    c = -1 + (2 / n) * (np.arange(n) + 0.5)
    diff = p.astype(np.int8) - t.astype(np.int8)
    panels = (("inside (pinr: u > 0)", p.astype(float), "Greys", (0, 1)),
              ("inside (truth)", t.astype(float), "Greys", (0, 1)),
              ("pinr - truth", diff.astype(float), "bwr", (-1, 1)))
    for ax, (name, img, cmap, (lo, hi)) in zip(axes, panels):
        ax.imshow(img.T, origin="lower", extent=(-1, 1, -1, 1), cmap=cmap, vmin=lo, vmax=hi,
                  interpolation="nearest")
        if t.any() and not t.all():
            ax.contour(c, c, t.T.astype(float), levels=[0.5], colors="lime", linewidths=1.0, linestyles="--")
        ax.set_title(name)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def mid_slices(values: np.ndarray) -> list[np.ndarray]:
    """The three mid-plane slices (normal to x, y, z) of a cubic 3-D grid, each "ij"-indexed."""
    m = values.shape[0] // 2
    return [np.take(values, m, axis=k) for k in range(3)]


def plot_slices(path: str | os.PathLike, values: np.ndarray, *, reference=None,
                title: str | None = None, spacing: float = 0.1) -> Path:
    """Mid-plane slices normal to x, y, z (planes through the cell centres nearest 0) of a 3-D
    signed distance; rows: pinr, reference, error. ``reference`` is a 3-D grid like ``values``
    or its three :func:`mid_slices`."""
    if values.ndim != 3:
        raise ValueError(f"plot_slices takes a 3-D grid, got shape {values.shape}")
    mine = mid_slices(values)
    refs = None
    if reference is not None:
        refs = mid_slices(reference) if isinstance(reference, np.ndarray) and reference.ndim == 3 else list(reference)
    rows = [("u (pinr)", mine)] + ([("reference", refs), ("error", [a - b for a, b in zip(mine, refs)])]
                                   if refs is not None else [])
    fig = Figure(figsize=(12.6, 3.8 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), 3, squeeze=False)
    vmax = float(max(np.abs(s).max() for s in (mine if refs is None else refs))) or 1.0
    names = (("x", ("y", "z")), ("y", ("x", "z")), ("z", ("x", "y")))
    for r, (label, slices) in enumerate(rows):
        for k, (axis, (h, v)) in enumerate(names):
            sl = slices[k]
            ref_sl = refs[k] if refs is not None and label != "reference" else None
            ax = axes[r, k]
            _panel(fig, ax, sl, f"{label}, {axis} = 0", ref=ref_sl, vmax=None if label == "error" else vmax,
                   spacing=spacing, error=label == "error", zero=mine[k] if label == "error" else None)
            ax.set_xlabel(h)
            ax.set_ylabel(v)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def render_mesh(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray, *, elevation: float = 25.0,
                azimuth: float = -55.0, title: str | None = None, color=(0.75, 0.78, 0.85),
                size: float = 6.0) -> Path:
    """Shaded render of a triangle mesh: orthographic view from (``elevation``, ``azimuth``) in
    degrees, Lambert shading with a head light plus ambient, faces drawn back to front."""
    v, f = np.asarray(vertices, dtype=np.float64), np.asarray(faces)
    if len(f) == 0:
        raise ValueError("render_mesh: the mesh has no faces (the level set is empty)")
    el, az = np.radians(elevation), np.radians(azimuth)
    # camera frame: view direction towards the origin from (el, az); z up
    eye = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    right = np.cross([0.0, 0.0, 1.0], eye)
    right /= np.linalg.norm(right)
    up = np.cross(eye, right)
    tri = v[f]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-300)
    facing = normal @ eye
    light = _unit(eye + 0.6 * up - 0.3 * right)
    shade = 0.25 + 0.75 * np.clip(np.abs(normal @ light), 0, 1)
    shade = np.where(facing >= 0, shade, 0.6 * shade)  # back faces (holes, inside) darker
    xy = np.stack([tri @ right, tri @ up], -1)
    order = np.argsort(tri.mean(1) @ eye)  # far to near
    colors = np.clip(np.asarray(color)[None, :] * shade[order, None], 0, 1)
    fig = Figure(figsize=(size, size), layout="constrained")
    ax = fig.subplots()
    ax.add_collection(PolyCollection(xy[order], facecolors=colors, edgecolors="none", antialiased=False))
    lo, hi = xy.reshape(-1, 2).min(0), xy.reshape(-1, 2).max(0)
    c, r = (lo + hi) / 2, float((hi - lo).max()) / 2 * 1.05
    ax.set_xlim(c[0] - r, c[0] + r)
    ax.set_ylim(c[1] - r, c[1] + r)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return _save(fig, path)


def _unit(v):
    return v / np.linalg.norm(v)
