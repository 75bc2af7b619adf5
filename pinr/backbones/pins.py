r"""PINs: progressive implicit networks (Landgraf, Sorkine-Hornung & Cabral, ICML 2022).

No official code was released; this is a reconstruction from the paper's slides
(a progressive positional encoding feeding a hierarchy of residual MLPs). Gaussian Fourier
features are split into :math:`L` frequency bands, low to high; level :math:`\ell` is an MLP
whose input is the previous level's last hidden features and band :math:`\ell`'s encoding, and
whose head emits a residual :math:`r_\ell`:

.. math::
    h_1 = \mathrm{MLP}_1\big([\,x,\ \gamma_1(x)\,]\big), \qquad
    h_\ell = \mathrm{MLP}_\ell\big([\,h_{\ell-1},\ \gamma_\ell(x)\,]\big), \qquad
    r_\ell = W_\ell h_\ell + c_\ell, \qquad
    \Phi(x) = \sum_{\ell=1}^{L} \alpha_\ell\, r_\ell ,

with :math:`\gamma_\ell(x) = [\sin 2\pi B_\ell x, \cos 2\pi B_\ell x]`. The partial sums
:math:`S_\ell = \sum_{k \le \ell} \alpha_k r_k` are the level-of-detail reconstructions of the
slides' figures (:meth:`PINs.level_outputs`, :func:`plot_levels`).

Reconstruction choices (each is an option where it is a number):

- frequencies :math:`B \in \mathbb R^{m \times d}`, :math:`B_{ij} \sim \mathcal N(0, \sigma^2)`
  (Tancik et al.'s Gaussian features, which the paper builds on), sorted by norm and cut into
  ``levels`` contiguous bands of (almost) equal size;
- level 1 also sees the raw coordinates :math:`x` (the coarsest level must represent the
  smooth part without relying on a frequency band);
- levels pass features (the last hidden layer), not outputs, to the next level, and every
  level has its own linear head; the output is the plain sum of the residuals — no
  per-level supervision, as in the paper ("end-to-end trainable, no explicit per-level
  supervision");
- progressive training (``progressive=True``) ramps level :math:`\ell \ge 2` in linearly:
  :math:`\alpha_\ell = \mathrm{clip}\big(\tfrac{2(L-1)\,t}{T} - (\ell - 2),\, 0,\, 1\big)` at step
  :math:`t` of :math:`T`, so level 2 fades in first and all levels are on from :math:`T/2`;
  :math:`\alpha_1 = 1`. Without it all :math:`\alpha_\ell = 1`. The weights are a buffer, so
  checkpoints resume the schedule and a trained network evaluates with its final weights.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from . import primitives as P
from .base import AbstractBackbone, BackboneTraining, Network
from .registry import register_backbone

__all__ = ["PINs", "level_fields", "plot_levels"]


@register_backbone("pins")
class PINs(AbstractBackbone):
    r"""Progressive implicit network with ``levels`` residual levels.

    Defaults: ``levels`` 3 (the slides' figures), ``m`` 256 Gaussian frequencies of scale
    ``sigma`` 10 on :math:`[-1, 1]^d` inputs, per level ``depth`` 2 hidden layers of ``width``
    128 with ``activation`` ReLU (FF networks' MLP; use ``tanh``/``softplus`` when second
    derivatives enter the loss, since ReLU's vanish) and PyTorch's default initialisation;
    ``progressive`` off. ≈150k parameters for 2-D → RGB (width 154: ≈200k).
    See the module docstring for the architecture and every reconstruction choice.

    Shapes: ``(N, in_features) -> (N, out_features)``.
    """

    recommended = BackboneTraining(lr=1e-3, source="as FF networks; its levels are FF-style MLPs")

    def __init__(self, in_features: int, out_features: int, *, levels: int = 3, m: int = 256,
                 sigma: float = 10.0, width: int = 128, depth: int = 2, activation: str = "relu",
                 progressive: bool = False):
        super().__init__(in_features, out_features)
        if levels < 1 or m < levels:
            raise ValueError(f"pins needs levels >= 1 and at least one frequency per level, got "
                             f"levels={levels}, m={m}")
        if width < 1 or depth < 1:
            raise ValueError(f"pins needs width >= 1 and depth >= 1, got width={width}, depth={depth}")
        self.levels, self.progressive = int(levels), bool(progressive)
        B = torch.randn(m, in_features) * sigma
        B = B[B.norm(dim=1).argsort()]
        self.encodings = torch.nn.ModuleList(P.FourierEncoding(band, include_input=(i == 0))
                                             for i, band in enumerate(torch.tensor_split(B, self.levels)))
        self.blocks = torch.nn.ModuleList()
        for i, enc in enumerate(self.encodings):
            sizes = [enc.out_features + (width if i else 0)] + [width] * depth
            self.blocks.append(torch.nn.ModuleList(P.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])))
        self.heads = torch.nn.ModuleList(P.Linear(width, out_features) for _ in range(self.levels))
        self.act = P.Activation(activation)
        weights = torch.ones(self.levels)
        if self.progressive:
            weights[1:] = 0.0
        self.register_buffer("level_weights", weights)

    def on_step(self, step: int, total: int) -> None:
        r"""Progressive schedule: :math:`\alpha_\ell` ramps in over :math:`[(\ell-2), (\ell-1)]
        \cdot T / (2(L-1))` (no-op unless ``progressive``)."""
        if not self.progressive or self.levels == 1 or total <= 0:
            return
        phase = 2.0 * (self.levels - 1) * step / total
        ramp = (phase - torch.arange(self.levels - 1, dtype=torch.float64)).clamp(0.0, 1.0)
        self.level_weights[1:] = ramp.to(self.level_weights)

    def residuals(self, x) -> list:
        r"""Weighted residuals :math:`\alpha_\ell r_\ell(x)`, a list of ``levels`` fields ``(N, out)``."""
        out, h = [], None
        for i, (enc, block, head) in enumerate(zip(self.encodings, self.blocks, self.heads)):
            z = enc(x) if h is None else P.cat([h, enc(x)])
            for layer in block:
                z = self.act(layer(z))
            h = z
            r = head(z)
            out.append(r * self.level_weights[i] if self.progressive else r)
        return out

    def level_outputs(self, x) -> list:
        r"""Level-of-detail reconstructions :math:`S_\ell = \sum_{k\le\ell}\alpha_k r_k`; the last is the output."""
        out = []
        for r in self.residuals(x):
            out.append(r if not out else out[-1] + r)
        return out

    def forward(self, x):
        return self.level_outputs(x)[-1]


# ----------------------------------------------------------------------------- plots
def _checked(network, grid) -> None:
    if not isinstance(network, Network):
        raise TypeError(f"plot_levels needs a Network (a solution's .network), got {type(network).__name__}")
    if not isinstance(network.backbone, PINs):
        raise TypeError(f"plot_levels needs a 'pins' backbone, got {type(network.backbone).__name__}")
    if grid is None:
        raise ValueError("plot_levels: give the grid to evaluate the network on (pr.Grid, or a solution's .grid)")


def level_fields(network: Network, grid) -> dict[str, list[np.ndarray]]:
    """Per-level reconstructions and residuals of a PINs ``network`` on ``grid`` (a solution's:
    ``level_fields(solution.network, solution.grid)``).

    Returns ``{"levels": [...], "residuals": [...]}``, each a list of ``levels`` arrays of shape
    ``(*grid.shape, out_features)``.
    """
    _checked(network, grid)
    param = next(network.parameters())
    points = grid.points(dtype=param.dtype, device=param.device)
    with torch.no_grad():
        z = P.linear(points, network.scale_weight, network.scale_bias)
        residuals = network.backbone.residuals(z)
    arrays = [r.detach().cpu().double().numpy().reshape(*grid.shape, -1) for r in residuals]
    return {"levels": list(np.cumsum(arrays, axis=0)), "residuals": arrays}


def plot_levels(network: Network, grid, path: str | os.PathLike, *, image: bool = False) -> Path:
    """PNG of a PINs network's level-of-detail reconstructions (top) and residuals (bottom).

    ``network``: a :class:`~pinr.backbones.Network` with a ``pins`` backbone (a solution's
    ``.network``); ``grid``: a 1-D or 2-D :class:`~pinr.Grid` (a solution's ``.grid``). Scalar
    fields are drawn as colour maps; RGB fields as images when ``image`` (an image problem's
    :math:`[-1, 1]` intensities mapped to :math:`[0, 1]`; residuals centred on grey), else
    stretched to their range.
    """
    from pinr.plotting import plot_fields

    _checked(network, grid)
    if len(grid.shape) not in (1, 2):
        raise ValueError(f"plot_levels draws 1-D or 2-D grids, got shape {grid.shape}; pass a 2-D grid")
    data = level_fields(network, grid)
    panels: dict[str, np.ndarray] = {}
    symmetric = []
    for kind, arrays in (("level", data["levels"]), ("residual", data["residuals"])):
        for i, a in enumerate(arrays, 1):
            a = np.swapaxes(a, 0, 1) if a.ndim == 3 else a  # (x, y, c) -> (y, x, c): rows are y
            if a.shape[-1] == 3 and a.ndim == 3:
                if kind == "level":
                    a = (a + 1.0) / 2.0 if image else (a - a.min()) / max(np.ptp(a), 1e-12)
                else:
                    a = 0.5 + a / (2.0 * max(np.abs(a).max(), 1e-12))
            else:
                a = a[..., 0]
                if kind == "residual":
                    symmetric.append(f"{kind} {i}")
            panels[f"{kind} {i}"] = a
    b = grid.bounds
    extent = tuple(b.ravel()) if len(grid.shape) == 2 else tuple(b[0])
    return plot_fields(path, panels, extent=extent, symmetric=symmetric, cmap="gray" if image else "viridis",
                       suptitle="PINs: level-of-detail reconstructions and residuals")
