"""The bench wing's floor (DESIGN.md, "Floors"): above the api, below the cli. No module of the
library, problems or solvers imports it — lazy imports included — and it imports not the cli."""

from __future__ import annotations

import ast
from pathlib import Path

import pinr

ROOT = Path(pinr.__file__).resolve().parent
PACKAGES = {"pinr": ROOT, "pinr.problems": ROOT / "problems", "pinr.solvers": ROOT / "solvers"}


def _modules():
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if package == "pinr" and parts[0] in ("problems", "solvers"):
                continue  # the symlinked folders: scanned under their own package names
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            yield ".".join((package, *parts)), path.name == "__init__.py", path


def _imported(name: str, is_package: bool, path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + is_package]
                base = ".".join([*anchor, *([base] if base else [])])
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


def test_nothing_below_the_bench_wing_imports_it():
    modules = list(_modules())
    assert any(n == "pinr.bench.suite" for n, _, _ in modules) and any(n == "pinr.problems" for n, _, _ in modules)
    upward = []
    for name, is_package, path in modules:
        imported = _imported(name, is_package, path)
        if name.startswith("pinr.bench"):
            upward += [(name, m) for m in imported if m == "pinr.cli" or m.startswith("pinr.cli.")]
        elif name not in ("pinr.cli", "pinr.__main__"):
            upward += [(name, m) for m in imported if m == "pinr.bench" or m.startswith("pinr.bench.")]
    assert upward == []


def test_the_scan_sees_relative_and_lazy_imports(tmp_path):
    """The scan is not vacuous: a lazy relative import of the wing from a library module is seen."""
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from ..bench import steps\n    from .. import bench\n")
    assert {"pinr.bench", "pinr.bench.steps"} <= _imported("pinr.render.m", False, f)
