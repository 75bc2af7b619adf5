"""Posed pictures: Views, the Blender layout (round trip, compositing, errors) and pinr's rendered
datasets (cameras face the scene, held-out poses, determinism)."""

import json
import math

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from pinr.render import Camera, Views, forward_facing_views, load_blender, look_at, synthetic_views, write_blender

F64 = torch.float64


@pytest.fixture(scope="module")
def tiny():
    """A small rendered dataset: 12 x 10 pixels, 5 training and 2 test views."""
    return synthetic_views(size=(12, 10), n_train=5, n_test=2, seed=3)


def _views(n=3, w=6, h=4, *, seed=0, alpha=True, depth=False):
    rng = np.random.default_rng(seed)
    cams = [Camera.from_fov(w, h, math.radians(50), look_at((3 * math.cos(k), 3 * math.sin(k), 1.0)))
            for k in range(n)]
    return Views(rng.random((n, h, w, 3)), cams, 1.0, 5.0, background=(1.0, 1.0, 1.0), bounds=[[-1, 1]] * 3,
                 alpha=rng.random((n, h, w)) if alpha else None,
                 depth=np.where(rng.random((n, h, w)) < 0.3, np.inf, 2 + rng.random((n, h, w))) if depth else None)


# ---------------------------------------------------------------- Views
def test_rays_line_up_with_pixels():
    views = _views(n=2, w=5, h=3)
    o, d, c = views.rays(dtype=F64)
    assert o.shape == d.shape == c.shape == (30, 3) and c.dtype == F64
    for n, cam in enumerate(views.cameras):
        for j in range(3):
            for i in range(5):
                k = (n * 3 + j) * 5 + i
                uv, dist = cam.project((o[k] + 2.5 * d[k])[None])
                assert np.allclose(uv.numpy(), [[i + 0.5, j + 0.5]], atol=1e-9)
                assert dist.item() == pytest.approx(2.5)
                assert torch.equal(c[k], torch.tensor(views.images[n, j, i], dtype=F64))


def test_views_are_read_only_and_validated():
    views = _views()
    assert views.images.dtype == np.float32 and not views.images.flags.writeable and len(views) == 3
    with pytest.raises(ValueError, match="one Camera per image"):
        Views(views.images, views.cameras[:2], 1.0, 5.0)
    with pytest.raises(ValueError, match="camera 0 is 7x4"):
        Views(views.images, [views.cameras[0].resized(7, 4)] + list(views.cameras[1:]), 1.0, 5.0)
    with pytest.raises(ValueError, match="near < far"):
        Views(views.images, views.cameras, 5.0, 1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Views(views.images * 255, views.cameras, 1.0, 5.0)
    with pytest.raises(ValueError, match="alpha"):
        Views(views.images, views.cameras, 1.0, 5.0, alpha=np.ones((3, 4, 5)))


def test_subset_keeps_the_chosen_views_in_order():
    views = _views(n=4, depth=True)
    sub = views.subset([3, 1])
    assert len(sub) == 2 and sub.cameras == (views.cameras[3], views.cameras[1])
    assert np.array_equal(sub.images, views.images[[3, 1]]) and np.array_equal(sub.alpha, views.alpha[[3, 1]])
    assert np.array_equal(sub.depth, views.depth[[3, 1]])
    assert len(views.subset(slice(None, None, 2))) == 2
    assert views.subset(np.array([True, False, False, True])).cameras == (views.cameras[0], views.cameras[3])
    with pytest.raises(ValueError, match="indices must lie"):
        views.subset([4])
    with pytest.raises(ValueError, match="no views"):
        views.subset([])


def test_resized_averages_blocks_and_rescales_cameras():
    views = _views(n=2, w=8, h=6, depth=True)
    half = views.resized(4, 3)
    block = views.images.astype(np.float64).reshape(2, 3, 2, 4, 2, 3).mean(axis=(2, 4))
    assert np.allclose(half.images, block, atol=1e-6)
    assert half.cameras[0].focal == pytest.approx(views.cameras[0].focal / 2)
    assert np.array_equal(half.cameras[1].pose, views.cameras[1].pose)
    d = views.depth.reshape(2, 3, 2, 4, 2)
    finite = np.isfinite(d)
    expected = np.where(finite.any(axis=(2, 4)), np.where(finite, d, 0).sum(axis=(2, 4))
                        / np.maximum(finite.sum(axis=(2, 4)), 1), np.inf)
    assert np.allclose(half.depth, expected, atol=1e-5)
    odd = views.resized(5, 4)  # not whole factors: anti-aliased bilinear resize
    assert odd.images.shape == (2, 4, 5, 3) and odd.alpha.shape == odd.depth.shape == (2, 4, 5)
    assert abs(odd.images.mean() - views.images.mean()) < 0.05
    # the resized camera sees the same picture: the ray of a pixel centre hits the same world point
    _, dirs = odd.cameras[0].rays(dtype=F64, pixels=torch.tensor([[2.5, 2.0]]))
    _, big = views.cameras[0].rays(dtype=F64, pixels=torch.tensor([[4.0, 3.0]]))
    assert torch.allclose(dirs, big)


# ---------------------------------------------------------------- the Blender layout
def test_write_then_load_round_trips(tiny, tmp_path):
    write_blender(tmp_path, tiny)
    assert sorted(p.name for p in tmp_path.glob("transforms_*.json")) == ["transforms_test.json",
                                                                          "transforms_train.json",
                                                                          "transforms_val.json"]
    for split, views in tiny.items():
        back = load_blender(tmp_path, split)
        assert len(back) == len(views) and back.near == pytest.approx(views.near) and back.far == views.far
        assert np.allclose(back.bounds, views.bounds)
        # 8-bit PNGs: alpha within half a level; the colour, re-composited, within one level
        assert np.abs(back.alpha - views.alpha).max() <= 0.5 / 255 + 1e-6
        assert np.abs(back.images - views.images).max() <= 1 / 255 + 1e-6
        for a, b in zip(back.cameras, views.cameras):
            assert np.allclose(a.pose, b.pose, atol=1e-12) and a.focal == pytest.approx(b.focal, rel=1e-12)
    png = iio.imread(tmp_path / "train" / "r_0.png")
    assert png.shape == (10, 12, 4) and png.dtype == np.uint8


def test_rgba_written_on_black_recomposites_on_white(tmp_path):
    """Un-compositing (c - b(1 - a)) / a and compositing again is what rendering on another background gives."""
    black = synthetic_views(size=8, n_train=2, n_test=1, background=(0.0, 0.0, 0.0))
    white = synthetic_views(size=8, n_train=2, n_test=1, background=(1.0, 1.0, 1.0))
    write_blender(tmp_path, {"train": black["train"]})
    back = load_blender(tmp_path, background=(1.0, 1.0, 1.0))
    partial = (white["train"].alpha > 0) & (white["train"].alpha < 1)
    assert partial.any()  # silhouettes with fractional alpha are part of the check
    assert np.abs(back.images - white["train"].images).max() <= 1.5 / 255


def _write_rgba(tmp_path, rgba: np.ndarray, *, ext=False, fov=0.8):
    frames = []
    for k, img in enumerate(rgba):
        (tmp_path / "train").mkdir(exist_ok=True)
        iio.imwrite(tmp_path / "train" / f"r_{k}.png", img)
        frames.append({"file_path": f"./train/r_{k}" + (".png" if ext else ""),
                       "transform_matrix": look_at((4.0, 0.5 * k, 1.0)).tolist()})
    (tmp_path / "transforms_train.json").write_text(json.dumps({"camera_angle_x": fov, "frames": frames}))


@pytest.mark.parametrize("ext", [False, True])
@pytest.mark.parametrize("background", [(1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (0.2, 0.5, 0.9)])
def test_rgba_is_composited_in_closed_form(tmp_path, ext, background):
    rgba = np.random.default_rng(5).integers(0, 256, (3, 4, 6, 4), dtype=np.uint8)
    _write_rgba(tmp_path, rgba, ext=ext)
    views = load_blender(tmp_path, background=background)
    rgb, a = rgba[..., :3] / 255, rgba[..., 3:] / 255
    assert np.allclose(views.images, rgb * a + np.asarray(background) * (1 - a), atol=1e-6)
    assert np.allclose(views.alpha, a[..., 0], atol=1e-7)
    assert views.cameras[0].fov_x == pytest.approx(0.8) and (views.near, views.far) == (2.0, 6.0)
    assert np.array_equal(views.bounds, [[-1.5, 1.5]] * 3)
    assert views.depth is None


def test_rgb_pictures_load_without_alpha(tmp_path):
    rgb = np.random.default_rng(6).integers(0, 256, (2, 4, 6, 3), dtype=np.uint8)
    _write_rgba(tmp_path, rgb)
    views = load_blender(tmp_path, background=(0.0, 0.0, 0.0))
    assert views.alpha is None and np.allclose(views.images, rgb / 255, atol=1e-7)


def test_max_views_and_size(tmp_path):
    rgba = np.random.default_rng(7).integers(0, 256, (5, 8, 12, 4), dtype=np.uint8)
    _write_rgba(tmp_path, rgba)
    every = load_blender(tmp_path)
    two = load_blender(tmp_path, max_views=2)
    assert [c.pose[1, 3] for c in two.cameras] == [0.0, 1.0]  # frames 0 and 2 of 5, evenly spread
    assert len(load_blender(tmp_path, max_views=9)) == 5
    small = load_blender(tmp_path, size=(6, 4))
    assert small.images.shape == (5, 4, 6, 3) and small.cameras[0].focal == pytest.approx(every.cameras[0].focal / 2)
    assert np.allclose(small.images, every.images.reshape(5, 4, 2, 6, 2, 3).mean(axis=(2, 4)), atol=1e-6)
    assert load_blender(tmp_path, size=4).images.shape == (5, 4, 4, 3)
    assert load_blender(tmp_path, near=0.5, far=9.0, bounds=[[-1, 1]] * 3).near == 0.5


def test_loader_errors_name_the_culprit(tmp_path):
    with pytest.raises(FileNotFoundError, match="no dataset folder"):
        load_blender(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="transforms_train.json is missing"):
        load_blender(tmp_path)
    rgba = np.random.default_rng(8).integers(0, 256, (3, 4, 6, 4), dtype=np.uint8)
    _write_rgba(tmp_path, rgba)
    with pytest.raises(FileNotFoundError, match=r"transforms_val.json is missing \(found \['transforms_train"):
        load_blender(tmp_path, "val")
    (tmp_path / "train" / "r_1.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"frame 1: picture .*r_1.png is missing"):
        load_blender(tmp_path)
    iio.imwrite(tmp_path / "train" / "r_1.png", rgba[1, :3])
    with pytest.raises(ValueError, match="r_1.png is 6x3 but r_0.png is 6x4"):
        load_blender(tmp_path)
    iio.imwrite(tmp_path / "train" / "r_1.png", rgba[1])
    meta_path = tmp_path / "transforms_train.json"
    good = json.loads(meta_path.read_text())
    for patch, message in [({"camera_angle_x": "wide"}, "camera_angle_x"), ({"camera_angle_x": 4.0}, "camera_angle_x"),
                           ({"frames": []}, "frames must be a non-empty list"),
                           ({"frames": [{"transform_matrix": np.eye(4).tolist()}]}, "frame 0: needs a file_path"),
                           ({"frames": [{"file_path": "./train/r_0", "transform_matrix": [[1, 0]]}]},
                            "frame 0: transform_matrix must be a 4x4"),
                           ({"frames": [{"file_path": "./train/r_0", "transform_matrix": (2 * np.eye(4)).tolist()}]},
                            "frame 0: camera pose: the rotation part is not orthonormal"),
                           ({"near": "close"}, "near and far"), ({"bounds": [1, 2]}, "bounds must be")]:
        meta_path.write_text(json.dumps({**good, **patch}))
        with pytest.raises(ValueError, match=message):
            load_blender(tmp_path)
    meta_path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_blender(tmp_path)
    meta_path.write_text(json.dumps(good))
    with pytest.raises(ValueError, match="max_views"):
        load_blender(tmp_path, max_views=0)
    with pytest.raises(ValueError, match="size must be"):
        load_blender(tmp_path, size=(4, 0))


def test_writer_rejects_what_the_layout_cannot_hold(tmp_path):
    views = _views()
    with pytest.raises(ValueError, match="split names"):
        write_blender(tmp_path, {"../up": views})
    off = Views(views.images, [Camera(6, 4, 5.0, c.pose, cx=2.0) for c in views.cameras], 1.0, 5.0)
    with pytest.raises(ValueError, match="split .test. camera 0 differs"):
        write_blender(tmp_path, {"train": views, "test": off})
    assert not any(tmp_path.iterdir())


def test_rgb_views_round_trip_as_rgb(tmp_path):
    views = _views(alpha=False)
    load = load_blender(write_blender(tmp_path, {"train": views}))
    assert load.alpha is None and np.abs(load.images - views.images).max() <= 0.5 / 255 + 1e-6


# ---------------------------------------------------------------- rendered datasets
def _centre_of(cam: Camera):
    uv, _ = cam.project(torch.zeros(1, 3, dtype=F64))
    return uv[0].numpy()


def test_synthetic_views_face_the_scene_from_held_out_poses(tiny):
    assert set(tiny) == {"train", "val", "test"}
    assert (len(tiny["train"]), len(tiny["val"]), len(tiny["test"])) == (5, 2, 2)
    for views in tiny.values():
        assert views.images.shape[1:] == (10, 12, 3)
        assert views.near == pytest.approx(4 - math.sqrt(3)) and views.far == pytest.approx(4 + math.sqrt(3))
        for cam in views.cameras:
            assert np.allclose(_centre_of(cam), [6.0, 5.0], atol=1e-9)
            assert np.linalg.norm(cam.center) == pytest.approx(4.0) and cam.center[2] > 0
        for img, alpha, depth in zip(views.images, views.alpha, views.depth):
            assert img.std() > 0.05 and alpha.max() == 1.0  # the scene is in view, not a constant picture
            assert np.array_equal(np.isinf(depth), alpha == 0)
            assert (depth[np.isfinite(depth)] > views.near).all() and (depth[np.isfinite(depth)] < views.far).all()
    train = np.stack([c.center for c in tiny["train"].cameras])
    for split in ("val", "test"):
        for cam in tiny[split].cameras:
            assert np.linalg.norm(train - cam.center, axis=1).min() > 0.1
    assert np.linalg.norm(tiny["val"].cameras[0].center - tiny["test"].cameras[0].center) > 0.1


def test_synthetic_pixels_average_the_rays_of_a_twice_finer_picture():
    from pinr.render import default_scene

    views = synthetic_views(size=8, n_train=2, n_test=1)["train"]
    scene = default_scene()
    fine = [c.resized(16, 16) for c in views.cameras]
    out = scene.render_many(fine, samples=1)
    # at twice the resolution each pixel centre is one of the 2 x 2 rays; its depth lies on the surface
    o, d = fine[0].rays()
    hit = torch.isfinite(out["depth"][0].reshape(-1))
    assert scene.sdf(o[hit] + out["depth"][0].reshape(-1)[hit, None] * d[hit]).abs().max() < 1e-3
    coarse = Views(out["rgb"].numpy(), fine, views.near, views.far, depth=out["depth"].numpy(),
                   alpha=out["alpha"].numpy()).resized(8, 8)
    assert np.allclose(views.images, coarse.images, atol=1e-6) and np.array_equal(views.alpha, coarse.alpha)
    assert np.allclose(views.depth, coarse.depth, atol=1e-5, rtol=0)


def test_synthetic_views_are_deterministic_for_a_seed():
    a = synthetic_views(size=6, n_train=3, n_test=1, seed=1)
    b = synthetic_views(size=6, n_train=3, n_test=1, seed=1)
    c = synthetic_views(size=6, n_train=3, n_test=1, seed=2)
    assert np.array_equal(a["train"].images, b["train"].images)
    assert all(np.array_equal(x.pose, y.pose) for x, y in zip(a["train"].cameras, b["train"].cameras))
    assert not np.array_equal(a["train"].cameras[0].pose, c["train"].cameras[0].pose)
    assert np.array_equal(a["test"].images, c["test"].images)  # held-out turntable does not depend on the seed
    with pytest.raises(ValueError, match="radius"):
        synthetic_views(size=6, radius=1.0)
    with pytest.raises(ValueError, match="n_train"):
        synthetic_views(size=6, n_train=0)


def test_forward_facing_cameras_share_one_orientation_on_a_plane():
    views = forward_facing_views(size=10, n_train=6, n_test=4, spread=0.4, distance=4.0)
    train, test = views["train"], views["test"]
    ref = train.cameras[0]
    assert np.allclose(_centre_of(ref), [5.0, 5.0], atol=1e-9) and np.linalg.norm(ref.center) == pytest.approx(4.0)
    forward = -ref.pose[:3, 2]
    for cam in train.cameras + test.cameras:
        assert np.allclose(cam.pose[:3, :3], ref.pose[:3, :3])
        offset = cam.center - ref.center
        assert abs(offset @ forward) < 1e-12  # on the reference camera's plane
        assert np.abs(offset @ ref.pose[:3, :2]).max() <= 0.4 + 1e-12
    assert all(np.linalg.norm(c.center - ref.center) == pytest.approx(0.2) for c in test.cameras)
    assert views["val"].cameras == test.cameras
    # near and far bracket the scene's bounding sphere from every camera
    reach = math.sqrt(3)
    for cam in train.cameras:
        dist = np.linalg.norm(cam.center)
        assert train.near <= dist - reach and dist + reach <= train.far
    assert all(img.std() > 0.05 for img in train.images)
