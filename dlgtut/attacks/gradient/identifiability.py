"""Can a gradient pin down a batch at all? Three checks an attack makes before claiming success.

1. **Counting** (:func:`identifiability`): unknowns against an upper bound on the constraints.
2. **Sensitivity** (:func:`input_sensitivity`): does the gradient depend on the input at all?
3. **Agreement** (:func:`agreement`): do several starts that match the gradient agree?

Counting.

The attacker solves for ``N x C x H x W`` pixel values. The shared gradient gives one number per
parameter, but not all of them are independent, for two reasons.

* **The classifier sees only its input.** Its weight and bias gradients are
  ``(1/N) sum_n g_n a_n^T`` and ``(1/N) sum_n g_n`` with ``g_n = softmax(W a_n + b) - y_n``:
  with the labels and the public weights fixed, functions of the ``N`` feature vectors ``a_n``
  alone, so together they carry at most ``N F`` numbers (``F`` features), however large the
  layer is.
* **Every layer above a boundary sees only that boundary.** Where the model is a chain of
  layers (``nn.Sequential``, :class:`~dlgtut.models.LeNet`), the gradients of the layers above
  any boundary between two layers depend on the input only through the activations there:
  at most ``N`` times that activation's size, whatever the parameter count above it. The
  layers below are counted in full. Each boundary gives a bound; the narrowest one holds.

When the unknowns exceed the bound, a whole family of batches shares the gradient and no
optimiser can single out the true one from the gradient alone: the reconstruction can match
the gradient almost perfectly and still look wrong. The count proves that the batch is not
unique, not that no attack comes close (a prior may pick a family member near the truth); and
enough constraints do not prove that it is unique. This is the argument of R-GAP's rank
analysis (Zhu and Blaschko, ICLR 2021), made here with upper bounds on the rank. The argument
holds for one gradient step; for a weight change after several local steps every entry is
counted in full.

For the upstream code's LeNet (mit-han-lab/dlg: strides 2, 2, 1; 32 x 32 x 3, 100 classes)
one image has 3,072 unknowns against at most
3,984 constraints: 912 in the first convolution and 3,072 in its 12 x 16 x 16 output. Two
colour images already have more unknowns than constraints, 6,144 against 6,060: the second
convolution's 12 x 8 x 8 output (768 numbers per image) is the bottleneck, with the 4,524
parameters below it. DLG then matches the gradient to 1e-9 and stalls near 23 dB, the right
photos with a blur no gradient can remove. Eight grey 32 x 32 digits (8,192 unknowns against
10,068) or four colour images at 16 x 16 (3,072 against 3,984) are inside the bound.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...checks import as_model_input, integer, model_output, model_parameters
from ...errors import AttackError, DataError
from ...fl import SharedUpdate, as_labels, require_update, soft_cross_entropy
from ...metrics import match, psnr
from ...models import layer_chain
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
        """False when the batch is certainly not unique: other batches give the same gradient."""
        return self.constraints >= self.unknowns

    def __str__(self) -> str:
        verdict = "may be unique" if self.possible else "is not unique"
        return (f"{self.unknowns:,} unknowns against at most {self.constraints:,} constraints: "
                f"the batch {verdict}")


def identifiability(update: SharedUpdate) -> Identifiability:
    """Count the unknowns of ``update``'s batch and bound the constraints its gradient gives.

    The bound is the narrowest of the module's counts: every parameter, the classifier at most
    ``N F``, and, where ``update.model`` is a chain of layers, every boundary between two of them.

    Example:
        >>> import torch
        >>> from dlgtut.fl import Participant, PrivateBatch
        >>> from dlgtut.models import LeNet
        >>> net = LeNet(seed=0)
        >>> batch = PrivateBatch(torch.rand(2, 3, 32, 32), torch.tensor([1, 2]))
        >>> print(identifiability(Participant(net).fedsgd(batch)))
        6,144 unknowns against at most 6,060 constraints: the batch is not unique
    """
    update = require_update(update, "identifiability", needs_model=False)
    n = update.batch_size
    c, h, w = update.input_shape
    one_step = update.kind == "gradient" or update.local_steps == 1
    counts = _tensor_counts(update.tensors, n, update.num_classes, one_step)
    use_model = one_step and update.model is not None
    total = _narrowest_boundary(update, counts) if use_model else sum(counts)
    return Identifiability(unknowns=n * c * h * w, constraints=total)


def _tensor_counts(tensors: Sequence[Tensor], n: int, k: int, one_step: bool) -> list[int]:
    """At most how many independent numbers each tensor of the update carries.

    Every entry counts, except the classifier's: its weight and bias gradients together are
    functions of the ``N`` feature vectors (``N F`` numbers), for one step only.
    """
    counts = [t.numel() for t in tensors]
    if not one_step:
        return counts
    try:
        classifier = last_layer_gradient(tensors, k)
    except AttackError:  # no classifier layer: count every entry
        return counts
    i = next(j for j, t in enumerate(tensors) if t is classifier)
    has_bias = i + 1 < len(tensors) and tuple(tensors[i + 1].shape) == (k,)
    whole = counts[i] + (counts[i + 1] if has_bias else 0)
    counts[i] = min(whole, n * classifier.shape[1])
    if has_bias:
        counts[i + 1] = 0
    return counts


def _narrowest_boundary(update: SharedUpdate, counts: list[int]) -> int:
    """The tightest bound over the boundaries between the model's layers, or the plain sum.

    Above a boundary the gradient depends on the input only through its activations there:
    at most ``N`` times their size. Below it every tensor counts as :func:`_tensor_counts` says.
    """
    model = update.model
    layers = layer_chain(model)
    params = list(model.parameters())
    best = sum(counts)
    if len(layers) < 2 or len(params) != len(counts):
        return best
    index = {id(p): i for i, p in enumerate(params)}
    per_layer = [sum(counts[index[id(p)]] for p in layer.parameters() if id(p) in index)
                 for layer in layers]
    sizes = _boundary_sizes(model, layers, update.input_shape)
    if sizes is None:
        return best
    for i, size in enumerate(sizes, start=1):  # the boundary after layer i - 1
        below, above = sum(per_layer[:i]), sum(per_layer[i:])
        best = min(best, below + min(above, update.batch_size * size))
    return best


def _boundary_sizes(model: nn.Module, layers: list[nn.Module],
                    input_shape: tuple[int, int, int]) -> list[int] | None:
    """The size of one example's activation after each layer but the last; None if the chain
    cannot take ``input_shape``. The model is run in eval mode without gradients, and every
    module's mode is restored after."""
    modes = [(m, m.training) for m in model.modules()]
    x = as_model_input(model, torch.zeros(1, *input_shape))
    sizes = []
    try:
        model.eval()
        with torch.no_grad():
            for layer in layers[:-1]:
                x = layer(x)
                sizes.append(x[0].numel())
    except (RuntimeError, ValueError, TypeError, AttributeError):  # an input it cannot take
        return None
    finally:
        for m, training in modes:
            m.training = training
    return sizes


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
