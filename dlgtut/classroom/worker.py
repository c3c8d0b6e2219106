"""Grade one submission with otter, in a process of its own; :mod:`.grading` starts it.

``python -m dlgtut.classroom.worker AUTOGRADER SUBMISSION --result-fd N --cell-timeout S``
runs otter's non-containerised grading (``otter.api.grade_submission``) and writes its result
to the pipe ``N`` the parent opened, a JSON object: ``{"ok": true, "questions": {name: [score,
possible]}, "tests": {name: fingerprint of the test file that ran}}`` (the grading process
checks them: :func:`.tamper.checked_tests`) or ``{"ok": false, "reason": "..."}``. Whatever
goes wrong, it writes the reason rather than a traceback; the parent kills it (and the
notebook's kernel) if it runs past the submission's time limit.

The result travels by a pipe, not a file, so that the notebook's kernel (a child of this
process, which does not inherit the pipe) cannot write one of its own in its place, nor can a
process it leaves behind write one late. On Linux the worker also makes itself non-dumpable, so
that another process of the same user cannot open the pipe through ``/proc/<pid>/fd`` (a
process with root's rights still can: grade as an ordinary user).

Three things otter does not do, done here: each cell of the submission gets a time limit (a cell
that runs past it is interrupted, scores what its question's tests then find, and the rest of
the notebook still runs); a result of 0 possible points, which is how otter reports a
notebook it could not grade at all, is a failure with its reason, not a score; and what the
kernel sends back (otter's results, its log records) is unpickled by unpicklers that accept
otter's result classes only, not by ``pickle.load``, which would run any function a pickle
names, here in the grader (:func:`_safe_unpickling`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pickle
import sys
import types
from pathlib import Path

__all__ = ["grade", "main"]


def _limit_cells(cell_timeout: float) -> None:
    """Make otter's notebook execution interrupt any cell that runs past ``cell_timeout``.

    ``otter.execute.grade_notebook`` builds its traitlets ``Config`` itself; the cell timeout
    goes into that object before otter fills in its own settings (otter 7.0.0, pinned). So does
    the kernel client, :class:`~dlgtut.notebook_client.SteppedKernelClient`: a reply that the
    client's poll does not wake up for would otherwise wait out the cell's time limit and could
    push a correct submission past its own.
    """
    import otter.execute as execute
    from traitlets.config import Config

    from ..notebook_client import SteppedKernelClient

    def config() -> Config:
        c = Config()
        c.ExecutePreprocessor.timeout = int(max(1, round(cell_timeout)))
        c.ExecutePreprocessor.interrupt_on_timeout = True
        c.AsyncKernelManager.client_factory = SteppedKernelClient  # nbclient's kernel manager
        return c

    execute.Config = config


class _ResultsUnpickler(pickle.Unpickler):
    """Unpickles otter's grading results and nothing else.

    otter's results come back from the notebook's kernel as a pickle the kernel writes, and a
    pickle can name any function to call: a plain ``pickle.load`` would run whatever the
    student's code put there inside this process. Only classes and functions that otter's
    ``otter.test_files`` modules themselves define are let through.
    """

    def find_class(self, module: str, name: str):
        if (module == "otter.test_files" or module.startswith("otter.test_files.")) \
                and "." not in name:
            obj = super().find_class(module, name)
            if getattr(obj, "__module__", "").startswith("otter.test_files"):
                return obj
        raise pickle.UnpicklingError(f"the grading results name {module}.{name}, which otter's "
                                     "results never hold: refused")


class _LogUnpickler(pickle.Unpickler):
    """Unpickles a log record's attributes (plain values) and nothing that names code."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"a log record names {module}.{name}: refused")


def _safe_unpickling() -> None:
    """Make otter unpickle what the notebook's kernel sends with the two classes above.

    otter 7.0.0 (pinned) loads the results with ``otter.execute.pickle.load`` and the kernel's
    log records, sent to a TCP port on this machine, with ``LogRecordStreamHandler.unpickle``.
    """
    import otter.execute as execute
    import otter.execute.logging as logs

    execute.pickle = types.SimpleNamespace(load=lambda f: _ResultsUnpickler(f).load())
    logs.LogRecordStreamHandler.unpickle = \
        lambda self, data: _LogUnpickler(io.BytesIO(data)).load()


def _reason(exc: BaseException) -> str:
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    if name == "DeadKernelError":
        return "the notebook's kernel died (it crashed or ran out of memory)"
    return f"{name}: {text[:300]}" if text else name


def grade(autograder: str, submission: str, cell_timeout: float) -> dict:
    """Grade ``submission`` with the ``autograder`` zip; the result as :mod:`.worker` writes it."""
    path = Path(submission)
    if path.suffix == ".ipynb":
        import nbformat

        try:
            nbformat.read(path, as_version=4)
        except Exception as exc:  # any unreadable file is the same failure
            return {"ok": False, "reason": f"not a readable notebook ({type(exc).__name__})"}
    _limit_cells(cell_timeout)
    _safe_unpickling()
    from otter.api import grade_submission

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            results = grade_submission(str(path), autograder, quiet=True)
    except Exception as exc:  # otter raises many kinds; each is a reason
        return {"ok": False, "reason": _reason(exc)}
    questions = {name: [float(r.score), float(r.possible)]
                 for name, r in sorted(results.results.items())}
    if not results.possible > 0:  # otter's way of saying that nothing could be graded
        error = results.catastrophic_error
        why = _reason(error) if error is not None else "no test could be run"
        return {"ok": False, "reason": f"otter could not grade it: {why}"}
    from .tamper import digest

    tests = {name: digest(getattr(r, "source", None)) for name, r in results.results.items()}
    return {"ok": True, "questions": questions, "tests": tests,
            "notes": _notes(results.notebook, cell_timeout)}


def _notes(executed, cell_timeout: float) -> list[str]:
    """What the instructor should know about a graded notebook: cells cut off at the limit."""
    interrupted = 0
    for cell in getattr(executed, "cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if output.get("output_type") == "error" and output.get("ename") == "KeyboardInterrupt":
                interrupted += 1
    if not interrupted:
        return []
    cells = "a cell was" if interrupted == 1 else f"{interrupted} cells were"
    return [f"{cells} interrupted at the cell limit of {cell_timeout:g} s"]


def _not_dumpable() -> None:
    """Linux: forbid other processes of this user to open our pipe via /proc or to trace us."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
        except (OSError, AttributeError):  # no prctl: nothing more to do here
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlgtut.classroom.worker")
    parser.add_argument("autograder")
    parser.add_argument("submission")
    parser.add_argument("--result-fd", type=int, required=True)
    parser.add_argument("--cell-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    os.set_inheritable(args.result_fd, False)  # the kernel and what it starts never get it
    _not_dumpable()
    try:
        result = grade(args.autograder, args.submission, args.cell_timeout)
    except BaseException as exc:  # the parent reads the reason, not a traceback
        result = {"ok": False, "reason": _reason(exc)}
    with os.fdopen(args.result_fd, "w", encoding="utf-8") as pipe:
        pipe.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
