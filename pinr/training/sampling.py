r"""Where a residual term puts its points: a fixed pool and the rule that updates it.

A :class:`~pinr.training.terms.Residual` holds a :class:`Pool`. With the :class:`Uniform` rule (the
default) there is no pool: every step draws fresh points from the term's region, as before.
With an adaptive rule the pool is the term's batch, kept from step to step and changed by the
rule from the residuals the :class:`AdaptiveSampling` callback hands it:

- :class:`RAD` (Wu, Zhu, Tan, Kartha & Lu 2023, *A comprehensive study of non-adaptive and
  residual-based adaptive sampling for PINNs*, CMAME): every ``period`` steps a candidate set
  :math:`S` is drawn uniformly from the region, the residual :math:`\varepsilon(x) = |r(x)|`
  evaluated on it, and the whole pool redrawn from :math:`S` (without replacement, as the authors'
  code does) with probability

  .. math:: p(x) \propto \frac{\varepsilon^k(x)}{\mathbb E[\varepsilon^k]} + c ,

  :math:`\mathbb E` the mean over :math:`S`; the paper recommends ``k=1, c=1`` for RAD.
- :class:`RARD` (RAR-D, same paper): the same density, but ``added`` points drawn from it join
  the pool every ``period`` steps (the pool grows); the paper recommends ``k=2, c=0``.
- :class:`R3` (Daw, Bu, Wang, Perdikaris & Karpatne 2023, *Mitigating propagation failures in
  PINNs using retain-resample-release sampling*, ICML): after every ``period``-th step the
  points whose residual exceeds the pool's mean, :math:`\varepsilon(x_i) > \frac1N\sum_j
  \varepsilon(x_j)`, are retained and the others released and replaced by fresh uniform
  points; the residuals are those the step already computed, so the update costs one draw.

The pool is stored in the region's full time range; when the solver's time window is open
(< 1) the batch is the pool moved into the window (:meth:`AbstractRegion.windowed`), so
retained or redrawn points keep their place relative to the window. Every draw uses the loop's
generator, so a seeded run repeats exactly; :meth:`Pool.state_dict` puts the pool into a
checkpoint (a checkpoint without one redraws the pool on resume, and says so in the log).
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from typing import ClassVar

import torch

from .batch import Batch
from .loop import AbstractCallback, StepOutput

__all__ = ["AbstractSampling", "Uniform", "RAD", "RARD", "R3", "Fixed", "Source", "SAMPLINGS", "IMPORTANCE",
           "source_size", "sampling_rule", "Pool", "AdaptiveSampling"]

log = logging.getLogger(__name__)


def _where(keep, a, b):
    """Per point: ``a`` where ``keep`` ``(N,)`` is set, else ``b`` (same sizes)."""
    def pick(x, y):
        m = keep.reshape(-1, *([1] * (x.dim() - 1)))
        return torch.where(m, x, y)

    normals = None if a.normals is None else pick(a.normals, b.normals)
    return Batch(pick(a.points, b.points), normals, {k: pick(v, b.data[k]) for k, v in a.data.items()})


def _cat(a, b):
    normals = None if a.normals is None else torch.cat([a.normals, b.normals])
    return Batch(torch.cat([a.points, b.points]), normals, {k: torch.cat([v, b.data[k]]) for k, v in a.data.items()})


# ------------------------------------------------------------------------------------- rules
class AbstractSampling(abc.ABC):
    """A rule for a residual term's points. ``adaptive`` rules keep a pool and update it after
    every ``period``-th step (:meth:`update`); the others draw fresh points every step."""

    adaptive: ClassVar[bool] = True
    period: int = 1

    def _check(self):
        if isinstance(self.period, bool) or not isinstance(self.period, int) or self.period < 1:
            raise ValueError(f"{type(self).__name__} period must be a positive integer (steps), got {self.period!r}")

    @abc.abstractmethod
    def update(self, pool: "Pool", term, model, per_point: torch.Tensor, generator: torch.Generator) -> None:
        """Change ``pool`` after a step whose batch (the pool, windowed) had squared residuals
        ``per_point`` ``(N,)`` (summed over the term's residual components)."""

    def draw(self, term, n: int, generator: torch.Generator) -> Batch:
        """``n`` fresh points of ``term``'s region (a rule that places them otherwise overrides this)."""
        return term.draw(n, generator)


@dataclass(frozen=True)
class Uniform(AbstractSampling):
    """Fresh points from the region every step, by the condition's ``method`` (no pool)."""

    adaptive: ClassVar[bool] = False

    def update(self, pool, term, model, per_point, generator):
        """Nothing: there is no pool."""


def _residual_density(term, model, candidates, *, k: float, c: float, chunk: int) -> torch.Tensor:
    r""":math:`\varepsilon^k/\mathbb E[\varepsilon^k] + c` on the candidate batch ``(M,)``."""
    eps = []
    for i in range(0, candidates.points.shape[0], chunk):
        part = candidates.subset(slice(i, i + chunk))
        eps.append(model.residuals(term.expression, part).detach().square().sum(0).sqrt())
    e = torch.cat(eps).pow(k)
    mean = e.mean()
    return torch.where(mean > 0, e / torch.clamp(mean, min=torch.finfo(e.dtype).tiny), torch.ones_like(e)) + c


@dataclass(frozen=True)
class RAD(AbstractSampling):
    r"""Residual-based adaptive distribution: every ``period`` steps the pool is redrawn from
    ``candidates`` uniform points (default: 8 × the pool) with :math:`p \propto
    \varepsilon^k/\mathbb E[\varepsilon^k] + c` (defaults ``k=1, c=1`` from Wu et al. 2023;
    ``period=100`` is pinr's choice for runs of a few thousand steps)."""

    k: float = 1.0
    c: float = 1.0
    period: int = 100
    candidates: int | None = None

    def __post_init__(self):
        self._check()
        if not (self.k >= 0 and self.c >= 0) or (self.k == 0 and self.c == 0):
            raise ValueError(f"RAD needs k >= 0 and c >= 0, not both 0; got k={self.k}, c={self.c}")
        if self.candidates is not None and (not isinstance(self.candidates, int) or self.candidates < 1):
            raise ValueError(f"RAD candidates must be a positive integer, got {self.candidates!r}")

    def _draw(self, term, model, generator, n):
        m = max(self.candidates or 8 * term.batch, n)
        cand = term.draw(m, generator)
        p = _residual_density(term, model, term.windowed(cand), k=self.k, c=self.c, chunk=term.batch)
        return cand.subset(torch.multinomial(p, n, replacement=False, generator=generator))

    def update(self, pool, term, model, per_point, generator):
        pool.batch = self._draw(term, model, generator, pool.batch.points.shape[0])


@dataclass(frozen=True)
class RARD(RAD):
    r"""RAR-D, residual-based adaptive refinement with distribution: every ``period`` steps
    ``added`` points (default a tenth of the initial pool) drawn from :math:`p \propto
    \varepsilon^k/\mathbb E[\varepsilon^k] + c` over ``candidates`` uniform points join the pool,
    which grows (defaults ``k=2, c=0`` from Wu et al. 2023)."""

    k: float = 2.0
    c: float = 0.0
    added: int | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.added is not None and (not isinstance(self.added, int) or self.added < 1):
            raise ValueError(f"RARD added must be a positive integer, got {self.added!r}")

    def update(self, pool, term, model, per_point, generator):
        pool.batch = _cat(pool.batch, self._draw(term, model, generator, self.added or max(1, term.batch // 10)))


@dataclass(frozen=True)
class R3(AbstractSampling):
    r"""Retain-resample-release: after every ``period``-th step the points with
    :math:`\varepsilon > \operatorname{mean}\varepsilon` stay and the others are replaced by fresh
    uniform points (the pool keeps its size; no host synchronisation)."""

    period: int = 1

    def __post_init__(self):
        self._check()

    def update(self, pool, term, model, per_point, generator):
        eps = per_point.sqrt()
        keep = eps > eps.mean()
        pool.batch = _where(keep, pool.batch, term.draw(pool.batch.points.shape[0], generator))


@dataclass(frozen=True)
class Fixed(AbstractSampling):
    """One draw of points at the first step, kept for the whole run (the fixed collocation points
    of the original PINN papers and DeepXDE; what per-point weights need)."""

    period: int = 1

    def update(self, pool, term, model, per_point, generator):
        """Nothing: the points stay."""


#: the batch data key of per-point importance weights (:class:`Source`); mean-square reductions read it
IMPORTANCE = "importance"


def source_size(term, points: torch.Tensor, data=None) -> torch.Tensor | None:
    """``|s(x)|`` ``(N,)``: the size of what a term's residuals are with every field at zero (an
    equation's source), or None when it cannot be evaluated so (trainable parameters in it)."""
    e = term.expression
    if e.parameters:
        return None
    n = points.shape[0]
    zeros = [torch.zeros(n, dtype=points.dtype, device=points.device)]
    with torch.no_grad():
        r = e(points, None, zeros * len(e.atoms), zeros * len(e.combos), data=data or {})
    return r.square().sum(0).sqrt()


@dataclass(frozen=True)
class Source(AbstractSampling):
    r"""Fresh points every step, a ``fraction`` of them drawn where the equation's source
    :math:`s` (its residual with the fields at zero) is large: from ``candidates`` × the batch
    uniform points with probability :math:`\propto |s|` (sampling-importance-resampling), the rest
    uniform. Each point carries the importance weight

    .. math:: w(x) = \frac{1}{(1 - \alpha) + \alpha\,|s(x)| / \overline{|s|}},

    :math:`\alpha` the fraction and :math:`\overline{|s|}` the candidates' mean, the ratio of the
    uniform density to the mixture's: a weighted mean square over the batch estimates the uniform
    one without bias (to the candidates' estimate of the mean), so the loss is the stated one while
    a narrow source gets points. For stationary problems (a time window would move the points off
    their weights)."""

    adaptive: ClassVar[bool] = False
    fraction: float = 0.25
    candidates: int = 8

    def __post_init__(self):
        if not 0 < self.fraction < 1:
            raise ValueError(f"Source fraction must be in (0, 1), got {self.fraction}")
        if not isinstance(self.candidates, int) or self.candidates < 1:
            raise ValueError(f"Source candidates must be a positive integer, got {self.candidates!r}")

    def update(self, pool, term, model, per_point, generator):
        """Nothing: there is no pool."""

    def draw(self, term, n: int, generator: torch.Generator) -> Batch:
        m = int(round(self.fraction * n))
        cand = term.draw(self.candidates * n, generator)
        size = source_size(term, cand.points, cand.data)
        if size is None or not torch.isfinite(size).all() or not size.sum() > 0 or m == 0:
            return term.draw(n, generator)
        mean = size.mean()
        pick = torch.multinomial((size / size.sum()).to(torch.float64), m, replacement=True,
                                 generator=generator).to(cand.points.device)
        rest = term.draw(n - m, generator)
        batch = _cat(rest, cand.subset(pick))
        alpha = m / n
        own = torch.cat([source_size(term, rest.points, rest.data), size[pick]])
        data = dict(batch.data)
        data[IMPORTANCE] = 1.0 / ((1 - alpha) + alpha * own / mean)
        return Batch(batch.points, batch.normals, data)


#: ``sampling=`` names → rules
SAMPLINGS: dict[str, AbstractSampling] = {"uniform": Uniform(), "rad": RAD(), "rar-d": RARD(), "r3": R3(),
                                          "fixed": Fixed(), "source": Source()}


def sampling_rule(value) -> AbstractSampling:
    """A rule from a name in :data:`SAMPLINGS` or a rule instance (``None`` → uniform)."""
    if value is None:
        return SAMPLINGS["uniform"]
    if isinstance(value, AbstractSampling):
        return value
    if isinstance(value, str) and value in SAMPLINGS:
        return SAMPLINGS[value]
    raise ValueError(f"unknown sampling {value!r}; choose one of {', '.join(map(repr, SAMPLINGS))} or give a rule "
                     f"such as pinr.training.RAD(period=50)")


# -------------------------------------------------------------------------------------- pool
class Pool:
    """A residual term's points under ``rule``: a :class:`~pinr.training.terms.Batch` kept in
    the region's full time range (``batch``, drawn at the first :meth:`sample`), or none for
    non-adaptive rules."""

    def __init__(self, rule: AbstractSampling):
        self.rule = rule
        self.batch = None

    @property
    def adaptive(self) -> bool:
        return self.rule.adaptive

    def sample(self, term, generator: torch.Generator, *, window: float = 1.0):
        """The term's batch for one step: fresh points, or the pool (moved into the window)."""
        if not self.rule.adaptive:
            return term.windowed(self.rule.draw(term, term.batch, generator), window)
        if self.batch is None:
            self.batch = term.draw(term.batch, generator)
        return term.windowed(self.batch, window)

    def update(self, term, model, per_point: torch.Tensor, generator: torch.Generator) -> None:
        """Apply the rule (the callback calls this after every ``period``-th step)."""
        if self.batch is not None:
            self.rule.update(self, term, model, per_point, generator)

    def state_dict(self) -> dict:
        """The pool's tensors (empty for non-adaptive rules or before the first draw)."""
        b = self.batch
        if b is None:
            return {}
        out = {"points": b.points}
        if b.normals is not None:
            out["normals"] = b.normals
        if b.data:
            log.info("sampling pool data columns are not checkpointed; the pool is redrawn on resume")
            return {}
        return out

    def load_state_dict(self, state: dict, *, name: str = "") -> None:
        """Restore a pool written by :meth:`state_dict`; an empty state leaves it to be redrawn."""
        if not self.rule.adaptive:
            return
        if not state:
            log.info("resume: the checkpoint holds no sampling pool for term %r; it is redrawn", name)
            self.batch = None
            return
        self.batch = Batch(state["points"], state.get("normals"))


class AdaptiveSampling(AbstractCallback):
    """Hands each adaptive residual term's pool the step's per-point squared residuals (R3) or
    the model (RAD, RAR-D evaluate their candidates) after every ``period``-th step."""

    def on_step_end(self, loop, out: StepOutput):
        s = loop.state
        for term, values in zip(loop.terms, out.per_point):
            pool = term.sampler
            if pool is not None and pool.adaptive and s.step % pool.rule.period == 0:
                pool.update(term, s.model, values, s.generator)

    @staticmethod
    def wanted(terms) -> bool:
        """Whether any of ``terms`` samples adaptively."""
        return any(t.sampler is not None and t.sampler.adaptive for t in terms)
