"""The interface every derivative engine implements (its own module: the engines in
:mod:`.engines` and :mod:`.func` implement it without importing each other)."""

from __future__ import annotations

import abc
from collections.abc import Sequence

import torch

from ..compiler.compile import Atom, Combo

__all__ = ["AbstractEngine", "assemble"]


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


def assemble(get, atoms: Sequence[Atom], combos: Sequence[Combo], coefficients: Sequence):
    """``(atom_values, combo_values)`` from ``get(component, orders) -> (N,)``, one derivative of one
    channel: each atom as it is, each combo :math:`\\sum_m a_m \\partial^{\\alpha_m} u_c` summed with its
    coefficients (for engines that compute derivatives one by one)."""
    atom_values = [get(a.component, a.orders) for a in atoms]
    combo_values = []
    for cb in combos:
        total = 0
        for orders, k in zip(cb.orders, cb.coefficients):
            total = total + coefficients[k] * get(cb.component, orders)
        combo_values.append(total)
    return atom_values, combo_values
