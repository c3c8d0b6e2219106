"""The teacher's grading seed: what the hidden tests draw their unseen data from.

The masters are public, hidden tests included. So that a student cannot read which data is
graded, a hidden test does not name its data: it draws it (which images, generator seeds,
shapes, models' seeds) from the identifier ``GRADING_SEED``, and the build writes the teacher's
integer in its place, in the hidden tests only, which go into the autograder zip alone. The
teacher gives it as ``python3 dev.py assignments --grading-seed N`` or in the environment
variable ``DLGTUT_GRADING_SEED`` (the option wins); without either, the build uses the public
:data:`PUBLIC_SEED` and says so. The seed a build used is recorded beside its autograder
(:func:`write_record`, :func:`read_record`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from ..errors import ConfigError

__all__ = [
    "NAME",
    "ENV",
    "PUBLIC_SEED",
    "RECORD",
    "parse_seed",
    "resolve_seed",
    "uses_seed",
    "substitute",
    "write_record",
    "read_record",
]

NAME = "GRADING_SEED"
ENV = "DLGTUT_GRADING_SEED"
PUBLIC_SEED = 0  # anyone can read it here: a course sets its own
RECORD = "grading_seed.json"  # in <build>/<name>/autograder/
LIMIT = 2 ** 31

_WORD = re.compile(rf"\b{NAME}\b")


def parse_seed(value: str | int, source: str = "the grading seed") -> int:
    """``value`` as a seed: an integer with ``0 <= seed < 2**31``.

    Raises:
        ConfigError: anything else (a bool, a float, text that is not a whole number).
    """
    if isinstance(value, bool):
        raise ConfigError(f"{source} must be a whole number, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise ConfigError(f"{source} must be a whole number, got {value!r}")
        value = int(text)
    if not isinstance(value, int):
        raise ConfigError(f"{source} must be a whole number, got {value!r}")
    if not 0 <= value < LIMIT:
        raise ConfigError(f"{source} must be at least 0 and below 2**31, got {value}")
    return value


def resolve_seed(given: str | int | None = None,
                 environ: Mapping[str, str] | None = None) -> tuple[int, str]:
    """The seed to build with and where it came from.

    ``given`` (the command line's ``--grading-seed``) wins over ``DLGTUT_GRADING_SEED`` in
    ``environ`` (default ``os.environ``; an empty value counts as unset); without either, the
    public :data:`PUBLIC_SEED`, with the source ``"public default"``.

    Raises:
        ConfigError: the value given is not a seed (:func:`parse_seed`).
    """
    environ = os.environ if environ is None else environ
    if given is not None:
        return parse_seed(given, "--grading-seed"), "--grading-seed"
    if environ.get(ENV, "").strip():
        return parse_seed(environ[ENV], ENV), ENV
    return PUBLIC_SEED, "public default"


def uses_seed(source: str) -> bool:
    """Whether a cell's source names ``GRADING_SEED``."""
    return bool(_WORD.search(source))


def substitute(source: str, seed: int) -> str:
    """``source`` with every ``GRADING_SEED`` identifier replaced by the integer ``seed``."""
    return _WORD.sub(str(parse_seed(seed)), source)


def write_record(autograder_dir: str | Path, seed: int, source: str, hidden_tests: int) -> Path:
    """Write which seed a build used into ``autograder_dir/grading_seed.json``."""
    path = Path(autograder_dir) / RECORD
    path.write_text(json.dumps({"grading_seed": seed, "source": source,
                                "hidden_tests_seeded": hidden_tests}, indent=2) + "\n")
    return path


def read_record(autograder_dir: str | Path) -> dict | None:
    """What :func:`write_record` wrote (``grading_seed``, ``source``, ``hidden_tests_seeded``),
    or None for a build without a record (made before seeds were recorded)."""
    path = Path(autograder_dir) / RECORD
    if not path.is_file():
        return None
    return json.loads(path.read_text())
