"""The processes this one started, directly or not, found with psutil (an optional extra).

Both the classroom's grader (every process a submission started) and the Flower simulation
(Ray's GCS, raylet and workers) must leave nothing running behind them.
"""

from __future__ import annotations

__all__ = ["descendants"]


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
