"""The release files: the sdist and the wheel, built as a release builds them, or not at all.

:func:`build_dists` runs ``python -m build`` on a copy of the working tree (uncommitted files
included; virtual environments, build outputs, caches and ``*.egg-info`` left out): the sdist,
then the wheel from that sdist (which proves the sdist holds everything the wheel needs), each in
an isolated environment with the backend that ``pyproject.toml``'s ``[build-system]`` pins
(setuptools, fetched from the package index or pip's cache). Building from a copy writes nothing
into the repository, lets two builds run at once (tests on several pytest-xdist workers), and
keeps a stale ``dlgtut.egg-info/SOURCES.txt``, which setuptools reads back, out of the sdist.

A build that fails, or that prints a warning (a setuptools deprecation block, a file it would
leave out), raises :class:`BuildError` with the build's whole output: a warning today is a broken
release after the next setuptools. The release workflow (``.github/workflows/release.yml``) runs
this file, ``tests/test_release.py`` checks what it builds, and the reader check installs its
wheel.

    python3 tools/release.py [OUT_DIR]     # default dist/; prints the two paths

The environment variable ``PYTHONDONTWRITEBYTECODE`` is left out of the build's environment:
with it set, setuptools prints "byte-compiling is disabled, skipping" for every build, a remark
about the machine, not the project (no bytecode goes into the wheel either way). Only the
standard library and ``build`` are used, so that tools and tests can import this file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]

# A line that warns: setuptools' and distutils' "warning: ...", Python's "...Warning: ...", the
# "!!" frame and "#####" banner of setuptools' deprecation blocks, and a MANIFEST.in line that
# matched nothing (distutils logs "no previously-included directories found matching 'x'" at
# warning level without saying "warning"). File operations are not warnings, whatever the file
# is called (dlgtut/warnings.py would be copied, not warned about).
_WARNS = re.compile(r"warn|deprecat|^\s*!!\s*$|^\s*#{8,}|no (previously-included )?"
                    r"(files|directories) (found )?matching", re.IGNORECASE)
_FILE_OP = re.compile(r"^\s*(copying|adding|creating|hard linking|removing|writing|reading"
                      r"|running|making hard links|changing mode)\b")


# Not copied: anywhere in the tree, and at the top only (dlgtut/data/ is a package).
_SKIP = (".git", ".venv", "_build", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis",
         ".ipynb_checkpoints", ".jupyter_cache", "*.egg-info", "*.py[cod]")
_SKIP_AT_TOP = {"build", "dist", "out", "data", "shared"}


class BuildError(RuntimeError):
    """The build failed or warned; the message ends with its whole output."""


class Dists(NamedTuple):
    """What :func:`build` made, and what the build printed on the way."""

    sdist: Path
    wheel: Path
    output: str


def warnings_in(output: str) -> list[str]:
    """The lines of a build's output that warn (empty for a clean build).

    Example:
        >>> warnings_in("copying dlgtut/warnings.py -> build/lib/dlgtut\\nwarning: no files found")
        ['warning: no files found']
    """
    return [line for line in output.splitlines()
            if _WARNS.search(line) and not _FILE_OP.match(line)]


def build(out_dir: Path, *, root: Path = ROOT) -> Dists:
    """Build the sdist and the wheel of ``root`` into ``out_dir``; raise unless clean.

    Files of the same names already in ``out_dir`` are replaced; nothing else there is touched.
    """
    out_dir, root = Path(out_dir), Path(root).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    skip = shutil.ignore_patterns(*_SKIP)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=out_dir) as tmp:

        def ignore(folder: str, names: list[str]) -> set[str]:
            here = Path(folder).resolve()
            top = _SKIP_AT_TOP if here == root else set()
            mine = {n for n in names if here / n == Path(tmp).resolve()}  # out_dir in the tree
            return set(skip(folder, names)) | (top & set(names)) | mine

        source = Path(tmp) / "source"
        shutil.copytree(root, source, ignore=ignore, symlinks=True)
        result = subprocess.run(
            [sys.executable, "-m", "build", "--outdir", tmp, str(source)],
            cwd=source, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output = result.stdout
        if result.returncode != 0:
            raise BuildError(f"python -m build failed (exit {result.returncode}):\n{output}")
        warned = warnings_in(output)
        if warned:
            raise BuildError("python -m build warned:\n" + "\n".join(warned)
                             + f"\n\nits whole output:\n{output}")
        sdists = sorted(Path(tmp).glob("*.tar.gz"))
        wheels = sorted(Path(tmp).glob("*.whl"))
        if len(sdists) != 1 or len(wheels) != 1:
            raise BuildError(f"expected one sdist and one wheel, got {sdists + wheels}:\n{output}")
        made = []
        for path in (sdists[0], wheels[0]):
            target = out_dir / path.name
            target.unlink(missing_ok=True)
            made.append(Path(shutil.move(path, target)))
    return Dists(made[0], made[1], output)


def build_dists(out_dir: Path) -> tuple[Path, Path]:
    """Build the repository's sdist and wheel into ``out_dir``: ``(sdist, wheel)``.

    Raises :class:`BuildError`, with the build's output, when the build fails or warns.
    """
    dists = build(out_dir)
    return dists.sdist, dists.wheel


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "dist"
    try:
        sdist, wheel = build_dists(out)
    except BuildError as err:
        print(err, file=sys.stderr)
        return 1
    print(sdist)
    print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
