"""Plots are written as non-empty PNGs, atomically, without pyplot state."""

import sys

import numpy as np
import pytest

from pinr.plotting import plot_fields, plot_loss_curves, plot_metric_curve

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    assert path.is_file()
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 1000
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_plot_fields_2d_with_error_map(tmp_path, rng):
    u = rng.normal(size=(24, 32))
    ref = u + 0.01 * rng.normal(size=u.shape)
    out = plot_fields(
        tmp_path / "field.png",
        {"u": u, "reference": ref, "error": u - ref},
        extent=(-1, 1, -0.5, 0.5),
        suptitle="Poisson",
        symmetric={"error"},
    )
    assert out == tmp_path / "field.png"
    assert_png(out)


def test_plot_fields_1d_and_rgb(tmp_path, rng):
    x = np.linspace(0, 1, 50)
    assert_png(plot_fields(tmp_path / "line.png", {"u": np.sin(x), "err": 1e-3 * x},
                           extent=(0, 1), symmetric={"err"}))
    rgb = rng.uniform(-0.2, 1.2, size=(16, 20, 3))
    gray1 = rng.uniform(size=(16, 20, 1))
    assert_png(plot_fields(tmp_path / "sub" / "rgb.png", {"rgb": rgb, "gray": gray1,
                                                          "zero": np.zeros((4, 4))},
                           symmetric={"zero"}))


def test_plot_fields_many_panels_and_nan(tmp_path, rng):
    fields = {f"f{i}": rng.normal(size=(8, 8)) for i in range(6)}
    fields["f0"][0, 0] = np.nan
    assert_png(plot_fields(tmp_path / "many.png", fields))


def test_plot_fields_image_origin_upper(tmp_path, rng):
    img = rng.uniform(size=(12, 12, 3))
    assert_png(plot_fields(tmp_path / "img.png", {"target": img, "fit": img[..., 0]},
                           origin="upper"))
    with pytest.raises(ValueError, match="origin"):
        plot_fields(tmp_path / "bad.png", {"u": img}, origin="top")


def test_plot_fields_validation(tmp_path):
    with pytest.raises(ValueError, match="at least one"):
        plot_fields(tmp_path / "a.png", {})
    with pytest.raises(ValueError, match="'v'"):
        plot_fields(tmp_path / "a.png", {"v": np.zeros((2, 3, 4, 5))})
    with pytest.raises(ValueError, match="err"):
        plot_fields(tmp_path / "a.png", {"u": np.zeros((3, 3))}, symmetric={"err"})
    with pytest.raises(ValueError, match="complex"):
        plot_fields(tmp_path / "a.png", {"u": np.zeros((3, 3), dtype=complex)})
    assert not list(tmp_path.iterdir())


def test_plot_loss_curves(tmp_path):
    steps = list(range(0, 1000, 10))
    history = {"total": [1.0 / (1 + s) for s in steps], "pde": [0.5 / (1 + s) for s in steps],
               "bc": [0.0] * len(steps)}
    assert_png(plot_loss_curves(tmp_path / "loss.png", history, steps=steps))
    assert_png(plot_loss_curves(tmp_path / "loss_nosteps.png", {"total": [3.0, 2.0, 1.0]}))
    assert_png(plot_loss_curves(tmp_path / "loss_zero.png", {"total": [0.0, 0.0]}))
    with pytest.raises(ValueError, match="'pde'"):
        plot_loss_curves(tmp_path / "bad.png", {"pde": [1.0, 2.0]}, steps=[0, 1, 2])


def test_plot_metric_curve(tmp_path):
    out = plot_metric_curve(tmp_path / "rel_l2.png", [0, 100, 200], [0.5, 0.1, 0.02],
                            name="rel_l2", logy=True)
    assert_png(out)
    with pytest.raises(ValueError, match="rel_l2"):
        plot_metric_curve(tmp_path / "bad.png", [0, 1], [0.5], name="rel_l2")


def test_overwrite_is_atomic_replace(tmp_path, rng):
    path = tmp_path / "f.png"
    path.write_bytes(b"old")
    plot_fields(path, {"u": rng.normal(size=(5, 5))})
    assert_png(path)


def test_no_pyplot_figures_leak(tmp_path, rng):
    plot_fields(tmp_path / "f.png", {"u": rng.normal(size=(5, 5))})
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        assert plt.get_fignums() == []
