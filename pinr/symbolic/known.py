r"""Known parts of an answer: a function with exact derivatives that a field includes, so that the
network learns only the rest.

A point source makes the answer of a wave problem singular (or, for a narrow Gaussian, nearly so)
where it sits: a network sized for the wavelength cannot draw it, and one sized for the source is
too costly for the wavelength. The singularity-subtraction remedy of the PINN literature writes the
answer as :math:`u = K + w` with :math:`K` the field the source makes in the background medium and
:math:`w` a smooth remainder the network learns; the compiler substitutes :math:`K + w` into every
residual (as it does a hard condition's form), so what the network sees is the source's effect
*beyond* the background — the scattered field, for a medium that varies.

``Problem(..., known={"u_re": K_re, "u_im": K_im})`` states it; ``K`` is an expression of the
coordinates made by :func:`known_apps` from a :class:`KnownField` (values and derivatives computed
numerically, e.g. by scipy's Hankel functions). Derivatives of the known part up to second order are
evaluated exactly where residuals need them. A solution saves a known part as its kind and numbers
(:meth:`KnownField.spec`), rebuilt by name from :data:`KNOWN_KINDS` — nothing in a file runs code.

Built in: :class:`HelmholtzSource`, the outgoing field of a 2-D Helmholtz operator
:math:`\nabla\cdot(\ldots\nabla u) + k^2 u = s\,G_\sigma(x - x_0)` for a Gaussian (or point) source,
with a perfectly matched layer's complex coordinate stretch where it reaches; :class:`WavePulse`, the
free-space wave of a Gaussian initial pulse in the plane, a function of :math:`(x, y, t)`.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import sympy
import torch
from scipy import special
from scipy.integrate import cumulative_trapezoid
from sympy.core.function import UndefinedFunction

from .expressions import DataFunction

__all__ = ["KnownField", "HelmholtzSource", "WavePulse", "WindowStart", "KNOWN_KINDS", "known_apps", "known_from_spec",
           "derivative_app", "known_field_of", "ORDERS", "orders_of"]

_IDS = itertools.count()

#: derivative orders a known part provides in 2-D: value, first and second derivatives
ORDERS = ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2))


def orders_of(dims: int) -> tuple[tuple[int, ...], ...]:
    """Every derivative order up to second of a function of ``dims`` coordinates (:data:`ORDERS` in 2-D)."""
    return tuple(o for o in itertools.product(range(3), repeat=dims) if sum(o) <= 2)


class KnownField:
    """A known function of the coordinates with ``channels`` real outputs and exact derivatives.

    Subclasses set ``kind`` (their name in :data:`KNOWN_KINDS`) and implement :meth:`derivatives`
    (values and derivatives at points, as numpy) and :meth:`spec` (the numbers that rebuild it).
    """

    kind = ""
    channels = 1
    dims = 2

    def __init__(self):
        self._last = None  # (points, {orders: (N, channels)}) of the last evaluation

    def derivatives(self, points: np.ndarray) -> dict[tuple[int, ...], np.ndarray]:
        """Orders → values ``(N, channels)`` at ``points`` ``(N, dims)`` for every order of
        :func:`orders_of` ``(dims)``."""
        raise NotImplementedError

    def spec(self) -> dict:
        """``{"kind": ..., numbers...}``: what :func:`known_from_spec` rebuilds it from."""
        raise NotImplementedError

    def describe(self) -> str:
        return self.kind

    def evaluate(self, points: torch.Tensor, channel: int, orders: tuple[int, ...]) -> torch.Tensor:
        """The derivative ``orders`` of output ``channel`` at ``points`` ``(N, dims)`` → ``(N,)``; the
        last points' values of every order are kept, so the residual's many atoms cost one evaluation.
        Differentiable in ``points`` (by the next order's values) where they require a gradient, as
        nested autograd through a hard form does (:meth:`pinr.solution.NeuralSolution.answer`)."""
        orders = tuple(int(o) for o in orders)
        if len(orders) != self.dims or sum(orders) > 2 or min(orders) < 0:
            raise ValueError(f"{self.describe()}: derivatives up to second order are known, not {orders}")
        if points.requires_grad and torch.is_grad_enabled():
            return _Known.apply(points, self, channel, orders)
        return self._table(points, channel, orders)

    def _table(self, points: torch.Tensor, channel: int, orders: tuple[int, ...]) -> torch.Tensor:
        last = self._last
        if last is None or last[0].shape != points.shape or last[0].dtype != points.dtype \
                or last[0].device != points.device or not torch.equal(last[0], points):
            values = self.derivatives(points.detach().cpu().double().numpy())
            table = {k: torch.as_tensor(v, dtype=points.dtype, device=points.device) for k, v in values.items()}
            self._last = last = (points.detach().clone(), table)
        return last[1][orders][:, channel]

    def __repr__(self):
        return self.describe()


class _Known(torch.autograd.Function):
    """A known part's derivative as a function of the points whose gradient is the next order's
    values (itself differentiable the same way, up to the second order a known part holds)."""

    @staticmethod
    def forward(ctx, points, field, channel, orders):
        ctx.save_for_backward(points)
        ctx.field, ctx.channel, ctx.orders = field, channel, orders
        return field._table(points.detach(), channel, orders)

    @staticmethod
    def backward(ctx, grad):
        (points,) = ctx.saved_tensors
        if sum(ctx.orders) >= 2:
            raise ValueError(f"{ctx.field.describe()}: derivatives up to second order are known, not beyond "
                             f"{ctx.orders}")
        columns = []
        for i in range(len(ctx.orders)):
            up = tuple(o + (j == i) for j, o in enumerate(ctx.orders))
            columns.append(grad * ctx.field.evaluate(points, ctx.channel, up))
        return torch.stack(columns, dim=-1), None, None, None


class _KnownSource:
    """A data source (as :class:`~pinr.symbolic.data.DataSource` is to the compiler) that is one
    derivative of a :class:`KnownField`."""

    known_at_points = True  #: a function of the points alone: a batch carries its values (training.terms)

    def __init__(self, field: KnownField, orders: tuple[int, ...]):
        self.field, self.orders = field, tuple(orders)
        self.name = field.kind

    @property
    def channels(self) -> int:
        return self.field.channels

    def interpolate(self, points: torch.Tensor, channel: int = 0) -> torch.Tensor:
        return self.field.evaluate(points, channel, self.orders)

    def __repr__(self):
        return f"{self.field.describe()} d{self.orders}"


def _app(field: KnownField, orders, channel: int, coords, uid: int, base: str):
    """The application of one derivative ``orders`` of a known part's ``channel``, named ``base``
    with the derivative's variables appended (``K_0_xx``)."""
    suffix = "".join(str(c) * o for c, o in zip(coords, orders))
    # the uid enters sympy's equality key (as pr.Data's does): two known parts never share a function
    cls = UndefinedFunction(f"{base}_{suffix}" if suffix else base, bases=(DataFunction,),
                            __dict__={"source": _KnownSource(field, orders), "channel": channel, "known": field,
                                      "known_orders": tuple(orders), "known_uid": uid, "known_base": base},
                            pinr_known=uid)
    return cls(*coords)


def known_apps(field: KnownField, coords, name: str = "K") -> list:
    """The known part's channels as expressions of ``coords`` (``name_0(x, y), name_1(x, y), ...``):
    put them in ``Problem(known=...)``. Derivatives of them are compiled to the field's exact ones."""
    if len(coords) != field.dims:
        raise ValueError(f"{field.describe()} is a function of {field.dims} coordinates, not of {tuple(coords)}")
    uid = next(_IDS)
    return [_app(field, (0,) * field.dims, c, tuple(coords), uid, f"{name}_{c}" if field.channels > 1 else name)
            for c in range(field.channels)]


def known_field_of(app) -> KnownField | None:
    """The :class:`KnownField` behind a known part's application, else None."""
    return getattr(app.func, "known", None) if isinstance(app, DataFunction) else None


def derivative_app(derivative: sympy.Derivative):
    """The application standing for ``derivative`` of a known part's application (what the
    compiler evaluates in its place), or None when it is not one."""
    app = derivative.expr
    field = known_field_of(app)
    if field is None:
        return None
    counts = dict.fromkeys(app.args, 0)
    for v, n in derivative.variable_count:
        counts[v] = counts.get(v, 0) + int(n)
    base = app.func.known_orders
    orders = tuple(b + counts[c] for b, c in zip(base, app.args))
    return _app(field, orders, app.func.channel, app.args, app.func.known_uid, app.func.known_base)


# ------------------------------------------------------------------------------ Helmholtz
def _stretch(x: np.ndarray, a0: float, width: float, edge: float):
    r"""The layer's complex coordinate :math:`\tilde x = x - i a_0\,\mathrm{sign}(x)\,d^3/(3L^2)`,
    :math:`d = \max(|x| - e, 0)`, with :math:`\tilde x' = e_x = 1 - i a_0 (d/L)^2` and
    :math:`\tilde x'' = -2 i a_0\,\mathrm{sign}(x)\, d / L^2`."""
    d = np.maximum(np.abs(x) - edge, 0.0)
    if width <= 0 or a0 == 0:
        zero = np.zeros_like(x, dtype=np.complex128)
        return x.astype(np.complex128), zero + 1, zero
    s = np.sign(x)
    return x - 1j * a0 * s * d**3 / (3 * width**2), 1 - 1j * a0 * (d / width) ** 2, -2j * a0 * s * d / width**2


class HelmholtzSource(KnownField):
    r"""The outgoing field of :math:`\Delta u + k^2 u = s\,G_\sigma(x - x_0)` in free space (unit-mass
    Gaussian :math:`G_\sigma` of variance ``variance``; 0 for a point source :math:`s\,\delta`), seen
    through a perfectly matched layer of width ``width`` and strength ``a0`` on the sides of the box
    :math:`[-b, b]^2` (``half``; the layer starts at :math:`b - L`), as two channels (real, imaginary).

    With the layer's stretch :math:`\tilde x`, the field is :math:`p(\tilde r)` for the radial profile

    .. math:: p(r) = \frac{i s}{4}\Big[H_0^{(2)}(kr)\int_0^r J_0(k\rho)\,g(\rho)\,d\rho
                   + J_0(kr)\int_r^\infty H_0^{(2)}(k\rho)\,g(\rho)\,d\rho\Big],\qquad g = 2\pi\rho\,G_\sigma,

    (Graf's addition theorem) which beyond :math:`12\sigma` is :math:`\tfrac{is}{4}e^{-k^2\sigma^2/2}
    H_0^{(2)}(k\tilde r)`. It satisfies the stretched operator
    :math:`\partial_x(\tfrac{e_y}{e_x}\partial_x u) + \partial_y(\tfrac{e_x}{e_y}\partial_y u) + e_x e_y k^2 u
    = s\,G_\sigma` exactly: inside the source by construction (:math:`p'' = sG - p'/r - k^2 p`), and
    outside it because :math:`H_0^{(2)}(k\tilde r)` solves the stretched equation. The source must sit
    outside the layer."""

    kind = "helmholtz-source"
    channels = 2

    def __init__(self, *, k: float, center=(0.0, 0.0), source: complex = 1.0, variance: float = 0.0,
                 a0: float = 0.0, width: float = 0.0, half: float = 1.0):
        super().__init__()
        self.k, self.center, self.source = float(k), tuple(float(c) for c in center), complex(source)
        self.variance, self.a0, self.width, self.half = float(variance), float(a0), float(width), float(half)
        if not self.k > 0:
            raise ValueError(f"HelmholtzSource: the wavenumber k must be positive, got {k}")
        if self.variance < 0:
            raise ValueError(f"HelmholtzSource: variance must be >= 0, got {variance}")
        edge = self.half - self.width
        if self.width > 0 and any(abs(c) > edge for c in self.center):
            raise ValueError(f"HelmholtzSource: the source {self.center} sits in the absorbing layer "
                             f"(|x|, |y| > {edge:g}); move it inside")
        self._edge = edge
        self.amplitude = 0.25j * self.source
        self.far_factor, self._near = 1.0, None
        if self.variance > 0:
            sigma = math.sqrt(self.variance)
            self.r_max = 12 * sigma  # the Gaussian is e^-72 of its peak beyond
            rho = np.linspace(0.0, self.r_max, 20001)
            g = rho * np.exp(-rho**2 / (2 * self.variance)) / self.variance  # 2πρ G(ρ)
            hh = np.zeros(rho.shape, dtype=np.complex128)
            hh[1:] = special.hankel2(0, self.k * rho[1:]) * g[1:]
            inside = cumulative_trapezoid(special.j0(self.k * rho) * g, rho, initial=0.0)
            outside = np.trapezoid(hh, rho) - cumulative_trapezoid(hh, rho, initial=0.0)
            self._near = (rho, inside, outside)
            self.far_factor = float(inside[-1])  # = exp(-k²σ²/2)

    def spec(self) -> dict:
        return {"kind": self.kind, "k": self.k, "center": list(self.center), "source": [self.source.real,
                self.source.imag], "variance": self.variance, "a0": self.a0, "width": self.width, "half": self.half}

    @classmethod
    def from_spec(cls, spec: dict) -> "HelmholtzSource":
        re, im = spec["source"]
        return cls(k=float(spec["k"]), center=tuple(float(c) for c in spec["center"]), source=complex(re, im),
                   variance=float(spec["variance"]), a0=float(spec["a0"]), width=float(spec["width"]),
                   half=float(spec["half"]))

    def describe(self) -> str:
        what = f"Gaussian source of variance {self.variance:g}" if self.variance else "point source"
        layer = f", PML {self.width:g} wide (a0 = {self.a0:g})" if self.width else ""
        return f"outgoing field of a {what} at {self.center}, k = {self.k:g}{layer}"

    def profile(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""The radial profile :math:`p(r)` and its first two derivatives at complex radii ``r``
        (real inside the source, where the layer does not reach)."""
        r = np.asarray(r, dtype=np.complex128)
        k, a = self.k, self.amplitude
        p, dp, ddp = (np.empty(r.shape, dtype=np.complex128) for _ in range(3))
        near = np.zeros(r.shape, dtype=bool) if self._near is None else (np.abs(r) <= self.r_max)
        far = ~near
        z = k * r[far]
        h0, h1 = special.hankel2(0, z), special.hankel2(1, z)
        A = a * self.far_factor
        p[far], dp[far], ddp[far] = A * h0, -A * k * h1, -A * k**2 * (h0 - h1 / z)
        if near.any():
            rho, inside, outside = self._near
            rr = r[near].real
            i_in = np.interp(rr, rho, inside)
            i_out = np.interp(rr, rho, outside.real) + 1j * np.interp(rr, rho, outside.imag)
            kr = k * rr
            pos = rr > 0
            h0n = np.where(pos, special.hankel2(0, np.where(pos, kr, 1.0)), 0)
            h1n = np.where(pos, special.hankel2(1, np.where(pos, kr, 1.0)), 0)
            pn = a * (h0n * i_in + special.j0(kr) * i_out)
            pn[~pos] = a * outside[0]
            dpn = -a * k * (h1n * i_in + special.j1(kr) * i_out)  # the integrals' own terms cancel
            dpn[~pos] = 0
            f = self.source * np.exp(-rr**2 / (2 * self.variance)) / (2 * np.pi * self.variance)
            with np.errstate(divide="ignore", invalid="ignore"):
                ddpn = np.where(pos, f - dpn / np.where(pos, rr, 1.0) - k**2 * pn, (f - k**2 * pn) / 2)
            p[near], dp[near], ddp[near] = pn, dpn, ddpn
        return p, dp, ddp

    def complex_values(self, points: np.ndarray) -> np.ndarray:
        """The complex field ``(N,)`` at ``points`` ``(N, 2)``."""
        a, b, *_ = self._stretched(np.asarray(points, dtype=np.float64))
        return self.profile(np.sqrt(a**2 + b**2))[0]

    def _stretched(self, p):
        xs, ex, dex = _stretch(p[:, 0], self.a0, self.width, self._edge)
        ys, ey, dey = _stretch(p[:, 1], self.a0, self.width, self._edge)
        return xs - self.center[0], ys - self.center[1], ex, ey, dex, dey

    def derivatives(self, points: np.ndarray) -> dict:
        a, b, ea, eb, da, db = self._stretched(points)
        r = np.sqrt(a**2 + b**2)
        p, dp, ddp = self.profile(r)
        zero = np.abs(r) == 0
        rs = np.where(zero, 1.0, r)
        rx, ry = a * ea / rs, b * eb / rs
        rxx = (ea**2 + a * da) / rs - (a * ea) ** 2 / rs**3
        ryy = (eb**2 + b * db) / rs - (b * eb) ** 2 / rs**3
        rxy = -(a * ea) * (b * eb) / rs**3
        out = {(0, 0): p, (1, 0): dp * rx, (0, 1): dp * ry, (2, 0): ddp * rx**2 + dp * rxx,
               (1, 1): ddp * rx * ry + dp * rxy, (0, 2): ddp * ry**2 + dp * ryy}
        if zero.any():  # the source's centre: the smooth profile's limits (p'(r)/r -> p''(0))
            for key, v in (((1, 0), 0), ((0, 1), 0), ((1, 1), 0), ((2, 0), ddp[zero]), ((0, 2), ddp[zero])):
                out[key][zero] = v
        return {key: np.stack([v.real, v.imag], axis=-1) for key, v in out.items()}


# ------------------------------------------------------------------------------ wave
class WavePulse(KnownField):
    r"""The free-space field of :math:`u_{tt} = c^2 \Delta u` in the plane from the initial pulse
    :math:`u(x, 0) = a\,e^{-\beta\lVert x - x_0\rVert^2}`, :math:`u_t(x, 0) = 0`, as a function of
    :math:`(x, y, t)`. By the Hankel transform of the Gaussian,

    .. math:: u(r, t) = \frac{a}{2\beta}\int_0^\infty k\,e^{-k^2/4\beta}\,J_0(kr)\cos(ckt)\,dk,

    and with :math:`q = u_r/r` and :math:`A = (u_{rr} - u_r/r)/r^2` (both smooth at the centre:
    :math:`J_1(z)/z`, :math:`J_2(z)/z^2`) the Cartesian derivatives are :math:`u_x = q\,\delta x`,
    :math:`u_{xx} = q + A\,\delta x^2`, :math:`u_{xy} = A\,\delta x\,\delta y`,
    :math:`u_{xt} = q_t\,\delta x`, :math:`u_{tt} = -\tfrac{a}{2\beta}\int c^2k^3 e^{-k^2/4\beta}
    J_0\cos\,dk`. Gauss–Legendre quadrature on :math:`[0, 12\sqrt\beta]` (the Gaussian is
    :math:`e^{-36}` beyond) is exact to rounding for :math:`r + ct` up to ``reach``; it fills a table
    on :math:`r \in [0, \mathrm{reach}]`, :math:`t \in [0, t_{end}]` at a sixteenth of the pulse's
    width, and bicubic splines of :math:`u, u_t, u_{tt}, q, q_t, A` give the values at points
    (relative error about :math:`10^{-6}`, so the equation's residual of the known part is that
    small). Points beyond the table extrapolate; the pulse is the 2-D wave's answer in a uniform
    medium of speed ``speed`` — in a medium that varies, that of the medium at :math:`x_0`, and the
    network learns what the medium scatters."""

    kind = "wave-pulse"
    dims = 3

    def __init__(self, *, amplitude: float, beta: float, speed: float, t_end: float, reach: float,
                 center=(0.0, 0.0)):
        super().__init__()
        from scipy.interpolate import RectBivariateSpline

        self.amplitude, self.beta, self.speed = float(amplitude), float(beta), float(speed)
        self.t_end, self.reach, self.center = float(t_end), float(reach), tuple(float(c) for c in center)
        for name, v in (("beta", self.beta), ("speed", self.speed), ("t_end", self.t_end), ("reach", self.reach)):
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"WavePulse: {name} must be a positive number, got {v!r}")
        a, beta, c = self.amplitude, self.beta, self.speed
        k_max = 12.0 * math.sqrt(beta)
        n = int(math.ceil(0.5 * k_max * (self.reach + c * self.t_end))) + 64
        z, w = np.polynomial.legendre.leggauss(n)
        k, w = k_max * (z + 1) / 2, w * k_max / 2
        g = w * k * np.exp(-(k**2) / (4 * beta)) * a / (2 * beta)
        h = 1.0 / math.sqrt(2 * beta) / 16  # a sixteenth of the pulse's width
        r = np.arange(0.0, self.reach + 6 * h, h)
        t = np.arange(0.0, self.t_end + 6 * h / c, h / c)
        kr = k[None] * r[:, None]
        j0 = special.j0(kr)
        with np.errstate(divide="ignore", invalid="ignore"):
            j1z = np.where(kr > 0, special.j1(kr) / kr, 0.5)
            j2zz = np.where(kr > 1e-3, special.jv(2, kr) / kr**2, 1 / 8 - kr**2 / 96)
        cos, sin = np.cos(c * k[:, None] * t[None]), np.sin(c * k[:, None] * t[None])
        tables = {"u": (j0 * g) @ cos, "u_t": -(j0 * g * c * k) @ sin, "u_tt": -(j0 * g * (c * k) ** 2) @ cos,
                  "q": -(j1z * g * k**2) @ cos, "q_t": (j1z * g * c * k**3) @ sin, "A": (j2zz * g * k**4) @ cos}
        self._splines = {name: RectBivariateSpline(r, t, v, kx=3, ky=3) for name, v in tables.items()}

    def spec(self) -> dict:
        return {"kind": self.kind, "amplitude": self.amplitude, "beta": self.beta, "speed": self.speed,
                "t_end": self.t_end, "reach": self.reach, "center": list(self.center)}

    @classmethod
    def from_spec(cls, spec: dict) -> "WavePulse":
        return cls(amplitude=float(spec["amplitude"]), beta=float(spec["beta"]), speed=float(spec["speed"]),
                   t_end=float(spec["t_end"]), reach=float(spec["reach"]),
                   center=tuple(float(c) for c in spec["center"]))

    def describe(self) -> str:
        return (f"free-space wave of the pulse {self.amplitude:g} exp(-{self.beta:g} r²) at {self.center}, "
                f"speed {self.speed:g}")

    def derivatives(self, points: np.ndarray) -> dict:
        dx, dy, t = points[:, 0] - self.center[0], points[:, 1] - self.center[1], points[:, 2]
        r = np.hypot(dx, dy)
        v = {name: s.ev(r, t) for name, s in self._splines.items()}
        q, A, q_t = v["q"], v["A"], v["q_t"]
        out = {(0, 0, 0): v["u"], (1, 0, 0): q * dx, (0, 1, 0): q * dy, (0, 0, 1): v["u_t"],
               (2, 0, 0): q + A * dx**2, (0, 2, 0): q + A * dy**2, (0, 0, 2): v["u_tt"],
               (1, 1, 0): A * dx * dy, (1, 0, 1): q_t * dx, (0, 1, 1): q_t * dy}
        return {key: val[:, None] for key, val in out.items()}


# ------------------------------------------------------------------------- time marching
def _interpolating_spline(axes, values):
    """The tensor-product cubic B-spline through ``values`` ``(n_1, …, n_d, channels)`` on the lattice
    ``axes`` (one 1-D interpolation per axis, each on the coefficients of the ones before)."""
    from scipy.interpolate import NdBSpline, make_interp_spline

    coefficients, knots = values, []
    for a, axis in enumerate(axes):
        b = make_interp_spline(axis, coefficients, k=3, axis=a)
        coefficients = np.moveaxis(b.c, 0, a)
        knots.append(b.t)
    return NdBSpline(tuple(knots), coefficients, 3)


class WindowStart(KnownField):
    r"""Where a time window of a marched run starts: the previous window's fields and time
    derivatives at its end, :math:`u(x, t_k), u_t(x, t_k), \ldots`, as functions of the space
    (:mod:`pinr.solvers.marching`). They are tabulated on ``axes`` (a lattice over the spatial box,
    ``values`` ``(n_1, …, n_d, channels)``) and read through a tensor-product cubic spline, whose
    derivatives up to second order the window's conditions may need (a hard initial value
    :math:`u = g + \ldots` puts :math:`\Delta g` into the equation). The spline interpolates the
    lattice exactly and errs by :math:`O(h^4)` between its nodes; ``labels`` name the channels
    (``"u"``, ``"u_t"``). A window's start is thereby independent of the network before it, so a
    window's answer costs the same however many windows came before."""

    kind = "window-start"

    def __init__(self, *, axes, values, labels=(), time: float = 0.0):
        super().__init__()
        self.axes = [np.asarray(a, dtype=np.float64).reshape(-1) for a in axes]
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == len(self.axes):
            values = values[..., None]
        if values.shape[:-1] != tuple(len(a) for a in self.axes) or any(len(a) < 4 for a in self.axes):
            raise ValueError(f"WindowStart: values of shape {values.shape} do not fit lattice axes of "
                             f"{[len(a) for a in self.axes]} nodes (at least 4 per axis), one channel per last index")
        if not np.isfinite(values).all():
            raise ValueError("WindowStart: the start values are not finite (the window before diverged)")
        self.values, self.dims, self.channels = values, len(self.axes), values.shape[-1]
        self.labels, self.time = tuple(str(n) for n in labels) or tuple(map(str, range(self.channels))), float(time)
        self._spline = _interpolating_spline(self.axes, values)

    def spec(self) -> dict:
        return {"kind": self.kind, "axes": [torch.as_tensor(a) for a in self.axes],
                "values": torch.as_tensor(self.values), "labels": list(self.labels), "time": self.time}

    @classmethod
    def from_spec(cls, spec: dict) -> "WindowStart":
        return cls(axes=[np.asarray(a, dtype=np.float64) for a in spec["axes"]],
                   values=np.asarray(spec["values"], dtype=np.float64), labels=tuple(spec["labels"]),
                   time=float(spec["time"]))

    def describe(self) -> str:
        return f"the window before at t={self.time:g} ({', '.join(self.labels)})"

    def derivatives(self, points: np.ndarray) -> dict:
        p = np.asarray(points, dtype=np.float64).reshape(-1, self.dims)
        return {o: self._spline(p, nu=o).reshape(len(p), self.channels) for o in orders_of(self.dims)}


#: kind → class of the known parts a saved solution may name
KNOWN_KINDS: dict[str, type[KnownField]] = {HelmholtzSource.kind: HelmholtzSource, WavePulse.kind: WavePulse,
                                            WindowStart.kind: WindowStart}


def known_from_spec(spec: dict) -> KnownField:
    """The known part a solution saved as ``spec`` (:meth:`KnownField.spec`); only the kinds of
    :data:`KNOWN_KINDS` are rebuilt."""
    if not isinstance(spec, dict) or spec.get("kind") not in KNOWN_KINDS:
        raise ValueError(f"unknown known-part kind {spec.get('kind') if isinstance(spec, dict) else spec!r}; "
                         f"pinr rebuilds {sorted(KNOWN_KINDS)}")
    return KNOWN_KINDS[spec["kind"]].from_spec(spec)
