"""The centralised training loop: learns real data, is reproducible, refuses bad input."""

import pytest
import torch

from dlgtut.data import load_dataset
from dlgtut.errors import ConfigError, DataError, WrongTypeError
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


@pytest.mark.parametrize("kwargs,fragment", [
    ({"epochs": 2.5}, "epochs must be a positive integer, got 2.5"),
    ({"epochs": True}, "epochs must be a positive integer, got True"),
    ({"lr": float("nan")}, "lr must be a finite number"),
    ({"lr": float("inf")}, "lr must be a finite number"),
    ({"batch_size": 4.0}, "batch_size must be a positive integer"),
    ({"weight_decay": -1e-3}, "weight_decay must be non-negative"),
    ({"seed": -1}, "seed must be a non-negative integer"),
])
def test_train_classifier_refuses_bad_settings_in_one_line(refused, kwargs, fragment):
    x, y = torch.rand(6, 1, 2, 2), torch.tensor([0, 1, 0, 1, 0, 1])
    refused(ConfigError, fragment, train_classifier, MLP(4, 2, seed=0), x, y, **kwargs)


@pytest.mark.parametrize("images,labels,fragment", [
    (torch.full((2, 1, 2, 2), float("nan")), torch.tensor([0, 1]), "images contains NaN or inf"),
    (torch.rand(2, 1, 2, 2), torch.tensor([0, 5]), "labels must lie in [0, 1] for the model's 2"),
    (torch.rand(2, 1, 2, 2), torch.tensor([-1, 1]), "labels must not be negative"),
    (torch.rand(2, 1, 3, 3), torch.tensor([0, 1]), "the model cannot take images of shape"),
])
def test_train_classifier_refuses_data_the_model_cannot_learn_before_training(
        refused, images, labels, fragment):
    refused(DataError, fragment, train_classifier, MLP(4, 2, seed=0), images, labels, epochs=1)


def test_train_classifier_refuses_a_model_or_callback_of_the_wrong_kind(refused):
    x, y = torch.rand(2, 1, 2, 2), torch.tensor([0, 1])
    refused(WrongTypeError, "torch.nn.Module, got function", train_classifier, lambda v: v, x, y)
    refused(WrongTypeError, "on_epoch must be callable", train_classifier, MLP(4, 2), x, y,
            on_epoch="print")


def test_a_float64_model_trains_and_predicts_on_float32_images():
    x, y = torch.rand(8, 1, 2, 2), torch.tensor([0, 1] * 4)
    net = MLP(4, 2, hidden=(4,), seed=0).double()
    train_classifier(net, x, y, epochs=2, batch_size=4)
    assert predict_logits(net, x).dtype == torch.float64


@pytest.mark.parametrize("kwargs,fragment", [
    ({"in_features": 4.0}, "in_features must be a positive integer"),
    ({"num_classes": 0}, "num_classes must be a positive integer"),
    ({"hidden": 32}, "hidden must be a sequence of layer widths"),
    ({"hidden": (32, 0.5)}, "every hidden width must be a positive integer"),
    ({"activation": ["relu"]}, "unknown activation"),
    ({"seed": "1"}, "seed must be a non-negative integer"),
])
def test_mlp_refuses_bad_sizes(refused, kwargs, fragment):
    args = {"in_features": 4, "num_classes": 2, **kwargs}
    refused(ConfigError, fragment, MLP, **args)


def test_predict_logits_refuses_bad_input(refused):
    refused(DataError, "images must be a tensor", predict_logits, MLP(4, 2), [[0.0] * 4])
    refused(DataError, "images must be a floating-point tensor", predict_logits, MLP(4, 2),
            torch.zeros(2, 4, dtype=torch.long))
    refused(ConfigError, "batch_size must be a positive integer", predict_logits, MLP(4, 2),
            torch.zeros(2, 4), batch_size=0)


def test_training_on_the_device_learns_and_logits_come_back_to_the_cpu(device, digits):
    x, y = digits
    net = MLP(64, 10, hidden=(32,), seed=0).to(device)
    losses = train_classifier(net, x[:600], y[:600], epochs=15, lr=3e-3, seed=0)
    assert losses[-1] < losses[0] / 5
    assert next(net.parameters()).device.type == device.type
    logits = predict_logits(net, x[1000:])
    assert logits.device.type == "cpu"
    assert (logits.argmax(1) == y[1000:]).double().mean() > 0.85
    assert accuracy(net, x[1000:], y[1000:]) > 0.85


def test_training_on_cuda_follows_the_cpu_run(cuda, digits):
    x, y = digits
    nets = [MLP(64, 10, hidden=(16,), seed=1).to(d) for d in ("cpu", cuda)]
    for net in nets:
        train_classifier(net, x[:128], y[:128], epochs=2, batch_size=32, seed=4)  # same shuffles
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        torch.testing.assert_close(b.cpu(), a, rtol=1e-3, atol=1e-5)
