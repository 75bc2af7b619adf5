"""``compare``: metrics of a solution against a reference, by the case's own metric or on a grid.

Floor: cases (reads a case's own metric; imports the result type and metrics below)."""

from __future__ import annotations

from .metrics import field_metrics

__all__ = ["compare"]


def _inside(problem, grid):
    """The grid nodes inside ``problem``'s domain (a boolean array of the grid's shape), or ``None``
    when they all are (a box, an image's pixels)."""
    import numpy as np

    from pinr.solution import lattice_points

    domain = getattr(problem, "domain", None)
    if domain is None or getattr(domain, "dim", None) != len(grid.shape):
        return None
    points = lattice_points(grid, 0, int(np.prod(grid.shape))).numpy()
    mask = np.asarray(domain.contains(points), dtype=bool).reshape(grid.shape)
    return None if mask.all() or not mask.any() else mask


def compare(solution, ref, *, problem=None, align: str | None = "auto", metric: str = "auto") -> dict:
    """Metrics of ``solution`` against ``ref``: at least ``rel_l2``, ``max_abs`` and ``psnr``.

    ``metric="auto"`` uses the case's own metric when the solution (or reference) comes from a
    catalogue case that states one (e.g. Helmholtz's complex error on the inner box, the wave's
    error per time level); ``metric="grid"`` (and problems without their own) compares on a
    shared grid (plus ``ssim`` for images): the reference's when it is grid-based, else the
    solution's, restricted to the nodes inside the problem's domain. ``align="auto"`` takes the
    problem's alignment ("constant"/"affine" for answers defined only up to a constant or an affine
    map). ``problem`` may be a problem or a case."""
    from pinr.case import Case
    from pinr.solution import GridSolution

    if metric not in ("auto", "grid"):
        raise ValueError(f"compare metric must be 'auto' or 'grid', got {metric!r}")
    case = problem if isinstance(problem, Case) else (solution.case or ref.case)
    if problem is None or isinstance(problem, Case):
        problem = case.problem if case is not None else (getattr(solution, "problem", None)
                                                         or getattr(ref, "problem", None))
    if metric == "auto" and case is not None and case.metrics is not None:
        return dict(case.metrics(solution, ref))
    if align == "auto":
        align = problem.align if problem is not None else None
    grid = ref.grid if isinstance(ref, GridSolution) or not isinstance(solution, GridSolution) else solution.grid
    if tuple(ref.fields) != tuple(solution.fields):
        raise ValueError(f"cannot compare fields {list(solution.fields)} with {list(ref.fields)}")
    a, b = solution.values_on(grid), ref.values_on(grid)  # chunked: no activation of the whole grid
    inside = _inside(problem, grid)
    if inside is not None:  # a disk, an L-shape, a plate with a hole: the answer is defined inside only
        a, b = a[inside], b[inside]
    image = bool(problem is not None and problem.image and len(grid.shape) == 2 and inside is None)
    if a.shape[-1] == 1:
        a, b = a[..., 0], b[..., 0]
    return field_metrics(a, b, align=align, image=image)
