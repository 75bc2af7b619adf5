r"""The training loop: a state, one step function and callbacks.

:class:`TrainState` holds everything a step changes (model, optimiser, scheduler, generator,
step count, time window, history); :func:`train_step` samples every term, lowers the sum of
their losses by one step of the state's :class:`AbstractUpdate` (a first-order optimiser step by
default; :class:`~pinr.training.natural.NaturalStep` for the second-order one) and returns a
:class:`StepOutput`; :class:`Loop` repeats it and calls its callbacks around each step
(``on_train_begin``, ``on_step_begin``, ``on_step_end``, ``on_train_end``, and ``close`` whatever
happened).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

__all__ = ["TrainState", "StepOutput", "train_step", "Loop", "AbstractCallback", "AbstractUpdate", "GradientStep",
           "request_stop", "lr_schedule"]

_STOP = threading.Event()


def request_stop() -> None:
    """Ask the running loop to stop after the step in progress (what Ctrl-C does under ``pinr
    solve``): ``on_train_end`` runs — the checkpoint is written — and the loop's ``stopped`` is set."""
    _STOP.set()


def lr_schedule(optimizer: torch.optim.Optimizer, steps: int, decay: float, lr_min: float):
    r"""pinr's learning-rate plan for ``steps`` optimiser steps: the rate each group starts with,
    held for the first :math:`1 - \mathrm{decay}` of the steps, then a cosine decay to ``lr_min``
    over the last ``decay`` of them (``decay = 1``: a cosine over the whole run)."""
    decaying = max(1, round(steps * decay))
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=decaying, eta_min=lr_min)
    if decaying >= steps:
        return cosine
    flat = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=steps - decaying)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [flat, cosine], milestones=[steps - decaying])


class AbstractUpdate:
    """How one step lowers the loss on the step's batches: ``update(state, terms, batches,
    losses_fn, strategy) -> (losses (n_terms,), per-point values)`` changes the parameters of
    ``state.model`` (through ``state.optimizer``) and returns the terms' losses before the change,
    the balancing weights not applied, and their per-point values."""

    def __call__(self, state: "TrainState", terms: Sequence, batches: list, losses_fn: Callable, strategy=None):
        raise NotImplementedError


class GradientStep(AbstractUpdate):
    """A first-order step: the gradient of the (balanced) summed loss by ``backward()``, combined
    over the processes by the ``strategy``, then one optimiser and one scheduler step."""

    def __call__(self, state, terms, batches, losses_fn, strategy=None):
        state.optimizer.zero_grad(set_to_none=True)
        losses, per_point = losses_fn(batches)
        (losses if state.weights is None else losses * state.weights).sum().backward()
        if strategy is not None:
            losses = strategy.reduce(state, losses)
        state.optimizer.step()
        state.scheduler.step()
        return losses, per_point


@dataclass
class TrainState:
    """What a training step reads and changes. ``update`` is how a step changes the parameters
    (a first-order optimiser step unless the optimiser says otherwise); ``window`` is the fraction
    of the time interval the terms sample (1: all of it); ``weights`` ``(n_terms,)`` multiply the
    terms' losses in the step (``None``: all 1; set by loss-balancing callbacks); ``history`` and
    ``validation`` are column dicts; ``verdict`` is set when a finished run is judged."""

    model: object
    optimizer: torch.optim.Optimizer
    scheduler: object
    generator: torch.Generator
    total: int
    update: AbstractUpdate = field(default_factory=GradientStep)
    step: int = 0
    window: float = 1.0
    weights: torch.Tensor | None = None
    seconds: float = 0.0
    history: dict = field(default_factory=lambda: {"step": [], "loss": [], "lr": [], "seconds": []})
    validation: dict = field(default_factory=lambda: {"step": []})
    verdict: object = None  #: the :class:`~pinr.training.verdict.Verdict` on the finished run


@dataclass(frozen=True)
class StepOutput:
    """One step's losses ``(n_terms,)`` (detached; the terms' own weights, not the balancing
    weights), its batches and per-point squared residuals."""

    losses: torch.Tensor
    batches: list
    per_point: list


def train_step(state: TrainState, terms: Sequence, losses_fn: Callable, strategy=None) -> StepOutput:
    """Sample every term, then one step of ``state.update`` on the (balanced) summed loss;
    ``strategy`` (:mod:`.strategy`; ``None``: one device) combines what the processes computed
    and gives the losses to record."""
    batches = [t.sample(state.generator, window=state.window) for t in terms]
    losses, per_point = state.update(state, terms, batches, losses_fn, strategy)
    state.step += 1
    return StepOutput(losses.detach(), batches, per_point)


class AbstractCallback:
    """A part of the loop with one job; every hook is optional."""

    def on_train_begin(self, loop: "Loop") -> None: ...

    def on_step_begin(self, loop: "Loop") -> None: ...

    def on_step_end(self, loop: "Loop", out: StepOutput) -> None: ...

    def on_train_end(self, loop: "Loop") -> None: ...

    def close(self, loop: "Loop") -> None: ...


class Loop:
    """Run :func:`train_step` on ``state`` with ``terms`` until ``until`` steps, calling
    ``callbacks`` in order, under ``strategy`` (:mod:`.strategy`; ``None``: one device). ``names``
    are the terms' names (for logs)."""

    def __init__(self, state: TrainState, terms: Sequence, losses_fn: Callable,
                 callbacks: Sequence[AbstractCallback] = (), *, strategy=None):
        self.state, self.terms, self.losses_fn, self.callbacks = state, list(terms), losses_fn, list(callbacks)
        self.strategy = strategy
        self.names = [t.name for t in self.terms]
        self.first_step = state.step
        self.stopped = False  #: set when the run was stopped on request before ``until``
        self._t0, self._elapsed0 = time.perf_counter(), state.seconds

    @property
    def finished(self) -> bool:
        """Whether the state has reached its last step."""
        return self.state.step >= self.state.total

    def elapsed(self) -> float:
        """Training seconds so far, including those of the run this one resumed."""
        return self._elapsed0 + time.perf_counter() - self._t0

    def run(self, until: int) -> TrainState:
        """Train to step ``until`` (≤ ``state.total``), then ``on_train_end`` (callbacks that finish a
        run — L-BFGS, the final validation — check :attr:`finished`)."""
        self._t0, self._elapsed0, self.first_step = time.perf_counter(), self.state.seconds, self.state.step
        _STOP.clear()
        self.stopped = False
        try:
            for cb in self.callbacks:
                cb.on_train_begin(self)
            while self.state.step < until and not self.stopped:
                for cb in self.callbacks:
                    cb.on_step_begin(self)
                out = train_step(self.state, self.terms, self.losses_fn, self.strategy)
                for cb in self.callbacks:
                    cb.on_step_end(self, out)
                self.stopped = _STOP.is_set() if self.strategy is None else self.strategy.stopped(_STOP.is_set())
            self.state.seconds = self.elapsed()
            for cb in self.callbacks:
                cb.on_train_end(self)
        finally:
            for cb in self.callbacks:
                cb.close(self)
        return self.state
