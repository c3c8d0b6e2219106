"""Real images for the attacks: torchvision datasets, offline fallbacks, and single image files.

Everything comes out the same way: ``N x C x H x W`` float32 tensors in [0, 1] with int64
labels, wrapped in an :class:`ImageSet` that also names the classes and says where the images
come from.

Five datasets come from torchvision and need a download the first time (``cifar10``,
``cifar100``, ``mnist``, ``svhn``, ``lfw``). Three ship with packages dlgtut already depends on
and never touch the network:

* ``photos``: a dozen real photographs from scikit-image and scikit-learn, one class each;
* ``faces``: 200 grayscale 25x25 crops from Labeled Faces in the Wild (scikit-image), half faces;
* ``digits``: scikit-learn's 1797 handwritten 8x8 digits.

When a torchvision dataset cannot be had (no internet, a failed download, ``download=False``
without a cached copy, or the environment variable ``DLGTUT_OFFLINE=1``), :func:`load_dataset`
logs one warning line on the ``dlgtut`` logger and returns its offline fallback
(:data:`OFFLINE_FALLBACK`) instead, so every notebook runs anywhere.

Nothing is downloaded at import time, and nothing is written anywhere but the dataset root
(:func:`data_root`), and there only when a download is attempted.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import logging
import os
import socket
import tarfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import URLError

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from .errors import DataError

__all__ = [
    "ImageSet",
    "DATASETS",
    "OFFLINE_FALLBACK",
    "load_dataset",
    "load_image",
    "to_image_tensor",
    "data_root",
]

logger = logging.getLogger("dlgtut")

DATASETS: tuple[str, ...] = (
    "cifar10",
    "cifar100",
    "mnist",
    "svhn",
    "lfw",
    "photos",
    "faces",
    "digits",
)
"""Every name :func:`load_dataset` accepts (case, ``-`` and ``_`` are ignored)."""

OFFLINE_FALLBACK: dict[str, str] = {
    "cifar10": "photos",
    "cifar100": "photos",
    "svhn": "photos",
    "mnist": "digits",
    "lfw": "faces",
}
"""The offline dataset returned in place of each torchvision dataset that cannot be had."""

_DOWNLOAD_TIMEOUT_S = 30.0
"""Socket timeout while a download is attempted, so a silently dropped connection cannot hang."""

_DOWNLOAD_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # URLError, socket.timeout, ConnectionError, a full disk, ...
    RuntimeError,  # torchvision: "Dataset not found or corrupted", MNIST's failed mirrors
    ValueError,  # torchvision >= 0.22: "LFW dataset is no longer available for automatic download"
    EOFError,
    tarfile.TarError,
    zipfile.BadZipFile,
    http.client.HTTPException,
)


@dataclass(frozen=True)
class _TorchvisionSpec:
    title: str  # human-readable name, e.g. "CIFAR-100"
    cls: str  # class name in torchvision.datasets
    split_kw: bool  # whether the class takes split="train"/"test" rather than train=True/False


_TORCHVISION: dict[str, _TorchvisionSpec] = {
    "cifar10": _TorchvisionSpec("CIFAR-10", "CIFAR10", split_kw=False),
    "cifar100": _TorchvisionSpec("CIFAR-100", "CIFAR100", split_kw=False),
    "mnist": _TorchvisionSpec("MNIST", "MNIST", split_kw=False),
    "svhn": _TorchvisionSpec("SVHN", "SVHN", split_kw=True),
    "lfw": _TorchvisionSpec("LFW (Labeled Faces in the Wild)", "LFWPeople", split_kw=True),
}

# Real photographs that scikit-image ships inside its wheel (no download), then scikit-learn's two.
_SKIMAGE_PHOTOS: tuple[str, ...] = (
    "astronaut",
    "camera",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "coins",
    "page",
)
_SKLEARN_PHOTOS: tuple[str, ...] = ("china", "flower")


# --------------------------------------------------------------------------------------------
# ImageSet
# --------------------------------------------------------------------------------------------


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
            indices: integer positions in ``[0, len(self))``.
        """
        idx = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
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


def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise DataError(f"size must be a positive integer, got {size!r}")


def _check_channels(channels: int | None) -> None:
    if channels not in (None, 1, 3):
        raise DataError(f"channels must be None (native), 1 or 3, got {channels!r}")


def _finish(x: Tensor, size: int, channels: int | None) -> Tensor:
    """Channels, centre square crop and resize of an ``N x C x H x W`` float batch in [0, 1]."""
    import torchvision.transforms.v2.functional as TF  # noqa: N812 (slow import, done lazily)

    if channels == 1 and x.shape[1] == 3:
        x = TF.rgb_to_grayscale(x)
    h, w = x.shape[-2:]
    if h != w:
        side = min(h, w)
        x = TF.center_crop(x, [side, side])
    if x.shape[-1] != size:
        x = TF.resize(x, [size, size], antialias=True).clamp(0.0, 1.0)
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


def data_root(root: str | Path | None = None) -> Path:
    """Where torchvision datasets are kept: ``root``, else ``$DLGTUT_DATA``, else a user cache.

    The directory is not created here; torchvision creates it when it downloads.

    Example:
        >>> data_root("/tmp/my-data")
        PosixPath('/tmp/my-data')
    """
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("DLGTUT_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "dlgtut" / "data"


def _offline_requested() -> bool:
    return os.environ.get("DLGTUT_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _take(n: int, limit: int | None) -> int:
    return n if limit is None else min(n, limit)


@functools.lru_cache(maxsize=1)
def _photo_arrays() -> tuple[tuple[str, np.ndarray], ...]:
    """The photographs as read-only centre-cropped uint8 squares, read once per process."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    photos = [(name, getattr(skimage.data, name)()) for name in _SKIMAGE_PHOTOS]
    photos += list(zip(_SKLEARN_PHOTOS, load_sample_images().images, strict=True))
    squares = []
    for name, arr in photos:
        h, w = arr.shape[:2]
        side = min(h, w)
        top, left = round((h - side) / 2), round((w - side) / 2)  # as torchvision's center_crop
        square = np.ascontiguousarray(arr[top : top + side, left : left + side])
        square.flags.writeable = False
        squares.append((name, square))
    return tuple(squares)


def _load_photos(size: int, channels: int | None, limit: int | None) -> ImageSet:
    photos = _photo_arrays()[: _take(len(_photo_arrays()), limit)]
    # The grey camera photo becomes 3 channels by default so that the set is uniform.
    ch = 3 if channels is None else channels
    images = torch.stack([to_image_tensor(arr, size=size, channels=ch) for _, arr in photos])
    names = tuple(name for name, _ in photos)
    source = f"{len(names)} scikit-image and scikit-learn photos, one class each"
    return ImageSet(images, torch.arange(len(names)), names, "photos", source)


def _load_faces(size: int, channels: int | None, limit: int | None) -> ImageSet:
    import skimage.data

    faces = skimage.data.lfw_subset()  # 200 x 25 x 25 floats in [0, 1]: 100 faces, 100 non-faces
    n = _take(len(faces), limit)
    images = _finish(torch.tensor(faces[:n], dtype=torch.float32)[:, None], size, channels)
    labels = (torch.arange(n) < 100).long()  # the first 100 are faces (label 1)
    n_faces = int(labels.sum())
    source = (
        f"{n} grayscale 25x25 Labeled Faces in the Wild crops from scikit-image "
        f"({n_faces} faces, then {n - n_faces} non-faces)"
    )
    return ImageSet(images, labels, ("non-face", "face"), "faces", source)


def _load_digits(size: int, channels: int | None, limit: int | None) -> ImageSet:
    from sklearn.datasets import load_digits

    digits = load_digits()
    n = _take(len(digits.images), limit)
    pixels = torch.tensor(digits.images[:n] / 16.0, dtype=torch.float32)[:, None]
    images = _finish(pixels, size, channels)
    labels = torch.as_tensor(digits.target[:n], dtype=torch.int64)
    source = f"{n} handwritten 8x8 digits shipped with scikit-learn (load_digits)"
    return ImageSet(images, labels, tuple(str(d) for d in range(10)), "digits", source)


_OFFLINE_LOADERS = {"photos": _load_photos, "faces": _load_faces, "digits": _load_digits}


@contextlib.contextmanager
def _bounded_socket_timeout(seconds: float) -> Iterator[None]:
    """Temporarily give new sockets a default timeout so an unanswered connection fails."""
    old = socket.getdefaulttimeout()
    if old is None or old > seconds:
        socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def _open_torchvision(spec: _TorchvisionSpec, root: Path, train: bool, download: bool) -> Any:
    """The torchvision dataset object: the cached copy if there is one, else a download."""
    import torchvision.datasets

    cls = getattr(torchvision.datasets, spec.cls)
    kwargs: dict[str, Any] = (
        {"split": "train" if train else "test"} if spec.split_kw else {"train": train}
    )
    try:
        return cls(str(root), download=False, **kwargs)
    except _DOWNLOAD_ERRORS:
        if not download:
            raise
    with _bounded_socket_timeout(_DOWNLOAD_TIMEOUT_S):
        return cls(str(root), download=True, **kwargs)


def _convert_torchvision(
    key: str, ds: Any, size: int, channels: int | None, limit: int | None
) -> tuple[Tensor, Tensor, tuple[str, ...]]:
    """Images, labels and class names of a torchvision dataset, from its raw arrays."""
    if key == "lfw":
        n = _take(len(ds.data), limit)
        ch = 3 if channels is None else channels
        images = torch.zeros(n, ch, size, size)
        for i, path in enumerate(ds.data[:n]):
            images[i] = load_image(path, size=size, channels=ch)[0]
        labels = torch.as_tensor(list(ds.targets[:n]), dtype=torch.int64)
        by_index = sorted(ds.class_to_idx.items(), key=lambda item: item[1])
        return images, labels, tuple(name for name, _ in by_index)
    data = ds.data
    n = _take(len(data), limit)
    raw = torch.as_tensor(np.ascontiguousarray(np.asarray(data[:n])), dtype=torch.uint8)
    if key in ("cifar10", "cifar100"):  # N x H x W x C
        raw = raw.permute(0, 3, 1, 2)
    elif key == "mnist":  # N x H x W
        raw = raw[:, None]
    # SVHN's .data is already N x C x H x W.
    targets = ds.labels if key == "svhn" else ds.targets
    labels = torch.as_tensor(np.asarray(targets[:n]), dtype=torch.int64).reshape(-1)
    classes = getattr(ds, "classes", None) or [str(d) for d in range(10)]
    images = _finish(raw.float() / 255.0, size, channels)
    return images, labels, tuple(str(c) for c in classes)


def _reason(exc: BaseException, root: Path, download: bool) -> str:
    """A short one-line reason why a torchvision dataset could not be had."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > 300:
        text = text[:297] + "..."
    if not download:
        return f"not found in {root} and download=False"
    if isinstance(exc, (URLError, OSError)) or "urlopen error" in text:
        return f"no internet? {text}"
    return text


def load_dataset(
    name: str,
    *,
    size: int = 32,
    channels: int | None = None,
    train: bool = True,
    root: str | Path | None = None,
    download: bool = True,
    limit: int | None = None,
) -> ImageSet:
    """Load a dataset as ``N x C x size x size`` float32 images in [0, 1] with int64 labels.

    A torchvision dataset (``cifar10``, ``cifar100``, ``mnist``, ``svhn``, ``lfw``) is read
    from :func:`data_root` and downloaded there if missing and ``download`` is true. If it
    cannot be had (or ``DLGTUT_OFFLINE=1`` is set, which skips the attempt), one warning is
    logged on the ``dlgtut`` logger and its offline fallback from :data:`OFFLINE_FALLBACK` is
    returned; the result's ``name`` says which dataset was actually loaded. The offline
    datasets (``photos``, ``faces``, ``digits``) have no train/test split and ignore ``train``.

    Loading a whole torchvision dataset keeps all of it in memory as floats (CIFAR-10: about
    600 MB); ``limit`` keeps only the first examples and is applied before the conversion.

    Args:
        name: one of :data:`DATASETS`.
        size: side of the square images; images of another size are centre-cropped to a square
            and resized with antialiasing.
        channels: None keeps the dataset's native channels, 1 converts to luminance, 3
            replicates grey.
        train: the training split, else the test split (torchvision datasets only).
        root: dataset directory; see :func:`data_root`.
        download: download a torchvision dataset that is not cached.
        limit: keep only the first ``limit`` examples.

    Raises:
        DataError: unknown name, or an invalid ``size``, ``channels`` or ``limit``.

    Example:
        >>> digits = load_dataset("digits", size=8, limit=5)
        >>> digits.images.shape, digits.labels.tolist(), digits.name
        (torch.Size([5, 1, 8, 8]), [0, 1, 2, 3, 4], 'digits')
    """
    if not isinstance(name, str):
        raise DataError(f"dataset name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "").replace("_", "")
    if key not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    _check_size(size)
    _check_channels(channels)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DataError(f"limit must be None or a positive integer, got {limit!r}")

    if key in _OFFLINE_LOADERS:
        return _OFFLINE_LOADERS[key](size, channels, limit)

    spec = _TORCHVISION[key]
    directory = data_root(root)
    if _offline_requested():
        reason = "DLGTUT_OFFLINE is set"
    else:
        try:
            ds = _open_torchvision(spec, directory, train, download)
        except _DOWNLOAD_ERRORS as exc:
            reason = _reason(exc, directory, download)
            if key == "lfw" and download:
                reason += f"; torchvision looks for it in {directory / 'lfw-py'}"
        else:
            images, labels, classes = _convert_torchvision(key, ds, size, channels, limit)
            split = "training" if train else "test"
            first = f"first {len(labels)} images of the " if limit is not None else ""
            source = (
                f"{first}{spec.title} {split} set (torchvision.datasets.{spec.cls}, {directory})"
            )
            return ImageSet(images, labels, classes, key, source)

    fallback = OFFLINE_FALLBACK[key]
    result = _OFFLINE_LOADERS[fallback](size, channels, limit)
    logger.warning(
        "%s is not available (%s); using the offline fallback %r: %s",
        spec.title,
        reason,
        fallback,
        result.source,
    )
    return result
