"""Defaults chosen from a stated problem: the scales read from the statement are the exact ones
for statements whose answer's frequency is known, catalogue cases keep their own defaults, and a
plainly stated 1-D Poisson problem is solved to a stated bound at the defaults."""

import logging
import math

import numpy as np
import pytest
import torch

import pinr as pr
from pinr import D, Eq, dt, exp, lap, sin
from pinr.compiler import compile_problem
from pinr.solvers import PINNSolver
from pinr.training.auto import choose, scales


def test_data_frequency_is_exact_for_an_exponential_source():
    # |f'| / |f| = a at every point, so the estimate a·h is exact, h the half-width (here 1)
    d = pr.Interval(x=(0, 2))
    (x,) = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(lap(u), exp(3 * x))], [pr.Boundary(Eq(u, 0))])
    sc = scales(p)
    assert sc.frequency[0] == pytest.approx(3.0, rel=1e-9)
    assert sc.amplitude is None  # u = 0 on the boundary says nothing of the size


def test_helmholtz_operator_gives_its_wavenumber():
    d = pr.Rectangle(x=(0, 1), y=(0, 0.5))
    x, y = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(lap(u) + 36 * u, 0)], [pr.Boundary(Eq(u, 1e-3))])
    sc = scales(p)
    assert sc.frequency == pytest.approx((6 * 0.5, 6 * 0.25), rel=1e-12)
    assert sc.amplitude == pytest.approx(1e-3, rel=1e-9)
    config, sources = choose(p, compile_problem(p), torch.device("cpu"))
    assert config.model.output_scale == pytest.approx(1e-3)
    assert dict(config.model.options)["omega0"] == pytest.approx(6.0)
    assert "operator wavenumber 6" in sources["omega0"]


def test_a_localized_source_is_a_source_and_the_pml_operator_sets_the_frequency():
    """The catalogue's Helmholtz statement: its Gaussian source (on 0.05 % of the square) is listed as
    localized, not read as the answer's frequency; the PML's varying coefficients are read where they
    are real, giving k = 20 exactly. A narrow-source Poisson problem gets importance sampling."""
    sc = scales(pr.problems.get("helmholtz", singular="none").problem)
    assert sc.localized == ("pde", "source")  # the source disk restates the equation where the source lives
    assert sc.frequency == pytest.approx((20.0, 20.0), rel=1e-9)
    d = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    x, y = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(-lap(u), exp(-((x - 0.3) ** 2 + y**2) / 8e-4))], [pr.Boundary(Eq(u, 0))])
    config, why = choose(p, compile_problem(p), torch.device("cpu"))
    assert config.sampling.sampling == "source" and "localized" in why["sampling"]
    assert config.model.options["omega0"] == 3.0  # not 30: the source's width is not the answer's
    # a broad source is data like any other
    wide = pr.Problem(d, [Eq(-lap(u), exp(-(x**2 + y**2)))], [pr.Boundary(Eq(u, 0))])
    assert not scales(wide).localized
    assert choose(wide, compile_problem(wide), torch.device("cpu"))[0].sampling.sampling is None


def test_wave_speed_carries_the_space_frequency_into_time():
    d = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 2)
    x, t = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(dt(u, 2), 9 * D(u, x, x))],
                   [pr.Initial(Eq(u, exp(4 * x))), pr.Initial(Eq(dt(u), 0)), pr.Boundary(Eq(u, 0))])
    kx, kt = scales(p).frequency
    assert kx == pytest.approx(4 * 0.5, rel=1e-9)  # 4 per unit of x, half-width 0.5
    assert kt == pytest.approx(3 * 4 * 1.0, rel=1e-9)  # speed 3, half-width of t 1


def test_a_wave_on_a_short_interval_sees_time_in_the_units_of_its_speed():
    """c = 2 over t in [0, 0.2] against [-1, 1]^2: the half-length 0.1 is shorter than the time to cross
    half the box's half-width, h_x / 2c = 0.25, which becomes the network's time unit, and the time
    frequency is read in it; over [0, 2] the box stays."""
    def stated(t_end):
        d = pr.Rectangle(x=(-1, 1), y=(-1, 1)) * pr.TimeInterval(0, t_end)
        x, y, t = d.coords
        u = d.field("u")
        return pr.Problem(d, [Eq(dt(u, 2), 4 * lap(u))], [pr.Initial(Eq(u, exp(-20 * (x**2 + y**2)))),
                                                           pr.Initial(Eq(dt(u), 0)), pr.Boundary(Eq(u, 0))])
    short = stated(0.2)
    config, why = choose(short, compile_problem(short), torch.device("cpu"))
    assert config.model.time_scale == pytest.approx(0.25)
    assert "wave of speed 2" in why["time_scale"]
    kx, ky, kt = scales(short).frequency
    assert kt == pytest.approx(2 * max(kx, ky) * 0.1, rel=1e-9)  # in the box's units: speed 2, half-length 0.1
    omega0 = config.model.options["omega0"]
    assert kt * 0.25 / 0.1 == pytest.approx(max(kx, ky) / 2)  # seen at half the space frequency
    assert omega0 == pytest.approx(min(30.0, max(3.0, round(2 * max(kx, ky), 1))))  # space sizes the network
    mine = PINNSolver.from_options(short, time_scale=0.3, steps=1, progress=False)  # yours wins, said as yours
    assert mine.config.model.time_scale == 0.3 and "time_scale" not in mine.resolved.sources
    chosen = PINNSolver.from_options(short, steps=1, progress=False)
    assert chosen.config.model.time_scale == 0.25 and "wave of speed 2" in chosen.resolved.sources["time_scale"]
    long = stated(2.0)
    config, why = choose(long, compile_problem(long), torch.device("cpu"))
    assert config.model.time_scale is None and "time_scale" not in why
    # a heat equation on the same short interval has no speed: u_t is not a wave's u_tt
    d = pr.Rectangle(x=(-1, 1), y=(-1, 1)) * pr.TimeInterval(0, 0.2)
    x, y, t = d.coords
    u = d.field("u")
    heat = pr.Problem(d, [Eq(dt(u), lap(u) / 10)], [pr.Initial(Eq(u, exp(-20 * (x**2 + y**2)))), pr.Boundary(Eq(u, 0))])
    sc = scales(heat)
    assert sc.speed is None and sc.frequency[2] == 0.0 and not any("speed" in r for r in sc.reasons)
    config, why = choose(heat, compile_problem(heat), torch.device("cpu"))
    assert config.model.time_scale is None


def test_catalogue_cases_and_fitting_problems_keep_their_defaults():
    case = pr.problems.get("poisson-image", size=16)
    s = PINNSolver.from_options(case, steps=1, progress=False)
    assert s.config.model.backbone == case.training.model.backbone and s.config.optim.balance == "none"
    assert s.resolved.sources["backbone"] == "problem 'poisson-image'"
    fit = pr.problems.get("image", size=16).problem  # no derivatives: the fitting defaults
    f = PINNSolver.from_options(fit, steps=1, progress=False)
    assert f.config.model.backbone == "siren" and dict(f.config.model.options) == {}
    assert f.config.optim.balance == "none" and f.config.optim.lr == 1e-4


def test_your_options_win_and_the_rest_is_still_chosen():
    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(lap(u), -math.pi**2 * sin(math.pi * x))], [pr.Boundary(Eq(u, 0))])
    s = PINNSolver.from_options(p, backbone="mlp", steps=10, progress=False)
    assert s.config.model.backbone == "mlp" and dict(s.config.model.options or {}) == {}  # no SIREN options
    assert s.config.optim.lr == 1e-3 and "backbone 'mlp'" in s.resolved.sources["lr"]
    assert s.config.optim.balance == "gradnorm" and "omega0" not in s.resolved.sources
    t = PINNSolver.from_options(p, backbone_options={"omega0": 5.0}, progress=False)  # the natural step's SIREN
    assert dict(t.config.model.options)["omega0"] == 5.0 and dict(t.config.model.options)["width"] == 32
    assert "omega0" not in t.resolved.sources
    assert "siren" in t.resolved.summary() and "natural-gradient optimizer" in t.resolved.summary()
    a = PINNSolver.from_options(p, backbone_options={"omega0": 5.0}, optimizer="adam", progress=False)
    assert dict(a.config.model.options)["omega0"] == 5.0 and dict(a.config.model.options)["width"] == 64
    assert "balance gradnorm" in a.resolved.summary() and "optimizer" not in a.resolved.sources  # yours


def test_plain_poisson_at_the_defaults_is_accurate(caplog):
    """The README's 1-D Poisson problem with no options at all: rel. L2 ≤ 1e-2 (measured 2e-4)."""
    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(lap(u), -math.pi**2 * sin(math.pi * x))], [pr.Boundary(Eq(u, 0))])
    threads = torch.get_num_threads()
    sol = pr.solve(p, progress=False)
    assert torch.get_num_threads() == threads  # the run's one thread is given back
    xs = np.linspace(0, 1, 201)
    v = np.asarray(sol(torch.tensor(xs[:, None], dtype=torch.float32)).detach()).reshape(-1)
    e = np.sin(np.pi * xs)
    assert np.linalg.norm(v - e) / np.linalg.norm(e) < 1e-2


def test_time_estimate_warns_past_the_limit(caplog):
    from pinr.training import callbacks as cb

    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(lap(u), -math.pi**2 * sin(math.pi * x))], [pr.Boundary(Eq(u, 0))])
    est = cb.TimeEstimate(None, after=3, lbfgs_steps=0, limit=1e-6)
    with caplog.at_level(logging.WARNING):
        PINNSolver.from_options(p, steps=8, lbfgs_steps=0, progress=False, callbacks=[est]).run()
    assert est.estimate is not None and est.estimate > 0
    assert "longer than 0 s on this CPU; steps=1 (--steps 1) fits" in caplog.text


def test_smooth_answers_get_hard_value_conditions_oscillating_ones_do_not():
    d = pr.Rectangle(x=(0, 1), y=(0, 1))
    x, y = d.coords
    u = d.field("u")
    smooth = pr.Problem(d, [Eq(lap(u), -2 * math.pi**2 * sin(math.pi * x) * sin(math.pi * y))],
                        [pr.Boundary(Eq(u, 0))])
    s = PINNSolver.from_options(smooth, progress=False, optimizer="adam")
    assert [c.name for c in s.problem.conditions if c.hard] == ["boundary"] and [t.name for t in s.terms] == ["pde"]
    assert "exactly" in s.resolved.sources["hard"] and s.case.problem is smooth  # the statement is unchanged
    n = PINNSolver.from_options(smooth, progress=False)  # the natural-gradient step keeps them as loss terms
    assert n.config.optim.optimizer == "natural" and not any(c.hard for c in n.problem.conditions)
    assert "natural-gradient" in n.resolved.sources["hard"]
    k = 4 * math.pi
    wavy = pr.Problem(d, [Eq(lap(u) + k**2 * u, -k**2 * sin(k * x) * sin(k * y))], [pr.Boundary(Eq(u, 0))])
    w = PINNSolver.from_options(wavy, progress=False, optimizer="adam")
    assert not any(c.hard for c in w.problem.conditions) and len(w.terms) == 2
    assert not PINNSolver.from_options(smooth, hard=False, progress=False, optimizer="adam").problem.conditions[1].hard


def test_harden_keeps_what_disagrees_soft():
    from pinr.symbolic.hard import harden

    d = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 1)
    x, t = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(dt(u), D(u, x, x))], [pr.Boundary(Eq(u, 1)), pr.Initial(Eq(u, sin(x))),
                                               pr.Initial(Eq(dt(u), 0))])
    q, names = harden(p)  # u = 1 on the walls and sin x at t = 0 cannot share one G: the walls only
    assert names == ("boundary",) and [c.hard for c in q.conditions] == [False, True, False, False]


def test_time_estimate_is_revised_when_the_first_steps_were_not_typical():
    import time as _time

    from pinr.training import callbacks as cb
    from pinr.training.loop import AbstractCallback

    class SlowLater(AbstractCallback):  # steps after the first estimate take 20 ms longer
        def on_step_end(self, loop, out):
            if loop.state.step > 5:
                _time.sleep(0.02)

    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(lap(u), -math.pi**2 * sin(math.pi * x))], [pr.Boundary(Eq(u, 0))])
    est = cb.TimeEstimate(None, after=3, lbfgs_steps=0, limit=1e9)
    PINNSolver.from_options(p, steps=60, lbfgs_steps=0, progress=False, backbone_options={"width": 8},
                            callbacks=[SlowLater(), est]).run()
    assert est.revised is not None and est.estimate == est.revised
    assert est.revised > 60 * 0.02 * 0.9  # the slow steps dominate the revised figure


def test_nonlinear_equations_get_residual_based_refinement_linear_ones_fresh_points():
    from pinr.collection import Collection
    from pinr.solvers.conditioned import ConditionedSolver
    from pinr.training.auto import nonlinear

    d = pr.Interval(x=(-1, 1)) * pr.TimeInterval(0, 1)
    x, t = d.coords
    u = d.field("u")
    ux = D(u, x)

    def problem(eq, k=1):
        return pr.Problem(d, [eq], [pr.Initial(Eq(u, -sin(k * math.pi * x))), pr.Boundary(Eq(u, 0))])

    burgers = problem(Eq(dt(u) + u * ux, 0.01 * lap(u)))
    allen_cahn = problem(Eq(dt(u), 1e-4 * lap(u) - 5 * u**3 + 5 * u))
    heat = problem(Eq(dt(u), 0.1 * lap(u) + sin(x) * u))  # a coefficient times u is still linear
    assert nonlinear(burgers) and nonlinear(allen_cahn) and nonlinear(problem(Eq(dt(u), lap(u) + sin(u))))
    assert nonlinear(problem(Eq(dt(u), lap(u) + ux**2)))
    assert not nonlinear(heat) and not nonlinear(problem(Eq(dt(u, 2), 4 * lap(u))))
    b = PINNSolver.from_options(burgers, progress=False, optimizer="adam")  # Adam's defaults
    assert b.config.sampling.sampling == "rar-d" and "RAR-D" in b.resolved.sources["sampling"]
    assert "rar-d sampling" in b.resolved.summary()
    assert PINNSolver.from_options(heat, progress=False, optimizer="adam").config.sampling.sampling is None
    assert PINNSolver.from_options(burgers, sampling="uniform", progress=False,
                                   optimizer="adam").config.sampling.sampling == "uniform"
    # natural-gradient steps (the defaults' choice) draw fresh points: RAR-D's kept pool left Burgers at 0.36
    n = PINNSolver.from_options(burgers, progress=False)
    assert n.config.optim.optimizer == "natural" and n.config.sampling.sampling is None
    # a collection of them, stated without options, draws uniformly (no adaptive pools per instance)
    col = ConditionedSolver(Collection([burgers, problem(Eq(dt(u) + u * ux, 0.01 * lap(u)), k=2)]))
    assert col.config.sampling.sampling is None and "sampling" not in col.resolved.sources


def test_time_estimate_of_a_settling_run_warns_from_the_later_rate(caplog):
    """A run whose first steps cost more (an occupancy grid before it prunes) is not warned about
    from them: the warning waits for the rate measured after, and says nothing when that fits."""
    import time as _time

    from pinr.training import callbacks as cb
    from pinr.training.loop import AbstractCallback

    class FastLater(AbstractCallback):  # the steps of the first estimate take 500 ms longer
        def on_step_end(self, loop, out):
            if loop.state.step <= 4:
                _time.sleep(0.5)

    d = pr.Interval(x=(0, 1))
    (x,) = d.coords
    u = d.field("u")
    p = pr.Problem(d, [Eq(lap(u), -math.pi**2 * sin(math.pi * x))], [pr.Boundary(Eq(u, 0))])
    opts = dict(steps=60, lbfgs_steps=0, progress=False, backbone_options={"width": 8})
    runs = {}
    for settling in (False, True):
        # limits far from both rates (60 × 0.5 s against a few ms a step), so that a loaded machine agrees
        est = cb.TimeEstimate(None, after=3, lbfgs_steps=0, limit=20.0, settle=4 if settling else 0)
        with caplog.at_level(logging.WARNING):
            caplog.clear()
            PINNSolver.from_options(p, callbacks=[FastLater(), est], **opts).run()
        runs[settling] = (est, caplog.text)
    assert "longer than 20 s on this CPU" in runs[False][1]  # 60 × 0.5 s from the first steps' rate
    est, text = runs[True]
    assert est.revised is not None and est.revised < 20.0 and "longer than" not in text
