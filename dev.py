#!/usr/bin/env python3
"""The project's two commands, runnable on a machine that has only python3.

    python3 dev.py book    # create .venv/ if needed, install everything, build the executed book
    python3 dev.py test    # create .venv/ if needed, lint, run the whole test suite
    python3 dev.py assignments   # the student notebooks and autograders of the assignments
    python3 dev.py relocate      # pyproject.toml's repository and version into every copy
    python3 dev.py colab         # the chapters as plain notebooks for Colab, from the built book
    python3 dev.py slides        # a reveal.js deck per chapter, from the built book

`book --cached` reuses the notebook execution cache (for authors); the default build clears it
and executes every notebook, because the cache only sees notebook code, not changes in dlgtut
(several chapters at a time, by tools/execute_book.py, before jupyter-book renders them).
`test --random-order` runs the tests in a random order (modules and the tests inside them).
`assignments` runs otter-grader's `otter assign` on every master notebook
`assignments/<name>/<name>.md` into `_build/assignments/<name>/` (`student/`, `autograder/`) and
refreshes the published student copy `assignments/<name>/student/`; `--check` also runs each
solution against all its tests and fails unless it scores full marks. `--grading-seed N` (or the
environment variable DLGTUT_GRADING_SEED) is the teacher's seed that the hidden tests draw their
data from (dlgtut/classroom/seed.py); without it they use a public default and the build says so.

`slides` (also run at the end of `book`) writes `_build/html/slides/<chapter>.slides.html` from
each executed chapter with nbconvert's reveal.js exporter (tools/slides.py).

`colab` converts each chapter's source into the notebook that the book's Colab buttons open
(tools/colab_notebooks.py): plain Markdown with the glued numbers, links and exercise
numbers of the built book, into `_build/colab/book/<chapter>.ipynb`; run it after `book`.

The environment is pinned: .venv/ gets exactly the versions in `constraints.txt`, the ones the
tests and the book were checked with, so a fresh clone does not drift with the day's releases.
`python3 dev.py lock` resolves the dependencies afresh in a throw-away environment and rewrites
`constraints.txt` (then run both commands and commit the file if they pass). pyproject.toml keeps
loose ranges for people who install dlgtut beside their own torch (Colab).
Only the standard library is used here: this file runs before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".dlgtut-installed"
BUILD = ROOT / "_build"
CONSTRAINTS = ROOT / "constraints.txt"
PIP = "pip==26.3"  # pip itself is pinned too: its resolver decides what gets installed


def _run(cmd: list[str | Path], **kwargs) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, **kwargs)
    if result.returncode != 0:
        sys.exit(result.returncode)


def _install_key() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _install(python: Path, constraints: Path | None) -> None:
    pin = [] if constraints is None else ["-c", constraints]
    _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", PIP])
    _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pin,
          "-e", ".[dev]"])


def ensure_venv() -> None:
    """Create .venv/ and install dlgtut with every extra at the pinned versions, unless done."""
    if not PYTHON.exists():
        _run([sys.executable, "-m", "venv", VENV])
    if STAMP.exists() and STAMP.read_text() == _install_key():
        return
    started = time.perf_counter()
    _install(PYTHON, CONSTRAINTS)
    STAMP.write_text(_install_key())
    print(f"dlgtut: environment ready in {time.perf_counter() - started:.0f} s", flush=True)


def lock() -> None:
    """Resolve every dependency afresh in a temporary venv and write the pins to constraints.txt."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dlgtut-lock-") as tmp:
        venv = Path(tmp) / "venv"
        _run([sys.executable, "-m", "venv", venv])
        python = venv / BIN.name / PYTHON.name
        _install(python, None)
        frozen = subprocess.run(
            [str(python), "-m", "pip", "freeze", "--exclude-editable",
             "--disable-pip-version-check"],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout
    pins = sorted(line for line in frozen.splitlines() if line and not line.startswith("#"))
    header = [
        "# Exact versions that `python3 dev.py setup/book/test` install (pip -c constraints.txt).",
        "# Written by `python3 dev.py lock`; run both README commands before committing a new one.",
        f"# Resolved with Python {sys.version.split()[0]} on {time.strftime('%Y-%m-%d')}.",
    ]
    CONSTRAINTS.write_text("\n".join(header + pins) + "\n")
    print(f"dlgtut: wrote {len(pins)} pins to {CONSTRAINTS.name}")


def book(cached: bool) -> None:
    ensure_venv()
    started = time.perf_counter()
    # The chapters' checks (dlgtut.chapter.check) stop the build when a result no longer holds;
    # in a reader's notebook they only warn.
    os.environ["DLGTUT_STRICT"] = "1"
    if not cached:
        shutil.rmtree(BUILD / ".jupyter_cache", ignore_errors=True)
        # The chapters, several at a time, into the cache the build then reads (see the script).
        book_dir = ROOT / "book"
        chapters = sorted(p for p in book_dir.glob("*.md") if "\nkernelspec:" in p.read_text())
        _run([PYTHON, ROOT / "tools" / "execute_book.py", BUILD / ".jupyter_cache", *chapters])
    # -W: Sphinx warnings are errors; --keep-going: report all of them, then fail.
    _run([BIN / "jupyter-book", "build", ROOT, "--all", "-W", "--keep-going"])
    slides()
    index = BUILD / "html" / "index.html"
    print(f"dlgtut: book built in {time.perf_counter() - started:.0f} s; open {index}")


def test(pytest_args: list[str], random_order: bool) -> None:
    ensure_venv()
    _run([PYTHON, "-m", "ruff", "check", "dlgtut", "tests", "benchmarks", "tools", "dev.py"])
    # Every core runs tests (pytest-xdist; each test runs on one torch thread, tests/conftest.py),
    # unless the caller chose a number or switched it off.
    given = " ".join(pytest_args)
    parallel = [] if ("-n" in pytest_args or "no:xdist" in given or "--numprocesses" in given
                      ) else ["-n", str(os.cpu_count() or 1), "--dist", "worksteal"]
    # A shuffled run names its seed to every worker (they must collect the same order).
    seed = int.from_bytes(os.urandom(3), "big")
    shuffle = [f"--random-order-seed={seed}"] if random_order else []
    _run([PYTHON, "-m", "pytest", *parallel, *shuffle, *pytest_args])


def assignments(check: bool, only: list[str], grading_seed: str | None = None) -> None:
    """Build every assignment (or ``only`` these) with otter assign; stop at the first refusal."""
    ensure_venv()
    started = time.perf_counter()
    cmd: list[str | Path] = [PYTHON, "-m", "dlgtut.classroom.build", ROOT / "assignments",
                             BUILD / "assignments"]
    if check:
        cmd.append("--check")
    if only:
        cmd += ["--only", *only]
    if grading_seed is not None:
        cmd += ["--grading-seed", grading_seed]
    _run(cmd)
    print(f"dlgtut: assignments built in {time.perf_counter() - started:.0f} s; student "
          f"notebooks and autograders in {BUILD / 'assignments'}", flush=True)


def colab() -> None:
    """The Colab notebooks of the chapters, from the book `book` built, into _build/colab/."""
    ensure_venv()
    index = BUILD / "html" / "book-index.json"
    if not index.is_file() or not (BUILD / "jupyter_execute").is_dir():
        sys.exit(f"dlgtut: the book has not been built ({os.path.relpath(index, ROOT)} or "
                 f"{os.path.relpath(BUILD / 'jupyter_execute', ROOT)} is missing): run "
                 "`python3 dev.py book` first")
    _run([PYTHON, ROOT / "tools" / "colab_notebooks.py", BUILD, BUILD / "colab"])


def slides() -> None:
    """A reveal.js deck per chapter, from the built book, into _build/html/slides/."""
    ensure_venv()
    if not (BUILD / "html" / "book-index.json").is_file():
        sys.exit("dlgtut: the book has not been built: run `python3 dev.py book` first")
    _run([PYTHON, ROOT / "tools" / "slides.py", BUILD])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_book = sub.add_parser("book", help="install into .venv/ and build the executed book")
    p_book.add_argument("--cached", action="store_true", help="reuse the execution cache")
    p_test = sub.add_parser("test", help="install into .venv/ and run lint and tests")
    p_test.add_argument("--random-order", action="store_true",
                        help="shuffle the modules and the tests in each (the seed is printed)")
    p_test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed on to pytest")
    p_assign = sub.add_parser("assignments", help="build the assignments' student notebooks "
                              "and autograders into _build/assignments/ (otter-grader)")
    p_assign.add_argument("--check", action="store_true",
                          help="also run each solution against its tests (full marks or fail)")
    p_assign.add_argument("--only", nargs="+", default=[], metavar="NAME",
                          help="build only these assignments")
    p_assign.add_argument("--grading-seed", metavar="N",
                          help="the teacher's seed for the hidden tests' data (0 <= N < 2**31); "
                          "default: $DLGTUT_GRADING_SEED, else a public one")
    sub.add_parser("relocate", help="write pyproject.toml's repository and version into every "
                   "install line, launch button, test fetch and link (tools/location.py)")
    sub.add_parser("colab", help="build the chapters' Colab notebooks from the built book into "
                   "_build/colab/ (run `book` first)")
    sub.add_parser("slides", help="build a reveal.js deck per chapter from the built book into "
                   "_build/html/slides/ (`book` does it too)")
    sub.add_parser("setup", help="only create .venv/ and install")
    sub.add_parser("lock", help="resolve the dependencies afresh and rewrite constraints.txt")
    args, unknown = parser.parse_known_args()
    if unknown and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "test":  # everything but our own option goes to pytest, in its order
        args.random_order = "--random-order" in sys.argv[2:]
        args.pytest_args = [a for a in sys.argv[2:] if a != "--random-order"]
    if args.command == "book":
        book(args.cached)
    elif args.command == "test":
        test(args.pytest_args, args.random_order)
    elif args.command == "assignments":
        assignments(args.check, args.only, args.grading_seed)
    elif args.command == "lock":
        lock()
    elif args.command == "colab":
        colab()
    elif args.command == "slides":
        slides()
    elif args.command == "relocate":
        _run([sys.executable, ROOT / "tools" / "location.py"])
    else:
        ensure_venv()


if __name__ == "__main__":
    main()
