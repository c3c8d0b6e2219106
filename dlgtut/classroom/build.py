"""Build the assignments: a master notebook in, the student notebook and the autograder out.

An assignment lives in ``assignments/<name>/``: its master notebook ``<name>.md`` (a MyST
Markdown notebook, like the book's chapters) and anything else it needs beside it. The master
holds otter-grader's markers in raw cells (``# ASSIGNMENT CONFIG``, ``# BEGIN QUESTION``,
``# BEGIN SOLUTION``, ``# BEGIN TESTS``, a ``# HIDDEN`` first line for a hidden test).
:func:`build` converts it to ``.ipynb`` with jupytext and runs ``otter assign`` on it, which
writes::

    <out>/<name>/student/<name>.ipynb       questions without solutions, public tests only
    <out>/<name>/student/tests/q*.py
    <out>/<name>/autograder/<name>.ipynb    the solution
    <out>/<name>/autograder/<name>-autograder_<timestamp>.zip   every test, hidden ones too
    <out>/<name>/questions.json             every question: name, points, graded by hand or not

A hidden test draws its unseen data from the identifier ``GRADING_SEED``, which :func:`build`
replaces with the teacher's seed in the hidden tests only (:mod:`.seed`); the name anywhere else
in the master is refused, so the seed never reaches the student's notebook or public tests.
The seed used is recorded in ``<out>/<name>/autograder/grading_seed.json``.

The autograder zip is otter's Gradescope autograder (``run_autograder``, ``setup.sh``,
``environment.yml``, ``otter_config.json``, ``tests/``). Its environment installs, beside
otter-grader, the dlgtut release the master's set-up cell installs (``dlgtut @ git+<repository>
@v<version>``, with that line's extras but ``student``: the autograder has otter-grader 7), unless
the master's ``# ASSIGNMENT CONFIG`` names ``requirements`` of its own
(:func:`platform_requirements`).

Otter refusing (a malformed master, a test that does not parse, or with ``check`` a solution
that does not score full marks) raises :class:`BuildError` with otter's own words.
:func:`publish` copies the student notebook and its public tests to
``assignments/<name>/student/``, the copy that is committed and that Colab opens, with cell ids
fixed so that an unchanged assignment gives an unchanged file.

``python -m dlgtut.classroom.build`` (run by ``python3 dev.py assignments``) builds every
assignment found and publishes it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, DlgtutError
from . import seed as seeds

__all__ = [
    "BuildError",
    "Question",
    "Built",
    "find_masters",
    "read_questions",
    "build",
    "publish",
    "student_view",
    "platform_requirements",
    "main",
]

_NAME = re.compile(r"[A-Za-z0-9_]+")
# The set-up cell's install line: "dlgtut[student] @ git+https://github.com/<owner>/<name>@v0.1.0"
_INSTALL = re.compile(r"""\bdlgtut(?:\[([A-Za-z0-9_,\s-]*)\])?\s*@\s*(git\+https://[^\s"']+)""")


class BuildError(DlgtutError, RuntimeError):
    """Otter refused to build an assignment (its message is kept)."""


@dataclass(frozen=True)
class Question:
    """One question of an assignment.

    Attributes:
        name: otter's name of the question (``q1``, ...), a column of the grades CSV.
        points: what the question is worth.
        manual: True for a written answer graded by hand; False for an auto-graded one.
    """

    name: str
    points: float
    manual: bool


@dataclass(frozen=True)
class Built:
    """Where :func:`build` put an assignment's files."""

    name: str
    folder: Path
    student_notebook: Path
    student_tests: Path
    autograder_notebook: Path
    autograder_zip: Path
    questions: tuple[Question, ...]


def find_masters(root: str | Path) -> list[Path]:
    """Every ``<root>/<name>/<name>.md``, sorted by name.

    Raises:
        ConfigError: ``root`` is not a folder, or holds no assignment.
    """
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder of assignments")
    masters = sorted(p / f"{p.name}.md" for p in root.iterdir()
                     if p.is_dir() and (p / f"{p.name}.md").is_file())
    if not masters:
        raise ConfigError(f"no assignment in {root}: expected <name>/<name>.md")
    return masters


def _raw_config(source: str, marker: str) -> dict | None:
    """The YAML under ``marker`` in a raw cell's source, or None if the cell is not one."""
    import yaml

    lines = source.strip().splitlines()
    if not lines or lines[0].strip().upper() != marker:
        return None
    config = yaml.safe_load("\n".join(lines[1:])) or {}
    if not isinstance(config, dict):
        raise BuildError(f"the {marker} cell must hold YAML settings, got {source!r}")
    return config


def read_questions(notebook) -> tuple[Question, ...]:
    """The questions of a master notebook (an ``nbformat`` notebook), in order."""
    questions = []
    for cell in notebook.cells:
        if cell.cell_type != "raw":
            continue
        config = _raw_config(cell.source, "# BEGIN QUESTION")
        if config is None:
            continue
        name = config.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise BuildError(f"a question needs a name of letters, digits and '_', got {name!r}")
        points = config.get("points", 1)
        if isinstance(points, list):
            points = sum(points)
        questions.append(Question(name, float(points), bool(config.get("manual", False))))
    names = [q.name for q in questions]
    if len(set(names)) != len(names):
        raise BuildError(f"question names repeat: {names}")
    return tuple(questions)


def _master_notebook(master: Path):
    """The master ``.md`` read as a notebook, its assignment name checked."""
    import jupytext

    notebook = jupytext.read(master)
    config = None
    for cell in notebook.cells:
        if cell.cell_type == "raw":
            config = _raw_config(cell.source, "# ASSIGNMENT CONFIG")
            if config is not None:
                break
    if config is None:
        raise BuildError(f"{master}: no raw cell '# ASSIGNMENT CONFIG'")
    if config.get("name") != master.stem:
        raise BuildError(f"{master}: the assignment's name must be {master.stem!r} (its file "
                         f"name), got {config.get('name')!r}")
    return notebook


def _seed_hidden_tests(notebook, seed: int, master: Path) -> int:
    """Write ``seed`` for ``GRADING_SEED`` in the hidden test cells; return how many use it.

    Raises:
        BuildError: ``GRADING_SEED`` outside a hidden test (it would reach the students, or
            stay an undefined name).
    """
    in_tests, seeded = False, 0
    for i, cell in enumerate(notebook.cells):
        first = (cell.source.strip().splitlines() or [""])[0].strip().upper()
        if cell.cell_type == "raw" and first in ("# BEGIN TESTS", "# END TESTS"):
            in_tests = first == "# BEGIN TESTS"
            continue
        if not seeds.uses_seed(cell.source):
            continue
        if not (in_tests and cell.cell_type == "code" and first == "# HIDDEN"):
            raise BuildError(f"{master.name}, cell {i}: {seeds.NAME} may only appear in a "
                             "hidden test (a test cell whose first line is # HIDDEN)")
        cell.source = seeds.substitute(cell.source, seed)
        seeded += 1
    return seeded


def platform_requirements(notebook) -> list[str]:
    """What the autograder's environment installs besides otter-grader: the master's dlgtut.

    Read from the install line of the master's set-up cell (the release the book points to),
    with its extras but ``student`` (otter-grader 5, for Colab; the autograder runs otter 7).

    A master that never imports dlgtut needs nothing more (an empty list).

    Raises:
        BuildError: the master imports dlgtut but no code cell installs
            ``dlgtut @ git+https://...``.
    """
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        found = _INSTALL.search(cell.source)
        if found:
            extras = [e.strip() for e in (found.group(1) or "").split(",")
                      if e.strip() and e.strip() != "student"]
            return [f"dlgtut{'[' + ','.join(extras) + ']' if extras else ''} @ {found.group(2)}"]
    if not any(re.search(r"^\s*(from|import)\s+dlgtut\b", cell.source, re.M)
               for cell in notebook.cells):
        return []
    raise BuildError("no set-up cell installs 'dlgtut @ git+https://...': the autograder would "
                     "not know which dlgtut to install")


def _with_requirements(notebook, source: Path) -> None:
    """Write the platform's requirements.txt into ``source`` and name it in the config cell,
    unless the master's config names requirements of its own."""
    for cell in notebook.cells:
        if cell.cell_type == "raw":
            config = _raw_config(cell.source, "# ASSIGNMENT CONFIG")
            if config is None:
                continue
            needs = platform_requirements(notebook)
            if "requirements" not in config and needs:
                (source / "requirements.txt").write_text("\n".join(needs) + "\n")
                cell.source = cell.source.rstrip() + "\nrequirements: requirements.txt\n"
            return


def _tail(text: str, lines: int = 12) -> str:
    kept = [line for line in text.strip().splitlines() if "WARNING | Kernel is running" not in line]
    return "\n".join(kept[-lines:])


def build(master: str | Path, out: str | Path, *, check: bool = False,
          grading_seed: int = seeds.PUBLIC_SEED, seed_source: str = "public default") -> Built:
    """Build one assignment into ``<out>/<name>/`` (replacing an earlier build there).

    Args:
        master: the master notebook ``assignments/<name>/<name>.md``.
        out: the build folder (``_build/assignments``).
        check: let otter run the solution against every test and refuse unless it scores full
            marks (the time of a whole run of the solution); off, only the files are made.
        grading_seed: the teacher's seed, written for ``GRADING_SEED`` in the hidden tests.
        seed_source: where the seed came from, for the record beside the autograder.

    Raises:
        BuildError: otter refused, or did not write what it should have.
        ConfigError: ``master`` is not ``<name>/<name>.md``.
    """
    import nbformat

    master = Path(master).resolve()
    name = master.stem
    if master.suffix != ".md" or master.parent.name != name or not master.is_file():
        raise ConfigError(f"a master notebook is assignments/<name>/<name>.md, got {master}")
    if not _NAME.fullmatch(name):
        raise ConfigError(f"an assignment's name is letters, digits and '_', got {name!r}")
    notebook = _master_notebook(master)
    questions = read_questions(notebook)
    grading_seed = seeds.parse_seed(grading_seed)
    seeded = _seed_hidden_tests(notebook, grading_seed, master)
    folder = Path(out).resolve() / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"dlgtut-assign-{name}-") as tmp:
        source = Path(tmp) / name
        # Files beside the master (data, helpers) go along: otter resolves them from there.
        shutil.copytree(master.parent, source,
                        ignore=shutil.ignore_patterns("student", "*.md", "__pycache__"))
        _with_requirements(notebook, source)
        nbformat.write(notebook, source / f"{name}.ipynb")
        cmd = [sys.executable, "-m", "otter", "assign", str(source / f"{name}.ipynb"),
               str(folder)]
        if not check:
            cmd.append("--no-run-tests")
        done = subprocess.run(cmd, cwd=source, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"otter assign refused {name}:\n{_tail(done.stdout + done.stderr)}")
    student = folder / "student" / f"{name}.ipynb"
    zips = sorted((folder / "autograder").glob(f"{name}-autograder_*.zip"))
    if not student.is_file() or len(zips) != 1:
        raise BuildError(f"otter assign did not write the student notebook and one autograder "
                         f"zip for {name}:\n{_tail(done.stdout + done.stderr)}")
    seeds.write_record(folder / "autograder", grading_seed, seed_source, seeded)
    (folder / "questions.json").write_text(json.dumps(
        [{"name": q.name, "points": q.points, "manual": q.manual} for q in questions],
        indent=2) + "\n")
    return Built(name, folder, student, folder / "student" / "tests",
                 folder / "autograder" / f"{name}.ipynb", zips[0], questions)


def student_view(notebook_path: str | Path):
    """A student notebook as it is published: cell ids fixed, no outputs.

    ``otter assign`` draws fresh cell ids on every build; the published copy numbers them, so
    that building an unchanged master changes nothing in git.
    """
    import nbformat

    nb = nbformat.read(notebook_path, as_version=4)
    name = Path(notebook_path).stem
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name[:40]}-{i:03d}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def publish(built: Built, dest: str | Path) -> Path:
    """Copy the student notebook and its public tests to ``dest`` (replacing what was there).

    Returns:
        The published notebook's path, ``dest/<name>.ipynb``.
    """
    import nbformat

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(dest / "tests", ignore_errors=True)
    shutil.copytree(built.student_tests, dest / "tests")
    path = dest / f"{built.name}.ipynb"
    nbformat.write(student_view(built.student_notebook), path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dlgtut.classroom.build``: build (and publish) every assignment."""
    parser = argparse.ArgumentParser(prog="python -m dlgtut.classroom.build",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("assignments", type=Path, help="the folder of assignments")
    parser.add_argument("out", type=Path, help="the build folder (e.g. _build/assignments)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="build only these")
    parser.add_argument("--check", action="store_true",
                        help="run each solution against every test; refuse unless full marks")
    parser.add_argument("--grading-seed", metavar="N",
                        help=f"the teacher's seed for the hidden tests' data (0 <= N < 2**31; "
                        f"default: ${seeds.ENV}, else the public {seeds.PUBLIC_SEED})")
    parser.add_argument("--no-publish", action="store_true",
                        help="do not refresh assignments/<name>/student/")
    args = parser.parse_args(argv)
    try:
        grading_seed, source = seeds.resolve_seed(args.grading_seed)
        if source == "public default":
            print(f"dlgtut assignments: no grading seed given (--grading-seed or "
                  f"{seeds.ENV}): the hidden tests use the public default {grading_seed}, which "
                  "anyone can read", file=sys.stderr, flush=True)
        masters = find_masters(args.assignments)
        if args.only:
            unknown = sorted(set(args.only) - {m.stem for m in masters})
            if unknown:
                raise ConfigError(f"no assignment named {', '.join(unknown)} in "
                                  f"{args.assignments}")
            masters = [m for m in masters if m.stem in args.only]
        for master in masters:
            started = time.perf_counter()
            built = build(master, args.out, check=args.check, grading_seed=grading_seed,
                          seed_source=source)
            where = built.folder
            if not args.no_publish:
                publish(built, master.parent / "student")
            auto = sum(not q.manual for q in built.questions)
            print(f"{built.name}: {len(built.questions)} questions ({auto} auto-graded), "
                  f"{'solution checked, ' if args.check else ''}"
                  f"{time.perf_counter() - started:.0f} s -> {where}", flush=True)
    except DlgtutError as err:
        print(f"dlgtut assignments: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
