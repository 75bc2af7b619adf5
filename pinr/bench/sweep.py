r"""Benchmark of many models in one step (``pinr bench sweep``): ``models`` SIRENs of one
architecture trained on the bench's 2-D Poisson case (:math:`\Delta u = f`, ``points`` per step,
the jet engine), once together — one vmapped forward/backward over their stacked parameters and
the per-model Adam of :mod:`pinr.training.ensemble` — and once one after the other with the
ordinary step (:func:`pinr.training.loop.train_step`), side by side in one run. Each model draws
its own batch (a seed sweep), in both modes. Reported: the median wall time of one step of all
models together, per model, and the ratio sequential / vmapped.

Floor: the bench wing (above the api, below the cli).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

__all__ = ["SweepBench", "run_sweep_bench", "format_sweep_bench"]


@dataclass(frozen=True)
class SweepBench:
    """Median ms for one step of all ``models`` together: ``vmapped`` and ``sequential``."""

    models: int
    width: int
    points: int
    device: str
    threads: int
    vmapped_ms: float
    sequential_ms: float

    @property
    def speedup(self) -> float:
        return self.sequential_ms / self.vmapped_ms


def _solvers(models: int, *, width: int, depth: int, points: int, steps: int, device, dtype):
    from pinr.solvers import PINNSolver

    from .steps import case_problem

    problem = case_problem("laplacian")
    return [PINNSolver.from_options(problem, backbone="siren", backbone_options={"width": width, "depth": depth},
                                    steps=steps, batch=points, seed=m, device=device, dtype=dtype, engine="jet",
                                    optimizer="adam", lbfgs_steps=0, balance="none", progress=False)
            for m in range(models)]  # Adam: the step the vmapped engine stacks


def run_sweep_bench(*, models: int = 16, width: int = 64, depth: int = 3, points: int = 4096, steps: int = 5,
                    warmup: int = 2, device=None, dtype: str = "float32") -> SweepBench:
    """Time ``steps`` steps (after ``warmup``) of ``models`` models, vmapped and sequentially."""
    from pinr.solvers.pinn import resolve_device
    from pinr.training.ensemble import train_vmapped
    from pinr.training.loop import train_step

    if models < 2 or steps < 1 or warmup < 0:
        raise ValueError(f"bench sweep: models >= 2, steps >= 1 and warmup >= 0, got {models}, {steps}, {warmup}")
    dev = resolve_device(device)
    total = steps + warmup
    solvers = _solvers(models, width=width, depth=depth, points=points, steps=total, device=dev, dtype=dtype)
    states = [s.build() for s in solvers]
    together: list[float] = []
    train_vmapped(solvers, states, shared_batches=False, step_seconds=together)
    solvers = _solvers(models, width=width, depth=depth, points=points, steps=total, device=dev, dtype=dtype)
    per_model = []
    for solver in solvers:
        state = solver.build()
        fn = solver.losses_fn(state.model)
        times = []
        for _ in range(total):
            t0 = time.perf_counter()
            out = train_step(state, solver.terms, fn)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            float(out.losses.sum())
            times.append(time.perf_counter() - t0)
        per_model.append(statistics.median(times[warmup:]))
    return SweepBench(models, width, points, str(dev), torch.get_num_threads(),
                      1e3 * statistics.median(together[warmup:]), 1e3 * sum(per_model))


def format_sweep_bench(b: SweepBench) -> str:
    """Markdown table of one :class:`SweepBench`."""
    return "\n".join([
        f"{b.models} SIRENs (width {b.width}), {b.points} points each, 2-D Poisson, jet engine, {b.device} "
        f"({b.threads} threads)",
        "| mode | ms/step (all models) | ms/step per model | speed-up |",
        "|---|---:|---:|---:|",
        f"| sequential | {b.sequential_ms:.1f} | {b.sequential_ms / b.models:.2f} | 1.00× |",
        f"| vmapped | {b.vmapped_ms:.1f} | {b.vmapped_ms / b.models:.2f} | {b.speedup:.2f}× |",
    ])
