r"""Jet-aware building blocks: every backbone is written from these.

Each function accepts either a plain tensor of shape ``(n_points, n_channels)`` — ordinary
evaluation with torch operations — or a :class:`~pinr.derivatives.jet.Jet`, in which case it
propagates exact first and second input derivatives (see :mod:`pinr.derivatives.jet`). A module
built only from these primitives, ``+``, ``-`` and ``*`` (and :class:`torch.nn.Sequential` of
such modules) therefore gets the jet derivative engine for free.

Activations supply exact :math:`f, f', f''` (:math:`\sigma` is the logistic sigmoid):

* ``sin``: :math:`\sin x,\ \cos x,\ -\sin x`
* ``cos``: :math:`\cos x,\ -\sin x,\ -\cos x`
* ``relu``: :math:`\max(x, 0),\ [x > 0],\ 0` (so :math:`f'(0) = 0`)
* ``tanh``: :math:`t = \tanh x,\ 1 - t^2,\ -2t(1 - t^2)`
* ``softplus``: :math:`\tfrac1\beta\log(1 + e^{\beta x}),\ \sigma(\beta x),\
  \beta\,\sigma(\beta x)(1 - \sigma(\beta x))`
* ``sigmoid``: :math:`\sigma,\ \sigma(1-\sigma),\ \sigma(1-\sigma)(1-2\sigma)`
* ``sin2``: :math:`\sin^2 x,\ \sin 2x,\ 2\cos 2x`
* ``gaussian``: :math:`e^{-x^2},\ -2x\,e^{-x^2},\ (4x^2 - 2)\,e^{-x^2}`
* ``exp``: :math:`e^x,\ e^x,\ e^x`
* ``identity``: :math:`x,\ 1,\ 0`
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Union

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..derivatives import jet as _jet
from ..derivatives.jet import Jet
from ..derivatives.jet import cat as _jet_cat

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "FourierEncoding",
    "Linear",
    "activation",
    "cat",
    "pointwise_linear",
    "blockwise_linear",
    "grouped_pointwise_linear",
    "cos",
    "exp",
    "gaussian",
    "identity",
    "linear",
    "relu",
    "scale",
    "sigmoid",
    "sin",
    "sin2",
    "softplus",
    "tanh",
]

logger = logging.getLogger(__name__)

Field = Union[Tensor, Jet]
#: ``v -> (f(v), f'(v), g(v), k)`` with :math:`f''(v) = k\,g(v)`; ``g`` is ``None`` when
#: :math:`f'' \equiv 0`. The constant ``k`` lets :math:`\sin` reuse its value as :math:`-f''`.
Derivatives = Callable[[Tensor], "tuple[Tensor, Tensor, Tensor | None, float]"]


# ---------------------------------------------------------------------- f, f', f''
class _SinCos(torch.autograd.Function):
    r""":math:`(\sin \omega v,\ k \cos \omega v)` in one node whose backward reuses both:
    :math:`\bar v = \omega\,\bar s \cos\omega v - \omega k\, \bar c\, \sin\omega v`
    (autograd through ``sin``/``cos`` would recompute both and scale twice)."""

    generate_vmap_rule = True  # torch.func.vmap (many models in one step) batches it by itself

    @staticmethod
    def forward(v, omega, k):
        u = v * omega if omega != 1.0 else v
        s, kc = torch.sin(u), torch.cos(u)
        if k != 1.0:
            kc = kc * k
        return s, kc

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, omega, k = inputs
        ctx.save_for_backward(*output)
        ctx.omega, ctx.k = omega, k

    @staticmethod
    def backward(ctx, g_s, g_kc):
        s, kc = ctx.saved_tensors
        omega, k = ctx.omega, ctx.k
        g = None
        if g_s is not None:
            g = g_s * kc if omega == k else g_s * (kc * (omega / k))
        if g_kc is not None:
            if g is None:
                g = g_kc * s * (-omega * k)
            else:
                g = torch.addcmul(g, g_kc, s, value=-omega * k)
        return g, None, None


def _sin_cos(v: Tensor, omega: float = 1.0, k: float = 1.0) -> tuple[Tensor, Tensor]:
    r""":math:`(\sin \omega v,\ k\cos \omega v)`, shapes of ``v``.

    Eager mode uses :class:`_SinCos`; under :func:`torch.compile` plain operations are traced
    (see :func:`pinr.derivatives.jet._use_fused`).
    """
    if not _jet._use_fused():
        u = v * omega
        return torch.sin(u), torch.cos(u) * k
    return _SinCos.apply(v, float(omega), float(k))


def _sin_derivatives(v: Tensor, omega: float = 1.0) -> tuple[Tensor, Tensor, Tensor, float]:
    r"""Of :math:`\sin \omega v` in ``v``: :math:`(\sin, \omega\cos, \sin, -\omega^2)`."""
    s, omega_c = _sin_cos(v, omega, omega)
    return s, omega_c, s, -omega * omega


def _cos_derivatives(v: Tensor, omega: float = 1.0) -> tuple[Tensor, Tensor, Tensor, float]:
    r"""Of :math:`\cos \omega v` in ``v``: :math:`(\cos, -\omega\sin, \cos, -\omega^2)`."""
    s, c = _sin_cos(v, omega)
    return c, s * -omega, c, -omega * omega


def _relu_derivatives(v: Tensor) -> tuple[Tensor, Tensor, None, float]:
    return torch.relu(v), (v > 0).to(v.dtype), None, 0.0


def _tanh_derivatives(v: Tensor) -> tuple[Tensor, Tensor, Tensor, float]:
    t = torch.tanh(v)
    d1 = 1.0 - t * t
    return t, d1, t * d1, -2.0


def _softplus_derivatives(v: Tensor, beta: float = 1.0) -> tuple[Tensor, Tensor, Tensor, float]:
    s = torch.sigmoid(beta * v)
    return F.softplus(v, beta=beta), s, s * (1.0 - s), beta


def _sigmoid_derivatives(v: Tensor) -> tuple[Tensor, Tensor, Tensor, float]:
    s = torch.sigmoid(v)
    d1 = s * (1.0 - s)
    return s, d1, d1 * (1.0 - 2.0 * s), 1.0


def _sin2_derivatives(v: Tensor) -> tuple[Tensor, Tensor, Tensor, float]:
    s = torch.sin(v)
    return s * s, torch.sin(2.0 * v), torch.cos(2.0 * v), 2.0


def _gaussian_derivatives(v: Tensor) -> tuple[Tensor, Tensor, Tensor, float]:
    g = torch.exp(-v * v)
    return g, -2.0 * v * g, (4.0 * v * v - 2.0) * g, 1.0


def _exp_derivatives(v: Tensor) -> tuple[Tensor, Tensor, Tensor, float]:
    e = torch.exp(v)
    return e, e, e, 1.0


def _chain(x: Jet, derivatives: tuple[Tensor, Tensor, Tensor | None, float]) -> Jet:
    f_v, df_v, d2f_v, scale = derivatives
    return x.chain(f_v, df_v, d2f_v, second_scale=scale)


def _apply(x: Field, plain: Callable[[Tensor], Tensor], derivatives: Derivatives) -> Field:
    if isinstance(x, Jet):
        return _chain(x, derivatives(x.value))
    return plain(x)


# ---------------------------------------------------------------------- functions
def linear(x: Field, weight: Tensor, bias: Tensor | None = None) -> Field:
    r"""Affine map :math:`z = x W^\top + b`.

    ``x``: ``(N, in_features)`` or a jet with ``in_features`` channels; ``weight``:
    ``(out_features, in_features)``; ``bias``: ``(out_features,)`` or ``None``.
    """
    if isinstance(x, Jet):
        return x.linear(weight, bias)
    return F.linear(x, weight, bias)


def sin(x: Field) -> Field:
    r""":math:`\sin x`, elementwise."""
    return _apply(x, torch.sin, _sin_derivatives)


def cos(x: Field) -> Field:
    r""":math:`\cos x`, elementwise."""
    return _apply(x, torch.cos, _cos_derivatives)


def relu(x: Field) -> Field:
    r""":math:`\max(x, 0)`, elementwise; :math:`f'(0) = 0`, :math:`f'' = 0`."""
    return _apply(x, torch.relu, _relu_derivatives)


def tanh(x: Field) -> Field:
    r""":math:`\tanh x`, elementwise."""
    return _apply(x, torch.tanh, _tanh_derivatives)


def softplus(x: Field, beta: float = 1.0) -> Field:
    r""":math:`\tfrac{1}{\beta}\log(1 + e^{\beta x})`, elementwise (default ``beta=1``).

    Plain tensors use :func:`torch.nn.functional.softplus`, which is linear above
    :math:`\beta x > 20`; jets use the exact derivatives :math:`\sigma(\beta x)` and
    :math:`\beta\sigma(1-\sigma)` everywhere (they differ there by less than :math:`e^{-20}`).
    """
    if isinstance(x, Jet):
        return _chain(x, _softplus_derivatives(x.value, beta))
    return F.softplus(x, beta=beta)


def sigmoid(x: Field) -> Field:
    r""":math:`\sigma(x) = 1/(1 + e^{-x})`, elementwise."""
    return _apply(x, torch.sigmoid, _sigmoid_derivatives)


def sin2(x: Field) -> Field:
    r""":math:`\sin^2 x`, elementwise."""
    return _apply(x, lambda t: torch.sin(t).square(), _sin2_derivatives)


def gaussian(x: Field) -> Field:
    r""":math:`e^{-x^2}`, elementwise."""
    return _apply(x, lambda t: torch.exp(-t * t), _gaussian_derivatives)


def exp(x: Field) -> Field:
    r""":math:`e^x`, elementwise."""
    return _apply(x, torch.exp, _exp_derivatives)


def identity(x: Field) -> Field:
    r""":math:`x`, unchanged."""
    return x


def scale(x: Field, s: float | Tensor) -> Field:
    r""":math:`s\,x`; ``s`` is a number or a tensor broadcastable to ``(N, W)``, constant in x."""
    return x * s


def pointwise_linear(x: Field, m: Tensor) -> Field:
    r"""A linear map that varies from point to point, constant in x: :math:`y_{n,c} = \sum_w
    x_{n,w} m_{n,w,c}` for ``x`` ``(N, W)`` and ``m`` ``(N, W, C)`` (on every jet slot alike)."""
    if isinstance(x, Jet):
        return x.pointwise_linear(m)
    return torch.einsum("nw,nwc->nc", x, m)


def grouped_pointwise_linear(x: Field, m: Tensor) -> Field:
    r"""A per-point linear map on groups of channels, constant in x: ``x`` ``(N, G K)`` is ``G``
    groups of ``K`` channels, ``m`` ``(N, G, K, C)``, :math:`y_{n,gC+c} = \sum_k x_{n,gK+k}\,
    m_{n,g,k,c}` ``(N, G C)`` (a hash grid's kernel weights times the table rows they read, one group
    a level: :func:`pointwise_linear` with a block-diagonal ``m``, without its zero blocks)."""
    if isinstance(x, Jet):
        return x.grouped_pointwise_linear(m)
    n, g, k, c = m.shape
    return torch.einsum("ngk,ngkc->ngc", x.reshape(n, g, k), m).reshape(n, g * c)


def blockwise_linear(x: Field, m: Tensor) -> Field:
    r"""A linear map per block of points: ``x`` ``(K n, W)`` is ``K`` consecutive blocks of ``n``
    points, block :math:`k` mapped by ``m[k]`` (``m`` ``(K, W, C)``): the batched product a
    per-point map (:func:`pointwise_linear`) becomes when points come grouped."""
    if isinstance(x, Jet):
        return x.blockwise_linear(m)
    k, w, c = m.shape
    return (x.reshape(k, -1, w) @ m).reshape(-1, c)


def cat(items: Sequence[Field], dim: int = -1) -> Field:
    """Concatenate along channels; jets if any item is a jet (tensors are then constants)."""
    items = list(items)
    if any(isinstance(item, Jet) for item in items):
        return _jet_cat(items, dim)
    return torch.cat(items, dim=dim)


#: Activation functions by name; each accepts a tensor or a jet.
ACTIVATIONS: dict[str, Callable[[Field], Field]] = {
    "sin": sin,
    "cos": cos,
    "relu": relu,
    "tanh": tanh,
    "softplus": softplus,
    "sigmoid": sigmoid,
    "sin2": sin2,
    "gaussian": gaussian,
    "exp": exp,
    "identity": identity,
}

#: Derivative functions that take ``omega`` themselves (``f(ω v)`` and its ``v``-derivatives).
_OMEGA_DERIVATIVES = frozenset({"sin", "cos"})

_DERIVATIVES: dict[str, Derivatives | None] = {
    "sin": _sin_derivatives,
    "cos": _cos_derivatives,
    "relu": _relu_derivatives,
    "tanh": _tanh_derivatives,
    "softplus": _softplus_derivatives,
    "sigmoid": _sigmoid_derivatives,
    "sin2": _sin2_derivatives,
    "gaussian": _gaussian_derivatives,
    "exp": _exp_derivatives,
    "identity": None,
}


def activation(name: str) -> Callable[[Field], Field]:
    """The activation function registered as ``name`` (see :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r}; valid names: {valid}") from None


# ---------------------------------------------------------------------- modules
class Linear(nn.Linear):
    r""":class:`torch.nn.Linear` that also maps jets: :math:`z = x W^\top + b`,
    ``(N, in_features) -> (N, out_features)``."""

    def forward(self, x: Field) -> Field:  # type: ignore[override]
        return linear(x, self.weight, self.bias)


class Activation(nn.Module):
    r"""Elementwise :math:`f(\omega x)` with :math:`f` from :data:`ACTIVATIONS`.

    ``omega`` is applied before the nonlinearity, as in SIREN's :math:`\sin(\omega_0 z)`
    (default ``omega=1.0``). On jets the factor is folded into the derivatives,
    :math:`(f(\omega v), \omega f'(\omega v), \omega^2 f''(\omega v))`, so no extra pass over the
    derivative slots is made.
    """

    def __init__(self, name: str, *, omega: float = 1.0) -> None:
        super().__init__()
        self.fn = activation(name)
        self.name = name
        self.omega = float(omega)
        self._derivatives = _DERIVATIVES[name]
        self._fold_omega = name in _OMEGA_DERIVATIVES

    def forward(self, x: Field) -> Field:
        omega = self.omega
        if isinstance(x, Jet) and self._derivatives is not None:
            if omega == 1.0:
                return _chain(x, self._derivatives(x.value))
            if self._fold_omega:
                return _chain(x, self._derivatives(x.value, omega))
            f_v, df_v, d2f_v, scale = self._derivatives(x.value * omega)
            return x.chain(f_v, df_v * omega, d2f_v, second_scale=scale * omega * omega)
        return self.fn(x if omega == 1.0 else x * omega)

    def extra_repr(self) -> str:
        return f"{self.name!r}, omega={self.omega:g}"


class FourierEncoding(nn.Module):
    r"""Fourier features :math:`\gamma(x) = [\,x,\ \sin(2\pi x B^\top),\ \cos(2\pi x B^\top)\,]`.

    Parameters
    ----------
    B:
        Frequencies, shape ``(m, d)``.
    include_input:
        Prepend ``x`` itself (default ``False``).
    trainable:
        Make ``B`` a parameter (default ``False``: a buffer).

    Shapes: ``(N, d) -> (N, 2m)``, or ``(N, d + 2m)`` with ``include_input``.
    """

    def __init__(self, B: Tensor, *, include_input: bool = False, trainable: bool = False) -> None:
        super().__init__()
        if not isinstance(B, Tensor) or B.dim() != 2:
            raise ValueError(
                f"FourierEncoding needs frequencies B of shape (m, in_features), got "
                f"{getattr(B, 'shape', type(B).__name__)}"
            )
        B = B.detach().clone()
        if trainable:
            self.B = nn.Parameter(B)
        else:
            self.register_buffer("B", B)
        self.include_input = include_input
        self.in_features = B.shape[1]
        self.out_features = 2 * B.shape[0] + (B.shape[1] if include_input else 0)

    def forward(self, x: Field) -> Field:
        z = linear(x, (2.0 * math.pi) * self.B)
        if isinstance(z, Jet):
            s, c = _sin_cos(z.value)
            features = [z.chain(s, c, s, second_scale=-1.0), z.chain(c, -s, c, second_scale=-1.0)]
        else:
            features = [torch.sin(z), torch.cos(z)]
        if self.include_input:
            features.insert(0, x)
        return cat(features)

    def extra_repr(self) -> str:
        m, d = self.B.shape
        return f"m={m}, in_features={d}, include_input={self.include_input}"
