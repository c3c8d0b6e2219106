"""Tampering found before grading: which questions it touches, and the CSV's words for it.

:func:`check` runs in the grading process (:mod:`.grading`) on the bytes of the submission the
worker is then given, before the notebook's kernel starts, with :func:`.rebinding.scan`; the
teacher's side (:func:`read_teacher`) comes from the autograder zip (every test, hidden ones
too) and the solution notebook the build writes beside it. A finding zeroes the questions it
touches (:func:`touched`):

* a rebound attribute (``torch.allclose``): the questions whose tests mention its last name
  (``allclose``), and, where dlgtut's own source mentions it, every question whose tests import
  dlgtut (the hidden tests call the library, which may call it);
* a rebound given name (``torch``, ``grader``, ``images``): the questions whose tests mention
  it, and every question whose ``grader.check`` comes at or after the cell (the given cells
  after it may hand it to a test);
* a rebound dunder method (``torch.Tensor.__eq__``: operators have no name in a test) or a
  finding that cannot be checked: every auto-graded question, since otter runs every test once
  more after the last cell, so no position in the notebook is safe;
* always the question whose ``grader.check`` first follows the cell.

A cell is named by its position in the notebook, counting every cell (Markdown too) from 1.

What comes back from the worker is checked too, since the notebook's kernel runs the tests and
can reach what they report: a score the assignment cannot give (:func:`checked_scores`), or one
from test files other than the autograder's (:func:`checked_tests`: the kernel can write the
files otter unpacked), rejects the whole result.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import re
import zipfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .rebinding import Finding, Teacher, is_dunder, parse_cell, scan, top_bindings

if TYPE_CHECKING:
    from .grading import Autograder

__all__ = ["read_teacher", "notebook_cells", "touched", "describe", "check", "checked_scores",
           "checked_tests", "digest"]

_CHECK = re.compile(r"""\.check\(\s*["']([^"']+)["']""")


def checked_scores(got: Mapping, autograder: Autograder) -> tuple[dict[str, float], list[str]]:
    """The auto-graded questions' scores from a grading result, and what was rejected.

    A score the assignment cannot give (above the question's points, below zero, not a
    finite number, reported out of other points than the assignment's, or for a question
    the assignment does not have) is not a grade but a sign of tampering: otter never reports
    one, so the result did not come from the grader alone, and no score in it is kept. Every
    question then gets 0, and the reasons are returned, for the CSV.
    """
    possible = {q: float(p) for q, p, manual in autograder.questions if not manual}
    scores = dict.fromkeys(possible, 0.0)
    flags = []
    for q, value in got.items():
        if q not in possible:
            flags.append(f"a score for {str(q)[:40]!r}, which is not an auto-graded question "
                         "of this assignment: rejected")
            continue
        try:
            score, out_of = (float(v) for v in value)
        except (TypeError, ValueError):
            flags.append(f"{q}: an unreadable score: rejected")
            continue
        if not (math.isfinite(score) and 0 <= score <= possible[q]):
            flags.append(f"{q}: {score:g} points, outside 0 to {possible[q]:g}: rejected")
        elif out_of != possible[q]:
            flags.append(f"{q}: scored out of {out_of:g} points, the assignment gives "
                         f"{possible[q]:g}: rejected")
        else:
            scores[q] = score
    if flags:
        scores = dict.fromkeys(possible, 0.0)
    return scores, flags


def read_teacher(zip_path: str | Path, notebook: str | Path | None = None) -> Teacher:
    """What the grader knows of an assignment: its tests, and its given cells.

    The given names kept are those a test can see: every name a given cell imports (``torch``,
    ``np``), ``grader`` and ``otter``, and the variables the tests take (their functions'
    parameters) with, back through the given cells, every name those are computed from; a
    given cell's scratch variable (``fig``, ``ax``) may be reused. ``_`` never counts.

    Args:
        zip_path: the autograder zip (its ``tests/*.py``, hidden tests included).
        notebook: the solution notebook the build writes beside the zip; without it no given
            cell is known, and only rebound attributes and what cannot be checked are found.
    """
    tests: dict[str, frozenset[str]] = {}
    digests: dict[str, str] = {}
    needed = {"grader", "otter"}
    with zipfile.ZipFile(zip_path) as zf:
        for n in zf.namelist():
            if n.startswith("tests/") and n.endswith(".py"):
                text = zf.read(n).decode("utf-8", "replace")
                tests[Path(n).stem] = _identifiers(text)
                needed |= _parameters(text)
                if not re.search(r"^OK_FORMAT\s*=\s*True", text, re.MULTILINE):
                    digests[Path(n).stem] = digest(text)
    given, names, answers, cells = set(), {}, set(), []
    if notebook is not None and Path(notebook).is_file():
        nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            tree = parse_cell(_source(cell)) if cell.get("cell_type") == "code" else None
            if tree is None:
                continue
            bound = top_bindings(tree)
            if "otter_assign_solution_cell" in cell.get("metadata", {}).get("tags", []):
                answers |= set(bound)
                continue
            given |= {ast.dump(s) for s in tree.body}
            names.update(bound)
            cells.append((set(bound), {x.id for x in ast.walk(tree)
                                       if isinstance(x, ast.Name) and isinstance(x.ctx, ast.Load)}))
    if "env" in needed or "*" in needed:  # a test that takes the whole environment
        needed |= set(names)
    while True:  # what the needed names are computed from, back through the given cells
        more = set().union(*(reads for bound, reads in cells if bound & needed)) - needed
        if not more:
            break
        needed |= more
    kept = {k: v for k, v in names.items() if (v or k in needed) and k not in answers | {"_"}}
    return Teacher(frozenset(given), kept, tests, digests)


def _parameters(source: str) -> set[str]:
    """The parameters of a test file's functions: the names its tests take from the notebook."""
    tree = parse_cell(source)
    if tree is None:
        return {"*"}
    return {a.arg for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
            for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _identifiers(source: str) -> frozenset[str]:
    tree = parse_cell(source)
    if tree is None:  # a test file that does not parse: say it mentions everything
        return frozenset({"*"})
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Attribute):
            out.add(node.attr)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, ast.alias):
            out.update(node.name.split("."))
            out.add(node.asname or "")
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.update(node.module.split("."))
    return frozenset(out - {""})


@lru_cache(maxsize=1)
def _dlgtut_identifiers() -> frozenset[str]:
    """Every identifier dlgtut's own source mentions (the hidden tests call into it)."""
    root = Path(__file__).resolve().parents[1]
    out: set[str] = set()
    for path in root.rglob("*.py"):
        out |= _identifiers(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(out)


def notebook_cells(data: bytes, name: str = "") -> list[tuple[int, str, str]] | None:
    """``(position from 1, cell type, source)`` of every cell of a notebook or otter's zip.

    ``None`` when it is neither (the grader then fails it for its own reason).
    """
    if name.lower().endswith(".zip") or data[:4] == b"PK\x03\x04":
        import io

        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                books = [zf.read(n) for n in zf.namelist() if n.endswith(".ipynb")]
        except (zipfile.BadZipFile, OSError, KeyError):
            return None
        cells: list[tuple[int, str, str]] = []
        for book in books:
            cells += notebook_cells(book, "book.ipynb") or []
        return cells
    try:
        nb = json.loads(data.decode("utf-8"))
        return [(i, str(c.get("cell_type", "")), _source(c))
                for i, c in enumerate(nb["cells"], start=1)]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def touched(finding: Finding, teacher: Teacher, cells, auto: tuple[str, ...]) -> tuple[str, ...]:
    """The auto-graded questions whose grade ``finding`` may have changed, in order."""
    checks = [(position, q) for position, kind, source in cells if kind == "code"
              for q in _CHECK.findall(source) if q in auto]
    after = {q for position, q in checks if position >= finding.cell}
    own = next((q for position, q in checks if position >= finding.cell), None)
    last = finding.name.rsplit(".", 1)[-1]
    if finding.scope == "all" or is_dunder(last):
        return auto
    hit = {q for q in auto if q == own or last in teacher.tests.get(q, ()) or
           "*" in teacher.tests.get(q, ())}
    if finding.scope == "attribute" and last in _dlgtut_identifiers():
        hit |= {q for q in auto if "dlgtut" in teacher.tests.get(q, ())}
    if finding.scope == "given":
        hit |= after
    return tuple(q for q in auto if q in hit)


def describe(finding: Finding, questions: tuple[str, ...]) -> str:
    """The CSV's words: ``cell 12 rebinds torch.allclose (q1)``."""
    what = (f"rebinds {finding.name}" if finding.kind == "rebinds"
            else f"cannot be checked: {finding.name}")
    return f"cell {finding.cell} {what} ({', '.join(questions) or 'no question'})"


def check(data: bytes, name: str, teacher: Teacher, auto: tuple[str, ...]
          ) -> tuple[set[str], list[str]]:
    """The questions a submission's findings touch, and one reason per finding."""
    cells = notebook_cells(data, name)
    if cells is None:
        return set(), []
    zeroed, reasons = set(), []
    for f in scan(cells, teacher):
        qs = touched(f, teacher, cells, auto)
        zeroed |= set(qs)
        reasons.append(describe(f, qs))
    return zeroed, reasons


def digest(source: str | None) -> str | None:
    """A test file's fingerprint (SHA-256 of its text, line ends made ``\\n``), None for none."""
    if not isinstance(source, str):
        return None
    return hashlib.sha256(source.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def checked_tests(got: Mapping, ran, teacher: Teacher | None) -> list[str]:
    """What to reject because the tests that ran are not the autograder's.

    The notebook's kernel can write files, the tests otter unpacked beside it included: a test
    file replaced by one that always passes would otherwise earn its points. The worker sends
    back the fingerprint of each test file that ran (``ran``: question -> :func:`digest`); each
    must be that of the zip's file, read by the grading process before any kernel started.
    Checked for otter's exception-based tests (every dlgtut assignment's); OK-format ones carry
    no text to compare.
    """
    if teacher is None:
        return []
    ran = ran if isinstance(ran, Mapping) else {}
    return [f"{q}: the tests that ran are not the assignment's: rejected"
            for q in got if q in teacher.digests and ran.get(q) != teacher.digests[q]]
