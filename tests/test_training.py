"""The centralised training loop: learns real data, is reproducible, refuses bad input."""

import pytest
import torch

from dlgtut.data import load_dataset
from dlgtut.errors import ConfigError, DataError
from dlgtut.server import accuracy
from dlgtut.training import MLP, predict_logits, train_classifier


@pytest.fixture(scope="module")
def digits():
    d = load_dataset("digits", size=8)
    return d.images, d.labels


def test_mlp_learns_digits_and_generalises(digits):
    x, y = digits
    net = MLP(64, 10, seed=0)
    losses = train_classifier(net, x[:1000], y[:1000], epochs=30, seed=0)
    assert losses[-1] < losses[0] / 10
    assert accuracy(net, x[1000:], y[1000:]) > 0.9
    assert not net.training


def test_same_seed_same_model(digits):
    x, y = digits
    nets = []
    for _ in range(2):
        net = MLP(64, 10, hidden=(16,), seed=3)
        train_classifier(net, x[:200], y[:200], epochs=3, seed=5)
        nets.append(net)
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        assert torch.equal(a, b)
    other = MLP(64, 10, hidden=(16,), seed=3)
    train_classifier(other, x[:200], y[:200], epochs=3, seed=6)  # other shuffling
    assert not torch.equal(next(other.parameters()), next(nets[0].parameters()))


def test_on_epoch_sees_every_epoch_in_eval_mode(digits):
    x, y = digits
    seen = []
    train_classifier(MLP(64, 10, hidden=(8,), seed=0), x[:64], y[:64], epochs=4,
                     on_epoch=lambda e, m: seen.append((e, m.training)))
    assert seen == [(0, False), (1, False), (2, False), (3, False)]


def test_predict_logits_matches_the_model_and_keeps_its_mode(digits):
    x, _ = digits
    net = MLP(64, 10, seed=0).train()
    out = predict_logits(net, x[:50], batch_size=7)
    assert torch.allclose(out, net(x[:50]).detach(), atol=1e-5)  # chunked: rounding differs
    assert net.training and not out.requires_grad


@pytest.mark.parametrize("kwargs", [{"epochs": 0}, {"lr": 0.0}, {"batch_size": 0}])
def test_bad_settings_are_refused(digits, kwargs):
    x, y = digits
    with pytest.raises(ConfigError):
        train_classifier(MLP(64, 10), x[:10], y[:10], **kwargs)


def test_bad_data_is_refused(digits):
    x, y = digits
    with pytest.raises(DataError, match="one label per example"):
        train_classifier(MLP(64, 10), x[:10], y[:9])
    with pytest.raises(DataError, match="int64"):
        train_classifier(MLP(64, 10), x[:10], y[:10].float())
    with pytest.raises(ConfigError, match="activation"):
        MLP(64, 10, activation="gelu")
