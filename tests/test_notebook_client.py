"""The stepped notebook client: a missed wake-up costs one poll step, not the cell's timeout."""

from __future__ import annotations

import asyncio
from queue import Empty

import nbformat
import pytest
from jupyter_client.channels import AsyncZMQSocketChannel

from dlgtut import notebook_client
from dlgtut.notebook_client import (
    POLL_STEP,
    SteppedChannel,
    SteppedKernelClient,
    SteppedNotebookClient,
)


class _Clock:
    """A fake monotonic clock that each poll advances by the time it waited."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture()
def fake_polls(monkeypatch):
    """``fake_polls(outcomes)``: the base channel's polls return or raise these, in order.

    Each poll waits its whole timeout on the fake clock, as a poll that missed its wake-up
    does; the timeouts asked for are recorded.
    """
    clock = _Clock()
    monkeypatch.setattr(notebook_client.time, "monotonic", clock)
    asked = []

    def install(outcomes):
        outcomes = iter(outcomes)

        async def poll(self, timeout=None):
            asked.append(timeout)
            clock.now += timeout
            outcome = next(outcomes)
            if outcome is Empty:
                raise Empty
            return outcome

        monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", poll)
        return SteppedChannel.__new__(SteppedChannel)  # get_msg needs no socket here

    install.asked = asked
    install.clock = clock
    return install


def test_a_reply_missed_in_one_step_arrives_with_the_next(fake_polls):
    channel = fake_polls([Empty, {"msg": "reply"}])
    # One poll of the whole 600 s would only have reported the reply at its end.
    assert asyncio.run(channel.get_msg(timeout=600)) == {"msg": "reply"}
    assert fake_polls.asked == [POLL_STEP, POLL_STEP]
    assert fake_polls.clock.now == 2 * POLL_STEP


def test_without_a_reply_the_timeout_still_ends_the_wait(fake_polls):
    channel = fake_polls([Empty] * 10)
    with pytest.raises(Empty):
        asyncio.run(channel.get_msg(timeout=2.5 * POLL_STEP))
    assert fake_polls.asked == [POLL_STEP, POLL_STEP, 0.5 * POLL_STEP]  # the same deadline
    assert fake_polls.clock.now == 2.5 * POLL_STEP


def test_no_timeout_waits_in_steps_until_a_message_comes(fake_polls):
    channel = fake_polls([Empty, Empty, Empty, {"msg": "output"}])
    assert asyncio.run(channel.get_msg(timeout=None)) == {"msg": "output"}
    assert fake_polls.asked == [POLL_STEP] * 4


def test_a_notebook_runs_with_stepped_channels(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    client = SteppedNotebookClient(nb, timeout=60, kernel_name="python3",
                                   resources={"metadata": {"path": str(tmp_path)}})
    assert client.create_kernel_manager().client_factory is SteppedKernelClient
    assert SteppedKernelClient.shell_channel_class.klass is SteppedChannel
    assert SteppedKernelClient.iopub_channel_class.klass is SteppedChannel
    client.execute()
    assert nb.cells[0].outputs[0]["text"] == "42\n"
