"""leak --attack imprint / trap: the outputs of a malicious server's run, and its refusals."""

import json

import numpy as np
import pytest
from PIL import Image

from dlgtut.cli import main
from dlgtut.data import load_dataset
from dlgtut.metrics import EXACT_PSNR_DB

# A reader's own photos: 32 x 32 PNGs of regions of scikit-image photos (a cat's eye, a face, a
# cup, a rocket, cells, a retina, a suit, a cat's nose), none of them a tile of `patches`.
PHOTOS = [("chelsea", 40, 120, 200), ("astronaut", 0, 150, 200), ("coffee", 50, 200, 250),
          ("rocket", 100, 200, 200), ("immunohistochemistry", 100, 100, 160),
          ("retina", 200, 200, 400), ("astronaut", 250, 250, 160), ("chelsea", 150, 250, 128)]


def _run(tmp_path, *argv):
    out = tmp_path / "run"
    code = main(["leak", *argv, "--out", str(out), "--quiet"])
    assert code == 0
    return out, json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory):
    """The paths of :data:`PHOTOS` written as PNG files, in that order."""
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    paths = []
    for i, (name, top, left, side) in enumerate(PHOTOS):
        region = getattr(data, name)()[top:top + side, left:left + side]
        paths.append(str(folder / f"{i}_{name}.png"))
        Image.fromarray(region).resize((32, 32), Image.LANCZOS).save(paths[-1])
    return paths


def _pixels(paths):
    """The files' pixels as N x C x H x W in [0, 1], read with PIL alone."""
    return np.stack([np.asarray(Image.open(p)).transpose(2, 0, 1) / 255.0 for p in paths])


def _psnr(rec, truth):
    """PSNR of reconstruction i against image i (no pairing: the order is what is tested)."""
    mse = ((rec.astype(np.float64) - truth) ** 2).mean(axis=(1, 2, 3))
    return 10 * np.log10(1 / np.maximum(mse, 1e-10))


# Measured on the eight photos at the default seed, the same on AVX-512 and with
# ATEN_CPU_CAPABILITY=avx2, with one participant and with 2 or 4: imprint 6 of 8 (the cat's eye
# and the cup share a brightness bin; the bins do not depend on the seed: 6 at seeds 0-19 too);
# trap 8 of 8 (seeds 0-19: 4 to 8, mean 7.0). The thresholds leave one and two images.
AT_LEAST = {"imprint": 5, "trap": 6}


@pytest.mark.parametrize("participants", [1, 2])
@pytest.mark.parametrize("attack", ["imprint", "trap"])
def test_the_readers_own_photos_come_back_pixel_for_pixel_in_their_order(
        attack, participants, photo_files, tmp_path, capsys):
    out, metrics = _run(tmp_path, "--attack", attack, "--image", *photo_files,
                        "--public-data", "patches", "--participants", str(participants))
    rec = np.load(out / "reconstruction.npy")
    truth = _pixels(photo_files)
    assert rec.dtype == np.float32 and rec.shape == truth.shape == (8, 3, 32, 32)
    exact = _psnr(rec, truth) > EXACT_PSNR_DB  # reconstruction i is photo i, or a miss
    assert exact.sum() >= AT_LEAST[attack], _psnr(rec, truth).round(1)
    assert exact.sum() == metrics["images_exact"] and exact.tolist() == [
        p > EXACT_PSNR_DB for p in metrics["per_image"]["psnr"]]
    assert metrics["participants"] == participants and metrics["batch_size"] == 8 // participants
    assert metrics["secure_aggregation"] is (participants > 1)
    assert metrics["exact_per_participant"] == [
        int(part.sum()) for part in np.split(exact, participants)]
    # Where the private batch came from, and the public data's name and source.
    assert metrics["input"] == {"images": photo_files} and metrics["true_labels"] == [0] * 8
    patches = load_dataset("patches")
    assert metrics["public_data"] == {
        "dataset": "patches", "requested": "patches", "source": patches.source,
        "images": len(patches), "same_as_private": False, "copies_left_out": 0}
    printed = capsys.readouterr().out
    assert "Private batch: 8 --image file(s). Public data: 270 images of patches" in printed


def test_image_labels_and_grey_photos_follow_the_options(photo_files, tmp_path):
    out, metrics = _run(tmp_path, "--attack", "trap", "--image", *photo_files[:4],
                        "--label", "3", "1", "4", "1", "--channels", "1", "--public-data",
                        "faces", "--num-classes", "5")
    assert metrics["true_labels"] == [3, 1, 4, 1] and metrics["num_classes"] == 5
    assert metrics["public_data"]["dataset"] == "faces"
    rec = np.load(out / "reconstruction.npy")
    assert rec.shape == (4, 1, 32, 32)  # the public faces are grey too: the photos' channels
    # Measured: 4 of 4 at the default seed, on AVX-512 and AVX2 (seeds 0-19: 2 to 4, mean 3.5).
    assert metrics["images_exact"] >= 3


def test_public_data_never_hold_a_private_image(tmp_path):
    # photos and the 1 x 1 tiles of patches are the same pictures: the batch's three colour
    # photos (astronaut, chelsea, coffee; camera is grey) are left out of the public tiles.
    _, metrics = _run(tmp_path, "--attack", "imprint", "--dataset", "photos", "--batch-size",
                      "4", "--public-data", "patches")
    assert metrics["public_data"]["copies_left_out"] == 3 and metrics["public_images"] == 267
    # The batch's own dataset: its indices are left out, as without --public-data.
    runs = [_run(tmp_path / name, "--attack", "imprint", "--dataset", "digits", "--batch-size",
                 "16", *extra) for name, extra in (("own", ()), ("named", ("--public-data",
                                                                           "digits")))]
    (own, own_metrics), (named, named_metrics) = runs
    assert named_metrics["public_data"]["same_as_private"] is True
    assert named_metrics["public_images"] == own_metrics["public_images"] == 1797 - 16
    assert own_metrics["public_data"]["copies_left_out"] is None  # not looked for
    assert np.array_equal(np.load(own / "reconstruction.npy"),
                          np.load(named / "reconstruction.npy"))


def test_public_data_that_are_all_copies_of_the_photos_are_refused(tmp_path, capsys):
    photos = load_dataset("photos")  # 12 photos, written as PNG: 8-bit copies
    paths = []
    for i, image in enumerate(photos.images):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray((image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(
            paths[-1])
    code = main(["leak", "--attack", "imprint", "--image", *paths, "--public-data", "photos",
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "leaves the server 0 of photos's 12 images (12 copies" in err
    assert not (tmp_path / "o").exists()


def test_imprint_on_64_digits_writes_every_output(tmp_path, capsys):
    out, metrics = _run(tmp_path, "--attack", "imprint", "--dataset", "digits", "--batch-size",
                        "64")
    for name in ("metrics.json", "reconstruction.npy", "reconstruction.png", "breach.png"):
        assert (out / name).stat().st_size > 0, name
    assert not (out / "progress.png").exists()
    # Measured: 44 of 64 above 40 dB with 256 bins (the default, 4 per image).
    assert metrics["rows"] <= metrics["bins_requested"] == 256
    assert metrics["fraction_exact"] > 0.55 and metrics["images_exact"] > 35
    assert len(metrics["per_image"]["psnr"]) == 64 and metrics["label_accuracy"] is None
    assert metrics["participants"] == 1 and metrics["secure_aggregation"] is False
    assert metrics["seconds"] < 1.0 and metrics["status"] == "partial"
    # reconstruction.npy is in the input's order: an exact image sits where its input was.
    images = load_dataset("digits").images[:64].numpy()
    rec = np.load(out / "reconstruction.npy")
    assert rec.dtype == np.float32 and rec.shape == (64, 1, 32, 32)
    err = ((rec - images) ** 2).mean(axis=(1, 2, 3))
    assert int((err < 1e-4).sum()) == metrics["images_exact"]
    assert "above 40 dB from one participant's update" in capsys.readouterr().out


def test_trap_weights_against_secure_aggregation(tmp_path):
    out, metrics = _run(tmp_path, "--attack", "trap", "--dataset", "digits", "--index", "100",
                        "--batch-size", "4", "--participants", "4", "--bins", "256")
    assert metrics["secure_aggregation"] is True and metrics["images"] == 16
    assert metrics["input"]["indices"] == list(range(100, 116))
    assert metrics["rows"] == 256 and metrics["confirmed"] >= 1
    assert len(metrics["exact_per_participant"]) == 4
    assert sum(metrics["exact_per_participant"]) == metrics["images_exact"]
    # Measured: 15 of 16, all 16 readings confirmed by two rows or more.
    assert metrics["images_exact"] > 11


def test_help_says_what_a_closed_form_attack_writes(capsys):
    assert main(["leak", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--bins" in text and "--participants" in text and "breach.png" in text
    assert "--public-data" in text and "default 0 for every image" in text
    assert "imprint and trap" in text


@pytest.mark.parametrize("argv,message", [
    (["--attack", "imprint", "--dataset", "digits", "--bins", "0"], "--bins must be at least 1"),
    (["--dataset", "digits", "--bins", "8"], "--bins applies only to --attack imprint or trap"),
    (["--dataset", "digits", "--participants", "2"], "--participants applies only to --attack"),
    (["--attack", "trap", "--dataset", "digits", "--statistic", "random"],
     "--statistic applies only to --attack imprint"),
    (["--attack", "imprint", "--dataset", "digits", "--iterations", "5"],
     "--iterations applies only to the optimisation attacks"),
    (["--attack", "imprint", "--dataset", "digits", "--local-steps", "2"],
     "--local-steps applies only to the optimisation attacks"),
    (["--attack", "imprint", "--image", "x.png", "--label", "1"], "needs --public-data"),
    (["--dataset", "digits", "--public-data", "patches"],
     "--public-data applies only to --attack imprint or trap"),
    (["--text", "--public-data", "patches"], "--public-data applies to images"),
    (["--attack", "imprint", "--dataset", "photos", "--batch-size", "12"],
     "need 12 of photos's 12 images"),
    (["--attack", "trap", "--dataset", "digits", "--batch-size", "900", "--participants", "2"],
     "the server needs 2 more as public data"),
    (["--attack", "imprint", "--dataset", "digits", "--index", "1797"], "--index must lie"),
    (["--attack", "imprint", "--dataset", "digits", "--participants", "0"],
     "--participants must be at least 1"),
    (["--text", "--bins", "4"], "--bins applies to images"),
    (["--text", "--attack", "imprint"], "text uses dlg"),
])
def test_bad_input_gives_one_line_and_status_2(argv, message, tmp_path, capsys):
    try:
        code = main(["leak", *argv, "--out", str(tmp_path / "o"), "--quiet"])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_imprint_runs_on_cuda(cuda, tmp_path):
    out, metrics = _run(tmp_path, "--attack", "imprint", "--dataset", "digits", "--batch-size",
                        "16", "--device", "cuda")
    assert metrics["environment"]["device"].startswith("cuda:")
    assert metrics["images_exact"] > 8  # a lone image in its bin comes back on any device
