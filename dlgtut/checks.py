"""The checks every public function makes on its arguments, in one place.

An argument of the wrong kind or outside its range must end in a specific exception with a
one-line message that names the argument (:mod:`dlgtut.errors`), never in a traceback from deep
inside torch, numpy or scikit-learn, and never in a silent garbage result: a float truncated to
an integer, ``True`` taken for 1, a NaN that flows on. These helpers say so once:

* :func:`integer`, :func:`number`, :func:`seed`, :func:`flag`, :func:`choice`: settings
  (:class:`~dlgtut.errors.ConfigError` unless told otherwise), and :func:`replace`, a
  dataclass copy that names an unknown setting;
* :func:`tensor`, :func:`array`, :func:`indices`, :func:`flags`: data
  (:class:`~dlgtut.errors.DataError`), with the shape, dtype and finiteness checks a caller
  asks for; positions are never cast from floats, and flags are booleans or exactly 0 and 1;
* :func:`instance`, :func:`function`, :func:`axes`: an object of the right kind, a callable, a
  matplotlib axes (:class:`~dlgtut.errors.WrongTypeError`);
* :func:`module`, :func:`model_parameters`, :func:`as_model_input`, :func:`model_output`: a model
  and what it is given (the input follows the model's dtype and device; a forward pass that
  cannot take the input is a one-line DataError).

Labels have their own check next to the data flow they belong to, :func:`dlgtut.fl.as_labels`.
Every helper returns the value it checked (converted where the message says so), so a caller
writes ``lr = number(lr, "lr", low=0, low_open=True)`` and goes on.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .errors import ConfigError, DataError, WrongTypeError

__all__ = [
    "show",
    "integer",
    "number",
    "seed",
    "flag",
    "choice",
    "tensor",
    "array",
    "indices",
    "flags",
    "instance",
    "function",
    "replace",
    "module",
    "model_parameters",
    "as_model_input",
    "model_output",
    "axes",
    "MAX_SEED",
]

MAX_SEED = 2**63 - 1
"""The largest seed the library takes: torch's and numpy's generators both accept it."""


def show(value: Any, limit: int = 40) -> str:
    """A short one-line ``repr`` of ``value`` for an error message.

    Example:
        >>> show(torch.zeros(2, 2))
        'tensor of shape (2, 2), torch.float32'
        >>> show("x" * 50)
        "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."
    """
    if isinstance(value, Tensor) and value.ndim > 0:
        return f"tensor of shape {tuple(value.shape)}, {value.dtype}"
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return f"array of shape {value.shape}, {value.dtype}"
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _scalar(value: Any) -> Any:
    """A 0-d tensor or array as the Python number it holds (``labels[0]`` is a fine class)."""
    if isinstance(value, Tensor | np.ndarray) and value.ndim == 0 and not _is_bool(value):
        if isinstance(value, Tensor) and not value.is_complex():
            return value.item()
        if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
            return value.item()
    return value


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_) or (
        isinstance(value, Tensor) and value.dtype == torch.bool)


def _fmt(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def _range(low, high, low_open: bool, high_open: bool) -> str:
    """Words for an interval: 'positive', '>= 0', 'in [0, 1)'."""
    if low is not None and high is not None:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        return f"in {left}{_fmt(low)}, {_fmt(high)}{right}"
    if low is not None:
        if low == 0:
            return "positive" if low_open else "non-negative"
        return f"{'>' if low_open else '>='} {_fmt(low)}"
    if high is not None:
        return f"{'<' if high_open else '<='} {_fmt(high)}"
    return ""


def integer(
    value: Any,
    name: str,
    *,
    low: int | None = None,
    high: int | None = None,
    error: type[Exception] = ConfigError,
) -> int:
    """``value`` as an ``int``: an integer (numpy's, or a 0-d tensor's too), not a bool, not a
    float, in range.

    Example:
        >>> integer(np.int64(3), "rounds", low=1)
        3
        >>> integer(2.0, "rounds", low=1)
        Traceback (most recent call last):
        ...
        dlgtut.errors.ConfigError: rounds must be a positive integer, got 2.0
    """
    words = _range(low, high, False, False)
    if low == 1 and high is None:
        kind = "a positive integer"
    elif low == 0 and high is None:
        kind = "a non-negative integer"
    else:
        kind = f"an integer {words}".rstrip()
    value = _scalar(value)
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise error(f"{name} must be {kind}, got {show(value)}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise error(f"{name} must be {kind}, got {value}")
    return value


def number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    error: type[Exception] = ConfigError,
) -> float:
    """``value`` as a finite ``float`` in range (ints and numpy numbers too; not bools).

    ``low_open`` and ``high_open`` exclude the ends: ``low=0, low_open=True`` is "positive".

    Example:
        >>> number(3, "lr", low=0, low_open=True)
        3.0
        >>> number(float("nan"), "lr", low=0, low_open=True)
        Traceback (most recent call last):
        ...
        dlgtut.errors.ConfigError: lr must be a finite number, got nan
        >>> number(1.0, "fraction", low=0, high=1, high_open=True)
        Traceback (most recent call last):
        ...
        dlgtut.errors.ConfigError: fraction must lie in [0, 1), got 1.0
    """
    value = _scalar(value)
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise error(f"{name} must be a number, got {show(value)}")
    given, value = value, float(value)
    if not math.isfinite(value):
        raise error(f"{name} must be a finite number, got {show(given)}")
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        words = _range(low, high, low_open, high_open)
        verb = "lie" if words.startswith("in ") else "be"
        raise error(f"{name} must {verb} {words}, got {show(given)}")
    return value


def seed(value: Any, name: str = "seed", *, high: int = MAX_SEED) -> int:
    """A seed: an integer in ``[0, high]`` (default ``2**63 - 1``, :data:`MAX_SEED`).

    Example:
        >>> seed(-1)
        Traceback (most recent call last):
        ...
        dlgtut.errors.ConfigError: seed must be a non-negative integer below 2**63, got -1
    """
    limit = "2**63" if high == MAX_SEED else str(high + 1)
    value = _scalar(value)
    if _is_bool(value) or not isinstance(value, numbers.Integral) or not 0 <= value <= high:
        raise ConfigError(f"{name} must be a non-negative integer below {limit}, got "
                          f"{show(value)}")
    return int(value)


def flag(value: Any, name: str, *, error: type[Exception] = ConfigError) -> bool:
    """``value`` if it is a bool (numpy's too); anything else is refused, 0 and 1 included.

    Example:
        >>> flag(np.bool_(True), "iid")
        True
    """
    if not isinstance(value, bool | np.bool_):
        raise error(f"{name} must be True or False, got {show(value)}")
    return bool(value)


def choice(
    value: Any, choices: Sequence[str], name: str, *, error: type[Exception] = ConfigError
) -> str:
    """``value`` if it is one of the strings ``choices``.

    Example:
        >>> choice(["l2"], ("l2", "cosine"), "distance")
        Traceback (most recent call last):
        ...
        dlgtut.errors.ConfigError: distance must be one of l2, cosine, got ['l2']
    """
    if not isinstance(value, str) or value not in choices:
        raise error(f"{name} must be one of {', '.join(choices)}, got {show(value)}")
    return value


def tensor(
    value: Any,
    name: str,
    *,
    ndim: int | None = None,
    min_ndim: int | None = None,
    floating: bool = False,
    finite: bool = False,
    unit: bool = False,
    nonempty: bool = True,
    shape: str | None = None,
    error: type[Exception] = DataError,
) -> Tensor:
    """``value`` if it is a tensor of the kind asked for; a one-line ``error`` otherwise.

    Args:
        value: the argument.
        name: its name in the message.
        ndim: the exact number of dimensions, or ``min_ndim`` the least.
        floating: require a floating-point dtype (integer images are refused, not scaled).
        finite: refuse NaN and inf.
        unit: require values in [0, 1] (implies ``finite``).
        nonempty: refuse a tensor with no entries (or no rows).
        shape: how the shape reads in the message (``"N x C x H x W"``).
        error: the exception class.

    Example:
        >>> tensor(torch.zeros(2, 3), "images", ndim=4, shape="N x C x H x W")
        Traceback (most recent call last):
        ...
        dlgtut.errors.DataError: images must be a tensor of shape N x C x H x W, got shape (2, 3)
    """
    want = shape or (f"{ndim}-D" if ndim is not None else "")
    if not isinstance(value, Tensor):
        kind = f"a tensor of shape {want}" if shape else "a tensor"
        raise error(f"{name} must be {kind}, got {show(value)}")
    wrong_ndim = ndim is not None and value.ndim != ndim
    if wrong_ndim or (min_ndim is not None and value.ndim < min_ndim):
        need = f"of shape {want}" if want else f"with at least {min_ndim} dimensions"
        raise error(f"{name} must be a tensor {need}, got shape {tuple(value.shape)}")
    if floating and not value.is_floating_point():
        raise error(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if nonempty and (value.numel() == 0 or (value.ndim and value.shape[0] == 0)):
        raise error(f"{name} must not be empty, got shape {tuple(value.shape)}")
    if (finite or unit) and (value.is_floating_point() or value.is_complex()):
        if not bool(torch.isfinite(value).all()):
            raise error(f"{name} contains NaN or inf")
    if unit and value.numel() and (bool(value.min() < 0) or bool(value.max() > 1)):
        raise error(f"{name} must lie in [0, 1], got values in "
                    f"[{float(value.min()):.3g}, {float(value.max()):.3g}]")
    return value


def array(
    value: Any,
    name: str,
    *,
    ndim: int | None = None,
    finite: bool = True,
    error: type[Exception] = DataError,
) -> np.ndarray:
    """``value`` (an array, a tensor or nested lists of numbers) as a float64 numpy array.

    Strings, objects and booleans are refused rather than converted; NaN and inf too unless
    ``finite=False``.

    Example:
        >>> array([[1, 2]], "logits", ndim=2).dtype
        dtype('float64')
        >>> array(["a"], "scores")
        Traceback (most recent call last):
        ...
        dlgtut.errors.DataError: scores must be numbers, got ['a']
    """
    if isinstance(value, Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bool:
            raise error(f"{name} must be numbers, got dtype {value.dtype}")
        value = value.double().numpy() if not value.is_complex() else value.numpy()
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):  # ragged nested lists
        raise error(f"{name} must be a rectangular array of numbers, got {show(value)}") from None
    if raw.dtype == bool or raw.dtype.kind not in "iuf":
        raise error(f"{name} must be numbers, got {show(value)}")
    out = raw.astype(np.float64)
    if ndim is not None and out.ndim != ndim:
        raise error(f"{name} must have {ndim} dimensions, got shape {out.shape}")
    if finite and not np.isfinite(out).all():
        raise error(f"{name} contains NaN or inf")
    return out


def indices(value: Any, name: str, *, error: type[Exception] = DataError) -> Tensor:
    """Integer positions as a 1-D int64 tensor; floats and booleans are refused, not converted.

    A float 2.7 is a mistake, not position 2; a boolean mask is not a list of positions.

    Example:
        >>> indices([2, 0], "indices").tolist()
        [2, 0]
        >>> indices(torch.tensor([0.5]), "indices")
        Traceback (most recent call last):
        ...
        dlgtut.errors.DataError: indices must be integers, got dtype torch.float32
    """
    try:
        t = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        raise error(f"{name} must be integers, got {show(value)}") from None
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise error(f"{name} must be integers, got dtype {t.dtype}")
    return t.reshape(-1).long()


def flags(value: Any, name: str, *, error: type[Exception] = DataError) -> Tensor:
    """Yes/no values as a 1-D bool tensor: booleans, or numbers that are exactly 0 or 1.

    Anything else is refused: a 0.5 or a 2 is not a yes, whatever ``bool()`` says.

    Example:
        >>> flags([1, 0], "members").tolist()
        [True, False]
        >>> flags([0.5], "members")
        Traceback (most recent call last):
        ...
        dlgtut.errors.DataError: members must be booleans (or 0 and 1), got 0.5
    """
    try:
        t = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        raise error(f"{name} must be booleans (or 0 and 1), got {show(value)}") from None
    if t.dtype != torch.bool:
        if t.is_complex():
            raise error(f"{name} must be booleans (or 0 and 1), got dtype {t.dtype}")
        other = ~((t == 0) | (t == 1))
        if bool(other.any()):
            raise error(f"{name} must be booleans (or 0 and 1), got {show(t[other][0].item())}")
    return t.reshape(-1).bool()


def _article(word: str) -> str:
    """'a' or 'an' before a class name; an acronym is read letter by letter (an MIFaceConfig)."""
    if len(word) > 1 and word[:2].isupper():
        return "an" if word[0] in "AEFHILMNORSX" else "a"
    return "an" if word[0] in "AEIOUaeiou" else "a"


def instance(value: Any, kind: type | tuple[type, ...], name: str) -> Any:
    """``value`` if it is an instance of ``kind``; WrongTypeError naming both otherwise.

    Example:
        >>> instance({}, nn.Module, "model")
        Traceback (most recent call last):
        ...
        dlgtut.errors.WrongTypeError: model must be a Module, got dict
    """
    if not isinstance(value, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        wanted = " or ".join(k.__name__ for k in kinds)
        raise WrongTypeError(f"{name} must be {_article(wanted)} {wanted}, got "
                             f"{type(value).__name__}")
    return value


def function(value: Any, name: str) -> Callable | None:
    """``value`` if it is None or callable; WrongTypeError otherwise."""
    if value is not None and not callable(value):
        raise WrongTypeError(f"{name} must be callable or None, got {type(value).__name__}")
    return value


def replace(config: Any, changes: dict[str, Any]) -> Any:
    """A copy of the dataclass ``config`` with ``changes``; an unknown field is a ConfigError.

    ``dataclasses.replace`` would raise a TypeError about an unexpected keyword argument.

    Example:
        >>> @dataclasses.dataclass(frozen=True)
        ... class Cfg:
        ...     steps: int = 1
        >>> replace(Cfg(), {"step": 2})
        Traceback (most recent call last):
        ...
        dlgtut.errors.ConfigError: Cfg has no setting 'step'; its settings are steps
    """
    names = [f.name for f in dataclasses.fields(config) if f.init]
    unknown = [k for k in changes if k not in names]
    if unknown:
        raise ConfigError(f"{type(config).__name__} has no setting {unknown[0]!r}; its settings "
                          f"are {', '.join(names)}")
    return dataclasses.replace(config, **changes)


def module(value: Any, name: str = "the model") -> nn.Module:
    """``value`` if it is a ``torch.nn.Module``; WrongTypeError otherwise."""
    if not isinstance(value, nn.Module):
        raise WrongTypeError(f"{name} must be a torch.nn.Module, got {type(value).__name__}")
    return value


def model_parameters(value: Any, name: str = "the model") -> list[nn.Parameter]:
    """The parameters of a module that has some, all floating point.

    Raises:
        WrongTypeError: ``value`` is not a module.
        DataError: it has no parameters, or integer ones.
    """
    params = list(module(value, name).parameters())
    if not params:
        raise DataError(f"{name} has no parameters, so it has no update to share")
    if not all(p.is_floating_point() for p in params):
        raise DataError(f"{name}'s parameters must be floating point")
    return params


def update_tensors(tensors: Any, who: str) -> Any:
    """A shared update's tensors: a non-empty tuple or list of floating-point tensors.

    Raises:
        WrongTypeError: anything else (``who`` names the attack that was given it).
    """
    if not isinstance(tensors, tuple | list) or not tensors or not all(
            isinstance(t, Tensor) and t.is_floating_point() for t in tensors):
        raise WrongTypeError(f"{who} needs the update's tensors as a non-empty tuple of "
                             "floating-point tensors, one per parameter")
    return tensors


def as_model_input(model: nn.Module, x: Tensor) -> Tensor:
    """``x`` on the model's device and in its floating dtype (a float64 model gets float64)."""
    params = list(model.parameters())
    if not params:
        return x
    p = params[0]
    return x.to(device=p.device, dtype=p.dtype if p.is_floating_point() else x.dtype)


def model_output(model: nn.Module, x: Tensor, what: str = "images") -> Tensor:
    """``model(x)`` as ``N x K`` class scores; a model that cannot take ``x`` is a DataError.

    A shape or channel mismatch deep inside torch becomes one line naming the input's shape.
    """
    try:
        out = model(x)
    except RuntimeError as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DataError(f"the model cannot take {what} of shape {tuple(x.shape[1:])}: "
                        f"{reason}") from None
    if not isinstance(out, Tensor) or out.ndim != 2:
        raise DataError("the model must return N x K class scores")
    return out


def axes(value: Any, name: str = "ax") -> Any:
    """``value`` if it is None or a matplotlib ``Axes``; WrongTypeError otherwise."""
    if value is None:
        return None
    from matplotlib.axes import Axes

    if not isinstance(value, Axes):
        raise WrongTypeError(f"{name} must be a matplotlib Axes or None, got "
                             f"{type(value).__name__}")
    return value
