"""Bundled images load offline; paths round-trip; errors name the alternatives."""

import sys

import numpy as np
import pytest
import skimage.io

from pinr.images import BUNDLED, load_image

COLOUR = {
    "astronaut", "cat", "chelsea", "coffee", "colorwheel", "hubble_deep_field",
    "immunohistochemistry", "logo", "retina", "rocket",
}


def test_bundled_contains_the_classics():
    for name in ("camera", "astronaut", "coffee", "cat", "chelsea", "rocket", "ascent",
                 "immunohistochemistry"):
        assert name in BUNDLED
    assert tuple(sorted(BUNDLED)) == BUNDLED


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_image_loads(name):
    img = load_image(name, size=32)
    expected = (32, 32, 3) if name in COLOUR else (32, 32)
    assert img.shape == expected
    assert img.dtype == np.float64
    assert np.isfinite(img).all()
    assert 0.0 <= img.min() and img.max() <= 1.0
    assert img.max() > img.min()


def test_native_size_and_range():
    img = load_image("camera", size=None)
    assert img.shape == (512, 512)
    assert img.min() == 0.0 and img.max() == 1.0
    np.testing.assert_array_equal(img * 255, np.round(img * 255))  # uint8 / 255 exactly


def test_size_int_crops_to_square_and_tuple_is_exact():
    assert load_image("coffee", size=None).shape == (400, 600, 3)
    assert load_image("coffee", size=64).shape == (64, 64, 3)
    assert load_image("coffee", size=(40, 60)).shape == (40, 60, 3)
    assert load_image("camera", size=(30, 50)).shape == (30, 50)


def test_int_size_is_centre_crop_of_the_native_image():
    native = load_image("coffee", size=None)
    same = load_image("coffee", size=400)  # no resize needed after the crop
    np.testing.assert_array_equal(same, native[:, 100:500])


@pytest.mark.parametrize("bad", [0, -3, (10,), (4, 0), 2.5, True])
def test_bad_size(bad):
    with pytest.raises(ValueError, match="size"):
        load_image("camera", size=bad)


def test_gray_options():
    rgb = load_image("astronaut", size=32)
    gray = load_image("astronaut", size=32, gray=True)
    assert gray.shape == (32, 32)
    assert 0.0 <= gray.min() and gray.max() <= 1.0
    cam3 = load_image("camera", size=32, gray=False)
    assert cam3.shape == (32, 32, 3)
    np.testing.assert_array_equal(cam3[..., 0], cam3[..., 2])
    np.testing.assert_array_equal(cam3[..., 0], load_image("camera", size=32))
    assert load_image("astronaut", size=32, gray=False).shape == rgb.shape
    assert load_image("camera", size=32, gray=True).shape == (32, 32)


def test_unknown_name_lists_bundled_names():
    with pytest.raises(ValueError) as info:
        load_image("cameraman")
    message = str(info.value)
    assert "camera" in message and "astronaut" in message and "ascent" in message
    assert "path" in message


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="astronaut"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(FileNotFoundError, match="path"):
        load_image(str(tmp_path / "nope.png"))


def test_unreadable_file_names_the_path(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not a png")
    with pytest.raises(ValueError, match="broken.png"):
        load_image(bad)


def test_png_round_trip_as_path(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    path = tmp_path / "img.png"
    skimage.io.imsave(path, pixels, check_contrast=False)
    img = load_image(path, size=None)
    np.testing.assert_array_equal(img, pixels / 255.0)
    assert load_image(str(path), size=None).shape == (20, 30, 3)
    gray = load_image(path, size=8, gray=True)
    assert gray.shape == (8, 8)


def test_rgba_file_drops_alpha(tmp_path):
    rgba = np.zeros((6, 7, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 128
    path = tmp_path / "rgba.png"
    skimage.io.imsave(path, rgba, check_contrast=False)
    img = load_image(path, size=None)
    assert img.shape == (6, 7, 3)
    np.testing.assert_array_equal(img[..., 0], 1.0)


def test_nan_file_is_rejected(tmp_path):
    data = np.full((5, 5), np.nan, dtype=np.float32)
    path = tmp_path / "nan.tif"
    skimage.io.imsave(path, data, check_contrast=False)
    with pytest.raises(ValueError, match="NaN"):
        load_image(path, size=None)


def test_ascent_without_pywavelets_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pywt", None)  # import pywt now raises ImportError
    monkeypatch.setitem(sys.modules, "pywt.data", None)
    with pytest.raises(ImportError, match="pip install pywavelets") as err:
        load_image("ascent")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("size", [1, 8])
def test_a_flat_image_trains_and_reports_undefined_metrics_as_null(tmp_path, size):
    """A constant PNG (1×1 or 8×8) is fitted to the end: PSNR and SSIM, undefined on a constant
    reference, are null in metrics.json instead of aborting the first validation."""
    import json

    import pinr as pr

    path = tmp_path / "flat.png"
    skimage.io.imsave(path, np.full((size, size), 128, np.uint8), check_contrast=False)
    case = pr.problems.get("image", image=str(path), size=size)
    pr.solve(case, steps=3, backbone_options={"width": 16, "depth": 1}, out=tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["steps"] == 3 and metrics["psnr"] is None and metrics["ssim"] is None
    assert metrics["rel_l2"] > 0 and metrics["max_abs"] > 0
    assert "reference_psnr" not in metrics["verdict"]["checks"]  # an undefined metric adds no check
