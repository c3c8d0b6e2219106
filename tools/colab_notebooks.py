"""The notebooks readers open in Colab, built from the book's chapters: plain Markdown, no MyST.

Each chapter is written as ``book/<chapter>.md`` (a MyST Markdown notebook, jupytext
``md:myst``). Colab shows MyST as raw text, so the notebook published for Colab is built from
the source after the book itself has been built:

* **code cells** are the source's, in its order, with their metadata (``:tags:``), no outputs
  and no execution counts;
* **Markdown cells** are plain Markdown: citations become "Zhu et al. (2019)" / "(Zhu et al.,
  2019; Abadi et al., 2016)" linked to the entry on the online bibliography; ``{ref}``,
  ``{numref}`` and ``{doc}`` become links to the online pages, with the titles and numbers
  ("Exercise 12", "Figure 4.2") the build gave them; ``{term}`` links to the term's entry on
  the glossary page (``book/glossary``, Sphinx's anchor ``term-<id>``); glued numbers are
  written out, formatted as myst-nb's ``{glue:text}`` formats them (its own
  ``format_plain_text``), from what the build leaves in
  ``_build/jupyter_execute/book/`` (the executed ``<chapter>.ipynb``, and ``<chapter>.glue.json``:
  myst-nb moves the values glued with ``display=False`` out of the notebook into that file);
  ``(label)=`` targets are dropped; an exercise is
  a bold "Exercise 12" paragraph and its solution is folded away in ``<details>``; admonitions
  are block quotes with a bold title; a ``{table}`` is its Markdown table under a bold "Table:
  caption" line (as ``dlgtut.chapter.table`` shows one outside the book); math stays LaTeX,
  which Colab renders; relative links point at the online book (pages) or at the repository
  at the release tag (other files);
* a first Markdown cell says which release the notebook was built from and links the chapter
  online.

The book's texts, numbers and anchors come from ``_build/html/book-index.json``, which
``tools/book_index.py`` writes at the end of every HTML build; the site and the release from
``pyproject.toml`` (``tools/location.py``). A glue value, label or citation that cannot be
found is an error naming the chapter and the key: nothing is left as MyST.

Run after ``python3 dev.py book``::

    python3 dev.py colab     # = python tools/colab_notebooks.py _build _build/colab

It writes ``_build/colab/book/<chapter>.ipynb`` (the path the launch buttons open on the Colab
branch) and ``_build/colab/README.md``. Only the chapters' Markdown that the book uses, and a
little more, has a plain form here: a directive or role without one is an error that names it.
"""

from __future__ import annotations

import argparse
import ast
import copy
import functools
import html
import json
import posixpath
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jupytext
import nbformat
import yaml

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))
import location  # noqa: E402

INDEX_NAME = "book-index.json"
# jupyter-book 1's default MyST extensions (its default_config.yml), unless _config.yml sets them.
DEFAULT_EXTENSIONS = ("colon_fence", "dollarmath", "linkify", "substitution", "tasklist")
ADMONITIONS = {"admonition": None, "attention": "Attention", "caution": "Caution",
               "danger": "Danger", "error": "Error", "hint": "Hint", "important": "Important",
               "note": "Note", "seealso": "See also", "tip": "Tip", "warning": "Warning"}
GLOSSARY = "book/glossary"  # the {glossary} that {term} roles link to
GLUE_ROLES = ("glue", "glue:", "glue:any", "glue:text", "glue:md")
GLUE_DIRECTIVES = ("glue", "glue:", "glue:any", "glue:md", "glue:math", "glue:figure")
_ROLE_NAME = re.compile(r"\{([a-zA-Z0-9_\-+:]+)\}")  # mdit_py_plugins.myst_role's pattern
_EXPLICIT = re.compile(r"^(.+?)\s*<([^<>]+)>$", re.DOTALL)  # "text <target>" of a cross-ref
_DIRECTIVE = re.compile(r"^\{([^}\s]+)\}\s*(.*)$")
_OPTION = re.compile(r"^:([\w-]+):(?:\s+(.*))?$")
_HTML_URL = re.compile(r"""(<[A-Za-z][^>]*?\s(?:href|src)\s*=\s*)(["'])(.*?)\2""")
_REF_DEF = re.compile(r"^( {0,3}\[[^\]]+\]:\s*)(<[^>]*>|\S+)")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>$])")


class ConversionError(Exception):
    """A chapter has something that cannot be converted; the message names chapter and key."""


def escape(text: str) -> str:
    """``text`` as literal Markdown: characters that would start markup are escaped."""
    return _MD_SPECIAL.sub(r"\\\1", text)


# --- what the book build left -----------------------------------------------------------------


@dataclass(frozen=True)
class BookIndex:
    """``book-index.json``: documents, labels and citations of one build (tools/book_index.py)."""

    documents: Mapping[str, Mapping[str, Any]]
    labels: Mapping[str, Mapping[str, Any]]
    citations: Mapping[str, Mapping[str, Any]]

    @classmethod
    def load(cls, path: Path) -> BookIndex:
        if not path.is_file():
            raise ConversionError(f"no book index at {path}: build the book first "
                                  "(python3 dev.py book)")
        data = json.loads(path.read_text())
        return cls(data["documents"], data["labels"], data["citations"])


def glue_data(notebook: nbformat.NotebookNode) -> dict[str, dict[str, Any]]:
    """The glued outputs of an executed notebook by key, as myst-nb reads them."""
    from myst_nb.ext.glue import extract_glue_data_cell

    found: dict[str, dict[str, Any]] = {}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            for key, output in extract_glue_data_cell(copy.deepcopy(cell)):
                found[key] = output
    return found


def executed_glue(build: Path) -> Callable[[str], Mapping[str, Any]]:
    """docname -> its glue data, as the book build left it in ``build/jupyter_execute/``.

    myst-nb takes the glued outputs out of the notebook it executed before it writes it to
    ``<docname>.ipynb``, and writes them beside it, to ``<docname>.glue.json``; outputs glued
    with ``display=True`` stay in the notebook too. Both are read (once per document).
    """

    @functools.cache
    def read(docname: str) -> Mapping[str, Any]:
        notebook = build / "jupyter_execute" / f"{docname}.ipynb"
        stored = notebook.with_name(notebook.stem + ".glue.json")
        if not notebook.is_file() and not stored.is_file():
            raise ConversionError(f"{docname}.md: no executed notebook at {notebook}: build "
                                  "the book first (python3 dev.py book)")
        values = glue_data(nbformat.read(notebook, as_version=4)) if notebook.is_file() else {}
        if stored.is_file():
            values.update(json.loads(stored.read_text()))
        return values

    return read


def _md_parser(root: Path):
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    extensions = (config.get("parse") or {}).get("myst_enable_extensions", DEFAULT_EXTENSIONS)
    return create_md_parser(MdParserConfig(enable_extensions=set(extensions)), RendererHTML)


# --- Markdown ---------------------------------------------------------------------------------


def _closing_ticks(text: str, start: int, n: int) -> int | None:
    """Start of the next run of exactly ``n`` backticks at or after ``start`` (CommonMark)."""
    for m in re.finditer(r"`+", text[start:]):
        if len(m.group()) == n:
            return start + m.start()
    return None


class MarkdownConverter:
    """MyST Markdown of one document -> plain Markdown with absolute links (see the module)."""

    def __init__(self, docname: str, index: BookIndex, glue: Callable[[str], Mapping[str, Any]],
                 site: str, files: str, parser) -> None:
        self.docname = docname  # e.g. "book/deep_leakage"
        self.index = index
        self.glue = glue
        self.site = site  # the online book, ending in "/"
        self.files = files  # the repository's files at the release, ending in "/"
        self.md = parser

    # errors and lookups

    def fail(self, message: str):
        raise ConversionError(f"{self.docname}.md: {message}")

    def _page_url(self, page: str, anchor: str = "") -> str:
        return self.site + page + (f"#{anchor}" if anchor else "")

    def label(self, name: str) -> Mapping[str, Any]:
        if name not in self.index.labels:
            self.fail(f"label {name!r} is not in the book index (no such target in the book)")
        return self.index.labels[name]

    def _doc(self, target: str) -> str:
        """A document path as MyST resolves it: relative to this document, or to the root."""
        if target.startswith("/"):
            return posixpath.normpath(target[1:])
        return posixpath.normpath(posixpath.join(posixpath.dirname(self.docname), target))

    def glue_value(self, key: str) -> Mapping[str, Any]:
        docname = self.docname
        if "::" in key:
            path, key = key.split("::", 1)
            docname = posixpath.splitext(self._doc(path))[0]
        values = self.glue(docname)
        if key not in values:
            where = "" if docname == self.docname else f" of {docname}"
            self.fail(f"glue key {key!r}{where} has no value (is it glued by the chapter's "
                      "code, and was the chapter executed?)")
        return values[key]

    def url(self, target: str) -> str:
        """An absolute URL for a link target of the source."""
        if not target or urlsplit(target).scheme or target.startswith("//"):
            return target
        if target.startswith("#"):
            return self._page_url(self.index.documents[self.docname]["page"], target[1:])
        path, _, anchor = target.partition("#")
        resolved = self._doc(path)
        stem, suffix = posixpath.splitext(resolved)
        for doc in (resolved, stem) if suffix in ("", ".md", ".ipynb") else ():
            if doc in self.index.documents:
                return self._page_url(self.index.documents[doc]["page"], anchor)
        return self.files + resolved + (f"#{anchor}" if anchor else "")

    # blocks

    def convert(self, text: str) -> str:
        """The plain Markdown of a Markdown cell (or of a directive's body)."""
        lines = text.split("\n")
        tokens = self.md.parse(text)
        replaced: dict[int, tuple[int, list[str]]] = {}  # first line -> (end, new lines)
        verbatim: set[int] = set()
        html_lines: set[int] = set()
        for tok in tokens:
            if tok.map is None:
                continue
            start, end = tok.map
            if tok.type in ("fence", "colon_fence") and tok.info.strip().startswith("{"):
                replaced[start] = (end, self._directive_block(tok, lines[start]))
            elif tok.type in ("fence", "colon_fence", "code_block"):
                verbatim.update(range(start, end))
            elif tok.type == "html_block":  # as it is, but with absolute links
                html_lines.update(range(start, end))
            elif tok.type in ("myst_target", "myst_line_comment", "myst_block_break"):
                replaced[start] = (end, [])
            elif tok.type.startswith("substitution"):
                self.fail(f"substitution {tok.content.strip()!r} has no value here")
        out: list[tuple[str, bool]] = []  # (line, as it is: code, or a converted directive)
        prose: list[str] = []

        def flush() -> None:
            if prose:
                out.extend((line, False) for line in self._prose("\n".join(prose)).split("\n"))
                prose.clear()

        i = 0
        while i < len(lines):
            if i in replaced:
                flush()
                end, new = replaced[i]
                if new:  # a blank line on each side keeps it a block of its own
                    out.extend([("", False), *((line, True) for line in new), ("", False)])
                i = end
            elif i in verbatim or i in html_lines:
                flush()
                out.append((self._html_urls(lines[i]) if i in html_lines else lines[i], True))
                i += 1
            else:
                prose.append(lines[i])
                i += 1
        flush()
        # no more than one blank line in a row, except where code has them
        kept: list[str] = []
        for line, as_is in out:
            if as_is or line.strip() or (kept and kept[-1].strip()):
                kept.append(line)
        return "\n".join(kept).strip("\n")

    def _prose(self, text: str) -> str:
        """Inline conversion of paragraphs, headings, lists, tables, math (not code blocks)."""
        text = "\n".join(_REF_DEF.sub(lambda m: m.group(1) + self._ref_def(m.group(2)), line)
                         for line in text.split("\n"))
        return "\n\n".join(self.inline(part) for part in re.split(r"\n[ \t]*\n", text))

    def _html_urls(self, text: str) -> str:
        return _HTML_URL.sub(lambda m: m.group(1) + m.group(2) + html.escape(
            self.url(html.unescape(m.group(3)))) + m.group(2), text)

    def _ref_def(self, target: str) -> str:
        if target.startswith("<") and target.endswith(">"):
            return f"<{self.url(target[1:-1])}>"
        return self.url(target)

    def _directive_block(self, tok, opener: str) -> list[str]:
        indent = opener[: len(opener) - len(opener.lstrip())]
        if opener.lstrip()[:1] not in ("`", "~", ":"):
            self.fail(f"directive {tok.info.strip()!r} shares its line with a list marker or "
                      "quote: it has no plain-Markdown form here")
        match = _DIRECTIVE.match(tok.info.strip())
        if not match:
            self.fail(f"malformed directive {tok.info.strip()!r}")
        name, argument = match.group(1), match.group(2).strip()
        options, body = self._options(name, tok.content)
        lines = self.directive(name, argument, options, body)
        return [indent + line if line else "" for line in lines]

    def _options(self, name: str, content: str) -> tuple[dict[str, Any], str]:
        lines = content.split("\n")
        options: dict[str, Any] = {}
        if lines and lines[0].strip() == "---":
            try:
                end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
            except StopIteration:
                self.fail(f"directive {{{name}}}: its options block has no closing ---")
            options = yaml.safe_load("\n".join(lines[1:end])) or {}
            lines = lines[end + 1:]
        else:
            while lines and (m := _OPTION.match(lines[0])):
                options[m.group(1)] = (m.group(2) or "").strip()
                lines = lines[1:]
        return options, "\n".join(lines).strip("\n")

    def directive(self, name: str, argument: str, options: Mapping[str, Any],
                  body: str) -> list[str]:
        """The plain-Markdown lines of one directive."""
        if name == "exercise":
            label = options.get("label")
            if not label:
                self.fail("an exercise without :label: (its number cannot be looked up)")
            if "hidden" in options:
                return []
            text = self.label(label)["text"] or "Exercise"
            title = f"{escape(text)} ({self.inline(argument)})" if argument else escape(text)
            content = self.convert(body)
            return [f"**{title}**"] + (["", *content.split("\n")] if content else [])
        if name == "solution":
            if not argument:
                self.fail("a solution that names no exercise")
            if "hidden" in options:
                return []
            summary = f"Solution to {self.label(argument)['text'] or 'Exercise'}"
            return [f"<details><summary>{html.escape(summary)}</summary>", "",
                    *self.convert(body).split("\n"), "", "</details>"]
        if name in ADMONITIONS:
            title = ADMONITIONS[name]
            if title is None:
                if not argument:
                    self.fail("an admonition without a title")
                title = self.inline(argument)
            elif argument:  # these take no title: the first line is content
                body = argument + ("\n" + body if body else "")
            content = self.convert(body)
            return [f"> **{title}**"] + ([">"] + [f"> {line}" if line.strip() else ">"
                                                   for line in content.split("\n")]
                                                  if content else [])
        if name == "table":  # as dlgtut.chapter.table shows a captioned table outside the book
            content = self.convert(body)
            if not argument:
                return content.split("\n")
            return [f"**Table: {self.inline(argument)}**", "", *content.split("\n")]
        if name == "math":
            return ["$$", *self.inline(body).split("\n"), "$$"]
        if name in ("code-block", "code", "sourcecode"):
            longest = max((len(r) for r in re.findall(r"`+", body)), default=0)
            fence = "`" * max(3, longest + 1)
            return [fence + argument, *body.split("\n"), fence]
        if name in GLUE_DIRECTIVES:
            return self._glue_block(name, argument.strip())
        self.fail(f"directive {{{name}}} has no plain-Markdown form (tools/colab_notebooks.py)")

    def _glue_block(self, name: str, key: str) -> list[str]:
        data = self.glue_value(key)["data"]
        if name == "glue:figure":
            self.fail(f"glue figure {key!r}: glued figures have no plain-Markdown form here")
        if name == "glue:math" or (name != "glue:md" and "text/latex" in data
                                   and "text/markdown" not in data):
            if "text/latex" not in data:
                self.fail(f"glue key {key!r} has no text/latex for {{{name}}}")
            return ["$$", _strip_math(data["text/latex"]), "$$"]
        if "text/markdown" in data:
            return self.convert(data["text/markdown"]).split("\n")
        if name == "glue:md":
            self.fail(f"glue key {key!r} has no text/markdown for {{glue:md}}")
        if "text/plain" in data:
            return ["```", *data["text/plain"].split("\n"), "```"]
        self.fail(f"glue key {key!r} ({', '.join(data)}) has no plain-Markdown form here")

    # inline

    def inline(self, text: str) -> str:
        """Roles, links and escapes of inline Markdown; code spans are left as they are."""
        out: list[str] = []
        i, n = 0, len(text)
        math = False  # inside $...$ or $$...$$: a glued value goes in as it is, unescaped
        while i < n:
            c = text[i]
            if c == "\\" and i + 1 < n:
                out.append(text[i:i + 2])
                i += 2
            elif c == "{" and (m := _ROLE_NAME.match(text, i)) and text.startswith("`", m.end()):
                # mdit_py_plugins.myst_role: the content ends at the next run of as many ticks
                ticks = len(re.match(r"`+", text[m.end():]).group())
                start = m.end() + ticks
                close = text.find("`" * ticks, start + 1)
                if close < 0:
                    out.append(text[i:start])
                    i = start
                    continue
                content = text[start:close].replace("\n", " ")
                out.append(self.role(m.group(1), content, math=math))
                i = close + ticks
            elif c == "`":
                ticks = len(re.match(r"`+", text[i:]).group())
                close = _closing_ticks(text, i + ticks, ticks)
                end = i + ticks if close is None else close + ticks
                out.append(text[i:end])
                i = end
            elif c == "]" and text.startswith("(", i + 1) and not math:
                dest = re.match(r"\(\s*(<[^<>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)",
                                text[i + 1:])
                target = dest.group(1)
                new = (f"<{self.url(target[1:-1])}>" if target.startswith("<")
                       else self.url(target))
                out.append("](" + text[i + 2:i + 1 + dest.start(1)] + new)
                i = i + 1 + dest.end()
            elif c == "$":
                dollars = "$$" if text.startswith("$$", i) else "$"
                math = not math
                out.append(dollars)
                i += len(dollars)
            elif c == "<" and (m := _HTML_URL.match(text, i)):
                out.append(self._html_urls(m.group()))
                i = m.end()
            else:
                out.append(c)
                i += 1
        return "".join(out)

    def role(self, name: str, content: str, math: bool = False) -> str:
        """The plain Markdown of one role (``math``: it stands inside LaTeX)."""
        if name in GLUE_ROLES:
            return self._glue_role(name, content, (lambda s: s) if math else escape)
        if name in ("cite", "cite:p", "cite:t"):
            return self._cite("t" if name == "cite:t" else "p", content)
        if name in ("ref", "numref"):
            explicit = _EXPLICIT.match(content.strip())
            target = (explicit.group(2) if explicit else content).strip()
            entry = self.label(target)
            if explicit:
                text = explicit.group(1)
                if name == "numref":
                    number = entry.get("number") or ""
                    text = (text.replace("%s", number).replace("{number}", number)
                            .replace("{name}", entry.get("text") or ""))
            elif name == "numref" and not entry.get("number"):
                self.fail(f"{{numref}} of {target!r}, which has no number")
            else:
                text = entry.get("text")
                if not text:
                    self.fail(f"label {target!r} has no title: give the reference a text")
            return f"[{escape(text)}]({self._page_url(entry['page'], entry['anchor'])})"
        if name == "doc":
            explicit = _EXPLICIT.match(content.strip())
            target = (explicit.group(2) if explicit else content).strip()
            docname = posixpath.splitext(self._doc(target))[0] if target.endswith(
                (".md", ".ipynb")) else self._doc(target)
            if docname not in self.index.documents:
                self.fail(f"document {target!r} is not in the book index")
            doc = self.index.documents[docname]
            text = explicit.group(1) if explicit else doc["title"]
            return f"[{escape(text)}]({self._page_url(doc['page'])})"
        if name == "term":
            explicit = _EXPLICIT.match(content.strip())
            term = (explicit.group(2) if explicit else content).strip()
            text = explicit.group(1) if explicit else term
            return f"[{escape(text)}]({self._term_url(term)})"
        if name == "math":
            return f"${content}$"
        self.fail(f"role {{{name}}} has no plain-Markdown form (tools/colab_notebooks.py)")

    def _term_url(self, term: str) -> str:
        """The glossary's entry of ``term``: Sphinx's anchor ``term-<id>`` on its page."""
        from sphinx.util.nodes import _make_id

        if GLOSSARY not in self.index.documents:
            self.fail(f"{{term}}`{term}`: no glossary ({GLOSSARY}) in the book index")
        return self._page_url(self.index.documents[GLOSSARY]["page"], _make_id(f"term-{term}"))

    def _glue_role(self, name: str, content: str, literal: Callable[[str], str]) -> str:
        """A glued value; ``literal`` escapes plain text (not inside math)."""
        from myst_nb.core.variables import format_plain_text

        if name == "glue:text":  # as myst_nb.ext.glue.roles.PasteTextRole reads its content
            key_format = content.rsplit(":", 1)
            key, fmt_spec = key_format if len(key_format) == 2 else (key_format[0], "s")
            data = self.glue_value(key)["data"]
            if "text/plain" not in data:
                self.fail(f"glue key {key!r} has no text/plain")
            try:
                return literal(format_plain_text(data["text/plain"], fmt_spec))
            except Exception as exc:  # noqa: BLE001 (myst-nb warns on any)
                self.fail(f"glue key {key!r}: cannot format {data['text/plain']!r} with "
                          f"{fmt_spec!r} ({exc})")
        output = self.glue_value(content.strip())
        data = output["data"]
        if name == "glue:md" or "text/markdown" in data:
            if "text/markdown" not in data:
                self.fail(f"glue key {content!r} has no text/markdown for {{glue:md}}")
            return self.inline(data["text/markdown"].strip())
        if "text/latex" in data:
            return f"${_strip_math(data['text/latex'])}$"
        if "text/plain" in data:
            text = data["text/plain"]
            if output.get("metadata", {}).get("strip_text_quotes") and re.match(
                    r"^(['\"]).*\1$", text):
                text = text[1:-1]
            return literal(text)
        self.fail(f"glue key {content!r} ({', '.join(data)}) has no plain-Markdown form here")

    def _cite(self, form: str, content: str) -> str:
        from sphinxcontrib.bibtex.citation_target import parse_citation_targets

        try:
            targets = list(parse_citation_targets(content))
        except ValueError:
            self.fail(f"malformed citation {content!r}")
        parts = []
        for target in targets:
            if target.key not in self.index.citations:
                self.fail(f"citation key {target.key!r} is not in the bibliography of the book "
                          "index")
            entry = self.index.citations[target.key]
            text = entry[form]
            if form == "t" and (target.pre or target.post) and text.endswith(")"):
                cut = text.rfind("(") + 1
                text = (text[:cut] + (target.pre + " " if target.pre else "") + text[cut:-1]
                        + (", " + target.post if target.post else "") + ")")
            elif form == "p":
                text = ((target.pre + " " if target.pre else "") + text
                        + (", " + target.post if target.post else ""))
            parts.append(f"[{escape(text)}]({self._page_url(entry['page'], entry['anchor'])})")
        return ", ".join(parts) if form == "t" else "(" + "; ".join(parts) + ")"


def _strip_math(latex: str) -> str:
    text = latex.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)")):
        if text.startswith(left) and text.endswith(right) and len(text) >= len(left + right):
            return text[len(left):-len(right)].strip()
    return text


# --- notebooks --------------------------------------------------------------------------------


def chapters(root: Path = ROOT) -> list[Path]:
    """The chapter sources: ``book/*.md`` that are MyST notebooks (with a kernelspec)."""
    return [path for path in sorted((root / "book").glob("*.md"))
            if "kernelspec" in jupytext.read(path).metadata]


def _first_cell(title: str, chapter_url: str, chapter_title: str, loc: location.Location) -> str:
    return (f"*This notebook was built from the source of the book at release "
            f"[{loc.tag}]({loc.repository}/tree/{loc.tag}). The chapter online, with every "
            f"figure and output: [{escape(chapter_title)}]({chapter_url}), in "
            f"[{escape(title)}]({loc.site}).*")


def convert_chapter(source: Path, *, index: BookIndex, glue: Callable[[str], Mapping[str, Any]],
                    root: Path = ROOT, loc: location.Location | None = None,
                    parser=None) -> nbformat.NotebookNode:
    """The Colab notebook of one chapter source (see the module's docstring)."""
    loc = loc or location.read(root)
    docname = source.resolve().relative_to(root.resolve()).with_suffix("").as_posix()
    if docname not in index.documents:
        raise ConversionError(f"{docname}.md: not in the book index (is it in _toc.yml?)")
    doc = index.documents[docname]
    converter = MarkdownConverter(docname, index, glue, loc.site, loc.raw(loc.tag),
                                  parser or _md_parser(root))
    text = jupytext.read(source)
    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    first = _first_cell(config.get("title", "the book"), loc.site + doc["page"], doc["title"], loc)
    cells = [nbformat.v4.new_markdown_cell(first)]
    for cell in text.cells:
        metadata = dict(cell.metadata)
        if cell.cell_type == "code":
            cells.append(nbformat.v4.new_code_cell(cell.source, metadata=metadata))
        elif cell.cell_type == "markdown":
            converted = converter.convert(cell.source)
            if converted:
                cells.append(nbformat.v4.new_markdown_cell(converted, metadata=metadata))
        else:
            cells.append(nbformat.v4.new_raw_cell(cell.source, metadata=metadata))
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"  # stable ids: a rebuild changes only what changed
    kernelspec = dict(text.metadata.get("kernelspec", {}))
    return nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": kernelspec, "language_info": {"name": kernelspec.get("language", "python")},
        "colab": {"provenance": []}})


def _readme(loc: location.Location, written: list[Path], out: Path) -> str:
    lines = [
        "# The book's notebooks, for Colab",
        "",
        f"This branch (`{loc.colab_branch}`) holds the notebooks that the launch buttons of the "
        f"online book ({loc.site}) open in Colab. They are built, not edited: "
        f"`python3 dev.py colab` converts each chapter's source, `book/<chapter>.md` on the main "
        f"branch of {loc.repository}, into plain Markdown and code cells without outputs, and "
        f"the book's workflow publishes them here. These were built at release {loc.tag}. To "
        "change a chapter, edit its source, not this branch.",
        "",
    ]
    for path in written:
        rel = path.relative_to(out).as_posix()
        lines.append(f"- [{rel}]({loc.colab(loc.colab_branch)}{rel})")
    return "\n".join(lines) + "\n"


def convert_book(build: Path, out: Path, root: Path = ROOT,
                 glue: Callable[[str], Mapping[str, Any]] | None = None) -> list[Path]:
    """Every chapter into ``out/book/<chapter>.ipynb``, and ``out/README.md``; the notebooks.

    Every chapter is tried; the problems of all of them are raised together, one a line, and
    then nothing is written. Notebooks in ``out/book/`` of chapters that no longer exist are
    removed (the folder is published as the Colab branch, as it is).
    """
    index = BookIndex.load(build / "html" / INDEX_NAME)
    glue = glue or executed_glue(build)
    loc = location.read(root)
    parser = _md_parser(root)
    notebooks, problems = {}, []
    for source in chapters(root):
        try:
            notebooks[source] = convert_chapter(source, index=index, glue=glue, root=root,
                                                loc=loc, parser=parser)
        except ConversionError as exc:
            problems.append(str(exc))
    if problems:
        raise ConversionError("\n".join(problems))
    written = []
    for source, notebook in notebooks.items():
        path = out / source.resolve().relative_to(root.resolve()).with_suffix(".ipynb")
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.validate(notebook)
        nbformat.write(notebook, path)
        written.append(path)
    for stale in set((out / "book").glob("*.ipynb")) - set(written):  # a chapter since removed
        stale.unlink()
    (out / "README.md").write_text(_readme(loc, written, out))
    return written


# --- for the tests: the keys a chapter's code glues --------------------------------------------


def glued_keys(code: str) -> set[str]:
    """The keys of the ``glue(key, ...)`` calls of ``code``, loops over literals unrolled.

    A key may be a string, or an f-string or name that depends on the variables of enclosing
    ``for`` loops over literal tuples, lists or ``{...}.items()``; anything else is a
    ValueError that names the call.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    keys: set[str] = set()
    _walk(ast.parse(TransformerManager().transform_cell(code)).body, [{}], keys)  # %magics
    return keys


def _elements(iterable: ast.expr) -> list[ast.expr] | None:
    """The elements of a literal a ``for`` loop runs over, else None."""
    if isinstance(iterable, (ast.Tuple, ast.List, ast.Set)):
        return list(iterable.elts)
    if (isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute)
            and isinstance(iterable.func.value, ast.Dict) and not iterable.args):
        d = iterable.func.value
        if iterable.func.attr == "items":
            return [ast.Tuple(elts=[k, v]) for k, v in zip(d.keys, d.values, strict=True)]
        if iterable.func.attr == "keys":
            return list(d.keys)
    return None


def _bind(target: ast.expr, value: ast.expr, scope: dict[str, Any]) -> None:
    if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
        scope[target.id] = value.value
    elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)):
        for t, v in zip(target.elts, value.elts, strict=False):
            _bind(t, v, scope)


def _walk(statements: list[ast.stmt], scopes: list[dict[str, Any]], keys: set[str]) -> None:
    for node in statements:
        if isinstance(node, (ast.For, ast.AsyncFor)):
            _glue_calls(node.iter, scopes, keys)
            elements = _elements(node.iter)
            inner = scopes
            if elements is not None:
                inner = []
                for scope in scopes:
                    for element in elements:
                        bound = dict(scope)
                        _bind(node.target, element, bound)
                        inner.append(bound)
            _walk(node.body, inner, keys)
            _walk(node.orelse, scopes, keys)
        elif isinstance(node, (ast.If, ast.While)):
            _glue_calls(node.test, scopes, keys)
            _walk(node.body, scopes, keys)
            _walk(node.orelse, scopes, keys)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                _glue_calls(item.context_expr, scopes, keys)
            _walk(node.body, scopes, keys)
        elif isinstance(node, ast.Try):
            for block in (node.body, *(h.body for h in node.handlers), node.orelse,
                          node.finalbody):
                _walk(block, scopes, keys)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _walk(node.body, scopes, keys)
        else:
            _glue_calls(node, scopes, keys)


def _glue_calls(node: ast.AST, scopes: list[dict[str, Any]], keys: set[str]) -> None:
    from dlgtut.chapter import RUN_TIME_KEYS

    for call in ast.walk(node):
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id == "glue_run_times"):
            keys.update(RUN_TIME_KEYS)  # dlgtut.chapter.glue_run_times glues these
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id == "glue" and call.args):
            expr = call.args[0]
            names = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}
            for scope in scopes:
                if not names <= set(scope):
                    raise ValueError(f"cannot tell the key of glue({ast.unparse(expr)}, ...) "
                                     f"(line {call.lineno}) from the code")
                value = eval(compile(ast.Expression(expr), "<glue key>", "eval"),  # noqa: S307
                             {"__builtins__": {}}, dict(scope))
                keys.add(str(value))


# --- command line -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", type=Path, nargs="?", default=ROOT / "_build",
                        help="the book's build folder (html/book-index.json, jupyter_execute/)")
    parser.add_argument("out", type=Path, nargs="?", help="where to write (default BUILD/colab)")
    args = parser.parse_args(argv)
    out = args.out or args.build / "colab"
    try:
        written = convert_book(args.build, out)
    except ConversionError as exc:
        for line in str(exc).splitlines():
            print(f"dlgtut colab: {line}", file=sys.stderr)
        return 1
    print(f"dlgtut colab: {len(written)} notebooks in {out / 'book'}, and {out / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
