"""The teacher's kit: exercise solutions in every chapter, and the teaching page's numbers.

The chapters' exercises each have a folded solution right after them. The teaching page's
"Assignments at a glance" table and its rubrics are typed by hand, so these tests read the
masters' question configs (``assignments/<name>/<name>.md``, through the same
``read_questions`` the build uses) and check the page against them: an assignment without a
row, a total that drifted from its questions' points, weights that do not add up to 100 %, a
written question without a rubric, or a rubric whose points do not add up to its question's,
all fail here. Pure text parsing: the module runs in about a second.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

from dlgtut.classroom.build import read_questions

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
TEACHING = BOOK / "teaching.md"
MASTERS = sorted(p for p in (ROOT / "assignments").glob("*/*.md") if p.stem == p.parent.name)
CHAPTERS = sorted(p for p in BOOK.glob("*.md") if "{exercise}" in p.read_text())

# a directive block: its opening fence (``` or ::: of any length), name, argument and body
BLOCK = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[a-z-]+)\}[ \t]*(?P<arg>[^\n]*)\n"
                   r"(?P<body>.*?)^(?P=fence)[ \t]*$", re.MULTILINE | re.DOTALL)
LABEL = re.compile(r"^:label:[ \t]*(\S+)", re.MULTILINE)


def _questions(master: Path) -> dict:
    """``{name: Question}`` of one master notebook."""
    return {q.name: q for q in read_questions(jupytext.read(master))}


def _section(text: str, title: str) -> str:
    """The body of the level-2 section ``## title`` of a page, up to the next level-2 heading."""
    match = re.search(rf"^## {re.escape(title)}[ \t]*\n(.*?)(?=^## |\Z)", text,
                      re.MULTILINE | re.DOTALL)
    assert match, f"teaching.md has no section '## {title}'"
    return match.group(1)


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def _number(cell: str) -> float:
    match = re.fullmatch(r"\**([0-9]+(?:\.[0-9]+)?)[ \t]*%?\**", cell.strip())
    assert match, f"expected a number, got {cell!r}"
    return float(match.group(1))


# ---------------------------------------------------------------- exercises and solutions


def test_the_chapters_have_exercises():
    # the chapters of the book that carry exercises: every part has some
    assert len(CHAPTERS) >= 9, [p.stem for p in CHAPTERS]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_has_a_folded_solution_right_after_it(chapter):
    text = chapter.read_text()
    blocks = list(BLOCK.finditer(text))
    exercises = [i for i, b in enumerate(blocks) if b.group("name") == "exercise"]
    assert exercises, f"{chapter.name}: no exercise"
    for i in exercises:
        exercise = blocks[i]
        labels = LABEL.findall(exercise.group("body"))
        assert len(labels) == 1, f"{chapter.name}: an exercise without a :label:"
        label = labels[0]
        assert i + 1 < len(blocks), f"{chapter.name}: {label} has no solution after it"
        solution = blocks[i + 1]
        between = text[exercise.end():solution.start()]
        assert between.strip() == "", f"{chapter.name}: text between {label} and its solution"
        assert solution.group("name") == "solution", f"{chapter.name}: {label} has no solution"
        assert solution.group("arg").strip() == label, (
            f"{chapter.name}: the solution after {label} names {solution.group('arg')!r}")
        body = solution.group("body")
        assert re.search(r"^:class:[ \t]*dropdown[ \t]*$", body, re.MULTILINE), (
            f"{chapter.name}: the solution of {label} is not folded (:class: dropdown)")
        assert len(body.split()) >= 25, f"{chapter.name}: the solution of {label} is a stub"


def test_solutions_name_exercises_that_exist():
    labels, named = set(), []
    for chapter in CHAPTERS:
        for block in BLOCK.finditer(chapter.read_text()):
            if block.group("name") == "exercise":
                labels.update(LABEL.findall(block.group("body")))
            elif block.group("name") == "solution":
                named.append(block.group("arg").strip())
    assert len(named) == len(set(named)), "an exercise has two solutions"
    assert set(named) <= labels, set(named) - labels


def test_exercise_labels_are_unique_across_the_book():
    labels = [label for chapter in CHAPTERS for block in BLOCK.finditer(chapter.read_text())
              if block.group("name") == "exercise" for label in LABEL.findall(block.group("body"))]
    assert len(labels) == len(set(labels))


# ---------------------------------------------------------------- assignments at a glance


def _glance_rows() -> dict[str, list[str]]:
    """The rows of the "Assignments at a glance" table, by the assignment named in backticks."""
    section = _section(TEACHING.read_text(), "Assignments at a glance")
    rows = {}
    for line in section.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = _cells(line)
        match = re.search(r"`([a-z_]+)`", cells[0])
        key = match.group(1) if match else cells[0].strip("* ").lower()
        rows[key] = cells
    return rows


def test_the_masters_are_found():
    assert len(MASTERS) >= 5, MASTERS


@pytest.mark.parametrize("master", MASTERS, ids=lambda p: p.stem)
def test_every_assignment_has_a_row_with_its_points(master):
    rows = _glance_rows()
    assert master.stem in rows, f"'Assignments at a glance' has no row for {master.stem}"
    # columns: assignment | auto-graded points | hand-graded points | total | weight
    cells = rows[master.stem]
    questions = _questions(master).values()
    auto = sum(q.points for q in questions if not q.manual)
    manual = sum(q.points for q in questions if q.manual)
    assert _number(cells[1]) == auto, f"{master.stem}: auto-graded points"
    assert _number(cells[2]) == manual, f"{master.stem}: hand-graded points"
    assert _number(cells[3]) == auto + manual, f"{master.stem}: total"
    assert _number(cells[4]) > 0


def test_every_row_is_an_assignment_and_the_weights_add_up():
    rows = _glance_rows()
    names = {m.stem for m in MASTERS}
    assert "project" in rows, "the project needs a row (and a weight)"
    assert "total" in rows
    listed = {key for key in rows if key not in ("assignment", "project", "total")}
    assert listed == names, f"rows without a master: {listed - names}"
    weights = [_number(rows[key][4]) for key in listed | {"project"}]
    assert sum(weights) == pytest.approx(100.0)
    assert _number(rows["total"][4]) == pytest.approx(100.0)


def test_every_assignment_has_its_objectives():
    section = _section(TEACHING.read_text(), "Assignments at a glance")
    for master in MASTERS:
        match = re.search(rf"^###[^\n]*`{master.stem}`[^\n]*\n(.*?)(?=^###|\Z)", section,
                          re.MULTILINE | re.DOTALL)
        assert match, f"no '### ... `{master.stem}`' objectives heading"
        items = re.findall(r"^[0-9]+\. ", match.group(1), re.MULTILINE)
        assert 3 <= len(items) <= 5, f"{master.stem}: {len(items)} objectives, want 3 to 5"


# ---------------------------------------------------------------- rubrics


def _rubrics() -> dict[tuple[str, str], tuple[float, str]]:
    """``{(assignment, question): (points in the heading, body)}`` of the "Rubrics" section."""
    section = _section(TEACHING.read_text(), "Rubrics")
    heading = re.compile(r"^### `([a-z_]+)` (q[0-9]+)\b[^\n]*\(([0-9.]+) points?\)[ \t]*\n"
                         r"(.*?)(?=^### |\Z)", re.MULTILINE | re.DOTALL)
    found = {}
    for match in heading.finditer(section):
        key = (match.group(1), match.group(2))
        assert key not in found, f"two rubrics for {key}"
        found[key] = (float(match.group(3)), match.group(4))
    return found


def _criteria_points(body: str) -> list[float]:
    """The points column of a rubric's criteria table (``| criterion | points |``)."""
    points = []
    for line in body.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = _cells(line)
        if cells[-1].lower() == "points":
            continue
        points.append(_number(cells[-1]))
    return points


MANUAL = [(m, q) for m in MASTERS for q in _questions(m).values() if q.manual]


def test_there_are_written_questions():
    assert len(MANUAL) >= 8


@pytest.mark.parametrize("master, question", MANUAL,
                         ids=lambda v: v.stem if isinstance(v, Path) else v.name)
def test_every_written_question_has_a_rubric_that_adds_up(master, question):
    rubrics = _rubrics()
    key = (master.stem, question.name)
    assert key in rubrics, f"no rubric '### `{key[0]}` {key[1]} ... ({question.points:g} points)'"
    heading_points, body = rubrics[key]
    assert heading_points == question.points, f"{key}: the heading says {heading_points:g}"
    criteria = _criteria_points(body)
    assert len(criteria) >= 2, f"{key}: a rubric needs at least two criteria"
    assert sum(criteria) == pytest.approx(question.points), f"{key}: criteria add to {criteria}"
    words = " ".join(body.split())
    for part in ("Full marks", "Partial", "Zero", "Common mistakes"):
        assert f"**{part}" in words, f"{key}: the rubric does not say '{part}'"


def test_every_rubric_is_for_a_written_question():
    manual = {(m.stem, q.name) for m, q in MANUAL}
    extra = set(_rubrics()) - manual
    assert not extra, f"rubrics for questions that are not written ones: {extra}"
