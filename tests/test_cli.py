"""CLI smoke tests through typer's runner."""

import json

import pytest
from typer.testing import CliRunner

from pinr.backbones import available_backbones, backbone_training
from pinr.cli import app

runner = CliRunner()


def test_version():
    import pinr

    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output == f"pinr {pinr.__version__}\n"


def test_list():
    r = runner.invoke(app, ["list", "problems"])
    assert r.exit_code == 0 and "poisson-image" in r.output and "image" in r.output
    r = runner.invoke(app, ["list", "backbones"])
    assert r.exit_code == 0 and "siren" in r.output and "omega0" in r.output
    lines = {line.split()[0]: line for line in r.output.splitlines()}
    assert sorted(lines) == available_backbones() and len(lines) == len(r.output.splitlines())  # one line each
    for name, line in lines.items():
        assert " lr=" in line and f"({backbone_training(name).source})" in line, line
    assert " lr=1e-4 (SIREN paper) " in lines["siren"] and " lr=5e-4 " in lines["finer"]


def test_solve_writes_run_and_prints_metrics(tmp_path):
    out = tmp_path / "run"
    args = ["solve", "poisson-image", "--set", "size=16", "--steps", "3", "--out", str(out), "--no-progress",
            "--option", "width=16", "--option", "depth=1"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert f"outputs: {out}" in r.output and "psnr" in r.output
    assert "chosen: backbone from problem 'poisson-image'; lr from problem 'poisson-image'" in r.output
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
    r = runner.invoke(app, ["solve", "poisson-image", "--set", "size=16", "--solver", "fd",
                            "--out", str(tmp_path / "fd")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "fd" / "metrics.json").read_text())["solver"] == "fd"


def test_bad_input_exits_with_message(tmp_path):
    r = runner.invoke(app, ["solve", "no-such-problem"])
    assert r.exit_code == 2 and "available problems" in r.output
    r = runner.invoke(app, ["solve", "poisson-image", "--set", "colour=red"])
    assert r.exit_code == 2 and "colour" in r.output and "size" in r.output
    r = runner.invoke(app, ["solve", "poisson-image", "--set", "size16"])
    assert r.exit_code != 0 and "key=value" in r.output
    r = runner.invoke(app, ["solve", "poisson-image", "--set", "size=8", "--backbone", "nope",
                            "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "available backbones" in r.output


def test_validate_prints_a_table_and_writes_json_and_markdown(tmp_path):
    js = tmp_path / "v.json"
    args = ["validate", "helmholtz", "--steps", "2", "--set", "k=6", "--set", "variance=4e-3", "--option", "width=16",
            "--option", "depth=1", "--json", str(js), "--no-progress", "--device", "cpu"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    lines = [line for line in r.output.splitlines() if not line.startswith("WARNING")]  # the verdict's own line
    assert lines[0].split()[:4] == ["problem", "backbone", "steps", "seconds"]
    (rec,) = json.loads(js.read_text())
    assert rec["problem"] == "helmholtz" and rec["steps"] == 2 and rec["rel_l2"] > 0
    assert js.with_suffix(".md").read_text().startswith("| problem |")
    r = runner.invoke(app, ["validate", "no-such-problem", "--json", str(tmp_path / "x.json")])
    assert r.exit_code == 2 and "available problems" in r.output and not (tmp_path / "x.json").exists()


def test_solve_helmholtz_and_wave_write_their_own_metrics_and_plots(tmp_path):
    """The problems' metric and plot hooks reach the run directory: Helmholtz's complex
    inner-box error and real/imaginary/modulus figure; the wave's per-time error, snapshots and GIF."""
    small = ["--option", "width=16", "--option", "depth=1", "--steps", "2", "--no-progress", "--device", "cpu"]
    r = runner.invoke(app, ["solve", "helmholtz", "--set", "k=6", "--out", str(tmp_path / "h"), *small])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "h" / "metrics.json").read_text())
    assert m["metric"].startswith("complex") and m["rel_l2"] > 0 and "rel_l2_domain" in m
    assert (tmp_path / "h" / "helmholtz.png").stat().st_size > 0
    r = runner.invoke(app, ["solve", "wave", "--set", "fd_resolution=32", "--out", str(tmp_path / "w"), *small])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "w" / "metrics.json").read_text())
    assert len(m["rel_l2_per_time"]) == len(m["times"]) == 41 and m["times"][-1] == pytest.approx(0.4)
    assert {"wave_snapshots.png", "wave.gif", "fields.png"} <= {f.name for f in (tmp_path / "w").iterdir()}


def test_bench_quality_images_runs_the_image_benchmark_and_appends_a_table(tmp_path):
    md = tmp_path / "results.md"
    r = runner.invoke(app, ["bench", "quality", "--quick", "--backbone", "gauss", "--protocol", "full",
                            "--steps", "2", "--size", "8", "--device", "cpu", "--write", str(md)])
    assert r.exit_code == 0, r.output
    text = md.read_text()
    assert "## Image-fitting quality" in text and "| astronaut | full | gauss |" in text
    assert "2 steps, 8² images" in text
    r = runner.invoke(app, ["bench", "quality", "--help"])  # a real subcommand: its options are in --help
    assert r.exit_code == 0 and all(o in r.output for o in ("--quick", "--protocol", "--write", "--lr"))
    r = runner.invoke(app, ["bench", "--quick"])
    assert r.exit_code == 2 and "--quick" in r.output


def test_train_passes_solver_options_and_rejects_unknown_ones(tmp_path):
    out = tmp_path / "run"
    args = ["solve", "poisson-image", "--set", "size=8", "--steps", "2", "--out", str(out), "--no-progress",
            "--option", "width=8", "--option", "depth=1", "--train", "lbfgs_steps=1", "--train", "output_scale=0.5"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert json.loads((out / "config.json").read_text())["lbfgs_steps"] == 1
    r = runner.invoke(app, ["solve", "poisson-image", "--train", "nonsense=1", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "nonsense" in r.output and "time_window" in r.output
    assert not (tmp_path / "x").exists()
    r = runner.invoke(app, ["solve", "poisson-image", "--train", "steps=3", "--out", str(tmp_path / "y")])
    assert r.exit_code == 2 and "own flags" in r.output


def test_resume_reads_the_run_record_and_refuses_conflicting_flags(tmp_path):
    out = tmp_path / "run"
    first = ["solve", "poisson-image", "--set", "size=8", "--steps", "4", "--option", "width=8", "--option",
             "depth=1", "--seed", "2", "--out", str(out), "--no-progress"]
    assert runner.invoke(app, first).exit_code == 0
    record = json.loads((out / "config.json").read_text())
    # no flags at all: the problem, its parameters, the backbone and its options, the seed come from the record
    r = runner.invoke(app, ["solve", "--resume", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    again = json.loads((out / "config.json").read_text())
    for key in ("problem", "backbone", "backbone_options", "seed", "steps", "lr"):
        assert again[key] == record[key], key
    assert again["chosen_by"] == record["chosen_by"]
    for problem, flags, culprit in (([], ["--seed", "5"], "seed=5"), ([], ["--backbone", "ff"], "backbone='ff'"),
                                    ([], ["--set", "size=16"], "--set size"), (["image"], [], "not 'image'"),
                                    ([], ["--steps", "2"], "leaves nothing to train")):
        r = runner.invoke(app, ["solve", *problem, "--resume", str(out), "--no-progress", *flags])
        assert r.exit_code == 2 and culprit in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_rerun_repeats_a_run_from_its_record(tmp_path):
    out = tmp_path / "run"
    args = ["solve", "poisson-image", "--set", "size=8", "--steps", "3", "--option", "width=8", "--option", "depth=1",
            "--out", str(out), "--no-progress"]
    assert runner.invoke(app, args).exit_code == 0
    r = runner.invoke(app, ["rerun", str(out), "--out", str(tmp_path / "again"), "--no-progress"])
    assert r.exit_code == 0, r.output
    a = json.loads((out / "metrics.json").read_text())
    b = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert a["psnr"] == b["psnr"] and a["final_loss"] == b["final_loss"]  # same seed, same options: the same run
    r = runner.invoke(app, ["rerun", str(tmp_path / "nowhere")])
    assert r.exit_code == 2 and "no config.json" in r.output


def test_ctrl_c_stops_at_a_step_writes_the_checkpoint_and_prints_the_resume_command(tmp_path, monkeypatch):
    import os
    import signal

    import torch

    from pinr.solvers import PINNSolver
    from pinr.training import AbstractCallback

    class CtrlC(AbstractCallback):
        def on_step_end(self, loop, out):
            if loop.state.step == 2:
                os.kill(os.getpid(), signal.SIGINT)  # what the terminal sends

    original = PINNSolver.callbacks
    monkeypatch.setattr(PINNSolver, "callbacks", lambda self, state: original(self, state) + [CtrlC()])
    out = tmp_path / "run"
    r = runner.invoke(app, ["solve", "poisson-image", "--set", "size=8", "--steps", "6", "--option", "width=8",
                            "--option", "depth=1", "--out", str(out), "--no-progress"])
    assert r.exit_code == 130, r.output
    assert "stopped at step 2 of 6" in r.output and f"pinr solve --resume {out}" in r.output
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 2
    monkeypatch.setattr(PINNSolver, "callbacks", original)
    r = runner.invoke(app, ["solve", "--resume", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["steps"] == 6


def test_errors_are_one_line_unless_debug(tmp_path):
    (tmp_path / "file").write_text("x")
    for args in (["solve", "poisson-image", "--device", "tpu"],
                 ["solve", "poisson-image", "--set", "size=8", "--steps", "1", "--out", str(tmp_path / "file" / "run")],
                 ["solve", "poisson-image", "--option", "width=abc", "--out", str(tmp_path / "w")]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and r.output.startswith("error:"), r.output
    r = runner.invoke(app, ["--debug", "solve", "poisson-image", "--device", "tpu"])
    assert isinstance(r.exception, ValueError) and "tpu" in str(r.exception)


def test_a_diverging_run_exits_non_zero_and_keeps_only_finite_checkpoints(tmp_path):
    import torch

    out = tmp_path / "run"
    r = runner.invoke(app, ["solve", "poisson-image", "--set", "size=8", "--steps", "6", "--lr", "1e6", "--option",
                            "width=8", "--option", "depth=1", "--train", "checkpoint_every=1", "--out", str(out),
                            "--no-progress"])
    assert r.exit_code == 3 and "diverged" in r.output, r.output
    if (out / "checkpoint.pt").exists():
        state = torch.load(out / "checkpoint.pt", weights_only=True)
        assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert not (out / "solution.pt").exists() and not (out / "metrics.json").exists()
    r = runner.invoke(app, ["solve", "poisson-image", "--steps", "1", "--lr", "inf", "--out", str(tmp_path / "inf")])
    assert r.exit_code == 2 and "lr must be a positive finite number" in r.output
    assert not (tmp_path / "inf").exists()


def test_a_truncated_checkpoint_is_a_one_line_error(tmp_path):
    out = tmp_path / "run"
    args = ["solve", "poisson-image", "--set", "size=8", "--steps", "2", "--option", "width=8", "--option", "depth=1",
            "--out", str(out), "--no-progress"]
    assert runner.invoke(app, args).exit_code == 0
    data = (out / "checkpoint.pt").read_bytes()
    (out / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    r = runner.invoke(app, ["solve", "--resume", str(out), "--steps", "4", "--no-progress"])
    assert r.exit_code == 2 and "not a readable pinr checkpoint" in r.output and str(out) in r.output
    assert len(r.output.strip().splitlines()) == 1, r.output


def _records(tmp_path):
    """Run directories whose config.json is damaged or holds a bad option."""
    runs = {"list": [1], "problem-string": {"problem": "image"},
            "options-string": {"problem": {"name": "poisson-image", "params": {"size": 8}}, "solver": "pinn",
                               "steps": 2, "backbone_options": "notadict"}}
    for name, record in runs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(record))
    return tmp_path


@pytest.mark.parametrize("args, message", [
    (["solve", "image", "--set", "size=100000"], "image: size=100000 (10,000,000,000 pixels) needs about"),
    (["solve", "poisson-image", "--set", "size=8", "--steps", "2", "--option", "width=1000000"],
     "the siren network with options {'width': 1000000} (3,000,007,000,001 weights) needs about"),
    (["solve", "--resume", "{runs}/list"], "holds a JSON list, not a run's record"),
    (["rerun", "{runs}/list"], "holds a JSON list, not a run's record"),
    (["solve", "--resume", "{runs}/problem-string"], "\"problem\" is 'image', not an object"),
    (["rerun", "{runs}/problem-string"], "\"problem\" is 'image', not an object"),
    (["rerun", "{runs}/options-string"], "backbone_options must be a dict of option name -> value"),
])
def test_bad_sizes_and_records_are_one_line_before_allocating(tmp_path, monkeypatch, args, message):
    """Each probe of issue 28 (item 8) ends in one line naming the culprit and the fix, exit 2,
    refused before anything large is allocated (4 GiB free, as on a small machine)."""
    from pinr import memory

    monkeypatch.setattr(memory, "available_memory", lambda device: 4 << 30)
    runs = _records(tmp_path)
    args = [a.format(runs=runs) for a in args] + (["--out", str(tmp_path / "out")] if args[0] == "solve"
                                                  and "--resume" not in args else [])
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.output
    assert "Traceback" not in r.output
    if "needs about" in message:
        assert "more than the 4.0 GiB free" in lines[0] and "smaller" in lines[0]
    assert not (tmp_path / "out").exists()


def test_an_allocation_failure_while_building_the_network_is_one_line(tmp_path, monkeypatch):
    """A CPU allocator's RuntimeError (simulated: nothing is allocated) while the backbone is
    built becomes pinr's OutOfMemory line naming the network and the option to change."""
    import pinr.solvers.pinn as pinn
    from pinr import memory

    def refuse(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 4000000000000 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(memory, "check_fits", lambda *args, **kwargs: None)
    monkeypatch.setattr(pinn, "build_backbone", refuse)
    r = runner.invoke(app, ["solve", "poisson-image", "--set", "size=8", "--steps", "2", "--option", "width=1000",
                            "--out", str(tmp_path / "out")])
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "out of memory allocating the siren network with options {'width': 1000}" in lines[0]
    assert "(3725.29 GiB)" in lines[0] and "--option width=" in lines[0], r.output


def test_backbone_options_must_be_a_mapping():
    import pinr as pr
    from pinr.problems import get

    with pytest.raises(TypeError, match="backbone_options must be a dict .* got str 'notadict'"):
        pr.solve(get("poisson-image", size=8), steps=2, backbone_options="notadict")
