"""load() reads with weights_only=True: pinr's own files of every backbone load; anything else —
another torch file, a truncated file, random bytes, a hostile pickle — raises a one-line
ValueError naming the file, and no code in the file runs."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import sympy
import torch

import pinr as pr
from pinr import Eq, lap
from pinr.backbones import Network, available_backbones, build_backbone
from pinr.solution import NeuralSolution, load
from pinr.solvers import PINNSolver
from pinr.symbolic.expressions import Coordinate, TimeCoordinate


class WritesMarker:
    """Unpickling this calls ``Path.touch(marker)``: what a hostile file would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _one_line_value_error(path, call, match):
    with pytest.raises(ValueError, match=match) as err:
        call()
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    return message


@pytest.mark.parametrize("name", available_backbones())
def test_every_backbone_round_trips_under_weights_only(name, tmp_path):
    grid = pr.Grid((8, 4, 3), x=(-1, 2), y=(0, 1), t=(0, 0.5))
    coords = (Coordinate("x"), Coordinate("y"), TimeCoordinate("t"))
    net = Network(build_backbone(name, 3, 2), grid.bounds).to(torch.float64)
    sol = NeuralSolution(net, fields=("u_re", "u_im"), coords=coords, grid=grid, backbone=name, options={},
                         metadata={"steps": 3, "seconds": 0.5, "engine": "jet", "note": None, "ok": True})
    loaded = load(sol.save(tmp_path / "solution.pt"))
    pts = np.random.default_rng(0).uniform(size=(50, 3))
    assert np.array_equal(loaded(pts), sol(pts))
    assert isinstance(loaded.coords[2], TimeCoordinate) and loaded.metadata == sol.metadata


def test_a_trained_solution_with_its_metadata_and_options_loads(tmp_path):
    dom = pr.Rectangle(x=(0, 1), y=(0, 1))
    x, y = dom.coords
    u = dom.field("u")
    problem = pr.Problem(dom, [Eq(lap(u), sympy.sin(x) * y)], [pr.Boundary(Eq(u, 0))])
    sol = PINNSolver.from_options(problem, backbone="mlp",
                                  backbone_options={"width": 8, "depth": 2, "activation": "tanh"},
                                  steps=2, batch=16, dtype="float64", progress=False, seed=0).run()
    sol.save(tmp_path / "solution.pt")
    loaded = load(tmp_path)  # a run directory's solution.pt
    pts = np.random.default_rng(1).uniform(size=(20, 2))
    assert np.array_equal(loaded(pts), sol(pts)) and loaded.options == sol.options


def test_a_hostile_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "solution.pt"
    torch.save({"format": "pinr-solution-1", "payload": WritesMarker(marker)}, path)
    message = _one_line_value_error(path, lambda: load(path), "Python objects")
    assert "NeuralSolution.save" in message
    assert not marker.exists()


def test_a_hostile_plain_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "solution.pt"
    with open(path, "wb") as f:
        pickle.dump({"format": "pinr-solution-1", "payload": WritesMarker(marker)}, f)
    _one_line_value_error(path, lambda: load(path), "not a pinr solution|torch file")
    assert not marker.exists()


def test_another_torch_file_is_not_a_pinr_solution(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(3)}, path)
    _one_line_value_error(path, lambda: load(path), "not a pinr solution")
    torch.save([1, 2, 3], path)
    _one_line_value_error(path, lambda: load(path), "not a pinr solution")


def test_truncated_random_and_empty_files_are_refused(tmp_path):
    grid = pr.Grid((4, 4), x=(0, 1), y=(0, 1))
    net = Network(build_backbone("mlp", 2, 1), grid.bounds)
    good = NeuralSolution(net, fields=("u",), coords=grid.coords, grid=grid, backbone="mlp",
                          options={}).save(tmp_path / "good.pt").read_bytes()
    cases = {"truncated.pt": good[: len(good) // 2], "random.pt": np.random.default_rng(0).bytes(4096),
             "empty.pt": b"", "text.pt": b"not a solution\n"}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        _one_line_value_error(path, lambda path=path: load(path), "torch file|truncated|damaged|not a pinr")


def test_a_pinr_file_with_damaged_entries_is_refused(tmp_path):
    path = tmp_path / "solution.pt"
    torch.save({"format": "pinr-solution-1", "backbone": "mlp", "dtype": "load"}, path)
    _one_line_value_error(path, lambda: load(path), "damaged pinr solution")


def test_loading_leaves_the_current_directory_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "x.pt"
    torch.save({"format": "pinr-solution-1", "payload": WritesMarker(Path("marker"))}, path)
    with pytest.raises(ValueError):
        load(path)
    assert os.listdir(tmp_path) == ["x.pt"]
