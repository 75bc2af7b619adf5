"""Real test images that ship inside installed packages — nothing is ever downloaded.

``load_image("camera")`` returns scikit-image's cameraman; ``load_image("ascent")`` returns
PyWavelets' ``ascent``; any other string or path is read from disk with imageio (the
reader behind ``skimage.io.imread``).
Every image comes back as float64 in ``[0, 1]`` with shape ``(H, W)`` (gray) or ``(H, W, 3)``
(RGB; an alpha channel is dropped).

scikit-image images that need the optional ``pooch`` download (``brain``, ``cells3d``,
``eagle``, ``human_mitosis``, ``kidney``, ``lily``, ``nickel_solidification``,
``palisades_of_vogt``, ``protein_transport``, ``skin``, ``vortex``) are deliberately not
bundled; neither are generated or multi-image data (``binary_blobs``, ``lfw_subset``,
``stereo_motorcycle``).

Floor: foundation (imports nothing from pinr)."""

from __future__ import annotations

import difflib
import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["BUNDLED", "load_image"]

logger = logging.getLogger(__name__)


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _ascent() -> np.ndarray:
    try:
        import pywt.data
    except ImportError:
        raise ImportError("the 'ascent' image ships with PyWavelets, which is not installed: "
                          "pip install pywavelets (or pip install 'pinr[data]')") from None
    return pywt.data.ascent()


_LOADERS: dict[str, Callable[[], np.ndarray]] = {
    **{
        name: _skimage(name)
        for name in (
            "astronaut",  # (512, 512, 3) portrait, RGB
            "brick",  # (512, 512) texture
            "camera",  # (512, 512) cameraman
            "cat",  # (300, 451, 3) RGB
            "cell",  # (660, 550) microscopy
            "checkerboard",  # (200, 200) synthetic edges
            "chelsea",  # (300, 451, 3) RGB (same photograph as "cat")
            "clock",  # (300, 400) motion-blurred
            "coffee",  # (400, 600, 3) RGB
            "coins",  # (303, 384)
            "colorwheel",  # (370, 371, 3) RGB
            "grass",  # (512, 512) texture
            "gravel",  # (512, 512) texture
            "horse",  # (328, 400) binary silhouette
            "hubble_deep_field",  # (872, 1000, 3) RGB
            "immunohistochemistry",  # (512, 512, 3) RGB
            "logo",  # (500, 500, 4) RGBA -> RGB
            "microaneurysms",  # (102, 102)
            "moon",  # (512, 512)
            "page",  # (191, 384) text scan
            "retina",  # (1411, 1411, 3) RGB
            "rocket",  # (427, 640, 3) RGB
            "shepp_logan_phantom",  # (400, 400) CT phantom
            "text",  # (172, 448)
        )
    },
    "ascent": _ascent,  # (512, 512), PyWavelets
}

#: Names accepted by :func:`load_image` (sorted).
BUNDLED: tuple[str, ...] = tuple(sorted(_LOADERS))


def _not_found_message(image: str) -> str:
    close = difflib.get_close_matches(image, BUNDLED, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return (
        f"unknown image {image!r}: not a bundled name and no such file.{hint} "
        f"Bundled names: {', '.join(BUNDLED)}. A path to an image file also works."
    )


def _read_file(path: Path) -> np.ndarray:
    """Decode an image file with imageio (the reader behind ``skimage.io.imread``).

    The bytes are read here, so no file handle outlives the call even when every decoder
    fails; decoder warnings raised while probing formats are not the caller's concern.
    """
    import imageio.v3 as iio

    with open(path, "rb") as fh:
        data = fh.read()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(iio.imread(data, extension=path.suffix or None))
    except Exception as exc:  # any decoder failure means the file is not a readable image
        raise ValueError(f"could not read an image from {str(path)!r}: {exc}") from None


def _to_unit_float(raw: np.ndarray, source: str) -> np.ndarray:
    """uint/bool/float image -> float64 in [0, 1], shape (H, W) or (H, W, 3)."""
    arr = np.asarray(raw)
    if arr.ndim == 3 and arr.shape[-1] in (1, 2):  # gray (+ alpha)
        arr = arr[..., 0]
    elif arr.ndim == 3 and arr.shape[-1] == 4:  # RGBA
        arr = arr[..., :3]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 3)):
        raise ValueError(
            f"image {source!r} has shape {arr.shape}; expected (H, W) gray or (H, W, 3|4) colour"
        )
    if arr.dtype == np.bool_:
        out = arr.astype(np.float64)
    elif np.issubdtype(arr.dtype, np.unsignedinteger):
        out = arr.astype(np.float64) / float(np.iinfo(arr.dtype).max)
    elif np.issubdtype(arr.dtype, np.signedinteger):
        out = np.clip(arr.astype(np.float64) / float(np.iinfo(arr.dtype).max), 0.0, 1.0)
    elif np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float64)
        if np.isnan(out).any():
            raise ValueError(f"image {source!r} contains NaN values")
        lo, hi = float(out.min()), float(out.max())
        if lo < 0.0 or hi > 1.0:  # rescale floats outside [0, 1] (e.g. HDR or 0..255)
            out = (out - lo) / (hi - lo) if hi > lo else np.zeros_like(out)
    else:
        raise ValueError(f"image {source!r} has unsupported dtype {arr.dtype}")
    if not np.isfinite(out).all():
        raise ValueError(f"image {source!r} contains non-finite values")
    return out


def _center_crop_square(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return img[top : top + s, left : left + s]


def load_image(
    image: str | os.PathLike,
    *,
    size: int | tuple[int, int] | None = 256,
    gray: bool | None = None,
) -> np.ndarray:
    """Load a bundled or on-disk image as float64 in ``[0, 1]``.

    Args:
        image: a name from :data:`BUNDLED` (e.g. ``"camera"``, ``"astronaut"``, ``"ascent"``)
            or a path to an image file readable by imageio / ``skimage.io.imread``.
        size: ``int`` n centre-crops to a square and resizes to ``(n, n)``; ``(h, w)`` resizes
            to exactly that shape (no crop); ``None`` keeps the native shape. Resizing uses
            ``skimage.transform.resize`` with anti-aliasing. Default 256.
        gray: ``None`` keeps the native channels; ``True`` converts RGB to luminance
            (``skimage.color.rgb2gray``); ``False`` returns 3 channels, repeating a gray image.

    Returns:
        ``(H, W)`` for gray or ``(H, W, 3)`` for RGB, float64, values in ``[0, 1]``. Integer
        images are divided by their dtype's maximum; float images outside ``[0, 1]`` are
        min-max rescaled. A bundled name wins over a same-named file in the working directory.

    Raises:
        ValueError: unknown name (the message lists :data:`BUNDLED`), unreadable file, NaN
            pixels, or a bad ``size``/``gray``.
        FileNotFoundError: ``image`` looks like a path (has a directory part or a suffix, or
            is a ``PathLike``) and no such file exists; the message lists :data:`BUNDLED` too.
    """
    size_hw = _check_size(size)
    if gray not in (None, True, False):
        raise ValueError(f"gray must be None, True or False, got {gray!r}")

    if isinstance(image, str) and image in _LOADERS:
        source = image
        raw = _LOADERS[image]()
    elif isinstance(image, (str, os.PathLike)):
        path = Path(image).expanduser()
        source = str(path)
        if not path.is_file():
            looks_like_path = (
                not isinstance(image, str) or path.suffix != "" or len(path.parts) > 1
            )
            message = _not_found_message(str(image))
            if looks_like_path:
                raise FileNotFoundError(message)
            raise ValueError(message)
        raw = _read_file(path)
    else:
        raise TypeError(f"image must be a bundled name or a path, got {type(image).__name__}")

    img = _to_unit_float(raw, source)

    if gray is True and img.ndim == 3:
        from skimage.color import rgb2gray

        img = rgb2gray(img)
    elif gray is False and img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)

    if size_hw is not None:
        from skimage.transform import resize

        if not isinstance(size, tuple):
            img = _center_crop_square(img)
        if img.shape[:2] != size_hw:
            img = resize(img, size_hw + img.shape[2:], order=1, anti_aliasing=True, mode="reflect")
    img = np.clip(np.asarray(img, dtype=np.float64), 0.0, 1.0)
    return np.ascontiguousarray(img)


def _check_size(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if size < 1:
            raise ValueError(f"size must be a positive int, (h, w) or None, got {size!r}")
        return int(size), int(size)
    if (
        isinstance(size, tuple)
        and len(size) == 2
        and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1
                for s in size)
    ):
        return int(size[0]), int(size[1])
    raise ValueError(f"size must be a positive int, (h, w) or None, got {size!r}")
