"""The shape every subcommand shares: argument types, the output folder, metrics.json, figures.

Every subcommand module imports this one; this one imports none of them. The rules it keeps:

* bad input ends in one line on stderr and exit status 2 (:class:`Parser`, :class:`ConfigError`);
* numbers are checked as they are parsed: finite, and inside the range the option can take;
* the output folder is checked before any work (:func:`prepare_out`): it must be a new folder,
  an empty one, or the folder of an earlier dlgtut run, and writable; nothing is written
  outside it;
* ``metrics.json`` is strict JSON (no ``NaN``/``Infinity``: a value that is not finite is
  written as ``null``) and records what the numbers depend on (:func:`environment`), the device
  the run used included;
* every command takes ``--device {auto,cpu,cuda}`` (:func:`add_device`), resolved before any
  work (:func:`resolve_device_option`): a CUDA device that is not there is a one-line error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:  # torch is imported when a command runs, not when the parser is built
    import torch

__all__ = [
    "Parser",
    "positive_int",
    "non_negative_int",
    "real",
    "seed",
    "out_dir",
    "add_out",
    "data_dir",
    "add_fallback",
    "add_device",
    "resolve_device_option",
    "prepare_out",
    "environment",
    "json_safe",
    "write_metrics",
    "save_figure",
    "use_agg",
    "warn",
    "run_fields",
    "warn_if_failed",
    "only_with",
    "IMAGE_CLASSES",
    "image_files",
    "check_labels",
    "forget_empty_outputs",
]

IMAGE_CLASSES = 100  # the model's classes for --image files unless --num-classes (the paper's)
MAX_SEED = 2**32 - 1  # what torch, numpy and scikit-learn all accept
_created: list[Path] = []  # output folders this process made (removed again if left empty)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``dlgtut leak: error: ...``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _integer(kind: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{kind} must be an integer, got {text!r}") from None


def positive_int(kind: str, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer of at least 1 (and at most ``maximum``)."""

    def parse(text: str) -> int:
        value = _integer(kind, text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"{kind} must be at least 1, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{kind} must be at most {maximum}, got {value}")
        return value

    return parse


def non_negative_int(kind: str) -> Callable[[str], int]:
    """An argparse type: an integer of at least 0."""

    def parse(text: str) -> int:
        value = _integer(kind, text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"{kind} must be 0 or more, got {value}")
        return value

    return parse


def real(
    kind: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> Callable[[str], float]:
    """An argparse type: a finite float in ``[low, high]`` (an end is excluded when ``*_open``).

    Example:
        >>> real("lr", low=0, low_open=True)("1e-3")
        0.001
    """

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{kind} must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{kind} must be a finite number, got {text!r}")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            lo = "(-inf" if low is None else f"{'(' if low_open else '['}{low:g}"
            hi = "inf)" if high is None else f"{high:g}{')' if high_open else ']'}"
            raise argparse.ArgumentTypeError(f"{kind} must lie in {lo}, {hi}, got {value:g}")
        return value

    return parse


def seed(text: str) -> int:
    """An argparse type: a seed in ``[0, 2**32 - 1]``, the range every library here accepts."""
    value = _integer("seed", text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"seed must lie in [0, {MAX_SEED}], got {value}")
    return value


def out_dir(text: str) -> Path:
    """An argparse type for ``--out``: a non-empty path (``""`` would mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("--out must name a folder, got an empty string")
    return Path(text).expanduser()


def add_out(parser, files: str) -> None:
    """The ``--out`` option of the commands that write a folder; ``files``: what they write."""
    parser.add_argument("--out", type=out_dir, required=True, metavar="DIR",
                        help=f"output folder (new, empty, or an earlier run's): {files}")


def data_dir(text: str) -> Path:
    """An argparse type for ``--data-dir``: a folder (it need not exist yet), not a file."""
    if not text.strip():
        raise argparse.ArgumentTypeError("--data-dir must name a folder, got an empty string")
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"--data-dir {path} is a file, not a folder")
    return path


def add_fallback(group) -> None:
    """``--fallback``: a dataset that cannot be downloaded is replaced by its offline stand-in
    only when asked (what loads is named in the output and in metrics.json)."""
    group.add_argument("--fallback", action="store_true",
                       help="if the dataset cannot be downloaded (no network, a mirror down), "
                       "use its offline stand-in (cifar100 -> photos, lfw -> faces, mnist -> "
                       "digits), named in metrics.json, instead of stopping")


# dlgtut.device.DEVICE_CHOICES, written out so that parsing the options does not import torch
# (tests/cli/test_common.py checks that the two agree).
DEVICE_CHOICES = ("auto", "cpu", "cuda")


def add_device(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """The ``--device`` option every command has (:data:`dlgtut.device.DEVICE_CHOICES`)."""
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                        help=help or "where the models run: auto (CUDA when there is one, the "
                        "default), cpu or cuda")


def resolve_device_option(args: argparse.Namespace) -> None:
    """Replace ``args.device`` by the ``torch.device`` it stands for, or refuse it in one line.

    :func:`dlgtut.cli.main` calls this before a command runs, so a missing CUDA device stops
    the command before any work, with exit status 2.

    Raises:
        ConfigError: ``--device cuda`` on a machine without a CUDA device.
    """
    from ..device import resolve_device

    if getattr(args, "device", None) is not None:
        args.device = resolve_device(args.device)


def only_with(args: argparse.Namespace, pairs: dict[str, tuple[bool, str]]) -> None:
    """Refuse options given without the option they belong to.

    Args:
        args: the parsed options (an option left out is None or False).
        pairs: option attribute -> (whether it may be given here, the condition in words).

    Raises:
        ConfigError: for the first option given where it does not apply.
    """
    for name, (allowed, condition) in pairs.items():
        value = getattr(args, name)
        if value not in (None, False) and not allowed:
            raise ConfigError(f"--{name.replace('_', '-')} applies only {condition}")


def image_files(paths: list[str], *, size: int, channels: int | None
                ) -> tuple[torch.Tensor, dict[str, Any]]:
    """The ``--image`` files as one ``N x C x size x size`` batch, and how ``metrics.json``
    records them (``{"images": [path, ...]}``).

    Each file is read by :func:`dlgtut.data.load_image` (used pixel for pixel at ``size``, else
    centre-cropped and resized); every command that takes ``--image`` reads it here.

    Raises:
        DataError: a file that is missing or is not an image.
        ConfigError: files that differ in channels while ``channels`` is None.
    """
    import torch

    from ..data import load_image

    images = [load_image(p, size=size, channels=channels) for p in paths]
    if len({im.shape[1] for im in images}) > 1:
        raise ConfigError("the images differ in channels; pass --channels 1 or 3")
    return torch.cat(images), {"images": [str(p) for p in paths]}


def check_labels(labels: torch.Tensor, num_classes: int) -> None:
    """Refuse, in one line, a label outside the model's ``num_classes`` classes."""
    bad = [int(v) for v in labels if not 0 <= int(v) < num_classes]
    if bad:
        raise ConfigError(
            f"label {bad[0]} is outside the model's {num_classes} classes "
            f"(0..{num_classes - 1}); pass --num-classes"
        )


def _previous_run(folder: Path) -> bool:
    """Whether ``folder`` holds the ``metrics.json`` of an earlier dlgtut run."""
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(metrics, dict) and "dlgtut" in metrics.get("environment", {})


def prepare_out(path: Path) -> Path:
    """Make sure ``path`` can take a run's outputs, before the run; create it.

    Refused, each with a one-line :class:`ConfigError`: a path that is a file (or a device such
    as ``/dev/null``), a path below a file, a folder that already holds files dlgtut did not
    write (anything but an earlier run's outputs, which are replaced), and a folder that cannot
    be written to.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path} exists and is not a folder")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"--out {path} lies below {parent}, which is not a folder")
            break
    if path.is_dir() and any(path.iterdir()) and not _previous_run(path):
        raise ConfigError(f"--out {path} already holds files that dlgtut did not write; "
                          "choose a new or empty folder")
    new = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot write to --out {path}: {reason}") from None
    _created.extend(new)
    return path


def forget_empty_outputs() -> None:
    """Remove the output folders :func:`prepare_out` created if they are still empty.

    Called when a command fails after its output folder was made (a bad label found in a
    dataset, say), so a failed command leaves nothing behind.
    """
    while _created:
        folder = _created.pop(0)
        try:
            folder.rmdir()  # only succeeds on an empty folder; parents come after children
        except OSError:
            pass


def environment(device: torch.device | str | None = None) -> dict[str, Any]:
    """What a run's numbers depend on besides its options: versions, threads, machine, device.

    Args:
        device: the device the run computed on (a ``torch.device`` or its name); recorded as
            ``device``, with ``device_name`` (the GPU's model) for a CUDA device.
    """
    import numpy as np
    import torch

    from .. import __version__

    env = {
        "dlgtut": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(terse=True),
    }
    if device is not None:
        device = torch.device(device)
        env["device"] = str(device)
        if device.type == "cuda":
            env["device_name"] = torch.cuda.get_device_name(device)
    return env


def json_safe(value: Any) -> Any:
    """``value`` with every float that is not finite replaced by None (JSON has no NaN or inf).

    Example:
        >>> json_safe({"psnr": float("inf"), "xs": [1.0, float("nan")]})
        {'psnr': None, 'xs': [1.0, None]}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy or torch scalar
        return json_safe(value.item())
    return value


def write_metrics(out: Path, metrics: dict[str, Any], *,
                  device: torch.device | str | None = None) -> Path:
    """Write ``metrics`` and :func:`environment` (with ``device``) to ``out/metrics.json``.

    The file is strict JSON.
    """
    record = json_safe({**metrics, "environment": environment(device)})
    path = out / "metrics.json"
    path.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
    return path


def use_agg() -> None:
    """Draw figures off screen (the command line has no window)."""
    import matplotlib

    matplotlib.use("Agg")


def save_figure(fig, path: Path) -> Path:
    """Save a matplotlib figure at 150 dpi, tightly cropped, and close it."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return path


def warn(message: str) -> None:
    """A one-line warning on stderr."""
    print(f"dlgtut: warning: {message}", file=sys.stderr)


def run_fields(rec) -> dict[str, Any]:
    """How an attack run ended, as ``metrics.json`` records it (image and text modes alike)."""
    return {
        "iterations": rec.iterations,
        "seconds": round(rec.seconds, 3),
        "converged": rec.converged,
        "status": rec.status,
        "message": rec.message,
        "restarts": rec.restarts,
        "gradient_distance": rec.distance,
    }


def warn_if_failed(rec) -> bool:
    """Warn in one line when the attack did not end in a recovered batch; True if it did not."""
    if rec.status == "unidentified":
        warn(f"the batch is not identified: {rec.message}")
        return True
    if not getattr(rec, "identifiable", True):  # stopped early, but no budget would help
        warn(f"the attack stopped ({rec.status}) and the batch is not identified: {rec.message}")
        return True
    if rec.status in ("diverged", "stalled"):
        warn(f"the attack {rec.status}: {rec.message}")
        return True
    return False
