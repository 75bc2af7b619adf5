r"""Solutions: callables on points ``(N, d) → (N, n_fields)`` from a network or from an array on a grid.
Floor: the result type — above backbones, geometry and render, below training and the solvers
that return it."""

from __future__ import annotations

import abc
import os
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import numpy as np
import sympy
import torch
from tqdm.auto import tqdm

from pinr.backbones import Network, build_backbone
from pinr.backbones.base import embedded_features
from pinr.compiler import compile_expressions
from pinr.derivatives import select_engine
from pinr.domains import Grid
from pinr.io import save_torch, saved_file
from pinr.memory import derivative_slots, evaluation_chunk, memory_guard
from pinr.symbolic.data import DataSource
from pinr.symbolic.expressions import Coordinate, TimeCoordinate, flatten, grad, make_field, norm
from pinr.symbolic.known import known_apps, known_field_of, known_from_spec
from pinr.symbolic.parser import STRING_FUNCTIONS, parse_expression

__all__ = ["AbstractSolution", "NeuralSolution", "MarchedSolution", "GridSolution", "DenseSolution", "ExactSolution",
           "load", "grid_of", "lattice_points", "gradient_norm"]

FORMAT = "pinr-solution-1"
MARCHED_FORMAT = "pinr-marched-1"  #: a time-marched solution: one network state per window

#: grids of this many points or more show a progress bar while a solution is evaluated on them
PROGRESS_POINTS = 1 << 22

#: a network's values on its last grid are kept for reuse while they take at most this many bytes
KEEP_BYTES = 1 << 28

#: network → (grid, weights and hard-form key, its values on that grid): see NeuralSolution.values_on
_KEPT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def grid_of(domain, shape: int | Sequence[int] | None = None) -> Grid:
    """The lattice on which fields of ``domain`` are plotted and compared.

    A :class:`~pinr.domains.Grid` domain gives its own cells; otherwise ``shape`` (an int
    resolution along the longest side, or a full shape) over the bounding box. The default
    resolution is 128 up to 2-D and keeps the lattice near :math:`2^{18}` points above (64 in
    3-D): every validation of a run evaluates the solution and the reference on it.
    """
    if shape is None and isinstance(domain, Grid):
        return domain
    if shape is None:
        shape = 128 if domain.dim <= 2 else max(8, round(2 ** (18 / domain.dim)))
    if isinstance(shape, int):
        shape = domain.default_grid_shape(shape)
    axes = {c.name: tuple(b) for c, b in zip(domain.coords, domain.bounds)}
    return Grid(tuple(shape), **axes)


def _chunks(n: int, chunk: int) -> list[int]:
    """Edges of the chunks of ``0..n``: starts at multiples of 64 (``chunk`` rounded down to one,
    at least 64), a remainder under 64 rows joined to the chunk before it. Each row then meets the
    BLAS kernel it meets in one product of all ``n`` rows (kernels unroll rows by a power of two
    and treat products of a few rows on their own path), so chunked values equal unchunked ones
    bit for bit."""
    step = max(64, int(chunk) // 64 * 64)
    edges = list(range(0, n, step)) + [n]
    if len(edges) > 2 and n - edges[-2] < 64:
        del edges[-2]
    return edges


def _grid_key(grid: Grid) -> tuple:
    """What the cells of ``grid`` depend on: its type, shape and bounds."""
    return type(grid), tuple(grid.shape), np.asarray(grid.bounds, dtype=np.float64).tobytes()


def lattice_points(grid: Grid, start: int, stop: int, *, dtype=torch.float64) -> torch.Tensor:
    """Cell centres ``start:stop`` ``(stop - start, d)`` of ``grid`` in the C order of
    :meth:`Grid.points <pinr.domains.Grid.points>` (the same values), without building the others."""
    axes = [torch.as_tensor(a, dtype=dtype) for a in grid.lattice(grid.shape)]
    idx = torch.arange(start, stop)
    cols = []
    for a, n in zip(reversed(axes), reversed(grid.shape)):
        cols.append(a[idx % n])
        idx = idx // n
    return torch.stack(cols[::-1], dim=-1)


class AbstractSolution(abc.ABC):
    """A solution of a problem: ``solution(points)`` gives ``(N, n_fields)`` field values."""

    fields: tuple[str, ...]
    coords: tuple
    bounds: np.ndarray
    grid: Grid
    case = None  #: the catalogue case it solves, when known (its metric is used by ``pr.compare``)
    parameters: Mapping[str, float] = MappingProxyType({})  #: trained values of trainable parameters

    @abc.abstractmethod
    def _values(self, points: torch.Tensor) -> torch.Tensor: ...

    def __call__(self, points):
        """Field values ``(N, n_fields)`` at ``points`` ``(N, d)``; numpy in, numpy out."""
        is_np = not isinstance(points, torch.Tensor)
        p = torch.as_tensor(np.asarray(points, dtype=np.float64) if is_np else points)
        if p.ndim != 2 or p.shape[1] != len(self.coords):
            raise ValueError(f"points must have shape (n_points, {len(self.coords)}) for coordinates "
                             f"{tuple(str(c) for c in self.coords)}, got {tuple(p.shape)}")
        out = self._values(p)
        return out.detach().cpu().numpy() if is_np else out

    #: points per evaluation chunk (None: chosen from the memory budget for networks, else 2^18)
    chunk: int | None = None

    #: whether the values cannot change, so that :meth:`values_on` may keep its last grid's
    keeps_values: bool = False

    def _chunk(self) -> int:
        return int(self.chunk) if self.chunk is not None else 1 << 18

    def on_grid(self, shape: int | Sequence[int] | None = None) -> np.ndarray:
        """Values on the solution's grid (or a lattice of ``shape``): array ``(*grid_shape, n_fields)``."""
        return self.values_on(self.grid if shape is None else grid_of(self.grid, shape))

    def values_on(self, grid: Grid) -> np.ndarray:
        """Values at the cells of ``grid``, float64 ``(*grid.shape, n_fields)``, computed chunk by
        chunk (:attr:`chunk` points): neither the grid's points nor any activation of the whole
        grid is built at once — only the output array. A grid of :data:`PROGRESS_POINTS` points or
        more shows a progress bar with its time estimate. A solution that cannot change
        (:attr:`keeps_values`) keeps its last grid's values (up to :data:`KEEP_BYTES`) for reuse."""
        kept = self.__dict__.get("_kept")
        if kept is not None and kept[0] == _grid_key(grid):
            return kept[1].copy()
        out = np.empty((grid.size, len(self.fields)), dtype=np.float64)
        edges = _chunks(grid.size, self._chunk())
        with tqdm(total=grid.size, unit="pt", unit_scale=True, leave=False, disable=grid.size < PROGRESS_POINTS,
                  desc=f"evaluating on the {'×'.join(map(str, grid.shape))} grid") as bar:
            for start, stop in zip(edges[:-1], edges[1:]):
                out[start:stop] = self._values(lattice_points(grid, start, stop)).detach().cpu().double().numpy()
                bar.update(stop - start)
        out = out.reshape(*grid.shape, len(self.fields))
        if self.keeps_values and out.nbytes <= KEEP_BYTES:
            self._kept = (_grid_key(grid), out.copy())
        return out

class _Answer(torch.nn.Module):
    """A solution's network followed by its hard conditions' form (:meth:`NeuralSolution.answer`)."""

    def __init__(self, solution: "NeuralSolution"):
        super().__init__()
        self.network, self._solution = solution.network, solution

    def forward(self, points):
        return self._solution._hard_form(points, self.network(points))


class NeuralSolution(AbstractSolution):
    """A trained network (input scaling + backbone) and what is needed to rebuild it;
    ``parameters`` are the trained values of the problem's trainable parameters (name → float)."""

    def __init__(self, network: Network, *, fields, coords, grid: Grid, backbone: str, options: dict,
                 problem=None, case=None, parameters: dict | None = None, metadata: dict | None = None,
                 hard: dict | None = None):
        self.network, self.fields, self.coords, self.grid = network, tuple(fields), tuple(coords), grid
        self.bounds = grid.bounds
        self.backbone, self.options, self.problem, self.case = backbone, dict(options), problem, case
        self.parameters = {k: float(v) for k, v in (parameters or {}).items()}
        self.metadata = dict(metadata or {})
        #: whether the answer can be trusted (:class:`~pinr.training.verdict.Verdict`; set by the
        #: trainer at the end of a finished run, ``None`` otherwise): ``solution.verdict.ok``
        self.verdict = None
        #: field name → (G, φ) of hard conditions: that field is G + φ·(network output)
        self.hard = dict(hard if hard is not None else (problem.hard if problem is not None else {}))
        self._hard_fn = None
        if self.hard:
            pairs = [e for name in self.fields if name in self.hard for e in self.hard[name]]
            self._hard_fn = compile_expressions(pairs, fields=self.fields, coords=self.coords, params={})

    @property
    def _param(self):
        return next(self.network.parameters())

    def _chunk(self) -> int:
        if self.chunk is None:
            self.chunk = evaluation_chunk(self.network, dtype=self._param.dtype, device=self._param.device)
        return int(self.chunk)

    def values_on(self, grid: Grid) -> np.ndarray:
        """As :meth:`AbstractSolution.values_on`; the values on the last grid are kept (up to
        :data:`KEEP_BYTES`, per network) and reused while the weights are unchanged, so a run's
        final validation, metrics, files and plots evaluate the network on the grid once."""
        key = (_grid_key(grid), self._weights_version(), repr(sorted(self.hard.items(), key=str)))
        kept = _KEPT.get(self.network)
        if kept is not None and kept[0] == key:
            return kept[1].copy()
        values = super().values_on(grid)
        if values.nbytes <= KEEP_BYTES:
            _KEPT[self.network] = (key, values.copy())
        return values

    def _weights_version(self) -> tuple:
        """Changes whenever a weight or buffer of the network changes in place (an optimiser's
        step, ``load_state_dict``): the tensors' version counters."""
        return tuple(t._version for t in (*self.network.parameters(), *self.network.buffers()))

    def _values(self, points):
        p = points.to(dtype=self._param.dtype, device=self._param.device)
        with torch.no_grad(), memory_guard(f"an evaluation of the network on chunks of {self._chunk():,} points"):
            edges = _chunks(len(p), self._chunk())
            return torch.cat([self._hard_form(p[a:b], self.network(p[a:b])) for a, b in zip(edges[:-1], edges[1:])])

    def _hard_form(self, points, out):
        """Network outputs ``(N, n_fields)`` → field values: ``G + φ N`` for hard-constrained fields."""
        if self._hard_fn is None:
            return out
        gp = self._hard_fn(points, None, [])
        cols, k = [], 0
        for i, name in enumerate(self.fields):
            if name in self.hard:
                cols.append(gp[k] + gp[k + 1] * out[:, i])
                k += 2
            else:
                cols.append(out[:, i])
        return torch.stack(cols, dim=-1)

    def answer(self) -> torch.nn.Module:
        """The fields as a module, points ``(N, d)`` → ``(N, n_fields)``: the network with the hard
        conditions' form applied (differentiable by nested autograd; the network itself when no
        condition is hard)."""
        return self.network if self._hard_fn is None else _Answer(self)

    def evaluate(self, expr, points, *, engine: str = "auto", params=None, chunk: int | None = None) -> np.ndarray:
        r"""Evaluate ``expr`` — any expression of the fields, their derivatives and the coordinates,
        scalar or vector — at ``points`` ``(N, d)``; returns ``(N, n_entries)``.

        ``engine`` is "jet", "autograd" or "auto" (:func:`~pinr.derivatives.select_engine`: jet for
        second derivatives when the backbone allows it, reverse mode for first derivatives).
        The points go through in chunks of ``chunk`` (default: what the memory budget allows at
        the derivatives' cost per point, :mod:`pinr.memory`).
        """
        exprs = flatten(expr)
        known = {**(self.problem.params if self.problem else {}), **self.parameters}
        compiled = compile_expressions(exprs, fields=self.fields, coords=self.coords, params=dict(params or known),
                                       hard=self.hard)
        eng = select_engine(self.network, engine, max_order=compiled.max_order)
        is_np = not isinstance(points, torch.Tensor)
        p = torch.as_tensor(np.asarray(points, dtype=np.float64) if is_np else points)
        p = p.to(dtype=self._param.dtype, device=self._param.device)
        if compiled.uses_normals:
            raise ValueError("expressions with dn() need normals; evaluate them on a boundary through the solver")
        step = int(chunk) if chunk is not None else evaluation_chunk(
            self.network, dtype=p.dtype, device=p.device, training=True, slots=derivative_slots(compiled, eng.name))
        parts = []
        with memory_guard(f"derivatives of the network on chunks of {step:,} points"):
            edges = _chunks(len(p), step)
            for c in (p[a:b] for a, b in zip(edges[:-1], edges[1:])):
                av, cv = eng.evaluate(self.network, c, compiled.atoms, compiled.combos, compiled.coefficients(c, None))
                parts.append(compiled(c, None, av, cv).T.detach())
        out = torch.cat(parts)
        return out.cpu().numpy() if is_np else out

    def save(self, path: str | os.PathLike) -> Path:
        """Save weights and everything needed to rebuild the network (see :func:`load`)."""
        return save_torch(path, self.state())

    def state(self) -> dict:
        """What :meth:`save` writes: tensors and plain containers only (see :func:`load`)."""
        return {
            "format": FORMAT, "backbone": self.backbone, "options": self.options,
            "fields": list(self.fields),
            "coords": [(c.name, isinstance(c, TimeCoordinate)) for c in self.coords],
            "grid_shape": list(self.grid.shape), "bounds": self.grid.bounds.tolist(),
            "dtype": str(self._param.dtype).replace("torch.", ""),
            "state_dict": {k: v.detach().cpu() for k, v in self.network.state_dict().items()},
            "parameters": dict(self.parameters), "metadata": self.metadata,
            "periodic": list(self.network.periodic),
            **_hard_forms(self.hard),
        }

    def to(self, device) -> "NeuralSolution":
        self.network.to(device)
        return self

    def __repr__(self):
        return f"NeuralSolution({self.backbone}, fields={list(self.fields)}, grid={self.grid.shape})"


def _hard_forms(hard: dict) -> dict:
    """The saved entries of the forms of the answer (field → ``(G, φ)``: hard conditions, and known
    parts as ``(K, 1)``): ``hard``, their formulas, with every known part in them (a point source's
    field, a marched window's start) written as a name ``pinr_known_i`` that ``hard_known`` defines by
    its field (an index into ``known_fields``, whose specs rebuild them), channel and coordinates."""
    apps = sorted({a for pair in hard.values() for e in pair for a in sympy.sympify(e).atoms(sympy.Function)
                   if known_field_of(a) is not None}, key=str)
    fields = list({id(known_field_of(a)): known_field_of(a) for a in apps}.values())
    names = {a: sympy.Symbol(f"pinr_known_{i}") for i, a in enumerate(apps)}
    out = {"hard": {k: [str(sympy.sympify(e).xreplace(names)) for e in pair] for k, pair in hard.items()}}
    if apps:
        out["known_fields"] = [f.spec() for f in fields]
        out["hard_known"] = {str(names[a]): {"field": next(i for i, f in enumerate(fields) if f is known_field_of(a)),
                                             "channel": int(a.func.channel), "coords": [str(c) for c in a.args]}
                              for a in apps}
    return out


class MarchedSolution(AbstractSolution):
    """A time-marched answer (:mod:`pinr.solvers.marching`): one :class:`NeuralSolution` per window
    of time, ``edges`` :math:`t_0 < t_1 < \\ldots < t_K` their bounds. A point at time :math:`t` is
    answered by the window :math:`(t_{k-1}, t_k]` that holds it (the first from :math:`t_0`), so the
    value at an edge is the earlier window's, where the later one starts."""

    def __init__(self, windows: Sequence[NeuralSolution], edges: Sequence[float], *, case=None,
                 metadata: dict | None = None, grid_shape: Sequence[int] | None = None):
        if len(windows) < 1 or len(edges) != len(windows) + 1 or any(b <= a for a, b in zip(edges, edges[1:])):
            raise ValueError(f"a marched solution needs K windows and K + 1 increasing edges, got {len(windows)} "
                             f"and {list(edges)}")
        self.windows, self.edges = list(windows), [float(e) for e in edges]
        first = self.windows[0]
        self.fields, self.coords, self.case = first.fields, first.coords, case
        bounds = np.array(first.grid.bounds, dtype=np.float64)
        bounds[-1] = self.edges[0], self.edges[-1]
        shape = list(grid_shape) if grid_shape is not None else [*first.grid.shape[:-1],
                                                                   first.grid.shape[-1] * len(self.windows)]
        self.grid = Grid(tuple(int(n) for n in shape), **{c.name: tuple(b) for c, b in zip(self.coords, bounds)})
        self.bounds = self.grid.bounds
        self.parameters = {}
        self.metadata = dict(metadata or {})
        self.verdict = None  #: the verdict on the whole run (:mod:`pinr.solvers.marching`)

    def window_of(self, times: torch.Tensor) -> torch.Tensor:
        """The window index of each time (``(N,)``)."""
        inner = torch.as_tensor(self.edges[1:-1], dtype=times.dtype, device=times.device)
        return torch.bucketize(times.contiguous(), inner, right=False)

    def _dispatch(self, points: torch.Tensor, fn) -> torch.Tensor:
        which = self.window_of(points[:, -1])
        out = None
        for k, w in enumerate(self.windows):
            rows = (which == k).nonzero().reshape(-1)
            if len(rows) == 0:
                continue
            part = fn(w, points[rows])
            if out is None:
                out = torch.empty((len(points), part.shape[1]), dtype=part.dtype, device=part.device)
            out[rows.to(part.device)] = part
        return out

    def _values(self, points):
        return self._dispatch(points, lambda w, p: w._values(p))

    def evaluate(self, expr, points, *, engine: str = "auto", params=None, chunk: int | None = None) -> np.ndarray:
        """:meth:`NeuralSolution.evaluate` of each window at its points."""
        is_np = not isinstance(points, torch.Tensor)
        p = torch.as_tensor(np.asarray(points, dtype=np.float64) if is_np else points)
        out = self._dispatch(p, lambda w, q: w.evaluate(expr, q, engine=engine, params=params, chunk=chunk))
        return out.cpu().numpy() if is_np else out

    def state(self) -> dict:
        return {"format": MARCHED_FORMAT, "edges": list(self.edges), "metadata": self.metadata,
                "grid_shape": list(self.grid.shape),
                "windows": [w.state() for w in self.windows]}

    def save(self, path: str | os.PathLike) -> Path:
        """Save every window (:func:`load` reads it back)."""
        return save_torch(path, self.state())

    def to(self, device) -> "MarchedSolution":
        for w in self.windows:
            w.to(device)
        return self

    def __repr__(self):
        return f"MarchedSolution({len(self.windows)} windows, fields={list(self.fields)}, edges={self.edges})"


def gradient_norm(solution) -> Callable[[np.ndarray], np.ndarray] | None:
    r"""The exact :math:`|\nabla u|` of a neural solution's first field, as ``points (n, d) → (n,)``
    (what :func:`pinr.geometry.shape_metrics` takes for the eikonal residual); ``None`` for other
    solutions, whose residual is then taken by central differences on the grid values."""
    if not isinstance(solution, NeuralSolution):
        return None
    expr = norm(grad(make_field(solution.fields[0], solution.coords)))
    return lambda points: solution.evaluate(expr, points)[:, 0]


def load(path: str | os.PathLike, *, device="cpu") -> NeuralSolution:
    """Load a solution saved with :meth:`NeuralSolution.save` (or a run directory's ``solution.pt``).

    The file is read with ``torch.load(weights_only=True)``: only tensors and plain containers
    (dict, list, tuple, str, int, float, bool, None) are rebuilt and no code in the file ever
    runs. A file that is damaged, not a torch file, holds other Python objects, or is not a pinr
    solution raises a one-line :class:`ValueError` naming it.
    """
    import pickle

    path = saved_file(path, name="solution.pt", missing="no saved solution at")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        if "global" in str(err).lower():
            raise ValueError(f"{path} is not a pinr solution: it holds Python objects other than tensors and "
                             "plain containers, which pinr never unpickles; load only files written by "
                             "NeuralSolution.save") from None
        raise ValueError(f"{path} is not a torch file (it cannot be unpickled); pass a solution.pt written by "
                         "NeuralSolution.save") from None
    except Exception as err:  # torch.load's errors on a damaged file vary with the format and the damage
        reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise ValueError(f"{path} cannot be read as a torch file ({reason}): it is truncated, damaged or not "
                         "written by torch.save; save the solution again with NeuralSolution.save") from None
    if isinstance(state, dict) and state.get("format") == MARCHED_FORMAT:
        windows, edges = state.get("windows"), state.get("edges")
        if not (isinstance(windows, list) and windows and isinstance(edges, list) and len(edges) == len(windows) + 1):
            raise ValueError(f"{path} is a damaged marched pinr solution: its windows and edges do not match; save it "
                             "again with MarchedSolution.save")
        shape = state.get("grid_shape")
        return MarchedSolution([_rebuilt(w, path, device) for w in windows], [float(e) for e in edges],
                               metadata=state.get("metadata"),
                               grid_shape=[int(n) for n in shape] if isinstance(shape, list) else None)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a pinr solution (expected format {FORMAT!r}); pass a file written by "
                         "NeuralSolution.save")
    return _rebuilt(state, path, device)


def _rebuilt(state, path, device) -> NeuralSolution:
    """The network solution a saved ``state`` (:meth:`NeuralSolution.state`) describes."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is a damaged pinr solution (a part is not of format {FORMAT!r}); save it again")
    kinds = {"backbone": str, "options": dict, "fields": list, "coords": list, "grid_shape": list,
             "bounds": list, "dtype": str, "state_dict": dict}
    bad = [k for k, kind in kinds.items() if not isinstance(state.get(k), kind)]
    if bad or state["dtype"] not in ("float16", "bfloat16", "float32", "float64"):
        raise ValueError(f"{path} is a damaged pinr solution: entries {bad or ['dtype']} are missing or of the "
                         "wrong type; save the solution again with NeuralSolution.save")
    try:
        coords = tuple(TimeCoordinate(n) if t else Coordinate(n) for n, t in state["coords"])
        axes = {c.name: tuple(b) for c, b in zip(coords, state["bounds"])}
        grid = Grid(tuple(state["grid_shape"]), **axes)
        periodic = [int(i) for i in state.get("periodic", [])]
        backbone = build_backbone(state["backbone"], embedded_features(len(coords), periodic), len(state["fields"]),
                                  **state["options"])
        net = Network(backbone, grid.bounds, periodic=periodic).to(dtype=getattr(torch, state["dtype"]))
        net.load_state_dict(state["state_dict"])
        hard = {**_read_hard(state.get("hard", {}), coords, _read_hard_known(state, coords)),
                **_read_known(state.get("known", {}), coords)}
    except (TypeError, ValueError, KeyError, RuntimeError) as err:
        reason = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        raise ValueError(f"{path} is a pinr solution that cannot be rebuilt ({reason}); save it again with "
                         "this version of pinr") from None
    net.to(device).eval()
    return NeuralSolution(net, fields=state["fields"], coords=coords, grid=grid, backbone=state["backbone"],
                          options=state["options"], parameters=state.get("parameters"), metadata=state.get("metadata"),
                          hard=hard)


def _read_hard_known(state: dict, coords) -> dict:
    """Name → known-part application for the names that a saved solution's hard forms hold
    (:func:`_hard_forms`), each rebuilt from its field's spec."""
    entries, specs = state.get("hard_known", {}), state.get("known_fields", [])
    if not isinstance(entries, dict) or not isinstance(specs, list):
        raise ValueError("hard_known must be a mapping and known_fields a list")
    fields = [known_from_spec(s) for s in specs]
    by_name = {c.name: c for c in coords}
    built, out = {}, {}  # one application set per field and coordinates: a field's channels stay one part
    for name, e in entries.items():
        if not (isinstance(e, dict) and isinstance(e.get("field"), int) and 0 <= e["field"] < len(fields)
                and isinstance(e.get("channel"), int) and all(c in by_name for c in e.get("coords", ()))):
            raise ValueError(f"hard_known[{name!r}] must name a saved field, a channel and the solution's coordinates")
        key = (e["field"], tuple(e["coords"]))
        if key not in built:
            built[key] = known_apps(fields[e["field"]], tuple(by_name[c] for c in e["coords"]))
        out[str(name)] = built[key][e["channel"]]
    return out


def _read_hard(saved: dict, coords, known: dict | None = None) -> dict:
    """The hard-constraint forms of a saved solution, read by pinr's closed formula grammar
    (:mod:`pinr.symbolic.parser`, as :meth:`pinr.Problem.from_strings`: nothing in the file is executed);
    ``known`` names the known parts in them (:func:`_read_hard_known`)."""
    if not isinstance(saved, dict):
        raise ValueError("hard must be a mapping field -> [G, phi]")
    ns = {c.name: c for c in coords}
    ns.update(known or {})
    ns.update({k: v for k, v in STRING_FUNCTIONS.items() if k not in ("dt", "D", "grad", "div", "lap", "dn")})
    out = {}
    for name, pair in saved.items():
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
            raise ValueError(f"hard[{name!r}] must be two formulas")
        out[str(name)] = tuple(parse_expression(t, ns, t) for t in pair)
    return out


def _read_known(saved: dict, coords) -> dict:
    """The known parts of a solution saved before they joined the hard forms' entries
    (:func:`_hard_forms`): field → ``(K, 1)``, rebuilt by kind from their numbers
    (:func:`~pinr.symbolic.known.known_from_spec`); one known field per distinct spec."""
    if not isinstance(saved, dict):
        raise ValueError("known must be a mapping field -> {spec, channel}")
    built, out = {}, {}
    for name, entry in saved.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("spec"), dict)
                and isinstance(entry.get("channel"), int)):
            raise ValueError(f"known[{name!r}] must hold a spec and a channel")
        key = repr(sorted(entry["spec"].items()))
        if key not in built:
            built[key] = known_apps(known_from_spec(entry["spec"]), coords)
        out[str(name)] = (built[key][entry["channel"]], sympy.Integer(1))
    return out


class GridSolution(AbstractSolution):
    """Values ``(*grid.shape, n_fields)`` at the cells of a grid, interpolated multilinearly between them."""

    def __init__(self, values: np.ndarray, grid: Grid, *, fields, coords=None, metadata=None):
        values = np.asarray(values, dtype=np.float64)
        if values.shape == grid.shape:
            values = values[..., None]
        if values.shape[:-1] != grid.shape or values.shape[-1] != len(fields):
            raise ValueError(f"values of shape {values.shape} do not match grid {grid.shape} with "
                             f"{len(fields)} fields")
        self.values, self.grid, self.fields = values, grid, tuple(fields)
        self.coords = tuple(coords) if coords is not None else grid.coords
        self.bounds = grid.bounds
        self.metadata = dict(metadata or {})
        self._source = DataSource("solution", values, grid)

    def _values(self, points):
        p = points.to(torch.float64)
        return torch.stack([self._source.interpolate(p, c) for c in range(len(self.fields))], dim=-1)

    def on_grid(self, shape=None):
        if shape is None:
            return self.values.copy()
        return super().on_grid(shape)

    def values_on(self, grid: Grid) -> np.ndarray:
        """The values themselves on their own grid (no interpolation), else interpolated."""
        if _grid_key(grid) == _grid_key(self.grid):
            return self.values.astype(np.float64, copy=True)
        return super().values_on(grid)

    def __repr__(self):
        return f"GridSolution(fields={list(self.fields)}, grid={self.grid.shape})"


class DenseSolution(AbstractSolution):
    """Values from a continuous solution, e.g. scipy's dense output of an initial-value problem:
    ``function(points (N, d)) → (N, n_fields)`` in float64; ``grid`` is where it is plotted and
    compared."""

    keeps_values = True

    def __init__(self, function, grid: Grid, *, fields, coords, metadata=None):
        self.function, self.grid, self.fields, self.coords = function, grid, tuple(fields), tuple(coords)
        self.bounds = grid.bounds
        self.metadata = dict(metadata or {})

    def _values(self, points):
        p = points.detach().cpu().to(torch.float64).numpy()
        return torch.as_tensor(np.asarray(self.function(p), dtype=np.float64), device=points.device)

    def __repr__(self):
        return f"DenseSolution(fields={list(self.fields)}, grid={self.grid.shape})"


class ExactSolution(AbstractSolution):
    """A problem's exact solution (sympy expressions or data), evaluated at points."""

    keeps_values = True

    def __init__(self, problem, *, shape=None):
        if problem.exact is None:
            raise ValueError(f"problem {problem.name!r} has no exact solution; use the FD reference")
        self.problem, self.fields, self.coords = problem, problem.fields, problem.domain.coords
        self.case = None
        self.grid = grid_of(problem.domain, shape)
        self.bounds = self.grid.bounds
        self._compiled = compile_expressions([problem.exact[f] for f in self.fields], fields=self.fields,
                                             coords=self.coords, params=problem.params)

    def _values(self, points):
        p = points.to(torch.float64)
        return self._compiled(p, None, [], []).T

    def __repr__(self):
        return f"ExactSolution({self.problem.name!r})"
