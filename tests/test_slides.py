"""Chapter slides (tools/slides.py): a small executed notebook into a reveal.js deck."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbconvert")
pytest.importorskip("myst_nb", reason="the slides' Markdown conversion needs the book extra")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import colab_notebooks as cn  # noqa: E402
import location  # noqa: E402
import slides  # noqa: E402

PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU"
       "5ErkJggg==")
LONG = "\n\n".join(f"Paragraph {i}: " + "words of the chapter " * 12 for i in range(8))


def _chapter():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell

    def out(cell, *outputs):
        cell.outputs = list(outputs)
        return cell

    stream = nbformat.v4.new_output("stream", name="stdout", text="the answer is 42\n")
    figure = nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "fig"})
    glued = nbformat.v4.new_output("display_data", data={"text/plain": "'GLUED'"},
                                   metadata={"scrapbook": {"name": "k", "mime_prefix": ""}})
    many = nbformat.v4.new_output("stream", name="stdout",
                                  text="".join(f"row {i}\n" for i in range(100)))
    return nbformat.v4.new_notebook(cells=[
        md("(chapter-demo)=\n# A demo chapter\n\nWhat it is about, see {term}`DLG`."),
        code('if "google.colab" in sys.modules:\n    %pip install dlgtut'),
        md("## First section\n\nSome text.\n\n### A detail\n\nMore text."),
        out(code("print(6 * 7)"), stream),
        out(code("plot()"), figure),
        md("## Second section\n\n" + LONG),
        out(code("print(rows)"), many),
        out(code("glue('k', 'GLUED')", metadata={"tags": ["remove-cell"]}), glued),
        out(code("SECRET_SETUP = 1", metadata={"tags": ["remove-input"]}), stream),
        md("## Exercises\n\n```{exercise}\n:label: ex-demo\n\nTry it.\n```\n\n"
           "```{solution} ex-demo\n:class: dropdown\n\nTHE SOLUTION TEXT\n```"),
    ], metadata={"kernelspec": {"name": "python3", "language": "python",
                                "display_name": "Python 3"}})


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    index = cn.BookIndex(documents={"book/demo": {"title": "A demo chapter", "page": "demo"},
                                    cn.GLOSSARY: {"title": "Glossary", "page": "glossary"}},
                         labels={"ex-demo": {"text": "Exercise 1"}}, citations={})
    loc = location.read(ROOT)
    converter = slides.SlideConverter("book/demo", index, lambda doc: {}, loc.site,
                                      loc.raw(loc.tag), cn._md_parser(ROOT))
    notebook = slides.slide_notebook(_chapter(), converter)
    path = slides.write_deck(notebook, tmp_path_factory.mktemp("slides") / "demo.slides.html",
                             "A demo chapter")
    return notebook, path.read_text()


def _types(notebook):
    return [(c.metadata["slideshow"]["slide_type"], c.cell_type, c.source.split("\n")[0])
            for c in notebook.cells]


def test_each_heading_starts_a_slide_and_a_sub_heading_a_sub_slide(deck):
    notebook, _ = deck
    types = _types(notebook)
    slides_ = [s for t, _, s in types if t == "slide"]
    assert slides_ == ["# A demo chapter", "## First section", "## Second section",
                       "## Exercises"]
    assert ("subslide", "markdown", "### A detail") in types
    assert ("fragment", "code", "print(6 * 7)") in types  # short code: the next key press
    assert ("subslide", "code", "plot()") in types  # a figure gets a sub-slide of its own


def test_a_long_text_continues_on_sub_slides_between_paragraphs(deck):
    notebook, _ = deck
    parts = [c for c in notebook.cells if c.cell_type == "markdown" and "Paragraph" in c.source]
    assert len(parts) >= 2  # 8 paragraphs of 3 lines do not fit on one slide
    assert [c.metadata["slideshow"]["slide_type"] for c in parts[1:]] == \
        ["subslide"] * (len(parts) - 1)
    assert all(slides.text_lines(c.source) <= slides.LINES + 2 for c in parts)
    assert sum(c.source.count("Paragraph") for c in parts) == 8  # nothing lost


def test_the_deck_keeps_outputs_and_reveals_no_solution(deck):
    _, html = deck
    assert html.count('<section') >= 6
    assert "reveal.js" in html and "https://unpkg.com/reveal.js@4.0.2" in html
    assert "the answer is 42" in html and "data:image/png;base64," in html
    assert "row 0" in html and "row 99" not in html and "more lines]" in html  # a long output cut
    assert "Exercise 1" in html and "Try it." in html
    assert "THE SOLUTION TEXT" not in html and "Solution to" not in html
    assert "GLUED" not in html and "google.colab" not in html  # left out
    assert "SECRET_SETUP" not in html  # remove-input: the output only
    assert not re.search(r"\{(term|exercise|solution)\}", html)  # no MyST left
    assert "<title>A demo chapter" in html


def test_local_copies_of_reveal_js_can_be_given(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T")])
    notebook.cells[0].metadata["slideshow"] = {"slide_type": "slide"}
    path = slides.write_deck(notebook, tmp_path / "t.slides.html", "T",
                             {"reveal_url_prefix": "vendor/reveal.js"})
    assert "vendor/reveal.js/dist/reveal.js" in path.read_text()


def test_without_a_built_book_it_says_so(tmp_path, capsys):
    assert slides.main([str(tmp_path)]) == 2
    assert "build the book first" in capsys.readouterr().err


def test_the_teaching_page_links_every_chapters_deck():
    text = (ROOT / "book" / "teaching.md").read_text()
    linked = set(re.findall(r'href="\.\./slides/(\w+)\.slides\.html"', text))
    assert linked == {p.stem for p in cn.chapters(ROOT)}


def test_a_title_paragraph_stays_with_what_it_titles():
    text = "\n\n".join(["Intro " * 250, "**Exercise 2**", "Do it."])
    pieces = slides.split_markdown(text)
    assert pieces[-1] == (0, "**Exercise 2**\n\nDo it.")
