"""The malicious block, the server's dataclass, the breach, and grouping equal readings."""

import torch

from dlgtut.attacks.malicious import MaliciousBlock, imprint_model
from dlgtut.attacks.malicious.block import same_groups
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.models import LeNet


def test_the_block_adds_its_rows_onto_the_image():
    weight, bias = torch.eye(4), torch.zeros(4)
    block = MaliciousBlock((1, 2, 2), weight, bias, torch.eye(4))
    x = torch.rand(3, 1, 2, 2)
    torch.testing.assert_close(block(x), 2 * x)  # relu(x) = x for x in [0, 1], added back


def test_the_gradient_ratio_of_a_row_hit_by_one_image_is_the_image():
    gen = torch.Generator().manual_seed(0)
    public = torch.rand(20, 1, 8, 8, generator=gen)
    lure = imprint_model(LeNet(1, 10, 8, seed=0), public, bins=1)
    x = torch.rand(1, 1, 8, 8, generator=gen)
    update = Participant(lure.model).fedsgd(PrivateBatch(x, [4]))
    reading = update.tensors[0][0] / update.tensors[1][0]  # row 0 fires for every image
    assert (reading - x.flatten()).abs().max() < 1e-6


def test_equal_readings_are_grouped_and_distinct_ones_are_not():
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(50, 3072, generator=gen, dtype=torch.float64)
    readings = torch.cat([images, images[:10] + 1e-9, images[:5] + 1e-7])
    group = same_groups(readings, 1e-4)
    assert group[:50].tolist() == list(range(50))
    assert group[50:60].tolist() == list(range(10)) and group[60:].tolist() == list(range(5))
    apart = same_groups(images + torch.arange(50.0)[:, None] * 1e-3, 1e-4)
    assert apart.tolist() == list(range(50))
