r"""Reading shapes from names and files; writing meshes.

``load_shape`` takes a built-in shape name (``available_shapes()``), a triangle mesh
(``.obj``, ``.ply``, ``.stl``, ``.off``, read through meshio's format readers), or an
oriented point cloud (``.xyz``/``.txt``/``.pts`` columns ``x y [z] nx ny [nz]``, a ``.ply``
without faces whose vertices carry ``nx, ny, nz``, or ``.npz`` with arrays ``points`` and
``normals``). Files are normalised into :math:`[-(1-p), 1-p]^d` (``padding`` p, aspect ratio
kept); the shape's ``normalization`` takes results back to the file's units.

meshio's top-level ``read`` prints and calls ``sys.exit`` when a file does not parse; pinr calls
the per-format readers instead and turns every failure into a :class:`ShapeFileError` naming
the file and the problem.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np

from ..domains.csg import AbstractSolid
from ..domains.frame import Normalization
from ..errors import PinrError
from ..io import atomic_write
from .mesh import TriangleMesh
from .pointcloud import OrientedPointCloud
from .shapes import builtin_shape

__all__ = ["ShapeFileError", "load_shape", "read_mesh", "read_point_cloud", "write_mesh", "MESH_SUFFIXES",
           "CLOUD_SUFFIXES"]

log = logging.getLogger(__name__)

MESH_SUFFIXES = (".obj", ".ply", ".stl", ".off")
CLOUD_SUFFIXES = (".xyz", ".txt", ".pts", ".ply", ".npz")


class ShapeFileError(PinrError, ValueError):
    """A shape file is missing, empty, unreadable or holds unusable data."""


def _meshio_read(path: Path):
    from meshio import obj, off, ply, stl

    reader = {".obj": obj.read, ".ply": ply.read, ".stl": stl.read, ".off": off.read}[path.suffix.lower()]
    try:
        with warnings.catch_warnings():  # meshio's readers trip numpy warnings on malformed files
            warnings.simplefilter("ignore")
            return reader(str(path))
    except Exception as err:  # noqa: BLE001  (meshio raises anything from ReadError to IndexError)
        raise ShapeFileError(f"cannot read {path} as {path.suffix[1:].upper()} with meshio: "
                             f"{type(err).__name__}: {err or 'malformed file'}") from None


def _check_file(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"shape file {path} does not exist")
    if path.is_dir():
        raise ShapeFileError(f"{path} is a directory; give a mesh or point-cloud file")
    if path.stat().st_size == 0:
        raise ShapeFileError(f"shape file {path} is empty")
    return path


def _triangles(mesh, path: Path) -> np.ndarray:
    tris = []
    for block in mesh.cells:
        data = np.asarray(block.data)
        if block.type == "triangle":
            tris.append(data)
        elif block.type in ("quad", "polygon") or block.type.startswith("polygon"):
            for k in range(1, data.shape[1] - 1):  # fan triangulation of convex polygons
                tris.append(data[:, [0, k, k + 1]])
        else:
            log.info("%s: ignoring %d %s cells", path, len(data), block.type)
    return np.concatenate(tris).astype(np.int64) if tris else np.zeros((0, 3), dtype=np.int64)


def read_mesh(path, *, padding: float = 0.1) -> TriangleMesh:
    """Triangle mesh from ``.obj``/``.ply``/``.stl``/``.off``, normalised with ``padding``."""
    path = _check_file(path)
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise ShapeFileError(f"{path}: unsupported mesh format {path.suffix!r}; use one of {MESH_SUFFIXES}")
    mesh = _meshio_read(path)
    pts = np.asarray(mesh.points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] == 0:
        raise ShapeFileError(f"{path} holds no vertices")
    if pts.shape[1] == 2:
        raise ShapeFileError(f"{path} is a 2-D mesh; 2-D shapes are analytic (circle, polygon, ...) or point clouds")
    if not np.isfinite(pts).all():
        bad = int((~np.isfinite(pts)).any(-1).sum())
        raise ShapeFileError(f"{path}: {bad} vertices have NaN or infinite coordinates; clean the mesh first")
    faces = _triangles(mesh, path)
    if len(faces) == 0:
        raise ShapeFileError(f"{path} holds {len(pts)} vertices but no triangles or polygons; for a point cloud "
                             "store normals with the vertices (nx, ny, nz) and load it as a point cloud")
    try:
        return TriangleMesh.fit(pts, faces, padding=padding, name=path.stem)
    except ValueError as err:
        raise ShapeFileError(f"{path}: {err}") from None


def read_point_cloud(path, *, padding: float = 0.1) -> OrientedPointCloud:
    """Oriented point cloud from ``.xyz``/``.txt``/``.pts``, ``.ply`` or ``.npz``, normalised with ``padding``."""
    path = _check_file(path)
    suffix = path.suffix.lower()
    if suffix in (".xyz", ".txt", ".pts"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpy warns on empty input
                data = np.loadtxt(path, dtype=np.float64, ndmin=2, comments=("#", "//"))
        except ValueError as err:
            raise ShapeFileError(f"cannot read {path} as whitespace-separated numbers: {err}") from None
        if data.size == 0:
            raise ShapeFileError(f"{path} holds no points")
        cols = data.shape[1]
        if cols in (2, 3):
            points, normals = data, None
        elif cols in (4, 6):
            points, normals = data[:, : cols // 2], data[:, cols // 2:]
        else:
            raise ShapeFileError(f"{path}: expected columns x y [z] nx ny [nz], got {cols} columns")
    elif suffix == ".npz":
        try:
            with np.load(path) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as err:  # noqa: BLE001  (zip or pickle errors)
            raise ShapeFileError(f"cannot read {path} as .npz: {type(err).__name__}: {err}") from None
        key = next((k for k in ("points", "vertices", "coords", "xyz") if k in arrays), None)
        if key is None:
            raise ShapeFileError(f"{path}: no 'points' array (found {sorted(arrays)})")
        points, normals = arrays[key], arrays.get("normals")
    elif suffix == ".ply":
        mesh = _meshio_read(path)
        points = np.asarray(mesh.points, dtype=np.float64)
        names = [("nx", "ny", "nz"), ("normal_x", "normal_y", "normal_z")]
        cols = next((c for c in names if all(k in mesh.point_data for k in c)), None)
        normals = None if cols is None else \
            np.stack([np.asarray(mesh.point_data[k], dtype=np.float64) for k in cols], -1)
    else:
        raise ShapeFileError(f"{path}: unsupported point-cloud format {path.suffix!r}; use one of {CLOUD_SUFFIXES}")
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] == 0:
        raise ShapeFileError(f"{path} holds no points")
    if not np.isfinite(points).all():
        bad = int((~np.isfinite(points)).any(-1).sum())
        raise ShapeFileError(f"{path}: {bad} points have NaN or infinite coordinates; clean the file first")
    try:
        return OrientedPointCloud.fit(points, normals, padding=padding, name=path.stem)
    except ValueError as err:
        raise ShapeFileError(f"{path}: {err}") from None


def load_shape(spec, *, padding: float = 0.1) -> AbstractSolid:
    """A shape from a built-in name, a file path, or a solid (returned as is)."""
    if isinstance(spec, AbstractSolid):
        return spec
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError("shape must be a built-in name, a file path or a solid (e.g. pinr.Disk, pinr.TriangleMesh), "
                        f"got {type(spec).__name__}")
    text = os.fspath(spec)
    path = Path(text)
    if path.suffix.lower() not in MESH_SUFFIXES + CLOUD_SUFFIXES:
        if path.exists():
            raise ShapeFileError(f"{path}: unsupported format {path.suffix!r}; meshes: {MESH_SUFFIXES}, "
                                 f"point clouds: {CLOUD_SUFFIXES}")
        return builtin_shape(text)
    suffix = path.suffix.lower()
    if suffix in (".obj", ".stl", ".off"):
        return read_mesh(path, padding=padding)
    if suffix == ".ply":
        checked = _check_file(path)
        mesh = _meshio_read(checked)
        if len(_triangles(mesh, checked)):
            return read_mesh(path, padding=padding)
    return read_point_cloud(path, padding=padding)


def write_mesh(path, vertices, faces, *, normalization: Normalization | None = None) -> Path:
    """Write a triangle mesh through meshio (format from the suffix: ``.ply``, ``.obj``, ``.stl``,
    ``.off``, ``.vtu``, ...), atomically; ``normalization`` maps the vertices back to input units."""
    import meshio

    path = Path(path)
    v = np.asarray(vertices, dtype=np.float64)
    if normalization is not None:
        v = normalization.to_input(v)
    mesh = meshio.Mesh(v, [("triangle", np.asarray(faces, dtype=np.int32))])  # PLY has no 64-bit ints
    fmt = meshio.extension_to_filetypes.get(path.suffix.lower(), [None])[0]
    if fmt is None:
        raise ValueError(f"cannot write a mesh to {path}: unknown suffix {path.suffix!r}")
    return atomic_write(path, lambda p: meshio.write(p, mesh, file_format=fmt))
