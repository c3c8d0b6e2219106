"""What a participant can check: the architecture, parallel rows, and an audit of its update."""

import pytest
import torch

from dlgtut.attacks.malicious import (
    architecture_changes,
    audit_update,
    imprint_attack,
    imprint_model,
    parallel_rows,
    trap_model,
)
from dlgtut.data import load_dataset
from dlgtut.dp import dp_sgd_update
from dlgtut.errors import WrongTypeError
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.metrics import fraction_exact, score_images
from dlgtut.models import LeNet


@pytest.fixture(scope="module")
def setting():
    digits = load_dataset("digits", size=32)
    net = LeNet(1, 10, 32, seed=1234)
    batch = PrivateBatch(digits.images[:32], digits.labels[:32])
    public = digits.images[32:]
    return net, batch, public


def test_an_honest_model_passes_every_check(setting):
    net, batch, _ = setting
    assert architecture_changes(LeNet(1, 10, 32, seed=7), net) == ()
    assert parallel_rows(net) == ()
    audit = audit_update(Participant(net).fedsgd(batch), batch)
    assert audit.safe and audit.findings == ("no fully connected layer reads whole images",)


def test_an_inserted_block_changes_the_architecture(setting):
    net, _, public = setting
    lure = imprint_model(net, public, bins=128)
    changes = architecture_changes(lure.model, net)
    assert changes and "parameter tensors where the agreed model has 8" in changes[-1]


def test_parallel_rows_betray_the_imprint_but_not_trap_weights(setting):
    net, _, public = setting
    imprint = imprint_model(net, public, bins=128)
    found = parallel_rows(imprint.model)
    assert len(found) == 1 and f"{imprint.rows} of its {imprint.rows} rows" in found[0]
    assert parallel_rows(trap_model(net, public, rows=256, images=32).model) == ()


def test_the_audit_finds_what_the_attack_would_take(setting):
    net, batch, public = setting
    imprint = imprint_model(net, public, bins=128)
    update = Participant(imprint.model).fedsgd(batch)
    audit = audit_update(update, batch)
    taken = fraction_exact(score_images(imprint_attack(update, imprint).images, batch.images))
    assert not audit.safe
    assert audit.leaked.double().mean().item() == pytest.approx(taken)  # measured: 26 of 32
    trap = trap_model(net, public, rows=512, images=32)
    trap_audit = audit_update(Participant(trap.model).fedsgd(batch), batch)
    assert trap_audit.leaked.sum() > 22  # measured: 29 of 32 (the attack itself takes 24)
    assert "reads whole images" in trap_audit.findings[0]


def test_the_audit_passes_an_update_with_dp_noise(setting):
    net, batch, public = setting
    imprint = imprint_model(net, public, bins=128)
    small = PrivateBatch(batch.images[:8], batch.labels[:8])
    clipped = dp_sgd_update(imprint.model, small, noise_multiplier=0.0, seed=0)
    noised = dp_sgd_update(imprint.model, small, noise_multiplier=0.01, seed=0)
    # Clipping scales each image's gradient, which the ratio cancels; noise does not cancel.
    assert not audit_update(clipped, small).safe
    assert audit_update(noised, small).safe


def test_checks_take_what_they_say(setting):
    net, batch, _ = setting
    with pytest.raises(WrongTypeError, match="received must be a torch.nn.Module"):
        architecture_changes("a model", net)
    update = Participant(net).fedsgd(batch)
    with pytest.raises(WrongTypeError, match="needs the participant's PrivateBatch"):
        audit_update(update, batch.images)
    assert torch.is_tensor(audit_update(update, batch).psnr)


def test_the_checks_read_a_model_and_update_on_any_device(device, setting):
    net, batch, public = setting
    lure = imprint_model(LeNet(1, 10, 32, seed=1234).to(device), public, bins=64)
    update = Participant(lure.model).fedsgd(batch)
    audit = audit_update(update, batch)
    assert audit.psnr.device.type == "cpu" and not audit.safe
    assert parallel_rows(lure.model) and architecture_changes(lure.model, net)
