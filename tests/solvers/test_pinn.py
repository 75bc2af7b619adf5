"""PINN solver: accuracy on an exact solution, exact resume, divergence guard, atomic outputs."""

import math

import numpy as np
import pytest
import torch
from small_problems import poisson_1d

import pinr as pr
from pinr import Eq, lap, pi, sin
from pinr.errors import DivergenceError
from pinr.solvers import PINNSolver
from pinr.training import loop as training_loop
from pinr.training.terms import Batch, Causal, MeanSquare

SMALL_SIREN = dict(width=32, depth=2, omega0=3.0, omega_hidden=3.0)


@pytest.mark.parametrize("engine", ["jet", "autograd"])
def test_poisson_1d_reaches_small_error(engine):
    """u'' = -π² sin(πx), u(0) = u(1) = 0 has u = sin(πx); 400 Adam steps + 50 L-BFGS in float64."""
    p = poisson_1d()
    s = pr.solve(p, backbone="siren", backbone_options=SMALL_SIREN, steps=400, lr=3e-3, batch=128,
                 lbfgs_steps=50, dtype="float64", engine=engine, progress=False)
    m = pr.compare(s, pr.reference(p))
    assert m["rel_l2"] < 2e-3
    # the PDE residual itself is small at fresh points
    x = np.linspace(0.05, 0.95, 19)[:, None]
    res = s.evaluate(lap(p.field_apps[0]), x).ravel() + np.pi**2 * np.sin(np.pi * x.ravel())
    assert np.abs(res).max() < 0.05 * np.pi**2


def test_resume_continues_exactly(tmp_path):
    p = poisson_1d()
    kw = dict(backbone="siren", backbone_options=SMALL_SIREN, steps=12, lr=1e-3, batch=64, progress=False,
              dtype="float64")
    straight = PINNSolver.from_options(p, **kw, out=tmp_path / "a").run()
    first = PINNSolver.from_options(p, **kw, out=tmp_path / "b")
    first.run(until=5)
    resumed = PINNSolver.from_options(p, **kw, out=tmp_path / "b", resume=tmp_path / "b").run()
    for (k, a), (_, b) in zip(straight.network.state_dict().items(), resumed.network.state_dict().items()):
        assert torch.equal(a, b), k


def poison_after(monkeypatch, n_good: int):
    """Make every loss evaluation after the first ``n_good`` steps NaN."""
    original = PINNSolver.losses_fn
    calls = {"n": 0}

    def losses_fn(self, model):
        fn = original(self, model)

        def poisoned(batches):
            calls["n"] += 1
            losses, per_point = fn(batches)
            return (losses * float("nan") if calls["n"] > n_good else losses), per_point

        return poisoned

    monkeypatch.setattr(PINNSolver, "losses_fn", losses_fn)


def test_resuming_with_more_steps_goes_on_without_a_jump_in_the_learning_rate(tmp_path):
    p = poisson_1d()
    kw = dict(backbone_options=SMALL_SIREN, lr=1e-2, lr_min=1e-4, batch=16, progress=False, log_every=1, decay=1.0)
    PINNSolver.from_options(p, **kw, steps=10, out=tmp_path).run(until=5)
    longer = PINNSolver.from_options(p, **kw, steps=20, out=tmp_path, resume=tmp_path)
    longer.run()
    lrs = dict(zip(longer.history["step"], longer.history["lr"]))
    # the rate reached at step 5 is where the new decay starts (the 10-step cosine had it at ~5.05e-3)
    half = 1e-4 + 0.5 * (1e-2 - 1e-4) * (1 + math.cos(math.pi * 5 / 10))
    assert lrs[5] == pytest.approx(half)
    assert lrs[6] == pytest.approx(1e-4 + 0.5 * (half - 1e-4) * (1 + math.cos(math.pi / 15)))
    assert all(a >= b for a, b in zip(list(lrs.values())[4:], list(lrs.values())[5:]))  # decreasing, no jump
    assert lrs[20] == pytest.approx(1e-4) and longer.state.step == 20
    with pytest.raises(ValueError, match="leaves nothing to train"):
        PINNSolver.from_options(p, **kw, steps=15, out=tmp_path, resume=tmp_path).run()


def test_divergence_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    p = poisson_1d()
    solver = PINNSolver.from_options(p, backbone="siren", backbone_options=SMALL_SIREN, steps=20, batch=32,
                                     progress=False, out=tmp_path, checkpoint_every=4, optimizer="adam")
    poison_after(monkeypatch, 9)
    with pytest.raises(DivergenceError, match=r"step 10.*learning rate.*last good checkpoint \(step 8\)"):
        solver.run()
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 8
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert not list(tmp_path.glob("*.partial"))


class WritesMarker:
    """Unpickling this touches ``marker``: what a hostile file would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (type(self.marker).touch, (self.marker,))


def test_a_hostile_checkpoint_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "marker"
    torch.save({"model": {}, "config": {}, "payload": WritesMarker(marker)}, tmp_path / "checkpoint.pt")
    solver = PINNSolver.from_options(poisson_1d(), steps=2, progress=False, resume=tmp_path)
    with pytest.raises(ValueError, match=r"resume: .*checkpoint.pt is not a readable pinr checkpoint") as err:
        solver.run()
    assert "\n" not in str(err.value) and not marker.exists()
    (tmp_path / "checkpoint.pt").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="not a readable pinr checkpoint"):
        PINNSolver.from_options(poisson_1d(), steps=2, progress=False, resume=tmp_path).run()


def test_failed_solve_leaves_no_partial_outputs(tmp_path, monkeypatch):
    p = poisson_1d()

    def boom(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(training_loop, "train_step", boom)  # whatever the optimiser
    with pytest.raises(RuntimeError, match="simulated crash"):
        pr.solve(p, steps=5, out=tmp_path / "run", progress=False)
    files = {f.name for f in (tmp_path / "run").iterdir()}
    assert "metrics.json" not in files and not any(f.endswith(".partial") for f in files)
    assert "config.json" in files  # complete, rewritable for a rerun


def test_run_directory_contents(tmp_path):
    p = pr.problems.get("poisson-image", size=16)
    pr.solve(p, steps=3, out=tmp_path / "run", progress=False,
             backbone_options=dict(width=32, depth=1))
    out = tmp_path / "run"
    for name in ["config.json", "metrics.json", "checkpoint.pt", "solution.pt", "fields.npz", "fields.png", "loss.png",
                 "history.csv"]:
        assert (out / name).stat().st_size > 0, name
    rows = (out / "history.csv").read_text().splitlines()
    assert rows[0].split(",") == ["step", "loss", "lr", "seconds", "loss/gradient"]
    assert [int(r.split(",")[0]) for r in rows[1:]] == [1, 3]  # the first and the last step (log_every 10)
    metrics = pr.io.read_json(out / "metrics.json")
    for key in ["psnr", "rel_l2", "steps", "seconds", "ssim"]:
        assert key in metrics
    assert metrics["steps"] == 3 and metrics["align"] == "affine"
    config = pr.io.read_json(out / "config.json")
    assert config["problem"] == {"name": "poisson-image", "params": {"size": 16}}
    import meshio

    mesh = meshio.read(out / "fields.vtu")  # the same fields for ParaView
    values = np.load(out / "fields.npz")["prediction"][..., 0]
    np.testing.assert_allclose(mesh.point_data["u"], values.reshape(-1))
    assert mesh.points.shape == (16 * 16, 3) and "u_reference" in mesh.point_data
    with pytest.raises(FileExistsError, match="not empty.*--resume"):
        pr.solve(p, steps=3, out=out, progress=False)


def test_a_failed_start_leaves_a_reusable_directory(tmp_path):
    p = pr.problems.get("poisson-image", size=8)
    out = tmp_path / "run"
    with pytest.raises(TypeError, match="cannot be built with options"):  # checked before any file is written
        pr.solve(p, steps=1, out=out, progress=False, backbone_options={"width": "abc"})
    assert not out.exists()
    out.mkdir()
    (out / "config.json").write_text("{}")  # all that a start that failed later leaves behind
    pr.solve(p, steps=1, out=out, progress=False, backbone_options={"width": 8, "depth": 1})
    assert (out / "metrics.json").exists()
    with pytest.raises(FileExistsError, match="is a file"):
        pr.solve(p, steps=1, out=out / "metrics.json", progress=False)


def test_image_fit_improves_psnr():
    p = pr.problems.get("image", size=24)
    ref = pr.reference(p)
    s0 = pr.solve(p, steps=0, progress=False, backbone_options=dict(width=64, depth=2))
    s1 = pr.solve(p, steps=150, lr=1e-3, progress=False, backbone_options=dict(width=64, depth=2))
    assert pr.compare(s1, ref)["psnr"] > pr.compare(s0, ref)["psnr"] + 10


def test_rgb_image_has_three_fields():
    p = pr.problems.get("image", image="astronaut", size=16)
    assert p.n_outputs == 3
    s = pr.solve(p, steps=2, progress=False, backbone_options=dict(width=16, depth=1))
    assert s.on_grid().shape == (16, 16, 3)
    assert "ssim" in pr.compare(s, pr.reference(p))


def test_batch_per_term_and_sampling_methods():
    p = poisson_1d()
    solver = PINNSolver.from_options(p, steps=1, batch={"pde": 17, "boundary": 5}, progress=False,
                                     backbone_options=SMALL_SIREN, hard=False)
    assert [t.batch for t in solver.terms] == [17, 5]
    with pytest.raises(ValueError, match="unknown terms"):
        PINNSolver.from_options(p, batch={"nope": 3}, steps=1, progress=False)


def heat_problem():
    d = pr.Interval(x=(0, 1)) * pr.TimeInterval(0, 0.5)
    x, t = d.coords
    u = d.field("u")
    return pr.Problem(d, [Eq(pr.dt(u), 0.1 * lap(u))],
                      [pr.Initial(Eq(u, sin(pi * x))), pr.Boundary(Eq(u, 0))],
                      exact=sympy_exp(-0.1 * math.pi**2 * t) * sin(pi * x))


def sympy_exp(a):
    return pr.exp(a)


def test_time_window_grows_linearly():
    p = heat_problem()
    s = PINNSolver.from_options(p, steps=100, time_window=0.5, time_window_start=0.2, progress=False, hard=False)
    state = s.build()
    (window,) = [c for c in s.callbacks(state) if isinstance(c, pr.training.TimeWindow)]
    assert window.window(0, 100) == pytest.approx(0.2) and window.window(25, 100) == pytest.approx(0.6)
    assert window.window(50, 100) == 1.0 and window.window(99, 100) == 1.0
    pde, initial = s.terms[0], s.terms[1]
    assert isinstance(initial.region, pr.domains.AbstractInitial)
    pts = pde.sample(state.generator, window=0.2).points
    assert pts[:, -1].max() <= 0.2 * 0.5 + 1e-6  # interior times squeezed into [0, 0.1]
    assert torch.all(initial.sample(state.generator, window=0.2).points[:, -1] == 0)  # initial points stay at t0


def test_causal_weights_follow_the_definition():
    p = heat_problem()
    s = PINNSolver.from_options(p, steps=1, causal=2.0, causal_chunks=2, progress=False)
    causal = s.terms[0].reduction  # the interior term of a space-time problem; the others stay mean squares
    assert isinstance(causal, Causal) and causal.epsilon == 2.0 and causal.chunks == 2
    assert all(isinstance(t.reduction, MeanSquare) for t in s.terms[1:])
    res = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    t = torch.tensor([0.0, 0.1, 0.4, 0.5])
    l0, l1 = (1 + 4) / 2, (9 + 16) / 2
    expected = (l0 + math.exp(-2.0 * l0) * l1) / 2
    batch = Batch(torch.stack([torch.zeros(4), t], dim=1))
    assert float(causal(res, batch)) == pytest.approx(expected)


def test_heat_equation_with_window_and_causal_weighting_trains():
    p = heat_problem()
    sol = pr.solve(p, backbone="siren", backbone_options=dict(width=32, depth=2, omega0=3.0, omega_hidden=3.0),
                   steps=300, lr=2e-3, batch=256, time_window=0.5, causal=1.0, progress=False, dtype="float64")
    assert pr.compare(sol, pr.reference(p))["rel_l2"] < 0.1
    with pytest.raises(ValueError, match="time axis"):
        PINNSolver.from_options(poisson_1d(), causal=1.0)


def test_run_directory_for_space_time_problem(tmp_path):
    import meshio

    p = heat_problem()
    pr.solve(p, steps=2, out=tmp_path / "heat", progress=False, backbone_options=dict(width=8, depth=1))
    for name in ["fields.png", "fields.npz", "metrics.json", "loss.png", "fields.xdmf"]:
        assert (tmp_path / "heat" / name).stat().st_size > 0
    # the ParaView time series holds the same values as fields.npz, one step per time level
    arrays = np.load(tmp_path / "heat" / "fields.npz")
    with meshio.xdmf.TimeSeriesReader(str(tmp_path / "heat" / "fields.xdmf")) as reader:
        points, _ = reader.read_points_cells()
        times = []
        for k in range(reader.num_steps):
            t, point_data, _ = reader.read_data(k)
            times.append(t)
            nx = len(arrays["coords_x"])
            np.testing.assert_allclose(point_data["u"].reshape(nx), arrays["prediction"][:, k, 0])
            np.testing.assert_allclose(point_data["u_reference"].reshape(nx), arrays["reference"][:, k, 0])
    np.testing.assert_allclose(times, arrays["coords_t"])
    np.testing.assert_allclose(points[:, 0], arrays["coords_x"])


def test_grid_terms_default_to_the_full_grid():
    p = pr.problems.get("poisson-image", size=16)
    s = PINNSolver.from_options(p, steps=1, progress=False)
    assert [t.batch for t in s.terms] == [256]
    assert [t.batch for t in PINNSolver.from_options(p, steps=1, batch=100, progress=False).terms] == [100]
    s1 = PINNSolver.from_options(poisson_1d(), steps=1, progress=False)
    assert s1.terms[0].batch == 256  # a stated 1-D PDE: points chosen for its dimension
    assert PINNSolver.from_options(poisson_1d(), steps=1, batch=None, backbone="mlp").terms[0].batch == 256


@pytest.mark.parametrize("engine", ["jet", "autograd"])
def test_output_scale_multiplies_values_and_derivatives(tmp_path, engine):
    """The same weights with ``output_scale`` 0.02 give 0.02 × the values and 0.02 × every
    derivative the residual uses (so the 1-D Poisson residual at zero source scales exactly);
    the scale is saved with the solution."""
    p = poisson_1d()
    (x,) = p.domain.coords
    u = p.domain.field("u")
    kw = dict(steps=0, backbone_options=SMALL_SIREN, progress=False, dtype="float64", engine=engine)
    plain = PINNSolver.from_options(p, **kw)
    scaled = PINNSolver.from_options(p, **kw,
                        output_scale=0.02)
    a, b = plain.run(), scaled.run()
    pts = torch.linspace(0, 1, 17, dtype=torch.float64)[:, None]
    assert torch.allclose(b(pts), 0.02 * a(pts), rtol=1e-14, atol=0)
    assert torch.allclose(b.evaluate(lap(u), pts, engine=engine), 0.02 * a.evaluate(lap(u), pts, engine=engine),
                          rtol=1e-12, atol=1e-14)
    loaded = pr.load(b.save(tmp_path / "s.pt"))
    assert torch.equal(loaded(pts), b(pts))
    for bad in (0.0, -1.0, float("nan"), [1.0, 2.0]):
        with pytest.raises(ValueError, match="output_scale"):
            PINNSolver.from_options(p, output_scale=bad)


def test_validate_metrics_callable_replaces_compare():
    seen = []

    def metric(solution):
        seen.append(float(solution(torch.tensor([[0.5]]))[0, 0]))
        return {"u_mid": seen[-1]}

    s = PINNSolver.from_options(poisson_1d(), steps=20, validate_metrics=metric, backbone_options=SMALL_SIREN,
                                progress=False)
    s.run()
    assert s.validation["step"] == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20] and s.validation["u_mid"] == seen
    with pytest.raises(TypeError, match="validate_metrics"):
        PINNSolver.from_options(poisson_1d(), validate_metrics=3)


def test_tensorboard_scalars_or_a_clear_error(tmp_path):
    """With tensorboard installed the run writes event files; without it the option is refused in
    one line before any file is written."""
    import importlib.util

    p = pr.problems.get("poisson-image", size=8)
    out = tmp_path / "run"
    kw = dict(steps=3, out=out, progress=False, tensorboard=True, backbone_options=dict(width=8, depth=1))
    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(ValueError, match="pip install tensorboard"):
            pr.solve(p, **kw)
        assert not out.exists()
    else:
        pr.solve(p, **kw)
        assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    with pytest.raises(ValueError, match="give out="):
        PINNSolver.from_options(p, steps=1, tensorboard=True)


def test_decay_holds_the_rate_then_decays_over_the_last_fraction(tmp_path):
    p = poisson_1d()
    kw = dict(backbone_options=SMALL_SIREN, lr=1e-2, lr_min=1e-4, batch=16, progress=False, log_every=1,
              decay=0.3, lbfgs_steps=0)
    s = PINNSolver.from_options(p, **kw, steps=10)
    s.run()
    lrs = dict(zip(s.history["step"], s.history["lr"]))
    assert all(lrs[k] == pytest.approx(1e-2) for k in range(1, 8))  # the rate logged after step k is step k+1's
    assert lrs[8] == pytest.approx(1e-4 + 0.5 * (1e-2 - 1e-4) * (1 + math.cos(math.pi / 3)))
    assert lrs[10] == pytest.approx(1e-4)
    # resumed with twice the steps: held at 1e-2 until step 14, then the cosine over 6 steps
    PINNSolver.from_options(p, **kw, steps=10, out=tmp_path).run(until=5)
    longer = PINNSolver.from_options(p, **kw, steps=20, out=tmp_path, resume=tmp_path)
    longer.run()
    lrs = dict(zip(longer.history["step"], longer.history["lr"]))
    assert all(lrs[k] == pytest.approx(1e-2) for k in range(5, 14)) and lrs[20] == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="decay is the fraction"):
        PINNSolver.from_options(p, decay=0.0)


def test_the_backbone_is_built_once_and_the_engine_chosen_once(monkeypatch):
    """The network a run starts from is built once, under the seed (its first state gets it, with
    the random state building it left); a second fresh state builds the same weights again."""
    import pinr.solvers.pinn as pinn

    built, chosen = [], []
    real_build, real_select = pinn.build_backbone, pinn.select_engine
    def build(*args, **kwargs):  # the meta-device size check builds no weights: not counted
        built.extend([1] if torch.empty(0).device.type != "meta" else [])
        return real_build(*args, **kwargs)

    monkeypatch.setattr(pinn, "build_backbone", build)
    monkeypatch.setattr(pinn, "select_engine", lambda *a, **k: chosen.append(1) or real_select(*a, **k))
    solver = PINNSolver.from_options(poisson_1d(), steps=2, progress=False, backbone_options=SMALL_SIREN, seed=3)
    state = solver.build()
    after_first = torch.get_rng_state()
    assert len(built) == 1 and len(chosen) == 1
    torch.manual_seed(3)
    rebuilt = pinn.Network(real_build("siren", 1, 1, **SMALL_SIREN), solver.problem.domain.bounds)
    assert torch.equal(torch.get_rng_state(), after_first)  # the run draws on from where building left it
    for a, b in zip(state.model.network.parameters(), rebuilt.parameters()):
        assert torch.equal(a, b.to(a.dtype))
    again = solver.build()
    assert len(built) == 2 and len(chosen) == 1 and again.model.engine is state.model.engine
    for a, b in zip(state.model.network.parameters(), again.model.network.parameters()):
        assert torch.equal(a, b)
