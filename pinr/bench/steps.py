r"""Training-step benchmarks: every case × engine × (eager, compiled), side by side in one run.

Floor: the bench wing (above the api, below the cli); ``pinr bench`` is the command. The cases
are a :class:`~pinr.catalogue.Catalogue` (:data:`CASES`), like :mod:`pinr.problems`.

Cases (SIREN backbone by default, N points, fp32):

- ``fit``: :math:`u = f(x, y)` (no derivative);
- ``laplacian``: :math:`\Delta u = f` in 2-D;
- ``wave``: :math:`u_{tt} - \Delta u = 0` on (x, y, t);
- ``eikonal``: :math:`|\nabla u| = 1` in 3-D;
- ``helmholtz-pml``: the SIREN Helmholtz statement with a PML, complex field as two channels,
  :math:`\partial_x(A\partial_x u) + \partial_y(B\partial_y u) + C k^2 u = f`.

Engines: ``jet`` and ``autograd`` run pinr's solver step (sampling excluded); ``reference``
computes the same loss the way the SIREN reference code does (nested ``autograd.grad`` loops:
a per-channel Jacobian, then a full Hessian by differentiating each gradient entry).
The floor is the step's matmul FLOPs (forward + backward = 3 × forward, forward counted over
the jet's value, first-derivative and stream slots) divided by this device's measured fp32
matmul rate.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass

import sympy
import torch

import pinr as pr
from pinr import D, Eq, dt, grad, lap, norm
from pinr.backbones import Network, build_backbone
from pinr.catalogue import Catalogue
from pinr.compiler import compile_problem
from pinr.derivatives import AutogradEngine, JetEngine

__all__ = ["CASES", "ENGINES", "case_problem", "run_bench", "format_table", "BenchRecord"]

ENGINES = ("reference", "autograd", "jet")

CASES: Catalogue = Catalogue("bench case")  #: the timed cases' problem builders, in the order they run


@CASES.register("fit")
def fit():
    r""":math:`u = \sin 8x \cos 6y` on [−1, 1]² (no derivative)."""
    return _square("fit")


@CASES.register("laplacian")
def laplacian():
    r""":math:`\Delta u = \sin 8x \cos 6y` on [−1, 1]²."""
    return _square("laplacian")


def _square(name: str):
    d = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    x, y = d.coords
    u = d.field("u")
    f = sympy.sin(8 * x) * sympy.cos(6 * y)
    return pr.Problem(d, [Eq(u, f)] if name == "fit" else [Eq(lap(u), f)], name=name)


@CASES.register("wave")
def wave():
    r""":math:`u_{tt} - \Delta u = 0` on [−1, 1]² × [0, 0.4]."""
    d = pr.Rectangle(x=(-1, 1), y=(-1, 1)) * pr.TimeInterval(0, 0.4)
    u = d.field("u")
    return pr.Problem(d, [Eq(dt(u, 2) - lap(u), 0)], name="wave")


@CASES.register("eikonal")
def eikonal():
    r""":math:`|\nabla u| = 1` on [−1, 1]³."""
    d = pr.Box(x=(-1, 1), y=(-1, 1), z=(-1, 1))
    u = d.field("u")
    return pr.Problem(d, [Eq(norm(grad(u)), 1)], name="eikonal")


@CASES.register("helmholtz-pml")
def helmholtz_pml():
    """SIREN's Helmholtz statement with a PML, the complex field as two channels."""
    from sympy import Abs, I, Max, exp, pi

    d = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    x, y = d.coords
    u = d.field("u", components=("re", "im"))
    U = u[0] + I * u[1]
    k, width, a0 = pr.Parameter("k", 20.0), sympy.Rational(1, 2), 5
    ex = 1 - I * a0 * (Max(Abs(x) - sympy.Rational(1, 2), 0) / width) ** 2
    ey = 1 - I * a0 * (Max(Abs(y) - sympy.Rational(1, 2), 0) / width) ** 2
    var = sympy.Rational(1, 10000)
    f = (1 + I) * exp(-(x**2 + y**2) / (2 * var)) / (2 * pi * var)
    return pr.Problem(d, [Eq(D(ey / ex * D(U, x), x) + D(ex / ey * D(U, y), y) + ex * ey * k**2 * U, f)],
                      name="helmholtz-pml")


def case_problem(name: str):
    """The benchmark's problem statement for case ``name``."""
    if name not in CASES:
        raise ValueError(f"unknown bench case {name!r}; choose from {tuple(CASES)}")
    return CASES[name]()


class ReferenceEngine:
    """Derivatives the way the SIREN reference code takes them: a Jacobian by one
    ``autograd.grad`` per output channel, then (for second order) a Hessian by one more
    ``autograd.grad`` per channel and input axis — no reuse across atoms beyond that."""

    name = "reference"
    max_order = 2

    def evaluate(self, model, points, atoms, combos=(), coefficients=()):
        x = points.detach().requires_grad_(True)
        y = model(x)
        n_out, d = y.shape[1], x.shape[1]
        need_first = any(a.order for a in atoms) or bool(combos)
        need_second = any(a.order == 2 for a in atoms) or bool(combos)
        jac = [torch.autograd.grad(y[:, c], x, torch.ones_like(y[:, c]), create_graph=True)[0]
               for c in range(n_out)] if need_first else []
        hess = [[torch.autograd.grad(jac[c][:, i], x, torch.ones_like(jac[c][:, i]), create_graph=True)[0]
                 for i in range(d)] for c in range(n_out)] if need_second else []

        def get(c, orders):
            idx = [i for i in range(d) for _ in range(orders[i])]
            if not idx:
                return y[:, c]
            if len(idx) == 1:
                return jac[c][:, idx[0]]
            return hess[c][idx[0]][:, idx[1]]

        av = [get(a.component, a.orders) for a in atoms]
        cv = [sum(coefficients[k] * get(cb.component, o) for o, k in zip(cb.orders, cb.coefficients)) for cb in combos]
        return av, cv


@dataclass
class BenchRecord:
    case: str
    engine: str
    compiled: bool
    ms_per_step: float | None
    peak_mem_mb: float | None
    points: int
    device: str
    floor_ms: float | None = None
    error: str | None = None


def _linear_shapes(net) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in net.modules() if isinstance(m, torch.nn.Linear)]


def _slots(compiled) -> int:
    """1 + first-derivative axes + second-order streams the jet engine carries for the case."""
    e = compiled.terms[0].expression
    d = len(e.coords)
    axes = {i for a in e.atoms for i in range(d) if a.orders[i]} | \
        {i for cb in e.combos for o in cb.orders for i in range(d) if o[i]}
    streams = {a.orders for a in e.atoms if a.order == 2} | {(cb.orders, cb.coefficients) for cb in e.combos}
    return 1 + len(axes) + len(streams)


def matmul_rate(device, dtype=torch.float32) -> float:
    """Measured matmul throughput (FLOP/s) on ``device`` for ``dtype``."""
    n = 4096 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    reps = 20 if device.type == "cuda" else 5
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_case(case, engine_name, compiled_flag, *, points, device, backbone, options, steps, warmup, seed):
    problem = case_problem(case)
    cp = compile_problem(problem)
    term = cp.terms[0]
    e = term.expression
    torch.manual_seed(seed)
    net = Network(build_backbone(backbone, problem.domain.dim, problem.n_outputs, **options),
                  problem.domain.bounds).to(device)
    engine = {"jet": JetEngine, "autograd": AutogradEngine, "reference": ReferenceEngine}[engine_name]()
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    pts = term.region.sample(points, generator=gen, device=device).points
    opt = torch.optim.Adam(net.parameters(), lr=1e-5)

    def loss_fn(p):
        coefs = e.coefficients(p, None)
        av, cv = engine.evaluate(net, p, e.atoms, e.combos, coefs)
        return term.reduce(e(p, None, av, cv))

    if compiled_flag:
        torch._dynamo.reset()  # each variant compiles afresh, so no recompile limit is shared between them
    fn = torch.compile(loss_fn, dynamic=False) if compiled_flag else loss_fn

    def step():
        opt.zero_grad(set_to_none=True)
        loss = fn(pts)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - t)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    flops = 3 * 2 * points * _slots(cp) * sum(i * o for i, o in _linear_shapes(net))
    return statistics.median(times) * 1e3, peak, flops


def run_bench(*, cases=CASES, engines=ENGINES, compiled=(False, True), points: int | None = None, device=None,
              backbone: str = "siren", options: dict | None = None, steps: int = 10, warmup: int = 3,
              seed: int = 0, progress: bool = True) -> list[BenchRecord]:
    """Time one training step for every (case, engine, compiled) combination in this process.

    ``points`` defaults to 65,536 on CUDA and 4,096 on the CPU. Failures (e.g. nested autograd
    under ``torch.compile``) are recorded in the record's ``error``, not raised.
    """
    from tqdm.auto import tqdm

    from pinr.solvers.pinn import resolve_device

    dev = resolve_device(device)
    n = points or (65536 if dev.type == "cuda" else 4096)
    for c in cases:
        if c not in CASES:
            raise ValueError(f"unknown bench case {c!r}; choose from {tuple(CASES)}")
    for e in engines:
        if e not in ENGINES:
            raise ValueError(f"unknown bench engine {e!r}; choose from {ENGINES}")
    rate = matmul_rate(dev)
    # one throwaway step so that first-call costs (allocator, kernels, threads) hit no record
    _time_case("fit", "jet", False, points=n, device=dev, backbone=backbone, options=dict(options or {}),
               steps=1, warmup=2, seed=seed)
    combos = [(c, e, k) for c in cases for e in engines for k in compiled]
    records = []
    for case, eng, comp in tqdm(combos, disable=not progress, desc="bench"):
        rec = BenchRecord(case, eng, comp, None, None, n, str(dev))
        try:
            ms, peak, flops = _time_case(case, eng, comp, points=n, device=dev, backbone=backbone,
                                         options=dict(options or {}), steps=steps, warmup=warmup, seed=seed)
            rec.ms_per_step, rec.peak_mem_mb, rec.floor_ms = ms, peak, 1e3 * flops / rate
        except Exception as err:  # recorded: e.g. torch.compile cannot trace double backward
            rec.error = f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}"
        records.append(rec)
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    return records


def format_table(records: list[BenchRecord]) -> str:
    """Markdown table: ms/step and ratios to the reference, to the plain fit step and to the floor."""
    ref_eager = {r.case: r.ms_per_step for r in records if r.engine == "reference" and not r.compiled and r.ms_per_step}
    fit = {(r.engine, r.compiled): r.ms_per_step for r in records if r.case == "fit" and r.ms_per_step}
    head = ("| case | engine | compiled | ms/step | peak MB | speed-up vs reference (eager) | × fit step "
            "| × fp32 floor |\n"
            "|---|---|---|---:|---:|---:|---:|---:|")
    rows = [head]
    for r in records:
        if r.ms_per_step is None:
            rows.append(f"| {r.case} | {r.engine} | {'yes' if r.compiled else 'no'} | — | — | {r.error} | | |")
            continue
        base = ref_eager.get(r.case)
        f = fit.get(("jet", r.compiled)) or fit.get((r.engine, r.compiled))
        rows.append(
            f"| {r.case} | {r.engine} | {'yes' if r.compiled else 'no'} | {r.ms_per_step:.2f} | "
            f"{'—' if r.peak_mem_mb is None else f'{r.peak_mem_mb:.0f}'} | "
            f"{'—' if not base else f'{base / r.ms_per_step:.2f}×'} | "
            f"{'—' if not f else f'{r.ms_per_step / f:.2f}'} | "
            f"{'—' if not r.floor_ms else f'{r.ms_per_step / r.floor_ms:.2f}'} |")
    return "\n".join(rows)


def records_to_json(records: list[BenchRecord]) -> list[dict]:
    return [asdict(r) for r in records]
