"""Grade a class: a folder of submitted notebooks in, one CSV out, one row per student.

The autograder of an assignment is the zip that ``python3 dev.py assignments`` writes
(:func:`find_autograder`). Every submission is graded by otter-grader in a process of its own
(:mod:`.worker`), without Docker and **without a sandbox**: the students' code runs with the
grader's permissions. Each process has a time limit; past it the process and everything it
started (the notebook's kernel, anything the student's code launched) are killed, and the
submission scores zero with the reason. Each cell also has its own limit: a cell that runs past
it is interrupted and the notebook goes on, so a loop in one question costs that question only.

A submission that is not a notebook, that cannot be read, that crashes the grader or that runs
out of time scores 0 on every question and says why in the CSV; it never stops the others. One
whose result holds a score the assignment cannot give, or comes from tests other than the
autograder's, is ``flagged`` and scores 0 too (:func:`.tamper.checked_scores`,
:func:`.tamper.checked_tests`): the grading process's result was tampered with. One whose code
rebinds what the tests or the grader call, or cannot be checked, is ``flagged`` with 0 on the
questions that touches and each finding in the reason (:mod:`.tamper`, run here on the very
bytes the worker grades, before any kernel starts); its other questions keep their points.
Written answers are graded by hand: their columns are left empty for the instructor.

The CSV (:func:`write_csv`) has the columns ``student, file, <every question>, total,
possible, status, reason``; ``total`` and ``possible`` count the auto-graded questions.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ConfigError
from ..processes import descendants
from . import tamper
from .tamper import checked_scores, checked_tests

__all__ = [
    "Autograder",
    "Grade",
    "find_autograder",
    "built_assignments",
    "find_submissions",
    "grade_submissions",
    "write_csv",
    "is_grades_csv",
    "HEADER_START",
    "HEADER_END",
]

HEADER_START = ("student", "file")
HEADER_END = ("total", "possible", "status", "reason")
NOTEBOOK_SUFFIXES = (".ipynb", ".zip")  # a notebook, or the zip otter's export cell makes


@dataclass(frozen=True)
class Autograder:
    """An assignment's autograder and its questions.

    Attributes:
        name: the assignment.
        zip: otter's autograder zip (every test, hidden ones included).
        questions: every question in order, ``(name, points, manual)``.
    """

    name: str
    zip: Path
    questions: tuple[tuple[str, float, bool], ...]

    @property
    def auto(self) -> tuple[str, ...]:
        """The auto-graded questions' names."""
        return tuple(q for q, _, manual in self.questions if not manual)

    @property
    def possible(self) -> float:
        """Points of the auto-graded questions."""
        return sum(p for _, p, manual in self.questions if not manual)


@dataclass(frozen=True)
class Grade:
    """One submission's result.

    Attributes:
        student: the file's name without its suffix.
        file: the file's name.
        scores: auto-graded question -> points (0 for every question of a failed submission).
        status: ``"graded"``, ``"failed"`` (not a notebook, unreadable, crashed, timed out)
            or ``"flagged"`` (graded, but its result was impossible or came from other tests,
            or its code rebinds what the tests call: :mod:`.tamper`; the reason says which).
        reason: why it failed (empty when graded).
        seconds: wall-clock time of its grading.
    """

    student: str
    file: str
    scores: dict[str, float]
    status: str
    reason: str = ""
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.scores.values())


def built_assignments(build_dir: str | Path) -> list[str]:
    """The assignments that have an autograder in ``build_dir``."""
    root = Path(build_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and any((p / "autograder").glob(f"{p.name}-autograder_*.zip")))


def find_autograder(name: str, build_dir: str | Path) -> Autograder:
    """The autograder that ``python3 dev.py assignments`` built for ``name`` in ``build_dir``.

    The questions come from the build's ``questions.json``; without it, from the autograder's
    test files (auto-graded questions only).

    Raises:
        ConfigError: no autograder for ``name`` (the message lists those there are).
    """
    folder = Path(build_dir) / str(name)
    zips = sorted((folder / "autograder").glob(f"{name}-autograder_*.zip"))
    if not zips:
        there = built_assignments(build_dir)
        listed = f"built there: {', '.join(there)}" if there else "none is built there"
        raise ConfigError(f"no autograder for assignment {name!r} in {build_dir} ({listed}); "
                          "run python3 dev.py assignments")
    zip_path = zips[-1]  # the newest: the timestamp in the name sorts
    questions: list[tuple[str, float, bool]] = []
    listing = folder / "questions.json"
    if listing.is_file():
        try:
            questions = [(str(q["name"]), float(q["points"]), bool(q["manual"]))
                         for q in json.loads(listing.read_text())]
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{listing} is damaged; run python3 dev.py assignments") from None
    else:
        with zipfile.ZipFile(zip_path) as zf:
            tests = sorted(Path(n).stem for n in zf.namelist()
                           if n.startswith("tests/") and n.endswith(".py"))
        questions = [(t, float("nan"), False) for t in tests]
    return Autograder(str(name), zip_path, tuple(questions))


def find_submissions(folder: str | Path, *, exclude: Sequence[Path] = ()) -> list[Path]:
    """Every file in ``folder`` (not its subfolders), sorted; hidden files and ``exclude`` skipped.

    Raises:
        ConfigError: ``folder`` is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder of submissions")
    skip = {p.resolve() for p in exclude}
    return sorted(p for p in root.iterdir()
                  if not p.name.startswith(".") and p.resolve() not in skip
                  and (p.is_file() or p.is_dir()))


# --------------------------------------------------------------------------------------------
# Processes: one per submission, and everything it starts, killed at the end
# --------------------------------------------------------------------------------------------


def _kill(processes) -> None:
    try:
        import psutil
    except ImportError:
        return
    alive = []
    for p in processes:
        try:
            p.kill()  # psutil checks that the pid was not reused
            alive.append(p)
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)


@dataclass
class _Run:
    path: Path
    proc: subprocess.Popen
    started: float
    tmp: Path
    result_fd: int  # the read end of the worker's result pipe
    seen: dict = field(default_factory=dict)  # pid -> psutil.Process, every descendant seen
    received: bytearray = field(default_factory=bytearray)
    teacher: tamper.Teacher | None = None  # what the tests that run must be
    zeroed: set = field(default_factory=set)  # questions its findings touch (.tamper)
    findings: list = field(default_factory=list)  # their words, for the CSV

    def receive(self) -> None:
        """Read what the worker has written so far (the pipe must not fill up and block it)."""
        while self.result_fd >= 0:
            try:
                chunk = os.read(self.result_fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.received += chunk
            if len(self.received) > MAX_RESULT_BYTES:  # not a result the worker writes
                self.received = bytearray(b"too long")
                return

    def watch(self) -> None:
        if self.proc.returncode is not None:  # reaped: its pid may already be another's
            return
        for p in descendants(self.proc.pid):
            self.seen.setdefault(p.pid, p)

    def stop(self) -> None:
        """Kill the worker and every process it started; remove its temporary folder."""
        self.watch()
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        _kill(self.seen.values())
        if self.result_fd >= 0:
            os.close(self.result_fd)
            self.result_fd = -1
        shutil.rmtree(self.tmp, ignore_errors=True)


MAX_RESULT_BYTES = 1 << 20  # a result is a few hundred bytes: more is not the worker's


def _package_root() -> str:
    """The folder holding this dlgtut, so the worker and the kernel import the same one."""
    return str(Path(__file__).resolve().parents[2])


def _start(path: Path, autograder: Autograder, cell_timeout: float,
           env: Mapping[str, str] | None, teacher: tamper.Teacher) -> _Run:
    # Read once: checked here, graded from this copy (the original may change once kernels run).
    try:
        data = path.read_bytes()
    except OSError:  # the worker then finds no readable notebook, and says so
        data = b""
    tmp = Path(tempfile.mkdtemp(prefix="dlgtut-grade-"))
    (tmp / "submission").mkdir()
    (copy := tmp / "submission" / path.name).write_bytes(data)
    zeroed, findings = tamper.check(data, path.name, teacher, autograder.auto)
    child_env = {**os.environ, **(env or {})}
    # otter and the kernel write their temporary files here, removed with the folder.
    child_env.update(TMPDIR=str(tmp), TEMP=str(tmp), TMP=str(tmp))
    child_env["PYTHONPATH"] = os.pathsep.join(
        [_package_root(), *filter(None, [child_env.get("PYTHONPATH")])])
    # The result comes back through a pipe, not a file the notebook's kernel could write to.
    read_end, write_end = os.pipe()
    try:
        with open(tmp / "worker.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dlgtut.classroom.worker", str(autograder.zip.resolve()),
                 str(copy), "--result-fd", str(write_end),
                 "--cell-timeout", str(cell_timeout)],
                cwd=tmp, env=child_env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, pass_fds=(write_end,),
            )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)  # only the worker holds it now
    os.set_blocking(read_end, False)
    return _Run(path, proc, time.perf_counter(), tmp, read_end, teacher=teacher, zeroed=zeroed,
                findings=findings)


def _failed(path: Path, autograder: Autograder, reason: str, seconds: float = 0.0) -> Grade:
    return Grade(path.stem, path.name, dict.fromkeys(autograder.auto, 0.0), "failed",
                 reason, seconds)


def _finish(run: _Run, autograder: Autograder, timed_out: float | None) -> Grade:
    """The grade, with the questions the rebinding findings touch at 0, ``flagged``, why first."""
    grade = _result(run, autograder, timed_out)
    if not run.findings:
        return grade
    zeroed = {q: 0.0 if q in run.zeroed else s for q, s in grade.scores.items()}
    return replace(grade, scores=zeroed, status="failed" if grade.status == "failed" else "flagged",
                   reason="; ".join(run.findings + ([grade.reason] if grade.reason else [])))


def _result(run: _Run, autograder: Autograder, timed_out: float | None) -> Grade:
    seconds = time.perf_counter() - run.started
    result = None
    if timed_out is None:
        run.receive()  # the worker has exited: everything it wrote is in the pipe
        try:
            result = json.loads(run.received.decode("utf-8"))
        except ValueError:  # nothing, or not the worker's JSON
            result = None
    log = (run.tmp / "worker.log").read_text(errors="replace") if (
        run.tmp / "worker.log").is_file() else ""
    code = run.proc.returncode
    if timed_out is not None:
        return _failed(run.path, autograder, f"time limit of {timed_out:g} s exceeded", seconds)
    if not isinstance(result, dict):
        last = " ".join(log.strip().splitlines()[-1:])[:200]
        why = f"the grader process ended without a result (exit status {code})"
        return _failed(run.path, autograder, f"{why}: {last}" if last else why, seconds)
    if not result.get("ok"):
        return _failed(run.path, autograder, str(result.get("reason", "unknown")), seconds)
    got = result.get("questions", {})
    if isinstance(got, dict):
        scores, flags = checked_scores(got, autograder)
        flags += checked_tests(got, result.get("tests"), run.teacher)
        scores = dict.fromkeys(autograder.auto, 0.0) if flags else scores
    else:
        scores = dict.fromkeys(autograder.auto, 0.0)
        flags, got = ["the result was not a table of questions: rejected"], {}
    missing = [q for q in autograder.auto if q not in got]
    notes = [str(n) for n in result.get("notes", [])] if isinstance(result.get("notes"), list) \
        else []
    notes += [f"no result for {', '.join(missing)}"] if missing else []
    status = "flagged" if flags else "graded"
    return Grade(run.path.stem, run.path.name, scores, status, "; ".join(flags + notes), seconds)


# A kernel that dies before it answers, or does not answer within the kernel client's start-up
# time, has run none of the submission's code (seen when four kernels started at once on two
# busy cores, and in a fresh clone's suite on a loaded 2-core host: jupyter_client's "Kernel
# didn't respond in 60 seconds"): such a submission is graded once more.
NEVER_STARTED = "Kernel died before replying to kernel_info"
NEVER_ANSWERED = "Kernel didn't respond in"


def _never_started(grade: Grade) -> bool:
    return grade.status == "failed" and (NEVER_STARTED in grade.reason
                                         or NEVER_ANSWERED in grade.reason)


def grade_submissions(
    autograder: Autograder,
    paths: Sequence[Path],
    *,
    timeout: float = 600.0,
    cell_timeout: float = 120.0,
    jobs: int = 1,
    env: Mapping[str, str] | None = None,
    on_grade: Callable[[Grade], None] | None = None,
) -> list[Grade]:
    """Grade each submission in its own process; the results in the order of ``paths``.

    Args:
        autograder: from :func:`find_autograder`.
        paths: the submissions (files; anything but ``.ipynb`` or ``.zip`` fails at once).
        timeout: seconds one submission may take, all of it (then it is killed: zero).
        cell_timeout: seconds one cell may take (then it is interrupted and grading goes on).
        jobs: submissions graded at the same time.
        env: extra environment variables for the graded notebooks (``DLGTUT_QUICK=1``).
        on_grade: called with each result as it comes (to save progress).

    No process started here outlives the call, whatever happens (an interrupt included).
    """
    done: dict[Path, Grade] = {}
    pending: list[Path] = []
    for path in paths:
        if path.is_dir():
            done[path] = _failed(path, autograder, "a folder, not a notebook")
        elif path.suffix.lower() not in NOTEBOOK_SUFFIXES:
            done[path] = _failed(path, autograder,
                                 f"not a notebook ({path.suffix or 'no suffix'})")
        else:
            pending.append(path)
        if path in done and on_grade is not None:
            on_grade(done[path])
    running: list[_Run] = []
    retried: set[Path] = set()
    teacher = _teacher(autograder)
    try:
        while pending or running:
            while pending and len(running) < jobs:
                running.append(_start(pending.pop(0), autograder, cell_timeout, env, teacher))
            time.sleep(0.1)
            for run in list(running):
                run.watch()
                run.receive()
                elapsed = time.perf_counter() - run.started
                if run.proc.poll() is not None or elapsed > timeout:
                    running.remove(run)
                    late = timeout if run.proc.poll() is None else None
                    try:
                        grade = _finish(run, autograder, late)  # reads the run's folder
                    finally:
                        run.stop()  # ... which goes with the run, whatever _finish did
                    if _never_started(grade) and run.path not in retried:
                        retried.add(run.path)  # the machine's fault, not the student's: again
                        pending.append(run.path)
                        continue
                    done[run.path] = grade
                    if on_grade is not None:
                        on_grade(grade)
    finally:
        for run in running:
            run.stop()
    return [done[p] for p in paths]


def _teacher(autograder: Autograder) -> tamper.Teacher:
    """What the rebinding check needs of the assignment: its tests and its given cells."""
    try:
        return tamper.read_teacher(autograder.zip, autograder.zip.with_name(f"{autograder.name}"
                                                                             ".ipynb"))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{autograder.zip} cannot be read ({exc}); run python3 dev.py "
                          "assignments") from None


# --------------------------------------------------------------------------------------------
# The CSV
# --------------------------------------------------------------------------------------------


def _number(x: float) -> str:
    return f"{x:g}"


def write_csv(path: str | Path, autograder: Autograder, grades: Sequence[Grade]) -> Path:
    """Write the grades CSV at ``path`` (atomically: a reader never sees half a file).

    Columns: ``student, file``, one per question (empty for a written answer, graded by hand),
    then ``total`` and ``possible`` (auto-graded points), ``status`` and ``reason``.
    """
    path = Path(path)
    header = [*HEADER_START, *(q for q, _, _ in autograder.questions), *HEADER_END]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for g in sorted(grades, key=lambda g: (g.student.lower(), g.file)):
                cells = ["" if manual else _number(g.scores.get(q, 0.0))
                         for q, _, manual in autograder.questions]
                writer.writerow([g.student, g.file, *cells, _number(g.total),
                                 _number(autograder.possible), g.status, g.reason])
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def is_grades_csv(path: str | Path) -> bool:
    """Whether ``path`` is a CSV that :func:`write_csv` wrote (its header says so)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return (tuple(header[:2]) == HEADER_START and tuple(header[-4:]) == HEADER_END
            and len(header) >= 6)
