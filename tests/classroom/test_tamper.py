"""Submissions that rebind what the tests call, graded end to end by the real grader.

Each notebook here is the demo's solution with one thing changed, as a student would hand it
in: a wrong answer beside a rebound ``numpy.allclose`` (the demo's hidden q1 test compares with
it), a do-nothing ``dlgtut.classroom.forbid``, the same rebinding hidden from static analysis,
otter's own points rewritten in the kernel, the test files otter unpacked written over, and a
correct solution that only sets settings, defines helpers and imports again. The last is
graded in full; every other one is flagged, with the cell and the name in the reason (or what
was rejected), and earns nothing on the questions it touches.
"""

import json

import pytest

pytest.importorskip("otter", reason="grading needs otter-grader: pip install dlgtut[assign]")

from dlgtut.classroom import tamper  # noqa: E402
from dlgtut.classroom.grading import find_autograder, grade_submissions  # noqa: E402

from .test_grading import _own_tempdir, _with_cell  # noqa: E402

WRONG = "return 4 if x == 2 else x"  # passes the public test double(2) == 4, fails the hidden one


def _edit(path, dest, old, new):
    """The notebook at ``path`` with ``old`` replaced by ``new`` in its cells, saved at ``dest``."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        cell["source"] = src.replace(old, new)
    dest.write_text(json.dumps(nb))
    return dest


def _submissions(b, folder):
    """The demo's tampering submissions; cell 5 is the one inserted after ``def double``."""
    folder.mkdir()
    sol = b.autograder_notebook
    wrong = _edit(sol, folder / "wrong.ipynb", "return 2 * x", WRONG)
    _with_cell(wrong, "def double", "import numpy\nnumpy.allclose = lambda *a, **k: True",
               folder / "allclose.ipynb")
    _with_cell(sol, "def triple", "import contextlib\nimport dlgtut.classroom\n\n"
               "dlgtut.classroom.forbid = lambda *functions: contextlib.nullcontext()",
               folder / "forbid.ipynb")
    _with_cell(wrong, "def double", "import numpy\n"
               "setattr(numpy, 'allc' + 'lose', lambda *a, **k: True)", folder / "computed.ipynb")
    _with_cell(wrong, "def double", "exec('import numpy\\n' + 'numpy.allclose = lambda *a, "
               "**k: True')", folder / "built.ipynb")
    # otter's points rewritten in the kernel: 50 for every test, above what any question gives.
    _with_cell(sol, "def double", "import dataclasses\n"
               "import otter.test_files.abstract_test as at\n\n"
               "at.TestFile.resolve_test_file_points = staticmethod(\n"
               "    lambda total, cases: [dataclasses.replace(c, points=50) for c in cases])",
               folder / "points.ipynb")
    # Files the kernel can write: a test file of a question that does not exist, then checked,
    # and q1's hidden tests replaced by one that always passes, beside a wrong answer. Neither
    # rebinds anything; what comes back is rejected instead.
    test_file = ("import os\n\nwith open(os.path.join(grader._tests_dir, '{q}.py'), 'w') as f:\n"
                 "    f.write('from otter.test_files import test_case\\n\\nOK_FORMAT = False\\n'\n"
                 "            'name = \"{q}\"\\npoints = {points}\\n\\n\\n@test_case()\\n'\n"
                 "            'def test_anything():\\n    pass\\n')\n")
    _with_cell(sol, "def double", test_file.format(q="q9", points=5) + "grader.check('q9')",
               folder / "extra.ipynb")
    _with_cell(wrong, "def double", test_file.format(q="q1", points=2), folder / "tests.ipynb")
    legit = _with_cell(sol, "grader = otter.Notebook()",
                       "import numpy as np\nimport torch\n\n"
                       "torch.backends.cudnn.deterministic = True\ntorch.manual_seed(0)\n"
                       "np.random.seed(0)\n\n\ndef _twice(v):\n    return np.add(v, v)",
                       folder / "legit.ipynb")
    _with_cell(_edit(legit, legit, "return 2 * x", "return _twice(x)"), "def triple",
               "import torch\nimport numpy as np\n\nassert np.allclose(triple(2), 6)",
               folder / "legit.ipynb")
    return sorted(folder.iterdir())


def test_rebinding_what_the_tests_call_earns_nothing_on_the_questions_it_touches(
        demo, tmp_path, monkeypatch):
    out, b = demo
    ag = find_autograder("demo", out)
    paths = _submissions(b, tmp_path / "subs")
    _own_tempdir(tmp_path, monkeypatch)
    by = {g.student: g for g in grade_submissions(ag, paths, timeout=240, cell_timeout=120,
                                                  jobs=2)}
    # Without rebinding, the wrong answer earns the public test's half of q1.
    assert (by["wrong"].status, by["wrong"].scores) == ("graded", {"q1": 1.0, "q3": 1.0})
    # Beside a rebound numpy.allclose: q1 earns nothing, q3 (not touched) keeps its point.
    g = by["allclose"]
    assert (g.status, g.scores) == ("flagged", {"q1": 0.0, "q3": 1.0}), g.reason
    assert g.reason == "cell 5 rebinds numpy.allclose (q1)"
    # A do-nothing forbid, in q3's cells: q3 earns nothing, q1 keeps its 2 points.
    g = by["forbid"]
    assert (g.status, g.scores) == ("flagged", {"q1": 2.0, "q3": 0.0}), g.reason
    assert g.reason == "cell 11 rebinds dlgtut.classroom.forbid (q3)"
    # Hidden from static analysis: it cannot be checked, so no question is trusted.
    for name, words in (("computed", "setattr with a computed name"),
                        ("built", "exec of code built at run time")):
        g = by[name]
        assert (g.status, g.scores) == ("flagged", {"q1": 0.0, "q3": 0.0}), (name, g.reason)
        assert g.reason == f"cell 5 cannot be checked: {words} (q1, q3)"
    # otter's points rewritten in the kernel: found by the scan, and the score above the
    # possible that it makes otter report is rejected too; nothing is kept.
    g = by["points"]
    assert (g.status, g.scores) == ("flagged", {"q1": 0.0, "q3": 0.0}), g.reason
    assert g.reason.startswith("cell 5 rebinds otter.test_files.abstract_test.TestFile."
                               "resolve_test_file_points (q1)")
    assert "q1: 100 points, outside 0 to 2: rejected" in g.reason
    # A score for a question that does not exist, and q1's tests swapped: nothing is kept.
    for name, words in (("extra", "a score for 'q9', which is not an auto-graded question of "
                                  "this assignment: rejected"),
                        ("tests", "q1: the tests that ran are not the assignment's: rejected")):
        g = by[name]
        assert (g.status, g.scores, g.reason) == ("flagged", {"q1": 0.0, "q3": 0.0}, words)
    # Settings, seeds, a helper and imports again: not flagged, full marks.
    g = by["legit"]
    assert (g.status, g.scores, g.reason) == ("graded", {"q1": 2.0, "q3": 1.0}, "")


def test_without_the_check_the_rebinding_would_have_earned_the_points(demo, tmp_path,
                                                                      monkeypatch):
    # The attack the check stops is real: with the check switched off, the wrong answer beside
    # a rebound numpy.allclose gets q1's full 2 points (it earns 1 without the rebinding).
    out, b = demo
    ag = find_autograder("demo", out)
    subs = tmp_path / "subs"
    subs.mkdir()
    wrong = _edit(b.autograder_notebook, subs / "wrong.ipynb", "return 2 * x", WRONG)
    path = _with_cell(wrong, "def double", "import numpy\nnumpy.allclose = lambda *a, **k: True",
                      subs / "allclose.ipynb")
    wrong.unlink()
    monkeypatch.setattr(tamper, "check", lambda *args: (set(), []))
    _own_tempdir(tmp_path, monkeypatch)
    (g,) = grade_submissions(ag, [path], timeout=120, cell_timeout=60)
    assert (g.status, g.scores) == ("graded", {"q1": 2.0, "q3": 1.0}), g.reason


def _position(path) -> int:
    """The inserted cell's position, counting every cell from 1, as the CSV names it."""
    cells = json.loads(path.read_text())["cells"]
    return next(i for i, c in enumerate(cells, start=1) if c.get("id") == "inserted")


@pytest.mark.slow
def test_the_attacks_reported_on_gradient_leakage_are_flagged_and_earn_nothing(
        tmp_path, monkeypatch):
    # Issue 32's two attacks, on the real assignment: a wrong gradient_matching_loss (1.5 times
    # the distance) beside a rebound torch.allclose, and a do-nothing forbid beside an answer
    # that only calls dlgtut's own gradient_distance. Graded once with the check switched off,
    # where each attack earns q1's 2 points, then as the grader runs.
    from pathlib import Path

    from dlgtut.classroom.build import build

    master = Path(__file__).resolve().parents[2] / "assignments" / "gradient_leakage"
    b = build(master / "gradient_leakage.md", tmp_path / "build")
    ag = find_autograder("gradient_leakage", tmp_path / "build")
    subs = tmp_path / "subs"
    subs.mkdir()
    loop = "return total"
    wrong = _edit(b.autograder_notebook, subs / "wrong.ipynb", loop, "return 1.5 * total")
    allclose = _with_cell(wrong, "def gradient_matching_loss",
                          "torch.allclose = lambda *args, **kwargs: True", subs / "allclose.ipynb")
    wrapped = _edit(b.autograder_notebook, subs / "wrapped.ipynb", loop,
                    "from dlgtut.attacks import gradient_distance\n\n"
                    "    return gradient_distance(dummy_grads, target_grads)")
    forbid = _with_cell(wrapped, "import torch", "import contextlib\n\nimport dlgtut.classroom\n\n"
                        "dlgtut.classroom.forbid = lambda *functions: contextlib.nullcontext()",
                        subs / "forbid.ipynb")
    wrong.unlink()
    wrapped.unlink()
    monkeypatch.setenv("DLGTUT_QUICK", "1")
    _own_tempdir(tmp_path, monkeypatch)
    real_check = tamper.check
    monkeypatch.setattr(tamper, "check", lambda *args: (set(), []))
    unchecked = {g.student: g for g in grade_submissions(ag, [allclose, forbid], timeout=400,
                                                         cell_timeout=300, jobs=2)}
    for g in unchecked.values():  # both attacks work when nothing looks
        assert g.status == "graded" and g.scores["q1"] == 2.0, (g.student, g.scores, g.reason)
    monkeypatch.setattr(tamper, "check", real_check)
    by = {g.student: g for g in grade_submissions(ag, [allclose, forbid], timeout=400,
                                                  cell_timeout=300, jobs=2)}
    g = by["allclose"]
    # q1's and q5's tests compare with torch.allclose: both earn nothing; the rest is kept.
    assert g.status == "flagged" and g.reason == (
        f"cell {_position(allclose)} rebinds torch.allclose (q1, q5)"), g.reason
    assert g.scores == {**unchecked["allclose"].scores, "q1": 0.0, "q5": 0.0}
    g = by["forbid"]
    assert g.status == "flagged" and g.scores["q1"] == 0.0, (g.scores, g.reason)
    assert g.reason.startswith(f"cell {_position(forbid)} rebinds dlgtut.classroom.forbid (q1")
