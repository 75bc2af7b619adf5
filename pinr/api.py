"""The façade: ``solve``, ``reference`` and ``compare``."""

from __future__ import annotations

import logging
import os
import platform
import time
from pathlib import Path

import torch

from .metrics import field_metrics

__all__ = ["solve", "reference", "compare"]

log = logging.getLogger(__name__)


def reference(problem, *, resolution: int | None = None):
    """The trusted answer to ``problem``: the problem's own reference when it names one
    (``defaults["reference"](problem, resolution)``, e.g. Helmholtz's analytic field), else its
    exact solution if it states one, else the finite-difference reference lowered from the same
    statement (``NotImplementedError`` when the statement is outside what the FD solver lowers)."""
    from pinr.solvers import ExactSolution, FDSolver

    hook = problem.defaults.get("reference")
    if hook is not None:
        return hook(problem, resolution)
    if problem.exact is not None:
        return ExactSolution(problem, shape=resolution)
    return FDSolver(problem, resolution=resolution).solve()


def compare(solution, ref, *, problem=None, align: str | None = "auto", metric: str = "auto") -> dict:
    """Metrics of ``solution`` against ``ref``: at least ``rel_l2``, ``max_abs`` and ``psnr``.

    ``metric="auto"`` uses the problem's own metric when it states one
    (``defaults["metrics"](solution, ref)``, e.g. Helmholtz's complex error on the inner box,
    the wave's error per time level); ``metric="grid"`` (and problems without their own) compares
    on a shared grid (plus ``ssim`` for images): the reference's when it is grid-based, else the
    solution's. ``align="auto"`` takes the problem's alignment ("constant"/"affine" for answers
    defined only up to a constant or an affine map)."""
    from pinr.solvers import GridSolution

    if metric not in ("auto", "grid"):
        raise ValueError(f"compare metric must be 'auto' or 'grid', got {metric!r}")
    problem = problem or getattr(solution, "problem", None) or getattr(ref, "problem", None)
    hook = problem.defaults.get("metrics") if problem is not None and metric == "auto" else None
    if hook is not None:
        return dict(hook(solution, ref))
    if align == "auto":
        align = problem.align if problem is not None else None
    grid = ref.grid if isinstance(ref, GridSolution) or not isinstance(solution, GridSolution) else solution.grid
    if tuple(ref.fields) != tuple(solution.fields):
        raise ValueError(f"cannot compare fields {list(solution.fields)} with {list(ref.fields)}")
    pts = grid.points(dtype=torch.float64)
    a = solution(pts).detach().cpu().double().numpy().reshape(*grid.shape, -1)
    b = ref(pts).detach().cpu().double().numpy().reshape(*grid.shape, -1)
    image = bool(problem is not None and problem.image and len(grid.shape) == 2)
    if a.shape[-1] == 1:
        a, b = a[..., 0], b[..., 0]
    return field_metrics(a, b, align=align, image=image)


def solve(problem, *, solver: str = "pinn", out: str | os.PathLike | None = None,
          resolution: int | None = None, reference_solution="auto", **options):
    r"""Solve ``problem`` and return a solution.

    ``solver="pinn"`` (default) trains a backbone (options of
    :class:`~pinr.solvers.PINNSolver`: ``backbone``, ``steps``, ``lr``, ``device``, ``seed``,
    ``dtype``, ``batch``, ``engine``, ...); ``solver="fd"`` computes the finite-difference
    reference at ``resolution``. With ``out`` a run directory is written: ``config.json``,
    ``metrics.json``, ``checkpoint.pt``, ``solution.pt``, ``fields.npz`` and PNG plots.
    ``reference_solution`` ("auto": exact or FD when available, ``None`` for none, or a
    solution) is used for periodic validation and the final metrics.
    """
    from pinr.solvers import FDSolver, PINNSolver

    from .report import write_run

    if solver not in ("pinn", "fd"):
        raise ValueError(f"unknown solver {solver!r}; choose 'pinn' or 'fd'")
    out = Path(out) if out is not None else None
    if out is not None and out.exists() and any(out.iterdir()) and options.get("resume") is None:
        raise FileExistsError(f"run directory {out} exists and is not empty; choose another --out or pass "
                              "resume= to continue that run")
    started = time.perf_counter()
    if solver == "fd":
        if options:
            raise TypeError(f"solver='fd' takes only resolution=, got {sorted(options)}")
        sol = FDSolver(problem, resolution=resolution).solve()
        ref = None
    else:
        ref = reference_solution
        if isinstance(ref, str) and ref == "auto":
            try:
                ref = reference(problem, resolution=resolution)
            except NotImplementedError as err:
                log.info("no reference for %s: %s", problem.name, err)
                ref = None
        if out is not None:
            options.setdefault("checkpoint_every", max(1, (options.get("steps") or
                                                           problem.defaults.get("steps", 2000)) // 10))
        pinn = PINNSolver(problem, out=out, reference=ref, **options)
        if out is not None:
            from .io import write_json
            write_json(out / "config.json", _config(problem, pinn, options))
        sol = pinn.run()
    if out is not None:
        write_run(out, problem, sol, ref, solver=solver, seconds=time.perf_counter() - started,
                  trainer=None if solver == "fd" else pinn)
    return sol


def _config(problem, pinn, options) -> dict:
    import pinr

    return {
        "pinr": pinr.__version__, "torch": torch.__version__, "python": platform.python_version(),
        "problem": {"name": problem.name, **dict(problem.source)}, "statement": str(problem),
        "solver": "pinn", "backbone": pinn.backbone_name, "backbone_options": pinn.backbone_options,
        "steps": pinn.steps, "lr": pinn.lr, "lr_min": pinn.lr_min, "seed": pinn.seed,
        "dtype": str(pinn.dtype).replace("torch.", ""), "device": str(pinn.device),
        "engine": pinn.engine_name, "batch": pinn.batch if not isinstance(pinn.batch, dict) else dict(pinn.batch),
        "lbfgs_steps": pinn.lbfgs_steps, "compile": pinn.compile, "tf32": pinn.tf32,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in options.items()
                    if isinstance(v, (int, float, str, bool, type(None), Path))},
    }
