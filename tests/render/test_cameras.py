"""Cameras: rays leave the centre through the pixel centres and project back to their pixels."""

import math

import numpy as np
import pytest
import torch

from pinr.render import Camera, look_at, orbit_poses, rays_of


@pytest.mark.parametrize("eye", [(3.0, 1.0, 2.0), (0.0, -4.0, 0.5), (-1.0, 2.0, -3.0)])
def test_rays_round_trip_through_projection(eye):
    cam = Camera.from_fov(9, 7, math.radians(50), look_at(eye))
    o, d = cam.rays(dtype=torch.float64)
    assert torch.allclose(d.norm(dim=-1), torch.ones(63, dtype=torch.float64))
    for t in (0.5, 2.0, 7.0):
        uv, dist = cam.project(o + t * d)
        j, i = np.meshgrid(np.arange(7), np.arange(9), indexing="ij")
        assert np.allclose(uv.numpy(), np.stack([i.ravel() + 0.5, j.ravel() + 0.5], -1), atol=1e-9)
        assert torch.allclose(dist, torch.full_like(dist, t))


def test_opengl_convention_centre_ray_looks_down_minus_z():
    cam = Camera(4, 4, 10.0, np.eye(4))
    _, d = cam.rays(dtype=torch.float64, pixels=torch.tensor([[2.0, 2.0], [4.0, 2.0], [2.0, 0.0]]))
    assert torch.allclose(d[0], torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64))
    assert d[1, 0] > 0 and d[2, 1] > 0  # right of centre → +x, top row → +y


def test_focal_from_field_of_view_and_resize():
    cam = Camera.from_fov(100, 80, 2 * math.atan(0.5), np.eye(4))
    assert cam.focal == pytest.approx(100.0)
    assert cam.fov_x == pytest.approx(2 * math.atan(0.5))
    small = cam.resized(50, 40)
    assert small.focal == pytest.approx(50.0) and small.fov_x == pytest.approx(cam.fov_x)


def test_look_at_and_orbit_face_the_target():
    for pose in orbit_poses(5, radius=4.0, elevation=math.radians(20)):
        cam = Camera(5, 5, 5.0, pose)
        uv, dist = cam.project(torch.zeros(1, 3, dtype=torch.float64))
        assert np.allclose(uv.numpy(), [[2.5, 2.5]]) and dist.item() == pytest.approx(4.0)
    o, d = rays_of([Camera(2, 3, 2.0, np.eye(4)), Camera(4, 1, 2.0, np.eye(4))])
    assert o.shape == d.shape == (10, 3)


def test_points_behind_are_nan_and_bad_input_is_named():
    cam = Camera(4, 4, 4.0, np.eye(4))
    uv, _ = cam.project(torch.tensor([[0.0, 0.0, 1.0]]))
    assert torch.isnan(uv).all()
    with pytest.raises(ValueError, match="width"):
        Camera(0, 4, 4.0, np.eye(4))
    with pytest.raises(ValueError, match="orthonormal"):
        Camera(4, 4, 4.0, 2 * np.eye(4))
    with pytest.raises(ValueError, match="field of view"):
        Camera.from_fov(4, 4, 4.0, np.eye(4))
    with pytest.raises(ValueError, match="parallel"):
        look_at((0, 0, 3), up=(0, 0, 1))
