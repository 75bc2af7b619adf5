r"""The verdict on a run: can its answer be trusted?

After training, every equation and condition is checked on **fresh points**, drawn as its term
draws them but by a generator of their own (the run's stays as it was): the root mean square of
the residual :math:`r = \sum_k a_k` relative to the size of what it balances, the root mean
square of :math:`\sqrt{\sum_k a_k^2}` (:meth:`~pinr.compiler.CompiledExpression.part_sizes`) —
for :math:`-\Delta u = f` that is the size of :math:`f`; where the data are zero (a boundary
value :math:`u = 0`, Allen–Cahn's :math:`u_t - \epsilon u_{xx} - u + u^3`) the size of the terms
themselves, and never less than the size the condition's unknowns have inside the domain (so
that :math:`u = 0` on the boundary is measured against :math:`u` in the domain; a known part of a
field counts as part of its size there). Observations are
measured against their data. A reference (an exact solution, the finite-difference or
``solve_ivp`` answer), when there is one, is the strongest check: its relative L2 error.

The limits (:data:`LIMITS`) come from measurement (``bench/RESULTS.md``, "Verdict"): every suite
case at its defaults passes, the wrong answers that used to end silently do not.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from ..domains.base import AbstractInterior
from .batch import Batch
from .loop import AbstractCallback

__all__ = ["LIMITS", "POINTS", "SINGULAR_SHARE", "Check", "Verdict", "judge", "advise", "VerdictCheck"]

log = logging.getLogger("pinr")

#: The largest value each kind of check may take in a trusted run: ``residual``, an equation's or
#: condition's relative residual (limit ``lax_residual`` where a reference confirms the answer: it
#: then only guards against a reference that misses what the statement says); ``reference``, the
#: relative L2 error against a reference; ``observation``, the relative misfit of data (which
#: may be noisy: only a fit that did not happen fails).
LIMITS: Mapping[str, float] = {"residual": 1e-2, "lax_residual": 0.3, "reference": 1e-2, "observation": 0.3,
                                "reference_psnr": 30.0}
#: (``reference_psnr``: an image's or signal's PSNR against its reference, in dB, at least — its
#: intensities are compared up to the problem's alignment, where a relative L2 error would judge the
#: offset; the README's gradient-domain reconstruction: 37.5 dB, rel. L2 0.045)

#: fresh points per term, evaluated in chunks of the term's own batch (what a training step holds)
POINTS = 2048
#: on a domain with re-entrant corners, the share of points (those where the residual's parts are
#: largest: next to the corners) left out of the residual checks
SINGULAR_SHARE = 0.02
#: the largest network for which the advice names natural-gradient steps (the defaults' have 2–5k)
NATURAL_ADVICE_PARAMETERS = 20_000


@dataclass(frozen=True)
class Check:
    """One measured quantity of the verdict: ``value`` against ``limit``; ``what`` says what it is."""

    value: float
    limit: float
    what: str
    at_least: bool = False  #: the value must reach the limit (a PSNR), not stay below it

    @property
    def ok(self) -> bool:
        return math.isfinite(self.value) and (self.value >= self.limit if self.at_least else self.value <= self.limit)

    def as_dict(self) -> dict:
        return {"value": self.value if math.isfinite(self.value) else str(self.value), "limit": self.limit,
                "ok": self.ok, "what": self.what, **({"at_least": True} if self.at_least else {})}


@dataclass(frozen=True)
class Verdict:
    """Whether a run's answer can be trusted (``ok``), from its ``checks`` (name → :class:`Check`);
    ``advice`` is what to try when it cannot."""

    checks: Mapping[str, Check]
    advice: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks.values())

    @property
    def failed(self) -> list[str]:
        return [k for k, c in self.checks.items() if not c.ok]

    def line(self) -> str:
        """One line: trusted and on what grounds, or not, why and what to try."""
        if not self.checks:
            return "verdict: not checked (" + ("; ".join(self.notes) or "nothing to check") + ")"
        if self.ok:
            ref = self.checks.get("reference")
            worst = max((c.value for k, c in self.checks.items() if k.startswith("residual/")), default=None)
            psnr = self.checks.get("reference_psnr")
            grounds = [f"rel. L2 {ref.value:.2g} against the reference"] if ref is not None else \
                [f"PSNR {psnr.value:.1f} dB against the reference"] if psnr is not None else []
            if worst is not None:
                grounds.append(f"residuals at most {worst:.2g} of their terms' size on fresh points")
            return "verdict: trusted (" + "; ".join(grounds) + ")"
        name = max(self.failed, key=lambda k: _excess(self.checks[k]))
        c = self.checks[name]
        more = len(self.failed) - 1
        limit = f"at least {c.limit:g}" if c.at_least else f"limit {c.limit:.0e}"
        return (f"verdict: NOT trusted: {c.what} is {c.value:.2g} ({limit})"
                + (f", and {more} more check{'s' * (more > 1)} failed" if more else "")
                + (f"; try {self.advice}" if self.advice else ""))

    def as_dict(self) -> dict:
        """What ``metrics.json`` records under ``"verdict"`` (``ok`` is the key the world reads)."""
        return {"ok": self.ok, "line": self.line(), "checks": {k: c.as_dict() for k, c in self.checks.items()},
                "limits": dict(LIMITS), **({"notes": list(self.notes)} if self.notes else {})}


def _excess(c: Check) -> float:
    if not math.isfinite(c.value):
        return math.inf
    return c.limit / max(c.value, 1e-300) if c.at_least else c.value / c.limit


def _rms(x: torch.Tensor) -> float:
    return float(x.double().square().mean().sqrt()) if x.numel() else 0.0


def _fresh(term, generator: torch.Generator) -> Batch:
    return term.draw(max(POINTS, term.batch), generator)


def _chunks(batch: Batch, size: int):
    n = batch.points.shape[0]
    for a in range(0, n, max(1, size)):
        yield batch.subset(slice(a, min(n, a + size)))


def _residual(model, term, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    rows, sizes = zip(*(model.residuals_and_sizes(term.expression, b) for b in _chunks(batch, term.batch)))
    return torch.cat(rows, dim=1), torch.cat(sizes, dim=1)


def _unknowns_inside(model, term, inside: Batch | None, size: int) -> float:
    """The root mean square, inside the domain, of the derivatives of the unknowns that ``term``'s
    condition reads (its atoms): the size below which its residual cannot be judged."""
    atoms = term.expression.atoms
    if inside is None or not atoms:
        return 0.0
    # a field with a known part (pinr.symbolic.known) is that part plus the network's output: count the
    # part's values and derivatives that the condition reads (an initial velocity reads K_t, which is
    # the size there while the network's share is nothing)
    known = [app for app in term.expression.data if getattr(app.func.source, "known_at_points", False)]
    values = []
    for b in _chunks(inside, size):
        av, _ = model.engine.evaluate(model.network, b.points, atoms, (), [])
        rows = [a.detach().reshape(-1) for a in av]
        rows += [app.func.source.interpolate(term.expression.data_points(app, b.points),
                                             app.func.channel).detach().reshape(-1) for app in known]
        values.append(torch.stack(rows))
    return _rms(torch.cat(values, dim=1))


def _kept(rows: torch.Tensor, sizes: torch.Tensor, trim: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The points (columns) whose parts are not among the largest ``trim`` fraction."""
    if trim <= 0 or sizes.shape[1] < 2:
        return rows, sizes
    total = sizes.square().sum(0)
    keep = total <= torch.quantile(total.double(), 1 - trim).to(total.dtype)
    return rows[:, keep], sizes[:, keep]


def judge(model, terms: Sequence, *, reference: Mapping | None = None, seed: int = 0, advice: str = "",
          singular: bool = False, image: bool = False) -> Verdict:
    """The :class:`Verdict` on ``model`` (a :class:`~pinr.training.terms.Model`) for ``terms``:
    each residual term on fresh points, each observation against its data and, when given,
    ``reference`` (a comparison's metrics: ``rel_l2``; ``psnr`` for an ``image`` or where it is the only
    score). ``singular``: the exact answer may be
    singular (a domain with re-entrant corners, where its second derivatives grow without
    bound): the :data:`SINGULAR_SHARE` of the points where the residual's parts are largest are
    left out of the residual checks, which then judge the answer away from the singularities."""
    from .terms import BinaryCrossEntropy, Observation, Residual

    device = next((t.device for t in terms if isinstance(getattr(t, "device", None), torch.device)),
                  torch.device("cpu"))
    generator = torch.Generator(device).manual_seed(int(seed) + 104729)  # not the run's: a resume stays exact
    checks: dict[str, Check] = {}
    notes = []
    reference = reference or {}
    # an image or signal is judged by its PSNR, so is a run scored only by one (held-out views of a scene)
    psnr = reference.get("psnr") if image or reference.get("rel_l2") is None else None
    ref = None if psnr is not None else reference.get("rel_l2")
    residual_limit = LIMITS["residual"] if ref is None and psnr is None else LIMITS["lax_residual"]
    residuals = [t for t in terms if isinstance(t, Residual)]
    inner = next((t for t in residuals if isinstance(t.region, AbstractInterior)), None)
    inside = _fresh(inner, generator) if inner is not None else None
    for t in residuals:
        if isinstance(t.reduction, BinaryCrossEntropy):
            notes.append(f"{t.name}: a classification, not a residual")
            continue
        batch = inside if t is inner else _fresh(t, generator)
        rows, sizes = _kept(*_residual(model, t, batch), SINGULAR_SHARE if singular else 0.0)
        scale = max(_rms(sizes), _unknowns_inside(model, t, inside, inner.batch) if inner not in (None, t) else 0.0)
        size = _rms(rows)
        value = size / scale if scale > 0 else (0.0 if size == 0 else math.inf)
        where = " away from the corners' singularities" if singular else ""
        checks[f"residual/{t.name}"] = Check(value, residual_limit,
                                             f"the residual of {t.name!r} relative to its terms{where}")
    for t in terms:
        if isinstance(t, Observation):
            b = Batch(t.points, targets=t.targets, sigma=None)
            miss = _rms(torch.cat([t.rows(model, c).detach() for c in _chunks(b, t.batch)], dim=1))
            size = _rms(t.targets)
            checks[f"observation/{t.name}"] = Check(miss / size if size > 0 else miss, LIMITS["observation"],
                                                    f"the misfit of the data {t.name!r} relative to their size")
        elif not isinstance(t, Residual):
            notes.append(f"{t.name}: {type(t).__name__} terms are not checked")
    if ref is not None:
        checks["reference"] = Check(float(ref), LIMITS["reference"], "the relative L2 error against the reference")
    if psnr is not None:
        checks["reference_psnr"] = Check(float(psnr), LIMITS["reference_psnr"], "the PSNR (dB) against the reference",
                                         at_least=True)
    return Verdict(checks, advice, tuple(notes))


def advise(config, problem, parameters: int = 0) -> str:
    """What to try when a run of ``problem`` under ``config`` (a resolved
    :class:`~pinr.training.config.TrainConfig`) of a network with ``parameters`` weights is not
    trusted (natural-gradient steps only for a network they can afford)."""
    o, tries = config.optim, []
    tries.append(f"more steps (steps={2 * o.steps})")
    if o.optimizer != "natural" and parameters <= NATURAL_ADVICE_PARAMETERS:
        tries.append("optimizer='natural'")
    if str(config.device.dtype) != "float64":
        tries.append("dtype='float64'")
    if problem.domain.time is not None and problem.domain.dim > 1 and not config.schedule.time_window:
        tries.append("a time window (time_window=0.25)")
    return ", ".join(tries[:-1]) + (" or " if len(tries) > 1 else "") + tries[-1]


class VerdictCheck(AbstractCallback):
    """At the end of a finished run: :func:`judge` ``model`` (the answer as a user gets it: the
    trained state's model, or one that applies the hard conditions' form) on ``terms`` (those of
    the problem as stated), keep the verdict on the state (``state.verdict``) and say it in one
    line (the progress bar's, else the log's)."""

    def __init__(self, model, terms: Sequence, *, seed: int, advice: str = "", progress=None, singular: bool = False,
                 image: bool = False):
        self.model, self.terms, self.seed, self.advice, self.progress = model, list(terms), seed, advice, progress
        self.singular, self.image = singular, image

    def on_train_end(self, loop):
        s = loop.state
        if not loop.finished:
            return
        v = s.validation
        last = v["step"][-1:] == [s.step]
        # a metric undefined for the reference (None, e.g. the PSNR of a flat image) adds no check
        reference = {k: v[k][-1] for k in ("rel_l2", "psnr") if v.get(k) and last and v[k][-1] is not None} or None
        net = s.model.network
        net.eval()
        try:
            verdict = judge(self.model, self.terms, reference=reference, seed=self.seed, advice=self.advice,
                            singular=self.singular, image=self.image)
        finally:
            net.train()
        s.verdict = verdict
        if self.progress is not None and self.progress.enabled:
            self.progress.write(verdict.line())
        else:
            (log.info if verdict.ok else log.warning)("%s", verdict.line())
