"""Datasets: torchvision's when they can be had, and real offline stand-ins when not.

See :mod:`dlgtut.data` for the datasets and their fallbacks.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import importlib.util
import logging
import os
import socket
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import URLError

import numpy as np
import torch
from torch import Tensor

from ..checks import flag
from ..errors import DataError, WrongTypeError
from .images import (
    _centre_square,
    _check_channels,
    _check_size,
    _finish,
    load_image,
    to_image_tensor,
)
from .imageset import ImageSet

__all__ = ["DATASETS", "OFFLINE_FALLBACK", "load_dataset", "data_root"]

logger = logging.getLogger("dlgtut")

DATASETS: tuple[str, ...] = (
    "cifar10",
    "cifar100",
    "mnist",
    "svhn",
    "lfw",
    "photos",
    "patches",
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


def data_root(root: str | Path | None = None) -> Path:
    """Where torchvision datasets are kept: ``root``, else ``$DLGTUT_DATA``, else a user cache.

    The directory is not created here; torchvision creates it when it downloads.

    Example:
        >>> data_root("/tmp/my-data")
        PosixPath('/tmp/my-data')
    """
    if root is not None:
        if not isinstance(root, str | os.PathLike):
            raise WrongTypeError(f"root must be a path, got {type(root).__name__}")
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
    from PIL import Image

    photos = [(name, getattr(skimage.data, name)()) for name in _SKIMAGE_PHOTOS]
    paths = [_sklearn_file("images", f"{name}.jpg") for name in _SKLEARN_PHOTOS]
    if all(paths):
        for name, path in zip(_SKLEARN_PHOTOS, paths, strict=True):
            with Image.open(path) as image:  # as load_sample_images reads them
                photos.append((name, np.asarray(image)))
    else:
        from sklearn.datasets import load_sample_images

        images = load_sample_images().images  # sorted by file name: china, flower
        photos += list(zip(_SKLEARN_PHOTOS, images, strict=True))
    squares = []
    for name, arr in photos:
        side, top, left = _centre_square(*arr.shape[:2])
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


_PATCH_GRIDS = (1, 2, 3, 4)
"""``patches`` cuts every colour photo into ``g x g`` tiles for each ``g`` here: 30 per photo."""


def _load_patches(size: int, channels: int | None, limit: int | None) -> ImageSet:
    """Tiles of the colour photos at four scales, interleaved so that neighbours differ.

    Each photo's centre square is resized to ``g * size`` and cut into ``g x g`` tiles of
    ``size x size``. Index order is scale, then tile, then photo: consecutive images come from
    different photos, as in a shuffled dataset.
    """
    photos = [(name, arr) for name, arr in _photo_arrays() if arr.ndim == 3]
    ch = 3 if channels is None else channels
    tiles = []
    for g in _PATCH_GRIDS:
        scaled = [to_image_tensor(arr, size=g * size, channels=ch) for _, arr in photos]
        for row in range(g):
            for col in range(g):
                tiles += [(p, x[:, row * size : (row + 1) * size, col * size : (col + 1) * size])
                          for p, x in enumerate(scaled)]
    tiles = tiles[: _take(len(tiles), limit)]
    images = torch.stack([x for _, x in tiles]).contiguous()
    labels = torch.tensor([p for p, _ in tiles], dtype=torch.int64)
    names = tuple(name for name, _ in photos)
    source = (f"{len(tiles)} tiles of {len(names)} scikit-image and scikit-learn colour photos "
              f"(each cut into 1x1, 2x2, 3x3 and 4x4 tiles), labelled by photo")
    return ImageSet(images, labels, names, "patches", source)


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


def _sklearn_file(*parts: str) -> Path | None:
    """A data file scikit-learn ships (``sklearn/datasets/<parts>``), found without importing it.

    Importing scikit-learn costs about 1 s of CPU (it imports SciPy's statistics and pandas), paid
    by every kernel, command and Ray worker that loads the digits or the photos, while the
    files themselves take milliseconds to read. None when the file is not where scikit-learn
    keeps it today: the caller then uses scikit-learn's own loader.
    """
    spec = importlib.util.find_spec("sklearn")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)), "datasets", *parts)
    return path if path.is_file() else None


def _digit_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 digits: ``1797 x 64`` pixels in 0..16 (float64) and their classes.

    The same arrays as ``load_digits()`` (``data`` and ``target``), read as it reads them.
    """
    path = _sklearn_file("data", "digits.csv.gz")
    if path is None:
        from sklearn.datasets import load_digits

        digits = load_digits()
        return digits.data, digits.target
    table = np.loadtxt(path, delimiter=",")
    return table[:, :-1], table[:, -1].astype(int, copy=False)


def _load_digits(size: int, channels: int | None, limit: int | None) -> ImageSet:
    flat, target = _digit_arrays()
    n = _take(len(flat), limit)
    pixels = torch.tensor(flat[:n].reshape(n, 8, 8) / 16.0, dtype=torch.float32)[:, None]
    images = _finish(pixels, size, channels)
    labels = torch.as_tensor(target[:n], dtype=torch.int64)
    source = f"{n} handwritten 8x8 digits shipped with scikit-learn (load_digits)"
    return ImageSet(images, labels, tuple(str(d) for d in range(10)), "digits", source)


_OFFLINE_LOADERS = {"photos": _load_photos, "patches": _load_patches, "faces": _load_faces,
                    "digits": _load_digits}


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
    fallback: bool = False,
) -> ImageSet:
    """Load a dataset as ``N x C x size x size`` float32 images in [0, 1] with int64 labels.

    A torchvision dataset (``cifar10``, ``cifar100``, ``mnist``, ``svhn``, ``lfw``) is read
    from :func:`data_root` and downloaded there if missing and ``download`` is true. If it
    cannot be had (or ``DLGTUT_OFFLINE=1`` is set, which skips the attempt), that is a
    :class:`~dlgtut.errors.DataError`, unless the caller opts in to a stand-in with
    ``fallback=True``: then one warning is logged on the ``dlgtut`` logger and its offline
    fallback from :data:`OFFLINE_FALLBACK` is returned, whose ``name`` says which dataset was
    actually loaded. (Nothing is ever returned under a name it is not.) The offline
    datasets (``photos``, ``patches``, ``faces``, ``digits``) have no train/test split and
    ignore ``train``.

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
        fallback: if the torchvision dataset cannot be had, return its offline stand-in
            (:data:`OFFLINE_FALLBACK`) instead of raising.

    Raises:
        DataError: unknown name, or an invalid ``size``, ``channels``, ``limit``, ``train``,
            ``download`` or ``fallback`` (True or False); or a torchvision dataset that cannot
            be had, without ``fallback``.
        WrongTypeError: a ``root`` that is not a path.

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
    flag(train, "train", error=DataError)
    flag(download, "download", error=DataError)
    flag(fallback, "fallback", error=DataError)
    if root is not None:
        data_root(root)

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

    stand_in = OFFLINE_FALLBACK[key]
    if not fallback:
        raise DataError(f"{spec.title} is not available ({reason}); for its offline stand-in "
                        f"{stand_in!r} pass fallback=True (--fallback on the command line), "
                        f"or load {stand_in!r} itself")
    result = _OFFLINE_LOADERS[stand_in](size, channels, limit)
    logger.warning(
        "%s is not available (%s); using the offline fallback %r: %s",
        spec.title,
        reason,
        stand_in,
        result.source,
    )
    return result
