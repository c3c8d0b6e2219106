"""What this process leaves behind: the processes it started, and its environment.

Both the classroom's grader (every process a submission started) and the Flower simulation
(Ray's GCS, raylet and workers) must leave nothing running behind them (:func:`descendants`,
found with psutil, an optional extra). Importing Flower and running Ray write environment
variables into this process, which every Python started later inherits: :func:`restore_environ`
puts the environment back as it was.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["descendants", "restore_environ"]


def restore_environ(saved: Mapping[str, str]) -> None:
    """Make ``os.environ`` equal to ``saved`` (a ``dict(os.environ)`` taken before): variables
    added since are removed, changed or removed ones set back.

    Example:
        >>> saved = dict(os.environ)
        >>> os.environ["DLGTUT_EXAMPLE"] = "1"
        >>> restore_environ(saved)
        >>> "DLGTUT_EXAMPLE" in os.environ
        False
    """
    for key in set(os.environ) - set(saved):
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def descendants(pid: int | None = None) -> list:
    """The children, grandchildren, ... of ``pid`` (this process when None) as
    ``psutil.Process`` objects; empty when psutil is not installed or the process is gone.

    Example:
        >>> import os
        >>> all(p.pid != os.getpid() for p in descendants())
        True
    """
    try:
        import psutil
    except ImportError:
        return []
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
