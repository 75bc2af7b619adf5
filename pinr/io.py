"""Atomic file output: every file appears complete or not at all."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

_UMASK = os.umask(0)
os.umask(_UMASK)

__all__ = ["atomic_write", "write_json", "save_torch", "save_npz", "read_json"]


def atomic_write(path: str | os.PathLike, writer) -> Path:
    """Call ``writer(tmp_path)`` then move the temporary file onto ``path`` (same directory)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        writer(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


def write_json(path, obj) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=False, default=_default, allow_nan=True)
    return atomic_write(path, lambda p: p.write_text(text + "\n"))


def read_json(path):
    return json.loads(Path(path).read_text())


def save_torch(path, obj) -> Path:
    return atomic_write(path, lambda p: torch.save(obj, p))


def save_npz(path, **arrays) -> Path:
    def w(p):
        with open(p, "wb") as f:
            np.savez_compressed(f, **arrays)
    return atomic_write(path, w)
