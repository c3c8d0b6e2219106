"""Classroom assignments: built with otter-grader, checked by students, graded in bulk.

Each assignment is a master notebook, ``assignments/<name>/<name>.md`` (MyST, as the chapters
are), holding the questions, their solutions and their public and hidden tests in otter's
format. From it:

* :mod:`.build` makes the student notebook with its public tests and the autograder
  (``python3 dev.py assignments``), and keeps the published student copy in
  ``assignments/<name>/student/``, which Colab opens;
* :mod:`.rules` keeps a student's answer from only wrapping dlgtut's own version of it
  (:func:`~.rules.forbid`, used by the tests);
* :mod:`.colab` fetches an assignment's public tests where the notebook runs without them
  (Colab);
* :mod:`.grading` grades a folder of submitted notebooks into one CSV, each submission in its
  own process with a time limit (``python -m dlgtut grade``).

Everything here needs the optional extra ``dlgtut[assign]`` (otter-grader), imported only when
a function needs it: importing dlgtut, or running its other commands, never imports otter.
Grading runs the students' code as it is, without a sandbox.
"""

from .colab import fetch_public_tests
from .rules import Forbidden, forbid

__all__ = ["fetch_public_tests", "forbid", "Forbidden"]
