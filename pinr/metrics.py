r"""Error metrics between a predicted field and a reference field.

All functions take array-likes of equal shape (numpy arrays, or CPU/GPU torch tensors, which
are detached and copied to host) and return Python floats, or ``None`` where a metric is
undefined for the reference (PSNR and SSIM of a constant one without ``data_range``, relative
L2 against a zero one): a flat image is a valid target, so its metrics are reported as missing
(JSON ``null``), never fatal. They are pure numpy/scikit-image and import no deep-learning
framework.

.. math::

    \mathrm{rel\_l2} = \frac{\lVert p - r \rVert_2}{\lVert r \rVert_2}, \qquad
    \mathrm{max\_abs} = \max |p - r|, \qquad
    \mathrm{psnr} = 10 \log_{10} \frac{R^2}{\tfrac{1}{n}\sum |p - r|^2}

Floor: foundation (imports nothing from pinr)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import numpy as np
from skimage.metrics import structural_similarity

__all__ = ["rel_l2", "max_abs", "psnr", "ssim", "affine_align", "field_metrics", "ALIGNMENTS"]

logger = logging.getLogger(__name__)

#: Valid values of ``field_metrics(..., align=...)``.
ALIGNMENTS = (None, "constant", "affine")


def _to_numpy(x: Any, name: str) -> np.ndarray:
    """Array-like (or torch tensor, detached and moved to host) -> numpy array."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.float64)
    return arr


def _pair(pred: Any, ref: Any) -> tuple[np.ndarray, np.ndarray]:
    p = _to_numpy(pred, "pred")
    r = _to_numpy(ref, "ref")
    if p.shape != r.shape:
        raise ValueError(
            f"pred and ref must have the same shape, got pred {p.shape} and ref {r.shape}"
        )
    if p.size == 0:
        raise ValueError(f"pred and ref are empty (shape {p.shape})")
    return p, r


#: entries per block of the elementwise metrics, pixels per band of SSIM: the temporaries of a
#: metric stay this size however large the field (a 512³ volume is 2^27 entries)
BLOCK = 1 << 22
BAND = 1 << 20


def _blocks(p: np.ndarray, r: np.ndarray):
    """``(p_k, r_k)``: flat views of ``p`` and ``r`` in blocks of :data:`BLOCK` entries."""
    p, r = p.reshape(-1), r.reshape(-1)
    for i in range(0, p.size, BLOCK):
        yield p[i:i + BLOCK], r[i:i + BLOCK]


def _sum_sq(a: np.ndarray) -> float:
    r""":math:`\sum |a|^2` over all entries, block by block (float64)."""
    a = a.reshape(-1)
    return float(sum(float(np.sum(np.abs(a[i:i + BLOCK]).astype(np.float64) ** 2)) for i in range(0, a.size, BLOCK)))


def _sum_sq_diff(p: np.ndarray, r: np.ndarray) -> float:
    r""":math:`\sum |p - r|^2`, block by block (float64)."""
    return float(sum(float(np.sum(np.abs(a - b).astype(np.float64) ** 2)) for a, b in _blocks(p, r)))


def _default_range(r: np.ndarray) -> float:
    """Peak-to-peak of ``ref`` (of ``|ref|``'s maximum for complex fields)."""
    if np.iscomplexobj(r):
        return float(np.max(np.abs(r)))
    return float(np.max(r) - np.min(r))


def rel_l2(pred: Any, ref: Any) -> float | None:
    r"""Relative L2 error :math:`\lVert p - r\rVert_2 / \lVert r\rVert_2` over all entries.

    Complex fields use the modulus. Returns ``0.0`` when both are zero and ``None`` (undefined)
    when only ``ref`` is zero.
    """
    p, r = _pair(pred, ref)
    num, den = _sum_sq_diff(p, r) ** 0.5, _sum_sq(r) ** 0.5
    if den == 0.0:
        return 0.0 if num == 0.0 else None
    return num / den


def max_abs(pred: Any, ref: Any) -> float:
    r"""Maximum pointwise error :math:`\max_i |p_i - r_i|` (modulus for complex fields)."""
    p, r = _pair(pred, ref)
    return max(float(np.max(np.abs(a - b))) for a, b in _blocks(p, r))


def psnr(pred: Any, ref: Any, *, data_range: float | None = None) -> float | None:
    r"""Peak signal-to-noise ratio in dB, :math:`10\log_{10}(R^2/\mathrm{MSE})`.

    ``data_range`` :math:`R` defaults to ``ref.max() - ref.min()`` (``max |ref|`` for complex
    ``ref``). Returns ``inf`` when the MSE is zero, and ``None`` (undefined) when ``ref`` is
    constant and no ``data_range`` was given.

    Raises:
        ValueError: ``data_range`` is not positive.
    """
    p, r = _pair(pred, ref)
    if data_range is None:
        data_range = _default_range(r)
        if not data_range > 0:
            return None
    elif not (np.isfinite(data_range) and data_range > 0):
        raise ValueError(f"psnr: data_range must be a positive finite number, got {data_range!r}")
    mse = _sum_sq_diff(p, r) / p.size
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(float(data_range) ** 2 / mse))


def ssim(
    pred: Any,
    ref: Any,
    *,
    data_range: float | None = None,
    channel_axis: int | None = None,
) -> float | None:
    """Structural similarity (``skimage.metrics.structural_similarity``), uniform 7×7 window.

    Args:
        pred, ref: real images of shape ``(H, W)``, or ``(H, W, C)`` with ``channel_axis=-1``.
        data_range: defaults to ``ref.max() - ref.min()``.
        channel_axis: axis holding colour channels, or ``None`` for a single-channel image.

    The window shrinks to the largest odd size ≤ 7 that fits the smallest spatial side, so
    tiny images work. Returns ``1.0`` exactly for identical inputs, and ``None`` (undefined)
    when ``ref`` is constant and no ``data_range`` was given.
    """
    p, r = _pair(pred, ref)
    if np.iscomplexobj(p) or np.iscomplexobj(r):
        raise ValueError("ssim is defined for real images; pass np.abs(...) or the real part")
    if channel_axis is None and p.ndim != 2:
        raise ValueError(
            f"ssim: expected a 2-D image, got shape {p.shape}; for (H, W, C) images pass "
            "channel_axis=-1"
        )
    if channel_axis is not None and p.ndim != 3:
        raise ValueError(f"ssim: expected an (H, W, C) image with channel_axis, got {p.shape}")
    if data_range is None:
        data_range = _default_range(r)
        if not data_range > 0:
            return None
    spatial = [n for ax, n in enumerate(p.shape) if channel_axis is None or ax != channel_axis % 3]
    win = min(7, min(spatial))
    if win % 2 == 0:
        win -= 1
    if win < 3:
        raise ValueError(f"ssim needs images at least 3 pixels wide, got shape {p.shape}")
    if channel_axis is None:
        return _banded_ssim(p, r, float(data_range), win)
    p, r = np.moveaxis(p, channel_axis, -1), np.moveaxis(r, channel_axis, -1)
    return float(np.mean([_banded_ssim(p[..., c], r[..., c], float(data_range), win) for c in range(p.shape[-1])]))


def _banded_ssim(p: np.ndarray, r: np.ndarray, data_range: float, win: int) -> float:
    r"""SSIM of 2-D images, ``skimage.metrics.structural_similarity`` evaluated on bands of rows
    of about :data:`BAND` pixels: its map :math:`S` at a pixel depends on the ``win × win`` window
    around it only, so the rows ``[a, b)`` of :math:`S` come from the rows ``[a - h, b + h)``
    (:math:`h = (w - 1)/2`) of the images, and the mean over the uncropped interior is the sum
    over the bands' interiors divided by their size (equal to the whole-image value up to the
    summation order)."""
    h = (win - 1) // 2
    rows, cols = p.shape
    inner = rows - 2 * h
    step = max(4 * h + 1, BAND // max(cols, 1))
    if inner <= 0 or step >= inner:
        return float(structural_similarity(p.astype(np.float64), r.astype(np.float64), data_range=data_range,
                                           win_size=win))
    total = 0.0
    for a in range(h, rows - h, step):
        b = min(rows - h, a + step)
        _, smap = structural_similarity(p[a - h:b + h].astype(np.float64), r[a - h:b + h].astype(np.float64),
                                        data_range=data_range, win_size=win, full=True)
        total += float(smap[h:h + (b - a), h:cols - h].sum(dtype=np.float64))
    return total / (inner * (cols - 2 * h))


def affine_align(pred: Any, ref: Any) -> tuple[np.ndarray, float, float]:
    r"""Best affine map of ``pred`` onto ``ref`` in least squares, over all entries.

    Solves :math:`\min_{a,b} \lVert a\,p + b - r\rVert_2^2`, i.e.
    :math:`a = \mathrm{cov}(p, r)/\mathrm{var}(p)`, :math:`b = \bar r - a\bar p`.
    If ``pred`` is constant, ``a = 1`` and ``b`` is the mean difference.

    Returns:
        ``(a * pred + b, a, b)`` with the aligned array as float64 of ``pred``'s shape.
    """
    p, r = _pair(pred, ref)
    if np.iscomplexobj(p) or np.iscomplexobj(r):
        raise ValueError("affine_align is for real fields; use align='constant' for complex ones")
    p = p.astype(np.float64)
    r = r.astype(np.float64)
    pc = p - p.mean()
    var = float(np.sum(pc * pc))
    if var == 0.0:
        a = 1.0
    else:
        a = float(np.sum(pc * (r - r.mean())) / var)
    b = float(r.mean() - a * p.mean())
    return a * p + b, a, b


def field_metrics(
    pred: Any,
    ref: Any,
    *,
    align: str | None = None,
    data_range: float | None = None,
    image: bool = False,
) -> dict[str, float | complex | str | None]:
    """All standard metrics of ``pred`` against ``ref`` in one dict.

    Args:
        pred, ref: arrays of equal shape.
        align: ``None`` compares as is; ``"constant"`` first subtracts the mean difference
            (for fields defined up to a constant, e.g. Neumann Poisson); ``"affine"`` first
            applies :func:`affine_align` (fields defined up to scale and offset).
        data_range: PSNR/SSIM range, default ``ref.max() - ref.min()``.
        image: also report ``ssim`` when the field is image-like, i.e. ``(H, W)`` or
            ``(H, W, C)`` with ``C`` in 1, 3, 4 (channels last).

    Returns:
        ``{"rel_l2", "max_abs", "psnr"}`` (+ ``"ssim"``), plus ``"align"`` and the fitted
        ``"align_offset"`` (and ``"align_scale"`` for affine) when ``align`` is given.
        ``"align_offset"`` is complex for complex fields. A metric undefined for ``ref`` (see
        :func:`psnr`, :func:`ssim`, :func:`rel_l2`; SSIM of an image under 3 pixels wide) is
        ``None``.
    """
    if align not in ALIGNMENTS:
        raise ValueError(f"align must be one of {ALIGNMENTS}, got {align!r}")
    p, r = _pair(pred, ref)
    extra: dict[str, float | complex | str] = {}
    if align == "constant":
        offset = np.mean(r - p)
        p = p + offset
        offset_value = complex(offset) if np.iscomplexobj(offset) else float(offset)
        extra = {"align": "constant", "align_offset": offset_value}
    elif align == "affine":
        p, a, b = affine_align(p, r)
        extra = {"align": "affine", "align_scale": a, "align_offset": b}
    out: dict[str, float | complex | str | None] = {
        "rel_l2": rel_l2(p, r),
        "max_abs": max_abs(p, r),
        "psnr": psnr(p, r, data_range=data_range),
    }
    if image and not np.iscomplexobj(p):
        channels = p.ndim == 3 and p.shape[-1] in (1, 3, 4)
        if (p.ndim == 2 or channels) and min(p.shape[:2]) < 3:
            out["ssim"] = None  # no SSIM window fits a 1×1 or 2×N image
        elif p.ndim == 2:
            out["ssim"] = ssim(p, r, data_range=data_range)
        elif channels:
            out["ssim"] = ssim(p, r, data_range=data_range, channel_axis=-1)
        else:
            logger.debug("field_metrics: shape %s is not image-like; ssim skipped", p.shape)
    out.update(extra)
    return out
