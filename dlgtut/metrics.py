r"""How close a reconstruction is to the private batch it was stolen from.

Ground truth enters the library only here. Images are ``N x C x H x W`` float tensors; truth lies
in [0, 1] and a reconstruction is clamped to [0, 1] before it is scored. An attack recovers the
batch in no particular order, so :func:`score` first pairs every reconstructed image with the
true image it resembles most (an optimal assignment on pairwise MSE, :func:`match`) and then
reports, per true image and as batch means:

* MSE, :func:`mse`;
* PSNR in dB, :func:`psnr`;
* SSIM, :func:`ssim` (scikit-image's ``structural_similarity``);
* label accuracy after matching, :func:`label_accuracy`;
* for attacks that return images only (the malicious-server attacks), :func:`score_images`,
  and the fraction of images recovered exactly, :func:`fraction_exact` (PSNR above
  :data:`EXACT_PSNR_DB`).

The per-image functions compute in float64 and return the dtype of their input. The inputs may
live on any device (a reconstruction on the GPU, the truth on the CPU): the scores are computed
and returned on the CPU, where scikit-image and SciPy work anyway.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from skimage.metrics import structural_similarity
from torch import Tensor

from .checks import number
from .errors import DataError
from .fl import as_labels

__all__ = [
    "mse",
    "psnr",
    "ssim",
    "match",
    "label_accuracy",
    "Scores",
    "score",
    "score_images",
    "fraction_exact",
    "MSE_FLOOR",
    "EXACT_PSNR_DB",
]

MSE_FLOOR = 1e-10
"""The smallest MSE :func:`psnr` divides by: identical images score 100 dB (at data range 1)."""

EXACT_PSNR_DB = 40.0
"""PSNR above which an image counts as recovered exactly: an RMS error below 1 % of the range,
below what 8-bit pixels resolve (a uniform rounding error of half a level is 59 dB)."""


def _check_images(pred: Tensor, target: Tensor) -> None:
    """Raise DataError unless ``pred`` and ``target`` are float batches of the same shape."""
    for name, x in (("pred", pred), ("target", target)):
        if not isinstance(x, Tensor):
            raise DataError(f"{name} must be a tensor, got {type(x).__name__}")
        if x.ndim != 4:
            raise DataError(f"{name} must have shape N x C x H x W, got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise DataError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if pred.shape != target.shape:
        raise DataError(
            f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}"
        )
    if pred.shape[0] == 0:
        raise DataError("cannot score an empty batch (N = 0)")
    if pred.numel() == 0:
        raise DataError(f"cannot score images without pixels, got shape {tuple(pred.shape)}")


def _check_finite(pred: Tensor, target: Tensor) -> None:
    """Raise DataError if either batch holds NaN or inf: a score of them would be NaN."""
    for name, x in (("pred", pred), ("target", target)):
        if not bool(torch.isfinite(x).all()):
            raise DataError(f"{name} contains NaN or inf; there is nothing to score")


def _check_range(data_range: float) -> float:
    return number(data_range, "data_range", low=0, low_open=True, error=DataError)


def _out_dtype(pred: Tensor, target: Tensor) -> torch.dtype:
    return torch.promote_types(pred.dtype, target.dtype)


def _mse64(pred: Tensor, target: Tensor) -> Tensor:
    diff = pred.detach().cpu().double() - target.detach().cpu().double()
    return diff.square().flatten(1).mean(1)


def mse(pred: Tensor, target: Tensor) -> Tensor:
    r"""Mean squared error of every image in the batch.

    .. math:: \mathrm{MSE}_n = \frac{1}{CHW} \sum_{c,h,w} (\hat x_{nchw} - x_{nchw})^2

    Args:
        pred: ``N x C x H x W`` reconstructed images.
        target: ``N x C x H x W`` true images.

    Returns:
        ``N`` values on the CPU, in the input's floating dtype.

    Raises:
        DataError: the inputs are not 4-D float tensors of one shape, or hold NaN or inf.

    Example:
        >>> target = torch.zeros(2, 1, 2, 2)
        >>> pred = torch.tensor([0.0, 0.5]).view(2, 1, 1, 1).expand(2, 1, 2, 2)
        >>> mse(pred, target)
        tensor([0.0000, 0.2500])
    """
    _check_images(pred, target)
    _check_finite(pred, target)
    return _mse64(pred, target).to(_out_dtype(pred, target))


def psnr(pred: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    r"""Peak signal-to-noise ratio of every image, in dB.

    .. math:: \mathrm{PSNR}_n = 10 \log_{10} \frac{R^2}{\max(\mathrm{MSE}_n, 10^{-10})}

    where :math:`R` is ``data_range``. The floor keeps the value finite (and JSON-safe): identical
    images score :math:`10 \log_{10}(R^2) + 100` dB, i.e. 100 dB for images in [0, 1].

    Args:
        pred: ``N x C x H x W`` reconstructed images.
        target: ``N x C x H x W`` true images.
        data_range: the span of possible pixel values (1 for images in [0, 1]).

    Returns:
        ``N`` values in dB on the CPU, in the input's floating dtype.

    Raises:
        DataError: the inputs are not 4-D float tensors of one shape or hold NaN or inf, or
            ``data_range`` is not a positive finite number.

    Example:
        >>> target = torch.zeros(2, 1, 4, 4)
        >>> pred = target.clone()
        >>> pred[1] += 0.1  # MSE 0.01
        >>> psnr(pred, target)
        tensor([100.,  20.])
    """
    _check_images(pred, target)
    _check_finite(pred, target)
    data_range = _check_range(data_range)
    err = _mse64(pred, target).clamp_min(MSE_FLOOR)
    return (10.0 * torch.log10(data_range**2 / err)).to(_out_dtype(pred, target))


def _win_size(height: int, width: int) -> int:
    """The largest odd window not above 7 that fits an ``height x width`` image."""
    side = min(7, height, width)
    side -= 1 - side % 2
    if side < 3:
        raise DataError(f"SSIM needs images of at least 3 x 3 pixels, got {height} x {width}")
    return side


def ssim(pred: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    r"""Structural similarity of every image (scikit-image, channels averaged).

    .. math::
        \mathrm{SSIM}(x, y) = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
        {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)},
        \quad C_1 = (0.01R)^2,\ C_2 = (0.03R)^2

    computed in a sliding square window and averaged over the image and its channels, by
    :func:`skimage.metrics.structural_similarity` with ``channel_axis=0``. The window is the
    largest odd size not above 7 that fits the image (7 for 32 x 32 images, 7 for 8 x 8 digits,
    5 for 5 x 5 images), so small images work.

    Args:
        pred: ``N x C x H x W`` reconstructed images.
        target: ``N x C x H x W`` true images.
        data_range: the span of possible pixel values (1 for images in [0, 1]).

    Returns:
        ``N`` values in [-1, 1] on the CPU, in the input's floating dtype.

    Raises:
        DataError: the inputs are not 4-D float tensors of one shape, hold NaN or inf, or are
            smaller than 3 x 3; or ``data_range`` is not a positive finite number.

    Example:
        >>> x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
        >>> ssim(x, x)
        tensor([1., 1.])
    """
    _check_images(pred, target)
    _check_finite(pred, target)
    data_range = _check_range(data_range)
    win = _win_size(pred.shape[2], pred.shape[3])
    p = pred.detach().cpu().double().numpy()
    t = target.detach().cpu().double().numpy()
    values = [
        structural_similarity(t[n], p[n], win_size=win, data_range=data_range, channel_axis=0)
        for n in range(p.shape[0])
    ]
    return torch.tensor(values, dtype=torch.float64).to(_out_dtype(pred, target))


def match(pred: Tensor, target: Tensor) -> Tensor:
    r"""Pair reconstructed images with true ones: the optimal assignment on pairwise MSE.

    .. math::
        \pi^* = \arg\min_{\pi} \sum_i \mathrm{MSE}(\hat x_{\pi(i)}, x_i)

    over permutations :math:`\pi` of the batch, solved by
    :func:`scipy.optimize.linear_sum_assignment`.

    Args:
        pred: ``N x C x H x W`` reconstructed images, in any order.
        target: ``N x C x H x W`` true images.

    Returns:
        ``perm``, an ``N`` LongTensor with ``pred[perm[i]]`` the match of ``target[i]``, so
        ``pred[perm]`` is the reconstruction in truth order.

    Raises:
        DataError: the inputs are not 4-D float tensors of one shape, or contain NaN or inf.

    Example:
        >>> target = torch.arange(3.0).view(3, 1, 1, 1) / 2
        >>> match(target[[2, 0, 1]], target)
        tensor([1, 2, 0])
    """
    _check_images(pred, target)
    p = pred.detach().cpu().double().flatten(1)
    t = target.detach().cpu().double().flatten(1)
    if not (torch.isfinite(p).all() and torch.isfinite(t).all()):
        raise DataError("cannot match images that contain NaN or inf")
    # Pairwise squared distances, exactly (no matrix-product shortcut), divided by C*H*W.
    cost = torch.cdist(t, p, compute_mode="donot_use_mm_for_euclid_dist").square() / t.shape[1]
    from scipy.optimize import linear_sum_assignment  # imported when needed: 0.3 s

    rows, cols = linear_sum_assignment(cost.numpy())
    perm = np.empty(len(rows), dtype=np.int64)
    perm[rows] = cols
    return torch.from_numpy(perm)


def label_accuracy(pred_labels: Tensor, true_labels: Tensor) -> float:
    r"""Fraction of labels recovered exactly.

    .. math:: \mathrm{acc} = \frac{1}{N} \sum_n [\hat y_n = y_n]

    Labels are compared position by position; use :func:`score` to compare them after matching
    the images.

    Args:
        pred_labels: ``N`` recovered integer labels.
        true_labels: ``N`` true integer labels.

    Returns:
        The accuracy in [0, 1].

    Raises:
        DataError: the label vectors are not 1-D integers of one non-zero length (float labels
            are refused, not truncated).

    Example:
        >>> label_accuracy(torch.tensor([1, 2, 3, 4]), torch.tensor([1, 2, 0, 4]))
        0.75
    """
    pred = as_labels(pred_labels, "pred_labels").cpu()
    true = as_labels(true_labels, "true_labels").cpu()
    if pred.shape != true.shape:
        raise DataError(f"label counts differ: {pred.shape[0]} predicted vs {true.shape[0]} true")
    if true.numel() == 0:
        raise DataError("cannot score an empty batch (N = 0)")
    return float((pred == true).double().mean().item())


@dataclass(frozen=True)
class Scores:
    """The scores of one reconstructed batch.

    Attributes:
        mse: mean over the batch of the per-image MSE.
        psnr: mean over the batch of the per-image PSNR (dB).
        ssim: mean over the batch of the per-image SSIM.
        label_accuracy: fraction of labels recovered, after matching images to truth.
        per_image: ``{"mse": [...], "psnr": [...], "ssim": [...]}``, one value per true image,
            in truth order.
        assignment: ``perm`` from :func:`match`: reconstruction ``perm[i]`` is the match of true
            image ``i``.
    """

    mse: float
    psnr: float
    ssim: float
    label_accuracy: float
    per_image: dict[str, list[float]]
    assignment: list[int]

    def as_dict(self) -> dict[str, Any]:
        """The scores as plain Python floats, ints, lists and dicts, ready for ``json.dump``."""
        return dataclasses.asdict(self)


def score(
    pred_images: Tensor,
    pred_labels: Tensor | Sequence[int],
    true_images: Tensor,
    true_labels: Tensor | Sequence[int],
) -> Scores:
    r"""Score a reconstructed batch against the private one.

    The reconstruction is clamped to [0, 1], matched to the truth (:func:`match`), and scored image
    by image in truth order; the labels are compared after the same matching,
    :math:`\hat y_{\pi(i)} = y_i`.

    Args:
        pred_images: ``N x C x H x W`` reconstructed images, in any order.
        pred_labels: ``N`` recovered labels, in the order of ``pred_images``.
        true_images: ``N x C x H x W`` true images in [0, 1].
        true_labels: ``N`` true labels.

    Returns:
        The :class:`Scores`.

    Raises:
        DataError: shapes disagree, the truth leaves [0, 1], or the reconstruction holds NaN.

    Example:
        >>> truth = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
        >>> s = score(truth[[1, 2, 0]], [5, 6, 4], truth, [4, 5, 6])
        >>> s.assignment, s.psnr, s.label_accuracy
        ([2, 0, 1], 100.0, 1.0)
    """
    _check_images(pred_images, true_images)
    p_labels = as_labels(pred_labels, "pred_labels").cpu()
    t_labels = as_labels(true_labels, "true_labels").cpu()
    n = true_images.shape[0]
    if p_labels.shape[0] != n or t_labels.shape[0] != n:
        raise DataError(
            f"need {n} labels for {n} images, got {p_labels.shape[0]} predicted and "
            f"{t_labels.shape[0]} true"
        )
    truth = true_images.detach().cpu().double()
    if not torch.isfinite(truth).all() or truth.min() < -1e-6 or truth.max() > 1 + 1e-6:
        raise DataError(
            f"true images must lie in [0, 1], got values in "
            f"[{truth.min().item():.3g}, {truth.max().item():.3g}]"
        )
    pred = pred_images.detach().cpu().double()
    if torch.isnan(pred).any():
        raise DataError("the reconstruction contains NaN; there is nothing to score")
    pred = pred.clamp(0, 1)
    truth = truth.clamp(0, 1)

    perm = match(pred, truth)
    ordered = pred[perm]
    per_image = {
        "mse": mse(ordered, truth).tolist(),
        "psnr": psnr(ordered, truth).tolist(),
        "ssim": ssim(ordered, truth).tolist(),
    }
    return Scores(
        mse=math.fsum(per_image["mse"]) / n,
        psnr=math.fsum(per_image["psnr"]) / n,
        ssim=math.fsum(per_image["ssim"]) / n,
        label_accuracy=label_accuracy(p_labels[perm], t_labels),
        per_image=per_image,
        assignment=perm.tolist(),
    )


def score_images(pred_images: Tensor, true_images: Tensor) -> Scores:
    r"""Score reconstructed images without labels (attacks that recover images only).

    As :func:`score`, with two differences. The pairing maximises the total PSNR (minimises
    :math:`\sum_i \log \mathrm{MSE}`) instead of minimising the total MSE, so that every exact
    reconstruction is paired with its own image: an attack that returns exact images and blends
    should not see a blend paired with an image it got exactly. And ``label_accuracy`` is NaN
    (written as ``null`` in ``metrics.json``).

    Example:
        >>> truth = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
        >>> s = score_images(truth[[1, 0]], truth)
        >>> s.assignment, s.psnr, math.isnan(s.label_accuracy)
        ([1, 0], 100.0, True)
    """
    _check_images(pred_images, true_images)
    truth = true_images.detach().cpu().double()
    if not torch.isfinite(truth).all() or truth.min() < -1e-6 or truth.max() > 1 + 1e-6:
        raise DataError("true images must lie in [0, 1]")
    pred = pred_images.detach().cpu().double()
    if torch.isnan(pred).any():
        raise DataError("the reconstruction contains NaN; there is nothing to score")
    pred, truth = pred.clamp(0, 1), truth.clamp(0, 1)
    t, p = truth.flatten(1), pred.flatten(1)
    cost = torch.cdist(t, p, compute_mode="donot_use_mm_for_euclid_dist").square() / t.shape[1]
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(torch.log10(cost.clamp_min(MSE_FLOOR)).numpy())
    perm = torch.empty(len(rows), dtype=torch.long)
    perm[torch.as_tensor(rows)] = torch.as_tensor(cols, dtype=torch.long)
    ordered = pred[perm]
    per_image = {
        "mse": mse(ordered, truth).tolist(),
        "psnr": psnr(ordered, truth).tolist(),
        "ssim": ssim(ordered, truth).tolist(),
    }
    n = truth.shape[0]
    return Scores(
        mse=math.fsum(per_image["mse"]) / n,
        psnr=math.fsum(per_image["psnr"]) / n,
        ssim=math.fsum(per_image["ssim"]) / n,
        label_accuracy=math.nan,
        per_image=per_image,
        assignment=perm.tolist(),
    )


def fraction_exact(scores: Scores | Sequence[float], threshold_db: float = EXACT_PSNR_DB) -> float:
    """The fraction of true images whose matched reconstruction scores above ``threshold_db``.

    Args:
        scores: a :class:`Scores`, or the PSNR of every image in dB.
        threshold_db: the PSNR that counts as exact (default :data:`EXACT_PSNR_DB`).

    Example:
        >>> fraction_exact([100.0, 41.0, 39.9, 12.0])
        0.5
    """
    values = scores.per_image["psnr"] if isinstance(scores, Scores) else list(scores)
    if not values:
        raise DataError("no PSNR values to count")
    return sum(v > threshold_db for v in values) / len(values)
