"""iDLG's analytic label and the batch rule for distinct labels."""

import pytest
import torch

from dlgtut.attacks.gradient.labels import (
    analytic_labels,
    batch_labels,
    idlg_label,
    infer_labels,
    label_counts,
    last_layer_gradient,
    rounded_counts,
)
from dlgtut.data import load_dataset
from dlgtut.errors import AttackError, ConfigError, DataError, WrongTypeError
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.models import LeNet


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", size=32)


def test_idlg_label_is_right_on_200_random_single_samples():
    gen = torch.Generator().manual_seed(0)
    wrong = []
    for case in range(200):
        classes = (10, 100)[case % 2]
        net = LeNet(in_channels=1, num_classes=classes, image_size=16, seed=case)
        label = int(torch.randint(0, classes, (1,), generator=gen))
        image = torch.rand(1, 1, 16, 16, generator=gen)
        update = Participant(net).fedsgd(PrivateBatch(image, torch.tensor([label])))
        w = last_layer_gradient(update.tensors, classes)
        if idlg_label(w) != label or infer_labels(update).tolist() != [label]:
            wrong.append(case)
    assert wrong == []


@pytest.mark.parametrize("size", [2, 4, 8])
def test_batch_labels_beat_the_sign_rule_on_distinct_labels(size):
    """The count estimate is right on (nearly) every batch; the sign rule misses some."""
    gen = torch.Generator().manual_seed(size)
    wrong_counts = wrong_signs = 0
    for case in range(40):
        net = LeNet(in_channels=3, num_classes=100, image_size=16, seed=100 + case)
        labels = torch.randperm(100, generator=gen)[:size]
        images = torch.rand(size, 3, 16, 16, generator=gen)
        update = Participant(net).fedsgd(PrivateBatch(images, labels))
        truth = sorted(labels.tolist())
        wrong_counts += infer_labels(update).tolist() != truth
        signs = batch_labels(last_layer_gradient(update.tensors, 100), size)
        wrong_signs += signs.tolist() != truth
    assert wrong_counts == 0
    assert wrong_signs >= wrong_counts


def test_labels_of_real_digit_batches_are_right_with_ten_classes(digits):
    """Real digits, untrained 10-class LeNets: the sign rule alone is often wrong, ours never."""
    size = 4
    wrong = wrong_signs = 0
    for seed in (0, 1, 2, 1234):
        net = LeNet(1, 10, 32, seed=seed)
        for start in range(0, 400, 40):
            images, labels, _ = digits.batch(start, size)
            update = Participant(net).fedsgd(PrivateBatch(images, labels))
            truth = sorted(labels.tolist())
            wrong += infer_labels(update).tolist() != truth
            signs = batch_labels(last_layer_gradient(update.tensors, 10), size)
            wrong_signs += signs.tolist() != truth
    assert wrong == 0
    assert wrong_signs >= 10


def test_label_counts_estimate_repeated_labels():
    net = LeNet(in_channels=1, num_classes=10, image_size=16, seed=5)
    labels = torch.tensor([1, 1, 1, 6])
    update = Participant(net).fedsgd(PrivateBatch(torch.rand(4, 1, 16, 16), labels))
    counts = label_counts(update)
    assert counts.sum().item() == pytest.approx(4.0, abs=1e-4)  # p_hat and dL/db both sum to 1
    assert counts.round().tolist()[1] == 3 and counts.round().tolist()[6] == 1


def test_repeated_labels_give_the_present_classes_plus_the_next_most_negative():
    net = LeNet(in_channels=1, num_classes=10, image_size=16, seed=3)
    labels = torch.tensor([2, 2, 7])
    update = Participant(net).fedsgd(PrivateBatch(torch.rand(3, 1, 16, 16), labels))
    w = last_layer_gradient(update.tensors, 10)
    assert (w.sum(1) < 0).sum() == 2  # only two classes are present
    found = batch_labels(w, 3).tolist()
    assert {2, 7} <= set(found) and len(found) == 3


@pytest.mark.parametrize("size", [16, 32])
def test_repeated_labels_of_real_digit_batches_larger_than_the_class_count(digits, size):
    """A batch of 16 or 32 consecutive digits repeats labels; the rounded counts name them all."""
    net = LeNet(in_channels=1, num_classes=10, image_size=32, activation="relu", seed=0,
                init="default")
    x, y = digits.images[1300 : 1300 + size], digits.labels[1300 : 1300 + size]
    update = Participant(net).fedsgd(PrivateBatch(x, y))
    found = infer_labels(update)  # automatic: more examples than classes
    assert found.tolist() == sorted(y.tolist())
    assert infer_labels(update, repeated=True).tolist() == found.tolist()
    with pytest.raises(AttackError, match="repeated=True"):
        infer_labels(update, repeated=False)


def test_rounded_counts_add_up_and_follow_the_largest_remainders():
    assert rounded_counts(torch.tensor([2.1, 1.2, 0.7]), 4).tolist() == [2, 1, 1]
    assert rounded_counts(torch.tensor([-1.0, 3.2, 0.9]), 4).tolist() == [0, 3, 1]
    assert rounded_counts(torch.zeros(4), 2).sum().item() == 2


def test_model_without_a_classifier_layer_raises():
    with pytest.raises(AttackError, match="no linear layer with 10 outputs"):
        last_layer_gradient([torch.zeros(3, 4), torch.zeros(3)], 10)
    with pytest.raises(AttackError, match="distinct labels"):
        batch_labels(torch.zeros(3, 4), 5)


def _update(n=1):
    net = LeNet(1, 10, 8, seed=0)
    return net, Participant(net).fedsgd(PrivateBatch(torch.rand(n, 1, 8, 8), torch.arange(n)))


def test_label_functions_take_a_shared_update_not_the_private_batch(refused):
    batch = PrivateBatch(torch.rand(1, 1, 8, 8), torch.tensor([1]))
    for fn in (infer_labels, analytic_labels, label_counts):
        refused(WrongTypeError, "not the PrivateBatch itself", fn, batch)
    refused(ConfigError, "repeated must be True or False", infer_labels, _update()[1],
            repeated="yes")


@pytest.mark.parametrize("call,error,fragment", [
    (lambda u: last_layer_gradient(u, 10), WrongTypeError, "pass the update's gradient"),
    (lambda u: last_layer_gradient(u.tensors[0], 10), WrongTypeError,
     "a sequence of tensors, one per parameter, got Tensor"),
    (lambda u: last_layer_gradient(u.gradient(), 10.0), ConfigError,
     "num_classes must be a positive integer"),
    (lambda u: idlg_label(torch.tensor([0.3, -0.2])), DataError,  # was silently label 0
     "the classifier's weight gradient must be a tensor of shape K x F, got shape (2,)"),
    (lambda u: idlg_label(torch.full((3, 2), float("nan"))), DataError, "contains NaN or inf"),
    (lambda u: batch_labels(torch.rand(10, 4), 2.0), ConfigError,
     "batch_size must be a positive integer"),
    (lambda u: rounded_counts(torch.tensor([float("nan"), 1.0]), 2), DataError,
     "counts contains NaN or inf"),
    (lambda u: rounded_counts(torch.tensor([0.5, 1.0]), 2.5), ConfigError,
     "total must be a non-negative integer"),
    (lambda u: rounded_counts(torch.tensor([1, 2]), 2), DataError,
     "counts must be a floating-point tensor"),
])
def test_label_rules_refuse_bad_input_in_one_line(refused, call, error, fragment):
    refused(error, fragment, call, _update()[1])


def test_label_counts_with_a_shape_the_model_cannot_take_is_one_line(refused):
    import dataclasses

    _, update = _update(2)
    refused(DataError, "the model cannot take images of shape (3, 8, 8)", label_counts,
            dataclasses.replace(update, input_shape=(3, 8, 8)))


def test_labels_read_off_an_update_on_any_device_come_back_on_the_cpu(device, digits):
    net = LeNet(1, 10, 32, seed=0).to(device)
    for n in (1, 4, 12):  # iDLG, the distinct-label rules, repeated labels
        labels = digits.labels[:n]
        guess = analytic_labels(Participant(net).fedsgd(PrivateBatch(digits.images[:n], labels)))
        assert guess.labels.device.type == "cpu"
    update = Participant(net).fedsgd(PrivateBatch(digits.images[:4], digits.labels[:4]))
    assert label_counts(update).device.type == "cpu"


def test_one_label_comes_from_the_bias_whatever_the_activation():
    """A Tanh network's features can be negative, and iDLG's row sums then name another class
    (22 of these 40 digits, measured); the bias gradient p - y has exactly one negative entry,
    the label's, for any activation, and analytic_labels reads it there."""
    digits = load_dataset("digits", size=16)
    row_sum_wrong = 0
    for i in range(40):
        net = LeNet(1, 10, 16, "tanh", seed=i % 5, init="default")
        update = Participant(net).fedsgd(PrivateBatch(digits.images[i:i + 1],
                                                      digits.labels[i:i + 1]))
        truth = int(digits.labels[i])
        row_sum_wrong += idlg_label(last_layer_gradient(update.gradient(), 10)) != truth
        guess = analytic_labels(update)
        assert guess.rule == "bias" and guess.labels.tolist() == [truth]
    assert row_sum_wrong >= 10  # the old rule on this network: measured 22 of 40 wrong


def test_gradinversion_ranks_rows_by_their_minimum():
    """GradInversion's rule (row-wise minima), beside the row sums: on 30 batches of 4 digits
    and untrained Sigmoid LeNets both name all four labels 21 times (measured)."""
    from dlgtut.attacks.gradient import gradinversion_labels

    digits = load_dataset("digits", size=16)
    right = 0
    for seed in range(3):
        for start in range(0, 200, 20):
            x, y, _ = digits.batch(start, 4)
            update = Participant(LeNet(1, 10, 16, seed=seed)).fedsgd(PrivateBatch(x, y))
            w = last_layer_gradient(update.gradient(), 10)
            right += gradinversion_labels(w, 4).tolist() == sorted(y.tolist())
            assert len(set(batch_labels(w, 4).tolist())) == 4
    assert right >= 15
