"""Wave equation from a Gaussian pulse: the FD (leapfrog) reference, metrics, snapshots and the
animation, and a short PINN run."""

import numpy as np
import pytest
import torch

import pinr as pr
from pinr.problems.wave import wave_metrics, wave_plots
from pinr.solvers import FDSolver, PINNSolver
from pinr.training.terms import Causal


def test_statement_and_training_options():
    p = pr.problems.get("wave")
    assert p.fields == ("u",) and p.domain.time is not None
    assert p.training.schedule.causal == 1.0 and p.fd["resolution"] == 1024
    assert p.training.model.output_scale == 0.02  # the network works at the pulse's size
    solver = PINNSolver.from_options(p, steps=1, progress=False)
    # the network's unit of time is half the space box's half-width over c: t in [0, 0.4] is seen as [-0.4, 0.4]
    z = solver.initial.network.embed(torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.4]]))
    assert torch.allclose(z[:, 2], torch.tensor([-0.4, 0.4]))
    assert pr.problems.get("wave", c=2.0).training.model.time_scale == 0.25
    assert solver.resolved.sources["time_scale"] == "problem 'wave'"  # said with what was chosen
    assert solver.config.schedule.causal == 1.0 and not solver.config.schedule.time_window
    assert isinstance(solver.terms[0].reduction, Causal) and solver.terms[0].name == "pde"
    later = PINNSolver.from_options(p, steps=1, progress=False, time_window=0.5)  # the paper's curriculum
    assert later.config.schedule.time_window == 0.5
    # extra equation points follow the front r = c t (within 3/sqrt(beta))
    (front,) = [c.on for c in p.conditions if c.name == "pde_front"]
    pts = front.sample(2000, dtype=torch.float64).points
    r = torch.linalg.norm(pts[:, :2], dim=-1)
    assert torch.all((r - pts[:, 2]).abs() <= 3 / 1000**0.5 + 1e-12)
    with pytest.raises(ValueError, match="slowness"):
        pr.problems.get("wave", slowness="triangle")
    with pytest.raises(ValueError, match="speed c must be positive"):
        pr.problems.get("wave", c=0.0)


def test_fd_reference_of_a_wide_pulse_converges_at_second_order():
    """Leapfrog on the statement with a wider pulse (β = 100): successive differences shrink 4×
    when h halves; the solution keeps the pulse's symmetries."""
    p = pr.problems.get("wave", beta=100.0)
    sols = [FDSolver(p.problem, **{**p.fd, "resolution": n, "stride": n // 32, "slices": 5}).solve().values[..., 0]
            for n in (64, 128, 256)]
    d1, d2 = np.abs(sols[0] - sols[1]).max(), np.abs(sols[1] - sols[2]).max()
    assert 3.6 < d1 / d2 < 4.6, (d1, d2)
    u = sols[2]
    assert np.allclose(u, u[::-1], atol=1e-12) and np.allclose(u, np.swapaxes(u, 0, 1), atol=1e-12)
    # the initial level is the initial condition
    x = np.linspace(-1, 1, 33)
    X, Y = np.meshgrid(x, x, indexing="ij")
    assert np.allclose(u[..., 0], 0.02 * np.exp(-100 * (X**2 + Y**2)), atol=1e-15)


def test_metrics_plots_and_animation(tmp_path):
    p = pr.problems.get("wave", fd_resolution=64)
    ref = pr.reference(p)  # the case's FD options: leapfrog at 64 cells, 41 stored levels
    assert ref.metadata["kind"] == "leapfrog" and ref.values.shape == (65, 65, 41, 1)
    m = wave_metrics(ref, ref)
    assert m["rel_l2"] == 0.0 and len(m["rel_l2_per_time"]) == len(m["times"]) == 41
    paths = wave_plots(tmp_path, ref, ref, resolution=24, frames=5)
    assert [p.name for p in paths] == ["wave_snapshots.png", "wave.gif"]
    assert paths[1].read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")]


def test_short_pinn_run_reduces_the_error(errors_before_and_after):
    """A short run of a small SIREN on a wide, slow pulse reduces the error against the FD
    reference."""
    p = pr.problems.get("wave", beta=20.0, t_end=0.2, fd_resolution=64, singular="none")  # SIREN's statement
    ref = pr.reference(p)
    errs = errors_before_and_after(p, lambda sol: wave_metrics(sol, ref, max_nodes=33),
                                   dict(width=32, depth=2, omega0=5.0, omega_hidden=10.0))
    assert errs[1] < 0.75 * errs[0], errs


def test_the_pulses_free_wave_is_a_known_part_and_the_fd_reference_agrees_with_it():
    """By default the pulse's free-space wave (speed c at the pulse; c/sqrt(m) = 2c inside an
    inclusion) is a known part of u; in the uniform medium it is the answer, which the FD reference
    (computed from the statement alone) matches within its own discretisation error."""
    from pinr.symbolic.known import known_field_of

    p = pr.problems.get("wave", beta=100.0, t_end=0.3, fd_resolution=256)
    pulse = known_field_of(p.problem.known["u"])
    assert pulse.kind == "wave-pulse" and pulse.speed == 1.0 and "known part" in str(p.problem)
    square = pr.problems.get("wave", slowness="square", singular="subtract")
    assert known_field_of(square.problem.known["u"]).speed == 2.0  # the speed where the pulse starts
    assert not pr.problems.get("wave", slowness="square").problem.known  # "auto": only a uniform medium
    assert not pr.problems.get("wave", singular="none").problem.known
    assert not pr.problems.get("wave", singular=None).problem.known  # `--set singular=none` reads as None
    with pytest.raises(ValueError, match="wave singular must be one of"):
        pr.problems.get("wave", singular="gabor")
    ref = pr.reference(p)
    axes = ref.grid.lattice(ref.grid.shape)
    X, Y, T = np.meshgrid(*axes, indexing="ij")
    u = pulse.derivatives(np.stack([X.ravel(), Y.ravel(), T.ravel()], -1))[(0, 0, 0)].reshape(X.shape)
    err = np.linalg.norm(u - ref.values[..., 0]) / np.linalg.norm(ref.values[..., 0])
    assert err < 0.02, err


def test_the_verdict_sizes_an_initial_velocity_by_the_known_parts_derivative():
    """With the pulse known and the network at (nearly) zero, the answer is right: u_t = 0 at t = 0
    holds to the known part's accuracy, judged against the size of K_t inside the domain (the
    network's own u_t is nothing there), so the initial conditions' checks pass."""
    p = pr.problems.get("wave", beta=100.0, t_end=0.2, fd_resolution=64)
    sol = pr.solve(p, steps=2, lr=1e-12, batch=128, progress=False, seed=0,
                   backbone_options=dict(width=16, depth=1))
    for name in ("v0", "v0_pulse", "u0", "pde"):
        assert sol.verdict.checks[f"residual/{name}"].value < 1e-3, sol.verdict.checks
