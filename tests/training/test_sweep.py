"""Many models in one step: every swept model equals the same model trained alone with
``pr.solve`` (float64, same seed, options and batches), per-model Adam equals torch's Adam per
model, models of another structure train in groups or one by one with the same results, and
``pinr sweep`` writes its table and run directories and refuses a bad ``--over`` in one line."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

import pinr as pr
from pinr import Eq, lap, pi, sin
from pinr.cli import app
from pinr.sweep import parse_over, parse_over_text
from pinr.training.ensemble import StackedAdam
from pinr.training.loop import AbstractCallback

SMALL = dict(width=12, depth=2, omega0=3.0, omega_hidden=3.0)
COMMON = dict(backbone="siren", steps=4, batch=24, dtype="float64", progress=False, lbfgs_steps=2)


def poisson_2d():
    d = pr.Rectangle(x=(0, 1), y=(0, 1))
    x, y = d.coords
    u = d.field("u")
    return pr.Problem(d, [Eq(lap(u), -2 * pi**2 * sin(pi * x) * sin(pi * y))], [pr.Boundary(Eq(u, 0))],
                      exact=sin(pi * x) * sin(pi * y), name="poisson-2d")


class FinalLoss(AbstractCallback):
    def on_train_end(self, loop):
        self.loss = loop.state.history["loss"][-1]


def alone(problem, combo, final=None, **options):
    """The model of ``combo`` trained by itself with pr.solve (``final``: a FinalLoss to fill)."""
    opts = {**COMMON, **options}
    backbone = dict(opts.pop("backbone_options", SMALL))
    for k, v in combo.items():
        if k in ("seed", "lr"):
            opts[k] = v
        else:
            backbone[k] = v
    return pr.solve(problem, reference_solution=None, backbone_options=backbone, callbacks=[final] if final else (),
                    **opts)


def assert_same_model(a, b):
    sa, sb = a.network.state_dict(), b.network.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=1e-10, atol=1e-12, msg=k)


@pytest.mark.parametrize("over, engine", [
    ({"seed": [0, 1], "lr": [1e-3, 4e-3]}, "jet"),  # own batches per seed; balancing and L-BFGS per model
    ({"lr": [1e-3, 2e-3, 5e-3]}, "autograd"),        # one shared batch; autograd becomes func under vmap
])
def test_each_swept_model_equals_its_lone_run(over, engine):
    p = poisson_2d()
    result = pr.sweep(p, over=over, reference_solution=None, backbone_options=SMALL, engine=engine, **COMMON)
    assert result.vmapped and result.notice is None and len(result) == len(result.rows)
    for combo, sol, row in zip(result.combos, result.solutions, result.rows):
        final = FinalLoss()
        assert_same_model(sol, alone(p, combo, final, engine=engine))
        assert row["final_loss"] == pytest.approx(final.loss, rel=1e-10)
    x = torch.rand(16, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    values = [s(x) for s in result.solutions]
    assert not torch.allclose(values[0], values[1])  # the models did differ


def test_progressive_backbone_schedule_under_vmap_equals_lone_runs():
    p = poisson_2d()
    pins = dict(levels=3, m=8, width=12, depth=2, activation="tanh", progressive=True)
    opts = {**COMMON, "backbone": "pins", "steps": 6, "lbfgs_steps": 0}
    result = pr.sweep(p, over={"seed": [0, 1]}, reference_solution=None, backbone_options=pins, **opts)
    assert result.vmapped
    for combo, sol in zip(result.combos, result.solutions):
        assert_same_model(sol, alone(p, combo, **{**opts, "backbone_options": pins}))


def test_stacked_adam_with_per_model_lr_is_each_models_own_adam():
    g = torch.Generator().manual_seed(3)
    lrs = torch.tensor([1e-3, 3e-2, 0.5], dtype=torch.float64)
    stacked = torch.randn(3, 5, 4, dtype=torch.float64, generator=g).requires_grad_(True)
    own = [stacked[m].detach().clone().requires_grad_(True) for m in range(3)]
    adam = StackedAdam({"w": stacked})
    adams = [torch.optim.Adam([w], lr=float(lr)) for w, lr in zip(own, lrs)]
    for _ in range(7):
        grads = torch.randn(3, 5, 4, dtype=torch.float64, generator=g)
        stacked.grad = grads.clone()
        adam.step({"w": lrs})
        for m in range(3):
            own[m].grad = grads[m].clone()
            adams[m].step()
    for m in range(3):
        torch.testing.assert_close(stacked[m], own[m], rtol=1e-13, atol=1e-15)
        torch.testing.assert_close(adam.exp_avg_sq["w"][m], adams[m].state[own[m]]["exp_avg_sq"], rtol=1e-13,
                                   atol=0)


def test_other_structures_train_in_groups_or_alone_with_the_same_results():
    p = poisson_2d()
    over = {"width": [8, 12], "seed": [0, 1]}  # widths differ in shape: two groups of two seeds
    result = pr.sweep(p, over=over, reference_solution=None, backbone_options={"depth": 2, "omega0": 3.0}, **COMMON)
    assert "2 groups of sizes [2, 2]" in result.notice
    for combo, sol in zip(result.combos, result.solutions):
        assert_same_model(sol, alone(p, combo, backbone_options={"depth": 2, "omega0": 3.0}))
    result = pr.sweep(p, over={"omega0": [2.0, 4.0]}, reference_solution=None,  # groups of one: the plain loop
                      backbone_options={"width": 8, "depth": 2}, **COMMON)
    assert not result.vmapped and "2 groups of sizes [1, 1]" in result.notice
    for combo, sol in zip(result.combos, result.solutions):
        assert_same_model(sol, alone(p, combo, backbone_options={"width": 8, "depth": 2}))


@pytest.mark.parametrize("over, match", [
    ({}, "non-empty dict"),
    ({"seed": []}, r"over\['seed'\] is empty"),
    ({"seed": [0, 0]}, "repeats a value"),
    ({"lr": [0.0]}, "finite positive"),
    ({"seed": "012"}, "must be a list"),
])
def test_parse_over_refuses_bad_values(over, match):
    with pytest.raises((ValueError, TypeError), match=match):
        parse_over(over)


def test_parse_over_text():
    assert parse_over_text(["omega0=10,20,30", "seed=0..3", "lr=1e-3"]) == {
        "omega0": [10, 20, 30], "seed": [0, 1, 2, 3], "lr": [1e-3]}
    for bad, match in [("seed=3..1", "is empty"), ("seed=a..b", "integers"), ("seed=", "an empty value"),
                       ("omega0", "KEY=V1"), ("seed=0,,1", "an empty value")]:
        with pytest.raises(ValueError, match=match):
            parse_over_text([bad])


def test_unknown_key_names_the_sweepable_ones():
    with pytest.raises(ValueError, match=r"unknown key 'omega' for backbone 'siren'; sweepable keys are .*'omega0'"):
        pr.sweep(poisson_2d(), over={"omega": [1.0]}, reference_solution=None, **COMMON)


runner = CliRunner()


def test_cli_sweep_writes_table_and_run_directories(tmp_path):
    out = tmp_path / "sw"
    r = runner.invoke(app, ["sweep", "poisson-image", "--set", "size=12", "--over", "seed=0..1", "--steps", "3",
                            "--batch", "32", "--option", "width=8", "--option", "depth=1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    header = next(line for line in r.output.splitlines() if line.split()[:1] == ["seed"])
    assert "final_loss" in header and "psnr" in header
    record = json.loads((out / "sweep.json").read_text())
    assert record["vmapped"] and [run["dir"] for run in record["runs"]] == ["seed=0", "seed=1"]
    assert (out / "sweep.csv").read_text().splitlines()[0].startswith("seed,final_loss")
    assert (out / "sweep.png").stat().st_size > 0
    for run in record["runs"]:
        d = out / run["dir"]
        cfg = json.loads((d / "config.json").read_text())
        assert cfg["seed"] == run["seed"]
        sol = pr.load(d / "solution.pt")
        assert sol.metadata["steps"] == 3
        assert json.loads((d / "metrics.json").read_text())["psnr"] == pytest.approx(run["psnr"])
        saved = torch.load(d / "checkpoint.pt", weights_only=True)
        assert saved["step"] == 3 and saved["optimizer"]["state"]


@pytest.mark.parametrize("flag, message", [
    ("nope=1,2", "unknown key 'nope'"),
    ("seed=", "an empty value"),
    ("seed=5..2", "the range 5..2 is empty"),
    ("seed=x..2", "integers"),
])
def test_cli_bad_over_is_one_line_exit_2(tmp_path, flag, message):
    r = runner.invoke(app, ["sweep", "poisson-image", "--set", "size=12", "--over", flag, "--steps", "1",
                            "--out", str(tmp_path / "sw")])
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.output


@pytest.mark.parametrize("flags, message", [
    (["seed=0..100000000"], "--over seed=0..100000000 makes 100,000,001 models"),
    (["omega0=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "seed=0..99"],
     "--over seed=0..99 with the flags before it makes 1,700 models"),
])
def test_cli_sweep_size_is_bounded_before_anything_is_built(tmp_path, flags, message):
    """A huge range is refused from its two ends (no list of 10^8 seeds, no models), at once."""
    args = ["sweep", "image"] + [a for f in flags for a in ("--over", f)] + ["--out", str(tmp_path / "sw")]
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "at most 1,024" in lines[0], r.output
    assert not (tmp_path / "sw").exists()


def test_parse_over_bounds_the_number_of_models_without_listing_a_range():
    with pytest.raises(ValueError, match=r"over\['seed'\] \(10,000,000,000 values\) makes 10,000,000,000 models"):
        parse_over({"seed": range(10**10)})  # listing it would take hundreds of gigabytes
    with pytest.raises(ValueError, match="with the keys before it makes 2,048 models"):
        parse_over({"omega0": [1.0, 2.0], "seed": range(1024)})
    assert len(parse_over({"seed": range(1024)})["seed"]) == 1024


def test_a_backbone_with_its_own_adam_parts_trains_each_model_as_pr_solve_does(tmp_path):
    """hashgrid's tables train with the paper's Adam (ε 1e-15, β₂ 0.99), which the stacked Adam
    does not carry: a sweep says so and trains each model by the ordinary loop, so each equals
    pr.solve with the same options."""
    from pinr.problems import get

    case = get("image", size=16)
    options = dict(levels=2, log2_table=8, base_resolution=4, max_resolution=16, width=8, depth=1)
    result = pr.sweep(case, over={"seed": [0, 1]}, steps=3, backbone_options=options, progress=False)
    assert not result.vmapped and "own Adam settings" in result.notice
    alone = pr.solve(case, steps=3, seed=1, backbone_options=options, progress=False)
    for a, b in zip(result.solutions[1].network.parameters(), alone.network.parameters()):
        assert torch.equal(a, b)
