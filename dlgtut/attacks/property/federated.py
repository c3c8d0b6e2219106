"""Property inference round by round in a FedSGD federation: the experiment and its figures.

:func:`run_property_inference` trains a federation of the adversary, the victim and other
honest participants on the main task with :class:`~dlgtut.server.Server` and
:class:`~dlgtut.fl.Participant`, and attacks every round with
:class:`~dlgtut.attacks.property.PropertyAttacker`: from the others' aggregate update (what a
participant sees) and from the victim's single update (what a server or a neighbour sees).
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from ...checks import axes, instance, integer, number
from ...checks import seed as check_seed
from ...device import resolve_device
from ...errors import ConfigError
from ...fl import Participant
from ...roc import RocSummary, plot_roc, roc_summary
from ...server import Server, accuracy
from ...training import MLP
from .classifier import (
    FEATURES,
    PropertyAttacker,
    attack_round,
    observe,
    others_update,
)
from .data import PropertySplit

__all__ = [
    "PropertyConfig",
    "PropertyResult",
    "run_property_inference",
    "plot_rounds",
    "plot_attack_roc",
]

_AGGREGATE, _SINGLE = "#c62828", "#1565c0"  # colours of the two attackers in every figure


@dataclass(frozen=True)
class PropertyConfig:
    """The federation and the attack of :func:`run_property_inference`.

    Attributes:
        rounds: FedSGD rounds.
        batch_size: every participant's batch size.
        lr: the server's learning rate.
        hidden: width of the MLP's hidden layer.
        fraction: share of the victim's batch with the property in a round that has it.
        property_rounds: ``(start, stop)``: the victim's batches have the property in rounds
            ``start <= r < stop`` (counting from 0); None: the middle third of the rounds (at
            least the second round).
        train_draws: simulated updates the attacker trains on per round.
        eval_draws: observed updates scored per round to measure the AUC of that round.
        features: what the attacker classifies (see :data:`FEATURES`).
        C: inverse L2 strength of the attacker's logistic regression.
        seed: seeds the model, every draw and the attacker.
    """

    rounds: int = 30
    batch_size: int = 32
    lr: float = 0.3
    hidden: int = 64
    fraction: float = 1.0
    property_rounds: tuple[int, int] | None = None
    train_draws: int = 600
    eval_draws: int = 200
    features: str = "last"
    C: float = 0.01
    seed: int = 0

    def window(self) -> tuple[int, int]:
        """The rounds ``[start, stop)`` in which the victim's batch has the property.

        Example:
            >>> PropertyConfig(rounds=30).window(), PropertyConfig(rounds=2).window()
            ((10, 20), (1, 2))
        """
        if self.property_rounds is not None:
            return tuple(self.property_rounds)
        start = max(1, self.rounds // 3)
        return start, max(start + 1, self.rounds - self.rounds // 3)

    def check(self) -> None:
        """Raise ConfigError for values that cannot run (of the wrong kind included)."""
        for name in ("rounds", "batch_size", "hidden", "train_draws", "eval_draws"):
            integer(getattr(self, name), name)
        for name in ("lr", "C", "fraction"):
            number(getattr(self, name), name)
        check_seed(self.seed)
        if self.property_rounds is not None:
            rounds = self.property_rounds
            if isinstance(rounds, str) or not isinstance(rounds, tuple | list) or len(
                    rounds) != 2:
                raise ConfigError(f"property_rounds must be (start, stop), got {rounds!r}")
            for r in rounds:
                integer(r, "property_rounds")
        for name in ("batch_size", "hidden"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.rounds < 2:
            raise ConfigError(f"rounds must be at least 2 (rounds with and without the property), "
                              f"got {self.rounds}")
        for name in ("lr", "C"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 < self.fraction <= 1:
            raise ConfigError(f"fraction must lie in (0, 1], got {self.fraction}")
        if not isinstance(self.features, str) or self.features not in FEATURES:
            raise ConfigError(f"unknown features {self.features!r}; choose from "
                              f"{', '.join(FEATURES)}")
        if self.train_draws < 4 or self.eval_draws < 4:
            raise ConfigError("train_draws and eval_draws must be at least 4")
        start, stop = self.window()
        if not 0 <= start < stop <= self.rounds or (start, stop) == (0, self.rounds):
            raise ConfigError(f"property_rounds must be a proper part of rounds 0..{self.rounds}, "
                              f"got ({start}, {stop})")


@dataclass
class PropertyResult:
    """What :func:`run_property_inference` measured.

    Attributes:
        participants: participants in the federation (the adversary and the victim included).
        roc: the aggregate attack, pooled over every round's observed updates.
        single_roc: the single-update attack, pooled likewise.
        auc_per_round: AUC of the aggregate attack in each round.
        single_auc_per_round: AUC of the single-update attack in each round.
        run_scores: the adversary's score of the aggregate it really observed in each round.
        run_truth: whether the victim's batch had the property in that round.
        accuracy: the global model's test accuracy before the first round and after each.
        states: the global model's ``state_dict`` at the start of each round, and at the end.
        property_name: what the property means.
        config: the configuration.
        seconds: wall-clock time.
    """

    participants: int
    roc: RocSummary
    single_roc: RocSummary
    auc_per_round: list[float]
    single_auc_per_round: list[float]
    run_scores: list[float]
    run_truth: list[bool]
    accuracy: list[float]
    states: list[dict[str, Tensor]] = field(repr=False)
    property_name: str
    config: PropertyConfig
    seconds: float

    @property
    def run_auc(self) -> float:
        """AUC of the real rounds' scores against whether the victim's batch had the property."""
        return roc_summary(self.run_scores, [int(t) for t in self.run_truth]).auc

    def metrics(self) -> dict:
        """Everything ``metrics.json`` holds (without the model states)."""
        return {
            **self.roc.as_dict(),
            "auc_per_round": self.auc_per_round,
            "single_update": {**self.single_roc.as_dict(),
                              "auc_per_round": self.single_auc_per_round},
            "run": {"auc": self.run_auc, "scores": self.run_scores,
                    "has_property": self.run_truth},
            "accuracy_per_round": self.accuracy,
            "participants": self.participants,
            "observed_updates": self.participants - 1,
            "property": self.property_name,
            "config": asdict(self.config),
            "seconds": round(self.seconds, 3),
        }


def run_property_inference(split: PropertySplit, config: PropertyConfig | None = None, *,
                           progress: bool = False,
                           device: str | torch.device = "cpu") -> PropertyResult:
    """Train a FedSGD federation and attack it round by round.

    The federation holds the adversary, the victim and ``len(split.others)`` other honest
    participants; an MLP learns the main task. Every round: (1) at the current global model,
    an aggregate attacker (the others' mean update, ``participants - 1`` updates) and a
    single-update attacker are fitted and scored on ``eval_draws`` observed updates each
    (:func:`attack_round`); (2) the real round runs: every participant shares its
    :meth:`~dlgtut.fl.Participant.fedsgd` update (the victim's batch has the property inside
    ``config.window()``), the :class:`~dlgtut.server.Server` applies the mean, and the adversary
    scores what :func:`~dlgtut.attacks.property.others_update` recovers from the two global
    models with the attacker it fitted for that round.

    Args:
        split: who holds which data (:func:`~dlgtut.attacks.property.data.split_for_property`);
            the federation has ``len(split.others) + 2`` participants.
        config: the federation and the attack (defaults: :class:`PropertyConfig`).
        progress: show a tqdm progress bar over the rounds.
        device: where the global model lives, and so where the participants' updates and the
            attacker's gradients are computed (its weights are drawn on the CPU first).

    Returns:
        A :class:`PropertyResult` (its ``states`` on ``device``).

    Raises:
        ConfigError: invalid settings, pools too small for the batch size, or a device this
            machine does not have.
        WrongTypeError: ``split`` is not a PropertySplit, or ``config`` not a PropertyConfig.
    """
    instance(split, PropertySplit, "split")
    config = PropertyConfig() if config is None else instance(config, PropertyConfig, "config")
    config.check()
    device = resolve_device(device)
    pools = {"the adversary": split.aux, "the victim": split.victim,
             **{f"honest participant {k + 1}": p for k, p in enumerate(split.others)}}
    for who, pool in pools.items():
        if len(pool) < config.batch_size:
            raise ConfigError(f"{who} holds {len(pool)} examples, fewer than a batch of "
                              f"{config.batch_size}; use a smaller batch size")
    started = time.perf_counter()
    participants = len(split.others) + 2
    start, stop = config.window()
    c, h, w = split.aux.images.shape[1:]
    net = MLP(c * h * w, split.num_classes, hidden=(config.hidden,), seed=config.seed)
    server = Server(net.to(device), lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    common = dict(batch_size=config.batch_size, fraction=config.fraction,
                  train_draws=config.train_draws, eval_draws=config.eval_draws,
                  features=config.features, C=config.C)
    scores, truth, single_scores, single_truth = [], [], [], []
    auc, single_auc, run_scores, run_truth = [], [], [], []
    acc = [accuracy(server.model, *split.test)]
    states = []
    for r in tqdm(range(config.rounds), desc="property", disable=not progress, leave=False):
        model = server.model
        states.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        seed = config.seed + 1000 * (r + 1)
        attacker = PropertyAttacker(split.aux, batch_size=config.batch_size,
                                    n_updates=participants - 1, draws=config.train_draws,
                                    features=config.features, C=config.C,
                                    seed=seed).fit(model)
        seen, t = observe(model, split, n_updates=participants - 1,
                          batch_size=config.batch_size, fraction=config.fraction,
                          draws=config.eval_draws,
                          generator=torch.Generator().manual_seed(seed + 1))
        s = attacker.score(seen)
        scores.append(s), truth.append(t), auc.append(roc_summary(s, t).auc)
        s, t = attack_round(model, split, n_updates=1, seed=seed + 500, **common)
        single_scores.append(s), single_truth.append(t), single_auc.append(roc_summary(s, t).auc)

        # The real round: the victim's batch has the property inside the window.
        has = start <= r < stop
        batches = [split.aux.batch(split.aux.draw(config.batch_size, None, generator=gen)),
                   split.victim.batch(split.victim.draw(config.batch_size, has,
                                                        fraction=config.fraction,
                                                        generator=gen))]
        batches += [p.batch(p.draw(config.batch_size, None, generator=gen)) for p in split.others]
        updates = [Participant(model).fedsgd(b) for b in batches]  # updates[0]: the adversary's
        before = copy.deepcopy(model)
        server.round(updates)
        seen = others_update(before, server.model, updates[0], lr=config.lr,
                             total_examples=sum(len(b) for b in batches))
        run_scores.append(float(attacker.score(seen)[0]))
        run_truth.append(has)
        acc.append(accuracy(server.model, *split.test))
    states.append({k: v.detach().clone() for k, v in server.model.state_dict().items()})
    return PropertyResult(
        participants=participants,
        roc=roc_summary(np.concatenate(scores), np.concatenate(truth)),
        single_roc=roc_summary(np.concatenate(single_scores), np.concatenate(single_truth)),
        auc_per_round=auc, single_auc_per_round=single_auc,
        run_scores=run_scores, run_truth=run_truth, accuracy=acc, states=states,
        property_name=split.property_name, config=config,
        seconds=time.perf_counter() - started,
    )


def plot_rounds(result: PropertyResult, *, title: str | None = None):
    """AUC per round (top) and the score of each real round's aggregate (bottom); the figure."""
    import matplotlib.pyplot as plt

    instance(result, PropertyResult, "result")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 6), sharex=True)
    rounds = np.arange(1, len(result.auc_per_round) + 1)
    start, stop = result.config.window()
    k = result.participants - 1
    top.plot(rounds, result.auc_per_round, marker="o", ms=3, color=_AGGREGATE,
             label=f"aggregate of {k} update{'s' * (k > 1)} (a participant)")
    top.plot(rounds, result.single_auc_per_round, marker="s", ms=3, color=_SINGLE,
             label="single update (server or neighbour)")
    top.plot(np.arange(len(result.accuracy)), result.accuracy, color="grey", lw=1, ls=":",
             label="main task: test accuracy")
    top.axhline(0.5, color="grey", lw=1, ls="--", label="chance (AUC 0.5)")
    top.set_ylim(0, 1.02)
    top.set_ylabel("AUC (property) / accuracy")
    top.legend(fontsize=7, loc="lower right")
    top.set_title(title or f"Property inference ({result.property_name}), "
                  f"{result.participants} participants")
    for ax in (top, bottom):
        ax.axvspan(start + 0.5, stop + 0.5, color="#ffe082", alpha=0.4, lw=0)
        ax.grid(alpha=0.3)
    truth = np.array(result.run_truth)
    s = np.array(result.run_scores)
    bottom.plot(rounds, s, color="black", lw=0.8)
    bottom.scatter(rounds[truth], s[truth], color="#ef6c00", s=18, zorder=3,
                   label="victim's batch has the property")
    bottom.scatter(rounds[~truth], s[~truth], color="#546e7a", s=18, zorder=3,
                   label="victim's batch does not")
    bottom.axhline(0, color="grey", lw=1, ls="--")
    bottom.set_xlabel("round (shaded: the victim's batches have the property)")
    bottom.set_ylabel("score of the observed aggregate\n(log-odds of the property)")
    bottom.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def plot_attack_roc(result: PropertyResult, *, ax=None, title: str | None = None):
    """ROC curves (log-log) of the aggregate and the single-update attack, all rounds pooled."""
    import matplotlib.pyplot as plt

    instance(result, PropertyResult, "result")
    axes(ax)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.set_prop_cycle(color=[_AGGREGATE, _SINGLE])
    k = result.participants - 1
    curves = {f"aggregate of {k} update{'s' * (k > 1)}": result.roc,
              "single update": result.single_roc}
    return plot_roc(curves, ax=ax, title=title or f"{result.property_name}: "
                    f"{len(result.auc_per_round)} rounds pooled")
