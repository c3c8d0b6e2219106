"""The ``property`` command: its outputs, and one-line errors for bad options."""

import json

import numpy as np
import pytest

from dlgtut.cli import main


def test_cli_writes_metrics_and_figures(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["property", "--rounds", "3", "--participants", "3", "--train-draws", "60",
                 "--eval-draws", "40", "--seed", "1", "--quiet", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("auc", "tpr_at_0.1pct_fpr", "tpr_at_1pct_fpr", "auc_per_round", "single_update",
                "run", "accuracy_per_round", "config", "seconds"):
        assert key in metrics, key
    assert len(metrics["auc_per_round"]) == 3
    assert set(metrics["single_update"]) >= {"auc", "tpr_at_1pct_fpr", "auc_per_round"}
    assert metrics["config"]["participants"] == 3 and metrics["config"]["seed"] == 1
    assert 0.5 < metrics["single_update"]["auc"] <= 1
    for name in ("auc_per_round.png", "roc.png"):
        assert (out / name).stat().st_size > 10_000
    assert "AUC" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--participants", "1"], "at least 2"),
    (["--fraction", "1.5"], "fraction"),
    (["--aux-size", "5000"], "smaller sizes"),
    (["--property-rounds", "5", "2"], "property_rounds"),
    (["--batch-size", "300"], "batch"),
])
def test_cli_bad_options_give_one_line_and_exit_2(tmp_path, capsys, argv, message):
    code = main(["property", "--rounds", "2", "--quiet", "--out", str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert err.count("\n") == 1 and err.startswith("dlgtut property: error:")


def test_cli_argparse_errors_are_one_line(tmp_path, capsys):
    assert main(["property", "--dataset", "cifar10", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_cli_runs_on_faces(tmp_path):
    out = tmp_path / "faces"
    assert main(["property", "--dataset", "faces", "--rounds", "2", "--train-draws", "40",
                 "--eval-draws", "20", "--quiet", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["property"] == "bright" and metrics["dataset"] == "faces"
    assert np.isfinite(metrics["auc"])


def test_cli_runs_on_cuda(cuda, tmp_path):
    out = tmp_path / "run"
    assert main(["property", "--rounds", "2", "--participants", "3", "--train-draws", "40",
                 "--eval-draws", "20", "--quiet", "--device", "cuda", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["environment"]["device"].startswith("cuda:") and np.isfinite(metrics["auc"])
