"""Building an assignment: otter assign on the master, the questions, the published copy."""

import json
import shutil
import zipfile

import pytest

pytest.importorskip("otter", reason="building needs otter-grader: pip install dlgtut[assign]")

from dlgtut.classroom.build import (  # noqa: E402
    BuildError,
    Question,
    build,
    find_masters,
    main,
    publish,
    student_view,
)
from dlgtut.classroom.seed import parse_seed, read_record, resolve_seed, substitute  # noqa: E402
from dlgtut.errors import ConfigError  # noqa: E402

from .conftest import DEMO  # noqa: E402


def test_the_student_gets_questions_and_public_tests_the_autograder_everything(demo):
    _, b = demo
    assert b.questions == (Question("q1", 2.0, False), Question("q2", 1.0, True),
                           Question("q3", 1.0, False))
    student = "".join("".join(c["source"]) for c in
                      json.loads(b.student_notebook.read_text())["cells"])
    assert "def double(x):" in student and "2 * x" not in student and "3 * x" not in student
    assert "Because twice" not in student  # the written answer's solution
    assert sorted(p.name for p in b.student_tests.glob("*.py")) == ["q1.py", "q3.py"]
    assert "test_q1_other_values" not in (b.student_tests / "q1.py").read_text()
    with zipfile.ZipFile(b.autograder_zip) as zf:
        assert "test_q1_other_values" in zf.read("tests/q1.py").decode()
    assert "2 * x" in b.autograder_notebook.read_text()
    listed = json.loads((b.folder / "questions.json").read_text())
    assert [q["name"] for q in listed] == ["q1", "q2", "q3"] and listed[1]["manual"]


def test_the_published_copy_is_the_same_on_every_build(demo, tmp_path):
    _, b = demo
    first, second = student_view(b.student_notebook), student_view(b.student_notebook)
    assert first == second
    ids = [c["id"] for c in first.cells]
    assert len(set(ids)) == len(ids) and ids[0] == "demo-000"
    dest = tmp_path / "student"
    (dest / "tests").mkdir(parents=True)
    (dest / "tests" / "q9.py").write_text("a question that was removed")
    path = publish(b, dest)
    assert path == dest / "demo.ipynb"
    assert sorted(p.name for p in (dest / "tests").iterdir()) == ["q1.py", "q3.py"]


def _master(tmp_path, replace=None):
    folder = tmp_path / "assignments" / "demo"
    folder.mkdir(parents=True)
    text = DEMO.read_text()
    for old, new in (replace or {}).items():
        assert old in text
        text = text.replace(old, new)
    (folder / "demo.md").write_text(text)
    return folder / "demo.md"


def test_a_test_otter_cannot_read_stops_the_build_with_its_reason(tmp_path):
    master = _master(tmp_path, {"def test_q3_small(triple):\n    assert triple(2) == 6\n":
                                "x = 1\ny = 2\nz = 3\n"})
    with pytest.raises(BuildError, match="otter assign refused demo"):
        build(master, tmp_path / "out")


def test_with_check_a_wrong_solution_is_refused(tmp_path):
    master = _master(tmp_path, {"    return 3 * x\n": "    return 4 * x\n"})
    with pytest.raises(BuildError, match="(?s)otter assign refused demo.*q3"):
        build(master, tmp_path / "out", check=True)


def test_masters_are_found_by_their_folder_and_name(tmp_path, refused):
    refused(ConfigError, "no assignment in", find_masters, tmp_path)
    master = _master(tmp_path)
    (tmp_path / "assignments" / "notes").mkdir()  # not an assignment: no notes/notes.md
    assert find_masters(tmp_path / "assignments") == [master]
    renamed = master.parent.parent / "other" / "other.md"
    renamed.parent.mkdir()
    shutil.copy(master, renamed)
    with pytest.raises(BuildError, match="name must be 'other'"):
        build(renamed, tmp_path / "out")


def test_main_builds_publishes_and_reports(tmp_path, capsys):
    master = _master(tmp_path)
    assert main([str(master.parent.parent), str(tmp_path / "out")]) == 0
    assert "demo: 3 questions (2 auto-graded)" in capsys.readouterr().out
    assert (master.parent / "student" / "demo.ipynb").is_file()
    assert main([str(master.parent.parent), str(tmp_path / "out"), "--only", "nope"]) == 2
    assert "no assignment named nope" in capsys.readouterr().err


# The teacher's grading seed (dlgtut/classroom/seed.py): GRADING_SEED in a hidden test.
_SEEDED = {"    for v in (3, -7, 10.5):\n": "    for v in (3, -7, 10.5, GRADING_SEED % 1000):\n"}


def _files_text(folder):
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def test_the_seed_goes_into_the_hidden_tests_only_and_is_recorded(tmp_path):
    master = _master(tmp_path, _SEEDED)
    b = build(master, tmp_path / "out", grading_seed=1234567891, seed_source="--grading-seed")
    with zipfile.ZipFile(b.autograder_zip) as zf:
        tests = {n: zf.read(n).decode() for n in zf.namelist() if n.startswith("tests/")}
    assert "(3, -7, 10.5, 1234567891 % 1000)" in tests["tests/q1.py"]
    assert not any("GRADING_SEED" in t for t in tests.values())
    student = _files_text(b.folder / "student")
    assert "1234567891" not in student and "GRADING_SEED" not in student
    assert "test_q1_other_values" not in student  # the hidden test itself stays out too
    assert read_record(b.autograder_zip.parent) == {
        "grading_seed": 1234567891, "source": "--grading-seed", "hidden_tests_seeded": 1}
    # The published copy is the same whatever the seed: the seed cannot be read from it.
    other = build(master, tmp_path / "out2", grading_seed=7)
    assert student_view(other.student_notebook) == student_view(b.student_notebook)
    assert _files_text(other.student_tests) == _files_text(b.student_tests)


def test_the_seed_outside_a_hidden_test_stops_the_build(tmp_path):
    public = _master(tmp_path, {"    assert triple(2) == 6\n":
                                "    assert triple(GRADING_SEED) == 3 * GRADING_SEED\n"})
    with pytest.raises(BuildError, match="cell .*GRADING_SEED may only appear in a hidden"):
        build(public, tmp_path / "out")


@pytest.mark.parametrize("value", ["abc", "1.5", "-1", str(2 ** 31), "", "0x10", True, 2.0])
def test_a_seed_that_is_not_a_whole_number_below_2_31_is_refused(value):
    with pytest.raises(ConfigError, match="grading seed|whole number|below 2"):
        parse_seed(value)


def test_the_seed_comes_from_the_option_then_the_environment_then_the_public_default():
    env = {"DLGTUT_GRADING_SEED": " 42 "}
    assert resolve_seed("7", env) == (7, "--grading-seed")
    assert resolve_seed(None, env) == (42, "DLGTUT_GRADING_SEED")
    assert resolve_seed(None, {"DLGTUT_GRADING_SEED": ""}) == (0, "public default")
    with pytest.raises(ConfigError, match="DLGTUT_GRADING_SEED must be a whole number"):
        resolve_seed(None, {"DLGTUT_GRADING_SEED": "seven"})
    assert substitute("f(GRADING_SEED + 1, NOT_GRADING_SEED)", 5) == "f(5 + 1, NOT_GRADING_SEED)"


def test_main_says_when_the_seed_is_the_public_one_and_refuses_a_bad_one(tmp_path, capsys,
                                                                          monkeypatch):
    monkeypatch.delenv("DLGTUT_GRADING_SEED", raising=False)
    master = _master(tmp_path, _SEEDED)
    args = [str(master.parent.parent), str(tmp_path / "out"), "--no-publish"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "public default 0" in err and len(err.strip().splitlines()) == 1
    assert main([*args, "--grading-seed", "-3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("dlgtut assignments: error: --grading-seed must be at least 0 and below "
                   "2**31, got -3")
    monkeypatch.setenv("DLGTUT_GRADING_SEED", "99")
    assert main(args) == 0
    assert "public default" not in capsys.readouterr().err
    assert read_record(tmp_path / "out" / "demo" / "autograder")["grading_seed"] == 99
