"""Counting unknowns against the constraints a gradient can give."""

import pytest
import torch

from dlgtut.attacks import dlg, identifiability
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.models import LeNet


def _update(n, c, size, classes):
    net = LeNet(c, classes, size, seed=0)
    return Participant(net).fedsgd(PrivateBatch(torch.rand(n, c, size, size), torch.arange(n)))


@pytest.mark.parametrize(
    "n,c,size,classes,unknowns,constraints",
    [
        # conv layers 912 + 3612 + 3612; classifier at most N (K + F) of its K x F entries
        (1, 3, 32, 100, 3072, 8136 + 868),
        (4, 3, 32, 100, 12288, 8136 + 4 * 868),
        (4, 1, 32, 10, 4096, 7536 + 4 * 778),
        (4, 3, 16, 100, 3072, 8136 + 4 * (100 + 192)),
    ],
)
def test_counts(n, c, size, classes, unknowns, constraints):
    count = identifiability(_update(n, c, size, classes))
    assert (count.unknowns, count.constraints) == (unknowns, constraints)
    assert count.possible == (constraints >= unknowns)


def test_the_attack_warns_when_the_batch_cannot_be_determined():
    update = _update(4, 3, 32, 100)
    rec = dlg(update, iterations=1, progress=False)
    assert "cannot be determined" in rec.message and not rec.identifiable
    ok = dlg(_update(1, 3, 32, 100), iterations=1, progress=False)
    assert "cannot be determined" not in ok.message and ok.identifiable
