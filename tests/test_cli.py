"""CLI smoke tests through typer's runner."""

import json

from typer.testing import CliRunner

from pinr.cli import app

runner = CliRunner()


def test_list():
    r = runner.invoke(app, ["list", "problems"])
    assert r.exit_code == 0 and "poisson-image" in r.output and "image" in r.output
    r = runner.invoke(app, ["list", "backbones"])
    assert r.exit_code == 0 and "siren" in r.output and "omega0" in r.output


def test_solve_writes_run_and_prints_metrics(tmp_path):
    out = tmp_path / "run"
    args = ["solve", "poisson-image", "--set", "size=16", "--steps", "3", "--out", str(out), "--no-progress",
            "--option", "width=16", "--option", "depth=1"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert f"outputs: {out}" in r.output and "psnr" in r.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 3
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["backbone_options"] == {"width": 16, "depth": 1}
    # resume to more steps in the same directory
    r = runner.invoke(app, ["solve", "poisson-image", "--set", "size=16", "--steps", "5", "--resume", str(out),
                            "--no-progress", "--option", "width=16", "--option", "depth=1"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["steps"] == 5


def test_fd_solver_from_cli(tmp_path):
    r = runner.invoke(app, ["solve", "poisson-image", "--set", "size=16", "--solver", "fd", "--out", str(tmp_path / "fd")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "fd" / "metrics.json").read_text())["solver"] == "fd"


def test_bad_input_exits_with_message(tmp_path):
    r = runner.invoke(app, ["solve", "no-such-problem"])
    assert r.exit_code == 2 and "available problems" in r.output
    r = runner.invoke(app, ["solve", "poisson-image", "--set", "colour=red"])
    assert r.exit_code == 2 and "colour" in r.output and "size" in r.output
    r = runner.invoke(app, ["solve", "poisson-image", "--set", "size16"])
    assert r.exit_code != 0 and "key=value" in r.output
    r = runner.invoke(app, ["solve", "poisson-image", "--set", "size=8", "--backbone", "nope", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "available backbones" in r.output
