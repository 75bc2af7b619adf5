"""Adaptive sampling rules against fresh uniform points on the PINN suite's cases.

``python bench/adaptive_sampling.py burgers-1d,allen-cahn-1d,poisson-2d uniform,rad,rar-d,r3``
solves each case (``pinr.suite``) at pinr's defaults with ``sampling=`` each rule, seed 0, and
prints one JSON line per run: rel. L2 on the case's grid, wall seconds, steps.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

import pinr as pr
from pinr import suite as S
from pinr.metrics import rel_l2


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    for name in sys.argv[1].split(","):
        st = S.CASES[name].build()
        for rule in sys.argv[2].split(","):
            started = time.perf_counter()
            sol = pr.solve(st.problem, progress=False, seed=0, device="cpu", sampling=rule)
            seconds = time.perf_counter() - started
            err = rel_l2(np.asarray(sol(st.grid))[:, 0], st.reference(st.grid))
            print(json.dumps({"case": name, "sampling": rule, "rel_l2": err, "seconds": round(seconds, 1),
                              "steps": int(sol.metadata.get("steps", 0))}), flush=True)


if __name__ == "__main__":
    main()
