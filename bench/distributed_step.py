"""Step time of data-parallel training against one process, side by side in one run.

``python bench/distributed_step.py [--steps 200] [--batch 1024] [--ranks 2]`` times the 1-D Poisson
problem (a SIREN of width 64, depth 3, float32, CPU, one thread per process) three ways:

- one process, ``batch`` points per step;
- one process, ``ranks * batch`` points per step (the global batch of the data-parallel run);
- ``ranks`` processes under ``torchrun`` (gloo), ``batch`` points each (the same global batch),

and prints milliseconds per step (the median of 3 repeats, L-BFGS off) and the speed-up of the
data-parallel run over one process on the same global batch. On one machine the ranks share its
cores and memory bus: this measures the cost of the all-reduce, not a multi-GPU speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

import torch

import pinr as pr
from pinr import Eq, lap, pi, sin
from pinr.solvers import PINNSolver

NET = dict(width=64, depth=3, omega0=3.0, omega_hidden=3.0)


def poisson_1d():
    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    return pr.Problem(d, [Eq(lap(u), -pi**2 * sin(pi * x))], [pr.Boundary(Eq(u, 0))], name="poisson-1d")


def ms_per_step(steps: int, batch: int) -> float:
    """Training milliseconds per step (the run's own clock: sampling, step, all-reduce, callbacks)."""
    s = PINNSolver.from_options(poisson_1d(), backbone="siren", backbone_options=NET, steps=steps, batch=batch,
                                lr=1e-3, lbfgs_steps=0, progress=False, device="cpu", log_every=steps)
    s.run()
    return 1e3 * s.seconds / steps


def child(steps: int, batch: int) -> None:
    torch.set_num_threads(1)
    times = [ms_per_step(steps, batch) for _ in range(3)]
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({"ms": statistics.median(times)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a.steps, a.batch)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run(prefix, batch):
        out = subprocess.run([*prefix, __file__, "--child", "--steps", str(a.steps), "--batch", str(batch)],
                             env=env, capture_output=True, text=True, check=True, timeout=1800).stdout
        return json.loads(out.strip().splitlines()[-1])["ms"]

    one = run([sys.executable], a.batch)
    one_global = run([sys.executable], a.ranks * a.batch)
    dp = run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={a.ranks}"], a.batch)
    print(f"poisson-1d, siren 64x3, float32, CPU, {a.steps} steps, os.cpu_count()={os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"| run | points/step | ms/step |\n|---|---|---|\n| 1 process | {a.batch} | {one:.2f} |\n"
          f"| 1 process | {a.ranks * a.batch} | {one_global:.2f} |\n"
          f"| {a.ranks} processes (gloo) | {a.ranks} x {a.batch} | {dp:.2f} |")
    print(f"speed-up of {a.ranks} ranks over 1 process on the same global batch: {one_global / dp:.2f}x")


if __name__ == "__main__":
    main()
