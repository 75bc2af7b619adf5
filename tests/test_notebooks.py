"""Every notebook runs top to bottom in its fast mode (PINR_FAST=1), in a temporary folder:
it leaves nothing in notebooks/ and shows at least one figure."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

FOLDER = Path(__file__).parents[1] / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    work, out = tmp_path / "cwd", tmp_path / "out"
    work.mkdir()
    monkeypatch.setenv("PINR_FAST", "1")
    monkeypatch.setenv("PINR_OUT", str(out))  # the notebooks write their files here
    # the inline backend renders figures as image/png outputs (with Agg, headless)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # the kernel is a new process: give it the suite's single torch thread (fast mode's networks
    # are tiny, and two spinning threads on a shared 2-core machine made a notebook 10x slower)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = _listing(FOLDER)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name} shows no figure"
    assert _listing(FOLDER) == before, f"{path.name} left files in notebooks/"
    assert _listing(work) == set(), f"{path.name} wrote into its working directory instead of $PINR_OUT"
