"""Seeded constructors leave the global generator as they found it (dlgtut.seeding)."""

from __future__ import annotations

import pytest
import torch

from dlgtut.attacks.inversion.gan import Generator
from dlgtut.models import LeNet, ResNet, paper_init_
from dlgtut.seeding import seeded
from dlgtut.text import TinyLM
from dlgtut.training import MLP


@pytest.mark.parametrize("build", [
    lambda: LeNet(seed=1234),
    lambda: LeNet(1, 10, 16, "relu", seed=3, init="default"),
    lambda: ResNet(8, 1, 10, width=4, seed=0),
    lambda: MLP(64, 10, seed=5),
    lambda: TinyLM(50, seed=2),
    lambda: Generator(image_shape=(1, 8, 8), seed=1),
], ids=["lenet-paper", "lenet-default", "resnet", "mlp", "tinylm", "generator"])
def test_a_seeded_model_draws_the_same_weights_and_leaves_the_stream_alone(build):
    torch.manual_seed(99)
    expected_next = torch.rand(3)
    torch.manual_seed(99)
    first = build()
    assert torch.equal(torch.rand(3), expected_next)  # the caller's stream went on untouched
    second = build()
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_the_paper_weights_are_those_after_manual_seed():
    """LeNet(seed=1234) holds exactly the original script's weights: U(-0.5, 0.5) drawn in
    apply order right after torch.manual_seed(1234)."""
    net = LeNet(seed=1234)
    ref = LeNet()  # any weights, then the original's initialisation on the global stream
    torch.manual_seed(1234)
    paper_init_(ref)
    for a, b in zip(net.parameters(), ref.parameters(), strict=True):
        assert torch.equal(a, b)
    # A generator replays the same draws without touching the global stream.
    gen = torch.Generator().manual_seed(1234)
    replay = paper_init_(LeNet(), generator=gen)
    for a, b in zip(net.parameters(), replay.parameters(), strict=True):
        assert torch.equal(a, b)


def test_seeded_is_a_no_op_without_a_seed():
    torch.manual_seed(7)
    expected = torch.rand(2)
    torch.manual_seed(7)
    with seeded(None):
        got = torch.rand(2)
    assert torch.equal(got, expected)


def test_paper_init_takes_a_seed_or_a_generator_not_both():
    from dlgtut.errors import ConfigError

    with pytest.raises(ConfigError, match="a seed or a generator, not both"):
        paper_init_(LeNet(), seed=1, generator=torch.Generator())

