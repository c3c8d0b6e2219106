"""``python -m dlgtut grade``: grade a folder of submitted notebooks into one CSV.

Every file in ``SUBMISSIONS_DIR`` is one student's submission (the student is the file's name
without its suffix). Each is graded by the assignment's autograder, built by ``python3 dev.py
assignments``, in a process of its own with a time limit, without Docker and without a
sandbox: the students' code runs with your permissions. The CSV has one row per student and
one column per question; a submission that could not be graded scores 0 and says why.

``--out`` is one file: a new one, or a grades CSV that this command wrote before (replaced).
Anything else there is refused, and nothing is written anywhere else. The CSV is rewritten
after every submission, so an interrupted run keeps the grades it has.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

from ..errors import ConfigError
from .common import add_device, positive_int, real

__all__ = ["add_parser", "run", "check_out"]

DEFAULT_BUILD = Path("_build") / "assignments"


def _csv_path(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("--out must name a CSV file, got an empty string")
    path = Path(text).expanduser()
    if path.suffix.lower() != ".csv":
        raise argparse.ArgumentTypeError(f"--out must name a .csv file, got {text!r}")
    return path


def add_parser(sub) -> None:
    """Register ``grade`` on the ``dlgtut`` parser's subparsers."""
    p = sub.add_parser(
        "grade",
        help="grade a folder of submitted notebooks into one CSV (otter-grader, no Docker)",
        description="Grade every submission in SUBMISSIONS_DIR with the assignment's "
        "autograder (built by python3 dev.py assignments), each in its own process with a "
        "time limit, into one CSV: a row per student, a column per question. No Docker and "
        "NO SANDBOX: the students' code runs with your permissions. Needs dlgtut[assign].",
    )
    p.add_argument("--assignment", required=True, metavar="NAME",
                   help="the assignment, e.g. gradient_leakage")
    p.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR",
                   help="a folder with one file per student (.ipynb, or the .zip of otter's "
                   "export); anything else scores 0 with its reason")
    p.add_argument("--out", type=_csv_path, required=True, metavar="CSV",
                   help="the grades CSV: a new file, or one this command wrote before")
    p.add_argument("--build", type=Path, default=DEFAULT_BUILD, metavar="DIR",
                   help="where python3 dev.py assignments put the autograders "
                   f"(default {DEFAULT_BUILD})")
    p.add_argument("--timeout", type=real("--timeout", low=0, low_open=True), default=600.0,
                   metavar="S", help="seconds one submission may take in all; past it, it is "
                   "killed and scores 0 (default 600)")
    p.add_argument("--cell-timeout", type=real("--cell-timeout", low=0, low_open=True),
                   default=120.0, metavar="S", help="seconds one cell may take; past it, the "
                   "cell is interrupted and grading goes on (default 120)")
    p.add_argument("--jobs", type=positive_int("jobs", 64), default=1,
                   help="submissions graded at the same time (default 1)")
    p.add_argument("--quiet", action="store_true", help="no line per submission")
    add_device(p, help="where the submissions may compute: cpu hides every GPU from them "
               "(CUDA_VISIBLE_DEVICES empty); auto and cuda leave the GPUs visible, and cuda "
               "refuses a machine without one (default auto)")
    p.set_defaults(run=run)


def check_out(path: Path) -> Path:
    """Make sure the grades CSV can be written at ``path`` without harm, before any grading.

    Refused, each with a one-line :class:`ConfigError`: a path whose folder does not exist, a
    folder or device, a file that is not a grades CSV written by this command (so a notebook or
    someone's spreadsheet is never overwritten), and a folder that cannot be written to.
    """
    from ..classroom.grading import is_grades_csv

    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"--out {path}: the folder {folder} does not exist")
    if path.exists():
        if not path.is_file():
            raise ConfigError(f"--out {path} exists and is not a file")
        if not is_grades_csv(path):
            raise ConfigError(f"--out {path} exists and is not a grades CSV written by dlgtut "
                              "grade; choose a new file name")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write to --out {path}: {exc.strerror or type(exc).__name__}"
                          ) from None
    return path


def run(args) -> int:
    """Run ``grade``; return the exit status."""
    if importlib.util.find_spec("otter") is None:
        raise ConfigError("grading needs otter-grader: pip install \"dlgtut[assign]\"")
    from ..classroom.grading import (
        find_autograder,
        find_submissions,
        grade_submissions,
        write_csv,
    )

    if args.cell_timeout > args.timeout:
        raise ConfigError(f"--cell-timeout {args.cell_timeout:g} is longer than --timeout "
                          f"{args.timeout:g}")
    autograder = find_autograder(args.assignment, args.build)
    out = check_out(args.out)
    paths = find_submissions(args.submissions, exclude=[out])
    if not paths:
        raise ConfigError(f"{args.submissions} holds no submissions")
    grades = []

    def progress(grade) -> None:
        grades.append(grade)
        write_csv(out, autograder, grades)  # after each: an interrupted run keeps its grades
        if not args.quiet:
            score = f"{grade.total:g}/{autograder.possible:g}"
            note = f" ({grade.reason})" if grade.reason else ""
            print(f"{grade.file}: {grade.status}, {score}{note} [{grade.seconds:.0f} s]",
                  flush=True)

    started = time.perf_counter()
    env = {"CUDA_VISIBLE_DEVICES": ""} if args.device.type == "cpu" else None
    grade_submissions(autograder, paths, timeout=args.timeout, cell_timeout=args.cell_timeout,
                      jobs=args.jobs, on_grade=progress, env=env)
    failed = sum(g.status == "failed" for g in grades)
    flagged = sum(g.status == "flagged" for g in grades)
    full = sum(g.status == "graded" and g.total == autograder.possible for g in grades)
    plural = "" if len(grades) == 1 else "s"
    print(f"{args.assignment}: {len(grades)} submission{plural} graded in "
          f"{time.perf_counter() - started:.0f} s ({full} with full marks on the auto-graded "
          f"questions, {failed} failed, {flagged} flagged for tampering); grades in {out}")
    print(_seed_line(autograder.zip.parent))
    return 0


def _seed_line(folder) -> str:
    """Which grading seed the hidden tests were built with (dlgtut.classroom.seed)."""
    from ..classroom.seed import read_record

    record = read_record(folder)
    if record is None:
        return "hidden tests: built without a seed record (rebuild with python3 dev.py assignments)"
    seed = record.get("grading_seed")
    if record.get("source") == "public default":
        return (f"hidden tests: the public default seed {seed}; anyone can compute their data "
                "(set yours with --grading-seed or DLGTUT_GRADING_SEED when you build)")
    return f"hidden tests: grading seed {seed} ({record.get('source', 'unknown source')})"

