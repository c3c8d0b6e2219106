"""The curious strategy and the client app, called directly (no Simulation Engine, no Ray).

Flower's apps are callables: ``client_app(message, context)`` is what a SuperNode runs, and a
strategy's ``configure_train`` / ``aggregate_train`` are what the ServerApp runs. Calling them
here tests the wire format, the capture and the aggregation in milliseconds; the tests in
test_simulation.py run the same code on a real federation.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

flwr = pytest.importorskip("flwr", reason="needs the flower extra: pip install 'dlgtut[flower]'")

from flwr.app import (  # noqa: E402
    ArrayRecord,
    ConfigRecord,
    Context,
    Error,
    Message,
    MetricRecord,
    RecordDict,
)
from flwr.supercore.task_identity import TaskIdentity  # noqa: E402

from dlgtut.defenses import prune  # noqa: E402
from dlgtut.errors import AttackError, ConfigError  # noqa: E402
from dlgtut.federation import CuriousFedAvg, FlowerTask, make_client_app, round_task  # noqa: E402
from dlgtut.federation.records import state_to_arrays  # noqa: E402
from dlgtut.server import aggregate, apply_update  # noqa: E402

NUM_PARTITIONS = 3


class Grid:
    """The part of Flower's Grid a strategy uses to pick nodes."""

    def __init__(self, node_ids):
        self.node_ids = list(node_ids)

    def get_node_ids(self):
        return list(self.node_ids)


@pytest.fixture(autouse=True)
def message_identity():
    """Flower stamps every new Message with its process's task identity; the Simulation
    Engine and the SuperLink set it, so do we when we call the apps ourselves."""
    saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, 1
    yield
    TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved


def one_round(task, *, client_task=None, fail=(), strategy=None, nodes=(101, 202, 303)):
    """Round 1 of a federation of len(nodes) participants, every app called directly."""
    strategy = strategy or CuriousFedAvg(task)
    model = task.build_model()
    messages = list(strategy.configure_train(1, state_to_arrays(model), ConfigRecord(),
                                             Grid(nodes)))
    app = make_client_app(client_task or task, fail_partitions=fail)
    replies = []
    for m in messages:
        partition = list(nodes).index(m.metadata.dst_node_id)
        context = Context(run_id=1, node_id=m.metadata.dst_node_id, state=RecordDict(),
                          node_config={"partition-id": partition,
                                       "num-partitions": len(nodes)}, run_config={})
        try:
            replies.append(app(m, context))
        except RuntimeError as err:  # what the Simulation Engine turns into an error reply
            replies.append(Message(Error(code=0, reason=str(err)), reply_to=m))
    arrays, metrics = strategy.aggregate_train(1, replies)
    return strategy, model, arrays, metrics


def _params(arrays: ArrayRecord, model) -> list[torch.Tensor]:
    state = arrays.to_torch_state_dict()
    return [state[name] for name, _ in model.named_parameters()]


@pytest.mark.parametrize("algorithm, full_batch", [("fedsgd", False), ("fedavg", False),
                                                   ("fedavg", True)])
def test_every_captured_update_is_the_participants_own(algorithm, full_batch):
    task = FlowerTask(algorithm=algorithm, batch_size=2, lr=0.05, full_batch=full_batch,
                      local_steps=3 if algorithm == "fedavg" else 1)
    strategy, model, _, _ = one_round(task)
    assert len(strategy.captured) == NUM_PARTITIONS and not strategy.failures
    for c in strategy.captured:
        batch = task.private_batch(c.partition, NUM_PARTITIONS, 1)
        honest = task.honest_update(model, batch)  # dlgtut's participant, in this process
        assert c.update.kind == honest.kind
        assert c.update.batch_size == len(batch) == task.examples_per_round()
        assert (c.update.local_steps, c.update.lr) == (honest.local_steps, honest.lr)
        assert c.update.meta.get("minibatch_size") == honest.meta.get("minibatch_size")
        for got, want in zip(c.update.tensors, honest.tensors, strict=True):
            # FedAvg travels as new weights; W_t + delta - W_t rounds at float32 precision.
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
        assert c.update.meta["server-round"] == 1 and c.node_id == c.update.meta["node-id"]


def test_fedsgd_aggregate_is_the_weighted_mean_step():
    """W_1 = W_0 - lr * sum_k n_k g_k / n: numpy by hand, and dlgtut.server on the captures."""
    task = FlowerTask(batch_size=1, lr=0.1)
    strategy = CuriousFedAvg(task)
    model = task.build_model()
    names = [name for name, _ in model.named_parameters()]
    messages = list(strategy.configure_train(1, state_to_arrays(model), ConfigRecord(),
                                             Grid([1, 2, 3])))
    gen = np.random.default_rng(0)
    sizes, grads, replies = [1, 2, 5], [], []
    for m, n in zip(messages, sizes, strict=True):
        g = {k: gen.standard_normal(p.shape).astype(np.float32)
             for k, p in model.named_parameters()}
        grads.append(g)
        content = RecordDict({"arrays": ArrayRecord({k: torch.from_numpy(g[k]) for k in names}),
                              "metrics": MetricRecord({"num-examples": n})})
        replies.append(Message(content, reply_to=m))
    arrays, _ = strategy.aggregate_train(1, replies)
    got = _params(arrays, model)
    for name, value in zip(names, got, strict=True):
        weighted = [n * g[name].astype(np.float64) for n, g in zip(sizes, grads, strict=True)]
        mean = sum(weighted) / sum(sizes)
        w0 = model.state_dict()[name].double().numpy()
        np.testing.assert_allclose(value.numpy(), w0 - 0.1 * mean, rtol=1e-5, atol=1e-6)
    expected = apply_update(task.build_model(), aggregate([c.update for c in strategy.captured]),
                            "gradient", lr=0.1)
    for value, p in zip(got, expected.parameters(), strict=True):
        torch.testing.assert_close(value, p.detach(), rtol=1e-5, atol=1e-6)


def test_fedavg_aggregate_is_flowers_weighted_mean_of_the_new_weights():
    task = FlowerTask(algorithm="fedavg", local_steps=2, batch_size=2, lr=0.05)
    strategy, model, arrays, metrics = one_round(task)
    captured = strategy.captured
    new = [[p + d for p, d in zip(model.parameters(), c.update.tensors, strict=True)]
           for c in captured]
    n = [c.update.batch_size for c in captured]
    for i, value in enumerate(_params(arrays, model)):
        plain = sum(k * w[i].detach().double() for k, w in zip(n, new, strict=True)) / sum(n)
        torch.testing.assert_close(value.double(), plain, rtol=1e-5, atol=1e-6)
    # ... which is W_t plus dlgtut's aggregate of the weight changes the server captured
    expected = apply_update(task.build_model(), aggregate([c.update for c in captured]),
                            "weight_delta")
    for value, p in zip(_params(arrays, model), expected.parameters(), strict=True):
        torch.testing.assert_close(value, p.detach(), rtol=1e-5, atol=1e-6)
    assert 0 <= metrics["train-accuracy"] <= 1  # Flower averaged the participants' metrics


def test_an_error_reply_is_recorded_and_the_rest_averaged():
    task = FlowerTask()
    strategy, model, arrays, _ = one_round(task, fail={1})
    assert [f.reason for f in strategy.failures] == ["participant 1 failed on purpose"]
    assert strategy.failures[0].node_id == 202 and strategy.rounds[0].failures == 1
    assert sorted(c.partition for c in strategy.captured) == [0, 2]
    expected = apply_update(task.build_model(), aggregate([c.update for c in strategy.captured]),
                            "gradient", lr=task.lr)
    for value, p in zip(_params(arrays, model), expected.parameters(), strict=True):
        torch.testing.assert_close(value, p.detach(), rtol=1e-5, atol=1e-6)


def test_the_participants_defence_is_what_the_server_receives():
    task = FlowerTask(defense="prune", defense_value=0.5)
    strategy, model, _, _ = one_round(task)
    for c in strategy.captured:
        batch = task.private_batch(c.partition, NUM_PARTITIONS, 1)
        want = prune(task.honest_update(model, batch), 0.5)
        for got, w in zip(c.update.tensors, want.tensors, strict=True):
            torch.testing.assert_close(got, w)
        zeros = sum(int((t == 0).sum()) for t in c.update.tensors)
        assert zeros >= 0.49 * sum(t.numel() for t in c.update.tensors)


def test_the_attack_runs_on_every_update_up_to_the_limit():
    seen = []

    def attack(update):
        seen.append(update)
        if len(seen) == 2:
            raise AttackError("nothing to invert")
        return None

    strategy = CuriousFedAvg(FlowerTask(), attack=attack, attack_limit=2)
    one_round(FlowerTask(), strategy=strategy)
    assert len(seen) == 2 and len(strategy.captured) == 3
    assert [c.attack_error for c in strategy.captured] == [None, "nothing to invert", None]
    assert strategy.captured[2].attack_seconds is None  # over the limit: captured only


def test_the_participants_follow_the_hyperparameters_the_server_sends():
    server_task = FlowerTask(algorithm="fedavg", local_steps=2, lr=0.5)
    client_task = server_task.replace(lr=0.01)  # what the participant would have used
    strategy, model, _, _ = one_round(server_task, client_task=client_task)
    c = strategy.captured[0]
    batch = server_task.private_batch(c.partition, NUM_PARTITIONS, 1)
    want = server_task.honest_update(model, batch)
    for got, w in zip(c.update.tensors, want.tensors, strict=True):
        torch.testing.assert_close(got, w, rtol=1e-5, atol=1e-6)
    config = ConfigRecord({"algorithm": "fedsgd", "lr": 0.5, "local-steps": 1})
    assert round_task(FlowerTask(lr=0.01), config).lr == 0.5


def test_the_task_travels_as_a_run_config():
    task = FlowerTask(algorithm="fedavg", local_steps=2, lr=0.2, defense="int8")
    assert FlowerTask.from_run_config(task.to_run_config()) == task
    assert FlowerTask.from_run_config({"lr": 1, "batch-size": 2.0}).batch_size == 2
    with pytest.raises(ConfigError, match="local_steps"):
        FlowerTask(local_steps=2)
    with pytest.raises(ConfigError, match="defence"):
        FlowerTask(defense="shred")


def test_private_batches_are_fixed_by_seed_partition_and_round():
    task = FlowerTask(batch_size=3)
    a = task.private_batch(1, 4, 2)
    assert torch.equal(a.images, task.private_batch(1, 4, 2).images)
    assert not torch.equal(a.images, task.private_batch(1, 4, 3).images)
    assert not torch.equal(a.images, task.private_batch(2, 4, 2).images)
    x, _ = task.partition(1, 4)
    assert all(any(torch.equal(img, y) for y in x) for img in a.images)  # its own data


@pytest.mark.parametrize("name", ["dlg", "ig"])
def test_both_attacks_run_on_what_the_server_captured(name):
    """The captured public model is a normal model (autograd on), as a participant's is."""
    from dlgtut.federation.strategy import server_attack

    attack, _ = server_attack(name, iterations=3)
    strategy = CuriousFedAvg(FlowerTask(algorithm="fedavg", local_steps=2, full_batch=True)
                             if name == "ig" else FlowerTask(), attack=attack, attack_limit=1)
    one_round(strategy.task, strategy=strategy)
    assert strategy.captured[0].reconstruction is not None
    assert strategy.captured[0].attack_error is None


def test_the_flower_app_reads_its_task_from_the_run_config():
    """flwr run: flower_app/pyproject.toml's config is the default task plus the server's keys,
    and the module-level ClientApp builds its task from the run config of each message."""
    import tomllib
    from pathlib import Path

    from dlgtut.federation.app import SERVER_DEFAULTS, client_app

    pyproject = Path(__file__).resolve().parents[2] / "flower_app" / "pyproject.toml"
    config = tomllib.loads(pyproject.read_text())["tool"]["flwr"]["app"]
    assert config["components"] == {"serverapp": "dlgtut.federation.app:server_app",
                                    "clientapp": "dlgtut.federation.app:client_app"}
    run_config = config["config"]
    assert FlowerTask.from_run_config(run_config) == FlowerTask()
    assert set(run_config) == set(FlowerTask().to_run_config()) | set(SERVER_DEFAULTS)

    task = FlowerTask.from_run_config({**run_config, "batch-size": 2})
    strategy = CuriousFedAvg(task)
    model = task.build_model()
    (message,) = strategy.configure_train(1, state_to_arrays(model), ConfigRecord(), Grid([7]))
    context = Context(run_id=1, node_id=7, state=RecordDict(), run_config=run_config,
                      node_config={"partition-id": 1, "num-partitions": 2})
    reply = client_app(message, context)
    strategy.aggregate_train(1, [reply])
    (c,) = strategy.captured
    want = task.honest_update(model, task.private_batch(1, 2, 1))
    assert c.update.batch_size == 2 and c.num_partitions == 2
    for got, w in zip(c.update.tensors, want.tensors, strict=True):
        torch.testing.assert_close(got, w)
