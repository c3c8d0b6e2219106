"""fetch_public_tests: an assignment's public tests, downloaded beside a notebook opened alone."""

import pytest

from dlgtut.classroom import fetch_public_tests
from dlgtut.classroom.colab import ENV_URL, public_tests_url
from dlgtut.errors import ConfigError, DataError


@pytest.fixture()
def published(tmp_path):
    """A folder standing in for assignments/<name>/student/tests/ on GitHub."""
    src = tmp_path / "published"
    src.mkdir()
    (src / "q1.py").write_text("OK_FORMAT = False\nname = 'q1'\n")
    (src / "q3.py").write_text("OK_FORMAT = False\nname = 'q3'\n")
    return src


def test_each_question_is_fetched_into_tests(published, tmp_path):
    dest = tmp_path / "notebook" / "tests"
    paths = fetch_public_tests("demo", ["q1", "q3"], dest=dest, base_url=published.as_uri())
    assert [p.name for p in paths] == ["q1.py", "q3.py"]
    for p in paths:
        assert p.read_text() == (published / p.name).read_text()
    # Fetching again replaces the files (the published tests may have changed).
    (published / "q1.py").write_text("OK_FORMAT = False\nname = 'q1'  # new\n")
    fetch_public_tests("demo", ["q1"], dest=dest, base_url=published.as_uri() + "/")
    assert "# new" in (dest / "q1.py").read_text()


def test_a_test_that_is_not_there_is_one_line(published, tmp_path, refused):
    refused(DataError, "could not fetch the public test q2 of demo", fetch_public_tests,
            "demo", ["q1", "q2"], dest=tmp_path / "t", base_url=published.as_uri())


@pytest.mark.parametrize("assignment, questions, fragment", [
    ("../etc", ["q1"], "the assignment must be a name"),
    ("demo", ["q1/../../x"], "every question must be a name"),
    ("demo", [], "non-empty list"),
    ("demo", "q1", "non-empty list"),
])
def test_names_that_would_leave_the_folder_are_refused(assignment, questions, fragment,
                                                      tmp_path, refused):
    refused(ConfigError, fragment, fetch_public_tests, assignment, questions,
            dest=tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_by_default_the_release_tag_of_the_repository_in_the_metadata(monkeypatch):
    """The tests come from the tag of the installed version, never a branch, in the repository
    that pyproject.toml names (a fork's release fetches the fork's tests)."""
    import tomllib
    from pathlib import Path

    monkeypatch.delenv(ENV_URL, raising=False)
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    owner_name = project["urls"]["Repository"].removeprefix("https://github.com/")
    url = public_tests_url().format(assignment="membership_inference")
    assert url == (f"https://raw.githubusercontent.com/{owner_name}/v{project['version']}/"
                   "assignments/membership_inference/student/tests/")


def test_the_environment_can_point_elsewhere(published, tmp_path, monkeypatch):
    course = tmp_path / "course" / "demo"
    course.mkdir(parents=True)
    (course / "q1.py").write_text((published / "q1.py").read_text())
    monkeypatch.setenv(ENV_URL, course.parent.as_uri() + "/{assignment}/")
    paths = fetch_public_tests("demo", ["q1"], dest=tmp_path / "t")
    assert paths[0].read_text() == (published / "q1.py").read_text()
