"""Tests of dlgtut.metrics against scikit-image, scikit-learn and closed forms."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity
from sklearn.metrics import accuracy_score

from dlgtut.errors import DataError
from dlgtut.metrics import (
    Scores,
    fraction_exact,
    label_accuracy,
    match,
    mse,
    psnr,
    score,
    score_images,
    ssim,
)


def _rand(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _pair(n: int, c: int, h: int, w: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    target = _rand(n, c, h, w, seed=1, dtype=dtype)
    pred = (target + 0.2 * (_rand(n, c, h, w, seed=2, dtype=dtype) - 0.5)).clamp(0, 1)
    return pred, target


SHAPES = [(1, 1, 8, 8), (5, 3, 32, 32), (3, 1, 28, 28), (2, 3, 6, 9)]
DTYPES = [torch.float32, torch.float64]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_mse_and_psnr_agree_with_skimage(shape: tuple[int, ...], dtype: torch.dtype) -> None:
    pred, target = _pair(*shape, dtype=dtype)
    got_mse, got_psnr = mse(pred, target), psnr(pred, target)
    assert got_mse.shape == got_psnr.shape == (shape[0],)
    assert got_mse.dtype == got_psnr.dtype == dtype
    p, t = pred.numpy().astype(np.float64), target.numpy().astype(np.float64)
    want_mse = [mean_squared_error(t[i], p[i]) for i in range(shape[0])]
    want_psnr = [peak_signal_noise_ratio(t[i], p[i], data_range=1.0) for i in range(shape[0])]
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(got_mse.double().numpy(), want_mse, rtol=tol)
    np.testing.assert_allclose(got_psnr.double().numpy(), want_psnr, rtol=tol)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_ssim_agrees_with_skimage(shape: tuple[int, ...], dtype: torch.dtype) -> None:
    pred, target = _pair(*shape, dtype=dtype)
    got = ssim(pred, target)
    assert got.shape == (shape[0],) and got.dtype == dtype
    win = 5 if min(shape[2:]) == 6 else 7  # largest odd window <= min(7, H, W)
    p, t = pred.double().numpy(), target.double().numpy()
    want = [
        structural_similarity(t[i], p[i], win_size=win, data_range=1.0, channel_axis=0)
        for i in range(shape[0])
    ]
    np.testing.assert_allclose(
        got.double().numpy(), want, rtol=1e-5 if dtype == torch.float32 else 1e-12
    )
    assert (got < 1).all()


@pytest.mark.parametrize(("side", "win"), [(3, 3), (4, 3), (5, 5), (8, 7), (64, 7)])
def test_ssim_window_fits_small_images(side: int, win: int) -> None:
    pred, target = _pair(2, 1, side, side, dtype=torch.float64)
    want = [
        structural_similarity(
            target[i].numpy(), pred[i].numpy(), win_size=win, data_range=1.0, channel_axis=0
        )
        for i in range(2)
    ]
    np.testing.assert_allclose(ssim(pred, target).numpy(), want, rtol=1e-12)


def test_ssim_rejects_images_smaller_than_three_pixels() -> None:
    with pytest.raises(DataError, match="3 x 3"):
        ssim(_rand(1, 1, 2, 8), _rand(1, 1, 2, 8))


def test_identical_images_score_100_db_and_ssim_1() -> None:
    x = _rand(4, 3, 16, 16)
    got = psnr(x, x.clone())
    assert torch.isfinite(got).all()
    np.testing.assert_allclose(got.numpy(), 100.0, rtol=1e-6)
    np.testing.assert_allclose(ssim(x, x).numpy(), 1.0, rtol=1e-6)
    assert mse(x, x).abs().max().item() == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_psnr_of_known_noise_is_the_closed_form(dtype: torch.dtype) -> None:
    target = torch.full((3, 1, 10, 10), 0.5, dtype=dtype)
    sigma = torch.tensor([0.1, 0.01, 0.3], dtype=torch.float64)
    signs = torch.ones(1, 10, 10, dtype=dtype)
    signs[:, ::2] = -1  # +-sigma noise: MSE = sigma^2 exactly
    pred = target + sigma.to(dtype).view(3, 1, 1, 1) * signs
    want = 10 * torch.log10(1 / sigma**2)
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    np.testing.assert_allclose(psnr(pred, target).double().numpy(), want.numpy(), rtol=tol)
    np.testing.assert_allclose(mse(pred, target).double().numpy(), (sigma**2).numpy(), rtol=tol)
    # The data range enters as R^2 over the MSE.
    want_r2 = 10 * torch.log10(4 / sigma**2)
    np.testing.assert_allclose(
        psnr(pred, target, data_range=2.0).double().numpy(), want_r2.numpy(), rtol=tol
    )


def test_mse_of_opposite_images() -> None:
    zero_one = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    one_zero = 1 - zero_one
    half = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    pred = torch.stack([zero_one, zero_one, zero_one]).unsqueeze(1)
    target = torch.stack([one_zero, zero_one, half]).unsqueeze(1)
    assert mse(pred, target).tolist() == [1.0, 0.0, 0.5]
    assert psnr(pred, target)[0].item() == pytest.approx(0.0)


def test_match_recovers_a_random_permutation() -> None:
    truth = _rand(8, 3, 12, 12, seed=3)
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(4))
    noise = 0.01 * torch.randn(8, 3, 12, 12, generator=torch.Generator().manual_seed(5))
    pred = truth[perm] + noise
    got = match(pred, truth)
    assert got.dtype == torch.long and got.shape == (8,)
    # pred[got[i]] is the match of truth[i]: pred[got] is truth order again.
    assert (perm[got] == torch.arange(8)).all()
    torch.testing.assert_close(pred[got], truth, atol=0.05, rtol=0)


def test_match_is_the_optimal_assignment() -> None:
    # Brute force over all 5! pairings: a greedy matcher would not always find the best one.
    for seed in range(5):
        pred, truth = _rand(5, 1, 3, 3, seed=seed), _rand(5, 1, 3, 3, seed=seed + 100)
        cost = ((truth[:, None] - pred[None]) ** 2).flatten(2).mean(2).double().numpy()
        best = min(
            itertools.permutations(range(5)), key=lambda p: sum(cost[i, p[i]] for i in range(5))
        )
        got = match(pred, truth).tolist()
        assert sum(cost[i, got[i]] for i in range(5)) == pytest.approx(
            sum(cost[i, best[i]] for i in range(5)), rel=1e-12
        )


def test_score_undoes_the_permutation_and_checks_labels() -> None:
    truth = _rand(8, 1, 8, 8, seed=6)
    labels = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6])
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(7))
    pred = truth[perm] + 1e-3 * torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(8))
    s = score(pred, labels[perm], truth, labels)
    assert isinstance(s, Scores)
    assert (perm[torch.tensor(s.assignment)] == torch.arange(8)).all()
    assert s.label_accuracy == 1.0
    assert max(s.per_image["mse"]) < 1e-5
    assert min(s.per_image["psnr"]) > 45
    assert min(s.per_image["ssim"]) > 0.99
    assert s.mse == pytest.approx(np.mean(s.per_image["mse"]))
    assert s.psnr == pytest.approx(np.mean(s.per_image["psnr"]))
    assert s.ssim == pytest.approx(np.mean(s.per_image["ssim"]))
    # Per-image values are in truth order: image i against its own match.
    ordered = pred.clamp(0, 1)[torch.tensor(s.assignment)]
    np.testing.assert_allclose(s.per_image["mse"], mse(ordered, truth).numpy(), rtol=1e-5)

    wrong = labels[perm].clone()
    wrong[0] = (wrong[0] + 1) % 10
    assert score(pred, wrong, truth, labels).label_accuracy == pytest.approx(7 / 8)
    wrong[5] = (wrong[5] + 1) % 10
    assert score(pred, wrong, truth, labels).label_accuracy == pytest.approx(6 / 8)
    # Unpermuted labels against permuted images are mostly wrong.
    assert score(pred, labels, truth, labels).label_accuracy < 1.0


def test_label_accuracy_agrees_with_sklearn() -> None:
    gen = torch.Generator().manual_seed(9)
    for n in (1, 7, 64):
        pred = torch.randint(0, 4, (n,), generator=gen)
        true = torch.randint(0, 4, (n,), generator=gen)
        assert label_accuracy(pred, true) == pytest.approx(accuracy_score(true, pred))
    assert label_accuracy([1, 2, 3], [1, 2, 3]) == 1.0
    assert isinstance(label_accuracy(torch.tensor([1]), torch.tensor([0])), float)


def test_reconstruction_is_clamped_before_scoring() -> None:
    truth = _rand(3, 3, 8, 8, seed=10)
    noise = 3 * (_rand(3, 3, 8, 8, seed=11) - 0.5)  # values far outside [0, 1]
    pred = truth + noise
    assert pred.min() < -0.5 and pred.max() > 1.5
    s = score(pred, [0, 1, 2], truth, [0, 1, 2])
    clamped = pred.clamp(0, 1)[torch.tensor(s.assignment)]
    np.testing.assert_allclose(s.per_image["mse"], mse(clamped, truth).numpy(), rtol=1e-6)
    np.testing.assert_allclose(s.per_image["ssim"], ssim(clamped, truth).numpy(), rtol=1e-6)
    assert s.mse < mse(pred[torch.tensor(s.assignment)], truth).mean().item()
    # A white image overshooting to 2 is, after clamping, exactly white.
    white = torch.ones(1, 1, 8, 8)
    assert score(2 * white, [0], white, [0]).psnr == pytest.approx(100.0)


@pytest.mark.parametrize("n", [1, 64])
@pytest.mark.parametrize("dtype", DTYPES)
def test_score_batch_sizes_and_json(n: int, dtype: torch.dtype) -> None:
    truth = _rand(n, 1, 8, 8, seed=12, dtype=dtype)
    labels = torch.arange(n) % 10
    s = score(truth, labels, truth, labels)
    assert s.psnr == pytest.approx(100.0) and s.ssim == pytest.approx(1.0)
    assert s.assignment == list(range(n))
    d = json.loads(json.dumps(s.as_dict(), allow_nan=False))
    assert set(d) == {"mse", "psnr", "ssim", "label_accuracy", "per_image", "assignment"}
    assert set(d["per_image"]) == {"mse", "psnr", "ssim"}
    assert all(len(v) == n for v in d["per_image"].values())
    assert all(isinstance(v, float) for v in d["per_image"]["psnr"])
    assert d["label_accuracy"] == 1.0


BAD_PAIRS = {
    "batch": ((2, 1, 8, 8), (3, 1, 8, 8)),
    "channels": ((2, 1, 8, 8), (2, 3, 8, 8)),
    "height": ((2, 1, 8, 8), (2, 1, 9, 8)),
    "width": ((2, 1, 8, 8), (2, 1, 8, 7)),
    "3-D": ((1, 8, 8), (1, 8, 8)),
    "empty": ((0, 1, 8, 8), (0, 1, 8, 8)),
}


@pytest.mark.parametrize("case", list(BAD_PAIRS))
@pytest.mark.parametrize("fn", [mse, psnr, ssim, match])
def test_shape_mismatch_raises_data_error(case: str, fn) -> None:
    a, b = BAD_PAIRS[case]
    with pytest.raises(DataError) as info:
        fn(torch.rand(*a), torch.rand(*b))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("case", list(BAD_PAIRS))
def test_score_shape_mismatch_raises_data_error(case: str) -> None:
    a, b = BAD_PAIRS[case]
    n = max(a[0], 1)
    with pytest.raises(DataError):
        score(torch.rand(*a), [0] * n, torch.rand(*b), [0] * n)


def test_score_rejects_bad_labels_and_data() -> None:
    x = _rand(3, 1, 8, 8)
    with pytest.raises(DataError, match="labels"):
        score(x, [0, 1], x, [0, 1, 2])
    with pytest.raises(DataError, match="labels"):
        score(x, [0, 1, 2], x, [0, 1])
    with pytest.raises(DataError):
        label_accuracy(torch.tensor([1, 2]), torch.tensor([1, 2, 3]))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        score(x, [0, 1, 2], x * 255, [0, 1, 2])  # truth not in [0, 1]
    nan = x.clone()
    nan[0, 0, 0, 0] = math.nan
    with pytest.raises(DataError, match="NaN"):
        score(nan, [0, 1, 2], x, [0, 1, 2])
    with pytest.raises(DataError):
        mse(x.long(), x.long())


def _with_nan() -> torch.Tensor:
    x = _rand(2, 1, 4, 4)
    x[1, 0, 2, 2] = math.nan
    return x


@pytest.mark.parametrize("fn", [mse, psnr, ssim])
@pytest.mark.parametrize("which", ["pred", "target"])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_per_image_metrics_refuse_nan_and_inf_instead_of_returning_it(refused, fn, which, bad):
    x, y = _rand(2, 1, 4, 4), _rand(2, 1, 4, 4, seed=1)
    (x if which == "pred" else y)[0, 0, 1, 1] = bad
    refused(DataError, f"{which} contains NaN or inf", fn, x, y)


@pytest.mark.parametrize("fn", [psnr, ssim])
@pytest.mark.parametrize("data_range,fragment", [
    (math.inf, "data_range must be a finite number"),
    (math.nan, "data_range must be a finite number"),
    (0, "data_range must be positive"),
    ("1", "data_range must be a number"),
    (True, "data_range must be a number"),
])
def test_data_range_must_be_a_positive_finite_number(refused, fn, data_range, fragment):
    x = _rand(1, 1, 4, 4)
    refused(DataError, fragment, fn, x, x, data_range=data_range)


@pytest.mark.parametrize("pred,true,fragment", [
    (torch.tensor([1.7, 2.0]), torch.tensor([1, 2]), "pred_labels must be integer class indices"),
    ([1, 2], [1.0, 2.0], "true_labels must be integer class indices"),  # refused, not truncated
    (torch.tensor([True, False]), [1, 0], "integer class indices"),
    ([-1, 2], [1, 2], "must not be negative"),
    ([[1, 2]], [1, 2], "must be one-dimensional"),
    ("ab", [1, 2], "integer class indices"),
])
def test_label_accuracy_refuses_labels_that_are_not_integers(refused, pred, true, fragment):
    refused(DataError, fragment, label_accuracy, pred, true)


def test_score_refuses_float_labels_and_empty_images(refused):
    x = _rand(2, 1, 8, 8)
    refused(DataError, "pred_labels must be integer class indices", score, x, [0.5, 1.0], x,
            [0, 1])
    refused(DataError, "without pixels", mse, torch.rand(2, 0, 4, 4), torch.rand(2, 0, 4, 4))
    refused(DataError, "pred must be a tensor, got list", mse, [[0.0]], x)


def test_match_still_refuses_nan(refused):
    refused(DataError, "NaN or inf", match, _with_nan(), _rand(2, 1, 4, 4))


def test_score_images_pairs_every_exact_image_with_its_reconstruction() -> None:
    truth = _rand(3, 1, 8, 8, seed=3)
    # Two exact images and a blend of the third with a grey image: minimising the total MSE
    # can trade an exact pair for two close ones; maximising the total PSNR never does.
    blend = (0.5 * truth[2] + 0.25)[None]
    pred = torch.cat([truth[1:2], blend, truth[0:1]])
    s = score_images(pred, truth)
    assert s.assignment == [2, 0, 1]
    assert s.per_image["psnr"][:2] == [100.0, 100.0] and s.per_image["psnr"][2] < 40
    assert math.isnan(s.label_accuracy) and fraction_exact(s) == pytest.approx(2 / 3)
    assert json.loads(json.dumps(s.as_dict()["per_image"]))


def test_fraction_exact_counts_strictly_above_the_threshold() -> None:
    assert fraction_exact([40.0, 40.1, 100.0, 3.0]) == 0.5
    assert fraction_exact([25.0], threshold_db=20) == 1.0
    with pytest.raises(DataError, match="no PSNR values"):
        fraction_exact([])


def test_scores_take_images_from_any_device_and_come_back_on_the_cpu(device):
    gen = torch.Generator().manual_seed(0)
    truth = torch.rand(3, 1, 8, 8, generator=gen)
    rec = (truth + 0.05 * torch.randn(3, 1, 8, 8, generator=gen)).clamp(0, 1)[[2, 0, 1]]
    for fn in (mse, psnr, ssim):
        out = fn(rec.to(device), truth)  # a reconstruction on the device, the truth on the CPU
        assert out.device.type == "cpu"
        torch.testing.assert_close(out, fn(rec, truth))
    assert match(rec.to(device), truth.to(device)).tolist() == match(rec, truth).tolist()
    labels = torch.tensor([3, 1, 2])
    on_device = score(rec.to(device), labels.to(device), truth, [1, 2, 3])
    assert on_device == score(rec, labels, truth, [1, 2, 3])
    assert score_images(rec.to(device), truth.to(device)) == score_images(rec, truth)
    assert label_accuracy(labels.to(device), labels) == 1.0


def test_per_image_scores_keep_a_float64_input_float64():
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    assert all(fn(x, x).dtype == torch.float64 for fn in (mse, psnr, ssim))
