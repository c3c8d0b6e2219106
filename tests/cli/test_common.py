"""The shared shape of every command: argument types, the output folder, strict metrics.json."""

import argparse
import json
import math

import pytest
import torch

from dlgtut.cli.common import (
    environment,
    json_safe,
    out_dir,
    positive_int,
    prepare_out,
    real,
    seed,
    write_metrics,
)
from dlgtut.errors import ConfigError


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "NaN", "1e400"])
def test_real_refuses_what_is_not_finite(text):
    with pytest.raises(argparse.ArgumentTypeError, match="finite"):
        real("--lr")(text)


def test_real_keeps_its_bounds_open_or_closed():
    positive = real("--lr", low=0, low_open=True)
    with pytest.raises(argparse.ArgumentTypeError, match=r"must lie in \(0, inf\)"):
        positive("0")
    assert positive("1e-9") == 1e-9
    fraction = real("--fraction", low=0, high=1)
    assert fraction("0") == 0 and fraction("1") == 1
    with pytest.raises(argparse.ArgumentTypeError, match=r"\[0, 1\]"):
        fraction("1.0001")
    with pytest.raises(argparse.ArgumentTypeError, match="a number"):
        fraction("half")


def test_integers_and_seeds_are_checked():
    with pytest.raises(argparse.ArgumentTypeError, match="at least 1"):
        positive_int("rounds")("0")
    with pytest.raises(argparse.ArgumentTypeError, match="at most 10"):
        positive_int("rounds", 10)("11")
    with pytest.raises(argparse.ArgumentTypeError, match="integer"):
        positive_int("rounds")("2.5")
    assert seed("0") == 0 and seed(str(2**32 - 1)) == 2**32 - 1
    for bad in ("-1", str(2**32), "1e3"):
        with pytest.raises(argparse.ArgumentTypeError):
            seed(bad)


@pytest.mark.parametrize("text", ["", "  "])
def test_an_empty_out_is_refused(text):
    # An empty --out once wrote into the current folder and overwrote its metrics.json.
    with pytest.raises(argparse.ArgumentTypeError, match="must name a folder"):
        out_dir(text)


def test_prepare_out_refuses_files_devices_and_paths_below_files(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    with pytest.raises(ConfigError, match="exists and is not a folder"):
        prepare_out(a_file)
    with pytest.raises(ConfigError, match="exists and is not a folder"):
        prepare_out(__import__("pathlib").Path("/dev/null"))
    with pytest.raises(ConfigError, match="lies below .*notes.txt, which is not a folder"):
        prepare_out(a_file / "run")
    assert a_file.read_text() == "mine"


def test_prepare_out_refuses_a_folder_it_cannot_write(tmp_path):
    # /proc refuses new folders even to root (a chmod-ed folder would not stop root).
    with pytest.raises(ConfigError, match="cannot write to --out"):
        prepare_out(__import__("pathlib").Path("/proc/dlgtut-test/run"))


def test_prepare_out_keeps_other_peoples_files_and_replaces_its_own(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "metrics.json").write_text('{"mine": 1}')
    with pytest.raises(ConfigError, match="already holds files that dlgtut did not write"):
        prepare_out(theirs)
    assert (theirs / "metrics.json").read_text() == '{"mine": 1}'
    ours = prepare_out(tmp_path / "new" / "run")  # parents are made
    write_metrics(ours, {"psnr": 30.0})
    (ours / "figure.png").write_bytes(b"png")
    assert prepare_out(ours) == ours  # an earlier run's folder may be written again
    empty = tmp_path / "empty"
    empty.mkdir()
    assert prepare_out(empty) == empty


def test_metrics_are_strict_json_and_record_what_the_numbers_depend_on(tmp_path):
    write_metrics(tmp_path, {"psnr": math.inf, "scores": [1.0, math.nan], "seed": 3})
    text = (tmp_path / "metrics.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    metrics = json.loads(text)
    assert metrics["psnr"] is None and metrics["scores"] == [1.0, None]
    env = metrics["environment"]
    assert set(env) >= {"dlgtut", "torch", "numpy", "python", "threads"}
    assert env == json_safe(environment())


def test_choices_written_out_for_a_fast_parser_match_the_library():
    from dlgtut import device
    from dlgtut.attacks.property import FEATURES
    from dlgtut.cli import common, defend, leak, property
    from dlgtut.models import MODEL_NAMES
    from dlgtut.tradeoff import DEFAULT_GRIDS

    assert common.DEVICE_CHOICES == device.DEVICE_CHOICES
    assert leak.MODEL_NAMES == MODEL_NAMES
    assert property.FEATURES == FEATURES
    assert defend.DEFENSES == tuple(DEFAULT_GRIDS)


def test_help_and_argument_errors_do_not_import_torch():
    # `--help` and a bad option answer at once: torch (and matplotlib, scipy) are imported
    # only by the command that runs.
    import subprocess
    import sys

    code = ("import sys; from dlgtut.cli import main; main(['leak', '--help']); "
            "main(['membership', '--lr', 'nan', '--out', 'x']); "
            "print(sorted(m for m in ('torch', 'matplotlib', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60).stdout
    assert out.strip().splitlines()[-1] == "[]", out


def test_metrics_record_the_device_the_run_used(tmp_path):
    write_metrics(tmp_path, {"psnr": 1.0}, device=torch.device("cpu"))
    env = json.loads((tmp_path / "metrics.json").read_text())["environment"]
    assert env["device"] == "cpu" and "device_name" not in env
    assert "device" not in environment()


def test_every_command_takes_device_defined_once():
    from dlgtut.cli import COMMANDS, build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert len(sub.choices) == len(COMMANDS)
    for name, parser in sub.choices.items():
        device = next((a for a in parser._actions if a.dest == "device"), None)
        assert device is not None, name
        assert device.choices == ("auto", "cpu", "cuda") and device.default == "auto", name


def test_the_device_option_is_resolved_before_the_command_runs(monkeypatch):
    import dlgtut.cli.membership as membership
    from dlgtut.cli import main

    seen = []
    monkeypatch.setattr(membership, "run", lambda args: seen.append(args.device) or 0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["membership", "--out", "x"]) == 0  # run replaced: nothing is written
    assert seen == [torch.device("cpu")]  # auto, on a machine without CUDA
