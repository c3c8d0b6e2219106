"""Batches of images as one array: the checks and the tiling every figure shares.

No matplotlib here: :func:`image_grid` returns a plain array, which the figures show and the
GIF writer (:mod:`dlgtut.viz.animation`) turns into frames.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from ..attacks.result import Snapshot
from ..checks import integer, number
from ..errors import ConfigError, DataError, WrongTypeError

__all__ = ["image_grid"]


def _check_batch(images: Tensor, name: str) -> Tensor:
    """``images`` as a float32 CPU batch in [0, 1] (NaN as 0); DataError if malformed.

    Integer images are refused rather than clamped: 0..255 pixels would all show as white.
    """
    if not isinstance(images, Tensor):
        raise DataError(f"{name} must be a tensor, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] not in (1, 3) or 0 in images.shape:
        raise DataError(
            f"{name} must have shape N x C x H x W with N, H, W >= 1 and C = 1 or 3, "
            f"got {tuple(images.shape)}"
        )
    if not images.is_floating_point():
        raise DataError(f"{name} must be floating-point images in [0, 1], got dtype "
                        f"{images.dtype}")
    return torch.nan_to_num(images.detach().cpu().float(), nan=0.0).clamp(0, 1)


def _check_history(history: Sequence[Snapshot]) -> list[Tensor]:
    """The snapshots' image batches, checked to be non-empty and of one shape."""
    if isinstance(history, Snapshot | str) or not isinstance(history, Sequence):
        raise WrongTypeError(f"history must be a list of Snapshots (Reconstruction.history), "
                             f"got {type(history).__name__}")
    for i, s in enumerate(history):
        if not isinstance(s, Snapshot):
            raise WrongTypeError(f"history entry {i} must be a Snapshot, got {type(s).__name__}")
    if len(history) == 0:
        raise DataError("the history holds no snapshots (record some with snapshot_every)")
    batches = [_check_batch(s.images, f"snapshot {i} images") for i, s in enumerate(history)]
    shape = batches[0].shape
    for i, b in enumerate(batches):
        if b.shape != shape:
            raise DataError(
                f"snapshot {i} has shape {tuple(b.shape)}, snapshot 0 has {tuple(shape)}"
            )
    return batches


def _to_display(image: Tensor) -> np.ndarray:
    """One ``C x H x W`` image as ``H x W`` (grey) or ``H x W x 3`` (RGB) floats in [0, 1]."""
    array = image.numpy()
    return array[0] if array.shape[0] == 1 else np.transpose(array, (1, 2, 0))


def image_grid(
    images: Tensor, nrow: int | None = None, padding: int = 2, *, pad_value: float = 1.0
) -> np.ndarray:
    """A batch of images tiled into one array, ready for ``plt.imshow``.

    The images are clamped to [0, 1] and tiled as :func:`torchvision.utils.make_grid` tiles
    them, ``nrow`` to a row (fewer if there are fewer images), with ``padding`` pixels of
    ``pad_value`` (white by default, which separates dark digits) between them; a single image
    comes back without padding. It is done here in numpy: importing torchvision costs a command
    line run more than a second.

    Args:
        images: ``N x C x H x W`` images, ``C`` = 1 or 3.
        nrow: images per row; default ``ceil(sqrt(N))``, a near-square grid.
        padding: pixels between images and around the grid.
        pad_value: grey level of the padding, in [0, 1].

    Returns:
        ``H' x W'`` floats in [0, 1] for grey images, ``H' x W' x 3`` for RGB ones, where with
        ``r = ceil(N / nrow)`` rows ``H' = r (H + padding) + padding`` and
        ``W' = nrow (W + padding) + padding``.

    Raises:
        DataError: ``images`` is not ``N x 1 x H x W`` or ``N x 3 x H x W`` floats.
        ConfigError: ``nrow`` or ``padding`` not an integer, ``nrow < 1``, ``padding < 0``, or
            ``pad_value`` outside [0, 1].

    Example:
        >>> image_grid(torch.rand(4, 3, 32, 32)).shape
        (70, 70, 3)
        >>> image_grid(torch.rand(10, 1, 8, 8), nrow=5, padding=1).shape
        (19, 46)
    """
    batch = _check_batch(images, "images")
    if nrow is None:
        nrow = math.ceil(math.sqrt(batch.shape[0]))
    integer(nrow, "nrow")
    integer(padding, "padding")
    if nrow < 1 or padding < 0:
        raise ConfigError(f"need nrow >= 1 and padding >= 0, got nrow={nrow}, padding={padding}")
    number(pad_value, "pad_value", low=0, high=1)
    array = batch.numpy()
    if array.shape[0] == 1:
        return _to_display(batch[0])
    n, c, h, w = array.shape
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    grid = np.full((c, rows * (h + padding) + padding, cols * (w + padding) + padding),
                   pad_value, dtype=np.float32)
    for k in range(n):
        top, left = (k // cols) * (h + padding) + padding, (k % cols) * (w + padding) + padding
        grid[:, top:top + h, left:left + w] = array[k]
    return grid[0] if c == 1 else np.ascontiguousarray(grid.transpose(1, 2, 0))


