"""Fixtures of the tests: the devices a test runs on, one-line refusals, the order of modules.

The state every test starts from (threads, seeds, no leaked globals) is set in the
repository's root ``conftest.py``, so that the doctests of ``dlgtut`` get it too.

Devices: a test that takes the ``device`` fixture runs on the CPU and again on CUDA; the CUDA
run is skipped, with the reason, on a machine without a CUDA device. A test that only makes
sense on CUDA (a CUDA result against the CPU one) takes the ``cuda`` fixture instead.
"""

from __future__ import annotations

import pytest
import torch

NO_CUDA = "needs a CUDA device; torch.cuda.is_available() is False on this machine"


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason=NO_CUDA))])
def device(request) -> torch.device:
    """The device a test runs on: the CPU, then CUDA when the machine has it."""
    return torch.device(request.param)


@pytest.fixture()
def cuda() -> torch.device:
    """The CUDA device, for a test that compares it with the CPU; skipped without one."""
    if not torch.cuda.is_available():
        pytest.skip(NO_CUDA)
    return torch.device("cuda")


@pytest.fixture()
def refused():
    """``refused(error, fragment, fn, *args, **kwargs)``: ``fn`` raises ``error`` in one line.

    The message must contain ``fragment`` (plain text, not a pattern) and no line break: bad
    input ends in one line the user can act on, never in a traceback from deep inside torch.
    """

    def check(error: type[Exception], fragment: str, fn, *args, **kwargs) -> Exception:
        with pytest.raises(error) as info:
            fn(*args, **kwargs)
        message = str(info.value)
        assert fragment in message, f"{fragment!r} not in {message!r}"
        assert "\n" not in message, f"the message has more than one line: {message!r}"
        return info.value

    return check


# Modules with the longest tests (15-70 s each, measured 2026-11-25), run first: the two xdist
# workers then finish on short tests and end together instead of one waiting for the other's
# last chapter. Order only: every test passes in any order (--random-order reshuffles after).
LONG_FIRST = (
    "tests/test_book.py",
    "tests/test_assignments.py",
    "tests/attacks/gradient/test_original.py",
    "tests/attacks/gradient/test_dlg.py",
    "tests/attacks/gradient/test_inverting.py",
    "tests/cli/test_flower.py",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        path = item.nodeid.split("::")[0]
        return LONG_FIRST.index(path) if path in LONG_FIRST else len(LONG_FIRST)

    items.sort(key=rank)  # stable: each module keeps its own order
