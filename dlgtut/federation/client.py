"""The honest participant as a Flower ClientApp.

:func:`make_client_app` wraps dlgtut's :class:`~dlgtut.fl.Participant` in a Flower
:class:`~flwr.clientapp.ClientApp`. On a ``train`` message a participant

1. loads the global model it was sent (``"arrays"``) and reads the round's public
   hyperparameters from ``"config"`` (algorithm, learning rate, local steps, batch size,
   whether the local steps share one batch: the server chose them);
2. draws its private batch for the round (:meth:`FlowerTask.private_batch`; its partition
   comes from the SuperNode's ``node_config["partition-id"]``);
3. computes its update exactly as :class:`~dlgtut.fl.Participant` does (FedSGD gradient or
   FedAvg weight change), applies the task's defence, and replies: the gradient, or for FedAvg
   the new weights (Flower's convention), with ``"num-examples"`` and its training loss and
   accuracy (the received model on all of its own data).

An ``evaluate`` message gets the same loss and accuracy, so Flower's federated evaluation works
too. Flower's client-side *mods* (its differential-privacy mods, for instance) wrap the app as
usual: ``make_client_app(mods=[LocalDpMod(...)])``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from ..errors import ConfigError
from ..fl import SharedUpdate
from .records import (
    ARRAYS,
    CONFIG,
    EXPERIMENT,
    METRICS,
    NUM_EXAMPLES,
    load_arrays,
    parameters_to_arrays,
    state_to_arrays,
)
from .task import FlowerTask, loss_and_accuracy

__all__ = ["make_client_app", "round_task", "HYPERPARAMETERS"]

HYPERPARAMETERS = ("algorithm", "lr", "local-steps", "batch-size", "full-batch")
"""The public hyperparameters the server sends in every round's ``"config"``."""


def round_task(task: FlowerTask, config: ConfigRecord) -> FlowerTask:
    """The task with the hyperparameters the server sent for this round.

    Example:
        >>> round_task(FlowerTask(), ConfigRecord({"algorithm": "fedavg", "lr": 0.5})).lr
        0.5
    """
    sent = {k: config[k] for k in HYPERPARAMETERS if k in config}
    return FlowerTask.from_run_config({**task.to_run_config(), **sent})


def _partition(context: Context) -> tuple[int, int]:
    config = context.node_config
    if "partition-id" not in config or "num-partitions" not in config:
        raise ConfigError("this SuperNode has no partition: start it with --node-config "
                          "'partition-id=0 num-partitions=2'")
    return int(config["partition-id"]), int(config["num-partitions"])


def _local_metrics(task: FlowerTask, model, partition_id: int,
                   num_partitions: int) -> dict[str, float]:
    """The received model's loss and accuracy on all of the participant's own data."""
    loss, acc = loss_and_accuracy(model, *task.partition(partition_id, num_partitions))
    return {"train-loss": loss, "train-accuracy": acc}


def _reply_arrays(task: FlowerTask, model, update: SharedUpdate):
    """FedSGD: the gradient by parameter name; FedAvg: the new weights (a whole state_dict)."""
    if task.algorithm == "fedsgd":
        return parameters_to_arrays(model, update.tensors)
    with torch.no_grad():
        for p, delta in zip(model.parameters(), update.tensors, strict=True):
            p.add_(delta.to(p))
    return state_to_arrays(model)


def _train(msg: Message, context: Context, base: FlowerTask | None,
           fail: frozenset[int]) -> Message:
    partition_id, num_partitions = _partition(context)
    if partition_id in fail:
        raise RuntimeError(f"participant {partition_id} failed on purpose")
    config = msg.content[CONFIG]
    server_round = int(config["server-round"])
    task = round_task(base or FlowerTask.from_run_config(dict(context.run_config)), config)
    model = load_arrays(task.build_model(), msg.content[ARRAYS])
    metrics = _local_metrics(task, model, partition_id, num_partitions)
    batch = task.private_batch(partition_id, num_partitions, server_round)
    update = task.honest_update(model, batch)  # the participant's own computation
    defense = task.defense_fn(partition_id, server_round)
    if defense is not None:
        update = defense(update)
    content = RecordDict({
        ARRAYS: _reply_arrays(task, model, update),
        METRICS: MetricRecord({NUM_EXAMPLES: len(batch), **metrics}),
        EXPERIMENT: ConfigRecord({"partition-id": partition_id,
                                  "num-partitions": num_partitions}),
    })
    return Message(content, reply_to=msg)


def _evaluate(msg: Message, context: Context, base: FlowerTask | None) -> Message:
    partition_id, num_partitions = _partition(context)
    task = base or FlowerTask.from_run_config(dict(context.run_config))
    model = load_arrays(task.build_model(), msg.content[ARRAYS])
    metrics = _local_metrics(task, model, partition_id, num_partitions)
    n = len(task.partition(partition_id, num_partitions)[1])
    content = RecordDict({METRICS: MetricRecord({
        NUM_EXAMPLES: n, "eval-loss": metrics["train-loss"],
        "eval-accuracy": metrics["train-accuracy"]})})
    return Message(content, reply_to=msg)


def make_client_app(
    task: FlowerTask | None = None,
    *,
    mods: Sequence = (),
    fail_partitions: Iterable[int] = (),
) -> ClientApp:
    """A Flower ClientApp whose every node is an honest dlgtut participant.

    Args:
        task: the task every node runs; None reads it from the run config (``flwr run``,
            ``[tool.flwr.app.config]``) when a message arrives.
        mods: Flower mods wrapped around the app (``LocalDpMod``, ``fixedclipping_mod``, ...).
        fail_partitions: for demonstrations and tests: these participants raise an exception
            instead of training (Flower turns it into an error reply).

    Returns:
        The ClientApp, with ``train`` and ``evaluate`` handlers.
    """
    fail = frozenset(int(p) for p in fail_partitions)
    app = ClientApp(mods=list(mods))

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        return _train(msg, context, task, fail)

    @app.evaluate()
    def evaluate(msg: Message, context: Context) -> Message:
        return _evaluate(msg, context, task)

    return app
