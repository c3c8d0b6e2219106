"""A Sphinx extension of the book: the book's index for other tools, and Colab links that open.

Registered in ``_config.yml`` (``sphinx: local_extensions: {book_index: tools}``). jupyter-book
resolves that path relative to the configuration file, so a build with a copy of it elsewhere
(``--config /tmp/x.yml``) must make the path absolute, for example::

    sed -e 's/execute_notebooks: cache.*/execute_notebooks: "off"/' \
        -e "s|book_index: tools|book_index: $PWD/tools|" _config.yml > /tmp/cfg_off.yml

It does two things.

**The book index.** At the end of an HTML build it writes ``book-index.json`` into the output
folder (``_build/html/``): what ``tools/colab_notebooks.py`` needs to turn the MyST of a chapter
into links to the published book, with the texts and numbers this build gave them.

* ``documents``: docname -> ``{"title", "page"}`` (``page`` relative to the HTML root);
* ``labels``: every label of the ``std`` domain (MyST ``(label)=`` targets, sphinx-exercise's
  exercises and solutions, figures and tables if any) -> ``{"doc", "page", "anchor", "text",
  "kind", "number"}``: ``text`` is what a ``{ref}`` shows (the section title, or "Exercise 12"
  with the number Sphinx assigned), ``number`` that number ("12", or null), ``kind`` the
  enumerable type ("exercise", "figure", ...), "solution" (with its ``exercise``'s label),
  "section" or "target" (a label with no title);
* ``citations``: every key of the bibliography -> ``{"t", "p", "page", "anchor"}``: the
  author-year text of ``{cite:t}`` ("Zhu et al. (2019)") and of one key of ``{cite:p}`` ("Zhu
  et al., 2019", without the brackets that enclose the whole citation), as the build's
  sphinxcontrib-bibtex reference style renders them, and the entry's place on the
  bibliography page.

**The Colab launch button.** sphinx-book-theme builds the Colab link from ``repository.url``,
``repository.branch`` and the page's source suffix, so a chapter written as ``book/x.md`` gets
``.../blob/<branch>/book/x.md``, which Colab cannot open. The notebooks Colab opens are built
from the sources and published to that branch as ``book/x.ipynb`` (``python3 dev.py colab``);
an ``html-page-context`` handler that runs after the theme's points the link there.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

INDEX_NAME = "book-index.json"
FORMAT = 1
LOGGER = logging.getLogger(__name__)


# --- the index ------------------------------------------------------------------------------


def _enumerable(env, docname: str, labelid: str) -> tuple[str, str] | None:
    """(figtype, "1.2") when Sphinx numbered the node ``labelid`` of ``docname``, else None."""
    for figtype, numbers in env.toc_fignumbers.get(docname, {}).items():
        if labelid in numbers:
            return figtype, ".".join(map(str, numbers[labelid]))
    return None


def _labels(app: Sphinx) -> dict[str, dict[str, Any]]:
    env = app.env
    std = env.get_domain("std")
    found: dict[str, tuple[str, str, str | None]] = {
        name: (docname, labelid, None) for name, (docname, labelid) in std.anonlabels.items()}
    found.update(std.labels)
    labels = {}
    for name, (docname, labelid, sectname) in sorted(found.items()):
        number = None
        kind = "section" if sectname else "target"
        text = str(sectname) if sectname else None  # a translated name for genindex & co.
        numbered = _enumerable(env, docname, labelid) if labelid else None
        if numbered:
            kind, number = numbered
            text = str(app.config.numfig_format.get(kind, "%s")) % number
        labels[name] = {"doc": docname, "page": app.builder.get_target_uri(docname),
                        "anchor": labelid or "", "text": text, "kind": kind, "number": number}
    # sphinx-exercise: an unnumbered exercise is still an exercise, and a solution's title
    # names its exercise the way the page shows it ("Solution to Exercise 12").
    for name, entry in getattr(env, "sphinx_exercise_registry", {}).items():
        if name not in labels:
            continue
        node = entry.get("node")
        if entry.get("type") == "solution" and node is not None:
            target = labels.get(node.get("target_label", ""), {})
            title = str(node.get("title", "")).strip()
            labels[name].update(kind="solution", exercise=node.get("target_label"),
                                text=f"{title} {target.get('text') or ''}".strip())
        elif entry.get("type") == "exercise" and labels[name]["kind"] == "section":
            labels[name]["kind"] = "exercise"
    return labels


def _styles(style) -> dict[str, Any]:
    """The build's reference style, once per form: ``t`` with round brackets, ``p`` bare.

    sphinxcontrib-bibtex's author-year style puts square brackets around the year of a
    textual citation and around a whole parenthetical one; the index keeps its names, its
    separators and its "et al.", and leaves the brackets to whoever uses the text.
    """
    fields = {f.name for f in dataclasses.fields(style)} if dataclasses.is_dataclass(style) else {}
    if not {"bracket_textual", "bracket_parenthetical"} <= fields:
        return {"t": style, "p": style}
    kept = {f.name: getattr(style, f.name) for f in dataclasses.fields(style)
            if f.init and f.name not in ("styles", "role_style")}

    def variant(**brackets):
        return type(style)(**{**kept, **brackets})

    return {
        "t": variant(bracket_textual=dataclasses.replace(style.bracket_textual, left="(",
                                                         right=")")),
        "p": variant(bracket_parenthetical=dataclasses.replace(style.bracket_parenthetical,
                                                               left="", right="")),
    }


def _citations(app: Sphinx) -> dict[str, dict[str, Any]]:
    env = app.env
    if "cite" not in env.domains:
        return {}
    from sphinxcontrib.bibtex.style.referencing import format_references
    from sphinxcontrib.bibtex.style.template import SphinxReferenceInfo

    domain = env.get_domain("cite")
    styles = _styles(domain.reference_style)
    citations = {}
    for cit in domain.citations:
        docname = cit.bibliography_key.docname
        info = SphinxReferenceInfo(builder=app.builder, fromdocname=docname, todocname=docname,
                                   citation_id=cit.citation_id, title=None, pre_text="",
                                   post_text="")
        entry = {"page": app.builder.get_target_uri(docname), "anchor": cit.citation_id}
        for role, style in styles.items():
            text = format_references(style, role, [(cit.entry, cit.formatted_entry, info)])
            entry[role] = "".join(node.astext() for node in text.render(domain.backend))
        citations.setdefault(cit.key, entry)  # the first bibliography that lists the key
    return dict(sorted(citations.items()))


def book_index(app: Sphinx) -> dict[str, Any]:
    """The index of the book ``app`` just built (see the module's docstring)."""
    env = app.env
    documents = {
        docname: {"title": env.titles[docname].astext() if docname in env.titles else "",
                  "page": app.builder.get_target_uri(docname)}
        for docname in sorted(env.all_docs)}
    return {"format": FORMAT, "documents": documents, "labels": _labels(app),
            "citations": _citations(app)}


def write_index(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    path = Path(app.outdir) / INDEX_NAME
    path.write_text(json.dumps(book_index(app), indent=1, ensure_ascii=False) + "\n")
    LOGGER.info(f"book index written to {path}")


# --- the Colab button ------------------------------------------------------------------------


def colab_opens_the_notebook(app: Sphinx, pagename: str, templatename: str,
                             context: dict[str, Any], doctree) -> None:
    """Point the Colab launch button of a text notebook (``book/x.md``) at ``book/x.ipynb``."""
    launch = (app.config.html_theme_options or {}).get("launch_buttons", {}) or {}
    colab = (launch.get("colab_url") or "").strip("/")
    if not colab or pagename not in app.env.all_docs:
        return
    suffix = Path(app.env.doc2path(pagename)).suffix
    if suffix == ".ipynb":
        return
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) if isinstance(group, dict) else []:
            url = button.get("url", "")
            if url.startswith(colab + "/") and url.endswith(f"/{pagename}{suffix}"):
                button["url"] = url[: -len(suffix)] + ".ipynb"


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("build-finished", write_index)
    # sphinx-book-theme adds the launch buttons at priority 501; the list is rendered later,
    # by the page template, so a later handler may still change it.
    app.connect("html-page-context", colab_opens_the_notebook, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
