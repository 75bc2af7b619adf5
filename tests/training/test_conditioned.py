"""Conditioned backbones and collections: exact derivatives at a code, the code prior's gradient,
one pass equal to one pass per instance, an auto-decoder recovering a held-out shape, FiLM
inpainting beating a plain fit, and per-instance metrics in a run directory."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import pinr as pr
from pinr import Observation, Problem
from pinr import geometry as geo
from pinr.backbones.conditioned import CodeTable, ConditionedNetwork, available_conditionings, build_conditioned
from pinr.collection import CodeConfig, Collection
from pinr.derivatives.jet import Jet
from pinr.metrics import psnr
from pinr.problems.collections import ShapeMetrics
from pinr.problems.eikonal_sdf import eikonal_sdf
from pinr.problems.regression import image_grid
from pinr.solvers.conditioned import ConditionedSolver, load_conditioned
from pinr.training import ModelConfig, OptimConfig, RunConfig, SamplingConfig, TrainConfig
from pinr.training.instances import CodeRegularizer, InstanceTerm
from pinr.training.terms import Model

QUIET = TrainConfig(run=RunConfig(progress=False))
SIREN = {"width": 24, "depth": 2, "omega0": 10.0, "omega_hidden": 10.0}


def _network(conditioning, n=3, code=4, **options):
    torch.manual_seed(0)
    backbone = build_conditioned(conditioning, 2, 2, code, **options)
    net = ConditionedNetwork(backbone, np.array([[-1.0, 1.0], [-2.0, 2.0]]), n, code_std=0.5)
    return net.to(torch.float64)


def _autograd(f, x):
    """Value (N, W), gradient (W, N, d) and Hessian (W, N, d, d) of ``f`` by nested autograd."""
    x = x.detach().requires_grad_(True)
    u = f(x)
    grads, hess = [], []
    for c in range(u.shape[1]):
        (g,) = torch.autograd.grad(u[:, c].sum(), x, create_graph=True)
        hess.append(torch.stack([torch.autograd.grad(g[:, i].sum(), x, retain_graph=True)[0]
                                 for i in range(x.shape[1])], 1))
        grads.append(g)
    return u, torch.stack(grads), torch.stack(hess)


#: small options of every registered conditioning (a new one without an entry fails collection here)
CONDITIONING_OPTIONS = {"concat": [{"backbone": "siren", **SIREN}, {"backbone": "mlp", "width": 16, "depth": 2}],
                        "film": [{**SIREN, "mapping_width": 8}], "hyper": [{**SIREN, "mapping_width": 8}]}


@pytest.mark.parametrize(("conditioning", "options"), [(name, options) for name in available_conditionings()
                                                       for options in CONDITIONING_OPTIONS[name]])
def test_jet_equals_autograd_at_fixed_codes(conditioning, options):
    net = _network(conditioning, **options)
    x = (2 * torch.rand(40, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) - 1) * 0.9
    ids = torch.arange(40) % 3
    blocks = torch.arange(40) // 20  # two instances in equal blocks, as a collection's pass has them
    runs = torch.tensor([0] * 5 + [1] * 15 + [2] * 20)  # unequal runs: each point through its own code
    for bound in [net.bind(1)] + [type(net.bind(0))(net, net.codes, i) for i in (ids, blocks, runs)]:
        jet = bound(Jet.seed(x, (0, 1), [((0, 0, 1.0), (1, 1, 1.0)), ((0, 1, 1.0),)]))
        u, g, h = _autograd(bound, x)
        torch.testing.assert_close(jet.value, u, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(jet.first, g.permute(2, 1, 0), rtol=1e-10, atol=1e-10)
        lap = (h[:, :, 0, 0] + h[:, :, 1, 1]).T
        torch.testing.assert_close(jet.second[0], lap, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(jet.second[1], h[:, :, 0, 1].T, rtol=1e-9, atol=1e-9)
    # the code matters: another instance is another function
    assert (net.bind(0)(x) - net.bind(1)(x)).abs().max() > 1e-3


def test_hyper_predicts_every_weight_from_the_code_around_a_siren():
    torch.manual_seed(0)
    hyper = build_conditioned("hyper", 2, 1, 4, width=8, depth=1, mapping_width=6).double()
    z = torch.randn(3, 4, dtype=torch.float64)
    x = torch.rand(3, 2, dtype=torch.float64)
    # with H = 0 the network is the SIREN its template was: θ0 split into layers, by hand
    with torch.no_grad():
        hyper.mapping[-1].weight.zero_()
    (w0, b0), (w1, b1), (w2, b2) = (layer for layer in hyper.weights(z[:1]))
    h = torch.sin(30 * (x @ w0[0] + b0[0]))
    h = torch.sin(30 * (h @ w1[0] + b1[0]))
    torch.testing.assert_close(hyper(x, z[:1]), h @ w2[0] + b2[0], rtol=1e-13, atol=1e-13)
    # the first layer's weights start within SIREN's U(±1/n) range, the later ones within U(±√(6/n)/ω)
    assert w0.abs().max() <= 1 / 2 and w1.abs().max() <= (6 / 8) ** 0.5 / 30
    # a code per point equals each point through its own code's network
    torch.manual_seed(1)
    hyper = build_conditioned("hyper", 2, 1, 4, width=8, depth=1, mapping_width=6).double()
    each = torch.cat([hyper(x[i:i + 1], z[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(hyper(x, z), each, rtol=1e-13, atol=1e-13)
    # points grouped in equal blocks (batched per block) and in unequal runs (weights per point) alike
    x6, ids = torch.rand(6, 2, dtype=torch.float64), torch.tensor([0, 0, 1, 1, 2, 2])
    each = torch.cat([hyper(x6[i:i + 1], z[ids[i]:ids[i] + 1]) for i in range(6)])
    torch.testing.assert_close(hyper(x6, z[ids]), each, rtol=1e-13, atol=1e-13)
    shuffled = torch.tensor([2, 2, 0, 1, 1, 1])  # runs of unequal length: per-point weights
    torch.testing.assert_close(hyper(x6, z[shuffled]), torch.cat([hyper(x6[i:i + 1], z[shuffled[i]:shuffled[i] + 1])
                                                                  for i in range(6)]), rtol=1e-13, atol=1e-13)
    assert (hyper(x, z[:1]) - hyper(x, z[1:2])).abs().max() > 1e-4  # and the code matters
    with pytest.raises(ValueError, match="backbone='siren'"):
        build_conditioned("hyper", 2, 1, 4, backbone="mlp")


def test_code_regularizer_gradient_is_two_lambda_z_over_k():
    net = _network("concat", n=5, backbone="mlp", width=8, depth=1)
    term = CodeRegularizer(0.3)
    model = Model(net, None, None)
    loss, values = term.loss(model, term.sample(torch.Generator()))
    z = net.codes.weight.detach()
    assert loss.item() == pytest.approx(0.3 * float((z ** 2).sum()) / 5, rel=1e-14)
    loss.backward()
    torch.testing.assert_close(net.codes.weight.grad, 2 * 0.3 * z / 5, rtol=1e-14, atol=0)
    assert values.shape == (0,)
    with pytest.raises(ValueError, match="weight"):
        CodeRegularizer(-1.0)


def _circles(radii, **training):
    cases = [eikonal_sdf(pr.Disk((0, 0), r), mode="supervised") for r in radii]
    return Collection(cases, names=[f"r={r}" for r in radii], codes=CodeConfig(features=4),
                      training=TrainConfig(model=ModelConfig(backbone="mlp",
                                                             options={"width": 32, "depth": 2}),
                                           optim=OptimConfig(steps=400, lr=3e-3),
                                           sampling=SamplingConfig(batch=256), **training))


def test_one_pass_equals_one_pass_per_instance_in_float64():
    col = _circles([0.3, 0.5, 0.7], device=pr.training.DeviceConfig(dtype="float64"))
    solver = ConditionedSolver(col, QUIET)
    state = solver.build()
    g = torch.Generator().manual_seed(0)
    for term in solver.terms[:-1]:
        assert isinstance(term, InstanceTerm) and term.fused
        batch = term.sample(g)
        fused, per_fused = term.loss(state.model, batch)
        term.fused = False
        looped, per_looped = term.loss(state.model, batch)
        assert fused.item() == pytest.approx(looped.item(), rel=1e-12)
        torch.testing.assert_close(per_fused, per_looped, rtol=1e-12, atol=1e-15)


def _band(r, rng, n=2000):
    theta, rho = rng.uniform(0, 2 * np.pi, n), r + rng.uniform(-0.1, 0.1, n)
    return np.stack([rho * np.cos(theta), rho * np.sin(theta)], 1)


def test_auto_decoder_recovers_a_held_out_circle_by_test_time_optimisation():
    radii = [0.3, 0.45, 0.6, 0.75]
    solution = ConditionedSolver(_circles(radii), QUIET).run()
    rng = np.random.default_rng(0)

    def error(sol, r):
        p = _band(r, rng)
        return float(np.abs(sol(p)[:, 0] - (np.linalg.norm(p, axis=1) - r)).mean())

    trained = [error(solution[k], r) for k, r in enumerate(radii)]
    assert max(trained) < 0.04
    held = 0.52  # between the trained radii; its SDF is |x| - 0.52
    code, reconstruction = solution.fit_code(eikonal_sdf(pr.Disk((0, 0), held), mode="supervised"), steps=200, lr=1e-2)
    assert code.shape == (4,)
    # within 0.025 of the true SDF near the circle, where the nearest trained shape's exact SDF is 0.07 off
    assert error(reconstruction, held) < 0.025
    # the network stayed frozen: the trained instances are unchanged
    assert [error(solution[k], r) for k, r in enumerate(radii)] == pytest.approx(trained, abs=5e-3)


@pytest.mark.parametrize("conditioning", ["film", "hyper"])
def test_prior_inpaints_a_held_out_image_better_than_a_plain_siren(conditioning):
    grid = image_grid((24, 24))
    x = grid.points(dtype=torch.float64).numpy()
    u = grid.field("u")
    rng = np.random.default_rng(0)

    def disk():  # a soft-edged disk at a random place and size, in [-1, 1]
        cx, cy, s = rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), rng.uniform(0.3, 0.6)
        return np.tanh((s - np.hypot(x[:, 0] - cx, x[:, 1] - cy)) / 0.08)

    images = [disk() for _ in range(17)]
    train, held = images[:16], images[16]
    cases = [Problem(grid, observations=[Observation(u, points=x, values=v, name="pixels")], name="disk")
             for v in train]
    col = Collection(cases, codes=CodeConfig(conditioning=conditioning, features=8, mapping_width=32, lr=1e-2),
                     training=TrainConfig(model=ModelConfig(backbone="siren", options=SIREN | {"width": 32}),
                                          optim=OptimConfig(steps=250, lr=2e-3), sampling=SamplingConfig(batch=96)))
    prior = ConditionedSolver(col, QUIET).run()
    seen = rng.choice(len(x), len(x) // 10, replace=False)  # 10 % of the held-out image's pixels
    few = Problem(grid, observations=[Observation(u, points=x[seen], values=held[seen])], name="inpaint")
    _, inpainted = prior.fit_code(few, steps=200, lr=1e-2)
    plain = pr.solve(few, backbone="siren", backbone_options=SIREN | {"width": 32}, steps=300, lr=1e-3,
                     progress=False, reference_solution=None)
    prior_psnr = psnr(inpainted(x)[:, 0], held, data_range=2)
    plain_psnr = psnr(plain(x)[:, 0], held, data_range=2)
    assert prior_psnr > plain_psnr + 5.0, (prior_psnr, plain_psnr)  # measured: 37.7 (film), 40.3 (hyper) vs 20.9 dB


def test_run_directory_has_per_instance_metrics_figure_and_codes_in_the_checkpoint(tmp_path):
    col = pr.problems.get("sdf-shapes", shapes="circle,star", resolution=32)
    assert col.names == ("circle", "star") and col.metrics.resolution == 32
    col = col.replace(metrics=ShapeMetrics(32, samples=2000))
    sol = pr.solve(col, out=tmp_path / "run", steps=4, batch=64, progress=False,
                   backbone_options={"width": 16, "depth": 1, "omega0": 10.0, "omega_hidden": 10.0})
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["instances"]) == {"circle", "star"}
    for m in metrics["instances"].values():
        assert 0.0 <= m["iou"] <= 1.0 and m["chamfer"] >= 0.0
    assert metrics["mean_iou"] == pytest.approx(np.mean([m["iou"] for m in metrics["instances"].values()]))
    assert (run / "instances.png").stat().st_size > 0 and (run / "loss.png").exists()
    saved = torch.load(run / "checkpoint.pt", weights_only=True)
    np.testing.assert_array_equal(saved["model"]["codes.weight"].double().numpy(), sol.codes)
    again = load_conditioned(run / "solution.pt", col)
    p = np.random.default_rng(0).uniform(-1, 1, (50, 2))
    np.testing.assert_array_equal(again[1](p), sol[1](p))


def test_bad_collections_and_options_fail_early_naming_the_culprit():
    grid = image_grid((8, 8))
    other = image_grid((8, 16))
    x = grid.points(dtype=torch.float64).numpy()
    ok = Problem(grid, observations=[Observation(grid.field("u"), points=x, values=x[:, 0], name="pixels")])
    wide = Problem(other, observations=[Observation(other.field("u"), points=other.points().numpy(),
                                                    values=np.zeros(128), name="pixels")])
    with pytest.raises(ValueError, match="another domain"):
        Collection([ok, wide])
    with pytest.raises(ValueError, match="at least one"):
        Collection([])
    with pytest.raises(ValueError, match="unknown conditioning 'hypernet'.*concat, film, hyper"):
        CodeConfig(conditioning="hypernet")
    with pytest.raises(ValueError, match="backbone='siren'"):
        build_conditioned("film", 2, 1, 4, backbone="mlp")
    with pytest.raises(ValueError, match="CodeTable std"):
        CodeTable(2, 3, std=-1.0)
    with pytest.raises(ValueError, match="shapes must name"):
        pr.problems.get("sdf-shapes", shapes=" , ")
    col = Collection([ok, ok])
    with pytest.raises(ValueError, match="use 'gradnorm', 'ntk' or 'none'"):  # names the options that exist
        ConditionedSolver.from_options(col, balance="self-adaptive", steps=1)


def test_a_resumed_run_continues_exactly_with_its_codes(tmp_path):
    col = _circles([0.3, 0.6])

    def solver(**run):
        config = TrainConfig(optim=OptimConfig(steps=6), run=RunConfig(progress=False, **run))
        return ConditionedSolver(col, config)

    straight = solver().run()
    solver(out=tmp_path / "a").run(until=3)
    saved = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 3 and saved["model"]["codes.weight"].shape == (2, 4)
    resumed = solver(out=tmp_path / "a", resume=tmp_path / "a").run()
    np.testing.assert_array_equal(resumed.codes, straight.codes)
    assert not np.allclose(straight.codes, saved["model"]["codes.weight"].double().numpy())


def _poissons(slopes, **model):
    """Δu = a_k on the unit square with u = a_k (x² + y²)/4 on its boundary (exact: that formula)."""
    box = pr.Rectangle(x=(0, 1), y=(0, 1))
    x, y = box.coords
    u = box.field("u")
    cases = [Problem(box, equations=[pr.Eq(pr.lap(u), a)], conditions=[pr.Boundary(pr.Eq(u, a * (x**2 + y**2) / 4))],
                     exact=a * (x**2 + y**2) / 4, name="poisson") for a in slopes]
    return Collection(cases, names=[f"a={a}" for a in slopes], codes=CodeConfig(features=4),
                      training=TrainConfig(model=ModelConfig(backbone="mlp", options={"width": 16, "depth": 2},
                                                             **model),
                                           optim=OptimConfig(steps=60, lr=3e-3), sampling=SamplingConfig(batch=64),
                                           device=pr.training.DeviceConfig(dtype="float64")))


def test_hard_conditions_hold_exactly_for_every_instance_before_and_after_training(tmp_path):
    slopes = [1.0, -2.0, 3.0]
    col = _poissons(slopes, hard=True)
    solver = ConditionedSolver(col, QUIET)
    assert len(solver.terms) == 2 and solver.terms[-1].name == "codes"  # the boundary is in the form of the answer
    s = pr.Rectangle(x=(0, 1), y=(0, 1)).boundary.sample(200, generator=torch.Generator().manual_seed(0),
                                                         dtype=torch.float64).points.numpy()
    exact = [a * (s ** 2).sum(1) / 4 for a in slopes]
    fresh = solver.solution(solver.build())
    trained = solver.run()
    for sol in (fresh, trained):
        for k in range(len(slopes)):
            np.testing.assert_allclose(sol[k](s)[:, 0], exact[k], rtol=0, atol=1e-12)
    trained.save(tmp_path / "solution.pt")
    again = load_conditioned(tmp_path / "solution.pt", col)  # given the soft statement, it imposes them again
    assert again.hard
    np.testing.assert_allclose(again[2](s)[:, 0], exact[2], rtol=0, atol=1e-12)
    _, fitted = trained.fit_code(_poissons([0.5]).cases[0], steps=5)  # a new instance's conditions too
    np.testing.assert_allclose(fitted(s)[:, 0], 0.5 * (s ** 2).sum(1) / 4, rtol=0, atol=1e-12)
    soft = ConditionedSolver(_poissons(slopes, hard=False), QUIET)
    assert [t.name for t in soft.terms][-1] == "codes" and len(soft.terms) == 3


def test_a_collection_run_writes_fields_reruns_and_resumes_from_its_record(tmp_path):
    from typer.testing import CliRunner

    from pinr.cli import app

    cli = CliRunner()
    run, again = tmp_path / "run", tmp_path / "again"
    r = cli.invoke(app, ["--quiet", "solve", "sdf-shapes", "--set", "shapes=circle,star", "--set", "resolution=24",
                         "--steps", "3", "--batch", "32", "--option", "width=16", "--option", "depth=1",
                         "--train", "code_features=3", "--out", str(run), "--no-progress"])
    assert r.exit_code == 0, r.output
    fields = np.load(run / "fields.npz")
    sol = load_conditioned(run / "solution.pt", pr.problems.get("sdf-shapes", shapes="circle,star", resolution=24))
    assert list(fields["instances"]) == ["circle", "star"] and fields["prediction"].shape[0] == 2
    grid = np.stack(np.meshgrid(fields["coords_x"], fields["coords_y"], indexing="ij"), -1).reshape(-1, 2)
    np.testing.assert_allclose(fields["prediction"][1].reshape(-1), sol[1](grid)[:, 0], rtol=1e-6, atol=1e-7)
    assert sol.codes.shape == (2, 3)  # the code option reached the run

    r = cli.invoke(app, ["--quiet", "rerun", str(run), "--out", str(again), "--no-progress"])
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(np.load(again / "fields.npz")["prediction"], fields["prediction"])

    col = pr.problems.get("sdf-shapes", shapes="circle,star", resolution=24)
    with pytest.raises(ValueError, match="lr=0.5 conflicts with the run's record"):
        pr.solve(col, resume=run, lr=0.5, progress=False)
    with pytest.raises(ValueError, match="not of the collection"):
        pr.solve(pr.problems.get("sdf-shapes", shapes="circle,ring", resolution=24), resume=run, progress=False)
    pr.solve(col, resume=run, steps=5, progress=False)  # more steps: the schedule is re-planned from step 3
    assert json.loads((run / "metrics.json").read_text())["steps"] == 5
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 5


def test_occupancy_shapes_learns_every_inside_with_one_network(tmp_path):
    col = pr.problems.get("occupancy-shapes", shapes="circle,star", resolution=48)
    assert col.names == ("circle", "star") and col.codes.conditioning == "concat"
    sol = pr.solve(col, out=tmp_path / "run", steps=200, progress=False)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())["instances"]
    for k, name in enumerate(col.names):
        shape = col.cases[k].outputs.shape
        inside = geo.evaluate_grid(sol[k], 48, 2) > 0  # the recorded IoU, computed again by hand
        truth = shape.occupancy(48)
        assert metrics[name]["iou"] == pytest.approx((inside & truth).sum() / (inside | truth).sum(), abs=1e-12)
        assert metrics[name]["iou"] > 0.85, metrics  # measured: 0.985 (circle), 0.924 (star) at 200 steps
