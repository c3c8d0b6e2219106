"""One reader check: the wheel, the host, and a fresh clone of the host for each notebook.

Several test processes (pytest-xdist) share one :class:`Session` folder; the first to arrive
builds the wheel and the host under a file lock, the others wait and reuse them. The wheel is
rebuilt once per test run (``PYTEST_XDIST_TESTRUNUID``, else once per process); the host only
when ``host.txt`` changed.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat
from filelock import FileLock

from . import envs, notebooks
from .wheel import build_wheel

ROOT = Path(__file__).resolve().parents[2]
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex


def chapters() -> list[Path]:
    """The chapter sources a reader can open (MyST notebooks)."""
    return sorted(p for p in (ROOT / "book").glob("*.md") if "kernelspec:" in p.read_text())


def assignments() -> list[str]:
    return sorted(p.parent.parent.name for p in (ROOT / "assignments").glob("*/student/*.ipynb"))


@dataclass
class Session:
    folder: Path
    newest_torch: dict[str, str] | None = None  # {"torch": v, "torchvision": v} by hand

    def __post_init__(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        self.host = envs.read_host()

    @property
    def _lock(self) -> FileLock:
        return FileLock(str(self.folder / "lock"))

    def wheel(self) -> Path:
        """The wheel of this run (built by the first process to ask)."""
        folder = self.folder / "wheel"
        stamp = folder / ".run"
        with self._lock:
            if not (stamp.exists() and stamp.read_text() == _RUN and list(folder.glob("*.whl"))):
                build_wheel(folder)
                stamp.write_text(_RUN)
        return next(folder.glob("*.whl"))

    def host_env(self) -> Path:
        name = "host-newest" if self.newest_torch else "host"
        with self._lock:
            return envs.build_host(self.folder / name, self.host, replace=self.newest_torch)

    def clone(self, name: str) -> Path:
        """A fresh copy of the host for one notebook (a Colab runtime of its own)."""
        return envs.clone(self.host_env(), self.folder / "envs" / name)

    def environment(self, **extra: str) -> dict[str, str]:
        """What a reader's kernel sees besides the host: quick mode, offline data, the index's
        recorded day. DLGTUT_STRICT stays unset: a reader's checks only warn."""
        env = {k: v for k, v in envs.reader_env(self.host, newest=bool(self.newest_torch)).items()
               if k.startswith("PIP_")}
        return {"DLGTUT_QUICK": "1", "DLGTUT_OFFLINE": "1", **env, **extra}

    def workdir(self, name: str) -> Path:
        path = self.folder / "work" / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def run_chapter(self, md: Path) -> notebooks.Run:
        name = f"book-{md.stem}"
        nb = notebooks.chapter(md, self.wheel())
        try:
            return notebooks.run(nb, md.stem, self.clone(name), self.workdir(name),
                                 self.folder / "kernels", self.environment())
        finally:
            self.discard(name)

    def run_cells(self, name: str, install_cell: str, cells: list[str]) -> nbformat.NotebookNode:
        """A notebook of ``cells`` after ``install_cell`` (a chapter's first cell), executed
        like a chapter; the executed notebook, to inspect its outputs."""
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
            notebooks.with_wheel(install_cell, self.wheel()))] + [
            nbformat.v4.new_code_cell(src) for src in cells])
        env = f"cells-{name}"
        try:
            notebooks.run(nb, name, self.clone(env), self.workdir(env), self.folder / "kernels",
                          self.environment())
        finally:
            self.discard(env)
        return nb

    def run_assignment(self, name: str, built) -> tuple[notebooks.Run, dict[str, str]]:
        """The published student notebook with the reference answers, tests from ``built``."""
        student = ROOT / "assignments" / name / "student" / f"{name}.ipynb"
        nb = notebooks.with_answers(student, built.autograder_notebook, self.wheel())
        tests_url = built.student_tests.parent.parent.parent.as_uri() + \
            "/{assignment}/student/tests/"
        env = f"assignment-{name}"
        try:
            result = notebooks.run(nb, name, self.clone(env), self.workdir(env),
                                   self.folder / "kernels",
                                   self.environment(DLGTUT_PUBLIC_TESTS_URL=tests_url))
        finally:
            self.discard(env)
        return result, notebooks.grader_checks(nb)

    def discard(self, name: str) -> None:
        """Remove a notebook's clone (the host and the executed notebook in work/ stay)."""
        shutil.rmtree(self.folder / "envs" / name, ignore_errors=True)
