"""Reading meshes and point clouds: normalisation, formats, and clear errors for bad files."""

import numpy as np
import pytest

import pinr as pr
from pinr import geometry as geo


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".stl", ".off"])
def test_mesh_formats_round_trip_and_normalise(suffix, tmp_path, make_icosphere, rng):
    v, f = make_icosphere(2, 1.0)
    v_in = v * [3.0, 2.0, 1.0] + [10.0, -5.0, 2.0]  # an ellipsoid in "input units"
    path = geo.write_mesh(tmp_path / f"shape{suffix}", v_in, f)
    mesh = geo.load_shape(path, padding=0.1)
    assert isinstance(mesh, geo.TriangleMesh) and mesh.closed and len(mesh.faces) == len(f)
    lo, hi = mesh.bounds.T
    assert (hi - lo).max() == pytest.approx(1.8, rel=1e-6)  # longest side into [-0.9, 0.9], aspect kept
    np.testing.assert_allclose((hi - lo) / (hi - lo).max(), [1, 2 / 3, 1 / 3], rtol=1e-5)
    np.testing.assert_allclose(mesh.normalization.to_input(mesh.vertices).mean(0), v_in.mean(0), atol=1e-5)
    # distances scale with the normalisation
    p_in = rng.uniform(-1, 1, (200, 3)) * 4 + [10, -5, 2]
    ref = geo.TriangleMesh(v_in, f).signed_distance(p_in)
    got = mesh.signed_distance(mesh.normalization.to_normalized(p_in)) * mesh.normalization.scale
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_written_meshes_are_in_input_units(tmp_path, make_icosphere):
    v, f = make_icosphere(1, 0.5)
    norm = geo.Normalization((1.0, 2.0, 3.0), 10.0)
    geo.write_mesh(tmp_path / "m.ply", v, f, normalization=norm)
    back = geo.read_mesh(tmp_path / "m.ply")
    np.testing.assert_allclose(back.normalization.to_input(back.vertices).mean(0), [1, 2, 3], atol=1e-4)
    assert back.normalization.scale == pytest.approx(5 / 0.9, rel=1e-4)


def test_point_clouds_from_xyz_npz_and_ply(tmp_path, rng):
    sphere = pr.Ball((0, 0, 0), 0.5)
    p, n = sphere.sample_surface(3000, rng)
    np.savetxt(tmp_path / "c.xyz", np.hstack([p * 4, n]))
    np.savez(tmp_path / "c.npz", points=p * 4, normals=n)
    import meshio

    meshio.write_points_cells(tmp_path / "c.ply", p * 4, [], point_data={"nx": n[:, 0], "ny": n[:, 1], "nz": n[:, 2]})
    for name in ("c.xyz", "c.npz", "c.ply"):
        cloud = geo.load_shape(tmp_path / name)
        assert isinstance(cloud, geo.OrientedPointCloud) and not cloud.exact
        q = rng.uniform(-1, 1, (500, 3))
        exact = pr.Ball((0, 0, 0), 0.9).signed_distance(q)  # the cloud's sphere after normalisation (up to sampling)
        est = cloud.signed_distance(q)
        assert np.mean(np.sign(est) == np.sign(exact)) > 0.99
        assert np.abs(est - exact).max() < 0.1


def test_2d_point_cloud(tmp_path, rng):
    p, n = pr.Disk((0, 0), 0.5).sample_surface(500, rng)
    np.savetxt(tmp_path / "c.txt", np.hstack([p, n]))
    cloud = geo.load_shape(tmp_path / "c.txt")
    assert cloud.dim == 2


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("name, content, match", [
    ("empty.obj", "", "is empty"),
    ("empty.ply", "", "is empty"),
    ("garbage.off", "hello world\n", "cannot read"),
    ("garbage.ply", "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nend_header\n1\n", "cannot read"),
    ("nan.obj", "v 0 0 nan\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "NaN"),
    ("points.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\n", "no triangles"),
    ("flat.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n2 0 0\n3 0 1 2\n", "zero area"),
    ("nonormals.xyz", "0 0 0\n1 0 0\n0 1 0\n", "no normals"),
    ("nan.xyz", "0 0 nan 0 0 1\n1 0 0 0 0 1\n", "NaN"),
    ("zero.xyz", "0 0 0 0 0 0\n1 0 0 0 0 1\n", "zero"),
    ("cols.xyz", "0 0 0 1 1\n", "columns"),
    ("bad.npz", "not a zip", "cannot read"),
])
def test_bad_files_raise_clear_errors(tmp_path, name, content, match):
    path = _write(tmp_path / name, content)
    with pytest.raises(geo.ShapeFileError, match=match) as err:
        geo.load_shape(path)
    assert name in str(err.value)


def test_missing_file_and_unknown_names(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        geo.load_shape(tmp_path / "nothere.obj")
    with pytest.raises(ValueError, match="built-in shapes are"):
        geo.load_shape("dragon")
    _write(tmp_path / "shape.step", "x")
    with pytest.raises(geo.ShapeFileError, match="unsupported format"):
        geo.load_shape(tmp_path / "shape.step")
    with pytest.raises(TypeError):
        geo.load_shape(3)
