"""The book's notebooks: stored clean, installable in Colab, and runnable in reduced mode.

Each notebook asserts its own key results (a reconstruction is close, labels are right); here
they run top to bottom with DLGTUT_QUICK=1 (fewer iterations, smaller sets).
"""

import json
import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
BUDGET_SECONDS = 300  # the whole reduced run of every notebook, as the book issue requires
_elapsed: dict[str, float] = {}


def test_there_are_notebooks_and_the_toc_lists_them():
    assert NOTEBOOKS
    toc = (ROOT / "_toc.yml").read_text()
    for nb in NOTEBOOKS:
        assert f"book/{nb.stem}" in toc, nb.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count"))]
    assert dirty == [], f"cells {dirty} of {path.name} have outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_installs_dlgtut_in_colab_only(path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert '"google.colab" in sys.modules' in first.source
    assert "pip install" in first.source and "dlgtut" in first.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_reduced_mode(path, tmp_path, monkeypatch):
    monkeypatch.setenv("DLGTUT_QUICK", "1")
    monkeypatch.setenv("DLGTUT_OFFLINE", os.environ.get("DLGTUT_OFFLINE", "1"))
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    _elapsed[path.name] = time.perf_counter() - started


def test_reduced_runs_fit_the_budget():
    if len(_elapsed) < len(NOTEBOOKS):
        pytest.skip("run together with the notebook tests")
    total = sum(_elapsed.values())
    assert total <= BUDGET_SECONDS, f"{total:.0f} s > {BUDGET_SECONDS} s: {_elapsed}"
