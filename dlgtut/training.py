"""Ordinary centralised training: the target, shadow and evaluation models of the later chapters.

Membership inference needs models trained the way a victim trains them (and overfit on
purpose, to show how leakage follows the generalisation gap); model inversion needs a target
and an independent evaluation classifier. :func:`train_classifier` is that one loop, seeded so
that the same call gives the same model. :class:`MLP` is the small network those chapters use
on 8 x 8 digits and 25 x 25 faces, where training a hundred shadow models must take seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .checks import (
    as_model_input,
    function,
    integer,
    model_output,
    model_parameters,
    number,
    tensor,
)
from .checks import seed as check_seed
from .errors import ConfigError, DataError
from .seeding import seeded

__all__ = ["MLP", "train_classifier", "predict_logits"]


class MLP(nn.Module):
    """A fully connected classifier: flatten, ``len(hidden)`` hidden layers, a linear output.

    Args:
        in_features: number of input values (``C * H * W``).
        num_classes: number of outputs.
        hidden: width of each hidden layer.
        activation: ``"relu"`` or ``"tanh"``.
        seed: if given, the weights are drawn (PyTorch's default initialisation) right after
            ``torch.manual_seed(seed)``, so equal seeds give equal networks.

    Example:
        >>> net = MLP(64, 10, hidden=(32,), seed=0)
        >>> net(torch.zeros(5, 1, 8, 8)).shape
        torch.Size([5, 10])
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden: Sequence[int] = (128,),
        activation: str = "relu",
        seed: int | None = None,
    ) -> None:
        super().__init__()
        acts = {"relu": nn.ReLU, "tanh": nn.Tanh}
        if not isinstance(activation, str) or activation not in acts:
            raise ConfigError(f"unknown activation {activation!r}; choose from {sorted(acts)}")
        integer(in_features, "in_features", low=1)
        integer(num_classes, "num_classes", low=1)
        if isinstance(hidden, str) or not isinstance(hidden, Sequence):
            raise ConfigError(f"hidden must be a sequence of layer widths, got {hidden!r}")
        for h in hidden:
            integer(h, "every hidden width", low=1)
        if seed is not None:
            check_seed(seed)
        with seeded(seed):  # the global generator is left as it was (dlgtut.seeding)
            layers: list[nn.Module] = [nn.Flatten()]
            width = in_features
            for h in hidden:
                layers += [nn.Linear(width, h), acts[activation]()]
                width = h
            layers.append(nn.Linear(width, num_classes))
            self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def _check_data(images: Tensor, labels: Tensor) -> None:
    if not isinstance(images, Tensor) or images.ndim < 2 or not images.is_floating_point():
        raise DataError("images must be a float tensor with one example per row")
    if not isinstance(labels, Tensor) or labels.ndim != 1 or labels.dtype != torch.int64:
        raise DataError("labels must be a 1-D int64 tensor")
    if len(images) != len(labels) or len(labels) == 0:
        raise DataError(f"need one label per example: {len(images)} examples, {len(labels)} labels")
    tensor(images, "images", finite=True)
    if int(labels.min()) < 0:
        raise DataError(f"labels must not be negative, got {int(labels.min())}")


def _classes(model: nn.Module, images: Tensor) -> int:
    """The model's number of outputs on one example (a one-line DataError if it cannot take it)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return int(model_output(model, as_model_input(model, images[:1])).shape[-1])
    finally:
        model.train(was_training)


def train_classifier(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    *,
    epochs: int = 100,
    lr: float = 1e-3,
    batch_size: int = 64,
    weight_decay: float = 0.0,
    seed: int = 0,
    on_epoch=None,
) -> list[float]:
    """Train ``model`` in place with Adam and cross-entropy; return the mean loss of each epoch.

    The examples are shuffled every epoch by a generator seeded with ``seed``, so the same
    model, data and arguments give the same weights.

    Args:
        model: the network; it is left in eval mode.
        images: training inputs, ``N x ...`` float.
        labels: ``N`` int64 class indices.
        epochs: passes over the data.
        lr: Adam's learning rate.
        batch_size: examples per step.
        weight_decay: L2 penalty (a regulariser that narrows the generalisation gap).
        seed: shuffling seed.
        on_epoch: optional ``callable(epoch, model)`` called after every epoch (for example to
            record test accuracy or to snapshot the model).

    Training runs on the model's device: the images follow its dtype and device. The shuffles
    are drawn on the CPU, so a seed gives the same order on every device. Everything is checked
    before the first step: the settings, the data, and that the model takes the images and has
    a class for every label.

    Raises:
        ConfigError: ``epochs`` or ``batch_size`` that is not a positive integer, ``lr`` that
            is not positive and finite, a negative ``weight_decay``, a bad ``seed``.
        DataError: images and labels that do not fit together or with the model (NaN images,
            labels outside its classes, images it cannot take).
        WrongTypeError: ``model`` is not a module, or ``on_epoch`` is not callable.

    Example:
        >>> x = torch.cat([torch.zeros(8, 2), torch.ones(8, 2)])
        >>> y = torch.tensor([0] * 8 + [1] * 8)
        >>> net = MLP(2, 2, hidden=(8,), seed=0)
        >>> losses = train_classifier(net, x, y, epochs=50, lr=0.05, batch_size=4)
        >>> losses[-1] < 0.05, (net(x).argmax(1) == y).all().item()
        (True, True)
    """
    integer(epochs, "epochs", low=1)
    number(lr, "lr", low=0, low_open=True)
    integer(batch_size, "batch_size", low=1)
    number(weight_decay, "weight_decay", low=0)
    check_seed(seed)
    function(on_epoch, "on_epoch")
    model_parameters(model)
    _check_data(images, labels)
    k = _classes(model, images)
    if int(labels.max()) >= k:
        raise DataError(f"labels must lie in [0, {k - 1}] for the model's {k} classes, got "
                        f"{int(labels.max())}")
    images = as_model_input(model, images)
    labels = labels.to(images.device)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    n = len(labels)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen).to(images.device)  # drawn on the CPU
        total = 0.0
        for lo in range(0, n, batch_size):
            idx = order[lo : lo + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(images[idx]), labels[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history.append(total / n)
        if on_epoch is not None:
            model.eval()
            on_epoch(epoch, model)
            model.train()
    model.eval()
    return history


def predict_logits(model: nn.Module, images: Tensor, *, batch_size: int = 1024) -> Tensor:
    """The model's logits for ``images``, in eval mode and without autograd, on the CPU.

    The model runs on its own device: the images follow its dtype and device, ``batch_size``
    at a time, and the logits come back to the CPU (in the model's dtype).

    Raises:
        WrongTypeError: ``model`` is not a module.
        DataError: ``images`` is not a non-empty float tensor of finite values, or the model
            cannot take it.
        ConfigError: ``batch_size`` is not a positive integer.
    """
    model_parameters(model)
    tensor(images, "images", min_ndim=2, floating=True, finite=True)
    integer(batch_size, "batch_size", low=1)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return torch.cat([
                model_output(model, as_model_input(model, images[lo:lo + batch_size])).cpu()
                for lo in range(0, len(images), batch_size)])
    finally:
        model.train(was_training)
