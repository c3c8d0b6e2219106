"""The ``invert`` command: its outputs, and one-line errors for bad options."""

import json

import numpy as np
import pytest

from dlgtut.cli import main


def test_cli_invert_writes_its_outputs(tmp_path, capsys):
    out = tmp_path / "inv"
    assert main(["invert", "--dataset", "faces", "--steps", "50", "--out", str(out),
                 "--quiet"]) == 0
    for name in ("metrics.json", "inversions.png", "inversions.npy"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "faces" and metrics["classes"] == ["non-face", "face"]
    assert 0 <= metrics["eval_accuracy"] <= 1 and metrics["steps"] <= 50
    assert np.load(out / "inversions.npy").shape == (2, 1, 25, 25)
    assert "evaluation classifier agrees" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--dataset", "faces", "--class", "2"], "not a class of faces"),
        (["--dataset", "faces", "--tv", "-1"], "--tv"),
        (["--dataset", "faces", "--start", "3"], "--start"),
        (["--steps", "0"], "steps must be at least 1"),
        (["--dataset", "cifar10"], "invalid choice"),
    ],
)
def test_cli_invert_bad_options_give_one_line_and_status_2(argv, message, tmp_path, capsys):
    try:
        code = main(["invert", *argv, "--out", str(tmp_path / "o"), "--quiet"])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()  # nothing written on bad input


def test_cli_invert_runs_on_cuda(cuda, tmp_path):
    out = tmp_path / "inv"
    assert main(["invert", "--dataset", "faces", "--steps", "20", "--device", "cuda", "--out",
                 str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["environment"]["device"].startswith("cuda:")
    assert np.load(out / "inversions.npy").shape == (2, 1, 25, 25)
