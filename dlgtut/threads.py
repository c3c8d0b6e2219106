"""How many CPU threads an attack on a small model should use: one.

A gradient attack on a small network (the paper's LeNet has 85,000 parameters) spends its time
in framework overhead, not arithmetic: a second thread only waits for the first, and on a busy
machine torch's threads wait for each other. Measured on this project's 2-core machines: 60
steps of the original DLG loop took 8.0 s with 2 threads and 5.3 s with one; two 2-thread
processes sharing the cores slowed it about 3x. :func:`threads_for` runs a block with one thread
when the model is small and on the CPU, and restores the caller's setting afterwards. One thread
also makes the numbers independent of the machine's core count: float sums run in one order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["threads_for", "SMALL_MODEL"]

SMALL_MODEL = 1_000_000
"""Models with fewer parameters than this run their attacks on one CPU thread."""


@contextmanager
def threads_for(model: nn.Module) -> Iterator[int]:
    """Run the block with one thread if ``model`` is small and on the CPU; yield the count.

    Example:
        >>> with threads_for(nn.Linear(3, 2)) as n:
        ...     n, torch.get_num_threads()
        (1, 1)
    """
    params = list(model.parameters())
    small = sum(p.numel() for p in params) < SMALL_MODEL
    on_cpu = all(p.device.type == "cpu" for p in params)
    before = torch.get_num_threads()
    count = 1 if (small and on_cpu) else before
    torch.set_num_threads(count)
    try:
        yield count
    finally:
        torch.set_num_threads(before)
