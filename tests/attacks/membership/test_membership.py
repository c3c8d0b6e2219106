"""Membership inference: the scores are computed right, and every attack beats chance on real data.

The real-data tests train an overfit target (an MLP, 100 epochs on 100 handwritten digits) and
16 shadow models once per module; each attack must beat chance by a stated margin on fixed
seeds. LiRA's Gaussian statistics are checked where the answer is known in closed form.
"""

import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import norm

from dlgtut.attacks.membership import (
    LiraStatistics,
    Recipe,
    Shadows,
    TargetRun,
    confidence_gain,
    example_loss,
    global_model_confidences,
    gradient_alignment,
    lira_attack,
    lira_scores,
    lira_statistics,
    logit_confidence,
    loss_attack,
    random_halves,
    shadow_benchmark,
    shokri_attack,
    train_shadows,
    train_target,
    update_loss_change,
)
from dlgtut.data import ImageSet, load_dataset
from dlgtut.errors import AttackError, ConfigError, DataError, WrongTypeError
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.roc import roc_summary
from dlgtut.server import federated_training, split_among
from dlgtut.training import MLP

# ------------------------------------------------------------------------------------------
# The scores themselves
# ------------------------------------------------------------------------------------------


def test_loss_and_confidence_agree_with_the_textbook_formulas():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(50, 10, generator=gen, dtype=torch.float64) * 3
    y = torch.randint(0, 10, (50,), generator=gen)
    np.testing.assert_allclose(example_loss(z, y), F.cross_entropy(z, y, reduction="none"),
                               rtol=1e-12)
    p = torch.softmax(z, 1)[torch.arange(50), y].numpy()
    np.testing.assert_allclose(logit_confidence(z, y), np.log(p / (1 - p)), rtol=1e-9)
    # S x N x K logits (one row per shadow) give S x N scores.
    assert logit_confidence(z.reshape(5, 10, 10), y[:10]).shape == (5, 10)


def test_confidence_stays_exact_where_the_probability_rounds_to_one():
    # p_y = 1 - 2e-44 is 1.0 in float64; the naive log(p / (1 - p)) is infinite.
    phi = logit_confidence([[100.0, 0.0, 0.0], [-100.0, 0.0, 0.0]], [0, 0])
    np.testing.assert_allclose(phi, [100 - np.log(2), -100 - np.log(2)], rtol=1e-12)


def test_random_halves_put_every_candidate_in_exactly_half_the_models():
    keep = random_halves(1000, 8, seed=3)
    assert (keep.sum(0) == 4).all()
    assert np.abs(keep.sum(1) - 500).max() < 60
    np.testing.assert_array_equal(keep, random_halves(1000, 8, seed=3))
    assert not np.array_equal(keep, random_halves(1000, 8, seed=4))


def test_lira_statistics_recover_known_gaussians():
    # Candidate n: IN ~ N(mu_n + 3, 0.5^2), OUT ~ N(mu_n, 1); 4000 shadows, half IN each.
    rng = np.random.default_rng(0)
    mu = rng.normal(0, 5, 20)
    keep = random_halves(20, 4000, seed=0)
    phi = np.where(keep, rng.normal(mu + 3, 0.5, keep.shape), rng.normal(mu, 1.0, keep.shape))
    for variance in ("per-example", "global"):
        s = lira_statistics(phi, keep, variance=variance)
        np.testing.assert_allclose(s.mu_in, mu + 3, atol=0.05)
        np.testing.assert_allclose(s.mu_out, mu, atol=0.1)
        np.testing.assert_allclose(s.sd_in, 0.5, atol=0.03)
        np.testing.assert_allclose(s.sd_out, 1.0, atol=0.06)
    # The global estimate pools deviations from each candidate's own mean, so it does not
    # mistake the spread of the means (sd 5) for noise.
    assert np.ptp(lira_statistics(phi, keep).sd_out) == 0


def test_lira_scores_are_the_gaussian_likelihood_ratio_and_the_one_sided_z():
    s = LiraStatistics(np.array([2.0, 0.0]), np.array([0.5, 2.0]), np.array([-1.0, 1.0]),
                       np.array([1.0, 3.0]))
    phi = np.array([0.3, -4.0])
    want = norm.logpdf(phi, [2.0, 0.0], [0.5, 2.0]) - norm.logpdf(phi, [-1.0, 1.0], [1.0, 3.0])
    np.testing.assert_allclose(lira_scores(phi, s), want, rtol=1e-12)
    np.testing.assert_allclose(lira_scores(phi, s, variant="offline"), [1.3, -5 / 3])


def test_lira_is_the_optimal_test_when_members_and_non_members_are_gaussian():
    # Every candidate has its own difficulty mu_n; membership shifts phi by d. A global
    # threshold on phi (the loss attack's idea) is lost in the spread of the mu_n, while LiRA's
    # per-candidate test reaches the Neyman-Pearson optimum, AUC = Phi(d / sqrt 2).
    rng = np.random.default_rng(1)
    n, d = 4000, 2.0
    mu = rng.normal(0, 4, n)
    keep = random_halves(n, 64, seed=1)
    shadow_phi = rng.normal(mu + d * keep, 1.0)
    members = rng.random(n) < 0.5
    target_phi = rng.normal(mu + d * members, 1.0)
    stats = lira_statistics(shadow_phi, keep)
    online = roc_summary(lira_scores(target_phi, stats), members)
    offline = roc_summary(lira_scores(target_phi, stats, variant="offline"), members)
    threshold = roc_summary(target_phi, members)
    assert online.auc == pytest.approx(norm.cdf(d / np.sqrt(2)), abs=0.015)
    assert offline.auc == pytest.approx(online.auc, abs=0.015)  # equal variances: same test
    assert threshold.auc < 0.65
    assert online.tpr_at_1pct_fpr == pytest.approx(norm.sf(norm.isf(0.01) - d), abs=0.06)


def test_lira_refuses_what_it_cannot_estimate():
    phi = np.zeros((4, 3))
    out_only = np.zeros((4, 3), dtype=bool)  # shadows that never saw a candidate
    stats = lira_statistics(phi + np.arange(4)[:, None], out_only)
    assert np.isfinite(lira_scores(np.zeros(3), stats, variant="offline")).all()
    with pytest.raises(AttackError, match="IN shadow"):
        lira_scores(np.zeros(3), stats)
    with pytest.raises(ConfigError):
        lira_scores(np.zeros(3), stats, variant="both")
    with pytest.raises(ConfigError):
        lira_statistics(phi, out_only, variance="local")
    with pytest.raises(DataError):
        lira_statistics(phi, out_only[:2])


def test_bad_recipes_and_inputs_are_refused():
    with pytest.raises(ConfigError):
        Recipe(epochs=0)
    with pytest.raises(ConfigError):
        Recipe(lr=-1.0)
    digits = load_dataset("digits", size=8, limit=20)
    with pytest.raises(ConfigError):
        train_shadows(digits, Recipe(epochs=1), 1)
    with pytest.raises(ConfigError):
        train_target(digits, Recipe(epochs=2), record_epochs=(3,))
    with pytest.raises(DataError):
        train_target(digits.subset([0, 1, 2]), Recipe(epochs=1))
    with pytest.raises(DataError):
        example_loss(np.zeros((3, 4)), [0, 1])


def test_attacks_never_take_the_ground_truth():
    for attack in (loss_attack, shokri_attack, lira_attack, gradient_alignment,
                   update_loss_change, global_model_confidences):
        assert "members" not in inspect.signature(attack).parameters
        assert "keep" not in inspect.signature(attack).parameters


# ------------------------------------------------------------------------------------------
# Real data: an overfit MLP on 100 handwritten digits
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def overfit():
    digits = load_dataset("digits", size=8)
    order = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))
    candidates = digits.subset(order[:200])
    recipe = Recipe(epochs=100)
    target = train_target(candidates, recipe, seed=0, record_epochs=(5,))
    shadows = train_shadows(candidates, recipe, 16, seed=1, record_epochs=(5,))
    return candidates, target, shadows


def test_the_target_overfits(overfit):
    candidates, target, _ = overfit
    train, test = target.accuracy(candidates.labels)
    assert target.members.sum() == 100 and train == 1.0 and train - test >= 0.05


def test_the_target_is_reproducible(overfit):
    candidates, target, _ = overfit
    again = train_target(candidates, Recipe(epochs=5), seed=0)
    np.testing.assert_array_equal(again.members, target.members)
    np.testing.assert_array_equal(again.logits[5], target.logits[5])  # epoch 5 of 100 = 5 of 5


def test_loss_attack_beats_chance(overfit):
    candidates, target, _ = overfit
    r = roc_summary(loss_attack(target.logits[100], candidates.labels), target.members)
    assert r.auc >= 0.6


def test_shadow_attack_beats_the_loss_attack(overfit):
    candidates, target, shadows = overfit
    logits, labels = target.logits[100], candidates.labels
    r = roc_summary(shokri_attack(logits, labels, shadows), target.members)
    assert r.auc >= 0.65
    assert r.auc > roc_summary(loss_attack(logits, labels), target.members).auc


@pytest.mark.parametrize("variant", ["online", "offline"])
def test_lira_beats_chance_by_far_at_low_fpr(overfit, variant):
    candidates, target, shadows = overfit
    r = roc_summary(lira_attack(target.logits[100], candidates.labels, shadows, variant=variant),
                    target.members)
    assert r.auc >= 0.75
    # Pooled over 16 targets (each shadow against the others): 1600 non-members.
    pooled = roc_summary(*shadow_benchmark(shadows, candidates.labels, variant=variant))
    loss = roc_summary(*shadow_benchmark(shadows, candidates.labels, attack="loss"))
    assert pooled.negatives == 1600
    assert pooled.tpr_at_1pct_fpr >= 0.05  # five times chance
    assert pooled.tpr_at_1pct_fpr > 3 * loss.tpr_at_1pct_fpr


def test_attacks_grow_stronger_with_training_epochs(overfit):
    candidates, _, shadows = overfit
    early = roc_summary(*shadow_benchmark(shadows, candidates.labels, epoch=5))
    late = roc_summary(*shadow_benchmark(shadows, candidates.labels))
    assert late.auc > early.auc + 0.1
    with pytest.raises(ConfigError, match="no shadow logits"):
        shadows.at(7)


# ------------------------------------------------------------------------------------------
# Federated learning
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    d = load_dataset("digits", size=8)
    order = torch.randperm(len(d), generator=torch.Generator().manual_seed(0))
    return d.images[order], d.labels[order]


def test_successive_global_models_reveal_the_other_participants_data(digits):
    x, y = digits
    parts = split_among(x[:100], y[:100], 4, seed=0)
    net = MLP(64, 10, hidden=(256,), seed=0)
    log = federated_training(net, parts, rounds=100, algorithm="fedavg", lr=0.1, batch_size=5,
                             local_steps=5, seed=0, record=True)
    # Participant 1 attacks: the others' 75 examples against 75 examples nobody trained on.
    xs = torch.cat([parts[1][0], parts[2][0], parts[3][0], x[100:175]])
    ys = torch.cat([parts[1][1], parts[2][1], parts[3][1], y[100:175]])
    members = np.r_[np.ones(75), np.zeros(75)]
    phis = global_model_confidences(net, log.states, xs, ys)
    assert phis.shape == (101, 150)
    gain = roc_summary(confidence_gain(phis, start=50), members)
    last = roc_summary(phis[-1], members)
    assert gain.auc >= 0.65 and gain.auc > last.auc


def test_gradient_alignment_finds_a_batch_of_one_exactly(digits):
    x, y = digits
    net = MLP(64, 10, hidden=(32,), seed=0)
    for update in (Participant(net).fedsgd(PrivateBatch(x[:1], y[:1])),
                   Participant(net).fedavg(PrivateBatch(x[:1], y[:1]), local_steps=1, lr=0.1)):
        cos = gradient_alignment(update, x[:5], y[:5])
        assert cos[0] == pytest.approx(1.0, abs=1e-5) and (cos[1:] < 0.99).all()


@pytest.mark.parametrize("algorithm", ["fedsgd", "fedavg"])
def test_one_update_reveals_its_batch(digits, algorithm):
    x, y = digits
    net = MLP(64, 10, hidden=(256,), seed=0)
    align, change, members = [], [], []
    for j in range(10):  # ten participants' updates, batches of 8, against 8 outsiders each
        xs, ys = x[16 * j : 16 * j + 16], y[16 * j : 16 * j + 16]
        batch = PrivateBatch(xs[:8], ys[:8])
        p = Participant(net)
        update = p.fedsgd(batch) if algorithm == "fedsgd" else p.fedavg(
            batch, local_steps=4, lr=0.1, minibatch_size=4)
        align.append(gradient_alignment(update, xs, ys))
        change.append(update_loss_change(update, xs, ys, lr=0.1))
        members.append(np.r_[np.ones(8), np.zeros(8)])
    members = np.concatenate(members)
    assert roc_summary(np.concatenate(align), members).auc >= 0.7
    assert roc_summary(np.concatenate(change), members).auc >= 0.7


def test_fl_signals_refuse_bad_input(digits):
    x, y = digits
    update = Participant(MLP(64, 10, hidden=(8,), seed=0)).fedsgd(PrivateBatch(x[:2], y[:2]))
    with pytest.raises(ConfigError, match="learning rate"):
        update_loss_change(update, x[:4], y[:4])
    with pytest.raises(DataError):
        gradient_alignment(update, x[:4], y[:3])
    with pytest.raises(ConfigError):
        confidence_gain(np.zeros((3, 4)), start=3)


# ------------------------------------------------------------------------------------------
# The command line
# ------------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------------
# Bad input: one line, before any model is trained
# ------------------------------------------------------------------------------------------


def _tiny_shadows(s: int = 4, n: int = 6, k: int = 3) -> Shadows:
    rng = np.random.default_rng(0)
    return Shadows(random_halves(n, s, seed=0), {2: rng.normal(size=(s, n, k))},
                   Recipe(epochs=2))


@pytest.mark.parametrize("logits,labels,fragment", [
    (np.zeros((3, 2)), [0.0, 1.0, 1.7], "labels must be integer class indices"),  # not cut to 1
    (np.zeros((3, 2)), np.array([True, False, True]), "labels must be integer class indices"),
    (np.zeros((3, 2)), [0, -1, 1], "labels must not be negative"),
    ([[0.0, np.nan]] * 3, [0, 1, 1], "logits contains NaN or inf"),
    ([["a", "b"]] * 3, [0, 1, 1], "logits must be numbers"),
])
def test_scores_refuse_float_labels_and_nan_logits(refused, logits, labels, fragment):
    for fn in (example_loss, logit_confidence, loss_attack):
        refused(DataError, fragment, fn, logits, labels)


@pytest.mark.parametrize("call,error,fragment", [
    (lambda sh: shokri_attack(np.zeros((6, 3)), [0, 1, 2, 0, 1, 2], {}), WrongTypeError,
     "shadows must be a Shadows, got dict"),
    (lambda sh: shokri_attack(np.zeros((6, 3)), [0, 1, 2, 0, 1, 2], sh, seed=2**40),
     ConfigError, "seed must be a non-negative integer below 4294967296"),
    (lambda sh: lira_attack(np.zeros((6, 3)), [0, 1, 2, 0, 1, 2], sh, epoch=2.0), ConfigError,
     "epoch must be a positive integer, got 2.0"),
    (lambda sh: lira_attack(np.zeros((6, 3)), [0, 1, 2, 0, 1, 2], sh, variant="both"),
     ConfigError, "variant must be 'online' or 'offline'"),
    (lambda sh: lira_attack(np.zeros((6, 3)), [0, 1, 2, 0, 1, 2], sh, variance=["global"]),
     ConfigError, "variance must be 'global' or 'per-example'"),
    (lambda sh: lira_scores(np.zeros(6), {"mu_in": 0}), WrongTypeError,
     "stats must be a LiraStatistics, got dict"),
    (lambda sh: lira_scores(np.full(1, np.nan), LiraStatistics(*(np.zeros(1),) * 4)),
     DataError, "target_phi contains NaN or inf"),
    (lambda sh: lira_statistics(np.full((2, 3), np.nan), np.eye(2, 3, dtype=bool)), DataError,
     "shadow_phi contains NaN or inf"),
    (lambda sh: lira_statistics(np.zeros((2, 3)), np.full((2, 3), 0.5)), DataError,
     "keep must be booleans (or 0 and 1)"),
    (lambda sh: shadow_benchmark(sh, [0, 1, 2, 0, 1, 2.5]), DataError,
     "labels must be integer class indices"),
    (lambda sh: shadow_benchmark("shadows", [0, 1]), WrongTypeError, "shadows must be a"),
    (lambda sh: shadow_benchmark(sh, [0, 1, 2, 0, 1, 2], attack=["lira"]), ConfigError,
     "attack must be 'loss' or 'lira'"),
    (lambda sh: sh.at(2.0), ConfigError, "epoch must be a positive integer, got 2.0"),
])
def test_shadow_attacks_refuse_bad_input(refused, call, error, fragment):
    refused(error, fragment, call, _tiny_shadows())


@pytest.mark.parametrize("call,error,fragment", [
    (lambda d: Recipe(epochs=2.5), ConfigError, "epochs must be an integer, got 2.5"),
    (lambda d: Recipe(lr=float("nan")), ConfigError, "lr must be a finite number"),
    (lambda d: Recipe(hidden=256), ConfigError, "hidden must be a tuple of layer widths"),
    (lambda d: Recipe(hidden=(256, 0)), ConfigError, "every hidden width must be a positive"),
    (lambda d: random_halves(6.0, 4, seed=0), ConfigError, "n must be an integer, got 6.0"),
    (lambda d: random_halves(6, 4, seed=-1), ConfigError, "seed must be a non-negative"),
    (lambda d: train_target(d, {"epochs": 1}), WrongTypeError, "recipe must be a Recipe"),
    (lambda d: train_target(d, Recipe(epochs=3), record_epochs=(2.7,)), ConfigError,
     "every record epoch must be an integer, got 2.7"),  # was epoch 2
    (lambda d: train_target(d, Recipe(epochs=3), record_epochs=2), ConfigError,
     "record_epochs must be a list of epochs"),
    (lambda d: train_target(d, Recipe(epochs=3), seed=1.5), ConfigError,
     "seed must be a non-negative integer"),
    (lambda d: train_shadows(d, Recipe(epochs=1), 2, seed=2**62), ConfigError,
     "seed must be at most"),
    (lambda d: train_shadows(d, Recipe(epochs=1), 2, progress="yes"), ConfigError,
     "progress must be True or False"),
])
def test_targets_and_shadows_refuse_bad_settings_before_training(refused, monkeypatch, call,
                                                                 error, fragment):
    import dlgtut.attacks.membership.targets as targets

    def boom(*args, **kwargs):
        raise AssertionError("a model was trained before the input was checked")

    monkeypatch.setattr(targets, "_train_recording", boom)
    data = ImageSet(torch.rand(6, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2]), "abc", "t", "z")
    refused(error, fragment, call, data)


def test_a_target_run_refuses_float_labels_and_unknown_epochs(refused):
    run = TargetRun(None, {2: np.zeros((4, 3))}, np.array([True, False, True, False]), 2)
    refused(DataError, "labels must be integer class indices", run.accuracy, [0.0, 1.5, 2, 0])
    refused(DataError, "3 labels for 4 candidates", run.accuracy, [0, 1, 2])
    refused(ConfigError, "no target logits after epoch 5", run.accuracy, [0, 1, 2, 0], 5)


def test_federated_signals_refuse_the_private_batch_and_float_labels(refused):
    from torch import nn

    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    batch = PrivateBatch(torch.rand(2, 1, 2, 2), torch.tensor([0, 1]))
    update = Participant(net).fedsgd(batch)
    x = torch.rand(3, 1, 2, 2)
    refused(WrongTypeError, "not the PrivateBatch itself", gradient_alignment, batch, x,
            [0, 1, 2])
    refused(WrongTypeError, "not the PrivateBatch itself", update_loss_change, batch, x,
            [0, 1, 2], lr=0.1)
    refused(DataError, "labels must be integer class indices", gradient_alignment, update, x,
            torch.tensor([0.5, 1.0, 2.0]))
    refused(DataError, "labels must lie in [0, 2]", gradient_alignment, update, x, [0, 1, 7])
    refused(DataError, "the model cannot take images of shape (1, 3, 3)", gradient_alignment,
            update, torch.rand(3, 1, 3, 3), [0, 1, 2])
    refused(DataError, "images contains NaN or inf", update_loss_change, update,
            torch.full((3, 1, 2, 2), float("nan")), [0, 1, 2], lr=0.1)
    refused(ConfigError, "lr must be a finite number", update_loss_change, update, x, [0, 1, 2],
            lr=float("inf"))
    zero = {k: torch.zeros_like(v) for k, v in net.state_dict().items()}
    refused(WrongTypeError, "states must be a list of state_dicts", global_model_confidences, net,
            zero, x, [0, 1, 2])
    refused(DataError, "state 1 does not fit the model", global_model_confidences, net,
            [zero, {"weight": torch.zeros(1)}], x, [0, 1, 2])
    refused(ConfigError, "start must be an integer, got 1.5", confidence_gain, np.zeros((3, 2)),
            start=1.5)
    refused(DataError, "confidences contains NaN or inf", confidence_gain,
            np.full((3, 2), np.nan), start=0)


# ------------------------------------------------------------------------------------------
# Devices
# ------------------------------------------------------------------------------------------


def test_targets_and_shadows_train_on_the_device_and_answer_in_arrays(device, digits):
    x, y = digits
    candidates = ImageSet(x[:40], y[:40], tuple(str(k) for k in range(10)), "digits", "test")
    recipe = Recipe(hidden=(16,), epochs=5)
    target = train_target(candidates, recipe, seed=0, device=device)
    shadows = train_shadows(candidates, recipe, 2, seed=1, device=device)
    assert next(target.model.parameters()).device.type == device.type
    assert isinstance(target.logits[5], np.ndarray) and shadows.at(None).shape == (2, 40, 10)
    cpu = train_target(candidates, recipe, seed=0)
    np.testing.assert_array_equal(target.members, cpu.members)
    np.testing.assert_allclose(target.logits[5], cpu.logits[5], rtol=1e-3, atol=1e-4)
    lira_attack(target.logits[5], candidates.labels, shadows)  # arrays, whatever the device


def test_the_federated_signals_run_on_the_models_device(device, digits):
    x, y = digits
    net = MLP(64, 10, hidden=(32,), seed=0)
    update = Participant(net).fedsgd(PrivateBatch(x[:4], y[:4]))
    on_device = Participant(MLP(64, 10, hidden=(32,), seed=0).to(device)).fedsgd(
        PrivateBatch(x[:4], y[:4]))
    for signal in (gradient_alignment, lambda u, a, b: update_loss_change(u, a, b, lr=0.1)):
        got = signal(on_device, x[:8], y[:8])
        assert isinstance(got, np.ndarray)
        np.testing.assert_allclose(got, signal(update, x[:8], y[:8]), rtol=1e-4, atol=1e-5)
    states = [{k: v.to(device) for k, v in net.state_dict().items()}]
    phis = global_model_confidences(net.to(device), states, x[:8], y[:8])
    assert phis.shape == (1, 8)


def test_members_may_be_a_tensor_on_any_device(device):
    import matplotlib

    matplotlib.use("Agg")
    from dlgtut.attacks.membership import plot_score_histogram

    members = torch.tensor([1, 0, 1, 0], device=device)
    plt = __import__("matplotlib.pyplot").pyplot
    plt.close(plot_score_histogram(np.array([1.0, 0.0, 2.0, -1.0]), members).figure)
    keep = torch.tensor([[True, False], [False, True]], device=device)
    assert lira_statistics(np.zeros((2, 2)), keep).mu_in.shape == (2,)
