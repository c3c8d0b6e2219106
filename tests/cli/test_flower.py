"""``python -m dlgtut flower``: its outputs, its one-line errors, and Flower kept optional.

The output test runs a real two-client Flower federation (15 to 30 s here, most of it Ray
starting). The other tests need no federation: bad input is refused before anything starts,
and neither ``import dlgtut`` nor any other command imports Flower.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlgtut.cli import main

ROOT = Path(__file__).resolve().parents[2]
needs_flower = pytest.mark.skipif(importlib.util.find_spec("flwr") is None,
                                  reason="needs the flower extra: pip install 'dlgtut[flower]'")


def _python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports this checkout's dlgtut."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)


@needs_flower
def test_a_federation_writes_metrics_and_the_figure(tmp_path, capsys):
    out = tmp_path / "run"
    # One Ray worker: on 2 busy cores it starts faster than two.
    assert main(["flower", "--clients", "2", "--rounds", "1", "--cpus", "1",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (out / "reconstruction.png").stat().st_size > 0
    assert metrics["clients"] == 2 and metrics["updates_captured"] == 2
    rows = metrics["per_update"]
    assert sorted(r["partition"] for r in rows) == [0, 1]
    for r in rows:
        # Measured here: 70 to 92 dB, SSIM 1.000, every label right.
        assert r["psnr"] > 40 and r["ssim"] > 0.99 and r["label_accuracy"] == 1
        assert 0 <= r["train_accuracy"] <= 1 and r["round"] == 1
    assert len(metrics["test_accuracy"]) == 2 and metrics["failures"] == []
    for key in ("total", "rounds", "attack", "attack_per_update", "first_round"):
        assert metrics["timings"][key] > 0, key
    assert metrics["per_round"][0]["clients_seconds"] > 0
    assert metrics["task"]["algorithm"] == "fedsgd" and "dlgtut" in metrics["environment"]
    import numpy as np

    arrays = np.load(out / "reconstruction.npz")
    assert sorted(arrays.files) == ["client0_round1_recovered", "client0_round1_truth",
                                    "client1_round1_recovered", "client1_round1_truth"]
    assert "2 updates captured" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--local-steps", "2"], "--local-steps applies only with --algorithm fedavg"),
    (["--algorithm", "fedavg", "--local-steps", "3"], "use --attack ig"),
    (["--defense", "gaussian"], "needs --defense-value"),
    (["--defense", "int8", "--defense-value", "1"], "takes no --defense-value"),
    (["--defense-value", "0.1"], "applies only with --defense"),
    (["--defense", "prune", "--defense-value", "1"], "fraction in [0, 1)"),
    (["--size", "2"], "at least 3"),
    (["--tv", "0.1"], "--tv applies only to --attack ig"),
])
def test_bad_combinations_are_refused_in_one_line(argv, message, tmp_path, capsys):
    if importlib.util.find_spec("flwr") is None:
        pytest.skip("the Flower check comes first without the extra")
    out = tmp_path / "never"
    assert main(["flower", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("argv", [["--clients", "0"], ["--lr", "nan"], ["--rounds", "x"],
                                  ["--attack", "lbfgs"], ["--clients", "10001"]])
def test_bad_numbers_are_refused_by_the_parser(argv, tmp_path, capsys):
    assert main(["flower", *argv, "--out", str(tmp_path / "x")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_without_flower_the_command_says_how_to_install_it(tmp_path):
    out = tmp_path / "never"
    done = _python("import sys; sys.modules['flwr'] = None\n"  # as if it were not installed
                   "from dlgtut.cli import main\n"
                   f"sys.exit(main(['flower', '--out', {str(out)!r}]))")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        'dlgtut flower: error: Flower is not installed; install the extra: '
        'pip install "dlgtut[flower]"']
    assert not out.exists()


def test_the_library_and_the_other_commands_never_import_flower():
    done = _python(
        "import sys, contextlib, io\n"
        "import dlgtut, dlgtut.cli, dlgtut.fl, dlgtut.server, dlgtut.attacks\n"
        "from dlgtut.cli import main\n"
        "for cmd in ('leak', 'membership', 'property', 'invert', 'gan-attack', 'defend', "
        "'flower'):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        assert main([cmd, '--help']) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flwr', 'ray')))\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_defences_written_out_for_the_parser_match_the_library():
    from dlgtut.cli.flower import DEFENSE_NAMES
    from dlgtut.defenses import DEFENSES

    assert DEFENSE_NAMES == tuple(DEFENSES)
