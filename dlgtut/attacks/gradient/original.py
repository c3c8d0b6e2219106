"""A faithful re-implementation of the original DLG script (github.com/mit-han-lab/dlg, main.py).

Kept as the reference that dlgtut is tested and benchmarked against, and shown in the book.
Everything follows the original: the LeNet built with PyTorch's default initialisation, then
``torch.manual_seed(1234)`` and every weight and bias redrawn from U(-0.5, 0.5); the one-hot
cross entropy; dummy data and dummy label from ``torch.randn``; ``torch.optim.LBFGS`` at its
defaults on both; 300 steps; a closure that backpropagates the squared gradient distance; every
10 steps one more closure call to print the loss and keep a snapshot. Only ``print`` is gone.

The original has no stop rule and no divergence check: on some images it blows up and carries on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...checks import function, integer, tensor
from ...checks import seed as check_seed
from ...device import resolve_device
from ...errors import DataError

__all__ = ["OriginalLeNet", "weights_init", "cross_entropy_for_onehot", "original_dlg"]


def weights_init(m: nn.Module) -> None:
    """The original's initialisation: U(-0.5, 0.5) for every weight and bias."""
    if hasattr(m, "weight"):
        m.weight.data.uniform_(-0.5, 0.5)
    if hasattr(m, "bias"):
        m.bias.data.uniform_(-0.5, 0.5)


class OriginalLeNet(nn.Module):
    """The original LeNet (3 x 32 x 32 input, 100 classes unless told otherwise)."""

    def __init__(self, channels: int = 3, hidden: int = 768, num_classes: int = 100) -> None:
        super().__init__()
        act = nn.Sigmoid
        self.body = nn.Sequential(
            nn.Conv2d(channels, 12, kernel_size=5, padding=5 // 2, stride=2),
            act(),
            nn.Conv2d(12, 12, kernel_size=5, padding=5 // 2, stride=2),
            act(),
            nn.Conv2d(12, 12, kernel_size=5, padding=5 // 2, stride=1),
            act(),
        )
        self.fc = nn.Sequential(nn.Linear(hidden, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        out = self.body(x)
        out = out.view(out.size(0), -1)
        return self.fc(out)


def cross_entropy_for_onehot(pred: Tensor, target: Tensor) -> Tensor:
    """The original's loss: mean over the batch of sum(-target * log_softmax(pred))."""
    return torch.mean(torch.sum(-target * F.log_softmax(pred, dim=-1), 1))


@dataclass
class OriginalResult:
    """What the original script ends with."""

    net: nn.Module
    dummy_data: Tensor
    dummy_label: Tensor
    history: list[Tensor] = field(default_factory=list)  # dummy data every 10 steps
    losses: list[float] = field(default_factory=list)  # printed loss every 10 steps


def original_dlg(
    image: Tensor,
    label: int,
    *,
    num_classes: int = 100,
    seed: int = 1234,
    iterations: int = 300,
    callback: Callable[[int, Tensor], bool | None] | None = None,
    device: str | torch.device = "cpu",
) -> OriginalResult:
    """Run the original DLG script on one image.

    Args:
        image: ``C x H x W`` or ``1 x C x H x W`` in [0, 1] (the original uses 3 x 32 x 32).
        label: the image's class.
        num_classes: classes of the LeNet (100 in the original).
        seed: the original's ``torch.manual_seed(1234)``.
        iterations: L-BFGS steps (300 in the original).
        callback: ``callback(step, dummy_data)`` after every step (not in the original; for
            timing). Return True to stop.
        device: where it runs (the original takes CUDA when there is one). Unlike the
            original on CUDA, the weights are drawn on the CPU and then moved, so that a seed
            gives the same model on every device (the steps then differ by float rounding).

    Raises:
        DataError: ``image`` is not one float image in [0, 1], or ``label`` not an integer
            class of the ``num_classes`` (a float label was truncated to a class).
        ConfigError: ``num_classes``, ``seed`` or ``iterations`` of the wrong kind or range, or
            a ``device`` this machine does not have.
        WrongTypeError: ``callback`` cannot be called.
    """
    tensor(image, "image", unit=True, floating=True)
    if image.ndim not in (3, 4) or (image.ndim == 4 and image.shape[0] != 1):
        raise DataError(f"image must be C x H x W or 1 x C x H x W, got {tuple(image.shape)}")
    integer(num_classes, "num_classes", low=1)
    integer(label, "label", low=0, high=num_classes - 1, error=DataError)
    check_seed(seed)
    integer(iterations, "iterations", low=1)
    function(callback, "callback")
    device = resolve_device(device)
    gt_data = image.reshape(1, *image.shape[-3:]).float().to(device)
    gt_label = torch.tensor([label]).long().view(1).to(device)
    gt_onehot_label = F.one_hot(gt_label, num_classes).float()
    c, h, w = gt_data.shape[1:]
    hidden = 12 * ((((h + 1) // 2) + 1) // 2) * ((((w + 1) // 2) + 1) // 2)

    # The script's own use of the global generator, on a fork of it that is restored after
    # (the caller's stream is left as it was, dlgtut.seeding); the draws are the script's.
    with torch.random.fork_rng(devices=[]):
        net = OriginalLeNet(c, hidden, num_classes)
        torch.manual_seed(seed)
        net.apply(weights_init)
        net.to(device)
        criterion = cross_entropy_for_onehot

        # compute original gradient
        pred = net(gt_data)
        y = criterion(pred, gt_onehot_label)
        dy_dx = torch.autograd.grad(y, net.parameters())
        original_dy_dx = list(_.detach().clone() for _ in dy_dx)

        # generate dummy data and label
        dummy_data = torch.randn(gt_data.size()).to(device).requires_grad_(True)
        dummy_label = torch.randn(gt_onehot_label.size()).to(device).requires_grad_(True)
    optimizer = torch.optim.LBFGS([dummy_data, dummy_label])

    result = OriginalResult(net, dummy_data, dummy_label)
    for iters in range(iterations):

        def closure() -> Tensor:
            optimizer.zero_grad()
            dummy_pred = net(dummy_data)
            dummy_onehot_label = F.softmax(dummy_label, dim=-1)
            dummy_loss = criterion(dummy_pred, dummy_onehot_label)
            dummy_dy_dx = torch.autograd.grad(dummy_loss, net.parameters(), create_graph=True)
            grad_diff = 0
            for gx, gy in zip(dummy_dy_dx, original_dy_dx, strict=True):
                grad_diff += ((gx - gy) ** 2).sum()
            grad_diff.backward()
            return grad_diff

        optimizer.step(closure)
        if iters % 10 == 0:
            current_loss = closure()
            result.losses.append(current_loss.item())
            result.history.append(dummy_data.detach()[0].to("cpu", copy=True))
        if callback is not None and callback(iters + 1, dummy_data.detach()):
            break
    return result
