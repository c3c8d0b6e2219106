"""Judging a model inversion: an independent evaluator and the real class means.

Whether an inversion *is* a representative of its class is for someone other than the attacked
model to say: an independent evaluation classifier (:func:`train_evaluator`: another
architecture and seed, trained on other data, never shown to the attack), and the similarity
to the real mean image of the class (:func:`class_means`, :func:`correlation`). The target and
evaluator a chapter judges are prepared by :func:`~.case.inversion_case`.

The evaluator trains on the ``device`` it is made for; the judging takes inversions and means
from any device and computes on the CPU.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ...checks import integer, model_parameters
from ...checks import seed as check_seed
from ...checks import tensor as check_tensor
from ...device import resolve_device
from ...errors import ConfigError, DataError
from ...fl import as_labels
from ...metrics import mse, ssim
from ...models import LeNet
from ...server import accuracy
from ...training import MLP, predict_logits, train_classifier

__all__ = [
    "class_means",
    "correlation",
    "recognised_fraction",
    "InversionScores",
    "score_inversion",
    "train_evaluator",
    "plot_inversions",
]


def class_means(images: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """The mean image of every class: ``num_classes x C x H x W``.

    Raises:
        DataError: a class without examples, or images and labels that do not fit together.

    Example:
        >>> x = torch.tensor([0.0, 1.0, 0.5]).reshape(3, 1, 1, 1)
        >>> class_means(x, torch.tensor([0, 0, 1]), 2).flatten().tolist()
        [0.5, 0.5]
    """
    check_tensor(images, "images", min_ndim=2, floating=True, finite=True, nonempty=False)
    labels = as_labels(labels)  # integers: torch.bincount would refuse floats, mean 2.7 as 2
    integer(num_classes, "num_classes", low=1)
    if len(images) != len(labels):
        raise DataError(f"{len(images)} images but {len(labels)} labels")
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"labels must lie in [0, {num_classes - 1}]")
    counts = torch.bincount(labels, minlength=num_classes)
    missing = [k for k in range(num_classes) if counts[k] == 0]
    if missing:
        raise DataError(f"need examples of every class; none of class {missing[0]}")
    return torch.stack([images[labels == k].mean(0) for k in range(num_classes)])


def correlation(a: Tensor, b: Tensor) -> Tensor:
    """Pearson correlation of every pair of images ``a[i]``, ``b[i]``, over their pixels.

    A constant image has no defined correlation; it scores 0.

    Example:
        >>> a = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])
        >>> correlation(a, torch.tensor([[0.0, 2.0, 4.0], [0.0, 1.0, 2.0]])).tolist()
        [1.0, 0.0]
    """
    for name, x in (("a", a), ("b", b)):
        check_tensor(x, name, min_ndim=2, finite=True)
    if a.shape != b.shape:
        raise DataError(f"need two batches of one shape, got {tuple(a.shape)}, {tuple(b.shape)}")
    a = a.flatten(1).double()
    b = b.flatten(1).double()
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    denom = a.norm(dim=1) * b.norm(dim=1)
    r = (a * b).sum(1) / denom.clamp_min(1e-12)
    return torch.where(denom > 0, r, torch.zeros_like(r)).float()


def recognised_fraction(evaluator: nn.Module, images: Tensor, classes: Tensor | int) -> float:
    """The fraction of ``images`` that ``evaluator`` assigns to ``classes`` (one, or one each).

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(1, 2))
        >>> with torch.no_grad():
        ...     _ = net[1].weight.copy_(torch.tensor([[-1.0], [1.0]])), net[1].bias.zero_()
        >>> recognised_fraction(net, torch.tensor([-1.0, 2.0, 3.0]).reshape(3, 1, 1, 1), 1)
        0.6666666666666666
    """
    model_parameters(evaluator, "the evaluator")
    check_tensor(images, "images", min_ndim=2)
    classes = as_labels(classes, "classes")
    if len(classes) not in (1, len(images)):
        raise DataError(f"need one class, or one per image: {len(classes)} for "
                        f"{len(images)} images")
    return accuracy(evaluator, images, classes.expand(len(images)))


@dataclass(frozen=True)
class InversionScores:
    """How well inversions represent their classes.

    Attributes:
        eval_accuracy: fraction of the inversions the evaluation classifier assigns to their
            target class.
        per_class: that fraction for every class inverted, ``{class: fraction}``.
        correlation: mean Pearson correlation of an inversion with its class's real mean image.
        ssim: mean SSIM between an inversion and its class's mean image.
        mse: mean squared error between an inversion and its class's mean image.
        nearest_mean_accuracy: fraction of inversions whose most correlated class mean is their
            own class's.
        chance: the fraction a guess would reach, ``1 / number of classes``.
    """

    eval_accuracy: float
    per_class: dict[int, float]
    correlation: float
    ssim: float
    mse: float
    nearest_mean_accuracy: float
    chance: float

    def as_dict(self) -> dict[str, Any]:
        """Plain Python values, ready for ``json.dump``."""
        out = dataclasses.asdict(self)
        out["per_class"] = {str(k): v for k, v in self.per_class.items()}
        return out


def score_inversion(
    images: Tensor, classes: Tensor, evaluator: nn.Module, means: Tensor
) -> InversionScores:
    """Judge inversions with an evaluation classifier and against the real class means.

    Args:
        images: ``N x C x H x W`` inversions.
        classes: ``N`` target classes.
        evaluator: an independent classifier (never used by the attack).
        means: ``K x C x H x W`` real mean image of every class (:func:`class_means`, on data
            the target was not trained on).

    Returns:
        The :class:`InversionScores`.

    Raises:
        DataError: inversions or means that are not finite float images, classes that are not
            integers (a float class is refused, not truncated) or not classes of the means,
            shapes that do not fit.
        WrongTypeError: ``evaluator`` is not a module.
    """
    model_parameters(evaluator, "the evaluator")
    check_tensor(images, "images", ndim=4, shape="N x C x H x W", floating=True, finite=True)
    check_tensor(means, "means", ndim=4, shape="K x C x H x W", floating=True, finite=True)
    images, means = images.detach().cpu(), means.detach().cpu()  # from any device
    classes = as_labels(classes, "classes").cpu()
    if len(classes) and int(classes.max()) >= len(means):
        raise DataError(f"classes must lie in [0, {len(means) - 1}] for {len(means)} class "
                        f"means, got {int(classes.max())}")
    if images.ndim != 4 or len(images) != len(classes) or images.shape[1:] != means.shape[1:]:
        raise DataError(f"need N x C x H x W inversions, one class each, of the means' shape "
                        f"{tuple(means.shape[1:])}; got {tuple(images.shape)}")
    pred = predict_logits(evaluator, images).argmax(-1)
    right = pred == classes
    per_class = {int(k): float(right[classes == k].double().mean()) for k in classes.unique()}
    own = means[classes]
    k = len(means)
    corr_all = torch.stack([correlation(images, means[j].expand_as(images)) for j in range(k)], 1)
    return InversionScores(
        eval_accuracy=float(right.double().mean()),
        per_class=per_class,
        correlation=float(correlation(images, own).double().mean()),
        ssim=float(ssim(images, own).double().mean()),
        mse=float(mse(images, own).double().mean()),
        nearest_mean_accuracy=float((corr_all.argmax(1) == classes).double().mean()),
        chance=1.0 / k,
    )


def train_evaluator(
    images: Tensor,
    labels: Tensor,
    num_classes: int,
    *,
    architecture: str = "lenet",
    seed: int = 1,
    epochs: int = 60,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """An evaluation classifier: trained on its own data, with its own architecture and seed.

    * ``"lenet"``: the book's convolutional LeNet with ReLU and PyTorch's default
      initialisation (for judging attacks on MLPs);
    * ``"mlp"``: a fully connected network with one hidden layer of 64 tanh units (for judging
      attacks on convolutional models).

    Args:
        images: ``N x C x H x W`` training images, disjoint from the attacked model's.
        labels: ``N`` int64 labels.
        num_classes: number of classes.
        architecture: ``"lenet"`` or ``"mlp"``.
        seed: seed of the weights and the shuffling.
        epochs: passes over the data (Adam, learning rate 0.003).
        device: where it trains and stays (its weights are drawn on the CPU first).

    Returns:
        The trained classifier, in eval mode, on ``device``.

    Raises:
        ConfigError: an unknown architecture, a bad seed, epochs or class count, or a device
            this machine does not have.
        DataError: images that are not ``N x C x H x W`` floats, or labels that do not fit.
    """
    if not isinstance(architecture, str) or architecture not in ("lenet", "mlp"):
        raise ConfigError(f"unknown evaluator architecture {architecture!r}; choose lenet or mlp")
    check_tensor(images, "images", ndim=4, shape="N x C x H x W", floating=True)
    integer(num_classes, "num_classes", low=1)
    check_seed(seed)
    integer(epochs, "epochs", low=1)
    device = resolve_device(device)
    c, h, w = images.shape[1:]
    if architecture == "lenet":
        net: nn.Module = LeNet(c, num_classes, h, activation="relu", init="default", seed=seed)
    elif architecture == "mlp":
        net = MLP(c * h * w, num_classes, hidden=(64,), activation="tanh", seed=seed)
    else:
        raise ConfigError(f"unknown evaluator architecture {architecture!r}; choose lenet or mlp")
    net = net.to(device)
    train_classifier(net, images, labels, epochs=epochs, lr=3e-3, seed=seed)
    return net


def plot_inversions(
    images: Tensor,
    classes: Tensor,
    means: Tensor,
    *,
    examples: Tensor | None = None,
    class_names: Sequence[str] | None = None,
    predicted: Tensor | None = None,
    title: str | None = None,
):
    """Inversions beside their classes: one column per class, real rows above the inversion.

    Rows, top to bottom: a real example of the class (if ``examples`` is given), the real mean
    image of the class, and the first inversion of the class. With ``predicted`` (the
    evaluation classifier's classes for ``images``) each inversion is titled with its verdict,
    in red when wrong.

    Args:
        images: ``N x C x H x W`` inversions (``N`` a multiple of the classes inverted).
        classes: ``N`` target classes.
        means: ``K x C x H x W`` real mean image of every class.
        examples: ``K x C x H x W`` one real image of every class, or None.
        class_names: names of the ``K`` classes.
        predicted: ``N`` classes the evaluation classifier assigns to ``images``, or None.
        title: the figure's title.

    Returns:
        A matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    check_tensor(images, "images", ndim=4, shape="N x C x H x W", floating=True)
    check_tensor(means, "means", ndim=4, shape="K x C x H x W", floating=True)
    classes = as_labels(classes, "classes").cpu()  # a float class is refused, not truncated
    images, means = images.detach().cpu(), means.detach().cpu()  # drawn from CPU copies
    examples = None if examples is None else examples.detach().cpu()
    if len(classes) != len(images) or int(classes.max()) >= len(means):
        raise DataError(f"need one class in [0, {len(means) - 1}] per inversion, got "
                        f"{len(classes)} for {len(images)}")
    if predicted is not None:
        predicted = as_labels(predicted, "predicted").cpu()
        if len(predicted) != len(images):
            raise DataError(f"predicted has {len(predicted)} classes for {len(images)} images")
    if class_names is not None and (isinstance(class_names, str) or len(class_names) < len(
            means)):
        raise DataError(f"class_names must name all {len(means)} classes")
    shown = list(dict.fromkeys(int(c) for c in classes))
    first = [int(torch.nonzero(classes == c)[0]) for c in shown]
    names = list(class_names) if class_names is not None else [str(c) for c in range(len(means))]
    rows = [("real example", examples), ("real class mean", means)] if examples is not None \
        else [("real class mean", means)]
    rows.append(("inversion", None))
    fig, axes = plt.subplots(len(rows), len(shown), squeeze=False,
                             figsize=(max(4.5, 1.0 * len(shown) + 1.2), 1.15 * len(rows) + 0.6))
    for j, (c, i) in enumerate(zip(shown, first, strict=True)):
        for r, (label, batch) in enumerate(rows):
            ax = axes[r][j]
            img = images[i] if batch is None else batch[c]
            ax.imshow(img.detach().clamp(0, 1).permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray",
                      vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(names[c], fontsize=9)
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
            if batch is None and predicted is not None:
                p = int(predicted[i])
                ax.set_xlabel(f"judged {names[p]}", fontsize=7,
                              color="black" if p == c else "#c62828")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
