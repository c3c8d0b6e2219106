"""The learning task a Flower federation runs: data, model, hyperparameters, private batches.

A :class:`FlowerTask` says everything the two sides of a federation agree on in advance: the
dataset and image size, the model architecture and its seed, the algorithm (FedSGD or FedAvg),
the learning rate, local steps and batch size, and the defence every participant applies. It
travels as Flower's *run config* (``[tool.flwr.app.config]`` in a Flower app's pyproject.toml,
or ``flwr run --run-config``), so :meth:`FlowerTask.to_run_config` and
:meth:`FlowerTask.from_run_config` convert it.

The data side is deterministic. The dataset is shuffled with the task's seed, a test set is held
out for the server's evaluation, and the rest is dealt out to ``num_partitions`` participants
(:func:`dlgtut.server.split_among`). In round ``r`` participant ``p`` trains on
:meth:`FlowerTask.private_batch`, drawn from its own partition by a generator seeded with
``(seed, p, r)``. The participant's process, the test suite and the experimenter who scores a
reconstruction therefore all get the same batch without it ever travelling: ground truth enters
only in :mod:`dlgtut.metrics`.

Nothing here imports Flower.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..defenses import DEFENSES, Defense, make_defense
from ..errors import ConfigError
from ..fl import Participant, PrivateBatch, SharedUpdate

__all__ = ["FlowerTask", "ALGORITHMS", "loss_and_accuracy"]

ALGORITHMS = ("fedsgd", "fedavg")
_MAX_BATCH = 1024


def _stable_seed(*parts: int | str) -> int:
    """A 63-bit seed from integers, the same in every process (unlike ``hash``)."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def loss_and_accuracy(model: nn.Module, images: Tensor, labels: Tensor) -> tuple[float, float]:
    """The model's mean cross-entropy (the participants' loss) and accuracy on labelled images.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(1, 2))
        >>> _, acc = loss_and_accuracy(net, torch.zeros(3, 1, 1, 1), torch.tensor([0, 0, 1]))
        >>> acc in (1 / 3, 2 / 3)
        True
    """
    from ..fl import one_hot, soft_cross_entropy
    from ..server import accuracy

    with torch.no_grad():
        logits = model(images)
        loss = soft_cross_entropy(logits, one_hot(labels, logits.shape[-1]).to(logits.dtype))
    return float(loss), accuracy(model, images, labels)


@lru_cache(maxsize=8)
def _split(dataset: str, size: int, seed: int, test_size: int, num_partitions: int,
           fallback: bool = False):
    """The held-out test set and every participant's data (cached per process)."""
    from ..data import load_dataset
    from ..server import split_among

    data = load_dataset(dataset, size=size, fallback=fallback)
    n = len(data)
    if test_size >= n:
        raise ConfigError(f"test_size must be smaller than the {n} images of {data.name}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    test, train = order[:test_size], order[test_size:]
    if num_partitions > len(train):
        raise ConfigError(f"{len(train)} training images cannot be dealt out to "
                          f"{num_partitions} participants")
    parts = split_among(data.images[train], data.labels[train], num_partitions, seed=seed)
    return (data.images[test], data.labels[test]), parts, len(data.classes), data.name


@dataclass(frozen=True)
class FlowerTask:
    """What every node of the federation agrees on before the first round.

    Attributes:
        dataset: a :func:`dlgtut.data.load_dataset` name (``digits`` needs no download).
        size: image side in pixels.
        model: a :func:`dlgtut.models.build_model` name (``lenet`` is the DLG paper's).
        seed: seeds the model's initial weights, the split and every private batch.
        algorithm: ``"fedsgd"`` (participants share a gradient) or ``"fedavg"`` (they share
            new weights after ``local_steps`` SGD steps).
        lr: FedSGD: the server's step size; FedAvg: the participants' local one.
        local_steps: FedAvg's local steps ``K`` (1 for FedSGD).
        batch_size: examples per (local) step.
        full_batch: FedAvg only: every local step runs on the same ``batch_size`` examples
            (several local epochs over a small local dataset) instead of a fresh minibatch of
            ``batch_size`` per step.
        test_size: images held out for the server's evaluation of the global model.
        defense: a :data:`dlgtut.defenses.DEFENSES` name every participant applies to its
            update before sending it, or ``""`` for none.
        defense_value: the defence's strength (variance, pruning fraction), if it takes one.
        fallback: where ``dataset`` cannot be downloaded, use its offline stand-in (the task's
            ``resolved()`` then names it) instead of failing.
    """

    dataset: str = "digits"
    size: int = 16
    model: str = "lenet"
    seed: int = 1234
    algorithm: Literal["fedsgd", "fedavg"] = "fedsgd"
    lr: float = 0.1
    local_steps: int = 1
    batch_size: int = 1
    full_batch: bool = False
    test_size: int = 300
    defense: str = ""
    defense_value: float = 0.0
    fallback: bool = False

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(f"algorithm must be one of {', '.join(ALGORITHMS)}, "
                              f"got {self.algorithm!r}")
        for name in ("size", "local_steps", "batch_size", "test_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.batch_size > _MAX_BATCH:
            raise ConfigError(f"batch_size must be at most {_MAX_BATCH}, got {self.batch_size}")
        if self.algorithm == "fedsgd" and self.local_steps != 1:
            raise ConfigError("FedSGD shares one gradient per round; use fedavg for "
                              "local_steps > 1")
        for name in ("full_batch", "fallback"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be a positive finite number, got {self.lr!r}")
        if self.defense and self.defense not in DEFENSES:
            raise ConfigError(f"unknown defence {self.defense!r}; choose from "
                              f"{', '.join(DEFENSES)}")
        if self.defense:
            make_defense(self.defense, self.defense_value)  # checks the value

    # -- the run config -------------------------------------------------------------------

    def to_run_config(self) -> dict[str, Any]:
        """The task as Flower run-config entries (``dataset``, ``batch-size``, ...).

        Example:
            >>> FlowerTask(batch_size=2).to_run_config()["batch-size"]
            2
        """
        return {f.name.replace("_", "-"): getattr(self, f.name)
                for f in dataclasses.fields(self)}

    @classmethod
    def from_run_config(cls, config: dict[str, Any]) -> FlowerTask:
        """The task from Flower run-config entries; keys it does not know are ignored.

        Example:
            >>> FlowerTask.from_run_config({"batch-size": 2, "rounds": 3}).batch_size
            2
        """
        names = {f.name.replace("_", "-"): f for f in dataclasses.fields(cls)}
        values = {}
        for key, value in config.items():
            field = names.get(key)
            if field is None:
                continue
            if field.type == "int" and isinstance(value, float) and value.is_integer():
                value = int(value)
            if field.type == "float" and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if field.type == "bool" and isinstance(value, int | float):
                value = bool(value)
            values[field.name] = value
        return cls(**values)

    def resolved(self) -> FlowerTask:
        """The task with the dataset that actually loads (its offline fallback, if any).

        Loading happens once here; every process of the federation then loads the same data
        without trying a download that already failed.
        """
        return self.replace(dataset=self._split(1)[3])

    def replace(self, **changes) -> FlowerTask:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    # -- data and model -------------------------------------------------------------------

    def partition(self, partition_id: int, num_partitions: int) -> tuple[Tensor, Tensor]:
        """Participant ``partition_id``'s private data: ``(images, labels)``."""
        _, parts, _, _ = self._split(num_partitions)
        if not 0 <= partition_id < num_partitions:
            raise ConfigError(f"partition_id must lie in [0, {num_partitions - 1}], "
                              f"got {partition_id}")
        return parts[partition_id]

    def test_set(self) -> tuple[Tensor, Tensor]:
        """The held-out images and labels the server evaluates the global model on."""
        test, _, _, _ = self._split(1)
        return test

    def num_classes(self) -> int:
        """The number of classes of the dataset (the model's outputs)."""
        return self._split(1)[2]

    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.test_set()[0].shape[1:])

    def _split(self, num_partitions: int):
        return _split(self.dataset, self.size, self.seed, self.test_size, num_partitions,
                      self.fallback)

    def build_model(self) -> nn.Module:
        """The global model before the first round (the same weights on every node).

        The seeded initialisation runs on a forked generator: building the model does not
        disturb torch's global random stream.
        """
        from ..models import build_model

        c, h, _ = self.input_shape()
        with torch.random.fork_rng(devices=[]):
            return build_model(self.model, in_channels=c, num_classes=self.num_classes(),
                               image_size=h, seed=self.seed)

    def examples_per_round(self) -> int:
        """How many examples a participant draws for one round (at most all of its own)."""
        if self.algorithm == "fedsgd" or self.full_batch:
            return self.batch_size
        return self.batch_size * self.local_steps

    def minibatch_size(self) -> int | None:
        """FedAvg's examples per local step: ``batch_size``, or None for the whole batch."""
        return None if self.full_batch else self.batch_size

    def private_batch(self, partition_id: int, num_partitions: int,
                      server_round: int) -> PrivateBatch:
        """The batch participant ``partition_id`` trains on in round ``server_round``.

        Drawn without replacement from the participant's own data by a generator seeded with
        ``(seed, partition_id, server_round)``.
        """
        images, labels = self.partition(partition_id, num_partitions)
        gen = torch.Generator().manual_seed(_stable_seed(self.seed, partition_id, server_round))
        draw = min(self.examples_per_round(), len(images))
        idx = torch.randperm(len(images), generator=gen)[:draw]
        return PrivateBatch(images[idx], labels[idx])

    def defense_fn(self, partition_id: int = 0, server_round: int = 0) -> Defense | None:
        """Participant ``partition_id``'s defence in ``server_round``, or None without one.

        A noise defence draws from a generator seeded with ``(seed, partition_id,
        server_round)``: every participant and round gets its own noise, reproducibly.
        """
        if not self.defense:
            return None
        seed = _stable_seed(self.seed, partition_id, server_round, "defence")
        return make_defense(self.defense, self.defense_value, seed=seed)

    def honest_update(self, model: nn.Module, batch: PrivateBatch) -> SharedUpdate:
        """What an honest participant computes on ``batch`` from the global ``model``.

        FedSGD: the gradient (:meth:`~dlgtut.fl.Participant.fedsgd`); FedAvg: the weight change
        after ``local_steps`` SGD steps on successive minibatches of ``batch_size`` (or on the
        whole batch with ``full_batch``; :meth:`~dlgtut.fl.Participant.fedavg`). The defence
        is not applied here.
        """
        participant = Participant(model)
        if self.algorithm == "fedsgd":
            return participant.fedsgd(batch)
        return participant.fedavg(batch, local_steps=self.local_steps, lr=self.lr,
                                  minibatch_size=self.minibatch_size())
