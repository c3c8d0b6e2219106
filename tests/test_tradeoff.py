"""Defence trade-offs: attack quality and defended training accuracy on the same data."""


import pytest

from dlgtut.errors import ConfigError
from dlgtut.tradeoff import Setting, measure, plot_tradeoff

SMALL = Setting(rounds=30, attack_images=1, attack_iterations=60)


def test_no_defence_leaks_everything_and_trains():
    p = measure("none", setting=SMALL)
    assert p.psnr > 40 and p.label_accuracy == 1.0
    assert p.accuracy > 0.6


def test_strong_noise_stops_the_attack_at_a_small_cost():
    base = measure("none", setting=SMALL)
    p = measure("gaussian", 1e-1, SMALL)
    assert p.psnr < 12
    assert p.accuracy > base.accuracy - 0.2


def test_dp_sgd_reports_epsilon_and_stops_the_attack():
    p = measure("dp-sgd", 1.0, SMALL)
    assert p.psnr < 12
    assert p.epsilon is not None and 0 < p.epsilon < 100
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
