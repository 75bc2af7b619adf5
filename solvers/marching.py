r"""Time marching: a space-time problem solved window by window.

``pr.solve(problem, windows=K)`` (``--train windows=K``) cuts the time interval :math:`[t_0, t_1]` into
:math:`K` equal windows and trains one network per window, in order. Window :math:`k` is the problem
on the space times :math:`[t_k, t_{k+1}]`:

- its equations and boundary conditions are the problem's, each region moved into the window
  (:meth:`~pinr.domains.base.AbstractRegion.in_window`; a wave's front cone keeps its apex at
  :math:`t_0`);
- after the first, its initial conditions are where the window before ends: for every field
  :math:`u` whose equations hold :math:`\partial_t^n u`, the values :math:`u, u_t, \ldots,
  \partial_t^{n-1} u` of the previous window at :math:`t_k`
  (:class:`~pinr.symbolic.known.WindowStart`: tabulated on a lattice of the space and read through
  a cubic spline, so that the conditions have exact spatial derivatives and a window's cost does
  not grow with the windows before it). They take the weights, names and hardness of the problem's
  own initial conditions of the same order; a hard start (``hard=True``, or ``hard="initial"``, as
  :mod:`~pinr.training.auto` chooses for waves) hands over :math:`u` and :math:`u_t` exactly.
- it trains on its share of the steps (``steps`` is the whole run's), starting from the weights the
  window before ended with.

The answer is a :class:`~pinr.solution.MarchedSolution` (each window's network on its own times;
saved and loaded as one file). The verdict is the windows' own residual checks (each judged on its
window) and, when there is one, the reference's relative L2 error over the whole interval.
Observations, trainable parameters and ``resume`` do not march (one-line errors say so).

Why windows: one network over a long interval must hold the whole history at once, and a residual
loss lets the late times be fitted before the early ones are right (the causality failure of PINNs,
Wang, Sankaran & Perdikaris 2022, who march in windows as well). A window is a shorter problem that
starts from a settled answer.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

import numpy as np
import sympy

from pinr.case import Case, as_case
from pinr.compiler import compile_problem
from pinr.domains.base import AbstractInitial, AbstractInterior
from pinr.domains.shapes import SpaceTime, TimeInterval
from pinr.solution import MarchedSolution, grid_of
from pinr.symbolic import Condition, Eq, Problem
from pinr.symbolic.hard import value_condition, velocity_condition
from pinr.symbolic.known import WindowStart, known_apps
from pinr.training.auto import choose
from pinr.training.config import Resolved, TrainConfig
from pinr.training.setup import resolve_options
from pinr.training.strategy import from_environment
from pinr.training.verdict import LIMITS, Check, Verdict, advise

from .pinn import PINNSolver, resolve_device

__all__ = ["MarchingSolver", "window_problem", "window_start", "time_orders", "START_NODES"]

log = logging.getLogger(__name__)

#: lattice nodes of a window's start, in all (per axis its root, at most 4096): 362² in 2-D, 50³ in 3-D
START_NODES = 1 << 17


def time_orders(problem) -> dict[str, int]:
    """Field name → the highest time derivative of it in the equations (the conditions on the interior)."""
    t = problem.domain.time
    out = dict.fromkeys(problem.fields, 0)
    for c in problem.conditions:
        if not isinstance(c.on, AbstractInterior):
            continue
        for r in c.eq.residuals:
            for d in sympy.sympify(r).atoms(sympy.Derivative):
                if d.expr in problem.field_apps:
                    n = sum(int(k) for v, k in d.variable_count if v == t)
                    out[d.expr.func.__name__] = max(out[d.expr.func.__name__], n)
    return out


def _first(c, t0: float) -> bool:
    """Whether condition ``c`` holds at the start only (the initial slice, or a patch at :math:`t_0`)."""
    at = getattr(c.on, "time", None)
    return isinstance(c.on, AbstractInitial) or (at is not None and abs(at - t0) < 1e-12)


def _initial_roles(problem) -> dict:
    """``(field name, order)`` → the problem's initial condition stating that value (order 0) or
    velocity (order 1) on the initial slice, whose weight, name and hardness a window's start takes."""
    roles = {}
    for c in problem.conditions:
        if not isinstance(c.on, AbstractInitial) or len(c.eq.residuals) != 1:
            continue
        r = c.eq.residuals[0]
        for order, read in ((0, value_condition), (1, velocity_condition)):
            found = read(r, problem)
            if found is not None:
                roles.setdefault((found[0].func.__name__, order), c)
                break
    return roles


def _window_domain(domain, lo: float, hi: float):
    interval = TimeInterval(lo, hi, name=domain.time.name)
    return SpaceTime(domain.space, interval) if isinstance(domain, SpaceTime) else interval


def window_problem(problem, lo: float, hi: float, *, start: dict | None = None, label: str = "") -> Problem:
    """``problem`` on the time window ``[lo, hi]``: its conditions moved into it, and with ``start``
    (``(field name, order)`` → the value of that time derivative at ``lo``, an expression of the
    space: :func:`window_start`) its initial conditions replaced by those."""
    domain = problem.domain
    if domain.time is None or not isinstance(domain, (SpaceTime, TimeInterval)):
        raise ValueError(f"time marching needs a space-time domain (space * pr.TimeInterval), got {domain!r}")
    t0 = float(domain.bounds[-1, 0])
    window = _window_domain(domain, lo, hi)
    conditions = [c.replace(on=c.on.in_window(window)) for c in problem.conditions
                  if start is None or not _first(c, t0)]
    if start is not None:
        roles, t = _initial_roles(problem), domain.time
        apps = {a.func.__name__: a for a in problem.field_apps}
        for (name, order), value in start.items():
            model = roles.get((name, order))
            lhs = apps[name] if order == 0 else sympy.Derivative(apps[name], (t, order))
            conditions.append(Condition(Eq(lhs, value), on=window.initial, weight=model.weight if model else 1.0,
                                        hard=model.hard if model else False,
                                        name=model.name if model else f"start_{name}" + "_t" * order))
    return Problem(window, [], [*conditions, *problem.periodic], params=problem.params, exact=problem.exact,
                   align=problem.align, name=problem.name, image=problem.image, known=problem.known,
                   description=(problem.description + "; " if problem.description else "") + (label or
                                f"the window t in [{lo:g}, {hi:g}]"))


def _lattice(space, nodes: int) -> list[np.ndarray]:
    """Axes of a lattice over ``space``'s box, with the corners: about ``nodes`` nodes in all."""
    bounds = np.asarray(space.bounds, dtype=np.float64)
    sides = bounds[:, 1] - bounds[:, 0]
    per = (nodes / np.prod(sides / sides.max())) ** (1 / len(sides))
    return [np.linspace(a, b, int(min(4096, max(8, round(per * s / sides.max()))))) for (a, b), s in zip(bounds, sides)]


def window_start(solution, problem, at: float, *, nodes: int = START_NODES) -> dict:
    r"""Where the window after ``solution`` (the answer up to time ``at``) starts: ``(field name,
    order)`` → :math:`\partial_t^{order} u(x, at)` for the orders below each field's highest
    (:func:`time_orders`), as expressions of the space — a :class:`~pinr.symbolic.known.WindowStart`
    over a lattice of about ``nodes`` points of the spatial box, or numbers when there is no space
    (an ODE)."""
    t, orders = problem.domain.time, time_orders(problem)
    apps = {a.func.__name__: a for a in problem.field_apps}
    wanted = [(name, k) for name in problem.fields for k in range(orders[name])]
    if not wanted:
        raise ValueError(f"{problem.name!r} has no time derivative in its equations: nothing to march")
    space = problem.domain.space if isinstance(problem.domain, SpaceTime) else None
    axes = _lattice(space, nodes) if space is not None else []
    grids = np.meshgrid(*axes, indexing="ij") if axes else []
    points = np.stack([g.ravel() for g in grids] + [np.full(grids[0].size if grids else 1, float(at))], axis=-1)
    columns = []
    for name, k in wanted:
        if k == 0:
            columns.append(np.asarray(solution(points))[:, problem.fields.index(name)])
        else:
            columns.append(np.asarray(solution.evaluate(sympy.Derivative(apps[name], (t, k)), points))[:, 0])
    if space is None:
        return {key: sympy.Float(float(c[0])) for key, c in zip(wanted, columns)}
    values = np.stack(columns, axis=-1).reshape(*[len(a) for a in axes], len(wanted))
    labels = [name + "_" + "t" * k if k else name for name, k in wanted]
    field = WindowStart(axes=axes, values=values, labels=labels, time=float(at))
    return dict(zip(wanted, known_apps(field, space.coords, name="start")))


def _own_batch(batch, problem):
    """A batch per term cut to the terms ``problem`` has (a window after the first has no initial patches)."""
    if not isinstance(batch, Mapping):
        return batch
    names = {c.name for c in problem.conditions}
    return {k: v for k, v in batch.items() if k in names}


def _options_for_window(options: dict, steps: int, problem) -> dict:
    """A window's flat options: its share of the steps, one window, no run directory of its own."""
    out = {**{k: v for k, v in options.items() if k not in ("out", "windows")}, "steps": int(steps), "windows": 1}
    if "batch" in out:
        out["batch"] = _own_batch(out["batch"], problem)
    return out


class MarchingSolver:
    """Train ``target`` (a problem or case with a time axis) window by window (:mod:`pinr.solvers.marching`).

    ``options`` are :func:`pinr.solve`'s flat training options; ``windows`` (or the case's
    ``windows``) is the number of windows and ``steps`` the whole run's. ``reference`` and
    ``validate_metrics`` score the whole answer at the end; ``callbacks`` join every window's loop.
    """

    def __init__(self, target, *, reference=None, validate_metrics=None, callbacks=(), strategy=None, **options):
        self.case = case = as_case(target)
        problem = case.problem
        if options.get("resume") is not None:
            raise ValueError("resume= does not apply to a time-marched run (windows > 1): start it again")
        if problem.observations or problem.trainable:
            what = "observations" if problem.observations else "trainable parameters"
            raise ValueError(f"{problem.name!r} has {what}, which hold over the whole interval: solve it "
                             "without windows")
        if problem.domain.time is not None and problem.domain.time_axis in problem.periodic_axes:
            raise ValueError(f"{problem.name!r} is periodic in time: there is no start to march from; solve it without "
                             "windows")
        given = TrainConfig.from_options(**options)
        compiled = compile_problem(problem)

        def defaults(device, *, given=None):
            return choose(problem, compiled, device, given=given)

        whole = resolve_options(case, given, choose=defaults)
        self.count = int(whole.config.schedule.windows)
        if self.count < 2:
            raise ValueError(f"MarchingSolver needs windows >= 2, got {self.count}; solve one window with PINNSolver")
        if not any(time_orders(problem).values()):
            raise ValueError(f"{problem.name!r} has no time derivative in its equations: nothing carries from one "
                             "window to the next; solve it without windows")
        lo, hi = (float(b) for b in problem.domain.bounds[-1])
        self.edges = [lo + (hi - lo) * k / self.count for k in range(self.count + 1)]
        total = int(whole.config.optim.steps)
        self.shares = [total // self.count + (k < total % self.count) for k in range(self.count)]
        if min(self.shares) < 1:
            raise ValueError(f"steps={total} cannot be shared among {self.count} windows; give more steps or fewer "
                             "windows")
        self.options, self.reference, self.validate_metrics = dict(options), reference, validate_metrics
        self.extra_callbacks = list(callbacks)
        device = resolve_device(whole.config.device.device)
        self.strategy = strategy if strategy is not None else from_environment(device)
        self.solvers: list[PINNSolver] = [self._solver(0, None)]  # bad options fail here, before any file
        first = self.solvers[0]
        self.resolved = Resolved(first.config.replace(
            optim=replace(first.config.optim, steps=total),
            schedule=replace(first.config.schedule, windows=self.count)), MappingProxyType({
                **first.resolved.sources, **{k: v for k, v in whole.sources.items() if k in ("steps", "windows")}}))
        self.config, self.device = self.resolved.config, first.device
        self.seconds = 0.0

    def _solver(self, k: int, start: dict | None) -> PINNSolver:
        lo, hi = self.edges[k], self.edges[k + 1]
        problem = window_problem(self.case.problem, lo, hi, start=start,
                                 label=f"window {k + 1} of {self.count}, t in [{lo:g}, {hi:g}]")
        training = self.case.training
        training = training.replace(sampling=replace(training.sampling, batch=_own_batch(training.sampling.batch,
                                                                                          problem)))
        case = Case(problem, training, fd=self.case.fd, source=self.case.source)
        # the windows after the first train what it was trained with (a start read as data would change the
        # defaults chosen from the statement, and the weights handed over need the same network)
        options = self.options if k == 0 else self.solvers[0].config.flat()
        return PINNSolver(case, TrainConfig.from_options(**_options_for_window(options, self.shares[k], problem)),
                          callbacks=self.extra_callbacks, strategy=self.strategy)

    # ------------------------------------------------------------------ what a run directory reads
    @property
    def steps(self) -> int:
        return sum(self.shares)

    @property
    def backbone_name(self) -> str:
        return self.solvers[0].backbone_name

    @property
    def engine(self):
        return self.solvers[0].engine

    @property
    def terms(self) -> list:
        return []

    @property
    def validation(self) -> dict:
        return {}

    @property
    def history(self) -> dict:
        """The windows' histories one after the other (steps and seconds counted from the run's start;
        a term only some windows have is NaN in the others)."""
        done = [s for s in self.solvers if s.state is not None]
        keys = list(dict.fromkeys(k for s in done for k in s.history))
        out = {k: [] for k in keys}
        step0 = seconds0 = 0.0
        for s in done:
            h = s.history
            n = len(h.get("step", []))
            for k in keys:
                v = list(h.get(k, [math.nan] * n))
                if k == "step":
                    v = [int(step0 + x) for x in v]
                elif k == "seconds":
                    v = [seconds0 + x for x in v]
                out[k] += v if len(v) == n else [math.nan] * n
            step0 += s.steps
            seconds0 += s.state.seconds
        return out

    def start(self):
        """No state to resume from: the windows start in :meth:`run`."""
        return None

    # -------------------------------------------------------------------------------- train
    def run(self, *, state=None) -> MarchedSolution:
        """Train every window in turn and return the answer over the whole interval."""
        started, answers, verdicts = time.perf_counter(), [], []
        for k in range(self.count):
            if k > 0:
                start = window_start(answers[-1], self.case.problem, self.edges[k])
                previous = self.solvers[k - 1].state.model.network
                self.solvers.append(self._solver(k, start))
                # the window before's weights: the answer moves on from where it was (the input map is the window's own)
                self.solvers[k].initial.network.backbone.load_state_dict(previous.backbone.state_dict())
            solver = self.solvers[k]
            self._say(f"window {k + 1} of {self.count}: t in [{self.edges[k]:g}, {self.edges[k + 1]:g}], "
                      f"{self.shares[k]} steps")
            answers.append(solver.run())
            verdicts.append(answers[-1].verdict)
            spent, left = time.perf_counter() - started, self.count - k - 1
            if left:
                self._say(f"window {k + 1} done after {spent:.0f} s; about {spent / (k + 1) * left:.0f} s for the "
                          f"{left} left")
        self.seconds = time.perf_counter() - started
        shape = grid_of(self.case.problem.domain).shape
        solution = MarchedSolution(answers, self.edges, case=self.case, grid_shape=shape,
                                   metadata={"steps": self.steps, "seconds": self.seconds, "windows": self.count})
        solution.verdict = self._verdict(solution, verdicts)
        self._say(solution.verdict.line())
        return solution

    def _verdict(self, solution, verdicts) -> Verdict:
        """Each window's residual checks (limit lax where a reference judges the whole) and the reference's."""
        score = self.validate_metrics
        if score is None and self.reference is not None:
            from pinr.comparison import compare

            def score(s):
                return compare(s, self.reference)
        reference = dict(score(solution)) if score is not None else {}
        ref = reference.get("rel_l2")
        checks, notes = {}, []
        for k, v in enumerate(verdicts):
            if v is None:
                notes.append(f"window {k + 1}: not judged")
                continue
            for name, c in v.checks.items():
                limit = LIMITS["lax_residual"] if ref is not None and name.startswith("residual/") else c.limit
                checks[f"{name} (window {k + 1})"] = Check(c.value, limit, f"{c.what} in window {k + 1}", c.at_least)
        if ref is not None:
            checks["reference"] = Check(float(ref), LIMITS["reference"], "the relative L2 error against the reference")
        first = self.solvers[0]
        advice = advise(self.config, self.case.problem, first.n_params).replace(" or ", ", ")
        return Verdict(checks, f"{advice} or more windows (windows={2 * self.count})", tuple(notes))

    def _say(self, line: str) -> None:
        if self.strategy.is_main and self.config.run.progress:
            from tqdm.auto import tqdm

            tqdm.write(line)
        else:
            log.info("%s", line)
