"""Decentralised federated learning: gossip between peers, no server.

In :func:`decentralised_round` each node trains on its own data, sends its update to its
neighbours (:func:`ring` builds the usual topology), and replaces its model by the average of
its own updated model and theirs (gossip averaging). Any neighbour then receives a full
:class:`~dlgtut.fl.SharedUpdate`, the same object a server would: the attacks of the book apply
to a curious neighbour unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from .checks import integer, model_parameters, number
from .errors import ConfigError, DataError, WrongTypeError
from .fl import Participant, PrivateBatch, SharedUpdate

__all__ = ["decentralised_round", "ring"]

Kind = Literal["gradient", "weight_delta"]
Algorithm = Literal["fedsgd", "fedavg"]
_KINDS = ("gradient", "weight_delta")
_ALGORITHMS = ("fedsgd", "fedavg")


def ring(n: int) -> dict[int, list[int]]:
    """The ring topology: node ``k`` exchanges with ``k - 1`` and ``k + 1`` (modulo ``n``).

    Example:
        >>> ring(4)
        {0: [3, 1], 1: [0, 2], 2: [1, 3], 3: [2, 0]}
        >>> ring(2)
        {0: [1], 1: [0]}
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ConfigError(f"a ring needs at least 2 nodes, got {n!r}")
    if n == 2:
        return {0: [1], 1: [0]}
    return {k: [(k - 1) % n, (k + 1) % n] for k in range(n)}


def _check_topology(neighbours: Mapping[int, Sequence[int]], n: int) -> None:
    if not isinstance(neighbours, Mapping):
        raise WrongTypeError(f"neighbours must map every node to its neighbours (see ring), got "
                             f"{type(neighbours).__name__}")
    keys = list(neighbours)
    if any(isinstance(k, bool) or not isinstance(k, int) for k in keys) or sorted(
            keys) != list(range(n)):
        raise ConfigError(f"neighbours must have one entry per node 0..{n - 1}, "
                          f"got keys {sorted(neighbours)}")
    for j, nodes in neighbours.items():
        if isinstance(nodes, str) or not isinstance(nodes, Sequence):
            raise ConfigError(f"node {j}'s neighbours must be a list of nodes, got {nodes!r}")
        nodes = list(nodes)
        if any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n for i in nodes):
            raise ConfigError(f"node {j}'s neighbours must be nodes 0..{n - 1}, got {nodes}")
        if j in nodes or len(set(nodes)) != len(nodes):
            raise ConfigError(f"node {j}'s neighbours must be other nodes, each once, got {nodes}")
        for i in nodes:
            if j not in neighbours[i]:
                raise ConfigError(f"links must go both ways: {i} is a neighbour of {j}, "
                                  f"but {j} is not a neighbour of {i}")


def decentralised_round(
    models: Sequence[nn.Module],
    batches: Sequence[PrivateBatch],
    neighbours: Mapping[int, Sequence[int]],
    *,
    local_steps: int = 1,
    lr: float,
) -> dict[int, list[SharedUpdate]]:
    r"""One round of decentralised federated learning with gossip averaging.

    1. Every node ``k`` runs ``local_steps`` SGD steps at ``lr`` on its own ``batches[k]``,
       starting from its own ``models[k]`` (:meth:`~dlgtut.fl.Participant.fedavg`).
    2. It sends the resulting :class:`~dlgtut.fl.SharedUpdate` (its model at the start of the
       round and its weight change) to each of its neighbours.
    3. Every node replaces its parameters by the plain average of its own updated weights and
       those of its neighbours, :math:`W_j \leftarrow \frac{1}{1 + |N_j|} \sum_{i \in \{j\}
       \cup N_j} (W_i + \Delta W_i)`, computed from what it received.

    Only parameters are averaged (buffers such as BatchNorm statistics stay local). Every node
    trains on its own model's device, and averages on it.

    Args:
        models: one model per node, changed in place.
        batches: each node's private batch this round.
        neighbours: node -> the nodes it exchanges with; links must go both ways (see
            :func:`ring`).
        local_steps: local SGD steps per node.
        lr: the local learning rate.

    Returns:
        node -> the updates it received, one per neighbour in the order of ``neighbours[node]``.
        A node's update is the same object in every neighbour's list.

    Raises:
        DataError: not one batch per node, or models of different architectures.
        ConfigError: a topology whose links do not go both ways, or bad ``local_steps``/``lr``.
        WrongTypeError: a model that is not a module, or ``neighbours`` that is not a mapping.

    Example:
        >>> nets = [nn.Sequential(nn.Flatten(), nn.Linear(4, 2)) for _ in range(3)]
        >>> data = [PrivateBatch(torch.rand(2, 1, 2, 2), torch.tensor([0, 1])) for _ in range(3)]
        >>> got = decentralised_round(nets, data, ring(3), local_steps=2, lr=0.1)
        >>> {node: [u.kind for u in updates] for node, updates in got.items()}[0]
        ['weight_delta', 'weight_delta']
    """
    for name, value in (("models", models), ("batches", batches)):
        if isinstance(value, nn.Module | PrivateBatch | str) or not isinstance(value, Sequence):
            raise WrongTypeError(f"{name} must be a list with one entry per node, got "
                                 f"{type(value).__name__}")
    models, batches = list(models), list(batches)
    n = len(models)
    if n == 0 or len(batches) != n:
        raise DataError(f"need one private batch per node: {n} models, {len(batches)} batches")
    for k, batch in enumerate(batches):
        if not isinstance(batch, PrivateBatch):
            raise DataError(f"batch {k} is a {type(batch).__name__}, not a PrivateBatch")
    _check_topology(neighbours, n)
    shapes = [[p.shape for p in model_parameters(m, f"model {k}")] for k, m in enumerate(models)]
    for k, s in enumerate(shapes):
        if s != shapes[0]:
            raise DataError(f"model {k} has other parameters than model 0: gossip averages "
                            "models of one architecture")
    integer(local_steps, "local_steps", low=1)
    number(lr, "lr", low=0, low_open=True)
    updates = [
        Participant(model).fedavg(batch, local_steps=local_steps, lr=lr)
        for model, batch in zip(models, batches, strict=True)
    ]

    def updated(u: SharedUpdate) -> list[Tensor]:
        # What any receiver can compute from the update alone: start weights plus change.
        return [p.detach() + d for p, d in zip(u.model.parameters(), u.tensors, strict=True)]

    weights = [updated(u) for u in updates]
    received = {j: [updates[i] for i in neighbours[j]] for j in range(n)}
    with torch.no_grad():
        for j, model in enumerate(models):
            group = [weights[j]] + [updated(u) for u in received[j]]
            for p, *values in zip(model.parameters(), *group, strict=True):
                p.copy_(torch.stack([v.to(p) for v in values]).mean(0))  # on node j's device
    return received
