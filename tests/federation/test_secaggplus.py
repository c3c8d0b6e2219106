"""Flower's SecAgg+ on a dlgtut task (dlgtut.federation.secaggplus): what the strategy gets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("flwr", reason="needs the flower extra: pip install 'dlgtut[flower]'")

from dlgtut.errors import ConfigError  # noqa: E402
from dlgtut.federation import FlowerTask  # noqa: E402
from dlgtut.federation.secaggplus import client_reply, run_secaggplus  # noqa: E402

TASK = FlowerTask(algorithm="fedavg", local_steps=2, batch_size=4)


@pytest.fixture(scope="module")
def one_round():
    return run_secaggplus(TASK, clients=4, num_shares=3, threshold=2, num_cpus=1)


def test_the_strategy_receives_only_the_average(one_round):
    run = one_round
    assert run.results == 4 and run.identical
    assert run.num_examples == (8, 8, 8, 8)
    # Measured: 2.9e-4 from the true average (SecAgg+'s quantisation with Flower's defaults),
    # while a client's own weights lie 0.046 from it; the test asks for 20 times closer.
    assert run.largest_error < run.client_spread / 20
    assert run.client_spread > 1e-3  # the clients really differ: the check above means something


def test_the_true_average_is_computed_from_each_client_s_own_reply(one_round):
    initial = [t.numpy() for t in TASK.resolved().build_model().state_dict().values()]
    replies = [client_reply(TASK.resolved(), k, 4, initial) for k in range(4)]
    mean0 = sum(w[0] for w, _ in replies) / 4  # equal example counts: the plain mean
    assert np.allclose(one_round.expected[0], mean0, atol=1e-6)
    assert not np.allclose(replies[0][0][0], replies[1][0][0])


@pytest.mark.parametrize("kwargs, match", [
    (dict(clients=2), "clients"), (dict(clients=21), "clients"), (dict(clients=True), "clients"),
    (dict(clients=5, num_shares=2), "num_shares"), (dict(clients=5, num_shares=6), "num_shares"),
    (dict(clients=5, num_shares=3, threshold=1), "threshold"),
    (dict(clients=5, num_shares=3, threshold=4), "threshold"),
    (dict(clients=5, num_shares=3, threshold=2.5), "threshold"),
])
def test_bad_counts_are_refused_before_anything_runs(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        run_secaggplus(TASK, **kwargs)


def test_a_fedsgd_task_or_no_task_is_refused():
    with pytest.raises(ConfigError, match="fedavg"):
        run_secaggplus(FlowerTask())
    with pytest.raises(ConfigError, match="fedavg"):
        run_secaggplus(dataclasses.asdict(TASK))
