r"""A user's own problem from a file, as a typed case: ``pinr solve problem.toml`` or
``pinr solve my_problem.py``.

- ``.toml``: a statement in strings, read through the closed grammar
  (:class:`~pinr.symbolic.problem_file.ProblemFile`; nothing in the file is executed).
- ``.py``: the user's own Python, run as ``python`` would run it (:func:`runpy.run_path`, with
  the file's folder first on ``sys.path``) but under the module name ``__pinr_problem__``, so an
  ``if __name__ == "__main__":`` block, where a script may solve the problem itself, is skipped.
  The file defines at module level ``problem`` — a :class:`~pinr.Problem` (its exact solution,
  if any, stated with ``exact=``) or a :class:`~pinr.Case` — and optionally ``training``, a dict
  of ``pr.solve`` options.

Either becomes a :class:`~pinr.Case` whose ``source`` records the file (so that
``pinr solve --resume`` and ``pinr rerun`` read it again), with no training defaults of its own:
pinr chooses them from the statement (:mod:`pinr.training.auto`), as ``pr.solve(problem)``
does. The file's training options are laid over those, and the command line's over the file's.

Floor: problems (a user's file read into a typed case)."""

from __future__ import annotations

import runpy
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path

from .case import Case, as_case
from .errors import ProblemError
from .symbolic import Problem
from .symbolic.problem_file import ProblemFile
from .training.config import option_names

__all__ = ["SUFFIXES", "RUN_KEYS", "is_problem_file", "load_problem_file"]

#: what a problem file's name ends with
SUFFIXES = (".toml", ".py")
#: options a file may not set: where a run goes and how it is shown belong to the command line
RUN_KEYS = frozenset({"out", "resume", "progress"})
#: the module name a ``.py`` problem file runs under (not ``__main__``)
RUN_NAME = "__pinr_problem__"


def is_problem_file(name) -> bool:
    """Whether ``name`` (a command line's PROBLEM) names a problem file rather than a catalogue entry."""
    return Path(str(name)).suffix in SUFFIXES


def load_problem_file(path, *, params: Mapping[str, float] | None = None) -> tuple[Case, dict]:
    """The case stated in the file at ``path`` and the training options the file gives.

    ``params`` (name → number, ``--set``) override the values of the problem's parameters (the
    starting value of a trainable one). Raises ``FileNotFoundError``, or a one-line
    :class:`~pinr.errors.ProblemError` naming the file and the fix.
    """
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ValueError(f"{path}: a problem file ends with {' or '.join(SUFFIXES)}")
    if not path.is_file():
        raise FileNotFoundError(f"problem file {path} not found")
    if path.suffix == ".toml":
        statement = ProblemFile.read(path)
        case, training, where = as_case(statement.problem), dict(statement.training), "[training]"
    else:
        case, training = _run_python(path)
        where = "training"
    valid = sorted(set(option_names()) - RUN_KEYS)
    for key in training:
        if key in RUN_KEYS:
            raise ProblemError(f"{path}: {where} {key}: set it on the command line (--{key})")
        if key not in valid:
            raise ProblemError(f"{path}: {where} {key}: not a solver option; valid: {', '.join(valid)}")
    params = dict(params or {})
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProblemError(f"--set {key}={value!r}: a parameter of a problem file takes a number")
    problem = case.problem
    if params:
        try:
            problem = problem.with_params(**params)
        except ValueError as err:
            raise ProblemError(f"{path}: --set: {str(err).splitlines()[0]}") from None
    source = {"file": str(path.resolve()), "params": params}
    return case.replace(problem=problem, source=source), training


def _run_python(path: Path) -> tuple[Case, dict]:
    """Run the user's ``path`` and take its module-level ``problem`` and ``training``."""
    folder = str(path.parent.resolve())
    sys.path.insert(0, folder)  # as `python path` does: the file's own modules import
    try:
        namespace = runpy.run_path(str(path), run_name=RUN_NAME)
    except (Exception, SystemExit) as err:  # noqa: BLE001  (the user's code: any error, named in one line)
        line = getattr(err, "lineno", None) if isinstance(err, SyntaxError) else next(
            (f.lineno for f in reversed(traceback.extract_tb(err.__traceback__)) if Path(f.filename) == path.resolve()
             or Path(f.filename) == path), None)
        at = f" at line {line}" if line else ""
        detail = str(err).splitlines()[0] if str(err) else ""
        raise ProblemError(f"{path}{at}: {type(err).__name__}: {detail}; run `python {path}` to see the "
                           "traceback (or add --debug)") from err
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    if "problem" not in namespace:
        raise ProblemError(f"{path} defines no module-level `problem`; end it with problem = pr.Problem(...)")
    problem = namespace["problem"]
    if not isinstance(problem, (Problem, Case)):
        raise ProblemError(f"{path}: `problem` is a {type(problem).__name__}, not a pr.Problem; assign "
                           "problem = pr.Problem(...) (or a pr.Case)")
    training = namespace.get("training", {})
    if not isinstance(training, Mapping) or not all(isinstance(k, str) for k in training):
        raise ProblemError(f"{path}: `training` is a {type(training).__name__}; make it a dict of pr.solve "
                           "options, e.g. training = {'steps': 2000}")
    return as_case(problem), dict(training)
