"""The catalogue of built-in problems: ``get(name, **params)`` and ``available_problems()``.

Each entry is a function returning a :class:`~pinr.Case`: the :class:`~pinr.Problem` (pure
mathematics) with typed training defaults and its reference, metric and outputs.

Floor: problems (``pinr.problems``: imports the solvers and below, never the api or the
``pinr`` façade)."""

from __future__ import annotations

from pinr.catalogue import Catalogue

__all__ = ["register_problem", "get", "available_problems", "problem_params"]


def _load():
    # registration side effect
    from . import eikonal_sdf, helmholtz, media, nerf, occupancy, poisson_edit, poisson_image, regression, wave  # noqa: F401
    from .collections import images, sdf_shapes  # noqa: F401  (collections of the cases above)


PROBLEMS: Catalogue = Catalogue("problem", load=_load)  #: every registered problem builder, by name


def register_problem(name: str):
    """Decorator registering a problem builder under ``name``."""
    return PROBLEMS.register(name)


def available_problems() -> list[str]:
    """Names of the catalogue's problems, sorted."""
    return PROBLEMS.names()


def problem_params(name: str) -> dict[str, object]:
    """Parameters of problem ``name`` with their defaults."""
    return PROBLEMS.params(name)


def get(name: str, **params):
    """Build catalogue case ``name`` (``case.problem`` is the mathematics; ``pr.solve(case)``
    trains it with its defaults); unknown names and parameters raise, listing the valid ones."""
    case = PROBLEMS.build(name, **params)
    return case.replace(source={"name": name, "params": dict(params)})
