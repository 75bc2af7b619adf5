"""ParaView outputs read back with meshio: the same points, cells of the right kind and
orientation, the same values; files atomic with mode 0644; bad input refused."""

from __future__ import annotations

import os
import stat

import meshio
import numpy as np
import pytest

from pinr.export import lattice_cells, lattice_points, write_vtu, write_xdmf_series

AXES = {1: [np.linspace(0, 1, 5)],
        2: [np.linspace(-1, 1, 5), np.array([0.0, 0.5, 2.0])],
        3: [np.linspace(0, 1, 3), np.linspace(0, 2, 4), np.array([-1.0, 0.0])]}
KINDS = {1: "line", 2: "quad", 3: "hexahedron"}


def _expected_points(axes):
    mesh = np.meshgrid(*axes, indexing="ij")
    pts = np.stack([m.ravel() for m in mesh], -1)
    return np.pad(pts, ((0, 0), (0, 3 - pts.shape[1])))


@pytest.mark.parametrize("d", [1, 2, 3])
def test_vtu_round_trip_points_cells_and_values(d, tmp_path):
    axes = AXES[d]
    shape = tuple(a.size for a in axes)
    rng = np.random.default_rng(d)
    u, v = rng.normal(size=shape), rng.normal(size=shape + (d,))
    path = write_vtu(tmp_path / "field.vtu", axes, {"u": u, "grad_u": v})
    mesh = meshio.read(path)
    assert np.allclose(mesh.points, _expected_points(axes))
    (block,) = mesh.cells
    assert block.type == KINDS[d] and block.data.shape == (int(np.prod([n - 1 for n in shape])), 2**d)
    assert np.array_equal(mesh.point_data["u"].reshape(shape), u)
    assert np.array_equal(mesh.point_data["grad_u"].reshape(shape + (d,)), v)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["field.vtu"]


def test_cells_are_positively_oriented_and_tile_the_box():
    axes = AXES[2]
    kind, cells = lattice_cells([a.size for a in axes])
    p = lattice_points(axes)[:, :2][cells]  # (n_cells, 4, 2)
    x, y = p[..., 0], p[..., 1]
    area = 0.5 * np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1)  # shoelace
    assert kind == "quad" and np.all(area > 0)
    assert np.isclose(area.sum(), 2.0 * 2.0)
    kind, hexes = lattice_cells([a.size for a in AXES[3]])
    p = lattice_points(AXES[3])[hexes]
    e1, e2, e4 = p[:, 1] - p[:, 0], p[:, 3] - p[:, 0], p[:, 4] - p[:, 0]  # VTK: 0-1-2-3 bottom, 4-7 top
    volume = np.einsum("ij,ij->i", np.cross(e1, e2), e4)
    assert kind == "hexahedron" and np.all(volume > 0) and np.isclose(volume.sum(), 1 * 2 * 1)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_xdmf_series_round_trip(d, tmp_path):
    axes = AXES[d]
    shape = tuple(a.size for a in axes)
    times = np.array([0.0, 0.25, 1.0])
    rng = np.random.default_rng(10 + d)
    u = rng.normal(size=shape + (3,))
    w = rng.normal(size=shape + (2, 3))
    path = write_xdmf_series(tmp_path / "wave.xdmf", axes, times, {"u": u, "w": w})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["wave.xdmf"]
    reader = meshio.xdmf.TimeSeriesReader(path)
    points, cells = reader.read_points_cells()
    assert np.allclose(points, _expected_points(axes)) and cells[0].type == KINDS[d]
    assert reader.num_steps == 3
    for k in range(3):
        t, point_data, _ = reader.read_data(k)
        assert t == pytest.approx(times[k])
        assert np.allclose(point_data["u"].reshape(shape), u[..., k])
        assert np.allclose(point_data["w"].reshape(shape + (2,)), w[..., k])


@pytest.mark.parametrize("axes, fields, match", [
    ([np.array([0.0, 1.0]), np.array([1.0, 0.0])], {"u": np.zeros((2, 2))}, "increasing"),
    ([np.array([0.0])], {"u": np.zeros(1)}, "at least 2"),
    ([np.arange(2.0)] * 4, {"u": np.zeros((2,) * 4)}, "1 to 3"),
    ([np.arange(3.0), np.arange(2.0)], {"u": np.zeros((2, 3))}, r"needs \(3, 2\)"),
    ([np.arange(3.0)], {"u": np.zeros(3, complex)}, "real"),
    ([np.arange(3.0)], {}, "non-empty"),
])
def test_vtu_refuses_bad_lattices_and_fields(tmp_path, axes, fields, match):
    with pytest.raises(ValueError, match=match):
        write_vtu(tmp_path / "bad.vtu", axes, fields)
    assert os.listdir(tmp_path) == []


def test_xdmf_series_refuses_bad_times_and_time_axes(tmp_path):
    axes = AXES[1]
    with pytest.raises(ValueError, match="times"):
        write_xdmf_series(tmp_path / "s.xdmf", axes, [0.0, 0.0], {"u": np.zeros((5, 2))})
    with pytest.raises(ValueError, match="last axis must be time"):
        write_xdmf_series(tmp_path / "s.xdmf", axes, [0.0, 1.0, 2.0], {"u": np.zeros((5, 2))})
    assert os.listdir(tmp_path) == []
