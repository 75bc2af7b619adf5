"""The PINN benchmark suite: every case's exact solution satisfies its own statement, the
references that have no closed form converge, and ``pinr bench suite pinn --quick`` runs
through the CLI (pinr only: DeepXDE is not needed here)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch
from typer.testing import CliRunner

from pinr import suite as S
from pinr.cli import app
from pinr.symbolic.expressions import Parameter

runner = CliRunner()
EXACT = ["poisson-1d", "poisson-2d", "heat-2d", "wave-1d", "helmholtz-2d", "inverse-diffusion",
         "poisson-2d-engd"]  # closed forms


def _substituted(expr, problem, values):
    """``expr`` with the exact fields put in for the unknowns and parameters given ``values``."""
    coords = problem.domain.coords
    subs = {p: values[p.name] for p in expr.atoms(Parameter)}
    for name, exact in problem.exact.items():
        field = sympy.Function(name)(*coords)
        expr = expr.subs(field, exact)
    return expr.xreplace(subs).doit()


@pytest.mark.parametrize("name", EXACT)
def test_exact_solution_satisfies_its_statement(name):
    """Each equation and condition, with the exact solution substituted, vanishes at samples of
    its region (float64), and the reference function is that exact solution."""
    st = S.CASES[name].build()
    problem = st.problem
    values = {**problem.params, **({st.parameter[0]: st.parameter[1]} if st.parameter else {})}
    coords = problem.domain.coords
    regions = [(eq, problem.domain.interior) for eq in problem.equations]
    from pinr.symbolic.problem import _resolve_region

    regions += [(c.eq, _resolve_region(problem.domain, c.on)) for c in problem.conditions]
    gen = torch.Generator().manual_seed(0)
    for eq, region in regions:
        r = _substituted(eq.lhs - eq.rhs, problem, values)
        pts = region.sample(64, generator=gen, dtype=torch.float64).points.numpy()
        f = sympy.lambdify(coords, r, modules="numpy")
        res = np.broadcast_to(np.asarray(f(*pts.T), dtype=np.float64), (len(pts),))
        assert np.abs(res).max() < 1e-9, (name, str(eq))
    exact = sympy.lambdify(coords, next(iter(problem.exact.values())), modules="numpy")
    grid = st.grid[:50]
    np.testing.assert_allclose(st.reference(grid), np.broadcast_to(exact(*grid.T), (len(grid),)), atol=1e-12)
    for obs_points, obs_values in [st.observations] if st.observations else []:
        np.testing.assert_allclose(obs_values, st.reference(obs_points), atol=1e-12)


def test_wrong_solution_is_caught():
    """The residual check above is not vacuous: sin(2πx) does not solve the 1-D Poisson case."""
    problem = S.CASES["poisson-1d"].build().problem
    (x,) = problem.domain.coords
    eq = problem.equations[0]
    r = (eq.lhs - eq.rhs).subs(sympy.Function("u")(x), sympy.sin(2 * sympy.pi * x)).doit()
    assert abs(float(r.subs(x, 0.3))) > 1


def test_lshape_reference_converges():
    """The FD reference of −Δu = 1 on the L-shape: differences to a finer solve shrink with h
    (at (−0.5, −0.5), away from the re-entrant corner), and its maximum is ≈ 0.1494 (h = 1/200)."""
    def at(n):
        axis, values = S.lshape_reference(n)
        i = np.argmin(np.abs(axis + 0.5))
        return values[i, i]

    coarse, mid, fine = at(20), at(40), at(80)
    assert abs(coarse - fine) > 2 * abs(mid - fine)
    assert abs(mid - fine) < 2e-3
    assert S.lshape_reference(20)[1].shape == (41, 41)


def test_burgers_reference_converges():
    """A coarse method-of-lines solve (512 nodes) agrees with the suite's (2,048) to 1e-3 in rel.
    L2 on the evaluation grid, and the fine one reaches Basdevant et al.'s maximal slope
    |u_x| = 152.0 at t ≈ 0.51 within 1 %."""
    grid = S._xt_grid()
    fine = S._grid_interpolant(*S.burgers_reference())(grid)
    coarse = S._grid_interpolant(*S.burgers_reference(512))(grid)
    assert np.linalg.norm(coarse - fine) / np.linalg.norm(fine) < 1e-3
    x, t, u = S.burgers_reference(2048, 201)
    slope = np.abs(np.diff(u, axis=1) / np.diff(x)).max(axis=1)
    assert abs(slope.max() - 152.0) < 1.5 and abs(t[slope.argmax()] - 0.51) < 0.01


def test_allen_cahn_reference_converges():
    """ETDRK4: halving the step changes nothing visible (< 1e-8, fourth order in time); 256 modes
    agree with 512 to 5e-3 (the periodic extension of x² cos πx has a kink at ±1, so spatial
    convergence is algebraic); the solution stays within the wells [−1, 1]."""
    grid = S._xt_grid()
    ref = S._grid_interpolant(*S.allen_cahn_reference(256, 5e-4))(grid)
    half_step = S._grid_interpolant(*S.allen_cahn_reference(256, 2.5e-4))(grid)
    fine = S._grid_interpolant(*S.allen_cahn_reference(512, 5e-4))(grid)
    assert np.linalg.norm(half_step - ref) / np.linalg.norm(ref) < 1e-8
    assert np.linalg.norm(fine - ref) / np.linalg.norm(fine) < 5e-3
    assert np.abs(fine).max() < 1.01


def test_quick_run_through_the_cli_writes_the_table(tmp_path):
    out = tmp_path / "suite.md"
    r = runner.invoke(app, ["bench", "suite", "pinn", "--quick", "--case", "poisson-1d", "--case", "allen-cahn-1d",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "[1/2] poisson-1d (pinr): rel. L2" in r.output
    assert "[2/2] allen-cahn-1d (pinr): rel. L2" in r.output
    text = out.read_text()
    assert "not accuracy figures" in text and "load average" in text and "torch" in text
    row = next(line for line in text.splitlines() if line.startswith("| poisson-1d | pinr |"))
    assert row.split("|")[7].strip() == str(S.QUICK_STEPS)


def test_each_optimizer_runs_beside_the_defaults(tmp_path):
    out = tmp_path / "suite.md"
    r = runner.invoke(app, ["bench", "suite", "pinn", "--quick", "--case", "poisson-1d", "--optimizer", "adam",
                            "--optimizer", "natural", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = [line.split("|")[2].strip() for line in out.read_text().splitlines() if line.startswith("| poisson-1d |")]
    assert rows == ["pinr", "pinr (adam)", "pinr (natural)"]


def test_the_engd_case_states_the_papers_setup():
    st = S.CASES["poisson-2d-engd"].build()
    assert st.options["backbone_options"] == dict(width=32, depth=1, activation="tanh")  # 2-32-1 tanh
    assert st.options["batch"] == {"pde": 900, "boundary": 120} and st.options["steps"] == 200
    assert str(st.problem.equations) == str(S.CASES["poisson-2d"].build().problem.equations)


@pytest.mark.parametrize("argv, message", [
    (["pinn", "--optimizer", "sgd"], "unknown optimizer 'sgd'; choose one of ['adam', 'natural']"),
    (["pinn", "--case", "nope"], "unknown suite case(s) nope; choose from poisson-1d, poisson-2d"),
    (["other"], "unknown suite 'other'; choose pinn"),
    (["pinn", "--against", "fenics"], "unknown peer(s) fenics; choose from deepxde"),
    (["pinn", "--equal-time"], "--equal-time times a peer against pinr: add --against deepxde"),
])
def test_bad_input_is_one_line(argv, message):
    r = runner.invoke(app, ["bench", "suite", *argv])
    assert r.exit_code == 2
    assert message in r.output and len(r.output.strip().splitlines()) == 1


def test_missing_deepxde_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "deepxde", None)  # import fails as if not installed
    r = runner.invoke(app, ["bench", "suite", "pinn", "--quick", "--case", "poisson-1d", "--against", "deepxde"])
    assert r.exit_code == 2 and "pip install pinr[peers]" in r.output


def test_equal_time_deadline_stops_a_peer_at_the_first_step_past_the_budget(monkeypatch):
    """The callback given to DeepXDE under ``--equal-time`` (its Callback API: ``self.model``,
    ``on_epoch_end``, ``model.stop_training``), on a fake clock: steps end at 1, 2, 3, ... s."""
    import types

    class Callback:
        model = None

    clock = iter(range(1, 100))
    monkeypatch.setattr(S.time, "perf_counter", lambda: float(next(clock)))
    dde = types.SimpleNamespace(callbacks=types.SimpleNamespace(Callback=Callback))
    deadline = S._deadline(dde, at=3.5)
    deadline.model = types.SimpleNamespace(stop_training=False)
    ended = 0
    while not deadline.model.stop_training:
        deadline.on_epoch_end()
        ended += 1
    assert ended == 4  # steps ending at 1, 2 and 3 s run on; the one ending at 4 s is past 3.5 s and is the last
