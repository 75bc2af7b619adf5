"""Metrics checked against closed-form values."""

import math

import numpy as np
import pytest

from pinr.metrics import affine_align, field_metrics, max_abs, psnr, rel_l2, ssim


@pytest.fixture
def ref():
    rng = np.random.default_rng(0)
    return rng.uniform(-1.0, 3.0, size=(32, 48))


def test_psnr_of_constant_offset_is_closed_form(ref):
    c = 0.05
    data_range = ref.max() - ref.min()
    expected = 10 * math.log10(data_range**2 / c**2)
    assert psnr(ref + c, ref) == pytest.approx(expected, rel=1e-12)
    assert psnr(ref + c, ref, data_range=2.0) == pytest.approx(10 * math.log10(4 / c**2), rel=1e-12)


def test_psnr_identical_is_inf_and_constant_ref_is_undefined():
    x = np.linspace(0, 1, 10)
    assert psnr(x, x) == math.inf
    assert psnr(np.ones(4), np.zeros(4)) is None  # range 0: undefined, not an error
    assert psnr(np.ones(4), np.zeros(4), data_range=1.0) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="data_range"):
        psnr(x, x, data_range=0.0)


def test_rel_l2_and_max_abs_scaling(ref):
    rng = np.random.default_rng(1)
    err = rng.normal(size=ref.shape)
    expected = np.linalg.norm(err) / np.linalg.norm(ref)
    assert rel_l2(ref + err, ref) == pytest.approx(expected, rel=1e-12)
    # relative: invariant under a common scale; linear in the error
    assert rel_l2(7 * (ref + err), 7 * ref) == pytest.approx(expected, rel=1e-12)
    assert rel_l2(ref + 3 * err, ref) == pytest.approx(3 * expected, rel=1e-12)
    assert rel_l2(2 * ref, ref) == pytest.approx(1.0, rel=1e-12)
    assert max_abs(ref + err, ref) == pytest.approx(np.abs(err).max(), rel=1e-12)


def test_rel_l2_complex_uses_modulus():
    ref = np.array([3 + 4j, 0.0])  # norm 5
    pred = ref + np.array([0.0, 1j])
    assert rel_l2(pred, ref) == pytest.approx(0.2, rel=1e-12)
    assert max_abs(pred, ref) == pytest.approx(1.0, rel=1e-12)


def test_rel_l2_zero_reference():
    assert rel_l2(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_l2(np.ones(3), np.zeros(3)) is None  # relative to a zero norm: undefined


@pytest.mark.parametrize("shape", [(1, 1), (2, 5), (16, 16), (16, 16, 3)])
def test_metrics_undefined_on_a_constant_reference_are_none(shape):
    """A flat image is a valid target: PSNR and SSIM (range 0) and, for a zero image, the
    relative L2 error (norm 0) are None — JSON null — while max_abs stays defined."""
    flat = np.full(shape, 0.25)
    pred = flat + np.random.default_rng(2).normal(scale=0.1, size=shape)
    out = field_metrics(pred, flat, image=True)
    assert out["psnr"] is None and out["ssim"] is None
    assert out["rel_l2"] == pytest.approx(np.linalg.norm(pred - flat) / np.linalg.norm(flat), rel=1e-12)
    assert out["max_abs"] == pytest.approx(np.abs(pred - flat).max(), rel=1e-12)
    zero = field_metrics(pred, np.zeros(shape), image=True)
    assert zero["rel_l2"] is None and zero["psnr"] is None
    if len(shape) == 2 and min(shape) >= 3:
        assert ssim(pred, flat) is None
    # with an explicit range both are defined again
    assert field_metrics(flat, flat, data_range=2.0)["psnr"] == math.inf


def test_affine_align_recovers_scale_and_offset(ref):
    a, b = 2.5, -0.75
    pred = (ref - b) / a
    aligned, a_fit, b_fit = affine_align(pred, ref)
    assert a_fit == pytest.approx(a, rel=1e-12)
    assert b_fit == pytest.approx(b, abs=1e-12)
    np.testing.assert_allclose(aligned, ref, rtol=0, atol=1e-12)


def test_affine_align_constant_pred_falls_back_to_offset(ref):
    aligned, a, b = affine_align(np.full(ref.shape, 2.0), ref)
    assert a == 1.0
    assert b == pytest.approx(ref.mean() - 2.0, rel=1e-12)
    np.testing.assert_allclose(aligned, ref.mean())


def test_ssim_identity_and_noise():
    rng = np.random.default_rng(2)
    img = rng.uniform(size=(40, 40))
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-12)
    assert ssim(img + 0.2 * rng.normal(size=img.shape), img) < 0.9
    rgb = rng.uniform(size=(24, 24, 3))
    assert ssim(rgb, rgb, channel_axis=-1) == pytest.approx(1.0, abs=1e-12)
    tiny = rng.uniform(size=(5, 6))
    assert ssim(tiny, tiny) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="channel_axis"):
        ssim(rgb, rgb)


@pytest.mark.parametrize(
    "fn", [rel_l2, max_abs, psnr, ssim, affine_align, field_metrics], ids=lambda f: f.__name__
)
def test_shape_mismatch_names_both_shapes(fn):
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(5, 4\)"):
        fn(np.zeros((4, 5)), np.ones((5, 4)))


def test_field_metrics_plain(ref):
    out = field_metrics(ref + 0.1, ref)
    assert set(out) == {"rel_l2", "max_abs", "psnr"}
    assert out["max_abs"] == pytest.approx(0.1, rel=1e-12)
    assert out["psnr"] == pytest.approx(psnr(ref + 0.1, ref), rel=1e-12)


def test_field_metrics_constant_alignment_removes_offset(ref):
    out = field_metrics(ref + 4.0, ref, align="constant")
    assert out["align"] == "constant"
    assert out["align_offset"] == pytest.approx(-4.0, rel=1e-12)
    assert out["rel_l2"] < 1e-14
    assert out["max_abs"] < 1e-12


def test_field_metrics_affine_alignment(ref):
    out = field_metrics(0.5 * ref + 1.0, ref, align="affine")
    assert out["align"] == "affine"
    assert out["align_scale"] == pytest.approx(2.0, rel=1e-12)
    assert out["align_offset"] == pytest.approx(-2.0, rel=1e-12)
    assert out["max_abs"] < 1e-12


def test_field_metrics_image_adds_ssim():
    rng = np.random.default_rng(3)
    gray = rng.uniform(size=(16, 16))
    rgb = rng.uniform(size=(16, 16, 3))
    assert field_metrics(gray, gray, image=True)["ssim"] == pytest.approx(1.0, abs=1e-12)
    assert field_metrics(rgb, rgb, image=True)["ssim"] == pytest.approx(1.0, abs=1e-12)
    assert "ssim" not in field_metrics(rng.uniform(size=50), rng.uniform(size=50), image=True)


def test_field_metrics_rejects_unknown_alignment(ref):
    with pytest.raises(ValueError, match="constant"):
        field_metrics(ref, ref, align="scale")


def test_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    ref = torch.linspace(0.0, 1.0, 11, dtype=torch.float64)
    pred = (ref + 0.1).requires_grad_()
    assert max_abs(pred, ref) == pytest.approx(0.1, rel=1e-12)
    assert psnr(pred, ref) == pytest.approx(20.0, rel=1e-12)
