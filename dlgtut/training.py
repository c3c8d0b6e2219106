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

from .errors import ConfigError, DataError

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
        if activation not in acts:
            raise ConfigError(f"unknown activation {activation!r}; choose from {sorted(acts)}")
        if in_features < 1 or num_classes < 1 or any(h < 1 for h in hidden):
            raise ConfigError(
                f"MLP sizes must be positive: in_features={in_features}, "
                f"num_classes={num_classes}, hidden={tuple(hidden)}"
            )
        if seed is not None:
            torch.manual_seed(seed)
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

    Raises:
        ConfigError: a non-positive ``epochs``, ``lr`` or ``batch_size``.
        DataError: images and labels that do not fit together.

    Example:
        >>> x = torch.cat([torch.zeros(8, 2), torch.ones(8, 2)])
        >>> y = torch.tensor([0] * 8 + [1] * 8)
        >>> net = MLP(2, 2, hidden=(8,), seed=0)
        >>> losses = train_classifier(net, x, y, epochs=50, lr=0.05, batch_size=4)
        >>> losses[-1] < 0.05, (net(x).argmax(1) == y).all().item()
        (True, True)
    """
    if epochs < 1 or lr <= 0 or batch_size < 1:
        raise ConfigError(
            f"epochs and batch_size must be at least 1 and lr positive; got epochs={epochs}, "
            f"lr={lr}, batch_size={batch_size}"
        )
    _check_data(images, labels)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    n = len(labels)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen)
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
    """The model's logits for ``images``, in eval mode and without autograd."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return torch.cat([model(images[lo : lo + batch_size])
                              for lo in range(0, len(images), batch_size)])
    finally:
        model.train(was_training)
