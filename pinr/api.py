"""The façade: ``solve``, ``reference`` and ``compare`` (from :mod:`pinr.comparison`).

Floor: above the run directories (:mod:`pinr.run`, which owns every file a run writes), below
the benchmark wing and the CLI."""

from __future__ import annotations

import logging
import os
import time

from .case import as_case
from .comparison import compare
from .run import RunDirectory, held, subject

__all__ = ["solve", "reference", "compare"]

log = logging.getLogger(__name__)


def reference(target, *, resolution: int | None = None):
    """The trusted answer to ``target`` (a problem or a catalogue case): the case's own reference
    when it names one (e.g. Helmholtz's analytic field), else the exact solution if the problem
    states one, else the finite-difference reference lowered from the same statement
    (``NotImplementedError`` when the statement is outside what the FD solver lowers, or has
    trainable parameters: fix them with ``problem.fixed(...)``)."""
    from pinr.solvers import ExactSolution, FDSolver

    case = as_case(target)
    problem = case.problem
    if case.reference is not None:
        ref = case.reference(problem, resolution)
    elif problem.exact is not None:
        ref = ExactSolution(problem, shape=resolution)
    else:
        opts = dict(case.fd)
        if resolution is not None:
            opts["resolution"] = resolution
        ref = FDSolver(problem, **opts).solve()
    ref.case = case
    return ref


def reference_of(case, reference_solution, *, resolution: int | None = None):
    """The reference a run of ``case`` is compared with: ``reference_solution`` itself, or for
    ``"auto"`` :func:`reference` (``None`` when the problem has none)."""
    if not (isinstance(reference_solution, str) and reference_solution == "auto"):
        return reference_solution
    try:
        return reference(case, resolution=resolution)
    except NotImplementedError as err:
        log.info("no reference for %s: %s", case.problem.name, err)
        return None


def solve(target, *, solver: str = "pinn", out: str | os.PathLike | None = None,
          resolution: int | None = None, reference_solution="auto", validate_metrics=None, callbacks=(), **options):
    r"""Solve ``target`` (a :class:`~pinr.Problem`, or a catalogue case from
    ``pr.problems.get``) and return a solution.

    ``solver="pinn"`` (default) trains a backbone; ``options`` are the flat training options
    (``backbone``, ``backbone_options``, ``steps``, ``lr``, ``device``, ``seed``, ``dtype``,
    ``batch``, ``engine``, ...; :func:`pinr.training.config.option_names` lists them), laid over
    the case's defaults. ``solver="fd"`` computes the finite-difference reference at
    ``resolution``. With ``out`` a run directory is written (:mod:`pinr.run`): ``config.json``,
    ``metrics.json``, ``checkpoint.pt``, ``solution.pt``, ``fields.npz`` and PNG plots.
    ``reference_solution`` ("auto": the case's reference, exact or FD when available; ``None``
    for none; or a solution) is used for periodic validation and the final metrics. A
    :class:`~pinr.Collection` trains one conditioned network for all its instances
    (:class:`~pinr.solvers.conditioned.ConditionedSolver`); its run directory holds
    ``config.json``, ``checkpoint.pt`` (network and codes), ``solution.pt``
    (:func:`~pinr.solvers.conditioned.load_conditioned`), ``metrics.json`` (``instances``: each
    instance's metrics; ``mean_*``: the mean of each numeric metric over the instances),
    ``instances.png``, ``fields.npz`` (``prediction`` ``(K, *grid, n_fields)``, ``coords_*``,
    ``instances``), ``history.csv`` and ``loss.png``.

    ``resume=RUN`` continues the run in ``RUN`` with the options its record states (one given
    again must agree, ``steps`` aside).

    Under ``torchrun`` (``WORLD_SIZE`` > 1) the PINN trains data parallel, ``batch`` points per
    term on each rank (:mod:`pinr.training.strategy`); rank 0 alone writes the run directory and
    shows progress, and every rank returns the solution.

    The run holds its directory (``out``, or the ``resume`` one) until it ends, through
    ``out/.lock`` (:mod:`pinr.run`): a second run on it fails at once with
    :class:`~pinr.errors.RunDirectoryBusy` naming the holder.
    """
    # one process per run directory until the run ends, however it ends; under torchrun rank 0 alone writes it
    with held(out if out is not None else options.get("resume")):
        return _solve(target, solver=solver, out=out, resolution=resolution, reference_solution=reference_solution,
                      validate_metrics=validate_metrics, callbacks=callbacks, **options)


def _solve(target, *, solver, out, resolution, reference_solution, validate_metrics, callbacks, **options):
    """:func:`solve` in a run directory this process holds (or without one)."""
    from pinr.solvers import FDSolver, MarchingSolver, PINNSolver

    from .collection import Collection
    from .report import write_run
    from .training.config import TrainConfig
    from .training.strategy import is_main_process

    if isinstance(target, Collection):
        if solver != "pinn" or resolution is not None or validate_metrics is not None or \
                not (isinstance(reference_solution, str) and reference_solution == "auto"):
            raise ValueError("a Collection is solved by one conditioned network (solver='pinn'); resolution=, "
                             "reference_solution= and validate_metrics= do not apply (use its metrics=)")
        return _solve_collection(target, out=out, callbacks=callbacks, **options)

    case = as_case(target)
    problem = case.problem
    if solver not in ("pinn", "fd"):
        raise ValueError(f"unknown solver {solver!r}; choose 'pinn' or 'fd'")
    directory = RunDirectory(out, resume=options.get("resume"))
    options = directory.case_options(case, options)
    directory.check_new()
    started = time.perf_counter()
    if solver == "fd":
        if options:
            raise TypeError(f"solver='fd' takes only resolution=, got {sorted(options)}")
        sol = FDSolver(problem, **{**case.fd, **({"resolution": resolution} if resolution is not None else {})}).solve()
        sol.case = case
        directory.finish(lambda path: write_run(path, case, sol, None, solver=solver,
                                                seconds=time.perf_counter() - started), main=is_main_process())
        return sol
    ref = reference_of(case, reference_solution, resolution=resolution)
    if directory.path is not None:
        options["out"] = directory.path
    if (options.get("windows") or case.training.schedule.windows or 1) > 1:  # time marching: a network per window
        pinn = MarchingSolver(case, reference=ref, validate_metrics=validate_metrics, callbacks=callbacks, **options)
    else:
        pinn = PINNSolver(case, TrainConfig.from_options(**options), reference=ref, validate_metrics=validate_metrics,
                          callbacks=callbacks)
    sol = pinn.run(state=directory.start(pinn, subject(case)))
    directory.finish(lambda path: write_run(path, case, sol, ref, solver=solver,
                                            seconds=time.perf_counter() - started, trainer=pinn),
                     main=pinn.strategy.is_main, strategy=pinn.strategy)
    return sol


def _solve_collection(collection, *, out, callbacks, **options):
    """A :class:`~pinr.Collection` solved by one conditioned network (:func:`solve` lists its files)."""
    from pinr.solvers.conditioned import ConditionedSolver

    from .report import write_collection_run

    started = time.perf_counter()
    directory = RunDirectory(out, resume=options.get("resume"))
    options = directory.collection_options(collection, options)
    directory.check_new()
    if directory.path is not None:
        options["out"] = directory.path
    solver = ConditionedSolver.from_options(collection, callbacks=callbacks, **options)
    solved = {"problem": {"name": collection.name, **dict(collection.source)}, "instances": list(collection.names),
              "statement": str(collection.problem), "solver": "conditioned"}
    sol = solver.run(state=directory.start(solver, solved, extra={"codes": dict(solver.codes.__dict__)}))
    directory.finish(lambda path: write_collection_run(path, collection, solver, sol,
                                                       instance_metrics(collection, sol),
                                                       seconds=time.perf_counter() - started),
                     main=solver.strategy.is_main, strategy=solver.strategy)
    return sol


def instance_metrics(collection, solution) -> dict[str, dict]:
    """Instance name → its metrics: ``collection.metrics(case, solution_k)``, else
    :func:`pinr.compare` against the instance's reference (none when it has no reference)."""
    import numpy as np

    out = {}
    for k, (name, case) in enumerate(zip(collection.names, collection.cases)):
        sol = solution[k]
        if collection.metrics is not None:
            m = collection.metrics(case, sol)
        else:
            try:
                m = compare(sol, reference(case), problem=case)
            except NotImplementedError as err:
                log.info("no reference for instance %s: %s", name, err)
                m = {}
        out[name] = {key: (float(v) if isinstance(v, (int, float, np.floating)) else v) for key, v in dict(m).items()}
    return out
