"""Problems a user states, outside the suite, solved at pinr's defaults: what ``pr.solve(problem)``
gives with nothing else (the optimiser, network, points and steps are pinr's choice).

``python bench/stated_problems.py [--only NAME ...] [--optimizer adam] [--out FILE]`` runs each
problem with ``pr.solve(problem, progress=False, seed=0, device="cpu")`` (with ``--optimizer``,
``optimizer=`` too) and prints a markdown table: the worst field's relative L2 error against an exact
solution or a tight scipy reference on a grid, the wall seconds, the optimiser the defaults chose
and why, pinr's verdict — from the run's own residuals: the run is given no reference — and the
machine and its load. ``--steps N`` cuts the runs short (the verdict must then say so).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy

import pinr as pr
from pinr import D, Eq, cos, dn, dt, exp, lap, pi, sin
from pinr.catalogue import Catalogue
from pinr.metrics import rel_l2
from pinr.solvers import PINNSolver


@dataclass(frozen=True)
class Stated:
    """A problem, its reference ``(points (N, d)) -> (N, n_fields)`` and the points it is scored on."""

    title: str
    problem: object
    reference: Callable[[np.ndarray], np.ndarray]
    grid: np.ndarray


def _lattice(*axes) -> np.ndarray:
    return np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=1)


def _exact(problem, *exprs, **by_field) -> Callable[[np.ndarray], np.ndarray]:
    """The exact fields, given in the problem's field order or by name."""
    exprs = [by_field[f] for f in problem.fields] if by_field else exprs
    fs = [sympy.lambdify(problem.domain.coords, e, "numpy") for e in exprs]
    return lambda p: np.stack([np.broadcast_to(np.asarray(f(*p.T), dtype=float), (len(p),)) for f in fs], axis=1)


def oscillator() -> Stated:
    tl = pr.TimeInterval(0, 6)
    (t,) = tl.coords
    a, b = tl.field("a"), tl.field("b")
    p = pr.Problem(tl, [Eq(dt(a), b), Eq(dt(b), -a)], [pr.Initial(Eq(a, 1)), pr.Initial(Eq(b, 0))])
    return Stated("ODE system a' = b, b' = -a on [0, 6]", p, _exact(p, a=cos(t), b=-sin(t)),
                  np.linspace(0, 6, 301)[:, None])


def logistic() -> Stated:
    tl = pr.TimeInterval(0, 10)
    (t,) = tl.coords
    u = tl.field("u")
    p = pr.Problem(tl, [Eq(dt(u), u * (1 - u))], [pr.Initial(Eq(u, sympy.Rational(1, 10)))])
    return Stated("logistic u' = u(1 - u), u(0) = 0.1 on [0, 10]", p, _exact(p, 1 / (1 + 9 * exp(-t))),
                  np.linspace(0, 10, 301)[:, None])


def lotka_volterra() -> Stated:
    from scipy.integrate import solve_ivp

    tl = pr.TimeInterval(0, 5)
    x, y = tl.field("x"), tl.field("y")
    p = pr.Problem(tl, [Eq(dt(x), x - x * y), Eq(dt(y), x * y - y)], [pr.Initial(Eq(x, 2)), pr.Initial(Eq(y, 1))])
    ts = np.linspace(0, 5, 301)
    sol = solve_ivp(lambda _, z: [z[0] - z[0] * z[1], z[0] * z[1] - z[1]], (0, 5), [2.0, 1.0], t_eval=ts,
                    method="DOP853", rtol=1e-12, atol=1e-12)
    return Stated("Lotka-Volterra x' = x - xy, y' = xy - y on [0, 5]", p,
                  lambda q: np.stack([np.interp(q[:, 0], ts, sol.y[0]), np.interp(q[:, 0], ts, sol.y[1])], axis=1),
                  ts[:, None])


def damped() -> Stated:
    tl = pr.TimeInterval(0, 5)
    (t,) = tl.coords
    u = tl.field("u")
    p = pr.Problem(tl, [Eq(dt(u, 2) + dt(u) / 2 + 4 * u, 0)], [pr.Initial(Eq(u, 1)), pr.Initial(Eq(dt(u), 0))])
    w = sympy.sqrt(sympy.Rational(63, 16))
    exact = exp(-t / 4) * (cos(w * t) + sin(w * t) / (4 * w))
    return Stated("damped oscillator u'' + u'/2 + 4u = 0 on [0, 5]", p, _exact(p, exact),
                  np.linspace(0, 5, 301)[:, None])


def boundary_layer() -> Stated:
    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    eps = sympy.Rational(1, 50)
    p = pr.Problem(d, [Eq(-eps * lap(u) + D(u, x), 1)], [pr.Boundary(Eq(u, 0))])
    exact = x - (exp((x - 1) / eps) - exp(-1 / eps)) / (1 - exp(-1 / eps))
    return Stated("boundary layer -u''/50 + u' = 1, u(0) = u(1) = 0", p, _exact(p, exact),
                  np.linspace(0, 1, 1001)[:, None])


def neumann_sides() -> Stated:
    d = pr.Rectangle(x=(0, 1), y=(0, 1))
    x, y = d.coords
    u = d.field("u")
    exact = sin(pi * x) * cos(pi * y)
    p = pr.Problem(d, [Eq(lap(u), -2 * pi**2 * exact)],
                   [pr.Boundary(Eq(u, 0), on=d.boundary[s]) for s in ("x-", "x+")]
                   + [pr.Boundary(Eq(dn(u), 0), on=d.boundary[s]) for s in ("y-", "y+")])
    g = np.linspace(0, 1, 101)
    return Stated("Poisson 2-D, Dirichlet on x = 0, 1 and Neumann on y = 0, 1", p, _exact(p, exact), _lattice(g, g))


def robin() -> Stated:
    d = pr.Rectangle(x=(0, 1), y=(0, 1))
    x, y = d.coords
    u = d.field("u")
    exact = exp(x) * sin(pi * y)  # dn(u) + 2u = 3e sin(pi y) on x = 1 (outward normal +x)
    p = pr.Problem(d, [Eq(lap(u), (1 - pi**2) * exact)],
                   [pr.Boundary(Eq(dn(u) + 2 * u, 3 * sympy.E * sin(pi * y)), on=d.boundary["x+"])]
                   + [pr.Boundary(Eq(u, exact), on=d.boundary[s]) for s in ("x-", "y-", "y+")])
    g = np.linspace(0, 1, 101)
    return Stated("Poisson 2-D, Robin dn(u) + 2u = 3e sin(πy) on x = 1, Dirichlet elsewhere", p, _exact(p, exact),
                  _lattice(g, g))


def reaction() -> Stated:
    d = pr.Rectangle(x=(0, 1), y=(0, 1))
    x, y = d.coords
    u = d.field("u")
    exact = exp(x + y)
    p = pr.Problem(d, [Eq(-lap(u) + u, -exact)], [pr.Boundary(Eq(u, exact))])
    g = np.linspace(0, 1, 101)
    return Stated("-Δu + u = -e^(x+y), u = e^(x+y) on the boundary", p, _exact(p, exact), _lattice(g, g))


def heat() -> Stated:
    d = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 2)
    x, t = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(dt(u), lap(u) / 10)], [pr.Initial(Eq(u, sin(pi * x))), pr.Boundary(Eq(u, 0))])
    return Stated("heat u_t = u_xx/10 on [0, 1] x [0, 2]", p, _exact(p, exp(-pi**2 * t / 10) * sin(pi * x)),
                  _lattice(np.linspace(0, 1, 101), np.linspace(0, 2, 101)))


def advection() -> Stated:
    d = pr.Interval(x=(0, 2 * sympy.pi)) * pr.TimeInterval(0, 1)
    x, t = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(dt(u) + D(u, x), 0)], [pr.Initial(Eq(u, sin(x))), pr.Periodic(x)])
    return Stated("advection u_t + u_x = 0, periodic, u(x, 0) = sin x", p, _exact(p, sin(x - t)),
                  _lattice(np.linspace(0, 2 * np.pi, 101), np.linspace(0, 1, 101)))


def cubic() -> Stated:
    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    exact = sin(pi * x)
    p = pr.Problem(d, [Eq(-lap(u) + u**3, pi**2 * exact + exact**3)], [pr.Boundary(Eq(u, 0))])
    return Stated("nonlinear -u'' + u^3 = f, u = sin(πx)", p, _exact(p, exact), np.linspace(0, 1, 501)[:, None])


def disk() -> Stated:
    d = pr.Disk(center=(0, 0), radius=1)
    x, y = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(lap(u), -4)], [pr.Boundary(Eq(u, 0))])
    g = _lattice(np.linspace(-1, 1, 101), np.linspace(-1, 1, 101))
    return Stated("Poisson on the unit disk, Δu = -4, u = 0", p, _exact(p, 1 - x**2 - y**2),
                  g[(g**2).sum(1) <= 1])


def hole() -> Stated:
    d = pr.Rectangle(x=(-1, 1), y=(-1, 1)) - pr.Disk(center=(0, 0), radius=0.4)
    x, y = d.coords
    u = d.field("u")
    exact = x**2 - y**2
    p = pr.Problem(d, [Eq(lap(u), 0)], [pr.Boundary(Eq(u, exact))])
    g = _lattice(np.linspace(-1, 1, 101), np.linspace(-1, 1, 101))
    return Stated("Laplace on a square with a hole, u = x² - y² on both boundaries", p, _exact(p, exact),
                  g[(g**2).sum(1) >= 0.16])


def kovasznay() -> Stated:
    d = pr.Rectangle(x=(-0.5, 1), y=(-0.5, 1.5))
    x, y = d.coords
    u, v, q = d.field("u"), d.field("v"), d.field("p")
    re = 20
    lam = re / 2 - sympy.sqrt(sympy.Rational(re**2, 4) + 4 * pi**2)
    ue, ve, pe = 1 - exp(lam * x) * cos(2 * pi * y), lam / (2 * pi) * exp(lam * x) * sin(2 * pi * y), \
        (1 - exp(2 * lam * x)) / 2
    p = pr.Problem(d, [Eq(u * D(u, x) + v * D(u, y) + D(q, x) - lap(u) / re, 0),
                       Eq(u * D(v, x) + v * D(v, y) + D(q, y) - lap(v) / re, 0),
                       Eq(D(u, x) + D(v, y), 0)],
                   [pr.Boundary(Eq(u, ue)), pr.Boundary(Eq(v, ve)), pr.Boundary(Eq(q, pe), on=d.boundary["x+"])])
    return Stated("Kovasznay flow (steady Navier-Stokes, Re = 20: u, v, p)", p, _exact(p, u=ue, v=ve, p=pe),
                  _lattice(np.linspace(-0.5, 1, 76), np.linspace(-0.5, 1.5, 101)))


def wave() -> Stated:
    d = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 2)
    x, t = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(dt(u, 2), lap(u))], [pr.Initial(Eq(u, sin(pi * x))), pr.Initial(Eq(dt(u), 0)),
                                               pr.Boundary(Eq(u, 0))])
    return Stated("wave u_tt = u_xx on [0, 1] x [0, 2]", p, _exact(p, sin(pi * x) * cos(pi * t)),
                  _lattice(np.linspace(0, 1, 101), np.linspace(0, 2, 101)))


def _fd(problem, resolution: int) -> Callable[[np.ndarray], np.ndarray]:
    """The FD lowering of the statement, solved once when first asked."""
    kept = []

    def reference(points):
        if not kept:
            kept.append(pr.solve(problem, solver="fd", resolution=resolution))
        return np.asarray(kept[0](points)).reshape(len(points), -1)

    return reference


def _gaussian(x, y, center, sigma):
    return exp(-((x - center[0]) ** 2 + (y - center[1]) ** 2) / (2 * sigma**2)) / (2 * pi * sigma**2)


def point_source() -> Stated:
    d = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    x, y = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(-lap(u), _gaussian(x, y, (0.3, -0.2), 0.02))], [pr.Boundary(Eq(u, 0))])
    g = _lattice(np.linspace(-1, 1, 101), np.linspace(-1, 1, 101))
    return Stated("Poisson with a narrow source, -Δu = G_0.02(x - x0), u = 0 (FD 512²)", p, _fd(p, 512), g)


def helmholtz_box() -> Stated:
    d = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    x, y = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(lap(u) + 10**2 * u, _gaussian(x, y, (0.2, 0.1), 0.03))], [pr.Boundary(Eq(u, 0))])
    g = _lattice(np.linspace(-1, 1, 101), np.linspace(-1, 1, 101))
    return Stated("Helmholtz k = 10 in a box, Gaussian source of width 0.03, u = 0 (FD 512²)", p, _fd(p, 512), g)


PROBLEMS = Catalogue("stated problem")  #: the problems by name, in the order they run
for _f in (oscillator, logistic, lotka_volterra, damped, boundary_layer, neumann_sides, robin, reaction, heat,
           advection, cubic, disk, hole, kovasznay, wave, point_source, helmholtz_box):
    PROBLEMS.add(_f.__name__.replace("_", "-"), _f)


def run(name: str, optimizer: str | None, steps: int | None = None) -> dict:
    st = PROBLEMS[name]()
    options = {} if optimizer is None else {"optimizer": optimizer}
    if steps is not None:
        options["steps"] = steps
    started = time.perf_counter()
    solver = PINNSolver.from_options(st.problem, progress=False, seed=0, device="cpu", **options)
    sol = solver.run()
    seconds = time.perf_counter() - started
    pred = np.asarray(sol(st.grid)).reshape(len(st.grid), -1)
    ref = st.reference(st.grid)
    errors = [rel_l2(pred[:, i], ref[:, i]) for i in range(ref.shape[1])]
    return {"name": name, "title": st.title, "rel_l2": max(errors), "seconds": seconds,
            "optimizer": getattr(solver.config.optim, "optimizer", "adam"),  # a pinr before optimizers: Adam
            "why": solver.resolved.sources.get("optimizer", "yours"),
            "steps": solver.steps, "verdict": getattr(sol, "verdict", None)}


def _verdict(v) -> str:
    """The verdict's answer and its largest residual check (from its own residuals: these problems
    state no exact solution, so that no reference decides)."""
    if v is None:
        return "–"
    worst = max(((k, c.value) for k, c in v.checks.items() if k.startswith("residual/")), key=lambda kv: kv[1],
                default=None)
    return ("trusted" if v.ok else "**not trusted**") + (f" ({worst[0].split('/', 1)[1]} {worst[1]:.1e})"
                                                          if worst else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=PROBLEMS.names(), help="these problems only")
    parser.add_argument("--optimizer", choices=["adam", "natural"], help="pass optimizer= too (default: pinr's choice)")
    parser.add_argument("--steps", type=int, help="pass steps= too (an under-trained run: the verdict must say so)")
    parser.add_argument("--out", help="append the table to this file")
    args = parser.parse_args()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    flags = (f" --optimizer {args.optimizer}" if args.optimizer else "") + \
        (f" --steps {args.steps}" if args.steps else "")
    lines = [f"`python bench/stated_problems.py{flags}` (load average at the start {load}):", "",
             "| problem | rel. L2 (worst field) | wall s | steps | optimizer (why) | verdict (worst rel. residual) |",
             "|---|---:|---:|---:|---|---|"]
    print("\n".join(lines), flush=True)
    for name in args.only or PROBLEMS:
        r = run(name, args.optimizer, args.steps)
        row = (f"| {r['title']} | {r['rel_l2']:.2e} | {r['seconds']:.0f} | {r['steps']} | "
               f"{r['optimizer']} ({r['why']}) | {_verdict(r['verdict'])} |")
        print(row, flush=True)
        lines.append(row)
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
