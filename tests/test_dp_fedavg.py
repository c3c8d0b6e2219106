"""DP-FedAvg's participant side (dlgtut.dp_fedavg): clipping, the noise shares, validation."""

from __future__ import annotations

import math

import pytest
import torch

from dlgtut.dp_fedavg import clip_update, dp_fedavg_defense
from dlgtut.errors import ConfigError, DataError, WrongTypeError
from dlgtut.fl import SharedUpdate
from dlgtut.server import federated_training, split_among


def _update(*tensors) -> SharedUpdate:
    return SharedUpdate(model=None, tensors=tuple(tensors), kind="weight_delta", batch_size=1,
                        input_shape=(1, 2, 2), num_classes=2)


def _norm(update: SharedUpdate) -> float:
    return float(torch.cat([t.flatten() for t in update.tensors]).norm())


def test_clip_scales_all_tensors_together_to_the_bound():
    u = _update(torch.full((3,), 2.0), torch.full((2, 2), -2.0))  # norm sqrt(7 * 4)
    c = clip_update(u, 1.0)
    assert _norm(c) == pytest.approx(1.0, abs=1e-6)
    ratio = c.tensors[0][0] / u.tensors[0][0]
    assert torch.allclose(c.tensors[1], u.tensors[1] * ratio)  # one scale for every tensor
    assert c.meta["clipped_from"] == pytest.approx(math.sqrt(28))


def test_an_update_inside_the_bound_is_unchanged():
    u = _update(torch.tensor([0.3, 0.4]))
    assert torch.equal(clip_update(u, 1.0).tensors[0], u.tensors[0])
    assert torch.equal(clip_update(_update(torch.zeros(3)), 1.0).tensors[0], torch.zeros(3))


def test_the_average_of_m_shares_has_dp_fedavg_noise():
    # m participants each add variance (z S)^2 / m: the average of their updates carries
    # noise of standard deviation z S / m per coordinate, as the server's N(0, z^2 S^2)/m.
    z, clip, m, size = 1.5, 0.5, 4, 200_000
    defend = dp_fedavg_defense(clip, z, m, seed=3)
    shares = [defend(_update(torch.zeros(size, dtype=torch.float64))).tensors[0]
              for _ in range(m)]
    average = torch.stack(shares).mean(0)
    # 200,000 draws: the sample std is within 0.5 % of the truth with overwhelming probability;
    # the test allows 2 %.
    assert float(average.std()) == pytest.approx(z * clip / m, rel=0.02)
    assert abs(float(average.mean())) < 5 * z * clip / m / math.sqrt(size)


def test_the_defence_clips_before_adding_noise_and_is_seeded():
    u = _update(torch.full((10,), 100.0))
    a = dp_fedavg_defense(1.0, 0.0, 5, seed=0)(u)
    assert _norm(a) == pytest.approx(1.0, abs=1e-5)
    noisy1 = dp_fedavg_defense(1.0, 1.0, 5, seed=7)(u).tensors[0]
    noisy2 = dp_fedavg_defense(1.0, 1.0, 5, seed=7)(u).tensors[0]
    assert torch.equal(noisy1, noisy2)
    assert not torch.equal(noisy1, a.tensors[0])


def test_without_noise_and_with_a_loose_clip_training_is_plain_fedavg():
    gen = torch.Generator().manual_seed(0)
    images, labels = torch.rand(60, 1, 4, 4, generator=gen), torch.arange(60) % 2
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    parts = split_among(images, labels, 3)
    kw = dict(rounds=3, algorithm="fedavg", lr=0.5, batch_size=10, clients_per_round=2, seed=0,
              record=True)
    plain = federated_training(net, parts, (images, labels), **kw)
    loose = federated_training(net, parts, (images, labels), defense=dp_fedavg_defense(
        1e6, 0.0, 2), **kw)
    assert plain.accuracy == loose.accuracy
    tight = federated_training(net, parts, (images, labels), defense=dp_fedavg_defense(
        1e-3, 0.0, 2), **kw)
    moved = [float((a - b).abs().max()) for a, b in zip(tight.states[-1].values(),
                                                         tight.states[0].values(), strict=True)]
    assert max(moved) <= 3 * 1e-3 + 1e-7  # three rounds of an average clipped to 1e-3


@pytest.mark.parametrize("clip", [0, -1.0, float("nan"), float("inf"), "1", True, None])
def test_a_bad_clip_is_refused(clip):
    with pytest.raises(ConfigError, match="clip"):
        dp_fedavg_defense(clip, 1.0, 5)
    with pytest.raises(ConfigError, match="clip"):
        clip_update(_update(torch.ones(2)), clip)


@pytest.mark.parametrize("z", [-0.1, float("nan"), float("inf"), "1", None])
def test_a_bad_noise_multiplier_is_refused(z):
    with pytest.raises(ConfigError, match="noise_multiplier"):
        dp_fedavg_defense(1.0, z, 5)


@pytest.mark.parametrize("m", [0, -3, 2.5, "5", None, True])
def test_a_bad_number_of_participants_is_refused(m):
    with pytest.raises(ConfigError, match="clients_per_round"):
        dp_fedavg_defense(1.0, 1.0, m)


def test_a_bad_seed_and_bad_updates_are_refused():
    with pytest.raises(ConfigError, match="seed"):
        dp_fedavg_defense(1.0, 1.0, 5, seed=-1)
    with pytest.raises(DataError, match="NaN or inf"):
        clip_update(_update(torch.tensor([1.0, float("nan")])), 1.0)
    with pytest.raises(WrongTypeError):
        clip_update(torch.ones(3), 1.0)
    with pytest.raises(DataError, match="NaN or inf"):
        dp_fedavg_defense(1.0, 1.0, 5)(_update(torch.tensor([float("inf")])))
