r"""NeRF's radiance-field MLP (Mildenhall et al. 2020): density from position, colour from
position and viewing direction.

Inputs are positional encodings :math:`\gamma_L(p) = [p, \sin(2^k\pi p), \cos(2^k\pi p)]_{k<L}`
of the position (``levels`` :math:`L = 10`) and of the unit view direction (``direction_levels``
4). A ReLU trunk of ``depth`` layers of ``width`` (the input encoding concatenated again after
layer ``skip``) gives the first output — the density, independent of the direction by
construction — and a feature vector (``activation`` ReLU as in the paper; a smooth one such as
softplus gives the field second derivatives for PDE terms); the other outputs (the colour) come from a head of width
``width/2`` that sees the feature and :math:`\gamma(d)`.

The paper's network is 8 × 256 with the skip after layer 4; pinr's default, 4 × 128 with the
skip after layer 2, is sized for a CPU run of the ``nerf`` problem. Without a direction (as a
plain field of positions, e.g. for meshes or in the PDE machinery) the direction encoding is
that of the zero vector.
"""

from __future__ import annotations

import torch

from . import primitives as P
from .base import AbstractBackbone, BackboneTraining
from .registry import register_backbone

__all__ = ["NeRF", "positional_encoding", "view_directions"]


def positional_encoding(in_features: int, levels: int) -> P.FourierEncoding:
    r""":math:`\gamma_L(p) = [p, \sin(2^k\pi p), \cos(2^k\pi p)]_{k<L}`, ``(N, d) → (N, d(1 + 2L))``."""
    eye = torch.eye(in_features)
    return P.FourierEncoding(torch.cat([eye * (2.0 ** k) / 2.0 for k in range(levels)]), include_input=True)


def view_directions(x, directions: torch.Tensor | None) -> torch.Tensor:
    """The view directions ``(N, 3)`` for inputs ``x`` (a tensor or a jet), in their dtype: the
    given ones, or zero vectors when there are none (a field of positions alone)."""
    value = x.value if hasattr(x, "value") else x
    if directions is None:
        return torch.zeros(value.shape[0], 3, dtype=value.dtype, device=value.device)
    return directions.to(value.dtype)


@register_backbone("nerf")
class NeRF(AbstractBackbone):
    """NeRF's MLP: ``forward(x (N, d), directions (N, 3) | None) → (N, out_features)``; output 0
    from position only, the others also from the direction (see the module docstring)."""

    recommended = BackboneTraining(lr=5e-4, source="NeRF paper (Adam 5e-4 decayed to 5e-5)")
    view_dependent = True  #: takes view directions as a second input

    def __init__(self, in_features: int, out_features: int, *, width: int = 128, depth: int = 4,
                 skip: int | None = None, levels: int = 10, direction_levels: int = 4, activation: str = "relu"):
        super().__init__(in_features, out_features)
        self.act = P.Activation(activation)
        if depth < 1 or width < 2:
            raise ValueError(f"nerf needs depth >= 1 and width >= 2, got depth={depth}, width={width}")
        skip = depth // 2 if skip is None else int(skip)
        if not 0 <= skip < depth:
            raise ValueError(f"nerf skip must be a layer index in [0, {depth}), got {skip}")
        self.skip = skip
        self.encoding = positional_encoding(in_features, int(levels))
        self.direction_encoding = positional_encoding(3, int(direction_levels))
        n_enc = self.encoding.out_features
        sizes = [n_enc] + [width] * depth
        self.layers = torch.nn.ModuleList(
            P.Linear(a + (n_enc if i == skip + 1 else 0), b) for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])))
        self.density = P.Linear(width, 1)
        self.n_colour = out_features - 1
        if self.n_colour:
            self.feature = P.Linear(width, width)
            self.colour_hidden = P.Linear(width + self.direction_encoding.out_features, width // 2)
            self.colour = P.Linear(width // 2, self.n_colour)
        with torch.no_grad():
            for layer in self.modules():
                if isinstance(layer, P.Linear):
                    torch.nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
                    torch.nn.init.zeros_(layer.bias)
            for head in [self.density] + ([self.colour] if self.n_colour else []):
                torch.nn.init.xavier_uniform_(head.weight)

    def forward(self, x, directions: torch.Tensor | None = None):
        enc = self.encoding(x)
        h = enc
        for i, layer in enumerate(self.layers):
            if i == self.skip + 1:
                h = P.cat([h, enc])
            h = self.act(layer(h))
        sigma = self.density(h)
        if not self.n_colour:
            return sigma
        d = self.direction_encoding(view_directions(x, directions))
        c = self.act(self.colour_hidden(P.cat([self.feature(h), d])))
        return P.cat([sigma, self.colour(c)])
