"""A run directory is held by one process (pinr.run), and a failed resume writes nothing."""

import json
import logging
import os
import socket
import subprocess
import sys

import pytest
from small_problems import poisson_1d

import pinr as pr
from pinr.errors import RunDirectoryBusy
from pinr.run import LOCK_NAME, hold
from pinr.training import AbstractCallback

TINY = dict(backbone="siren", backbone_options={"width": 16, "depth": 1}, steps=2, batch=16, progress=False)


def snapshot(directory):
    """Every file in ``directory`` with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def write_lock(directory, pid):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                                   "started": "2026-01-01T00:00:00+0000"}))


@pytest.fixture
def live_pid():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    yield proc.pid
    proc.kill()
    proc.wait()


@pytest.fixture
def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_live_holder_stops_a_second_run_at_once_and_nothing_changes(tmp_path, live_pid):
    fresh = tmp_path / "fresh"
    write_lock(fresh, live_pid)
    before = snapshot(fresh)
    with pytest.raises(RunDirectoryBusy) as err:
        pr.solve(poisson_1d(), out=fresh, **TINY)
    message = str(err.value)
    assert len(message.splitlines()) == 1 and f"pid {live_pid} on {socket.gethostname()}" in message
    assert "another --out" in message and "wait" in message
    assert snapshot(fresh) == before
    # a finished run: neither a resume nor a sweep into it touches it while it is held
    done = tmp_path / "done"
    pr.solve(poisson_1d(), out=done, **TINY)
    write_lock(done, live_pid)
    before = snapshot(done)
    with pytest.raises(RunDirectoryBusy, match=f"pid {live_pid}"):
        pr.solve(poisson_1d(), resume=done, steps=4, progress=False)
    with pytest.raises(RunDirectoryBusy, match=f"pid {live_pid}"):
        pr.sweep(poisson_1d(), over={"seed": [0, 1]}, out=done, **TINY)
    assert snapshot(done) == before


def test_a_lock_held_in_this_process_counts_as_live(tmp_path):
    with hold(tmp_path / "run") as directory:
        with pytest.raises(RunDirectoryBusy, match=f"pid {os.getpid()}"):
            pr.solve(poisson_1d(), out=directory, **TINY)
        assert (directory / LOCK_NAME).exists()
    assert not (tmp_path / "run").exists()  # created by hold, left empty: removed


def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path, dead_pid, caplog):
    out = tmp_path / "run"
    write_lock(out, dead_pid)
    with caplog.at_level(logging.WARNING, logger="pinr.run"):
        pr.solve(poisson_1d(), out=out, **TINY)
    lines = [r.getMessage() for r in caplog.records if r.name == "pinr.run"]
    assert len(lines) == 1 and f"pid {dead_pid}" in lines[0] and "no longer running" in lines[0]
    assert (out / "metrics.json").exists() and not (out / LOCK_NAME).exists()


class Raise(AbstractCallback):
    def __init__(self, error):
        self.error = error

    def on_step_end(self, loop, out):
        raise self.error


@pytest.mark.parametrize("error", [None, RuntimeError("boom"), KeyboardInterrupt()])
def test_the_lock_is_released_however_the_run_ends(tmp_path, error):
    out = tmp_path / "run"
    if error is None:
        pr.solve(poisson_1d(), out=out, **TINY)
        assert (out / "metrics.json").exists()
    else:
        with pytest.raises(type(error)):
            pr.solve(poisson_1d(), out=out, callbacks=[Raise(error)], **TINY)
    assert not (out / LOCK_NAME).exists()
    if out.exists():
        assert not [p for p in out.iterdir() if p.name.startswith(LOCK_NAME)]


@pytest.mark.parametrize("steps", [None, 4])
def test_a_resume_from_a_truncated_checkpoint_leaves_the_record_as_it_was(tmp_path, steps):
    out = tmp_path / "run"
    pr.solve(poisson_1d(), out=out, **TINY)
    data = (out / "checkpoint.pt").read_bytes()
    (out / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    before = snapshot(out)
    with pytest.raises(ValueError, match="not a readable pinr checkpoint") as err:
        pr.solve(poisson_1d(), resume=out, steps=steps, progress=False)
    assert len(str(err.value).splitlines()) == 1
    assert snapshot(out) == before  # config.json byte for byte, and nothing else written or left behind
