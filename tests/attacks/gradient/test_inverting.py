"""Inverting Gradients: beats DLG on a ReLU network, inverts FedAvg, refuses bad input."""

import dataclasses

import pytest
import torch

from dlgtut.attacks import dlg
from dlgtut.attacks.gradient.inverting import (
    IGConfig,
    cosine_distance,
    inverting_gradients,
    total_variation,
)
from dlgtut.data import load_dataset
from dlgtut.errors import AttackError, ConfigError, DataError, WrongTypeError
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.metrics import score
from dlgtut.models import LeNet


@pytest.fixture(scope="module")
def chelsea():
    photos = load_dataset("photos", size=32, channels=3)
    return PrivateBatch(photos.images[[photos.classes.index("chelsea")]], torch.tensor([3]))


def _relu_net():
    return LeNet(3, 100, 32, "relu", seed=0, init="default")


def test_ig_recovers_a_photo_from_a_relu_network_where_dlg_fails(chelsea):
    # Geiping et al.'s point: matching the gradient's direction with a TV prior works on ReLU
    # networks, where DLG's L-BFGS on the squared distance stalls.
    update = Participant(_relu_net()).fedsgd(chelsea)
    # 1,000 steps: 19.1 dB / SSIM 0.462 with AVX-512 and with AVX2 kernels (torch 2.14.1, one
    # thread), as good as 2,000 steps (18.9 dB / 0.432), which this test took before.
    ig = inverting_gradients(update, iterations=1000, trials=1, tv_weight=0.1, progress=False)
    ours = score(ig.images, ig.labels, chelsea.images, chelsea.labels)
    base = dlg(update, iterations=200, progress=False)
    theirs = score(base.images, base.labels, chelsea.images, chelsea.labels)
    assert ig.labels.tolist() == [3]
    # Measured (seed 0, torch 2.14.1): IG as above; DLG stalls at 16.7 dB / SSIM 0.33. (With
    # torch 2.15, IG at 2,000 steps reached 0.46: the numbers move with the torch build.) Each
    # bound leaves at least half of the measured gap: IG above 0.38, DLG below 0.4, IG ahead by
    # 0.05 SSIM and 1 dB where we measured 0.13 and 2.4 dB.
    assert ours.psnr > 17.5 and ours.ssim > 0.38, ours
    assert base.status == "stalled" and theirs.ssim < 0.4, (base.status, theirs)
    assert ours.ssim > theirs.ssim + 0.05 and ours.psnr > theirs.psnr + 1, (ours, theirs)


def test_ig_beats_dlg_on_a_trained_relu_network():
    # Geiping et al.: trained networks are where DLG fails and IG still recovers the image.
    # A ReLU LeNet trained for 5 epochs on 1200 real digits (84 % on the rest), attacked on a
    # held-out digit it classifies. The Beyond DLG chapter attacks digit 1300 with this very
    # network and IG budget, in its reduced run too (tests/test_book.py); this is another one.
    from dlgtut.training import train_classifier

    digits = load_dataset("digits", size=16)
    net = LeNet(1, 10, 16, "relu", seed=0, init="default")
    train_classifier(net, digits.images[:1200], digits.labels[:1200], epochs=5, seed=0)
    batch = PrivateBatch(digits.images[1400:1401], digits.labels[1400:1401])
    update = Participant(net).fedsgd(batch)
    ig = inverting_gradients(update, iterations=1000, trials=1, progress=False)
    ours = score(ig.images, ig.labels, batch.images, batch.labels)
    base = dlg(update, progress=False)
    theirs = score(base.images, base.labels, batch.images, batch.labels)
    # Measured with AVX-512 and with AVX2 kernels: IG 25.9 and 25.7 dB (SSIM 0.98); DLG 12.7
    # and 12.6 dB (SSIM 0.76, 0.75).
    assert ours.label_accuracy == 1.0 and ours.ssim > 0.9, ours
    assert ours.psnr > theirs.psnr + 5, (ours, theirs)


def test_unrolling_local_steps_inverts_a_fedavg_update(chelsea):
    update = Participant(_relu_net()).fedavg(chelsea, local_steps=3, lr=0.1)
    # 750 steps: both runs have settled by then (the same scores as after 1,500, measured).
    unrolled = inverting_gradients(update, iterations=750, trials=1, tv_weight=0.05,
                                   progress=False)
    # The same weight change read as if it were one averaged gradient (what DLG must assume).
    naive = dataclasses.replace(update, kind="gradient", local_steps=None, lr=None,
                                tensors=tuple(-t / 0.3 for t in update.tensors))
    flat = inverting_gradients(naive, iterations=750, trials=1, tv_weight=0.05, progress=False)
    good = score(unrolled.images, unrolled.labels, chelsea.images, chelsea.labels)
    bad = score(flat.images, flat.labels, chelsea.images, chelsea.labels)
    assert unrolled.labels.tolist() == [3]
    # Measured: unrolled 20.0 dB / SSIM 0.38; read as one gradient 8.3 dB / SSIM 0.04.
    assert good.psnr > 18 and good.ssim > 0.3, good
    assert good.psnr > bad.psnr + 8 and good.ssim > bad.ssim + 0.25, (good, bad)


def test_same_seed_same_reconstruction(chelsea):
    update = Participant(_relu_net()).fedsgd(chelsea)
    runs = [inverting_gradients(update, iterations=30, trials=2, progress=False, seed=7)
            for _ in range(2)]
    assert torch.equal(runs[0].images, runs[1].images)
    assert runs[0].restarts == 1 and len(runs[0].distances) == 30


def test_bad_input_is_refused(chelsea):
    update = Participant(_relu_net()).fedsgd(chelsea)
    with pytest.raises(ConfigError, match="labels for a batch"):
        inverting_gradients(update, labels=torch.tensor([1, 2]), progress=False)
    with pytest.raises(ConfigError, match="labels must lie"):
        inverting_gradients(update, labels=torch.tensor([100]), progress=False)
    with pytest.raises(ConfigError, match="at least 1"):
        IGConfig(iterations=0)
    with pytest.raises(ConfigError, match="init"):
        IGConfig(init="zeros")
    zero = dataclasses.replace(update, tensors=tuple(torch.zeros_like(t) for t in update.tensors))
    with pytest.raises(AttackError, match="all zeros"):
        inverting_gradients(zero, progress=False)
    nan = dataclasses.replace(update, tensors=(update.tensors[0] * float("nan"),
                                               *update.tensors[1:]))
    with pytest.raises(AttackError, match="NaN"):
        inverting_gradients(nan, progress=False)


def test_default_init_lenet_is_reproducible_and_fan_in_scaled():
    a, b = _relu_net(), _relu_net()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert a.fc[0].weight.abs().max().item() < 0.05  # 1/sqrt(768), not the paper's 0.5
    with pytest.raises(ConfigError, match="init"):
        LeNet(init="xavier")


@pytest.mark.parametrize("kwargs,fragment", [
    ({"lr": float("inf")}, "lr must be a finite number"),
    ({"tv_weight": float("nan")}, "tv_weight must be a finite number"),
    ({"iterations": 2.5}, "iterations must be an integer, got 2.5"),
    ({"trials": True}, "trials must be an integer, got True"),
    ({"stop_distance": float("nan")}, "stop_distance must be a finite number"),
    ({"time_limit": -1.0}, "time_limit must be positive"),
    ({"snapshot_every": 1.5}, "snapshot_every must be a non-negative integer"),
    ({"signed": "yes"}, "signed must be True or False"),
    ({"repeated_labels": 1}, "repeated_labels must be True or False"),
    ({"seed": 0.5}, "seed must be a non-negative integer"),
    ({"init": ["rand"]}, "init must be one of rand, randn, grey"),
])
def test_ig_config_refuses_nan_inf_and_wrong_kinds(refused, kwargs, fragment):
    refused(ConfigError, fragment, IGConfig, **kwargs)


def test_inverting_gradients_refuses_float_labels_and_configs_of_the_wrong_kind(refused):
    net = LeNet(1, 10, 8, "relu", seed=0, init="default")
    update = Participant(net).fedsgd(PrivateBatch(torch.rand(1, 1, 8, 8), torch.tensor([4])))
    refused(DataError, "labels must be integer class indices", inverting_gradients, update,
            labels=torch.tensor([4.7]))  # refused, not truncated to 4
    refused(WrongTypeError, "config must be an IGConfig", inverting_gradients, update, "fast")
    refused(ConfigError, "IGConfig has no setting 'iteration'", inverting_gradients, update,
            iteration=5)


def test_total_variation_and_cosine_distance_refuse_bad_input(refused):
    refused(DataError, "x must be a tensor", total_variation, [[0.0, 1.0]])
    refused(DataError, "2 x 2 pixels at least", total_variation, torch.zeros(1, 1, 1, 4))
    refused(DataError, "x must be a floating-point tensor", total_variation,
            torch.zeros(1, 1, 2, 2, dtype=torch.long))
    refused(DataError, "two non-empty lists of tensors of the same shapes", cosine_distance,
            [torch.zeros(2)], [torch.zeros(3)])
    refused(DataError, "two non-empty lists of tensors", cosine_distance, [], [])


def test_the_best_trial_is_kept_and_named(chelsea, monkeypatch):
    from dlgtut.attacks.gradient import inverting
    from dlgtut.attacks.result import Attempt

    update = Participant(_relu_net()).fedsgd(chelsea)
    good = chelsea.images.clone()
    trials = iter([Attempt("max_iterations", "ran out", 30, 0.2, torch.rand_like(good)),
                   Attempt("max_iterations", "ran out", 30, 0.05, good),
                   Attempt("diverged", "NaN", 2, float("nan"), torch.rand_like(good))])
    monkeypatch.setattr(inverting, "_trial", lambda *a, **k: next(trials))
    rec = inverting_gradients(update, iterations=30, trials=3, progress=False)
    assert torch.equal(rec.images, good) and rec.distance == 0.05
    assert rec.restarts == 2 and "best of 3 trials" in rec.message


def test_a_matched_gradient_converges_now_that_the_distance_is_exact():
    """One minus a cosine near 1 cannot fall below about 1e-7 in float32, where IG's stop
    distance sat, so IG never said 'converged'. Measured in float64 it can: this digit, on the
    paper's Sigmoid LeNet without the prior, converges at step 2,036 at 45.2 dB."""
    digits = load_dataset("digits", size=16)
    x, y = digits.images[:1], digits.labels[:1]
    update = Participant(LeNet(1, 10, 16, seed=1234)).fedsgd(PrivateBatch(x, y))
    rec = inverting_gradients(update, iterations=3000, trials=1, tv_weight=0.0, init="grey",
                              progress=False)
    assert rec.status == "converged" and rec.distance < 1e-7 and rec.iterations < 3000
    assert score(rec.images, rec.labels, x, y).psnr > 35


def test_the_cosine_distance_in_double_sees_below_float32_s_floor():
    a = torch.ones(1000)
    b = a.clone()
    b[0] += 1e-4  # 1 - cos = 5e-12 or so
    exact = float(cosine_distance([a.double()], [b.double()]))
    assert 0 < exact < 1e-10
    assert float(cosine_distance([a], [b], dtype=torch.float64)) == pytest.approx(exact, rel=1e-6)
    assert abs(float(cosine_distance([a], [b])) - exact) > 10 * exact  # float32's rounding


def test_the_paper_s_settings_are_the_reference_code_s_carried_into_pixels():
    # The reference steps 0.1, starts from N(0, 1) and weighs TV 1e-4 in the normalised image
    # (x - mean) / std; in pixels that is 0.1 std, std N(0, 1) and 1e-4 / std.
    cfg = IGConfig.paper()
    assert (cfg.iterations, cfg.trials, cfg.init) == (24_000, 1, "randn")
    assert (cfg.lr, cfg.noise_std, cfg.tv_weight) == pytest.approx((0.025, 0.25, 4e-4))
    assert cfg.signed and cfg.boxed and cfg.decay and cfg.stop_distance is None
    assert IGConfig.paper(trials=8).trials == 8
    assert IGConfig.paper(std=0.5).lr == pytest.approx(0.05)
    for bad in (0, -0.1, float("nan"), 2.0, "0.25"):
        with pytest.raises(ConfigError, match="std"):
            IGConfig.paper(std=bad)


def test_the_gaussian_start_has_the_asked_spread():
    from dlgtut.attacks.gradient.inverting import _start

    gen = torch.Generator().manual_seed(0)
    x = _start(IGConfig(init="randn", noise_std=0.1), (4, 3, 32, 32), gen)
    assert x.mean().item() == pytest.approx(0.5, abs=0.01)
    assert x.std().item() == pytest.approx(0.1, rel=0.05)  # few pixels reach the clamp
