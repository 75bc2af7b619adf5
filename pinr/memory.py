r"""Memory-bounded training and evaluation: a budget from the device, the network's cost per
point, the batches and chunks that fit, and one-line out-of-memory errors.

**Budget.** :func:`memory_budget`: ``fraction`` (default :data:`FRACTION`) of the memory the
device has free now — CUDA: ``torch.cuda.mem_get_info`` (free bytes); CPU: ``MemAvailable`` of
``/proc/meminfo`` (psutil's ``available`` where ``/proc`` is missing) — or the
``memory_budget`` option (bytes, or a string such as ``"2GiB"``).

**Cost per point.** A network whose linear layers have output widths :math:`w_1, \dots, w_L`
(:math:`W = \sum_l w_l`, the activations of one point), evaluated in a dtype of :math:`b` bytes
with :math:`S` derivative slots, keeps for its backward pass

.. math:: c_{train} = k\, S\, W\, b, \qquad k = 3

bytes per point: the activation functions save two tensors of each hidden layer (sine: its
value and its cosine; the next linear layer reuses the value as its input), and the backward
pass holds one more layer-sized gradient at a time (``k = 2`` saved + 1 transient; measured with
``torch.autograd.graph.saved_tensors_hooks``: a 256-wide SIREN fitting an image saves
:math:`2.01\, W b` per point, the tests hold the estimate above what autograd saves; the
2048² image fit at 524,288 points per step, planned at 6.0 GiB, peaked at 5.6 GiB of process RSS). The slots
:math:`S`: the value, plus for the ``jet`` engine one stream per coordinate differentiated and per
second-order atom or Laplacian-like combination (:mod:`pinr.derivatives.jet`); for reverse mode
(``autograd``) two per derivative order (each ``create_graph`` pass records a graph the size of
the forward). Evaluation without a graph keeps a few layers alive at once:
:math:`c_{eval} = k\, S\, w_{max}\, b`.

**Batch.** A grid term of :math:`n` points trains on all of them when :math:`n\, c_{train}` fits
the budget, else on random batches of :math:`2^{\lfloor \log_2(\text{budget}/c_{train})
\rfloor}` points per step (:func:`grid_batch`); evaluation runs in chunks of
:func:`evaluation_chunk` points.

Floor: foundation (imports only :mod:`pinr.errors`); the result type and training read their
budgets here."""

from __future__ import annotations

import contextlib
import math
import re
import sys
from dataclasses import dataclass

import torch

from pinr.errors import OutOfMemory

__all__ = ["FRACTION", "available_memory", "memory_budget", "parse_budget", "layer_widths", "derivative_slots",
           "bytes_per_point", "format_bytes", "grid_batch", "GridPlan", "plan_grid_batches", "evaluation_chunk",
           "peak_memory", "is_out_of_memory", "memory_guard", "check_fits", "OutOfMemory"]

#: share of the free memory a run plans to use (the rest: the optimiser, data, other programs)
FRACTION = 0.5
#: training cost factor k (two saved tensors per layer and one transient gradient)
K = 3
#: evaluation chunks stay between these sizes (points; larger chunks are no faster, and a
#: 256-wide network's layers at 2^20 points already hold 3 GiB)
MIN_CHUNK, MAX_CHUNK = 1 << 10, 1 << 18

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 10 ** 3, "kib": 1 << 10, "m": 1 << 20, "mb": 10 ** 6, "mib": 1 << 20,
          "g": 1 << 30, "gb": 10 ** 9, "gib": 1 << 30, "t": 1 << 40, "tb": 10 ** 12, "tib": 1 << 40}


def format_bytes(n: int) -> str:
    """``n`` bytes as a short size: "512 MiB", "6.2 GiB"."""
    if n >= 1 << 30:
        return f"{n / 2 ** 30:.1f} GiB"
    return f"{n / 2 ** 20:.0f} MiB" if n >= 1 << 20 else f"{n / 2 ** 10:.0f} KiB"


def parse_budget(value) -> int | None:
    """``memory_budget`` → bytes: ``None`` (choose from the device), a positive number of bytes,
    or a string such as ``"512MiB"``, ``"2GiB"``, ``"1.5GB"``."""
    if value is None:
        return None
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*", value)
        if m and m.group(2).lower() in _UNITS:
            value = float(m.group(1)) * _UNITS[m.group(2).lower()]
        else:
            raise ValueError(f"memory_budget {value!r} is not a size; give bytes or a string such as '2GiB', '512MiB'")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 1:
        raise ValueError(f"memory_budget must be a positive number of bytes or a size such as '2GiB', got {value!r}")
    return int(value)


def available_memory(device) -> int:
    """Bytes the device has free now (CUDA: ``mem_get_info``; CPU: ``MemAvailable``)."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil
    except ImportError:
        return 4 << 30  # no way to ask: plan for a small machine
    return int(psutil.virtual_memory().available)


def memory_budget(device, budget=None, *, fraction: float = FRACTION) -> int:
    """Bytes a run may plan to use: ``budget`` when given (see :func:`parse_budget`), else
    ``fraction`` of :func:`available_memory`."""
    chosen = parse_budget(budget)
    return chosen if chosen is not None else int(fraction * available_memory(device))


def layer_widths(network: torch.nn.Module) -> list[int]:
    """Output widths of the network's linear layers (every :class:`torch.nn.Linear`), in order,
    then what other modules declare they keep per point (``point_widths``: a hash grid's gathered
    table rows, kernel weights and row indices); a network without any counts as one layer as wide
    as its parameters are many (an upper bound)."""
    widths = [m.out_features for m in network.modules() if isinstance(m, torch.nn.Linear)]
    widths += [int(w) for m in network.modules() for w in getattr(m, "point_widths", ())]
    return widths or [max(1, sum(p.numel() for p in network.parameters()))]


def derivative_slots(expression, engine: str) -> int:
    """Slots :math:`S` of a compiled expression (``atoms``, ``combos``) under ``engine``: 1 for the
    values, plus (jet) one per coordinate differentiated and per second-order atom or combination,
    or (reverse mode) two per derivative order."""
    atoms, combos = tuple(expression.atoms), tuple(expression.combos)
    orders = [a.order for a in atoms] + [2] * len(combos)
    if engine == "jet":
        axes = {i for a in atoms for i, k in enumerate(a.orders) if k}
        axes |= {i for c in combos for o in c.orders for i, k in enumerate(o) if k}
        return 1 + len(axes) + sum(1 for a in atoms if a.order == 2) + len(combos)
    return 1 + 2 * max(orders, default=0)


def bytes_per_point(network: torch.nn.Module, *, slots: int = 1, dtype: torch.dtype = torch.float32,
                    training: bool = True) -> int:
    r"""Estimated bytes per point: :math:`k S W b` for a training step, :math:`k S w_{max} b`
    for an evaluation without a graph (module docstring)."""
    widths = layer_widths(network)
    size = torch.empty((), dtype=dtype).element_size()
    return K * max(1, int(slots)) * (sum(widths) if training else max(widths)) * size


def _power_of_two_below(x: float) -> int:
    return 1 << max(0, int(math.floor(math.log2(max(x, 1.0)))))


def grid_batch(size: int, per_point: int, budget: int) -> int:
    """Points per step of a grid term of ``size`` points: all of them when they fit ``budget``
    bytes at ``per_point`` bytes each, else the largest power of two that fits (at least 1)."""
    if size * per_point <= budget:
        return int(size)
    return min(int(size), _power_of_two_below(budget / per_point))


@dataclass(frozen=True)
class GridPlan:
    """A grid term's plan: ``size`` grid points, ``batch`` per step, ``per_point`` bytes, ``budget`` bytes."""

    name: str
    size: int
    batch: int
    per_point: int
    budget: int

    def note(self) -> str:
        """The line the progress bar's summary shows when the grid is batched."""
        return (f"term {self.name!r}: {self.size:,} grid points × {self.per_point:,} B > memory budget "
                f"{format_bytes(self.budget)}: batches of {self.batch:,} per step; --batch N to change")


def plan_grid_batches(compiled, network: torch.nn.Module, *, engine: str, dtype: torch.dtype, budget: int,
                      chosen=None) -> dict[str, GridPlan]:
    """The terms of ``compiled`` sampled on a grid whose batch is not ``chosen`` (the ``batch``
    option: an int for every term, or a mapping by name; a condition's own batch) → their plan."""
    from collections.abc import Mapping

    out = {}
    for t in compiled.terms:
        method = t.method or t.region.default_method
        if method != "grid" or t.batch is not None or (chosen is not None and not isinstance(chosen, Mapping)) \
                or (isinstance(chosen, Mapping) and t.name in chosen):
            continue
        size = int(t.region.domain.size)
        per = bytes_per_point(network, slots=derivative_slots(t.expression, engine), dtype=dtype)
        out[t.name] = GridPlan(t.name, size, grid_batch(size, per, budget), per, int(budget))
    return out


def evaluation_chunk(network: torch.nn.Module, *, dtype: torch.dtype, device, budget=None, slots: int = 1,
                     training: bool = False) -> int:
    """Points per chunk when evaluating ``network``: the largest power of two whose
    :func:`bytes_per_point` fit the budget, between :data:`MIN_CHUNK` and :data:`MAX_CHUNK`."""
    per = bytes_per_point(network, slots=slots, dtype=dtype, training=training)
    return max(MIN_CHUNK, min(MAX_CHUNK, _power_of_two_below(memory_budget(device, budget) / per)))


def peak_memory(device) -> dict:
    """The run's peak memory for metrics.json: ``peak_memory_mib`` and what it measures — CUDA
    ``torch.cuda.max_memory_allocated`` (tensors on the device), else the process's maximum
    resident set size (``getrusage``; KiB on Linux, bytes on macOS)."""
    device = torch.device(device)
    if device.type == "cuda":
        return {"peak_memory_mib": round(torch.cuda.max_memory_allocated(device) / 2 ** 20, 1),
                "peak_memory_of": "cuda max_memory_allocated"}
    import resource  # POSIX only

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return {"peak_memory_mib": round(rss / 2 ** 20, 1), "peak_memory_of": "process max RSS (cpu)"}


_CPU_PATTERNS = ("can't allocate memory", "could not allocate", "not enough memory", "out of memory",
                 "failed to allocate", "cannot allocate memory")


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is an allocation failure: ``torch.OutOfMemoryError``, ``MemoryError``, or a
    ``RuntimeError`` whose message says an allocation failed (CPU allocators)."""
    if isinstance(err, (torch.OutOfMemoryError, MemoryError)) and not isinstance(err, OutOfMemory):
        return True
    return isinstance(err, RuntimeError) and any(p in str(err).lower() for p in _CPU_PATTERNS)


def _allocation(err: BaseException) -> str:
    """What the failed allocation asked for, read from the allocator's message when it says."""
    text = str(err)
    m = re.search(r"[Tt]ried to allocate ([0-9.]+ ?[KMGT]?i?B)", text)
    if m:
        return m.group(1)
    m = re.search(r"allocate (\d+) bytes", text)
    if m:
        return f"{int(m.group(1)) / 2 ** 30:.2f} GiB"
    return ""


@contextlib.contextmanager
def memory_guard(what: str, batch: int | None = None, *, budget: int | None = None, fix: str | None = None):
    """Run the block; an allocation failure in it becomes one :class:`~pinr.errors.OutOfMemory`
    line: ``what`` failed, how much it asked for, at ``batch`` points per step, and the option to
    change — ``fix`` when given (a setup step: a smaller network), else half the batch
    (``--batch``), or for an evaluation in chunks planned from ``budget`` bytes half that budget
    (``memory_budget``)."""
    try:
        yield
    except BaseException as err:
        if not is_out_of_memory(err):
            raise
        asked = _allocation(err)
        size = f" ({asked})" if asked else ""
        if fix:
            raise OutOfMemory(f"out of memory allocating {what}{size}; {fix}") from None
        if batch:
            half = max(1, int(batch) // 2)
            raise OutOfMemory(f"out of memory allocating {what}{size} at {int(batch):,} points per step; "
                              f"use --batch {half} (or batch={half})", batch=int(batch), suggested=half) from None
        half = f"{max(1, (budget or 2 << 30) // 2 ** 21)}MiB"
        raise OutOfMemory(f"out of memory allocating {what}{size}; use --train memory_budget={half} "
                          f"(or memory_budget='{half}') for smaller chunks") from None


def check_fits(what: str, need: int, fix: str, device="cpu") -> None:
    """Refuse ``what`` before anything is allocated when its ``need`` bytes (an estimate) exceed
    the memory ``device`` has free (:func:`available_memory`): one :class:`~pinr.errors.OutOfMemory`
    line naming the need, the free memory and ``fix``."""
    free = available_memory(device)
    if need > free:
        raise OutOfMemory(f"{what} needs about {format_bytes(need)}, more than the {format_bytes(free)} free; {fix}")
