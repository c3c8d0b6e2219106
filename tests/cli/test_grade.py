"""The ``grade`` command: a folder of submissions in, one CSV out; bad input in one line.

The command runs on the tiny demo assignment of ``tests/classroom/demo``; the real
assignments are graded by ``tests/test_assignments.py``.
"""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from dlgtut.cli import main

DEMO = Path(__file__).resolve().parents[1] / "classroom" / "demo" / "demo.md"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("otter", reason="grading needs otter-grader: pip install dlgtut[assign]")
    from dlgtut.classroom.build import build

    out = tmp_path_factory.mktemp("build")
    return out, build(DEMO, out)


def test_a_folder_is_graded_into_one_csv(built, tmp_path, capsys):
    out, b = built
    subs = tmp_path / "submissions"
    subs.mkdir()
    (subs / "alice.ipynb").write_bytes(b.autograder_notebook.read_bytes())  # the solution
    (subs / "bob.ipynb").write_bytes(b.student_notebook.read_bytes())  # handed in blank
    (subs / "carol.pdf").write_bytes(b"%PDF-1.4 not a notebook")
    grades = subs / "grades.csv"  # inside the folder: never graded itself
    argv = ["grade", "--assignment", "demo", str(subs), "--out", str(grades), "--build",
            str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "alice.ipynb: graded, 3/3" in printed and "bob.ipynb: graded, 0/3" in printed
    assert "demo: 3 submissions graded" in printed
    # The build above was given no seed: the teacher is told the hidden tests' data is public.
    assert "hidden tests: the public default seed 0" in printed
    with open(grades, newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [
        ["student", "file", "q1", "q2", "q3", "total", "possible", "status", "reason"],
        ["alice", "alice.ipynb", "2", "", "1", "3", "3", "graded", ""],
        ["bob", "bob.ipynb", "0", "", "0", "0", "3", "graded", ""],
        ["carol", "carol.pdf", "0", "", "0", "0", "3", "failed", "not a notebook (.pdf)"],
    ]
    # Its own CSV from an earlier run is replaced; the run keeps nothing else.
    for name in ("alice.ipynb", "bob.ipynb"):
        (subs / name).unlink()
    assert main([*argv, "--quiet"]) == 0
    assert [r[0] for r in csv.reader(open(grades))] == ["student", "carol"]
    assert sorted(p.name for p in subs.iterdir()) == ["carol.pdf", "grades.csv"]


@pytest.mark.parametrize("args, message", [
    (["--out", "{tmp}/grades.txt"], "must name a .csv file"),
    (["--out", ""], "must name a CSV file"),
    (["--out", "{tmp}/notes.csv"], "is not a grades CSV written by dlgtut grade"),
    (["--out", "{tmp}/folder.csv"], "exists and is not a file"),
    (["--out", "{tmp}/missing/grades.csv"], "does not exist"),
    (["--assignment", "nope"], "no autograder for assignment 'nope'"),
    (["--timeout", "0"], "--timeout must lie in (0, inf)"),
    (["--timeout", "nan"], "finite"),
    (["--cell-timeout", "900"], "longer than --timeout"),
    (["--jobs", "0"], "jobs must be at least 1"),
    (["--subs", "{tmp}/missing"], "is not a folder of submissions"),
    (["--subs", "{tmp}/empty"], "holds no submissions"),
])
def test_bad_input_is_one_line_and_exit_status_2(args, message, built, tmp_path, capsys):
    out, _ = built
    (tmp_path / "notes.csv").write_text("name,grade\nzoe,A\n")
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "empty").mkdir()
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "a.ipynb").write_text("{}")
    options = {"--assignment": "demo", "--out": str(tmp_path / "g.csv"), "--subs": str(subs)}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        options[flag] = value.format(tmp=tmp_path)
    argv = ["grade", options.pop("--subs"), "--build", str(out)]
    for flag, value in options.items():
        argv += [flag, value]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert (tmp_path / "notes.csv").read_text() == "name,grade\nzoe,A\n"
    assert not (tmp_path / "g.csv").exists()


def test_without_otter_it_says_what_to_install(monkeypatch, tmp_path, capsys):
    import dlgtut.cli.grade as grade

    monkeypatch.setattr(grade.importlib.util, "find_spec", lambda name: None)
    assert main(["grade", "--assignment", "demo", str(tmp_path), "--out",
                 str(tmp_path / "g.csv")]) == 2
    assert 'pip install "dlgtut[assign]"' in capsys.readouterr().err


def test_dlgtut_and_its_other_commands_never_import_otter():
    code = ("import sys\n"
            "import dlgtut.classroom\n"
            "from dlgtut.cli import build_parser, main\n"
            "build_parser().parse_args(['grade', '--assignment', 'x', 'd', '--out', 'g.csv'])\n"
            "assert main(['leak', '--help']) == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('otter', 'pandas')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_device_cpu_hides_the_gpus_from_the_submissions(built, tmp_path, monkeypatch, device):
    import torch

    import dlgtut.classroom.grading as grading

    hidden = device == "cpu" or not torch.cuda.is_available()  # auto is the CPU without CUDA

    out, b = built
    subs = tmp_path / "submissions"
    subs.mkdir()
    (subs / "bob.ipynb").write_bytes(b.student_notebook.read_bytes())
    seen = []
    monkeypatch.setattr(grading, "grade_submissions",
                        lambda *a, env=None, **k: seen.append(env) or [])
    argv = ["grade", "--assignment", "demo", str(subs), "--out", str(tmp_path / "g.csv"),
            "--build", str(out), "--device", device]
    assert main(argv) == 0
    assert seen == [{"CUDA_VISIBLE_DEVICES": ""} if hidden else None]
