r"""Forward-mode Taylor jets: exact first and second input derivatives by propagation.

A :class:`Jet` carries, for ``N`` points and ``W`` channels, one stacked tensor
``data`` of shape ``(1 + A + P, N, W)``:

* ``data[0]`` — the value :math:`v`;
* ``data[1 : 1 + A]`` — first derivatives :math:`J_a = \partial_a v` along ``A`` directions
  (for a seed, the input axes ``axes[a]``);
* ``data[1 + A :]`` — ``P`` second-order *streams*. Stream ``p`` holds one weighted sum of
  second derivatives

  .. math:: S_p = \sum_{(a, b, c) \in \text{stream}_p} c\,\partial_a \partial_b v ,

  so, with ``x``, ``y`` the slots of those axes, ``u_xx`` is ``((x, x, 1.0),)``, the mixed
  ``u_xy`` is ``((x, y, 1.0),)`` (exactly :math:`\partial_x\partial_y`, not doubled), a
  Laplacian is ``((0, 0, 1.0), (1, 1, 1.0))`` and :math:`A(x) u_{xx} + B(x) u_{yy}` takes
  per-point coefficient tensors of shape ``(N,)``. A whole second-order operator costs one
  stream.

Propagation rules (``⊙`` is elementwise, coefficient tensors broadcast over channels):

* affine :math:`z = v W^\top + b`: every slot is multiplied by :math:`W^\top`; the bias enters
  the value only;
* elementwise :math:`f`: :math:`v \leftarrow f(v)`, :math:`J_a \leftarrow f'(v) J_a`,
  :math:`S_p \leftarrow f'(v) S_p + f''(v) \sum c\, J_a \odot J_b`;
* sum and product by Leibniz:
  :math:`\partial_a\partial_b(uv) = u\,\partial_a\partial_b v + v\,\partial_a\partial_b u
  + \partial_a u\,\partial_b v + \partial_b u\,\partial_a v`.

A loss built from jet slots backpropagates to network parameters with a plain first-order
backward. In eager mode the elementwise rule runs as a small autograd function with a
hand-fused backward (written in differentiable operations); under :func:`torch.compile` plain
operations are traced instead, and the whole propagation has no data-dependent Python control
flow.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Callable, Sequence
from typing import Union

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["Jet", "Stream", "cat", "normalize_stream"]

logger = logging.getLogger(__name__)

Coefficient = Union[float, Tensor]
#: One second-order stream: terms ``(a, b, coef)`` meaning ``coef · ∂_a ∂_b``, where ``a`` and
#: ``b`` index the jet's first-derivative slots and ``coef`` is a float or an ``(N,)`` tensor.
Stream = tuple[tuple[int, int, Coefficient], ...]

_Number = numbers.Real


def _normalize_coefficient(coef: object) -> Coefficient:
    if isinstance(coef, Tensor):
        if coef.dim() > 1:
            raise ValueError(
                f"a stream coefficient tensor must have shape () or (n_points,), got "
                f"{tuple(coef.shape)}; flatten per-point coefficients to (n_points,)"
            )
        return coef
    if isinstance(coef, bool) or not isinstance(coef, _Number):
        raise TypeError(
            f"a stream coefficient must be a float or a Tensor of shape (n_points,), "
            f"got {type(coef).__name__}"
        )
    return float(coef)


def normalize_stream(stream: Sequence[Sequence[object]], n_first: int) -> Stream:
    """Validate one stream and store each term ``(a, b, coef)`` with ``a <= b``.

    Parameters
    ----------
    stream:
        Terms ``(a, b, coef)`` meaning ``coef · ∂_a ∂_b``; ``a``, ``b`` in ``range(n_first)``
        index first-derivative slots; ``coef`` is a float or a tensor of shape ``()`` or
        ``(n_points,)``.
    n_first:
        Number ``A`` of first-derivative slots of the jet the stream belongs to.

    Returns
    -------
    The stream as a tuple of ``(a, b, coef)`` with ``a <= b`` and float coefficients as floats.
    """
    if isinstance(stream, (str, bytes)) or not isinstance(stream, Sequence):
        raise TypeError(f"a stream is a sequence of (a, b, coef) terms, got {stream!r}")
    if len(stream) == 0:
        raise ValueError("a stream needs at least one (a, b, coef) term")
    terms = []
    for term in stream:
        if not isinstance(term, Sequence) or len(term) != 3:
            raise TypeError(f"a stream term is a triple (a, b, coef), got {term!r}")
        a, b, coef = term
        for index in (a, b):
            if (
                isinstance(index, bool)
                or not isinstance(index, numbers.Integral)
                or not 0 <= index < n_first
            ):
                raise ValueError(
                    f"stream term {(a, b)!r} indexes first-derivative slot {index!r}, but the "
                    f"jet has slots 0..{n_first - 1}; list the axes the stream needs in `axes`"
                )
        a, b = int(a), int(b)
        if b < a:
            a, b = b, a
        terms.append((a, b, _normalize_coefficient(coef)))
    return tuple(terms)


def _same_coefficient(c1: Coefficient, c2: Coefficient) -> bool:
    if isinstance(c1, Tensor) or isinstance(c2, Tensor):
        return c1 is c2
    return c1 == c2


class _Plan:
    """The derivative structure shared by all jets grown from one seed.

    Holds the normalised streams and, per stream, its terms with coefficients reshaped to
    broadcast against one slot of shape ``(N, W)`` (unit coefficients become ``None``) and,
    given a tensor ``like``, cast to its dtype and device (and checked against ``n_points``).
    """

    __slots__ = ("n_first", "streams", "terms", "full_laplacian", "all_laplacian")

    def __init__(
        self,
        n_first: int,
        streams: Sequence[Sequence[Sequence[object]]],
        like: Tensor | None = None,
        n_points: int | None = None,
    ) -> None:
        if isinstance(n_first, bool) or not isinstance(n_first, int) or n_first < 0:
            raise ValueError(f"n_first must be a non-negative int, got {n_first!r}")
        if isinstance(streams, (str, bytes)) or not isinstance(streams, Sequence):
            raise TypeError(f"streams must be a sequence of streams, got {streams!r}")
        self.n_first = n_first
        self.streams: tuple[Stream, ...] = tuple(normalize_stream(s, n_first) for s in streams)
        if n_points is not None:
            for stream in self.streams:
                for a, b, c in stream:
                    if isinstance(c, Tensor) and c.dim() == 1 and c.shape[0] != n_points:
                        raise ValueError(
                            f"the coefficient of stream term {(a, b)} has {c.shape[0]} values "
                            f"for {n_points} points; give one value per point"
                        )
        self.terms: tuple[tuple[tuple[int, int, Coefficient | None], ...], ...] = tuple(
            tuple((a, b, _broadcastable(c, like)) for a, b, c in stream) for stream in self.streams
        )
        # Σ_a ∂_a∂_a over all slots with unit coefficients (a Laplacian over the seeded axes):
        # one fused square-and-reduce over the stacked first slots.
        full = tuple((a, a, None) for a in range(n_first))
        self.full_laplacian = tuple(
            len(terms) == n_first and tuple(sorted(terms, key=lambda t: t[0])) == full
            for terms in self.terms
        )
        self.all_laplacian = bool(self.full_laplacian) and all(self.full_laplacian)

    @property
    def n_streams(self) -> int:
        return len(self.streams)

    def same_as(self, other: _Plan) -> bool:
        if self is other:
            return True
        if self.n_first != other.n_first or len(self.streams) != len(other.streams):
            return False
        for s1, s2 in zip(self.streams, other.streams):
            if len(s1) != len(s2):
                return False
            for (a1, b1, c1), (a2, b2, c2) in zip(s1, s2):
                if a1 != a2 or b1 != b2 or not _same_coefficient(c1, c2):
                    return False
        return True

    def quadratic(self, first: Tensor) -> Tensor:
        r""":math:`Q_p = \sum_{(a,b,c) \in p} c\, J_a \odot J_b` per stream.

        ``(A, N, W) -> (P, N, W)``; first slots held as ``(A, 1, W)`` give ``(P, 1, W)`` rows.
        """
        out = []
        slots = None
        laplacian = None
        for terms, full in zip(self.terms, self.full_laplacian):
            if full:
                if laplacian is None:
                    laplacian = first.square().sum(0)
                out.append(laplacian)
                continue
            if slots is None:
                # One unbind: its backward stacks the slot gradients in a single copy.
                slots = first.unbind(0)
            q = None
            for a, b, c in terms:
                ja = slots[a] if c is None else slots[a] * c
                q = ja * slots[b] if q is None else torch.addcmul(q, ja, slots[b])
            out.append(q)
        return _stack(out)

    def cross(self, first_u: Tensor, first_v: Tensor) -> Tensor:
        r""":math:`\sum_{(a,b,c) \in p} c\,(J^u_a \odot J^v_b + J^u_b \odot J^v_a)` per stream.

        Two ``(A, N, W)`` first-slot stacks ``-> (P, N, W)``.
        """
        out = []
        slots_u = slots_v = None
        laplacian = None
        for terms, full in zip(self.terms, self.full_laplacian):
            if full:
                if laplacian is None:
                    laplacian = 2.0 * (first_u * first_v).sum(0)
                out.append(laplacian)
                continue
            if slots_u is None:
                slots_u, slots_v = first_u.unbind(0), first_v.unbind(0)
            q = None
            for a, b, c in terms:
                if a == b:
                    t = 2.0 * (slots_u[a] * slots_v[a])
                else:
                    t = torch.addcmul(slots_u[a] * slots_v[b], slots_u[b], slots_v[a])
                if c is not None:
                    t = t * c
                q = t if q is None else q + t
            out.append(q)
        return _stack(out)


def _broadcastable(coef: Coefficient, like: Tensor | None) -> Coefficient | None:
    if isinstance(coef, Tensor):
        if like is not None:
            coef = coef.to(device=like.device, dtype=like.dtype)
        return coef.reshape(-1, 1) if coef.dim() == 1 else coef
    return None if coef == 1.0 else coef


def _stack(slots: list[Tensor]) -> Tensor:
    if len(slots) == 1:
        return slots[0].unsqueeze(0)
    # Streams with per-point coefficients are (N, W); others may be (1, W) rows when the first
    # slots are held as (A, 1, W).
    return torch.stack(torch.broadcast_tensors(*slots))


def _expand_to(t: Tensor, shape: torch.Size) -> Tensor:
    return t if t.shape == shape else t.expand(shape)


def _use_fused() -> bool:
    """Whether to use the hand-fused autograd functions (eager mode) or plain operations.

    Under :func:`torch.compile` plain operations are traced: the compiler fuses them itself,
    and tracing a custom autograd function warns in torch 2.13 (an error under ``-W error``).
    """
    return not torch.compiler.is_compiling()


def _is_number(x: object) -> bool:
    return isinstance(x, _Number) and not isinstance(x, bool)


def _is_constant(x: object) -> bool:
    return isinstance(x, Tensor) or _is_number(x)


class _SlotChain(torch.autograd.Function):
    r"""The derivative slots of the elementwise rule, with a hand-fused backward.

    Forward, for :math:`d_1 = f'(v)`, :math:`d_2 = f''(v)/k` and scale :math:`k`:

    .. math:: J'_a = d_1 J_a, \qquad S'_p = d_1 S_p + k\, d_2\, Q_p ,

    where :math:`Q_p = \sum_a J_a^2` (Laplacian streams, ``laplacian=True``: formed by the caller
    without a graph, its gradient is part of :math:`\bar J_a` below) or the given ``quadratic``
    ``(P, N, W)``. Backward, for upstream gradients
    :math:`G'_a, H'_p`:

    .. math::
        \bar J_a = d_1 G'_a + 2k\, d_2 \Big(\sum_p H'_p\Big) J_a, \quad
        \bar S_p = d_1 H'_p, \quad
        \bar d_1 = \sum_a G'_a J_a + \sum_p H'_p S_p, \quad
        \bar d_2 = k \sum_p H'_p Q_p, \quad \bar Q_p = k\, d_2 H'_p .

    This makes about half the passes over ``(N, W)`` slabs that autograd makes through the
    unfused operations (with :class:`~pinr.backbones.primitives._SinCos`, a SIREN Laplacian
    training step on CPU is ~6 % faster). The backward is written in differentiable torch
    operations, so it can itself be differentiated.
    """

    generate_vmap_rule = True  # torch.func.vmap (many models in one step) batches it by itself

    @staticmethod
    def forward(d1, d2, first, second, quadratic, scale, laplacian):
        new_first = d1 * first
        new_second = torch.addcmul(d1 * second, d2, quadratic, value=scale)
        return new_first, new_second

    @staticmethod
    def setup_context(ctx, inputs, output):
        d1, d2, first, second, quadratic, scale, laplacian = inputs
        ctx.save_for_backward(d1, d2, first, second, quadratic)
        ctx.scale = scale
        ctx.laplacian = laplacian

    @staticmethod
    def backward(ctx, g_first, g_second):
        d1, d2, first, second, quadratic = ctx.saved_tensors
        scale, laplacian = ctx.scale, ctx.laplacian
        if laplacian and torch.is_grad_enabled():
            # Differentiating this backward (create_graph=True): the saved Σ J_a² is an
            # intermediate, so rebuild it from `first` for its dependence to be recorded.
            quadratic = first.square().sum(0, keepdim=True)
        need = ctx.needs_input_grad
        g_d1 = g_d2 = g_j = g_s = g_q = None
        if g_first is not None:
            if need[2]:
                g_j = d1 * g_first
            if need[0]:
                g_d1 = _slot_dot(g_first, first)
        if g_second is not None:
            if need[3]:
                g_s = d1 * g_second
            if need[0]:
                dot = _slot_dot(g_second, second)
                g_d1 = dot if g_d1 is None else g_d1 + dot
            if need[1]:
                g_d2 = _slot_dot(g_second, quadratic.expand_as(g_second))
                if scale != 1.0:
                    g_d2 = g_d2 * scale
            if laplacian and need[2]:
                h = _slot_sum(g_second) * d2
                g_j = (
                    (h * (2.0 * scale)) * first
                    if g_j is None
                    else torch.addcmul(g_j, h, first, value=2.0 * scale)
                )
            if not laplacian and need[4]:
                g_q = g_second * d2 if scale == 1.0 else g_second * (d2 * scale)
        return g_d1, g_d2, g_j, g_s, g_q, None, None


def _chain_slots(
    plan: _Plan, d1: Tensor, d2: Tensor, first: Tensor, second: Tensor, scale: float
) -> tuple[Tensor, Tensor]:
    r""":math:`(d_1 J,\ d_1 S + k\, d_2 Q)`: :class:`_SlotChain` in eager mode, plain
    operations under :func:`torch.compile` (see :func:`_use_fused`)."""
    laplacian = plan.all_laplacian
    if not _use_fused():
        quadratic = first.square().sum(0, keepdim=True) if laplacian else plan.quadratic(first)
        return d1 * first, torch.addcmul(d1 * second, d2, quadratic, value=scale)
    if laplacian:  # Σ J_a², formed without a graph: the fused backward carries its gradient itself
        with torch.no_grad():
            slots = first.unbind(0)
            q = slots[0] * slots[0]
            for slot in slots[1:]:
                q = torch.addcmul(q, slot, slot)
        quadratic = q.unsqueeze(0)
    else:
        quadratic = plan.quadratic(first)
    return _SlotChain.apply(d1, d2, first, second, quadratic, scale, laplacian)


def _slot_dot(a: Tensor, b: Tensor) -> Tensor:
    r""":math:`\sum_k a_k \odot b_k` over the leading slot axis: ``(K, N, W) -> (N, W)``."""
    if a.shape[0] == 1:
        return a[0] * b[0] if b.shape[0] == 1 else (a * b).sum(0)
    return (a * b).sum(0)


def _slot_sum(a: Tensor) -> Tensor:
    return a[0] if a.shape[0] == 1 else a.sum(0)


class Jet:
    r"""Values and exact first/second input derivatives of ``W`` channels at ``N`` points.

    Parameters
    ----------
    data
        Stacked slots, shape ``(1 + n_first + len(streams), N, W)``: value, first derivatives,
        second-order streams (see the module docstring).
    n_first
        Number ``A`` of first-derivative slots.
    streams
        ``P`` second-order streams, each a tuple of ``(a, b, coef)`` terms meaning
        ``coef · ∂_a ∂_b`` with ``a``, ``b`` in ``range(n_first)``; ``coef`` is a float or a
        tensor of shape ``(N,)``. Terms are stored with ``a <= b``.

    Notes
    -----
    Jets are made with :meth:`seed` and transformed with :meth:`linear`,
    :meth:`elementwise`/:meth:`chain`, ``+ - *`` and :func:`cat`; all jets grown from one seed
    share ``n_first`` and ``streams``.

    Internally a jet keeps either the stacked ``data`` or its three parts (value, first,
    second), whichever the last operation produced, and builds the other form on first use.
    Elementwise rules work on the parts, and the affine map multiplies each part (or the stack,
    when that is what the jet holds): the products are those of one matmul on the stack,
    without copying the parts into a stack forward and out of it backward. Slicing a stack
    would zero-pad every slice's gradient in the backward; parts avoid that too.

    Parts may also be held compactly while that is exact: first slots that are the same for
    every point as ``(A, 1, W)`` rows (a seed's unit vectors, and their affine images: the
    columns ``W[:, axes[a]]``), and zero streams as ``None`` (a seed, its affine images, and
    everything after it through activations with :math:`f'' = 0` such as ReLU). Affine maps
    then multiply ``A`` rows instead of ``A·N``, and the elementwise rule forms
    :math:`\sum c\,J_a J_b` on rows and skips :math:`f'(v) S_p`. The public views expand
    them to ``(A, N, W)`` and ``(P, N, W)`` (without copying).
    """

    __slots__ = ("_data", "_parts", "_plan")

    def __init__(
        self, data: Tensor, n_first: int, streams: Sequence[Sequence[Sequence[object]]] = ()
    ) -> None:
        if not isinstance(data, Tensor) or data.dim() != 3:
            raise ValueError(
                "Jet data must be a tensor of shape (1 + n_first + n_streams, n_points, "
                f"n_channels), got {getattr(data, 'shape', type(data).__name__)}"
            )
        plan = _Plan(n_first, streams, data, data.shape[1])
        expected = 1 + plan.n_first + plan.n_streams
        if data.shape[0] != expected:
            raise ValueError(
                f"Jet data has {data.shape[0]} slots, but n_first={n_first} and "
                f"{plan.n_streams} streams need 1 + {n_first} + {plan.n_streams} = {expected}"
            )
        self._data: Tensor | None = data
        self._parts: tuple[Tensor, Tensor, Tensor | None] | None = None
        self._plan = plan

    @classmethod
    def _from_data(cls, data: Tensor, plan: _Plan) -> Jet:
        jet = object.__new__(cls)
        jet._data, jet._parts, jet._plan = data, None, plan
        return jet

    @classmethod
    def _from_parts(
        cls, value: Tensor, first: Tensor, second: Tensor | None, plan: _Plan
    ) -> Jet:
        """A jet from value ``(N, W)``, first ``(A, N, W)`` or ``(A, 1, W)`` (the same for every
        point) and second ``(P, N, W)`` or ``None`` (zero)."""
        jet = object.__new__(cls)
        jet._data, jet._parts, jet._plan = None, (value, first, second), plan
        return jet

    def _raw_parts(self) -> tuple[Tensor, Tensor, Tensor | None]:
        """The parts as held: first may be ``(A, 1, W)`` rows, second ``None`` for zero."""
        if self._parts is None:
            plan = self._plan
            value, first, second = self._data.split([1, plan.n_first, plan.n_streams])
            self._parts = (value.squeeze(0), first, second)
        return self._parts

    def _split(self) -> tuple[Tensor, Tensor, Tensor]:
        """Value ``(N, W)``, first ``(A, N, W)`` and second ``(P, N, W)`` slots (views)."""
        value, first, second = self._raw_parts()
        shape = value.shape
        if first.shape[1:] != shape:
            first = first.expand(first.shape[0], *shape)
        if second is None:
            second = value.new_zeros(()).expand(self._plan.n_streams, *shape)
        return value, first, second

    # ------------------------------------------------------------------ construction
    @classmethod
    def seed(
        cls,
        x: Tensor,
        axes: Sequence[int],
        streams: Sequence[Sequence[Sequence[object]]] = (),
    ) -> Jet:
        r"""The input jet of points ``x``: value ``x``, :math:`J_a = e_{\text{axes}[a]}`, ``S = 0``.

        Parameters
        ----------
        x:
            Points, shape ``(n_points, in_features)``; floating point.
        axes:
            Input axes ``(A,)`` to differentiate along; slot ``a`` of the jet is
            :math:`\partial/\partial x_{\text{axes}[a]}`.
        streams:
            Second-order streams whose ``(a, b, coef)`` terms index ``axes`` by position
            (slot ``a`` means axis ``axes[a]``); see :class:`Jet`.

        Returns
        -------
        A jet with ``data`` of shape ``(1 + len(axes) + len(streams), n_points, in_features)``,
        held compactly (see :class:`Jet`): a following :meth:`linear` multiplies ``A`` unit rows,
        giving the columns :math:`W_{:, \text{axes}[a]}`, and no zero streams.
        """
        if not isinstance(x, Tensor) or x.dim() != 2:
            raise ValueError(
                f"seed points must be a tensor of shape (n_points, in_features), got "
                f"{getattr(x, 'shape', type(x).__name__)}"
            )
        if not x.is_floating_point():
            raise TypeError(f"seed points must be floating point, got dtype {x.dtype}")
        n, d = x.shape
        if isinstance(axes, (str, bytes)) or not isinstance(axes, Sequence):
            raise TypeError(f"axes must be a sequence of input axes, got {axes!r}")
        for axis in axes:
            if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not 0 <= axis < d:
                raise ValueError(
                    f"seed axis {axis!r} is not an input axis of points with {d} features "
                    f"(valid: 0..{d - 1})"
                )
        axes = tuple(int(axis) for axis in axes)
        plan = _Plan(len(axes), streams, x, n)
        first = torch.eye(d, dtype=x.dtype, device=x.device)[list(axes)].unsqueeze(1)
        return cls._from_parts(x, first, None, plan)

    # ------------------------------------------------------------------ views
    @property
    def data(self) -> Tensor:
        """All slots stacked, shape ``(1 + A + P, N, W)``."""
        if self._data is None:
            value, first, second = self._split()
            self._data = torch.cat([value.unsqueeze(0), first, second])
        return self._data

    @property
    def n_first(self) -> int:
        """Number ``A`` of first-derivative slots."""
        return self._plan.n_first

    @property
    def streams(self) -> tuple[Stream, ...]:
        """The ``P`` second-order streams, terms normalised to ``a <= b``."""
        return self._plan.streams

    @property
    def value(self) -> Tensor:
        """Value, shape ``(N, W)``."""
        return self._split()[0]

    @property
    def first(self) -> Tensor:
        """First derivatives, shape ``(A, N, W)``; ``first[a]`` is ``∂_a`` of the value."""
        return self._split()[1]

    @property
    def second(self) -> Tensor:
        """Second-order streams, shape ``(P, N, W)``; ``second[p]`` is stream ``p`` of the value."""
        return self._split()[2]

    @property
    def n_points(self) -> int:
        return self.value.shape[0]

    @property
    def n_channels(self) -> int:
        return self.value.shape[-1]

    def __repr__(self) -> str:
        return (
            f"Jet(n_points={self.n_points}, n_channels={self.n_channels}, "
            f"n_first={self.n_first}, n_streams={self._plan.n_streams}, dtype={self.value.dtype})"
        )

    # ------------------------------------------------------------------ linear maps
    def linear(self, weight: Tensor, bias: Tensor | None = None) -> Jet:
        r"""Affine map :math:`z = v W^\top + b`; derivative slots get :math:`\cdot W^\top` only.

        Parameters
        ----------
        weight:
            ``(out_features, W)``.
        bias:
            ``(out_features,)`` or ``None``.

        Returns
        -------
        A jet with ``out_features`` channels. All slots are multiplied by :math:`W^\top`: in
        one matmul when the jet holds the stacked ``data``, else one per part (value, first,
        second) — the same products without stacking the parts (a copy forward and backward;
        measured ~6 % of a SIREN training step on CPU). Compact parts stay compact: ``(A, 1, W)``
        first rows are multiplied as rows, zero streams are not multiplied.
        """
        plan = self._plan
        if self._data is not None:
            out = F.linear(self._data, weight)
            if bias is None:
                return Jet._from_data(out, plan)
            value, first, second = out.split([1, plan.n_first, plan.n_streams])
            return Jet._from_parts(value.squeeze(0) + bias, first, second, plan)
        # The parts of an elementwise result: a matmul per part gives the same products as one
        # matmul on their stack without copying them into one (and, backward, out of one).
        value, first, second = self._raw_parts()
        return Jet._from_parts(
            F.linear(value, weight, bias),
            F.linear(first, weight),
            None if second is None else F.linear(second, weight),
            plan,
        )

    # ------------------------------------------------------------------ elementwise maps
    def chain(
        self, f_v: Tensor, df_v: Tensor, d2f_v: Tensor | None, *, second_scale: float = 1.0
    ) -> Jet:
        r"""Compose with a scalar function :math:`f` given :math:`f(v), f'(v), f''(v)`.

        :math:`v \leftarrow f(v)`, :math:`J_a \leftarrow f'(v) J_a`,
        :math:`S_p \leftarrow f'(v) S_p + f''(v) \sum c\, J_a \odot J_b`.

        Parameters
        ----------
        f_v, df_v:
            :math:`f(v)` and :math:`f'(v)`, shape ``(N, W)``.
        d2f_v:
            :math:`f''(v)` up to ``second_scale``, shape ``(N, W)``; ``None`` when
            :math:`f'' \equiv 0` (ReLU, affine).
        second_scale:
            Constant factor of :math:`f''`: :math:`f''(v) = \text{second\_scale} \cdot
            \text{d2f\_v}` (default ``1.0``); lets :math:`\sin(\omega v)` pass
            :math:`\sin` with :math:`-\omega^2` instead of a scaled copy.
        """
        plan = self._plan
        value, first, second = self._raw_parts()
        shape = value.shape
        f_v, df_v = _expand_to(f_v, shape), _expand_to(df_v, shape)
        if d2f_v is not None:
            d2f_v = _expand_to(d2f_v, shape)
        if plan.n_streams == 0 or (second is None and d2f_v is None):
            # No streams, or zero streams through f'' = 0: they stay zero.
            return Jet._from_parts(f_v, df_v * first, None, plan)
        if second is None:
            # Zero streams (after a seed's affine image): S' = f'' Σ c J_a J_b, on rows when
            # the first slots are rows.
            quadratic = plan.quadratic(first)
            if second_scale != 1.0:
                quadratic = quadratic * second_scale
            new_second = _expand_to(d2f_v * quadratic, (plan.n_streams, *shape))
            return Jet._from_parts(f_v, df_v * first, new_second, plan)
        first = _expand_to(first, (first.shape[0], *shape))
        if d2f_v is None:
            return Jet._from_parts(f_v, df_v * first, df_v * second, plan)
        new_first, new_second = _chain_slots(plan, df_v, d2f_v, first, second, float(second_scale))
        return Jet._from_parts(f_v, new_first, new_second, plan)

    def elementwise(
        self,
        f: Callable[[Tensor], Tensor],
        df: Callable[[Tensor], Tensor],
        d2f: Callable[[Tensor], Tensor] | None,
    ) -> Jet:
        r"""Apply a scalar function elementwise (see :meth:`chain`).

        :math:`f`, :math:`f'`, :math:`f''` are callables on the value tensor ``(N, W)``;
        ``d2f=None`` means :math:`f'' \equiv 0`.
        """
        v = self.value
        return self.chain(f(v), df(v), None if d2f is None else d2f(v))

    # ------------------------------------------------------------------ arithmetic
    def _check_compatible(self, other: Jet) -> None:
        if not self._plan.same_as(other._plan):
            raise ValueError(
                "cannot combine jets with different derivative structure "
                f"(n_first {self.n_first} vs {other.n_first}, streams {self.streams!r} vs "
                f"{other.streams!r}); grow both from the same Jet.seed"
            )

    def _shift_value(self, value: Tensor) -> Jet:
        _, first, second = self._split()
        shape = value.shape
        if first.shape[1:] != shape:
            first = first.expand(first.shape[0], *shape)
            second = second.expand(second.shape[0], *shape)
        return Jet._from_parts(value, first, second, self._plan)

    def _map_slots(self, fn: Callable[[Tensor], Tensor]) -> Jet:
        """Apply one linear slot-wise map to every slot (on whichever form the jet holds)."""
        if self._data is not None:
            return Jet._from_data(fn(self._data), self._plan)
        value, first, second = self._parts
        # Rows stay rows unless `fn` broadcasts them; zero streams stay zero.
        return Jet._from_parts(
            fn(value), fn(first), None if second is None else fn(second), self._plan
        )

    def _combine(self, other: Jet, fn: Callable[[Tensor, Tensor], Tensor]) -> Jet:
        self._check_compatible(other)
        if self._data is not None and other._data is not None:
            return Jet._from_data(fn(self._data, other._data), self._plan)
        (u, ju, su), (v, jv, sv) = self._split(), other._split()
        return Jet._from_parts(fn(u, v), fn(ju, jv), fn(su, sv), self._plan)

    def __add__(self, other: object) -> Jet:
        if isinstance(other, Jet):
            return self._combine(other, torch.add)
        if _is_constant(other):
            return self._shift_value(self.value + other)
        return NotImplemented

    def __radd__(self, other: object) -> Jet:
        return self.__add__(other)

    def __neg__(self) -> Jet:
        return self._map_slots(torch.neg)

    def __sub__(self, other: object) -> Jet:
        if isinstance(other, Jet):
            return self._combine(other, torch.sub)
        if _is_constant(other):
            return self._shift_value(self.value - other)
        return NotImplemented

    def __rsub__(self, other: object) -> Jet:
        if _is_constant(other):
            return (-self).__add__(other)
        return NotImplemented

    def __mul__(self, other: object) -> Jet:
        if isinstance(other, Jet):
            self._check_compatible(other)
            return self._product(other)
        if _is_constant(other):
            # A constant (in the inputs) scales every slot.
            return self._map_slots(lambda slot: slot * other)
        return NotImplemented

    def __rmul__(self, other: object) -> Jet:
        return self.__mul__(other)

    def pointwise_linear(self, m: Tensor) -> Jet:
        r""":math:`y_{n,c} = \sum_w x_{n,w}\, m_{n,w,c}` for ``m`` ``(N, W, C)`` constant in the
        inputs: a linear map, so every slot is mapped alike (``(N, W) → (N, C)``)."""
        return self._map_slots(lambda slot: torch.einsum("...nw,nwc->...nc", slot, m))

    def grouped_pointwise_linear(self, m: Tensor) -> Jet:
        r"""A per-point linear map on ``G`` groups of ``K`` channels, constant in the inputs:
        ``m`` ``(N, G, K, C)``, :math:`y_{n,gC+c} = \sum_k x_{n,gK+k}\, m_{n,g,k,c}` on every slot
        alike (``(N, G K) → (N, G C)``)."""
        n, g, k, c = m.shape

        def group(slot):  # a slot held for one point and broadcast is spread first
            lead = slot.shape[:-2]
            slot = slot.expand(*lead, n, g * k).reshape(*lead, n, g, k)
            return torch.einsum("...ngk,ngkc->...ngc", slot, m).reshape(*lead, n, g * c)
        return self._map_slots(group)

    def blockwise_linear(self, m: Tensor) -> Jet:
        r"""A linear map per block of points: the ``N = K n`` points are ``K`` consecutive blocks
        of ``n``, block :math:`k` mapped by ``m[k]`` (``m`` ``(K, W, C)``, constant in the
        inputs), :math:`y_{kn+j} = x_{kn+j}\, m_k` on every slot alike."""
        k, w, c = m.shape
        n = self.n_points

        def block(slot):  # a slot held for one point and broadcast (a seed's derivatives) is spread first
            lead = slot.shape[:-2]
            return (slot.expand(*lead, n, w).reshape(*lead, k, n // k, w) @ m).reshape(*lead, n, c)
        return self._map_slots(block)

    def __truediv__(self, other: object) -> Jet:
        if _is_constant(other):
            return self._map_slots(lambda slot: slot / other)
        return NotImplemented

    def _product(self, other: Jet) -> Jet:
        r"""Leibniz: :math:`\partial_a\partial_b(uv) = u\,\partial_{ab} v + v\,\partial_{ab} u
        + \partial_a u\,\partial_b v + \partial_b u\,\partial_a v`."""
        plan = self._plan
        (u, ju, su), (v, jv, sv) = self._split(), other._split()
        first = torch.addcmul(u * jv, v, ju)
        second = torch.addcmul(u * sv, v, su)
        if plan.n_streams:
            second = second + plan.cross(ju, jv)
        return Jet._from_parts(u * v, first, second, plan)


def cat(items: Sequence[Jet | Tensor], dim: int = -1) -> Jet:
    """Concatenate jets along channels: ``(N, W_1), ..., (N, W_k) -> (N, Σ W_i)`` in every slot.

    Plain tensors among ``items`` are constants with respect to the inputs (zero derivatives).
    All jets must come from the same seed (same ``n_first`` and ``streams``).

    Parameters
    ----------
    items:
        Jets (at least one) and constant tensors of shape ``(N, W_i)``.
    dim:
        The channel dimension of the ``(N, W)`` view: ``-1`` or ``1``.
    """
    if dim not in (-1, 1):
        raise ValueError(f"jets concatenate along channels only (dim=-1 or 1), got dim={dim}")
    items = list(items)
    jets = [item for item in items if isinstance(item, Jet)]
    if not jets:
        raise TypeError(
            "pinr.derivatives.jet.cat needs at least one Jet; use torch.cat for tensors"
        )
    ref = jets[0]
    for jet in jets[1:]:
        ref._check_compatible(jet)
    plan = ref._plan
    values, firsts, seconds = [], [], []
    for item in items:
        if isinstance(item, Jet):
            value, first, second = item._split()
        elif isinstance(item, Tensor):
            if item.dim() != 2:
                raise ValueError(
                    f"constant tensors concatenated with jets must be (n_points, n_channels), "
                    f"got {tuple(item.shape)}"
                )
            value = item
            zero = item.new_zeros(())
            first = zero.expand(plan.n_first, *item.shape)
            second = zero.expand(plan.n_streams, *item.shape)
        else:
            raise TypeError(f"cannot concatenate a {type(item).__name__} with jets")
        values.append(value)
        firsts.append(first)
        seconds.append(second)
    return Jet._from_parts(
        torch.cat(values, dim=-1), torch.cat(firsts, dim=-1), torch.cat(seconds, dim=-1), plan
    )
