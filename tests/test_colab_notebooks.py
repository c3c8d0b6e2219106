"""The notebooks Colab opens, built from the chapters (tools/colab_notebooks.py), and what they
rely on: the book index and the launch buttons of tools/book_index.py.

CI has no executed book, so the module builds what it needs. One non-executing jupyter-book
build of the whole book (``execute_notebooks: off``) gives the HTML and ``book-index.json``;
it is shared by the module's tests and, through a file lock, by every pytest-xdist worker of a
run. The glue values of the chapters are then synthetic, one per key that a chapter's code
glues (``glued_keys``), and each chapter test also checks that every key its prose uses is one
of them. A tiny book of its own, executed for real, checks that the values are read where
myst-nb leaves them. Measured on the 2-core development machine while other jobs kept it at a
load of 5 to 6: the module in 27-39 s in one process, 37 s on two workers (the shared build
18 s of it, its API page mocked; the executed tiny book 5 s; the rest under 5 s).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from filelock import FileLock
from markdown_it import MarkdownIt
from myst_nb.ext.glue import GLUE_PREFIX

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import colab_notebooks as cn  # noqa: E402
import location  # noqa: E402

SOURCES = cn.chapters(ROOT)
LOC = location.read(ROOT)

# MyST that must not reach a Colab notebook
ROLE = re.compile(r"\{[A-Za-z0-9_\-+:]+\}`")
FENCE = re.compile(r"^[ \t>]*(`{3,}|~{3,}|:{3,})\s*\{", re.MULTILINE)
TARGET = re.compile(r"^[ \t>]*\([^()\s]+\)=[ \t]*$", re.MULTILINE)
OPTION = re.compile(r"^[ \t>]*:(label|class):", re.MULTILINE)
SOLUTION = re.compile(r"^[ \t]*(`{3,}|:{3,})\{solution\}\s*(\S+)\n(.*?)^[ \t]*\1[ \t]*$",
                      re.MULTILINE | re.DOTALL)


def _jupyter_book(*args: str) -> None:
    exe = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(exe), "build", *args], capture_output=True, text=True,
                            timeout=900, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


def _config(config: dict, dest: Path) -> Path:
    """``config`` written to ``dest``, its local extensions found from anywhere."""
    sphinx = config.setdefault("sphinx", {})
    sphinx["local_extensions"] = {name: str((ROOT / path).resolve()) for name, path in
                                  sphinx.get("local_extensions", {}).items()}
    path = dest / "_config.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The ``_build`` folder of a non-executing build of the book, one per test run."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, which its workers share
    out = base / "colab-book"
    with FileLock(str(base / "colab-book.lock")):
        if not (out / "_build" / "html" / cn.INDEX_NAME).is_file():
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            config = yaml.safe_load((ROOT / "_config.yml").read_text())
            config["execute"]["execute_notebooks"] = "off"
            # The API page's autodoc is two thirds of the build and adds nothing to the index
            # (measured: the same book-index.json, 14 s instead of 42 s on a busy machine).
            config["sphinx"].setdefault("config", {})["autodoc_mock_imports"] = ["dlgtut"]
            _jupyter_book(str(ROOT), "--config", str(_config(config, out)),
                          "--path-output", str(out))
            _add_output_labels(out / "_build" / "html" / cn.INDEX_NAME)
    return out / "_build"


def _output_labels(source: Path) -> list[tuple[str, str]]:
    """(kind, name) of the figures and tables a chapter's code cells draw: a cell's mystnb
    figure name, and the ``name=`` of its ``table(...)`` calls."""
    import ast

    from IPython.core.inputtransformer2 import TransformerManager

    found = []
    for cell in jupytext.read(source).cells:
        if cell.cell_type != "code":
            continue
        figure = (cell.metadata.get("mystnb") or {}).get("figure") or {}
        if figure.get("name"):
            found.append(("figure", figure["name"]))
        for node in ast.walk(ast.parse(TransformerManager().transform_cell(cell.source))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "table":
                found += [("table", k.value.value) for k in node.keywords
                          if k.arg == "name" and isinstance(k.value, ast.Constant)]
    return found


def _add_output_labels(path: Path) -> None:
    """The labels an executed build has and this one cannot: figures and tables are outputs of
    code cells, which a non-executing build leaves out. Each gets its chapter's page (no
    anchor: the page has none for it) and a made-up number, as the glue values are made up."""
    data = json.loads(path.read_text())
    for source in SOURCES:
        docname = f"book/{source.stem}"
        page = data["documents"][docname]["page"]
        for number, (kind, name) in enumerate(_output_labels(source), start=1):
            data["labels"].setdefault(name, {
                "doc": docname, "page": page, "anchor": "", "kind": kind,
                "number": f"0.{number}", "text": f"{kind.capitalize()} 0.{number}"})
    path.write_text(json.dumps(data))


@pytest.fixture(scope="module")
def index(built) -> cn.BookIndex:
    return cn.BookIndex.load(built / "html" / cn.INDEX_NAME)


def _glued(source: Path) -> set[str]:
    return set().union(*(cn.glued_keys(cell.source) for cell in jupytext.read(source).cells
                         if cell.cell_type == "code"))


def _synthetic(key: str, number: int) -> dict:
    """A value glued with display=False, as myst-nb stores it: a string, so "'1000'"."""
    return {"output_type": "display_data", "data": {"text/plain": repr(str(number))},
            "metadata": {"scrapbook": {"name": key, "mime_prefix": GLUE_PREFIX}}}


@pytest.fixture(scope="module")
def glue_values() -> dict[str, dict[str, dict]]:
    """docname -> key -> a synthetic glued string ("1000", "1001", ...) per key the code glues."""
    values = {}
    for source in SOURCES:
        values[f"book/{source.stem}"] = {key: _synthetic(key, 1000 + i)
                                         for i, key in enumerate(sorted(_glued(source)))}
    return values


@functools.cache
def _ids(html: Path) -> frozenset[str]:
    return frozenset(re.findall(r'\bid="([^"]+)"', html.read_text()))


def _links(markdown: str) -> list[str]:
    """Every link and image target of rendered Markdown, raw HTML included."""
    md = MarkdownIt("commonmark", {"linkify": True}).enable(["table", "linkify"])
    found = []

    def walk(tokens):
        for tok in tokens:
            for attr in ("href", "src"):
                if tok.attrGet(attr) is not None:
                    found.append(tok.attrGet(attr))
            if tok.type in ("html_block", "html_inline"):
                found.extend(re.findall(r"""\b(?:href|src)\s*=\s*["']([^"']*)""", tok.content))
            walk(tok.children or [])

    walk(md.parse(markdown))
    return found


# --- every chapter ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_chapter_becomes_a_notebook_colab_renders(source, built, index, glue_values):
    docname = f"book/{source.stem}"
    asked: set[str] = set()

    def glue(doc):
        values = glue_values.get(doc, {})

        class Recorder(dict):
            def __contains__(self, key):
                asked.add(key)
                return dict.__contains__(self, key)

        return Recorder(values)

    nb = cn.convert_chapter(source, index=index, glue=glue, root=ROOT, loc=LOC)
    # every glue key the prose uses is glued by the chapter's own code
    assert asked <= set(glue_values[docname]), sorted(asked - set(glue_values[docname]))
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    nbformat.validate(nb)
    # the code cells are the source's, in order, with their metadata, and never ran
    code = [(c.source, dict(c.metadata)) for c in jupytext.read(source).cells
            if c.cell_type == "code"]
    assert [(c.source, dict(c.metadata)) for c in nb.cells if c.cell_type == "code"] == code
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    text = "\n\n".join(markdown)
    for name, pattern in (("role", ROLE), ("directive", FENCE), ("target", TARGET),
                          ("option", OPTION)):
        assert not pattern.search(text), f"a MyST {name} is left: {pattern.search(text)!r}"
    # the first cell names the release and links the chapter online
    assert LOC.tag in markdown[0] and LOC.site + index.documents[docname]["page"] in markdown[0]
    # every solution is folded away, with the number of its exercise
    solutions = SOLUTION.findall(source.read_text())
    assert text.count("<details>") == text.count("</details>") == len(solutions)
    blocks = re.findall(r"<details><summary>(.*?)</summary>\n\n(.*?)\n\n</details>", text,
                        re.DOTALL)
    assert len(blocks) == len(solutions)
    for (_, label, body), (summary, inside) in zip(solutions, blocks, strict=True):
        assert summary == f"Solution to {index.labels[label]['text']}"
        prose = re.sub(r"\{[^}]+\}`[^`]*`|`[^`]*`", " ", body.split("\n\n", 1)[-1])
        words = re.findall(r"[A-Za-z]{4,}", prose)[:5]
        assert all(word in inside for word in words), (words, inside)
    # every link is absolute, and the book's lead to pages and anchors that exist
    html = built / "html"
    for url in _links(text):
        assert re.match(r"(https?|mailto):", url), url
        if url.startswith(LOC.site):
            page, _, anchor = url[len(LOC.site):].partition("#")
            page = page or "index.html"
            assert (html / page).is_file(), url
            assert not anchor or anchor in _ids(html / page), url


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_colab_button_opens_the_built_notebook(source, built):
    page = (built / "html" / "book" / f"{source.stem}.html").read_text()
    colab = re.findall(r"https://colab\.research\.google\.com/github/[^\"']+", page)
    assert f"{LOC.colab(LOC.colab_branch)}book/{source.stem}.ipynb" in colab
    assert not [url for url in colab if url.endswith(".md")], colab


def test_index_has_what_the_pages_show(built, index):
    html = built / "html"
    # every exercise: its number as the page shows it, and its anchor
    exercises = {n: e for n, e in index.labels.items() if e["kind"] == "exercise"}
    assert exercises
    for name, entry in exercises.items():
        page = (html / entry["page"]).read_text()
        shown = re.search(rf'id="{re.escape(entry["anchor"])}">\s*<p class="admonition-title">'
                          r'<span class="caption-number">([^<]+?)\s*</span>', page)
        assert shown and shown.group(1) == entry["text"], (name, entry)
    chapter = index.labels["chapter-dlg"]
    assert chapter["page"] == "book/deep_leakage.html"
    assert chapter["text"] == index.documents["book/deep_leakage"]["title"]
    zhu = index.citations["zhu2019dlg"]
    assert (zhu["t"], zhu["p"]) == ("Zhu et al. (2019)", "Zhu et al., 2019")
    assert zhu["anchor"] in _ids(html / zhu["page"])
    # the citation as the page shows it: "Zhu <em>et al.</em> [<a ...>2019</a>]"
    assert re.search(r"Zhu <em>et al\.</em> \[<a [^>]*#" + zhu["anchor"] + r'"',
                     (html / "book/deep_leakage.html").read_text())


# --- the command ------------------------------------------------------------------------------


def test_convert_book_writes_every_chapter_and_a_readme(built, glue_values, tmp_path):
    build = tmp_path / "_build"
    (build / "html").mkdir(parents=True)
    shutil.copy(built / "html" / cn.INDEX_NAME, build / "html")
    for docname, values in glue_values.items():  # as myst-nb leaves an executed chapter
        path = build / "jupyter_execute" / f"{docname}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.v4.new_notebook(), path)
        path.with_name(f"{path.stem}.glue.json").write_text(json.dumps(values))
    stale = tmp_path / "out" / "book" / "removed_chapter.ipynb"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    assert cn.main([str(build), str(tmp_path / "out")]) == 0
    written = sorted((tmp_path / "out" / "book").glob("*.ipynb"))
    assert [p.stem for p in written] == [p.stem for p in SOURCES]
    for path in written:
        nbformat.validate(nbformat.read(path, as_version=4))
    readme = (tmp_path / "out" / "README.md").read_text()
    assert LOC.colab_branch in readme and LOC.tag in readme


def test_an_unexecuted_book_is_refused_naming_chapter_and_key(built, tmp_path, capsys):
    """The non-executing build left notebooks without glue values: one line per chapter."""
    assert cn.main([str(built), str(tmp_path / "out")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    named = [re.match(r"dlgtut colab: book/(\w+)\.md: glue key '\w+' has no value", line)
             for line in lines]
    assert all(named), lines
    assert [m.group(1) for m in named] == [s.stem for s in SOURCES if "{glue" in s.read_text()]
    assert not (tmp_path / "out").exists()


def test_dev_colab_says_in_one_line_that_the_book_is_not_built(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("dev_for_test", ROOT / "dev.py")
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    monkeypatch.setattr(dev, "BUILD", tmp_path / "_build")
    monkeypatch.setattr(dev, "ensure_venv", lambda: None)
    with pytest.raises(SystemExit) as info:
        dev.colab()
    message = str(info.value.code)
    assert "python3 dev.py book" in message and "\n" not in message


def test_values_are_read_where_an_executed_build_leaves_them(tmp_path):
    """A tiny book, executed for real: myst-nb keeps display=False values in .glue.json."""
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: ch\n")
    header = (ROOT / "book" / "deep_leakage.md").read_text().split("\n---\n", 1)[0]
    (tmp_path / "ch.md").write_text(header + "\n---\n" + """(top)=
# Tiny

```{code-cell}
from myst_nb import glue
glue("hidden", f"{1234567:,}", display=False)
glue("shown", 3.14159)
```

Values {glue:text}`hidden`, {glue:text}`shown:.2f` and {glue}`shown` ({ref}`top`).
""")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config = {"title": "tiny", "execute": {"execute_notebooks": "force"},
              "repository": config["repository"], "launch_buttons": config["launch_buttons"],
              "sphinx": {"local_extensions": config["sphinx"]["local_extensions"]}}
    _jupyter_book(str(tmp_path), "--config", str(_config(config, tmp_path)))
    build = tmp_path / "_build"
    assert (build / "jupyter_execute" / "ch.glue.json").is_file()
    index = cn.BookIndex.load(build / "html" / cn.INDEX_NAME)
    nb = cn.convert_chapter(tmp_path / "ch.md", index=index, glue=cn.executed_glue(build),
                            root=tmp_path, loc=LOC)
    assert nb.cells[-1].source == (
        f"Values 1,234,567, 3.14 and 3.14159 ([Tiny]({LOC.site}ch.html#top)).")
    assert f"{LOC.colab(LOC.colab_branch)}ch.ipynb" in (build / "html" / "ch.html").read_text()


# --- each conversion, on snippets --------------------------------------------------------------

SITE = "https://example.github.io/leaky/"
FILES = "https://raw.githubusercontent.com/example/leaky/v9.9/"
INDEX = cn.BookIndex(
    documents={"book/ch": {"title": "This chapter", "page": "book/ch.html"},
               "book/other": {"title": "Other *page*", "page": "book/other.html"},
               "book/bibliography": {"title": "Bibliography", "page": "book/bibliography.html"},
               "book/glossary": {"title": "Glossary", "page": "book/glossary.html"}},
    labels={
        "sec-x": {"doc": "book/other", "page": "book/other.html", "anchor": "sec-x",
                  "text": "A section", "kind": "section", "number": None},
        "ex-a": {"doc": "book/ch", "page": "book/ch.html", "anchor": "ex-a",
                 "text": "Exercise 3.2", "kind": "exercise", "number": "3.2"},
        "fig-a": {"doc": "book/ch", "page": "book/ch.html", "anchor": "fig-a",
                  "text": "Figure 4.1", "kind": "figure", "number": "4.1"},
        "bare": {"doc": "book/ch", "page": "book/ch.html", "anchor": "bare", "text": None,
                 "kind": "target", "number": None}},
    citations={
        "zhu2019dlg": {"t": "Zhu et al. (2019)", "p": "Zhu et al., 2019",
                       "page": "book/bibliography.html", "anchor": "id2"},
        "abadi2016deep": {"t": "Abadi et al. (2016)", "p": "Abadi et al., 2016",
                          "page": "book/bibliography.html", "anchor": "id14"}})
ZHU = f"{SITE}book/bibliography.html#id2"
ABADI = f"{SITE}book/bibliography.html#id14"
SEC = f"{SITE}book/other.html#sec-x"
EX = f"{SITE}book/ch.html#ex-a"


def _out(text_plain: str, **data) -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/plain": text_plain, **data}}


GLUE = {"book/ch": {"n": _out("'1,234'"), "x": _out("3.14159"), "k": _out("7"),
                    "sub": _out("'a_1 * b'"),
                    "md": _out("'b'", **{"text/markdown": "**bold** text"}),
                    "tex": _out("'t'", **{"text/latex": "$\\alpha$"})},
        "book/other": {"y": _out("'7 %'")}}


@functools.cache
def _parser():
    return cn._md_parser(ROOT)


def convert(text: str) -> str:
    return cn.MarkdownConverter("book/ch", INDEX, GLUE.__getitem__, SITE, FILES,
                                _parser()).convert(text)


@pytest.mark.parametrize(("source", "expected"), [
    ("{cite:t}`zhu2019dlg` showed", f"[Zhu et al. (2019)]({ZHU}) showed"),
    ("it leaks {cite:p}`zhu2019dlg`.", f"it leaks ([Zhu et al., 2019]({ZHU}))."),
    ("{cite:p}`zhu2019dlg,abadi2016deep`",
     f"([Zhu et al., 2019]({ZHU}); [Abadi et al., 2016]({ABADI}))"),
    ("{cite}`zhu2019dlg, abadi2016deep`",
     f"([Zhu et al., 2019]({ZHU}); [Abadi et al., 2016]({ABADI}))"),
    ("{cite:p}`{see}zhu2019dlg{p. 3}`", f"([see Zhu et al., 2019, p. 3]({ZHU}))"),
    ("{cite:t}`zhu2019dlg{Sec. 4}`", f"[Zhu et al. (2019, Sec. 4)]({ZHU})"),
])
def test_citations_are_author_year_links_to_the_bibliography(source, expected):
    assert convert(source) == expected


@pytest.mark.parametrize(("source", "expected"), [
    ("see {ref}`sec-x`", f"see [A section]({SEC})"),
    ("see {ref}`this part <sec-x>`", f"see [this part]({SEC})"),
    ("({ref}`ex-a` asks)", f"([Exercise 3.2]({EX}) asks)"),
    ("{numref}`ex-a`", f"[Exercise 3.2]({EX})"),
    ("{numref}`Fig. %s <fig-a>`", f"[Fig. 4.1]({SITE}book/ch.html#fig-a)"),
    ("{numref}`Figure {number} <fig-a>`", f"[Figure 4.1]({SITE}book/ch.html#fig-a)"),
    ("{ref}`the target <bare>`", f"[the target]({SITE}book/ch.html#bare)"),
    ("{doc}`other`", f"[Other \\*page\\*]({SITE}book/other.html)"),
    ("{doc}`the other <other.md>`", f"[the other]({SITE}book/other.html)"),
    ("{doc}`/book/other`", f"[Other \\*page\\*]({SITE}book/other.html)"),
    # glossary terms: Sphinx's anchor of a {glossary} entry is term-<its id>, as spelled there
    ("{term}`FedAvg`", f"[FedAvg]({SITE}book/glossary.html#term-FedAvg)"),
    ("{term}`TPR at low FPR` matters", f"[TPR at low FPR]({SITE}book/glossary.html"
     "#term-TPR-at-low-FPR) matters"),
    ("{term}`averaged updates <federated averaging>`",
     f"[averaged updates]({SITE}book/glossary.html#term-federated-averaging)"),
    ("{term}`DP_SGD`", f"[DP\\_SGD]({SITE}book/glossary.html#term-DP_SGD)"),
])
def test_cross_references_are_links_to_the_online_pages(source, expected):
    assert convert(source) == expected


@pytest.mark.parametrize(("source", "expected"), [
    ("holds {glue:text}`n` numbers", "holds 1,234 numbers"),
    ("{glue:text}`x:.2f` and {glue:text}`x:.0%`", "3.14 and 314%"),
    ("{glue:text}`k:03d`", "007"),
    ("{glue}`n` and {glue}`k`", "'1,234' and 7"),  # the text/plain as it is, as myst-nb shows it
    ("{glue:md}`md`, {glue}`tex`", "**bold** text, $\\alpha$"),
    ("{glue:text}`other::y:s`", "7 %"),
    # Markdown's special characters are escaped in text, not in math. (In the book, MathJax
    # shows a role inside $...$ as it is: the intent is what Colab gets.)
    ("{glue:text}`sub` and $x = {glue:text}`sub`$ and $$({glue:text}`x:.1f`, 10^{-5})$$",
     "a\\_1 \\* b and $x = a_1 * b$ and $$(3.1, 10^{-5})$$"),
    ("costs \\$5, not {glue:text}`sub`", "costs \\$5, not a\\_1 \\* b"),
])
def test_glued_values_are_written_out_as_myst_nb_formats_them(source, expected):
    assert convert(source) == expected


@pytest.mark.parametrize("source", [
    "inline $a_{i} = b$, $f[x](t)$ and display\n\n$$\nx^2 \\\\ y\n$$",
    "code ``{cite:t}`zhu2019dlg` `` and `{glue:text}` stay",
    "```python\n{cite:t}`zhu2019dlg`\n(label)=\n```",
    "| a | $b$ |\n|---|---|\n| `c` | d |",
    "text\n\n```python\nx = 1\n\n\ny = 2\n```\n\n- a list\n  - nested",
])
def test_math_code_and_tables_are_left_as_they_are(source):
    assert convert(source) == source


@pytest.mark.parametrize(("source", "expected"), [
    ("(sec-x)=\n# A section\n\ntext", "# A section\n\ntext"),
    ("text\n\n(sec-x)=\n\n\n## Next", "text\n\n## Next"),
    ("% a comment\ntext", "text"),
    ("{math}`x^2` and\n```{math}\n:label: eq-a\n\\alpha\n```", "$x^2$ and\n\n$$\n\\alpha\n$$"),
    ("```{exercise}\n:label: ex-a\n\nDo it with {glue:text}`k`.\n```",
     "**Exercise 3.2**\n\nDo it with 7."),
    ("```{exercise} A title\n:label: ex-a\n\nDo it.\n```", "**Exercise 3.2 (A title)**\n\nDo it."),
    ("```{solution} ex-a\n:class: dropdown\n\nBecause $x$.\n\nAnd {ref}`sec-x`.\n```",
     "<details><summary>Solution to Exercise 3.2</summary>\n\nBecause $x$.\n\n"
     f"And [A section]({SEC}).\n\n</details>"),
    ("before\n````{solution} ex-a\n```python\nx = 1\n```\n````\nafter",
     "before\n\n<details><summary>Solution to Exercise 3.2</summary>\n\n```python\nx = 1\n```"
     "\n\n</details>\n\nafter"),
    (":::{admonition} Graded {cite:t}`zhu2019dlg`\n:class: tip\n\nDo {ref}`sec-x`.\n\nTwice.\n:::",
     f"> **Graded [Zhu et al. (2019)]({ZHU})**\n>\n> Do [A section]({SEC}).\n>\n> Twice."),
    ("```{note} Careful\nhere.\n```", "> **Note**\n>\n> Careful\n> here."),
    (":::{warning}\nNo sandbox.\n:::", "> **Warning**\n>\n> No sandbox."),
    (":::{seealso}\n---\nclass: x\n---\nThe rest.\n:::", "> **See also**\n>\n> The rest."),
    # a numbered table: its caption in bold above it, as dlgtut.chapter.table does outside
    ("```{table} Who sees *what*\n:name: tab-a\n\n| a | b |\n|---|---|\n| 1 | 2 |\n```",
     "**Table: Who sees *what***\n\n| a | b |\n|---|---|\n| 1 | 2 |"),
    (":::{table} Who sees {ref}`sec-x`\n:name: tab-a\n\n| a |\n|---|\n| 1 |\n:::",
     f"**Table: Who sees [A section]({SEC})**\n\n| a |\n|---|\n| 1 |"),
])
def test_blocks_become_plain_markdown(source, expected):
    assert convert(source) == expected


def test_relative_links_point_at_the_book_or_the_release():
    source = ("[a](other.md#sec-x) [b](#ex-a) [c](../data/x.csv) ![i](img.png) "
              "[d](https://python.org) [e](<other.ipynb>) <a href=\"other.md\">f</a>\n\n"
              "[ref]: other.md")
    assert convert(source) == (
        f"[a]({SEC}) [b]({EX}) [c]({FILES}data/x.csv) ![i]({FILES}book/img.png) "
        f"[d](https://python.org) [e](<{SITE}book/other.html>) "
        f"<a href=\"{SITE}book/other.html\">f</a>\n\n[ref]: {SITE}book/other.html")
    assert convert('<div>\n<img src="fig.png" alt="x">\n</div>') == (
        f'<div>\n<img src="{FILES}book/fig.png" alt="x">\n</div>')


@pytest.mark.parametrize(("source", "fragment"), [
    ("{glue:text}`missing`", "glue key 'missing' has no value"),
    ("{glue:text}`other::missing:s`", "glue key 'missing' of book/other has no value"),
    ("{ref}`no-such-label`", "label 'no-such-label' is not in the book index"),
    ("{numref}`sec-x`", "'sec-x', which has no number"),
    ("{ref}`bare`", "label 'bare' has no title"),
    ("{cite:t}`nobody2020`", "citation key 'nobody2020' is not in the bibliography"),
    ("{doc}`nowhere`", "document 'nowhere' is not in the book index"),
    ("```{solution} no-such-label\nx\n```", "label 'no-such-label' is not in the book index"),
    ("```{exercise}\nNo label.\n```", "an exercise without :label:"),
    ("```{figure} x.png\n```", "directive {figure} has no plain-Markdown form"),
    ("{eq}`eq-a`", "role {eq} has no plain-Markdown form"),
    ("{glue:text}`n:d`", "glue key 'n': cannot format"),
])
def test_what_cannot_be_converted_is_an_error_naming_chapter_and_key(source, fragment, refused):
    error = refused(cn.ConversionError, fragment, convert, source)
    assert str(error).startswith("book/ch.md: ")


def test_glued_keys_unroll_loops_over_literals():
    code = '''
%pip install nothing
glue("plain", 1, display=False)
for key, (name, state) in {"a": ("A", 1), "b": ("B", 2)}.items():
    for attack in ("DLG", "IG"):
        glue(f"{key}_{attack.lower()}", 1)
for field in ("x", "y"):
    if field:
        glue(field, 2)
for e, i in ((5, early), (20, mid)):
    glue(f"auc_{e}", i)
'''
    assert cn.glued_keys(code) == {"plain", "a_dlg", "a_ig", "b_dlg", "b_ig", "x", "y",
                                   "auc_5", "auc_20"}
    with pytest.raises(ValueError, match="cannot tell the key"):
        cn.glued_keys("for name in names:\n    glue(name, 1)\n")
