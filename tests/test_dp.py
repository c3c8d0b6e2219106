"""DP-SGD updates: Opacus clips and noises as configured, and enough noise stops DLG."""

import pytest
import torch

from dlgtut.attacks import dlg
from dlgtut.data import load_dataset
from dlgtut.dp import dp_sgd_update
from dlgtut.errors import ConfigError, DataError, WrongTypeError
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.metrics import score
from dlgtut.models import LeNet


@pytest.fixture(scope="module")
def setting():
    d = load_dataset("digits", size=16)
    net = LeNet(1, 10, 16, "tanh", seed=0, init="default")
    return net, PrivateBatch(d.images[:1], d.labels[:1])


def _flat(u):
    return torch.cat([t.flatten() for t in u.tensors])


def test_without_noise_or_clipping_it_is_the_plain_gradient(setting):
    net, batch = setting
    dp = dp_sgd_update(net, batch, noise_multiplier=0.0, max_grad_norm=1e6)
    plain = Participant(net).fedsgd(batch)
    assert torch.allclose(_flat(dp), _flat(plain), atol=1e-6)


def test_clipping_bounds_the_norm_and_noise_has_the_stated_scale(setting):
    net, batch = setting
    clipped = dp_sgd_update(net, batch, noise_multiplier=0.0, max_grad_norm=0.01)
    assert _flat(clipped).norm() == pytest.approx(0.01, rel=1e-4)
    noisy = dp_sgd_update(net, batch, noise_multiplier=2.0, max_grad_norm=0.01, seed=0)
    noise = _flat(noisy) - _flat(clipped)
    assert noise.std().item() == pytest.approx(2.0 * 0.01, rel=0.05)  # sigma * C / batch of 1


def test_dlg_recovers_a_clipped_gradient_but_not_a_noised_one(setting):
    net, batch = setting
    clipped = dp_sgd_update(net, batch, noise_multiplier=0.0, max_grad_norm=0.1)
    noised = dp_sgd_update(net, batch, noise_multiplier=1.0, max_grad_norm=0.1, seed=0)
    # Clipping only rescales one example's gradient, which the cosine distance ignores (the
    # squared distance does not: it would need the scale the clipping removed).
    good = dlg(clipped, iterations=100, progress=False, distance="cosine")
    bad = dlg(noised, iterations=100, progress=False, distance="cosine")
    assert score(good.images, good.labels, batch.images, batch.labels).psnr > 40
    assert score(bad.images, bad.labels, batch.images, batch.labels).psnr < 12


def test_a_gradient_far_smaller_than_its_weights_keeps_its_digits():
    # The gradient is read off the optimiser, not off a weight change: in float32 a weight of
    # 1e4 moves in steps of 1e-3, which would round a gradient of 0.1 to 10 %.
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    with torch.no_grad():
        net[1].weight.fill_(1e4)
    batch = PrivateBatch(torch.rand(2, 1, 2, 2, generator=torch.Generator().manual_seed(0)),
                         torch.tensor([0, 1]))
    plain = Participant(net).fedsgd(batch)
    dp = dp_sgd_update(net, batch, noise_multiplier=0.0, max_grad_norm=1e6)
    assert torch.allclose(_flat(dp), _flat(plain), rtol=1e-5, atol=0)


def test_a_negative_noise_multiplier_is_refused():
    with pytest.raises(ConfigError, match="noise_multiplier"):
        dp_sgd_update(LeNet(1, 10, 8), PrivateBatch(torch.rand(1, 1, 8, 8), torch.tensor([0])),
                      noise_multiplier=-1.0)


def _batch() -> PrivateBatch:
    return PrivateBatch(torch.rand(2, 1, 8, 8), torch.tensor([0, 1]))


@pytest.mark.parametrize("kwargs,fragment", [
    ({"noise_multiplier": float("inf")}, "noise_multiplier must be a finite number"),
    ({"noise_multiplier": float("nan")}, "noise_multiplier must be a finite number"),
    ({"noise_multiplier": True}, "noise_multiplier must be a number"),
    ({"noise_multiplier": 1.0, "max_grad_norm": float("inf")}, "max_grad_norm must be a finite"),
    ({"noise_multiplier": 1.0, "max_grad_norm": 0}, "max_grad_norm must be positive"),
    ({"noise_multiplier": 1.0, "seed": -3}, "seed must be a non-negative integer"),
])
def test_dp_sgd_update_refuses_bad_settings(refused, kwargs, fragment):
    refused(ConfigError, fragment, dp_sgd_update, LeNet(1, 10, 8), _batch(), **kwargs)


def test_dp_sgd_update_refuses_bad_models_and_batches(refused):
    from torch import nn

    net = LeNet(1, 10, 8, "tanh", seed=0, init="default")
    refused(WrongTypeError, "needs a PrivateBatch, got tuple", dp_sgd_update, net,
            (torch.rand(1, 1, 8, 8), torch.tensor([0])), noise_multiplier=1.0)
    refused(WrongTypeError, "torch.nn.Module, got dict", dp_sgd_update, {}, _batch(),
            noise_multiplier=1.0)
    refused(DataError, "the model cannot take images of shape (3, 8, 8)", dp_sgd_update, net,
            PrivateBatch(torch.rand(1, 3, 8, 8), torch.tensor([0])), noise_multiplier=1.0)
    refused(DataError, "labels must lie in [0, 9]", dp_sgd_update, net,
            PrivateBatch(torch.rand(1, 1, 8, 8), torch.tensor([12])), noise_multiplier=1.0)
    bn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(72, 3))
    refused(DataError, "Opacus cannot train this model with DP-SGD: BatchNorm", dp_sgd_update,
            bn, _batch(), noise_multiplier=1.0)


def test_dp_sgd_update_follows_the_models_dtype():
    net = LeNet(1, 10, 8, "tanh", seed=0, init="default").double()
    update = dp_sgd_update(net, _batch(), noise_multiplier=1.0, seed=0)
    assert all(t.dtype == torch.float64 for t in update.tensors)


def test_dp_sgd_runs_on_the_models_device(device, setting):
    _, batch = setting
    net = LeNet(1, 10, 16, "tanh", seed=0, init="default").to(device)
    update = dp_sgd_update(net, batch, noise_multiplier=1.0, seed=3)
    assert all(t.device.type == device.type for t in update.tensors)
    again = dp_sgd_update(update.model, batch, noise_multiplier=1.0, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(update.tensors, again.tensors, strict=True))


def test_dp_sgd_without_noise_on_cuda_equals_the_cpu_update(cuda, setting):
    net, batch = setting
    on_cpu = dp_sgd_update(net, batch, noise_multiplier=0.0, max_grad_norm=0.1)
    on_cuda = dp_sgd_update(LeNet(1, 10, 16, "tanh", seed=0, init="default").to(cuda), batch,
                            noise_multiplier=0.0, max_grad_norm=0.1)
    for a, b in zip(on_cpu.tensors, on_cuda.tensors, strict=True):
        torch.testing.assert_close(b.cpu(), a, rtol=1e-4, atol=1e-6)
