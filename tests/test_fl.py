"""The honest participant and what it shares."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from dlgtut.errors import AttackError, DataError, WrongTypeError
from dlgtut.fl import Participant, PrivateBatch, SharedUpdate, soft_cross_entropy
from dlgtut.models import LeNet


def _tiny_model() -> nn.Module:
    net = nn.Sequential(nn.Flatten(), nn.Linear(3, 2))
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[0.5, -1.0, 0.25], [1.5, 0.0, -0.5]]))
        net[1].bias.copy_(torch.tensor([0.1, -0.2]))
    return net


def test_fedsgd_gradient_equals_the_hand_computed_one():
    x = torch.tensor([[[[0.2, 0.4, 0.6]]], [[[1.0, 0.0, 0.5]]]])  # 2 x 1 x 1 x 3
    y = torch.tensor([1, 0])
    update = Participant(_tiny_model()).fedsgd(PrivateBatch(x, y))
    # By hand: logits = W a + b, p = softmax, dW = mean_n (p_n - y_n) a_n^T, db = mean_n (p_n - y_n)
    W = np.array([[0.5, -1.0, 0.25], [1.5, 0.0, -0.5]])
    b = np.array([0.1, -0.2])
    a = x.reshape(2, 3).numpy().astype(np.float64)
    logits = a @ W.T + b
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    err = p - np.eye(2)[y.numpy()]
    dW, db = err.T @ a / 2, err.mean(0)
    assert update.kind == "gradient" and update.batch_size == 2 and update.num_classes == 2
    np.testing.assert_allclose(update.tensors[0].numpy(), dW, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(update.tensors[1].numpy(), db, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose([t.numpy() for t in update.gradient()][0], dW, rtol=1e-5)


def test_soft_cross_entropy_equals_cross_entropy_for_one_hot():
    logits = torch.randn(5, 7)
    labels = torch.randint(0, 7, (5,))
    ours = soft_cross_entropy(logits, torch.nn.functional.one_hot(labels, 7).float())
    assert torch.allclose(ours, torch.nn.functional.cross_entropy(logits, labels))


def test_fedavg_one_step_is_minus_lr_times_the_gradient_and_model_untouched():
    net = _tiny_model()
    before = [p.detach().clone() for p in net.parameters()]
    batch = PrivateBatch(torch.rand(4, 1, 1, 3), torch.tensor([0, 1, 1, 0]))
    grad = Participant(net).fedsgd(batch).tensors
    step = Participant(net).fedavg(batch, local_steps=1, lr=0.3)
    assert step.kind == "weight_delta" and step.lr == 0.3 and step.local_steps == 1
    for d, g in zip(step.tensors, grad, strict=True):
        assert torch.allclose(d, -0.3 * g, atol=1e-7)
    for g, r in zip(step.gradient(), grad, strict=True):
        assert torch.allclose(g, r, atol=1e-6)
    for p, b in zip(net.parameters(), before, strict=True):
        assert torch.equal(p, b)


def test_fedavg_several_steps_follow_sgd_and_cannot_be_read_as_one_gradient():
    net = _tiny_model()
    batch = PrivateBatch(torch.rand(4, 1, 1, 3), torch.tensor([0, 1, 1, 0]))
    update = Participant(net).fedavg(batch, local_steps=3, lr=0.5, minibatch_size=2)
    manual = _tiny_model()
    start = [p.detach().clone() for p in manual.parameters()]
    for idx in ([0, 1], [2, 3], [0, 1]):
        loss = nn.functional.cross_entropy(manual(batch.images[idx]), batch.labels[idx])
        grads = torch.autograd.grad(loss, list(manual.parameters()))
        with torch.no_grad():
            for p, g in zip(manual.parameters(), grads, strict=True):
                p -= 0.5 * g
    for d, p, s in zip(update.tensors, manual.parameters(), start, strict=True):
        assert torch.allclose(d, p.detach() - s, atol=1e-6)
    with pytest.raises(AttackError, match="3 local steps"):
        update.gradient()


def test_shared_update_carries_no_private_data():
    images = torch.rand(2, 1, 1, 3)
    update = Participant(_tiny_model()).fedsgd(PrivateBatch(images, torch.tensor([0, 1])))
    fields = set(SharedUpdate.__dataclass_fields__)
    assert "images" not in fields and "labels" not in fields
    for t in update.tensors:
        assert t.shape != images.shape
    assert update.model is not None and update.input_shape == (1, 1, 3)


@pytest.mark.parametrize(
    "images,labels,match",
    [
        (torch.rand(2, 3, 4, 4) * 2, torch.tensor([0, 1]), r"\[0, 1\]"),
        (torch.rand(2, 3, 4), torch.tensor([0, 1]), "N x C x H x W"),
        (torch.rand(2, 3, 4, 4), torch.tensor([0]), "one label per image"),
        (torch.randint(0, 2, (1, 3, 4, 4)), torch.tensor([0]), "floats"),
        (torch.rand(0, 3, 4, 4), torch.tensor([], dtype=torch.long), "at least one"),
    ],
)
def test_private_batch_rejects_bad_input(images, labels, match):
    with pytest.raises(DataError, match=match):
        PrivateBatch(images, labels)


def test_label_outside_the_classes_is_rejected():
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        Participant(_tiny_model()).fedsgd(PrivateBatch(torch.rand(1, 1, 1, 3), torch.tensor([5])))
    with pytest.raises(DataError, match="local_steps"):
        Participant(_tiny_model()).fedavg(
            PrivateBatch(torch.rand(1, 1, 1, 3), torch.tensor([1])), local_steps=0, lr=0.1
        )


@pytest.mark.parametrize(
    "labels,match",
    [
        (torch.tensor([2.7]), "integer class indices, got dtype torch.float32"),
        (torch.tensor([2.0]), "integer class indices"),  # refused, not truncated
        (torch.tensor([True]), "integer class indices"),
        (torch.tensor([-1]), "must not be negative"),
        ("3", "integer class indices"),
    ],
)
def test_labels_must_be_integers_not_truncated_floats(labels, match):
    with pytest.raises(DataError, match=match):
        PrivateBatch(torch.rand(1, 1, 4, 4), labels)


def test_nan_images_are_refused():
    images = torch.rand(1, 1, 4, 4)
    images[0, 0, 1, 1] = float("nan")
    with pytest.raises(DataError, match="NaN or inf"):
        PrivateBatch(images, torch.tensor([0]))


def test_an_attack_given_the_private_batch_says_so():
    from dlgtut.attacks import dlg, inverting_gradients
    batch = PrivateBatch(torch.rand(1, 1, 8, 8), torch.tensor([1]))
    for attack in (dlg, inverting_gradients):
        with pytest.raises(WrongTypeError, match="not the PrivateBatch itself"):
            attack(batch)
        with pytest.raises(WrongTypeError, match="takes a SharedUpdate, got dict"):
            attack({})


def test_the_batch_follows_the_models_dtype():
    net = LeNet(in_channels=1, num_classes=10, image_size=8, seed=0).double()
    update = Participant(net).fedsgd(PrivateBatch(torch.rand(1, 1, 8, 8), torch.tensor([3])))
    assert all(t.dtype == torch.float64 for t in update.tensors)


@pytest.mark.parametrize("images", [torch.rand(1, 3, 8, 8), torch.rand(1, 1, 9, 13)],
                         ids=["channels", "size"])
def test_images_the_model_cannot_take_give_one_line(images):
    net = LeNet(in_channels=1, num_classes=10, image_size=8, seed=0)
    with pytest.raises(DataError, match=r"the model cannot take images of shape") as err:
        Participant(net).fedsgd(PrivateBatch(images, torch.tensor([3])))
    assert "\n" not in str(err.value)


def test_a_model_that_is_not_a_module_is_refused():
    with pytest.raises(WrongTypeError, match="torch.nn.Module"):
        Participant(lambda x: x)
    with pytest.raises(DataError, match="no parameters"):
        Participant(torch.nn.Flatten())


def test_batchnorm_statistics_of_the_public_model_are_untouched():
    # The docstring promises the public model is never modified; BatchNorm in train mode
    # updates running statistics on every forward pass, so the participant works on a copy.
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4),
                              torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 10)).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    batch = PrivateBatch(torch.rand(4, 1, 8, 8), torch.tensor([1, 2, 3, 4]))
    Participant(net).fedsgd(batch)
    Participant(net).fedavg(batch, local_steps=2, lr=0.1)
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_model_without_buffers_is_left_exactly_as_it_was():
    # Such a model is used without a copy (nothing in a forward pass can change it): its
    # weights, their .grad and its mode must be what they were.
    net = LeNet(in_channels=1, num_classes=10, image_size=8, seed=0).train()
    before = [p.detach().clone() for p in net.parameters()]
    batch = PrivateBatch(torch.rand(3, 1, 8, 8), torch.tensor([1, 2, 3]))
    update = Participant(net).fedsgd(batch)
    assert all(torch.equal(b, p) for b, p in zip(before, net.parameters(), strict=True))
    assert all(p.grad is None for p in net.parameters()) and net.training
    assert update.model is not net  # the update carries a snapshot, not the live model


@pytest.mark.parametrize("kwargs,match", [
    ({"local_steps": 2.5, "lr": 0.1}, "local_steps"),
    ({"local_steps": 1, "lr": float("nan")}, "lr must be a positive finite"),
    ({"local_steps": 1, "lr": 0.1, "minibatch_size": 0}, "minibatch_size"),
])
def test_fedavg_refuses_bad_hyperparameters(kwargs, match):
    net = LeNet(in_channels=1, num_classes=10, image_size=8, seed=0)
    with pytest.raises(DataError, match=match):
        Participant(net).fedavg(PrivateBatch(torch.rand(1, 1, 8, 8), torch.tensor([3])), **kwargs)


@pytest.mark.parametrize("change,error,fragment", [
    ({"model": None}, WrongTypeError, "dlg needs the public model: the update's model is a "
                                         "NoneType"),
    ({"tensors": [[0.0]]}, WrongTypeError, "non-empty tuple of floating-point tensors"),
    ({"tensors": ()}, WrongTypeError, "non-empty tuple of floating-point tensors"),
    ({"kind": "gradients"}, DataError, "kind is 'gradient' or 'weight_delta'"),
    ({"batch_size": 0}, DataError, "the update's batch_size must be a positive integer"),
    ({"batch_size": 1.0}, DataError, "the update's batch_size must be a positive integer"),
    ({"num_classes": True}, DataError, "the update's num_classes must be a positive integer"),
    ({"input_shape": (1, 8)}, DataError, "the update's input_shape must be (C, H, W)"),
    ({"input_shape": (1, 8, 8.0)}, DataError, "input_shape must be a positive integer"),
    ({"local_steps": 0}, DataError, "the update's local_steps must be a positive integer"),
    ({"lr": float("nan")}, DataError, "the update's lr must be a finite number"),
    ({"meta": None}, WrongTypeError, "the update's meta must be a dict, got NoneType"),
])
def test_a_hand_made_update_with_impossible_facts_is_refused(refused, change, error, fragment):
    import dataclasses

    from dlgtut.attacks import dlg

    net = LeNet(in_channels=1, num_classes=10, image_size=8, seed=0)
    update = Participant(net).fedsgd(PrivateBatch(torch.rand(1, 1, 8, 8), torch.tensor([3])))
    refused(error, fragment, dlg, dataclasses.replace(update, **change))


def test_the_update_and_its_model_stay_on_the_models_device(device):
    net = LeNet(in_channels=1, num_classes=10, image_size=8, seed=0).to(device)
    batch = PrivateBatch(torch.rand(2, 1, 8, 8), torch.tensor([3, 5]))  # on the CPU
    for update in (Participant(net).fedsgd(batch),
                   Participant(net).fedavg(batch, local_steps=2, lr=0.1)):
        assert all(t.device.type == device.type for t in update.tensors)
        assert next(update.model.parameters()).device.type == device.type
    assert batch.images.device.type == "cpu"  # the private batch itself is not moved


def test_an_update_on_cuda_equals_the_cpu_one(cuda):
    net = LeNet(in_channels=1, num_classes=10, image_size=8, activation="relu", seed=0)
    batch = PrivateBatch(torch.rand(4, 1, 8, 8), torch.tensor([3, 5, 3, 1]))
    for share in (lambda p: p.fedsgd(batch),
                  lambda p: p.fedavg(batch, local_steps=3, lr=0.1, minibatch_size=2)):
        on_cpu = share(Participant(net))
        on_cuda = share(Participant(copy.deepcopy(net).to(cuda)))
        for a, b in zip(on_cpu.tensors, on_cuda.tensors, strict=True):
            assert b.device.type == "cuda"
            torch.testing.assert_close(b.cpu(), a, rtol=1e-4, atol=1e-6)
