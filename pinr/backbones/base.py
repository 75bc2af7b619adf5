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

__all__ = ["AbstractBackbone", "AdamPart", "BackboneTraining", "Network", "embedded_features", "output_scales",
           "input_box"]


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


@dataclass(frozen=True)
class AdamPart:
    r"""Adam's settings for one part of a backbone (a hash grid's tables, its MLP), where the part's
    paper trains it unlike the rest: the group's rate is the run's :math:`\eta` times ``lr_scale``,
    with its own ``betas``, ``eps`` and L2 ``weight_decay``. A backbone attaches one to a parameter
    as ``param.adam_part``; pinr's Adam (:mod:`pinr.training.optimizers`) puts parameters with equal
    parts in one group and the rest in the run's own."""

    lr_scale: float = 1.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0

    def __post_init__(self):
        ok = (all(isinstance(v, (int, float)) and math.isfinite(v) for v in (self.lr_scale, self.eps,
                                                                            self.weight_decay, *self.betas))
              and self.lr_scale > 0 and self.eps > 0 and self.weight_decay >= 0 and len(self.betas) == 2
              and all(0 <= b < 1 for b in self.betas))
        if not ok:
            raise ValueError(f"AdamPart needs lr_scale > 0, eps > 0, weight_decay >= 0 and two betas in [0, 1), got "
                             f"{self!r}")

    def group(self, lr: float) -> dict:
        """Adam's parameter-group settings at the run's rate ``lr`` (without ``params``)."""
        return {"lr": lr * self.lr_scale, "betas": tuple(self.betas), "eps": self.eps,
                "weight_decay": self.weight_decay}


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
    view_dependent: bool = False  #: ``forward(x, directions)`` takes view directions too (NeRF's colour)
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


def embedded_features(dim: int, periodic=()) -> int:
    """The backbone's input width for ``dim`` coordinates of which those in ``periodic`` are
    embedded periodically (two features each)."""
    return int(dim) + len(tuple(periodic))


def input_box(bounds, time_axis: int | None = None, time_scale: float | None = None) -> np.ndarray:
    r"""The box :class:`Network` maps onto :math:`[-1, 1]^d`: ``bounds`` ``(d, 2)``, with the time
    axis (index ``time_axis``) replaced by :math:`t_{mid} \pm` ``time_scale`` when one is given.

    The domain's own box scales each axis by its half-length, which for space and time is a choice of
    units: a wave of speed :math:`c` that is as fine in time as in space (:math:`\omega = c k`) looks
    :math:`c\,h_t / h_x` times finer in time than in space to the network. A freshly built SIREN is
    as rough along every input, so a time interval much shorter than the space box (a window of a
    longer run, the 2-D pulse's :math:`[0, 0.4]` against :math:`[-1, 1]^2`) starts with time
    derivatives far above the answer's. Measured on the 2-D wave, :math:`t \in [0, 0.1]`, 1,000 steps:
    rel. L2 1.03 with the box (the pulse lost), 0.13 with ``time_scale`` :math:`= h_x / c = 1`."""
    box = np.array(bounds, dtype=np.float64)
    if time_scale is not None and time_axis is not None:
        mid = box[time_axis].mean()
        box[time_axis] = (mid - float(time_scale), mid + float(time_scale))
    return box


class Network(nn.Module):
    r"""Affine map of the domain's bounding box onto :math:`[-1, 1]^d`, then a backbone, whose
    outputs are multiplied by ``output_scale`` (a number or one per output; default 1).

    Both scalings are part of the network, so derivatives with respect to the problem's own
    coordinates come out right by the chain rule in either engine. The output scale lets the
    backbone work at unit size when the answer is much smaller or larger (the wave problem's
    pulse has amplitude 0.02, below a freshly initialised SIREN's own output).

    ``periodic`` (coordinate indices; default none) makes the network exactly periodic in those
    coordinates over the box, :math:`x_i \in [a_i, b_i]`, :math:`L_i = b_i - a_i`: the backbone
    sees the other coordinates mapped onto :math:`[-1, 1]` followed by
    :math:`\cos\theta_i` and then :math:`\sin\theta_i` of every periodic one,
    :math:`\theta_i = 2\pi(x_i - a_i)/L_i`, so its input has ``embedded_features(d, periodic)``
    channels ``(N, d + n_periodic)``, and values and all derivatives agree at :math:`a_i` and
    :math:`b_i`. The map is built from :func:`~pinr.backbones.primitives.linear`, ``cos``
    and ``sin``, so the jet engine differentiates through it as autograd does.
    """

    def __init__(self, backbone: nn.Module, bounds: np.ndarray, output_scale=None, *, periodic=()):
        super().__init__()
        self.backbone = backbone
        b = torch.as_tensor(np.asarray(bounds, dtype=np.float64)).to(torch.get_default_dtype())
        d = b.shape[0]
        center, half = (b[:, 0] + b[:, 1]) / 2, (b[:, 1] - b[:, 0]) / 2
        self.register_buffer("scale_weight", torch.diag(1.0 / half))
        self.register_buffer("scale_bias", -center / half)
        n_out = int(getattr(backbone, "out_features", 1))
        self.register_buffer("output_scale", output_scales(output_scale, n_out))  # float64 until .to(dtype)
        self.supports_jet = bool(getattr(backbone, "supports_jet", False))
        self.view_dependent = bool(getattr(backbone, "view_dependent", False))
        periodic = tuple(sorted({int(i) for i in periodic}))
        if any(not 0 <= i < d for i in periodic):
            raise ValueError(f"Network periodic axes must be coordinate indices in [0, {d}), got {list(periodic)}")
        self.periodic = periodic
        if periodic:
            eye = torch.eye(d, dtype=torch.float64)
            others = [i for i in range(d) if i not in periodic]
            # θ = 2π(x - a)/L straight from x, in float64 until the module is converted, so that θ(b) - θ(a)
            # is 2π to the working precision (through the float32-built input scale it would not be)
            lo, length = torch.as_tensor(np.asarray(bounds, dtype=np.float64)).T[:, list(periodic)]
            length = length - lo
            self.register_buffer("plain_select", eye[others], persistent=False)
            self.register_buffer("angle_weight", (2 * math.pi / length)[:, None] * eye[list(periodic)],
                                 persistent=False)
            self.register_buffer("angle_bias", -2 * math.pi * lo / length, persistent=False)

    def embed(self, x):
        """Coordinates ``(N, d)`` (tensor or jet) → the backbone's inputs ``(N, d + n_periodic)``."""
        z = P.linear(x, self.scale_weight, self.scale_bias)
        if not self.periodic:
            return z
        dtype = self.scale_weight.dtype
        theta = P.linear(x, self.angle_weight.to(dtype), self.angle_bias.to(dtype))
        parts = [P.cos(theta), P.sin(theta)]
        if self.plain_select.shape[0]:
            parts.insert(0, P.linear(z, self.plain_select.to(dtype)))
        return P.cat(parts)

    def forward(self, x, directions: torch.Tensor | None = None):
        """Fields at coordinates ``x`` ``(N, d)``; ``directions`` ``(N, 3)`` (unit view directions)
        reach a view-dependent backbone (``view_dependent``: NeRF's colour) and are ignored by others."""
        z = self.embed(x)
        out = self.backbone(z, directions) if self.view_dependent and directions is not None else self.backbone(z)
        # the scale is kept in float64 until the module is converted; use it in the working dtype
        return P.scale(out, self.output_scale.to(self.scale_weight.dtype))

    def start_from_zero_(self, outputs) -> bool:
        """Zero the backbone's last layer (its ``head``) for the output channels ``outputs``, so that
        those outputs start at exactly 0 and are learned from there (a field with a known part starts
        as that part); False, changing nothing, for a backbone without a linear head."""
        head = getattr(self.backbone, "head", None)
        weight, bias = getattr(head, "weight", None), getattr(head, "bias", None)
        if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or weight.shape[0] != self.output_scale.numel():
            return False
        with torch.no_grad():
            for i in outputs:
                weight[i].zero_()
                if isinstance(bias, torch.Tensor):
                    bias[i].zero_()
        return True

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
        """Forward per-point losses to the backbone, with points mapped to its inputs."""
        with torch.no_grad():
            z = self.embed(points.to(self.scale_weight.dtype))
        self.backbone.observe_point_losses(z, losses)
