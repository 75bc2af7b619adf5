"""The flagship Helmholtz (SIREN's PML setup) and wave problems for a fixed budget of wall time.

``python bench/flagship_minutes.py NAME VARIANT OUT [--seconds 600]`` with NAME ``helmholtz`` or
``wave`` and VARIANT ``catalogue`` (the case's tuned options) or ``auto`` (the same statement with
its training cleared, so that :func:`pinr.training.auto.choose` picks the options). Forty steps of
the configuration are timed, the number of steps is fitted to the budget (an L-BFGS step counted
as 1.5 Adam steps), and ``pr.solve(case, steps=N, out=OUT)`` runs; one JSON line with the case's
own metrics (``rel_l2``) and the seconds goes to stdout. Set ``OMP_NUM_THREADS`` for the
catalogue variant (the auto one chooses one thread on a CPU).
"""

from __future__ import annotations

import argparse
import json
import time

import pinr as pr
from pinr.solvers import PINNSolver
from pinr.training import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=["helmholtz", "wave"])
    parser.add_argument("variant", choices=["catalogue", "auto"])
    parser.add_argument("out")
    parser.add_argument("--seconds", type=float, default=600.0)
    args = parser.parse_args()
    case = pr.problems.get(args.name)
    if args.variant == "auto":
        case = case.replace(training=TrainConfig())
    probe = pr.solve(case, steps=40, progress=False, lbfgs_steps=0, validate_every=10**6)
    per_step = probe.metadata["seconds"] / 40
    lbfgs = PINNSolver(case, TrainConfig.from_options(progress=False)).config.optim.lbfgs_steps
    steps = max(100, int(args.seconds / per_step - 1.5 * lbfgs))
    started = time.perf_counter()
    pr.solve(case, steps=steps, out=args.out, progress=False)
    wall = time.perf_counter() - started
    with open(f"{args.out}/metrics.json") as f:
        metrics = json.load(f)
    print(json.dumps({"problem": args.name, "variant": args.variant, "probe_ms_per_step": round(1e3 * per_step, 1),
                      "steps": steps, "lbfgs": lbfgs, "wall_s": round(wall, 1), "rel_l2": metrics.get("rel_l2"),
                      "metrics": {k: v for k, v in metrics.items() if isinstance(v, float)}}), flush=True)


if __name__ == "__main__":
    main()
