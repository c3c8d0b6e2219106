r"""The other side of federated learning: the server and its training rounds.

Centralised federated learning (McMahan et al., 2017) runs in rounds::

    global model W -> every participant: PrivateBatch -> Participant -> SharedUpdate -> Server
    Server: aggregate (mean weighted by batch size) -> apply_update -> the next global model

* **FedSGD**: each participant shares the gradient :math:`g_k` of its batch loss and the server
  takes one step, :math:`W \leftarrow W - \eta \sum_k \frac{n_k}{n} g_k`.
* **FedAvg**: each participant runs ``K`` local SGD steps from :math:`W` and shares the change
  :math:`\Delta W_k`; the server adds the average, :math:`W \leftarrow W + \sum_k \frac{n_k}{n}
  \Delta W_k`. With ``K = 1`` and the same learning rate the two are the same step.

The :class:`Server` sees every :class:`~dlgtut.fl.SharedUpdate` of every round. With
``record=True`` it keeps them: that log is exactly what an honest-but-curious server holds, and
what the attacks of the book take as input.

Decentralised federated learning, without a server, is in :mod:`dlgtut.gossip`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .checks import (
    as_model_input,
    flag,
    function,
    integer,
    model_output,
    model_parameters,
    number,
    tensor,
)
from .checks import seed as check_seed
from .errors import ConfigError, DataError, WrongTypeError
from .fl import Participant, PrivateBatch, SharedUpdate, as_labels
from .partition import split_among  # re-exported: dlgtut.server.split_among keeps working

__all__ = [
    "aggregate",
    "apply_update",
    "split_among",
    "accuracy",
    "Server",
    "TrainingLog",
    "federated_training",
]

Kind = Literal["gradient", "weight_delta"]
Algorithm = Literal["fedsgd", "fedavg"]
_KINDS = ("gradient", "weight_delta")
_ALGORITHMS = ("fedsgd", "fedavg")


def _shapes(tensors: Sequence[Tensor]) -> str:
    return ", ".join("x".join(str(s) for s in t.shape) or "scalar" for t in tensors)


def _update_list(updates, who: str) -> list:
    """``updates`` as a list; a single update or a non-sequence is a WrongTypeError."""
    if isinstance(updates, SharedUpdate | str) or not isinstance(updates, Sequence):
        raise WrongTypeError(f"{who} takes a list of SharedUpdates, got "
                             f"{type(updates).__name__}")
    return list(updates)


def aggregate(updates: Sequence[SharedUpdate]) -> tuple[Tensor, ...]:
    r"""The mean of the updates' tensors, each update weighted by its batch size.

    .. math::
        \bar u = \sum_k \frac{n_k}{\sum_j n_j}\, u_k

    This is the server's whole view of a round once the updates are combined: FedSGD averages
    gradients, FedAvg weight changes.

    Args:
        updates: one :class:`~dlgtut.fl.SharedUpdate` per participant, all of one kind
            (``"gradient"`` or ``"weight_delta"``) and with tensors of the same shapes.

    Returns:
        One tensor per parameter, in ``model.parameters()`` order, on the updates' device.

    Raises:
        DataError: no updates, something that is not a SharedUpdate, or mismatched shapes.
        ConfigError: gradients mixed with weight changes.
        WrongTypeError: ``updates`` is not a list (a single update, say).

    Example:
        >>> from dlgtut.fl import Participant, PrivateBatch
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> a = Participant(net).fedsgd(PrivateBatch(torch.rand(1, 1, 2, 2), torch.tensor([0])))
        >>> y = torch.tensor([1, 0, 1])
        >>> b = Participant(net).fedsgd(PrivateBatch(torch.rand(3, 1, 2, 2), y))
        >>> mean = aggregate([a, b])
        >>> torch.allclose(mean[1], (1 * a.tensors[1] + 3 * b.tensors[1]) / 4)
        True
    """
    updates = _update_list(updates, "aggregate")
    if not updates:
        raise DataError("aggregate needs at least one update")
    for i, u in enumerate(updates):
        if not isinstance(u, SharedUpdate):
            raise DataError(f"update {i} is a {type(u).__name__}, not a SharedUpdate")
    kinds = sorted({u.kind for u in updates})
    if len(kinds) > 1:
        raise ConfigError(f"cannot average different kinds of update: {' and '.join(kinds)}")
    first = [t.shape for t in updates[0].tensors]
    for i, u in enumerate(updates[1:], start=1):
        if [t.shape for t in u.tensors] != first:
            raise DataError(
                f"update {i} has tensors of shapes ({_shapes(u.tensors)}), "
                f"update 0 has ({_shapes(updates[0].tensors)})"
            )
    sizes = torch.tensor([float(u.batch_size) for u in updates], dtype=torch.float64)
    weights = sizes / sizes.sum()
    mean = []
    for parts in zip(*(u.tensors for u in updates), strict=True):
        stacked = torch.stack(parts)
        w = weights.to(stacked).reshape(-1, *([1] * parts[0].ndim))  # its dtype and device
        mean.append((w * stacked).sum(0))
    return tuple(mean)


def apply_update(
    model: nn.Module, tensors: Sequence[Tensor], kind: Kind, *, lr: float | None = None
) -> nn.Module:
    r"""Change ``model``'s parameters in place by an (aggregated) update, without autograd.

    * ``"gradient"`` (FedSGD): :math:`W \leftarrow W - \mathrm{lr}\, g`; ``lr`` is required.
    * ``"weight_delta"`` (FedAvg): :math:`W \leftarrow W + \mathrm{lr}\, \Delta W` with ``lr``
      (a server learning rate) 1 unless given, so plain FedAvg adds the average change.

    Args:
        model: the global model; its parameters are overwritten.
        tensors: one tensor per parameter, in ``model.parameters()`` order.
        kind: ``"gradient"`` or ``"weight_delta"``.
        lr: the step size (see above).

    Returns:
        ``model``, for chaining.

    Raises:
        ConfigError: an unknown kind, or a missing or bad ``lr``.
        WrongTypeError: ``model`` is not a module, or ``tensors`` not a sequence of tensors.
        DataError: tensors that do not fit the parameters, or that hold NaN or inf.

    Example:
        >>> net = nn.Linear(1, 1, bias=False)
        >>> _ = nn.init.constant_(net.weight, 1.0)
        >>> apply_update(net, [torch.tensor([[2.0]])], "gradient", lr=0.25).weight.item()
        0.5
    """
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ConfigError(f"unknown update kind {kind!r}; choose from {', '.join(_KINDS)}")
    if kind == "gradient" and lr is None:
        raise ConfigError("a gradient update needs the server's learning rate lr")
    step = 1.0 if lr is None else number(lr, "lr", low=0, low_open=True)
    params = model_parameters(model)
    if isinstance(tensors, Tensor) or not isinstance(tensors, Sequence):
        raise WrongTypeError(f"tensors must be a sequence of tensors, one per parameter, got "
                             f"{type(tensors).__name__}")
    tensors = list(tensors)
    if len(tensors) != len(params):
        raise DataError(f"the model has {len(params)} parameters, the update {len(tensors)}")
    for i, (p, t) in enumerate(zip(params, tensors, strict=True)):
        tensor(t, f"update tensor {i}", floating=True, finite=True, nonempty=False)
        if t.shape != p.shape:
            raise DataError(
                f"update tensor {i} has shape {tuple(t.shape)}, parameter {i} {tuple(p.shape)}"
            )
    alpha = -step if kind == "gradient" else step
    with torch.no_grad():
        for p, t in zip(params, tensors, strict=True):
            p.add_(t.to(p), alpha=alpha)
    return model


def accuracy(model: nn.Module, images: Tensor, labels: Tensor, *, batch_size: int = 1024) -> float:
    """The fraction of ``images`` that ``model`` classifies as ``labels``.

    The model runs in eval mode and without autograd, ``batch_size`` examples at a time; its
    training mode is restored afterwards. The images follow the model's dtype and device.

    Raises:
        WrongTypeError: ``model`` is not a module.
        DataError: images that are not finite floats, labels that are not integers (float
            labels are refused, not truncated), lengths that differ, or images the model
            cannot take.
        ConfigError: a ``batch_size`` that is not a positive integer.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(1, 2))
        >>> with torch.no_grad():
        ...     _ = net[1].weight.copy_(torch.tensor([[-1.0], [1.0]])), net[1].bias.zero_()
        >>> x = torch.tensor([-1.0, 2.0, 3.0]).reshape(3, 1, 1, 1)
        >>> accuracy(net, x, torch.tensor([0, 1, 0]))
        0.6666666666666666
    """
    model_parameters(model)
    tensor(images, "images", min_ndim=2, floating=True, finite=True, nonempty=False)
    labels = as_labels(labels)
    if len(images) != len(labels) or len(labels) == 0:
        raise DataError(f"need a non-empty test set with one label per example: {len(images)} "
                        f"examples, {len(labels)} labels")
    integer(batch_size, "batch_size", low=1)
    was_training = model.training
    model.eval()
    right = 0
    try:
        with torch.no_grad():
            for lo in range(0, len(images), batch_size):
                x = as_model_input(model, images[lo : lo + batch_size])
                pred = model_output(model, x).argmax(-1)
                right += int((pred == labels[lo : lo + batch_size].to(pred.device)).sum())
    finally:
        model.train(was_training)
    return right / len(labels)


class Server:
    """The parameter server of centralised federated learning.

    Each call of :meth:`round` aggregates what the participants shared (:func:`aggregate`) and
    applies it to the global model (:func:`apply_update`). The server is honest: it follows the
    protocol. It may also be curious: with ``record=True`` it keeps every update it received,
    round by round, in :attr:`received`.

    Args:
        model: the global model, updated in place.
        lr: the server's learning rate for gradients (FedSGD); for weight changes (FedAvg) a
            server learning rate, 1 if not given.
        record: keep the received updates in :attr:`received`.

    Example:
        >>> from dlgtut.fl import Participant, PrivateBatch
        >>> server = Server(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), lr=0.1, record=True)
        >>> batch = PrivateBatch(torch.rand(2, 1, 2, 2), torch.tensor([0, 1]))
        >>> _ = server.round([Participant(server.model).fedsgd(batch)])
        >>> len(server.received), server.received[0][0].kind
        (1, 'gradient')
    """

    def __init__(self, model: nn.Module, *, lr: float | None = None, record: bool = False):
        model_parameters(model)
        if lr is not None:
            number(lr, "lr", low=0, low_open=True)
        flag(record, "record")
        self.model = model
        self.lr = lr
        self.record = record
        self.received: list[list[SharedUpdate]] = []

    def round(self, updates: Sequence[SharedUpdate]) -> tuple[Tensor, ...]:
        """Aggregate one round's updates, apply them to the global model, return the aggregate."""
        updates = _update_list(updates, "Server.round")
        mean = aggregate(updates)
        apply_update(self.model, mean, updates[0].kind, lr=self.lr)
        if self.record:
            self.received.append(updates)
        return mean


@dataclass
class TrainingLog:
    """What a run of :func:`federated_training` produced.

    Attributes:
        algorithm: ``"fedsgd"`` or ``"fedavg"``.
        accuracy: test accuracy of the global model before the first round (index 0) and after
            every round (index ``r``); empty without a test set.
        model: the final global model.
        received: if recorded, the updates the server received, one list per round (index
            ``r - 1`` for round ``r``), in the order of the participants.
        states: if recorded, the global model's ``state_dict`` before the first round and after
            every round (index ``r``), as detached copies.
        participants: the participants that took part in each round.
        seconds: wall-clock time of the run.
    """

    algorithm: str
    accuracy: list[float]
    model: nn.Module
    received: list[list[SharedUpdate]] | None = None
    states: list[dict[str, Tensor]] | None = None
    participants: list[list[int]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rounds(self) -> int:
        """Number of rounds run."""
        return len(self.participants)

    def rounds_to(self, target: float) -> int | None:
        """The first round after which the test accuracy reached ``target``; None if never.

        Raises:
            ConfigError: ``target`` is not a finite number (a NaN target was silently never
                met; one above 1 is never met either, and says so by None).
        """
        number(target, "target")
        return next((r for r, a in enumerate(self.accuracy) if a >= target), None)


def _state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _examples(pair, who: str) -> tuple[Tensor, Tensor]:
    """One participant's ``(images, labels)``: float images in [0, 1], integer labels."""
    if not isinstance(pair, tuple | list) or len(pair) != 2:
        raise WrongTypeError(f"{who}'s data must be an (images, labels) pair, got "
                             f"{type(pair).__name__}")
    images = tensor(pair[0], f"{who}'s images", min_ndim=2, floating=True, unit=True,
                    nonempty=False)
    return images, as_labels(pair[1], f"{who}'s labels")


def federated_training(
    model: nn.Module,
    data: Sequence[tuple[Tensor, Tensor]],
    test: tuple[Tensor, Tensor] | None = None,
    *,
    rounds: int,
    algorithm: Algorithm = "fedavg",
    lr: float = 0.1,
    batch_size: int = 32,
    local_steps: int = 1,
    clients_per_round: int | None = None,
    seed: int = 0,
    record: bool = False,
    progress: bool = False,
    defense: Callable[[SharedUpdate], SharedUpdate] | None = None,
    update_fn: Callable[[nn.Module, PrivateBatch], SharedUpdate] | None = None,
) -> TrainingLog:
    """Train a copy of ``model`` by centralised federated learning for ``rounds`` rounds.

    In every round each participant taking part draws examples at random (without replacement)
    from its own data, computes its update with :class:`~dlgtut.fl.Participant`, and the
    :class:`Server` aggregates and applies the updates:

    * ``"fedsgd"``: ``batch_size`` examples, one gradient; the server steps with ``lr``.
    * ``"fedavg"``: ``local_steps * batch_size`` examples (at most all of the participant's),
      ``local_steps`` local SGD steps at ``lr`` on successive minibatches of ``batch_size``;
      the server adds the average weight change.

    All randomness (who takes part, which examples) comes from one CPU generator seeded with
    ``seed``, so the same arguments give the same numbers (on any device). ``model`` itself is
    not changed. Training runs on the model's device: the data stay where they are and each
    batch moves to the model, and the recorded updates and states live on the model's device.

    Args:
        model: the initial global model.
        data: each participant's private ``(images, labels)``, images in [0, 1] (for example
            from :func:`split_among`).
        test: ``(images, labels)`` to measure the global model's accuracy on, or None.
        rounds: communication rounds.
        algorithm: ``"fedsgd"`` or ``"fedavg"``.
        lr: the learning rate of the SGD steps (the server's for FedSGD, the participants'
            local one for FedAvg).
        batch_size: examples per (local) step.
        local_steps: FedAvg's local steps ``K`` (FedSGD takes exactly one).
        clients_per_round: participants drawn at random for each round; all if None.
        seed: seed of every random draw.
        record: keep what the server received and the global model after every round.
        progress: show a tqdm progress bar.
        defense: applied by every participant to its update before sending it (see
            :mod:`dlgtut.defenses`); the server aggregates the defended updates.
        update_fn: FedSGD only: computes a participant's update from the global model and
            its batch instead of the plain gradient (for example a DP-SGD update,
            :func:`dlgtut.dp.dp_sgd_update`).

    Returns:
        A :class:`TrainingLog`.

    Raises:
        ConfigError: a setting of the wrong kind or outside its range (checked before any
            round runs).
        WrongTypeError: a model that is not a module, data that is not a list of pairs, or a
            ``defense`` or ``update_fn`` that cannot be called.
        DataError: images that are not floats in [0, 1], labels that are not integers, or a
            participant without examples.

    Example:
        >>> images, labels = torch.rand(40, 1, 4, 4), torch.arange(40) % 2
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
        >>> log = federated_training(net, split_among(images, labels, 2), (images, labels),
        ...                          rounds=3, algorithm="fedsgd", batch_size=8, record=True)
        >>> log.rounds, len(log.accuracy), len(log.received[0]), len(log.states)
        (3, 4, 2, 4)
    """
    if not isinstance(algorithm, str) or algorithm not in _ALGORITHMS:
        raise ConfigError(f"unknown algorithm {algorithm!r}; choose from {', '.join(_ALGORITHMS)}")
    model_parameters(model)
    integer(rounds, "rounds", low=0)
    integer(batch_size, "batch_size", low=1)
    integer(local_steps, "local_steps", low=1)
    if algorithm == "fedsgd" and local_steps != 1:
        raise ConfigError("FedSGD shares one gradient per round; use fedavg for local_steps > 1")
    number(lr, "lr", low=0, low_open=True)
    check_seed(seed)
    flag(record, "record")
    flag(progress, "progress")
    function(defense, "defense")
    function(update_fn, "update_fn")
    if update_fn is not None and algorithm != "fedsgd":
        raise ConfigError("update_fn replaces the FedSGD gradient; use algorithm='fedsgd'")
    single = isinstance(data, tuple) and bool(data) and isinstance(data[0], Tensor)
    if single or isinstance(data, Tensor) or not isinstance(data, Sequence):
        got = "one (images, labels) pair" if single else type(data).__name__
        raise WrongTypeError("data must be a list with one (images, labels) pair per participant "
                             f"(see split_among), got {got}")
    data = [_examples(pair, f"participant {k}") for k, pair in enumerate(data)]
    if not data:
        raise DataError("federated training needs at least one participant's data")
    for k, (images, labels) in enumerate(data):
        if len(images) == 0 or len(images) != len(labels):
            raise DataError(f"participant {k} has {len(images)} examples and {len(labels)} labels")
    if test is not None:
        test = _examples(test, "the test set")
    n = len(data)
    per_round = n if clients_per_round is None else integer(
        clients_per_round, "clients_per_round")
    if not 1 <= per_round <= n:
        raise ConfigError(f"clients_per_round must lie in [1, {n}], got {clients_per_round}")

    started = time.perf_counter()
    server = Server(copy.deepcopy(model), lr=lr if algorithm == "fedsgd" else None, record=record)
    gen = torch.Generator().manual_seed(seed)
    log = TrainingLog(algorithm, [], server.model, [] if record else None,
                      [_state(server.model)] if record else None)
    if test is not None:
        log.accuracy.append(accuracy(server.model, *test))
    draw = batch_size if algorithm == "fedsgd" else batch_size * local_steps
    for _ in tqdm(range(rounds), desc=algorithm, disable=not progress, leave=False):
        chosen = list(range(n)) if per_round == n else sorted(
            torch.randperm(n, generator=gen)[:per_round].tolist()
        )
        updates = []
        for k in chosen:
            images, labels = data[k]
            idx = torch.randperm(len(images), generator=gen)[: min(draw, len(images))]
            batch = PrivateBatch(images[idx], labels[idx])
            participant = Participant(server.model)
            if algorithm == "fedsgd" and update_fn is not None:
                updates.append(update_fn(server.model, batch))
            elif algorithm == "fedsgd":
                updates.append(participant.fedsgd(batch))
            else:
                updates.append(participant.fedavg(
                    batch, local_steps=local_steps, lr=lr, minibatch_size=batch_size
                ))
            if defense is not None:
                updates[-1] = defense(updates[-1])
        server.round(updates)
        log.participants.append(chosen)
        if record:
            log.states.append(_state(server.model))
        if test is not None:
            log.accuracy.append(accuracy(server.model, *test))
    if record:
        log.received = server.received
    log.seconds = time.perf_counter() - started
    return log


