"""The ``membership`` command: its outputs, and one-line errors for bad options."""

import json
import subprocess
import sys

import numpy as np
import pytest

from dlgtut.cli import main
from dlgtut.roc import roc_summary

SMALL = ["--train-size", "60", "--epochs", "30", "--quiet"]


@pytest.mark.parametrize("attack", [["loss"], ["shadow", "--shadows", "4"],
                                    ["lira", "--shadows", "4", "--lira-variant", "offline"]])
def test_cli_writes_metrics_and_figures(tmp_path, capsys, attack):
    out = tmp_path / "run"
    assert main(["membership", "--attack", *attack, *SMALL, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("auc", "tpr_at_0.1pct_fpr", "tpr_at_1pct_fpr", "train_accuracy",
                "test_accuracy", "config", "seconds"):
        assert key in metrics, key
    assert metrics["config"]["attack"] == attack[0] and metrics["config"]["train_size"] == 60
    assert metrics["positives"] == metrics["negatives"] == 60
    assert 0 <= metrics["auc"] <= 1 and metrics["train_accuracy"] > metrics["test_accuracy"]
    for name in ("roc.png", "scores.png", "scores.npz"):
        assert (out / name).stat().st_size > 0, name
    saved = np.load(out / "scores.npz")
    assert roc_summary(saved["scores"], saved["members"]).auc == pytest.approx(metrics["auc"])
    assert "AUC" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["--train-size", "5000"],
    ["--attack", "loss", "--shadows", "8"],
    ["--attack", "shadow", "--lira-variant", "online"],
    ["--shadows", "1"],
    ["--lr", "0"],
])
def test_cli_bad_options_give_one_line_and_status_2(tmp_path, capsys, argv):
    assert main(["membership", *argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dlgtut membership: error:") and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_cli_rejects_an_unknown_attack_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "dlgtut", "membership", "--attack", "oracle",
                           "--out", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "invalid choice: 'oracle'" in proc.stderr


def test_cli_records_the_device_it_ran_on(tmp_path):
    out = tmp_path / "run"
    assert main(["membership", "--attack", "loss", *SMALL, "--device", "cpu", "--out",
                 str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["environment"]["device"] == "cpu"


def test_cli_runs_on_cuda(cuda, tmp_path):
    out = tmp_path / "run"
    assert main(["membership", "--attack", "shadow", "--shadows", "2", *SMALL, "--device",
                 "cuda", "--out", str(out)]) == 0
    env = json.loads((out / "metrics.json").read_text())["environment"]
    assert env["device"].startswith("cuda:") and env["device_name"]
