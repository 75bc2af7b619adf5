"""The PINN suite's peers: each case built for DeepXDE with the settings of its own example, run,
and scored on the case's grid like pinr (:mod:`pinr.bench.suite` puts them side by side).

Floor: the bench wing. Two catalogues (:class:`~pinr.catalogue.Catalogue`): :data:`PEERS`, the
peer tools by name, and :data:`DEEPXDE_PLANS`, DeepXDE's model and training plan per suite case.
DeepXDE is imported only when a peer runs (``pip install pinr[peers]``), on its torch backend.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sympy

from pinr.catalogue import Catalogue
from pinr.metrics import rel_l2

from .suite_cases import (
    ALLEN_CAHN_D,
    BURGERS_NU,
    HELMHOLTZ_K0,
    INVERSE_START,
    QUICK_STEPS,
    Record,
    Statement,
    SuiteCase,
    heat_2d_exact,
    inverse_exact,
)

__all__ = ["Peer", "PEERS", "DEEPXDE_PLANS", "run_deepxde"]

#: DeepXDE's plan for each suite case: ``plan(statement, quick) -> _DdePlan``
DEEPXDE_PLANS: Catalogue[Callable] = Catalogue("DeepXDE plan")


@dataclass
class _DdePlan:
    """A DeepXDE model and how to train it: Adam ``iterations`` at ``lr`` (``decay``,
    ``loss_weights``, ``callbacks``), then L-BFGS when ``lbfgs``; ``variable`` for an inverse problem."""

    model: object
    iterations: int
    lr: float = 1e-3
    lbfgs: bool = False
    decay: tuple | None = None
    loss_weights: object = None
    callbacks: list = field(default_factory=list)
    variable: object = None
    initial_weighting: bool = False  # wave_1d.py: loss weights 5 / initial losses


def _import_deepxde():
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    if os.environ["DDE_BACKEND"] != "pytorch":
        raise ValueError("DeepXDE must use the torch backend: set DDE_BACKEND=pytorch "
                         f"(it is {os.environ['DDE_BACKEND']!r})")
    try:
        import deepxde as dde
    except ImportError:
        raise ValueError("--against deepxde needs DeepXDE: pip install pinr[peers]") from None
    return dde


def _torch_fn(expr, coords):
    """``expr`` of ``coords`` as a function of a torch tensor ``(N, d)`` returning ``(N, 1)``."""
    import torch

    f = sympy.lambdify(coords, expr.evalf(), modules="torch")  # numbers folded: torch.pow refuses (float, int)
    return lambda X: torch.as_tensor(f(*[X[:, i:i + 1] for i in range(len(coords))])) + 0 * X[:, :1]


@DEEPXDE_PLANS.register("poisson-1d")
def _dde_poisson_1d(st: Statement, quick: bool) -> _DdePlan:
    import torch
    dde = _import_deepxde()

    def pde(x, y):
        return dde.grad.hessian(y, x) + np.pi**2 * torch.sin(np.pi * x)

    geom = dde.geometry.Interval(0, 1)
    bc = dde.icbc.DirichletBC(geom, lambda x: 0, lambda _, on_boundary: on_boundary)
    data = dde.data.PDE(geom, pde, bc, 16, 2)
    net = dde.nn.FNN([1] + [50] * 3 + [1], "tanh", "Glorot uniform")
    return _DdePlan(dde.Model(data, net), 10000)


@DEEPXDE_PLANS.register("poisson-2d")
def _dde_poisson_2d(st: Statement, quick: bool) -> _DdePlan:
    import torch
    dde = _import_deepxde()

    def pde(x, y):
        lap_y = dde.grad.hessian(y, x, i=0, j=0) + dde.grad.hessian(y, x, i=1, j=1)
        return lap_y + 2 * np.pi**2 * torch.sin(np.pi * x[:, 0:1]) * torch.sin(np.pi * x[:, 1:2])

    return _dde_poisson_plan(dde, dde.geometry.Rectangle([0, 0], [1, 1]), pde)


def _dde_poisson_plan(dde, geom, pde) -> "_DdePlan":
    """``Poisson_Lshape.py``'s settings: u = 0 on the boundary, 1,200 / 120 points, a tanh FNN
    of 4 × 50, 50,000 Adam steps and L-BFGS."""
    bc = dde.icbc.DirichletBC(geom, lambda x: 0, lambda _, on_boundary: on_boundary)
    data = dde.data.PDE(geom, pde, bc, num_domain=1200, num_boundary=120)
    net = dde.nn.FNN([2] + [50] * 4 + [1], "tanh", "Glorot uniform")
    return _DdePlan(dde.Model(data, net), 50000, lbfgs=True)


DEEPXDE_PLANS.add("poisson-2d-engd", _dde_poisson_2d)  # the same statement: DeepXDE with its own settings


@DEEPXDE_PLANS.register("poisson-lshape")
def _dde_lshape(st: Statement, quick: bool) -> _DdePlan:
    dde = _import_deepxde()

    def pde(x, y):
        return -dde.grad.hessian(y, x, i=0, j=0) - dde.grad.hessian(y, x, i=1, j=1) - 1

    # the example's Polygon samples float64 points under the torch backend (DeepXDE 1.15: a dtype
    # error in the first step), so the same L is built by CSG difference
    geom = dde.geometry.Rectangle([-1, -1], [1, 1]) - dde.geometry.Rectangle([0, 0], [1, 1])
    return _dde_poisson_plan(dde, geom, pde)


@DEEPXDE_PLANS.register("heat-2d")
def _dde_heat_2d(st: Statement, quick: bool) -> _DdePlan:
    import torch
    dde = _import_deepxde()
    domain, kappa, exact, f = heat_2d_exact()
    x, y, _ = domain.coords
    kappa_t, f_t = _torch_fn(kappa, domain.coords), _torch_fn(f, domain.coords)
    kx_t, ky_t = (_torch_fn(sympy.diff(kappa, c), domain.coords) for c in (x, y))
    exact_np = st.reference

    def pde(X, y):  # u_t - div(κ ∇u) - f, with div(κ ∇u) = κ Δu + ∇κ · ∇u
        g = torch.cat([dde.grad.jacobian(y, X, i=0, j=k) for k in range(3)], dim=1)
        lap_y = dde.grad.hessian(y, X, i=0, j=0) + dde.grad.hessian(y, X, i=1, j=1)
        return g[:, 2:3] - (kappa_t(X) * lap_y + kx_t(X) * g[:, 0:1] + ky_t(X) * g[:, 1:2]) - f_t(X)

    geom = dde.geometry.GeometryXTime(dde.geometry.Rectangle([0, 0], [1, 1]), dde.geometry.TimeDomain(0, 1))
    bc = dde.icbc.DirichletBC(geom, lambda X: 0, lambda _, on_boundary: on_boundary)
    ic = dde.icbc.IC(geom, lambda X: exact_np(X)[:, None], lambda _, on_initial: on_initial)
    data = dde.data.TimePDE(geom, pde, [bc, ic], num_domain=2540, num_boundary=80, num_initial=160)
    net = dde.nn.FNN([3] + [20] * 3 + [1], "tanh", "Glorot normal")
    return _DdePlan(dde.Model(data, net), 20000, lbfgs=True)


@DEEPXDE_PLANS.register("wave-1d")
def _dde_wave_1d(st: Statement, quick: bool) -> _DdePlan:
    dde = _import_deepxde()
    exact_np = st.reference

    def pde(x, y):
        return dde.grad.hessian(y, x, i=1, j=1) - 4 * dde.grad.hessian(y, x, i=0, j=0)

    geom = dde.geometry.GeometryXTime(dde.geometry.Interval(0, 1), dde.geometry.TimeDomain(0, 1))
    bc = dde.icbc.DirichletBC(geom, lambda X: 0, lambda _, on_boundary: on_boundary)
    ic_1 = dde.icbc.IC(geom, lambda X: exact_np(X)[:, None], lambda _, on_initial: on_initial)
    ic_2 = dde.icbc.OperatorBC(geom, lambda x, y, _: dde.grad.jacobian(y, x, i=0, j=1),
                               lambda x, _: dde.utils.isclose(x[1], 0))
    data = dde.data.TimePDE(geom, pde, [bc, ic_1, ic_2], num_domain=360, num_boundary=360, num_initial=360)
    # the example's STMsFFN (sigmas_x=[1], sigmas_t=[1, 10]) exists only for TensorFlow: its plain
    # [2] + [100] * 3 + [1] body stands in under torch
    net = dde.nn.FNN([2] + [100] * 3 + [1], "tanh", "Glorot uniform")
    net.apply_feature_transform(lambda x: (x - 0.5) * 2 * np.sqrt(3))
    return _DdePlan(dde.Model(data, net), 10000, decay=("inverse time", 2000, 0.9), initial_weighting=True,
                    callbacks=[dde.callbacks.PDEPointResampler(period=1)])


@DEEPXDE_PLANS.register("helmholtz-2d")
def _dde_helmholtz_2d(st: Statement, quick: bool) -> _DdePlan:
    import torch
    dde = _import_deepxde()
    k0 = float(HELMHOLTZ_K0)

    def pde(x, y):
        lap_y = dde.grad.hessian(y, x, i=0, j=0) + dde.grad.hessian(y, x, i=1, j=1)
        f = k0**2 * torch.sin(k0 * x[:, 0:1]) * torch.sin(k0 * x[:, 1:2])
        return -lap_y - k0**2 * y - f

    geom = dde.geometry.Rectangle([0, 0], [1, 1])
    nx = int(1 / (0.5 / 10))  # wave length 1/n over precision_train = 10
    data = dde.data.PDE(geom, pde, [], num_domain=nx**2, num_boundary=4 * nx)
    net = dde.nn.FNN([2] + [150] * 3 + [1], "sin", "Glorot uniform")
    net.apply_output_transform(lambda x, y: x[:, 0:1] * (1 - x[:, 0:1]) * x[:, 1:2] * (1 - x[:, 1:2]) * y)
    return _DdePlan(dde.Model(data, net), 5000)


@DEEPXDE_PLANS.register("burgers-1d")
def _dde_burgers(st: Statement, quick: bool) -> _DdePlan:
    dde = _import_deepxde()

    def pde(x, y):
        dy_x = dde.grad.jacobian(y, x, i=0, j=0)
        dy_t = dde.grad.jacobian(y, x, i=0, j=1)
        return dy_t + y * dy_x - BURGERS_NU * dde.grad.hessian(y, x, i=0, j=0)

    geom = dde.geometry.GeometryXTime(dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 1))
    bc = dde.icbc.DirichletBC(geom, lambda x: 0, lambda _, on_boundary: on_boundary)
    ic = dde.icbc.IC(geom, lambda x: -np.sin(np.pi * x[:, 0:1]), lambda _, on_initial: on_initial)
    data = dde.data.TimePDE(geom, pde, [bc, ic], num_domain=2540, num_boundary=80, num_initial=160)
    net = dde.nn.FNN([2] + [20] * 3 + [1], "tanh", "Glorot normal")
    return _DdePlan(dde.Model(data, net), 15000, lbfgs=True)


@DEEPXDE_PLANS.register("allen-cahn-1d")
def _dde_allen_cahn(st: Statement, quick: bool) -> _DdePlan:
    import torch
    dde = _import_deepxde()

    def pde(x, y):
        dy_t = dde.grad.jacobian(y, x, i=0, j=1)
        return dy_t - ALLEN_CAHN_D * dde.grad.hessian(y, x, i=0, j=0) - 5 * (y - y**3)

    geom = dde.geometry.GeometryXTime(dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 1))
    on_b = lambda _, on_boundary: on_boundary  # noqa: E731
    bcs = [dde.icbc.PeriodicBC(geom, 0, on_b, derivative_order=k) for k in (0, 1)]
    data = dde.data.TimePDE(geom, pde, bcs, num_domain=8000, num_boundary=400, num_initial=800)
    net = dde.nn.FNN([2] + [20] * 3 + [1], "tanh", "Glorot normal")
    # the example's hard initial condition; its hard u(±1) = -1 is replaced by the periodic conditions above
    net.apply_output_transform(lambda x, y: x[:, 0:1]**2 * torch.cos(np.pi * x[:, 0:1]) + x[:, 1:2] * y)
    return _DdePlan(dde.Model(data, net), 40000, lbfgs=True)


@DEEPXDE_PLANS.register("inverse-diffusion")
def _dde_inverse(st: Statement, quick: bool) -> _DdePlan:
    dde = _import_deepxde()
    domain, exact, f = inverse_exact()
    f_t = _torch_fn(f, domain.coords)
    exact_np = st.reference
    kappa = dde.Variable(INVERSE_START)

    def pde(x, y):
        return dde.grad.jacobian(y, x, i=0, j=1) - kappa * dde.grad.hessian(y, x, i=0, j=0) + y - f_t(x)

    geom = dde.geometry.GeometryXTime(dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 1))
    bc = dde.icbc.DirichletBC(geom, lambda X: 0, lambda _, on_boundary: on_boundary)
    ic = dde.icbc.IC(geom, lambda X: exact_np(X)[:, None], lambda _, on_initial: on_initial)
    points, values = st.observations
    observe = dde.icbc.PointSetBC(points, values[:, None], component=0)
    data = dde.data.TimePDE(geom, pde, [bc, ic, observe], num_domain=40, num_boundary=20, num_initial=10,
                            anchors=points)
    net = dde.nn.FNN([2] + [32] * 3 + [1], "tanh", "Glorot uniform")
    return _DdePlan(dde.Model(data, net), 50000, variable=kappa)


def run_deepxde(case: SuiteCase, st: Statement, quick: bool, budget: float | None = None) -> Record:
    """DeepXDE on ``case`` with its example's plan (Adam, then L-BFGS where the example has it);
    with ``budget`` (seconds, pinr's wall time on the case) the plan is cut there: training stops
    at the first step that ends past the budget, and L-BFGS does not start once it is spent."""
    dde = _import_deepxde()
    import torch

    dde.config.set_random_seed(0)
    torch.set_default_device("cpu")
    plan = DEEPXDE_PLANS[case.name](st, quick)
    iterations = QUICK_STEPS if quick else plan.iterations
    extra = {"external_trainable_variables": [plan.variable]} if plan.variable is not None else {}
    started = time.perf_counter()
    weights = plan.loss_weights
    if plan.initial_weighting:  # wave_1d.py: weights 5 / (the untrained model's losses)
        plan.model.compile("adam", lr=plan.lr)
        history, _ = plan.model.train(iterations=0, display_every=10**9, verbose=0)
        weights = 5 / np.asarray(history.loss_train[0])
    deadline = [] if budget is None else [_deadline(dde, started + budget)]
    plan.model.compile("adam", lr=plan.lr, decay=plan.decay, loss_weights=weights, **extra)
    plan.model.train(iterations=iterations, callbacks=plan.callbacks + deadline, display_every=10**9, verbose=0)
    spent = budget is not None and time.perf_counter() - started >= budget
    if plan.lbfgs and not quick and not spent:  # under quick, maxiter=5 still ran 1,000 L-BFGS iterations
        plan.model.compile("L-BFGS", loss_weights=weights, **extra)
        plan.model.train(callbacks=deadline, display_every=10**9, verbose=0)
    seconds = time.perf_counter() - started
    steps = int(plan.model.train_state.step)
    pred = plan.model.predict(st.grid.astype(np.float32)).reshape(-1)
    rec = Record(case.name, "deepxde", rel_l2=rel_l2(pred, st.reference(st.grid)), seconds=seconds,
                 ms_per_step=1000 * seconds / max(steps, 1), steps=steps)
    if budget is not None:
        rec.note = (f"cut at pinr's {budget:.1f} s" if seconds >= budget
                    else f"its plan ended within pinr's {budget:.1f} s")
    if st.parameter is not None:
        value = float(plan.variable.detach().cpu())
        rec.param_error = abs(value - st.parameter[1]) / abs(st.parameter[1])
        rec.note = "; ".join(filter(None, [f"{st.parameter[0]} = {value:.4g}", rec.note]))
    return rec


def _deadline(dde, at: float):
    """A DeepXDE callback that stops training at the end of the first step past ``at``
    (``time.perf_counter()``), in Adam's loop and in L-BFGS's alike."""

    class Deadline(dde.callbacks.Callback):
        def on_epoch_end(self):
            if time.perf_counter() >= at:
                self.model.stop_training = True

    return Deadline()



@dataclass(frozen=True)
class Peer:
    """A peer tool: ``ready()`` fails early (one line) when it cannot run; ``run(case, statement,
    quick, budget)`` gives its :class:`~pinr.bench.suite_cases.Record` on the case."""

    name: str
    ready: Callable[[], object]
    run: Callable[..., Record]


PEERS: Catalogue[Peer] = Catalogue("peer")  #: the peers ``pinr bench suite --against`` takes
PEERS.add("deepxde", Peer("deepxde", _import_deepxde, run_deepxde))
