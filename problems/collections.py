r"""Collections of the catalogue: many shapes or many images, one conditioned network.

``sdf-shapes``: the signed distances of several shapes (``eikonal-sdf`` of each, same mode and
batch), DeepSDF's auto-decoder (``concat`` conditioning); each shape is scored by IoU and
Chamfer distance (:func:`pinr.geometry.shape_metrics`). ``occupancy-shapes``: the insides of
several shapes (``occupancy`` of each) by one network of logits, scored by IoU. ``images``: several images (``image``
of each, at one square size, gray by default), π-GAN's FiLM-SIREN; each is scored by PSNR.
``pr.solve(pr.problems.get("sdf-shapes", shapes="circle,star"))``, or on the command line
``pinr solve sdf-shapes --set shapes=circle,star``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pinr import geometry as geo
from pinr.collection import CodeConfig, Collection
from pinr.solution import gradient_norm

from . import register_problem
from .eikonal_sdf import eikonal_sdf
from .occupancy import occupancy
from .regression import image

__all__ = ["sdf_shapes", "occupancy_shapes", "images", "ShapeMetrics", "OccupancyMetrics", "COLLECTIONS"]

#: the catalogue names that build a :class:`~pinr.Collection` rather than a case
COLLECTIONS = ("sdf-shapes", "occupancy-shapes", "images")


def _names(value, what: str) -> list[str]:
    """``"a,b,c"`` or a sequence of names → a list of at least one name."""
    names = [s.strip() for s in value.split(",")] if isinstance(value, str) else [str(s) for s in value]
    names = [s for s in names if s]
    if not names:
        raise ValueError(f"{what} must name at least one instance, e.g. {what}=circle,star (comma separated)")
    return names


@dataclass(frozen=True)
class ShapeMetrics:
    """IoU and Chamfer distance of one instance against its shape, on a ``resolution`` lattice
    (default :func:`~pinr.geometry.shape_metrics`'), from ``samples`` surface points each."""

    resolution: int | None = None
    samples: int = 100_000

    def __call__(self, case, solution) -> dict:
        m = geo.shape_metrics(solution, case.outputs.shape, resolution=self.resolution, samples=self.samples,
                              gradient_norm=gradient_norm(solution))
        return {k: m[k] for k in ("iou", "chamfer") if k in m}


@register_problem("sdf-shapes")
def sdf_shapes(shapes: str | Sequence[str] = "circle,star,rectangle,ring", mode: str = "eikonal",
               batch: int | None = None, resolution: int | None = None, code_features: int = 32,
               code_std: float = 0.1) -> Collection:
    r"""Signed distances of ``shapes`` (built-in names or files, comma separated) by one network
    with a code of ``code_features`` per shape (DeepSDF's concatenation); ``mode``, ``batch`` as
    ``eikonal-sdf``'s, whose training defaults apply; ``resolution`` of the metric lattice.

    Codes start from :math:`\mathcal N(0, 0.1^2)` (``code_std``), not DeepSDF's 0.01: the SIREN's
    first layer (weights :math:`U(\pm 1/n)`, :math:`\omega_0` 10) barely sees a code of 0.01, and
    instances then collapse onto each other. Measured (circle, star, ring; defaults, 1000 steps,
    shared 2-core CPU): IoU 0.9998 / 0.985 / 0.9994 at 0.1 against 0.778 / 0.977 / 0.9989 at 0.01,
    whose circle came out ring-like."""
    names = _names(shapes, "shapes")
    cases = [eikonal_sdf(s, mode=mode, batch=batch) for s in names]
    return Collection(cases, names=names, training=cases[0].training,
                      codes=CodeConfig(features=int(code_features), std=float(code_std)),
                      metrics=ShapeMetrics(resolution), name="sdf-shapes")


@dataclass(frozen=True)
class OccupancyMetrics:
    r"""IoU and accuracy of one instance's inside set :math:`\{u > 0\}` against its shape on a
    ``resolution`` lattice (default :func:`~pinr.geometry.occupancy_metrics`' lattice of the case)."""

    resolution: int | None = None

    def __call__(self, case, solution) -> dict:
        shape = case.outputs.shape
        res = int(self.resolution or case.outputs.resolution)
        m = geo.occupancy_metrics(geo.evaluate_grid(solution, res, shape.dim), shape)
        return {k: m[k] for k in ("iou", "accuracy")}


@register_problem("occupancy-shapes")
def occupancy_shapes(shapes: str | Sequence[str] = "circle,star,rectangle,ring", batch: int | None = None,
                     resolution: int | None = None, code_features: int = 32, code_std: float = 0.1) -> Collection:
    r"""Inside/outside of ``shapes`` (built-in names or closed meshes, comma separated) by one
    network of logits with a code of ``code_features`` per shape (DeepSDF's concatenation, codes
    from :math:`\mathcal N(0, 0.1^2)` as for ``sdf-shapes``); ``batch`` as ``occupancy``'s, whose
    training defaults apply; IoU and accuracy per shape on a ``resolution`` lattice."""
    names = _names(shapes, "shapes")
    cases = [occupancy(s, batch=batch, resolution=resolution) for s in names]
    return Collection(cases, names=names, training=cases[0].training,
                      codes=CodeConfig(features=int(code_features), std=float(code_std)),
                      metrics=OccupancyMetrics(resolution), name="occupancy-shapes")


@register_problem("images")
def images(images: str | Sequence[str] = "camera,astronaut,brick", size: int = 64, gray: bool = True,
           code_features: int = 64) -> Collection:
    """Fit ``images`` (bundled names or paths, comma separated), centre-cropped to ``size``
    pixels a side, by one FiLM-SIREN with a code of ``code_features`` per image; PSNR per image."""
    names = _names(images, "images")
    cases = [image(s, size=int(size), gray=gray) for s in names]
    return Collection(cases, names=names, training=cases[0].training,
                      codes=CodeConfig(conditioning="film", features=int(code_features)), name="images")
