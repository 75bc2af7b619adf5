r"""Training defaults chosen from the problem a user states.

A catalogue case carries defaults tuned for it (:class:`~pinr.Case`); a problem a user states has
none, and the image-fitting defaults (a 256-wide SIREN at :math:`\omega_0 = 30`, lr 1e-4, 4,096
points per term) do not solve PDEs. :func:`choose` reads the statement instead:

- **scales.** The network sees the domain's box mapped onto :math:`[-1, 1]^d` (:class:`~pinr.
  backbones.Network`); what is left is the *frequency* of the answer in those units. It is
  estimated from the statement with the field set to zero: every condition's known part
  :math:`s(x)` (a source, boundary or initial data) gives
  :math:`k_i = \sqrt{\langle (h_i\,\partial_i s)^2\rangle / \langle s^2\rangle}` on sampled points
  of its region (exactly :math:`k h` for :math:`\sin kx`), and a linear operator gives its own
  wavenumber :math:`\sqrt{|a_0 / a_2|}` (Helmholtz' :math:`k`, from the coefficients of
  :math:`u` and :math:`u_{x_j x_j}`) and, when second time and space derivatives have opposite
  signs, its wave speed carries the space frequency into time. The amplitude of the answer is
  estimated from the value (Dirichlet, initial) data and becomes the network's output scale when
  it is far from 1.
- **network.** A SIREN of depth 3 with first-layer frequency
  :math:`\omega_0 = \max(3, 2 k_{max})` (at most 30) and unit hidden frequency, at lr 1e-3 —
  width 64, or 128 with 4,000 steps at half the points when the answer oscillates
  (:math:`k_{max} > 4`, about one period or more across :math:`[-1, 1]`): small and smooth enough
  for second derivatives, fast enough to train in a minute or two on a CPU. (Measured on this
  project's suite: the wave and Helmholtz cases went from 0.31 / 0.044 at width 64 to 0.014 /
  0.0088 at width 128; with half the points and 4,000 steps instead of 5,000 they reach 7.9e-3 /
  8.8e-4 in 114 / 88 s, where the full points took 237 / 198 s for 3.0e-3 / 6.5e-4. The smooth
  ones lose accuracy at higher :math:`\omega_0`, the L-shape's corner wants more than 1.)
- **hard constraints** (:mod:`pinr.symbolic.hard`) for the value conditions of a smooth answer:
  measured on the suite, the L-shape went from 0.044 to 0.0085 and Burgers from 0.33 to 0.090,
  while the oscillating wave and Helmholtz cases got worse (0.014 → 0.29, 0.0088 → 0.11), so
  those keep their conditions as loss terms.
- **adaptive sampling** (RAR-D, Wu et al. 2023: the pool of residual points grows by a tenth of
  its size every 100 steps, drawn where the squared residual is large) for **nonlinear**
  equations, where shocks and interfaces form. Measured on the suite (rel. L2, 3,000 steps, same
  seed): Burgers 0.068 → 0.018 and Allen–Cahn 0.156 → 0.086 at about 2.5–4x the time (uniform
  points at the pool's mean size left Burgers at 0.060), while the linear 2-D Poisson case got
  27x worse (1.3e-4 → 3.6e-3: RAR-D's points are kept, not drawn afresh), so linear equations
  keep fresh uniform points. RAD was worse on Burgers (0.22), R3 did not help Allen–Cahn (0.16).
- **points and steps** from the dimension: 256 interior points per step in 1-D, 1,024 above (a
  quarter on other regions; the 3-D heat case reached 5.0e-4 in 63 s at 1,024, 3.7e-4 in 126 s at
  2,048); **balancing** of the terms by gradient norms
  (:class:`~pinr.training.balancing.GradNormBalance`); an **L-BFGS finish**, kept only as far as a
  held-out batch says it helps (:class:`~pinr.training.callbacks.LBFGSFinish`); one CPU thread
  (the network is small: threads cost more than they give).
- **the rate** held at 1e-3 for 70 % of the steps, then a cosine decay to 1e-4, so that a run
  cut short with ``steps=`` follows the longer one until its own decay (measured on the 2-D
  Poisson case at 300 steps without L-BFGS: 0.011, against 0.017 for the 3,000-step run at its
  step 300 and 0.048 with a cosine over the whole run).

Problems without derivatives (fitting signals) keep pinr's fitting defaults. Every choice and
its reason is returned, printed above the progress bar and recorded with the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import sympy
import torch

from ..compiler import compile_expressions
from ..domains.base import AbstractInterior
from ..render.observation import Planes, Rendered
from ..symbolic.expressions import DataFunction
from ..symbolic.hard import value_condition
from .config import DeviceConfig, ModelConfig, OptimConfig, SamplingConfig, TrainConfig

__all__ = ["Scales", "scales", "choose", "nonlinear", "RENDERED", "NEX"]

_PROBE_POINTS = 2048


@dataclass(frozen=True)
class Scales:
    """What the statement says about its answer: ``frequency`` per coordinate (angular, in the
    network's :math:`[-1, 1]` units), ``amplitude`` (RMS of the value data; None when no
    condition gives values) and ``reasons`` (one phrase each)."""

    frequency: tuple[float, ...]
    amplitude: float | None
    reasons: tuple[str, ...]
    localized: tuple[str, ...] = ()  #: interior conditions whose source is localized (a point-like source)
    speed: float | None = None  #: the wave speed of a second-order hyperbolic operator, if any

    @property
    def max_frequency(self) -> float:
        return max(self.frequency, default=0.0)


def _known_part(residual, problem, value):
    """``residual`` with every field replaced by ``value`` (an expression of the coordinates)."""
    return sympy.sympify(residual).subs({app: value for app in problem.field_apps}).doit()


def _evaluate(exprs, problem, region, generator) -> np.ndarray | None:
    """Mean squares of ``exprs`` (free of fields) over sampled points of ``region``:
    ``(len(exprs),)`` (a complex expression's real and imaginary parts summed), or None."""
    if any(e.atoms(DataFunction) for e in exprs):
        return None  # data-driven (an image): its scale is the data's, not the statement's
    s = region.sample(_PROBE_POINTS, generator=generator, dtype=torch.float64)
    out = []
    for e in exprs:
        compiled = compile_expressions([e], fields=problem.fields, coords=problem.domain.coords, params=problem.params)
        with torch.no_grad():
            out.append(float(compiled(s.points, s.normals, [], [], data=s.data).square().mean(1).sum()))
    out = np.array(out)
    return out if np.all(np.isfinite(out)) else None


#: a source is localized when it exceeds 1 % of its peak on less than this share of the region
LOCALIZED_SHARE = 0.05


def _share(expr, problem, region, generator) -> float | None:
    """The share of sampled points of ``region`` where ``expr`` (free of fields) exceeds 1 % of its
    largest value there."""
    s = region.sample(_PROBE_POINTS, generator=generator, dtype=torch.float64)
    compiled = compile_expressions([expr], fields=problem.fields, coords=problem.domain.coords, params=problem.params)
    with torch.no_grad():
        v = compiled(s.points, s.normals, [], [], data=s.data).square().sum(0).sqrt()
    if not torch.isfinite(v).all() or not v.max() > 0:
        return None
    return float((v > 1e-2 * v.max()).double().mean())


def scales(problem) -> Scales:
    """Estimate the frequency and amplitude of ``problem``'s answer from its statement. An interior
    source that lives on a small part of the region (a narrow Gaussian, :data:`LOCALIZED_SHARE`) is
    a point-like source: its width is not the answer's, which the operator's wavenumber sets; it is
    listed in ``localized`` (and its points drawn where it lives, :class:`~pinr.training.sampling.Source`)."""
    coords, bounds = problem.domain.coords, problem.domain.bounds
    half = (bounds[:, 1] - bounds[:, 0]) / 2
    generator = torch.Generator().manual_seed(0)
    freq = np.zeros(len(coords))
    reasons, amplitudes, localized = [], [], []
    time_axis = problem.domain.time_axis
    point_like = set()  # residuals whose source is localized in the interior (restated on a patch too)
    for cond in problem.conditions:
        for r in cond.eq.residuals:
            s = _known_part(r, problem, 0)
            if s == 0:
                continue
            vals = _evaluate([s] + [sympy.diff(s, c) for c in coords], problem, cond.on, generator)
            if vals is None:
                continue
            rms = math.sqrt(vals[0])
            if rms < 1e-12:
                continue
            if r not in point_like and isinstance(cond.on, AbstractInterior) and value_condition(r, problem) is None:
                share = _share(s, problem, cond.on, generator)
                if share is not None and share < LOCALIZED_SHARE:
                    point_like.add(r)
                    reasons.append(f"{cond.name}'s source is localized ({100 * share:.2g} % of the region)")
            if r in point_like:
                localized.append(cond.name)
                continue
            k = np.sqrt(vals[1:]) * half / rms
            freq = np.maximum(freq, k)
            reasons.append(f"{cond.name}'s data at {_fmt(k)}")
            if value_condition(r, problem) is not None:
                amplitudes.append(rms)
    data_freq = freq.copy()
    speeds = []
    for cond in problem.conditions:
        if isinstance(cond.on, AbstractInterior):
            f, c = _operator_frequency(cond, problem, half, data_freq, time_axis, reasons)
            freq = np.maximum(freq, f)
            speeds += [c] if c else []
    amplitude = max(amplitudes) if amplitudes else None
    return Scales(tuple(float(f) for f in freq), amplitude, tuple(reasons), tuple(dict.fromkeys(localized)),
                  max(speeds) if speeds else None)


def _operator_frequency(cond, problem, half, freq, time_axis, reasons) -> tuple[np.ndarray, float | None]:
    r"""Frequencies a linear second-order interior operator sets by itself: :math:`\sqrt{|a_0/a_2|}`
    (Helmholtz), and the wave speed's map of space frequencies into time; and that speed (None when
    the operator is not a wave's). One field, or one complex equation of a field's real and
    imaginary parts (read through the first)."""
    coords = problem.domain.coords
    out, speed = np.zeros(len(coords)), None
    if len(cond.eq.residuals) != 1:
        return out, speed
    r = cond.eq.residuals[0]
    if len(problem.fields) != 1 and not sympy.sympify(r).has(sympy.I):
        return out, speed
    first = problem.field_apps[0]

    def with_first(value):
        return sympy.sympify(r).subs({app: (value if app == first else 0) for app in problem.field_apps}).doit()

    base = with_first(0)
    a0 = sympy.simplify(with_first(1) - base)
    a2 = [sympy.simplify(with_first(c**2 / 2) - base - a0 * c**2 / 2) for c in coords]
    terms = [a0] + a2
    if not all(t.is_number for t in terms):
        values = _typical_coefficients(terms, problem, cond.on)
        if values is None:  # nonlinear, or coefficients that cannot be evaluated: the data decide
            return out, speed
        a0, a2 = values[0], list(values[1:])
    else:
        a0, a2 = float(a0), [float(a) for a in a2]
    space = [i for i in range(len(coords)) if i != time_axis]
    curv = [abs(a2[i]) for i in space if a2[i] != 0]
    if a0 != 0 and curv and a0 * a2[space[0]] > 0:  # u'' + k² u: oscillates at k
        k = math.sqrt(abs(a0) / float(np.mean(curv)))
        for i in space:
            out[i] = max(out[i], k * half[i])
        reasons.append(f"{cond.name}'s operator wavenumber {k:.3g}")
    if time_axis is not None and a2[time_axis] != 0 and curv and _second_in_time(r, coords[time_axis]):
        j = max(space, key=lambda i: freq[i] / half[i] if half[i] else 0.0)
        if a2[time_axis] * a2[j] < 0:  # u_tt = c² u_xx: time frequency c·k
            speed = c = math.sqrt(abs(a2[j] / a2[time_axis]))
            out[time_axis] = max(out[time_axis], c * freq[j] / half[j] * half[time_axis])
            reasons.append(f"{cond.name}'s wave speed {c:.3g}")
    return out, speed


def _second_in_time(residual, time) -> bool:
    """Whether ``residual`` holds a second time derivative (a wave's :math:`u_{tt}`; a heat equation's
    :math:`u_t` also answers the quadratic probe of :func:`_operator_frequency`, but carries no speed)."""
    return any(dict(d.variable_count).get(time, 0) >= 2 for d in sympy.sympify(residual).atoms(sympy.Derivative))


def _typical_coefficients(terms, problem, region) -> list[float] | None:
    r"""Varying coefficients (a PML's complex stretch, an inclusion's slowness) at their typical
    value: the median over sampled points of the region where all of them are real (outside an
    absorbing layer; everywhere when there is no such point), signed by the median's sign; None
    when they hold the unknowns. Evaluated by the compiler (a complex one as its real and
    imaginary rows)."""
    fields = set(problem.field_apps)
    if any(sympy.sympify(t).atoms(sympy.Derivative) or sympy.sympify(t).has(*fields) for t in terms):
        return None
    s = region.sample(_PROBE_POINTS, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    rows = []
    for t in terms:
        compiled = compile_expressions([t], fields=problem.fields, coords=problem.domain.coords, params=problem.params)
        with torch.no_grad():
            r = compiled(s.points, s.normals, [], [], data=s.data).numpy()
        rows.append(r[0] + 1j * (r[1] if len(r) > 1 else 0.0))
    v = np.stack(rows)
    if not np.isfinite(v).all():
        return None
    real = np.all(np.abs(v.imag) <= 1e-9 * (1 + np.abs(v.real)), axis=0)
    pick = v[:, real].real if real.any() else np.abs(v)
    return [float(np.median(row)) for row in pick]


def _fmt(k) -> str:
    return "(" + ", ".join(f"{v:.3g}" for v in k) + ")"


#: Defaults for pictures rendered from a radiance field (Instant-NGP's hash-grid field at the
#: paper's rate, 1024 rays per step): the ``nerf`` case at these reaches 31.3 dB on held-out views
#: of the synthetic scene at 64² in 288 s of training on a 2-core CPU (bench/RESULTS.md, "Radiance
#: fields in ten CPU minutes").
RENDERED = TrainConfig(model=ModelConfig(backbone="ngp"), optim=OptimConfig(steps=2000, lr=1e-2, decay=1.0),
                       sampling=SamplingConfig(batch=1024))
#: Defaults for pictures of a multiplane image (:class:`~pinr.render.Planes`): NeX's field.
NEX = TrainConfig(model=ModelConfig(backbone="nex"), optim=OptimConfig(steps=3000, lr=2e-3, decay=1.0),
                  sampling=SamplingConfig(batch=1024))


def nonlinear(problem) -> bool:
    r"""Whether an equation of ``problem`` is nonlinear in its unknowns: with every field and
    every derivative of one replaced by a symbol, a residual is not a polynomial of degree at most
    1 in those symbols (Burgers' :math:`u u_x`, Allen–Cahn's :math:`u^3`, :math:`\sin u`)."""
    for eq in problem.equations:
        for r in eq.residuals:
            r = sympy.sympify(r)
            derivatives = sorted((d for d in r.atoms(sympy.Derivative)
                                  if any(d.has(f) for f in problem.field_apps)), key=sympy.default_sort_key)
            subs = {a: sympy.Dummy() for a in [*derivatives, *(f for f in problem.field_apps if r.has(f))]}
            if not subs:
                continue
            flat = r.subs({d: subs[d] for d in derivatives}).subs(subs)  # derivatives before the fields in them
            if flat.has(*problem.field_apps):  # a field left inside a function of it: not polynomial
                return True
            try:
                if sympy.Poly(flat, *subs.values()).total_degree() > 1:
                    return True
            except sympy.PolynomialError:
                return True
    return False


def reentrant_corners(domain) -> bool:
    r"""Whether ``domain`` (or the space of a space-time domain) may have re-entrant corners, where
    the answer of an elliptic problem is singular (:math:`r^{\pi/\omega}`, :math:`\omega > \pi`
    the interior angle): not for boxes, balls, intervals and convex polygons, their intersections,
    and a convex domain minus a ball or disk inside it; possibly for anything else (an L-shape, a
    union, a square hole, a mesh)."""
    from ..domains.csg import Difference, Intersection, Polygon
    from ..domains.shapes import SpaceTime, TimeInterval, _AbstractBall, _AbstractBox

    if isinstance(domain, SpaceTime):
        domain = domain.space
    if isinstance(domain, (_AbstractBox, _AbstractBall, TimeInterval)):
        return False
    if isinstance(domain, Polygon):
        return not domain.convex
    if isinstance(domain, Intersection):
        return any(reentrant_corners(d) for d in domain.operands)
    if isinstance(domain, Difference):
        outer, hole = domain.operands
        if reentrant_corners(outer) or isinstance(outer, Difference) or not isinstance(hole, _AbstractBall):
            return True
        rim = hole.boundary.sample(256, generator=torch.Generator().manual_seed(0), dtype=torch.float64).points
        return bool(np.any(outer.signed_distance(rim.numpy()) >= 0))  # the hole reaches the outer boundary
    return True


def natural_fits(problem, compiled) -> str | None:
    """Why the defaults keep Adam for ``problem`` rather than the natural-gradient step (``None``:
    they choose it). It needs every condition to be a mean square (a weighted sum of squares), and
    it is not chosen on domains with re-entrant corners: the L-shape's corner singularity left it at
    1.1–3.6e-2 after 500 steps where Adam with hard conditions reaches 7.7e-3 (``bench/RESULTS.md``)."""
    bad = [t.name for t in compiled.terms if t.reduction != "mse"]
    if bad:
        return f"condition {bad[0]!r}, which is not a mean square"
    if reentrant_corners(problem.domain):
        return "a domain with re-entrant corners, where the answer is singular"
    return None


#: the natural-gradient defaults' network: a SIREN of depth 2 (three sine layers), width 32 (48 for an
#: oscillating answer) — a few thousand parameters, so that the Jacobian and its system stay small
NATURAL_WIDTH, NATURAL_WIDTH_OSCILLATING = 32, 48


def first_order(given: TrainConfig) -> str | None:
    """Why the user's own options (``given``) ask for a first-order run, or ``None``: Adam chosen,
    an option only Adam reads (a learning rate, its decay, an L-BFGS finish), self-adaptive weights
    (trained by ascent), nested autograd or a compiled step (the natural step differentiates under
    :mod:`torch.func`), or a backbone of your own (sized for Adam: its Jacobian may be large)."""
    o, d, m = given.optim, given.device, given.model
    if o.optimizer == "adam":
        return "you chose Adam"
    for name in ("lr", "lr_min", "parameter_lr"):
        if getattr(o, name) is not None:
            return f"you set {name}, an option of Adam"
    if o.lbfgs_steps:
        return "you asked for an L-BFGS finish"
    if o.balance == "self-adaptive":
        return "self-adaptive weights are trained by ascent"
    if d.engine == "autograd" or d.compile:
        return "you chose " + ("nested autograd" if d.engine == "autograd" else "a compiled step")
    if m.backbone not in (None, "siren"):
        return f"you chose the backbone {m.backbone!r}"
    return None


def choose(problem, compiled, device: torch.device, *, given: TrainConfig | None = None
           ) -> tuple[TrainConfig, dict[str, str]]:
    """Defaults for ``problem`` (a :class:`~pinr.Problem` a user stated) and, per option, why;
    ``given`` are the user's own options (the defaults follow their optimiser: see
    :func:`first_order` and :func:`natural_fits`)."""
    given = given or TrainConfig()
    optimizer = given.optim.optimizer
    rendered = [o for o in problem.observations if isinstance(o, Rendered)]
    if rendered:
        if any(isinstance(o.quadrature, Planes) for o in rendered):
            why = "chosen for pictures of a multiplane image (NeX)"
            return NEX, {"backbone": why, "steps": why, "lr": why, "batch": why}
        why = "chosen for pictures rendered from a radiance field"
        return RENDERED, {"backbone": why, "steps": why, "lr": why, "batch": why}
    if compiled.max_order == 0:
        return TrainConfig(), {}
    sc = scales(problem)
    time_scale = wave_time_scale(problem, sc)
    if time_scale is not None:  # the time frequency as the network will see it
        sc = _rescaled_time(problem, sc, time_scale)
    d = problem.domain.dim
    k = sc.max_frequency
    omega0 = float(min(30.0, max(3.0, round(2.0 * k, 1))))
    oscillating = k > 4.0  # more than about one period across [-1, 1]: more width and steps
    if problem.domain.time is not None:
        kind = f"{d - 1}-D + time PDE" if d > 1 else "ODE" + (" system" if len(problem.fields) > 1 else "")
    else:
        kind = f"{d}-D PDE"
    why = kind + (f", answer frequency {sc.max_frequency:.3g} on [-1, 1]"
                                           if sc.max_frequency else "")
    output_scale = None
    if sc.amplitude is not None and not 0.1 <= sc.amplitude <= 10:
        output_scale = float(f"{sc.amplitude:.2g}")
    refusal = (first_order(given) or natural_fits(problem, compiled)) if optimizer != "natural" else None
    if refusal is None:
        config, sources = _natural(problem, compiled, device, kind, why, omega0, oscillating, output_scale)
    else:
        config, sources = _adam(problem, compiled, device, kind, why, omega0, oscillating, output_scale)
        if optimizer is None:
            sources["optimizer"] = f"Adam: {refusal}"
    sources["omega0"] = f"2 x the answer's frequency, at least 3 ({'; '.join(sc.reasons) or 'no data'})"
    if output_scale is not None:
        sources["output_scale"] = f"the value data's size {sc.amplitude:.3g}"
    if time_scale is not None:
        config = replace(config, model=replace(config.model, time_scale=time_scale))
        sources["time_scale"] = (f"the time a wave of speed {sc.speed:.3g} takes to cross half the space box's "
                                 "half-width (the time interval is shorter: through its box the network would start "
                                 "rougher in time than the answer)")
    if sc.localized and config.sampling.sampling is None and problem.domain.time is None:
        if problem.known:
            sources["sampling"] = "uniform: the localized source's own field is a known part of the answer"
        else:
            config = replace(config, sampling=replace(config.sampling, sampling="source"))
            sources["sampling"] = (f"a quarter of the points where the localized source of {', '.join(sc.localized)} "
                                   "lives, weighted to keep the loss the uniform one (importance sampling)")
    return config, sources


#: the network's unit of time is at least the time a wave takes to cross this share of the space box's
#: half-width (:func:`wave_time_scale`)
TIME_SHARE = 0.5


def wave_time_scale(problem, sc: Scales) -> float | None:
    r"""The ``time_scale`` (:func:`~pinr.backbones.base.input_box`) of a wave of speed :math:`c`
    (``sc.speed``) whose time half-length :math:`h_t` is shorter than the time it takes to cross
    :data:`TIME_SHARE` of the space box's half-width :math:`h_x` (the largest): that time,
    :math:`h_x / 2c`; else None (the box, :math:`h_t`). The network's first-layer frequency is sized
    for the answer's largest frequency (:math:`\omega_0`), so through a box whose time is short
    against its space a freshly built network starts much rougher in time than the answer.

    Measured on the 2-D pulse (:math:`c = 1`, :math:`h_x = 1`; rel. L2, 2-core CPU, one run each):
    over :math:`t \in [0, 0.4]` at 3,000 steps, the box (0.2) 0.300, 0.5 0.200, 1 (as fine in
    time as in space) 0.334; over :math:`[0, 0.1]` at 1,000 steps, the box (0.05) 1.03, 0.5 0.142, 1 0.129.
    A longer time interval keeps its box: the largest frequency is then time's, which sizes the network."""
    domain = problem.domain
    if sc.speed is None or domain.time is None or domain.dim < 2:
        return None
    half = (domain.bounds[:, 1] - domain.bounds[:, 0]) / 2
    t = domain.time_axis
    if t in problem.periodic_axes:
        return None
    crossing = TIME_SHARE * max(float(h) for i, h in enumerate(half) if i != t) / sc.speed
    if float(half[t]) >= crossing:
        return None
    return float(f"{crossing:.3g}")


def _rescaled_time(problem, sc: Scales, time_scale: float) -> Scales:
    """``sc`` with its time frequency in the units of ``time_scale`` instead of the half-length."""
    domain = problem.domain
    t = domain.time_axis
    half_t = float(domain.bounds[t, 1] - domain.bounds[t, 0]) / 2
    freq = list(sc.frequency)
    freq[t] *= time_scale / half_t
    return replace(sc, frequency=tuple(freq))


def _batch(compiled, interior: int, other: int) -> dict[str, int]:
    """Points per step: ``interior`` for interior terms, ``other`` elsewhere (grids: all of it)."""
    return {t.name: (interior if isinstance(t.region, AbstractInterior) else other)
            for t in compiled.terms if (t.method or t.region.default_method) != "grid"}


def _natural(problem, compiled, device, kind, why, omega0, oscillating, output_scale):
    r"""Defaults for the natural-gradient step (:mod:`pinr.training.natural`): a small SIREN in
    float64 (the step reaches errors float32 cannot hold), fresh uniform points each step, the
    initial slice's value conditions imposed exactly (heat 4.8e-6 → 1.9e-6, Allen–Cahn 1.4e-3), with the
    initial velocity of a second-order-in-time field (the 1-D wave of the suite: 8.9e-5 in 173 s → 6.5e-5
    in 129 s, one run each, side by side) and
    the boundary's as loss terms (through a boundary's distance function the 2-D Poisson case was
    1e3 times worse), no balancing and no L-BFGS finish, every CPU thread (the dense algebra gains
    from them). Measured on the suite (``bench/RESULTS.md``)."""
    d = problem.domain.dim
    width = NATURAL_WIDTH_OSCILLATING if oscillating else NATURAL_WIDTH
    interior = 256 if d == 1 else 1024 if d == 2 else 1536
    if oscillating and d > 1:
        interior = interior * 3 // 2
    # the Jacobian's rows (its cost is rows x parameters x min(rows, parameters)) as for one equation and two
    # other conditions: several equations or fields share them (a three-field flow gets 40 % of the points)
    rows = sum(len(t.expression.exprs) * (1 if isinstance(t.region, AbstractInterior) else 0.25)
               for t in compiled.terms if (t.method or t.region.default_method) != "grid")
    interior = max(64, min(interior, int(interior * 1.5 / max(rows, 1.5))))
    nonlinear_ = nonlinear(problem)
    steps = 100 if d == 1 else 300 if oscillating else 200
    if nonlinear_:  # fronts sharpen slowly, and the steps' noise averages out while the cap decays
        # an evolving front (Burgers: 6.9e-3 at 500 steps, 3.9e-3 at 1,000) takes longer than a steady flow
        steps = max(steps, 200 if d == 1 else 1000 if problem.domain.time is not None else 500)
    options = {"width": width, "depth": 2, "omega0": omega0, "omega_hidden": 1.0}
    config = TrainConfig(
        model=ModelConfig(backbone="siren", options=options, output_scale=output_scale, hard="initial"),
        optim=OptimConfig(optimizer="natural", steps=steps, lr=1e-3, lr_min=1e-4, decay=0.3, lbfgs_steps=0,
                          balance="none"),
        sampling=SamplingConfig(batch=_batch(compiled, interior, max(64, interior // 4))),
        device=DeviceConfig(dtype="float64"))
    reason = f"chosen for a {'nonlinear' if nonlinear_ else 'linear'} {kind} whose conditions are mean squares"
    sources = {"backbone": f"chosen for a {why}, width {width} (a small network: second-order steps)",
               "steps": f"chosen for natural-gradient steps on a {kind}",
               "lr": "unused by natural-gradient steps (Adam's if you choose it)",
               "optimizer": reason,
               "dtype": "float64: natural-gradient steps reach errors below float32's resolution",
               "method": f"chosen for natural-gradient steps on a {kind}",
               "hard": "the initial slice's value conditions (and initial velocities) imposed exactly, the boundary's "
                       "left as loss terms (the natural-gradient step does better so)"}
    return config, sources


def _adam(problem, compiled, device, kind, why, omega0, oscillating, output_scale):
    d = problem.domain.dim
    interior = (256 if d == 1 else 1024) // (2 if oscillating else 1)  # the wider network: fewer points
    steps = 4000 if oscillating else 2000 if d == 1 else 3000
    options = {"width": 128 if oscillating else 64, "depth": 3, "omega0": omega0, "omega_hidden": 1.0}
    adaptive = nonlinear(problem)  # sharp fronts (shocks, interfaces) form where the residual says
    config = TrainConfig(
        model=ModelConfig(backbone="siren", options=options, output_scale=output_scale, hard=not oscillating),
        optim=OptimConfig(optimizer="adam", steps=steps, lr=1e-3, lr_min=1e-4, decay=0.3, lbfgs_steps=500,
                          balance="gradnorm"),
        sampling=SamplingConfig(batch=_batch(compiled, interior, max(64, interior // 4)),
                                sampling="rar-d" if adaptive else None),
        device=DeviceConfig(threads=1 if device.type == "cpu" else None))
    sources = {"backbone": f"chosen for a {why}" + (", width 128" if oscillating else ", width 64"),
               "steps": f"chosen for a {kind}" + (" with an oscillating answer" if oscillating else ""),
               "lr": "chosen for a PDE"}
    sources["method"] = f"chosen for a {kind}"
    sources["hard"] = ("value conditions imposed exactly where they can be (a smooth answer)" if not oscillating else
                       "value conditions left as loss terms (an oscillating answer trains better that way)")
    if adaptive:
        sources["sampling"] = "RAR-D residual-based refinement (a nonlinear equation: fronts form where it is large)"
    return config, sources
