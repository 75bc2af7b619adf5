"""Time marching against one network at equal steps (issue 26, item 3; bench/RESULTS.md, "Time marching").

``python bench/marching.py ROW [ROW ...] [--windows 1 4] [--quick]``, rows:

- ``wave-square``: the catalogue's wave on the square inclusion (``pinr solve wave --set slowness=square``,
  the case's training, FD reference at 1024²);
- ``long-wave-4`` / ``long-wave-8``: a stated 1-D wave, ``u_tt = u_xx`` on ``(0, 1) × (0, T)`` from
  ``sin(2πx)`` at rest with ``u = 0`` at the ends (``T`` = 4, 8: two and four periods; exact
  ``cos(2πt) sin(2πx)``), at ``pr.solve``'s defaults (:func:`pinr.training.auto.choose`).

Each row is solved once per ``--windows`` value with the same total steps (the row's default), one
run at a time; a JSON line per run (relative L2, verdict, seconds) goes to stdout. ``--quick`` runs
every row for a few steps (a smoke test, seconds).
"""

from __future__ import annotations

import argparse
import json
import time

import pinr as pr
from pinr import Eq, cos, dt, lap, pi, sin


def long_wave(t_end: float):
    dom = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, t_end)
    x, t = dom.coords
    u = dom.field("u")
    return pr.Problem(dom, [Eq(dt(u, 2), lap(u))],
                      [pr.Initial(Eq(u, sin(2 * pi * x))), pr.Initial(Eq(dt(u), 0)), pr.Boundary(Eq(u, 0))],
                      exact={"u": cos(2 * pi * t) * sin(2 * pi * x)}, name=f"long-wave-{t_end:g}")


def row(name: str, quick: bool):
    """``(target, reference)`` of a row."""
    if name == "wave-square":
        case = pr.problems.get("wave", slowness="square", fd_resolution=128 if quick else 1024)
        return case, pr.reference(case)
    problem = long_wave(float(name.rsplit("-", 1)[1]))
    return problem, pr.solvers.ExactSolution(problem)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="+", choices=["wave-square", "long-wave-4", "long-wave-8"])
    parser.add_argument("--windows", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for name in args.rows:
        target, reference = row(name, args.quick)
        for windows in args.windows:
            options = {"windows": windows, "progress": False, **({"steps": 2 * max(windows, 1)} if args.quick else {})}
            started = time.perf_counter()
            solution = pr.solve(target, reference_solution=reference, **options)
            seconds = time.perf_counter() - started
            metrics = pr.compare(solution, reference)
            print(json.dumps({"row": name, "windows": windows, "rel_l2": metrics.get("rel_l2"),
                              "trusted": bool(solution.verdict is not None and solution.verdict.ok),
                              "seconds": round(seconds, 1)}), flush=True)


if __name__ == "__main__":
    main()
