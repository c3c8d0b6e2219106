"""Defences a participant (or the protocol) applies to an update before anyone else sees it.

Each defence maps a :class:`~dlgtut.fl.SharedUpdate` to the update that is actually sent: the
attacker then works on the defended update, and federated training
(:func:`~dlgtut.server.federated_training`, ``defense=``) aggregates defended updates, so the
same function measures both sides of the trade-off: how much less leaks, and how much accuracy
it costs. The DLG paper's grid (Zhu et al., 2019, section 5) is the reference:

* additive Gaussian or Laplacian noise with variance 1e-4 to 1e-1;
* half precision and 8-bit integers (the update is rounded, then sent);
* gradient pruning: the smallest-magnitude entries of every tensor set to zero (1 % to 70 %);
* secure aggregation: the server learns only the sum of several participants' updates
  (:func:`secure_aggregate`).

Larger batches, several local steps and DP-SGD are not transforms of one update but ways of
computing it; they are settings of :class:`~dlgtut.fl.Participant` and of Opacus.

A defended update stays on the device of the update it was given. The noise is drawn on the CPU
from the seeded generator and then moved, so a seed gives the same noise on every device.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .checks import number
from .checks import seed as check_seed
from .errors import ConfigError, DataError, WrongTypeError
from .fl import SharedUpdate, require_update

__all__ = [
    "Defense",
    "gaussian_noise",
    "laplacian_noise",
    "half_precision",
    "int8_quantize",
    "prune",
    "secure_aggregate",
    "make_defense",
    "DEFENSES",
]

Defense = Callable[[SharedUpdate], SharedUpdate]


def _update(update: SharedUpdate, who: str) -> SharedUpdate:
    """The update a defence transforms: a SharedUpdate (no model needed) of finite numbers."""
    update = require_update(update, who, needs_model=False)
    if not all(bool(torch.isfinite(t).all()) for t in update.tensors):
        raise DataError(f"{who}: the update contains NaN or inf; there is nothing to defend")
    return update


def _with(update: SharedUpdate, tensors: Sequence[Tensor], **meta) -> SharedUpdate:
    return dataclasses.replace(update, tensors=tuple(tensors), meta={**update.meta, **meta})


def _generator(seed: int | None) -> torch.Generator | None:
    return None if seed is None else torch.Generator().manual_seed(check_seed(seed))


def _check_variance(variance: float) -> float:
    return number(variance, "noise variance", low=0)


def _check_fraction(fraction: float) -> float:
    return number(fraction, "pruning fraction", low=0, high=1, high_open=True)


def gaussian_noise(
    update: SharedUpdate, variance: float, *, seed: int | None = None
) -> SharedUpdate:
    """Add zero-mean Gaussian noise of the given variance to every entry of the update.

    Example:
        >>> from dlgtut.fl import Participant, PrivateBatch
        >>> from dlgtut.models import LeNet
        >>> u = Participant(LeNet(1, 10, 8, seed=0)).fedsgd(
        ...     PrivateBatch(torch.rand(1, 1, 8, 8), torch.tensor([1])))
        >>> noisy = gaussian_noise(u, 1e-2, seed=0)
        >>> diff = torch.cat([(a - b).flatten() for a, b in zip(noisy.tensors, u.tensors)])
        >>> round(float(diff.var()), 2)
        0.01
    """
    update = _update(update, "gaussian_noise")
    _check_variance(variance)
    gen, std = _generator(seed), math.sqrt(variance)
    noisy = [t + (std * torch.randn(t.shape, generator=gen, dtype=t.dtype)).to(t.device)
             for t in update.tensors]
    return _with(update, noisy, defense=f"gaussian noise, variance {variance:g}")


def laplacian_noise(
    update: SharedUpdate, variance: float, *, seed: int | None = None
) -> SharedUpdate:
    """Add zero-mean Laplacian noise of the given variance (scale ``sqrt(variance / 2)``)."""
    update = _update(update, "laplacian_noise")
    _check_variance(variance)
    gen, scale = _generator(seed), math.sqrt(variance / 2)
    out = []
    for t in update.tensors:
        u = torch.rand(t.shape, generator=gen, dtype=torch.float64) - 0.5
        # Inverse CDF of the Laplace distribution; u = -0.5 exactly has probability zero.
        sample = -scale * torch.sign(u) * torch.log1p(-2 * u.abs())
        out.append(t + sample.to(t))  # drawn on the CPU, added on the update's device
    return _with(update, out, defense=f"laplacian noise, variance {variance:g}")


def half_precision(update: SharedUpdate) -> SharedUpdate:
    """Send the update in IEEE half precision (rounded to float16, received as float32)."""
    update = _update(update, "half_precision")
    return _with(update, [t.half().to(t.dtype) for t in update.tensors], defense="float16")


def int8_quantize(update: SharedUpdate) -> SharedUpdate:
    """Send every tensor as 8-bit integers with one float scale (symmetric, per tensor).

    Example:
        >>> t = torch.tensor([-1.27, 0.004, 0.5, 1.0])
        >>> u = SharedUpdate(None, (t,), "gradient", 1, (1, 1, 1), 2)
        >>> [round(v, 4) for v in int8_quantize(u).tensors[0].tolist()]
        [-1.27, 0.0, 0.5, 1.0]
    """
    update = _update(update, "int8_quantize")
    out = []
    for t in update.tensors:
        scale = t.abs().max() / 127
        q = torch.zeros_like(t) if scale == 0 else torch.round(t / scale).clamp(-127, 127) * scale
        out.append(q)
    return _with(update, out, defense="int8")


def prune(update: SharedUpdate, fraction: float) -> SharedUpdate:
    """Zero the ``fraction`` of entries with the smallest magnitude in every tensor.

    Example:
        >>> u = SharedUpdate(None, (torch.tensor([0.1, -3.0, 0.2, 4.0]),), "gradient", 1,
        ...                  (1, 1, 1), 2)
        >>> prune(u, 0.5).tensors[0].tolist()
        [0.0, -3.0, 0.0, 4.0]
    """
    update = _update(update, "prune")
    _check_fraction(fraction)
    out = []
    for t in update.tensors:
        k = int(round(fraction * t.numel()))
        if k == 0:
            out.append(t.clone())
            continue
        flat = t.flatten()
        keep = torch.ones_like(flat, dtype=torch.bool)
        keep[flat.abs().argsort()[:k]] = False
        out.append(torch.where(keep, flat, torch.zeros_like(flat)).reshape(t.shape))
    return _with(update, out, defense=f"pruning {fraction:.0%}")


def secure_aggregate(updates: Sequence[SharedUpdate]) -> SharedUpdate:
    """What the server sees under secure aggregation: one update, their example-weighted mean.

    Bonawitz et al.'s protocol masks each update so that only the sum can be decoded. As in
    FedAvg, each participant weights its update by its number of examples ``b_k`` (it sends
    ``b_k * g_k`` and ``b_k`` masked), and the server divides the two sums: ``sum b_k g_k /
    sum b_k``. For FedSGD gradients that is exactly the gradient of the union of the batches,
    so the result is attacked like one participant's update whose batch is everyone's batches
    together, whatever their sizes (an unweighted mean of unequal batches would not be the
    gradient of any batch).

    Raises:
        WrongTypeError: something other than a sequence of SharedUpdates.
        DataError: no updates, or updates of different kinds, shapes, input shapes or classes.
    """
    if isinstance(updates, SharedUpdate) or not isinstance(updates, Sequence):
        raise WrongTypeError(f"secure_aggregate takes a list of SharedUpdates, got "
                             f"{type(updates).__name__}")
    updates = [_update(u, "secure_aggregate") for u in updates]
    if not updates:
        raise DataError("secure aggregation needs at least one update")
    first = updates[0]
    for u in updates[1:]:
        if u.kind != first.kind or len(u.tensors) != len(first.tensors) or any(
            a.shape != b.shape for a, b in zip(u.tensors, first.tensors, strict=True)
        ):
            raise DataError("secure aggregation needs updates of the same kind and shapes")
        if (u.input_shape, u.num_classes) != (first.input_shape, first.num_classes):
            raise DataError("secure aggregation needs updates of one input shape and class count")
    n = len(updates)
    total = sum(u.batch_size for u in updates)
    mean = [sum(u.tensors[i] * u.batch_size for u in updates) / total
            for i in range(len(first.tensors))]
    return dataclasses.replace(
        first, tensors=tuple(mean), batch_size=total,
        meta={**first.meta, "defense": f"secure aggregation of {n} participants"},
    )


DEFENSES = {
    "gaussian": ("variance", (1e-4, 1e-3, 1e-2, 1e-1)),
    "laplacian": ("variance", (1e-4, 1e-3, 1e-2, 1e-1)),
    "float16": (None, (None,)),
    "int8": (None, (None,)),
    "prune": ("fraction", (0.01, 0.1, 0.2, 0.3, 0.5, 0.7)),
}
"""Update transforms by name: the parameter each takes and the DLG paper's grid of values."""


def make_defense(name: str, value: float | None = None, *, seed: int | None = 0) -> Defense:
    """A defence by name and strength, as a function from update to update.

    Args:
        name: one of :data:`DEFENSES` (``gaussian``, ``laplacian``, ``float16``, ``int8``,
            ``prune``).
        value: the variance for noise, the fraction for pruning; ignored by the others.
        seed: seed of the noise (each call of the returned function draws afresh from a
            generator seeded once here).

    Raises:
        ConfigError: an unknown name or a missing or invalid value.
    """
    if not isinstance(name, str) or name not in DEFENSES:
        raise ConfigError(f"unknown defence {name!r}; choose from {', '.join(DEFENSES)}")
    if seed is not None:
        check_seed(seed)
    param, _ = DEFENSES[name]
    if param is not None and value is None:
        raise ConfigError(f"the {name} defence needs a {param}")
    if name in ("gaussian", "laplacian"):
        _check_variance(value)
        gen = _generator(seed)
        noise = gaussian_noise if name == "gaussian" else laplacian_noise

        def noisy(update: SharedUpdate) -> SharedUpdate:
            draw = None if gen is None else int(torch.randint(2**62, (1,), generator=gen))
            return noise(update, value, seed=draw)

        return noisy
    if name == "prune":
        _check_fraction(value)
        return lambda update: prune(update, value)
    return half_precision if name == "float16" else int8_quantize
