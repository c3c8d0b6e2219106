"""The learning-platform route: every assignment's autograder zip is a Gradescope autograder.

``python3 dev.py assignments`` writes otter-grader's Gradescope autograder zip; this checks what
is in it for every master in ``assignments/`` (built without running the solution: a few
seconds each). It cannot run the zip: that needs Gradescope's image (Ubuntu, conda, network).
"""

from __future__ import annotations

import json
import re
import tomllib
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("otter", reason="building needs otter-grader: pip install dlgtut[assign]")
yaml = pytest.importorskip("yaml")

from dlgtut.classroom.build import BuildError, build, find_masters, platform_requirements  # noqa: E402
from dlgtut.classroom.seed import read_record  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MASTERS = find_masters(ROOT / "assignments")
SEED = 1234567891  # a seed that no master or test names by chance


def _release() -> str:
    """The dlgtut the book points to: ``git+<Repository>@v<version>`` from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return f"git+{project['urls']['Repository']}@v{project['version']}"


@pytest.fixture(scope="module", params=MASTERS, ids=[m.stem for m in MASTERS])
def built(request, tmp_path_factory):
    import jupytext

    out = tmp_path_factory.mktemp(f"platform-{request.param.stem}")
    return jupytext.read(request.param), build(request.param, out, grading_seed=SEED,
                                               seed_source="--grading-seed")


def test_the_zip_holds_what_gradescope_runs(built):
    _, b = built
    with zipfile.ZipFile(b.autograder_zip) as zf:
        names = set(zf.namelist())
        assert {"run_autograder", "run_otter.py", "setup.sh", "environment.yml",
                "otter_config.json"} <= names
        assert "otter" in zf.read("run_autograder").decode()
        assert "mamba env create" in zf.read("setup.sh").decode()
        config = json.loads(zf.read("otter_config.json"))
        environment = yaml.safe_load(zf.read("environment.yml"))
    assert config["assignment_name"] == b.name
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert "otter-grader[grading,plugins]==7.0.0" in pip  # the version dlgtut[assign] pins
    # otter 7 puts the assignment's requirements.txt into the environment's pip list.
    ours = [p for p in pip if p.startswith("dlgtut")]
    assert len(ours) == 1 and ours[0].endswith(f" @ {_release()}"), pip
    assert "student" not in ours[0]  # otter-grader 5 for Colab would clash with otter 7


def test_every_auto_graded_question_has_its_hidden_tests_seeded(built):
    notebook, b = built
    hidden = [c.source for c in notebook.cells
              if c.cell_type == "code" and c.source.lstrip().startswith("# HIDDEN")]
    unseeded = [re.search(r"def (\w+)", s).group(1) for s in hidden if "GRADING_SEED" not in s]
    assert not unseeded, f"hidden tests that name their data instead of using GRADING_SEED: " \
                         f"{unseeded} (CONTRIBUTING.md, 'Adding an assignment')"
    with zipfile.ZipFile(b.autograder_zip) as zf:
        tests = {n: zf.read(n).decode() for n in zf.namelist() if n.startswith("tests/")}
        everything = "".join(zf.read(n).decode(errors="replace") for n in zf.namelist())
    for q in b.questions:
        if q.manual:
            continue
        text = tests.get(f"tests/{q.name}.py")
        assert text is not None, f"no tests for {q.name} in the zip"
        assert "hidden=True" in text, f"{q.name} has no hidden test in the zip"
        assert str(SEED) in text, f"{q.name}'s hidden tests do not use the teacher's seed"
    assert "GRADING_SEED" not in everything
    record = read_record(b.autograder_zip.parent)
    assert record["grading_seed"] == SEED and record["hidden_tests_seeded"] == len(hidden)


def test_neither_the_seed_nor_a_hidden_test_reaches_the_student(built):
    notebook, b = built
    student = "".join(p.read_text(errors="replace")
                      for p in (b.folder / "student").rglob("*") if p.is_file())
    assert str(SEED) not in student and "GRADING_SEED" not in student
    assert "hidden=True" not in student


def test_the_requirement_comes_from_the_set_up_cell():
    import nbformat

    def nb(*sources):
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])

    line = '%pip install "dlgtut[student,flower] @ git+https://github.com/a/b@v1.2"'
    assert platform_requirements(nb(line, "import dlgtut")) == [
        "dlgtut[flower] @ git+https://github.com/a/b@v1.2"]
    assert platform_requirements(nb('%pip install "dlgtut[student] @ git+https://x.org/y@v3"')
                                 ) == ["dlgtut @ git+https://x.org/y@v3"]
    assert platform_requirements(nb("import otter")) == []  # no dlgtut, nothing to install
    with pytest.raises(BuildError, match="no set-up cell installs"):
        platform_requirements(nb("from dlgtut.data import load_dataset"))
