"""Run a chapter or an assignment's student notebook as a Colab reader would.

The notebook runs top to bottom in a fresh clone of the host (:mod:`.envs`), in a kernel of that
clone's Python whose start-up imports a stand-in ``google.colab``, so the first cell takes its
Colab branch and ``%pip install``s dlgtut itself, from the freshly built wheel instead of the
release tag (the one change made to any notebook), with the extras the cell names and pip
seeing the index as it was on the host's recorded day. Chapters run in quick mode
(``DLGTUT_QUICK=1``); ``dlgtut.chapter.check`` only warns there, as it does for readers, and the
warnings are reported. An assignment runs with the reference answers pasted into its code cells
and its public tests fetched from the built assignment; every ``grader.check`` must pass.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .envs import env_python

INSTALL = re.compile(r'(%pip install --quiet ")([\w.-]+(?:\[([a-z,]+)\])?) @ git\+\S+?@\S+?(")')
CHECK_WARNING = "ChapterCheckWarning"
STUB = '"""Stands in for Colab\'s module: the reader check takes the Colab branch."""\n'


class NotebookFailed(AssertionError):
    """A cell of a reader's notebook failed (the message names the notebook, cell and error)."""


def install_line(source: str) -> tuple[str, str]:
    """The requirement the first code cell installs in Colab and its extras ('' for none)."""
    found = INSTALL.findall(source)
    if len(found) != 1:
        raise NotebookFailed(f"the first code cell has {len(found)} dlgtut install lines, not 1")
    _, requirement, extras, _ = found[0]
    return requirement, extras


def with_wheel(source: str, wheel: Path) -> str:
    """The install cell with the wheel standing in for the tagged release (extras kept)."""
    new, n = INSTALL.subn(lambda m: f"{m.group(1)}{m.group(2)} @ {wheel.resolve().as_uri()}"
                                    f"{m.group(4)}", source)
    if n != 1:
        raise NotebookFailed(f"expected one dlgtut install line, found {n}")
    return new


def chapter(md: Path, wheel: Path) -> nbformat.NotebookNode:
    """A chapter's notebook (its code cells are those of the Colab notebook built from it)."""
    import jupytext

    nb = jupytext.read(md)
    first = next(c for c in nb.cells if c.cell_type == "code")
    first.source = with_wheel(first.source, wheel)
    return nb


_PLACEHOLDER = re.compile(r"^\s*(\.\.\.|.*= \.\.\.)\s*(#.*)?$")


def _first_line(source: str) -> str:
    return next((ln.strip() for ln in source.splitlines() if ln.strip()), "")


def with_answers(student: Path, solution: Path, wheel: Path) -> nbformat.NotebookNode:
    """The student notebook with each code cell that holds otter's ``...`` placeholders replaced
    by the reference answer: the solution notebook's cell in the same place (the two notebooks
    are aligned on the cells they share; the solution's markers are dropped)."""
    import difflib

    nb = nbformat.read(student, as_version=4)
    reference = nbformat.read(solution, as_version=4).cells
    matcher = difflib.SequenceMatcher(a=[(c.cell_type, c.source) for c in nb.cells],
                                      b=[(c.cell_type, c.source) for c in reference],
                                      autojunk=False)
    pasted = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        holes = [c for c in nb.cells[i1:i2] if c.cell_type == "code" and any(
            _PLACEHOLDER.match(ln) for ln in c.source.splitlines())]
        answers = [c for c in reference[j1:j2] if c.cell_type == "code"
                   and "SOLUTION" in c.source]
        if len(holes) != len(answers):
            raise NotebookFailed(f"{student.name}: {len(holes)} answer cell(s) near cell {i1} "
                                 f"but {len(answers)} reference answer(s)")
        for hole, answer in zip(holes, answers, strict=True):
            hole.source = "\n".join(ln for ln in answer.source.splitlines()
                                    if ln.strip() not in ("# BEGIN SOLUTION", "# END SOLUTION"))
            pasted += 1
    if not pasted:
        raise NotebookFailed(f"{student.name}: no answer cell found to paste into")
    first = next(c for c in nb.cells if c.cell_type == "code")
    first.source = with_wheel(first.source, wheel)
    return nb


@dataclass
class Run:
    """How a reader's notebook ran."""

    name: str
    seconds: float = 0.0
    cells: int = 0
    check_warnings: list[str] = field(default_factory=list)
    checks_passed: list[str] = field(default_factory=list)


def _kernel(env: Path, folder: Path, name: str, environment: dict[str, str]) -> str:
    """Write a kernelspec for ``env`` under ``folder/kernels/``; its name."""
    stub = folder / "stub" / "google" / "colab"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "__init__.py").write_text(STUB)
    spec = folder / "kernels" / name
    spec.mkdir(parents=True, exist_ok=True)
    path = f"{env / 'bin'}{os.pathsep}{environment.get('PATH', os.environ.get('PATH', ''))}"
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(env_python(env)), "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.exec_lines=import google.colab"],
        "display_name": f"reader {name}", "language": "python",
        "env": {**environment, "PYTHONPATH": str(folder / "stub"), "PATH": path,
                "VIRTUAL_ENV": str(env)},
    }, indent=1))
    return name


def run(nb: nbformat.NotebookNode, name: str, env: Path, workdir: Path, kernels: Path,
        environment: dict[str, str], *, cell_timeout: int = 900) -> Run:
    """Execute ``nb`` top to bottom in a kernel of ``env``; raise :class:`NotebookFailed`."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    from dlgtut.notebook_client import SteppedNotebookClient

    kernel = _kernel(env, kernels, re.sub(r"\W", "-", name), environment)
    workdir.mkdir(parents=True, exist_ok=True)
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(kernels)
    started = time.perf_counter()
    client = SteppedNotebookClient(nb, timeout=cell_timeout, kernel_name=kernel,
                                   resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        raise NotebookFailed(_describe(name, nb, exc)) from None
    finally:
        nbformat.write(nb, str(workdir / f"{name}.executed.ipynb"))  # what the reader saw
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old
    result = Run(name, time.perf_counter() - started, sum(c.cell_type == "code" for c in nb.cells))
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            for line in text.splitlines():
                if CHECK_WARNING in line:
                    result.check_warnings.append(line.split(": ", 2)[-1][:200])
    return result


def _describe(name: str, nb: nbformat.NotebookNode, exc: Exception) -> str:
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return (f"{name}: code cell {i + 1} of {len(code)} "
                        f"({_first_line(cell.source)[:70]!r}) raised {out['ename']}: "
                        f"{str(out['evalue']).splitlines()[0] if out['evalue'] else ''}")
    return f"{name}: {type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300]}"


def grader_checks(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Question -> what ``grader.check(question)`` displayed, for every such cell."""
    results = {}
    for cell in nb.cells:
        match = re.fullmatch(r'\s*grader\.check\("(\w+)"\)\s*', cell.source)
        if cell.cell_type != "code" or not match:
            continue
        shown = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            shown.append(data.get("text/plain") or data.get("text/html") or out.get("text", ""))
        results[match.group(1)] = "\n".join(shown)
    return results
