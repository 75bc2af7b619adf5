r"""NeX's field (Wizadwongsa et al. 2021): a multiplane image whose colour is a linear combination
of a few **learned basis functions of the viewing direction**.

At a point :math:`x` (a point on one of the planes of a multiplane image, see
:class:`pinr.render.Planes`) seen along the unit direction :math:`v`,

.. math:: \sigma(x) = s(x), \qquad c(x, v) = k_0(x) + \sum_{n=1}^{N} k_n(x)\, H_n(v),

where the per-point coefficients :math:`k_0, k_1, \dots, k_N` (one per colour channel each) and the
density :math:`s` come from an MLP of the positional encoding of :math:`x` (``levels``
frequencies, a ReLU trunk of ``depth`` × ``width``), and the :math:`N` = ``basis`` functions
:math:`H_n` from one **global** network of the direction alone (positional encoding with
``direction_levels`` frequencies, one hidden layer of ``basis_width``, :math:`\tanh` outputs in
:math:`[-1, 1]`). View dependence is therefore an :math:`N`-term expansion shared by every point,
cheap to evaluate for a new view (the coefficients do not depend on it) — NeX's point. NeX stores
:math:`k_0` explicitly per plane pixel and predicts the rest; here the MLP predicts all of them (as
NeX's implicit-only variant), so the field is a function of the point like every backbone.

The outputs are raw: output 0 is the density's pre-activation and outputs 1.. the colour's
(:class:`pinr.render.Rendered` applies softplus and sigmoid). Without a direction the basis is
evaluated at the zero vector.
"""

from __future__ import annotations

import torch

from . import primitives as P
from .base import AbstractBackbone, BackboneTraining
from .nerf import positional_encoding, view_directions
from .registry import register_backbone

__all__ = ["NeX"]


@register_backbone("nex")
class NeX(AbstractBackbone):
    """NeX's MLP: ``forward(x (N, d), directions (N, 3) | None) → (N, out_features)``: output 0
    (density) from the point only, the others (colour) a combination of ``basis`` learned
    functions of the direction with coefficients from the point (see the module docstring)."""

    recommended = BackboneTraining(lr=2e-3, source="pinr's nex case (forward-facing scene at 64², CPU)")
    view_dependent = True  #: takes view directions as a second input

    def __init__(self, in_features: int, out_features: int, *, width: int = 128, depth: int = 4, levels: int = 8,
                 basis: int = 8, basis_width: int = 64, direction_levels: int = 4, activation: str = "relu"):
        super().__init__(in_features, out_features)
        if depth < 1 or width < 2:
            raise ValueError(f"nex needs depth >= 1 and width >= 2, got depth={depth}, width={width}")
        if isinstance(basis, bool) or not isinstance(basis, int) or basis < 1:
            raise ValueError(f"nex basis (the number of basis functions of the view direction) must be an "
                             f"integer >= 1, got {basis!r}")
        if basis_width < 1:
            raise ValueError(f"nex basis_width must be >= 1, got {basis_width}")
        self.act = P.Activation(activation)
        self.encoding = positional_encoding(in_features, int(levels))
        sizes = [self.encoding.out_features] + [width] * depth
        self.layers = torch.nn.ModuleList(P.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.n_colour, self.n_basis = out_features - 1, int(basis)
        self.head = P.Linear(width, 1 + self.n_colour * (self.n_basis + 1))
        self.direction_encoding = positional_encoding(3, int(direction_levels))
        self.basis_hidden = torch.nn.Linear(self.direction_encoding.out_features, int(basis_width))
        self.basis_out = torch.nn.Linear(int(basis_width), self.n_basis)
        with torch.no_grad():
            for layer in self.layers:
                torch.nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
                torch.nn.init.zeros_(layer.bias)
            torch.nn.init.xavier_uniform_(self.head.weight)
            torch.nn.init.zeros_(self.head.bias)

    def basis(self, directions: torch.Tensor) -> torch.Tensor:
        """The basis functions :math:`H_n(v)` at unit ``directions`` ``(N, 3)``: ``(N, basis)``."""
        h = torch.relu(self.basis_hidden(self.direction_encoding(directions)))
        return torch.tanh(self.basis_out(h))

    def forward(self, x, directions: torch.Tensor | None = None):
        h = self.encoding(x)
        for layer in self.layers:
            h = self.act(layer(h))
        out = self.head(h)
        if not self.n_colour:
            return out
        value = x.value if hasattr(x, "value") else x
        hb = self.basis(view_directions(x, directions))
        ones = torch.ones_like(hb[:, :1])
        weights = torch.cat([ones, hb], 1)  # (N, 1 + basis): k_0 has weight 1
        c = self.n_colour
        eye = torch.eye(c, dtype=value.dtype, device=value.device)
        # (N, 1 + c (basis + 1), 1 + c): output 0 passes the density, output 1 + j sums k_{n, j} H_n
        combine = (weights[:, :, None, None] * eye).reshape(value.shape[0], -1, c)
        combine = torch.nn.functional.pad(combine, (1, 0, 1, 0))
        combine[:, 0, 0] = 1.0
        return P.pointwise_linear(out, combine)
