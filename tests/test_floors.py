"""Floors look down: every module of pinr imports only modules on its own floor or below
(DESIGN.md, "Floors"; docs/architecture.md). The scan reads every ``import`` / ``from`` statement
of the source — lazy imports inside functions included, relative imports resolved — over
``pinr/`` and the top-level ``problems/`` and ``solvers/`` folders (installed as
``pinr.problems`` and ``pinr.solvers``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: the floors from the bottom; a module sits on the floor of the longest name that is it or a
#: package above it (``pinr`` itself, the façade, matches only ``pinr/__init__.py``)
FLOORS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation: io, errors, metrics and leaf helpers",
     ("pinr.io", "pinr.errors", "pinr.metrics", "pinr.memory", "pinr.images", "pinr.plotting", "pinr.export",
      "pinr.catalogue")),
    ("symbolic expressions", ("pinr.symbolic.expressions", "pinr.symbolic.printing")),
    ("domains", ("pinr.domains",)),
    ("statement: Problem, conditions, parser", ("pinr.symbolic",)),
    ("compiler", ("pinr.compiler",)),
    ("derivatives", ("pinr.derivatives",)),
    ("backbones, geometry, render", ("pinr.backbones", "pinr.geometry", "pinr.render")),
    ("the result type (Solution)", ("pinr.solution",)),
    ("training", ("pinr.training",)),
    ("cases: a statement with its defaults, metric and outputs", ("pinr.case", "pinr.collection", "pinr.comparison")),
    ("solvers", ("pinr.solvers",)),
    ("problems: the catalogue and users' files", ("pinr.problems", "pinr.problem_files")),
    ("run directories", ("pinr.run", "pinr.report")),
    ("api", ("pinr.api", "pinr.sweep")),
    ("the façade (pinr/__init__)", ("pinr",)),
    ("bench wing", ("pinr.bench",)),
    ("cli", ("pinr.cli", "pinr.__main__")),
]

#: the engine floors (the issue's measure counts their upward imports)
ENGINE = ("symbolic expressions", "domains", "statement: Problem, conditions, parser", "compiler", "derivatives",
          "backbones, geometry, render", "training")


def floor_of(module: str) -> int | None:
    """The floor index of a dotted module name, ``None`` for one outside pinr's floors."""
    best, floor = "", None
    for i, (_, names) in enumerate(FLOORS):
        for name in names:
            hit = module == name if name == "pinr" else module == name or module.startswith(name + ".")
            if hit and len(name) > len(best):
                best, floor = name, i
    return floor


def modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted name → (file, is a package ``__init__``) for every module under ``root``'s
    ``pinr/``, ``problems/`` (``pinr.problems``) and ``solvers/`` (``pinr.solvers``)."""
    out = {}
    for folder, package in (("pinr", "pinr"), ("problems", "pinr.problems"), ("solvers", "pinr.solvers")):
        base = root / folder
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base)
            if folder == "pinr" and rel.parts[0] in ("problems", "solvers"):
                continue  # the installed layout's links to the top-level folders
            parts = list(rel.with_suffix("").parts)
            init = parts[-1] == "__init__"
            if init:
                parts.pop()
            out[".".join([package, *parts])] = (path, init)
    return out


def imported(tree: ast.AST, module: str, is_package: bool, known) -> list[tuple[int, str]]:
    """``(line, module)`` of every pinr module the statements of ``tree`` import, anywhere in the
    file; ``from X import name`` names ``X.name`` when that is a module."""
    here = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
            out += [(node.lineno, s) for s in subs] or [(node.lineno, target)]
    return [(line, name) for line, name in out if name == "pinr" or name.startswith("pinr.")]


def upward_imports(root: Path) -> list[tuple[str, int, str, str, str]]:
    """Every import statement under ``root`` that reaches a floor above its module's (or a
    module on no floor): ``(file, line, module, imported module, why)``, one per statement."""
    known = modules(root)
    found = []
    for module, (path, init) in known.items():
        own = floor_of(module)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        seen = set()
        for line, target in imported(tree, module, init, known):
            theirs = floor_of(target)
            if own is None:
                why = f"{module} is on no floor: add it to FLOORS in tests/test_floors.py"
            elif theirs is None:
                why = f"{target} is on no floor: add it to FLOORS in tests/test_floors.py"
            elif theirs > own:
                why = f"'{FLOORS[own][0]}' imports '{FLOORS[theirs][0]}'"
            else:
                continue
            if line not in seen:
                seen.add(line)
                found.append((str(path.relative_to(root)), line, module, target, why))
    return found


def _report(found) -> str:
    return "\n".join(f"  {f}:{line}: {target}  ({why})" for f, line, _, target, why in found)


def test_every_module_imports_only_its_floor_or_below():
    found = upward_imports(ROOT)
    assert not found, (f"{len(found)} import(s) reach up a floor (DESIGN.md 'Floors'; docs/architecture.md); "
                       f"take what is needed as an argument (a callable, a Network) or move the code up:\n"
                       + _report(found))


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize("text", [
    "from ...api import solve\n",                        # relative, at the top
    "def f():\n    from pinr.solvers import PINNSolver\n",  # lazy, inside a function
    "def f():\n    import pinr\n",                        # the façade
    "from ... import solution\n",                         # a module named in from-import
    "from ...problems import get\n",                      # two levels up, into a mapped folder
])
def test_the_scan_catches_a_planted_upward_import(tmp_path, text):
    root = _tree(tmp_path, {
        "pinr/__init__.py": "", "pinr/api.py": "", "pinr/solution.py": "", "pinr/io.py": "",
        "pinr/backbones/__init__.py": "", "pinr/backbones/base.py": "", "pinr/backbones/sub/__init__.py": "",
        "pinr/backbones/sub/planted.py": "from pinr.io import atomic_write\nfrom .. import base\n" + text,
        "problems/__init__.py": "def get():\n    pass\n", "solvers/__init__.py": "from pinr.solution import x\n",
    })
    found = upward_imports(root)
    assert [(f, m) for f, _, m, _, _ in found] == [("pinr/backbones/sub/planted.py", "pinr.backbones.sub.planted")]
    assert "'backbones, geometry, render' imports" in found[0][4]


def test_a_module_on_no_floor_is_reported(tmp_path):
    root = _tree(tmp_path, {"pinr/__init__.py": "", "pinr/newthing.py": "from pinr import io\n", "pinr/io.py": "",
                            "problems/__init__.py": "", "solvers/__init__.py": ""})
    (found,) = upward_imports(root)
    assert found[2] == "pinr.newthing" and "on no floor" in found[4]
