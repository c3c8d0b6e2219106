"""A notebook client that cannot sleep through a kernel's reply (for the book's own tools).

nbclient waits for a cell's reply with one poll of the kernel's shell socket, as long as the
cell's timeout. pyzmq's asyncio poll can miss the wake-up for a message that has already
arrived (ZeroMQ's socket descriptors are edge-triggered; pyzmq issues 1558 and 2173 describe
the same symptom): it then reports the message only when the timeout ends. Seen here: the
reduced run of ``book/dlg_explorer.md``, 15-20 s as a rule, took 615-616 s (its cell timeout,
600 s, plus the run) in two of about eight test runs on the project's busy 2-core machine, and
916 s (a 900-s timeout) in two of seven runs of a loop beside two busy processes; the kernel and
the client both sat idle in ``epoll_wait`` meanwhile, and the cell then passed.

:class:`SteppedNotebookClient` polls in steps of :data:`POLL_STEP` seconds up to the same
deadline, so a missed wake-up costs at most one step, and a cell that really runs too long still
fails at its timeout. In the same loop, 18 runs with it took 16.9-24.4 s; in 7 of them a step's
end caught a reply that the poll had missed. The tests (``tests/test_book.py``),
``benchmarks/book_times.py`` and ``tools/execute_book.py`` run the chapters with it, and
:mod:`dlgtut.classroom.worker` grades submissions with its kernel client. It needs nbclient
(the ``book`` extra).
"""

from __future__ import annotations

import time
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from nbclient import NotebookClient
from traitlets import Type

__all__ = ["POLL_STEP", "SteppedChannel", "SteppedKernelClient", "SteppedNotebookClient"]

POLL_STEP = 1.0
"""Seconds of one poll: the longest a missed wake-up can delay a message."""


class SteppedChannel(AsyncZMQSocketChannel):
    """A kernel channel whose ``get_msg`` polls in steps of :data:`POLL_STEP` seconds."""

    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_STEP if deadline is None else min(POLL_STEP, deadline - time.monotonic())
            try:
                return await super().get_msg(timeout=max(0.0, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise


class SteppedKernelClient(AsyncKernelClient):
    """nbclient's kernel client, with :class:`SteppedChannel` for the shell and IOPub."""

    shell_channel_class = Type(SteppedChannel)
    iopub_channel_class = Type(SteppedChannel)


class SteppedNotebookClient(NotebookClient):
    """A :class:`nbclient.NotebookClient` whose kernel client is a :class:`SteppedKernelClient`.

    It takes the same arguments, e.g.
    ``SteppedNotebookClient(nb, timeout=600, kernel_name="python3").execute()``.
    """

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.client_factory = SteppedKernelClient
        return km
