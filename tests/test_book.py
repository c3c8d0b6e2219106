"""The book's chapters: one hand-edited source each, a clean paired notebook, runnable reduced.

Each chapter is written in ``book/<chapter>.md`` (a MyST Markdown notebook, jupytext format
``md:myst``) and paired with ``book/<chapter>.ipynb`` (``formats: ipynb,md:myst``), which is
stored without outputs for Colab's launch button. After editing the .md, run
``jupytext --sync book/<chapter>.md``; the tests below fail when a pair is out of sync.

Each notebook asserts its own key results (a reconstruction is close, labels are right); here
they run top to bottom from the .md with DLGTUT_QUICK=1 (fewer iterations, smaller sets).
How long that takes per chapter: ``benchmarks/book_times.py``.
"""

import importlib
import json
import os
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from sphinx.util.matching import Matcher

from dlgtut.notebook_client import SteppedNotebookClient

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
PAIRING = "ipynb,md:myst"


def _is_myst_notebook(path: Path) -> bool:
    """A .md page with jupytext's MyST header (book/intro.md and the like are plain pages)."""
    text = path.read_text()
    return text.startswith("---\n") and "format_name: myst" in text.split("\n---", 1)[0]


SOURCES = sorted(p for p in BOOK.glob("*.md") if _is_myst_notebook(p))
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
CHAPTERS = sorted({p.stem for p in SOURCES} | {p.stem for p in NOTEBOOKS})


def _sync_hint(stem: str) -> str:
    return f"edit book/{stem}.md, then run `jupytext --sync book/{stem}.md`"


def _config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def test_there_are_chapters_and_the_toc_lists_them():
    assert SOURCES
    toc = (ROOT / "_toc.yml").read_text()
    for stem in CHAPTERS:
        assert f"book/{stem}" in toc, stem


@pytest.mark.parametrize("stem", CHAPTERS)
def test_chapter_is_a_paired_md_and_ipynb(stem):
    md, ipynb = BOOK / f"{stem}.md", BOOK / f"{stem}.ipynb"
    assert md.exists() and _is_myst_notebook(md), f"book/{stem}.md (jupytext md:myst) is missing"
    assert ipynb.exists(), f"book/{stem}.ipynb is missing: run `jupytext --sync book/{stem}.md`"
    assert jupytext.read(md).metadata["jupytext"]["formats"] == PAIRING
    assert nbformat.read(ipynb, as_version=4).metadata["jupytext"]["formats"] == PAIRING


@pytest.mark.parametrize("stem", CHAPTERS)
def test_pair_is_in_sync(stem):
    """The cells of the .md, read by jupytext, are those of the .ipynb (types and sources).

    Cell ids and the metadata jupytext does not write into the .md are left out.
    """
    md, ipynb = BOOK / f"{stem}.md", BOOK / f"{stem}.ipynb"
    if not (md.exists() and ipynb.exists()):
        pytest.skip("not a pair (see test_chapter_is_a_paired_md_and_ipynb)")
    text = [(c.cell_type, c.source) for c in jupytext.read(md).cells]
    stored = [(c.cell_type, c.source) for c in nbformat.read(ipynb, as_version=4).cells]
    for i, (a, b) in enumerate(zip(text, stored, strict=False)):
        assert a == b, f"cell {i} differs between {md.name} and {ipynb.name}: {_sync_hint(stem)}"
    assert len(text) == len(stored), (
        f"{md.name} has {len(text)} cells, {ipynb.name} {len(stored)}: {_sync_hint(stem)}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert dirty == [], (
        f"cells {dirty} of {path.name} have outputs or execution counts; rewrite it from the "
        f".md without them: `jupytext --to ipynb book/{path.stem}.md`")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_first_code_cell_installs_dlgtut_in_colab_only(path):
    nb = jupytext.read(path)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert '"google.colab" in sys.modules' in first.source
    assert "pip install" in first.source and "dlgtut" in first.source


def test_sphinx_reads_the_md_and_not_the_paired_ipynb():
    """Both files of a pair would be the same page: the .ipynb files are excluded."""
    excluded = Matcher(_config()["exclude_patterns"])
    for stem in CHAPTERS:
        assert excluded(f"book/{stem}.ipynb"), f"book/{stem}.ipynb would be a second page"
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
    monkeypatch.setenv("DLGTUT_OFFLINE", os.environ.get("DLGTUT_OFFLINE", "1"))
    nb = jupytext.read(path)
    # Stepped polls: a reply the client did not wake up for once cost this test 600 s
    # (dlgtut/notebook_client.py).
    SteppedNotebookClient(nb, timeout=600, kernel_name="python3",
                          resources={"metadata": {"path": str(tmp_path)}}).execute()
