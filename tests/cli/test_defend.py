"""The ``defend`` command: its outputs, and one-line errors for bad options."""

import json

from dlgtut.cli import main


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
