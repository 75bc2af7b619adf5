r"""SAPE: spatially-adaptive progressive encoding (Hertz, Perel, Giryes, Sorkine-Hornung &
Cohen-Or, NeurIPS 2021).

Gaussian Fourier features, sorted from low to high frequency, are switched on progressively,
and separately in each region of space: a frequency block is enabled only where the fit is
still poor. The MLP sees the masked encoding

.. math::
    \gamma(x) = \big[\,x,\ \sin 2\pi B x,\ \cos 2\pi B x\,\big], \qquad
    \Phi(x) = \mathrm{MLP}\big(\gamma(x) \odot \alpha(x)\big),

where the identity channels are always on and :math:`\alpha(x) \in [0, 1]^m` (one value per
frequency, shared by its sine and cosine) is interpolated from a mask on a grid of
``res``:sup:`d` nodes over :math:`[-1, 1]^d`:

.. math::
    \alpha(t, x) = \sum_{u \in \mathcal N(x)} w_{x,u}\, \bar\alpha(t, u)

with multilinear weights :math:`w_{x,u}` over the :math:`2^d` surrounding nodes and
:math:`\bar\alpha` the node masks blurred by a :math:`k^d` box (``blur``; 5 when the grid
has more than 100 nodes, else 3, as in the official code).

Schedule (the official ``SpatialControllerStashed``). With :math:`T` training steps and
:math:`K` frequency blocks, every :math:`T/(2K)` steps each node that is still *in progress*
switches on its next block. Per-point losses reported by the solver are accumulated on the
nodes with the same weights, :math:`\mathcal L(u) = \sum_x w_{x,u}\mathcal L(x) / \sum_x
w_{x,u}`; nodes that received no point take the mean of their neighbours; the result is
box-blurred, and a node whose blurred loss is at most :math:`\varepsilon` (``epsilon``) stops
progressing for good. After :math:`T/2` steps the masks are final. A node with no loss
information (and no informed neighbour), and the nodes its blur reaches, keep progressing, so
without loss feedback SAPE reduces to a global progressive encoding. The losses of all of a
problem's terms (interior, boundary, ...) are pooled on the same nodes.

``spatial=False`` is the global (non-spatial) progressive variant: one mask for all of space,
advancing on the same schedule while the mean loss since the last advance exceeds
:math:`\varepsilon` (the official ``GlobalProgressionControllerEarly`` early stop).

Derivatives. The mask is a fixed weighting, as in the paper: it is evaluated from the
points' values and enters both derivative engines as a constant, so input derivatives are
those of the network with :math:`\alpha` frozen at each point (its spatial derivative is
dropped). For fitting this is exactly the paper's model; for PDE residuals it means the
mask's own (piecewise-linear) variation is not differentiated.

``epsilon`` is compared with the per-point loss the solver reports: the squared residual
summed over the term's components. The paper's :math:`10^{-3}` is a mean over RGB channels
of intensities in :math:`[0, 1]`; for pinr's image problems (3 channels in :math:`[-1, 1]`)
the equivalent is :math:`10^{-3} \cdot 3 \cdot 2^2 = 1.2 \cdot 10^{-2}`.
"""

from __future__ import annotations

import itertools
import math
import os
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..derivatives.jet import Jet
from . import primitives as P
from .base import AbstractBackbone, BackboneTraining, Network
from .registry import register_backbone

__all__ = ["SAPE", "plot_masks", "DEFAULT_RES"]

#: Default mask resolution per input dimension (the paper's 128² for images, 64³ in 3-D).
DEFAULT_RES = {1: 128, 2: 128, 3: 64, 4: 16}


def _value(x):
    return x.value if isinstance(x, Jet) else x


def _box(t: torch.Tensor, k: int, d: int) -> torch.Tensor:
    """Box blur of width ``k`` (odd) over the first ``d`` axes of ``t``, replicate padding."""
    if k <= 1:
        return t
    h = k // 2
    for axis in range(d):
        n = t.shape[axis]
        first, last = t.narrow(axis, 0, 1), t.narrow(axis, n - 1, 1)
        padded = torch.cat([first] * h + [t] + [last] * h, dim=axis)
        acc = padded.narrow(axis, 0, n)
        for j in range(1, k):
            acc = acc + padded.narrow(axis, j, n)
        t = acc / k
    return t


@register_backbone("sape")
class SAPE(AbstractBackbone):
    r"""SAPE on Gaussian Fourier features followed by an MLP.

    Defaults from the paper's image experiment (its official code): ``m`` 256 frequencies with
    magnitudes :math:`|\mathcal N(0, \sigma^2)|`, :math:`\sigma` = ``sigma`` 20, sorted
    ascending, along random unit directions, on :math:`[-1, 1]^d` inputs; identity coordinates
    first; ``block`` 1 frequency per block (:math:`K = m` blocks); MLP with ``depth`` 3 hidden
    layers of ``width`` 256, ``activation`` ReLU (use ``softplus``/``tanh`` when second
    derivatives enter the loss), PyTorch's default initialisation (≈264k parameters for
    2-D → RGB; width 210: ≈197k). Mask: ``spatial`` on a ``res``:sup:`d` grid (``None``:
    :data:`DEFAULT_RES`, 128 in 1-D and 2-D, 64 in 3-D, 16 in 4-D, 8 beyond), ``epsilon`` :math:`10^{-3}`, ``blur``
    ``None`` (5, or 3 on grids of at most 100 nodes). See the module docstring for the
    schedule and for how the mask enters derivatives.

    State (buffers, saved in checkpoints): ``level`` — frequency blocks on per node;
    ``active`` — nodes still in progress; ``loss_sum``/``loss_weight`` — losses accumulated
    since the last advance.
    """

    wants_point_losses = True
    recommended = BackboneTraining(lr=1e-3, source="SAPE's official image task")

    def __init__(self, in_features: int, out_features: int, *, m: int = 256, sigma: float = 20.0,
                 width: int = 256, depth: int = 3, activation: str = "relu", spatial: bool = True,
                 res: int | None = None, epsilon: float = 1e-3, block: int = 1, blur: int | None = None):
        super().__init__(in_features, out_features)
        if m < 1 or block < 1 or width < 1 or depth < 1:
            raise ValueError(f"sape needs m, block, width, depth >= 1, got m={m}, block={block}, "
                             f"width={width}, depth={depth}")
        if not epsilon >= 0:
            raise ValueError(f"sape epsilon must be >= 0, got {epsilon!r}")
        d = in_features
        if res is None:
            res = DEFAULT_RES.get(d, 8)
        if spatial and res < 2:
            raise ValueError(f"sape needs a mask grid of res >= 2 nodes per axis, got res={res}")
        self.m, self.block, self.n_blocks = int(m), int(block), math.ceil(m / block)
        self.spatial, self.epsilon = bool(spatial), float(epsilon)
        self.res = int(res) if self.spatial else 1
        self.n_nodes = self.res**d if self.spatial else 1
        if blur is None:
            blur = 5 if self.n_nodes > 100 else 3
        if blur < 1 or blur % 2 == 0:
            raise ValueError(f"sape blur must be a positive odd integer, got {blur!r}")
        self.blur = int(blur) if self.spatial else 1

        magnitude = (torch.randn(m) * sigma).abs().sort().values
        directions = F.normalize(torch.randn(m, d), dim=1)
        self.encoding = P.FourierEncoding(directions * magnitude[:, None], include_input=True)
        sizes = [self.encoding.out_features] + [width] * depth
        self.layers = torch.nn.ModuleList(P.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = P.Activation(activation)
        self.head = P.Linear(width, out_features)

        self.register_buffer("level", torch.zeros(self.n_nodes, dtype=torch.long))
        self.register_buffer("active", torch.ones(self.n_nodes, dtype=torch.bool))
        self.register_buffer("loss_sum", torch.zeros(self.n_nodes))
        self.register_buffer("loss_weight", torch.zeros(self.n_nodes))
        self._table: torch.Tensor | None = None
        self._table_key: tuple | None = None

    # ------------------------------------------------------------------ schedule
    def block_steps(self, total: int) -> int:
        """Steps between two advances for a run of ``total`` steps: :math:`\\max(1, T/(2K))`."""
        return max(1, int(total) // (2 * self.n_blocks))

    def on_step(self, step: int, total: int) -> None:
        """Advance every :meth:`block_steps` steps until all blocks are scheduled (the solver's hook)."""
        if total <= 0 or step <= 0:
            return
        every = self.block_steps(total)
        if step % every == 0 and step // every <= self.n_blocks:
            self.advance()

    def observe_point_losses(self, points: torch.Tensor, losses: torch.Tensor) -> None:
        """Accumulate per-point losses ``(N,)`` at ``points`` ``(N, d)`` in :math:`[-1, 1]^d` on the nodes."""
        with torch.no_grad():
            values = losses.detach().reshape(-1).to(self.loss_sum)
            if not self.spatial:
                self.loss_sum += values.sum()
                self.loss_weight += values.numel()
                return
            for index, weight in self._corners(points.detach()):
                weight = weight.to(self.loss_sum)
                self.loss_sum.index_add_(0, index, weight * values)
                self.loss_weight.index_add_(0, index, weight)

    @torch.no_grad()
    def advance(self) -> None:
        """Stop nodes whose (blurred) loss is at most ``epsilon``, switch the next block on in the
        others, and reset the loss accumulators."""
        self.active &= self.node_loss() > self.epsilon
        self.level[self.active] += 1
        self.level.clamp_(max=self.n_blocks)
        self.loss_sum.zero_()
        self.loss_weight.zero_()
        self._table = None

    @torch.no_grad()
    def node_loss(self) -> torch.Tensor:
        """Loss per node since the last advance ``(n_nodes,)``: weighted means, empty nodes filled
        from their neighbours, box-blurred; ``inf`` where nothing is known."""
        seen = self.loss_weight > 0
        mean = torch.where(seen, self.loss_sum / self.loss_weight.clamp_min(1e-30), torch.zeros_like(self.loss_sum))
        if not self.spatial:
            return torch.where(seen, mean, torch.full_like(mean, math.inf))
        d, k = self.in_features, self.blur
        shape = (self.res,) * d
        if not bool(seen.all()):
            seen_f = seen.to(mean.dtype)
            num = _box((mean * seen_f).view(shape), k, d).reshape(-1)
            den = _box(seen_f.view(shape), k, d).reshape(-1)
            fill = torch.where(den > 0, num / den.clamp_min(1e-30), torch.full_like(mean, math.inf))
            mean = torch.where(seen, mean, fill)
        return _box(mean.view(shape), k, d).reshape(-1)

    # ------------------------------------------------------------------ mask
    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._table = None

    def _corners(self, x: torch.Tensor):
        """The :math:`2^d` (node index ``(N,)``, multilinear weight ``(N,)``) pairs of points ``(N, d)``."""
        r, d = self.res, self.in_features
        u = (x.clamp(-1.0, 1.0) + 1.0) * (0.5 * (r - 1))
        i0 = u.floor().clamp(0, r - 2)
        t = u - i0
        i0 = i0.long()
        strides = [r ** (d - 1 - a) for a in range(d)]
        out = []
        for corner in itertools.product((0, 1), repeat=d):
            index = sum((i0[:, a] + c) * s for a, (c, s) in enumerate(zip(corner, strides)))
            weight = torch.ones_like(t[:, 0])
            for a, c in enumerate(corner):
                weight = weight * (t[:, a] if c else 1.0 - t[:, a])
            out.append((index, weight))
        return out

    def mask_table(self, dtype=torch.float32, device=None) -> torch.Tensor:
        r"""Blurred node masks :math:`\bar\alpha` ``(n_nodes, m)`` (nodes in C order of the grid)."""
        device = torch.device(device) if device is not None else self.level.device
        key = (dtype, device)
        if self._table is None or self._table_key != key:
            block_of = torch.arange(self.m, device=self.level.device) // self.block
            on = (self.level[:, None] > block_of[None, :]).to(dtype)
            if self.spatial:
                d = self.in_features
                on = _box(on.view(*(self.res,) * d, self.m), self.blur, d).reshape(self.n_nodes, self.m)
            self._table, self._table_key = on.to(device), key
        return self._table

    @torch.compiler.disable
    def mask(self, x: torch.Tensor) -> torch.Tensor:
        r"""Frequency mask :math:`\alpha(x)` ``(N, m)`` at points ``(N, d)`` in :math:`[-1, 1]^d` (no gradient).

        Evaluated eagerly under :func:`torch.compile` (a constant input to the compiled graph,
        whose cached node table changes at every advance)."""
        with torch.no_grad():
            x = x.detach()
            table = self.mask_table(x.dtype, x.device)
            if not self.spatial:
                return table.expand(x.shape[0], self.m)
            out = None
            for index, weight in self._corners(x):
                term = table[index] * weight[:, None]
                out = term if out is None else out.add_(term)
            return out

    def mask_map(self) -> np.ndarray:
        """Fraction of frequencies on at each node (blurred), shape ``(res,) * d`` indexed like the
        coordinates (axis ``a`` is input ``a``); a 0-d array for ``spatial=False``."""
        table = self.mask_table(torch.float64, "cpu")
        fraction = table.mean(dim=1).numpy()
        return fraction.reshape((self.res,) * self.in_features) if self.spatial else fraction.reshape(())

    def level_map(self) -> np.ndarray:
        """Frequency blocks on per node (unblurred), shape ``(res,) * d`` (0-d for ``spatial=False``)."""
        level = self.level.cpu().numpy()
        return level.reshape((self.res,) * self.in_features) if self.spatial else level.reshape(())

    # ------------------------------------------------------------------ network
    def forward(self, x):
        v = _value(x)
        alpha = self.mask(v)
        mask = torch.cat([alpha.new_ones(v.shape[0], self.in_features), alpha, alpha], dim=1)
        h = self.encoding(x) * mask
        for layer in self.layers:
            h = self.act(layer(h))
        return self.head(h)


# ----------------------------------------------------------------------------- plots
def _unwrap(source) -> SAPE:
    if isinstance(source, Network):
        source = source.backbone
    if not isinstance(source, SAPE):
        raise TypeError(f"plot_masks needs a SAPE backbone (or a Network with one: a solution's .network), "
                        f"got {type(source).__name__}")
    return source


def plot_masks(source, path: str | os.PathLike) -> Path:
    r"""PNG of SAPE's mask maps over the backbone's :math:`[-1, 1]^d` inputs.

    ``source``: a SAPE backbone or a :class:`~pinr.backbones.Network` with one (a solution's
    ``.network``). Panels: fraction of frequencies on
    (blurred), frequency blocks on per node, and the masks of the frequencies at 25, 50 and
    75 % of the highest frequency switched on so far. 3-D masks are shown on their middle slice along the
    last axis; 1-D masks as curves; the global variant as the mask against frequency index.
    """
    from pinr.plotting import plot_fields

    sape = _unwrap(source)
    if not sape.spatial:
        table = sape.mask_table(torch.float64, "cpu")[0].numpy()
        return plot_fields(path, {"mask per frequency (global)": table}, extent=(0, sape.m - 1),
                           suptitle="SAPE: global progressive mask")
    d, r = sape.in_features, sape.res
    table = sape.mask_table(torch.float64, "cpu").numpy().reshape(*(r,) * d, sape.m)
    level = sape.level_map().astype(np.float64) / sape.n_blocks
    if d >= 3:
        index = (slice(None), slice(None)) + (r // 2,) * (d - 2)
        table, level = table[index], level[index]
    panels = {"frequencies on (fraction)": table.mean(axis=-1), "blocks on / blocks": level}
    reached = min(sape.m, int(sape.level.max()) * sape.block) or sape.m  # highest frequency switched on
    for q in (0.25, 0.5, 0.75):
        f = min(sape.m - 1, int(q * reached))
        panels[f"mask of frequency {f}"] = table[..., f]
    if table.ndim == 3:  # 2-D maps: axis 0 is x; rows of a picture are y
        panels = {k: v.T for k, v in panels.items()}
    extent = (-1.0, 1.0, -1.0, 1.0) if table.ndim == 3 else (-1.0, 1.0)
    title = "SAPE masks" + (" (middle slice)" if d >= 3 else "")
    return plot_fields(path, panels, extent=extent, suptitle=title)
