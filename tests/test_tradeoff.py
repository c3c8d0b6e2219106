"""Defence trade-offs: attack quality and defended training accuracy on the same data."""

import json

import pytest

from dlgtut.cli import main
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


def test_defend_cli_writes_metrics_and_figure(tmp_path):
    out = tmp_path / "d"
    code = main(["defend", "--defense", "prune", "--values", "0.01", "0.99", "--rounds", "10",
                 "--attack-images", "1", "--iterations", "60", "--out", str(out)])
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    weak, strong = m["points"]
    assert weak["psnr"] > 30 and strong["psnr"] < 12
    assert m["baseline"]["psnr"] > 40
    assert (out / "tradeoff.png").stat().st_size > 0


def test_defend_cli_bad_value_is_one_line(tmp_path, capsys):
    code = main(["defend", "--defense", "batch", "--values", "0", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "whole number" in err and len(err.strip().splitlines()) == 1
