"""Slides for each chapter: a reveal.js deck built from the executed chapter by nbconvert.

Run after ``python3 dev.py book`` (which runs it at its end), or alone::

    python3 dev.py slides    # = python tools/slides.py _build

For every chapter (``book/*.md`` with a kernelspec) it reads the notebook the book build
executed, ``_build/jupyter_execute/book/<chapter>.ipynb``, sets each cell's slide type on a copy
and writes ``_build/html/slides/<chapter>.slides.html`` with nbconvert's ``SlidesExporter`` (the
reveal.js exporter that Jupyter maintains; ``jupyter nbconvert --to slides`` is the same):

* the Markdown is the book's, made plain as for the Colab notebooks (``tools/colab_notebooks.py``:
  glued numbers written out, citations and cross-references as text and links), except that a
  **solution is never shown**, not even folded;
* a ``#`` or ``##`` heading starts a slide, a ``###`` heading a sub-slide (reveal.js's vertical
  slides); a Markdown cell is split at its headings, and text that does not fit on one slide
  (about :data:`LINES` lines) continues on a sub-slide, split between paragraphs;
* a code cell with its outputs is a fragment of the slide it follows (it appears on the next
  key press), or a sub-slide of its own when it would overflow the slide or shows a figure;
  text outputs longer than :data:`OUTPUT_LINES` lines are cut, saying how much;
* cells tagged ``remove-cell`` or ``hide-cell``, and the set-up cell that installs dlgtut in
  Colab, are left out; ``remove-input``/``hide-input`` keep only the outputs,
  ``remove-output``/``hide-output`` only the code; values glued for the text are not shown.

reveal.js 4.0.2, require.js, jQuery and MathJax 2 are loaded from their CDNs (unpkg.com and
cdnjs.cloudflare.com), as nbconvert's template loads them: the decks need a network connection,
as the online book's readers have. For a room without one, give local copies:
``--reveal-url``, ``--require-url``, ``--jquery-url`` and ``--mathjax-url`` (relative URLs are
relative to ``_build/html/slides/``).
"""

from __future__ import annotations

import argparse
import copy
import math
import re
import sys
from pathlib import Path

import nbformat

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))
import colab_notebooks as cn  # noqa: E402
import location  # noqa: E402

LINES = 18  # what fits on a 1280 x 800 slide, in lines of about 95 characters (seen in Chromium)
OUTPUT_LINES = 14  # a text output longer than this is cut
FIGURE_LINES = 12  # what a figure takes
SKIP_TAGS = {"remove-cell", "hide-cell"}
NO_INPUT_TAGS = {"remove-input", "hide-input"}
NO_OUTPUT_TAGS = {"remove-output", "hide-output"}
_HEADING = re.compile(r"^(#{1,6})\s+\S")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_TITLE = re.compile(r"^\*\*[^\n]+\*\*$")  # a paragraph that is only a bold line
_IMAGES = ("image/png", "image/jpeg", "image/svg+xml")


class SlideConverter(cn.MarkdownConverter):
    """The Colab notebooks' Markdown conversion, without solutions."""

    def directive(self, name, argument, options, body):
        if name == "solution":
            return []
        return super().directive(name, argument, options, body)


def text_lines(text: str) -> int:
    """About how many lines ``text`` takes on a slide (long lines wrap at 95 characters)."""
    return sum(max(1, math.ceil(len(line) / 95)) for line in text.strip("\n").split("\n"))


def _blocks(text: str) -> list[str]:
    """``text`` split at blank lines, keeping fenced code and ``$$`` math whole."""
    blocks, current, fence, math_open = [], [], None, False
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)[0] * len(m.group(1))
        elif fence is not None and line.strip().startswith(fence) and not line.strip(fence[0]):
            fence = None
        elif fence is None and line.strip().startswith("$$") and line.strip() != "$$$$":
            if not (line.strip().endswith("$$") and len(line.strip()) > 2):
                math_open = not math_open
        if not line.strip() and fence is None and not math_open:
            if current:
                blocks.append("\n".join(current))
                current = []
        else:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def split_markdown(text: str) -> list[tuple[int, str]]:
    """``text`` in pieces that each fit a slide: ``(heading level or 0, Markdown)``.

    A heading starts a piece; a piece longer than :data:`LINES` is cut between paragraphs
    (the pieces after the first have level 0).
    """
    pieces: list[tuple[int, list[str]]] = []
    for block in _blocks(text):
        m = _HEADING.match(block)
        if m or not pieces:
            pieces.append((len(m.group(1)) if m else 0, [block]))
        else:
            pieces[-1][1].append(block)
    out: list[tuple[int, str]] = []
    for level, blocks in pieces:
        chunk: list[str] = []
        for block in blocks:
            if chunk and text_lines("\n\n".join([*chunk, block])) > LINES:
                # A title paragraph ("**Exercise 1.2**") goes along with what it titles.
                carried = [chunk.pop()] if len(chunk) > 1 and _TITLE.match(chunk[-1]) else []
                out.append((level, "\n\n".join(chunk)))
                chunk, level = carried, 0
            chunk.append(block)
        if chunk:
            out.append((level, "\n\n".join(chunk)))
    return out


def _cut(text: str) -> str:
    lines = text.rstrip("\n").split("\n")
    if len(lines) <= OUTPUT_LINES:
        return text
    kept = OUTPUT_LINES - 1
    return "\n".join(lines[:kept]) + f"\n[... {len(lines) - kept} more lines]\n"


def _outputs(cell) -> list:
    """The outputs a slide shows: no glued values, long texts cut."""
    shown = []
    for output in cell.get("outputs", []):
        if "scrapbook" in output.get("metadata", {}):  # myst-nb's glue: shown in the text
            continue
        output = copy.deepcopy(output)
        if output.get("output_type") == "stream":
            output["text"] = _cut("".join(output["text"]))
        elif "data" in output and "text/plain" in output["data"] and len(output["data"]) == 1:
            output["data"]["text/plain"] = _cut("".join(output["data"]["text/plain"]))
        shown.append(output)
    return shown


def code_lines(cell) -> tuple[int, bool]:
    """About how many lines a code cell and its outputs take, and whether it shows a figure."""
    lines = 0 if "remove_input" in cell.get("transient", {}) else text_lines(cell.source)
    figure = False
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if any(k in data for k in _IMAGES):
            lines, figure = lines + FIGURE_LINES, True
        elif output.get("output_type") == "stream":
            lines += text_lines(output["text"])
        elif "text/html" in data:
            lines += min(OUTPUT_LINES, text_lines("".join(data["text/html"])) // 2)
        elif "text/plain" in data:
            lines += text_lines("".join(data["text/plain"]))
    return lines, figure


def slide_notebook(executed: nbformat.NotebookNode, converter) -> nbformat.NotebookNode:
    """A copy of an executed chapter with every cell's ``slideshow.slide_type`` set.

    ``converter`` turns the book's MyST Markdown into plain Markdown (a :class:`SlideConverter`;
    anything with a ``convert(text) -> str``).
    """
    cells: list[tuple[str, int, bool, nbformat.NotebookNode]] = []
    for cell in executed.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell.cell_type == "markdown":
            for level, piece in split_markdown(converter.convert(cell.source)):
                cells.append(("md", level, False, nbformat.v4.new_markdown_cell(piece)))
        elif cell.cell_type == "code":
            if tags & SKIP_TAGS or "google.colab" in cell.source:
                continue
            new = nbformat.v4.new_code_cell(cell.source)
            new.outputs = [] if tags & NO_OUTPUT_TAGS else _outputs(cell)
            if tags & NO_INPUT_TAGS:
                if not new.outputs:
                    continue
                new.metadata["tags"] = ["remove_input"]
                new["transient"] = {"remove_input": True}
            if not new.source.strip() and not new.outputs:
                continue
            cells.append(("code", 0, False, new))
    deck, used = [], LINES + 1
    for kind, level, _, cell in cells:
        if kind == "md":
            size = text_lines(cell.source)
            if level in (1, 2) or not deck:
                slide_type, used = "slide", size
            elif level == 3 or used + size > LINES:
                slide_type, used = "subslide", size
            else:
                slide_type, used = "-", used + size
        else:
            size, figure = code_lines(cell)
            if figure or used + size > LINES:
                slide_type, used = "subslide", size
            else:
                slide_type, used = "fragment", used + size
        cell.pop("transient", None)
        cell.metadata["slideshow"] = {"slide_type": slide_type}
        deck.append(cell)
    for number, cell in enumerate(deck):
        cell["id"] = f"slide-cell-{number}"
    return nbformat.v4.new_notebook(cells=deck, metadata={
        "kernelspec": executed.metadata.get("kernelspec", {}),
        "language_info": executed.metadata.get("language_info", {"name": "python"})})


def write_deck(notebook: nbformat.NotebookNode, path: Path, title: str,
               urls: dict[str, str] | None = None) -> Path:
    """Export a notebook from :func:`slide_notebook` to a reveal.js deck at ``path``."""
    from nbconvert.exporters import SlidesExporter
    from traitlets.config import Config

    config = Config()
    config.SlidesExporter.exclude_input_prompt = True
    config.SlidesExporter.exclude_output_prompt = True
    config.SlidesExporter.reveal_scroll = True  # a long output scrolls instead of spilling over
    config.SlidesExporter.reveal_number = "c/t"
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_input_tags = {"remove_input"}
    for key, value in (urls or {}).items():
        if value:
            setattr(config.SlidesExporter, key, value)
    body, _ = SlidesExporter(config=config).from_notebook_node(
        notebook, resources={"metadata": {"name": title}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def build_slides(build: Path, chapters: list[str] | None = None, root: Path = ROOT,
                 urls: dict[str, str] | None = None) -> list[Path]:
    """Every chapter's deck (or only ``chapters``) into ``build/html/slides/``; the paths."""
    index = cn.BookIndex.load(build / "html" / cn.INDEX_NAME)
    glue = cn.executed_glue(build)
    loc = location.read(root)
    parser = cn._md_parser(root)
    sources = cn.chapters(root)
    if chapters:
        unknown = sorted(set(chapters) - {s.stem for s in sources})
        if unknown:
            raise cn.ConversionError(f"no chapter named {', '.join(unknown)}")
        sources = [s for s in sources if s.stem in chapters]
    written = []
    for source in sources:
        docname = source.resolve().relative_to(root.resolve()).with_suffix("").as_posix()
        executed = build / "jupyter_execute" / f"{docname}.ipynb"
        if not executed.is_file():
            raise cn.ConversionError(f"{docname}.md: no executed notebook at {executed}: build "
                                     "the book first (python3 dev.py book)")
        converter = SlideConverter(docname, index, glue, loc.site, loc.raw(loc.tag), parser)
        deck = slide_notebook(nbformat.read(executed, as_version=4), converter)
        title = index.documents.get(docname, {}).get("title", source.stem)
        written.append(write_deck(deck, build / "html" / "slides" / f"{source.stem}.slides.html",
                                  title, urls))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", type=Path, help="the book's build folder (_build)")
    parser.add_argument("--only", nargs="+", metavar="CHAPTER", help="only these chapters")
    for name in ("reveal", "require", "jquery", "mathjax"):
        parser.add_argument(f"--{name}-url", metavar="URL",
                            help=f"where the decks load {name} from (default: its CDN)")
    args = parser.parse_args(argv)
    urls = {"reveal_url_prefix": args.reveal_url, "require_js_url": args.require_url,
            "jquery_url": args.jquery_url, "mathjax_url": args.mathjax_url}
    try:
        written = build_slides(args.build, args.only, urls=urls)
    except cn.ConversionError as exc:
        print(f"slides: error: {exc}", file=sys.stderr)
        return 2
    print(f"slides: {len(written)} decks in {args.build / 'html' / 'slides'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
