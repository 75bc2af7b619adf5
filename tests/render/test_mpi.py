"""The planes of a multiplane image: where rays cross them (on the planes, back to their pixels,
slab lengths along oblique rays), rendering a constant density through them (closed form), and
NeX's field (colour = k0 + Σ k_n H_n(v), density independent of the direction)."""

import math

import numpy as np
import pytest
import torch

from pinr.backbones import build_backbone
from pinr.render import Camera, Planes, PlaneSet, look_at
from pinr.render.pipeline import render_rays

BOX = np.array([[-1.0, 1.0], [-1.0, 1.0], [-1.0, 1.0]])


def reference(size=16):
    return Camera.from_fov(size, size, math.radians(40), look_at((0.0, -4.0, 0.0)))


def test_reference_rays_cross_every_plane_at_their_pixel():
    cam = reference()
    planes = PlaneSet(cam, BOX, 8, margin=0.0)
    # depths: the box spans 3..5 in front of the camera; slab edges evenly spaced in disparity
    np.testing.assert_allclose(planes.edges[[0, -1]], [3.0, 5.0])
    np.testing.assert_allclose(np.diff(1 / planes.edges), np.full(8, (1 / 5 - 1 / 3) / 8))
    np.testing.assert_allclose(1 / planes.depths, 0.5 * (1 / planes.edges[1:] + 1 / planes.edges[:-1]))
    o, d = cam.rays(dtype=torch.float64)
    s = planes.samples(o, d)
    p = s.points(o, d)
    f = torch.tensor(planes.axis)
    depth = (p - torch.tensor(planes.centre)) @ f
    centre_ray = (cam.height // 2) * cam.width + cam.width // 2
    assert int(s.counts[centre_ray]) == 8  # the central ray stays inside the box on every plane
    mask = s.ray == centre_ray
    torch.testing.assert_close(depth[mask], torch.tensor(planes.depths))
    # every sample projects back to the pixel of its ray
    uv, _ = cam.project(p)
    pix = torch.stack([s.ray % cam.width, s.ray // cam.width], -1).to(torch.float64) + 0.5
    torch.testing.assert_close(uv, pix)
    # slab lengths along the ray: thickness / cos
    cos = d[s.ray] @ f
    k = torch.searchsorted(torch.tensor(planes.depths), depth.contiguous() - 1e-9)
    torch.testing.assert_close(s.delta * cos, torch.tensor(np.diff(planes.edges))[k])
    assert torch.isin(depth.round(decimals=9), torch.tensor(planes.depths).round(decimals=9)).all()  # all on planes


def test_oblique_rays_cross_slabs_at_their_length_and_misses_have_none():
    cam = reference()
    planes = PlaneSet(cam, BOX, 4, margin=0.0)
    o = torch.tensor([[0.3, -4.0, 0.2], [0.0, -4.0, 0.0], [5.0, -4.0, 0.0]], dtype=torch.float64)
    d = torch.tensor([[0.1, 1.0, -0.05], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    d = d / d.norm(dim=1, keepdim=True)
    s = planes.samples(o, d)
    assert s.counts.tolist() == [4, 4, 0]  # the third ray passes beside the box
    t = s.t[s.ray == 0]
    hit = o[0] + t[:, None] * d[0]
    torch.testing.assert_close(hit[:, 1] + 4.0, torch.tensor(planes.depths))  # on the planes (axis = +y)
    torch.testing.assert_close(s.delta[s.ray == 0] * d[0, 1], torch.tensor(np.diff(planes.edges)))


def test_constant_density_through_planes_matches_the_closed_form():
    cam = reference(9)
    planes = PlaneSet(cam, BOX, 16, margin=0.0)
    sigma, colour = 0.7, torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)
    background = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64)

    def field(points, directions):
        return torch.full((points.shape[0],), sigma, dtype=points.dtype), colour.expand(points.shape[0], 3)

    o, d = cam.rays(dtype=torch.float64)
    c = (cam.height // 2) * cam.width + cam.width // 2
    o, d = o[c:c + 1], d[c:c + 1]
    r = render_rays(field, o, d, near=0.0, far=10.0, bounds=BOX, quadrature=Planes(planes=16), background=background,
                    planes=planes).final
    length = (planes.edges[-1] - planes.edges[0]) / float(d[0] @ torch.tensor(planes.axis))
    opacity = 1 - math.exp(-sigma * length)
    torch.testing.assert_close(r.opacity, torch.tensor([opacity], dtype=torch.float64))
    torch.testing.assert_close(r.colour[0], opacity * colour + (1 - opacity) * background)


def test_planes_refuse_bad_statements():
    with pytest.raises(ValueError, match="planes must be an integer >= 2"):
        Planes(planes=1)
    with pytest.raises(TypeError, match="Camera"):
        Planes(reference="cam0")
    with pytest.raises(ValueError, match="margin"):
        Planes(margin=-0.1)
    inside = Camera.from_fov(8, 8, math.radians(40), look_at((0.0, -0.5, 0.0)))
    with pytest.raises(ValueError, match="in front of the reference"):
        PlaneSet(inside, BOX, 4)


def test_nex_colour_is_a_combination_of_basis_functions_of_the_direction():
    torch.manual_seed(0)
    net = build_backbone("nex", 3, 4, width=16, depth=2, levels=3, basis=5, basis_width=8).double()
    x = torch.rand(7, 3, dtype=torch.float64) * 2 - 1
    v = torch.nn.functional.normalize(torch.randn(7, 3, dtype=torch.float64), dim=1)
    h = net.encoding(x)
    for layer in net.layers:
        h = net.act(layer(h))
    raw = net.head(h)  # density, then k_0 (3 channels), k_1 (3), ..., k_5 (3)
    k = raw[:, 1:].reshape(7, 6, 3)
    hb = net.basis(v)
    expected = k[:, 0] + torch.einsum("nbc,nb->nc", k[:, 1:], hb)
    out = net(x, v)
    torch.testing.assert_close(out[:, 1:], expected)
    torch.testing.assert_close(out[:, 0], raw[:, 0])
    other = net(x, torch.nn.functional.normalize(torch.randn(7, 3, dtype=torch.float64), dim=1))
    torch.testing.assert_close(other[:, 0], out[:, 0])  # density: the point's alone
    assert hb.abs().max() <= 1.0
    with pytest.raises(ValueError, match="basis"):
        build_backbone("nex", 3, 4, basis=0)
