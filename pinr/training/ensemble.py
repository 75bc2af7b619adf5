r"""Many models of one architecture trained together: one vmapped step over stacked parameters.
Floor: training (imports the statement, engines and backbones below it; the ``pr.sweep`` façade
that drives it lives in :mod:`pinr.sweep`).

A sweep's combinations are ordinary :class:`~pinr.solvers.PINNSolver` runs (same options, seeds,
initialisation and learning-rate schedule as ``pr.solve`` would use); when all of them have
parameters and buffers of the same shapes, their states are stacked
(:func:`torch.func.stack_module_state`) and every step is **one** forward/backward of

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
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch.func import functional_call, stack_module_state, vmap

from ..backbones import AbstractBackbone
from ..derivatives import FuncEngine
from ..errors import DivergenceError
from . import callbacks as cb
from .balancing import balancer
from .batch import Batch
from .sampling import AdaptiveSampling
from .terms import Model, term_losses

__all__ = ["StackedAdam", "train_vmapped", "vmap_groups", "unsupported"]

log = logging.getLogger(__name__)

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


def unsupported(solver, state) -> str | None:
    """Why ``solver``'s run (its built ``state``) cannot join a vmapped step (``None`` when it can)."""
    c = solver.config
    if getattr(state.model.network.backbone, "wants_point_losses", False):
        return (f"{c.model.backbone} caches its masks outside its buffers (state functional_call cannot swap "
                "per model)")
    if c.optim.optimizer != "adam":
        return f"optimizer {c.optim.optimizer!r} solves one model's Gauss-Newton system at a time"
    if any(getattr(p, "adam_part", None) is not None for p in state.model.network.parameters()):
        return (f"{c.model.backbone} trains parts with their own Adam settings (its paper's), which the stacked "
                "Adam does not carry")
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


def vmap_groups(states) -> list[list[int]]:
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


# ------------------------------------------------------------------------------ vmapped training
def train_vmapped(solvers, states, *, shared_batches: bool, progress: bool = False,
                   step_seconds: list | None = None) -> float:
    """Train ``states`` (of ``solvers``, same shapes) together; return the training seconds.
    On return each state holds its model's weights, Adam moments, schedule, step and history,
    as if it had been trained alone. ``step_seconds`` (a list) receives each step's wall time."""
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
        batches, in_dims = _draw(terms, states, shared_batches)
        for p in params.values():
            p.grad = None
        losses, _ = vmap(losses_of, in_dims=in_dims)(params, buffers, batches)  # (M, n_terms)
        _backward(losses, [s.weights for s in states])
        lrs = _update(adam, states, group_of, dtype)
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
            _record(states, detached, names, lrs, time.perf_counter() - t0)
            if progress:
                log.info("sweep step %d/%d, best loss %.3e", s0.step, total, float(detached.sum(1).min()))
    seconds = time.perf_counter() - t0
    _write_back(params, {} if scheduled else buffers, pairs)
    _adam_state(params, adam, pairs, states)
    _finish(first.config.optim.lbfgs_steps, states, views, t0, seconds)
    return time.perf_counter() - t0


def _backward(losses: torch.Tensor, weights: list) -> None:
    r"""Gradients of :math:`\sum_m \sum_i w_{m,i} L_{m,i}` (``losses`` ``(M, n_terms)``; a model's
    weights ``None``: all ones)."""
    if all(w is None for w in weights):
        losses.sum().backward()
        return
    ones = torch.ones(losses.shape[1], dtype=losses.dtype, device=losses.device)
    (losses * torch.stack([ones if w is None else w for w in weights])).sum().backward()


def _update(adam: StackedAdam, states, group_of: dict, dtype) -> list[list[float]]:
    """One stacked Adam step at each model's current rates (returned, per parameter group); then
    each model's own optimiser and schedule advance as they would alone (no gradients: its Adam
    changes nothing)."""
    lrs = [[g["lr"] for g in s.optimizer.param_groups] for s in states]
    adam.step({k: torch.tensor([lr[group_of[k]] for lr in lrs], dtype=dtype) for k in adam.params})
    for s in states:
        s.optimizer.step()
        s.scheduler.step()
        s.step += 1
    return lrs


def _draw(terms, states, shared: bool) -> tuple[list, tuple]:
    """One step's batches for every model and the ``in_dims`` of the model ``vmap`` over
    ``(params, buffers, batches)``: one shared batch per term (``shared``: every generator is
    advanced as it would be alone), else each model's own, stacked on the model axis."""
    if shared:
        batches = [_as_tuple(t.sample(states[0].generator, window=1.0)) for t in terms]
        for s in states[1:]:
            s.generator.set_state(states[0].generator.get_state())
        return batches, (0, 0, None)
    batches = _stack_batches([[t.sample(s.generator, window=1.0) for t in terms] for s in states])
    return batches, (0, 0, [(0, None if b[1] is None else 0, {k: 0 for k in b[2]}, None if b[3] is None else 0,
                             None if b[4] is None else 0) for b in batches])


def _record(states, losses: torch.Tensor, names: list[str], lrs: list[list[float]], elapsed: float) -> None:
    """Each model's history row: its step, total and per-term losses ``losses[m]``, rate and time."""
    for m, s in enumerate(states):
        values = losses[m].tolist()
        h = s.history
        h["step"].append(s.step)
        h["loss"].append(float(sum(values)))
        for n, v in zip(names, values):
            h.setdefault(f"loss/{n}", []).append(v)
        h["lr"].append(lrs[m][0])
        h["seconds"].append(elapsed)


def _finish(lbfgs_steps: int, states, views, t0: float, seconds: float) -> None:
    """Each model's own L-BFGS finish on its own module, and its training seconds."""
    lbfgs = cb.LBFGSFinish(lbfgs_steps)
    for s, v in zip(states, views):
        v.seconds = time.perf_counter() - t0
        lbfgs.on_train_end(v)
        s.seconds = time.perf_counter() - t0 if s.history.get("lbfgs") else seconds


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
