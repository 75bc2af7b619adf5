r"""Hyperparameter sweeps (``pr.sweep``, ``pinr sweep``): the swept values, the result table, its
plot and the sweep directory. Floor: beside :mod:`pinr.api` (it trains through
:class:`~pinr.solvers.PINNSolver` and the vmapped engine of :mod:`pinr.training.ensemble`).

``pr.sweep(problem, over={"omega0": [10, 20, 30], "seed": range(4)})`` trains every combination
of the swept values. Each combination is an ordinary :class:`~pinr.solvers.PINNSolver` (same
options, seeds, initialisation and learning-rate schedule as ``pr.solve`` would use); the models
that share one structure train in one vmapped step (:func:`pinr.training.ensemble.train_vmapped`),
the others one after the other with ``pr.solve``'s loop, with a one-line notice.
"""

from __future__ import annotations

import ast
import itertools
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .api import reference_of
from .backbones import backbone_options
from .case import as_case
from .comparison import compare
from .io import write_csv, write_json
from .plotting import _save
from .problems import get
from .report import write_run
from .run import RunDirectory, held, subject
from .solvers import PINNSolver
from .training.ensemble import train_vmapped, unsupported, vmap_groups

__all__ = [
    "sweep",
    "SweepResult",
    "parse_over",
    "parse_over_text",
    "combinations",
    "swept_keys",
    "plot_sweep",
    "run_name",
    "MAX_MODELS",
]

log = logging.getLogger(__name__)

#: swept keys that are training options; every other swept key is a backbone option
TRAINING_KEYS = ("seed", "lr")

#: the most models one sweep trains: checked on the counts of values, before any list of values,
#: combination or model is built (``seed=0..100000000`` grew to 4 GB before training started)
MAX_MODELS = 1024


def _check_count(count: int, what: str) -> None:
    if count > MAX_MODELS:
        raise ValueError(
            f"{what} makes {count:,} models; a sweep trains at most {MAX_MODELS:,}: "
            "sweep fewer values (e.g. seed=0..7) or run several sweeps"
        )


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
        if key == "lr" and not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in values
        ):
            raise ValueError(f"over['lr'] must be finite positive numbers, got {values}")
        parsed[key] = values
    return parsed


def parse_over_text(items: Sequence[str]) -> dict[str, list]:
    """``--over`` flags (``omega0=10,20,30``, ``seed=0..3`` — an inclusive integer range,
    ``lr=1e-3,3e-3``) as key → values; ``ValueError`` naming the bad flag otherwise."""
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
    one structure (see :mod:`pinr.training.ensemble`).

    ``over``: option → values; keys are ``seed``, ``lr`` or options of the backbone (``omega0``,
    ``width``, …). ``options`` are ``pr.solve``'s flat options, shared by every model. With ``out``
    the sweep directory gets ``sweep.csv``, ``sweep.json``, ``sweep.png`` (the metric against each
    swept value) and one run directory per model (``omega0=10_seed=0/``, the format ``pr.solve``
    writes: ``pr.load`` reads it). Returns a :class:`SweepResult`; its ``table()`` is printed by
    ``pinr sweep``. The sweep holds ``out`` until it ends (``out/.lock``), and each model's run
    directory is written as :func:`pinr.solve` writes one (:mod:`pinr.run`).
    """
    with held(out):
        return _sweep(target, over=over, out=out, reference_solution=reference_solution, progress=progress, **options)


def _sweep(target, *, over, out, reference_solution, progress, **options) -> SweepResult:
    """:func:`sweep` in a sweep directory this process holds (or without one)."""
    case = as_case(get(target) if isinstance(target, str) else target)  # a catalogue name, or a problem/case
    over = parse_over(over)
    directory = RunDirectory(out)
    _check_sweep(case, over, options, directory)
    combos = combinations(over)
    ref = reference_of(case, reference_solution)
    solvers = [
        PINNSolver.from_options(case, reference=ref, **{**_options_of(k, options), "progress": False}) for k in combos
    ]
    started = time.perf_counter()
    states = [s.build() for s in solvers]
    groups, notice = _groups(solvers, states, len(combos))
    solutions, seconds = _train_groups(solvers, states, groups, shared_batches="seed" not in over, progress=progress)
    rows = [_row(combo, solver, sol, case, ref, directory) for combo, solver, sol in zip(combos, solvers, solutions)]
    result = SweepResult(
        combos,
        solutions,
        rows,
        any(len(g) > 1 for g in groups),
        1000 * seconds / max(solvers[0].steps, 1),
        directory.path,
        notice,
        list(over),
    )
    directory.finish(lambda path: _write_sweep(path, result, time.perf_counter() - started))
    return result


def _check_sweep(case, over, options, directory) -> None:
    """Refuse per-model run options, a used directory, keys the backbone cannot sweep and keys
    given twice, before any model is built."""
    for bad in ("out", "resume"):
        if options.get(bad) is not None:
            raise TypeError(
                f"sweep: {bad}= is not a per-model option; give the sweep directory as out= "
                "(each model gets a run directory in it)"
            )
    directory.check_new(what="sweep directory", resumable=False)
    base = PINNSolver.from_options(case, **{**options, "progress": False})
    valid = swept_keys(base.backbone_name)
    unknown = [k for k in over if k not in valid]
    if unknown:
        raise ValueError(
            f"over: unknown key {unknown[0]!r} for backbone {base.backbone_name!r}; sweepable keys are {valid}"
        )
    given = set((options.get("backbone_options") or {})) & set(over)
    if given:
        raise ValueError(f"over: {sorted(given)} also given in backbone_options; give each once")


def _groups(solvers, states, count: int) -> tuple[list[list[int]], str | None]:
    """The models that step together (one vmapped step per group) and the warning to show when
    they cannot all."""
    groups = vmap_groups(states)
    notice = unsupported(solvers[0], states[0])
    if notice is None and len(groups) > 1:
        notice = (
            f"the models differ in structure (parameter shapes or fixed settings such as omega0), so they train "
            f"in {len(groups)} groups of sizes {[len(g) for g in groups]}, one step per group"
        )
    elif notice is not None:
        notice = f"{notice}, so the {count} models train one after the other"
        groups = [[i] for i in range(len(states))]
    if notice is not None:
        log.warning("sweep: %s", notice)
    return groups, notice


def _train_groups(solvers, states, groups, *, shared_batches: bool, progress: bool) -> tuple[list, float]:
    """Train each group (a group of one by the ordinary loop pr.solve runs); the solutions and the
    training seconds."""
    solutions, seconds = [None] * len(solvers), 0.0
    for group in groups:
        if len(group) == 1:
            solver = solvers[group[0]]
            t0 = time.perf_counter()
            solutions[group[0]] = solver.run()
            seconds += time.perf_counter() - t0
            continue
        members = [solvers[i] for i in group]
        seconds += train_vmapped(members, [states[i] for i in group], shared_batches=shared_batches, progress=progress)
        for i in group:
            solvers[i].state = states[i]
            sol = solvers[i].solution(states[i])
            sol.metadata.update({"seconds": states[i].seconds, "engine": states[i].model.engine.name, "sweep": True})
            solutions[i] = sol
    return solutions, seconds


def _row(combo, solver, sol, case, ref, directory) -> dict:
    """One model's row of the result table; its run directory written as pr.solve writes one."""
    row = {**combo, "final_loss": solver.history["loss"][-1] if solver.history["loss"] else None}
    if directory.path is not None:
        model = RunDirectory(directory.path / run_name(combo))
        model.write_record(solver, subject(case))
        solver.save_checkpoint(solver.state, model.path / "checkpoint.pt")
        metrics = model.finish(partial(write_run, case=case, solution=sol, ref=ref, solver="pinn",
                                       seconds=solver.seconds, trainer=solver))
    else:
        metrics = _metrics(case, sol, ref)
    skip = ("seconds", "steps", "train_seconds", "ms_per_step", "final_loss")
    row.update({k: v for k, v in metrics.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in skip})
    return row


def _metrics(case, solution, ref) -> dict:
    if ref is not None:
        return compare(solution, ref, problem=case)
    if case.validation is not None:
        return dict(case.validation(solution))
    return {}


def _write_sweep(out: Path, result: SweepResult, seconds: float) -> None:
    """``sweep.csv``, ``sweep.json`` and ``sweep.png`` in ``out``."""
    cols = list(dict.fromkeys(k for r in result.rows for k in r))
    write_csv(out / "sweep.csv", {c: [r.get(c) for r in result.rows] for c in cols})
    write_json(
        out / "sweep.json",
        {
            "over": result.keys,
            "vmapped": result.vmapped,
            "notice": result.notice,
            "ms_per_step": round(result.ms_per_step, 3),
            "seconds": round(seconds, 3),
            "runs": [{"dir": run_name(c), **r} for c, r in zip(result.combos, result.rows)],
        },
    )
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
    fig = Figure(figsize=(4.2 * len(keys), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(keys)))
    for ax, key in zip(axes, keys):
        values = list(dict.fromkeys(r[key] for r in rows))
        numeric = all(isinstance(v, (int, float)) for v in values)
        xs = values if numeric else list(range(len(values)))
        for x, v in zip(xs, values):
            ys = [r[metric] for r in rows if r[key] == v]
            ax.scatter([x] * len(ys), ys, s=14, alpha=0.7, color="C0")
        ax.plot(
            xs,
            [float(np.mean([r[metric] for r in rows if r[key] == v])) for v in values],
            color="C1",
            marker="o",
            label="mean",
        )
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
