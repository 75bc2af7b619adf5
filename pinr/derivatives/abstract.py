"""The interface every derivative engine implements (its own module: the engines in
:mod:`.engines` and :mod:`.func` implement it without importing each other)."""

from __future__ import annotations

import abc
from collections.abc import Sequence

import torch

from ..compiler.compile import Atom, Combo

__all__ = ["AbstractEngine"]


class AbstractEngine(abc.ABC):
    """Computes derivative atoms and combos of ``model(points)``.

    ``evaluate`` returns ``(atom_values, combo_values)``, lists of ``(N,)`` tensors, for points
    ``(N, d)``; ``coefficients[k]`` is coefficient ``k`` of the combos (a float or ``(N,)``).
    """

    name: str
    max_order: int

    @abc.abstractmethod
    def evaluate(self, model, points: torch.Tensor, atoms: Sequence[Atom], combos: Sequence[Combo] = (),
                 coefficients: Sequence = ()) -> tuple[list[torch.Tensor], list[torch.Tensor]]: ...
