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


# Modules with the longest tests, and about how many seconds they take in all on one core
# (measured 2026-11-25). Under pytest-xdist each worker is dealt a contiguous block of the
# collection and, once done, steals from the end of another's; so the long modules are dealt
# out first, a whole module to one worker (its module fixtures are then built once), greedily
# by cost, and each worker's block is filled up with short tests. The workers then end on
# short tests, together. Order only: every test passes in any order (--random-order reshuffles
# after this).
LONG_MODULES = {
    "tests/test_book.py": 300,
    "tests/test_assignments.py": 200,
    "tests/attacks/gradient/test_dlg.py": 110,
    "tests/cli/test_flower.py": 70,
    "tests/attacks/gradient/test_inverting.py": 70,
    "tests/attacks/gradient/test_original.py": 45,
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    workers = getattr(config, "workerinput", {}).get("workercount", 1)  # on an xdist worker
    if workers < 2:
        return
    by_module: dict[str, list] = {}
    short = []
    for item in items:
        path = item.nodeid.split("::")[0]
        (by_module.setdefault(path, []) if path in LONG_MODULES else short).append(item)
    blocks: list[list] = [[] for _ in range(workers)]
    load = [0] * workers
    for path in sorted(by_module, key=lambda p: -LONG_MODULES[p]):
        k = load.index(min(load))
        blocks[k] += by_module[path]
        load[k] += LONG_MODULES[path]
    size = -(-len(items) // workers)  # the block each worker is dealt first
    for block in blocks:
        take = max(0, size - len(block))
        block += short[:take]
        short = short[take:]
    blocks[-1] += short
    items[:] = [item for block in blocks for item in block]
