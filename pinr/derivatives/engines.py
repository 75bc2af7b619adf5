"""The ``autograd``, ``jet`` and ``func`` derivative engines behind one interface."""

from __future__ import annotations

import logging

import torch

from .abstract import AbstractEngine, assemble
from .func import FuncEngine

__all__ = ["AbstractEngine", "AutogradEngine", "JetEngine", "FuncEngine", "ENGINES", "get_engine", "select_engine"]

log = logging.getLogger(__name__)


class AutogradEngine(AbstractEngine):
    r"""Nested reverse mode: :math:`\partial_i u` by ``torch.autograd.grad(create_graph=True)``.

    Each ``autograd.grad`` call returns the whole gradient ``(N, d)`` of one scalar channel,
    which is cached, so ``u_x`` and ``u_y`` cost one backward pass and ``u_xx``, ``u_xy`` reuse
    it. Channels are differentiated separately (true per-channel Jacobians).
    """

    name = "autograd"
    max_order = 64

    def evaluate(self, model, points, atoms, combos=(), coefficients=()):
        needs = any(a.order for a in atoms) or bool(combos)
        with torch.enable_grad():
            x = points.detach().requires_grad_(True) if needs else points
            out = model(x)
            values: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}
            grads: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}

            def get(c: int, orders: tuple[int, ...]) -> torch.Tensor:
                if not any(orders):
                    return out[:, c]
                key = (c, orders)
                if key in values:
                    return values[key]
                i = max(k for k, o in enumerate(orders) if o)
                parent = orders[:i] + (orders[i] - 1,) + orders[i + 1:]
                g = grads.get((c, parent))
                if g is None:
                    y = get(c, parent)
                    (g,) = torch.autograd.grad(y, x, torch.ones_like(y), create_graph=True, allow_unused=True)
                    if g is None:
                        g = torch.zeros_like(x)
                    grads[(c, parent)] = g
                values[key] = g[:, i]
                return values[key]

            return assemble(get, atoms, combos, coefficients)


class JetEngine(AbstractEngine):
    r"""Forward-mode Taylor jets (:class:`pinr.derivatives.jet.Jet`) through jet-aware backbones.

    The needed first-derivative axes are seeded once; every second-order atom and every combo
    is one stream, so a Laplacian costs a single extra slot whatever the dimension.
    """

    name = "jet"
    max_order = 2

    def evaluate(self, model, points, atoms, combos=(), coefficients=()):
        from .jet import Jet

        if not getattr(model, "supports_jet", False):
            raise TypeError(f"{type(model).__name__} is not built from pinr's jet-aware primitives; "
                            "use engine='autograd'")
        high = [a for a in atoms if a.order > 2]
        if high:
            raise ValueError(f"the jet engine computes derivatives up to second order; {high[0]} needs "
                             f"order {high[0].order}: use engine='autograd'")
        d = points.shape[1]
        if all(a.order == 0 for a in atoms) and not combos:  # nothing to differentiate: plain forward
            out = model(points)
            return [out[:, a.component] for a in atoms], []
        axes = sorted({i for a in atoms for i in range(d) if a.orders[i]}
                      | {i for cb in combos for o in cb.orders for i in range(d) if o[i]})
        pos = {ax: k for k, ax in enumerate(axes)}

        def pair(orders):
            idx = [i for i in range(d) for _ in range(orders[i])]
            return pos[idx[0]], pos[idx[1]]

        streams, stream_of = [], {}
        for a in atoms:
            if a.order == 2:
                key = ("atom", a.orders)
                if key not in stream_of:
                    p, q = pair(a.orders)
                    stream_of[key] = len(streams)
                    streams.append(((p, q, 1.0),))
        combo_streams = []
        for cb in combos:  # combos that differ only in the channel they read share one stream
            key = ("combo", cb.orders, cb.coefficients)
            if key not in stream_of:
                stream_of[key] = len(streams)
                streams.append(tuple((*pair(o), coefficients[k]) for o, k in zip(cb.orders, cb.coefficients)))
            combo_streams.append(stream_of[key])
        jet = Jet.seed(points, axes, streams)
        out = model(jet)
        atom_values = []
        for a in atoms:
            if a.order == 0:
                atom_values.append(out.value[:, a.component])
            elif a.order == 1:
                (i,) = [k for k in range(d) if a.orders[k]]
                atom_values.append(out.first[pos[i], :, a.component])
            else:
                atom_values.append(out.second[stream_of[("atom", a.orders)], :, a.component])
        combo_values = [out.second[s, :, cb.component] for s, cb in zip(combo_streams, combos)]
        return atom_values, combo_values



#: name -> engine; ``auto`` chooses between ``jet`` and ``autograd`` only (:func:`select_engine`)
ENGINES = {"autograd": AutogradEngine, "jet": JetEngine, "func": FuncEngine}


def get_engine(name: str) -> AbstractEngine:
    """Engine by name; an unknown name lists the valid ones."""
    if name not in ENGINES:
        raise ValueError(f"unknown derivative engine {name!r}; choose one of {sorted(ENGINES)} (or 'auto')")
    return ENGINES[name]()


def select_engine(model, requested: str = "auto", *, max_order: int = 0, compile: bool = False,
                  functional: bool = False) -> AbstractEngine:
    """The engine for ``model`` and derivatives up to ``max_order``; ``requested`` forces one
    (forcing ``jet`` on a model that cannot take jets raises).

    ``auto``: ``jet`` for jet-aware models when second derivatives are needed (one forward
    stream per second-order operator beats nested reverse mode: 1.7–2.4× in ``pinr bench`` on
    CPU) or when the step is to be compiled (nested autograd cannot be); ``autograd`` for
    first derivatives only, where one reverse pass gives every input derivative while forward
    mode pays once per input (measured on CPU: poisson-image 169–193 vs 228–318 ms per step,
    the bench's 3-D eikonal case 75 vs 142 ms); ``autograd`` for other models and higher orders.

    ``functional``: the residuals are differentiated under :mod:`torch.func` transforms (the
    natural-gradient step's per-point Jacobian), which nested ``torch.autograd.grad`` cannot take:
    ``auto`` then chooses ``jet`` for jet-aware models up to second order, else ``func``; a forced
    ``autograd`` raises.
    """
    if requested != "auto":
        engine = get_engine(requested)
        if engine.name == "jet" and not getattr(model, "supports_jet", False):
            raise ValueError(f"engine='jet' needs a backbone built from pinr's primitives; "
                             f"{type(model).__name__} is not — use engine='autograd' or 'auto'")
        if max_order > engine.max_order:
            raise ValueError(f"engine {engine.name!r} computes derivatives up to order {engine.max_order}, "
                             f"the problem needs order {max_order}; use engine='autograd'")
        if functional and engine.name == "autograd" and max_order > 0:
            raise ValueError("engine='autograd' (nested torch.autograd.grad) cannot be differentiated point by point "
                             "under torch.func, which optimizer='natural' does; use engine='jet', 'func' or 'auto'")
        return engine
    jet_aware = getattr(model, "supports_jet", False)
    if functional and max_order > 0:
        if jet_aware and max_order <= JetEngine.max_order:
            return JetEngine()
        if max_order > FuncEngine.max_order:
            raise ValueError(f"optimizer='natural' differentiates the residuals under torch.func, whose engines reach "
                             f"order {FuncEngine.max_order}; the problem needs order {max_order}: use optimizer='adam'")
        return FuncEngine()
    if jet_aware and max_order <= JetEngine.max_order:
        if max_order == 1 and not compile:
            return AutogradEngine()
        return JetEngine()
    if not jet_aware:
        log.info("model %s is not jet-aware; using the autograd engine", type(model).__name__)
    else:
        log.info("derivatives of order %d exceed the jet engine's 2; using the autograd engine", max_order)
    return AutogradEngine()
