"""Import Flower without reaching Flower's servers, and leave the environment as it was.

Flower's telemetry reads its switch (``FLWR_TELEMETRY_ENABLED``) once, when it is imported, and
its update check reads ``FLWR_DISABLE_UPDATE_CHECK`` when it runs. Importing this module imports
Flower with both switches set to "off" (unless the caller set them) and then restores the
environment; :func:`dlgtut.federation.simulation.flower_environment` sets them again, the same
way, while a federation runs.
"""

from __future__ import annotations

import os

from ..processes import restore_environ

QUIET_FLOWER = {"FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1"}
"""Flower's switches that stop it reaching its servers (telemetry, the update check)."""


def _import_flower_quietly() -> None:
    saved = dict(os.environ)  # all of it: whatever the import writes is undone too
    for key, value in QUIET_FLOWER.items():
        os.environ.setdefault(key, value)
    try:
        import flwr  # noqa: F401
        import flwr.supercore.telemetry  # noqa: F401  (reads its switch at import)
    except ImportError as err:  # pragma: no cover - exercised without the extra
        raise ImportError(
            "dlgtut.federation needs Flower: pip install \"dlgtut[flower]\"") from err
    finally:
        restore_environ(saved)


_import_flower_quietly()
