r"""Labels read straight off a shared gradient: iDLG's rule and its batch extension.

For one example with softmax cross entropy, the last linear layer's weight gradient has rows

.. math:: \frac{\partial \ell}{\partial W_i} = (p_i - y_i)\, a,

where ``a`` is the layer's input and ``p`` the softmax output. When ``a`` is non-negative (after a
Sigmoid or a ReLU) only the true class has ``p_i - y_i < 0``, so its row sums to a negative
number and every other row to a positive one: the label is the row with the smallest sum
(Zhao, Mopuri and Bilen, iDLG, 2020). The layer's bias gradient is ``p - y`` itself, with
exactly one negative entry, the label's, *whatever* the activation before the layer: where the
layer has a bias, :func:`analytic_labels` reads one example's label there (a Tanh network's
features can be negative, and its row sums then mislead).

For a batch averaged over ``N`` examples with distinct labels, row ``c`` sums
``(1/N) sum_n (p_nc - y_nc) sum(a_n)``; the rows of the classes present are negative because
each carries a ``-(1 - p)`` term while the others only collect small ``p`` terms. The labels are
therefore the ``N`` rows with the most negative sums: iDLG's rule extended to a batch, as this
library uses it (no paper is its source). It is not GradInversion's rule (Yin et al. 2021),
which ranks the rows by their *minimum* entry (:func:`gradinversion_labels`), and Inverting
Gradients (Geiping et al. 2020) assumes the labels are known. With repeated labels fewer than
``N`` rows are negative; the rule then still returns ``N`` classes, the most negative ones, and
cannot tell which class repeats.

The sign rule fails when the model puts much of its probability on one class for every input
and that class is also a label: the other examples' ``p`` terms outweigh the ``-(1 - p)``
term, and fewer than ``N`` rows come out negative. An untrained network often does that. The
bias gradient is ``p_bar - n / N`` (mean prediction minus label frequencies), and the attacker,
who holds the public model, can estimate ``p_bar`` by running it on a neutral mid-grey input of
the known shape: :func:`label_counts` turns that into estimated counts ``N (p_hat - dL/db)``.
:func:`infer_labels` uses the sign rule when it finds exactly ``N`` negative rows and the
counts otherwise. Measured on real digit batches (scikit-learn, 32 x 32) with untrained LeNets
of six seeds: with 10 classes the sign rule was wrong on 34 of 60 batches of 4 and the combined
rule on none (3 of 60 at batch 8); with 100 classes both are right on batches of 2, and the
combined rule is wrong on 8 of 60 batches of 4, all from one seed whose network predicts one
class for nearly every digit. Wainakh et al. (2022) and Ma et al. (2023) refine the same idea.

Repeated labels: the sign rule can only name classes, not how often each occurs, so
:func:`infer_labels` with ``repeated=True`` (automatic when the batch is larger than the number
of classes) rounds the :func:`label_counts` to whole numbers that add up to ``N`` (largest
remainders) and returns each class as often as its count. Its accuracy rests on the grey-probe
estimate of the mean prediction, which is good for an untrained network and poor for a trained,
confident one (the probe's confident class collects extra counts). Measured on consecutive
digits (9 batches each of 4, 8, 16 and 32, 16 x 16): untrained ReLU LeNets of three seeds got
every label count right; the paper's Sigmoid LeNet 97-100 %.

Trained networks are harder for every rule: once each example's own class has most of the
probability, its ``-(1 - p)`` term is small next to the other examples' ``p`` terms. Measured
on digit batches of 4 and 8 (36 of them, 16 x 16) against ReLU LeNets trained to 84 % test
accuracy (two seeds), the rules here name 67-77 % of the labels, against 100 % untrained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ...checks import as_model_input, flag, integer, model_output, tensor
from ...errors import AttackError, WrongTypeError
from ...fl import SharedUpdate, require_update

__all__ = [
    "last_layer_gradient",
    "idlg_label",
    "batch_labels",
    "gradinversion_labels",
    "label_counts",
    "infer_labels",
    "analytic_labels",
    "LabelGuess",
    "rounded_counts",
]


def _layers(gradient: Sequence[Tensor]) -> list[Tensor]:
    """A gradient given layer by layer, as a list of tensors (not an update, not one tensor)."""
    if isinstance(gradient, SharedUpdate):
        raise WrongTypeError("pass the update's gradient (update.gradient()), not the "
                             "SharedUpdate itself")
    if isinstance(gradient, Tensor) or not isinstance(gradient, Sequence) or not all(
            isinstance(g, Tensor) for g in gradient):
        raise WrongTypeError(f"the gradient must be a sequence of tensors, one per parameter, "
                             f"got {type(gradient).__name__}")
    return list(gradient)


def last_layer_gradient(gradient: Sequence[Tensor], num_classes: int) -> Tensor:
    """The weight gradient of the classifier layer: the last 2-D tensor with ``num_classes`` rows.

    Raises:
        AttackError: if the gradient has no such tensor (the model does not end in a linear
            layer over the classes).
        WrongTypeError: ``gradient`` is not a sequence of tensors.
        ConfigError: ``num_classes`` is not a positive integer.
    """
    integer(num_classes, "num_classes", low=1)
    for g in reversed(_layers(gradient)):
        if g.ndim == 2 and g.shape[0] == num_classes:
            return g
    raise AttackError(
        f"no linear layer with {num_classes} outputs in the gradient: analytic label "
        "recovery needs the model to end in one (use joint label optimisation instead)"
    )


def idlg_label(last_weight_grad: Tensor) -> int:
    """iDLG's label for a single example: the class whose weight-gradient row sums lowest.

    Raises:
        DataError: not a ``K x F`` float tensor of finite values (a 1-D tensor gave label 0).

    Example:
        >>> a = torch.tensor([0.2, 0.7, 0.1])            # non-negative features
        >>> p = torch.tensor([0.1, 0.6, 0.3])            # softmax output; true class 2
        >>> grad = (p - torch.tensor([0.0, 0.0, 1.0]))[:, None] * a
        >>> idlg_label(grad)
        2
    """
    _weight_gradient(last_weight_grad)
    return int(torch.argmin(last_weight_grad.sum(dim=-1)))


def _weight_gradient(g: Tensor) -> Tensor:
    return tensor(g, "the classifier's weight gradient", ndim=2, shape="K x F", floating=True,
                  finite=True)


def batch_labels(last_weight_grad: Tensor, batch_size: int) -> Tensor:
    """Labels of a batch with distinct labels: the ``batch_size`` most negative row sums, sorted.

    Args:
        last_weight_grad: ``K x F`` weight gradient of the classifier layer.
        batch_size: number of examples behind the gradient.

    Returns:
        ``batch_size`` class indices in increasing order.

    Raises:
        DataError: ``last_weight_grad`` is not a ``K x F`` float tensor of finite values.
        ConfigError: ``batch_size`` is not a positive integer.
        AttackError: more examples than classes.
    """
    _weight_gradient(last_weight_grad)
    integer(batch_size, "batch_size", low=1)
    rows = last_weight_grad.sum(dim=-1)
    if batch_size > rows.numel():
        raise AttackError(f"batch of {batch_size} cannot have distinct labels among {rows.numel()}")
    return torch.sort(torch.argsort(rows)[:batch_size]).values


def gradinversion_labels(last_weight_grad: Tensor, batch_size: int) -> Tensor:
    """GradInversion's labels of a batch with distinct labels (Yin et al., CVPR 2021, eq. 4):
    the ``batch_size`` rows whose smallest entry is the most negative, sorted.

    With non-negative features the true classes' rows hold the negative entries; their minimum
    is less diluted by the other examples than their sum.

    Raises:
        DataError: ``last_weight_grad`` is not a ``K x F`` float tensor of finite values.
        ConfigError: ``batch_size`` is not a positive integer.
        AttackError: more examples than classes.

    Example:
        >>> g = torch.tensor([[0.1, 0.2], [-0.5, 0.9], [0.3, -0.1], [0.2, 0.2]])
        >>> gradinversion_labels(g, 2).tolist()
        [1, 2]
    """
    _weight_gradient(last_weight_grad)
    integer(batch_size, "batch_size", low=1)
    minima = last_weight_grad.min(dim=-1).values
    if batch_size > minima.numel():
        raise AttackError(f"batch of {batch_size} cannot have distinct labels among "
                          f"{minima.numel()}")
    return torch.sort(torch.argsort(minima)[:batch_size]).values


def _last_layer_bias(gradient: Sequence[Tensor], num_classes: int) -> Tensor | None:
    """The classifier's bias gradient: a 1-D tensor of ``num_classes`` entries right after its
    weight gradient, or None when the layer has no bias."""
    grads = list(gradient)
    for i in range(len(grads) - 1, 0, -1):
        if grads[i - 1].ndim == 2 and grads[i - 1].shape[0] == num_classes:
            g = grads[i]
            return g if g.ndim == 1 and g.shape[0] == num_classes else None
    return None


def label_counts(update: SharedUpdate) -> Tensor:
    """Estimated number of examples of each class behind a shared update.

    With mean-reduced cross entropy the classifier's bias gradient is ``p_bar - n / N``. The
    mean prediction ``p_bar`` is estimated by running the public model on one mid-grey input of
    the public shape, so the counts are ``N (p_hat - dL/db)``. Needs a classifier with a bias.
    The probe runs on the model's device; the counts come back on the CPU.

    Raises:
        AttackError: if the classifier layer has no bias.
        WrongTypeError: ``update`` is not a SharedUpdate.
        DataError: the model cannot take an input of the update's shape.
    """
    update = require_update(update, "label_counts")
    bias = _last_layer_bias(update.gradient(), update.num_classes)
    if bias is None:
        raise AttackError("label counts need the classifier's bias gradient; the layer has none")
    model = update.model
    with torch.no_grad():
        probe = as_model_input(model, torch.full((1, *update.input_shape), 0.5))
        p_hat = torch.softmax(model_output(model, probe), dim=-1)[0]
    return (update.batch_size * (p_hat - bias.to(p_hat))).cpu()


def rounded_counts(counts: Tensor, total: int) -> Tensor:
    """Whole non-negative counts adding up to ``total``, closest to ``counts`` (largest remainders).

    Raises:
        DataError: ``counts`` is not a non-empty 1-D float tensor of finite values (NaN counts
            rounded to garbage).
        ConfigError: ``total`` is not a non-negative integer.

    Example:
        >>> rounded_counts(torch.tensor([1.6, 0.7, -0.2, 0.9]), 3).tolist()
        [1, 1, 0, 1]
    """
    tensor(counts, "counts", ndim=1, floating=True, finite=True)
    integer(total, "total", low=0)
    c = counts.double().clamp(min=0)
    if float(c.sum()) > 0:
        c = c * (total / c.sum())
    else:
        c = torch.full_like(c, total / c.numel())
    whole = torch.floor(c).long()
    short = total - int(whole.sum())
    if short > 0:
        whole[torch.argsort(c - whole, descending=True)[:short]] += 1
    return whole


@dataclass(frozen=True)
class LabelGuess:
    """Labels read off a gradient, the rule that gave them, and a warning if one is due.

    Attributes:
        labels: ``N`` labels in increasing order, on the CPU.
        rule: ``"bias"`` (one example: the negative entry of the bias gradient), ``"idlg"``
            (one example, no bias: the row with the lowest sum), ``"sign"`` (the negative
            rows), ``"counts"`` (the
            ``N`` largest label counts, distinct labels) or ``"repeated-counts"`` (rounded
            label counts, labels may repeat).
        warning: one line when an assumption of the distinct-label rules did not hold (the
            gradient showed repeated labels), else None.
    """

    labels: Tensor
    rule: str
    warning: str | None = None


def _repeats_evident(counts: Tensor, negative_rows: int, n: int) -> bool:
    """Whether the gradient shows a repeated label although distinct ones were assumed.

    Evident when fewer than ``N`` rows are negative, one class counts at least 1.5 examples and
    fewer than ``N`` classes count half an example or more. Measured on untrained LeNets (six
    seeds; real digits with 10 classes and photos with 100; batches of 2 and 4): no false alarm
    on 240 batches with distinct labels, and 224 of 240 batches with one label repeated caught.
    """
    return (negative_rows < n and float(counts.max()) >= 1.5
            and float(torch.topk(counts, n).values[-1]) < 0.5)


def analytic_labels(update: SharedUpdate, *, repeated: bool | None = None) -> LabelGuess:
    """Analytic labels for a shared update, with the rule used and any warning.

    One example: the one negative entry of the classifier's bias gradient, which holds for any
    activation; without a bias, iDLG's row-sum rule (which needs non-negative features). A
    batch with distinct labels (``repeated=False``): the classes of
    the negative weight-gradient rows when there are exactly ``N`` of them, else the ``N``
    largest :func:`label_counts` (when the classifier has a bias; without one, the ``N`` most
    negative rows). A batch that may repeat labels (``repeated=True``): the label counts rounded
    to whole numbers adding up to ``N`` (:func:`rounded_counts`), each class repeated as often.

    With ``repeated=None`` (the default) repeated labels are allowed when the batch is larger
    than the number of classes, where distinct labels are impossible, and when the gradient
    itself shows a repeat (see :func:`_repeats_evident`): the distinct-label rules would then
    name a class that is not in the batch, so the rounded counts are used and the guess carries
    a warning.

    Args:
        update: the shared update.
        repeated: allow repeated labels (True), assume distinct ones (False) or decide from the
            batch size and the gradient (None).

    Returns:
        A :class:`LabelGuess`; its ``labels`` are in increasing order (the dummy batch's slot
        ``i`` gets label ``i``).

    Raises:
        AttackError: ``repeated=False`` for a batch larger than the number of classes, or
            ``repeated=True`` for a classifier without a bias.
        WrongTypeError: ``update`` is not a SharedUpdate (the private batch, say).
        ConfigError: ``repeated`` is not None, True or False.
    """
    update = require_update(update, "analytic_labels")
    if repeated is not None:
        flag(repeated, "repeated")
    gradient = update.gradient()
    w = last_layer_gradient(gradient, update.num_classes)
    n, k = update.batch_size, update.num_classes
    bias = _last_layer_bias(gradient, k)
    if n == 1 and bias is not None:
        return LabelGuess(torch.argmin(bias).reshape(1).cpu(), "bias")
    if n == 1:
        return LabelGuess(torch.tensor([idlg_label(w)]), "idlg")
    has_bias = bias is not None
    if repeated or (repeated is None and n > k):
        counts = rounded_counts(label_counts(update), n)
        return LabelGuess(torch.repeat_interleave(torch.arange(k), counts), "repeated-counts")
    if n > k:
        raise AttackError(
            f"batch of {n} cannot have distinct labels among {k} classes; "
            "allow repeated labels (repeated=True)"
        )
    negative = torch.nonzero(w.sum(dim=-1) < 0)[:, 0]
    if negative.numel() == n or not has_bias:
        return LabelGuess(batch_labels(w, n).cpu(), "sign")
    counts = label_counts(update)
    if repeated is None and _repeats_evident(counts, negative.numel(), n):
        whole = rounded_counts(counts, n)
        labels = torch.repeat_interleave(torch.arange(k), whole)
        twice = [int(c) for c in torch.nonzero(whole > 1)[:, 0]]
        return LabelGuess(labels, "repeated-counts", (
            f"the gradient shows repeated labels (class {', '.join(map(str, twice))} more than "
            f"once; only {negative.numel()} of {n} classifier rows are negative), so the labels "
            "come from the rounded label counts instead of the distinct-label rule"))
    return LabelGuess(torch.sort(torch.argsort(counts, descending=True)[:n]).values, "counts")


def infer_labels(update: SharedUpdate, *, repeated: bool | None = None) -> Tensor:
    """The labels of :func:`analytic_labels` (see there for the rules and ``repeated``).

    Example:
        >>> from dlgtut.fl import Participant, PrivateBatch
        >>> from dlgtut.models import LeNet
        >>> net = LeNet(in_channels=1, num_classes=10, image_size=8, seed=0)
        >>> batch = PrivateBatch(torch.rand(2, 1, 8, 8), torch.tensor([4, 4]))
        >>> infer_labels(Participant(net).fedsgd(batch)).tolist()
        [4, 4]
    """
    return analytic_labels(require_update(update, "infer_labels"), repeated=repeated).labels
