r"""Occupancy of a shape (Occupancy Networks, Mescheder et al. 2019): classify the points of the
box :math:`\Omega = [-1, 1]^d` as inside or outside a shape.

The unknown :math:`u` is a logit, the network's inside-ness before a sigmoid. The labels are the
shape's occupancy :math:`o(x) = H(-\phi(x)) \in \{0, 1\}` with :math:`\phi` its signed
distance (negative inside; :math:`H` the Heaviside step), and the loss is the binary
cross-entropy with logits, stated with pinr's language as a classifying condition:

.. math::

    \operatorname{BCE}(u, o) = \operatorname{softplus}(u) - o\,u
    = \max(u, 0) - o\,u + \log\big(1 + e^{-|u|}\big),

``Condition(Eq(u, o), on=region, reduction="bce")``, averaged over each term's points (the
compiler evaluates the two sides, the reduction the cross-entropy; finite for any logit).

Points: two terms of ``batch`` points each per step — **half uniform in the box, half near the
surface** (area-uniform surface points moved by Laplace noise of scales ``scales``, default
:math:`10^{-1}` and :math:`10^{-2}`, half of those each), fresh every step. Occupancy Networks
draw uniform points in the padded box; near-surface points (as in later occupancy and SDF work)
make the boundary sharp where uniform points rarely land.

Shapes: a built-in analytic shape (``pinr.geometry.available_shapes()``) or a closed triangle
mesh (.obj, .ply, .stl, .off), normalised into :math:`[-0.9, 0.9]^d` as in ``eikonal-sdf``.
Point clouds have no inside test and are refused.

Metrics (the case's outputs): IoU and accuracy of :math:`\{u > 0\}` against :math:`\{\phi \le 0\}`
on the cell centres of a ``resolution^d`` lattice (256² / 128³); files: ``occupancy.png`` (2-D)
or a marching-cubes mesh of :math:`u = 0` with a render (3-D). There is no FD reference: a
classification is not an equation a grid solver solves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import sympy

from pinr import geometry as geo
from pinr.case import Case
from pinr.domains import AbstractSolid
from pinr.geometry.metrics import DEFAULT_RESOLUTION
from pinr.symbolic import Condition, Eq, Problem
from pinr.training import SamplingConfig

from . import register_problem
from .eikonal_sdf import _DEFAULTS as SDF_DEFAULTS
from .eikonal_sdf import check_lattice, sdf_domain

__all__ = ["occupancy", "occupancy_labels", "OccupancyOutputs"]

#: Solver defaults per dimension. 2-D: a SIREN of 2 hidden layers of 128 at omega 10, Adam at
#: 1e-3, 1000 steps of 1024 points per term: IoU 0.9968, accuracy 0.9993 on the star (256²) in
#: 27 s of training, 42 s wall for ``pinr solve occupancy`` with its outputs, on a 2-core CPU
#: shared at load ~4. 3-D: the SDF's SIREN of 3 hidden layers of 256 with 8192 points per term for
#: :data:`STEPS_3D` steps: IoU 0.9952, accuracy 0.9993 on the Stanford bunny's 28k-vertex scan in 312 s
#: on that CPU (the hash grid: 0.9925 in 451 s, 1000 steps; bench/RESULTS.md, "Scanned meshes"); it
#: was 5000 steps, about 24 minutes there. On that CPU 300 steps of 2048 points per term gave IoU
#: 0.998 on the torus (128³) in 49 s.
STEPS_3D = 1100
_DEFAULTS = {2: SDF_DEFAULTS[2], 3: SDF_DEFAULTS[3].replace(optim=replace(SDF_DEFAULTS[3].optim, steps=STEPS_3D))}


def occupancy_labels(shape: AbstractSolid, domain):
    r"""The occupancy :math:`o = H(-\phi)` of ``shape`` as an expression of ``domain``'s
    coordinates (1 inside, 0 outside, 1/2 on the surface), and the signed distance data
    :math:`\phi` it is made of."""
    dist = geo.signed_distance_data("d", shape, domain)
    return sympy.Heaviside(-dist, sympy.Rational(1, 2)), dist


@register_problem("occupancy")
def occupancy(shape="star", batch: int | None = None, scales: Sequence[float] = (1e-1, 1e-2),
              padding: float = 0.1, resolution: int | None = None) -> Case:
    r"""Inside/outside classification of ``shape`` (built-in name, mesh path or
    :mod:`pinr.geometry` shape) with binary cross-entropy on logits.

    ``batch`` points per term per step (default 1024 in 2-D, 8192 in 3-D; uniform and
    near-surface terms alike); ``scales`` of the near-surface Laplace noise; ``resolution``
    of the metric lattice (default 256² / 128³).
    """
    sh = geo.load_shape(shape, padding=padding)
    if isinstance(sh, geo.OrientedPointCloud):
        raise ValueError(f"occupancy needs a solid with an inside test (a built-in shape or a closed mesh); "
                         f"{sh.name!r} is a point cloud")
    d = sh.dim
    domain = sdf_domain(d)
    u = domain.field("u")
    labels, dist = occupancy_labels(sh, domain)
    near = geo.NearSurfaceRegion(domain, sh, dist, scales=scales)
    conditions = [Condition(Eq(u, labels), on=domain.interior, name="uniform", reduction="bce"),
                  Condition(Eq(u, labels), on=near, name="near_surface", reduction="bce")]
    training = _DEFAULTS[d]
    if batch is not None:
        training = training.replace(sampling=SamplingConfig(batch=int(batch)))
    problem = Problem(domain, conditions=conditions, name="occupancy",
                      description=f"occupancy of {sh.name}: logit u, labels H(-d), binary cross-entropy")
    return Case(problem, training, outputs=OccupancyOutputs(sh, int(resolution or DEFAULT_RESOLUTION[d])))


@dataclass(frozen=True)
class OccupancyOutputs:
    """The case's outputs: IoU and accuracy of :math:`\\{u > 0\\}` against ``shape`` on a
    ``resolution`` lattice, with a picture (2-D) or a mesh of :math:`u = 0` (3-D)."""

    shape: object
    resolution: int

    def __post_init__(self):
        check_lattice("occupancy", self.resolution, self.shape.dim)

    def __call__(self, out, solution, reference) -> dict:
        return geo.write_occupancy_outputs(out, solution, self.shape, resolution=self.resolution)
