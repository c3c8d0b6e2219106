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

Whether the result *is* a representative of the class is for someone else to say. The
evaluation helpers here (:func:`train_evaluator`, :func:`score_inversion`) judge it with an
independent evaluation classifier, trained separately on other data with another architecture
and never shown to the attack, and by its similarity to the real mean image of the class.
:func:`inversion_case` prepares a target and such an evaluator on real data (scikit-learn's
digits, scikit-image's LFW crops, or LFW identities when torchvision can download them).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.transforms.functional import gaussian_blur
from tqdm.auto import tqdm

from ..data import ImageSet, load_dataset
from ..errors import ConfigError, DataError
from ..metrics import mse, ssim
from ..models import LeNet
from ..server import accuracy
from ..training import MLP, predict_logits, train_classifier
from .inverting import total_variation

__all__ = [
    "inversion_data",
    "MIFaceConfig",
    "Inversion",
    "mi_face",
    "class_means",
    "correlation",
    "recognised_fraction",
    "InversionScores",
    "score_inversion",
    "train_evaluator",
    "top_classes",
    "InversionCase",
    "inversion_case",
    "INVERSION_DATASETS",
    "plot_inversions",
]

INVERSION_DATASETS = ("digits", "faces", "lfw")
"""Datasets :func:`inversion_case` accepts (``lfw`` falls back to ``faces`` offline)."""


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
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


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
    """:func:`~dlgtut.attacks.inverting.total_variation` of every image of the batch."""
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
    run per image, only faster). The model is used in eval mode and not changed.

    Args:
        model: the target classifier (white-box: the attack differentiates through it).
        classes: the classes to invert, each in ``[0, number of outputs)``.
        input_shape: ``(C, H, W)`` of one input, a public fact of the model.
        config: settings; default :class:`MIFaceConfig`.
        **changes: fields of the config to change, e.g. ``steps=100``.

    Returns:
        An :class:`Inversion` with ``restarts`` images per class, class by class.

    Raises:
        ConfigError: no classes, a class outside the model's outputs, or a bad setting.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> with torch.no_grad():
        ...     _ = net[1].weight.copy_(torch.tensor([[1.0, 1, -1, -1], [-1, -1, 1, 1]]))
        >>> inv = mi_face(net, [0, 1], (1, 2, 2), steps=50, tv_weight=0.0)
        >>> inv.images[0].flatten().tolist(), inv.images[1].flatten().tolist()
        ([1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0])
    """
    cfg = (config or MIFaceConfig()).replace(**changes)
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ConfigError(f"input_shape must be (C, H, W), got {tuple(input_shape)}")
    targets = torch.as_tensor(classes, dtype=torch.long).reshape(-1)
    if targets.numel() == 0:
        raise ConfigError("give at least one class to invert")
    was_training = model.training
    model.eval()
    params = list(model.parameters())
    dtype = params[0].dtype if params else torch.float32
    with torch.no_grad():
        num_outputs = int(model(torch.zeros(1, *shape, dtype=dtype)).shape[-1])
    bad = [int(c) for c in targets if not 0 <= int(c) < num_outputs]
    if bad:
        raise ConfigError(f"class {bad[0]} is outside the model's {num_outputs} outputs")
    targets = targets.repeat_interleave(cfg.restarts)
    n = len(targets)
    x = torch.full((n, *shape), cfg.start, dtype=dtype)
    if cfg.restarts > 1:
        gen = torch.Generator().manual_seed(cfg.seed)
        noisy = torch.arange(n) % cfg.restarts != 0
        x[noisy] += cfg.noise * torch.randn(x[noisy].shape, generator=gen, dtype=dtype)
    x = x.clamp(0, 1).requires_grad_(True)
    rows = torch.arange(n)

    def costs(images: Tensor) -> Tensor:
        p = F.softmax(model(images), dim=-1)[rows, targets]
        return 1 - p + cfg.tv_weight * _tv_per_image(images)

    best = x.detach().clone()
    best_cost = torch.full((n,), float("inf"), dtype=dtype)
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
                        x.copy_(gaussian_blur(x, [3, 3], [cfg.denoise_sigma] * 2))
                    x.clamp_(0, 1)
                bar.update()
            else:  # the last step's image has not been scored yet
                with torch.no_grad():
                    c = costs(x)
                    better = c < best_cost
                    best[better] = x.detach()[better]
        with torch.no_grad():
            confidence = F.softmax(model(best), dim=-1)[rows, targets]
    finally:
        model.train(was_training)
    return Inversion(best, targets, confidence, history, step, time.perf_counter() - started)


# --------------------------------------------------------------------------------------------
# Judging an inversion
# --------------------------------------------------------------------------------------------


def class_means(images: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """The mean image of every class: ``num_classes x C x H x W``.

    Raises:
        DataError: a class without examples, or images and labels that do not fit together.

    Example:
        >>> x = torch.tensor([0.0, 1.0, 0.5]).reshape(3, 1, 1, 1)
        >>> class_means(x, torch.tensor([0, 0, 1]), 2).flatten().tolist()
        [0.5, 0.5]
    """
    labels = torch.as_tensor(labels)
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
    if a.shape != b.shape or a.ndim < 2:
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
    classes = torch.as_tensor(classes).expand(len(images))
    return accuracy(evaluator, images, classes)


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
    """
    classes = torch.as_tensor(classes, dtype=torch.long)
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

    Returns:
        The trained classifier, in eval mode.
    """
    c, h, w = images.shape[1:]
    if architecture == "lenet":
        net: nn.Module = LeNet(c, num_classes, h, activation="relu", init="default", seed=seed)
    elif architecture == "mlp":
        net = MLP(c * h * w, num_classes, hidden=(64,), activation="tanh", seed=seed)
    else:
        raise ConfigError(f"unknown evaluator architecture {architecture!r}; choose lenet or mlp")
    train_classifier(net, images, labels, epochs=epochs, lr=3e-3, seed=seed)
    return net


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
    dataset: str = "digits", *, identities: int = 5, root: str | None = None
) -> ImageSet:
    """The real dataset of a model-inversion case, grey and at its native size.

    ``digits`` (scikit-learn, 10 classes, 8 x 8), ``faces`` (scikit-image's LFW crops, face
    against non-face, 25 x 25), ``lfw`` (torchvision's LFW people, grey 32 x 32, the
    ``identities`` people with most photos; offline it falls back to ``faces``).

    Raises:
        DataError: an unknown dataset.
        ConfigError: fewer than 2 identities.
    """
    if dataset not in INVERSION_DATASETS:
        raise DataError(f"unknown dataset {dataset!r} for inversion; choose from "
                        f"{', '.join(INVERSION_DATASETS)}")
    if isinstance(identities, bool) or not isinstance(identities, int) or identities < 2:
        raise ConfigError(f"identities must be an integer of at least 2, got {identities!r}")
    data = load_dataset(dataset, size=_NATIVE_SIZE[dataset], channels=1, root=root)
    return top_classes(data, identities) if data.name == "lfw" else data


def inversion_case(
    dataset: str | ImageSet = "digits",
    *,
    seed: int = 0,
    identities: int = 5,
    weight_decay: float = 0.01,
    epochs: int | None = None,
    root: str | None = None,
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

    Returns:
        An :class:`InversionCase`.

    Raises:
        DataError: an unknown dataset.
    """
    if isinstance(dataset, ImageSet):
        data = dataset
    else:
        data = inversion_data(dataset, identities=identities, root=root)
    if epochs is None:
        epochs = 60 if data.name == "digits" else 100
    k = len(data.classes)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    target_split, eval_split = order[: len(data) // 2], order[len(data) // 2 :]
    x, y = data.images, data.labels
    xa, ya, xb, yb = x[target_split], y[target_split], x[eval_split], y[eval_split]
    c, h, w = data.images.shape[1:]
    target = MLP(c * h * w, k, hidden=(128,), seed=seed)
    train_classifier(target, xa, ya, epochs=epochs, lr=1e-3, weight_decay=weight_decay, seed=seed)
    evaluator = train_evaluator(xb, yb, k, seed=seed + 1, epochs=epochs)
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
    )


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

    classes = torch.as_tensor(classes)
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
