r"""Fields on lattices as ParaView files, through meshio.

:func:`write_vtu` writes one structured lattice with point data (``.vtu``);
:func:`write_xdmf_series` writes a time series of fields on one lattice (``.xdmf``, values
inline as XML, so the file is self-contained and needs no HDF5 library). Both go through
:func:`pinr.io.atomic_write`: the file appears whole, with mode 0644.

A lattice is given by its coordinate axes :math:`a^{(1)}, \dots, a^{(d)}`, ``d`` in 1..3, each
strictly increasing with at least two values. Its points are :math:`(a^{(1)}_{i_1}, \dots,
a^{(d)}_{i_d})` in "ij" order (the last index varies fastest, as ``np.meshgrid(...,
indexing="ij")`` and as pinr's grids index arrays), padded with zeros to three components.
Cells join neighbouring points: lines in 1-D, quadrilaterals in 2-D, hexahedra in 3-D, with
VTK's vertex order (counter-clockwise in the first two axes, then the next layer).

Floor: foundation (imports only :mod:`pinr.io`)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .io import atomic_write

__all__ = ["write_vtu", "write_xdmf_series", "lattice_points", "lattice_cells"]

_CELL_TYPES = {1: "line", 2: "quad", 3: "hexahedron"}


def _axes(grid_axes: Sequence, what: str) -> list[np.ndarray]:
    if isinstance(grid_axes, np.ndarray) and grid_axes.ndim == 1:
        grid_axes = [grid_axes]
    axes = [np.asarray(a, dtype=np.float64) for a in grid_axes]
    if not 1 <= len(axes) <= 3:
        raise ValueError(f"{what}: give 1 to 3 coordinate axes, got {len(axes)}")
    for k, a in enumerate(axes):
        if a.ndim != 1 or a.size < 2:
            raise ValueError(f"{what}: axis {k} must be a 1-D array of at least 2 coordinates, got shape {a.shape}")
        if not np.isfinite(a).all() or np.any(np.diff(a) <= 0):
            raise ValueError(f"{what}: axis {k} must be finite and strictly increasing; sort it (np.sort) first")
    return axes


def lattice_points(grid_axes: Sequence[np.ndarray]) -> np.ndarray:
    """Points ``(prod(n_k), 3)`` of the lattice of ``grid_axes`` in "ij" order, zero-padded to 3-D."""
    axes = _axes(grid_axes, "lattice_points")
    mesh = np.meshgrid(*axes, indexing="ij")
    pts = np.stack([m.reshape(-1) for m in mesh], axis=-1)
    return np.concatenate([pts, np.zeros((pts.shape[0], 3 - pts.shape[1]))], axis=1)


def lattice_cells(shape: Sequence[int]) -> tuple[str, np.ndarray]:
    """meshio cell type and connectivity ``(n_cells, 2**d)`` of a lattice of ``shape`` points."""
    shape = tuple(int(n) for n in shape)
    index = np.arange(int(np.prod(shape))).reshape(shape)
    d = len(shape)

    def shifted(*offsets):
        return index[tuple(slice(o, n - 1 + o) for o, n in zip(offsets, shape))].reshape(-1)

    if d == 1:
        corners = [shifted(0), shifted(1)]
    elif d == 2:
        corners = [shifted(0, 0), shifted(1, 0), shifted(1, 1), shifted(0, 1)]
    else:
        corners = [shifted(0, 0, 0), shifted(1, 0, 0), shifted(1, 1, 0), shifted(0, 1, 0),
                   shifted(0, 0, 1), shifted(1, 0, 1), shifted(1, 1, 1), shifted(0, 1, 1)]
    return _CELL_TYPES[d], np.stack(corners, axis=-1)


def _point_data(fields: Mapping[str, np.ndarray], shape: tuple[int, ...], what: str, *, time: int | None = None):
    """Fields as ``name -> (n_points,)`` or ``(n_points, components)`` arrays (with time last if ``time``)."""
    if not isinstance(fields, Mapping) or not fields:
        raise ValueError(f"{what}: fields must be a non-empty mapping of name -> array")
    out = {}
    n = int(np.prod(shape))
    for name, value in fields.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what}: field names must be non-empty strings, got {name!r}")
        arr = np.asarray(value)
        if np.iscomplexobj(arr) or not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"{what}: field {name!r} must be real numbers, got dtype {arr.dtype}; "
                             "write .real and .imag as two fields")
        arr = arr.astype(np.float64)
        core = arr.shape if time is None else arr.shape[:-1]
        if time is not None and (arr.ndim == 0 or arr.shape[-1] != time):
            raise ValueError(f"{what}: field {name!r} has shape {arr.shape}; its last axis must be time "
                             f"({time} values)")
        if core == shape:
            flat = arr.reshape(n, *(() if time is None else (time,)))
        elif len(core) == len(shape) + 1 and core[:-1] == shape:
            flat = arr.reshape(n, core[-1], *(() if time is None else (time,)))
        else:
            expect = shape if time is None else shape + (time,)
            raise ValueError(f"{what}: field {name!r} has shape {arr.shape} but the lattice needs {expect} "
                             f"(or a components axis after the {len(shape)} lattice axes)")
        out[name] = flat
    return out


def write_vtu(path: str | os.PathLike, grid_axes: Sequence[np.ndarray], fields: Mapping[str, np.ndarray]) -> Path:
    r"""Write fields on the lattice of ``grid_axes`` as a VTK unstructured grid (``.vtu``).

    ``fields`` maps names to arrays of shape ``(n_1, ..., n_d)`` (scalars) or
    ``(n_1, ..., n_d, c)`` (vectors with ``c`` components), indexed like the axes; they become
    point data. Returns ``path``.
    """
    import meshio

    axes = _axes(grid_axes, "write_vtu")
    shape = tuple(a.size for a in axes)
    data = _point_data(fields, shape, "write_vtu")
    kind, cells = lattice_cells(shape)
    mesh = meshio.Mesh(lattice_points(axes), [(kind, cells)], point_data=data)
    return atomic_write(path, lambda p: meshio.write(p, mesh, file_format="vtu"))


def write_xdmf_series(path: str | os.PathLike, spatial_axes: Sequence[np.ndarray], times: Sequence[float],
                      fields: Mapping[str, np.ndarray]) -> Path:
    r"""Write time-dependent fields on the lattice of ``spatial_axes`` as an XDMF time series.

    ``times`` holds :math:`t_0 < t_1 < \dots < t_{m-1}`; each field has shape
    ``(n_1, ..., n_d, m)`` or ``(n_1, ..., n_d, c, m)`` — time is the last axis — and step ``k``
    of the series is the slice ``[..., k]`` at time :math:`t_k`. ParaView opens the file as an
    animation. Returns ``path``.
    """
    import meshio

    axes = _axes(spatial_axes, "write_xdmf_series")
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t.size < 1 or not np.isfinite(t).all() or np.any(np.diff(t) <= 0):
        raise ValueError("write_xdmf_series: times must be a non-empty, finite, strictly increasing 1-D sequence")
    shape = tuple(a.size for a in axes)
    data = _point_data(fields, shape, "write_xdmf_series", time=t.size)
    kind, cells = lattice_cells(shape)
    points = lattice_points(axes)

    def write(tmp: Path):
        with meshio.xdmf.TimeSeriesWriter(tmp, data_format="XML") as series:
            series.write_points_cells(points, [(kind, cells)])
            for k, tk in enumerate(t):
                series.write_data(float(tk), point_data={name: np.ascontiguousarray(v[..., k])
                                                         for name, v in data.items()})

    return atomic_write(path, write)
