r"""Collections: several instances of one problem (shapes, images) solved by one conditioned network.

A :class:`Collection` is a tuple of catalogue :class:`~pinr.Case` s that state the same
problem — one domain, the same fields and the same named conditions and observations — for
different data (a shape each, an image each), with the collection's training defaults, how
instances are conditioned (:class:`CodeConfig`) and a per-instance ``metrics`` function.
``pr.solve(collection)`` trains one network with a latent code per instance
(:class:`~pinr.solvers.conditioned.ConditionedSolver`).

Floor: cases (below the solvers, which are given a collection; imports cases and training's options).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from .case import as_case
from .training.config import TrainConfig

__all__ = ["Collection", "CodeConfig"]


@dataclass(frozen=True)
class CodeConfig:
    r"""How instances are conditioned: ``conditioning`` ("concat": DeepSDF's code joined to the
    coordinates; "film": π-GAN's FiLM-SIREN; "hyper": SIREN's hypernetwork, all of a SIREN's
    weights from the code), codes of ``features`` entries drawn from
    :math:`\mathcal N(0, \texttt{std}^2)` (default 0.01, DeepSDF's), the code prior's weight
    :math:`\lambda` = ``weight`` in :math:`\frac{\lambda}{K}\sum_k\|z_k\|^2` (default 1e-4,
    DeepSDF's), the codes' Adam rate ``lr`` (default: the network's) and, for "film" and
    "hyper", the mapping network's ``mapping_width`` and ``mapping_depth`` (default 64, 2)."""

    conditioning: str = "concat"
    features: int = 32
    std: float = 0.01
    weight: float = 1e-4
    lr: float | None = None
    mapping_width: int = 64
    mapping_depth: int = 2

    def __post_init__(self):
        from .backbones.conditioned import available_conditionings

        if self.conditioning not in available_conditionings():
            raise ValueError(f"unknown conditioning {self.conditioning!r}; available conditionings: "
                             f"{', '.join(available_conditionings())}")
        if isinstance(self.features, bool) or not isinstance(self.features, int) or self.features < 1:
            raise ValueError(f"code features must be a positive integer (the code's size), got {self.features!r}")
        for name in ("std", "weight"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v >= 0):
                raise ValueError(f"code {name} must be a finite number >= 0, got {v!r}")
        if not (isinstance(self.mapping_width, int) and self.mapping_width >= 1 and isinstance(self.mapping_depth, int)
                and self.mapping_depth >= 0):
            raise ValueError(f"mapping_width must be >= 1 and mapping_depth >= 0 (integers), got "
                             f"{self.mapping_width!r}, {self.mapping_depth!r}")
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"code lr must be a positive number or None (the network's rate), got {self.lr!r}")

    #: flat option name → field
    OPTIONS = MappingProxyType({"conditioning": "conditioning", "code_features": "features", "code_std": "std",
                                "code_weight": "weight", "code_lr": "lr", "mapping_width": "mapping_width",
                                "mapping_depth": "mapping_depth"})

    def options(self) -> dict:
        """This configuration as the flat options :meth:`from_options` takes."""
        return {flat: getattr(self, name) for flat, name in self.OPTIONS.items()}

    @classmethod
    def from_options(cls, **options) -> "CodeConfig":
        """From flat keywords ``conditioning=``, ``code_features=``, ``code_std=``,
        ``code_weight=``, ``code_lr=``, ``mapping_width=``, ``mapping_depth=`` (``None`` values
        keep the defaults)."""
        names = cls.OPTIONS
        bad = sorted(set(options) - set(names))
        if bad:
            raise TypeError(f"unknown code option(s) {bad}; valid: {sorted(names)}")
        return cls(**{names[k]: v for k, v in options.items() if v is not None})


@dataclass(frozen=True)
class Collection:
    """Instances ``cases`` (each a :class:`~pinr.Case` or a :class:`~pinr.Problem`) named
    ``names`` (default "0", "1", ...), with training defaults ``training``, conditioning ``codes``
    and ``metrics(case, solution) -> dict`` scoring one instance (default: :func:`pinr.compare`
    against the instance's reference)."""

    cases: Sequence
    names: Sequence[str] | None = None
    training: TrainConfig = field(default_factory=TrainConfig)
    codes: CodeConfig = field(default_factory=CodeConfig)
    metrics: Callable | None = None
    name: str = "collection"
    source: Mapping = field(default_factory=dict)

    def __post_init__(self):
        cases = tuple(as_case(c) for c in self.cases)
        if not cases:
            raise ValueError("a Collection needs at least one instance (a case or problem per shape/image)")
        names = tuple(str(n) for n in (self.names if self.names is not None else range(len(cases))))
        if len(names) != len(cases) or len(set(names)) != len(names):
            raise ValueError(f"a Collection needs one distinct name per instance: {len(cases)} instances, names "
                             f"{list(names)}")
        first = cases[0].problem
        for n, c in zip(names, cases):
            p = c.problem
            if p.fields != first.fields or not np.allclose(p.domain.bounds, first.domain.bounds):
                raise ValueError(f"instance {n!r} is stated on another domain or with other fields than instance "
                                 f"{names[0]!r}; a collection's instances share both")
            if _term_names(p) != _term_names(first):
                raise ValueError(f"instance {n!r} states conditions {_term_names(p)}, instance {names[0]!r} "
                                 f"{_term_names(first)}; a collection's instances state the same ones")
            if p.trainable:
                raise ValueError(f"instance {n!r} has trainable parameters {sorted(p.trainable)}; collections "
                                 "train codes, not problem parameters: fix them with problem.fixed(...)")
        if not isinstance(self.training, TrainConfig):
            raise TypeError(f"Collection training must be a TrainConfig, got {type(self.training).__name__}")
        if not isinstance(self.codes, CodeConfig):
            raise TypeError(f"Collection codes must be a CodeConfig, got {type(self.codes).__name__}")
        if self.metrics is not None and not callable(self.metrics):
            raise TypeError(f"Collection metrics must be callable (case, solution) -> dict, got {self.metrics!r}")
        object.__setattr__(self, "cases", cases)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "source", MappingProxyType(dict(self.source)))

    @property
    def problem(self):
        """The first instance's problem (the statement every instance shares)."""
        return self.cases[0].problem

    def __len__(self) -> int:
        return len(self.cases)

    def replace(self, **changes) -> "Collection":
        return replace(self, **changes)

    def __repr__(self):
        return f"Collection({self.name!r}, {len(self)} instances: {', '.join(self.names)})"


def _term_names(problem) -> list[str]:
    from .compiler import compile_problem

    compiled = compile_problem(problem)
    return [t.name for t in compiled.terms] + [o.name for o in compiled.observations]
