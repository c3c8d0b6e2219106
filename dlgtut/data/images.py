"""Single images from files or arrays, as ``C x H x W`` float32 tensors in [0, 1].

Any file PIL reads is accepted: EXIF orientation is applied, palette, 16- and 32-bit images are
converted by their bit depth, alpha is dropped; a file that is not an image, is corrupt, or
holds values that are not brightness (negative integers, floats outside [0, 1], NaN) is a
one-line :class:`~dlgtut.errors.DataError`. The image is centre-cropped to a square and resized;
an image already at the target size is taken pixel for pixel.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from ..errors import DataError

__all__ = ["to_image_tensor", "load_image"]

logger = logging.getLogger("dlgtut")

def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise DataError(f"size must be a positive integer, got {size!r}")


def _check_channels(channels: int | None) -> None:
    if channels not in (None, 1, 3):
        raise DataError(f"channels must be None (native), 1 or 3, got {channels!r}")


def _centre_square(h: int, w: int) -> tuple[int, int, int]:
    """``(side, top, left)`` of the centred square of an ``h x w`` image, anchored as
    torchvision's ``center_crop`` anchors it (half the margin, rounded half to even)."""
    side = min(h, w)
    return side, round((h - side) / 2), round((w - side) / 2)


def _finish(x: Tensor, size: int, channels: int | None) -> Tensor:
    """Channels, centre square crop and resize of an ``N x C x H x W`` float batch in [0, 1].

    The same three steps as torchvision's ``transforms.v2.functional`` (``rgb_to_grayscale``,
    ``center_crop``, ``resize`` with antialiasing: the same weights, the same crop anchor, the
    same ``interpolate`` call), written here with torch alone. Importing torchvision costs about
    1.4 s of CPU (it imports ``torch._dynamo``), and every kernel, command and Ray worker that
    loads a dataset paid it for these three lines. ``tests/data/test_data.py`` checks the
    results against torchvision's, bit for bit.
    """
    h, w = x.shape[-2:]
    if channels == 1 and x.shape[1] == 3:
        r, g, b = x.unbind(dim=1)
        x = r.mul(0.2989).add_(g, alpha=0.587).add_(b, alpha=0.114).unsqueeze(1)
    if h != w:
        side, top, left = _centre_square(h, w)
        x = x[..., top:top + side, left:left + side]
    if x.shape[-1] != size:
        x = torch.nn.functional.interpolate(x, size=[size, size], mode="bilinear",
                                            align_corners=False, antialias=True).clamp(0.0, 1.0)
    if channels == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x.contiguous()


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """An ``H x W`` (grey) or ``H x W x 3`` (colour) array of any PIL image; alpha dropped."""
    mode = img.mode
    if mode in ("1", "L", "LA", "La"):
        return np.asarray(img.convert("L"))
    if mode.startswith("I;16"):  # 16-bit grey (PIL's convert("L") would clip)
        return np.asarray(img).astype(np.float32) / 65535.0
    if mode == "I":  # 32-bit signed integers: 16-bit data some readers widen, or true 32-bit
        arr = np.asarray(img).astype(np.int64)
        if arr.size and arr.min() < 0:
            raise DataError("a 32-bit integer image with negative pixel values cannot be read "
                            "as brightness; save it as an 8- or 16-bit image")
        bits = getattr(img, "tag_v2", {}).get(258) if hasattr(img, "tag_v2") else None
        depth = int(bits[0] if isinstance(bits, tuple) else bits) if bits else None
        if depth is None:
            depth = 16 if (not arr.size or arr.max() <= 65535) else 32
        return (arr / float(2 ** min(depth, 31) - 1)).clip(0, 1).astype(np.float32)
    if mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        if arr.size and not (np.isfinite(arr).all() and arr.min() >= 0 and arr.max() <= 1):
            lo, hi = np.nanmin(arr), np.nanmax(arr)
            raise DataError(f"a floating-point image must have finite values in [0, 1]; this "
                            f"one spans [{lo:.3g}, {hi:.3g}]" + (
                                " and has NaN or inf" if not np.isfinite(arr).all() else ""))
        return arr
    return np.asarray(img.convert("RGB"))  # RGB, RGBA, P, PA, CMYK, YCbCr, ...


def _array_to_chw(arr: np.ndarray) -> Tensor:
    """``H x W`` or ``H x W x C`` array (uint8, uint16, bool or float in [0, 1]) to C x H x W."""
    if arr.ndim == 3 and arr.shape[-1] in (1, 2, 3, 4):
        arr = arr[..., :1] if arr.shape[-1] in (1, 2) else arr[..., :3]  # drop alpha
    elif arr.ndim == 2:
        arr = arr[..., None]
    else:
        raise DataError(
            f"an image array must be H x W or H x W x C with C in 1..4, got shape {arr.shape}"
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise DataError(f"an image must have at least one pixel, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        t = torch.tensor(arr).float() / 255.0
    elif arr.dtype == np.uint16:
        t = torch.tensor(arr.astype(np.float32)) / 65535.0
    elif arr.dtype == np.bool_:
        t = torch.tensor(arr.astype(np.float32))
    elif np.issubdtype(arr.dtype, np.floating):
        t = torch.tensor(arr.astype(np.float32))
        if not torch.isfinite(t).all() or t.min() < 0 or t.max() > 1:
            raise DataError("a float image must have finite values in [0, 1]")
    else:
        raise DataError(
            f"an image array must be uint8 (0-255), uint16 or float (0-1), got {arr.dtype}"
        )
    return t.permute(2, 0, 1)


def to_image_tensor(
    image: Image.Image | np.ndarray, *, size: int = 32, channels: int | None = None
) -> Tensor:
    """Convert a PIL image or an array to a ``C x size x size`` float32 tensor in [0, 1].

    The image is centre-cropped to a square on its shorter side, then resized to
    ``size x size`` with antialiasing. An image that is already ``size x size`` is taken pixel
    for pixel (a uint8 value ``v`` becomes exactly ``v / 255``).

    Args:
        image: a PIL image (any mode; alpha is dropped), or an ``H x W`` / ``H x W x C`` numpy
            array, uint8 in 0-255 or float in [0, 1].
        size: side of the square output.
        channels: None keeps the native channels (grey 1, colour 3), 1 converts colour to
            luminance, 3 replicates grey.

    Example:
        >>> arr = np.zeros((48, 64, 3), dtype=np.uint8)
        >>> arr[:, :8] = 255  # a white stripe left of the centre square
        >>> to_image_tensor(arr, size=16).max().item(), to_image_tensor(arr, channels=1).shape
        (0.0, torch.Size([1, 32, 32]))
    """
    _check_size(size)
    _check_channels(channels)
    if isinstance(image, Image.Image):
        arr = _pil_to_array(image)
    elif isinstance(image, np.ndarray):
        arr = image
    else:
        raise DataError(f"expected a PIL image or a numpy array, got {type(image).__name__}")
    return _finish(_array_to_chw(arr)[None], size, channels)[0]


def load_image(path: str | Path, *, size: int = 32, channels: int | None = None) -> Tensor:
    """Read an image file into a ``1 x C x size x size`` float32 batch in [0, 1].

    EXIF orientation is applied, palette and 16-bit images are converted, and alpha is dropped;
    grey files (modes ``1``, ``L``, ``LA``, ``I;16``) are one channel unless ``channels=3``. See
    :func:`to_image_tensor` for the crop, the resize and ``channels``.

    Args:
        path: the image file (anything PIL reads: PNG, JPEG, ...).
        size: side of the square output.
        channels: None (native), 1 or 3.

    Raises:
        DataError: the file is missing or is not an image, or ``size``/``channels`` is invalid.
    """
    _check_size(size)
    _check_channels(channels)
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"no such file: {p}")
    if p.is_dir():
        raise DataError(f"not an image: {p}")
    try:
        with Image.open(p) as img:
            img.load()
            arr = _pil_to_array(ImageOps.exif_transpose(img))
    except UnidentifiedImageError:
        raise DataError(f"not an image: {p}") from None
    except DataError as exc:
        raise DataError(f"{p}: {exc}") from None
    except Exception as exc:  # a truncated, corrupt or huge file: PIL raises many kinds
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read image {p}: {reason}") from None
    return to_image_tensor(arr, size=size, channels=channels)[None]


# --------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------


