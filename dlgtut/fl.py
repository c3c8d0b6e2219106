"""The honest federated participant and what it shares.

The data flow is the threat model::

    PrivateBatch -> Participant -> SharedUpdate -> attack -> reconstruction -> metrics

A :class:`PrivateBatch` never leaves the participant. What leaves it is a :class:`SharedUpdate`:
the update itself (the FedSGD gradient, or the FedAvg weight change after ``K`` local steps), the
public model it was computed on, and the public facts of the round (batch size, input shape,
number of classes, local steps, learning rate). Attacks accept only a :class:`SharedUpdate`, so
the private batch cannot reach them by accident; ground truth enters only in :mod:`dlgtut.metrics`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import AttackError, DataError

__all__ = [
    "PrivateBatch",
    "SharedUpdate",
    "Participant",
    "soft_cross_entropy",
    "one_hot",
]


def one_hot(labels: Tensor, num_classes: int) -> Tensor:
    """Float one-hot rows for integer ``labels``; a label outside the classes raises DataError."""
    labels = torch.as_tensor(labels)
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"labels must lie in [0, {num_classes - 1}], got {labels.tolist()}")
    return F.one_hot(labels.long(), num_classes).float()


def soft_cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    r"""Cross entropy against a probability vector per row, averaged over the batch.

    .. math::
        \ell(\hat y, y) = \frac{1}{N}\sum_n \sum_k -y_{nk}\log\operatorname{softmax}(\hat y_n)_k

    With one-hot targets it equals ``F.cross_entropy``; with a soft target it is the loss DLG
    optimises its dummy label through. The operations are those of the original DLG code, so
    gradients match it bit for bit.

    Args:
        logits: ``N x K`` raw scores.
        target: ``N x K`` probabilities (one-hot rows for a real label).

    Example:
        >>> logits = torch.tensor([[2.0, 0.0]])
        >>> round(soft_cross_entropy(logits, torch.tensor([[1.0, 0.0]])).item(), 4)
        0.1269
    """
    return torch.mean(torch.sum(-target * F.log_softmax(logits, dim=-1), 1))


@dataclass(frozen=True, eq=False)
class PrivateBatch:
    """A participant's private training batch: images in [0, 1] and integer labels.

    Args:
        images: ``N x C x H x W`` floats in [0, 1].
        labels: ``N`` integer class indices.
    """

    images: Tensor
    labels: Tensor

    def __post_init__(self) -> None:
        images, labels = self.images, torch.as_tensor(self.labels)
        if not isinstance(images, Tensor) or images.ndim != 4:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise DataError(f"images must be a tensor of shape N x C x H x W, got {shape}")
        if not images.is_floating_point():
            raise DataError(f"images must be floats in [0, 1], got dtype {images.dtype}")
        if images.numel() and (images.min() < 0 or images.max() > 1):
            raise DataError("images must lie in [0, 1]")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise DataError(
                f"need one label per image: {images.shape[0]} images, labels {tuple(labels.shape)}"
            )
        if images.shape[0] == 0:
            raise DataError("a batch needs at least one image")
        object.__setattr__(self, "labels", labels.long())

    def __len__(self) -> int:
        return self.images.shape[0]


@dataclass(frozen=True, eq=False)
class SharedUpdate:
    """Everything an honest-but-curious server or neighbour receives from one participant.

    Attributes:
        model: the public model at the start of the round (a private copy; never trained).
        tensors: the shared update, one tensor per parameter in ``model.parameters()`` order.
        kind: ``"gradient"`` (FedSGD) or ``"weight_delta"`` (FedAvg: new weights minus old).
        batch_size: number of examples the update was computed on.
        input_shape: ``(C, H, W)`` of one input.
        num_classes: number of classes of the model's output.
        local_steps: local SGD steps behind a weight delta (1 for FedSGD).
        lr: the participant's local learning rate (FedAvg), a public hyperparameter.
    """

    model: nn.Module
    tensors: tuple[Tensor, ...]
    kind: Literal["gradient", "weight_delta"]
    batch_size: int
    input_shape: tuple[int, int, int]
    num_classes: int
    local_steps: int = 1
    lr: float | None = None
    meta: dict = field(default_factory=dict)

    def gradient(self) -> tuple[Tensor, ...]:
        """The gradient behind this update.

        A FedSGD update is the gradient. A single-step FedAvg update is ``-lr * gradient``, so
        the gradient is recovered exactly. Several local steps mix gradients taken at different
        weights; that needs an attack that unrolls the steps, and raises AttackError here.
        """
        if self.kind == "gradient":
            return self.tensors
        if self.local_steps == 1 and self.lr:
            return tuple(-t / self.lr for t in self.tensors)
        raise AttackError(
            f"this update is a weight change after {self.local_steps} local steps; "
            "recovering a single gradient from it needs an attack that unrolls the steps"
        )


class Participant:
    """An honest participant: computes the update it would share on its private batch.

    The loss is :func:`soft_cross_entropy` on one-hot labels, averaged over the batch (the
    original DLG setting). The public model is never modified.

    Args:
        model: the public model of this round.

    Example:
        >>> from dlgtut.models import LeNet
        >>> net = LeNet(in_channels=1, num_classes=10, image_size=16, seed=0)
        >>> batch = PrivateBatch(torch.rand(2, 1, 16, 16), torch.tensor([3, 7]))
        >>> update = Participant(net).fedsgd(batch)
        >>> update.kind, update.batch_size, len(update.tensors)
        ('gradient', 2, 8)
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def _loss(self, model: nn.Module, images: Tensor, labels: Tensor) -> Tensor:
        logits = model(images)
        return soft_cross_entropy(logits, one_hot(labels, logits.shape[-1]).to(logits.dtype))

    def _num_classes(self, batch: PrivateBatch) -> int:
        with torch.no_grad():
            return int(self.model(batch.images[:1]).shape[-1])

    def _public(self, batch: PrivateBatch, tensors, kind, **facts) -> SharedUpdate:
        return SharedUpdate(
            model=copy.deepcopy(self.model),
            tensors=tuple(t.detach().clone() for t in tensors),
            kind=kind,
            batch_size=len(batch),
            input_shape=tuple(batch.images.shape[1:]),
            num_classes=self._num_classes(batch),
            **facts,
        )

    def fedsgd(self, batch: PrivateBatch) -> SharedUpdate:
        """FedSGD: the gradient of the batch loss with respect to every parameter."""
        params = [p for p in self.model.parameters()]
        num_classes = self._num_classes(batch)
        if batch.labels.max() >= num_classes or batch.labels.min() < 0:
            raise DataError(f"labels must lie in [0, {num_classes - 1}]")
        loss = self._loss(self.model, batch.images, batch.labels)
        grads = torch.autograd.grad(loss, params)
        return self._public(batch, grads, "gradient")

    def fedavg(
        self,
        batch: PrivateBatch,
        *,
        local_steps: int,
        lr: float,
        minibatch_size: int | None = None,
    ) -> SharedUpdate:
        """FedAvg: ``local_steps`` SGD steps at ``lr`` on a local copy; shares new minus old.

        Args:
            batch: the private batch.
            local_steps: number of local SGD steps (``K``).
            lr: local learning rate.
            minibatch_size: if given, each step uses the next slice of this many examples
                (cycling through the batch in order); otherwise every step uses the whole batch.
        """
        if local_steps < 1:
            raise DataError(f"local_steps must be at least 1, got {local_steps}")
        if lr <= 0:
            raise DataError(f"lr must be positive, got {lr}")
        local = copy.deepcopy(self.model)
        start = [p.detach().clone() for p in local.parameters()]
        opt = torch.optim.SGD(local.parameters(), lr=lr)
        n = len(batch)
        size = n if minibatch_size is None else max(1, min(minibatch_size, n))
        for step in range(local_steps):
            lo = (step * size) % n
            idx = torch.arange(lo, lo + size) % n
            opt.zero_grad()
            self._loss(local, batch.images[idx], batch.labels[idx]).backward()
            opt.step()
        delta = [p.detach() - s for p, s in zip(local.parameters(), start, strict=True)]
        return self._public(
            batch, delta, "weight_delta", local_steps=local_steps, lr=lr,
            meta={"minibatch_size": size},
        )
