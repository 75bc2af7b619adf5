r"""Strategies: how a training run uses its devices (DESIGN: "a new way to run is one strategy").

A strategy sits between the loop and the hardware. :func:`~pinr.training.loop.train_step` calls
its :meth:`~AbstractStrategy.reduce` between ``backward()`` and ``optimizer.step()``; the solver
asks it which device to train on, prepares the train state with it (:meth:`~AbstractStrategy.prepare`)
and adds its callbacks (:meth:`~AbstractStrategy.callbacks`).

- :class:`SingleDevice` — one process, one device: the identity.
- :class:`DataParallel` — :math:`W` processes under ``torchrun`` (or in any initialised
  :mod:`torch.distributed` group), one replica each. Rank :math:`r` draws its own ``batch``
  points per term from its own stream, so a step sees :math:`W \cdot` ``batch`` points per term:
  **``batch`` is per rank**. After ``backward()`` the gradients of the network and of the
  trainable problem parameters are averaged,

  .. math:: g = \frac1W \sum_{r<W} \nabla_\theta \mathcal L_r,

  which for the mean reductions (mean square, mean absolute) is exactly the gradient of the loss
  on the union of the ranks' points: the step is the one-process step on the global batch, and
  the replicas, equal at the start (broadcast from rank 0), stay equal. The step's losses are
  averaged with the gradients, so every rank logs, guards and balances with the global loss.

Streams: rank 0 keeps the state's generator (seeded by ``seed``); rank :math:`r > 0` draws from a
generator seeded from rank 0's generator state and :math:`r` (:func:`rank_generator`). A checkpoint
holds rank 0's state, so a run resumes on any number of ranks: each derives its stream from it.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os

import torch
import torch.distributed as dist

from .loop import _STOP, AbstractCallback, Loop, StepOutput, TrainState

__all__ = ["AbstractStrategy", "SingleDevice", "DataParallel", "Synchronise", "MainOnlyValidation", "rank_generator",
           "environment_world", "from_environment", "is_main_process"]

log = logging.getLogger(__name__)


def rank_generator(base: torch.Generator, rank: int) -> torch.Generator:
    """The stream of rank ``rank``: ``base`` itself for rank 0; for :math:`r > 0` a new generator on
    ``base``'s device seeded with the first 63 bits of SHA-256(``base``'s state, :math:`r`) — a
    function of rank 0's state and the rank only, so any number of ranks derives the same streams."""
    if rank == 0:
        return base
    digest = hashlib.sha256(base.get_state().cpu().numpy().tobytes() + int(rank).to_bytes(8, "little")).digest()
    g = torch.Generator(device=base.device)
    g.manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))
    return g


def environment_world() -> tuple[int, int, int]:
    """``(WORLD_SIZE, RANK, LOCAL_RANK)`` as ``torchrun`` sets them (``(1, 0, 0)`` outside it);
    a one-line ``ValueError`` naming the variable when one is not an integer in range."""
    values = {}
    for name, default in (("WORLD_SIZE", 1), ("RANK", 0), ("LOCAL_RANK", 0)):
        text = os.environ.get(name)
        try:
            values[name] = default if text in (None, "") else int(text)
        except ValueError:
            raise ValueError(f"environment variable {name}={text!r} is not an integer; unset it or launch with "
                             "torchrun, which sets it") from None
    world, rank, local = values["WORLD_SIZE"], values["RANK"], values["LOCAL_RANK"]
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ValueError(f"WORLD_SIZE={world}, RANK={rank}, LOCAL_RANK={local} are inconsistent; unset them or "
                         "launch with torchrun, which sets them")
    return world, rank, local


def is_main_process() -> bool:
    """Whether this process writes files and shows progress: rank 0 of an initialised group, else
    ``RANK`` 0 (or unset)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return environment_world()[1] == 0


class AbstractStrategy:
    """How a run uses its devices. Every hook of this base is the one-process identity."""

    world_size: int = 1
    rank: int = 0

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run directory, shows progress and validates (rank 0)."""
        return self.rank == 0

    def device(self, requested: torch.device) -> torch.device:
        """The device this process trains on, given the one the options ask for."""
        return requested

    def prepare(self, state: TrainState, terms) -> None:
        """Make a fresh or resumed ``state`` this process's (its stream; replicas equal)."""

    def reduce(self, state: TrainState, losses: torch.Tensor) -> torch.Tensor:
        """Called after ``backward()``, before ``optimizer.step()``: combine the gradients of the
        parameters of ``state.optimizer``; returns the step's losses ``(n_terms,)`` to record."""
        return losses

    def average(self, params, losses: torch.Tensor) -> torch.Tensor:
        """:meth:`reduce` on the gradients of ``params`` (an L-BFGS closure's)."""
        return losses

    def total(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` summed over the processes (a natural-gradient step's ``J^T J``, ``J^T r`` and
        losses); with one process, ``tensor`` itself."""
        return tensor

    def stopped(self, requested: bool) -> bool:
        """Whether the loop stops after this step, given whether this process was asked to
        (:func:`~pinr.training.loop.request_stop`, Ctrl-C)."""
        return requested

    def callbacks(self, state: TrainState, terms, *, balanced: bool = False) -> list:
        """Parts of the loop the strategy needs, placed after pinr's schedules, balancers and
        samplers (``balanced``: a loss balancer sets ``state.weights``)."""
        return []

    def barrier(self) -> None:
        """Wait for every process (nothing to wait for with one)."""

    def __repr__(self):
        return f"{type(self).__name__}()"


class SingleDevice(AbstractStrategy):
    """One process on one device: every hook is the identity."""


def _backend(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def _dtype(state: TrainState) -> torch.dtype:
    """The working dtype of ``state``'s network (that of its losses and loss weights)."""
    return next(state.model.network.parameters()).dtype


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


class DataParallel(AbstractStrategy):
    r"""Data parallel over the processes of a :mod:`torch.distributed` group (see the module).

    With no group initialised, one is, from ``torchrun``'s environment (``WORLD_SIZE``, ``RANK``,
    ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``): NCCL when training on CUDA (device
    ``cuda:LOCAL_RANK``), gloo on the CPU; it is destroyed when the process exits. A group the
    user initialised is used as it is and left alone.
    """

    def __init__(self, requested: torch.device):
        if not dist.is_available():
            raise ValueError("data-parallel training needs torch.distributed, which this torch build lacks; "
                             "run one process")
        _, rank, local = environment_world()
        self.local_rank = local
        self._device = self._choose_device(requested, local)
        if not dist.is_initialized():
            backend = _backend(self._device)
            dist.init_process_group(backend, **({"device_id": self._device} if backend == "nccl" else {}))
            atexit.register(_destroy)
            log.info("initialised a %s process group: rank %d of %d", backend, rank, dist.get_world_size())
        self.world_size, self.rank = dist.get_world_size(), dist.get_rank()
        self._stop = False

    @staticmethod
    def _choose_device(requested: torch.device, local: int) -> torch.device:
        if requested.type == "cuda" and requested.index is None:
            if local >= torch.cuda.device_count():
                raise ValueError(f"LOCAL_RANK={local} but this node has {torch.cuda.device_count()} CUDA device(s); "
                                 "start at most that many processes per node (--nproc_per_node)")
            torch.cuda.set_device(local)
            return torch.device("cuda", local)
        return requested

    def device(self, requested: torch.device) -> torch.device:
        return self._device

    # --------------------------------------------------------------------- state
    def prepare(self, state: TrainState, terms) -> None:
        """Rank 0's parameters, buffers and loss weights on every rank; rank :math:`r` draws from
        :func:`rank_generator` (rank 0's state, :math:`r`); ranks :math:`r > 0` redraw adaptive
        sampling pools from their own stream (a checkpoint holds rank 0's)."""
        model = state.model
        with torch.no_grad():
            for t in [*model.network.parameters(), *model.network.buffers(), *model.parameters.parameters()]:
                dist.broadcast(t.data, src=0)
        state.weights = self.broadcast_optional(state.weights, _dtype(state))
        state.generator = rank_generator(state.generator, self.rank)
        if self.rank:
            for t in terms:
                if t.sampler is not None:
                    t.sampler.batch = None
                reset = getattr(getattr(t, "reduction", None), "reset", None)
                if reset is not None:  # self-adaptive weights belong to the points just redrawn
                    reset()

    def broadcast_optional(self, tensor: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
        """Rank 0's 1-d ``tensor`` (or ``None``) on every rank, in ``dtype``."""
        size = torch.tensor([-1 if tensor is None else tensor.numel()], dtype=torch.int64, device=self._device)
        dist.broadcast(size, src=0)
        n = int(size)
        if n < 0:
            return None
        out = (tensor.detach().reshape(-1).to(device=self._device, dtype=dtype).clone() if self.rank == 0
               else torch.empty(n, dtype=dtype, device=self._device))
        dist.broadcast(out, src=0)
        return out

    def reduce(self, state: TrainState, losses: torch.Tensor) -> torch.Tensor:
        # a group marked "local" (self-adaptive weights: one per point of this rank) is not shared
        return self.average([p for g in state.optimizer.param_groups if not g.get("local") for p in g["params"]],
                            losses)

    def average(self, params, losses: torch.Tensor) -> torch.Tensor:
        r"""Average the gradients of ``params`` over the ranks (one all-reduce per dtype, the losses
        riding with the gradients of their dtype) and return the averaged losses. A parameter
        without a gradient on this rank (``grad is None``: none of its terms reached it) counts as
        zeros, so every rank gets the same :math:`g`; one no rank reached keeps ``None``, as in one
        process (Adam then leaves it alone)."""
        w = self.world_size
        losses = losses.detach()
        # which parameters some rank reached, and whether some rank was asked to stop
        reached = torch.tensor([p.grad is not None for p in params] + [_STOP.is_set()], dtype=torch.float64,
                               device=self._device)
        groups: dict[torch.dtype, list[int]] = {}
        for i, p in enumerate(params):
            groups.setdefault(p.dtype, []).append(i)
        averaged = None
        for dtype, index in groups.items():
            parts = [params[i].grad.reshape(-1) if params[i].grad is not None
                     else torch.zeros(params[i].numel(), dtype=dtype, device=params[i].device) for i in index]
            carry = averaged is None and dtype == losses.dtype
            if carry:
                parts.append(losses.reshape(-1).to(params[index[0]].device))
            flat = torch.cat(parts)
            dist.all_reduce(flat)
            flat /= w
            offset = 0
            for i in index:
                n = params[i].numel()
                params[i].grad = flat[offset:offset + n].view_as(params[i])
                offset += n
            if carry:
                averaged = flat[offset:].view_as(losses).to(losses.device)
        if averaged is None:  # no parameter of the losses' dtype
            averaged = losses.to(self._device).clone()
            dist.all_reduce(averaged)
            averaged = (averaged / w).to(losses.device)
        dist.all_reduce(reached)
        *counts, stops = reached.tolist()
        for p, n in zip(params, counts):
            if n == 0:
                p.grad = None
        self._stop = stops > 0
        return averaged

    def total(self, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.detach().to(self._device).clone()
        dist.all_reduce(out)
        return out.to(tensor.device)

    def stopped(self, requested: bool) -> bool:
        """Whether some rank had been asked to stop when this step's gradients were averaged: every
        rank stops after the same step (a request that comes later is seen at the next step)."""
        return self._stop

    def callbacks(self, state: TrainState, terms, *, balanced: bool = False) -> list:
        return [Synchronise(self, terms, balanced=balanced)]

    def barrier(self) -> None:
        if self._device.type == "cuda":
            dist.barrier(device_ids=[self._device.index])
        else:
            dist.barrier()

    def __repr__(self):
        return f"DataParallel(rank {self.rank} of {self.world_size}, {self._device}, {dist.get_backend()})"


class Synchronise(AbstractCallback):
    r"""Keeps identical on every rank what each rank changes from its own points:

    - the loss-balancing weights ``state.weights`` (measured on each rank's batch): rank 0's,
      broadcast after the balancers have run (``on_step_begin``; only when ``balanced``);
    - statistics accumulated in the network's floating buffers (SAPE's per-node loss sums and
      weights): each step's increments :math:`\delta_r` are summed, :math:`b \leftarrow b +
      \sum_r \delta_r`, which is what the global batch would have accumulated (a buffer no rank
      changed stays bit-equal);
    - occupancy grids of rendered terms: after each refresh, the cell-wise maximum over the ranks,
      the grid's own rule :math:`e \leftarrow \max(\lambda e, \sigma)` over every rank's probes.
    """

    def __init__(self, strategy: DataParallel, terms, *, balanced: bool = False):
        self.strategy, self.terms, self.balanced = strategy, list(terms), bool(balanced)
        self._before: list[torch.Tensor] = []

    @staticmethod
    def _buffers(loop: Loop) -> list[torch.Tensor]:
        net = loop.state.model.network
        if not getattr(getattr(net, "backbone", None), "wants_point_losses", False):
            return []
        return [b for b in net.buffers() if b.is_floating_point()]

    def on_step_begin(self, loop: Loop) -> None:
        if self.balanced:
            loop.state.weights = self.strategy.broadcast_optional(loop.state.weights, _dtype(loop.state))
        self._before = [b.detach().clone() for b in self._buffers(loop)]

    def on_step_end(self, loop: Loop, out: StepOutput) -> None:
        buffers = self._buffers(loop)
        if buffers and len(buffers) == len(self._before):
            with torch.no_grad():
                delta = torch.cat([(b - a).reshape(-1).to(torch.float64) for b, a in zip(buffers, self._before)])
                dist.all_reduce(delta)
                offset = 0
                for b, a in zip(buffers, self._before):
                    n = b.numel()
                    b.copy_(a + delta[offset:offset + n].view_as(b).to(b.dtype))
                    offset += n
        step = loop.state.step
        for term in self.terms:
            grid = getattr(term, "grid", None)
            if grid is not None and step % term.quadrature.refresh == 0:
                dist.all_reduce(grid.estimates, op=dist.ReduceOp.MAX)
                grid._refresh()


class MainOnlyValidation(AbstractCallback):
    """``validation`` (a :class:`~pinr.training.callbacks.Validation`) on rank 0 only, at its own
    steps; the other ranks wait for it at a barrier there (and record only the step)."""

    def __init__(self, validation, strategy: AbstractStrategy):
        self.validation, self.strategy = validation, strategy

    def on_step_end(self, loop: Loop, out: StepOutput) -> None:
        s, every = loop.state, self.validation.every
        if every and s.step % every == 0 and s.step < s.total:
            self._run(loop, lambda: self.validation.on_step_end(loop, out))

    def on_train_end(self, loop: Loop) -> None:
        if loop.finished and loop.state.validation["step"][-1:] != [loop.state.step]:
            self._run(loop, lambda: self.validation.on_train_end(loop))

    def _run(self, loop: Loop, validate) -> None:
        if self.strategy.is_main:
            validate()
        else:
            loop.state.validation["step"].append(loop.state.step)
        self.strategy.barrier()


def from_environment(requested: torch.device) -> AbstractStrategy:
    """:class:`DataParallel` under ``torchrun`` (``WORLD_SIZE`` > 1) or in an initialised group of
    more than one process; :class:`SingleDevice` otherwise."""
    if dist.is_available() and dist.is_initialized():
        return DataParallel(requested) if dist.get_world_size() > 1 else SingleDevice()
    return DataParallel(requested) if environment_world()[0] > 1 else SingleDevice()
