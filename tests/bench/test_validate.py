"""``pinr validate``'s engine: problems × backbones against their references, JSON and markdown."""

import json

import pytest

from pinr.bench.validate import format_markdown, format_table, run_validate


def test_validate_runs_each_problem_and_writes_json_and_markdown(tmp_path):
    lines = []
    records = run_validate(["helmholtz"], [], steps=2, device="cpu", json_path=tmp_path / "v.json",
                           md_path=tmp_path / "v.md", params={"k": 6.0, "variance": 4e-3},
                           backbone_options={"width": 16, "depth": 1}, echo=lines.append)
    (rec,) = records
    assert rec["problem"] == "helmholtz" and rec["backbone"] == "siren" and rec["steps"] == 2
    assert rec["reference"] == "HelmholtzAnalytic" and rec["error"] is None
    assert rec["rel_l2"] > 0 and rec["metric"].startswith("complex")  # the problem's own metric
    assert json.loads((tmp_path / "v.json").read_text())[0]["rel_l2"] == rec["rel_l2"]
    md = (tmp_path / "v.md").read_text()
    assert md.startswith("| problem | backbone |") and "| helmholtz | siren | 2 |" in md
    assert lines and "rel_l2" in lines[0] and "helmholtz" in lines[0]


def test_validate_reports_failures_and_rejects_bad_input():
    with pytest.raises(ValueError, match="available problems"):
        run_validate(["no-such-problem"], steps=1)
    with pytest.raises(ValueError, match="colour"):
        run_validate(["helmholtz"], steps=1, params={"colour": "red"})
    (rec,) = run_validate(["helmholtz"], ["no-such-backbone"], steps=1, params={"k": 6.0})
    assert rec["rel_l2"] is None and "available backbones" in rec["error"]
    table = format_table([rec])
    assert table.splitlines()[0].split()[:3] == ["problem", "backbone", "steps"] and "!" in table
    assert format_markdown([rec]).count("\n") == 3
