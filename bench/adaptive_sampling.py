"""Adaptive sampling rules against fresh uniform points on the PINN suite's cases.

``python bench/adaptive_sampling.py burgers-1d,allen-cahn-1d,poisson-2d uniform,rad,rar-d,r3``
solves each case (``pinr.bench.suite_cases``) at pinr's defaults with ``sampling=`` each rule, seed 0, and
prints one JSON line per run: rel. L2 on the case's grid, wall seconds, steps.
"""

from __future__ import annotations

import json
import sys

from pinr.bench import suite as S
from pinr.bench.suite_cases import CASES


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    for name in sys.argv[1].split(","):
        case = CASES[name]
        st = case.build()
        for rule in sys.argv[2].split(","):
            rec = S._run_pinr(case, st, quick=False, sampling=rule)  # the suite's own run and score
            print(json.dumps({"case": name, "sampling": rule, "rel_l2": rec.rel_l2, "seconds": round(rec.seconds, 1),
                              "steps": rec.steps}), flush=True)


if __name__ == "__main__":
    main()
