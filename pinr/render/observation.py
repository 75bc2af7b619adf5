r"""Pixels as observations of a radiance field: the volume-rendering operator.

A pixel of a posed picture is the colour the fields deliver along its ray
:math:`r(t) = o + t d` (unit :math:`d`) between the near and far distances,

.. math:: C(r) = \int_{t_n}^{t_f} T(t)\,\sigma(r(t))\,c(r(t), d)\,dt + \big(1 - \textstyle\int_{t_n}^{t_f}
          T\sigma\,dt\big)\, c_{bg}, \qquad T(t) = \exp\Big(-\int_{t_n}^{t} \sigma(r(s))\,ds\Big),

with density :math:`\sigma = \operatorname{softplus}(s)` and colour :math:`c = \operatorname{sigmoid}(k)`
of two fields of the problem, :math:`s` (one component) and :math:`k` (one per colour channel): the
fields are unconstrained, as a network's outputs are, and the operator maps them to a non-negative
density and colours in [0, 1]. :class:`Rendered` states this observation of a set of
:class:`~pinr.render.Views`; the trainer's term draws rays and evaluates the integral by
quadrature (:class:`Quadrature`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sympy.core.function import AppliedUndef

from ..errors import ProblemError
from ..symbolic import expressions as ex
from ..symbolic.problem import AbstractObservation

__all__ = ["Rendered", "Quadrature", "Planes"]


@dataclass(frozen=True)
class Quadrature:
    r"""How the rendering integral is evaluated along each ray.

    - ``samples``: stratified samples per ray (coarse pass; default 64);
    - ``fine``: extra samples per ray drawn from the coarse weights by inverse CDF for a second,
      fine pass (NeRF's hierarchical sampling; 0: none);
    - ``occupancy``: resolution of an occupancy grid that skips empty space (0: none); samples
      are then taken every ``step`` (default: the box diagonal / ``samples`` · 2) in occupied
      cells only, and the grid is refreshed from the density every ``refresh`` steps.
    """

    samples: int = 64
    fine: int = 0
    occupancy: int = 0
    step: float | None = None
    refresh: int = 16

    def __post_init__(self):
        for name in ("samples", "fine", "occupancy", "refresh"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (1 if name in ("samples", "refresh")
                                                                                    else 0):
                raise ValueError(f"Quadrature {name} must be a {'positive' if name == 'samples' else 'non-negative'} "
                                 f"integer, got {v!r}")
        if self.step is not None and not float(self.step) > 0:
            raise ValueError(f"Quadrature step must be a positive distance, got {self.step!r}")
        if self.fine and self.occupancy:
            raise ValueError("Quadrature: choose hierarchical sampling (fine > 0) or an occupancy grid "
                             "(occupancy > 0), not both")



@dataclass(frozen=True)
class Planes:
    r"""The rendering integral on a **multiplane image** (MPI; Zhou et al. 2018, and NeX,
    Wizadwongsa et al. 2021): ``planes`` planes fronto-parallel to a ``reference`` camera (default
    the first training view — with :func:`~pinr.render.forward_facing_views` the reference of the
    rig), evenly spaced in disparity :math:`1/z` across the depth range the scene box spans in
    front of it. Every ray is sampled where it crosses the planes, and only there, whichever camera
    it comes from: the representation is the planes, so evaluation uses them too.

    Plane :math:`i` stands for the slab between the disparity midpoints to its neighbours, of
    thickness :math:`\Delta z_i` along the reference axis :math:`f`; a ray with unit direction
    :math:`d` crosses it over :math:`\delta_i = \Delta z_i / (d\cdot f)`, and the slab's opacity is
    :math:`\alpha_i = 1 - e^{-\sigma_i\delta_i}` (:func:`~pinr.render.composite`). NeX predicts
    :math:`\alpha` per plane voxel directly; this is the same quantity for the reference camera
    (:math:`\sigma\,\Delta z` is a reparametrisation of :math:`\alpha`) and the physically
    consistent one for an oblique ray. A plane is as large as the reference image widened by
    ``margin`` on each side (and the scene box): samples outside are transparent.
    """

    planes: int = 32
    reference: object = None
    margin: float = 0.1

    def __post_init__(self):
        from .cameras import Camera

        if isinstance(self.planes, bool) or not isinstance(self.planes, (int, np.integer)) or self.planes < 2:
            raise ValueError(f"Planes planes must be an integer >= 2, got {self.planes!r}")
        if self.reference is not None and not isinstance(self.reference, Camera):
            raise TypeError(f"Planes reference must be a pr.render.Camera (or None: the first training view), "
                            f"got {type(self.reference).__name__}")
        if not (np.isfinite(self.margin) and self.margin >= 0):
            raise ValueError(f"Planes margin must be a non-negative fraction of the image, got {self.margin!r}")


class Rendered(AbstractObservation):
    r"""Posed pictures ``views`` (:class:`~pinr.render.Views`) of the fields ``density`` (a
    scalar field :math:`s`, density :math:`\operatorname{softplus}(s)`) and ``colour`` (a field with
    one component per channel :math:`k`, colour :math:`\operatorname{sigmoid}(k)`), composited over
    ``background`` (default the views' own).

    ``batch`` rays are drawn per step (default the solver's batch); ``quadrature`` sets how the
    integral along each ray is evaluated. ``held_out`` views (optional) are what validation and
    the final metrics render.
    """

    def __init__(self, views, *, density, colour, weight: float = 1.0, batch: int | None = None,
                 quadrature: Quadrature | None = None, background=None, held_out=None, name: str | None = None):
        from .data import Views

        if not isinstance(views, Views):
            raise TypeError(f"Rendered takes pr.render.Views (e.g. from load_blender or synthetic_views), "
                            f"got {type(views).__name__}")
        if held_out is not None and not isinstance(held_out, Views):
            raise TypeError(f"Rendered held_out must be pr.render.Views, got {type(held_out).__name__}")
        d = ex.flatten(ex.as_expr(density))
        c = ex.flatten(ex.as_expr(colour))
        if len(d) != 1:
            raise ValueError(f"Rendered density must be one scalar field, got {len(d)} entries")
        if len(c) != views.images.shape[-1]:
            raise ValueError(f"Rendered colour has {len(c)} entries but the pictures have {views.images.shape[-1]} "
                             "channels; give a field with as many components (domain.field('c', components=3))")
        weight = float(weight)
        if not weight >= 0:
            raise ValueError(f"Rendered weight must be >= 0, got {weight}")
        if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
            raise ValueError(f"Rendered batch (rays per step) must be a positive integer, got {batch!r}")
        quadrature = Quadrature() if quadrature is None else quadrature
        if not isinstance(quadrature, (Quadrature, Planes)):
            raise TypeError(f"Rendered quadrature must be pr.render.Quadrature or pr.render.Planes, "
                            f"got {type(quadrature).__name__}")
        bg = np.asarray(views.background if background is None else background, dtype=np.float64).reshape(-1)
        if bg.shape != (len(c),) or not np.isfinite(bg).all():
            raise ValueError(f"Rendered background must be {len(c)} colour values in [0, 1], got {background!r}")
        for k, v in dict(views=views, held_out=held_out, density=d[0], colour=tuple(c), exprs=(d[0], *c),
                         weight=weight, batch=batch, quadrature=quadrature, background=bg, name=name).items():
            object.__setattr__(self, k, v)

    def __setattr__(self, *_):
        raise AttributeError("Rendered is immutable")

    def replace(self, **changes) -> "Rendered":
        kw = dict(density=self.density, colour=list(self.colour), weight=self.weight, batch=self.batch,
                  quadrature=self.quadrature, background=self.background, held_out=self.held_out, name=self.name)
        kw.update(changes)
        return Rendered(changes.get("views", self.views), **{k: v for k, v in kw.items() if k != "views"})

    def check(self, problem):
        domain = problem.domain
        if domain.dim != 3:
            raise ProblemError(f"observation '{self.name}': rendering needs a 3-D domain (x, y, z) holding the scene, "
                               f"got {domain!r}")
        for e in self.exprs:
            if not isinstance(e, AppliedUndef) or e.func.__name__ not in problem.fields:
                raise ProblemError(f"observation '{self.name}': density and colour must be fields of the problem "
                                   f"(domain.field(...)), got {e}")
        lo, hi = np.asarray(domain.bounds)[:, 0], np.asarray(domain.bounds)[:, 1]
        b = np.asarray(self.views.bounds)
        if (b[:, 0] < lo - 1e-9).any() or (b[:, 1] > hi + 1e-9).any():
            raise ProblemError(f"observation '{self.name}': the views' scene bounds {b.tolist()} reach outside the "
                               f"domain {domain!r}; make the domain the scene's box")

    def describe(self):
        v = self.views
        n, h, w = v.images.shape[:3]
        q = self.quadrature
        how = (f"{q.planes} planes of a multiplane image" if isinstance(q, Planes) else
               f"occupancy grid {q.occupancy}³" if q.occupancy else
               f"{q.samples} samples" + (f" + {q.fine} fine" if q.fine else "")) + " per ray"
        return (f"{n} views of {w}×{h} pixels rendered from density softplus({self.density}) and colour "
                f"sigmoid({', '.join(map(str, self.colour))}), {how}   (weight {self.weight:g})")

    def __len__(self) -> int:
        return int(np.prod(self.views.images.shape[:3]))

    def __repr__(self):
        return f"Rendered({len(self.views)} views, {len(self)} rays, weight={self.weight:g})"
