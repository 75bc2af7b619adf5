r"""The ``func`` derivative engine: derivative atoms by :mod:`torch.func` transforms.

The network is read as a function of one coordinate vector, :math:`f: \mathbb R^d \to \mathbb R^W`,
:math:`f(x) = \text{model}(x^\top)_0`, and its derivative tensors are formed per point and
mapped over the points with :func:`torch.func.vmap`:

.. math::
    D^1 f(x)_{c,i} = \partial_i f_c(x) \quad (\texttt{jacrev}), \qquad
    D^2 f(x)_{c,i,j} = \partial_i\partial_j f_c(x) \quad (\texttt{hessian} =
    \texttt{jacfwd}(\texttt{jacrev})),

    D^{k+1} f = \texttt{jacfwd}(D^k f) \quad (k \ge 2).

An atom :math:`\partial^{\alpha} u_c` (multi-index :math:`\alpha`, :math:`|\alpha| = k`) is the
entry :math:`D^k f_{c, i_1 \dots i_k}` with the axes :math:`i` listed :math:`\alpha_i` times; a
combo :math:`\sum_m a_m \partial^{\alpha_m} u_c` sums such entries with its coefficients.

It is the third, independent engine (the tests hold ``func == jet == autograd`` in float64), and
composes with an outer :func:`torch.func.vmap` over stacked models (what ``autograd``'s
``torch.autograd.grad`` cannot). It costs a full derivative tensor per order (``d^k`` entries per
channel), so ``auto`` never chooses it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch.func import hessian, jacfwd, jacrev, vmap

from .abstract import AbstractEngine, assemble

__all__ = ["FuncEngine"]


class FuncEngine(AbstractEngine):
    r"""Derivative atoms and combos by ``jacrev`` / ``hessian`` / nested ``jacfwd`` of the
    per-point network :math:`x \mapsto \text{model}(x)`, under ``vmap`` over the points
    ``(N, d)``. Any ``nn.Module`` made of pointwise operations; orders up to ``max_order``."""

    name = "func"
    max_order = 4

    def evaluate(self, model, points, atoms, combos=(), coefficients=()):
        orders = [a.orders for a in atoms] + [o for cb in combos for o in cb.orders]
        top = max((sum(o) for o in orders), default=0)
        if top > self.max_order:
            raise ValueError(f"the func engine computes derivatives up to order {self.max_order}; an atom needs "
                             f"order {top}: use engine='autograd'")

        def point(x: torch.Tensor) -> torch.Tensor:  # (d,) -> (W,)
            return model(x.unsqueeze(0)).squeeze(0)

        tensors = {0: model(points)}  # order k -> (N, W, d, ..., d)
        needed = {sum(o) for o in orders if sum(o)}
        fn = point
        with warnings.catch_warnings():
            # forward mode loads torch's jvp decompositions on first use, through torch.jit.script,
            # which torch 2.13 itself deprecates: its warning is torch's, not the caller's
            warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=DeprecationWarning)
            for k in range(1, top + 1):
                fn = jacrev(point) if k == 1 else hessian(point) if k == 2 else jacfwd(fn)
                if k in needed:
                    tensors[k] = vmap(fn)(points)

        def get(component: int, multi: Sequence[int]) -> torch.Tensor:
            index = [i for i, o in enumerate(multi) for _ in range(o)]
            return tensors[len(index)][(slice(None), component, *index)]

        return assemble(get, atoms, combos, coefficients)
