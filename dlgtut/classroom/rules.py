"""The one rule an assignment's tests enforce besides correctness: write what is asked yourself.

A question asks for one piece of an attack (iDLG's label rule, the gradient-matching loop,
LiRA's score) and lets the student call dlgtut for everything else. dlgtut already has each of
those pieces, so a test calls the student's function inside :func:`forbid`, which makes the
library's own version of that piece raise for the duration: a student's function that only
wraps the library fails, whatever name it imported it under.

The guard runs inside the student's kernel, so the student's code could replace it (a
``dlgtut.classroom.forbid`` that does nothing) or reach into it (``_refuse.__code__``). That
is not stopped here but seen by the grader, which reads every submission's code before it runs
(:mod:`.tamper`): such a submission is flagged and earns nothing on the questions whose tests
use the guard.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable, Iterator

from ..errors import WrongTypeError

__all__ = ["Forbidden", "forbid"]


class Forbidden(RuntimeError):
    """Raised by a library function that a question asks the student to write."""


def _refuse(*args, **kwargs):
    # This code runs as the forbidden function's, with that function's module as its globals:
    # it may only use builtins, so it imports the exception it raises.
    rules = __import__("dlgtut.classroom.rules", fromlist=["Forbidden"])
    raise rules.Forbidden("this question asks you to write this part yourself; dlgtut's own "
                          "version of it may not be called here (see the question)")


def _function(obj) -> types.FunctionType:
    if isinstance(obj, type):
        obj = obj.__dict__.get("__init__")
    if not isinstance(obj, types.FunctionType):
        raise WrongTypeError(f"forbid takes Python functions or classes, got {obj!r}")
    if obj.__code__.co_freevars:
        raise WrongTypeError(f"forbid cannot replace {obj.__qualname__}: it is a closure")
    return obj


@contextlib.contextmanager
def forbid(*functions: Callable) -> Iterator[None]:
    """Make the given library functions (or classes) raise :class:`Forbidden` while inside.

    The functions' code is swapped, not the names that point to them, so every reference (an
    ``import ... as``, a module attribute, a bound default) raises alike; it is restored on
    exit, also after an exception.

    Example:
        >>> import torch
        >>> from dlgtut.attacks import idlg_label
        >>> with forbid(idlg_label):  # doctest: +IGNORE_EXCEPTION_DETAIL
        ...     idlg_label(None)
        Traceback (most recent call last):
        dlgtut.classroom.rules.Forbidden: this question asks you to write this part yourself
        >>> idlg_label(torch.tensor([[1.0], [-1.0]]))  # restored on the way out
        1
    """
    targets = [_function(f) for f in functions]
    saved = [(f, f.__code__, f.__defaults__, f.__kwdefaults__) for f in targets]
    try:
        for f in targets:
            f.__code__ = _refuse.__code__
            f.__defaults__, f.__kwdefaults__ = None, None
        yield
    finally:
        for f, code, defaults, kwdefaults in saved:
            f.__code__, f.__defaults__, f.__kwdefaults__ = code, defaults, kwdefaults
