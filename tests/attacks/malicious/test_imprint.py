"""Robbing the Fed's imprint: exact recovery of lone images, large batches, secure aggregation."""

import pytest
import torch

from dlgtut.attacks.malicious import Imprint, bin_boundaries, imprint_attack, imprint_model
from dlgtut.data import load_dataset
from dlgtut.defenses import gaussian_noise, secure_aggregate
from dlgtut.errors import AttackError, ConfigError, DataError, WrongTypeError
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.metrics import fraction_exact, psnr, score_images
from dlgtut.models import LeNet


@pytest.fixture(scope="module")
def patches():
    return load_dataset("patches", size=32)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", size=32)


def _net(data):
    return LeNet(data.images.shape[1], len(data.classes), 32, seed=1234)


def _split(data, n):
    """The first n images are private, the rest the server's public data."""
    return PrivateBatch(data.images[:n], data.labels[:n]), data.images[n:]


def test_a_lone_image_in_its_bin_comes_back_to_float_precision(patches):
    batch, public = _split(patches, 1)
    lure = imprint_model(_net(patches), public, bins=16)
    breach = imprint_attack(Participant(lure.model).fedsgd(batch), lure)
    assert breach.status == "recovered" and breach.recovered.tolist() == [True]
    assert (breach.images - batch.images).abs().max() < 1e-6  # measured: 6e-8


def test_images_in_distinct_bins_all_come_back_exactly(patches):
    batch, public = _split(patches, 64)
    lure = imprint_model(_net(patches), public, bins=256)
    bins = lure.bin_of(batch.images)
    lone = torch.nonzero(torch.bincount(bins, minlength=lure.rows)[bins] == 1).flatten()[:6]
    chosen = PrivateBatch(batch.images[lone], batch.labels[lone])
    breach = imprint_attack(Participant(lure.model).fedsgd(chosen), lure)
    assert breach.status == "recovered" and "every one of them is exact" in breach.message
    # Readings come in bin order: sort the truth the same way to compare.
    truth = chosen.images[torch.argsort(lure.statistic_of(chosen.images))]
    assert (breach.images - truth).abs().max() < 1e-5


def test_a_batch_of_64_photos_mostly_comes_back(patches):
    batch, public = _split(patches, 64)
    lure = imprint_model(_net(patches), public, bins=256)
    breach = imprint_attack(Participant(lure.model).fedsgd(batch), lure)
    scores = score_images(breach.images, batch.images)
    # Measured: 42 of 64 (0.66), exactly the images alone in their bin; 51 bins hit.
    assert fraction_exact(scores) > 0.55
    occupancy = lure.occupancy(batch.images)
    assert round(fraction_exact(scores) * 64) == int((occupancy == 1).sum())
    assert breach.status == "partial" and breach.hits == int((occupancy > 0).sum())
    assert breach.seconds < 1.0


def test_secure_aggregation_hides_nothing_from_the_imprint(digits):
    batch, public = _split(digits, 64)
    lure = imprint_model(_net(digits), public, bins=256)
    single = imprint_attack(Participant(lure.model).fedsgd(batch), lure)
    parts = [PrivateBatch(batch.images[i:i + 8], batch.labels[i:i + 8]) for i in range(0, 64, 8)]
    aggregate = secure_aggregate([Participant(lure.model).fedsgd(p) for p in parts])
    assert aggregate.batch_size == 64
    breach = imprint_attack(aggregate, lure)
    together = fraction_exact(score_images(breach.images, batch.images))
    # Measured: 44 of 64 (0.69), the same images as from one update of all 64.
    assert together > 0.55
    assert together == fraction_exact(score_images(single.images, batch.images))


def test_more_bins_recover_more(digits):
    batch, public = _split(digits, 64)
    got = []
    for bins in (16, 64, 256):
        lure = imprint_model(_net(digits), public, bins=bins, statistic="random")
        breach = imprint_attack(Participant(lure.model).fedsgd(batch), lure)
        got.append(fraction_exact(score_images(breach.images, batch.images)))
    assert got[0] < got[1] < got[2]


def test_ties_in_the_statistic_merge_bins():
    values = torch.tensor([0.1, 0.2, 0.2, 0.2, 0.2, 0.3])
    thresholds = bin_boundaries(values, 6, -1.0)
    assert thresholds[0] == -1.0 and torch.all(thresholds[1:] > thresholds[:-1])
    assert len(thresholds) < 6  # quantiles inside the run of 0.2 coincide
    even = bin_boundaries(torch.linspace(0, 1, 101), 4, -1.0)
    torch.testing.assert_close(even, torch.tensor([-1.0, 0.25, 0.5, 0.75], dtype=torch.float64))


def test_the_ordinary_model_still_sees_the_image(digits):
    batch, public = _split(digits, 8)
    net = _net(digits)
    lure = imprint_model(net, public, bins=32, gain=1e-3)
    shifted = lure.block(batch.images) - batch.images
    assert shifted.abs().max() <= 1e-3 + 1e-7
    assert torch.allclose(lure.model(batch.images), net(batch.images), atol=1e-3)


def test_the_server_can_scale_its_gradients_without_changing_the_model(digits):
    batch, public = _split(digits, 16)
    plain = imprint_model(_net(digits), public, bins=64)
    loud = imprint_model(_net(digits), public, bins=64, scale=1e4)
    assert torch.allclose(loud.model(batch.images), plain.model(batch.images), atol=1e-6)
    quiet_grad = Participant(plain.model).fedsgd(batch).tensors[0].abs().max().item()
    loud_update = Participant(loud.model).fedsgd(batch)
    assert loud_update.tensors[0].abs().max().item() == pytest.approx(1e4 * quiet_grad, rel=1e-3)
    # Noise that wipes out the plain block leaves the scaled one readable (measured at variance
    # 1e-12: 0 and 16 of 16 above 40 dB; the plain block already loses all at 1e-14).
    for server, update in ((plain, Participant(plain.model).fedsgd(batch)), (loud, loud_update)):
        noisy = imprint_attack(gaussian_noise(update, 1e-12, seed=0), server)
        got = fraction_exact(score_images(noisy.images, batch.images))
        assert (got > 0.5) == (server is loud)


def test_noise_on_the_update_shows_as_a_noisy_breach(digits):
    batch, public = _split(digits, 16)
    lure = imprint_model(_net(digits), public, bins=64)
    noisy = gaussian_noise(Participant(lure.model).fedsgd(batch), 1e-6, seed=0)
    breach = imprint_attack(noisy, lure)
    assert breach.status == "noisy" and int(breach.recovered.sum()) == 16
    assert fraction_exact(score_images(breach.images, batch.images)) == 0.0


@pytest.mark.parametrize("bins,error,message", [
    (0, ConfigError, "bins must be at least 1, got 0"),
    (-3, ConfigError, "bins must be at least 1"),
    (2.5, ConfigError, "bins must be an integer"),
    (10**6, ConfigError, "bins must be at most 65536"),
])
def test_bad_bins_are_one_line_errors(digits, bins, error, message):
    with pytest.raises(error, match=message) as err:
        imprint_model(_net(digits), digits.images[:10], bins=bins)
    assert "\n" not in str(err.value)


def test_a_model_without_room_for_the_block_is_refused(patches, digits):
    grey_net = LeNet(1, 10, 32, seed=0)  # takes 1-channel images; the photos have 3
    with pytest.raises(ConfigError, match="no room for the block: the model cannot take "
                       "3 x 32 x 32 images") as err:
        imprint_model(grey_net, patches.images[:10], bins=8)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="no room for the block"):
        imprint_model(LeNet(1, 10, 32, seed=0), torch.rand(5, 1, 2, 2), bins=8)  # too small
    with pytest.raises(WrongTypeError, match="torch.nn.Module"):
        imprint_model("lenet", digits.images[:10], bins=8)


def test_other_bad_inputs_are_one_line_errors(digits):
    net, public = _net(digits), digits.images[10:20]
    with pytest.raises(DataError, match="at least 2 public images"):
        imprint_model(net, public[:1], bins=4)
    with pytest.raises(DataError, match=r"lie in \[0, 1\]"):
        imprint_model(net, public * 2, bins=4)
    with pytest.raises(ConfigError, match="unknown statistic 'contrast'"):
        imprint_model(net, public, bins=4, statistic="contrast")
    with pytest.raises(ConfigError, match="gain must be a positive number"):
        imprint_model(net, public, bins=4, gain=0)
    lure = imprint_model(net, public, bins=4)
    batch = PrivateBatch(digits.images[:2], digits.labels[:2])
    with pytest.raises(WrongTypeError, match="not the PrivateBatch"):
        imprint_attack(batch, lure)
    with pytest.raises(WrongTypeError, match="takes the server's Imprint"):
        imprint_attack(Participant(lure.model).fedsgd(batch), lure.model)
    honest = Participant(net).fedsgd(batch)
    with pytest.raises(AttackError, match="not computed on the server's malicious model"):
        imprint_attack(honest, lure)
    other = imprint_model(net, public, bins=4, statistic="random")
    with pytest.raises(AttackError, match="not computed on the server's malicious model"):
        imprint_attack(Participant(other.model).fedsgd(batch), lure)
    steps = Participant(lure.model).fedavg(batch, local_steps=3, lr=0.1)
    with pytest.raises(AttackError, match="3 local steps"):
        imprint_attack(steps, lure)


def test_one_local_step_of_fedavg_is_a_gradient(digits):
    batch, public = _split(digits, 1)
    lure = imprint_model(_net(digits), public, bins=8)
    breach = imprint_attack(Participant(lure.model).fedavg(batch, local_steps=1, lr=0.1), lure)
    assert breach.status == "recovered"
    # A weight change keeps fewer digits of a small gradient than the gradient itself (float32
    # weights): measured 3e-4 at most, 82 dB; still far above 40 dB.
    assert psnr(breach.images, batch.images).item() > 60


def test_what_the_server_keeps_is_frozen(digits):
    lure = imprint_model(_net(digits), digits.images[:50], bins=8)
    assert isinstance(lure, Imprint) and lure.method == "imprint"
    with pytest.raises(AttributeError):
        lure.boundaries = torch.zeros(8)
    assert lure.public_images == 50 and lure.requested == 8 and lure.rows <= 8


def test_the_servers_model_is_built_on_the_device_and_read_off_on_the_cpu(device, digits):
    batch, public = _split(digits, 8)
    lure = imprint_model(_net(digits).to(device), public, bins=32)
    assert all(p.device.type == device.type for p in lure.model.parameters())
    breach = imprint_attack(Participant(lure.model).fedsgd(batch), lure)
    assert breach.images.device.type == "cpu"
    cpu = imprint_model(_net(digits), public, bins=32)
    same = imprint_attack(Participant(cpu.model).fedsgd(batch), cpu)
    # Rounding on another device may tip an image lying on a bin's edge into the next bin.
    got, want = (fraction_exact(score_images(b.images, batch.images)) for b in (breach, same))
    assert abs(got - want) <= 0.25 and (device.type != "cpu" or got == want)


def test_a_float64_model_gets_a_float64_block(digits):
    _, public = _split(digits, 8)
    lure = imprint_model(_net(digits).double(), public, bins=8)
    assert all(p.dtype == torch.float64 for p in lure.model.parameters())
