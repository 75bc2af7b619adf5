r"""Wave equation from a narrow Gaussian pulse (SIREN, Sec. 4.3 and supplement Sec. 5).

Statement on :math:`(x, y, t) \in [-1, 1]^2 \times [0, T]`, :math:`T = 0.4`:

.. math::

    u_{tt} = \frac{c^2}{m}\,\Delta u, \qquad u(x, 0) = a\,e^{-\beta\lVert x\rVert^2},\quad
    u_t(x, 0) = 0, \qquad u = 0 \text{ on the boundary},

with :math:`c = 1`, :math:`a = 0.02`, :math:`\beta = 1000` (the paper's Gaussian of variance
:math:`5\cdot10^{-4}`, normalised to 1/50 of its peak) and squared slowness :math:`m = 1` (or
1/4 — velocity 2 — inside a square :math:`|x|, |y| < 0.3` or a disk :math:`r < 0.1`, as in the
paper). The front travels at most :math:`2 T = 0.8 < 1`, so the boundary condition matches the
paper's free domain. Extra collocation points: the initial conditions are also stated on the
disk :math:`r < 0.25` at :math:`t = 0` (where the pulse lives, as the paper samples them), and
the equation on the front cone :math:`c_{lo} t - w \le r \le c_{hi} t + w`,
:math:`w = 3/\sqrt\beta` (:class:`~pinr.domains.ConePatch`; :math:`c_{hi} = 2c` with an
inclusion); the FD lowering recognises the repetitions.

**The pulse's own wave, subtracted** (``singular="subtract"``; the default, ``"auto"``, in a uniform
medium). The free-space wave of the pulse, :class:`~pinr.symbolic.known.WavePulse`
(:math:`u = \tfrac{a}{2\beta}\int_0^\infty k e^{-k^2/4\beta} J_0(kr)\cos(ckt)\,dk`, at the speed
where the pulse starts), is a known part of the answer, :math:`u = K + w`: the compiler substitutes
it into every condition and the network, starting at zero, learns :math:`w`. In the uniform medium
:math:`K` is the answer (the wall is never reached), so what is measured is the FD reference's own
error: the PINN against FD 0.0037 at 1024² in 340 s of training (:math:`K` against FD: 0.076,
0.017, 0.0037 at 256², 512², 1024², second order). Where the medium varies, :math:`w` must undo
:math:`K` outside the inclusion and draw the transmitted and reflected waves: on the square, 3000
steps gave 0.58 (419 s) against SIREN's statement's 0.52 (264 s), so ``"auto"`` keeps SIREN's
statement there.

Training choices (the case's ``training``), measured on CPU (SIREN 128 × 3, 1000 steps, 1 thread, ≈2 min;
the default 3000 steps reach 0.350 in 319 s — 0.04 at :math:`t = 0`, 0.19 at 0.08, 0.25 at
0.16, 0.32 at 0.24, 0.46 at 0.32, 0.66 at 0.40, the causal front still advancing):

- ``time_scale`` = :data:`TIME_SCALE` / :math:`c`: the network sees :math:`t \in [0, 0.4]` as
  :math:`[-0.4, 0.4]` rather than the box's :math:`[-1, 1]` (:func:`~pinr.backbones.base.input_box`).
  Through the box a SIREN sized for the pulse in space starts 2.5 times rougher in time than the
  wave. Measured at the default 3000 steps, one run each in one sitting (2-core CPU, load 1.5–2):
  the box 0.300 (0.04 at :math:`t = 0`, 0.57 at 0.40), 0.5 **0.200** (0.02, 0.34), 1 (as fine in
  time as in space) 0.334; with seed 1, the box 0.308 (0.036, 0.48) and 0.5 0.371 (0.024, 0.71).
  So the first tenth of the time is about twice as accurate, and the whole is within the seeds'
  spread (mean 0.304 → 0.286). On a window :math:`t \in [0, 0.1]` (1000 steps) the box lost the pulse
  (1.03); 0.5 gave 0.142, 1 gave 0.129. Not kept: 8000 steps at the same rate (the loss jumped at
  step 2000 and the field collapsed to zero, 1.06), 5000 steps at half the rate (0.372); on the
  window at time scale 1 (0.129), fitting the initial pulse before the equation (0.78) and ten times
  the initial conditions' weights (0.28).

- ``output_scale`` = :math:`a`: the network's outputs are multiplied by the amplitude, so the
  backbone works at unit size. Without it a fresh SIREN's own output (rms ≈ 0.03) swamps the
  0.02 pulse: relative L2 2.51 after 1000 steps, worse than a zero field.
- ``causal`` = 1 (causal weighting, Wang, Sankaran & Perdikaris 2022) and no time window:
  0.66 overall (0.11 at :math:`t = 0`, 0.24 at 0.08, 0.42 at 0.16). With the paper's growing
  time window instead (``time_window=0.5`` from 0.1 T; SIREN grows it over all of training)
  the field collapsed to zero after :math:`t \approx 0.05`: 0.93. Also tried: :math:`\epsilon`
  = 10: 0.76; :math:`\epsilon` = 0.1: 0.64 (the same as 1 within run-to-run noise); Adam at
  1e-3: 0.89.

- Time marching (``--train windows=4``, :mod:`pinr.solvers.marching`), measured on the square inclusion
  at the same 3000 steps (one run each, 2-core CPU): four windows of 750 steps 0.713 (0.17 already at
  :math:`t = 0`, 0.48 at 0.1: a window's share of the steps does not fit the pulse) against one network's
  0.523; with the initial conditions hard (``hard="initial"``, exact handover) 3.49. Not the default.

Loss weights divide each residual by its natural scale for a pulse of amplitude :math:`a`:
:math:`u \sim a` (initial value and wall, weight :math:`1/a^2`), :math:`u_t \sim c\,a\sqrt\beta`
(initial velocity), :math:`u_{tt} \sim c^2 a\beta` (equation).

Reference: the FD lowering of the statement (leapfrog, 1024 cells per side, time step 0.9 of the
CFL bound, 41 time levels, stored on every 8th node: 129² × 41). Measured against a finer
solution it is within 0.5% overall (1% at the last level; 512 cells: 2% / 4%). Metrics
(:func:`wave_metrics`): relative L2 over all levels (``rel_l2``) and per time level
(``rel_l2_per_time``). Outputs (:func:`wave_plots`): snapshots
of prediction, reference and error, and ``wave.gif``.

Training defaults (CPU-sized): SIREN width 128, 3 hidden layers, :math:`\omega_0 = 30`; Adam at
:math:`3\cdot10^{-4}`, cosine decay, 3000 steps; per step 2048 points in space-time, 1024 on the
front cone, 512 per initial term and disk, 256 on the wall.

GPU protocol (the target is a relative L2 of 0.05 over :math:`[0, 0.4]` within 15 minutes on an
H100; not measured with this code yet; the paper's network is 512 wide)::

    pinr solve wave --device cuda --steps 30000 --batch 16384 --option width=512 --tf32
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from sympy import exp

from pinr.case import Case
from pinr.domains import ConePatch, DiskPatch, Rectangle, TimeInterval
from pinr.io import atomic_write
from pinr.symbolic import Boundary, Condition, Eq, Initial, Parameter, Problem, dt, lap
from pinr.symbolic.known import WavePulse, known_apps
from pinr.training import ModelConfig, OptimConfig, SamplingConfig, ScheduleConfig, TrainConfig

from . import register_problem
from .helmholtz import SLOWNESS, squared_slowness

__all__ = ["wave", "wave_metrics", "wave_plots", "wave_animation", "TIME_SCALE", "SINGULAR"]

#: ``singular``: the pulse's free-space wave as a known part where the medium is uniform ("auto"), always
#: ("subtract"), or never (SIREN's statement as it is)
SINGULAR = ("auto", "subtract", "none")

#: the network's unit of time, times the speed (``time_scale = TIME_SCALE / c``): the network sees
#: :math:`t \in [0, 0.4]` as :math:`[-0.4, 0.4]` instead of the box's :math:`[-1, 1]`
#: (:func:`~pinr.backbones.base.input_box`); measured in the module's docstring
TIME_SCALE = 0.5


@register_problem("wave")
def wave(c: float = 1.0, slowness: str = "uniform", t_end: float = 0.4, amplitude: float = 0.02,
         beta: float = 1000.0, fd_resolution: int = 1024, singular: str = "auto") -> Case:
    """SIREN's wave problem: speed ``c`` (times the inverse square root of ``slowness``:
    "uniform", "square", "circle"), initial pulse ``amplitude·exp(-beta·|x|²)`` at rest, up to
    ``t_end``; ``fd_resolution`` cells per side for the FD reference; ``singular`` "subtract" (the
    pulse's free-space wave in the medium at its centre is a known part of the answer: the network
    learns what the medium scatters), "none" (SIREN's statement) or "auto" (subtract in a uniform
    medium, where that wave is the answer; not where the medium varies, where it did not help: see
    the module docstring)."""
    singular = "none" if singular is None else singular  # `--set singular=none` reads as None
    if singular not in SINGULAR:
        raise ValueError(f"wave singular must be one of {SINGULAR}, got {singular!r}")
    if singular == "auto":
        singular = "subtract" if slowness == "uniform" else "none"
    if slowness not in SLOWNESS:
        raise ValueError(f"wave slowness must be one of {SLOWNESS}, got {slowness!r}")
    if not 0 < t_end:
        raise ValueError(f"wave t_end must be positive, got {t_end}")
    if not 0 < c:
        raise ValueError(f"wave speed c must be positive, got {c}")
    domain = Rectangle(x=(-1, 1), y=(-1, 1)) * TimeInterval(0, t_end)
    x, y, t = domain.coords
    u = domain.field("u")
    cc = Parameter("c", c)
    m = squared_slowness(slowness, x, y)
    pde = Eq(dt(u, 2), cc**2 / m * lap(u))
    u0 = Eq(u, amplitude * exp(-beta * (x**2 + y**2)))
    v0 = Eq(dt(u), 0)
    # residual scales of the pulse: u ~ a, u_t ~ c a sqrt(beta), u_tt ~ c^2 Δu ~ c^2 a beta
    w_val, w_vel, w_pde = 1.0 / amplitude**2, 1.0 / (c**2 * amplitude**2 * beta), 1.0 / (c**2 * amplitude * beta) ** 2
    # extra equation points on the front: the shell c_lo t - w <= r <= c_hi t + w (velocity c/sqrt(m))
    speeds = (c, c) if slowness == "uniform" else (c, 2 * c)
    front = ConePatch(domain, (0, 0), speeds, 3 / beta**0.5, name="front")
    conditions = [
        Condition(pde, on=domain.interior, weight=w_pde, name="pde"),
        Initial(u0, weight=w_val, name="u0"),
        Initial(v0, weight=w_vel, name="v0"),
        Condition(u0, on=DiskPatch(domain, (0, 0), 0.25, time=0.0, name="pulse"), weight=w_val, name="u0_pulse"),
        Condition(v0, on=DiskPatch(domain, (0, 0), 0.25, time=0.0, name="pulse"), weight=w_vel, name="v0_pulse"),
        Condition(pde, on=front, weight=w_pde, name="pde_front"),
        Boundary(Eq(u, 0), weight=w_val, name="wall"),
    ]
    known = {}
    if singular == "subtract":
        # the pulse's own wave in the medium where it starts (speed c / sqrt(m(0))): what is left for the
        # network is the field the medium's variation scatters (nothing, in a uniform medium)
        m0 = float(m.subs({x: 0, y: 0}))
        reach = float(np.linalg.norm(np.abs(domain.bounds[:2]).max(axis=1)))  # the farthest corner from (0, 0)
        pulse = WavePulse(amplitude=amplitude, beta=beta, speed=c / math.sqrt(m0), t_end=t_end, reach=reach)
        known = {"u": known_apps(pulse, (x, y, t))[0]}
    problem = Problem(
        domain, conditions=conditions, name="wave", known=known,
        description=f"wave equation from a Gaussian pulse, {slowness} slowness, t in [0, {t_end:g}]")
    training = TrainConfig(
        model=ModelConfig(backbone="siren", options={"width": 128, "depth": 3, "omega0": 30.0, "omega_hidden": 30.0},
                          output_scale=float(amplitude), time_scale=TIME_SCALE / c),
        optim=OptimConfig(steps=3000, lr=3e-4, lr_min=1e-6),
        sampling=SamplingConfig(batch={"pde": 2048, "u0": 512, "v0": 512, "u0_pulse": 512, "v0_pulse": 512,
                                       "pde_front": 1024, "wall": 256}),
        schedule=ScheduleConfig(causal=1.0))
    fd = {"resolution": int(fd_resolution), "slices": 41, "stride": _stride(int(fd_resolution)), "cfl": 0.9}
    return Case(problem, training, metrics=wave_metrics, outputs=wave_plots, fd=fd)


def _stride(cells: int, target: int = 128) -> int:
    """Largest divisor of ``cells`` that keeps at least ``target`` stored cells per side."""
    return max(s for s in range(1, max(1, cells // target) + 1) if cells % s == 0)


# ------------------------------------------------------------------------------ metrics
def _levels(solution, reference, max_nodes: int = 129):
    """Reference nodes (every k-th per spatial axis, at most ``max_nodes``) and its time levels."""
    g = reference.grid
    axes = g.lattice(g.shape)
    stride = [max(1, int(np.ceil((len(a) - 1) / (max_nodes - 1)))) for a in axes[:-1]]
    xs = [a[::s] for a, s in zip(axes[:-1], stride)]
    return xs, axes[-1]


def _values_at(sol, xs, ts) -> np.ndarray:
    X, Y = np.meshgrid(*xs, indexing="ij")
    out = []
    for t in ts:
        pts = np.stack([X.ravel(), Y.ravel(), np.full(X.size, t)], axis=-1)
        out.append(sol(torch.as_tensor(pts, dtype=torch.float64)).detach().cpu().double().numpy()[:, 0]
                   .reshape(X.shape))
    return np.stack(out, axis=-1)  # (nx, ny, nt)


def wave_metrics(solution, reference, *, max_nodes: int = 129) -> dict:
    r"""Relative L2 over all time levels of the reference (``rel_l2``), per level
    (``rel_l2_per_time`` with ``times``), max error and PSNR, on at most ``max_nodes`` reference
    nodes per spatial axis."""
    from pinr.metrics import field_metrics, rel_l2

    xs, ts = _levels(solution, reference, max_nodes)
    a, b = _values_at(solution, xs, ts), _values_at(reference, xs, ts)
    m = field_metrics(a, b)
    per = [rel_l2(a[..., i], b[..., i]) for i in range(len(ts))]
    return {"rel_l2": m["rel_l2"], "max_abs": m["max_abs"], "psnr": m["psnr"],
            "rel_l2_per_time": [round(v, 6) for v in per], "times": [round(float(t), 6) for t in ts],
            "rel_l2_final": per[-1]}


# -------------------------------------------------------------------------------- plots
def _frames(solution, reference, n_frames: int, resolution: int):
    g = (reference if reference is not None else solution).grid
    (x0, x1), (y0, y1), (t0, t1) = g.bounds
    lat = g.lattice(g.shape)
    xs = [np.linspace(lat[0][0], lat[0][-1], resolution), np.linspace(lat[1][0], lat[1][-1], resolution)]
    ts = np.linspace(lat[2][0], lat[2][-1], n_frames)
    pred = _values_at(solution, xs, ts)
    ref = _values_at(reference, xs, ts) if reference is not None else None
    return xs, ts, pred, ref


def wave_animation(path, solution, reference=None, *, frames: int = 41, resolution: int = 128, fps: int = 10) -> Path:
    """GIF of prediction | reference | error over time (matplotlib's Pillow writer, written atomically)."""
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    xs, ts, pred, ref = _frames(solution, reference, frames, resolution)
    panels = [("prediction", pred)] + ([("reference", ref), ("error", pred - ref)] if ref is not None else [])
    vmax = float(np.abs(ref if ref is not None else pred).max()) or 1.0
    emax = float(np.abs(pred - ref).max()) if ref is not None else 1.0
    fig = Figure(figsize=(3.4 * len(panels), 3.3), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    ext = (xs[0][0], xs[0][-1], xs[1][0], xs[1][-1])
    images = []
    for ax, (name, arr) in zip(axes, panels):
        lim = emax if name == "error" else vmax
        images.append(ax.imshow(arr[..., 0].T, origin="lower", extent=ext, cmap="RdBu_r", vmin=-lim, vmax=lim))
        ax.set_title(name)
        fig.colorbar(images[-1], ax=ax, shrink=0.8)
    title = fig.suptitle("")

    def update(i):
        for im, (_, arr) in zip(images, panels):
            im.set_data(arr[..., i].T)
        title.set_text(f"wave, t = {ts[i]:.3f}")
        return images

    anim = FuncAnimation(fig, update, frames=len(ts), blit=False)

    def write(tmp):
        anim.save(str(tmp), writer=PillowWriter(fps=fps))

    path = Path(path)
    # Pillow picks the format from the suffix: write to a temporary .gif, then move it in place
    return atomic_write(path, lambda tmp: _write_gif(write, tmp))


def _write_gif(write, tmp: Path):
    gif = tmp.with_suffix(".gif")
    try:
        write(gif)
        gif.replace(tmp)
    finally:
        gif.unlink(missing_ok=True)


def wave_plots(out, solution, reference, *, times=(0.0, 0.1, 0.2, 0.3, 0.4), resolution: int = 128,
               frames: int = 41) -> list:
    """``wave_snapshots.png`` (prediction, reference, error at ``times``) and ``wave.gif`` (``frames``
    time levels)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    g = (reference if reference is not None else solution).grid
    lat = g.lattice(g.shape)
    t_lo, t_hi = lat[2][0], lat[2][-1]
    ts = [t for t in times if t_lo - 1e-9 <= t <= t_hi + 1e-9] or [t_lo, t_hi]
    xs = [np.linspace(lat[0][0], lat[0][-1], resolution), np.linspace(lat[1][0], lat[1][-1], resolution)]
    pred = _values_at(solution, xs, ts)
    rows = [("prediction", pred)]
    if reference is not None:
        ref = _values_at(reference, xs, ts)
        rows += [("reference", ref), ("error", pred - ref)]
    vmax = float(np.abs(rows[1][1] if reference is not None else pred).max()) or 1.0
    fig = Figure(figsize=(2.6 * len(ts), 2.5 * len(rows)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), len(ts), squeeze=False)
    ext = (xs[0][0], xs[0][-1], xs[1][0], xs[1][-1])
    for r, (name, arr) in enumerate(rows):
        lim = (float(np.abs(arr).max()) or 1.0) if name == "error" else vmax
        for j, t in enumerate(ts):
            im = axes[r, j].imshow(arr[..., j].T, origin="lower", extent=ext, cmap="RdBu_r", vmin=-lim, vmax=lim)
            axes[r, j].set_title(f"{name}, t={t:.2f}", fontsize=9)
            axes[r, j].set_xticks([])
            axes[r, j].set_yticks([])
        fig.colorbar(im, ax=axes[r, :].tolist(), shrink=0.8)
    out = Path(out)
    snap = atomic_write(out / "wave_snapshots.png", lambda p: fig.savefig(p, format="png", dpi=100))
    gif = wave_animation(out / "wave.gif", solution, reference, resolution=resolution, frames=frames)
    return [snap, gif]
