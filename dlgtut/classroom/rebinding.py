"""Find, in a notebook's code, where it rebinds what an assignment's tests or its grader call.

otter runs the hidden tests inside the student's kernel, after the student's code: a cell that
rebinds ``torch.allclose``, or replaces ``dlgtut.classroom.forbid`` with a context manager that
does nothing, changes what the tests find, and nothing that runs in that kernel can be trusted
to notice. So :func:`scan` reads the notebook's text with :mod:`ast` (after IPython's own
rewriting of magics), in the grading process, before any of it runs. A :class:`Finding` is:

* ``rebinds NAME``: an attribute of a protected package (``PROTECTED``: torch, numpy, scipy,
  scikit-learn, dlgtut, otter, the standard modules the grader leans on) is assigned, deleted,
  augmented or ``setattr`` with a literal name (``torch.allclose = ...``, ``del torch.x``,
  ``dlgtut.classroom.forbid = ...``), also through an alias (``import torch.nn.functional as
  F``; ``t = torch``) or in code given to ``exec`` as a literal string; or a name the teacher's
  given cells bind (``torch``, ``np``, ``grader``, a variable a test takes) is bound again at
  the top level by other than the same import or the same statement. Settings are not findings
  (``torch.backends.cudnn.deterministic = True``; a call such as ``torch.manual_seed`` never
  is), nor is the student's definition of the function a question asks for.
* ``cannot be checked: WHAT``: code whose effect static analysis cannot follow: ``exec``,
  ``eval`` or ``compile`` of code built at run time, ``setattr``/``delattr`` with a computed
  name, ``__import__``, ``importlib``, ``runpy``, ``ctypes``, ``sys.modules`` (but for ``x in
  sys.modules``) and the interpreter's hooks, frames (``sys._getframe``, ``inspect.stack``,
  ``f_globals``), ``gc.get_objects``, ``globals()``, ``vars()`` of a protected module, a
  protected module's ``__dict__``, function internals (``__code__``, ``__globals__``), a write
  to any dunder attribute (``torch.Tensor.__eq__``), ``unittest.mock``, ``monkeypatch``, a
  protected module handed to a function as a value, ``get_ipython()``, and every magic but a
  few harmless ones (``%matplotlib``, ``%pip``, shell lines, ``%%writefile``, ``%%time`` whose
  code is scanned).

What it cannot see: code outside the notebook (a file the notebook writes and then imports, a
package the student installs), and a rebinding through an object that reaches a function as an
argument other than a module (``def f(c): c.allclose = ...; f(torch.Tensor)``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

__all__ = ["Finding", "Teacher", "scan", "top_bindings", "CANNOT"]

PROTECTED = frozenset({"torch", "numpy", "scipy", "sklearn", "dlgtut", "otter", "pytest",
                       "builtins", "math", "sys", "inspect", "gc", "types", "functools",
                       "operator", "unittest"})
# Assigned attributes that are settings, not functions a test calls.
SETTINGS = ("torch.backends.", "sys.stdout", "sys.stderr", "numpy.random.seed")
# Any use of these (or an attribute of them) cannot be checked.
DYNAMIC = ("importlib", "runpy", "ctypes", "gc.get_objects", "gc.get_referrers",
           "gc.get_referents", "sys._getframe", "sys.settrace", "sys.setprofile", "sys.modules",
           "sys.meta_path", "sys.path_hooks", "sys.path_importer_cache", "sys.addaudithook",
           "inspect.currentframe", "inspect.stack", "inspect.trace", "inspect.getouterframes",
           "inspect.getinnerframes", "unittest.mock", "mock", "types.FunctionType",
           "types.CodeType", "types.ModuleType", "pytest.MonkeyPatch", "_pytest", "builtins",
           "threading.settrace")
DUNDER_READS = frozenset({"__globals__", "__builtins__", "__code__", "__closure__",
                          "__subclasses__", "__setattr__", "__delattr__", "__kwdefaults__",
                          "__defaults__", "f_globals", "f_locals", "f_back", "f_builtins",
                          "tb_frame", "gi_frame", "cr_frame", "ag_frame"})
BUILTIN_ESCAPES = frozenset({"__import__", "globals", "breakpoint", "monkeypatch",
                             "__builtins__"})
SAFE_LINE_MAGICS = frozenset({"matplotlib", "pip", "conda", "cd", "pwd", "ls", "who", "whos",
                              "precision", "env", "config_inline"})
CODE_MAGICS = frozenset({"time", "timeit", "capture", "prun"})  # their code runs here: scanned
OTHER_CELL_MAGICS = frozenset({"bash", "sh", "html", "HTML", "markdown", "latex", "javascript",
                               "js", "svg", "writefile", "script"})
NAME_READERS = frozenset({"set", "sorted", "len", "list", "frozenset", "tuple"})
CANNOT = "cannot be checked"


@dataclass(frozen=True)
class Finding:
    """One thing a submission does that the grade cannot be trusted after.

    Attributes:
        cell: the cell's position in the notebook, counting every cell from 1.
        kind: ``"rebinds"`` or ``"cannot be checked"``.
        name: what is rebound (``torch.allclose``) or what cannot be followed (``exec``).
        scope: ``"attribute"``, ``"given"`` (a name the given cells bind) or ``"all"``.
    """

    cell: int
    kind: str
    name: str
    scope: str


@dataclass(frozen=True)
class Teacher:
    """What the grader knows of an assignment: its given cells and what each test mentions.

    Attributes:
        given_sources: the given (non-answer) code cells' statements, as :func:`ast.dump`.
        given_names: name -> the import it is bound to (``"torch"``), or ``""`` when the given
            cells define it; the answer cells' names are left out.
        tests: auto-graded question -> every identifier its tests (public and hidden) mention.
        digests: question -> :func:`.tamper.digest` of its test file as the zip holds it.
    """

    given_sources: frozenset[str]
    given_names: dict[str, str]
    tests: dict[str, frozenset[str]]
    digests: dict[str, str] = field(default_factory=dict)


def _transform(source: str) -> str:
    """IPython's view of a cell: magics and shell lines become ``get_ipython()`` calls."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # no IPython: the cell as it is
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - IPython could not read it: neither can the kernel
        return source


def parse_cell(source: str) -> ast.Module | None:
    try:
        return ast.parse(_transform(source))
    except (SyntaxError, ValueError):  # the kernel cannot run it either: nothing of it runs
        return None


def _dynamic(q: str | None) -> bool:
    return q is not None and any(q == d or q.startswith(d + ".") for d in DYNAMIC)


def _protected(q: str | None) -> bool:
    return q is not None and q.split(".")[0] in PROTECTED


def is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and name != "__doc__"


class _Scanner(ast.NodeVisitor):
    """Walks one notebook's cells in order, keeping the aliases of protected names."""

    def __init__(self, teacher: Teacher | None, cell: int):
        self.teacher = teacher
        self.cell = cell
        self.aliases: dict[str, str] = {}  # name -> qualified protected or dynamic name
        self.modules: set[str] = set()  # names bound by ``import x`` (modules, not objects)
        self.findings: list[Finding] = []
        self.depth = 0  # 0: the notebook's top level
        self.global_names: set[str] = set()
        self.given_cell = False
        self.bindings: dict[str, str] = {}  # top_bindings' result

    # -- what a name or an attribute chain stands for ---------------------------------------
    def qual(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.qual(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def find(self, kind: str, name: str, scope: str) -> None:
        if self.given_cell:  # the teacher's own statement, unchanged
            return
        f = Finding(self.cell, kind, name, scope)
        if f not in self.findings:
            self.findings.append(f)

    def top_bindings(self, tree: ast.AST) -> dict[str, str]:
        """The names a cell binds at the top level: name -> import target or ``""``."""
        self.bindings = {}
        self.visit(tree)
        return self.bindings

    # -- bindings ---------------------------------------------------------------------------
    def _bind(self, name: str, target: str, stmt: ast.AST | None) -> None:
        if not (self.depth == 0 or name in self.global_names):
            return
        self.bindings[name] = target
        t = self.teacher
        if t is None or self.given_cell or name not in t.given_names:
            return
        if target and t.given_names[name] == target:  # the same import again
            return
        if stmt is not None and ast.dump(stmt) in t.given_sources:  # a given statement, copied
            return
        self.find("rebinds", name, "given")

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        for a in node.names:
            if isinstance(node, ast.Import):
                target = a.name if a.asname else a.name.split(".")[0]
                name = a.asname or a.name.split(".")[0]
                self.modules.add(name)
            elif node.level or a.name == "*":
                continue
            else:
                target, name = f"{node.module}.{a.name}", a.asname or a.name
                self.modules.discard(name)
            if _protected(target) or _dynamic(target):
                self.aliases[name] = target
            else:
                self.aliases.pop(name, None)
            self._bind(name, target, node)

    visit_Import = visit_ImportFrom = _import

    def _stmt_targets(self, node: ast.AST, targets) -> None:
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                    self.aliases.pop(sub.id, None)
                    self._bind(sub.id, "", node)
            self._write(target)

    def visit_Assign(self, node: ast.Assign) -> None:
        if not (isinstance(node.value, ast.Name) and node.value.id in self.modules
                and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            self.visit(node.value)  # (t = torch is an alias, followed below)
        self._stmt_targets(node, node.targets)
        alias = self.qual(node.value)
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and alias:
            self.aliases[node.targets[0].id] = alias  # t = torch; t.allclose = ... is seen
            if isinstance(node.value, ast.Name) and node.value.id in self.modules:
                self.modules.add(node.targets[0].id)

    def visit_AugAssign(self, node: ast.AugAssign | ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self._stmt_targets(node, [node.target])

    visit_AnnAssign = visit_AugAssign

    def visit_Delete(self, node: ast.Delete) -> None:
        self._stmt_targets(node, node.targets)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self._stmt_targets(node, [node.target])
        for stmt in node.body + node.orelse:
            self.visit(stmt)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._stmt_targets(node, [item.optional_vars])
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncWith = visit_With

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._stmt_targets(None, [node.target])

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self._bind(node.name, "", None)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        self.global_names.update(node.names)

    def _scope(self, node: ast.AST, name: str | None) -> None:
        if name is not None:
            self.aliases.pop(name, None)
            self._bind(name, "", node)
        for d in getattr(node, "decorator_list", []):
            self.visit(d)
        saved = self.global_names
        self.depth, self.global_names = self.depth + 1, set()
        for part in ("args", "bases", "keywords", "body", "elt", "key", "value",
                     "generators"):
            value = getattr(node, part, None)
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    self.visit(child)
        self.depth, self.global_names = self.depth - 1, saved

    def visit_FunctionDef(self, node) -> None:
        self._scope(node, node.name)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Lambda(self, node) -> None:
        self._scope(node, None)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_Lambda

    # -- writes through attributes and subscripts --------------------------------------------
    def _write(self, target: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self._write(t)
        elif isinstance(target, ast.Starred):
            self._write(target.value)
        elif isinstance(target, ast.Attribute):
            self._base(target.value)
            q = self.qual(target)
            if is_dunder(target.attr):
                self.find(CANNOT, q or f"a {target.attr} attribute", "all")
            elif q and not q.startswith(SETTINGS) and _protected(q):
                self.find("rebinds", q, "attribute")
        elif isinstance(target, ast.Subscript):
            self._base(target.value)
            self.visit(target.slice)
            q = self.qual(target.value)
            if _protected(q) and not _dynamic(q) and not (q or "").startswith(SETTINGS):
                self.find(CANNOT, f"{q}[...]", "all")

    # -- reads and calls ----------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            return
        if node.id in BUILTIN_ESCAPES and node.id not in self.aliases:
            self.find(CANNOT, node.id, "all")
        elif _dynamic(self.aliases.get(node.id)):
            self.find(CANNOT, self.aliases[node.id], "all")
        elif node.id in self.modules and node.id in self.aliases:  # a module handed around
            self.find(CANNOT, f"the module {self.aliases[node.id]} passed as a value", "all")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        q = self.qual(node)
        if _dynamic(q):
            self.find(CANNOT, q, "all")
            return
        if node.attr in DUNDER_READS or (node.attr == "__dict__" and _protected(
                self.qual(node.value))):
            self.find(CANNOT, q or node.attr, "all")
        self._base(node.value)  # torch.x: reading an attribute is not handing the module on

    def visit_Compare(self, node: ast.Compare) -> None:
        if (len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn))
                and self.qual(node.comparators[0]) == "sys.modules"):
            self.visit(node.left)  # "google.colab" in sys.modules only reads it
        else:
            self.generic_visit(node)

    def _base(self, node: ast.AST) -> None:
        """Visit what an attribute is read from or written to (a module there is not handed on)."""
        if not (isinstance(node, ast.Name) and node.id in self.modules):
            self.visit(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        self._base(node.value)  # a module shown as a cell's last value is not handed on

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        name = f.id if isinstance(f, ast.Name) and f.id not in self.aliases else None
        if self._magic(node):
            return
        if name in ("exec", "eval", "compile"):
            code = node.args[0] if node.args else None
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                tree = parse_cell(code.value)
                if tree is not None:
                    for stmt in tree.body:
                        self.visit(stmt)
            else:
                self.find(CANNOT, f"{name} of code built at run time", "all")
        elif name in ("setattr", "delattr") and len(node.args) >= 2:
            obj, attr = node.args[0], node.args[1]
            q = self.qual(obj)
            if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
                self.find(CANNOT, f"{name} with a computed name", "all")
            elif is_dunder(attr.value):
                self.find(CANNOT, f"{name} of {attr.value}", "all")
            elif _protected(q) and not f"{q}.{attr.value}".startswith(SETTINGS):
                self.find("rebinds", f"{q}.{attr.value}", "attribute")
        elif name == "vars" and (not node.args or _protected(self.qual(node.args[0]))):
            self.find(CANNOT, "vars()" if not node.args else f"vars({self.qual(node.args[0])})",
                      "all")
        self.visit(f)
        for i, arg in enumerate(node.args):  # setattr(torch, ...) is judged above
            if i == 0 and name in ("setattr", "delattr", "vars", "getattr", "hasattr"):
                self._base(arg)
            elif name in NAME_READERS and self.qual(arg) == "sys.modules":
                continue  # set(sys.modules) reads the modules' names only
            else:
                self.visit(arg)
        for kw in node.keywords:
            self.visit(kw)

    def _magic(self, node: ast.Call) -> bool:
        """Handle ``get_ipython().run_line_magic(...)`` and its kind; True when handled."""
        f = node.func
        if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Call)
                and isinstance(f.value.func, ast.Name) and f.value.func.id == "get_ipython"):
            return False
        args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
        if f.attr in ("system", "getoutput"):  # a shell command: another process
            return True
        magic = args[0] if args else None
        if f.attr == "run_line_magic" and magic in SAFE_LINE_MAGICS:
            return True
        if f.attr in ("run_line_magic", "run_cell_magic") and magic in CODE_MAGICS:
            for code in args[1:]:
                tree = parse_cell(code) if isinstance(code, str) else None
                for stmt in tree.body if tree is not None else []:
                    self.visit(stmt)
            return True
        if f.attr == "run_cell_magic" and magic in OTHER_CELL_MAGICS:
            return True
        self.find(CANNOT, f"the magic %{magic}" if isinstance(magic, str) else "get_ipython()",
                  "all")
        return True


def scan(cells, teacher: Teacher | None = None) -> list[Finding]:
    """Every finding in a notebook's code cells, in order (the module docstring says which)."""
    s = _Scanner(teacher, 0)
    for position, kind, source in cells:
        if kind != "code":
            continue
        s.cell = position
        if re.search(r"\bget_ipython\b", source):
            s.find(CANNOT, "get_ipython()", "all")
        tree = parse_cell(source)
        if tree is None:
            continue
        for stmt in tree.body:
            s.given_cell = teacher is not None and ast.dump(stmt) in teacher.given_sources
            s.visit(stmt)
        s.given_cell = False
    return s.findings


def top_bindings(tree: ast.AST) -> dict[str, str]:
    """The names a cell binds at its top level: name -> the import bound, or ``""``."""
    return _Scanner(None, 0).top_bindings(tree)
