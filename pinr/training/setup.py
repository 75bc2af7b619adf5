"""What a trainer is given before it trains: its options resolved, the form of the answer, its
device and dtype, and the network it starts from, built once.

Floor: training. Each part is a function (or a small object) a solver calls once while it is
set up (:class:`~solvers.pinn.PINNSolver`), so that the solver itself only trains:

- :func:`resolve_options`: the user's options laid over a case's defaults (or, for a problem
  stated without any, over defaults chosen from its statement), with where each came from;
- :func:`answer_form`: the problem the network is trained on — the stated one, or with its value
  conditions imposed exactly by the form of the answer (``hard``);
- :func:`resolve_device`, :func:`resolve_dtype`: the option strings made torch objects;
- :class:`InitialNetwork`: the network a run starts from, built once under the run's seed —
  a bad backbone or option fails there, before a run directory gets any file, and its layers
  size the memory plan and choose the derivative engine;
- :func:`planned_batches`: the memory plan — grid terms whose whole grid does not fit the budget
  train on batches of it, and the options say so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType

import torch

from ..backbones.base import input_box
from ..compiler import compile_problem
from ..memory import GridPlan, format_bytes, memory_budget, plan_grid_batches
from ..symbolic.hard import harden
from .config import Resolved, TrainConfig, resolve

__all__ = ["resolve_options", "answer_form", "start_at_known", "network_box", "resolve_device", "resolve_dtype",
           "InitialNetwork", "planned_batches"]


def resolve_options(case, config: TrainConfig | None, *, choose: Callable) -> Resolved:
    """``config`` (the user's options; ``None`` for none) laid over ``case``'s training defaults
    (a :class:`~pinr.Case`); a case without any takes ``choose(device, given=config)`` — the
    defaults chosen from its statement and why — instead."""
    config = config or TrainConfig()
    defaults, reasons = case.training, None
    if defaults == TrainConfig():  # a problem stated without defaults: choose them from it
        defaults, reasons = choose(resolve_device(config.device.device), given=config)
    resolved = resolve(case.problem, config, defaults, case_name=case.source.get("name", case.problem.name),
                       reasons=reasons)
    if case.problem.known:  # say what the network learns (printed with the options, recorded in chosen_by)
        return Resolved(resolved.config, MappingProxyType({
            **resolved.sources, "known part": f"the statement: {case.problem.describe_known()}"}))
    return resolved


def answer_form(problem, compiled, hard):
    """The problem a network is trained on and its compiled form: ``problem`` (compiled as
    ``compiled``) itself, or, when ``hard`` ("initial": the initial values only) asks, with the
    value conditions that can be imposed exactly made part of the answer
    (:func:`~pinr.symbolic.hard.harden`)."""
    if hard:
        hardened, names = harden(problem, initial_only=hard == "initial")
        if names:
            return hardened, compile_problem(hardened)
    return problem, compiled


def start_at_known(network, problem) -> bool:
    """Start the fields of ``problem`` that have a known part (:mod:`pinr.symbolic.known`) at exactly
    that part: the network's outputs for them begin at zero (:meth:`~pinr.backbones.Network.start_from_zero_`;
    a backbone without a linear head starts as built). Measured on the Helmholtz case, whose known
    part is its answer in a uniform medium: from the SIREN's own start the remainder's noise was still
    a relative L2 of 0.025 after 1,500 steps; from zero, 2.6e-8 (and 0.89 → 0.65 after 300 steps on
    the square inclusion, where the network has a scattered field to learn)."""
    outputs = [i for i, name in enumerate(problem.fields) if name in problem.known]
    return bool(outputs) and network.start_from_zero_(outputs)


def network_box(domain, time_scale=None):
    """The box a network of ``domain`` maps onto :math:`[-1, 1]^d`: the domain's own, with its time
    axis spanning :math:`t_{mid} \\pm` ``time_scale`` when one is given (:func:`~pinr.backbones.base.input_box`)."""
    return input_box(domain.bounds, domain.time_axis, time_scale)


def resolve_device(device) -> torch.device:
    """The ``device`` option as a :class:`torch.device` ("auto" or ``None``: CUDA when there is one)."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda', 'cuda:N' or 'auto'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use device='cpu'")
    return dev


def resolve_dtype(dtype) -> torch.dtype:
    """The ``dtype`` option ("float32", "fp32", "float64", "fp64" or a torch dtype) as a torch dtype."""
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {"float32": torch.float32, "fp32": torch.float32, "float64": torch.float64, "fp64": torch.float64}
    if dtype not in table:
        raise ValueError(f"dtype must be one of {sorted(table)}, got {dtype!r}")
    return table[dtype]


class InitialNetwork:
    """The network ``make()`` builds under ``seed``, built once, now, without touching the
    caller's random state; :meth:`take` hands it to the first fresh train state, with the random
    state as building it left it — so the run draws exactly what it would had it built the
    network then. A later fresh state builds it again (the same weights: same seed)."""

    def __init__(self, make: Callable[[], torch.nn.Module], seed: int):
        self.make, self.seed = make, seed
        with torch.random.fork_rng(devices=[]):  # networks are built on the CPU, then moved
            torch.random.default_generator.manual_seed(seed)
            #: the network, until :meth:`take` hands it over (then ``None``)
            self.network: torch.nn.Module | None = make()
            self._after = torch.get_rng_state()

    def take(self) -> torch.nn.Module:
        """The network, built under the seed; call it just after ``torch.manual_seed(seed)``."""
        if self.network is None:
            return self.make()
        network, self.network = self.network, None
        torch.set_rng_state(self._after)
        return network


def planned_batches(resolved, compiled, network: torch.nn.Module, *, engine: str, dtype: torch.dtype, device
                    ) -> tuple[dict[str, GridPlan], Resolved]:
    """The memory plan of a run with the options ``resolved`` (a
    :class:`~pinr.training.config.Resolved`): the grid terms of ``compiled`` trained on batches of
    their grid because the whole grid does not fit the budget (:func:`plan_grid_batches`), and
    the options with those batches as ``batch`` (a record states them, a resume reuses them)."""
    c = resolved.config
    plans = {k: p for k, p in plan_grid_batches(
        compiled, network, engine=engine, dtype=dtype, budget=memory_budget(device, c.device.memory_budget),
        chosen=c.sampling.batch).items() if p.batch < p.size}
    if not plans:
        return plans, resolved
    c = replace(c, sampling=replace(c.sampling, batch={**dict(c.sampling.batch or {}),
                                                       **{k: p.batch for k, p in plans.items()}}))
    budget = format_bytes(next(iter(plans.values())).budget)
    return plans, Resolved(c, MappingProxyType({**resolved.sources, "batch": (
        f"memory budget {budget}" + ("" if c.device.memory_budget else " (half the free memory)"))}))
