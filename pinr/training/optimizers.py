r"""Optimisers are parts: the ``optimizer=`` option names one, and it builds the train state's
optimiser, its schedule and its step (:class:`~pinr.training.loop.AbstractUpdate`).

- ``"adam"`` — Adam with pinr's learning-rate plan (:func:`~pinr.training.loop.lr_schedule`: the
  rate held, then a cosine decay), a first-order step, optionally followed by the held-out L-BFGS
  finish (:class:`~pinr.training.callbacks.LBFGSFinish`).
- ``"natural"`` — damped Gauss–Newton / energy natural-gradient steps on the stacked residuals of
  every term (:mod:`pinr.training.natural`); it needs every term to be a weighted sum of squares,
  and its Jacobian and linear system to fit the memory budget (:func:`fitted`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from types import MappingProxyType

import torch

from .loop import GradientStep, lr_schedule
from .natural import NaturalGradient, NaturalStatus, NaturalStep, unfit_reason

__all__ = ["AbstractOptimizer", "Adam", "Natural", "OPTIMIZERS", "optimizer_kind", "fitted", "NATURAL_CAP_MIN",
           "MAX_FLOPS_CPU"]

log = logging.getLogger(__name__)

#: the step-size cap the natural-gradient schedule ends at
NATURAL_CAP_MIN = 0.1


class AbstractOptimizer:
    """One ``optimizer=`` choice: :meth:`build` the optimiser over the parameter ``groups`` (dicts
    with ``params`` and ``lr``, as :meth:`~pinr.solvers.PINNSolver.optimizer_groups` gives them),
    its schedule and its step; :meth:`schedule` re-plans the schedule (a resumed run with other
    steps); :meth:`callbacks` are the loop parts it brings."""

    name: str = ""
    description: str = ""
    functional: bool = False  #: whether the residuals are differentiated under torch.func (the engine must allow it)
    decay: float = 1.0  #: the ``decay`` option's default: the last fraction of the steps over which the schedule decays

    def build(self, groups: list[dict], optim) -> tuple:
        raise NotImplementedError

    def schedule(self, optimizer, steps: int, decay: float, lr_min: float):
        raise NotImplementedError

    def callbacks(self, progress, log_every: int) -> list:
        return []

    def divergence_advice(self, optim) -> str:
        """What to try when the loss became non-finite (:class:`~pinr.training.callbacks.DivergenceGuard`)."""
        raise NotImplementedError


class Adam(AbstractOptimizer):
    name = "adam"
    description = "Adam with the rate held, then a cosine decay (first order)"

    def build(self, groups, optim):
        optimizer = torch.optim.Adam(split_parts(groups))
        schedule = self.schedule(optimizer, optim.steps, optim.decay, min(optim.lr_min, optim.lr))
        return optimizer, schedule, GradientStep()

    def schedule(self, optimizer, steps, decay, lr_min):
        return lr_schedule(optimizer, steps, decay, lr_min)

    def divergence_advice(self, optim):
        return (f"Lower the learning rate (now {optim.lr:g}), use dtype='float64', or rescale the problem (smaller "
                "data magnitudes, smaller omega0)")


class Natural(AbstractOptimizer):
    name = "natural"
    functional = True
    decay = 0.3
    description = "damped Gauss-Newton / energy natural-gradient steps on the stacked residuals (second order)"

    def build(self, groups, optim):
        local = [g for g in groups if g.get("local") or g.get("maximize")]
        if local:
            raise ValueError("optimizer='natural' trains the network and the problem's parameters by Gauss-Newton "
                             "steps; self-adaptive point weights (balance='self-adaptive') are trained by ascent: "
                             "use optimizer='adam' for them")
        optimizer = NaturalGradient([p for g in groups for p in g["params"]])
        return optimizer, self.schedule(optimizer, optim.steps, optim.decay, NATURAL_CAP_MIN), NaturalStep()

    def schedule(self, optimizer, steps, decay, lr_min):
        """The largest step size the line search tries: 1 for the first ``1 - decay`` of the steps,
        then a cosine to ``NATURAL_CAP_MIN`` (fresh points each step make each step fit its own batch;
        shorter steps at the end average over batches, as a decaying learning rate does)."""
        return lr_schedule(optimizer, steps, decay, NATURAL_CAP_MIN)

    def callbacks(self, progress, log_every):
        return [NaturalStatus(progress, log_every)]

    def divergence_advice(self, optim):
        return ("Its steps only ever lower the loss on their own points, so the points drawn since reach values the "
                "network cannot hold: rescale the problem (smaller data magnitudes, smaller omega0), or use "
                "optimizer='adam'")


def split_parts(groups: list[dict]) -> list[dict]:
    """Adam's groups with the parameters that carry an :class:`~pinr.backbones.AdamPart`
    (``param.adam_part``: a backbone part its paper trains with other settings) moved into a group
    per part, after their own group: the first group keeps the run's rate, as the history records it."""
    out = []
    for group in groups:
        plain, parts = [], {}
        for p in group["params"]:
            part = getattr(p, "adam_part", None)
            if part is None:
                plain.append(p)
            else:
                parts.setdefault(part, []).append(p)
        if not parts:
            out.append(group)
            continue
        ordered = sorted(parts.items(), key=lambda item: item[0].lr_scale != 1.0)
        if plain:
            out.append({**group, "params": plain})
        for part, params in ordered:
            out.append({**group, **part.group(group["lr"]), "params": params})
    return out


#: ``optimizer=`` name → its part
OPTIMIZERS: dict[str, AbstractOptimizer] = {k.name: k for k in (Adam(), Natural())}


def optimizer_kind(name: str) -> AbstractOptimizer:
    """The optimiser called ``name``; an unknown name lists the valid ones."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name]


#: floating-point operations a natural-gradient step's system may take on a CPU (about half a minute on the
#: 2-core CPU this was measured on; the suite's steps take 2e9-5e10)
MAX_FLOPS_CPU = 1e12


def fitted(resolved, terms, n_params: int, *, dtype: torch.dtype, budget: int | None, device: torch.device,
           distributed: bool = False):
    """``resolved`` (:class:`~pinr.training.config.Resolved`) as it can run: with
    ``optimizer="natural"`` and a Jacobian or system larger than the memory ``budget``, or, on a
    CPU, a system that takes more than :data:`MAX_FLOPS_CPU` operations to form, Adam instead (said
    in one warning line and recorded where the options come from). A term that is not a weighted
    sum of squares is refused with a one-line ``ValueError``."""
    c = resolved.config
    if c.optim.optimizer != "natural":
        return resolved
    itemsize = torch.empty((), dtype=dtype).element_size()
    reason = unfit_reason(terms, n_params, itemsize=itemsize, budget=None, distributed=distributed)
    if reason is not None:
        raise ValueError(f"optimizer='natural' cannot train this problem: {reason}; use optimizer='adam'")
    reason = unfit_reason(terms, n_params, itemsize=itemsize, budget=budget, distributed=distributed,
                          max_flops=MAX_FLOPS_CPU if device.type == "cpu" else None)
    if reason is None:
        return resolved
    log.warning("optimizer 'natural' does not fit: %s. Training with Adam instead", reason)
    config = replace(c, optim=replace(c.optim, optimizer="adam"))
    return type(resolved)(config, MappingProxyType({**resolved.sources, "optimizer": f"Adam: natural does not fit "
                                                                                    f"({reason})"}))
