r"""Model inversion (Fredrikson, Jha and Ristenpart, CCS 2015): a class's face from its model.

An attacker with white-box access to a trained classifier, and nothing else, asks: which input
does the model find most typical of class :math:`c`? MI-Face answers by gradient descent on the
input, from a blank image, on the cost

.. math::
    c(x) = 1 - \operatorname{softmax}(F(x))_c + \lambda_{TV}\, \mathrm{TV}(x),

keeping the pixels in [0, 1] and, optionally, smoothing the image every few steps (the paper's
``Process`` step, a denoiser; here a small Gaussian blur). It stops when no image improved for
``patience`` steps (the paper's :math:`\beta`) or all costs fall below ``stop_cost``
(:math:`\gamma`) and returns, per image, the input of lowest cost. Nothing of the training data
enters: :func:`mi_face` takes the model, the classes and the input shape.

Whether the result *is* a representative of the class is for someone else to say:
:mod:`dlgtut.attacks.inversion.evaluation` judges it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ...checks import (
    as_model_input,
    flag,
    instance,
    integer,
    model_output,
    model_parameters,
    number,
    replace,
)
from ...checks import seed as check_seed
from ...errors import ConfigError, DataError
from ...fl import as_labels
from ..gradient.inverting import total_variation

__all__ = [
    "MIFaceConfig",
    "Inversion",
    "mi_face",
]


def _blur(x: Tensor, sigma: float) -> Tensor:
    """torchvision's 3 x 3 Gaussian blur, imported when first used: importing torchvision costs
    about 1.4 s of CPU, which every importer of :mod:`dlgtut.attacks.inversion` paid before."""
    from torchvision.transforms.functional import gaussian_blur

    return gaussian_blur(x, [3, 3], [sigma, sigma])


@dataclass(frozen=True)
class MIFaceConfig:
    """Settings of MI-Face; the defaults suit the book's small MLPs on 8 x 8 and 25 x 25 images.

    Attributes:
        steps: gradient steps at most (the paper's :math:`\\alpha`).
        lr: step size of plain gradient descent on the cost (:math:`\\lambda`).
        tv_weight: weight of the total-variation prior (0 turns it off).
        denoise_every: blur the images every this many steps (0: never), the ``Process`` step.
        denoise_sigma: standard deviation, in pixels, of that 3 x 3 Gaussian blur.
        start: grey level of the blank start, in [0, 1].
        restarts: inversions per class. The first starts from the blank image, the others from
            the blank image plus Gaussian noise of standard deviation ``noise`` (seeded).
        noise: see ``restarts``.
        patience: stop when no image's cost improved for this many steps (:math:`\\beta`).
        stop_cost: stop when every image's cost is at most this (:math:`\\gamma`).
        seed: seed of the noisy starts.
        progress: show a tqdm progress bar.
    """

    steps: int = 300
    lr: float = 10.0
    tv_weight: float = 0.005
    denoise_every: int = 0
    denoise_sigma: float = 0.5
    start: float = 0.5
    restarts: int = 1
    noise: float = 0.05
    patience: int = 100
    stop_cost: float = 0.0
    seed: int = 0
    progress: bool = False

    def __post_init__(self) -> None:
        for name in ("steps", "restarts", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        integer(self.denoise_every, "denoise_every")
        for name in ("lr", "tv_weight", "noise", "denoise_sigma", "start", "stop_cost"):
            number(getattr(self, name), name)  # finite numbers: a NaN tv_weight gave NaN images
        check_seed(self.seed)
        flag(self.progress, "progress")
        if self.denoise_every < 0:
            raise ConfigError(f"denoise_every must be >= 0, got {self.denoise_every}")
        if not self.lr > 0 or self.tv_weight < 0 or self.noise < 0 or not self.denoise_sigma > 0:
            raise ConfigError(
                f"lr and denoise_sigma must be positive, tv_weight and noise non-negative; got "
                f"lr={self.lr}, denoise_sigma={self.denoise_sigma}, tv_weight={self.tv_weight}, "
                f"noise={self.noise}"
            )
        if not 0 <= self.start <= 1:
            raise ConfigError(f"start must be a grey level in [0, 1], got {self.start}")

    def replace(self, **changes: Any) -> MIFaceConfig:
        """A copy with some fields changed (an unknown field is a ConfigError)."""
        return replace(self, changes)


@dataclass
class Inversion:
    """What MI-Face recovered.

    Attributes:
        images: ``N x C x H x W`` in [0, 1], for each start the image of lowest cost.
        classes: ``N`` target classes (``restarts`` consecutive images per class).
        confidence: ``N`` softmax probabilities of the target class at ``images``.
        cost: the mean cost over the images at every step.
        steps: steps taken.
        seconds: wall-clock time.
    """

    images: Tensor
    classes: Tensor
    confidence: Tensor
    cost: list[float]
    steps: int
    seconds: float


def _tv_per_image(x: Tensor) -> Tensor:
    """:func:`~dlgtut.attacks.gradient.inverting.total_variation` of every image of the batch."""
    return torch.vmap(total_variation)(x.unsqueeze(1))


def mi_face(
    model: nn.Module,
    classes: Sequence[int] | Tensor,
    input_shape: Sequence[int],
    config: MIFaceConfig | None = None,
    **changes: Any,
) -> Inversion:
    """Invert ``model``: for every class, the input it finds most typical (MI-Face).

    All images are optimised together (their costs are independent, so this is the same as one
    run per image, only faster). The model is used in eval mode and not changed. The images are
    optimised on the model's device (the noisy starts are drawn on the CPU, so a seed gives the
    same starts everywhere); the :class:`Inversion` comes back on the CPU.

    Args:
        model: the target classifier (white-box: the attack differentiates through it).
        classes: the classes to invert, each in ``[0, number of outputs)``.
        input_shape: ``(C, H, W)`` of one input, a public fact of the model.
        config: settings; default :class:`MIFaceConfig`.
        **changes: fields of the config to change, e.g. ``steps=100``.

    Returns:
        An :class:`Inversion` with ``restarts`` images per class, class by class.

    Raises:
        ConfigError: no classes, a class outside the model's outputs, a bad setting, or an
            input shape that is not three positive integers.
        DataError: classes that are not integers (a float class is refused, not truncated), or
            an input shape the model cannot take.
        WrongTypeError: ``model`` is not a module, or ``config`` not an MIFaceConfig.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> with torch.no_grad():
        ...     _ = net[1].weight.copy_(torch.tensor([[1.0, 1, -1, -1], [-1, -1, 1, 1]]))
        >>> inv = mi_face(net, [0, 1], (1, 2, 2), steps=50, tv_weight=0.0)
        >>> inv.images[0].flatten().tolist(), inv.images[1].flatten().tolist()
        ([1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0])
    """
    cfg = MIFaceConfig() if config is None else instance(config, MIFaceConfig, "config")
    cfg = cfg.replace(**changes)
    params = model_parameters(model)
    if isinstance(input_shape, str) or not isinstance(input_shape, Sequence) or len(
            input_shape) != 3:
        raise ConfigError(f"input_shape must be (C, H, W), got {input_shape!r}")
    shape = tuple(integer(s, "every entry of input_shape", low=1) for s in input_shape)
    empty = (isinstance(classes, Tensor) and classes.numel() == 0) or (
        isinstance(classes, Sequence) and not isinstance(classes, str) and len(classes) == 0)
    if empty:  # before the dtype: an empty list is a float tensor to torch
        raise ConfigError("give at least one class to invert")
    targets = as_labels(classes, "classes")
    was_training = model.training
    model.eval()
    dtype = params[0].dtype
    with torch.no_grad():
        try:
            probe = as_model_input(model, torch.zeros(1, *shape))
            num_outputs = int(model_output(model, probe, "inputs").shape[-1])
        except DataError:
            model.train(was_training)
            raise
    bad = [int(c) for c in targets if not 0 <= int(c) < num_outputs]
    if bad:
        raise ConfigError(f"class {bad[0]} is outside the model's {num_outputs} outputs")
    device = params[0].device
    targets = targets.cpu().repeat_interleave(cfg.restarts)
    n = len(targets)
    x = torch.full((n, *shape), cfg.start, dtype=dtype)
    if cfg.restarts > 1:
        gen = torch.Generator().manual_seed(cfg.seed)
        noisy = torch.arange(n) % cfg.restarts != 0
        x[noisy] += cfg.noise * torch.randn(x[noisy].shape, generator=gen, dtype=dtype)
    x = x.clamp(0, 1).to(device).requires_grad_(True)
    rows, on_device = torch.arange(n, device=device), targets.to(device)

    def costs(images: Tensor) -> Tensor:
        p = F.softmax(model(images), dim=-1)[rows, on_device]
        return 1 - p + cfg.tv_weight * _tv_per_image(images)

    best = x.detach().clone()
    best_cost = torch.full((n,), float("inf"), dtype=dtype, device=device)
    last_gain = 0
    history: list[float] = []
    started = time.perf_counter()
    step = 0
    try:
        with tqdm(total=cfg.steps, desc="MI-Face", disable=not cfg.progress, leave=False) as bar:
            for step in range(1, cfg.steps + 1):
                c = costs(x)
                (grad,) = torch.autograd.grad(c.sum(), x)
                with torch.no_grad():
                    better = c.detach() < best_cost
                    if better.any():
                        best[better] = x[better]
                        best_cost[better] = c.detach()[better]
                        last_gain = step
                    history.append(float(c.mean()))
                    if bool((best_cost <= cfg.stop_cost).all()) or step - last_gain >= cfg.patience:
                        break
                    x -= cfg.lr * grad
                    if cfg.denoise_every and step % cfg.denoise_every == 0:
                        x.copy_(_blur(x, cfg.denoise_sigma))
                    x.clamp_(0, 1)
                bar.update()
            else:  # the last step's image has not been scored yet
                with torch.no_grad():
                    c = costs(x)
                    better = c < best_cost
                    best[better] = x.detach()[better]
        with torch.no_grad():
            confidence = F.softmax(model(best), dim=-1)[rows, on_device]
    finally:
        model.train(was_training)
    return Inversion(best.cpu(), targets, confidence.cpu(), history, step,
                     time.perf_counter() - started)


# --------------------------------------------------------------------------------------------
# Judging an inversion
# --------------------------------------------------------------------------------------------


