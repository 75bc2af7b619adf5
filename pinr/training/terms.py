r"""Terms, the units of a loss.

A term draws a :class:`Batch` (``sample``) and turns the model's outputs on it into a weighted
scalar loss and per-point squared residuals (``loss``); the trainer sums the terms and never
learns what a term computes.

- :class:`Residual`: a compiled condition on its region — fresh points each step, the
  condition's residuals :math:`r_k(x)` reduced by its :class:`AbstractReduction` (mean square,
  mean absolute, sum of squares, causal weighting in time, or binary cross-entropy of the
  condition's two sides for classification).
- :class:`Observation`: measurements of an expression of the fields at given points,
  :math:`\frac wN\sum_i \|(e(x_i) - v_i)/\sigma_i\|^2`, on a random subset of the measurements
  each step. Another measurement operator (volume rendering of many samples along a ray into one
  pixel) is another term with its own ``sample`` and ``loss``.

A :class:`Model` bundles what a term evaluates: the network, the derivative engine and the
trainable parameters.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from ..compiler import Atom
from ..domains.base import AbstractInterior
from ..render.observation import Rendered
from .abstract import AbstractTerm
from .batch import Batch
from .rendering import RenderedTerm
from .sampling import IMPORTANCE, Fixed, Pool, Uniform, sampling_rule

__all__ = ["Batch", "Model", "AbstractTerm", "Residual", "Observation", "AbstractReduction", "MeanSquare",
           "MeanAbs", "SumSquare", "Causal", "BinaryCrossEntropy", "SelfAdaptive", "REDUCTIONS", "build_terms"]


@dataclass
class Model:
    """What terms evaluate: ``network`` (coordinates → fields), derivative ``engine`` and the
    trainable ``parameters`` (:class:`~pinr.training.parameters.ParameterSet`)."""

    network: torch.nn.Module
    engine: object
    parameters: torch.nn.Module

    def _inputs(self, expression, batch: Batch):
        """What ``expression`` is evaluated from at the batch's points: the combos' coefficients,
        the atoms' and combos' values, the trainable parameters' values."""
        p, n = batch.points, batch.normals
        coefs = expression.coefficients(p, n, batch.data)
        av, cv = self.engine.evaluate(self.network, p, expression.atoms, expression.combos, coefs)
        values = self.parameters.values() if expression.parameters else None
        return coefs, av, cv, ({k: v.to(p.dtype) for k, v in values.items()} if values else None)

    def residuals(self, expression, batch: Batch) -> torch.Tensor:
        """``expression`` (compiled) at the batch's points: ``(n_exprs, N)``."""
        _, av, cv, values = self._inputs(expression, batch)
        return expression(batch.points, batch.normals, av, cv, params=values, data=batch.data)

    def residuals_and_sizes(self, expression, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """``expression``'s residuals at the batch's points and the sizes of their additive parts
        (:meth:`~pinr.compiler.CompiledExpression.part_sizes`), both ``(n_exprs, N)``, without gradients."""
        p, n = batch.points, batch.normals
        coefs, av, cv, values = self._inputs(expression, batch)
        values = {k: v.detach() for k, v in values.items()} if values else None
        av, cv = [a.detach() for a in av], [c.detach() for c in cv]
        coefs = [c.detach() if isinstance(c, torch.Tensor) else c for c in coefs]
        members = [Atom(c.component, o) for c in expression.combos for o in c.orders]
        # a combo (a Laplacian) is a sum too: u = x^2 - y^2 balances u_xx against u_yy
        mv, _ = self.engine.evaluate(self.network, p, members) if members else ([], [])
        squares, i = [], 0
        for c in expression.combos:
            total = 0
            for k in c.coefficients:
                total = total + (coefs[k] * mv[i].detach()).square()
                i += 1
            squares.append(total)
        return (expression(p, n, av, cv, params=values, data=batch.data).detach(),
                expression.part_sizes(p, n, av, cv, params=values, data=batch.data, combo_squares=squares))


# ---------------------------------------------------------------------------------- reductions
class AbstractReduction(abc.ABC):
    """Residuals ``(n_residuals, N)`` of a batch → a scalar; ``pointwise`` gives the per-point
    values ``(N,)`` (detached) that resampling and adaptive backbones read: squared residuals
    summed over the residuals unless a reduction says otherwise. A reduction that is a weighted
    sum of squares (``least_squares``) gives its per-point weights ``(N,)`` by ``row_weights``."""

    least_squares: bool = False

    @abc.abstractmethod
    def __call__(self, residuals: torch.Tensor, batch: Batch) -> torch.Tensor: ...

    def row_weights(self, residuals: torch.Tensor, batch: Batch) -> torch.Tensor:
        """:math:`c_i` with ``self(residuals) == sum_i c_i sum_k residuals[k, i]**2`` (detached)."""
        raise NotImplementedError(f"{type(self).__name__} is not a weighted sum of squares")

    def pointwise(self, residuals: torch.Tensor) -> torch.Tensor:
        return residuals.detach().square().sum(0)


class MeanSquare(AbstractReduction):
    r""":math:`\sum_k \frac1N \sum_i w_i r_{k,i}^2`, :math:`w_i` the points' importance weights when
    the sampling rule gives them (:class:`~pinr.training.sampling.Source`), else 1."""

    least_squares = True

    def __call__(self, residuals, batch):
        w = _importance(batch)
        return (residuals.square().mean(dim=1) if w is None else (residuals.square() * w).mean(dim=1)).sum()

    def row_weights(self, residuals, batch):
        n = residuals.shape[1]
        w = _importance(batch)
        if w is not None:
            return w / n
        return torch.full((n,), 1.0 / n, dtype=residuals.dtype, device=residuals.device)


def _importance(batch):
    return None if batch is None else batch.data.get(IMPORTANCE)


class MeanAbs(AbstractReduction):
    r""":math:`\sum_k \frac1N \sum_i |r_{k,i}|` (SIREN's SDF losses)."""

    def __call__(self, residuals, batch):
        return residuals.abs().mean(dim=1).sum()


class SumSquare(AbstractReduction):
    r""":math:`\sum_{k,i} r_{k,i}^2`."""

    least_squares = True

    def __call__(self, residuals, batch):
        return residuals.square().sum()

    def row_weights(self, residuals, batch):
        return torch.ones(residuals.shape[1], dtype=residuals.dtype, device=residuals.device)


@dataclass(frozen=True)
class Causal(AbstractReduction):
    r"""Causal weighting (Wang, Sankaran & Perdikaris 2022): the sampled times (last coordinate)
    in ``chunks`` bins, :math:`L_i` the mean squared residual in bin i, and
    :math:`\mathcal L = \frac1M\sum_i w_i L_i` with :math:`w_i = \exp(-\epsilon\sum_{k<i} L_k)`
    (no gradient through the weights). As a weighted sum of squares, the point :math:`n` in bin
    :math:`i` of :math:`c_i` points weighs :math:`w_i / (M c_i)`."""

    epsilon: float
    chunks: int = 16
    least_squares = True

    def _bins(self, residuals, batch):
        """Each point's bin ``(N,)``, the bins' mean squared residuals ``(M,)`` and point counts ``(M,)``."""
        t = batch.points[:, -1]
        sq = residuals.square().sum(0)
        lo, hi = t.min().detach(), t.max().detach()
        m = self.chunks
        idx = torch.clamp(((t - lo) / torch.clamp(hi - lo, min=1e-12) * m).long(), max=m - 1)
        sums = torch.zeros(m, dtype=sq.dtype, device=sq.device).index_add(0, idx, sq)
        counts = torch.clamp(torch.zeros(m, dtype=sq.dtype, device=sq.device).index_add(0, idx, torch.ones_like(sq)),
                             min=1.0)
        return idx, sums / counts, counts

    def _weights(self, chunk):
        prior = torch.cumsum(chunk.detach(), 0) - chunk.detach()
        return torch.exp(-self.epsilon * prior)

    def __call__(self, residuals, batch):
        _, chunk, _ = self._bins(residuals, batch)
        return (self._weights(chunk) * chunk).mean()

    def row_weights(self, residuals, batch):
        idx, chunk, counts = self._bins(residuals.detach(), batch)
        return (self._weights(chunk) / (self.chunks * counts))[idx]


class BinaryCrossEntropy(AbstractReduction):
    r"""Mean binary cross-entropy with logits of a sided condition ``Eq(u, o)``: the rows are the
    logits :math:`u_k` then the labels :math:`o_k \in [0, 1]` (``(2k, N)``, as the compiler lays
    out a sided term), and
    :math:`\sum_k \frac1N\sum_i \operatorname{softplus}(u_{k,i}) - o_{k,i} u_{k,i}`, evaluated as
    :math:`\max(u, 0) - o u + \log(1 + e^{-|u|})` (finite for any logit; torch's
    ``binary_cross_entropy_with_logits``). Its per-point values are the cross-entropies."""

    def __call__(self, residuals, batch):
        return self._entropies(residuals).mean(dim=1).sum()

    def pointwise(self, residuals):
        return self._entropies(residuals.detach()).sum(0)

    @staticmethod
    def _entropies(rows: torch.Tensor) -> torch.Tensor:
        if rows.shape[0] % 2:
            raise ValueError(f"binary cross-entropy takes logits and labels stacked, an even number of rows; "
                             f"got {rows.shape[0]}")
        logits, labels = rows.chunk(2)
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none")


class SelfAdaptive(AbstractReduction):
    r"""Self-adaptive per-point weights (McClenny & Braga-Neto 2023) on a mean square: for the
    term's fixed points :math:`x_i` with trainable weights :math:`\lambda_i` (initially 1),

    .. math:: \mathcal L = \sum_k \frac1N \sum_i m(\lambda_i)\, r_{k,i}^2, \qquad m(\lambda) = \lambda^2,

    minimised over the network and **maximised** over the :math:`\lambda_i` (their optimiser group
    has ``maximize=True``): :math:`\partial\mathcal L/\partial\lambda_i = \tfrac2N\lambda_i
    \sum_k r_{k,i}^2 \ge 0`, so the weights grow where the residual stays large — a soft attention
    on the hard points. The points must stay fixed (sampling "fixed"); the weights are saved with
    checkpoints (:meth:`Residual.state_dict`)."""

    def __init__(self, n: int, *, dtype: torch.dtype, device: torch.device):
        self.weights = torch.ones(int(n), dtype=dtype, device=device, requires_grad=True)  #: λ ``(N,)``

    def __call__(self, residuals, batch):
        if residuals.shape[1] != self.weights.shape[0]:
            raise ValueError(f"self-adaptive weights: {self.weights.shape[0]} weights for a batch of "
                             f"{residuals.shape[1]} points; the term's points must stay fixed (sampling='fixed')")
        return (self.weights.square() * residuals.square()).mean(dim=1).sum()

    def reset(self) -> None:
        """All weights back to 1 (a fresh run)."""
        with torch.no_grad():
            self.weights.fill_(1.0)


#: a condition's ``reduction`` name → reduction
REDUCTIONS = {"mse": MeanSquare(), "mae": MeanAbs(), "sse": SumSquare(), "bce": BinaryCrossEntropy()}


# --------------------------------------------------------------------------------------- terms
class Residual(AbstractTerm):
    """A compiled condition (:class:`~pinr.compiler.CompiledTerm`) on its region: ``batch``
    points per step, moved into the time window when one is open, where ``sampling`` (a
    :class:`~pinr.training.sampling.AbstractSampling` rule; default fresh uniform draws by
    ``method`` every step) puts them."""

    def __init__(self, term, *, batch: int, reduction: AbstractReduction, dtype: torch.dtype, device: torch.device,
                 sampling=None):
        self.name, self.weight, self.region, self.method = term.name, float(term.weight), term.region, term.method
        self.expression, self.batch, self.reduction = term.expression, int(batch), reduction
        self.dtype, self.device = dtype, device
        self.sampler = Pool(sampling or Uniform())
        self._t0 = float(term.region.domain.bounds[-1, 0])

    def draw(self, n: int, generator: torch.Generator) -> Batch:
        """``n`` fresh points ``(n, d)`` from the region by the condition's method, in its full time range."""
        s = self.region.sample(n, method=self.method, generator=generator, dtype=self.dtype, device=self.device)
        return Batch(s.points, s.normals, s.data)

    def windowed(self, batch: Batch, window: float = 1.0) -> Batch:
        """``batch`` moved into the time window (unchanged when ``window`` is 1)."""
        if window >= 1.0:
            return batch
        return Batch(self.region.windowed(batch.points, window, self._t0), batch.normals, batch.data)

    def sample(self, generator, *, window=1.0):
        return self.with_known(self.sampler.sample(self, generator, window=window))

    def with_known(self, batch: Batch) -> Batch:
        """``batch`` carrying the values of the known parts its residuals read
        (:mod:`pinr.symbolic.known`), evaluated once at its final points: the residuals then read them
        as data, also under :func:`torch.func.vmap` (the natural-gradient step), where a numerical
        function of the points could not run."""
        known = {app.func.source: app for app in self.expression.data
                 if getattr(app.func.source, "known_at_points", False)}
        if not known:
            return batch
        data = dict(batch.data)
        for source, app in known.items():  # a known part of (x, y) in an (x, y, t) problem reads its own columns
            points = self.expression.data_points(app, batch.points)
            data[source] = torch.stack([source.interpolate(points, c) for c in range(source.channels)], dim=-1)
        return Batch(batch.points, batch.normals, data, batch.targets, batch.sigma)

    def loss(self, model, batch):
        res = model.residuals(self.expression, batch)
        return self.weight * self.reduction(res, batch), self.reduction.pointwise(res)

    @property
    def least_squares(self) -> bool:
        return self.reduction.least_squares

    def rows(self, model, batch):
        return model.residuals(self.expression, batch)

    def row_weights(self, rows, batch):
        return self.weight * self.reduction.row_weights(rows, batch)

    def state_dict(self) -> dict:
        if isinstance(self.reduction, SelfAdaptive):
            return {"point_weights": self.reduction.weights.detach().clone()}
        return {}

    def load_state_dict(self, state: dict) -> None:
        if isinstance(self.reduction, SelfAdaptive) and "point_weights" in state:
            with torch.no_grad():
                self.reduction.weights.copy_(state["point_weights"])

    def __repr__(self):
        return f"Residual({self.name!r} on {self.region!r}, batch {self.batch})"


class Observation(AbstractTerm):
    """Measurements (:class:`~pinr.Observation`, compiled): ``batch`` of them drawn without
    replacement each step (all of them when ``batch`` ≥ their number)."""

    def __init__(self, compiled, *, batch: int, dtype: torch.dtype, device: torch.device):
        obs = compiled.observation
        self.name, self.weight, self.expression = compiled.name, float(obs.weight), compiled.expression
        self.points = torch.tensor(obs.points, dtype=dtype, device=device)
        self.targets = torch.tensor(obs.values.T, dtype=dtype, device=device)
        self.sigma = None if obs.noise is None else torch.tensor(obs.noise.T, dtype=dtype, device=device)
        self.batch = min(int(batch), self.points.shape[0])

    def sample(self, generator, *, window=1.0):
        n = self.points.shape[0]
        if self.batch >= n:
            return Batch(self.points, targets=self.targets, sigma=self.sigma)
        idx = torch.randperm(n, generator=generator, device=generator.device)[:self.batch].to(self.points.device)
        sigma = None if self.sigma is None else self.sigma[:, idx]
        return Batch(self.points[idx], targets=self.targets[:, idx], sigma=sigma)

    least_squares = True

    def loss(self, model, batch):
        res = self.rows(model, batch)
        return self.weight * res.square().mean(dim=1).sum(), res.detach().square().sum(0)

    def rows(self, model, batch):
        res = model.residuals(self.expression, batch) - batch.targets
        return res if batch.sigma is None else res / batch.sigma

    def row_weights(self, rows, batch):
        n = rows.shape[1]
        return torch.full((n,), self.weight / n, dtype=rows.dtype, device=rows.device)

    def __repr__(self):
        return f"Observation({self.name!r}, {self.points.shape[0]} measurements, batch {self.batch})"


def _batch_size(name: str, own: int | None, chosen, *, grid_size: int | None, default: int) -> int:
    if own is not None:
        return own
    if isinstance(chosen, Mapping):
        if name in chosen:
            return int(chosen[name])
        chosen = None
    if grid_size is not None and chosen is None:
        return grid_size
    return int(chosen if chosen is not None else default)


def build_terms(compiled, *, batch=None, causal: float = 0.0, causal_chunks: int = 16, dtype: torch.dtype,
                device: torch.device, default_batch: int = 4096, sampling=None,
                self_adaptive: bool = False) -> list[AbstractTerm]:
    """The terms of a compiled problem: a :class:`Residual` per condition, an
    :class:`Observation` per observation.

    ``batch`` (int, or term name → int) sets points per step; a condition's own ``batch`` wins;
    grid regions default to the full grid. ``causal`` > 0 weights the interior conditions of a
    space-time problem causally. ``sampling`` (a name in
    :data:`~pinr.training.sampling.SAMPLINGS` or a rule; default "uniform") places the points of
    the interior conditions not sampled on a grid; the other terms draw uniformly.
    ``self_adaptive``: every mean-square condition not on a grid gets fixed points (one draw) and
    :class:`SelfAdaptive` per-point weights (causal weighting and adaptive sampling refuse it).
    """
    rule = sampling_rule(sampling)
    if self_adaptive and (causal or not isinstance(rule, (Uniform, Fixed))):
        raise ValueError("self-adaptive weights need fixed points; they do not combine with causal weighting or "
                         f"adaptive sampling (sampling={sampling!r}, causal={causal!r}): drop one")
    names = [t.name for t in compiled.terms] + [o.name for o in compiled.observations]
    if isinstance(batch, Mapping):
        hard = {c.name for c in compiled.problem.conditions if c.hard}  # imposed exactly: no points to draw
        unknown = set(batch) - set(names) - hard
        if unknown:
            raise ValueError(f"batch names unknown terms {sorted(unknown)}; terms are {names}")
    terms: list[AbstractTerm] = []
    timed = compiled.problem.domain.time is not None
    for t in compiled.terms:
        method = t.method or t.region.default_method
        grid = t.region.domain.size if method == "grid" else None
        n = _batch_size(t.name, t.batch, batch, grid_size=grid, default=default_batch)
        reduction = REDUCTIONS[t.reduction]
        if causal and timed and isinstance(t.region, AbstractInterior) and t.reduction == "mse":
            reduction = Causal(float(causal), int(causal_chunks))
        own = rule if isinstance(t.region, AbstractInterior) and method != "grid" else None
        if self_adaptive and method != "grid" and t.reduction == "mse":
            own, reduction = Fixed(), SelfAdaptive(n, dtype=dtype, device=device)
        terms.append(Residual(t, batch=n, reduction=reduction, dtype=dtype, device=device, sampling=own))
    for o in compiled.observations:
        n = _batch_size(o.name, o.observation.batch, batch, grid_size=None, default=default_batch)
        if isinstance(o.observation, Rendered):  # pixels along rays: the volume-rendering operator
            terms.append(RenderedTerm(o, fields=compiled.problem.fields, batch=n, dtype=dtype, device=device))
        else:
            terms.append(Observation(o, batch=n, dtype=dtype, device=device))
    return terms


def term_losses(model: Model, terms: Sequence[AbstractTerm], batches: Sequence[Batch]):
    """Weighted losses ``(n_terms,)`` and per-point squared residuals ``[(N_k,), ...]``."""
    out = [t.loss(model, b) for t, b in zip(terms, batches)]
    return torch.stack([o[0] for o in out]), [o[1] for o in out]
