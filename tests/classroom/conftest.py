"""A tiny assignment (``demo/demo.md``: two code questions and a written one), built once."""

from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parent / "demo" / "demo.md"


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The demo assignment built by the code dev.py runs: ``(build folder, Built)``."""
    pytest.importorskip("otter", reason="building needs otter-grader: pip install dlgtut[assign]")
    from dlgtut.classroom.build import build

    out = tmp_path_factory.mktemp("demo-build")
    return out, build(DEMO, out)
