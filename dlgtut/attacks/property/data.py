"""The case of property inference: a property unrelated to the task, and who holds which data.

A *property* is a yes/no fact about an example that the federation's task does not ask about.
:func:`intensity_property` defines one from the images alone, within each class, so that it is
balanced in every class and carries no information about the label:

* on ``digits`` (task: the ten digit classes) it reads as **thick strokes**: the digit has more
  ink than the median digit of its class, a trait of the writer or the pen;
* on ``faces`` (task: face or not) it reads as **bright**: the crop is brighter than the median
  crop of its class, a trait of the camera or the lighting.

:func:`split_for_property` deals a dataset out the way the attack needs it: the adversary's
auxiliary data (whose property it knows), the victim's data, the other honest participants'
data and a test set for the main task. A :class:`LabelledPool` draws batches with the
property, without it, or from the mix.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from ...checks import flags, instance, number
from ...checks import indices as as_indices
from ...checks import seed as check_seed
from ...checks import tensor as check_tensor
from ...data import ImageSet
from ...errors import ConfigError, DataError
from ...fl import PrivateBatch, as_labels

__all__ = [
    "PROPERTY_NAMES",
    "intensity_property",
    "LabelledPool",
    "PropertySplit",
    "split_for_property",
]

PROPERTY_NAMES: dict[str, str] = {"digits": "thick strokes", "faces": "bright"}
"""What :func:`intensity_property` means on each offline dataset."""


def intensity_property(images: Tensor, labels: Tensor) -> Tensor:
    """Whether each image's mean pixel value lies above the median of its class.

    The median is taken within each class, so (up to ties and odd class sizes) half of every
    class has the property and knowing it says nothing about the label.

    Args:
        images: ``N x ...`` float images.
        labels: ``N`` integer class labels.

    Returns:
        ``N`` booleans.

    Raises:
        DataError: images and labels of different lengths, no images, images that are not
            finite floats, or labels that are not integers.

    Example:
        >>> images = torch.tensor([0.1, 0.4, 0.3, 0.9, 0.5, 0.7]).reshape(6, 1, 1, 1)
        >>> intensity_property(images, torch.tensor([0, 0, 0, 1, 1, 1])).tolist()
        [False, True, False, True, False, False]
    """
    labels = as_labels(labels)  # integers: float labels would group 0.4 apart from 0.6
    if not isinstance(images, Tensor) or images.ndim < 2 or len(images) != len(labels):
        raise DataError("need images (N x ...) with one label each")
    if len(labels) == 0:
        raise DataError("need at least one image")
    check_tensor(images, "images", floating=True, finite=True)
    ink = images.reshape(len(images), -1).float().mean(1)
    flags = torch.zeros(len(labels), dtype=torch.bool)
    for c in labels.unique():
        members = labels == c
        # torch's median of an even count is the lower middle value: "above" splits in halves.
        flags[members] = ink[members] > ink[members].median()
    return flags


@dataclass(frozen=True, eq=False)
class LabelledPool:
    """Examples, their class labels, and whether each has the property.

    Args:
        images: ``N x C x H x W`` floats in [0, 1].
        labels: ``N`` int64 class labels.
        has_property: ``N`` booleans.
    """

    images: Tensor
    labels: Tensor
    has_property: Tensor

    def __post_init__(self) -> None:
        check_tensor(self.images, "images", ndim=4, shape="N x C x H x W", unit=True,
                     floating=True)
        labels = as_labels(self.labels)
        has_property = flags(self.has_property, "has_property")  # 0.5 is not a yes
        n = len(self.images)
        if len(labels) != n or len(has_property) != n:
            raise DataError(f"{n} images, {len(labels)} labels and "
                            f"{len(has_property)} property flags")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "has_property", has_property)

    def __len__(self) -> int:
        return len(self.images)

    def draw(self, batch_size: int, with_property: bool | None, *, fraction: float = 1.0,
             generator: torch.Generator | None = None) -> Tensor:
        """Indices of a random batch.

        A batch with or without the property has the same mix of classes as a random batch of
        the pool: the classes are those of a random batch, and each position then takes an
        example of its class with (or without) the property. So the property, not a chance
        difference in the classes, is what tells the two kinds of batch apart. An example
        appears at most once, unless its class has too few examples of the kind asked for.

        Args:
            batch_size: examples in the batch.
            with_property: None for a random batch of the pool (the population's mix); True
                for ``round(fraction * batch_size)`` examples with the property and the rest
                without; False for examples without the property only.
            fraction: share of a ``with_property=True`` batch that has the property.
            generator: the random source.

        Raises:
            ConfigError: a batch larger than the pool, or a class without any example of the
                kind asked for.

        Example:
            >>> pool = LabelledPool(torch.zeros(4, 1, 1, 1), torch.zeros(4, dtype=torch.long),
            ...                     torch.tensor([True, False, True, False]))
            >>> sorted(pool.draw(2, True, generator=torch.Generator().manual_seed(0)).tolist())
            [0, 2]
        """
        n = len(self)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch size must be a positive integer, got {batch_size!r}")
        if with_property is not None and not isinstance(with_property, bool):
            raise ConfigError(f"with_property must be None, True or False, got "
                              f"{with_property!r}")
        number(fraction, "fraction")
        if generator is not None:
            instance(generator, torch.Generator, "generator")
        if batch_size > n:
            raise ConfigError(f"a batch of {batch_size} needs {batch_size} examples but the pool "
                              f"holds {n}; use a smaller batch size")
        if not 0 <= fraction <= 1:
            raise ConfigError(f"fraction must lie in [0, 1], got {fraction}")
        base = torch.randperm(n, generator=generator)[:batch_size]
        if with_property is None:
            return base
        n_with = round(fraction * batch_size) if with_property else 0
        wanted = torch.zeros(batch_size, dtype=torch.long)
        wanted[torch.randperm(batch_size, generator=generator)[:n_with]] = 1
        # Group g = 2 * class + flag. Shuffle the pool within each group, then give the k-th
        # slot of group g the k-th example of g (wrapping around when g has too few).
        groups, counts, starts = self._groups
        slot_group = 2 * self.labels[base] + wanted
        size = counts[slot_group]
        if (size == 0).any():
            g = int(slot_group[size == 0][0])
            kind = "with" if g % 2 else "without"
            raise ConfigError(f"class {g // 2} has no example {kind} the property in this pool")
        shuffled = torch.argsort(groups + torch.rand(n, generator=generator))
        order = torch.argsort(slot_group, stable=True)
        ordered = slot_group[order]
        rank = torch.empty(batch_size, dtype=torch.long)
        rank[order] = torch.arange(batch_size) - torch.searchsorted(ordered, ordered)
        return shuffled[starts[slot_group] + rank % size]

    @functools.cached_property
    def _groups(self) -> tuple[Tensor, Tensor, Tensor]:
        """Each example's group ``2 * class + flag``, and each group's size and first position
        when the pool is sorted by group."""
        groups = 2 * self.labels + self.has_property.long()
        counts = torch.bincount(groups, minlength=2 * (int(self.labels.max()) + 1))
        return groups.double(), counts, torch.cumsum(counts, 0) - counts

    def batch(self, indices: Tensor) -> PrivateBatch:
        """The examples at ``indices`` as a :class:`~dlgtut.fl.PrivateBatch`."""
        idx = as_indices(indices, "indices")  # a float index is refused, not truncated
        if idx.numel() and (int(idx.min()) < -len(self) or int(idx.max()) >= len(self)):
            raise DataError(f"indices must lie in [0, {len(self) - 1}] for a pool of {len(self)}")
        return PrivateBatch(self.images[idx], self.labels[idx])


@dataclass(frozen=True, eq=False)
class PropertySplit:
    """Who holds which data in a property inference experiment.

    Attributes:
        aux: the adversary's auxiliary data; it knows which examples have the property.
        victim: the target participant's private data.
        others: the other honest participants' private data, one pool each.
        test: ``(images, labels)`` held out to measure the global model on the main task.
        property_name: what the property means ("thick strokes").
        num_classes: classes of the main task.
    """

    aux: LabelledPool
    victim: LabelledPool
    others: tuple[LabelledPool, ...]
    test: tuple[Tensor, Tensor]
    property_name: str
    num_classes: int

    def others_union(self) -> LabelledPool:
        """The other participants' data in one pool."""
        return LabelledPool(torch.cat([p.images for p in self.others]),
                            torch.cat([p.labels for p in self.others]),
                            torch.cat([p.has_property for p in self.others]))


def split_for_property(
    data: ImageSet,
    has_property: Tensor,
    *,
    n_others: int,
    aux_size: int,
    victim_size: int,
    test_size: int,
    seed: int = 0,
    property_name: str = "the property",
) -> PropertySplit:
    """Shuffle ``data`` (seeded) and deal it out: test set, auxiliary data, victim, others.

    The test set, the adversary's auxiliary data and the victim's data take the first
    ``test_size``, ``aux_size`` and ``victim_size`` shuffled examples; the rest is cut into
    ``n_others`` (almost) equal pools for the other honest participants.

    Args:
        data: the labelled images.
        has_property: one boolean per image (for example :func:`intensity_property`).
        n_others: honest participants besides the victim (0 or more).
        aux_size: examples the adversary holds.
        victim_size: examples the victim holds.
        test_size: examples held out to test the main task.
        seed: seed of the shuffle.
        property_name: what the property means, for reports.

    Raises:
        ConfigError: the sizes do not fit the dataset, or a bad seed.
        WrongTypeError: ``data`` is not an ImageSet.
        DataError: property flags that are not booleans (or 0 and 1), one per image.

    Example:
        >>> from dlgtut.data import load_dataset
        >>> digits = load_dataset("digits", size=8)
        >>> s = split_for_property(digits, intensity_property(digits.images, digits.labels),
        ...                        n_others=3, aux_size=400, victim_size=500, test_size=197)
        >>> len(s.aux), len(s.victim), [len(p) for p in s.others], len(s.test[1])
        (400, 500, [234, 233, 233], 197)
    """
    instance(data, ImageSet, "data")
    has_property = flags(has_property, "has_property")
    check_seed(seed)
    if len(has_property) != len(data):
        raise DataError(f"{len(data)} images but {len(has_property)} property flags")
    sizes = {"aux_size": aux_size, "victim_size": victim_size, "test_size": test_size}
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(n_others, bool) or not isinstance(n_others, int) or n_others < 0:
        raise ConfigError(f"n_others must be a non-negative integer, got {n_others!r}")
    rest = len(data) - aux_size - victim_size - test_size
    if rest < n_others or (n_others == 0 and rest < 0):
        raise ConfigError(
            f"{data.name} has {len(data)} examples: {test_size} for testing, {aux_size} for the "
            f"adversary and {victim_size} for the victim leave {max(rest, 0)} for "
            f"{n_others} other participant(s); use smaller sizes or fewer participants"
        )
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))

    def pool(idx: Tensor) -> LabelledPool:
        return LabelledPool(data.images[idx], data.labels[idx], has_property[idx])

    cuts = torch.split(order[: test_size + aux_size + victim_size],
                       [test_size, aux_size, victim_size])
    tail = order[test_size + aux_size + victim_size:]
    others = tuple(pool(idx) for idx in torch.tensor_split(tail, n_others)) if n_others else ()
    return PropertySplit(aux=pool(cuts[1]), victim=pool(cuts[2]), others=others,
                         test=(data.images[cuts[0]], data.labels[cuts[0]]),
                         property_name=property_name, num_classes=len(data.classes))
