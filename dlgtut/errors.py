"""The exceptions dlgtut raises on purpose.

Every one of them carries a one-line message meant for the user; the command line prints that
message and exits with status 2 instead of showing a stack trace.
"""

from __future__ import annotations

__all__ = ["DlgtutError", "DataError", "ConfigError", "AttackError", "WrongTypeError"]


class DlgtutError(Exception):
    """Base class of every error that dlgtut raises deliberately."""


class DataError(DlgtutError, ValueError):
    """Input data is missing, unreadable or of the wrong shape or range."""


class ConfigError(DlgtutError, ValueError):
    """An option or a combination of options is invalid."""


class AttackError(DlgtutError, RuntimeError):
    """An attack cannot run on what it was given."""


class WrongTypeError(DlgtutError, TypeError):
    """An argument is of the wrong kind (a private batch where a shared update belongs, ...)."""
