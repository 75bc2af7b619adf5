r"""Conditioned backbones: one network for many signals, :math:`u_k(x) = \Phi(x; z_k)`.

Each instance :math:`k` of a collection (a shape, an image) has a latent code
:math:`z_k \in \mathbb R^c`, a row of a :class:`CodeTable` trained with the network (DeepSDF's
auto-decoder: Park et al. 2019, codes drawn from :math:`\mathcal N(0, 0.01^2)`). A code is
constant in the coordinates, so a conditioned network at a fixed code is an ordinary pointwise
network of :math:`x` and both derivative engines differentiate it exactly.

Three ways of conditioning, in a small registry (:func:`build_conditioned`):

- ``concat`` (DeepSDF): the code joins the coordinates at the first layer of any registered
  backbone, :math:`\Phi(x; z) = B([x, z])`;
- ``film`` (π-GAN's FiLM-SIREN, Chan et al. 2021): every sine layer is modulated,
  :math:`h_{i+1} = \sin\big(\omega_i(\gamma_i \odot (W_i h_i + b_i) + \beta_i)\big)`, with
  :math:`(\gamma_i, \beta_i)_i = M(z)` from a small ReLU mapping network :math:`M` whose output
  starts at :math:`\gamma = 1, \beta = 0` (the plain SIREN) plus a small perturbation;
- ``hyper`` (SIREN's hypernetwork prior, Sitzmann et al. 2020): all the weights of a SIREN are a
  function of the code, :math:`\theta(z) = \theta_0 + s \odot H(z)`.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..derivatives.jet import Jet
from . import primitives as P
from .base import Network
from .registry import build_backbone, registrar
from .siren import siren_init_

__all__ = ["CodeTable", "AbstractConditioned", "Concat", "FiLMSiren", "HyperSiren", "ConditionedNetwork",
           "BoundNetwork", "register_conditioning", "build_conditioned", "available_conditionings"]

_CONDITIONINGS: dict[str, type] = {}


def register_conditioning(name: str) -> Callable[[type], type]:
    """Class decorator registering a way of conditioning under ``name``."""
    return registrar(_CONDITIONINGS, "conditioning", name)


def available_conditionings() -> list[str]:
    """Names of the registered conditionings, sorted."""
    return sorted(_CONDITIONINGS)


def build_conditioned(name: str, in_features: int, out_features: int, code_features: int, *,
                      backbone: str = "siren", **options) -> "AbstractConditioned":
    """Conditioned backbone ``name`` (``concat`` or ``film``) mapping ``(N, in_features)`` and a
    code ``(1 | N, code_features)`` to ``(N, out_features)``; ``backbone`` and ``options`` are the
    backbone's (``film`` modulates a SIREN and takes SIREN's options). Unknown names raise
    ``ValueError`` listing the registered ones."""
    if name not in _CONDITIONINGS:
        raise ValueError(f"unknown conditioning {name!r}; available conditionings: "
                         f"{', '.join(available_conditionings())}")
    if isinstance(code_features, bool) or not isinstance(code_features, int) or code_features < 1:
        raise ValueError(f"code_features must be a positive integer (the latent code's size), got {code_features!r}")
    return _CONDITIONINGS[name](in_features, out_features, code_features, backbone=backbone, **options)


class CodeTable(nn.Module):
    r"""``n`` latent codes ``weight`` ``(n, features)``, drawn from :math:`\mathcal N(0, \sigma^2)`
    with :math:`\sigma` = ``std`` (default 0.01, DeepSDF's); ``table(index)`` gives rows
    ``(len(index), features)``, as :class:`torch.nn.Embedding` does."""

    def __init__(self, n: int, features: int, *, std: float = 0.01):
        super().__init__()
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"CodeTable needs a positive number of codes (one per instance), got {n!r}")
        if isinstance(features, bool) or not isinstance(features, int) or features < 1:
            raise ValueError(f"CodeTable code size must be a positive integer, got {features!r}")
        if not (isinstance(std, (int, float)) and math.isfinite(std) and std >= 0):
            raise ValueError(f"CodeTable std must be a finite number >= 0 (DeepSDF uses 0.01), got {std!r}")
        self.std = float(std)
        self.weight = nn.Parameter(torch.randn(n, features) * self.std)

    def forward(self, index) -> torch.Tensor:
        return self.weight[index]

    def __len__(self) -> int:
        return self.weight.shape[0]


class AbstractConditioned(nn.Module, abc.ABC):
    """A pointwise map of coordinates ``(N, in_features)`` (a tensor or a jet) and a code
    ``(1 | N, code_features)`` (a tensor, constant in the coordinates) to ``(N, out_features)``."""

    supports_jet: bool = True
    wants_point_losses: bool = False
    view_dependent: bool = False
    registry_name: str = ""

    def __init__(self, in_features: int, out_features: int, code_features: int):
        super().__init__()
        self.in_features, self.out_features, self.code_features = in_features, out_features, code_features

    @abc.abstractmethod
    def forward(self, x, code: torch.Tensor): ...

    def on_step(self, step: int, total: int) -> None:
        """Training-progress hook (none of the built-in conditionings is progressive)."""


def _n_points(x) -> int:
    return x.n_points if isinstance(x, Jet) else x.shape[0]


@register_conditioning("concat")
class Concat(AbstractConditioned):
    r"""DeepSDF's conditioning: :math:`\Phi(x; z) = B([x, z])`, the registered backbone
    ``backbone`` (default ``siren``) with ``in_features + code_features`` inputs; ``options`` are
    its own."""

    def __init__(self, in_features: int, out_features: int, code_features: int, *, backbone: str = "siren",
                 **options):
        super().__init__(in_features, out_features, code_features)
        self.backbone = build_backbone(backbone, in_features + code_features, out_features, **options)
        self.supports_jet = bool(getattr(self.backbone, "supports_jet", False))

    def forward(self, x, code):
        n = _n_points(x)
        return self.backbone(P.cat([x, code.expand(n, -1)]))


def _check_siren_options(name: str, does: str, backbone: str, width, depth, mapping_width, mapping_depth) -> None:
    """The checks of a conditioning ``name`` built on a SIREN (what it ``does`` to one)."""
    if backbone != "siren":
        raise ValueError(f"conditioning {name!r} {does}; use backbone='siren', not {backbone!r}")
    if width < 1 or depth < 0 or mapping_width < 1 or mapping_depth < 0:
        raise ValueError(f"{name} needs width, mapping_width >= 1 and depth, mapping_depth >= 0, got width={width}, "
                         f"depth={depth}, mapping_width={mapping_width}, mapping_depth={mapping_depth}")


def _mapping(code_features: int, width: int, depth: int, out: int) -> nn.Sequential:
    """A ReLU MLP from the code to ``out`` numbers (``depth`` hidden layers of ``width``) whose
    last layer starts at a tenth of its default scale and a zero bias: small outputs at first."""
    m = [code_features] + [width] * depth
    layers: list[nn.Module] = []
    for a, b in zip(m[:-1], m[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(m[-1], out))
    with torch.no_grad():
        layers[-1].weight.mul_(0.1)
        layers[-1].bias.zero_()
    return nn.Sequential(*layers)


@register_conditioning("film")
class FiLMSiren(AbstractConditioned):
    r"""π-GAN's FiLM-SIREN: ``depth + 1`` sine layers of ``width`` (SIREN's options and
    initialisation, default 256 wide, 3 hidden, :math:`\omega` 30),

    .. math:: h_{i+1} = \sin\big(\omega_i(\gamma_i \odot (W_i h_i + b_i) + \beta_i)\big),
              \qquad \Phi = W_n h_n + b_n,

    with :math:`(\gamma_i, \beta_i) = (1 + \delta\gamma_i, \delta\beta_i)` and
    :math:`(\delta\gamma, \delta\beta) = M(z)`, a ReLU MLP of ``mapping_depth`` hidden layers of
    ``mapping_width`` (default 2 × 64) whose last layer is scaled by 0.1 at initialisation, so
    that a fresh network is near a plain SIREN whatever the code. ``backbone`` must be
    ``siren``."""

    def __init__(self, in_features: int, out_features: int, code_features: int, *, backbone: str = "siren",
                 width: int = 256, depth: int = 3, omega0: float = 30.0, omega_hidden: float = 30.0,
                 mapping_width: int = 64, mapping_depth: int = 2):
        super().__init__(in_features, out_features, code_features)
        _check_siren_options("film", "modulates a SIREN", backbone, width, depth, mapping_width, mapping_depth)
        sizes = [in_features] + [width] * (depth + 1)
        self.layers = nn.ModuleList(P.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.omegas = [omega0] + [omega_hidden] * depth
        self.head = P.Linear(width, out_features)
        siren_init_([*self.layers, self.head], omega_hidden)
        self.mapping = _mapping(code_features, mapping_width, mapping_depth, 2 * width * len(self.layers))
        self.width = width

    def modulations(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""``(γ, β)``, each ``(n_layers, 1 | N, width)``, of codes ``(1 | N, code_features)``."""
        d = self.mapping(code).reshape(code.shape[0], len(self.layers), 2, self.width).transpose(0, 1)
        return 1.0 + d[:, :, 0], d[:, :, 1]

    def forward(self, x, code):
        gamma, beta = self.modulations(code)
        for i, (layer, omega) in enumerate(zip(self.layers, self.omegas)):
            x = P.sin(P.scale(layer(x) * gamma[i] + beta[i], omega))
        return self.head(x)


@register_conditioning("hyper")
class HyperSiren(AbstractConditioned):
    r"""SIREN's hypernetwork prior (Sitzmann et al. 2020, §4.4; Ha et al. 2017): every weight and
    bias of a SIREN — ``depth + 1`` sine layers of ``width`` and a linear head, SIREN's
    :math:`\omega` — comes from the code,

    .. math:: \theta(z) = \theta_0 + s \odot H(z),

    with :math:`\theta_0` a SIREN initialisation (trained with the rest), :math:`s` the
    initialisation's range of each parameter's layer (:math:`1/n` for the first layer,
    :math:`\sqrt{6/n}/\omega` after it, so that a change of :math:`H` moves every layer by the same
    relative amount) and :math:`H` a ReLU MLP of ``mapping_depth`` hidden layers of
    ``mapping_width`` (default 1 × 64) whose last layer starts at a tenth of its default scale:
    a fresh network is a plain SIREN with code-dependent perturbations of about a tenth.
    Defaults are small (width 64, 2 hidden layers) because each point of a pass over several
    instances carries its instance's weights (``(N, width, width)`` per layer). ``backbone``
    must be ``siren``."""

    def __init__(self, in_features: int, out_features: int, code_features: int, *, backbone: str = "siren",
                 width: int = 64, depth: int = 2, omega0: float = 30.0, omega_hidden: float = 30.0,
                 mapping_width: int = 64, mapping_depth: int = 1):
        super().__init__(in_features, out_features, code_features)
        _check_siren_options("hyper", "predicts a SIREN's weights", backbone, width, depth, mapping_width,
                             mapping_depth)
        sizes = [in_features] + [width] * (depth + 1) + [out_features]
        self.shapes = list(zip(sizes[:-1], sizes[1:]))  #: (fan-in, fan-out) of each predicted layer
        self.omegas = [omega0] + [omega_hidden] * depth
        template = [P.Linear(a, b) for a, b in self.shapes]
        siren_init_(template, omega_hidden)
        theta, spread = [], []
        for i, (layer, (a, b)) in enumerate(zip(template, self.shapes)):
            bound = 1.0 / a if i == 0 else math.sqrt(6.0 / a) / omega_hidden
            theta += [layer.weight.detach().T.reshape(-1), layer.bias.detach()]
            spread.append(torch.full((a * b + b,), bound))
        self.base = nn.Parameter(torch.cat(theta))
        self.register_buffer("spread", torch.cat(spread))
        self.mapping = _mapping(code_features, mapping_width, mapping_depth, self.base.numel())

    def weights(self, code: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        r"""Each layer's ``(W, b)``, ``W`` ``(1 | N, fan-in, fan-out)`` and ``b`` ``(1 | N, fan-out)``,
        of codes ``(1 | N, code_features)``: :math:`\theta_0 + s \odot H(z)`, split by layer."""
        theta = self.base + self.spread * self.mapping(code)
        out, at = [], 0
        for a, b in self.shapes:
            out.append((theta[:, at:at + a * b].reshape(-1, a, b), theta[:, at + a * b:at + a * b + b]))
            at += a * b + b
        return out

    def forward(self, x, code):
        if code.shape[0] == 1:  # one code for every point: ordinary layers
            layers, apply = self.weights(code), lambda h, w, b: P.linear(h, w[0].T, b[0])
        else:  # a code per point
            with torch.no_grad():
                _, counts = torch.unique_consecutive(code, dim=0, return_counts=True)
            if bool((counts == counts[0]).all()):  # instances in equal blocks (a collection's pass): batched
                layers, n = self.weights(code[counts.cumsum(0) - counts]), int(counts[0])
                apply = lambda h, w, b: P.blockwise_linear(h, w) + b.repeat_interleave(n, 0)  # noqa: E731
            else:  # each point through its own code's weights (a collection's pass never comes here)
                layers, apply = self.weights(code), lambda h, w, b: P.pointwise_linear(h, w) + b
        for i, (w, b) in enumerate(layers):
            x = apply(x, w, b)
            if i < len(self.omegas):
                x = P.sin(P.scale(x, self.omegas[i]))
        return x


class ConditionedNetwork(nn.Module):
    r"""A conditioned backbone behind pinr's input map (:class:`~pinr.backbones.Network`: the box
    onto :math:`[-1, 1]^d`, the output scale) and the table of the ``n_instances`` training
    codes (``codes``, :class:`CodeTable`). :meth:`bind` gives instance :math:`k`'s network
    :math:`x \mapsto \Phi(x; z_k)`, what terms evaluate."""

    def __init__(self, backbone: AbstractConditioned, bounds: np.ndarray, n_instances: int, *,
                 code_std: float = 0.01, output_scale=None):
        super().__init__()
        self.network = Network(backbone, bounds, output_scale)
        self.codes = CodeTable(n_instances, backbone.code_features, std=code_std)
        self.supports_jet = bool(getattr(backbone, "supports_jet", False))
        self._bound: dict[int, BoundNetwork] = {}  # plain attribute: bound views are not submodules

    @property
    def backbone(self) -> AbstractConditioned:
        return self.network.backbone

    def conditioned(self, x, code: torch.Tensor):
        r""":math:`\Phi(x; z)` at coordinates ``x`` ``(N, d)`` (tensor or jet) and code ``(1 | N, c)``."""
        net = self.network
        dtype = net.scale_weight.dtype
        out = net.backbone(net.embed(x), code.to(dtype))
        return P.scale(out, net.output_scale.to(dtype))

    def bind(self, index: int) -> "BoundNetwork":
        """Instance ``index``'s network, :math:`x \\mapsto \\Phi(x; z_{index})`, trained through the table."""
        index = int(index)
        if not 0 <= index < len(self.codes):
            raise IndexError(f"instance {index} is out of range: the network holds {len(self.codes)} codes")
        if index not in self._bound:
            self._bound[index] = BoundNetwork(self, self.codes, index)
        return self._bound[index]

    def on_step(self, step: int, total: int) -> None:
        self.network.on_step(step, total)


class BoundNetwork(nn.Module):
    r"""A conditioned network at fixed codes: row ``index`` of ``table`` (an int: one code for
    every point), or rows ``index[i]`` for point :math:`i` (a long tensor ``(N,)``: one pass over
    points of several instances). It is the pointwise map :math:`x \mapsto \Phi(x; z)`
    ``(N, d) → (N, n_fields)`` that terms, engines and solutions take; gradients reach the codes
    (and the network, unless frozen) through the table."""

    def __init__(self, conditioned: ConditionedNetwork, table: CodeTable, index=0):
        super().__init__()
        self.conditioned, self.codes = conditioned, table
        self.index = index if isinstance(index, torch.Tensor) else int(index)
        self.supports_jet = conditioned.supports_jet
        self.view_dependent = False

    @property
    def code(self) -> torch.Tensor:
        """The code ``(1, c)``, or the points' codes ``(N, c)``."""
        if isinstance(self.index, torch.Tensor):
            return self.codes.weight[self.index]
        return self.codes.weight[self.index:self.index + 1]

    def forward(self, x):
        return self.conditioned.conditioned(x, self.code)

    def on_step(self, step: int, total: int) -> None:
        self.conditioned.on_step(step, total)
