"""The catalogue of built-in problems: ``get(name, **params)`` and ``available_problems()``.

Each entry is a function returning a :class:`~pinr.Case`: the :class:`~pinr.Problem` (pure
mathematics) with typed training defaults and its reference, metric and outputs.

Floor: cases and problems (``pinr.problems``: imports the solvers and below, never the api or the
``pinr`` façade)."""

from __future__ import annotations

import inspect
from collections.abc import Callable

__all__ = ["register_problem", "get", "available_problems", "problem_params"]

_PROBLEMS: dict[str, Callable] = {}


def register_problem(name: str):
    """Decorator registering a problem builder under ``name``."""

    def deco(fn):
        if name in _PROBLEMS and _PROBLEMS[name] is not fn:
            raise ValueError(f"problem {name!r} is already registered")
        _PROBLEMS[name] = fn
        return fn

    return deco


def _load():
    # registration side effect
    from . import eikonal_sdf, helmholtz, media, nerf, occupancy, poisson_edit, poisson_image, regression, wave  # noqa: F401
    from .collections import images, sdf_shapes  # noqa: F401  (collections of the cases above)


def available_problems() -> list[str]:
    """Names of the catalogue's problems, sorted."""
    _load()
    return sorted(_PROBLEMS)


def problem_params(name: str) -> dict[str, object]:
    """Parameters of problem ``name`` with their defaults."""
    _load()
    if name not in _PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; available problems: {', '.join(sorted(_PROBLEMS))}")
    sig = inspect.signature(_PROBLEMS[name])
    return {k: p.default for k, p in sig.parameters.items()}


def get(name: str, **params):
    """Build catalogue case ``name`` (``case.problem`` is the mathematics; ``pr.solve(case)``
    trains it with its defaults); unknown names and parameters raise, listing the valid ones."""
    valid = problem_params(name)
    bad = sorted(set(params) - set(valid))
    if bad:
        raise TypeError(f"problem {name!r} has no parameter {', '.join(map(repr, bad))}; its parameters are "
                        + ", ".join(f"{k}={v!r}" for k, v in valid.items()))
    case = _PROBLEMS[name](**params)
    return case.replace(source={"name": name, "params": dict(params)})
