"""The paper's LeNet, its variants and the Sigmoid ResNet."""

import pytest
import torch
from torch import nn

from dlgtut.attacks.gradient.original import OriginalLeNet, weights_init
from dlgtut.errors import ConfigError, WrongTypeError
from dlgtut.models import MODEL_NAMES, LeNet, ResNet, build_model, paper_init_


def test_lenet_has_the_original_layer_shapes():
    net = LeNet(seed=0)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [tuple(c.weight.shape) for c in convs] == [(12, 3, 5, 5), (12, 12, 5, 5), (12, 12, 5, 5)]
    assert [c.stride for c in convs] == [(2, 2), (2, 2), (1, 1)]
    assert all(c.padding == (2, 2) for c in convs)
    assert sum(isinstance(m, nn.Sigmoid) for m in net.modules()) == 3
    (fc,) = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert (fc.in_features, fc.out_features) == (768, 100)
    reference = OriginalLeNet()
    assert [p.shape for p in net.parameters()] == [p.shape for p in reference.parameters()]


def test_lenet_initialisation_is_uniform_half_and_matches_the_original():
    net = LeNet(seed=1234)
    for p in net.parameters():
        assert p.min() >= -0.5 and p.max() <= 0.5
    big = net.fc[0].weight
    assert big.min() < -0.49 and big.max() > 0.49
    assert abs(big.mean().item()) < 0.01 and abs(big.std().item() - (1 / 12) ** 0.5) < 0.01
    # The original script: build the net, then seed, then redraw every weight and bias.
    original = OriginalLeNet()
    torch.manual_seed(1234)
    original.apply(weights_init)
    for a, b in zip(net.state_dict().values(), original.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("channels,size,classes,hidden", [(1, 28, 10, 588), (3, 16, 5, 192),
                                                         (1, 8, 10, 48), (3, 25, 2, 588)])
def test_lenet_any_channels_size_and_classes(channels, size, classes, hidden):
    net = LeNet(channels, classes, size, seed=0)
    assert net.fc[0].in_features == hidden
    assert net(torch.rand(2, channels, size, size)).shape == (2, classes)


def test_relu_variant_and_its_zero_second_derivative():
    net = LeNet(activation="relu", seed=0)
    assert sum(isinstance(m, nn.ReLU) for m in net.modules()) == 3
    assert not any(isinstance(m, nn.Sigmoid) for m in net.modules())
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    (g,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
    # d/dx of the gradient through ReLUs only sees the linear pieces: no curvature from ReLU.
    (h,) = torch.autograd.grad((g * torch.randn_like(g)).sum(), x, allow_unused=True)
    assert h is None or torch.count_nonzero(h) == 0


def test_resnet_is_twice_differentiable_and_keeps_resolution_without_strides():
    net = ResNet(depth=8, width=8, seed=0)
    assert all(m.stride == (1, 1) for m in net.modules() if isinstance(m, nn.Conv2d))
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    params = list(net.parameters())
    grads = torch.autograd.grad(net(x).logsumexp(1).sum(), params, create_graph=True)
    (h,) = torch.autograd.grad(sum((g**2).sum() for g in grads), x)
    assert torch.isfinite(h).all() and h.abs().sum() > 0
    strided = ResNet(depth=8, width=8, strides=True, seed=0)
    assert any(m.stride == (2, 2) for m in strided.modules() if isinstance(m, nn.Conv2d))


def test_resnet56_depth():
    net = ResNet(depth=56, seed=0)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) == 55  # stem + 27 blocks x 2


def test_bad_model_options_raise():
    with pytest.raises(ConfigError, match="depth"):
        ResNet(depth=21)
    with pytest.raises(ConfigError, match="unknown model"):
        build_model("vgg")
    with pytest.raises(ConfigError, match="activation"):
        LeNet(activation="gelu")
    for name in MODEL_NAMES:
        out = build_model(name, in_channels=1, num_classes=7, image_size=8, seed=0)
        assert out(torch.rand(1, 1, 8, 8)).shape == (1, 7)


@pytest.mark.parametrize("kwargs,fragment", [
    ({"in_channels": 2.5}, "in_channels must be a positive integer, got 2.5"),
    ({"in_channels": True}, "in_channels must be a positive integer, got True"),
    ({"num_classes": 0}, "num_classes must be a positive integer, got 0"),
    ({"image_size": "32"}, "image_size must be a positive integer"),
    ({"image_size": None}, "image_size must be a positive integer, got None"),
    ({"activation": ["relu"]}, "unknown activation"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"seed": 1.5}, "seed must be a non-negative integer"),
])
def test_lenet_refuses_bad_settings(refused, kwargs, fragment):
    refused(ConfigError, fragment, LeNet, **kwargs)


@pytest.mark.parametrize("kwargs,fragment", [
    ({"depth": 20.0}, "ResNet depth must be an integer"),
    ({"depth": 8, "width": 0}, "width must be a positive integer, got 0"),
    ({"depth": 8, "in_channels": 1.5}, "in_channels must be a positive integer"),
    ({"depth": 8, "strides": 1}, "strides must be True or False"),
    ({"depth": 8, "batch_norm": "yes"}, "batch_norm must be True or False"),
    ({"depth": 8, "seed": "0"}, "seed must be a non-negative integer"),
])
def test_resnet_refuses_bad_settings(refused, kwargs, fragment):
    refused(ConfigError, fragment, ResNet, **kwargs)


@pytest.mark.parametrize("name", [3, None, ["lenet"]])
def test_build_model_refuses_names_that_are_not_strings(refused, name):
    refused(ConfigError, "unknown model", build_model, name)


def test_paper_init_refuses_what_is_not_a_module(refused):
    refused(WrongTypeError, "torch.nn.Module, got dict", paper_init_, {})
    refused(ConfigError, "seed must be", paper_init_, nn.Linear(1, 1), seed=True)


@pytest.mark.parametrize("name", ["lenet", "resnet20"])
def test_build_model_puts_the_seeded_weights_on_the_device(device, name):
    net = build_model(name, in_channels=1, num_classes=10, image_size=8, seed=3, device=device)
    cpu = build_model(name, in_channels=1, num_classes=10, image_size=8, seed=3)
    assert all(p.device.type == device.type for p in net.parameters())
    assert all(torch.equal(a.cpu(), b) for a, b in zip(net.parameters(), cpu.parameters(),
                                                       strict=True))  # drawn on the CPU
    assert net(torch.rand(2, 1, 8, 8, device=device)).shape == (2, 10)


def test_build_model_refuses_a_device_it_cannot_use(refused):
    refused(ConfigError, "device must be auto, cpu, cuda", build_model, "lenet", device="tpu")
