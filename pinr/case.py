r"""Catalogue entries as typed cases.

A :class:`Case` is a :class:`~pinr.Problem` — pure mathematics — together with what pinr knows
about solving and judging it: training defaults (a partial
:class:`~pinr.training.TrainConfig`), its reference, its metric, its extra outputs and the
options of its finite-difference reference. ``pr.solve``, ``pr.reference`` and ``pr.compare``
take a case wherever they take a problem.

Floor: cases (below the solvers, which are given a case; imports training's options and the statement)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from .training.config import TrainConfig

__all__ = ["Case", "as_case"]


@dataclass(frozen=True)
class Case:
    """A problem with its training defaults and its own reference, metric and outputs.

    - ``training``: defaults laid under the user's options (a case's backbone options and
      learning rate apply to the backbone it was tuned for);
    - ``reference(problem, resolution) -> solution``: the trusted answer (default: the exact
      solution if the problem states one, else the FD reference with ``fd`` options);
    - ``metrics(solution, reference) -> dict``: the case's own comparison (default: on a grid);
    - ``outputs(out_dir, solution, reference) -> dict | None``: extra files of a run directory
      (figures, meshes, animations); a returned dict joins the run's metrics;
    - ``validation(solution) -> dict``: a score that needs no reference solution (e.g. PSNR of
      held-out rendered views), used for validation during training when there is no reference;
    - ``fd``: options of :class:`~pinr.solvers.FDSolver` (``resolution``, ``dt``, ``cfl``,
      ``slices``, ``stride``);
    - ``source``: the catalogue name and parameters it was built from (to rerun it).
    """

    problem: object
    training: TrainConfig = field(default_factory=TrainConfig)
    reference: Callable | None = None
    metrics: Callable | None = None
    outputs: Callable | None = None
    validation: Callable | None = None
    fd: Mapping = field(default_factory=dict)
    source: Mapping = field(default_factory=dict)

    def __post_init__(self):
        from .symbolic import Problem

        if not isinstance(self.problem, Problem):
            raise TypeError(f"Case takes a pr.Problem, got {type(self.problem).__name__}")
        if not isinstance(self.training, TrainConfig):
            raise TypeError(f"Case training must be a pinr.training.TrainConfig, got {type(self.training).__name__}")
        for name in ("reference", "metrics", "outputs", "validation"):
            v = getattr(self, name)
            if v is not None and not callable(v):
                raise TypeError(f"Case {name} must be callable or None, got {v!r}")
        object.__setattr__(self, "fd", MappingProxyType(dict(self.fd)))
        object.__setattr__(self, "source", MappingProxyType(dict(self.source)))

    @property
    def name(self) -> str:
        return self.problem.name

    # the problem's own views, for reading a case as the problem it wraps
    @property
    def domain(self):
        return self.problem.domain

    @property
    def fields(self) -> tuple[str, ...]:
        return self.problem.fields

    @property
    def n_outputs(self) -> int:
        return self.problem.n_outputs

    @property
    def conditions(self) -> tuple:
        return self.problem.conditions

    @property
    def observations(self) -> tuple:
        return self.problem.observations

    @property
    def params(self) -> Mapping[str, float]:
        return self.problem.params

    @property
    def exact(self):
        return self.problem.exact

    @property
    def description(self) -> str:
        return self.problem.description

    def replace(self, **changes) -> "Case":
        """A copy with fields changed."""
        return replace(self, **changes)

    def __repr__(self):
        return f"Case({self.problem!r})"

    def __str__(self):
        chosen = ", ".join(f"{k}={v}" for k, v in self.training.flat().items())
        return f"{self.problem}\n  training defaults: {chosen or 'none'}"


def as_case(target) -> Case:
    """``target`` as a case: a :class:`Case` as it is, a problem with no defaults."""
    from .symbolic import Problem

    if isinstance(target, Case):
        return target
    if isinstance(target, Problem):
        return Case(target)
    raise TypeError(f"expected a pr.Problem or a catalogue case (pr.problems.get(...)), got {type(target).__name__}")
