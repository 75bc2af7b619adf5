r"""A problem stated in a TOML file, read through the closed string grammar: nothing in the file
is executed.

.. code-block:: toml

    domain = "Rectangle(x=(0, 1), y=(0, 1))"
    fields = ["u"]
    equations = ["-lap(u) = 2*pi**2*sin(pi*x)*sin(pi*y)"]
    exact = "sin(pi*x)*sin(pi*y)"

    [[conditions]]
    equation = "u = 0"
    on = "boundary"

Keys (:data:`KEYS`): ``domain`` (required; :func:`~pinr.symbolic.domain_strings.parse_domain`),
``fields`` (default ``["u"]``; or a table name → number of components or their names),
``equations`` (strings, on the interior), ``[[conditions]]`` (``equation`` and ``on`` —
"boundary", "interior", "initial" or a side such as "x-" — and optionally ``weight``, ``hard``,
``name``, ``batch``, ``method``, ``reduction``), ``[parameters]`` (name = number, or a table
``{value = 1.0, trainable = true, positive = true, bounds = [0.1, 10]}``), ``exact`` (a formula,
or a table field → formula), ``periodic`` (coordinate names), ``name``, ``description``,
``align``, and ``[training]`` (options as ``pr.solve`` takes them, checked where the run is
built). Equations and formulas are read by :meth:`Problem.from_strings
<pinr.symbolic.problem.Problem.from_strings>`. A file over :data:`MAX_BYTES`, an unknown key, a
value of the wrong type or a formula outside the grammar raises a one-line
:class:`~pinr.errors.ProblemError` naming the file, the key and the fix.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, as the package tomli (a dependency there)
    import tomli as tomllib

from ..errors import ProblemError
from .domain_strings import parse_domain
from .expressions import Parameter
from .problem import Periodic, Problem, resolve_region

__all__ = ["ProblemFile", "KEYS", "CONDITION_KEYS", "PARAMETER_KEYS", "MAX_BYTES"]

#: top-level keys of a problem file and the type each takes
KEYS = {"domain": "a string", "fields": "a list of names", "equations": "a list of strings",
        "conditions": "an array of tables [[conditions]]", "parameters": "a table [parameters]",
        "exact": "a string, or a table field = string", "periodic": "a list of coordinate names",
        "training": "a table [training]", "name": "a string", "description": "a string",
        "align": 'a string, "constant" or "affine"'}
#: keys of one ``[[conditions]]`` table
CONDITION_KEYS = {"equation": str, "on": str, "weight": float, "hard": bool, "name": str, "batch": int,
                  "method": str, "reduction": str}
#: keys of a parameter given as a table
PARAMETER_KEYS = {"value": float, "trainable": bool, "positive": bool, "bounds": list}
#: the largest problem file read (a statement is a few lines)
MAX_BYTES = 1_000_000

_TYPE_TEXT = {str: "a string", float: "a number", int: "an integer", bool: "true or false", list: "a list"}


@dataclass(frozen=True)
class ProblemFile:
    """A problem read from a TOML file: the validated :class:`~pinr.Problem`, the ``[training]``
    table as written (flat ``pr.solve`` options; the layer that trains checks their names) and
    the file's path (``None`` for text)."""

    problem: Problem
    training: Mapping[str, object]
    path: Path | None = None

    @classmethod
    def read(cls, path) -> "ProblemFile":
        """Read and validate the problem file at ``path``; its name defaults to the file's stem."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"problem file {path} not found")
        if path.stat().st_size > MAX_BYTES:
            raise ProblemError(f"{path}: {path.stat().st_size} bytes; a problem file holds at most {MAX_BYTES}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise ProblemError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
        return cls.from_text(text, name=path.stem, where=str(path), path=path)

    @classmethod
    def from_text(cls, text: str, *, name: str = "problem", where: str = "problem file",
                  path: Path | None = None) -> "ProblemFile":
        """Parse the TOML ``text`` of a problem file (``where`` names it in errors)."""
        if len(text) > MAX_BYTES:
            raise ProblemError(f"{where}: {len(text)} characters; a problem file holds at most {MAX_BYTES}")
        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ProblemError(f"{where}: not valid TOML: {err}") from None
        try:
            problem, training = _statement(table, name)
        except (ValueError, TypeError) as err:  # ProblemError included
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            message = message.replace("declare parameters with params={...}", "declare parameters in [parameters]")
            raise ProblemError(f"{where}: {message}") from None
        return cls(problem, MappingProxyType(training), path)


def _statement(table: dict, name: str) -> tuple[Problem, dict]:
    _no_unknown(table, KEYS, "", "keys")
    if "domain" not in table:
        raise ValueError('missing key domain; add e.g. domain = "Rectangle(x=(0, 1), y=(0, 1))"')
    if "equations" not in table and "conditions" not in table:
        raise ValueError('no equations and no [[conditions]]; add e.g. equations = ["-lap(u) = 1"]')
    domain = parse_domain(_typed(table, "domain", str))  # its errors start "domain ..."
    fields = table.get("fields", ["u"])
    if isinstance(fields, Mapping):
        for k, v in fields.items():
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= 1 or _strings(v)):
                raise ValueError(f"fields.{k}: give the number of components or their names, e.g. {k} = 2 or "
                                 f'{k} = ["re", "im"]')
        fields = dict(fields)
    elif not _strings(fields) or not fields:
        raise ValueError('fields: give a list of names, e.g. fields = ["u"] (or a table name = components)')
    for f in fields:
        if not f.isidentifier() or f.startswith("_"):
            raise ValueError(f"fields: {f!r} is not a name; use letters, digits and _, as in u or u_1")
    equations = table.get("equations", [])
    if not _strings(equations):
        raise ValueError('equations: give a list of strings, e.g. equations = ["-lap(u) = 1"]')
    params = {k: _parameter(k, v) for k, v in _typed(table, "parameters", dict, {}).items()}
    conditions = [_condition(i, c, domain) for i, c in enumerate(_conditions(table))]
    periodic = table.get("periodic", [])
    if not _strings(periodic):
        raise ValueError('periodic: give a list of coordinate names, e.g. periodic = ["x"]')
    conditions += [Periodic(c) for c in periodic]
    options = {"name": _typed(table, "name", str, name), "description": _typed(table, "description", str, "")}
    if "align" in table:
        options["align"] = _typed(table, "align", str)
    if "exact" in table:
        exact = table["exact"]
        if not (isinstance(exact, str) or isinstance(exact, Mapping) and all(isinstance(v, str)
                                                                              for v in exact.values())):
            raise ValueError('exact: give a formula string, e.g. exact = "sin(pi*x)", or a table '
                             'field = formula, e.g. exact = {u = "x", v = "y"}')
        options["exact"] = exact if isinstance(exact, str) else dict(exact)
    training = _typed(table, "training", dict, {})
    problem = Problem.from_strings(domain, equations, conditions, fields=fields, params=params, **options)
    return problem, dict(training)


def _no_unknown(table: Mapping, valid, where: str, what: str) -> None:
    for key in table:
        if key not in valid:
            close = difflib.get_close_matches(key, list(valid), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ValueError(f"unknown key {where}{key}; {hint}valid {what}: {', '.join(valid)}")


def _typed(table: Mapping, key: str, kind: type, default=None):
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, kind):
        raise ValueError(f"{key}: expected {KEYS[key]}, got {_toml_type(value)} {_preview(value)}")
    return value


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _toml_type(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def _preview(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:50] + "..."


def _located(where: str, fn, *args):
    try:
        return fn(*args)
    except (ValueError, TypeError) as err:
        raise type(err)(f"{where}: {err}") from None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parameter(name: str, value):
    """A number (a constant) or a table ``{value, trainable, positive, bounds}``, as a
    :class:`Parameter`."""
    where = f"parameters.{name}"
    if not name.isidentifier() or name.startswith("_"):
        raise ValueError(f"{where}: {name!r} is not a name; use letters, digits and _")
    if _number(value):
        return Parameter(name, value)
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: give a number, e.g. {name} = 1.0, or a table "
                         f"{{value = 1.0, trainable = true, bounds = [0.1, 10]}}, got {_toml_type(value)}")
    _no_unknown(value, PARAMETER_KEYS, f"{where}.", "keys")
    if "value" not in value:
        raise ValueError(f"{where}: missing key value; add e.g. {{value = 1.0, trainable = true}}")
    for key, kind in PARAMETER_KEYS.items():
        v = value.get(key)
        if v is not None and not (_number(v) if kind is float else isinstance(v, kind)):
            raise ValueError(f"{where}.{key}: expected {_TYPE_TEXT[kind]}, got {_toml_type(v)} {_preview(v)}")
    bounds = value.get("bounds")
    if bounds is not None and not (len(bounds) == 2 and all(_number(b) for b in bounds)):
        raise ValueError(f"{where}.bounds: give two numbers [low, high], got {_preview(bounds)}")
    return _located(where, lambda: Parameter(name, value["value"], trainable=value.get("trainable", False),
                                             positive=value.get("positive", False),
                                             bounds=None if bounds is None else tuple(bounds)))


def _conditions(table: Mapping) -> list:
    conditions = table.get("conditions", [])
    if not (isinstance(conditions, list) and all(isinstance(c, Mapping) for c in conditions)):
        raise ValueError("conditions: give [[conditions]] tables, each with equation = \"...\" and on = \"...\"")
    return conditions


def _condition(i: int, table: Mapping, domain) -> dict:
    """Condition keywords (``eq``, ``on``, ...) of the ``i``-th ``[[conditions]]`` table, its region
    checked against ``domain``."""
    where = f"conditions[{i}]"
    _no_unknown(table, CONDITION_KEYS, f"{where}.", "keys")
    for key in ("equation", "on"):
        if key not in table:
            example = 'equation = "u = 0"' if key == "equation" else 'on = "boundary"'
            raise ValueError(f"{where}: missing key {key}; add e.g. {example}")
    for key, kind in CONDITION_KEYS.items():
        v = table.get(key)
        ok = _number(v) if kind is float else isinstance(v, kind) and not (kind is int and isinstance(v, bool))
        if v is not None and not ok:
            raise ValueError(f"{where}.{key}: expected {_TYPE_TEXT[kind]}, got {_toml_type(v)} {_preview(v)}")
    on = table["on"]
    try:
        resolve_region(domain, on)
    except (KeyError, ValueError, TypeError) as err:
        detail = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        sides = getattr(getattr(domain, "space", domain), "side_names", None)
        choices = ['"interior"', '"boundary"'] + (['"initial"'] if _has_time(domain) else [])
        choices += [f'"{s}"' for s in (sides() if callable(sides) else ())]
        raise ValueError(f"{where}.on: cannot place the condition on {on!r} ({detail}); choose "
                         f"{', '.join(choices)}") from None
    kw = {k: v for k, v in table.items() if k != "equation"}
    kw["eq"] = table["equation"]
    return kw


def _has_time(domain) -> bool:
    try:
        _ = domain.initial
    except (ValueError, AttributeError, TypeError):
        return False
    return True
