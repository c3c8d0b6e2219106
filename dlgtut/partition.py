"""How a labelled dataset is dealt out to the participants of a federation: IID or not."""

from __future__ import annotations

import torch
from torch import Tensor

from .checks import flag, integer
from .checks import seed as check_seed
from .errors import DataError
from .fl import as_labels

__all__ = ["split_among"]


def split_among(
    images: Tensor,
    labels: Tensor,
    n_participants: int,
    *,
    iid: bool = True,
    seed: int = 0,
    shards_per_participant: int = 2,
) -> list[tuple[Tensor, Tensor]]:
    """Deal a labelled dataset out to ``n_participants``, IID or not.

    * ``iid=True``: a seeded shuffle, then consecutive slices of (almost) equal size.
    * ``iid=False``: the pathological non-IID split of McMahan et al. (2017). The examples are
      shuffled, sorted by label (stably, so the order within a class stays random), cut into
      ``n_participants * shards_per_participant`` shards of (almost) equal size, and every
      participant receives ``shards_per_participant`` shards drawn at random. A shard mostly
      holds one class, so with the default of two shards each participant sees mostly one or
      two classes (a shard that straddles a class boundary adds a few examples of another).

    Args:
        images: ``N x ...`` examples.
        labels: ``N`` integer labels.
        n_participants: how many participants, at least 1.
        iid: shuffle-split (True) or shards sorted by label (False).
        seed: seed of the shuffle and of the shard draw.
        shards_per_participant: shards per participant in the non-IID split.

    Returns:
        One ``(images, labels)`` pair per participant; together they hold every example once.

    Example:
        >>> images, labels = torch.zeros(40, 1, 2, 2), torch.arange(40) % 4  # 4 classes of 10
        >>> parts = split_among(images, labels, 2, iid=False)  # 4 shards of 10, 2 each
        >>> [sorted(set(y.tolist())) for _, y in parts], [len(y) for _, y in parts]
        ([[0, 3], [1, 2]], [20, 20])
    """
    if not isinstance(images, Tensor) or images.ndim < 1:
        raise DataError("images must be a tensor with one example per row")
    given = labels
    try:
        labels = torch.as_tensor(labels)
    except (TypeError, ValueError, RuntimeError):
        labels = as_labels(given)  # raises its one-line DataError
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"need one label per example: {len(images)} examples, labels "
                        f"{tuple(labels.shape)}")
    checks = {"n_participants": n_participants, "shards_per_participant": shards_per_participant}
    for name, value in checks.items():
        integer(value, name, low=1)
    flag(iid, "iid")
    check_seed(seed)
    pieces = n_participants if iid else n_participants * shards_per_participant
    if len(images) < pieces:
        raise DataError(f"{len(images)} examples cannot be split into {pieces} non-empty parts")
    labels = as_labels(given)  # integers: a float label is refused, not dealt out
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(images), generator=gen)
    if iid:
        return [(images[idx], labels[idx]) for idx in torch.tensor_split(order, n_participants)]
    order = order[torch.argsort(labels[order], stable=True)]
    shards = torch.tensor_split(order, pieces)
    deal = torch.randperm(pieces, generator=gen).reshape(n_participants, shards_per_participant)
    parts = []
    for row in deal:
        idx = torch.cat([shards[int(s)] for s in row])
        parts.append((images[idx], labels[idx]))
    return parts
