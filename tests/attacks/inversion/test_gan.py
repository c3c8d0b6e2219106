"""The GAN attack of Hitaj et al. in a real FedAvg run on scikit-learn's digits.

The generated samples are judged by an evaluation classifier (an MLP, unlike the shared LeNet)
trained on digits that no participant holds. After the default 100 rounds the active
adversary's samples are recognised as the victim's digit far above chance, and far more often
than those of the same generator trained as long against the untrained shared model, which
knows nothing of the victim.
"""

import copy
import json

import pytest
import torch
import torch.nn.functional as F

from dlgtut.attacks.inversion import (
    GANAdversary,
    GANAttackConfig,
    Generator,
    federation,
    gan_attack,
    recognised_fraction,
)
from dlgtut.errors import ConfigError, DataError, WrongTypeError
from dlgtut.models import LeNet
from dlgtut.server import apply_update

CFG = GANAttackConfig()  # digits, victim class 3, 4 participants, 100 rounds, seed 0


@pytest.fixture(scope="module")
def fed():
    return federation(CFG)


@pytest.fixture(scope="module")
def active(fed):
    return gan_attack(CFG, setting=fed)


def test_only_the_victim_holds_its_class(fed):
    holders = [int((y == CFG.victim_class).sum()) for _, y in fed.parts]
    assert holders[0] > 50 and holders[1:] == [0, 0, 0]
    assert sum(len(y) for _, y in fed.parts) + len(fed.test[1]) < len(fed.data)  # + evaluator's
    assert fed.evaluator_accuracy > 0.9


def test_active_attack_is_recognised_far_above_chance(active):
    # Measured (seed 0): 96 % after round 100, 76 % on average over rounds 60 to 100.
    assert active.recognised[0] == 0.0  # the untrained generator is no '3'
    assert active.recognised[-1] >= 0.6 and active.late_recognised >= 0.5  # chance: 0.1
    assert active.late_similarity > 0.6  # correlation with the real mean '3'
    assert active.accuracy[-1] > 0.8  # the main task still trains


def test_a_generator_without_the_federations_knowledge_stays_at_chance(fed, active):
    """The baseline: the same generator, steps and noise against the untrained shared model."""
    k = len(fed.data.classes)
    untrained = LeNet(1, k + 1, 8, activation="relu", init="default", seed=CFG.seed)
    adversary = GANAdversary(*fed.parts[1], CFG.victim_class, k,
                             Generator(CFG.latent_dim, (1, 8, 8), seed=CFG.seed + 2), CFG)
    for _ in range(CFG.rounds):
        adversary.train_generator(untrained)
    z = torch.randn(CFG.samples, CFG.latent_dim,
                    generator=torch.Generator().manual_seed(CFG.seed + 9))
    baseline = recognised_fraction(fed.evaluator, adversary.generate(z), CFG.victim_class)
    assert baseline <= 0.2
    assert active.recognised[-1] - baseline >= 0.4


def test_the_active_update_teaches_the_fake_class(fed):
    """Fake-class injection raises the shared model's fake output on generated samples."""
    k = len(fed.data.classes)
    model = LeNet(1, k + 1, 8, activation="relu", init="default", seed=0)
    z = torch.randn(64, CFG.latent_dim, generator=torch.Generator().manual_seed(5))
    gain = {}
    for mode in ("active", "passive"):
        cfg = CFG.replace(mode=mode)
        adversary = GANAdversary(*fed.parts[1], CFG.victim_class, k,
                                 Generator(seed=2), cfg)
        update = adversary.update(model, torch.Generator().manual_seed(0))
        after = apply_update(copy.deepcopy(model), update.tensors, update.kind)
        x = adversary.generate(z)
        with torch.no_grad():
            gain[mode] = float((F.softmax(after(x), -1)[:, k] - F.softmax(model(x), -1)[:, k])
                               .mean())
    # Measured: +0.063 (from about 1/11) against -0.006 after one round.
    assert gain["active"] > 0.03 and gain["active"] > gain["passive"] + 0.03


def test_runs_are_reproducible_and_the_dp_victim_reports_epsilon(fed):
    a = gan_attack(CFG, setting=fed, rounds=2, eval_every=1, dp_victim=True)
    b = gan_attack(CFG, setting=fed, rounds=2, eval_every=1, dp_victim=True)
    assert a.accuracy == b.accuracy and torch.equal(a.samples, b.samples)
    assert a.evaluated == [0, 1, 2] and len(a.accuracy) == 3
    assert 0 < a.epsilon < float("inf") and a.epsilon == b.epsilon
    longer = gan_attack(CFG, setting=fed, rounds=4, eval_every=4, dp_victim=True)
    assert longer.epsilon > a.epsilon  # privacy spent grows with the rounds
    json.dumps(a.as_dict())


def test_the_adversary_refuses_the_victims_class(fed):
    x, y = fed.parts[0]
    with pytest.raises(DataError, match="victim's class"):
        GANAdversary(x, y, CFG.victim_class, 10, Generator(), CFG)


@pytest.mark.parametrize(
    "changes",
    [{"mode": "greedy"}, {"participants": 1}, {"dataset": "faces"}, {"rounds": 0},
     {"fake_fraction": 0.0}, {"delta": 1.0}, {"diversity": -1.0}],
)
def test_bad_settings_raise_config_error(changes):
    with pytest.raises(ConfigError):
        GANAttackConfig(**changes)


def test_a_class_the_dataset_lacks_is_refused():
    with pytest.raises(ConfigError, match="not a class of digits"):
        federation(victim_class=10)


@pytest.mark.parametrize("changes,fragment", [
    ({"lr": "0.1"}, "lr must be a number"),
    ({"generator_lr": True}, "generator_lr must be a number"),
    ({"dp_victim": 1}, "dp_victim must be True or False"),
    ({"seed": 2.5}, "seed must be a non-negative integer"),
    ({"mode": ["active"]}, "unknown mode"),
    ({"dataset": {"digits": 1}}, "unknown dataset"),
])
def test_settings_of_the_wrong_kind_raise_config_error(refused, changes, fragment):
    refused(ConfigError, fragment, GANAttackConfig, **changes)


def test_unknown_settings_and_objects_of_the_wrong_kind_are_refused_before_any_work(refused):
    refused(ConfigError, "GANAttackConfig has no setting 'round'", GANAttackConfig().replace,
            round=3)
    refused(ConfigError, "GANAttackConfig has no setting 'round'", federation, round=3)
    refused(WrongTypeError, "config must be a GANAttackConfig, got dict", federation,
            {"rounds": 1})
    refused(WrongTypeError, "setting must be a Federation, got dict", gan_attack, setting={})


@pytest.mark.parametrize("kwargs,error,fragment", [
    ({"latent_dim": 16.0}, ConfigError, "latent_dim must be an integer"),
    ({"image_shape": (1, 8, 8.5)}, ConfigError, "every entry of image_shape must be an integer"),
    ({"image_shape": 8}, ConfigError, "image_shape must be (C, H, W)"),
    ({"seed": -1}, ConfigError, "seed must be a non-negative integer"),
])
def test_generator_refuses_bad_sizes(refused, kwargs, error, fragment):
    refused(error, fragment, Generator, **kwargs)


def test_the_adversary_refuses_data_and_objects_of_the_wrong_kind(refused):
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 4])
    refused(DataError, "labels must be integer class indices", GANAdversary, x, y.float() + 0.5,
            3, 10, Generator(), CFG)
    refused(DataError, "images must lie in [0, 1]", GANAdversary, x * 3, y, 3, 10, Generator(),
            CFG)
    refused(WrongTypeError, "generator must be a Generator", GANAdversary, x, y, 3, 10,
            LeNet(1, 10, 8), CFG)
    refused(WrongTypeError, "config must be a GANAttackConfig", GANAdversary, x, y, 3, 10,
            Generator(), {})
    refused(DataError, "the generator makes images of shape (1, 4, 4)", GANAdversary, x, y, 3,
            10, Generator(image_shape=(1, 4, 4)), CFG)
    refused(ConfigError, "target_class must be a non-negative integer", GANAdversary, x, y, 3.0,
            10, Generator(), CFG)


def test_the_run_trains_on_the_device_and_its_samples_come_back_to_the_cpu(device, fed):
    res = gan_attack(CFG, setting=fed, rounds=2, eval_every=1, device=device)
    assert res.samples.device.type == "cpu" and len(res.accuracy) == 3
    if device.type == "cpu":  # the default device: the same run
        same = gan_attack(CFG, setting=fed, rounds=2, eval_every=1)
        assert same.accuracy == res.accuracy and torch.equal(same.samples, res.samples)


def test_the_dp_victim_trains_on_the_device(device, fed):
    res = gan_attack(CFG, setting=fed, rounds=1, eval_every=1, dp_victim=True, device=device)
    assert 0 < res.epsilon < float("inf")


def test_the_adversary_follows_its_generators_device(device, fed):
    x, y = fed.parts[1]
    generator = Generator(CFG.latent_dim, (1, 8, 8), seed=0).to(device)
    adversary = GANAdversary(x, y, CFG.victim_class, 10, generator, CFG)
    shared = LeNet(1, 11, 8, activation="relu", init="default", seed=0).to(device)
    p = adversary.train_generator(shared)
    assert 0 <= p <= 1
    assert adversary.generate(torch.randn(3, CFG.latent_dim)).device.type == "cpu"
    update = adversary.update(shared, torch.Generator().manual_seed(0))
    assert all(t.device.type == device.type for t in update.tensors)


def test_the_federations_evaluator_trains_on_the_device(cuda):
    fed = federation(CFG, device=cuda)
    assert next(fed.evaluator.parameters()).device.type == "cuda"
    assert fed.evaluator_accuracy > 0.8
