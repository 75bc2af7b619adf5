"""The analytic scene: exact distances, sphere tracing against closed-form intersections, shading
against the Lambert and Blinn–Phong formulas."""

import math

import numpy as np
import pytest
import torch

from pinr.render import Box, Camera, Capsule, Cylinder, Light, Scene, Sphere, Torus, default_scene, look_at

F64 = torch.float64

PRIMITIVES = {
    "sphere": Sphere((0.2, -0.1, 0.1), 0.6),
    "box": Box((0.1, 0.0, -0.1), (0.5, 0.3, 0.4)),
    "rounded box": Box((0.1, 0.0, -0.1), (0.5, 0.3, 0.4), rounding=0.1),
    "torus": Torus((0.0, 0.1, 0.0), 0.5, 0.15, axis=(0.3, -0.5, 0.8)),
    "capsule": Capsule((-0.5, 0.2, -0.4), (0.4, -0.1, 0.5), 0.2),
    "cylinder": Cylinder((-0.3, 0.2, -0.5), (0.3, -0.2, 0.4), 0.3),
}

_ring = np.cross(PRIMITIVES["torus"].axis, [1.0, 0.0, 0.0])
INSIDE = {"sphere": (0.2, -0.1, 0.1), "box": (0.5, 0.25, 0.2), "rounded box": (0.5, 0.25, 0.2),
          "torus": PRIMITIVES["torus"].center + 0.5 * _ring / np.linalg.norm(_ring),
          "capsule": (-0.6, 0.2, -0.5), "cylinder": (0.0, 0.0, -0.05)}


def _camera(eye=(2.5, 1.2, 1.6), size=24):
    return Camera.from_fov(size, size, math.radians(45), look_at(eye))


@pytest.mark.parametrize("name", list(PRIMITIVES))
def test_distances_are_exact_eikonal_and_negative_inside(name):
    prim = PRIMITIVES[name]
    g = torch.Generator().manual_seed(1)
    x = (2 * torch.rand(2000, 3, generator=g, dtype=F64) - 1).requires_grad_(True)
    (grad,) = torch.autograd.grad(prim.distance(x).sum(), x)
    # an exact signed distance has |grad f| = 1 almost everywhere
    assert torch.allclose(grad.norm(dim=-1), torch.ones(2000, dtype=F64), atol=1e-9)
    inside = torch.tensor(INSIDE[name], dtype=F64)[None]
    assert prim.distance(inside).item() < 0
    # the extent holds the solid: sample it densely, nothing negative outside
    e = prim.extent()
    y = torch.tensor(e[:, 0] - 0.3 + (e[:, 1] - e[:, 0] + 0.6) * np.random.default_rng(0).random((20000, 3)))
    outside = ((y.numpy() < e[:, 0]) | (y.numpy() > e[:, 1])).any(-1)
    assert (prim.distance(y)[torch.as_tensor(outside)] >= -1e-12).all()


def _sphere_hits(o, d, c, r):
    oc = o - c
    b = (d * oc).sum(-1)
    disc = b**2 - ((oc * oc).sum(-1) - r**2)
    t = -b - torch.sqrt(disc.clamp(min=0))
    return torch.where(disc > 0, t, torch.full_like(t, math.inf)), disc


def test_sphere_tracing_a_sphere_finds_the_analytic_intersection():
    c, r = torch.tensor([0.2, -0.1, 0.1], dtype=F64), 0.6
    scene = Scene((Sphere(c.numpy(), r),))
    cam = _camera()
    out = scene.render(cam, samples=1, dtype=F64, tolerance=1e-10, max_steps=400, background=(0, 0, 0))
    o, d = cam.rays(dtype=F64)
    t_exact, disc = _sphere_hits(o, d, c, r)
    depth, alpha = out["depth"].reshape(-1), out["alpha"].reshape(-1)
    hit = torch.isfinite(depth)
    assert hit.sum() > 100 and (~hit).sum() > 100  # the sphere fills part of the picture
    assert torch.allclose(depth[hit], t_exact[hit], atol=1e-8, rtol=0)
    assert not hit[disc < 0].any()  # every analytic miss is a miss
    assert hit[disc > 1e-3].all()  # every clear analytic hit is a hit (grazing rays may exhaust their steps)
    assert torch.equal(alpha, hit.to(F64))
    assert torch.equal(out["rgb"].reshape(-1, 3)[~hit], torch.zeros(int((~hit).sum()), 3, dtype=F64))


def test_sphere_tracing_a_box_finds_the_slab_intersection():
    box = PRIMITIVES["box"]
    cam = _camera(eye=(1.8, -2.2, 1.4))
    depth = Scene((box,)).render(cam, samples=1, dtype=F64, tolerance=1e-10, max_steps=400)["depth"].reshape(-1)
    o, d = cam.rays(dtype=F64)
    lo, hi = torch.tensor(box.center - box.half_size), torch.tensor(box.center + box.half_size)
    ta, tb = (lo - o) / d, (hi - o) / d
    t0, t1 = torch.minimum(ta, tb).max(-1).values, torch.maximum(ta, tb).min(-1).values
    clear = t1 - t0 > 1e-3
    hit = torch.isfinite(depth)
    assert clear.sum() > 50
    assert torch.allclose(depth[clear], t0[clear], atol=1e-8, rtol=0)
    assert not hit[t1 < t0].any()


@pytest.mark.parametrize("name", ["torus", "rounded box", "capsule", "cylinder"])
def test_sphere_tracing_stops_at_the_first_surface_crossing(name):
    prim = PRIMITIVES[name]
    cam = _camera(size=16)
    depth = Scene((prim,)).render(cam, samples=1, dtype=F64, tolerance=1e-10, max_steps=400)["depth"].reshape(-1)
    o, d = cam.rays(dtype=F64)
    hit = torch.isfinite(depth)
    assert hit.sum() > 10
    p = o[hit] + depth[hit, None] * d[hit]
    assert prim.distance(p).abs().max() < 1e-8
    # no earlier crossing: the distance is positive all along the ray before the hit
    s = torch.linspace(0, 1, 400, dtype=F64)[:-1]
    before = o[hit, None] + (s[None, :, None] * depth[hit, None, None]) * d[hit, None]
    assert (prim.distance(before.reshape(-1, 3)) > 0).all()


def test_normals_are_unit_and_outward():
    c, r = np.array([0.2, -0.1, 0.1]), 0.6
    g = torch.Generator().manual_seed(2)
    u = torch.randn(500, 3, generator=g, dtype=F64)
    u = u / u.norm(dim=-1, keepdim=True)
    p = torch.tensor(c) + r * u
    n = Scene((Sphere(c, r),)).normal(p)
    assert torch.allclose(n, u, atol=1e-12)
    scene = default_scene()
    x = 2 * torch.rand(2000, 3, generator=g, dtype=F64) - 1
    n = scene.normal(x)
    assert torch.allclose(n.norm(dim=-1), torch.ones(2000, dtype=F64))
    # outward: stepping along the normal increases the distance
    assert (scene.sdf(x + 1e-4 * n) > scene.sdf(x)).all()


def test_lambert_shading_is_albedo_times_cosine_plus_ambient():
    c, r, albedo = torch.tensor([0.0, 0.1, -0.1], dtype=F64), 0.7, np.array([0.9, 0.5, 0.2])
    light = np.array([0.4, -0.3, 0.8]) / np.linalg.norm([0.4, -0.3, 0.8])
    scene = Scene((Sphere(c.numpy(), r, albedo=albedo),), lights=(Light(light, 0.8),), ambient=0.1, specular=0.0)
    cam = _camera()
    out = scene.render(cam, samples=1, dtype=F64, tolerance=1e-10, max_steps=400, background=(0.0, 0.0, 1.0))
    o, d = cam.rays(dtype=F64)
    t, _ = _sphere_hits(o, d, c, r)
    hit = torch.isfinite(out["depth"].reshape(-1))
    n = (o[hit] + t[hit, None] * d[hit] - c) / r
    expected = torch.tensor(albedo) * (0.1 + 0.8 * (n @ torch.tensor(light)).clamp(min=0))[:, None]
    rgb = out["rgb"].reshape(-1, 3)
    assert torch.allclose(rgb[hit], expected, atol=1e-6)
    assert torch.equal(rgb[~hit], torch.tensor([0.0, 0.0, 1.0], dtype=F64).expand(int((~hit).sum()), 3))


def test_blinn_phong_highlight_follows_the_closed_form_and_the_viewer():
    albedo, light = np.array([0.3, 0.4, 0.5]), np.array([0.0, 0.0, 1.0])
    scene = Scene((Sphere((0, 0, 0), 0.5, albedo=albedo),), lights=(Light(light, 0.6),), ambient=0.05,
                  specular=0.3, shininess=16)
    g = torch.Generator().manual_seed(3)
    n = torch.randn(300, 3, generator=g, dtype=F64)
    n = n / n.norm(dim=-1, keepdim=True)
    v = torch.randn(300, 3, generator=g, dtype=F64)
    v = v / v.norm(dim=-1, keepdim=True)
    rgb = scene.shade(0.5 * n, -v)
    lt = torch.tensor(light)
    h = (lt + v) / (lt + v).norm(dim=-1, keepdim=True)
    cos = n @ lt
    spec = torch.where(cos > 0, 0.6 * (n * h).sum(-1).clamp(min=0) ** 16, torch.zeros_like(cos))
    expected = (torch.tensor(albedo) * (0.05 + 0.6 * cos.clamp(min=0))[:, None] + 0.3 * spec[:, None]).clamp(0, 1)
    assert torch.allclose(rgb, expected, atol=1e-7)
    # the same surface point looks different from another direction: the scene is view-dependent
    top = torch.tensor([[0.0, 0.0, 0.5]], dtype=F64)
    head_on, slanted = scene.shade(top, torch.tensor([[0.0, 0.0, -1.0]], dtype=F64)), scene.shade(
        top, torch.tensor([[0.8, 0.0, -0.6]], dtype=F64))
    assert (head_on - slanted).abs().max() > 0.1


def test_supersampling_gives_fractional_alpha_on_silhouettes_only():
    scene = Scene((Sphere((0, 0, 0), 0.6),))
    out = scene.render(_camera(size=20), samples=3)
    alpha, depth = out["alpha"], out["depth"]
    assert ((alpha > 0) & (alpha < 1)).any() and (alpha == 1).sum() > 20
    assert torch.equal(torch.isinf(depth), alpha == 0)
    # a partly covered pixel is the alpha-weighted mix of the surface and the white background
    assert (out["rgb"][(alpha > 0) & (alpha < 1)] <= 1).all()


def test_default_scene_is_inside_its_bounds_and_varied():
    scene = default_scene()
    assert len({type(p) for p in scene.primitives}) >= 4
    assert len({tuple(p.albedo) for p in scene.primitives}) == len(scene.primitives)
    g = np.linspace(-1, 1, 41)
    a, b = np.meshgrid(g, g, indexing="ij")
    faces = []
    for axis in range(3):
        for side in (-1.0, 1.0):
            f = np.zeros((a.size, 3))
            f[:, axis], f[:, (axis + 1) % 3], f[:, (axis + 2) % 3] = side, a.ravel(), b.ravel()
            faces.append(f)
    assert (scene.sdf(torch.tensor(np.concatenate(faces))) > 0).all()
    out = scene.render(_camera(eye=(3.0, -2.0, 2.0), size=32))
    assert 0.1 < out["alpha"].mean() < 0.9 and out["rgb"].std() > 0.1


def test_bad_scenes_are_named():
    with pytest.raises(ValueError, match="Sphere radius"):
        Sphere((0, 0, 0), -1)
    with pytest.raises(ValueError, match="minor radius"):
        Torus((0, 0, 0), 0.2, 0.3)
    with pytest.raises(ValueError, match="albedo"):
        Box((0, 0, 0), 0.2, albedo=(2, 0, 0))
    with pytest.raises(ValueError, match="rounding"):
        Box((0, 0, 0), 0.2, rounding=0.3)
    with pytest.raises(ValueError, match="outside the bounds"):
        Scene((Sphere((0.9, 0, 0), 0.3),))
    with pytest.raises(ValueError, match="at least one primitive"):
        Scene(())
    with pytest.raises(ValueError, match="samples"):
        default_scene().render(_camera(), samples=0)
