"""The façade: ``solve``, ``reference`` and ``compare`` (from :mod:`pinr.comparison`)."""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import time
from pathlib import Path

import torch

from .case import as_case
from .comparison import compare
from .rundir import LOCK_NAME, hold

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


def solve(target, *, solver: str = "pinn", out: str | os.PathLike | None = None,
          resolution: int | None = None, reference_solution="auto", validate_metrics=None, callbacks=(), **options):
    r"""Solve ``target`` (a :class:`~pinr.Problem`, or a catalogue case from
    ``pr.problems.get``) and return a solution.

    ``solver="pinn"`` (default) trains a backbone; ``options`` are the flat training options
    (``backbone``, ``backbone_options``, ``steps``, ``lr``, ``device``, ``seed``, ``dtype``,
    ``batch``, ``engine``, ...; :func:`pinr.training.config.option_names` lists them), laid over
    the case's defaults. ``solver="fd"`` computes the finite-difference reference at
    ``resolution``. With ``out`` a run directory is written: ``config.json``, ``metrics.json``,
    ``checkpoint.pt``, ``solution.pt``, ``fields.npz`` and PNG plots. ``reference_solution``
    ("auto": the case's reference, exact or FD when available; ``None`` for none; or a
    solution) is used for periodic validation and the final metrics. A
    :class:`~pinr.Collection` trains one conditioned network for all its instances
    (:func:`pinr.solvers.conditioned.solve_collection`).

    Under ``torchrun`` (``WORLD_SIZE`` > 1) the PINN trains data parallel, ``batch`` points per
    term on each rank (:mod:`pinr.training.strategy`); rank 0 alone writes the run directory and
    shows progress, and every rank returns the solution.

    The run holds its directory (``out``, or the ``resume`` one) until it ends, through
    ``out/.lock`` (:mod:`pinr.rundir`): a second run on it fails at once with
    :class:`~pinr.errors.RunDirectoryBusy` naming the holder.
    """
    from .training.strategy import is_main_process

    directory = out if out is not None else options.get("resume")
    # one process per run directory until the run ends, however it ends; under torchrun rank 0 alone writes it
    held = hold(directory) if directory is not None and is_main_process() else contextlib.nullcontext()
    with held:
        return _solve(target, solver=solver, out=out, resolution=resolution, reference_solution=reference_solution,
                      validate_metrics=validate_metrics, callbacks=callbacks, **options)


def _solve(target, *, solver, out, resolution, reference_solution, validate_metrics, callbacks, **options):
    """:func:`solve` in a run directory this process holds (or without one)."""
    from pinr.solvers import FDSolver, PINNSolver

    from .collection import Collection

    if isinstance(target, Collection):
        if solver != "pinn" or resolution is not None or validate_metrics is not None or \
                not (isinstance(reference_solution, str) and reference_solution == "auto"):
            raise ValueError("a Collection is solved by one conditioned network (solver='pinn'); resolution=, "
                             "reference_solution= and validate_metrics= do not apply (use its metrics=)")
        from pinr.solvers.conditioned import solve_collection

        return solve_collection(target, out=out, callbacks=callbacks, **options)

    from .memory import memory_guard
    from .report import write_run
    from .training.strategy import is_main_process

    case = as_case(target)
    problem = case.problem
    if solver not in ("pinn", "fd"):
        raise ValueError(f"unknown solver {solver!r}; choose 'pinn' or 'fd'")
    out = Path(out) if out is not None else None
    chosen_before = None
    if options.get("resume") is not None:
        out = out if out is not None else Path(options["resume"])
        chosen_before = read_record(Path(options["resume"])).get("chosen_by")
        options = resumed_options(case, Path(options["resume"]), options)
    if out is not None and out.exists() and not out.is_dir():
        raise FileExistsError(f"run directory {out} is a file; choose another --out (out=)")
    # a directory holding only the config.json of a start that failed (and our lock) is reused
    if out is not None and out.exists() and {p.name for p in out.iterdir()} - {"config.json", LOCK_NAME} \
            and options.get("resume") is None:
        raise FileExistsError(f"run directory {out} exists and is not empty; choose another --out (out=) or "
                              "continue that run with --resume (resume=)")
    started = time.perf_counter()
    pinn = None
    if solver == "fd":
        if options:
            raise TypeError(f"solver='fd' takes only resolution=, got {sorted(options)}")
        sol = FDSolver(problem, **{**case.fd, **({"resolution": resolution} if resolution is not None else {})}).solve()
        sol.case = case
        ref = None
    else:
        ref = reference_solution
        if isinstance(ref, str) and ref == "auto":
            try:
                ref = reference(case, resolution=resolution)
            except NotImplementedError as err:
                log.info("no reference for %s: %s", problem.name, err)
                ref = None
        if out is not None:
            options["out"] = out
        pinn = PINNSolver.from_options(case, reference=ref, validate_metrics=validate_metrics, callbacks=callbacks,
                                       **options)
        # a resumed run loads (and checks) its checkpoint before its record is rewritten: a resume that fails
        # leaves config.json describing the run metrics.json and checkpoint.pt describe
        state = pinn.start()
        if out is not None and pinn.strategy.is_main:
            from .io import write_json
            config = _config(case, pinn)
            if chosen_before is not None:  # a resumed run keeps the record of where its options came from
                config["chosen_by"] = chosen_before
            write_json(out / "config.json", config)
        sol = pinn.run(state=state)
    if out is not None and (pinn.strategy.is_main if pinn is not None else is_main_process()):
        with memory_guard(f"the outputs of the run in {out}"):  # files are atomic: none is left half-written
            write_run(out, case, sol, ref, solver=solver, seconds=time.perf_counter() - started, trainer=pinn)
    if pinn is not None:
        pinn.strategy.barrier()  # the other ranks return once the run directory is complete
    return sol


#: options a resumed run may change: where and how it is shown, not what it computes
RUN_ONLY = frozenset({"out", "resume", "progress", "device", "log_every", "validate_every", "checkpoint_every",
                      "tensorboard", "memory_budget"})


def read_record(run: Path) -> dict:
    """The ``config.json`` of run directory ``run`` (``FileNotFoundError`` naming it if absent);
    ``ValueError`` naming the part when its shape is not a record's: an object whose ``problem``,
    if present, is an object with a ``name`` or ``file`` string and ``params`` an object."""
    from .io import read_json

    path = Path(run) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run}: no config.json there, so it is not a pinr run directory")
    try:
        record = read_json(path)
    except ValueError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the run's record is damaged") from None
    damaged = "the run's record is damaged: restore it or start a new run"
    if not isinstance(record, dict):
        raise ValueError(f"{path} holds a JSON {type(record).__name__}, not a run's record (an object such as "
                         f'{{"problem": {{"name": "image", "params": {{}}}}, ...}}); {damaged}')
    problem = record.get("problem", {})
    if not isinstance(problem, dict):
        raise ValueError(f'{path}: "problem" is {problem!r:.60}, not an object such as '
                         f'{{"name": "image", "params": {{}}}}; {damaged}')
    for key in ("name", "file"):
        if not isinstance(problem.get(key, ""), str):
            raise ValueError(f'{path}: "problem"."{key}" is {problem[key]!r:.60}, not a string; {damaged}')
    if not isinstance(problem.get("params") or {}, dict):
        raise ValueError(f'{path}: "problem"."params" is {problem["params"]!r:.60}, not an object of '
                         f"parameter -> value; {damaged}")
    if not isinstance(record.get("solver", ""), str):
        raise ValueError(f'{path}: "solver" is {record["solver"]!r:.60}, not a string such as "pinn"; {damaged}')
    return record


def recorded_options(record: dict) -> dict:
    """The training options a run's record states (what it computed, without ``RUN_ONLY``)."""
    from .training.config import option_names

    return {k: record[k] for k in option_names() if k in record and k not in RUN_ONLY}


def resumed_options(case, run: Path, options: dict) -> dict:
    """``options`` completed from the record of ``run``: the record's problem and options hold;
    an option given again must equal the recorded one (``ValueError`` naming it otherwise),
    except ``steps``, which re-plans the rest of the run (see :meth:`PINNSolver.load_checkpoint`)."""

    record = read_record(run)
    source = dict(case.source) or None
    if source is not None and "file" in source and record.get("problem") == {"name": case.problem.name, **source} \
            and record.get("statement") != str(case.problem):
        raise ValueError(f"resume: {source['file']} states another problem than the run in {run} solved (the file "
                         "changed since); restore it, or start a new run with another --out")
    if (record.get("problem", {}).get("params") is not None and source is not None
            and {"name": case.problem.name, **source} != record["problem"]) or \
            (source is None and record.get("statement") != str(case.problem)):
        raise ValueError(f"resume: {run} is a run of {record.get('problem')}, not of this problem; give that "
                         "problem (or none on the command line) or start a new run")
    return merge_recorded(recorded_options(record), options, run)


def merge_recorded(saved: dict, options: dict, run: Path) -> dict:
    """The options of a resumed run: ``saved`` (the run's record) with ``options`` given again
    on top; one that differs from the record (``steps`` and ``RUN_ONLY`` ones aside) raises
    ``ValueError`` naming it."""
    import json

    for k, v in options.items():
        if k in RUN_ONLY or v is None or k not in saved:
            continue
        if k != "steps" and json.loads(json.dumps(v, default=str)) != saved[k]:  # steps may change the plan
            flag = {"backbone_options": "backbone options"}.get(k, k)
            raise ValueError(f"resume: {flag}={v!r} conflicts with the run's record ({saved[k]!r} in "
                             f"{run}/config.json);"
                             " drop it to continue the run, or start a new run with another --out")
    return {**saved, **{k: v for k, v in options.items() if v is not None}}


def _config(case, pinn) -> dict:
    """Everything needed to rerun: versions, the problem and its source, every resolved option
    and where the ones you did not give came from."""
    import pinr

    flat = {k: (str(v) if isinstance(v, Path) else v) for k, v in pinn.config.flat().items()
            if isinstance(v, (int, float, str, bool, type(None), Path, dict, list, tuple))}
    return {
        "pinr": pinr.__version__, "torch": torch.__version__, "python": platform.python_version(),
        "problem": {"name": case.problem.name, **dict(case.source)}, "statement": str(case.problem),
        "solver": "pinn", **flat, "device": str(pinn.device), "world_size": pinn.strategy.world_size,
        "chosen_by": dict(pinn.resolved.sources),
    }
