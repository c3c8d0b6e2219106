"""Seeds without side effects: a seeded constructor leaves the global generator as it found it.

``LeNet(seed=1234)`` draws its weights from a generator seeded with 1234, so two equal seeds give
two equal networks. It used to seed torch's *global* generator to do so, which changed every
random number drawn afterwards anywhere in the program: an unseeded ``torch.rand`` after a model
was built depended on which models had been built before it. :func:`seeded` runs a block on a
forked copy of the global CPU generator, seeded, and restores the original afterwards: the
draws inside are exactly those of ``torch.manual_seed(seed)`` (so every network is bit for bit
what it was), and nothing outside changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["seeded"]


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the block with the global CPU generator seeded, then restore it (None: no change).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> before = torch.rand(1)
        >>> _ = torch.manual_seed(0)
        >>> with seeded(1234):
        ...     inside = torch.rand(1)
        >>> bool(torch.rand(1) == before)  # the stream outside went on as if nothing happened
        True
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
