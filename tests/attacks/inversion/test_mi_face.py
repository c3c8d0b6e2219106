"""MI-Face: inversions of real classifiers are recognised by an independent evaluator.

The targets are trained on real data (scikit-learn's digits, scikit-image's LFW crops); the
evaluation classifier is a LeNet trained on the other half of the data and is never given to
the attack. The helpers are checked against numpy references; the command line writes its
outputs and refuses bad options with one line and status 2.
"""

import copy
import json

import numpy as np
import pytest
import torch
from torch import nn

from dlgtut.attacks.inversion import (
    Inversion,
    MIFaceConfig,
    class_means,
    correlation,
    inversion_case,
    mi_face,
    recognised_fraction,
    score_inversion,
    top_classes,
)
from dlgtut.data import ImageSet
from dlgtut.errors import ConfigError, DataError, WrongTypeError


@pytest.fixture(scope="module")
def digits():
    return inversion_case("digits", seed=0)


@pytest.fixture(scope="module")
def faces():
    return inversion_case("faces", seed=0)


def test_the_case_trains_two_models_on_disjoint_halves(digits):
    a, b = set(digits.target_split.tolist()), set(digits.eval_split.tolist())
    assert not a & b and len(a | b) == len(digits.data) == 1797
    assert type(digits.target) is not type(digits.evaluator)  # another architecture
    assert digits.target_accuracy > 0.9 and digits.evaluator_accuracy > 0.9
    assert digits.means.shape == (10, 1, 8, 8) and digits.blank == 0.0


def test_digit_inversions_are_recognised_far_above_chance(digits):
    inv = mi_face(digits.target, range(10), digits.input_shape, start=digits.blank)
    s = score_inversion(inv.images, inv.classes, digits.evaluator, digits.means)
    assert s.chance == 0.1
    assert s.eval_accuracy >= 0.8  # chance: 0.1
    assert s.nearest_mean_accuracy >= 0.8
    assert s.correlation > 0.6
    assert inv.confidence.min() > 0.9  # the target itself is convinced


def test_the_blank_start_alone_is_not_the_class(digits):
    """The control: without the attack's steps the evaluator sees one class, at chance."""
    blank = torch.full((10, 1, 8, 8), digits.blank)
    assert recognised_fraction(digits.evaluator, blank, torch.arange(10)) <= 0.1


def test_the_face_inversion_looks_like_the_faces(faces):
    inv = mi_face(faces.target, [1], faces.input_shape, start=faces.blank, restarts=4)
    assert recognised_fraction(faces.evaluator, inv.images, 1) == 1.0
    to_faces = correlation(inv.images, faces.means[1].expand_as(inv.images))
    to_others = correlation(inv.images, faces.means[0].expand_as(inv.images))
    assert (to_faces > 0.4).all() and (to_faces > to_others).all()


def test_mi_face_is_reproducible_and_leaves_the_model_alone(faces):
    net = faces.target.train()
    before = [p.detach().clone() for p in net.parameters()]
    a = mi_face(net, [0, 1], faces.input_shape, steps=20, restarts=2, seed=3)
    b = mi_face(net, [0, 1], faces.input_shape, steps=20, restarts=2, seed=3)
    assert torch.equal(a.images, b.images) and a.classes.tolist() == [0, 0, 1, 1]
    assert net.training  # its mode restored
    assert all(torch.equal(p, q) for p, q in zip(before, net.parameters(), strict=True))
    assert a.images.min() >= 0 and a.images.max() <= 1
    net.eval()


def test_the_denoising_step_is_torchvisions_blur_and_smooths_the_images(faces):
    from torchvision.transforms.functional import gaussian_blur

    from dlgtut.attacks.gradient.inverting import total_variation
    from dlgtut.attacks.inversion.mi_face import _blur

    x = torch.rand(2, 1, 25, 25, generator=torch.Generator().manual_seed(0))
    assert torch.equal(_blur(x, 0.8), gaussian_blur(x, [3, 3], [0.8, 0.8]))
    kwargs = {"steps": 10, "tv_weight": 0.0, "seed": 1, "restarts": 3}  # 2 from noise
    plain = mi_face(faces.target, [1], faces.input_shape, **kwargs)
    blurred = mi_face(faces.target, [1], faces.input_shape, denoise_every=1, **kwargs)
    # Measured: the blurred inversions' total variation is 0.72 of the plain ones' (0.109 against
    # 0.151); a blur that did nothing would leave them equal.
    assert total_variation(blurred.images) < 0.85 * total_variation(plain.images)


def test_patience_stops_when_nothing_improves():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    nn.init.zeros_(net[1].weight)  # a flat cost: nothing ever improves after the first step
    inv = mi_face(net, [0], (1, 2, 2), steps=500, patience=10, tv_weight=0.0)
    assert isinstance(inv, Inversion) and inv.steps == 11


@pytest.mark.parametrize(
    "kwargs", [{"steps": 0}, {"lr": 0.0}, {"tv_weight": -1.0}, {"start": 2.0},
               {"restarts": 0}, {"denoise_every": -1}]
)
def test_bad_settings_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        MIFaceConfig(**kwargs)


def test_bad_classes_raise_config_error():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(ConfigError, match="outside the model's 2 outputs"):
        mi_face(net, [2], (1, 2, 2))
    with pytest.raises(ConfigError):
        mi_face(net, [], (1, 2, 2))


def test_correlation_matches_numpy():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(5, 1, 6, 6, generator=gen), torch.rand(5, 1, 6, 6, generator=gen)
    ours = correlation(a, b).numpy()
    pairs = zip(a.numpy(), b.numpy(), strict=True)
    ref = [np.corrcoef(x.flatten(), y.flatten())[0, 1] for x, y in pairs]
    np.testing.assert_allclose(ours, ref, rtol=1e-5)


def test_class_means_and_their_errors():
    x = torch.arange(6, dtype=torch.float32).reshape(6, 1, 1, 1)
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    assert class_means(x, y, 2).flatten().tolist() == [2.0, 3.0]
    with pytest.raises(DataError, match="none of class 2"):
        class_means(x, y, 3)


def test_score_inversion_counts_the_evaluators_verdicts():
    net = nn.Sequential(nn.Flatten(), nn.Linear(9, 2))
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[-1.0] * 9, [1.0] * 9]))
        net[1].bias.zero_()
    x = torch.tensor([0.2, 0.8, 0.1]).reshape(3, 1, 1, 1).expand(3, 1, 3, 3) - 0.5
    means = torch.tensor([0.3, 0.7]).reshape(2, 1, 1, 1).expand(2, 1, 3, 3) - 0.5
    s = score_inversion(x, torch.tensor([0, 1, 1]), net, means)
    assert s.eval_accuracy == pytest.approx(2 / 3) and s.per_class == {0: 1.0, 1: 0.5}
    assert json.loads(json.dumps(s.as_dict()))["per_class"] == {"0": 1.0, "1": 0.5}


def test_top_classes_keeps_the_most_frequent():
    s = ImageSet(torch.zeros(6, 1, 2, 2), torch.tensor([1, 1, 2, 0, 1, 2]), "abc", "t", "z")
    t = top_classes(s, 2)
    assert t.classes == ("b", "c") and t.labels.tolist() == [0, 0, 1, 0, 1]
    with pytest.raises(DataError):
        top_classes(s, 4)


@pytest.mark.parametrize("kwargs,fragment", [
    ({"lr": float("inf")}, "lr must be a finite number"),
    ({"tv_weight": float("nan")}, "tv_weight must be a finite number"),  # gave NaN images
    ({"noise": float("nan")}, "noise must be a finite number"),
    ({"stop_cost": float("nan")}, "stop_cost must be a finite number"),
    ({"denoise_every": 2.5}, "denoise_every must be an integer"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"progress": "no"}, "progress must be True or False"),
])
def test_nan_and_wrong_kinds_of_settings_raise_config_error(refused, kwargs, fragment):
    refused(ConfigError, fragment, MIFaceConfig, **kwargs)


@pytest.mark.parametrize("args,kwargs,error,fragment", [
    (([0.7], (1, 2, 2)), {}, DataError, "classes must be integer class indices"),  # was class 0
    (([0], (1, 2, 2.5)), {}, ConfigError, "every entry of input_shape must be a positive"),
    (([0], (1, 2)), {}, ConfigError, "input_shape must be (C, H, W)"),
    (([0], (1, 3, 3)), {}, DataError, "the model cannot take inputs of shape (1, 3, 3)"),
    (([0], (1, 2, 2), {"steps": 5}), {}, WrongTypeError, "config must be an MIFaceConfig"),
    (([0], (1, 2, 2)), {"step": 5}, ConfigError, "MIFaceConfig has no setting 'step'"),
])
def test_mi_face_refuses_bad_input_before_any_step(refused, args, kwargs, error, fragment):
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2)).train()
    refused(error, fragment, mi_face, net, *args, **kwargs)
    assert net.training  # the model's mode is restored


def test_mi_face_refuses_what_is_not_a_model(refused):
    refused(WrongTypeError, "torch.nn.Module, got function", mi_face, lambda x: x, [0],
            (1, 2, 2))


@pytest.mark.parametrize("call,error,fragment", [
    (lambda: class_means(torch.rand(3, 1, 2, 2), torch.tensor([0.0, 1.0, 1.5]), 2), DataError,
     "labels must be integer class indices"),
    (lambda: class_means(torch.rand(3, 1, 2, 2), [0, 1, 1], 2.0), ConfigError,
     "num_classes must be a positive integer"),
    (lambda: correlation(torch.full((2, 3), float("nan")), torch.rand(2, 3)), DataError,
     "a contains NaN or inf"),
    (lambda: correlation([[1.0, 2.0]], torch.rand(1, 2)), DataError, "a must be a tensor"),
    (lambda: recognised_fraction(nn.Linear(4, 2), torch.rand(3, 4), 1.5), DataError,
     "classes must be integer class indices"),
    (lambda: recognised_fraction(nn.Linear(4, 2), torch.rand(3, 4), [0, 1]), DataError,
     "need one class, or one per image"),
    (lambda: recognised_fraction("net", torch.rand(3, 4), 1), WrongTypeError,
     "the evaluator must be a torch.nn.Module"),
    (lambda: score_inversion(torch.rand(2, 1, 2, 2), torch.tensor([0.0, 1.0]),
                             nn.Sequential(nn.Flatten(), nn.Linear(4, 2)),
                             torch.rand(2, 1, 2, 2)), DataError,
     "classes must be integer class indices"),
    (lambda: score_inversion(torch.rand(2, 1, 2, 2), [0, 5],
                             nn.Sequential(nn.Flatten(), nn.Linear(4, 2)),
                             torch.rand(2, 1, 2, 2)), DataError,
     "classes must lie in [0, 1] for 2 class means"),
    (lambda: top_classes((torch.rand(2, 1, 2, 2), torch.tensor([0, 1])), 1), WrongTypeError,
     "data must be an ImageSet, got tuple"),
    (lambda: top_classes(ImageSet(torch.zeros(2, 1, 2, 2), torch.tensor([0, 1]), "ab", "t",
                                  "z"), 1.5), DataError, "k must be an integer"),
])
def test_evaluation_helpers_refuse_bad_input(refused, call, error, fragment):
    refused(error, fragment, call)


@pytest.mark.parametrize("kwargs,error,fragment", [
    ({"seed": -1}, ConfigError, "seed must be a non-negative integer"),
    ({"weight_decay": float("nan")}, ConfigError, "weight_decay must be a finite number"),
    ({"epochs": 0}, ConfigError, "epochs must be a positive integer"),
    ({"dataset": 3}, WrongTypeError, "dataset must be a name or an ImageSet, got int"),
    ({"dataset": ImageSet(torch.zeros(2, 1, 2, 2), torch.tensor([0, 0]), "a", "t", "z")},
     DataError, "needs 2 classes and 4 examples at least"),
])
def test_inversion_case_checks_its_input_before_training(refused, monkeypatch, kwargs, error,
                                                         fragment):
    import dlgtut.attacks.inversion.case as case
    import dlgtut.attacks.inversion.evaluation as evaluation

    def boom(*args, **kw):
        raise AssertionError("a model was trained before the input was checked")

    for module in (case, evaluation):  # the target trains in one, the evaluator in the other
        monkeypatch.setattr(module, "train_classifier", boom)
    refused(error, fragment, inversion_case, **kwargs)


def test_mi_face_optimises_on_the_models_device_and_answers_on_the_cpu(device, faces):
    net = faces.target
    a = mi_face(net, [0, 1], faces.input_shape, steps=20, restarts=2, seed=3)
    b = mi_face(copy.deepcopy(net).to(device), [0, 1], faces.input_shape, steps=20, restarts=2,
                seed=3)
    assert {t.device.type for t in (b.images, b.classes, b.confidence)} == {"cpu"}
    torch.testing.assert_close(b.images, a.images, rtol=0, atol=1e-2)  # lr 10 amplifies rounding
    scores = score_inversion(b.images.to(device), b.classes.to(device), faces.evaluator,
                             faces.means.to(device))  # judged from any device
    assert scores == score_inversion(b.images, b.classes, faces.evaluator, faces.means)


def test_a_float64_model_is_inverted_in_float64():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2)).double()
    inv = mi_face(net, [0, 1], (1, 2, 2), steps=5, restarts=2)
    assert inv.images.dtype == torch.float64 and inv.images.device.type == "cpu"


def test_the_case_trains_both_models_on_the_device(device, digits):
    data = ImageSet(digits.data.images[:200], digits.data.labels[:200], digits.data.classes,
                    "digits", "test")
    case = inversion_case(data, seed=0, epochs=3, device=device)
    for model in (case.target, case.evaluator):
        assert next(model.parameters()).device.type == device.type
    assert case.means.device.type == "cpu" and 0 <= case.target_accuracy <= 1


def test_another_target_for_the_same_case_is_the_one_a_new_case_trains(device, digits, refused):
    # The assignment compares targets trained with and without weight decay under one judge:
    # with_target retrains only the target, and gives the very target a whole new case trains.
    data = ImageSet(digits.data.images[:300], digits.data.labels[:300], digits.data.classes,
                    "digits", "test")
    case = inversion_case(data, seed=3, epochs=4, device=device)
    plain = case.with_target(weight_decay=0.0)
    fresh = inversion_case(data, seed=3, epochs=4, weight_decay=0.0, device=device)
    assert plain.evaluator is case.evaluator and plain.weight_decay == 0.0
    assert torch.equal(plain.target_split, fresh.target_split)
    for a, b in zip(plain.target.state_dict().values(), fresh.target.state_dict().values(),
                    strict=True):
        assert a.device.type == device.type and torch.equal(a, b)
    assert plain.target_accuracy == fresh.target_accuracy
    # The penalty changed the weights: a target trained again, not the same one returned.
    before = torch.cat([p.flatten() for p in case.target.parameters()])
    assert not torch.equal(before, torch.cat([p.flatten() for p in plain.target.parameters()]))
    assert case.weight_decay == 0.01  # the case itself is left as it was
    refused(ConfigError, "weight_decay", case.with_target, weight_decay=-1.0)
