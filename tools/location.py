"""Where the project lives and which release a reader gets: read once, from pyproject.toml.

``pyproject.toml`` holds the repository (``[project.urls] Repository``) and the version
(``[project] version``). Everything a reader follows is derived from those two:

* the install line of every chapter and assignment, ``dlgtut[extras] @ git+<repo>@v<version>``
  (the release tag, never a branch);
* the Colab links of the assignments (the student notebook at that tag) and the place their
  public tests are fetched from (``raw.githubusercontent.com/<owner>/<name>/v<version>/...``);
* the book's launch buttons (``_config.yml``'s ``repository``: the Colab notebooks are published
  to the branch ``[tool.dlgtut] colab-branch``) and the site (GitHub Pages of the repository,
  ``[project.urls] Documentation``).

:func:`relocate` rewrites every copy of these in the repository's text files to match, and
returns the files it changed; with ``write=False`` it only reports them (``tests/test_location.py``
fails on any). ``python3 dev.py relocate`` runs it. Only the standard library is used: dev.py
runs before anything is installed.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_GITHUB = re.compile(r"https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)/?$")
# Any copy, whichever repository and tag it names now (a fork's, an older release's).
_REPO = r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"
_TAG = r"v\d+(?:\.\d+)*(?:[a-z0-9.+-]*)"
_INSTALL = r"((?:dlgtut|{name})(?:\[([a-z,]+)\])?) @ git\+" + _REPO + r"(?:\.git)?(?:@[\w.+-]+)?"
_COLAB = re.compile(r"https://colab\.research\.google\.com/github/[A-Za-z0-9_.-]+/"
                    r"[A-Za-z0-9_.-]+/blob/[\w.+-]+/")
_RAW = re.compile(r"https://raw\.githubusercontent\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/"
                  r"[\w.+-]+/")
_CLONE = re.compile(r"git clone (?:--branch \S+ )?" + _REPO)
_PAGES = r"https://[A-Za-z0-9_-]+\.github\.io/(?:dlgtut|{name})/"  # the book's site, not others'


@dataclass(frozen=True)
class Location:
    """The repository and release that every reader-facing copy names."""

    repository: str  # https://github.com/<owner>/<name>
    version: str
    colab_branch: str = "colab"
    distribution: str = "dlgtut"  # [project] name: what pip installs (a fork may rename it)

    @property
    def owner_name(self) -> tuple[str, str]:
        match = _GITHUB.match(self.repository)
        if not match:
            raise ValueError("[project.urls] Repository must be https://github.com/<owner>/"
                             f"<name>, got {self.repository!r}")
        return match.group(1), match.group(2)

    @property
    def tag(self) -> str:
        return f"v{self.version}"

    @property
    def site(self) -> str:
        """The published book: GitHub Pages of the repository."""
        owner, name = self.owner_name
        return f"https://{owner.lower()}.github.io/{name}/"

    @property
    def issues(self) -> str:
        return f"{self.repository}/issues"

    def install(self, extras: str = "") -> str:
        """The requirement a notebook installs: the tagged release of this repository."""
        name = f"{self.distribution}[{extras}]" if extras else self.distribution
        return f"{name} @ git+{self.repository}@{self.tag}"

    def colab(self, ref: str) -> str:
        """Colab's address of the repository at ``ref`` (a tag or branch), ending in '/'."""
        owner, name = self.owner_name
        return f"https://colab.research.google.com/github/{owner}/{name}/blob/{ref}/"

    def raw(self, ref: str) -> str:
        """The raw files of the repository at ``ref``, ending in '/'."""
        owner, name = self.owner_name
        return f"https://raw.githubusercontent.com/{owner}/{name}/{ref}/"

    def clone(self) -> str:
        return f"git clone --branch {self.tag} {self.repository}"


def read(root: Path = ROOT) -> Location:
    """The location set in ``root/pyproject.toml``."""
    data = tomllib.loads((root / "pyproject.toml").read_text())
    project = data["project"]
    branch = data.get("tool", {}).get("dlgtut", {}).get("colab-branch", "colab")
    location = Location(project["urls"]["Repository"].rstrip("/"), project["version"], branch,
                        project["name"])
    location.owner_name  # noqa: B018 (validates the URL)
    return location


def _reader_files(root: Path) -> list[Path]:
    """The text files that name the location: sources readers open, and their built copies."""
    files = [root / "_config.yml", root / "README.md", root / "CONTRIBUTING.md",
             root / "pyproject.toml"]
    files += sorted((root / "book").glob("*.md"))
    files += sorted((root / "assignments").glob("*/*.md"))
    files += sorted((root / "assignments").glob("*/student/*.ipynb"))
    files += sorted((root / "flower_app").glob("*.md"))
    return [f for f in files if f.is_file()]


def _rewrite_text(text: str, loc: Location, path: Path) -> str:
    text = re.sub(_INSTALL.format(name=re.escape(loc.distribution)),
                  lambda m: loc.install(m.group(2) or ""), text)
    # Chapters open from the Colab branch; assignments (and anything else) from the tag.
    def colab(m: re.Match) -> str:
        after = text[m.end():m.end() + 5]
        return loc.colab(loc.colab_branch if after == "book/" else loc.tag)

    text = _COLAB.sub(colab, text)
    text = _RAW.sub(lambda m: loc.raw(loc.tag), text)
    text = _CLONE.sub(loc.clone(), text)
    text = re.sub(_PAGES.format(name=re.escape(loc.owner_name[1])), loc.site, text)
    if path.name == "_config.yml":
        text = re.sub(r"(?m)^(  url: ).*$", lambda m: m.group(1) + loc.repository, text, count=1)
        text = re.sub(r"(?m)^(  branch: ).*$", lambda m: m.group(1) + loc.colab_branch, text,
                      count=1)
    if path.name == "pyproject.toml":
        for key, value in (("Homepage", loc.site), ("Documentation", loc.site),
                           ("Issues", loc.issues)):
            text = re.sub(rf'(?m)^{key} = ".*"$', f'{key} = "{value}"', text, count=1)
    return text


def relocate(root: Path = ROOT, *, write: bool = True) -> list[Path]:
    """Make every copy of the location in ``root`` match pyproject.toml; the files that differed.

    With ``write=False`` nothing is written: the list says which files are stale.
    """
    loc = read(root)
    changed = []
    for path in _reader_files(root):
        text = path.read_text()
        new = _rewrite_text(text, loc, path)
        if path.suffix == ".ipynb" and new != text:
            json.loads(new)  # still a notebook
        if new != text:
            changed.append(path)
            if write:
                path.write_text(new)
    return changed


if __name__ == "__main__":
    import sys

    check = "--check" in sys.argv
    stale = relocate(write=not check)
    for path in stale:
        print(f"{'stale' if check else 'rewrote'}: {path.relative_to(ROOT)}")
    if check and stale:
        print("run `python3 dev.py relocate` to bring them in line with pyproject.toml")
    sys.exit(1 if check and stale else 0)
