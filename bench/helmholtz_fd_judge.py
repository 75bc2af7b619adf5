"""A Helmholtz solution judged by the FD lowering of its statement, which solves for the whole field
with no known part: ``python bench/helmholtz_fd_judge.py RUN_DIR/solution.pt [--set key=value ...]``
prints, per FD resolution (256², 512², 1024²), the case's metric of the solution against FD, of the
analytic field against FD (the FD error itself) and of the solution against the analytic field.

With the source's field subtracted (issue 26) the analytic reference evaluates the same
:class:`~pinr.symbolic.known.HelmholtzSource` the answer is built on; the FD reference does not.
"""

from __future__ import annotations

import argparse
import time

import pinr as pr
from pinr.cli import _parse_pairs
from pinr.problems.helmholtz import HelmholtzAnalytic, helmholtz_metrics
from pinr.solvers import FDSolver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("solution")
    parser.add_argument("--set", nargs="*", default=[], help="the case's parameters, key=value")
    parser.add_argument("--resolutions", nargs="*", type=int, default=[256, 512, 1024])
    args = parser.parse_args()
    params = _parse_pairs(args.set, "--set")  # as `pinr solve --set` reads them
    case = pr.problems.get("helmholtz", **params)
    sol = pr.load(args.solution)
    exact = case.reference(case.problem, 256)
    exact = exact if isinstance(exact, HelmholtzAnalytic) else None  # uniform medium only
    for n in args.resolutions:
        started = time.perf_counter()
        fd = FDSolver(case.problem, resolution=n).solve()
        row = {"cells": n, "solution_vs_fd": helmholtz_metrics(sol, fd)["rel_l2"]}
        if exact is not None:
            row["analytic_vs_fd"] = helmholtz_metrics(exact, fd)["rel_l2"]
            row["solution_vs_analytic"] = helmholtz_metrics(sol, exact)["rel_l2"]
        row["seconds"] = round(time.perf_counter() - started, 1)
        print(row, flush=True)


if __name__ == "__main__":
    main()
