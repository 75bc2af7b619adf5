"""Data parallel under torchrun (gloo, 2 CPU processes): the replicas stay equal, a 2-process
step is the 1-process step on the union of the ranks' points (float64), rank 0 alone writes the
run directory, and checkpoints resume across world sizes. The single-process side emulates the
ranks: each term draws from rank 0's stream and rank 1's (:func:`rank_generator`) and trains on
the union of the two batches."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import pinr as pr
from pinr.solvers import PINNSolver
from pinr.training.batch import Batch
from pinr.training.strategy import DataParallel, SingleDevice, environment_world, from_environment, rank_generator

WORKER = Path(__file__).with_name("distributed_worker.py")
_spec = importlib.util.spec_from_file_location("distributed_worker", WORKER)
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)
STEPS, OPTIONS = worker.STEPS, worker.OPTIONS


def cat(batches: list[Batch]) -> Batch:
    """The union of ``batches``, in rank order."""
    def join(values, dim=0):
        return None if values[0] is None else torch.cat(values, dim)
    return Batch(join([b.points for b in batches]), join([b.normals for b in batches]),
                 {k: torch.cat([b.data[k] for b in batches]) for k in batches[0].data},
                 join([b.targets for b in batches], 1), join([b.sigma for b in batches], 1))


def emulate(solver: PINNSolver, world: int = 2) -> PINNSolver:
    """Make ``solver``'s terms draw the union of ``world`` ranks' batches in one process: rank 0 from
    the state's generator, rank r from ``rank_generator`` of its state at the first draw."""
    streams = {}
    for term in solver.terms:
        def sample(generator, *, window=1.0, _draw=term.sample):
            if "extra" not in streams:
                streams["extra"] = [rank_generator(generator, r) for r in range(1, world)]
            return cat([_draw(g, window=window) for g in [generator, *streams["extra"]]])
        term.sample = sample
    return solver


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The 1-process run ``single`` (STEPS steps), then one torchrun of two ranks: a fresh run
    ``dp`` and the continuation of ``single`` to 2 * STEPS (the worker's docstring)."""
    work, kept = tmp_path_factory.mktemp("dp"), tmp_path_factory.mktemp("kept")
    pr.solve(worker.poisson_1d(), steps=STEPS, out=work / "single", **OPTIONS)
    shutil.copy(work / "single" / "checkpoint.pt", kept / "checkpoint.pt")  # the 2 ranks continue the original
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR",
                                                            "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(WORKER), str(work)], cwd=work, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return work, kept


def load(path):
    return torch.load(path, weights_only=True)


def assert_close(a: dict, b: dict, rtol=1e-9, atol=1e-12):
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=rtol, atol=atol, msg=k)


def test_replicas_are_equal_on_both_ranks(runs):
    work, _ = runs
    for name in ("fresh", "resumed"):
        r0, r1 = load(work / f"{name}-0.pt"), load(work / f"{name}-1.pt")
        for k in r0:
            assert torch.equal(r0[k], r1[k]), (name, k)


def test_a_collection_trains_one_network_with_equal_codes_on_both_ranks_and_one_run_directory(runs):
    work, _ = runs
    r0, r1 = load(work / "collection-0.pt"), load(work / "collection-1.pt")
    assert set(r0) == set(r1) and "codes.weight" in r0
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
    run = work / "collection"
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["instances"]) == {"a=1", "a=2"} and metrics["steps"] == STEPS
    saved = load(run / "checkpoint.pt")
    assert saved["step"] == STEPS and torch.equal(saved["model"]["codes.weight"], r0["codes.weight"])
    assert (run / "fields.npz").exists() and not list(run.glob("*.tmp*"))


def test_a_parameter_without_gradient_on_one_rank_gets_the_average_with_zeros(runs):
    work, _ = runs
    for rank in (0, 1):
        out = load(work / f"average-{rank}.pt")
        assert torch.equal(out["p"], torch.tensor([1.0, 2.0]))  # (2, 4) and zeros, averaged
        assert bool(out["q_none"])  # reached by no rank: None, as in one process
        assert torch.equal(out["losses"], torch.tensor([1.5, 10.0]))


def test_two_ranks_take_the_one_process_steps_on_the_union_of_their_points(runs):
    work, _ = runs
    one = emulate(PINNSolver.from_options(worker.poisson_1d(), steps=STEPS, **OPTIONS))
    one.run()
    assert_close(load(work / "fresh-0.pt"), one.network.state_dict())
    saved = load(work / "dp" / "checkpoint.pt")
    assert saved["history"]["step"] == one.history["step"] == list(range(1, STEPS + 1))
    np.testing.assert_allclose(saved["history"]["loss"], one.history["loss"], rtol=1e-10)
    # the L-BFGS finish (averaged closure) is L-BFGS on the union too: the same fit losses and the
    # same iterations kept; its held-out score is each rank's median averaged, not the union's median
    (dp,), (single,) = saved["history"]["lbfgs"], one.history["lbfgs"]
    np.testing.assert_allclose([dp[0], dp[1]], [single[0], single[1]], rtol=1e-8)
    assert dp[4] == single[4] > 0
    assert dp[3] < dp[2]
    # and not the step on rank 0's points alone: the union matters
    alone = PINNSolver.from_options(worker.poisson_1d(), steps=STEPS, **OPTIONS)
    alone.run()
    assert abs(saved["history"]["loss"][0] - alone.history["loss"][0]) > 1e-6 * abs(alone.history["loss"][0])


def test_two_ranks_take_the_one_process_natural_gradient_steps_on_the_union_of_their_points(runs):
    """``J^T J``, ``J^T r`` and the line search's losses summed over the ranks: the one-process step
    on the union of the points (which solves the same system, in the Woodbury form when it is smaller)."""
    work, _ = runs
    r0, r1 = load(work / "natural-0.pt"), load(work / "natural-1.pt")
    for k in r0["network"]:
        assert torch.equal(r0["network"][k], r1["network"][k]), k
    one = emulate(PINNSolver.from_options(worker.poisson_1d(), **worker.NATURAL))
    one.run()
    assert_close(r0["network"], one.network.state_dict(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(r0["loss"].numpy(), one.history["loss"], rtol=1e-8)
    np.testing.assert_allclose(r0["damping"].numpy(), one.history["damping"], rtol=1e-12)
    assert one.history["loss"][-1] < 1e-2 * one.history["loss"][0]  # and it trains


def test_rank_zero_alone_writes_one_run_directory(runs):
    work, _ = runs
    assert sorted(p.name for p in work.iterdir() if p.is_dir()) == ["collection", "dp", "single", "stopped"]
    assert sorted(p.name for p in (work / "dp").iterdir() if p.suffix == ".pt") == ["checkpoint.pt", "solution.pt"]
    assert not list((work / "dp").glob(".*partial"))
    assert pr.run.read_record(work / "dp")["world_size"] == 2
    assert load(work / "dp" / "checkpoint.pt")["step"] == STEPS


def test_a_two_process_checkpoint_resumes_in_one_process(runs, tmp_path):
    work, _ = runs
    shutil.copytree(work / "dp", tmp_path / "dp")
    resumed = pr.solve(worker.poisson_1d(), steps=2 * STEPS, resume=tmp_path / "dp", **OPTIONS)
    # the same: the emulated 2-rank run to STEPS, continued by one process from its checkpoint
    emulate(PINNSolver.from_options(worker.poisson_1d(), steps=STEPS, out=tmp_path / "emu", **OPTIONS)).run()
    once = PINNSolver.from_options(worker.poisson_1d(), steps=2 * STEPS, out=tmp_path / "emu", resume=tmp_path / "emu",
                                   **OPTIONS).run()
    assert_close(resumed.network.state_dict(), once.network.state_dict())
    assert load(tmp_path / "dp" / "checkpoint.pt")["step"] == 2 * STEPS


def test_a_one_process_checkpoint_resumes_on_two_ranks(runs, tmp_path):
    work, kept = runs
    two = emulate(PINNSolver.from_options(worker.poisson_1d(), steps=2 * STEPS, resume=kept, **OPTIONS))
    two.run()
    assert_close(load(work / "resumed-0.pt"), two.network.state_dict())
    saved = load(work / "single" / "checkpoint.pt")
    assert saved["step"] == 2 * STEPS
    np.testing.assert_allclose(saved["history"]["loss"], two.history["loss"], rtol=1e-10)


def test_adaptive_statistics_parameters_and_loss_weights_stay_equal_on_both_ranks(runs):
    work, _ = runs
    for name in ("adaptive", "balanced"):
        r0, r1 = load(work / f"{name}-0.pt"), load(work / f"{name}-1.pt")
        for part in ("network", "parameters"):
            for k in r0[part]:
                assert torch.equal(r0[part][k], r1[part][k]), (name, k)
        assert torch.equal(r0["loss"], r1["loss"])
    weights = load(work / "balanced-0.pt")["weights"]
    assert weights is not None and torch.equal(weights, load(work / "balanced-1.pt")["weights"])


def test_sape_statistics_and_a_trainable_parameter_follow_the_union_of_the_points(runs):
    """SAPE's per-node loss sums grow by the sum of the ranks' increments, what the union adds
    (averaging them would halve the sums); the trainable parameter and the losses follow the
    union. The SAPE weights are held to 1e-4 only: the level switched on at step 1 gives weights
    rounding-sized gradients, whose Adam steps (``lr * g / |g|``) hang on rounding."""
    work, _ = runs
    two = load(work / "adaptive-0.pt")
    one = emulate(PINNSolver.from_options(worker.inverse_1d(), **worker.ADAPTIVE))
    one.run()
    mine = one.network.state_dict()
    for k in ("backbone.loss_sum", "backbone.loss_weight", "backbone.level", "backbone.active"):
        torch.testing.assert_close(two["network"][k], mine[k], rtol=1e-9, atol=1e-12, msg=k)
    assert mine["backbone.loss_weight"].sum() == 2 * 16 + 2 * 16 + 2 * 16  # 3 terms, 16 points each, 2 ranks
    assert_close(two["parameters"], one.state.model.parameters.state_dict())
    np.testing.assert_allclose(two["loss"].numpy(), one.history["loss"], rtol=1e-10)
    assert_close(two["network"], mine, rtol=0, atol=1e-4)  # lr 1e-3: the weights moved by ~2e-3


def test_a_stop_asked_of_one_rank_stops_every_rank_after_the_same_step(runs):
    """Rank 1 is asked after step 2; the request travels with step 3's all-reduce."""
    work, _ = runs
    assert int(load(work / "stopped-0.pt")) == int(load(work / "stopped-1.pt")) == 3
    assert load(work / "stopped" / "checkpoint.pt")["step"] == 3


def test_strategy_from_the_environment(monkeypatch):
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    assert isinstance(from_environment(torch.device("cpu")), SingleDevice)
    assert environment_world() == (1, 0, 0)
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE='two' is not an integer"):
        from_environment(torch.device("cpu"))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="RANK=2, LOCAL_RANK=0 are inconsistent"):
        DataParallel(torch.device("cpu"))


def test_rank_streams_depend_on_rank_zero_state_and_rank_only():
    g = torch.Generator().manual_seed(5)
    a, b = rank_generator(g, 1), rank_generator(torch.Generator().manual_seed(5), 1)
    assert rank_generator(g, 0) is g
    assert torch.equal(torch.rand(8, generator=a), torch.rand(8, generator=b))
    c = rank_generator(torch.Generator().manual_seed(5), 2)
    assert not torch.equal(torch.rand(8, generator=rank_generator(g, 1)), torch.rand(8, generator=c))
