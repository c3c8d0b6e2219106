"""R-GAP: the input read off the gradient layer by layer, exactly, where the model allows it."""

import pytest
import torch
from torch import nn

from dlgtut.attacks.gradient import rgap, rgap_supported
from dlgtut.data import load_dataset
from dlgtut.errors import AttackError, WrongTypeError
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.models import LeNet


@pytest.fixture(scope="module")
def photos():
    return load_dataset("photos", size=32, channels=3)


@pytest.mark.parametrize("name", ["chelsea", "coffee"])
def test_a_photo_comes_back_exactly_from_the_papers_lenet(photos, name):
    x = photos.images[[photos.classes.index(name)]]
    update = Participant(LeNet(seed=1234)).fedsgd(PrivateBatch(x, torch.tensor([3])))
    assert rgap_supported(update)
    rec = rgap(update)
    mse = float(((rec.images - x) ** 2).mean())
    # Measured: MSE 6e-9 (chelsea) and 1e-9 (coffee), gradient distance below 1e-10; the
    # float32 gradient the participant shares sets the floor. 1e-5 is far inside "exact".
    assert mse < 1e-5 and rec.labels.tolist() == [3], (mse, rec.message)
    assert rec.distance < 1e-7


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_grey_digits_and_other_invertible_activations(activation):
    digits = load_dataset("digits", size=16)
    net = LeNet(1, 10, 16, activation, seed=0)
    batch = PrivateBatch(digits.images[5:6], digits.labels[5:6])
    rec = rgap(Participant(net).fedsgd(batch))
    assert float(((rec.images - batch.images) ** 2).mean()) < 1e-6  # measured ~1e-12
    assert rec.labels.tolist() == batch.labels.tolist()


def test_what_it_cannot_invert_is_refused_in_one_line():
    x = torch.rand(2, 1, 8, 8)
    two = Participant(LeNet(1, 10, 8, seed=0)).fedsgd(PrivateBatch(x, torch.tensor([1, 2])))
    one = PrivateBatch(x[:1], torch.tensor([1]))
    relu = Participant(LeNet(1, 10, 8, "relu", seed=0)).fedsgd(one)
    no_bias = nn.Sequential(nn.Flatten(), nn.Linear(64, 10, bias=False))
    plain = Participant(no_bias).fedsgd(one)
    for update in (two, relu, plain):
        assert not rgap_supported(update)
        with pytest.raises(AttackError, match="R-GAP needs one example") as err:
            rgap(update)
        assert "\n" not in str(err.value)
    with pytest.raises(WrongTypeError, match="PrivateBatch"):
        rgap(one)


def test_a_plain_mlp_is_inverted_too():
    digits = load_dataset("digits", size=8)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Sigmoid(), nn.Linear(32, 10))
    batch = PrivateBatch(digits.images[:1], digits.labels[:1])
    rec = rgap(Participant(net).fedsgd(batch))
    assert float(((rec.images - batch.images) ** 2).mean()) < 1e-8
