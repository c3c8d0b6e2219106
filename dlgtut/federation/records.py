"""How models and updates travel in Flower messages: the wire format of this federation.

Flower's Message API carries a :class:`~flwr.app.RecordDict` of named records. This federation
uses Flower's own conventions, so that Flower's strategies and mods work on its messages
unchanged:

* server to participant: ``"arrays"``, the global model's ``state_dict`` as an
  :class:`~flwr.app.ArrayRecord`, and ``"config"``, a :class:`~flwr.app.ConfigRecord` with the
  round and the public hyperparameters;
* participant to server: ``"arrays"`` and ``"metrics"``, a :class:`~flwr.app.MetricRecord`
  with ``"num-examples"`` (FedAvg's averaging weight) and the participant's training loss and
  accuracy. A FedSGD participant sends its gradient, one array per parameter under the
  parameter's name; a FedAvg participant sends its new weights (the whole ``state_dict``), as
  Flower's FedAvg and its differential-privacy mods expect.

A third reply record, ``"experiment"``, says which data partition the reply came from. It is
the experimenter's side channel, read only to score a reconstruction against the truth; the
attacks never see it, and a real participant would not send it.
"""

from __future__ import annotations

from collections import OrderedDict

from flwr.app import ArrayRecord
from torch import Tensor, nn

from ..errors import DataError

__all__ = [
    "ARRAYS",
    "METRICS",
    "CONFIG",
    "EXPERIMENT",
    "NUM_EXAMPLES",
    "state_to_arrays",
    "load_arrays",
    "parameters_to_arrays",
    "arrays_to_parameters",
]

ARRAYS = "arrays"
METRICS = "metrics"
CONFIG = "config"
EXPERIMENT = "experiment"
NUM_EXAMPLES = "num-examples"


def state_to_arrays(model: nn.Module) -> ArrayRecord:
    """The model's ``state_dict`` (parameters and buffers) as an ArrayRecord."""
    return ArrayRecord(OrderedDict((k, v.detach().cpu()) for k, v in model.state_dict().items()))


def load_arrays(model: nn.Module, arrays: ArrayRecord) -> nn.Module:
    """Load a ``state_dict`` sent as an ArrayRecord into ``model``; returns ``model``.

    Raises:
        DataError: the record does not hold this model's weights.
    """
    state = arrays.to_torch_state_dict()
    expected = model.state_dict()
    if list(state) != list(expected) or any(
        state[k].shape != expected[k].shape for k in expected
    ):
        raise DataError("the ArrayRecord does not hold this model's state_dict")
    model.load_state_dict(state)
    return model


def parameters_to_arrays(model: nn.Module, tensors) -> ArrayRecord:
    """One tensor per parameter (``model.parameters()`` order) as an ArrayRecord by name."""
    names = [name for name, _ in model.named_parameters()]
    tensors = list(tensors)
    if len(tensors) != len(names):
        raise DataError(f"the model has {len(names)} parameters, got {len(tensors)} tensors")
    return ArrayRecord(OrderedDict(
        (name, t.detach().cpu().contiguous()) for name, t in zip(names, tensors, strict=True)))


def arrays_to_parameters(model: nn.Module, arrays: ArrayRecord) -> tuple[Tensor, ...]:
    """The tensors of an ArrayRecord, one per parameter of ``model`` in ``parameters()`` order.

    The record may hold more (buffers of a whole ``state_dict``); it must hold every parameter,
    in the parameter's shape.

    Raises:
        DataError: a parameter is missing or has the wrong shape.
    """
    state = arrays.to_torch_state_dict()
    out = []
    for name, p in model.named_parameters():
        if name not in state:
            raise DataError(f"the update has no array for parameter {name!r}")
        t = state[name]
        if t.shape != p.shape:
            raise DataError(f"the update's {name!r} has shape {tuple(t.shape)}, the "
                            f"parameter {tuple(p.shape)}")
        out.append(t.to(p.dtype))
    return tuple(out)
