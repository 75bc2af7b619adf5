"""pinr's one file writer: every file appears complete or not at all, with mode 0644.

:func:`atomic_write` lets a writer fill a temporary file in the target's folder, flushes it
to disk (``fsync``), sets mode ``0644`` (owner read/write, everyone read: run directories are
shared and served) and moves it onto the target with :func:`os.replace`, which is atomic
within one file system. A reader therefore sees the old file or the new one, never a half
written one, and a crash leaves at most a hidden ``.name.*.partial`` file behind. The
format-specific helpers below (JSON, torch, NPZ, CSV) and every other writer in pinr (plots,
meshes, animations, ParaView files) go through it.

Floor: foundation (imports nothing from pinr)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = ["FILE_MODE", "atomic_write", "write_json", "write_text", "write_csv", "save_torch", "save_npz",
           "read_json"]

FILE_MODE = 0o644


def atomic_write(path: str | os.PathLike, writer: Callable[[Path], object]) -> Path:
    """Call ``writer(tmp_path)``, then fsync, chmod ``0644`` and move the temporary file onto ``path``.

    The temporary file lies in ``path``'s folder (created if missing), so the final
    :func:`os.replace` never crosses file systems. On any error it is removed and the error
    propagates; ``path`` is left as it was. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        writer(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable where the platform allows opening a folder (POSIX)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


def write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def _strict(o):
    """``o`` with numpy values as Python ones and NaN/infinity as ``None`` (JSON has no such numbers)."""
    if isinstance(o, Mapping):
        return {k: _strict(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_strict(v) for v in o]
    if isinstance(o, np.ndarray):
        return _strict(o.tolist())
    if isinstance(o, (np.floating, np.integer)):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def write_json(path, obj) -> Path:
    """Write ``obj`` as indented, strict JSON: numpy scalars and arrays become numbers and
    lists, undefined numbers (NaN, infinity) become ``null``."""
    text = json.dumps(_strict(obj), indent=2, sort_keys=False, default=_default, allow_nan=False)
    return write_text(path, text + "\n")


def read_json(path):
    return json.loads(Path(path).read_text())


def write_csv(path, columns: Mapping[str, Sequence]) -> Path:
    """Write ``columns`` (header → values, all of one length) as CSV: a header row, then one row
    per index. Numbers are written with ``repr`` precision, so floats read back exactly."""
    if not isinstance(columns, Mapping) or not columns:
        raise ValueError("write_csv needs a mapping of column name -> values with at least one column")
    data = {}
    for name, values in columns.items():
        if not isinstance(name, str):
            raise ValueError(f"write_csv: column names must be strings, got {name!r}")
        arr = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else values
        data[name] = list(np.asarray(arr).tolist() if isinstance(arr, np.ndarray) else arr)
        if any(isinstance(v, (list, tuple, np.ndarray)) for v in data[name]):
            raise ValueError(f"write_csv: column {name!r} must hold one value per row, not sequences")
    lengths = {name: len(v) for name, v in data.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"write_csv: columns have different lengths {lengths}; pad or trim them to one length")
    buffer = io.StringIO()
    table = csv.writer(buffer, lineterminator="\n")
    table.writerow(list(data))
    table.writerows(zip(*data.values()))
    return write_text(path, buffer.getvalue())


def save_torch(path, obj) -> Path:
    return atomic_write(path, lambda p: torch.save(obj, p))


def saved_file(path, *, name: str, missing: str) -> Path:
    """The file :func:`save_torch` wrote: ``path`` itself or, for a folder (a run directory), its file
    ``name``; one that is not there raises ``FileNotFoundError`` with ``missing`` and the path."""
    path = Path(path)
    if path.is_dir():
        path = path / name
    if not path.exists():
        raise FileNotFoundError(f"{missing} {path}")
    return path


def save_npz(path, **arrays) -> Path:
    def w(p):
        with open(p, "wb") as f:
            np.savez_compressed(f, **arrays)
    return atomic_write(path, w)
