"""Labelled images: the one shape every dataset comes out in."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..checks import flag, tensor
from ..checks import indices as as_indices
from ..errors import DataError, WrongTypeError

__all__ = ["ImageSet"]

logger = logging.getLogger("dlgtut")

def _describe(value: object) -> str:
    """Shape and dtype of a tensor, or the type of anything else, for error messages."""
    if isinstance(value, Tensor):
        return f"{tuple(value.shape)} {value.dtype}"
    return type(value).__name__


@dataclass(frozen=True, eq=False, repr=False)
class ImageSet:
    """Labelled images: ``N x C x H x W`` float32 in [0, 1] and ``N`` int64 labels.

    Args:
        images: ``N x C x H x W`` float32 tensor with values in [0, 1].
        labels: ``N`` int64 class indices into ``classes``.
        classes: class names; label ``k`` is ``classes[k]``.
        name: the dataset actually loaded (``"photos"`` after a fallback from ``"cifar100"``).
        source: one human-readable line saying where the images come from.

    Example:
        >>> s = ImageSet(torch.zeros(3, 1, 4, 4), torch.tensor([0, 1, 1]), ("a", "b"), "t", "z")
        >>> len(s), s.subset([2, 0]).labels.tolist()
        (3, [1, 0])
    """

    images: Tensor
    labels: Tensor
    classes: tuple[str, ...]
    name: str
    source: str

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        if not isinstance(images, Tensor) or images.ndim != 4 or images.dtype != torch.float32:
            raise DataError(
                f"images must be an N x C x H x W float32 tensor, got {_describe(images)}"
            )
        if not isinstance(labels, Tensor) or labels.ndim != 1 or labels.dtype != torch.int64:
            what = _describe(labels)
            raise DataError(f"labels must be a 1-D int64 tensor, got {what}")
        if len(labels) != len(images):
            raise DataError(f"{len(images)} images but {len(labels)} labels")
        tensor(images, "images", unit=True, nonempty=False)  # NaN and values outside [0, 1]
        for field in ("name", "source"):
            if not isinstance(getattr(self, field), str):
                raise WrongTypeError(f"an ImageSet's {field} must be a string, got "
                                     f"{type(getattr(self, field)).__name__}")
        if not isinstance(self.classes, Sequence):
            raise WrongTypeError(f"classes must be a sequence of class names, got "
                                 f"{type(self.classes).__name__}")
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        if labels.numel() and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise DataError(
                f"labels must lie in [0, {len(self.classes) - 1}] for {len(self.classes)} classes"
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        n, c, h, w = self.images.shape
        return (
            f"ImageSet(name={self.name!r}, {n} images {c}x{h}x{w}, {len(self.classes)} classes, "
            f"source={self.source!r})"
        )

    def subset(self, indices: Sequence[int] | Tensor) -> ImageSet:
        """The examples at ``indices``, in that order (classes, name and source are kept).

        Args:
            indices: integer positions in ``[0, len(self))``; floats and boolean masks are
                refused (a cast to integers would truncate 0.9 to 0 and read a mask as
                positions 0 and 1).
        """
        idx = as_indices(indices, "subset indices")  # a float or a mask is refused, not cast
        n = len(self)
        if idx.numel() and (idx.min() < 0 or idx.max() >= n):
            raise DataError(f"subset indices must lie in [0, {n - 1}] for {n} examples")
        return ImageSet(self.images[idx], self.labels[idx], self.classes, self.name, self.source)

    def batch(
        self, start: int, size: int, *, distinct_labels: bool = True
    ) -> tuple[Tensor, Tensor, list[int]]:
        """``size`` examples taken in order from index ``start``, wrapping around at the end.

        With ``distinct_labels`` an example whose label is already in the batch is skipped, so
        every label occurs at most once: the setting of the label-recovery attacks.

        Args:
            start: index of the first example, in ``[0, len(self))``.
            size: number of examples, at least 1.
            distinct_labels: skip examples whose label is already in the batch.

        Returns:
            ``(images, labels, indices)``: ``size x C x H x W`` images, ``size`` labels, and the
            positions they were taken from.

        Example:
            >>> s = ImageSet(torch.zeros(4, 1, 2, 2), torch.tensor([0, 0, 1, 2]), "abc", "t", "z")
            >>> s.batch(1, 3)[2], s.batch(3, 2, distinct_labels=False)[2]
            ([1, 2, 3], [3, 0])
        """
        n = len(self)
        if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < n:
            raise DataError(f"start must be an index in [0, {n - 1}], got {start!r}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise DataError(f"batch size must be a positive integer, got {size!r}")
        flag(distinct_labels, "distinct_labels", error=DataError)
        order = [(start + k) % n for k in range(n)]
        if not distinct_labels:
            if size > n:
                raise DataError(f"a batch of {size} needs {size} examples; {self.name} has {n}")
            indices = order[:size]
        else:
            labels = self.labels.tolist()
            present = len(set(labels))
            if size > present:
                raise DataError(
                    f"a batch of {size} distinct labels needs {size} classes; {self.name} has "
                    f"{len(self.classes)} classes, {present} of them among its {n} examples"
                )
            seen: set[int] = set()
            indices = []
            for i in order:
                if labels[i] not in seen:
                    seen.add(labels[i])
                    indices.append(i)
                    if len(indices) == size:
                        break
        return self.images[indices], self.labels[indices], indices


# --------------------------------------------------------------------------------------------
# Single images
# --------------------------------------------------------------------------------------------


