"""The book's structure for teaching (issue 32, item 2): what every chapter must carry.

**The format.** Every chapter listed in ``_toc.yml`` (a MyST notebook: ``book/<chapter>.md``)

1. opens, right after the title's opening paragraphs (in the first Markdown cell, before any
   ``##`` heading and before the "Running this chapter" box), with this box::

       ```{admonition} In this chapter
       :class: tip

       **Learning objectives.** After this chapter you can:

       1. compute ... (3 to 5 numbered items, each starting with a verb that can be checked:
          "compute", "explain why", "measure", "run", ... never "understand", "know",
          "learn", "appreciate", "be aware")
       2. ...

       **Prerequisites.** {ref}`chapter-fl`; Python and PyTorch basics.

       **Time.** About 25 min to read; about 3 h with the exercises.
       ```

   The prerequisites name at least one thing; a chapter that builds on others names them with
   ``{ref}`chapter-...``` (the first chapter names skills only). The reading time is the prose's
   word count at 200 words a minute (:func:`prose_words`: the Markdown cells before ``##
   Exercises``, without code blocks, labels and directive options); the stated minutes must be
   within 25% (at least 3 minutes) of it. The hours with the exercises are at least the
   reading time plus half an hour.
2. gives every figure a number, a caption and a name, and refers to it by number: a code cell
   that draws a figure (its statements, not the functions it defines, call ``plt.subplots``/
   ``plt.figure``, a ``plot_*`` or ``draw_*`` function, or show an ``Image(...)``; cells that
   show ipywidgets are interactive, and cells tagged ``remove-output`` show nothing in the book:
   both are exempt)
   has myst-nb's cell option ``mystnb: {figure: {caption: ..., name: fig-...}}`` in its YAML
   header, shows exactly that one figure (no ``table()`` and no progress bar in it, and no value
   on its last line: myst-nb wraps every output of the cell in the same figure), and the name
   is used by a ``{numref}`` in the chapter's prose ("{numref}`fig-dlg-batch`" renders
   "Figure 3.7").
3. does the same for tables: every ``table(rows, header, caption="...", name="tab-...")`` call
   has a literal caption and name, and the name is used by a ``{numref}``; a Markdown table in
   the prose (before ``## Exercises``) stands in a ``{table} caption`` directive with
   ``:name: tab-...``, used by a ``{numref}`` too.

Names are unique across the book. The notation page (``book/notation.md``) and the glossary
(``book/glossary.md``, a Sphinx ``{glossary}``) are in ``_toc.yml``'s Reference part, and every
``{term}`` a chapter uses is defined in the glossary.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORDS_PER_MINUTE = 200

CHAPTER_LABELS = ("chapter-fl", "chapter-privacy", "chapter-dlg", "chapter-dlg-explorer",
                  "chapter-beyond", "chapter-flower", "chapter-malicious-server",
                  "chapter-membership", "chapter-property", "chapter-inversion",
                  "chapter-defenses")
VAGUE_VERBS = ("understand", "know", "learn", "appreciate", "be aware", "get a feel",
               "be familiar")


def _toc_files(node) -> list[str]:
    files = []
    if isinstance(node, dict):
        if "file" in node:
            files.append(node["file"])
        for value in node.values():
            files += _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            files += _toc_files(item)
    return files


TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
TOC_FILES = _toc_files(TOC)


def _is_notebook(path: Path) -> bool:
    text = path.read_text()
    return text.startswith("---\n") and "format_name: myst" in text.split("\n---", 1)[0]


# Every chapter the toc lists (a chapter not written yet, such as book/privacy.md while it is
# being written, is skipped); the privacy chapter is checked as soon as it is there.
CHAPTERS = [ROOT / f"{f}.md" for f in TOC_FILES
            if (ROOT / f"{f}.md").is_file() and _is_notebook(ROOT / f"{f}.md")]
IDS = [p.stem for p in CHAPTERS]


def _cells(path: Path):
    return jupytext.read(path).cells


def _markdown(path: Path) -> str:
    return "\n".join(c.source for c in _cells(path) if c.cell_type == "markdown")


_FENCE = re.compile(r"^(`{3,}|~{3,}|:{3,})(.*)$")


def prose_words(path: Path) -> int:
    """Words a reader reads: the Markdown cells before ``## Exercises``, without the code
    blocks (fences whose info is not a ``{directive}``), ``(label)=`` lines, directive fences
    and their ``:option:`` lines; the words inside admonitions, math and roles count."""
    words = 0
    for cell in _cells(path):
        if cell.cell_type != "markdown":
            continue
        code_fence = None
        for line in cell.source.split("\n"):
            stripped = line.strip()
            if stripped.startswith("## Exercises"):
                return words
            fence = _FENCE.match(stripped)
            if code_fence is not None:
                if fence and stripped.startswith(code_fence) and not fence.group(2).strip():
                    code_fence = None
                continue
            if fence:
                if fence.group(2).strip() and not fence.group(2).strip().startswith("{"):
                    code_fence = fence.group(1)
                continue
            if re.match(r"^\(.+\)=$", stripped) or re.match(r"^:[\w-]+:", stripped):
                continue
            words += len(stripped.split())
    return words


_BOX = re.compile(r"^(`{3,}|:{3,})\{admonition\}\s*In this chapter\s*$(.*?)^\1\s*$",
                  re.MULTILINE | re.DOTALL)


def _box(path: Path) -> str:
    first = next(c for c in _cells(path) if c.cell_type == "markdown")
    match = _BOX.search(first.source)
    assert match, (f"{path.name}: no ```{{admonition}} In this chapter box in the first Markdown "
                   "cell (right after the title's opening paragraphs)")
    before = first.source[:match.start()]
    assert "\n## " not in before and "Running this chapter" not in before, (
        f"{path.name}: the box comes after the opening paragraphs, before any section and "
        "before the 'Running this chapter' box")
    return match.group(2)


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_chapter_opens_with_objectives_prerequisites_and_time(path):
    box = _box(path)
    assert ":class: tip" in box, f"{path.name}: the box is a tip (:class: tip)"
    objectives = re.search(r"\*\*Learning objectives\.\*\* After this chapter you can:\s*\n"
                           r"(.*?)(?=\n\s*\*\*Prerequisites\.\*\*)", box, re.DOTALL)
    assert objectives, f"{path.name}: **Learning objectives.** ... then **Prerequisites.**"
    items = re.findall(r"^\s*\d+\.\s+(.+?)(?=^\s*\d+\.\s|\Z)", objectives.group(1),
                       re.MULTILINE | re.DOTALL)
    assert 3 <= len(items) <= 5, f"{path.name}: {len(items)} objectives, not 3 to 5"
    for item in items:
        first = " ".join(item.split()).lower()
        assert not first.startswith(VAGUE_VERBS), (
            f"{path.name}: an objective a student cannot check: {item.strip()!r}")
        assert len(first.split()) >= 4, f"{path.name}: too short to check: {item.strip()!r}"

    prereq = re.search(r"\*\*Prerequisites\.\*\*(.*?)(?=\*\*Time\.\*\*)", box, re.DOTALL)
    assert prereq and len(prereq.group(1).split()) >= 2, f"{path.name}: no prerequisites"
    refs = re.findall(r"\{ref\}`([^`]+)`", prereq.group(1))
    if path.stem != "federated_learning":  # the first chapter builds on no other
        assert refs, f"{path.name}: the prerequisites name the chapters it builds on ({{ref}})"
    for ref in refs:
        assert ref in CHAPTER_LABELS, f"{path.name}: {ref!r} is not a chapter's label"

    time = re.search(r"\*\*Time\.\*\* About (\d+) min to read; about (\d+(?:\.\d+)?) h with "
                     r"the exercises\.", box)
    assert time, f"{path.name}: **Time.** About N min to read; about H h with the exercises."
    stated, hours = int(time.group(1)), float(time.group(2))
    counted = prose_words(path) / WORDS_PER_MINUTE
    assert abs(stated - counted) <= max(3, 0.25 * counted), (
        f"{path.name}: {stated} min stated, the prose has {prose_words(path)} words: "
        f"{counted:.0f} min at {WORDS_PER_MINUTE} words a minute")
    assert hours * 60 >= stated + 30, f"{path.name}: {hours} h with the exercises is too short"


# a figure cell may end with a call to these: they return None, or the figure itself (Image)
SHOWS_NOTHING_ELSE = ("Image", "show", "display", "tight_layout", "subplots_adjust", "print",
                     "glue")
_FIGURE_CALL = re.compile(r"\bplt\.(subplots|figure)\(|\b(plot|draw)_\w+\(|\bImage\(")


def _code_cells(path: Path):
    return [c for c in _cells(path) if c.cell_type == "code"]


def _draws_figure(source: str) -> bool:
    """Whether the cell's own statements draw (a function it only defines does not)."""
    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(source))
    code = "\n".join(ast.unparse(node) for node in tree.body
                     if not isinstance(node, (ast.FunctionDef, ast.ClassDef)))
    return bool(_FIGURE_CALL.search(code)) and "widgets." not in code


def _figures(path: Path) -> list[tuple[str, dict]]:
    """(cell source, its mystnb figure options) of every code cell that draws a figure."""
    found = []
    for cell in _code_cells(path):
        tags = cell.metadata.get("tags", [])
        if "remove-output" in tags or "remove-cell" in tags:
            continue
        if _draws_figure(cell.source):
            options = (cell.metadata.get("mystnb") or {}).get("figure") or {}
            found.append((cell.source, options))
    return found


def _table_calls(path: Path) -> list[tuple[str, dict]]:
    """(the call's code, its keyword arguments) of every ``table(...)`` call."""
    from IPython.core.inputtransformer2 import TransformerManager

    calls = []
    for cell in _code_cells(path):
        tree = ast.parse(TransformerManager().transform_cell(cell.source))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "table"):
                calls.append((ast.unparse(node)[:80], {k.arg: k.value for k in node.keywords}))
    return calls


def _numrefs(path: Path) -> set[str]:
    found = set()
    for content in re.findall(r"\{numref\}`([^`]+)`", _markdown(path)):
        explicit = re.match(r"^.*<([^<>]+)>$", content.strip(), re.DOTALL)
        found.add((explicit.group(1) if explicit else content).strip())
    return found


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_figure_has_a_caption_a_name_and_a_reference(path):
    refs = _numrefs(path)
    for source, options in _figures(path):
        where = f"{path.name}, the cell starting {source.strip().splitlines()[0]!r}"
        assert str(options.get("caption", "")).strip(), f"{where}: no mystnb figure caption"
        name = str(options.get("name", ""))
        assert name.startswith("fig-"), f"{where}: no mystnb figure name fig-..."
        assert name in refs, f"{where}: no {{numref}}`{name}` in the prose"
        assert not re.search(r"\btable\(", source), (
            f"{where}: a table in a figure's cell would be wrapped in the same figure")
        # a progress bar (tqdm.auto in a notebook: a widget) is an output too; attacks whose
        # progress defaults to True are called from function definitions (dlg_explorer's)
        assert not re.search(r"\btqdm\(|progress\s*=\s*(True|not )|\battack\(", source), (
            f"{where}: a progress bar in a figure's cell would be wrapped in the same figure: "
            "compute in the cell before")
        from IPython.core.inputtransformer2 import TransformerManager

        last = ast.parse(TransformerManager().transform_cell(source)).body[-1]
        assert not isinstance(last, ast.Expr) or (
            isinstance(last.value, ast.Call) and ast.unparse(last.value.func).endswith(
                SHOWS_NOTHING_ELSE)), (
            f"{where}: its last line shows a value (a matplotlib Text?) that myst-nb would wrap "
            "in the same figure: assign it (_ = ...)")


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_table_has_a_caption_a_name_and_a_reference(path):
    refs = _numrefs(path)
    for code, keywords in _table_calls(path):
        where = f"{path.name}: {code}"
        caption, name = keywords.get("caption"), keywords.get("name")
        assert isinstance(caption, ast.Constant) and str(caption.value).strip(), (
            f"{where}: no caption=\"...\" (a literal)")
        assert isinstance(name, ast.Constant) and str(name.value).startswith("tab-"), (
            f"{where}: no name=\"tab-...\" (a literal)")
        assert name.value in refs, f"{where}: no {{numref}}`{name.value}` in the prose"


_TABLE_BLOCK = re.compile(r"^(`{3,}|:{3,})\{table\}[ \t]*(.*?)\n(.*?)^\1[ \t]*$",
                          re.MULTILINE | re.DOTALL)


def _prose_tables(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """((caption, name) of every {table} directive, the bare Markdown tables' first lines) in
    the prose before ``## Exercises``."""
    text = _markdown(path).split("\n## Exercises", 1)[0]
    directives = []
    for match in _TABLE_BLOCK.finditer(text):
        name = re.search(r"^:name:\s*(\S+)", match.group(3), re.MULTILINE)
        directives.append((match.group(2).strip(), name.group(1) if name else ""))
    rest = _TABLE_BLOCK.sub("", text)
    bare = [line for line in rest.split("\n") if re.match(r"^\|\s*:?-{3,}", line.strip())]
    return directives, bare


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_table_in_the_prose_is_numbered_too(path):
    directives, bare = _prose_tables(path)
    assert not bare, f"{path.name}: a Markdown table outside a {{table}} directive"
    refs = _numrefs(path)
    for caption, name in directives:
        assert caption, f"{path.name}: a {{table}} without a caption"
        assert name.startswith("tab-"), f"{path.name}: {{table}} {caption!r} has no :name: tab-"
        assert name in refs, f"{path.name}: no {{numref}}`{name}` in the prose"


def test_names_are_unique_across_the_book():
    names = []
    for path in CHAPTERS:
        names += [str(options.get("name")) for _, options in _figures(path)]
        names += [str(k["name"].value) for _, k in _table_calls(path)
                  if isinstance(k.get("name"), ast.Constant)]
        names += [name for _, name in _prose_tables(path)[0]]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_the_book_has_figures_and_tables_to_number():
    """Guards the checks above against finding nothing (e.g. a detection that broke)."""
    figures = sum(len(_figures(p)) for p in CHAPTERS)
    tables = sum(len(_table_calls(p)) for p in CHAPTERS)
    assert figures >= 20 and tables >= 30, (figures, tables)  # 2026-12: 56 figures, 49 tables


def test_notation_and_glossary_are_in_the_reference_part():
    reference = next(p for p in TOC["parts"] if p["caption"] == "Reference")
    files = _toc_files(reference)
    assert "book/notation" in files and "book/glossary" in files
    assert (ROOT / "book/notation.md").is_file()
    assert re.search(r"^```\{glossary\}", (ROOT / "book/glossary.md").read_text(), re.MULTILINE)


def _glossary_terms() -> set[str]:
    text = (ROOT / "book/glossary.md").read_text()
    body = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    return {line.strip() for line in body.split("\n")
            if line.strip() and not line.startswith((" ", "\t", ":"))}


def test_the_glossary_defines_every_term_the_chapters_use():
    terms = _glossary_terms()
    assert len(terms) >= 25, len(terms)
    for path in CHAPTERS:
        for content in re.findall(r"\{term\}`([^`]+)`", _markdown(path)):
            explicit = re.match(r"^.*<([^<>]+)>$", content.strip(), re.DOTALL)
            term = (explicit.group(1) if explicit else content).strip()
            # spelled as the glossary spells it: the Colab notebooks link to Sphinx's anchor
            # term-<the spelling> (tools/colab_notebooks.py), which keeps the case
            assert term in terms, (f"{path.name}: {{term}}`{content}` is not in the glossary "
                                   "(spelled as it is there)")


def test_every_glossary_entry_says_where_it_is_taught():
    text = (ROOT / "book/glossary.md").read_text()
    body = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    entries = re.split(r"\n(?=\S)", body.strip())
    for entry in entries:
        term, _, definition = entry.partition("\n")
        assert definition.strip(), f"glossary: {term!r} has no definition"
        assert re.search(r"\{(ref|doc)\}`", definition), (
            f"glossary: {term!r} does not name the chapter that teaches it")
