"""Sphinx configuration: the API reference from pinr's docstrings, the notebooks as tutorials.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pinr

project = "pinr"
author = "the pinr developers"
release = version = pinr.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.napoleon",  # the "Args:" sections of the plotting and metrics helpers
    "sphinx.ext.viewcode",
    "myst_nb",
]
autosummary_generate = False
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the docstrings state shapes and types in words
autodoc_class_signature = "separated"
autodoc_inherit_docstrings = False  # sympy and torch docstrings are not ours to render
nb_execution_mode = "off"  # the test suite executes every notebook; the docs show them as stored
myst_enable_extensions = ["dollarmath", "amsmath"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"pinr {release}"
suppress_warnings = ["myst.header"]  # notebooks start at their own heading levels

_ROOT = Path(__file__).resolve().parent


def _copy_notebooks(app):
    """The notebooks stay in notebooks/; the build reads copies in docs/tutorials/."""
    target = _ROOT / "tutorials"
    target.mkdir(exist_ok=True)
    for nb in sorted((_ROOT.parent / "notebooks").glob("*.ipynb")):
        shutil.copyfile(nb, target / nb.name)


def setup(app):
    app.connect("builder-inited", _copy_notebooks)
