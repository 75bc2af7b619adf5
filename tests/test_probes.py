"""Issue 28's probes, as a careless or hostile user would run them, one row each: the command,
the exit code, what the one line says, and what the run directory must hold afterwards.

Rows that need two processes at once (two runs on one directory, two resumes) and a truncated
checkpoint are in ``tests/test_rundir_lock.py``; the damaged records and oversized networks of
item 8 are the table in ``tests/test_cli.py::test_bad_sizes_and_records_are_one_line_before_allocating``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

import pinr as pr
from pinr.cli import app

runner = CliRunner()

#: a two-step Adam run: the probes are about what happens around training, not its result
QUICK = """[training]
steps = 2
optimizer = "adam"
batch = 32
"""

HEAT = """domain = "Interval(x=(0, 1)) * TimeInterval(0, 0.1)"
equations = ["D(u, t) = D(u, x, x) / 2"]
exact = "exp(-2*pi**2*t)*sin(2*pi*x)"
[[conditions]]
equation = "u = sin(2*pi*x)"
on = "initial"
[[conditions]]
equation = "u = 0"
on = "boundary"
""" + QUICK

SOURCE = """domain = "Interval(x=(0, 1))"
equations = ["-D(u, x, x) = sin(pi**2*x)"]
[[conditions]]
equation = "u = 0"
on = "boundary"
""" + QUICK

ORDER_EIGHT = """domain = "Rectangle(x=(0, 1), y=(0, 1))"
equations = ["lap(lap(lap(lap(u)))) = 1"]
[[conditions]]
equation = "u = 0"
on = "boundary"
"""


def _flat_png(tmp_path):
    from PIL import Image

    path = tmp_path / "flat.png"
    Image.fromarray(np.full((8, 8), 128, dtype=np.uint8)).save(path)
    return path


#: (issue item, arguments, exit code, text in the output, files the run directory holds after)
PROBES = [
    pytest.param(1, ["solve", "{dir}/heat.toml"], 0, "rel_l2", ["metrics.json", "fields.png"], id="pi-squared-exact"),
    pytest.param(1, ["solve", "{dir}/source.toml"], 0, "verdict", ["metrics.json"], id="pi-squared-source"),
    pytest.param(4, ["solve", "{dir}/order8.toml"], 2, "order", None, id="eight-derivatives"),
    pytest.param(5, ["sweep", "image", "--over", "seed=0..100000000"], 2, "100,000,001 models", None,
                 id="sweep-of-1e8"),
    pytest.param(6, ["solve", "image", "--set", "image={dir}/flat.png", "--set", "size=8", "--steps", "2"], 0,
                 "psnr", ["metrics.json"], id="flat-image"),
    pytest.param(7, ["solve", "eikonal-sdf", "--set", "resolution=100000"], 2, "use --set resolution=", None,
                 id="sdf-lattice-too-large"),
    pytest.param(7, ["solve", "occupancy", "--set", "resolution=1"], 2, "resolution must be an integer of at least 2",
                 None, id="occupancy-lattice-too-small"),
]


@pytest.mark.parametrize("item, args, code, text, files", PROBES)
def test_probe(tmp_path, item, args, code, text, files):
    (tmp_path / "heat.toml").write_text(HEAT)
    (tmp_path / "source.toml").write_text(SOURCE)
    (tmp_path / "order8.toml").write_text(ORDER_EIGHT)
    _flat_png(tmp_path)
    out = tmp_path / "run"
    quiet = ["--no-progress"] if args[0] == "solve" else []
    args = [a.format(dir=tmp_path) for a in args] + ["--out", str(out)] + quiet
    r = runner.invoke(app, args)
    assert r.exit_code == code, (item, r.output)
    assert "Traceback" not in r.output and text in r.output, r.output
    if code != 0:
        lines = [line for line in r.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), r.output
        assert not out.exists()  # refused before anything is written
        return
    for name in files:
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert metrics["steps"] == config["steps"]  # the record and the metrics describe the same run
    if item == 6:
        assert metrics["psnr"] is None and metrics["ssim"] is None
    else:
        assert math.isfinite(metrics.get("rel_l2", metrics["final_loss"]))


def test_outputs_evaluate_the_network_on_the_grid_once(tmp_path, monkeypatch):
    """Item 9: a large image's outputs cost one pass of the network over its grid (it was three:
    the final validation, the metrics and the files), and one pass of the reference."""
    from pinr.problems import get
    from pinr.solution import ExactSolution, NeuralSolution

    points = {"NeuralSolution": 0, "ExactSolution": 0}
    for kind in (NeuralSolution, ExactSolution):
        def counted(self, p, _original=kind._values, _name=kind.__name__):
            points[_name] += len(p)
            return _original(self, p)

        monkeypatch.setattr(kind, "_values", counted)
    pr.solve(get("image", size=16), steps=1, backbone_options=dict(width=8, depth=1), progress=False,
             out=tmp_path / "run")
    assert (tmp_path / "run" / "metrics.json").is_file()
    assert points == {"NeuralSolution": 16 * 16, "ExactSolution": 16 * 16}, points


def test_ctrl_c_while_pinr_loads_is_one_line(monkeypatch, capsys):
    """Item 8: the console command's launcher answers a Ctrl-C during the imports (torch's take
    seconds) with one line and exit 130; ``--debug`` keeps the traceback."""
    import builtins
    import sys

    import pinr_command

    real = builtins.__import__

    def interrupted(name, *args, **kwargs):
        if name == "pinr.cli":
            raise KeyboardInterrupt
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    monkeypatch.setattr(sys, "argv", ["pinr", "solve", "poisson-image"])
    assert pinr_command.main() == 130
    assert capsys.readouterr().err == "interrupted while pinr was starting; nothing was written\n"
    monkeypatch.setattr(sys, "argv", ["pinr", "--debug", "solve", "poisson-image"])
    with pytest.raises(KeyboardInterrupt):
        pinr_command.main()
