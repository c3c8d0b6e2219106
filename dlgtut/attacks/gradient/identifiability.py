"""Can a gradient pin down a batch at all? Three checks an attack makes before claiming success.

1. **Counting** (:func:`identifiability`): unknowns against an upper bound on the constraints.
2. **Sensitivity** (:func:`input_sensitivity`): does the gradient depend on the input at all?
3. **Agreement** (:func:`agreement`): do several starts that match the gradient agree?

Counting.

The attacker solves for ``N x C x H x W`` pixel values. The shared gradient gives one number per
parameter, but not all of them are independent. The classifier's weight gradient is
``(1/N) sum_n g_n a_n^T`` (``g_n = p_n - y_n`` over ``K`` classes, ``a_n`` its ``F`` input
features): a matrix of rank at most ``N``, which carries at most ``N (K + F)`` numbers however
large it is. Every other layer is counted in full, an upper bound. When the unknowns exceed
that bound, many batches share the gradient and no optimiser can single out the true one:
the reconstruction can match the gradient almost perfectly and still look wrong. Enough
constraints do not guarantee success, but too few guarantee failure.

For the paper's LeNet (32 x 32 x 3, 100 classes) one image has 3,072 unknowns against at most
8,136 + 868 constraints; four colour images have 12,288 against 11,608, and DLG's
reconstructions of them stay blurred however small the gradient distance gets. Four grey
images (4,096 unknowns) or four colour images at 16 x 16 (3,072) are well inside the bound.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...checks import as_model_input, integer, model_output, model_parameters
from ...errors import DataError
from ...fl import SharedUpdate, as_labels, require_update, soft_cross_entropy
from ...metrics import match, psnr
from .labels import last_layer_gradient

__all__ = [
    "Identifiability",
    "identifiability",
    "input_sensitivity",
    "UNINFORMATIVE",
    "agreement",
    "AGREEMENT_PSNR",
]

UNINFORMATIVE = 1e-8
"""A relative gradient change below this between two unlike inputs: the gradient is blind.

Measured (32 x 32 x 3, 100 classes, seed 1234): the paper's LeNet 0.087, the ReLU LeNet 0.41,
the Sigmoid ResNet-20 1.7e-14 (its gradient barely depends on the input, so a grey image already
matches a photo's gradient to 1e-14). The threshold sits six orders of magnitude from both.
"""

AGREEMENT_PSNR = 20.0
"""Two reconstructions closer than this (dB, per image, after matching) count as the same.

Measured (2026-11-26, seed 1234, two starts that both matched the gradient to 1e-9): the same
batch, recovered, agreed at 29.9 dB (eight 32 x 32 digits: the worst image is only 25.8 dB from
the truth, so two starts differ in what the gradient barely constrains) up to 96 dB (one digit);
other batches with the same gradient were 13.7 dB apart (a digit behind average pooling) and
10.1 dB (four 32 x 32 photos). The line sits near the middle, about 8 dB from both sides. At
30 dB, the value before, the batch of eight digits was called unidentified although it had been
recovered.
"""


@dataclass(frozen=True)
class Identifiability:
    """Unknowns of a reconstruction against an upper bound on the gradient's constraints.

    Attributes:
        unknowns: pixel values to recover (``N x C x H x W``).
        constraints: at most this many independent numbers in the gradient.
    """

    unknowns: int
    constraints: int

    @property
    def possible(self) -> bool:
        """False when the batch is certainly not determined by the gradient."""
        return self.constraints >= self.unknowns

    def __str__(self) -> str:
        verdict = "may be recoverable" if self.possible else "cannot be determined"
        return (f"{self.unknowns:,} unknowns against at most {self.constraints:,} constraints: "
                f"the batch {verdict}")


def identifiability(update: SharedUpdate) -> Identifiability:
    """Count the unknowns of ``update``'s batch and bound the constraints its gradient gives.

    Example:
        >>> import torch
        >>> from dlgtut.fl import Participant, PrivateBatch
        >>> from dlgtut.models import LeNet
        >>> net = LeNet(seed=0)
        >>> batch = PrivateBatch(torch.rand(4, 3, 32, 32), torch.tensor([1, 2, 3, 4]))
        >>> identifiability(Participant(net).fedsgd(batch)).possible
        False
    """
    update = require_update(update, "identifiability", needs_model=False)
    n = update.batch_size
    c, h, w = update.input_shape
    k = update.num_classes
    tensors = update.tensors
    try:
        classifier = last_layer_gradient(tensors, k)
    except Exception:  # no classifier layer: count every entry
        classifier = None
    total = 0
    for t in tensors:
        if classifier is not None and t is classifier:
            f = t.shape[1]
            total += min(t.numel(), n * (k + f))
        elif classifier is not None and t.ndim == 1 and t.shape[0] == k and t is tensors[-1]:
            continue  # the classifier's bias is the sum of the g_n, already counted
        else:
            total += t.numel()
    return Identifiability(unknowns=n * c * h * w, constraints=total)


def input_sensitivity(
    model: nn.Module,
    input_shape: tuple[int, int, int],
    batch_size: int,
    num_classes: int,
    labels: Tensor | None = None,
) -> float:
    """How much the model's gradient changes between two unlike inputs, relative to its size.

    The gradient of the batch loss is taken at a mid-grey batch and at a uniformly random one
    (seeded), with the given labels (uniform soft labels when None), and
    ``|g_grey - g_random|^2 / max(|g_grey|^2, |g_random|^2)`` is returned. Below
    :data:`UNINFORMATIVE` the gradient does not tell inputs apart and no attack can recover
    them from it, whatever distance it reaches.

    Raises:
        WrongTypeError: ``model`` is not a module.
        ConfigError: sizes that are not positive integers.
        DataError: labels that are not ``batch_size`` integer classes (float labels are refused,
            not truncated), or inputs of ``input_shape`` that the model cannot take.

    Example:
        >>> from dlgtut.models import LeNet
        >>> net = LeNet(in_channels=1, num_classes=10, image_size=8, seed=0)
        >>> input_sensitivity(net, (1, 8, 8), 1, 10, torch.tensor([3])) > UNINFORMATIVE
        True
    """
    model_parameters(model)
    if isinstance(input_shape, str) or not isinstance(input_shape, Sequence) or len(
            input_shape) != 3:
        raise DataError(f"input_shape must be (C, H, W), got {input_shape!r}")
    for s in input_shape:
        integer(s, "every entry of input_shape", low=1)
    integer(batch_size, "batch_size", low=1)
    integer(num_classes, "num_classes", low=1)
    if labels is not None:
        labels = as_labels(labels)
        if len(labels) != batch_size or int(labels.max()) >= num_classes:
            raise DataError(f"labels must be {batch_size} classes in [0, {num_classes - 1}], "
                            f"got {labels.tolist()}")
    net = copy.deepcopy(model)
    params = [p for p in net.parameters()]
    gen = torch.Generator().manual_seed(0)
    probes = tuple(as_model_input(net, x) for x in (
        torch.full((batch_size, *input_shape), 0.5),
        torch.rand((batch_size, *input_shape), generator=gen)))
    dtype = probes[0].dtype
    if labels is None:
        target = torch.full((batch_size, num_classes), 1.0 / num_classes, dtype=dtype,
                            device=probes[0].device)
    else:
        target = torch.nn.functional.one_hot(labels, num_classes).to(probes[0])
    grads = []
    with torch.enable_grad():
        for x in probes:
            logits = model_output(net, x)
            if logits.shape[-1] != num_classes:
                raise DataError(f"the model has {logits.shape[-1]} outputs, not {num_classes}")
            loss = soft_cross_entropy(logits, target)
            grads.append(torch.autograd.grad(loss, params, allow_unused=True))
    diff = sum(float(((a - b).double() ** 2).sum()) for a, b in zip(*grads, strict=True)
               if a is not None and b is not None)
    scale = max(sum(float((g.double() ** 2).sum()) for g in gs if g is not None) for gs in grads)
    return diff / scale if scale > 0 else 0.0


def agreement(a: Tensor, b: Tensor) -> float:
    """The worst PSNR (dB) between two reconstructions of one batch, images paired optimally.

    Two starts that both match a gradient and agree above :data:`AGREEMENT_PSNR` found the same
    batch; when they disagree, the gradient does not single out one batch.

    Example:
        >>> x = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(0))
        >>> other = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(1))
        >>> agreement(x, x.flip(0)), agreement(x, other) < 30
        (100.0, True)
    """
    order = match(a.float(), b.float())
    values = psnr(a.float()[order], b.float())
    worst = float(values.min())
    return worst if not math.isnan(worst) else 0.0
