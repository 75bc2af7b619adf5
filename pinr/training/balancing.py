r"""Loss balancing: callbacks that set the per-term weights of the loop's state
(:attr:`~pinr.training.loop.TrainState.weights`), which multiply the terms' own losses in each
step.

A PINN's terms differ by orders of magnitude in size and stiffness (a Helmholtz residual with
:math:`k = 4\pi` is :math:`10^3` times its boundary term at the start), and a plain sum lets the
largest one decide the gradient. Each balancer here measures the terms on a fresh batch every
``every`` steps and sets

.. math:: \hat\lambda_i = \frac{\sum_j s_j}{s_i}, \qquad
          \lambda_i \leftarrow \alpha\,\lambda_i + (1 - \alpha)\,\hat\lambda_i

from a per-term size :math:`s_i` — the first update takes :math:`\hat\lambda` as it is:

- :class:`GradNormBalance` — :math:`s_i = \|\nabla_\theta \mathcal L_i\|`, learning-rate
  annealing by gradient norms (Wang, Teng & Perdikaris 2021, in the form of Wang et al.'s
  2023 "expert's guide"): every term then pulls on the weights with the same strength.
- :class:`NTKBalance` — :math:`s_i = \operatorname{tr} K_{ii} / N_i`, the mean diagonal of the
  term's neural tangent kernel :math:`\|\nabla_\theta r_i(x_n)\|^2` over ``points`` of the
  batch (Wang, Yu & Perdikaris 2022): every term then converges at the same rate.

``balance="self-adaptive"`` is the third method, per point rather than per term: self-adaptive
weights (McClenny & Braga-Neto 2023) are trained with the network, by gradient *ascent*, inside
each term's reduction (:class:`pinr.training.terms.SelfAdaptive`); it needs no callback.

Every :math:`\hat\lambda_i` lies in :math:`[1, 10^6]` (a term already solved, of zero size, gets
:math:`10^6`, not infinity); the weights are saved with checkpoints.
"""

from __future__ import annotations

import torch

from .loop import AbstractCallback
from .terms import term_losses

__all__ = ["AbstractBalance", "GradNormBalance", "NTKBalance", "BALANCING", "balancer"]


class AbstractBalance(AbstractCallback):
    """Sets ``state.weights`` from per-term sizes every ``every`` steps (smoothing ``alpha``)."""

    name = "none"

    def __init__(self, every: int = 100, alpha: float = 0.9):
        if not (isinstance(every, int) and every >= 1):
            raise ValueError(f"balancing: every must be a positive integer, got {every!r}")
        if not 0 <= alpha < 1:
            raise ValueError(f"balancing: alpha must be in [0, 1), got {alpha!r}")
        self.every, self.alpha = every, float(alpha)

    def sizes(self, loop, batches) -> torch.Tensor:
        """Per-term sizes ``(n_terms,)`` (larger: the term dominates more)."""
        raise NotImplementedError

    def on_step_begin(self, loop):
        s = loop.state
        if len(loop.terms) < 2 or s.step % self.every:
            return
        batches = [t.sample(s.generator, window=s.window) for t in loop.terms]
        size = self.sizes(loop, batches).detach()
        total = size.sum()
        if not torch.isfinite(total) or total <= 0:  # nothing to measure (all solved) or a bad step
            return
        new = total / torch.clamp(size, min=1e-6 * total)  # in [1, 1e6]: a solved term gets at most 1e6
        s.weights = new if s.weights is None else self.alpha * s.weights + (1 - self.alpha) * new


def _parameters(loop) -> list[torch.Tensor]:
    return [p for p in loop.state.model.network.parameters() if p.requires_grad]


class GradNormBalance(AbstractBalance):
    r""":math:`s_i = \|\nabla_\theta \mathcal L_i\|_2` over the network's weights."""

    name = "gradnorm"

    def sizes(self, loop, batches):
        params = _parameters(loop)
        losses, _ = term_losses(loop.state.model, loop.terms, batches)
        norms = []
        for i in range(len(loop.terms)):
            grads = torch.autograd.grad(losses[i], params, retain_graph=i + 1 < len(loop.terms), allow_unused=True)
            norms.append(torch.sqrt(sum((g.square().sum() for g in grads if g is not None),
                                        torch.zeros((), dtype=losses.dtype, device=losses.device))))
        return torch.stack(norms)


class NTKBalance(AbstractBalance):
    r""":math:`s_i = \frac1m\sum_{n\le m} \|\nabla_\theta \sqrt{\mathcal L_i(x_n)}\|^2` on the
    first ``points`` points of the term's batch — for a mean-square term of weight :math:`w`
    with one residual this is :math:`w\,\|\nabla_\theta r_i(x_n)\|^2`, the diagonal of
    :math:`K_{ii}` (one backward pass per point)."""

    name = "ntk"

    def __init__(self, every: int = 100, alpha: float = 0.9, points: int = 32):
        super().__init__(every, alpha)
        self.points = int(points)

    def sizes(self, loop, batches):
        params, model = _parameters(loop), loop.state.model
        out = []
        for term, batch in zip(loop.terms, batches):
            n = min(self.points, batch.points.shape[0])
            total = torch.zeros((), dtype=batch.points.dtype, device=batch.points.device)
            for k in range(n):
                loss, _ = term.loss(model, batch.subset(slice(k, k + 1)))
                grads = torch.autograd.grad(torch.sqrt(loss + torch.finfo(loss.dtype).tiny), params, allow_unused=True)
                total = total + sum((g.square().sum() for g in grads if g is not None), torch.zeros_like(total))
            out.append(total / n)
        return torch.stack(out)


#: ``balance=`` option → callback type (``"none"``: fixed weights; ``"self-adaptive"``: per-point
#: weights trained in the terms' reductions, no callback)
BALANCING = {"none": None, "gradnorm": GradNormBalance, "ntk": NTKBalance, "self-adaptive": None}


def balancer(name: str, every: int = 100) -> AbstractBalance | None:
    """The balancing callback for the option ``balance=name``."""
    if name not in BALANCING:
        raise ValueError(f"unknown balance {name!r}; choose one of {sorted(BALANCING)}")
    kind = BALANCING[name]
    return None if kind is None else kind(every)
