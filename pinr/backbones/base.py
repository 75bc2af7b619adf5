"""Base class of backbones and the network wrapper that normalises inputs."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from . import primitives as P

__all__ = ["AbstractBackbone", "BackboneTraining", "Network", "output_scales"]


@dataclass(frozen=True)
class BackboneTraining:
    r"""The optimiser settings a backbone is meant to be trained with, part of the backbone as
    its initialisation is.

    ``lr`` is the peak Adam learning rate :math:`\eta_0`, the start of the solver's cosine decay
    :math:`\eta_t = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})(1 + \cos(\pi t / T))`; it must be
    finite and positive. ``source`` says in one short phrase where the figure comes from (a
    paper, its official code, or pinr's own measurement), e.g. ``"SIREN paper"``.
    """

    lr: float
    source: str

    def __post_init__(self):
        lr = self.lr
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"BackboneTraining lr must be a finite positive number (a peak Adam learning "
                             f"rate such as 1e-4), got {lr!r}")
        if not isinstance(self.source, str) or not self.source.strip():
            raise ValueError(f"BackboneTraining source must say where the lr comes from (e.g. 'SIREN paper'), "
                             f"got {self.source!r}")
        object.__setattr__(self, "lr", float(lr))  # a numpy or int figure compares and prints as a float


class AbstractBackbone(nn.Module):
    """A pointwise map ``(N, in_features) → (N, out_features)`` written with pinr primitives.

    Because it is built from jet-aware primitives, ``forward`` accepts a tensor or a
    :class:`~pinr.derivatives.jet.Jet`. Progressive backbones override ``on_step``.

    ``recommended`` (a class attribute) is the backbone's :class:`BackboneTraining`; every
    concrete backbone declares its own, and this conservative default covers one that does not
    (:func:`~pinr.backbones.backbone_training` reads it by name). It is not called ``training``,
    which is :class:`torch.nn.Module`'s train/eval flag.
    """

    supports_jet: bool = True
    wants_point_losses: bool = False
    registry_name: str = ""
    recommended: ClassVar[BackboneTraining] = BackboneTraining(
        lr=1e-4, source="pinr default for backbones that state none")

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features

    def on_step(self, step: int, total: int) -> None:
        """Training-progress hook, called by the solver before each step."""

    def observe_point_losses(self, points: torch.Tensor, losses: torch.Tensor) -> None:
        """Per-point squared residuals ``(N,)`` at backbone inputs ``points`` ``(N, d)`` (in
        :math:`[-1, 1]^d`), passed each step when ``wants_point_losses`` is set (SAPE)."""


def output_scales(value, n_outputs: int) -> torch.Tensor:
    """``value`` (``None`` → 1, a number, or one positive number per output) as a float64 tensor
    ``(n_outputs,)``; a clear ``ValueError`` otherwise."""
    if value is None:
        return torch.ones(n_outputs, dtype=torch.float64)
    v = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if v.ndim != 1 or len(v) not in (1, n_outputs) or not np.all(np.isfinite(v)) or not np.all(v > 0):
        raise ValueError(f"output_scale must be a positive number or {n_outputs} positive numbers (one per "
                         f"output), got {value!r}")
    return torch.as_tensor(np.broadcast_to(v, (n_outputs,)).copy())


class Network(nn.Module):
    r"""Affine map of the domain's bounding box onto :math:`[-1, 1]^d`, then a backbone, whose
    outputs are multiplied by ``output_scale`` (a number or one per output; default 1).

    Both scalings are part of the network, so derivatives with respect to the problem's own
    coordinates come out right by the chain rule in either engine. The output scale lets the
    backbone work at unit size when the answer is much smaller or larger (the wave problem's
    pulse has amplitude 0.02, below a freshly initialised SIREN's own output).
    """

    def __init__(self, backbone: nn.Module, bounds: np.ndarray, output_scale=None):
        super().__init__()
        self.backbone = backbone
        b = torch.as_tensor(np.asarray(bounds, dtype=np.float64)).to(torch.get_default_dtype())
        center, half = (b[:, 0] + b[:, 1]) / 2, (b[:, 1] - b[:, 0]) / 2
        self.register_buffer("scale_weight", torch.diag(1.0 / half))
        self.register_buffer("scale_bias", -center / half)
        n_out = int(getattr(backbone, "out_features", 1))
        self.register_buffer("output_scale", output_scales(output_scale, n_out))  # float64 until .to(dtype)
        self.supports_jet = bool(getattr(backbone, "supports_jet", False))

    def forward(self, x):
        # the scale is kept in float64 until the module is converted; use it in the working dtype
        return P.scale(self.backbone(P.linear(x, self.scale_weight, self.scale_bias)),
                       self.output_scale.to(self.scale_weight.dtype))

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """As :class:`torch.nn.Module`'s; states saved before output scales existed (solutions,
        checkpoints) load with the scale 1 they were trained with."""
        state_dict = dict(state_dict)
        state_dict.setdefault("output_scale", torch.ones_like(self.output_scale))
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def on_step(self, step: int, total: int) -> None:
        hook = getattr(self.backbone, "on_step", None)
        if hook is not None:
            hook(step, total)

    def observe_point_losses(self, points: torch.Tensor, losses: torch.Tensor) -> None:
        """Forward per-point losses to the backbone, with points mapped to its :math:`[-1, 1]^d` inputs."""
        z = points.to(self.scale_weight.dtype) @ self.scale_weight.T + self.scale_bias
        self.backbone.observe_point_losses(z, losses)
