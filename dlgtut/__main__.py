"""``python -m dlgtut``: see :mod:`dlgtut.cli`."""

from .cli import entry

entry()
