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
import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import (
    as_model_input,
    integer,
    model_output,
    model_parameters,
    number,
    show,
    update_tensors,
)
from .errors import AttackError, DataError, WrongTypeError

__all__ = [
    "PrivateBatch",
    "SharedUpdate",
    "Participant",
    "soft_cross_entropy",
    "one_hot",
    "as_labels",
    "require_update",
]


def as_labels(labels, name: str = "labels") -> Tensor:
    """Integer class labels as a 1-D int64 tensor; anything else raises DataError.

    Floats are refused rather than truncated (a label 2.7 is a mistake, not class 2), and so
    are booleans and negative values.

    Example:
        >>> as_labels([3, 1]).tolist()
        [3, 1]
        >>> as_labels(torch.tensor([2.7]))
        Traceback (most recent call last):
        ...
        dlgtut.errors.DataError: labels must be integer class indices, got dtype torch.float32
    """
    try:
        t = torch.as_tensor(labels)
    except (TypeError, ValueError, RuntimeError):
        raise DataError(f"{name} must be integer class indices, got {type(labels).__name__}"
                        ) from None
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise DataError(f"{name} must be integer class indices, got dtype {t.dtype}")
    t = t.reshape(-1) if t.ndim == 0 else t
    if t.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {tuple(t.shape)}")
    if t.numel() and int(t.min()) < 0:
        raise DataError(f"{name} must not be negative, got {int(t.min())}")
    return t.long()


def one_hot(labels: Tensor, num_classes: int) -> Tensor:
    """Float one-hot rows for integer ``labels``; a label outside the classes raises DataError."""
    labels = as_labels(labels)
    if labels.numel() and labels.max() >= num_classes:
        outside = labels[labels >= num_classes][:5].tolist()  # a few, not a whole dataset
        raise DataError(f"labels must lie in [0, {num_classes - 1}], got {outside}")
    return F.one_hot(labels, num_classes).float()


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
        images = self.images
        if not isinstance(images, Tensor) or images.ndim != 4:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise DataError(f"images must be a tensor of shape N x C x H x W, got {shape}")
        if not images.is_floating_point():
            raise DataError(f"images must be floats in [0, 1], got dtype {images.dtype}")
        if images.shape[0] == 0 or images.numel() == 0:
            raise DataError(f"a batch needs at least one non-empty image, got shape "
                            f"{tuple(images.shape)}")
        if not torch.isfinite(images).all():
            raise DataError("images contain NaN or inf")
        if images.min() < 0 or images.max() > 1:
            raise DataError("images must lie in [0, 1]")
        labels = as_labels(self.labels)
        if labels.shape[0] != images.shape[0]:
            raise DataError(
                f"need one label per image: {images.shape[0]} images, {labels.shape[0]} labels"
            )
        object.__setattr__(self, "labels", labels)

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


def require_update(update, who: str, *, needs_model: bool = True) -> SharedUpdate:
    """Check that an attack was given a :class:`SharedUpdate`; say what went wrong if not.

    Beyond the type, the public facts are checked, since a hand-made update can carry anything:
    the kind, one floating-point tensor per parameter, a positive batch size and class count,
    a ``(C, H, W)`` input shape, and (with ``needs_model``) the public model itself.

    Raises:
        WrongTypeError: not a SharedUpdate (the private batch, a dict, ...), or an update whose
            model or tensors are of the wrong kind.
        DataError: public facts that cannot describe a batch.
    """
    if isinstance(update, PrivateBatch):
        raise WrongTypeError(
            f"{who} takes the SharedUpdate a participant shares, not the PrivateBatch itself "
            "(the attacker never sees the private batch): pass Participant(model).fedsgd(batch)"
        )
    if not isinstance(update, SharedUpdate):
        raise WrongTypeError(f"{who} takes a SharedUpdate, got {type(update).__name__}")
    if needs_model and not isinstance(update.model, nn.Module):
        raise WrongTypeError(f"{who} needs the public model: the update's model is a "
                             f"{type(update.model).__name__}, not a torch.nn.Module")
    update_tensors(update.tensors, who)
    if not isinstance(update.meta, dict):
        raise WrongTypeError(f"the update's meta must be a dict, got {type(update.meta).__name__}")
    if update.kind not in ("gradient", "weight_delta"):
        raise DataError(f"an update's kind is 'gradient' or 'weight_delta', got {update.kind!r}")
    for name in ("batch_size", "num_classes"):
        integer(getattr(update, name), f"the update's {name}", low=1, error=DataError)
    shape = update.input_shape
    if not isinstance(shape, tuple | list) or len(shape) != 3:
        raise DataError(f"the update's input_shape must be (C, H, W), got {show(shape)}")
    for s in shape:
        integer(s, "every entry of the update's input_shape", low=1, error=DataError)
    if update.local_steps is not None:
        integer(update.local_steps, "the update's local_steps", low=1, error=DataError)
    if update.lr is not None:
        number(update.lr, "the update's lr", low=0, low_open=True, error=DataError)
    return update


class Participant:
    """An honest participant: computes the update it would share on its private batch.

    The loss is :func:`soft_cross_entropy` on one-hot labels, averaged over the batch (the
    original DLG setting). The public model is never modified: a FedAvg update, and a FedSGD
    update of a model with buffers, are computed on a copy, so even a model with BatchNorm in
    training mode keeps its running statistics. The batch is moved to the model's device and
    dtype (a float64 model gets a float64 batch).

    Args:
        model: the public model of this round.

    Raises:
        WrongTypeError: ``model`` is not a ``torch.nn.Module``.
        DataError: the model has no (floating-point) parameters.

    Example:
        >>> from dlgtut.models import LeNet
        >>> net = LeNet(in_channels=1, num_classes=10, image_size=16, seed=0)
        >>> batch = PrivateBatch(torch.rand(2, 1, 16, 16), torch.tensor([3, 7]))
        >>> update = Participant(net).fedsgd(batch)
        >>> update.kind, update.batch_size, len(update.tensors)
        ('gradient', 2, 8)
    """

    def __init__(self, model: nn.Module) -> None:
        model_parameters(model)
        self.model = model

    def _inputs(self, batch: PrivateBatch) -> tuple[Tensor, Tensor]:
        """The batch on the model's device and in its dtype."""
        if not isinstance(batch, PrivateBatch):
            raise WrongTypeError(
                f"the participant needs a PrivateBatch, got {type(batch).__name__}")
        images = as_model_input(self.model, batch.images)
        return images, batch.labels.to(images.device)

    def _loss(self, model: nn.Module, images: Tensor, labels: Tensor) -> tuple[Tensor, int]:
        """The batch loss and the model's number of classes."""
        logits = model_output(model, images)
        k = logits.shape[-1]
        if int(labels.max()) >= k:
            raise DataError(f"labels must lie in [0, {k - 1}] for the model's {k} classes, "
                            f"got {int(labels.max())}")
        return soft_cross_entropy(logits, one_hot(labels, k).to(logits.dtype)), k

    def _public(self, batch: PrivateBatch, tensors, kind, num_classes, **facts) -> SharedUpdate:
        return SharedUpdate(
            model=copy.deepcopy(self.model),
            tensors=tuple(t.detach().clone() for t in tensors),
            kind=kind,
            batch_size=len(batch),
            input_shape=tuple(batch.images.shape[1:]),
            num_classes=num_classes,
            **facts,
        )

    def fedsgd(self, batch: PrivateBatch) -> SharedUpdate:
        """FedSGD: the gradient of the batch loss with respect to every parameter."""
        images, labels = self._inputs(batch)
        # A forward pass changes a model only through its buffers (BatchNorm's running
        # statistics in training mode), and autograd.grad leaves every .grad as it was: a
        # model without buffers is used as it is, which saves a copy (a fifth of this call
        # on LeNet); one with buffers is copied first.
        has_buffers = next(self.model.buffers(), None) is not None
        local = copy.deepcopy(self.model) if has_buffers else self.model
        params = [p for p in local.parameters()]
        loss, k = self._loss(local, images, labels)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g
                 for p, g in zip(params, grads, strict=True)]
        return self._public(batch, grads, "gradient", k)

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
        if isinstance(local_steps, bool) or not isinstance(local_steps, int) or local_steps < 1:
            raise DataError(f"local_steps must be an integer of at least 1, got {local_steps!r}")
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not (
                math.isfinite(lr) and lr > 0):
            raise DataError(f"lr must be a positive finite number, got {lr!r}")
        if minibatch_size is not None and (isinstance(minibatch_size, bool) or not isinstance(
                minibatch_size, int) or minibatch_size < 1):
            raise DataError(f"minibatch_size must be a positive integer, got {minibatch_size!r}")
        images, labels = self._inputs(batch)
        local = copy.deepcopy(self.model)
        start = [p.detach().clone() for p in local.parameters()]
        opt = torch.optim.SGD(local.parameters(), lr=lr)
        n = len(batch)
        size = n if minibatch_size is None else min(minibatch_size, n)
        k = 0
        for step in range(local_steps):
            lo = (step * size) % n
            idx = torch.arange(lo, lo + size, device=images.device) % n
            opt.zero_grad()
            loss, k = self._loss(local, images[idx], labels[idx])
            loss.backward()
            opt.step()
        delta = [p.detach() - s for p, s in zip(local.parameters(), start, strict=True)]
        return self._public(
            batch, delta, "weight_delta", k, local_steps=local_steps, lr=float(lr),
            meta={"minibatch_size": size},
        )
