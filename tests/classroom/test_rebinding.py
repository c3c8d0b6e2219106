"""The rebinding check: what a submission's code is flagged for, and what it is not.

Each snippet below is one notebook cell a student could hand in. The ones that rebind what the
tests or the grader call are found with the name and the cell; the ones that hide what they do
from static analysis "cannot be checked"; settings, helpers and re-imports are not findings.
"""

import pytest

from dlgtut.classroom.rebinding import CANNOT, Finding, Teacher, scan
from dlgtut.classroom.tamper import check, describe, notebook_cells, touched


def _scan(*cells, teacher=None):
    return [(f.kind, f.name) for f in scan([(i, "code", c) for i, c in enumerate(cells, 1)],
                                           teacher)]


@pytest.mark.parametrize("source, name", [
    ("import torch\ntorch.allclose = lambda *a, **k: True", "torch.allclose"),
    ("import torch\nsetattr(torch, 'allclose', lambda *a, **k: True)", "torch.allclose"),
    ("import torch\ndel torch.allclose", "torch.allclose"),
    ("import torch\ntorch.allclose += 1", "torch.allclose"),
    ("import torch\ntorch.allclose: object = 1", "torch.allclose"),
    ("import numpy as np\nnp.allclose = 1", "numpy.allclose"),
    ("import torch.nn.functional as F\nF.mse_loss = 1", "torch.nn.functional.mse_loss"),
    ("from torch import nn\nnn.functional.mse_loss = 1", "torch.nn.functional.mse_loss"),
    ("import torch\nt = torch\nt.allclose = 1", "torch.allclose"),
    ("import contextlib\nimport dlgtut.classroom\n"
     "dlgtut.classroom.forbid = lambda *f: contextlib.nullcontext()", "dlgtut.classroom.forbid"),
    ("from dlgtut.classroom import rules\nrules.forbid = 1", "dlgtut.classroom.rules.forbid"),
    ("from dlgtut.classroom import rules as r\nr._refuse = print",
     "dlgtut.classroom.rules._refuse"),
    ("import otter.test_files.abstract_test as at\nat.TestFile.score = 50",
     "otter.test_files.abstract_test.TestFile.score"),
    ("import builtins\nbuiltins.abs = len", "builtins.abs"),
    ("exec('import torch\\ntorch.allclose = 1')", "torch.allclose"),  # a literal is scanned
    ("%%time\nimport torch\ntorch.sum = 1", "torch.sum"),  # so is a %%time cell
    ("import torch\ndef patch():\n    torch.allclose = 1", "torch.allclose"),  # in a function
    ("import torch\nfor torch.allclose in [1]:\n    pass", "torch.allclose"),
])
def test_rebinding_what_the_tests_call_is_found_with_its_name(source, name):
    assert ("rebinds", name) in _scan("x = 1", source)
    (f,) = [f for f in scan([(3, "markdown", "# q"), (4, "code", source)]) if f.name == name]
    assert f.cell == 4  # the cell's position, Markdown cells counted


@pytest.mark.parametrize("source, words", [
    ("import torch\nsetattr(torch, 'allc' + 'lose', 1)", "setattr with a computed name"),
    ("import torch\ndelattr(torch, name)", "delattr with a computed name"),
    ("code = 'import torch'\nexec(code)", "exec of code built at run time"),
    ("eval(input())", "eval of code built at run time"),
    ("exec(compile(src, 'x', 'exec'))", "compile of code built at run time"),
    ("__import__('torch').allclose = 1", "__import__"),
    ("import importlib\nimportlib.reload(m)", "importlib.reload"),
    ("from importlib import import_module as im\nim('torch')", "importlib.import_module"),
    ("import sys\nsys.modules['torch'] = fake", "sys.modules"),
    ("import sys\nsys.modules.pop('dlgtut.attacks')", "sys.modules.pop"),
    ("import sys\nf = sys._getframe(1)", "sys._getframe"),
    ("import inspect\ng = inspect.stack()[0].frame.f_globals", "inspect.stack"),
    ("import gc\nobjs = gc.get_objects()", "gc.get_objects"),
    ("import ctypes\nctypes.pythonapi.PyFrame_LocalsToFast",
     "ctypes.pythonapi.PyFrame_LocalsToFast"),
    ("import runpy\nrunpy.run_path('x.py')", "runpy.run_path"),
    ("globals()['torch'] = fake", "globals"),
    ("import torch\nvars(torch)['allclose'] = 1", "vars(torch)"),
    ("vars()['grader'] = 1", "vars()"),
    ("import torch\ntorch.__dict__['allclose'] = 1", "torch.__dict__"),
    ("import torch\ntorch.Tensor.__eq__ = lambda s, o: True", "torch.Tensor.__eq__"),
    ("type(x).__eq__ = lambda s, o: True", "a __eq__ attribute"),
    ("def f():\n    pass\nf.__code__ = g.__code__", "__code__"),
    ("d = forbid.__globals__", "__globals__"),
    ("from unittest import mock\nmock.patch('torch.allclose', 1).start()",
     "unittest.mock.patch"),
    ("monkeypatch.setattr('torch.allclose', 1)", "monkeypatch"),
    ("import torch\ndef patch(m):\n    m.allclose = 1\npatch(torch)",
     "the module torch passed as a value"),
    ("get_ipython().user_ns['grader'] = 1", "get_ipython()"),
    ("%run helper.py", "the magic %run"),
    ("%load_ext autoreload", "the magic %load_ext"),
])
def test_what_static_analysis_cannot_follow_cannot_be_checked(source, words):
    assert (CANNOT, words) in _scan(source), _scan(source)


@pytest.mark.parametrize("source", [
    "import torch\ntorch.backends.cudnn.deterministic = True\ntorch.backends.cudnn.benchmark = 0",
    "import torch\ntorch.manual_seed(0)\ntorch.set_num_threads(1)\nimport numpy as np\n"
    "np.random.seed(0)",
    "import torch\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn",
    "import torch\ndef helper(a, b):\n    return torch.allclose(a, b)\nok = helper(x, x)",
    "import torch\nx = torch.zeros(3, requires_grad=True)\nx.data = torch.ones(3)\nx.grad = None",
    "class Net:\n    def __init__(self):\n        self.w = 1\n        self.__private = 2",
    "import sys\nif 'google.colab' in sys.modules:\n    pass\nsys.path.append('..')",
    "import sys\nloaded = sorted({'rich'} & set(sys.modules))\nn = len(sys.modules)",
    "%matplotlib inline\n!pip list\n%pip install tqdm",
    "import torch\nprint(torch.__version__)\ntorch",
    "import gc\ngc.collect()\nimport inspect\nsrc = inspect.getsource(len.__class__)",
    "eval('1 + 1')\nexec('y = 2')",
    "%%writefile notes.txt\nanything at all",
    "def gradient_matching_loss(a, b):\n    return sum(((x - y) ** 2).sum() for x, y in zip(a, b))",
    "this is not Python",  # the kernel cannot run it either: nothing of it runs
])
def test_settings_helpers_and_reimports_are_not_findings(source):
    assert _scan(source) == []


GIVEN = Teacher(
    given_sources=frozenset(),
    given_names={"torch": "torch", "np": "numpy", "F": "torch.nn.functional", "grader": "",
                 "images": "", "forbid": "dlgtut.classroom.forbid"},
    tests={"q1": frozenset({"gradient_matching_loss", "torch", "allclose", "forbid", "dlgtut"}),
           "q2": frozenset({"idlg_label", "torch"}),
           "q3": frozenset({"rec_image", "images", "torch"})},
)


def test_a_name_the_given_cells_bind_may_not_be_bound_again_but_by_the_same_import():
    import ast

    teacher = Teacher(frozenset({ast.dump(ast.parse("images = load()").body[0])}),
                      GIVEN.given_names, GIVEN.tests)
    for source, name in [("torch = Fake()", "torch"), ("import numpy as torch", "torch"),
                         ("np = None", "np"), ("grader = None", "grader"),
                         ("import contextlib\nforbid = contextlib.nullcontext", "forbid"),
                         ("def images():\n    pass", "images"), ("del grader", "grader"),
                         ("for images in []:\n    pass", "images"),
                         ("def f():\n    global images\n    images = 1", "images")]:
        assert _scan(source, teacher=teacher) == [("rebinds", name)], source
    for source in ["import torch", "import torch.nn", "import numpy as np",
                   "from dlgtut.classroom import forbid", "images = load()",
                   "def f():\n    images = 1\n    return images", "x = [images for images in []]",
                   "def gradient_matching_loss(a, b):\n    return 0"]:
        assert _scan(source, teacher=teacher) == [], source


def test_a_finding_touches_the_questions_whose_tests_it_reaches():
    cells = [(1, "code", "import torch"), (2, "code", "x = 1"), (3, "code", 'grader.check("q1")'),
             (4, "code", "y = 1"), (5, "code", 'grader.check("q2")'),
             (6, "code", 'grader.check("q3")')]
    auto = ("q1", "q2", "q3")

    def hit(cell, kind, name, scope):
        return touched(Finding(cell, kind, name, scope), GIVEN, cells, auto)

    # q1's tests mention allclose; and dlgtut's own source mentions it too, but only q1's
    # tests import dlgtut. The rebinding sits in q2's cells, so q2 as well; q3 keeps its points.
    assert hit(4, "rebinds", "torch.allclose", "attribute") == ("q1", "q2")
    assert hit(2, "rebinds", "torch.allclose", "attribute") == ("q1",)
    assert hit(2, "rebinds", "dlgtut.classroom.forbid", "attribute") == ("q1",)
    # A given name: the tests that mention it, and every question checked after the cell.
    assert hit(4, "rebinds", "images", "given") == ("q2", "q3")
    assert hit(2, "rebinds", "grader", "given") == auto
    # An operator or what cannot be checked: every question, wherever the cell is.
    assert hit(6, "cannot be checked", "a __eq__ attribute", "all") == auto
    assert hit(6, "rebinds", "torch.Tensor.__eq__", "attribute") == auto
    assert describe(Finding(4, "rebinds", "torch.allclose", "attribute"), ("q1", "q2")) == \
        "cell 4 rebinds torch.allclose (q1, q2)"
    assert describe(Finding(9, CANNOT, "exec of code built at run time", "all"), ()) == \
        "cell 9 cannot be checked: exec of code built at run time (no question)"


def test_a_notebook_or_otters_zip_is_read_and_anything_else_is_not(tmp_path):
    import io
    import json
    import zipfile

    nb = {"cells": [{"cell_type": "markdown", "source": "# A"},
                    {"cell_type": "code", "source": ["import torch\n", "torch.sum = 1"]}]}
    data = json.dumps(nb).encode()
    assert notebook_cells(data, "a.ipynb") == [(1, "markdown", "# A"),
                                                (2, "code", "import torch\ntorch.sum = 1")]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.ipynb", data)
        zf.writestr("a.pdf", b"%PDF")
    assert notebook_cells(buf.getvalue(), "a.zip") == notebook_cells(data)
    assert notebook_cells(b'{"cells": [', "b.ipynb") is None
    assert notebook_cells(b"PK\x03\x04 broken", "c.zip") is None
    zeroed, reasons = check(data, "a.ipynb", GIVEN, ("q1", "q2", "q3"))
    assert zeroed == {"q1"} or zeroed == set()  # q1 only if dlgtut's source mentions "sum"
    assert reasons and reasons[0].startswith("cell 2 rebinds torch.sum")
    assert check(b"garbage", "d.ipynb", GIVEN, ("q1",)) == (set(), [])


def test_no_assignment_solution_or_student_notebook_is_flagged(tmp_path):
    # Every assignment's reference solution and blank student notebook, as built and as
    # published: zero findings, with the assignment's own teacher's view and without one.
    pytest.importorskip("otter", reason="building needs otter-grader: pip install dlgtut[assign]")
    from pathlib import Path

    from dlgtut.classroom.build import build, find_masters
    from dlgtut.classroom.tamper import read_teacher

    root = Path(__file__).resolve().parents[2]
    masters = find_masters(root / "assignments")
    assert len(masters) >= 5
    for master in masters:
        b = build(master, tmp_path)
        teacher = read_teacher(b.autograder_zip, b.autograder_notebook)
        assert teacher.given_names and set(teacher.tests) == {
            q.name for q in b.questions if not q.manual}
        published = master.parent / "student" / f"{master.stem}.ipynb"
        for path in (b.autograder_notebook, b.student_notebook, published)[
                :3 if published.is_file() else 2]:  # an assignment not yet published: built
            cells = notebook_cells(path.read_bytes(), path.name)
            assert cells, path
            assert scan(cells, teacher) == [], path
            assert scan(cells) == [], path


def test_the_given_names_kept_are_those_a_test_can_see(tmp_path):
    # Imports, grader, the variables the tests take and what those are computed from, back
    # through the given cells; a given cell's scratch variable and "_" are not kept.
    import json
    import zipfile

    from dlgtut.classroom.tamper import read_teacher

    test = ("from otter.test_files import test_case\n\nOK_FORMAT = False\nname = 'q1'\n\n\n"
            "@test_case()\ndef test_q1(result, answer):\n    assert answer(result)\n")
    with zipfile.ZipFile(tmp_path / "ag.zip", "w") as zf:
        zf.writestr("tests/q1.py", test)
    cells = [("import torch\nimport otter\ngrader = otter.Notebook()", []),
             ("data = torch.ones(3)\nfig, _ = 1, 2\nscale = 2", []),
             ("def answer(x):\n    return x", ["otter_assign_solution_cell"]),
             ("result = data * scale", [])]
    nb = {"cells": [{"cell_type": "code", "source": src, "metadata": {"tags": tags}}
                    for src, tags in cells]}
    (tmp_path / "ag.ipynb").write_text(json.dumps(nb))
    teacher = read_teacher(tmp_path / "ag.zip", tmp_path / "ag.ipynb")
    assert teacher.given_names == {"torch": "torch", "otter": "otter", "grader": "",
                                   "data": "", "scale": "", "result": ""}
    assert set(teacher.digests) == {"q1"} and "answer" in teacher.tests["q1"]
    assert read_teacher(tmp_path / "ag.zip").given_names == {}  # no notebook: none known
