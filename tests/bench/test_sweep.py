"""``pinr bench sweep``: both modes run on the bench's Poisson case with the step the vmapped
engine stacks (Adam, whatever the defaults would choose for small SIRENs), and the table reports
each mode for all models and per model."""

from __future__ import annotations

from typer.testing import CliRunner

from pinr.bench import sweep
from pinr.cli import app


def test_every_model_trains_with_adam():
    solvers = sweep._solvers(2, width=8, depth=2, points=16, steps=1, device="cpu", dtype="float32")
    assert [s.config.optim.optimizer for s in solvers] == ["adam", "adam"]


def test_the_table_has_both_modes():
    r = CliRunner().invoke(
        app,
        [
            "bench",
            "sweep",
            "--models",
            "2",
            "--width",
            "8",
            "--points",
            "32",
            "--steps",
            "1",
            "--warmup",
            "0",
            "--device",
            "cpu",
        ],
    )
    assert r.exit_code == 0, r.output
    rows = {line.split("|")[1].strip(): line for line in r.output.splitlines() if line.startswith("| ")}
    assert {"sequential", "vmapped"} <= set(rows) and "| 1.00× |" in rows["sequential"]
    for mode in ("sequential", "vmapped"):
        all_models, per_model = (float(v) for v in rows[mode].split("|")[2:4])
        assert all_models > 0 and abs(per_model - all_models / 2) <= 0.031  # printed to 0.1 and 0.01 ms
