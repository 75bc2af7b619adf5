r"""Neural radiance fields (Mildenhall et al. 2020): a scene's density and colour from posed pictures.

The unknowns are two fields on the scene's box: a density field :math:`s` and a colour field
:math:`k` (three channels); the data are pictures, each pixel an observation of the fields
through the volume-rendering integral along its ray (:class:`pinr.render.Rendered`,
density :math:`\operatorname{softplus}(s)`, colour :math:`\operatorname{sigmoid}(k)`) — a
problem with no derivatives, trained by the same machinery as the PDEs.

Data: with no files at all, pinr renders an analytic scene of coloured primitives by sphere
tracing (:func:`pinr.render.synthetic_views`: training views on the upper hemisphere, held-out
views on a turntable; with ``rig="forward"``, :func:`pinr.render.forward_facing_views`: cameras
of one orientation spread on a plane, held-out views on a circle between them); ``data=DIR``
reads a Blender-style dataset (``transforms_train.json`` / ``transforms_test.json``, RGBA
pictures composited on ``background``).

``nex`` is the same observation of a different representation (Wizadwongsa et al. 2021): the
fields live on the planes of a multiplane image in front of the first training camera
(:class:`pinr.render.Planes`), and the colour is a combination of learned basis functions of the
viewing direction (the ``nex`` backbone), trained on forward-facing views.

Scores: PSNR and SSIM of the held-out views rendered from the trained fields; outputs: the
held-out renders next to the truth, depth and opacity maps, a turntable GIF and a mesh of the
density by marching cubes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pinr.case import Case
from pinr.domains import Box
from pinr.render import Planes, Quadrature, Rendered
from pinr.symbolic import Problem
from pinr.training.auto import NEX, RENDERED
from pinr.training.config import ModelConfig, TrainConfig

from . import register_problem

__all__ = ["nerf", "nex", "NeRFOutputs", "BACKGROUNDS", "RIGS"]

BACKGROUNDS = {"white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0)}
RIGS = ("orbit", "forward")


def _background(background) -> tuple[float, float, float]:
    if isinstance(background, str):
        if background not in BACKGROUNDS:
            raise ValueError(f"nerf background must be one of {sorted(BACKGROUNDS)} or three numbers in [0, 1], "
                             f"got {background!r}")
        return BACKGROUNDS[background]
    bg = tuple(float(v) for v in np.ravel(background))
    if len(bg) != 3 or not all(0 <= v <= 1 for v in bg):
        raise ValueError(f"nerf background must be three numbers in [0, 1], got {background!r}")
    return bg


def nerf_views(data: str | None, *, size: int, views: int, test_views: int, background, rig: str = "orbit"):
    """(training, held-out) :class:`~pinr.render.Views`: the synthetic scene seen by the ``rig``
    ("orbit": a hemisphere, "forward": forward-facing), or a Blender-style dataset in ``data``
    (its test split, else its val split)."""
    from pathlib import Path

    from pinr.render import forward_facing_views, load_blender, synthetic_views

    if rig not in RIGS:
        raise ValueError(f"rig must be one of {list(RIGS)}, got {rig!r}")
    if data is None:
        make = synthetic_views if rig == "orbit" else forward_facing_views
        splits = make(size=size, n_train=views, n_test=test_views, background=background)
        return splits["train"], splits["test"]
    root = Path(data)
    train = load_blender(root, "train", background=background, size=size, max_views=views)
    held = "test" if (root / "transforms_test.json").is_file() else "val"
    if not (root / f"transforms_{held}.json").is_file():
        raise FileNotFoundError(f"nerf data {root}: no transforms_test.json or transforms_val.json for held-out views")
    return train, load_blender(root, held, background=background, size=size, max_views=test_views)


@register_problem("nerf")
def nerf(data: str | None = None, size: int = 64, views: int = 100, test_views: int = 8,
         background="white", samples: int = 64, fine: int = 0, occupancy: int = 64, rig: str = "orbit") -> Case:
    """A radiance field of the synthetic scene (or of the Blender-style dataset in ``data``)
    from ``views`` training pictures at ``size`` pixels a side, scored on ``test_views`` held-out
    pictures; ``rig="forward"`` takes forward-facing views of the scene instead of the hemisphere
    (NeX's setting, to compare the two). Quadrature: ``samples`` per ray, ``fine`` hierarchical
    samples (NeRF's coarse + fine passes), or an ``occupancy`` grid of that resolution that skips
    empty space (default 64³; 0 turns it off)."""
    quadrature = Quadrature(samples=samples, fine=fine, occupancy=occupancy)
    return _radiance_case("nerf", data, size, views, test_views, background, rig, quadrature, RENDERED)


@register_problem("nex")
def nex(data: str | None = None, size: int = 64, views: int = 25, test_views: int = 8, background="white",
        planes: int = 32, basis: int = 8) -> Case:
    """NeX: a multiplane image of ``planes`` planes in front of the first training camera, whose
    colour combines ``basis`` learned functions of the viewing direction, fitted to ``views``
    forward-facing pictures of the synthetic scene (or the Blender-style dataset in ``data``, its
    first training view the reference) at ``size`` pixels a side; scored on ``test_views`` held-out
    views on a circle between the training cameras."""
    if isinstance(basis, bool) or not isinstance(basis, int) or basis < 1:
        raise ValueError(f"nex basis must be an integer >= 1, got {basis!r}")
    config = NEX if basis == 8 else TrainConfig(model=ModelConfig(options={"basis": basis})).over(NEX)
    return _radiance_case("nex", data, size, views, test_views, background, "forward", Planes(planes=planes), config)


def _radiance_case(name, data, size, views, test_views, background, rig, quadrature, training) -> Case:
    for key, v, lo in (("size", size, 8), ("views", views, 1), ("test_views", test_views, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{name} {key} must be an integer >= {lo}, got {v!r}")
    bg = _background(background)
    train, held = nerf_views(data, size=size, views=views, test_views=test_views, background=bg, rig=rig)
    b = np.asarray(train.bounds, dtype=np.float64)
    domain = Box(x=tuple(b[0]), y=tuple(b[1]), z=tuple(b[2]))
    density, rgb = domain.field("density"), domain.field("rgb", components=3)
    observation = Rendered(train, density=density, colour=rgb, quadrature=quadrature, held_out=held,
                           background=train.background, name="pixels")
    source = "synthetic scene" if data is None else str(data)
    what = "multiplane image with a neural basis" if name == "nex" else "radiance field"
    problem = Problem(domain, observations=[observation], name=name,
                      description=f"{what} of the {source} from {len(train)} views at {size}²")
    return Case(problem, training, outputs=NeRFOutputs(observation), validation=NeRFValidation(observation))


@dataclass(frozen=True)
class NeRFValidation:
    """PSNR of the first two held-out views, during training."""

    observation: Rendered

    def __call__(self, solution) -> dict:
        from pinr.render.evaluate import render_held_out

        r = render_held_out(solution, self.observation, views=range(min(2, len(self.observation.held_out))))
        return {"psnr": r["psnr"]}


@dataclass(frozen=True)
class NeRFOutputs:
    """The case's outputs (see :func:`pinr.render.evaluate.write_nerf_outputs`)."""

    observation: Rendered

    def __call__(self, out, solution, reference) -> dict:
        from pinr.render.evaluate import write_nerf_outputs

        return write_nerf_outputs(out, solution, self.observation)
