"""The interface of a loss term (its own module: the terms of every kind — residuals,
observations at points, rendered pixels — implement it without importing each other)."""

from __future__ import annotations

import abc

import torch

from .batch import Batch
from .sampling import Pool

__all__ = ["AbstractTerm"]


class AbstractTerm(abc.ABC):
    r"""One loss term: ``sample`` a batch, then ``loss(model, batch)`` → (weighted scalar,
    per-point values ``(N,)``, detached: squared residuals, or what its reduction says).

    A term whose loss is a weighted sum of squares, :math:`\mathcal L = \sum_i c_i \sum_k
    r_{k,i}^2` (``least_squares`` true), also gives its residuals ``rows(model, batch)``
    ``(K, N)`` — pointwise in the batch, so that second-order optimisers
    (:mod:`pinr.training.natural`) can differentiate them point by point — and their weights
    ``row_weights(rows, batch)`` ``(N,)``."""

    name: str
    weight: float
    expression: object  # the compiled expression (its derivative orders choose the engine)
    sampler: Pool | None = None  #: where the term's points come from, when it draws them from a region
    least_squares: bool = False  #: whether the loss is ``sum_i row_weights_i * sum_k rows_ki**2``
    #: for how many first steps a step costs more than later (an occupancy grid before it prunes):
    #: :class:`~pinr.training.callbacks.TimeEstimate` measures its second rate after them
    settles: int = 0

    @abc.abstractmethod
    def sample(self, generator: torch.Generator, *, window: float = 1.0) -> Batch: ...

    @abc.abstractmethod
    def loss(self, model, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]: ...

    def rows(self, model, batch: Batch) -> torch.Tensor:
        """Residuals ``(K, N)`` whose weighted squares are the loss; the value of the ``i``-th
        column depends on the ``i``-th point of the batch only."""
        raise NotImplementedError(f"term {self.name!r} ({type(self).__name__}) is not a weighted sum of squares")

    def row_weights(self, rows: torch.Tensor, batch: Batch) -> torch.Tensor:
        r"""Per-point weights ``(N,)`` :math:`c_i \ge 0` of :meth:`rows` (detached ``rows`` given),
        such that the loss is :math:`\sum_i c_i \sum_k r_{k,i}^2`."""
        raise NotImplementedError(f"term {self.name!r} ({type(self).__name__}) is not a weighted sum of squares")

    def callbacks(self, progress) -> list:
        """Parts of the loop this term brings with it (e.g. an occupancy grid's refresh), given
        the run's progress bar (or ``None``); default none."""
        return []

    def state_dict(self) -> dict:
        """What a checkpoint keeps of this term beyond its sampler's pool (tensors only)."""
        return {}

    def load_state_dict(self, state: dict) -> None:  # noqa: B027  (optional hook: most terms keep no state)
        """Restore :meth:`state_dict`."""
