"""Can a gradient pin down a batch at all? Counting unknowns against constraints.

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

from dataclasses import dataclass

from ..fl import SharedUpdate
from .labels import last_layer_gradient

__all__ = ["Identifiability", "identifiability"]


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
