"""The PINN benchmark suite: every case's exact solution satisfies its own statement, the
references that have no closed form converge, and ``pinr bench suite pinn --quick`` runs
through the CLI (pinr only: DeepXDE is not needed here)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch
from typer.testing import CliRunner

from pinr.bench import peers
from pinr.bench import suite_cases as S
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
    from pinr.symbolic.problem import resolve_region

    regions += [(c.eq, resolve_region(problem.domain, c.on)) for c in problem.conditions]
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


def _cole_hopf_burgers(x: np.ndarray, t: float, nu: float = S.BURGERS_NU, m: int = 4001) -> np.ndarray:
    r"""Burgers from u(x, 0) = −sin πx by the Cole–Hopf transform:
    :math:`u = -\int \sin\pi(x-\eta)\, f(x-\eta) G\,d\eta / \int f(x-\eta) G\,d\eta` with
    :math:`f(y) = e^{-\cos(\pi y)/2\pi\nu}` and :math:`G = e^{-\eta^2/4\nu t}`, by the trapezoidal
    rule over ±12 widths of G (converged to round-off; weights scaled by their maximum)."""
    s = np.sqrt(4 * nu * t)
    eta = np.linspace(-12 * s, 12 * s, m)
    y = x[:, None] - eta[None, :]
    log_w = -np.cos(np.pi * y) / (2 * np.pi * nu) - eta[None, :] ** 2 / (4 * nu * t)
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    return -(np.sin(np.pi * y) * w).sum(axis=1) / w.sum(axis=1)


def test_burgers_reference_matches_cole_hopf():
    """The suite's reference (the general method of lines on 8,193 nodes) is within 3e-5 in rel.
    L2 of the Cole–Hopf solution at t = 0.1 ... 1 (1.7e-5 measured), and reaches Basdevant et al.'s maximal slope
    |u_x| = 152.00516 at t ≈ 0.51 within 0.05."""
    x, t, u = S.burgers_reference()
    levels = [10, 25, 50, 75, 100]
    exact = np.stack([_cole_hopf_burgers(x[::16], t[k]) for k in levels])
    assert np.linalg.norm(u[levels][:, ::16] - exact) / np.linalg.norm(exact) < 3e-5
    x, t, u = S.burgers_reference(8193, 201)
    slope = np.abs(np.diff(u, axis=1) / np.diff(x)).max(axis=1)
    assert abs(slope.max() - 152.00516) < 0.05 and abs(t[slope.argmax()] - 0.51) < 0.01


def _etdrk4_allen_cahn(n: int, dt_: float, levels: int = 101):
    r"""An independent check of the suite's Allen–Cahn reference (its own until it read the
    statement by the method of lines): Fourier-spectral ETDRK4 (Kassam & Trefethen 2005,
    coefficients by contour integrals over 32 points) for :math:`u_t = d\,u_{xx} + 5u - 5u^3`,
    d = 1e-4, periodic on [−1, 1), u(x, 0) = x² cos πx, ``n`` modes, step ``dt_``. Returns x
    ``(n + 1,)`` (the periodic end point repeated), t ``(levels,)`` and u ``(levels, n + 1)``."""
    x = -1 + 2 * np.arange(n) / n
    k = np.fft.fftfreq(n, d=2 / n) * 2 * np.pi
    L = -S.ALLEN_CAHN_D * k**2 + 5.0
    E, E2 = np.exp(dt_ * L), np.exp(dt_ * L / 2)
    r = np.exp(1j * np.pi * (np.arange(1, 33) - 0.5) / 32)
    LR = dt_ * L[:, None] + r[None, :]
    Q = dt_ * np.real(np.mean((np.exp(LR / 2) - 1) / LR, axis=1))
    f1 = dt_ * np.real(np.mean((-4 - LR + np.exp(LR) * (4 - 3 * LR + LR**2)) / LR**3, axis=1))
    f2 = dt_ * np.real(np.mean((2 + LR + np.exp(LR) * (-2 + LR)) / LR**3, axis=1))
    f3 = dt_ * np.real(np.mean((-4 - 3 * LR - LR**2 + np.exp(LR) * (4 - LR)) / LR**3, axis=1))

    def nonlinear(v_hat):
        v = np.fft.ifft(v_hat).real
        return np.fft.fft(-5 * v**3)

    v_hat = np.fft.fft(x**2 * np.cos(np.pi * x))
    steps = round(1 / dt_)
    every = steps // (levels - 1)
    out = [np.fft.ifft(v_hat).real]
    for s in range(1, steps + 1):
        Nv = nonlinear(v_hat)
        a = E2 * v_hat + Q * Nv
        Na = nonlinear(a)
        b = E2 * v_hat + Q * Na
        Nb = nonlinear(b)
        c = E2 * a + Q * (2 * Nb - Nv)
        Nc = nonlinear(c)
        v_hat = E * v_hat + Nv * f1 + 2 * (Na + Nb) * f2 + Nc * f3
        if s % every == 0:
            out.append(np.fft.ifft(v_hat).real)
    u = np.array(out)
    return np.append(x, 1.0), np.linspace(0, 1, levels), np.concatenate([u, u[:, :1]], axis=1)


def test_allen_cahn_reference_converges_and_agrees_with_etdrk4():
    """The suite's reference (the method of lines on 4,097 nodes) changes by < 5e-5 from 2,049
    nodes, agrees with Fourier ETDRK4 on 512 modes to 1e-3 (that one's own error, the kink of the
    periodic extension of x² cos πx at ±1 limiting spectral convergence), and stays within the
    wells [−1, 1]."""
    grid = S._xt_grid()
    ref = S._grid_interpolant(*S.allen_cahn_reference())(grid)
    coarse = S._grid_interpolant(*S.allen_cahn_reference(2049))(grid)
    spectral = S._grid_interpolant(*_etdrk4_allen_cahn(512, 5e-4))(grid)
    assert np.linalg.norm(coarse - ref) / np.linalg.norm(ref) < 5e-5
    assert np.linalg.norm(spectral - ref) / np.linalg.norm(ref) < 1e-3
    assert np.abs(ref).max() < 1.01


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
    monkeypatch.setattr(peers.time, "perf_counter", lambda: float(next(clock)))
    dde = types.SimpleNamespace(callbacks=types.SimpleNamespace(Callback=Callback))
    deadline = peers._deadline(dde, at=3.5)
    deadline.model = types.SimpleNamespace(stop_training=False)
    ended = 0
    while not deadline.model.stop_training:
        deadline.on_epoch_end()
        ended += 1
    assert ended == 4  # steps ending at 1, 2 and 3 s run on; the one ending at 4 s is past 3.5 s and is the last
