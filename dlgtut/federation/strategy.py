r"""The honest-but-curious server: Flower's FedAvg, plus a look at every update before averaging.

:class:`CuriousFedAvg` subclasses Flower's :class:`~flwr.serverapp.strategy.FedAvg` and follows
the protocol to the letter: the global model it returns is the correct aggregate (Flower's own
weighted average of the new weights for FedAvg; :math:`W_t - \eta \sum_k \frac{n_k}{n} g_k`
for FedSGD, whose participants send gradients). It is curious in one place. In
:meth:`~CuriousFedAvg.aggregate_train`, where Flower hands a strategy every participant's reply
separately, it turns each reply into the :class:`~dlgtut.fl.SharedUpdate` that dlgtut's attacks
take, from public facts only:

* the global weights :math:`W_t` it sent in :meth:`~CuriousFedAvg.configure_train`, as the
  public model;
* the reply's arrays: a gradient, or new weights, from which it subtracts :math:`W_t`;
* what Flower tells it about the reply: the round, the sending node's id, and
  ``"num-examples"`` (the batch size);
* the hyperparameters it sent itself (algorithm, learning rate, local steps, batch size).

It keeps them (:attr:`~CuriousFedAvg.captured`), runs the attack on each (``attack=``), and
records the replies that came back as errors (:attr:`~CuriousFedAvg.failures`): Flower returns
a participant's exception as an error reply, not as an exception, and averages what is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg

from ..errors import AttackError, DataError
from ..fl import SharedUpdate
from .records import EXPERIMENT, arrays_to_parameters, load_arrays
from .task import FlowerTask

if TYPE_CHECKING:
    from ..attacks.result import Reconstruction

__all__ = ["CuriousFedAvg", "Captured", "Failure", "RoundLog", "Attack", "server_attack"]

ATTACKS = ("dlg", "ig")

Attack = Callable[[SharedUpdate], "Reconstruction"]
"""An attack as the strategy calls it: one shared update in, a reconstruction out."""


@dataclass(eq=False)
class Captured:
    """One participant's reply as the curious server keeps it.

    Attributes:
        server_round: the round (1, 2, ...).
        node_id: the sending SuperNode's id, as Flower reports it (a random 64-bit number).
        update: the reply as a :class:`~dlgtut.fl.SharedUpdate`, the attacks' input.
        metrics: the reply's MetricRecord (``num-examples``, training loss and accuracy).
        partition: the data partition the reply came from, read from the experimenter's
            ``"experiment"`` record to score the attack; None if the reply has none. The
            attack never sees it.
        num_partitions: how many partitions the data was dealt into (same record).
        reconstruction: what the attack recovered, if it ran on this update.
        attack_seconds: how long the attack took.
        attack_error: why the attack could not run on this update (an all-zero update, say),
            or None.
        capture_seconds: how long turning the reply into a SharedUpdate took.
    """

    server_round: int
    node_id: int
    update: SharedUpdate
    metrics: dict[str, Any]
    partition: int | None = None
    num_partitions: int | None = None
    reconstruction: Reconstruction | None = None
    attack_seconds: float | None = None
    attack_error: str | None = None
    capture_seconds: float = 0.0


@dataclass(frozen=True)
class Failure:
    """A reply that came back as an error instead of an update.

    Attributes:
        server_round: the round.
        node_id: the SuperNode that failed.
        reason: the last line of Flower's error reason (the participant's exception).
    """

    server_round: int
    node_id: int
    reason: str


@dataclass
class RoundLog:
    """Timings of one round as the server saw them, in seconds.

    Attributes:
        server_round: the round.
        replies: updates received.
        failures: error replies received.
        clients_seconds: from sending the round's messages to holding every reply (the
            participants' work, Flower's transport and the Simulation Engine's scheduling).
        capture_seconds: turning the replies into SharedUpdates.
        attack_seconds: running the attack on them.
        aggregate_seconds: computing the new global model.
    """

    server_round: int
    replies: int = 0
    failures: int = 0
    clients_seconds: float = 0.0
    capture_seconds: float = 0.0
    attack_seconds: float = 0.0
    aggregate_seconds: float = 0.0


def server_attack(name: str, *, iterations: int | None = None, seed: int = 0, **settings):
    """A dlgtut attack by name, quiet, as the strategy calls it; and its configuration.

    Args:
        name: ``"dlg"`` (:func:`~dlgtut.attacks.gradient.dlg`) or ``"ig"``
            (:func:`~dlgtut.attacks.inverting_gradients`, which also unrolls FedAvg's local
            steps).
        iterations: attack steps (default: the attack's own).
        seed: seed of the attack's random starts.
        **settings: further fields of the attack's configuration (``tv_weight=1e-3``).

    Returns:
        ``(attack, config)``: a function from SharedUpdate to Reconstruction, and the
        DLGConfig or IGConfig it uses.

    Example:
        >>> server_attack("ig", iterations=10)[1].iterations
        10
    """
    import functools

    from ..attacks import DLGConfig, IGConfig, dlg, inverting_gradients
    from ..errors import ConfigError

    if name not in ATTACKS:
        raise ConfigError(f"unknown attack {name!r}; choose from {', '.join(ATTACKS)}")
    changes: dict[str, Any] = {"progress": False, "seed": seed, **settings}
    if iterations is not None:
        changes["iterations"] = iterations
    if name == "ig":
        config = IGConfig(**changes)
        return functools.partial(inverting_gradients, config=config), config
    config = DLGConfig(**changes)
    return functools.partial(dlg, config=config), config


def _reason(text: str) -> str:
    """The informative last line of an error reason (Ray wraps it in a traceback)."""
    lines = [ln.strip() for ln in str(text).replace("\\n", "\n").splitlines() if ln.strip()]
    for line in reversed(lines):
        line = line.rstrip("'\">")
        if "Message:" in line:
            return line.split("Message:", 1)[1].strip() or line
        if line:
            return line
    return "unknown error"


class CuriousFedAvg(FedAvg):
    """Flower's FedAvg that also captures, and attacks, every participant's update.

    Args:
        task: the task of the federation (the model architecture, input shape, classes, and
            the hyperparameters the server sends each round).
        attack: run on every captured update (``functools.partial(dlg, progress=False)``);
            None captures without attacking.
        attack_limit: attack at most this many updates per round (the rest are captured);
            None attacks all.
        keep_updates: keep every captured update in :attr:`captured` (switch off to measure
            a large federation's capture cost without holding its updates).
        attack_threads: torch threads while attacking (default 1: the attacks' models are
            small, one thread is the fastest and leaves the other cores to the federation; on
            a busy 2-core machine two threads made DLG ten times slower); None keeps torch's
            setting.
        **kwargs: Flower's FedAvg options. ``fraction_evaluate`` defaults to 0 (the global
            model is evaluated on the server, see :mod:`.simulation`) and ``min_train_nodes``
            and ``min_available_nodes`` to 1.

    Attributes:
        captured: every :class:`Captured` update, in the order received.
        failures: every :class:`Failure`.
        rounds: one :class:`RoundLog` per round.
    """

    def __init__(
        self,
        task: FlowerTask,
        *,
        attack: Attack | None = None,
        attack_limit: int | None = None,
        keep_updates: bool = True,
        attack_threads: int | None = 1,
        **kwargs,
    ) -> None:
        kwargs.setdefault("min_train_nodes", 1)
        kwargs.setdefault("min_available_nodes", 1)
        evaluate = "fraction_evaluate" in kwargs
        super().__init__(**kwargs)
        if not evaluate:  # what FedAvg does for fraction_evaluate=0, without its warning
            self.fraction_evaluate, self.min_evaluate_nodes = 0.0, 0
        self.task = task
        self.attack = attack
        self.attack_limit = attack_limit
        self.keep_updates = keep_updates
        self.attack_threads = attack_threads
        self.captured: list[Captured] = []
        self.failures: list[Failure] = []
        self.rounds: list[RoundLog] = []
        self._sent: dict[int, tuple[torch.nn.Module, float]] = {}

    # -- the protocol ---------------------------------------------------------------------

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Send the global model and the round's hyperparameters; remember :math:`W_t`."""
        task = self.task
        config["algorithm"] = task.algorithm
        config["lr"] = float(task.lr)
        config["local-steps"] = int(task.local_steps)
        config["batch-size"] = int(task.batch_size)
        config["full-batch"] = bool(task.full_batch)
        public = load_arrays(task.build_model(), arrays)  # as a participant's SharedUpdate has it
        messages = super().configure_train(server_round, arrays, config, grid)
        self._sent[server_round] = (public, time.perf_counter())
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Capture (and attack) every reply, then aggregate exactly as the protocol says."""
        received = time.perf_counter()
        replies = list(replies)
        public, sent_at = self._sent.pop(server_round)
        log = RoundLog(server_round, clients_seconds=received - sent_at)
        self.rounds.append(log)
        attacked = 0
        for msg in replies:
            node = int(msg.metadata.src_node_id)
            if msg.has_error():
                self.failures.append(Failure(server_round, node, _reason(msg.error.reason)))
                log.failures += 1
                continue
            started = time.perf_counter()
            captured = self.capture(server_round, msg, public)
            captured.capture_seconds = time.perf_counter() - started
            log.capture_seconds += captured.capture_seconds
            log.replies += 1
            if self.attack is not None and (
                    self.attack_limit is None or attacked < self.attack_limit):
                started = time.perf_counter()
                try:
                    captured.reconstruction = self._run_attack(captured.update)
                except AttackError as err:  # an update that cannot be inverted: keep going
                    captured.attack_error = str(err)
                captured.attack_seconds = time.perf_counter() - started
                log.attack_seconds += captured.attack_seconds
                attacked += 1
            if self.keep_updates:
                self.captured.append(captured)
        started = time.perf_counter()
        if self.task.algorithm == "fedavg":
            result = super().aggregate_train(server_round, replies)
        else:
            result = self._fedsgd_step(replies, public)
        log.aggregate_seconds = time.perf_counter() - started
        return result

    def _run_attack(self, update: SharedUpdate):
        if self.attack_threads is None:
            return self.attack(update)
        before = torch.get_num_threads()
        torch.set_num_threads(self.attack_threads)
        try:
            return self.attack(update)
        finally:
            torch.set_num_threads(before)

    # -- what the server can read -----------------------------------------------------------

    def capture(self, server_round: int, msg: Message, public: torch.nn.Module) -> Captured:
        """One reply as a :class:`Captured` SharedUpdate, built from public facts only."""
        task = self.task
        metrics = dict(msg.content.metric_records[next(iter(msg.content.metric_records))])
        n = metrics.get(self.weighted_by_key)
        if isinstance(n, bool) or not isinstance(n, int | float) or n < 1:
            raise DataError(f"a reply has no valid {self.weighted_by_key!r}: {n!r}")
        arrays = next(iter(msg.content.array_records.values()))
        tensors = arrays_to_parameters(public, arrays)
        facts = {"server-round": server_round, "node-id": int(msg.metadata.src_node_id),
                 "num-examples": int(n), "source": "flower"}
        if task.algorithm == "fedsgd":
            update = SharedUpdate(public, tensors, "gradient", int(n), task.input_shape(),
                                  task.num_classes(), meta=facts)
        else:
            delta = tuple(t - p.detach() for t, p in zip(tensors, public.parameters(),
                                                         strict=True))
            update = SharedUpdate(public, delta, "weight_delta", int(n), task.input_shape(),
                                  task.num_classes(), local_steps=task.local_steps,
                                  lr=float(task.lr),
                                  meta={**facts, "minibatch_size": task.minibatch_size() or int(n)})
        partition = num_partitions = None
        if EXPERIMENT in msg.content.config_records:
            experiment = msg.content.config_records[EXPERIMENT]
            partition = int(experiment["partition-id"])
            num_partitions = int(experiment.get("num-partitions", 0)) or None
        return Captured(server_round, int(msg.metadata.src_node_id), update, metrics,
                        partition, num_partitions)

    def _fedsgd_step(
        self, replies: list[Message], public: torch.nn.Module
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        r"""FedSGD: :math:`W_{t+1} = W_t - \eta \sum_k \frac{n_k}{n} g_k`; buffers carried over."""
        valid, _ = self._check_and_log_replies(replies, is_train=True)
        if not valid:
            return None, None
        contents = [msg.content for msg in valid]
        weights = torch.tensor(
            [float(next(iter(c.metric_records.values()))[self.weighted_by_key])
             for c in contents], dtype=torch.float64)
        weights = weights / weights.sum()
        grads = [arrays_to_parameters(public, next(iter(c.array_records.values())))
                 for c in contents]
        state = {k: v.detach().clone() for k, v in public.state_dict().items()}
        names = [name for name, _ in public.named_parameters()]
        for i, name in enumerate(names):
            mean = sum(w * g[i].double() for w, g in zip(weights, grads, strict=True))
            state[name] = (state[name].double() - self.task.lr * mean).to(state[name].dtype)
        metrics = self.train_metrics_aggr_fn(contents, self.weighted_by_key)
        return ArrayRecord({k: v.contiguous() for k, v in state.items()}), metrics

    def reconstructions(self) -> list[Captured]:
        """The captured updates the attack ran on."""
        return [c for c in self.captured if c.reconstruction is not None]
