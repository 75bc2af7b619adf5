r"""Many models of one architecture trained together: one vmapped step over stacked parameters.

A hyperparameter sweep (``pr.sweep(problem, over={"omega0": [10, 20, 30], "seed": range(4)})``)
trains every combination of the swept values. Each combination is an ordinary
:class:`~pinr.solvers.PINNSolver` (same options, seeds, initialisation and learning-rate schedule
as ``pr.solve`` would use); when all of them have parameters and buffers of the same shapes,
their states are stacked (:func:`torch.func.stack_module_state`) and every step is **one**
forward/backward of

.. math:: \mathcal L(\Theta) = \sum_{m=1}^{M} \mathcal L_m(\theta_m), \qquad
          \nabla_{\theta_m}\mathcal L = \nabla_{\theta_m}\mathcal L_m ,

evaluated by :func:`torch.func.vmap` over the model axis of
:func:`torch.func.functional_call` (the models are independent, so the gradient of the sum is
each model's own gradient), followed by :class:`StackedAdam`, an Adam with one learning rate per
model and parameter group — each model's update is the one its own ``torch.optim.Adam`` makes.

Batches: when the seed is not swept every model has the same generator state, so one batch is
drawn per step and shared (``in_dims=None``: no copy); when it is swept each model draws from its
own generator, exactly the batches its lone run would see, and the batches are stacked. Either
way a swept model equals the same model trained alone with ``pr.solve`` (tested in float64).

Derivatives under the model ``vmap``: the ``jet`` engine (its fused autograd functions carry
``generate_vmap_rule``) or the ``func`` engine; ``autograd``'s ``torch.autograd.grad`` cannot run
under ``vmap``, so a run whose engine resolves to it uses ``func`` instead (same values).

Progressive backbones keep their schedule in buffers (PINs' ``level_weights``): each model's own
module runs its ``on_step`` and the buffers are restacked before the step, so ``functional_call``
receives them as explicit state. SAPE is refused for the vmapped step (its models train one after
the other): its forward reads a mask table cached on the module outside its buffers, which one
shared ``functional_call`` template cannot hold per model.

Loss balancing (every 100 steps) and the L-BFGS finish run per model on its own module, outside
the ``vmap`` (they are rare, and their results — term weights ``(M, n_terms)``, a polished model —
are what a lone run computes). Runs whose models differ in shape (a swept ``width``), or that use
parts of the loop that change the state outside the step (adaptive sampling, time windows, a
compiled step, rendered terms), train one after the other with ``pr.solve``'s trainer instead,
with a one-line notice.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.func import functional_call, stack_module_state, vmap

from .batch import Batch
from .terms import Model, term_losses

__all__ = ["sweep", "SweepResult", "StackedAdam", "parse_over", "parse_over_text", "combinations", "swept_keys"]

log = logging.getLogger(__name__)

#: swept keys that are training options; every other swept key is a backbone option
TRAINING_KEYS = ("seed", "lr")

#: the most models one sweep trains: checked on the counts of values, before any list of values,
#: combination or model is built (``seed=0..100000000`` grew to 4 GB before training started)
MAX_MODELS = 1024


def _check_count(count: int, what: str) -> None:
    if count > MAX_MODELS:
        raise ValueError(f"{what} makes {count:,} models; a sweep trains at most {MAX_MODELS:,}: "
                         "sweep fewer values (e.g. seed=0..7) or run several sweeps")


# ------------------------------------------------------------------------------ what is swept
def parse_over(over) -> dict[str, list]:
    """``over`` (key → non-empty sequence of values, e.g. ``{"omega0": [10, 20], "seed": range(4)}``)
    as key → list; ``ValueError``/``TypeError`` naming the culprit otherwise."""
    if not isinstance(over, Mapping) or not over:
        raise TypeError(f"over must be a non-empty dict of option -> values, e.g. {{'omega0': [10, 20]}}; got {over!r}")
    parsed = {}
    count = 1
    for key, values in over.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"over: keys are option names (str), got {key!r}")
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, range)):
            raise TypeError(f"over[{key!r}] must be a list of values (e.g. [10, 20]), got {values!r}")
        count *= max(len(values), 1)  # len of a range is O(1): a huge one is refused unbuilt
        _check_count(count, f"over[{key!r}] ({len(values):,} values)" + (" with the keys before it" if parsed else ""))
        values = list(values)
        if not values:
            raise ValueError(f"over[{key!r}] is empty; give at least one value")
        if len({repr(v) for v in values}) != len(values):
            raise ValueError(f"over[{key!r}] repeats a value ({values}); give each value once")
        if key == "seed" and not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise TypeError(f"over['seed'] must be integers, got {values}")
        if key == "lr" and not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                                   and v > 0 for v in values):
            raise ValueError(f"over['lr'] must be finite positive numbers, got {values}")
        parsed[key] = values
    return parsed


def parse_over_text(items: Sequence[str]) -> dict[str, list]:
    """``--over`` flags (``omega0=10,20,30``, ``seed=0..3`` — an inclusive integer range,
    ``lr=1e-3,3e-3``) as key → values; ``ValueError`` naming the bad flag otherwise."""
    import ast

    over: dict[str, list] = {}
    count = 1
    for item in items:
        key, sep, text = item.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or not key:
            raise ValueError(f"--over {item!r}: write KEY=V1,V2,... or KEY=A..B (e.g. omega0=10,20,30 or seed=0..3)")
        if key in over:
            raise ValueError(f"--over {key} given twice; list all its values in one flag")
        if ".." in text:
            lo, _, hi = text.partition("..")
            try:
                a, b = int(lo), int(hi)
            except ValueError:
                raise ValueError(f"--over {item!r}: a range is A..B with integers A <= B (e.g. seed=0..3)") from None
            if a > b:
                raise ValueError(f"--over {item!r}: the range {a}..{b} is empty; write A..B with A <= B")
            count *= b - a + 1
            _check_count(count, f"--over {_clip(item)}" + (" with the flags before it" if over else ""))
            over[key] = list(range(a, b + 1))
            continue
        count *= text.count(",") + 1
        _check_count(count, f"--over {_clip(item)}" + (" with the flags before it" if over else ""))
        values = []
        for part in text.split(","):
            part = part.strip()
            if not part:
                raise ValueError(f"--over {item!r}: an empty value; write KEY=V1,V2,... (e.g. omega0=10,20,30)")
            try:
                values.append(ast.literal_eval(part))
            except (ValueError, SyntaxError):
                values.append(part)
        over[key] = values
    return over


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:50] + f"... ({len(text):,} characters)"


def swept_keys(backbone: str) -> list[str]:
    """The keys a sweep of ``backbone`` may vary: ``seed``, ``lr`` and the backbone's options."""
    from pinr.backbones import backbone_options

    return list(TRAINING_KEYS) + sorted(backbone_options(backbone))


def combinations(over: Mapping[str, list]) -> list[dict]:
    """Every combination of the swept values, the last key varying fastest."""
    keys = list(over)
    return [dict(zip(keys, values)) for values in itertools.product(*(over[k] for k in keys))]


def _options_of(combo: Mapping, options: Mapping) -> dict:
    """The flat ``pr.solve`` options of one combination: ``seed``/``lr`` at the top, the rest in
    ``backbone_options`` (over the given ones)."""
    opts = dict(options)
    backbone = dict(opts.get("backbone_options") or {})
    for k, v in combo.items():
        if k in TRAINING_KEYS:
            opts[k] = v
        else:
            backbone[k] = v
    if backbone:
        opts["backbone_options"] = backbone
    return opts


def run_name(combo: Mapping) -> str:
    """The run directory of one combination: ``omega0=10_seed=0``."""
    return "_".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in combo.items())


# ------------------------------------------------------------------------------------ the step
class StackedAdam:
    r"""Adam over stacked parameters (models on axis 0) with a learning rate per model.

    For parameter :math:`\theta_m` of model :math:`m` with gradient :math:`g`, at step :math:`t`
    (``torch.optim.Adam``'s formulas, elementwise):

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g, \quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g^2, \quad
        \theta_m \leftarrow \theta_m - \frac{\eta_m}{1-\beta_1^t}\,
            \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    so every model's update is the one its own ``torch.optim.Adam`` with rate :math:`\eta_m`
    makes. ``params``: name → stacked leaf tensor ``(M, ...)``; ``betas``, ``eps`` as Adam's.
    """

    def __init__(self, params: Mapping[str, torch.Tensor], *, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params = dict(params)
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.eps = float(eps)
        self.t = 0
        self.exp_avg = {k: torch.zeros_like(p) for k, p in self.params.items()}
        self.exp_avg_sq = {k: torch.zeros_like(p) for k, p in self.params.items()}

    @torch.no_grad()
    def step(self, lrs: Mapping[str, torch.Tensor]) -> None:
        """One update; ``lrs[name]`` is ``(M,)``, the rate of each model for that parameter."""
        self.t += 1
        c1, c2 = 1 - self.beta1 ** self.t, 1 - self.beta2 ** self.t
        for k, p in self.params.items():
            if p.grad is None:
                continue
            g = p.grad
            m, v = self.exp_avg[k], self.exp_avg_sq[k]
            m.lerp_(g, 1 - self.beta1)
            v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            step_size = (lrs[k] / c1).to(device=p.device, dtype=p.dtype).reshape(-1, *([1] * (p.dim() - 1)))
            denom = (v.sqrt() / c2 ** 0.5).add_(self.eps)
            p.sub_(step_size * (m / denom))


class _Pair(torch.nn.Module):
    """The network and trainable parameters of one model, as one module whose forward is the
    terms' losses, so :func:`~torch.func.functional_call` swaps both."""

    def __init__(self, network, parameters, engine, terms):
        super().__init__()
        self.network, self.parameters_ = network, parameters
        self.engine, self.terms = engine, list(terms)

    def forward(self, batches):
        batches = [Batch(*b) for b in batches]
        return term_losses(Model(self.network, self.engine, self.parameters_), self.terms, batches)


def _as_tuple(batch: Batch) -> tuple:
    return (batch.points, batch.normals, dict(batch.data), batch.targets, batch.sigma)


def _stack_batches(per_model: Sequence[Sequence[Batch]]) -> list[tuple]:
    """Per-model batches → per-term tuples of tensors stacked on a new model axis."""
    out = []
    for term_batches in zip(*per_model):
        parts = [_as_tuple(b) for b in term_batches]
        points, normals, data, targets, sigma = zip(*parts)

        def stack(xs):
            return None if xs[0] is None else torch.stack(xs)
        out.append((stack(points), stack(normals), {k: torch.stack([d[k] for d in data]) for k in data[0]},
                    stack(targets), stack(sigma)))
    return out


def _unsupported(solver, state) -> str | None:
    """Why ``solver``'s run (its built ``state``) cannot join a vmapped step (``None`` when it can)."""
    from pinr.training.sampling import AdaptiveSampling

    c = solver.config
    if getattr(state.model.network.backbone, "wants_point_losses", False):
        return (f"{c.model.backbone} caches its masks outside its buffers (state functional_call cannot swap "
                "per model)")
    if c.optim.optimizer != "adam":
        return f"optimizer {c.optim.optimizer!r} solves one model's Gauss-Newton system at a time"
    if c.optim.balance == "self-adaptive":
        return "self-adaptive weights belong to one run's fixed points"
    if AdaptiveSampling.wanted(solver.terms):
        return "adaptive sampling keeps a pool per run"
    if c.schedule.time_window:
        return "a time window moves the sampled points per run"
    if c.device.compile:
        return "compile= traces one model's step"
    if any(t.callbacks(None) for t in solver.terms):
        return "a term brings its own loop parts (rendered pixels)"
    if c.run.resume is not None:
        return "a resumed run continues one model"
    return None


@dataclass
class _LoopView:
    """What a per-model loop part (balancing, L-BFGS) reads of a loop: one model's state and the terms."""

    state: object
    terms: list
    seconds: float = 0.0
    finished: bool = True
    strategy: object = None  # one process, one device (:mod:`.strategy`)

    def elapsed(self) -> float:
        return self.seconds


def _groups(states) -> list[list[int]]:
    """Indices of the models that can share one vmapped step: same parameter and buffer shapes and
    the same non-tensor settings in every submodule (SIREN's ``omega0`` is a Python float of its
    activations, which ``functional_call`` does not swap; a ``width`` changes shapes)."""
    groups: dict[tuple, list[int]] = {}
    for i, s in enumerate(states):
        groups.setdefault((_shape_key(s), _static_key(s.model.network)), []).append(i)
    return list(groups.values())


_MODULE_INTERNALS = frozenset(vars(torch.nn.Module()))


def _static_key(module: torch.nn.Module) -> tuple:
    """The non-tensor attributes of every submodule (what the forward reads besides its tensors)."""
    def fixed(m):
        return repr(sorted((k, repr(v)) for k, v in vars(m).items()
                           if k not in _MODULE_INTERNALS and not isinstance(v, torch.Tensor)))
    return tuple((name, type(m).__name__, fixed(m)) for name, m in module.named_modules())


def _shape_key(state) -> tuple:
    mods = (state.model.network, state.model.parameters)
    return tuple((n, tuple(t.shape), t.dtype) for m in mods for n, t in
                 itertools.chain(m.named_parameters(), m.named_buffers()))


# ---------------------------------------------------------------------------------- the result
@dataclass
class SweepResult:
    """The models of a sweep: ``combos`` (swept values per model), ``solutions``, ``rows`` (one
    dict per model: swept values, final loss, metrics), ``vmapped`` (one step for all, or a
    sequential loop), ``ms_per_step`` and ``out`` (the sweep directory, or ``None``)."""

    combos: list[dict]
    solutions: list
    rows: list[dict]
    vmapped: bool
    ms_per_step: float
    out: Path | None = None
    notice: str | None = None
    keys: list[str] = field(default_factory=list)

    def table(self) -> str:
        """The rows as an aligned text table."""
        cols = list(self.rows[0]) if self.rows else []
        cells = [[_cell(r.get(c)) for c in cols] for r in self.rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
        return "\n".join(lines)

    def __len__(self) -> int:
        return len(self.solutions)


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


# ----------------------------------------------------------------------------------- the sweep
def sweep(target, *, over, out=None, reference_solution="auto", progress: bool = False, **options) -> SweepResult:
    r"""Train every combination of the values in ``over`` on ``target`` (a problem, a catalogue
    case or a catalogue name such as ``"poisson-image"``), in one vmapped step per group of models of
    one structure (see the module docstring).

    ``over``: option → values; keys are ``seed``, ``lr`` or options of the backbone (``omega0``,
    ``width``, …). ``options`` are ``pr.solve``'s flat options, shared by every model. With ``out``
    the sweep directory gets ``sweep.csv``, ``sweep.json``, ``sweep.png`` (the metric against each
    swept value) and one run directory per model (``omega0=10_seed=0/``, the format ``pr.solve``
    writes: ``pr.load`` reads it). Returns a :class:`SweepResult`; its ``table()`` is printed by
    ``pinr sweep``. The sweep holds ``out`` until it ends (``out/.lock``, :mod:`pinr.run`).
    """
    import contextlib

    from pinr.run import hold

    from .strategy import is_main_process

    held = hold(out) if out is not None and is_main_process() else contextlib.nullcontext()
    with held:
        return _sweep(target, over=over, out=out, reference_solution=reference_solution, progress=progress,
                      **options)


def _sweep(target, *, over, out, reference_solution, progress, **options) -> SweepResult:
    """:func:`sweep` in a sweep directory this process holds (or without one)."""
    from pinr.api import reference
    from pinr.case import as_case
    from pinr.io import write_json
    from pinr.run import LOCK_NAME, record, subject
    from pinr.solvers import PINNSolver

    if isinstance(target, str):  # a catalogue name
        from pinr.problems import get

        target = get(target)
    case = as_case(target)
    over = parse_over(over)
    for bad in ("out", "resume"):
        if options.get(bad) is not None:
            raise TypeError(f"sweep: {bad}= is not a per-model option; give the sweep directory as out= "
                            "(each model gets a run directory in it)")
    out = Path(out) if out is not None else None
    if out is not None and out.exists() and (not out.is_dir() or any(p.name != LOCK_NAME for p in out.iterdir())):
        raise FileExistsError(f"sweep directory {out} exists and is not empty; choose another --out (out=)")
    base = PINNSolver.from_options(case, **{**options, "progress": False})
    valid = swept_keys(base.backbone_name)
    unknown = [k for k in over if k not in valid]
    if unknown:
        raise ValueError(f"over: unknown key {unknown[0]!r} for backbone {base.backbone_name!r}; sweepable keys are "
                         f"{valid}")
    given = set((options.get("backbone_options") or {})) & set(over)
    if given:
        raise ValueError(f"over: {sorted(given)} also given in backbone_options; give each once")
    combos = combinations(over)
    ref = reference_solution
    if isinstance(ref, str) and ref == "auto":
        try:
            ref = reference(case)
        except NotImplementedError as err:
            log.info("no reference for %s: %s", case.problem.name, err)
            ref = None
    solvers = [PINNSolver.from_options(case, reference=ref, **{**_options_of(k, options), "progress": False})
               for k in combos]
    started = time.perf_counter()
    states = [s.build() for s in solvers]
    groups = _groups(states)
    notice = _unsupported(solvers[0], states[0])
    if notice is None and len(groups) > 1:
        notice = (f"the models differ in structure (parameter shapes or fixed settings such as omega0), so they train "
                  f"in {len(groups)} groups of sizes {[len(g) for g in groups]}, one step per group")
    elif notice is not None:
        notice = f"{notice}, so the {len(combos)} models train one after the other"
        groups = [[i] for i in range(len(states))]
    if notice is not None:
        log.warning("sweep: %s", notice)
    solutions, seconds = [None] * len(solvers), 0.0
    for group in groups:
        if len(group) == 1:  # the ordinary loop of one model (what pr.solve runs)
            solver = solvers[group[0]]
            t0 = time.perf_counter()
            solutions[group[0]] = solver.run()
            seconds += time.perf_counter() - t0
            continue
        members = [solvers[i] for i in group]
        seconds += _train_vmapped(members, [states[i] for i in group], shared_batches="seed" not in over,
                                  progress=progress)
        for i in group:
            solvers[i].state = states[i]
            sol = solvers[i].solution(states[i])
            sol.metadata.update({"seconds": states[i].seconds, "engine": states[i].model.engine.name, "sweep": True})
            solutions[i] = sol
    steps = solvers[0].steps
    rows = []
    for combo, solver, sol in zip(combos, solvers, solutions):
        row = {**combo, "final_loss": solver.history["loss"][-1] if solver.history["loss"] else None}
        if out is not None:
            run = out / run_name(combo)
            write_json(run / "config.json", record(solver, subject(case)))
            solver.save_checkpoint(solver.state, run / "checkpoint.pt")
            from pinr.report import write_run
            metrics = write_run(run, case, sol, ref, solver="pinn", seconds=solver.seconds, trainer=solver)
        else:
            metrics = _metrics(case, sol, ref)
        row.update({k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                    and k not in ("seconds", "steps", "train_seconds", "ms_per_step", "final_loss")})
        rows.append(row)
    result = SweepResult(combos, solutions, rows, any(len(g) > 1 for g in groups), 1000 * seconds / max(steps, 1),
                         out, notice, list(over))
    if out is not None:
        _write_sweep(out, result, time.perf_counter() - started)
    return result


def _metrics(case, solution, ref) -> dict:
    from pinr.comparison import compare

    if ref is not None:
        return compare(solution, ref, problem=case)
    if case.validation is not None:
        return dict(case.validation(solution))
    return {}


def _write_sweep(out: Path, result: SweepResult, seconds: float) -> None:
    """``sweep.csv``, ``sweep.json`` and ``sweep.png`` in ``out``."""
    from pinr.io import write_csv, write_json

    cols = list(dict.fromkeys(k for r in result.rows for k in r))
    write_csv(out / "sweep.csv", {c: [r.get(c) for r in result.rows] for c in cols})
    write_json(out / "sweep.json", {"over": result.keys, "vmapped": result.vmapped, "notice": result.notice,
                                    "ms_per_step": round(result.ms_per_step, 3), "seconds": round(seconds, 3),
                                    "runs": [{"dir": run_name(c), **r} for c, r in zip(result.combos, result.rows)]})
    metric = _headline(result.rows)
    if metric is not None:
        plot_sweep(out / "sweep.png", result.rows, result.keys, metric)


def _headline(rows: list[dict]) -> str | None:
    """The metric the plot shows: ``rel_l2`` or ``psnr`` when measured, else the final loss."""
    for name in ("rel_l2", "psnr", "final_loss"):
        if rows and all(isinstance(r.get(name), (int, float)) for r in rows):
            return name
    return None


def plot_sweep(path, rows: list[dict], keys: list[str], metric: str) -> Path:
    """One panel per swept key: ``metric`` of every model against that key's value (the models
    that share it, over the other keys, as points; their mean as a line)."""
    import numpy as np
    from matplotlib.figure import Figure

    from pinr.plotting import _save

    fig = Figure(figsize=(4.2 * len(keys), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(keys)))
    for ax, key in zip(axes, keys):
        values = list(dict.fromkeys(r[key] for r in rows))
        numeric = all(isinstance(v, (int, float)) for v in values)
        xs = values if numeric else list(range(len(values)))
        for x, v in zip(xs, values):
            ys = [r[metric] for r in rows if r[key] == v]
            ax.scatter([x] * len(ys), ys, s=14, alpha=0.7, color="C0")
        ax.plot(xs, [float(np.mean([r[metric] for r in rows if r[key] == v])) for v in values], color="C1",
                marker="o", label="mean")
        if not numeric:
            ax.set_xticks(xs, [str(v) for v in values])
        if metric in ("rel_l2", "final_loss") and all(r[metric] > 0 for r in rows):
            ax.set_yscale("log")
        if key == "lr" and numeric and min(xs) > 0:
            ax.set_xscale("log")
        ax.set_xlabel(key)
        ax.set_ylabel(metric)
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"{metric} per swept value")
    return _save(fig, path)


# ------------------------------------------------------------------------------ vmapped training
def _train_vmapped(solvers, states, *, shared_batches: bool, progress: bool = False,
                   step_seconds: list | None = None) -> float:
    """Train ``states`` (of ``solvers``, same shapes) together; return the training seconds.
    On return each state holds its model's weights, Adam moments, schedule, step and history,
    as if it had been trained alone. ``step_seconds`` (a list) receives each step's wall time."""
    from pinr.backbones import AbstractBackbone
    from pinr.derivatives import FuncEngine
    from pinr.errors import DivergenceError

    from . import callbacks as cb
    from .balancing import balancer

    first = solvers[0]
    terms = first.terms
    engine = states[0].model.engine
    if engine.name == "autograd":  # torch.autograd.grad cannot run under vmap; func computes the same atoms
        engine = FuncEngine()
    pairs = [_Pair(s.model.network, s.model.parameters, engine, terms) for s in states]
    params, buffers = stack_module_state(pairs)
    template = _Pair(copy.deepcopy(states[0].model.network).to("meta"),  # shapes only: functional_call fills it
                     copy.deepcopy(states[0].model.parameters).to("meta"), engine, terms)
    opt0 = states[0].optimizer
    betas, eps = opt0.defaults["betas"], opt0.defaults["eps"]
    adam = StackedAdam(params, betas=betas, eps=eps)
    group_of = {k: (0 if k.startswith("network.") else 1) for k in params}
    networks = [s.model.network for s in states]
    scheduled = type(networks[0].backbone).on_step is not AbstractBackbone.on_step
    names = [t.name for t in terms]
    log_every = first.config.run.log_every
    total = first.steps
    dtype = next(iter(params.values())).dtype

    balancers = [balancer(s.config.optim.balance, every=100) for s in solvers]  # as PINNSolver.callbacks
    views = [_LoopView(s, terms) for s in states]

    def losses_of(p, b, batches):
        return functional_call(template, (p, b), (batches,))

    t0 = time.perf_counter()
    for step in range(total):
        t_step = time.perf_counter()
        if scheduled:  # each model's own schedule, then its buffers as the step's explicit state
            for n in networks:
                n.on_step(step, total)
            buffers = {k: torch.stack([dict(pr.named_buffers())[k] for pr in pairs]) for k in buffers}
        if balancers[0] is not None and len(terms) > 1 and step % balancers[0].every == 0:
            _write_back(params, {} if scheduled else buffers, pairs)  # each model measures its terms itself
            for b, v in zip(balancers, views):
                b.on_step_begin(v)
        if shared_batches:
            batches = [_as_tuple(t.sample(states[0].generator, window=1.0)) for t in terms]
            for s in states[1:]:  # the other generators advance as they would alone
                s.generator.set_state(states[0].generator.get_state())
            in_dims = (0, 0, None)
        else:
            batches = _stack_batches([[t.sample(s.generator, window=1.0) for t in terms] for s in states])
            in_dims = (0, 0, [(0, None if b[1] is None else 0, {k: 0 for k in b[2]}, None if b[3] is None else 0,
                                None if b[4] is None else 0) for b in batches])
        for p in params.values():
            p.grad = None
        losses, _ = vmap(losses_of, in_dims=in_dims)(params, buffers, batches)  # (M, n_terms)
        weights = [s.weights for s in states]
        if all(w is None for w in weights):
            losses.sum().backward()
        else:
            ones = torch.ones(len(terms), dtype=losses.dtype, device=losses.device)
            (losses * torch.stack([ones if w is None else w for w in weights])).sum().backward()
        lrs = [[g["lr"] for g in s.optimizer.param_groups] for s in states]
        adam.step({k: torch.tensor([lr[group_of[k]] for lr in lrs], dtype=dtype) for k in params})
        for s in states:  # the schedule advances as it would alone (no gradients: Adam changes nothing)
            s.optimizer.step()
            s.scheduler.step()
            s.step += 1
        detached = losses.detach()
        if step_seconds is not None:
            if detached.device.type == "cuda":
                torch.cuda.synchronize(detached.device)
            step_seconds.append(time.perf_counter() - t_step)
        if not torch.isfinite(detached).all():
            bad = [i for i in range(len(states)) if not torch.isfinite(detached[i]).all()]
            raise DivergenceError(f"sweep: the loss of model(s) {bad} became non-finite by step {step + 1}; lower "
                                  "their lr or omega0, or use dtype='float64'")
        s0 = states[0]
        if s0.step % log_every == 0 or s0.step == total or s0.step == 1:
            elapsed = time.perf_counter() - t0
            for m, s in enumerate(states):
                values = detached[m].tolist()
                h = s.history
                h["step"].append(s.step)
                h["loss"].append(float(sum(values)))
                for n, v in zip(names, values):
                    h.setdefault(f"loss/{n}", []).append(v)
                h["lr"].append(lrs[m][0])
                h["seconds"].append(elapsed)
            if progress:
                best = float(detached.sum(1).min())
                log.info("sweep step %d/%d, best loss %.3e", s0.step, total, best)
    seconds = time.perf_counter() - t0
    _write_back(params, {} if scheduled else buffers, pairs)
    _adam_state(params, adam, pairs, states)
    lbfgs = cb.LBFGSFinish(first.config.optim.lbfgs_steps)  # each model's own finish, on its own module
    for s, v in zip(states, views):
        v.seconds = time.perf_counter() - t0
        lbfgs.on_train_end(v)
        s.seconds = time.perf_counter() - t0 if s.history.get("lbfgs") else seconds
    return time.perf_counter() - t0


@torch.no_grad()
def _write_back(params, buffers, pairs) -> None:
    """Each model's slice of the stacked parameters and ``buffers`` into its own module (the
    buffers of scheduled backbones are not written: their modules own them, see above)."""
    for m, pair in enumerate(pairs):
        own = dict(pair.named_parameters())
        for k, p in params.items():
            own[k].copy_(p[m])
        bufs = dict(pair.named_buffers())
        for k, b in buffers.items():
            bufs[k].copy_(b[m])


def _adam_state(params, adam: StackedAdam, pairs, states) -> None:
    """Each model's Adam moments and step count into its own ``torch.optim.Adam``, so its checkpoint
    continues it exactly (``pr.solve(resume=...)``)."""
    for m, (pair, state) in enumerate(zip(pairs, states)):
        own = dict(pair.named_parameters())
        for k in params:
            state.optimizer.state[own[k]] = {"step": torch.tensor(float(adam.t)),
                                             "exp_avg": adam.exp_avg[k][m].clone(),
                                             "exp_avg_sq": adam.exp_avg_sq[k][m].clone()}
