r"""Second-order training: damped Gauss–Newton (energy natural gradient) steps on the stacked,
weighted residuals of every term.

When every term's loss is a weighted sum of squares (:attr:`~.abstract.AbstractTerm.least_squares`:
mean-square conditions, causal weighting, observations), the step's loss is one least-squares
objective over all of them,

.. math:: \mathcal L(\theta) = \|\rho(\theta)\|^2, \qquad
          \rho = \big(\sqrt{\lambda_t c_i}\, r_{k,i}(\theta)\big) \in \mathbb R^M,

with :math:`r_{k,i}` the ``k``-th residual of a term at its ``i``-th point, :math:`c_i` the term's
point weights (:meth:`~.abstract.AbstractTerm.row_weights`, :math:`w/N` for a mean square) and
:math:`\lambda_t` the balancing weight of term :math:`t` (1 unless a balancer sets one). Its
parameters :math:`\theta \in \mathbb R^P` are the network's weights and the problem's trainable
parameters (an inverse problem's unknowns are columns like any weight). With the residual Jacobian
:math:`J = \partial\rho/\partial\theta` (``M × P``) one step solves

.. math:: (J^\top J + \mu\,\bar d\, I)\,\delta = J^\top\rho, \qquad \bar d = \tfrac1P\operatorname{tr} J^\top J ,

and moves :math:`\theta \leftarrow \theta - \alpha\delta` with the step size :math:`\alpha \in
\bar\alpha\,\{1, \tfrac12, \tfrac14, \dots\}` that lowers :math:`\mathcal L` most on the step's batch
(ENGD's line search; the cap :math:`\bar\alpha` is 1 unless a schedule lowers it). For a linear
equation :math:`J^\top J` is the Gram matrix of the energy inner product and the step is the energy
natural gradient of Müller & Zeinhofer (ICML 2023); for a nonlinear one it is the Gauss–Newton
linearisation. The system is solved where it is smaller: ``P × P`` by Cholesky when
:math:`P \le M`, else through the ``M × M`` Woodbury form
:math:`\delta = J^\top (J J^\top + \mu\bar d I)^{-1}\rho` (the same vector). The relative damping
:math:`\mu` follows Levenberg–Marquardt: a step of size :math:`\alpha \ge 1/4` that lowers the loss
divides it by 10 (down to ``damping_min``), a step the line search had to cut to :math:`\alpha \le
1/32` doubles it, and a step that lowers nothing is retried with :math:`8\mu` (at most ``retries``
times on the same Jacobian; then the parameters stay where they were).

:math:`J` is computed per point, :math:`\partial r_{k,i}/\partial\theta` by reverse mode through the
term's own residuals (the jet engine's derivatives included) under :func:`torch.func.vmap` over the
batch's points, in chunks of ``chunk`` points — never by per-point Hessian loops. Hard constraints are
in the residuals (the compiler substitutes their form), complex fields are two residual rows.

Under data parallelism (:class:`~.strategy.DataParallel`) every rank forms :math:`J^\top J`,
:math:`J^\top\rho` and the line search's losses on its own points and they are summed over the ranks
(``P × P`` form only): every rank then takes the same step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from .batch import Batch
from .loop import AbstractCallback, AbstractUpdate, TrainState
from .terms import Model

__all__ = ["NaturalGradient", "NaturalStep", "NaturalStatus", "Trainables", "residual_jacobian", "stacked_residuals",
           "flatten", "damped_solve", "unfit_reason", "LINE_SEARCH"]

#: step sizes the line search tries, largest first (ENGD's grid: 2^-k)
LINE_SEARCH = tuple(0.5**k for k in range(11))


class Trainables(nn.Module):
    """The trained tensors of a model — the network's weights and the problem's trainable
    parameters — under one module, so that :func:`torch.func.functional_call` evaluates a term's
    residuals with other values of ``params`` (a list of the model's parameters, in the order of the
    Jacobian's columns)."""

    def __init__(self, model: Model, params: Sequence[torch.Tensor]):
        super().__init__()
        self.network, self.problem_parameters, self.engine = model.network, model.parameters, model.engine
        names = {id(p): n for n, p in self.named_parameters(remove_duplicate=False)}
        unknown = [i for i, p in enumerate(params) if id(p) not in names]
        if unknown:
            raise ValueError(f"the natural-gradient step trains the network's weights and the problem's trainable "
                             f"parameters only; parameter {unknown[0]} of the optimiser is neither (self-adaptive "
                             "point weights are trained by ascent: use optimizer='adam' for them)")
        self.names = [names[id(p)] for p in params]

    def forward(self, term, batch: Batch) -> torch.Tensor:
        return term.rows(Model(self.network, self.engine, self.problem_parameters), batch)


def _point_rows(trainables: Trainables, term):
    """``(theta, one point's fields) -> (K,)``: ``term``'s residuals at one point of a batch."""

    def one(theta, points, normals, data, targets, sigma):
        batch = Batch(points[None], None if normals is None else normals[None], {k: v[None] for k, v in data.items()},
                      None if targets is None else targets[:, None], None if sigma is None else sigma[:, None])
        return functional_call(trainables, theta, (term, batch))[:, 0]

    return one


def _fields(batch: Batch) -> tuple[tuple, tuple]:
    """A batch's per-point tensors and the axis of their points (for :func:`torch.func.vmap`)."""
    n = batch.points.shape[0]
    bad = [k for k, v in batch.data.items() if not isinstance(v, torch.Tensor) or v.dim() == 0 or v.shape[0] != n]
    if bad:
        raise ValueError(f"the natural-gradient step needs per-point data; {bad[0]!r} of the batch is not (N, ...)")
    data = dict(batch.data)
    values = (batch.points, batch.normals, data, batch.targets, batch.sigma)
    dims = (0, None if batch.normals is None else 0, {k: 0 for k in data},
            None if batch.targets is None else 1, None if batch.sigma is None else 1)
    return values, dims


def stacked_residuals(model: Model, terms: Sequence, batches: Sequence[Batch],
                      scales: Sequence[torch.Tensor] | None = None):
    r"""The terms' residuals at ``model``: ``(rows, scales)`` per term, rows ``(K, N)`` and
    :math:`\sqrt{c_i}` ``(N,)`` (computed from these rows unless ``scales`` are given: a step keeps
    the weights it started with)."""
    rows = [t.rows(model, b) for t, b in zip(terms, batches)]
    if scales is None:
        scales = [torch.sqrt(t.row_weights(r.detach(), b)) for t, r, b in zip(terms, rows, batches)]
    return rows, list(scales)


def residual_jacobian(model: Model, terms: Sequence, batches: Sequence[Batch], params: Sequence[torch.Tensor],
                      scales: Sequence[torch.Tensor], *, chunk: int = 1024) -> torch.Tensor:
    r""":math:`J = \partial\rho/\partial\theta` ``(M, P)``: rows in the order of :func:`flatten`
    (term by term, point-major), columns those of ``params`` flattened in order."""
    trainables = Trainables(model, params)
    theta = {n: p.detach() for n, p in zip(trainables.names, params)}
    blocks = []
    for term, batch, scale in zip(terms, batches, scales):
        one = jacrev(_point_rows(trainables, term))
        n = batch.points.shape[0]
        for start in range(0, n, chunk):
            index = slice(start, min(n, start + chunk))
            values, dims = _fields(batch.subset(index))
            parts = vmap(one, in_dims=(None, *dims))(theta, *values)
            m = index.stop - index.start
            block = torch.cat([parts[name].reshape(m, parts[name].shape[1], -1) for name in trainables.names], dim=2)
            blocks.append((block * scale[index, None, None]).reshape(-1, block.shape[2]))
    return torch.cat(blocks)


def flatten(rows: Sequence[torch.Tensor], scales: Sequence[torch.Tensor]) -> torch.Tensor:
    r""":math:`\rho` ``(M,)``: every term's weighted rows, point-major (point ``i``'s ``K`` residuals together)."""
    return torch.cat([(r * s).T.reshape(-1) for r, s in zip(rows, scales)])


def _n_rows(term) -> int:
    exprs = getattr(term.expression, "exprs", None)
    return len(exprs) if exprs else 1


def unfit_reason(terms: Sequence, n_params: int, *, itemsize: int, budget: int | None,
                 distributed: bool = False, max_flops: float | None = None) -> str | None:
    """Why the natural-gradient step does not fit this run (``None`` when it does): a term that is
    not a weighted sum of squares, a Jacobian and linear system larger than ``budget`` bytes, or a
    step whose system takes more than ``max_flops`` floating-point operations to form."""
    bad = [t for t in terms if not t.least_squares]
    if bad:
        t = bad[0]
        kind = type(getattr(t, "reduction", t)).__name__
        if kind == "SelfAdaptive":
            return (f"term {t.name!r} has self-adaptive point weights (balance='self-adaptive'), which are trained "
                    "by ascent, not by Gauss-Newton steps")
        return (f"term {t.name!r} ({kind}) is not a weighted sum of squares, which the Gauss-Newton step needs "
                "(mean-square conditions, causal weighting and observations are)")
    m = sum(_n_rows(t) * int(getattr(t, "batch", 0) or 0) for t in terms)
    side = n_params if distributed else min(m, n_params)
    need = itemsize * (2 * m * n_params + 2 * side * side)  # J and its chunked intermediates, the system and its factor
    if budget is not None and need > budget:
        from ..memory import format_bytes

        return (f"its Jacobian ({m} residuals x {n_params} parameters) and system need about {format_bytes(need)}, "
                f"more than the memory budget {format_bytes(budget)}; use fewer points (batch=) or a smaller network")
    flops = 2.0 * m * n_params * side
    if max_flops is not None and flops > max_flops:
        return (f"forming its system ({m} residuals x {n_params} parameters) takes {flops:.1e} operations a step, "
                f"more than the {max_flops:.0e} a step may take here; use fewer points (batch=) or a smaller network")
    return None


def damped_solve(gram: torch.Tensor, rhs: torch.Tensor, damping: float, *, jac: torch.Tensor | None = None
                 ) -> torch.Tensor | None:
    r"""The Gauss–Newton direction :math:`\delta = (J^\top J + \lambda I)^{-1} J^\top \rho` by Cholesky:
    from ``gram`` :math:`= J^\top J` and ``rhs`` :math:`= J^\top\rho` (``jac`` None), or in the Woodbury
    form from ``gram`` :math:`= J J^\top`, ``rhs`` :math:`= \rho` and ``jac``,
    :math:`\delta = J^\top (J J^\top + \lambda I)^{-1}\rho`. ``None`` when the damped matrix is not
    positive definite in its precision."""
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    factor, info = torch.linalg.cholesky_ex(gram + damping * eye)
    if int(info) != 0:
        return None
    solved = torch.cholesky_solve(rhs[:, None], factor)[:, 0]
    return solved if jac is None else jac.T @ solved


class NaturalGradient(torch.optim.Optimizer):
    r"""The damped Gauss–Newton / energy natural-gradient optimiser (see the module).

    ``damping`` is the starting relative damping :math:`\mu` (multiplying the mean diagonal of
    :math:`J^\top J`), kept in ``[damping_min, damping_max]``: divided by ``shrink`` after a step
    whose size was at least ``shrink_above``, doubled after one the line search cut to
    ``grow_below`` or less, multiplied by 8 (and the system solved again) when no step size lowers
    the loss, at most ``retries`` times. ``line_search`` are the step sizes tried, largest first.
    The defaults were measured on the 2-D Poisson problem of the suite (fresh points each step):
    3.6e-7 after 100 steps, where dividing by 3 only after full steps left 2.6e-5
    (``bench/RESULTS.md``).
    The group's ``lr`` is the largest step size the line search tries (1, or what a schedule makes
    it: :class:`~pinr.training.optimizers.Natural` decays it at the end of a run),
    ``step_size`` the last step size taken (0 when none lowered the loss) and ``damping`` the
    current :math:`\mu`; all are saved with :meth:`state_dict`.

    :meth:`step` takes ``closure(jacobian: bool) -> (rho (M,), J (M, P) or None)``, the stacked
    weighted residuals (and their Jacobian) at the parameters' current values.
    """

    def __init__(self, params, *, damping: float = 1e-3, damping_min: float = 1e-10, damping_max: float = 1e6,
                 shrink: float = 10.0, shrink_above: float = 0.25, grow_below: float = 1 / 32,
                 line_search: Sequence[float] = LINE_SEARCH, retries: int = 4):
        if not (math.isfinite(damping) and damping > 0 and 0 < damping_min <= damping <= damping_max):
            raise ValueError(f"natural gradient: need 0 < damping_min <= damping <= damping_max, got {damping_min!r}, "
                             f"{damping!r}, {damping_max!r}")
        steps = tuple(float(a) for a in line_search)
        if not steps or any(not 0 < a <= 4 for a in steps):
            raise ValueError(f"natural gradient: line_search step sizes must lie in (0, 4], got {line_search!r}")
        if not (shrink > 1 and 0 < grow_below < shrink_above):
            raise ValueError(f"natural gradient: need shrink > 1 and 0 < grow_below < shrink_above, got {shrink!r}, "
                             f"{grow_below!r}, {shrink_above!r}")
        super().__init__(params, {"lr": 1.0, "damping": float(damping), "step_size": 0.0})
        self.damping_min, self.damping_max = float(damping_min), float(damping_max)
        self.shrink, self.shrink_above, self.grow_below = float(shrink), float(shrink_above), float(grow_below)
        self.line_search, self.retries = steps, int(retries)
        self.last: dict = {}  #: what the last step did: loss before and after, step size, damping, solve form

    def _params(self) -> list[torch.Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    @torch.no_grad()
    def _set(self, params, start: torch.Tensor, direction: torch.Tensor | None, alpha: float) -> None:
        offset = 0
        for p in params:
            n = p.numel()
            value = start[offset:offset + n].view_as(p)
            p.copy_(value if direction is None else value - alpha * direction[offset:offset + n].view_as(p))
            offset += n

    def step(self, closure: Callable, *, total: Callable[[torch.Tensor], torch.Tensor] | None = None,
             distributed: bool = False) -> float:
        """One damped Gauss–Newton step; ``total`` sums a tensor over the processes (data
        parallel: ``distributed`` forms ``J^T J`` on each rank). Returns the loss before the step."""
        total = total or (lambda t: t)
        params = self._params()
        group = self.param_groups[0]
        with torch.enable_grad():
            rho, jac = closure(True)
        rho, jac = rho.detach(), jac.detach()
        m, p = jac.shape
        before = float(total(rho.square().sum()))
        primal = distributed or p <= m
        if primal:
            gram, rhs = total(jac.T @ jac), total(jac.T @ rho)
        else:
            gram, rhs = jac @ jac.T, rho
        mean_diagonal = float(total(jac.square().sum())) / p
        mu, cap = float(group["damping"]), float(group["lr"])
        start = torch.cat([q.detach().reshape(-1) for q in params])
        taken, after = 0.0, before
        for _ in range(self.retries + 1):
            direction = damped_solve(gram, rhs, mu * max(mean_diagonal, 1e-300), jac=None if primal else jac)
            if direction is None:  # not positive definite in this precision: more damping
                mu = min(self.damping_max, mu * 8)
                continue
            best, best_alpha = before, 0.0
            for alpha in (cap * a for a in self.line_search):
                self._set(params, start, direction, alpha)
                loss = float(total(closure(False)[0].detach().square().sum()))
                if math.isfinite(loss) and loss < best:
                    best, best_alpha = loss, alpha
                elif best_alpha:  # past the best step size of this direction
                    break
            if best_alpha:
                taken, after = best_alpha, best
                if best_alpha >= self.shrink_above * cap:
                    mu = max(self.damping_min, mu / self.shrink)
                elif best_alpha <= self.grow_below * cap:
                    mu = min(self.damping_max, mu * 2)
                break
            mu = min(self.damping_max, mu * 8)
        self._set(params, start, direction if taken else None, taken)
        group["step_size"], group["damping"] = taken, mu
        self.last = {"scale": mean_diagonal, "loss": before, "after": after, "alpha": taken, "damping": mu,
                     "form": "P x P" if primal else "Woodbury N x N", "residuals": m, "parameters": p}
        return before


class NaturalStep(AbstractUpdate):
    r"""A training step by :class:`NaturalGradient` (the state's optimiser): the batches' stacked
    residuals and their Jacobian, one damped Gauss–Newton step, the terms' losses before it
    (``(n_terms,)``, the balancing weights not applied, as a first-order step records them).
    ``chunk``: points per vmapped Jacobian block (memory)."""

    def __init__(self, chunk: int = 1024):
        self.chunk = int(chunk)

    def __call__(self, state: TrainState, terms, batches, losses_fn, strategy=None):
        model, optimizer = state.model, state.optimizer
        params = optimizer._params()
        weights = state.weights
        with torch.no_grad():
            rows, scales = stacked_residuals(model, terms, batches)
        if weights is not None:
            scales = [s * torch.sqrt(w) for s, w in zip(scales, weights)]
        losses = torch.stack([(r.square().sum(0) * s.square()).sum() for r, s in zip(rows, scales)])
        if weights is not None:
            losses = losses / weights
        per_point = [r.square().sum(0) for r in rows]

        def closure(jacobian: bool):
            if not jacobian:
                with torch.no_grad():
                    return flatten(stacked_residuals(model, terms, batches, scales)[0], scales), None
            return (flatten(rows, scales),
                    residual_jacobian(model, terms, batches, params, scales, chunk=self.chunk))

        distributed = strategy is not None and strategy.world_size > 1
        optimizer.step(closure, total=strategy.total if distributed else None, distributed=distributed)
        state.scheduler.step()
        if strategy is not None:
            losses = strategy.average([], losses)  # the global losses; every rank learns of a stop request
        return losses, per_point


class NaturalStatus(AbstractCallback):
    """Shows the step size taken and the damping of the natural-gradient step next to the losses
    (``lr`` there is the largest step size the line search tries) and records them in the history
    (columns ``damping``, ``step_size``) at log steps."""

    def __init__(self, progress, log_every: int):
        self.progress, self.log_every = progress, int(log_every)

    def on_step_end(self, loop, out):
        s = loop.state
        if not (s.step % self.log_every == 0 or s.step == s.total or s.step == loop.first_step + 1):
            return  # the log steps of the history (callbacks.is_log_step)
        group = s.optimizer.param_groups[0]
        if self.progress is not None:  # "lr" shows the largest step size tried, "step" the one taken
            self.progress.extra["step"] = f"{group['step_size']:.3g}"
            self.progress.extra["damping"] = f"{group['damping']:.1e}"
        s.history.setdefault("damping", []).append(float(group["damping"]))
        s.history.setdefault("step_size", []).append(float(group["step_size"]))
