"""Tests of dlgtut.server: aggregation, the server's step, training rounds, and gossip."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

import dlgtut.server as server_module
from dlgtut.data import load_dataset
from dlgtut.errors import ConfigError, DataError, WrongTypeError
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.models import LeNet
from dlgtut.server import (
    Server,
    accuracy,
    aggregate,
    apply_update,
    federated_training,
    split_among,
)


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's digits at their native 8 x 8: 1400 for training, 397 for testing."""
    d = load_dataset("digits", size=8)
    perm = torch.randperm(len(d), generator=torch.Generator().manual_seed(0))
    train, test = perm[:1400], perm[1400:]
    return (d.images[train], d.labels[train]), (d.images[test], d.labels[test])


def _tiny(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(6, 3))


def _batch(n: int, seed: int) -> PrivateBatch:
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 2, 3, generator=gen)
    return PrivateBatch(images, torch.randint(0, 3, (n,), generator=gen))


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _same(xs, ys) -> bool:
    """Whether two sequences of tensors are equal, element for element."""
    return all(torch.equal(x, y) for x, y in zip(xs, ys, strict=True))


# ----------------------------------------------------------------------------- aggregation


@pytest.mark.parametrize("kind", ["fedsgd", "fedavg"])
def test_aggregate_is_the_hand_weighted_mean(kind):
    net = _tiny()
    sizes = (1, 2, 5)
    updates = [
        Participant(net).fedsgd(_batch(n, seed=n)) if kind == "fedsgd"
        else Participant(net).fedavg(_batch(n, seed=n), local_steps=3, lr=0.3)
        for n in sizes
    ]
    mean = aggregate(updates)
    for i, t in enumerate(mean):
        terms = zip(sizes, updates, strict=True)
        by_hand = sum(n * u.tensors[i].double().numpy() for n, u in terms) / sum(sizes)
        np.testing.assert_allclose(t.numpy(), by_hand, rtol=1e-6, atol=1e-8)
    assert [t.shape for t in mean] == [p.shape for p in net.parameters()]


def test_aggregate_rejects_empty_mixed_and_mismatched_updates():
    net = _tiny()
    grad = Participant(net).fedsgd(_batch(2, 0))
    delta = Participant(net).fedavg(_batch(2, 0), local_steps=1, lr=0.1)
    other = Participant(nn.Sequential(nn.Flatten(), nn.Linear(6, 4))).fedsgd(_batch(2, 0))
    with pytest.raises(DataError, match="at least one"):
        aggregate([])
    with pytest.raises(ConfigError, match="gradient and weight_delta"):
        aggregate([grad, delta])
    with pytest.raises(DataError, match="update 1 has tensors of shapes"):
        aggregate([grad, other])
    with pytest.raises(DataError, match="not a SharedUpdate"):
        aggregate([grad, grad.tensors])


# ----------------------------------------------------------------------------- the server's step


def test_fedsgd_with_one_participant_is_a_manual_sgd_step():
    net = LeNet(1, 10, 8, activation="relu", seed=3)
    batch = PrivateBatch(torch.rand(5, 1, 8, 8), torch.tensor([0, 3, 3, 9, 1]))
    manual = copy.deepcopy(net)
    opt = torch.optim.SGD(manual.parameters(), lr=0.3)
    nn.functional.cross_entropy(manual(batch.images), batch.labels).backward()
    opt.step()
    server = Server(net, lr=0.3)
    server.round([Participant(net).fedsgd(batch)])
    for p, q in zip(net.parameters(), manual.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)


def test_fedavg_with_one_local_step_equals_the_fedsgd_step():
    batches = [_batch(n, seed=n) for n in (2, 3, 7)]
    a, b = _tiny(1), _tiny(1)
    Server(a, lr=0.2).round([Participant(a).fedsgd(x) for x in batches])
    Server(b).round([Participant(b).fedavg(x, local_steps=1, lr=0.2) for x in batches])
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)


def test_federated_fedavg_k1_follows_fedsgd_round_by_round(digits):
    train, test = digits
    parts = split_among(*train, 3)
    net = LeNet(1, 10, 8, activation="relu", seed=0)
    common = dict(rounds=4, lr=0.2, batch_size=16, seed=5, record=True)
    sgd = federated_training(net, parts, test, algorithm="fedsgd", **common)
    avg = federated_training(net, parts, test, algorithm="fedavg", local_steps=1, **common)
    for s, a in zip(sgd.states, avg.states, strict=True):
        for key in s:
            assert torch.allclose(s[key], a[key], atol=1e-5)


def test_apply_update_steps_and_checks():
    net = _tiny()
    before = _params(net)
    ones = [torch.ones_like(p) for p in net.parameters()]
    apply_update(net, ones, "gradient", lr=0.5)
    assert all(torch.allclose(p, b - 0.5) for p, b in zip(net.parameters(), before, strict=True))
    apply_update(net, ones, "weight_delta")
    assert all(torch.allclose(p, b + 0.5) for p, b in zip(net.parameters(), before, strict=True))
    with pytest.raises(ConfigError, match="learning rate"):
        apply_update(net, ones, "gradient")
    with pytest.raises(ConfigError, match="unknown update kind"):
        apply_update(net, ones, "gradients", lr=0.1)
    with pytest.raises(DataError, match="2 parameters, the update 1"):
        apply_update(net, ones[:1], "weight_delta")
    with pytest.raises(DataError, match="shape"):
        apply_update(net, ones[::-1], "weight_delta")


# ----------------------------------------------------------------------------- training


def test_federated_training_on_real_digits_learns(digits):
    train, test = digits
    parts = split_among(*train, 4)
    net = LeNet(1, 10, 8, activation="relu", seed=0)
    log = federated_training(
        net, parts, test, rounds=20, algorithm="fedavg", local_steps=5, lr=0.2, batch_size=32
    )
    assert log.accuracy[0] < 0.3  # chance is 0.1
    assert log.accuracy[-1] > 0.85, log.accuracy
    assert log.rounds == 20 and len(log.accuracy) == 21 and log.seconds < 15
    assert log.rounds_to(0.85) is not None and log.rounds_to(1.01) is None
    sgd = federated_training(net, parts, test, rounds=20, algorithm="fedsgd", lr=0.2)
    assert sgd.accuracy[-1] > 0.5, sgd.accuracy


def test_the_initial_model_is_left_untouched(digits):
    train, test = digits
    net = LeNet(1, 10, 8, activation="relu", seed=0)
    before = _params(net)
    log = federated_training(net, split_among(*train, 2), test, rounds=2, algorithm="fedsgd")
    assert log.model is not net
    assert _same(net.parameters(), before)


def test_same_seed_same_numbers_other_seed_other_numbers(digits):
    train, test = digits
    parts = split_among(*train, 4, iid=False)
    net = LeNet(1, 10, 8, activation="relu", seed=0)
    runs = [
        federated_training(net, parts, test, rounds=3, local_steps=2, clients_per_round=3,
                           seed=seed, record=True)
        for seed in (7, 7, 8)
    ]
    assert runs[0].accuracy == runs[1].accuracy
    assert runs[0].participants == runs[1].participants
    for s, t in zip(runs[0].states, runs[1].states, strict=True):
        assert all(torch.equal(s[k], t[k]) for k in s)
    last = runs[0].states[-1]
    assert not all(torch.equal(last[k], runs[2].states[-1][k]) for k in last)


def test_the_server_records_exactly_what_the_participants_shared(digits, monkeypatch):
    shared = []

    class Watched(Participant):
        def fedsgd(self, batch):
            shared.append(super().fedsgd(batch))
            return shared[-1]

    monkeypatch.setattr(server_module, "Participant", Watched)
    train, test = digits
    net = LeNet(1, 10, 8, activation="relu", seed=0)
    log = federated_training(net, split_among(*train, 3), test, rounds=3, algorithm="fedsgd",
                             lr=0.2, clients_per_round=2, record=True)
    seen = [u for round_ in log.received for u in round_]
    assert len(seen) == len(shared) == 6 and [len(r) for r in log.received] == [2, 2, 2]
    for u, v in zip(seen, shared, strict=True):
        assert u.kind == v.kind == "gradient" and u.batch_size == v.batch_size == 32
        assert _same(u.tensors, v.tensors)
    # The states are the global models: each round moves by -lr times the received average,
    # and each update was computed on the global model at the start of its round.
    names = [name for name, _ in net.named_parameters()]
    for r, updates in enumerate(log.received, start=1):
        mean = aggregate(updates)
        for name, g in zip(names, mean, strict=True):
            step = log.states[r][name] - log.states[r - 1][name]
            assert torch.allclose(step, -0.2 * g, atol=1e-6)
        for name, p in updates[0].model.named_parameters():
            assert torch.equal(p, log.states[r - 1][name])


def test_federated_training_rejects_bad_settings(digits):
    train, test = digits
    parts = split_among(*train, 2)
    net = _tiny()
    with pytest.raises(ConfigError, match="unknown algorithm"):
        federated_training(net, parts, test, rounds=1, algorithm="fedprox")
    with pytest.raises(ConfigError, match="local_steps > 1"):
        federated_training(net, parts, test, rounds=1, algorithm="fedsgd", local_steps=3)
    with pytest.raises(ConfigError, match="clients_per_round"):
        federated_training(net, parts, test, rounds=1, clients_per_round=3)
    with pytest.raises(ConfigError, match="rounds"):
        federated_training(net, parts, test, rounds=-1)
    with pytest.raises(ConfigError, match="lr"):
        federated_training(net, parts, test, rounds=1, lr=0.0)
    with pytest.raises(DataError, match="at least one participant"):
        federated_training(net, [], test, rounds=1)
    with pytest.raises(DataError, match="participant 1"):
        federated_training(net, [parts[0], (parts[1][0], parts[1][1][:3])], test, rounds=1)


# ----------------------------------------------------------------------------- data and accuracy


def test_iid_split_deals_every_example_once_in_equal_parts(digits):
    (_, labels), _ = digits
    index = torch.arange(len(labels))[:, None]  # each "image" is its own index
    parts = split_among(index, labels, 3, seed=1)
    assert [len(y) for _, y in parts] == [467, 467, 466]
    dealt = torch.cat([x[:, 0] for x, _ in parts])
    assert sorted(dealt.tolist()) == list(range(len(labels)))
    for x, y in parts:  # labels travel with their examples; a shuffle gives every class
        assert torch.equal(y, labels[x[:, 0]]) and len(set(y.tolist())) == 10
    again = split_among(index, labels, 3, seed=1)
    other = split_among(index, labels, 3, seed=2)
    assert _same([x for x, _ in parts], [x for x, _ in again])
    assert not torch.equal(parts[0][0], other[0][0])


def test_non_iid_split_gives_each_participant_mostly_two_classes(digits):
    (_, labels), _ = digits
    index = torch.arange(len(labels))[:, None]
    parts = split_among(index, labels, 5, iid=False, seed=0)
    assert sorted(torch.cat([x[:, 0] for x, _ in parts]).tolist()) == list(range(len(labels)))
    for x, y in parts:
        assert torch.equal(y, labels[x[:, 0]])
        counts = torch.bincount(y, minlength=10).sort(descending=True).values
        assert counts[:2].sum() >= 0.8 * len(y), counts.tolist()


def test_split_rejects_bad_input():
    with pytest.raises(ConfigError, match="n_participants"):
        split_among(torch.zeros(4, 1), torch.zeros(4), 0)
    with pytest.raises(DataError, match="cannot be split"):
        split_among(torch.zeros(5, 1), torch.zeros(5), 3, iid=False)
    with pytest.raises(DataError, match="one label per example"):
        split_among(torch.zeros(5, 1), torch.zeros(4), 2)


def test_accuracy_counts_right_answers_and_restores_the_mode():
    net = nn.Sequential(nn.Flatten(), nn.Linear(2, 2), nn.Dropout(0.9))
    with torch.no_grad():
        net[1].weight.copy_(torch.eye(2))
        net[1].bias.zero_()
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0], [5.0, 0.0]])[:, None, None]
    y = torch.tensor([0, 1, 1, 1, 0])
    net.train()
    assert accuracy(net, x, y, batch_size=2) == 0.8  # dropout off in eval mode
    assert net.training
    with pytest.raises(DataError):
        accuracy(net, x, y[:2])


def _pairs(n: int = 2) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(torch.rand(4, 1, 2, 3), torch.tensor([0, 1, 2, 0])) for _ in range(n)]


@pytest.mark.parametrize("kwargs,error,fragment", [
    ({"rounds": 2.0}, ConfigError, "rounds must be a non-negative integer, got 2.0"),
    ({"rounds": True}, ConfigError, "rounds must be a non-negative integer"),
    ({"batch_size": 2.5}, ConfigError, "batch_size must be a positive integer"),
    ({"algorithm": "fedavg", "local_steps": 1.5}, ConfigError, "local_steps must be a positive"),
    ({"lr": float("inf")}, ConfigError, "lr must be a finite number"),
    ({"lr": "0.1"}, ConfigError, "lr must be a number"),
    ({"seed": -1}, ConfigError, "seed must be a non-negative integer"),
    ({"clients_per_round": 1.5}, ConfigError, "clients_per_round must be an integer"),
    ({"clients_per_round": True}, ConfigError, "clients_per_round must be an integer"),
    ({"algorithm": ["fedsgd"]}, ConfigError, "unknown algorithm"),
    ({"record": "yes"}, ConfigError, "record must be True or False"),
    ({"defense": "prune"}, WrongTypeError, "defense must be callable or None, got str"),
    ({"update_fn": 3}, WrongTypeError, "update_fn must be callable or None, got int"),
    ({"data": _pairs()[0]}, WrongTypeError, "got one (images, labels) pair"),
    ({"data": [torch.rand(4, 6)]}, WrongTypeError, "participant 0's data must be an (images, "),
    ({"data": [(torch.rand(4, 1, 2, 3) * 3, torch.tensor([0, 1, 2, 0]))]}, DataError,
     "participant 0's images must lie in [0, 1]"),
    ({"data": [(torch.randint(0, 2, (4, 1, 2, 3)), torch.tensor([0, 1, 2, 0]))]}, DataError,
     "participant 0's images must be a floating-point tensor"),
    ({"data": [(torch.rand(4, 1, 2, 3), torch.tensor([0.0, 1.5, 2.0, 0.0]))]}, DataError,
     "participant 0's labels must be integer class indices"),
    ({"test": (torch.rand(4, 1, 2, 3), torch.tensor([0.5, 1, 2, 0]))}, DataError,
     "the test set's labels must be integer class indices"),
    ({"model": lambda x: x}, WrongTypeError, "torch.nn.Module"),
])
def test_federated_training_checks_everything_before_the_first_round(refused, monkeypatch, kwargs,
                                                                     error, fragment):
    def boom(*args, **kw):
        raise AssertionError("training started before the input was checked")

    monkeypatch.setattr(server_module, "Server", boom)
    args = {"model": _tiny(), "data": _pairs(), "rounds": 1, "algorithm": "fedsgd", **kwargs}
    refused(error, fragment, federated_training, **args)


def test_aggregate_and_server_refuse_a_single_update_and_bad_settings(refused):
    update = Participant(_tiny()).fedsgd(PrivateBatch(torch.rand(2, 1, 2, 3),
                                                      torch.tensor([0, 1])))
    refused(WrongTypeError, "aggregate takes a list of SharedUpdates, got SharedUpdate",
            aggregate, update)
    refused(WrongTypeError, "torch.nn.Module, got str", Server, "net")
    refused(ConfigError, "lr must be a finite number", Server, _tiny(), lr=float("nan"))
    refused(ConfigError, "record must be True or False", Server, _tiny(), record=1)
    refused(WrongTypeError, "Server.round takes a list of SharedUpdates", Server(_tiny(), lr=0.1)
            .round, update)


@pytest.mark.parametrize("args,kwargs,error,fragment", [
    (("gradient",), {"lr": float("inf")}, ConfigError, "lr must be a finite number"),
    (("gradient",), {"lr": True}, ConfigError, "lr must be a number"),
    ((["gradient"],), {"lr": 0.1}, ConfigError, "unknown update kind"),
    (("weight_delta",), {"tensors": torch.zeros(3, 6)}, None, "sequence of tensors"),
    (("weight_delta",), {"tensors": [torch.zeros(3, 6), torch.full((3,), float("nan"))]},
     DataError, "update tensor 1 contains NaN or inf"),
    (("weight_delta",), {"tensors": [torch.zeros(3, 6, dtype=torch.long), torch.zeros(3)]},
     DataError, "update tensor 0 must be a floating-point tensor"),
])
def test_apply_update_refuses_bad_steps(refused, args, kwargs, error, fragment):
    net = _tiny()
    tensors = kwargs.pop("tensors", [torch.zeros(3, 6), torch.zeros(3)])
    refused(error or WrongTypeError, fragment, apply_update, net, tensors, *args, **kwargs)


@pytest.mark.parametrize("call,error,fragment", [
    (lambda: split_among(torch.zeros(4, 1), torch.tensor([0.5, 1, 2, 3]), 2), DataError,
     "labels must be integer class indices"),
    (lambda: split_among(torch.zeros(4, 1), torch.arange(4), 2.0), ConfigError,
     "n_participants must be a positive integer, got 2.0"),
    (lambda: split_among(torch.zeros(4, 1), torch.arange(4), 2, iid=0), ConfigError,
     "iid must be True or False"),
    (lambda: split_among(torch.zeros(4, 1), torch.arange(4), 2, seed=0.5), ConfigError,
     "seed must be a non-negative integer"),
    (lambda: accuracy(_tiny(), torch.rand(2, 6), torch.tensor([0.0, 1.0])), DataError,
     "labels must be integer class indices"),
    (lambda: accuracy(_tiny(), torch.rand(2, 7), torch.tensor([0, 1])), DataError,
     "the model cannot take images of shape (7,)"),
    (lambda: accuracy(_tiny(), torch.full((2, 6), float("nan")), torch.tensor([0, 1])),
     DataError, "images contains NaN or inf"),
    (lambda: accuracy(_tiny(), torch.rand(2, 6), torch.tensor([0, 1]), batch_size=0),
     ConfigError, "batch_size must be a positive integer"),
    (lambda: accuracy(_tiny(), [[0.0] * 6], torch.tensor([0])), DataError,
     "images must be a tensor"),
])
def test_split_and_accuracy_refuse_bad_input(refused, call, error, fragment):
    refused(error, fragment, call)


def test_accuracy_follows_the_models_dtype():
    net = _tiny().double()
    x = torch.rand(5, 6)
    expected = (net(x.double()).argmax(-1) == torch.arange(5) % 3).double().mean().item()
    assert accuracy(net, x, torch.arange(5) % 3) == expected


def test_rounds_to_refuses_a_target_that_is_not_an_accuracy(refused):
    from dlgtut.server import TrainingLog

    log = TrainingLog("fedsgd", [0.1, 0.5, 0.9], _tiny())
    assert log.rounds_to(0.5) == 1
    refused(ConfigError, "target must be a finite number, got nan", log.rounds_to, float("nan"))
    refused(ConfigError, "target must be a number, got '0.5'", log.rounds_to, "0.5")


# ----------------------------------------------------------------------------- devices


def test_federated_training_on_the_device_learns_and_records_there(device, digits):
    train, test = digits
    net = LeNet(1, 10, 8, activation="relu", seed=0).to(device)
    before = _params(net)
    log = federated_training(net, split_among(*train, 3), test, rounds=8, algorithm="fedavg",
                             local_steps=5, lr=0.2, batch_size=32, record=True)
    assert log.accuracy[-1] > 0.7, log.accuracy
    assert _same(net.parameters(), before)
    assert next(log.model.parameters()).device.type == device.type
    assert all(t.device.type == device.type for t in log.received[0][0].tensors)
    assert all(v.device.type == device.type for v in log.states[-1].values())


def test_aggregate_and_apply_update_on_cuda_equal_the_cpu_ones(cuda):
    updates = [Participant(_tiny()).fedsgd(_batch(n, n)) for n in (1, 3)]
    on_cuda = [Participant(_tiny().to(cuda)).fedsgd(_batch(n, n)) for n in (1, 3)]
    mean, mean_cuda = aggregate(updates), aggregate(on_cuda)
    for a, b in zip(mean, mean_cuda, strict=True):
        assert b.device.type == "cuda"
        torch.testing.assert_close(b.cpu(), a)
    net, net_cuda = _tiny(), _tiny().to(cuda)
    apply_update(net, mean, "gradient", lr=0.5)
    apply_update(net_cuda, mean, "gradient", lr=0.5)  # a CPU update applied to a CUDA model
    for a, b in zip(net.parameters(), net_cuda.parameters(), strict=True):
        torch.testing.assert_close(b.detach().cpu(), a.detach())
