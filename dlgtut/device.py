"""Where the computation runs: the library's device rule, and the few helpers it needs.

The rule, everywhere in dlgtut:

* a function that receives a model runs on that model's device (:func:`model_device`) and
  moves its inputs there, in the model's dtype (:func:`dlgtut.checks.as_model_input`);
* a function that makes models itself takes ``device`` (default ``"cpu"``), checked by
  :func:`resolve_device`;
* what comes back as data (images, labels, scores, logits) is on the CPU unless the function
  says otherwise; what stays with a model (a shared update's tensors, recorded model states)
  is on the model's device;
* random draws come from CPU generators with the library's seeds and are moved afterwards, so
  a seed gives the same numbers on every device (only Opacus draws its DP noise on the device
  itself: :func:`device_generator`).
"""

from __future__ import annotations

import torch
from torch import nn

from .checks import module
from .errors import ConfigError

__all__ = ["DEVICE_CHOICES", "resolve_device", "model_device", "device_generator"]

DEVICE_CHOICES = ("auto", "cpu", "cuda")
"""What ``--device`` takes on the command line (the library also takes ``"cuda:N"``)."""


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The device ``name`` stands for, checked to be there.

    ``"auto"`` is CUDA when a CUDA device is available, else the CPU; ``"cuda"`` is the current
    CUDA device, ``"cuda:N"`` the ``N``-th. A ``torch.device`` is checked the same way.

    Raises:
        ConfigError: an unknown name, or a CUDA device this machine does not have.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
        >>> resolve_device("tpu")
        Traceback (most recent call last):
        ...
        dlgtut.errors.ConfigError: device must be auto, cpu, cuda or cuda:N, got 'tpu'
    """
    if isinstance(name, str) and name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name) if isinstance(name, str | torch.device) else None
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda") or (
            device.type == "cpu" and device.index not in (None, 0)):
        raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, got {name!r}")
    if device.type == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(f"device {str(device)!r} was asked for, but this machine has no "
                          "CUDA device; use cpu or auto")
    count = torch.cuda.device_count()
    index = torch.cuda.current_device() if device.index is None else device.index
    if index >= count:
        raise ConfigError(f"device {str(device)!r} was asked for, but this machine has {count} "
                          f"CUDA device(s): cuda:0 to cuda:{count - 1}")
    return torch.device("cuda", index)


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); the CPU for a model with neither.

    Example:
        >>> model_device(nn.Linear(2, 1))
        device(type='cpu')
    """
    for t in (*module(model).parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


def device_generator(seed: int, device: str | torch.device) -> torch.Generator:
    """A generator on ``device`` seeded with ``seed``, for a library that draws there itself.

    Opacus draws its noise on the model's device and needs a generator there. On the CPU this is
    the generator the seed always gave; on CUDA the same seed gives other numbers.
    """
    return torch.Generator(device=torch.device(device)).manual_seed(seed)
