r"""Signed distance fields (SIREN, Sec. 4.2; the 3-D tables of SCONE, PINs, BACON).

The unknown :math:`u` on the box :math:`\Omega = [-1, 1]^d` should be the signed distance of a
shape with surface :math:`\Gamma` (negative inside). ``mode="eikonal"`` states SIREN's loss
with pinr's language:

.. math::

    |\nabla u| = 1 \ \text{in } \Omega, \qquad u = 0,\ \ \nabla u = n \ \text{on } \Gamma, \qquad
    e^{-\alpha |u|} = 0 \ \text{in } \Omega \ (\text{off the surface}),

with SIREN's weights 5·10¹ (eikonal), 3·10³ (surface value), 10² (normals), 10²
(off-surface, :math:`\alpha = 100`) and, as in SIREN's code, mean absolute residuals (L1)
for every term. Each term draws its own ``batch`` points per step: fresh area-uniform surface
points with exact normals, uniform points of the box.

``mode="supervised"`` is the regression protocol of SCONE and BACON: :math:`u = \phi` at
surface points moved by Laplace noise of scales :math:`10^{-1}` and :math:`10^{-3}` (half
the near-surface points each), with the exact signed distances :math:`\phi`, mean squared
error; a share ``uniform`` (default 0.2) of the points is drawn anywhere in the box, so that
the answer is a distance away from the surface too (without it the bunny's field was 0.58 off
over the box, relative L2, with an exact surface).

**The mode by default** (:func:`default_mode`): supervised, with a hash grid, for a 3-D shape
whose distance is exact (a triangle mesh; the built-in sphere, box and torus); SIREN's eikonal loss
for 2-D shapes, point clouds and solids whose distance is only a bound or an estimate (the
snowman's and hollow box's unions and differences, CSG solids). The Stanford bunny's 28k-vertex scan
(``bunny.obj`` of the pymeshlab wheel's test meshes) at the defaults, 2-core CPU: IoU 0.9974,
Chamfer 4.1e-4, relative L2 7.3e-3 over the box, in 164 s of training (3 min 9 s for
``pinr solve eikonal-sdf --set shape=bunny.obj``); the 3-D eikonal defaults (SIREN 256 × 3,
5000 steps of 8192 points) would train for about half an hour there at 0.37–0.41 s a step, and
at equal time (150 s) reached IoU 0.973 and Chamfer 1.1e-2. Comparison at equal time in
bench/RESULTS.md ("Scanned meshes").

Shapes: a built-in analytic shape (``pinr.geometry.available_shapes()``; 2-D: circle,
rectangle, star, ring, lens, two-circles; 3-D: sphere, box, torus, hollow-box, snowman), a
triangle mesh (.obj, .ply, .stl, .off) or an oriented point cloud (.xyz, .ply, .npz). Files are
normalised into :math:`[-0.9, 0.9]^d` (``padding`` 0.1, aspect ratio kept); every length
reported is in the normalised box, and meshes are written back in the file's units.

The exact solution is the shape's signed distance (analytic, or the exact distance to the
mesh by libigl); point clouds have only an estimate and no exact solution. Shape metrics (IoU,
Chamfer, Hausdorff, normal consistency, eikonal residual) come from
:func:`pinr.geometry.shape_metrics` and are written with the mesh and plots by the case's
``outputs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy
from sympy import exp

from pinr import geometry as geo
from pinr.case import Case
from pinr.domains import Box, Rectangle
from pinr.geometry.metrics import DEFAULT_RESOLUTION
from pinr.memory import available_memory, check_fits
from pinr.solution import gradient_norm
from pinr.symbolic import Condition, Eq, Problem, grad, norm
from pinr.symbolic.expressions import Parameter, normal_symbol
from pinr.training import ModelConfig, OptimConfig, SamplingConfig, TrainConfig

from . import register_problem

__all__ = ["eikonal_sdf", "sdf_domain", "default_mode", "SDFOutputs", "check_lattice", "SUPERVISED_3D_STEPS"]

#: bytes per lattice point that writing the outputs holds at once: the values, the reference's
#: distances and inside set, the metrics' and marching cubes' work arrays. Measured with
#: tracemalloc: 60-63 B per point in 2-D (512², 1024²) and 3-D (48³, 96³); 96 keeps a margin.
OUTPUT_BYTES_PER_POINT = 96

MODES = ("eikonal", "supervised")

#: Solver defaults per dimension and mode. 2-D: a SIREN of 2 hidden layers of 128 at omega 10, Adam
#: at 1e-3, 1000 steps of 1024 points per term (33 s on an idle 2-core CPU; IoU > 0.998 on the
#: star). 3-D eikonal (point clouds, or when asked): SIREN's SDF network (3 hidden layers of 256)
#: at omega 10 and 1e-3 for 5000 steps of 8192 points per term, sized for a GPU. omega 30 at 1e-4
#: (SIREN's paper values) needs many more steps: 1000 of them leave spurious zero level sets (IoU
#: 0.27 on the star). 3-D supervised (the default where the distance is exact): a hash grid
#: (:class:`~pinr.backbones.HashGrid`, 16 levels of 2 features, 16 → 512, 2^19 rows, linear, an MLP
#: of 2 × 64) at its own rate 1e-2, :data:`SUPERVISED_3D_STEPS` steps of 8192 points; measured in
#: bench/RESULTS.md ("Scanned meshes").
SUPERVISED_3D_STEPS = 1000
_SIREN_2D = TrainConfig(model=ModelConfig(backbone="siren", options={"width": 128, "depth": 2, "omega0": 10.0,
                                                                      "omega_hidden": 10.0}),
                        optim=OptimConfig(steps=1000, lr=1e-3), sampling=SamplingConfig(batch=1024))
_DEFAULTS = {
    2: _SIREN_2D,
    3: TrainConfig(model=ModelConfig(backbone="siren", options={"width": 256, "depth": 3, "omega0": 10.0,
                                                                "omega_hidden": 10.0}),
                   optim=OptimConfig(steps=5000, lr=1e-3), sampling=SamplingConfig(batch=8192)),
}
_SUPERVISED = {
    2: _SIREN_2D,
    3: TrainConfig(model=ModelConfig(backbone="hashgrid", options={"max_resolution": 512}),
                   optim=OptimConfig(steps=SUPERVISED_3D_STEPS, lr=1e-2), sampling=SamplingConfig(batch=8192)),
}


def default_mode(shape) -> str:
    """The mode a case takes when none is given: ``"supervised"`` for a 3-D shape whose signed
    distance is exact (``shape.exact``: a mesh, the built-in sphere, box and torus; a regression on the
    distances, minutes on a CPU), ``"eikonal"`` otherwise (2-D shapes, point clouds, and solids whose
    distance is only a bound, such as the snowman and CSG solids)."""
    return "supervised" if shape.dim == 3 and shape.exact else "eikonal"


def sdf_domain(dim: int):
    r"""The normalised box :math:`[-1, 1]^d` with coordinates x, y(, z)."""
    if dim == 2:
        return Rectangle(x=(-1, 1), y=(-1, 1))
    return Box(x=(-1, 1), y=(-1, 1), z=(-1, 1))


@register_problem("eikonal-sdf")
def eikonal_sdf(shape="star", mode: str | None = None, alpha: float = 100.0, surface_weight: float = 3e3,
                normal_weight: float = 1e2, off_surface_weight: float = 1e2, eikonal_weight: float = 5e1,
                batch: int | None = None, padding: float = 0.1, resolution: int | None = None,
                scales: Sequence[float] = (1e-1, 1e-3), uniform: float = 0.2) -> Case:
    r"""Signed distance of ``shape`` (built-in name, mesh or point-cloud path, or a solid such
    as ``pinr.Disk(...) - pinr.Disk(...)`` or a ``pinr.TriangleMesh``): ``mode`` "eikonal"
    (SIREN) or "supervised" (SCONE/BACON; ``uniform`` the share of its points drawn in the whole
    box); by default (:func:`default_mode`) supervised for a 3-D shape with an exact distance,
    eikonal otherwise.

    ``batch`` points per term per step (default 1024 in 2-D, 8192 in 3-D); ``resolution`` of
    the metric lattice (default 256² / 128³; 256³ and 512³ on a GPU); ``scales`` of the
    supervised mode's Laplace noise.
    """
    if mode is not None and mode not in MODES:
        raise ValueError(f"eikonal-sdf mode must be one of {MODES}, got {mode!r}")
    if isinstance(uniform, bool) or not isinstance(uniform, (int, float)) or not 0 <= uniform < 1:
        raise ValueError(f"eikonal-sdf uniform is the share of points drawn anywhere in the box, in [0, 1); "
                         f"got {uniform!r} (e.g. --set uniform=0.2)")
    sh = geo.load_shape(shape, padding=padding)
    d = sh.dim
    chosen = "" if mode is not None else ", the default for this shape"
    mode = mode or default_mode(sh)
    domain = sdf_domain(d)
    u = domain.field("u")
    dist = geo.signed_distance_data("d", sh, domain)
    if mode == "eikonal":
        a = Parameter("alpha", alpha)
        n = [normal_symbol(c) for c in domain.coords]
        surface = geo.SurfaceRegion(domain, sh)
        conditions = [
            Condition(Eq(norm(grad(u)), 1), on=domain.interior, weight=eikonal_weight, name="eikonal",
                      reduction="mae"),
            Condition(Eq(u, 0), on=surface, weight=surface_weight, name="surface", reduction="mae"),
            Condition(Eq(grad(u), n), on=surface, weight=normal_weight, name="normals", reduction="mae"),
            Condition(Eq(exp(-a * sympy.Abs(u)), 0), on=domain.interior, weight=off_surface_weight,
                      name="off_surface", reduction="mae"),
        ]
        description = f"eikonal signed distance of {sh.name} (SIREN's loss{chosen})"
    else:
        near = geo.NearSurfaceRegion(domain, sh, dist, scales=scales, uniform=uniform)
        conditions = [Condition(Eq(u, dist), on=near, name="sdf", reduction="mse")]
        description = (f"signed distance of {sh.name} regressed at near-surface points (Laplace scales "
                       f"{tuple(scales)}) and {uniform:.0%} in the box{chosen}")
    training = (_DEFAULTS if mode == "eikonal" else _SUPERVISED)[d]
    if batch is not None:
        training = training.replace(sampling=SamplingConfig(batch=int(batch)))
    problem = Problem(domain, conditions=conditions, exact=dist if sh.exact else None, name="eikonal-sdf",
                      description=description)
    return Case(problem, training, outputs=SDFOutputs(sh, int(resolution or DEFAULT_RESOLUTION[d])))


def check_lattice(case: str, resolution: int, dim: int) -> None:
    """Refuse, in one line and before training, an output ``resolution`` whose lattice the free
    memory cannot hold (:data:`OUTPUT_BYTES_PER_POINT`), naming the largest that fits."""
    if resolution < 2:
        raise ValueError(f"{case}: resolution must be an integer of at least 2, got {resolution}")
    largest = int((available_memory("cpu") / OUTPUT_BYTES_PER_POINT) ** (1 / dim))
    check_fits(f"{case}: resolution={resolution} ({resolution ** dim:,} lattice points for the metrics and mesh)",
               OUTPUT_BYTES_PER_POINT * resolution ** dim, f"use --set resolution={largest} or less")


@dataclass(frozen=True)
class SDFOutputs:
    """The case's outputs: the shape metrics against ``shape`` and a marching-cubes mesh (in
    the input's units), level sets, slices and a render, on a ``resolution`` lattice (checked
    against the free memory when the case is built)."""

    shape: object
    resolution: int

    def __post_init__(self):
        check_lattice("eikonal-sdf", self.resolution, self.shape.dim)

    def __call__(self, out, solution, reference) -> dict:
        return geo.write_sdf_outputs(out, solution, self.shape, resolution=self.resolution,
                                     gradient_norm=gradient_norm(solution))
