"""Tests of dlgtut.data: image files, offline datasets, torchvision conversion and fallbacks.

No test touches the network: torchvision dataset classes are replaced by fakes where a download
would be attempted.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision.datasets
from PIL import Image

from dlgtut.data import (
    DATASETS,
    OFFLINE_FALLBACK,
    ImageSet,
    data_root,
    load_dataset,
    load_image,
    to_image_tensor,
)
from dlgtut.errors import DataError, WrongTypeError

TORCHVISION_SETS = ("cifar10", "cifar100", "mnist", "svhn", "lfw")


def chw(arr: np.ndarray) -> torch.Tensor:
    """Reference conversion of an H x W x C uint8 array: exactly v / 255, channels first."""
    return torch.from_numpy(np.array(arr)).permute(2, 0, 1).float() / 255


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test decides for itself whether DLGTUT_OFFLINE / DLGTUT_DATA are set."""
    monkeypatch.delenv("DLGTUT_OFFLINE", raising=False)
    monkeypatch.delenv("DLGTUT_DATA", raising=False)


def dlgtut_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "dlgtut" and r.levelno == logging.WARNING
    ]


# --------------------------------------------------------------------------------------------
# Image files and arrays
# --------------------------------------------------------------------------------------------


def test_png_of_the_right_size_comes_back_pixel_for_pixel(tmp_path: Path, rng) -> None:
    arr = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "x.png")
    x = load_image(tmp_path / "x.png")
    assert x.shape == (1, 3, 32, 32) and x.dtype == torch.float32
    assert torch.equal(x[0], chw(arr))
    assert torch.equal(load_image(str(tmp_path / "x.png"), size=32)[0], chw(arr))


def test_wide_image_is_centre_cropped_then_resized(tmp_path: Path) -> None:
    # 64 wide x 48 high: red stripe left of the centre 48x48 square, blue stripe right of it;
    # the square itself is white on its top half and black on its bottom half.
    arr = np.zeros((48, 64, 3), dtype=np.uint8)
    arr[:, :8] = (255, 0, 0)
    arr[:, 56:] = (0, 0, 255)
    arr[:24, 8:56] = 255
    Image.fromarray(arr).save(tmp_path / "wide.png")
    x = load_image(tmp_path / "wide.png")[0]
    assert x.shape == (3, 32, 32)
    # No trace of the stripes: every pixel is grey (R = G = B).
    assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])
    # Orientation kept: top rows white, bottom rows black, not transposed.
    assert torch.allclose(x[:, :15], torch.ones(3, 15, 32), atol=1e-6)
    assert torch.allclose(x[:, 17:], torch.zeros(3, 15, 32), atol=1e-6)
    # A tall image is cropped the same way.
    tall = np.ascontiguousarray(arr.transpose(1, 0, 2))
    t = to_image_tensor(tall)
    assert torch.equal(t[0], t[2])
    assert torch.allclose(t[:, :, :15], torch.ones(3, 32, 15), atol=1e-6)


def test_resize_is_antialiased_downsampling() -> None:
    # Thin vertical lines, 2 pixels out of every 8, right where a plain bilinear 64 -> 8
    # resize samples: without antialiasing they would come out white, with it about 2/8 grey.
    lines = np.isin(np.arange(64) % 8, (3, 4)) * 255
    x = to_image_tensor(np.tile(lines, (64, 1)).astype(np.uint8), size=8)
    assert x.shape == (1, 8, 8)
    assert torch.allclose(x[:, :, 1:-1], torch.full((1, 8, 6), 0.25), atol=0.01)
    assert x.max() < 0.3


@pytest.mark.parametrize(("shape", "size", "channels"), [
    ((5, 3, 427, 640), 32, None),  # a wide photo, cropped and shrunk (antialiased)
    ((5, 3, 640, 427), 32, 1),     # a tall one, to grey as well
    ((7, 1, 8, 8), 16, None),      # the digits, enlarged
    ((7, 1, 25, 25), 32, 3),       # the faces, enlarged and replicated to three channels
    ((3, 3, 33, 32), 32, 1),       # an odd crop: the anchor rounds as torchvision's does
    ((3, 3, 32, 32), 32, 1),       # no crop, no resize: grey only
])
def test_crop_grey_and_resize_are_torchvisions_bit_for_bit(shape, size, channels) -> None:
    import torchvision.transforms.v2.functional as TF  # noqa: N812

    from dlgtut.data.images import _finish

    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    ref = x
    if channels == 1 and ref.shape[1] == 3:
        ref = TF.rgb_to_grayscale(ref)
    side = min(ref.shape[-2:])
    ref = TF.center_crop(ref, [side, side])
    ref = TF.resize(ref, [size, size], antialias=True).clamp(0.0, 1.0)
    if channels == 3 and ref.shape[1] == 1:
        ref = ref.expand(-1, 3, -1, -1)
    assert torch.equal(_finish(x, size, channels), ref)


def test_loading_a_dataset_imports_neither_torchvision_nor_scikit_learn() -> None:
    # Their imports cost about 1.4 s and 1 s of CPU, paid by every process that loads data
    # (dlgtut/data/images.py and datasets.py); only a torchvision dataset (CIFAR, MNIST, ...)
    # needs torchvision, and scikit-learn's digits and photos are files it ships.
    import subprocess
    import sys

    code = ("import sys; from dlgtut.data import load_dataset; load_dataset('digits', size=16); "
            "load_dataset('photos', size=32, limit=2); load_dataset('patches', size=8); "
            "print('torchvision' in sys.modules, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False", out.stderr


def test_digits_and_photos_are_scikit_learns_own_arrays(monkeypatch) -> None:
    """Read from scikit-learn's files, they equal its loaders' arrays exactly; without the
    files (another scikit-learn layout) the loaders themselves are used."""
    from sklearn.datasets import load_digits, load_sample_images

    from dlgtut.data import datasets

    digits = load_digits()
    flat, target = datasets._digit_arrays()
    assert np.array_equal(flat, digits.data) and flat.dtype == digits.data.dtype
    assert np.array_equal(target, digits.target)
    photos = dict(datasets._photo_arrays.__wrapped__())
    for name, arr in zip(datasets._SKLEARN_PHOTOS, load_sample_images().images, strict=True):
        side = min(arr.shape[:2])
        top, left = round((arr.shape[0] - side) / 2), round((arr.shape[1] - side) / 2)
        assert np.array_equal(photos[name], arr[top : top + side, left : left + side]), name

    monkeypatch.setattr(datasets, "_sklearn_file", lambda *parts: None)
    flat2, target2 = datasets._digit_arrays()
    assert np.array_equal(flat2, flat) and np.array_equal(target2, target)
    fallback = datasets._photo_arrays.__wrapped__()
    assert [n for n, _ in fallback] == list(photos)
    assert all(np.array_equal(a, photos[n]) for n, a in fallback)


def test_grey_file_is_one_channel_and_channels_3_replicates(tmp_path: Path, rng) -> None:
    arr = rng.integers(0, 256, size=(32, 32), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "g.png")
    g = load_image(tmp_path / "g.png")
    assert g.shape == (1, 1, 32, 32)
    assert torch.equal(g[0, 0], torch.from_numpy(arr).float() / 255)
    g3 = load_image(tmp_path / "g.png", channels=3)
    assert g3.shape == (1, 3, 32, 32)
    assert all(torch.equal(g3[0, c], g[0, 0]) for c in range(3))


def test_channels_1_is_luminance(tmp_path: Path) -> None:
    arr = np.zeros((32, 32, 3), dtype=np.uint8)
    arr[:, :16] = (255, 0, 0)
    arr[:, 16:] = (0, 0, 255)
    Image.fromarray(arr).save(tmp_path / "rb.png")
    y = load_image(tmp_path / "rb.png", channels=1)
    assert y.shape == (1, 1, 32, 32)
    # ITU-R 601 weights, as torchvision's rgb_to_grayscale: red 0.2989, blue 0.114.
    assert torch.allclose(y[0, 0, :, :16], torch.tensor(0.2989), atol=1e-3)
    assert torch.allclose(y[0, 0, :, 16:], torch.tensor(0.114), atol=1e-3)


def test_rgba_drops_alpha(tmp_path: Path, rng) -> None:
    arr = rng.integers(0, 256, size=(32, 32, 4), dtype=np.uint8)
    arr[:8, :, 3] = 0  # fully transparent rows keep their colour values
    Image.fromarray(arr, mode="RGBA").save(tmp_path / "a.png")
    x = load_image(tmp_path / "a.png")
    assert x.shape == (1, 3, 32, 32)
    assert torch.equal(x[0], chw(np.ascontiguousarray(arr[..., :3])))
    assert torch.equal(to_image_tensor(arr), x[0])


def test_palette_la_and_16_bit_files(tmp_path: Path, rng) -> None:
    rgb = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).quantize(16).save(tmp_path / "p.png")
    expected = np.asarray(Image.open(tmp_path / "p.png").convert("RGB"))
    p = load_image(tmp_path / "p.png")
    assert p.shape == (1, 3, 32, 32) and torch.equal(p[0], chw(expected))

    grey = rng.integers(0, 256, size=(32, 32), dtype=np.uint8)
    la = np.stack([grey, np.zeros_like(grey)], axis=-1)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    x = load_image(tmp_path / "la.png")
    assert x.shape == (1, 1, 32, 32) and torch.equal(x[0, 0], torch.from_numpy(grey) / 255)

    deep = rng.integers(0, 65536, size=(32, 32), dtype=np.uint16)
    Image.fromarray(deep).save(tmp_path / "16.png")
    d = load_image(tmp_path / "16.png")
    assert d.shape == (1, 1, 32, 32)
    assert torch.allclose(d[0, 0], torch.from_numpy(deep.astype(np.float32)) / 65535, atol=1e-6)
    assert d.max() > 0.9  # not clipped to 8 bits


def test_float_and_bool_arrays() -> None:
    ramp = np.linspace(0, 1, 16 * 16).reshape(16, 16)
    x = to_image_tensor(ramp, size=16)
    assert x.shape == (1, 16, 16) and x.dtype == torch.float32
    assert torch.equal(x[0], torch.from_numpy(ramp.astype(np.float32)))
    assert to_image_tensor(np.ones((4, 4), dtype=bool), size=4).min() == 1.0
    out = to_image_tensor(np.ones((40, 40, 1)), size=4, channels=3)
    assert out.shape == (3, 4, 4) and torch.allclose(out, torch.ones(3, 4, 4))


@pytest.mark.parametrize(
    "bad",
    [
        np.full((8, 8), 2.0),  # float out of [0, 1]
        np.full((8, 8), np.nan),
        np.zeros((3, 8, 8), dtype=np.uint8),  # C x H x W, not H x W x C
        np.zeros((8,), dtype=np.uint8),
        np.zeros((8, 8), dtype=np.int64),
        [[0, 1], [1, 0]],
    ],
)
def test_to_image_tensor_rejects_bad_input(bad: Any) -> None:
    with pytest.raises(DataError):
        to_image_tensor(bad)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nothing.png"
    with pytest.raises(DataError, match="no such file") as err:
        load_image(path)
    assert str(path) in str(err.value)


def test_text_file_renamed_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n")
    with pytest.raises(DataError, match="not an image") as err:
        load_image(path)
    assert str(path) in str(err.value)


def test_directory_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not an image") as err:
        load_image(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_truncated_png(tmp_path: Path, rng) -> None:
    arr = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "t.png")
    raw = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="t.png"):
        load_image(tmp_path / "t.png")


@pytest.mark.parametrize("kwargs", [{"size": 0}, {"size": 2.5}, {"channels": 2}, {"channels": 4}])
def test_invalid_size_or_channels(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "x.png")
    with pytest.raises(DataError):
        load_image(tmp_path / "x.png", **kwargs)
    with pytest.raises(DataError):
        to_image_tensor(np.zeros((8, 8), dtype=np.uint8), **kwargs)
    with pytest.raises(DataError):
        load_dataset("digits", **kwargs)


# --------------------------------------------------------------------------------------------
# Offline datasets
# --------------------------------------------------------------------------------------------


def check_image_set(s: ImageSet, n: int, c: int, size: int, n_classes: int) -> None:
    assert s.images.shape == (n, c, size, size) and len(s) == n
    assert s.images.dtype == torch.float32 and s.labels.dtype == torch.int64
    assert s.images.min() >= 0 and s.images.max() <= 1
    assert s.labels.shape == (n,)
    assert s.labels.min() >= 0 and s.labels.max() < n_classes
    assert len(s.classes) == n_classes and all(isinstance(c, str) for c in s.classes)
    assert isinstance(s.source, str) and s.source and "\n" not in s.source


def test_photos() -> None:
    s = load_dataset("photos")
    assert s.name == "photos"
    check_image_set(s, 12, 3, 32, 12)
    assert s.labels.tolist() == list(range(12))
    assert {"astronaut", "camera", "chelsea", "china", "flower"} <= set(s.classes)
    assert s.images.std() > 0.1  # real pictures, not blank
    # Distinct photos: no two images are alike.
    flat = s.images.flatten(1)
    assert torch.cdist(flat, flat).add(torch.eye(12) * 1e3).min() > 1.0
    # The grey camera photo has three equal channels; the astronaut is in colour.
    cam = s.images[s.classes.index("camera")]
    assert torch.equal(cam[0], cam[1]) and torch.equal(cam[1], cam[2])
    astro = s.images[s.classes.index("astronaut")]
    assert not torch.equal(astro[0], astro[2])


def test_photos_options() -> None:
    grey = load_dataset("photos", channels=1, size=16, limit=3)
    check_image_set(grey, 3, 1, 16, 3)
    assert grey.classes == load_dataset("photos").classes[:3]
    import skimage.data

    # At full size the centre crop of the 512 x 512 astronaut is the photo itself.
    big = load_dataset("photos", size=512, limit=1)
    assert torch.equal(big.images[0], chw(skimage.data.astronaut()))


def test_patches() -> None:
    s = load_dataset("patches")
    assert s.name == "patches"
    check_image_set(s, 270, 3, 32, 9)
    photos = load_dataset("photos")
    assert set(s.classes) <= set(photos.classes) and "camera" not in s.classes  # colour only
    # The first nine are the whole photos, one per class, as the photos dataset has them.
    for k, name in enumerate(s.classes):
        assert s.labels[k] == k
        assert torch.equal(s.images[k], photos.images[photos.classes.index(name)])
    # Neighbours come from different photos, and no two tiles are the same (the closest two,
    # dark tiles of the Hubble deep field, differ by 0.48 in L2).
    assert (s.labels[1:] != s.labels[:-1]).all()
    flat = s.images.flatten(1)
    assert torch.cdist(flat, flat).add(torch.eye(270) * 1e3).min() > 0.2
    small = load_dataset("patches", size=8, channels=1, limit=20)
    check_image_set(small, 20, 1, 8, 9)


def test_faces() -> None:
    s = load_dataset("faces", size=25)
    assert s.name == "faces" and s.classes == ("non-face", "face")
    check_image_set(s, 200, 1, 25, 2)
    assert int(s.labels.sum()) == 100
    import skimage.data

    assert torch.equal(s.images[:, 0], torch.from_numpy(skimage.data.lfw_subset()).float())

    # Label 1 really marks the faces (scikit-image ships them first): averaged row by row, a
    # face is darker across the eyes (rows 7-9 of 25) than at the forehead and the cheeks.
    # The background patches labelled 0 merely brighten from top to bottom.
    def eye_band_contrast(label: int) -> float:
        rows = s.images[s.labels == label, 0].mean(dim=(0, 2))
        eyes = rows[7:10].mean()
        return float(torch.minimum(rows[1:5].mean() - eyes, rows[10:13].mean() - eyes))

    assert eye_band_contrast(1) > 0.05
    assert eye_band_contrast(0) < 0
    check_image_set(load_dataset("faces"), 200, 1, 32, 2)
    check_image_set(load_dataset("faces", channels=3, limit=10), 10, 3, 32, 2)


def test_digits() -> None:
    from sklearn.datasets import load_digits

    ref = load_digits()
    s = load_dataset("digits", size=8)
    assert s.name == "digits" and s.classes == tuple("0123456789")
    check_image_set(s, 1797, 1, 8, 10)
    assert torch.equal(s.images[:, 0], torch.from_numpy(ref.images / 16).float())
    assert s.labels.tolist() == ref.target.tolist()
    big = load_dataset("digits", limit=20)
    check_image_set(big, 20, 1, 32, 10)
    assert big.labels.tolist() == ref.target[:20].tolist()


def test_train_flag_is_ignored_by_offline_sets() -> None:
    a, b = load_dataset("digits", limit=5), load_dataset("digits", limit=5, train=False)
    assert torch.equal(a.images, b.images)


def test_unknown_dataset_names_the_choices() -> None:
    with pytest.raises(DataError, match="unknown dataset 'nope'") as err:
        load_dataset("nope")
    assert all(name in str(err.value) for name in DATASETS)


def test_names_are_case_insensitive() -> None:
    assert load_dataset("DIGITS", limit=2).name == "digits"


@pytest.mark.parametrize("limit", [0, -1, 1.5])
def test_invalid_limit(limit: Any) -> None:
    with pytest.raises(DataError, match="limit"):
        load_dataset("digits", limit=limit)


# --------------------------------------------------------------------------------------------
# Fallbacks (never on the network)
# --------------------------------------------------------------------------------------------


def forbid_torchvision(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("torchvision was asked for a dataset")

    for cls in ("CIFAR10", "CIFAR100", "MNIST", "SVHN", "LFWPeople"):
        monkeypatch.setattr(torchvision.datasets, cls, refuse)


@pytest.mark.parametrize("name", TORCHVISION_SETS)
def test_offline_env_returns_the_fallback_with_one_warning(
    name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setenv("DLGTUT_OFFLINE", "1")
    forbid_torchvision(monkeypatch)
    root = tmp_path / "data"
    with caplog.at_level(logging.WARNING, logger="dlgtut"):
        s = load_dataset(name, root=root, limit=4, fallback=True)
    fallback = OFFLINE_FALLBACK[name]
    assert s.name == fallback and len(s) == 4
    assert s.images.shape[-2:] == (32, 32)
    (line,) = dlgtut_warnings(caplog)
    assert fallback in line and "\n" not in line and "Traceback" not in caplog.text
    assert not root.exists()  # nothing written when no download is attempted


def test_cifar100_offline_is_photos(monkeypatch, caplog, tmp_path: Path) -> None:
    monkeypatch.setenv("DLGTUT_OFFLINE", "1")
    monkeypatch.setenv("DLGTUT_DATA", str(tmp_path / "env-root"))
    with caplog.at_level(logging.WARNING, logger="dlgtut"):
        s = load_dataset("cifar100", fallback=True)
    assert s.name == "photos" and len(s) == 12
    (line,) = dlgtut_warnings(caplog)
    assert "CIFAR-100" in line and "'photos'" in line and "12" in line
    assert not (tmp_path / "env-root").exists()
    assert set(OFFLINE_FALLBACK) == set(TORCHVISION_SETS)
    assert load_dataset("mnist", fallback=True).name == "digits"
    assert load_dataset("lfw", fallback=True).name == "faces"


@pytest.mark.parametrize("name", TORCHVISION_SETS)
def test_without_opting_in_a_missing_dataset_is_an_error_not_a_stand_in(
        name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing is ever returned, shown or measured under a name it is not: CIFAR-100 that
    cannot be had is a one-line error naming the stand-in, unless fallback=True."""
    monkeypatch.setenv("DLGTUT_OFFLINE", "1")
    forbid_torchvision(monkeypatch)
    stand_in = OFFLINE_FALLBACK[name]
    with pytest.raises(DataError, match=rf"not available .*fallback=True .*{stand_in}"):
        load_dataset(name, root=tmp_path)
    with pytest.raises(DataError, match="fallback must be True or False"):
        load_dataset(name, fallback="yes")


class FailingDownload:
    """A torchvision dataset class that is not cached and cannot be downloaded."""

    calls: list[tuple[bool, float | None]] = []

    def __init__(self, root: str, *, download: bool = False, **kwargs: Any) -> None:
        FailingDownload.calls.append((download, socket.getdefaulttimeout()))
        if download:
            raise URLError("[Errno -2] Name or service not known")
        raise RuntimeError("Dataset not found or corrupted. You can use download=True")


def test_failed_download_falls_back_with_a_bounded_timeout(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    FailingDownload.calls = []
    monkeypatch.setattr(torchvision.datasets, "CIFAR100", FailingDownload)
    before = socket.getdefaulttimeout()
    with caplog.at_level(logging.WARNING, logger="dlgtut"):
        s = load_dataset("cifar100", root=tmp_path, fallback=True)
    assert s.name == "photos"
    # First the cache is tried, then one download under a socket timeout, restored afterwards.
    assert [d for d, _ in FailingDownload.calls] == [False, True]
    timeout = FailingDownload.calls[1][1]
    assert timeout is not None and timeout <= 60
    assert socket.getdefaulttimeout() == before
    (line,) = dlgtut_warnings(caplog)
    assert "CIFAR-100" in line and "no internet" in line and "photos" in line


def test_download_false_does_not_download(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    FailingDownload.calls = []
    monkeypatch.setattr(torchvision.datasets, "MNIST", FailingDownload)
    with caplog.at_level(logging.WARNING, logger="dlgtut"):
        s = load_dataset("mnist", root=tmp_path / "d", download=False, fallback=True)
    assert s.name == "digits"
    assert [d for d, _ in FailingDownload.calls] == [False]
    (line,) = dlgtut_warnings(caplog)
    assert "download=False" in line and "digits" in line


def test_real_torchvision_without_cache_or_download(tmp_path: Path, caplog) -> None:
    # The real classes, told not to download, find nothing and write nothing.
    root = tmp_path / "empty"
    with caplog.at_level(logging.WARNING, logger="dlgtut"):
        for name in TORCHVISION_SETS:
            assert load_dataset(name, root=root, download=False, limit=2,
                                fallback=True).name != name
    assert len(dlgtut_warnings(caplog)) == len(TORCHVISION_SETS)
    assert not root.exists()


# --------------------------------------------------------------------------------------------
# Conversion of (fake) torchvision datasets
# --------------------------------------------------------------------------------------------


def fake_class(**attrs: Any) -> tuple[type, list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    class Fake:
        def __init__(self, root: str, **kwargs: Any) -> None:
            calls.append({"root": root, **kwargs})
            for key, value in attrs.items():
                setattr(self, key, value)

    return Fake, calls


def test_cifar_conversion(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rng) -> None:
    raw = rng.integers(0, 256, size=(10, 32, 32, 3), dtype=np.uint8)
    classes = [f"class{k}" for k in range(100)]
    fake, calls = fake_class(data=raw, targets=list(range(50, 60)), classes=classes)
    monkeypatch.setattr(torchvision.datasets, "CIFAR100", fake)
    s = load_dataset("cifar100", root=tmp_path, limit=4, train=False)
    assert calls == [{"root": str(tmp_path), "download": False, "train": False}]
    assert s.name == "cifar100" and s.classes == tuple(classes)
    check_image_set(s, 4, 3, 32, 100)
    assert all(torch.equal(s.images[i], chw(raw[i])) for i in range(4))
    assert s.labels.tolist() == [50, 51, 52, 53]
    assert "CIFAR-100" in s.source and "test" in s.source
    small = load_dataset("cifar100", root=tmp_path, size=16, channels=1)
    check_image_set(small, 10, 1, 16, 100)


def test_mnist_conversion_resizes_28_to_32(monkeypatch: pytest.MonkeyPatch, rng) -> None:
    raw = torch.zeros(6, 28, 28, dtype=torch.uint8)
    raw[:, :14] = 255  # top half white
    fake, calls = fake_class(
        data=raw, targets=torch.arange(6), classes=[f"{k} - digit" for k in range(10)]
    )
    monkeypatch.setattr(torchvision.datasets, "MNIST", fake)
    s = load_dataset("mnist")
    assert calls[0]["train"] is True and calls[0]["root"] == str(data_root())
    check_image_set(s, 6, 1, 32, 10)
    assert torch.allclose(s.images[:, :, :15], torch.ones(6, 1, 15, 32), atol=1e-6)
    assert torch.allclose(s.images[:, :, 17:], torch.zeros(6, 1, 15, 32), atol=1e-6)
    native = load_dataset("mnist", size=28, channels=3)
    check_image_set(native, 6, 3, 28, 10)
    assert torch.equal(native.images[:, 0], raw.float() / 255)


def test_svhn_conversion(monkeypatch: pytest.MonkeyPatch, rng) -> None:
    raw = rng.integers(0, 256, size=(5, 3, 32, 32), dtype=np.uint8)  # N x C x H x W
    fake, calls = fake_class(data=raw, labels=np.array([3, 0, 9, 1, 1]))
    monkeypatch.setattr(torchvision.datasets, "SVHN", fake)
    s = load_dataset("svhn", train=False, limit=3)
    assert calls[0]["split"] == "test"
    check_image_set(s, 3, 3, 32, 10)
    assert s.classes == tuple("0123456789")
    assert torch.equal(s.images, torch.from_numpy(raw[:3]).float() / 255)
    assert s.labels.tolist() == [3, 0, 9]


def test_lfw_conversion(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rng) -> None:
    paths = []
    for i in range(3):
        arr = rng.integers(0, 256, size=(40, 40, 3), dtype=np.uint8)
        paths.append(str(tmp_path / f"person_{i}.jpg"))
        Image.fromarray(arr).save(paths[-1])
    fake, calls = fake_class(
        data=paths, targets=[2, 0, 2], class_to_idx={"Bob": 1, "Ann": 0, "Cid": 2}
    )
    monkeypatch.setattr(torchvision.datasets, "LFWPeople", fake)
    s = load_dataset("lfw", limit=2)
    assert calls[0]["split"] == "train"
    check_image_set(s, 2, 3, 32, 3)
    assert s.classes == ("Ann", "Bob", "Cid") and s.labels.tolist() == [2, 0]
    assert torch.equal(s.images[1], load_image(paths[1])[0])


# --------------------------------------------------------------------------------------------
# ImageSet
# --------------------------------------------------------------------------------------------


def toy(labels: list[int], n_classes: int = 5) -> ImageSet:
    n = len(labels)
    images = torch.arange(n, dtype=torch.float32).div(n).view(n, 1, 1, 1).expand(n, 1, 2, 2)
    classes = tuple(str(k) for k in range(n_classes))
    return ImageSet(images.contiguous(), torch.tensor(labels), classes, "toy", "made up")


def test_batch_distinct_labels_and_wrap_around() -> None:
    s = toy([0, 0, 1, 1, 2, 0])
    images, labels, idx = s.batch(0, 3)
    assert idx == [0, 2, 4] and labels.tolist() == [0, 1, 2]
    assert torch.equal(images, s.images[[0, 2, 4]])
    assert s.batch(3, 3)[2] == [3, 4, 5]
    assert s.batch(4, 3)[2] == [4, 5, 2]  # wraps around, skipping 0 (label 0 already taken)
    assert s.batch(5, 3, distinct_labels=False)[2] == [5, 0, 1]
    assert s.batch(1, 1)[1].tolist() == [0]


def test_batch_errors() -> None:
    s = toy([0, 0, 1, 1, 2, 0])
    with pytest.raises(DataError, match="5 classes"):
        s.batch(0, 4)  # only 3 distinct labels present
    with pytest.raises(DataError):
        s.batch(0, 7, distinct_labels=False)
    for start in (-1, 6, 1.0):
        with pytest.raises(DataError, match="start"):
            s.batch(start, 1)
    with pytest.raises(DataError):
        s.batch(0, 0)


def test_batch_on_a_real_set() -> None:
    digits = load_dataset("digits", limit=100)
    images, labels, idx = digits.batch(95, 10)
    assert sorted(labels.tolist()) == list(range(10))
    assert images.shape == (10, 1, 32, 32) and idx[0] == 95
    with pytest.raises(DataError, match="10 classes"):
        digits.batch(0, 11)


def test_subset_and_validation() -> None:
    s = toy([0, 1, 2, 3])
    sub = s.subset([3, 1])
    assert sub.labels.tolist() == [3, 1] and torch.equal(sub.images, s.images[[3, 1]])
    assert sub.classes == s.classes and sub.name == "toy" and len(sub) == 2
    assert len(s.subset(torch.tensor([0]))) == 1
    with pytest.raises(DataError):
        s.subset([4])
    with pytest.raises(DataError, match="labels"):
        toy([0, 5], n_classes=5)
    with pytest.raises(DataError):
        ImageSet(torch.zeros(2, 1, 2, 2), torch.zeros(3, dtype=torch.long), ("a",), "x", "y")
    with pytest.raises(DataError):
        ImageSet(torch.zeros(2, 2, 2), torch.zeros(2, dtype=torch.long), ("a",), "x", "y")
    assert "toy" in repr(s) and "4 images" in repr(s)


def test_data_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert data_root(tmp_path) == tmp_path
    assert data_root(str(tmp_path)) == tmp_path
    assert data_root() == Path.home() / ".cache" / "dlgtut" / "data"
    monkeypatch.setenv("DLGTUT_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(tmp_path / "explicit") == tmp_path / "explicit"
    assert not (tmp_path / "env").exists()


def write_idx(path: Path, array: np.ndarray) -> None:
    """An MNIST idx file (uint8), as torchvision reads it."""
    magic = {1: 0x801, 3: 0x803}[array.ndim]
    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_real_torchvision_mnist_from_a_cached_copy(tmp_path: Path, rng, caplog) -> None:
    # A tiny MNIST in torchvision's own on-disk format: the real class reads it, nothing is
    # downloaded (torchvision checks only that the raw files exist).
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    splits = {}
    for split, n in (("train", 7), ("t10k", 3)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
        splits[split] = images, labels
    with caplog.at_level(logging.WARNING, logger="dlgtut"):
        train = load_dataset("mnist", root=tmp_path, size=28, limit=5)
        test = load_dataset("mnist", root=tmp_path, train=False, download=False)
    assert dlgtut_warnings(caplog) == []
    assert train.name == "mnist" and train.classes[3] == "3 - three"
    check_image_set(train, 5, 1, 28, 10)
    images, labels = splits["train"]
    assert torch.equal(train.images[:, 0], torch.from_numpy(images[:5]).float() / 255)
    assert train.labels.tolist() == labels[:5].tolist()
    check_image_set(test, 3, 1, 32, 10)
    assert test.labels.tolist() == splits["t10k"][1].tolist()
    assert "MNIST test set" in test.source and str(tmp_path) in test.source


@pytest.mark.parametrize("indices,fragment", [
    ([0.9], "subset indices must be integers, got dtype torch.float32"),  # not truncated to 0
    (torch.tensor([True, False, True, False]), "must be integers, got dtype torch.bool"),
    ("ab", "subset indices must be integers"),
])
def test_subset_refuses_floats_and_masks(refused, indices, fragment) -> None:
    refused(DataError, fragment, toy([0, 1, 2, 3]).subset, indices)


@pytest.mark.parametrize("images,fragment", [
    (torch.full((1, 1, 2, 2), float("nan")), "images contains NaN or inf"),
    (torch.full((1, 1, 2, 2), 2.0), "images must lie in [0, 1], got values in [2, 2]"),
])
def test_imageset_refuses_images_that_are_not_brightness(refused, images, fragment) -> None:
    refused(DataError, fragment, ImageSet, images, torch.tensor([0]), ("a",), "x", "y")


def test_imageset_refuses_metadata_of_the_wrong_kind(refused) -> None:
    x, y = torch.zeros(1, 1, 2, 2), torch.tensor([0])
    refused(WrongTypeError, "classes must be a sequence of class names, got int", ImageSet, x, y,
            5, "x", "y")
    refused(WrongTypeError, "an ImageSet's name must be a string, got NoneType", ImageSet, x, y,
            ("a",), None, "y")
    refused(DataError, "distinct_labels must be True or False", toy([0, 1]).batch, 0, 1,
            distinct_labels="no")


@pytest.mark.parametrize("kwargs,error,fragment", [
    ({"train": "no"}, DataError, "train must be True or False, got 'no'"),
    ({"download": 0}, DataError, "download must be True or False, got 0"),
    ({"root": 5}, WrongTypeError, "root must be a path, got int"),
])
def test_load_dataset_refuses_flags_and_roots_of_the_wrong_kind(refused, kwargs, error,
                                                                fragment) -> None:
    refused(error, fragment, load_dataset, "digits", size=8, **kwargs)
