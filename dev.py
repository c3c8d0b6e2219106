#!/usr/bin/env python3
"""The project's two commands, runnable on a machine that has only python3.

    python3 dev.py book    # create .venv/ if needed, install everything, build the executed book
    python3 dev.py test    # create .venv/ if needed, lint, run the whole test suite

`book --cached` reuses the notebook execution cache (for authors); the default build clears it
and executes every notebook, because the cache only sees notebook code, not changes in dlgtut.
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


def _run(cmd: list[str | Path], **kwargs) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, **kwargs)
    if result.returncode != 0:
        sys.exit(result.returncode)


def _install_key() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> None:
    """Create .venv/ and install dlgtut with every extra, unless that is already done."""
    if not PYTHON.exists():
        _run([sys.executable, "-m", "venv", VENV])
    if STAMP.exists() and STAMP.read_text() == _install_key():
        return
    started = time.perf_counter()
    _run([PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    _run([PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[dev]"])
    STAMP.write_text(_install_key())
    print(f"dlgtut: environment ready in {time.perf_counter() - started:.0f} s", flush=True)


def book(cached: bool) -> None:
    ensure_venv()
    if not cached:
        shutil.rmtree(BUILD / ".jupyter_cache", ignore_errors=True)
    started = time.perf_counter()
    # -W: Sphinx warnings are errors; --keep-going: report all of them, then fail.
    _run([BIN / "jupyter-book", "build", ROOT, "--all", "-W", "--keep-going"])
    index = BUILD / "html" / "index.html"
    print(f"dlgtut: book built in {time.perf_counter() - started:.0f} s; open {index}")


def test(pytest_args: list[str]) -> None:
    ensure_venv()
    _run([PYTHON, "-m", "ruff", "check", "dlgtut", "tests", "benchmarks", "dev.py"])
    _run([PYTHON, "-m", "pytest", *pytest_args])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_book = sub.add_parser("book", help="install into .venv/ and build the executed book")
    p_book.add_argument("--cached", action="store_true", help="reuse the execution cache")
    p_test = sub.add_parser("test", help="install into .venv/ and run lint and tests")
    p_test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed on to pytest")
    sub.add_parser("setup", help="only create .venv/ and install")
    args = parser.parse_args()
    if args.command == "book":
        book(args.cached)
    elif args.command == "test":
        test(args.pytest_args)
    else:
        ensure_venv()


if __name__ == "__main__":
    main()
