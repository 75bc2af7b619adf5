r"""The term of a :class:`~pinr.render.Rendered` observation: rays of the training pictures,
rendered through the network by quadrature (:func:`pinr.render.pipeline.render_rays`) and
compared with their pixels,

.. math:: \mathcal L = \frac{w}{RC}\sum_{r, c}\big(\hat C_c(r) - C_c(r)\big)^2
          \ \big(+ \text{the same for the coarse pass of hierarchical sampling}\big).

The loop does not know it renders: the term draws a batch of rays (``sample``) and returns a
loss (``loss``), like any other. An occupancy grid, when the quadrature asks for one, lives in the
term and is refreshed from the density by the term's own callback (:class:`OccupancyRefresh`),
which also shows the rays and samples per second in the progress bar.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
import torch

from ..render.observation import Quadrature
from ..render.occupancy import OccupancyGrid
from ..render.pipeline import default_step, plane_set, radiance, render_rays
from .abstract import AbstractTerm
from .batch import Batch
from .loop import AbstractCallback

__all__ = ["RenderedTerm", "OccupancyRefresh"]

_SEED = 1 << 62


class RenderedTerm(AbstractTerm):
    """Rays of a compiled :class:`~pinr.render.Rendered` observation, ``batch`` of them per step
    (drawn uniformly from every pixel of every training picture); ``fields`` are the problem's
    field names (the network's outputs, in order)."""

    def __init__(self, compiled, *, fields, batch: int, dtype: torch.dtype, device: torch.device):
        obs = compiled.observation
        self.name, self.weight, self.expression = compiled.name, float(obs.weight), compiled.expression
        self.observation, self.quadrature = obs, obs.quadrature
        self.origins, self.directions, colours = obs.views.rays(dtype=dtype, device=device)
        self.targets = colours.T.contiguous()  # (C, rays)
        self.batch = min(int(batch), self.origins.shape[0])
        self.density = fields.index(obs.density.func.__name__)
        self.colour = [fields.index(c.func.__name__) for c in obs.colour]
        self.background = torch.as_tensor(obs.background, dtype=dtype, device=device)
        self.bounds = np.array(obs.views.bounds, dtype=np.float64)
        self.near, self.far = float(obs.views.near), float(obs.views.far)
        q = self.quadrature
        self.grid = OccupancyGrid(self.bounds, resolution=q.occupancy, step=default_step(self.bounds, q),
                                  device=device, dtype=dtype) if isinstance(q, Quadrature) and q.occupancy else None
        self.planes = plane_set(obs.views, q)  #: the planes of a multiplane image, or None
        self.evaluations = 0  #: field evaluations of the last step

    def field(self, network):
        """``(points, directions) -> (density, colour)`` of ``network``."""
        return partial(radiance, network, density=self.density, colour=self.colour)

    def sample(self, generator, *, window=1.0):
        n = self.origins.shape[0]
        idx = torch.randint(n, (self.batch,), generator=generator, device=generator.device).to(self.origins.device)
        seed = torch.randint(_SEED, (1,), generator=generator, device=generator.device)
        return Batch(self.origins[idx], data={"directions": self.directions[idx], "seed": seed},
                     targets=self.targets[:, idx])

    def render(self, network, origins, directions, generator=None):
        """The rendering of rays ``(R, 3)`` (:class:`~pinr.render.pipeline.RayRendering`)."""
        return render_rays(self.field(network), origins, directions, near=self.near, far=self.far,
                           bounds=self.bounds, quadrature=self.quadrature, background=self.background,
                           grid=self.grid, generator=generator, planes=self.planes)

    def loss(self, model, batch):
        g = torch.Generator(device=batch.points.device)
        g.manual_seed(int(batch.data["seed"].item()))
        r = self.render(model.network, batch.points, batch.data["directions"], generator=g)
        self.evaluations = r.evaluations
        err = r.final.colour.T - batch.targets  # (C, R)
        loss = err.square().mean()
        if r.coarse is not None:
            loss = loss + (r.coarse.colour.T - batch.targets).square().mean()
        return self.weight * loss, err.detach().square().sum(0)

    def callbacks(self, progress):
        return [OccupancyRefresh(self, progress)]

    @property
    def settles(self) -> int:
        """For how many steps a step costs more than later: an occupancy grid starts all occupied,
        is refreshed in full for :class:`OccupancyRefresh`'s first 256 steps and prunes empty space
        as the density forms (:class:`~pinr.training.callbacks.TimeEstimate` measures the rate after
        that before warning about a run's length); 0 without a grid."""
        return OccupancyRefresh.WARMUP if self.grid is not None else 0

    def state_dict(self) -> dict:
        return {} if self.grid is None else {"occupancy": self.grid.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if self.grid is not None and "occupancy" in state:
            self.grid.load_state_dict(state["occupancy"])

    def __repr__(self):
        return f"RenderedTerm({self.name!r}, {self.origins.shape[0]} rays, batch {self.batch})"


class OccupancyRefresh(AbstractCallback):
    """Refreshes ``term``'s occupancy grid (if any) from the network's density every
    ``quadrature.refresh`` steps — every cell for the first 256 steps, a quarter of them after —
    and shows rays/s, samples per ray and the occupied fraction in the progress bar."""

    WARMUP = 256  #: steps of full refreshes

    def __init__(self, term: RenderedTerm, progress=None, *, warmup: int = WARMUP):
        self.term, self.progress, self.warmup = term, progress, int(warmup)
        self._t, self._rays, self._samples = None, 0, 0

    def on_step_begin(self, loop):
        if self._t is None:
            self._t = time.perf_counter()

    def on_step_end(self, loop, out):
        t, s = self.term, loop.state
        self._rays += t.batch
        self._samples += t.evaluations
        grid = t.grid
        if grid is not None and s.step % t.quadrature.refresh == 0:
            net = s.model.network

            def density(points):
                return torch.nn.functional.softplus(net(points)[:, t.density])

            with torch.no_grad():
                grid.update(density, generator=s.generator, fraction=1.0 if s.step <= self.warmup else 0.25)
        if self.progress is not None and s.step % 10 == 0:
            dt = time.perf_counter() - self._t
            extra = {"rays/s": f"{self._rays / max(dt, 1e-9):.3g}",
                     "spr": f"{self._samples / max(self._rays, 1):.3g}"}
            if grid is not None:
                extra["occ"] = f"{grid.occupancy:.2f}"
            self.progress.extra.update(extra)
            self._t, self._rays, self._samples = time.perf_counter(), 0, 0

    def on_train_begin(self, loop):
        self._t = None
        step = default_step(self.term.bounds, self.term.quadrature) if self.term.grid is not None else None
        if step is not None and self.progress is not None:
            self.progress.write(f"occupancy grid {self.term.grid.resolution}³, marching step {step:.3g}")
