"""Grading submissions: one process each, a time limit, a reason for every failure, no leftovers.

The students' notebooks here misbehave on purpose: one loops in a cell, one sleeps past the
submission's limit after starting a process of its own, one kills its kernel, one is not JSON.
"""

import json
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("otter", reason="grading needs otter-grader: pip install dlgtut[assign]")
psutil = pytest.importorskip("psutil")

from dlgtut.classroom.grading import (  # noqa: E402
    Autograder,
    Grade,
    checked_scores,
    find_autograder,
    find_submissions,
    grade_submissions,
    is_grades_csv,
    write_csv,
)
from dlgtut.errors import ConfigError  # noqa: E402


def _own_tempdir(tmp_path, monkeypatch):
    """A temporary folder of this test's own, where the grader makes its working folders.

    Other tests, in other pytest-xdist workers, grade at the same time in the shared one.
    """
    own = tmp_path / "tmp"
    own.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own))
    return own


def _with_cell(notebook_path, after: str, source: str, dest):
    """The notebook with a code cell inserted after the first cell that contains ``after``."""
    nb = json.loads(notebook_path.read_text())
    at = next(i for i, c in enumerate(nb["cells"]) if after in "".join(c["source"]))
    nb["cells"].insert(at + 1, {"cell_type": "code", "execution_count": None, "id": "inserted",
                                "metadata": {}, "outputs": [], "source": source})
    dest.write_text(json.dumps(nb))
    return dest


def test_the_autograder_and_its_questions_are_found(demo, tmp_path, refused):
    out, b = demo
    ag = find_autograder("demo", out)
    assert ag.zip == b.autograder_zip and ag.auto == ("q1", "q3") and ag.possible == 3
    assert [q for q, _, manual in ag.questions if manual] == ["q2"]
    err = refused(ConfigError, "no autograder for assignment 'nope'", find_autograder, "nope",
                  out)
    assert "built there: demo" in str(err)
    refused(ConfigError, "none is built there", find_autograder, "demo", tmp_path)


def test_the_csv_has_a_row_per_student_and_is_recognised_as_ours(tmp_path):
    ag = Autograder("demo", tmp_path / "ag.zip", (("q1", 2.0, False), ("q2", 1.0, True),
                                                  ("q3", 1.0, False)))
    grades = [Grade("zoe", "zoe.ipynb", {"q1": 2.0, "q3": 0.5}, "graded"),
              Grade("adam", "adam.txt", {"q1": 0.0, "q3": 0.0}, "failed", "not a notebook, x")]
    path = write_csv(tmp_path / "grades.csv", ag, grades)
    assert path.read_text().splitlines() == [
        "student,file,q1,q2,q3,total,possible,status,reason",
        'adam,adam.txt,0,,0,0,3,failed,"not a notebook, x"',
        "zoe,zoe.ipynb,2,,0.5,2.5,3,graded,",
    ]
    assert is_grades_csv(path)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it
    (tmp_path / "notes.csv").write_text("name,grade\nzoe,A\n")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00")
    assert not is_grades_csv(tmp_path / "notes.csv") and not is_grades_csv(tmp_path / "binary.csv")
    assert not is_grades_csv(tmp_path / "missing.csv")


def test_submissions_are_the_files_of_the_folder(tmp_path):
    for name in ("b.ipynb", "a.txt", ".hidden", "grades.csv"):
        (tmp_path / name).write_text("x")
    (tmp_path / "folder").mkdir()
    found = find_submissions(tmp_path, exclude=[tmp_path / "grades.csv"])
    assert [p.name for p in found] == ["a.txt", "b.ipynb", "folder"]


def test_loops_sleepers_crashes_and_garbage_are_graded_apart(demo, tmp_path):
    out, b = demo
    ag = find_autograder("demo", out)
    subs = tmp_path / "subs"
    subs.mkdir()
    pids = tmp_path / "pids.txt"
    _with_cell(b.autograder_notebook, 'grader.check("q1")', "while True:\n    pass",
               subs / "loop.ipynb")
    _with_cell(b.autograder_notebook, "grader = otter.Notebook()",
               "import os, subprocess, time\n"
               "child = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
               "with open(os.environ['DLGTUT_TEST_PIDS'], 'w') as f:\n"
               "    f.write(f'{os.getpid()} {child.pid}')\n"
               "time.sleep(300)", subs / "sleeper.ipynb")
    _with_cell(b.autograder_notebook, "grader = otter.Notebook()", "import os\nos._exit(3)",
               subs / "crash.ipynb")
    (subs / "garbage.ipynb").write_text('{"cells": [')
    (subs / "essay.txt").write_text("my answers")
    (subs / "folder").mkdir()
    seen = []
    paths = find_submissions(subs)
    grades = grade_submissions(ag, paths, timeout=25, cell_timeout=4, jobs=3,
                               env={"DLGTUT_TEST_PIDS": str(pids)}, on_grade=seen.append)
    assert [g.file for g in grades] == [p.name for p in paths]  # in the order asked
    assert sorted(g.file for g in seen) == sorted(p.name for p in paths)  # each reported
    by = {g.student: g for g in grades}
    # The loop cost only its own cell: both questions were graded after the interruption.
    assert by["loop"].status == "graded" and by["loop"].scores == {"q1": 2.0, "q3": 1.0}, (
        by["loop"].reason, by["loop"].seconds)  # failed once in five suite runs, reason unseen
    assert "interrupted at the cell limit of 4 s" in by["loop"].reason
    # The sleeper's cell was interrupted at the cell limit; what it started dies at the end.
    assert by["sleeper"].status == "graded" and "interrupted" in by["sleeper"].reason
    assert by["crash"].status == "failed" and "kernel died" in by["crash"].reason
    assert by["garbage"].status == "failed" and "not a readable notebook" in by["garbage"].reason
    assert by["essay"].reason == "not a notebook (.txt)" and by["folder"].status == "failed"
    for g in grades:
        if g.status == "failed":
            assert g.scores == {"q1": 0.0, "q3": 0.0}
    kernel, child = (int(p) for p in pids.read_text().split())
    for pid in (kernel, child):  # the kernel and what the student's code started: gone
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_submission_past_its_time_limit_is_killed_with_all_it_started(
        demo, tmp_path, monkeypatch):
    out, b = demo
    ag = find_autograder("demo", out)
    pids = tmp_path / "pids.txt"
    path = _with_cell(b.autograder_notebook, "grader = otter.Notebook()",
                      "import os, subprocess, time\n"
                      "child = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
                      "with open(os.environ['DLGTUT_TEST_PIDS'], 'w') as f:\n"
                      "    f.write(f'{os.getpid()} {child.pid}')\n"
                      "time.sleep(300)", tmp_path / "stuck.ipynb")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    own_tmp = _own_tempdir(tmp_path, monkeypatch)
    (grade,) = grade_submissions(ag, [path], timeout=8, cell_timeout=100,
                                 env={"DLGTUT_TEST_PIDS": str(pids)})
    assert grade.status == "failed" and grade.reason == "time limit of 8 s exceeded"
    assert grade.scores == {"q1": 0.0, "q3": 0.0} and 8 <= grade.seconds < 30
    kernel, child = (int(p) for p in pids.read_text().split())
    for pid in (kernel, child):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before
    assert not list(own_tmp.iterdir())  # the grading folder is removed


def test_a_kernel_that_died_before_answering_is_graded_once_more(demo, tmp_path, monkeypatch):
    import dlgtut.classroom.grading as grading

    out, b = demo
    ag = find_autograder("demo", out)
    path = tmp_path / "alice.ipynb"
    path.write_bytes(b.autograder_notebook.read_bytes())
    real, calls = grading._finish, []

    def finish_failing_first(run, autograder, late):
        calls.append(run.path)
        if len(calls) == 1:  # as if the kernel had died at start: none of her code ran
            return grading._failed(run.path, autograder, f"RuntimeError: {grading.NEVER_STARTED}")
        return real(run, autograder, late)

    monkeypatch.setattr(grading, "_finish", finish_failing_first)
    own_tmp = _own_tempdir(tmp_path, monkeypatch)
    (grade,) = grade_submissions(ag, [path], timeout=120, cell_timeout=60)
    assert calls == [path, path] and grade.status == "graded" and grade.total == ag.possible
    # Both runs' folders are removed, the first too, whose _finish here was a stand-in.
    assert not list(own_tmp.iterdir())


def test_otter_runs_a_submission_with_the_cell_limit_and_the_stepped_kernel_client(monkeypatch):
    # The worker gives otter a Config with each cell's time limit and a kernel client that
    # polls in steps (a reply the poll missed would otherwise wait out the cell's limit).
    import nbformat
    import otter.execute
    from nbconvert.preprocessors import ExecutePreprocessor

    from dlgtut.classroom.worker import _limit_cells
    from dlgtut.notebook_client import SteppedKernelClient

    monkeypatch.setattr(otter.execute, "Config", otter.execute.Config)  # restored afterwards
    _limit_cells(7.4)
    ep = ExecutePreprocessor(config=otter.execute.Config())  # what otter builds for a notebook
    ep.nb = nbformat.v4.new_notebook()
    assert ep.timeout == 7 and ep.interrupt_on_timeout
    assert ep.create_kernel_manager().client_factory is SteppedKernelClient


def test_impossible_scores_are_rejected_and_flagged():
    ag = Autograder("demo", Path("ag.zip"), (("q1", 2.0, False), ("q2", 1.0, True),
                                             ("q3", 1.0, False)))
    assert checked_scores({"q1": [2, 2], "q3": [0.5, 1]}, ag) == ({"q1": 2.0, "q3": 0.5}, [])
    for got, words in [
        ({"q1": [50, 2], "q3": [1, 1]}, "q1: 50 points, outside 0 to 2"),
        ({"q1": [-1, 2]}, "q1: -1 points"),
        ({"q1": [float("nan"), 2]}, "q1: nan points"),
        ({"q1": [2, 50]}, "q1: scored out of 50 points, the assignment gives 2"),
        ({"q1": [2, 2], "q9": [1, 1]}, "'q9', which is not an auto-graded question"),
        ({"q1": [2, 2], "q2": [1, 1]}, "'q2', which is not an auto-graded question"),
        ({"q1": "full"}, "q1: an unreadable score"),
        ({"q1": [2, 2, 2]}, "q1: an unreadable score"),
    ]:
        scores, flags = checked_scores(got, ag)
        # One impossible number means the result did not come from the grader: nothing kept.
        assert scores == {"q1": 0.0, "q3": 0.0}, got
        assert any(words in f and f.endswith("rejected") for f in flags), (got, flags)


def test_a_result_forged_by_a_process_left_behind_is_never_read(demo, tmp_path):
    # The attack issue 32 names: the submission leaves a process behind that keeps writing a
    # result of its own (50 of the 3 points) where the grading process used to leave its result.
    # The result now comes back through a pipe the kernel never holds: the forgery is ignored
    # and the notebook gets what its answers earn (full marks: it is the reference solution).
    out, b = demo
    ag = find_autograder("demo", out)
    forger = ("import json, os, time\n"
              "while True:\n"
              "    for name in ('result.json', 'result', 'results.json'):\n"
              "        with open(os.path.join(os.environ['TMPDIR'], name), 'w') as f:\n"
              "            json.dump({'ok': True, 'questions': {'q1': [50, 2]}}, f)\n"
              "    time.sleep(0.01)\n")
    path = _with_cell(b.autograder_notebook, "grader = otter.Notebook()",
                      "import subprocess, sys\n"
                      f"subprocess.Popen([sys.executable, '-c', {forger!r}], "
                      "start_new_session=True)", tmp_path / "forger.ipynb")
    (grade,) = grade_submissions(ag, [path], timeout=60, cell_timeout=30)
    assert grade.status == "graded" and grade.scores == {"q1": 2.0, "q3": 1.0}, (
        grade.status, grade.reason)


def test_a_kernel_that_never_answered_counts_as_never_started_and_a_graded_one_does_not():
    import dlgtut.classroom.grading as grading

    def grade(status, reason):
        return Grade("alice", "alice.ipynb", {"q1": 0.0}, status, reason)

    # jupyter_client's two ways of saying that none of the student's code ran
    assert grading._never_started(grade("failed", f"RuntimeError: {grading.NEVER_STARTED}"))
    assert grading._never_started(grade("failed", "RuntimeError: Kernel didn't respond in 60 "
                                                  "seconds"))
    assert not grading._never_started(grade("failed", "time limit of 8 s exceeded"))
    assert not grading._never_started(grade("flagged", "Kernel didn't respond in 60 seconds"))
    assert not grading._never_started(grade("graded", ""))


class _Runs:
    """Pickles to a call of ``func(*args)``: what a forged pickle would make the grader run."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def test_what_the_kernel_sends_back_cannot_make_the_grader_run_code(tmp_path):
    import io
    import os
    import pickle

    import otter.execute
    import otter.execute.logging

    from dlgtut.classroom import worker

    marker = tmp_path / "ran"
    evil = pickle.dumps(_Runs(os.system, f"touch {marker}"))
    for unpickler in (worker._ResultsUnpickler, worker._LogUnpickler):
        with pytest.raises(pickle.UnpicklingError, match="posix.system|os.system"):
            unpickler(io.BytesIO(evil)).load()
    # A dotted name would reach os through a module otter does trust: refused too.
    dotted = (b"\x80\x04\x8c\x1eotter.test_files.abstract_test\x8c\tos.system\x93"
              b"\x8c\x04true\x85R.")
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        worker._ResultsUnpickler(io.BytesIO(dotted)).load()
    assert not marker.exists()
    # What otter's results do hold still loads.
    from otter.test_files.abstract_test import TestCase
    case = TestCase("q1 - 1", "x == 1", hidden=False, points=1.0, success_message=None,
                    failure_message=None)
    assert worker._ResultsUnpickler(io.BytesIO(pickle.dumps(case))).load() == case
    # The worker installs both where otter 7.0.0 unpickles.
    real_pickle = otter.execute.pickle
    real_unpickle = otter.execute.logging.LogRecordStreamHandler.unpickle
    try:
        worker._safe_unpickling()
        with pytest.raises(pickle.UnpicklingError):
            otter.execute.pickle.load(io.BytesIO(evil))
        with pytest.raises(pickle.UnpicklingError):
            otter.execute.logging.LogRecordStreamHandler.unpickle(None, evil)
        assert not marker.exists()
    finally:
        otter.execute.pickle = real_pickle
        otter.execute.logging.LogRecordStreamHandler.unpickle = real_unpickle
