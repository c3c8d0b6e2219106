"""Decentralised learning: who receives which update in a gossip round."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from dlgtut.errors import ConfigError, DataError, WrongTypeError
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.gossip import decentralised_round, ring


def _tiny(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(6, 3))


def _batch(n: int, seed: int) -> PrivateBatch:
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 2, 3, generator=gen)
    return PrivateBatch(images, torch.randint(0, 3, (n,), generator=gen))


def _same(xs, ys) -> bool:
    """Whether two sequences of tensors are equal, element for element."""
    return all(torch.equal(x, y) for x, y in zip(xs, ys, strict=True))


def test_ring_neighbours():
    assert ring(5) == {0: [4, 1], 1: [0, 2], 2: [1, 3], 3: [2, 4], 4: [3, 0]}
    assert ring(2) == {0: [1], 1: [0]}
    for n in (3, 6, 11):
        topo = ring(n)
        assert all(len(v) == 2 and k not in v for k, v in topo.items())
        assert all(k in topo[i] for k, v in topo.items() for i in v)
    with pytest.raises(ConfigError, match="at least 2"):
        ring(1)


def test_a_node_receives_exactly_its_neighbours_updates():
    n = 5
    models = [_tiny(seed) for seed in range(n)]
    starts = [copy.deepcopy(m) for m in models]
    batches = [_batch(k + 1, seed=10 + k) for k in range(n)]
    topology = ring(n)
    received = decentralised_round(models, batches, topology, local_steps=3, lr=0.4)
    expected = [
        Participant(start).fedavg(batch, local_steps=3, lr=0.4)
        for start, batch in zip(starts, batches, strict=True)
    ]
    assert sorted(received) == list(range(n))
    for j, updates in received.items():
        assert len(updates) == len(topology[j])
        for i, u in zip(topology[j], updates, strict=True):
            assert u.kind == "weight_delta" and u.batch_size == i + 1 and u.local_steps == 3
            assert _same(u.tensors, expected[i].tensors)
            assert _same(u.model.parameters(), starts[i].parameters())
    # Gossip: each node now holds the plain average of its and its neighbours' updated weights.
    updated = [
        [p + d for p, d in zip(s.parameters(), e.tensors, strict=True)]
        for s, e in zip(starts, expected, strict=True)
    ]
    for j, model in enumerate(models):
        group = [j, *topology[j]]
        for k, p in enumerate(model.parameters()):
            mean = sum(updated[i][k] for i in group) / len(group)
            assert torch.allclose(p, mean, atol=1e-6)


def test_decentralised_round_rejects_bad_topologies():
    models = [_tiny(s) for s in range(3)]
    batches = [_batch(2, s) for s in range(3)]
    with pytest.raises(ConfigError, match="both ways"):
        decentralised_round(models, batches, {0: [1], 1: [2], 2: [0]}, lr=0.1)
    with pytest.raises(ConfigError, match="other nodes"):
        decentralised_round(models, batches, {0: [0, 1], 1: [0], 2: []}, lr=0.1)
    with pytest.raises(ConfigError, match="one entry per node"):
        decentralised_round(models, batches, {0: [1], 1: [0]}, lr=0.1)
    with pytest.raises(ConfigError, match="nodes 0..2"):
        decentralised_round(models, batches, {0: [5], 1: [], 2: []}, lr=0.1)
    with pytest.raises(DataError, match="one private batch per node"):
        decentralised_round(models, batches[:2], ring(3), lr=0.1)
    with pytest.raises(DataError, match="not a PrivateBatch"):
        decentralised_round(models, [(b.images, b.labels) for b in batches], ring(3), lr=0.1)


@pytest.mark.parametrize("change,error,fragment", [
    ({"neighbours": [[1, 2], [0, 2], [0, 1]]}, WrongTypeError, "neighbours must map every node"),
    ({"neighbours": {0: 1, 1: 0, 2: 0}}, ConfigError, "node 0's neighbours must be a list"),
    ({"neighbours": {0.0: [1], 1: [0], 2: []}}, ConfigError, "one entry per node"),
    ({"lr": float("nan")}, ConfigError, "lr must be a finite number"),
    ({"lr": True}, ConfigError, "lr must be a number"),
    ({"local_steps": 1.5}, ConfigError, "local_steps must be a positive integer"),
    ({"models": "abc"}, WrongTypeError, "models must be a list with one entry per node"),
    ({"batches": _batch(2, 0)}, WrongTypeError, "batches must be a list with one entry per node"),
])
def test_decentralised_round_refuses_bad_input_before_training(refused, change, error, fragment):
    args = {"models": [_tiny(s) for s in range(3)], "batches": [_batch(2, s) for s in range(3)],
            "neighbours": ring(3), "lr": 0.1, **change}
    refused(error, fragment, decentralised_round, args.pop("models"), args.pop("batches"),
            args.pop("neighbours"), **args)


def test_decentralised_round_refuses_models_of_different_architectures(refused):
    models = [_tiny(0), _tiny(1), nn.Sequential(nn.Flatten(), nn.Linear(3, 2))]
    batches = [_batch(2, s) for s in range(3)]
    refused(DataError, "model 2 has other parameters than model 0", decentralised_round, models,
            batches, ring(3), lr=0.1)
    refused(WrongTypeError, "model 1 must be a torch.nn.Module, got dict", decentralised_round,
            [models[0], {}, models[1]], batches, ring(3), lr=0.1)


def test_a_gossip_round_runs_on_the_models_device(device):
    nets = [_tiny(k).to(device) for k in range(3)]
    cpu = [_tiny(k) for k in range(3)]
    data = [_batch(2, k) for k in range(3)]
    got = decentralised_round(nets, data, ring(3), local_steps=2, lr=0.1)
    decentralised_round(cpu, data, ring(3), local_steps=2, lr=0.1)
    assert all(t.device.type == device.type for t in got[0][0].tensors)
    for net, ref in zip(nets, cpu, strict=True):
        for a, b in zip(net.parameters(), ref.parameters(), strict=True):
            assert a.device.type == device.type
            torch.testing.assert_close(a.detach().cpu(), b.detach())
