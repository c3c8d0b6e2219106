"""dlgtut: how private training data leaks out of federated learning.

The library behind the book: models, real data, the honest federated participant, the attacks
(deep leakage from gradients and its successors), metrics and figures.
"""

from importlib import metadata as _metadata


def _version() -> str:
    """The installed distribution's version: pyproject.toml's, the one place it is set."""
    try:
        return _metadata.version("dlgtut")
    except _metadata.PackageNotFoundError:  # a fork may publish the package under its own name
        names = _metadata.packages_distributions().get("dlgtut") or []
        return _metadata.version(names[0]) if names else "0+unknown"


__version__ = _version()
