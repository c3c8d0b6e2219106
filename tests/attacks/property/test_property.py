"""Property inference: the property, the batches, the adversary's view, the attack and the CLI."""

import dataclasses

import numpy as np
import pytest
import torch

from dlgtut.attacks.property import (
    LabelledPool,
    PropertyAttacker,
    PropertyConfig,
    attack_round,
    flatten_update,
    intensity_property,
    last_layer_columns,
    observe,
    others_update,
    per_example_gradients,
    run_property_inference,
    split_for_property,
)
from dlgtut.data import load_dataset
from dlgtut.errors import ConfigError, DataError, WrongTypeError
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.roc import roc_summary
from dlgtut.server import Server, aggregate
from dlgtut.training import MLP


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", size=8)


@pytest.fixture(scope="module")
def split(digits):
    flags = intensity_property(digits.images, digits.labels)
    return split_for_property(digits, flags, n_others=3, aux_size=400, victim_size=500,
                              test_size=197, seed=0, property_name="thick strokes")


# --- the property -------------------------------------------------------------------------------

def test_property_is_mean_intensity_above_the_class_median():
    ink = torch.tensor([0.5, 0.1, 0.3, 0.2, 0.9, 0.6, 0.7, 0.8])
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    images = ink.reshape(8, 1, 1, 1).expand(8, 1, 2, 2).clone()
    # class 0: {0.1, 0.2} below, {0.3, 0.5} above; class 1: {0.6, 0.7} below, {0.8, 0.9} above
    assert intensity_property(images, labels).tolist() == [True, False, True, False,
                                                           True, False, False, True]
    # The same image is thick in a class of light digits and thin in a class of heavy ones.
    both = torch.tensor([0.4, 0.1, 0.2, 0.4, 0.8, 0.9]).reshape(6, 1, 1, 1)
    flags = intensity_property(both, torch.tensor([0, 0, 0, 1, 1, 1]))
    assert flags[0] and not flags[3]


def test_thick_strokes_split_every_digit_class_in_halves(digits):
    flags = intensity_property(digits.images, digits.labels)
    for c in range(10):  # half of each class, less the ties at the median (ink comes in 1/16s)
        members = digits.labels == c
        assert 0.45 <= flags[members].float().mean() <= 0.5
    ink = digits.images.mean((1, 2, 3))
    assert ink[flags].mean() > 1.15 * ink[~flags].mean()  # the property is more ink


def test_property_rejects_mismatched_input():
    with pytest.raises(DataError):
        intensity_property(torch.zeros(3, 1, 2, 2), torch.tensor([0, 1]))


# --- batches and the split ----------------------------------------------------------------------

def test_draws_with_and_without_the_property_keep_the_class_mix(split):
    gen = torch.Generator().manual_seed(0)
    pool = split.victim
    counts = {True: torch.zeros(10), False: torch.zeros(10)}
    for _ in range(300):
        for flag in (True, False):
            idx = pool.draw(32, flag, generator=gen)
            assert pool.has_property[idx].all() if flag else not pool.has_property[idx].any()
            counts[flag] += torch.bincount(pool.labels[idx], minlength=10)
    share = {flag: c / c.sum() for flag, c in counts.items()}
    assert (share[True] - share[False]).abs().max() < 0.02
    half = pool.draw(32, True, fraction=0.5, generator=gen)
    assert int(pool.has_property[half].sum()) == 16
    mixed = pool.draw(32, None, generator=gen)
    assert len(set(mixed.tolist())) == 32


def test_draw_rejects_a_batch_larger_than_the_pool(split):
    with pytest.raises(ConfigError, match="smaller batch"):
        split.victim.draw(501, True)


def test_split_deals_disjoint_pools(digits, split):
    assert (len(split.test[1]), len(split.aux), len(split.victim)) == (197, 400, 500)
    assert sum(len(p) for p in split.others) == len(digits) - 1097
    rows = torch.cat([split.test[0], split.aux.images, split.victim.images,
                      *[p.images for p in split.others]]).reshape(len(digits), -1)
    assert len(torch.unique(rows, dim=0)) == len(torch.unique(digits.images.reshape(
        len(digits), -1), dim=0))
    with pytest.raises(ConfigError, match="smaller sizes"):
        split_for_property(digits, torch.zeros(len(digits)), n_others=3, aux_size=1500,
                           victim_size=500, test_size=197)


# --- what the adversary computes ----------------------------------------------------------------

def test_per_example_gradients_average_to_the_participants_update(split):
    net = MLP(64, 10, hidden=(16,), seed=0)
    batch = PrivateBatch(split.victim.images[:12], split.victim.labels[:12])
    shared = flatten_update(Participant(net).fedsgd(batch).tensors)
    rows = per_example_gradients(net, batch.images, batch.labels)
    assert rows.shape == (12, shared.numel())
    torch.testing.assert_close(rows.mean(0), shared, rtol=1e-4, atol=1e-6)
    cols = last_layer_columns(net)
    assert cols.stop - cols.start == 16 * 10 + 10


def test_a_participant_recovers_the_others_mean_update_from_two_global_models(split):
    server = Server(MLP(64, 10, hidden=(16,), seed=0), lr=0.3)
    pools = [split.aux, split.victim, *split.others]
    sizes = [8, 16, 16, 24, 8]  # unequal batches: the mean is weighted
    batches = [PrivateBatch(p.images[:n], p.labels[:n]) for p, n in zip(pools, sizes, strict=True)]
    before = MLP(64, 10, hidden=(16,), seed=0)
    updates = [Participant(server.model).fedsgd(b) for b in batches]
    server.round(updates)
    seen = others_update(before, server.model, updates[0], lr=0.3, total_examples=sum(sizes))
    for got, want in zip(seen, aggregate(updates[1:]), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-5)


def test_attacker_checks_its_input(split):
    attacker = PropertyAttacker(split.aux, batch_size=8, n_updates=1, draws=20)
    with pytest.raises(ConfigError, match="fit"):
        attacker.score(torch.zeros(1, 10))
    net = MLP(64, 10, hidden=(8,), seed=0)
    attacker.fit(net)
    with pytest.raises(DataError, match="parameters"):
        attacker.score(torch.zeros(1, 10))
    update = Participant(net).fedsgd(split.victim.batch(torch.arange(8)))
    flat = attacker.score(flatten_update(update.tensors))
    assert flat.shape == (1,)
    assert attacker.score(update) == attacker.score(update.tensors) == flat
    with pytest.raises(ConfigError):
        PropertyAttacker(split.aux, batch_size=8, n_updates=1, features="first")


# --- the attack ---------------------------------------------------------------------------------

def test_the_attack_beats_chance_round_by_round(split):
    result = run_property_inference(split, PropertyConfig(rounds=4, train_draws=200,
                                                          eval_draws=100, seed=0))
    assert result.participants == 5 and len(result.auc_per_round) == 4
    assert result.run_truth == [False, True, True, False]  # the middle third of 4 rounds
    assert result.roc.auc > 0.75, result.auc_per_round  # the others' aggregate of 4 updates
    assert min(result.auc_per_round) > 0.65
    assert result.single_roc.auc > 0.9  # the victim's own update
    assert result.single_roc.auc > result.roc.auc  # aggregation hides some of it
    assert result.accuracy[-1] > result.accuracy[0] + 0.1  # and the federation learns


def test_a_property_that_means_nothing_is_not_inferred(split):
    """Control: flags shuffled at random within the pools. Batches drawn again and again from a
    finite pool carry its quirks, so chance is a band around 0.5; the real property lies above."""
    net = MLP(64, 10, hidden=(64,), seed=0)

    def auc(s):
        return roc_summary(*attack_round(net, s, n_updates=1, batch_size=32, seed=0)).auc

    null = []
    for seed in range(6):
        gen = torch.Generator().manual_seed(seed)

        def shuffled(pool, gen=gen):
            flags = pool.has_property[torch.randperm(len(pool), generator=gen)]
            return LabelledPool(pool.images, pool.labels, flags)

        null.append(auc(dataclasses.replace(split, aux=shuffled(split.aux),
                                            victim=shuffled(split.victim))))
    assert abs(np.mean(null) - 0.5) < 0.15, null
    assert max(null) < 0.8 < 0.95 < auc(split), null


def test_config_rejects_impossible_settings(split):
    assert PropertyConfig(rounds=2).window() == (1, 2)
    assert PropertyConfig(rounds=30).window() == (10, 20)
    for bad in (dict(rounds=1), dict(fraction=0), dict(fraction=1.5), dict(property_rounds=(3, 2)),
                dict(property_rounds=(0, 30)), dict(lr=0), dict(features="first")):
        with pytest.raises(ConfigError):
            PropertyConfig(**bad).check()
    with pytest.raises(ConfigError, match="batch"):
        run_property_inference(split, PropertyConfig(rounds=2, batch_size=300))


# --- the command line ---------------------------------------------------------------------------


# --- bad input: one line, before anything is trained ---------------------------------------------

def _pool(n: int = 8) -> LabelledPool:
    x = torch.rand(n, 1, 2, 2)
    y = torch.arange(n) % 2
    return LabelledPool(x, y, intensity_property(x, y))


@pytest.mark.parametrize("call,error,fragment", [
    (lambda: intensity_property(torch.rand(2, 1, 2, 2), torch.tensor([0.4, 0.6])), DataError,
     "labels must be integer class indices"),
    (lambda: intensity_property(torch.full((2, 1, 2, 2), float("nan")), [0, 1]), DataError,
     "images contains NaN or inf"),
    (lambda: LabelledPool(torch.rand(2, 1, 2, 2), [0, 1], [0.5, 1.0]), DataError,
     "has_property must be booleans (or 0 and 1)"),  # 0.5 was read as True
    (lambda: LabelledPool(torch.rand(2, 1, 2, 2), [0.0, 1.5], [True, False]), DataError,
     "labels must be integer class indices"),
    (lambda: LabelledPool(torch.rand(2, 4), [0, 1], [True, False]), DataError,
     "images must be a tensor of shape N x C x H x W"),
    (lambda: _pool().draw(2, True, fraction=float("nan")), ConfigError,
     "fraction must be a finite number"),
    (lambda: _pool().draw(2, 1), ConfigError, "with_property must be None, True or False"),
    (lambda: _pool().draw(2, None, generator=0), WrongTypeError,
     "generator must be a Generator, got int"),
    (lambda: _pool().batch(torch.tensor([0.5, 1.5])), DataError,
     "indices must be integers, got dtype torch.float32"),
    (lambda: _pool().batch([8]), DataError, "indices must lie in [0, 7]"),
])
def test_pools_refuse_bad_input(refused, call, error, fragment):
    refused(error, fragment, call)


def test_split_for_property_refuses_bad_input(refused, digits):
    flags = intensity_property(digits.images, digits.labels)
    sizes = dict(n_others=1, aux_size=10, victim_size=10, test_size=10)
    refused(WrongTypeError, "data must be an ImageSet, got tuple", split_for_property,
            (digits.images, digits.labels), flags, **sizes)
    refused(DataError, "has_property must be booleans", split_for_property, digits,
            flags.float() * 0.5, **sizes)
    refused(ConfigError, "seed must be a non-negative integer", split_for_property, digits,
            flags, seed=-1, **sizes)


def test_classifier_helpers_refuse_bad_input(refused):
    net = MLP(4, 2, hidden=(3,), seed=0)
    x, y = torch.rand(3, 1, 2, 2), torch.tensor([0, 1, 1])
    update = Participant(net).fedsgd(PrivateBatch(x, y))
    refused(DataError, "labels must be integer class indices", per_example_gradients, net, x,
            torch.tensor([0.0, 1.0, 1.5]))
    refused(DataError, "labels must lie in [0, 1], got [4]", per_example_gradients, net, x,
            torch.tensor([0, 4, 1]))
    refused(DataError, "the model cannot take images of shape (1, 3, 3)", per_example_gradients,
            net, torch.rand(3, 1, 3, 3), y)
    refused(WrongTypeError, "not the SharedUpdate itself", flatten_update, update)
    refused(WrongTypeError, "non-empty sequence of tensors", flatten_update, [])
    refused(ConfigError, "lr must be a finite number", others_update, net, net, update,
            lr=float("inf"), total_examples=6)
    refused(ConfigError, "total_examples must be an integer", others_update, net, net, update,
            lr=0.1, total_examples=6.0)
    refused(DataError, "the same parameter shapes", others_update, net, MLP(4, 2, hidden=(5,)),
            update, lr=0.1, total_examples=6)
    refused(WrongTypeError, "torch.nn.Module, got str", last_layer_columns, "mlp")


@pytest.mark.parametrize("kwargs,error,fragment", [
    ({"batch_size": 2.0}, ConfigError, "batch_size must be an integer, got 2.0"),
    ({"n_updates": True}, ConfigError, "n_updates must be an integer, got True"),
    ({"C": float("inf")}, ConfigError, "C must be a finite number"),
    ({"seed": -1}, ConfigError, "seed must be a non-negative integer"),
    ({"features": ["last"]}, ConfigError, "unknown features"),
    ({"aux": "pool"}, WrongTypeError, "aux must be a LabelledPool, got str"),
])
def test_attacker_refuses_bad_settings(refused, kwargs, error, fragment):
    args = {"aux": _pool(), "batch_size": 2, "n_updates": 1, **kwargs}
    refused(error, fragment, PropertyAttacker, args.pop("aux"), **args)


@pytest.mark.parametrize("change,fragment", [
    ({"rounds": 2.5}, "rounds must be an integer, got 2.5"),
    ({"lr": float("inf")}, "lr must be a finite number"),
    ({"fraction": float("nan")}, "fraction must be a finite number"),
    ({"hidden": True}, "hidden must be an integer, got True"),
    ({"property_rounds": (1.0, 2)}, "property_rounds must be an integer, got 1.0"),
    ({"property_rounds": 3}, "property_rounds must be (start, stop), got 3"),
    ({"seed": "0"}, "seed must be a non-negative integer"),
])
def test_config_refuses_values_of_the_wrong_kind(refused, change, fragment):
    refused(ConfigError, fragment, PropertyConfig(**change).check)


def test_the_experiment_and_its_figures_refuse_objects_of_the_wrong_kind(refused, split):
    from dlgtut.attacks.property import observe, plot_attack_roc, plot_rounds

    refused(WrongTypeError, "split must be a PropertySplit, got dict", run_property_inference, {})
    refused(WrongTypeError, "config must be a PropertyConfig, got dict", run_property_inference,
            split, {"rounds": 2})
    refused(WrongTypeError, "result must be a PropertyResult", plot_rounds, {})
    refused(WrongTypeError, "result must be a PropertyResult", plot_attack_roc, None)
    refused(ConfigError, "fraction must lie in [0, 1]", observe, MLP(64, 10), split,
            n_updates=1, batch_size=4, fraction=2.0)
    refused(ConfigError, "n_updates must be a positive integer, got 0.5", attack_round, MLP(64, 10),
            split, n_updates=0.5, batch_size=4)


# --- devices ------------------------------------------------------------------------------------

def test_the_adversarys_gradients_follow_the_models_device(device, split):
    net = MLP(64, 10, hidden=(16,), seed=0)
    on_device = MLP(64, 10, hidden=(16,), seed=0).to(device)
    x, y = split.victim.images[:12], split.victim.labels[:12]
    rows = per_example_gradients(on_device, x, y)
    assert rows.device.type == device.type  # computed, and averaged, on the model's device
    torch.testing.assert_close(rows.cpu(), per_example_gradients(net, x, y), rtol=1e-4,
                               atol=1e-6)
    attacker = PropertyAttacker(split.aux, batch_size=8, n_updates=1, draws=20).fit(on_device)
    seen, truth = observe(on_device, split, n_updates=2, batch_size=8, draws=8,
                          generator=torch.Generator().manual_seed(0))
    assert seen.device.type == "cpu" and attacker.score(seen).shape == (8,)
    update = Participant(on_device).fedsgd(PrivateBatch(x, y))
    assert attacker.score(update).shape == (1,)


def test_the_federation_and_its_attack_run_on_the_device(device, split):
    result = run_property_inference(split, PropertyConfig(rounds=2, train_draws=40,
                                                          eval_draws=20, seed=0), device=device)
    assert len(result.auc_per_round) == 2 and np.isfinite(result.roc.auc)
    assert all(v.device.type == device.type for v in result.states[-1].values())
    assert result.accuracy[-1] > result.accuracy[0]
