"""Memory-bounded training and evaluation: a grid larger than the budget trains on batches of it
(the network never sees more points than planned), chunked evaluation equals the whole one
exactly, the cost estimate bounds what autograd keeps, an allocation failure becomes one line
naming the batch to use, and metrics.json records the peak memory."""

from __future__ import annotations

import json
import resource

import numpy as np
import pytest
import sympy
import torch

import pinr as pr
from pinr import Eq, lap, memory
from pinr.errors import OutOfMemory
from pinr.solvers import PINNSolver
from pinr.training.loop import AbstractCallback

SMALL = dict(width=16, depth=1)  # linear widths 16 + 16 + 1: W = 33


def _image(size=32):
    grid = pr.Grid((size, size), x=(-1, 1), y=(-1, 1))
    x, y = grid.coords
    u = grid.field("u")
    return pr.Problem(grid, [Eq(u, sympy.sin(3 * x) * sympy.cos(2 * y))], name="grid-fit")


class LargestBatch(AbstractCallback):
    """Records the most points the network is called on (a forward pre-hook set at the start)."""

    def __init__(self):
        self.largest = 0

    def on_train_begin(self, loop):
        def hook(module, args):
            x = args[0]
            rows = (x.value if hasattr(x, "value") else x).shape[0]
            self.largest = max(self.largest, rows)
        loop.state.model.network.register_forward_pre_hook(hook)


class FailsAbove(AbstractCallback):
    """Makes the network raise ``error`` when called on more than ``limit`` points."""

    def __init__(self, limit: int, error: BaseException):
        self.limit, self.error = limit, error

    def on_train_begin(self, loop):
        def hook(module, args):
            x = args[0]
            if (x.value if hasattr(x, "value") else x).shape[0] > self.limit:
                raise self.error
        loop.state.model.network.register_forward_pre_hook(hook)


# ------------------------------------------------------------------------------ the plan
def test_budget_sizes_and_the_grid_batch_formula():
    assert memory.parse_budget("2GiB") == 2 << 30 and memory.parse_budget("512MiB") == 512 << 20
    assert memory.parse_budget("1.5GB") == 1_500_000_000 and memory.parse_budget(4096) == 4096
    assert memory.parse_budget(None) is None and memory.memory_budget("cpu", "1KiB") == 1024
    for bad in ("lots", -1, 0, True, float("nan")):
        with pytest.raises(ValueError, match="memory_budget"):
            memory.parse_budget(bad)
    # all points when they fit; else the largest power of two n with n * per <= budget
    assert memory.grid_batch(1000, 10, 10_000) == 1000
    assert memory.grid_batch(1000, 10, 9_999) == 512 and memory.grid_batch(1 << 22, 12_300, 6 << 30) == 1 << 18
    assert memory.grid_batch(1 << 22, 12_300, (1 << 19) * 12_300) == 1 << 19
    assert memory.grid_batch(1 << 22, 12_300, (1 << 19) * 12_300 - 1) == 1 << 18
    assert memory.available_memory("cpu") > 0


def test_cost_per_point_is_k_slots_widths_bytes():
    net = pr.backbones.build_backbone("siren", 2, 1, **SMALL)
    assert memory.layer_widths(net) == [16, 16, 1]
    assert memory.bytes_per_point(net, dtype=torch.float32) == 3 * 33 * 4
    assert memory.bytes_per_point(net, slots=4, dtype=torch.float64) == 3 * 4 * 33 * 8
    assert memory.bytes_per_point(net, training=False, dtype=torch.float32) == 3 * 16 * 4


@pytest.mark.parametrize("case", ["fit", "laplacian", "gradient"])
def test_the_estimate_bounds_what_autograd_keeps(case, saved_bytes_per_point):
    """Bytes autograd saves for the backward of a training loss, per point, stay below the
    estimate k·S·W·b (and above a third of it: the estimate is not vacuous)."""
    dom = pr.Rectangle(x=(-1, 1), y=(-1, 1))
    x, y = dom.coords
    u = dom.field("u")
    eq = {"fit": Eq(u, x * y), "laplacian": Eq(lap(u), x), "gradient": Eq(pr.D(u, x) + pr.D(u, y), x)}[case]
    solver = PINNSolver.from_options(pr.Problem(dom, [eq], name=case), backbone_options=dict(width=64, depth=2),
                                     steps=1, batch=256, progress=False, optimizer="adam")
    state = solver.build()
    term = solver.terms[0]
    per_point = saved_bytes_per_point(state, term, 256)
    estimate = memory.bytes_per_point(state.model.network,
                                      slots=memory.derivative_slots(term.expression, state.model.engine.name))
    assert estimate / 3 < per_point <= estimate


def test_a_grid_above_the_budget_trains_on_batches_of_it():
    problem = _image(32)  # 1024 grid points
    net = pr.backbones.build_backbone("siren", 2, 1, **SMALL)
    per = memory.bytes_per_point(net)
    budget = 128 * per + per // 2  # room for 128 points, not 256
    seen = LargestBatch()
    solver = PINNSolver.from_options(problem, backbone_options=SMALL, steps=3, progress=False,
                                     memory_budget=budget, callbacks=[seen])
    plan = solver.grid_plans["pde"]
    assert (plan.size, plan.batch, plan.per_point, plan.budget) == (1024, 128, per, budget)
    assert solver.terms[0].batch == 128
    assert "1,024 grid points" in plan.note() and "batches of 128 per step; --batch N to change" in plan.note()
    assert dict(solver.config.sampling.batch) == {"pde": 128}  # an option now: recorded, reused on resume
    assert solver.resolved.sources["batch"] == f"memory budget {memory.format_bytes(budget)}"
    sol = solver.run()
    assert seen.largest == 128
    assert sol.chunk == memory.MIN_CHUNK  # evaluation within the budget too (as small as chunks go)
    # batch= wins over the plan, and a grid that fits trains on all of it
    assert PINNSolver.from_options(problem, backbone_options=SMALL, batch=300, memory_budget=budget,
                                   progress=False).terms[0].batch == 300
    fits = PINNSolver.from_options(problem, backbone_options=SMALL, memory_budget=1024 * per, progress=False)
    assert fits.terms[0].batch == 1024 and fits.grid_plans == {}


# --------------------------------------------------------------------------- evaluation
@pytest.fixture(scope="module")
def solution():
    dom = pr.Rectangle(x=(-1, 2), y=(0, 1))
    x, y = dom.coords
    u = dom.field("u")
    problem = pr.Problem(dom, [Eq(lap(u), sympy.sin(x) * y)], [pr.Boundary(Eq(u, 0))], name="poisson-chunks")
    return PINNSolver.from_options(problem, backbone_options=SMALL, steps=2, batch=32, dtype="float64",
                                   progress=False).run()


def test_chunked_on_grid_equals_the_whole_grid_exactly(solution):
    shape = (37, 23)
    grid = pr.solvers.grid_of(solution.grid, shape)
    whole = solution(grid.points(dtype=torch.float64)).numpy().reshape(*shape, 1)
    try:
        for chunk in (7, 100, 200, 850, 10**6):  # chunks of 64 (+19), 64, 192 (+83), 851, 851 points
            solution.chunk = chunk
            np.testing.assert_array_equal(solution.on_grid(shape), whole)
    finally:
        solution.chunk = None
    assert solution._chunk() >= memory.MIN_CHUNK


def test_chunked_derivatives_equal_the_whole_evaluation(solution):
    expr = lap(solution.problem.domain.field("u"))
    pts = np.random.default_rng(0).uniform(size=(300, 2))
    whole = solution.evaluate(expr, pts, chunk=10**6)
    np.testing.assert_allclose(solution.evaluate(expr, pts, chunk=17), whole, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(solution.evaluate(expr, pts), whole, rtol=1e-13, atol=1e-13)


def _canonical(faces):
    """Faces rotated to start at their smallest index (winding kept), in lexicographic order."""
    r = np.argmin(faces, axis=1)
    rot = np.stack([faces[np.arange(len(faces)), (r + k) % 3] for k in range(3)], axis=1)
    return rot[np.lexsort(rot.T[::-1])]


def test_chunked_marching_cubes_equals_the_unchunked_mesh(solution):
    from pinr import geometry as geo

    ball = lambda p: np.linalg.norm(p, axis=-1) - 0.6 + 0.05 * np.sin(5 * p[:, 0])  # noqa: E731
    whole = geo.evaluate_grid(ball, 40, 3, chunk=40 ** 3)
    chunked = geo.evaluate_grid(ball, 40, 3, chunk=40 * 40 * 3)
    np.testing.assert_array_equal(chunked, whole)
    assert chunked.dtype == np.float32
    v0, f0 = geo.marching_cubes(whole, slab=64)
    v1, f1 = geo.marching_cubes(chunked, slab=5)
    np.testing.assert_array_equal(v0, v1)  # the same vertices, in the same (sorted) order
    np.testing.assert_array_equal(_canonical(f0), _canonical(f1))  # the same triangles, same winding
    assert len(f0) > 100


# --------------------------------------------------------------------------- out of memory
@pytest.mark.parametrize("error", [
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 4.00 GiB (GPU 0; 79.1 GiB total capacity)"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: "
                 "you tried to allocate 4294967296 bytes. Error code 12 (Cannot allocate memory)"),
    MemoryError(),
])
def test_out_of_memory_names_the_batch_to_use(tmp_path, error):
    problem = _image(32)
    with pytest.raises(OutOfMemory) as info:
        pr.solve(problem, backbone_options=SMALL, steps=3, batch=512, progress=False, reference_solution=None,
                 out=tmp_path / "run", callbacks=[FailsAbove(256, error)])
    message = str(info.value)
    assert "\n" not in message and info.value.suggested == 256 and info.value.batch == 512
    assert "512 points per step; use --batch 256 (or batch=256)" in message
    assert ("4.00 GiB" in message) == (not isinstance(error, MemoryError))
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json"]  # nothing half-written
    # the suggested batch trains
    pr.solve(problem, backbone_options=SMALL, steps=2, batch=info.value.suggested, progress=False,
             reference_solution=None, callbacks=[FailsAbove(256, error)])


def test_other_runtime_errors_pass_through():
    with pytest.raises(RuntimeError, match="shape mismatch"):
        with memory.memory_guard("x", 8):
            raise RuntimeError("shape mismatch")


def test_the_cli_prints_the_one_line(capsys):
    import typer

    from pinr import cli

    def work():
        with memory.memory_guard("a training step", 1000):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with pytest.raises(typer.Exit) as info:
        cli._run(work)
    assert info.value.exit_code == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: out of memory allocating a training step (2.00 GiB) at 1,000 points per step; "
                   "use --batch 500 (or batch=500)")


def test_the_planned_batch_is_recorded_and_a_resume_keeps_it(tmp_path):
    per = memory.bytes_per_point(pr.backbones.build_backbone("siren", 2, 1, **SMALL))
    pr.solve(_image(16), backbone_options=SMALL, steps=4, progress=False, out=tmp_path / "run",
             memory_budget=64 * per, checkpoint_every=2)
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["batch"] == {"pde": 64} and record["chosen_by"]["batch"].startswith("memory budget")
    options = {**pr.run.recorded_options(record), "memory_budget": None, "progress": False}
    resumed = PINNSolver.from_options(_image(16), **options)  # what a resume builds, with all free memory
    assert resumed.terms[0].batch == 64 and resumed.grid_plans == {}


def test_metrics_json_records_the_peak_memory(tmp_path):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pr.solve(_image(16), backbone_options=SMALL, steps=2, progress=False, out=tmp_path / "run")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "batch" not in json.loads((tmp_path / "run" / "config.json").read_text())  # the grid fits: no plan
    assert metrics["peak_memory_of"] == "process max RSS (cpu)"
    assert before - 0.1 <= metrics["peak_memory_mib"] <= after + 0.1  # max RSS only grows


def test_metrics_in_blocks_and_ssim_in_bands_equal_the_whole_image(monkeypatch):
    from skimage.metrics import structural_similarity

    from pinr import metrics

    rng = np.random.default_rng(0)
    ref = rng.normal(size=(300, 170))
    pred = ref + 0.3 * rng.normal(size=ref.shape)
    rgb_ref = rng.normal(size=(120, 90, 3))
    rgb = rgb_ref + 0.2 * rng.normal(size=rgb_ref.shape)
    whole = {"rel_l2": np.linalg.norm(pred - ref) / np.linalg.norm(ref), "max_abs": np.abs(pred - ref).max(),
             "psnr": 10 * np.log10(np.ptp(ref) ** 2 / np.mean((pred - ref) ** 2)),
             "ssim": structural_similarity(pred, ref, data_range=np.ptp(ref), win_size=7),
             "ssim_rgb": structural_similarity(rgb, rgb_ref, data_range=np.ptp(rgb_ref), win_size=7, channel_axis=-1)}
    monkeypatch.setattr(metrics, "BLOCK", 1000)  # 51 blocks
    monkeypatch.setattr(metrics, "BAND", 2000)  # bands of 13 rows (11 for the colour image)
    got = {"rel_l2": metrics.rel_l2(pred, ref), "max_abs": metrics.max_abs(pred, ref), "psnr": metrics.psnr(pred, ref),
           "ssim": metrics.ssim(pred, ref), "ssim_rgb": metrics.ssim(rgb, rgb_ref, channel_axis=-1)}
    for k, v in whole.items():
        assert got[k] == pytest.approx(v, rel=1e-13, abs=1e-15), k
