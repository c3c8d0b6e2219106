"""The target and the shadow models: trained the same way, on random halves of the candidates.

The attacker knows the training recipe (:class:`Recipe`), so it can train shadow models exactly
as the target was trained, on halves of the candidates whose membership it chooses
(:func:`random_halves`: each candidate IN exactly half of the shadows). :func:`train_target`
records the target's logits on every candidate (what the attacker may query) and, apart, which
candidates it trained on (the ground truth, for the metrics only); :func:`train_shadows` does
the same for the shadows, which serve both Shokri's attack and LiRA.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ...checks import MAX_SEED, flag, instance, integer, number
from ...checks import seed as check_seed
from ...data import ImageSet
from ...device import resolve_device
from ...errors import ConfigError, DataError
from ...fl import as_labels
from ...training import MLP, predict_logits, train_classifier

__all__ = [
    "Recipe",
    "random_halves",
    "TargetRun",
    "train_target",
    "Shadows",
    "train_shadows",
]

Variant = Literal["online", "offline"]
Variance = Literal["global", "per-example"]


@dataclass(frozen=True)
class Recipe:
    """How the target is trained: public knowledge that the shadow models copy.

    Attributes:
        hidden: widths of the :class:`~dlgtut.training.MLP`'s hidden layers.
        epochs: passes over the training set (more: more overfitting).
        lr: Adam's learning rate.
        batch_size: examples per step.
        weight_decay: L2 penalty (narrows the generalisation gap).
    """

    hidden: tuple[int, ...] = (256,)
    epochs: int = 100
    lr: float = 1e-3
    batch_size: int = 64
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            integer(getattr(self, name), name)
        number(self.lr, "lr")
        number(self.weight_decay, "weight_decay")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or self.weight_decay < 0:
            raise ConfigError(
                f"a recipe needs epochs >= 1, batch_size >= 1, lr > 0 and weight_decay >= 0; "
                f"got {self}"
            )
        if isinstance(self.hidden, str) or not isinstance(self.hidden, tuple | list):
            raise ConfigError(f"hidden must be a tuple of layer widths, got {self.hidden!r}")
        for h in self.hidden:
            integer(h, "every hidden width", low=1)

    def train(self, images, labels, num_classes: int, *, seed: int, on_epoch=None,
              device: str | torch.device = "cpu") -> MLP:
        """A fresh MLP (weights seeded with ``seed``) trained on ``images``, ``labels``.

        The weights are drawn on the CPU and the network trains on ``device``.
        """
        net = MLP(images[0].numel(), num_classes, hidden=self.hidden, seed=seed)
        net = net.to(resolve_device(device))
        train_classifier(net, images, labels, epochs=self.epochs, lr=self.lr,
                         batch_size=self.batch_size, weight_decay=self.weight_decay,
                         seed=seed, on_epoch=on_epoch)
        return net


def random_halves(n: int, count: int, *, seed: int) -> np.ndarray:
    """``count x n`` booleans: row ``s`` marks the training set of model ``s``.

    As in Carlini et al.'s code, every column has ``count // 2`` True entries (each candidate is
    IN exactly half of the models), so every candidate has IN and OUT models; each row then
    holds about ``n / 2``.

    Example:
        >>> keep = random_halves(6, 4, seed=0)
        >>> keep.shape, keep.sum(0).tolist()
        ((4, 6), [2, 2, 2, 2, 2, 2])
    """
    integer(n, "n")
    integer(count, "count")
    if count < 2 or n < 2:
        raise ConfigError(f"need at least 2 models and 2 candidates, got {count} and {n}")
    rng = np.random.default_rng(check_seed(seed))
    return rng.uniform(size=(count, n)).argsort(0) < count // 2


def _check_candidates(candidates: ImageSet) -> None:
    if not isinstance(candidates, ImageSet):
        raise DataError(f"candidates must be an ImageSet, got {type(candidates).__name__}")
    if len(candidates) < 4:
        raise DataError(f"membership inference needs at least 4 candidates, got {len(candidates)}")


@contextmanager
def _one_thread():
    """Run PyTorch on one thread, then restore the setting.

    The MLPs here are far too small to gain from intra-op threads, and on a busy machine the
    threads wait for each other (seventeen models trained nine times slower with two threads
    on two cores shared with another job). One thread also gives the same numbers on every
    machine.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train_recording(candidates: ImageSet, keep: np.ndarray, recipe: Recipe, seed: int,
                     record_epochs, device: torch.device) -> tuple[MLP, dict[int, np.ndarray]]:
    """Train on the candidates marked in ``keep``; the logits on all candidates at each epoch."""
    idx = torch.from_numpy(np.flatnonzero(keep))
    wanted = set(record_epochs) | {recipe.epochs}
    logits: dict[int, np.ndarray] = {}

    def record(epoch, model):
        if epoch + 1 in wanted:
            logits[epoch + 1] = predict_logits(model, candidates.images).double().numpy()

    with _one_thread():
        net = recipe.train(candidates.images[idx], candidates.labels[idx],
                           len(candidates.classes), seed=seed, on_epoch=record, device=device)
    return net, logits


def _check_epochs(record_epochs, recipe: Recipe) -> tuple[int, ...]:
    if isinstance(record_epochs, str) or not isinstance(record_epochs, Sequence):
        raise ConfigError(f"record_epochs must be a list of epochs, got {record_epochs!r}")
    # An epoch 2.7 is a mistake, not epoch 2: integers only.
    epochs = tuple(sorted(set(integer(e, "every record epoch") for e in record_epochs)))
    if epochs and not (1 <= epochs[0] and epochs[-1] <= recipe.epochs):
        raise ConfigError(f"record_epochs must lie in [1, {recipe.epochs}], got {epochs}")
    return epochs


def _check_epoch(epoch) -> int:
    """An epoch to look at: an integer (2.0 would miss the key 2 of the recorded logits)."""
    return integer(epoch, "epoch", low=1)


@dataclass(frozen=True, eq=False)
class TargetRun:
    """The victim's model and what an attacker may query, kept apart from the ground truth.

    Attributes:
        model: the trained target.
        logits: epoch -> ``N x K`` logits of the target (as it was after that epoch) on the
            candidates: the answers to the attacker's queries. The last epoch is always there.
        members: ``N`` booleans, True for the candidates the target was trained on. Ground
            truth: for the metrics only, never an attack's input.
        epochs: the recipe's number of epochs (the key of the final logits).
    """

    model: nn.Module
    logits: dict[int, np.ndarray]
    members: np.ndarray
    epochs: int

    def accuracy(self, labels, epoch: int | None = None) -> tuple[float, float]:
        """``(train accuracy, test accuracy)``: on the members and on the non-members."""
        key = self.epochs if epoch is None else _check_epoch(epoch)
        if key not in self.logits:
            raise ConfigError(f"no target logits after epoch {key}; recorded: "
                              f"{sorted(self.logits)}")
        y = as_labels(labels).cpu().numpy()
        if len(y) != len(self.members):
            raise DataError(f"{len(y)} labels for {len(self.members)} candidates")
        right = self.logits[key].argmax(-1) == y
        return float(right[self.members].mean()), float(right[~self.members].mean())


def train_target(candidates: ImageSet, recipe: Recipe, *, seed: int = 0,
                 record_epochs=(), device: str | torch.device = "cpu") -> TargetRun:
    """Train the target on a random half of the candidates (exactly ``N // 2`` of them).

    Args:
        candidates: the records whose membership will be inferred.
        recipe: how to train.
        seed: seeds the choice of members, the weights and the shuffling.
        record_epochs: epochs after which to record the target's logits as well (to follow the
            attack through training; the model after ``e`` epochs is the model that a recipe
            of ``e`` epochs would give, as the shuffling is seeded per run).
        device: where the target is trained (the logits come back to the CPU as arrays).

    Raises:
        DataError: fewer than 4 candidates.
        ConfigError: an epoch outside ``[1, recipe.epochs]`` or not an integer, a bad seed, or
            a device this machine does not have.
        WrongTypeError: ``recipe`` is not a :class:`Recipe`.
    """
    _check_candidates(candidates)
    instance(recipe, Recipe, "recipe")
    check_seed(seed)
    device = resolve_device(device)
    epochs = _check_epochs(record_epochs, recipe)
    n = len(candidates)
    members = np.zeros(n, dtype=bool)
    members[np.random.default_rng(seed).permutation(n)[: n // 2]] = True
    model, logits = _train_recording(candidates, members, recipe, seed, epochs, device)
    return TargetRun(model, logits, members, recipe.epochs)


@dataclass(frozen=True, eq=False)
class Shadows:
    """Shadow models trained like the target on random halves of the candidates.

    Attributes:
        keep: ``S x N`` booleans: shadow ``s`` was trained on candidate ``n``.
        logits: epoch -> ``S x N x K`` logits of every shadow on every candidate.
        recipe: how they were trained (the target's recipe).
        seconds: wall-clock training time.
    """

    keep: np.ndarray
    logits: dict[int, np.ndarray]
    recipe: Recipe
    seconds: float = field(default=0.0)

    def __len__(self) -> int:
        return int(self.keep.shape[0])

    def at(self, epoch: int | None) -> np.ndarray:
        """The ``S x N x K`` logits after ``epoch`` (the last epoch if None)."""
        epoch = self.recipe.epochs if epoch is None else _check_epoch(epoch)
        if epoch not in self.logits:
            raise ConfigError(f"no shadow logits after epoch {epoch}; recorded: "
                              f"{sorted(self.logits)}")
        return self.logits[epoch]


def train_shadows(candidates: ImageSet, recipe: Recipe, n_shadows: int, *, seed: int = 1,
                  record_epochs=(), progress: bool = False,
                  device: str | torch.device = "cpu") -> Shadows:
    """Train ``n_shadows`` models with ``recipe``, each on a random half of the candidates.

    The halves come from :func:`random_halves`: each candidate is IN exactly half of the shadows.
    Shadow ``s`` is seeded with ``seed * 1000 + s`` (weights and shuffling).

    Args:
        candidates: the attacker's records (the target's members are among them).
        recipe: the target's training recipe.
        n_shadows: number of shadow models, at least 2.
        seed: seeds the halves and the shadows.
        record_epochs: epochs after which to record the logits as well.
        progress: show a tqdm progress bar.
        device: where the shadows are trained (their logits come back to the CPU as arrays).

    Raises:
        ConfigError: fewer than 2 shadows, an epoch outside ``[1, recipe.epochs]``, a bad
            seed, or a device this machine does not have.
        DataError: fewer than 4 candidates.
        WrongTypeError: ``recipe`` is not a :class:`Recipe`.
    """
    _check_candidates(candidates)
    instance(recipe, Recipe, "recipe")
    if isinstance(n_shadows, bool) or not isinstance(n_shadows, int) or n_shadows < 2:
        raise ConfigError(f"need at least 2 shadow models, got {n_shadows!r}")
    if check_seed(seed) * 1000 + n_shadows - 1 > MAX_SEED:  # shadow s is seeded seed * 1000 + s
        raise ConfigError(f"seed must be at most {(MAX_SEED - n_shadows + 1) // 1000} for "
                          f"{n_shadows} shadows, got {seed}")
    flag(progress, "progress")
    device = resolve_device(device)
    epochs = _check_epochs(record_epochs, recipe)
    started = time.perf_counter()
    keep = random_halves(len(candidates), n_shadows, seed=seed)
    runs = [_train_recording(candidates, keep[s], recipe, seed * 1000 + s, epochs, device)[1]
            for s in tqdm(range(n_shadows), desc="shadow models", disable=not progress,
                          leave=False)]
    logits = {e: np.stack([r[e] for r in runs]) for e in runs[0]}
    return Shadows(keep, logits, recipe, time.perf_counter() - started)


