r"""Multiresolution hash encoding + a small MLP (Müller et al., Instant-NGP, 2022), with smooth kernels.

Inputs :math:`x \in [-1, 1]^d` (``d`` = 1..4) are read at ``levels`` grid resolutions growing
geometrically from ``base_resolution`` to ``max_resolution``,

.. math:: N_l = \lfloor N_{\min}\, b^l \rfloor,\qquad b = \exp\frac{\ln N_{\max} - \ln N_{\min}}{L - 1}.

On level :math:`l` a point sits at :math:`p = N_l (x + 1)/2` in cell :math:`i = \lfloor p \rfloor`
(clamped to :math:`0..N_l - 1`) at fraction :math:`t = p - i`; its feature vector
(``features`` = F values) is the kernel-weighted sum of the table rows of the cell's nodes,

.. math:: e_l(x) = \sum_{o \in O^d} \prod_{k=1}^d w_{o_k}(t_k)\; \Theta_l[h_l(i + o)],

and the MLP reads the ``L·F`` features. Kernels (``interpolation``):

* ``linear`` — :math:`O = \{0, 1\}`, :math:`w_0 = 1 - t,\ w_1 = t` (Instant-NGP): reproduces
  every multilinear function from its node values; first derivatives jump across cell faces and
  pure second derivatives are zero.
* ``smoothstep`` — :math:`O = \{0, 1\}`, :math:`w_1 = s(t) = 6t^5 - 15t^4 + 10t^3`,
  :math:`w_0 = 1 - s`: C² (value, first and second derivatives continuous across faces), it
  interpolates node values but reproduces only constants, and its derivative vanishes on every
  node of the level.
* ``cubic`` — the uniform cubic B-spline, :math:`O = \{-1, 0, 1, 2\}`,
  :math:`w_{-1} = (1-t)^3/6`, :math:`w_0 = (3t^3 - 6t^2 + 4)/6`,
  :math:`w_1 = (-3t^3 + 3t^2 + 3t + 1)/6`, :math:`w_2 = t^3/6`: C², reproduces linear functions
  from their node values and quadratics from node values less :math:`\tfrac13\sum_k a_{kk}`
  (:math:`a_{kk}` the coefficient of :math:`p_k^2`), at :math:`4^d` nodes a point.

Table :math:`\Theta_l` has :math:`\min(2^T, n_l^d)` rows (``log2_table`` = T; :math:`n_l` nodes
per axis: :math:`N_l + 1`, or :math:`N_l + 3` for ``cubic``, whose nodes are shifted by one so that
they count from 0). A level whose dense grid fits is indexed densely,
:math:`h = \sum_k n_k\, n_l^{k}`; a finer one is hashed,
:math:`h = \bigoplus_k n_k \pi_k \bmod 2^T` with Instant-NGP's primes
:math:`\pi = (1, 2654435761, 805459861, 3674653429)`. All levels' tables are one parameter
(``table``; level :math:`l`'s rows from ``row_offsets[l]``: the hashed levels first, each at a
multiple of :math:`2^T`, then the dense ones), so each step makes one gather and, in the backward,
one scatter-add.

The fraction :math:`t` and the kernel weights are built from pinr's jet primitives (an affine map,
elementwise polynomials with exact :math:`f', f''`, products), and the gathered rows enter as a
per-point linear map constant in :math:`x`: the jet engine carries exact first and second
derivatives (``jet == autograd``), and for ``smoothstep`` and ``cubic`` Laplacians exist. Plain
tensors take a direct path with the same arithmetic.

Initialisation and training follow the paper: table entries :math:`U(\pm 10^{-4})`
(``init_scale``), PyTorch's default for the MLP; Adam at :math:`\eta = 10^{-2}` with
:math:`\beta = (0.9, 0.99)`, :math:`\epsilon = 10^{-15}` on all parts and an L2 weight decay of
:math:`10^{-6}` on the MLP's weights (:class:`~pinr.backbones.AdamPart`, read by pinr's Adam).
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor, nn

from ..derivatives.jet import Jet
from . import primitives as P
from .base import AbstractBackbone, AdamPart, BackboneTraining
from .registry import register_backbone

__all__ = ["HashGrid", "KERNELS", "PRIMES", "level_resolutions", "kernel_weights"]

#: Instant-NGP's spatial-hash primes, one per input axis (the first is 1 for coherence)
PRIMES = (1, 2654435761, 805459861, 3674653429)

#: Per kernel: node offsets :math:`O` and the weight of each as polynomial coefficients in t (lowest first)
KERNELS: dict[str, tuple[tuple[int, ...], tuple[tuple[float, ...], ...]]] = {
    "linear": ((0, 1), ((1.0, -1.0), (0.0, 1.0))),
    "smoothstep": ((0, 1), ((1.0, 0.0, 0.0, -10.0, 15.0, -6.0), (0.0, 0.0, 0.0, 10.0, -15.0, 6.0))),
    "cubic": (
        (-1, 0, 1, 2),
        tuple(
            tuple(c / 6.0 for c in row)
            for row in ((1.0, -3.0, 3.0, -1.0), (4.0, 0.0, -6.0, 3.0), (1.0, 3.0, 3.0, -3.0), (0.0, 0.0, 0.0, 1.0))
        ),
    ),
}

#: The paper's Adam: :math:`\beta_2 = 0.99`, :math:`\epsilon = 10^{-15}` (tables and MLP alike)
TABLE_PART = AdamPart(betas=(0.9, 0.99), eps=1e-15)
MLP_PART = AdamPart(betas=(0.9, 0.99), eps=1e-15, weight_decay=1e-6)
MLP_BIAS_PART = AdamPart(betas=(0.9, 0.99), eps=1e-15)


def level_resolutions(levels: int, base_resolution: int, max_resolution: int) -> list[int]:
    r""":math:`N_l = \lfloor N_{\min} b^l \rfloor`, :math:`l = 0..L-1`, with :math:`b` such that
    :math:`N_{L-1} = N_{\max}` (up to rounding: the last is set to :math:`N_{\max}`)."""
    if levels == 1:
        return [int(base_resolution)]
    growth = math.exp((math.log(max_resolution) - math.log(base_resolution)) / (levels - 1))
    out = [int(math.floor(base_resolution * growth**level + 1e-9)) for level in range(levels)]
    out[-1] = int(max_resolution)
    return out


def _powers(t: Tensor, degree: int) -> Tensor:
    """``(..., )`` → ``(..., degree + 1)``: :math:`1, t, \\dots, t^{degree}`."""
    out = [torch.ones_like(t), t]
    for _ in range(degree - 1):
        out.append(out[-1] * t)
    return torch.stack(out[: degree + 1], -1)


def kernel_weights(kind: str, t: Tensor) -> Tensor:
    r"""Node weights :math:`w_o(t)` of kernel ``kind`` at fractions ``t`` ``(...)`` → ``(..., K)``,
    one per offset in ``KERNELS[kind][0]``."""
    _, coefs = KERNELS[kind]
    c = torch.tensor(coefs, dtype=t.dtype, device=t.device)  # (K, M)
    return _powers(t, c.shape[1] - 1) @ c.T


def _outer(terms: list[Tensor], op) -> Tensor:
    """Per-axis ``(..., K)`` terms combined by ``op`` over every node ``(..., K^d)``, axis 0 slowest."""
    out = terms[0]
    for term in terms[1:]:
        out = op(out.unsqueeze(-1), term.unsqueeze(-2)).flatten(-2)
    return out


class _Lookup(torch.autograd.Function):
    r"""The interpolated features :math:`\sum_o w_o\,\Theta[r_o]` ``(N, L, F)`` of table ``(R, F)``
    at rows ``(N, L, K)`` with weights ``(N, L, K)`` that need no gradient (inputs without
    derivatives: pictures, rays, supervised values). The table's gradient is one scatter-add over
    the flat table, which on a CPU runs about twice as fast as ``index_select``'s backward (an
    ``index_add`` of rows); the gradient is not itself differentiable, which these inputs never ask."""

    @staticmethod
    def forward(ctx, table: Tensor, rows: Tensor, weights: Tensor) -> Tensor:
        n, levels, k = rows.shape
        e = table.index_select(0, rows.reshape(-1)).view(n, levels, k, table.shape[1])
        ctx.save_for_backward(rows, weights)
        ctx.table_shape = table.shape
        return (e * weights.unsqueeze(-1)).sum(2)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        rows, weights = ctx.saved_tensors
        n_rows, f = ctx.table_shape
        flat = (rows.long().unsqueeze(-1) * f + torch.arange(f, device=rows.device)).reshape(-1)
        src = (weights.unsqueeze(-1) * grad.unsqueeze(2)).reshape(-1)
        out = torch.zeros(n_rows * f, dtype=grad.dtype, device=grad.device).scatter_add_(0, flat, src)
        return out.view(n_rows, f), None, None


@register_backbone("hashgrid")
class HashGrid(AbstractBackbone):
    r"""Multiresolution hash grid (``levels`` × ``features``, at most :math:`2^T` rows a level for
    ``log2_table`` = T, resolutions ``base_resolution`` → ``max_resolution``, kernel ``interpolation``:
    ``linear`` | ``smoothstep`` | ``cubic``) read by an MLP of ``depth`` hidden layers of ``width``
    with ``activation``. Defaults are the paper's: 16 levels of 2 features, :math:`2^{19}` rows,
    16 → 2048, linear, two hidden layers of 64 with ReLU; table entries uniform in
    ± ``init_scale`` (1e-4). Inputs are the domain mapped to :math:`[-1, 1]^d`, ``d`` = 1..4;
    points outside extrapolate from the border cells. Use ``smoothstep`` or ``cubic`` (and a smooth
    ``activation`` such as ``softplus``) when second derivatives enter the loss: a linear kernel's
    pure second derivatives are zero. As a PDE backbone it trails SIREN (bench/RESULTS.md, "The hash
    grid as a PDE backbone"): ``poisson-image`` from its gradient with ``cubic`` reached 1.5× SIREN's
    error in four fifths of its time, from its Laplacian neither learned in 160 s and the grid was
    worse; it is the default for signals and 3-D shapes, not for equations.
    """

    recommended = BackboneTraining(lr=1e-2, source="Instant-NGP paper")

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        levels: int = 16,
        features: int = 2,
        log2_table: int = 19,
        base_resolution: int = 16,
        max_resolution: int = 2048,
        interpolation: str = "linear",
        width: int = 64,
        depth: int = 2,
        activation: str = "relu",
        init_scale: float = 1e-4,
    ):
        super().__init__(in_features, out_features)
        if not 1 <= in_features <= len(PRIMES):
            raise ValueError(
                f"hashgrid encodes 1 to {len(PRIMES)} input coordinates, got {in_features}; use another "
                f"backbone (siren, ff) for higher-dimensional inputs"
            )
        if interpolation not in KERNELS:
            raise ValueError(f"hashgrid interpolation must be one of {', '.join(KERNELS)}, got {interpolation!r}")
        for name, value, low in (
            ("levels", levels, 1),
            ("features", features, 1),
            ("base_resolution", base_resolution, 1),
            ("width", width, 1),
            ("depth", depth, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"hashgrid {name} must be an integer >= {low}, got {value!r}")
        if isinstance(max_resolution, bool) or not isinstance(max_resolution, int) or max_resolution < base_resolution:
            raise ValueError(
                f"hashgrid max_resolution must be an integer >= base_resolution ({base_resolution}), "
                f"got {max_resolution!r}"
            )
        if isinstance(log2_table, bool) or not isinstance(log2_table, int) or not 2 <= log2_table <= 30:
            raise ValueError(
                f"hashgrid log2_table must be an integer in 2..30 (the paper uses 14..24), got {log2_table!r}"
            )
        if not (isinstance(init_scale, (int, float)) and math.isfinite(init_scale) and init_scale >= 0):
            raise ValueError(f"hashgrid init_scale must be a finite number >= 0, got {init_scale!r}")
        d = in_features
        self.interpolation, self.levels, self.features, self.log2_table = interpolation, levels, features, log2_table
        offsets_o, coefs = KERNELS[interpolation]
        k = len(offsets_o)
        self.resolutions = level_resolutions(levels, base_resolution, max_resolution)
        nodes = [r + k - 1 for r in self.resolutions]  # nodes per axis: N + 1 (2 offsets) or N + 3 (cubic)
        capacity = 1 << log2_table
        sizes = [min(capacity, n**d) for n in nodes]
        self.hashed = [n**d > capacity for n in nodes]
        # hashed levels (the finest: a suffix) first, each at a multiple of 2^T, so that its first row is
        # OR-ed into the hash; the dense levels after them
        self.n_dense = sum(not h for h in self.hashed)
        n_hashed = levels - self.n_dense
        dense_starts = [n_hashed * capacity + s for s in itertools.accumulate([0, *sizes[: self.n_dense]])][:-1]
        starts = dense_starts + [i * capacity for i in range(n_hashed)]
        self.table = nn.Parameter(torch.empty(sum(sizes), features).uniform_(-init_scale, init_scale))
        self.table.adam_part = TABLE_PART
        # per level: resolution, cell clamp, node shift, dense strides, row offset, hashed flag, mask
        res = torch.tensor(self.resolutions, dtype=torch.float64)
        self.register_buffer("scale", (res / 2).repeat_interleave(d), persistent=False)  # p = (x + 1) N / 2
        self.register_buffer("cell_max", (res - 1).repeat_interleave(d), persistent=False)
        # (K^d, d), axis 0 slowest
        corners = torch.tensor(list(itertools.product(range(k), repeat=d)), dtype=torch.long)
        self.register_buffer("corners", corners, persistent=False)
        # indices in int32 where every product fits (half the memory traffic of int64 on a CPU): a
        # prime enters modulo 2^T, which leaves (n π mod 2^T) unchanged
        fits = max(nodes) * capacity < 2**31 and sum(sizes) < 2**31
        self.index_dtype = torch.int32 if fits else torch.long
        node_offsets = torch.tensor(offsets_o, dtype=self.index_dtype) - min(offsets_o)
        self.register_buffer("node_offsets", node_offsets, persistent=False)  # nodes counted from 0
        strides = torch.tensor([[n**a for a in range(d)] for n in nodes], dtype=self.index_dtype)  # (L, d)
        self.register_buffer("strides", strides, persistent=False)
        primes = [p % capacity for p in PRIMES[:d]]
        self.register_buffer("primes", torch.tensor(primes, dtype=self.index_dtype), persistent=False)
        self.register_buffer("row_offsets", torch.tensor(starts, dtype=self.index_dtype), persistent=False)
        self.register_buffer("coefs", torch.tensor(coefs, dtype=torch.float64), persistent=False)  # (K, M)
        # the jet path's maps: t (L d) → per-node copies (L d K) → per-axis corner weights (L K^d) each
        ld, kd = levels * d, k**d
        repeat = torch.zeros(ld * k, ld, dtype=torch.float64)
        repeat[torch.arange(ld * k), torch.arange(ld).repeat_interleave(k)] = 1.0
        self.register_buffer("repeat", repeat, persistent=False)
        select = torch.zeros(d, levels * kd, ld * k, dtype=torch.float64)
        for axis in range(d):
            for level in range(levels):
                rows = level * kd + torch.arange(kd)
                select[axis, rows, (level * d + axis) * k + corners[:, axis]] = 1.0
        self.register_buffer("select", select, persistent=False)
        self.act = P.Activation(activation)
        sizes_mlp = [levels * features] + [width] * depth
        self.layers = nn.ModuleList(P.Linear(a, b) for a, b in zip(sizes_mlp[:-1], sizes_mlp[1:]))
        self.head = P.Linear(sizes_mlp[-1], out_features)
        for layer in [*self.layers, self.head]:
            layer.weight.adam_part, layer.bias.adam_part = MLP_PART, MLP_BIAS_PART

    @property
    def point_widths(self) -> tuple[int, ...]:
        """What the encoding keeps per point for its backward, in values of the working dtype
        (:func:`pinr.memory.layer_widths`): per level and node its F gathered features, its
        weight and its row index (an int64: two float32 values)."""
        nodes = self.levels * self.corners.shape[0]
        return (nodes * (self.features + 3),)

    # ------------------------------------------------------------------ lookup
    def rows(self, cell: Tensor) -> Tensor:
        r"""Table rows of every node a point reads: cells ``(N, L, d)`` (long) → ``(N, L, K^d)``
        indices into ``table``, nodes in ``itertools.product`` order (axis 0 slowest). Dense levels:
        their first row plus :math:`\sum_k n_k s_k`; hashed ones: their first row (a multiple of
        :math:`2^T`) OR :math:`\bigoplus_k (n_k \pi_k \bmod 2^T)`. Formed per axis on ``(N, L, K)``
        and combined by broadcasting, so each node costs one add or XOR."""
        n0, mask = self.n_dense, (1 << self.log2_table) - 1
        parts = []
        if n0:
            terms = [
                (cell[:, :n0, k, None] + self.node_offsets) * self.strides[:n0, k, None]
                for k in range(self.in_features)
            ]
            terms[0] = terms[0] + self.row_offsets[:n0, None]
            parts.append(_outer(terms, torch.add))
        if n0 < self.levels:
            terms = [
                torch.bitwise_and((cell[:, n0:, k, None] + self.node_offsets) * self.primes[k], mask)
                for k in range(self.in_features)
            ]
            terms[0] = torch.bitwise_or(terms[0], self.row_offsets[n0:, None])
            parts.append(_outer(terms, torch.bitwise_xor))
        return parts[0] if len(parts) == 1 else torch.cat(parts, 1)

    def _cells(self, p: Tensor) -> Tensor:
        """Cells (as floats) of positions ``p`` ``(N, L d)``: ``floor``, clamped to the grid."""
        return torch.minimum(torch.floor(p).clamp_min(0.0), self.cell_max.to(p.dtype))

    def _rows_of(self, cell: Tensor) -> Tensor:
        """Table rows ``(N, L, K^d)`` of the cells ``(N, L d)`` (floats) :meth:`_cells` gives."""
        return self.rows(cell.to(self.index_dtype).view(cell.shape[0], self.levels, self.in_features))

    def _gather(self, cell: Tensor) -> Tensor:
        n = cell.shape[0]
        idx = self._rows_of(cell).long()  # int64: index_select's backward adds slowly at int32 indices
        return self.table.index_select(0, idx.reshape(-1)).view(n, self.levels, -1, self.features)

    def encode(self, x):
        r"""Features ``(N, L·F)`` of inputs ``(N, d)`` (tensor or jet)."""
        n, d = x.shape[0] if isinstance(x, Tensor) else x.n_points, self.in_features
        dtype = x.dtype if isinstance(x, Tensor) else x.value.dtype
        scale = self.scale.to(dtype)
        if isinstance(x, Jet):
            eye = torch.eye(d, dtype=dtype, device=scale.device).repeat(self.levels, 1)
            p = P.linear(x, eye * scale[:, None], scale)  # (N, L d)
            cell = self._cells(p.value)
            t = p - cell
            tk = P.linear(t, self.repeat.to(dtype))  # (N, L d K): one copy per node offset
            c = self.coefs.to(dtype).repeat(self.levels * d, 1)  # (L d K, M), the polynomial of each channel
            deg = c.shape[1] - 1
            powers = _powers(tk.value, deg)  # (N, L d K, M)
            ar = torch.arange(deg + 1, dtype=dtype, device=c.device)
            c1 = (c * ar)[:, 1:]  # f' coefficients
            c2 = (c1 * ar[:-1])[:, 1:]  # f''
            f = (powers * c).sum(-1)
            df = (powers[..., :deg] * c1).sum(-1)
            d2f = (powers[..., : deg - 1] * c2).sum(-1) if deg >= 2 else None
            a = tk.chain(f, df, d2f)
            w = None
            for axis in range(d):
                part = P.linear(a, self.select[axis].to(dtype))
                w = part if w is None else w * part  # (N, L K^d)
            e = self._gather(cell)  # (N, L, K^d, F), constant in x
            return P.grouped_pointwise_linear(w, e)  # (N, L F)
        p = (x.repeat(1, self.levels) + 1.0) * scale  # (N, L d)
        cell = self._cells(p)
        t = (p - cell).view(n, self.levels, d)
        if self.interpolation == "linear":
            a = torch.stack([1.0 - t, t], -1)  # (N, L, d, 2)
        else:
            a = kernel_weights(self.interpolation, t)  # (N, L, d, K)
        w = _outer(list(a.unbind(2)), torch.mul)  # (N, L, K^d)
        if torch.is_grad_enabled() and w.requires_grad:  # derivatives in x wanted: the autograd path
            e = self._gather(cell)
            return (e * w.unsqueeze(-1)).sum(2).reshape(n, self.levels * self.features)
        return _Lookup.apply(self.table, self._rows_of(cell), w).reshape(n, self.levels * self.features)

    def forward(self, x):
        x = self.encode(x)
        for layer in self.layers:
            x = self.act(layer(x))
        return self.head(x)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, levels={self.levels}, features={self.features}, "
            f"resolutions={self.resolutions[0]}..{self.resolutions[-1]}, table_rows={self.table.shape[0]}, "
            f"interpolation={self.interpolation!r}"
        )
