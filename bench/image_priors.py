"""Image priors of a collection: inpainting a held-out image from 10 % of its pixels.

``python bench/image_priors.py film hyper --seeds 5``: for each seed, 16 soft disks at 24² train a
conditioned SIREN (``conditioning`` each of the names given; 250 steps), then the code of a 17th
disk is fitted from a random 10 % of its pixels with the network frozen (200 steps), and the PSNR
of the reconstruction over the whole disk is printed, one JSON line per run. The setup is the
one of ``tests/training/test_conditioned.py``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from pinr import Observation, Problem
from pinr.collection import CodeConfig, Collection
from pinr.metrics import psnr
from pinr.problems.regression import image_grid
from pinr.solvers.conditioned import ConditionedSolver
from pinr.training import ModelConfig, OptimConfig, RunConfig, SamplingConfig, TrainConfig

SIREN = {"width": 32, "depth": 2, "omega0": 10.0, "omega_hidden": 10.0}


def inpaint(conditioning: str, seed: int) -> float:
    grid = image_grid((24, 24))
    x = grid.points(dtype=torch.float64).numpy()
    u = grid.field("u")
    rng = np.random.default_rng(seed)

    def disk():
        cx, cy, s = rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), rng.uniform(0.3, 0.6)
        return np.tanh((s - np.hypot(x[:, 0] - cx, x[:, 1] - cy)) / 0.08)

    images = [disk() for _ in range(17)]
    cases = [Problem(grid, observations=[Observation(u, points=x, values=v, name="pixels")], name="disk")
             for v in images[:16]]
    col = Collection(cases, codes=CodeConfig(conditioning=conditioning, features=8, mapping_width=32, lr=1e-2),
                     training=TrainConfig(model=ModelConfig(backbone="siren", options=SIREN),
                                          optim=OptimConfig(steps=250, lr=2e-3), sampling=SamplingConfig(batch=96)))
    prior = ConditionedSolver(col, TrainConfig(run=RunConfig(progress=False))).run()
    seen = rng.choice(len(x), len(x) // 10, replace=False)
    few = Problem(grid, observations=[Observation(u, points=x[seen], values=images[16][seen])], name="inpaint")
    _, reconstruction = prior.fit_code(few, steps=200, lr=1e-2)
    return float(psnr(reconstruction(x)[:, 0], images[16], data_range=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("conditionings", nargs="+")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    for conditioning in args.conditionings:
        for seed in range(args.seeds):
            started = time.perf_counter()
            db = inpaint(conditioning, seed)
            print(json.dumps({"conditioning": conditioning, "seed": seed, "psnr": round(db, 2),
                              "seconds": round(time.perf_counter() - started, 1)}), flush=True)


if __name__ == "__main__":
    main()
