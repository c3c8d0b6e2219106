"""Every test starts from the same global state and leaves none behind.

The numbers an attack produces depend on more than its seed: torch's thread count changes the
order of float reductions (a fresh clone once failed a test by 0.002 SSIM because an earlier
test had left torch single-threaded), and anything drawn from a global generator depends on
what ran before. So, for every module and every test:

* torch runs on ``DLGTUT_TEST_THREADS`` threads (default 1, which is also the fastest for the
  small models the tests use), whatever the machine has or the previous test set, and so do
  the processes the tests start (``OMP_NUM_THREADS``);
* the global generators of torch, numpy and ``random`` are seeded with 0;
* a test that changes the default dtype or turns gradients off globally fails.

With that, a test passes or fails the same way alone, in the file's order and in random order
(``python3 dev.py test --random-order``).

Devices: a test that takes the ``device`` fixture runs on the CPU and again on CUDA; the CUDA
run is skipped, with the reason, on a machine without a CUDA device. A test that only makes
sense on CUDA (a CUDA result against the CPU one) takes the ``cuda`` fixture instead.
"""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

THREADS = int(os.environ.get("DLGTUT_TEST_THREADS", "1"))
# The processes tests start (notebook kernels, the CLI, graded submissions, Ray's workers) use as
# many threads as the tests themselves: with tests on every core (pytest-xdist), a kernel on
# torch's default two threads beside another worker ran a chapter 6x slower (73 s, 12 s alone).
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = str(THREADS)


def _reset() -> None:
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002 (the legacy global generator is what we reset)
    random.seed(0)


@pytest.fixture(scope="module", autouse=True)
def _same_state_for_every_module():
    """Autouse fixtures run before the other fixtures of their scope: module fixtures too."""
    _reset()
    yield
    _reset()


@pytest.fixture(autouse=True)
def _same_state_for_every_test():
    dtype = torch.get_default_dtype()
    _reset()
    yield
    leaked = []
    if torch.get_default_dtype() != dtype:
        leaked.append(f"default dtype {torch.get_default_dtype()}")
        torch.set_default_dtype(dtype)
    if not torch.is_grad_enabled():
        leaked.append("gradients disabled")
        torch.set_grad_enabled(True)
    _reset()
    assert not leaked, f"the test changed global state: {', '.join(leaked)}"


NO_CUDA = "needs a CUDA device; torch.cuda.is_available() is False on this machine"


def pytest_report_header(config) -> str:
    cuda = torch.cuda.get_device_name() if torch.cuda.is_available() else "none (CUDA tests skip)"
    return f"dlgtut: torch {torch.__version__}, {THREADS} thread(s) per test, CUDA: {cuda}"


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
