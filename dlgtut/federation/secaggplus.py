"""Flower's own secure aggregation, SecAgg+ (Bell et al., CCS 2020), on a dlgtut task.

:mod:`dlgtut.secagg` shows Bonawitz et al.'s masking step by step; this runs the protocol that
Flower ships, on the same kind of updates, so that the two can be set side by side. Flower
1.x implements SecAgg+ in its *legacy workflow API*: the ServerApp runs
``DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(...))`` on a ``LegacyContext`` with a
classic strategy (``flwr.server.strategy.FedAvg``), and every ClientApp is a classic
``NumPyClient`` wrapped in the ``secaggplus_mod`` mod (Flower's example
``examples/flower-secure-aggregation``). SecAgg+ masks each client's vector with a few
neighbours' masks instead of everyone's (``num_shares``), quantises parameters in
``[-clipping_range, clipping_range]`` to ``quantization_range`` levels, and hands the strategy
the weighted average of the clients' new weights. For compatibility with classic strategies
Flower hands ``aggregate_fit`` one result per client, but every one of them carries the same
decoded average in place of the client's weights (only its example count is the client's
own). :func:`run_secaggplus` records what the strategy was given, and each client's own reply
is computed again outside Flower (the task is deterministic) so that the true average, and
how far each client's weights lie from it, can be compared with it.

Every client trains FedAvg on its partition of the task (``task.algorithm`` must be
``"fedavg"``: SecAgg+ sums weights, the FedAvg reply).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from .simulation import flower_environment, simulate
from .task import FlowerTask

__all__ = ["SecAggPlusRun", "client_reply", "run_secaggplus"]


@dataclasses.dataclass(frozen=True)
class SecAggPlusRun:
    """What the server's strategy received from one round of SecAgg+.

    Attributes:
        results: how many results the strategy's ``aggregate_fit`` was given (one per client).
        identical: whether all of them carried the same parameters (SecAgg+: the average).
        aggregate: the parameters it received (the weighted average of the clients' new
            weights, as Flower decoded it), in the model's ``state_dict`` order.
        expected: that average computed in the clear from each client's reply.
        client_spread: the largest distance (max-abs) of one client's new weights from the
            average: what the strategy would have seen of a client without SecAgg+.
        num_examples: the example counts the results carried (in the clear).
        seconds: the federation's wall-clock time.
    """

    results: int
    identical: bool
    aggregate: tuple[np.ndarray, ...]
    expected: tuple[np.ndarray, ...]
    client_spread: float
    num_examples: tuple[int, ...]
    seconds: float

    @property
    def largest_error(self) -> float:
        """The largest difference between the decoded and the true average."""
        return max(float(np.abs(a - b).max()) for a, b in zip(self.aggregate, self.expected,
                                                              strict=True))


def _initial(task: FlowerTask) -> list[np.ndarray]:
    return [t.detach().cpu().numpy() for t in task.build_model().state_dict().values()]


def client_reply(task: FlowerTask, partition_id: int, num_partitions: int,
                 parameters: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """One client's FedAvg reply to ``parameters``: its new weights and its example count."""
    model = task.build_model()
    keys = list(model.state_dict())
    model.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in
                           zip(keys, parameters, strict=True)})
    batch = task.private_batch(partition_id, num_partitions, 1)
    update = task.honest_update(model, batch)
    with torch.no_grad():
        for p, delta in zip(model.parameters(), update.tensors, strict=True):
            p.add_(delta.to(p))
    return [t.detach().cpu().numpy() for t in model.state_dict().values()], len(batch)


def _apps(task: FlowerTask, clients: int, num_shares: int, threshold: int,
          clipping_range: float, quantization_range: int, seen: dict[str, Any]):
    from flwr.client import ClientApp, NumPyClient
    from flwr.client.mod import secaggplus_mod
    from flwr.common import Context, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server import LegacyContext, ServerApp, ServerConfig
    from flwr.server.strategy import FedAvg
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

    class Participant(NumPyClient):
        def __init__(self, partition_id: int) -> None:
            self.partition_id = partition_id

        def fit(self, parameters, config):
            weights, n = client_reply(task, self.partition_id, clients, parameters)
            return weights, n, {}

    def client_fn(context: Context):
        return Participant(int(context.node_config["partition-id"])).to_client()

    class Curious(FedAvg):
        """A strategy that keeps what it is given: under SecAgg+, one averaged result."""

        def aggregate_fit(self, server_round, results, failures):
            given = [tuple(parameters_to_ndarrays(r.parameters)) for _, r in results]
            seen["results"] = len(results)
            seen["identical"] = all(all(np.array_equal(a, b) for a, b in zip(g, given[0],
                                                                              strict=True))
                                    for g in given)
            seen["aggregate"] = given[0]
            seen["num_examples"] = tuple(int(r.num_examples) for _, r in results)
            return super().aggregate_fit(server_round, results, failures)

    strategy = Curious(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=clients,
                       min_available_clients=clients,
                       initial_parameters=ndarrays_to_parameters(_initial(task)))
    server = ServerApp()

    @server.main()
    def main(grid, context: Context) -> None:
        legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=1),
                               strategy=strategy)
        DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(
            num_shares=num_shares, reconstruction_threshold=threshold,
            clipping_range=clipping_range, quantization_range=quantization_range))(grid, legacy)

    return server, ClientApp(client_fn=client_fn, mods=[secaggplus_mod])


def run_secaggplus(task: FlowerTask, *, clients: int = 5, num_shares: int = 3,
                   threshold: int = 2, clipping_range: float = 8.0,
                   quantization_range: int = 2**22, num_cpus: int | None = None,
                   verbose: bool = False) -> SecAggPlusRun:
    """Run one round of Flower's SecAgg+ on ``clients`` FedAvg participants of ``task``.

    Args:
        task: a FedAvg :class:`~dlgtut.federation.FlowerTask`.
        clients: the participants (3 to 20).
        num_shares: SecAgg+'s shares per client's secrets (its neighbours plus itself),
            3 to ``clients``.
        threshold: shares needed to reconstruct a secret, 2 to ``num_shares``.
        clipping_range, quantization_range: SecAgg+'s quantisation (Flower's defaults).
        num_cpus: CPUs Ray may use (default: all).
        verbose: show Flower's and Ray's logs.

    Raises:
        ConfigError: a task that is not FedAvg, or counts out of range (checked first).
    """
    from flwr.simulation import run_simulation  # noqa: F401 - fails early without flwr

    if not isinstance(task, FlowerTask) or task.algorithm != "fedavg":
        raise ConfigError("run_secaggplus needs a FlowerTask with algorithm='fedavg' "
                          "(SecAgg+ sums the clients' new weights)")
    for name, value, low, high in (("clients", clients, 3, 20),
                                   ("num_shares", num_shares, 3, clients),
                                   ("threshold", threshold, 2, num_shares)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    task = task.resolved()
    task.partition(0, clients)
    seen: dict[str, Any] = {}
    started = time.perf_counter()
    processes: list = []
    with flower_environment(verbose, processes) as folder:
        from flwr.simulation import run_simulation

        server, client = _apps(task, clients, num_shares, threshold, clipping_range,
                               quantization_range, seen)
        simulate(run_simulation, server, client, clients, folder, num_cpus=num_cpus,
                 client_cpus=1, verbose=verbose)
    seconds = time.perf_counter() - started
    if "aggregate" not in seen:
        raise RuntimeError("SecAgg+ did not complete a round: rerun with verbose=True to see "
                           "Flower's log")
    initial = _initial(task)
    replies = [client_reply(task, k, clients, initial) for k in range(clients)]
    total = sum(n for _, n in replies)
    expected = tuple(sum(w[i] * n for w, n in replies) / total for i in range(len(initial)))
    spread = max(float(np.abs(w[i] - expected[i]).max()) for w, _ in replies
                 for i in range(len(initial)))
    return SecAggPlusRun(seen["results"], seen["identical"], seen["aggregate"], expected, spread,
                         seen["num_examples"], seconds)
