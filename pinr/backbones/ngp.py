r"""Instant-NGP's radiance field (Müller et al. 2022): a hash-grid encoding read by a small density
network, and a colour network that also sees the viewing direction.

The position :math:`x \in [-1, 1]^3` is encoded by a multiresolution hash grid
(:class:`~pinr.backbones.hashgrid.HashGrid`: ``levels`` × 2 features, at most :math:`2^T` rows a
level for ``log2_table`` = T, resolutions ``base_resolution`` → ``max_resolution``, kernel
``interpolation``) and read by one hidden layer of ``width`` into ``geometry`` values :math:`g`,
of which :math:`g_0` is the density output — independent of the direction by construction (table
entries start uniform in ± ``init_scale``, the paper's 1e-4). The
colour outputs come from ``colour_depth`` hidden layers of ``width`` reading :math:`g` beside the
direction's encoding :math:`\gamma_4(d)` (NeRF's, :mod:`pinr.backbones.nerf`; the paper uses
spherical harmonics up to degree 4). Hidden layers use ``activation`` (ReLU).

The paper's sizes but for the grid's finest level: it reads 800² pictures through 16 levels up to
2048 over :math:`2^{19}` rows; pinr's default 16 → 256 over :math:`2^{18}` is sized for pictures
of a few hundred pixels a side. Training as the paper: Adam at :math:`10^{-2}`,
:math:`\beta = (0.9, 0.99)`, :math:`\epsilon = 10^{-15}`, a weight decay of :math:`10^{-6}` on the
networks' weights. Without a direction (a field of positions: the occupancy grid's density, a
mesh) the direction encoding is that of the zero vector.

On pinr's synthetic scene (64², 100 views; bench/RESULTS.md, "Radiance fields in ten CPU
minutes") this field at the ``nerf`` case's defaults (2000 steps of 1024 rays) reaches 31.3 dB
held out in under five minutes of a 2-core CPU.
"""

from __future__ import annotations

import torch

from . import primitives as P
from .base import AbstractBackbone, BackboneTraining
from .hashgrid import MLP_BIAS_PART, MLP_PART, HashGrid
from .nerf import positional_encoding, view_directions
from .registry import register_backbone

__all__ = ["NGP"]


@register_backbone("ngp")
class NGP(AbstractBackbone):
    """Hash grid → density network (output 0) → colour network with the view direction (the other
    outputs): ``forward(x (N, d), directions (N, 3) | None) → (N, out_features)``."""

    recommended = BackboneTraining(lr=1e-2, source="Instant-NGP paper")
    view_dependent = True  #: takes view directions as a second input

    def __init__(self, in_features: int, out_features: int, *, levels: int = 16, log2_table: int = 18,
                 base_resolution: int = 16, max_resolution: int = 256, width: int = 64, geometry: int = 16,
                 colour_depth: int = 2, direction_levels: int = 4, interpolation: str = "linear",
                 activation: str = "relu", init_scale: float = 1e-4):
        super().__init__(in_features, out_features)
        for name, value, low in (("geometry", geometry, 1), ("colour_depth", colour_depth, 0),
                                 ("direction_levels", direction_levels, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"ngp {name} must be an integer >= {low}, got {value!r}")
        self.n_colour = out_features - 1
        self.grid = HashGrid(in_features, geometry if self.n_colour else 1, levels=levels, log2_table=log2_table,
                             base_resolution=base_resolution, max_resolution=max_resolution, width=width, depth=1,
                             interpolation=interpolation, activation=activation, init_scale=init_scale)
        if self.n_colour:
            self.direction_encoding = positional_encoding(3, direction_levels)
            sizes = [geometry + self.direction_encoding.out_features] + [width] * colour_depth
            self.colour_layers = torch.nn.ModuleList(P.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            self.colour = P.Linear(sizes[-1], self.n_colour)
            for layer in [*self.colour_layers, self.colour]:
                layer.weight.adam_part, layer.bias.adam_part = MLP_PART, MLP_BIAS_PART
        self.act = P.Activation(activation)
        first = torch.zeros(1, geometry if self.n_colour else 1)
        first[0, 0] = 1.0
        self.register_buffer("first", first, persistent=False)  # g -> g_0, as a jet-aware linear map

    def forward(self, x, directions: torch.Tensor | None = None):
        g = self.grid(x)
        if not self.n_colour:
            return g
        h = P.cat([g, self.direction_encoding(view_directions(x, directions))])
        for layer in self.colour_layers:
            h = self.act(layer(h))
        return P.cat([P.linear(g, self.first), self.colour(h)])
