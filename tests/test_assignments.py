"""The assignments, built as ``python3 dev.py assignments`` builds them, and graded.

For every assignment under ``assignments/``: the reference solution scores full marks; the
unmodified student notebook scores less than full on every auto-graded question (no test
passes on an empty answer); the student notebook and its public tests contain no line of a
solution and nothing of a hidden test; the published copy that Colab opens is the one the
master builds today. ``python -m dlgtut grade`` grades a folder holding a solution, a blank
student notebook and a broken file into one CSV.

Grading runs every notebook in reduced mode (``DLGTUT_QUICK=1``: the defences assignment
sweeps fewer strengths); the thresholds of the tests are the same in both modes.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import pytest

pytest.importorskip("otter", reason="the assignments need otter-grader: pip install dlgtut[assign]")

from dlgtut.classroom.build import build, find_masters, student_view  # noqa: E402
from dlgtut.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MASTERS = find_masters(ROOT / "assignments")
NAMES = [m.stem for m in MASTERS]
WITH_BROKEN = "property_inference"  # the folder that also holds a broken file
CHAPTERS = {  # each chapter with exercises and the assignment it points to
    "federated_learning": "gradient_leakage",
    "deep_leakage": "gradient_leakage",
    "beyond_dlg": "gradient_leakage",
    "membership_inference": "membership_inference",
    "property_inference": "property_inference",
    "model_inversion": "model_inversion",
    "defenses": "defenses",
    "flower_federation": "flower_federation",
    "malicious_server": "malicious_server",
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every assignment built into a temporary folder by the code dev.py runs."""
    out = tmp_path_factory.mktemp("assignments")
    return out, {m.stem: build(m, out) for m in MASTERS}


@pytest.fixture(scope="module")
def grades(built, tmp_path_factory):
    """``grades(name)``: ``python -m dlgtut grade`` on the assignment's solution and its blank
    notebook (and a broken file for one of them); the CSV's header and rows by student.

    Each assignment is graded once, when a test first asks for it, so ``-k <name>`` grades one.
    """
    out, assignments = built
    results = {}

    def grade(name):
        if name in results:
            return results[name]
        b = assignments[name]
        folder = tmp_path_factory.mktemp(f"submitted-{name}")
        (folder / "solution.ipynb").write_bytes(b.autograder_notebook.read_bytes())
        (folder / "blank.ipynb").write_bytes(b.student_notebook.read_bytes())
        if name == WITH_BROKEN:
            (folder / "broken.ipynb").write_text('{"cells": [')
        csv_path = folder / "grades.csv"
        before = os.environ.get("DLGTUT_QUICK")
        os.environ["DLGTUT_QUICK"] = "1"  # inherited by the grading processes and kernels
        try:
            code = main(["grade", "--assignment", name, str(folder), "--out", str(csv_path),
                         "--build", str(out), "--quiet", "--jobs", "2"])
        finally:
            if before is None:
                os.environ.pop("DLGTUT_QUICK", None)
            else:
                os.environ["DLGTUT_QUICK"] = before
        assert code == 0
        with open(csv_path, newline="") as f:
            header, *body = list(csv.reader(f))
        results[name] = (header, {row[0]: dict(zip(header, row, strict=True)) for row in body})
        return results[name]

    return grade


def _auto(b):
    return [q for q in b.questions if not q.manual]


@pytest.mark.parametrize("name", NAMES)
def test_the_solution_scores_full_marks_and_the_blank_notebook_less_on_every_question(
        name, built, grades):
    # One test for both rows: the assignment is graded once (a worker of pytest-xdist that took
    # only one of two tests graded the whole folder again).
    _, rows = grades(name)
    solution = rows["solution"]
    assert solution["status"] == "graded", solution["reason"]
    for q in _auto(built[1][name]):
        assert float(solution[q.name]) == q.points, f"{name} {q.name}: {solution[q.name]}"
    assert float(solution["total"]) == float(solution["possible"]) > 0
    blank = rows["blank"]
    assert blank["status"] == "graded", blank["reason"]  # graded, not crashed: tests ran
    for q in _auto(built[1][name]):
        assert float(blank[q.name]) < q.points, f"{name} {q.name} passes with no answer"


def test_the_grade_command_writes_one_row_per_student(built, grades):
    header, rows = grades(WITH_BROKEN)
    questions = [q.name for q in built[1][WITH_BROKEN].questions]
    assert header == ["student", "file", *questions, "total", "possible", "status", "reason"]
    assert sorted(rows) == ["blank", "broken", "solution"]
    broken = rows["broken"]
    assert broken["status"] == "failed" and "not a readable notebook" in broken["reason"]
    for q in built[1][WITH_BROKEN].questions:
        assert broken[q.name] == ("" if q.manual else "0")  # written answers: graded by hand
    assert rows["solution"]["total"] == rows["solution"]["possible"]


def _solution_lines(master: Path) -> set[str]:
    """Distinctive lines of the master's solutions (code and written) and hidden tests."""
    import jupytext

    nb = jupytext.read(master)
    inside, hidden_test, lines = False, False, set()
    public = set()
    in_tests = False
    for cell in nb.cells:
        text = cell.source.strip()
        if cell.cell_type == "raw":
            head = text.splitlines()[0].strip().upper() if text else ""
            inside = {"# BEGIN SOLUTION": True, "# END SOLUTION": False}.get(head, inside)
            in_tests = {"# BEGIN TESTS": True, "# END TESTS": False}.get(head, in_tests)
            continue
        hidden_test = in_tests and text.startswith("# HIDDEN")
        source_lines = [line.strip() for line in cell.source.splitlines()]
        if hidden_test:
            lines.update(source_lines)
            continue
        if in_tests:
            public.update(source_lines)
            continue
        if inside and cell.cell_type == "markdown":
            lines.update(source_lines)
        elif inside:
            marked = False
            for line in cell.source.splitlines():
                if line.strip() == "# BEGIN SOLUTION":
                    marked = True
                elif line.strip() == "# END SOLUTION":
                    marked = False
                elif marked or line.rstrip().endswith("# SOLUTION"):
                    lines.add(line.strip())
                else:
                    public.add(line.strip())
        else:
            public.update(source_lines)
    # Lines the students are given anyway (imports, blank lines, short tokens) prove nothing.
    return {line for line in lines - public if len(line) > 12 and not line.startswith("import")
            and not line.startswith("from ")}


@pytest.mark.parametrize("name", NAMES)
def test_student_files_hold_no_solution_and_no_hidden_test(name, built):
    b = built[1][name]
    master = ROOT / "assignments" / name / f"{name}.md"
    secret = _solution_lines(master)
    assert len(secret) > 10  # the check below has something to find
    student = json.loads(b.student_notebook.read_text())
    texts = {"notebook": "\n".join("".join(c["source"]) for c in student["cells"])}
    texts |= {p.name: p.read_text() for p in sorted(b.student_tests.glob("*.py"))}
    autograder_tests = "\n".join(p.read_text() for p in
                                 sorted((b.folder / "autograder" / "tests").glob("*.py")))
    for where, text in texts.items():
        student_lines = {line.strip() for line in text.splitlines()}
        leaked = sorted(secret & student_lines)
        assert not leaked, f"{name}: {where} shows solution or hidden-test lines: {leaked[:3]}"
        assert "hidden=True" not in text and "BEGIN SOLUTION" not in text
    hidden = re.findall(r"hidden=True\)\ndef (\w+)", autograder_tests)
    assert hidden, f"{name} has no hidden test"
    for test in hidden:
        assert all(test not in text for text in texts.values()), f"{name}: {test} is visible"


@pytest.mark.parametrize("name", NAMES)
def test_the_published_student_copy_is_the_one_the_master_builds(name, built):
    b = built[1][name]
    published = ROOT / "assignments" / name / "student"
    fresh = student_view(b.student_notebook)
    committed = json.loads((published / f"{name}.ipynb").read_text())
    assert [(c.cell_type, c.source, dict(c.metadata)) for c in fresh.cells] == [
        (c["cell_type"], "".join(c["source"]), c["metadata"]) for c in committed["cells"]
    ], f"assignments/{name}/student/ is stale: run python3 dev.py assignments"
    built_tests = {p.name: p.read_text() for p in b.student_tests.glob("*.py")}
    committed_tests = {p.name: p.read_text() for p in (published / "tests").glob("*.py")}
    assert built_tests == committed_tests, f"assignments/{name}/student/tests/ is stale"


@pytest.mark.parametrize("name", NAMES)
def test_colab_fetches_every_public_test_and_questions_mix_code_and_writing(name, built):
    b = built[1][name]
    setup = next(c for c in json.loads(b.student_notebook.read_text())["cells"]
                 if c["cell_type"] == "code")
    match = re.search(r'fetch_public_tests\("(\w+)", \[([^\]]*)\]\)', "".join(setup["source"]))
    assert match and match.group(1) == name, "the first cell fetches this assignment's tests"
    fetched = sorted(re.findall(r'"(\w+)"', match.group(2)))
    assert fetched == sorted(p.stem for p in b.student_tests.glob("*.py"))
    assert fetched == sorted(q.name for q in _auto(b)), "every auto-graded question has a test"
    assert 3 <= len(b.questions) <= 6
    assert any(q.manual for q in b.questions) and _auto(b)


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_each_chapter_opens_its_assignment_in_colab(chapter):
    name = CHAPTERS[chapter]
    # The released student notebook: the tag the chapter's install cell installs, so that the
    # assignment and the package a student gets are the same version.
    from tools import location

    loc = location.read()
    link = f"{loc.colab(loc.tag)}assignments/{name}/student/{name}.ipynb"
    assert link in (ROOT / "book" / f"{chapter}.md").read_text()
    assert name in NAMES


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_each_chapter_s_exercises_are_numbered_and_labelled(chapter):
    text = (ROOT / "book" / f"{chapter}.md").read_text()
    exercises = text[text.index("\n## Exercises\n"):]
    assert not re.search(r"^\d+\. ", exercises, flags=re.M), "a plain numbered list is left"
    blocks = re.findall(r"```\{exercise\}\n:label: ([\w-]+)\n", exercises)
    assert len(blocks) >= 5 and len(set(blocks)) == len(blocks)
    for label in re.findall(r"```\{solution\} ([\w-]+)\n:class: dropdown\n", exercises):
        assert label in blocks, f"a solution to {label}, which is not an exercise here"
