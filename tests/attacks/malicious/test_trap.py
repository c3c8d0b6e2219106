"""Trap weights: lone images exact, most of a batch back, confirmed readings are real images."""

import pytest
import torch

from dlgtut.attacks.malicious import (
    TrapWeights,
    imprint_model,
    trap_attack,
    trap_model,
    trap_rows,
)
from dlgtut.data import load_dataset
from dlgtut.defenses import secure_aggregate
from dlgtut.errors import ConfigError, WrongTypeError
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.metrics import fraction_exact, score_images
from dlgtut.models import LeNet


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", size=32)


def _net():
    return LeNet(1, 10, 32, seed=1234)


def _split(data, n):
    return PrivateBatch(data.images[:n], data.labels[:n]), data.images[n:]


def test_rows_are_half_negative_and_fire_for_a_fraction_of_public_images(digits):
    w = trap_rows(4, 100, scale=0.95, seed=0)
    assert (w < 0).sum(1).tolist() == [50] * 4 and (w > 0).sum(1).tolist() == [50] * 4
    torch.testing.assert_close(w.clamp(min=0).sum(1), -0.95 * w.clamp(max=0).sum(1))
    public = digits.images[64:]
    lure = trap_model(_net(), public, rows=256, images=16)
    rate = lure.fires(public).double().mean().item()
    assert lure.rate == 1 / 16 and abs(rate - 1 / 16) < 0.005  # the bias sits at the quantile


def test_a_lone_image_springs_traps_that_give_it_back_exactly(digits):
    batch, public = _split(digits, 1)
    lure = trap_model(_net(), public, rows=64, images=1)
    breach = trap_attack(Participant(lure.model).fedsgd(batch), lure)
    assert breach.recovered.tolist() == [True] and breach.confirmed.tolist() == [True]
    assert (breach.images - batch.images).abs().max() < 1e-6


def test_most_of_a_batch_of_64_digits_comes_back(digits):
    batch, public = _split(digits, 64)
    lure = trap_model(_net(), public, rows=1024, images=64)
    breach = trap_attack(Participant(lure.model).fedsgd(batch), lure)
    scores = score_images(breach.images, batch.images)
    # Measured: 46 of 64 (0.72), from 550 sprung rows of 1024.
    assert fraction_exact(scores) > 0.6
    # Readings that two or more rows agree on are real images (measured: 46 of the 49).
    psnr = torch.tensor(scores.per_image["psnr"])
    truth_of_slot = torch.empty(64, dtype=torch.long)
    truth_of_slot[torch.tensor(scores.assignment)] = torch.arange(64)
    confirmed = breach.confirmed.nonzero().flatten()
    assert len(confirmed) > 40
    assert (psnr[truth_of_slot[confirmed]] > 40).double().mean() > 0.9
    assert breach.seconds < 1.0


def test_secure_aggregation_of_four_participants(digits):
    batch, public = _split(digits, 16)
    lure = trap_model(_net(), public, rows=256, images=16)
    parts = [PrivateBatch(batch.images[i:i + 4], batch.labels[i:i + 4]) for i in range(0, 16, 4)]
    aggregate = secure_aggregate([Participant(lure.model).fedsgd(p) for p in parts])
    breach = trap_attack(aggregate, lure)
    # Measured: 14 of 16.
    assert fraction_exact(score_images(breach.images, batch.images)) > 0.7


def test_bad_inputs_are_one_line_errors(digits):
    public = digits.images[10:60]
    with pytest.raises(ConfigError, match="rows must be at least 1, got 0") as err:
        trap_model(_net(), public, rows=0, images=4)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="images must be a positive integer"):
        trap_model(_net(), public, rows=8, images=0)
    with pytest.raises(ConfigError, match="no room for the block"):
        trap_model(LeNet(3, 10, 32, seed=0), public, rows=8, images=4)
    imprint = imprint_model(_net(), public, bins=8)
    batch = PrivateBatch(digits.images[:2], digits.labels[:2])
    with pytest.raises(WrongTypeError, match="takes the server's TrapWeights, got Imprint"):
        trap_attack(Participant(imprint.model).fedsgd(batch), imprint)


def test_a_trap_model_is_what_the_server_keeps(digits):
    lure = trap_model(_net(), digits.images[:40], rows=8, images=4)
    assert isinstance(lure, TrapWeights) and lure.method == "trap" and lure.rows == 8
    assert lure.expected_images == 4 and lure.public_images == 40


def test_trap_weights_on_the_device_read_off_the_same_images(device, digits):
    batch, public = _split(digits, 4)
    lure = trap_model(_net().to(device), public, rows=64, images=4)
    breach = trap_attack(Participant(lure.model).fedsgd(batch), lure)
    cpu = trap_model(_net(), public, rows=64, images=4)
    same = trap_attack(Participant(cpu.model).fedsgd(batch), cpu)
    assert breach.images.device.type == "cpu"
    # Rounding on another device may tip an image lying on a row's threshold.
    got, want = (fraction_exact(score_images(b.images, batch.images)) for b in (breach, same))
    assert abs(got - want) <= 0.25 and (device.type != "cpu" or got == want)


def test_trap_weights_as_published_rewrite_the_model_s_own_first_layer(digits):
    """Boenisch et al. add no layer: they turn the agreed model's first fully connected layer
    into traps. The architecture is then exactly the agreed one (the check passes), the traps
    read images back, and the participant's audit catches them."""
    from dlgtut.attacks.malicious import architecture_changes, audit_update
    from dlgtut.training import MLP

    batch, public = _split(digits, 64)
    agreed = MLP(32 * 32, 10, hidden=(512,), seed=0)
    published = trap_model(agreed, public, images=64, rewrite=True)
    assert architecture_changes(published.model, agreed) == ()
    assert published.rows == 512 and sum(p.numel() for p in published.model.parameters()) == \
        sum(p.numel() for p in agreed.parameters())
    update = Participant(published.model).fedsgd(batch)
    breach = trap_attack(update, published)
    # Measured: 36 of 64 exact, and the audit finds 47 of 64 given away.
    assert fraction_exact(score_images(breach.images, batch.images)) >= 0.4
    assert int(audit_update(update, batch).leaked.sum()) >= 32


def test_an_honest_wide_first_layer_gives_some_images_away_and_traps_give_more(digits):
    """Not a trap: a random ReLU row that only one image of the batch activates has that
    image's gradient alone, and reads it back exactly (Pan et al., USENIX Security 2022, call
    such rows exclusively activated). Measured on this MLP: 14 of 64 digits given away by the
    agreed model, 47 by the same model with its first layer rewritten into traps."""
    from dlgtut.attacks.malicious import audit_update
    from dlgtut.training import MLP

    batch, public = _split(digits, 64)
    agreed = MLP(32 * 32, 10, hidden=(512,), seed=0)
    honest = int(audit_update(Participant(agreed).fedsgd(batch), batch).leaked.sum())
    trapped = trap_model(agreed, public, images=64, rewrite=True).model
    caught = int(audit_update(Participant(trapped).fedsgd(batch), batch).leaked.sum())
    assert 4 <= honest <= 28 and caught >= 2 * honest


def test_rewriting_needs_a_first_fully_connected_layer_and_a_relu(digits):
    _, public = _split(digits, 4)
    with pytest.raises(ConfigError, match="rewrite a first fully connected layer"):
        trap_model(_net(), public, images=4, rewrite=True)  # a LeNet begins with convolutions
    from dlgtut.training import MLP

    with pytest.raises(ConfigError, match="rows must be that or None"):
        trap_model(MLP(1024, 10, hidden=(64,), seed=0), public, rows=32, images=4, rewrite=True)
    with pytest.raises(ConfigError, match="rewrite must be True or False"):
        trap_model(_net(), public, rows=8, images=4, rewrite=1)
