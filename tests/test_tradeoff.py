"""Defence trade-offs: attack quality and defended training accuracy on the same data."""


import pytest

from dlgtut.accounting import dp_sgd_epsilon
from dlgtut.errors import ConfigError, WrongTypeError
from dlgtut.tradeoff import (
    Setting,
    TradeoffPoint,
    attack_quality,
    measure,
    plot_tradeoff,
    sweep,
)

SMALL = Setting(rounds=30, attack_images=1, attack_iterations=60)


def test_no_defence_leaks_everything_and_trains():
    p = measure("none", setting=SMALL)
    assert p.psnr > 40 and p.label_accuracy == 1.0
    assert p.accuracy > 0.6


def test_attack_quality_is_the_attack_side_of_measure_and_leaves_the_global_rng_alone():
    import torch

    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    got = attack_quality("gaussian", 1e-3, SMALL)
    assert torch.equal(torch.rand(3), expected)  # the caller's generator is where it was
    p = measure("gaussian", 1e-3, SMALL)
    assert got == (p.mse, p.psnr, p.ssim, p.label_accuracy)


def test_strong_noise_stops_the_attack_at_a_small_cost():
    base = measure("none", setting=SMALL)
    p = measure("gaussian", 1e-1, SMALL)
    assert p.psnr < 12
    assert p.accuracy > base.accuracy - 0.2


def test_dp_sgd_reports_epsilon_and_stops_the_attack():
    p = measure("dp-sgd", 1.0, SMALL)
    assert p.psnr < 12
    # The run draws 32 of each participant's 300 digits without replacement every round, for
    # 30 rounds: the accountant of that sampling, under replace-one (Opacus's Poisson RDP at
    # q = 32/300, add/remove, gave 5.1 here).
    assert p.epsilon == pytest.approx(dp_sgd_epsilon(1.0, 32, 300, 30, SMALL.delta), rel=1e-9)
    assert 25 < p.epsilon < 45  # measured 34.4
    assert p.accuracy > 0.2  # it still learns something in 30 rounds


@pytest.mark.parametrize("name, value, message", [
    ("blur", None, "unknown defence"), ("gaussian", None, "needs a value"),
    ("batch", 2.5, "whole number"), ("secure-aggregation", 40, "whole number")])
def test_bad_defences_are_refused(name, value, message):
    with pytest.raises(ConfigError, match=message):
        measure(name, value, SMALL)


def test_plot_has_both_axes():
    import matplotlib

    matplotlib.use("Agg")
    fig = plot_tradeoff([measure("float16", setting=SMALL)])
    assert len(fig.axes) == 2


def test_a_panel_of_the_callers_figure_leaves_its_layout_to_the_caller():
    # Laying out the whole figure for each panel redid the layout of the chapter's 3 x 3 grid
    # nine times over (drawing it took 1.7 s instead of 0.8); on a figure of its own it still
    # lays itself out.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [TradeoffPoint("gaussian", v, 0.01, p, 0.5, 1.0, a)
              for v, p, a in ((1e-4, 30.0, 0.8), (1e-2, 9.0, 0.6))]
    fig, axes = plt.subplots(1, 2)
    before = vars(fig.subplotpars).copy()
    for ax in axes:
        assert plot_tradeoff(points, ax=ax) is fig
    assert vars(fig.subplotpars) == before
    own = plot_tradeoff(points)
    assert own is not fig and vars(own.subplotpars) != vars(plt.figure().subplotpars)
    plt.close("all")


@pytest.mark.parametrize("kwargs,fragment", [
    ({"rounds": 2.5}, "rounds must be a non-negative integer, got 2.5"),
    ({"attack_images": 0}, "attack_images must be a positive integer, got 0"),
    ({"participants": True}, "participants must be a positive integer, got True"),
    ({"image_size": 2}, "image_size must be an integer >= 3, got 2"),
    ({"lr": float("inf")}, "lr must be a finite number"),
    ({"clip": 0.0}, "clip must be positive"),
    ({"delta": 1.0}, "delta must lie in (0, 1)"),
    ({"attack_restarts": -1}, "attack_restarts must be a non-negative integer"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"participants": 5, "train_examples": 4}, "4 training examples cannot be shared by 5"),
])
def test_setting_refuses_values_that_cannot_run(refused, kwargs, fragment):
    refused(ConfigError, fragment, Setting, **kwargs)


@pytest.fixture()
def no_work(monkeypatch):
    """Fail if a measurement starts attacking or training."""
    import dlgtut.tradeoff as tradeoff

    def boom(*args, **kwargs):
        raise AssertionError("the measurement started before its input was checked")

    monkeypatch.setattr(tradeoff, "_attack_quality", boom)
    monkeypatch.setattr(tradeoff, "_accuracy", boom)


@pytest.mark.parametrize("call,error,fragment", [
    (lambda: measure("none", setting={"rounds": 1}), WrongTypeError,
     "setting must be a Setting, got dict"),
    (lambda: measure(["none"]), ConfigError, "unknown defence"),
    (lambda: measure("batch", 8, Setting(image_size=8, train_examples=1790, attack_images=2)),
     ConfigError,
     "2 attacks on 8 image(s) each need more than 80 test images"),
    (lambda: sweep("prune", [0.1, 1.5], SMALL), ConfigError, "pruning fraction must lie in"),
    (lambda: sweep("prune", 0.1, SMALL), WrongTypeError, "values must be a list of strengths"),
    (lambda: sweep("prune", [], SMALL), ConfigError, "at least one strength"),
    (lambda: SMALL.replace(round=3), ConfigError, "Setting has no setting 'round'"),
    (lambda: plot_tradeoff([{"psnr": 1}]), WrongTypeError, "every point must be a"),
    (lambda: measure("none", setting=SMALL, device="tpu"), ConfigError, "device must be"),
    (lambda: sweep("prune", [0.1], SMALL, device="gpu"), ConfigError, "device must be"),
])
def test_measure_and_sweep_check_everything_before_any_work(refused, no_work, call, error,
                                                            fragment):
    refused(error, fragment, call)


def test_the_defended_training_run_trains_on_the_device(device):
    import dlgtut.tradeoff as tradeoff

    data = tradeoff._data(SMALL, "gaussian", 1e-3)
    acc, eps = tradeoff._accuracy("gaussian", 1e-3, SMALL, data, device)
    assert acc > 0.5 and eps is None  # chance is 0.1
