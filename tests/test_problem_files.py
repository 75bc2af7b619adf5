"""``pinr solve problem.toml`` and ``pinr solve my_problem.py``: a user's file becomes a case and
runs as a catalogue problem does (run directory, metrics, --set, --train, --resume, rerun)."""

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pinr.cli import app

runner = CliRunner()
README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block(language: str) -> str:
    """The first ``language`` code block of the README's command-line section."""
    text = README.read_text()
    section = text[text.index("## Command line"):]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


def one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_readme_toml_example_writes_a_run_directory_and_resumes(tmp_path):
    path = tmp_path / "problem.toml"
    path.write_text(readme_block("toml"))
    out = tmp_path / "run"
    r = runner.invoke(app, ["solve", str(path), "--steps", "2", "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert f"outputs: {out}" in r.output and "rel_l2" in r.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["problem"] == "problem" and metrics["rel_l2"] > 0
    config = json.loads((out / "config.json").read_text())
    assert config["problem"] == {"name": "problem", "file": str(path.resolve()), "params": {}}
    assert "optimizer" in config["chosen_by"]  # the stated-problem defaults (pinr.training.auto)
    assert (out / "fields.png").is_file() and (out / "checkpoint.pt").is_file()
    r = runner.invoke(app, ["solve", "--resume", str(out), "--steps", "3", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["steps"] == 3
    path.write_text(readme_block("toml").replace("u = 0", "u = 0*x + 1"))  # the file changed since
    r = runner.invoke(app, ["solve", "--resume", str(out), "--steps", "4", "--no-progress"])
    one_line_error(r, "changed since")


def test_training_table_lies_under_the_command_line(tmp_path):
    path = tmp_path / "ode.toml"
    path.write_text('domain = "Interval(x=(0, 1))"\nequations = ["D(u, x) = u"]\n'
                    '[[conditions]]\nequation = "u = 1"\non = "x-"\n'
                    '[parameters]\nk = 1.0\n'
                    '[training]\nsteps = 4\noptimizer = "adam"\nbatch = 16\n')
    out = tmp_path / "run"
    r = runner.invoke(app, ["solve", str(path), "--steps", "2", "--train", "lbfgs_steps=0", "--out", str(out),
                            "--no-progress"])
    assert r.exit_code == 0, r.output
    config = json.loads((out / "config.json").read_text())
    assert (config["steps"], config["optimizer"], config["batch"], config["lbfgs_steps"]) == (2, "adam", 16, 0)


def test_python_problem_file_is_run_and_its_problem_solved(tmp_path):
    path = tmp_path / "my_problem.py"
    (tmp_path / "helper_for_my_problem.py").write_text("RIGHT_SIDE = 2\n")  # the file's folder is importable
    path.write_text(
        "import pinr as pr\n"
        "from helper_for_my_problem import RIGHT_SIDE\n"
        "domain = pr.Interval(x=(0, 1))\n"
        "x, = domain.coords\n"
        "u = domain.field('u')\n"
        "c = pr.Parameter('c', 1.0)\n"
        "problem = pr.Problem(domain, [pr.Eq(pr.D(u, (x, 2)), c * RIGHT_SIDE)], [pr.Boundary(pr.Eq(u, 0))],\n"
        "                     exact=c * x * (x - 1), name='parabola')\n"
        "training = {'steps': 2, 'optimizer': 'adam', 'batch': 16}\n"
        "if __name__ == '__main__':\n"
        "    raise SystemExit('the script block must not run')\n")
    out = tmp_path / "run"
    r = runner.invoke(app, ["solve", str(path), "--set", "c=2", "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["problem"] == "parabola"
    config = json.loads((out / "config.json").read_text())
    assert config["problem"]["params"] == {"c": 2} and "c = 2" in config["statement"]
    rerun = tmp_path / "again"
    r = runner.invoke(app, ["rerun", str(out), "--out", str(rerun), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert json.loads((rerun / "metrics.json").read_text())["steps"] == 2


@pytest.mark.parametrize("source, needles", [
    ("x = 1\n", ["defines no module-level `problem`"]),
    ("problem = 'lap(u) = 0'\n", ["`problem` is a str, not a pr.Problem"]),
    ("import pinr as pr\nproblem = 1 / 0\n", ["line 2", "ZeroDivisionError", "--debug"]),
    ("problem = (\n", ["SyntaxError"]),
    ("import pinr as pr\nd = pr.Interval(x=(0, 1))\nproblem = pr.Problem(d, [pr.Eq(d.field('u'), 0)])\n"
     "training = {'stepz': 3}\n", ["training stepz: not a solver option"]),
    ("import pinr as pr\nd = pr.Interval(x=(0, 1))\nproblem = pr.Problem(d, [pr.Eq(d.field('u'), 0)])\n"
     "training = ['steps']\n", ["`training` is a list"]),
])
def test_bad_python_problem_files_are_refused_in_one_line(tmp_path, source, needles):
    path = tmp_path / "p.py"
    path.write_text(source)
    one_line_error(runner.invoke(app, ["solve", str(path)]), str(path), *needles)


@pytest.mark.parametrize("change, needles", [
    (('"u = 0"', '"u = __import__(\'os\').system(\'echo hacked\')"'), ["conditions[0]", "named functions"]),
    (('"Rectangle(x=(0, 1), y=(0, 1))"', '"Rectangle(x=(0, 1), y=(0, 1)).__class__"'), ["domain", "not a shape"]),
    (('"u = 0"', '"u = (lambda: 0)()"'), ["conditions[0]", "named functions"]),
    (('"u = 0"', '"u = x**99999"'), ["conditions[0]", "exponent"]),
    (('"u = 0"', '"u = ' + "x+" * 6000 + 'x"'), ["conditions[0]", "characters long"]),
    (('on = "boundary"', 'on = "top"'), ["conditions[0].on", '"x-"']),
    (('on = "boundary"', ""), ["conditions[0]: missing key on"]),
    (('fields = ["u"]', 'fields = ["u"]\nequation = "typo"'), ["unknown key equation; did you mean equations?"]),
    (('fields = ["u"]', ""), []),  # fields default to ["u"]: accepted, so the run below fails on --steps only
])
def test_bad_toml_problem_files_are_refused_in_one_line(tmp_path, change, needles):
    text = readme_block("toml").replace(*change)
    assert text != readme_block("toml")
    path = tmp_path / "p.toml"
    path.write_text(text)
    r = runner.invoke(app, ["solve", str(path), "--steps", "-1", "--out", str(tmp_path / "run")])
    one_line_error(r, str(path) if needles else "steps", *needles)
    assert not (tmp_path / "run").exists() or not needles  # refused before anything is written


def test_fd_reference_of_a_problem_file(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(readme_block("toml") + "\n[training]\nsteps = 7\n")  # training options do not reach FD
    r = runner.invoke(app, ["-q", "solve", str(path), "--solver", "fd", "--out", str(tmp_path / "fd")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "fd" / "metrics.json").read_text())["solver"] == "fd"


def test_problem_file_command_line_errors(tmp_path):
    one_line_error(runner.invoke(app, ["solve", str(tmp_path / "absent.toml")]), "not found")
    path = tmp_path / "p.toml"
    path.write_text(readme_block("toml") + "\n[training]\nout = 'elsewhere'\n")
    one_line_error(runner.invoke(app, ["solve", str(path)]), "[training] out: set it on the command line")
    path.write_text(readme_block("toml"))
    one_line_error(runner.invoke(app, ["solve", str(path), "--set", "k=2"]), "'k' is not a parameter")
