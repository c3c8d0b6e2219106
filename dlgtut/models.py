"""Networks the attacks run against: the DLG paper's LeNet, a ReLU variant, and a Sigmoid ResNet.

Gradient matching differentiates through the gradient, so the network must be twice
differentiable: Sigmoid is, ReLU is not (its second derivative is zero almost everywhere, which
the deep leakage chapter measures). All models take ``N x C x H x W`` inputs in [0, 1].
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from .checks import flag, integer, module
from .checks import seed as check_seed
from .device import resolve_device
from .errors import ConfigError
from .seeding import seeded

__all__ = ["LeNet", "ResNet", "paper_init_", "build_model", "MODEL_NAMES", "layer_chain"]

Activation = Literal["sigmoid", "relu", "tanh"]
_ACTIVATIONS: dict[str, type[nn.Module]] = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}
MODEL_NAMES = ("lenet", "lenet-relu", "resnet20", "resnet56")


def _activation(name: str) -> type[nn.Module]:
    if not isinstance(name, str) or name not in _ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; choose from {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


def _check_seed(seed: int | None) -> None:
    if seed is not None:
        check_seed(seed)


def paper_init_(model: nn.Module, seed: int | None = None, *,
                generator: torch.Generator | None = None) -> nn.Module:
    """Draw every weight and bias from U(-0.5, 0.5), as the original DLG code does.

    Modules are visited in ``model.apply`` order and each draws its weight, then its bias. With
    ``seed`` the draws are those of the original script after its ``torch.manual_seed(1234)``
    (:func:`~dlgtut.seeding.seeded`: the global generator is left as it was); with
    ``generator`` they come from that generator, which then stands where the original's global
    stream stands after the initialisation (the DLG attack's paper settings draw their start
    from there); with neither, from the global generator's current stream.

    Args:
        model: the network to initialise in place.
        seed: the seed of the draws, or None.
        generator: a CPU generator to draw from instead (not with ``seed``).
    """
    module(model)
    _check_seed(seed)
    if seed is not None and generator is not None:
        raise ConfigError("paper_init_ takes a seed or a generator, not both")

    def init(m: nn.Module) -> None:
        with torch.no_grad():
            for name in ("weight", "bias"):
                p = getattr(m, name, None)
                if p is None:
                    continue
                if generator is None:
                    p.uniform_(-0.5, 0.5)
                else:  # drawn on the CPU from the generator, as the global stream draws
                    p.copy_(torch.empty(p.shape).uniform_(-0.5, 0.5, generator=generator))

    with seeded(seed):
        model.apply(init)
    return model


def _reset(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        m.reset_parameters()


class LeNet(nn.Module):
    """The LeNet of the DLG paper's code, for any channel count, image size and class count.

    Three 5x5 convolutions with 12 channels, padding 2 and strides 2, 2, 1, each followed by the
    activation, then one linear layer. At 3 x 32 x 32 with 100 classes the linear layer is
    ``Linear(768, 100)``, as in the original.

    Args:
        in_channels: channels of the input images.
        num_classes: number of outputs.
        image_size: height and width of the (square) input.
        activation: ``"sigmoid"`` (the paper's), ``"relu"`` or ``"tanh"``.
        seed: if given, the weights are drawn after ``torch.manual_seed(seed)`` on a fork of the
            global generator, which is left as it was (:func:`~dlgtut.seeding.seeded`); if None
            they are drawn from its current stream.
        init: ``"paper"`` draws every weight and bias from U(-0.5, 0.5) (:func:`paper_init_`,
            the original code's); ``"default"`` keeps PyTorch's layer initialisation (scaled
            to each layer's fan-in), which a ReLU network needs to train and which the
            stronger attacks are usually evaluated on.

    Example:
        >>> net = LeNet(seed=1234)
        >>> net(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 100])
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 100,
        image_size: int = 32,
        activation: Activation = "sigmoid",
        seed: int | None = None,
        init: Literal["paper", "default"] = "paper",
    ) -> None:
        super().__init__()
        if init not in ("paper", "default"):
            raise ConfigError(f"init must be 'paper' or 'default', got {init!r}")
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes),
                            ("image_size", image_size)):
            integer(value, name, low=1)
        _check_seed(seed)
        act = _activation(activation)
        with seeded(seed):  # the global generator is left as it was (dlgtut.seeding)
            self.body = nn.Sequential(
                nn.Conv2d(in_channels, 12, kernel_size=5, padding=2, stride=2),
                act(),
                nn.Conv2d(12, 12, kernel_size=5, padding=2, stride=2),
                act(),
                nn.Conv2d(12, 12, kernel_size=5, padding=2, stride=1),
                act(),
            )
            side = math.ceil(math.ceil(image_size / 2) / 2)
            if init == "default" and seed is not None:
                torch.manual_seed(seed)  # inside the fork: the layers drawn again, in order
                self.body.apply(_reset)
            self.fc = nn.Sequential(nn.Linear(12 * side * side, num_classes))
            if init == "paper":
                paper_init_(self, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return self.fc(out.reshape(out.size(0), -1))


def layer_chain(model: nn.Module) -> list[nn.Module]:
    """The model as the layers its forward pass applies one after another.

    ``nn.Sequential`` (nested too) is the list of its children and :class:`LeNet` is its body,
    a flatten and its classifier; any other module is one opaque layer. Composing the list gives
    the model's forward pass, so every boundary between two entries is an activation through
    which everything the input does to the output passes.

    Example:
        >>> [type(m).__name__ for m in layer_chain(LeNet(1, 10, 8, seed=0))][-3:]
        ['Sigmoid', 'Flatten', 'Linear']
    """
    if isinstance(model, LeNet):
        return [*layer_chain(model.body), nn.Flatten(), *layer_chain(model.fc)]
    if isinstance(model, nn.Sequential):
        return [layer for child in model for layer in layer_chain(child)]
    return [model]


class _Block(nn.Module):
    """A basic residual block: conv-norm-act-conv-norm, plus the shortcut, then act."""

    def __init__(self, cin: int, cout: int, stride: int, act: type[nn.Module], norm: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=not norm)
        self.bn1 = nn.BatchNorm2d(cout) if norm else nn.Identity()
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=not norm)
        self.bn2 = nn.BatchNorm2d(cout) if norm else nn.Identity()
        self.act1, self.act2 = act(), act()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=not norm),
                nn.BatchNorm2d(cout) if norm else nn.Identity(),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act2(out + self.shortcut(x))


class ResNet(nn.Module):
    """A CIFAR-style ResNet of depth ``6n + 2`` in the DLG paper's style.

    The paper attacks a ResNet-56 with Sigmoid activations and no strides, so that the network
    is twice differentiable and keeps full resolution. Three stages of ``n`` basic blocks with
    ``width``, ``2 width`` and ``4 width`` channels, global average pooling, one linear layer.

    Args:
        depth: 20, 32, 44, 56, ... (``6n + 2``).
        in_channels: input channels.
        num_classes: number of outputs.
        width: channels of the first stage.
        activation: ``"sigmoid"`` (twice differentiable, the paper's) or ``"relu"``.
        strides: if True, stages 2 and 3 halve the resolution (the usual ResNet); the paper's
            variant uses no strides.
        batch_norm: add BatchNorm after each convolution. In training mode its statistics
            couple the examples of a batch, one of the classic pitfalls of gradient inversion.
        seed: seed for the (PyTorch default) initialisation, or None for the current stream.

    Example:
        >>> ResNet(depth=8, width=4, seed=0)(torch.rand(1, 3, 8, 8)).shape
        torch.Size([1, 100])
    """

    def __init__(
        self,
        depth: int = 20,
        in_channels: int = 3,
        num_classes: int = 100,
        width: int = 16,
        activation: Activation = "sigmoid",
        strides: bool = False,
        batch_norm: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        integer(depth, "ResNet depth")
        if depth < 8 or (depth - 2) % 6:
            raise ConfigError(f"ResNet depth must be 6n + 2 with n >= 1 (20, 32, 56), got {depth}")
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes),
                            ("width", width)):
            integer(value, name, low=1)
        flag(strides, "strides")
        flag(batch_norm, "batch_norm")
        _check_seed(seed)
        with seeded(seed):  # the global generator is left as it was
            n = (depth - 2) // 6
            act = _activation(activation)
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, width, 3, padding=1, bias=not batch_norm),
                nn.BatchNorm2d(width) if batch_norm else nn.Identity(),
                act(),
            )
            blocks: list[nn.Module] = []
            cin = width
            for stage, cout in enumerate((width, 2 * width, 4 * width)):
                for i in range(n):
                    stride = 2 if (strides and stage > 0 and i == 0) else 1
                    blocks.append(_Block(cin, cout, stride, act, batch_norm))
                    cin = cout
            self.blocks = nn.Sequential(*blocks)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.pool(self.blocks(self.stem(x)))
        return self.fc(out.flatten(1))


def build_model(
    name: str,
    *,
    in_channels: int = 3,
    num_classes: int = 100,
    image_size: int = 32,
    seed: int | None = None,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Build a model by name: ``lenet`` (the paper's), ``lenet-relu``, ``resnet20``, ``resnet56``.

    The weights are drawn on the CPU from the seeded generator and then moved to ``device``, so
    a seed gives the same network on every device.

    Args:
        name: one of :data:`MODEL_NAMES`.
        in_channels: input channels.
        num_classes: number of outputs.
        image_size: input height and width.
        seed: initialisation seed (see :class:`LeNet` and :class:`ResNet`).
        device: where the model lives (``"cpu"``, ``"cuda"``, ``"auto"``, ...; see
            :func:`dlgtut.device.resolve_device`).

    Raises:
        ConfigError: an unknown name, or a device this machine does not have.
    """
    device = resolve_device(device)
    if not isinstance(name, str):
        raise ConfigError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    if name == "lenet":
        return LeNet(in_channels, num_classes, image_size, "sigmoid", seed).to(device)
    if name == "lenet-relu":
        return LeNet(in_channels, num_classes, image_size, "relu", seed).to(device)
    if name.startswith("resnet") and name[6:].isdigit() and name in MODEL_NAMES:
        return ResNet(int(name[6:]), in_channels, num_classes, seed=seed).to(device)
    raise ConfigError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
