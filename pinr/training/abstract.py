"""The interface of a loss term (its own module: the terms of every kind — residuals,
observations at points, rendered pixels — implement it without importing each other)."""

from __future__ import annotations

import abc

import torch

from .batch import Batch
from .sampling import Pool

__all__ = ["AbstractTerm"]


class AbstractTerm(abc.ABC):
    """One loss term: ``sample`` a batch, then ``loss(model, batch)`` → (weighted scalar,
    per-point values ``(N,)``, detached: squared residuals, or what its reduction says)."""

    name: str
    weight: float
    expression: object  # the compiled expression (its derivative orders choose the engine)
    sampler: Pool | None = None  #: where the term's points come from, when it draws them from a region

    @abc.abstractmethod
    def sample(self, generator: torch.Generator, *, window: float = 1.0) -> Batch: ...

    @abc.abstractmethod
    def loss(self, model, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]: ...

    def callbacks(self, progress) -> list:
        """Parts of the loop this term brings with it (e.g. an occupancy grid's refresh), given
        the run's progress bar (or ``None``); default none."""
        return []

    def state_dict(self) -> dict:
        """What a checkpoint keeps of this term beyond its sampler's pool (tensors only)."""
        return {}

    def load_state_dict(self, state: dict) -> None:  # noqa: B027  (optional hook: most terms keep no state)
        """Restore :meth:`state_dict`."""
