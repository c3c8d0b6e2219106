"""forbid: the library's own version of what a question asks for raises while a test runs."""

import pytest
import torch

from dlgtut.attacks import gradient_distance, idlg_label
from dlgtut.attacks.gradient import labels as labels_module
from dlgtut.attacks.property import PropertyAttacker
from dlgtut.classroom import Forbidden, forbid
from dlgtut.errors import WrongTypeError

GRAD = torch.tensor([[1.0], [-1.0]])


def test_every_reference_raises_and_everything_comes_back():
    alias = idlg_label

    def student(w):  # an answer that only wraps the library
        return labels_module.idlg_label(w)

    with forbid(idlg_label):
        for call in (alias, labels_module.idlg_label, student):
            with pytest.raises(Forbidden, match="write this part yourself"):
                call(GRAD)
    assert alias(GRAD) == student(GRAD) == 1


def test_defaults_are_restored_and_errors_do_not_leave_it_forbidden():
    a, b = [torch.tensor([1.0, 0.0])], [torch.tensor([0.0, 1.0])]
    with pytest.raises(KeyError), forbid(gradient_distance):
        raise KeyError("a test failing inside")
    assert gradient_distance(a, b).item() == 2.0  # kind="l2" by default again
    assert gradient_distance(a, b, "cosine").item() == 1.0


def test_a_forbidden_class_cannot_be_made():
    with forbid(PropertyAttacker), pytest.raises(Forbidden):
        PropertyAttacker(None, batch_size=1, n_updates=1)
    with pytest.raises(Exception) as info:  # its own checks again, not Forbidden
        PropertyAttacker(None, batch_size=1, n_updates=1)
    assert not isinstance(info.value, Forbidden)


def _closure():
    x = 1
    return lambda: x


@pytest.mark.parametrize("thing, fragment", [
    (len, "forbid takes Python functions or classes"),
    ("idlg_label", "forbid takes Python functions or classes"),
    (_closure(), "it is a closure"),
])
def test_what_cannot_be_replaced_is_refused(thing, fragment, refused):
    refused(WrongTypeError, fragment, lambda: forbid(thing).__enter__())
