r"""Forward-mode Taylor jets: exact first and second input derivatives by propagation.

A :class:`Jet` carries, for ``N`` points and ``W`` channels, one stacked tensor
``data`` of shape ``(1 + A + P, N, W)``:

* ``data[0]`` — the value :math:`v`;
* ``data[1 : 1 + A]`` — first derivatives :math:`J_a = \partial_a v` along ``A`` directions
  (for a seed, the input axes ``axes[a]``);
* ``data[1 + A :]`` — ``P`` second-order *streams*. Stream ``p`` holds one weighted sum of
  second derivatives

  .. math:: S_p = \sum_{(a, b, c) \in \text{stream}_p} c\,\partial_a \partial_b v ,

  so ``u_xx`` is ``((x, x, 1.0),)``, the mixed ``u_xy`` is ``((x, y, 1.0),)`` (exactly
  :math:`\partial_x\partial_y`, not doubled), a Laplacian is ``((0, 0, 1.0), (1, 1, 1.0))``
  and :math:`A(x) u_{xx} + B(x) u_{yy}` takes per-point coefficient tensors of shape ``(N,)``.
  A whole second-order operator costs one stream.

Propagation rules (``⊙`` is elementwise, coefficient tensors broadcast over channels):

* affine :math:`z = v W^\top + b`: every slot is multiplied by :math:`W^\top` in one matmul on
  ``data``; the bias enters the value only;
* elementwise :math:`f`: :math:`v \leftarrow f(v)`, :math:`J_a \leftarrow f'(v) J_a`,
  :math:`S_p \leftarrow f'(v) S_p + f''(v) \sum c\, J_a \odot J_b`;
* sum and product by Leibniz:
  :math:`\partial_a\partial_b(uv) = u\,\partial_a\partial_b v + v\,\partial_a\partial_b u
  + \partial_a u\,\partial_b v + \partial_b u\,\partial_a v`.

Everything is built from ordinary differentiable tensor operations, so a loss built from jet
slots backpropagates to network parameters with a plain first-order backward, and the whole
propagation traces under :func:`torch.compile` (no data-dependent Python control flow).
"""

from __future__ import annotations

import logging
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

_Number = (int, float)


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
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n_first:
                raise ValueError(
                    f"stream term {(a, b)!r} indexes first-derivative slot {index!r}, but the "
                    f"jet has slots 0..{n_first - 1}; list the axes the stream needs in `axes`"
                )
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
    broadcast against one slot of shape ``(N, W)`` (unit coefficients become ``None``).
    """

    __slots__ = ("n_first", "streams", "terms", "full_laplacian")

    def __init__(self, n_first: int, streams: Sequence[Sequence[Sequence[object]]]) -> None:
        if isinstance(n_first, bool) or not isinstance(n_first, int) or n_first < 0:
            raise ValueError(f"n_first must be a non-negative int, got {n_first!r}")
        if isinstance(streams, (str, bytes)) or not isinstance(streams, Sequence):
            raise TypeError(f"streams must be a sequence of streams, got {streams!r}")
        self.n_first = n_first
        self.streams: tuple[Stream, ...] = tuple(normalize_stream(s, n_first) for s in streams)
        self.terms: tuple[tuple[tuple[int, int, Coefficient | None], ...], ...] = tuple(
            tuple((a, b, _broadcastable(c)) for a, b, c in stream) for stream in self.streams
        )
        # Σ_a ∂_a∂_a over all slots with unit coefficients (a Laplacian over the seeded axes):
        # one fused square-and-reduce over the stacked first slots.
        full = tuple((a, a, None) for a in range(n_first))
        self.full_laplacian = tuple(
            len(terms) == n_first and tuple(sorted(terms, key=lambda t: t[0])) == full
            for terms in self.terms
        )

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
        r""":math:`Q_p = \sum_{(a,b,c) \in p} c\, J_a \odot J_b` for every stream; ``(A, N, W) -> (P, N, W)``."""
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
        r""":math:`\sum_{(a,b,c) \in p} c\,(J^u_a \odot J^v_b + J^u_b \odot J^v_a)` per stream; ``(P, N, W)``."""
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


def _broadcastable(coef: Coefficient) -> Coefficient | None:
    if isinstance(coef, Tensor):
        return coef.reshape(-1, 1) if coef.dim() == 1 else coef
    return None if coef == 1.0 else coef


def _stack(slots: list[Tensor]) -> Tensor:
    if len(slots) == 1:
        return slots[0].unsqueeze(0)
    # Streams with per-point coefficients are (N, W); others may still be (1, W) on a
    # compact first layer.
    return torch.stack(torch.broadcast_tensors(*slots))


def _is_number(x: object) -> bool:
    return isinstance(x, _Number) and not isinstance(x, bool)


def _is_constant(x: object) -> bool:
    return isinstance(x, Tensor) or _is_number(x)


class Jet:
    r"""Values and exact first/second input derivatives of ``W`` channels at ``N`` points.

    Parameters
    ----------
    data:
        Stacked slots, shape ``(1 + n_first + len(streams), N, W)``: value, first derivatives,
        second-order streams (see the module docstring).
    n_first:
        Number ``A`` of first-derivative slots.
    streams:
        ``P`` second-order streams, each a tuple of ``(a, b, coef)`` terms meaning
        ``coef · ∂_a ∂_b`` with ``a``, ``b`` in ``range(n_first)``; ``coef`` is a float or a
        tensor of shape ``(N,)``. Terms are stored with ``a <= b``.

    Jets are made with :meth:`seed` and transformed with :meth:`linear`,
    :meth:`elementwise`/:meth:`chain`, ``+ - *`` and :func:`cat`; all jets grown from one seed
    share ``n_first`` and ``streams``.

    Internally a jet keeps either the stacked ``data`` or its three parts (value, first,
    second), whichever the last operation produced, and builds the other form on first use.
    Elementwise rules work on the parts, and the affine map multiplies each part (or the stack,
    when that is what the jet holds): the products are those of one matmul on the stack,
    without copying the parts into a stack forward and out of it backward. Slicing a stack
    would zero-pad every slice's gradient in the backward; parts avoid that too.

    The affine image of a fresh seed is held compactly: its first slots are the weight columns
    ``(A, 1, W)`` (the same for every point) and its streams are zero, so the following
    elementwise rule forms :math:`\sum c\,J_a J_b` on ``(1, W)`` rows and skips
    :math:`f'(v) S_p`. The public views expand them to ``(A, N, W)`` and ``(P, N, W)``.
    """

    __slots__ = ("_data", "_parts", "_plan", "_seed_axes", "_compact")

    def __init__(
        self, data: Tensor, n_first: int, streams: Sequence[Sequence[Sequence[object]]] = ()
    ) -> None:
        plan = _Plan(n_first, streams)
        if not isinstance(data, Tensor) or data.dim() != 3:
            raise ValueError(
                "Jet data must be a tensor of shape (1 + n_first + n_streams, n_points, "
                f"n_channels), got {getattr(data, 'shape', type(data).__name__)}"
            )
        expected = 1 + plan.n_first + plan.n_streams
        if data.shape[0] != expected:
            raise ValueError(
                f"Jet data has {data.shape[0]} slots, but n_first={n_first} and "
                f"{plan.n_streams} streams need 1 + {n_first} + {plan.n_streams} = {expected}"
            )
        self._data: Tensor | None = data
        self._parts: tuple[Tensor, Tensor, Tensor | None] | None = None
        self._plan = plan
        self._seed_axes: tuple[int, ...] | None = None
        self._compact = False

    @classmethod
    def _from_data(cls, data: Tensor, plan: _Plan) -> Jet:
        jet = object.__new__(cls)
        jet._data, jet._parts, jet._plan = data, None, plan
        jet._seed_axes, jet._compact = None, False
        return jet

    @classmethod
    def _from_parts(
        cls, value: Tensor, first: Tensor, second: Tensor | None, plan: _Plan, *, compact: bool = False
    ) -> Jet:
        jet = object.__new__(cls)
        jet._data, jet._parts, jet._plan = None, (value, first, second), plan
        jet._seed_axes, jet._compact = None, compact
        return jet

    def _split(self) -> tuple[Tensor, Tensor, Tensor]:
        """Value ``(N, W)``, first ``(A, N, W)`` and second ``(P, N, W)`` slots (views)."""
        if self._parts is None:
            plan = self._plan
            value, first, second = self._data.split([1, plan.n_first, plan.n_streams])
            self._parts = (value.squeeze(0), first, second)
        if self._compact:
            value, first, _ = self._parts
            shape = value.shape
            zero = value.new_zeros(())
            return value, first.expand(first.shape[0], *shape), zero.expand(self._plan.n_streams, *shape)
        return self._parts

    # ------------------------------------------------------------------ construction
    @classmethod
    def seed(
        cls,
        x: Tensor,
        axes: Sequence[int],
        streams: Sequence[Sequence[Sequence[object]]] = (),
    ) -> Jet:
        r"""The input jet of points ``x``: value ``x``, :math:`J_a = e_{\text{axes}[a]}`, :math:`S = 0`.

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
        A jet with ``data`` of shape ``(1 + len(axes) + len(streams), n_points, in_features)``.
        A following :meth:`linear` uses :math:`e_{\text{axes}[a]} W^\top = W_{:, \text{axes}[a]}`
        instead of a matmul on the derivative slots.
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
        axes = tuple(axes)
        for axis in axes:
            if isinstance(axis, bool) or not isinstance(axis, int) or not 0 <= axis < d:
                raise ValueError(
                    f"seed axis {axis!r} is not an input axis of points with {d} features "
                    f"(valid: 0..{d - 1})"
                )
        plan = _Plan(len(axes), streams)
        first = torch.eye(d, dtype=x.dtype, device=x.device)[list(axes)]
        jet = cls._from_parts(
            x, first.unsqueeze(1).expand(len(axes), n, d), x.new_zeros(plan.n_streams, n, d), plan
        )
        jet._seed_axes = axes
        return jet

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
        A jet with ``out_features`` channels. All slots go through one matmul on the stacked
        ``data``; on a fresh seed the first slots are the columns ``W[:, axes[a]]`` and the
        streams stay zero, so only the value is multiplied.
        """
        plan = self._plan
        if self._seed_axes is not None:
            value, _, _ = self._parts
            first = weight.t()[list(self._seed_axes)].unsqueeze(1)
            return Jet._from_parts(F.linear(value, weight, bias), first, None, plan, compact=True)
        if self._data is not None:
            out = F.linear(self._data, weight)
            if bias is None:
                return Jet._from_data(out, plan)
            value, first, second = out.split([1, plan.n_first, plan.n_streams])
            return Jet._from_parts(value.squeeze(0) + bias, first, second, plan)
        # The parts of an elementwise result: a matmul per part gives the same products as one
        # matmul on their stack without copying them into one (and, backward, out of one).
        value, first, second = self._split()
        return Jet._from_parts(
            F.linear(value, weight, bias), F.linear(first, weight), F.linear(second, weight), plan
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
        shape = f_v.shape
        if self._compact:
            _, first, _ = self._parts  # (A, 1, W); the streams are zero
            new_first = df_v * first
            if plan.n_streams == 0 or d2f_v is None:
                new_second = f_v.new_zeros(()).expand(plan.n_streams, *shape)
            else:
                quadratic = plan.quadratic(first)
                if second_scale != 1.0:
                    quadratic = quadratic * second_scale
                new_second = d2f_v * quadratic
                if new_second.shape[1:] != shape:
                    new_second = new_second.expand(plan.n_streams, *shape)
            return Jet._from_parts(f_v, new_first, new_second, plan)
        _, first, second = self._split()
        new_first = df_v * first
        if plan.n_streams == 0:
            new_second = second.expand(0, *shape)
        elif d2f_v is None:
            new_second = df_v * second
        else:
            new_second = torch.addcmul(
                df_v * second, d2f_v, plan.quadratic(first), value=second_scale
            )
        return Jet._from_parts(f_v, new_first, new_second, plan)

    def elementwise(
        self,
        f: Callable[[Tensor], Tensor],
        df: Callable[[Tensor], Tensor],
        d2f: Callable[[Tensor], Tensor] | None,
    ) -> Jet:
        r"""Apply a scalar function elementwise: :math:`f`, :math:`f'`, :math:`f''` are callables
        on the value tensor ``(N, W)``; ``d2f=None`` means :math:`f'' \equiv 0`. See :meth:`chain`."""
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
        if self._compact:  # zero streams stay zero under a linear map
            return Jet._from_parts(fn(value), fn(first), None, self._plan, compact=True)
        return Jet._from_parts(fn(value), fn(first), fn(second), self._plan)

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
        raise TypeError("pinr.derivatives.jet.cat needs at least one Jet; use torch.cat for tensors")
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
