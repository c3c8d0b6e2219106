"""An assignment's public tests, fetched where the notebook runs without its folder (Colab).

Colab opens a student notebook straight from GitHub: the notebook arrives alone, without the
``tests/`` folder beside it that ``grader.check("q1")`` reads. The first cell of every
assignment therefore calls :func:`fetch_public_tests` when it runs in Colab, which downloads
the published public tests (``assignments/<name>/student/tests/<question>.py``) into
``tests/``. Only public tests are published there; the hidden ones live in the autograder.

They are fetched from the release the notebook installed: the tag ``v<version>`` of the
repository named in dlgtut's own metadata (``pyproject.toml``'s ``[project.urls] Repository``
and ``version``), so a fork's release fetches the fork's tests. ``DLGTUT_PUBLIC_TESTS_URL``
(``{assignment}`` filled in) points elsewhere, e.g. at a course's own copy.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from ..errors import ConfigError, DataError

__all__ = ["ENV_URL", "fetch_public_tests", "public_tests_url"]

ENV_URL = "DLGTUT_PUBLIC_TESTS_URL"
"""The environment variable that overrides where the public tests are fetched from."""

_NAME = re.compile(r"[A-Za-z0-9_-]+")
_GITHUB = re.compile(r"https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)/?$")
_TIMEOUT_S = 30.0


def public_tests_url() -> str:
    """Where the published public tests of an assignment are, ``{assignment}`` to fill in.

    ``$DLGTUT_PUBLIC_TESTS_URL`` if set; else the assignment's ``student/tests/`` folder at the
    release tag of the installed dlgtut, in the repository its metadata names.

    Example:
        >>> public_tests_url().endswith("/assignments/{assignment}/student/tests/")
        True
    """
    override = os.environ.get(ENV_URL)
    if override:
        return override
    try:
        meta = metadata.metadata("dlgtut")
    except metadata.PackageNotFoundError:  # a fork's release under another name
        names = metadata.packages_distributions().get("dlgtut") or ["dlgtut"]
        meta = metadata.metadata(names[0])
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [] if ", " in u)
    match = _GITHUB.match(urls.get("Repository", ""))
    if not match:
        raise ConfigError("dlgtut's metadata names no GitHub repository (pyproject.toml's "
                          "[project.urls] Repository): pass base_url")
    owner, name = match.groups()
    return (f"https://raw.githubusercontent.com/{owner}/{name}/v{meta['Version']}/assignments/"
            "{assignment}/student/tests/")


def _name(value, what: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ConfigError(f"{what} must be a name of letters, digits, '-' or '_', got {value!r}")
    return value


def fetch_public_tests(
    assignment: str,
    questions: Sequence[str],
    *,
    dest: str | Path = "tests",
    base_url: str | None = None,
) -> list[Path]:
    """Download the public test file of each question into ``dest``.

    Args:
        assignment: the assignment's name, e.g. ``"gradient_leakage"``.
        questions: the names of its auto-graded questions, e.g. ``["q1", "q2"]``.
        dest: the folder ``otter.Notebook()`` reads (created if missing).
        base_url: where the test files are (default :func:`public_tests_url`: the installed
            release on GitHub); any URL ``urllib`` opens, ``file://`` included.

    Returns:
        The paths written, one per question.

    Raises:
        ConfigError: a name that is not a plain name (it would become part of a URL and a path).
        DataError: a test that cannot be downloaded (no network, a wrong name), in one line.

    Example:
        >>> import tempfile
        >>> src = Path(tempfile.mkdtemp())
        >>> _ = (src / "q1.py").write_text("OK_FORMAT = False")
        >>> out = fetch_public_tests("demo", ["q1"], dest=src / "got", base_url=src.as_uri())
        >>> out[0].read_text()
        'OK_FORMAT = False'
    """
    _name(assignment, "the assignment")
    if isinstance(questions, str) or not isinstance(questions, Sequence) or not questions:
        raise ConfigError(f"questions must be a non-empty list of names, got {questions!r}")
    names = [_name(q, "every question") for q in questions]
    base = (base_url or public_tests_url()).format(assignment=assignment)
    base = base if base.endswith("/") else base + "/"
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for q in names:
        url = f"{base}{q}.py"
        try:
            with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
                text = response.read().decode("utf-8")
        except (OSError, ValueError, urllib.error.URLError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise DataError(f"could not fetch the public test {q} of {assignment} from {url}: "
                            f"{str(reason).splitlines()[0] if str(reason) else type(exc).__name__}"
                            ) from None
        path = folder / f"{q}.py"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
