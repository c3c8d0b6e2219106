"""The case a model inversion is judged on: a target and an independent evaluator, on real data.

:func:`inversion_case` cuts a real dataset in two halves: the target (the attacked MLP) learns
from one, the evaluation classifier (:func:`~.evaluation.train_evaluator`: another
architecture and seed, never shown to the attack) from the other, and the real class means
come from the evaluator's half. Data: scikit-learn's digits, scikit-image's LFW crops, or LFW
identities when torchvision can download them (:func:`inversion_data`, :func:`top_classes`).
:meth:`InversionCase.with_target` trains another target for the same halves and evaluator.

The models train on the ``device`` they are made for; the data and the means stay on the CPU.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...checks import instance, integer, number
from ...checks import seed as check_seed
from ...data import ImageSet, load_dataset
from ...device import resolve_device
from ...errors import ConfigError, DataError, WrongTypeError
from ...server import accuracy
from ...training import MLP, train_classifier
from .evaluation import class_means, train_evaluator

__all__ = [
    "INVERSION_DATASETS",
    "InversionCase",
    "inversion_case",
    "inversion_data",
    "top_classes",
]

INVERSION_DATASETS = ("digits", "faces", "lfw")
"""Datasets :func:`inversion_case` accepts (``lfw`` falls back to ``faces`` offline)."""


def top_classes(data: ImageSet, k: int) -> ImageSet:
    """The examples of the ``k`` most frequent classes, relabelled ``0 .. k-1`` by frequency.

    LFW has thousands of people, most with one photo; the few with many are the ones a face
    classifier can learn.

    Example:
        >>> s = ImageSet(torch.zeros(5, 1, 2, 2), torch.tensor([2, 0, 2, 1, 2]), "abc", "t", "z")
        >>> t = top_classes(s, 2)
        >>> t.labels.tolist(), t.classes
        ([0, 1, 0, 0], ('c', 'a'))
    """
    instance(data, ImageSet, "data")
    integer(k, "k", error=DataError)
    if k < 1 or k > len(data.classes):
        raise DataError(f"k must lie in [1, {len(data.classes)}], got {k}")
    counts = torch.bincount(data.labels, minlength=len(data.classes))
    order = torch.argsort(-counts, stable=True)[:k]
    if (counts[order] == 0).any():
        raise DataError(f"{data.name} has fewer than {k} classes with examples")
    remap = torch.full((len(data.classes),), -1, dtype=torch.long)
    remap[order] = torch.arange(k)
    new = remap[data.labels]
    keep = torch.nonzero(new >= 0).flatten()
    return ImageSet(data.images[keep], new[keep], tuple(data.classes[int(i)] for i in order),
                    data.name, data.source)


@dataclass
class InversionCase:
    """A target classifier to invert and an independent evaluator, on two halves of one dataset.

    Attributes:
        data: the dataset (after :func:`top_classes` for LFW identities).
        target: the attacked MLP, trained on ``target_split``.
        evaluator: the evaluation classifier (another architecture and seed), trained on
            ``eval_split``; never given to the attack.
        target_split: indices of the target's training data.
        eval_split: indices of the evaluator's training data (disjoint from the target's).
        target_accuracy: the target's accuracy on ``eval_split`` (data it never saw).
        evaluator_accuracy: the evaluator's accuracy on ``target_split``.
        means: real mean image of every class, from ``eval_split``.
        blank: the grey level of a blank image in this domain, MI-Face's start: black for
            digits (white strokes on black), mid-grey for photographs.
        seed: the seed of the split and of the target (the evaluator's is ``seed + 1``).
        epochs: training epochs of both models.
        weight_decay: the target's L2 penalty.
    """

    data: ImageSet
    target: nn.Module
    evaluator: nn.Module
    target_split: Tensor
    eval_split: Tensor
    target_accuracy: float
    evaluator_accuracy: float
    means: Tensor
    blank: float = 0.5
    seed: int = 0
    epochs: int = 60
    weight_decay: float = 0.01

    def with_target(self, *, weight_decay: float) -> InversionCase:
        """This case with its target trained again under another L2 penalty.

        The data, the halves, the evaluator and the class means are this case's, so that both
        targets are judged by the same classifier; the new target is trained as
        :func:`inversion_case` trains one (same seed, epochs and device), which spares
        training the evaluator a second time. ``case.with_target(weight_decay=0.0)`` equals
        ``inversion_case(..., weight_decay=0.0)`` for the same dataset and seed.

        Raises:
            ConfigError: a negative or non-finite weight decay.
        """
        number(weight_decay, "weight_decay", low=0)
        device = next(self.target.parameters()).device
        target = _train_target(self.data, self.target_split, self.seed, self.epochs,
                               weight_decay, device)
        xb, yb = self.data.images[self.eval_split], self.data.labels[self.eval_split]
        return dataclasses.replace(self, target=target, target_accuracy=accuracy(target, xb, yb),
                                   weight_decay=weight_decay)

    @property
    def num_classes(self) -> int:
        """Number of classes of the target."""
        return len(self.data.classes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one input."""
        return tuple(self.data.images.shape[1:])  # type: ignore[return-value]


_NATIVE_SIZE = {"digits": 8, "faces": 25, "lfw": 32}


def inversion_data(
    dataset: str = "digits", *, identities: int = 5, root: str | None = None,
    fallback: bool = False,
) -> ImageSet:
    """The real dataset of a model-inversion case, grey and at its native size.

    ``digits`` (scikit-learn, 10 classes, 8 x 8), ``faces`` (scikit-image's LFW crops, face
    against non-face, 25 x 25), ``lfw`` (torchvision's LFW people, grey 32 x 32, the
    ``identities`` people with most photos; where it cannot be had, an error, or with
    ``fallback=True`` the ``faces`` crops: face against non-face, not people).

    Raises:
        DataError: an unknown dataset.
        ConfigError: fewer than 2 identities.
    """
    if not isinstance(dataset, str) or dataset not in INVERSION_DATASETS:
        raise DataError(f"unknown dataset {dataset!r} for inversion; choose from "
                        f"{', '.join(INVERSION_DATASETS)}")
    if isinstance(identities, bool) or not isinstance(identities, int) or identities < 2:
        raise ConfigError(f"identities must be an integer of at least 2, got {identities!r}")
    data = load_dataset(dataset, size=_NATIVE_SIZE[dataset], channels=1, root=root,
                        fallback=fallback)
    return top_classes(data, identities) if data.name == "lfw" else data


def inversion_case(
    dataset: str | ImageSet = "digits",
    *,
    seed: int = 0,
    identities: int = 5,
    weight_decay: float = 0.01,
    epochs: int | None = None,
    root: str | None = None,
    device: str | torch.device = "cpu",
    fallback: bool = False,
) -> InversionCase:
    """Train a target MLP and an independent LeNet evaluator on two halves of a real dataset.

    The dataset is shuffled with ``seed`` and cut in two halves. The target, an MLP with 128
    ReLU units trained with Adam and an L2 penalty ``weight_decay``, learns from the first; the
    evaluator (:func:`train_evaluator`, a convolutional LeNet, seed ``seed + 1``) from the
    second. Datasets: see :func:`inversion_data`.

    Args:
        dataset: one of :data:`INVERSION_DATASETS`, or the :class:`ImageSet` that
            :func:`inversion_data` returned (so its classes can be checked before training).
        seed: seed of the split, the target's weights and its shuffling.
        identities: people kept from LFW.
        weight_decay: the target's L2 penalty.
        epochs: training epochs of both models (default 60 for digits, 100 otherwise).
        root: dataset directory for LFW (see :func:`dlgtut.data.data_root`).
        device: where both models train and stay (the data and the means stay on the CPU).
        fallback: if LFW cannot be had, use the ``faces`` crops instead (see
            :func:`inversion_data`); the case's data then says so in its name.

    Returns:
        An :class:`InversionCase`.

    Raises:
        DataError: an unknown dataset, or data that is not 4-D images of two classes or more.
        ConfigError: a bad seed, weight decay, number of epochs or device (checked before
            training).
    """
    check_seed(seed)
    check_seed(seed + 1)  # the evaluator's
    number(weight_decay, "weight_decay", low=0)
    if epochs is not None:
        integer(epochs, "epochs", low=1)
    device = resolve_device(device)
    if isinstance(dataset, ImageSet):
        data = dataset
    elif isinstance(dataset, str):
        data = inversion_data(dataset, identities=identities, root=root, fallback=fallback)
    else:
        raise WrongTypeError(f"dataset must be a name or an ImageSet, got "
                             f"{type(dataset).__name__}")
    if len(data.classes) < 2 or len(data) < 4:
        raise DataError(f"an inversion case needs 2 classes and 4 examples at least; "
                        f"{data.name} has {len(data.classes)} and {len(data)}")
    if epochs is None:
        epochs = 60 if data.name == "digits" else 100
    k = len(data.classes)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    target_split, eval_split = order[: len(data) // 2], order[len(data) // 2 :]
    x, y = data.images, data.labels
    xa, ya, xb, yb = x[target_split], y[target_split], x[eval_split], y[eval_split]
    target = _train_target(data, target_split, seed, epochs, weight_decay, device)
    evaluator = train_evaluator(xb, yb, k, seed=seed + 1, epochs=epochs, device=device)
    return InversionCase(
        data=data,
        target=target,
        evaluator=evaluator,
        target_split=target_split,
        eval_split=eval_split,
        target_accuracy=accuracy(target, xb, yb),
        evaluator_accuracy=accuracy(evaluator, xa, ya),
        means=class_means(xb, yb, k),
        blank=0.0 if data.name == "digits" else 0.5,
        seed=seed,
        epochs=epochs,
        weight_decay=weight_decay,
    )


def _train_target(data: ImageSet, split: Tensor, seed: int, epochs: int, weight_decay: float,
                  device: torch.device) -> nn.Module:
    """The target MLP (128 ReLU units, Adam, L2 penalty ``weight_decay``) trained on ``split``."""
    c, h, w = data.images.shape[1:]
    target = MLP(c * h * w, len(data.classes), hidden=(128,), seed=seed).to(device)
    train_classifier(target, data.images[split], data.labels[split], epochs=epochs, lr=1e-3,
                     weight_decay=weight_decay, seed=seed)
    return target
