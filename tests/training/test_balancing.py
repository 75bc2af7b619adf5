"""Loss balancing: on a two-term toy whose gradients are known in closed form, the gradient-norm
and NTK-trace weights equal the hand computation; smoothing, clipping and checkpoints."""

import math

import pytest
import torch

import pinr as pr
from pinr import Eq, lap, sin
from pinr.training.balancing import GradNormBalance, NTKBalance, balancer
from pinr.training.loop import Loop, TrainState
from pinr.training.terms import AbstractTerm, Batch, Model, term_losses


class Linear(AbstractTerm):
    r"""Residuals :math:`r_n = p \cdot a_n` of the weights :math:`p` at fixed rows :math:`a_n`:
    :math:`\mathcal L = w\,\frac1N\sum_n r_n^2`, gradient :math:`\frac{2w}N\sum_n r_n a_n`."""

    expression = None

    def __init__(self, name, rows, weight):
        self.name, self.rows, self.weight = name, torch.as_tensor(rows, dtype=torch.float64), float(weight)

    def sample(self, generator, *, window=1.0):
        return Batch(self.rows)

    def loss(self, model, batch):
        r = batch.points @ model.network.weight.reshape(-1)
        return self.weight * r.square().mean(), r.detach().square()


def toy():
    net = torch.nn.Linear(2, 1, bias=False).double()
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.5, -2.0]], dtype=torch.float64))
    model = Model(net, engine=None, parameters=torch.nn.Module())
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    state = TrainState(model, opt, torch.optim.lr_scheduler.ConstantLR(opt, 1.0), torch.Generator(), total=10)
    terms = [Linear("pde", [[1.0, 0.0], [2.0, 1.0], [0.0, 3.0]], 1.0),
             Linear("bc", [[0.1, 0.2]], 4.0)]
    return state, terms


def run(state, terms, part, steps):
    loop = Loop(state, terms, lambda batches: term_losses(state.model, terms, batches), [part])
    loop.run(steps)
    return state


def test_gradnorm_weights_match_the_hand_computation():
    state, terms = toy()
    p = torch.tensor([0.5, -2.0], dtype=torch.float64)
    norms = []
    for t in terms:  # ∇L = 2w/N Σ_n (p·a_n) a_n
        g = 2 * t.weight / len(t.rows) * ((t.rows @ p)[:, None] * t.rows).sum(0)
        norms.append(float(g.norm()))
    expected = [sum(norms) / n for n in norms]
    run(state, terms, GradNormBalance(every=100), 1)  # the update before step 0 takes λ̂ as it is
    assert state.weights.tolist() == pytest.approx(expected, rel=1e-12)
    # the balanced terms pull equally: w_i ‖∇L_i‖ is the same for both
    assert expected[0] * norms[0] == pytest.approx(expected[1] * norms[1], rel=1e-12)


def test_ntk_weights_match_the_hand_computation():
    state, terms = toy()
    # per point: ‖∇ sqrt(w r_n²)‖² = w ‖a_n‖², averaged over the term's points
    traces = [t.weight * float(t.rows.square().sum(1).mean()) for t in terms]
    expected = [sum(traces) / s for s in traces]
    run(state, terms, NTKBalance(every=100, points=8), 1)
    assert state.weights.tolist() == pytest.approx(expected, rel=1e-9)


def test_updates_are_smoothed_and_clipped():
    state, terms = toy()
    state.weights = torch.tensor([1.0, 1.0], dtype=torch.float64)
    run(state, terms, GradNormBalance(every=1, alpha=0.9), 1)
    fresh = toy()[0]
    run(fresh, terms, GradNormBalance(every=1), 1)
    assert state.weights.tolist() == pytest.approx((0.9 + 0.1 * fresh.weights).tolist(), rel=1e-12)
    # a solved term (zero gradient) gets 1e6, not infinity
    state, terms = toy()
    terms[1].rows = torch.zeros(1, 2, dtype=torch.float64)
    run(state, terms, GradNormBalance(every=100), 1)
    assert state.weights.tolist() == pytest.approx([1.0, 1e6])


def test_balancer_names_and_errors():
    assert balancer("none") is None
    assert isinstance(balancer("gradnorm"), GradNormBalance) and isinstance(balancer("ntk"), NTKBalance)
    with pytest.raises(ValueError, match="unknown balance 'softadapt'"):
        balancer("softadapt")
    with pytest.raises(ValueError, match="balance must be one of"):
        pr.solve(poisson(), balance="softadapt", steps=1, progress=False)


def poisson():
    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    return pr.Problem(d, [Eq(lap(u), -math.pi**2 * sin(math.pi * x))], [pr.Boundary(Eq(u, 0))])


@pytest.mark.parametrize("balance", ["gradnorm", "ntk"])
def test_weights_resume_exactly(tmp_path, balance):
    kw = dict(steps=40, balance=balance, backbone_options={"width": 16}, lbfgs_steps=0, progress=False,
              dtype="float64", out=tmp_path / "a", hard=False)
    whole = pr.solve(poisson(), **kw)
    from pinr.solvers import PINNSolver

    first = PINNSolver.from_options(poisson(), **{**kw, "out": tmp_path / "b"})
    first.run(until=25)
    assert first.state.weights is not None and first.state.weights.shape == (2,)
    second = PINNSolver.from_options(poisson(), **{**kw, "out": tmp_path / "b", "resume": tmp_path / "b"})
    resumed = second.run()
    pts = torch.linspace(0, 1, 9, dtype=torch.float64)[:, None]
    assert torch.equal(resumed(pts), whole(pts))


# ------------------------------------------------------------------------- self-adaptive weights
def test_self_adaptive_weights_rise_by_the_hand_computed_ascent_step():
    """One step: λ_i ← λ_i + η ĝ_i with Adam's first step ĝ = g/(|g| + ε), g_i = ∂L/∂λ_i =
    (2/N) λ_i r_i² (ascent: the weights grow where the residual is), and the network's update
    sees the weighted loss Σ λ_i² r_i² / N."""
    from pinr.solvers import PINNSolver
    from pinr.training.terms import SelfAdaptive

    lr = 1e-2
    solver = PINNSolver.from_options(poisson(), steps=3, balance="self-adaptive", backbone_options={"width": 16},
                                     lbfgs_steps=0, progress=False, dtype="float64", hard=False, lr=lr,
                                     batch=32, seed=1)
    state = solver.build()
    pde = solver.terms[0]
    assert isinstance(pde.reduction, SelfAdaptive) and type(pde.sampler.rule).__name__ == "Fixed"
    batch = pde.sample(state.generator)
    residual = state.model.residuals(pde.expression, batch).detach().square().sum(0)  # r_i², λ = 1
    g = 2.0 / residual.shape[0] * residual
    expected = 1.0 + lr * g / (g.abs() + 1e-8)
    again = pde.sample(state.generator)
    assert torch.equal(again.points, batch.points)  # fixed points: the same batch every step
    # one training step from this state
    from pinr.training.loop import train_step

    state.generator.manual_seed(1)
    train_step(state, solver.terms, solver.losses_fn(state.model))
    torch.testing.assert_close(pde.reduction.weights.detach(), expected, rtol=1e-12, atol=1e-15)
    assert (pde.reduction.weights > 1).all()


def test_self_adaptive_weights_resume_exactly_and_refuse_moving_points(tmp_path):
    kw = dict(steps=30, balance="self-adaptive", backbone_options={"width": 16}, lbfgs_steps=0, progress=False,
              dtype="float64", out=tmp_path / "a", hard=False, batch=32)
    whole = pr.solve(poisson(), **kw)
    from pinr.solvers import PINNSolver

    first = PINNSolver.from_options(poisson(), **{**kw, "out": tmp_path / "b"})
    first.run(until=15)
    second = PINNSolver.from_options(poisson(), **{**kw, "out": tmp_path / "b", "resume": tmp_path / "b"})
    resumed = second.run()
    pts = torch.linspace(0, 1, 9, dtype=torch.float64)[:, None]
    assert torch.equal(resumed(pts), whole(pts))
    with pytest.raises(ValueError, match="self-adaptive weights need fixed points"):
        pr.solve(poisson(), balance="self-adaptive", sampling="r3", steps=1, progress=False)
