"""The ``gan-attack`` command: its outputs, and one-line errors for bad options."""

import json

import numpy as np
import pytest

from dlgtut.cli import main


def test_cli_gan_attack_writes_its_outputs(tmp_path, capsys):
    out = tmp_path / "gan"
    assert main(["gan-attack", "--rounds", "3", "--eval-every", "1", "--mode", "passive",
                 "--out", str(out), "--quiet"]) == 0
    for name in ("metrics.json", "rounds.png", "curves.png", "samples.npy"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["evaluated"] == [0, 1, 2, 3] and len(metrics["accuracy"]) == 4
    assert metrics["config"]["mode"] == "passive" and metrics["epsilon"] is None
    assert metrics["environment"]["device"]  # auto: the device the run used
    assert np.load(out / "samples.npy").shape == (100, 1, 8, 8)
    assert "recognised as '3'" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--victim-class", "12"], "not a class of digits"),
        (["--participants", "1"], "at least 2 participants"),
        (["--dp", "--noise-multiplier", "0"], "--noise-multiplier"),
        (["--rounds", "0"], "rounds must be at least 1"),
        (["--mode", "greedy"], "invalid choice"),
    ],
)
def test_cli_gan_attack_bad_options_give_one_line_and_status_2(argv, message, tmp_path, capsys):
    try:
        code = main(["gan-attack", *argv, "--out", str(tmp_path / "o"), "--quiet"])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_cli_gan_attack_runs_on_cuda(cuda, tmp_path):
    out = tmp_path / "gan"
    assert main(["gan-attack", "--rounds", "2", "--eval-every", "1", "--dp", "--device", "cuda",
                 "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["environment"]["device"].startswith("cuda:") and metrics["epsilon"] > 0
    assert np.load(out / "samples.npy").shape == (100, 1, 8, 8)
