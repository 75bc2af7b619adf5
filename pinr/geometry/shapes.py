r"""The built-in shapes of the signed distance and occupancy problems, in the normalised box
:math:`[-1, 1]^d`.

They are ordinary solids (:mod:`pinr.domains`: :class:`~pinr.domains.Disk`,
:class:`~pinr.domains.Rectangle`, :class:`~pinr.domains.Polygon`, :class:`~pinr.domains.Ball`,
:class:`~pinr.domains.Box`, :class:`~pinr.domains.Torus` and their set operations) whose
``name`` is the built-in name, used in output file names and plot titles.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..domains import AbstractSolid, Ball, Box, Disk, Polygon, Rectangle, Torus

__all__ = ["builtin_shape", "available_shapes"]


def _star(points: int = 5, outer: float = 0.8, inner: float = 0.38) -> Polygon:
    k = np.arange(2 * points)
    r = np.where(k % 2 == 0, outer, inner)
    th = math.pi / 2 + math.pi * k / points
    return Polygon(np.stack([r * np.cos(th), r * np.sin(th)], -1))


_BUILTINS: dict[str, Callable[[], AbstractSolid]] = {
    "circle": lambda: Disk((0, 0), 0.6),
    "rectangle": lambda: Rectangle(x=(-0.7, 0.7), y=(-0.4, 0.4)),
    "star": _star,
    "ring": lambda: Disk((0, 0), 0.7) - Disk((0, 0), 0.35),
    "lens": lambda: Disk((-0.3, 0), 0.7) & Disk((0.3, 0), 0.7),
    "two-circles": lambda: Disk((-0.35, 0.1), 0.45) | Disk((0.4, -0.15), 0.35),
    "sphere": lambda: Ball((0, 0, 0), 0.6),
    "box": lambda: Box(x=(-0.6, 0.6), y=(-0.45, 0.45), z=(-0.3, 0.3)),
    "torus": lambda: Torus(0.55, 0.25),
    "hollow-box": lambda: Box(x=(-0.5, 0.5), y=(-0.5, 0.5), z=(-0.5, 0.5)) - Ball((0, 0, 0), 0.62),
    "snowman": lambda: Ball((0, 0, -0.35), 0.45) | Ball((0, 0, 0.4), 0.32),
}


def available_shapes() -> list[str]:
    """Names of the built-in analytic shapes (in the normalised box)."""
    return sorted(_BUILTINS)


def builtin_shape(name: str) -> AbstractSolid:
    """The built-in analytic shape ``name`` (a solid named ``name``); an unknown name lists the valid ones."""
    if name not in _BUILTINS:
        raise ValueError(f"unknown shape {name!r}; built-in shapes are {', '.join(available_shapes())}, "
                         "or give a mesh (.obj, .ply, .stl, .off) or point cloud (.xyz, .ply, .npz) file")
    shape = _BUILTINS[name]()
    shape.name = name
    return shape
