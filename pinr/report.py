"""Run-directory outputs: metrics, field exports and plots, each file written atomically.

Floor: run directories (:mod:`pinr.run` calls these writers; they import cases and everything
below)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .io import save_npz, write_csv, write_json
from .memory import peak_memory
from .plotting import plot_fields, plot_loss_curves, plot_metric_curve, plot_parameters, plot_sampled_points

__all__ = ["write_run", "write_collection_run", "field_panels"]


def _display(a: np.ndarray, lo: float, hi: float, image: bool) -> np.ndarray:
    """Grid array ``(nx, ny[, C])`` → picture ``(ny, nx[, C])`` with y up; images scaled to [0, 1]."""
    a = np.swapaxes(a, 0, 1)
    if image:
        a = (a - lo) / max(hi - lo, 1e-12)
        if a.ndim == 3 and a.shape[-1] == 1:
            a = a[..., 0]
    return a


def field_panels(problem, pred: np.ndarray, ref: np.ndarray | None, aligned: np.ndarray | None = None) -> dict:
    """Panels for :func:`~pinr.plotting.plot_fields`: per field, prediction, reference, error."""
    panels = {}
    image = problem.image and pred.ndim == 3 and pred.shape[-1] in (1, 3)
    lo, hi = (float(ref.min()), float(ref.max())) if ref is not None else (float(pred.min()), float(pred.max()))
    shown = aligned if aligned is not None else pred
    if image:
        panels["prediction"] = _display(shown, lo, hi, True)
        if ref is not None:
            panels["reference"] = _display(ref, lo, hi, True)
            err = np.abs(shown - ref).mean(axis=-1)
            panels["|error|"] = np.swapaxes(err, 0, 1)
        return panels
    for c, name in enumerate(problem.fields):
        panels[f"{name} (pinr)"] = _display(shown[..., c], lo, hi, False)
        if ref is not None:
            panels[f"{name} (reference)"] = _display(ref[..., c], lo, hi, False)
            panels[f"{name} error"] = _display(shown[..., c] - ref[..., c], lo, hi, False)
    return panels


def _slice(a: np.ndarray, dims: int, *, time_last: bool) -> np.ndarray:
    """A 2-D view of a ``dims``-D grid array ``(*shape, C)``: the last time slice of a time axis,
    the middle slice of any further spatial axis."""
    for axis in range(dims - 1, 1, -1):
        index = a.shape[axis] - 1 if (time_last and axis == dims - 1) else a.shape[axis] // 2
        a = a.take(index, axis=axis)
    return a


def _write_paraview(out: Path, problem, grid, pred: np.ndarray, ref: np.ndarray | None,
                    max_points: int = 1 << 20) -> Path | None:
    """The fields for ParaView: ``fields.vtu`` on the lattice, or ``fields.xdmf`` (a time series,
    time the last axis) for a space-time problem; per field ``NAME`` and ``NAME_reference``.
    Lattices above ``max_points`` keep every k-th node per axis (``fields.npz`` has them all).
    ``None`` for a lattice with an axis of one node (a 1×1 image): it has no cells to write."""
    from .export import write_vtu, write_xdmf_series

    if min(grid.shape) < 2:
        return None

    k = max(1, math.ceil((pred[..., 0].size / max_points) ** (1 / len(grid.shape))))
    keep = (slice(None, None, k),) * len(grid.shape)
    fields = {name: pred[keep + (c,)] for c, name in enumerate(problem.fields)}
    if ref is not None:
        fields.update({f"{name}_reference": ref[keep + (c,)] for c, name in enumerate(problem.fields)})
    axes = [a[::k] for a in grid.lattice(grid.shape)]
    if problem.domain.time is not None and len(axes) > 1:
        return write_xdmf_series(out / "fields.xdmf", axes[:-1], axes[-1], fields)
    return write_vtu(out / "fields.vtu", axes, fields)


def write_run(out: Path, case, solution, ref, *, solver: str, seconds: float, trainer=None) -> dict:
    """Write metrics.json, solution.pt, fields.npz and the plots (and the case's own outputs)
    into ``out``; return the metrics."""
    from pinr.case import as_case
    from pinr.comparison import compare
    from pinr.metrics import affine_align
    from pinr.solution import MarchedSolution, NeuralSolution

    case = as_case(case)
    problem = case.problem
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    grid = ref.grid if ref is not None else solution.grid
    pred = solution.values_on(grid)  # chunk by chunk: no activation of the whole grid at once
    refv = ref.values_on(grid) if ref is not None else None
    metrics: dict = {"problem": problem.name, "solver": solver, "seconds": round(seconds, 3)}
    aligned = None
    if ref is not None:
        metrics.update(compare(solution, ref, problem=case))
        if problem.align == "affine":
            aligned = affine_align(pred, refv)[0]
        elif problem.align == "constant":
            aligned = pred + (refv - pred).mean()
    if trainer is not None:
        h = trainer.history
        metrics.update({"steps": trainer.steps, "backbone": trainer.backbone_name, "engine": trainer.engine.name,
                        "device": str(trainer.device), "final_loss": h["loss"][-1] if h["loss"] else None,
                        "train_seconds": round(trainer.seconds, 3),
                        "ms_per_step": round(1000 * trainer.seconds / max(trainer.steps, 1), 3)})
        for k, v in h.items():
            if k.startswith("loss/") and v:
                metrics[k] = v[-1]
    if solution.parameters:
        metrics["parameters"] = dict(solution.parameters)
    if getattr(solution, "verdict", None) is not None:
        metrics["verdict"] = solution.verdict.as_dict()
    metrics.update(peak_memory(trainer.device if trainer is not None else "cpu"))
    if case.outputs is not None and solver == "pinn":  # the case's own files: meshes, snapshots, animations
        extra = case.outputs(out, solution, ref)
        if isinstance(extra, Mapping):
            metrics.update(extra)
    write_json(out / "metrics.json", metrics)
    arrays = {"coords_" + c.name: a for c, a in zip(grid.coords, grid.lattice(grid.shape))}
    arrays["prediction"] = pred
    if refv is not None:
        arrays["reference"] = refv
    save_npz(out / "fields.npz", **arrays)
    _write_paraview(out, problem, grid, pred, refv)
    if isinstance(solution, (NeuralSolution, MarchedSolution)):
        solution.save(out / "solution.pt")

    dims = len(grid.shape)
    b = grid.bounds
    if dims == 1:
        panels = {f"{n} (pinr)": pred[:, c] for c, n in enumerate(problem.fields)}
        if refv is not None:
            panels.update({f"{n} (reference)": refv[:, c] for c, n in enumerate(problem.fields)})
            panels.update({f"{n} error": pred[:, c] - refv[:, c] for c, n in enumerate(problem.fields)})
        plot_fields(out / "fields.png", panels, extent=(b[0, 0], b[0, 1]), suptitle=problem.name)
    else:
        tl = problem.domain.time is not None
        p2 = _slice(pred, dims, time_last=tl)
        r2 = _slice(refv, dims, time_last=tl) if refv is not None else None
        a2 = _slice(aligned, dims, time_last=tl) if aligned is not None else None
        panels = field_panels(problem, p2, r2, a2)
        errs = {k for k in panels if "error" in k and "|" not in k}
        plot_fields(out / "fields.png", panels, extent=(b[0, 0], b[0, 1], b[1, 0], b[1, 1]),
                    suptitle=f"{problem.name}" + (f" (after {problem.align} alignment)" if aligned is not None else ""),
                    symmetric=errs, cmap="gray" if problem.image else "viridis")
    if trainer is not None and trainer.history["step"]:
        h = trainer.history
        write_csv(out / "history.csv", {k: v for k, v in h.items() if len(v) == len(h["step"]) and k != "lbfgs"})
        curves = {k.split("/", 1)[1]: v for k, v in h.items() if k.startswith("loss/")}
        curves["total"] = h["loss"]
        plot_loss_curves(out / "loss.png", curves, steps=h["step"])
        v = trainer.validation
        key = "psnr" if "psnr" in v and (problem.image or "rel_l2" not in v) else "rel_l2"
        steps = [(t, x) for t, x in zip(v.get("step", []), v.get(key, [])) if x is not None]  # None: undefined
        if len(steps) > 1:
            plot_metric_curve(out / f"validation_{key}.png", *map(list, zip(*steps)), name=key)
        if v.get("step"):  # the numbers behind the plot, with the training seconds where the history has the step
            at = dict(zip(h["step"], h["seconds"]))
            columns = {"step": v["step"], "seconds": [at.get(t) for t in v["step"]]}
            columns.update({k: x for k, x in v.items() if k not in columns and len(x) == len(v["step"])})
            write_csv(out / "validation.csv", columns)
        params = {k.split("/", 1)[1]: v for k, v in h.items() if k.startswith("param/")}
        if params:
            plot_parameters(out / "parameters.png", h["step"], params)
    pools = {t.name: t.sampler.batch.points for t in (trainer.terms if trainer is not None else ())
             if t.sampler is not None and t.sampler.adaptive and t.sampler.batch is not None}
    if pools:
        plot_sampled_points(out / "sampled_points.png", pools, coords=[c.name for c in problem.domain.coords],
                            bounds=problem.domain.bounds)
    return metrics


def write_collection_run(out: Path, collection, solver, sol, per: dict[str, dict], *, seconds: float) -> None:
    """A collection run's outputs (``pr.solve`` lists them), the record aside: ``per`` is each
    instance's metrics, ``seconds`` the run's time so far."""
    from pinr.solvers.conditioned import plot_instances

    keys = sorted({k for m in per.values() for k, v in m.items() if isinstance(v, float)})
    means = {f"mean_{k}": float(np.mean([m[k] for m in per.values() if isinstance(m.get(k), float)])) for k in keys}
    h = solver.history
    metrics = {"problem": collection.name, "solver": "conditioned", "instances": per, **means,
               "steps": solver.steps, "backbone": solver.backbone_name, "engine": solver.engine.name,
               "final_loss": h["loss"][-1] if h["loss"] else None, "train_seconds": round(solver.seconds, 3),
               "seconds": round(seconds, 3)}
    write_json(out / "metrics.json", metrics)
    sol.save(out / "solution.pt")
    grid = sol.grid
    save_npz(out / "fields.npz", prediction=np.stack([sol[k].values_on(grid) for k in range(len(sol))]),
             instances=np.array(sol.names), **{"coords_" + c.name: a for c, a in zip(grid.coords,
                                                                                   grid.lattice(grid.shape))})
    plot_instances(out / "instances.png", sol)
    if h["step"]:
        write_csv(out / "history.csv", {k: v for k, v in h.items() if len(v) == len(h["step"])})
        curves = {k.split("/", 1)[1]: v for k, v in h.items() if k.startswith("loss/")}
        plot_loss_curves(out / "loss.png", {**curves, "total": h["loss"]}, steps=h["step"])
