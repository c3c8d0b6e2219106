"""One place says where the project lives and which release readers get (tools/location.py).

``pyproject.toml``'s ``[project.urls] Repository`` and ``version`` are the only copies a person
edits; every install line, Colab link, public-test fetch and the book's launch buttons follow
them (``python3 dev.py relocate``). These tests fail on a stale copy, on an install line that
names a branch, and prove that one edit moves a fork's readers to the fork.
"""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import location  # noqa: E402

INSTALL = re.compile(r'%pip install --quiet "(dlgtut(?:\[([a-z,]+)\])?) @ git\+(\S+?)@(\S+?)"')


def _notebooks(root: Path) -> list[Path]:
    return ([p for p in sorted((root / "book").glob("*.md")) if "kernelspec" in p.read_text()]
            + sorted((root / "assignments").glob("*/*.md"))
            + sorted((root / "assignments").glob("*/student/*.ipynb")))


def test_every_copy_agrees_with_pyproject():
    stale = location.relocate(ROOT, write=False)
    assert stale == [], f"stale copies {[str(p.relative_to(ROOT)) for p in stale]}: run " \
                        "`python3 dev.py relocate`"


def test_every_notebook_installs_the_tagged_release_with_extras_that_exist():
    loc = location.read(ROOT)
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
                 ["optional-dependencies"])
    for path in _notebooks(ROOT):
        text = path.read_text().replace('\\"', '"')
        lines = INSTALL.findall(text)
        assert len(lines) == 1, f"{path.name}: {len(lines)} install lines"
        _, named, repo, ref = lines[0]
        assert (repo, ref) == (loc.repository, loc.tag), f"{path.name} installs {repo}@{ref}"
        assert set(filter(None, named.split(","))) <= extras, f"{path.name}: extras {named}"


def test_the_launch_buttons_open_the_published_colab_notebooks():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    loc = location.read(ROOT)
    assert config["repository"]["url"] == loc.repository
    assert config["repository"]["branch"] == loc.colab_branch
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


def _copy_tree(dst: Path) -> None:
    for rel in ("pyproject.toml", "_config.yml", "README.md", "CONTRIBUTING.md"):
        shutil.copy(ROOT / rel, dst / rel)
    shutil.copytree(ROOT / "book", dst / "book")
    shutil.copytree(ROOT / "assignments", dst / "assignments")
    shutil.copytree(ROOT / "flower_app", dst / "flower_app")


def test_one_edit_of_pyproject_moves_every_link_install_line_and_test_fetch(tmp_path):
    _copy_tree(tmp_path)
    before = location.read(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text()
    text = text.replace(f'Repository = "{before.repository}"',
                        'Repository = "https://github.com/a-fork/leaky-book"')
    text = re.sub(r'(?m)^version = ".*"$', 'version = "2.3.4"', text, count=1)
    text = re.sub(r'(?m)^name = "dlgtut"$', 'name = "leaky-book"', text, count=1)  # for PyPI
    pyproject.write_text(text)

    changed = location.relocate(tmp_path)
    assert changed and location.relocate(tmp_path, write=False) == []
    owner, name = before.owner_name
    for path in [tmp_path / "_config.yml", tmp_path / "CONTRIBUTING.md", *_notebooks(tmp_path),
                 tmp_path / "book" / "teaching.md"]:
        text = path.read_text()
        assert f"github.com/{owner}/{name}" not in text, path.name
        assert f"v{before.version}" not in text, path.name
        assert f"{owner}/{name}/blob" not in text and "/blob/main/" not in text, path.name
    for path in _notebooks(tmp_path):
        text = path.read_text()
        assert "git+https://github.com/a-fork/leaky-book@v2.3.4" in text, path.name
        assert re.search(r'"leaky-book(\[[\w,]+\])? @ git\+', text.replace('\\"', '"')), path.name
    teaching = (tmp_path / "book" / "teaching.md").read_text()
    assert "colab.research.google.com/github/a-fork/leaky-book/blob/v2.3.4/assignments/" \
        in teaching
    assert "git clone --branch v2.3.4 https://github.com/a-fork/leaky-book" in teaching
    config = yaml.safe_load((tmp_path / "_config.yml").read_text())
    assert config["repository"]["url"] == "https://github.com/a-fork/leaky-book"
    urls = tomllib.loads(pyproject.read_text())["project"]["urls"]
    assert urls["Documentation"] == "https://a-fork.github.io/leaky-book/"
    assert urls["Issues"] == "https://github.com/a-fork/leaky-book/issues"


@pytest.mark.parametrize("url", ["https://gitlab.com/a/b", "github.com/a/b", ""])
def test_a_repository_that_is_not_on_github_is_refused(tmp_path, url):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / "pyproject.toml"
    loc = location.read(ROOT)
    path.write_text(path.read_text().replace(f'Repository = "{loc.repository}"',
                                             f'Repository = "{url}"'))
    with pytest.raises(ValueError, match="must be https://github.com/<owner>/<name>"):
        location.read(tmp_path)
