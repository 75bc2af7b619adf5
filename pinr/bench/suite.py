r"""The PINN benchmark suite: its cases (:mod:`pinr.bench.suite_cases`) run by pinr at its defaults
and, optionally, by peers (:mod:`pinr.bench.peers`: DeepXDE with the settings of its own examples),
side by side, each scored on the case's grid against its exact solution or reference.

Floor: the bench wing (above the api, below the cli). ``pinr bench suite pinn`` is the command.

pinr is called as ``pr.solve(problem, progress=False, seed=0, device="cpu")`` and nothing else:
its defaults are what is measured (``quick`` adds only ``steps`` and ``lbfgs_steps``), except in a
case that reproduces a paper's setup, whose :attr:`~pinr.bench.suite_cases.Statement.options` say
so. ``optimizers`` runs pinr again per optimiser (``optimizer=NAME`` over its defaults), side by side.
"""

from __future__ import annotations

import functools
import logging
import os
import platform
import time
from collections.abc import Callable, Sequence

import numpy as np

import pinr as pr
from pinr.metrics import rel_l2

from .peers import PEERS
from .suite_cases import CASES, QUICK_STEPS, Record, Statement, SuiteCase

log = logging.getLogger(__name__)

__all__ = ["run_suite", "format_markdown", "machine_line"]


def _run_pinr(case: SuiteCase, st: Statement, quick: bool, **options) -> Record:
    """pinr on ``case`` at its defaults (the case's own options, then ``options`` over them, for
    benchmarks of one option), scored on the case's grid."""
    options = {**st.options, **({"steps": QUICK_STEPS, "lbfgs_steps": 0} if quick else {}), **options}
    started = time.perf_counter()
    sol = pr.solve(st.problem, progress=False, seed=0, device="cpu", reference_solution=_reference(st), **options)
    seconds = time.perf_counter() - started
    steps = int(sol.metadata.get("steps", 0))
    train_seconds = float(sol.metadata.get("seconds", seconds))
    pred = np.asarray(sol(st.grid))[:, 0]
    rec = Record(case.name, "pinr", rel_l2=rel_l2(pred, st.reference(st.grid)), seconds=seconds,
                 ms_per_step=1000 * train_seconds / max(steps, 1), steps=steps,
                 note="the paper's setup" if st.options else "",
                 trusted=None if sol.verdict is None else sol.verdict.ok)
    if st.parameter is not None:
        value = float(sol.parameters[st.parameter[0]])
        rec.param_error = abs(value - st.parameter[1]) / abs(st.parameter[1])
        rec.note = f"{st.parameter[0]} = {value:.4g}"
    return rec


def _reference(st: Statement):
    """What pinr's run is validated and judged against: pinr's own reference of the statement, else
    the case's (the L-shape's, which no FD lowering covers)."""
    from pinr.solvers import DenseSolution, grid_of

    try:
        return pr.reference(st.problem)
    except NotImplementedError:
        problem = st.problem
        return DenseSolution(lambda p: np.asarray(st.reference(p), dtype=np.float64).reshape(len(p), -1),
                             grid_of(problem.domain), fields=problem.fields, coords=problem.domain.coords,
                             metadata={"solver": "the suite's reference"})


def run_suite(names: Sequence[str] | None = None, *, quick: bool = False, against: Sequence[str] = (),
              equal_time: bool = False, optimizers: Sequence[str] = (),
              echo: Callable[[str], None] = log.info) -> list[Record]:
    """Run cases ``names`` (default all) by pinr at its defaults, by pinr with each optimiser in
    ``optimizers`` (tool ``pinr (NAME)``) and by each peer in ``against``; ``echo`` gets one
    progress line per case and tool. With ``equal_time`` each peer gets the wall time of pinr at
    its defaults on the case and is stopped there (its example's plan, cut). Unknown names raise
    ``ValueError`` listing the valid ones."""
    names = list(names or CASES)
    unknown = CASES.unknown(names)
    if unknown:
        raise ValueError(f"unknown suite case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    bad = PEERS.unknown(against)
    if bad:
        raise ValueError(f"unknown peer(s) {', '.join(bad)}; choose from {', '.join(PEERS)}")
    from pinr.training.optimizers import optimizer_kind

    for o in optimizers:
        optimizer_kind(o)
    for p in dict.fromkeys(against):
        PEERS[p].ready()  # fail before the first case, not after it
    records = []
    for i, name in enumerate(names, 1):
        case = CASES[name]
        st = case.build()
        tools = [("pinr", _run_pinr)] + [(f"pinr ({o})", functools.partial(_run_pinr, optimizer=o)) for o in optimizers]
        tools += [(p, PEERS[p].run) for p in against]
        budget = None
        for tool, runner in tools:
            if tool.startswith("pinr") and st.problem is None:
                rec = Record(name, tool, note=st.note)
            elif tool.startswith("pinr"):
                rec = runner(case, st, quick)
                rec.tool = tool
                budget = rec.seconds if equal_time and tool == "pinr" else budget
            else:  # a peer's failure is a row of the table, not the end of the run
                try:
                    rec = runner(case, st, quick, budget)
                except Exception as err:  # noqa: BLE001
                    rec = Record(name, tool, note=f"failed: {type(err).__name__}: {str(err).splitlines()[0]}")
            records.append(rec)
            echo(f"[{i}/{len(names)}] {name} ({tool}): " + _summary(rec))
    return records


def _summary(r: Record) -> str:
    if r.rel_l2 is None:
        return r.note
    text = f"rel. L2 {r.rel_l2:.3g}, {r.seconds:.1f} s, {r.ms_per_step:.1f} ms/step, {r.steps} steps"
    if r.param_error is not None:
        text += f", {r.note} (rel. error {r.param_error:.3g})"
    if r.trusted is not None:
        text += ", trusted" if r.trusted else ", NOT trusted"
    return text


def machine_line() -> str:
    import torch

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (f"{platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), python {platform.python_version()}, "
            f"load average {load}")


def format_markdown(records: Sequence[Record], *, quick: bool, equal_time: bool = False) -> str:
    """A markdown section: the machine, then one row per case and tool."""
    def num(v, fmt):
        return "—" if v is None else format(v, fmt)

    lines = [f"### PINN suite{' (--quick: a few steps, not accuracy figures)' if quick else ''}", "",
             f"Machine: {machine_line()}; pinr at its defaults "
             f"(`pr.solve(problem, progress=False, seed=0, device=\"cpu\")`"
             f"{', steps=' + str(QUICK_STEPS) + ', lbfgs_steps=0' if quick else ''}), "
             f"DeepXDE (torch backend) with its examples' settings"
             f"{', stopped at pinr wall time on each case (equal time)' if equal_time else ''}.", "",
             "| case | tool | rel. L2 | param. rel. error | wall s | ms/step | steps | verdict | note |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in records:
        verdict = "—" if r.trusted is None else "trusted" if r.trusted else "**not trusted**"
        lines.append(f"| {r.case} | {r.tool} | {num(r.rel_l2, '.3g')} | {num(r.param_error, '.3g')} | "
                     f"{num(r.seconds, '.1f')} | {num(r.ms_per_step, '.1f')} | {num(r.steps, 'd')} | {verdict} | "
                     f"{r.note} |")
    return "\n".join(lines) + "\n"

