"""The wheel that stands in for the release in the reader check: built as a release is."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build_wheel(out: Path) -> Path:
    """Build dlgtut's sdist, then the wheel from it, into ``out`` (tools/release.py); the wheel."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from release import build_dists
    finally:
        sys.path.remove(str(ROOT / "tools"))
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    _, wheel = build_dists(out)
    return wheel
