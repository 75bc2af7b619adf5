"""One rank of the data-parallel tests (``test_distributed.py`` starts two with ``torchrun``).

``python -m torch.distributed.run --standalone --nproc_per_node=2 distributed_worker.py WORK``:
a fresh 2-process solve into ``WORK/dp``, then the 2-process continuation of the 1-process run
``WORK/single``; each rank saves its final weights to ``WORK/{fresh,resumed}-RANK.pt``. Then,
without a run directory, an inverse problem on SAPE (trainable parameter, observations, per-point
loss statistics) with and without grad-norm balancing: ``WORK/{adaptive,balanced}-RANK.pt``. Last,
rank 1 alone is asked to stop (Ctrl-C) after step 2 of a run into ``WORK/stopped``: the step each
rank stopped at goes to ``WORK/stopped-RANK.pt``. And the gradient average on its own: a parameter
with a gradient on rank 0 only, one with none anywhere: ``WORK/average-RANK.pt``.
"""

import sys
from pathlib import Path

import numpy as np
import torch

import pinr as pr
from pinr import Eq, lap, pi, sin
from pinr.errors import Interrupted
from pinr.solvers import PINNSolver
from pinr.training.loop import AbstractCallback, request_stop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, as pytest has it
from small_problems import poisson_1d  # noqa: E402

STEPS = 4  #: steps of the fresh runs; the continuations go on to 2 * STEPS
OPTIONS = dict(backbone="mlp", backbone_options=dict(width=8, depth=1, activation="tanh"), lr=1e-2, batch=16,
               dtype="float64", progress=False, log_every=1, seed=3, lbfgs_steps=5)


NATURAL = dict(optimizer="natural", backbone="siren",
               backbone_options=dict(width=6, depth=1, omega0=3.0, omega_hidden=1.0), batch=12, dtype="float64",
               progress=False, log_every=1, seed=5, steps=STEPS)


ADAPTIVE = dict(backbone="sape", backbone_options=dict(m=8, sigma=2.0, width=8, depth=1, block=2, activation="tanh"),
                hard=False, steps=2, lr=1e-3, batch=16, dtype="float64", progress=False, log_every=1, seed=1,
                lbfgs_steps=0)


def inverse_1d():
    """u'' = -c π² sin(πx), u = 0 at the ends, u measured at 40 points; c (trainable) starts at 0.5."""
    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    c = pr.Parameter("c", 0.5, trainable=True)
    points = np.linspace(0.05, 0.95, 40)[:, None]
    return pr.Problem(d, [Eq(lap(u), -c * pi**2 * sin(pi * x))], [pr.Boundary(Eq(u, 0))],
                      observations=[pr.Observation(u, points=points, values=np.sin(np.pi * points[:, 0]))],
                      name="inverse-1d")


def adaptive(**options) -> dict:
    """The final state of a short SAPE run of :func:`inverse_1d`."""
    s = PINNSolver.from_options(inverse_1d(), **{**ADAPTIVE, **options})
    s.run()
    return {"network": s.network.state_dict(), "parameters": s.state.model.parameters.state_dict(),
            "weights": s.state.weights, "loss": torch.tensor(s.history["loss"], dtype=torch.float64)}


class StopOnRankOne(AbstractCallback):
    """What Ctrl-C does, on rank 1 only, at the end of step 2."""

    def on_step_end(self, loop, out):
        if torch.distributed.get_rank() == 1 and loop.state.step == 2:
            request_stop()


def average(rank: int) -> dict:
    """``DataParallel.average`` of (p: grad (2, 4) on rank 0, none on rank 1; q: no grad anywhere;
    losses (rank + 1, 10))."""
    from pinr.training.strategy import DataParallel

    p, q = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))
    if rank == 0:
        p.grad = torch.tensor([2.0, 4.0])
    losses = DataParallel(torch.device("cpu")).average([p, q], torch.tensor([rank + 1.0, 10.0]))
    return {"p": p.grad, "q_none": torch.tensor(q.grad is None), "losses": losses}


def collection():
    """Two instances of :func:`poisson_1d` with sources of amplitude 1 and 2, one conditioned MLP."""
    from pinr.collection import CodeConfig, Collection

    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    cases = [pr.Problem(d, [Eq(lap(u), -a * pi**2 * sin(pi * x))], [pr.Boundary(Eq(u, 0))], exact=a * sin(pi * x),
                        name="poisson-1d") for a in (1, 2)]
    return Collection(cases, names=["a=1", "a=2"], codes=CodeConfig(features=3, std=0.1), name="poissons")


def main(work: Path) -> None:
    torch.set_num_threads(1)
    p = poisson_1d()
    fresh = pr.solve(p, steps=STEPS, out=work / "dp", **OPTIONS)
    rank = torch.distributed.get_rank()
    torch.save(fresh.network.state_dict(), work / f"fresh-{rank}.pt")
    resumed = pr.solve(p, steps=2 * STEPS, resume=work / "single", **OPTIONS)
    torch.save(resumed.network.state_dict(), work / f"resumed-{rank}.pt")
    torch.save(average(rank), work / f"average-{rank}.pt")
    torch.save(adaptive(), work / f"adaptive-{rank}.pt")
    torch.save(adaptive(balance="gradnorm"), work / f"balanced-{rank}.pt")
    conditioned = pr.solve(collection(), steps=STEPS, out=work / "collection",
                           **{k: v for k, v in OPTIONS.items() if k != "lbfgs_steps"}, lbfgs_steps=0)
    torch.save(conditioned.network.state_dict(), work / f"collection-{rank}.pt")
    natural = PINNSolver.from_options(p, **NATURAL)
    natural.run()
    torch.save({"network": natural.network.state_dict(),
                "loss": torch.tensor(natural.history["loss"], dtype=torch.float64),
                "damping": torch.tensor(natural.history["damping"], dtype=torch.float64)}, work / f"natural-{rank}.pt")
    try:
        PINNSolver.from_options(poisson_1d(), **{**OPTIONS, "steps": 10}, out=work / "stopped",
                                callbacks=[StopOnRankOne()]).run()
    except Interrupted as stop:
        torch.save(torch.tensor(stop.step), work / f"stopped-{rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
