"""Triangle meshes: exact signed distance against analytic distances, sampling, occupancy, bad meshes."""

import warnings

import numpy as np
import pytest

import pinr as pr
from pinr import geometry as geo


def test_box_mesh_distance_equals_the_analytic_box_distance(make_box_mesh, rng):
    """A box is exactly its 12 triangles: the mesh distance is the analytic one to rounding."""
    half = (0.6, 0.4, 0.25)
    mesh = geo.TriangleMesh(*make_box_mesh(half))
    assert mesh.closed
    p = np.concatenate([rng.uniform(-1, 1, (4000, 3)), rng.uniform(-0.3, 0.3, (1000, 3)) * half])
    box = pr.Box(**{k: (-h, h) for k, h in zip("xyz", half)})
    np.testing.assert_allclose(mesh.signed_distance(p), box.signed_distance(p), atol=1e-12)


def test_sphere_mesh_distance_is_within_the_mesh_sphere_gap(make_icosphere, rng):
    """Vertices on the sphere of radius R: the two surfaces are H = R - (smallest face-plane
    distance to the centre) apart, so |d_mesh - d_sphere| <= H everywhere and the signs agree
    farther than H from the sphere."""
    R = 0.7
    v, f = make_icosphere(3, R)
    mesh = geo.TriangleMesh(v, f)
    tri = v[f]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    H = R - np.min(np.abs((n / np.linalg.norm(n, axis=-1, keepdims=True) * tri[:, 0]).sum(-1)))
    assert 0 < H < 0.01
    p = np.concatenate([rng.uniform(-1, 1, (20000, 3)), pr.Ball((0, 0, 0), R).sample_surface(5000, rng)[0]
                        * (1 + rng.laplace(0, 0.01, (5000, 1)))])
    exact = pr.Ball((0, 0, 0), R).signed_distance(p)
    d = mesh.signed_distance(p)
    assert np.abs(d - exact).max() <= H + 1e-12
    far = np.abs(exact) > H
    np.testing.assert_array_equal(np.sign(d[far]), np.sign(exact[far]))
    # and the distance is 0 on the mesh itself, with the face normals pointing outwards
    s, nrm = mesh.sample_surface(2000, rng)
    assert np.abs(mesh.signed_distance(s)).max() < 1e-12
    assert np.all((nrm * s).sum(-1) > 0)


def test_mesh_signed_distance_is_eikonal(make_icosphere, rng):
    mesh = geo.TriangleMesh(*make_icosphere(2, 0.6))
    p = rng.uniform(-1, 1, (4000, 3))
    h = 1e-6
    g = np.stack([(mesh.signed_distance(p + h * e) - mesh.signed_distance(p - h * e)) / (2 * h) for e in np.eye(3)], -1)
    norm = np.linalg.norm(g, axis=-1)
    assert norm.max() <= 1 + 1e-5 and np.mean(np.abs(norm - 1) < 1e-5) > 0.98


def test_ray_parity_occupancy_equals_the_sign_of_the_distance(make_icosphere, make_box_mesh):
    """Rays through shared edges and vertices (the box's vertices sit on lattice planes) count once."""
    for v, f in (make_icosphere(2, 0.6), make_box_mesh((0.5, 0.5, 0.5)), make_box_mesh((0.6, 0.4, 0.25))):
        mesh = geo.TriangleMesh(v, f)
        res = 32
        occ = mesh.occupancy(res)
        sdf = mesh.sdf_grid(res)
        decided = np.abs(sdf) > 1e-9
        np.testing.assert_array_equal(occ[decided], (sdf <= 0)[decided])


def test_surface_samples_are_area_uniform(make_box_mesh, rng):
    mesh = geo.TriangleMesh(*make_box_mesh((1.0, 0.5, 0.25)))  # faces of areas 2, 1, 0.5 (x2 each)
    _, nrm = mesh.sample_surface(200000, rng)
    share = np.abs(nrm).mean(0)  # fraction of samples on the faces normal to x, y, z
    np.testing.assert_allclose(share, np.array([0.5, 1.0, 2.0]) / 3.5, atol=0.005)


def test_inward_faces_are_flipped_and_duplicates_welded(make_icosphere, rng):
    v, f = make_icosphere(2, 0.6)
    p = rng.uniform(-1, 1, (500, 3))
    ref = geo.TriangleMesh(v, f).signed_distance(p)
    flipped = geo.TriangleMesh(v, f[:, ::-1])
    np.testing.assert_allclose(flipped.signed_distance(p), ref, atol=1e-12)
    soup = geo.TriangleMesh(v[f].reshape(-1, 3), np.arange(3 * len(f)).reshape(-1, 3))  # STL-style facets
    assert soup.closed and len(soup.vertices) == len(v)


def test_open_and_nonmanifold_meshes_warn(make_icosphere):
    v, f = make_icosphere(1, 0.6)
    with pytest.warns(geo.MeshWarning, match="open"):
        mesh = geo.TriangleMesh(v, f[:-3])
    assert not mesh.closed
    assert mesh.occupancy(16).any()  # winding numbers still give an inside
    extra = np.array([[f[0, 0], f[0, 1], len(v)]])
    with pytest.warns(geo.MeshWarning, match="non-manifold"):
        geo.TriangleMesh(np.vstack([v, [[0, 0, 0.9]]]), np.vstack([f, extra]))


@pytest.mark.parametrize("vertices, faces, match", [
    (np.zeros((0, 3)), np.zeros((0, 3), dtype=int), "shape"),
    ([[0, 0, 0], [1, 0, 0], [0, np.nan, 0]], [[0, 1, 2]], "NaN"),
    ([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 3]], "indices"),
    ([[0, 0, 0], [1, 0, 0], [2, 0, 0]], [[0, 1, 2]], "zero area"),
    ([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0.0, 1.0, 2.0]], "integer"),
])
def test_bad_meshes_raise_clear_errors(vertices, faces, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", geo.MeshWarning)
        with pytest.raises(ValueError, match=match):
            geo.TriangleMesh(vertices, faces)
