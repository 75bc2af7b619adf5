"""`pinr bench radiance --quick`: every run of a comparison trains and is scored on held-out views,
and the table lands where asked; an unknown comparison is one line."""

import math

from typer.testing import CliRunner

from pinr.cli import app


def test_radiance_bench_quick_writes_the_table(tmp_path):
    out = tmp_path / "radiance.md"
    r = CliRunner().invoke(app, ["bench", "radiance", "--quick", "--comparison", "multiplane", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = [line for line in out.read_text().splitlines() if line.startswith("| multiplane")]
    assert [row.split("|")[3].strip() for row in rows] == ["nex", "nerf"]
    for row in rows:
        assert math.isfinite(float(row.split("|")[6]))  # held-out PSNR


def test_unknown_comparison_is_one_line():
    r = CliRunner().invoke(app, ["bench", "radiance", "--quick", "--comparison", "lego"])
    assert r.exit_code == 2 and "unknown radiance comparison ['lego']" in r.output
