"""Bad input to any command: one line on stderr, exit status 2, nothing written, no work done.

The cases are those an adversarial user tries: values that are not finite or out of range,
options given without the option they belong to, output folders that cannot hold the results.
Every case must be refused before any training or attack starts: the expensive entry points are
replaced by tripwires that fail the test if they are reached.
"""

import importlib

import numpy as np
import pytest
import torch
from PIL import Image

from dlgtut.cli import main


@pytest.fixture()
def files(tmp_path):
    """A grey and a colour image, a NaN float image, a plain file and a folder of someone else's."""
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray((rng.random((32, 32)) * 255).astype(np.uint8)).save(tmp_path / "grey.png")
    nan = rng.random((32, 32)).astype(np.float32)
    nan[3, 3] = np.nan
    Image.fromarray(nan, mode="F").save(tmp_path / "nan.tif")
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "metrics.json").write_text('{"mine": 1}')
    return tmp_path


@pytest.fixture()
def tripwires(monkeypatch):
    """Fail loudly if a command starts its expensive work."""

    def boom(*args, **kwargs):
        raise AssertionError("expensive work started before the input was checked")

    for module, name in EXPENSIVE:
        monkeypatch.setattr(importlib.import_module(module), name, boom)


EXPENSIVE = [  # (module, function): where each command's real work starts
    ("dlgtut.attacks", "dlg"),
    ("dlgtut.attacks", "inverting_gradients"),
    ("dlgtut.attacks.inversion", "inversion_case"),
    ("dlgtut.attacks.inversion", "federation"),
    ("dlgtut.attacks.membership", "train_target"),
    ("dlgtut.attacks.property", "run_property_inference"),
    ("dlgtut.tradeoff", "sweep"),
    ("dlgtut.attacks.malicious", "imprint_model"),
    ("dlgtut.attacks.malicious", "trap_model"),
]
LEAK = ["leak", "--dataset", "digits"]
CASES = [
    # the output folder
    (["leak", "--dataset", "digits", "--out", ""], "--out must name a folder"),
    (["leak", "--dataset", "digits", "--out", "{dir}/notes.txt"], "exists and is not a folder"),
    (["leak", "--dataset", "digits", "--out", "/dev/null"], "exists and is not a folder"),
    (["leak", "--dataset", "digits", "--out", "{dir}/notes.txt/run"], "which is not a folder"),
    (["leak", "--dataset", "digits", "--out", "/proc/dlgtut/run"], "cannot write to --out"),
    (["leak", "--dataset", "digits", "--out", "{dir}/theirs"], "dlgtut did not write"),
    (["membership", "--attack", "loss", "--out", "{dir}/theirs"], "dlgtut did not write"),
    (["defend", "--defense", "prune", "--out", "/dev/null"], "not a folder"),
    # leak: numbers
    ([*LEAK, "--attack", "ig", "--tv", "nan"], "--tv must be a finite number"),
    ([*LEAK, "--local-steps", "1", "--local-lr", "inf"], "--local-lr must be a finite"),
    ([*LEAK, "--stop-distance", "-1"], "--stop-distance must lie in (0, inf)"),
    ([*LEAK, "--restarts", "-1"], "restarts must be 0 or more"),
    ([*LEAK, "--seed", "-1"], "seed must lie in [0, 4294967295]"),
    ([*LEAK, "--seed", str(2**40)], "seed must lie in"),
    ([*LEAK, "--size", "2"], "--size must be at least 3"),
    ([*LEAK, "--size", "100000"], "size must be at most 512"),
    ([*LEAK, "--num-classes", "1"], "--num-classes must be at least 2"),
    ([*LEAK, "--batch-size", "5000"], "batch size must be at most"),
    # leak: options that belong to another option
    ([*LEAK, "--local-lr", "0.1"], "--local-lr applies only with --local-steps"),
    (["leak", "--image", "{dir}/rgb.png", "--label", "1", "--index", "3"],
     "--index applies only with --dataset"),
    (["leak", "--image", "{dir}/rgb.png", "--label", "1", "--data-dir", "{dir}"],
     "--data-dir applies only with --dataset"),
    ([*LEAK, "--data-dir", "{dir}/notes.txt"], "is a file, not a folder"),
    ([*LEAK, "--attack", "idlg", "--paper"], "--paper applies only to --attack dlg"),
    ([*LEAK, "--attack", "ig", "--restarts", "2"], "--restarts applies only to --attack dlg"),
    # leak: images and labels
    (["leak", "--image", "{dir}/rgb.png", "--label", "3.5"], "label must be an integer"),
    (["leak", "--image", "{dir}/rgb.png", "{dir}/grey.png", "--label", "1", "2"],
     "differ in channels"),
    (["leak", "--image", "{dir}/nan.tif", "--label", "1"], "has NaN or inf"),
    (["leak", "--image", "{dir}/rgb.png", "--label", "1", "2"], "1 images but 2 labels"),
    (["leak", "--image", "{dir}/rgb.png", "--label", "1", "--num-classes", "1"],
     "at least 2"),
    # leak --attack imprint|trap on the reader's photos: --public-data
    (["leak", "--attack", "imprint", "--image", "{dir}/rgb.png"],
     "--attack imprint --image needs --public-data NAME"),
    (["leak", "--image", "{dir}/rgb.png", "--label", "1", "--public-data", "patches"],
     "--public-data applies only to --attack imprint or trap"),
    (["leak", "--attack", "trap", "--image", "{dir}/rgb.png", "{dir}/rgb.png",
      "{dir}/rgb.png", "--public-data", "patches", "--participants", "2"],
     "--participants 2 does not divide the 3 --image files evenly"),
    (["leak", "--attack", "trap", "--image", "{dir}/rgb.png", "{dir}/rgb.png",
      "--public-data", "patches", "--participants", "4"],
     "--participants 4 but 2 --image file(s): every participant needs at least one"),
    (["leak", "--attack", "imprint", "--image", "{dir}/rgb.png", "{dir}/rgb.png",
      "--public-data", "patches", "--batch-size", "2", "--participants", "2"],
     "--batch-size 2 but 2 --image file(s) make 1 for each of 2 participant(s)"),
    (["leak", "--attack", "imprint", "--image", "{dir}/rgb.png", "--public-data", "nosuch"],
     "unknown dataset 'nosuch'"),
    (["leak", "--attack", "imprint", "--dataset", "photos", "--batch-size", "11",
      "--public-data", "photos"], "the server needs 2 more as public data"),
    (["leak", "--attack", "imprint", "--dataset", "photos", "--batch-size", "13",
      "--public-data", "patches"], "need 13 of photos's 12 images"),
    (["leak", "--attack", "imprint", "--image", "{dir}/rgb.png", "--label", "100",
      "--public-data", "patches"], "label 100 is outside the model's 100 classes"),
    (["leak", "--attack", "imprint", "--image", "{dir}/rgb.png", "{dir}/grey.png",
      "--public-data", "patches"], "differ in channels"),
    (["leak", "--attack", "imprint", "--image", "{dir}/rgb.png", "--label", "1", "2",
      "--public-data", "patches"], "1 images but 2 labels"),
    # membership
    (["membership", "--lr", "nan"], "--lr must be a finite number"),
    (["membership", "--weight-decay", "-1"], "--weight-decay must lie in [0, 100]"),
    (["membership", "--attack", "loss", "--variance", "global"], "--variance applies only"),
    (["membership", "--attack", "loss", "--data-dir", "{dir}"], "--data-dir applies only"),
    (["membership", "--attack", "shadow", "--shadows", "1"], "--shadows must be at least 2"),
    (["membership", "--train-size", "5000"], "needs 10000 candidates"),
    # property
    (["property", "--fraction", "0"], "--fraction must lie in (0, 1]"),
    (["property", "--lr", "inf"], "--lr must be a finite number"),
    (["property", "--property-rounds", "5", "3"], "property_rounds must be a proper part"),
    (["property", "--participants", "1"], "--participants must be at least 2"),
    (["property", "--train-draws", "2"], "at least 4"),
    # invert
    (["invert", "--class", "10"], "class 10 is not a class of digits"),
    (["invert", "--identities", "3"], "--identities applies only with --dataset lfw"),
    (["invert", "--tv", "nan"], "--tv must be a finite number"),
    (["invert", "--start", "1.5"], "--start must lie in [0, 1]"),
    (["invert", "--data-dir", "{dir}"], "--data-dir applies only with --dataset lfw"),
    # gan-attack
    (["gan-attack", "--victim-class", "10"], "victim class 10"),
    (["gan-attack", "--noise-multiplier", "1"], "--noise-multiplier applies only with --dp"),
    (["gan-attack", "--participants", "1"], "at least 2 participants"),
    (["gan-attack", "--dp", "--noise-multiplier", "nan"], "must be a finite number"),
    # defend
    (["defend", "--defense", "gaussian", "--values", "nan"], "must be a finite number"),
    (["defend", "--defense", "gaussian", "--values", "-1"], "variance"),
    (["defend", "--defense", "prune", "--values", "1.5"], "pruning fraction must lie in"),
    (["defend", "--defense", "float16", "--values", "0.1"], "takes no value"),
    (["defend", "--defense", "dp-sgd", "--values", "0"], "positive noise multiplier"),
    (["defend", "--defense", "batch", "--values", "2.5"], "whole number from 1 to 10"),
]
# Every command in the order of dlgtut.cli.COMMANDS, with what it needs to run.
COMMAND_ARGS = [["leak", "--dataset", "digits"], ["leak", "--text"], ["membership"],
                ["property"], ["invert"], ["gan-attack"], ["defend", "--defense", "prune"]]
CASES += [([*argv, "--device", "tpu"], "argument --device: invalid choice: 'tpu'")
          for argv in COMMAND_ARGS]


@pytest.mark.parametrize("argv,message", CASES, ids=lambda v: " ".join(v) if isinstance(v, list)
                         else None)
def test_bad_input_is_one_line_with_status_2_before_any_work(argv, message, files, tripwires,
                                                              capsys):
    argv = [a.replace("{dir}", str(files)) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(files / "run")]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not (files / "run").exists()  # nothing written, not even an empty folder
    assert (files / "notes.txt").read_text() == "mine"
    assert (files / "theirs" / "metrics.json").read_text() == '{"mine": 1}'


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
@pytest.mark.parametrize("argv", COMMAND_ARGS, ids=lambda v: " ".join(v))
def test_device_cuda_without_cuda_is_one_line_with_status_2_before_any_work(argv, files,
                                                                            tripwires, capsys):
    code = main([*argv, "--device", "cuda", "--out", str(files / "run")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "this machine has no CUDA device" in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not (files / "run").exists()
