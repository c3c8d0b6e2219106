"""The book's chapters: one hand-edited source each, runnable reduced.

Each chapter is written in ``book/<chapter>.md`` (a MyST Markdown notebook, jupytext format
``md:myst``); the notebooks readers open in Colab are built from it (``python3 dev.py colab``),
not stored.

Each notebook checks its own key results (``dlgtut.chapter.check``: a reconstruction is close,
labels are right); here they run top to bottom from the .md with DLGTUT_QUICK=1 (fewer
iterations, smaller sets) and DLGTUT_STRICT=1 (a check that fails stops the run).
How long that takes per chapter: ``benchmarks/book_times.py``.
"""

import ast
import importlib
import os
from pathlib import Path

import jupytext
import pytest
import yaml
from sphinx.util.matching import Matcher

from dlgtut.notebook_client import SteppedNotebookClient

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def _is_myst_notebook(path: Path) -> bool:
    """A .md page with jupytext's MyST header (book/intro.md and the like are plain pages)."""
    text = path.read_text()
    return text.startswith("---\n") and "format_name: myst" in text.split("\n---", 1)[0]


SOURCES = sorted(p for p in BOOK.glob("*.md") if _is_myst_notebook(p))
CHAPTERS = sorted(p.stem for p in SOURCES)


def _config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def test_there_are_chapters_and_the_toc_lists_them():
    assert SOURCES
    toc = (ROOT / "_toc.yml").read_text()
    for stem in CHAPTERS:
        assert f"book/{stem}" in toc, stem


def test_no_notebook_is_stored_beside_the_sources():
    """The notebooks readers open in Colab are built from the sources (``python3 dev.py
    colab``) and published by the book's workflow; a stored copy would only drift."""
    assert sorted(p.name for p in BOOK.glob("*.ipynb")) == []
    for path in SOURCES:
        assert "formats:" not in jupytext.read(path).metadata.get("jupytext", {}), (
            f"{path.name} is paired with a notebook: remove `formats` from its header")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_first_code_cell_installs_dlgtut_in_colab_only(path):
    nb = jupytext.read(path)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert '"google.colab" in sys.modules' in first.source
    assert "pip install" in first.source and "dlgtut" in first.source


def _code(path: Path) -> list[str]:
    """The chapter's code cells, IPython magics (``%pip``) blanked so that ast can parse them."""
    cells = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]
    return ["\n".join(line[:len(line) - len(line.lstrip())] + "pass"
                      if line.lstrip().startswith(("%", "!")) else line
                      for line in src.splitlines()) for src in cells]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_a_reader_s_run_needs_no_book_tool_and_halts_on_no_threshold(path):
    """In Colab there is no myst_nb, and a threshold that holds on the book's CPU and versions
    may not hold there: chapters glue and check through dlgtut.chapter, never ``assert``."""
    for i, src in enumerate(_code(path)):
        tree = ast.parse(src)
        for node in ast.walk(tree):
            assert not isinstance(node, ast.Assert), (
                f"{path.name}, code cell {i}: `assert` halts a reader's Run all; use "
                "dlgtut.chapter.check")
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
                    a.name for a in node.names]
                assert not any(n.split(".")[0] in {"myst_nb", "jupytext", "sphinx"}
                               for n in names), f"{path.name}, code cell {i} imports {names}"


def test_sphinx_reads_every_chapter():
    excluded = Matcher(_config()["exclude_patterns"])
    for stem in CHAPTERS:
        assert not excluded(f"book/{stem}.md"), f"book/{stem}.md is excluded"


def test_math_is_rendered_by_a_mathjax_shipped_with_the_book():
    """MathJax comes from the build (sphinx-mathjax-offline), not a CDN: math works offline."""
    sphinx = _config()["sphinx"]
    assert "sphinx-mathjax-offline" in sphinx["extra_extensions"]
    path = sphinx["config"]["mathjax_path"]
    assert "://" not in path and not path.startswith("//"), path
    # The extension copies its static/mathjax folder to _build/html/_static/mathjax.
    package = Path(importlib.import_module("sphinx-mathjax-offline").__file__).parent
    assert (package / "static" / path).is_file(), path


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_notebook_runs_in_reduced_mode(path, tmp_path, monkeypatch):
    """The chapter as people edit it (the .md) runs top to bottom and passes its own asserts."""
    monkeypatch.setenv("DLGTUT_QUICK", "1")
    monkeypatch.setenv("DLGTUT_STRICT", "1")  # a result that no longer holds fails the test
    monkeypatch.setenv("DLGTUT_OFFLINE", os.environ.get("DLGTUT_OFFLINE", "1"))
    nb = jupytext.read(path)
    # Stepped polls: a reply the client did not wake up for once cost this test 600 s
    # (dlgtut/notebook_client.py).
    SteppedNotebookClient(nb, timeout=600, kernel_name="python3",
                          resources={"metadata": {"path": str(tmp_path)}}).execute()
