r"""Posed pictures for NeRF-style problems: the :class:`Views` type, the Blender synthetic layout
(:func:`load_blender`, :func:`write_blender`) and pinr's own rendered datasets
(:func:`synthetic_views`, :func:`forward_facing_views`).

The Blender layout (the NeRF "synthetic" scenes) is a folder holding ``transforms_{split}.json``
for the splits ``train``, ``val`` and ``test``::

    {"camera_angle_x": 0.6911,                      # horizontal field of view, radians
     "frames": [{"file_path": "./train/r_0",        # relative to the folder, ".png" optional
                 "transform_matrix": [[...], ...]},  # 4x4 camera-to-world, OpenGL convention
                ...]}

next to RGBA PNG pictures. A picture with alpha :math:`a` is composited over the background
:math:`b`: :math:`c = c_{\mathrm{rgb}}\, a + b\,(1 - a)`. Loading reads JSON and PNG only; it
never runs code.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..io import atomic_write, write_json
from .cameras import Camera, look_at, orbit_poses, rays_of
from .scene import Scene, default_scene

__all__ = ["Views", "load_blender", "write_blender", "synthetic_views", "forward_facing_views", "BLENDER_BOUNDS"]

logger = logging.getLogger(__name__)

#: The box holding every object of the NeRF Blender synthetic scenes.
BLENDER_BOUNDS = ((-1.5, 1.5), (-1.5, 1.5), (-1.5, 1.5))


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float32, copy=True)
    a.setflags(write=False)
    return a


def _as_numpy(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


@dataclass(frozen=True, eq=False)
class Views:
    """Posed pictures of a scene.

    ``images`` ``(N, H, W, 3)`` float32 in :math:`[0, 1]`, already composited over ``background``
    ``(3,)``; ``cameras``, a tuple of ``N`` :class:`Camera` of ``W`` × ``H`` pixels; ``near`` and
    ``far``, distances along the rays bracketing the scene; ``bounds`` ``(3, 2)``, an axis-aligned
    box (low, high per axis) holding the scene; optional ground truth ``depth`` ``(N, H, W)``
    (distance along the ray, ``inf`` where it misses) and ``alpha`` ``(N, H, W)`` in
    :math:`[0, 1]`. Arrays are stored as read-only float32 numpy arrays; :meth:`rays` hands out
    torch tensors.
    """

    images: np.ndarray
    cameras: tuple[Camera, ...]
    near: float
    far: float
    background: np.ndarray = (1.0, 1.0, 1.0)
    bounds: np.ndarray = BLENDER_BOUNDS
    depth: np.ndarray | None = None
    alpha: np.ndarray | None = None
    name: str = ""

    def __post_init__(self):
        who = f"Views {self.name!r}" if self.name else "Views"
        images = _as_numpy(self.images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.shape[0] < 1:
            raise ValueError(f"{who}: images must have shape (N, H, W, 3) with N >= 1, got {images.shape}")
        if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
            raise ValueError(f"{who}: images must be finite colours in [0, 1]; divide 8-bit pictures by 255")
        n, h, w, _ = images.shape
        object.__setattr__(self, "images", _frozen(images))
        cameras = tuple(self.cameras)
        if len(cameras) != n or not all(isinstance(c, Camera) for c in cameras):
            raise ValueError(f"{who}: needs one Camera per image ({n}), got {len(cameras)} cameras")
        for k, c in enumerate(cameras):
            if (c.width, c.height) != (w, h):
                raise ValueError(f"{who}: camera {k} is {c.width}x{c.height} but the images are {w}x{h}; "
                                 "use Camera.resized")
        object.__setattr__(self, "cameras", cameras)
        try:
            near, far = float(self.near), float(self.far)
        except (TypeError, ValueError):
            near = far = math.nan
        if not (math.isfinite(near) and math.isfinite(far) and 0 <= near < far):
            raise ValueError(f"{who}: near and far must be distances with 0 <= near < far, got {self.near!r}, "
                             f"{self.far!r}")
        object.__setattr__(self, "near", near)
        object.__setattr__(self, "far", far)
        try:
            bg = np.asarray(_as_numpy(self.background), dtype=np.float64)
        except (TypeError, ValueError):
            bg = np.full(1, math.nan)
        if bg.shape != (3,) or not np.isfinite(bg).all() or bg.min() < 0 or bg.max() > 1:
            raise ValueError(f"{who}: background must be an RGB colour of 3 numbers in [0, 1], got {self.background!r}")
        object.__setattr__(self, "background", _frozen(bg))
        try:
            b = np.asarray(_as_numpy(self.bounds), dtype=np.float64)
        except (TypeError, ValueError):
            b = np.full(1, math.nan)
        if b.shape != (3, 2) or not np.isfinite(b).all() or not (b[:, 0] < b[:, 1]).all():
            raise ValueError(f"{who}: bounds must be a (3, 2) array of (low, high) with low < high, "
                             f"got {self.bounds!r}")
        object.__setattr__(self, "bounds", _frozen(b))
        if self.depth is not None:
            depth = _as_numpy(self.depth)
            if depth.shape != (n, h, w) or np.isnan(depth).any() or (depth < 0).any():
                raise ValueError(f"{who}: depth must be non-negative distances (inf for misses) of shape "
                                 f"{(n, h, w)}, got shape {depth.shape}")
            object.__setattr__(self, "depth", _frozen(depth))
        if self.alpha is not None:
            alpha = _as_numpy(self.alpha)
            if alpha.shape != (n, h, w) or not np.isfinite(alpha).all() or alpha.min() < 0 or alpha.max() > 1:
                raise ValueError(f"{who}: alpha must be opacities in [0, 1] of shape {(n, h, w)}, "
                                 f"got shape {alpha.shape}")
            object.__setattr__(self, "alpha", _frozen(alpha))
        object.__setattr__(self, "name", str(self.name))

    def __len__(self) -> int:
        return len(self.cameras)

    @property
    def width(self) -> int:
        return self.images.shape[2]

    @property
    def height(self) -> int:
        return self.images.shape[1]

    def __repr__(self):
        extra = "".join(f", {k}" for k in ("depth", "alpha") if getattr(self, k) is not None)
        name = f"{self.name!r}, " if self.name else ""
        return (f"Views({name}{len(self)} x {self.width}x{self.height}, near {self.near:g}, far {self.far:g}"
                f"{extra})")

    def rays(self, *, dtype: torch.dtype = torch.float32, device=None) -> tuple[torch.Tensor, torch.Tensor,
                                                                                torch.Tensor]:
        """Origins, unit directions and colours ``(N * H * W, 3)`` of every pixel's ray: view after
        view, each row by row from the top-left, so ray ``(n * H + j) * W + i`` goes through the
        centre of pixel ``(i, j)`` (column, row) of view ``n``."""
        o, d = rays_of(self.cameras, dtype=dtype, device=device)
        c = torch.as_tensor(self.images.reshape(-1, 3).copy(), dtype=dtype, device=device)
        return o, d, c

    def subset(self, indices) -> Views:
        """The views ``indices`` (a sequence of integers, a boolean mask or a slice), in that order."""
        n = len(self)
        if isinstance(indices, slice):
            idx = np.arange(n)[indices]
        else:
            idx = np.asarray(indices)
            if idx.dtype == bool:
                if idx.shape != (n,):
                    raise ValueError(f"Views.subset: a boolean mask needs {n} entries, got {idx.shape}")
                idx = np.nonzero(idx)[0]
            elif idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
                raise ValueError(f"Views.subset: indices must be a 1-D sequence of integers, got {indices!r}")
        idx = idx.astype(np.int64)
        if idx.size == 0:
            raise ValueError("Views.subset: no views selected; pass at least one index")
        if (idx < -n).any() or (idx >= n).any():
            raise ValueError(f"Views.subset: indices must lie in [-{n}, {n}), got {idx.min()}..{idx.max()}")
        idx = idx % n

        def pick(a):
            return None if a is None else a[idx]

        return Views(self.images[idx], [self.cameras[k] for k in idx], self.near, self.far,
                     background=self.background, bounds=self.bounds, depth=pick(self.depth),
                     alpha=pick(self.alpha), name=self.name)

    def resized(self, width: int, height: int) -> Views:
        """The same views at ``width`` × ``height`` pixels: cameras by :meth:`Camera.resized`,
        images and alpha by area averaging where the size divides by whole factors, otherwise by
        an anti-aliased bilinear resize (``skimage.transform.resize``); depth by the mean of the
        finite depths of each block (``inf`` if none), otherwise by the nearest pixel."""
        for v, what in ((width, "width"), (height, "height")):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Views.resized: {what} must be a positive number of pixels, got {v!r}")
        width, height = int(width), int(height)
        n, h, w, _ = self.images.shape
        if (width, height) == (w, h):
            return self
        cameras = [c.resized(width, height) for c in self.cameras]
        images = _resize(self.images, width, height)
        alpha = None if self.alpha is None else _resize(self.alpha[..., None], width, height)[..., 0]
        depth = None if self.depth is None else _resize_depth(self.depth, width, height)
        return Views(np.clip(images, 0, 1), cameras, self.near, self.far, background=self.background,
                     bounds=self.bounds, depth=depth, alpha=None if alpha is None else np.clip(alpha, 0, 1),
                     name=self.name)


def _resize(a: np.ndarray, width: int, height: int) -> np.ndarray:
    """``(N, H, W, C)`` → ``(N, height, width, C)``."""
    n, h, w, c = a.shape
    if h % height == 0 and w % width == 0:
        ky, kx = h // height, w // width
        return a.reshape(n, height, ky, width, kx, c).mean(axis=(2, 4), dtype=np.float64).astype(np.float32)
    from skimage.transform import resize

    down = height < h or width < w
    return np.stack([resize(img.astype(np.float64), (height, width, c), order=1, anti_aliasing=down, mode="edge")
                     for img in a]).astype(np.float32)


def _resize_depth(depth: np.ndarray, width: int, height: int) -> np.ndarray:
    n, h, w = depth.shape
    if h % height == 0 and w % width == 0:
        ky, kx = h // height, w // width
        blocks = depth.reshape(n, height, ky, width, kx).astype(np.float64)
        finite = np.isfinite(blocks)
        count = finite.sum(axis=(2, 4))
        total = np.where(finite, blocks, 0.0).sum(axis=(2, 4))
        return np.where(count > 0, total / np.maximum(count, 1), np.inf).astype(np.float32)
    rows = np.minimum(((np.arange(height) + 0.5) * h / height).astype(int), h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * w / width).astype(int), w - 1)
    return depth[:, rows][:, :, cols]


# ---------------------------------------------------------------- the Blender layout
def _size(size) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size, size)
    try:
        w, h = (int(s) for s in size)
        if (w, h) != tuple(size) or w < 1 or h < 1:
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"size must be a positive int (square) or (width, height), got {size!r}") from None
    return w, h


def _read_png(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    try:
        img = iio.imread(path, extension=".png")
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable PNG picture ({e})") from None
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255
    elif img.dtype == np.uint16:
        img = img.astype(np.float32) / 65535
    else:
        raise ValueError(f"{path}: expected an 8- or 16-bit PNG, got pixels of type {img.dtype}")
    if img.ndim != 3 or img.shape[-1] not in (3, 4):
        raise ValueError(f"{path}: expected an RGB or RGBA picture, got shape {img.shape}; convert it to RGB(A)")
    return img


def _frame_path(directory: Path, file_path: str) -> Path:
    """``file_path`` (relative to ``directory``) with ``.png`` appended unless it ends with it."""
    path = directory / file_path
    return path if path.suffix.lower() == ".png" else path.with_name(path.name + ".png")


def load_blender(directory, split: str = "train", *, background: Sequence[float] = (1.0, 1.0, 1.0), size=None,
                 max_views: int | None = None, near: float | None = None, far: float | None = None,
                 bounds=None) -> Views:
    """The ``split`` of the Blender-layout dataset in ``directory`` (module docstring).

    RGBA pictures are composited over ``background``; RGB pictures are taken as they are (no
    alpha). ``size`` (an int for a square, or ``(width, height)``) resizes with
    :meth:`Views.resized`; ``max_views`` keeps that many frames spread evenly over the split
    (frames ``floor(k n / max_views)``). ``near``, ``far`` and ``bounds`` default to the
    ``near``/``far``/``bounds`` entries of the JSON when present (:func:`write_blender` writes them),
    otherwise to the synthetic scenes' 2, 6 and :math:`[-1.5, 1.5]^3`.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"load_blender: no dataset folder {directory}; pass the folder holding "
                                f"transforms_{split}.json")
    meta_path = directory / f"transforms_{split}.json"
    if not meta_path.is_file():
        found = sorted(p.name for p in directory.glob("transforms_*.json"))
        raise FileNotFoundError(f"load_blender: {meta_path} is missing (found {found or 'no transforms_*.json'}); "
                                "check the folder and the split name")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"load_blender: {meta_path} is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"load_blender: {meta_path} must hold a JSON object with camera_angle_x and frames")
    fov = meta.get("camera_angle_x")
    if isinstance(fov, bool) or not isinstance(fov, (int, float)) or not 0 < fov < math.pi:
        raise ValueError(f"load_blender: {meta_path}: camera_angle_x must be the horizontal field of view in "
                         f"radians, in (0, pi); got {fov!r}")
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        raise ValueError(f"load_blender: {meta_path}: frames must be a non-empty list of "
                         "{file_path, transform_matrix} objects")
    n = len(frames)
    if max_views is not None:
        if isinstance(max_views, bool) or not isinstance(max_views, (int, np.integer)) or max_views < 1:
            raise ValueError(f"load_blender: max_views must be a positive integer, got {max_views!r}")
        keep = (np.arange(min(int(max_views), n)) * n) // min(int(max_views), n)
    else:
        keep = np.arange(n)
    target = _size(size)
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (3,) or not np.isfinite(bg).all() or bg.min() < 0 or bg.max() > 1:
        raise ValueError(f"load_blender: background must be an RGB colour of 3 numbers in [0, 1], got {background!r}")

    images, alphas, cameras = [], [], []
    first = None
    for k in keep:
        frame = frames[k]
        where = f"{meta_path.name} frame {k}"
        if not isinstance(frame, dict) or not isinstance(frame.get("file_path"), str):
            raise ValueError(f"load_blender: {where}: needs a file_path string")
        matrix = frame.get("transform_matrix")
        try:
            pose = np.asarray(matrix, dtype=np.float64)
        except (TypeError, ValueError):
            pose = None
        if pose is None or pose.shape != (4, 4):
            raise ValueError(f"load_blender: {where}: transform_matrix must be a 4x4 list of numbers")
        path = _frame_path(directory, frame["file_path"])
        if not path.is_file():
            raise FileNotFoundError(f"load_blender: {where}: picture {path} is missing (file_path "
                                    f"{frame['file_path']!r} is relative to {directory})")
        img = _read_png(path)
        h, w = img.shape[:2]
        if first is None:
            first = (w, h, path)
        elif (w, h) != first[:2]:
            raise ValueError(f"load_blender: {path.name} is {w}x{h} but {first[2].name} is {first[0]}x{first[1]}; "
                             "all pictures of a split must have one size")
        if img.shape[-1] == 4:
            a = img[..., 3:]
            images.append(np.clip(img[..., :3] * a + bg.astype(np.float32) * (1 - a), 0, 1))
            alphas.append(a[..., 0])
        else:
            images.append(img)
        try:
            cameras.append(Camera.from_fov(w, h, float(fov), pose))
        except ValueError as e:
            raise ValueError(f"load_blender: {where}: {e}") from None
    if alphas and len(alphas) != len(images):
        raise ValueError(f"load_blender: {meta_path.name} mixes RGB and RGBA pictures; save them all as RGBA")

    def _entry(key, given, default):
        if given is not None:
            return given
        return meta.get(key, default)

    views = Views(np.stack(images), cameras, _entry("near", near, 2.0), _entry("far", far, 6.0),
                  background=bg, bounds=_entry("bounds", bounds, BLENDER_BOUNDS), alpha=np.stack(alphas) if alphas
                  else None, name=f"{directory.name}/{split}")
    if target is not None:
        views = views.resized(*target)
    logger.info("loaded %s", views)
    return views


def write_blender(directory, splits: Mapping[str, Views]) -> Path:
    """Write ``splits`` (split name → :class:`Views`) in the Blender layout under ``directory``:
    ``transforms_{split}.json`` (with ``camera_angle_x``, ``frames``, and pinr's ``near``,
    ``far`` and ``bounds``) and ``{split}/r_{k}.png``, RGBA where the views have ``alpha`` (the
    colour un-composited from the background, :math:`c_{\\mathrm{rgb}} = (c - b(1 - a))/a` with the
    8-bit alpha) and RGB otherwise. Depth is not written. Every camera must have its principal
    point at the image centre and all cameras of a split one focal length. Returns ``directory``."""
    import imageio.v3 as iio

    directory = Path(directory)
    if not isinstance(splits, Mapping) or not splits:
        raise ValueError("write_blender: splits must map split names (e.g. 'train') to Views")
    for split, views in splits.items():
        if not isinstance(split, str) or not split or not split.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"write_blender: split names must be plain words like 'train', got {split!r}")
        if not isinstance(views, Views):
            raise ValueError(f"write_blender: split {split!r} must be Views, got {type(views).__name__}")
        c0 = views.cameras[0]
        for k, c in enumerate(views.cameras):
            centred = math.isclose(c.cx, c.width / 2, abs_tol=1e-9) and math.isclose(c.cy, c.height / 2, abs_tol=1e-9)
            if not math.isclose(c.focal, c0.focal, rel_tol=1e-9) or not centred:
                raise ValueError(f"write_blender: split {split!r} camera {k} differs in focal length or has an "
                                 "off-centre principal point; the Blender layout has one camera_angle_x")
    for split, views in splits.items():  # checked all before writing any
        c0 = views.cameras[0]
        frames = []
        for k in range(len(views)):
            rel = f"{split}/r_{k}"
            if views.alpha is not None:
                a8 = np.round(views.alpha[k].astype(np.float64) * 255)
                a = a8 / 255
                c = views.images[k].astype(np.float64)
                rgb = (c - views.background.astype(np.float64) * (1 - a[..., None])) / np.maximum(a, 1e-12)[..., None]
                rgb = np.where(a[..., None] > 0, rgb, 0.0)
                pixels = np.concatenate([np.round(np.clip(rgb, 0, 1) * 255), a8[..., None]], -1).astype(np.uint8)
            else:
                pixels = np.round(views.images[k].astype(np.float64) * 255).astype(np.uint8)
            atomic_write(directory / f"{rel}.png", lambda p, px=pixels: iio.imwrite(p, px, extension=".png"))
            frames.append({"file_path": f"./{rel}", "transform_matrix": views.cameras[k].pose.tolist()})
        write_json(directory / f"transforms_{split}.json",
                   {"camera_angle_x": c0.fov_x, "near": views.near, "far": views.far,
                    "bounds": views.bounds.astype(np.float64).tolist(), "frames": frames})
    logger.info("wrote %s to %s", ", ".join(f"{s} ({len(v)} views)" for s, v in splits.items()), directory)
    return directory


# ---------------------------------------------------------------- pinr's rendered datasets
def _square(size) -> tuple[int, int]:
    wh = _size(size)
    if wh is None:
        raise ValueError("size must be a positive int (square) or (width, height), got None")
    return wh


def _render(scene: Scene, cameras: list[Camera], *, background, near, far, name, samples) -> Views:
    out = scene.render_many(cameras, background=background, samples=samples)
    return Views(out["rgb"].numpy(), cameras, near, far, background=background, bounds=scene.bounds,
                 depth=out["depth"].numpy(), alpha=out["alpha"].numpy(), name=name)


def _circumradius(bounds: np.ndarray) -> float:
    """The largest distance from the origin to a corner of ``bounds``."""
    return float(np.linalg.norm(np.abs(bounds).max(axis=1)))


def synthetic_views(scene: Scene | None = None, *, size=64, n_train: int = 100, n_val: int | None = None,
                    n_test: int = 8, radius: float = 4.0, fov: float = math.radians(40),
                    background: Sequence[float] = (1.0, 1.0, 1.0), samples: int = 2,
                    seed: int = 0) -> dict[str, Views]:
    r"""An object-centric dataset rendered from ``scene`` (default :func:`default_scene`), like
    the Blender synthetic scenes: cameras at distance ``radius`` from the origin, looking at it,
    horizontal field of view ``fov`` radians, ``size`` pixels (an int for a square, or
    ``(width, height)``).

    - ``"train"``: ``n_train`` cameras at directions drawn uniformly (seeded by ``seed``) from the
      upper hemisphere between 5° and 80° of elevation (at the pole ``look_at``'s up is undefined);
    - ``"test"``: a turntable of ``n_test`` cameras at 30° elevation, azimuths :math:`2\pi k/n`;
    - ``"val"``: a turntable of ``n_val`` (default ``n_test``) cameras at 20° elevation, azimuths
      offset by half a step.

    ``near``/``far`` are ``radius`` ∓ the circumradius of ``scene.bounds``; ``depth`` and
    ``alpha`` are kept; each pixel averages ``samples`` × ``samples`` rays (:meth:`Scene.render`).
    Nothing is cached on disk (64 × 64, 100 + 8 + 8 views render in a few
    seconds on one CPU core)."""
    scene = default_scene() if scene is None else scene
    w, h = _square(size)
    radius = float(radius)
    reach = _circumradius(scene.bounds)
    if not radius > reach:
        raise ValueError(f"synthetic_views: radius {radius:g} must exceed the scene's circumradius {reach:.3g} "
                         "(cameras outside the bounds)")
    counts = {"n_train": n_train, "n_val": n_test if n_val is None else n_val, "n_test": n_test}
    for key, v in counts.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"synthetic_views: {key} must be a positive integer, got {v!r}")
    rng = np.random.default_rng(seed)
    z = rng.uniform(math.sin(math.radians(5)), math.sin(math.radians(80)), n_train)
    phi = rng.uniform(0, 2 * math.pi, n_train)
    s = np.sqrt(1 - z**2)
    train_poses = [look_at(radius * np.array([s[k] * math.cos(phi[k]), s[k] * math.sin(phi[k]), z[k]]))
                   for k in range(n_train)]
    n_val = counts["n_val"]
    poses = {"train": train_poses,
             "val": orbit_poses(n_val, radius=radius, elevation=math.radians(20), start=math.pi / n_val),
             "test": orbit_poses(n_test, radius=radius, elevation=math.radians(30))}
    near, far = radius - reach, radius + reach
    cameras = {split: [Camera.from_fov(w, h, fov, p) for p in ps] for split, ps in poses.items()}
    return {split: _render(scene, cams, background=background, near=near, far=far, name=f"synthetic/{split}",
                           samples=samples) for split, cams in cameras.items()}


def forward_facing_views(scene: Scene | None = None, *, size=64, n_train: int = 25, n_test: int = 8,
                         spread: float = 0.5, distance: float = 4.0, elevation: float = math.radians(15),
                         azimuth: float = math.radians(-90), fov: float = math.radians(40),
                         background: Sequence[float] = (1.0, 1.0, 1.0), samples: int = 2,
                         seed: int = 0) -> dict[str, Views]:
    r"""A forward-facing dataset (LLFF-like, for NeX's multiplane images) rendered from ``scene``
    (default :func:`default_scene`): every camera has the same orientation, that of the
    **reference camera** at ``distance`` from the origin at ``elevation`` and ``azimuth``
    (radians) looking at the origin; the others sit on the reference camera's image plane
    through its centre, offset along its right and up axes.

    - ``"train"``: ``n_train`` cameras; ``views["train"].cameras[0]`` **is the reference camera**
      (offset 0), the others are offset uniformly at random (seeded by ``seed``) within the square
      :math:`[-\mathrm{spread}, \mathrm{spread}]^2`;
    - ``"test"`` (and ``"val"``, the same views): ``n_test`` cameras on the circle of radius
      ``spread / 2`` around the reference, a path through positions not in training.

    ``near`` is ``distance`` − the circumradius :math:`\rho` of ``scene.bounds``, ``far`` the
    farthest camera's :math:`\sqrt{\mathrm{distance}^2 + 2\,\mathrm{spread}^2} + \rho`; ``depth`` and
    ``alpha`` are kept; each pixel averages ``samples`` × ``samples`` rays."""
    scene = default_scene() if scene is None else scene
    w, h = _square(size)
    distance, spread = float(distance), float(spread)
    reach = _circumradius(scene.bounds)
    if not distance > reach:
        raise ValueError(f"forward_facing_views: distance {distance:g} must exceed the scene's circumradius "
                         f"{reach:.3g} (cameras outside the bounds)")
    if not (math.isfinite(spread) and spread >= 0):
        raise ValueError(f"forward_facing_views: spread must be a non-negative distance, got {spread!r}")
    for key, v in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"forward_facing_views: {key} must be a positive integer, got {v!r}")
    eye = distance * np.array([math.cos(elevation) * math.cos(azimuth), math.cos(elevation) * math.sin(azimuth),
                               math.sin(elevation)])
    reference = look_at(eye)
    right, up = reference[:3, 0], reference[:3, 1]

    def shifted(offsets: np.ndarray) -> list[np.ndarray]:
        out = []
        for dx, dy in offsets:
            pose = reference.copy()
            pose[:3, 3] = eye + dx * right + dy * up
            out.append(pose)
        return out

    rng = np.random.default_rng(seed)
    train = np.concatenate([np.zeros((1, 2)), rng.uniform(-spread, spread, (n_train - 1, 2))])
    angle = 2 * math.pi * np.arange(n_test) / n_test
    test = 0.5 * spread * np.stack([np.cos(angle), np.sin(angle)], -1)
    near, far = distance - reach, math.sqrt(distance**2 + 2 * spread**2) + reach
    out = {split: _render(scene, [Camera.from_fov(w, h, fov, p) for p in shifted(offsets)], background=background,
                          near=near, far=far, name=f"forward/{split}", samples=samples)
           for split, offsets in (("train", train), ("test", test))}
    out["val"] = Views(out["test"].images, out["test"].cameras, near, far, background=out["test"].background,
                       bounds=out["test"].bounds, depth=out["test"].depth, alpha=out["test"].alpha,
                       name="forward/val")
    return out
