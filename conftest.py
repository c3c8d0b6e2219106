"""Every test and doctest starts from the same global state and leaves none behind.

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
(``python3 dev.py test --random-order``). The fixtures the tests share are in
``tests/conftest.py``.
"""

from __future__ import annotations

import importlib.util
import os
import random

import numpy as np
import pytest
import torch

# ``dlgtut.federation`` needs the optional ``flower`` extra; without Flower its doctests are not
# collected (its tests skip themselves with the reason).
collect_ignore_glob = [] if importlib.util.find_spec("flwr") else ["dlgtut/federation/*"]

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


def pytest_report_header(config) -> str:
    cuda = torch.cuda.get_device_name() if torch.cuda.is_available() else "none (CUDA tests skip)"
    return f"dlgtut: torch {torch.__version__}, {THREADS} thread(s) per test, CUDA: {cuda}"
